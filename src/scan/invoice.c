/*
 * invoice.c - the fake e-invoice analyser (see invoice.h and
 * docs/analysers/invoice.md).
 *
 * Cost: on a message that mentions no invoice, one NFKC/casefold of the
 * subject and text (pg_text_fold), one pass of a precompiled Aho-Corasick
 * automaton over it (every phrase list at once), one scan for SdI file
 * names, and a look at attachment names.  Contents are decoded and parsed
 * only for attachments named as SdI files or as signed XML, or when the
 * message is about invoices and carries something risky.
 */
#include "scan/invoice.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlreader.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include "mime/text.h"
#include "scan/attach.h"
#include "util/str.h"

/* ---- characters -------------------------------------------------------------- */

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
	c |= 0x20;
	return c >= 'a' && c <= 'z';
}

static bool is_alnum(unsigned char c)
{
	return is_digit(c) || is_alpha(c);
}

static char upper(char c)
{
	return (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
}

/* Bytes of UTF-8 sequences count as letters: in Italian text a phrase is
 * bounded by ASCII blanks and punctuation only. */
static bool is_word(unsigned char c)
{
	return is_alnum(c) || c >= 0x80;
}

static bool in_set(const char *c, const char *const *set)
{
	for (size_t i = 0; set[i] != NULL; i++)
		if (strcmp(c, set[i]) == 0)
			return true;
	return false;
}

static const char *base_name(const char *name)
{
	const char *b = name;
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == '\\')
			b = p + 1;
	return b;
}

/* ---- SdI file names ------------------------------------------------------------ */

/* SdI notice types (PEC.md §6): the metadata file is MT. */
static const char *const notice_types[] = {"MT", "RC", "NS", "MC", "NE",
					   "DT", "AT", "EC", "SE", NULL};

/* Codice fiscale: letters (L), digits or their omocodia letters (N), and
 * the month letter (M).  The check character is not verified: the point
 * is the shape of a file name, not the validity of the code. */
static bool tax_code_n(const char *s, size_t n)
{
	static const char form[] = "LLLLLLNNMNNLNNNL";
	if (n < 16)
		return false;
	for (size_t i = 0; i < 16; i++) {
		char c = upper(s[i]);
		if (c == '\0')
			return false;
		switch (form[i]) {
		case 'L':
			if (!is_alpha((unsigned char)c))
				return false;
			break;
		case 'M':
			if (strchr("ABCDEHLMPRST", c) == NULL)
				return false;
			break;
		default:
			if (!is_digit((unsigned char)c) && strchr("LMNPQRSTUV", c) == NULL)
				return false;
		}
	}
	return true;
}

bool pg_invoice_is_tax_code(const char *s)
{
	return s != NULL && strnlen(s, 17) == 16 && tax_code_n(s, 16);
}

static bool ext_is(const char *s, size_t n, const char *ext)
{
	return strlen(ext) == n && pg_strneq_ci(s, ext, n);
}

/* An SdI file name starting at s[i]; offsets in *o are relative to s. */
static bool parse_at(const char *s, size_t n, size_t i, pg_invname *o)
{
	memset(o, 0, sizeof(*o));
	if (i > n || n - i < 15 || (s[i] | 0x20) != 'i' || (s[i + 1] | 0x20) != 't')
		return false;
	size_t p = i + 2, k = 0;
	while (p + k < n && k < 12 && is_digit((unsigned char)s[p + k]))
		k++;
	if (k == 11 && p + 11 < n && s[p + 11] == '_')
		p += 12;
	else if (n - p > 16 && s[p + 16] == '_' && tax_code_n(s + p, 16))
		p += 17;
	else
		return false;
	size_t q = 0;
	while (p + q < n && q < 6 && is_alnum((unsigned char)s[p + q]))
		q++;
	if (q == 0 || q > 5)
		return false;
	p += q;
	o->start = i;
	o->id_len = p - i;
	o->kind = PG_INVNAME_INVOICE;
	if (p < n && s[p] == '_') {
		/* _XX_nnn: an SdI notice or the metadata file */
		if (n - p < 7 || !is_alpha((unsigned char)s[p + 1]) ||
		    !is_alpha((unsigned char)s[p + 2]) || s[p + 3] != '_' ||
		    !is_digit((unsigned char)s[p + 4]) || !is_digit((unsigned char)s[p + 5]) ||
		    !is_digit((unsigned char)s[p + 6]))
			return false;
		char t[3] = {upper(s[p + 1]), upper(s[p + 2]), '\0'};
		if (!in_set(t, notice_types))
			return false;
		memcpy(o->type, t, sizeof(t));
		o->kind = strcmp(t, "MT") == 0 ? PG_INVNAME_METADATA : PG_INVNAME_NOTICE;
		p += 7;
	}
	if (p < n && (is_alnum((unsigned char)s[p]) || s[p] == '_')) {
		o->kind = PG_INVNAME_NONE;
		return false;
	}
	o->stem_len = p - i;
	/* Extensions: ".xml", ".p7m"..., at most four, each 1-8 letters or
	 * digits; a "." followed by a blank ends a sentence, not a name. */
	size_t e = p;
	for (int g = 0; g < 4 && e + 1 < n && s[e] == '.'; g++) {
		size_t z = 0;
		while (e + 1 + z < n && z < 9 && is_alnum((unsigned char)s[e + 1 + z]))
			z++;
		if (z == 0 || z > 8)
			break;
		e += 1 + z;
	}
	o->len = e - i;
	const char *x = s + p;
	size_t xl = e - p;
	o->ext_none = xl == 0;
	o->ext_xml = ext_is(x, xl, ".xml");
	o->ext_p7m = ext_is(x, xl, ".xml.p7m");
	o->ext_pdf = ext_is(x, xl, ".pdf");
	return true;
}

bool pg_invoice_parse_name(const char *name, size_t n, pg_invname *out)
{
	if (name != NULL && parse_at(name, n, 0, out) && out->len == n)
		return true;
	memset(out, 0, sizeof(*out));
	return false;
}

/* Has the word of eight bytes w a byte 'i' or 'I'?  (The classic test for
 * a zero byte, on w with the case bit set, xor "iiiiiiii"; only 'I' and 'i'
 * give 'i' with the case bit set.) */
static inline bool word_has_i(uint64_t w)
{
	uint64_t x = (w | 0x2020202020202020u) ^ 0x6969696969696969u;
	return ((x - 0x0101010101010101u) & ~x & 0x8080808080808080u) != 0;
}

bool pg_invoice_find_name(const char *text, size_t n, size_t from, pg_invname *out)
{
	for (size_t i = from; i < n && n - i >= 15; i++) {
		/* Most text has no "it": skip eight bytes without an 'i'. */
		uint64_t w;
		while (n - i >= 15 + 8 && (memcpy(&w, text + i, 8), !word_has_i(w)))
			i += 8;
		if ((text[i] | 0x20) != 'i')
			continue;
		if (i > 0 && is_alnum((unsigned char)text[i - 1]))
			continue;
		if (parse_at(text, n, i, out))
			return true;
	}
	memset(out, 0, sizeof(*out));
	return false;
}

/* ---- what an attachment could do -------------------------------------------- */

enum risk { RISK_NONE = 0, RISK_EXEC, RISK_IMAGE, RISK_MACRO, RISK_HTML, RISK_ARCHIVE };

static const char *const risk_names[] = {
	"", "executable or script", "disk image", "macro-capable Office file", "HTML", "archive"};

static const char *const ext_exec[] = {"exe", "scr", "com", "pif",  "bat", "cmd", "js",   "jse",
				       "vbs", "vbe", "wsf", "wsh",  "hta", "ps1", "psm1", "lnk",
				       "msi", "msp", "jar", "cpl",  "dll", "reg", "url",  "scf",
				       "inf", "sct", "chm", "appx", NULL};
static const char *const ext_image[] = {"iso", "img", "vhd", "vhdx", "dmg", "udf", NULL};
static const char *const ext_macro[] = {"docm", "dotm", "xlsm", "xltm", "xlsb", "xlam", "pptm",
					"potm", "ppam", "ppsm", "sldm", "xls",  "xlt",  "xla",
					"doc",  "dot",  "ppt",  "pps",  NULL};
static const char *const ext_html[] = {"html", "htm", "shtml", "xhtml",
				       "svg",  "mht", "mhtml", NULL};
