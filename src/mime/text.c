#include "mime/text.h"

#include <string.h>

#include <glib.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include "util/buf.h"
#include "util/str.h"

#define PART_TEXT_MAX (1u << 20)
#define ALL_TEXT_MAX (4u << 20)
#define LINKS_MAX 2000

struct builder {
	pg_arena *a;
	pg_buf out;           /* text of the part being rendered */
	pg_link *links;
	size_t nlinks, caplinks;
	const pg_part *part;
	bool nomem;
};

static bool is_block(const char *n)
{
	static const char *const blocks[] = {"p",  "div", "br", "tr", "li", "h1",  "h2",
					     "h3", "h4",  "h5", "h6", "td", "table", "ul",
					     "ol", "blockquote", "hr", "title", "pre", NULL};
	for (int i = 0; blocks[i]; i++)
		if (pg_streq_ci(n, blocks[i]))
			return true;
	return false;
}

static void put(struct builder *b, const char *s, size_t n)
{
	if (b->nomem || b->out.len >= PART_TEXT_MAX)
		return;
	if (n > PART_TEXT_MAX - b->out.len)
		n = PART_TEXT_MAX - b->out.len;
	if (pg_buf_append(&b->out, s, n) != PG_OK)
		b->nomem = true;
}

/* Text content of a subtree, whitespace collapsed, for an anchor. */
static void anchor_text(xmlNode *n, pg_buf *t)
{
	for (; n != NULL; n = n->next) {
		if (t->len > 1000)
			return;
		if (n->type == XML_TEXT_NODE && n->content != NULL) {
			if (pg_buf_puts(t, (const char *)n->content) != PG_OK)
				return;
		} else if (n->type == XML_ELEMENT_NODE) {
			if (n->name && pg_streq_ci((const char *)n->name, "img")) {
				xmlChar *alt = xmlGetProp(n, (const xmlChar *)"alt");
				if (alt != NULL) {
					if (pg_buf_puts(t, (const char *)alt) != PG_OK) {
						xmlFree(alt);
						return;
					}
					xmlFree(alt);
				}
			}
			anchor_text(n->children, t);
		}
	}
}

static void add_link(struct builder *b, xmlNode *a, const char *href)
{
	if (b->nlinks >= LINKS_MAX || b->nomem)
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
	pg_buf t;
	pg_buf_init(&t, 4096);
	anchor_text(a->children, &t);
	size_t n = 0;
	const char *shown = pg_trim(t.data ? t.data : "", &n);
	size_t hn;
	const char *h = pg_trim(href, &hn);
	pg_link *l = &b->links[b->nlinks];
	l->href = pg_arena_strndup(b->a, h, hn);
	l->shown = pg_arena_strndup(b->a, shown, n);
	l->part = b->part;
	pg_buf_free(&t);
	if (l->href == NULL || l->shown == NULL) {
		b->nomem = true;
		return;
	}
	b->nlinks++;
}

static void render(struct builder *b, xmlNode *n, int depth)
{
	for (; n != NULL && !b->nomem; n = n->next) {
		if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
			if (n->content != NULL) {
				const char *c = (const char *)n->content;
				put(b, c, strlen(c));
			}
			continue;
		}
		if (n->type != XML_ELEMENT_NODE || n->name == NULL)
			continue;
		const char *name = (const char *)n->name;
		if (pg_streq_ci(name, "script") || pg_streq_ci(name, "style") ||
		    pg_streq_ci(name, "noscript") || pg_streq_ci(name, "template"))
			continue;
		bool block = is_block(name);
		if (block)
			put(b, "\n", 1);
		if (pg_streq_ci(name, "a")) {
			xmlChar *href = xmlGetProp(n, (const xmlChar *)"href");
			if (href != NULL) {
				add_link(b, n, (const char *)href);
				xmlFree(href);
			}
		} else if (pg_streq_ci(name, "img")) {
			xmlChar *alt = xmlGetProp(n, (const xmlChar *)"alt");
			if (alt != NULL) {
				put(b, " ", 1);
				put(b, (const char *)alt, strlen((const char *)alt));
				put(b, " ", 1);
				xmlFree(alt);
			}
		}
		/* libxml2 bounds its own tree depth; ours follows it, capped. */
		if (depth < 256)
			render(b, n->children, depth + 1);
		if (block)
			put(b, "\n", 1);
		else if (pg_streq_ci(name, "td") || pg_streq_ci(name, "span"))
			put(b, " ", 1);
	}
}

