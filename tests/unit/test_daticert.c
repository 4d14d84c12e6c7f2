/*
 * test_daticert.c - daticert.xml parsing (src/pec/daticert.c).
 *
 * Inputs are files under $PG_TEST_DATA/daticert/, one per scenario; a few
 * variants that need a run-time value (a port, an absolute path, a size)
 * are built in memory.  The real-world files of the shared corpus are
 * parsed when the corpus is present and skipped otherwise.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "pec/daticert.h"
#include "util/str.h"
#include "slurp.h"

#define ERRLEN 256

/* ---- helpers --------------------------------------------------------------- */

static const char *data_dir(void)
{
	const char *d = getenv("PG_TEST_DATA");
	return d != NULL ? d : "tests/data";
}

static void data_path(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/daticert/%s", data_dir(), name);
}

struct fx {
	pg_arena *a;
	pg_daticert *d;
	char err[ERRLEN];
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	f->a = pg_arena_new();
	if (f->a == NULL) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	pg_arena_free(f->a);
	free(f);
	return 0;
}

/* Parses a buffer.  The caller's buffer is overwritten before returning so
 * that any string still pointing into it, rather than into the arena,
 * shows up as garbage in the assertions (and as a use-after-free under
 * ASan when the caller frees it). */
static pg_status parse_mem(struct fx *f, char *buf, size_t len)
{
	f->d = NULL;
	f->err[0] = '\0';
	pg_status st = pg_daticert_parse(f->a, buf, len, &f->d, f->err, sizeof(f->err));
	memset(buf, 'Z', len);
	if (st == PG_OK) {
		assert_non_null(f->d);
		assert_string_equal(f->err, "");
	} else {
		assert_null(f->d);
		assert_true(f->err[0] != '\0');
	}
	return st;
}

static pg_status parse_file(struct fx *f, const char *name)
{
	char path[1024];
	size_t len;
	data_path(path, sizeof(path), name);
	char *buf = slurp_file(path, &len);
	if (buf == NULL)
		fail_msg("cannot read %s", path);
	pg_status st = parse_mem(f, buf, len);
	free(buf);
	return st;
}

static void expect_error(void **state, const char *name, const char *msg)
{
	struct fx *f = *state;
	assert_int_equal(parse_file(f, name), PG_ERR_PARSE);
	assert_string_equal(f->err, msg);
}

static void assert_str_or_null(const char *got, const char *want)
{
	if (want == NULL)
		assert_null(got);
	else
		assert_string_equal(got, want);
}

/* A document template with one %s for the DOCTYPE / prolog, for variants
 * built at run time. */
