/*
 * Unit tests: src/pec/smime.c - detached CMS verification over exact bytes.
 *
 * Keys, certificates and signatures are made here with OpenSSL (P-256
 * keys: fast, also under ASan), so every case controls exactly which bytes
 * were signed, which certificates the CMS embeds, which digest and which
 * signed attributes it carries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pec/smime.h"
#include "util/ptime.h"

/* ---- test PKI ------------------------------------------------------------ */

static int64_t at(const char *iso)
{
	int64_t t;
	if (pg_time_parse_iso8601(iso, &t) != 0)
		fail_msg("bad time %s", iso);
	return t;
}

static EVP_PKEY *new_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	assert_non_null(k);
	return k;
}

/* A certificate for key, issued under issuer_cn and signed by signkey
 * (self-signed when signkey is key). */
static X509 *new_cert(EVP_PKEY *key, EVP_PKEY *signkey, const char *issuer_cn, long serial,
		      const char *o, const char *cn, int64_t nb, int64_t na)
{
	X509 *x = X509_new();
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
	X509_NAME *subj = X509_NAME_new();
	X509_NAME_add_entry_by_txt(subj, "C", MBSTRING_UTF8, (const unsigned char *)"IT", -1, -1,
				   0);
	if (o != NULL)
		X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_UTF8, (const unsigned char *)o, -1,
					   -1, 0);
	X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_NAME *iss = X509_NAME_new();
	X509_NAME_add_entry_by_txt(iss, "CN", MBSTRING_UTF8, (const unsigned char *)issuer_cn, -1,
				   -1, 0);
	assert_int_equal(X509_set_subject_name(x, subj), 1);
	assert_int_equal(X509_set_issuer_name(x, iss), 1);
	X509_NAME_free(subj);
	X509_NAME_free(iss);
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	assert_true(X509_sign(x, signkey, EVP_sha256()) > 0);
	return x;
}

/* The signer, a second signer, and a look-alike of the signer: the same
 * issuer and serial number (what a SignerInfo names) with another key. */
static EVP_PKEY *key_a, *key_b, *key_rogue;
static X509 *cert_a, *cert_b, *cert_rogue;

static int setup(void **state)
{
	(void)state;
	key_a = new_key();
	key_b = new_key();
	key_rogue = new_key();
	int64_t nb = at("2020-01-01T00:00:00Z"), na = at("2095-06-30T12:00:00Z");
	cert_a = new_cert(key_a, key_a, "Test Root", 1001, "Gestore \"Prova\" S.p.A.",
			  "Posta Certificata Societ\xc3\xa0", nb, na);
	cert_b = new_cert(key_b, key_b, "Test Root", 1002, NULL, "Second signer", nb, na);
	cert_rogue = new_cert(key_rogue, key_rogue, "Test Root", 1001, "Gestore \"Prova\" S.p.A.",
			      "Posta Certificata Societ\xc3\xa0", nb, na);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	X509_free(cert_a);
	X509_free(cert_b);
	X509_free(cert_rogue);
	EVP_PKEY_free(key_a);
	EVP_PKEY_free(key_b);
	EVP_PKEY_free(key_rogue);
	return 0;
}

/* ---- making signatures --------------------------------------------------- */

enum {
	SIG_NOCERTS = 1 << 0,  /* do not embed the signer's certificate */
	SIG_NOATTR = 1 << 1,   /* no signed attributes (no signing time, no digest attribute) */
	SIG_ATTACHED = 1 << 2, /* the content inside the CMS */
	SIG_FLIP = 1 << 3,     /* one byte of the signature value changed */
	SIG_SECOND = 1 << 4,   /* a second signer (key_b) after the first */
};

typedef struct der {
	unsigned char *p;
	size_t n;
} der;

/* A CMS SignedData over exactly content[0, len) (binary: no canonical
 * conversion by OpenSSL).  stime: a signingTime attribute to set (an
 * ASN1_TIME or any ASN1_STRING with its type), or NULL for OpenSSL's own
 * (the current time). */
