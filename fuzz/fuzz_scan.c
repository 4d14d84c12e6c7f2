/*
 * fuzz_scan.c - the whole ordinary-mail pipeline on the shipped defaults.
 *
 * fuzz_classify stops after classification; this target runs everything a
 * message meets in production with the antivirus off: the built-in
 * configuration (every rule compiled, every analyser on), a Bayes store
 * that has learned two messages and gives verdicts from the first one
 * (min_learned = 0), the decision, the headers and the tagged subject,
 * the JSON report and the Bayes clues.  The store lives in a private
 * directory under TMPDIR, made once per process and removed at its exit.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pecguard.h"

#ifndef PG_FUZZ_DATA_DIR
#define PG_FUZZ_DATA_DIR "fuzz"
#endif

static const char spam_seed[] =
	"From: \"Agenzia delle Entrate\" <notifiche@agenzia-entrate.example>\r\n"
	"To: you@example.test\r\nSubject: Invio File 1234567890\r\n"
	"Message-ID: <a@example.test>\r\nDate: Mon, 7 Oct 2019 10:00:00 +0200\r\n\r\n"
	"Gentile cliente, scarichi la fattura scaduta: http://198.51.100.7/fattura.zip\r\n";
static const char ham_seed[] = "From: Maria Rossi <maria@example.test>\r\nTo: you@example.test\r\n"
			       "Subject: riunione di lunedi\r\nMessage-ID: <b@example.test>\r\n"
			       "Date: Mon, 7 Oct 2019 10:00:00 +0200\r\n\r\n"
			       "Ciao, ci vediamo lunedi alle dieci per il bilancio.\r\n";

static pg_engine *eng;
static char dir[4096];

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* The store goes with the process. */
static void cleanup(void)
{
	pg_engine_free(eng);
	eng = NULL;
	if (dir[0] != '\0')
		(void)nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static pg_engine *engine(void)
{
	static char state[4200];
	if (eng != NULL)
		return eng;
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/pg-fuzz-scan.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	atexit(cleanup);
	snprintf(state, sizeof(state), "state_dir=%s", dir);
	const char *ov[] = {
		state,
		"providers=" PG_FUZZ_DATA_DIR "/classify-index.ldif",
		"antivirus.backend=none",
		"bayes.min_learned=0",
	};
	if (pg_engine_new(&eng) != PG_OK)
		abort();
	if (pg_engine_configure(eng, NULL, ov, sizeof(ov) / sizeof(ov[0])) != PG_OK) {
		fprintf(stderr, "fuzz_scan: %s\n", pg_engine_errmsg(eng));
		abort();
	}
	if (pg_engine_set_limits(eng, &pg_fuzz_limits) != PG_OK)
		abort();
	if (pg_engine_learn(eng, spam_seed, sizeof(spam_seed) - 1, 1, 0) != PG_OK ||
	    pg_engine_learn(eng, ham_seed, sizeof(ham_seed) - 1, 0, 0) != PG_OK)
		abort();
	return eng;
}

static int on_clue(void *ctx, const char *token, int64_t nspam, int64_t nham, double p)
{
	(void)ctx;
	if (token == NULL || strlen(token) > 4096 || nspam < 0 || nham < 0 ||
	    !(p >= 0.0 && p <= 1.0))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pg_scan *s = pg_fuzz_scan(engine(), data, size);
	/* What the milter reads back: headers, the tagged subject, symbols. */
	for (size_t i = 0; i < pg_scan_header_count(s); i++) {
		const char *v = NULL;
		const char *n = pg_scan_header(s, i, &v);
		if (n == NULL || v == NULL)
			abort();
	}
	const char *subj = pg_scan_tagged_subject(s);
	if (subj != NULL && strlen(subj) > (1u << 21))
		abort();
	for (size_t i = 0; i < pg_scan_symbol_count(s); i++) {
		double w;
		if (pg_scan_symbol(s, i, &w, NULL) == NULL)
			abort();
	}
	(void)pg_scan_recipient_accepts(s, "user@example.test");
	/* The helpdesk's "why": every clue's text. */
	double prob;
	int ready;
	if (pg_scan_bayes_clues(s, on_clue, NULL, &prob, &ready) == PG_OK && ready &&
	    !(prob >= 0.0 && prob <= 1.0))
		abort();
	pg_scan_free(s);
	return 0;
}
