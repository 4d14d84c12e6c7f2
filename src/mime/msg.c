#include "mime/msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"

/* A growable array of parts, malloc'd while a tree is built and copied
 * into the arena when it is complete. */
struct partvec {
	pg_part **v;
	size_t n, cap;
};

static pg_status vec_push(struct partvec *pv, pg_part *p)
{
	if (pv->n == pv->cap) {
		size_t cap = pv->cap ? pv->cap * 2 : 16;
		pg_part **nv = realloc(pv->v, cap * sizeof(*nv));
		if (nv == NULL)
			return PG_ERR_NOMEM;
		pv->v = nv;
		pv->cap = cap;
	}
	pv->v[pv->n++] = p;
	return PG_OK;
}

static pg_part **vec_to_arena(pg_arena *a, struct partvec *pv)
{
	pg_part **out = pg_arena_alloc(a, (pv->n ? pv->n : 1) * sizeof(*out));
	if (out != NULL && pv->n)
		memcpy(out, pv->v, pv->n * sizeof(*out));
	return out;
}

struct builder {
	pg_arena *a;
	const pg_limits *lim;
	unsigned *budget;
	unsigned prepaid; /* entities the raw scan counted and the budget paid */
	unsigned walked;  /* entities of GMime's tree built so far */
	char *err;
	size_t errlen;
};

static void unref_object(void *p)
{
	g_object_unref(p);
}

static pg_status build_msg(struct builder *b, GMimeMessage *gm, const char *data, size_t len,
			   pg_rawent *raw, unsigned depth, pg_part *holder, pg_msg **out);
static pg_status parse_held(pg_arena *a, const char *data, size_t len, const pg_limits *lim,
			    unsigned depth, unsigned *budget, pg_part *holder, pg_msg **out,
			    char *err, size_t errlen);

/* Parses an encoded message/rfc822 body once decoded (RFC 2046 forbids the
 * encoding, real envelopes use it anyway). */
static pg_status parse_encoded_inner(struct builder *b, pg_part *part)
{
	/* Each encoded level is decoded and parsed again in full, so a message
	 * nested in itself that way costs its whole size at every level (a
	 * 7 MB chain of quoted-printable message/rfc822 took 500 MB at the 32
	 * levels the depth cap allows).  Past PG_ENCODED_NEST_MAX encoded
	 * levels the part stays a leaf: its bytes are still scanned (the
	 * antivirus's mail parser reads them), not parsed again. */
	unsigned encoded = 0;
	for (const pg_msg *m = part->msg; m != NULL && m->parent_part != NULL;
	     m = m->parent_part->msg)
		if (m->data != m->parent_part->msg->data)
			encoded++;
	if (encoded >= PG_ENCODED_NEST_MAX)
		return PG_OK;
	size_t n;
	const unsigned char *c = pg_part_content(part, &n);
	if (c == NULL || n == 0)
		return PG_OK;
	pg_msg *inner = NULL;
	pg_status st = parse_held(b->a, (const char *)c, n, b->lim, part->depth + 1, b->budget,
				  part, &inner, b->err, b->errlen);
	if (st == PG_ERR_PARSE)
		return PG_OK; /* not a message after all: stays a leaf */
	if (st != PG_OK)
		return st;
	inner->parent_part = part;
	part->inner = inner;
	return PG_OK;
}

static const char *object_ctype(pg_arena *a, GMimeObject *o)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	const char *t = ct ? g_mime_content_type_get_media_type(ct) : NULL;
	const char *s = ct ? g_mime_content_type_get_media_subtype(ct) : NULL;
	char *r = pg_arena_printf(a, "%s/%s", t ? t : "text", s ? s : "plain");
	return r ? pg_strlower(r) : NULL;
}

