#include "pec/smime.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "util/ptime.h"

static int64_t asn1_time_utc(const ASN1_TIME *t)
{
	struct tm tm;
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	return pg_time_from_utc(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
				tm.tm_sec);
}

int64_t pg_x509_not_before(const X509 *x)
{
	return asn1_time_utc(X509_get0_notBefore(x));
}

int64_t pg_x509_not_after(const X509 *x)
{
	return asn1_time_utc(X509_get0_notAfter(x));
}

int pg_x509_sha1(const X509 *x, unsigned char out[20])
{
	unsigned int n = 0;
	return X509_digest(x, EVP_sha1(), out, &n) == 1 && n == 20 ? 0 : -1;
}

const char *pg_x509_subject(pg_arena *a, const X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (b == NULL)
		return NULL;
	X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
			   (XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) | ASN1_STRFLGS_UTF8_CONVERT);
	char *p = NULL;
	long n = BIO_get_mem_data(b, &p);
	char *s = pg_arena_strndup(a, p ? p : "", n > 0 ? (size_t)n : 0);
	BIO_free(b);
	return s;
}

static void free_x509(void *p)
{
	X509_free(p);
}

/* The content with every bare LF turned into CRLF, or NULL when it has no
 * bare LF (then the canonical form is the content itself). */
static unsigned char *canonical_crlf(pg_arena *a, const unsigned char *c, size_t n, size_t *outlen,
				     bool *nomem)
{
	size_t bare = 0;
	for (size_t i = 0; i < n; i++)
		if (c[i] == '\n' && (i == 0 || c[i - 1] != '\r'))
			bare++;
	*nomem = false;
	if (bare == 0)
		return NULL;
	unsigned char *o = pg_arena_alloc(a, n + bare);
	if (o == NULL) {
		*nomem = true;
		return NULL;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (c[i] == '\n' && (i == 0 || c[i - 1] != '\r'))
			o[k++] = '\r';
		o[k++] = c[i];
	}
	*outlen = k;
	return o;
}

static int64_t signing_time(CMS_SignerInfo *si)
{
	int idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
	if (idx < 0)
		return -1;
	X509_ATTRIBUTE *at = CMS_signed_get_attr(si, idx);
	ASN1_TYPE *t = at ? X509_ATTRIBUTE_get0_type(at, 0) : NULL;
	if (t == NULL)
		return -1;
	if (t->type == V_ASN1_UTCTIME)
		return asn1_time_utc(t->value.utctime);
	if (t->type == V_ASN1_GENERALIZEDTIME)
		return asn1_time_utc(t->value.generalizedtime);
	return -1;
}

static bool try_verify(CMS_ContentInfo *cms, STACK_OF(X509) * certs, const unsigned char *c,
		       size_t n)
{
	/* A buffering filter on top of the memory BIO: CMS_verify in OpenSSL
	 * 3.0 copies a plain memory BIO into a temporary one and leaks that
	 * copy when CMS_dataInit fails (an unknown digest algorithm, found by
	 * fuzzing); with a filter on top it reads our BIO directly. */
	BIO *mem = BIO_new_mem_buf(c, (int)n);
	BIO *in = mem ? BIO_new(BIO_f_buffer()) : NULL;
	if (in == NULL) {
		BIO_free(mem);
		return false;
	}
	BIO_push(in, mem);
	int ok = CMS_verify(cms, certs, NULL, in, NULL, CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY);
	BIO_free_all(in);
	ERR_clear_error();
	return ok == 1;
}

