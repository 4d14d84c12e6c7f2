/*
 * invoice.h - the fake e-invoice analyser (autumn 2019 PEC campaigns).
 *
 * Genuine Italian e-invoices reach a PEC mailbox from the SdI (Sistema di
 * Interscambio of the Agenzia delle Entrate) only, as sdiNN@pec.fatturapa.it,
 * with the invoice IT<VAT or tax code>_<progressive>.xml[.p7m] and its
 * metadata file ..._MT_<nnn>.xml attached, or with one SdI notification
 * (..._RC_001.xml and the like).  The lures imitated those notices: names of
 * the SdI and of the Agenzia delle Entrate, the "Invio File <10 digits>"
 * subject, invoice files named but not attached, files that only look like
 * invoices (a .xml.p7m that is a zip, a script, HTML), requests to change the
 * address invoices are delivered to, and payment pressure.  This analyser
 * adds INVOICE_* symbols for those; docs/analysers/invoice.md has the detail.
 *
 * Besides the analyser, the pure checks it is built of, for tests and fuzzers.
 */
#ifndef PG_SCAN_INVOICE_H
#define PG_SCAN_INVOICE_H

#include <stdbool.h>
#include <stddef.h>

#include "scan/analyser.h"
#include "util/arena.h"

extern const pg_analyser pg_analyser_invoice;

/* ---- file names ------------------------------------------------------------ */

typedef enum pg_invname_kind {
	PG_INVNAME_NONE = 0, /* not an SdI file name */
	PG_INVNAME_INVOICE,  /* IT<code>_<prog>         (the invoice) */
	PG_INVNAME_METADATA, /* IT<code>_<prog>_MT_<nnn> (SdI metadata file) */
	PG_INVNAME_NOTICE    /* IT<code>_<prog>_<XX>_<nnn>, XX an SdI notice type */
} pg_invname_kind;

typedef struct pg_invname {
	pg_invname_kind kind;
	size_t start;    /* offset of "IT" in the string given */
	size_t id_len;   /* length of "IT<code>_<prog>": the invoice it is about */
	size_t stem_len; /* length up to the extensions ("..._MT_001" included) */
	size_t len;      /* length with the extensions that follow */
	char type[3];    /* "MT", "RC", "NS"...: upper case; "" for an invoice */
	bool ext_xml;    /* the extensions are exactly ".xml" */
	bool ext_p7m;    /* the extensions are exactly ".xml.p7m" */
	bool ext_pdf;    /* exactly ".pdf" (a courtesy copy) */
	bool ext_none;   /* no extension */
} pg_invname;

/* Parses a whole file name (no directory) as an SdI file name, any case:
 * "IT" + 11 digits or a 16-character tax code, "_", 1 to 5 letters or
 * digits, optionally "_" + notice type + "_" + 3 digits, then extensions.
 * Returns false (kind NONE) when name is not one. */
bool pg_invoice_parse_name(const char *name, size_t n, pg_invname *out);

/* Finds the next SdI file name in text[from, n) that stands as a word (no
 * letter or digit right before "IT" or right after the name).  The name
 * takes the extensions made of letters and digits that follow it.  Returns
 * false when there is none. */
bool pg_invoice_find_name(const char *text, size_t n, size_t from, pg_invname *out);

/* Is s a 16-character Italian tax code (codice fiscale, omocodia letters
 * allowed)?  Case-insensitive. */
bool pg_invoice_is_tax_code(const char *s);

/* Does name hide a dangerous or archive extension behind an invoice one
 * ("x.xml.p7m.zip", "x.xml.exe", "x.p7m.js", "IT..._AB12C.html")?  Writes the
 * final extension (lower case, no dot) into ext. */
bool pg_invoice_misnamed(const char *name, char *ext, size_t extlen);

/* ---- contents ---------------------------------------------------------------- */

/* Caps on what the content checks parse. */
#define PG_INVOICE_XML_MAX ((size_t)5 << 20)
#define PG_INVOICE_P7M_MAX ((size_t)16 << 20)

typedef enum pg_xmlkind {
	PG_XML_FATTURAPA = 0, /* FatturaElettronica of FatturaPA 1.0/1.1/1.2, well-formed */
	PG_XML_SDI_MESSAGE,   /* an SdI message (metadata, notice), well-formed */
	PG_XML_OTHER,         /* well-formed XML of some other kind */
	PG_XML_MALFORMED,     /* not well-formed, or not XML at all */
	PG_XML_DTD,           /* carries a DOCTYPE (entity declarations): refused */
	PG_XML_TOO_BIG        /* over PG_INVOICE_XML_MAX: not looked at */
} pg_xmlkind;

/* What an XML document is.  libxml2's streaming reader, without network,
 * DTD loading or entity substitution; a DOCTYPE stops it.  root (may be
 * NULL) receives the root element's local name, truncated.  The caller has
 * initialised libxml2 (the engine does, once). */
pg_xmlkind pg_invoice_xml_kind(const void *data, size_t len, char *root, size_t rootlen);

typedef enum pg_p7mkind {
	PG_P7M_SIGNED = 0, /* CMS SignedData with the content embedded */
	PG_P7M_DETACHED,   /* SignedData without the content */
	PG_P7M_NOT_SIGNED, /* CMS, but not SignedData */
	PG_P7M_NOT_CMS,    /* neither DER/BER nor base64/PEM of a CMS */
	PG_P7M_TOO_BIG     /* over PG_INVOICE_P7M_MAX: not looked at */
} pg_p7mkind;

/* What a .p7m file is: DER (or BER), else base64 or PEM of it.  For
 * PG_P7M_SIGNED, *content and *clen (when not NULL) receive a copy of the
 * signed content in arena a. */
pg_p7mkind pg_invoice_p7m_kind(pg_arena *a, const void *data, size_t len,
			       const unsigned char **content, size_t *clen);

/* ---- the SdI ----------------------------------------------------------------- */

/* Is addr an SdI sender?  patterns are globs ('#' one digit, '*' any run,
 * ASCII case-insensitive), NULL-terminated; NULL means the built-in
 * "sdi##@pec.fatturapa.it". */
bool pg_invoice_is_sdi_sender(const char *addr, const char *const *patterns);

typedef struct pg_invfile {
	const char *name;          /* file name as given (may be NULL) */
	const unsigned char *data; /* decoded content */
	size_t len;
} pg_invfile;

typedef enum pg_sdishape {
	PG_SDI_NONE = 0, /* not what the SdI sends */
	PG_SDI_DELIVERY, /* an invoice (.xml FatturaPA or signed .xml.p7m) and its _MT_ file */
	PG_SDI_NOTICE    /* one SdI notice file (_RC_, _NS_, _MC_...) */
} pg_sdishape;

/* Do these attachments have exactly the shape of an SdI delivery or notice
 * from sender (names, the pairing of invoice and metadata, and contents that
 * are what the names say)?  patterns as in pg_invoice_is_sdi_sender. */
pg_sdishape pg_invoice_sdi_shape(pg_arena *a, const char *sender, const char *const *patterns,
				 const pg_invfile *files, size_t n);

/* Is subject an "Invio File <digits>" notice subject (after Re:/Fw:/I:/R:
 * prefixes; 6 to 12 digits, "n." allowed)? */
bool pg_invoice_subject_invio_file(const char *subject);

#endif
