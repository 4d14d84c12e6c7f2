#include "pec/notice.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gmime/gmime.h>
#include <libxml/xmlwriter.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "util/ptime.h"
#include "util/str.h"

struct pg_notice_key {
	X509 *cert;
	EVP_PKEY *key;
};

static void ssl_reason(char *err, size_t errlen, const char *what, const char *path)
{
	unsigned long e = ERR_peek_last_error();
	char r[256] = "";
	if (e != 0)
		ERR_error_string_n(e, r, sizeof(r));
	ERR_clear_error();
	pg_errf(err, errlen, "%s %s: %s", what, path, r[0] ? r : "unreadable");
}

pg_status pg_notice_key_load(const char *cert_path, const char *key_path, pg_notice_key **out,
			     char *err, size_t errlen)
{
	pg_notice_key *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return PG_ERR_NOMEM;
	FILE *f = fopen(cert_path, "r");
	if (f == NULL) {
		pg_errf(err, errlen, "certificate %s: cannot read", cert_path);
		goto fail;
	}
	k->cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (k->cert == NULL) {
		ssl_reason(err, errlen, "certificate", cert_path);
		goto fail;
	}
	f = fopen(key_path, "r");
	if (f == NULL) {
		pg_errf(err, errlen, "key %s: cannot read", key_path);
		goto fail;
	}
	k->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k->key == NULL) {
		ssl_reason(err, errlen, "key", key_path);
		goto fail;
	}
	if (X509_check_private_key(k->cert, k->key) != 1) {
		ERR_clear_error();
		pg_errf(err, errlen, "key %s does not belong to the certificate %s", key_path,
			cert_path);
		goto fail;
	}
	*out = k;
	return PG_OK;
fail:
	pg_notice_key_free(k);
	return PG_ERR_CONFIG;
}

void pg_notice_key_free(pg_notice_key *k)
{
	if (k == NULL)
		return;
	X509_free(k->cert);
	EVP_PKEY_free(k->key);
	free(k);
}

X509 *pg_notice_key_cert(const pg_notice_key *k)
{
	return k->cert;
}

/* ---- text ------------------------------------------------------------------ */

/* A copy fit for a header field or XML: valid UTF-8 (invalid sequences
 * become U+FFFD), control characters (line breaks included: no header
 * injection) a space, leading and trailing blanks trimmed.  malloc'd. */
