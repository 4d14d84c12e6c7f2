/* Unit tests: src/scan/av*.c, the in-process libclamav backend (and the
 * parts of the clamd backend that need no server: spec parsing, a dead
 * socket).  The clamd backend against a real clamd: tests/av/check_clamd.py.
 *
 * Environment (set by tests/av/CMakeLists.txt):
 *   PG_AVDB              the test signature database (tests/tools/mkavdb.sh)
 *   PG_TEST_DATA         tests/data (av/detected-testfiles.txt)
 *   PG_CLAMAV_TESTFILES  ClamAV's test files (/usr/share/clamav-testfiles)
 *   PG_REQUIRE_ALL       set (scripts/test.sh, CI): a missing test file or
 *                        database fails the test instead of skipping it
 *
 * No file of the repository holds the EICAR string whole: it is assembled
 * here from two halves, and archives are built at run time (libarchive). */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "scan/av.h"
#include "scan/av_internal.h"
#include "slurp.h"

#define EICAR_NAME    "Eicar-Test-Signature.UNOFFICIAL"
#define CLAMTEST_NAME "ClamAV-Test-File.UNOFFICIAL"
#define LIMITS_TEXT   "limits exceeded: content not fully scanned: Heuristics.Limits.Exceeded."

/* ---- helpers --------------------------------------------------------------- */

/* What a test needs is not installed: skipped, or a failure under
 * PG_REQUIRE_ALL (tests/pgcheck.py says why). */
static void skip_missing(const char *what)
{
	const char *req = getenv("PG_REQUIRE_ALL");
	if (req != NULL && req[0] != '\0' && strcmp(req, "0") != 0)
		fail_msg("%s (PG_REQUIRE_ALL is set: not skipped)", what);
	fprintf(stderr, "%s: skipped\n", what);
	skip();
}

static const char *eicar(void)
{
	static char s[80];
	if (s[0] == '\0') {
		strcpy(s, "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-");
		strcat(s, "STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
	}
	return s;
}

typedef struct membuf {
	unsigned char *p;
	size_t len, cap;
} membuf;

static void membuf_add(membuf *m, const void *data, size_t n)
{
	if (m->len + n > m->cap) {
		size_t cap = m->cap ? m->cap : 4096;
		while (cap < m->len + n)
			cap *= 2;
		m->p = realloc(m->p, cap);
		assert_non_null(m->p);
		m->cap = cap;
	}
	memcpy(m->p + m->len, data, n);
	m->len += n;
}

static la_ssize_t membuf_write(struct archive *a, void *ud, const void *buf, size_t n)
{
	(void)a;
	membuf_add(ud, buf, n);
	return (la_ssize_t)n;
}

typedef struct zentry {
	const char *name;
	const void *data;
	size_t len;
} zentry;

/* A deflated zip of the entries (malloc'd in the result). */
static membuf zip_build(const zentry *e, size_t n)
{
	membuf m = {0};
	struct archive *a = archive_write_new();
	assert_non_null(a);
	assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_options(a, "zip:compression=deflate"), ARCHIVE_OK);
	/* No padding to 10 KiB blocks: the archive ends where zip says. */
	assert_int_equal(archive_write_set_bytes_per_block(a, 0), ARCHIVE_OK);
	assert_int_equal(archive_write_open(a, &m, NULL, membuf_write, NULL), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		assert_non_null(ae);
		archive_entry_set_pathname(ae, e[i].name);
		archive_entry_set_size(ae, (la_int64_t)e[i].len);
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_perm(ae, 0644);
		archive_entry_set_mtime(ae, 1700000000, 0);
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		if (e[i].len > 0)
			assert_int_equal(archive_write_data(a, e[i].data, e[i].len),
					 (la_ssize_t)e[i].len);
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	return m;
}

static membuf zip1(const char *name, const void *data, size_t len)
{
	zentry e = {name, data, len};
	return zip_build(&e, 1);
}

/* data wrapped in depth zips, one inside the other. */
static membuf zip_nested(const char *name, const void *data, size_t len, int depth)
{
	membuf cur = zip1(name, data, len);
	for (int i = 1; i < depth; i++) {
		char inner[32];
		snprintf(inner, sizeof inner, "level%d.zip", i);
		membuf next = zip1(inner, cur.p, cur.len);
		free(cur.p);
		cur = next;
	}
	return cur;
}

static void file_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static char *hex(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *s = malloc(len * 2 + 1);
	assert_non_null(s);
	for (size_t i = 0; i < len; i++)
		sprintf(s + 2 * i, "%02x", p[i]);
	s[len * 2] = '\0';
	return s;
}

/* A temporary directory holding a copy of the test database. */
static void db_copy(const char *from, char *to, size_t tolen)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(to, tolen, "%s/pg-avdb.XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	assert_non_null(mkdtemp(to));
	DIR *d = opendir(from);
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char src[4096], dst[4096];
		assert_true(snprintf(src, sizeof src, "%s/%s", from, de->d_name) < (int)sizeof src);
		assert_true(snprintf(dst, sizeof dst, "%s/%s", to, de->d_name) < (int)sizeof dst);
		size_t len = 0;
		unsigned char *data = (unsigned char *)slurp_file(src, &len);
		assert_non_null(data);
		FILE *f = fopen(dst, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(data, 1, len, f), len);
		assert_int_equal(fclose(f), 0);
		free(data);
	}
	closedir(d);
}

