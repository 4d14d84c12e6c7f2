/* Unit tests: src/scan/rules.c - the rules analyser.
 *
 * Data-driven cases (tests/data/rules/expected.tsv), configuration errors,
 * the PCRE2 fallback, rule options, many threads on one state, and the
 * corpus check of rules + header over the shared split test sets. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "harness.h"
#include "scan/header.h"
#include "scan/rules.h"
#include "util/str.h"
#include "slurp.h"

/* The default rules compiled once for the tests that only read them. */
struct fixture {
	pg_config *cfg;
	void *rules;
	void *header;
};

static struct fixture fx;

static int setup(void **state)
{
	(void)state;
	g_mime_init();
	char err[512];
	if (pg_config_load_text("", "defaults", NULL, 0, &fx.cfg, err, sizeof(err)) != PG_OK) {
		fprintf(stderr, "config: %s\n", err);
		return -1;
	}
	if (pg_analyser_rules.init(fx.cfg, &fx.rules, err, sizeof(err)) != PG_OK ||
	    pg_analyser_header.init(fx.cfg, &fx.header, err, sizeof(err)) != PG_OK) {
		fprintf(stderr, "init: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pg_analyser_rules.free(fx.rules);
	pg_analyser_header.free(fx.header);
	pg_config_unref(fx.cfg);
	return 0;
}

static char *data_path(const char *rel)
{
	const char *base = getenv("PG_TEST_DATA");
	static char buf[4096];
	snprintf(buf, sizeof(buf), "%s/%s", base ? base : "tests/data", rel);
	return buf;
}

static bool in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == n && strncmp(p, name, n) == 0)
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

/* ---- data-driven cases ------------------------------------------------- */

static void data_cases(void **state)
{
	(void)state;
	FILE *f = fopen(data_path("rules/expected.tsv"), "r");
	assert_non_null(f);
	char line[4096];
	int cases = 0, failures = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		char *file = strtok(line, "\t"), *want = strtok(NULL, "\t"),
		     *deny = strtok(NULL, "\t"), *max = strtok(NULL, "\t");
		assert_non_null(max);
		char rel[512];
		snprintf(rel, sizeof(rel), "rules/%s", file);
		harness *h = harness_open(data_path(rel), NULL);
		assert_int_equal(pg_analyser_rules.run(&h->ax, fx.rules), PG_OK);
		bool bad = false;
		if (strcmp(want, "-") != 0)
			for (char *p = want; p && *p;) {
				char *e = strchr(p, ',');
				if (e)
					*e = '\0';
				if (harness_sym(h, p) == NULL) {
					fprintf(stderr, "%s: missing %s\n", file, p);
					bad = true;
				}
				p = e ? e + 1 : NULL;
			}
		for (size_t i = 0; i < h->syms.n; i++)
			if (strcmp(deny, "ALL") == 0 || in_list(deny, h->syms.v[i].name)) {
				fprintf(stderr, "%s: unexpected %s\n", file, h->syms.v[i].name);
				bad = true;
			}
		if (strcmp(max, "-") != 0 && pg_symset_score(&h->syms) > atof(max) + 1e-9) {
			fprintf(stderr, "%s: score %.2f over %s\n", file, pg_symset_score(&h->syms),
				max);
			bad = true;
		}
		if (bad) {
			harness_print(h);
			failures++;
		}
		harness_close(h);
		cases++;
	}
	fclose(f);
	assert_true(cases >= 10);
	assert_int_equal(failures, 0);
}

/* A symbol's detail says what matched: the reader of a report sees why. */
static void details(void **state)
{
	(void)state;
	harness *h = harness_open(data_path("rules/phish_it_account.eml"), NULL);
	assert_int_equal(pg_analyser_rules.run(&h->ax, fx.rules), PG_OK);
	const pg_symbol *s = harness_sym(h, "PHISH_IT_ACCOUNT_SUSPENDED");
	assert_non_null(s);
	assert_non_null(s->detail);
	assert_non_null(strstr(s->detail, "sospeso"));
	s = harness_sym(h, "URI_PHP_LOGIN");
	assert_non_null(s);
	assert_string_equal(s->detail, "\"http://192.0.2.10/verifica/login.php\"");
	harness_close(h);
}

/* The text is folded before matching: capitals with accents, fullwidth
 * letters, typographic apostrophes. */
