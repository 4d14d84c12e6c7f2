/*
 * fuzz_daticert.c - libFuzzer target for pg_daticert_parse().
 *
 * Every input is parsed with a fresh arena.  Besides crashes, leaks and
 * undefined behaviour, the target checks the promises of daticert.h, so
 * that the fuzzer also finds inputs that break them: on success every
 * required field is set and readable, the type is a known one, strings are
 * valid UTF-8 without surrounding white space; on failure there is a
 * message and no result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "pec/daticert.h"
#include "util/str.h"

static void check_str(const char *s, int required)
{
	if (s == NULL) {
		if (required)
			abort();
		return;
	}
	size_t n = strlen(s);
	if (!pg_utf8_valid(s, n))
		abort();
	if (n > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\r' || s[0] == '\n' ||
		      s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		abort();
}

/* libxml2 2.9 reports encoding-conversion errors without a parser
 * context, through its generic handler, which prints to stderr: a flood
 * that slows the fuzzer down.  The harness owns its process and may
 * silence it; the library must not (the engine owns that choice). */
static void quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	xmlInitParser();
	xmlSetGenericErrorFunc(NULL, quiet);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* replay.c does not call LLVMFuzzerInitialize(); xmlInitParser() is
	 * idempotent and cheap once done. */
	xmlInitParser();
	pg_arena *a = pg_arena_new();
	if (a == NULL)
		return 0;
	pg_daticert *d = (pg_daticert *)(uintptr_t)1; /* must be reset */
	char err[128];
	pg_status st = pg_daticert_parse(a, data, size, &d, err, sizeof(err));
	if (st == PG_OK) {
		if (d == NULL || !pg_daticert_tipo_known(d->tipo) || d->ndest == 0 ||
		    d->dest == NULL || d->mittente[0] == '\0' || d->gestore[0] == '\0' ||
		    d->identificativo[0] == '\0')
			abort();
		check_str(d->tipo, 1);
		check_str(d->errore, 1);
		check_str(d->mittente, 1);
		check_str(d->risposte, 0);
		check_str(d->oggetto, 0);
		check_str(d->gestore, 1);
		check_str(d->zona, 0);
		check_str(d->giorno, 0);
		check_str(d->ora, 0);
		check_str(d->identificativo, 1);
		check_str(d->msgid, 0);
		check_str(d->ricevuta, 0);
		check_str(d->consegna, 0);
		check_str(d->errore_esteso, 0);
		for (size_t i = 0; i < d->ndest; i++) {
			check_str(d->dest[i].addr, 1);
			check_str(d->dest[i].tipo, 1);
			if (d->dest[i].addr[0] == '\0')
				abort();
		}
		if (d->time < -1 ||
		    (d->time != -1 && (d->zona == NULL || d->giorno == NULL || d->ora == NULL)))
			abort();
	} else {
		if (d != NULL || err[0] == '\0' || strlen(err) >= sizeof(err))
			abort();
		if (!pg_utf8_valid(err, strlen(err)))
			abort();
		for (const char *p = err; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f ||
			    ((unsigned char)p[0] == 0xC2 && (unsigned char)p[1] < 0xA0))
				abort();
	}
	pg_arena_free(a);
	return 0;
}