static const char MINIMAL_FMT[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"%s"
	"<postacert tipo=\"posta-certificata\" errore=\"nessuno\">\n"
	" <intestazione><mittente>a@pec.uno.test</mittente>"
	"<destinatari tipo=\"certificato\">b@pec.due.test</destinatari></intestazione>\n"
	" <dati><gestore-emittente>G</gestore-emittente>%s"
	"<identificativo>id-1</identificativo></dati>\n"
	"</postacert>\n";

static pg_status parse_minimal(struct fx *f, const char *prolog, const char *data_elem)
{
	char buf[4096];
	int n = snprintf(buf, sizeof(buf), MINIMAL_FMT, prolog, data_elem);
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	return parse_mem(f, buf, (size_t)n);
}

/* ---- the types --------------------------------------------------------------- */

static void test_tipo_known(void **state)
{
	(void)state;
	static const char *const good[] = {
		"accettazione",
		"non-accettazione",
		"presa-in-carico",
		"avvenuta-consegna",
		"posta-certificata",
		"errore-consegna",
		"preavviso-errore-consegna",
		"rilevazione-virus",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(pg_daticert_tipo_known(good[i]));
	/* Exact, case-sensitive values of the DTD enumeration. */
	assert_false(pg_daticert_tipo_known(NULL));
	assert_false(pg_daticert_tipo_known(""));
	assert_false(pg_daticert_tipo_known("Accettazione"));
	assert_false(pg_daticert_tipo_known("accettazione "));
	assert_false(pg_daticert_tipo_known("errore"));
	assert_false(pg_daticert_tipo_known("posta-certificata\n"));
}

static void test_every_tipo(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *file, *tipo, *errore, *ricevuta, *consegna, *errore_esteso;
		size_t ndest;
		int64_t time;
	} cases[] = {
		{"tipo-accettazione.xml", "accettazione", "nessuno", NULL, NULL, NULL, 1,
		 1741947931},
		{"tipo-non-accettazione.xml", "non-accettazione", "virus", NULL, NULL,
		 "Virus: Eicar-Test-Signature", 1, 1741948351},
		/* No @errore: the DTD default. */
		{"tipo-presa-in-carico.xml", "presa-in-carico", "nessuno", NULL, NULL, NULL, 2,
		 1741948771},
		{"tipo-avvenuta-consegna.xml", "avvenuta-consegna", "nessuno", "breve",
		 "giulia.bianchi@pec.due.test", NULL, 1, 1741949191},
		{"tipo-posta-certificata.xml", "posta-certificata", "nessuno", "completa", NULL,
		 NULL, 1, 1741944571},
		{"tipo-errore-consegna.xml", "errore-consegna", "no-dominio", NULL,
		 "giulia.bianchi@pec.tre.test", "5.1.2 - dominio inesistente", 1, 1741950451},
		{"tipo-preavviso-errore-consegna.xml", "preavviso-errore-consegna", "altro", NULL,
		 "giulia.bianchi@pec.due.test", "Tempo massimo di 12 ore superato", 1, 1741987291},
		{"tipo-rilevazione-virus.xml", "rilevazione-virus", "virus", NULL,
		 "giulia.bianchi@pec.due.test", "Virus: Eicar-Test-Signature", 1, 1741951711},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("%s\n", cases[i].file);
		assert_int_equal(parse_file(f, cases[i].file), PG_OK);
		const pg_daticert *d = f->d;
		assert_string_equal(d->tipo, cases[i].tipo);
		assert_true(pg_daticert_tipo_known(d->tipo));
		assert_string_equal(d->errore, cases[i].errore);
		assert_str_or_null(d->ricevuta, cases[i].ricevuta);
		assert_str_or_null(d->consegna, cases[i].consegna);
		assert_str_or_null(d->errore_esteso, cases[i].errore_esteso);
		assert_int_equal(d->ndest, cases[i].ndest);
		assert_int_equal(d->time, cases[i].time);
		assert_string_equal(d->mittente, "mario.rossi@pec.uno.test");
		assert_string_equal(d->msgid, "<N9VQGC$B2254FE9@pec.uno.test>");
	}
}

static void test_all_fields(void **state)
{
	struct fx *f = *state;
	assert_int_equal(parse_file(f, "tipo-posta-certificata.xml"), PG_OK);
	const pg_daticert *d = f->d;
	assert_string_equal(d->tipo, "posta-certificata");
	assert_string_equal(d->errore, "nessuno");
	assert_string_equal(d->mittente, "mario.rossi@pec.uno.test");
	assert_int_equal(d->ndest, 1);
	assert_string_equal(d->dest[0].addr, "giulia.bianchi@pec.due.test");
	assert_string_equal(d->dest[0].tipo, "certificato");
	assert_string_equal(d->risposte, "mario.rossi@pec.uno.test");
	assert_string_equal(d->oggetto, "Convocazione assemblea 2025");
	assert_string_equal(d->gestore, "Gestore Test Uno S.p.A.");
	assert_string_equal(d->zona, "+0100");
	assert_string_equal(d->giorno, "14/03/2025");
	assert_string_equal(d->ora, "10:29:31");
	assert_int_equal(d->time, 1741944571); /* 2025-03-14T09:29:31Z */
	assert_string_equal(d->identificativo, "opec1001.20250314102931.40001.1.1.1@pec.uno.test");
	assert_string_equal(d->msgid, "<N9VQGC$B2254FE9@pec.uno.test>");
	assert_string_equal(d->ricevuta, "completa");
	assert_null(d->consegna);
	assert_null(d->errore_esteso);
}

/* Extracted from the fixture rcpt-errore-consegna.eml. */
static void test_fixture_errore_consegna(void **state)
{
	struct fx *f = *state;
	assert_int_equal(parse_file(f, "fixture-errore-consegna.xml"), PG_OK);
	const pg_daticert *d = f->d;
	assert_string_equal(d->tipo, "errore-consegna");
	assert_string_equal(d->errore, "no-dest");
	assert_int_equal(d->ndest, 2);
	assert_string_equal(d->dest[1].addr, "protocollo@pec.due.test");
	assert_string_equal(d->consegna, "giulia.bianchi@pec.due.test");
	assert_string_equal(d->errore_esteso, "5.1.1 - Gestore Test Due - indirizzo non valido");
	assert_null(d->ricevuta);
	assert_string_equal(d->gestore, "Gestore Test Due S.r.l.");
	assert_int_equal(d->time, 1741950451);
}

/* ---- encodings ----------------------------------------------------------------- */

static const char ACCENTED[] = "Perché è già così: più caffè";

/* The same document as tipo-posta-certificata.xml but for the encoding and
 * the accented subject. */
static void check_accented(const pg_daticert *d)
{
	assert_string_equal(d->tipo, "posta-certificata");
	assert_string_equal(d->oggetto, ACCENTED);
	assert_true(pg_utf8_valid(d->oggetto, strlen(d->oggetto)));
	assert_string_equal(d->mittente, "mario.rossi@pec.uno.test");
	assert_string_equal(d->dest[0].addr, "giulia.bianchi@pec.due.test");
	assert_string_equal(d->msgid, "<N9VQGC$B2254FE9@pec.uno.test>");
	assert_int_equal(d->time, 1741944571);
}

static void test_utf16le_bom(void **state)
{
	struct fx *f = *state;
	assert_int_equal(parse_file(f, "utf16le-bom.xml"), PG_OK);
	check_accented(f->d);
}

static void test_utf16be_bom(void **state)
{
	struct fx *f = *state;
	assert_int_equal(parse_file(f, "utf16be-bom.xml"), PG_OK);
	check_accented(f->d);
}

static void test_latin1(void **state)
{
	struct fx *f = *state;
	assert_int_equal(parse_file(f, "latin1.xml"), PG_OK);
	check_accented(f->d);
}

/* Extracted from the fixture edge-daticert-utf16.eml: UTF-16BE with BOM. */
static void test_fixture_utf16be(void **state)
{
	struct fx *f = *state;
	assert_int_equal(parse_file(f, "fixture-utf16be.xml"), PG_OK);
	const pg_daticert *d = f->d;
	assert_string_equal(d->tipo, "posta-certificata");
	assert_int_equal(d->ndest, 2);
	assert_string_equal(d->identificativo, "opec1001.20250314151631.40042.1.1.42@pec.uno.test");
	assert_string_equal(d->msgid, "<N9VQGC$B2254FE9FD0BA8E3C2A66F0F7F17D574@pec.uno.test>");
	assert_int_equal(d->time, 1741961791);
}

static void test_bad_utf8(void **state)
{
	struct fx *f = *state;
	/* Declared UTF-8, written in Latin-1. */
	char buf[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		     "<postacert tipo=\"accettazione\"><intestazione><oggetto>Perch\xe9</oggetto>"
		     "</intestazione></postacert>";
	assert_int_equal(parse_mem(f, buf, sizeof(buf) - 1), PG_ERR_PARSE);
	assert_true(strncmp(f->err, "not well-formed XML at line 2: ", 31) == 0);
}

/* ---- DTDs and entities ------------------------------------------------------------ */

static void test_doctype_remote_dtd(void **state)
{
	struct fx *f = *state;
	assert_int_equal(parse_file(f, "doctype-remote-dtd.xml"), PG_OK);
	assert_string_equal(f->d->tipo, "posta-certificata");
	assert_string_equal(f->d->oggetto, "Convocazione assemblea 2025");
}

/* A DOCTYPE naming a DTD on a local listening socket: the parse succeeds
 * and nobody connected. */
static void test_remote_dtd_never_fetched(void **state)
{
	struct fx *f = *state;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s >= 0);
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = 0;
	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(s, 4), 0);
	socklen_t sl = sizeof(sin);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &sl), 0);
	char prolog[256];
	snprintf(prolog, sizeof(prolog),
		 "<!DOCTYPE postacert SYSTEM \"http://127.0.0.1:%u/daticert.dtd\">\n",
		 (unsigned)ntohs(sin.sin_port));

	pg_status st = parse_minimal(f, prolog, "");

	assert_int_equal(fcntl(s, F_SETFL, O_NONBLOCK), 0);
	int c = accept(s, NULL, NULL);
	int e = errno;
	if (c >= 0)
		close(c);
	close(s);
	assert_int_equal(st, PG_OK);
	assert_true(c < 0 && (e == EAGAIN || e == EWOULDBLOCK));
}

