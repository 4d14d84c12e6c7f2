/*
 * Unit tests: src/cli/input.c - messages from files, mboxes, Maildirs,
 * directories and standard input (the CLI's and the benchmarks' reader;
 * linked into this test from src/cli, see tests/CMakeLists.txt).
 *
 * Every case builds its tree in a fresh directory under /tmp and records
 * each callback: path, mbox index, bytes, error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/input.h"
#include "rmtree.h"

/* ---- recording what the walk hands over ---------------------------------- */

typedef struct item {
	char *path;
	size_t idx;
	char *data; /* copy, NUL-terminated; NULL with an error */
	size_t len;
	char *err;
} item;

typedef struct rec {
	item *v;
	size_t n;
	size_t stop_at; /* 1-based: return non-zero from that call; 0 never */
} rec;

static int on_msg(void *ctx, const char *path, size_t mbox_index, const char *data, size_t len,
		  const char *err)
{
	rec *r = ctx;
	r->v = realloc(r->v, (r->n + 1) * sizeof(*r->v));
	assert_non_null(r->v);
	item *it = &r->v[r->n++];
	it->path = strdup(path);
	it->idx = mbox_index;
	it->len = len;
	it->data = NULL;
	it->err = err ? strdup(err) : NULL;
	/* exactly one of data and err */
	assert_true((data == NULL) != (err == NULL));
	if (data != NULL) {
		it->data = malloc(len + 1);
		memcpy(it->data, data, len);
		it->data[len] = '\0';
	}
	return r->stop_at != 0 && r->n == r->stop_at ? 42 : 0;
}

static void rec_free(rec *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].path);
		free(r->v[i].data);
		free(r->v[i].err);
	}
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static int walk(const char *path, rec *r)
{
	rec_free(r);
	return pg_input_walk(path, 1u << 20, on_msg, r);
}

/* ---- building trees -------------------------------------------------------- */

static char root[64];

static int make_root(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/pg-test-input-XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int remove_root(void **state)
{
	(void)state;
	rm_rf(root);
	return 0;
}

/* root/rel, as a path */
static const char *at(const char *rel)
{
	static char bufs[4][4096];
	static int k;
	char *b = bufs[k++ % 4];
	snprintf(b, 4096, "%s/%s", root, rel);
	return b;
}

static void mkdirs(const char *rel)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (char *s = p + strlen(root) + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	mkdir(p, 0755);
}

static void put_n(const char *rel, const char *data, size_t n)
{
	FILE *f = fopen(at(rel), "wb");
	if (f == NULL)
		fail_msg("cannot create %s: %s", at(rel), strerror(errno));
	assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);
}

static void put(const char *rel, const char *data)
{
	put_n(rel, data, strlen(data));
}

/* The recorded item i is the message data from file rel (at mbox index idx). */
static void is_msg(const rec *r, size_t i, const char *rel, size_t idx, const char *data)
{
	if (i >= r->n)
		fail_msg("no item %zu (%zu recorded)", i, r->n);
	const item *it = &r->v[i];
	assert_string_equal(it->path, at(rel));
	assert_int_equal(it->idx, idx);
	if (it->err != NULL)
		fail_msg("%s: error %s", it->path, it->err);
	assert_int_equal(it->len, strlen(data));
	assert_memory_equal(it->data, data, it->len);
}

static void is_err(const rec *r, size_t i, const char *path, const char *err)
{
	if (i >= r->n)
		fail_msg("no item %zu (%zu recorded)", i, r->n);
	assert_string_equal(r->v[i].path, path);
	assert_null(r->v[i].data);
	assert_non_null(r->v[i].err);
	if (err != NULL && strstr(r->v[i].err, err) == NULL)
		fail_msg("%s: error \"%s\", expected \"%s\"", path, r->v[i].err, err);
}

/* ---- files ----------------------------------------------------------------- */

