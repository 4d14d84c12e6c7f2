/*
 * msg.h - the message model: GMime's tree, with the exact bytes of every
 * entity (from rawmime) and lazily decoded content, all in one arena.
 *
 * A message/rfc822 part carries its parsed inner message, also when it is
 * (against RFC 2046) base64 or quoted-printable encoded: the decoded bytes
 * are parsed as a message of their own, its depth continuing the outer one.
 */
#ifndef PG_MIME_MSG_H
#define PG_MIME_MSG_H

#include <stdbool.h>
#include <stddef.h>

#include <gmime/gmime.h>

#include "mime/rawmime.h"
#include "pecguard.h"
#include "util/arena.h"

struct pg_part {
	GMimeObject *obj;     /* borrowed from the message tree */
	const pg_rawent *raw; /* exact bytes, or NULL when unmatched */
	const char *base;     /* the buffer raw's offsets refer to */
	pg_msg *msg;          /* the message this entity belongs to */
	pg_part *parent;      /* NULL for a message's top-level entity */
	unsigned depth;       /* nesting from the outermost message */
	unsigned index;       /* position among its parent's children */
	const char *ctype;    /* lower-case "type/subtype" */
	const char *filename; /* decoded, or NULL */
	bool is_multipart;
	bool is_message;    /* message/rfc822 (or message/global) */
	bool is_attachment; /* Content-Disposition: attachment, or a file name */
	pg_msg *inner;      /* for is_message: the parsed inner message, or NULL */
	pg_part **children; /* multipart: the body parts, in order */
	size_t nchildren;
	/* content, decoded on first use */
	bool decoded;
	unsigned char *content;
	size_t content_len;
};

/* Transfer-encoded message/rfc822 parts parsed as messages, one inside the
 * other (an envelope's base64 postacert.eml holding a base64 forward...);
 * deeper ones stay leaves (msg.c). */
#define PG_ENCODED_NEST_MAX 3

struct pg_msg {
	pg_arena *arena;
	const char *data; /* the buffer raw's offsets refer to (borrowed): the
			   * scan's, also for a nested message, unless that was
			   * transfer-encoded (then its decoded bytes) */
	size_t len;
	GMimeMessage *gm;
	pg_rawent *raw;       /* this message's span in data, or NULL when unmatched */
	pg_part *parent_part; /* the message/rfc822 part holding it, or NULL */
	unsigned depth;
	const pg_limits *lim;
	pg_part **parts; /* pre-order, nested messages included */
	size_t nparts;
	unsigned *budget;     /* entities left for the whole scan */
	struct pg_text *text; /* text.c's cache, built on first use */
};

/* Parses data[0, len) (which must outlive the arena) into *out.  Runs the
 * raw scan first: a cap gives its status with a message in err, and no
 * message.  The depth and part caps hold on GMime's tree too, where it
 * differs from the raw scan's (its extra entities draw on *budget).
 * depth is the nesting of this message (0 at top level). */
pg_status pg_msg_parse(pg_arena *a, const char *data, size_t len, const pg_limits *lim,
		       unsigned depth, unsigned *budget, pg_msg **out, char *err,
		       size_t errlen) PG_WUR;

/* The top-level entity of a message. */
static inline const pg_part *pg_msg_root(const pg_msg *m)
{
	return m->nparts ? m->parts[0] : NULL;
}

/* Header access on any entity (NULL if absent), decoded to UTF-8. */
const char *pg_part_header(const pg_part *p, const char *name);
/* The From: mailbox of a message: display name and address (either may be
 * NULL); address lower-cased. */
void pg_msg_from(const pg_msg *m, const char **name, const char **addr);
/* A copy of an address's domain, lower-case, or NULL. */
const char *pg_addr_domain(pg_arena *a, const char *addr);

/* Children of a multipart entity, in order (pre-order walk helpers). */
size_t pg_part_child_count(const pg_part *p);
const pg_part *pg_part_child(const pg_part *p, size_t i);

#endif