/* A DOCTYPE naming a local DTD by file:// URL: had it been read, its entity
 * declaration would have failed the parse. */
static void test_file_dtd_never_read(void **state)
{
	struct fx *f = *state;
	char path[1024], abs[PATH_MAX], prolog[PATH_MAX + 64];
	data_path(path, sizeof(path), "evil-external.dtd");
	assert_non_null(realpath(path, abs));
	snprintf(prolog, sizeof(prolog), "<!DOCTYPE postacert SYSTEM \"file://%s\">\n", abs);
	assert_int_equal(parse_minimal(f, prolog, ""), PG_OK);
	assert_string_equal(f->d->errore, "nessuno");
	/* The same with the subset spelled inline is refused: proof that
	 * the file would have been caught if read. */
	assert_int_equal(parse_minimal(f, "<!DOCTYPE postacert [<!ENTITY dominio \"x\">]>\n", ""),
			 PG_ERR_PARSE);
	assert_string_equal(f->err, "entity declarations are not allowed");
}

static void test_billion_laughs(void **state)
{
	expect_error(state, "billion-laughs.xml", "entity declarations are not allowed");
}

static void test_xxe_file(void **state)
{
	expect_error(state, "xxe-file.xml", "entity declarations are not allowed");
}

static void test_xxe_parameter(void **state)
{
	expect_error(state, "xxe-parameter.xml", "entity declarations are not allowed");
}

/* An internal subset with no entities is accepted, but cannot supply
 * attributes through defaults. */
static void test_attlist_default_tipo(void **state)
{
	expect_error(state, "attlist-default-tipo.xml", "missing postacert/@tipo");
	struct fx *f = *state;
	assert_int_equal(parse_minimal(f, "<!DOCTYPE postacert [<!ELEMENT postacert ANY>]>\n", ""),
			 PG_OK);
}

/* With an external DTD libxml2 only warns about an undeclared entity and
 * drops it; it must fail the document instead. */
static void test_undeclared_entity(void **state)
{
	expect_error(state, "undeclared-entity.xml",
		     "not well-formed XML at line 8: Entity 'numero' not defined");
}

/* ---- the pre-scan: costs libxml2 2.9 lets grow quadratically ------------------- */

/* s (ASCII) as UTF-16LE with a byte-order mark, into out (malloc'd). */
static char *utf16le(const char *s, size_t *len)
{
	size_t n = strlen(s);
	char *out = malloc(2 * n + 2);
	assert_non_null(out);
	out[0] = (char)0xFF;
	out[1] = (char)0xFE;
	for (size_t i = 0; i < n; i++) {
		out[2 + 2 * i] = s[i];
		out[3 + 2 * i] = 0;
	}
	*len = 2 * n + 2;
	return out;
}

static void test_attribute_bomb(void **state)
{
	expect_error(state, "attribute-bomb.xml", "more than 64 attributes in one element");
	struct fx *f = *state;

	/* A whole megabyte of attributes on one tag: 4 s of libxml2's
	 * duplicate checking, unless refused first. */
	const size_t cap = 1024 * 1024;
	char *big = malloc(cap + 1);
	assert_non_null(big);
	size_t n = (size_t)snprintf(big, cap, "<postacert tipo=\"accettazione\"");
	for (unsigned i = 0; n + 32 < cap; i++)
		n += (size_t)snprintf(big + n, cap - n, " a%u=\"\"", i);
	n += (size_t)snprintf(big + n, cap - n, "/>");
	assert_int_equal(parse_mem(f, big, n), PG_ERR_PARSE);
	assert_string_equal(f->err, "more than 64 attributes in one element");

	/* The same in UTF-16. */
	size_t wlen;
	char *narrow = malloc(2048);
	assert_non_null(narrow);
	n = (size_t)snprintf(narrow, 2048, "<postacert tipo=\"accettazione\"");
	for (unsigned i = 0; i < 70; i++)
		n += (size_t)snprintf(narrow + n, 2048 - n, " a%u=\"\"", i);
	snprintf(narrow + n, 2048 - n, "/>");
	char *wide = utf16le(narrow, &wlen);
	assert_int_equal(parse_mem(f, wide, wlen), PG_ERR_PARSE);
	assert_string_equal(f->err, "more than 64 attributes in one element");
	free(wide);

	/* Quotes in a processing instruction or a CDATA section do not hide
	 * the tags that follow. */
	static const char *const hide[] = {"<?pi don't?>", "<!-- don't -->", "<![CDATA[ \" ' ]]>"};
	for (size_t k = 0; k < sizeof(hide) / sizeof(hide[0]); k++) {
		n = (size_t)snprintf(big, cap, "<postacert tipo=\"accettazione\">%s<x", hide[k]);
		for (unsigned i = 0; i < 70; i++)
			n += (size_t)snprintf(big + n, cap - n, " a%u=\"\"", i);
		n += (size_t)snprintf(big + n, cap - n, "/></postacert>");
		assert_int_equal(parse_mem(f, big, n), PG_ERR_PARSE);
		assert_string_equal(f->err, "more than 64 attributes in one element");
	}
	free(narrow);
	free(big);
}