static void plain_and_empty_files(void **state)
{
	(void)state;
	rec r = {0};
	put("m.eml", "Subject: x\n\nbody\n");
	assert_int_equal(walk(at("m.eml"), &r), 0);
	assert_int_equal(r.n, 1);
	is_msg(&r, 0, "m.eml", 0, "Subject: x\n\nbody\n");
	/* a header named From: is no From_ line */
	put("from.eml", "From: a@b.test\n\nFrom here on\n");
	assert_int_equal(walk(at("from.eml"), &r), 0);
	assert_int_equal(r.n, 1);
	is_msg(&r, 0, "from.eml", 0, "From: a@b.test\n\nFrom here on\n");
	/* an empty file is one empty message */
	put("empty.eml", "");
	assert_int_equal(walk(at("empty.eml"), &r), 0);
	assert_int_equal(r.n, 1);
	is_msg(&r, 0, "empty.eml", 0, "");
	/* NUL bytes and no final newline: the bytes as they are */
	put_n("nul.eml", "a\0b", 3);
	assert_int_equal(walk(at("nul.eml"), &r), 0);
	assert_int_equal(r.v[0].len, 3);
	assert_memory_equal(r.v[0].data, "a\0b", 3);
	rec_free(&r);
}

/* ---- mbox ------------------------------------------------------------------ */

static void mbox_split(void **state)
{
	(void)state;
	rec r = {0};
	/* A From_ line starts a message at the start of the file or after a
	 * blank line; the From_ line and the blank line before the next one
	 * are not part of the message.  '>From ' quoting is left as it is
	 * (mboxo and mboxrd cannot be told apart), and a From line that does
	 * not follow a blank line is text. */
	put("box", "From alice@a.test Mon Jan  1 00:00:00 2024\n"
		   "Subject: one\n"
		   "\n"
		   "first body\n"
		   ">From the quoted line\n"
		   "From a line that follows text\n"
		   "\n"
		   "From bob@b.test Tue Jan  2 00:00:00 2024\n"
		   "Subject: two\n"
		   "\n"
		   "\n"
		   "second body after two blank lines\n"
		   "\n"
		   "\n"
		   "From carol@c.test Wed Jan  3 00:00:00 2024\n"
		   "Subject: three\n"
		   "\n"
		   "third\n");
	assert_int_equal(walk(at("box"), &r), 0);
	assert_int_equal(r.n, 3);
	is_msg(&r, 0, "box", 1,
	       "Subject: one\n\nfirst body\n>From the quoted line\nFrom a line that follows "
	       "text\n");
	/* only the one blank line before the From_ line is the separator */
	is_msg(&r, 1, "box", 2, "Subject: two\n\n\nsecond body after two blank lines\n\n");
	is_msg(&r, 2, "box", 3, "Subject: three\n\nthird\n");

	/* CRLF line ends */
	put("crlf", "From x Mon Jan  1 00:00:00 2024\r\n"
		    "A: 1\r\n"
		    "\r\n"
		    "b\r\n"
		    "\r\n"
		    "From y Mon Jan  1 00:00:00 2024\r\n"
		    "A: 2\r\n"
		    "\r\n"
		    "c\r\n");
	assert_int_equal(walk(at("crlf"), &r), 0);
	assert_int_equal(r.n, 2);
	is_msg(&r, 0, "crlf", 1, "A: 1\r\n\r\nb\r\n");
	is_msg(&r, 1, "crlf", 2, "A: 2\r\n\r\nc\r\n");

	/* mbox writers end every message with a blank line, the last one too:
	 * a message reads the same wherever it is in the mbox */
	put("same", "From a Mon Jan  1 00:00:00 2024\n"
		    "Subject: same\n"
		    "\n"
		    "body\n"
		    "\n"
		    "From b Mon Jan  1 00:00:00 2024\n"
		    "Subject: same\n"
		    "\n"
		    "body\n"
		    "\n");
	assert_int_equal(walk(at("same"), &r), 0);
	assert_int_equal(r.n, 2);
	is_msg(&r, 0, "same", 1, "Subject: same\n\nbody\n");
	is_msg(&r, 1, "same", 2, "Subject: same\n\nbody\n");
	put("samecrlf", "From a\r\nA: 1\r\n\r\nb\r\n\r\nFrom b\r\nA: 1\r\n\r\nb\r\n\r\n");
	assert_int_equal(walk(at("samecrlf"), &r), 0);
	assert_int_equal(r.n, 2);
	is_msg(&r, 0, "samecrlf", 1, "A: 1\r\n\r\nb\r\n");
	is_msg(&r, 1, "samecrlf", 2, "A: 1\r\n\r\nb\r\n");
	/* only that one blank line */
	put("twoblank", "From a\nA: 1\n\nb\n\n\n");
	assert_int_equal(walk(at("twoblank"), &r), 0);
	is_msg(&r, 0, "twoblank", 1, "A: 1\n\nb\n\n");

	/* a From_ line alone: one empty message; and back to back */
	put("bare", "From x Mon Jan  1 00:00:00 2024");
	assert_int_equal(walk(at("bare"), &r), 0);
	assert_int_equal(r.n, 1);
	is_msg(&r, 0, "bare", 1, "");
	put("b2b", "From x\n\nFrom y\nA: 1\n");
	assert_int_equal(walk(at("b2b"), &r), 0);
	assert_int_equal(r.n, 2);
	is_msg(&r, 0, "b2b", 1, "");
	is_msg(&r, 1, "b2b", 2, "A: 1\n");
	rec_free(&r);
}