static pg_status walk(struct builder *b, pg_msg *m, struct partvec *pv, GMimeObject *o,
		      const pg_rawent *raw, pg_part *parent, unsigned index, unsigned depth)
{
	/* The raw scan applied the caps before GMime ran, but where the two
	 * parsers read the structure differently (a header block the raw scan
	 * ends early, an RFC 2231 boundary...) GMime's tree can be deeper or
	 * larger than what the raw scan saw: the caps hold on it too.
	 * Entities beyond those the raw scan counted draw on the budget. */
	if (depth > b->lim->max_depth) {
		snprintf(b->err, b->errlen, "MIME nesting deeper than the limit (%u)",
			 b->lim->max_depth);
		return PG_ERR_TOO_DEEP;
	}
	if (++b->walked > b->prepaid) {
		if (*b->budget == 0) {
			snprintf(b->err, b->errlen, "more MIME parts than the limit (%u)",
				 b->lim->max_parts);
			return PG_ERR_TOO_MANY_PARTS;
		}
		--*b->budget;
	}
	pg_part *p = pg_arena_calloc(b->a, 1, sizeof(*p));
	if (p == NULL)
		return PG_ERR_NOMEM;
	p->obj = o;
	p->raw = raw;
	p->base = m->data;
	p->msg = m;
	p->parent = parent;
	p->depth = depth;
	p->index = index;
	p->ctype = object_ctype(b->a, o);
	if (p->ctype == NULL)
		return PG_ERR_NOMEM;
	GMimeContentDisposition *cd = g_mime_object_get_content_disposition(o);
	if (cd != NULL && g_mime_content_disposition_is_attachment(cd))
		p->is_attachment = true;
	{
		/* GMime finds a part's name for leaves only; a message/rfc822
		 * part (postacert.eml) is named the same way. */
		const char *fn = GMIME_IS_PART(o) ? g_mime_part_get_filename(GMIME_PART(o)) : NULL;
		if (fn == NULL && !GMIME_IS_PART(o) && !GMIME_IS_MULTIPART(o)) {
			fn = g_mime_object_get_content_disposition_parameter(o, "filename");
			if (fn == NULL)
				fn = g_mime_object_get_content_type_parameter(o, "name");
		}
		if (fn != NULL) {
			p->filename = pg_arena_strdup(b->a, fn);
			if (p->filename == NULL)
				return PG_ERR_NOMEM;
			p->is_attachment = true;
		}
	}
	pg_status st = vec_push(pv, p);
	if (st != PG_OK)
		return st;

	if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = GMIME_MULTIPART(o);
		int n = g_mime_multipart_get_count(mp);
		p->is_multipart = true;
		p->nchildren = n > 0 ? (size_t)n : 0;
		p->children = pg_arena_calloc(b->a, p->nchildren ? p->nchildren : 1,
					      sizeof(*p->children));
		if (p->children == NULL)
			return PG_ERR_NOMEM;
		/* Raw spans are trusted only when both parsers agree on the shape. */
		const pg_rawent *rc =
			(raw && raw->kind == PG_RAW_MULTIPART && raw->nchildren == (unsigned)n)
				? raw->first_child
				: NULL;
		for (int i = 0; i < n; i++) {
			size_t before = pv->n;
			st = walk(b, m, pv, g_mime_multipart_get_part(mp, i), rc, p, (unsigned)i,
				  depth + 1);
			if (st != PG_OK)
				return st;
			p->children[i] = pv->v[before];
			if (rc != NULL)
				rc = rc->next;
		}
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		p->is_message = true;
		GMimeMessage *im = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
		if (im != NULL) {
			pg_rawent *ir =
				(raw && raw->kind == PG_RAW_MESSAGE) ? raw->first_child : NULL;
			st = build_msg(b, im, m->data, m->len, ir, depth + 1, p, &p->inner);
			if (st != PG_OK)
				return st;
			for (size_t i = 0; i < p->inner->nparts; i++)
				if ((st = vec_push(pv, p->inner->parts[i])) != PG_OK)
					return st;
		}
	} else if (strcmp(p->ctype, "message/rfc822") == 0 ||
		   strcmp(p->ctype, "message/global") == 0) {
		p->is_message = true;
		st = parse_encoded_inner(b, p);
		if (st != PG_OK)
			return st;
		if (p->inner != NULL)
			for (size_t i = 0; i < p->inner->nparts; i++)
				if ((st = vec_push(pv, p->inner->parts[i])) != PG_OK)
					return st;
	}
	return PG_OK;
}

static pg_status build_msg(struct builder *b, GMimeMessage *gm, const char *data, size_t len,
			   pg_rawent *raw, unsigned depth, pg_part *holder, pg_msg **out)
{
	pg_msg *m = pg_arena_calloc(b->a, 1, sizeof(*m));
	if (m == NULL)
		return PG_ERR_NOMEM;
	m->arena = b->a;
	m->data = data;
	m->len = len;
	m->gm = gm;
	m->raw = raw;
	m->parent_part = holder;
	m->depth = depth;
	m->lim = b->lim;
	m->budget = b->budget;
	struct partvec pv = {0};
	GMimeObject *top = g_mime_message_get_mime_part(gm);
	pg_status st = PG_OK;
	/* A message without a body still gets a top-level entity: the message. */
	st = walk(b, m, &pv, top ? top : GMIME_OBJECT(gm), raw, NULL, 0, depth);
	if (st == PG_OK) {
		m->parts = vec_to_arena(b->a, &pv);
		m->nparts = pv.n;
		if (m->parts == NULL)
			st = PG_ERR_NOMEM;
	}
	free(pv.v);
	if (st != PG_OK)
		return st;
	*out = m;
	return PG_OK;
}

