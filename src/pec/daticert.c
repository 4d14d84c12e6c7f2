/*
 * daticert.c - parsing daticert.xml, the certification data of a PEC message.
 *
 * The input is hostile until its signature has been checked (and even then
 * it was written by one of dozens of providers' programs), so the parser is
 * set up to do nothing but parse bytes:
 *   - no network (XML_PARSE_NONET), no external DTD (no XML_PARSE_DTDLOAD,
 *     and the SAX externalSubset hook removed so that nothing, not even a
 *     file:// DTD, is ever read), no entity substitution (no
 *     XML_PARSE_NOENT), no DTD attribute defaults (no XML_PARSE_DTDATTR), and
 *     libxml2's built-in size and depth limits kept (no XML_PARSE_HUGE);
 *   - before libxml2 sees the input, a cheap scan refuses what would make
 *     libxml2 2.9 work quadratically (thousands of attributes on one tag,
 *     thousands of namespace declarations) and encodings that scan could
 *     not follow (see "the pre-scan" below);
 *   - any entity declaration in the internal subset stops the parser at once
 *     and fails the document: daticert.xml never needs one, and refusing them
 *     outright closes billion-laughs and XXE without relying on libxml2's
 *     amplification heuristics;
 *   - errors are collected through the context's own structured-error hook
 *     (ctxt->sax->serror), never through libxml2's process-wide handlers,
 *     so that concurrent scans neither see nor clobber each other's errors.
 *     (libxml2 2.9 raises a few encoding-conversion errors without a
 *     context, through its generic handler, which prints to stderr unless
 *     the engine silences it; the parser error that follows them is the
 *     one reported here.)
 *
 * This module neither initialises nor cleans up libxml2: the engine calls
 * xmlInitParser() once, before any scan runs.  Everything here is per call,
 * so several threads may parse at once.
 *
 * The reading of the tree is tolerant of order and of unknown elements
 * (providers differ, and some put stray text between elements), but strict
 * about what the classifier relies on: the root, a known @tipo, mittente,
 * at least one destinatari, gestore-emittente, identificativo; and an element
 * that may appear once must not appear twice, so that no two readers of the
 * same file can disagree about which copy counts.
 */
#include "pec/daticert.h"

#include "util/ptime.h"
#include "util/str.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlversion.h>

/* Real files are 1-20 KiB (the largest seen, with 150 recipients, is 15
 * KiB); a megabyte leaves room for huge recipient lists while bounding the
 * work an attacker can ask for. */
#define DATICERT_MAX (1024 * 1024)

#define DATICERT_OPTIONS                                                                           \
	(XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA |           \
	 XML_PARSE_BIG_LINES)

/* The longest piece of input quoted in an error message. */
#define QUOTE_MAX 64

static const char *const known_tipi[] = {
	"accettazione",      "non-accettazione", "presa-in-carico",           "avvenuta-consegna",
	"posta-certificata", "errore-consegna",  "preavviso-errore-consegna", "rilevazione-virus",
};

int pg_daticert_tipo_known(const char *t)
{
	if (t == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(known_tipi) / sizeof(known_tipi[0]); i++)
		if (strcmp(t, known_tipi[i]) == 0)
			return 1;
	return 0;
}

/* ---- error messages ------------------------------------------------------- */

/* The length of s[0, n) less a UTF-8 sequence cut short at its end: input
 * quoted in a message, or a message cut to fit, never ends on half a
 * character. */
static size_t utf8_whole(const char *s, size_t n)
{
	size_t i = n;
	/* Back over continuation bytes to the lead byte of the last one. */
	while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80 && n - i < 3)
		i--;
	if (i == 0)
		return n;
	unsigned char lead = (unsigned char)s[i - 1];
	size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
	return (i - 1) + need > n ? i - 1 : n;
}

/* Length of the longest prefix of s of at most max bytes that ends on a
 * character boundary. */
static size_t utf8_clip(const char *s, size_t max)
{
	size_t n = strlen(s);
	return n <= max ? n : utf8_whole(s, max);
}

/* Formats the message into err (when there is room for one).  The message
 * ends up in logs, JSON and SMTP replies, and input reaches it through
 * quoted names and values and libxml2's messages: control characters
 * become spaces and the result is valid UTF-8. */
