#include "pec/classify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ptime.h"
#include "util/str.h"

/* ---- reasons ------------------------------------------------------------- */

pg_status pg_reasons_add(pg_reasons *r, const char *code, const char *fmt, ...)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 8;
		const char **nv = pg_arena_alloc(r->a, cap * sizeof(*nv));
		if (nv == NULL)
			return PG_ERR_NOMEM;
		if (r->n)
			memcpy(nv, r->v, r->n * sizeof(*nv));
		r->v = nv;
		r->cap = cap;
	}
	char *s;
	if (fmt == NULL) {
		s = pg_arena_strdup(r->a, code);
	} else {
		va_list ap;
		va_start(ap, fmt);
		char *d = pg_arena_vprintf(r->a, fmt, ap);
		va_end(ap);
		s = d ? pg_arena_printf(r->a, "%s: %s", code, d) : NULL;
	}
	if (s == NULL)
		return PG_ERR_NOMEM;
	r->v[r->n++] = s;
	return PG_OK;
}

/* Is reason the code, or the code with a detail ("code: ...")? */
static bool reason_is(const char *reason, const char *code)
{
	size_t n = strlen(code);
	return strncmp(reason, code, n) == 0 && (reason[n] == '\0' || reason[n] == ':');
}

bool pg_reasons_has(const pg_reasons *r, const char *code)
{
	for (size_t i = 0; i < r->n; i++)
		if (reason_is(r->v[i], code))
			return true;
	return false;
}

int pg_reason_is_evidence(const char *reason)
{
	static const char *const codes[] = {"marker",
					    "signature-valid",
					    "signer-in-index",
					    "certificate-valid-at",
					    "daticert-consistent",
					    "daticert-absent",
					    "sender-domain-managed",
					    "no-pec-markers",
					    "embedded-signature",
					    NULL};
	for (int i = 0; codes[i]; i++)
		if (reason_is(reason, codes[i]))
			return 1;
	return 0;
}

/* ---- PEC vocabulary ---------------------------------------------------- */

static const char *const receipt_types[] = {
	"accettazione",    "non-accettazione",          "presa-in-carico",   "avvenuta-consegna",
	"errore-consegna", "preavviso-errore-consegna", "rilevazione-virus", NULL,
};

static bool receipt_type_known(const char *t)
{
	for (int i = 0; receipt_types[i]; i++)
		if (strcmp(t, receipt_types[i]) == 0)
			return true;
	return false;
}

/* Subject prefixes of provider messages (PEC.md §1-2).  Longest first where
 * one is the prefix of another. */
static const struct {
	const char *prefix;
	pg_class cls;
	const char *type;
} subject_prefixes[] = {
	{"POSTA CERTIFICATA:", PG_CLASS_PEC_ENVELOPE, "posta-certificata"},
	{"ANOMALIA MESSAGGIO:", PG_CLASS_PEC_ANOMALY, "errore"},
	{"ACCETTAZIONE:", PG_CLASS_PEC_RECEIPT, "accettazione"},
	{"AVVISO DI NON ACCETTAZIONE", PG_CLASS_PEC_RECEIPT, "non-accettazione"},
	{"PRESA IN CARICO:", PG_CLASS_PEC_RECEIPT, "presa-in-carico"},
	{"CONSEGNA:", PG_CLASS_PEC_RECEIPT, "avvenuta-consegna"},
	{"AVVISO DI MANCATA CONSEGNA ENTRO", PG_CLASS_PEC_RECEIPT, "preavviso-errore-consegna"},
	{"PREAVVISO DI MANCATA CONSEGNA", PG_CLASS_PEC_RECEIPT, "preavviso-errore-consegna"},
	{"AVVISO DI MANCATA CONSEGNA", PG_CLASS_PEC_RECEIPT, "errore-consegna"},
	{"PROBLEMA DI SICUREZZA:", PG_CLASS_PEC_RECEIPT, "rilevazione-virus"},
};

/* A header value trimmed and lower-cased into the arena, or NULL. */
static const char *header_token(pg_arena *a, const pg_part *root, const char *name)
{
	const char *v = pg_part_header(root, name);
	if (v == NULL)
		return NULL;
	size_t n;
	const char *t = pg_trim(v, &n);
	char *c = pg_arena_strndup(a, t, n);
	return c ? pg_strlower(c) : NULL;
}

