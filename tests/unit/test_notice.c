/*
 * Unit tests: the avviso di rilevazione virus (src/pec/notice.c and
 * pg_scan_virus_notice).  We are Gestore Beta, the recipient's provider:
 * the project's own EICAR envelope from Gestore Alfa is scanned with the
 * in-process ClamAV and the test signature database, held, and the notice
 * built for it is then classified by pecguard itself with the fixture
 * index: it must be a valid pec-receipt of type rilevazione-virus from
 * Gestore Beta with the right certified data, and no longer valid once a
 * byte of it changes.
 *
 * Needs $PG_FIXTURES (pg-mkfixtures) and $PG_AVDB (tests/tools/mkavdb.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pec/daticert.h"
#include "pec/notice.h"
#include "pecguard.h"
#include "rmtree.h"
#include "util/arena.h"
#include "slurp.h"

static char fx[4096], avdb[4096], state[64];

static char *slurp(const char *name, size_t *len)
{
	char path[8192];
	snprintf(path, sizeof(path), "%s/%s", fx, name);
	return slurp_or_fail(path, len);
}

/* An engine configured as Gestore Beta's reception point: the fixture
 * index, ClamAV on the test database, and (with_key) Beta's notice key. */
static pg_engine *beta_engine(bool with_key, const char *cert, const char *key, pg_status want)
{
	char o[6][8300];
	snprintf(o[0], sizeof(o[0]), "providers=%s/pki/index.ldif", fx);
	snprintf(o[1], sizeof(o[1]), "antivirus.backend=clamav");
	snprintf(o[2], sizeof(o[2]), "antivirus.database=%s", avdb);
	snprintf(o[3], sizeof(o[3]), "state_dir=%s", state);
	snprintf(o[4], sizeof(o[4]), "pec.notice_cert=%s/pki/%s", fx, cert ? cert : "");
	snprintf(o[5], sizeof(o[5]), "pec.notice_key=%s/pki/%s", fx, key ? key : "");
	if (cert == NULL)
		snprintf(o[4], sizeof(o[4]), "pec.notice_cert=");
	if (key == NULL)
		snprintf(o[5], sizeof(o[5]), "pec.notice_key=");
	const char *ov[6] = {o[0], o[1], o[2], o[3], o[4], o[5]};
	pg_engine *e;
	assert_int_equal(pg_engine_new(&e), PG_OK);
	pg_status st = pg_engine_configure(e, NULL, ov, with_key ? 6 : 4);
	if (st != want)
		fail_msg("configure: %s: %s", pg_status_name(st), pg_engine_errmsg(e));
	return e;
}

/* An engine that only classifies, with the fixture index: the receiving
 * side of the notice (Gestore Alfa's reception point). */
static pg_engine *verifier(void)
{
	pg_engine *e;
	assert_int_equal(pg_engine_new(&e), PG_OK);
	char path[8192];
	snprintf(path, sizeof(path), "%s/pki/index.ldif", fx);
	assert_int_equal(pg_engine_load_providers(e, path), PG_OK);
	return e;
}

static bool failed_check(const pg_scan *s)
{
	for (size_t i = 0; i < pg_scan_reason_count(s); i++)
		if (!pg_reason_is_evidence(pg_scan_reason(s, i))) {
			print_error("failed: %s\n", pg_scan_reason(s, i));
			return true;
		}
	return false;
}

static bool has_reason(const pg_scan *s, const char *code)
{
	for (size_t i = 0; i < pg_scan_reason_count(s); i++)
		if (strncmp(pg_scan_reason(s, i), code, strlen(code)) == 0)
			return true;
	return false;
}

/* The daticert.xml of a classified message, parsed into a. */
static pg_daticert *daticert_of(const pg_scan *s, pg_arena *a)
{
	const pg_msg *m = pg_scan_message(s);
	assert_non_null(m);
	for (size_t i = 0; i < pg_msg_part_count(m); i++) {
		const pg_part *p = pg_msg_part(m, i);
		const char *fn = pg_part_filename(p);
		if (fn == NULL || strcmp(fn, "daticert.xml") != 0)
			continue;
		size_t n;
		const unsigned char *x = pg_part_content(p, &n);
		assert_non_null(x);
		pg_daticert *dc = NULL;
		char err[256];
		if (pg_daticert_parse(a, x, n, &dc, err, sizeof(err)) != PG_OK)
			fail_msg("daticert.xml: %s", err);
		return dc;
	}
	fail_msg("no daticert.xml");
	return NULL;
}

static pg_scan *classify(pg_engine *e, const char *data, size_t len)
{
	pg_scan *s;
	assert_int_equal(pg_scan_new(e, &s), PG_OK);
	assert_int_equal(pg_scan_run_buffer(s, data, len), PG_OK);
	return s;
}