static void folding(void **state)
{
	(void)state;
	const char *m =
		"From: a@b.test\nSubject: avviso\n"
		"Content-Type: text/plain; charset=utf-8\n\n"
		"\xef\xbc\xa3\xef\xbd\x8c\xef\xbd\x89\xef\xbd\x83\xef\xbd\x83\xef\xbd\x81" /* Clicca,
											      fullwidth
											    */
		" QUI e VERIFICA L\xe2\x80\x99"
		"ACCOUNT SUBITO.\n"
		"IL TUO ACCOUNT \xc3\x88 STATO SOSPESO.\n";
	harness *h = harness_open_mem(m, strlen(m), NULL);
	assert_int_equal(pg_analyser_rules.run(&h->ax, fx.rules), PG_OK);
	assert_non_null(harness_sym(h, "PHISH_IT_CLICK_HERE"));
	assert_non_null(harness_sym(h, "PHISH_IT_VERIFY_ACCOUNT"));
	const pg_symbol *s = harness_sym(h, "PHISH_IT_ACCOUNT_SUSPENDED");
	assert_non_null(s);
	/* folded: accented capitals; kept: ASCII case (the patterns ignore it) */
	assert_non_null(strstr(s->detail, "ACCOUNT \xc3\xa8 STATO SOSPESO"));
	harness_close(h);
}

/* ---- configuration errors ----------------------------------------------- */

static void expect_refused(const char *conf, const char *msg)
{
	pg_config *cfg;
	char err[512] = "";
	if (pg_config_load_text(conf, "test", NULL, 0, &cfg, err, sizeof(err)) != PG_OK) {
		fprintf(stderr, "config refused by the loader: %s\n", err);
		fail();
	}
	void *st = NULL;
	pg_status s = pg_analyser_rules.init(cfg, &st, err, sizeof(err));
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
	/* "rules = ()" replaces the defaults: only the rules under test compile. */
	expect_refused("rules = (); local_rules = ({ name = \"BAD_PAT\"; type = \"body\"; "
		       "pattern = \"(unclosed\"; weight = 1.0; });",
		       "rule 'BAD_PAT': invalid pattern");
	expect_refused(
		"rules = ({ name = \"DUP\"; type = \"body\"; pattern = \"a\"; weight = 1.0; });"
		"local_rules = ({ name = \"DUP\"; type = \"raw\"; pattern = \"b\"; weight = 1.0; "
		"});",
		"rule 'DUP' is defined twice");
	expect_refused(
		"rules = (); local_rules = ({ name = \"T\"; type = \"bodyy\"; pattern = \"a\"; "
		"weight = 1.0; });",
		"rule 'T': unknown type 'bodyy'");
	expect_refused("rules = (); local_rules = ({ name = \"NOW\"; type = \"body\"; pattern = "
		       "\"a\"; });",
		       "rule 'NOW': missing weight");
	expect_refused(
		"rules = (); local_rules = ({ name = \"NOH\"; type = \"header\"; pattern = \"a\"; "
		"weight = 1.0; });",
		"rule 'NOH': a header rule needs header");
	expect_refused(
		"rules = (); local_rules = ({ name = \"TYPO\"; type = \"body\"; patern = \"a\"; "
		"weight = 1.0; });",
		"rule 'TYPO': unknown field 'patern'");
	expect_refused("rules = (); local_rules = ({ name = \"bad-name\"; type = \"body\"; pattern "
		       "= \"a\"; "
		       "weight = 1.0; });",
		       "rule 'bad-name'");
	expect_refused(
		"rules = (); local_rules = ({ type = \"body\"; pattern = \"a\"; weight = 1.0; });",
		"local_rules[0]: the rule has no name");
	expect_refused(
		"rules = (); local_rules = ({ name = \"M\"; type = \"meta\"; "
		"expression = \"A && NOPE\"; weight = 1.0; }, { name = \"A\"; type = \"body\"; "
		"pattern = \"a\"; weight = 1.0; });",
		"rule 'M': expression names 'NOPE'");
	expect_refused("rules = (); local_rules = ({ name = \"M\"; type = \"meta\"; "
		       "expression = \"A && (\"; weight = 1.0; }, { name = \"A\"; type = \"body\"; "
		       "pattern = \"a\"; weight = 1.0; });",
		       "rule 'M': expression:");
	expect_refused(
		"rules = (); local_rules = ({ name = \"M1\"; type = \"meta\"; expression = \"M2\"; "
		"weight = 1.0; }, { name = \"M2\"; type = \"meta\"; expression = \"!M1\"; "
		"weight = 1.0; });",
		"meta rules form a cycle");
	expect_refused(
		"rules = (); local_rules = ({ name = \"P\"; type = \"meta\"; pattern = \"a\"; "
		"weight = 1.0; });",
		"rule 'P': a meta rule has an expression and no pattern");
}

