/*
 * providers.c - the providers' index (RFC 6109 schema) as a trust store.
 *
 * The LDIF is parsed into a scratch arena that is thrown away once the
 * index is built: the index keeps its own arena with only what it serves,
 * because it lives as long as the process (or until the next reload).
 *
 * Trust rests on providerCertificateHash, so the loader is strict about it:
 * every hash must be a well-formed SHA-1, the certificates an entry carries
 * must agree with its hashes as sets (LDAP keeps no value order, so values
 * are never paired by position), and a hash listed by two providers makes
 * the whole index unusable, since the signer's identity would be ambiguous.
 * A bad index is refused as a whole, so that a reload keeps the old one.
 */
#include "pec/providers.h"

#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "pec/ldif.h"
#include "util/arena.h"
#include "util/str.h"

/* One providerCertificateHash value, for lookups by SHA-1. */
typedef struct sha1_slot {
	unsigned char sha1[20];
	const pg_provider *prov;
	unsigned line;
} sha1_slot;

struct pg_providers {
	atomic_size_t refs;
	pg_arena *arena; /* everything below, and the X509s through destructors */
	pg_provider *provs;
	size_t nprovs;
	sha1_slot *slots; /* sorted by sha1: bsearch */
	size_t nslots;
	STACK_OF(X509) * certs; /* every certificate, one reference each */
};

/* The state of one load, to keep argument lists short. */
typedef struct loader {
	const char *name; /* of the index, for messages */
	char *err;
	size_t errlen;
	pg_providers *p;
	pg_arena *scratch;           /* freed at the end of the load */
	const unsigned **hash_lines; /* per provider: the line of each hash */
} loader;

