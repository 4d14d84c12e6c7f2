/*
 * url.c - the URL analyser (see url.h and docs/analysers/url.md).
 *
 * Layout: the parser, the scanners (text, PDF, HTML forms), the skeleton
 * of a name (what it looks like), the protected-domain context built at
 * init, and the analyser's run, which collects the URLs of a message,
 * deduplicates them, and checks each distinct host once.
 */
#include "scan/url.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <idn2.h>
#include <libpsl.h>

#include "mime/text.h"
#include "util/str.h"

/* ==== character classes ===================================================== */

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(unsigned char c)
{
	return is_digit(c) || is_alpha(c);
}

static int hexval(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Length of the UTF-8 sequence at s (at most n bytes) and whether it is a
 * letter, digit or combining mark: what a word and a host are made of.
 * Invalid bytes are one-byte non-word characters, so that binary input
 * (attachments) never stalls or misleads the scanner. */
static size_t utf8_word(const char *s, size_t n, bool *word)
{
	unsigned char c = (unsigned char)s[0];
	size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
	*word = false;
	if (len == 1 || len > n)
		return 1;
	gunichar cp = g_utf8_get_char_validated(s, (gssize)len);
	if (cp == (gunichar)-1 || cp == (gunichar)-2)
		return 1;
	*word = g_unichar_isalnum(cp) || g_unichar_ismark(cp);
	return len;
}

/* ==== parser ================================================================ */

/* Schemes a browser always gives a host, accepting any run of slashes and
 * backslashes after the colon ("http:\\evil.test" goes to evil.test). */
static bool special_scheme(const char *s)
{
	return strcmp(s, "http") == 0 || strcmp(s, "https") == 0 || strcmp(s, "ftp") == 0 ||
	       strcmp(s, "ws") == 0 || strcmp(s, "wss") == 0;
}

/* Code points a browser refuses in a host (WHATWG "forbidden domain code
 * point"): such a string is not a URL at all. */
static bool forbidden_host_byte(unsigned char c)
{
	switch (c) {
	case '#':
	case '/':
	case ':':
	case '<':
	case '>':
	case '?':
	case '@':
	case '[':
	case '\\':
	case ']':
	case '^':
	case '|':
	case '%':
	case '"':
	case '\'':
	case '`':
	case '{':
	case '}':
	case 0x7f:
		return true;
	default:
		return c <= 0x20;
	}
}

/* One number of an IPv4 address as a browser reads it: 0x.. hex, 0.. octal,
 * else decimal.  -1 when it is not a number; values are capped just over
 * 2^32 so that overflow cannot wrap. */
static int64_t ipv4_number(const char *s, size_t n, bool *odd)
{
	int base = 10;
	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		n -= 2;
		*odd = true;
		if (n == 0)
			return 0;
	} else if (n >= 2 && s[0] == '0') {
		base = 8;
		s++;
		n--;
		*odd = true;
	}
	if (n == 0)
		return -1;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		int d = hexval((unsigned char)s[i]);
		if (d < 0 || d >= base)
			return -1;
		v = v * base + d;
		if (v > 0x1ffffffffLL)
			v = 0x1ffffffffLL;
	}
	return v;
}

/* Does the host end in a number (then a browser reads it as IPv4, or
 * refuses it)? */
static bool ends_in_number(const char *h, size_t n)
{
	if (n > 0 && h[n - 1] == '.')
		n--;
	size_t s = n;
	while (s > 0 && h[s - 1] != '.')
		s--;
	if (s == n)
		return false;
	bool digits = true;
	for (size_t i = s; i < n; i++)
		digits = digits && is_digit((unsigned char)h[i]);
	if (digits)
		return true;
	if (n - s >= 2 && h[s] == '0' && (h[s + 1] == 'x' || h[s + 1] == 'X')) {
		for (size_t i = s + 2; i < n; i++)
			if (hexval((unsigned char)h[i]) < 0)
				return false;
		return true;
	}
	return false;
}

/* Parses an IPv4 host in any of the forms browsers accept ("1.2.3.4",
 * "3232235777", "0xC0.0250.1", "192.168.257").  0, or -1 when invalid. */
static int parse_ipv4(const char *h, size_t n, unsigned char ip[4], bool *odd)
{
	if (n > 0 && h[n - 1] == '.')
		n--;
	int64_t part[4];
	size_t np = 0, s = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && h[i] != '.')
			continue;
		if (np == 4)
			return -1;
		int64_t v = ipv4_number(h + s, i - s, odd);
		if (v < 0)
			return -1;
		part[np++] = v;
		s = i + 1;
	}
	for (size_t i = 0; i + 1 < np; i++)
		if (part[i] > 255)
			return -1;
	int64_t last = part[np - 1];
	if (last >= ((int64_t)1 << (8 * (5 - np))))
		return -1;
	uint32_t v = (uint32_t)last;
	for (size_t i = 0; i + 1 < np; i++)
		v += (uint32_t)part[i] << (8 * (3 - i));
	if (np != 4)
		*odd = true;
	ip[0] = (unsigned char)(v >> 24);
	ip[1] = (unsigned char)(v >> 16);
	ip[2] = (unsigned char)(v >> 8);
	ip[3] = (unsigned char)v;
	return 0;
}

/* IDNA as browsers do it (UTS #46, non-transitional: "ß" stays "ß"), and
 * the older transitional mapping as a fallback. */
enum {
	IDNA_NEW = IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL,
	IDNA_OLD = IDN2_NFC_INPUT | IDN2_TRANSITIONAL,
};

/* Copies an idn2-allocated string into the arena. */
static const char *idn_take(pg_arena *a, char *s)
{
	const char *r = s ? pg_arena_strdup(a, s) : NULL;
	idn2_free(s);
	return r;
}

static bool has_xn_label(const char *h)
{
	for (const char *p = h; (p = strstr(p, "xn--")) != NULL; p += 4)
		if (p == h || p[-1] == '.')
			return true;
	return false;
}

/* Both forms of a host name: A-labels for DNS and the PSL, U-labels for
 * what the reader sees.  IDNA failures keep the raw host in both. */
static int idna_forms(pg_arena *a, pg_url *u)
{
	const char *h = u->host;
	bool ascii = true;
	for (const char *p = h; *p; p++)
		ascii = ascii && (unsigned char)*p < 0x80;
	u->host_ascii = u->host_unicode = h;
	if (ascii && !has_xn_label(h))
		return 0;
	u->flags |= PG_URL_IDN;
	if (!ascii) {
		uint8_t *out = NULL;
		int rc = idn2_lookup_u8((const uint8_t *)h, &out, IDNA_NEW);
		if (rc != IDN2_OK) {
			idn2_free(out);
			out = NULL;
			rc = idn2_lookup_u8((const uint8_t *)h, &out, IDNA_OLD);
		}
		if (rc != IDN2_OK) {
			idn2_free(out);
			u->flags |= PG_URL_IDN_BAD;
			return 0;
		}
		if ((u->host_ascii = idn_take(a, (char *)out)) == NULL)
			return -1;
		pg_strlower((char *)u->host_ascii);
	}
	/* Decoding is checked by encoding back: libidn2 decodes some invalid
	 * punycode to something else, and a browser shows such a label as
	 * it is written. */
	char *uni = NULL;
	if (idn2_to_unicode_8z8z(u->host_ascii, &uni, 0) != IDN2_OK) {
		idn2_free(uni);
		u->flags |= PG_URL_IDN_BAD;
		return 0;
	}
	uint8_t *back = NULL;
	int rc = idn2_lookup_u8((const uint8_t *)uni, &back, IDNA_NEW);
	bool same = rc == IDN2_OK && pg_streq_ci((const char *)back, u->host_ascii);
	idn2_free(back);
	if (!same) {
		idn2_free(uni);
		u->flags |= PG_URL_IDN_BAD;
		return 0;
	}
	if ((u->host_unicode = idn_take(a, uni)) == NULL)
		return -1;
	return 0;
}

/* The host part of an authority: percent-decoded, checked, lower-cased,
 * IP literals recognised, IDNA forms made. */
static int parse_host(pg_arena *a, const char *s, size_t n, pg_url *u)
{
	if (n > 0 && s[0] == '[') {
		if (n < 3 || s[n - 1] != ']' || n - 2 >= INET6_ADDRSTRLEN)
			return -1;
		char tmp[INET6_ADDRSTRLEN], out[INET6_ADDRSTRLEN];
		memcpy(tmp, s + 1, n - 2);
		tmp[n - 2] = '\0';
		if (inet_pton(AF_INET6, tmp, u->ip) != 1 ||
		    inet_ntop(AF_INET6, u->ip, out, sizeof(out)) == NULL)
			return -1;
		u->flags |= PG_URL_IPV6;
		u->host = u->host_ascii = u->host_unicode = pg_arena_strdup(a, out);
		return u->host ? 0 : -1;
	}
	char *h = pg_arena_alloc(a, n + 1);
	if (h == NULL)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
		    hexval((unsigned char)s[i + 2]) >= 0) {
			c = (unsigned char)(hexval((unsigned char)s[i + 1]) * 16 +
					    hexval((unsigned char)s[i + 2]));
			i += 2;
			u->flags |= PG_URL_PCT_HOST;
		} else if (c == '%') {
			return -1;
		}
		if (forbidden_host_byte(c))
			return -1;
		h[o++] = pg_lower((char)c);
	}
	if (o > 0 && h[o - 1] == '.')
		o--;
	h[o] = '\0';
	if (o == 0 || h[0] == '.' || !pg_utf8_valid(h, o))
		return -1;
	u->host = h;
	if (idna_forms(a, u) != 0)
		return -1;
	const char *ha = u->host_ascii;
	size_t hn = strlen(ha);
	if (ends_in_number(ha, hn)) {
		bool odd = false;
		unsigned char ip[4];
		if (parse_ipv4(ha, hn, ip, &odd) != 0)
			return -1; /* a browser refuses it too */
		char canon[16];
		snprintf(canon, sizeof(canon), "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
		memcpy(u->ip, ip, 4);
		u->flags |= PG_URL_IPV4;
		u->flags &= ~(unsigned)(PG_URL_IDN | PG_URL_IDN_BAD);
		if (odd || strcmp(canon, h) != 0)
			u->flags |= PG_URL_IP_OBFUSCATED;
		u->host = u->host_ascii = u->host_unicode = pg_arena_strdup(a, canon);
		if (u->host == NULL)
			return -1;
	}
	return 0;
}