static GMimeMessage *gmime_parse(const char *data, size_t len, bool headerless)
{
	GMimeStream *stream;
	if (headerless) {
		stream = g_mime_stream_mem_new();
		if (stream == NULL)
			return NULL;
		g_mime_stream_write(stream, "\n", 1);
		g_mime_stream_write(stream, data, len);
		g_mime_stream_reset(stream);
	} else {
		stream = g_mime_stream_mem_new_with_buffer(data, len);
		if (stream == NULL)
			return NULL;
	}
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	g_object_unref(stream);
	if (parser == NULL)
		return NULL;
	g_mime_parser_set_persist_stream(parser, TRUE);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	GMimeMessage *gm = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	return gm;
}

pg_status pg_msg_parse(pg_arena *a, const char *data, size_t len, const pg_limits *lim,
		       unsigned depth, unsigned *budget, pg_msg **out, char *err, size_t errlen)
{
	return parse_held(a, data, len, lim, depth, budget, NULL, out, err, errlen);
}

/* pg_msg_parse for a message held by a part: its parent link is set before
 * its own parts are walked, so that they can see how deep they are. */
static pg_status parse_held(pg_arena *a, const char *data, size_t len, const pg_limits *lim,
			    unsigned depth, unsigned *budget, pg_part *holder, pg_msg **out,
			    char *err, size_t errlen)
{
	pg_rawent *raw = NULL;
	unsigned n = 0;
	pg_status st = pg_raw_scan(a, data, len, lim, depth, &raw, &n, err, errlen);
	if (st != PG_OK)
		return st;
	if (n > *budget) {
		snprintf(err, errlen, "more MIME parts than the limit (%u)", lim->max_parts);
		return PG_ERR_TOO_MANY_PARTS;
	}
	*budget -= n;
	/* What GMime may build beyond the raw scan's count is bounded before
	 * it runs (what it builds is capped again in walk()). */
	st = pg_raw_boundary_guard(a, data, len, *budget + n, lim, err, errlen);
	if (st != PG_OK)
		return st;

	GMimeMessage *gm = gmime_parse(data, len, false);
	if (gm == NULL) {
		/* Text that does not start with a header field (a bare body, a
		 * stray byte-order mark) is still mail to inspect: parse it as
		 * the body of a message without headers. */
		gm = gmime_parse(data, len, true);
	}
	if (gm == NULL) {
		snprintf(err, errlen, "not a MIME message");
		return PG_ERR_PARSE;
	}
	if (pg_arena_defer(a, unref_object, gm) != 0)
		return PG_ERR_NOMEM;
	struct builder b = {
		.a = a, .lim = lim, .budget = budget, .prepaid = n, .err = err, .errlen = errlen};
	return build_msg(&b, gm, data, len, raw, depth, holder, out);
}

/* ---- accessors ----------------------------------------------------------- */

const char *pg_part_header(const pg_part *p, const char *name)
{
	GMimeObject *o = p->parent == NULL ? GMIME_OBJECT(p->msg->gm) : p->obj;
	return g_mime_object_get_header(o, name);
}

const char *pg_msg_header(const pg_msg *msg, const char *name)
{
	const char *v = g_mime_object_get_header(GMIME_OBJECT(msg->gm), name);
	/* GMime keeps the Content-* fields of the top level on the message's
	 * MIME part. */
	if (v == NULL && g_ascii_strncasecmp(name, "Content-", 8) == 0) {
		GMimeObject *top = g_mime_message_get_mime_part(msg->gm);
		if (top != NULL)
			v = g_mime_object_get_header(top, name);
	}
	return v;
}

const char *pg_msg_raw(const pg_msg *msg, size_t *len)
{
	/* A message nested without transfer encoding lies inside its outer
	 * message's buffer (data is that buffer): its bytes are its own span
	 * there, unknown when the two parsers did not agree on the shape. */
	if (msg->raw == NULL) {
		*len = 0;
		return NULL;
	}
	*len = msg->raw->end - msg->raw->start;
	return msg->data + msg->raw->start;
}

size_t pg_msg_part_count(const pg_msg *msg)
{
	return msg->nparts;
}

const pg_part *pg_msg_part(const pg_msg *msg, size_t i)
{
	return i < msg->nparts ? msg->parts[i] : NULL;
}

