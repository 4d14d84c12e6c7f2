/* Unit tests: src/scan/header.c - the header analyser.
 *
 * Data-driven cases (tests/data/header/expected.tsv), PEC markers on mail
 * that is not valid PEC (hand-made classifications, and the shared PEC
 * fixtures classified against their own providers' index), protected
 * domains from the configuration, and configuration errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "harness.h"
#include "scan/header.h"
#include "slurp.h"

static pg_config *defaults;
static void *hstate;

static int setup(void **state)
{
	(void)state;
	g_mime_init();
	char err[512];
	if (pg_config_load_text("", "defaults", NULL, 0, &defaults, err, sizeof(err)) != PG_OK ||
	    pg_analyser_header.init(defaults, &hstate, err, sizeof(err)) != PG_OK) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pg_analyser_header.free(hstate);
	pg_config_unref(defaults);
	return 0;
}

static const char *data_path(const char *rel)
{
	const char *base = getenv("PG_TEST_DATA");
	static char buf[4096];
	snprintf(buf, sizeof(buf), "%s/%s", base ? base : "tests/data", rel);
	return buf;
}

static bool weight_is(double w, double want)
{
	return w > want - 1e-9 && w < want + 1e-9;
}

/* ---- data-driven cases ------------------------------------------------- */

static void data_cases(void **state)
{
	(void)state;
	FILE *f = fopen(data_path("header/expected.tsv"), "r");
	assert_non_null(f);
	char line[4096];
	int cases = 0, failures = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		char *file = strtok(line, "\t"), *want = strtok(NULL, "\t"),
		     *deny = strtok(NULL, "\t");
		assert_non_null(deny);
		char rel[512];
		snprintf(rel, sizeof(rel), "header/%s", file);
		harness *h = harness_open(data_path(rel), NULL);
		assert_int_equal(pg_analyser_header.run(&h->ax, hstate), PG_OK);
		bool bad = false;
		for (char *p = strcmp(want, "-") ? want : NULL; p && *p;) {
			char *e = strchr(p, ',');
			if (e)
				*e = '\0';
			char *eq = strchr(p, '=');
			if (eq)
				*eq = '\0';
			const pg_symbol *s = harness_sym(h, p);
			if (s == NULL || (eq && !weight_is(s->weight, atof(eq + 1)))) {
				fprintf(stderr, "%s: %s %s\n", file, p,
					s ? "has another weight" : "missing");
				bad = true;
			}
			p = e ? e + 1 : NULL;
		}
		for (size_t i = 0; i < h->syms.n; i++) {
			const char *n = h->syms.v[i].name;
			size_t nl = strlen(n);
			bool listed = false;
			for (const char *q = deny; !listed && (q = strstr(q, n)) != NULL; q += nl)
				listed = (q == deny || q[-1] == ',') &&
					 (q[nl] == ',' || q[nl] == '\0');
			if (strcmp(deny, "ALL") == 0 || listed) {
				fprintf(stderr, "%s: unexpected %s\n", file, n);
				bad = true;
			}
		}
		if (bad) {
			harness_print(h);
			failures++;
		}
		harness_close(h);
		cases++;
	}
	fclose(f);
	assert_true(cases >= 20);
	assert_int_equal(failures, 0);
}

/* The detail of a fake PEC names the failed checks and the claim. */
static void fake_pec_detail(void **state)
{
	(void)state;
	harness *h = harness_open(data_path("header/fake_pec_unsigned.eml"), NULL);
	assert_int_equal(h->cls.cls, PG_CLASS_INVALID_PEC);
	assert_int_equal(pg_analyser_header.run(&h->ax, hstate), PG_OK);
	const pg_symbol *s = harness_sym(h, "HDR_FAKE_PEC_UNSIGNED");
	assert_non_null(s);
	assert_non_null(strstr(s->detail, "not-signed"));
	assert_non_null(strstr(s->detail, "posta-certificata"));
	assert_null(strstr(s->detail, "marker"));
	harness_close(h);
}