int pg_url_parse(pg_arena *a, const char *s, size_t n, bool bare, pg_url *u)
{
	memset(u, 0, sizeof(*u));
	u->port = -1;
	/* Browsers drop leading and trailing controls and spaces, and tabs
	 * and newlines anywhere: "java\tscript:" is javascript:. */
	while (n > 0 && (unsigned char)s[0] <= 0x20)
		s++, n--;
	while (n > 0 && (unsigned char)s[n - 1] <= 0x20)
		n--;
	if (n == 0)
		return -1;
	char *b = pg_arena_alloc(a, n + 1);
	if (b == NULL)
		return -1;
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			b[len++] = s[i];
	b[len] = '\0';

	/* scheme: a letter, then letters, digits, "+-." up to ':'; one with a
	 * dot is a host with a port ("www.x.it:8080"), not a scheme. */
	size_t p = 0;
	bool has_scheme = false, dotted = false;
	if (is_alpha((unsigned char)b[0])) {
		size_t i = 1;
		while (i < len && (is_alnum((unsigned char)b[i]) || b[i] == '+' || b[i] == '-' ||
				   b[i] == '.')) {
			dotted = dotted || b[i] == '.';
			i++;
		}
		if (i < len && b[i] == ':' && !dotted && i <= 32) {
			has_scheme = true;
			char *sc = pg_arena_strndup(a, b, i);
			if (sc == NULL)
				return -1;
			u->scheme = pg_strlower(sc);
			p = i + 1;
		}
	}
	bool special;
	if (has_scheme) {
		special = special_scheme(u->scheme);
		if (special) {
			while (p < len && (b[p] == '/' || b[p] == '\\'))
				p++;
		} else if (p + 1 < len && b[p] == '/' && b[p + 1] == '/') {
			p += 2;
		} else {
			/* data:, javascript:, mailto:...: no host to check */
			u->flags |= PG_URL_OPAQUE;
			u->path = b + p;
			return 0;
		}
	} else {
		special = true;
		u->scheme = "http";
		u->flags |= PG_URL_BARE;
		if (len >= 2 && (b[0] == '/' || b[0] == '\\') && (b[1] == '/' || b[1] == '\\'))
			p = 2;
		else if (!bare && !pg_startswith_ci(b, "www."))
			return -1; /* relative reference */
	}

	/* authority: up to the path, query or fragment; backslash is a slash
	 * for the special schemes, as in browsers. */
	size_t e = p;
	while (e < len && b[e] != '/' && b[e] != '?' && b[e] != '#' && !(special && b[e] == '\\'))
		e++;
	size_t hs = p;
	for (size_t i = e; i > p; i--) {
		if (b[i - 1] == '@') {
			/* The last "@" ends the userinfo: "http://bank.it@evil.test/"
			 * goes to evil.test. */
			u->userinfo = pg_arena_strndup(a, b + p, i - 1 - p);
			if (u->userinfo == NULL)
				return -1;
			u->flags |= PG_URL_USERINFO;
			hs = i;
			break;
		}
	}
	size_t he = e;
	/* port: after the last ':' that is not inside an IPv6 literal */
	for (size_t i = e; i > hs; i--) {
		if (b[i - 1] == ']')
			break;
		if (b[i - 1] == ':') {
			he = i - 1;
			if (i < e) {
				long v = 0;
				for (size_t k = i; k < e; k++) {
					if (!is_digit((unsigned char)b[k]))
						return -1;
					if (v <= 65535)
						v = v * 10 + (b[k] - '0');
				}
				if (v > 65535)
					return -1;
				u->port = (int)v;
			}
			break;
		}
	}
	if (he == hs) {
		if (!special) {
			/* "file:///etc/passwd": no host */
			u->flags |= PG_URL_OPAQUE;
			u->path = b + e;
			return 0;
		}
		return -1;
	}
	if (parse_host(a, b + hs, he - hs, u) != 0)
		return -1;
	u->path = b + e;
	return 0;
}

bool pg_url_ip_public(const pg_url *u)
{
	const unsigned char *ip = u->ip;
	unsigned char v4[4];
	if (u->flags & PG_URL_IPV6) {
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(ip, mapped, 12) == 0) {
			memcpy(v4, ip + 12, 4);
			ip = v4;
		} else {
			static const unsigned char zero[15];
			if (memcmp(ip, zero, 15) == 0) /* :: and ::1 */
				return false;
			if ((ip[0] & 0xfe) == 0xfc) /* fc00::/7 unique local */
				return false;
			if (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80) /* fe80::/10 link-local */
				return false;
			if (ip[0] == 0xff) /* multicast */
				return false;
			if (ip[0] == 0x20 && ip[1] == 0x01 && ip[2] == 0x0d && ip[3] == 0xb8)
				return false; /* 2001:db8::/32 documentation */
			return true;
		}
	} else if (!(u->flags & PG_URL_IPV4)) {
		return false;
	}
	if (ip[0] == 0 || ip[0] == 10 || ip[0] == 127 || ip[0] >= 224)
		return false;
	if (ip[0] == 100 && (ip[1] & 0xc0) == 64) /* 100.64/10 shared */
		return false;
	if (ip[0] == 169 && ip[1] == 254)
		return false;
	if (ip[0] == 172 && (ip[1] & 0xf0) == 16)
		return false;
	if (ip[0] == 192 && (ip[1] == 168 || (ip[1] == 0 && (ip[2] == 0 || ip[2] == 2))))
		return false;
	if (ip[0] == 198 && ((ip[1] & 0xfe) == 18 || (ip[1] == 51 && ip[2] == 100)))
		return false;
	if (ip[0] == 203 && ip[1] == 0 && ip[2] == 113)
		return false;
	return true;
}

/* ==== scanners ============================================================== */

/* ASCII characters of a word: what host names are made of, plus '_'. */
static bool word_ascii(unsigned char c)
{
	return is_alnum(c) || c == '.' || c == '-' || c == '_';
}

/* ASCII characters that end a URL in text (never valid in one). */
static bool url_stop(unsigned char c)
{
	switch (c) {
	case '"':
	case '\'':
	case '<':
	case '>':
	case '`':
	case '{':
	case '}':
	case '|':
	case '\\':
	case '^':
	case 0x7f:
		return true;
	default:
		return c <= 0x20;
	}
}

/* End of a URL that starts at from: up to a blank, a quote, an angle
 * bracket or a non-ASCII character that is not a letter (NBSP, typographic
 * quotes, ellipsis), then without trailing punctuation or unbalanced
 * closing brackets ("(see http://x.it/a)."). */
static size_t url_end(const char *s, size_t n, size_t from)
{
	size_t i = from;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80) {
			if (url_stop(c))
				break;
			i++;
			continue;
		}
		bool w;
		size_t l = utf8_word(s + i, n - i, &w);
		if (!w)
			break;
		i += l;
	}
	size_t open = 0, close = 0;
	bool bracket = false;
	for (size_t k = from; k < i; k++) {
		open += s[k] == '(';
		close += s[k] == ')';
		bracket = bracket || s[k] == '[';
	}
	while (i > from) {
		char c = s[i - 1];
		if (c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' ||
		    c == '*') {
			i--;
		} else if (c == ')' && close > open) {
			close--;
			i--;
		} else if (c == ']' && !bracket) {
			i--;
		} else {
			break;
		}
	}
	return i;
}

/* Start of "http", "https" or "ftp" ending a word [ws, we), when nothing but
 * punctuation is glued before it; else (size_t)-1. */
static size_t scheme_start(const char *s, size_t ws, size_t we)
{
	static const char *const schemes[] = {"https", "http", "ftp"};
	for (size_t k = 0; k < 3; k++) {
		size_t l = strlen(schemes[k]);
		if (we - ws < l || !pg_strneq_ci(s + we - l, schemes[k], l))
			continue;
		size_t st = we - l;
		if (st == ws || !is_alnum((unsigned char)s[st - 1]))
			return st;
	}
	return (size_t)-1;
}

/* Could [s, s+n) be a host name?  Labels of word characters, a dot, and a
 * last label of letters (or an "xn--" TLD): "agenziaentrate-gov.it". */
static bool domain_like(const char *s, size_t n)
{
	const char *dot = NULL;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '.')
			dot = s + i;
	if (dot == NULL || dot == s || dot[-1] == '.')
		return false;
	size_t tl = (size_t)(s + n - dot - 1);
	if (tl < 2 || tl > 63)
		return false;
	if (tl > 4 && pg_strneq_ci(dot + 1, "xn--", 4))
		return true;
	for (size_t i = 1; i <= tl; i++)
		if (!is_alpha((unsigned char)dot[i]))
			return false;
	return true;
}

/* Start of the word that ends at e (exclusive), walking back over word
 * characters (UTF-8 letters included) but not before lo nor further than
 * 256 bytes (no host is longer); (size_t)-1 when the limit is hit. */
