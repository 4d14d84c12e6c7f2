/* Unit tests: src/scan/bayes.c - tokenizer, learning, the min_learned gate,
 * cache and store agreeing, and Bayes-alone accuracy on the shared corpus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/store.h"
#include "harness.h"
#include "mime/text.h"
#include "scan/bayes.h"
#include "rmtree.h"
#include "slurp.h"

/* ---- helpers ------------------------------------------------------------ */

static bool has(const uint64_t *v, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == h)
			return true;
	return false;
}

static uint64_t word(const char *w)
{
	return pg_bayes_token("", w, strlen(w));
}

static uint64_t tok(const char *kind, const char *w)
{
	return pg_bayes_token(kind, w, strlen(w));
}

/* Tokens of a bare text (body rules). */
static size_t text_tokens(pg_arena *a, const char *s, uint64_t **out)
{
	size_t n = 0;
	assert_int_equal(pg_bayes_tokenize_text(a, s, strlen(s), 2000, out, &n), PG_OK);
	return n;
}

/* A store in a fresh temporary directory, and the configuration naming it. */
typedef struct tstore {
	char root[64];
	pg_config *cfg;
	pg_store *st;
} tstore;

static tstore *tstore_open_in(const char *base, const char *extra)
{
	tstore *t = calloc(1, sizeof(*t));
	snprintf(t->root, sizeof(t->root), "%s/pg-test-bayes-XXXXXX", base);
	assert_non_null(mkdtemp(t->root));
	char text[2048], err[512];
	snprintf(text, sizeof(text), "state_dir = \"%s/state\";\n%s\n", t->root,
		 extra ? extra : "");
	if (pg_config_load_text(text, "test", NULL, 0, &t->cfg, err, sizeof(err)) != PG_OK) {
		fprintf(stderr, "config: %s\n", err);
		fail();
	}
	assert_int_equal(pg_store_open(t->cfg, &t->st, err, sizeof(err)), PG_OK);
	return t;
}

static tstore *tstore_open(const char *extra)
{
	return tstore_open_in("/tmp", extra);
}

static void tstore_close(tstore *t)
{
	pg_store_close(t->st);
	pg_config_unref(t->cfg);
	rm_rf(t->root);
	free(t);
}

/* Tests keep their store in *state: a failed assertion leaves the test
 * early, and this teardown still removes the temporary directory. */
static int tstore_teardown(void **state)
{
	if (*state != NULL)
		tstore_close(*state);
	*state = NULL;
	return 0;
}

/* pg_bayes_learn on a test message; msg gets the outcome (256 bytes). */
static pg_status learn(tstore *t, harness *h, bool spam, bool unlearn, char *msg)
{
	return pg_bayes_learn(t->st, t->cfg, h->msg, spam, unlearn, msg, 256);
}

/* ---- tokenizer ------------------------------------------------------------ */

