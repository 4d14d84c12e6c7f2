/*
 * harness.h - runs one analyser on one message file, for unit tests.
 *
 *   harness *h = harness_open("tests/data/.../x.eml", NULL);   (or config text)
 *   harness_run(h, &pg_analyser_attach);
 *   assert_non_null(harness_sym(h, "DOUBLE_EXTENSION"));
 *   harness_close(h);
 *
 * The message is parsed as the engine does and classified against an empty
 * providers' index (so it is peo or invalid-pec); ax.msg is the top level.
 * The configuration is the built-in defaults plus config_text.
 */
#ifndef PG_TESTS_HARNESS_H
#define PG_TESTS_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/config.h"
#include "mime/msg.h"
#include "pec/classify.h"
#include "pec/providers.h"
#include "scan/analyser.h"

typedef struct harness {
	pg_arena *arena;
	pg_config *cfg;
	pg_providers *idx;
	pg_msg *msg;
	char *data;
	size_t len;
	unsigned budget;
	pg_limits lim;
	pg_classification cls;
	pg_symset syms;
	pg_actx ax;
} harness;

static inline harness *harness_open_mem(const char *data, size_t len, const char *config_text)
{
	static int gmime_ready;
	if (!gmime_ready) {
		g_mime_init();
		gmime_ready = 1;
	}
	harness *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->data = malloc(len + 1);
	memcpy(h->data, data, len);
	h->data[len] = '\0';
	h->len = len;
	h->arena = pg_arena_new();
	char err[512];
	if (pg_config_load_text(config_text ? config_text : "", "test config", NULL, 0, &h->cfg,
				err, sizeof(err)) != PG_OK) {
		fprintf(stderr, "harness: config: %s\n", err);
		abort();
	}
	h->lim = (pg_limits){.max_message_size = 64u << 20,
			     .max_header_field = 64u << 10,
			     .max_header_block = 1u << 20,
			     .max_depth = 32,
			     .max_parts = 1000};
	h->budget = h->lim.max_parts;
	if (pg_msg_parse(h->arena, h->data, h->len, &h->lim, 0, &h->budget, &h->msg, err,
			 sizeof(err)) != PG_OK) {
		fprintf(stderr, "harness: parse: %s\n", err);
		abort();
	}
	if (pg_providers_new_empty(&h->idx) != PG_OK ||
	    pg_classify(h->arena, h->msg, h->idx, PG_TIME_NOW, 0, (int64_t)time(NULL), &h->cls) !=
		    PG_OK)
		abort();
	h->syms.arena = h->arena;
	h->ax = (pg_actx){.arena = h->arena,
			  .msg = h->msg,
			  .top = h->msg,
			  .cls = &h->cls,
			  .cfg = h->cfg,
			  .store = NULL,
			  .now = (int64_t)time(NULL),
			  .syms = &h->syms};
	return h;
}

static inline harness *harness_open(const char *path, const char *config_text)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "harness: cannot open %s\n", path);
		abort();
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		abort();
	fclose(f);
	harness *h = harness_open_mem(buf, (size_t)n, config_text);
	free(buf);
	return h;
}

/* init + run + free of one analyser; returns run's status. */
static inline pg_status harness_run(harness *h, const pg_analyser *an)
{
	void *state = NULL;
	char err[512] = "";
	pg_status st = an->init ? an->init(h->cfg, &state, err, sizeof(err)) : PG_OK;
	if (st != PG_OK) {
		fprintf(stderr, "harness: %s init: %s\n", an->name, err);
		return st;
	}
	st = an->run(&h->ax, state);
	if (an->free)
		an->free(state);
	return st;
}

static inline const pg_symbol *harness_sym(const harness *h, const char *name)
{
	for (size_t i = 0; i < h->syms.n; i++)
		if (strcmp(h->syms.v[i].name, name) == 0)
			return &h->syms.v[i];
	return NULL;
}

static inline void harness_print(const harness *h)
{
	for (size_t i = 0; i < h->syms.n; i++)
		fprintf(stderr, "  %s (%.2f) %s\n", h->syms.v[i].name, h->syms.v[i].weight,
			h->syms.v[i].detail ? h->syms.v[i].detail : "");
}

static inline void harness_close(harness *h)
{
	pg_arena_free(h->arena);
	pg_config_unref(h->cfg);
	pg_providers_unref(h->idx);
	free(h->data);
	free(h);
}

#endif
