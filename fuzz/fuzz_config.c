/*
 * fuzz_config.c - configuration text, as an administrator writes it.
 *
 * The input is a configuration file read over the built-in defaults, with
 * the default rules list emptied first (compiling it costs a second a run):
 * what gets exercised is libconfig's reading, our merge and validation of
 * every setting, the analysers' option readers (header, rules, url, attach,
 * invoice, bayes), and the rules analyser's own parsers -- patterns handed
 * to Vectorscan and PCRE2, and the meta-rule expression language.  A
 * configuration that loads is then run over two fixed messages, so that
 * the meta expressions are evaluated.  Every outcome but a crash, a leak
 * or a hang is fine.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "fuzz.h"
#include "engine/config.h"
#include "mime/msg.h"
#include "pec/classify.h"
#include "pec/providers.h"
#include "scan/analyser.h"
#include "scan/attach.h"
#include "scan/bayes.h"
#include "scan/header.h"
#include "scan/invoice.h"
#include "scan/rules.h"
#include "scan/url.h"
#include "util/arena.h"

static const char *const messages[] = {
	"From: \"Agenzia Entrate\" <noreply@agenzia-entrate.example>\r\n"
	"Reply-To: <pay@elsewhere.example>\r\nTo: a@example.test\r\n"
	"Subject: Invio File 1234567890 - fattura scaduta\r\nX-Mailer: Outlook\r\n"
	"Message-ID: <x@example.test>\r\nDate: Mon, 7 Oct 2019 10:00:00 +0200\r\n"
	"Content-Type: text/html; charset=utf-8\r\n\r\n"
	"<p>Gentile cliente, <a href=\"http://198.51.100.7/f.zip\">agenziaentrate.gov.it</a> "
	"scarichi la fattura IT01234567890_00001.xml.p7m. Password: 1234</p>\r\n",
	"From: Maria <maria@example.test>\nTo: b@example.test\nSubject: riunione\n\n"
	"Ci vediamo lunedi.\n",
};

/* libconfig 1.5's scanner loses what it allocated for the string or token
 * it was reading when some syntax errors abort the parse (1 to 64 bytes;
 * reproduced with config_read_string() and config_destroy() alone, without
 * pecguard): a refused configuration file costs that once, not worth a
 * stop of the fuzzer.  Leaks anywhere else -- our code, or libconfig's
 * settings tree if we failed to destroy it -- stay errors. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:strbuf_append\n"
	       "leak:libconfig_yylex\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static pg_providers *none;
	if (none == NULL) {
		g_mime_init();
		if (pg_providers_new_empty(&none) != PG_OK)
			abort();
	}
	if (size > 65536)
		return 0;
	static const char prefix[] = "rules = ();\n";
	char *text = malloc(sizeof(prefix) + size);
	if (text == NULL)
		abort();
	memcpy(text, prefix, sizeof(prefix) - 1);
	memcpy(text + sizeof(prefix) - 1, data, size);
	text[sizeof(prefix) - 1 + size] = '\0';
	pg_config *cfg = NULL;
	char err[512];
	if (pg_config_load_text(text, "fuzz", NULL, 0, &cfg, err, sizeof(err)) != PG_OK) {
		free(text);
		return 0;
	}
	free(text);
	const pg_analyser *an[] = {&pg_analyser_header, &pg_analyser_rules,   &pg_analyser_url,
				   &pg_analyser_attach, &pg_analyser_invoice, &pg_analyser_bayes};
	enum { N = sizeof(an) / sizeof(an[0]) };
	void *st[N] = {NULL};
	bool ok = true;
	for (size_t i = 0; i < N; i++)
		if (an[i]->init(cfg, &st[i], err, sizeof(err)) != PG_OK) {
			st[i] = NULL;
			ok = false;
		}
	for (size_t k = 0; ok && k < sizeof(messages) / sizeof(messages[0]); k++) {
		pg_arena *a = pg_arena_new();
		if (a == NULL)
			abort();
		unsigned budget = pg_fuzz_limits.max_parts;
		pg_msg *msg = NULL;
		if (pg_msg_parse(a, messages[k], strlen(messages[k]), &pg_fuzz_limits, 0, &budget,
				 &msg, err, sizeof(err)) == PG_OK) {
			pg_classification cls;
			if (pg_classify(a, msg, none, PG_TIME_FIXED, 1767225600, 1767225600,
					&cls) == PG_OK) {
				pg_symset syms = {.arena = a};
				pg_actx ax = {.arena = a,
					      .msg = msg,
					      .top = msg,
					      .cls = &cls,
					      .cfg = cfg,
					      .now = 1767225600,
					      .syms = &syms};
				/* bayes has no store here: it adds nothing */
				for (size_t i = 0; i < N; i++)
					(void)an[i]->run(&ax, st[i]);
				(void)pg_symset_score(&syms);
			}
		}
		pg_arena_free(a);
	}
	for (size_t i = 0; i < N; i++)
		if (st[i] != NULL)
			an[i]->free(st[i]);
	pg_config_unref(cfg);
	return 0;
}
