/*
 * test_providers.c - the providers' index (src/pec/providers.c).
 *
 * Data:
 *   $PG_TEST_DATA/ldif/     small indexes of our own (good and bad ones),
 *                           built from two throw-away EC certificates
 *                           (prova-a.pem, prova-b.pem);
 *   the shared corpus       $PG_SHARED_DIR/corpus when PG_SHARED_DIR is set,
 *                           else $PG_TEST_DATA/../../../shared/corpus: the
 *                           test indexes in corpus/pec/fixtures/pki and
 *                           corpus/pec/real.  Tests that need it are skipped,
 *                           with a message, when it is absent.
 * Without PG_TEST_DATA (a test run by hand) the data directory is found
 * next to this source file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "pec/providers.h"
#include "util/str.h"
#include "slurp.h"

/* ---- helpers ------------------------------------------------------------- */

static void data_path(char *out, size_t n, const char *rel)
{
	const char *d = getenv("PG_TEST_DATA");
	if (d != NULL && *d != '\0') {
		snprintf(out, n, "%s/%s", d, rel);
		return;
	}
	/* __FILE__ is tests/unit/test_providers.c, as CMake passes it. */
	const char *file = __FILE__;
	const char *slash = strrchr(file, '/');
	int dirlen = slash != NULL ? (int)(slash - file) : 1;
	snprintf(out, n, "%.*s/../data/%s", dirlen, slash != NULL ? file : ".", rel);
}

static void shared_path(char *out, size_t n, const char *rel)
{
	const char *s = getenv("PG_SHARED_DIR");
	if (s != NULL && *s != '\0') {
		snprintf(out, n, "%s/corpus/%s", s, rel);
		return;
	}
	char base[4096];
	data_path(base, sizeof(base), "../../../shared/corpus");
	if (snprintf(out, n, "%s/%s", base, rel) >= (int)n)
		fail_msg("path too long: %s/%s", base, rel);
}

/* The whole file (malloc'd, NUL-terminated), or NULL when it cannot be read. */
/* Reads a shared file, or skips the test when it is not there. */
static char *read_shared(const char *rel, size_t *len)
{
	char path[4096];
	shared_path(path, sizeof(path), rel);
	char *data = slurp_file(path, len);
	if (data == NULL) {
		print_message("skipped: %s not found (set PG_SHARED_DIR)\n", path);
		skip();
	}
	return data;
}

static char *read_data(const char *rel, size_t *len)
{
	char path[4096];
	data_path(path, sizeof(path), rel);
	char *data = slurp_file(path, len);
	if (data == NULL)
		fail_msg("cannot read %s", path);
	return data;
}

static pg_providers *load_ok(const char *data, size_t len, const char *name)
{
	pg_providers *p = NULL;
	char err[512] = "";
	pg_status st = pg_providers_load(data, len, name, &p, err, sizeof(err));
	if (st != PG_OK)
		fail_msg("%s: unexpected error %d: %s", name, (int)st, err);
	assert_non_null(p);
	return p;
}

static pg_providers *load_data_ok(const char *rel)
{
	size_t len;
	char *data = read_data(rel, &len);
	pg_providers *p = load_ok(data, len, rel);
	free(data);
	return p;
}

/* Loading s must fail with PG_ERR_INDEX and exactly the message want, and
 * leave *out alone. */
static void load_fails(const char *s, size_t len, const char *name, const char *want)
{
	pg_providers *sentinel = (pg_providers *)&sentinel;
	pg_providers *p = sentinel;
	char err[512] = "";
	pg_status st = pg_providers_load(s, len, name, &p, err, sizeof(err));
	assert_int_equal(st, PG_ERR_INDEX);
	assert_ptr_equal(p, sentinel);
	assert_string_equal(err, want);
}

static void load_data_fails(const char *rel, const char *want)
{
	size_t len;
	char *data = read_data(rel, &len);
	const char *base = strrchr(rel, '/') + 1;
	load_fails(data, len, base, want);
	free(data);
}

static void sha1_of(const char *hex, unsigned char out[20])
{
	assert_int_equal(pg_parse_sha1(hex, strlen(hex), out), 0);
}

