#include "engine/config.h"
#include "util/clocale.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"

struct pg_config {
	atomic_int refs;
	config_t cfg;
	char *source;
};

/* Groups whose members are open-ended: a file may add names the defaults
 * do not have (symbols of local rules, per-domain settings). */
static const char *const open_groups[] = {"symbols", NULL};

static bool is_open(const char *path)
{
	for (int i = 0; open_groups[i]; i++)
		if (strcmp(path, open_groups[i]) == 0)
			return true;
	return false;
}

static void setf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void setf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool numeric(int t)
{
	return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64 || t == CONFIG_TYPE_FLOAT;
}

static const char *type_name(int t)
{
	switch (t) {
	case CONFIG_TYPE_GROUP:
		return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a number";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array";
	case CONFIG_TYPE_LIST:
		return "a list";
	default:
		return "nothing";
	}
}

/* Deep copy of src as member name of dst (a group), or as an element of a
 * list/array when name is NULL. */
static int copy_setting(config_setting_t *dst, const char *name, const config_setting_t *src)
{
	int t = config_setting_type(src);
	config_setting_t *n = config_setting_add(dst, name, t);
	if (n == NULL)
		return -1;
	switch (t) {
	case CONFIG_TYPE_INT:
		return config_setting_set_int(n, config_setting_get_int(src)) ? 0 : -1;
	case CONFIG_TYPE_INT64:
		return config_setting_set_int64(n, config_setting_get_int64(src)) ? 0 : -1;
	case CONFIG_TYPE_FLOAT:
		return config_setting_set_float(n, config_setting_get_float(src)) ? 0 : -1;
	case CONFIG_TYPE_STRING:
		return config_setting_set_string(n, config_setting_get_string(src)) ? 0 : -1;
	case CONFIG_TYPE_BOOL:
		return config_setting_set_bool(n, config_setting_get_bool(src)) ? 0 : -1;
	default:
		for (int i = 0; i < config_setting_length(src); i++) {
			const config_setting_t *e = config_setting_get_elem(src, (unsigned)i);
			if (copy_setting(n, t == CONFIG_TYPE_GROUP ? config_setting_name(e) : NULL,
					 e) != 0)
				return -1;
		}
		return 0;
	}
}

/* Stores an integer into d, widening d to 64 bits when needed (the
 * default fit in 32 bits, the new value does not). */
static int set_int(config_setting_t *d, long long v)
{
	int dt = config_setting_type(d);
	if (dt == CONFIG_TYPE_FLOAT)
		return config_setting_set_float(d, (double)v) ? 0 : -1;
	if (dt == CONFIG_TYPE_INT64)
		return config_setting_set_int64(d, v) ? 0 : -1;
	if (v <= INT32_MAX && v >= INT32_MIN)
		return config_setting_set_int(d, (int)v) ? 0 : -1;
	config_setting_t *parent = config_setting_parent(d);
	char *name = strdup(config_setting_name(d));
	if (name == NULL)
		return -1;
	config_setting_remove_elem(parent, (unsigned)config_setting_index(d));
	config_setting_t *n = config_setting_add(parent, name, CONFIG_TYPE_INT64);
	free(name);
	return n && config_setting_set_int64(n, v) ? 0 : -1;
}

/* Copies the scalar value of u into d, converting numbers where no
 * precision is lost; -2 when a fraction is given for an integer. */
static int set_scalar(config_setting_t *d, const config_setting_t *u)
{
	int dt = config_setting_type(d), ut = config_setting_type(u);
	if (dt == CONFIG_TYPE_FLOAT) {
		double v = ut == CONFIG_TYPE_FLOAT ? config_setting_get_float(u)
						   : (double)config_setting_get_int64(u);
		return config_setting_set_float(d, v) ? 0 : -1;
	}
	if (dt == CONFIG_TYPE_INT || dt == CONFIG_TYPE_INT64)
		return ut == CONFIG_TYPE_FLOAT ? -2 : set_int(d, config_setting_get_int64(u));
	if (dt == CONFIG_TYPE_STRING)
		return config_setting_set_string(d, config_setting_get_string(u)) ? 0 : -1;
	if (dt == CONFIG_TYPE_BOOL)
		return config_setting_set_bool(d, config_setting_get_bool(u)) ? 0 : -1;
	return -1;
}

