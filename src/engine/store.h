/*
 * store.h - shared state behind one small interface: LMDB on one node (the
 * default), Redis for many MTA nodes (later).  Keys and values are bytes.
 *
 * Two kinds of data live here:
 *   - records: key -> value (outbreak signatures, metadata);
 *   - counter pairs: key -> (a, b) 64-bit counters, updated atomically and
 *     read in batches (Bayes tokens: spam and ham counts; campaign counters).
 * Every key lives in a namespace (a short prefix such as "bayes", "ob"), so
 * one store serves every analyser.  Thread-safe: one store per engine,
 * shared by every scan; many readers never block each other.
 */
#ifndef PG_ENGINE_STORE_H
#define PG_ENGINE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/config.h"
#include "pecguard.h"

typedef struct pg_store pg_store;

typedef struct pg_counter_pair {
	int64_t a;
	int64_t b;
} pg_counter_pair;

/* Opens the store the configuration names ("store.backend"; LMDB under
 * "state_dir").  PG_ERR_CONFIG / PG_ERR_IO with err on failure. */
pg_status pg_store_open(const pg_config *cfg, pg_store **out, char *err, size_t errlen) PG_WUR;
void pg_store_close(pg_store *s);
/* The message of the store's last failure ("" if none). */
void pg_store_errmsg(pg_store *s, char *buf, size_t len);
const char *pg_store_backend(const pg_store *s);

/* Records.  get: *val malloc'd (caller frees), NULL with PG_OK when absent. */
pg_status pg_store_get(pg_store *s, const char *ns, const void *key, size_t klen, void **val,
		       size_t *vlen) PG_WUR;
pg_status pg_store_put(pg_store *s, const char *ns, const void *key, size_t klen, const void *val,
		       size_t vlen) PG_WUR;
/* PG_OK also when the key was absent. */
pg_status pg_store_del(pg_store *s, const char *ns, const void *key, size_t klen) PG_WUR;
/* Calls fn for every record of a namespace (in key order); fn returns
 * non-zero to stop. */
typedef int (*pg_store_each_fn)(void *ctx, const void *key, size_t klen, const void *val,
				size_t vlen);
pg_status pg_store_each(pg_store *s, const char *ns, pg_store_each_fn fn, void *ctx) PG_WUR;

/* Counter pairs, in one transaction (one round trip for Redis).  get fills
 * out[i] with zeros for absent keys. */
pg_status pg_store_counters_get(pg_store *s, const char *ns, const void *const *keys,
				const size_t *klens, size_t n, pg_counter_pair *out) PG_WUR;
/* Adds (da, db) to every key; counters never go below zero. */
pg_status pg_store_counters_add(pg_store *s, const char *ns, const void *const *keys,
				const size_t *klens, size_t n, int64_t da, int64_t db) PG_WUR;

#endif
