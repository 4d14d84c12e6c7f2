/*
 * av_internal.h - what av.c (the dispatcher) shares with the two backends,
 * av_clamav.c (libclamav in the process) and av_clamd.c (clamd over a
 * socket).  Not installed, not for other modules: they use av.h.
 */
#ifndef PG_SCAN_AV_INTERNAL_H
#define PG_SCAN_AV_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#include "scan/av.h"

/* Defaults for the zero fields of pg_av_limits (documented in av.h). */
#define PG_AV_DEF_MAX_SCAN_SIZE      (100ULL * 1024 * 1024)
#define PG_AV_DEF_MAX_FILE_SIZE      (50ULL * 1024 * 1024)
#define PG_AV_DEF_MAX_RECURSION      17u
#define PG_AV_DEF_MAX_FILES          10000u
#define PG_AV_DEF_CONNECT_TIMEOUT_MS 2000u
#define PG_AV_DEF_IO_TIMEOUT_MS      30000u

/* The prefix of every name libclamav (or clamd with AlertExceedsMax) gives
 * to "a limit stopped the scan": such a result is not a detection, it means
 * that part of the content was never looked at. */
#define PG_AV_LIMITS_PREFIX "Heuristics.Limits.Exceeded"

/* One backend.  impl is the backend's private state; every function gets it
 * back.  scan and signatures must be safe from many threads at once. */
typedef struct pg_av_ops {
	pg_status (*scan)(void *impl, const void *data, size_t len, const char *name,
			  pg_av_result *out);
	pg_status (*reload)(void *impl, char *err, size_t errlen);
	unsigned (*signatures)(const void *impl);
	void (*free)(void *impl);
} pg_av_ops;

/* Opens the in-process backend on db_dir with resolved limits (no zero
 * fields).  On success *impl is owned by the caller, to be released with
 * ops->free.  *ops is set even on failure. */
pg_status pg_av_clamav_open(const char *db_dir, const pg_av_limits *lim, const pg_av_ops **ops,
			    void **impl, char *err, size_t errlen) PG_WUR;
/* Opens the clamd backend on a comma-separated server list (the part of the
 * spec after "clamd:").  Same ownership as above. */
pg_status pg_av_clamd_open(const char *servers, const pg_av_limits *lim, const pg_av_ops **ops,
			   void **impl, char *err, size_t errlen) PG_WUR;

/* Copies lim into out with every zero field replaced by its default; a NULL
 * lim gives all the defaults. */
void pg_av_limits_resolve(const pg_av_limits *lim, pg_av_limits *out);

/* Result helpers: each fills the whole result (both strings terminated). */
void pg_av_result_clean(pg_av_result *r);
void pg_av_result_error(pg_av_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A signature name reported by ClamAV: infected, unless the name says that a
 * limit left content unscanned, which is an error (never clean, never a
 * detection either: the policy must retry, not reject). */
void pg_av_result_found(pg_av_result *r, const char *virname);

/* snprintf into err when err is not NULL; always terminates. */
void pg_av_errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