static pg_status load_fail(loader *L, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static pg_status load_fail(loader *L, unsigned line, const char *fmt, ...)
{
	if (L->err != NULL && L->errlen > 0) {
		int n = snprintf(L->err, L->errlen, "%s:%u: ", L->name, line);
		if (n >= 0 && (size_t)n < L->errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(L->err + n, L->errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return PG_ERR_INDEX;
}

static pg_status load_nomem(loader *L)
{
	if (L->err != NULL && L->errlen > 0)
		snprintf(L->err, L->errlen, "%s: out of memory", L->name);
	return PG_ERR_NOMEM;
}

/* A copy of s fit for an error message: control characters (which could
 * forge log lines) and bytes that are not UTF-8 (a dn is not checked)
 * become '?', and long strings are cut between characters. */
static const char *display(const char *s, char *buf, size_t size)
{
	size_t o = 0, i = 0, n = strlen(s);
	while (i < n && o + 4 + 4 < size) { /* room for one character, "...", NUL */
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
		if (len > n - i || !pg_utf8_valid(s + i, len)) {
			buf[o++] = '?';
			i++;
		} else if (len == 1 && (c < 0x20 || c == 0x7F)) {
			buf[o++] = '?';
			i++;
		} else {
			memcpy(buf + o, s + i, len);
			o += len;
			i += len;
		}
	}
	if (i < n) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

static void free_x509(void *x)
{
	X509_free(x);
}

static void free_x509_stack(void *sk)
{
	sk_X509_pop_free(sk, X509_free);
}

static void providers_destroy(pg_providers *p)
{
	pg_arena_free(p->arena);
	free(p);
}

/* A new index with no providers; NULL when out of memory. */
static pg_providers *providers_alloc(void)
{
	pg_providers *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	atomic_init(&p->refs, 1);
	p->arena = pg_arena_new();
	if (p->arena == NULL) {
		free(p);
		return NULL;
	}
	/* An empty stack rather than NULL, so that callers can hand it to
	 * OpenSSL as it is. */
	p->certs = sk_X509_new_null();
	if (p->certs == NULL || pg_arena_defer(p->arena, free_x509_stack, p->certs) != 0) {
		providers_destroy(p);
		return NULL;
	}
	return p;
}

pg_status pg_providers_new_empty(pg_providers **out)
{
	pg_providers *p = providers_alloc();
	if (p == NULL)
		return PG_ERR_NOMEM;
	*out = p;
	return PG_OK;
}

pg_providers *pg_providers_ref(pg_providers *p)
{
	if (p != NULL)
		atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
	return p;
}

void pg_providers_unref(pg_providers *p)
{
	if (p == NULL)
		return;
	/* Release on every drop and acquire before freeing: the thread that
	 * frees must see every other thread's last reads as finished. */
	if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_release) == 1) {
		atomic_thread_fence(memory_order_acquire);
		providers_destroy(p);
	}
}

/* ---- one provider entry ------------------------------------------------ */

static bool entry_is_provider(const pg_ldif_entry *e)
{
	size_t it = 0;
	const pg_ldif_attr *a;
	while ((a = pg_ldif_find(e, "objectClass", &it)) != NULL) {
		size_t n;
		const char *v = pg_trim((const char *)a->value, &n);
		if (n == 8 && pg_strneq_ci(v, "provider", 8))
			return true;
	}
	return false;
}

/* Checks a text value and copies it, trimmed, into the index's arena. */
static pg_status copy_text(loader *L, const pg_ldif_attr *a, const char **out)
{
	/* Values are C strings from here on: a NUL (possible through base64)
	 * would cut them silently, and they end up in logs and JSON. */
	if (memchr(a->value, '\0', a->len) != NULL)
		return load_fail(L, a->line, "%s: contains a NUL byte", a->name);
	if (!pg_utf8_valid((const char *)a->value, a->len))
		return load_fail(L, a->line, "%s: not valid UTF-8", a->name);
	size_t n;
	const char *v = pg_trim((const char *)a->value, &n);
	if (n == 0)
		return load_fail(L, a->line, "%s: empty value", a->name);
	char *s = pg_arena_strndup(L->p->arena, v, n);
	if (s == NULL)
		return load_nomem(L);
	*out = s;
	return PG_OK;
}

/* The text of attribute type in e: the first value, or with single set,
 * the only one (a second is an error).  *out stays NULL when absent. */
static pg_status get_text(loader *L, const pg_ldif_entry *e, const char *type, bool single,
			  const char **out)
{
	size_t it = 0;
	const pg_ldif_attr *a = pg_ldif_find(e, type, &it);
	*out = NULL;
	if (a == NULL)
		return PG_OK;
	const pg_ldif_attr *again = single ? pg_ldif_find(e, type, &it) : NULL;
	if (again != NULL)
		return load_fail(L, again->line, "%s: a second value (the first is at line %u)",
				 again->name, a->line);
	return copy_text(L, a, out);
}

static pg_status missing(loader *L, const pg_ldif_entry *e, const char *who, const char *type)
{
	char buf[96];
	return load_fail(L, e->line, "provider entry '%s': missing %s",
			 display(who, buf, sizeof(buf)), type);
}

/* managedDomains value: trimmed, lower-case, without the trailing dot of an
 * absolute name, and shaped like a domain (no blanks, no '@', no empty
 * label), since it is compared with the domains of addresses. */
static pg_status get_domain(loader *L, const pg_ldif_attr *a, const char **out)
{
	const char *d = NULL;
	pg_status st = copy_text(L, a, &d);
	if (st != PG_OK)
		return st;
	char *s = (char *)d; /* our own copy */
	size_t n = strlen(s);
	if (n > 1 && s[n - 1] == '.')
		s[--n] = '\0';
	pg_strlower(s);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		bool label_start = i == 0 || s[i - 1] == '.';
		if (c <= 0x20 || c == 0x7F || c == '@' || c == '/' || c == '\\' ||
		    (c == '.' && label_start))
			return load_fail(L, a->line, "%s: not a domain name", a->name);
	}
	/* "a.." would keep a final dot and never match what is looked up. */
	if (n == 0 || s[n - 1] == '.')
		return load_fail(L, a->line, "%s: not a domain name", a->name);
	*out = s;
	return PG_OK;
}

static void hex_sha1(const unsigned char sha1[20], char out[60])
{
	pg_hex_upper(sha1, 20, out, true);
}

/* Parses the certificate of a, takes its SHA-1, and hands the X509 to the
 * index (its arena frees it; the stack of all certificates holds a second
 * reference). */
static pg_status get_cert(loader *L, const pg_ldif_attr *a, X509 **out, unsigned char sha1[20])
{
	if (a->options != NULL && !pg_streq_ci(a->options, "binary"))
		return load_fail(L, a->line, "%s;%s: unsupported attribute option (only ;binary)",
				 a->name, a->options);
	if (a->len == 0)
		return load_fail(L, a->line, "%s: empty value", a->name);
	if (a->len > LONG_MAX)
		return load_fail(L, a->line, "%s: too long", a->name);
	const unsigned char *der = a->value;
	X509 *x = d2i_X509(NULL, &der, (long)a->len);
	if (x == NULL) {
		/* Keep the thread's OpenSSL error queue clean for the caller. */
		ERR_clear_error();
		return load_fail(L, a->line, "%s: not a DER X.509 certificate", a->name);
	}
	if (der != a->value + a->len) {
		X509_free(x);
		return load_fail(L, a->line, "%s: %zu bytes after the DER certificate", a->name,
				 (size_t)(a->value + a->len - der));
	}
	if (pg_arena_defer(L->p->arena, free_x509, x) != 0)
		return load_nomem(L);
	/* The digest is what a signer's certificate will be looked up by. */
	unsigned int mdlen = 0;
	if (!X509_digest(x, EVP_sha1(), sha1, &mdlen) || mdlen != 20) {
		ERR_clear_error();
		return load_fail(L, a->line, "%s: cannot compute the SHA-1", a->name);
	}
	if (!X509_up_ref(x))
		return load_nomem(L);
	if (sk_X509_push(L->p->certs, x) <= 0) {
		X509_free(x);
		return load_nomem(L);
	}
	*out = x;
	return PG_OK;
}

static size_t count_type(const pg_ldif_entry *e, const char *type)
{
	size_t n = 0, it = 0;
	while (pg_ldif_find(e, type, &it) != NULL)
		n++;
	return n;
}

static bool sha1_in(const unsigned char (*set)[20], size_t n, const unsigned char sha1[20])
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(set[i], sha1, 20) == 0)
			return true;
	return false;
}

