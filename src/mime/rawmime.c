#include "mime/rawmime.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/str.h"

struct rawscan {
	pg_arena *a;
	const char *d;
	const pg_limits *lim;
	unsigned nparts;
	char *err;
	size_t errlen;
};

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* End of the line starting at p (index of '\n', or end). */
static size_t line_end(const char *d, size_t p, size_t end)
{
	const char *nl = memchr(d + p, '\n', end - p);
	return nl ? (size_t)(nl - d) : end;
}

/* Skips blanks and RFC 5322 comments in a header value. */
static size_t skip_cfws(const char *v, size_t i, size_t n)
{
	while (i < n) {
		if (is_wsp(v[i]) || v[i] == '\r' || v[i] == '\n') {
			i++;
		} else if (v[i] == '(') {
			int level = 0;
			for (; i < n; i++) {
				if (v[i] == '\\' && i + 1 < n) {
					i++;
				} else if (v[i] == '(') {
					level++;
				} else if (v[i] == ')' && --level == 0) {
					i++;
					break;
				}
			}
		} else {
			break;
		}
	}
	return i;
}

static bool is_tspecial(char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL || c <= ' ' || c == 0x7f;
}

const char *pg_raw_parse_ctype(pg_arena *a, const char *v, size_t n, const char *param,
			       const char **param_value)
{
	if (param_value != NULL)
		*param_value = NULL;
	size_t i = skip_cfws(v, 0, n);
	size_t t0 = i;
	while (i < n && !is_tspecial(v[i]))
		i++;
	size_t t1 = i;
	i = skip_cfws(v, i, n);
	const char *type = "text/plain";
	if (t1 > t0 && i < n && v[i] == '/') {
		i = skip_cfws(v, i + 1, n);
		size_t s0 = i;
		while (i < n && !is_tspecial(v[i]))
			i++;
		if (i > s0) {
			char *t = pg_arena_printf(a, "%.*s/%.*s", (int)(t1 - t0), v + t0,
						  (int)(i - s0), v + s0);
			if (t == NULL)
				return NULL;
			type = pg_strlower(t);
		}
	}
	if (param == NULL || param_value == NULL)
		return type;
	/* Parameters: ; name = token | quoted-string */
	size_t plen = strlen(param);
	while (i < n) {
		while (i < n && v[i] != ';')
			i++;
		if (i >= n)
			break;
		i = skip_cfws(v, i + 1, n);
		size_t k0 = i;
		while (i < n && !is_tspecial(v[i]))
			i++;
		size_t k1 = i;
		i = skip_cfws(v, i, n);
		if (i >= n || v[i] != '=')
			continue;
		i = skip_cfws(v, i + 1, n);
		char *val;
		if (i < n && v[i] == '"') {
			/* quoted-string, unescaping backslashes */
			char *q = pg_arena_alloc(a, n - i + 1);
			if (q == NULL)
				return NULL;
			size_t o = 0;
			for (i++; i < n && v[i] != '"'; i++) {
				if (v[i] == '\\' && i + 1 < n)
					i++;
				if (v[i] != '\r' && v[i] != '\n')
					q[o++] = v[i];
			}
			if (i < n)
				i++;
			q[o] = '\0';
			val = q;
		} else {
			size_t v0 = i;
			while (i < n && v[i] != ';' && !is_wsp(v[i]) && v[i] != '\r' &&
			       v[i] != '\n')
				i++;
			val = pg_arena_strndup(a, v + v0, i - v0);
			if (val == NULL)
				return NULL;
		}
		if (k1 - k0 == plen && pg_strneq_ci(v + k0, param, plen)) {
			*param_value = val;
			/* The first occurrence wins, as GMime does. */
			break;
		}
	}
	return type;
}

static pg_status fail(struct rawscan *s, pg_status st, const char *fmt, size_t off)
{
	snprintf(s->err, s->errlen, fmt, off);
	return st;
}

