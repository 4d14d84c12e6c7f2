/*
 * rulestat - how often each rule and header check fires on labelled sets,
 * and what the rules and header analysers cost.
 *
 * usage: rulestat [--config FILE] [--base DIR] [--offenders N] [--threshold T]
 *                 [--runs N] [--show SYMBOL] NAME=LIST...
 *
 * Each LIST is a file of message paths (relative to --base, the shared
 * corpus by default), one per line, as in corpus/splits/; sets whose NAME
 * starts with "ham" are ham, the others spam.  A leading mbox "From " line
 * is dropped.  Messages are parsed and classified as the engine does (with
 * an empty providers' index), then the rules and header analysers run
 * alone.  Prints, per rule/symbol, the hits per set, then per set the
 * messages at or over the threshold, and for ham sets the offenders with
 * their symbols (--show: every message with SYMBOL, and its detail).  Timing is the thread's CPU
 * time, split into parse + classify, text extraction, rules and header, as the median of --runs.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/config.h"
#include "mime/msg.h"
#include "mime/text.h"
#include "pec/classify.h"
#include "pec/providers.h"
#include "scan/analyser.h"
#include "scan/header.h"
#include "scan/rules.h"

struct set {
	const char *name;
	bool ham;
	char **path;
	char **data;
	size_t *len;
	size_t n;
	size_t over;      /* score >= threshold */
	size_t over_half; /* score >= threshold / 2 */
};

struct stat_row {
	char *name;
	size_t *hits; /* per set */
	double weight;
};

static struct stat_row *rows;
static size_t nrows, caprows;
static size_t nsets_g;

static struct stat_row *row(const char *name, double w)
{
	for (size_t i = 0; i < nrows; i++)
		if (strcmp(rows[i].name, name) == 0)
			return &rows[i];
	if (nrows == caprows) {
		caprows = caprows ? caprows * 2 : 256;
		rows = realloc(rows, caprows * sizeof(*rows));
	}
	rows[nrows] = (struct stat_row){strdup(name), calloc(nsets_g, sizeof(size_t)), w};
	return &rows[nrows++];
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	if (b == NULL || fread(b, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(b);
		return NULL;
	}
	fclose(f);
	b[n] = '\0';
	size_t off = 0;
	if (n > 5 && memcmp(b, "From ", 5) == 0) {
		char *nl = memchr(b, '\n', (size_t)n);
		off = nl ? (size_t)(nl - b) + 1 : 0;
	}
	memmove(b, b + off, (size_t)n - off + 1);
	*len = (size_t)n - off;
	return b;
}

static void load_set(struct set *s, const char *base, const char *list)
{
	FILE *f = fopen(list, "r");
	if (f == NULL) {
		perror(list);
		exit(2);
	}
	char line[4096];
	size_t cap = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		char path[8192];
		snprintf(path, sizeof(path), "%s/%s", base, line);
		size_t len;
		char *d = slurp(path, &len);
		if (d == NULL) {
			fprintf(stderr, "rulestat: cannot read %s\n", path);
			continue;
		}
		if (s->n == cap) {
			cap = cap ? cap * 2 : 512;
			s->path = realloc(s->path, cap * sizeof(char *));
			s->data = realloc(s->data, cap * sizeof(char *));
			s->len = realloc(s->len, cap * sizeof(size_t));
		}
		s->path[s->n] = strdup(line);
		s->data[s->n] = d;
		s->len[s->n++] = len;
	}
	fclose(f);
}