/* The callback's non-zero answer stops the walk and is returned. */
static void stop_on_request(void **state)
{
	(void)state;
	rec r = {0};
	put("stop", "From a\nA: 1\n\nFrom b\nA: 2\n\nFrom c\nA: 3\n");
	r.stop_at = 2;
	assert_int_equal(pg_input_walk(at("stop"), 1u << 20, on_msg, &r), 42);
	assert_int_equal(r.n, 2);
	rec_free(&r);

	mkdirs("stopdir/sub");
	put("stopdir/a", "A: 1\n");
	put("stopdir/sub/b", "A: 2\n");
	put("stopdir/z", "A: 3\n");
	r.stop_at = 2;
	assert_int_equal(pg_input_walk(at("stopdir"), 1u << 20, on_msg, &r), 42);
	assert_int_equal(r.n, 2);
	rec_free(&r);
}

/* ---- directories and Maildirs ---------------------------------------------- */

static void directory_in_name_order(void **state)
{
	(void)state;
	rec r = {0};
	mkdirs("tree/sub/deeper");
	mkdirs("tree/.hiddendir");
	mkdirs("tree/empty");
	put("tree/b.eml", "B\n");
	put("tree/a.eml", "a\n");
	put("tree/A.eml", "A\n");
	put("tree/sub.eml", "sub.eml\n");
	put("tree/sub/c.eml", "c\n");
	put("tree/sub/deeper/d.eml", "d\n");
	put("tree/z\xc3\xa9.eml", "utf8\n");
	put("tree/.hidden.eml", "hidden\n");
	put("tree/.hiddendir/x.eml", "x\n");
	put("tree/sub/.x", "x\n");
	assert_int_equal(walk(at("tree"), &r), 0);
	/* byte order of the names (upper case first, UTF-8 last); a directory
	 * before the names it prefixes; depth first; hidden entries skipped;
	 * an empty directory gives nothing */
	assert_int_equal(r.n, 7);
	is_msg(&r, 0, "tree/A.eml", 0, "A\n");
	is_msg(&r, 1, "tree/a.eml", 0, "a\n");
	is_msg(&r, 2, "tree/b.eml", 0, "B\n");
	is_msg(&r, 3, "tree/sub/c.eml", 0, "c\n");
	is_msg(&r, 4, "tree/sub/deeper/d.eml", 0, "d\n");
	is_msg(&r, 5, "tree/sub.eml", 0, "sub.eml\n");
	is_msg(&r, 6, "tree/z\xc3\xa9.eml", 0, "utf8\n");

	/* a trailing slash is not doubled */
	char slash[4200];
	snprintf(slash, sizeof(slash), "%s/", at("tree/sub"));
	assert_int_equal(walk(slash, &r), 0);
	assert_int_equal(r.n, 2);
	is_msg(&r, 0, "tree/sub/c.eml", 0, "c\n");
	/* a hidden path named on the command line is read */
	assert_int_equal(walk(at("tree/.hidden.eml"), &r), 0);
	is_msg(&r, 0, "tree/.hidden.eml", 0, "hidden\n");
	assert_int_equal(walk(at("tree/.hiddendir"), &r), 0);
	is_msg(&r, 0, "tree/.hiddendir/x.eml", 0, "x\n");
	/* an empty directory: no message, no error */
	assert_int_equal(walk(at("tree/empty"), &r), 0);
	assert_int_equal(r.n, 0);
	/* an mbox inside a directory is split there too */
	put("tree/sub/deeper/box", "From a\nA: 1\n\nFrom b\nA: 2\n");
	assert_int_equal(walk(at("tree/sub/deeper"), &r), 0);
	assert_int_equal(r.n, 3);
	is_msg(&r, 0, "tree/sub/deeper/box", 1, "A: 1\n");
	is_msg(&r, 1, "tree/sub/deeper/box", 2, "A: 2\n");
	is_msg(&r, 2, "tree/sub/deeper/d.eml", 0, "d\n");
	rec_free(&r);
}

