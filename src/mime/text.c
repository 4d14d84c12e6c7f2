#include "mime/text.h"

#include <string.h>

#include <glib.h>

#include "util/buf.h"
#include "util/str.h"

#define PART_TEXT_MAX (1u << 20)
#define ALL_TEXT_MAX  (4u << 20)
#define LINKS_MAX     2000

struct builder {
	pg_arena *a;
	pg_buf out; /* text of the part being rendered */
	pg_link *links;
	size_t nlinks, caplinks;
	const pg_part *part;
	bool nomem;
};

static void put(struct builder *b, const char *s, size_t n)
{
	if (b->nomem || b->out.len >= PART_TEXT_MAX)
		return;
	if (n > PART_TEXT_MAX - b->out.len)
		n = PART_TEXT_MAX - b->out.len;
	if (pg_buf_append(&b->out, s, n) != PG_OK)
		b->nomem = true;
}

/* ---- charsets ------------------------------------------------------------ */

/* Windows-1252 bytes 0x80-0x9F as Unicode (0 = undefined); 0xA0-0xFF are
 * Latin-1, i.e. the code point itself.  ISO-8859-1 mail is nearly always
 * 1252 in practice, so both use this table. */
static const unsigned short cp1252_hi[32] = {
	0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
	0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
	0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178,
};

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* ISO-8859-15 differs from Latin-1 in eight places. */
static unsigned latin9(unsigned char c)
{
	switch (c) {
	case 0xA4:
		return 0x20AC;
	case 0xA6:
		return 0x0160;
	case 0xA8:
		return 0x0161;
	case 0xB4:
		return 0x017D;
	case 0xB8:
		return 0x017E;
	case 0xBC:
		return 0x0152;
	case 0xBD:
		return 0x0153;
	case 0xBE:
		return 0x0178;
	default:
		return c;
	}
}

static char *single_byte_to_utf8(pg_arena *a, const unsigned char *in, size_t n, bool l9,
				 size_t *outlen)
{
	char *o = pg_arena_alloc(a, n * 3 + 1);
	if (o == NULL)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = in[i];
		if (c < 0x80) {
			o[k++] = (char)c;
			continue;
		}
		unsigned cp = c;
		if (c < 0xA0)
			cp = cp1252_hi[c - 0x80] ? cp1252_hi[c - 0x80] : 0xFFFD;
		else if (l9)
			cp = latin9(c);
		k += put_utf8(o + k, cp);
	}
	o[k] = '\0';
	*outlen = k;
	return o;
}

/* UTF-8 text of a text part.  The common charsets are converted here, in
 * one pass over the decoded bytes; others go through GMime (iconv). */
static const char *part_utf8(pg_arena *a, const pg_part *p, size_t *len)
{
	size_t n = 0;
	const unsigned char *c = pg_part_content(p, &n);
	if (c == NULL)
		return NULL;
	bool cut = n > PART_TEXT_MAX;
	if (cut)
		n = PART_TEXT_MAX;
	const char *cs = g_mime_object_get_content_type_parameter(p->obj, "charset");
	bool utf8ish = cs == NULL || pg_streq_ci(cs, "us-ascii") || pg_streq_ci(cs, "ascii") ||
		       pg_streq_ci(cs, "utf-8") || pg_streq_ci(cs, "utf8") ||
		       pg_streq_ci(cs, "unknown-8bit") || pg_streq_ci(cs, "x-unknown");
	bool w1252 =
		cs != NULL && (pg_streq_ci(cs, "iso-8859-1") || pg_streq_ci(cs, "latin1") ||
			       pg_streq_ci(cs, "iso8859-1") || pg_streq_ci(cs, "windows-1252") ||
			       pg_streq_ci(cs, "cp1252") || pg_streq_ci(cs, "iso_8859-1"));
	bool l9 = cs != NULL && (pg_streq_ci(cs, "iso-8859-15") || pg_streq_ci(cs, "latin9"));
	if (utf8ish && pg_utf8_valid((const char *)c, n)) {
		*len = n;
		/* Decoded content is NUL-terminated in the arena; a cut one is
		 * copied (a cut may also split a character: re-validated). */
		return cut ? pg_arena_strndup(a, (const char *)c, n) : (const char *)c;
	}
	if (utf8ish || w1252 || l9)
		/* declared ASCII or UTF-8 but not valid: 8-bit mail that did not
		 * say so, nearly always Windows-1252 */
		return single_byte_to_utf8(a, c, n, l9, len);
	if (!GMIME_IS_TEXT_PART(p->obj))
		return single_byte_to_utf8(a, c, n, false, len);
	char *t = g_mime_text_part_get_text(GMIME_TEXT_PART(p->obj));
	if (t == NULL)
		return single_byte_to_utf8(a, c, n, false, len);
	size_t tn = strlen(t);
	if (tn > PART_TEXT_MAX)
		tn = PART_TEXT_MAX;
	char *clean = pg_utf8_sanitize(t, tn);
	g_free(t);
	if (clean == NULL)
		return NULL;
	const char *r = pg_arena_strdup(a, clean);
	free(clean);
	if (r != NULL)
		*len = strlen(r);
	return r;
}