static void tokenizer_unicode(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	uint64_t *v;
	const uint64_t fattura = word("fattura");
	/* Case, fullwidth forms and a zero-width space: one word. */
	const char *same[] = {
		"FATTURA",
		"fattura",
		"Fattura",
		/* ｆａｔｔｕｒａ */
		("\xef\xbd\x86\xef\xbd\x81\xef\xbd\x94\xef\xbd\x94\xef\xbd\x95\xef\xbd\x92\xef\xbd"
		 "\x81"),
		"fat\xe2\x80\x8btura", /* a zero-width space inside */
		"(fattura)",
		"fattura!!",
	};
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		size_t n = text_tokens(a, same[i], &v);
		assert_int_equal(n, 1);
		assert_true(v[0] == fattura);
	}
	/* Accents kept, and folded: "PERCHÉ", "perché" and the decomposed
	 * e + combining acute are one word, not "perche". */
	const uint64_t perche_acc = word("perch\xc3\xa9");
	assert_true(perche_acc != word("perche"));
	const char *acc[] = {"perch\xc3\xa9", "PERCH\xc3\x89", "perche\xcc\x81"};
	for (size_t i = 0; i < 3; i++) {
		size_t n = text_tokens(a, acc[i], &v);
		assert_int_equal(n, 1);
		assert_true(v[0] == perche_acc);
	}
	/* Upper-case accented letters fold too (without GLib: the fast path),
	 * and 'ß' folds to "ss" (through GLib). */
	size_t n = text_tokens(a, "CITT\xc3\x80", &v);
	assert_int_equal(n, 1);
	assert_true(v[0] == word("citt\xc3\xa0"));
	n = text_tokens(a,
			"Stra\xc3\x9f"
			"e",
			&v);
	assert_int_equal(n, 1);
	assert_true(v[0] == word("strasse"));
	/* Signs are not letters: "10×20" is two numbers. */
	n = text_tokens(a,
			"10\xc3\x97"
			"20",
			&v);
	assert_int_equal(n, 3);
	assert_true(has(v, n, word("10")) && has(v, n, word("20")));
	/* Italian elision: the article goes (one letter), the noun stays. */
	n = text_tokens(a, "l'importo", &v);
	assert_int_equal(n, 1);
	assert_true(v[0] == word("importo"));
	/* Pairs, in order. */
	n = text_tokens(a, "Fattura scaduta", &v);
	assert_int_equal(n, 3);
	assert_true(has(v, n, word("fattura")));
	assert_true(has(v, n, word("scaduta")));
	assert_true(has(v, n, pg_bayes_bigram(word("fattura"), word("scaduta"))));
	assert_false(has(v, n, pg_bayes_bigram(word("scaduta"), word("fattura"))));
	/* Duplicates once; single letters skipped; over-long words are one
	 * shape token that breaks the phrase. */
	n = text_tokens(a, "ok ok a ok", &v);
	assert_int_equal(n, 2); /* ok, (ok ok) */
	n = text_tokens(a, "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij fine", &v);
	assert_int_equal(n, 2);
	assert_true(has(v, n, word("fine")));
	assert_false(has(v, n, word("abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij")));
	/* Non-Latin scripts are words too. */
	/* ПРИВЕТ */
	n = text_tokens(a, "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2", &v);
	assert_int_equal(n, 1);
	assert_true(v[0] == word("\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"));
	pg_arena_free(a);
}

static void tokenizer_hosts(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	uint64_t *v;
	size_t n = text_tokens(a, "Visita https://Www.Example.CO.UK/path/pagamento?x=1 subito", &v);
	assert_true(has(v, n, tok("url", "www.example.co.uk")));
	assert_true(has(v, n, tok("urld", "example.co.uk")));
	assert_true(has(v, n, word("visita")));
	assert_true(has(v, n, word("subito")));
	assert_false(has(v, n, word("pagamento"))); /* a path is not prose */
	assert_false(has(v, n, pg_bayes_bigram(word("visita"), word("subito"))));

	n = text_tokens(a, "<http://user:pw@login.evil.test:8080/x>", &v);
	assert_true(has(v, n, tok("url", "login.evil.test")));

	n = text_tokens(a, "Scrivi a Mario.Rossi@Example.com.", &v);
	assert_true(has(v, n, tok("email", "example.com")));
	assert_false(has(v, n, word("mario")));

	/* A bare host in prose when it ends in a public suffix... */
	n = text_tokens(a, "vai su agenziaentrate.gov.it oggi", &v);
	assert_true(has(v, n, tok("url", "agenziaentrate.gov.it")));
	assert_true(has(v, n, word("agenziaentrate")));
	/* ...not two words glued by a full stop. */
	n = text_tokens(a, "fine.grazie", &v);
	assert_false(has(v, n, tok("url", "fine.grazie")));
	assert_true(has(v, n, word("grazie")));

	/* The cap counts unique tokens. */
	char many[4096] = "";
	for (int i = 0; i < 200; i++) {
		char w[16];
		snprintf(w, sizeof(w), "w%03d ", i);
		strcat(many, w);
	}
	size_t cn = 0;
	assert_int_equal(pg_bayes_tokenize_text(a, many, strlen(many), 10, &v, &cn), PG_OK);
	assert_int_equal(cn, 10);
	pg_arena_free(a);
}

static const char *msg_lure = "From: \"Agenzia Entrate\" <servizi@AgenziaEntrate.it>\n"
			      "Reply-To: \"help@agenziaentrate.it\" <rimborsi@other-host.com>\n"
			      "Subject: [SPAM] FATTURA scaduta\n"
			      "X-Mailer: Microsoft Outlook 16.0.5\n"
			      "Message-ID: <lure-1@example.test>\n"
			      "MIME-Version: 1.0\n"
			      "Content-Type: multipart/mixed; boundary=b\n"
			      "\n"
			      "--b\n"
			      "Content-Type: text/html; charset=UTF-8\n"
			      "\n"
			      "<p>Gentile cliente, la fattura &egrave; "
			      "<a href=\"https://verifica-fatture.test/x\">qui</a></p>\n"
			      "--b\n"
			      "Content-Type: application/zip; name=fattura.ZIP\n"
			      "Content-Disposition: attachment; filename=fattura.ZIP\n"
			      "Content-Transfer-Encoding: base64\n"
			      "\n"
			      "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==\n"
			      "--b--\n";

