/*
 * str.h - small string helpers that know nothing of mail.
 */
#ifndef PG_UTIL_STR_H
#define PG_UTIL_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ASCII-only case folding: locale-independent on purpose. */
static inline char pg_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}
/* Length of the ASCII prefix of s[0, n) (eight bytes at a time). */
size_t pg_ascii_span(const char *s, size_t n);
bool pg_streq_ci(const char *a, const char *b);
bool pg_strneq_ci(const char *a, const char *b, size_t n);
/* Does s start with prefix, ignoring ASCII case? */
bool pg_startswith_ci(const char *s, const char *prefix);
/* Does [s, s+n) contain needle (ASCII case-insensitive)? */
const char *pg_memmem_ci(const char *s, size_t n, const char *needle);
/* In-place ASCII lower-casing; returns s. */
char *pg_strlower(char *s);
/* Pointer to the first non-blank of s and length without trailing blanks. */
const char *pg_trim(const char *s, size_t *len);

/* Hex encoding of n bytes into out (2n+1 bytes; colon-separated upper-case
 * when colons, else plain upper-case). */
void pg_hex_upper(const unsigned char *in, size_t n, char *out, bool colons);
/* Parses a SHA-1 written as 40 hex digits, with or without colons between
 * byte pairs, any case, surrounding blanks allowed.  Returns 0 or -1. */
int pg_parse_sha1(const char *s, size_t n, unsigned char out[20]);

/* The value of a base64 digit (RFC 4648 alphabet), or -1. */
int pg_b64_value(unsigned char c);
/* snprintf into err (when err is not NULL and errlen > 0). */
void pg_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Replaces invalid UTF-8 sequences by U+FFFD, into a malloc'd string.
 * NULL when out of memory. */
char *pg_utf8_sanitize(const char *s, size_t n);
/* Is [s, s+n) valid UTF-8? */
bool pg_utf8_valid(const char *s, size_t n);
/* The length of the character at s[0, n) when it is one of the common
 * non-ASCII symbols of mail (no-break space, dashes, bullet, quotes, euro,
 * pound, copyright...) that Unicode NFKC and case folding leave as they are,
 * or (*space set) make a plain space; and that compose with nothing.  Folding
 * them needs no GLib.  0 for any other character. */
size_t pg_fold_plain(const char *s, size_t n, bool *space);

#endif
