/*
 * store.c - the store handle and its LMDB backend.
 *
 * The handle dispatches through a table of operations so that a second
 * backend (Redis, for many MTA nodes) slots in without touching the callers:
 * each backend implements the same seven functions on its own state and
 * reports failures as a status plus a message, which the handle keeps as
 * its last error.
 *
 * LMDB layout: one environment in state_dir (data.mdb, lock.mdb), one named
 * database per namespace, created on first write.  A counter pair is a
 * 16-byte value, two int64 little-endian, so the file means the same on
 * every host and a future tool can read it without our headers.
 *
 * Concurrency is LMDB's: readers never block and never take a lock of ours
 * on the hot path; writers serialise on LMDB's writer lock, also across
 * processes (the milter and `pecguard learn`).  MDB_NOTLS ties a read
 * transaction to its object instead of to the thread, which lets us keep
 * reset read transactions in a small pool and hand them to any thread.
 */
#include "engine/store.h"
#include "util/str.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <lmdb.h>

/* Namespaces are database names: short, printable, never empty. */
#define NS_MAX 63
/* LMDB's limit on named databases in one environment (the brief's 32). */
#define MAX_DBS 32
/* Reset read transactions kept for reuse (each holds a reader slot). */
#define RTXN_POOL 16
/* Smallest map we accept: LMDB needs a handful of pages for itself. */
#define MIN_MAP_SIZE (64u * 1024u)

/* ---- the handle ------------------------------------------------------- */

typedef struct store_ops {
	const char *name;
	void (*close)(void *impl);
	pg_status (*get)(void *impl, const char *ns, const void *key, size_t klen, void **val,
			 size_t *vlen, char *err, size_t errlen);
	pg_status (*put)(void *impl, const char *ns, const void *key, size_t klen, const void *val,
			 size_t vlen, char *err, size_t errlen);
	pg_status (*del)(void *impl, const char *ns, const void *key, size_t klen, char *err,
			 size_t errlen);
	pg_status (*each)(void *impl, const char *ns, pg_store_each_fn fn, void *ctx, char *err,
			  size_t errlen);
	pg_status (*counters_get)(void *impl, const char *ns, const void *const *keys,
				  const size_t *klens, size_t n, pg_counter_pair *out, char *err,
				  size_t errlen);
	pg_status (*counters_add)(void *impl, const char *ns, const void *const *keys,
				  const size_t *klens, size_t n, int64_t da, int64_t db, char *err,
				  size_t errlen);
} store_ops;

struct pg_store {
	const store_ops *ops;
	void *impl;
	/* The last failure, for pg_store_errmsg().  Shared by the threads
	 * using the store: a message may be another thread's, but it is always
	 * a whole message about this store. */
	pthread_mutex_t errlock;
	char errmsg[256];
};

void pg_store_errmsg(pg_store *s, char *buf, size_t len)
{
	if (buf == NULL || len == 0)
		return;
	pthread_mutex_lock(&s->errlock);
	snprintf(buf, len, "%s", s->errmsg);
	pthread_mutex_unlock(&s->errlock);
}

static pg_status keep_err(pg_store *s, pg_status st, const char *msg)
{
	if (st != PG_OK) {
		pthread_mutex_lock(&s->errlock);
		snprintf(s->errmsg, sizeof(s->errmsg), "%s", msg);
		pthread_mutex_unlock(&s->errlock);
	}
	return st;
}