static const char *const ext_archive[] = {"zip", "rar", "7z",   "gz",  "tgz", "tar", "bz2",
					  "xz",  "cab", "ace",  "arj", "lzh", "lha", "z",
					  "r00", "r01", "zipx", "uue", NULL};
/* Zip containers that are documents, not archives. */
static const char *const ext_zipdoc[] = {"docx", "xlsx", "pptx", "odt", "ods", "odp", "epub", NULL};

static enum risk ext_risk(const char *ext)
{
	if (in_set(ext, ext_exec))
		return RISK_EXEC;
	if (in_set(ext, ext_image))
		return RISK_IMAGE;
	if (in_set(ext, ext_macro))
		return RISK_MACRO;
	if (in_set(ext, ext_html))
		return RISK_HTML;
	if (in_set(ext, ext_archive))
		return RISK_ARCHIVE;
	return RISK_NONE;
}

/* The last extension of a name, lower case, without the dot. */
static bool final_ext(const char *name, char *out, size_t outlen)
{
	const char *dot = strrchr(name, '.');
	if (dot == NULL || dot[1] == '\0' || outlen == 0)
		return false;
	size_t n = strlen(dot + 1);
	if (n >= outlen)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_alnum((unsigned char)dot[1 + i]))
			return false;
		out[i] = pg_lower(dot[1 + i]);
	}
	out[n] = '\0';
	return true;
}

bool pg_invoice_misnamed(const char *name, char *ext, size_t extlen)
{
	if (ext != NULL && extlen > 0)
		ext[0] = '\0';
	if (name == NULL)
		return false;
	const char *b = base_name(name);
	char fx[16];
	if (!final_ext(b, fx, sizeof(fx)))
		return false;
	if (ext != NULL && extlen > 0)
		snprintf(ext, extlen, "%s", fx);
	size_t n = strlen(b);
	pg_invname nm;
	if (pg_invoice_parse_name(b, n, &nm))
		/* An SdI file is XML, signed XML, or a PDF copy of it. */
		return !(strcmp(fx, "xml") == 0 || strcmp(fx, "p7m") == 0 ||
			 strcmp(fx, "pdf") == 0);
	/* "fattura.xml.p7m.zip", "x.p7m.js": invoice extensions before a
	 * dangerous one. */
	if (ext_risk(fx) == RISK_NONE)
		return false;
	return pg_memmem_ci(b, n, ".xml.") != NULL || pg_memmem_ci(b, n, ".p7m.") != NULL;
}