static void tokenizer_message(void **state)
{
	(void)state;
	harness *h = harness_open_mem(msg_lure, strlen(msg_lure), NULL);
	uint64_t *v;
	size_t n = 0;
	assert_int_equal(pg_bayes_tokenize(h->arena, h->cfg, h->msg, &v, &n), PG_OK);
	assert_true(has(v, n, tok("from", "agenziaentrate.it")));
	assert_true(has(v, n, tok("replyto", "other-host.com")));
	assert_true(has(v, n, tok("hdr", "replyto-elsewhere")));
	assert_true(has(v, n, tok("mailer", "microsoft outlook")));
	assert_true(has(v, n, tok("ext", "zip")));
	assert_true(has(v, n, tok("ct", "application/zip")));
	assert_true(has(v, n, tok("ct", "multipart/mixed")));
	assert_true(has(v, n, tok("cs", "utf-8")));
	/* Subject words are their own kind; our own tag is not a word. */
	assert_true(has(v, n, tok("s", "fattura")));
	assert_true(has(v, n, pg_bayes_bigram(tok("s", "fattura"), tok("s", "scaduta"))));
	assert_false(has(v, n, tok("s", "spam")));
	/* Body: rendered HTML (entities decoded), link hosts. */
	assert_true(has(v, n, word("fattura")));
	assert_false(has(v, n, word("\xc3\xa8"))); /* "è": one letter */
	assert_true(has(v, n, word("gentile")));
	assert_true(has(v, n, tok("url", "verifica-fatture.test")));
	harness_close(h);
}

/* ---- learning --------------------------------------------------------------- */

static const char *msg_ham_tpl =
	"From: %s@partner.example\n"
	"Subject: riunione %s del progetto\n"
	"%s"
	"\n"
	"Ciao, confermo la riunione di %s per il progetto %s. A presto, Luca\n";

static const char *msg_spam_tpl =
	"From: promo%s@offerte.example\n"
	"Subject: VINCI SUBITO %s premio\n"
	"%s"
	"\n"
	"Hai vinto un premio %s! Clicca su https://premi-%s.example/ritira e ritira il premio "
	"ora.\n";

static harness *make_msg(const char *tpl, int i, bool with_id)
{
	char id[32], mid[96], buf[2048];
	snprintf(id, sizeof(id), "x%d", i);
	if (with_id)
		snprintf(mid, sizeof(mid), "Message-ID: <%s-%s@test>\n",
			 tpl == msg_ham_tpl ? "h" : "s", id);
	else
		mid[0] = '\0';
	snprintf(buf, sizeof(buf), tpl, id, id, mid, id, id);
	return harness_open_mem(buf, strlen(buf), NULL);
}

/* Counts the token records (8-byte keys) of the namespace. */
static int count_fn(void *ctx, const void *k, size_t kl, const void *v, size_t vl)
{
	(void)k, (void)v, (void)vl;
	if (kl == 8)
		(*(size_t *)ctx)++;
	return 0;
}

static void check_counts(tstore *t, harness *h, int64_t s, int64_t hm)
{
	uint64_t *v;
	size_t n = 0;
	assert_int_equal(pg_bayes_tokenize(h->arena, t->cfg, h->msg, &v, &n), PG_OK);
	assert_true(n > 5);
	const void **keys = calloc(n, sizeof(*keys));
	size_t *kl = calloc(n, sizeof(*kl));
	unsigned char *kb = calloc(n, 8);
	pg_counter_pair *out = calloc(n, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		for (int b = 0; b < 8; b++)
			kb[8 * i + b] = (unsigned char)(v[i] >> (8 * b));
		keys[i] = kb + 8 * i;
		kl[i] = 8;
	}
	assert_int_equal(pg_store_counters_get(t->st, "bayes", keys, kl, n, out), PG_OK);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(out[i].a, s);
		assert_int_equal(out[i].b, hm);
	}
	free(keys);
	free(kl);
	free(kb);
	free(out);
}

