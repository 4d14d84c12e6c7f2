/*
 * av.c - the antivirus handle: parses the backend spec, dispatches to the
 * backend, and holds the code both backends share (limits, verdicts).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "scan/av_internal.h"

struct pg_av {
	const pg_av_ops *ops;
	void *impl;
	char *backend; /* "clamav" or the spec as given: "clamd:..." */
};

#define CLAMD_PREFIX "clamd:"

void pg_av_errf(char *err, size_t errlen, const char *fmt, ...)
{
	if (err == NULL || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void pg_av_limits_resolve(const pg_av_limits *lim, pg_av_limits *out)
{
	pg_av_limits l = {0};
	if (lim != NULL)
		l = *lim;
	if (l.max_scan_size == 0)
		l.max_scan_size = PG_AV_DEF_MAX_SCAN_SIZE;
	if (l.max_file_size == 0)
		l.max_file_size = PG_AV_DEF_MAX_FILE_SIZE;
	if (l.max_recursion == 0)
		l.max_recursion = PG_AV_DEF_MAX_RECURSION;
	if (l.max_files == 0)
		l.max_files = PG_AV_DEF_MAX_FILES;
	if (l.connect_timeout_ms == 0)
		l.connect_timeout_ms = PG_AV_DEF_CONNECT_TIMEOUT_MS;
	if (l.io_timeout_ms == 0)
		l.io_timeout_ms = PG_AV_DEF_IO_TIMEOUT_MS;
	*out = l;
}

void pg_av_result_clean(pg_av_result *r)
{
	r->verdict = PG_AV_CLEAN;
	r->virus[0] = '\0';
	r->error[0] = '\0';
}

void pg_av_result_error(pg_av_result *r, const char *fmt, ...)
{
	r->verdict = PG_AV_ERROR;
	r->virus[0] = '\0';
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof r->error, fmt, ap);
	va_end(ap);
}

void pg_av_result_found(pg_av_result *r, const char *virname)
{
	if (virname == NULL || virname[0] == '\0') {
		/* A detection without a name cannot be reported or audited:
		 * safer to retry than to reject or to pass. */
		pg_av_result_error(r, "detection without a signature name");
		return;
	}
	if (strncmp(virname, PG_AV_LIMITS_PREFIX, strlen(PG_AV_LIMITS_PREFIX)) == 0) {
		pg_av_result_error(r, "limits exceeded: content not fully scanned: %s", virname);
		return;
	}
	/* Not signatures of malware: ClamAV's heuristics (phishing link
	 * cloaks from the official database's .pdb/.wdb, which clamd checks
	 * by default; broken executables, encrypted archives, macros when a
	 * clamd.conf turns them on) and potentially unwanted applications.
	 * They are threat indicators: a weight in the score of ordinary
	 * mail, never a reason to stop a PEC envelope, which only a virus
	 * may stop.  ClamAV reports them only when no signature matched. */
	bool heuristic = strncmp(virname, "Heuristics.", 11) == 0 || strncmp(virname, "PUA.", 4) == 0;
	r->verdict = heuristic ? PG_AV_HEURISTIC : PG_AV_INFECTED;
	r->error[0] = '\0';
	snprintf(r->virus, sizeof r->virus, "%s", virname);
}

pg_status pg_av_open(const char *spec, const char *db_dir, const pg_av_limits *lim, pg_av **out,
		     char *err, size_t errlen)
{
	pg_av_errf(err, errlen, "%s", "");
	if (out == NULL || spec == NULL) {
		pg_av_errf(err, errlen, "pg_av_open: NULL argument");
		return PG_ERR_INVALID;
	}
	*out = NULL;

	pg_av_limits l;
	pg_av_limits_resolve(lim, &l);

	pg_av *av = calloc(1, sizeof *av);
	if (av == NULL || (av->backend = strdup(spec)) == NULL) {
		free(av);
		pg_av_errf(err, errlen, "out of memory");
		return PG_ERR_NOMEM;
	}

	pg_status st;
	if (strcmp(spec, "clamav") == 0) {
		if (db_dir == NULL || db_dir[0] == '\0') {
			pg_av_errf(err, errlen, "clamav: no signature directory given");
			st = PG_ERR_CONFIG;
		} else {
			st = pg_av_clamav_open(db_dir, &l, &av->ops, &av->impl, err, errlen);
		}
	} else if (strncmp(spec, CLAMD_PREFIX, strlen(CLAMD_PREFIX)) == 0) {
		st = pg_av_clamd_open(spec + strlen(CLAMD_PREFIX), &l, &av->ops, &av->impl, err,
				      errlen);
	} else {
		pg_av_errf(err, errlen,
			   "unknown antivirus backend \"%s\" (expected \"clamav\" or "
			   "\"clamd:SOCKET|HOST:PORT[,...]\")",
			   spec);
		st = PG_ERR_CONFIG;
	}
	if (st != PG_OK) {
		free(av->backend);
		free(av);
		return st;
	}
	*out = av;
	return PG_OK;
}

void pg_av_free(pg_av *av)
{
	if (av == NULL)
		return;
	if (av->ops != NULL && av->impl != NULL)
		av->ops->free(av->impl);
	free(av->backend);
	free(av);
}

pg_status pg_av_scan(pg_av *av, const void *data, size_t len, const char *name, pg_av_result *out)
{
	if (out == NULL)
		return PG_ERR_INVALID;
	/* Until a backend says otherwise the answer is "not scanned", so that
	 * a caller who ignores the status never reads a stale "clean". */
	pg_av_result_error(out, "not scanned");
	if (av == NULL || (data == NULL && len > 0)) {
		pg_av_result_error(out, "pg_av_scan: invalid argument");
		return PG_ERR_INVALID;
	}
	static const char empty[1];
	if (data == NULL)
		data = empty; /* a valid address for a zero-length object */
	return av->ops->scan(av->impl, data, len, name, out);
}

pg_status pg_av_reload(pg_av *av, char *err, size_t errlen)
{
	pg_av_errf(err, errlen, "%s", "");
	if (av == NULL) {
		pg_av_errf(err, errlen, "pg_av_reload: NULL handle");
		return PG_ERR_INVALID;
	}
	return av->ops->reload(av->impl, err, errlen);
}

const char *pg_av_backend(const pg_av *av)
{
	return av != NULL ? av->backend : "";
}

unsigned pg_av_signatures(const pg_av *av)
{
	return av != NULL ? av->ops->signatures(av->impl) : 0;
}

/* ---- self-check ------------------------------------------------------------- */

/* No source file holds the test string whole: antivirus scanners of the
 * source tree would flag it. */
static void eicar_string(char out[69])
{
	static const char a[] = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-";
	static const char b[] = "STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
	memcpy(out, a, sizeof a - 1);
	memcpy(out + sizeof a - 1, b, sizeof b);
}

#define PROBE_DEPTH 100u /* gzip layers: ClamAV's default recursion limit is 17 */

/* A short text inside PROBE_DEPTH layers of gzip (about 2 KiB). */
static unsigned char *nested_probe(size_t *len)
{
	static const char text[] = "pecguard self-check: nested deeper than any archive limit\n";
	size_t n = sizeof text - 1, cap = 0;
	unsigned char *cur = malloc(n);
	if (cur == NULL)
		return NULL;
	memcpy(cur, text, n);
	for (unsigned i = 0; i < PROBE_DEPTH; i++) {
		cap = n + 256;
		unsigned char *next = malloc(cap);
		struct archive *w = archive_write_new();
		size_t used = 0;
		struct archive_entry *e = archive_entry_new();
		bool ok = next != NULL && w != NULL && e != NULL &&
			  archive_write_add_filter_gzip(w) == ARCHIVE_OK &&
			  archive_write_set_format_raw(w) == ARCHIVE_OK &&
			  archive_write_set_bytes_in_last_block(w, 1) == ARCHIVE_OK &&
			  archive_write_open_memory(w, next, cap, &used) == ARCHIVE_OK;
		if (ok) {
			archive_entry_set_pathname(e, "probe");
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_size(e, (la_int64_t)n);
			ok = archive_write_header(w, e) == ARCHIVE_OK &&
			     archive_write_data(w, cur, n) == (la_ssize_t)n &&
			     archive_write_close(w) == ARCHIVE_OK;
		}
		if (e != NULL)
			archive_entry_free(e);
		if (w != NULL)
			archive_write_free(w);
		free(cur);
		if (!ok) {
			free(next);
			return NULL;
		}
		cur = next;
		n = used;
	}
	*len = n;
	return cur;
}

pg_status pg_av_selfcheck(pg_av *av, char *err, size_t errlen)
{
	pg_av_errf(err, errlen, "%s", "");
	if (av == NULL) {
		pg_av_errf(err, errlen, "pg_av_selfcheck: NULL handle");
		return PG_ERR_INVALID;
	}
	char eicar[69];
	eicar_string(eicar);
	pg_av_result r;
	pg_status st = pg_av_scan(av, eicar, strlen(eicar), "self-check: EICAR", &r);
	if (st != PG_OK)
		return st;
	if (r.verdict == PG_AV_ERROR) {
		pg_av_errf(err, errlen, "%s: no answer to the EICAR test string: %s", av->backend,
			   r.error);
		return PG_ERR_IO;
	}
	if (r.verdict != PG_AV_INFECTED) {
		pg_av_errf(err, errlen,
			   "%s: the EICAR test string is not detected: are the signatures loaded?",
			   av->backend);
		return PG_ERR_CONFIG;
	}
	size_t n = 0;
	unsigned char *probe = nested_probe(&n);
	if (probe == NULL) {
		pg_av_errf(err, errlen, "self-check: cannot build the nested probe");
		return PG_ERR_NOMEM;
	}
	st = pg_av_scan(av, probe, n, "self-check: nested probe", &r);
	free(probe);
	if (st != PG_OK)
		return st;
	if (r.verdict == PG_AV_ERROR && strstr(r.error, PG_AV_LIMITS_PREFIX) != NULL)
		return PG_OK;
	if (r.verdict == PG_AV_ERROR) {
		pg_av_errf(err, errlen, "%s: no answer to the nested probe: %s", av->backend,
			   r.error);
		return PG_ERR_IO;
	}
	pg_av_errf(err, errlen,
		   "%s: content nested %u archives deep, past every limit, came back %s: "
		   "unscanned content would pass as clean (clamd: set AlertExceedsMax yes)",
		   av->backend, PROBE_DEPTH, r.verdict == PG_AV_CLEAN ? "clean" : r.virus);
	return PG_ERR_CONFIG;
}