/* Builds pv from e; *lines_out gets the line of each of pv->hashes. */
static pg_status provider_build(loader *L, const pg_ldif_entry *e, pg_provider *pv,
				const unsigned **lines_out)
{
	pg_arena *ar = L->p->arena;
	pg_status st;
	const pg_ldif_attr *a;
	size_t n, it;

	memset(pv, 0, sizeof(*pv));
	pv->line = e->line;
	if ((st = get_text(L, e, "providerName", true, &pv->name)) != PG_OK)
		return st;
	if (pv->name == NULL)
		return missing(L, e, e->dn, "providerName");
	if ((st = get_text(L, e, "mailReceipt", true, &pv->mail_receipt)) != PG_OK ||
	    (st = get_text(L, e, "providerUnit", false, &pv->unit)) != PG_OK ||
	    (st = get_text(L, e, "description", false, &pv->description)) != PG_OK ||
	    (st = get_text(L, e, "LDIFLocationURL", false, &pv->ldif_url)) != PG_OK)
		return st;

	/* managedDomains, 1+ */
	if ((n = count_type(e, "managedDomains")) > 0) {
		const char **doms = pg_arena_calloc(ar, n, sizeof(*doms));
		if (doms == NULL)
			return load_nomem(L);
		it = 0;
		while ((a = pg_ldif_find(e, "managedDomains", &it)) != NULL)
			if ((st = get_domain(L, a, &doms[pv->ndomains++])) != PG_OK)
				return st;
		pv->domains = doms;
	}

	/* providerCertificateHash, 1+; a value repeated in one entry is harmless
	 * and kept once.  Lines (scratch) serve the messages. */
	unsigned *hash_lines = NULL;
	if ((n = count_type(e, "providerCertificateHash")) > 0) {
		unsigned char(*hashes)[20] = pg_arena_calloc(ar, n, sizeof(*hashes));
		hash_lines = pg_arena_calloc(L->scratch, n, sizeof(*hash_lines));
		if (hashes == NULL || hash_lines == NULL)
			return load_nomem(L);
		it = 0;
		while ((a = pg_ldif_find(e, "providerCertificateHash", &it)) != NULL) {
			unsigned char h[20];
			if (memchr(a->value, '\0', a->len) != NULL ||
			    pg_parse_sha1((const char *)a->value, a->len, h) != 0)
				return load_fail(L, a->line,
						 "%s: not a SHA-1 (40 hex digits, colons optional)",
						 a->name);
			if (sha1_in((const unsigned char(*)[20])hashes, pv->nhashes, h))
				continue;
			memcpy(hashes[pv->nhashes], h, 20);
			hash_lines[pv->nhashes++] = a->line;
		}
		pv->hashes = (const unsigned char(*)[20])hashes;
		*lines_out = hash_lines;
	}

	/* Required attributes, reported at the dn line. */
	if (pv->nhashes == 0)
		return missing(L, e, pv->name, "providerCertificateHash");
	if (pv->mail_receipt == NULL)
		return missing(L, e, pv->name, "mailReceipt");
	if (pv->ndomains == 0)
		return missing(L, e, pv->name, "managedDomains");

	/* providerCertificate, 0+.  With certificates present, hashes and
	 * certificates must be the same set: a certificate without its hash is
	 * a mistake in the index, and a hash without its certificate would trust
	 * something nobody can inspect. */
	if ((n = count_type(e, "providerCertificate")) == 0)
		return PG_OK;
	pv->certs = pg_arena_calloc(ar, n, sizeof(*pv->certs));
	unsigned char(*cert_sha1)[20] = pg_arena_calloc(L->scratch, n, sizeof(*cert_sha1));
	if (pv->certs == NULL || cert_sha1 == NULL)
		return load_nomem(L);
	it = 0;
	while ((a = pg_ldif_find(e, "providerCertificate", &it)) != NULL) {
		if ((st = get_cert(L, a, &pv->certs[pv->ncerts], cert_sha1[pv->ncerts])) != PG_OK)
			return st;
		if (!sha1_in(pv->hashes, pv->nhashes, cert_sha1[pv->ncerts])) {
			char hex[60];
			hex_sha1(cert_sha1[pv->ncerts], hex);
			return load_fail(L, a->line,
					 "%s: certificate SHA-1 %s is not among the entry's "
					 "providerCertificateHash values",
					 a->name, hex);
		}
		pv->ncerts++;
	}
	for (size_t i = 0; i < pv->nhashes; i++) {
		if (!sha1_in((const unsigned char(*)[20])cert_sha1, pv->ncerts, pv->hashes[i])) {
			char hex[60];
			hex_sha1(pv->hashes[i], hex);
			return load_fail(L, hash_lines[i],
					 "providerCertificateHash: %s matches none of the entry's "
					 "providerCertificate values",
					 hex);
		}
	}
	return PG_OK;
}