/* ---- the PCRE2 fallback --------------------------------------------------- */

static const char *fallback_conf =
	"rules = ();\n"
	"local_rules = (\n"
	"  { name = \"REPEATED_WORD\"; type = \"body\"; pattern = "
	"\"\\\\b(\\\\w+)\\\\s+\\\\1\\\\b\"; "
	"weight = 1.0; },\n"
	"  { name = \"NOT_WWW\"; type = \"url\"; pattern = "
	"\"^https?://(?!www\\\\.)[a-z]+\\\\.example/\"; "
	"weight = 0.5; },\n"
	"  { name = \"PLAIN\"; type = \"body\"; pattern = \"hello\"; weight = 0.1; }\n"
	");\n";

static void pcre_fallback(void **state)
{
	(void)state;
	pg_config *cfg;
	char err[512];
	assert_int_equal(
		pg_config_load_text(fallback_conf, "test", NULL, 0, &cfg, err, sizeof(err)), PG_OK);
	void *st;
	assert_int_equal(pg_analyser_rules.init(cfg, &st, err, sizeof(err)), PG_OK);
	assert_int_equal(pg_rules_count(st), 3);
	assert_int_equal(pg_rules_engine_of(st, "REPEATED_WORD"), PG_RULE_PCRE2);
	assert_int_equal(pg_rules_engine_of(st, "NOT_WWW"), PG_RULE_PCRE2);
	assert_int_equal(pg_rules_engine_of(st, "PLAIN"), PG_RULE_VECTORSCAN);
	assert_int_equal(pg_rules_engine_of(st, "NONE"), -1);

	const char *m1 = "Subject: hi\n\nhello the the world http://evil.example/x\n";
	harness *h = harness_open_mem(m1, strlen(m1), NULL);
	assert_int_equal(pg_analyser_rules.run(&h->ax, st), PG_OK);
	assert_non_null(harness_sym(h, "REPEATED_WORD"));
	assert_non_null(strstr(harness_sym(h, "REPEATED_WORD")->detail, "the the"));
	assert_non_null(harness_sym(h, "NOT_WWW"));
	assert_non_null(harness_sym(h, "PLAIN"));
	harness_close(h);

	const char *m2 = "Subject: hi\n\nhello world http://www.evil.example/x\n";
	h = harness_open_mem(m2, strlen(m2), NULL);
	assert_int_equal(pg_analyser_rules.run(&h->ax, st), PG_OK);
	assert_null(harness_sym(h, "REPEATED_WORD"));
	assert_null(harness_sym(h, "NOT_WWW"));
	assert_non_null(harness_sym(h, "PLAIN"));
	harness_close(h);

	pg_analyser_rules.free(st);
	pg_config_unref(cfg);
}

/* ---- rule options ----------------------------------------------------------- */

static const char *options_conf =
	"rules = ();\n"
	"local_rules = (\n"
	"  { name = \"NO_XMAILER\"; type = \"header\"; header = \"X-Mailer\"; pattern = \".\"; "
	"negate = true; weight = 0.5; },\n"
	"  { name = \"SUBJ_CASE\"; type = \"header\"; header = \"Subject\"; pattern = \"hello\"; "
	"weight = 0.5; },\n"
	"  { name = \"SUBJ_NOCASE\"; type = \"header\"; header = \"subject\"; pattern = "
	"\"^hello\"; "
	"nocase = true; weight = 0.5; },\n"
	"  { name = \"ALL_HDR\"; type = \"header\"; header = \"ALL\"; pattern = \"^X-Custom: yes, "
	"folded$\"; "
	"weight = 0.5; },\n"
	"  { name = \"CT_HTML\"; type = \"header\"; header = \"Content-Type\"; pattern = "
	"\"^text/html\"; "
	"weight = 0.5; },\n"
	"  { name = \"__PART\"; type = \"body\"; pattern = \"secret\"; weight = 3.0; },\n"
	"  { name = \"META_COUNT\"; type = \"meta\"; weight = 1.0;\n"
	"    expression = \"(__PART + SUBJ_NOCASE + CT_HTML) >= 2 && !SUBJ_CASE\"; },\n"
	"  { name = \"META_NOT\"; type = \"meta\"; expression = \"META_COUNT\"; negate = true; "
	"weight = 1.0; },\n"
	"  { name = \"RAW_HDR\"; type = \"raw\"; pattern = \"^X-Custom:\"; weight = 0.5; },\n"
	"  { name = \"RAW_CASE\"; type = \"raw\"; pattern = \"^x-custom:\"; weight = 0.5; },\n"
	"  { name = \"OVERRIDDEN\"; type = \"body\"; pattern = \"secret\\\\s+word\"; weight = 2.0; "
	"description = \"the secret word\"; }\n"
	");\n"
	"symbols = { OVERRIDDEN = 0.25; };\n";