static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (err == NULL || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (n < 0) {
		err[0] = '\0';
		return;
	}
	size_t len = strlen(err);
	if ((size_t)n >= errlen) {
		len = utf8_whole(err, len);
		err[len] = '\0';
	}
	/* libxml2 quotes input in some messages, cut at a byte count
	 * ("%.50s"), so a message may hold half a character in the middle:
	 * every byte that does not start a valid UTF-8 sequence becomes '?'. */
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)err[i];
		size_t l = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
		if (l == 0 || i + l > len || !pg_utf8_valid(err + i, l)) {
			err[i++] = '?';
			continue;
		}
		/* C0 and C1 controls (U+0080-U+009F, which a Latin-1 file
		 * yields from bytes 0x80-0x9F) become spaces. */
		if (c < 0x20 || c == 0x7F)
			err[i] = ' ';
		else if (c == 0xC2 && (unsigned char)err[i + 1] < 0xA0)
			err[i] = err[i + 1] = ' ';
		i += l;
	}
}

/* ---- the parser context's hooks ---------------------------------------------- */

/* Per-parse state, reached from the hooks through ctxt->_private (which
 * libxml2 leaves to its user): nothing is shared between parses. */
struct dc_state {
	bool entity_decl; /* an entity declaration was seen: the document fails */
	bool have_error;  /* first_* hold an error */
	bool have_fatal;  /* ... and it is a fatal one */
	int line;
	int code;
	char msg[200];
};

/* libxml2 2.12 made the error argument const. */
#if LIBXML_VERSION >= 21200
typedef const xmlError *dc_error_ptr;
#else
typedef xmlErrorPtr dc_error_ptr;
#endif

static struct dc_state *state_of(void *ctx)
{
	/* For parser errors and SAX callbacks libxml2 passes ctxt->userData,
	 * which the SAX2 tree builder needs to be the context itself. */
	xmlParserCtxtPtr ctxt = ctx;
	return ctxt != NULL ? ctxt->_private : NULL;
}

/* Keeps the first error, except that the first fatal one (the
 * well-formedness violation that stopped the parser) wins over an earlier
 * recoverable one such as a namespace error.  Later errors are mostly
 * consequences ("Premature end of data") and would only confuse. */
static void on_error(void *ctx, dc_error_ptr e)
{
	struct dc_state *st = state_of(ctx);
	if (st == NULL || e == NULL || e->level < XML_ERR_ERROR)
		return;
	bool fatal = e->level == XML_ERR_FATAL;
	if (st->have_fatal || (st->have_error && !fatal))
		return;
	st->have_error = true;
	st->have_fatal = fatal;
	st->line = e->line;
	st->code = e->code;
	const char *m = e->message != NULL ? e->message : "unknown error";
	size_t n = strlen(m);
	/* libxml2's messages end with a newline. */
	while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == '\r' || m[n - 1] == ' '))
		n--;
	if (n >= sizeof(st->msg))
		n = utf8_clip(m, sizeof(st->msg) - 1);
	memcpy(st->msg, m, n);
	st->msg[n] = '\0';
}

static void refuse_entity(void *ctx)
{
	struct dc_state *st = state_of(ctx);
	if (st != NULL)
		st->entity_decl = true;
	/* Stop here: not one more byte of the subset is looked at, so not one
	 * entity is ever expanded. */
	xmlStopParser((xmlParserCtxtPtr)ctx);
}

static void on_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
			   const xmlChar *system_id, xmlChar *content)
{
	(void)name;
	(void)type;
	(void)public_id;
	(void)system_id;
	(void)content;
	refuse_entity(ctx);
}

static void on_unparsed_entity_decl(void *ctx, const xmlChar *name, const xmlChar *public_id,
				    const xmlChar *system_id, const xmlChar *notation)
{
	(void)name;
	(void)public_id;
	(void)system_id;
	(void)notation;
	refuse_entity(ctx);
}

/* ---- reading the tree -------------------------------------------------------- */

