/*
 * common.h - what every command shares: the options that configure the
 * engine, and building it.
 */
#ifndef PG_CLI_COMMON_H
#define PG_CLI_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include "pecguard.h"

typedef struct pg_cli_opts {
	const char *config; /* --config FILE */
	const char *overrides[16];
	size_t noverrides;
	bool providers_given;
	bool index_unused; /* the command reads no PEC signature: no warning without an index */
} pg_cli_opts;

/* Handles a common option (returns true when it was one).  opt is the
 * getopt_long value: 'c' config, 's' state, 'p' providers, 'a' av,
 * 'd' av-db, 'o' --set NAME=VALUE. */
bool pg_cli_common_opt(pg_cli_opts *o, int opt, const char *arg);

/* The long options of pg_cli_common_opt, to append to a command's table. */
#define PG_CLI_COMMON_LONGOPTS                                                                     \
	{"config", required_argument, NULL, 'c'}, {"state", required_argument, NULL, 's'},         \
		{"providers", required_argument, NULL, 'p'}, {"av", required_argument, NULL, 'a'}, \
		{"av-db", required_argument, NULL, 'd'},                                           \
	{                                                                                          \
		"set", required_argument, NULL, 'o'                                                \
	}
#define PG_CLI_COMMON_HELP                                                                         \
	"  --config FILE       configuration (default /etc/pecguard/pecguard.conf if present,\n"   \
	"                      else the built-in defaults)\n"                                      \
	"  --state DIR         local state: LMDB stores (default /var/lib/pecguard)\n"             \
	"  --providers FILE    providers' index (LDIF, RFC 6109 schema)\n"                         \
	"  --av BACKEND        none | clamav | clamd:/path.sock | clamd:HOST:PORT[,...]\n"         \
	"  --av-db DIR         signature directory of the in-process ClamAV engine\n"              \
	"  --set NAME=VALUE    any configuration setting (antivirus.max_file_size=1000000)\n"

/* Frees what the options hold. */
void pg_cli_opts_free(pg_cli_opts *o);

/* Creates and configures an engine; prints the error and returns NULL on
 * failure with *exit_code set. */
pg_engine *pg_cli_engine(pg_cli_opts *o, int *exit_code);

#endif