static void learn_relearn_unlearn(void **state)
{
	tstore *t = tstore_open(NULL);
	*state = t;
	char msg[256];
	int64_t ns, nh;
	for (int with_id = 1; with_id >= 0; with_id--) {
		harness *h = make_msg(msg_spam_tpl, 7, with_id);
		assert_int_equal(learn(t, h, true, false, msg), PG_OK);
		assert_string_equal(msg, "learned as spam");
		check_counts(t, h, 1, 0);
		/* Again: nothing moves. */
		assert_int_equal(learn(t, h, true, false, msg), PG_OK);
		assert_string_equal(msg, "already learned as spam");
		check_counts(t, h, 1, 0);
		assert_int_equal(pg_bayes_learned(t->st, &ns, &nh), PG_OK);
		assert_int_equal(ns, 1);
		assert_int_equal(nh, 0);
		/* The user's false-positive report: the spam learning is undone. */
		assert_int_equal(learn(t, h, false, false, msg), PG_OK);
		assert_string_equal(msg, "moved from spam to ham");
		check_counts(t, h, 0, 1);
		assert_int_equal(pg_bayes_learned(t->st, &ns, &nh), PG_OK);
		assert_int_equal(ns, 0);
		assert_int_equal(nh, 1);
		assert_int_equal(learn(t, h, false, false, msg), PG_OK);
		assert_string_equal(msg, "already learned as ham");
		/* Unlearn: back to nothing, the space given back. */
		assert_int_equal(learn(t, h, true, true, msg), PG_OK);
		assert_string_equal(msg, "unlearned (was ham)");
		check_counts(t, h, 0, 0);
		size_t left = 0;
		assert_int_equal(pg_store_each(t->st, "bayes", count_fn, &left), PG_OK);
		assert_int_equal(left, 0);
		assert_int_equal(learn(t, h, true, true, msg), PG_OK);
		assert_string_equal(msg, "not learned: nothing to unlearn");
		assert_int_equal(pg_bayes_learned(t->st, &ns, &nh), PG_OK);
		assert_int_equal(ns + nh, 0);
		harness_close(h);
	}
	/* A copy of the message with our subject tag is the same message. */
	const char *plain =
		"From: a@b.example\nMessage-ID: <t1@x>\nSubject: offerta\n\nprezzo basso\n";
	const char *tagged = "From: a@b.example\nMessage-ID: <t1@x>\nSubject: [SPAM] offerta\n"
			     "X-Spam-Flag: YES\n\nprezzo basso\n";
	harness *h1 = harness_open_mem(plain, strlen(plain), NULL);
	harness *h2 = harness_open_mem(tagged, strlen(tagged), NULL);
	assert_int_equal(learn(t, h1, true, false, msg), PG_OK);
	assert_int_equal(learn(t, h2, false, false, msg), PG_OK);
	assert_string_equal(msg, "moved from spam to ham");
	check_counts(t, h1, 0, 1);
	harness_close(h1);
	harness_close(h2);
	/* No store: a clear error. */
	harness *h = make_msg(msg_ham_tpl, 1, true);
	assert_int_equal(pg_bayes_learn(NULL, t->cfg, h->msg, true, false, msg, sizeof(msg)),
			 PG_ERR_INVALID);
	harness_close(h);
	tstore_close(t);
	*state = NULL;
}

/* Runs the analyser on one message with the test store. */
static const pg_symbol *run_on(tstore *t, harness *h, void *st)
{
	h->ax.store = t->st;
	h->ax.cfg = t->cfg;
	h->syms.n = 0;
	assert_int_equal(pg_analyser_bayes.run(&h->ax, st), PG_OK);
	return h->syms.n ? &h->syms.v[0] : NULL;
}