/* "<id@host>" -> "id@host", blanks removed, for comparison. */
static const char *norm_msgid(pg_arena *a, const char *s)
{
	if (s == NULL)
		return NULL;
	char *o = pg_arena_alloc(a, strlen(s) + 1);
	if (o == NULL)
		return NULL;
	size_t k = 0;
	for (const char *p = s; *p; p++)
		if (*p != '<' && *p != '>' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			o[k++] = *p;
	o[k] = '\0';
	return o;
}

/* The address of "Per conto di: addr" in a display name, lower-case, or NULL. */
static const char *per_conto_di(pg_arena *a, const char *name)
{
	if (name == NULL)
		return NULL;
	size_t n;
	const char *t = pg_trim(name, &n);
	if (!pg_startswith_ci(t, "per conto di"))
		return NULL;
	const char *p = t + 12;
	while (*p == ':' || *p == ' ' || *p == '\t')
		p++;
	size_t len = n - (size_t)(p - t);
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '"'))
		len--;
	if (len > 1 && p[0] == '<' && p[len - 1] == '>') {
		p++;
		len -= 2;
	}
	char *c = pg_arena_strndup(a, p, len);
	return c ? pg_strlower(c) : NULL;
}

static bool is_local(const char *addr, const char *local)
{
	size_t n = strlen(local);
	return addr != NULL && strncmp(addr, local, n) == 0 && addr[n] == '@';
}

/* Depth-first search of an entity's subtree, not entering nested messages. */
static const pg_part *find_named(const pg_part *p, const char *filename)
{
	if (p->filename != NULL && pg_streq_ci(p->filename, filename))
		return p;
	for (size_t i = 0; i < p->nchildren; i++) {
		const pg_part *r = find_named(p->children[i], filename);
		if (r != NULL)
			return r;
	}
	return NULL;
}

static const pg_part *find_type(const pg_part *p, const char *ctype)
{
	if (strcmp(p->ctype, ctype) == 0)
		return p;
	for (size_t i = 0; i < p->nchildren; i++) {
		const pg_part *r = find_type(p->children[i], ctype);
		if (r != NULL)
			return r;
	}
	return NULL;
}

static bool is_sig_type(const char *ct)
{
	return strcmp(ct, "application/pkcs7-signature") == 0 ||
	       strcmp(ct, "application/x-pkcs7-signature") == 0;
}

static bool is_opaque_type(const char *ct)
{
	return strcmp(ct, "application/pkcs7-mime") == 0 ||
	       strcmp(ct, "application/x-pkcs7-mime") == 0;
}

/* ---- the classifier ------------------------------------------------------ */

struct ctx {
	pg_arena *a;
	const pg_msg *m;
	const pg_part *root;
	pg_providers *idx;
	pg_classification *out;
	int failures;
	/* markers and claims */
	const char *xt, *xr;
	const char *subject;
	const char *from_name, *from_addr;
	const char *on_behalf; /* "Per conto di" sender */
	pg_class subj_cls;
	const char *subj_type;
	const pg_part *daticert_part; /* anywhere in the top message */
};

#define TRY(x)                                                                                     \
	do {                                                                                       \
		pg_status st_ = (x);                                                               \
		if (st_ != PG_OK)                                                                  \
			return st_;                                                                \
	} while (0)

