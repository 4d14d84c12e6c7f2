/*
 * registry.c - the analysers, in the order they run.
 *
 * Cheap, structural analysers first; Bayes last (it may weigh what the
 * others found in future versions).
 */
#include <stddef.h>

#include "engine/engine.h"

const pg_analyser *const pg_analysers[] = {
	NULL,
};
const size_t pg_nanalysers = 0;