static pg_status scan_entity(struct rawscan *s, pg_rawent *e, size_t start, size_t end);

/* Splits the body of a multipart entity at its delimiter lines. */
static pg_status scan_multipart(struct rawscan *s, pg_rawent *e)
{
	const char *d = s->d;
	size_t blen = strlen(e->boundary);
	size_t p = e->body_start, end = e->end;
	size_t part_start = 0;
	bool in_part = false;
	pg_rawent **link = &e->first_child;

	while (p < end) {
		size_t le = line_end(d, p, end);
		size_t ll = le - p;
		bool delim = false, close = false;
		if (ll >= 2 + blen && d[p] == '-' && d[p + 1] == '-' &&
		    memcmp(d + p + 2, e->boundary, blen) == 0) {
			size_t q = p + 2 + blen;
			if (q + 1 < le && d[q] == '-' && d[q + 1] == '-') {
				close = true;
				q += 2;
			}
			while (q < le && (is_wsp(d[q]) || d[q] == '\r'))
				q++;
			delim = q == le;
		}
		size_t next = le < end ? le + 1 : end;
		if (!delim) {
			p = next;
			continue;
		}
		if (in_part) {
			/* The line break before a delimiter belongs to it. */
			size_t pe = p;
			if (pe > part_start && d[pe - 1] == '\n')
				pe--;
			if (pe > part_start && d[pe - 1] == '\r')
				pe--;
			pg_rawent *c = pg_arena_calloc(s->a, 1, sizeof(*c));
			if (c == NULL)
				return PG_ERR_NOMEM;
			c->parent = e;
			c->depth = e->depth + 1;
			*link = c;
			link = &c->next;
			e->nchildren++;
			pg_status st = scan_entity(s, c, part_start, pe);
			if (st != PG_OK)
				return st;
		}
		if (close) {
			e->closed = 1;
			return PG_OK;
		}
		in_part = true;
		part_start = next;
		p = next;
	}
	if (in_part) {
		/* No close delimiter: the last part runs to the end. */
		pg_rawent *c = pg_arena_calloc(s->a, 1, sizeof(*c));
		if (c == NULL)
			return PG_ERR_NOMEM;
		c->parent = e;
		c->depth = e->depth + 1;
		*link = c;
		e->nchildren++;
		return scan_entity(s, c, part_start, end);
	}
	return PG_OK;
}

static bool identity_cte(const char *cte)
{
	return cte == NULL || strcmp(cte, "7bit") == 0 || strcmp(cte, "8bit") == 0 ||
	       strcmp(cte, "binary") == 0;
}