static char *clean(const char *s)
{
	if (s == NULL)
		s = "";
	char *u = pg_utf8_sanitize(s, strlen(s));
	if (u == NULL)
		return NULL;
	for (char *p = u; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	size_t n;
	const char *t = pg_trim(u, &n);
	memmove(u, t, n);
	u[n] = '\0';
	return u;
}

/* Base64 of n bytes in lines of 76 characters, CRLF after each. */
static void b64_lines(FILE *o, const unsigned char *d, size_t n)
{
	unsigned char line[80];
	for (size_t i = 0; i < n; i += 57) {
		size_t k = n - i < 57 ? n - i : 57;
		int w = EVP_EncodeBlock(line, d + i, (int)k);
		fwrite(line, 1, (size_t)w, o);
		fputs("\r\n", o);
	}
}

/* "Subject: PROBLEMA DI SICUREZZA: " and v, RFC 2047-encoded where it is
 * not ASCII and folded, by GMime (which decodes it back to the same
 * text), with CRLF line ends; no line end after the last line. */
static int subject_field(FILE *o, const char *v)
{
	char *enc = g_mime_utils_header_encode_text(NULL, v, "utf-8");
	char *field = enc ? g_strdup_printf("Subject: PROBLEMA DI SICUREZZA: %s", enc) : NULL;
	char *folded = field ? g_mime_utils_unstructured_header_fold(NULL, NULL, field) : NULL;
	g_free(enc);
	g_free(field);
	if (folded == NULL)
		return -1;
	size_t n = strlen(folded);
	while (n > 0 && (folded[n - 1] == '\n' || folded[n - 1] == '\r'))
		n--;
	for (size_t i = 0; i < n; i++) {
		if (folded[i] == '\n' && (i == 0 || folded[i - 1] != '\r'))
			fputc('\r', o);
		fputc(folded[i], o);
	}
	g_free(folded);
	return 0;
}

/* "gg/mm/aaaa", "hh:mm:ss" and "+hhmm" of t in the local time zone (the
 * provider's: Italy), as daticert.xml and the text give them. */
struct when {
	char giorno[16], ora[16], zona[8], rfc5322[48], stamp[16];
};

static void when_of(int64_t t, struct when *w)
{
	time_t tt = (time_t)t;
	struct tm tm;
	localtime_r(&tt, &tm);
	strftime(w->giorno, sizeof(w->giorno), "%d/%m/%Y", &tm);
	strftime(w->ora, sizeof(w->ora), "%H:%M:%S", &tm);
	strftime(w->zona, sizeof(w->zona), "%z", &tm);
	strftime(w->stamp, sizeof(w->stamp), "%Y%m%d%H%M%S", &tm);
	pg_time_format_rfc5322(t, w->rfc5322, sizeof(w->rfc5322));
}

/* ---- daticert.xml ---------------------------------------------------------- */

struct fields {
	char *gestore, *from, *to, *mittente, *risposte, *oggetto, *msgid, *virus, *ident;
	char **dest;
	size_t ndest;
	char **held;
	size_t nheld;
};

static void fields_free(struct fields *f)
{
	free(f->gestore);
	free(f->from);
	free(f->to);
	free(f->mittente);
	free(f->risposte);
	free(f->oggetto);
	free(f->msgid);
	free(f->virus);
	free(f->ident);
	for (size_t i = 0; i < f->ndest; i++)
		free(f->dest[i]);
	free(f->dest);
	for (size_t i = 0; i < f->nheld; i++)
		free(f->held[i]);
	free(f->held);
}

/* libxml2's writer escapes text and attribute values (&, <, >, quotes). */
static int write_daticert(const struct fields *f, const pg_notice_in *in, const struct when *w,
			  xmlBufferPtr xb)
{
	xmlTextWriterPtr x = xmlNewTextWriterMemory(xb, 0);
	if (x == NULL)
		return -1;
	int r = 0;
#define W(call)                                                                                    \
	do {                                                                                       \
		if (r >= 0 && (call) < 0)                                                          \
			r = -1;                                                                    \
	} while (0)
#define BX(s) ((const xmlChar *)(s))
	xmlTextWriterSetIndent(x, 1);
	xmlTextWriterSetIndentString(x, BX("    "));
	W(xmlTextWriterStartDocument(x, "1.0", "UTF-8", NULL));
	W(xmlTextWriterStartElement(x, BX("postacert")));
	W(xmlTextWriterWriteAttribute(x, BX("tipo"), BX("rilevazione-virus")));
	W(xmlTextWriterWriteAttribute(x, BX("errore"), BX("virus")));
	W(xmlTextWriterStartElement(x, BX("intestazione")));
	W(xmlTextWriterWriteElement(x, BX("mittente"), BX(f->mittente)));
	for (size_t i = 0; i < f->ndest; i++) {
		const char *tipo = in->dest[i].tipo && strcmp(in->dest[i].tipo, "esterno") == 0
					   ? "esterno"
					   : "certificato";
		W(xmlTextWriterStartElement(x, BX("destinatari")));
		W(xmlTextWriterWriteAttribute(x, BX("tipo"), BX(tipo)));
		W(xmlTextWriterWriteString(x, BX(f->dest[i])));
		W(xmlTextWriterEndElement(x));
	}
	W(xmlTextWriterWriteElement(x, BX("risposte"),
				    BX(f->risposte[0] ? f->risposte : f->mittente)));
	W(xmlTextWriterWriteElement(x, BX("oggetto"), BX(f->oggetto)));
	W(xmlTextWriterEndElement(x));
	W(xmlTextWriterStartElement(x, BX("dati")));
	W(xmlTextWriterWriteElement(x, BX("gestore-emittente"), BX(f->gestore)));
	W(xmlTextWriterStartElement(x, BX("data")));
	W(xmlTextWriterWriteAttribute(x, BX("zona"), BX(w->zona)));
	W(xmlTextWriterWriteElement(x, BX("giorno"), BX(w->giorno)));
	W(xmlTextWriterWriteElement(x, BX("ora"), BX(w->ora)));
	W(xmlTextWriterEndElement(x));
	W(xmlTextWriterWriteElement(x, BX("identificativo"), BX(f->ident)));
	W(xmlTextWriterWriteElement(x, BX("msgid"), BX(f->msgid)));
	if (f->nheld == 1)
		W(xmlTextWriterWriteElement(x, BX("consegna"), BX(f->held[0])));
	W(xmlTextWriterWriteElement(x, BX("errore-esteso"), BX(f->virus)));
	W(xmlTextWriterEndElement(x));
	W(xmlTextWriterEndElement(x));
	W(xmlTextWriterEndDocument(x));
#undef W
#undef BX
	xmlFreeTextWriter(x); /* flushes into xb */
	return r;
}

/* ---- signing ---------------------------------------------------------------- */

/* The micalg parameter (RFC 5751 §3.4.3.2) of a digest. */
static const char *micalg_of(const EVP_MD *md)
{
	switch (EVP_MD_get_type(md)) {
	case NID_sha1:
		return "sha-1";
	case NID_sha256:
		return "sha-256";
	case NID_sha384:
		return "sha-384";
	case NID_sha512:
		return "sha-512";
	}
	return "unknown";
}

/* Detached CMS SignedData (DER) over exactly [d, d+n): with signed
 * attributes (signingTime among them) and the signer certificate, so that
 * a verifier finds it without the index too.  malloc'd into *der. */
static int cms_sign(const pg_notice_key *k, const EVP_MD *md, const char *d, size_t n,
		    unsigned char **der, size_t *derlen)
{
	int ok = -1;
	unsigned flags = CMS_DETACHED | CMS_BINARY | CMS_PARTIAL;
	CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, flags);
	BIO *in = BIO_new_mem_buf(d, (int)n);
	unsigned char *p = NULL;
	if (cms == NULL || in == NULL || n > 0x7fffffff)
		goto out;
	if (CMS_add1_signer(cms, k->cert, k->key, md, CMS_BINARY) == NULL)
		goto out;
	if (CMS_final(cms, in, NULL, CMS_DETACHED | CMS_BINARY) != 1)
		goto out;
	int len = i2d_CMS_ContentInfo(cms, &p);
	if (len <= 0)
		goto out;
	*der = malloc((size_t)len);
	if (*der == NULL)
		goto out;
	memcpy(*der, p, (size_t)len);
	*derlen = (size_t)len;
	ok = 0;
out:
	OPENSSL_free(p);
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return ok;
}