static int merge(config_setting_t *dg, const config_setting_t *ug, const char *prefix,
		 const char *file, bool add_new, char *err, size_t errlen)
{
	for (int i = 0; i < config_setting_length(ug); i++) {
		const config_setting_t *u = config_setting_get_elem(ug, (unsigned)i);
		const char *name = config_setting_name(u);
		char path[512];
		snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", name);
		config_setting_t *d = config_setting_get_member(dg, name);
		int line = (int)config_setting_source_line(u);
		if (d == NULL) {
			if (!add_new && !is_open(prefix)) {
				setf(err, errlen, "%s:%d: unknown setting '%s'", file, line, path);
				return -1;
			}
			if (copy_setting(dg, name, u) != 0) {
				setf(err, errlen, "%s:%d: cannot store '%s'", file, line, path);
				return -1;
			}
			continue;
		}
		int dt = config_setting_type(d), ut = config_setting_type(u);
		bool compatible = dt == ut || (numeric(dt) && numeric(ut)) ||
				  ((dt == CONFIG_TYPE_LIST || dt == CONFIG_TYPE_ARRAY) &&
				   (ut == CONFIG_TYPE_LIST || ut == CONFIG_TYPE_ARRAY));
		if (!compatible) {
			setf(err, errlen, "%s:%d: '%s' must be %s, not %s", file, line, path,
			     type_name(dt), type_name(ut));
			return -1;
		}
		if (dt == CONFIG_TYPE_GROUP) {
			if (merge(d, u, path, file, add_new, err, errlen) != 0)
				return -1;
		} else if (dt == CONFIG_TYPE_LIST || dt == CONFIG_TYPE_ARRAY) {
			/* A list in the file replaces the default list. */
			int idx = config_setting_index(d);
			config_setting_remove_elem(dg, (unsigned)idx);
			if (copy_setting(dg, name, u) != 0) {
				setf(err, errlen, "%s:%d: cannot store '%s'", file, line, path);
				return -1;
			}
		} else {
			int r = set_scalar(d, u);
			if (r != 0) {
				setf(err, errlen, "%s:%d: '%s' must be %s", file, line, path,
				     type_name(dt));
				return -1;
			}
		}
	}
	return 0;
}

static int apply_override(config_t *c, const char *ov, char *err, size_t errlen)
{
	const char *eq = strchr(ov, '=');
	if (eq == NULL || eq == ov) {
		setf(err, errlen, "override '%s': expected name=value", ov);
		return -1;
	}
	char key[256];
	size_t kl = (size_t)(eq - ov);
	while (kl > 0 && (ov[kl - 1] == ' '))
		kl--;
	if (kl >= sizeof(key)) {
		setf(err, errlen, "override '%s': name too long", ov);
		return -1;
	}
	memcpy(key, ov, kl);
	key[kl] = '\0';
	const char *val = eq + 1;
	while (*val == ' ')
		val++;
	config_setting_t *s = config_lookup(c, key);
	if (s == NULL) {
		setf(err, errlen, "unknown setting '%s'", key);
		return -1;
	}
	char *end = NULL;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_STRING: {
		size_t n = strlen(val);
		if (n >= 2 && val[0] == '"' && val[n - 1] == '"') {
			char *v = strndup(val + 1, n - 2);
			if (v == NULL)
				return -1;
			int ok = config_setting_set_string(s, v);
			free(v);
			return ok ? 0 : -1;
		}
		return config_setting_set_string(s, val) ? 0 : -1;
	}
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: {
		errno = 0;
		long long v = strtoll(val, &end, 0);
		if (errno || end == val || *end) {
			setf(err, errlen, "setting '%s': '%s' is not an integer", key, val);
			return -1;
		}
		return set_int(s, v);
	}
	case CONFIG_TYPE_FLOAT: {
		errno = 0;
		double v = pg_strtod_c(val, &end);
		if (errno || end == val || *end) {
			setf(err, errlen, "setting '%s': '%s' is not a number", key, val);
			return -1;
		}
		return config_setting_set_float(s, v) ? 0 : -1;
	}
	case CONFIG_TYPE_BOOL:
		if (pg_streq_ci(val, "true") || pg_streq_ci(val, "yes") || strcmp(val, "1") == 0)
			return config_setting_set_bool(s, 1) ? 0 : -1;
		if (pg_streq_ci(val, "false") || pg_streq_ci(val, "no") || strcmp(val, "0") == 0)
			return config_setting_set_bool(s, 0) ? 0 : -1;
		setf(err, errlen, "setting '%s': '%s' is not a boolean", key, val);
		return -1;
	default:
		setf(err, errlen, "setting '%s' is %s: set it in a file", key,
		     type_name(config_setting_type(s)));
		return -1;
	}
}

