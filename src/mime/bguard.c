/*
 * bguard.c - an upper bound on the parts GMime can build, before it runs.
 *
 * The raw scan (rawmime.c) applies the caps before GMime parses, and the
 * model applies them again on GMime's tree (msg.c).  Where the two parsers
 * read a structure differently (a stray line in a header block, an RFC 2231
 * boundary, a message/rfc822 in an unusual encoding...), GMime may build
 * parts the raw scan never saw; the caps then refuse the message, but only
 * after GMime built the whole tree: a million empty parts in 7 MB took
 * 1.3 GB and 7 s.  This guard bounds that tree without parsing: GMime
 * starts a body part only at a line "--BOUNDARY" (optionally "--" after it,
 * then white space) for a boundary declared in some Content-Type.  So it
 * gathers every value that could be a declared boundary anywhere in the
 * message (any "boundary" parameter, plain, quoted, RFC 2231 with or
 * without charset, continuations joined) and counts the lines that match
 * one exactly.  Each part needs one such line and each multipart one more
 * to close, so more than 2 x budget + 2 lines means more parts than the
 * budget allows.  A part typed message/... is one more entity (GMime parses
 * its body as a message whatever its encoding): its Content-Type line is
 * counted too.  A superset of GMime's boundaries, so the count only errs
 * upwards, and by lines that look exactly like delimiters.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mime/rawmime.h"

#define BOUNDARY_MAX 256 /* longer values are not boundaries GMime would match here */

struct bset {
	pg_arena *a;
	const char **v;
	size_t *len;
	size_t n, cap; /* cap: a power of two */
};

static uint64_t hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static bool bset_has(const struct bset *b, const char *s, size_t n)
{
	if (b->cap == 0)
		return false;
	for (size_t i = hash(s, n) & (b->cap - 1);; i = (i + 1) & (b->cap - 1)) {
		if (b->v[i] == NULL)
			return false;
		if (b->len[i] == n && memcmp(b->v[i], s, n) == 0)
			return true;
	}
}

static int bset_grow(struct bset *b)
{
	size_t cap = b->cap ? b->cap * 2 : 64;
	const char **v = pg_arena_calloc(b->a, cap, sizeof(*v));
	size_t *len = pg_arena_calloc(b->a, cap, sizeof(*len));
	if (v == NULL || len == NULL)
		return -1;
	for (size_t i = 0; i < b->cap; i++) {
		if (b->v[i] == NULL)
			continue;
		size_t j = hash(b->v[i], b->len[i]) & (cap - 1);
		while (v[j] != NULL)
			j = (j + 1) & (cap - 1);
		v[j] = b->v[i];
		len[j] = b->len[i];
	}
	b->v = v;
	b->len = len;
	b->cap = cap;
	return 0;
}

static int bset_add(struct bset *b, const char *s, size_t n)
{
	if (n == 0 || n > BOUNDARY_MAX || bset_has(b, s, n))
		return 0;
	if ((b->n + 1) * 2 > b->cap && bset_grow(b) != 0)
		return -1;
	char *c = pg_arena_alloc(b->a, n);
	if (c == NULL)
		return -1;
	memcpy(c, s, n);
	size_t i = hash(s, n) & (b->cap - 1);
	while (b->v[i] != NULL)
		i = (i + 1) & (b->cap - 1);
	b->v[i] = c;
	b->len[i] = n;
	b->n++;
	return 0;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static bool is_lwsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The value after the '=' at v: quoted or a token.  *vn its length. */
static const char *param_value(const char *v, const char *end, size_t *vn, bool *quoted)
{
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	*quoted = v < end && *v == '"';
	if (*quoted) {
		const char *s = ++v;
		while (v < end && *v != '"' && *v != '\n')
			v += *v == '\\' && v + 1 < end ? 2 : 1;
		*vn = (size_t)(v - s);
		return s;
	}
	const char *s = v;
	while (v < end && !is_lwsp(*v) && *v != ';' && *v != '"')
		v++;
	*vn = (size_t)(v - s);
	return s;
}

/* Adds the forms GMime may give a value: as written, unquoted (backslash
 * escapes removed), and for an RFC 2231 extended value the part after the
 * charset and language, percent-decoded. */
static int add_forms(struct bset *b, const char *s, size_t n, bool extended)
{
	char buf[BOUNDARY_MAX];
	if (n > BOUNDARY_MAX)
		return 0;
	if (bset_add(b, s, n) != 0)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n)
			i++;
		buf[o++] = s[i];
	}
	if (bset_add(b, buf, o) != 0)
		return -1;
	/* Delimiter lines are matched with their trailing white space cut. */
	while (o > 0 && is_lwsp(buf[o - 1]))
		o--;
	if (bset_add(b, buf, o) != 0)
		return -1;
	if (!extended)
		return 0;
	const char *q = memchr(s, '\'', n);
	const char *q2 = q ? memchr(q + 1, '\'', (size_t)(s + n - q - 1)) : NULL;
	const char *v = q2 ? q2 + 1 : s;
	size_t vn = (size_t)(s + n - v);
	o = 0;
	for (size_t i = 0; i < vn; i++) {
		int h1, h2;
		if (v[i] == '%' && i + 2 < vn && (h1 = hexval(v[i + 1])) >= 0 &&
		    (h2 = hexval(v[i + 2])) >= 0) {
			buf[o++] = (char)(h1 * 16 + h2);
			i += 2;
		} else {
			buf[o++] = v[i];
		}
	}
	return bset_add(b, buf, o);
}

