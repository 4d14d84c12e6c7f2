/*
 * test_policymap.c - the per-mailbox policy map: parsing, lookups, errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine/policymap.h"

static pg_policymap *parse_ok(const char *text)
{
	pg_policymap *m = NULL;
	char err[256] = "";
	pg_status st = pg_policymap_parse(text, strlen(text), "map", &m, err, sizeof(err));
	if (st != PG_OK)
		fprintf(stderr, "refused: %s\n", err);
	assert_int_equal(st, PG_OK);
	assert_non_null(m);
	return m;
}

static void parse_refused(const char *text, const char *msg)
{
	pg_policymap *m = NULL;
	char err[256] = "";
	assert_int_equal(pg_policymap_parse(text, strlen(text), "map", &m, err, sizeof(err)),
			 PG_ERR_CONFIG);
	assert_null(m);
	if (strstr(err, msg) == NULL) {
		fprintf(stderr, "expected \"%s\" in \"%s\"\n", msg, err);
		fail();
	}
}

static void lookups(void **state)
{
	(void)state;
	pg_policymap *m = parse_ok("# PEC-only mailboxes\n"
				   "mario.rossi@pec.comune.example.it   pec-only\n"
				   "@pec.tribunale.example.it           pec-only\n"
				   "protocollo@pec.tribunale.example.it accept   # an exception\n"
				   "\n"
				   "   Ufficio.Tecnico@PEC.Provincia.Example.IT\tpec-only\r\n"
				   "pec.regione.example.it pec-only\n");
	assert_int_equal(pg_policymap_count(m), 5);
	/* exact address, any case, with or without Postfix's brackets */
	assert_int_equal(pg_policymap_lookup(m, "mario.rossi@pec.comune.example.it"),
			 PG_POLICY_PEC_ONLY);
	assert_int_equal(pg_policymap_lookup(m, "<Mario.Rossi@PEC.comune.example.it>"),
			 PG_POLICY_PEC_ONLY);
	assert_int_equal(pg_policymap_lookup(m, "ufficio.tecnico@pec.provincia.example.it"),
			 PG_POLICY_PEC_ONLY);
	/* a domain entry, with or without '@', covers its mailboxes */
	assert_int_equal(pg_policymap_lookup(m, "cancelleria@pec.tribunale.example.it"),
			 PG_POLICY_PEC_ONLY);
	assert_int_equal(pg_policymap_lookup(m, "x@pec.regione.example.it"), PG_POLICY_PEC_ONLY);
	/* an address entry beats its domain's */
	assert_int_equal(pg_policymap_lookup(m, "protocollo@pec.tribunale.example.it"),
			 PG_POLICY_ACCEPT);
	/* not listed: accept; a neighbour of a listed address is not it */
	assert_int_equal(pg_policymap_lookup(m, "luigi@pec.comune.example.it"), PG_POLICY_ACCEPT);
	assert_int_equal(pg_policymap_lookup(m, "x@sub.pec.tribunale.example.it"),
			 PG_POLICY_ACCEPT);
	assert_int_equal(pg_policymap_lookup(m, ""), PG_POLICY_ACCEPT);
	assert_int_equal(pg_policymap_lookup(m, "<>"), PG_POLICY_ACCEPT);
	pg_policymap_free(m);
}

/* The same mailbox written otherwise gets the same policy: an address
 * extension (Postfix's recipient_delimiter, which Debian's Postfix sets to
 * "+": carol+x@ is delivered to carol@), a quoted local part, a trailing
 * dot on the domain.  Without these, mail to carol+x@ bypassed a PEC-only
 * carol@. */
static void same_mailbox_other_spellings(void **state)
{
	(void)state;
	pg_policymap *m = parse_ok("carol@pec.alfa.test pec-only\n"
				   "carol+ok@pec.alfa.test accept\n"
				   "@pec.beta.test pec-only\n"
				   "protocollo@pec.beta.test accept\n");
	/* no delimiter configured: the extension is part of the address */
	assert_int_equal(pg_policymap_lookup(m, "carol+x@pec.alfa.test"), PG_POLICY_ACCEPT);
	pg_policymap_set_delimiters(m, "+-");
	assert_int_equal(pg_policymap_lookup(m, "carol+x@pec.alfa.test"), PG_POLICY_PEC_ONLY);
	assert_int_equal(pg_policymap_lookup(m, "<Carol-News@PEC.ALFA.TEST>"), PG_POLICY_PEC_ONLY);
	assert_int_equal(pg_policymap_lookup(m, "carol+a+b@pec.alfa.test"), PG_POLICY_PEC_ONLY);
	/* a listed address with its extension is taken as it is */
	assert_int_equal(pg_policymap_lookup(m, "carol+ok@pec.alfa.test"), PG_POLICY_ACCEPT);
	/* the exception's extension keeps the exception, others the domain's */
	assert_int_equal(pg_policymap_lookup(m, "protocollo+x@pec.beta.test"), PG_POLICY_ACCEPT);
	assert_int_equal(pg_policymap_lookup(m, "acquisti+x@pec.beta.test"), PG_POLICY_PEC_ONLY);
	/* quoting and a trailing dot */
	assert_int_equal(pg_policymap_lookup(m, "\"carol\"@pec.alfa.test"), PG_POLICY_PEC_ONLY);
	assert_int_equal(pg_policymap_lookup(m, "\"car\\ol\"@pec.alfa.test"), PG_POLICY_PEC_ONLY);
	assert_int_equal(pg_policymap_lookup(m, "carol@pec.alfa.test."), PG_POLICY_PEC_ONLY);
	assert_int_equal(pg_policymap_lookup(m, "<x@pec.beta.test.>"), PG_POLICY_PEC_ONLY);
	/* a delimiter first is no extension; a neighbour is still not carol */
	assert_int_equal(pg_policymap_lookup(m, "+carol@pec.alfa.test"), PG_POLICY_ACCEPT);
	assert_int_equal(pg_policymap_lookup(m, "carola@pec.alfa.test"), PG_POLICY_ACCEPT);
	pg_policymap_free(m);
}

/* An empty map, or one of comments only, is valid: every mailbox accepts.
 * (fuzz_policymap found that an empty map handed qsort a NULL array.) */
static void empty_maps(void **state)
{
	(void)state;
	const char *texts[] = {"", "\n\n", "# nothing yet\n   # still nothing\n"};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		pg_policymap *m = parse_ok(texts[i]);
		assert_int_equal(pg_policymap_count(m), 0);
		assert_int_equal(pg_policymap_lookup(m, "a@b.example"), PG_POLICY_ACCEPT);
		pg_policymap_free(m);
	}
}

static void errors(void **state)
{
	(void)state;
	parse_refused("a@b.example pec-only\nc@d.example maybe\n", "map:2: unknown policy 'maybe'");
	parse_refused("a@b.example\n", "map:1:");
	parse_refused("not an address pec-only\n", "map:1:");
	parse_refused("a@b.example pec-only\nA@B.example accept\n", "two policies");
	/* the same entry twice with the same policy is harmless */
	pg_policymap *m = parse_ok("a@b.example pec-only\nA@B.EXAMPLE pec-only\n");
	assert_int_equal(pg_policymap_lookup(m, "a@b.example"), PG_POLICY_PEC_ONLY);
	pg_policymap_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lookups),
		cmocka_unit_test(same_mailbox_other_spellings),
		cmocka_unit_test(empty_maps),
		cmocka_unit_test(errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