static pg_status fail(struct ctx *c, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static pg_status fail(struct ctx *c, const char *code, const char *fmt, ...)
{
	c->failures++;
	if (fmt == NULL)
		return pg_reasons_add(&c->out->reasons, code, NULL);
	va_list ap;
	va_start(ap, fmt);
	char *d = pg_arena_vprintf(c->a, fmt, ap);
	va_end(ap);
	if (d == NULL)
		return PG_ERR_NOMEM;
	return pg_reasons_add(&c->out->reasons, code, "%s", d);
}

static pg_status read_markers(struct ctx *c, int *nmarkers)
{
	const pg_part *r = c->root;
	c->xt = header_token(c->a, r, "X-Trasporto");
	c->xr = header_token(c->a, r, "X-Ricevuta");
	c->subject = pg_part_header(r, "Subject");
	pg_msg_from(c->m, &c->from_name, &c->from_addr);
	c->on_behalf = per_conto_di(c->a, c->from_name);
	c->subj_cls = PG_CLASS_PEO;
	if (c->subject != NULL) {
		size_t n;
		const char *s = pg_trim(c->subject, &n);
		for (size_t i = 0; i < sizeof(subject_prefixes) / sizeof(subject_prefixes[0]);
		     i++) {
			if (pg_startswith_ci(s, subject_prefixes[i].prefix)) {
				c->subj_cls = subject_prefixes[i].cls;
				c->subj_type = subject_prefixes[i].type;
				break;
			}
		}
	}
	c->daticert_part = find_named(r, "daticert.xml");

	pg_reasons *rs = &c->out->reasons;
	int n = 0;
	if (c->xt != NULL) {
		n++;
		TRY(pg_reasons_add(rs, "marker", "X-Trasporto: %s", c->xt));
	}
	if (c->xr != NULL) {
		n++;
		TRY(pg_reasons_add(rs, "marker", "X-Ricevuta: %s", c->xr));
	}
	/* A PEC subject counts only from a provider's address: ordinary mail
	 * may well be titled "Consegna: ...". */
	bool provider_sender = is_local(c->from_addr, "posta-certificata") || c->on_behalf != NULL;
	if (c->subj_cls != PG_CLASS_PEO && provider_sender) {
		n++;
		TRY(pg_reasons_add(rs, "marker", "subject prefix of a %s from %s",
				   pg_class_name(c->subj_cls), c->from_addr ? c->from_addr : "?"));
	}
	if (c->on_behalf != NULL) {
		n++;
		TRY(pg_reasons_add(rs, "marker", "From \"Per conto di: %s\"", c->on_behalf));
	}
	if (c->daticert_part != NULL) {
		n++;
		TRY(pg_reasons_add(rs, "marker", "daticert.xml attached"));
	}
	*nmarkers = n;
	return PG_OK;
}

/* What the markers claim: headers first, then the subject, then daticert. */
static void decide_claim(struct ctx *c)
{
	pg_classification *o = c->out;
	if (c->xr != NULL) {
		o->claimed = PG_CLASS_PEC_RECEIPT;
		o->claimed_type = c->xr;
	} else if (c->xt != NULL) {
		o->claimed =
			strcmp(c->xt, "errore") == 0 ? PG_CLASS_PEC_ANOMALY : PG_CLASS_PEC_ENVELOPE;
		o->claimed_type = c->xt;
	} else if (c->subj_cls != PG_CLASS_PEO) {
		o->claimed = c->subj_cls;
		o->claimed_type = c->subj_type;
	} else {
		o->claimed = PG_CLASS_PEC_ENVELOPE;
		o->claimed_type = NULL;
	}
}

/* Verifies a multipart/signed entity; fills out->sig. */
static pg_status verify_signed(struct ctx *c, const pg_part *signedp, bool *ok)
{
	*ok = false;
	const pg_part *content = signedp->children[0];
	const pg_part *sigp = signedp->children[1];
	size_t clen = 0, slen = 0;
	const char *cbytes = pg_part_raw(content, &clen);
	const unsigned char *sbytes = pg_part_content(sigp, &slen);
	if (cbytes == NULL)
		return fail(c, "malformed-multipart-signed",
			    "the exact bytes of the signed part could not be delimited");
	if (sbytes == NULL || slen == 0)
		return fail(c, "signature-unreadable", "the signature part is empty");
	pg_classification *o = c->out;
	TRY(pg_smime_verify_detached(c->a, cbytes, clen, sbytes, slen, pg_providers_certs(c->idx),
				     &o->sig));
	o->have_sig = true;
	if (o->sig.signer != NULL)
		o->signer_subject = pg_x509_subject(c->a, o->sig.signer);
	switch (o->sig.status) {
	case PG_SIG_OK:
		*ok = true;
		return pg_reasons_add(&o->reasons, "signature-valid", "%s over %zu bytes (%s)",
				      o->sig.digest ? o->sig.digest : "?", o->sig.nbytes,
				      o->sig.form);
	case PG_SIG_UNREADABLE:
		return fail(c, "signature-unreadable", "%s", o->sig.detail);
	case PG_SIG_NO_SIGNER:
		return fail(c, "signer-unknown", "%s", o->sig.detail);
	case PG_SIG_DIGEST_MISMATCH:
		return fail(c, "signature-digest-mismatch", "%s", o->sig.detail);
	case PG_SIG_INVALID:
		return fail(c, "signature-invalid", "%s", o->sig.detail);
	}
	return PG_OK;
}

static pg_status check_signer(struct ctx *c, pg_time_mode mode, int64_t at, int64_t now)
{
	pg_classification *o = c->out;
	if (o->sig.signer == NULL)
		return PG_OK;
	char sha[60];
	pg_hex_upper(o->sig.sha1, 20, sha, true);
	const pg_provider *prov = pg_providers_find_sha1(c->idx, o->sig.sha1);
	o->signer_provider = prov;
	if (prov == NULL)
		TRY(fail(c, "signer-not-in-index", "%s (SHA-1 %s) is not in the providers' index",
			 o->signer_subject ? o->signer_subject : "signer", sha));
	else
		TRY(pg_reasons_add(&o->reasons, "signer-in-index", "%s (SHA-1 %s)", prov->name,
				   sha));

	int64_t t = now;
	const char *how = "now";
	if (mode == PG_TIME_FIXED) {
		t = at;
		how = "given time";
	} else if (mode == PG_TIME_SIGNING) {
		if (o->sig.signing_time >= 0) {
			t = o->sig.signing_time;
			how = "signing time";
		} else {
			how = "now (no signing time in the signature)";
		}
	}
	o->verified_at = t;
	char ts[32], nb[32], na[32];
	int64_t from = pg_x509_not_before(o->sig.signer), to = pg_x509_not_after(o->sig.signer);
	pg_time_format_iso8601(t, ts, sizeof(ts));
	pg_time_format_iso8601(from, nb, sizeof(nb));
	pg_time_format_iso8601(to, na, sizeof(na));
	if (from < 0 || to < 0)
		return fail(c, "certificate-invalid-dates",
			    "the certificate's validity cannot be read");
	if (t < from)
		return fail(c, "certificate-not-yet-valid", "at %s (%s); valid from %s to %s", ts,
			    how, nb, na);
	if (t > to)
		return fail(c, "certificate-expired", "at %s (%s); valid from %s to %s", ts, how,
			    nb, na);
	return pg_reasons_add(&o->reasons, "certificate-valid-at", "%s (%s); valid from %s to %s",
			      ts, how, nb, na);
}

static pg_status check_daticert(struct ctx *c, const pg_part *signed_content, pg_class claimed)
{
	pg_classification *o = c->out;
	const pg_part *dp = find_named(signed_content, "daticert.xml");
	if (dp == NULL) {
		if (claimed == PG_CLASS_PEC_ANOMALY)
			return pg_reasons_add(&o->reasons, "daticert-absent",
					      "an anomaly envelope certifies no data");
		return fail(c, "daticert-missing", "no daticert.xml in the signed content");
	}
	size_t n;
	const unsigned char *x = pg_part_content(dp, &n);
	char err[256];
	pg_daticert *dc = NULL;
	pg_status st = pg_daticert_parse(c->a, x ? x : (const unsigned char *)"", x ? n : 0, &dc,
					 err, sizeof(err));
	if (st == PG_ERR_NOMEM)
		return st;
	if (st != PG_OK)
		return fail(c, "daticert-malformed", "%s", err);
	o->daticert = dc;
	int before = c->failures;

	/* The type the headers claim against the certified one.  An anomaly's
	 * data are not certified: only their form is checked. */
	if (claimed == PG_CLASS_PEC_ENVELOPE && strcmp(dc->tipo, "posta-certificata") != 0)
		TRY(fail(c, "daticert-type-mismatch", "X-Trasporto=%s vs postacert/@tipo=%s",
			 c->xt ? c->xt : "(none)", dc->tipo));
	if (claimed == PG_CLASS_PEC_RECEIPT && c->xr != NULL && strcmp(c->xr, dc->tipo) != 0)
		TRY(fail(c, "daticert-type-mismatch", "X-Ricevuta=%s vs postacert/@tipo=%s", c->xr,
			 dc->tipo));

	if (claimed != PG_CLASS_PEC_ANOMALY && dc->msgid != NULL) {
		const char *hdr = pg_part_header(c->root, "X-Riferimento-Message-ID");
		const char *a = norm_msgid(c->a, hdr), *b = norm_msgid(c->a, dc->msgid);
		if (a == NULL || b == NULL) {
			if (hdr != NULL || dc->msgid == NULL)
				return PG_ERR_NOMEM;
			TRY(fail(c, "daticert-msgid-mismatch",
				 "no X-Riferimento-Message-ID header; dati/msgid=%s", dc->msgid));
		} else if (strcmp(a, b) != 0) {
			TRY(fail(c, "daticert-msgid-mismatch",
				 "X-Riferimento-Message-ID=%s vs dati/msgid=%s", hdr, dc->msgid));
		}
	}
	if (claimed == PG_CLASS_PEC_ENVELOPE) {
		if (c->on_behalf == NULL)
			TRY(fail(c, "daticert-sender-mismatch",
				 "From has no \"Per conto di\" sender; intestazione/mittente=%s",
				 dc->mittente));
		else if (!pg_streq_ci(c->on_behalf, dc->mittente))
			TRY(fail(c, "daticert-sender-mismatch",
				 "From \"Per conto di: %s\" vs intestazione/mittente=%s",
				 c->on_behalf, dc->mittente));
	}
	if (c->failures == before)
		TRY(pg_reasons_add(&o->reasons, "daticert-consistent", "postacert/@tipo=%s%s%s",
				   dc->tipo, dc->msgid ? ", msgid=" : "",
				   dc->msgid ? dc->msgid : ""));
	return PG_OK;
}

static const pg_part *find_postacert(const pg_part *signed_content)
{
	const pg_part *p = find_named(signed_content, "postacert.eml");
	if (p != NULL && p->is_message)
		return p;
	/* Some providers name it otherwise; the message/rfc822 child of the
	 * certification multipart is the original. */
	for (size_t i = 0; i < signed_content->nchildren; i++)
		if (signed_content->children[i]->is_message)
			return signed_content->children[i];
	return p;
}

static pg_status check_domain(struct ctx *c, pg_class claimed)
{
	pg_classification *o = c->out;
	if (o->signer_provider == NULL)
		return PG_OK;
	/* An envelope is sent on behalf of a user of the signing provider; a
	 * receipt or an anomaly comes from the provider's own address. */
	const char *who = claimed == PG_CLASS_PEC_ENVELOPE
				  ? (c->on_behalf ? c->on_behalf
						  : (o->daticert ? o->daticert->mittente : NULL))
				  : c->from_addr;
	const char *dom = pg_addr_domain(c->a, who);
	if (dom == NULL)
		return fail(c, "sender-domain-not-managed", "no sender address to check");
	if (!pg_provider_manages(o->signer_provider, dom))
		return fail(c, "sender-domain-not-managed",
			    "%s is not among the managedDomains of %s", dom,
			    o->signer_provider->name);
	return pg_reasons_add(&o->reasons, "sender-domain-managed", "%s by %s", dom,
			      o->signer_provider->name);
}

/* The top level is not multipart/signed: say precisely what it is. */
static pg_status explain_unsigned(struct ctx *c)
{
	const pg_part *r = c->root;
	if (is_opaque_type(r->ctype))
		return fail(c, "not-multipart-signed",
			    "top level is %s (opaque S/MIME), not the multipart/signed PEC format",
			    r->ctype);
	const pg_part *nested = find_type(r, "multipart/signed");
	if (nested == NULL)
		return fail(c, "not-signed", "top level is %s, no multipart/signed", r->ctype);
	TRY(fail(c, "signed-not-top-level",
		 "a multipart/signed entity lies at depth %u inside %s: the signature does not "
		 "cover the headers and structure around it",
		 nested->depth - r->depth, r->ctype));
	/* Say, for the record, whether the embedded entity verifies. */
	if (nested->nchildren == 2 && is_sig_type(nested->children[1]->ctype)) {
		size_t clen = 0, slen = 0;
		const char *cb = pg_part_raw(nested->children[0], &clen);
		const unsigned char *sb = pg_part_content(nested->children[1], &slen);
		if (cb != NULL && sb != NULL && slen > 0) {
			pg_sig_result r2;
			TRY(pg_smime_verify_detached(c->a, cb, clen, sb, slen,
						     pg_providers_certs(c->idx), &r2));
			const pg_provider *p2 =
				r2.signer ? pg_providers_find_sha1(c->idx, r2.sha1) : NULL;
			TRY(pg_reasons_add(&c->out->reasons, "embedded-signature", "%s; signer %s",
					   r2.status == PG_SIG_OK ? "verifies" : "does not verify",
					   p2 ? p2->name : "not in the index"));
		}
	}
	return PG_OK;
}

pg_status pg_classify(pg_arena *a, const pg_msg *m, pg_providers *idx, pg_time_mode mode,
		      int64_t at, int64_t now, pg_classification *out)
{
	memset(out, 0, sizeof(*out));
	out->reasons.a = a;
	out->verified_at = -1;
	out->cls = PG_CLASS_PEO;
	out->claimed = PG_CLASS_PEO;
	struct ctx c = {.a = a, .m = m, .root = pg_msg_root(m), .idx = idx, .out = out};
	if (c.root == NULL)
		return pg_reasons_add(&out->reasons, "no-pec-markers", "empty message");

	int markers = 0;
	TRY(read_markers(&c, &markers));

	/* A signature by a listed provider is a marker too; other signed mail
	 * (a user's own S/MIME) stays ordinary unless it has other markers. */
	const pg_part *r = c.root;
	bool top_signed = strcmp(r->ctype, "multipart/signed") == 0;
	bool shape_ok = false;
	if (top_signed && r->nchildren == 2 && is_sig_type(r->children[1]->ctype) &&
	    !is_sig_type(r->children[0]->ctype))
		shape_ok = true;

	if (markers == 0) {
		if (!shape_ok) {
			const char *copied = NULL;
			if (pg_part_header(r, "X-Riferimento-Message-ID") != NULL ||
			    pg_part_header(r, "X-TipoRicevuta") != NULL)
				copied = "X-Riferimento-Message-ID/X-TipoRicevuta alone (as copied "
					 "into "
					 "postacert.eml) do not make PEC";
			return pg_reasons_add(&out->reasons, "no-pec-markers", copied ? "%s" : NULL,
					      copied);
		}
		/* Signed: PEC only if the signer is a listed provider. */
		size_t clen = 0, slen = 0;
		const char *cb = pg_part_raw(r->children[0], &clen);
		const unsigned char *sb = pg_part_content(r->children[1], &slen);
		pg_sig_result probe = {0};
		if (cb != NULL && sb != NULL && slen > 0)
			TRY(pg_smime_verify_detached(a, cb, clen, sb, slen, pg_providers_certs(idx),
						     &probe));
		if (probe.signer == NULL || pg_providers_find_sha1(idx, probe.sha1) == NULL)
			return pg_reasons_add(
				&out->reasons, "no-pec-markers",
				"S/MIME signed by a certificate not in the providers' "
				"index: ordinary signed mail");
		TRY(pg_reasons_add(&out->reasons, "marker", "signed by a listed provider"));
	}

	decide_claim(&c);
	pg_class claimed = out->claimed;

	/* The type named by the headers must be one PEC knows. */
	if (c.xr == NULL && c.xt == NULL)
		TRY(fail(&c, "pec-header-missing", "neither X-Trasporto nor X-Ricevuta"));
	else if (c.xr != NULL && !receipt_type_known(c.xr))
		TRY(fail(&c, "pec-type-unknown", "X-Ricevuta: %s", c.xr));
	else if (c.xr == NULL && strcmp(c.xt, "posta-certificata") != 0 &&
		 strcmp(c.xt, "errore") != 0)
		TRY(fail(&c, "pec-type-unknown", "X-Trasporto: %s", c.xt));

	if (!top_signed) {
		TRY(explain_unsigned(&c));
	} else if (!shape_ok) {
		const char *detail = r->nchildren != 2 ? "it must have exactly two parts"
				     : is_sig_type(r->children[0]->ctype)
					     ? "the signature is the first part, not the second"
					     : "the second part is not application/pkcs7-signature";
		TRY(fail(&c, "malformed-multipart-signed", "%s (found %zu part%s: %s%s%s)", detail,
			 r->nchildren, r->nchildren == 1 ? "" : "s",
			 r->nchildren > 0 ? r->children[0]->ctype : "none",
			 r->nchildren > 1 ? ", " : "",
			 r->nchildren > 1 ? r->children[1]->ctype : ""));
	} else {
		const char *proto = NULL;
		GMimeContentType *ct = g_mime_object_get_content_type(r->obj);
		if (ct != NULL)
			proto = g_mime_content_type_get_parameter(ct, "protocol");
		if (proto == NULL || !is_sig_type(pg_strlower(pg_arena_strdup(a, proto))))
			TRY(fail(&c, "malformed-multipart-signed",
				 "protocol parameter is %s, not application/pkcs7-signature",
				 proto ? proto : "missing"));
		bool sig_ok;
		TRY(verify_signed(&c, r, &sig_ok));
		TRY(check_signer(&c, mode, at, now));
		const pg_part *sc = r->children[0];
		TRY(check_daticert(&c, sc, claimed));
		const pg_part *pc = find_postacert(sc);
		if (pc != NULL && pc->inner != NULL) {
			out->inner = pc->inner;
		} else if (claimed == PG_CLASS_PEC_ENVELOPE || claimed == PG_CLASS_PEC_ANOMALY) {
			TRY(fail(&c, "postacert-missing", "%s",
				 pc ? "postacert.eml could not be parsed as a message"
				    : "no postacert.eml (message/rfc822) in the signed content"));
		}
		TRY(check_domain(&c, claimed));
	}

	if (c.failures == 0) {
		out->cls = claimed;
		out->pec_type = out->claimed_type;
		out->provider = out->signer_provider;
		out->claimed = PG_CLASS_PEO;
		out->claimed_type = NULL;
	} else {
		out->cls = PG_CLASS_INVALID_PEC;
		out->inner = NULL;
	}
	return PG_OK;
}

/* Looks for "\nName:" in the header block of raw bytes (first blank line
 * or 1 MiB).  Returns the trimmed lower-case value or NULL. */
static const char *sniff_header(pg_arena *a, const char *d, size_t len, const char *name)
{
	size_t lim = len < (1u << 20) ? len : (1u << 20);
	size_t nl = strlen(name);
	size_t p = 0;
	while (p < lim) {
		const char *e = memchr(d + p, '\n', lim - p);
		size_t le = e ? (size_t)(e - d) : lim;
		size_t ll = le - p;
		if (ll > 0 && d[le - 1] == '\r')
			ll--;
		if (ll == 0)
			break;
		if (ll > nl && d[p + nl] == ':' && pg_strneq_ci(d + p, name, nl)) {
			size_t vs = p + nl + 1, ve = p + ll;
			while (vs < ve && (d[vs] == ' ' || d[vs] == '\t'))
				vs++;
			while (ve > vs && (d[ve - 1] == ' ' || d[ve - 1] == '\t'))
				ve--;
			char *v = pg_arena_strndup(a, d + vs, ve - vs);
			return v ? pg_strlower(v) : NULL;
		}
		p = le + 1;
	}
	return NULL;
}

pg_status pg_classify_unparsed(pg_arena *a, const char *data, size_t len, pg_status why,
			       const char *errmsg, pg_classification *out)
{
	memset(out, 0, sizeof(*out));
	out->reasons.a = a;
	out->verified_at = -1;
	const char *xt = sniff_header(a, data, len, "X-Trasporto");
	const char *xr = sniff_header(a, data, len, "X-Ricevuta");
	TRY(pg_reasons_add(&out->reasons, "limit-exceeded", "%s (%s)", errmsg ? errmsg : "",
			   pg_status_name(why)));
	if (xt == NULL && xr == NULL) {
		out->cls = PG_CLASS_PEO;
		return PG_OK;
	}
	/* Markers but nothing verifiable: never a valid PEC class. */
	out->cls = PG_CLASS_INVALID_PEC;
	if (xr != NULL) {
		out->claimed = PG_CLASS_PEC_RECEIPT;
		out->claimed_type = xr;
	} else {
		out->claimed =
			strcmp(xt, "errore") == 0 ? PG_CLASS_PEC_ANOMALY : PG_CLASS_PEC_ENVELOPE;
		out->claimed_type = xt;
	}
	return pg_reasons_add(&out->reasons, "marker", "%s: %s", xr ? "X-Ricevuta" : "X-Trasporto",
			      xr ? xr : xt);
}
