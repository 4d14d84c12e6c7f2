/*
 * fuzz_invoice.c - the fake e-invoice analyser's parsers on arbitrary bytes.
 *
 * Every input goes through all of them: the FatturaPA / SdI XML check, the
 * .p7m (CMS) check and, when that finds signed content, the XML check on
 * it; SdI file-name parsing, search, misnaming and the "Invio File"
 * subject on the bytes as text; the SdI-shape check with the bytes as each
 * attachment; and the whole analyser on the bytes parsed as a message,
 * once as ordinary mail and once as the content of a valid PEC envelope
 * from the SdI (the genuine-delivery path).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>
#include <libxml/parser.h>

#include "fuzz.h"
#include "engine/config.h"
#include "mime/msg.h"
#include "pec/classify.h"
#include "pec/providers.h"
#include "scan/analyser.h"
#include "scan/invoice.h"

/* Set up once per process (libFuzzer runs many inputs in one process);
 * the analyser's own state is read-only after init, as in the engine. */
struct fixture {
	pg_config *cfg;
	void *state;
	pg_providers *idx;
};

static struct fixture *fixture(void)
{
	static struct fixture f;
	if (f.cfg == NULL) {
		g_mime_init();
		xmlInitParser();
		char err[256];
		if (pg_config_load_text("", "fuzz", NULL, 0, &f.cfg, err, sizeof(err)) != PG_OK ||
		    pg_analyser_invoice.init(f.cfg, &f.state, err, sizeof(err)) != PG_OK ||
		    pg_providers_new_empty(&f.idx) != PG_OK)
			abort();
	}
	return &f;
}

static void contents(const uint8_t *data, size_t size)
{
	pg_arena *a = pg_arena_new();
	if (a == NULL)
		abort();
	char root[64];
	(void)pg_invoice_xml_kind(data, size, root, sizeof(root));
	const unsigned char *c = NULL;
	size_t cl = 0;
	if (pg_invoice_p7m_kind(a, data, size, &c, &cl) == PG_P7M_SIGNED && c != NULL)
		(void)pg_invoice_xml_kind(c, cl, root, sizeof(root));

	/* names and subjects: the bytes as text, capped to keep runs short */
	size_t n = size < 65536 ? size : 65536;
	char *t = malloc(n + 1);
	if (t == NULL)
		abort();
	memcpy(t, data, n);
	t[n] = '\0';
	pg_invname nm;
	(void)pg_invoice_parse_name(t, n, &nm);
	for (size_t from = 0; pg_invoice_find_name(t, n, from, &nm); from = nm.start + nm.len)
		if (nm.start + nm.len > n || nm.len == 0)
			abort(); /* the search must move on inside the text */
	char ext[16];
	(void)pg_invoice_misnamed(t, ext, sizeof(ext));
	(void)pg_invoice_subject_invio_file(t);
	(void)pg_invoice_is_tax_code(t);
	(void)pg_invoice_is_sdi_sender(t, NULL);

	/* the SdI shape, with the bytes as the invoice, the metadata, a notice */
	pg_invfile f[2] = {{"IT01234567897_A1B2C.xml.p7m", data, size},
			   {"IT01234567897_A1B2C_MT_001.xml", data, size}};
	(void)pg_invoice_sdi_shape(a, "sdi01@pec.fatturapa.it", NULL, f, 2);
	f[0].name = "IT01234567897_A1B2C.xml";
	(void)pg_invoice_sdi_shape(a, "sdi01@pec.fatturapa.it", NULL, f, 2);
	pg_invfile one[1] = {{"IT01234567897_A1B2C_NS_001.xml", data, size}};
	(void)pg_invoice_sdi_shape(a, "sdi01@pec.fatturapa.it", NULL, one, 1);
	free(t);
	pg_arena_free(a);
}

static void message(struct fixture *fx, const uint8_t *data, size_t size, bool envelope)
{
	pg_arena *a = pg_arena_new();
	if (a == NULL)
		abort();
	unsigned budget = pg_fuzz_limits.max_parts;
	pg_msg *m = NULL;
	char err[256];
	if (size <= pg_fuzz_limits.max_message_size &&
	    pg_msg_parse(a, (const char *)data, size, &pg_fuzz_limits, 0, &budget, &m, err,
			 sizeof(err)) == PG_OK) {
		pg_classification cls;
		if (pg_classify(a, m, fx->idx, PG_TIME_FIXED, 1767225600, 1767225600, &cls) !=
		    PG_OK)
			abort();
		pg_daticert dc = {.tipo = "posta-certificata",
				  .mittente = "sdi01@pec.fatturapa.it"};
		if (envelope) {
			cls.cls = PG_CLASS_PEC_ENVELOPE;
			cls.daticert = &dc;
		}
		pg_symset syms = {.arena = a};
		pg_actx ax = {.arena = a,
			      .msg = m,
			      .top = m,
			      .cls = &cls,
			      .cfg = fx->cfg,
			      .now = 1767225600,
			      .syms = &syms};
		pg_status st = pg_analyser_invoice.run(&ax, fx->state);
		if (st != PG_OK && st != PG_ERR_NOMEM)
			abort(); /* bad input is never an error of the analyser */
		for (size_t i = 0; i < syms.n; i++)
			if (syms.v[i].name == NULL || strncmp(syms.v[i].name, "INVOICE_", 8) != 0 ||
			    (syms.v[i].detail != NULL && strlen(syms.v[i].detail) > (1u << 20)))
				abort();
	}
	pg_arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fixture *fx = fixture();
	contents(data, size);
	message(fx, data, size, false);
	message(fx, data, size, true);
	return 0;
}
