/*
 * fuzz.h - what the fuzz targets share.
 */
#ifndef PG_FUZZ_H
#define PG_FUZZ_H

#include "pecguard.h"

/* Small caps keep each run short, and inputs reach the caps' own paths. */
static const pg_limits pg_fuzz_limits = {.max_message_size = 1 << 20,
					 .max_header_field = 16384,
					 .max_header_block = 65536,
					 .max_depth = 16,
					 .max_parts = 200};

#endif