static void maildir(void **state)
{
	(void)state;
	rec r = {0};
	/* new/ before cur/; tmp/ (deliveries in progress) and whatever else
	 * the Maildir holds (files, Maildir++ folders) are not messages */
	mkdirs("md/cur");
	mkdirs("md/new");
	mkdirs("md/tmp");
	mkdirs("md/.Sent/cur");
	mkdirs("md/.Sent/new");
	mkdirs("md/.Sent/tmp");
	put("md/new/1700000002.M1P1.host", "new 2\n");
	put("md/new/1700000001.M1P1.host", "new 1\n");
	put("md/new/.1700000003.partial", "hidden\n");
	put("md/cur/1600000000.M1P1.host:2,S", "cur\n");
	put("md/tmp/1700000009.M1P1.host", "in progress\n");
	put("md/.Sent/cur/1.host:2,S", "sent\n");
	put("md/dovecot-uidlist", "3 V1 N4\n");
	assert_int_equal(walk(at("md"), &r), 0);
	assert_int_equal(r.n, 3);
	is_msg(&r, 0, "md/new/1700000001.M1P1.host", 0, "new 1\n");
	is_msg(&r, 1, "md/new/1700000002.M1P1.host", 0, "new 2\n");
	is_msg(&r, 2, "md/cur/1600000000.M1P1.host:2,S", 0, "cur\n");

	/* a Maildir inside a directory is read as one */
	mkdirs("mail");
	put("mail/a.eml", "a\n");
	assert_int_equal(rename(at("md"), at("mail/md")), 0);
	assert_int_equal(walk(at("mail"), &r), 0);
	assert_int_equal(r.n, 4);
	is_msg(&r, 0, "mail/a.eml", 0, "a\n");
	is_msg(&r, 1, "mail/md/new/1700000001.M1P1.host", 0, "new 1\n");
	is_msg(&r, 3, "mail/md/cur/1600000000.M1P1.host:2,S", 0, "cur\n");

	/* without tmp/ it is a plain directory: everything, in name order */
	mkdirs("half/cur");
	mkdirs("half/new");
	put("half/new/n", "n\n");
	put("half/cur/c", "c\n");
	put("half/other", "o\n");
	assert_int_equal(walk(at("half"), &r), 0);
	assert_int_equal(r.n, 3);
	is_msg(&r, 0, "half/cur/c", 0, "c\n");
	is_msg(&r, 1, "half/new/n", 0, "n\n");
	is_msg(&r, 2, "half/other", 0, "o\n");
	rec_free(&r);
}

/* ---- errors ---------------------------------------------------------------- */