static bool ns_ok(const char *ns)
{
	if (ns == NULL || ns[0] == '\0')
		return false;
	size_t n = 0;
	for (const char *p = ns; *p; p++, n++)
		if (n >= NS_MAX || (unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

/* Argument checks common to every backend, so each behaves the same. */
static pg_status check(pg_store *s, const char *ns, const void *key, size_t klen, bool need_key)
{
	if (s == NULL)
		return PG_ERR_INVALID;
	if (!ns_ok(ns))
		return keep_err(s, PG_ERR_INVALID, "store: bad namespace");
	if (need_key && (key == NULL || klen == 0))
		return keep_err(s, PG_ERR_INVALID, "store: empty key");
	return PG_OK;
}

/* ---- LMDB backend ------------------------------------------------------ */

typedef struct lm_dbi {
	char name[NS_MAX + 1];
	MDB_dbi dbi;
} lm_dbi;

typedef struct lm {
	MDB_env *env;
	size_t map_size;
	size_t max_key;
	/* Open namespaces.  Appended under dbilock and published by the
	 * release store of ndbis, so readers search without the lock. */
	pthread_mutex_t dbilock;
	lm_dbi dbis[MAX_DBS];
	atomic_size_t ndbis;
	/* Reset read transactions: renewing one is cheaper than finding a
	 * reader slot in the shared lock file again. */
	pthread_mutex_t poollock;
	MDB_txn *pool[RTXN_POOL];
	size_t npool;
} lm;

/* Turns an LMDB failure into a status and a message naming the cause. */
static pg_status lm_fail(const lm *l, int rc, const char *what, char *err, size_t errlen)
{
	switch (rc) {
	case MDB_MAP_FULL:
		pg_errf(err, errlen, "store full: raise store.lmdb_map_size (now %zu bytes)",
			l->map_size);
		return PG_ERR_IO;
	case MDB_DBS_FULL:
		pg_errf(err, errlen, "store: too many namespaces (at most %d)", MAX_DBS);
		return PG_ERR_IO;
	case MDB_READERS_FULL:
		pg_errf(err, errlen, "store: too many concurrent readers (%s)", what);
		return PG_ERR_TEMPFAIL;
	case MDB_MAP_RESIZED:
		/* Another process opened the environment with a larger map. */
		pg_errf(err, errlen,
			"store: map grown by another process: use the same store.lmdb_map_size "
			"everywhere and restart");
		return PG_ERR_IO;
	case ENOMEM:
		pg_errf(err, errlen, "store: out of memory (%s)", what);
		return PG_ERR_NOMEM;
	default:
		pg_errf(err, errlen, "store: %s: %s", what, mdb_strerror(rc));
		return PG_ERR_IO;
	}
}

static int lm_rtxn(lm *l, MDB_txn **out)
{
	MDB_txn *t = NULL;
	pthread_mutex_lock(&l->poollock);
	if (l->npool > 0)
		t = l->pool[--l->npool];
	pthread_mutex_unlock(&l->poollock);
	if (t != NULL) {
		int rc = mdb_txn_renew(t);
		if (rc == 0) {
			*out = t;
			return 0;
		}
		mdb_txn_abort(t);
	}
	return mdb_txn_begin(l->env, NULL, MDB_RDONLY, out);
}

static void lm_rtxn_done(lm *l, MDB_txn *t)
{
	mdb_txn_reset(t);
	pthread_mutex_lock(&l->poollock);
	if (l->npool < RTXN_POOL) {
		l->pool[l->npool++] = t;
		t = NULL;
	}
	pthread_mutex_unlock(&l->poollock);
	if (t != NULL)
		mdb_txn_abort(t);
}

/* The database of a namespace.  With create false, an absent namespace
 * gives MDB_NOTFOUND (it reads as empty) and is not remembered, so one
 * another process creates later is found on the next call. */
static int lm_dbi_get(lm *l, const char *ns, bool create, MDB_dbi *out)
{
	size_t n = atomic_load_explicit(&l->ndbis, memory_order_acquire);
	for (size_t i = 0; i < n; i++)
		if (strcmp(l->dbis[i].name, ns) == 0) {
			*out = l->dbis[i].dbi;
			return 0;
		}
	/* mdb_dbi_open must not run in two transactions at once, and its
	 * transaction must end before another uses the handle: one at a time,
	 * in a transaction of its own, committed before the handle is shared. */
	pthread_mutex_lock(&l->dbilock);
	int rc = 0;
	n = atomic_load_explicit(&l->ndbis, memory_order_relaxed);
	for (size_t i = 0; i < n; i++)
		if (strcmp(l->dbis[i].name, ns) == 0) {
			*out = l->dbis[i].dbi;
			goto out;
		}
	if (n == MAX_DBS) {
		rc = MDB_DBS_FULL;
		goto out;
	}
	MDB_txn *t;
	rc = mdb_txn_begin(l->env, NULL, create ? 0 : MDB_RDONLY, &t);
	if (rc != 0)
		goto out;
	MDB_dbi dbi;
	rc = mdb_dbi_open(t, ns, create ? MDB_CREATE : 0, &dbi);
	if (rc != 0) {
		mdb_txn_abort(t);
		goto out;
	}
	/* Committing (also a read-only transaction) keeps the handle open. */
	rc = mdb_txn_commit(t);
	if (rc != 0)
		goto out;
	snprintf(l->dbis[n].name, sizeof(l->dbis[n].name), "%s", ns);
	l->dbis[n].dbi = dbi;
	atomic_store_explicit(&l->ndbis, n + 1, memory_order_release);
	*out = dbi;
out:
	pthread_mutex_unlock(&l->dbilock);
	return rc;
}

static pg_status lm_key(const lm *l, size_t klen, char *err, size_t errlen)
{
	if (klen > l->max_key) {
		pg_errf(err, errlen, "store: key of %zu bytes (at most %zu)", klen, l->max_key);
		return PG_ERR_INVALID;
	}
	return PG_OK;
}

static pg_status lm_get(void *impl, const char *ns, const void *key, size_t klen, void **val,
			size_t *vlen, char *err, size_t errlen)
{
	lm *l = impl;
	*val = NULL;
	*vlen = 0;
	pg_status st = lm_key(l, klen, err, errlen);
	if (st != PG_OK)
		return st;
	MDB_dbi dbi;
	int rc = lm_dbi_get(l, ns, false, &dbi);
	if (rc == MDB_NOTFOUND)
		return PG_OK;
	if (rc != 0)
		return lm_fail(l, rc, "open namespace", err, errlen);
	MDB_txn *t;
	if ((rc = lm_rtxn(l, &t)) != 0)
		return lm_fail(l, rc, "begin read", err, errlen);
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key}, v;
	rc = mdb_get(t, dbi, &k, &v);
	if (rc == 0) {
		/* The map is only valid inside the transaction: copy out. */
		void *c = malloc(v.mv_size ? v.mv_size : 1);
		if (c == NULL) {
			st = PG_ERR_NOMEM;
			pg_errf(err, errlen, "store: out of memory");
		} else {
			memcpy(c, v.mv_data, v.mv_size);
			*val = c;
			*vlen = v.mv_size;
		}
	} else if (rc != MDB_NOTFOUND) {
		st = lm_fail(l, rc, "get", err, errlen);
	}
	lm_rtxn_done(l, t);
	return st;
}

static pg_status lm_put(void *impl, const char *ns, const void *key, size_t klen, const void *val,
			size_t vlen, char *err, size_t errlen)
{
	lm *l = impl;
	pg_status st = lm_key(l, klen, err, errlen);
	if (st != PG_OK)
		return st;
	MDB_dbi dbi;
	int rc = lm_dbi_get(l, ns, true, &dbi);
	if (rc != 0)
		return lm_fail(l, rc, "create namespace", err, errlen);
	MDB_txn *t;
	if ((rc = mdb_txn_begin(l->env, NULL, 0, &t)) != 0)
		return lm_fail(l, rc, "begin write", err, errlen);
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
	MDB_val v = {.mv_size = vlen, .mv_data = (void *)(vlen ? val : "")};
	rc = mdb_put(t, dbi, &k, &v, 0);
	if (rc != 0) {
		mdb_txn_abort(t);
		return lm_fail(l, rc, "put", err, errlen);
	}
	if ((rc = mdb_txn_commit(t)) != 0)
		return lm_fail(l, rc, "commit", err, errlen);
	return PG_OK;
}

static pg_status lm_del(void *impl, const char *ns, const void *key, size_t klen, char *err,
			size_t errlen)
{
	lm *l = impl;
	if (klen > l->max_key)
		return PG_OK; /* cannot be there */
	MDB_dbi dbi;
	int rc = lm_dbi_get(l, ns, false, &dbi);
	if (rc == MDB_NOTFOUND)
		return PG_OK;
	if (rc != 0)
		return lm_fail(l, rc, "open namespace", err, errlen);
	MDB_txn *t;
	if ((rc = mdb_txn_begin(l->env, NULL, 0, &t)) != 0)
		return lm_fail(l, rc, "begin write", err, errlen);
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
	rc = mdb_del(t, dbi, &k, NULL);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(t);
		return PG_OK;
	}
	if (rc != 0) {
		mdb_txn_abort(t);
		return lm_fail(l, rc, "delete", err, errlen);
	}
	if ((rc = mdb_txn_commit(t)) != 0)
		return lm_fail(l, rc, "commit", err, errlen);
	return PG_OK;
}

static pg_status lm_each(void *impl, const char *ns, pg_store_each_fn fn, void *ctx, char *err,
			 size_t errlen)
{
	lm *l = impl;
	MDB_dbi dbi;
	int rc = lm_dbi_get(l, ns, false, &dbi);
	if (rc == MDB_NOTFOUND)
		return PG_OK;
	if (rc != 0)
		return lm_fail(l, rc, "open namespace", err, errlen);
	MDB_txn *t;
	if ((rc = lm_rtxn(l, &t)) != 0)
		return lm_fail(l, rc, "begin read", err, errlen);
	MDB_cursor *c;
	if ((rc = mdb_cursor_open(t, dbi, &c)) != 0) {
		lm_rtxn_done(l, t);
		return lm_fail(l, rc, "cursor", err, errlen);
	}
	/* One read transaction: fn sees a consistent snapshot, however long
	 * the walk, and never holds up writers. */
	pg_status st = PG_OK;
	MDB_val k, v;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		if (fn(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size) != 0)
			break;
	if (rc != 0 && rc != MDB_NOTFOUND)
		st = lm_fail(l, rc, "iterate", err, errlen);
	mdb_cursor_close(c);
	lm_rtxn_done(l, t);
	return st;
}

/* Counter pairs on disk: a then b, int64 little-endian. */
#define NOT_A_PAIR "a record where a counter pair was expected"
static void pair_decode(const unsigned char *p, pg_counter_pair *out)
{
	uint64_t a = 0, b = 0;
	for (int i = 7; i >= 0; i--) {
		a = (a << 8) | p[i];
		b = (b << 8) | p[8 + i];
	}
	out->a = (int64_t)a;
	out->b = (int64_t)b;
}

static void pair_encode(const pg_counter_pair *in, unsigned char *p)
{
	uint64_t a = (uint64_t)in->a, b = (uint64_t)in->b;
	for (int i = 0; i < 8; i++) {
		p[i] = (unsigned char)(a >> (8 * i));
		p[8 + i] = (unsigned char)(b >> (8 * i));
	}
}

/* old + d, saturating, never below zero. */
static int64_t clamp_add(int64_t old, int64_t d)
{
	int64_t r;
	if (__builtin_add_overflow(old, d, &r))
		r = d > 0 ? INT64_MAX : 0;
	return r < 0 ? 0 : r;
}

static pg_status lm_counters_get(void *impl, const char *ns, const void *const *keys,
				 const size_t *klens, size_t n, pg_counter_pair *out, char *err,
				 size_t errlen)
{
	lm *l = impl;
	if (n == 0)
		return PG_OK;
	memset(out, 0, n * sizeof(*out));
	MDB_dbi dbi;
	int rc = lm_dbi_get(l, ns, false, &dbi);
	if (rc == MDB_NOTFOUND)
		return PG_OK;
	if (rc != 0)
		return lm_fail(l, rc, "open namespace", err, errlen);
	MDB_txn *t;
	if ((rc = lm_rtxn(l, &t)) != 0)
		return lm_fail(l, rc, "begin read", err, errlen);
	pg_status st = PG_OK;
	for (size_t i = 0; i < n && st == PG_OK; i++) {
		if (klens[i] == 0 || klens[i] > l->max_key)
			continue; /* cannot be there: zeros */
		MDB_val k = {.mv_size = klens[i], .mv_data = (void *)keys[i]}, v;
		rc = mdb_get(t, dbi, &k, &v);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc != 0)
			st = lm_fail(l, rc, "get", err, errlen);
		else if (v.mv_size != 16) {
			pg_errf(err, errlen, "store: namespace %s: %s", ns, NOT_A_PAIR);
			st = PG_ERR_IO;
		} else
			pair_decode(v.mv_data, &out[i]);
	}
	lm_rtxn_done(l, t);
	return st;
}