static size_t word_back(const char *s, size_t lo, size_t e)
{
	size_t i = e;
	while (i > lo) {
		unsigned char c = (unsigned char)s[i - 1];
		if (e - i > 256)
			return (size_t)-1;
		if (c < 0x80) {
			if (!word_ascii(c))
				break;
			i--;
			continue;
		}
		/* back to the lead byte of the sequence, then classify it */
		size_t k = i - 1;
		while (k > lo && k + 4 > i && ((unsigned char)s[k] & 0xC0) == 0x80)
			k--;
		bool w;
		size_t l = utf8_word(s + k, e - k, &w);
		if (!w || k + l != i)
			break;
		i = k;
	}
	return i;
}

/* End of the word starting at i, up to 257 bytes on. */
static size_t word_fwd(const char *s, size_t n, size_t i)
{
	size_t lim = n - i > 257 ? i + 257 : n;
	while (i < lim) {
		if ((unsigned char)s[i] < 0x80) {
			if (!word_ascii((unsigned char)s[i]))
				break;
			i++;
			continue;
		}
		bool w;
		size_t l = utf8_word(s + i, n - i, &w);
		if (!w)
			break;
		i += l;
	}
	return i;
}

/* The next "www." (any case) at or after from; n when none.  Dots are
 * rarer than letters: memchr finds them, the three bytes before are then
 * compared. */
static size_t next_www(const char *s, size_t n, size_t from)
{
	size_t i = from + 3;
	while (i < n) {
		const char *d = memchr(s + i, '.', n - i);
		if (d == NULL)
			return n;
		i = (size_t)(d - s);
		if (pg_strneq_ci(d - 3, "www", 3))
			return i - 3;
		i++;
	}
	return n;
}

void pg_url_scan_text(const char *s, size_t n, pg_url_found_fn fn, void *ctx)
{
	/* Every URL has a slash ("scheme://", "host.tld/path") or starts with
	 * "www.": the scan jumps from one such anchor to the next (memchr and
	 * memmem run far faster than a loop over every byte), and reads words
	 * back from there.  pos: what is before it belongs to a URL already
	 * found (or to nothing), and is never read again. */
	size_t pos = 0;
	size_t slash = n, www = n;
	const char *q = memchr(s, '/', n);
	slash = q ? (size_t)(q - s) : n;
	www = next_www(s, n, 0);
	while (slash < n || www < n) {
		size_t a = slash < www ? slash : www;
		size_t emitted = (size_t)-1; /* end of a URL found at this anchor */
		if (a == www) {
			/* "www." starts a word: only dots, hyphens or underscores
			 * may be glued before it, and no "@" (an address) */
			size_t ws = word_back(s, pos, a);
			size_t glued = ws;
			while (glued < a && (s[glued] == '.' || s[glued] == '-' || s[glued] == '_'))
				glued++;
			if (ws != (size_t)-1 && glued == a && (ws == 0 || s[ws - 1] != '@')) {
				/* The host first (bounded), the rest of the URL only
				 * when the host looks like one: an anchor that finds
				 * nothing must cost little, or "www.1/www.1/..." would
				 * be read again and again. */
				size_t h = word_fwd(s, n, a);
				while (h > a && (s[h - 1] == '.' || s[h - 1] == '-'))
					h--;
				if (h - a > 4 && h - a <= 256 && domain_like(s + a, h - a)) {
					size_t e = url_end(s, n, a);
					if (!fn(ctx, s + a, e - a, PG_URLK_WWW))
						return;
					emitted = e > a + 4 ? e : a + 4;
				}
			}
		} else if (a >= 1 && s[a - 1] == ':' && a + 1 < n && s[a + 1] == '/') {
			size_t ws = word_back(s, pos, a - 1);
			size_t st = ws == (size_t)-1 ? ws : scheme_start(s, ws, a - 1);
			if (st != (size_t)-1) {
				size_t e = url_end(s, n, a + 2);
				if (e > a + 2) {
					if (!fn(ctx, s + st, e - st, PG_URLK_SCHEME))
						return;
					emitted = e;
				} else {
					emitted = a + 2;
				}
			}
		} else if (a > pos) {
			size_t ws = word_back(s, pos, a);
			if (ws != (size_t)-1 && ws < a && (ws == 0 || s[ws - 1] != '@')) {
				while (ws < a && (s[ws] == '.' || s[ws] == '-' || s[ws] == '_'))
					ws++;
				size_t we = a;
				if (ws < we && domain_like(s + ws, we - ws)) {
					size_t e = url_end(s, n, ws);
					if (!fn(ctx, s + ws, e - ws, PG_URLK_BARE))
						return;
					emitted = e > a + 1 ? e : a + 1;
				}
			}
		}
		size_t next = a + 1;
		if (emitted != (size_t)-1 && emitted > next)
			next = emitted;
		if (emitted != (size_t)-1)
			pos = next;
		if (slash < next) {
			q = next < n ? memchr(s + next, '/', n - next) : NULL;
			slash = q ? (size_t)(q - s) : n;
		}
		if (www < next)
			www = next_www(s, n, next);
	}
}

/* The escape after a backslash in a PDF literal string, *p past it: the
 * byte it stands for, or -1 for a line continuation. */
static int pdf_escape(const unsigned char **p, const unsigned char *end)
{
	unsigned char e = *(*p)++;
	if (e >= '0' && e <= '7') {
		unsigned v = e - '0';
		for (int k = 0; k < 2 && *p < end && **p >= '0' && **p <= '7'; k++)
			v = v * 8 + (unsigned)(*(*p)++ - '0');
		return (int)(v & 0xff);
	}
	if (e == '\r' || e == '\n') {
		if (e == '\r' && *p < end && **p == '\n')
			(*p)++;
		return -1;
	}
	switch (e) {
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	default:
		return e; /* \( \) \\ and unknown escapes: the byte itself */
	}
}

static bool pdf_space(unsigned char c)
{
	return c == 0 || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ';
}

void pg_url_scan_pdf(const unsigned char *s, size_t n, char *buf, size_t cap, pg_url_found_fn fn,
		     void *ctx)
{
	if (cap == 0)
		return;
	const unsigned char *p = s, *end = s + n;
	while (p < end && (p = memmem(p, (size_t)(end - p), "/URI", 4)) != NULL) {
		p += 4;
		while (p < end && pdf_space(*p))
			p++;
		if (p >= end)
			return;
		size_t len = 0;
		if (*p == '(') {
			/* A literal string: balanced parentheses, backslash escapes. */
			int depth = 1;
			p++;
			while (p < end && depth > 0) {
				unsigned char c = *p++;
				if (c == '\\' && p < end) {
					int e = pdf_escape(&p, end);
					if (e < 0)
						continue;
					c = (unsigned char)e;
				} else if (c == '(') {
					depth++;
				} else if (c == ')' && --depth == 0) {
					break;
				}
				if (len + 1 < cap)
					buf[len++] = (char)c;
			}
		} else if (*p == '<' && (p + 1 >= end || p[1] != '<')) {
			/* A hex string: pairs of digits, blanks ignored. */
			int hi = -1;
			p++;
			while (p < end && *p != '>') {
				int v = hexval(*p++);
				if (v < 0)
					continue;
				if (hi < 0) {
					hi = v;
				} else {
					if (len + 1 < cap)
						buf[len++] = (char)(hi * 16 + v);
					hi = -1;
				}
			}
		} else {
			continue;
		}
		buf[len] = '\0';
		if (len > 0 && !fn(ctx, buf, len, PG_URLK_SCHEME))
			return;
	}
}

static bool html_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Form actions of an HTML document (bytes as transmitted, any charset):
 * "<form ... action=VALUE". */
static void scan_forms(const char *s, size_t n, pg_url_found_fn fn, void *ctx)
{
	const char *p = s, *end = s + n;
	while (p < end && (p = memchr(p, '<', (size_t)(end - p))) != NULL) {
		p++;
		if (end - p < 5 || !pg_strneq_ci(p, "form", 4) || !html_space(p[4]))
			continue;
		const char *gt = memchr(p, '>', (size_t)(end - p));
		if (gt == NULL)
			return; /* no tag closes after this: nothing more to find */
		for (const char *q = p + 4; q + 6 < gt; q++) {
			if (!html_space(q[-1]) || !pg_strneq_ci(q, "action", 6))
				continue;
			const char *v = q + 6;
			while (v < gt && html_space(*v))
				v++;
			if (v >= gt || *v != '=')
				continue;
			v++;
			while (v < gt && html_space(*v))
				v++;
			const char *ve;
			if (v < gt && (*v == '"' || *v == '\'')) {
				ve = memchr(v + 1, *v, (size_t)(gt - v - 1));
				v++;
				if (ve == NULL)
					ve = gt;
			} else {
				ve = v;
				while (ve < gt && !html_space(*ve))
					ve++;
			}
			if (ve > v && !fn(ctx, v, (size_t)(ve - v), PG_URLK_SCHEME))
				return;
			break;
		}
		p = gt + 1;
	}
}

/* ==== skeletons: what a name looks like ====================================== */

/* Letters that look like a Latin letter in the fonts mail is read in (a
 * small selection after Unicode's confusables.txt).  foreign: from another
 * script (or phonetic/small-capital letters no real name uses), so that a
 * label using one among Latin letters is deceptive; the Latin letters with
 * strokes are real letters of real languages and only fold. */
