/*
 * daticert.h - the certification data of a PEC message (daticert.xml).
 *
 * Parsed with libxml2 with network access, external DTD loading and entity
 * substitution off; UTF-8 and UTF-16 (with BOM) are accepted.  The DTD is
 * in annex 7.3.3 of the technical rules (see docs/PEC.md).
 */
#ifndef PG_PEC_DATICERT_H
#define PG_PEC_DATICERT_H

#include <stddef.h>
#include <stdint.h>

#include "pecguard.h"
#include "util/arena.h"

typedef struct pg_daticert_dest {
	const char *addr;
	const char *tipo; /* "certificato" | "esterno" (as written) */
} pg_daticert_dest;

typedef struct pg_daticert {
	const char *tipo;       /* postacert/@tipo (required) */
	const char *errore;     /* postacert/@errore, default "nessuno" */
	const char *mittente;   /* intestazione/mittente */
	pg_daticert_dest *dest; /* intestazione/destinatari */
	size_t ndest;
	const char *risposte;       /* intestazione/risposte or NULL */
	const char *oggetto;        /* intestazione/oggetto or NULL */
	const char *gestore;        /* dati/gestore-emittente */
	const char *zona;           /* dati/data/@zona */
	const char *giorno;         /* dati/data/giorno (gg/mm/aaaa) */
	const char *ora;            /* dati/data/ora (hh:mm:ss) */
	int64_t time;               /* giorno+ora+zona as UTC seconds, or -1 */
	const char *identificativo; /* dati/identificativo */
	const char *msgid;          /* dati/msgid or NULL (entities decoded) */
	const char *ricevuta;       /* dati/ricevuta/@tipo or NULL */
	const char *consegna;       /* dati/consegna or NULL */
	const char *errore_esteso;  /* dati/errore-esteso or NULL */
} pg_daticert;

/* Parses daticert.xml.  Strings are UTF-8, trimmed, owned by arena a.
 * On error returns PG_ERR_PARSE (or PG_ERR_NOMEM) with a message in err
 * ("not well-formed XML at line 3: ...", "missing intestazione/mittente",
 * "postacert/@tipo 'foo' is not a known type"). */
pg_status pg_daticert_parse(pg_arena *a, const void *data, size_t len, pg_daticert **out, char *err,
			    size_t errlen) PG_WUR;

/* Is t one of the postacert/@tipo values of the DTD? */
int pg_daticert_tipo_known(const char *t);

#endif