static pg_status lm_counters_add(void *impl, const char *ns, const void *const *keys,
				 const size_t *klens, size_t n, int64_t da, int64_t db, char *err,
				 size_t errlen)
{
	lm *l = impl;
	for (size_t i = 0; i < n; i++) {
		if (klens[i] == 0) {
			pg_errf(err, errlen, "store: empty key");
			return PG_ERR_INVALID;
		}
		pg_status st = lm_key(l, klens[i], err, errlen);
		if (st != PG_OK)
			return st;
	}
	if (n == 0)
		return PG_OK;
	MDB_dbi dbi;
	int rc = lm_dbi_get(l, ns, true, &dbi);
	if (rc != 0)
		return lm_fail(l, rc, "create namespace", err, errlen);
	MDB_txn *t;
	if ((rc = mdb_txn_begin(l->env, NULL, 0, &t)) != 0)
		return lm_fail(l, rc, "begin write", err, errlen);
	MDB_cursor *c;
	if ((rc = mdb_cursor_open(t, dbi, &c)) != 0) {
		mdb_txn_abort(t);
		return lm_fail(l, rc, "cursor", err, errlen);
	}
	/* The whole batch in one write transaction: a reader sees all of a
	 * message's tokens learned or none, and one commit (one fsync) pays
	 * for the batch. */
	const char *what = "update";
	for (size_t i = 0; i < n && rc == 0; i++) {
		MDB_val k = {.mv_size = klens[i], .mv_data = (void *)keys[i]}, v;
		pg_counter_pair p = {0, 0};
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY);
		bool found = rc == 0;
		if (rc != 0 && rc != MDB_NOTFOUND)
			break;
		if (found) {
			if (v.mv_size != 16) {
				mdb_cursor_close(c);
				mdb_txn_abort(t);
				pg_errf(err, errlen, "store: namespace %s: %s", ns, NOT_A_PAIR);
				return PG_ERR_IO;
			}
			pair_decode(v.mv_data, &p);
		}
		p.a = clamp_add(p.a, da);
		p.b = clamp_add(p.b, db);
		unsigned char buf[16];
		pair_encode(&p, buf);
		MDB_val nv = {.mv_size = 16, .mv_data = buf};
		if (p.a == 0 && p.b == 0)
			/* A pair back at zero is the same as an absent one: drop
			 * it, so unlearning gives the space back. */
			rc = found ? mdb_cursor_del(c, 0) : 0;
		else if (found)
			rc = mdb_cursor_put(c, &k, &nv, MDB_CURRENT);
		else
			rc = mdb_cursor_put(c, &k, &nv, 0);
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(t);
		return lm_fail(l, rc, what, err, errlen);
	}
	if ((rc = mdb_txn_commit(t)) != 0)
		return lm_fail(l, rc, "commit", err, errlen);
	return PG_OK;
}