static void dir_remove(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char p[4096];
		if (snprintf(p, sizeof p, "%s/%s", dir, de->d_name) < (int)sizeof p)
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static const char *avdb(void)
{
	const char *d = getenv("PG_AVDB");
	return d != NULL && d[0] != '\0' ? d : NULL;
}

static const char *testfiles_dir(void)
{
	const char *d = getenv("PG_CLAMAV_TESTFILES");
	return d != NULL && d[0] != '\0' ? d : "/usr/share/clamav-testfiles";
}

static void expect(pg_av *av, const void *data, size_t len, const char *what, pg_av_verdict verdict,
		   const char *text)
{
	pg_av_result r;
	memset(&r, 0x5a, sizeof r); /* garbage: pg_av_scan must fill it all */
	assert_int_equal(pg_av_scan(av, data, len, what, &r), PG_OK);
	if (r.verdict != verdict)
		fail_msg("%s: verdict %d, expected %d (virus \"%.256s\", error \"%.256s\")", what,
			 (int)r.verdict, (int)verdict, r.virus, r.error);
	if (verdict == PG_AV_INFECTED && text != NULL)
		assert_string_equal(r.virus, text);
	if (verdict == PG_AV_ERROR) {
		assert_true(r.error[0] != '\0');
		if (text != NULL && strstr(r.error, text) == NULL)
			fail_msg("%s: error \"%s\" lacks \"%s\"", what, r.error, text);
	}
	if (verdict == PG_AV_CLEAN) {
		assert_string_equal(r.virus, "");
		assert_string_equal(r.error, "");
	}
}

/* The shared handle: the test database with the default limits. */
static int group_setup(void **state)
{
	*state = NULL;
	if (avdb() == NULL)
		return 0; /* the tests that need it skip */
	pg_av *av = NULL;
	char err[512];
	if (pg_av_open("clamav", avdb(), NULL, &av, err, sizeof err) != PG_OK) {
		fprintf(stderr, "pg_av_open(%s): %s\n", avdb(), err);
		return -1;
	}
	*state = av;
	return 0;
}

static int group_teardown(void **state)
{
	pg_av_free(*state);
	return 0;
}

static pg_av *need_av(void **state)
{
	if (*state == NULL) {
		skip_missing("PG_AVDB is not set");
	}
	return *state;
}

/* ---- opening ---------------------------------------------------------------- */

static void open_missing_dir_fails(void **state)
{
	(void)state;
	pg_av *av = (pg_av *)&av; /* must be reset to NULL */
	char err[512];
	assert_int_equal(
		pg_av_open("clamav", "/nonexistent/pecguard-avdb", NULL, &av, err, sizeof err),
		PG_ERR_CONFIG);
	assert_null(av);
	assert_non_null(strstr(err, "/nonexistent/pecguard-avdb"));
	assert_non_null(strstr(err, "No such file or directory"));

	assert_int_equal(pg_av_open("clamav", NULL, NULL, &av, err, sizeof err), PG_ERR_CONFIG);
	assert_non_null(strstr(err, "no signature directory"));
}

static void open_empty_dir_fails(void **state)
{
	(void)state;
	char dir[] = "/tmp/pg-avdb-empty.XXXXXX";
	assert_non_null(mkdtemp(dir));
	pg_av *av = NULL;
	char err[512];
	assert_int_equal(pg_av_open("clamav", dir, NULL, &av, err, sizeof err), PG_ERR_CONFIG);
	assert_null(av);
	assert_non_null(strstr(err, dir));
	assert_non_null(strstr(err, "empty"));

	/* Files, but none that libclamav reads: no database either. */
	char p[256];
	snprintf(p, sizeof p, "%s/README.txt", dir);
	file_write(p, "not a database\n");
	assert_int_equal(pg_av_open("clamav", dir, NULL, &av, err, sizeof err), PG_ERR_CONFIG);
	assert_null(av);
	assert_non_null(strstr(err, dir));
	dir_remove(dir);
}

static void open_bad_database_fails(void **state)
{
	(void)state;
	char dir[] = "/tmp/pg-avdb-bad.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char p[256];
	snprintf(p, sizeof p, "%s/broken.ndb", dir);
	file_write(p, "this is not a signature\n");
	pg_av *av = NULL;
	char err[512];
	assert_int_equal(pg_av_open("clamav", dir, NULL, &av, err, sizeof err), PG_ERR_CONFIG);
	assert_null(av);
	assert_non_null(strstr(err, "cannot load signatures"));
	dir_remove(dir);
}

static void open_specs(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"clamav2",
		"clamd",
		"clamd:",
		"clamd:relative.sock",
		"clamd:localhost",
		"clamd:127.0.0.1:",
		"clamd:127.0.0.1:0",
		"clamd:127.0.0.1:65536",
		"clamd:127.0.0.1:33x",
		"clamd:::1:3310",
		"clamd:[::1]",
		"clamd:[::1:3310",
		"clamd:[]:3310",
		"clamd:[not-an-address]:3310",
		"clamd:/a.sock,,127.0.0.1:3310",
		"clamd:/a.sock,",
		"clamd:/very/long/path/"
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.sock",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		pg_av *av = NULL;
		char err[512] = "";
		pg_status st = pg_av_open(bad[i], "/nonexistent", NULL, &av, err, sizeof err);
		if (st != PG_ERR_CONFIG)
			fail_msg("spec \"%s\": status %d, expected config error", bad[i], (int)st);
		assert_null(av);
		assert_true(err[0] != '\0');
	}
	static const char *const good[] = {
		"clamd:/run/clamav/clamd.ctl",
		"clamd:127.0.0.1:3310",
		"clamd:[::1]:3310",
		"clamd:localhost:3310",
		"clamd:/a.sock,127.0.0.1:3310",
		"clamd:/a.sock, [::1]:3310 ,127.0.0.1:3311",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		pg_av *av = NULL;
		char err[512] = "";
		pg_status st = pg_av_open(good[i], NULL, NULL, &av, err, sizeof err);
		if (st != PG_OK)
			fail_msg("spec \"%s\": %s", good[i], err);
		assert_string_equal(pg_av_backend(av), good[i]);
		assert_int_equal(pg_av_signatures(av), 0);
		pg_av_free(av);
	}
}

