/*
 * bench_scan - throughput of the whole scan (parse, classify, antivirus,
 * analysers, decision) on one thread, with the stage breakdown.
 *
 * usage: bench_scan [--runs N] [--threads N] [--config FILE] [--set NAME=VALUE]... PATH...
 *
 * Messages are loaded into memory first (mboxes split as the CLI does).
 * Each run scans them all once; the median run is reported as messages/s
 * and MB/s of wall time and of this thread's CPU time (they differ when a
 * stage waits for clamd), with the CPU time of each stage per message
 * (reading the thread's CPU clock around each stage costs ~18 system calls
 * a message, ~2% of the whole; the threaded runs do not time stages).
 * With --threads N the messages are shared by N threads scanning at once
 * on one engine (as the milter does): each thread takes the next batch of
 * messages when it is free, so a thread slowed down by the machine does not
 * leave the other idle at the end; wall time is what counts then.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/input.h"
#include "corpus.h"
#include "engine/engine.h"

static double now(clockid_t id)
{
	struct timespec t;
	clock_gettime(id, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct run {
	double wall, cpu;
	uint64_t stage[PG_STAGES_MAX];
};

#define BATCH 16 /* messages a thread takes at a time */

struct worker {
	pg_engine *eng;
	struct corpus *c;
	atomic_size_t *next; /* first message nobody has taken yet */
};

static void *work(void *arg)
{
	struct worker *w = arg;
	for (;;) {
		size_t from = atomic_fetch_add(w->next, BATCH);
		if (from >= w->c->n)
			break;
		size_t to = from + BATCH < w->c->n ? from + BATCH : w->c->n;
		for (size_t i = from; i < to; i++) {
			pg_scan *s;
			if (pg_scan_new(w->eng, &s) != PG_OK)
				abort();
			pg_status st = pg_scan_run_buffer(s, w->c->data[i], w->c->len[i]);
			(void)st;
			pg_scan_free(s);
		}
	}
	return NULL;
}