/* Scans the EICAR envelope as Beta and builds its notice. */
static pg_notice *eicar_notice(pg_engine *beta, char **keep, pg_scan **scan)
{
	size_t len;
	*keep = slurp("messages/env-alfa-eicar.eml", &len);
	pg_scan *s = classify(beta, *keep, len);
	assert_int_equal(pg_scan_class(s), PG_CLASS_PEC_ENVELOPE);
	assert_int_equal(pg_scan_av(s), PG_AV_STATE_INFECTED);
	assert_int_equal(pg_scan_action(s), PG_ACTION_QUARANTINE);
	const char *rcpts[1] = {"acquisti@pec.beta.test"};
	pg_notice *n = NULL;
	if (pg_scan_virus_notice(s, rcpts, 1, &n) != PG_OK)
		fail_msg("notice: %s", pg_scan_errmsg(s));
	assert_non_null(n);
	*scan = s;
	return n;
}

static void test_notice_is_valid_receipt(void **state_)
{
	(void)state_;
	pg_engine *beta = beta_engine(true, "beta.pem", "beta.key", PG_OK);
	char *env;
	pg_scan *es;
	pg_notice *n = eicar_notice(beta, &env, &es);
	assert_string_equal(n->to, "posta-certificata@pec.alfa.test"); /* Alfa's mailReceipt */
	assert_string_equal(n->from, "posta-certificata@pec.beta.test");
	assert_string_equal(n->provider, "Gestore Alfa");
	assert_non_null(strstr(n->virus, "Eicar"));
	assert_non_null(strstr(n->ident, "@pec.beta.test"));

	pg_engine *alfa = verifier();
	pg_scan *s = classify(alfa, n->data, n->len);
	assert_string_equal(pg_class_name(pg_scan_class(s)), "pec-receipt");
	assert_string_equal(pg_scan_pec_type(s), "rilevazione-virus");
	assert_string_equal(pg_scan_provider(s), "Gestore Beta");
	assert_false(failed_check(s));
	assert_true(has_reason(s, "signature-valid"));
	assert_true(has_reason(s, "daticert-consistent"));

	const pg_msg *m = pg_scan_message(s);
	const pg_msg *em = pg_scan_message(es);
	assert_string_equal(pg_msg_header(m, "Subject"),
			    "PROBLEMA DI SICUREZZA: Documento da verificare");
	assert_string_equal(pg_msg_header(m, "X-Ricevuta"), "rilevazione-virus");
	assert_string_equal(pg_msg_header(m, "X-Riferimento-Message-ID"),
			    pg_msg_header(em, "X-Riferimento-Message-ID"));
	assert_string_equal(pg_msg_header(m, "From"), "posta-certificata@pec.beta.test");
	assert_string_equal(pg_msg_header(m, "To"), "posta-certificata@pec.alfa.test");
	assert_non_null(pg_msg_header(m, "Date"));
	assert_non_null(pg_msg_header(m, "MIME-Version"));
	char mid[400];
	snprintf(mid, sizeof(mid), "<%s>", n->ident);
	assert_string_equal(pg_msg_header(m, "Message-ID"), mid);

	pg_arena *a = pg_arena_new();
	pg_daticert *dc = daticert_of(s, a);
	assert_string_equal(dc->tipo, "rilevazione-virus");
	assert_string_equal(dc->errore, "virus");
	assert_string_equal(dc->mittente, "lucia.ferraro@pec.alfa.test");
	assert_int_equal(dc->ndest, 2);
	assert_string_equal(dc->dest[0].addr, "acquisti@pec.beta.test");
	assert_string_equal(dc->dest[0].tipo, "certificato");
	assert_string_equal(dc->dest[1].addr, "protocollo@pec.beta.test");
	assert_string_equal(dc->oggetto, "Documento da verificare");
	assert_string_equal(dc->gestore, "Gestore Beta");
	assert_non_null(dc->zona);
	assert_true(dc->time > 0);
	assert_string_equal(dc->identificativo, n->ident);
	assert_string_equal(dc->msgid, pg_msg_header(em, "X-Riferimento-Message-ID"));
	assert_string_equal(dc->consegna, "acquisti@pec.beta.test");
	assert_string_equal(dc->errore_esteso, n->virus);

	/* the text part says what happened, in Italian */
	bool text = false;
	for (size_t i = 0; i < pg_msg_part_count(m); i++) {
		const pg_part *p = pg_msg_part(m, i);
		if (strcmp(pg_part_content_type(p), "text/plain") != 0)
			continue;
		size_t tl;
		const unsigned char *t = pg_part_content(p, &tl);
		char *tx = strndup((const char *)t, tl);
		assert_non_null(strstr(tx, "virus informatico (Eicar"));
		assert_non_null(strstr(tx, "non è stato consegnato"));
		assert_non_null(strstr(tx, "\"Documento da verificare\""));
		assert_non_null(strstr(tx, dc->msgid));
		free(tx);
		text = true;
	}
	assert_true(text);

	pg_arena_free(a);
	pg_scan_free(s);
	pg_notice_free(n);
	pg_scan_free(es);
	free(env);
	pg_engine_free(alfa);
	pg_engine_free(beta);
}