static void options(void **state)
{
	(void)state;
	pg_config *cfg;
	char err[512];
	assert_int_equal(pg_config_load_text(options_conf, "test", NULL, 0, &cfg, err, sizeof(err)),
			 PG_OK);
	void *st;
	if (pg_analyser_rules.init(cfg, &st, err, sizeof(err)) != PG_OK) {
		fprintf(stderr, "%s\n", err);
		fail();
	}
	const char *m = "From: a@b.test\n"
			"Subject: HELLO there\n"
			"X-Custom: yes,\n folded\n"
			"MIME-Version: 1.0\n"
			"Content-Type: text/html; charset=us-ascii\n"
			"\n"
			"<p>the SECRET\n word</p>\n";
	harness *h = harness_open_mem(m, strlen(m), NULL);
	assert_int_equal(pg_analyser_rules.run(&h->ax, st), PG_OK);
	assert_non_null(harness_sym(h, "NO_XMAILER"));
	assert_null(harness_sym(h, "SUBJ_CASE"));
	assert_non_null(harness_sym(h, "SUBJ_NOCASE"));
	assert_non_null(harness_sym(h, "ALL_HDR"));
	assert_non_null(harness_sym(h, "CT_HTML")); /* Content-* live on the MIME part */
	assert_null(harness_sym(h, "__PART"));      /* building blocks add nothing */
	assert_non_null(harness_sym(h, "META_COUNT"));
	assert_null(harness_sym(h, "META_NOT"));
	assert_non_null(harness_sym(h, "RAW_HDR"));
	assert_null(harness_sym(h, "RAW_CASE"));
	const pg_symbol *o = harness_sym(h, "OVERRIDDEN");
	assert_non_null(o);
	assert_true(o->weight > 0.2499 && o->weight < 0.2501); /* the symbols group wins */
	assert_non_null(strstr(o->detail, "SECRET"));          /* ASCII text is matched unfolded */
	harness_close(h);

	/* with an X-Mailer the negated rule is quiet */
	const char *m2 = "From: a@b.test\nX-Mailer: mutt\nSubject: x\n\ntext\n";
	h = harness_open_mem(m2, strlen(m2), NULL);
	assert_int_equal(pg_analyser_rules.run(&h->ax, st), PG_OK);
	assert_null(harness_sym(h, "NO_XMAILER"));
	assert_non_null(harness_sym(h, "META_NOT"));
	harness_close(h);
	pg_analyser_rules.free(st);
	pg_config_unref(cfg);
}

/* Hostile input: invalid UTF-8 everywhere, a huge header, NULs. */
static void hostile_input(void **state)
{
	(void)state;
	size_t cap = 600000;
	char *m = malloc(cap);
	size_t o = (size_t)snprintf(m, cap,
				    "From: \xff\xfe <a@b.test>\nSubject: \xc3\x28 caps\nX-Long: ");
	for (int i = 0; i < 60000; i++)
		m[o++] = (char)('a' + i % 26);
	o += (size_t)snprintf(m + o, cap - o,
			      "\nContent-Type: text/plain; charset=utf-8\n\nbad \xe2\x82 utf8 \xff "
			      "http://\xff\xfe.example/ viagra\n");
	m[o++] = '\0';
	m[o++] = 'x';
	harness *h = harness_open_mem(m, o, NULL);
	assert_int_equal(pg_analyser_rules.run(&h->ax, fx.rules), PG_OK);
	assert_non_null(harness_sym(h, "SPAM_PHARMA"));
	for (size_t i = 0; i < h->syms.n; i++)
		if (h->syms.v[i].detail)
			assert_true(
				pg_utf8_valid(h->syms.v[i].detail, strlen(h->syms.v[i].detail)));
	harness_close(h);
	free(m);
}

