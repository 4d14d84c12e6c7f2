/*
 * engine.h - the engine's private layout, shared by the engine's files.
 */
#ifndef PG_ENGINE_ENGINE_H
#define PG_ENGINE_ENGINE_H

#include <pthread.h>
#include <stdbool.h>

#include "mime/msg.h"
#include "pec/classify.h"
#include "pec/providers.h"
#include "pecguard.h"
#include "util/arena.h"
#include "util/buf.h"

struct pg_engine {
	pthread_mutex_t lock;      /* guards the swap of shared objects */
	pg_providers *providers;   /* current index; scans hold their own ref */
	pg_limits limits;
	char errmsg[1024];
};

struct pg_scan {
	pg_engine *eng;
	pg_arena *arena;
	pg_providers *providers;   /* the index this scan started with */
	pg_limits limits;
	pg_time_mode time_mode;
	int64_t at;
	pg_buf input;              /* bytes pushed with pg_scan_write() */
	const char *data;
	size_t len;
	bool ran;
	pg_status status;
	char errmsg[512];
	unsigned budget;
	pg_msg *msg;
	pg_classification cls;
};

/* Takes a reference to the engine's current providers' index. */
pg_providers *pg_engine_providers(pg_engine *eng);

#endif
