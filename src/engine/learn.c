/*
 * learn.c - teaching the statistical filter (pg_engine_learn).
 *
 * The message is parsed and classified as a scan would (no antivirus, no
 * analysers): for a valid PEC message it is the certified content that is
 * learned, as it is the content that analysers score.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "scan/bayes.h"

pg_status pg_engine_learn(pg_engine *eng, const void *data, size_t len, int spam, int unlearn)
{
	pg_runtime *rt = pg_engine_runtime(eng);
	pg_status st = PG_OK;
	if (rt->cfg == NULL || rt->store == NULL) {
		snprintf(eng->errmsg, sizeof(eng->errmsg),
			 "no state store: configure the engine (state_dir) first");
		pg_runtime_unref(rt);
		return PG_ERR_CONFIG;
	}
	pg_arena *a = pg_arena_new();
	if (a == NULL) {
		pg_runtime_unref(rt);
		return PG_ERR_NOMEM;
	}
	pg_limits lim = rt->limits;
	unsigned budget = lim.max_parts;
	pg_msg *m = NULL;
	char err[512];
	st = pg_msg_parse(a, data, len, &lim, 0, &budget, &m, err, sizeof(err));
	if (st != PG_OK) {
		snprintf(eng->errmsg, sizeof(eng->errmsg), "%s", err);
		goto out;
	}
	pg_classification cls;
	st = pg_classify(a, m, rt->providers, PG_TIME_NOW, 0, (int64_t)time(NULL), &cls);
	if (st != PG_OK)
		goto out;
	const pg_msg *content = pg_class_is_pec(cls.cls) && cls.inner ? cls.inner : m;
	err[0] = '\0';
	st = pg_bayes_learn(rt->store, rt->cfg, content, spam != 0, unlearn != 0, err, sizeof(err));
	/* On success too: what happened ("moved from spam to ham"). */
	snprintf(eng->errmsg, sizeof(eng->errmsg), "%s", err);
out:
	pg_arena_free(a);
	pg_runtime_unref(rt);
	return st;
}