static const struct confusable {
	uint32_t cp;
	char to;
	bool foreign;
} confusables[] = {
	{0x00F8, 'o', false}, {0x0111, 'd', false}, {0x0127, 'h', false}, {0x0131, 'i', false},
	{0x0138, 'k', false}, {0x0142, 'l', false}, {0x0167, 't', false}, {0x0180, 'b', false},
	{0x01C0, 'l', true},  {0x0237, 'j', false}, {0x0251, 'a', true},  {0x0261, 'g', true},
	{0x0269, 'i', true},  {0x026A, 'i', true},  {0x0274, 'n', true},  {0x028F, 'y', true},
	{0x03B1, 'a', true},  {0x03B9, 'i', true},  {0x03BA, 'k', true},  {0x03BD, 'v', true},
	{0x03BF, 'o', true},  {0x03C1, 'p', true},  {0x03C4, 't', true},  {0x03C5, 'u', true},
	{0x03C7, 'x', true},  {0x03C9, 'w', true},  {0x03F2, 'c', true},  {0x03F3, 'j', true},
	{0x0430, 'a', true},  {0x0433, 'r', true},  {0x0435, 'e', true},  {0x043A, 'k', true},
	{0x043C, 'm', true},  {0x043E, 'o', true},  {0x0440, 'p', true},  {0x0441, 'c', true},
	{0x0443, 'y', true},  {0x0445, 'x', true},  {0x0455, 's', true},  {0x0456, 'i', true},
	{0x0458, 'j', true},  {0x045B, 'h', true},  {0x0461, 'w', true},  {0x04AF, 'y', true},
	{0x04BB, 'h', true},  {0x04CF, 'l', true},  {0x0501, 'd', true},  {0x051B, 'q', true},
	{0x051D, 'w', true},  {0x0566, 'q', true},  {0x0570, 'h', true},  {0x0578, 'n', true},
	{0x057D, 'u', true},  {0x0581, 'g', true},  {0x0585, 'o', true},  {0x1D00, 'a', true},
	{0x1D04, 'c', true},  {0x1D05, 'd', true},  {0x1D07, 'e', true},  {0x1D0B, 'k', true},
	{0x1D0D, 'm', true},  {0x1D0F, 'o', true},  {0x1D18, 'p', true},  {0x1D1B, 't', true},
	{0x1D1C, 'u', true},  {0x1D20, 'v', true},  {0x1D21, 'w', true},  {0x1D22, 'z', true},
};

static const struct confusable *confusable_find(uint32_t cp)
{
	size_t lo = 0, hi = sizeof(confusables) / sizeof(confusables[0]);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (confusables[mid].cp == cp)
			return &confusables[mid];
		if (confusables[mid].cp < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The base letter of a code point whose decomposition is a letter plus
 * combining marks ("à" -> "a", Cyrillic "ё" -> "е"); cp itself otherwise. */
static gunichar base_letter(gunichar cp)
{
	gunichar d[G_UNICHAR_MAX_DECOMPOSITION_LENGTH];
	gsize dn = g_unichar_fully_decompose(cp, FALSE, d, G_N_ELEMENTS(d));
	if (dn < 2)
		return cp;
	for (gsize k = 1; k < dn; k++)
		if (!g_unichar_ismark(d[k]))
			return cp;
	return d[0];
}

/* Invisible code points a browser may drop or show as nothing. */
static bool invisible(gunichar cp)
{
	return cp == 0x00AD || (cp >= 0x200B && cp <= 0x200D) || cp == 0x2060 || cp == 0xFEFF;
}

/* The skeleton of a name: NFKC and case folding (pg_text_fold), accents
 * and invisible characters dropped, look-alike letters of other scripts
 * mapped to the Latin letter, then the ASCII tricks 0->o, 1->l, rn->m,
 * vv->w.  Dots and hyphens are kept.  Two names with the same skeleton
 * look the same to a reader.  NUL-terminated, in a; NULL when out of
 * memory. */
static char *skeleton(pg_arena *a, const char *s, size_t n, size_t *outlen)
{
	bool ascii = true;
	for (size_t i = 0; i < n && ascii; i++)
		ascii = (unsigned char)s[i] < 0x80;
	size_t fl = n;
	const char *f = s;
	if (!ascii && (f = pg_text_fold(a, s, n, &fl)) == NULL)
		return NULL;
	char *o = pg_arena_alloc(a, fl + 1);
	if (o == NULL)
		return NULL;
	size_t len = 0;
	for (size_t i = 0; i < fl;) {
		unsigned char c = (unsigned char)f[i];
		if (c < 0x80) {
			o[len++] = pg_lower((char)c);
			i++;
			continue;
		}
		const char *next = g_utf8_find_next_char(f + i, f + fl);
		size_t cl = next ? (size_t)(next - (f + i)) : fl - i;
		gunichar cp = g_utf8_get_char_validated(f + i, (gssize)cl);
		if (cp == (gunichar)-1 || cp == (gunichar)-2) {
			o[len++] = (char)c; /* kept as it is: never matches ASCII */
			i++;
			continue;
		}
		i += cl;
		if (invisible(cp) || g_unichar_ismark(cp))
			continue;
		gunichar b = base_letter(cp);
		const struct confusable *cf;
		if (b < 0x80)
			o[len++] = (char)b;
		else if ((cf = confusable_find(b)) != NULL)
			o[len++] = cf->to;
		else {
			memcpy(o + len, f + i - cl, cl);
			len += cl;
		}
	}
	/* The ASCII tricks, in place: the result only shrinks. */
	size_t w = 0;
	for (size_t r = 0; r < len; r++) {
		char c = o[r];
		if (c == '0')
			c = 'o';
		else if (c == '1')
			c = 'l';
		else if (c == 'r' && r + 1 < len && o[r + 1] == 'n')
			c = 'm', r++;
		else if (c == 'v' && r + 1 < len && o[r + 1] == 'v')
			c = 'w', r++;
		o[w++] = c;
	}
	o[w] = '\0';
	if (outlen)
		*outlen = w;
	return o;
}

unsigned pg_url_distance(const char *x, size_t nx, const char *y, size_t ny, unsigned max)
{
	enum { M = 64 };
	if (nx > M || ny > M)
		return max + 1;
	if ((nx > ny ? nx - ny : ny - nx) > max)
		return max + 1;
	/* Optimal string alignment: Levenshtein plus transposition of two
	 * neighbours ("agenzaientrate"), three rows of the matrix. */
	unsigned rows[3][M + 1];
	unsigned *pp = rows[0], *prev = rows[1], *cur = rows[2];
	for (size_t j = 0; j <= ny; j++)
		prev[j] = (unsigned)j;
	for (size_t i = 1; i <= nx; i++) {
		cur[0] = (unsigned)i;
		unsigned best = cur[0];
		for (size_t j = 1; j <= ny; j++) {
			unsigned cost = x[i - 1] != y[j - 1];
			unsigned v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (prev[j - 1] + cost < v)
				v = prev[j - 1] + cost;
			if (i > 1 && j > 1 && x[i - 1] == y[j - 2] && x[i - 2] == y[j - 1] &&
			    pp[j - 2] + 1 < v)
				v = pp[j - 2] + 1;
			cur[j] = v;
			if (v < best)
				best = v;
		}
		if (best > max)
			return max + 1; /* every later row is at least as far */
		unsigned *t = pp;
		pp = prev;
		prev = cur;
		cur = t;
	}
	return prev[ny] <= max ? prev[ny] : max + 1;
}

/* ==== the context: public suffixes and protected domains ===================== */

/* A protected domain, preprocessed once: the forms every host of every
 * message is compared with. */
struct prot {
	const char *domain; /* A-labels, lower case */
	const char *reg;    /* its registrable domain; NULL for a public suffix ("gov.it") */
	const char *label;  /* first label of reg: "agenziaentrate" */
	size_t label_len;
	const char *skel; /* skeleton of label */
	size_t skel_len;
	const char *flat; /* skeleton of reg without dots and hyphens: "agenziaentrategovit" */
	size_t flat_len;
	const char *dskel; /* skeleton of domain, dots kept */
	size_t dskel_len;
};

struct strlist {
	const char **v; /* sorted (strcmp), for bsearch */
	size_t n;
};

struct pg_url_ctx {
	pg_arena *arena; /* everything below lives here */
	psl_ctx_t *psl;
	struct prot *prot;
	size_t nprot;
	struct strlist good;     /* registrable domains never reported */
	struct strlist suffixes; /* public suffixes whose every domain is trusted ("gov.it") */
	struct strlist brands;   /* skeletons of brand words */
	size_t *brand_len;
	struct strlist shorteners;
	struct strlist tlds;
	size_t max_urls, max_url_len, many, max_attach;
	bool attachments;
};

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static bool list_has(const struct strlist *l, const char *s)
{
	return l->n > 0 && bsearch(&s, l->v, l->n, sizeof(*l->v), cmp_str) != NULL;
}

static void list_sort(struct strlist *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_str);
}

const char *pg_url_registrable(const pg_url_ctx *c, const char *host_ascii)
{
	return psl_registrable_domain(c->psl, host_ascii);
}

/* A configured domain name in A-label form, lower case, without a leading
 * or trailing dot; NULL (with a message) when it is no domain name. */
static const char *conf_domain(pg_arena *a, const char *path, size_t i, const char *v, char *err,
			       size_t errlen)
{
	if (v == NULL) {
		snprintf(err, errlen, "%s[%zu]: must be a string", path, i);
		return NULL;
	}
	while (*v == '.')
		v++;
	size_t n = strlen(v);
	while (n > 0 && v[n - 1] == '.')
		n--;
	char *d = pg_arena_strndup(a, v, n);
	if (d == NULL)
		return NULL;
	pg_strlower(d);
	bool ascii = true;
	for (size_t k = 0; k < n; k++)
		ascii = ascii && (unsigned char)d[k] < 0x80;
	if (!ascii) {
		uint8_t *out = NULL;
		if (idn2_lookup_u8((const uint8_t *)d, &out, IDNA_NEW) != IDN2_OK) {
			idn2_free(out);
			snprintf(err, errlen, "%s[%zu]: '%s' is not a domain name", path, i, v);
			return NULL;
		}
		d = (char *)idn_take(a, (char *)out);
		if (d == NULL)
			return NULL;
		n = strlen(d);
	}
	bool ok = n > 0 && n <= 253;
	for (size_t k = 0; k < n && ok; k++)
		ok = is_alnum((unsigned char)d[k]) || d[k] == '-' ||
		     (d[k] == '.' && k > 0 && d[k - 1] != '.');
	if (!ok) {
		snprintf(err, errlen, "%s[%zu]: '%s' is not a domain name", path, i, v);
		return NULL;
	}
	return d;
}

/* Reads a list of domain names; words: brand words (letters, digits,
 * hyphens), kept as skeletons. */
static pg_status read_list(pg_url_ctx *c, const pg_config *cfg, const char *path, bool words,
			   struct strlist *out, char *err, size_t errlen)
{
	size_t n = pg_cfg_count(cfg, path);
	out->v = pg_arena_calloc(c->arena, n ? n : 1, sizeof(*out->v));
	if (out->v == NULL)
		return PG_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *d =
			conf_domain(c->arena, path, i, pg_cfg_elem_str(cfg, path, i), err, errlen);
		if (d == NULL)
			return err[0] ? PG_ERR_CONFIG : PG_ERR_NOMEM;
		if (words) {
			if (strchr(d, '.') != NULL || strlen(d) < 3) {
				snprintf(err, errlen,
					 "%s[%zu]: '%s' must be one word of 3 letters "
					 "or more",
					 path, i, d);
				return PG_ERR_CONFIG;
			}
			if ((d = skeleton(c->arena, d, strlen(d), NULL)) == NULL)
				return PG_ERR_NOMEM;
		}
		out->v[out->n++] = d;
	}
	list_sort(out);
	return PG_OK;
}