pg_status pg_smime_verify_detached(pg_arena *a, const void *content, size_t clen, const void *sig,
				   size_t slen, STACK_OF(X509) * extra, pg_sig_result *out)
{
	memset(out, 0, sizeof(*out));
	out->signing_time = -1;
	pg_status st = PG_OK;
	STACK_OF(X509) *certs = NULL;
	STACK_OF(X509) *embedded = NULL;
	const unsigned char *p = sig;

	if (clen > (size_t)0x7fffffff || slen > (size_t)0x7fffffff) {
		out->status = PG_SIG_UNREADABLE;
		snprintf(out->detail, sizeof(out->detail), "signed content too large");
		return PG_OK;
	}
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)slen);
	if (cms == NULL) {
		out->status = PG_SIG_UNREADABLE;
		snprintf(out->detail, sizeof(out->detail), "not a DER CMS/PKCS#7 structure");
		goto done;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		out->status = PG_SIG_UNREADABLE;
		snprintf(out->detail, sizeof(out->detail), "CMS content type %s, not signedData",
			 OBJ_nid2sn(OBJ_obj2nid(CMS_get0_type(cms))));
		goto done;
	}
	ASN1_OCTET_STRING **pos = CMS_get0_content(cms);
	if (pos != NULL && *pos != NULL) {
		out->status = PG_SIG_UNREADABLE;
		snprintf(out->detail, sizeof(out->detail),
			 "signedData carries its content: not a detached signature");
		goto done;
	}
	STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
	if (sis == NULL || sk_CMS_SignerInfo_num(sis) == 0) {
		out->status = PG_SIG_NO_SIGNER;
		snprintf(out->detail, sizeof(out->detail), "signedData has no signer");
		goto done;
	}

	/* Candidate certificates: those the CMS embeds, then the index's. */
	certs = sk_X509_new_null();
	if (certs == NULL) {
		st = PG_ERR_NOMEM;
		goto done;
	}
	embedded = CMS_get1_certs(cms);
	for (int i = 0; embedded && i < sk_X509_num(embedded); i++)
		if (!sk_X509_push(certs, sk_X509_value(embedded, i))) {
			st = PG_ERR_NOMEM;
			goto done;
		}
	for (int i = 0; extra && i < sk_X509_num(extra); i++)
		if (!sk_X509_push(certs, sk_X509_value(extra, i))) {
			st = PG_ERR_NOMEM;
			goto done;
		}

	/* PEC providers sign with one signer; the first one is the signer. */
	CMS_SignerInfo *si = sk_CMS_SignerInfo_value(sis, 0);
	X509 *signer = NULL;
	for (int i = 0; i < sk_X509_num(certs); i++) {
		if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(certs, i)) == 0) {
			signer = sk_X509_value(certs, i);
			break;
		}
	}
	out->signing_time = signing_time(si);
	X509_ALGOR *dig = NULL;
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, NULL);
	if (dig != NULL) {
		const ASN1_OBJECT *obj = NULL;
		X509_ALGOR_get0(&obj, NULL, NULL, dig);
		int nid = OBJ_obj2nid(obj);
		out->digest = nid != NID_undef ? OBJ_nid2sn(nid) : "unknown";
	}
	if (signer == NULL) {
		out->status = PG_SIG_NO_SIGNER;
		snprintf(out->detail, sizeof(out->detail),
			 "the signer's certificate is neither in the signature nor in the index");
		goto done;
	}
	if (!X509_up_ref(signer)) {
		st = PG_ERR_NOMEM;
		goto done;
	}
	out->signer = signer;
	if (pg_arena_defer(a, free_x509, signer) != 0) {
		out->signer = NULL;
		st = PG_ERR_NOMEM;
		goto done;
	}
	pg_x509_sha1(signer, out->sha1);

	bool nomem = false;
	size_t canon_len = 0;
	const unsigned char *canon = canonical_crlf(a, content, clen, &canon_len, &nomem);
	if (nomem) {
		st = PG_ERR_NOMEM;
		goto done;
	}
	if (canon == NULL) {
		canon = content;
		canon_len = clen;
	}
	if (try_verify(cms, certs, canon, canon_len)) {
		out->status = PG_SIG_OK;
		out->form = "crlf";
		out->nbytes = canon_len;
		goto done;
	}
	if (canon != content && try_verify(cms, certs, content, clen)) {
		out->status = PG_SIG_OK;
		out->form = "binary";
		out->nbytes = clen;
		goto done;
	}
	/* Which part failed: the signature over the signed attributes (a
	 * forged or corrupted signature), or the digest of the content (the
	 * content was altered after signing)? */
	if (CMS_signed_get_attr_count(si) > 0) {
		CMS_SignerInfo_set1_signer_cert(si, signer);
		int sig_ok = CMS_SignerInfo_verify(si);
		ERR_clear_error();
		if (sig_ok == 1) {
			out->status = PG_SIG_DIGEST_MISMATCH;
			snprintf(out->detail, sizeof(out->detail),
				 "the %s digest of the signed content does not match: content "
				 "altered",
				 out->digest ? out->digest : "message");
		} else {
			out->status = PG_SIG_INVALID;
			snprintf(out->detail, sizeof(out->detail),
				 "the signature value does not verify with the signer's key");
		}
	} else {
		out->status = PG_SIG_DIGEST_MISMATCH;
		snprintf(out->detail, sizeof(out->detail),
			 "signature without signed attributes does not verify over the content");
	}
done:
	sk_X509_free(certs);
	sk_X509_pop_free(embedded, X509_free);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return st;
}
