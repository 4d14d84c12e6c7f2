/*
 * classify.h - what a message is in the PEC world, with proof.
 *
 * A message is valid PEC (envelope, receipt, anomaly) only when every
 * check holds: top-level multipart/signed with a detached CMS signature
 * that verifies over the exact bytes; a signer listed in the providers'
 * index and valid at the verification time; daticert.xml present (an
 * anomaly may lack it), well-formed and consistent with the headers;
 * postacert.eml in an envelope; the sender's domain managed by the signer.
 * A message with PEC markers that fails any check is invalid-pec, with a
 * reason naming the check; a message without markers is peo.
 *
 * Reasons are strings "code: detail"; the codes are stable (docs/CLASSES.md).
 */
#ifndef PG_PEC_CLASSIFY_H
#define PG_PEC_CLASSIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "mime/msg.h"
#include "pec/daticert.h"
#include "pec/providers.h"
#include "pec/smime.h"
#include "pecguard.h"

typedef struct pg_reasons {
	const char **v;
	size_t n, cap;
	pg_arena *a;
} pg_reasons;

/* Appends "code" or "code: detail" (printf-style detail, may be NULL). */
pg_status pg_reasons_add(pg_reasons *r, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4))) PG_WUR;
/* Does some reason start with code (followed by ':' or the end)? */
bool pg_reasons_has(const pg_reasons *r, const char *code);

typedef struct pg_classification {
	pg_class cls;
	const char *pec_type;               /* valid classes: X-Trasporto / X-Ricevuta */
	pg_class claimed;                   /* invalid-pec: what the markers claim */
	const char *claimed_type;           /* may be NULL */
	const pg_provider *provider;        /* valid classes: the signer's provider */
	const pg_provider *signer_provider; /* any class: the signer's index entry, or NULL */
	const pg_msg *inner;                /* valid classes: postacert.eml, or NULL */
	bool have_sig;
	pg_sig_result sig;
	const char *signer_subject;  /* or NULL */
	const pg_daticert *daticert; /* or NULL */
	int64_t verified_at;         /* time the certificate was checked at, or -1 */
	pg_reasons reasons;
} pg_classification;

/* Classifies a parsed message.  now is the current time; mode and at as in
 * pg_scan_set_time().  Returns PG_OK or PG_ERR_NOMEM. */
pg_status pg_classify(pg_arena *a, const pg_msg *m, pg_providers *idx, pg_time_mode mode,
		      int64_t at, int64_t now, pg_classification *out) PG_WUR;

/* The safe verdict for a message that could not be parsed (a limit was
 * hit): invalid-pec when its header block carries PEC markers, else peo;
 * never a valid PEC class.  why is added as a "limit-exceeded" reason. */
pg_status pg_classify_unparsed(pg_arena *a, const char *data, size_t len, pg_status why,
			       const char *errmsg, pg_classification *out) PG_WUR;

#endif
