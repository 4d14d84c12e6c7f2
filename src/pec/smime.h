/*
 * smime.h - verification of a detached CMS (PKCS#7) signature over the
 * exact bytes of a multipart/signed entity, with OpenSSL.
 *
 * Trust is not decided here: no certificate chain is built.  The caller
 * learns who signed (the signer certificate) and whether the bytes are
 * those that were signed, and looks the signer up in the providers' index.
 */
#ifndef PG_PEC_SMIME_H
#define PG_PEC_SMIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "pecguard.h"
#include "util/arena.h"

typedef enum pg_sig_status {
	PG_SIG_OK = 0,
	PG_SIG_UNREADABLE,      /* not DER CMS, not SignedData, or not detached */
	PG_SIG_NO_SIGNER,       /* no SignerInfo, or no certificate for it */
	PG_SIG_DIGEST_MISMATCH, /* the content is not what was signed */
	PG_SIG_INVALID          /* the signature value does not verify */
} pg_sig_status;

typedef struct pg_sig_result {
	pg_sig_status status;
	X509 *signer;           /* the signer's certificate (freed with the arena), or NULL */
	unsigned char sha1[20]; /* SHA-1 of the signer certificate's DER, if signer */
	int64_t signing_time;   /* CMS signingTime attribute, or -1 */
	const char *digest;     /* digest algorithm short name ("SHA256"), or NULL */
	const char *form;       /* bytes that verified: "crlf" (canonical) or "binary" */
	size_t nbytes;          /* length of the verified bytes */
	char detail[256];       /* what went wrong, for reasons */
} pg_sig_result;

/* Verifies the DER signature sig over content.  The content is tried in its
 * canonical form (bare LF turned into CRLF, as SMTP transmits it), then as
 * it is.  extra holds certificates to search for the signer when the CMS
 * does not embed it (the index's).  Returns PG_OK with the outcome in *out,
 * or PG_ERR_NOMEM. */
pg_status pg_smime_verify_detached(pg_arena *a, const void *content, size_t clen, const void *sig,
				   size_t slen, STACK_OF(X509) * extra, pg_sig_result *out) PG_WUR;

/* Validity of a certificate as UTC seconds; -1 on failure. */
int64_t pg_x509_not_before(const X509 *x);
int64_t pg_x509_not_after(const X509 *x);
/* SHA-1 of the DER of a certificate. */
int pg_x509_sha1(const X509 *x, unsigned char out[20]);
/* One-line subject ("CN=...,O=...,C=IT") into the arena. */
const char *pg_x509_subject(pg_arena *a, const X509 *x);

#endif
