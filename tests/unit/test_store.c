/* Unit tests: src/engine/store.c (LMDB backend). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/config.h"
#include "engine/store.h"
#include "rmtree.h"

/* ---- helpers ------------------------------------------------------------ */

typedef struct fixture {
	char root[64];   /* made by the test, removed at the end */
	char state[128]; /* state_dir: root/state/db (not made: the store makes it) */
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	snprintf(f->root, sizeof(f->root), "/tmp/pg-test-store-XXXXXX");
	if (mkdtemp(f->root) == NULL)
		return -1;
	snprintf(f->state, sizeof(f->state), "%s/state/db", f->root);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	rm_rf(f->root);
	free(f);
	return 0;
}

static pg_config *config_for(const char *dir, long long map_size, const char *backend)
{
	char text[1024], map[64] = "";
	if (map_size > 0)
		snprintf(map, sizeof(map), "lmdb_map_size = %lld;", map_size);
	snprintf(text, sizeof(text), "state_dir = \"%s\";\nstore = { backend = \"%s\"; %s };\n",
		 dir, backend ? backend : "lmdb", map);
	pg_config *cfg = NULL;
	char err[512];
	if (pg_config_load_text(text, "test", NULL, 0, &cfg, err, sizeof(err)) != PG_OK) {
		fprintf(stderr, "config: %s\n", err);
		return NULL;
	}
	return cfg;
}

static pg_store *open_store(const char *dir, long long map_size)
{
	pg_config *cfg = config_for(dir, map_size, NULL);
	assert_non_null(cfg);
	pg_store *s = NULL;
	char err[512] = "";
	pg_status st = pg_store_open(cfg, &s, err, sizeof(err));
	if (st != PG_OK)
		fprintf(stderr, "open: %s\n", err);
	assert_int_equal(st, PG_OK);
	pg_config_unref(cfg);
	return s;
}

static pg_status get_str(pg_store *s, const char *ns, const char *key, char *out, size_t outlen)
{
	void *v = NULL;
	size_t vl = 0;
	pg_status st = pg_store_get(s, ns, key, strlen(key), &v, &vl);
	out[0] = '\0';
	if (v != NULL) {
		snprintf(out, outlen, "%.*s", (int)vl, (const char *)v);
		free(v);
	} else if (st == PG_OK) {
		snprintf(out, outlen, "(absent)");
	}
	return st;
}

static pg_status put_str(pg_store *s, const char *ns, const char *key, const char *val)
{
	return pg_store_put(s, ns, key, strlen(key), val, strlen(val));
}

/* ---- records ------------------------------------------------------------ */

struct walk {
	char seen[16][32];
	int n;
	int stop_after;
};

static int walk_fn(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct walk *w = ctx;
	if (w->n < 16)
		snprintf(w->seen[w->n], sizeof(w->seen[0]), "%.*s=%.*s", (int)klen,
			 (const char *)key, (int)vlen, (const char *)val);
	w->n++;
	return w->stop_after && w->n >= w->stop_after;
}

