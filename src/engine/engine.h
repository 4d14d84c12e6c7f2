/*
 * engine.h - the engine's private layout, shared by the engine's files.
 *
 * Everything a configuration builds lives in one pg_runtime: immutable,
 * reference-counted, swapped whole under the engine's lock on configure or
 * reload.  A scan takes a reference when it starts and keeps it to the end,
 * so a reload never changes the rules under a message in flight.  The state
 * store is long-lived (its files outlive configurations) and kept across
 * reloads unless its settings change.
 */
#ifndef PG_ENGINE_ENGINE_H
#define PG_ENGINE_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/config.h"
#include "engine/policymap.h"
#include "engine/store.h"
#include "mime/msg.h"
#include "pec/classify.h"
#include "pec/notice.h"
#include "pec/providers.h"
#include "pecguard.h"
#include "scan/analyser.h"
#include "scan/av.h"
#include "util/arena.h"
#include "util/buf.h"

/* What a configuration builds that is expensive or owns resources: the
 * antivirus and the analysers' compiled states.  Shared by runtimes that
 * differ only in cheap things (a new providers' index). */
typedef struct pg_components {
	atomic_int refs;
	pg_av *av; /* NULL: antivirus "none" */
	char av_backend[256];
	size_t nanalysers;
	const pg_analyser *const *analysers;
	void **states;           /* per analyser, from its init */
	pg_policymap *policymap; /* NULL: every mailbox accepts */
	pg_notice_key *notice;   /* pec.notice_key/cert; NULL: no virus notices */
} pg_components;

typedef struct pg_runtime {
	atomic_int refs;
	pg_config *cfg; /* NULL for an engine never configured */
	pg_limits limits;
	pg_providers *providers;
	pg_components *comp;
	double add_header, tag_subject, reject;
	const char *subject_tag; /* in cfg */
	pg_store *store;         /* borrowed from the engine; may be NULL */
} pg_runtime;

struct pg_engine {
	pthread_mutex_t lock; /* guards rt, store and the fields below */
	pg_runtime *rt;
	pg_store *store;    /* long-lived; NULL until configured */
	char *store_key;    /* the settings the store was opened with */
	pg_store **retired; /* stores replaced by a reconfiguration */
	size_t nretired;
	char *config_path;
	char **overrides;
	size_t noverrides;
	char errmsg[1024];
};

/* Stages timed in pg_scan.stage_ns. */
enum { PG_STAGE_PARSE = 0, PG_STAGE_CLASSIFY, PG_STAGE_AV, PG_STAGE_TEXT, PG_STAGE_ANALYSERS };
#define PG_STAGES_MAX 16

typedef struct pg_virus {
	const char *name;
	const char *part;
} pg_virus;

/* One object the antivirus looked at, and what it said. */
typedef struct pg_avpart {
	const char *part;
	const char *result; /* "clean", the virus name, or "error: why" */
} pg_avpart;

struct pg_scan {
	pg_engine *eng;
	pg_arena *arena;
	pg_runtime *rt; /* the configuration this scan started with */
	pg_limits limits;
	pg_time_mode time_mode;
	int64_t at;
	pg_buf input; /* bytes pushed with pg_scan_write() */
	const char *data;
	size_t len;
	bool ran;
	pg_status status;
	char errmsg[512];
	unsigned budget;
	pg_msg *msg;
	pg_classification cls;
	pg_symset syms;
	double score;
	pg_action action;
	pg_av_state av;
	const char *av_error;
	pg_virus *viruses;
	size_t nviruses, capviruses;
	pg_avpart *avparts;
	size_t navparts, capavparts;
	/* CPU time per stage (nanoseconds, this thread), for benchmarks:
	 * parse, classify, antivirus, then each analyser.  Measured only when
	 * time_stages is set (bench_scan sets it): reading a thread's CPU clock
	 * is a system call, ~0.3 us, 18 of them a message. */
	bool time_stages;
	uint64_t stage_ns[PG_STAGES_MAX];
	/* headers to add (pg_scan_header) and the tagged subject */
	const char *hdr_name[8];
	const char *hdr_value[8];
	size_t nhdr;
	const char *tagged_subject;
};

/* Builds the headers and the tagged subject of a decided scan. */
pg_status pg_scan_build_headers(pg_scan *s) PG_WUR;

pg_runtime *pg_runtime_ref(pg_runtime *rt);
void pg_runtime_unref(pg_runtime *rt);
/* Takes a reference to the engine's current runtime. */
pg_runtime *pg_engine_runtime(pg_engine *eng);

/* The antivirus stage: the whole message and every decoded leaf part
 * (nested messages and postacert.eml included), plus outbreak signatures. */
pg_status pg_avstage_run(pg_scan *s) PG_WUR;
pg_status pg_scan_add_virus(pg_scan *s, const char *name, const char *part) PG_WUR;

/* Outbreak signatures in the store: namespace and record format. */
#define PG_OUTBREAK_NS "outbreak"
/* Looks a SHA-256 up; *name (arena) when listed, else NULL. */
pg_status pg_outbreak_lookup(pg_store *st, pg_arena *a, const unsigned char sha256[32],
			     const char **name) PG_WUR;

/* The analysers, in the order they run. */
extern const pg_analyser *const pg_analysers[];
extern const size_t pg_nanalysers;

#endif
