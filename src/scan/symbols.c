#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "scan/analyser.h"

static pg_symbol *find(pg_symset *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i].name, name) == 0)
			return &set->v[i];
	return NULL;
}

pg_status pg_symset_add(pg_symset *set, const char *name, double weight, const char *detail)
{
	pg_symbol *have = find(set, name);
	if (have != NULL) {
		/* Once per scan; a second finding adds its detail. */
		if (detail != NULL && detail[0] != '\0') {
			const char *d = have->detail && have->detail[0]
						? pg_arena_printf(set->arena, "%s; %s",
								  have->detail, detail)
						: pg_arena_strdup(set->arena, detail);
			if (d == NULL)
				return PG_ERR_NOMEM;
			have->detail = d;
		}
		return PG_OK;
	}
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 16;
		pg_symbol *nv = pg_arena_alloc(set->arena, cap * sizeof(*nv));
		if (nv == NULL)
			return PG_ERR_NOMEM;
		if (set->n)
			memcpy(nv, set->v, set->n * sizeof(*nv));
		set->v = nv;
		set->cap = cap;
	}
	const char *n = pg_arena_strdup(set->arena, name);
	const char *d = detail ? pg_arena_strdup(set->arena, detail) : NULL;
	if (n == NULL || (detail && d == NULL))
		return PG_ERR_NOMEM;
	set->v[set->n++] = (pg_symbol){.name = n, .weight = weight, .detail = d};
	return PG_OK;
}

static pg_status add_v(pg_actx *ax, const char *name, double factor, const char *fmt, va_list ap)
{
	bool known = false;
	double w = ax->cfg ? pg_cfg_symbol_weight(ax->cfg, name, &known) : 0;
	const char *d = NULL;
	if (fmt != NULL) {
		d = pg_arena_vprintf(ax->arena, fmt, ap);
		if (d == NULL)
			return PG_ERR_NOMEM;
	}
	return pg_symset_add(ax->syms, name, w * factor, d);
}

pg_status pg_sym(pg_actx *ax, const char *name, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pg_status st = add_v(ax, name, 1.0, fmt, ap);
	va_end(ap);
	return st;
}

pg_status pg_sym_scaled(pg_actx *ax, const char *name, double factor, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pg_status st = add_v(ax, name, factor, fmt, ap);
	va_end(ap);
	return st;
}

bool pg_sym_has(const pg_actx *ax, const char *name)
{
	return find(ax->syms, name) != NULL;
}

double pg_symset_score(const pg_symset *set)
{
	double s = 0;
	for (size_t i = 0; i < set->n; i++)
		s += set->v[i].weight;
	return s;
}