static void records(void **state)
{
	fixture *f = *state;
	pg_store *s = open_store(f->state, 0);
	assert_string_equal(pg_store_backend(s), "lmdb");
	/* The store made state_dir, 0750. */
	struct stat sb;
	assert_int_equal(stat(f->state, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0750);

	char buf[64];
	/* Absent namespace, absent key: PG_OK and NULL. */
	assert_int_equal(get_str(s, "ob", "k", buf, sizeof(buf)), PG_OK);
	assert_string_equal(buf, "(absent)");
	assert_int_equal(pg_store_del(s, "ob", "k", 1), PG_OK);

	assert_int_equal(put_str(s, "ob", "beta", "2"), PG_OK);
	assert_int_equal(put_str(s, "ob", "alpha", "1"), PG_OK);
	assert_int_equal(put_str(s, "ob", "gamma", "3"), PG_OK);
	assert_int_equal(put_str(s, "ob", "beta", "two"), PG_OK); /* overwrite */
	assert_int_equal(get_str(s, "ob", "beta", buf, sizeof(buf)), PG_OK);
	assert_string_equal(buf, "two");
	assert_int_equal(get_str(s, "ob", "delta", buf, sizeof(buf)), PG_OK);
	assert_string_equal(buf, "(absent)");

	/* An empty value is a value. */
	assert_int_equal(pg_store_put(s, "ob", "empty", 5, NULL, 0), PG_OK);
	void *v = NULL;
	size_t vl = 99;
	assert_int_equal(pg_store_get(s, "ob", "empty", 5, &v, &vl), PG_OK);
	assert_non_null(v);
	assert_int_equal(vl, 0);
	free(v);

	/* Binary keys and values. */
	const unsigned char bk[4] = {0, 1, 0, 2}, bv[3] = {0xff, 0, 0x7f};
	assert_int_equal(pg_store_put(s, "bin", bk, 4, bv, 3), PG_OK);
	assert_int_equal(pg_store_get(s, "bin", bk, 4, &v, &vl), PG_OK);
	assert_int_equal(vl, 3);
	assert_memory_equal(v, bv, 3);
	free(v);

	/* each: key order, and stop on request. */
	struct walk w = {0};
	assert_int_equal(pg_store_each(s, "ob", walk_fn, &w), PG_OK);
	assert_int_equal(w.n, 4);
	assert_string_equal(w.seen[0], "alpha=1");
	assert_string_equal(w.seen[1], "beta=two");
	assert_string_equal(w.seen[2], "empty=");
	assert_string_equal(w.seen[3], "gamma=3");
	struct walk w2 = {.stop_after = 2};
	assert_int_equal(pg_store_each(s, "ob", walk_fn, &w2), PG_OK);
	assert_int_equal(w2.n, 2);
	struct walk w3 = {0};
	assert_int_equal(pg_store_each(s, "nothing-here", walk_fn, &w3), PG_OK);
	assert_int_equal(w3.n, 0);

	assert_int_equal(pg_store_del(s, "ob", "beta", 4), PG_OK);
	assert_int_equal(pg_store_del(s, "ob", "beta", 4), PG_OK); /* again: still OK */
	assert_int_equal(get_str(s, "ob", "beta", buf, sizeof(buf)), PG_OK);
	assert_string_equal(buf, "(absent)");

	/* Misuse is a typed status with a message. */
	assert_int_equal(put_str(s, "", "k", "v"), PG_ERR_INVALID);
	assert_int_equal(put_str(s, "bad ns", "k", "v"), PG_ERR_INVALID);
	assert_int_equal(pg_store_put(s, "ob", "", 0, "v", 1), PG_ERR_INVALID);
	char big[1024];
	memset(big, 'k', sizeof(big));
	assert_int_equal(pg_store_put(s, "ob", big, sizeof(big), "v", 1), PG_ERR_INVALID);
	pg_store_errmsg(s, buf, sizeof(buf));
	assert_non_null(strstr(buf, "key of 1024 bytes"));
	pg_store_close(s);
}

/* ---- counters ----------------------------------------------------------- */

static void counters(void **state)
{
	fixture *f = *state;
	pg_store *s = open_store(f->state, 0);
	const char *names[] = {"tok-a", "tok-b", "tok-c", "tok-d"};
	const void *keys[4];
	size_t klens[4];
	for (int i = 0; i < 4; i++) {
		keys[i] = names[i];
		klens[i] = strlen(names[i]);
	}
	pg_counter_pair out[4];
	/* Absent: zeros. */
	memset(out, 0x55, sizeof(out));
	assert_int_equal(pg_store_counters_get(s, "bayes", keys, klens, 4, out), PG_OK);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(out[i].a, 0);
		assert_int_equal(out[i].b, 0);
	}
	assert_int_equal(pg_store_counters_add(s, "bayes", keys, klens, 3, 2, 5), PG_OK);
	assert_int_equal(pg_store_counters_add(s, "bayes", keys + 1, klens + 1, 3, 1, 0), PG_OK);
	assert_int_equal(pg_store_counters_get(s, "bayes", keys, klens, 4, out), PG_OK);
	assert_int_equal(out[0].a, 2);
	assert_int_equal(out[0].b, 5);
	assert_int_equal(out[1].a, 3);
	assert_int_equal(out[1].b, 5);
	assert_int_equal(out[2].a, 3);
	assert_int_equal(out[3].a, 1);
	assert_int_equal(out[3].b, 0);

	/* Clamp at zero, per counter. */
	assert_int_equal(pg_store_counters_add(s, "bayes", keys, klens, 4, -2, -10), PG_OK);
	assert_int_equal(pg_store_counters_get(s, "bayes", keys, klens, 4, out), PG_OK);
	assert_int_equal(out[0].a, 0);
	assert_int_equal(out[0].b, 0);
	assert_int_equal(out[1].a, 1);
	assert_int_equal(out[1].b, 0);
	assert_int_equal(out[3].a, 0);
	/* A pair back at (0, 0) is dropped: only tok-b and tok-c remain. */
	struct walk w = {0};
	assert_int_equal(pg_store_each(s, "bayes", walk_fn, &w), PG_OK);
	assert_int_equal(w.n, 2);
	/* Below zero from absent stays absent. */
	assert_int_equal(pg_store_counters_add(s, "bayes", keys, klens, 1, -1, -1), PG_OK);
	assert_int_equal(pg_store_counters_get(s, "bayes", keys, klens, 1, out), PG_OK);
	assert_int_equal(out[0].a, 0);

	/* A key twice in one batch counts twice. */
	const void *dup[2] = {"x", "x"};
	size_t dl[2] = {1, 1};
	assert_int_equal(pg_store_counters_add(s, "cnt", dup, dl, 2, 1, 0), PG_OK);
	assert_int_equal(pg_store_counters_get(s, "cnt", dup, dl, 1, out), PG_OK);
	assert_int_equal(out[0].a, 2);

	/* Saturation instead of overflow. */
	assert_int_equal(pg_store_counters_add(s, "cnt", dup, dl, 1, INT64_MAX, 0), PG_OK);
	assert_int_equal(pg_store_counters_get(s, "cnt", dup, dl, 1, out), PG_OK);
	assert_true(out[0].a == INT64_MAX);

	/* Stored as 16 bytes, little-endian: a record read shows the layout. */
	void *v = NULL;
	size_t vl = 0;
	assert_int_equal(pg_store_get(s, "bayes", "tok-b", 5, &v, &vl), PG_OK);
	assert_int_equal(vl, 16);
	const unsigned char expect[16] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	assert_memory_equal(v, expect, 16);
	free(v);

	/* A record that is not a pair is an error, not garbage counts. */
	assert_int_equal(put_str(s, "cnt", "rec", "hello"), PG_OK);
	const void *rk[1] = {"rec"};
	size_t rl[1] = {3};
	assert_int_equal(pg_store_counters_get(s, "cnt", rk, rl, 1, out), PG_ERR_IO);
	assert_int_equal(pg_store_counters_add(s, "cnt", rk, rl, 1, 1, 1), PG_ERR_IO);
	/* Empty batch. */
	assert_int_equal(pg_store_counters_add(s, "cnt", NULL, NULL, 0, 1, 1), PG_OK);
	assert_int_equal(pg_store_counters_get(s, "cnt", NULL, NULL, 0, NULL), PG_OK);
	pg_store_close(s);
}

