/*
 * ldif.c - LDIF content records (RFC 2849), parsed from memory.
 *
 * One pass over the input.  Physical lines are unfolded into one reusable
 * scratch buffer (capped), then each logical line is split into type,
 * options and value, and only the final strings go into the caller's arena:
 * the arena never holds the unfolded copies, so its size stays close to the
 * size of the values.  The attributes of the entry being read and the list
 * of entries grow in malloc'd scratch vectors and are copied into the arena
 * at their exact size when complete.
 *
 * Leniency, on purpose:
 *   - bytes above 0x7F are accepted in plain values (RFC 2849 wants them
 *     base64-encoded, but hand-made files often carry raw UTF-8; whoever
 *     uses the values checks their encoding);
 *   - a plain value may begin with ':' or '<' after the separating spaces
 *     (only the character right after the colon selects base64 or URL, as
 *     in OpenLDAP), and trailing spaces of a plain value are kept;
 *   - comments may appear inside an entry as well as between entries;
 *   - a UTF-8 byte order mark at the very start is skipped.
 * Strictness, on purpose: CR only as part of CRLF, no NUL bytes, base64 of
 * canonical form only, no URL values, no change records.
 */
#include "pec/ldif.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/str.h"

/* Caps on what the input controls: each one is a clear error, never an
 * unbounded allocation. */
#define LDIF_MAX_INPUT   ((size_t)64 << 20) /* whole input */
#define LDIF_MAX_LINE    ((size_t)1 << 20)  /* one unfolded line, so one value */
#define LDIF_MAX_ENTRIES ((size_t)100000)
/* Tiny lines ("a:") cost far more in pg_ldif_attr than in input bytes: cap
 * the values too so that 64 MiB of input cannot ask for gigabytes. */
#define LDIF_MAX_VALUES ((size_t)2000000)

typedef enum value_kind { VALUE_SAFE, VALUE_BASE64, VALUE_URL } value_kind;

typedef struct ldif_parser {
	pg_arena *a;
	const char *data;
	size_t len;
	size_t pos;      /* start of the next physical line */
	unsigned lineno; /* number of the next physical line, 1-based */
	char *err;
	size_t errlen;
	pg_buf line; /* the current logical line, unfolded */

	bool in_entry;
	pg_ldif_entry cur;   /* the entry being read (attrs in the scratch below) */
	pg_ldif_attr *attrs; /* scratch (malloc) */
	size_t nattrs, attrs_cap;
	pg_ldif_entry *entries; /* scratch (malloc) */
	size_t nentries, entries_cap;
	size_t nvalues; /* attribute values in all entries */
} ldif_parser;

