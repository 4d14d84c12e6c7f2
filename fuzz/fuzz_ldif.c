/*
 * fuzz_ldif.c - the providers' index loader (and so the LDIF parser) on
 * arbitrary bytes.
 *
 * Besides loading, every lookup the scans make is run on what loaded, so
 * that an index the loader accepts is also one the lookups can walk.
 */
#include <stddef.h>
#include <stdint.h>

#include "pec/providers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pg_providers *p = NULL;
	char err[256];
	if (pg_providers_load((const char *)data, size, "fuzz.ldif", &p, err, sizeof(err)) != PG_OK)
		return 0;
	for (size_t i = 0; i < pg_providers_count(p); i++) {
		const pg_provider *pv = pg_providers_get(p, i);
		for (size_t k = 0; k < pv->nhashes; k++)
			if (pg_providers_find_sha1(p, pv->hashes[k]) != pv)
				__builtin_trap(); /* a listed hash must find its provider */
		for (size_t k = 0; k < pv->ndomains; k++)
			if (!pg_provider_manages(pv, pv->domains[k]))
				__builtin_trap();
	}
	(void)sk_X509_num(pg_providers_certs(p));
	/* A second reference, dropped first: the last unref frees. */
	pg_providers_unref(pg_providers_ref(p));
	pg_providers_unref(p);
	return 0;
}