static der sign_ex(X509 *cert, EVP_PKEY *key, const EVP_MD *md, const void *content, size_t len,
		   unsigned flags, const ASN1_STRING *stime)
{
	unsigned base = CMS_PARTIAL | CMS_BINARY | (flags & SIG_ATTACHED ? 0 : CMS_DETACHED);
	CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, base);
	assert_non_null(cms);
	unsigned sflags = base | CMS_NOSMIMECAP;
	if (flags & SIG_NOCERTS)
		sflags |= CMS_NOCERTS;
	if (flags & SIG_NOATTR)
		sflags |= CMS_NOATTR;
	CMS_SignerInfo *si = CMS_add1_signer(cms, cert, key, md, sflags);
	assert_non_null(si);
	if (stime != NULL)
		assert_int_equal(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime,
							     ASN1_STRING_type(stime), stime, -1),
				 1);
	if (flags & SIG_SECOND)
		assert_non_null(CMS_add1_signer(cms, cert_b, key_b, EVP_sha256(), sflags));
	BIO *in = BIO_new_mem_buf(content, (int)len);
	assert_int_equal(CMS_final(cms, in, NULL, base), 1);
	BIO_free(in);
	if (flags & SIG_FLIP) {
		ASN1_OCTET_STRING *sv = CMS_SignerInfo_get0_signature(si);
		int n = ASN1_STRING_length(sv);
		unsigned char *copy = malloc((size_t)n);
		memcpy(copy, ASN1_STRING_get0_data(sv), (size_t)n);
		copy[n - 1] ^= 0x01; /* ECDSA: the last byte of s */
		assert_int_equal(ASN1_STRING_set(sv, copy, n), 1);
		free(copy);
	}
	der d = {NULL, 0};
	int n = i2d_CMS_ContentInfo(cms, &d.p);
	assert_true(n > 0);
	d.n = (size_t)n;
	CMS_ContentInfo_free(cms);
	return d;
}

static der sign_bytes(const char *signed_bytes, unsigned flags)
{
	return sign_ex(cert_a, key_a, EVP_sha256(), signed_bytes, strlen(signed_bytes), flags,
		       NULL);
}

static void der_free(der *d)
{
	OPENSSL_free(d->p);
	d->p = NULL;
}

/* Verifies content against d; the result in *r, the status returned.  The
 * OpenSSL error queue is left empty. */
static pg_sig_status verify(pg_arena *a, const char *content, size_t clen, const der *d,
			    STACK_OF(X509) * extra, pg_sig_result *r)
{
	assert_int_equal(pg_smime_verify_detached(a, content, clen, d->p, d->n, extra, r), PG_OK);
	assert_int_equal(ERR_peek_error(), 0);
	return r->status;
}

static pg_sig_status verify_str(pg_arena *a, const char *content, const der *d,
				STACK_OF(X509) * extra, pg_sig_result *r)
{
	return verify(a, content, strlen(content), d, extra, r);
}

/* ---- tests --------------------------------------------------------------- */

static const char *const body_crlf = "Content-Type: text/plain\r\n"
				     "\r\n"
				     "Gentile utente, il messaggio \xc3\xa8 stato consegnato.\r\n";

static void valid_signature_verifies(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	der d = sign_bytes(body_crlf, 0);
	pg_sig_result r;
	assert_int_equal(verify_str(a, body_crlf, &d, NULL, &r), PG_SIG_OK);
	assert_ptr_not_equal(r.signer, NULL);
	assert_int_equal(X509_cmp(r.signer, cert_a), 0);
	unsigned char sha[20];
	unsigned int n = 0;
	assert_int_equal(X509_digest(cert_a, EVP_sha1(), sha, &n), 1);
	assert_memory_equal(r.sha1, sha, 20);
	assert_string_equal(r.digest, "SHA256");
	assert_string_equal(r.form, "crlf");
	assert_int_equal(r.nbytes, strlen(body_crlf));
	assert_string_equal(r.detail, "");
	der_free(&d);
	pg_arena_free(a); /* frees the signer reference (LeakSanitizer checks it) */
}

static void one_byte_changed_is_digest_mismatch(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	der d = sign_bytes(body_crlf, 0);
	size_t n = strlen(body_crlf);
	char *c = malloc(n + 1);
	/* every position: headers, body, the final CRLF */
	for (size_t i = 0; i < n; i++) {
		memcpy(c, body_crlf, n + 1);
		c[i] = (char)(c[i] == 'X' ? 'Y' : 'X');
		pg_sig_result r;
		assert_int_equal(verify(a, c, n, &d, NULL, &r), PG_SIG_DIGEST_MISMATCH);
		assert_non_null(strstr(r.detail, "SHA256 digest"));
		/* who signed is still known: the caller names the signer */
		assert_non_null(r.signer);
		assert_null(r.form);
	}
	/* a byte less, a byte more */
	pg_sig_result r;
	assert_int_equal(verify(a, body_crlf, n - 1, &d, NULL, &r), PG_SIG_DIGEST_MISMATCH);
	memcpy(c, body_crlf, n);
	c[n] = '\n';
	assert_int_equal(verify(a, c, n + 1, &d, NULL, &r), PG_SIG_DIGEST_MISMATCH);
	free(c);
	der_free(&d);
	pg_arena_free(a);
}

