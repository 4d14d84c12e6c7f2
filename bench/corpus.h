/*
 * corpus.h - loading messages into memory for the benchmarks (reading
 * files is not what they time).  Header-only: each benchmark is one file.
 */
#ifndef PG_BENCH_CORPUS_H
#define PG_BENCH_CORPUS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/input.h"

struct corpus {
	char **data;
	size_t *len;
	size_t n, cap, bytes;
};

/* pg_input_walk callback: keeps a copy of every message. */
static inline int corpus_collect(void *ctx, const char *path, size_t idx, const char *data,
				 size_t len, const char *err)
{
	(void)idx;
	struct corpus *c = ctx;
	if (err != NULL) {
		fprintf(stderr, "bench: %s: %s\n", path, err);
		return 0;
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 1024;
		c->data = realloc(c->data, c->cap * sizeof(*c->data));
		c->len = realloc(c->len, c->cap * sizeof(*c->len));
		if (c->data == NULL || c->len == NULL)
			return 1;
	}
	c->data[c->n] = malloc(len ? len : 1);
	if (c->data[c->n] == NULL)
		return 1;
	memcpy(c->data[c->n], data, len);
	c->len[c->n++] = len;
	c->bytes += len;
	return 0;
}

static inline void corpus_free(struct corpus *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->data[i]);
	free(c->data);
	free(c->len);
}

#endif