static const pg_provider *find_hex(const pg_providers *p, const char *hex)
{
	unsigned char h[20];
	sha1_of(hex, h);
	return pg_providers_find_sha1(p, h);
}

static X509 *read_pem(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		fail_msg("cannot read %s", path);
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		fail_msg("%s: not a PEM certificate", path);
	return x;
}

static void digest(X509 *x, unsigned char out[20])
{
	unsigned int n = 0;
	assert_true(X509_digest(x, EVP_sha1(), out, &n));
	assert_int_equal(n, 20);
}

/* A minimal provider entry in LDIF, with placeholders filled in by tests. */
#define HASH_A "F3:2A:F0:53:8A:67:FD:97:C2:BB:93:C5:B3:73:B3:49:0E:AA:D5:34"
#define HASH_B "95:82:43:BA:99:C0:8F:B5:C2:C1:DA:51:D5:20:4E:9B:58:8E:4A:F3"

static void load_str_fails(const char *s, const char *want)
{
	load_fails(s, strlen(s), "t.ldif", want);
}

static pg_providers *load_str_ok(const char *s)
{
	return load_ok(s, strlen(s), "t.ldif");
}

/* ---- the shared test indexes --------------------------------------------- */

static const char *const shared_names[] = {
	"Gestore Test Uno", "Gestore Test Due", "Gestore Test Tre",
	"ARUBA PEC S.p.A.", "Namirial S.p.A.",
};

/* Which provider the index must give for a certificate of fingerprints.tsv
 * (NULL: not in the index). */
static const char *expected_provider(const char *file)
{
	if (strcmp(file, "uno.pem") == 0)
		return "Gestore Test Uno";
	if (strcmp(file, "due.pem") == 0)
		return "Gestore Test Due";
	if (strcmp(file, "tre-expired.pem") == 0)
		return "Gestore Test Tre";
	if (strncmp(file, "real/aruba-", 11) == 0)
		return "ARUBA PEC S.p.A.";
	if (strncmp(file, "real/namirial-", 14) == 0)
		return "Namirial S.p.A.";
	return NULL; /* ca.pem, rogue-ca.pem, rogue.pem, selfsigned.pem */
}

