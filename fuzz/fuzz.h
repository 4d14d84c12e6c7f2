/*
 * fuzz.h - what the fuzz targets share.
 */
#ifndef PG_FUZZ_H
#define PG_FUZZ_H

#include <stdint.h>
#include <stdlib.h>

#include "pecguard.h"

/* Small caps keep each run short, and inputs reach the caps' own paths. */
static const pg_limits pg_fuzz_limits = {.max_message_size = 1 << 20,
					 .max_header_field = 16384,
					 .max_header_block = 65536,
					 .max_depth = 16,
					 .max_parts = 200};

/* One input through the engine at a fixed verification time (the test
 * PKI's certificates are valid then), its JSON report built and dropped;
 * every outcome is fine, crashes are not.  The caller frees the scan. */
static inline pg_scan *pg_fuzz_scan(pg_engine *eng, const uint8_t *data, size_t size)
{
	pg_scan *s = NULL;
	if (pg_scan_new(eng, &s) != PG_OK)
		abort();
	pg_scan_set_time(s, PG_TIME_FIXED, 1767225600); /* 2026-01-01 */
	pg_status st = pg_scan_run_buffer(s, data, size);
	(void)st;
	free(pg_scan_json(s, "fuzz"));
	return s;
}

#endif