static void test_namespace_bomb(void **state)
{
	expect_error(state, "namespace-bomb.xml", "more than 16 namespace declarations");
}

/* A default namespace, '=' in a comment, 64 attributes on an extension
 * element: all allowed. */
static void test_namespace_default(void **state)
{
	struct fx *f = *state;
	assert_int_equal(parse_file(f, "namespace-default.xml"), PG_OK);
	assert_string_equal(f->d->tipo, "posta-certificata");
	assert_string_equal(f->d->mittente, "mario.rossi@pec.uno.test");
}

static void test_encodings_refused(void **state)
{
	/* UTF-7 spells '=' as "+AD0-": a byte scan would not see the markup. */
	expect_error(state, "utf7.xml", "unsupported encoding 'UTF-7'");
	struct fx *f = *state;
	char ucs4[] = "<\0\0\0?\0\0\0x\0\0\0";
	assert_int_equal(parse_mem(f, ucs4, sizeof(ucs4) - 1), PG_ERR_PARSE);
	assert_string_equal(f->err, "unsupported encoding (UCS-4 or EBCDIC)");
	char ebcdic[] = "\x4c\x6f\xa7\x94\x93\x40";
	assert_int_equal(parse_mem(f, ebcdic, sizeof(ebcdic) - 1), PG_ERR_PARSE);
	assert_string_equal(f->err, "unsupported encoding (UCS-4 or EBCDIC)");

	/* In UTF-16 only UTF-16 (or the UTF-8 libxml2 ignores there). */
	size_t wlen;
	char *wide = utf16le("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><postacert/>", &wlen);
	assert_int_equal(parse_mem(f, wide, wlen), PG_ERR_PARSE);
	assert_string_equal(f->err, "unsupported encoding 'ISO-8859-1'");
	free(wide);
	wide = utf16le("<?xml version=\"1.0\" encoding=\"UTF-16BE\"?><postacert/>", &wlen);
	assert_int_equal(parse_mem(f, wide, wlen), PG_ERR_PARSE);
	assert_string_equal(f->err, "unsupported encoding 'UTF-16BE'");
	free(wide);

	char padded[1024];
	int n = snprintf(padded, sizeof(padded), "<?xml version=\"1.0\"%600s encoding=\"UTF-7\"?>",
			 "");
	assert_int_equal(parse_mem(f, padded, (size_t)n), PG_ERR_PARSE);
	assert_string_equal(f->err, "not well-formed XML at line 1: XML declaration too long");
	char broken[] = "<?xml version=\"1.0\" encoding UTF-7?><postacert/>";
	assert_int_equal(parse_mem(f, broken, sizeof(broken) - 1), PG_ERR_PARSE);
	assert_string_equal(f->err, "not well-formed XML at line 1: malformed XML declaration");
}

static void test_encodings_accepted(void **state)
{
	struct fx *f = *state;
	static const char *const names[] = {"utf-8", "US-ASCII", "windows-1252", "ISO-8859-15",
					    "latin1"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char buf[4096], decl[128];
		snprintf(decl, sizeof(decl), "<?xml version='1.0' encoding = '%s' ?>", names[i]);
		int n = snprintf(buf, sizeof(buf), MINIMAL_FMT, "", "");
		/* Replace the template's declaration. */
		const char *rest = strchr(buf, '\n');
		char doc[4096];
		int m = snprintf(doc, sizeof(doc), "%s%s", decl, rest);
		assert_true(n > 0 && m > 0);
		print_message("%s\n", names[i]);
		assert_int_equal(parse_mem(f, doc, (size_t)m), PG_OK);
	}
	/* UTF-16 declared UTF-8 (libxml2 keeps UTF-16), and without BOM. */
	char buf[4096];
	int n = snprintf(buf, sizeof(buf), MINIMAL_FMT, "", "");
	assert_true(n > 0);
	size_t wlen;
	char *wide = utf16le(buf, &wlen);
	assert_int_equal(parse_mem(f, wide, wlen), PG_OK);
	free(wide);
	wide = utf16le(buf, &wlen);
	assert_int_equal(parse_mem(f, wide + 2, wlen - 2), PG_OK);
	free(wide);
}

/* ---- structure errors --------------------------------------------------------- */

static void test_not_well_formed(void **state)
{
	struct fx *f = *state;
	assert_int_equal(parse_file(f, "not-well-formed.xml"), PG_ERR_PARSE);
	/* The first error, naming the line of the broken tag. */
	assert_string_equal(f->err, "not well-formed XML at line 6: Opening and ending tag "
				    "mismatch: oggetto line 6 and ogetto");
}

