/*
 * fuzz_text.c - the text of a message: charset fast paths and the HTML
 * renderer, on the input parsed as a message and wrapped as an HTML body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mime/msg.h"
#include "mime/text.h"

static void run(const char *d, size_t n)
{
	pg_arena *a = pg_arena_new();
	if (a == NULL)
		abort();
	unsigned budget = pg_fuzz_limits.max_parts;
	pg_msg *m = NULL;
	char err[256];
	if (pg_msg_parse(a, d, n, &pg_fuzz_limits, 0, &budget, &m, err, sizeof(err)) == PG_OK) {
		const pg_text *t = pg_msg_text(m);
		if (t != NULL) {
			size_t fl;
			(void)pg_text_fold(a, t->all, t->all_len, &fl);
		}
	}
	pg_arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		g_mime_init();
		ready = 1;
	}
	run((const char *)data, size);
	/* the same bytes as the HTML body of a message, in Windows-1252 */
	static const char head[] = "Content-Type: text/html; charset=windows-1252\n\n";
	char *m = malloc(sizeof(head) + size);
	if (m == NULL)
		abort();
	memcpy(m, head, sizeof(head) - 1);
	memcpy(m + sizeof(head) - 1, data, size);
	run(m, sizeof(head) - 1 + size);
	free(m);
	return 0;
}
