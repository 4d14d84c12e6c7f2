/*
 * json.h - writing JSON (only writing: nothing here parses it).
 */
#ifndef PG_UTIL_JSON_H
#define PG_UTIL_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"

/* A JSON string literal for s (NULL writes null).  Invalid UTF-8 becomes
 * U+FFFD; control characters are escaped. */
pg_status pg_json_str(pg_buf *b, const char *s) PG_WUR;
pg_status pg_json_strn(pg_buf *b, const char *s, size_t n) PG_WUR;
/* "key": (with a leading comma when !first). */
pg_status pg_json_key(pg_buf *b, const char *key, bool first) PG_WUR;

#endif