/* ---- many threads, one state ----------------------------------------------- */

static const char *const thread_files[] = {"rules/phish_it_account.eml", "rules/spam_sa_era.eml",
					   "rules/phish_en_paypal.eml", "rules/html_tricks.eml",
					   "rules/ham_it_invoice.eml"};
#define NTF (sizeof(thread_files) / sizeof(thread_files[0]))

struct tmsg {
	char *data;
	size_t len;
	bool *expect;
};

struct tctx {
	struct tmsg *msgs;
	pg_providers *idx;
	int seed;
	int mismatches;
};

/* Parses, classifies and runs rules (fired) and, when syms is not NULL,
 * rules and header for symbols: the engine's path for one message. */
static pg_status scan_one(const char *data, size_t len, pg_providers *idx, bool *fired,
			  double *score, pg_symset *keep, pg_arena **arena_out)
{
	pg_arena *a = pg_arena_new();
	pg_limits lim = {.max_message_size = 64u << 20,
			 .max_header_field = 64u << 10,
			 .max_header_block = 1u << 20,
			 .max_depth = 32,
			 .max_parts = 1000};
	unsigned budget = lim.max_parts;
	pg_msg *msg;
	char err[256];
	pg_status s = pg_msg_parse(a, data, len, &lim, 0, &budget, &msg, err, sizeof(err));
	if (s != PG_OK) {
		pg_arena_free(a);
		return s;
	}
	pg_classification cls;
	int64_t now = (int64_t)time(NULL);
	if ((s = pg_classify(a, msg, idx, PG_TIME_NOW, 0, now, &cls)) != PG_OK) {
		pg_arena_free(a);
		return s;
	}
	pg_symset syms = {.arena = a};
	pg_actx ax = {.arena = a,
		      .msg = cls.inner ? cls.inner : msg,
		      .top = msg,
		      .cls = &cls,
		      .cfg = fx.cfg,
		      .now = now,
		      .syms = &syms};
	if (fired != NULL)
		s = pg_rules_eval(&ax, fx.rules, fired);
	if (s == PG_OK && score != NULL) {
		s = pg_analyser_rules.run(&ax, fx.rules);
		if (s == PG_OK)
			s = pg_analyser_header.run(&ax, fx.header);
		*score = pg_symset_score(&syms);
	}
	if (keep != NULL && arena_out != NULL) {
		*keep = syms;
		*arena_out = a;
	} else {
		pg_arena_free(a);
	}
	return s;
}

static void *thread_main(void *p)
{
	struct tctx *c = p;
	size_t n = pg_rules_count(fx.rules);
	bool *fired = calloc(n, sizeof(bool));
	unsigned r = (unsigned)c->seed;
	for (int it = 0; it < 40; it++) {
		r = r * 1103515245u + 12345u;
		const struct tmsg *m = &c->msgs[(r >> 16) % NTF];
		if (scan_one(m->data, m->len, c->idx, fired, NULL, NULL, NULL) != PG_OK ||
		    memcmp(fired, m->expect, n * sizeof(bool)) != 0)
			c->mismatches++;
	}
	free(fired);
	return NULL;
}

static void threads(void **state)
{
	(void)state;
	pg_providers *idx;
	assert_int_equal(pg_providers_new_empty(&idx), PG_OK);
	size_t n = pg_rules_count(fx.rules);
	struct tmsg msgs[NTF];
	for (size_t i = 0; i < NTF; i++) {
		msgs[i].data = slurp_file(data_path(thread_files[i]), &msgs[i].len);
		assert_non_null(msgs[i].data);
		msgs[i].expect = calloc(n, sizeof(bool));
		assert_int_equal(
			scan_one(msgs[i].data, msgs[i].len, idx, msgs[i].expect, NULL, NULL, NULL),
			PG_OK);
	}
	enum { NT = 8 };
	pthread_t t[NT];
	struct tctx ctx[NT];
	for (int i = 0; i < NT; i++) {
		ctx[i] = (struct tctx){.msgs = msgs, .idx = idx, .seed = i + 1};
		assert_int_equal(pthread_create(&t[i], NULL, thread_main, &ctx[i]), 0);
	}
	int mism = 0;
	for (int i = 0; i < NT; i++) {
		pthread_join(t[i], NULL);
		mism += ctx[i].mismatches;
	}
	assert_int_equal(mism, 0);
	for (size_t i = 0; i < NTF; i++) {
		free(msgs[i].data);
		free(msgs[i].expect);
	}
	pg_providers_unref(idx);
}

