/*
 * bench_classify - throughput of parse + classify on one core.
 *
 * usage: bench_classify [--runs N] [--providers FILE] [--at TIME] PATH...
 *
 * Loads every message under PATH into memory first (mboxes split, as the
 * CLI does), then classifies them all N times on the calling thread and
 * prints, per run and as the median, messages/s and MB/s.  Reading files
 * is not timed: this measures the library, not the disk.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/input.h"
#include "corpus.h"
#include "pecguard.h"
#include "util/ptime.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"runs", required_argument, NULL, 'r'},
		{"providers", required_argument, NULL, 'p'},
		{"at", required_argument, NULL, 't'},
		{NULL, 0, NULL, 0},
	};
	int runs = 5, o;
	const char *providers = NULL;
	pg_time_mode mode = PG_TIME_NOW;
	int64_t at = 0;
	while ((o = getopt_long(argc, argv, "r:p:t:", opts, NULL)) != -1) {
		if (o == 'r')
			runs = atoi(optarg);
		else if (o == 'p')
			providers = optarg;
		else if (o == 't' && strcmp(optarg, "signing-time") == 0)
			mode = PG_TIME_SIGNING;
		else if (o == 't' && pg_time_parse_iso8601(optarg, &at) == 0)
			mode = PG_TIME_FIXED;
		else {
			fprintf(stderr, "usage: bench_classify [--runs N] [--providers FILE] [--at "
					"TIME] PATH...\n");
			return 2;
		}
	}
	if (runs < 1 || runs > 1000 || optind >= argc) {
		fprintf(stderr, "usage: bench_classify [--runs N] [--providers FILE] [--at TIME] "
				"PATH...\n");
		return 2;
	}
	pg_engine *eng;
	if (pg_engine_new(&eng) != PG_OK)
		return 4;
	if (providers && pg_engine_load_providers(eng, providers) != PG_OK) {
		fprintf(stderr, "bench: %s\n", pg_engine_errmsg(eng));
		return 3;
	}
	struct corpus c = {0};
	for (int i = optind; i < argc; i++)
		if (pg_input_walk(argv[i], 64u << 20, corpus_collect, &c) != 0)
			return 4;
	if (c.n == 0) {
		fprintf(stderr, "bench: no messages\n");
		return 1;
	}
	double *rate = calloc((size_t)runs, sizeof(double));
	size_t classes[PG_CLASS_COUNT] = {0};
	for (int r = 0; r < runs; r++) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
		for (size_t i = 0; i < c.n; i++) {
			pg_scan *s;
			if (pg_scan_new(eng, &s) != PG_OK)
				return 4;
			pg_scan_set_time(s, mode, at);
			pg_status st = pg_scan_run_buffer(s, c.data[i], c.len[i]);
			(void)st; /* limits give a class too */
			if (r == 0)
				classes[pg_scan_class(s)]++;
			pg_scan_free(s);
		}
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
		double secs =
			(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		rate[r] = (double)c.n / secs;
		fprintf(stderr, "run %d: %.3f s CPU, %.0f msg/s, %.2f MB/s\n", r + 1, secs, rate[r],
			(double)c.bytes / 1e6 / secs);
	}
	qsort(rate, (size_t)runs, sizeof(double), cmp_double);
	double med = runs % 2 ? rate[runs / 2] : (rate[runs / 2 - 1] + rate[runs / 2]) / 2;
	double mb = med * ((double)c.bytes / (double)c.n) / 1e6;
	printf("messages %zu, bytes %zu (%.2f MB), runs %d\n", c.n, c.bytes, (double)c.bytes / 1e6,
	       runs);
	printf("classes:");
	for (int k = 0; k < PG_CLASS_COUNT; k++)
		if (classes[k])
			printf(" %s=%zu", pg_class_name((pg_class)k), classes[k]);
	printf("\nmedian: %.0f messages/s, %.2f MB/s, %.1f us/message (one core, CPU time)\n", med,
	       mb, 1e6 / med);
	corpus_free(&c);
	free(rate);
	pg_engine_free(eng);
	return 0;
}
