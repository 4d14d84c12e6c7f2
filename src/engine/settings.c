/*
 * settings.c - the public, read-only face of a configuration.
 */
#include "engine/config.h"
#include "pecguard.h"

/* A pg_settings is a pg_config under its public name. */
pg_status pg_settings_load(const char *path, const char *const *overrides, size_t n,
			   pg_settings **out, char *err, size_t errlen)
{
	pg_config *c = NULL;
	pg_status st = pg_config_load(path, overrides, n, &c, err, errlen);
	if (st != PG_OK)
		return st;
	pg_settings *s = (pg_settings *)c; /* a config is its own settings */
	*out = s;
	return PG_OK;
}

void pg_settings_free(pg_settings *s)
{
	pg_config_unref((pg_config *)s);
}

const char *pg_settings_str(const pg_settings *s, const char *name, const char *def)
{
	return pg_cfg_str((const pg_config *)s, name, def);
}

int64_t pg_settings_int(const pg_settings *s, const char *name, int64_t def)
{
	return pg_cfg_int((const pg_config *)s, name, def);
}

int pg_settings_bool(const pg_settings *s, const char *name, int def)
{
	return pg_cfg_bool((const pg_config *)s, name, def != 0);
}