static void flipped_signature_value_is_invalid(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	der d = sign_bytes(body_crlf, SIG_FLIP);
	pg_sig_result r;
	/* the digest matches, the signature over the attributes does not */
	assert_int_equal(verify_str(a, body_crlf, &d, NULL, &r), PG_SIG_INVALID);
	assert_non_null(strstr(r.detail, "signature value does not verify"));
	der_free(&d);
	pg_arena_free(a);
}

/* Bare LF becomes CRLF (as SMTP transmits it) first; the bytes as they
 * are second; never CRLF back to LF. */
static void canonical_forms(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	pg_sig_result r;

	/* signed over CRLF, stored with LF: verifies in the canonical form */
	der d = sign_bytes("line one\r\nline two\r\n", 0);
	assert_int_equal(verify_str(a, "line one\nline two\n", &d, NULL, &r), PG_SIG_OK);
	assert_string_equal(r.form, "crlf");
	assert_int_equal(r.nbytes, 20); /* the canonical bytes */
	/* mixed endings: only the bare LF gains a CR */
	assert_int_equal(verify_str(a, "line one\r\nline two\n", &d, NULL, &r), PG_SIG_OK);
	assert_string_equal(r.form, "crlf");
	/* the CRLF bytes themselves */
	assert_int_equal(verify_str(a, "line one\r\nline two\r\n", &d, NULL, &r), PG_SIG_OK);
	assert_string_equal(r.form, "crlf");
	assert_int_equal(r.nbytes, 20);
	/* a CR too many is content, not line ending */
	assert_int_equal(verify_str(a, "line one\r\r\nline two\n", &d, NULL, &r),
			 PG_SIG_DIGEST_MISMATCH);
	der_free(&d);

	/* signed over LF as it is (binary): the canonical try fails, the
	 * bytes as they are verify */
	d = sign_bytes("line one\nline two\n", 0);
	assert_int_equal(verify_str(a, "line one\nline two\n", &d, NULL, &r), PG_SIG_OK);
	assert_string_equal(r.form, "binary");
	assert_int_equal(r.nbytes, 18);
	/* CRLF content is never turned back into LF */
	assert_int_equal(verify_str(a, "line one\r\nline two\r\n", &d, NULL, &r),
			 PG_SIG_DIGEST_MISMATCH);
	der_free(&d);

	/* a leading LF, and a bare CR that stays as it is */
	d = sign_bytes("\r\nfirst\rsame line\r\n", 0);
	assert_int_equal(verify_str(a, "\nfirst\rsame line\n", &d, NULL, &r), PG_SIG_OK);
	assert_string_equal(r.form, "crlf");
	der_free(&d);

	/* no line end at all: the one form is the bytes */
	d = sign_bytes("no newline", 0);
	assert_int_equal(verify_str(a, "no newline", &d, NULL, &r), PG_SIG_OK);
	assert_string_equal(r.form, "crlf");
	assert_int_equal(r.nbytes, 10);
	der_free(&d);

	/* empty content */
	d = sign_bytes("", 0);
	assert_int_equal(verify(a, "", 0, &d, NULL, &r), PG_SIG_OK);
	assert_int_equal(r.nbytes, 0);
	der_free(&d);
	pg_arena_free(a);
}

/* Without embedded certificates the signer is looked up among the
 * caller's (the index's); the CMS's own are preferred. */
