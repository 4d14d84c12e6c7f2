#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "util/clocale.h"
#include "mime/text.h"
#include "scan/bayes.h"

/* This thread's CPU time in nanoseconds when the scan times its stages,
 * else 0 (every stage then adds 0). */
static uint64_t cpu_ns(const pg_scan *s)
{
	if (!s->time_stages)
		return 0;
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

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
	s->rt = pg_engine_runtime(eng);
	s->limits = s->rt->limits;
	pg_buf_init(&s->input, s->limits.max_message_size);
	s->time_mode = PG_TIME_NOW;
	s->syms.arena = s->arena;
	*out = s;
	return PG_OK;
}

void pg_scan_free(pg_scan *scan)
{
	if (scan == NULL)
		return;
	pg_arena_free(scan->arena);
	pg_buf_free(&scan->input);
	pg_runtime_unref(scan->rt);
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
			 "message larger than the limit of %zu bytes",
			 scan->limits.max_message_size);
	return st;
}

pg_status pg_scan_add_virus(pg_scan *s, const char *name, const char *part)
{
	if (s->nviruses == s->capviruses) {
		size_t cap = s->capviruses ? s->capviruses * 2 : 4;
		pg_virus *nv = pg_arena_alloc(s->arena, cap * sizeof(*nv));
		if (nv == NULL)
			return PG_ERR_NOMEM;
		if (s->nviruses)
			memcpy(nv, s->viruses, s->nviruses * sizeof(*nv));
		s->viruses = nv;
		s->capviruses = cap;
	}
	const char *n = pg_arena_strdup(s->arena, name);
	const char *p = pg_arena_strdup(s->arena, part ? part : "");
	if (n == NULL || p == NULL)
		return PG_ERR_NOMEM;
	s->viruses[s->nviruses++] = (pg_virus){.name = n, .part = p};
	s->av = PG_AV_STATE_INFECTED;
	return PG_OK;
}

/* What an analyser sees of this scan: for valid PEC, the original message
 * inside the envelope. */
static pg_actx scan_actx(pg_scan *s, int64_t now)
{
	return (pg_actx){
		.arena = s->arena,
		.msg = pg_scan_content(s),
		.top = s->msg,
		.cls = &s->cls,
		.cfg = s->rt->cfg,
		.store = s->rt->store,
		.now = now,
		.syms = &s->syms,
	};
}

/* The analysers add symbols; for valid PEC they inspect the original
 * message inside the envelope, and what they find is only information. */
static pg_status analyse(pg_scan *s, int64_t now)
{
	pg_runtime *rt = s->rt;
	if (rt->comp == NULL || rt->cfg == NULL || s->msg == NULL)
		return PG_OK;
	pg_actx ax = scan_actx(s, now);
	/* The text every analyser reads, built once (timed on its own). */
	uint64_t tt = cpu_ns(s);
	if (pg_msg_text(ax.msg) == NULL)
		return PG_ERR_NOMEM;
	s->stage_ns[PG_STAGE_TEXT] += cpu_ns(s) - tt;
	for (size_t i = 0; i < rt->comp->nanalysers; i++) {
		uint64_t t0 = cpu_ns(s);
		pg_status st = rt->comp->analysers[i]->run(&ax, rt->comp->states[i]);
		if (PG_STAGE_ANALYSERS + i < PG_STAGES_MAX)
			s->stage_ns[PG_STAGE_ANALYSERS + i] += cpu_ns(s) - t0;
		if (st == PG_ERR_NOMEM)
			return st;
		/* An analyser that fails on odd input adds nothing: the others'
		 * findings stand (deciding checks are the antivirus's). */
	}
	return PG_OK;
}

/* policy(class, antivirus, symbols) -> action.  The legal invariant lives
 * here: a valid PEC envelope, receipt or anomaly is never spam-tagged or
 * rejected for its score; only a virus stops it, and then it is held, not
 * refused, so that the provider can notify the sender's provider. */
static pg_action decide(const pg_scan *s)
{
	const pg_runtime *rt = s->rt;
	bool pec = pg_class_is_pec(s->cls.cls);
	if (s->av == PG_AV_STATE_INFECTED)
		return pec ? PG_ACTION_QUARANTINE : PG_ACTION_REJECT;
	if (s->av == PG_AV_STATE_TEMPFAIL)
		return PG_ACTION_TEMPFAIL;
	if (pec)
		return PG_ACTION_NONE;
	if (s->score >= rt->reject)
		return PG_ACTION_REJECT;
	if (s->score >= rt->tag_subject)
		return PG_ACTION_TAG_SUBJECT;
	if (s->score >= rt->add_header)
		return PG_ACTION_ADD_HEADER;
	return PG_ACTION_NONE;
}