static void render_html(struct builder *b, const char *html, size_t len)
{
	if (len > (size_t)0x7fffffff)
		len = 0x7fffffff;
	htmlDocPtr doc = htmlReadMemory(html, (int)len, NULL, "UTF-8",
				       HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
					       HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
	if (doc == NULL)
		return;
	render(b, xmlDocGetRootElement(doc), 0);
	xmlFreeDoc(doc);
}

/* UTF-8 text of a text part: GMime converts from the declared charset. */
static char *part_utf8(const pg_part *p, size_t *len)
{
	if (!GMIME_IS_TEXT_PART(p->obj))
		return NULL;
	char *t = g_mime_text_part_get_text(GMIME_TEXT_PART(p->obj));
	if (t == NULL)
		return NULL;
	size_t n = strlen(t);
	if (n > PART_TEXT_MAX)
		n = PART_TEXT_MAX;
	char *clean = pg_utf8_sanitize(t, n);
	g_free(t);
	if (clean != NULL)
		*len = strlen(clean);
	return clean;
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
	pg_buf all;
	pg_buf_init(&all, ALL_TEXT_MAX);
	for (size_t i = 0; i < m->nparts && !b.nomem; i++) {
		const pg_part *p = m->parts[i];
		if (!is_body_text(p))
			continue;
		size_t n = 0;
		char *u = part_utf8(p, &n);
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
			tp->text = pg_arena_strndup(a, u, n);
			tp->len = n;
		}
		free(u);
		if (tp->text == NULL) {
			b.nomem = true;
			break;
		}
		t->nparts++;
		size_t room = ALL_TEXT_MAX - all.len;
		if (room > 1) {
			pg_status st = pg_buf_append(&all, tp->text, tp->len < room - 1 ? tp->len : room - 1);
			if (st == PG_OK)
				st = pg_buf_putc(&all, '\n');
			if (st == PG_ERR_NOMEM)
				b.nomem = true;
		}
	}
	if (!b.nomem) {
		t->all = pg_arena_strndup(a, all.data ? all.data : "", all.len);
		t->all_len = all.len;
	}
	pg_buf_free(&all);
	if (b.nomem || t->all == NULL)
		return NULL;
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

const char *pg_text_fold(pg_arena *a, const char *s, size_t n, size_t *outlen)
{
	/* ASCII runs are lower-cased in place of NFKC + casefold (identical
	 * for ASCII, and much faster); each whitespace-delimited word with a
	 * non-ASCII byte goes through GLib. */
	pg_buf o;
	pg_buf_init(&o, PG_BUF_UNLIMITED);
	size_t i = 0;
	bool nomem = false;
	while (i < n && !nomem) {
		size_t j = i;
		bool ascii = true;
		while (j < n && s[j] != ' ' && s[j] != '\n' && s[j] != '\t') {
			if ((unsigned char)s[j] >= 0x80)
				ascii = false;
			j++;
		}
		while (j < n && (s[j] == ' ' || s[j] == '\n' || s[j] == '\t'))
			j++; /* keep the blanks with the word */
		if (ascii) {
			size_t start = o.len;
			if (pg_buf_append(&o, s + i, j - i) != PG_OK) {
				nomem = true;
				break;
			}
			for (size_t k = start; k < o.len; k++)
				o.data[k] = pg_lower(o.data[k]);
		} else {
			gchar *nf = g_utf8_normalize(s + i, (gssize)(j - i), G_NORMALIZE_NFKC);
			if (nf == NULL) {
				/* invalid UTF-8: keep the bytes, ASCII lower-cased */
				size_t start = o.len;
				nomem = pg_buf_append(&o, s + i, j - i) != PG_OK;
				for (size_t k = start; !nomem && k < o.len; k++)
					o.data[k] = pg_lower(o.data[k]);
			} else {
				gchar *cf = g_utf8_casefold(nf, -1);
				nomem = cf == NULL || pg_buf_puts(&o, cf) != PG_OK;
				g_free(cf);
				g_free(nf);
			}
		}
		i = j;
	}
	const char *r = nomem ? NULL : pg_arena_strndup(a, o.data ? o.data : "", o.len);
	if (outlen)
		*outlen = r ? o.len : 0;
	pg_buf_free(&o);
	return r;
}