/* ---- the index ----------------------------------------------------------- */

static int slot_cmp(const void *a, const void *b)
{
	const sha1_slot *x = a, *y = b;
	int c = memcmp(x->sha1, y->sha1, 20);
	if (c != 0)
		return c;
	return (x->line > y->line) - (x->line < y->line);
}

/* Sorts every hash for bsearch and refuses a hash claimed by two providers
 * (within one provider they were made unique already). */
static pg_status index_hashes(loader *L)
{
	pg_providers *p = L->p;
	size_t n = 0;
	for (size_t i = 0; i < p->nprovs; i++)
		n += p->provs[i].nhashes;
	p->slots = pg_arena_calloc(p->arena, n, sizeof(*p->slots));
	if (p->slots == NULL)
		return load_nomem(L);
	for (size_t i = 0; i < p->nprovs; i++) {
		const pg_provider *pv = &p->provs[i];
		for (size_t k = 0; k < pv->nhashes; k++) {
			sha1_slot *s = &p->slots[p->nslots++];
			memcpy(s->sha1, pv->hashes[k], 20);
			s->prov = pv;
			s->line = L->hash_lines[i][k];
		}
	}
	qsort(p->slots, p->nslots, sizeof(*p->slots), slot_cmp);
	for (size_t i = 1; i < p->nslots; i++) {
		if (memcmp(p->slots[i - 1].sha1, p->slots[i].sha1, 20) != 0)
			continue;
		char hex[60], who[96], other[96];
		hex_sha1(p->slots[i].sha1, hex);
		return load_fail(
			L, p->slots[i].line,
			"providerCertificateHash: %s of provider entry '%s' is also listed by "
			"'%s' (line %u): ambiguous trust",
			hex, display(p->slots[i].prov->name, who, sizeof(who)),
			display(p->slots[i - 1].prov->name, other, sizeof(other)),
			p->slots[i - 1].line);
	}
	return PG_OK;
}