static void namespaces_isolated(void **state)
{
	fixture *f = *state;
	pg_store *s = open_store(f->state, 0);
	char buf[64];
	assert_int_equal(put_str(s, "ns1", "k", "one"), PG_OK);
	assert_int_equal(put_str(s, "ns2", "k", "two"), PG_OK);
	assert_int_equal(get_str(s, "ns1", "k", buf, sizeof(buf)), PG_OK);
	assert_string_equal(buf, "one");
	assert_int_equal(get_str(s, "ns2", "k", buf, sizeof(buf)), PG_OK);
	assert_string_equal(buf, "two");
	assert_int_equal(get_str(s, "ns3", "k", buf, sizeof(buf)), PG_OK);
	assert_string_equal(buf, "(absent)");
	const void *keys[1] = {"k"};
	size_t kl[1] = {1};
	assert_int_equal(pg_store_counters_add(s, "c1", keys, kl, 1, 7, 0), PG_OK);
	pg_counter_pair out[1];
	assert_int_equal(pg_store_counters_get(s, "c2", keys, kl, 1, out), PG_OK);
	assert_int_equal(out[0].a, 0);
	assert_int_equal(pg_store_del(s, "ns1", "k", 1), PG_OK);
	assert_int_equal(get_str(s, "ns2", "k", buf, sizeof(buf)), PG_OK);
	assert_string_equal(buf, "two");
	struct walk w = {0};
	assert_int_equal(pg_store_each(s, "ns2", walk_fn, &w), PG_OK);
	assert_int_equal(w.n, 1);

	/* At most 32 namespaces, and a clear error past them. */
	pg_status st = PG_OK;
	for (int i = 0; i < 40 && st == PG_OK; i++) {
		char ns[16];
		snprintf(ns, sizeof(ns), "many%d", i);
		st = put_str(s, ns, "k", "v");
	}
	assert_int_equal(st, PG_ERR_IO);
	pg_store_errmsg(s, buf, sizeof(buf));
	assert_non_null(strstr(buf, "too many namespaces"));
	/* Namespaces opened before still work. */
	assert_int_equal(get_str(s, "ns2", "k", buf, sizeof(buf)), PG_OK);
	assert_string_equal(buf, "two");
	pg_store_close(s);
}