static void errors_are_reported_and_the_walk_goes_on(void **state)
{
	(void)state;
	rec r = {0};
	/* a path that does not exist; one through a file */
	assert_int_equal(walk(at("nonexistent"), &r), 0);
	assert_int_equal(r.n, 1);
	is_err(&r, 0, at("nonexistent"), strerror(ENOENT));
	put("file", "x\n");
	assert_int_equal(walk(at("file/below"), &r), 0);
	is_err(&r, 0, at("file/below"), strerror(ENOTDIR));
	assert_int_equal(walk("", &r), 0);
	assert_int_equal(r.n, 1);
	assert_non_null(r.v[0].err);

	/* neither a file nor a directory */
	assert_int_equal(mkfifo(at("fifo"), 0600), 0);
	assert_int_equal(walk(at("fifo"), &r), 0);
	is_err(&r, 0, at("fifo"), "not a regular file or directory");

	/* inside a directory: a dangling link, a FIFO; the rest is read */
	mkdirs("errs");
	put("errs/a.eml", "a\n");
	assert_int_equal(symlink("missing", at("errs/b-dangling")), 0);
	assert_int_equal(mkfifo(at("errs/c-fifo"), 0600), 0);
	put("errs/d.eml", "d\n");
	assert_int_equal(walk(at("errs"), &r), 0);
	assert_int_equal(r.n, 4);
	is_msg(&r, 0, "errs/a.eml", 0, "a\n");
	is_err(&r, 1, at("errs/b-dangling"), strerror(ENOENT));
	is_err(&r, 2, at("errs/c-fifo"), "not a regular file");
	is_msg(&r, 3, "errs/d.eml", 0, "d\n");

	/* unreadable file and directory; root reads anything, so as root the
	 * walks run as nobody (and the checks once root again) */
	put("errs/e.eml", "e\n");
	assert_int_equal(chmod(at("errs/e.eml"), 0), 0);
	mkdirs("locked");
	put("locked/f.eml", "f\n");
	assert_int_equal(chmod(at("locked"), 0), 0);
	bool was_root = geteuid() == 0;
	if (was_root) {
		assert_int_equal(chmod(root, 0755), 0);
		if (seteuid(65534) != 0)
			skip();
	}
	rec r1 = {0}, r2 = {0};
	int ret1 = pg_input_walk(at("errs/e.eml"), 1u << 20, on_msg, &r1);
	int ret2 = pg_input_walk(at("locked"), 1u << 20, on_msg, &r2);
	if (was_root)
		assert_int_equal(seteuid(0), 0);
	chmod(at("errs/e.eml"), 0644);
	chmod(at("locked"), 0755);
	assert_int_equal(ret1, 0);
	assert_int_equal(r1.n, 1);
	is_err(&r1, 0, at("errs/e.eml"), strerror(EACCES));
	assert_int_equal(ret2, 0);
	assert_int_equal(r2.n, 1);
	is_err(&r2, 0, at("locked"), strerror(EACCES));
	rec_free(&r1);
	rec_free(&r2);
	rec_free(&r);
}

/* Symbolic links are followed, loops are not; a tree deeper than 64
 * levels is cut there with an error. */
static void links_and_depth(void **state)
{
	(void)state;
	rec r = {0};
	mkdirs("real");
	put("real/m.eml", "m\n");
	mkdirs("links");
	assert_int_equal(symlink(at("real"), at("links/dir")), 0);
	assert_int_equal(symlink(at("real/m.eml"), at("links/file")), 0);
	assert_int_equal(walk(at("links"), &r), 0);
	assert_int_equal(r.n, 2);
	is_msg(&r, 0, "links/dir/m.eml", 0, "m\n");
	is_msg(&r, 1, "links/file", 0, "m\n");

	/* a link back to a directory being read is a loop: reported once, and
	 * nothing is read twice (two such links used to make 2^64 walks) */
	mkdirs("loop/sub");
	put("loop/a.eml", "a\n");
	put("loop/sub/b.eml", "b\n");
	assert_int_equal(symlink(".", at("loop/self")), 0);
	assert_int_equal(walk(at("loop"), &r), 0);
	assert_int_equal(r.n, 3);
	is_msg(&r, 0, "loop/a.eml", 0, "a\n");
	is_err(&r, 1, at("loop/self"), "loop");
	is_msg(&r, 2, "loop/sub/b.eml", 0, "b\n");
	assert_int_equal(symlink("..", at("loop/sub/up")), 0);
	assert_int_equal(symlink(".", at("loop/sub/zself")), 0);
	assert_int_equal(walk(at("loop"), &r), 0);
	assert_int_equal(r.n, 5);
	is_msg(&r, 0, "loop/a.eml", 0, "a\n");
	is_err(&r, 1, at("loop/self"), "loop");
	is_msg(&r, 2, "loop/sub/b.eml", 0, "b\n");
	is_err(&r, 3, at("loop/sub/up"), "loop");
	is_err(&r, 4, at("loop/sub/zself"), "loop");
	/* in a Maildir too */
	mkdirs("lmd/cur");
	mkdirs("lmd/new");
	mkdirs("lmd/tmp");
	put("lmd/new/1", "1\n");
	put("lmd/cur/1:2,S", "c\n");
	assert_int_equal(symlink("..", at("lmd/new/2-up")), 0);
	assert_int_equal(symlink("..", at("lmd/cur/2-up")), 0);
	assert_int_equal(walk(at("lmd"), &r), 0);
	assert_int_equal(r.n, 4);
	is_msg(&r, 0, "lmd/new/1", 0, "1\n");
	is_err(&r, 1, at("lmd/new/2-up"), "loop");
	is_msg(&r, 2, "lmd/cur/1:2,S", 0, "c\n");
	is_err(&r, 3, at("lmd/cur/2-up"), "loop");

	char rel[1024] = "deep";
	for (int i = 0; i < 70; i++)
		strcat(rel, "/d");
	mkdirs(rel);
	put("deep/top.eml", "top\n");
	strcat(rel, "/bottom.eml");
	put(rel, "bottom\n");
	assert_int_equal(walk(at("deep"), &r), 0);
	assert_int_equal(r.n, 2);
	assert_non_null(strstr(r.v[0].err, "nested too deep"));
	is_msg(&r, 1, "deep/top.eml", 0, "top\n");
	rec_free(&r);
}