void pg_msg_from(const pg_msg *m, const char **name, const char **addr)
{
	*name = NULL;
	*addr = NULL;
	InternetAddressList *l = g_mime_message_get_from(m->gm);
	int n = l ? internet_address_list_length(l) : 0;
	for (int i = 0; i < n; i++) {
		InternetAddress *ia = internet_address_list_get_address(l, i);
		if (INTERNET_ADDRESS_IS_GROUP(ia)) {
			InternetAddressList *members =
				internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia));
			if (members == NULL || internet_address_list_length(members) == 0)
				continue;
			ia = internet_address_list_get_address(members, 0);
		}
		if (!INTERNET_ADDRESS_IS_MAILBOX(ia))
			continue;
		*name = internet_address_get_name(ia);
		const char *a = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
		if (a != NULL) {
			char *c = pg_arena_strdup(m->arena, a);
			*addr = c ? pg_strlower(c) : NULL;
		}
		return;
	}
}

const char *pg_addr_domain(pg_arena *a, const char *addr)
{
	if (addr == NULL)
		return NULL;
	const char *at = strrchr(addr, '@');
	if (at == NULL || at[1] == '\0')
		return NULL;
	char *d = pg_arena_strdup(a, at + 1);
	if (d == NULL)
		return NULL;
	size_t n = strlen(d);
	while (n > 0 && (d[n - 1] == '.' || d[n - 1] == '>' || d[n - 1] == ' '))
		d[--n] = '\0';
	return pg_strlower(d);
}

const char *pg_part_content_type(const pg_part *part)
{
	return part->ctype;
}

const char *pg_part_filename(const pg_part *part)
{
	return part->filename;
}

unsigned pg_part_depth(const pg_part *part)
{
	return part->depth;
}

size_t pg_part_child_count(const pg_part *p)
{
	return p->nchildren;
}

const pg_part *pg_part_child(const pg_part *p, size_t i)
{
	return i < p->nchildren ? p->children[i] : NULL;
}

const char *pg_part_raw(const pg_part *part, size_t *len)
{
	if (part->raw == NULL) {
		*len = 0;
		return NULL;
	}
	*len = part->raw->end - part->raw->start;
	return part->base + part->raw->start;
}

const unsigned char *pg_part_content(const pg_part *cpart, size_t *len)
{
	pg_part *part = (pg_part *)cpart; /* decoding fills a cache */
	if (part->decoded) {
		*len = part->content_len;
		return part->content;
	}
	*len = 0;
	if (GMIME_IS_MESSAGE_PART(part->obj)) {
		/* The inner message's bytes as transmitted. */
		if (part->raw != NULL) {
			part->content = (unsigned char *)(part->base + part->raw->body_start);
			part->content_len = part->raw->end - part->raw->body_start;
		}
		part->decoded = true;
		*len = part->content_len;
		return part->content;
	}
	if (!GMIME_IS_PART(part->obj))
		return NULL;
	/* Fast path: decode the exact bytes of the body ourselves, without
	 * GMime's stream and filter machinery (the same decoder, stepwise). */
	GMimeContentEncoding enc = g_mime_part_get_content_encoding(GMIME_PART(part->obj));
	if (part->raw != NULL && part->raw->kind == PG_RAW_LEAF &&
	    enc != GMIME_CONTENT_ENCODING_UUENCODE) {
		const unsigned char *in = (const unsigned char *)part->base + part->raw->body_start;
		size_t inlen = part->raw->end - part->raw->body_start;
		size_t outcap = inlen + 4;
		GMimeEncoding st;
		bool identity = enc != GMIME_CONTENT_ENCODING_BASE64 &&
				enc != GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
		if (!identity) {
			g_mime_encoding_init_decode(&st, enc);
			outcap = g_mime_encoding_outlen(&st, inlen) + 4;
		}
		unsigned char *c = pg_arena_alloc(part->msg->arena, outcap);
		if (c == NULL)
			return NULL;
		size_t n = inlen;
		if (identity)
			memcpy(c, in, inlen);
		else
			n = g_mime_encoding_flush(&st, (const char *)in, inlen, (char *)c);
		c[n] = '\0';
		part->content = c;
		part->content_len = n;
		part->decoded = true;
		*len = n;
		return c;
	}
	GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(part->obj));
	if (w == NULL) {
		part->decoded = true;
		part->content = (unsigned char *)"";
		return part->content;
	}
	GMimeStream *mem = g_mime_stream_mem_new();
	if (mem == NULL)
		return NULL;
	g_mime_data_wrapper_write_to_stream(w, mem);
	GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	unsigned char *c = pg_arena_alloc(part->msg->arena, ba->len + 1);
	if (c != NULL) {
		if (ba->len > 0)
			memcpy(c, ba->data, ba->len);
		c[ba->len] = '\0';
		part->content = c;
		part->content_len = ba->len;
		part->decoded = true;
	}
	g_object_unref(mem);
	*len = part->content_len;
	return part->content;
}