static void reopen_persists(void **state)
{
	fixture *f = *state;
	pg_store *s = open_store(f->state, 0);
	assert_int_equal(put_str(s, "meta", "version", "1"), PG_OK);
	const void *keys[2] = {"p", "q"};
	size_t kl[2] = {1, 1};
	assert_int_equal(pg_store_counters_add(s, "bayes", keys, kl, 2, 3, 4), PG_OK);
	pg_store_close(s);

	s = open_store(f->state, 0);
	char buf[64];
	assert_int_equal(get_str(s, "meta", "version", buf, sizeof(buf)), PG_OK);
	assert_string_equal(buf, "1");
	pg_counter_pair out[2];
	assert_int_equal(pg_store_counters_get(s, "bayes", keys, kl, 2, out), PG_OK);
	assert_int_equal(out[1].a, 3);
	assert_int_equal(out[1].b, 4);
	pg_store_close(s);
}

static void backends(void **state)
{
	fixture *f = *state;
	char err[256] = "";
	pg_store *s = NULL;
	pg_config *cfg = config_for(f->state, 0, "redis");
	assert_non_null(cfg);
	assert_int_equal(pg_store_open(cfg, &s, err, sizeof(err)), PG_ERR_CONFIG);
	assert_null(s);
	assert_non_null(strstr(err, "not built yet"));
	pg_config_unref(cfg);
	cfg = config_for(f->state, 0, "bdb");
	assert_int_equal(pg_store_open(cfg, &s, err, sizeof(err)), PG_ERR_CONFIG);
	assert_non_null(strstr(err, "unknown"));
	pg_config_unref(cfg);
	/* A map too small to be an LMDB file. */
	cfg = config_for(f->state, 4096, NULL);
	assert_int_equal(pg_store_open(cfg, &s, err, sizeof(err)), PG_ERR_CONFIG);
	pg_config_unref(cfg);
	/* state_dir that cannot be made. */
	cfg = config_for("/proc/pecguard-cannot", 0, NULL);
	assert_int_equal(pg_store_open(cfg, &s, err, sizeof(err)), PG_ERR_IO);
	assert_non_null(strstr(err, "cannot create"));
	pg_config_unref(cfg);
}

/* ---- map full ------------------------------------------------------------ */