/* The protected domains and the allow-list: their registrable domains go to
 * good, public suffixes to suffixes; protected ones also become targets. */
static pg_status read_domains(pg_url_ctx *c, const pg_config *cfg, const char *path, bool targets,
			      char *err, size_t errlen)
{
	struct strlist l = {0};
	pg_status st = read_list(c, cfg, path, false, &l, err, errlen);
	if (st != PG_OK)
		return st;
	for (size_t i = 0; i < l.n; i++) {
		const char *d = l.v[i];
		const char *reg = psl_registrable_domain(c->psl, d);
		if (reg == NULL)
			c->suffixes.v[c->suffixes.n++] = d;
		else
			c->good.v[c->good.n++] = reg;
		if (!targets)
			continue;
		struct prot *p = &c->prot[c->nprot++];
		p->domain = d;
		p->reg = reg;
		if ((p->dskel = skeleton(c->arena, d, strlen(d), &p->dskel_len)) == NULL)
			return PG_ERR_NOMEM;
		if (reg == NULL)
			continue;
		const char *dot = strchr(reg, '.');
		size_t ll = dot ? (size_t)(dot - reg) : strlen(reg);
		char *flat = pg_arena_strdup(c->arena, reg);
		p->label = pg_arena_strndup(c->arena, reg, ll);
		p->label_len = ll;
		if (flat == NULL || p->label == NULL ||
		    (p->skel = skeleton(c->arena, p->label, ll, &p->skel_len)) == NULL)
			return PG_ERR_NOMEM;
		char *fs = skeleton(c->arena, reg, strlen(reg), NULL);
		if (fs == NULL)
			return PG_ERR_NOMEM;
		size_t o = 0;
		for (const char *q = fs; *q; q++)
			if (*q != '.' && *q != '-')
				flat[o++] = *q;
		flat[o] = '\0';
		p->flat = flat;
		p->flat_len = o;
	}
	return PG_OK;
}

static size_t clamp_cfg(const pg_config *cfg, const char *path, int64_t def, int64_t lo, int64_t hi)
{
	int64_t v = pg_cfg_int(cfg, path, def);
	return (size_t)(v < lo ? lo : v > hi ? hi : v);
}

pg_status pg_url_ctx_new(const pg_config *cfg, pg_url_ctx **out, char *err, size_t errlen)
{
	if (errlen > 0)
		err[0] = '\0';
	*out = NULL;
	pg_arena *a = pg_arena_new();
	if (a == NULL)
		return PG_ERR_NOMEM;
	pg_url_ctx *c = pg_arena_calloc(a, 1, sizeof(*c));
	if (c == NULL) {
		pg_arena_free(a);
		return PG_ERR_NOMEM;
	}
	c->arena = a;
	/* The newest of the system's list and the one built into libpsl. */
	const char *file = pg_cfg_str(cfg, "url.public_suffix_list", "");
	c->psl = psl_latest(file && file[0] ? file : NULL);
	if (c->psl == NULL)
		c->psl = (psl_ctx_t *)psl_builtin();
	if (c->psl == NULL) {
		snprintf(err, errlen, "url: no public suffix list could be loaded");
		pg_url_ctx_free(c);
		return PG_ERR_CONFIG;
	}
	c->max_urls = clamp_cfg(cfg, "url.max_urls", 500, 1, 100000);
	c->max_url_len = clamp_cfg(cfg, "url.max_url_length", 2048, 64, 1 << 20);
	c->many = clamp_cfg(cfg, "url.many_domains", 20, 1, 100000);
	c->max_attach = clamp_cfg(cfg, "url.max_attachment_scan", 1 << 20, 0, (int64_t)1 << 30);
	c->attachments = pg_cfg_bool(cfg, "url.scan_attachments", true);

	size_t np = pg_cfg_count(cfg, "url.protected"), na = pg_cfg_count(cfg, "url.allow");
	c->prot = pg_arena_calloc(a, np ? np : 1, sizeof(*c->prot));
	c->good.v = pg_arena_calloc(a, np + na + 1, sizeof(*c->good.v));
	c->suffixes.v = pg_arena_calloc(a, np + na + 1, sizeof(*c->suffixes.v));
	pg_status st = PG_ERR_NOMEM;
	if (c->prot != NULL && c->good.v != NULL && c->suffixes.v != NULL &&
	    (st = read_domains(c, cfg, "url.protected", true, err, errlen)) == PG_OK &&
	    (st = read_domains(c, cfg, "url.allow", false, err, errlen)) == PG_OK &&
	    (st = read_list(c, cfg, "url.brands", true, &c->brands, err, errlen)) == PG_OK &&
	    (st = read_list(c, cfg, "url.shorteners", false, &c->shorteners, err, errlen)) == PG_OK)
		st = read_list(c, cfg, "url.suspicious_tlds", false, &c->tlds, err, errlen);
	if (st != PG_OK) {
		if (st == PG_ERR_NOMEM && errlen > 0 && err[0] == '\0')
			snprintf(err, errlen, "url: out of memory");
		pg_url_ctx_free(c);
		return st;
	}
	list_sort(&c->good);
	list_sort(&c->suffixes);
	c->brand_len = pg_arena_calloc(a, c->brands.n + 1, sizeof(*c->brand_len));
	if (c->brand_len == NULL) {
		snprintf(err, errlen, "url: out of memory");
		pg_url_ctx_free(c);
		return PG_ERR_NOMEM;
	}
	for (size_t i = 0; i < c->brands.n; i++)
		c->brand_len[i] = strlen(c->brands.v[i]);
	*out = c;
	return PG_OK;
}

void pg_url_ctx_free(pg_url_ctx *c)
{
	if (c == NULL)
		return;
	if (c->psl != NULL && c->psl != psl_builtin())
		psl_free(c->psl);
	pg_arena_free(c->arena);
}

/* Does host end with "." + suffix (or equal it)? */
static bool under(const char *host, size_t hl, const char *suffix)
{
	size_t sl = strlen(suffix);
	if (hl == sl)
		return memcmp(host, suffix, sl) == 0;
	return hl > sl && host[hl - sl - 1] == '.' && memcmp(host + hl - sl, suffix, sl) == 0;
}

/* The last nl labels of s (all of s when it has fewer). */
static const char *tail_labels(const char *s, size_t n, size_t nl)
{
	size_t seen = 0;
	for (size_t i = n; i > 0; i--)
		if (s[i - 1] == '.' && ++seen == nl)
			return s + i;
	return s;
}

static bool brand_in_label(const pg_url_ctx *c, const char *l, size_t n, char *flat,
			   const char **target)
{
	/* hyphen-separated words first: "poste" in "poste-italiane" */
	for (size_t s = 0; s <= n;) {
		size_t e = s;
		while (e < n && l[e] != '-')
			e++;
		for (size_t b = 0; b < c->brands.n; b++) {
			if (c->brand_len[b] == e - s && memcmp(c->brands.v[b], l + s, e - s) == 0) {
				*target = c->brands.v[b];
				return true;
			}
		}
		s = e + 1;
	}
	/* long brands anywhere, hyphens dropped: "agenzia-entrate-avvisi" */
	size_t fl = 0;
	for (size_t i = 0; i < n; i++)
		if (l[i] != '-')
			flat[fl++] = l[i];
	for (size_t b = 0; b < c->brands.n; b++) {
		size_t wl = c->brand_len[b];
		if (wl >= 7 && wl <= fl && memmem(flat, fl, c->brands.v[b], wl) != NULL) {
			*target = c->brands.v[b];
			return true;
		}
	}
	return false;
}