static bool is_xml_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_elem(const xmlNode *n, const char *name)
{
	/* Local names only: a provider that put the elements in a namespace
	 * still writes the same vocabulary. */
	return n->type == XML_ELEMENT_NODE && n->name != NULL &&
	       strcmp((const char *)n->name, name) == 0;
}

/* The text of the direct text children of a node (an element, or an
 * attribute, whose value libxml2 keeps as text children), trimmed of XML
 * white space, copied into the arena.  Child elements, comments and
 * processing instructions are skipped: daticert.xml has #PCDATA only.
 * *out is NULL only when out of memory. */
static pg_status text_of(pg_arena *a, const xmlNode *node, const char **out)
{
	size_t total = 0;
	for (const xmlNode *c = node->children; c != NULL; c = c->next)
		if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) &&
		    c->content != NULL)
			total += strlen((const char *)c->content);
	char *s = pg_arena_alloc(a, total + 1);
	*out = s;
	if (s == NULL)
		return PG_ERR_NOMEM;
	size_t len = 0;
	for (const xmlNode *c = node->children; c != NULL; c = c->next) {
		if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) &&
		    c->content != NULL) {
			size_t n = strlen((const char *)c->content);
			memcpy(s + len, c->content, n);
			len += n;
		}
	}
	s[len] = '\0';
	size_t start = 0;
	while (start < len && is_xml_space(s[start]))
		start++;
	while (len > start && is_xml_space(s[len - 1]))
		len--;
	s[len] = '\0';
	*out = s + start;
	return PG_OK;
}

/* The value of attribute name (without namespace) of element e, or *out
 * NULL when it is absent.  The attributes are walked by hand because
 * xmlGetProp() and friends fall back on defaults declared in the document's
 * own DTD, which would let the document supply e.g. its @tipo that way. */
static pg_status attr_of(pg_arena *a, const xmlNode *e, const char *name, const char **out)
{
	*out = NULL;
	for (const xmlAttr *at = e->properties; at != NULL; at = at->next) {
		if (at->ns != NULL || at->name == NULL || strcmp((const char *)at->name, name) != 0)
			continue;
		return text_of(a, (const xmlNode *)at, out);
	}
	return PG_OK;
}

/* The one child element of parent called name: *out NULL when there is
 * none, an error when there are two.  path names it in messages. */
static pg_status child_of(const xmlNode *parent, const char *name, const char *path,
			  const xmlNode **out, char *err, size_t errlen)
{
	*out = NULL;
	for (const xmlNode *c = parent->children; c != NULL; c = c->next) {
		if (!is_elem(c, name))
			continue;
		if (*out != NULL) {
			set_err(err, errlen, "duplicate %s", path);
			return PG_ERR_PARSE;
		}
		*out = c;
	}
	return PG_OK;
}

/* The text of the one child name of parent (NULL when absent). */
static pg_status child_text(pg_arena *a, const xmlNode *parent, const char *name, const char *path,
			    const char **out, char *err, size_t errlen)
{
	const xmlNode *c;
	*out = NULL;
	pg_status st = child_of(parent, name, path, &c, err, errlen);
	if (st != PG_OK || c == NULL)
		return st;
	st = text_of(a, c, out);
	if (st != PG_OK)
		set_err(err, errlen, "out of memory");
	return st;
}

/* Same, for an element the document must have, with non-blank content. */
static pg_status required_text(pg_arena *a, const xmlNode *parent, const char *name,
			       const char *path, const char **out, char *err, size_t errlen)
{
	pg_status st = child_text(a, parent, name, path, out, err, errlen);
	if (st != PG_OK)
		return st;
	if (*out == NULL) {
		set_err(err, errlen, "missing %s", path);
		return PG_ERR_PARSE;
	}
	if (**out == '\0') {
		set_err(err, errlen, "empty %s", path);
		return PG_ERR_PARSE;
	}
	return PG_OK;
}

/* ---- the time ------------------------------------------------------------ */

/* Exactly n decimal digits at *p. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

/* giorno "gg/mm/aaaa" + ora "hh:mm:ss" local time at offset zona "+hhmm"
 * (also "+hh:mm", which costs nothing to accept), as UTC seconds since the
 * epoch; -1 when a part is missing or malformed.  The zone is required: the
 * local time alone says nothing certain (Italy is at +0100 or +0200). */