static void test_garbage(void **state)
{
	struct fx *f = *state;
	char buf[] = "\x00\x01\x02 not XML at all";
	assert_int_equal(parse_mem(f, buf, sizeof(buf) - 1), PG_ERR_PARSE);
	assert_true(strncmp(f->err, "not well-formed XML at line ", 28) == 0);
	char trunc[] = "<?xml version=\"1.0\"?>\n<postacert tipo=\"accettazione\">\n<intestazione>";
	assert_int_equal(parse_mem(f, trunc, sizeof(trunc) - 1), PG_ERR_PARSE);
	assert_true(strncmp(f->err, "not well-formed XML at line 3: ", 31) == 0);
	char ns[] = "<postacert tipo=\"accettazione\" x:y=\"1\"/>";
	assert_int_equal(parse_mem(f, ns, sizeof(ns) - 1), PG_ERR_PARSE);
	assert_true(strncmp(f->err, "not well-formed XML at line 1: ", 31) == 0);
}

static void test_wrong_root(void **state)
{
	expect_error(state, "wrong-root.xml", "root element is 'postacertificata', not postacert");
}

static void test_missing_mittente(void **state)
{
	expect_error(state, "missing-mittente.xml", "missing intestazione/mittente");
}

static void test_missing_intestazione(void **state)
{
	expect_error(state, "missing-intestazione.xml", "missing intestazione");
}

static void test_missing_dati(void **state)
{
	expect_error(state, "missing-dati.xml", "missing dati");
}

static void test_missing_destinatari(void **state)
{
	expect_error(state, "missing-destinatari.xml", "missing intestazione/destinatari");
}

static void test_missing_tipo(void **state)
{
	expect_error(state, "missing-tipo.xml", "missing postacert/@tipo");
}

static void test_unknown_tipo(void **state)
{
	expect_error(state, "unknown-tipo.xml",
		     "postacert/@tipo 'posta-certificatissima' is not a known type");
}

/* Two copies of a single-valued element: which one counts would depend on
 * the reader, so neither does. */
static void test_duplicate_mittente(void **state)
{
	expect_error(state, "duplicate-mittente.xml", "duplicate intestazione/mittente");
}

static void test_required_dati_children(void **state)
{
	struct fx *f = *state;
	char buf[] = "<postacert tipo=\"accettazione\"><intestazione><mittente>a</mittente>"
		     "<destinatari>b</destinatari></intestazione><dati>"
		     "<identificativo>i</identificativo></dati></postacert>";
	assert_int_equal(parse_mem(f, buf, sizeof(buf) - 1), PG_ERR_PARSE);
	assert_string_equal(f->err, "missing dati/gestore-emittente");
	char buf2[] = "<postacert tipo=\"accettazione\"><intestazione><mittente>a</mittente>"
		      "<destinatari>b</destinatari></intestazione><dati>"
		      "<gestore-emittente>g</gestore-emittente></dati></postacert>";
	assert_int_equal(parse_mem(f, buf2, sizeof(buf2) - 1), PG_ERR_PARSE);
	assert_string_equal(f->err, "missing dati/identificativo");
	char buf3[] = "<postacert tipo=\"accettazione\"><intestazione><mittente> \n</mittente>"
		      "<destinatari>b</destinatari></intestazione><dati/></postacert>";
	assert_int_equal(parse_mem(f, buf3, sizeof(buf3) - 1), PG_ERR_PARSE);
	assert_string_equal(f->err, "empty intestazione/mittente");
	char buf4[] = "<postacert tipo=\"accettazione\"><intestazione><mittente>a</mittente>"
		      "<destinatari/></intestazione><dati/></postacert>";
	assert_int_equal(parse_mem(f, buf4, sizeof(buf4) - 1), PG_ERR_PARSE);
	assert_string_equal(f->err, "empty intestazione/destinatari");
	char buf5[] = "<postacert tipo=\"accettazione\"><intestazione><mittente>a</mittente>"
		      "<destinatari>b</destinatari></intestazione><dati><gestore-emittente>g"
		      "</gestore-emittente><identificativo>i</identificativo><data/><data/>"
		      "</dati></postacert>";
	assert_int_equal(parse_mem(f, buf5, sizeof(buf5) - 1), PG_ERR_PARSE);
	assert_string_equal(f->err, "duplicate dati/data");
}

/* ---- content ------------------------------------------------------------------ */

static void test_msgid_escaped(void **state)
{
	struct fx *f = *state;
	assert_int_equal(parse_file(f, "msgid-escaped.xml"), PG_OK);
	assert_string_equal(f->d->msgid, "<NBFBS2$356499608B206976D53E57473B285C3A@pec.it>");
	/* Character references decode too. */
	assert_int_equal(parse_minimal(f, "", "<msgid>&#60;x&#x40;y&#62;</msgid>"), PG_OK);
	assert_string_equal(f->d->msgid, "<x@y>");
}

static void test_destinatari_misti(void **state)
{
	struct fx *f = *state;
	assert_int_equal(parse_file(f, "destinatari-misti.xml"), PG_OK);
	const pg_daticert *d = f->d;
	assert_int_equal(d->ndest, 4);
	assert_string_equal(d->dest[0].addr, "giulia.bianchi@pec.due.test");
	assert_string_equal(d->dest[0].tipo, "certificato");
	assert_string_equal(d->dest[1].addr, "info@azienda-esempio.test");
	assert_string_equal(d->dest[1].tipo, "esterno");
	/* No @tipo: the DTD default. */
	assert_string_equal(d->dest[2].addr, "ufficio@pec.due.test");
	assert_string_equal(d->dest[2].tipo, "certificato");
	/* Surrounding white space trimmed. */
	assert_string_equal(d->dest[3].addr, "spazi@esempio.test");
	assert_string_equal(d->dest[3].tipo, "esterno");
}