/* What a host is compared by: its skeleton, and within it the registrable
 * part, its first label and its letters without dots and hyphens. */
struct hostskel {
	char *hs; /* skeleton of the whole host (U-labels) */
	size_t hl;
	const char *rs;  /* the registrable part of hs */
	size_t sll;      /* length of its first label */
	const char *sfx; /* the public suffix part of hs */
	char *flat;      /* rs without dots and hyphens */
	size_t flat_len;
	char *scratch; /* hl + 1 bytes for brand_in_label */
};

static int host_skeleton(pg_arena *a, const pg_url *u, const char *reg, struct hostskel *k)
{
	size_t nl = 1;
	for (const char *q = reg; *q; q++)
		nl += *q == '.';
	k->hs = skeleton(a, u->host_unicode, strlen(u->host_unicode), &k->hl);
	if (k->hs == NULL)
		return -1;
	k->flat = pg_arena_alloc(a, 2 * (k->hl + 1));
	if (k->flat == NULL)
		return -1;
	k->scratch = k->flat + k->hl + 1;
	k->rs = tail_labels(k->hs, k->hl, nl);
	const char *rdot = strchr(k->rs, '.');
	k->sll = rdot ? (size_t)(rdot - k->rs) : strlen(k->rs);
	k->sfx = rdot ? rdot + 1 : k->hs + k->hl;
	size_t fl = 0;
	for (const char *q = k->rs; *q; q++)
		if (*q != '.' && *q != '-')
			k->flat[fl++] = *q;
	k->flat[fl] = '\0';
	k->flat_len = fl;
	return 0;
}

/* The part of the check that depends on the registrable domain only:
 * protected, or a look-alike of a protected domain by its name. */
static pg_url_look look_reg(const pg_url_ctx *c, const char *reg, const struct hostskel *k,
			    const char **target)
{
	if (list_has(&c->good, reg))
		return PG_LOOK_PROTECTED;
	const char *adot = strchr(reg, '.');
	size_t all = adot ? (size_t)(adot - reg) : strlen(reg);
	for (size_t i = 0; i < c->nprot; i++) {
		const struct prot *p = &c->prot[i];
		if (p->reg == NULL)
			continue;
		*target = p->domain;
		if (k->flat_len == p->flat_len && memcmp(k->flat, p->flat, p->flat_len) == 0)
			return PG_LOOK_LOOKALIKE; /* "agenziaentrate-gov.it" */
		if (k->sll == p->skel_len && memcmp(k->rs, p->skel, k->sll) == 0) {
			if (all == p->label_len && memcmp(reg, p->label, all) == 0)
				continue; /* the same name under another suffix: a brand question */
			return PG_LOOK_LOOKALIKE; /* homoglyphs, "rn" for "m", 0 for o */
		}
		unsigned d = p->skel_len >= 12 ? 2 : p->skel_len >= 6 ? 1 : 0;
		if (d > 0 && pg_url_distance(k->rs, k->sll, p->skel, p->skel_len, d) <= d)
			return PG_LOOK_LOOKALIKE; /* a typo away */
	}
	*target = NULL;
	return PG_LOOK_NONE;
}

/* The part that depends on the whole host: a protected domain inside it,
 * brand words in its labels. */
static pg_url_look look_host(const pg_url_ctx *c, const pg_url *u, const struct hostskel *k,
			     const char **target)
{
	/* A protected domain starting a label and followed by a dot or a
	 * hyphen: "agenziaentrate.gov.it.evil.test", "poste.it-login.test". */
	for (size_t at = 0; at < k->hl; at++) {
		if (at > 0 && k->hs[at - 1] != '.' && k->hs[at - 1] != '-')
			continue;
		for (size_t i = 0; i < c->nprot; i++) {
			const struct prot *p = &c->prot[i];
			if (k->hs[at] != p->dskel[0] || at + p->dskel_len >= k->hl ||
			    memcmp(k->hs + at, p->dskel, p->dskel_len) != 0)
				continue;
			char after = k->hs[at + p->dskel_len];
			if (after == '.' || after == '-') {
				*target = p->domain;
				return PG_LOOK_LOOKALIKE;
			}
		}
	}
	/* Brand words in the labels left of the public suffix, except under
	 * a trusted suffix ("gov.it": anything there is the state's). */
	const char *ha = u->host_ascii;
	size_t hal = strlen(ha);
	for (size_t i = 0; i < c->suffixes.n; i++)
		if (under(ha, hal, c->suffixes.v[i]))
			return PG_LOOK_NONE;
	for (const char *l = k->hs; l < k->sfx;) {
		const char *e = memchr(l, '.', (size_t)(k->sfx - l));
		if (e == NULL)
			e = k->sfx;
		if (brand_in_label(c, l, (size_t)(e - l), k->scratch, target))
			return PG_LOOK_BRAND;
		l = e + 1;
	}
	return PG_LOOK_NONE;
}

/* Memo of look_reg for one registrable domain within a message. */
struct regmemo {
	bool known;
	pg_url_look look;
	const char *target;
};

static pg_url_look check_host_reg(const pg_url_ctx *c, pg_arena *a, const pg_url *u,
				  const char *reg, struct regmemo *memo, const char **target)
{
	*target = NULL;
	if (memo != NULL && memo->known && memo->look == PG_LOOK_PROTECTED)
		return PG_LOOK_PROTECTED; /* www.x.it after x.it: nothing to redo */
	struct hostskel k;
	if (host_skeleton(a, u, reg, &k) != 0)
		return PG_LOOK_NONE;
	pg_url_look l;
	if (memo != NULL && memo->known) {
		l = memo->look;
		*target = memo->target;
	} else {
		l = look_reg(c, reg, &k, target);
		if (memo != NULL)
			*memo = (struct regmemo){.known = true, .look = l, .target = *target};
	}
	if (l != PG_LOOK_NONE)
		return l;
	return look_host(c, u, &k, target);
}

pg_url_look pg_url_check_host(const pg_url_ctx *c, pg_arena *a, const pg_url *u,
			      const char **target)
{
	const char *dummy;
	if (target == NULL)
		target = &dummy;
	*target = NULL;
	if (u->host == NULL || (u->flags & (PG_URL_IPV4 | PG_URL_IPV6)))
		return PG_LOOK_NONE;
	const char *reg = pg_url_registrable(c, u->host_ascii);
	if (reg == NULL)
		return PG_LOOK_NONE;
	return check_host_reg(c, a, u, reg, NULL, target);
}

bool pg_url_idn_deceptive(const pg_url_ctx *c, pg_arena *a, const pg_url *u)
{
	(void)c;
	if (u->host_unicode == NULL || !(u->flags & PG_URL_IDN))
		return false;
	const char *h = u->host_unicode;
	while (*h) {
		const char *e = strchr(h, '.');
		size_t n = e ? (size_t)(e - h) : strlen(h);
		bool ascii = true;
		for (size_t i = 0; i < n && ascii; i++)
			ascii = (unsigned char)h[i] < 0x80;
		if (!ascii) {
			size_t fl;
			const char *f = pg_text_fold(a, h, n, &fl);
			unsigned latin = 0, foreign_script = 0, lookalike = 0, other = 0;
			for (const char *p = f; p != NULL && p < f + fl;) {
				gunichar cp = g_utf8_get_char_validated(p, (gssize)(f + fl - p));
				if (cp == (gunichar)-1 || cp == (gunichar)-2)
					break;
				p = g_utf8_next_char(p);
				if (cp < 0x80) {
					latin += is_alpha((unsigned char)cp);
					continue;
				}
				if (g_unichar_ismark(cp) || invisible(cp))
					continue;
				gunichar b = base_letter(cp);
				const struct confusable *cf = confusable_find(b);
				if ((b >= 0x0370 && b <= 0x058F))
					foreign_script++; /* Greek, Cyrillic, Armenian */
				if (cf != NULL && cf->foreign)
					lookalike++;
				else
					other++;
			}
			/* All of it could be read as ASCII, or Latin letters mixed
			 * with letters of a script that has Latin look-alikes. */
			if ((lookalike > 0 && other == 0) || (latin > 0 && foreign_script > 0))
				return true;
		}
		h += n;
		if (*h == '.')
			h++;
	}
	return false;
}

/* ==== the analyser ============================================================ */

enum src { SRC_TEXT, SRC_HREF, SRC_FORM, SRC_ATTACH, SRC_PDF };

enum sym {
	S_LOOKALIKE,
	S_BRAND,
	S_PUNYCODE,
	S_IP,
	S_SHORTENER,
	S_USERINFO,
	S_MISMATCH,
	S_DATA_JS,
	S_TLD,
	S_MANY,
	S_COUNT
};

static const char *const sym_names[S_COUNT] = {
	"URL_LOOKALIKE",     "URL_BRAND_IN_DOMAIN", "URL_PUNYCODE",
	"URL_IP_LITERAL",    "URL_SHORTENER",       "URL_USERINFO",
	"URL_HREF_MISMATCH", "URL_DATA_OR_JS",      "URL_SUSPICIOUS_TLD",
	"URL_MANY",
};

/* Details named per symbol: enough to see why, never a wall of text. */
#define DETAILS_MAX 3

/* A set of byte strings (open addressing, grown by doubling), in the
 * scan's arena: distinct URLs, hosts and registrable domains. */
struct sslot {
	const char *s;
	size_t n;
	uint32_t h;
	struct regmemo *memo; /* in the set of registrable domains */
};

struct sset {
	struct sslot *v;
	size_t cap, n;
};

