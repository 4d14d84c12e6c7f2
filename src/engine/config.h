/*
 * config.h - configuration: the built-in defaults (etc/pecguard.conf,
 * compiled in), a file read on top of them, and command-line overrides.
 *
 * libconfig parses; this module merges, checks every setting against the
 * defaults (unknown names and wrong types are errors that name the file
 * and line), and gives read-only access.  A pg_config is immutable and
 * reference-counted: a reload builds a new one while scans use the old.
 */
#ifndef PG_ENGINE_CONFIG_H
#define PG_ENGINE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

#include "pecguard.h"

typedef struct pg_config pg_config;

/* Loads the defaults, then path (NULL: none), then each override
 * "dotted.path=value" (the value is parsed as the setting's type).
 * Returns PG_ERR_CONFIG with "FILE:LINE: message" in err on error. */
pg_status pg_config_load(const char *path, const char *const *overrides, size_t noverrides,
			 pg_config **out, char *err, size_t errlen) PG_WUR;
/* Same, with the text of a file instead of a path (name for messages). */
pg_status pg_config_load_text(const char *text, const char *name, const char *const *overrides,
			      size_t noverrides, pg_config **out, char *err, size_t errlen) PG_WUR;
pg_config *pg_config_ref(pg_config *c);
void pg_config_unref(pg_config *c);

/* Where the configuration came from ("built-in defaults" or the path). */
const char *pg_config_source(const pg_config *c);

/* Typed lookups by dotted path ("antivirus.backend").  Absent settings
 * give def (NULL for strings).  Strings live as long as the config. */
const char *pg_cfg_str(const pg_config *c, const char *path, const char *def);
int64_t pg_cfg_int(const pg_config *c, const char *path, int64_t def);
double pg_cfg_float(const pg_config *c, const char *path, double def);
bool pg_cfg_bool(const pg_config *c, const char *path, bool def);
/* Lists and arrays: element count, and string elements. */
size_t pg_cfg_count(const pg_config *c, const char *path);
const char *pg_cfg_elem_str(const pg_config *c, const char *path, size_t i);
/* Raw access for structured lists (rules). */
const config_setting_t *pg_cfg_setting(const pg_config *c, const char *path);

/* The weight of a symbol in "symbols"; *known false (and 0) if absent. */
double pg_cfg_symbol_weight(const pg_config *c, const char *name, bool *known);

/* The built-in default configuration: etc/pecguard.conf then the
 * fragments of etc/pecguard.d/, NULL-terminated. */
extern const char *const pg_default_config_parts[];

#endif
