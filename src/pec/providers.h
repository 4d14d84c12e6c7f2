/*
 * providers.h - the public index of PEC providers: the trust store.
 *
 * Loaded from LDIF in the RFC 6109 schema (object class "provider":
 * providerName, providerCertificateHash, providerCertificate;binary,
 * mailReceipt, managedDomains, providerUnit, description, LDIFLocationURL).
 * A certificate is trusted because the index lists its SHA-1; no chain is
 * built.  An index is immutable once loaded and reference-counted, so a
 * reload can replace it while scans still use the old one.
 */
#ifndef PG_PEC_PROVIDERS_H
#define PG_PEC_PROVIDERS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509.h>

#include "pecguard.h"

typedef struct pg_provider {
	const char *name;         /* providerName */
	const char *unit;         /* providerUnit or NULL */
	const char *description;  /* description or NULL */
	const char *mail_receipt; /* mailReceipt */
	const char *ldif_url;     /* LDIFLocationURL or NULL */
	const char **domains;     /* managedDomains, lower-case */
	size_t ndomains;
	const unsigned char (*hashes)[20]; /* providerCertificateHash values */
	size_t nhashes;
	X509 **certs; /* providerCertificate;binary values */
	size_t ncerts;
	unsigned line; /* line of the entry's dn */
} pg_provider;

typedef struct pg_providers pg_providers;

/* An index with no providers (the state of a new engine). */
pg_status pg_providers_new_empty(pg_providers **out) PG_WUR;
/* Loads an index from LDIF.  name is used in messages ("index.ldif").
 * On error returns PG_ERR_INDEX (or PG_ERR_NOMEM) and writes
 * "NAME:LINE: ATTRIBUTE: what is wrong" into err; *out is untouched. */
pg_status pg_providers_load(const char *data, size_t len, const char *name, pg_providers **out,
			    char *err, size_t errlen) PG_WUR;
pg_providers *pg_providers_ref(pg_providers *p);
void pg_providers_unref(pg_providers *p);

size_t pg_providers_count(const pg_providers *p);
const pg_provider *pg_providers_get(const pg_providers *p, size_t i);
/* The provider listing this certificate SHA-1 among its hashes, or NULL. */
const pg_provider *pg_providers_find_sha1(const pg_providers *p, const unsigned char sha1[20]);
/* Is domain (any case, trailing dot ignored) among the provider's managedDomains? */
bool pg_provider_manages(const pg_provider *prov, const char *domain);
/* Every certificate of the index (borrowed; valid while p is), for finding
 * the signer of a CMS that does not embed its certificate. */
STACK_OF(X509) * pg_providers_certs(const pg_providers *p);

#endif