static pg_status scan_entity(struct rawscan *s, pg_rawent *e, size_t start, size_t end)
{
	const char *d = s->d;
	if (++s->nparts > s->lim->max_parts)
		return fail(s, PG_ERR_TOO_MANY_PARTS,
			    "more MIME parts than the limit (at byte %zu)", start);
	if (e->depth > s->lim->max_depth)
		return fail(s, PG_ERR_TOO_DEEP, "MIME nesting deeper than the limit (at byte %zu)",
			    start);
	e->start = start;
	e->end = end;
	e->ctype =
		e->parent && e->parent->ctype && strcmp(e->parent->ctype, "multipart/digest") == 0
			? "message/rfc822"
			: "text/plain";

	/* Header block: fields until a blank line, or until a line that cannot
	 * be a header field (then the body starts at that line). */
	size_t p = start, field = (size_t)-1, ct0 = 0, ct1 = 0, te0 = 0, te1 = 0;
	bool have_ct = false, have_te = false;
	e->hdr_end = e->body_start = end;
	while (p < end) {
		size_t le = line_end(d, p, end);
		size_t ll = le - p;
		if (ll > 0 && d[le - 1] == '\r')
			ll--;
		if (ll == 0) {
			e->hdr_end = p;
			e->body_start = le < end ? le + 1 : end;
			break;
		}
		if (is_wsp(d[p]) && field != (size_t)-1) {
			/* continuation of the current field */
		} else {
			size_t c = p;
			while (c < p + ll && d[c] != ':' && d[c] > ' ' && d[c] < 0x7f)
				c++;
			size_t name_end = c;
			while (c < p + ll && is_wsp(d[c]))
				c++;
			if (c >= p + ll || d[c] != ':' || name_end == p) {
				e->hdr_end = e->body_start = p;
				break;
			}
			field = p;
			/* A new field ends the value of the previous one. */
			if (ct1 == (size_t)-1)
				ct1 = p;
			if (te1 == (size_t)-1)
				te1 = p;
			size_t nl = name_end - p;
			if (nl == 12 && pg_strneq_ci(d + p, "content-type", 12)) {
				have_ct = true;
				ct0 = c + 1;
				ct1 = (size_t)-1;
			} else if (nl == 25 &&
				   pg_strneq_ci(d + p, "content-transfer-encoding", 25)) {
				have_te = true;
				te0 = c + 1;
				te1 = (size_t)-1;
			}
		}
		size_t next = le < end ? le + 1 : end;
		if (next - field > s->lim->max_header_field)
			return fail(s, PG_ERR_HEADER_TOO_LONG,
				    "header field longer than the limit (at byte %zu)", field);
		if (next - start > s->lim->max_header_block)
			return fail(s, PG_ERR_HEADER_TOO_LONG,
				    "header block larger than the limit (at byte %zu)", start);
		p = next;
	}
	if (ct1 == (size_t)-1)
		ct1 = e->hdr_end;
	if (te1 == (size_t)-1)
		te1 = e->hdr_end;

	if (have_ct) {
		const char *b = NULL;
		const char *t = pg_raw_parse_ctype(s->a, d + ct0, ct1 - ct0, "boundary", &b);
		if (t == NULL)
			return PG_ERR_NOMEM;
		e->ctype = t;
		e->boundary = b;
	}
	if (have_te) {
		size_t n;
		char *v = pg_arena_strndup(s->a, d + te0, te1 - te0);
		if (v == NULL)
			return PG_ERR_NOMEM;
		const char *t = pg_trim(v, &n);
		char *cte = pg_arena_strndup(s->a, t, n);
		if (cte == NULL)
			return PG_ERR_NOMEM;
		e->cte = pg_strlower(cte);
	}

	if (strncmp(e->ctype, "multipart/", 10) == 0 && e->boundary != NULL && e->boundary[0]) {
		e->kind = PG_RAW_MULTIPART;
		return scan_multipart(s, e);
	}
	if ((strcmp(e->ctype, "message/rfc822") == 0 || strcmp(e->ctype, "message/global") == 0) &&
	    identity_cte(e->cte)) {
		e->kind = PG_RAW_MESSAGE;
		pg_rawent *c = pg_arena_calloc(s->a, 1, sizeof(*c));
		if (c == NULL)
			return PG_ERR_NOMEM;
		c->parent = e;
		c->depth = e->depth + 1;
		e->first_child = c;
		e->nchildren = 1;
		return scan_entity(s, c, e->body_start, e->end);
	}
	e->kind = PG_RAW_LEAF;
	return PG_OK;
}

pg_status pg_raw_scan(pg_arena *a, const char *data, size_t len, const pg_limits *lim,
		      unsigned base_depth, pg_rawent **root, unsigned *nparts, char *err,
		      size_t errlen)
{
	struct rawscan s = {.a = a, .d = data, .lim = lim, .err = err, .errlen = errlen};
	pg_rawent *e = pg_arena_calloc(a, 1, sizeof(*e));
	if (e == NULL)
		return PG_ERR_NOMEM;
	e->depth = base_depth;
	pg_status st = scan_entity(&s, e, 0, len);
	if (st == PG_ERR_NOMEM)
		snprintf(err, errlen, "out of memory");
	*root = e;
	*nparts = s.nparts;
	return st;
}
