/*
 * pg-mkfixtures: writes pecguard's PEC test fixtures.
 *
 *   pg-mkfixtures OUTDIR
 *
 * The oracle corpus the project was developed against is not shipped, so the
 * tests need fixtures they can build themselves.  This tool writes:
 *
 *   OUTDIR/pki/          a throw-away test PKI (root CA, provider certificates,
 *                        an expired and a not-yet-valid one, one whose validity
 *                        dates cannot be read, a rogue CA with a look-alike
 *                        certificate, a self-signed imitation, a personal
 *                        S/MIME certificate), keys, fingerprints.tsv, and the
 *                        providers' index as RFC 6109 LDIF (with and without
 *                        colons in the hashes; one provider listed by its
 *                        hashes only, as the index allows);
 *   OUTDIR/messages/     PEC envelopes, receipts and an anomaly envelope in the
 *                        wire shape of real providers (see docs PEC.md §1-2),
 *                        tampered and forged variants, and ordinary mail;
 *   OUTDIR/expected.tsv  the class, PEC type, provider and reason code pecguard
 *                        must report for each message, at the verification
 *                        time in the `at` column (empty: now; a message whose
 *                        verdict depends on it has a line for each time).
 *
 * It is standalone on purpose (libcrypto and libarchive only): fixtures must
 * not be produced by the code they are meant to test.
 *
 * Everything is written with "\n" line ends and turned into CRLF before
 * signing, because a signature covers the bytes as SMTP transmits them (CRLF
 * canonical form).  Files stay LF unless a case is about CRLF; converting LF
 * back to CRLF (as `openssl smime -verify` does) gives the signed bytes.
 *
 * Output is deterministic apart from key material: dates, identifiers and
 * boundaries are derived from the case name and its sequence number.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkdir, setenv, tzset */
#endif

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

/* ======================================================================
 * Failure handling.  A generator has nothing to recover from: any failure
 * means the fixtures would be incomplete, so it stops with a message that
 * says what failed (and OpenSSL's error queue when OpenSSL failed).
 * ====================================================================== */

static _Noreturn PRINTF_LIKE(1, 2) void die(const char *fmt, ...)
{
	va_list ap;
	fputs("pg-mkfixtures: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static _Noreturn void die_ssl(const char *what)
{
	fprintf(stderr, "pg-mkfixtures: error: %s failed\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("out of memory");
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		die("out of memory");
	return q;
}

/* Every string the generator makes lives until the end of the run; they are
 * registered here and freed together, so the case code can build text
 * freely without tracking lifetimes (and the ASan build sees no leaks). */
static void **g_owned;
static size_t g_nowned, g_capowned;

static void *own(void *p)
{
	if (g_nowned == g_capowned) {
		g_capowned = g_capowned ? g_capowned * 2 : 1024;
		g_owned = xrealloc(g_owned, g_capowned * sizeof *g_owned);
	}
	g_owned[g_nowned++] = p;
	return p;
}

static void free_owned(void)
{
	for (size_t i = 0; i < g_nowned; i++)
		free(g_owned[i]);
	free(g_owned);
	g_owned = NULL;
	g_nowned = g_capowned = 0;
}

/* ======================================================================
 * Growable buffer (always NUL-terminated, so text can be used as a string)
 * ====================================================================== */

typedef struct {
	char *p;
	size_t len, cap;
} buf;

typedef struct {
	unsigned char *p;
	size_t n;
} bytes;

static void buf_reserve(buf *b, size_t extra)
{
	if (b->len + extra + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 256;
		while (nc < b->len + extra + 1)
			nc *= 2;
		b->p = xrealloc(b->p, nc);
		b->cap = nc;
	}
}

static void buf_add(buf *b, const void *d, size_t n)
{
	buf_reserve(b, n);
	if (n)
		memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_puts(buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void buf_putc(buf *b, char c)
{
	buf_add(b, &c, 1);
}

static void buf_vprintf(buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		die("formatting failed");
	buf_reserve(b, (size_t)n);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

static PRINTF_LIKE(2, 3) void buf_printf(buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

/* Hands the buffer's memory to the run-long pool and resets the buffer. */
static char *buf_own(buf *b)
{
	buf_reserve(b, 0);
	char *p = own(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

static bytes buf_own_bytes(buf *b)
{
	bytes r;
	r.n = b->len;
	r.p = (unsigned char *)buf_own(b);
	return r;
}

static PRINTF_LIKE(1, 2) char *sfmt(const char *fmt, ...)
{
	buf b = {0};
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return buf_own(&b);
}

static bytes text_bytes(const char *s)
{
	bytes r = {(unsigned char *)s, strlen(s)};
	return r;
}

static int ascii_ieq(const char *a, const char *b)
{
	for (;; a++, b++) {
		int ca = tolower((unsigned char)*a), cb = tolower((unsigned char)*b);
		if (ca != cb)
			return 0;
		if (!ca)
			return 1;
	}
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int is_7bit(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/* Replaces the first occurrence of `from`; a tamper case whose target text is
 * missing would silently produce an untampered message, so that is fatal. */
static char *replace_once(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	if (!at)
		die("internal: \"%s\" not found where a case expects it", from);
	return sfmt("%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
}

static const char *domain_of(const char *addr)
{
	const char *at = strchr(addr, '@');
	return at ? at + 1 : addr;
}

/* ======================================================================
 * Encodings
 * ====================================================================== */

static const char HEXU[] = "0123456789ABCDEF";
static const char HEXL[] = "0123456789abcdef";
static const char B64CH[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *hex_of(const unsigned char *d, size_t n, int upper, char sep)
{
	const char *digits = upper ? HEXU : HEXL;
	buf b = {0};
	for (size_t i = 0; i < n; i++) {
		if (sep && i)
			buf_putc(&b, sep);
		buf_putc(&b, digits[d[i] >> 4]);
		buf_putc(&b, digits[d[i] & 15]);
	}
	return buf_own(&b);
}

/* Base64 in lines of `width` characters, each ending in "\n"; width 0 gives
 * one unbroken line without "\n" (LDIF folds it itself). */
static void b64_encode(buf *out, const unsigned char *d, size_t n, size_t width)
{
	size_t col = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)d[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)d[i + 1] << 8;
		if (i + 2 < n)
			v |= d[i + 2];
		char q[4] = {B64CH[(v >> 18) & 63], B64CH[(v >> 12) & 63],
			     i + 1 < n ? B64CH[(v >> 6) & 63] : '=',
			     i + 2 < n ? B64CH[v & 63] : '='};
		for (int k = 0; k < 4; k++) {
			if (width && col == width) {
				buf_putc(out, '\n');
				col = 0;
			}
			buf_putc(out, q[k]);
			col++;
		}
	}
	if (width && n)
		buf_putc(out, '\n');
}

/* Quoted-printable (RFC 2045) of "\n"-separated lines, at most 76 columns
 * with soft breaks; the output always ends in "\n". */
static void qp_encode(buf *out, const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t e = i;
		while (e < n && s[e] != '\n')
			e++;
		size_t col = 0;
		for (size_t j = i; j < e; j++) {
			unsigned c = s[j];
			int last = j + 1 == e;
			char tok[3];
			size_t tl = 1;
			if (c == '=' || c > 126 || (c < 32 && c != '\t') ||
			    ((c == ' ' || c == '\t') && last)) {
				tok[0] = '=';
				tok[1] = HEXU[c >> 4];
				tok[2] = HEXU[c & 15];
				tl = 3;
			} else {
				tok[0] = (char)c;
			}
			/* A soft break costs a column ("="), except after the last token. */
			if (col + tl > (last ? 76u : 75u)) {
				buf_puts(out, "=\n");
				col = 0;
			}
			buf_add(out, tok, tl);
			col += tl;
		}
		buf_putc(out, '\n');
		i = e + 1;
	}
}

/* The certification texts are ISO-8859-1 like the providers'; the source
 * keeps them in UTF-8 for readability. */
static char *latin1_of(const char *u)
{
	buf b = {0};
	const unsigned char *p = (const unsigned char *)u;
	while (*p) {
		if (*p < 0x80) {
			buf_putc(&b, (char)*p++);
		} else if ((*p & 0xE0) == 0xC0 && (p[1] & 0xC0) == 0x80) {
			unsigned cp = ((unsigned)(*p & 0x1F) << 6) | (p[1] & 0x3F);
			if (cp > 0xFF)
				die("internal: U+%04X has no ISO-8859-1 form", cp);
			buf_putc(&b, (char)cp);
			p += 2;
		} else {
			die("internal: text for ISO-8859-1 has a character outside Latin-1");
		}
	}
	return buf_own(&b);
}

/* UTF-16BE with a byte-order mark, as one real daticert.xml is written. */
static bytes utf16be_of(const char *u)
{
	buf b = {0};
	buf_add(&b, "\xFE\xFF", 2);
	const unsigned char *p = (const unsigned char *)u;
	while (*p) {
		uint32_t cp;
		int len;
		if (*p < 0x80) {
			cp = *p;
			len = 1;
		} else if ((*p & 0xE0) == 0xC0) {
			cp = *p & 0x1F;
			len = 2;
		} else if ((*p & 0xF0) == 0xE0) {
			cp = *p & 0x0F;
			len = 3;
		} else if ((*p & 0xF8) == 0xF0) {
			cp = *p & 0x07;
			len = 4;
		} else {
			die("internal: invalid UTF-8");
		}
		for (int k = 1; k < len; k++) {
			if ((p[k] & 0xC0) != 0x80)
				die("internal: invalid UTF-8");
			cp = (cp << 6) | (p[k] & 0x3F);
		}
		p += len;
		uint32_t units[2];
		int nu = 1;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			units[0] = 0xD800 | (cp >> 10);
			units[1] = 0xDC00 | (cp & 0x3FF);
			nu = 2;
		} else {
			units[0] = cp;
		}
		for (int k = 0; k < nu; k++) {
			char two[2] = {(char)(units[k] >> 8), (char)(units[k] & 0xFF)};
			buf_add(&b, two, 2);
		}
	}
	return buf_own_bytes(&b);
}

/* Escapes text content for XML and HTML.  Quotes stay as they are: the
 * values are never placed in attributes, and providers write them plainly. */
static char *markup_esc(const char *s)
{
	buf b = {0};
	for (; *s; s++) {
		switch (*s) {
		case '&':
			buf_puts(&b, "&amp;");
			break;
		case '<':
			buf_puts(&b, "&lt;");
			break;
		case '>':
			buf_puts(&b, "&gt;");
			break;
		default:
			buf_putc(&b, *s);
		}
	}
	return buf_own(&b);
}

/* The signed bytes: every "\n" becomes "\r\n".  A bare CR in generated text
 * would make the LF file and the signed form disagree, so it is a bug. */
static bytes to_crlf(const char *s)
{
	buf b = {0};
	for (; *s; s++) {
		if (*s == '\r')
			die("internal: bare CR in generated text");
		if (*s == '\n')
			buf_putc(&b, '\r');
		buf_putc(&b, *s);
	}
	return buf_own_bytes(&b);
}

static void sha256_of(const void *d, size_t n, unsigned char out[32])
{
	if (!EVP_Digest(d, n, out, NULL, EVP_sha256(), NULL))
		die_ssl("SHA-256");
}

/* ======================================================================
 * Time.  Civil-date arithmetic is done here rather than with timegm() and
 * localtime() so that the output does not depend on the host's time zone.
 * All messages are dated in winter, when Italy is at +0100.
 * ====================================================================== */

static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

typedef struct {
	int y, mo, d, h, mi, s, wday;
} civil;

static civil local_of(int64_t t)
{
	t += 3600; /* CET, +0100 */
	int64_t days = t / 86400, secs = t % 86400;
	civil c;
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	c.d = (int)(doy - (153 * mp + 2) / 5 + 1);
	c.mo = (int)(mp < 10 ? mp + 3 : mp - 9);
	c.y = (int)(yoe + era * 400 + (c.mo <= 2));
	c.h = (int)(secs / 3600);
	c.mi = (int)(secs / 60 % 60);
	c.s = (int)(secs % 60);
	c.wday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
	return c;
}

static char *fmt_date(int64_t t) /* RFC 5322 */
{
	static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mn[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	civil c = local_of(t);
	return sfmt("%s, %d %s %04d %02d:%02d:%02d +0100", wd[c.wday], c.d, mn[c.mo - 1], c.y, c.h,
		    c.mi, c.s);
}

static char *fmt_giorno(int64_t t)
{
	civil c = local_of(t);
	return sfmt("%02d/%02d/%04d", c.d, c.mo, c.y);
}

static char *fmt_ora(int64_t t)
{
	civil c = local_of(t);
	return sfmt("%02d:%02d:%02d", c.h, c.mi, c.s);
}

static char *fmt_stamp(int64_t t)
{
	civil c = local_of(t);
	return sfmt("%04d%02d%02d%02d%02d%02d", c.y, c.mo, c.d, c.h, c.mi, c.s);
}

/* ======================================================================
 * Test PKI
 * ====================================================================== */

typedef struct {
	const char *file; /* base name of the .pem and .key files */
	X509 *cert;
	EVP_PKEY *key;
} party;

typedef struct {
	const char *name;       /* providerName, and gestore-emittente in daticert */
	const char *org;        /* certificate O= */
	const char *domains[3]; /* managedDomains; [0] hosts posta-certificata@ */
	const char *unit;       /* providerUnit, or NULL */
	const char *desc;       /* description (UTF-8) */
	int code;               /* provider number inside identificativi */
	int rewrites_msgid; /* puts its identificativo in postacert.eml as Aruba does (PEC.md §1) */
	party *p;
	party *p2;     /* a second certificate, or NULL */
	int hash_only; /* the index lists providerCertificateHash only, no certificate */
} provider;

typedef struct {
	const char *cn, *o;
	long serial;
	const char *not_before, *not_after; /* YYYYMMDDHHMMSSZ */
	int is_ca;
	const char *san; /* X509v3 config syntax, or NULL */
} cert_spec;

static void add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	if (!e)
		die_ssl("building a certificate extension");
	if (!X509_add_ext(x, e, -1))
		die_ssl("X509_add_ext");
	X509_EXTENSION_free(e);
}

/* issuer NULL: self-signed. */
static X509 *make_cert(const cert_spec *cs, EVP_PKEY *key, const party *issuer)
{
	X509 *x = X509_new();
	X509_NAME *nm = X509_NAME_new();
	if (!x || !nm)
		die_ssl("X509_new");
	if (!X509_set_version(x, X509_VERSION_3) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), cs->serial) ||
	    !ASN1_TIME_set_string_X509(X509_getm_notBefore(x), cs->not_before) ||
	    !ASN1_TIME_set_string_X509(X509_getm_notAfter(x), cs->not_after))
		die_ssl("setting certificate fields");
	if (!X509_NAME_add_entry_by_txt(nm, "C", MBSTRING_UTF8, (const unsigned char *)"IT", -1, -1,
					0) ||
	    !X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_UTF8, (const unsigned char *)cs->o, -1,
					-1, 0) ||
	    !X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)cs->cn, -1,
					-1, 0))
		die_ssl("building a certificate name");
	if (!X509_set_subject_name(x, nm) ||
	    !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->cert) : nm) ||
	    !X509_set_pubkey(x, key))
		die_ssl("setting certificate names");
	X509_NAME_free(nm);

	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer ? issuer->cert : x, x, NULL, NULL, 0);
	add_ext(x, &ctx, NID_basic_constraints,
		cs->is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	add_ext(x, &ctx, NID_key_usage,
		cs->is_ca ? "critical,keyCertSign,cRLSign"
			  : "critical,digitalSignature,nonRepudiation");
	if (!cs->is_ca)
		add_ext(x, &ctx, NID_ext_key_usage, "emailProtection");
	add_ext(x, &ctx, NID_subject_key_identifier, "hash");
	if (issuer)
		add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
	if (cs->san)
		add_ext(x, &ctx, NID_subject_alt_name, cs->san);
	if (X509_sign(x, issuer ? issuer->key : key, EVP_sha256()) <= 0)
		die_ssl("signing a certificate");
	return x;
}

static void make_party(party *pt, const char *file, const cert_spec *cs, const party *issuer)
{
	pt->file = file;
	pt->key = EVP_RSA_gen(2048);
	if (!pt->key)
		die_ssl("RSA key generation");
	pt->cert = make_cert(cs, pt->key, issuer);
}

/* Replaces the certificate's notBefore with `raw` as a UTCTime, unchecked,
 * and signs the certificate again. */
static void set_raw_not_before(party *pt, const char *raw, const party *issuer)
{
	ASN1_TIME *t = ASN1_STRING_type_new(V_ASN1_UTCTIME);
	if (!t || !ASN1_STRING_set(t, raw, (int)strlen(raw)) || !X509_set1_notBefore(pt->cert, t))
		die_ssl("setting a raw notBefore");
	ASN1_TIME_free(t);
	if (X509_sign(pt->cert, issuer->key, EVP_sha256()) <= 0)
		die_ssl("signing a certificate");
}

static void free_party(party *pt)
{
	X509_free(pt->cert);
	EVP_PKEY_free(pt->key);
	pt->cert = NULL;
	pt->key = NULL;
}

static bytes cert_der(X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	if (n <= 0)
		die_ssl("i2d_X509");
	buf b = {0};
	buf_add(&b, der, (size_t)n);
	OPENSSL_free(der);
	return buf_own_bytes(&b);
}

static char *cert_sha1(X509 *x, int colon_upper)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	if (!X509_digest(x, EVP_sha1(), md, &n))
		die_ssl("X509_digest");
	return colon_upper ? hex_of(md, n, 1, ':') : hex_of(md, n, 0, 0);
}

static char *cert_subject(X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());
	if (!bio || X509_NAME_print_ex(bio, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) < 0)
		die_ssl("printing a certificate subject");
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);
	char *s = sfmt("%.*s", (int)n, data);
	BIO_free(bio);
	return s;
}