static void lm_close(void *impl)
{
	lm *l = impl;
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->npool; i++)
		mdb_txn_abort(l->pool[i]);
	if (l->env != NULL)
		mdb_env_close(l->env);
	pthread_mutex_destroy(&l->dbilock);
	pthread_mutex_destroy(&l->poollock);
	free(l);
}

/* mkdir -p with mode 0750 for what it creates; existing directories are
 * left as they are (an administrator may have chosen other rights). */
static int mkdirs(const char *path, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(buf)) {
		pg_errf(err, errlen, "state_dir: bad path");
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, 0750) != 0 && errno != EEXIST) {
			pg_errf(err, errlen, "cannot create %s: %s", buf, strerror(errno));
			return -1;
		}
		buf[i] = c;
	}
	struct stat sb;
	if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		pg_errf(err, errlen, "state_dir %s is not a directory", path);
		return -1;
	}
	return 0;
}

static pg_status lm_open(const pg_config *cfg, void **out, char *err, size_t errlen)
{
	const char *dir = pg_cfg_str(cfg, "state_dir", NULL);
	if (dir == NULL || dir[0] == '\0') {
		pg_errf(err, errlen, "state_dir is not set");
		return PG_ERR_CONFIG;
	}
	int64_t map = pg_cfg_int(cfg, "store.lmdb_map_size", 1 << 30);
	if (map < (int64_t)MIN_MAP_SIZE || (uint64_t)map > (uint64_t)SIZE_MAX / 2) {
		pg_errf(err, errlen, "store.lmdb_map_size: %lld out of range (at least %u)",
			(long long)map, MIN_MAP_SIZE);
		return PG_ERR_CONFIG;
	}
	if (mkdirs(dir, err, errlen) != 0)
		return PG_ERR_IO;
	lm *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return PG_ERR_NOMEM;
	pthread_mutex_init(&l->dbilock, NULL);
	pthread_mutex_init(&l->poollock, NULL);
	atomic_init(&l->ndbis, 0);
	l->map_size = (size_t)map;
	int rc = mdb_env_create(&l->env);
	if (rc != 0) {
		l->env = NULL;
		lm_close(l);
		pg_errf(err, errlen, "store: %s", mdb_strerror(rc));
		return PG_ERR_NOMEM;
	}
	if ((rc = mdb_env_set_maxdbs(l->env, MAX_DBS)) != 0 ||
	    (rc = mdb_env_set_mapsize(l->env, l->map_size)) != 0) {
		lm_close(l);
		pg_errf(err, errlen, "store: %s", mdb_strerror(rc));
		return PG_ERR_CONFIG;
	}
	/* MDB_NOTLS: read transactions belong to their object, not to the
	 * thread (the pool hands them across threads).  MDB_NORDAHEAD: token
	 * lookups are random; read-ahead would only fill the page cache with
	 * pages nobody asked for once the file outgrows memory.
	 * MDB_NOMETASYNC: one flush per commit instead of two; a power cut
	 * may lose the last committed transaction but never corrupts the
	 * file -- the right trade for counters and signatures that a
	 * learning run writes thousands of times. */
	rc = mdb_env_open(l->env, dir, MDB_NOTLS | MDB_NORDAHEAD | MDB_NOMETASYNC, 0640);
	if (rc != 0) {
		lm_close(l);
		pg_errf(err, errlen, "cannot open the store in %s: %s", dir, mdb_strerror(rc));
		return PG_ERR_IO;
	}
	/* A process that died inside a read transaction leaves its reader
	 * slot behind, which would pin old pages (the file grows) until
	 * cleared. */
	int dead = 0;
	(void)mdb_reader_check(l->env, &dead);
	/* The file may be larger than the configured map (raised earlier):
	 * LMDB then maps the file's size; report that one when full. */
	MDB_envinfo info;
	if (mdb_env_info(l->env, &info) == 0 && info.me_mapsize > l->map_size)
		l->map_size = info.me_mapsize;
	l->max_key = (size_t)mdb_env_get_maxkeysize(l->env);
	*out = l;
	return PG_OK;
}