static void check_shared_index(const char *rel)
{
	size_t len;
	char *data = read_shared(rel, &len);
	pg_providers *p = load_ok(data, len, rel);
	free(data);

	assert_int_equal(pg_providers_count(p), 5);
	for (size_t i = 0; i < 5; i++) {
		const pg_provider *pv = pg_providers_get(p, i);
		assert_non_null(pv);
		assert_string_equal(pv->name, shared_names[i]);
		assert_non_null(pv->mail_receipt);
		assert_true(pv->ndomains >= 1);
		/* Every entry carries its certificates: one per hash. */
		assert_int_equal(pv->ncerts, pv->nhashes);
	}
	assert_null(pg_providers_get(p, 5));
	const pg_provider *uno = pg_providers_get(p, 0);
	assert_string_equal(uno->unit, "Servizio PEC di prova");
	/* description:: is base64 of UTF-8. */
	assert_non_null(strstr(uno->description, "n\xc2\xb0 1"));
	assert_int_equal(uno->ndomains, 2);
	assert_string_equal(uno->domains[0], "pec.uno.test");
	assert_string_equal(uno->domains[1], "legal.uno.test");
	assert_true(pg_provider_manages(uno, "PEC.Uno.Test."));
	assert_false(pg_provider_manages(uno, "uno.test"));
	assert_false(pg_provider_manages(uno, "x.pec.uno.test"));
	const pg_provider *aruba = pg_providers_get(p, 3);
	assert_int_equal(aruba->nhashes, 3);
	assert_int_equal(aruba->ncerts, 3);
	assert_int_equal(aruba->ndomains, 3);
	assert_true(pg_provider_manages(aruba, "pec.it"));
	assert_int_equal(sk_X509_num(pg_providers_certs(p)), 7);

	/* Every fingerprint of fingerprints.tsv, in both spellings. */
	char *tsv = read_shared("pec/fixtures/pki/fingerprints.tsv", &len);
	int rows = 0, found = 0;
	for (char *line = strtok(tsv, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		if (line[0] == '#')
			continue;
		char *col[7] = {0};
		int n = 0;
		for (char *c = line; n < 7; n++) {
			col[n] = c;
			c = strchr(c, '\t');
			if (c == NULL) {
				n++;
				break;
			}
			*c++ = '\0';
		}
		assert_int_equal(n, 7);
		const char *want = expected_provider(col[0]);
		const pg_provider *by_colon = find_hex(p, col[5]);
		const pg_provider *by_plain = find_hex(p, col[6]);
		assert_ptr_equal(by_colon, by_plain);
		if (want == NULL) {
			if (by_colon != NULL)
				fail_msg("%s: found as %s, should not be trusted", col[0],
					 by_colon->name);
		} else {
			if (by_colon == NULL)
				fail_msg("%s: not found, want %s", col[0], want);
			assert_string_equal(by_colon->name, want);
			found++;
		}

		/* The fingerprint is the SHA-1 of the certificate's DER. */
		char pem[4096], rel2[512];
		snprintf(rel2, sizeof(rel2), "pec/fixtures/pki/%s", col[0]);
		shared_path(pem, sizeof(pem), rel2);
		X509 *x = read_pem(pem);
		unsigned char h[20], t[20];
		digest(x, h);
		sha1_of(col[5], t);
		assert_memory_equal(h, t, 20);
		/* The index's certificates are the same ones. */
		if (want != NULL) {
			int in_stack = 0;
			STACK_OF(X509) *sk = pg_providers_certs(p);
			for (int k = 0; k < sk_X509_num(sk); k++)
				in_stack += X509_cmp(sk_X509_value(sk, k), x) == 0;
			assert_int_equal(in_stack, 1);
		}
		X509_free(x);
		rows++;
	}
	free(tsv);
	assert_int_equal(rows, 11);
	assert_int_equal(found, 7);

	/* The rogue certificate copies Uno's subject but not its key. */
	assert_null(find_hex(p, "D13B25923BD5CFFA2D76C69E315E74CDA83BFD29"));
	pg_providers_unref(p);
}

static void test_shared_index(void **state)
{
	(void)state;
	check_shared_index("pec/fixtures/pki/index.ldif");
}

static void test_shared_index_nocolon(void **state)
{
	(void)state;
	check_shared_index("pec/fixtures/pki/index-nocolon.ldif");
}

static void test_shared_real_index(void **state)
{
	(void)state;
	check_shared_index("pec/real/index.ldif");
}

/* ---- our own indexes ------------------------------------------------------ */

static void test_good_minimal(void **state)
{
	(void)state;
	static const char *const files[] = {"ldif/good-minimal.ldif", "ldif/good-crlf.ldif"};
	for (size_t f = 0; f < 2; f++) {
		pg_providers *p = load_data_ok(files[f]);
		assert_int_equal(pg_providers_count(p), 1);
		const pg_provider *pv = pg_providers_get(p, 0);
		assert_string_equal(pv->name, "Gestore Prova A");
		assert_string_equal(pv->unit, "Servizio PEC");
		assert_string_equal(pv->description, "Gestore di prova n\xc2\xb0 1 \xe2\x80\x93 "
						     "\xc3\xa0\xc3\xa8\xc3\xac\xc3\xb2\xc3\xb9");
		assert_string_equal(pv->ldif_url, "https://index.prova.test/index.ldif");
		assert_string_equal(pv->mail_receipt, "posta-certificata@pec.prova-a.test");
		assert_int_equal(pv->line, 11);
		/* Written "PEC.Prova-A.test.": stored lower-case, no final dot. */
		assert_int_equal(pv->ndomains, 2);
		assert_string_equal(pv->domains[0], "pec.prova-a.test");
		assert_string_equal(pv->domains[1], "legal.prova-a.test");
		assert_true(pg_provider_manages(pv, "pec.prova-a.test"));
		assert_true(pg_provider_manages(pv, "Legal.Prova-A.Test."));
		assert_false(pg_provider_manages(pv, "prova-a.test"));
		assert_false(pg_provider_manages(pv, ""));
		assert_false(pg_provider_manages(pv, NULL));
		assert_int_equal(pv->nhashes, 1);
		assert_int_equal(pv->ncerts, 1);
		assert_ptr_equal(find_hex(p, HASH_A), pv);
		assert_ptr_equal(find_hex(p, "f32af0538a67fd97c2bb93c5b373b3490eaad534"), pv);
		assert_null(find_hex(p, HASH_B));

		/* The certificate is prova-a.pem. */
		char pem[4096];
		data_path(pem, sizeof(pem), "ldif/prova-a.pem");
		X509 *x = read_pem(pem);
		assert_int_equal(X509_cmp(pv->certs[0], x), 0);
		unsigned char h[20];
		digest(x, h);
		assert_ptr_equal(pg_providers_find_sha1(p, h), pv);
		X509_free(x);
		STACK_OF(X509) *sk = pg_providers_certs(p);
		assert_int_equal(sk_X509_num(sk), 1);
		assert_ptr_equal(sk_X509_value(sk, 0), pv->certs[0]);
		pg_providers_unref(p);
	}
}

static void test_unordered(void **state)
{
	(void)state;
	/* Hashes B, A (lower-case without colons, then colons) against
	 * certificates A, B: sets, not pairs.  Then a provider with a hash and
	 * no certificate. */
	pg_providers *p = load_data_ok("ldif/good-unordered.ldif");
	assert_int_equal(pg_providers_count(p), 2);
	const pg_provider *ab = pg_providers_get(p, 0);
	assert_string_equal(ab->name, "Gestore Prova AB");
	assert_int_equal(ab->nhashes, 2);
	assert_int_equal(ab->ncerts, 2);
	assert_ptr_equal(find_hex(p, HASH_A), ab);
	assert_ptr_equal(find_hex(p, HASH_B), ab);
	const pg_provider *nocert = pg_providers_get(p, 1);
	assert_string_equal(nocert->name, "Gestore Senza Certificato");
	assert_int_equal(nocert->ncerts, 0);
	assert_null(nocert->certs);
	assert_ptr_equal(find_hex(p, "B69027D44F6E5EDC07F1AEAD1477967B16F28227"), nocert);
	assert_int_equal(sk_X509_num(pg_providers_certs(p)), 2);
	pg_providers_unref(p);
}

static void test_bad_files(void **state)
{
	(void)state;
	load_data_fails(
		"ldif/bad-cert-hash-mismatch.ldif",
		"bad-cert-hash-mismatch.ldif:8: providerCertificate: certificate SHA-1 " HASH_A
		" is not among the entry's providerCertificateHash values");
	load_data_fails("ldif/bad-hash-without-cert.ldif",
			"bad-hash-without-cert.ldif:8: providerCertificateHash: " HASH_B
			" matches none of the entry's providerCertificate values");
	load_data_fails("ldif/bad-missing-domains.ldif",
			"bad-missing-domains.ldif:8: provider entry 'Gestore Prova A': missing "
			"managedDomains");
	load_data_fails("ldif/bad-missing-name.ldif",
			"bad-missing-name.ldif:3: provider entry "
			"'providerName=Gestore Prova A,o=postacert': missing providerName");
	load_data_fails("ldif/bad-missing-hash.ldif",
			"bad-missing-hash.ldif:3: provider entry 'Gestore Prova A': missing "
			"providerCertificateHash");
	load_data_fails("ldif/bad-missing-receipt.ldif",
			"bad-missing-receipt.ldif:3: provider entry 'Gestore Prova A': missing "
			"mailReceipt");
	load_data_fails("ldif/bad-base64.ldif",
			"bad-base64.ldif:7: description: invalid base64: character outside the "
			"alphabet");
	load_data_fails("ldif/bad-url.ldif", "bad-url.ldif:7: description: URL value (\":<\") "
					     "refused: values are never fetched");
	load_data_fails("ldif/bad-not-sha1.ldif",
			"bad-not-sha1.ldif:7: providerCertificateHash: not a SHA-1 (40 hex "
			"digits, colons optional)");
	load_data_fails("ldif/bad-dup-hash.ldif",
			"bad-dup-hash.ldif:25: providerCertificateHash: " HASH_A
			" of provider entry 'Gestore Impostore' is also listed by 'Gestore "
			"Prova A' (line 7): ambiguous trust");
	load_data_fails("ldif/bad-cert-not-der.ldif",
			"bad-cert-not-der.ldif:8: providerCertificate: not a DER X.509 "
			"certificate");
	load_data_fails("ldif/bad-changetype.ldif",
			"bad-changetype.ldif:4: changetype: change records are not supported "
			"(content LDIF only)");
	load_data_fails("ldif/no-providers.ldif",
			"no-providers.ldif:1: objectClass: no provider entries (objectClass: "
			"provider)");
}

/* ---- inline cases ---------------------------------------------------------- */

#define ENTRY_HEAD "dn: providerName=P,o=postacert\nobjectClass: provider\n"
#define ENTRY_REST                                                                                 \
	"providerCertificateHash: " HASH_A                                                         \
	"\nmailReceipt: r@pec.p.test\nmanagedDomains: pec.p.test\n"

static void test_inline_rules(void **state)
{
	(void)state;
	/* Entries that are not providers are ignored, whatever else they hold;
	 * "provider" is matched without case. */
	pg_providers *p =
		load_str_ok("dn: o=postacert\nobjectClass: top\nproviderName: no\n\n"
			    "dn: providerName=P,o=postacert\nobjectClass: top\n"
			    "objectClass:  PROVIDER \nproviderName:  P \n" ENTRY_REST
			    "providerCertificateHash: " HASH_A "\n"
			    "providerCertificateHash: f32af0538a67fd97c2bb93c5b373b3490eaad534\n"
			    "description: first\ndescription: second\n");
	assert_int_equal(pg_providers_count(p), 1);
	const pg_provider *pv = pg_providers_get(p, 0);
	assert_string_equal(pv->name, "P");
	assert_int_equal(pv->line, 5);
	/* One hash written three times is kept once. */
	assert_int_equal(pv->nhashes, 1);
	assert_string_equal(pv->description, "first");
	assert_null(pv->unit);
	assert_null(pv->ldif_url);
	assert_int_equal(sk_X509_num(pg_providers_certs(p)), 0);
	pg_providers_unref(p);

	load_str_fails(ENTRY_HEAD "providerName: P\nproviderName: Q\n" ENTRY_REST,
		       "t.ldif:4: providerName: a second value (the first is at line 3)");
	load_str_fails(ENTRY_HEAD "providerName: P\n" ENTRY_REST "mailReceipt: s@pec.p.test\n",
		       "t.ldif:7: mailReceipt: a second value (the first is at line 5)");
	load_str_fails(ENTRY_HEAD "providerName:   \n" ENTRY_REST,
		       "t.ldif:3: providerName: empty value");
	load_str_fails(ENTRY_HEAD "providerName:: UABR\n" ENTRY_REST,
		       "t.ldif:3: providerName: contains a NUL byte");
	load_str_fails(ENTRY_HEAD "providerName:: /w==\n" ENTRY_REST,
		       "t.ldif:3: providerName: not valid UTF-8");
	load_str_fails(ENTRY_HEAD "providerName: P\n" ENTRY_REST "managedDomains: a..b\n",
		       "t.ldif:7: managedDomains: not a domain name");
	load_str_fails(ENTRY_HEAD "providerName: P\n" ENTRY_REST "managedDomains: x@y\n",
		       "t.ldif:7: managedDomains: not a domain name");
	load_str_fails(ENTRY_HEAD "providerName: P\n" ENTRY_REST "managedDomains: .\n",
		       "t.ldif:7: managedDomains: not a domain name");
	/* Found by fuzzing: one final dot is dropped, a second one is an error. */
	load_str_fails(ENTRY_HEAD "providerName: P\n" ENTRY_REST "managedDomains: PEC.P.TEST..\n",
		       "t.ldif:7: managedDomains: not a domain name");
	load_str_fails(ENTRY_HEAD "providerName: P\n" ENTRY_REST "managedDomains: a b\n",
		       "t.ldif:7: managedDomains: not a domain name");
	load_str_fails(ENTRY_HEAD "providerName: P\n" ENTRY_REST "providerCertificateHash: " HASH_A
				  ":00\n",
		       "t.ldif:7: providerCertificateHash: not a SHA-1 (40 hex digits, colons "
		       "optional)");
	load_str_fails(ENTRY_HEAD "providerName: P\n" ENTRY_REST "providerCertificateHash:: "
				  "RjMyQUYwNTM4QTY3RkQ5N0MyQkI5M0M1QjM3M0IzNDkwRUFBRDUzAA==\n",
		       "t.ldif:7: providerCertificateHash: not a SHA-1 (40 hex digits, colons "
		       "optional)");
	/* The name in messages cannot carry control characters into logs. */
	load_str_fails("dn: providerName=P,o=postacert\nobjectClass: provider\n"
		       "providerName:: UAoxMjogZmFrZQ==\n",
		       "t.ldif:1: provider entry 'P?12: fake': missing providerCertificateHash");
	/* Nor bytes that are not UTF-8 (the dn is not checked as text), and a
	 * long one is cut between characters. */
	load_str_fails("dn:: /8OoeA==\nobjectClass: provider\n",
		       "t.ldif:1: provider entry '?\xc3\xa8x': missing providerName");
	char big[300] = "dn: ", want[300];
	for (int i = 0; i < 100; i++)
		strcat(big, "\xc3\xa8");
	strcat(big, "\nobjectClass: provider\n");
	snprintf(want, sizeof(want), "t.ldif:1: provider entry '%.*s...': missing providerName",
		 2 * 44, big + 4);
	load_str_fails(big, want);
	/* An LDIF error comes with the index name in front. */
	load_str_fails("dn: a\nx:< file:///etc/shadow\n",
		       "t.ldif:2: x: URL value (\":<\") refused: values are never fetched");
	load_str_fails("", "t.ldif:1: objectClass: no provider entries (objectClass: provider)");
}

static void test_inline_certs(void **state)
{
	(void)state;
	size_t len;
	char *pem_a = read_data("ldif/prova-a.pem", &len);
	/* The PEM body is base64 of the DER: fold its lines into an LDIF value. */
	char b64[2048] = "";
	char *body = strstr(pem_a, "-----\n") + 6;
	*strstr(body, "-----END") = '\0';
	for (char *s = body; *s; s++)
		if (*s != '\n')
			strncat(b64, s, 1);
	free(pem_a);

	char buf[8192];
	snprintf(buf, sizeof(buf),
		 ENTRY_HEAD "providerName: P\n" ENTRY_REST "providerCertificate;lang-it:: %s\n",
		 b64);
	load_str_fails(buf, "t.ldif:7: providerCertificate;lang-it: unsupported attribute option "
			    "(only ;binary)");
	/* Without ;binary, and with ;BINARY, both fine. */
	snprintf(buf, sizeof(buf),
		 ENTRY_HEAD
		 "providerName: P\n" ENTRY_REST "providerCertificate:: %s\n\n"
		 "dn: providerName=Q,o=postacert\nobjectClass: provider\nproviderName: Q\n"
		 "providerCertificateHash: " HASH_B "\nmailReceipt: r@q\nmanagedDomains: q\n",
		 b64);
	pg_providers *p = load_str_ok(buf);
	assert_int_equal(pg_providers_get(p, 0)->ncerts, 1);
	assert_int_equal(pg_providers_get(p, 1)->ncerts, 0);
	assert_int_equal(sk_X509_num(pg_providers_certs(p)), 1);
	pg_providers_unref(p);

	/* The same certificate listed twice in one entry, one hash. */
	snprintf(buf, sizeof(buf),
		 ENTRY_HEAD "providerName: P\n" ENTRY_REST
			    "providerCertificate;BINARY:: %s\nproviderCertificate:: %s\n",
		 b64, b64);
	p = load_str_ok(buf);
	assert_int_equal(pg_providers_get(p, 0)->ncerts, 2);
	pg_providers_unref(p);

	/* Bytes after the DER are refused: decode, append two NULs, re-encode.
	 * (EVP_DecodeBlock counts the bytes of '=' padding as data.) */
	unsigned char der[1024];
	size_t n = strlen(b64);
	int dl = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)n);
	assert_true(dl > 0);
	for (size_t k = n; k > 0 && b64[k - 1] == '='; k--)
		dl--;
	der[dl] = 0;
	der[dl + 1] = 0;
	char padded[2100];
	EVP_EncodeBlock((unsigned char *)padded, der, dl + 2);
	snprintf(buf, sizeof(buf),
		 ENTRY_HEAD "providerName: P\n" ENTRY_REST "providerCertificate:: %s\n", padded);
	load_str_fails(buf, "t.ldif:7: providerCertificate: 2 bytes after the DER certificate");

	/* Empty, and truncated. */
	load_str_fails(ENTRY_HEAD "providerName: P\n" ENTRY_REST "providerCertificate::\n",
		       "t.ldif:7: providerCertificate: empty value");
	snprintf(buf, sizeof(buf),
		 ENTRY_HEAD "providerName: P\n" ENTRY_REST "providerCertificate:: %.400s\n", b64);
	load_str_fails(buf, "t.ldif:7: providerCertificate: not a DER X.509 certificate");
}

