#include "util/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t pg_ascii_span(const char *s, size_t n)
{
	size_t i = 0;
	uint64_t w;
	while (n - i >= 8 && (memcpy(&w, s + i, 8), (w & 0x8080808080808080u) == 0))
		i += 8;
	while (i < n && (unsigned char)s[i] < 0x80)
		i++;
	return i;
}

bool pg_streq_ci(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (pg_lower(*a) != pg_lower(*b))
			return false;
	return *a == *b;
}

bool pg_strneq_ci(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (pg_lower(a[i]) != pg_lower(b[i]))
			return false;
		if (a[i] == '\0')
			return true;
	}
	return true;
}

bool pg_startswith_ci(const char *s, const char *prefix)
{
	for (; *prefix; s++, prefix++)
		if (*s == '\0' || pg_lower(*s) != pg_lower(*prefix))
			return false;
	return true;
}

const char *pg_memmem_ci(const char *s, size_t n, const char *needle)
{
	size_t m = strlen(needle);
	if (m == 0)
		return s;
	if (m > n)
		return NULL;
	char first = pg_lower(needle[0]);
	for (size_t i = 0; i + m <= n; i++) {
		if (pg_lower(s[i]) != first)
			continue;
		size_t j = 1;
		while (j < m && pg_lower(s[i + j]) == pg_lower(needle[j]))
			j++;
		if (j == m)
			return s + i;
	}
	return NULL;
}

char *pg_strlower(char *s)
{
	for (char *p = s; *p; p++)
		*p = pg_lower(*p);
	return s;
}

const char *pg_trim(const char *s, size_t *len)
{
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	size_t n = strlen(s);
	while (n > 0 &&
	       (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	*len = n;
	return s;
}

void pg_hex_upper(const unsigned char *in, size_t n, char *out, bool colons)
{
	static const char hex[] = "0123456789ABCDEF";
	char *o = out;
	for (size_t i = 0; i < n; i++) {
		if (colons && i > 0)
			*o++ = ':';
		*o++ = hex[in[i] >> 4];
		*o++ = hex[in[i] & 15];
	}
	*o = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = pg_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int pg_parse_sha1(const char *s, size_t n, unsigned char out[20])
{
	size_t i = 0, k = 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	while (n > i && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	/* Either 40 contiguous digits or 20 pairs separated by single colons. */
	bool colons = (n - i) == 59;
	if ((n - i) != 40 && !colons)
		return -1;
	while (k < 20) {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[k++] = (unsigned char)(hi << 4 | lo);
		i += 2;
		if (colons && k < 20) {
			if (s[i] != ':')
				return -1;
			i++;
		}
	}
	return 0;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t len;
	unsigned min;
	unsigned cp;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2, cp = c & 0x1F, min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3, cp = c & 0x0F, min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

bool pg_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		/* ASCII, most text, eight bytes at a time */
		i += pg_ascii_span(s + i, n - i);
		if (i >= n)
			break;
		size_t l = utf8_seq(p + i, n - i);
		if (l == 0)
			return false;
		i += l;
	}
	return true;
}

size_t pg_fold_plain(const char *s, size_t n, bool *space)
{
	const unsigned char *p = (const unsigned char *)s;
	*space = false;
	if (n >= 2 && p[0] == 0xC2) {
		switch (p[1]) {
		case 0xA0: /* no-break space: NFKC makes it U+0020 */
			*space = true;
			return 2;
		case 0xA3: /* pound */
		case 0xA7: /* section */
		case 0xA9: /* copyright */
		case 0xAB: /* left guillemet */
		case 0xAE: /* registered */
		case 0xB0: /* degree */
		case 0xB1: /* plus-minus */
		case 0xB6: /* pilcrow */
		case 0xB7: /* middle dot */
		case 0xBB: /* right guillemet */
			return 2;
		default:
			return 0;
		}
	}
	if (n >= 3 && p[0] == 0xE2 && p[1] == 0x80) {
		switch (p[2]) {
		case 0x93: /* en dash */
		case 0x94: /* em dash */
		case 0x98: /* quotes */
		case 0x99:
		case 0x9C:
		case 0x9D:
		case 0xA2: /* bullet */
			return 3;
		default:
			return 0;
		}
	}
	if (n >= 3 && p[0] == 0xE2 && p[1] == 0x82 && p[2] == 0xAC) /* euro */
		return 3;
	return 0;
}

char *pg_utf8_sanitize(const char *s, size_t n)
{
	if (n > ((size_t)-1 - 1) / 3)
		return NULL;
	char *out = malloc(n * 3 + 1);
	if (out == NULL)
		return NULL;
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0;
	while (i < n) {
		size_t l = utf8_seq(p + i, n - i);
		if (l == 0) {
			out[o++] = (char)0xEF;
			out[o++] = (char)0xBF;
			out[o++] = (char)0xBD;
			i++;
		} else {
			memcpy(out + o, p + i, l);
			o += l;
			i += l;
		}
	}
	out[o] = '\0';
	return out;
}

int pg_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

void pg_errf(char *err, size_t errlen, const char *fmt, ...)
{
	if (err == NULL || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