static int64_t dc_time(const char *giorno, const char *ora, const char *zona)
{
	if (giorno == NULL || ora == NULL || zona == NULL)
		return -1;
	const char *p = giorno;
	int D, M, Y, h, m, s, zh, zm;
	if (!digits(&p, 2, &D) || *p++ != '/' || !digits(&p, 2, &M) || *p++ != '/' ||
	    !digits(&p, 4, &Y) || *p != '\0')
		return -1;
	p = ora;
	if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &m) || *p++ != ':' ||
	    !digits(&p, 2, &s) || *p != '\0')
		return -1;
	p = zona;
	if (*p != '+' && *p != '-')
		return -1;
	int sign = *p++ == '-' ? -1 : 1;
	if (!digits(&p, 2, &zh))
		return -1;
	if (*p == ':')
		p++;
	if (!digits(&p, 2, &zm) || *p != '\0' || zh > 23 || zm > 59)
		return -1;
	int64_t t = pg_time_from_utc(Y, M, D, h, m, s);
	if (t < 0)
		return -1;
	t -= (int64_t)sign * (zh * 3600 + zm * 60);
	/* No PEC predates 1970; a negative result is a broken date, and
	 * returning it would collide with the -1 "unknown". */
	return t < 0 ? -1 : t;
}

/* ---- the document ------------------------------------------------------------ */

static pg_status read_intestazione(pg_arena *a, const xmlNode *in, pg_daticert *d, char *err,
				   size_t errlen)
{
	pg_status st;
	if ((st = required_text(a, in, "mittente", "intestazione/mittente", &d->mittente, err,
				errlen)) != PG_OK ||
	    (st = child_text(a, in, "risposte", "intestazione/risposte", &d->risposte, err,
			     errlen)) != PG_OK ||
	    (st = child_text(a, in, "oggetto", "intestazione/oggetto", &d->oggetto, err, errlen)) !=
		    PG_OK)
		return st;

	size_t n = 0;
	for (const xmlNode *c = in->children; c != NULL; c = c->next)
		if (is_elem(c, "destinatari"))
			n++;
	if (n == 0) {
		set_err(err, errlen, "missing intestazione/destinatari");
		return PG_ERR_PARSE;
	}
	d->dest = pg_arena_calloc(a, n, sizeof(*d->dest));
	if (d->dest == NULL)
		goto nomem;
	for (const xmlNode *c = in->children; c != NULL; c = c->next) {
		if (!is_elem(c, "destinatari"))
			continue;
		pg_daticert_dest *dd = &d->dest[d->ndest++];
		if (text_of(a, c, &dd->addr) != PG_OK || attr_of(a, c, "tipo", &dd->tipo) != PG_OK)
			goto nomem;
		if (dd->addr[0] == '\0') {
			set_err(err, errlen, "empty intestazione/destinatari");
			return PG_ERR_PARSE;
		}
		/* The DTD's default. */
		if (dd->tipo == NULL)
			dd->tipo = "certificato";
	}
	return PG_OK;
nomem:
	set_err(err, errlen, "out of memory");
	return PG_ERR_NOMEM;
}

static pg_status read_dati(pg_arena *a, const xmlNode *dati, pg_daticert *d, char *err,
			   size_t errlen)
{
	pg_status st;
	if ((st = required_text(a, dati, "gestore-emittente", "dati/gestore-emittente", &d->gestore,
				err, errlen)) != PG_OK ||
	    (st = required_text(a, dati, "identificativo", "dati/identificativo",
				&d->identificativo, err, errlen)) != PG_OK ||
	    (st = child_text(a, dati, "msgid", "dati/msgid", &d->msgid, err, errlen)) != PG_OK ||
	    (st = child_text(a, dati, "consegna", "dati/consegna", &d->consegna, err, errlen)) !=
		    PG_OK ||
	    (st = child_text(a, dati, "errore-esteso", "dati/errore-esteso", &d->errore_esteso, err,
			     errlen)) != PG_OK)
		return st;

	const xmlNode *ric;
	if ((st = child_of(dati, "ricevuta", "dati/ricevuta", &ric, err, errlen)) != PG_OK)
		return st;
	if (ric != NULL && attr_of(a, ric, "tipo", &d->ricevuta) != PG_OK)
		goto nomem;

	/* A missing or broken date is not an error: time says -1 and the
	 * classifier decides whether it matters. */
	const xmlNode *data;
	if ((st = child_of(dati, "data", "dati/data", &data, err, errlen)) != PG_OK)
		return st;
	if (data != NULL) {
		if (attr_of(a, data, "zona", &d->zona) != PG_OK)
			goto nomem;
		if ((st = child_text(a, data, "giorno", "dati/data/giorno", &d->giorno, err,
				     errlen)) != PG_OK ||
		    (st = child_text(a, data, "ora", "dati/data/ora", &d->ora, err, errlen)) !=
			    PG_OK)
			return st;
	}
	d->time = dc_time(d->giorno, d->ora, d->zona);
	return PG_OK;
nomem:
	set_err(err, errlen, "out of memory");
	return PG_ERR_NOMEM;
}