/* One byte changed anywhere in the signed entity: no longer valid. */
static void test_tampered_notice_invalid(void **state_)
{
	(void)state_;
	pg_engine *beta = beta_engine(true, "beta.pem", "beta.key", PG_OK);
	char *env;
	pg_scan *es;
	pg_notice *n = eicar_notice(beta, &env, &es);
	pg_engine *alfa = verifier();
	/* a byte of daticert.xml's base64, then one of the text */
	const char *targets[2] = {"filename=\"daticert.xml\"\r\n\r\n", "Content-Disposition: inline\r\n\r\n"};
	for (int t = 0; t < 2; t++) {
		char *copy = malloc(n->len + 1);
		assert_non_null(copy);
		memcpy(copy, n->data, n->len);
		copy[n->len] = '\0';
		char *p = strstr(copy, targets[t]);
		assert_non_null(p);
		p += strlen(targets[t]) + 10;
		*p = *p == 'A' ? 'B' : 'A';
		pg_scan *s = classify(alfa, copy, n->len);
		assert_int_equal(pg_scan_class(s), PG_CLASS_INVALID_PEC);
		assert_true(has_reason(s, "signature-digest-mismatch"));
		pg_scan_free(s);
		free(copy);
	}
	/* and the untouched copy is still valid */
	pg_scan *s = classify(alfa, n->data, n->len);
	assert_int_equal(pg_scan_class(s), PG_CLASS_PEC_RECEIPT);
	pg_scan_free(s);
	pg_notice_free(n);
	pg_scan_free(es);
	free(env);
	pg_engine_free(alfa);
	pg_engine_free(beta);
}

/* XML-special and non-ASCII characters round-trip through daticert.xml
 * and the Subject; a line break cannot inject a header field. */
static void test_special_characters_round_trip(void **state_)
{
	(void)state_;
	char cert[8192], key[8192], err[512];
	snprintf(cert, sizeof(cert), "%s/pki/beta.pem", fx);
	snprintf(key, sizeof(key), "%s/pki/beta.key", fx);
	pg_notice_key *k = NULL;
	if (pg_notice_key_load(cert, key, &k, err, sizeof(err)) != PG_OK)
		fail_msg("key: %s", err);
	const char *subject = "Fattura <n. 12> & \"saldo\" 'urgente' ]]> città – 100€";
	pg_daticert_dest dest[2] = {{"a&b@pec.beta.test", "certificato"},
				    {"ext@example.test", "esterno"}};
	const char *held[2] = {"a&b@pec.beta.test", "x@pec.beta.test"};
	pg_notice_in in = {
		.gestore = "Gestore Beta",
		.from = "posta-certificata@pec.beta.test",
		.to = "posta-certificata@pec.alfa.test",
		.mittente = "o'neil&co@pec.alfa.test",
		.dest = dest,
		.ndest = 2,
		.oggetto = subject,
		.msgid = "<id<&>@pec.alfa.test>",
		.virus = "Win.Test<EICAR>&\"x\"",
		.held = held,
		.nheld = 2,
		.now = 1768807800, /* 2026-01-19 07:30 UTC */
		.ident = "opec-test.1@pec.beta.test",
	};
	char *msg = NULL;
	size_t len = 0;
	if (pg_notice_build(k, &in, &msg, &len, err, sizeof(err)) != PG_OK)
		fail_msg("build: %s", err);

	pg_engine *alfa = verifier();
	pg_scan *s = classify(alfa, msg, len);
	assert_int_equal(pg_scan_class(s), PG_CLASS_PEC_RECEIPT);
	assert_false(failed_check(s));
	assert_string_equal(pg_scan_provider(s), "Gestore Beta");
	const pg_msg *m = pg_scan_message(s);
	char want[400];
	snprintf(want, sizeof(want), "PROBLEMA DI SICUREZZA: %s", subject);
	assert_string_equal(pg_msg_header(m, "Subject"), want);
	pg_arena *a = pg_arena_new();
	pg_daticert *dc = daticert_of(s, a);
	assert_string_equal(dc->oggetto, subject);
	assert_string_equal(dc->mittente, "o'neil&co@pec.alfa.test");
	assert_string_equal(dc->risposte, "o'neil&co@pec.alfa.test");
	assert_string_equal(dc->dest[0].addr, "a&b@pec.beta.test");
	assert_string_equal(dc->dest[1].tipo, "esterno");
	assert_string_equal(dc->msgid, "<id<&>@pec.alfa.test>");
	assert_string_equal(dc->errore_esteso, "Win.Test<EICAR>&\"x\"");
	assert_string_equal(dc->identificativo, "opec-test.1@pec.beta.test");
	assert_null(dc->consegna); /* two recipients: named in the text only */
	pg_arena_free(a);
	pg_scan_free(s);
	free(msg);

	/* a line break in the subject: no injected header field */
	in.oggetto = "Ciao\r\nBcc: spia@example.test";
	assert_int_equal(pg_notice_build(k, &in, &msg, &len, err, sizeof(err)), PG_OK);
	s = classify(alfa, msg, len);
	assert_int_equal(pg_scan_class(s), PG_CLASS_PEC_RECEIPT);
	assert_null(pg_msg_header(pg_scan_message(s), "Bcc"));
	assert_null(memmem(msg, len, "\nBcc:", 5));
	pg_scan_free(s);
	free(msg);

	/* missing data is refused, not guessed */
	in.msgid = NULL;
	msg = NULL;
	assert_int_equal(pg_notice_build(k, &in, &msg, &len, err, sizeof(err)), PG_ERR_INVALID);
	assert_null(msg);

	pg_engine_free(alfa);
	pg_notice_key_free(k);
}