/* A clamd that is not there: an error naming the failure, never clean. */
static void clamd_dead_is_error(void **state)
{
	(void)state;
	pg_av *av = NULL;
	char err[512];
	pg_av_limits lim = {.connect_timeout_ms = 500, .io_timeout_ms = 500};
	assert_int_equal(pg_av_open("clamd:/nonexistent/pecguard/clamd.sock,[::1]:1", NULL, &lim,
				    &av, err, sizeof err),
			 PG_OK);
	for (int i = 0; i < 3; i++) {
		pg_av_result r;
		assert_int_equal(pg_av_scan(av, "hello", 5, "hello", &r), PG_OK);
		assert_int_equal(r.verdict, PG_AV_ERROR);
		assert_non_null(strstr(r.error, "all servers failed"));
		assert_non_null(strstr(r.error, "/nonexistent/pecguard/clamd.sock: connect:"));
		assert_non_null(strstr(r.error, "[::1]:1: connect:"));
	}
	/* Reload asks every server, and says which failed. */
	assert_int_equal(pg_av_reload(av, err, sizeof err), PG_ERR_IO);
	assert_non_null(strstr(err, "/nonexistent/pecguard/clamd.sock"));
	pg_av_free(av);
}

/* ---- verdicts ------------------------------------------------------------------ */

