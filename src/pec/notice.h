/*
 * notice.h - the avviso di rilevazione virus: the PEC notice a reception
 * point sends the sending provider when an envelope carries a virus.
 *
 * The envelope is not delivered and is kept; the recipient's provider
 * (us) tells the sender's provider, which turns the notice into a
 * "mancata consegna per virus" for its user (docs PEC.md §2 and §4).  The
 * notice is a PEC receipt signed by us: top-level multipart/signed
 * (application/pkcs7-signature, a detached CMS SignedData over the exact
 * bytes of the signed entity) around a multipart/mixed of a human-readable
 * text and daticert.xml (postacert tipo="rilevazione-virus" errore="virus").
 *
 * This module only writes bytes: no I/O, no engine.  The signing key and
 * certificate are loaded once (pg_notice_key_load) and shared read-only.
 */
#ifndef PG_PEC_NOTICE_H
#define PG_PEC_NOTICE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "pec/daticert.h"
#include "pecguard.h"

typedef struct pg_notice_key pg_notice_key;

/* Loads a PEM certificate and its PEM private key and checks that they
 * belong together.  On success *out owns them (pg_notice_key_free).  On
 * failure PG_ERR_CONFIG (or PG_ERR_NOMEM) with the file and the reason in
 * err. */
pg_status pg_notice_key_load(const char *cert_path, const char *key_path, pg_notice_key **out,
			     char *err, size_t errlen) PG_WUR;
void pg_notice_key_free(pg_notice_key *k);
/* The signing certificate (borrowed: valid while k is), to find our own
 * entry in the providers' index. */
X509 *pg_notice_key_cert(const pg_notice_key *k);

/* What the notice says.  Strings are UTF-8 and borrowed for the call;
 * control characters and invalid UTF-8 are replaced before they reach a
 * header field or the XML. */
typedef struct pg_notice_in {
	const char *gestore;         /* dati/gestore-emittente: our providerName */
	const char *from;            /* From: posta-certificata@<our PEC domain> */
	const char *to;              /* To: the sending provider's mailReceipt */
	const char *mittente;        /* intestazione/mittente: the original sender */
	const pg_daticert_dest *dest; /* intestazione/destinatari (tipo NULL: certificato) */
	size_t ndest;
	const char *risposte;         /* intestazione/risposte, or NULL */
	const char *oggetto;          /* the original subject, or NULL */
	const char *msgid;            /* dati/msgid, X-Riferimento-Message-ID */
	const char *virus;            /* dati/errore-esteso: the virus found */
	const char *const *held;      /* the recipients the envelope was held for, or NULL */
	size_t nheld;                 /* one: also dati/consegna */
	int64_t now;                  /* the time of the notice (UTC seconds) */
	const char *ident;            /* dati/identificativo and Message-ID; NULL: made up */
} pg_notice_in;

/* A new identificativo (also the notice's Message-ID, without brackets):
 * unique without state, the time and 64 random bits, at the domain of
 * from.  -1 when no random bytes could be had or n is too small. */
int pg_notice_ident(const char *from, int64_t now, char *out, size_t n);

/* Writes and signs the notice.  On success *out is a malloc'd message
 * with CRLF line ends (the caller frees it) of *len bytes.  On failure
 * PG_ERR_INVALID (a required field missing), PG_ERR_NOMEM or PG_ERR_IO
 * (signing failed), with the reason in err; *out untouched. */
pg_status pg_notice_build(const pg_notice_key *k, const pg_notice_in *in, char **out, size_t *len,
			  char *err, size_t errlen) PG_WUR;

#endif