/* ---- HTML to text ------------------------------------------------------------ */

/* A single pass over the markup: text kept with whitespace collapsed,
 * entities decoded, script/style/comments dropped, block elements as line
 * breaks, image alt texts kept, and every <a href> with the text shown for
 * it.  Hostile markup (unclosed tags, huge attributes) only ends a pass
 * early: every loop advances. */

static const struct {
	const char *name;
	unsigned cp;
} entities[] = {
	{"amp", '&'},       {"lt", '<'},       {"gt", '>'},       {"quot", '"'},
	{"apos", '\''},     {"nbsp", 0xA0},    {"euro", 0x20AC},  {"copy", 0xA9},
	{"reg", 0xAE},      {"trade", 0x2122}, {"laquo", 0xAB},   {"raquo", 0xBB},
	{"agrave", 0xE0},   {"aacute", 0xE1},  {"egrave", 0xE8},  {"eacute", 0xE9},
	{"igrave", 0xEC},   {"iacute", 0xED},  {"ograve", 0xF2},  {"oacute", 0xF3},
	{"ugrave", 0xF9},   {"uacute", 0xFA},  {"Agrave", 0xC0},  {"Egrave", 0xC8},
	{"Eacute", 0xC9},   {"Igrave", 0xCC},  {"Ograve", 0xD2},  {"Ugrave", 0xD9},
	{"ccedil", 0xE7},   {"ntilde", 0xF1},  {"uuml", 0xFC},    {"ouml", 0xF6},
	{"auml", 0xE4},     {"szlig", 0xDF},   {"deg", 0xB0},     {"middot", 0xB7},
	{"hellip", 0x2026}, {"mdash", 0x2014}, {"ndash", 0x2013}, {"lsquo", 0x2018},
	{"rsquo", 0x2019},  {"ldquo", 0x201C}, {"rdquo", 0x201D}, {"bull", 0x2022},
	{"pound", 0xA3},    {"yen", 0xA5},     {"cent", 0xA2},    {"sect", 0xA7},
	{"zwnj", 0x200C},   {"zwj", 0x200D},   {"shy", 0xAD},     {"times", 0xD7},
};