static void min_learned_gate(void **state)
{
	tstore *t = tstore_open("bayes = { min_learned = 5; cache_refresh = 0.0; };");
	*state = t;
	void *st = NULL;
	char err[256];
	assert_int_equal(pg_analyser_bayes.init(t->cfg, &st, err, sizeof(err)), PG_OK);
	harness *probe = make_msg(msg_spam_tpl, 1000, true);
	for (int i = 0; i < 5; i++) {
		harness *h = make_msg(msg_ham_tpl, i, true);
		assert_int_equal(learn(t, h, false, false, err), PG_OK);
		harness_close(h);
	}
	for (int i = 0; i < 4; i++) {
		harness *h = make_msg(msg_spam_tpl, i, true);
		assert_int_equal(learn(t, h, true, false, err), PG_OK);
		harness_close(h);
	}
	/* 4 spam < 5: no verdict, no symbol. */
	assert_null(run_on(t, probe, st));
	harness *h = make_msg(msg_spam_tpl, 4, true);
	assert_int_equal(learn(t, h, true, false, err), PG_OK);
	harness_close(h);
	const pg_symbol *s = run_on(t, probe, st);
	assert_non_null(s);
	assert_string_equal(s->name, "BAYES_SPAM");
	assert_true(s->weight >= 3.0 && s->weight <= 6.0);
	assert_non_null(strstr(s->detail, "probability"));
	harness *hp = make_msg(msg_ham_tpl, 1001, true);
	s = run_on(t, hp, st);
	assert_non_null(s);
	assert_string_equal(s->name, "BAYES_HAM");
	assert_true(s->weight < -1.4 && s->weight >= -3.0);
	harness_close(hp);
	/* Disabled: nothing. */
	pg_analyser_bayes.free(st);
	pg_config *off = NULL;
	char text[512];
	snprintf(text, sizeof(text),
		 "state_dir = \"%s/state\";\nbayes = { enabled = false; min_learned = 5; };",
		 t->root);
	assert_int_equal(pg_config_load_text(text, "t", NULL, 0, &off, err, sizeof(err)), PG_OK);
	assert_int_equal(pg_analyser_bayes.init(off, &st, err, sizeof(err)), PG_OK);
	probe->ax.store = t->st;
	probe->syms.n = 0;
	assert_int_equal(pg_analyser_bayes.run(&probe->ax, st), PG_OK);
	assert_int_equal(probe->syms.n, 0);
	pg_analyser_bayes.free(st);
	pg_config_unref(off);
	/* Bad settings refuse the configuration. */
	pg_config *bad = NULL;
	const char *badtext = "bayes = { spam_threshold = 0.3; };";
	assert_int_equal(pg_config_load_text(badtext, "t", NULL, 0, &bad, err, sizeof(err)), PG_OK);
	assert_int_equal(pg_analyser_bayes.init(bad, &st, err, sizeof(err)), PG_ERR_CONFIG);
	assert_non_null(strstr(err, "spam_threshold"));
	pg_config_unref(bad);
	harness_close(probe);
	tstore_close(t);
	*state = NULL;
}

struct clues {
	size_t n;
	bool from, subject, pair;
};

static int clue_fn(void *ctx, const char *token, int64_t ns, int64_t nh, double f)
{
	struct clues *c = ctx;
	c->n++;
	assert_true(ns + nh > 0 && f > 0 && f < 1);
	if (strcmp(token, "from:offerte.example") == 0)
		c->from = f > 0.5;
	if (strcmp(token, "s:premio") == 0)
		c->subject = f > 0.5;
	if (strcmp(token, "hai vinto") == 0)
		c->pair = f > 0.5;
	return 0;
}

/* The in-memory copy and the store give the same probabilities, and the
 * copy follows learning. */