static void map_full(void **state)
{
	fixture *f = *state;
	pg_store *s = open_store(f->state, 128 * 1024);
	char val[1000];
	memset(val, 'v', sizeof(val));
	pg_status st = PG_OK;
	int stored = 0;
	for (int i = 0; i < 1000 && st == PG_OK; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%04d", i);
		st = pg_store_put(s, "ob", key, strlen(key), val, sizeof(val));
		if (st == PG_OK)
			stored++;
	}
	assert_int_equal(st, PG_ERR_IO);
	assert_true(stored > 10);
	char msg[256];
	pg_store_errmsg(s, msg, sizeof(msg));
	assert_non_null(strstr(msg, "store full: raise store.lmdb_map_size"));

	/* A counter batch that does not fit is refused whole. */
	enum { N = 400 };
	char names[N][8];
	const void *keys[N];
	size_t kl[N];
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "c%05d", i);
		keys[i] = names[i];
		kl[i] = strlen(names[i]);
	}
	assert_int_equal(pg_store_counters_add(s, "ob", keys, kl, N, 1, 1), PG_ERR_IO);
	pg_counter_pair out[N];
	assert_int_equal(pg_store_counters_get(s, "ob", keys, kl, N, out), PG_OK);
	for (int i = 0; i < N; i++)
		assert_int_equal(out[i].a, 0);

	/* What was committed is intact and readable. */
	void *v = NULL;
	size_t vl = 0;
	assert_int_equal(pg_store_get(s, "ob", "k0000", 5, &v, &vl), PG_OK);
	assert_int_equal(vl, sizeof(val));
	free(v);
	pg_store_close(s);

	/* Following the advice works: a larger map, and writes go on. */
	s = open_store(f->state, 1024 * 1024);
	assert_int_equal(pg_store_put(s, "ob", "again", 5, val, sizeof(val)), PG_OK);
	assert_int_equal(pg_store_counters_add(s, "ob", keys, kl, N, 1, 1), PG_OK);
	assert_int_equal(pg_store_get(s, "ob", "k0001", 5, &v, &vl), PG_OK);
	assert_int_equal(vl, sizeof(val));
	free(v);
	pg_store_close(s);
}

/* ---- concurrency: threads ------------------------------------------------ */

enum { TKEYS = 64, WRITES = 300, READERS = 4 };

struct tshared {
	pg_store *s;
	const void *keys[TKEYS];
	size_t kl[TKEYS];
	char names[TKEYS][16];
	_Atomic int done;
	_Atomic int bad;
	_Atomic long reads;
};

static void *reader(void *arg)
{
	struct tshared *t = arg;
	pg_counter_pair out[TKEYS];
	int64_t last = 0;
	while (!t->done) {
		if (pg_store_counters_get(t->s, "bayes", t->keys, t->kl, TKEYS, out) != PG_OK) {
			t->bad = 1;
			break;
		}
		/* Every batch is one transaction: all keys move together, b is
		 * always twice a, and nothing goes backwards. */
		for (int i = 0; i < TKEYS; i++)
			if (out[i].a != out[0].a || out[i].b != 2 * out[i].a)
				t->bad = 2;
		if (out[0].a < last)
			t->bad = 3;
		last = out[0].a;
		t->reads++;
	}
	return NULL;
}

static void *writer(void *arg)
{
	struct tshared *t = arg;
	for (int i = 0; i < WRITES; i++)
		if (pg_store_counters_add(t->s, "bayes", t->keys, t->kl, TKEYS, 1, 2) != PG_OK) {
			t->bad = 4;
			break;
		}
	t->done = 1;
	return NULL;
}

static void threads(void **state)
{
	fixture *f = *state;
	struct tshared *t = calloc(1, sizeof(*t));
	t->s = open_store(f->state, 0);
	for (int i = 0; i < TKEYS; i++) {
		snprintf(t->names[i], sizeof(t->names[i]), "tok%03d", i);
		t->keys[i] = t->names[i];
		t->kl[i] = strlen(t->names[i]);
	}
	pthread_t r[READERS], w;
	for (int i = 0; i < READERS; i++)
		assert_int_equal(pthread_create(&r[i], NULL, reader, t), 0);
	assert_int_equal(pthread_create(&w, NULL, writer, t), 0);
	pthread_join(w, NULL);
	for (int i = 0; i < READERS; i++)
		pthread_join(r[i], NULL);
	assert_int_equal(t->bad, 0);
	assert_true(t->reads > 0);
	pg_counter_pair out[TKEYS];
	assert_int_equal(pg_store_counters_get(t->s, "bayes", t->keys, t->kl, TKEYS, out), PG_OK);
	assert_int_equal(out[TKEYS - 1].a, WRITES);
	assert_int_equal(out[TKEYS - 1].b, 2 * WRITES);
	pg_store_close(t->s);
	free(t);
}

