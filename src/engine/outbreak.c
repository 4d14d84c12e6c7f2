/*
 * outbreak.c - local signatures made from confirmed samples of a campaign.
 *
 * A record per sample in the store's "outbreak" namespace: the key is the
 * SHA-256 (32 bytes), the value "NAME\tADDED\tSOURCE" (ADDED in UTC
 * seconds).  In the store, not in a signature database, so that every scan
 * sees a new one at once -- in-process ClamAV and clamd alike, and on every
 * node when the store is shared.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "util/str.h"

pg_status pg_outbreak_lookup(pg_store *st, pg_arena *a, const unsigned char sha256[32],
			     const char **name)
{
	*name = NULL;
	void *v = NULL;
	size_t n = 0;
	pg_status r = pg_store_get(st, PG_OUTBREAK_NS, sha256, 32, &v, &n);
	if (r != PG_OK || v == NULL)
		return r;
	const char *tab = memchr(v, '\t', n);
	*name = pg_arena_strndup(a, v, tab ? (size_t)(tab - (const char *)v) : n);
	free(v);
	return *name ? PG_OK : PG_ERR_NOMEM;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 100)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}

static pg_store *engine_store(pg_engine *eng)
{
	pthread_mutex_lock(&eng->lock);
	pg_store *s = eng->store;
	pthread_mutex_unlock(&eng->lock);
	if (s == NULL)
		snprintf(eng->errmsg, sizeof(eng->errmsg),
			 "no state store: configure the engine (state_dir) first");
	return s;
}

pg_status pg_engine_outbreak_add(pg_engine *eng, const unsigned char sha256[32], const char *name,
				 const char *source)
{
	if (!valid_name(name)) {
		snprintf(eng->errmsg, sizeof(eng->errmsg),
			 "outbreak name '%s': use 1-100 letters, digits, '.', '_' or '-'", name);
		return PG_ERR_INVALID;
	}
	pg_store *st = engine_store(eng);
	if (st == NULL)
		return PG_ERR_CONFIG;
	char v[1024];
	int n = snprintf(v, sizeof(v), "%s\t%lld\t%s", name, (long long)time(NULL),
			 source ? source : "");
	if (n < 0 || (size_t)n >= sizeof(v))
		n = (int)sizeof(v) - 1;
	for (int i = 0; i < n; i++)
		if (v[i] == '\n')
			v[i] = ' ';
	pg_status r = pg_store_put(st, PG_OUTBREAK_NS, sha256, 32, v, (size_t)n);
	if (r != PG_OK)
		snprintf(eng->errmsg, sizeof(eng->errmsg), "store: %s", pg_status_str(r));
	return r;
}

struct collect {
	const char *name;
	unsigned char (*keys)[32];
	size_t n, cap;
	bool nomem;
	pg_outbreak_fn fn;
	void *ctx;
};

static int each_remove(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct collect *c = ctx;
	const char *tab = memchr(val, '\t', vlen);
	size_t nl = tab ? (size_t)(tab - (const char *)val) : vlen;
	if (klen != 32 || nl != strlen(c->name) || memcmp(val, c->name, nl) != 0)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		unsigned char(*nv)[32] = realloc(c->keys, cap * 32);
		if (nv == NULL) {
			c->nomem = true;
			return 1;
		}
		c->keys = nv;
		c->cap = cap;
	}
	memcpy(c->keys[c->n++], key, 32);
	return 0;
}

pg_status pg_engine_outbreak_remove(pg_engine *eng, const char *name, size_t *removed)
{
	*removed = 0;
	pg_store *st = engine_store(eng);
	if (st == NULL)
		return PG_ERR_CONFIG;
	struct collect c = {.name = name};
	pg_status r = pg_store_each(st, PG_OUTBREAK_NS, each_remove, &c);
	if (r == PG_OK && c.nomem)
		r = PG_ERR_NOMEM;
	for (size_t i = 0; r == PG_OK && i < c.n; i++) {
		r = pg_store_del(st, PG_OUTBREAK_NS, c.keys[i], 32);
		if (r == PG_OK)
			(*removed)++;
	}
	free(c.keys);
	return r;
}

static int each_list(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct collect *c = ctx;
	if (klen != 32)
		return 0;
	char hex[65];
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[((const unsigned char *)key)[i] >> 4];
		hex[2 * i + 1] = digits[((const unsigned char *)key)[i] & 15];
	}
	hex[64] = '\0';
	char buf[1100];
	size_t n = vlen < sizeof(buf) - 1 ? vlen : sizeof(buf) - 1;
	memcpy(buf, val, n);
	buf[n] = '\0';
	char *name = buf, *added = strchr(buf, '\t'), *source = NULL;
	if (added != NULL) {
		*added++ = '\0';
		source = strchr(added, '\t');
		if (source != NULL)
			*source++ = '\0';
	}
	return c->fn(c->ctx, hex, name, added ? strtoll(added, NULL, 10) : 0, source ? source : "");
}

pg_status pg_engine_outbreak_list(pg_engine *eng, pg_outbreak_fn fn, void *ctx)
{
	pg_store *st = engine_store(eng);
	if (st == NULL)
		return PG_ERR_CONFIG;
	struct collect c = {.fn = fn, .ctx = ctx};
	return pg_store_each(st, PG_OUTBREAK_NS, each_list, &c);
}