static void cache_matches_store(void **state)
{
	tstore *t = tstore_open("bayes = { min_learned = 3; cache_refresh = 0.0; };");
	*state = t;
	char err[256];
	for (int i = 0; i < 6; i++) {
		harness *h = make_msg(i % 2 ? msg_ham_tpl : msg_spam_tpl, i, true);
		assert_int_equal(learn(t, h, i % 2 == 0, false, err), PG_OK);
		harness_close(h);
	}
	pg_config *direct = NULL;
	char text[512];
	snprintf(text, sizeof(text),
		 "state_dir = \"%s/state\"; bayes = { min_learned = 3; cache = false; };", t->root);
	assert_int_equal(pg_config_load_text(text, "t", NULL, 0, &direct, err, sizeof(err)), PG_OK);
	void *sc = NULL, *sd = NULL;
	assert_int_equal(pg_analyser_bayes.init(t->cfg, &sc, err, sizeof(err)), PG_OK);
	assert_int_equal(pg_analyser_bayes.init(direct, &sd, err, sizeof(err)), PG_OK);
	for (int round = 0; round < 2; round++) {
		for (int i = 100; i < 106; i++) {
			harness *h = make_msg(i % 2 ? msg_ham_tpl : msg_spam_tpl, i, true);
			h->ax.store = t->st;
			double pc, pd;
			size_t nc, nd;
			bool rc, rd;
			assert_int_equal(pg_bayes_probability(&h->ax, sc, &pc, &nc, &rc), PG_OK);
			assert_int_equal(pg_bayes_probability(&h->ax, sd, &pd, &nd, &rd), PG_OK);
			assert_true(rc && rd);
			assert_true(pc == pd);
			assert_int_equal(nc, nd);
			harness_close(h);
		}
		/* Learn more: the copy is rebuilt (refresh 0) and agrees again. */
		harness *h = make_msg(msg_spam_tpl, 50, true);
		assert_int_equal(learn(t, h, true, false, err), PG_OK);
		harness_close(h);
	}
	/* Explaining gives the same probability, and the clues as text. */
	harness *h = make_msg(msg_spam_tpl, 300, true);
	h->ax.store = t->st;
	struct clues cl = {0};
	double pe, pp;
	size_t np;
	bool re, rp;
	assert_int_equal(pg_bayes_explain(&h->ax, sc, clue_fn, &cl, &pe, &re), PG_OK);
	assert_int_equal(pg_bayes_probability(&h->ax, sc, &pp, &np, &rp), PG_OK);
	assert_true(re && rp);
	assert_true(pe == pp);
	assert_int_equal(cl.n, np);
	assert_true(cl.from && cl.subject && cl.pair);
	harness_close(h);
	pg_analyser_bayes.free(sc);
	pg_analyser_bayes.free(sd);
	pg_config_unref(direct);
	tstore_close(t);
	*state = NULL;
}

/* Scans on many threads while learning goes on: the copy of the counts
 * is rebuilt under them (refresh 0) and swapped; ASan watches the old
 * copies being freed only when the last scan lets go. */
struct cthread {
	tstore *t;
	void *state;
	harness *h;
	_Atomic int *stop;
	int bad, runs;
};

static void *classify_loop(void *arg)
{
	struct cthread *c = arg;
	while (!*c->stop || c->runs < 20) {
		double p;
		size_t nt;
		bool ready;
		if (pg_bayes_probability(&c->h->ax, c->state, &p, &nt, &ready) != PG_OK || !ready ||
		    p < 0 || p > 1)
			c->bad++;
		c->runs++;
	}
	return NULL;
}

static void cache_under_threads(void **state)
{
	tstore *t = tstore_open("bayes = { min_learned = 2; cache_refresh = 0.0; };");
	*state = t;
	char err[256];
	for (int i = 0; i < 4; i++) {
		harness *h = make_msg(i % 2 ? msg_ham_tpl : msg_spam_tpl, i, true);
		assert_int_equal(learn(t, h, i % 2 == 0, false, err), PG_OK);
		harness_close(h);
	}
	void *st = NULL;
	assert_int_equal(pg_analyser_bayes.init(t->cfg, &st, err, sizeof(err)), PG_OK);
	enum { NT = 4 };
	struct cthread c[NT];
	pthread_t th[NT];
	_Atomic int stop = 0;
	for (int i = 0; i < NT; i++) {
		c[i] = (struct cthread){.t = t, .state = st, .stop = &stop};
		c[i].h = make_msg(i % 2 ? msg_ham_tpl : msg_spam_tpl, 200 + i, true);
		c[i].h->ax.store = t->st;
		c[i].h->ax.cfg = t->cfg;
		(void)pg_msg_text(c[i].h->msg); /* cached before the threads share nothing else */
	}
	for (int i = 0; i < NT; i++)
		assert_int_equal(pthread_create(&th[i], NULL, classify_loop, &c[i]), 0);
	for (int i = 10; i < 40; i++) {
		harness *h = make_msg(i % 2 ? msg_ham_tpl : msg_spam_tpl, i, true);
		assert_int_equal(learn(t, h, i % 2 == 0, false, err), PG_OK);
		harness_close(h);
	}
	stop = 1;
	for (int i = 0; i < NT; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(c[i].bad, 0);
		assert_true(c[i].runs >= 20);
		harness_close(c[i].h);
	}
	pg_analyser_bayes.free(st);
	tstore_close(t);
	*state = NULL;
}