static void eicar_plain_found(void **state)
{
	pg_av *av = need_av(state);
	assert_string_equal(pg_av_backend(av), "clamav");
	assert_true(pg_av_signatures(av) >= 5);
	expect(av, eicar(), strlen(eicar()), "eicar.com", PG_AV_INFECTED, EICAR_NAME);
	/* With a trailing newline the hash no longer matches: the content
	 * signature does. */
	char buf[128];
	snprintf(buf, sizeof buf, "%s\r\n", eicar());
	expect(av, buf, strlen(buf), "eicar-crlf.com", PG_AV_INFECTED, EICAR_NAME);
}

static void eicar_zipped_found(void **state)
{
	pg_av *av = need_av(state);
	membuf z = zip1("eicar.com", eicar(), strlen(eicar()));
	/* Deflated: the string is not in the archive's bytes, so this is
	 * found only by unpacking. */
	assert_null(memmem(z.p, z.len, "EICAR", 5));
	expect(av, z.p, z.len, "eicar.zip", PG_AV_INFECTED, EICAR_NAME);
	free(z.p);

	membuf n = zip_nested("eicar.com", eicar(), strlen(eicar()), 4);
	expect(av, n.p, n.len, "eicar-nested.zip", PG_AV_INFECTED, EICAR_NAME);

	/* The zip as a base64 attachment of a whole message. */
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	membuf mail = {0};
	const char *head = "From: a@example.test\r\nTo: b@pec.example.test\r\nSubject: x\r\n"
			   "MIME-Version: 1.0\r\n"
			   "Content-Type: multipart/mixed; boundary=\"BB\"\r\n\r\n"
			   "--BB\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n"
			   "--BB\r\nContent-Type: application/zip; name=\"a.zip\"\r\n"
			   "Content-Transfer-Encoding: base64\r\n\r\n";
	membuf_add(&mail, head, strlen(head));
	for (size_t i = 0; i < n.len; i += 3) {
		unsigned v = (unsigned)n.p[i] << 16;
		if (i + 1 < n.len)
			v |= (unsigned)n.p[i + 1] << 8;
		if (i + 2 < n.len)
			v |= n.p[i + 2];
		char q[4] = {b64[(v >> 18) & 63], b64[(v >> 12) & 63],
			     i + 1 < n.len ? b64[(v >> 6) & 63] : '=',
			     i + 2 < n.len ? b64[v & 63] : '='};
		membuf_add(&mail, q, 4);
		if ((i / 3) % 19 == 18)
			membuf_add(&mail, "\r\n", 2);
	}
	const char *tail = "\r\n--BB--\r\n";
	membuf_add(&mail, tail, strlen(tail));
	expect(av, mail.p, mail.len, "eicar.eml", PG_AV_INFECTED, EICAR_NAME);
	free(mail.p);
	free(n.p);
}

static void clean_is_clean(void **state)
{
	pg_av *av = need_av(state);
	const char *text = "Gentile cliente, in allegato la fattura.\r\n";
	expect(av, text, strlen(text), "text", PG_AV_CLEAN, NULL);
	expect(av, "", 0, "empty", PG_AV_CLEAN, NULL);
	expect(av, NULL, 0, "null-empty", PG_AV_CLEAN, NULL);
	membuf z = zip1("fattura.txt", text, strlen(text));
	expect(av, z.p, z.len, "clean.zip", PG_AV_CLEAN, NULL);
	free(z.p);
	/* Half of EICAR is not EICAR. */
	expect(av, eicar(), 30, "half", PG_AV_CLEAN, NULL);

	pg_av_result r;
	assert_int_equal(pg_av_scan(av, NULL, 5, "bad", &r), PG_ERR_INVALID);
	assert_int_equal(r.verdict, PG_AV_ERROR);
	assert_int_equal(pg_av_scan(NULL, "x", 1, "bad", &r), PG_ERR_INVALID);
	assert_int_equal(r.verdict, PG_AV_ERROR);
}