static void test_time_zones(void **state)
{
	struct fx *f = *state;
	/* +0100 (winter): 14/03/2025 10:29:31 is 09:29:31Z. */
	assert_int_equal(parse_file(f, "tipo-posta-certificata.xml"), PG_OK);
	assert_int_equal(f->d->time, 1741944571);
	/* +0200 (summer): 18/08/2023 17:37:14 is 15:37:14Z. */
	assert_int_equal(parse_file(f, "zona-0200.xml"), PG_OK);
	assert_string_equal(f->d->zona, "+0200");
	assert_int_equal(f->d->time, 1692373034);
	/* Unparsable: the strings as written, time -1, no error. */
	assert_int_equal(parse_file(f, "bad-time.xml"), PG_OK);
	assert_string_equal(f->d->giorno, "2025-03-14");
	assert_string_equal(f->d->ora, "10:29");
	assert_int_equal(f->d->time, -1);

	static const struct {
		const char *data;
		int64_t time;
	} cases[] = {
		{"", -1}, /* no data element */
		{"<data zona=\"+0100\"><giorno>14/03/2025</giorno><ora>10:29:31</ora></data>",
		 1741944571},
		{"<data zona=\"+01:00\"><giorno>14/03/2025</giorno><ora>10:29:31</ora></data>",
		 1741944571},
		{"<data zona=\"+0000\"><giorno>01/01/1970</giorno><ora>00:00:00</ora></data>", 0},
		{"<data zona=\"-0130\"><giorno>31/12/2024</giorno><ora>23:30:00</ora></data>",
		 1735693200},
		{"<data><giorno>14/03/2025</giorno><ora>10:29:31</ora></data>", -1},
		{"<data zona=\"CET\"><giorno>14/03/2025</giorno><ora>10:29:31</ora></data>", -1},
		{"<data zona=\"+2400\"><giorno>14/03/2025</giorno><ora>10:29:31</ora></data>", -1},
		{"<data zona=\"+0100\"><giorno>29/02/2023</giorno><ora>10:29:31</ora></data>", -1},
		{"<data zona=\"+0100\"><giorno>29/02/2024</giorno><ora>00:00:00</ora></data>",
		 1709161200},
		{"<data zona=\"+0100\"><giorno>14/03/2025</giorno><ora>24:00:00</ora></data>", -1},
		{"<data zona=\"+0100\"><giorno>14/3/2025</giorno><ora>10:29:31</ora></data>", -1},
		{"<data zona=\"+0100\"><giorno>14/03/2025</giorno></data>", -1},
		{"<data zona=\"+0100\"><giorno>01/01/1970</giorno><ora>00:00:00</ora></data>", -1},
		{"<data zona=\" +0100 \"><giorno> 14/03/2025 </giorno><ora>\n10:29:31\n</ora>"
		 "</data>",
		 1741944571},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("%s\n", cases[i].data);
		assert_int_equal(parse_minimal(f, "", cases[i].data), PG_OK);
		assert_int_equal(f->d->time, cases[i].time);
	}
	assert_int_equal(parse_minimal(f, "", ""), PG_OK);
	assert_null(f->d->zona);
	assert_null(f->d->giorno);
	assert_null(f->d->ora);
}

/* Order, unknown elements, comments, PIs, stray text, CDATA, trailing
 * newlines: all seen in or inspired by real files. */
static void test_tolerant_order(void **state)
{
	struct fx *f = *state;
	assert_int_equal(parse_file(f, "tolerant-order.xml"), PG_OK);
	const pg_daticert *d = f->d;
	assert_string_equal(d->tipo, "avvenuta-consegna");
	assert_string_equal(d->mittente, "mario.rossi@pec.uno.test");
	assert_int_equal(d->ndest, 1);
	assert_null(d->risposte);
	assert_string_equal(d->oggetto, "Oggetto con <markup> & simboli");
	assert_string_equal(d->gestore, "ARUBA PEC S.p.A.");
	assert_string_equal(d->identificativo, "opec275.20140905122850.23069.09.1.17@pec.aruba.it");
	assert_string_equal(d->msgid, "<cdata-id@pec.uno.test>");
	assert_string_equal(d->ricevuta, "sintetica");
	assert_string_equal(d->consegna, "giulia.bianchi@pec.due.test");
	assert_string_equal(d->zona, "-0130");
	assert_int_equal(d->time, 1735693200); /* 2025-01-01T01:00:00Z */
}

/* ---- limits and arguments -------------------------------------------------------- */

static void test_size_cap(void **state)
{
	struct fx *f = *state;
	const size_t cap = 1024 * 1024;
	char *buf = malloc(cap + 1);
	assert_non_null(buf);
	int n = snprintf(buf, cap, MINIMAL_FMT, "", "");
	assert_true(n > 0);
	/* Exactly 1 MiB: white space after the root element is allowed. */
	memset(buf + n, ' ', cap - (size_t)n);
	pg_status st = pg_daticert_parse(f->a, buf, cap, &f->d, f->err, sizeof(f->err));
	assert_int_equal(st, PG_OK);
	assert_string_equal(f->d->tipo, "posta-certificata");
	buf[cap] = ' ';
	st = pg_daticert_parse(f->a, buf, cap + 1, &f->d, f->err, sizeof(f->err));
	free(buf);
	assert_int_equal(st, PG_ERR_PARSE);
	assert_null(f->d);
	assert_string_equal(f->err, "daticert.xml larger than 1 MiB");
}

