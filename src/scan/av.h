/*
 * av.h - one antivirus interface, two backends.
 *
 *   "clamav"              libclamav in the process (the default: no service
 *                         to run).  The engine is loaded and compiled once
 *                         from a signature directory and shared by every
 *                         thread; pg_av_reload() compiles a new one and swaps
 *                         it in while scans continue on the old one.
 *   "clamd:SPEC[,SPEC...]" clamd over zINSTREAM; SPEC is a unix socket path
 *                         (absolute) or HOST:PORT.  Several servers fail over
 *                         to the next on a connection error or timeout.
 *
 * A verdict is never "clean" unless the content was scanned: an antivirus
 * that cannot answer (down, timing out, database not loaded, a limit that
 * leaves content unscanned) gives PG_AV_ERROR, which the policy turns into
 * a temporary failure.
 */
#ifndef PG_SCAN_AV_H
#define PG_SCAN_AV_H

#include <stddef.h>
#include <stdint.h>

#include "pecguard.h"

typedef enum pg_av_verdict {
	PG_AV_CLEAN = 0,
	PG_AV_INFECTED,
	PG_AV_ERROR,    /* could not scan: never treat as clean */
	PG_AV_HEURISTIC /* scanned, no signature matched; the engine's own
			 * heuristics (Heuristics.*, other than limits) or a
			 * potentially-unwanted-application signature (PUA.*)
			 * alerted: a threat indicator, never a virus */
} pg_av_verdict;

typedef struct pg_av_result {
	pg_av_verdict verdict;
	char virus[256]; /* signature name when infected ("Eicar-Test-Signature.UNOFFICIAL"),
			  * or the alert's name when heuristic */
	char error[256]; /* why, when PG_AV_ERROR */
} pg_av_result;

/* Limits handed to ClamAV (in-process) or enforced on the stream (clamd).
 * Zero means the default given in brackets. */
typedef struct pg_av_limits {
	uint64_t max_scan_size;      /* bytes scanned per object, archives included [100 MiB] */
	uint64_t max_file_size;      /* largest single file ClamAV looks at [50 MiB] */
	unsigned max_recursion;      /* archive nesting [17, as clamd] */
	unsigned max_files;          /* files inside one archive [10000] */
	unsigned connect_timeout_ms; /* clamd connect [2000] */
	unsigned io_timeout_ms;      /* clamd send/receive, per operation [30000] */
	char tmp_dir[256];           /* ClamAV's temporary files (in-process); "" = system's */
} pg_av_limits;

typedef struct pg_av pg_av;

/* Opens a backend.  spec is "clamav" or "clamd:..." (see above); db_dir is
 * the signature directory of the in-process engine (ignored by clamd).
 * On failure returns PG_ERR_CONFIG (bad spec, database missing or not
 * loadable) or PG_ERR_NOMEM with a message in err.  Thread-safe once open. */
pg_status pg_av_open(const char *spec, const char *db_dir, const pg_av_limits *lim, pg_av **out,
		     char *err, size_t errlen) PG_WUR;
void pg_av_free(pg_av *av);

/* Scans one object held in memory (a whole message or a decoded part).
 * Returns PG_OK with the verdict in *out; PG_ERR_NOMEM only when out of
 * memory.  name is for logs only (may be NULL).  Safe from many threads. */
pg_status pg_av_scan(pg_av *av, const void *data, size_t len, const char *name,
		     pg_av_result *out) PG_WUR;

/* In-process: loads and compiles the signature directory again and swaps
 * the new engine in; on failure the old one stays and err says why.
 * clamd: asks each server to reload its database (zRELOAD). */
pg_status pg_av_reload(pg_av *av, char *err, size_t errlen) PG_WUR;

/* Asks two questions whose answers are known, as an administrator's check
 * before going live: the EICAR test string must be found (the signatures
 * are loaded and match; every official and test database has it), and an
 * object nested deeper than any archive limit must come back "not fully
 * scanned", never clean (clamd without AlertExceedsMax answers OK for
 * content it did not scan).  PG_OK, or PG_ERR_IO (no answer) /
 * PG_ERR_CONFIG (a wrong answer) with the reason in err. */
pg_status pg_av_selfcheck(pg_av *av, char *err, size_t errlen) PG_WUR;
/* "clamav" or "clamd:/run/clamd.sock" - what scanned, for reports. */
const char *pg_av_backend(const pg_av *av);
/* Signatures loaded (in-process), 0 for clamd. */
unsigned pg_av_signatures(const pg_av *av);

#endif
