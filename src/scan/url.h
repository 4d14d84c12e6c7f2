/*
 * url.h - the URL analyser: links in a message, and what is wrong with them.
 *
 * URLs come from the text of the message (http/https/ftp, www. and bare
 * "domain.tld/path" tokens), from HTML links and form actions, and from
 * attachments (text files, and /URI strings of PDF files).  Each is parsed
 * by a small parser of our own that follows what browsers do with hostile
 * input (backslashes, "@" in the authority, numeric hosts in any base,
 * percent-encoded and internationalised hosts), then its registrable
 * domain is found with the public suffix list (libpsl) and compared with a
 * configured list of protected domains (Agenzia delle Entrate, PEC
 * providers, banks...).  See docs/analysers/url.md for the symbols.
 *
 * The pure pieces are public for tests and fuzzing: the parser, the text
 * scanner, the PDF scanner and the look-alike check on a context built
 * from a configuration.
 */
#ifndef PG_SCAN_URL_H
#define PG_SCAN_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "scan/analyser.h"

extern const pg_analyser pg_analyser_url;

/* ---- parser ---------------------------------------------------------------- */

enum {
	PG_URL_USERINFO = 1u << 0, /* "user[:pass]@" in the authority */
	PG_URL_IPV4 = 1u << 1,     /* the host is an IPv4 address */
	PG_URL_IPV6 = 1u << 2,     /* the host is a bracketed IPv6 address */
	PG_URL_IP_OBFUSCATED =
		1u << 3,           /* IPv4 not in plain dotted decimal (hex, octal, dword...) */
	PG_URL_IDN = 1u << 4,      /* the host has non-ASCII or "xn--" labels */
	PG_URL_IDN_BAD = 1u << 5,  /* ...that IDNA refused: host_ascii is the raw host */
	PG_URL_PCT_HOST = 1u << 6, /* the host was percent-encoded */
	PG_URL_OPAQUE = 1u << 7,   /* no authority (data:, javascript:, mailto:): host NULL */
	PG_URL_BARE = 1u << 8,     /* no scheme given ("www.x.it", "x.it/path") */
};

typedef struct pg_url {
	const char *scheme;       /* lower case; "http" when none was given (PG_URL_BARE) */
	const char *userinfo;     /* as written, or NULL */
	const char *host;         /* lower case, percent-decoded, no trailing dot; IPv4
				     canonical dotted, IPv6 without brackets; NULL when opaque */
	const char *host_ascii;   /* A-label (punycode) form: what DNS sees */
	const char *host_unicode; /* U-label form: what the reader sees */
	int port;                 /* -1 when none */
	const char *path;         /* from the first '/', '?' or '#' after the host; may be "" */
	unsigned flags;           /* PG_URL_* */
	unsigned char ip[16];     /* the address when IPV4 (4 bytes) or IPV6 */
} pg_url;

/* Parses [s, s+n) into *u, strings in arena a.  bare: also accept a URL
 * without a scheme when it starts with a host ("www.x.it/", "x.it/a");
 * without bare only "www." and "//" scheme-less forms are accepted (as a
 * browser does with an href).  Returns 0 (u->host set, or NULL with
 * PG_URL_OPAQUE for data:, javascript:...), or -1 when s is not an
 * absolute URL (relative path, empty or invalid host, bad port, invalid
 * UTF-8) or out of memory. */
int pg_url_parse(pg_arena *a, const char *s, size_t n, bool bare, pg_url *u) PG_WUR;

/* Is an IP literal host public (not loopback, private, link-local...)? */
bool pg_url_ip_public(const pg_url *u);

/* ---- scanners ---------------------------------------------------------------- */

typedef enum pg_url_kind {
	PG_URLK_SCHEME, /* "http://...", "https://...", "ftp://..." */
	PG_URLK_WWW,    /* "www.host..." */
	PG_URLK_BARE,   /* "host.tld/path": the caller checks the TLD */
} pg_url_kind;

/* Called for each candidate; returns false to stop the scan. */
typedef bool (*pg_url_found_fn)(void *ctx, const char *s, size_t n, pg_url_kind kind);

/* Finds URL candidates in text (UTF-8; invalid bytes are separators) in
 * one linear pass.  E-mail addresses are skipped.  Trailing punctuation and
 * unbalanced closing brackets are not part of a URL. */
void pg_url_scan_text(const char *s, size_t n, pg_url_found_fn fn, void *ctx);

/* Finds /URI (...) and /URI <hex> strings in the bytes of a PDF file (a
 * bounded byte search; compressed object streams are not opened).  Each
 * string is decoded (escapes, hex) into buf (cap bytes at most) before fn
 * is called with it, kind PG_URLK_SCHEME. */
void pg_url_scan_pdf(const unsigned char *s, size_t n, char *buf, size_t cap, pg_url_found_fn fn,
		     void *ctx);

/* ---- protected domains ------------------------------------------------------ */

/* The analyser's state: the public suffix list and the preprocessed
 * lists of the "url" settings.  Read-only once made: shared by every scan. */
typedef struct pg_url_ctx pg_url_ctx;

pg_status pg_url_ctx_new(const pg_config *cfg, pg_url_ctx **out, char *err, size_t errlen) PG_WUR;
void pg_url_ctx_free(pg_url_ctx *c);

/* The registrable domain of an ASCII host ("www.a.gov.it" -> "a.gov.it"),
 * pointing into host; NULL for IP literals, public suffixes and single
 * labels. */
const char *pg_url_registrable(const pg_url_ctx *c, const char *host_ascii);

typedef enum pg_url_look {
	PG_LOOK_NONE = 0,  /* nothing to say */
	PG_LOOK_PROTECTED, /* a protected or allowed domain, or under one */
	PG_LOOK_LOOKALIKE, /* imitates a protected domain (homoglyphs, typo, dots) */
	PG_LOOK_BRAND,     /* carries a protected brand in another domain */
} pg_url_look;

/* Compares the host of a parsed URL with the protected domains.  *target
 * (may be NULL) gets the protected domain or brand it imitates.  Uses a for
 * scratch memory. */
pg_url_look pg_url_check_host(const pg_url_ctx *c, pg_arena *a, const pg_url *u,
			      const char **target);

/* Does the host render like ASCII while it is not (an IDN label made of
 * Cyrillic/Greek look-alikes of Latin letters, or mixing scripts)? */
bool pg_url_idn_deceptive(const pg_url_ctx *c, pg_arena *a, const pg_url *u);

/* Damerau-Levenshtein distance (optimal string alignment) of two byte
 * strings, or max+1 when it is over max (or the strings are over 64). */
unsigned pg_url_distance(const char *x, size_t nx, const char *y, size_t ny, unsigned max);

#endif