static void clamav_testfiles_found(void **state)
{
	pg_av *av = need_av(state);
	const char *data = getenv("PG_TEST_DATA");
	assert_non_null(data);
	char list[4096];
	snprintf(list, sizeof list, "%s/av/detected-testfiles.txt", data);
	FILE *f = fopen(list, "r");
	assert_non_null(f);
	struct stat sb;
	if (stat(testfiles_dir(), &sb) != 0) {
		fclose(f);
		char what[4200];
		snprintf(what, sizeof what, "%s missing (package clamav-testfiles)",
			 testfiles_dir());
		skip_missing(what);
	}
	char line[512];
	int n = 0;
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", testfiles_dir(), line);
		size_t len = 0;
		unsigned char *buf = (unsigned char *)slurp_file(path, &len);
		if (buf == NULL)
			fail_msg("%s: %s", path, strerror(errno));
		expect(av, buf, len, path, PG_AV_INFECTED, CLAMTEST_NAME);
		free(buf);
		n++;
	}
	fclose(f);
	assert_true(n >= 40);
}

/* The test file built to reach the recursion limit: clam.exe at depth 17,
 * found with the default (17, clamd's); one level less is an error that
 * names the limit, never clean. */
static void clamav_testfile_too_deep(void **state)
{
	pg_av *av = need_av(state);
	char path[4096];
	snprintf(path, sizeof path, "%s/clam_cache_emax.tgz", testfiles_dir());
	size_t len = 0;
	unsigned char *buf = (unsigned char *)slurp_file(path, &len);
	if (buf == NULL) {
		char what[4200];
		snprintf(what, sizeof what, "%s missing (package clamav-testfiles)", path);
		skip_missing(what);
	}
	expect(av, buf, len, path, PG_AV_INFECTED, CLAMTEST_NAME);
	pg_av_limits lim = {.max_recursion = 16};
	pg_av *shallow = NULL;
	char err[512];
	assert_int_equal(pg_av_open("clamav", avdb(), &lim, &shallow, err, sizeof err), PG_OK);
	expect(shallow, buf, len, path, PG_AV_ERROR, LIMITS_TEXT "MaxRecursion");
	pg_av_free(shallow);
	free(buf);
}

/* ---- reload ------------------------------------------------------------------- */

static void reload_swaps_engine(void **state)
{
	(void)state;
	if (avdb() == NULL)
		skip_missing("PG_AVDB is not set");
	char dir[4096];
	db_copy(avdb(), dir, sizeof dir);
	pg_av *av = NULL;
	char err[512];
	assert_int_equal(pg_av_open("clamav", dir, NULL, &av, err, sizeof err), PG_OK);
	unsigned before = pg_av_signatures(av);

	const char *marker = "pecguard reload marker 6f1c2a: not a virus, a new signature";
	expect(av, marker, strlen(marker), "marker", PG_AV_CLEAN, NULL);

	char p[4200], line[512];
	char *h = hex(marker, strlen(marker));
	snprintf(line, sizeof line, "PG-Reload-Marker:0:*:%s\n", h);
	free(h);
	snprintf(p, sizeof p, "%s/reload.ndb", dir);
	file_write(p, line);
	/* The running engine does not see new files until reloaded. */
	expect(av, marker, strlen(marker), "marker", PG_AV_CLEAN, NULL);
	assert_int_equal(pg_av_reload(av, err, sizeof err), PG_OK);
	assert_int_equal(pg_av_signatures(av), before + 1);
	expect(av, marker, strlen(marker), "marker", PG_AV_INFECTED, "PG-Reload-Marker.UNOFFICIAL");
	expect(av, eicar(), strlen(eicar()), "eicar", PG_AV_INFECTED, EICAR_NAME);

	/* A broken database: the reload fails, the running engine stays. */
	snprintf(p, sizeof p, "%s/broken.ndb", dir);
	file_write(p, "Broken-Signature:0:*:zz-not-hex\n");
	assert_int_equal(pg_av_reload(av, err, sizeof err), PG_ERR_CONFIG);
	assert_non_null(strstr(err, dir));
	assert_int_equal(pg_av_signatures(av), before + 1);
	expect(av, marker, strlen(marker), "marker", PG_AV_INFECTED, "PG-Reload-Marker.UNOFFICIAL");

	/* The directory emptied: the reload fails too, and says why. */
	dir_remove(dir);
	assert_int_equal(pg_av_reload(av, err, sizeof err), PG_ERR_CONFIG);
	assert_non_null(strstr(err, dir));
	expect(av, eicar(), strlen(eicar()), "eicar", PG_AV_INFECTED, EICAR_NAME);
	pg_av_free(av);
}

