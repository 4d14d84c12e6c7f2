/*
 * rawmime.h - the MIME structure of a message as byte spans.
 *
 * GMime builds the message model; this scanner records, for every entity,
 * where its exact bytes lie in the input, because a detached signature
 * covers the bytes as transmitted, not a re-encoding of them.  It also
 * guards GMime: it runs first, with the engine's caps on header size,
 * nesting depth and part count, so hostile structure is refused before any
 * recursive parser sees it.  Iterative over siblings, recursive only to the
 * capped depth; no I/O; no allocation but in the arena.
 */
#ifndef PG_MIME_RAWMIME_H
#define PG_MIME_RAWMIME_H

#include <stddef.h>

#include "pecguard.h"
#include "util/arena.h"

typedef enum pg_raw_kind {
	PG_RAW_LEAF = 0,
	PG_RAW_MULTIPART, /* children are the body parts */
	PG_RAW_MESSAGE    /* message/rfc822 in an identity encoding: one child */
} pg_raw_kind;

typedef struct pg_rawent pg_rawent;
struct pg_rawent {
	size_t start;      /* first byte of the header block */
	size_t hdr_end;    /* end of the last header field (before the blank line) */
	size_t body_start; /* first byte of the body */
	size_t end;        /* one past the last byte of the entity */
	unsigned depth;    /* 0 for the top level */
	pg_raw_kind kind;
	const char *ctype;    /* lower-case "type/subtype"; "text/plain" by default */
	const char *boundary; /* multipart boundary, or NULL */
	const char *cte;      /* lower-case Content-Transfer-Encoding, or NULL */
	int closed;           /* multipart: the close delimiter was seen */
	pg_rawent *parent;
	pg_rawent *first_child;
	pg_rawent *next;
	unsigned nchildren;
};

/* Scans data[0, len).  *root receives the top-level entity, *nparts the
 * number of entities.  A cap returns PG_ERR_HEADER_TOO_LONG,
 * PG_ERR_TOO_DEEP or PG_ERR_TOO_MANY_PARTS with a message in err; any
 * byte sequence is otherwise accepted. */
pg_status pg_raw_scan(pg_arena *a, const char *data, size_t len, const pg_limits *lim,
		      unsigned base_depth, pg_rawent **root, unsigned *nparts, char *err,
		      size_t errlen) PG_WUR;

/* Before GMime runs: refuses (PG_ERR_TOO_MANY_PARTS, message in err) a
 * message with more lines that delimit a body part, for any boundary
 * declared anywhere in it, than budget parts can need (2 x budget + 2).
 * An upper bound on what GMime will build, whatever the raw scan saw
 * (bguard.c). */
pg_status pg_raw_boundary_guard(pg_arena *a, const char *data, size_t len, unsigned budget,
				const pg_limits *lim, char *err, size_t errlen) PG_WUR;

/* Parses a Content-Type value into a lower-case "type/subtype" (arena) and
 * the value of one parameter (param may be NULL).  Missing or malformed
 * types give "text/plain".  Exposed for tests. */
const char *pg_raw_parse_ctype(pg_arena *a, const char *v, size_t n, const char *param,
			       const char **param_value);

#endif