/* ---- hand-made classifications ------------------------------------------- */

static const char *plain = "From: a@b.test\nDate: Mon, 04 Mar 2024 15:20:00 +0100\n"
			   "Message-ID: <x@b.test>\nSubject: s\n\nbody\n";

static const pg_symbol *pec_case(harness **hp, const char *const *reasons)
{
	harness *h = harness_open_mem(plain, strlen(plain), NULL);
	memset(&h->cls.reasons, 0, sizeof(h->cls.reasons));
	h->cls.reasons.a = h->arena;
	h->cls.cls = PG_CLASS_INVALID_PEC;
	h->cls.claimed = PG_CLASS_PEC_ENVELOPE;
	h->cls.claimed_type = "posta-certificata";
	for (int i = 0; reasons[i]; i++)
		assert_int_equal(pg_reasons_add(&h->cls.reasons, reasons[i], NULL), PG_OK);
	assert_int_equal(pg_analyser_header.run(&h->ax, hstate), PG_OK);
	*hp = h;
	for (size_t i = 0; i < h->syms.n; i++)
		if (strncmp(h->syms.v[i].name, "HDR_FAKE_PEC", 12) == 0 ||
		    strcmp(h->syms.v[i].name, "HDR_PEC_LIST_WRAPPED") == 0)
			return &h->syms.v[i];
	return NULL;
}

static void pec_reasons(void **state)
{
	(void)state;
	harness *h;
	const pg_symbol *s;

	/* a genuine envelope wrapped by a list: weak */
	s = pec_case(&h, (const char *const[]){
				 "marker: X-Trasporto: posta-certificata",
				 "signed-not-top-level: a multipart/signed entity lies at depth 1",
				 "embedded-signature: verifies; signer Gestore Test Due", NULL});
	assert_non_null(s);
	assert_string_equal(s->name, "HDR_PEC_LIST_WRAPPED");
	assert_true(weight_is(s->weight, 0.5));
	harness_close(h);

	/* wrapped, but the inner signature is by nobody we know: a forgery */
	s = pec_case(&h, (const char *const[]){
				 "signed-not-top-level: x",
				 "embedded-signature: verifies; signer not in the index", NULL});
	assert_non_null(s);
	assert_string_equal(s->name, "HDR_FAKE_PEC_BAD_SIGNATURE");
	harness_close(h);

	s = pec_case(&h,
		     (const char *const[]){
			     "signed-not-top-level: x",
			     "embedded-signature: does not verify; signer Gestore Test Due", NULL});
	assert_non_null(s);
	assert_string_equal(s->name, "HDR_FAKE_PEC_BAD_SIGNATURE");
	harness_close(h);

	/* signed and verified, another check fails */
	s = pec_case(&h, (const char *const[]){"marker: X-Trasporto: posta-certificata",
					       "signature-valid: sha-256 over 100 bytes (crlf)",
					       "daticert-msgid-mismatch: a vs b", NULL});
	assert_non_null(s);
	assert_string_equal(s->name, "HDR_FAKE_PEC");
	assert_true(weight_is(s->weight, 5.0));
	assert_non_null(strstr(s->detail, "daticert-msgid-mismatch"));
	assert_null(strstr(s->detail, "signature-valid"));
	harness_close(h);

	/* a cap hit is no proof of forgery */
	s = pec_case(&h, (const char *const[]){"limit-exceeded: too deep", NULL});
	assert_null(s);
	harness_close(h);

	/* ordinary mail and valid PEC get nothing */
	h = harness_open_mem(plain, strlen(plain), NULL);
	assert_int_equal(h->cls.cls, PG_CLASS_PEO);
	assert_int_equal(pg_analyser_header.run(&h->ax, hstate), PG_OK);
	assert_int_equal(h->syms.n, 0);
	h->cls.cls = PG_CLASS_PEC_ENVELOPE;
	assert_int_equal(pg_analyser_header.run(&h->ax, hstate), PG_OK);
	assert_int_equal(h->syms.n, 0);
	harness_close(h);
}