/* ---- what a detection's name means ------------------------------------------ */

/* The same mapping for both backends: a signature is a virus; ClamAV's
 * limits alerts are "not scanned"; its other heuristics and PUA names are
 * threat indicators, never viruses (they must not stop a PEC envelope). */
static void names_map_to_verdicts(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		pg_av_verdict v;
	} cases[] = {
		{EICAR_NAME, PG_AV_INFECTED},
		{"Win.Trojan.Agent-1234567-0", PG_AV_INFECTED},
		{"PECGuard.Outbreak.Fattura", PG_AV_INFECTED},
		{"Heuristics.Phishing.Email.SSL-Spoof", PG_AV_HEURISTIC},
		{"Heuristics.Phishing.Email.SpoofedDomain", PG_AV_HEURISTIC},
		{"Heuristics.Encrypted.Zip", PG_AV_HEURISTIC},
		{"Heuristics.OLE2.ContainsMacros", PG_AV_HEURISTIC},
		{"PUA.Win.Packer.Upx-1", PG_AV_HEURISTIC},
		{"Heuristics.Limits.Exceeded.MaxRecursion", PG_AV_ERROR},
		{"", PG_AV_ERROR},
		/* Only the prefix counts: a signature that mentions them is a virus. */
		{"Doc.Heuristics.Phish-1", PG_AV_INFECTED},
		{"Heuristics", PG_AV_INFECTED},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		pg_av_result r;
		memset(&r, 0x5a, sizeof r);
		pg_av_result_found(&r, cases[i].name);
		if (r.verdict != cases[i].v)
			fail_msg("\"%s\": verdict %d, expected %d", cases[i].name, (int)r.verdict,
				 (int)cases[i].v);
		if (r.verdict != PG_AV_ERROR)
			assert_string_equal(r.virus, cases[i].name);
	}
}

/* The official database's phishing signatures (.pdb) are not loaded: a
 * link whose text names a protected site but goes elsewhere is the URL
 * analyser's to weigh, not a "virus" (clamscan with the same database
 * says Heuristics.Phishing.Email.SSL-Spoof). */
static void phishing_cloak_is_not_a_virus(void **state)
{
	(void)state;
	if (avdb() == NULL)
		skip_missing("PG_AVDB is not set");
	char dir[4096], p[4200];
	db_copy(avdb(), dir, sizeof dir);
	snprintf(p, sizeof p, "%s/pecguard-phish.pdb", dir);
	file_write(p, "H:bancaditalia.it\n");
	pg_av *av = NULL;
	char err[512];
	assert_int_equal(pg_av_open("clamav", dir, NULL, &av, err, sizeof err), PG_OK);
	const char *mail =
		"From: Servizio Clienti <avvisi@example.net>\r\n"
		"To: mario.rossi@example.org\r\n"
		"Subject: Verifica del conto\r\n"
		"Message-ID: <spoof-1@example.net>\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/html; charset=utf-8\r\n\r\n"
		"<html><body><p>Verifichi i suoi dati: <a "
		"href=\"http://bancaditalia-verifica.example.net/login\">"
		"https://www.bancaditalia.it/servizi/accesso</a></p></body></html>\r\n";
	expect(av, mail, strlen(mail), "spoofed link", PG_AV_CLEAN, NULL);
	expect(av, eicar(), strlen(eicar()), "eicar", PG_AV_INFECTED, EICAR_NAME);
	pg_av_free(av);
	dir_remove(dir);
}

/* ---- limits ------------------------------------------------------------------- */

static pg_av *open_limited(const pg_av_limits *lim)
{
	pg_av *av = NULL;
	char err[512];
	if (pg_av_open("clamav", avdb(), lim, &av, err, sizeof err) != PG_OK)
		fail_msg("pg_av_open: %s", err);
	return av;
}

