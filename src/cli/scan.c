/*
 * pecguard scan - classify messages and print a table or JSON lines.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/input.h"
#include "pecguard.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/ptime.h"
#include "util/str.h"

/* A recipient given with --rcpt: any address text (a quoted local part
 * included), but no control character and valid UTF-8, so that it prints
 * as it is in the table and escaped in JSON. */
static bool rcpt_ok(const char *a)
{
	for (const unsigned char *p = (const unsigned char *)a; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return a[0] != '\0' && pg_utf8_valid(a, strlen(a));
}

struct scan_ctx {
	pg_engine *eng;
	bool json;
	pg_time_mode mode;
	int64_t at;
	size_t max;
	size_t count;
	size_t errors;
	size_t per_class[PG_CLASS_COUNT];
	size_t bytes;
	bool progress;
	struct timespec t0, last;
	int fatal;
	const char *rcpts[64];
	size_t nrcpts;
	bool explain;
};

/* How many of the statistical filter's clues --explain shows in the table
 * (JSON has all of them, up to PG_EXPLAIN_MAX: bayes.max_significant is at
 * most 1000). */
#define EXPLAIN_CLUES  15
#define PG_EXPLAIN_MAX 1000

static void scan_usage(FILE *f)
{
	fprintf(f, "usage: pecguard scan [--json] [--at TIME] [OPTIONS] PATH...\n"
		   "\n"
		   "PATH is a message file, an mbox, a Maildir, a directory (read recursively)\n"
		   "or - for standard input.\n"
		   "\n"
		   "  --json              one JSON object per line per message\n"
		   "  --rcpt ADDRESS      a recipient: show its mailbox policy and whether the\n"
		   "                      message would reach it (repeat for several)\n"
		   "  --explain           why: every symbol with its weight and detail, and the\n"
		   "                      statistical filter's strongest clues (the words,\n"
		   "                      hosts and senders it learned as spam or ham)\n"
		   "  --at TIME           verify signer certificates at TIME: ISO 8601\n"
		   "                      (2014-08-06T12:00:00Z) or 'signing-time' (each\n"
		   "                      message's CMS signing time, else now); default "
		   "now\n" PG_CLI_COMMON_HELP "\n"
		   "Exit status: 0 every message classified; 1 some message could not be read;\n"
		   "2 usage; 3 bad configuration, providers' index or antivirus.\n");
}

static double elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void print_table_header(void)
{
	printf("%-13s %-42s %-18s %-9s %6s %-12s %s\n", "CLASS",
	       "TYPE (invalid-pec: what it claims)", "PROVIDER", "AV", "SCORE", "ACTION",
	       "MESSAGE");
}

static void print_row(const char *path, size_t mbox_index, pg_scan *s)
{
	char where[4096];
	if (mbox_index)
		snprintf(where, sizeof(where), "%s#%zu", path, mbox_index);
	else
		snprintf(where, sizeof(where), "%s", path);
	pg_class c = pg_scan_class(s);
	char type[64];
	if (c == PG_CLASS_INVALID_PEC)
		snprintf(type, sizeof(type), "claims %s%s%s",
			 pg_class_name(pg_scan_claimed_class(s)),
			 pg_scan_claimed_type(s) ? "/" : "",
			 pg_scan_claimed_type(s) ? pg_scan_claimed_type(s) : "");
	else
		snprintf(type, sizeof(type), "%s", pg_scan_pec_type(s) ? pg_scan_pec_type(s) : "-");
	const char *prov = pg_scan_provider(s);
	printf("%-13s %-42s %-18.18s %-9s %6.1f %-12s %s\n", pg_class_name(c), type,
	       prov ? prov : "-", pg_av_state_name(pg_scan_av(s)), pg_scan_score(s),
	       pg_action_name(pg_scan_action(s)), where);
	/* Why, for what is not plainly ordinary or valid: the failed checks,
	 * the viruses, what could not be scanned. */
	if (c == PG_CLASS_INVALID_PEC || pg_scan_status(s) != PG_OK) {
		for (size_t i = 0; i < pg_scan_reason_count(s); i++) {
			const char *r = pg_scan_reason(s, i);
			if (!pg_reason_is_evidence(r))
				printf("%-13s   %s\n", "", r);
		}
	}
	for (size_t i = 0; i < pg_scan_virus_count(s); i++) {
		const char *part;
		const char *v = pg_scan_virus(s, i, &part);
		printf("%-13s   virus %s in %s\n", "", v, part);
	}
	if (pg_scan_av(s) == PG_AV_STATE_TEMPFAIL)
		printf("%-13s   antivirus could not answer: %s\n", "", pg_scan_av_error(s));
}

/* --explain: the statistical filter's clues, strongest first. */
typedef struct clue_row {
	char token[96];
	int64_t nspam, nham;
	double p;
} clue_row;

typedef struct clue_list {
	clue_row v[PG_EXPLAIN_MAX];
	size_t n, max;
} clue_list;

static double strength(double p)
{
	return p > 0.5 ? p - 0.5 : 0.5 - p;
}

/* Keeps the l->max strongest, in order. */
static int on_clue(void *ctx, const char *token, int64_t nspam, int64_t nham, double p)
{
	clue_list *l = ctx;
	size_t i = l->n;
	if (i == l->max) {
		if (strength(p) <= strength(l->v[i - 1].p))
			return 0;
		i--;
	} else {
		l->n++;
	}
	while (i > 0 && strength(l->v[i - 1].p) < strength(p)) {
		l->v[i] = l->v[i - 1];
		i--;
	}
	snprintf(l->v[i].token, sizeof(l->v[i].token), "%s", token);
	l->v[i].nspam = nspam;
	l->v[i].nham = nham;
	l->v[i].p = p;
	return 0;
}

static void print_explain(pg_scan *s, const clue_list *cl, double prob, bool ready)
{
	for (size_t i = 0; i < pg_scan_symbol_count(s); i++) {
		double w;
		const char *d = NULL;
		const char *n = pg_scan_symbol(s, i, &w, &d);
		printf("%-13s   %-28s %6.2f  %s\n", "", n, w, d ? d : "");
	}
	if (!ready)
		return;
	printf("%-13s   statistical filter: probability %.3f; strongest clues:\n", "", prob);
	for (size_t i = 0; i < cl->n && i < EXPLAIN_CLUES; i++)
		printf("%-13s     %.3f  %-40s (learned in %lld spam, %lld ham)\n", "", cl->v[i].p,
		       cl->v[i].token, (long long)cl->v[i].nspam, (long long)cl->v[i].nham);
}

/* "bayes":{"probability":p,"clues":[...]} or null, for --json --explain. */
static char *json_explain(const clue_list *cl, double prob, bool ready)
{
	pg_buf b;
	pg_buf_init(&b, 1 << 20);
	pg_status st = pg_buf_puts(&b, "\"bayes\":");
	if (!ready) {
		if (st == PG_OK)
			st = pg_buf_puts(&b, "null,");
	} else {
		if (st == PG_OK)
			st = pg_buf_printf(&b, "{\"probability\":%.6f,\"clues\":[", prob);
		for (size_t i = 0; i < cl->n && st == PG_OK; i++) {
			st = pg_buf_puts(&b, i ? ",{\"token\":" : "{\"token\":");
			if (st == PG_OK)
				st = pg_json_str(&b, cl->v[i].token);
			if (st == PG_OK)
				st = pg_buf_printf(&b, ",\"spam\":%lld,\"ham\":%lld,\"p\":%.6f}",
						   (long long)cl->v[i].nspam,
						   (long long)cl->v[i].nham, cl->v[i].p);
		}
		if (st == PG_OK)
			st = pg_buf_puts(&b, "]},");
	}
	if (st != PG_OK) {
		pg_buf_free(&b);
		return NULL;
	}
	return b.data;
}

static void print_error_row(const char *path, const char *err)
{
	printf("%-13s %-42s %-18s %-9s %6s %-12s %s\n", "error", "-", "-", "-", "-", "-", path);
	printf("%-13s   %s\n", "", err);
}

/* The JSON line of a message that could not be read: the same fields as a
 * scan's, with class null and the error.  Path and error are escaped as
 * the library escapes strings (a file name need not be UTF-8).  Returns
 * PG_OK or PG_ERR_NOMEM. */
static pg_status json_error(const char *path, size_t mbox_index, const char *err)
{
	pg_buf b;
	pg_buf_init(&b, PG_BUF_UNLIMITED);
	pg_status st = pg_buf_puts(&b, "{\"path\":");
	if (st == PG_OK)
		st = pg_json_str(&b, path);
	if (st == PG_OK && mbox_index)
		st = pg_buf_printf(&b, ",\"mbox_index\":%zu", mbox_index);
	if (st == PG_OK)
		st = pg_buf_puts(&b, ",\"class\":null,\"pec_type\":null,\"claimed\":null,"
				     "\"provider\":null,\"reasons\":[],\"error\":");
	if (st == PG_OK)
		st = pg_json_str(&b, err);
	if (st == PG_OK)
		st = pg_buf_puts(&b, "}\n");
	if (st == PG_OK)
		fputs(b.data, stdout);
	pg_buf_free(&b);
	return st;
}

/* Progress on a terminal is for long runs: nothing before PROGRESS_AFTER
 * seconds, then a line every PROGRESS_EVERY seconds, and the final count
 * only when the run lasted that long too (a short run prints none). */
#define PROGRESS_AFTER 1.0
#define PROGRESS_EVERY 0.5

static void progress(struct scan_ctx *c, bool final)
{
	if (!c->progress)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double t = elapsed(&c->t0, &now);
	if (t < PROGRESS_AFTER || (!final && elapsed(&c->last, &now) < PROGRESS_EVERY))
		return;
	c->last = now;
	fprintf(stderr, "\rpecguard: %zu messages, %.0f/s%s", c->count,
		t > 0 ? (double)c->count / t : 0.0, final ? "\n" : "");
}

static int on_message(void *ctx, const char *path, size_t mbox_index, const char *data, size_t len,
		      const char *err)
{
	struct scan_ctx *c = ctx;
	c->count++;
	if (err != NULL) {
		c->errors++;
		fprintf(stderr, "pecguard: %s: %s\n", path, err);
		if (!c->json) {
			print_error_row(path, err);
		} else if (json_error(path, mbox_index, err) != PG_OK) {
			c->fatal = PG_EXIT_INTERNAL;
			return 1;
		}
		return 0;
	}
	pg_scan *s = NULL;
	if (pg_scan_new(c->eng, &s) != PG_OK) {
		c->fatal = PG_EXIT_INTERNAL;
		return 1;
	}
	pg_scan_set_time(s, c->mode, c->at);
	pg_status st = pg_scan_run_buffer(s, data, len);
	if (st == PG_ERR_NOMEM) {
		fprintf(stderr, "pecguard: %s: out of memory\n", path);
		pg_scan_free(s);
		c->fatal = PG_EXIT_INTERNAL;
		return 1;
	}
	c->bytes += len;
	c->per_class[pg_scan_class(s)]++;
	static clue_list cl; /* 100 KiB: not on the stack */
	cl.n = 0;
	cl.max = c->json ? PG_EXPLAIN_MAX : EXPLAIN_CLUES;
	double prob = 0.5;
	int ready = 0;
	if (c->explain && pg_scan_bayes_clues(s, on_clue, &cl, &prob, &ready) == PG_ERR_NOMEM) {
		fprintf(stderr, "pecguard: %s: out of memory\n", path);
		pg_scan_free(s);
		c->fatal = PG_EXIT_INTERNAL;
		return 1;
	}
	if (c->json) {
		char *j = pg_scan_json(s, path);
		if (j == NULL) {
			pg_scan_free(s);
			c->fatal = PG_EXIT_INTERNAL;
			return 1;
		}
		/* The recipients' view, added in front of the library's object. */
		printf("{");
		if (mbox_index)
			printf("\"mbox_index\":%zu,", mbox_index);
		if (c->nrcpts > 0) {
			printf("\"recipients\":[");
			for (size_t i = 0; i < c->nrcpts; i++) {
				/* "carol"@... is an address too: escaped as JSON */
				pg_buf a;
				pg_buf_init(&a, 4096);
				if (pg_json_str(&a, c->rcpts[i]) != PG_OK) {
					pg_buf_free(&a);
					pg_scan_free(s);
					c->fatal = PG_EXIT_INTERNAL;
					return 1;
				}
				printf("%s{\"address\":%s,\"policy\":\"%s\",\"delivered\":%s}",
				       i ? "," : "", a.data,
				       pg_mailbox_policy_name(
					       pg_scan_mailbox_policy(s, c->rcpts[i])),
				       pg_scan_recipient_accepts(s, c->rcpts[i]) ? "true"
										 : "false");
				pg_buf_free(&a);
			}
			printf("],");
		}
		if (c->explain) {
			char *e = json_explain(&cl, prob, ready != 0);
			if (e == NULL) {
				free(j);
				pg_scan_free(s);
				c->fatal = PG_EXIT_INTERNAL;
				return 1;
			}
			fputs(e, stdout);
			free(e);
		}
		printf("%s\n", j + 1);
		free(j);
	} else {
		print_row(path, mbox_index, s);
		if (c->explain)
			print_explain(s, &cl, prob, ready != 0);
		for (size_t i = 0; i < c->nrcpts; i++)
			printf("%-13s   to %s (%s): %s\n", "", c->rcpts[i],
			       pg_mailbox_policy_name(pg_scan_mailbox_policy(s, c->rcpts[i])),
			       pg_scan_recipient_accepts(s, c->rcpts[i])
				       ? "delivered"
				       : "refused: mailbox is PEC-only");
	}
	pg_scan_free(s);
	progress(c, false);
	return 0;
}

int pg_cmd_scan(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"at", required_argument, NULL, 't'},
		{"rcpt", required_argument, NULL, 'r'},
		{"explain", no_argument, NULL, 'x'},
		{"help", no_argument, NULL, 'h'},
		PG_CLI_COMMON_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	struct scan_ctx c = {.mode = PG_TIME_NOW};
	pg_cli_opts co = {0};
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "jt:r:xh", opts, NULL)) != -1) {
		if (pg_cli_common_opt(&co, o, optarg))
			continue;
		switch (o) {
		case 'j':
			c.json = true;
			break;
		case 'x':
			c.explain = true;
			break;
		case 'r':
			if (c.nrcpts >= 64 || !rcpt_ok(optarg)) {
				fprintf(stderr, "pecguard scan: --rcpt: %s\n",
					c.nrcpts >= 64 ? "more than 64 recipients"
						       : "not an address (control characters or "
							 "invalid UTF-8)");
				pg_cli_opts_free(&co);
				return PG_EXIT_USAGE;
			}
			c.rcpts[c.nrcpts++] = optarg;
			break;
		case 't':
			if (strcmp(optarg, "signing-time") == 0) {
				c.mode = PG_TIME_SIGNING;
			} else if (strcmp(optarg, "now") == 0) {
				c.mode = PG_TIME_NOW;
			} else if (pg_time_parse_iso8601(optarg, &c.at) == 0) {
				c.mode = PG_TIME_FIXED;
			} else {
				fprintf(stderr,
					"pecguard scan: --at: '%s' is neither ISO 8601 "
					"(2014-08-06T12:00:00Z) nor 'signing-time'\n",
					optarg);
				pg_cli_opts_free(&co);
				return PG_EXIT_USAGE;
			}
			break;
		case 'h':
			scan_usage(stdout);
			pg_cli_opts_free(&co);
			return PG_EXIT_OK;
		default:
			scan_usage(stderr);
			pg_cli_opts_free(&co);
			return PG_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "pecguard scan: no PATH given\n");
		scan_usage(stderr);
		pg_cli_opts_free(&co);
		return PG_EXIT_USAGE;
	}
	int code = 0;
	c.eng = pg_cli_engine(&co, &code);
	pg_cli_opts_free(&co);
	if (c.eng == NULL)
		return code;
	pg_limits lim;
	pg_engine_get_limits(c.eng, &lim);
	c.max = lim.max_message_size;
	c.progress = isatty(2);
	clock_gettime(CLOCK_MONOTONIC, &c.t0);
	c.last = c.t0;

	if (!c.json)
		print_table_header();
	for (int i = optind; i < argc && !c.fatal; i++)
		if (pg_input_walk(argv[i], c.max, on_message, &c) != 0)
			break;
	if (c.progress && c.count > 0)
		progress(&c, true);
	fflush(stdout);
	if (!c.json && !c.fatal) {
		printf("\n%zu message%s:", c.count, c.count == 1 ? "" : "s");
		for (int k = 0; k < PG_CLASS_COUNT; k++)
			if (c.per_class[k])
				printf(" %zu %s,", c.per_class[k], pg_class_name((pg_class)k));
		printf(" %zu unreadable\n", c.errors);
	}
	pg_engine_free(c.eng);
	if (c.fatal)
		return c.fatal;
	return c.errors ? PG_EXIT_MESSAGES : PG_EXIT_OK;
}