/* Every "boundary" parameter in the text, found from its '='. */
static int gather(struct bset *b, const char *d, size_t len)
{
	static const char name[] = "boundary";
	const size_t nl = sizeof(name) - 1;
	char joined[BOUNDARY_MAX]; /* RFC 2231 continuations, in order met */
	size_t jn = 0;
	const char *last_cont = NULL;
	for (const char *p = d, *end = d + len; (p = memchr(p, '=', (size_t)(end - p))) != NULL;
	     p++) {
		/* Back over "*", "*N" or "*N*" and white space to the name. */
		const char *q = p;
		while (q > d && (q[-1] == ' ' || q[-1] == '\t'))
			q--;
		bool extended = q > d && q[-1] == '*';
		if (extended)
			q--;
		const char *digits_end = q;
		while (q > d && q[-1] >= '0' && q[-1] <= '9')
			q--;
		bool continuation = q < digits_end;
		if (continuation) {
			if (q == d || q[-1] != '*')
				continue;
			q--;
		}
		if ((size_t)(q - d) < nl)
			continue;
		const char *n0 = q - nl;
		size_t i = 0;
		while (i < nl && lower(n0[i]) == name[i])
			i++;
		if (i < nl)
			continue;
		size_t vn;
		bool quoted;
		const char *v = param_value(p + 1, end, &vn, &quoted);
		if (vn == 0)
			continue;
		if (add_forms(b, v, vn, extended && !quoted) != 0)
			return -1;
		if (continuation) {
			/* "*0" starts a new value; later pieces near the last one
			 * (same header block: within 4 KiB) are appended. */
			if (digits_end - q == 2 && q[1] == '0')
				jn = 0;
			else if (last_cont == NULL || p - last_cont > 4096)
				continue;
			last_cont = p;
			if (jn + vn <= sizeof(joined)) {
				memcpy(joined + jn, v, vn);
				jn += vn;
				if (add_forms(b, joined, jn, extended || jn != vn) != 0)
					return -1;
			}
		}
	}
	return 0;
}

/* Does the line at p (to le) declare a message/... type: "Content-Type:"
 * then "message/" on the line or, folded, at the start of the next one? */
static bool declares_message(const char *p, const char *le, const char *end)
{
	static const char ct[] = "content-type";
	const size_t n = sizeof(ct) - 1;
	if ((size_t)(le - p) < n || lower(p[0]) != 'c')
		return false;
	for (size_t i = 1; i < n; i++)
		if (lower(p[i]) != ct[i])
			return false;
	const char *q = p + n;
	while (q < le && (*q == ' ' || *q == '\t'))
		q++;
	if (q == le || *q != ':')
		return false;
	q++;
	while (q < le && is_lwsp(*q))
		q++;
	if (q == le && le < end) { /* folded: the value starts on the next line */
		q = le + 1;
		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
	}
	static const char msg[] = "message/";
	for (size_t i = 0; i < sizeof(msg) - 1; i++, q++)
		if (q >= end || lower(*q) != msg[i])
			return false;
	return true;
}

pg_status pg_raw_boundary_guard(pg_arena *a, const char *data, size_t len, unsigned budget,
				const pg_limits *lim, char *err, size_t errlen)
{
	struct bset b = {.a = a};
	if (gather(&b, data, len) != 0)
		return PG_ERR_NOMEM;
	/* Delimiter lines, and header lines that make a part a message: GMime
	 * parses a message/rfc822 body as a message whatever its encoding, one
	 * entity per level (100,000 quoted-printable levels in 7 MB took
	 * 500 MB before the depth cap could apply). */
	uint64_t allowed = 2 * (uint64_t)budget + 2, lines = 0;
	const char *end = data + len;
	for (const char *p = data; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if (declares_message(p, le, end) && ++lines > allowed) {
			snprintf(err, errlen,
				 "more MIME parts than the limit (%u): over %llu delimiter lines "
				 "and message/* types",
				 lim->max_parts, (unsigned long long)allowed);
			return PG_ERR_TOO_MANY_PARTS;
		}
		if (b.n > 0 && le - p >= 3 && p[0] == '-' && p[1] == '-') {
			const char *s = p + 2, *e = le;
			while (e > s && is_lwsp(e[-1]))
				e--;
			size_t n = (size_t)(e - s);
			if (bset_has(&b, s, n) || (n >= 2 && e[-1] == '-' && e[-2] == '-' &&
						   bset_has(&b, s, n - 2))) {
				if (++lines > allowed) {
					snprintf(err, errlen,
						 "more MIME parts than the limit (%u): over %llu "
						 "delimiter lines and message/* types",
						 lim->max_parts, (unsigned long long)allowed);
					return PG_ERR_TOO_MANY_PARTS;
				}
			}
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return PG_OK;
}
