/*
 * analyser.h - the contract between the engine and the analysers.
 *
 * An analyser inspects one message and only adds symbols {name, weight,
 * detail}; none decides.  Each is a table of three functions:
 *
 *   init  at configuration load (and reload): read its settings, compile
 *         what it can (patterns, lists) into a state shared read-only by
 *         every scan; an error here refuses the configuration.
 *   run   once per message, from any thread, with the scan's context.
 *   free  when the configuration that made the state is released.
 *
 * Weights come from the configuration's "symbols" group: an analyser names
 * a symbol, the engine looks its weight up (pg_sym), so an administrator
 * retunes without touching code.  pg_sym_scaled lets an analyser scale the
 * configured weight (Bayes by its probability).
 */
#ifndef PG_SCAN_ANALYSER_H
#define PG_SCAN_ANALYSER_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/config.h"
#include "mime/msg.h"
#include "pec/classify.h"
#include "pecguard.h"
#include "util/arena.h"

typedef struct pg_store pg_store;

typedef struct pg_symbol {
	const char *name;
	double weight;
	const char *detail; /* may be NULL */
} pg_symbol;

/* The symbols of one scan, in the order they were added. */
typedef struct pg_symset {
	pg_symbol *v;
	size_t n, cap;
	pg_arena *arena;
} pg_symset;

typedef struct pg_actx {
	pg_arena *arena;              /* the scan's: free with the scan */
	const pg_msg *msg;            /* the content: postacert.eml for valid PEC, else top */
	const pg_msg *top;            /* the message as received */
	const pg_classification *cls; /* the PEC classification */
	const pg_config *cfg;         /* configuration snapshot of this scan */
	pg_store *store;              /* shared state, or NULL when none is configured */
	int64_t now;                  /* scan time (UTC seconds) */
	pg_symset *syms;              /* where pg_sym adds */
} pg_actx;

typedef struct pg_analyser {
	const char *name;
	pg_status (*init)(const pg_config *cfg, void **state, char *err, size_t errlen);
	void (*free)(void *state);
	pg_status (*run)(pg_actx *ax, void *state);
} pg_analyser;

/* Adds symbol name with its configured weight and a printf-style detail
 * (may be NULL).  A symbol added twice keeps the first weight and joins the
 * details.  Returns PG_OK or PG_ERR_NOMEM. */
pg_status pg_sym(pg_actx *ax, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4))) PG_WUR;
/* Same, with the configured weight multiplied by factor. */
pg_status pg_sym_scaled(pg_actx *ax, const char *name, double factor, const char *fmt, ...)
	__attribute__((format(printf, 4, 5))) PG_WUR;
/* Has the scan got this symbol already? */
bool pg_sym_has(const pg_actx *ax, const char *name);
/* Adds with an explicit weight, bypassing the configuration (the engine's
 * own symbols: antivirus verdicts, PEC checks). */
pg_status pg_symset_add(pg_symset *set, const char *name, double weight, const char *detail) PG_WUR;
/* Sum of the weights. */
double pg_symset_score(const pg_symset *set);

#endif