/* ======================================================================
 * Global state
 * ====================================================================== */

static struct {
	const char *outdir;
	const char *msgdir; /* subdirectory of outdir the messages go to */
	buf expected;
	const char *casename; /* current case: seeds identifiers and boundaries */
	int seq;              /* current case number */
	int64_t t;            /* current case's message time (UTC seconds) */
	int64_t base;
	int nmsg;
	party ca, rogue_ca, alfa, beta, gamma, delta, epsilon, epsilon_baddates, rogue, selfsigned,
		personal;
	provider alfa_p, beta_p, gamma_p, delta_p, epsilon_p;
} g;

#define ALFA    (&g.alfa_p)
#define BETA    (&g.beta_p)
#define GAMMA   (&g.gamma_p)
#define DELTA   (&g.delta_p)
#define EPSILON (&g.epsilon_p)

static void case_begin(const char *name)
{
	g.casename = name;
	g.seq++;
	g.t = g.base + (int64_t)g.seq * 540; /* one case every 9 minutes */
}

/* 64 upper-case hex digits derived from the case name: stable boundaries and
 * identifiers that differ from case to case. */
static char *tag_hex(const char *salt)
{
	char *seed = sfmt("%s/%s", g.casename, salt);
	unsigned char md[32];
	sha256_of(seed, strlen(seed), md);
	return hex_of(md, 32, 1, 0);
}

/* ======================================================================
 * Files
 * ====================================================================== */

static void make_dir(const char *path)
{
	char *p = sfmt("%s", path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0777) != 0 && errno != EEXIST)
			die("cannot create directory %s: %s", p, strerror(errno));
		*s = '/';
	}
	if (mkdir(p, 0777) != 0 && errno != EEXIST)
		die("cannot create directory %s: %s", p, strerror(errno));
	struct stat st;
	if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
		die("%s is not a directory", p);
}

static void write_file(const char *path, const void *d, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		die("cannot create %s: %s", path, strerror(errno));
	if (n && fwrite(d, 1, n, f) != n) {
		int e = errno;
		fclose(f);
		die("cannot write %s: %s", path, strerror(e));
	}
	if (fclose(f) != 0)
		die("cannot write %s: %s", path, strerror(errno));
}

static void write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
	BIO *bio = BIO_new_file(path, "w");
	if (!bio)
		die("cannot create %s: %s", path, strerror(errno));
	int ok = cert ? PEM_write_bio_X509(bio, cert)
		      : PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
	if (!ok || BIO_flush(bio) <= 0)
		die_ssl(path);
	BIO_free(bio);
}

/* ======================================================================
 * Zip (libarchive) and other attachment payloads
 * ====================================================================== */