static pg_status read_doc(pg_arena *a, xmlDocPtr doc, pg_daticert **out, char *err, size_t errlen)
{
	/* Belt and braces for the entity hooks: a document whose subset holds
	 * entities (however they got there) is refused all the same. */
	if (doc->intSubset != NULL &&
	    (doc->intSubset->entities != NULL || doc->intSubset->pentities != NULL)) {
		set_err(err, errlen, "entity declarations are not allowed");
		return PG_ERR_PARSE;
	}
	const xmlNode *root = xmlDocGetRootElement(doc);
	if (root == NULL) {
		set_err(err, errlen, "no root element");
		return PG_ERR_PARSE;
	}
	if (!is_elem(root, "postacert")) {
		const char *name = root->name != NULL ? (const char *)root->name : "";
		set_err(err, errlen, "root element is '%.*s', not postacert",
			(int)utf8_clip(name, QUOTE_MAX), name);
		return PG_ERR_PARSE;
	}

	pg_daticert *d = pg_arena_calloc(a, 1, sizeof(*d));
	if (d == NULL) {
		set_err(err, errlen, "out of memory");
		return PG_ERR_NOMEM;
	}
	d->time = -1;

	if (attr_of(a, root, "tipo", &d->tipo) != PG_OK ||
	    attr_of(a, root, "errore", &d->errore) != PG_OK) {
		set_err(err, errlen, "out of memory");
		return PG_ERR_NOMEM;
	}
	if (d->tipo == NULL) {
		set_err(err, errlen, "missing postacert/@tipo");
		return PG_ERR_PARSE;
	}
	if (!pg_daticert_tipo_known(d->tipo)) {
		set_err(err, errlen, "postacert/@tipo '%.*s' is not a known type",
			(int)utf8_clip(d->tipo, QUOTE_MAX), d->tipo);
		return PG_ERR_PARSE;
	}
	/* The DTD's default; other values are kept as written: the rules
	 * may grow new ones, and the type is what classification rests on. */
	if (d->errore == NULL)
		d->errore = "nessuno";

	const xmlNode *in, *dati;
	pg_status st;
	if ((st = child_of(root, "intestazione", "intestazione", &in, err, errlen)) != PG_OK ||
	    (st = child_of(root, "dati", "dati", &dati, err, errlen)) != PG_OK)
		return st;
	if (in == NULL) {
		set_err(err, errlen, "missing intestazione");
		return PG_ERR_PARSE;
	}
	if (dati == NULL) {
		set_err(err, errlen, "missing dati");
		return PG_ERR_PARSE;
	}
	if ((st = read_intestazione(a, in, d, err, errlen)) != PG_OK ||
	    (st = read_dati(a, dati, d, err, errlen)) != PG_OK)
		return st;
	*out = d;
	return PG_OK;
}

/* ---- the pre-scan ---------------------------------------------------------- */

