#include "engine/engine.h"
#include "util/clocale.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <fcntl.h>
#include <gmime/gmime.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_once_t libs_once = PTHREAD_ONCE_INIT;

/* GMime and libxml2 keep process-wide tables that must be set up once,
 * from one thread, before any use: the one global initialisation. */
static void xml_silent(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static void libs_init(void)
{
	g_mime_init();
	xmlInitParser();
	/* libxml2 prints some errors (encoding conversions) through its
	 * generic handler even with XML_PARSE_NOERROR: hostile daticert.xml
	 * must not write to a daemon's stderr.  Errors are read from the
	 * parser context instead.  The ThrDef variants cover threads created
	 * later (the milter's). */
	xmlThrDefSetGenericErrorFunc(NULL, xml_silent);
	xmlSetGenericErrorFunc(NULL, xml_silent);
}

static const struct {
	const char *name;
	const char *text;
} status_table[PG_STATUS_COUNT] = {
	[PG_OK] = {"ok", "success"},
	[PG_ERR_NOMEM] = {"nomem", "out of memory"},
	[PG_ERR_IO] = {"io", "input/output error"},
	[PG_ERR_INVALID] = {"invalid", "invalid argument"},
	[PG_ERR_CONFIG] = {"config", "bad configuration"},
	[PG_ERR_INDEX] = {"index", "bad providers' index"},
	[PG_ERR_PARSE] = {"parse", "input could not be parsed"},
	[PG_ERR_TOO_BIG] = {"too-big", "message larger than the size limit"},
	[PG_ERR_HEADER_TOO_LONG] = {"header-too-long", "header over its size limit"},
	[PG_ERR_TOO_DEEP] = {"too-deep", "MIME nesting deeper than the limit"},
	[PG_ERR_TOO_MANY_PARTS] = {"too-many-parts", "more MIME parts than the limit"},
	[PG_ERR_TEMPFAIL] = {"tempfail", "a deciding check could not run"},
};

const char *pg_status_name(pg_status st)
{
	return (unsigned)st < PG_STATUS_COUNT ? status_table[st].name : "unknown";
}

const char *pg_status_str(pg_status st)
{
	return (unsigned)st < PG_STATUS_COUNT ? status_table[st].text : "unknown status";
}

const char *pg_class_name(pg_class c)
{
	static const char *const names[PG_CLASS_COUNT] = {
		[PG_CLASS_PEO] = "peo",
		[PG_CLASS_PEC_ENVELOPE] = "pec-envelope",
		[PG_CLASS_PEC_RECEIPT] = "pec-receipt",
		[PG_CLASS_PEC_ANOMALY] = "pec-anomaly",
		[PG_CLASS_INVALID_PEC] = "invalid-pec",
	};
	return (unsigned)c < PG_CLASS_COUNT ? names[c] : "unknown";
}

int pg_class_is_pec(pg_class c)
{
	return c == PG_CLASS_PEC_ENVELOPE || c == PG_CLASS_PEC_RECEIPT || c == PG_CLASS_PEC_ANOMALY;
}

static const pg_limits default_limits = {
	.max_message_size = 64u << 20,
	.max_header_field = 64u << 10,
	.max_header_block = 1u << 20,
	.max_depth = 32,
	.max_parts = 1000,
};

const char *pg_action_name(pg_action a)
{
	static const char *const names[PG_ACTION_COUNT] = {
		[PG_ACTION_NONE] = "none",
		[PG_ACTION_ADD_HEADER] = "add-header",
		[PG_ACTION_TAG_SUBJECT] = "tag-subject",
		[PG_ACTION_REJECT] = "reject",
		[PG_ACTION_TEMPFAIL] = "tempfail",
		[PG_ACTION_QUARANTINE] = "quarantine",
	};
	return (unsigned)a < PG_ACTION_COUNT ? names[a] : "unknown";
}

const char *pg_av_state_name(pg_av_state st)
{
	switch (st) {
	case PG_AV_NOT_SCANNED:
		return "not-scanned";
	case PG_AV_STATE_CLEAN:
		return "clean";
	case PG_AV_STATE_INFECTED:
		return "infected";
	case PG_AV_STATE_TEMPFAIL:
		return "tempfail";
	}
	return "unknown";
}

/* ---- runtime ----------------------------------------------------------- */

static pg_components *components_ref(pg_components *c)
{
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

static void components_unref(pg_components *c)
{
	if (c == NULL || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < c->nanalysers; i++)
		if (c->states && c->analysers[i]->free)
			c->analysers[i]->free(c->states[i]);
	free(c->states);
	pg_av_free(c->av);
	pg_policymap_free(c->policymap);
	pg_notice_key_free(c->notice);
	free(c);
}

static pg_components *components_new(void)
{
	pg_components *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	atomic_init(&c->refs, 1);
	snprintf(c->av_backend, sizeof(c->av_backend), "none");
	return c;
}

pg_runtime *pg_runtime_ref(pg_runtime *rt)
{
	atomic_fetch_add_explicit(&rt->refs, 1, memory_order_relaxed);
	return rt;
}

void pg_runtime_unref(pg_runtime *rt)
{
	if (rt == NULL || atomic_fetch_sub_explicit(&rt->refs, 1, memory_order_acq_rel) != 1)
		return;
	components_unref(rt->comp);
	pg_providers_unref(rt->providers);
	pg_config_unref(rt->cfg);
	free(rt);
}

static pg_runtime *runtime_new(void)
{
	pg_runtime *rt = calloc(1, sizeof(*rt));
	if (rt == NULL)
		return NULL;
	atomic_init(&rt->refs, 1);
	rt->limits = default_limits;
	rt->add_header = 3;
	rt->tag_subject = 5;
	rt->reject = 15;
	return rt;
}

pg_runtime *pg_engine_runtime(pg_engine *eng)
{
	pthread_mutex_lock(&eng->lock);
	pg_runtime *rt = pg_runtime_ref(eng->rt);
	pthread_mutex_unlock(&eng->lock);
	return rt;
}

/* A copy of the current runtime sharing every object (new references),
 * for changes of one cheap part.  Called with the lock held. */
static pg_runtime *runtime_clone(const pg_runtime *o)
{
	pg_runtime *rt = runtime_new();
	if (rt == NULL)
		return NULL;
	rt->limits = o->limits;
	rt->cfg = o->cfg ? pg_config_ref(o->cfg) : NULL;
	rt->providers = o->providers ? pg_providers_ref(o->providers) : NULL;
	rt->comp = o->comp ? components_ref(o->comp) : NULL;
	rt->add_header = o->add_header;
	rt->tag_subject = o->tag_subject;
	rt->reject = o->reject;
	rt->store = o->store;
	return rt;
}

pg_status pg_engine_new(pg_engine **out)
{
	pthread_once(&libs_once, libs_init);
	pg_engine *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return PG_ERR_NOMEM;
	if (pthread_mutex_init(&e->lock, NULL) != 0) {
		free(e);
		return PG_ERR_NOMEM;
	}
	e->rt = runtime_new();
	if (e->rt != NULL)
		e->rt->comp = components_new();
	if (e->rt == NULL || e->rt->comp == NULL ||
	    pg_providers_new_empty(&e->rt->providers) != PG_OK) {
		pg_runtime_unref(e->rt);
		pthread_mutex_destroy(&e->lock);
		free(e);
		return PG_ERR_NOMEM;
	}
	*out = e;
	return PG_OK;
}

static void free_overrides(pg_engine *eng)
{
	for (size_t i = 0; i < eng->noverrides; i++)
		free(eng->overrides[i]);
	free(eng->overrides);
	eng->overrides = NULL;
	eng->noverrides = 0;
}

void pg_engine_free(pg_engine *eng)
{
	if (eng == NULL)
		return;
	pg_runtime_unref(eng->rt);
	pg_store_close(eng->store);
	for (size_t i = 0; i < eng->nretired; i++)
		pg_store_close(eng->retired[i]);
	free(eng->retired);
	free(eng->store_key);
	free(eng->config_path);
	free_overrides(eng);
	pthread_mutex_destroy(&eng->lock);
	free(eng);
}

const char *pg_engine_errmsg(const pg_engine *eng)
{
	return eng->errmsg;
}

const char *pg_engine_config_source(const pg_engine *eng)
{
	pthread_mutex_lock((pthread_mutex_t *)&eng->lock);
	const char *s = eng->rt->cfg ? pg_config_source(eng->rt->cfg) : "built-in defaults";
	pthread_mutex_unlock((pthread_mutex_t *)&eng->lock);
	return s;
}

const char *pg_engine_av_backend(const pg_engine *eng)
{
	pthread_mutex_lock((pthread_mutex_t *)&eng->lock);
	const char *s = eng->rt->comp->av_backend;
	pthread_mutex_unlock((pthread_mutex_t *)&eng->lock);
	return s;
}

pg_status pg_engine_av_selfcheck(pg_engine *eng)
{
	pg_runtime *rt = pg_engine_runtime(eng);
	pg_status st = PG_OK;
	char err[512] = "";
	if (rt->comp != NULL && rt->comp->av != NULL)
		st = pg_av_selfcheck(rt->comp->av, err, sizeof(err));
	pg_runtime_unref(rt);
	if (st != PG_OK) {
		pthread_mutex_lock(&eng->lock);
		snprintf(eng->errmsg, sizeof(eng->errmsg), "antivirus self-check: %s", err);
		pthread_mutex_unlock(&eng->lock);
	}
	return st;
}

void pg_engine_notice_signer(pg_engine *eng, char *buf, size_t len)
{
	if (len == 0)
		return;
	buf[0] = '\0';
	pg_runtime *rt = pg_engine_runtime(eng);
	if (rt->comp != NULL && rt->comp->notice != NULL) {
		X509 *c = pg_notice_key_cert(rt->comp->notice);
		if (c != NULL)
			X509_NAME_oneline(X509_get_subject_name(c), buf, (int)(len > INT_MAX ? INT_MAX : len));
	}
	pg_runtime_unref(rt);
}

static pg_status check_limits(pg_engine *eng, pg_limits *l)
{
	if (l->max_message_size == 0)
		l->max_message_size = default_limits.max_message_size;
	if (l->max_header_field == 0)
		l->max_header_field = default_limits.max_header_field;
	if (l->max_header_block == 0)
		l->max_header_block = default_limits.max_header_block;
	if (l->max_depth == 0)
		l->max_depth = default_limits.max_depth;
	if (l->max_parts == 0)
		l->max_parts = default_limits.max_parts;
	if (l->max_depth > 1000 || l->max_parts > 1000000) {
		snprintf(eng->errmsg, sizeof(eng->errmsg),
			 "limits out of range: max_depth <= 1000, max_parts <= 1000000");
		return PG_ERR_INVALID;
	}
	return PG_OK;
}

pg_status pg_engine_set_limits(pg_engine *eng, const pg_limits *lim)
{
	pg_limits l = *lim;
	pg_status st = check_limits(eng, &l);
	if (st != PG_OK)
		return st;
	pthread_mutex_lock(&eng->lock);
	pg_runtime *nrt = runtime_clone(eng->rt), *old = eng->rt;
	if (nrt != NULL) {
		nrt->limits = l;
		eng->rt = nrt;
	}
	pthread_mutex_unlock(&eng->lock);
	if (nrt == NULL)
		return PG_ERR_NOMEM;
	pg_runtime_unref(old);
	return PG_OK;
}

void pg_engine_get_limits(const pg_engine *eng, pg_limits *out)
{
	pthread_mutex_lock((pthread_mutex_t *)&eng->lock);
	*out = eng->rt->limits;
	pthread_mutex_unlock((pthread_mutex_t *)&eng->lock);
}

size_t pg_engine_provider_count(const pg_engine *eng)
{
	pthread_mutex_lock((pthread_mutex_t *)&eng->lock);
	size_t n = pg_providers_count(eng->rt->providers);
	pthread_mutex_unlock((pthread_mutex_t *)&eng->lock);
	return n;
}

static pg_status read_file(const char *path, char **out, size_t *outlen, size_t max, char *err,
			   size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return PG_ERR_IO;
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return PG_ERR_IO;
	}
	if ((uint64_t)sb.st_size > max) {
		snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
		close(fd);
		return PG_ERR_INDEX;
	}
	size_t len = (size_t)sb.st_size;
	char *buf = malloc(len + 1);
	if (buf == NULL) {
		close(fd);
		return PG_ERR_NOMEM;
	}
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got != len) {
		snprintf(err, errlen, "%s: short read", path);
		free(buf);
		return PG_ERR_IO;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return PG_OK;
}

static pg_status load_providers(const char *path, pg_providers **out, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	pg_status st = read_file(path, &buf, &len, (size_t)64 << 20, err, errlen);
	if (st != PG_OK)
		return st;
	st = pg_providers_load(buf, len, path, out, err, errlen);
	free(buf);
	return st;
}

pg_status pg_engine_load_providers_mem(pg_engine *eng, const char *data, size_t len,
				       const char *name)
{
	pg_providers *np = NULL;
	pg_status st = pg_providers_load(data, len, name ? name : "(memory)", &np, eng->errmsg,
					 sizeof(eng->errmsg));
	if (st != PG_OK)
		return st; /* the current index stays */
	pthread_mutex_lock(&eng->lock);
	pg_runtime *nrt = runtime_clone(eng->rt), *old = eng->rt;
	if (nrt != NULL) {
		pg_providers_unref(nrt->providers);
		nrt->providers = np;
		eng->rt = nrt;
	}
	pthread_mutex_unlock(&eng->lock);
	if (nrt == NULL) {
		pg_providers_unref(np);
		return PG_ERR_NOMEM;
	}
	pg_runtime_unref(old);
	eng->errmsg[0] = '\0';
	return PG_OK;
}

pg_status pg_engine_load_providers(pg_engine *eng, const char *path)
{
	char *buf;
	size_t len;
	pg_status st =
		read_file(path, &buf, &len, (size_t)64 << 20, eng->errmsg, sizeof(eng->errmsg));
	if (st != PG_OK)
		return st;
	st = pg_engine_load_providers_mem(eng, buf, len, path);
	free(buf);
	return st;
}

/* ---- configuration --------------------------------------------------------- */

static char *store_key(const pg_config *cfg)
{
	const char *b = pg_cfg_str(cfg, "store.backend", "lmdb");
	const char *d = pg_cfg_str(cfg, "state_dir", "");
	const char *r = pg_cfg_str(cfg, "store.redis", "");
	size_t n = strlen(b) + strlen(d) + strlen(r) + 3;
	char *k = malloc(n);
	if (k != NULL)
		snprintf(k, n, "%s|%s|%s", b, d, r);
	return k;
}

static pg_status build_components(pg_engine *eng, const pg_config *cfg, pg_components **out)
{
	pg_components *c = components_new();
	if (c == NULL)
		return PG_ERR_NOMEM;
	const char *backend = pg_cfg_str(cfg, "antivirus.backend", "clamav");
	if (strcmp(backend, "none") != 0) {
		pg_av_limits lim = {
			.max_scan_size = (uint64_t)pg_cfg_int(cfg, "antivirus.max_scan_size", 0),
			.max_file_size = (uint64_t)pg_cfg_int(cfg, "antivirus.max_file_size", 0),
			.max_recursion = (unsigned)pg_cfg_int(cfg, "antivirus.max_recursion", 0),
			.max_files = (unsigned)pg_cfg_int(cfg, "antivirus.max_files", 0),
			.connect_timeout_ms =
				(unsigned)pg_cfg_int(cfg, "antivirus.connect_timeout_ms", 0),
			.io_timeout_ms = (unsigned)pg_cfg_int(cfg, "antivirus.io_timeout_ms", 0),
		};
		snprintf(lim.tmp_dir, sizeof(lim.tmp_dir), "%s",
			 pg_cfg_str(cfg, "antivirus.tmp_dir", ""));
		char err[512];
		pg_status st = pg_av_open(backend, pg_cfg_str(cfg, "antivirus.database", ""), &lim,
					  &c->av, err, sizeof(err));
		if (st != PG_OK) {
			snprintf(eng->errmsg, sizeof(eng->errmsg), "antivirus %s: %s", backend,
				 err);
			components_unref(c);
			return st;
		}
		snprintf(c->av_backend, sizeof(c->av_backend), "%s", pg_av_backend(c->av));
	}
	const char *map = pg_cfg_str(cfg, "policy.map", "");
	if (map[0] != '\0') {
		char err[768];
		pg_status st = pg_policymap_load(map, &c->policymap, err, sizeof(err));
		if (st != PG_OK) {
			snprintf(eng->errmsg, sizeof(eng->errmsg), "policy map: %s", err);
			components_unref(c);
			return st;
		}
		pg_policymap_set_delimiters(c->policymap,
					    pg_cfg_str(cfg, "policy.recipient_delimiter", "+"));
	}
	/* The key that signs virus notices: both files or neither.  The
	 * milter drops privileges before it builds the engine, so the key
	 * must be readable by milter.user. */
	const char *ncert = pg_cfg_str(cfg, "pec.notice_cert", "");
	const char *nkey = pg_cfg_str(cfg, "pec.notice_key", "");
	if (ncert[0] != '\0' || nkey[0] != '\0') {
		char err[768];
		pg_status st = ncert[0] == '\0' || nkey[0] == '\0'
				       ? PG_ERR_CONFIG
				       : pg_notice_key_load(ncert, nkey, &c->notice, err, sizeof(err));
		if (st != PG_OK) {
			if (ncert[0] == '\0' || nkey[0] == '\0')
				snprintf(err, sizeof(err),
					 "pec.notice_cert and pec.notice_key go together");
			snprintf(eng->errmsg, sizeof(eng->errmsg), "virus notices: %s", err);
			components_unref(c);
			return st;
		}
	}
	c->analysers = pg_analysers;
	c->states = calloc(pg_nanalysers ? pg_nanalysers : 1, sizeof(void *));
	if (c->states == NULL) {
		components_unref(c);
		return PG_ERR_NOMEM;
	}
	for (size_t i = 0; i < pg_nanalysers; i++) {
		const pg_analyser *an = pg_analysers[i];
		char err[512] = "";
		pg_status st = an->init ? an->init(cfg, &c->states[i], err, sizeof(err)) : PG_OK;
		if (st != PG_OK) {
			snprintf(eng->errmsg, sizeof(eng->errmsg), "%s: %s", an->name,
				 err[0] ? err : pg_status_str(st));
			c->nanalysers = i; /* free those made so far */
			components_unref(c);
			return st == PG_ERR_NOMEM ? st : PG_ERR_CONFIG;
		}
	}
	c->nanalysers = pg_nanalysers;
	*out = c;
	return PG_OK;
}

static pg_status build_runtime(pg_engine *eng, const char *path, char *const *ov, size_t nov,
			       pg_runtime **out)
{
	pg_config *cfg = NULL;
	pg_status st = pg_config_load(path, (const char *const *)ov, nov, &cfg, eng->errmsg,
				      sizeof(eng->errmsg));
	if (st != PG_OK)
		return st;
	pg_runtime *rt = runtime_new();
	if (rt == NULL) {
		pg_config_unref(cfg);
		return PG_ERR_NOMEM;
	}
	rt->cfg = cfg;
	pg_limits l = {
		.max_message_size = (size_t)pg_cfg_int(cfg, "limits.max_message_size", 0),
		.max_header_field = (size_t)pg_cfg_int(cfg, "limits.max_header_field", 0),
		.max_header_block = (size_t)pg_cfg_int(cfg, "limits.max_header_block", 0),
		.max_depth = (unsigned)pg_cfg_int(cfg, "limits.max_depth", 0),
		.max_parts = (unsigned)pg_cfg_int(cfg, "limits.max_parts", 0),
	};
	if ((st = check_limits(eng, &l)) != PG_OK)
		goto fail;
	rt->limits = l;
	rt->add_header = pg_cfg_float(cfg, "scoring.add_header", 3);
	rt->tag_subject = pg_cfg_float(cfg, "scoring.tag_subject", 5);
	rt->reject = pg_cfg_float(cfg, "scoring.reject", 15);
	if (!(rt->add_header <= rt->tag_subject && rt->tag_subject <= rt->reject)) {
		snprintf(eng->errmsg, sizeof(eng->errmsg),
			 "scoring: thresholds must grow: add_header <= tag_subject <= reject");
		st = PG_ERR_CONFIG;
		goto fail;
	}
	rt->subject_tag = pg_cfg_str(cfg, "scoring.subject_tag", "[SPAM] ");
	const char *prov = pg_cfg_str(cfg, "providers", "");
	if (prov[0] == '\0') {
		st = pg_providers_new_empty(&rt->providers);
	} else {
		char err[768];
		st = load_providers(prov, &rt->providers, err, sizeof(err));
		if (st != PG_OK) {
			snprintf(eng->errmsg, sizeof(eng->errmsg), "providers' index: %s", err);
			st = st == PG_ERR_NOMEM ? st : PG_ERR_INDEX;
		}
	}
	if (st != PG_OK)
		goto fail;
	st = build_components(eng, cfg, &rt->comp);
	if (st != PG_OK)
		goto fail;
	*out = rt;
	return PG_OK;
fail:
	pg_runtime_unref(rt);
	return st;
}

/* Opens (or keeps) the store the configuration names. */
static pg_status attach_store(pg_engine *eng, pg_runtime *rt)
{
	char *key = store_key(rt->cfg);
	if (key == NULL)
		return PG_ERR_NOMEM;
	pthread_mutex_lock(&eng->lock);
	bool same = eng->store != NULL && eng->store_key && strcmp(eng->store_key, key) == 0;
	pthread_mutex_unlock(&eng->lock);
	if (same) {
		free(key);
		rt->store = eng->store;
		return PG_OK;
	}
	pg_store *st = NULL;
	char err[768];
	pg_status r = pg_store_open(rt->cfg, &st, err, sizeof(err));
	if (r != PG_OK) {
		snprintf(eng->errmsg, sizeof(eng->errmsg), "store: %s", err);
		free(key);
		return r;
	}
	/* A store replaced by a new one stays open until the engine goes:
	 * scans still running may hold it. */
	pthread_mutex_lock(&eng->lock);
	if (eng->store != NULL) {
		pg_store **nv = realloc(eng->retired, (eng->nretired + 1) * sizeof(*nv));
		if (nv != NULL) {
			eng->retired = nv;
			eng->retired[eng->nretired++] = eng->store;
		}
	}
	eng->store = st;
	free(eng->store_key);
	eng->store_key = key;
	pthread_mutex_unlock(&eng->lock);
	rt->store = st;
	return PG_OK;
}

static pg_status configure_c(pg_engine *eng, const char *path, char *const *ov, size_t nov)
{
	pg_runtime *rt = NULL;
	pg_status st = build_runtime(eng, path, ov, nov, &rt);
	if (st != PG_OK)
		return st;
	st = attach_store(eng, rt);
	if (st != PG_OK) {
		pg_runtime_unref(rt);
		return st;
	}
	pthread_mutex_lock(&eng->lock);
	pg_runtime *old = eng->rt;
	eng->rt = rt;
	pthread_mutex_unlock(&eng->lock);
	pg_runtime_unref(old);
	eng->errmsg[0] = '\0';
	return PG_OK;
}

/* The configuration's numbers are read in the C locale (util/clocale.h). */
static pg_status configure(pg_engine *eng, const char *path, char *const *ov, size_t nov)
{
	locale_t prev = pg_c_locale_enter();
	pg_status st = configure_c(eng, path, ov, nov);
	pg_c_locale_leave(prev);
	return st;
}

pg_status pg_engine_configure(pg_engine *eng, const char *path, const char *const *overrides,
			      size_t n)
{
	char **ov = calloc(n ? n : 1, sizeof(*ov));
	char *p = path ? strdup(path) : NULL;
	if (ov == NULL || (path && p == NULL)) {
		free(ov);
		free(p);
		return PG_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		ov[i] = strdup(overrides[i]);
		if (ov[i] == NULL) {
			for (size_t k = 0; k < i; k++)
				free(ov[k]);
			free(ov);
			free(p);
			return PG_ERR_NOMEM;
		}
	}
	pg_status st = configure(eng, p, ov, n);
	if (st != PG_OK) {
		for (size_t i = 0; i < n; i++)
			free(ov[i]);
		free(ov);
		free(p);
		return st;
	}
	free(eng->config_path);
	free_overrides(eng);
	eng->config_path = p;
	eng->overrides = ov;
	eng->noverrides = n;
	return PG_OK;
}

pg_status pg_engine_reload(pg_engine *eng)
{
	return configure(eng, eng->config_path, eng->overrides, eng->noverrides);
}