static bytes make_zip(const char *name, const void *data, size_t n)
{
	size_t cap = 65536 + 2 * n, used = 0;
	unsigned char *mem = own(xmalloc(cap));
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	if (!a || !e)
		die("libarchive: out of memory");
	if (archive_write_set_format_zip(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open_memory(a, mem, cap, &used) != ARCHIVE_OK)
		die("libarchive: %s", archive_error_string(a));
	archive_entry_set_pathname(e, name);
	archive_entry_set_size(e, (la_int64_t)n);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_mtime(e, (time_t)g.t - 3600, 0); /* fixed, for reproducible zips */
	if (archive_write_header(a, e) != ARCHIVE_OK)
		die("libarchive: %s", archive_error_string(a));
	if (archive_write_data(a, data, n) != (la_ssize_t)n)
		die("libarchive: %s", archive_error_string(a));
	if (archive_write_close(a) != ARCHIVE_OK)
		die("libarchive: %s", archive_error_string(a));
	archive_entry_free(e);
	archive_write_free(a);
	bytes r = {mem, used};
	return r;
}

/* The EICAR test string, joined at run time from two halves so that this
 * source file and its object code do not match antivirus signatures. */
static char *eicar(void)
{
	return sfmt("%s%s", "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-",
		    "STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
}

/* A small one-page PDF with a correct cross-reference table. */
static bytes fake_pdf(const char *line)
{
	buf b = {0};
	const char *stream = sfmt("BT /F1 14 Tf 72 770 Td (%s) Tj ET\n", line);
	const char *obj[5] = {
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
		"/Resources << /Font << /F1 5 0 R >> >> >>",
		sfmt("<< /Length %zu >>\nstream\n%sendstream", strlen(stream), stream),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	};
	size_t off[5];
	buf_puts(&b, "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n");
	for (size_t i = 0; i < 5; i++) {
		off[i] = b.len;
		buf_printf(&b, "%zu 0 obj\n%s\nendobj\n", i + 1, obj[i]);
	}
	size_t xref = b.len;
	buf_puts(&b, "xref\n0 6\n0000000000 65535 f \n");
	for (size_t i = 0; i < 5; i++)
		buf_printf(&b, "%010zu 00000 n \n", off[i]);
	buf_printf(&b, "trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", xref);
	return buf_own_bytes(&b);
}

/* Deterministic noise (SHA-256 in counter mode) for the garbage signature. */
static bytes noise(const char *salt, size_t n)
{
	buf b = {0};
	for (unsigned ctr = 0; b.len < n; ctr++) {
		char *seed = sfmt("%s/%s/%u", g.casename, salt, ctr);
		unsigned char md[32];
		sha256_of(seed, strlen(seed), md);
		buf_add(&b, md, n - b.len < 32 ? n - b.len : 32);
	}
	b.p[0] = 0x5A; /* never a DER SEQUENCE tag, so no parser mistakes it for CMS */
	return buf_own_bytes(&b);
}

/* A 1x1 PNG. */
static const char PNG_B64[] = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAC"
			      "hwGA60e6kgAAAABJRU5ErkJggg==\n";

/* ======================================================================
 * MIME building blocks.  A "part" is a string of headers, a blank line and
 * a body, ending in "\n".
 * ====================================================================== */

/* Refuses a boundary that occurs at the start of a line in a part: such a
 * message would split in the wrong place. */
static void check_boundary(const char *text, const char *boundary)
{
	size_t bl = strlen(boundary);
	for (const char *p = text; p;) {
		if (p[0] == '-' && p[1] == '-' && strncmp(p + 2, boundary, bl) == 0)
			die("internal: boundary \"%s\" occurs inside a body part (case %s)",
			    boundary, g.casename);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
}

/* The body of a multipart entity.  The "\n" written after each part belongs
 * to the next delimiter (RFC 2046: delimiter := CRLF "--" boundary), so the
 * part keeps its own final line end. */
static char *multipart_body(const char *boundary, const char *preamble, const char *const *parts,
			    size_t n)
{
	buf b = {0};
	if (preamble) {
		check_boundary(preamble, boundary);
		buf_puts(&b, preamble);
		buf_putc(&b, '\n');
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(parts[i]);
		if (!len || parts[i][len - 1] != '\n')
			die("internal: body part without final line end (case %s)", g.casename);
		check_boundary(parts[i], boundary);
		buf_printf(&b, "--%s\n%s\n", boundary, parts[i]);
	}
	buf_printf(&b, "--%s--\n", boundary);
	return buf_own(&b);
}

static char *leaf_ex(const char *ctype, const char *disp, const char *cte, const void *data,
		     size_t n, const char *extra, size_t width)
{
	buf b = {0};
	buf_printf(&b, "Content-Type: %s\n", ctype);
	if (disp)
		buf_printf(&b, "Content-Disposition: %s\n", disp);
	buf_printf(&b, "Content-Transfer-Encoding: %s\n", cte);
	if (extra)
		buf_puts(&b, extra);
	buf_putc(&b, '\n');
	if (strcmp(cte, "base64") == 0) {
		b64_encode(&b, data, n, width);
	} else if (strcmp(cte, "quoted-printable") == 0) {
		qp_encode(&b, data, n);
	} else {
		buf_add(&b, data, n);
		if (n == 0 || ((const char *)data)[n - 1] != '\n')
			buf_putc(&b, '\n');
	}
	return buf_own(&b);
}

static char *leaf(const char *ctype, const char *disp, const char *cte, const void *data, size_t n)
{
	return leaf_ex(ctype, disp, cte, data, n, NULL, 76);
}

static char *leaf_text(const char *ctype, const char *disp, const char *cte, const char *text)
{
	return leaf(ctype, disp, cte, text, strlen(text));
}

static char *attachment(const char *type, const char *name, bytes d)
{
	return leaf(sfmt("%s; name=\"%s\"", type, name), sfmt("attachment; filename=\"%s\"", name),
		    "base64", d.p, d.n);
}

static char *mpart(const char *type, const char *boundary, const char *const *parts, size_t n)
{
	return sfmt("Content-Type: %s;\n boundary=\"%s\"\n\n%s", type, boundary,
		    multipart_body(boundary, NULL, parts, n));
}

/* A plain-text letter as simple HTML: paragraphs at blank lines. */
static char *simple_html(const char *text)
{
	buf b = {0};
	buf_puts(&b, "<html><body>\n<p>");
	const char *esc = markup_esc(text);
	for (const char *p = esc; *p; p++) {
		if (*p != '\n') {
			buf_putc(&b, *p);
		} else if (p[1] == '\n') {
			buf_puts(&b, "</p>\n<p>");
			while (p[1] == '\n')
				p++;
		} else if (p[1] != '\0') {
			buf_puts(&b, "<br>\n");
		}
	}
	buf_puts(&b, "</p>\n</body></html>\n");
	return buf_own(&b);
}

static char *alt_part(const char *text, const char *cte, const char *boundary)
{
	const char *parts[2] = {
		leaf_text("text/plain; charset=utf-8", NULL, cte, text),
		leaf_text("text/html; charset=utf-8", NULL, cte, simple_html(text))};
	return mpart("multipart/alternative", boundary, parts, 2);
}

/* ======================================================================
 * Header lists: kept as name/value pairs so tamper cases can edit them.
 * ====================================================================== */

typedef struct {
	const char *name, *value;
} hdr;

typedef struct {
	hdr v[40];
	size_t n;
} hdrs;

static void h_insert(hdrs *h, size_t at, const char *name, const char *value)
{
	if (h->n == sizeof h->v / sizeof h->v[0])
		die("internal: too many headers");
	memmove(&h->v[at + 1], &h->v[at], (h->n - at) * sizeof h->v[0]);
	h->v[at].name = name;
	h->v[at].value = value;
	h->n++;
}

static void h_add(hdrs *h, const char *name, const char *value)
{
	h_insert(h, h->n, name, value);
}

static size_t h_index(const hdrs *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (ascii_ieq(h->v[i].name, name))
			return i;
	die("internal: header %s missing (case %s)", name, g.casename);
}

static void h_set(hdrs *h, const char *name, const char *value)
{
	h->v[h_index(h, name)].value = value;
}

static void h_rename(hdrs *h, const char *name, const char *newname)
{
	h->v[h_index(h, name)].name = newname;
}

static void h_del(hdrs *h, const char *name)
{
	size_t i = h_index(h, name);
	memmove(&h->v[i], &h->v[i + 1], (h->n - i - 1) * sizeof h->v[0]);
	h->n--;
}

static char *h_render(const hdrs *h)
{
	buf b = {0};
	for (size_t i = 0; i < h->n; i++)
		buf_printf(&b, "%s: %s\n", h->v[i].name, h->v[i].value);
	return buf_own(&b);
}

/* ======================================================================
 * The original message (what becomes postacert.eml)
 * ====================================================================== */

typedef struct {
	const char *addr;
	int cc;      /* in Cc rather than To */
	int esterno; /* recipient outside the PEC system */
} rcpt;

typedef struct {
	const char *from_name, *from;
	rcpt rcpt[4];
	size_t nrcpt;
	const char *subject;
	const char *msgid; /* with angle brackets */
	int64_t date;
	const char *ctype, *cte; /* top-level Content-Type value; CTE or NULL */
	const char *body;
} orig_msg;

/* Message-IDs in the styles seen in real traffic: the Aruba-like webmail's
 * "XXXXXX$hex" for Alfa's users, a plain hex id elsewhere. */
static char *gen_msgid(const char *from, const char *salt)
{
	const char *dom = domain_of(from);
	const char *h = tag_hex(salt);
	if (ends_with(dom, "alfa.test"))
		return sfmt("<%.6s$%.32s@%s>", h + 40, h, dom);
	return sfmt("<%.24s@%s>", h, dom);
}

static orig_msg orig_new(const char *from_name, const char *from, const char *subject)
{
	orig_msg m;
	memset(&m, 0, sizeof m);
	m.from_name = from_name;
	m.from = from;
	m.subject = subject;
	m.msgid = gen_msgid(from, "msgid");
	m.date = g.t - 120;
	return m;
}

static void orig_rcpt(orig_msg *m, const char *addr, int cc, int esterno)
{
	if (m->nrcpt == sizeof m->rcpt / sizeof m->rcpt[0])
		die("internal: too many recipients");
	m->rcpt[m->nrcpt].addr = addr;
	m->rcpt[m->nrcpt].cc = cc;
	m->rcpt[m->nrcpt].esterno = esterno;
	m->nrcpt++;
}

static void orig_multipart(orig_msg *m, const char *type, const char *boundary,
			   const char *const *parts, size_t n)
{
	m->ctype = sfmt("%s;\n boundary=\"%s\"", type, boundary);
	m->cte = NULL;
	m->body = multipart_body(boundary, NULL, parts, n);
}

static void orig_alt(orig_msg *m, const char *text, const char *cte)
{
	const char *boundary = sfmt("=_alt_%.12s", tag_hex("alt"));
	const char *parts[2] = {
		leaf_text("text/plain; charset=utf-8", NULL, cte, text),
		leaf_text("text/html; charset=utf-8", NULL, cte, simple_html(text))};
	orig_multipart(m, "multipart/alternative", boundary, parts, 2);
}

static void orig_plain(orig_msg *m, const char *text)
{
	m->ctype = "text/plain; charset=utf-8";
	m->cte = is_7bit(text) ? "7bit" : "8bit";
	m->body = text;
}

static char *addr_list(const orig_msg *m, int cc)
{
	buf b = {0};
	for (size_t i = 0; i < m->nrcpt; i++) {
		if (m->rcpt[i].cc != cc)
			continue;
		if (b.len)
			buf_puts(&b, ", ");
		buf_puts(&b, m->rcpt[i].addr);
	}
	if (b.len == 0) {
		free(b.p);
		return NULL; /* no such header */
	}
	return buf_own(&b);
}

/* ident != NULL: the provider put its identificativo in Message-ID and
 * copied the original id and X-TipoRicevuta, as Aruba does (PEC.md §1). */
static char *render_orig(const orig_msg *m, const char *ident)
{
	buf b = {0};
	const char *dom = domain_of(m->from);
	char *to = addr_list(m, 0), *cc = addr_list(m, 1);
	buf_printf(&b,
		   "Received: from webmail.%s (webmail.%s [192.0.2.44])\n"
		   "\tby smtps.%s (Postfix) with ESMTPSA id 4ZF0%04d\n"
		   "\tfor <%s>; %s\n",
		   dom, dom, dom, g.seq, m->rcpt[0].addr, fmt_date(m->date));
	buf_printf(&b, "Date: %s\nSubject: %s\n", fmt_date(m->date), m->subject);
	if (m->from_name)
		buf_printf(&b, "From: \"%s\" <%s>\n", m->from_name, m->from);
	else
		buf_printf(&b, "From: %s\n", m->from);
	if (to)
		buf_printf(&b, "To: %s\n", to);
	if (cc)
		buf_printf(&b, "Cc: %s\n", cc);
	if (ident)
		buf_printf(&b,
			   "X-TipoRicevuta: completa\nMessage-ID: <%s>\nX-Riferimento-Message-ID: "
			   "%s\n",
			   ident, m->msgid);
	else
		buf_printf(&b, "Message-ID: %s\n", m->msgid);
	buf_printf(&b, "MIME-Version: 1.0\nContent-Type: %s\n", m->ctype);
	if (m->cte)
		buf_printf(&b, "Content-Transfer-Encoding: %s\n", m->cte);
	buf_printf(&b, "\n%s", m->body);
	return buf_own(&b);
}

/* ======================================================================
 * PEC messages: transport envelopes, receipts, anomaly envelopes
 * ====================================================================== */

enum pec_kind { K_ENVELOPE, K_RECEIPT, K_ANOMALY };
enum dc_mode { DC_NORMAL, DC_NONE, DC_UTF16, DC_MALFORMED };

typedef struct {
	enum pec_kind kind;
	const char *tipo;       /* daticert @tipo; X-Ricevuta for receipts */
	const provider *issuer; /* provider that writes (and normally signs) it */
	const party *signer;    /* NULL: the issuer's certificate */
	const orig_msg *orig;   /* the message it certifies */
	const char *ricevuta;   /* X-TipoRicevuta and <ricevuta tipo>, or NULL */
	const char *errore;     /* daticert @errore, NULL = nessuno */
	const char *errore_esteso;
	const char *consegna;           /* the recipient a delivery notice is about */
	const char *to;                 /* receipt To:, NULL = the original sender */
	const char *prefix;             /* Subject prefix, NULL = from tipo */
	const char *title;              /* certification text title, NULL = from tipo */
	const char *outcome;            /* certification text outcome line, NULL = from tipo */
	int include_orig;               /* receipts: carry postacert.eml */
	int no_postacert;               /* envelopes: leave postacert.eml out */
	const orig_msg *postacert_orig; /* replaces the original inside postacert.eml only */
	const char *daticert_mittente;  /* replaces <mittente> only */
	enum dc_mode dc;
	int sha1;        /* SHA-1 digest, micalg=sha1 (Aruba 2014 shape) */
	int pkcs7_proto; /* application/pkcs7-signature instead of the x- form */
	int corrupt_sig; /* flip one byte of the RSA signature value */
	int opaque;      /* embed the content: application/pkcs7-mime */
	int nocerts;     /* leave the signer certificate out of the CMS */
	int noattrs;     /* no signed attributes (so no signingTime) */
} pec_spec;

typedef struct {
	hdrs h;              /* top-level headers, Content-Type included */
	char *entity;        /* the signed first part (LF) */
	bytes sig;           /* DER CMS SignedData */
	char *boundary;      /* multipart/signed boundary */
	char *ctype;         /* multipart/signed Content-Type value */
	const char *sigtype; /* Content-Type of the signature part */
	char *ident;         /* identificativo */
} pec_out;

static pec_spec env_spec(const provider *pv, const orig_msg *m)
{
	pec_spec s;
	memset(&s, 0, sizeof s);
	s.kind = K_ENVELOPE;
	s.tipo = "posta-certificata";
	s.issuer = pv;
	s.orig = m;
	s.ricevuta = "completa";
	return s;
}

static pec_spec rcpt_spec(const char *tipo, const provider *pv, const orig_msg *m)
{
	pec_spec s;
	memset(&s, 0, sizeof s);
	s.kind = K_RECEIPT;
	s.tipo = tipo;
	s.issuer = pv;
	s.orig = m;
	return s;
}

static char *make_ident(const provider *pv)
{
	return sfmt("opec%d01.%s.%d.%d.1.%d@%s", pv->code, fmt_stamp(g.t), 30000 + g.seq,
		    g.seq % 9 + 1, g.seq, pv->domains[0]);
}

typedef struct {
	const char *tipo, *prefix, *title, *outcome;
} receipt_kind;

/* Subject prefixes and certification texts per receipt type (PEC.md §2);
 * "%s" in an outcome is the error text. */
static const receipt_kind RECEIPT_KINDS[] = {
	{"accettazione", "ACCETTAZIONE: ", "Ricevuta di accettazione",
	 "è stato accettato dal sistema ed inoltrato."},
	{"non-accettazione", "AVVISO DI NON ACCETTAZIONE: ", "Avviso di non accettazione",
	 "non è stato accettato per il seguente errore: %s"},
	{"presa-in-carico", "PRESA IN CARICO: ", "Ricevuta di presa in carico",
	 "è stato preso in carico dal sistema di destinazione."},
	{"avvenuta-consegna", "CONSEGNA: ", "Ricevuta di avvenuta consegna",
	 "è stato consegnato nella casella di destinazione."},
	{"errore-consegna", "AVVISO DI MANCATA CONSEGNA: ", "Avviso di mancata consegna",
	 "non è stato consegnato per il seguente errore: %s"},
	{"preavviso-errore-consegna",
	 "AVVISO DI MANCATA CONSEGNA ENTRO 12 ORE: ", "Avviso di mancata consegna entro 12 ore",
	 "non è stato consegnato entro le prime 12 ore dall'invio (%s).\n"
	 "Il sistema continuerà a tentare la consegna fino allo scadere delle 24 ore."},
	{"rilevazione-virus", "PROBLEMA DI SICUREZZA: ", "Avviso di rilevazione virus informatico",
	 "contiene un virus informatico (%s) e non è stato consegnato."},
};

static const receipt_kind *receipt_kind_of(const char *tipo)
{
	for (size_t i = 0; i < sizeof RECEIPT_KINDS / sizeof RECEIPT_KINDS[0]; i++)
		if (strcmp(RECEIPT_KINDS[i].tipo, tipo) == 0)
			return &RECEIPT_KINDS[i];
	die("internal: unknown receipt type %s", tipo);
}

static const char *subject_prefix(const pec_spec *s)
{
	if (s->prefix)
		return s->prefix;
	if (s->kind == K_ENVELOPE)
		return "POSTA CERTIFICATA: ";
	if (s->kind == K_ANOMALY)
		return "ANOMALIA MESSAGGIO: ";
	return receipt_kind_of(s->tipo)->prefix;
}

/* The human-readable certification text (UTF-8; turned into ISO-8859-1). */
static char *cert_text(const pec_spec *s, const char *ident, const char **title)
{
	const orig_msg *m = s->orig;
	const char *giorno = fmt_giorno(g.t), *ora = fmt_ora(g.t);
	buf b = {0};
	if (s->kind == K_ENVELOPE) {
		*title = "Messaggio di posta certificata";
		buf_printf(&b,
			   "--Questo è un Messaggio di Posta Certificata--\n\n"
			   "Il giorno %s alle ore %s (+0100) il messaggio con Oggetto\n"
			   "\"%s\" è stato inviato dal mittente \"%s\"\n"
			   "e indirizzato a:\n",
			   giorno, ora, m->subject, m->from);
		for (size_t i = 0; i < m->nrcpt; i++)
			buf_printf(&b, "%s\n", m->rcpt[i].addr);
		buf_printf(
			&b,
			"Il messaggio originale è incluso in allegato, per aprirlo cliccare sul "
			"file "
			"\"postacert.eml\" (nella webmail o in alcuni client di posta l'allegato "
			"potrebbe avere come nome l'oggetto del messaggio originale).\n"
			"L'allegato daticert.xml contiene informazioni di servizio sulla "
			"trasmissione\n"
			"L'identificativo univoco di questo messaggio è: %s\n",
			ident);
	} else if (s->kind == K_ANOMALY) {
		*title = "Anomalia nel messaggio";
		buf_printf(&b,
			   "Anomalia nel messaggio\n"
			   "Il giorno %s alle ore %s (+0100) è stato ricevuto\n"
			   "il messaggio \"%s\" proveniente da \"%s\"\n"
			   "ed indirizzato a:\n",
			   giorno, ora, m->subject, m->from);
		for (size_t i = 0; i < m->nrcpt; i++)
			buf_printf(&b, "%s\n", m->rcpt[i].addr);
		buf_printf(&b,
			   "Tali dati non sono stati certificati per il seguente errore:\n"
			   "il messaggio non è un messaggio di posta certificata\n"
			   "Il messaggio originale è incluso in allegato.\n"
			   "Identificativo messaggio: %s\n",
			   ident);
	} else {
		const receipt_kind *rk = receipt_kind_of(s->tipo);
		*title = s->title ? s->title : rk->title;
		buf_printf(&b,
			   "%s\n\n"
			   "Il giorno %s alle ore %s (+0100) il messaggio\n"
			   "\"%s\" proveniente da \"%s\"\n"
			   "ed indirizzato a:\n",
			   *title, giorno, ora, m->subject, m->from);
		if (s->consegna) {
			buf_printf(&b, "%s\n", s->consegna);
		} else {
			for (size_t i = 0; i < m->nrcpt; i++)
				buf_printf(&b, "%s\n", m->rcpt[i].addr);
		}
		const char *outcome = s->outcome ? s->outcome : rk->outcome;
		if (strstr(outcome, "%s"))
			outcome = replace_once(outcome, "%s",
					       s->errore_esteso ? s->errore_esteso : "");
		buf_printf(&b, "%s\nIdentificativo messaggio: %s\n", outcome, ident);
	}
	return buf_own(&b);
}

static char *cert_html(const char *title, const char *text)
{
	buf b = {0};
	buf_printf(&b, "<html>\n<head><title>%s</title></head>\n<body>\n<h3>%s</h3>\n<hr><br>\n",
		   title, title);
	const char *esc = markup_esc(text);
	for (const char *p = esc; *p;) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		buf_add(&b, p, n);
		buf_puts(&b, "<br>\n");
		p += n + (e ? 1 : 0);
	}
	buf_puts(&b, "</body>\n</html>\n");
	return buf_own(&b);
}

static char *daticert_xml(const pec_spec *s, const char *ident, const char *encoding)
{
	const orig_msg *m = s->orig;
	buf b = {0};
	buf_printf(&b, "<?xml version=\"1.0\" encoding=\"%s\"?>\n", encoding);
	buf_printf(&b, "<postacert tipo=\"%s\" errore=\"%s\">\n", s->tipo,
		   s->errore ? s->errore : "nessuno");
	buf_puts(&b, "    <intestazione>\n");
	buf_printf(&b, "        <mittente>%s</mittente>\n",
		   markup_esc(s->daticert_mittente ? s->daticert_mittente : m->from));
	for (size_t i = 0; i < m->nrcpt; i++)
		buf_printf(&b, "        <destinatari tipo=\"%s\">%s</destinatari>\n",
			   m->rcpt[i].esterno ? "esterno" : "certificato",
			   markup_esc(m->rcpt[i].addr));
	buf_printf(&b, "        <risposte>%s</risposte>\n", markup_esc(m->from));
	buf_printf(&b, "        <oggetto>%s</oggetto>\n", markup_esc(m->subject));
	buf_puts(&b, "    </intestazione>\n    <dati>\n");
	buf_printf(&b, "        <gestore-emittente>%s</gestore-emittente>\n",
		   markup_esc(s->issuer->name));
	buf_printf(&b,
		   "        <data zona=\"+0100\">\n"
		   "            <giorno>%s</giorno>\n"
		   "            <ora>%s</ora>\n"
		   "        </data>\n",
		   fmt_giorno(g.t), fmt_ora(g.t));
	buf_printf(&b, "        <identificativo>%s</identificativo>\n", markup_esc(ident));
	buf_printf(&b, "        <msgid>%s</msgid>\n", markup_esc(m->msgid));
	if (s->ricevuta && (s->kind == K_ENVELOPE || strcmp(s->tipo, "avvenuta-consegna") == 0))
		buf_printf(&b, "        <ricevuta tipo=\"%s\" />\n", s->ricevuta);
	if (s->consegna)
		buf_printf(&b, "        <consegna>%s</consegna>\n", markup_esc(s->consegna));
	if (s->errore_esteso)
		buf_printf(&b, "        <errore-esteso>%s</errore-esteso>\n",
			   markup_esc(s->errore_esteso));
	buf_puts(&b, "    </dati>\n</postacert>\n");
	return buf_own(&b);
}

static bytes daticert_bytes(const pec_spec *s, const char *ident)
{
	switch (s->dc) {
	case DC_UTF16:
		return utf16be_of(daticert_xml(s, ident, "UTF-16"));
	case DC_MALFORMED: {
		/* Cut inside <dati>: unclosed elements, so not well-formed. */
		const char *x = daticert_xml(s, ident, "UTF-8");
		const char *cut = strstr(x, "</gestore-emittente>");
		if (!cut)
			die("internal: daticert without gestore-emittente");
		return text_bytes(sfmt("%.*s\n", (int)(cut - x), x));
	}
	default:
		return text_bytes(daticert_xml(s, ident, "UTF-8"));
	}
}

typedef struct {
	const party *signer;
	const EVP_MD *md;
	int opaque;
	int corrupt;
	int64_t signing_time;
	int nocerts; /* the verifier must find the certificate elsewhere (the index) */
	int noattrs; /* a signature over the content digest alone: no signingTime */
} sign_opts;

/* CMS SignedData over the CRLF form of `content_lf`: detached unless
 * opaque, signer certificate included unless nocerts, signingTime = the
 * message date unless noattrs. */
static bytes cms_sign(const sign_opts *o, const char *content_lf)
{
	bytes crlf = to_crlf(content_lf);
	unsigned flags = CMS_BINARY | (o->opaque ? 0 : CMS_DETACHED);
	CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, flags | CMS_PARTIAL);
	if (!cms)
		die_ssl("CMS_sign");
	unsigned sflags =
		CMS_BINARY | (o->nocerts ? CMS_NOCERTS : 0) | (o->noattrs ? CMS_NOATTR : 0);
	CMS_SignerInfo *si = CMS_add1_signer(cms, o->signer->cert, o->signer->key, o->md, sflags);
	if (!si)
		die_ssl("CMS_add1_signer");
	/* Added before CMS_final, which then keeps it instead of using "now". */
	if (!o->noattrs) {
		ASN1_TIME *st = ASN1_TIME_set(NULL, (time_t)o->signing_time);
		if (!st || !CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime,
							ASN1_STRING_type(st), st, -1))
			die_ssl("adding signingTime");
		ASN1_TIME_free(st);
	}
	BIO *in = BIO_new_mem_buf(crlf.p, (int)crlf.n);
	if (!in || !CMS_final(cms, in, NULL, flags))
		die_ssl("CMS_final");
	BIO_free(in);
	if (o->corrupt) {
		ASN1_OCTET_STRING *sv = CMS_SignerInfo_get0_signature(si);
		int n = ASN1_STRING_length(sv);
		unsigned char *copy = xmalloc((size_t)n);
		memcpy(copy, ASN1_STRING_get0_data(sv), (size_t)n);
		copy[n / 2] ^= 0x01;
		if (!ASN1_OCTET_STRING_set(sv, copy, n))
			die_ssl("ASN1_OCTET_STRING_set");
		free(copy);
	}
	unsigned char *der = NULL;
	int n = i2d_CMS_ContentInfo(cms, &der);
	if (n <= 0)
		die_ssl("i2d_CMS_ContentInfo");
	buf b = {0};
	buf_add(&b, der, (size_t)n);
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	return buf_own_bytes(&b);
}