/* What content is, whatever its name says. */
static enum risk sniff(const unsigned char *d, size_t n)
{
	if (d == NULL)
		return RISK_NONE;
	if (n >= 2 && d[0] == 'M' && d[1] == 'Z')
		return RISK_EXEC;
	if (n >= 8 && memcmp(d, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8) == 0)
		return RISK_MACRO; /* legacy Office (OLE2) */
	static const size_t iso_at[] = {0x8001, 0x8801, 0x9001};
	for (size_t i = 0; i < sizeof(iso_at) / sizeof(iso_at[0]); i++)
		if (n >= iso_at[i] + 5 && memcmp(d + iso_at[i], "CD001", 5) == 0)
			return RISK_IMAGE;
	if ((n >= 4 && memcmp(d, "PK\x03\x04", 4) == 0) ||
	    (n >= 6 && memcmp(d, "Rar!\x1a\x07", 6) == 0) ||
	    (n >= 6 && memcmp(d, "7z\xBC\xAF\x27\x1C", 6) == 0) ||
	    (n >= 2 && d[0] == 0x1f && d[1] == 0x8b))
		return RISK_ARCHIVE;
	size_t i = 0;
	if (n >= 3 && memcmp(d, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	while (i < n && i < 512 && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n'))
		i++;
	static const char *const html_starts[] = {"<html", "<!doctype html", "<script",
						  "<head", "<body",          "<svg",
						  "<meta", "<iframe",        NULL};
	for (size_t k = 0; html_starts[k] != NULL; k++) {
		size_t l = strlen(html_starts[k]);
		if (n - i >= l && pg_strneq_ci((const char *)d + i, html_starts[k], l))
			return RISK_HTML;
	}
	return RISK_NONE;
}

/* ---- XML: FatturaPA and SdI messages ------------------------------------------- */

static const char *const fatturapa_ns[] = {
	"http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.",
	"http://www.fatturapa.gov.it/sdi/fatturapa/v1.", NULL};
static const char sdi_messages_ns[] = "http://www.fatturapa.gov.it/sdi/messaggi/v1.";

static bool has_prefix(const char *s, const char *p)
{
	return s != NULL && strncmp(s, p, strlen(p)) == 0;
}

/* Per reader: errors of hostile XML are the verdict, never output. */
static void xml_quiet(void *arg, xmlErrorPtr err)
{
	(void)arg;
	(void)err;
}

/* A DOCTYPE or an entity declaration anywhere, in ASCII-compatible or
 * UTF-16 encodings: FatturaPA never has one, and refusing it before libxml2
 * sees it keeps entity tricks out entirely. */
static bool has_dtd_markup(const unsigned char *d, size_t n)
{
	static const struct {
		const char *s;
		size_t n;
	} pats[] = {
		{"<!DOCTYPE", 9},
		{"<!ENTITY", 8},
		{"<\0!\0D\0O\0C\0T\0Y\0P\0E\0", 18},
		{"\0<\0!\0D\0O\0C\0T\0Y\0P\0E", 18},
		{"<\0!\0E\0N\0T\0I\0T\0Y\0", 16},
		{"\0<\0!\0E\0N\0T\0I\0T\0Y", 16},
	};
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
		if (memmem(d, n, pats[i].s, pats[i].n) != NULL)
			return true;
	return false;
}

pg_xmlkind pg_invoice_xml_kind(const void *data, size_t len, char *root, size_t rootlen)
{
	if (root != NULL && rootlen > 0)
		root[0] = '\0';
	if (len > PG_INVOICE_XML_MAX)
		return PG_XML_TOO_BIG;
	if (data == NULL || len == 0)
		return PG_XML_MALFORMED;
	if (has_dtd_markup(data, len))
		return PG_XML_DTD;
	/* No XML_PARSE_NOENT (no substitution), no DTDLOAD/DTDATTR/DTDVALID
	 * (nothing external is read), NONET. */
	xmlTextReaderPtr r =
		xmlReaderForMemory(data, (int)len, NULL, NULL,
				   XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (r == NULL)
		return PG_XML_MALFORMED;
	xmlTextReaderSetStructuredErrorHandler(r, xml_quiet, NULL);
	pg_xmlkind kind;
	bool have_root = false, fpa = false, sdi = false, header = false, body = false;
	int ret;
	while ((ret = xmlTextReaderRead(r)) == 1) {
		int t = xmlTextReaderNodeType(r);
		if (t == XML_READER_TYPE_DOCUMENT_TYPE || t == XML_READER_TYPE_ENTITY ||
		    t == XML_READER_TYPE_ENTITY_REFERENCE) {
			kind = PG_XML_DTD;
			goto done;
		}
		if (t != XML_READER_TYPE_ELEMENT)
			continue;
		int depth = xmlTextReaderDepth(r);
		const char *local = (const char *)xmlTextReaderConstLocalName(r);
		if (depth == 0) {
			const char *ns = (const char *)xmlTextReaderConstNamespaceUri(r);
			have_root = true;
			if (root != NULL && rootlen > 0 && local != NULL)
				snprintf(root, rootlen, "%s", local);
			if (local != NULL && (strcmp(local, "FatturaElettronica") == 0 ||
					      strcmp(local, "FatturaElettronicaSemplificata") == 0))
				for (size_t i = 0; fatturapa_ns[i] != NULL; i++)
					fpa = fpa || has_prefix(ns, fatturapa_ns[i]);
			sdi = has_prefix(ns, sdi_messages_ns);
		} else if (depth == 1 && fpa && local != NULL) {
			/* The two parts every FatturaPA document has (unqualified). */
			if (strcmp(local, "FatturaElettronicaHeader") == 0)
				header = true;
			else if (strcmp(local, "FatturaElettronicaBody") == 0)
				body = true;
		}
	}
	if (ret != 0 || !have_root)
		kind = PG_XML_MALFORMED;
	else if (fpa)
		kind = header && body ? PG_XML_FATTURAPA : PG_XML_OTHER;
	else
		kind = sdi ? PG_XML_SDI_MESSAGE : PG_XML_OTHER;
done:
	xmlFreeTextReader(r);
	return kind;
}

/* ---- .p7m ------------------------------------------------------------------------- */

/* Base64 (or the body of a PEM block) into out (len/4*3+3 bytes); 0 when it
 * is not base64. */
static size_t b64_decode(const unsigned char *in, size_t n, unsigned char *out)
{
	size_t i = 0, o = 0;
	while (i < n && (in[i] == ' ' || in[i] == '\t' || in[i] == '\r' || in[i] == '\n'))
		i++;
	if (n - i >= 11 && memcmp(in + i, "-----BEGIN ", 11) == 0) {
		while (i < n && in[i] != '\n')
			i++;
	}
	uint32_t acc = 0;
	int bits = 0;
	for (; i < n; i++) {
		unsigned char c = in[i];
		if (c == '=' || c == '-')
			break;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		int v = pg_b64_value(c);
		if (v < 0)
			return 0;
		acc = ((acc << 6) | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return o;
}

pg_p7mkind pg_invoice_p7m_kind(pg_arena *a, const void *data, size_t len,
			       const unsigned char **content, size_t *clen)
{
	if (content != NULL)
		*content = NULL;
	if (clen != NULL)
		*clen = 0;
	if (len > PG_INVOICE_P7M_MAX)
		return PG_P7M_TOO_BIG;
	if (data == NULL || len < 2)
		return PG_P7M_NOT_CMS;
	const unsigned char *d = data;
	CMS_ContentInfo *cms = NULL;
	unsigned char *dec = NULL;
	if (d[0] == 0x30) {
		const unsigned char *p = d;
		cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	}
	if (cms == NULL) {
		dec = malloc(len / 4 * 3 + 3);
		if (dec == NULL)
			return PG_P7M_NOT_CMS;
		size_t dl = b64_decode(d, len, dec);
		if (dl >= 2 && dec[0] == 0x30) {
			const unsigned char *p = dec;
			cms = d2i_CMS_ContentInfo(NULL, &p, (long)dl);
		}
	}
	/* The error queue is the thread's: leave nothing for the next caller. */
	ERR_clear_error();
	if (cms == NULL) {
		free(dec);
		return PG_P7M_NOT_CMS;
	}
	pg_p7mkind k;
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		k = PG_P7M_NOT_SIGNED;
	} else {
		ASN1_OCTET_STRING **pos = CMS_get0_content(cms);
		if (pos == NULL || *pos == NULL) {
			k = PG_P7M_DETACHED;
		} else {
			k = PG_P7M_SIGNED;
			int l = ASN1_STRING_length(*pos);
			if (content != NULL && a != NULL && l >= 0) {
				unsigned char *c = pg_arena_alloc(a, (size_t)l + 1);
				if (c != NULL) {
					if (l > 0)
						memcpy(c, ASN1_STRING_get0_data(*pos), (size_t)l);
					c[l] = '\0';
					*content = c;
					if (clen != NULL)
						*clen = (size_t)l;
				}
			}
		}
	}
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	free(dec);
	return k;
}

/* ---- the SdI ------------------------------------------------------------------------ */

static const char *const default_sdi_senders[] = {"sdi##@pec.fatturapa.it", NULL};

/* '#' one digit, '*' any run, ASCII case-insensitive.  Patterns come from
 * the configuration with at most two '*' (init checks), which bounds the
 * backtracking. */
static bool glob_ci(const char *pat, const char *s)
{
	while (*pat != '\0') {
		if (*pat == '*') {
			pat++;
			for (;; s++) {
				if (glob_ci(pat, s))
					return true;
				if (*s == '\0')
					return false;
			}
		}
		if (*s == '\0')
			return false;
		if (*pat == '#') {
			if (!is_digit((unsigned char)*s))
				return false;
		} else if (pg_lower(*pat) != pg_lower(*s)) {
			return false;
		}
		pat++;
		s++;
	}
	return *s == '\0';
}

bool pg_invoice_is_sdi_sender(const char *addr, const char *const *patterns)
{
	if (addr == NULL || addr[0] == '\0')
		return false;
	if (patterns == NULL)
		patterns = default_sdi_senders;
	for (size_t i = 0; patterns[i] != NULL; i++)
		if (glob_ci(patterns[i], addr))
			return true;
	return false;
}

static bool invoice_content_ok(pg_arena *a, const pg_invname *nm, const unsigned char *d, size_t n)
{
	if (nm->ext_xml)
		return pg_invoice_xml_kind(d, n, NULL, 0) == PG_XML_FATTURAPA;
	if (!nm->ext_p7m)
		return false;
	const unsigned char *c = NULL;
	size_t cl = 0;
	return pg_invoice_p7m_kind(a, d, n, &c, &cl) == PG_P7M_SIGNED && c != NULL &&
	       pg_invoice_xml_kind(c, cl, NULL, 0) == PG_XML_FATTURAPA;
}

pg_sdishape pg_invoice_sdi_shape(pg_arena *a, const char *sender, const char *const *patterns,
				 const pg_invfile *f, size_t n)
{
	if (!pg_invoice_is_sdi_sender(sender, patterns) || f == NULL || (n != 1 && n != 2))
		return PG_SDI_NONE;
	pg_invname nm[2];
	for (size_t i = 0; i < n; i++) {
		const char *b = f[i].name ? base_name(f[i].name) : NULL;
		if (b == NULL || !pg_invoice_parse_name(b, strlen(b), &nm[i]))
			return PG_SDI_NONE;
	}
	char root[64];
	if (n == 1) {
		if (nm[0].kind != PG_INVNAME_NOTICE || !nm[0].ext_xml)
			return PG_SDI_NONE;
		return pg_invoice_xml_kind(f[0].data, f[0].len, root, sizeof(root)) ==
				       PG_XML_SDI_MESSAGE
			       ? PG_SDI_NOTICE
			       : PG_SDI_NONE;
	}
	size_t inv = nm[0].kind == PG_INVNAME_INVOICE ? 0 : 1, meta = 1 - inv;
	if (nm[inv].kind != PG_INVNAME_INVOICE || nm[meta].kind != PG_INVNAME_METADATA ||
	    !nm[meta].ext_xml || nm[inv].id_len != nm[meta].id_len)
		return PG_SDI_NONE;
	const char *bi = base_name(f[inv].name), *bm = base_name(f[meta].name);
	if (!pg_strneq_ci(bi, bm, nm[inv].id_len))
		return PG_SDI_NONE;
	if (pg_invoice_xml_kind(f[meta].data, f[meta].len, root, sizeof(root)) !=
		    PG_XML_SDI_MESSAGE ||
	    strcmp(root, "FileMetadati") != 0)
		return PG_SDI_NONE;
	return invoice_content_ok(a, &nm[inv], f[inv].data, f[inv].len) ? PG_SDI_DELIVERY
									: PG_SDI_NONE;
}

/* ---- subject ------------------------------------------------------------------------- */

bool pg_invoice_subject_invio_file(const char *subject)
{
	static const char *const prefixes[] = {"posta certificata:",
					       "anomalia messaggio:",
					       "re:",
					       "r:",
					       "rif:",
					       "fw:",
					       "fwd:",
					       "i:",
					       "inoltro:",
					       "tr:",
					       "aw:",
					       "wg:",
					       "ris:",
					       NULL};
	if (subject == NULL)
		return false;
	const char *s = subject;
	for (int guard = 0; guard < 16; guard++) {
		while (*s == ' ' || *s == '\t')
			s++;
		bool more = false;
		for (size_t i = 0; prefixes[i] != NULL; i++)
			if (pg_startswith_ci(s, prefixes[i])) {
				s += strlen(prefixes[i]);
				more = true;
				break;
			}
		if (!more && *s == '[') {
			/* a tag: "[SPAM]", "[ext]" */
			const char *e = strchr(s, ']');
			if (e != NULL && e - s < 40) {
				s = e + 1;
				more = true;
			}
		}
		if (!more)
			break;
	}
	if (!pg_startswith_ci(s, "invio"))
		return false;
	s += 5;
	if (*s != ' ' && *s != '\t')
		return false;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!pg_startswith_ci(s, "file"))
		return false;
	s += 4;
	if (*s != ' ' && *s != '\t')
		return false;
	while (*s == ' ' || *s == '\t')
		s++;
	if ((*s | 0x20) == 'n') {
		/* "n.", "nr.", "n°", "n" */
		const char *t = s + 1;
		if ((*t | 0x20) == 'r')
			t++;
		if (*t == '.')
			t++;
		else if ((unsigned char)t[0] == 0xc2 && (unsigned char)t[1] == 0xb0)
			t += 2;
		while (*t == ' ' || *t == '\t')
			t++;
		if (is_digit((unsigned char)*t))
			s = t;
	}
	size_t d = 0;
	while (is_digit((unsigned char)s[d]))
		d++;
	return d >= 6 && d <= 12 && !is_alnum((unsigned char)s[d]);
}

/* ---- phrase automaton ---------------------------------------------------------------- */

/* The phrase lists, as tagged in the automaton. */
enum plist {
	L_NAMES,
	L_NOTICE,
	L_CHANGE_PHRASE,
	L_CHANGE_WORD,
	L_ADDRESS,
	L_PRESSURE,
	L_CONTEXT,
	L_COUNT
};

static const char *const list_keys[L_COUNT] = {
	[L_NAMES] = "names",
	[L_NOTICE] = "notice",
	[L_CHANGE_PHRASE] = "change_phrases",
	[L_CHANGE_WORD] = "change_words",
	[L_ADDRESS] = "address_words",
	[L_PRESSURE] = "pressure",
	[L_CONTEXT] = "context",
};

#define PHRASE_MAX 200
#define MAXPOS     32

struct acpat {
	char *text; /* folded */
	uint32_t len;
	uint8_t list;
	bool bstart, bend; /* must start / end at a word boundary */
	int32_t next;      /* next pattern ending in the same state, or -1 */
};

/* Aho-Corasick over a compressed alphabet (the bytes phrases use; every
 * other byte is class 0), as a full transition table: one lookup per byte
 * of text. */
struct ac {
	uint16_t cls[256];
	size_t ncls;
	uint16_t *delta; /* nstates x ncls: 16 bits keep the table in cache */
	int32_t *out;    /* first pattern ending here, or -1 */
	int32_t *dict;   /* nearest proper suffix state with a pattern, or -1 */
	size_t nstates;
	struct acpat *pats;
	size_t npats;
};

struct hits {
	unsigned count[L_COUNT];
	int32_t first[L_COUNT];
	uint32_t pos[L_COUNT][MAXPOS]; /* start offsets of the first matches */
	int32_t pat[L_COUNT][MAXPOS];  /* and their patterns */
	unsigned npos[L_COUNT];
};

static void ac_free(struct ac *ac)
{
	for (size_t i = 0; i < ac->npats; i++)
		free(ac->pats[i].text);
	free(ac->pats);
	free(ac->delta);
	free(ac->out);
	free(ac->dict);
	memset(ac, 0, sizeof(*ac));
}

static int ac_compile(struct ac *ac)
{
	size_t total = 1;
	ac->ncls = 1;
	memset(ac->cls, 0, sizeof(ac->cls));
	for (size_t i = 0; i < ac->npats; i++) {
		for (uint32_t k = 0; k < ac->pats[i].len; k++) {
			unsigned char b = (unsigned char)ac->pats[i].text[k];
			if (ac->cls[b] == 0)
				ac->cls[b] = (uint16_t)ac->ncls++;
		}
		total += ac->pats[i].len;
	}
	if (total > UINT16_MAX)
		return -2; /* more phrase text than the 16-bit table holds */
	size_t cells = total * ac->ncls;
	ac->delta = malloc(cells * sizeof(uint16_t));
	ac->out = malloc(total * sizeof(int32_t));
	ac->dict = malloc(total * sizeof(int32_t));
	int32_t *fail = malloc(total * sizeof(int32_t));
	int32_t *queue = malloc(total * sizeof(int32_t));
	if (!ac->delta || !ac->out || !ac->dict || !fail || !queue) {
		free(fail);
		free(queue);
		return -1;
	}
	/* 0 is "no transition yet" while the trie is built: the root is
	 * never the target of a trie edge. */
	memset(ac->delta, 0, cells * sizeof(uint16_t));
	for (size_t i = 0; i < total; i++)
		ac->out[i] = ac->dict[i] = -1;
	ac->nstates = 1;
	for (size_t i = 0; i < ac->npats; i++) {
		size_t s = 0;
		for (uint32_t k = 0; k < ac->pats[i].len; k++) {
			size_t c = ac->cls[(unsigned char)ac->pats[i].text[k]];
			if (ac->delta[s * ac->ncls + c] == 0)
				ac->delta[s * ac->ncls + c] = (uint16_t)ac->nstates++;
			s = (size_t)ac->delta[s * ac->ncls + c];
		}
		ac->pats[i].next = ac->out[s];
		ac->out[s] = (int32_t)i;
	}
	/* Breadth first: a state's failure is shallower, so its row is
	 * complete when the state's own missing transitions borrow from it. */
	size_t qh = 0, qt = 0;
	for (size_t c = 0; c < ac->ncls; c++) {
		uint16_t v = ac->delta[c];
		if (v != 0) {
			fail[v] = 0;
			queue[qt++] = v;
		}
	}
	while (qh < qt) {
		size_t u = (size_t)queue[qh++];
		for (size_t c = 0; c < ac->ncls; c++) {
			uint16_t v = ac->delta[u * ac->ncls + c];
			uint16_t f = ac->delta[(size_t)fail[u] * ac->ncls + c];
			if (v == 0) {
				ac->delta[u * ac->ncls + c] = f;
			} else {
				fail[v] = f;
				ac->dict[v] = ac->out[f] >= 0 ? f : ac->dict[f];
				queue[qt++] = v;
			}
		}
	}
	free(fail);
	free(queue);
	return 0;
}

static void ac_scan(const struct ac *ac, const char *text, size_t n, struct hits *h)
{
	const unsigned char *t = (const unsigned char *)text;
	size_t s = 0;
	for (size_t i = 0; i < n; i++) {
		s = (size_t)ac->delta[s * ac->ncls + ac->cls[t[i]]];
		int32_t st = ac->out[s] >= 0 ? (int32_t)s : ac->dict[s];
		for (; st >= 0; st = ac->dict[st]) {
			for (int32_t p = ac->out[st]; p >= 0; p = ac->pats[p].next) {
				const struct acpat *pt = &ac->pats[p];
				size_t start = i + 1 - pt->len;
				if (pt->bstart && start > 0 && is_word(t[start - 1]))
					continue;
				if (pt->bend && i + 1 < n && is_word(t[i + 1]))
					continue;
				unsigned l = pt->list;
				h->count[l]++;
				if (h->first[l] < 0)
					h->first[l] = p;
				if (h->npos[l] < MAXPOS) {
					h->pos[l][h->npos[l]] = (uint32_t)start;
					h->pat[l][h->npos[l]++] = p;
				}
			}
		}
	}
}

static void hits_init(struct hits *h)
{
	memset(h, 0, sizeof(*h));
	for (int i = 0; i < L_COUNT; i++)
		h->first[i] = -1;
}

/* Folding for matching: NFKC + casefold (pg_text_fold), runs of blanks as
 * one space, typographic apostrophes as "'".  The result is a fresh arena
 * string. */
static char *fold_norm(pg_arena *a, const char *s, size_t n, size_t *outlen)
{
	size_t fl = 0;
	const char *f = pg_text_fold(a, s, n, &fl);
	if (f == NULL)
		return NULL;
	char *o = pg_arena_alloc(a, fl + 1);
	if (o == NULL)
		return NULL;
	size_t k = 0;
	bool blank = false;
	for (size_t i = 0; i < fl; i++) {
		unsigned char c = (unsigned char)f[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
			if (!blank && k > 0)
				o[k++] = ' ';
			blank = true;
			continue;
		}
		blank = false;
		if (c == 0xE2 && i + 2 < fl && (unsigned char)f[i + 1] == 0x80 &&
		    ((unsigned char)f[i + 2] == 0x98 || (unsigned char)f[i + 2] == 0x99)) {
			o[k++] = '\'';
			i += 2;
			continue;
		}
		o[k++] = c == '`' ? '\'' : (char)c;
	}
	o[k] = '\0';
	*outlen = k;
	return o;
}

/* ---- state --------------------------------------------------------------------------- */

struct strlist {
	char **v; /* NULL-terminated */
	size_t n;
};

struct inv_state {
	struct ac ac;
	struct strlist sdi_senders, official, lookalike;
	bool enabled;
	bool uncertified_ok;
	double wording_factor;
	size_t change_window;
	size_t max_text;
	size_t max_attachments;
};

static void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static pg_status strlist_add(struct strlist *l, const char *s)
{
	char **nv = realloc(l->v, (l->n + 2) * sizeof(*nv));
	if (nv == NULL)
		return PG_ERR_NOMEM;
	l->v = nv;
	if ((l->v[l->n] = strdup(s)) == NULL)
		return PG_ERR_NOMEM;
	l->v[++l->n] = NULL;
	return PG_OK;
}

static void inv_free(void *p)
{
	struct inv_state *st = p;
	if (st == NULL)
		return;
	ac_free(&st->ac);
	strlist_free(&st->sdi_senders);
	strlist_free(&st->official);
	strlist_free(&st->lookalike);
	free(st);
}

/* Reads list key and local.key, calling add on each string. */
static pg_status read_list(const pg_config *cfg, const char *key,
			   pg_status (*add)(void *, const char *), void *arg, char *err,
			   size_t errlen)
{
	char path[128];
	for (int pass = 0; pass < 2; pass++) {
		snprintf(path, sizeof(path), pass ? "invoice.local.%s" : "invoice.%s", key);
		size_t n = pg_cfg_count(cfg, path);
		for (size_t i = 0; i < n; i++) {
			const char *s = pg_cfg_elem_str(cfg, path, i);
			if (s == NULL) {
				snprintf(err, errlen, "%s[%zu]: not a string", path, i);
				return PG_ERR_CONFIG;
			}
			pg_status st = add(arg, s);
			if (st == PG_ERR_CONFIG) {
				snprintf(err, errlen, "%s[%zu]: '%s' is not usable", path, i, s);
				return st;
			}
			if (st != PG_OK)
				return st;
		}
	}
	return PG_OK;
}

static pg_status add_plain(void *arg, const char *s)
{
	if (s[0] == '\0')
		return PG_ERR_CONFIG;
	return strlist_add(arg, s);
}

static pg_status add_sender(void *arg, const char *s)
{
	size_t stars = 0;
	for (const char *p = s; *p; p++)
		stars += *p == '*';
	if (s[0] == '\0' || stars > 2 || strchr(s, '@') == NULL)
		return PG_ERR_CONFIG;
	return strlist_add(arg, s);
}

struct patadd {
	struct ac *ac;
	size_t cap;
	uint8_t list;
	pg_arena *a;
};

static pg_status add_phrase(void *arg, const char *s)
{
	struct patadd *pa = arg;
	size_t n = strlen(s);
	bool bstart = true, bend = true;
	if (n > 0 && s[0] == '*') {
		bstart = false;
		s++;
		n--;
	}
	if (n > 0 && s[n - 1] == '*') {
		bend = false;
		n--;
	}
	if (n == 0)
		return PG_ERR_CONFIG;
	size_t fl = 0;
	char *f = fold_norm(pa->a, s, n, &fl);
	if (f == NULL)
		return PG_ERR_NOMEM;
	/* fold_norm drops leading blanks, not trailing ones */
	while (fl > 0 && f[fl - 1] == ' ')
		fl--;
	if (fl == 0 || fl > PHRASE_MAX)
		return PG_ERR_CONFIG;
	struct ac *ac = pa->ac;
	if (ac->npats == pa->cap) {
		size_t cap = pa->cap ? pa->cap * 2 : 128;
		struct acpat *nv = realloc(ac->pats, cap * sizeof(*nv));
		if (nv == NULL)
			return PG_ERR_NOMEM;
		ac->pats = nv;
		pa->cap = cap;
	}
	char *t = malloc(fl + 1);
	if (t == NULL)
		return PG_ERR_NOMEM;
	memcpy(t, f, fl);
	t[fl] = '\0';
	ac->pats[ac->npats++] = (struct acpat){.text = t,
					       .len = (uint32_t)fl,
					       .list = pa->list,
					       .bstart = bstart,
					       .bend = bend,
					       .next = -1};
	return PG_OK;
}

static pg_status inv_init(const pg_config *cfg, void **state, char *err, size_t errlen)
{
	struct inv_state *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return PG_ERR_NOMEM;
	pg_status rc = PG_OK;
	pg_arena *a = pg_arena_new();
	if (a == NULL) {
		free(st);
		return PG_ERR_NOMEM;
	}
	st->enabled = pg_cfg_bool(cfg, "invoice.enabled", true);
	st->uncertified_ok = pg_cfg_bool(cfg, "invoice.uncertified_sdi_shape_ok", true);
	st->wording_factor = pg_cfg_float(cfg, "invoice.wording_factor", 0.4);
	int64_t w = pg_cfg_int(cfg, "invoice.change_window", 80);
	int64_t mt = pg_cfg_int(cfg, "invoice.max_text", 262144);
	int64_t ma = pg_cfg_int(cfg, "invoice.max_attachments", 64);
	if (st->wording_factor < 0 || st->wording_factor > 1 || w < 0 || w > 4096 || mt < 1024 ||
	    mt > (64 << 20) || ma < 1 || ma > 10000) {
		snprintf(err, errlen,
			 "invoice: wording_factor in [0,1], change_window in [0,4096], max_text in "
			 "[1024,64MiB], max_attachments in [1,10000]");
		rc = PG_ERR_CONFIG;
		goto out;
	}
	st->change_window = (size_t)w;
	st->max_text = (size_t)mt;
	st->max_attachments = (size_t)ma;

	if ((rc = read_list(cfg, "sdi_senders", add_sender, &st->sdi_senders, err, errlen)) !=
		    PG_OK ||
	    (rc = read_list(cfg, "official_domains", add_plain, &st->official, err, errlen)) !=
		    PG_OK ||
	    (rc = read_list(cfg, "lookalike_domain_words", add_plain, &st->lookalike, err,
			    errlen)) != PG_OK)
		goto out;
	if (st->sdi_senders.n == 0) {
		snprintf(err, errlen, "invoice.sdi_senders: at least one sender is needed");
		rc = PG_ERR_CONFIG;
		goto out;
	}
	struct patadd pa = {.ac = &st->ac, .a = a};
	for (int l = 0; l < L_COUNT; l++) {
		pa.list = (uint8_t)l;
		if ((rc = read_list(cfg, list_keys[l], add_phrase, &pa, err, errlen)) != PG_OK)
			goto out;
	}
	int cr = ac_compile(&st->ac);
	if (cr == -2) {
		snprintf(err, errlen, "invoice: the phrase lists are too long (%d bytes at most)",
			 UINT16_MAX - 1);
		rc = PG_ERR_CONFIG;
		goto out;
	}
	if (cr != 0)
		rc = PG_ERR_NOMEM;
out:
	pg_arena_free(a);
	if (rc != PG_OK) {
		if (rc == PG_ERR_NOMEM)
			snprintf(err, errlen, "invoice: out of memory");
		inv_free(st);
		return rc;
	}
	*state = st;
	return PG_OK;
}

/* ---- addresses --------------------------------------------------------------------- */

static bool addr_char(unsigned char c)
{
	return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

/* The addresses written in a header value or display name (anything
 * around an '@'), lower case, up to max. */
static size_t find_addrs(pg_arena *a, const char *h, const char **out, size_t max)
{
	size_t k = 0;
	if (h == NULL)
		return 0;
	size_t n = strlen(h);
	for (size_t i = 0; i < n && k < max; i++) {
		if (h[i] != '@')
			continue;
		size_t l = i, r = i + 1;
		while (l > 0 && addr_char((unsigned char)h[l - 1]))
			l--;
		while (r < n && (is_alnum((unsigned char)h[r]) || h[r] == '.' || h[r] == '-'))
			r++;
		while (r > i + 1 && h[r - 1] == '.')
			r--;
		if (l == i || r == i + 1)
			continue;
		char *c = pg_arena_strndup(a, h + l, r - l);
		if (c == NULL)
			return k;
		out[k++] = pg_strlower(c);
		i = r - 1;
	}
	return k;
}

static const char *domain_of(const char *addr)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;
	return at ? at + 1 : NULL;
}

static bool domain_under(const char *dom, const char *d)
{
	size_t n = strlen(dom), m = strlen(d);
	if (n == m)
		return pg_streq_ci(dom, d);
	return n > m && dom[n - m - 1] == '.' && pg_streq_ci(dom + n - m, d);
}

static bool domain_official(const struct inv_state *st, const char *dom)
{
	for (size_t i = 0; dom != NULL && i < st->official.n; i++)
		if (domain_under(dom, st->official.v[i]))
			return true;
	return false;
}

/* A look-alike word of six characters or more matches anywhere in the
 * domain; a shorter one ("sdi", "ade") only as a whole label or a piece of
 * one between '-' and '.' ("sdi-fatturapa.net"), never inside a word
 * ("trade-x.com"). */
static const char *domain_lookalike(const struct inv_state *st, const char *dom)
{
	if (dom == NULL || domain_official(st, dom))
		return NULL;
	size_t n = strlen(dom);
	for (size_t i = 0; i < st->lookalike.n; i++) {
		const char *w = st->lookalike.v[i];
		size_t wl = strlen(w);
		if (wl >= 6) {
			if (pg_memmem_ci(dom, n, w) != NULL)
				return w;
			continue;
		}
		for (size_t j = 0; j + wl <= n; j++) {
			if (!pg_strneq_ci(dom + j, w, wl))
				continue;
			bool lb = j == 0 || dom[j - 1] == '.' || dom[j - 1] == '-' || w[0] == '-' ||
				  w[0] == '.';
			bool rb = j + wl == n || dom[j + wl] == '.' || dom[j + wl] == '-' ||
				  w[wl - 1] == '-' || w[wl - 1] == '.';
			if (lb && rb)
				return w;
		}
	}
	return NULL;
}

/* The address of "Per conto di: addr" in an envelope's From display name. */
static const char *per_conto_di(pg_arena *a, const char *display)
{
	if (display == NULL)
		return NULL;
	size_t n;
	const char *t = pg_trim(display, &n);
	if (n < 12 || !pg_startswith_ci(t, "per conto di"))
		return NULL;
	const char *addrs[1];
	return find_addrs(a, t + 12, addrs, 1) == 1 ? addrs[0] : NULL;
}

/* ---- the analyser ------------------------------------------------------------------ */

#define TRY(x)                                                                                     \
	do {                                                                                       \
		pg_status _s = (x);                                                                \
		if (_s != PG_OK)                                                                   \
			return _s;                                                                 \
	} while (0)

struct att {
	const pg_part *part;
	const char *name; /* base name, "" when the part has none */
	pg_invname nm;    /* kind NONE unless an SdI file name */
};

struct run {
	pg_actx *ax;
	const struct inv_state *st;
	const pg_msg *m;
	struct att *atts;
	size_t natts;
	const char *text; /* folded subject + "\n" + body */
	size_t tlen;
	struct hits hits;
	const pg_text *tx;
	bool impersonating;
};

static const char *pat_text(const struct run *r, enum plist l)
{
	int32_t p = r->hits.first[l];
	return p >= 0 ? r->st->ac.pats[p].text : "";
}

static const unsigned char *att_content(const struct att *at, size_t *len)
{
	const unsigned char *c = pg_part_content(at->part, len);
	if (c == NULL)
		*len = 0;
	return c;
}

static pg_status collect_attachments(struct run *r)
{
	const pg_msg *m = r->m;
	size_t cap = m->nparts < r->st->max_attachments ? m->nparts : r->st->max_attachments;
	r->atts = pg_arena_calloc(r->ax->arena, cap ? cap : 1, sizeof(*r->atts));
	if (r->atts == NULL)
		return PG_ERR_NOMEM;
	for (size_t i = 0; i < m->nparts && r->natts < cap; i++) {
		const pg_part *p = m->parts[i];
		if (p->is_multipart || p->is_message || (!p->is_attachment && p->filename == NULL))
			continue;
		struct att *at = &r->atts[r->natts++];
		at->part = p;
		at->name = p->filename ? base_name(p->filename) : "";
		pg_invoice_parse_name(at->name, strlen(at->name), &at->nm);
	}
	return PG_OK;
}

static pg_sdishape shape_of(struct run *r, const char *sender)
{
	if (r->natts == 0 || r->natts > 2)
		return PG_SDI_NONE;
	pg_invfile f[2];
	for (size_t i = 0; i < r->natts; i++) {
		f[i].name = r->atts[i].name;
		f[i].data = att_content(&r->atts[i], &f[i].len);
	}
	return pg_invoice_sdi_shape(r->ax->arena, sender, (const char *const *)r->st->sdi_senders.v,
				    f, r->natts);
}

static bool is_sdi(const struct run *r, const char *addr)
{
	return pg_invoice_is_sdi_sender(addr, (const char *const *)r->st->sdi_senders.v);
}

/* A valid PEC envelope whose every sender field is the SdI, with the SdI's
 * attachments. */
static bool genuine_delivery(struct run *r)
{
	const pg_actx *ax = r->ax;
	if (ax->cls == NULL || ax->cls->cls != PG_CLASS_PEC_ENVELOPE)
		return false;
	const char *senders[3];
	size_t ns = 0;
	if (ax->cls->daticert != NULL && ax->cls->daticert->mittente != NULL)
		senders[ns++] = ax->cls->daticert->mittente;
	if (ax->top != NULL) {
		const char *dn, *da;
		pg_msg_from(ax->top, &dn, &da);
		const char *pc = per_conto_di(ax->arena, dn);
		if (pc != NULL)
			senders[ns++] = pc;
	}
	const char *dn, *da;
	pg_msg_from(r->m, &dn, &da);
	if (da != NULL)
		senders[ns++] = da;
	if (ns == 0)
		return false;
	for (size_t i = 0; i < ns; i++)
		if (!is_sdi(r, senders[i]))
			return false;
	return shape_of(r, senders[0]) != PG_SDI_NONE;
}

static bool text_has_link(const struct run *r)
{
	if (r->tx->nlinks > 0)
		return true;
	return memmem(r->text, r->tlen, "http", 4) != NULL ||
	       memmem(r->text, r->tlen, "www.", 4) != NULL;
}

static pg_status check_impersonation(struct run *r, const char *from_name, const char *from_addr)
{
	pg_actx *ax = r->ax;
	const struct inv_state *st = r->st;
	/* The display name: names of the SdI / AdE, or their addresses. */
	if (from_name != NULL && from_name[0] != '\0') {
		size_t fl;
		char *f = fold_norm(ax->arena, from_name, strlen(from_name), &fl);
		if (f == NULL)
			return PG_ERR_NOMEM;
		struct hits h;
		hits_init(&h);
		ac_scan(&st->ac, f, fl, &h);
		if (h.count[L_NAMES] > 0) {
			r->impersonating = true;
			return pg_sym(ax, "INVOICE_SDI_IMPERSONATION", "display name \"%s\" (%s)",
				      from_name, st->ac.pats[h.first[L_NAMES]].text);
		}
		const char *da[4];
		size_t nda = find_addrs(ax->arena, from_name, da, 4);
		for (size_t i = 0; i < nda; i++) {
			const char *dom = domain_of(da[i]);
			if (is_sdi(r, da[i]) || domain_official(st, dom) ||
			    domain_lookalike(st, dom)) {
				r->impersonating = true;
				return pg_sym(ax, "INVOICE_SDI_IMPERSONATION",
					      "display name \"%s\" shows %s", from_name, da[i]);
			}
		}
	}
	/* From, Reply-To, Sender. */
	const char *addrs[12];
	const char *where[12];
	size_t na = 0;
	if (from_addr != NULL) {
		addrs[na] = from_addr;
		where[na++] = "From";
	}
	static const char *const hdrs[] = {"Reply-To", "Sender"};
	for (size_t k = 0; k < 2; k++) {
		const char *hv = pg_msg_header(r->m, hdrs[k]);
		size_t got = find_addrs(ax->arena, hv, addrs + na, 4);
		for (size_t i = 0; i < got; i++)
			where[na + i] = hdrs[k];
		na += got;
	}
	for (size_t i = 0; i < na; i++) {
		const char *dom = domain_of(addrs[i]);
		const char *why = NULL;
		const char *lw = NULL;
		if (is_sdi(r, addrs[i]))
			why = "the SdI's address, outside a genuine SdI delivery";
		else if (domain_official(st, dom))
			why = "an official domain";
		else if ((lw = domain_lookalike(st, dom)) != NULL)
			why = "a look-alike domain";
		if (why != NULL) {
			r->impersonating = true;
			return pg_sym(ax, "INVOICE_SDI_IMPERSONATION", "%s %s: %s%s%s%s", where[i],
				      addrs[i], why, lw ? " (" : "", lw ? lw : "", lw ? ")" : "");
		}
	}
	/* Wording only: a name of the SdI / AdE with the notices' wording. */
	if (r->hits.count[L_NAMES] > 0 && r->hits.count[L_NOTICE] > 0) {
		r->impersonating = true;
		return pg_sym_scaled(ax, "INVOICE_SDI_IMPERSONATION", st->wording_factor,
				     "wording: \"%s\" with \"%s\"", pat_text(r, L_NAMES),
				     pat_text(r, L_NOTICE));
	}
	return PG_OK;
}

static bool attached_id(const struct run *r, const char *s, size_t idlen)
{
	for (size_t i = 0; i < r->natts; i++) {
		const pg_invname *nm = &r->atts[i].nm;
		if (nm->kind != PG_INVNAME_NONE && nm->id_len == idlen &&
		    pg_strneq_ci(r->atts[i].name, s, idlen))
			return true;
	}
	return false;
}

/* SdI file names in the text (and in link targets) that are not attached,
 * counted once per invoice. */
static pg_status check_referenced(struct run *r)
{
	enum { MAXREF = 16 };
	const char *ref[MAXREF];
	size_t reflen[MAXREF], refid[MAXREF], nref = 0;
	pg_invname nm;
	size_t sources = 1 + r->tx->nlinks;
	for (size_t k = 0; k < sources && nref < MAXREF; k++) {
		const char *s = k == 0 ? r->text : r->tx->links[k - 1].href;
		size_t n = k == 0 ? r->tlen : strlen(s);
		if (k > 0 && n > 4096)
			n = 4096;
		for (size_t from = 0; nref < MAXREF && pg_invoice_find_name(s, n, from, &nm);
		     from = nm.start + nm.len) {
			const char *id = s + nm.start;
			if (attached_id(r, id, nm.id_len))
				continue;
			bool seen = false;
			for (size_t i = 0; i < nref && !seen; i++)
				seen = refid[i] == nm.id_len && pg_strneq_ci(ref[i], id, nm.id_len);
			if (seen)
				continue;
			ref[nref] = id;
			refid[nref] = nm.id_len;
			reflen[nref++] = nm.len;
		}
	}
	if (nref == 0)
		return PG_OK;
	if (nref == 1)
		return pg_sym(r->ax, "INVOICE_REFERENCED_NOT_ATTACHED", "%.*s", (int)reflen[0],
			      ref[0]);
	return pg_sym(r->ax, "INVOICE_REFERENCED_NOT_ATTACHED", "%.*s and %zu more", (int)reflen[0],
		      ref[0], nref - 1);
}

/* Is the attachment what its name says? */
static pg_status check_attachment_files(struct run *r)
{
	pg_actx *ax = r->ax;
	for (size_t i = 0; i < r->natts; i++) {
		struct att *at = &r->atts[i];
		char ext[16];
		if (pg_invoice_misnamed(at->name, ext, sizeof(ext))) {
			pg_status s = pg_sym(ax, "INVOICE_MISNAMED", "%s", at->name);
			if (s != PG_OK)
				return s;
			continue;
		}
		size_t nl = strlen(at->name);
		bool signed_xml = nl > 8 && pg_streq_ci(at->name + nl - 8, ".xml.p7m");
		if (at->nm.kind == PG_INVNAME_NONE && !signed_xml)
			continue;
		if (at->nm.kind != PG_INVNAME_NONE && !at->nm.ext_xml && !at->nm.ext_p7m)
			continue; /* a PDF copy, or no extension: claims nothing */
		size_t len;
		const unsigned char *d = att_content(at, &len);
		const char *why = NULL;
		char root[64] = "";
		if (signed_xml) {
			const unsigned char *c = NULL;
			size_t cl = 0;
			pg_p7mkind k = pg_invoice_p7m_kind(ax->arena, d, len, &c, &cl);
			if (k == PG_P7M_NOT_CMS)
				why = "not a CMS signature";
			else if (k == PG_P7M_NOT_SIGNED)
				why = "CMS, but not SignedData";
			else if (k == PG_P7M_DETACHED)
				why = "signature without the signed content";
			else if (k == PG_P7M_SIGNED && c != NULL &&
				 at->nm.kind == PG_INVNAME_INVOICE) {
				pg_xmlkind x = pg_invoice_xml_kind(c, cl, root, sizeof(root));
				if (x != PG_XML_FATTURAPA && x != PG_XML_TOO_BIG)
					why = "signed content is not FatturaPA XML";
			}
		} else if (at->nm.kind == PG_INVNAME_INVOICE) {
			pg_xmlkind x = pg_invoice_xml_kind(d, len, root, sizeof(root));
			if (x != PG_XML_FATTURAPA && x != PG_XML_TOO_BIG)
				why = "not FatturaPA XML";
		} else {
			pg_xmlkind x = pg_invoice_xml_kind(d, len, root, sizeof(root));
			if (x != PG_XML_SDI_MESSAGE && x != PG_XML_TOO_BIG)
				why = "not an SdI message";
			else if (x == PG_XML_SDI_MESSAGE &&
				 (at->nm.kind == PG_INVNAME_METADATA) !=
					 (strcmp(root, "FileMetadati") == 0))
				why = "SdI message of another type";
		}
		if (why != NULL) {
			pg_status s = pg_sym(ax, "INVOICE_FAKE_FILE", "%s: %s%s%s%s", at->name, why,
					     root[0] ? " (root " : "", root, root[0] ? ")" : "");
			if (s != PG_OK)
				return s;
		}
	}
	return PG_OK;
}

/* A change word close to an address word, or a change phrase. */
static pg_status check_change_address(struct run *r)
{
	const struct hits *h = &r->hits;
	if (h->count[L_CHANGE_PHRASE] > 0)
		return pg_sym(r->ax, "INVOICE_CHANGE_ADDRESS", "\"%s\"",
			      pat_text(r, L_CHANGE_PHRASE));
	for (unsigned i = 0; i < h->npos[L_ADDRESS]; i++)
		for (unsigned j = 0; j < h->npos[L_CHANGE_WORD]; j++) {
			uint32_t a = h->pos[L_ADDRESS][i], c = h->pos[L_CHANGE_WORD][j];
			if ((a > c ? a - c : c - a) <= r->st->change_window)
				return pg_sym(r->ax, "INVOICE_CHANGE_ADDRESS", "\"%s\" near \"%s\"",
					      r->st->ac.pats[h->pat[L_CHANGE_WORD][j]].text,
					      r->st->ac.pats[h->pat[L_ADDRESS][i]].text);
		}
	return PG_OK;
}

/* What the members of an archive attachment are, from the attachment
 * analyser's bounded walk (pg_attach_each_member). */
struct members {
	struct run *r;
	unsigned n;           /* members handed */
	enum risk risk;       /* of the first risky member */
	const char *risky;    /* its path */
	const char *misnamed; /* first member with an SdI name and a wrong extension */
	const char *fake;     /* first member named as signed XML / SdI XML that is not */
	const char *fake_why;
};

static int member_cb(void *ctx, const char *path, const unsigned char *data, size_t len)
{
	struct members *w = ctx;
	pg_arena *a = w->r->ax->arena;
	w->n++;
	const char *b = path;
	for (const char *p = path; *p; p++)
		if (*p == '!' || *p == '/' || *p == '\\')
			b = p + 1;
	char ext[16] = "";
	bool has_ext = final_ext(b, ext, sizeof(ext));
	if (w->misnamed == NULL && pg_invoice_misnamed(b, NULL, 0))
		w->misnamed = pg_arena_strdup(a, path);
	/* Truncated members (the walk's cap) are not judged by content. */
	bool whole = len < PG_ATTACH_MEMBER_CAP;
	size_t bl = strlen(b);
	pg_invname nm;
	pg_invoice_parse_name(b, bl, &nm);
	if (w->fake == NULL && whole && bl > 4 && pg_streq_ci(b + bl - 4, ".p7m")) {
		pg_p7mkind k = pg_invoice_p7m_kind(NULL, data, len, NULL, NULL);
		if (k == PG_P7M_NOT_CMS || k == PG_P7M_NOT_SIGNED || k == PG_P7M_DETACHED) {
			w->fake = pg_arena_strdup(a, path);
			w->fake_why = k == PG_P7M_NOT_CMS ? "not a CMS signature"
				      : k == PG_P7M_NOT_SIGNED
					      ? "CMS, but not SignedData"
					      : "signature without the signed content";
		}
	} else if (w->fake == NULL && whole && nm.kind == PG_INVNAME_INVOICE && nm.ext_xml) {
		pg_xmlkind x = pg_invoice_xml_kind(data, len, NULL, 0);
		if (x != PG_XML_FATTURAPA && x != PG_XML_TOO_BIG) {
			w->fake = pg_arena_strdup(a, path);
			w->fake_why = "not FatturaPA XML";
		}
	}
	if (w->risky == NULL) {
		enum risk rk = has_ext ? ext_risk(ext) : RISK_NONE;
		if (rk == RISK_ARCHIVE)
			rk = RISK_NONE; /* walked in turn: judged by its members */
		if (rk == RISK_NONE) {
			rk = sniff(data, len);
			if (rk == RISK_ARCHIVE)
				rk = RISK_NONE;
		}
		if (rk != RISK_NONE) {
			w->risk = rk;
			w->risky = pg_arena_strdup(a, path);
		}
	}
	return 0;
}

static pg_status walk_members(struct run *r, const struct att *at, struct members *w)
{
	memset(w, 0, sizeof(*w));
	w->r = r;
	size_t len;
	const unsigned char *d = att_content(at, &len);
	if (d == NULL || len == 0)
		return PG_OK;
	pg_status st = pg_attach_each_member(d, len, 0, member_cb, w);
	/* A bound that stopped the walk leaves what was seen: enough. */
	return st == PG_ERR_TOO_BIG ? PG_OK : st;
}

/* The folded, blank-separated words of a file name, for the context list. */
static bool name_in_context(struct run *r, const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 512)
		return false;
	char buf[513];
	for (size_t i = 0; i < n; i++)
		buf[i] = (name[i] == '_' || name[i] == '-' || name[i] == '.') ? ' ' : name[i];
	size_t fl;
	char *f = fold_norm(r->ax->arena, buf, n, &fl);
	if (f == NULL)
		return false;
	struct hits h;
	hits_init(&h);
	ac_scan(&r->st->ac, f, fl, &h);
	return h.count[L_CONTEXT] > 0;
}

/* Attachments in the shape of the campaigns' payloads.  Archives are
 * opened (bounded walk) whatever the message says: an SdI-named member with
 * a wrong extension, or an inert .p7m, is found by name; what is risky
 * counts for INVOICE_LURE_ATTACHMENT only in a message (or under a name)
 * about invoices and payments. */
static pg_status check_lure_attachment(struct run *r)
{
	bool ctx_text = r->hits.count[L_CONTEXT] > 0 || r->impersonating;
	bool lure_done = false;
	for (size_t i = 0; i < r->natts; i++) {
		struct att *at = &r->atts[i];
		char ext[16] = "";
		enum risk rk = final_ext(at->name, ext, sizeof(ext)) ? ext_risk(ext) : RISK_NONE;
		bool ctx_name = at->nm.kind != PG_INVNAME_NONE || name_in_context(r, at->name);
		bool ctx = ctx_text || ctx_name;
		if (rk == RISK_NONE && ctx) {
			/* Content that is not what the name says ("x.xml.p7m"
			 * that is a zip). */
			size_t len;
			const unsigned char *d = att_content(at, &len);
			rk = sniff(d, len);
			if (rk == RISK_ARCHIVE && in_set(ext, ext_zipdoc))
				rk = RISK_NONE;
		}
		if (rk == RISK_NONE)
			continue;
		const char *inside = NULL;
		if (rk == RISK_ARCHIVE) {
			struct members w;
			TRY(walk_members(r, at, &w));
			if (w.misnamed != NULL)
				TRY(pg_sym(r->ax, "INVOICE_MISNAMED", "%s!%s", at->name,
					   w.misnamed));
			if (w.fake != NULL)
				TRY(pg_sym(r->ax, "INVOICE_FAKE_FILE", "%s!%s: %s", at->name,
					   w.fake, w.fake_why));
			if (w.risky != NULL) {
				rk = w.risk;
				inside = w.risky;
			} else if (w.n > 0) {
				continue; /* harmless members */
			} else {
				/* None readable: encrypted (the password in the
				 * text, the campaigns' way past antivirus) or
				 * damaged.  Nothing invoices come as. */
				inside = "(members unreadable: encrypted or damaged)";
			}
		}
		if (!ctx || lure_done)
			continue;
		lure_done = true;
		TRY(pg_sym(r->ax, "INVOICE_LURE_ATTACHMENT", "%s%s%s: %s",
			   at->name[0] ? at->name : "(unnamed)", inside ? "!" : "",
			   inside ? inside : "", risk_names[rk]));
	}
	return PG_OK;
}

/* Subject and text, folded, capped at max_text (cut on a UTF-8 boundary). */
static pg_status build_text(struct run *r)
{
	const char *subj = r->tx->subject ? r->tx->subject : "";
	size_t sl = strlen(subj), bl = r->tx->all_len;
	if (sl > 4096)
		sl = 4096;
	if (bl > r->st->max_text)
		bl = r->st->max_text;
	while (bl > 0 && bl < r->tx->all_len && ((unsigned char)r->tx->all[bl] & 0xC0) == 0x80)
		bl--;
	char *raw = pg_arena_alloc(r->ax->arena, sl + bl + 2);
	if (raw == NULL)
		return PG_ERR_NOMEM;
	memcpy(raw, subj, sl);
	raw[sl] = '\n';
	if (bl > 0)
		memcpy(raw + sl + 1, r->tx->all, bl);
	raw[sl + 1 + bl] = '\0';
	char *f = fold_norm(r->ax->arena, raw, sl + 1 + bl, &r->tlen);
	if (f == NULL)
		return PG_ERR_NOMEM;
	r->text = f;
	return PG_OK;
}

static pg_status inv_run(pg_actx *ax, void *state)
{
	const struct inv_state *st = state;
	if (st == NULL || !st->enabled || ax->msg == NULL)
		return PG_OK;
	struct run r = {.ax = ax, .st = st, .m = ax->msg};
	hits_init(&r.hits);
	TRY(collect_attachments(&r));

	/* A genuine SdI delivery is never scored. */
	if (genuine_delivery(&r))
		return PG_OK;

	r.tx = pg_msg_text(r.m);
	if (r.tx == NULL)
		return PG_ERR_NOMEM;
	TRY(build_text(&r));
	ac_scan(&st->ac, r.text, r.tlen, &r.hits);

	const char *from_name, *from_addr;
	pg_msg_from(r.m, &from_name, &from_addr);

	/* SdI-shaped but not certified: nothing to impersonate. */
	bool sdi_like = false;
	if (st->uncertified_ok && is_sdi(&r, from_addr) && !text_has_link(&r)) {
		const char *rt[4];
		size_t nrt = find_addrs(ax->arena, pg_msg_header(r.m, "Reply-To"), rt, 4);
		bool rt_ok = true;
		for (size_t i = 0; i < nrt; i++)
			rt_ok = rt_ok && is_sdi(&r, rt[i]);
		pg_sdishape sh = rt_ok ? shape_of(&r, from_addr) : PG_SDI_NONE;
		if (sh != PG_SDI_NONE) {
			sdi_like = true;
			TRY(pg_sym(ax, "INVOICE_SDI_UNCERTIFIED",
				   "%s from %s, not certified as sent by the SdI",
				   sh == PG_SDI_DELIVERY ? "SdI delivery" : "SdI notice",
				   from_addr));
		}
	}
	if (!sdi_like) {
		TRY(check_impersonation(&r, from_name, from_addr));
		if (pg_invoice_subject_invio_file(r.tx->subject))
			TRY(pg_sym(ax, "INVOICE_SUBJECT_INVIO_FILE", "%s", r.tx->subject));
		TRY(check_referenced(&r));
		TRY(check_attachment_files(&r));
	}
	TRY(check_change_address(&r));
	if (r.hits.count[L_PRESSURE] > 0)
		TRY(pg_sym(ax, "INVOICE_PAYMENT_PRESSURE", "\"%s\"", pat_text(&r, L_PRESSURE)));
	TRY(check_lure_attachment(&r));
	return PG_OK;
}

const pg_analyser pg_analyser_invoice = {
	.name = "invoice",
	.init = inv_init,
	.free = inv_free,
	.run = inv_run,
};
