/*
 * pecguard - command line front end of libpecguard.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "pecguard.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: pecguard COMMAND [OPTIONS] [ARGS]\n"
		   "\n"
		   "commands:\n"
		   "  scan     classify messages: PEC envelope, receipt, anomaly, invalid PEC or\n"
		   "           ordinary mail, with the reasons (pecguard scan --help)\n"
		   "  learn spam|ham PATH...   teach the statistical filter (a false positive:\n"
		   "           learn ham; a missed spam: learn spam)\n"
		   "  unlearn PATH...  forget what was learned from these messages\n"
		   "  outbreak add FILE|SHA256 --name NAME | list | remove NAME\n"
		   "           local signatures from confirmed campaign samples\n"
		   "  config   check the configuration (index, antivirus, rules, policy map)\n"
		   "  version  print the version\n"
		   "  help     this text\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return PG_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "scan") == 0)
		return pg_cmd_scan(argc - 1, argv + 1);
	if (strcmp(cmd, "learn") == 0)
		return pg_cmd_learn(argc - 1, argv + 1, 0);
	if (strcmp(cmd, "unlearn") == 0)
		return pg_cmd_learn(argc - 1, argv + 1, 1);
	if (strcmp(cmd, "config") == 0)
		return pg_cmd_config(argc - 1, argv + 1);
	if (strcmp(cmd, "outbreak") == 0)
		return pg_cmd_outbreak(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("pecguard %s\n", PECGUARD_VERSION);
		return PG_EXIT_OK;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return PG_EXIT_OK;
	}
	fprintf(stderr, "pecguard: unknown command '%s'\n", cmd);
	usage(stderr);
	return PG_EXIT_USAGE;
}