/* Without a key the envelope is still held, and there is no notice. */
static void test_no_key_no_notice(void **state_)
{
	(void)state_;
	pg_engine *beta = beta_engine(false, NULL, NULL, PG_OK);
	size_t len;
	char *env = slurp("messages/env-alfa-eicar.eml", &len);
	pg_scan *s = classify(beta, env, len);
	assert_int_equal(pg_scan_action(s), PG_ACTION_QUARANTINE);
	pg_notice *n = (pg_notice *)1;
	assert_int_equal(pg_scan_virus_notice(s, NULL, 0, &n), PG_OK);
	assert_null(n);
	pg_scan_free(s);
	free(env);
	pg_engine_free(beta);
}

/* Only for a valid envelope held for a virus. */
static void test_only_for_infected_envelopes(void **state_)
{
	(void)state_;
	pg_engine *beta = beta_engine(true, "beta.pem", "beta.key", PG_OK);
	const char *names[2] = {"messages/env-alfa-text.eml", "messages/tamper-body-byte.eml"};
	for (int i = 0; i < 2; i++) {
		size_t len;
		char *d = slurp(names[i], &len);
		pg_scan *s = classify(beta, d, len);
		pg_notice *n = NULL;
		assert_int_equal(pg_scan_virus_notice(s, NULL, 0, &n), PG_ERR_INVALID);
		assert_null(n);
		pg_scan_free(s);
		free(d);
	}
	pg_engine_free(beta);
}

/* Configuration: cert and key together, and matching. */
static void test_key_configuration(void **state_)
{
	(void)state_;
	pg_engine *e = beta_engine(true, "beta.pem", NULL, PG_ERR_CONFIG);
	assert_non_null(strstr(pg_engine_errmsg(e), "go together"));
	pg_engine_free(e);
	e = beta_engine(true, "beta.pem", "alfa.key", PG_ERR_CONFIG);
	assert_non_null(strstr(pg_engine_errmsg(e), "does not belong"));
	pg_engine_free(e);
	e = beta_engine(true, "beta.pem", "missing.key", PG_ERR_CONFIG);
	assert_non_null(strstr(pg_engine_errmsg(e), "missing.key"));
	pg_engine_free(e);
}

int main(void)
{
	const char *f = getenv("PG_FIXTURES"), *d = getenv("PG_AVDB");
	if (f == NULL || d == NULL) {
		printf("SKIP: PG_FIXTURES and PG_AVDB needed\n");
		return 77;
	}
	snprintf(fx, sizeof(fx), "%s", f);
	snprintf(avdb, sizeof(avdb), "%s", d);
	snprintf(state, sizeof(state), "/tmp/pg-test-notice-XXXXXX");
	if (mkdtemp(state) == NULL)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notice_is_valid_receipt),
		cmocka_unit_test(test_tampered_notice_invalid),
		cmocka_unit_test(test_special_characters_round_trip),
		cmocka_unit_test(test_no_key_no_notice),
		cmocka_unit_test(test_only_for_infected_envelopes),
		cmocka_unit_test(test_key_configuration),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	rm_rf(state);
	return r;
}