static pg_status load(const char *text, const char *path, const char *name, const char *const *ov,
		      size_t nov, pg_config **out, char *err, size_t errlen)
{
	pg_config *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return PG_ERR_NOMEM;
	atomic_init(&c->refs, 1);
	config_init(&c->cfg);
	config_set_options(&c->cfg, 0);
	if (!config_read_string(&c->cfg, pg_default_config_parts[0])) {
		setf(err, errlen, "built-in defaults:%d: %s", config_error_line(&c->cfg),
		     config_error_text(&c->cfg));
		goto fail;
	}
	/* The defaults of single analysers (etc/pecguard.d/) add settings. */
	for (int i = 1; pg_default_config_parts[i] != NULL; i++) {
		config_t f;
		config_init(&f);
		char fname[64];
		snprintf(fname, sizeof(fname), "built-in defaults part %d", i);
		if (!config_read_string(&f, pg_default_config_parts[i])) {
			setf(err, errlen, "%s:%d: %s", fname, config_error_line(&f),
			     config_error_text(&f));
			config_destroy(&f);
			goto fail;
		}
		int r = merge(config_root_setting(&c->cfg), config_root_setting(&f), "", fname,
			      true, err, errlen);
		config_destroy(&f);
		if (r != 0)
			goto fail;
	}
	if (text != NULL || path != NULL) {
		config_t u;
		config_init(&u);
		int ok = text ? config_read_string(&u, text) : config_read_file(&u, path);
		if (!ok) {
			if (config_error_type(&u) == CONFIG_ERR_FILE_IO)
				setf(err, errlen, "%s: cannot read: %s", name, strerror(errno));
			else
				setf(err, errlen, "%s:%d: %s", name, config_error_line(&u),
				     config_error_text(&u));
			config_destroy(&u);
			goto fail;
		}
		int r = merge(config_root_setting(&c->cfg), config_root_setting(&u), "", name,
			      false, err, errlen);
		config_destroy(&u);
		if (r != 0)
			goto fail;
	}
	for (size_t i = 0; i < nov; i++)
		if (apply_override(&c->cfg, ov[i], err, errlen) != 0)
			goto fail;
	c->source = strdup(path ? path : text ? name : "built-in defaults");
	if (c->source == NULL) {
		config_destroy(&c->cfg);
		free(c);
		return PG_ERR_NOMEM;
	}
	*out = c;
	return PG_OK;
fail:
	config_destroy(&c->cfg);
	free(c);
	return PG_ERR_CONFIG;
}

pg_status pg_config_load(const char *path, const char *const *overrides, size_t noverrides,
			 pg_config **out, char *err, size_t errlen)
{
	return load(NULL, path, path, overrides, noverrides, out, err, errlen);
}

pg_status pg_config_load_text(const char *text, const char *name, const char *const *overrides,
			      size_t noverrides, pg_config **out, char *err, size_t errlen)
{
	return load(text, NULL, name ? name : "(text)", overrides, noverrides, out, err, errlen);
}

pg_config *pg_config_ref(pg_config *c)
{
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

void pg_config_unref(pg_config *c)
{
	if (c == NULL || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	config_destroy(&c->cfg);
	free(c->source);
	free(c);
}

const char *pg_config_source(const pg_config *c)
{
	return c->source;
}

const config_setting_t *pg_cfg_setting(const pg_config *c, const char *path)
{
	return config_lookup(&c->cfg, path);
}

const char *pg_cfg_str(const pg_config *c, const char *path, const char *def)
{
	const char *v;
	return config_lookup_string(&c->cfg, path, &v) ? v : def;
}

int64_t pg_cfg_int(const pg_config *c, const char *path, int64_t def)
{
	const config_setting_t *s = config_lookup(&c->cfg, path);
	if (s == NULL)
		return def;
	if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
		return (int64_t)config_setting_get_float(s);
	return config_setting_get_int64(s);
}

double pg_cfg_float(const pg_config *c, const char *path, double def)
{
	const config_setting_t *s = config_lookup(&c->cfg, path);
	if (s == NULL)
		return def;
	if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
		return config_setting_get_float(s);
	return (double)config_setting_get_int64(s);
}

bool pg_cfg_bool(const pg_config *c, const char *path, bool def)
{
	int v;
	return config_lookup_bool(&c->cfg, path, &v) ? v != 0 : def;
}

size_t pg_cfg_count(const pg_config *c, const char *path)
{
	const config_setting_t *s = config_lookup(&c->cfg, path);
	return s && config_setting_is_aggregate(s) ? (size_t)config_setting_length(s) : 0;
}

const char *pg_cfg_elem_str(const pg_config *c, const char *path, size_t i)
{
	const config_setting_t *s = config_lookup(&c->cfg, path);
	if (s == NULL)
		return NULL;
	const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
	return e && config_setting_type(e) == CONFIG_TYPE_STRING ? config_setting_get_string(e)
								 : NULL;
}

double pg_cfg_symbol_weight(const pg_config *c, const char *name, bool *known)
{
	const config_setting_t *g = config_lookup(&c->cfg, "symbols");
	const config_setting_t *s = g ? config_setting_get_member(g, name) : NULL;
	if (s == NULL || !config_setting_is_number(s)) {
		if (known)
			*known = false;
		return 0;
	}
	if (known)
		*known = true;
	return config_setting_type(s) == CONFIG_TYPE_FLOAT ? config_setting_get_float(s)
							   : (double)config_setting_get_int64(s);
}