static char *received(const char *from_host, const char *ip, const char *by_dom, const char *id,
		      const char *for_addr)
{
	return sfmt("from %s (%s [%s])\n\tby mx.%s (Postfix) with ESMTPS id %s\n\tfor <%s>; %s",
		    from_host, from_host, ip, by_dom, id, for_addr, fmt_date(g.t));
}

static void pec_build(const pec_spec *s, pec_out *o)
{
	const orig_msg *m = s->orig;
	const provider *pv = s->issuer;
	const char *pdom = pv->domains[0];
	memset(o, 0, sizeof *o);
	o->ident = make_ident(pv);

	const char *title;
	const char *text = cert_text(s, o->ident, &title);
	const char *html = cert_html(title, text);
	const char *ltext = latin1_of(text), *lhtml = latin1_of(html);

	const char *bmix = sfmt("----------=_%lld-%d-178", (long long)g.t, 30000 + g.seq);
	const char *balt = sfmt("----------=_%lld-%d-179", (long long)g.t, 30000 + g.seq);
	const char *alt[2] = {
		leaf("text/plain; charset=\"iso-8859-1\"", "inline", "quoted-printable", ltext,
		     strlen(ltext)),
		leaf("text/html; charset=\"iso-8859-1\"", "inline", "quoted-printable", lhtml,
		     strlen(lhtml)),
	};
	const char *parts[3];
	size_t np = 0;
	parts[np++] = sfmt("Content-Type: multipart/alternative;\n boundary=\"%s\"\n"
			   "Content-Transfer-Encoding: binary\n\n%s",
			   balt, multipart_body(balt, NULL, alt, 2));
	if (s->kind != K_ANOMALY && s->dc != DC_NONE) {
		bytes dc = daticert_bytes(s, o->ident);
		parts[np++] = leaf_ex("application/xml; name=\"daticert.xml\"",
				      "inline; filename=\"daticert.xml\"", "base64", dc.p, dc.n,
				      NULL, 60);
	}
	int with_orig = s->kind == K_RECEIPT ? s->include_orig : !s->no_postacert;
	if (with_orig) {
		const char *pc =
			render_orig(s->postacert_orig ? s->postacert_orig : m,
				    s->kind == K_ENVELOPE && pv->rewrites_msgid ? o->ident : NULL);
		parts[np++] = sfmt("Content-Type: message/rfc822; name=\"postacert.eml\"\n"
				   "Content-Disposition: inline; filename=\"postacert.eml\"\n"
				   "Content-Transfer-Encoding: %s\n\n%s",
				   is_7bit(pc) ? "7bit" : "8bit", pc);
	}
	o->entity = sfmt("Content-Type: multipart/mixed; boundary=\"%s\"\n"
			 "Content-Transfer-Encoding: binary\nMIME-Version: 1.0\n\n%s",
			 bmix, multipart_body(bmix, NULL, parts, np));

	sign_opts so = {s->signer ? s->signer : pv->p,
			s->sha1 ? EVP_sha1() : EVP_sha256(),
			s->opaque,
			s->corrupt_sig,
			g.t,
			s->nocerts,
			s->noattrs};
	o->sig = cms_sign(&so, o->entity);
	o->boundary = sfmt("----%.32s", tag_hex("smime"));
	o->sigtype =
		s->pkcs7_proto ? "application/pkcs7-signature" : "application/x-pkcs7-signature";
	o->ctype = sfmt("multipart/signed; protocol=\"%s\"; micalg=%s; boundary=\"%s\"", o->sigtype,
			s->sha1 ? "sha1" : "\"sha-256\"", o->boundary);

	/* Header order as in the providers' messages (shared oracle, PEC.md §1-2). */
	hdrs *h = &o->h;
	const char *subject = sfmt("%s%s", subject_prefix(s), m->subject);
	char *to = addr_list(m, 0), *cc = addr_list(m, 1);
	if (s->kind == K_RECEIPT) {
		const char *rto = s->to ? s->to : m->from;
		h_add(h, "Received",
		      received(sfmt("smtp.%s", pdom), "192.0.2.23", domain_of(rto),
			       sfmt("4ZR1%04d", g.seq), rto));
		h_add(h, "Subject", subject);
		h_add(h, "X-Riferimento-Message-ID", m->msgid);
		h_add(h, "Date", fmt_date(g.t));
		h_add(h, "Message-ID", sfmt("<%s>", o->ident));
		h_add(h, "To", rto);
		h_add(h, "From", sfmt("posta-certificata@%s", pdom));
		h_add(h, "X-Ricevuta", s->tipo);
		if (s->ricevuta)
			h_add(h, "X-TipoRicevuta", s->ricevuta);
		h_add(h, "MIME-Version", "1.0");
		h_add(h, "Content-Type", o->ctype);
	} else {
		h_add(h, "Received",
		      received(sfmt("smtp.%s", pdom), "192.0.2.13", domain_of(m->rcpt[0].addr),
			       sfmt("4ZG1%04d", g.seq), m->rcpt[0].addr));
		h_add(h, "Subject", subject);
		h_add(h, "X-Riferimento-Message-ID", m->msgid);
		h_add(h, "Date", fmt_date(g.t));
		h_add(h, "Reply-To", m->from);
		if (to)
			h_add(h, "To", to);
		if (cc)
			h_add(h, "Cc", cc);
		h_add(h, "X-Trasporto", s->kind == K_ENVELOPE ? "posta-certificata" : "errore");
		h_add(h, "From",
		      sfmt("\"Per conto di: %s\" <posta-certificata@%s>", m->from, pdom));
		if (s->kind == K_ENVELOPE)
			h_add(h, "X-TipoRicevuta", s->ricevuta ? s->ricevuta : "completa");
		h_add(h, "MIME-Version", "1.0");
		h_add(h, "Content-Type", o->ctype);
		h_add(h, "Message-ID", sfmt("<%s>", o->ident));
	}
}

static char *sig_part(const pec_out *o)
{
	buf b = {0};
	buf_printf(&b,
		   "Content-Type: %s; name=\"smime.p7s\"\nContent-Transfer-Encoding: base64\n"
		   "Content-Disposition: attachment; filename=\"smime.p7s\"\n\n",
		   o->sigtype);
	b64_encode(&b, o->sig.p, o->sig.n, 64);
	return buf_own(&b);
}

static char *pec_signed_body(const pec_out *o, int sig_first)
{
	const char *sp = sig_part(o);
	const char *parts[2] = {sig_first ? sp : o->entity, sig_first ? o->entity : sp};
	return multipart_body(o->boundary, "This is an S/MIME signed message\n", parts, 2);
}

static char *pec_render(const pec_out *o, int sig_first)
{
	return sfmt("%s\n%s", h_render(&o->h), pec_signed_body(o, sig_first));
}

/* ======================================================================
 * Output: messages and expected.tsv
 * ====================================================================== */

#define EXPECTED_HEADER "# file\tclass\tpec_type\tprovider\treason\tat\tnote\n"

#define CL_PEO     "peo"
#define CL_ENV     "pec-envelope"
#define CL_RCPT    "pec-receipt"
#define CL_ANOM    "pec-anomaly"
#define CL_INVALID "invalid-pec"

/* One line of expected.tsv for the current case: what pecguard must report
 * when it verifies the signer certificate at `at` ("" = now, the default;
 * "signing-time" or an ISO 8601 time as `pecguard scan --at` takes it).  A
 * message may have a line for each verification time. */
static void expect(const char *cls, const char *type, const char *prov, const char *reason,
		   const char *at, const char *note)
{
	buf_printf(&g.expected, "%s.eml\t%s\t%s\t%s\t%s\t%s\t%s\n", g.casename, cls,
		   type ? type : "", prov ? prov : "", reason ? reason : "", at ? at : "",
		   note ? note : "");
}

/* Writes the current case's message and its expected line (at now). */
static void emit(const char *msg, int crlf, const char *cls, const char *type, const char *prov,
		 const char *reason, const char *note)
{
	/* Lines over 998 octets would not survive SMTP (RFC 5322 §2.1.1). */
	for (const char *p = msg; *p;) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n > 998)
			die("internal: line of %zu octets in %s", n, g.casename);
		p += n + (e ? 1 : 0);
	}
	const char *path = sfmt("%s/%s/%s.eml", g.outdir, g.msgdir, g.casename);
	if (crlf) {
		bytes c = to_crlf(msg);
		write_file(path, c.p, c.n);
	} else {
		(void)to_crlf(msg); /* checks for bare CRs */
		write_file(path, msg, strlen(msg));
	}
	expect(cls, type, prov, reason, "", note);
	g.nmsg++;
}

/* ======================================================================
 * Message texts
 * ====================================================================== */

static const char TXT_ORDER[] =
	"Gentili signori,\n\n"
	"con la presente confermiamo l'ordine n. 2026/118 del 15/01/2026 per la fornitura di 40 "
	"quadri elettrici modello QE-200.\n"
	"La consegna è prevista entro il 27/02/2026 presso la vostra sede di Bergamo.\n\n"
	"Cordiali saluti\n"
	"Lucia Ferraro\n"
	"Ferraro Impianti S.r.l.\n";

static const char TXT_INVOICE[] =
	"Buongiorno,\n\n"
	"in allegato trasmettiamo copia di cortesia della fattura n. 42/2026 relativa alla "
	"fornitura di gennaio.\n"
	"Il pagamento è previsto a 60 giorni data fattura sull'IBAN "
	"IT60X0542811101000000123456.\n\n"
	"Cordiali saluti\n"
	"Ufficio amministrazione\n"
	"Ferraro Impianti S.r.l.\n";

static const char TXT_MEETING[] =
	"Gentili colleghi,\n\n"
	"si trasmette il verbale della riunione del 12/01/2026 sul cantiere di via Roma.\n"
	"Eventuali osservazioni vanno inviate entro venerdì 23/01/2026.\n\n"
	"Cordiali saluti\n"
	"Lucia Ferraro\n";

/* Epsilon's user writes to beta's purchasing office. */
static orig_msg epsilon_orig(const char *subject)
{
	orig_msg m = orig_new("Marta Fontana", "marta.fontana@pec.epsilon.test", subject);
	orig_rcpt(&m, "acquisti@pec.beta.test", 0, 0);
	orig_alt(&m, TXT_MEETING, "base64");
	return m;
}

/* Simple case: alfa's user writes to beta's purchasing office. */
static orig_msg alfa_orig(const char *subject)
{
	orig_msg m = orig_new("Lucia Ferraro", "lucia.ferraro@pec.alfa.test", subject);
	orig_rcpt(&m, "acquisti@pec.beta.test", 0, 0);
	orig_rcpt(&m, "protocollo@pec.beta.test", 1, 0);
	return m;
}

static pec_out alfa_text_envelope(const char *subject)
{
	orig_msg *m = own(xmalloc(sizeof *m));
	*m = alfa_orig(subject);
	orig_alt(m, TXT_ORDER, "base64");
	pec_spec s = env_spec(ALFA, m);
	pec_out o;
	pec_build(&s, &o);
	return o;
}

/* ======================================================================
 * Cases: valid transport envelopes
 * ====================================================================== */