static const store_ops lmdb_ops = {
	.name = "lmdb",
	.close = lm_close,
	.get = lm_get,
	.put = lm_put,
	.del = lm_del,
	.each = lm_each,
	.counters_get = lm_counters_get,
	.counters_add = lm_counters_add,
};

/* ---- dispatch ---------------------------------------------------------- */

pg_status pg_store_open(const pg_config *cfg, pg_store **out, char *err, size_t errlen)
{
	*out = NULL;
	const char *backend = pg_cfg_str(cfg, "store.backend", "lmdb");
	const store_ops *ops;
	if (strcmp(backend, "lmdb") == 0) {
		ops = &lmdb_ops;
	} else if (strcmp(backend, "redis") == 0) {
		pg_errf(err, errlen, "store.backend \"redis\": not built yet");
		return PG_ERR_CONFIG;
	} else {
		pg_errf(err, errlen, "store.backend \"%s\": unknown (lmdb or redis)", backend);
		return PG_ERR_CONFIG;
	}
	pg_store *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		pg_errf(err, errlen, "out of memory");
		return PG_ERR_NOMEM;
	}
	pthread_mutex_init(&s->errlock, NULL);
	s->ops = ops;
	pg_status st = PG_ERR_CONFIG;
	if (ops == &lmdb_ops)
		st = lm_open(cfg, &s->impl, err, errlen);
	if (st != PG_OK) {
		pthread_mutex_destroy(&s->errlock);
		free(s);
		return st;
	}
	*out = s;
	return PG_OK;
}