/* ---- empty index, reference counting ------------------------------------ */

static void test_empty(void **state)
{
	(void)state;
	pg_providers *p = NULL;
	assert_int_equal(pg_providers_new_empty(&p), PG_OK);
	assert_non_null(p);
	assert_int_equal(pg_providers_count(p), 0);
	assert_null(pg_providers_get(p, 0));
	assert_null(find_hex(p, HASH_A));
	STACK_OF(X509) *sk = pg_providers_certs(p);
	assert_non_null(sk);
	assert_int_equal(sk_X509_num(sk), 0);
	assert_ptr_equal(pg_providers_ref(p), p);
	pg_providers_unref(p);
	pg_providers_unref(p);
	/* NULL is harmless everywhere. */
	assert_null(pg_providers_ref(NULL));
	pg_providers_unref(NULL);
	assert_int_equal(pg_providers_count(NULL), 0);
	assert_null(pg_providers_get(NULL, 0));
	assert_null(pg_providers_certs(NULL));
	assert_false(pg_provider_manages(NULL, "x"));
}

#define REF_THREADS 4
#define REF_ROUNDS  20000

static void *ref_worker(void *arg)
{
	pg_providers *p = arg;
	unsigned char h[20];
	sha1_of(HASH_A, h);
	for (int i = 0; i < REF_ROUNDS; i++) {
		pg_providers *mine = pg_providers_ref(p);
		if (pg_providers_find_sha1(mine, h) == NULL)
			abort();
		pg_providers_unref(mine);
	}
	/* Each thread was given a reference of its own: drop it. */
	pg_providers_unref(p);
	return NULL;
}

