/*
 * pecguard outbreak - local signatures from confirmed campaign samples.
 *
 *   pecguard outbreak add FILE|SHA256 --name NAME
 *   pecguard outbreak list
 *   pecguard outbreak remove NAME
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "pecguard.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: pecguard outbreak add FILE|SHA256 --name NAME [OPTIONS]\n"
		   "       pecguard outbreak list [OPTIONS]\n"
		   "       pecguard outbreak remove NAME [OPTIONS]\n"
		   "\n"
		   "A confirmed sample of a running campaign (an attachment, or its SHA-256)\n"
		   "becomes a local signature: from the next message scanned, a part or an\n"
		   "archive member with that SHA-256 is the virus PECGuard.Outbreak.NAME, with\n"
		   "either antivirus backend, inside PEC envelopes too.  The signatures live in\n"
		   "the state store (--state), shared by every process using it.\n"
		   "\n" PG_CLI_COMMON_HELP);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_sha256(const char *s, unsigned char out[32])
{
	if (strlen(s) != 64)
		return -1;
	for (int i = 0; i < 32; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static int hash_file(const char *path, unsigned char out[32])
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		fclose(f);
		return -1;
	}
	unsigned char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		EVP_DigestUpdate(ctx, buf, n);
	int err = ferror(f);
	fclose(f);
	unsigned int len = 32;
	int ok = EVP_DigestFinal_ex(ctx, out, &len);
	EVP_MD_CTX_free(ctx);
	return err || ok != 1 ? -1 : 0;
}

static int print_one(void *ctx, const char *hex, const char *name, int64_t added,
		     const char *source)
{
	size_t *n = ctx;
	char ts[32] = "?";
	time_t t = (time_t)added;
	struct tm tm;
	if (gmtime_r(&t, &tm))
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%-30s %s %s %s\n", name, hex, ts, source);
	(*n)++;
	return 0;
}

int pg_cmd_outbreak(int argc, char **argv)
{
	static const struct option opts[] = {
		{"name", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		PG_CLI_COMMON_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	pg_cli_opts co = {0};
	const char *name = NULL;
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		if (pg_cli_common_opt(&co, o, optarg))
			continue;
		if (o == 'n') {
			name = optarg;
		} else {
			usage(o == 'h' ? stdout : stderr);
			pg_cli_opts_free(&co);
			return o == 'h' ? PG_EXIT_OK : PG_EXIT_USAGE;
		}
	}
	const char *verb = optind < argc ? argv[optind] : NULL;
	int nargs = argc - optind - 1;
	bool ok_args = verb && ((strcmp(verb, "add") == 0 && nargs == 1 && name) ||
				(strcmp(verb, "list") == 0 && nargs == 0) ||
				(strcmp(verb, "remove") == 0 && nargs == 1));
	if (!ok_args) {
		usage(stderr);
		pg_cli_opts_free(&co);
		return PG_EXIT_USAGE;
	}
	/* Neither the antivirus nor the providers' index is needed to manage
	 * signatures. */
	pg_cli_common_opt(&co, 'a', "none");
	co.index_unused = true;
	int code = 0;
	pg_engine *eng = pg_cli_engine(&co, &code);
	pg_cli_opts_free(&co);
	if (eng == NULL)
		return code;
	pg_status st = PG_OK;
	if (strcmp(verb, "add") == 0) {
		const char *arg = argv[optind + 1];
		unsigned char h[32];
		char source[600];
		if (parse_sha256(arg, h) == 0) {
			snprintf(source, sizeof(source), "sha256");
		} else if (hash_file(arg, h) == 0) {
			snprintf(source, sizeof(source), "file %s", arg);
		} else {
			fprintf(stderr,
				"pecguard outbreak: %s: neither a readable file nor a SHA-256\n",
				arg);
			pg_engine_free(eng);
			return PG_EXIT_USAGE;
		}
		st = pg_engine_outbreak_add(eng, h, name, source);
		if (st == PG_OK) {
			printf("added PECGuard.Outbreak.%s: ", name);
			for (int i = 0; i < 32; i++)
				printf("%02x", h[i]);
			printf("\n");
		}
	} else if (strcmp(verb, "list") == 0) {
		size_t n = 0;
		st = pg_engine_outbreak_list(eng, print_one, &n);
		if (st == PG_OK && n == 0)
			printf("no outbreak signatures\n");
	} else {
		size_t removed = 0;
		st = pg_engine_outbreak_remove(eng, argv[optind + 1], &removed);
		if (st == PG_OK) {
			printf("removed %zu signature%s named %s\n", removed,
			       removed == 1 ? "" : "s", argv[optind + 1]);
			if (removed == 0) {
				pg_engine_free(eng);
				return PG_EXIT_MESSAGES;
			}
		}
	}
	if (st != PG_OK)
		fprintf(stderr, "pecguard outbreak: %s\n", pg_engine_errmsg(eng));
	pg_engine_free(eng);
	return st == PG_OK ? PG_EXIT_OK : st == PG_ERR_INVALID ? PG_EXIT_USAGE : PG_EXIT_CONFIG;
}