static pg_status ldif_fail(ldif_parser *p, pg_status st, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static pg_status ldif_fail(ldif_parser *p, pg_status st, unsigned line, const char *fmt, ...)
{
	if (p->err != NULL && p->errlen > 0) {
		int n = snprintf(p->err, p->errlen, "%u: ", line);
		if (n >= 0 && (size_t)n < p->errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return st;
}

/* Takes the physical line at p->pos: [*s, *s + *n) without its LF or CRLF.
 * NUL bytes and lone CRs are refused here, once for every byte of input. */
static pg_status ldif_physical_line(ldif_parser *p, const char **s, size_t *n, unsigned *line)
{
	const char *start = p->data + p->pos;
	size_t rest = p->len - p->pos;
	const char *lf = memchr(start, '\n', rest);
	size_t l = lf != NULL ? (size_t)(lf - start) : rest;

	p->pos += lf != NULL ? l + 1 : l;
	*line = p->lineno++;
	if (lf != NULL && l > 0 && start[l - 1] == '\r')
		l--;
	if (memchr(start, '\0', l) != NULL)
		return ldif_fail(p, PG_ERR_PARSE, *line, "NUL byte in the line");
	if (memchr(start, '\r', l) != NULL)
		return ldif_fail(p, PG_ERR_PARSE, *line,
				 "stray CR (lines must end with LF or CRLF)");
	*s = start;
	*n = l;
	return PG_OK;
}

/* Is the next physical line a continuation (it starts with one space)? */
static bool ldif_next_continues(const ldif_parser *p)
{
	return p->pos < p->len && p->data[p->pos] == ' ';
}

/* Strict base64 (RFC 4648 with padding): only the alphabet, a length that is
 * a multiple of four, '=' only as the last one or two characters, and zero
 * bits in what the padding leaves unused, so that every value has exactly
 * one spelling.  out must hold n / 4 * 3 bytes; *outlen gets the true
 * length.  Returns NULL or a description of the first problem. */
static const char *b64_decode(const char *s, size_t n, unsigned char *out, size_t *outlen)
{
	if (n % 4 != 0)
		return "length is not a multiple of 4";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 4) {
		bool last = i + 4 == n;
		int v[4];
		size_t pad = 0;
		for (size_t k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)s[i + k];
			if (c == '=' && last && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0)
				return "misplaced '=' padding";
			v[k] = pg_b64_value(c);
			if (v[k] < 0)
				return c == '=' ? "misplaced '=' padding"
						: "character outside the alphabet";
		}
		unsigned long q = (unsigned long)v[0] << 18 | (unsigned long)v[1] << 12 |
				  (unsigned long)v[2] << 6 | (unsigned long)v[3];
		if ((pad == 1 && (q & 0xFF) != 0) || (pad == 2 && (q & 0xFFFF) != 0))
			return "non-zero bits under the '=' padding";
		out[o++] = (unsigned char)(q >> 16);
		if (pad < 2)
			out[o++] = (unsigned char)(q >> 8);
		if (pad < 1)
			out[o++] = (unsigned char)q;
	}
	*outlen = o;
	return NULL;
}

static bool is_type_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A split logical line: pointers into p->line. */
typedef struct ldif_line {
	const char *type;
	size_t type_len;
	const char *options; /* after the first ';', or NULL */
	size_t options_len;
	value_kind kind;
	const char *value; /* raw: base64 still encoded */
	size_t value_len;
} ldif_line;

/* Splits "type;opt1;opt2:[:|<] value".  The type is a keystring or a
 * numeric OID, options are keystrings (RFC 4512): since only those
 * characters get through, types and options are safe to quote in messages. */
static pg_status ldif_split(ldif_parser *p, unsigned line, const char *s, size_t n, ldif_line *out)
{
	size_t i = 0;
	while (i < n && (is_type_char(s[i]) || s[i] == '.'))
		i++;
	if (i == 0 || !is_alnum(s[0]) || i == n || (s[i] != ':' && s[i] != ';'))
		return ldif_fail(
			p, PG_ERR_PARSE, line,
			"expected \"attribute: value\" (attribute type of letters, digits, '-')");
	out->type = s;
	out->type_len = i;
	out->options = NULL;
	out->options_len = 0;
	if (s[i] == ';') {
		out->options = s + i + 1;
		do {
			size_t start = ++i;
			while (i < n && is_type_char(s[i]))
				i++;
			if (i == start)
				return ldif_fail(p, PG_ERR_PARSE, line,
						 "%.*s: empty attribute option", (int)out->type_len,
						 out->type);
		} while (i < n && s[i] == ';');
		out->options_len = (size_t)(s + i - out->options);
		if (i == n || s[i] != ':')
			return ldif_fail(p, PG_ERR_PARSE, line,
					 "%.*s: bad character in attribute options",
					 (int)out->type_len, out->type);
	}
	i++; /* the ':' */
	out->kind = VALUE_SAFE;
	if (i < n && s[i] == ':') {
		out->kind = VALUE_BASE64;
		i++;
	} else if (i < n && s[i] == '<') {
		out->kind = VALUE_URL;
		i++;
	}
	while (i < n && s[i] == ' ')
		i++;
	out->value = s + i;
	out->value_len = n - i;
	if (out->kind == VALUE_BASE64) {
		/* Hand-edited files leave trailing blanks; they are never data. */
		while (out->value_len > 0 && out->value[out->value_len - 1] == ' ')
			out->value_len--;
	}
	return PG_OK;
}

static bool type_is(const ldif_line *l, const char *name)
{
	return strlen(name) == l->type_len && pg_strneq_ci(l->type, name, l->type_len);
}

/* Decodes the value of l into buf (arena, NUL-terminated; buf must hold
 * value_len + 1 bytes).  URL values are refused: nothing is ever fetched. */
static pg_status ldif_decode_value(ldif_parser *p, unsigned line, const ldif_line *l,
				   unsigned char *buf, size_t *outlen)
{
	switch (l->kind) {
	case VALUE_URL:
		return ldif_fail(p, PG_ERR_PARSE, line,
				 "%.*s: URL value (\":<\") refused: values are never fetched",
				 (int)l->type_len, l->type);
	case VALUE_BASE64: {
		const char *why = b64_decode(l->value, l->value_len, buf, outlen);
		if (why != NULL)
			return ldif_fail(p, PG_ERR_PARSE, line, "%.*s: invalid base64: %s",
					 (int)l->type_len, l->type, why);
		break;
	}
	case VALUE_SAFE:
		memcpy(buf, l->value, l->value_len);
		*outlen = l->value_len;
		break;
	}
	buf[*outlen] = '\0';
	return PG_OK;
}

/* Moves the finished entry from the scratch vectors into the arena. */
static pg_status ldif_end_entry(ldif_parser *p)
{
	if (!p->in_entry)
		return PG_OK;
	p->in_entry = false;
	if (p->nattrs > 0) {
		p->cur.attrs = pg_arena_alloc(p->a, p->nattrs * sizeof(*p->attrs));
		if (p->cur.attrs == NULL)
			return ldif_fail(p, PG_ERR_NOMEM, p->cur.line, "out of memory");
		memcpy(p->cur.attrs, p->attrs, p->nattrs * sizeof(*p->attrs));
	}
	p->cur.nattrs = p->nattrs;
	p->nattrs = 0;
	if (p->nentries == p->entries_cap) {
		size_t cap = p->entries_cap ? p->entries_cap * 2 : 16;
		pg_ldif_entry *v = realloc(p->entries, cap * sizeof(*v));
		if (v == NULL)
			return ldif_fail(p, PG_ERR_NOMEM, p->cur.line, "out of memory");
		p->entries = v;
		p->entries_cap = cap;
	}
	p->entries[p->nentries++] = p->cur;
	return PG_OK;
}

static pg_status ldif_begin_entry(ldif_parser *p, unsigned line, const ldif_line *l)
{
	if (l->options != NULL)
		return ldif_fail(p, PG_ERR_PARSE, line, "dn: attribute options are not allowed");
	if (p->nentries >= LDIF_MAX_ENTRIES)
		return ldif_fail(p, PG_ERR_PARSE, line, "more than %zu entries (limit)",
				 LDIF_MAX_ENTRIES);
	unsigned char *dn = pg_arena_alloc(p->a, l->value_len + 1);
	if (dn == NULL)
		return ldif_fail(p, PG_ERR_NOMEM, line, "out of memory");
	size_t dnlen;
	pg_status st = ldif_decode_value(p, line, l, dn, &dnlen);
	if (st != PG_OK)
		return st;
	/* The dn is handed out as a C string: an embedded NUL would silently
	 * shorten it. */
	if (memchr(dn, '\0', dnlen) != NULL)
		return ldif_fail(p, PG_ERR_PARSE, line, "dn: contains a NUL byte");
	p->cur.dn = (const char *)dn;
	p->cur.line = line;
	p->cur.attrs = NULL;
	p->cur.nattrs = 0;
	p->in_entry = true;
	return PG_OK;
}

static pg_status ldif_add_attr(ldif_parser *p, unsigned line, const ldif_line *l)
{
	if (p->nvalues >= LDIF_MAX_VALUES)
		return ldif_fail(p, PG_ERR_PARSE, line, "more than %zu attribute values (limit)",
				 LDIF_MAX_VALUES);
	/* One allocation for "type\0options\0value\0". */
	size_t optlen = l->options != NULL ? l->options_len + 1 : 0;
	char *mem = pg_arena_alloc(p->a, l->type_len + 1 + optlen + l->value_len + 1);
	if (mem == NULL)
		return ldif_fail(p, PG_ERR_NOMEM, line, "out of memory");
	memcpy(mem, l->type, l->type_len);
	mem[l->type_len] = '\0';
	char *opts = NULL;
	if (l->options != NULL) {
		opts = mem + l->type_len + 1;
		memcpy(opts, l->options, l->options_len);
		opts[l->options_len] = '\0';
	}
	unsigned char *val = (unsigned char *)mem + l->type_len + 1 + optlen;
	size_t vlen;
	pg_status st = ldif_decode_value(p, line, l, val, &vlen);
	if (st != PG_OK)
		return st;

	if (p->nattrs == p->attrs_cap) {
		size_t cap = p->attrs_cap ? p->attrs_cap * 2 : 16;
		pg_ldif_attr *v = realloc(p->attrs, cap * sizeof(*v));
		if (v == NULL)
			return ldif_fail(p, PG_ERR_NOMEM, line, "out of memory");
		p->attrs = v;
		p->attrs_cap = cap;
	}
	p->attrs[p->nattrs++] = (pg_ldif_attr){
		.name = mem, .options = opts, .value = val, .len = vlen, .line = line};
	p->nvalues++;
	return PG_OK;
}

/* One logical line that is neither blank nor a comment. */
static pg_status ldif_handle_line(ldif_parser *p, unsigned line, bool first)
{
	ldif_line l;
	pg_status st = ldif_split(p, line, p->line.data, p->line.len, &l);
	if (st != PG_OK)
		return st;

	if (!p->in_entry) {
		if (type_is(&l, "dn"))
			return ldif_begin_entry(p, line, &l);
		if (first && type_is(&l, "version")) {
			if (l.kind != VALUE_SAFE || l.value_len != 1 || l.value[0] != '1')
				return ldif_fail(p, PG_ERR_PARSE, line,
						 "version: unsupported LDIF version (only 1)");
			return PG_OK;
		}
		return ldif_fail(p, PG_ERR_PARSE, line,
				 "%.*s: expected \"dn:\" at the start of an entry", (int)l.type_len,
				 l.type);
	}
	if (type_is(&l, "dn"))
		return ldif_fail(p, PG_ERR_PARSE, line,
				 "dn: a second dn in one entry (missing blank line?)");
	/* Change records are another language (add/delete/modify): this parser
	 * reads directory content only, so refuse them instead of misreading
	 * their operations as attributes. */
	if (type_is(&l, "changetype"))
		return ldif_fail(
			p, PG_ERR_PARSE, line,
			"changetype: change records are not supported (content LDIF only)");
	if (p->nattrs == 0 && type_is(&l, "control"))
		return ldif_fail(p, PG_ERR_PARSE, line,
				 "control: change records are not supported (content LDIF only)");
	return ldif_add_attr(p, line, &l);
}

static pg_status ldif_run(ldif_parser *p)
{
	bool first = true; /* no logical line seen yet: "version:" allowed */
	while (p->pos < p->len) {
		const char *s;
		size_t n;
		unsigned line;
		pg_status st = ldif_physical_line(p, &s, &n, &line);
		if (st != PG_OK)
			return st;
		if (n == 0) {
			st = ldif_end_entry(p);
			if (st != PG_OK)
				return st;
			continue;
		}
		if (s[0] == '#') {
			/* A folded comment is still a comment; nothing of it is kept,
			 * so no length cap is needed. */
			while (ldif_next_continues(p)) {
				st = ldif_physical_line(p, &s, &n, &line);
				if (st != PG_OK)
					return st;
			}
			continue;
		}
		if (s[0] == ' ')
			return ldif_fail(p, PG_ERR_PARSE, line,
					 "continuation line (starting with a space) with no line "
					 "to continue");

		pg_buf_reset(&p->line);
		st = pg_buf_append(&p->line, s, n);
		while (st == PG_OK && ldif_next_continues(p)) {
			unsigned cline;
			st = ldif_physical_line(p, &s, &n, &cline);
			if (st != PG_OK)
				return st;
			st = pg_buf_append(&p->line, s + 1, n - 1);
		}
		if (st == PG_ERR_TOO_BIG)
			return ldif_fail(p, PG_ERR_PARSE, line,
					 "line longer than %zu bytes (limit)", LDIF_MAX_LINE);
		if (st != PG_OK)
			return ldif_fail(p, PG_ERR_NOMEM, line, "out of memory");
		st = ldif_handle_line(p, line, first);
		if (st != PG_OK)
			return st;
		first = false;
	}
	return ldif_end_entry(p);
}

pg_status pg_ldif_parse(pg_arena *a, const char *data, size_t len, pg_ldif **out, char *err,
			size_t errlen)
{
	ldif_parser p = {
		.a = a, .data = data, .len = len, .lineno = 1, .err = err, .errlen = errlen};
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (a == NULL || out == NULL || (data == NULL && len > 0))
		return ldif_fail(&p, PG_ERR_INVALID, 0, "invalid arguments");
	if (len > LDIF_MAX_INPUT)
		return ldif_fail(&p, PG_ERR_PARSE, 1, "input larger than %zu bytes (limit)",
				 LDIF_MAX_INPUT);
	/* Editors on Windows prefix a UTF-8 BOM; it is no part of the first line. */
	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
		p.pos = 3;
	pg_buf_init(&p.line, LDIF_MAX_LINE);

	pg_status st = ldif_run(&p);
	pg_ldif *res = NULL;
	if (st == PG_OK) {
		res = pg_arena_calloc(a, 1, sizeof(*res));
		if (res != NULL && p.nentries > 0) {
			res->entries = pg_arena_alloc(a, p.nentries * sizeof(*p.entries));
			if (res->entries != NULL) {
				memcpy(res->entries, p.entries, p.nentries * sizeof(*p.entries));
				res->nentries = p.nentries;
			} else {
				res = NULL;
			}
		}
		if (res == NULL)
			st = ldif_fail(&p, PG_ERR_NOMEM, p.lineno, "out of memory");
	}
	pg_buf_free(&p.line);
	free(p.attrs);
	free(p.entries);
	if (st == PG_OK)
		*out = res;
	return st;
}

const pg_ldif_attr *pg_ldif_find(const pg_ldif_entry *e, const char *name, size_t *from)
{
	size_t i = from != NULL ? *from : 0;
	for (; i < e->nattrs; i++) {
		if (pg_streq_ci(e->attrs[i].name, name)) {
			if (from != NULL)
				*from = i + 1;
			return &e->attrs[i];
		}
	}
	if (from != NULL)
		*from = e->nattrs;
	return NULL;
}
