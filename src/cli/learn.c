/*
 * pecguard learn spam|ham PATH...  /  pecguard unlearn PATH...
 *
 * Teaches the statistical filter.  A user's false-positive report is a
 * `learn ham` of that message; a missed spam, `learn spam`.  Relearning a
 * message as the other class moves its counts; learning it twice as the
 * same class changes nothing.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/input.h"
#include "pecguard.h"

struct learn_ctx {
	pg_engine *eng;
	int spam;
	int unlearn;
	size_t ok, failed;
};

static int on_message(void *ctx, const char *path, size_t idx, const char *data, size_t len,
		      const char *err)
{
	struct learn_ctx *c = ctx;
	if (err != NULL) {
		fprintf(stderr, "pecguard: %s: %s\n", path, err);
		c->failed++;
		return 0;
	}
	pg_status st = pg_engine_learn(c->eng, data, len, c->spam, c->unlearn);
	if (st == PG_OK) {
		c->ok++;
	} else {
		c->failed++;
		if (idx)
			fprintf(stderr, "pecguard: %s#%zu: %s\n", path, idx,
				pg_engine_errmsg(c->eng));
		else
			fprintf(stderr, "pecguard: %s: %s\n", path, pg_engine_errmsg(c->eng));
		if (st == PG_ERR_NOMEM || st == PG_ERR_IO || st == PG_ERR_CONFIG)
			return 1; /* the store is unusable: stop */
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pecguard learn spam|ham [OPTIONS] PATH...\n"
		   "       pecguard unlearn [OPTIONS] PATH...\n"
		   "\n"
		   "PATH is a message, an mbox, a Maildir or a directory, as for scan.\n"
		   "A user's false-positive report is 'learn ham' of the message; a missed\n"
		   "spam, 'learn spam'.  Learning again as the other class moves the counts.\n"
		   "\n" PG_CLI_COMMON_HELP);
}

int pg_cmd_learn(int argc, char **argv, int unlearn)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		PG_CLI_COMMON_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	pg_cli_opts co = {0};
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (pg_cli_common_opt(&co, o, optarg))
			continue;
		usage(o == 'h' ? stdout : stderr);
		pg_cli_opts_free(&co);
		return o == 'h' ? PG_EXIT_OK : PG_EXIT_USAGE;
	}
	struct learn_ctx c = {.unlearn = unlearn};
	if (!unlearn) {
		const char *what = optind < argc ? argv[optind++] : "";
		if (strcmp(what, "spam") == 0) {
			c.spam = 1;
		} else if (strcmp(what, "ham") != 0) {
			usage(stderr);
			pg_cli_opts_free(&co);
			return PG_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		pg_cli_opts_free(&co);
		return PG_EXIT_USAGE;
	}
	pg_cli_common_opt(&co, 'a', "none"); /* no antivirus needed to learn */
	int code = 0;
	c.eng = pg_cli_engine(&co, &code);
	pg_cli_opts_free(&co);
	if (c.eng == NULL)
		return code;
	for (int i = optind; i < argc; i++)
		if (pg_input_walk(argv[i], 64u << 20, on_message, &c) != 0)
			break;
	printf("%s %zu message%s%s%s; %zu failed\n", unlearn ? "unlearned" : "learned", c.ok,
	       c.ok == 1 ? "" : "s", unlearn ? "" : " as ",
	       unlearn ? "" : (c.spam ? "spam" : "ham"), c.failed);
	pg_engine_free(c.eng);
	return c.failed ? PG_EXIT_MESSAGES : PG_EXIT_OK;
}
