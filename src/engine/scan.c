#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"

pg_status pg_scan_new(pg_engine *eng, pg_scan **out)
{
	pg_scan *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return PG_ERR_NOMEM;
	s->arena = pg_arena_new();
	if (s->arena == NULL) {
		free(s);
		return PG_ERR_NOMEM;
	}
	s->eng = eng;
	pg_engine_get_limits(eng, &s->limits);
	s->providers = pg_engine_providers(eng);
	pg_buf_init(&s->input, s->limits.max_message_size);
	s->time_mode = PG_TIME_NOW;
	*out = s;
	return PG_OK;
}

void pg_scan_free(pg_scan *scan)
{
	if (scan == NULL)
		return;
	pg_arena_free(scan->arena);
	pg_buf_free(&scan->input);
	pg_providers_unref(scan->providers);
	free(scan);
}

const char *pg_scan_errmsg(const pg_scan *scan)
{
	return scan->errmsg;
}

void pg_scan_set_time(pg_scan *scan, pg_time_mode mode, int64_t t)
{
	scan->time_mode = mode;
	scan->at = t;
}

pg_status pg_scan_write(pg_scan *scan, const void *data, size_t len)
{
	if (scan->ran) {
		snprintf(scan->errmsg, sizeof(scan->errmsg), "scan already run");
		return PG_ERR_INVALID;
	}
	pg_status st = pg_buf_append(&scan->input, data, len);
	if (st == PG_ERR_TOO_BIG)
		snprintf(scan->errmsg, sizeof(scan->errmsg),
			 "message larger than the limit of %zu bytes", scan->limits.max_message_size);
	return st;
}

static pg_status run(pg_scan *s)
{
	s->ran = true;
	s->budget = s->limits.max_parts;
	int64_t now = (int64_t)time(NULL);
	pg_status st;
	if (s->len > s->limits.max_message_size) {
		st = PG_ERR_TOO_BIG;
		snprintf(s->errmsg, sizeof(s->errmsg), "message of %zu bytes, over the limit of %zu",
			 s->len, s->limits.max_message_size);
	} else {
		st = pg_msg_parse(s->arena, s->data, s->len, &s->limits, 0, &s->budget, &s->msg,
				  s->errmsg, sizeof(s->errmsg));
	}
	if (st == PG_OK) {
		st = pg_classify(s->arena, s->msg, s->providers, s->time_mode, s->at, now, &s->cls);
		if (st == PG_ERR_NOMEM)
			snprintf(s->errmsg, sizeof(s->errmsg), "out of memory");
		s->status = st;
		return st;
	}
	/* A limit or a parse failure: a safe verdict, never a valid PEC class. */
	s->msg = NULL;
	s->status = st;
	if (st == PG_ERR_NOMEM)
		return st;
	pg_status st2 = pg_classify_unparsed(s->arena, s->data, s->len, st, s->errmsg, &s->cls);
	return st2 != PG_OK ? st2 : st;
}

pg_status pg_scan_run(pg_scan *scan)
{
	if (scan->ran) {
		snprintf(scan->errmsg, sizeof(scan->errmsg), "scan already run");
		return PG_ERR_INVALID;
	}
	scan->data = scan->input.data ? scan->input.data : "";
	scan->len = scan->input.len;
	return run(scan);
}

pg_status pg_scan_run_buffer(pg_scan *scan, const void *data, size_t len)
{
	if (scan->ran || scan->input.len > 0) {
		snprintf(scan->errmsg, sizeof(scan->errmsg), "scan already run or fed");
		return PG_ERR_INVALID;
	}
	scan->data = data ? data : "";
	scan->len = data ? len : 0;
	return run(scan);
}

pg_class pg_scan_class(const pg_scan *scan)
{
	return scan->cls.cls;
}

const char *pg_scan_pec_type(const pg_scan *scan)
{
	return scan->cls.pec_type;
}

pg_class pg_scan_claimed_class(const pg_scan *scan)
{
	return scan->cls.claimed;
}

const char *pg_scan_claimed_type(const pg_scan *scan)
{
	return scan->cls.claimed_type;
}

const char *pg_scan_provider(const pg_scan *scan)
{
	return scan->cls.provider ? scan->cls.provider->name : NULL;
}

size_t pg_scan_reason_count(const pg_scan *scan)
{
	return scan->cls.reasons.n;
}

const char *pg_scan_reason(const pg_scan *scan, size_t i)
{
	return i < scan->cls.reasons.n ? scan->cls.reasons.v[i] : NULL;
}

pg_status pg_scan_status(const pg_scan *scan)
{
	return scan->status;
}

const pg_msg *pg_scan_message(const pg_scan *scan)
{
	return scan->msg;
}

const pg_msg *pg_scan_content(const pg_scan *scan)
{
	if (pg_class_is_pec(scan->cls.cls) && scan->cls.inner != NULL)
		return scan->cls.inner;
	return scan->msg;
}
