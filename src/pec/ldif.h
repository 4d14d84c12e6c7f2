/*
 * ldif.h - LDIF content records (RFC 2849), parsed from memory.
 *
 * No I/O and no URL values: a ":<" value (a reference to an external file
 * or URL) is an error, never fetched.  Folded lines, comments, base64
 * values ("::"), attribute options (";binary") and "version:" are handled.
 * Every error names the line.
 */
#ifndef PG_PEC_LDIF_H
#define PG_PEC_LDIF_H

#include <stddef.h>

#include "pecguard.h"
#include "util/arena.h"

typedef struct pg_ldif_attr {
	const char *name;           /* attribute type as written, without options */
	const char *options;        /* ";"-joined options ("binary"), or NULL */
	const unsigned char *value; /* NUL-terminated for convenience; may hold NULs */
	size_t len;
	unsigned line; /* line where the attribute starts (1-based) */
} pg_ldif_attr;

typedef struct pg_ldif_entry {
	const char *dn;
	unsigned line; /* line of the "dn:" */
	pg_ldif_attr *attrs;
	size_t nattrs;
} pg_ldif_entry;

typedef struct pg_ldif {
	pg_ldif_entry *entries;
	size_t nentries;
} pg_ldif;

/* Parses data into *out, allocated in arena a.  On error returns PG_ERR_PARSE
 * (or PG_ERR_NOMEM) and writes "LINE: message" into err. */
pg_status pg_ldif_parse(pg_arena *a, const char *data, size_t len, pg_ldif **out, char *err,
			size_t errlen) PG_WUR;

/* Case-insensitive attribute type comparison helper: the first attribute
 * named name in e, or NULL; *from is where to resume (may be NULL). */
const pg_ldif_attr *pg_ldif_find(const pg_ldif_entry *e, const char *name, size_t *from);

#endif
