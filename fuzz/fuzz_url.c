/*
 * fuzz_url.c - the URL analyser: parser, scanners, look-alike checks, and
 * the whole analyser on a message.
 *
 * The first byte picks what the rest is fed to (so that one corpus covers
 * every entry point and each run stays short):
 *   '0' (and 6, 12...) one URL: pg_url_parse (bare and not), then every
 *                      check of a host
 *   '1'  text: pg_url_scan_text, each candidate parsed and checked
 *   '2'  PDF bytes: pg_url_scan_pdf, each string parsed and checked
 *   '3'  an HTML body, run through the analyser
 *   '4'  a plain-text body, run through the analyser
 *   '5'  a whole message, run through the analyser
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "engine/config.h"
#include "mime/msg.h"
#include "scan/analyser.h"
#include "scan/url.h"

struct fuzz_env {
	pg_config *cfg;
	void *state; /* the analyser's: a pg_url_ctx */
};

/* Made once per process: the configuration and the analyser's state are
 * read-only across runs, as in the engine. */
static struct fuzz_env *env(void)
{
	static struct fuzz_env e;
	if (e.cfg == NULL) {
		char err[256];
		g_mime_init();
		if (pg_config_load_text("", "fuzz", NULL, 0, &e.cfg, err, sizeof(err)) != PG_OK ||
		    pg_analyser_url.init(e.cfg, &e.state, err, sizeof(err)) != PG_OK) {
			fprintf(stderr, "fuzz_url: %s\n", err);
			abort();
		}
	}
	return &e;
}

static void check_url(pg_arena *a, const char *s, size_t n, bool bare)
{
	const pg_url_ctx *c = env()->state;
	pg_url u;
	if (pg_url_parse(a, s, n, bare, &u) != 0)
		return;
	(void)pg_url_ip_public(&u);
	if (u.host == NULL)
		return;
	const char *target = NULL;
	(void)pg_url_check_host(c, a, &u, &target);
	(void)pg_url_idn_deceptive(c, a, &u);
	if (!(u.flags & (PG_URL_IPV4 | PG_URL_IPV6)))
		(void)pg_url_registrable(c, u.host_ascii);
}

static bool found(void *ctx, const char *s, size_t n, pg_url_kind kind)
{
	check_url(ctx, s, n, kind != PG_URLK_SCHEME);
	return true;
}

static void run_message(const char *prefix, const uint8_t *data, size_t size)
{
	struct fuzz_env *e = env();
	size_t pl = strlen(prefix);
	char *buf = malloc(pl + size + 1);
	if (buf == NULL)
		return;
	memcpy(buf, prefix, pl);
	if (size)
		memcpy(buf + pl, data, size);
	buf[pl + size] = '\0';
	pg_arena *a = pg_arena_new();
	unsigned budget = pg_fuzz_limits.max_parts;
	pg_msg *m = NULL;
	char err[256];
	if (a != NULL && pg_msg_parse(a, buf, pl + size, &pg_fuzz_limits, 0, &budget, &m, err,
				      sizeof(err)) == PG_OK) {
		pg_classification cls;
		memset(&cls, 0, sizeof(cls));
		pg_symset syms = {.arena = a};
		pg_actx ax = {
			.arena = a, .msg = m, .top = m, .cls = &cls, .cfg = e->cfg, .syms = &syms};
		(void)pg_analyser_url.run(&ax, e->state);
		for (size_t i = 0; i < syms.n; i++)
			if (syms.v[i].name == NULL || syms.v[i].detail == NULL)
				abort(); /* every URL symbol says why */
	}
	pg_arena_free(a);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	unsigned mode = data[0] % 6;
	data++;
	size--;
	if (size > 256 * 1024)
		return 0; /* longer inputs find nothing new, only slow the fuzzer */
	pg_arena *a = pg_arena_new();
	if (a == NULL)
		return 0;
	switch (mode) {
	case 0:
		check_url(a, (const char *)data, size, false);
		check_url(a, (const char *)data, size, true);
		break;
	case 1:
		pg_url_scan_text((const char *)data, size, found, a);
		break;
	case 2: {
		char buf[2049];
		pg_url_scan_pdf(data, size, buf, sizeof(buf), found, a);
		break;
	}
	case 3:
		run_message("Content-Type: text/html; charset=utf-8\n\n", data, size);
		break;
	case 4:
		run_message("Content-Type: text/plain; charset=utf-8\n\n", data, size);
		break;
	default:
		run_message("", data, size);
		break;
	}
	pg_arena_free(a);
	return 0;
}