static double now_cpu(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"base", required_argument, NULL, 'b'},
					     {"offenders", required_argument, NULL, 'o'},
					     {"threshold", required_argument, NULL, 't'},
					     {"runs", required_argument, NULL, 'r'},
					     {"show", required_argument, NULL, 's'},
					     {NULL, 0, NULL, 0}};
	const char *config = NULL, *base = "/work/shared/corpus", *show = NULL;
	int offenders = 30, runs = 1, o;
	double threshold = 5.0;
	while ((o = getopt_long(argc, argv, "c:b:o:t:r:s:", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			config = optarg;
			break;
		case 'b':
			base = optarg;
			break;
		case 'o':
			offenders = atoi(optarg);
			break;
		case 't':
			threshold = atof(optarg);
			break;
		case 'r':
			runs = atoi(optarg);
			break;
		case 's':
			show = optarg;
			break;
		default:
			return 2;
		}
	}
	if (optind >= argc || runs < 1) {
		fprintf(stderr, "usage: rulestat [--config FILE] [--base DIR] NAME=LIST...\n");
		return 2;
	}
	g_mime_init();
	pg_config *cfg;
	char err[1024];
	if (pg_config_load(config, NULL, 0, &cfg, err, sizeof(err)) != PG_OK) {
		fprintf(stderr, "rulestat: %s\n", err);
		return 2;
	}
	void *rst = NULL, *hst = NULL;
	double t0 = now_cpu();
	if (pg_analyser_rules.init(cfg, &rst, err, sizeof(err)) != PG_OK ||
	    pg_analyser_header.init(cfg, &hst, err, sizeof(err)) != PG_OK) {
		fprintf(stderr, "rulestat: init: %s\n", err);
		return 2;
	}
	fprintf(stderr, "init: %.3f s, %zu rules\n", now_cpu() - t0, pg_rules_count(rst));
	for (size_t i = 0; i < pg_rules_count(rst); i++)
		if (pg_rules_engine_of(rst, pg_rules_name(rst, i)) == PG_RULE_PCRE2)
			fprintf(stderr, "  PCRE2 fallback: %s\n", pg_rules_name(rst, i));
	size_t nsets = (size_t)(argc - optind);
	nsets_g = nsets;
	struct set *sets = calloc(nsets, sizeof(*sets));
	size_t total = 0, bytes = 0;
	for (size_t i = 0; i < nsets; i++) {
		char *arg = argv[optind + (int)i];
		char *eq = strchr(arg, '=');
		if (eq == NULL) {
			fprintf(stderr, "rulestat: NAME=LIST expected: %s\n", arg);
			return 2;
		}
		*eq = '\0';
		sets[i].name = arg;
		sets[i].ham = strncmp(arg, "ham", 3) == 0;
		load_set(&sets[i], base, eq + 1);
		total += sets[i].n;
		for (size_t k = 0; k < sets[i].n; k++)
			bytes += sets[i].len[k];
	}
	size_t nr = pg_rules_count(rst);
	for (size_t i = 0; i < nr; i++)
		row(pg_rules_name(rst, i), pg_rules_weight(rst, i));
	pg_providers *idx;
	if (pg_providers_new_empty(&idx) != PG_OK)
		return 4;
	pg_limits lim = {.max_message_size = 64u << 20,
			 .max_header_field = 64u << 10,
			 .max_header_block = 1u << 20,
			 .max_depth = 32,
			 .max_parts = 1000};
	bool *fired = calloc(nr ? nr : 1, sizeof(bool));
	double *tparse = calloc((size_t)runs, sizeof(double)),
	       *ttext = calloc((size_t)runs, sizeof(double)),
	       *trules = calloc((size_t)runs, sizeof(double)),
	       *thead = calloc((size_t)runs, sizeof(double));
	int64_t now = (int64_t)time(NULL);
	for (int run = 0; run < runs; run++) {
		for (size_t si = 0; si < nsets; si++) {
			struct set *s = &sets[si];
			for (size_t m = 0; m < s->n; m++) {
				double a0 = now_cpu();
				pg_arena *arena = pg_arena_new();
				unsigned budget = lim.max_parts;
				pg_msg *msg;
				if (pg_msg_parse(arena, s->data[m], s->len[m], &lim, 0, &budget,
						 &msg, err, sizeof(err)) != PG_OK) {
					pg_arena_free(arena);
					continue;
				}
				pg_classification cls;
				if (pg_classify(arena, msg, idx, PG_TIME_NOW, 0, now, &cls) !=
				    PG_OK)
					return 4;
				double a1 = now_cpu();
				(void)pg_msg_text(msg);
				double a2 = now_cpu();
				pg_symset syms = {.arena = arena};
				pg_actx ax = {.arena = arena,
					      .msg = msg,
					      .top = msg,
					      .cls = &cls,
					      .cfg = cfg,
					      .now = now,
					      .syms = &syms};
				if (pg_analyser_rules.run(&ax, rst) != PG_OK)
					return 4;
				double a3 = now_cpu();
				if (pg_analyser_header.run(&ax, hst) != PG_OK)
					return 4;
				double a4 = now_cpu();
				tparse[run] += a1 - a0;
				ttext[run] += a2 - a1;
				trules[run] += a3 - a2;
				thead[run] += a4 - a3;
				if (run == 0) {
					if (pg_rules_eval(&ax, rst, fired) != PG_OK)
						return 4;
					for (size_t i = 0; i < nr; i++)
						if (fired[i])
							row(pg_rules_name(rst, i), 0)->hits[si]++;
					for (size_t i = 0; i < syms.n; i++)
						if (strncmp(syms.v[i].name, "HDR_", 4) == 0)
							row(syms.v[i].name, syms.v[i].weight)
								->hits[si]++;
					for (size_t i = 0; show && i < syms.n; i++)
						if (strcmp(syms.v[i].name, show) == 0)
							printf("SHOW %s %s: %s\n", s->name,
							       s->path[m],
							       syms.v[i].detail ? syms.v[i].detail
										: "");
					double score = pg_symset_score(&syms);
					if (score >= threshold / 2)
						s->over_half++;
					if (score >= threshold) {
						s->over++;
						if (s->ham && offenders-- > 0) {
							printf("HAM %.1f %s:", score, s->path[m]);
							for (size_t i = 0; i < syms.n; i++)
								printf(" %s(%.1f)", syms.v[i].name,
								       syms.v[i].weight);
							printf("\n");
						}
					}
				}
				pg_arena_free(arena);
			}
		}
	}
	printf("\n%-32s %6s", "rule", "weight");
	for (size_t si = 0; si < nsets; si++)
		printf(" %14s", sets[si].name);
	printf("\n");
	for (size_t r = 0; r < nrows; r++) {
		printf("%-32s %6.2f", rows[r].name, rows[r].weight);
		for (size_t si = 0; si < nsets; si++)
			printf(" %6zu %6.2f%%", rows[r].hits[si],
			       sets[si].n ? 100.0 * (double)rows[r].hits[si] / (double)sets[si].n
					  : 0);
		printf("\n");
	}
	printf("\n%-20s %8s %12s %12s\n", "set", "messages", ">=thr", ">=thr/2");
	for (size_t si = 0; si < nsets; si++)
		printf("%-20s %8zu %6zu %5.2f%% %6zu %5.2f%%\n", sets[si].name, sets[si].n,
		       sets[si].over,
		       100.0 * (double)sets[si].over / (double)(sets[si].n ? sets[si].n : 1),
		       sets[si].over_half,
		       100.0 * (double)sets[si].over_half / (double)(sets[si].n ? sets[si].n : 1));
	qsort(tparse, (size_t)runs, sizeof(double), cmp_d);
	qsort(ttext, (size_t)runs, sizeof(double), cmp_d);
	qsort(trules, (size_t)runs, sizeof(double), cmp_d);
	qsort(thead, (size_t)runs, sizeof(double), cmp_d);
	int mid = runs / 2;
	printf("\n%zu messages, %.1f MB; median of %d run(s), us/message (CPU): parse+classify "
	       "%.1f, "
	       "text %.1f, rules %.1f, header %.1f\n",
	       total, (double)bytes / 1e6, runs, 1e6 * tparse[mid] / (double)total,
	       1e6 * ttext[mid] / (double)total, 1e6 * trules[mid] / (double)total,
	       1e6 * thead[mid] / (double)total);
	pg_analyser_rules.free(rst);
	pg_analyser_header.free(hst);
	pg_providers_unref(idx);
	pg_config_unref(cfg);
	return 0;
}