static uint32_t fnv1a(const char *s, size_t n, uint32_t seed)
{
	uint32_t h = 2166136261u ^ seed;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

/* 1 when added, 0 when present, -1 when out of memory; *slot (may be
 * NULL) gets the entry, valid until the next add. */
static int sset_add(pg_arena *a, struct sset *set, const char *s, size_t n, uint32_t seed,
		    struct sslot **slot)
{
	if (set->n * 2 >= set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 16;
		struct sslot *v = pg_arena_calloc(a, cap, sizeof(*v));
		if (v == NULL)
			return -1;
		for (size_t i = 0; i < set->cap; i++) {
			if (set->v[i].s == NULL)
				continue;
			size_t k = set->v[i].h & (cap - 1);
			while (v[k].s != NULL)
				k = (k + 1) & (cap - 1);
			v[k] = set->v[i];
		}
		set->v = v;
		set->cap = cap;
	}
	uint32_t h = fnv1a(s, n, seed);
	size_t k = h & (set->cap - 1);
	for (; set->v[k].s != NULL; k = (k + 1) & (set->cap - 1)) {
		if (set->v[k].h == h && set->v[k].n == n && memcmp(set->v[k].s, s, n) == 0) {
			if (slot)
				*slot = &set->v[k];
			return 0;
		}
	}
	set->v[k] = (struct sslot){.s = s, .n = n, .h = h};
	set->n++;
	if (slot)
		*slot = &set->v[k];
	return 1;
}

struct cand {
	const char *s;
	size_t n;
	unsigned char src;  /* enum src */
	unsigned char kind; /* pg_url_kind */
};

struct run {
	pg_actx *ax;
	const pg_url_ctx *c;
	pg_arena *a;
	struct cand *v;
	size_t n, cap;
	bool full;         /* max_urls reached */
	unsigned char src; /* where the scanner being run reads */
	struct sset urls, hosts, regs;
	unsigned nsym[S_COUNT];
	double factor[S_COUNT]; /* of the configured weight: the strongest finding */
	const char *detail[S_COUNT];
	const char *sender; /* sender_key(), once known */
	pg_status st;
};

/* Notes a finding; the symbols are added at the end, each once, with
 * the weight of its strongest finding (factor of the configured weight)
 * and the details of the first few. */
static void flag(struct run *r, enum sym s, double factor, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void flag(struct run *r, enum sym s, double factor, const char *fmt, ...)
{
	if (r->st != PG_OK)
		return;
	if (factor > r->factor[s])
		r->factor[s] = factor;
	unsigned k = r->nsym[s]++;
	if (k > DETAILS_MAX)
		return;
	char d[600];
	if (k == DETAILS_MAX) {
		snprintf(d, sizeof(d), "...");
	} else {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(d, sizeof(d), fmt, ap);
		va_end(ap);
	}
	const char *j = r->detail[s] ? pg_arena_printf(r->a, "%s; %s", r->detail[s], d)
				     : pg_arena_strdup(r->a, d);
	if (j == NULL)
		r->st = PG_ERR_NOMEM;
	r->detail[s] = j;
}

static bool collect(void *ctx, const char *s, size_t n, pg_url_kind kind)
{
	struct run *r = ctx;
	if (r->n >= r->c->max_urls) {
		r->full = true;
		return false;
	}
	if (n > r->c->max_url_len)
		n = r->c->max_url_len;
	if (r->src == SRC_PDF && (s = pg_arena_strndup(r->a, s, n)) == NULL) {
		r->st = PG_ERR_NOMEM;
		return false;
	}
	/* The same string read as a href and as text may parse differently
	 * (a scheme-less href is relative): the kind is part of the key. */
	int added = sset_add(r->a, &r->urls, s, n, kind == PG_URLK_SCHEME ? 0u : 1u, NULL);
	if (added < 0) {
		r->st = PG_ERR_NOMEM;
		return false;
	}
	if (added == 0)
		return true;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 32;
		struct cand *v = pg_arena_alloc(r->a, cap * sizeof(*v));
		if (v == NULL) {
			r->st = PG_ERR_NOMEM;
			return false;
		}
		if (r->n)
			memcpy(v, r->v, r->n * sizeof(*v));
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = (struct cand){.s = s, .n = n, .src = r->src, .kind = (unsigned char)kind};
	return true;
}

/* Is the last label of an ASCII host a top-level domain of the ICANN list?
 * Scheme-less candidates need one: "file.txt/" is no link. */
static bool known_tld(const pg_url_ctx *c, const char *host)
{
	const char *dot = strrchr(host, '.');
	return dot != NULL &&
	       psl_is_public_suffix2(c->psl, dot + 1, PSL_TYPE_ICANN | PSL_TYPE_NO_STAR_RULE);
}

/* Top-level domains that are also common file extensions: a link whose
 * shown text is "readme.md" or "video.mov" shows a file name, not a
 * domain. */
static bool file_like_tld(const char *host)
{
	static const char *const ext[] = {"ai", "am", "cc",  "do",  "in",  "md", "me",
					  "mk", "ml", "mov", "one", "pl",  "pm", "ps",
					  "py", "rs", "sh",  "so",  "zip", NULL};
	const char *dot = strrchr(host, '.');
	if (dot == NULL)
		return true;
	for (int i = 0; ext[i]; i++)
		if (strcmp(dot + 1, ext[i]) == 0)
			return true;
	return false;
}

/* The name a host is shown by in details: "xn--...(unicode)" for IDN. */
static const char *shown_host(struct run *r, const pg_url *u)
{
	if ((u->flags & PG_URL_IDN) && strcmp(u->host_ascii, u->host_unicode) != 0) {
		const char *s = pg_arena_printf(r->a, "%s (%s)", u->host_ascii, u->host_unicode);
		if (s != NULL)
			return s;
	}
	return u->host_ascii;
}

/* The key two hosts are compared by: the registrable domain, else the host. */
static const char *host_key(const pg_url_ctx *c, const pg_url *u)
{
	if (u->flags & (PG_URL_IPV4 | PG_URL_IPV6))
		return u->host;
	const char *reg = pg_url_registrable(c, u->host_ascii);
	return reg ? reg : u->host_ascii;
}

/* Everything about one distinct host. */
static void check_host(struct run *r, const pg_url *u, unsigned char src)
{
	const pg_url_ctx *c = r->c;
	bool ip = (u->flags & (PG_URL_IPV4 | PG_URL_IPV6)) != 0;
	const char *reg = ip ? NULL : pg_url_registrable(c, u->host_ascii);
	const char *key = ip ? u->host : reg ? reg : u->host_ascii;
	struct sslot *slot = NULL;
	int added = sset_add(r->a, &r->regs, key, strlen(key), 0, &slot);
	if (added > 0 && !ip)
		slot->memo = pg_arena_calloc(r->a, 1, sizeof(*slot->memo));
	if (added < 0 || (added > 0 && !ip && slot->memo == NULL)) {
		r->st = PG_ERR_NOMEM;
		return;
	}
	if (ip) {
		bool odd = (u->flags & PG_URL_IP_OBFUSCATED) != 0;
		/* Private and loopback addresses are how developers and
		 * appliances talk, not where phishing lives. */
		if (pg_url_ip_public(u) || odd)
			flag(r, S_IP, odd || src != SRC_TEXT ? 1.0 : 0.5, "%s%s", u->host,
			     odd ? " (obfuscated)" : "");
		return;
	}
	const char *target = NULL;
	pg_url_look look = PG_LOOK_NONE;
	if (reg != NULL)
		look = check_host_reg(c, r->a, u, reg, slot->memo, &target);
	if (look == PG_LOOK_PROTECTED)
		return;
	if (look == PG_LOOK_LOOKALIKE)
		flag(r, S_LOOKALIKE, 1.0, "%s ~ %s", shown_host(r, u), target);
	else if (look == PG_LOOK_BRAND)
		flag(r, S_BRAND, 1.0, "%s: %s", shown_host(r, u), target);
	if ((u->flags & PG_URL_IDN) && !(u->flags & PG_URL_IDN_BAD) &&
	    pg_url_idn_deceptive(c, r->a, u))
		flag(r, S_PUNYCODE, 1.0, "%s", shown_host(r, u));
	if (list_has(&c->shorteners, key) || list_has(&c->shorteners, u->host_ascii))
		flag(r, S_SHORTENER, 1.0, "%s", u->host_ascii);
	const char *dot = strrchr(u->host_ascii, '.');
	if (dot != NULL && list_has(&c->tlds, dot + 1))
		flag(r, S_TLD, 1.0, "%s", u->host_ascii);
}

/* A javascript: link that does nothing ("javascript:void(0)") is how
 * pages make buttons, not a threat. */
static bool js_noop(const char *p)
{
	static const char *const noops[] = {
		"",          ";",  "void(0)",      "void(0);",      "void 0",
		"void(0)//", "//", "return false", "return false;", "false",
		NULL};
	char buf[32];
	size_t n = 0;
	for (; *p && n + 1 < sizeof(buf); p++)
		if (*p != ' ' || (n > 0 && buf[n - 1] != ' '))
			buf[n++] = pg_lower(*p);
	if (*p)
		return false;
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	for (int i = 0; noops[i]; i++)
		if (strcmp(buf, noops[i]) == 0)
			return true;
	return false;
}

static void check_opaque(struct run *r, const pg_url *u, unsigned char src)
{
	if (src != SRC_HREF && src != SRC_FORM)
		return;
	const char *sc = u->scheme;
	/* A data: page is a whole site inside the message; script links
	 * are inert in mail readers, a weak tell of hand-made pages. */
	if ((strcmp(sc, "javascript") == 0 || strcmp(sc, "vbscript") == 0) && !js_noop(u->path))
		flag(r, S_DATA_JS, 0.25, "%s:", sc);
	else if (strcmp(sc, "data") == 0 && !pg_startswith_ci(u->path, "image/"))
		flag(r, S_DATA_JS, 1.0, "data:%.40s", u->path);
}

static void check_candidate(struct run *r, const struct cand *cd)
{
	pg_url u;
	bool text = cd->src == SRC_TEXT || cd->src == SRC_ATTACH;
	if (pg_url_parse(r->a, cd->s, cd->n, text && cd->kind != PG_URLK_SCHEME, &u) != 0)
		return;
	if (u.flags & PG_URL_OPAQUE) {
		check_opaque(r, &u, cd->src);
		return;
	}
	if (cd->kind != PG_URLK_SCHEME && !(u.flags & (PG_URL_IPV4 | PG_URL_IPV6)) &&
	    !known_tld(r->c, u.host_ascii))
		return;
	if ((u.flags & PG_URL_USERINFO) &&
	    (strcmp(u.scheme, "http") == 0 || strcmp(u.scheme, "https") == 0))
		flag(r, S_USERINFO, 1.0, "%s@%s", u.userinfo, u.host);
	int added = sset_add(r->a, &r->hosts, u.host, strlen(u.host), 0, NULL);
	if (added < 0)
		r->st = PG_ERR_NOMEM;
	else if (added > 0)
		check_host(r, &u, cd->src);
}

/* The registrable domain of the From: address (the sender's own), or "". */
static const char *sender_key(struct run *r)
{
	if (r->sender != NULL)
		return r->sender;
	r->sender = "";
	const char *name = NULL, *addr = NULL;
	pg_msg_from(r->ax->msg, &name, &addr);
	const char *dom = addr ? pg_addr_domain(r->a, addr) : NULL;
	if (dom != NULL) {
		pg_url u;
		if (pg_url_parse(r->a, dom, strlen(dom), true, &u) == 0 && u.host != NULL)
			r->sender = host_key(r->c, &u);
	}
	return r->sender;
}

/* Percent-decodes s (twice: redirectors nest) into the arena. */
static char *pct_decode2(pg_arena *a, const char *s, size_t n)
{
	char *o = pg_arena_strndup(a, s, n);
	for (int round = 0; o != NULL && round < 2; round++) {
		size_t w = 0;
		for (size_t i = 0; o[i]; i++) {
			if (o[i] == '%' && hexval((unsigned char)o[i + 1]) >= 0 &&
			    hexval((unsigned char)o[i + 2]) >= 0) {
				o[w++] = (char)(hexval((unsigned char)o[i + 1]) * 16 +
						hexval((unsigned char)o[i + 2]));
				i += 2;
			} else {
				o[w++] = o[i];
			}
		}
		o[w] = '\0';
	}
	return o;
}

/* An HTML link whose visible text is itself a URL or a domain name, of
 * another registrable domain than where the link goes. */
static void check_link(struct run *r, const pg_link *l)
{
	const char *sh = l->shown;
	if (strchr(sh, '.') == NULL)
		return; /* cheap: most anchors are words */
	size_t n = strlen(sh);
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)sh[i] > 0x20)
			continue;
		/* "http://www.bank.it/login Accedi": the URL that starts the
		 * text is what the reader trusts; a sentence is not a URL. */
		if (!pg_startswith_ci(sh, "http://") && !pg_startswith_ci(sh, "https://") &&
		    !pg_startswith_ci(sh, "www."))
			return;
		n = i;
		break;
	}
	if (n >= 2 && ((sh[0] == '<' && sh[n - 1] == '>') || (sh[0] == '[' && sh[n - 1] == ']') ||
		       (sh[0] == '(' && sh[n - 1] == ')')))
		sh++, n -= 2;
	while (n > 0 && strchr(".,;:!?", sh[n - 1]) != NULL)
		n--;
	pg_url su, hu;
	if (pg_url_parse(r->a, sh, n, true, &su) != 0 || su.host == NULL)
		return;
	if ((su.flags & PG_URL_BARE) && !(su.flags & (PG_URL_IPV4 | PG_URL_IPV6))) {
		if (!known_tld(r->c, su.host_ascii) || strchr(su.host_ascii, '.') == NULL)
			return;
		/* "report.zip" is a file name unless it looks like a site */
		if (su.path[0] == '\0' && !pg_startswith_ci(su.host_ascii, "www.") &&
		    file_like_tld(su.host_ascii))
			return;
	}
	if (pg_url_parse(r->a, l->href, strlen(l->href), false, &hu) != 0 || hu.host == NULL)
		return;
	const char *sk = host_key(r->c, &su), *hk = host_key(r->c, &hu);
	if (strcmp(sk, hk) == 0)
		return;
	/* Newsletters count clicks: the link goes through the sender's own
	 * domain, or through a redirector that carries the destination in its
	 * query ("?url=http%3A%2F%2Fshown..."), and ends where it says.  Never
	 * for a protected domain: that is what phishing shows. */
	if (!list_has(&r->c->good, sk)) {
		if (strcmp(hk, sender_key(r)) == 0)
			return;
		const char *q = strchr(hu.path, '?');
		char *dq = q ? pct_decode2(r->a, q, strlen(q)) : NULL;
		if (dq != NULL && pg_memmem_ci(dq, strlen(dq), sk) != NULL)
			return;
	}
	flag(r, S_MISMATCH, 1.0, "shows %s, goes to %s", sk, hk);
}