static void gen_envelopes(void)
{
	case_begin("env-alfa-text");
	{
		pec_out o = alfa_text_envelope("Conferma ordine n. 2026/118");
		emit(pec_render(&o, 0), 0, CL_ENV, "posta-certificata", ALFA->name, "",
		     "sig=x-pkcs7/sha-256;postacert=alternative(text,html) base64;to+cc");
	}

	case_begin("env-alfa-pdf");
	{
		orig_msg m = alfa_orig("Fattura n. 42/2026");
		const char *parts[2] = {
			alt_part(TXT_INVOICE, "quoted-printable",
				 sfmt("=_alt_%.10s", tag_hex("a"))),
			attachment("application/pdf", "Fattura_42_2026.pdf",
				   fake_pdf("Fattura n. 42/2026 - Ferraro Impianti S.r.l."))};
		orig_multipart(&m, "multipart/mixed", sfmt("=_mix_%.10s", tag_hex("m")), parts, 2);
		pec_spec s = env_spec(ALFA, &m);
		pec_out o;
		pec_build(&s, &o);
		emit(pec_render(&o, 0), 0, CL_ENV, "posta-certificata", ALFA->name, "",
		     "attachment=postacert.eml/Fattura_42_2026.pdf(application/pdf)");
	}

	case_begin("env-alfa-nested");
	{
		orig_msg m = alfa_orig("Pratica 7/2026 - documentazione completa");
		/* '&' is legal in a msg-id and must come out as &amp; in daticert. */
		m.msgid = sfmt("<pratica-7&2026.%.16s@pec.alfa.test>", tag_hex("msgid"));
		const char *text = "Si trasmette la documentazione della pratica 7/2026.\n"
				   "Il logo aziendale è nella versione HTML.\n";
		const char *html =
			"<html><body><p>Si trasmette la documentazione della pratica 7/2026.</p>"
			"<img src=\"cid:logo@ferraro.test\"></body></html>\n";
		const char *rel[2] = {
			leaf_text("text/html; charset=utf-8", NULL, "quoted-printable", html),
			sfmt("Content-Type: image/png; name=\"logo.png\"\nContent-Disposition: "
			     "inline; "
			     "filename=\"logo.png\"\nContent-Transfer-Encoding: base64\n"
			     "Content-ID: <logo@ferraro.test>\n\n%s",
			     PNG_B64),
		};
		const char *alt[2] = {
			leaf_text("text/plain; charset=utf-8", NULL, "8bit", text),
			mpart("multipart/related; type=\"text/html\"",
			      sfmt("=_rel_%.10s", tag_hex("r")), rel, 2),
		};
		const char *fwd = sfmt(
			"Date: %s\nFrom: fornitore@example.org\nTo: lucia.ferraro@pec.alfa.test\n"
			"Subject: Preventivo lavori\nMessage-ID: <prev-2026-01-12@example.org>\n"
			"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
			"Content-Transfer-Encoding: 8bit\n\n"
			"Preventivo: 1.250,00 EUR IVA esclusa, validità 30 giorni.\n",
			fmt_date(g.t - 7 * 86400));
		const char *csv = "voce;importo\nquadro QE-200;1250,00\n";
		const char *mixed[4] = {
			mpart("multipart/alternative", sfmt("=_alt_%.10s", tag_hex("a")), alt, 2),
			sfmt("Content-Type: message/rfc822\nContent-Disposition: attachment; "
			     "filename=\"preventivo.eml\"\n\n%s",
			     fwd),
			attachment("text/csv; charset=utf-8", "voci.csv", text_bytes(csv)),
			attachment("application/pdf", "planimetria.pdf",
				   fake_pdf("Planimetria pratica 7/2026")),
		};
		orig_multipart(&m, "multipart/mixed", sfmt("=_mix_%.10s", tag_hex("m")), mixed, 4);
		pec_spec s = env_spec(ALFA, &m);
		pec_out o;
		pec_build(&s, &o);
		emit(pec_render(&o, 0), 0, CL_ENV, "posta-certificata", ALFA->name, "",
		     "postacert=mixed(alternative(text,related(html,png)),message/rfc822,csv,pdf);"
		     "msgid contains '&' (daticert &amp;)");
	}

	case_begin("env-beta-sha1-xpkcs7");
	{
		orig_msg m = orig_new("Avv. Marco Conti", "marco.conti@pec.beta.test",
				      "Atto di precetto - notifica");
		orig_rcpt(&m, "segreteria@legal.alfa.test", 0, 0);
		orig_plain(
			&m,
			"Egregi signori,\n\nsi notifica in allegato l'atto di precetto relativo al "
			"procedimento n. 1234/2025.\nDistinti saluti\nAvv. Marco Conti\n"
			"Studio legale Conti - Brescia\n");
		pec_spec s = env_spec(BETA, &m);
		s.sha1 = 1;
		pec_out o;
		pec_build(&s, &o);
		emit(pec_render(&o, 0), 0, CL_ENV, "posta-certificata", BETA->name, "",
		     "sig=x-pkcs7/sha1 micalg=sha1 (Aruba-2014 "
		     "shape);recipient-domain=legal.alfa.test;"
		     "postacert 8bit text/plain");
	}

	case_begin("env-beta-cms-sha256");
	{
		orig_msg m = orig_new("Edilizia Moretti S.r.l.", "gare@pec.beta.test",
				      "Offerta gara CIG 9A1B2C3D4E");
		orig_rcpt(&m, "ufficio.gare@pec.alfa.test", 0, 0);
		const char *parts[2] = {
			leaf_text("text/plain; charset=utf-8", NULL, "quoted-printable",
				  "Spett.le Ente,\n\nsi trasmette l'offerta economica per la gara "
				  "in oggetto.\n\n"
				  "Distinti saluti\nEdilizia Moretti S.r.l.\n"),
			attachment("application/pdf", "Offerta_economica.pdf",
				   fake_pdf("Offerta economica CIG 9A1B2C3D4E")),
		};
		orig_multipart(&m, "multipart/mixed", sfmt("=_mix_%.10s", tag_hex("m")), parts, 2);
		pec_spec s = env_spec(BETA, &m);
		s.pkcs7_proto = 1;
		pec_out o;
		pec_build(&s, &o);
		emit(pec_render(&o, 0), 0, CL_ENV, "posta-certificata", BETA->name, "",
		     "sig=application/pkcs7-signature/sha-256 (go-pec 2021 shape);attachment=pdf");
	}

	case_begin("env-alfa-crlf");
	{
		orig_msg m = alfa_orig("Verbale riunione del 12/01/2026");
		orig_alt(&m, TXT_MEETING, "quoted-printable");
		pec_spec s = env_spec(ALFA, &m);
		pec_out o;
		pec_build(&s, &o);
		emit(pec_render(&o, 0), 1, CL_ENV, "posta-certificata", ALFA->name, "",
		     "CRLF line endings throughout (file bytes = signed bytes)");
	}

	case_begin("env-alfa-daticert-utf16");
	{
		orig_msg m = alfa_orig("Richiesta documentazione tecnica");
		orig_alt(&m, TXT_ORDER, "base64");
		pec_spec s = env_spec(ALFA, &m);
		s.dc = DC_UTF16;
		pec_out o;
		pec_build(&s, &o);
		emit(pec_render(&o, 0), 0, CL_ENV, "posta-certificata", ALFA->name, "",
		     "daticert.xml UTF-16BE with BOM, encoding=\"UTF-16\"");
	}

	case_begin("env-alfa-header-case");
	{
		pec_out o = alfa_text_envelope("Sollecito pagamento fattura 12/2026");
		h_rename(&o.h, "X-Trasporto", "x-trasporto");
		h_rename(&o.h, "X-TipoRicevuta", "X-TIPORICEVUTA");
		h_rename(&o.h, "X-Riferimento-Message-ID", "x-Riferimento-message-ID");
		emit(pec_render(&o, 0), 0, CL_ENV, "posta-certificata", ALFA->name, "",
		     "header names in odd case: x-trasporto, X-TIPORICEVUTA, "
		     "x-Riferimento-message-ID");
	}

	case_begin("env-alfa-eicar");
	{
		orig_msg m = alfa_orig("Documento da verificare");
		const char *ev = eicar();
		const char *parts[2] = {
			leaf_text("text/plain; charset=utf-8", NULL, "7bit",
				  "In allegato il documento da verificare.\nSaluti\nLucia\n"),
			attachment("application/octet-stream", "eicar.com", text_bytes(ev)),
		};
		orig_multipart(&m, "multipart/mixed", sfmt("=_mix_%.10s", tag_hex("m")), parts, 2);
		pec_spec s = env_spec(ALFA, &m);
		pec_out o;
		pec_build(&s, &o);
		emit(pec_render(&o, 0), 0, CL_ENV, "posta-certificata", ALFA->name, "",
		     "virus=EICAR;where=postacert.eml/eicar.com");
	}

	case_begin("env-alfa-eicar-zip");
	{
		orig_msg m = alfa_orig("Documenti richiesti");
		const char *ev = eicar();
		const char *parts[2] = {
			leaf_text("text/plain; charset=utf-8", NULL, "7bit",
				  "In allegato l'archivio con i documenti "
				  "richiesti.\nSaluti\nLucia\n"),
			attachment("application/zip", "documenti.zip",
				   make_zip("eicar.com", ev, strlen(ev))),
		};
		orig_multipart(&m, "multipart/mixed", sfmt("=_mix_%.10s", tag_hex("m")), parts, 2);
		pec_spec s = env_spec(ALFA, &m);
		pec_out o;
		pec_build(&s, &o);
		emit(pec_render(&o, 0), 0, CL_ENV, "posta-certificata", ALFA->name, "",
		     "virus=EICAR;where=postacert.eml/documenti.zip!eicar.com");
	}

	case_begin("env-alfa-lure-invoice");
	{
		/* The autumn-2019 campaign (PEC.md §6): sent from a compromised real
		 * PEC box, so the envelope itself is genuine and valid. */
		orig_msg m = orig_new("Sistema di Interscambio", "contabilita@legal.alfa.test",
				      "Invio File 1234567890");
		orig_rcpt(&m, "amministrazione@pec.beta.test", 0, 0);
		const char *text =
			"Gentile Cliente,\n\n"
			"Si trasmette in allegato il file IT01234567890_ABC12.xml.p7m relativo "
			"alla fattura "
			"elettronica emessa.\n"
			"Il file e' stato firmato digitalmente. Per le future comunicazioni del "
			"Sistema di "
			"Interscambio si prega di comunicare il nuovo indirizzo di recapito.\n\n"
			"Sistema di Interscambio\nAgenzia delle Entrate\n";
		const char *vbs = "' pecguard test fixture: inert placeholder, it does nothing\r\n"
				  "' Fattura 1234567890\r\n"
				  "Dim fattura\r\nfattura = \"1234567890\"\r\n";
		const char *parts[2] = {
			alt_part(text, "base64", sfmt("=_alt_%.10s", tag_hex("a"))),
			attachment("application/zip", "Fattura_1234567890.zip",
				   make_zip("fattura.vbs", vbs, strlen(vbs))),
		};
		orig_multipart(&m, "multipart/mixed", sfmt("=_mix_%.10s", tag_hex("m")), parts, 2);
		pec_spec s = env_spec(ALFA, &m);
		pec_out o;
		pec_build(&s, &o);
		emit(pec_render(&o, 0), 0, CL_ENV, "posta-certificata", ALFA->name, "",
		     "lure=fake SdI notice: subject 'Invio File "
		     "\\d{10}';IT01234567890_ABC12.xml.p7m named "
		     "not attached;Fattura_1234567890.zip!fattura.vbs (inert);sender not "
		     "sdiNN@pec.fatturapa.it;"
		     "envelope valid, content must be inspected");
	}

	case_begin("env-alfa-spoofed-link");
	{
		/* A link whose text names one site and whose target is another:
		 * what ClamAV's phishing databases (clamd's default) call
		 * Heuristics.Phishing.Email.*.  A heuristic, not a virus: the
		 * envelope is valid and must be delivered. */
		orig_msg m = alfa_orig("Aggiornamento dati di accesso");
		const char *plain = "Gentile cliente,\nverifichi i suoi dati di accesso.\n";
		const char *html =
			"<html><body>\n<p>Gentile cliente,<br>\nverifichi i suoi dati di accesso: "
			"<a href=\"http://bancaditalia-verifica.example.net/login\">"
			"https://www.bancaditalia.it/servizi/accesso</a></p>\n</body></html>\n";
		const char *parts[2] = {
			leaf_text("text/plain; charset=utf-8", NULL, "7bit", plain),
			leaf_text("text/html; charset=utf-8", NULL, "7bit", html)};
		orig_multipart(&m, "multipart/alternative", sfmt("=_alt_%.10s", tag_hex("a")),
			       parts, 2);
		pec_spec s = env_spec(ALFA, &m);
		pec_out o;
		pec_build(&s, &o);
		emit(pec_render(&o, 0), 0, CL_ENV, "posta-certificata", ALFA->name, "",
		     "phishing-style link (text bancaditalia.it, target example.net): "
		     "a heuristic, never a virus");
	}

	case_begin("env-alfa-destinatari-esterni");
	{
		orig_msg m = orig_new("Lucia Ferraro", "lucia.ferraro@pec.alfa.test",
				      "Comunicazione variazione sede");
		orig_rcpt(&m, "acquisti@pec.beta.test", 0, 0);
		orig_rcpt(&m, "info@fornitore-esempio.test", 0, 1);
		orig_alt(&m,
			 "Gentili clienti e fornitori,\n\ndal 1/02/2026 la sede operativa si "
			 "trasferisce in "
			 "via Milano 12, Bergamo.\n\nCordiali saluti\nFerraro Impianti S.r.l.\n",
			 "quoted-printable");
		pec_spec s = env_spec(ALFA, &m);
		pec_out o;
		pec_build(&s, &o);
		emit(pec_render(&o, 0), 0, CL_ENV, "posta-certificata", ALFA->name, "",
		     "destinatari=certificato+esterno");
	}

	case_begin("env-alfa-nocerts");
	{
		orig_msg m = alfa_orig("Conferma ordine n. 2026/140");
		orig_alt(&m, TXT_ORDER, "base64");
		pec_spec s = env_spec(ALFA, &m);
		s.nocerts = 1;
		pec_out o;
		pec_build(&s, &o);
		emit(pec_render(&o, 0), 0, CL_ENV, "posta-certificata", ALFA->name, "",
		     "CMS without certificates: the signer's certificate comes from the index");
	}

	case_begin("env-epsilon-hash-only");
	{
		orig_msg m = epsilon_orig("Trasmissione verbale");
		pec_spec s = env_spec(EPSILON, &m);
		pec_out o;
		pec_build(&s, &o);
		emit(pec_render(&o, 0), 0, CL_ENV, "posta-certificata", EPSILON->name, "",
		     "index lists Epsilon's hash only;the certificate is in the CMS");
	}
}

/* ======================================================================
 * Cases: receipts and the anomaly envelope
 * ====================================================================== */

/* The message the receipts are about, sent by Alfa's user some time before. */
static orig_msg rcpt_orig(void)
{
	orig_msg m = alfa_orig("Richiesta preventivo impianto fotovoltaico");
	m.date = g.t - 1800;
	orig_alt(&m,
		 "Buongiorno,\n\nvi chiediamo un preventivo per un impianto fotovoltaico da 20 kW "
		 "presso il nostro magazzino.\n\nCordiali saluti\nLucia Ferraro\n",
		 "base64");
	return m;
}

static void emit_receipt(const pec_spec *s, const char *note)
{
	pec_out o;
	pec_build(s, &o);
	emit(pec_render(&o, 0), 0, CL_RCPT, s->tipo, s->issuer->name, "", note);
}

static void gen_receipts(void)
{
	const char *mail_receipt_alfa = "posta-certificata@pec.alfa.test";

	case_begin("rcpt-accettazione");
	{
		orig_msg m = rcpt_orig();
		pec_spec s = rcpt_spec("accettazione", ALFA, &m);
		emit_receipt(&s, "issued by the sender's provider;to=sender");
	}

	case_begin("rcpt-non-accettazione");
	{
		orig_msg m = rcpt_orig();
		pec_spec s = rcpt_spec("non-accettazione", ALFA, &m);
		s.errore = "altro";
		s.errore_esteso = "Dimensione massima del messaggio superata";
		emit_receipt(&s, "errore=altro");
	}

	case_begin("rcpt-presa-in-carico");
	{
		orig_msg m = rcpt_orig();
		pec_spec s = rcpt_spec("presa-in-carico", BETA, &m);
		s.to = mail_receipt_alfa;
		emit_receipt(&s,
			     "issued by the recipient's provider;to=mailReceipt of Gestore Alfa");
	}

	case_begin("rcpt-avvenuta-consegna-completa");
	{
		orig_msg m = rcpt_orig();
		pec_spec s = rcpt_spec("avvenuta-consegna", BETA, &m);
		s.ricevuta = "completa";
		s.consegna = "acquisti@pec.beta.test";
		s.include_orig = 1;
		emit_receipt(&s, "ricevuta=completa;has-postacert=yes;signer=recipient's provider");
	}

	case_begin("rcpt-avvenuta-consegna-breve");
	{
		orig_msg m = alfa_orig("Trasmissione contratto firmato");
		m.date = g.t - 1800;
		const char *text = "Buongiorno,\n\nin allegato il contratto firmato "
				   "digitalmente.\n\nCordiali saluti\nLucia Ferraro\n";
		bytes pdf = fake_pdf("Contratto 2026/05");
		const char *balt = sfmt("=_alt_%.10s", tag_hex("a")),
			   *bmix = sfmt("=_mix_%.10s", tag_hex("m"));
		const char *parts[2] = {
			alt_part(text, "base64", balt),
			attachment("application/pdf", "Contratto_2026_05.pdf", pdf)};
		orig_multipart(&m, "multipart/mixed", bmix, parts, 2);
		/* "breve": the original with each attachment replaced by its hash
		 * [unconfirmed encoding, PEC.md §2]. */
		unsigned char md[32];
		sha256_of(pdf.p, pdf.n, md);
		orig_msg brief = m;
		const char *bparts[2] = {
			parts[0],
			leaf_text(
				"text/plain; charset=us-ascii; name=\"Contratto_2026_05.pdf.hash\"",
				"attachment; filename=\"Contratto_2026_05.pdf.hash\"", "7bit",
				sfmt("SHA-256 %s\n", hex_of(md, 32, 0, 0))),
		};
		orig_multipart(&brief, "multipart/mixed", bmix, bparts, 2);
		pec_spec s = rcpt_spec("avvenuta-consegna", BETA, &m);
		s.ricevuta = "breve";
		s.consegna = "acquisti@pec.beta.test";
		s.include_orig = 1;
		s.postacert_orig = &brief;
		emit_receipt(
			&s,
			"ricevuta=breve;has-postacert=yes (attachment replaced by its SHA-256)");
	}

	case_begin("rcpt-avvenuta-consegna-sintetica");
	{
		orig_msg m = rcpt_orig();
		pec_spec s = rcpt_spec("avvenuta-consegna", BETA, &m);
		s.ricevuta = "sintetica";
		s.consegna = "protocollo@pec.beta.test";
		emit_receipt(&s, "ricevuta=sintetica;has-postacert=no");
	}

	case_begin("rcpt-errore-consegna");
	{
		orig_msg m = rcpt_orig();
		pec_spec s = rcpt_spec("errore-consegna", BETA, &m);
		s.errore = "no-dest";
		s.consegna = "protocollo@pec.beta.test";
		s.errore_esteso = "5.1.1 - Gestore Beta - indirizzo non valido";
		emit_receipt(&s, "errore=no-dest");
	}

	case_begin("rcpt-errore-consegna-virus");
	{
		orig_msg m = rcpt_orig();
		pec_spec s = rcpt_spec("errore-consegna", ALFA, &m);
		s.errore = "virus";
		s.consegna = "acquisti@pec.beta.test";
		s.errore_esteso = "Virus: Eicar-Test-Signature";
		s.prefix = "AVVISO DI MANCATA CONSEGNA PER VIRUS: ";
		s.title = "Avviso di mancata consegna per virus informatico";
		s.outcome = "non è stato consegnato in quanto è stato rilevato un virus "
			    "informatico (%s).";
		emit_receipt(
			&s,
			"errore=virus;issued by the sender's provider after rilevazione-virus;"
			"subject prefix 'AVVISO DI MANCATA CONSEGNA PER VIRUS: ' [unconfirmed]");
	}

	case_begin("rcpt-preavviso-errore-consegna");
	{
		orig_msg m = rcpt_orig();
		m.date = g.t - 12 * 3600 - 60;
		pec_spec s = rcpt_spec("preavviso-errore-consegna", ALFA, &m);
		s.errore = "altro";
		s.consegna = "acquisti@pec.beta.test";
		s.errore_esteso = "nessuna ricevuta di presa in carico entro 12 ore";
		emit_receipt(
			&s,
			"subject prefix 'AVVISO DI MANCATA CONSEGNA ENTRO 12 ORE: ' [unconfirmed]");
	}

	case_begin("rcpt-rilevazione-virus");
	{
		orig_msg m = rcpt_orig();
		pec_spec s = rcpt_spec("rilevazione-virus", BETA, &m);
		s.errore = "virus";
		s.to = mail_receipt_alfa;
		s.consegna = "acquisti@pec.beta.test";
		s.errore_esteso = "Virus: Eicar-Test-Signature";
		emit_receipt(&s, "to=mailReceipt of Gestore Alfa;errore=virus;"
				 "subject prefix 'PROBLEMA DI SICUREZZA: ' [unconfirmed]");
	}

	case_begin("anomaly-alfa");
	{
		/* Ordinary mail reaching Alfa's reception point: Alfa wraps it. */
		orig_msg m = orig_new(NULL, "offerte@negozio-esempio.test", "Offerte di febbraio");
		orig_rcpt(&m, "lucia.ferraro@pec.alfa.test", 0, 0);
		orig_alt(&m,
			 "Scopri le offerte di febbraio sul nostro sito: sconti fino al 30% su "
			 "tutta la cancelleria.\n",
			 "base64");
		pec_spec s;
		memset(&s, 0, sizeof s);
		s.kind = K_ANOMALY;
		s.tipo = "errore";
		s.issuer = ALFA;
		s.orig = &m;
		pec_out o;
		pec_build(&s, &o);
		emit(pec_render(&o, 0), 0, CL_ANOM, "errore", ALFA->name, "",
		     "X-Trasporto=errore;signed by the recipient's "
		     "provider;postacert=yes;daticert=absent");
	}
}

