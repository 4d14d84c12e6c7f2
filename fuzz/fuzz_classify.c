/*
 * fuzz_classify.c - parse + classify, the whole path of a message.
 *
 * The engine loads a providers' index made with the project's test PKI, so
 * that mutated copies of signed envelopes reach the signature, index,
 * daticert and postacert checks.  Every result is rendered as JSON, which
 * walks every string the classifier produced.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"
#include "pecguard.h"

#ifndef PG_FUZZ_DATA_DIR
#define PG_FUZZ_DATA_DIR "fuzz"
#endif

static pg_engine *engine(void)
{
	static pg_engine *eng;
	if (eng == NULL) {
		if (pg_engine_new(&eng) != PG_OK)
			abort();
		if (pg_engine_set_limits(eng, &pg_fuzz_limits) != PG_OK)
			abort();
		if (pg_engine_load_providers(eng, PG_FUZZ_DATA_DIR "/classify-index.ldif") != PG_OK)
			abort();
	}
	return eng;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pg_scan *s = pg_fuzz_scan(engine(), data, size);
	/* Touch the content as later analysers will. */
	const pg_msg *m = pg_scan_content(s);
	if (m != NULL) {
		for (size_t i = 0; i < pg_msg_part_count(m); i++) {
			size_t n;
			(void)pg_part_content(pg_msg_part(m, i), &n);
			(void)pg_part_raw(pg_msg_part(m, i), &n);
		}
	}
	pg_scan_free(s);
	return 0;
}