static pg_status providers_build(loader *L, const pg_ldif *ldif)
{
	pg_providers *p = L->p;
	size_t n = 0;
	for (size_t i = 0; i < ldif->nentries; i++)
		n += entry_is_provider(&ldif->entries[i]);
	if (n == 0)
		return load_fail(L, 1, "objectClass: no provider entries (objectClass: provider)");
	p->provs = pg_arena_calloc(p->arena, n, sizeof(*p->provs));
	L->hash_lines = pg_arena_calloc(L->scratch, n, sizeof(*L->hash_lines));
	if (p->provs == NULL || L->hash_lines == NULL)
		return load_nomem(L);
	for (size_t i = 0; i < ldif->nentries; i++) {
		const pg_ldif_entry *e = &ldif->entries[i];
		if (!entry_is_provider(e))
			continue;
		pg_status st =
			provider_build(L, e, &p->provs[p->nprovs], &L->hash_lines[p->nprovs]);
		if (st != PG_OK)
			return st;
		p->nprovs++;
	}
	return index_hashes(L);
}

pg_status pg_providers_load(const char *data, size_t len, const char *name, pg_providers **out,
			    char *err, size_t errlen)
{
	loader L = {.name = name != NULL ? name : "index", .err = err, .errlen = errlen};
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (out == NULL || (data == NULL && len > 0)) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: invalid arguments", L.name);
		return PG_ERR_INVALID;
	}

	pg_arena *scratch = L.scratch = pg_arena_new();
	if (scratch == NULL)
		return load_nomem(&L);
	pg_ldif *ldif = NULL;
	char lerr[256];
	pg_status st = pg_ldif_parse(scratch, data, len, &ldif, lerr, sizeof(lerr));
	if (st == PG_ERR_NOMEM) {
		st = load_nomem(&L);
	} else if (st != PG_OK) {
		/* lerr is "LINE: message" already. */
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s:%s", L.name, lerr);
		st = PG_ERR_INDEX;
	} else if ((L.p = providers_alloc()) == NULL) {
		st = load_nomem(&L);
	} else {
		st = providers_build(&L, ldif);
		if (st != PG_OK) {
			pg_providers_unref(L.p);
			L.p = NULL;
		}
	}
	pg_arena_free(scratch);
	if (st == PG_OK)
		*out = L.p;
	return st;
}

size_t pg_providers_count(const pg_providers *p)
{
	return p != NULL ? p->nprovs : 0;
}

const pg_provider *pg_providers_get(const pg_providers *p, size_t i)
{
	return p != NULL && i < p->nprovs ? &p->provs[i] : NULL;
}

static int slot_key_cmp(const void *key, const void *elem)
{
	return memcmp(key, ((const sha1_slot *)elem)->sha1, 20);
}

const pg_provider *pg_providers_find_sha1(const pg_providers *p, const unsigned char sha1[20])
{
	if (p == NULL || sha1 == NULL || p->nslots == 0)
		return NULL;
	const sha1_slot *s = bsearch(sha1, p->slots, p->nslots, sizeof(*p->slots), slot_key_cmp);
	return s != NULL ? s->prov : NULL;
}

bool pg_provider_manages(const pg_provider *prov, const char *domain)
{
	if (prov == NULL || domain == NULL)
		return false;
	size_t n = strlen(domain);
	if (n > 1 && domain[n - 1] == '.')
		n--;
	for (size_t i = 0; i < prov->ndomains; i++) {
		const char *d = prov->domains[i];
		if (strlen(d) == n && pg_strneq_ci(d, domain, n))
			return true;
	}
	return false;
}

STACK_OF(X509) * pg_providers_certs(const pg_providers *p)
{
	return p != NULL ? p->certs : NULL;
}
