/*
 * pecguard config - check a configuration as the milter would load it.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "pecguard.h"

int pg_cmd_config(int argc, char **argv)
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
		fprintf(o == 'h' ? stdout : stderr,
			"usage: pecguard config [OPTIONS]\n"
			"Builds everything the configuration names (providers' index, antivirus,\n"
			"rules, policy map, store) and says whether it is usable.\n"
			"\n" PG_CLI_COMMON_HELP);
		pg_cli_opts_free(&co);
		return o == 'h' ? PG_EXIT_OK : PG_EXIT_USAGE;
	}
	int code = 0;
	pg_engine *eng = pg_cli_engine(&co, &code);
	pg_cli_opts_free(&co);
	if (eng == NULL)
		return code;
	pg_limits lim;
	pg_engine_get_limits(eng, &lim);
	printf("configuration: %s\n", pg_engine_config_source(eng));
	printf("providers' index: %zu providers\n", pg_engine_provider_count(eng));
	/* The antivirus is asked, not only opened: EICAR found, content past
	 * the limits reported as not scanned.  No answer (clamd still
	 * loading) is a warning; a wrong one is a configuration error. */
	pg_status av = pg_engine_av_selfcheck(eng);
	if (av == PG_ERR_CONFIG) {
		fprintf(stderr, "pecguard: %s\n", pg_engine_errmsg(eng));
		pg_engine_free(eng);
		return PG_EXIT_CONFIG;
	}
	if (av != PG_OK)
		fprintf(stderr, "pecguard: warning: %s\n", pg_engine_errmsg(eng));
	printf("antivirus: %s%s\n", pg_engine_av_backend(eng),
	       av == PG_OK ? "" : " (did not answer the self-check)");
	char signer[512];
	pg_engine_notice_signer(eng, signer, sizeof(signer));
	if (signer[0] != '\0')
		printf("virus notices: signed by %s\n", signer);
	else
		printf("virus notices: off (pec.notice_key not set): envelopes with a virus are "
		       "held only\n");
	printf("limits: message %zu bytes, header field %zu, header block %zu, depth %u, parts "
	       "%u\n",
	       lim.max_message_size, lim.max_header_field, lim.max_header_block, lim.max_depth,
	       lim.max_parts);
	printf("ok\n");
	pg_engine_free(eng);
	return PG_EXIT_OK;
}