/* ---- accuracy on the shared corpus -------------------------------------------- */

typedef struct loaded {
	char *data;
	size_t len;
	pg_arena *arena;
	pg_msg *msg;
} loaded;

/* Reads and parses one corpus file; SpamAssassin's carry an mbox "From "
 * line first, which is not part of the message. */
static bool load(const char *path, loaded *l)
{
	memset(l, 0, sizeof(*l));
	size_t got;
	char *buf = slurp_file(path, &got);
	if (buf == NULL)
		return false;
	size_t off = 0;
	if (got >= 5 && memcmp(buf, "From ", 5) == 0) {
		char *nl = memchr(buf, '\n', got);
		off = nl ? (size_t)(nl - buf) + 1 : got;
	}
	l->data = buf;
	l->len = got - off;
	l->arena = pg_arena_new();
	static const pg_limits lim = {.max_message_size = 64u << 20,
				      .max_header_field = 64u << 10,
				      .max_header_block = 1u << 20,
				      .max_depth = 32,
				      .max_parts = 1000};
	unsigned budget = lim.max_parts;
	char err[256];
	pg_status st = pg_msg_parse(l->arena, buf + off, l->len, &lim, 0, &budget, &l->msg, err,
				    sizeof(err));
	if (st != PG_OK)
		l->msg = NULL;
	return l->msg != NULL;
}

static void unload(loaded *l)
{
	pg_arena_free(l->arena);
	free(l->data);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of this thread: per-message costs stay meaningful on a busy
 * machine. */
static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t learn_list(tstore *t, const char *corpus, const char *list, bool spam)
{
	char path[4096], line[1024];
	snprintf(path, sizeof(path), "%s/splits/%s", corpus, list);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		snprintf(path, sizeof(path), "%s/%s", corpus, line);
		loaded l;
		if (load(path, &l)) {
			char err[256];
			pg_status st =
				pg_bayes_learn(t->st, t->cfg, l.msg, spam, false, err, sizeof(err));
			if (st != PG_OK)
				fprintf(stderr, "learn %s: %s\n", line, err);
			assert_int_equal(st, PG_OK);
			n++;
		}
		unload(&l);
	}
	fclose(f);
	return n;
}

typedef struct result {
	size_t n, spam, lean, ham, unsure; /* lean: probability >= 0.5 */
	double text_s, bayes_s;            /* text extraction, tokenize + classify */
} result;

static result measure(tstore *t, void *state, const char *corpus, const char *list)
{
	result r = {0};
	char path[4096], line[1024];
	snprintf(path, sizeof(path), "%s/splits/%s", corpus, list);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	pg_symset syms = {0};
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		snprintf(path, sizeof(path), "%s/%s", corpus, line);
		loaded l;
		if (load(path, &l)) {
			syms.arena = l.arena;
			pg_actx ax = {.arena = l.arena,
				      .msg = l.msg,
				      .top = l.msg,
				      .cfg = t->cfg,
				      .store = t->st,
				      .syms = &syms};
			double t0 = cpu_s();
			(void)pg_msg_text(l.msg); /* shared by every analyser: timed apart */
			double t1 = cpu_s();
			double p;
			size_t nt;
			bool ready;
			assert_int_equal(pg_bayes_probability(&ax, state, &p, &nt, &ready), PG_OK);
			double t2 = cpu_s();
			assert_true(ready);
			r.text_s += t1 - t0;
			r.bayes_s += t2 - t1;
			r.n++;
			if (p >= 0.5)
				r.lean++;
			if (p >= 0.95)
				r.spam++;
			else if (p <= 0.05)
				r.ham++;
			else
				r.unsure++;
		}
		unload(&l);
	}
	fclose(f);
	return r;
}

