#include "engine/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <gmime/gmime.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>
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
	e->limits = default_limits;
	pg_status st = pg_providers_new_empty(&e->providers);
	if (st != PG_OK) {
		pthread_mutex_destroy(&e->lock);
		free(e);
		return st;
	}
	*out = e;
	return PG_OK;
}

void pg_engine_free(pg_engine *eng)
{
	if (eng == NULL)
		return;
	pg_providers_unref(eng->providers);
	pthread_mutex_destroy(&eng->lock);
	free(eng);
}

const char *pg_engine_errmsg(const pg_engine *eng)
{
	return eng->errmsg;
}

pg_status pg_engine_set_limits(pg_engine *eng, const pg_limits *lim)
{
	pg_limits l = *lim;
	if (l.max_message_size == 0)
		l.max_message_size = default_limits.max_message_size;
	if (l.max_header_field == 0)
		l.max_header_field = default_limits.max_header_field;
	if (l.max_header_block == 0)
		l.max_header_block = default_limits.max_header_block;
	if (l.max_depth == 0)
		l.max_depth = default_limits.max_depth;
	if (l.max_parts == 0)
		l.max_parts = default_limits.max_parts;
	if (l.max_depth > 1000 || l.max_parts > 1000000) {
		snprintf(eng->errmsg, sizeof(eng->errmsg),
			 "limits out of range: max_depth <= 1000, max_parts <= 1000000");
		return PG_ERR_INVALID;
	}
	pthread_mutex_lock(&eng->lock);
	eng->limits = l;
	pthread_mutex_unlock(&eng->lock);
	return PG_OK;
}

void pg_engine_get_limits(const pg_engine *eng, pg_limits *out)
{
	pthread_mutex_lock((pthread_mutex_t *)&eng->lock);
	*out = eng->limits;
	pthread_mutex_unlock((pthread_mutex_t *)&eng->lock);
}

pg_providers *pg_engine_providers(pg_engine *eng)
{
	pthread_mutex_lock(&eng->lock);
	pg_providers *p = pg_providers_ref(eng->providers);
	pthread_mutex_unlock(&eng->lock);
	return p;
}

size_t pg_engine_provider_count(const pg_engine *eng)
{
	pthread_mutex_lock((pthread_mutex_t *)&eng->lock);
	size_t n = pg_providers_count(eng->providers);
	pthread_mutex_unlock((pthread_mutex_t *)&eng->lock);
	return n;
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
	pg_providers *old = eng->providers;
	eng->providers = np;
	pthread_mutex_unlock(&eng->lock);
	pg_providers_unref(old);
	eng->errmsg[0] = '\0';
	return PG_OK;
}

pg_status pg_engine_load_providers(pg_engine *eng, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(eng->errmsg, sizeof(eng->errmsg), "%s: %s", path, strerror(errno));
		return PG_ERR_IO;
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(eng->errmsg, sizeof(eng->errmsg), "%s: not a regular file", path);
		close(fd);
		return PG_ERR_IO;
	}
	if (sb.st_size > (off_t)64 << 20) {
		snprintf(eng->errmsg, sizeof(eng->errmsg), "%s: larger than 64 MiB", path);
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
		snprintf(eng->errmsg, sizeof(eng->errmsg), "%s: short read", path);
		free(buf);
		return PG_ERR_IO;
	}
	buf[len] = '\0';
	pg_status st = pg_engine_load_providers_mem(eng, buf, len, path);
	free(buf);
	return st;
}
