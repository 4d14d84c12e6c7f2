/*
 * cli.h - the pecguard command line: one function per command.
 */
#ifndef PG_CLI_CLI_H
#define PG_CLI_CLI_H

/* Exit statuses of every command. */
enum {
	PG_EXIT_OK = 0,
	PG_EXIT_MESSAGES = 1, /* some message could not be read */
	PG_EXIT_USAGE = 2,    /* bad command line */
	PG_EXIT_CONFIG = 3,   /* bad configuration or providers' index */
	PG_EXIT_INTERNAL = 4  /* out of memory or another internal failure */
};

int pg_cmd_scan(int argc, char **argv);
int pg_cmd_outbreak(int argc, char **argv);
int pg_cmd_learn(int argc, char **argv, int unlearn);
int pg_cmd_config(int argc, char **argv);

#endif