/* ---- concurrency: another process ----------------------------------------- */

enum { PKEYS = 16, PWRITES = 200 };

static void pkeys(char names[PKEYS][16], const void **keys, size_t *kl)
{
	for (int i = 0; i < PKEYS; i++) {
		snprintf(names[i], 16, "proc%02d", i);
		keys[i] = names[i];
		kl[i] = strlen(names[i]);
	}
}

/* The child: its own process, its own environment handle on the same
 * files, writing while the parent reads. */
static int child_main(const char *dir)
{
	pg_config *cfg = config_for(dir, 0, NULL);
	pg_store *s = NULL;
	char err[256];
	if (cfg == NULL || pg_store_open(cfg, &s, err, sizeof(err)) != PG_OK)
		return 2;
	pg_config_unref(cfg);
	char names[PKEYS][16];
	const void *keys[PKEYS];
	size_t kl[PKEYS];
	pkeys(names, keys, kl);
	for (int i = 0; i < PWRITES; i++)
		if (pg_store_counters_add(s, "shared", keys, kl, PKEYS, 1, 3) != PG_OK)
			return 3;
	/* A namespace the parent has never seen. */
	if (put_str(s, "fromchild", "hello", "world") != PG_OK)
		return 4;
	pg_store_close(s);
	return 0;
}

static void two_processes(void **state)
{
	fixture *f = *state;
	pg_store *s = open_store(f->state, 0);
	char names[PKEYS][16];
	const void *keys[PKEYS];
	size_t kl[PKEYS];
	pkeys(names, keys, kl);
	char buf[64];
	/* The parent looks at the namespace first, so that it is absent. */
	assert_int_equal(get_str(s, "fromchild", "hello", buf, sizeof(buf)), PG_OK);
	assert_string_equal(buf, "(absent)");

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* LMDB handles must not cross fork(): start afresh. */
		execl("/proc/self/exe", "test_store", "--child", f->state, (char *)NULL);
		_exit(127);
	}
	int64_t last = 0;
	long reads = 0;
	int status = 0;
	pg_counter_pair out[PKEYS];
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		assert_int_equal(pg_store_counters_get(s, "shared", keys, kl, PKEYS, out), PG_OK);
		for (int i = 0; i < PKEYS; i++) {
			assert_int_equal(out[i].a, out[0].a);
			assert_int_equal(out[i].b, 3 * out[i].a);
		}
		assert_true(out[0].a >= last);
		last = out[0].a;
		reads++;
		if (w == pid)
			break;
		usleep(200);
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(out[0].a, PWRITES);
	assert_true(reads > 1);
	assert_int_equal(get_str(s, "fromchild", "hello", buf, sizeof(buf)), PG_OK);
	assert_string_equal(buf, "world");
	/* And the parent writes where the child wrote. */
	assert_int_equal(pg_store_counters_add(s, "shared", keys, kl, 1, 1, 0), PG_OK);
	assert_int_equal(pg_store_counters_get(s, "shared", keys, kl, 1, out), PG_OK);
	assert_int_equal(out[0].a, PWRITES + 1);
	pg_store_close(s);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--child") == 0)
		return child_main(argv[2]);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(records, setup, teardown),
		cmocka_unit_test_setup_teardown(counters, setup, teardown),
		cmocka_unit_test_setup_teardown(namespaces_isolated, setup, teardown),
		cmocka_unit_test_setup_teardown(reopen_persists, setup, teardown),
		cmocka_unit_test_setup_teardown(backends, setup, teardown),
		cmocka_unit_test_setup_teardown(map_full, setup, teardown),
		cmocka_unit_test_setup_teardown(threads, setup, teardown),
		cmocka_unit_test_setup_teardown(two_processes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
