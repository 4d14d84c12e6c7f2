#include "engine/policymap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"

struct entry {
	char *key; /* lower-case address or domain (no '@') */
	pg_mailbox_policy policy;
};

struct pg_policymap {
	struct entry *v;
	size_t n;
	char delims[16]; /* recipient_delimiter: "carol+x@" is carol@'s mailbox */
};

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->key, ((const struct entry *)b)->key);
}

void pg_policymap_free(pg_policymap *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].key);
	free(m->v);
	free(m);
}

size_t pg_policymap_count(const pg_policymap *m)
{
	return m ? m->n : 0;
}

static bool valid_key(const char *k)
{
	if (*k == '\0')
		return false;
	const char *at = strchr(k, '@');
	if (at != NULL && strchr(at + 1, '@') != NULL)
		return false;
	if (at != NULL && at[1] == '\0')
		return false;
	for (const char *p = k; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == ',')
			return false;
	return true;
}

pg_status pg_policymap_parse(const char *text, size_t len, const char *name, pg_policymap **out,
			     char *err, size_t errlen)
{
	pg_policymap *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return PG_ERR_NOMEM;
	size_t cap = 0;
	unsigned line = 0;
	size_t p = 0;
	while (p < len) {
		const char *nl = memchr(text + p, '\n', len - p);
		size_t le = nl ? (size_t)(nl - text) : len;
		line++;
		char buf[1024];
		size_t ll = le - p;
		if (ll >= sizeof(buf)) {
			snprintf(err, errlen, "%s:%u: line too long", name, line);
			goto fail;
		}
		memcpy(buf, text + p, ll);
		buf[ll] = '\0';
		p = le + 1;
		char *hash = strchr(buf, '#');
		if (hash)
			*hash = '\0';
		char *save = NULL;
		char *key = strtok_r(buf, " \t\r", &save);
		if (key == NULL)
			continue;
		char *pol = strtok_r(NULL, " \t\r", &save);
		char *extra = strtok_r(NULL, " \t\r", &save);
		if (pol == NULL || extra != NULL) {
			snprintf(err, errlen, "%s:%u: expected 'ADDRESS|@DOMAIN|DOMAIN POLICY'",
				 name, line);
			goto fail;
		}
		pg_mailbox_policy policy;
		if (pg_streq_ci(pol, "accept"))
			policy = PG_POLICY_ACCEPT;
		else if (pg_streq_ci(pol, "pec-only"))
			policy = PG_POLICY_PEC_ONLY;
		else {
			snprintf(err, errlen, "%s:%u: unknown policy '%.64s' (accept or pec-only)",
				 name, line, pol);
			goto fail;
		}
		if (key[0] == '@')
			key++;
		pg_strlower(key);
		if (!valid_key(key)) {
			snprintf(err, errlen, "%s:%u: '%.200s' is not an address or a domain", name,
				 line, key);
			goto fail;
		}
		if (m->n == cap) {
			cap = cap ? cap * 2 : 64;
			struct entry *nv = realloc(m->v, cap * sizeof(*nv));
			if (nv == NULL)
				goto nomem;
			m->v = nv;
		}
		m->v[m->n].key = strdup(key);
		if (m->v[m->n].key == NULL)
			goto nomem;
		m->v[m->n++].policy = policy;
	}
	/* An empty map (a file of comments) has no array: qsort and bsearch
	 * must not see its NULL. */
	if (m->n > 1)
		qsort(m->v, m->n, sizeof(*m->v), cmp_entry);
	for (size_t i = 1; i < m->n; i++) {
		if (strcmp(m->v[i].key, m->v[i - 1].key) == 0 &&
		    m->v[i].policy != m->v[i - 1].policy) {
			snprintf(err, errlen, "%s: '%.200s' is listed with two policies", name,
				 m->v[i].key);
			goto fail;
		}
	}
	*out = m;
	return PG_OK;
nomem:
	pg_policymap_free(m);
	return PG_ERR_NOMEM;
fail:
	pg_policymap_free(m);
	return PG_ERR_CONFIG;
}

pg_status pg_policymap_load(const char *path, pg_policymap **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return PG_ERR_CONFIG;
	}
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	size_t n;
	while (buf != NULL && (n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			if (cap >= (64u << 20)) {
				snprintf(err, errlen, "%s: larger than 64 MiB", path);
				free(buf);
				fclose(f);
				return PG_ERR_CONFIG;
			}
			char *nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf == NULL)
		return PG_ERR_NOMEM;
	pg_status st = pg_policymap_parse(buf, len, path, out, err, errlen);
	free(buf);
	return st;
}

static const struct entry *find(const pg_policymap *m, const char *key)
{
	struct entry k = {.key = (char *)key};
	if (m->n == 0)
		return NULL;
	return bsearch(&k, m->v, m->n, sizeof(*m->v), cmp_entry);
}

void pg_policymap_set_delimiters(pg_policymap *m, const char *delims)
{
	if (m != NULL)
		snprintf(m->delims, sizeof(m->delims), "%s", delims ? delims : "");
}

/* The address as the map's keys are written: no brackets, the local part
 * unquoted ("carol"@ and carol@ are one mailbox), lower case, no trailing
 * dot on the domain.  0, or -1 when it does not fit. */
static int normalise(const char *rcpt, char *a, size_t cap)
{
	size_t n;
	const char *t = pg_trim(rcpt, &n);
	if (n >= 2 && t[0] == '<' && t[n - 1] == '>') {
		t++;
		n -= 2;
	}
	size_t o = 0;
	bool quoted = false;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (c == '"') {
			quoted = !quoted;
			continue;
		}
		if (quoted && c == '\\' && i + 1 < n)
			c = t[++i];
		if (o + 1 >= cap)
			return -1;
		a[o++] = c;
	}
	while (o > 0 && a[o - 1] == '.')
		o--;
	a[o] = '\0';
	pg_strlower(a);
	return o > 0 ? 0 : -1;
}

pg_mailbox_policy pg_policymap_lookup(const pg_policymap *m, const char *rcpt)
{
	if (m == NULL || m->n == 0 || rcpt == NULL)
		return PG_POLICY_ACCEPT;
	char a[512];
	if (normalise(rcpt, a, sizeof(a)) != 0)
		return PG_POLICY_ACCEPT;
	const struct entry *e = find(m, a);
	if (e != NULL)
		return e->policy;
	char *at = strrchr(a, '@');
	/* An address extension reaches the same mailbox (Postfix's
	 * recipient_delimiter): carol+x@ is looked up as carol@. */
	if (at != NULL && m->delims[0] != '\0') {
		size_t cut = strcspn(a, m->delims);
		if (cut > 0 && a + cut < at) {
			char b[512];
			snprintf(b, sizeof(b), "%.*s%s", (int)cut, a, at);
			if ((e = find(m, b)) != NULL)
				return e->policy;
		}
	}
	if (at != NULL && (e = find(m, at + 1)) != NULL)
		return e->policy;
	return PG_POLICY_ACCEPT;
}