/* ---- standard input ---------------------------------------------------------- */

/* Runs the walk of "-" with fd 0 reading the file rel. */
static int walk_stdin(const char *rel, size_t max, rec *r)
{
	rec_free(r);
	int saved = dup(0);
	assert_true(saved >= 0);
	int fd = open(at(rel), O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 0), 0);
	close(fd);
	int ret = pg_input_walk("-", max, on_msg, r);
	assert_int_equal(dup2(saved, 0), 0);
	close(saved);
	return ret;
}

static void standard_input(void **state)
{
	(void)state;
	rec r = {0};
	put("in.eml", "Subject: stdin\n\nbody\n");
	assert_int_equal(walk_stdin("in.eml", 1u << 20, &r), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.v[0].path, "-");
	assert_int_equal(r.v[0].idx, 0);
	assert_string_equal(r.v[0].data, "Subject: stdin\n\nbody\n");

	put("in.mbox", "From a\nA: 1\n\nFrom b\nA: 2\n");
	assert_int_equal(walk_stdin("in.mbox", 1u << 20, &r), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.v[1].path, "-");
	assert_int_equal(r.v[1].idx, 2);
	assert_string_equal(r.v[1].data, "A: 2\n");

	put("in.empty", "");
	assert_int_equal(walk_stdin("in.empty", 1u << 20, &r), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.v[0].len, 0);

	/* more than max: read past max (so the caller can tell), not to the end */
	size_t big = 300000;
	char *b = malloc(big);
	memset(b, 'x', big);
	memcpy(b, "Subject: big\n\n", 14);
	put_n("in.big", b, big);
	free(b);
	assert_int_equal(walk_stdin("in.big", 100000, &r), 0);
	assert_int_equal(r.n, 1);
	assert_true(r.v[0].len > 100000);
	assert_true(r.v[0].len < big);
	/* within max: all of it */
	assert_int_equal(walk_stdin("in.big", big, &r), 0);
	assert_int_equal(r.v[0].len, big);
	rec_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(plain_and_empty_files, make_root, remove_root),
		cmocka_unit_test_setup_teardown(mbox_split, make_root, remove_root),
		cmocka_unit_test_setup_teardown(stop_on_request, make_root, remove_root),
		cmocka_unit_test_setup_teardown(directory_in_name_order, make_root, remove_root),
		cmocka_unit_test_setup_teardown(maildir, make_root, remove_root),
		cmocka_unit_test_setup_teardown(errors_are_reported_and_the_walk_goes_on, make_root,
						remove_root),
		cmocka_unit_test_setup_teardown(links_and_depth, make_root, remove_root),
		cmocka_unit_test_setup_teardown(standard_input, make_root, remove_root),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