static int cmp_run(const void *a, const void *b)
{
	double x = ((const struct run *)a)->wall, y = ((const struct run *)b)->wall;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"runs", required_argument, NULL, 'r'},
		{"threads", required_argument, NULL, 't'},
		{"config", required_argument, NULL, 'c'},
		{"set", required_argument, NULL, 'o'},
		{NULL, 0, NULL, 0},
	};
	int runs = 5, threads = 1, o;
	const char *config = NULL;
	const char *ov[64];
	size_t nov = 0;
	while ((o = getopt_long(argc, argv, "r:t:c:o:", opts, NULL)) != -1) {
		if (o == 'r')
			runs = atoi(optarg);
		else if (o == 't')
			threads = atoi(optarg);
		else if (o == 'c')
			config = optarg;
		else if (o == 'o' && nov < 64)
			ov[nov++] = optarg;
		else
			goto usage;
	}
	if (runs < 1 || runs > 1000 || threads < 1 || threads > 64 || optind >= argc)
		goto usage;
	pg_engine *eng;
	if (pg_engine_new(&eng) != PG_OK)
		return 4;
	if (pg_engine_configure(eng, config, ov, nov) != PG_OK) {
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
	if (threads > 1) {
		/* Warm up (caches, Bayes' counts), then time all threads. */
		atomic_size_t next = 0;
		struct worker w0 = {eng, &c, &next};
		work(&w0);
		double *walls = calloc((size_t)runs, sizeof(double));
		for (int r = 0; r < runs; r++) {
			pthread_t th[64];
			struct worker ws[64];
			atomic_store(&next, 0);
			double w0t = now(CLOCK_MONOTONIC);
			for (int k = 0; k < threads; k++) {
				ws[k] = (struct worker){eng, &c, &next};
				pthread_create(&th[k], NULL, work, &ws[k]);
			}
			for (int k = 0; k < threads; k++)
				pthread_join(th[k], NULL);
			walls[r] = now(CLOCK_MONOTONIC) - w0t;
			fprintf(stderr, "run %d: %.3f s wall, %.0f msg/s\n", r + 1, walls[r],
				(double)c.n / walls[r]);
		}
		for (int i = 1; i < runs; i++)
			for (int j = i; j > 0 && walls[j] < walls[j - 1]; j--) {
				double t = walls[j];
				walls[j] = walls[j - 1];
				walls[j - 1] = t;
			}
		double med = walls[runs / 2];
		printf("messages %zu, %.2f MB, antivirus %s, %d threads, runs %d (median shown)\n",
		       c.n, (double)c.bytes / 1e6, pg_engine_av_backend(eng), threads, runs);
		printf("wall: %.0f messages/s, %.2f MB/s (all threads)\n", (double)c.n / med,
		       (double)c.bytes / 1e6 / med);
		free(walls);
		pg_engine_free(eng);
		return 0;
	}
	/* One untimed pass first: steady state (Bayes' in-memory counts are
	 * built on first use and then kept, as in a running milter). */
	{
		atomic_size_t next = 0;
		struct worker w0 = {eng, &c, &next};
		work(&w0);
	}
	struct run *rr = calloc((size_t)runs, sizeof(*rr));
	size_t actions[PG_ACTION_COUNT] = {0}, classes[PG_CLASS_COUNT] = {0};
	size_t nan = 0;
	const char *names[PG_STAGES_MAX] = {"parse", "classify", "antivirus", "text"};
	for (int r = 0; r < runs; r++) {
		double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_THREAD_CPUTIME_ID);
		for (size_t i = 0; i < c.n; i++) {
			pg_scan *s;
			if (pg_scan_new(eng, &s) != PG_OK)
				return 4;
			s->time_stages = true;
			pg_status st = pg_scan_run_buffer(s, c.data[i], c.len[i]);
			(void)st; /* limits give a verdict too */
			for (int k = 0; k < PG_STAGES_MAX; k++)
				rr[r].stage[k] += s->stage_ns[k];
			if (r == 0) {
				actions[pg_scan_action(s)]++;
				classes[pg_scan_class(s)]++;
				if (s->rt->comp) {
					nan = s->rt->comp->nanalysers;
					for (size_t k = 0;
					     k < nan && PG_STAGE_ANALYSERS + k < PG_STAGES_MAX; k++)
						names[PG_STAGE_ANALYSERS + k] =
							s->rt->comp->analysers[k]->name;
				}
			}
			pg_scan_free(s);
		}
		rr[r].wall = now(CLOCK_MONOTONIC) - w0;
		rr[r].cpu = now(CLOCK_THREAD_CPUTIME_ID) - c0;
		fprintf(stderr, "run %d: %.3f s wall, %.3f s CPU, %.0f msg/s\n", r + 1, rr[r].wall,
			rr[r].cpu, (double)c.n / rr[r].wall);
	}
	qsort(rr, (size_t)runs, sizeof(*rr), cmp_run);
	struct run *m = &rr[runs / 2];
	double mb = (double)c.bytes / 1e6;
	printf("messages %zu, %.2f MB, antivirus %s, runs %d (median shown)\n", c.n, mb,
	       pg_engine_av_backend(eng), runs);
	printf("classes:");
	for (int k = 0; k < PG_CLASS_COUNT; k++)
		if (classes[k])
			printf(" %s=%zu", pg_class_name((pg_class)k), classes[k]);
	printf("\nactions:");
	for (int k = 0; k < PG_ACTION_COUNT; k++)
		if (actions[k])
			printf(" %s=%zu", pg_action_name((pg_action)k), actions[k]);
	printf("\nwall: %.0f messages/s, %.2f MB/s, %.1f us/message\n", (double)c.n / m->wall,
	       mb / m->wall, 1e6 * m->wall / (double)c.n);
	printf("cpu:  %.0f messages/s, %.2f MB/s, %.1f us/message (this thread)\n",
	       (double)c.n / m->cpu, mb / m->cpu, 1e6 * m->cpu / (double)c.n);
	printf("stages (CPU us/message):");
	for (size_t k = 0; k < PG_STAGE_ANALYSERS + nan && k < PG_STAGES_MAX; k++)
		printf(" %s %.1f", names[k], (double)m->stage[k] / 1e3 / (double)c.n);
	printf("\n");
	corpus_free(&c);
	free(rr);
	pg_engine_free(eng);
	return 0;
usage:
	fprintf(stderr,
		"usage: bench_scan [--runs N] [--threads N] [--config FILE] [--set NAME=VALUE]... "
		"PATH...\n");
	return 2;
}