/* ======================================================================
 * Cases: invalid, forged, tampered
 * ====================================================================== */

static void emit_invalid(const char *msg, const char *reason, const char *note)
{
	emit(msg, 0, CL_INVALID, "", "", reason, note);
}

static void gen_invalid(void)
{
	case_begin("tamper-body-byte");
	{
		pec_out o = alfa_text_envelope("Conferma ordine n. 2026/119");
		o.entity = replace_once(o.entity, "e indirizzato a:", "e indirizzato a;");
		emit_invalid(pec_render(&o, 0), "signature-digest-mismatch",
			     "1 byte changed in the certification text/plain after signing");
	}

	case_begin("tamper-daticert");
	{
		orig_msg m = alfa_orig("Conferma ordine n. 2026/120");
		orig_alt(&m, TXT_ORDER, "base64");
		pec_spec s = env_spec(ALFA, &m);
		pec_out good, bad;
		pec_build(&s, &good);
		s.daticert_mittente = "direzione@pec.alfa.test";
		pec_build(&s, &bad);
		bad.sig = good.sig;
		emit_invalid(pec_render(&bad, 0), "signature-digest-mismatch",
			     "daticert.xml mittente changed after signing");
	}

	case_begin("tamper-postacert");
	{
		orig_msg m = alfa_orig("Fattura n. 43/2026");
		orig_alt(&m, TXT_INVOICE, "quoted-printable");
		orig_msg m2 = m;
		orig_alt(&m2,
			 replace_once(TXT_INVOICE, "IT60X0542811101000000123456",
				      "IT02L1234512345123456789012"),
			 "quoted-printable");
		pec_spec s = env_spec(ALFA, &m);
		pec_out good, bad;
		pec_build(&s, &good);
		s.postacert_orig = &m2;
		pec_build(&s, &bad);
		bad.sig = good.sig;
		emit_invalid(pec_render(&bad, 0), "signature-digest-mismatch",
			     "postacert.eml IBAN changed after signing");
	}

	case_begin("tamper-signature-bytes");
	{
		orig_msg m = alfa_orig("Conferma ordine n. 2026/121");
		orig_alt(&m, TXT_ORDER, "base64");
		pec_spec s = env_spec(ALFA, &m);
		s.corrupt_sig = 1;
		pec_out o;
		pec_build(&s, &o);
		emit_invalid(pec_render(&o, 0), "signature-invalid",
			     "one byte of the RSA signature value flipped inside the CMS (digests "
			     "match)");
	}

	case_begin("tamper-header-xricevuta");
	{
		pec_out o = alfa_text_envelope("Conferma ordine n. 2026/122");
		h_rename(&o.h, "X-Trasporto", "X-Ricevuta");
		h_set(&o.h, "X-Ricevuta", "avvenuta-consegna");
		h_set(&o.h, "Subject", "CONSEGNA: Conferma ordine n. 2026/122");
		emit_invalid(pec_render(&o, 0), "daticert-type-mismatch",
			     "X-Ricevuta=avvenuta-consegna vs postacert/@tipo=posta-certificata;"
			     "signature valid (headers are not signed)");
	}

	case_begin("tamper-header-msgid");
	{
		pec_out o = alfa_text_envelope("Conferma ordine n. 2026/123");
		h_set(&o.h, "X-Riferimento-Message-ID",
		      sfmt("<%.24s@pec.alfa.test>", tag_hex("other")));
		emit_invalid(
			pec_render(&o, 0), "daticert-msgid-mismatch",
			"X-Riferimento-Message-ID differs from daticert msgid;signature valid");
	}

	case_begin("tamper-header-sender");
	{
		pec_out o = alfa_text_envelope("Conferma ordine n. 2026/124");
		h_set(&o.h, "From",
		      "\"Per conto di: direzione@pec.alfa.test\" "
		      "<posta-certificata@pec.alfa.test>");
		h_set(&o.h, "Reply-To", "direzione@pec.alfa.test");
		emit_invalid(pec_render(&o, 0), "daticert-sender-mismatch",
			     "Per conto di/Reply-To direzione@ vs daticert mittente lucia.ferraro@;"
			     "same managed domain;signature valid");
	}

	case_begin("invalid-rogue-ca");
	{
		orig_msg m = alfa_orig("Conferma ordine n. 2026/125");
		orig_alt(&m, TXT_ORDER, "base64");
		pec_spec s = env_spec(ALFA, &m);
		s.signer = &g.rogue;
		pec_out o;
		pec_build(&s, &o);
		emit_invalid(pec_render(&o, 0), "signer-not-in-index",
			     "signer issued by Rogue Test Root CA;subject/SAN/serial identical to "
			     "Alfa's;"
			     "SHA-1 not in index");
	}

	case_begin("invalid-selfsigned");
	{
		orig_msg m = alfa_orig("Conferma ordine n. 2026/126");
		orig_alt(&m, TXT_ORDER, "base64");
		pec_spec s = env_spec(ALFA, &m);
		s.signer = &g.selfsigned;
		pec_out o;
		pec_build(&s, &o);
		emit_invalid(pec_render(&o, 0), "signer-not-in-index",
			     "self-signed 'Posta Certificata' certificate, SAN "
			     "posta-certificata@pec.alfa.test");
	}

	case_begin("invalid-expired-gamma");
	{
		orig_msg m = orig_new("Giorgio Neri", "giorgio.neri@pec.gamma.test",
				      "Richiesta appuntamento");
		orig_rcpt(&m, "acquisti@pec.beta.test", 0, 0);
		orig_alt(&m,
			 "Buongiorno,\n\nchiedo un appuntamento per la prossima "
			 "settimana.\n\nGiorgio Neri\n",
			 "base64");
		pec_spec s = env_spec(GAMMA, &m);
		pec_out o;
		pec_build(&s, &o);
		emit_invalid(pec_render(&o, 0), "certificate-expired",
			     "Gestore Gamma certificate valid 2015-01-01..2018-01-01, listed in "
			     "the index");
	}

	case_begin("invalid-notyet-delta");
	{
		orig_msg m =
			orig_new("Sara Gallo", "sara.gallo@pec.delta.test", "Invio documentazione");
		orig_rcpt(&m, "acquisti@pec.beta.test", 0, 0);
		orig_alt(&m, "Buongiorno,\n\ninvio la documentazione richiesta.\n\nSara Gallo\n",
			 "base64");
		pec_spec s = env_spec(DELTA, &m);
		pec_out o;
		pec_build(&s, &o);
		emit_invalid(pec_render(&o, 0), "certificate-not-yet-valid",
			     "Gestore Delta certificate valid 2090-01-01..2095-01-01, listed in "
			     "the index");
	}

	case_begin("invalid-sender-domain");
	{
		orig_msg m = orig_new("Paola Rizzi", "paola.rizzi@pec.beta.test",
				      "Conferma ricezione merce");
		orig_rcpt(&m, "lucia.ferraro@pec.alfa.test", 0, 0);
		orig_alt(&m, "Confermiamo la ricezione della merce.\n\nPaola Rizzi\n", "base64");
		pec_spec s = env_spec(ALFA, &m);
		pec_out o;
		pec_build(&s, &o);
		emit_invalid(pec_render(&o, 0), "sender-domain-not-managed",
			     "mittente pec.beta.test not in managedDomains of signer Gestore Alfa");
	}

	case_begin("invalid-no-daticert");
	{
		orig_msg m = alfa_orig("Conferma ordine n. 2026/127");
		orig_alt(&m, TXT_ORDER, "base64");
		pec_spec s = env_spec(ALFA, &m);
		s.dc = DC_NONE;
		pec_out o;
		pec_build(&s, &o);
		emit_invalid(pec_render(&o, 0), "daticert-missing",
			     "validly signed envelope without daticert.xml");
	}

	case_begin("invalid-daticert-malformed");
	{
		orig_msg m = alfa_orig("Conferma ordine n. 2026/128");
		orig_alt(&m, TXT_ORDER, "base64");
		pec_spec s = env_spec(ALFA, &m);
		s.dc = DC_MALFORMED;
		pec_out o;
		pec_build(&s, &o);
		emit_invalid(
			pec_render(&o, 0), "daticert-malformed",
			"validly signed;daticert.xml truncated inside <dati> (not well-formed)");
	}

	case_begin("invalid-no-postacert");
	{
		orig_msg m = alfa_orig("Conferma ordine n. 2026/129");
		orig_alt(&m, TXT_ORDER, "base64");
		pec_spec s = env_spec(ALFA, &m);
		s.no_postacert = 1;
		pec_out o;
		pec_build(&s, &o);
		emit_invalid(pec_render(&o, 0), "postacert-missing",
			     "validly signed envelope without postacert.eml");
	}

	case_begin("fake-unsigned-headers");
	{
		/* PEC headers and certification text, but a plain text/plain body. */
		orig_msg m = alfa_orig("Avviso di pagamento");
		pec_spec s = env_spec(ALFA, &m);
		const char *ident = make_ident(ALFA), *title;
		const char *text = sfmt("%s\nPer visualizzare l'avviso di pagamento accedere a:\n"
					"https://pec-documenti.example/avviso?id=%.8s\n",
					cert_text(&s, ident, &title), tag_hex("link"));
		const char *lt = latin1_of(text);
		hdrs h = {0};
		h_add(&h, "Received",
		      received("mail.pec-documenti.example", "203.0.113.66", "pec.beta.test",
			       sfmt("4ZX1%04d", g.seq), "acquisti@pec.beta.test"));
		h_add(&h, "Subject", "POSTA CERTIFICATA: Avviso di pagamento");
		h_add(&h, "Date", fmt_date(g.t));
		h_add(&h, "X-Trasporto", "posta-certificata");
		h_add(&h, "X-TipoRicevuta", "completa");
		h_add(&h, "X-Riferimento-Message-ID", m.msgid);
		h_add(&h, "From",
		      "\"Per conto di: lucia.ferraro@pec.alfa.test\" "
		      "<posta-certificata@pec.alfa.test>");
		h_add(&h, "Reply-To", "lucia.ferraro@pec.alfa.test");
		h_add(&h, "To", "acquisti@pec.beta.test");
		h_add(&h, "Message-ID", sfmt("<%s>", ident));
		h_add(&h, "MIME-Version", "1.0");
		h_add(&h, "Content-Type", "text/plain; charset=\"iso-8859-1\"");
		h_add(&h, "Content-Transfer-Encoding", "quoted-printable");
		buf b = {0};
		qp_encode(&b, (const unsigned char *)lt, strlen(lt));
		emit_invalid(sfmt("%s\n%s", h_render(&h), buf_own(&b)), "not-signed",
			     "X-Trasporto + POSTA CERTIFICATA subject, text/plain body, no "
			     "signature, no daticert");
	}

	case_begin("fake-daticert-unsigned");
	{
		pec_out o = alfa_text_envelope("Conferma ordine n. 2026/130");
		/* The envelope's inner multipart/mixed promoted to top level. */
		h_del(&o.h, "Content-Type");
		h_del(&o.h, "MIME-Version");
		emit_invalid(sfmt("%s%s", h_render(&o.h), o.entity), "not-signed",
			     "full envelope shape (daticert.xml+postacert.eml) under top-level "
			     "multipart/mixed, no signature");
	}

	case_begin("fake-receipt-unsigned");
	{
		orig_msg m = rcpt_orig();
		pec_spec s = rcpt_spec("accettazione", ALFA, &m);
		pec_out o;
		pec_build(&s, &o);
		h_del(&o.h, "Content-Type");
		h_del(&o.h, "MIME-Version");
		emit_invalid(sfmt("%s%s", h_render(&o.h), o.entity), "not-signed",
			     "X-Ricevuta: accettazione with daticert.xml under multipart/mixed, no "
			     "signature");
	}

	case_begin("edge-signature-part-first");
	{
		pec_out o = alfa_text_envelope("Conferma ordine n. 2026/131");
		emit_invalid(pec_render(&o, 1), "malformed-multipart-signed",
			     "application/x-pkcs7-signature is the first body part");
	}

	case_begin("edge-opaque-signed");
	{
		orig_msg m = alfa_orig("Conferma ordine n. 2026/132");
		orig_alt(&m, TXT_ORDER, "base64");
		pec_spec s = env_spec(ALFA, &m);
		s.opaque = 1;
		pec_out o;
		pec_build(&s, &o);
		h_set(&o.h, "Content-Type",
		      "application/pkcs7-mime; smime-type=signed-data; name=\"smime.p7m\"");
		size_t at = h_index(&o.h, "Content-Type") + 1;
		h_insert(&o.h, at, "Content-Transfer-Encoding", "base64");
		h_insert(&o.h, at + 1, "Content-Disposition", "attachment; filename=\"smime.p7m\"");
		buf b = {0};
		b64_encode(&b, o.sig.p, o.sig.n, 64);
		emit_invalid(sfmt("%s\n%s", h_render(&o.h), buf_own(&b)), "not-multipart-signed",
			     "application/pkcs7-mime signed-data, content embedded;openssl "
			     "verifies it;policy: not an envelope");
	}

	case_begin("edge-list-wrapped");
	{
		orig_msg m = orig_new("Avv. Marco Conti", "marco.conti@pec.beta.test",
				      "Atto di citazione - deposito");
		orig_rcpt(&m, "lista-pec@lists.example.org", 0, 1);
		orig_alt(&m,
			 "Si comunica l'avvenuto deposito dell'atto di citazione.\n\nAvv. Marco "
			 "Conti\n",
			 "base64");
		pec_spec s = env_spec(BETA, &m);
		pec_out o;
		pec_build(&s, &o);
		const char *lb = sfmt("===============%.19s==", tag_hex("list"));
		const char *parts[2] = {
			sfmt("Content-Type: %s\n\n%s", o.ctype, pec_signed_body(&o, 0)),
			"Content-Type: text/plain; charset=\"us-ascii\"\nMIME-Version: 1.0\n"
			"Content-Transfer-Encoding: 7bit\nContent-Disposition: inline\n\n"
			"_______________________________________________\n"
			"Lista-pec mailing list\nlista-pec@lists.example.org\n",
		};
		hdrs h = o.h;
		h_insert(&h, 0, "Received",
			 received("lists.example.org", "198.51.100.20", "pec.alfa.test",
				  sfmt("4ZL1%04d", g.seq), "lucia.ferraro@pec.alfa.test"));
		h_set(&h, "Subject", "[Lista-pec] POSTA CERTIFICATA: Atto di citazione - deposito");
		h_set(&h, "Content-Type", sfmt("multipart/mixed; boundary=\"%s\"", lb));
		h_add(&h, "Precedence", "list");
		h_add(&h, "List-Id", "<lista-pec.lists.example.org>");
		h_add(&h, "List-Post", "<mailto:lista-pec@lists.example.org>");
		h_add(&h, "Errors-To", "lista-pec-bounces@lists.example.org");
		h_add(&h, "Sender", "lista-pec-bounces@lists.example.org");
		emit_invalid(sfmt("%s\n%s", h_render(&h), multipart_body(lb, NULL, parts, 2)),
			     "signed-not-top-level",
			     "outer multipart/mixed (list footer), PEC headers copied on the outer;"
			     "embedded multipart/signed by Gestore Beta verifies");
	}

	case_begin("invalid-garbage-signature");
	{
		pec_out o = alfa_text_envelope("Conferma ordine n. 2026/133");
		o.sig = noise("sig", 1024);
		emit_invalid(pec_render(&o, 0), "signature-unreadable",
			     "smime.p7s is base64 of 1024 pseudo-random bytes");
	}

	case_begin("invalid-empty-signature");
	{
		pec_out o = alfa_text_envelope("Conferma ordine n. 2026/134");
		o.sig.p = NULL;
		o.sig.n = 0;
		emit_invalid(pec_render(&o, 0), "signature-unreadable",
			     "signature part with an empty body");
	}

	case_begin("invalid-signer-unknown");
	{
		orig_msg m = epsilon_orig("Trasmissione verbale");
		pec_spec s = env_spec(EPSILON, &m);
		s.nocerts = 1;
		pec_out o;
		pec_build(&s, &o);
		emit_invalid(pec_render(&o, 0), "signer-unknown",
			     "CMS without certificates;the index lists Epsilon's hash only, so no "
			     "certificate to verify with");
	}

	case_begin("invalid-certificate-dates");
	{
		orig_msg m = epsilon_orig("Trasmissione verbale");
		pec_spec s = env_spec(EPSILON, &m);
		s.signer = &g.epsilon_baddates;
		pec_out o;
		pec_build(&s, &o);
		emit_invalid(pec_render(&o, 0), "certificate-invalid-dates",
			     "signer certificate listed (hash) and embedded, notBefore UTCTime "
			     "201301000000Z (month 13);signature valid");
	}

	case_begin("invalid-pec-header-missing");
	{
		pec_out o = alfa_text_envelope("Conferma ordine n. 2026/141");
		h_del(&o.h, "X-Trasporto");
		emit_invalid(pec_render(&o, 0), "pec-header-missing",
			     "valid Alfa envelope with X-Trasporto removed (headers are not "
			     "signed);Per conto di, subject and daticert remain");
	}

	case_begin("invalid-trasporto-unknown");
	{
		pec_out o = alfa_text_envelope("Conferma ordine n. 2026/142");
		h_set(&o.h, "X-Trasporto", "foo");
		emit_invalid(pec_render(&o, 0), "pec-type-unknown",
			     "valid Alfa envelope with X-Trasporto: foo");
	}

	case_begin("invalid-ricevuta-unknown");
	{
		orig_msg m = rcpt_orig();
		pec_spec s = rcpt_spec("accettazione", ALFA, &m);
		pec_out o;
		pec_build(&s, &o);
		h_set(&o.h, "X-Ricevuta", "consegnata");
		emit_invalid(pec_render(&o, 0), "pec-type-unknown",
			     "valid Alfa acceptance receipt with X-Ricevuta: consegnata;also "
			     "daticert-type-mismatch (postacert/@tipo=accettazione)");
	}

	case_begin("edge-protocol-pgp");
	{
		pec_out o = alfa_text_envelope("Conferma ordine n. 2026/143");
		h_set(&o.h, "Content-Type",
		      replace_once(o.ctype, "application/x-pkcs7-signature",
				   "application/pgp-signature"));
		emit_invalid(pec_render(&o, 0), "malformed-multipart-signed",
			     "protocol=application/pgp-signature on a CMS signature part;signature "
			     "valid");
	}

	case_begin("edge-protocol-missing");
	{
		pec_out o = alfa_text_envelope("Conferma ordine n. 2026/144");
		h_set(&o.h, "Content-Type",
		      replace_once(o.ctype, "protocol=\"application/x-pkcs7-signature\"; ", ""));
		emit_invalid(pec_render(&o, 0), "malformed-multipart-signed",
			     "multipart/signed without a protocol parameter;signature valid");
	}
}