void pg_store_close(pg_store *s)
{
	if (s == NULL)
		return;
	s->ops->close(s->impl);
	pthread_mutex_destroy(&s->errlock);
	free(s);
}

const char *pg_store_backend(const pg_store *s)
{
	return s->ops->name;
}

pg_status pg_store_get(pg_store *s, const char *ns, const void *key, size_t klen, void **val,
		       size_t *vlen)
{
	if (val == NULL || vlen == NULL)
		return PG_ERR_INVALID;
	*val = NULL;
	*vlen = 0;
	pg_status st = check(s, ns, key, klen, true);
	if (st != PG_OK)
		return st;
	char err[256] = "";
	return keep_err(s, s->ops->get(s->impl, ns, key, klen, val, vlen, err, sizeof(err)), err);
}

pg_status pg_store_put(pg_store *s, const char *ns, const void *key, size_t klen, const void *val,
		       size_t vlen)
{
	pg_status st = check(s, ns, key, klen, true);
	if (st != PG_OK)
		return st;
	if (val == NULL && vlen != 0)
		return keep_err(s, PG_ERR_INVALID, "store: NULL value");
	char err[256] = "";
	return keep_err(s, s->ops->put(s->impl, ns, key, klen, val, vlen, err, sizeof(err)), err);
}