static void limits_exceeded_is_error(void **state)
{
	(void)state;
	if (avdb() == NULL)
		skip_missing("PG_AVDB is not set");
	pg_av_limits lim = {.max_file_size = 4096,
			    .max_scan_size = 1 << 20,
			    .max_recursion = 3,
			    .max_files = 5};
	pg_av *av = open_limited(&lim);

	/* A small zip that inflates past max_file_size (a tiny zip bomb):
	 * libclamav's unzip would quietly scan only the first 4096 bytes. */
	unsigned char *zeros = calloc(1, 256 * 1024);
	assert_non_null(zeros);
	membuf z = zip1("zeros.bin", zeros, 256 * 1024);
	assert_true(z.len < 4096);
	expect(av, z.p, z.len, "bomb.zip", PG_AV_ERROR, LIMITS_TEXT "MaxFileSize");
	/* Not cached as clean: the same bytes again give the same answer. */
	expect(av, z.p, z.len, "bomb.zip", PG_AV_ERROR, LIMITS_TEXT "MaxFileSize");
	free(z.p);

	/* EICAR past the cut of a zip member: the answer is not clean. */
	unsigned char *pad = calloc(1, 8192 + 80);
	assert_non_null(pad);
	memcpy(pad + 8192, eicar(), strlen(eicar()));
	z = zip1("padded.bin", pad, 8192 + strlen(eicar()));
	expect(av, z.p, z.len, "padded.zip", PG_AV_ERROR, LIMITS_TEXT "MaxFileSize");
	free(z.p);
	free(pad);

	/* The object itself over max_file_size. */
	expect(av, zeros, 8192, "big", PG_AV_ERROR, LIMITS_TEXT "MaxFileSize");

	/* Nested deeper than max_recursion. */
	const char *text = "clean inner text\n";
	z = zip_nested("inner.txt", text, strlen(text), 6);
	expect(av, z.p, z.len, "deep.zip", PG_AV_ERROR, LIMITS_TEXT "MaxRecursion");
	free(z.p);
	/* ...while within it, clean. */
	z = zip_nested("inner.txt", text, strlen(text), 2);
	expect(av, z.p, z.len, "shallow.zip", PG_AV_CLEAN, NULL);
	free(z.p);

	/* More members than max_files. */
	zentry many[20];
	char names[20][16];
	for (int i = 0; i < 20; i++) {
		snprintf(names[i], sizeof names[i], "f%02d.txt", i);
		many[i] = (zentry){names[i], names[i], strlen(names[i])};
	}
	z = zip_build(many, 20);
	expect(av, z.p, z.len, "many.zip", PG_AV_ERROR, LIMITS_TEXT "MaxFiles");
	free(z.p);

	/* A virus found before a limit is hit is still a virus. */
	zentry first[2] = {{"eicar.com", eicar(), strlen(eicar())}, {"a.txt", "a", 1}};
	z = zip_build(first, 2);
	expect(av, z.p, z.len, "eicar-first.zip", PG_AV_INFECTED, EICAR_NAME);
	free(z.p);
	pg_av_free(av);

	/* More bytes in all than max_scan_size, each member under the
	 * file size limit. */
	pg_av_limits lim2 = {.max_file_size = 4096, .max_scan_size = 16384};
	av = open_limited(&lim2);
	zentry parts[10];
	char pnames[10][16];
	/* Members that differ (libclamav's cache would skip a repeated one)
	 * and deflate well (the zip itself stays under max_file_size). */
	unsigned char *blob = malloc(10 * 3000);
	assert_non_null(blob);
	for (int i = 0; i < 10; i++) {
		snprintf(pnames[i], sizeof pnames[i], "p%d.bin", i);
		memset(blob + i * 3000, 'a' + i, 3000);
		parts[i] = (zentry){pnames[i], blob + i * 3000, 3000};
	}
	z = zip_build(parts, 10);
	assert_true(z.len < 4096);
	expect(av, z.p, z.len, "scansize.zip", PG_AV_ERROR, LIMITS_TEXT "MaxScanSize");
	free(z.p);
	free(blob);
	free(zeros);
	pg_av_free(av);

	/* Limits libclamav cannot honour are refused at open. */
	pg_av_limits huge = {.max_file_size = 3ULL << 30};
	pg_av *bad = NULL;
	char err[512];
	assert_int_equal(pg_av_open("clamav", avdb(), &huge, &bad, err, sizeof err), PG_ERR_CONFIG);
	assert_null(bad);
}