/* ======================================================================
 * Cases: the verification time (pecguard scan --at signing-time)
 * ====================================================================== */

/* Gestore Gamma's certificate was valid 2015-01-01..2018-01-01: an envelope
 * it signed in 2016 verifies at its signing time, and is expired now. */
static void gen_signing_time(void)
{
	case_begin("env-gamma-signing-time");
	{
		g.t = days_from_civil(2016, 3, 14) * 86400 + 9 * 3600 + g.seq * 60;
		orig_msg m = orig_new("Giorgio Neri", "giorgio.neri@pec.gamma.test",
				      "Verbale assemblea 2016");
		orig_rcpt(&m, "acquisti@pec.beta.test", 0, 0);
		orig_alt(&m, TXT_MEETING, "base64");
		pec_spec s = env_spec(GAMMA, &m);
		pec_out o;
		pec_build(&s, &o);
		emit_invalid(
			pec_render(&o, 0), "certificate-expired",
			"signed by Gamma in 2016 (signingTime 2016-03-14), certificate expired "
			"2018-01-01");
		expect(CL_ENV, "posta-certificata", GAMMA->name, "", "signing-time",
		       "valid at its signing time 2016-03-14");
	}

	case_begin("env-gamma-no-signing-time");
	{
		g.t = days_from_civil(2016, 3, 14) * 86400 + 9 * 3600 + g.seq * 60;
		orig_msg m = orig_new("Giorgio Neri", "giorgio.neri@pec.gamma.test",
				      "Verbale assemblea 2016");
		orig_rcpt(&m, "acquisti@pec.beta.test", 0, 0);
		orig_alt(&m, TXT_MEETING, "base64");
		pec_spec s = env_spec(GAMMA, &m);
		s.noattrs = 1;
		pec_out o;
		pec_build(&s, &o);
		emit_invalid(pec_render(&o, 0), "certificate-expired",
			     "signed by Gamma in 2016 without signed attributes");
		expect(CL_INVALID, "", "", "certificate-expired", "signing-time",
		       "no signingTime to go back to: verified now, expired");
	}
}

/* ======================================================================
 * Cases: ordinary mail (PEO)
 * ====================================================================== */

static void emit_peo(const char *msg, const char *note)
{
	emit(msg, 0, CL_PEO, "", "", "", note);
}

static char *peo_received(const char *host, const char *to)
{
	return received(host, "198.51.100.7", domain_of(to), sfmt("4ZH1%04d", g.seq), to);
}

static void gen_peo(void)
{
	case_begin("peo-ham");
	{
		hdrs h = {0};
		h_add(&h, "Received",
		      peo_received("mail.studio-galli.test", "lucia.ferraro@pec.alfa.test"));
		h_add(&h, "From", "Paolo Galli <paolo.galli@studio-galli.test>");
		h_add(&h, "To", "lucia.ferraro@pec.alfa.test");
		h_add(&h, "Subject", "Riunione revisione bilancio");
		h_add(&h, "Date", fmt_date(g.t));
		h_add(&h, "Message-ID", sfmt("<%.20s@studio-galli.test>", tag_hex("id")));
		h_add(&h, "MIME-Version", "1.0");
		h_add(&h, "Content-Type", "text/plain; charset=utf-8");
		h_add(&h, "Content-Transfer-Encoding", "8bit");
		emit_peo(sfmt("%s\nBuongiorno Lucia,\n\nti confermo la riunione di giovedì 22 alle "
			      "10:30 "
			      "presso il nostro studio per la revisione del bilancio.\n"
			      "Porta per favore i prospetti IVA del quarto trimestre.\n\nA "
			      "presto,\nPaolo\n",
			      h_render(&h)),
			 "plain Italian business mail, 8bit");
	}

	case_begin("peo-html");
	{
		const char *text = "Care associate e cari associati,\n\n"
				   "il corso sulla fatturazione elettronica si terrà martedì 3 "
				   "febbraio alle 17.\n"
				   "Iscrizioni entro il 30 gennaio presso la segreteria.\n\n"
				   "Associazione Artigiani Bergamo\n";
		const char *b = sfmt("=_alt_%.12s", tag_hex("alt"));
		hdrs h = {0};
		h_add(&h, "Received",
		      peo_received("mail.artigiani-bg.test", "lucia.ferraro@pec.alfa.test"));
		h_add(&h, "From", "\"Associazione Artigiani Bergamo\" <notizie@artigiani-bg.test>");
		h_add(&h, "To", "lucia.ferraro@pec.alfa.test");
		h_add(&h, "Subject", "Corso fatturazione elettronica");
		h_add(&h, "Date", fmt_date(g.t));
		h_add(&h, "Message-ID", sfmt("<%.20s@artigiani-bg.test>", tag_hex("id")));
		h_add(&h, "MIME-Version", "1.0");
		h_add(&h, "Content-Type", sfmt("multipart/alternative;\n boundary=\"%s\"", b));
		const char *parts[2] = {
			leaf_text("text/plain; charset=utf-8", NULL, "quoted-printable", text),
			leaf_text("text/html; charset=utf-8", NULL, "quoted-printable",
				  simple_html(text))};
		emit_peo(sfmt("%s\n%s", h_render(&h), multipart_body(b, NULL, parts, 2)),
			 "multipart/alternative text+html, quoted-printable");
	}

	case_begin("peo-postacert-extracted");
	{
		orig_msg m = alfa_orig("Conferma ordine n. 2026/135");
		orig_alt(&m, TXT_ORDER, "base64");
		emit_peo(render_orig(&m, make_ident(ALFA)),
			 "an extracted postacert.eml: copied X-TipoRicevuta and "
			 "X-Riferimento-Message-ID, "
			 "no X-Trasporto, not signed");
	}

	case_begin("peo-mentions-pec");
	{
		hdrs h = {0};
		h_add(&h, "Received",
		      peo_received("mail.studio-galli.test", "lucia.ferraro@pec.alfa.test"));
		h_add(&h, "From", "Paolo Galli <paolo.galli@studio-galli.test>");
		h_add(&h, "To", "lucia.ferraro@pec.alfa.test");
		h_add(&h, "Subject", "Domanda sulla posta certificata");
		h_add(&h, "Date", fmt_date(g.t));
		h_add(&h, "Message-ID", sfmt("<%.20s@studio-galli.test>", tag_hex("id")));
		h_add(&h, "MIME-Version", "1.0");
		h_add(&h, "Content-Type", "text/plain; charset=utf-8");
		h_add(&h, "Content-Transfer-Encoding", "8bit");
		emit_peo(sfmt("%s\nCiao Lucia,\n\ncome si leggono i file daticert.xml e "
			      "postacert.eml che "
			      "arrivano con la PEC?\nIl messaggio aveva l'oggetto \"POSTA "
			      "CERTIFICATA: prova\" "
			      "e l'intestazione X-Trasporto: posta-certificata,\nma il mio "
			      "programma mostra "
			      "solo smime.p7s.\n\nGrazie,\nPaolo\n",
			      h_render(&h)),
			 "PEC terms (POSTA CERTIFICATA, X-Trasporto, daticert.xml) in the body "
			 "only");
	}

	case_begin("peo-forwarded-envelope");
	{
		pec_out o = alfa_text_envelope("Conferma ordine n. 2026/136");
		const char *env = pec_render(&o, 0);
		const char *b = sfmt("=_fwd_%.12s", tag_hex("fwd"));
		const char *parts[2] = {
			leaf_text("text/plain; charset=utf-8", NULL, "8bit",
				  "Ciao Marta,\n\nti inoltro la PEC ricevuta stamattina, così la "
				  "archivi tu.\n\nPaola\n"),
			sfmt("Content-Type: message/rfc822; name=\"POSTA CERTIFICATA.eml\"\n"
			     "Content-Disposition: attachment; filename=\"POSTA CERTIFICATA.eml\"\n"
			     "Content-Transfer-Encoding: %s\n\n%s",
			     is_7bit(env) ? "7bit" : "8bit", env),
		};
		hdrs h = {0};
		h_add(&h, "Received",
		      peo_received("mail.beta-spa.test", "marta.sala@beta-spa.test"));
		h_add(&h, "From", "Paola Rizzi <paola.rizzi@beta-spa.test>");
		h_add(&h, "To", "marta.sala@beta-spa.test");
		h_add(&h, "Subject", "I: POSTA CERTIFICATA: Conferma ordine n. 2026/136");
		h_add(&h, "Date", fmt_date(g.t));
		h_add(&h, "Message-ID", sfmt("<%.20s@beta-spa.test>", tag_hex("id")));
		h_add(&h, "MIME-Version", "1.0");
		h_add(&h, "Content-Type", sfmt("multipart/mixed;\n boundary=\"%s\"", b));
		emit_peo(sfmt("%s\n%s", h_render(&h), multipart_body(b, NULL, parts, 2)),
			 "ordinary mail with a valid Gestore Alfa envelope attached as "
			 "message/rfc822");
	}

	case_begin("peo-smime-personal");
	{
		/* A user's own S/MIME mail: valid signature, personal certificate
		 * (issued by the test root, not in the providers' index). */
		const char *entity =
			"Content-Type: text/plain; charset=UTF-8; format=flowed\n"
			"Content-Transfer-Encoding: 8bit\n\n"
			"Buongiorno,\n\ninvio firmato il parere richiesto; la versione "
			"definitiva seguirà entro venerdì.\n\nPaolo Galli\n";
		sign_opts so = {&g.personal, EVP_sha256(), 0, 0, g.t, 0, 0};
		bytes sig = cms_sign(&so, entity);
		const char *boundary = sfmt("------------ms%.24s", tag_hex("ms"));
		buf sb = {0};
		buf_puts(&sb, "Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\n"
			      "Content-Transfer-Encoding: base64\n"
			      "Content-Disposition: attachment; filename=\"smime.p7s\"\n"
			      "Content-Description: S/MIME Cryptographic Signature\n\n");
		b64_encode(&sb, sig.p, sig.n, 76);
		const char *parts[2] = {entity, buf_own(&sb)};
		hdrs h = {0};
		h_add(&h, "Received",
		      peo_received("mail.studio-galli.test", "lucia.ferraro@pec.alfa.test"));
		h_add(&h, "Message-ID",
		      sfmt("<%.8s-%.4s@studio-galli.test>", tag_hex("id"), tag_hex("id2")));
		h_add(&h, "Date", fmt_date(g.t));
		h_add(&h, "MIME-Version", "1.0");
		h_add(&h, "User-Agent", "Mozilla Thunderbird");
		h_add(&h, "Content-Language", "it");
		h_add(&h, "To", "lucia.ferraro@pec.alfa.test");
		h_add(&h, "From", "Paolo Galli <paolo.galli@studio-galli.test>");
		h_add(&h, "Subject", "Parere firmato");
		h_add(&h, "Content-Type",
		      sfmt("multipart/signed; protocol=\"application/pkcs7-signature\"; "
			   "micalg=sha-256; boundary=\"%s\"",
			   boundary));
		const char *preamble =
			"This is a cryptographically signed message in MIME format.\n";
		emit_peo(sfmt("%s\n%s", h_render(&h), multipart_body(boundary, preamble, parts, 2)),
			 "user's own S/MIME (personal certificate Paolo Galli, issued by the test "
			 "root, "
			 "not in the index);signature valid");
	}
}

/* ======================================================================
 * PKI files and the providers' index
 * ====================================================================== */