static void corpus_accuracy(void **state)
{
	const char *shared = getenv("PG_SHARED_DIR");
	char corpus[1024];
	if (shared == NULL || shared[0] == '\0')
		shared = "/work/shared";
	snprintf(corpus, sizeof(corpus), "%s/corpus", shared);
	char probe[1200];
	snprintf(probe, sizeof(probe), "%s/splits/train_ham.txt", corpus);
	if (access(probe, R_OK) != 0) {
		printf("corpus_accuracy: %s not found: skipped\n", probe);
		skip();
	}
	/* Thousands of commits: on tmpfs when there is one, so the run
	 * measures the filter, not the disk's flushes. */
	tstore *t = tstore_open_in(access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
				   "bayes = { cache_refresh = 0.0; };");
	*state = t;
	double t0 = now_s();
	size_t ls = learn_list(t, corpus, "train_spam.txt", true);
	ls += learn_list(t, corpus, "train_phish.txt", true);
	ls += learn_list(t, corpus, "train_italian_spam.txt", true);
	size_t lh = learn_list(t, corpus, "train_ham.txt", false);
	lh += learn_list(t, corpus, "train_italian_ham.txt", false);
	double t1 = now_s();
	int64_t ns, nh;
	assert_int_equal(pg_bayes_learned(t->st, &ns, &nh), PG_OK);
	size_t ntok = 0;
	assert_int_equal(pg_store_each(t->st, "bayes", count_fn, &ntok), PG_OK);
	printf("bayes: learned %zu spam + %zu ham files (%lld + %lld distinct) in %.1f s, "
	       "%zu tokens in the store\n",
	       ls, lh, (long long)ns, (long long)nh, t1 - t0, ntok);

	void *st = NULL;
	char err[256];
	assert_int_equal(pg_analyser_bayes.init(t->cfg, &st, err, sizeof(err)), PG_OK);
	/* The first message builds the in-memory copy of the counts: timed
	 * apart, so the table shows the cost per message that follows. */
	{
		harness *h = make_msg(msg_ham_tpl, 1, true);
		h->ax.store = t->st;
		h->ax.cfg = t->cfg;
		double p, w0 = now_s();
		size_t nt;
		bool ready;
		assert_int_equal(pg_bayes_probability(&h->ax, st, &p, &nt, &ready), PG_OK);
		assert_true(ready);
		printf("bayes: in-memory copy of %zu tokens built in %.0f ms\n", ntok,
		       1e3 * (now_s() - w0));
		harness_close(h);
	}
	static const struct {
		const char *list;
		bool spam;
	} sets[] = {{"test_ham.txt", false},
		    {"test_italian_ham.txt", false},
		    {"test_spam.txt", true},
		    {"test_phish.txt", true},
		    {"test_italian_spam.txt", true}};
	printf("%-24s %6s %9s %9s %9s %9s %12s\n", "test set", "n", ">=0.95", ">=0.5", "<=0.05",
	       "unsure", "cpu us/msg");
	double bayes_s = 0, text_s = 0;
	size_t total = 0;
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		result r = measure(t, st, corpus, sets[i].list);
		assert_true(r.n > 0);
		printf("%-24s %6zu %8.2f%% %8.2f%% %8.2f%% %8.2f%% %12.1f\n", sets[i].list, r.n,
		       100.0 * (double)r.spam / (double)r.n, 100.0 * (double)r.lean / (double)r.n,
		       100.0 * (double)r.ham / (double)r.n, 100.0 * (double)r.unsure / (double)r.n,
		       1e6 * r.bayes_s / (double)r.n);
		bayes_s += r.bayes_s;
		text_s += r.text_s;
		total += r.n;
		/* Loose bounds: the thresholds are tuned in the evaluation.
		 * Bayes alone leaves some old SpamAssassin spam (sent through
		 * mailing lists, quoting list members) unsure, hence 80%. */
		double rate = (double)r.spam / (double)r.n, lean = (double)r.lean / (double)r.n;
		if (sets[i].spam) {
			assert_true(rate > 0.80);
			assert_true(lean > 0.90);
		} else {
			assert_true(rate < 0.01);
		}
	}
	printf("bayes: %.1f us/msg (thread CPU) tokenize + classify, text extraction %.1f us/msg "
	       "apart\n",
	       1e6 * bayes_s / (double)total, 1e6 * text_s / (double)total);
	pg_analyser_bayes.free(st);
	tstore_close(t);
	*state = NULL;
}

int main(void)
{
	g_mime_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tokenizer_unicode),
		cmocka_unit_test(tokenizer_hosts),
		cmocka_unit_test(tokenizer_message),
		cmocka_unit_test_teardown(learn_relearn_unlearn, tstore_teardown),
		cmocka_unit_test_teardown(min_learned_gate, tstore_teardown),
		cmocka_unit_test_teardown(cache_matches_store, tstore_teardown),
		cmocka_unit_test_teardown(cache_under_threads, tstore_teardown),
		cmocka_unit_test_teardown(corpus_accuracy, tstore_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