static void test_arguments(void **state)
{
	struct fx *f = *state;
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "%s", "<postacert/>");
	assert_int_equal(pg_daticert_parse(f->a, buf, 0, &f->d, f->err, sizeof(f->err)),
			 PG_ERR_PARSE);
	assert_string_equal(f->err, "empty daticert.xml");
	assert_int_equal(pg_daticert_parse(NULL, buf, (size_t)n, &f->d, f->err, sizeof(f->err)),
			 PG_ERR_INVALID);
	assert_int_equal(pg_daticert_parse(f->a, buf, (size_t)n, NULL, f->err, sizeof(f->err)),
			 PG_ERR_INVALID);
	assert_int_equal(pg_daticert_parse(f->a, NULL, 5, &f->d, f->err, sizeof(f->err)),
			 PG_ERR_INVALID);
	/* No room for a message is fine. */
	assert_int_equal(pg_daticert_parse(f->a, buf, (size_t)n, &f->d, NULL, 0), PG_ERR_PARSE);
	/* A short buffer gets a truncated, terminated message. */
	char small[8];
	assert_int_equal(pg_daticert_parse(f->a, buf, (size_t)n, &f->d, small, sizeof(small)),
			 PG_ERR_PARSE);
	assert_string_equal(small, "missing");
	/* The input needs no NUL terminator: the length rules. */
	char exact[] = "<postacert tipo=\"accettazione\"><intestazione><mittente>a</mittente>"
		       "<destinatari>b</destinatari></intestazione><dati><gestore-emittente>g"
		       "</gestore-emittente><identificativo>i</identificativo></dati></postacert>"
		       "<garbage";
	assert_int_equal(pg_daticert_parse(f->a, exact, sizeof(exact) - 1 - 8, &f->d, f->err,
					   sizeof(f->err)),
			 PG_OK);
}

/* Whatever input puts in a message is made safe for logs: no control
 * characters, long values cut on a character boundary. */
static void test_error_message_sanitised(void **state)
{
	struct fx *f = *state;
	char buf[1024];
	char tipo[400] = "a&#9;b&#10;c";
	for (int i = 0; i < 60; i++)
		strcat(tipo, "è");
	int n = snprintf(buf, sizeof(buf),
			 "<postacert tipo=\"%s\"><intestazione/><dati/></postacert>", tipo);
	assert_int_equal(parse_mem(f, buf, (size_t)n), PG_ERR_PARSE);
	assert_true(strncmp(f->err, "postacert/@tipo 'a b c", 22) == 0);
	assert_non_null(strstr(f->err, "' is not a known type"));
	assert_true(pg_utf8_valid(f->err, strlen(f->err)));
	for (const char *p = f->err; *p; p++)
		assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);

	/* libxml2 quotes input cut at 50 bytes, here in the middle of "è"
	 * (found by the fuzzer). */
	n = snprintf(buf, sizeof(buf), "<postacert tipo=\"accettazione\"><oggetto><![CDATA[x%s",
		     tipo + 12);
	assert_int_equal(parse_mem(f, buf, (size_t)n), PG_ERR_PARSE);
	assert_true(strncmp(f->err, "not well-formed XML at line 1: ", 31) == 0);
	assert_true(pg_utf8_valid(f->err, strlen(f->err)));

	/* C1 controls, as a Latin-1 file makes of bytes 0x80-0x9F. */
	char c1[] = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n"
		    "<postacert tipo=\"x\x85y\x9bz\"/>";
	assert_int_equal(parse_mem(f, c1, sizeof(c1) - 1), PG_ERR_PARSE);
	assert_string_equal(f->err, "postacert/@tipo 'x  y  z' is not a known type");

	/* Truncation by a short err buffer never leaves half a character. */
	n = snprintf(buf, sizeof(buf),
		     "<postacert tipo=\"èèèèèèèèèèèèèèèèèèèè\"><intestazione/><dati/></postacert>");
	pg_daticert *d;
	for (size_t len = 1; len < 50; len++) {
		char small[64];
		memset(small, 'X', sizeof(small));
		assert_int_equal(pg_daticert_parse(f->a, buf, (size_t)n, &d, small, len),
				 PG_ERR_PARSE);
		assert_true(strlen(small) < len);
		assert_true(pg_utf8_valid(small, strlen(small)));
	}
}

/* ---- real files ----------------------------------------------------------------- */

static char *read_real(const char *name, size_t *len)
{
	char path[1024];
	/* The shared corpora sit next to the checkout: /work/shared beside
	 * /work/main, PG_TEST_DATA being /work/main/tests/data. */
	const char *shared = getenv("PG_SHARED_DIR");
	if (shared != NULL && shared[0] != '\0')
		snprintf(path, sizeof(path), "%s/corpus/pec/real/%s", shared, name);
	else
		snprintf(path, sizeof(path), "%s/../../../shared/corpus/pec/real/%s", data_dir(),
			 name);
	char *buf = slurp_file(path, len);
	if (buf == NULL)
		print_message("%s: not present, skipping\n", path);
	return buf;
}

/* tornabene/jopenpec mail/daticert.xml: Aruba 2014, UTF-16BE with BOM, a
 * newline and tabs inside identificativo. */
static void test_real_jopenpec(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *buf = read_real("jopenpec_daticert.xml", &len);
	if (buf == NULL)
		skip();
	pg_status st = parse_mem(f, buf, len);
	free(buf);
	assert_int_equal(st, PG_OK);
	const pg_daticert *d = f->d;
	assert_string_equal(d->tipo, "posta-certificata");
	assert_string_equal(d->errore, "nessuno");
	assert_string_equal(d->mittente, "tindaro.tornabene@pec.it");
	assert_int_equal(d->ndest, 1);
	assert_string_equal(d->dest[0].tipo, "certificato");
	assert_string_equal(d->oggetto, "Test2");
	assert_string_equal(d->gestore, "ARUBA PEC S.p.A.");
	assert_string_equal(d->identificativo, "opec275.20140905122850.23069.09.1.17@pec.aruba.it");
	assert_string_equal(d->msgid, "<NBFBS2$356499608B206976D53E57473B285C3A@pec.it>");
	assert_string_equal(d->ricevuta, "completa");
	assert_int_equal(d->time, 1409912930); /* 05/09/2014 12:28:50 +0200 */
}