/* Decodes the entity at s[0] == '&'; returns bytes consumed (0: none). */
static size_t entity(const char *s, size_t n, char *out, size_t *outn)
{
	size_t i = 1;
	unsigned cp = 0;
	if (i < n && s[i] == '#') {
		i++;
		bool hex = i < n && (s[i] == 'x' || s[i] == 'X');
		if (hex)
			i++;
		size_t d0 = i;
		while (i < n && i - d0 < 8 &&
		       ((s[i] >= '0' && s[i] <= '9') ||
			(hex && ((s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F'))))) {
			char c = s[i];
			cp = cp * (hex ? 16 : 10) +
			     (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
			i++;
		}
		if (i == d0)
			return 0;
		if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			cp = 0xFFFD;
		if (cp >= 0x80 && cp < 0xA0) /* browsers read these as Windows-1252 */
			cp = cp1252_hi[cp - 0x80] ? cp1252_hi[cp - 0x80] : 0xFFFD;
	} else {
		size_t e0 = i;
		while (i < n && i - e0 < 10 && ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z'))
			i++;
		size_t el = i - e0;
		bool found = false;
		for (size_t k = 0; k < sizeof(entities) / sizeof(entities[0]); k++) {
			/* strncmp stops at the name's end: name[el] is in it */
			if (el > 0 && entities[k].name[0] == s[e0] &&
			    strncmp(entities[k].name, s + e0, el) == 0 &&
			    entities[k].name[el] == '\0') {
				cp = entities[k].cp;
				found = true;
				break;
			}
		}
		if (!found)
			return 0;
	}
	if (i < n && s[i] == ';')
		i++;
	*outn = put_utf8(out, cp == 0xA0 ? ' ' : cp);
	return i;
}

static bool name_is(const char *n, size_t len, const char *want)
{
	return strlen(want) == len && pg_strneq_ci(n, want, len);
}

static bool is_block(const char *n, size_t len)
{
#define B(s) {s, sizeof(s) - 1}
	static const struct {
		const char *name;
		size_t len; /* compared first: most names differ in length */
	} blocks[] = {
		B("p"),       B("div"),     B("br"),     B("tr"),     B("li"),     B("h1"),
		B("h2"),      B("h3"),      B("h4"),     B("h5"),     B("h6"),     B("td"),
		B("th"),      B("table"),   B("ul"),     B("ol"),     B("blockquote"),
		B("hr"),      B("title"),   B("pre"),    B("dd"),     B("dt"),     B("section"),
		B("article"), B("header"),  B("footer"), B("center"),
	};
#undef B
	for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)
		if (blocks[i].len == len && pg_strneq_ci(n, blocks[i].name, len))
			return true;
	return false;
}

/* The value of attribute want in the tag text [s, s+n), entities decoded,
 * into the arena; NULL if absent. */
static const char *attr(pg_arena *a, const char *s, size_t n, const char *want)
{
	size_t wl = strlen(want), i = 0;
	while (i < n) {
		while (i < n &&
		       (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '/'))
			i++;
		size_t k0 = i;
		while (i < n && s[i] != '=' && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' &&
		       s[i] != '\r' && s[i] != '>')
			i++;
		size_t kl = i - k0;
		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
			i++;
		const char *v = NULL;
		size_t vl = 0;
		if (i < n && s[i] == '=') {
			i++;
			while (i < n &&
			       (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
				i++;
			if (i < n && (s[i] == '"' || s[i] == '\'')) {
				char q = s[i++];
				v = s + i;
				while (i < n && s[i] != q)
					i++;
				vl = (size_t)(s + i - v);
				if (i < n)
					i++;
			} else {
				v = s + i;
				while (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' &&
				       s[i] != '>')
					i++;
				vl = (size_t)(s + i - v);
			}
		} else if (kl == 0) {
			i++; /* a stray character: move on */
			continue;
		}
		if (kl == wl && pg_strneq_ci(s + k0, want, wl) && v != NULL) {
			char *o = pg_arena_alloc(a, vl * 2 + 1);
			if (o == NULL)
				return NULL;
			size_t k = 0;
			for (size_t j = 0; j < vl;) {
				size_t en = 0;
				size_t used = v[j] == '&' ? entity(v + j, vl - j, o + k, &en) : 0;
				if (used) {
					k += en;
					j += used;
				} else {
					if (v[j] != '\n' && v[j] != '\r' && v[j] != '\t')
						o[k++] = v[j];
					j++;
				}
			}
			o[k] = '\0';
			return o;
		}
	}
	return NULL;
}

static void add_link(struct builder *b, const char *href, const char *shown, size_t shown_len)
{
	if (b->nlinks >= LINKS_MAX || b->nomem || href == NULL)
		return;
	if (b->nlinks == b->caplinks) {
		size_t cap = b->caplinks ? b->caplinks * 2 : 16;
		pg_link *nv = pg_arena_alloc(b->a, cap * sizeof(*nv));
		if (nv == NULL) {
			b->nomem = true;
			return;
		}
		if (b->nlinks)
			memcpy(nv, b->links, b->nlinks * sizeof(*nv));
		b->links = nv;
		b->caplinks = cap;
	}
	size_t hn, sn;
	const char *h = pg_trim(href, &hn);
	char *tmp = pg_arena_strndup(b->a, shown, shown_len);
	if (tmp == NULL) {
		b->nomem = true;
		return;
	}
	const char *sh = pg_trim(tmp, &sn);
	pg_link *l = &b->links[b->nlinks];
	l->href = pg_arena_strndup(b->a, h, hn);
	l->shown = pg_arena_strndup(b->a, sh, sn > 1000 ? 1000 : sn);
	l->part = b->part;
	if (l->href == NULL || l->shown == NULL) {
		b->nomem = true;
		return;
	}
	b->nlinks++;
}

/* Appends text with whitespace collapsed (one space, none at line starts). */
static void put_text(struct builder *b, const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && !b->nomem) {
		size_t j = i;
		while (j < n && s[j] != ' ' && s[j] != '\t' && s[j] != '\n' && s[j] != '\r' &&
		       s[j] != '&')
			j++;
		if (j > i)
			put(b, s + i, j - i);
		if (j >= n)
			break;
		if (s[j] == '&') {
			char u[8];
			size_t un = 0, used = entity(s + j, n - j, u, &un);
			if (used) {
				put(b, u, un);
				i = j + used;
			} else {
				put(b, "&", 1);
				i = j + 1;
			}
			continue;
		}
		while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r'))
			j++;
		if (b->out.len > 0 && b->out.data[b->out.len - 1] != ' ' &&
		    b->out.data[b->out.len - 1] != '\n')
			put(b, " ", 1);
		i = j;
	}
}

static void newline(struct builder *b)
{
	if (b->out.len > 0 && b->out.data[b->out.len - 1] != '\n') {
		if (b->out.data[b->out.len - 1] == ' ')
			b->out.len--;
		put(b, "\n", 1);
	}
}

static void render_html(struct builder *b, const char *h, size_t n)
{
	size_t i = 0;
	const char *href = NULL; /* the open <a>'s target */
	size_t anchor_start = 0; /* where its text begins in out */
	while (i < n && !b->nomem) {
		const char *lt = memchr(h + i, '<', n - i);
		size_t te = lt ? (size_t)(lt - h) : n;
		put_text(b, h + i, te - i);
		if (lt == NULL)
			break;
		i = te + 1;
		if (i + 2 < n && h[i] == '!' && h[i + 1] == '-' && h[i + 2] == '-') {
			const char *end = pg_memmem_ci(h + i + 3, n - i - 3, "-->");
			i = end ? (size_t)(end - h) + 3 : n;
			continue;
		}
		if (i < n && (h[i] == '!' || h[i] == '?')) {
			const char *gt = memchr(h + i, '>', n - i);
			i = gt ? (size_t)(gt - h) + 1 : n;
			continue;
		}
		bool closing = i < n && h[i] == '/';
		if (closing)
			i++;
		size_t n0 = i;
		while (i < n && (((h[i] | 0x20) >= 'a' && (h[i] | 0x20) <= 'z') ||
				 (h[i] >= '0' && h[i] <= '9')))
			i++;
		size_t nl = i - n0;
		if (nl == 0) {
			put(b, "<", 1); /* a lone '<' in text */
			i = n0 - (closing ? 1 : 0);
			continue;
		}
		/* The tag's end, minding quoted attribute values as browsers do:
		 * a quote opens a value only right after '=' (a stray quote, as
		 * in width="100%"", is just a character), and a value left open
		 * ends the tag at the first '>' after it rather than hiding the
		 * rest of the document. */
		size_t a0 = i;
		char q = 0;
		size_t qstart = 0;
		char prev = ' ';
		while (i < n && (q || h[i] != '>')) {
			if (q) {
				if (h[i] == q)
					q = 0;
			} else if ((h[i] == '"' || h[i] == '\'') && prev == '=') {
				q = h[i];
				qstart = i;
			}
			if (h[i] != ' ' && h[i] != '\t' && h[i] != '\n' && h[i] != '\r')
				prev = h[i];
			i++;
		}
		if (q && i >= n) {
			const char *gt = memchr(h + qstart, '>', n - qstart);
			i = gt ? (size_t)(gt - h) : n;
		}
		size_t a1 = i;
		if (i < n)
			i++;
		const char *name = h + n0;
		if (!closing && (name_is(name, nl, "script") || name_is(name, nl, "style") ||
				 name_is(name, nl, "noscript") || name_is(name, nl, "template") ||
				 name_is(name, nl, "head"))) {
			/* skip to the matching end tag */
			char endtag[16];
			snprintf(endtag, sizeof(endtag), "</%.*s", (int)nl, name);
			const char *end = pg_memmem_ci(h + i, n - i, endtag);
			if (name_is(name, nl, "head")) {
				/* keep the title of the head */
				const char *t = pg_memmem_ci(
					h + i, end ? (size_t)(end - h) - i : n - i, "<title");
				if (t != NULL) {
					const char *gt = memchr(t, '>', (size_t)(h + n - t));
					const char *te2 =
						gt ? pg_memmem_ci(gt, (size_t)(h + n - gt),
								  "</title")
						   : NULL;
					if (gt && te2) {
						put_text(b, gt + 1, (size_t)(te2 - gt - 1));
						newline(b);
					}
				}
			}
			if (end == NULL) {
				i = n;
			} else {
				const char *gt = memchr(end, '>', (size_t)(h + n - end));
				i = gt ? (size_t)(gt - h) + 1 : n;
			}
			continue;
		}
		if (is_block(name, nl))
			newline(b);
		else if (name_is(name, nl, "td") || name_is(name, nl, "span"))
			put(b, " ", 1);
		if (name_is(name, nl, "a")) {
			if (href != NULL) /* an <a> left open: close it */
				add_link(b, href, b->out.data ? b->out.data + anchor_start : "",
					 b->out.len - anchor_start);
			href = NULL;
			if (!closing) {
				href = attr(b->a, h + a0, a1 - a0, "href");
				anchor_start = b->out.len;
			}
		} else if (!closing && name_is(name, nl, "img")) {
			const char *alt = attr(b->a, h + a0, a1 - a0, "alt");
			if (alt != NULL && alt[0]) {
				put(b, " ", 1);
				put_text(b, alt, strlen(alt));
				put(b, " ", 1);
			}
		}
	}
	if (href != NULL)
		add_link(b, href, b->out.data ? b->out.data + anchor_start : "",
			 b->out.len - anchor_start);
}

static bool is_body_text(const pg_part *p)
{
	if (p->is_multipart || p->is_message)
		return false;
	if (strcmp(p->ctype, "text/plain") != 0 && strcmp(p->ctype, "text/html") != 0)
		return false;
	/* A named text attachment is a file, not the body. */
	return !(p->is_attachment && p->filename != NULL);
}

const pg_text *pg_msg_text(const pg_msg *cm)
{
	pg_msg *m = (pg_msg *)cm; /* the cache */
	if (m->text != NULL)
		return m->text;
	pg_arena *a = m->arena;
	pg_text *t = pg_arena_calloc(a, 1, sizeof(*t));
	if (t == NULL)
		return NULL;
	size_t nbody = 0;
	for (size_t i = 0; i < m->nparts; i++)
		nbody += is_body_text(m->parts[i]);
	t->parts = pg_arena_calloc(a, nbody ? nbody : 1, sizeof(*t->parts));
	if (t->parts == NULL)
		return NULL;
	struct builder b = {.a = a};
	for (size_t i = 0; i < m->nparts && !b.nomem; i++) {
		const pg_part *p = m->parts[i];
		if (!is_body_text(p))
			continue;
		size_t n = 0;
		const char *u = part_utf8(a, p, &n);
		if (u == NULL)
			continue;
		pg_text_part *tp = &t->parts[t->nparts];
		tp->part = p;
		if (strcmp(p->ctype, "text/html") == 0) {
			tp->html = true;
			pg_buf_init(&b.out, PART_TEXT_MAX + 1);
			b.part = p;
			render_html(&b, u, n);
			tp->text = pg_arena_strndup(a, b.out.data ? b.out.data : "", b.out.len);
			tp->len = b.out.len;
			pg_buf_free(&b.out);
		} else {
			tp->text = u;
			tp->len = n;
		}
		if (tp->text == NULL) {
			b.nomem = true;
			break;
		}
		t->nparts++;
	}
	if (b.nomem)
		return NULL;
	/* Every part's text and a line break, while under ALL_TEXT_MAX: sized
	 * first, then copied once. */
	size_t total = 0;
	for (size_t i = 0; i < t->nparts; i++) {
		size_t room = ALL_TEXT_MAX - total;
		if (room > 1)
			total += (t->parts[i].len < room - 1 ? t->parts[i].len : room - 1) + 1;
	}
	char *all = pg_arena_alloc(a, total + 1);
	if (all == NULL)
		return NULL;
	size_t len = 0;
	for (size_t i = 0; i < t->nparts; i++) {
		size_t room = ALL_TEXT_MAX - len;
		if (room > 1) {
			size_t k = t->parts[i].len < room - 1 ? t->parts[i].len : room - 1;
			memcpy(all + len, t->parts[i].text, k);
			len += k;
			all[len++] = '\n';
		}
	}
	all[len] = '\0';
	t->all = all;
	t->all_len = len;
	t->links = b.links;
	t->nlinks = b.nlinks;
	const char *subj = pg_msg_header(m, "Subject");
	if (subj != NULL) {
		char *s = pg_utf8_sanitize(subj, strlen(subj));
		t->subject = s ? pg_arena_strdup(a, s) : NULL;
		free(s);
	}
	if (t->subject == NULL)
		t->subject = "";
	m->text = t;
	return t;
}

/* An arena string being built: grown by doubling into fresh arena memory
 * (the old block stays in the arena, freed with it). */
struct abuf {
	pg_arena *a;
	char *p;
	size_t len, cap;
};

static bool abuf_put(struct abuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap * 2 > b->len + n + 1 ? b->cap * 2 : b->len + n + 1;
		char *np = pg_arena_alloc(b->a, cap);
		if (np == NULL)
			return false;
		memcpy(np, b->p, b->len);
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return true;
}

/* Is w only ASCII (no NUL, where GLib would stop), the characters
 * U+00C0..U+00FF but sharp s (C3 80..BF but 9F, which folds to "ss") and the
 * symbols of pg_fold_plain?  Those are stable under NFKC (the no-break space
 * becomes a space) and fold without GLib: one character at a time, and
 * nothing composes with them or with ASCII but combining marks, which are
 * not among them. */
static bool plain_word(const char *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)w[i];
		if (c == 0)
			return false;
		if (c < 0x80)
			continue;
		if (c == 0xC3 && i + 1 < n) {
			unsigned char d = (unsigned char)w[i + 1];
			if (d >= 0x80 && d <= 0xBF && d != 0x9F) {
				i++;
				continue;
			}
			return false;
		}
		bool space;
		size_t l = pg_fold_plain(w + i, n - i, &space);
		if (l == 0)
			return false;
		i += l - 1;
	}
	return true;
}

static bool fold_blank(char c)
{
	return c == ' ' || c == '\n' || c == '\t';
}

/* Appends s[0, n) lower-cased (ASCII). */
static bool abuf_put_lower(struct abuf *b, const char *s, size_t n)
{
	size_t start = b->len;
	if (!abuf_put(b, s, n))
		return false;
	for (size_t k = start; k < b->len; k++)
		b->p[k] = pg_lower(b->p[k]);
	return true;
}

const char *pg_text_fold(pg_arena *a, const char *s, size_t n, size_t *outlen)
{
	/* ASCII is lower-cased in place of NFKC + casefold (identical for
	 * ASCII, and much faster): a text all ASCII is one pass into one
	 * arena block.  Otherwise each blank-delimited word with a non-ASCII
	 * byte (with the blanks after it) goes through GLib, unless its only
	 * non-ASCII characters are the Latin-1 letters of Italian and common
	 * symbols (plain_word); the ASCII words between are copied in
	 * stretches. */
	size_t i = pg_ascii_span(s, n);
	if (i == n) {
		char *o = pg_arena_alloc(a, n + 1);
		if (o == NULL)
			return NULL;
		for (size_t k = 0; k < n; k++)
			o[k] = pg_lower(s[k]);
		o[n] = '\0';
		if (outlen)
			*outlen = n;
		return o;
	}
	struct abuf o = {.a = a, .cap = n + n / 4 + 16};
	o.p = pg_arena_alloc(a, o.cap);
	if (o.p == NULL)
		return NULL;
	size_t p = i; /* the first non-ASCII byte at or after i */
	i = 0;
	while (i < n) {
		if (p >= n) {
			if (!abuf_put_lower(&o, s + i, n - i))
				return NULL;
			break;
		}
		/* The word holding s[p] starts after the last blank before it;
		 * the ASCII words before it are copied at once. */
		size_t ws = p;
		while (ws > i && !fold_blank(s[ws - 1]))
			ws--;
		if (ws > i && !abuf_put_lower(&o, s + i, ws - i))
			return NULL;
		size_t j = p;
		while (j < n && !fold_blank(s[j]))
			j++;
		while (j < n && fold_blank(s[j]))
			j++; /* keep the blanks with the word */
		size_t start = o.len;
		if (plain_word(s + ws, j - ws)) {
			/* NFKC keeps these characters (but the no-break space,
			 * a space); case folding adds 0x20 to the capitals
			 * C3 80..9E (but the sign x, C3 97).  In place: the
			 * output is never longer. */
			if (!abuf_put(&o, s + ws, j - ws))
				return NULL;
			size_t w = start;
			for (size_t k = start; k < o.len; k++) {
				unsigned char c = (unsigned char)o.p[k];
				if (c < 0x80) {
					o.p[w++] = pg_lower((char)c);
				} else if (c == 0xC3) {
					unsigned char d = (unsigned char)o.p[++k];
					o.p[w++] = (char)c;
					o.p[w++] = (char)(d <= 0x9E && d != 0x97 ? d + 0x20 : d);
				} else {
					bool space;
					size_t l = pg_fold_plain(o.p + k, o.len - k, &space);
					if (space) {
						o.p[w++] = ' ';
					} else {
						memmove(o.p + w, o.p + k, l);
						w += l;
					}
					k += l - 1;
				}
			}
			o.len = w;
		} else {
			gchar *nf = g_utf8_normalize(s + ws, (gssize)(j - ws), G_NORMALIZE_NFKC);
			if (nf == NULL) {
				/* invalid UTF-8: keep the bytes, ASCII lower-cased */
				if (!abuf_put_lower(&o, s + ws, j - ws))
					return NULL;
			} else {
				gchar *cf = g_utf8_casefold(nf, -1);
				bool ok = cf != NULL && abuf_put(&o, cf, strlen(cf));
				g_free(cf);
				g_free(nf);
				if (!ok)
					return NULL;
			}
		}
		i = j;
		p = j + pg_ascii_span(s + j, n - j);
	}
	if (!abuf_put(&o, "", 0))
		return NULL;
	o.p[o.len] = '\0';
	if (outlen)
		*outlen = o.len;
	return o.p;
}
