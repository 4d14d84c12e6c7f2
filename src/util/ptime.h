/*
 * time.h - parsing and formatting of times, always in UTC.
 */
#ifndef PG_UTIL_PTIME_H
#define PG_UTIL_PTIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Parses ISO 8601 / RFC 3339: "2014-08-06T12:00:00Z", "...+02:00",
 * "2014-08-06 12:00:00", fractional seconds ignored, "2014-08-06" (midnight
 * UTC).  A time without a zone is taken as UTC.  Returns 0 or -1. */
int pg_time_parse_iso8601(const char *s, int64_t *out);
/* Parses the RFC 5322 date-time as MTAs write it in Received headers:
 * "[Mon, ]26 Aug 2002 15:15:19 -0400", seconds optional, a comment may
 * follow.  Strict (English month names, numeric zone, real calendar dates):
 * anything else is -1, for a lenient parser (GMime's) to try.  Returns 0
 * or -1. */
int pg_time_parse_rfc5322(const char *s, int64_t *out);
/* Seconds since the epoch of a broken-down UTC time (no timezone, no
 * locale); -1 on an out-of-range field. */
int64_t pg_time_from_utc(int year, int mon, int mday, int hour, int min, int sec);
/* "2014-08-06T12:00:00Z" into out (at least 21 bytes). */
void pg_time_format_iso8601(int64_t t, char *out, size_t n);
/* "Sat, 28 Nov 2026 16:30:00 +0100": t in the local time zone as a mail
 * Date field, English names whatever the locale (out: at least 32 bytes). */
void pg_time_format_rfc5322(int64_t t, char *out, size_t n);

#endif
