/*
 * rules.h - the rules analyser: regular expressions from the configuration
 * over headers, the decoded text, the raw bytes and the URLs of a message.
 *
 * Rules are read from the lists "rules" (the shipped defaults,
 * etc/pecguard.d/rules.conf) and "local_rules" (the provider's own).  At
 * init every pattern of one kind of input is compiled into one Vectorscan
 * database, so that a message costs one scan per kind of input whatever the
 * number of rules; a pattern Vectorscan cannot compile (backreferences,
 * lookaround) runs on PCRE2 with JIT instead, for that rule only.  Rules
 * of type "meta" combine other rules' results.  docs/analysers/rules.md
 * gives the syntax.
 *
 * A fired rule adds a symbol named after it, with the rule's weight, or
 * the weight in the "symbols" group when that defines the name.  Rules
 * whose name starts with "__" are building blocks of meta rules and add no
 * symbol.
 */
#ifndef PG_SCAN_RULES_H
#define PG_SCAN_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "scan/analyser.h"

extern const pg_analyser pg_analyser_rules;

/* ---- introspection, for tests and bench/rulestat ------------------------- */

/* How a rule is matched. */
typedef enum pg_rule_engine {
	PG_RULE_VECTORSCAN = 0,
	PG_RULE_PCRE2, /* Vectorscan refused the pattern */
	PG_RULE_META
} pg_rule_engine;

/* Number of rules of a state made by pg_analyser_rules.init. */
size_t pg_rules_count(const void *state);
/* Name, type ("header", "body", ...) and effective weight of rule i. */
const char *pg_rules_name(const void *state, size_t i);
const char *pg_rules_type(const void *state, size_t i);
double pg_rules_weight(const void *state, size_t i);
/* The engine rule name runs on, or -1 when there is no such rule. */
int pg_rules_engine_of(const void *state, const char *name);
/* Runs every rule on ax's message and sets fired[i] (pg_rules_count
 * entries) for each rule that fired, "__" rules included; adds no symbol.
 * Returns PG_OK, PG_ERR_NOMEM, or PG_ERR_TEMPFAIL when a scan failed. */
pg_status pg_rules_eval(pg_actx *ax, void *state, bool *fired) PG_WUR;

#endif