static void test_refcount_threads(void **state)
{
	(void)state;
	/* Like a reload during scans: workers take and drop references while
	 * the owner drops its own; whoever drops last frees (ASan checks that
	 * nothing is used after, or leaked). */
	pg_providers *p = load_data_ok("ldif/good-minimal.ldif");
	pthread_t t[REF_THREADS];
	for (int i = 0; i < REF_THREADS; i++) {
		pg_providers_ref(p);
		assert_int_equal(pthread_create(&t[i], NULL, ref_worker, p), 0);
	}
	pg_providers_unref(p);
	for (int i = 0; i < REF_THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
}

static void test_args(void **state)
{
	(void)state;
	pg_providers *p = NULL;
	char err[128];
	assert_int_equal(pg_providers_load(NULL, 5, "x", &p, err, sizeof(err)), PG_ERR_INVALID);
	assert_null(p);
	assert_int_equal(pg_providers_load("", 0, NULL, &p, err, sizeof(err)), PG_ERR_INDEX);
	assert_string_equal(err,
			    "index:1: objectClass: no provider entries (objectClass: provider)");
	/* No err buffer: the status is all. */
	assert_int_equal(pg_providers_load("", 0, NULL, &p, NULL, 0), PG_ERR_INDEX);
	assert_null(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shared_index),
		cmocka_unit_test(test_shared_index_nocolon),
		cmocka_unit_test(test_shared_real_index),
		cmocka_unit_test(test_good_minimal),
		cmocka_unit_test(test_unordered),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_inline_rules),
		cmocka_unit_test(test_inline_certs),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_refcount_threads),
		cmocka_unit_test(test_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