/* ---- the shared PEC fixtures, with their providers' index ----------------- */

static void pec_fixtures(void **state)
{
	(void)state;
	const char *shared = getenv("PG_SHARED_DIR");
	char dir[2048], path[2300];
	snprintf(dir, sizeof(dir), "%s/corpus/pec/fixtures", shared ? shared : "../shared");
	snprintf(path, sizeof(path), "%s/pki/index.ldif", dir);
	struct stat sb;
	if (stat(path, &sb) != 0) {
		printf("PEC fixture check skipped: %s is absent\n", path);
		skip();
	}
	size_t ldif_len;
	char *ldif = slurp_or_fail(path, &ldif_len);
	pg_providers *idx;
	char err[512];
	assert_int_equal(pg_providers_load(ldif, ldif_len, "index.ldif", &idx, err, sizeof(err)),
			 PG_OK);
	free(ldif);
	static const struct {
		const char *file, *want;
	} cases[] = {
		{"edge-mailing-list-wrapped.eml", "HDR_PEC_LIST_WRAPPED"},
		{"tamper-body-byte.eml", "HDR_FAKE_PEC_BAD_SIGNATURE"},
		{"invalid-rogue-ca.eml", "HDR_FAKE_PEC_BAD_SIGNATURE"},
		{"edge-opaque-signed.eml", "HDR_FAKE_PEC_BAD_SIGNATURE"},
		{"fake-unsigned-pec-headers.eml", "HDR_FAKE_PEC_UNSIGNED"},
		{"fake-daticert-unsigned.eml", "HDR_FAKE_PEC_UNSIGNED"},
		{"invalid-sender-domain-not-managed.eml", "HDR_FAKE_PEC"},
		{"tamper-header-xricevuta-vs-daticert.eml", "HDR_FAKE_PEC"},
		{"env-uno-text.eml", NULL},
		{"rcpt-accettazione.eml", NULL},
		{"peo-mentions-pec.eml", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(path, sizeof(path), "%s/messages/%s", dir, cases[i].file);
		harness *h = harness_open(path, NULL);
		/* classify again, against the fixtures' own index, at the time
		 * the fixtures were made valid for */
		assert_int_equal(pg_classify(h->arena, h->msg, idx, PG_TIME_SIGNING, 0,
					     (int64_t)time(NULL), &h->cls),
				 PG_OK);
		h->ax.msg = h->cls.inner ? h->cls.inner : h->msg;
		assert_int_equal(pg_analyser_header.run(&h->ax, hstate), PG_OK);
		const char *got = NULL;
		for (size_t k = 0; k < h->syms.n; k++)
			if (strncmp(h->syms.v[k].name, "HDR_FAKE_PEC", 12) == 0 ||
			    strcmp(h->syms.v[k].name, "HDR_PEC_LIST_WRAPPED") == 0)
				got = h->syms.v[k].name;
		if ((cases[i].want == NULL) != (got == NULL) ||
		    (got && strcmp(got, cases[i].want) != 0)) {
			fprintf(stderr, "%s (%s): want %s, got %s\n", cases[i].file,
				pg_class_name(h->cls.cls), cases[i].want ? cases[i].want : "none",
				got ? got : "none");
			for (size_t k = 0; k < h->cls.reasons.n; k++)
				fprintf(stderr, "  reason %s\n", h->cls.reasons.v[k]);
			harness_print(h);
			fail();
		}
		harness_close(h);
	}
	pg_providers_unref(idx);
}

/* ---- protected domains ------------------------------------------------------ */

static void protected_domains(void **state)
{
	(void)state;
	const char *m = "From: \"assistenza@example-bank.test\" <x@evil.test>\n"
			"Date: Mon, 04 Mar 2024 15:20:00 +0100\nMessage-ID: <x@evil.test>\n\nx\n";
	/* unknown domain: only an address of another domain in the name */
	harness *h = harness_open_mem(m, strlen(m), NULL);
	assert_int_equal(pg_analyser_header.run(&h->ax, hstate), PG_OK);
	assert_null(harness_sym(h, "HDR_DISPLAY_SPOOF"));
	assert_non_null(harness_sym(h, "HDR_FROM_NAME_ADDR"));
	harness_close(h);

	/* protected by the configuration */
	h = harness_open_mem(m, strlen(m),
			     "header = { protected_domains = [ \"example-bank.test\" ]; };");
	void *st;
	char err[512];
	assert_int_equal(pg_analyser_header.init(h->cfg, &st, err, sizeof(err)), PG_OK);
	assert_int_equal(pg_analyser_header.run(&h->ax, st), PG_OK);
	assert_non_null(harness_sym(h, "HDR_DISPLAY_SPOOF"));
	pg_analyser_header.free(st);
	harness_close(h);

	/* the URL analyser's protected domains count too, when configured */
	if (pg_cfg_setting(defaults, "url.protected") != NULL) {
		const char *d = NULL;
		for (size_t i = 0; i < pg_cfg_count(defaults, "url.protected"); i++)
			if (strcmp(pg_cfg_elem_str(defaults, "url.protected", i),
				   "registerpec.it") == 0)
				d = "registerpec.it";
		if (d != NULL) {
			const char *m2 = "From: \"supporto@registerpec.it\" <x@evil.test>\n\nx\n";
			h = harness_open_mem(m2, strlen(m2), NULL);
			assert_int_equal(pg_analyser_header.run(&h->ax, hstate), PG_OK);
			assert_non_null(harness_sym(h, "HDR_DISPLAY_SPOOF"));
			harness_close(h);
		}
	}

	/* sent from the protected domain itself: nothing */
	const char *m3 = "From: \"info@agenziaentrate.gov.it\" <info@agenziaentrate.gov.it>\n"
			 "Date: Mon, 04 Mar 2024 15:20:00 +0100\nMessage-ID: "
			 "<x@agenziaentrate.gov.it>\n\nx\n";
	h = harness_open_mem(m3, strlen(m3), NULL);
	assert_int_equal(pg_analyser_header.run(&h->ax, hstate), PG_OK);
	assert_int_equal(h->syms.n, 0);
	harness_close(h);
}

/* ---- configuration errors ----------------------------------------------------- */

static void expect_refused(const char *conf, const char *msg)
{
	pg_config *cfg;
	char err[512] = "";
	assert_int_equal(pg_config_load_text(conf, "test", NULL, 0, &cfg, err, sizeof(err)), PG_OK);
	void *st = NULL;
	pg_status s = pg_analyser_header.init(cfg, &st, err, sizeof(err));
	if (s != PG_ERR_CONFIG || strstr(err, msg) == NULL) {
		fprintf(stderr, "expected an error with \"%s\", got %d \"%s\"\n", msg, s, err);
		fail();
	}
	assert_null(st);
	pg_config_unref(cfg);
}

static void config_errors(void **state)
{
	(void)state;
	expect_refused("header = { brands = ( { names = [ \"Banca X\" ]; } ); };",
		       "header.brands[0]: a brand needs names and domains");
	expect_refused(
		"header = { brands = ( { names = [ \"Ab Cd\" ]; domains = [ \"x.it\" ]; } ); };",
		"header.brands[0]: short name 'Ab Cd' must be one word");
	expect_refused(
		"header = { brands = ( { names = [ \"Banca\" ]; domain = [ \"x.it\" ]; } ); };",
		"header.brands[0]: unknown field 'domain'");
	expect_refused(
		"header = { brands = ( { names = ( \"Banca\", 3 ); domains = [ \"x.it\" ]; } ); };",
		"header.brands[0].names: element 1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(data_cases),        cmocka_unit_test(fake_pec_detail),
		cmocka_unit_test(pec_reasons),       cmocka_unit_test(pec_fixtures),
		cmocka_unit_test(protected_domains), cmocka_unit_test(config_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