pg_status pg_store_del(pg_store *s, const char *ns, const void *key, size_t klen)
{
	pg_status st = check(s, ns, key, klen, true);
	if (st != PG_OK)
		return st;
	char err[256] = "";
	return keep_err(s, s->ops->del(s->impl, ns, key, klen, err, sizeof(err)), err);
}

pg_status pg_store_each(pg_store *s, const char *ns, pg_store_each_fn fn, void *ctx)
{
	pg_status st = check(s, ns, NULL, 0, false);
	if (st != PG_OK)
		return st;
	if (fn == NULL)
		return keep_err(s, PG_ERR_INVALID, "store: no callback");
	char err[256] = "";
	return keep_err(s, s->ops->each(s->impl, ns, fn, ctx, err, sizeof(err)), err);
}

pg_status pg_store_counters_get(pg_store *s, const char *ns, const void *const *keys,
				const size_t *klens, size_t n, pg_counter_pair *out)
{
	pg_status st = check(s, ns, NULL, 0, false);
	if (st != PG_OK)
		return st;
	if (n > 0 && (keys == NULL || klens == NULL || out == NULL))
		return keep_err(s, PG_ERR_INVALID, "store: NULL batch");
	char err[256] = "";
	return keep_err(s, s->ops->counters_get(s->impl, ns, keys, klens, n, out, err, sizeof(err)),
			err);
}

pg_status pg_store_counters_add(pg_store *s, const char *ns, const void *const *keys,
				const size_t *klens, size_t n, int64_t da, int64_t db)
{
	pg_status st = check(s, ns, NULL, 0, false);
	if (st != PG_OK)
		return st;
	if (n > 0 && (keys == NULL || klens == NULL))
		return keep_err(s, PG_ERR_INVALID, "store: NULL batch");
	char err[256] = "";
	return keep_err(s,
			s->ops->counters_add(s->impl, ns, keys, klens, n, da, db, err, sizeof(err)),
			err);
}
