#include "cli/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static char *dup_override(const char *key, const char *val)
{
	size_t n = strlen(key) + strlen(val) + 2;
	char *s = malloc(n);
	if (s != NULL)
		snprintf(s, n, "%s=%s", key, val);
	return s;
}

static bool add(pg_cli_opts *o, const char *key, const char *val)
{
	if (o->noverrides >= sizeof(o->overrides) / sizeof(o->overrides[0])) {
		fprintf(stderr, "pecguard: too many settings on the command line\n");
		exit(PG_EXIT_USAGE);
	}
	char *s = key ? dup_override(key, val) : strdup(val);
	if (s == NULL) {
		fprintf(stderr, "pecguard: out of memory\n");
		exit(PG_EXIT_INTERNAL);
	}
	o->overrides[o->noverrides++] = s;
	return true;
}

bool pg_cli_common_opt(pg_cli_opts *o, int opt, const char *arg)
{
	switch (opt) {
	case 'c':
		o->config = arg;
		return true;
	case 's':
		return add(o, "state_dir", arg);
	case 'p':
		o->providers_given = true;
		return add(o, "providers", arg);
	case 'a':
		return add(o, "antivirus.backend", arg);
	case 'd':
		return add(o, "antivirus.database", arg);
	case 'o':
		if (strchr(arg, '=') == NULL) {
			fprintf(stderr, "pecguard: --set %s: expected NAME=VALUE\n", arg);
			exit(PG_EXIT_USAGE);
		}
		if (strncmp(arg, "providers=", 10) == 0)
			o->providers_given = true;
		return add(o, NULL, arg);
	}
	return false;
}

pg_engine *pg_cli_engine(pg_cli_opts *o, int *exit_code)
{
	pg_engine *eng = NULL;
	if (pg_engine_new(&eng) != PG_OK) {
		fprintf(stderr, "pecguard: out of memory\n");
		*exit_code = PG_EXIT_INTERNAL;
		return NULL;
	}
	const char *config = o->config;
	if (config == NULL && access("/etc/pecguard/pecguard.conf", R_OK) == 0)
		config = "/etc/pecguard/pecguard.conf";
	if (!o->providers_given && getenv("PECGUARD_PROVIDERS") != NULL)
		add(o, "providers", getenv("PECGUARD_PROVIDERS"));
	pg_status st = pg_engine_configure(eng, config, o->overrides, o->noverrides);
	if (st == PG_ERR_INDEX && !o->providers_given &&
	    access("/etc/pecguard/providers.ldif", F_OK) != 0 &&
	    strstr(pg_engine_errmsg(eng), "/etc/pecguard/providers.ldif") != NULL) {
		/* No index where one is expected by default: go on without one,
		 * saying what that means. */
		if (!o->index_unused)
			fprintf(stderr, "pecguard: warning: no providers' index (--providers FILE): "
					"no message can be valid PEC\n");
		add(o, "providers", "");
		st = pg_engine_configure(eng, config, o->overrides, o->noverrides);
	}
	if (st != PG_OK) {
		fprintf(stderr, "pecguard: %s\n", pg_engine_errmsg(eng));
		if (strstr(pg_engine_errmsg(eng), "antivirus") != NULL)
			fprintf(stderr, "pecguard: (--av none scans without antivirus; --av-db DIR "
					"names a signature directory)\n");
		pg_engine_free(eng);
		*exit_code = st == PG_ERR_NOMEM ? PG_EXIT_INTERNAL : PG_EXIT_CONFIG;
		return NULL;
	}
	return eng;
}

void pg_cli_opts_free(pg_cli_opts *o)
{
	for (size_t i = 0; i < o->noverrides; i++)
		free((char *)o->overrides[i]);
	o->noverrides = 0;
}