static void signer_without_embedded_certificates(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	pg_sig_result r;
	der d = sign_bytes(body_crlf, SIG_NOCERTS);

	assert_int_equal(verify_str(a, body_crlf, &d, NULL, &r), PG_SIG_NO_SIGNER);
	assert_null(r.signer);
	assert_non_null(strstr(r.detail, "neither in the signature nor in the index"));
	/* what can be read without the certificate still is */
	assert_string_equal(r.digest, "SHA256");
	assert_true(r.signing_time > 0);

	STACK_OF(X509) *extra = sk_X509_new_null();
	sk_X509_push(extra, cert_b);
	assert_int_equal(verify_str(a, body_crlf, &d, extra, &r), PG_SIG_NO_SIGNER);
	sk_X509_push(extra, cert_a);
	assert_int_equal(verify_str(a, body_crlf, &d, extra, &r), PG_SIG_OK);
	assert_ptr_equal(r.signer, cert_a);
	/* the arena holds its own reference: the caller's stack may go */

	/* a look-alike (same issuer and serial, another key) in the index:
	 * taken for the signer, and the signature does not verify with it */
	sk_X509_zero(extra);
	sk_X509_push(extra, cert_rogue);
	assert_int_equal(verify_str(a, body_crlf, &d, extra, &r), PG_SIG_INVALID);
	assert_ptr_equal(r.signer, cert_rogue);
	der_free(&d);

	/* the embedded certificate comes before the index's look-alike */
	d = sign_bytes(body_crlf, 0);
	assert_int_equal(verify_str(a, body_crlf, &d, extra, &r), PG_SIG_OK);
	assert_int_equal(X509_cmp(r.signer, cert_a), 0);
	sk_X509_free(extra);
	der_free(&d);
	pg_arena_free(a);
}

static void signing_time_present_or_absent(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	pg_sig_result r;

	/* UTCTime */
	ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)at("2014-08-06T12:00:00Z"));
	assert_int_equal(ASN1_STRING_type(t), V_ASN1_UTCTIME);
	der d = sign_ex(cert_a, key_a, EVP_sha256(), body_crlf, strlen(body_crlf), 0, t);
	assert_int_equal(verify_str(a, body_crlf, &d, NULL, &r), PG_SIG_OK);
	assert_int_equal(r.signing_time, at("2014-08-06T12:00:00Z"));
	ASN1_TIME_free(t);
	der_free(&d);

	/* GeneralizedTime (after 2049 it must be) */
	t = ASN1_TIME_set(NULL, (time_t)at("2051-03-04T05:06:07Z"));
	assert_int_equal(ASN1_STRING_type(t), V_ASN1_GENERALIZEDTIME);
	d = sign_ex(cert_a, key_a, EVP_sha256(), body_crlf, strlen(body_crlf), 0, t);
	assert_int_equal(verify_str(a, body_crlf, &d, NULL, &r), PG_SIG_OK);
	assert_int_equal(r.signing_time, at("2051-03-04T05:06:07Z"));
	ASN1_TIME_free(t);
	der_free(&d);

	/* an attribute of the wrong type is no time */
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	assert_int_equal(ASN1_OCTET_STRING_set(os, (const unsigned char *)"20140806", 8), 1);
	d = sign_ex(cert_a, key_a, EVP_sha256(), body_crlf, strlen(body_crlf), 0, os);
	assert_int_equal(verify_str(a, body_crlf, &d, NULL, &r), PG_SIG_OK);
	assert_int_equal(r.signing_time, -1);
	ASN1_OCTET_STRING_free(os);
	der_free(&d);

	/* no signed attributes at all: no time, and still a valid signature */
	d = sign_bytes(body_crlf, SIG_NOATTR);
	assert_int_equal(verify_str(a, body_crlf, &d, NULL, &r), PG_SIG_OK);
	assert_int_equal(r.signing_time, -1);
	/* then an altered content cannot be told from a bad signature value,
	 * and is reported as not verifying over the content */
	assert_int_equal(verify_str(a, "Content-Type: text/plain\r\n\r\nX", &d, NULL, &r),
			 PG_SIG_DIGEST_MISMATCH);
	assert_non_null(strstr(r.detail, "without signed attributes"));
	der_free(&d);
	pg_arena_free(a);
}

/* The digest algorithm is the CMS's, whatever the micalg says. */
static void digest_from_the_cms(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	pg_sig_result r;
	struct {
		const EVP_MD *md;
		const char *name;
	} cases[] = {{EVP_sha1(), "SHA1"}, {EVP_sha384(), "SHA384"}, {EVP_sha512(), "SHA512"}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		der d = sign_ex(cert_a, key_a, cases[i].md, body_crlf, strlen(body_crlf), 0, NULL);
		assert_int_equal(verify_str(a, body_crlf, &d, NULL, &r), PG_SIG_OK);
		assert_string_equal(r.digest, cases[i].name);
		assert_int_equal(verify_str(a, "altered", &d, NULL, &r), PG_SIG_DIGEST_MISMATCH);
		assert_non_null(strstr(r.detail, cases[i].name));
		der_free(&d);
	}
	pg_arena_free(a);
}