static bool ends_with_ci(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && pg_streq_ci(s + n - m, suffix);
}

/* Attachments and HTML parts: what pg_msg_text does not give. */
static void scan_parts(struct run *r, const pg_msg *m)
{
	const pg_url_ctx *c = r->c;
	char *pdfbuf = NULL;
	for (size_t i = 0; i < m->nparts && !r->full && r->st == PG_OK; i++) {
		const pg_part *p = m->parts[i];
		if (p->is_multipart || p->is_message)
			continue;
		const char *fn = p->filename ? p->filename : "";
		bool named = p->is_attachment && p->filename != NULL;
		bool html = strcmp(p->ctype, "text/html") == 0;
		bool pdf = strcmp(p->ctype, "application/pdf") == 0 || ends_with_ci(fn, ".pdf");
		bool text = strncmp(p->ctype, "text/", 5) == 0 || ends_with_ci(fn, ".txt") ||
			    ends_with_ci(fn, ".htm") || ends_with_ci(fn, ".html") ||
			    ends_with_ci(fn, ".url");
		if (!(html && !named) && !(c->attachments && named && (pdf || text)) &&
		    !(c->attachments && pdf))
			continue;
		size_t len = 0;
		const unsigned char *d = pg_part_content(p, &len);
		if (d == NULL)
			continue;
		if (html && !named) {
			r->src = SRC_FORM;
			scan_forms((const char *)d, len, collect, r);
			continue;
		}
		if (len > c->max_attach)
			len = c->max_attach;
		if (pdf) {
			if (pdfbuf == NULL)
				pdfbuf = pg_arena_alloc(r->a, c->max_url_len + 1);
			if (pdfbuf == NULL) {
				r->st = PG_ERR_NOMEM;
				return;
			}
			r->src = SRC_PDF;
			pg_url_scan_pdf(d, len, pdfbuf, c->max_url_len + 1, collect, r);
		} else {
			r->src = SRC_ATTACH;
			pg_url_scan_text((const char *)d, len, collect, r);
		}
	}
}

static pg_status url_run(pg_actx *ax, void *state)
{
	const pg_url_ctx *c = state;
	const pg_msg *m = ax->msg;
	if (c == NULL || m == NULL)
		return PG_OK;
	const pg_text *t = pg_msg_text(m);
	if (t == NULL)
		return PG_ERR_NOMEM;
	struct run r = {.ax = ax, .c = c, .a = ax->arena, .st = PG_OK};

	/* Collect: hrefs first (they carry the kind a browser gives them),
	 * then the text of the subject and of every body part, then forms
	 * and attachments; all deduplicated, up to max_urls. */
	r.src = SRC_HREF;
	for (size_t i = 0; i < t->nlinks && !r.full && r.st == PG_OK; i++)
		collect(&r, t->links[i].href, strlen(t->links[i].href), PG_URLK_SCHEME);
	r.src = SRC_TEXT;
	if (!r.full && r.st == PG_OK)
		pg_url_scan_text(t->subject, strlen(t->subject), collect, &r);
	if (!r.full && r.st == PG_OK)
		pg_url_scan_text(t->all, t->all_len, collect, &r);
	if (!r.full && r.st == PG_OK)
		scan_parts(&r, m);

	/* Check: each URL, each distinct host once. */
	for (size_t i = 0; i < r.n && r.st == PG_OK; i++)
		check_candidate(&r, &r.v[i]);
	for (size_t i = 0; i < t->nlinks && i < c->max_urls && r.st == PG_OK; i++)
		check_link(&r, &t->links[i]);
	if (r.st == PG_OK && r.regs.n > c->many)
		flag(&r, S_MANY, 1.0, "%zu domains", r.regs.n);
	for (int s = 0; s < S_COUNT && r.st == PG_OK; s++)
		if (r.nsym[s] > 0)
			r.st = pg_sym_scaled(ax, sym_names[s], r.factor[s], "%s", r.detail[s]);
	return r.st;
}

static pg_status url_init(const pg_config *cfg, void **state, char *err, size_t errlen)
{
	pg_url_ctx *c = NULL;
	pg_status st = pg_url_ctx_new(cfg, &c, err, errlen);
	*state = c;
	return st;
}

static void url_free(void *state)
{
	pg_url_ctx_free(state);
}

const pg_analyser pg_analyser_url = {
	.name = "url",
	.init = url_init,
	.free = url_free,
	.run = url_run,
};