static pg_status run_c(pg_scan *s)
{
	s->ran = true;
	s->budget = s->limits.max_parts;
	int64_t now = (int64_t)time(NULL);
	pg_status st;
	uint64_t t0 = cpu_ns(s);
	if (s->len > s->limits.max_message_size) {
		st = PG_ERR_TOO_BIG;
		snprintf(s->errmsg, sizeof(s->errmsg),
			 "message of %zu bytes, over the limit of %zu", s->len,
			 s->limits.max_message_size);
	} else {
		st = pg_msg_parse(s->arena, s->data, s->len, &s->limits, 0, &s->budget, &s->msg,
				  s->errmsg, sizeof(s->errmsg));
	}
	uint64_t t1 = cpu_ns(s);
	s->stage_ns[PG_STAGE_PARSE] += t1 - t0;
	if (st == PG_OK) {
		st = pg_classify(s->arena, s->msg, s->rt->providers, s->time_mode, s->at, now,
				 &s->cls);
	} else if (st != PG_ERR_NOMEM) {
		/* A limit or a parse failure: a safe class, never valid PEC. */
		s->msg = NULL;
		s->status = st;
		pg_status st2 =
			pg_classify_unparsed(s->arena, s->data, s->len, st, s->errmsg, &s->cls);
		if (st2 != PG_OK)
			st = st2;
	}
	if (st == PG_ERR_NOMEM) {
		snprintf(s->errmsg, sizeof(s->errmsg), "out of memory");
		s->status = st;
		return st;
	}
	uint64_t t2 = cpu_ns(s);
	s->stage_ns[PG_STAGE_CLASSIFY] += t2 - t1;
	/* The antivirus runs on everything, parsed or not. */
	if (s->rt->comp != NULL && s->rt->comp->av != NULL) {
		pg_status a = pg_avstage_run(s);
		if (a == PG_ERR_NOMEM)
			return s->status = a;
	}
	s->stage_ns[PG_STAGE_AV] += cpu_ns(s) - t2;
	pg_status a = analyse(s, now);
	if (a == PG_ERR_NOMEM)
		return s->status = a;
	s->score = pg_symset_score(&s->syms);
	s->action = decide(s);
	if (pg_scan_build_headers(s) == PG_ERR_NOMEM)
		return s->status = PG_ERR_NOMEM;
	if (st == PG_OK)
		s->status = PG_OK;
	return st;
}

/* Scores, weights and details are formatted in the C locale, whatever the
 * host program set (util/clocale.h). */
static pg_status run(pg_scan *s)
{
	locale_t prev = pg_c_locale_enter();
	pg_status st = run_c(s);
	pg_c_locale_leave(prev);
	return st;
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

pg_action pg_scan_action(const pg_scan *scan)
{
	return scan->action;
}

double pg_scan_score(const pg_scan *scan)
{
	return scan->score;
}

size_t pg_scan_symbol_count(const pg_scan *scan)
{
	return scan->syms.n;
}

const char *pg_scan_symbol(const pg_scan *scan, size_t i, double *weight, const char **detail)
{
	if (i >= scan->syms.n)
		return NULL;
	if (weight)
		*weight = scan->syms.v[i].weight;
	if (detail)
		*detail = scan->syms.v[i].detail;
	return scan->syms.v[i].name;
}

pg_status pg_scan_bayes_clues(pg_scan *s, pg_clue_fn fn, void *ctx, double *prob, int *ready)
{
	*prob = 0.5;
	*ready = 0;
	if (!s->ran)
		return PG_ERR_INVALID;
	pg_runtime *rt = s->rt;
	if (rt->comp == NULL || rt->cfg == NULL || s->msg == NULL)
		return PG_OK;
	for (size_t i = 0; i < rt->comp->nanalysers; i++) {
		if (strcmp(rt->comp->analysers[i]->name, "bayes") != 0)
			continue;
		pg_actx ax = scan_actx(s, (int64_t)time(NULL));
		bool r = false;
		pg_status st = pg_bayes_explain(&ax, rt->comp->states[i], fn, ctx, prob, &r);
		*ready = r;
		return st;
	}
	return PG_OK;
}

pg_av_state pg_scan_av(const pg_scan *scan)
{
	return scan->av;
}

size_t pg_scan_virus_count(const pg_scan *scan)
{
	return scan->nviruses;
}

const char *pg_scan_virus(const pg_scan *scan, size_t i, const char **part)
{
	if (i >= scan->nviruses)
		return NULL;
	if (part)
		*part = scan->viruses[i].part;
	return scan->viruses[i].name;
}

const char *pg_scan_av_error(const pg_scan *scan)
{
	return scan->av_error;
}