/* PEC providers sign once; with more signers, the first SignerInfo as
 * encoded (a SET OF: DER sorts it) names the signer, and every signer
 * must verify. */
static void first_signer_is_the_signer(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	pg_sig_result r;
	der d = sign_bytes(body_crlf, SIG_SECOND);
	assert_int_equal(verify_str(a, body_crlf, &d, NULL, &r), PG_SIG_OK);
	const unsigned char *p = d.p;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)d.n);
	assert_non_null(cms);
	STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
	assert_int_equal(sk_CMS_SignerInfo_num(sis), 2);
	assert_int_equal(CMS_SignerInfo_cert_cmp(sk_CMS_SignerInfo_value(sis, 0), r.signer), 0);
	CMS_ContentInfo_free(cms);
	der_free(&d);
	pg_arena_free(a);
}

/* RSA, as the providers sign: the same outcomes as with EC keys. */
static void rsa_signer(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	pg_sig_result r;
	EVP_PKEY *k = EVP_RSA_gen(2048);
	assert_non_null(k);
	X509 *c = new_cert(k, k, "Test Root", 7, "Gestore RSA", "posta-certificata",
			   at("2020-01-01T00:00:00Z"), at("2040-01-01T00:00:00Z"));
	der d = sign_ex(c, k, EVP_sha256(), body_crlf, strlen(body_crlf), 0, NULL);
	assert_int_equal(verify_str(a, body_crlf, &d, NULL, &r), PG_SIG_OK);
	assert_string_equal(r.digest, "SHA256");
	assert_int_equal(verify_str(a, "altered", &d, NULL, &r), PG_SIG_DIGEST_MISMATCH);
	der_free(&d);
	d = sign_ex(c, k, EVP_sha256(), body_crlf, strlen(body_crlf), SIG_FLIP, NULL);
	assert_int_equal(verify_str(a, body_crlf, &d, NULL, &r), PG_SIG_INVALID);
	der_free(&d);
	X509_free(c);
	EVP_PKEY_free(k);
	pg_arena_free(a);
}

/* Whatever the signature bytes, an outcome and never a crash: every
 * truncation of a valid signature, noise, other DER structures. */
static void unreadable_signatures(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	pg_sig_result r;
	der d = sign_bytes(body_crlf, 0);
	for (size_t n = 0; n < d.n; n++) {
		/* a copy of exactly n bytes, so ASan sees any read past them */
		unsigned char *p = malloc(n ? n : 1);
		memcpy(p, d.p, n);
		der t = {p, n};
		assert_int_equal(verify_str(a, body_crlf, &t, NULL, &r), PG_SIG_UNREADABLE);
		assert_null(r.signer);
		assert_int_equal(r.signing_time, -1);
		assert_true(r.detail[0] != '\0');
		free(p);
	}
	/* a byte changed anywhere: an outcome, whatever it is (a change inside
	 * the embedded certificate's own signature may still verify: no chain
	 * is checked here) */
	for (size_t i = 0; i < d.n; i++) {
		unsigned char *p = malloc(d.n);
		memcpy(p, d.p, d.n);
		p[i] ^= 0x5a;
		der t = {p, d.n};
		assert_int_equal(pg_smime_verify_detached(a, body_crlf, strlen(body_crlf), t.p, t.n,
							  NULL, &r),
				 PG_OK);
		assert_int_equal(ERR_peek_error(), 0);
		assert_true(r.status >= PG_SIG_OK && r.status <= PG_SIG_INVALID);
		free(p);
	}
	der_free(&d);

	/* pseudo-random noise of every length up to 300 */
	uint32_t x = 2463534242u;
	unsigned char noise[300];
	for (size_t n = 1; n <= sizeof(noise); n++) {
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			noise[i] = (unsigned char)x;
		}
		der t = {noise, n};
		assert_int_equal(verify_str(a, body_crlf, &t, NULL, &r), PG_SIG_UNREADABLE);
		assert_non_null(strstr(r.detail, "not a DER CMS"));
	}
	/* a SEQUENCE of indefinite length that never ends */
	unsigned char ber[] = {0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
			       0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x80, 0x30};
	der t = {ber, sizeof(ber)};
	assert_int_equal(verify_str(a, body_crlf, &t, NULL, &r), PG_SIG_UNREADABLE);

	/* a certificate is DER, but not CMS */
	unsigned char *cd = NULL;
	int cn = i2d_X509(cert_a, &cd);
	assert_true(cn > 0);
	t = (der){cd, (size_t)cn};
	assert_int_equal(verify_str(a, body_crlf, &t, NULL, &r), PG_SIG_UNREADABLE);
	OPENSSL_free(cd);

	/* CMS, but data rather than signedData */
	BIO *in = BIO_new_mem_buf("plain", 5);
	CMS_ContentInfo *cms = CMS_data_create(in, CMS_BINARY);
	BIO_free(in);
	assert_non_null(cms);
	t.p = NULL;
	int dn = i2d_CMS_ContentInfo(cms, &t.p);
	assert_true(dn > 0);
	t.n = (size_t)dn;
	CMS_ContentInfo_free(cms);
	assert_int_equal(verify_str(a, body_crlf, &t, NULL, &r), PG_SIG_UNREADABLE);
	assert_non_null(strstr(r.detail, "not signedData"));
	der_free(&t);

	/* signedData that carries its content is not a detached signature */
	d = sign_bytes(body_crlf, SIG_ATTACHED);
	assert_int_equal(verify_str(a, body_crlf, &d, NULL, &r), PG_SIG_UNREADABLE);
	assert_non_null(strstr(r.detail, "not a detached signature"));
	der_free(&d);

	/* content too large for OpenSSL's int lengths: refused before reading */
	d = sign_bytes(body_crlf, 0);
	assert_int_equal(verify(a, body_crlf, (size_t)0x80000000u, &d, NULL, &r),
			 PG_SIG_UNREADABLE);
	assert_non_null(strstr(r.detail, "too large"));
	der_free(&d);
	pg_arena_free(a);
}

