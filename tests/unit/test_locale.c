/* Unit tests: util/clocale.c - the library's numbers in the C locale
 * whatever locale the host program set.
 *
 * A program that links libpecguard and calls setlocale() for Italian (as
 * an Italian provider's tool well may) would otherwise read "2.5" in the
 * configuration as 2, and write "score":2,25 (invalid JSON) and
 * "X-Spam-Score: 2,2" (unreadable to Sieve rules).  The Italian locale is
 * compiled by the fixture locale.generate (localedef) into LOCPATH; without
 * it the test is skipped. */
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pecguard.h"
#include "rmtree.h"

static const char message[] = "From: Mario <mario@example.test>\r\n"
			      "To: alice@example.test\r\n"
			      "Subject: prova\r\n"
			      "Message-ID: <l1@example.test>\r\n"
			      "MIME-Version: 1.0\r\n"
			      "Content-Type: text/html; charset=utf-8\r\n\r\n"
			      "<html><body><p>Ciao</p></body></html>\r\n";

static void italian_numbers_stay_c(void **state)
{
	(void)state;
	char sanity[32];
	snprintf(sanity, sizeof sanity, "%.2f", 2.25);
	assert_string_equal(sanity, "2,25"); /* the host's locale is in force */

	char dir[] = "/tmp/pg-locale.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char state_dir[64];
	snprintf(state_dir, sizeof state_dir, "state_dir=%s", dir);
	/* HDR_DATE_MISSING 1 + HTML_ONLY 0.5 + HTML_TINY_TEXT 0.5 = 2, under
	 * an add_header threshold of 2.5: no action.  Read as 2, the same
	 * threshold would flag it. */
	const char *ov[] = {state_dir, "providers=", "antivirus.backend=none",
			    "scoring.add_header=2.5"};
	pg_engine *eng = NULL;
	assert_int_equal(pg_engine_new(&eng), PG_OK);
	if (pg_engine_configure(eng, NULL, ov, sizeof ov / sizeof ov[0]) != PG_OK)
		fail_msg("configure: %s", pg_engine_errmsg(eng));
	pg_scan *s = NULL;
	assert_int_equal(pg_scan_new(eng, &s), PG_OK);
	assert_int_equal(pg_scan_run_buffer(s, message, sizeof message - 1), PG_OK);
	assert_int_equal(pg_scan_action(s), PG_ACTION_NONE);
	char *j = pg_scan_json(s, "m.eml");
	assert_non_null(j);
	if (strstr(j, "\"score\":2.00,") == NULL || strstr(j, "\"weight\":0.50") == NULL)
		fail_msg("JSON numbers not in the C locale: %.400s", j);
	free(j);
	const char *score = NULL;
	for (size_t i = 0; i < pg_scan_header_count(s); i++) {
		const char *v = NULL;
		const char *n = pg_scan_header(s, i, &v);
		if (strcmp(n, "X-Spam-Score") == 0)
			score = v;
		if (strcmp(n, "X-Spam-Status") == 0 && strchr(v, ',') != NULL &&
		    strstr(v, "score=2.0") == NULL)
			fail_msg("X-Spam-Status: %s", v);
	}
	assert_non_null(score);
	assert_string_equal(score, "2.0");
	pg_scan_free(s);
	pg_engine_free(eng);
	rm_rf(dir);
	/* and the host's locale is the host's again */
	snprintf(sanity, sizeof sanity, "%.1f", 0.5);
	assert_string_equal(sanity, "0,5");
}

int main(void)
{
	if (setlocale(LC_ALL, "it_IT.UTF-8") == NULL) {
		printf("SKIP: locale it_IT.UTF-8 not available (LOCPATH=%s)\n",
		       getenv("LOCPATH") ? getenv("LOCPATH") : "");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(italian_numbers_stay_c),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
