/*
 * policymap.h - the per-mailbox policy map: which mailboxes take mail from
 * the PEC circuit only.
 *
 * A text file, one entry per line, "KEY POLICY", '#' comments:
 *     mario.rossi@pec.comune.example.it   pec-only
 *     @pec.tribunale.example.it           pec-only   (every mailbox of the domain)
 *     pec.tribunale.example.it            pec-only   (the same)
 *     protocollo@pec.tribunale.example.it accept     (an exception)
 * POLICY is "accept" (the default for mailboxes not listed) or "pec-only".
 * Lookup: the exact address, then its domain.  Case-insensitive.
 */
#ifndef PG_ENGINE_POLICYMAP_H
#define PG_ENGINE_POLICYMAP_H

#include <stddef.h>

#include "pecguard.h"

typedef struct pg_policymap pg_policymap;

/* Parses a map file; PG_ERR_CONFIG with "FILE:LINE: message" in err. */
pg_status pg_policymap_load(const char *path, pg_policymap **out, char *err, size_t errlen) PG_WUR;
pg_status pg_policymap_parse(const char *text, size_t len, const char *name, pg_policymap **out,
			     char *err, size_t errlen) PG_WUR;
void pg_policymap_free(pg_policymap *m);
size_t pg_policymap_count(const pg_policymap *m);
/* The characters that start an address extension (Postfix's
 * recipient_delimiter, e.g. "+"); "" for none. */
void pg_policymap_set_delimiters(pg_policymap *m, const char *delims);
/* The policy of a recipient address ("<a@b>" brackets allowed), as the map
 * keys it: the exact address, then without its extension, then its domain.
 * Case, quoting of the local part and a trailing dot do not matter. */
pg_mailbox_policy pg_policymap_lookup(const pg_policymap *m, const char *rcpt);

#endif