/* signedData with certificates and no SignerInfo (a "certs-only" CMS). */
static void no_signer_info(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	pg_sig_result r;
	CMS_ContentInfo *cms =
		CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_DETACHED | CMS_BINARY);
	assert_non_null(cms);
	assert_int_equal(CMS_add1_cert(cms, cert_a), 1);
	der d = {NULL, 0};
	int n = i2d_CMS_ContentInfo(cms, &d.p);
	assert_true(n > 0);
	d.n = (size_t)n;
	CMS_ContentInfo_free(cms);
	assert_int_equal(verify_str(a, body_crlf, &d, NULL, &r), PG_SIG_NO_SIGNER);
	assert_non_null(strstr(r.detail, "no signer"));
	assert_null(r.signer);
	der_free(&d);
	pg_arena_free(a);
}

static void certificate_helpers(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	assert_int_equal(pg_x509_not_before(cert_a), at("2020-01-01T00:00:00Z"));
	/* after 2049: GeneralizedTime */
	assert_int_equal(pg_x509_not_after(cert_a), at("2095-06-30T12:00:00Z"));
	unsigned char sha[20], want[20];
	unsigned int n = 0;
	assert_int_equal(pg_x509_sha1(cert_a, sha), 0);
	assert_int_equal(X509_digest(cert_a, EVP_sha1(), want, &n), 1);
	assert_memory_equal(sha, want, 20);
	/* the look-alike has another key: another fingerprint */
	assert_int_equal(pg_x509_sha1(cert_rogue, want), 0);
	assert_memory_not_equal(sha, want, 20);
	/* RFC 2253 order, UTF-8 kept as UTF-8, quotes escaped */
	const char *s = pg_x509_subject(a, cert_a);
	assert_string_equal(s, "CN=Posta Certificata Societ\xc3\xa0,"
			       "O=Gestore \\\"Prova\\\" S.p.A.,C=IT");
	assert_string_equal(pg_x509_subject(a, cert_b), "CN=Second signer,C=IT");
	pg_arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_signature_verifies),
		cmocka_unit_test(one_byte_changed_is_digest_mismatch),
		cmocka_unit_test(flipped_signature_value_is_invalid),
		cmocka_unit_test(canonical_forms),
		cmocka_unit_test(signer_without_embedded_certificates),
		cmocka_unit_test(signing_time_present_or_absent),
		cmocka_unit_test(digest_from_the_cms),
		cmocka_unit_test(first_signer_is_the_signer),
		cmocka_unit_test(rsa_signer),
		cmocka_unit_test(unreadable_signatures),
		cmocka_unit_test(no_signer_info),
		cmocka_unit_test(certificate_helpers),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