/* ---- threads ------------------------------------------------------------------ */

typedef struct sample {
	const char *name;
	const unsigned char *data;
	size_t len;
	pg_av_verdict verdict;
	const char *virus;
} sample;

typedef struct thread_arg {
	pg_av *av;
	const sample *samples;
	size_t nsamples;
	int iterations;
	int seed;
	atomic_int *wrong;
} thread_arg;

static void *scan_thread(void *p)
{
	thread_arg *t = p;
	for (int i = 0; i < t->iterations; i++) {
		const sample *s = &t->samples[(size_t)(i + t->seed) % t->nsamples];
		pg_av_result r;
		if (pg_av_scan(t->av, s->data, s->len, s->name, &r) != PG_OK ||
		    r.verdict != s->verdict ||
		    (s->virus != NULL && strcmp(r.virus, s->virus) != 0)) {
			fprintf(stderr, "thread %d: %s: verdict %d virus %s error %s\n", t->seed,
				s->name, (int)r.verdict, r.virus, r.error);
			atomic_fetch_add(t->wrong, 1);
		}
	}
	return NULL;
}

static void threads_agree(void **state)
{
	pg_av *av = need_av(state);
	const char *text = "Nessun virus qui: solo testo.\n";
	membuf ez = zip1("eicar.com", eicar(), strlen(eicar()));
	membuf cz = zip1("testo.txt", text, strlen(text));
	char path[4096];
	snprintf(path, sizeof path, "%s/clam.exe", testfiles_dir());
	size_t clen = 0;
	unsigned char *clam = (unsigned char *)slurp_file(path, &clen);
	sample samples[5] = {
		{"eicar", (const unsigned char *)eicar(), strlen(eicar()), PG_AV_INFECTED,
		 EICAR_NAME},
		{"eicar.zip", ez.p, ez.len, PG_AV_INFECTED, EICAR_NAME},
		{"text", (const unsigned char *)text, strlen(text), PG_AV_CLEAN, NULL},
		{"clean.zip", cz.p, cz.len, PG_AV_CLEAN, NULL},
		{"clam.exe", clam, clen, PG_AV_INFECTED, CLAMTEST_NAME},
	};
	size_t nsamples = clam != NULL ? 5 : 4;

	enum { NTHREADS = 8 };
	pthread_t tid[NTHREADS];
	thread_arg args[NTHREADS];
	atomic_int wrong;
	atomic_init(&wrong, 0);
	for (int i = 0; i < NTHREADS; i++) {
		args[i] = (thread_arg){av, samples, nsamples, 60, i, &wrong};
		assert_int_equal(pthread_create(&tid[i], NULL, scan_thread, &args[i]), 0);
	}
	/* Engines swapped under the running scans. */
	for (int i = 0; i < 3; i++) {
		char err[512];
		assert_int_equal(pg_av_reload(av, err, sizeof err), PG_OK);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(tid[i], NULL);
	assert_int_equal(atomic_load(&wrong), 0);
	free(ez.p);
	free(cz.p);
	free(clam);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(open_missing_dir_fails),
		cmocka_unit_test(open_empty_dir_fails),
		cmocka_unit_test(open_bad_database_fails),
		cmocka_unit_test(open_specs),
		cmocka_unit_test(clamd_dead_is_error),
		cmocka_unit_test(eicar_plain_found),
		cmocka_unit_test(eicar_zipped_found),
		cmocka_unit_test(clean_is_clean),
		cmocka_unit_test(clamav_testfiles_found),
		cmocka_unit_test(clamav_testfile_too_deep),
		cmocka_unit_test(reload_swaps_engine),
		cmocka_unit_test(names_map_to_verdicts),
		cmocka_unit_test(phishing_cloak_is_not_a_virus),
		cmocka_unit_test(limits_exceeded_is_error),
		cmocka_unit_test(threads_agree),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
