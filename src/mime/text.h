/*
 * text.h - the text of a message, as analysers read it.
 *
 * For every text/plain and text/html leaf (attachments excluded unless
 * they are text), the decoded content converted to UTF-8 (GMime's charset
 * conversion; invalid input replaced), HTML rendered to text (libxml2's
 * HTML parser: tags dropped, script/style skipped, entities decoded, block
 * elements as line breaks), and the links of HTML (href with the text shown
 * for it).  Computed once per message on first use, in the scan's arena.
 */
#ifndef PG_MIME_TEXT_H
#define PG_MIME_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "mime/msg.h"

typedef struct pg_link {
	const char *href;  /* as written, entities decoded */
	const char *shown; /* the anchor's visible text, trimmed (may be "") */
	const pg_part *part;
} pg_link;

typedef struct pg_text_part {
	const pg_part *part;
	bool html;        /* rendered from text/html */
	const char *text; /* UTF-8, NUL-terminated */
	size_t len;
} pg_text_part;

typedef struct pg_text {
	pg_text_part *parts;
	size_t nparts;
	const char *all; /* every part's text joined by "\n", UTF-8 */
	size_t all_len;
	pg_link *links; /* from HTML parts */
	size_t nlinks;
	const char *subject; /* decoded Subject, UTF-8, or "" */
} pg_text;

/* The text of a message (cached on the message).  NULL only when out of
 * memory.  Text is capped (first 1 MiB of each part, 4 MiB in all). */
const pg_text *pg_msg_text(const pg_msg *m);

/* Unicode normalisation (NFKC) and case folding of s into the arena, for
 * matching: "FATTURA", "ｆａｔｔｕｒａ" and "Fattura" give the same. */
const char *pg_text_fold(pg_arena *a, const char *s, size_t n, size_t *outlen);

#endif