/* ---- the corpus: rules + header alone over the split test sets ---------------- */

static void corpus(void **state)
{
	(void)state;
	const char *shared = getenv("PG_SHARED_DIR");
	char base[2048], list[2300];
	snprintf(base, sizeof(base), "%s/corpus", shared ? shared : "../shared");
	snprintf(list, sizeof(list), "%s/splits/test_ham.txt", base);
	struct stat sb;
	if (stat(list, &sb) != 0) {
		printf("corpus check skipped: %s is absent\n", list);
		skip();
	}
	static const struct {
		const char *name, *file;
		bool ham;
	} sets[] = {{"ham (SpamAssassin)", "test_ham.txt", true},
		    {"ham (Italian)", "test_italian_ham.txt", true},
		    {"spam (SpamAssassin)", "test_spam.txt", false},
		    {"phishing (Nazario)", "test_phish.txt", false},
		    {"spam (Italian lures)", "test_italian_spam.txt", false}};
	pg_providers *idx;
	assert_int_equal(pg_providers_new_empty(&idx), PG_OK);
	size_t ham_total = 0, ham_over = 0;
	double cpu = 0;
	size_t msgs = 0;
	for (size_t si = 0; si < sizeof(sets) / sizeof(sets[0]); si++) {
		snprintf(list, sizeof(list), "%s/splits/%s", base, sets[si].file);
		FILE *f = fopen(list, "r");
		assert_non_null(f);
		char line[1024];
		size_t n = 0, over = 0, add = 0;
		while (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\r\n")] = '\0';
			if (!line[0])
				continue;
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", base, line);
			size_t len;
			char *d = slurp_file(path, &len);
			if (d == NULL)
				continue;
			const char *p = d;
			if (len > 5 && memcmp(d, "From ", 5) == 0) { /* mbox separator */
				const char *nl = memchr(d, '\n', len);
				if (nl != NULL) {
					len -= (size_t)(nl + 1 - d);
					p = nl + 1;
				}
			}
			double score = 0;
			pg_symset syms = {0};
			pg_arena *a = NULL;
			struct timespec t0, t1;
			clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
			pg_status s = scan_one(p, len, idx, NULL, &score, &syms, &a);
			clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
			cpu += (double)(t1.tv_sec - t0.tv_sec) +
			       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
			msgs++;
			free(d);
			if (s != PG_OK)
				continue;
			n++;
			add += score >= 3.0;
			if (score >= 5.0) {
				over++;
				if (sets[si].ham) {
					printf("  ham offender %.1f %s:", score, line);
					for (size_t i = 0; i < syms.n; i++)
						printf(" %s(%.1f)", syms.v[i].name,
						       syms.v[i].weight);
					printf("\n");
				}
			}
			pg_arena_free(a);
		}
		fclose(f);
		printf("%-22s %5zu messages: score >= 5: %4zu (%.2f%%), >= 3: %4zu (%.2f%%)\n",
		       sets[si].name, n, over, 100.0 * (double)over / (double)(n ? n : 1), add,
		       100.0 * (double)add / (double)(n ? n : 1));
		if (sets[si].ham) {
			ham_total += n;
			ham_over += over;
		}
	}
	printf("parse + classify + rules + header: %.0f us/message (this build)\n",
	       1e6 * cpu / (double)(msgs ? msgs : 1));
	pg_providers_unref(idx);
	/* Rules and header checks add evidence; alone they must (almost)
	 * never push ham to the spam verdict. */
	assert_true(ham_total > 0);
	assert_true(ham_over * 1000 <= ham_total * 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(data_cases),    cmocka_unit_test(details),
		cmocka_unit_test(folding),       cmocka_unit_test(config_errors),
		cmocka_unit_test(pcre_fallback), cmocka_unit_test(options),
		cmocka_unit_test(hostile_input), cmocka_unit_test(threads),
		cmocka_unit_test(corpus),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