/* Postecom 2012 from a mailing-list archive: destinatari esterno, no msgid. */
static void test_real_postecom(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *buf = read_real("gccml_postecom_daticert_2012.xml", &len);
	if (buf == NULL)
		skip();
	pg_status st = parse_mem(f, buf, len);
	free(buf);
	assert_int_equal(st, PG_OK);
	const pg_daticert *d = f->d;
	assert_string_equal(d->tipo, "posta-certificata");
	assert_string_equal(d->mittente, "12976@pec2.federfarma.it");
	assert_int_equal(d->ndest, 1);
	assert_string_equal(d->dest[0].addr, "java@gcc.gnu.org");
	assert_string_equal(d->dest[0].tipo, "esterno");
	assert_string_equal(d->gestore, "POSTECOM S.P.A. - GRUPPO POSTE ITALIANE");
	assert_string_equal(d->identificativo,
			    "E82D9D8F.000073B6.E8F90950.8520A581.posta-certificata@postecert.it");
	assert_null(d->msgid);
	assert_string_equal(d->ricevuta, "completa");
	assert_int_equal(d->time, 1348233398); /* 21/09/2012 15:16:38 +0200 */
}

/* ---- threads ---------------------------------------------------------------------- */

struct thread_case {
	const char *file;
	pg_status st;
	const char *expect; /* tipo on success, err on failure */
	char *buf;
	size_t len;
};

static struct thread_case thread_cases[] = {
	{"tipo-posta-certificata.xml", PG_OK, "posta-certificata", NULL, 0},
	{"utf16le-bom.xml", PG_OK, "posta-certificata", NULL, 0},
	{"latin1.xml", PG_OK, "posta-certificata", NULL, 0},
	{"tipo-rilevazione-virus.xml", PG_OK, "rilevazione-virus", NULL, 0},
	{"not-well-formed.xml", PG_ERR_PARSE,
	 "not well-formed XML at line 6: Opening and ending tag mismatch: oggetto line 6 and "
	 "ogetto",
	 NULL, 0},
	{"undeclared-entity.xml", PG_ERR_PARSE,
	 "not well-formed XML at line 8: Entity 'numero' not defined", NULL, 0},
	{"billion-laughs.xml", PG_ERR_PARSE, "entity declarations are not allowed", NULL, 0},
	{"unknown-tipo.xml", PG_ERR_PARSE,
	 "postacert/@tipo 'posta-certificatissima' is not a known type", NULL, 0},
};
#define NCASES (sizeof(thread_cases) / sizeof(thread_cases[0]))

static void *thread_main(void *arg)
{
	size_t offset = (size_t)(uintptr_t)arg;
	uintptr_t failures = 0;
	for (size_t i = 0; i < 200; i++) {
		struct thread_case *c = &thread_cases[(i + offset) % NCASES];
		pg_arena *a = pg_arena_new();
		if (a == NULL)
			return (void *)(uintptr_t)1000;
		pg_daticert *d;
		char err[ERRLEN];
		pg_status st = pg_daticert_parse(a, c->buf, c->len, &d, err, sizeof(err));
		if (st != c->st || strcmp(st == PG_OK ? d->tipo : err, c->expect) != 0)
			failures++;
		pg_arena_free(a);
	}
	return (void *)failures;
}

/* Errors are per parse: threads failing in different ways at once each get
 * their own message. */
static void test_threads(void **state)
{
	(void)state;
	for (size_t i = 0; i < NCASES; i++) {
		char path[1024];
		data_path(path, sizeof(path), thread_cases[i].file);
		thread_cases[i].buf = slurp_file(path, &thread_cases[i].len);
		assert_non_null(thread_cases[i].buf);
	}
	pthread_t t[6];
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(pthread_create(&t[i], NULL, thread_main, (void *)(uintptr_t)i), 0);
	uintptr_t failures = 0;
	for (size_t i = 0; i < 6; i++) {
		void *r;
		assert_int_equal(pthread_join(t[i], &r), 0);
		failures += (uintptr_t)r;
	}
	for (size_t i = 0; i < NCASES; i++) {
		free(thread_cases[i].buf);
		thread_cases[i].buf = NULL;
	}
	assert_int_equal(failures, 0);
}

static int group_setup(void **state)
{
	(void)state;
	/* The engine's job in the library; the test's here. */
	xmlInitParser();
	return 0;
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_tipo_known),
		T(test_every_tipo),
		T(test_all_fields),
		T(test_fixture_errore_consegna),
		T(test_utf16le_bom),
		T(test_utf16be_bom),
		T(test_latin1),
		T(test_fixture_utf16be),
		T(test_bad_utf8),
		T(test_doctype_remote_dtd),
		T(test_remote_dtd_never_fetched),
		T(test_file_dtd_never_read),
		T(test_billion_laughs),
		T(test_xxe_file),
		T(test_xxe_parameter),
		T(test_attlist_default_tipo),
		T(test_undeclared_entity),
		T(test_attribute_bomb),
		T(test_namespace_bomb),
		T(test_namespace_default),
		T(test_encodings_refused),
		T(test_encodings_accepted),
		T(test_not_well_formed),
		T(test_garbage),
		T(test_wrong_root),
		T(test_missing_mittente),
		T(test_missing_intestazione),
		T(test_missing_dati),
		T(test_missing_destinatari),
		T(test_missing_tipo),
		T(test_unknown_tipo),
		T(test_duplicate_mittente),
		T(test_required_dati_children),
		T(test_msgid_escaped),
		T(test_destinatari_misti),
		T(test_time_zones),
		T(test_tolerant_order),
		T(test_size_cap),
		T(test_arguments),
		T(test_error_message_sanitised),
		T(test_real_jopenpec),
		T(test_real_postecom),
		T(test_threads),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