/*
 * libxml2 2.9 has two costs that grow with the square of what input
 * controls, which no parser option bounds: the duplicate check of the
 * attributes of one start tag (90,000 attributes in 1 MiB take 4 s), and
 * the linear search of the namespaces in scope for every element (10,000
 * declarations and 200,000 empty elements take 1 s).  daticert.xml has at
 * most two attributes per element and no namespaces, so a cheap scan of
 * the raw input refuses such documents before libxml2 sees them.
 *
 * The scan must see the markup as libxml2 will, so it reads the code units
 * of the encodings libxml2 is allowed to use here: 8-bit encodings that
 * are ASCII supersets (UTF-8, Latin-1...) and UTF-16.  Any other declared
 * encoding is refused: UTF-7, say, spells '=' as "+AD0-", and UCS-4 or
 * EBCDIC hide markup from a byte scan just as well.
 */

/* Real files have at most 2 attributes per element and no namespaces. */
#define MAX_ATTRS_PER_TAG 64
#define MAX_NS_DECLS      16
/* Longest XML declaration looked at, in code units. */
#define XMLDECL_MAX 512

struct units {
	const unsigned char *p; /* after any byte-order mark */
	size_t n;               /* code units */
	int width;              /* 1 or 2 bytes */
	bool be;                /* big-endian (width 2) */
};

static unsigned unit_at(const struct units *u, size_t i)
{
	if (u->width == 1)
		return u->p[i];
	const unsigned char *q = u->p + 2 * i;
	return u->be ? (unsigned)q[0] << 8 | q[1] : (unsigned)q[1] << 8 | q[0];
}

/* Do the units from i on spell the ASCII string lit? */
static bool units_match(const struct units *u, size_t i, const char *lit)
{
	for (; *lit != '\0'; lit++, i++)
		if (i >= u->n || unit_at(u, i) != (unsigned char)*lit)
			return false;
	return true;
}

/* The index just past the first occurrence of lit at or after i, or n. */
static size_t units_skip_past(const struct units *u, size_t i, const char *lit)
{
	for (; i < u->n; i++)
		if (unit_at(u, i) == (unsigned char)*lit && units_match(u, i, lit))
			return i + strlen(lit);
	return u->n;
}