int pg_notice_ident(const char *from, int64_t now, char *out, size_t n)
{
	unsigned char rnd[8];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		ERR_clear_error();
		return -1;
	}
	char hex[20];
	pg_hex_upper(rnd, sizeof(rnd), hex, false);
	struct when w;
	when_of(now, &w);
	const char *dom = from ? strrchr(from, '@') : NULL;
	dom = dom ? dom + 1 : "localhost";
	size_t dl = strcspn(dom, "> \t\r\n");
	int k = snprintf(out, n, "pecguard-virus.%s.%s@%.*s", w.stamp, hex, (int)dl, dom);
	return k > 0 && (size_t)k < n ? 0 : -1;
}

/* Closes a memory stream (its buffer is then complete); *o is NULL after. */
static int close_stream(FILE **o)
{
	int r = fclose(*o);
	*o = NULL;
	return r == 0 ? 0 : -1;
}

/* ---- the message -------------------------------------------------------------- */

/* Cleaned copies of n strings into *out (n slots, NULL where memory ran
 * out: fields_free frees what was made).  -1 when out of memory. */
static int clean_list(const char *const *v, size_t n, char ***out)
{
	*out = calloc(n ? n : 1, sizeof(char *));
	if (*out == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (((*out)[i] = clean(v[i])) == NULL)
			return -1;
	return 0;
}

pg_status pg_notice_build(const pg_notice_key *k, const pg_notice_in *in, char **out, size_t *len,
			  char *err, size_t errlen)
{
	if (k == NULL || in == NULL || in->gestore == NULL || in->from == NULL || in->to == NULL ||
	    in->mittente == NULL || in->msgid == NULL || in->virus == NULL) {
		pg_errf(err, errlen,
			"a notice needs our provider's name and address, the sending provider's "
			"mailReceipt, the original sender, Message-ID and the virus");
		return PG_ERR_INVALID;
	}
	pg_status st = PG_ERR_NOMEM;
	struct fields f = {0};
	char *ent = NULL, *msg = NULL;
	unsigned char *der = NULL;
	size_t entlen = 0, msglen = 0, derlen = 0;
	xmlBufferPtr xb = NULL;
	FILE *o = NULL;

	if ((f.gestore = clean(in->gestore)) == NULL || (f.from = clean(in->from)) == NULL ||
	    (f.to = clean(in->to)) == NULL || (f.mittente = clean(in->mittente)) == NULL ||
	    (f.risposte = clean(in->risposte)) == NULL || (f.oggetto = clean(in->oggetto)) == NULL ||
	    (f.msgid = clean(in->msgid)) == NULL || (f.virus = clean(in->virus)) == NULL)
		goto out;
	f.ndest = in->dest ? in->ndest : 0;
	f.dest = calloc(f.ndest ? f.ndest : 1, sizeof(char *));
	if (f.dest == NULL)
		goto out;
	for (size_t i = 0; i < f.ndest; i++)
		if ((f.dest[i] = clean(in->dest[i].addr)) == NULL)
			goto out;
	f.nheld = in->held ? in->nheld : 0;
	if (clean_list(in->held, f.nheld, &f.held) != 0)
		goto out;

	struct when w;
	when_of(in->now, &w);
	if (in->ident != NULL) {
		f.ident = clean(in->ident);
	} else {
		char id[320];
		if (pg_notice_ident(f.from, in->now, id, sizeof(id)) != 0) {
			st = PG_ERR_IO;
			pg_errf(err, errlen, "no random bytes for the notice's identifier");
			goto out;
		}
		f.ident = strdup(id);
	}
	if (f.ident == NULL)
		goto out;

	/* daticert.xml */
	xb = xmlBufferCreate();
	if (xb == NULL)
		goto out;
	if (write_daticert(&f, in, &w, xb) != 0) {
		st = PG_ERR_IO;
		pg_errf(err, errlen, "daticert.xml could not be written");
		goto out;
	}

	/* The human-readable text: Italian, as the certification texts are. */
	size_t textlen = 0;
	char *text = NULL;
	o = open_memstream(&text, &textlen);
	if (o == NULL)
		goto out;
	fprintf(o,
		"Avviso di rilevazione virus informatico\r\n\r\n"
		"Il giorno %s alle ore %s (%s) nel messaggio\r\n"
		"\"%s\" proveniente da \"%s\"\r\n"
		"ed indirizzato a:\r\n",
		w.giorno, w.ora, w.zona, f.oggetto, f.mittente);
	for (size_t i = 0; i < f.ndest; i++)
		fprintf(o, "%s\r\n", f.dest[i]);
	fprintf(o,
		"con identificativo %s\r\n"
		"è stato rilevato un virus informatico (%s).\r\n"
		"Il messaggio non è stato consegnato",
		f.msgid, f.virus);
	if (f.nheld > 0) {
		fputs(" a:\r\n", o);
		for (size_t i = 0; i < f.nheld; i++)
			fprintf(o, "%s\r\n", f.held[i]);
	} else {
		fputs(".\r\n", o);
	}
	fprintf(o,
		"Il messaggio è conservato dal gestore %s.\r\n"
		"Identificativo dell'avviso: %s\r\n",
		f.gestore, f.ident);
	if (close_stream(&o) != 0) {
		free(text);
		goto out;
	}

	/* The signed entity, CRLF throughout: these bytes are signed and
	 * transmitted as they are (both parts base64: nothing on the way
	 * re-encodes them). */
	unsigned char rb[12];
	if (RAND_bytes(rb, sizeof(rb)) != 1) {
		ERR_clear_error();
		free(text);
		st = PG_ERR_IO;
		pg_errf(err, errlen, "no random bytes for the MIME boundaries");
		goto out;
	}
	char bhex[32], bmix[64], bsig[64];
	pg_hex_upper(rb, sizeof(rb), bhex, false);
	snprintf(bmix, sizeof(bmix), "----=_pecguard_mix_%s", bhex);
	snprintf(bsig, sizeof(bsig), "----=_pecguard_sig_%s", bhex);
	o = open_memstream(&ent, &entlen);
	if (o == NULL) {
		free(text);
		goto out;
	}
	fprintf(o,
		"Content-Type: multipart/mixed; boundary=\"%s\"\r\n"
		"\r\n"
		"--%s\r\n"
		"Content-Type: text/plain; charset=\"utf-8\"\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"Content-Disposition: inline\r\n"
		"\r\n",
		bmix, bmix);
	b64_lines(o, (const unsigned char *)text, textlen);
	free(text);
	fprintf(o,
		"\r\n--%s\r\n"
		"Content-Type: application/xml; name=\"daticert.xml\"\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"Content-Disposition: inline; filename=\"daticert.xml\"\r\n"
		"\r\n",
		bmix);
	b64_lines(o, xmlBufferContent(xb), (size_t)xmlBufferLength(xb));
	fprintf(o, "\r\n--%s--\r\n", bmix);
	if (close_stream(&o) != 0)
		goto out;

	const EVP_MD *md = EVP_sha256();
	if (cms_sign(k, md, ent, entlen, &der, &derlen) != 0) {
		st = PG_ERR_IO;
		pg_errf(err, errlen, "signing the notice failed");
		goto out;
	}

	o = open_memstream(&msg, &msglen);
	if (o == NULL)
		goto out;
	/* Header fields as providers' receipts have them (PEC.md §2): from
	 * the provider's own address, no "Per conto di". */
	if (subject_field(o, f.oggetto) != 0) {
		pg_errf(err, errlen, "out of memory");
		goto out;
	}
	fprintf(o,
		"\r\n"
		"X-Riferimento-Message-ID: %s\r\n"
		"Date: %s\r\n"
		"Message-ID: <%s>\r\n"
		"To: %s\r\n"
		"From: %s\r\n"
		"X-Ricevuta: rilevazione-virus\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";\r\n"
		"\tmicalg=%s; boundary=\"%s\"\r\n"
		"\r\n"
		"This is an S/MIME signed message\r\n"
		"\r\n"
		"--%s\r\n",
		f.msgid, w.rfc5322, f.ident, f.to, f.from, micalg_of(md), bsig, bsig);
	fwrite(ent, 1, entlen, o);
	fprintf(o,
		"\r\n--%s\r\n"
		"Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"Content-Disposition: attachment; filename=\"smime.p7s\"\r\n"
		"\r\n",
		bsig);
	b64_lines(o, der, derlen);
	fprintf(o, "\r\n--%s--\r\n", bsig);
	if (close_stream(&o) != 0)
		goto out;
	*out = msg;
	*len = msglen;
	msg = NULL;
	st = PG_OK;
out:
	if (o != NULL)
		fclose(o);
	if (st == PG_ERR_NOMEM)
		pg_errf(err, errlen, "out of memory");
	free(msg);
	free(ent);
	free(der);
	if (xb != NULL)
		xmlBufferFree(xb);
	fields_free(&f);
	return st;
}
