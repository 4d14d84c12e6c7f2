/*
 * fuzz_policymap.c - the per-mailbox policy map file.
 *
 * The input is a map file ("KEY POLICY" lines, '#' comments).  One that
 * parses is looked up with fixed addresses and with every key of its own
 * lines, in the forms Postfix hands over ("<a@b>", upper case, a domain):
 * the answer must be one of the policies.  A refused one must say why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/policymap.h"

static void lookup(const pg_policymap *m, const char *rcpt)
{
	pg_mailbox_policy p = pg_policymap_lookup(m, rcpt);
	if (pg_mailbox_policy_name(p) == NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pg_policymap *m = NULL;
	char err[512] = "";
	pg_status st = pg_policymap_parse((const char *)data, size, "fuzz", &m, err, sizeof(err));
	if (st != PG_OK) {
		if (err[0] == '\0' && st != PG_ERR_NOMEM)
			abort(); /* a refusal names the line and the reason */
		return 0;
	}
	static const char *const fixed[] = {"",
					    "<>",
					    "a@b",
					    "<MARIO.ROSSI@PEC.EXAMPLE.IT>",
					    "@",
					    "x@@y",
					    "user@pec.tribunale.example.it"};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		lookup(m, fixed[i]);
	/* Each line's first word, as given and in brackets. */
	char key[600];
	size_t i = 0;
	while (i < size) {
		while (i < size && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n'))
			i++;
		size_t n = 0;
		while (i < size && data[i] != ' ' && data[i] != '\t' && data[i] != '\n' &&
		       n < 256) {
			key[n++] = data[i] == '\0' ? '?' : (char)data[i];
			i++;
		}
		key[n] = '\0';
		lookup(m, key);
		char br[600];
		br[0] = '<';
		memcpy(br + 1, key, n);
		br[n + 1] = '>';
		br[n + 2] = '\0';
		lookup(m, br);
		while (i < size && data[i] != '\n')
			i++;
	}
	pg_policymap_free(m);
	return 0;
}