static bool unit_is_space(unsigned c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* How libxml2 2.9 guesses the encoding from the first bytes
 * (xmlDetectCharEncoding), for the families accepted here.  Returns false
 * for UCS-4 and EBCDIC. */
static bool detect_units(const unsigned char *p, size_t n, struct units *u)
{
	u->p = p;
	u->width = 1;
	u->be = false;
	if (n >= 4) {
		uint32_t w =
			(uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		if (w == 0x0000003C || w == 0x3C000000 || w == 0x00003C00 || w == 0x003C0000 ||
		    w == 0x4C6FA794)
			return false;
		if (w == 0x3C003F00) {
			u->width = 2;
		} else if (w == 0x003C003F) {
			u->width = 2;
			u->be = true;
		}
	}
	if (u->width == 1 && n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
		u->p = p + 3;
	} else if (u->width == 1 && n >= 2 && p[0] == 0xFE && p[1] == 0xFF) {
		u->p = p + 2;
		u->width = 2;
		u->be = true;
	} else if (u->width == 1 && n >= 2 && p[0] == 0xFF && p[1] == 0xFE) {
		u->p = p + 2;
		u->width = 2;
	}
	u->n = (n - (size_t)(u->p - p)) / (size_t)u->width;
	return true;
}

/* Is the declared encoding one the scan can follow?  In UTF-16 libxml2
 * ignores a declared "UTF-8" or "UTF-16" and keeps the encoding of the
 * byte-order mark; any other name would switch the decoder. */
static bool encoding_allowed(const struct units *u, const char *enc)
{
	static const char *const eight_bit[] = {
		"UTF-8",      "UTF8",         "US-ASCII", "ASCII",       "ISO-8859-1",
		"ISO_8859-1", "ISO-LATIN-1",  "LATIN1",   "ISO-8859-15", "ISO_8859-15",
		"LATIN-9",    "WINDOWS-1252", "CP1252",
	};
	static const char *const sixteen[] = {"UTF-16", "UTF16", "UTF-8", "UTF8"};
	if (u->width == 2) {
		for (size_t i = 0; i < sizeof(sixteen) / sizeof(sixteen[0]); i++)
			if (pg_streq_ci(enc, sixteen[i]))
				return true;
		return pg_streq_ci(enc, u->be ? "UTF-16BE" : "UTF-16LE");
	}
	for (size_t i = 0; i < sizeof(eight_bit) / sizeof(eight_bit[0]); i++)
		if (pg_streq_ci(enc, eight_bit[i]))
			return true;
	return false;
}

/* Checks the encoding named by the XML declaration, if there is one. */
static pg_status check_xmldecl(const struct units *u, char *err, size_t errlen)
{
	if (!units_match(u, 0, "<?xml") || u->n < 6 || !unit_is_space(unit_at(u, 5)))
		return PG_OK;
	size_t i = 5, end = u->n < XMLDECL_MAX ? u->n : XMLDECL_MAX;
	for (;;) {
		while (i < end && unit_is_space(unit_at(u, i)))
			i++;
		if (i >= end)
			break;
		if (unit_at(u, i) == '?')
			return PG_OK; /* the end, "?>": libxml2 checks the rest */
		char name[16], value[64];
		size_t nl = 0, vl = 0;
		while (i < end && nl < sizeof(name) - 1) {
			unsigned c = unit_at(u, i);
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
				break;
			name[nl++] = (char)c;
			i++;
		}
		name[nl] = '\0';
		while (i < end && unit_is_space(unit_at(u, i)))
			i++;
		if (nl == 0 || i >= end || unit_at(u, i) != '=')
			goto malformed;
		i++;
		while (i < end && unit_is_space(unit_at(u, i)))
			i++;
		if (i >= end || (unit_at(u, i) != '"' && unit_at(u, i) != '\''))
			goto malformed;
		unsigned q = unit_at(u, i++);
		while (i < end && unit_at(u, i) != q) {
			unsigned c = unit_at(u, i++);
			if (vl < sizeof(value) - 1)
				value[vl++] = c >= 0x20 && c < 0x7F ? (char)c : '?';
		}
		value[vl] = '\0';
		if (i >= end)
			break;
		i++;
		if (strcmp(name, "encoding") == 0) {
			if (encoding_allowed(u, value))
				return PG_OK;
			set_err(err, errlen, "unsupported encoding '%s'", value);
			return PG_ERR_PARSE;
		}
	}
	/* An unterminated declaration, or one padded past XMLDECL_MAX. */
	set_err(err, errlen, "not well-formed XML at line 1: XML declaration too long");
	return PG_ERR_PARSE;
malformed:
	set_err(err, errlen, "not well-formed XML at line 1: malformed XML declaration");
	return PG_ERR_PARSE;
}

/* Counts the attributes of each start tag and the namespace declarations.
 * Comments, processing instructions and CDATA sections are skipped whole
 * (they may hold anything, quotes included); quotes are followed only
 * inside tags and declarations, where they delimit values. */
static pg_status check_markup(const struct units *u, char *err, size_t errlen)
{
	enum { TEXT, TAG, DECL } state = TEXT;
	unsigned quote = 0;
	size_t attrs = 0, ns = 0;
	bool name_start = false;
	for (size_t i = 0; i < u->n;) {
		unsigned c = unit_at(u, i);
		if (quote != 0) {
			if (c == quote)
				quote = 0;
			i++;
			continue;
		}
		if (state == TEXT || state == DECL) {
			if (c == '<' && units_match(u, i, "<!--")) {
				i = units_skip_past(u, i + 4, "-->");
				continue;
			}
			if (c == '<' && units_match(u, i, "<?")) {
				i = units_skip_past(u, i + 2, "?>");
				continue;
			}
		}
		switch (state) {
		case TEXT:
			if (c == '<' && units_match(u, i, "<![CDATA[")) {
				i = units_skip_past(u, i + 9, "]]>");
				continue;
			}
			if (c == '<') {
				state = units_match(u, i, "<!") ? DECL : TAG;
				attrs = 0;
				name_start = false;
			}
			break;
		case DECL:
			if (c == '>')
				state = TEXT;
			else if (c == '"' || c == '\'')
				quote = c;
			break;
		case TAG:
			if (c == '>') {
				state = TEXT;
			} else if (c == '"' || c == '\'') {
				quote = c;
			} else if (c == '=') {
				if (++attrs > MAX_ATTRS_PER_TAG) {
					set_err(err, errlen,
						"more than %d attributes in one element",
						MAX_ATTRS_PER_TAG);
					return PG_ERR_PARSE;
				}
			} else if (unit_is_space(c)) {
				name_start = true;
				break;
			} else if (name_start && c == 'x' && units_match(u, i, "xmlns")) {
				if (++ns > MAX_NS_DECLS) {
					set_err(err, errlen, "more than %d namespace declarations",
						MAX_NS_DECLS);
					return PG_ERR_PARSE;
				}
			}
			name_start = false;
			break;
		}
		i++;
	}
	return PG_OK;
}

static pg_status prescan(const void *data, size_t len, char *err, size_t errlen)
{
	struct units u;
	if (!detect_units(data, len, &u)) {
		set_err(err, errlen, "unsupported encoding (UCS-4 or EBCDIC)");
		return PG_ERR_PARSE;
	}
	pg_status st = check_xmldecl(&u, err, errlen);
	if (st == PG_OK)
		st = check_markup(&u, err, errlen);
	return st;
}

pg_status pg_daticert_parse(pg_arena *a, const void *data, size_t len, pg_daticert **out, char *err,
			    size_t errlen)
{
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (out != NULL)
		*out = NULL;
	if (a == NULL || out == NULL || (data == NULL && len > 0)) {
		set_err(err, errlen, "invalid argument");
		return PG_ERR_INVALID;
	}
	if (len == 0) {
		set_err(err, errlen, "empty daticert.xml");
		return PG_ERR_PARSE;
	}
	if (len > DATICERT_MAX) {
		set_err(err, errlen, "daticert.xml larger than 1 MiB");
		return PG_ERR_PARSE;
	}
	pg_status pre = prescan(data, len, err, errlen);
	if (pre != PG_OK)
		return pre;

	xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
	if (ctxt == NULL || ctxt->sax == NULL) {
		xmlFreeParserCtxt(ctxt);
		set_err(err, errlen, "out of memory");
		return PG_ERR_NOMEM;
	}
	struct dc_state st = {0};
	ctxt->_private = &st;
	/* The context has its own copy of the SAX handler: changing it here
	 * affects this parse only. */
	ctxt->sax->serror = on_error;
	ctxt->sax->entityDecl = on_entity_decl;
	ctxt->sax->unparsedEntityDecl = on_unparsed_entity_decl;
	ctxt->sax->externalSubset = NULL;

	/* No encoding given: libxml2 honours the BOM (UTF-16LE/BE, UTF-8) and
	 * the XML declaration (ISO-8859-1...), and hands out UTF-8. */
	xmlDocPtr doc = xmlCtxtReadMemory(ctxt, data, (int)len, NULL, NULL, DATICERT_OPTIONS);

	pg_status ret;
	if (st.entity_decl) {
		set_err(err, errlen, "entity declarations are not allowed");
		ret = PG_ERR_PARSE;
	} else if (doc == NULL || !ctxt->wellFormed || st.have_error) {
		/* Errors libxml2 recovers from count too: an undeclared
		 * entity (tolerated when there is an external DTD) would be
		 * dropped silently from the text, so that "a&x;@b" reads as
		 * "a@b" here and as something else to a reader that loads
		 * the DTD; a namespace error is no better a sign.  Providers
		 * write clean XML. */
		if (!st.have_error) {
			/* Nothing came through the hook (an error raised
			 * without the context): fall back on the context's
			 * record of the last one. */
			on_error(ctxt, xmlCtxtGetLastError(ctxt));
		}
		if (st.have_error && st.code == XML_ERR_NO_MEMORY) {
			set_err(err, errlen, "out of memory");
			ret = PG_ERR_NOMEM;
		} else if (st.have_error) {
			set_err(err, errlen, "not well-formed XML at line %d: %s", st.line, st.msg);
			ret = PG_ERR_PARSE;
		} else {
			set_err(err, errlen, "not well-formed XML");
			ret = PG_ERR_PARSE;
		}
	} else {
		ret = read_doc(a, doc, out, err, errlen);
	}
	/* Every string the caller gets was copied into the arena. */
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	return ret;
}