static void make_pki(void)
{
	static const cert_spec ca = {"pecguard Test Root CA",
				     "pecguard Test PKI",
				     1,
				     "20100101000000Z",
				     "20450101000000Z",
				     1,
				     NULL};
	static const cert_spec rogue_ca = {
		"Rogue Test Root CA", "Rogue PKI", 1,   "20100101000000Z",
		"20450101000000Z",    1,           NULL};
	static const cert_spec alfa = {"Posta Certificata Gestore Alfa",
				       "Gestore Alfa S.p.A.",
				       0x1001,
				       "20200101000000Z",
				       "20400101000000Z",
				       0,
				       "email:posta-certificata@pec.alfa.test"};
	static const cert_spec beta = {"Posta Certificata Gestore Beta",
				       "Gestore Beta S.r.l.",
				       0x1002,
				       "20200101000000Z",
				       "20400101000000Z",
				       0,
				       "email:posta-certificata@pec.beta.test"};
	static const cert_spec gamma = {"Posta Certificata Gestore Gamma",
					"Gestore Gamma S.p.A.",
					0x1003,
					"20150101000000Z",
					"20180101000000Z",
					0,
					"email:posta-certificata@pec.gamma.test"};
	static const cert_spec delta = {"Posta Certificata Gestore Delta",
					"Gestore Delta S.p.A.",
					0x1004,
					"20900101000000Z",
					"20950101000000Z",
					0,
					"email:posta-certificata@pec.delta.test"};
	static const cert_spec epsilon = {"Posta Certificata Gestore Epsilon",
					  "Gestore Epsilon S.p.A.",
					  0x1005,
					  "20200101000000Z",
					  "20400101000000Z",
					  0,
					  "email:posta-certificata@pec.epsilon.test"};
	static const cert_spec selfsigned = {"Posta Certificata",
					     "Posta Certificata Sicura S.r.l.",
					     0x2001,
					     "20200101000000Z",
					     "20400101000000Z",
					     0,
					     "email:posta-certificata@pec.alfa.test"};
	static const cert_spec personal = {"Paolo Galli",
					   "Studio Galli",
					   0x3001,
					   "20240101000000Z",
					   "20300101000000Z",
					   0,
					   "email:paolo.galli@studio-galli.test"};

	make_party(&g.ca, "ca", &ca, NULL);
	make_party(&g.rogue_ca, "rogue-ca", &rogue_ca, NULL);
	make_party(&g.alfa, "alfa", &alfa, &g.ca);
	make_party(&g.beta, "beta", &beta, &g.ca);
	make_party(&g.gamma, "gamma", &gamma, &g.ca);
	make_party(&g.delta, "delta", &delta, &g.ca);
	make_party(&g.epsilon, "epsilon", &epsilon, &g.ca);
	make_party(&g.epsilon_baddates, "epsilon-baddates", &epsilon, &g.ca);
	/* Month 13: a UTCTime no parser turns into a date, in a certificate
	 * that still decodes and whose signatures still verify. */
	set_raw_not_before(&g.epsilon_baddates, "201301000000Z", &g.ca);
	/* Same subject, SAN and serial as Alfa: only the issuer and key differ. */
	make_party(&g.rogue, "rogue", &alfa, &g.rogue_ca);
	make_party(&g.selfsigned, "selfsigned", &selfsigned, NULL);
	make_party(&g.personal, "personal", &personal, &g.ca);

	party *all[] = {&g.ca,    &g.rogue_ca,   &g.alfa,    &g.beta,
			&g.gamma, &g.delta,      &g.epsilon, &g.epsilon_baddates,
			&g.rogue, &g.selfsigned, &g.personal};
	buf fp = {0};
	buf_puts(&fp, "# name\tsubject\tsha1\n");
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		write_pem(sfmt("%s/pki/%s.pem", g.outdir, all[i]->file), all[i]->cert, NULL);
		write_pem(sfmt("%s/pki/%s.key", g.outdir, all[i]->file), NULL, all[i]->key);
		buf_printf(&fp, "%s.pem\t%s\t%s\n", all[i]->file, cert_subject(all[i]->cert),
			   cert_sha1(all[i]->cert, 1));
	}
	write_file(sfmt("%s/pki/fingerprints.tsv", g.outdir), fp.p, fp.len);
	free(fp.p);
}

/* LDIF (RFC 2849) folds lines at 76 columns; continuation lines start with
 * one space. */
static void ldif_line(buf *out, const char *line)
{
	size_t n = strlen(line);
	size_t k = n < 76 ? n : 76;
	buf_add(out, line, k);
	buf_putc(out, '\n');
	for (size_t i = k; i < n; i += 75) {
		buf_putc(out, ' ');
		buf_add(out, line + i, n - i < 75 ? n - i : 75);
		buf_putc(out, '\n');
	}
}

/* A SAFE-STRING value is written as is; anything else (non-ASCII, leading
 * space, colon or '<', trailing space) in base64 after "::". */
static void ldif_attr_bin(buf *out, const char *name, const void *v, size_t n, int force_b64)
{
	const unsigned char *s = v;
	int safe =
		!force_b64 && n > 0 && s[0] != ' ' && s[0] != ':' && s[0] != '<' && s[n - 1] != ' ';
	for (size_t i = 0; safe && i < n; i++)
		if (s[i] == 0 || s[i] == '\n' || s[i] == '\r' || s[i] >= 0x80)
			safe = 0;
	buf line = {0};
	if (safe) {
		buf_printf(&line, "%s: ", name);
		buf_add(&line, v, n);
	} else {
		buf_printf(&line, "%s:: ", name);
		b64_encode(&line, v, n, 0);
	}
	ldif_line(out, line.p);
	free(line.p);
}

static void ldif_attr(buf *out, const char *name, const char *v)
{
	ldif_attr_bin(out, name, v, strlen(v), 0);
}

static void write_index(const char *file, int colon)
{
	buf b = {0};
	buf_puts(&b, "version: 1\n"
		     "# pecguard test index of PEC providers (RFC 6109 schema),\n"
		     "# written by pg-mkfixtures.\n");
	buf_puts(&b, colon ? "# providerCertificateHash: SHA-1 of the DER certificate,\n"
			     "# upper-case hex, colon-separated.\n"
			   : "# providerCertificateHash: SHA-1 of the DER certificate,\n"
			     "# lower-case hex, no separators.\n");
	buf_puts(&b, "# Gestore Gamma's certificate has expired and Gestore Delta's is not\n"
		     "# yet valid; both stay listed so that validity is checked apart from\n"
		     "# membership.  Gestore Epsilon is listed by its hashes only (its\n"
		     "# second certificate has a notBefore no parser reads).\n\n");
	buf_puts(&b, "dn: o=postacert\nobjectClass: top\nobjectClass: organization\n"
		     "objectClass: LDIFLocationURLObject\no: postacert\n");
	ldif_attr(&b, "LDIFLocationURL", "https://index.pec.test/index.ldif");
	buf_putc(&b, '\n');
	const provider *pv[] = {ALFA, BETA, GAMMA, DELTA, EPSILON};
	for (size_t i = 0; i < sizeof pv / sizeof pv[0]; i++) {
		ldif_line(&b, sfmt("dn: providerName=%s,o=postacert", pv[i]->name));
		ldif_attr(&b, "objectClass", "top");
		ldif_attr(&b, "objectClass", "provider");
		ldif_attr(&b, "providerName", pv[i]->name);
		if (pv[i]->unit)
			ldif_attr(&b, "providerUnit", pv[i]->unit);
		ldif_attr(&b, "description", pv[i]->desc);
		party *certs[2] = {pv[i]->p, pv[i]->p2};
		for (size_t c = 0; c < 2 && certs[c]; c++)
			ldif_attr(&b, "providerCertificateHash", cert_sha1(certs[c]->cert, colon));
		for (size_t c = 0; c < 2 && certs[c] && !pv[i]->hash_only; c++) {
			bytes der = cert_der(certs[c]->cert);
			ldif_attr_bin(&b, "providerCertificate;binary", der.p, der.n, 1);
		}
		ldif_attr(&b, "mailReceipt", sfmt("posta-certificata@%s", pv[i]->domains[0]));
		for (size_t d = 0; d < 3 && pv[i]->domains[d]; d++)
			ldif_attr(&b, "managedDomains", pv[i]->domains[d]);
		buf_putc(&b, '\n');
	}
	write_file(sfmt("%s/pki/%s", g.outdir, file), b.p, b.len);
	free(b.p);
}

/* ====================================================================== */

/* ======================================================================
 * The PEC invariant: valid PEC carrying the 2019 lure inside
 * ====================================================================== */

/* The lure: a fake SdI notice with a look-alike link, a change of address
 * and a zipped script -- as ordinary mail it is refused or tagged; inside
 * valid PEC it must be delivered untouched, with a warning. */
static void lure_parts(orig_msg *m)
{
	const char *text =
		"Gentile Cliente,\n\n"
		"il Sistema di Interscambio (SdI) le ha trasmesso il file "
		"IT01234567890_A1B2C.xml.p7m "
		"relativo alla fattura elettronica n. 4820157309.\n"
		"Per visualizzare la fattura acceda al portale "
		"http://agenziaentrate-gov.it.verifica-fatture.test/accesso e verifichi il suo "
		"account.\n"
		"Per le future comunicazioni del Sistema di Interscambio aggiorni il suo indirizzo "
		"telematico entro 24 ore, pena la sospensione del servizio.\n\n"
		"Agenzia delle Entrate - Sistema di Interscambio\n";
	const char *vbs = "' pecguard test fixture: inert placeholder, it does nothing\r\n"
			  "Dim fattura\r\nfattura = \"4820157309\"\r\n";
	const char *parts[2] = {
		alt_part(text, "quoted-printable", sfmt("=_alt_%.10s", tag_hex("la"))),
		attachment("application/zip", "Fattura_4820157309.zip",
			   make_zip("Fattura_4820157309.pdf.vbs", vbs, strlen(vbs))),
	};
	orig_multipart(m, "multipart/mixed", sfmt("=_mix_%.10s", tag_hex("lm")), parts, 2);
}

static orig_msg lure_orig(const char *from)
{
	orig_msg m = orig_new("Sistema di Interscambio", from, "Invio File 4820157309");
	orig_rcpt(&m, "amministrazione@pec.beta.test", 0, 0);
	lure_parts(&m);
	return m;
}

static void gen_lures(void)
{
	case_begin("pec-envelope-alfa");
	{
		/* from a compromised box of Alfa's */
		orig_msg m = lure_orig("contabilita@legal.alfa.test");
		pec_spec s = env_spec(ALFA, &m);
		pec_out o;
		pec_build(&s, &o);
		emit(pec_render(&o, 0), 0, CL_ENV, "posta-certificata", ALFA->name, "",
		     "lure in envelope");
	}
	case_begin("pec-envelope-beta-crlf");
	{
		orig_msg m = lure_orig("fatture@pec.beta.test");
		orig_rcpt(&m, "lucia.ferraro@pec.alfa.test", 1, 0);
		pec_spec s = env_spec(BETA, &m);
		pec_out o;
		pec_build(&s, &o);
		emit(pec_render(&o, 0), 1, CL_ENV, "posta-certificata", BETA->name, "",
		     "lure in envelope, CRLF");
	}
	case_begin("pec-receipt-consegna-completa");
	{
		/* the delivery receipt of the lure comes back with it inside */
		orig_msg m = lure_orig("contabilita@legal.alfa.test");
		m.date = g.t - 1800;
		pec_spec s = rcpt_spec("avvenuta-consegna", BETA, &m);
		s.ricevuta = "completa";
		s.consegna = "amministrazione@pec.beta.test";
		s.include_orig = 1;
		pec_out o;
		pec_build(&s, &o);
		emit(pec_render(&o, 0), 0, CL_RCPT, "avvenuta-consegna", BETA->name, "",
		     "lure in a complete delivery receipt");
	}
	case_begin("pec-anomaly-alfa");
	{
		/* ordinary mail wrapped by the recipient's provider */
		orig_msg m = lure_orig("notifiche@sdi-fatture.test");
		orig_rcpt(&m, "lucia.ferraro@pec.alfa.test", 0, 0);
		pec_spec s;
		memset(&s, 0, sizeof s);
		s.kind = K_ANOMALY;
		s.tipo = "errore";
		s.issuer = ALFA;
		s.orig = &m;
		pec_out o;
		pec_build(&s, &o);
		emit(pec_render(&o, 0), 0, CL_ANOM, "errore", ALFA->name, "",
		     "lure in an anomaly envelope");
	}
	case_begin("peo-lure");
	{
		orig_msg m = lure_orig("notifiche@sdi-fatture.test");
		emit(render_orig(&m, NULL), 0, "peo", "", "", "", "the same lure as ordinary mail");
	}
}

int main(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '\0' || argv[1][0] == '-') {
		fprintf(stderr, "usage: pg-mkfixtures OUTDIR\n"
				"Writes OUTDIR/pki, OUTDIR/messages and OUTDIR/expected.tsv.\n");
		return 2;
	}
	/* libarchive writes zip timestamps in local time: pin it for stable zips. */
	if (setenv("TZ", "UTC", 1) != 0)
		die("setenv: %s", strerror(errno));
	tzset();

	g.outdir = argv[1];
	g.msgdir = "messages";
	g.base = days_from_civil(2026, 1, 19) * 86400 + 7 * 3600 + 30 * 60; /* 08:30 +0100 */
	g.alfa_p = (provider){"Gestore Alfa",
			      "Gestore Alfa S.p.A.",
			      {"pec.alfa.test", "legal.alfa.test", NULL},
			      "Servizio PEC di prova",
			      "Gestore Alfa – gestore di prova n° 1 (certificato valido 2020–2040)",
			      21,
			      1,
			      &g.alfa,
			      NULL,
			      0};
	g.beta_p = (provider){"Gestore Beta",
			      "Gestore Beta S.r.l.",
			      {"pec.beta.test", NULL, NULL},
			      NULL,
			      "Test provider Beta (valid certificate 2020-2040)",
			      22,
			      0,
			      &g.beta,
			      NULL,
			      0};
	g.gamma_p = (provider){"Gestore Gamma",
			       "Gestore Gamma S.p.A.",
			       {"pec.gamma.test", NULL, NULL},
			       "Servizio PEC Gamma",
			       "Test provider Gamma: certificate EXPIRED (valid "
			       "2015-01-01..2018-01-01) but still listed",
			       23,
			       0,
			       &g.gamma,
			       NULL,
			       0};
	g.delta_p = (provider){
		"Gestore Delta",
		"Gestore Delta S.p.A.",
		{"pec.delta.test", NULL, NULL},
		NULL,
		"Test provider Delta: certificate NOT YET VALID (valid 2090-01-01..2095-01-01)",
		24,
		0,
		&g.delta,
		NULL,
		0};
	g.epsilon_p =
		(provider){"Gestore Epsilon",
			   "Gestore Epsilon S.p.A.",
			   {"pec.epsilon.test", NULL, NULL},
			   NULL,
			   "Test provider Epsilon: listed by certificate hashes only; its second "
			   "certificate's notBefore cannot be read",
			   25,
			   0,
			   &g.epsilon,
			   &g.epsilon_baddates,
			   1};

	make_dir(g.outdir);
	make_dir(sfmt("%s/pki", g.outdir));
	make_dir(sfmt("%s/messages", g.outdir));

	make_pki();
	write_index("index.ldif", 1);
	write_index("index-nocolon.ldif", 0);

	buf_puts(&g.expected, EXPECTED_HEADER);
	gen_envelopes();
	gen_receipts();
	gen_invalid();
	gen_signing_time();
	gen_peo();
	write_file(sfmt("%s/expected.tsv", g.outdir), g.expected.p, g.expected.len);

	/* The lure set, in lures/ with an expected.tsv of its own. */
	free(g.expected.p);
	memset(&g.expected, 0, sizeof g.expected);
	g.msgdir = "lures";
	make_dir(sfmt("%s/lures", g.outdir));
	buf_puts(&g.expected, EXPECTED_HEADER);
	gen_lures();
	write_file(sfmt("%s/lures/expected.tsv", g.outdir), g.expected.p, g.expected.len);

	printf("pg-mkfixtures: wrote %d messages, test PKI and providers' index to %s\n", g.nmsg,
	       g.outdir);

	free(g.expected.p);
	party *all[] = {&g.ca,    &g.rogue_ca,   &g.alfa,    &g.beta,
			&g.gamma, &g.delta,      &g.epsilon, &g.epsilon_baddates,
			&g.rogue, &g.selfsigned, &g.personal};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		free_party(all[i]);
	free_owned();
	return 0;
}
