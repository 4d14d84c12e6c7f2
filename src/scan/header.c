/*
 * header.c - the header analyser (see header.h and docs/analysers/header.md).
 *
 * The state is built once per configuration (brands normalised, protected
 * domains collected) in its own arena and only read by scans.
 */
#include "scan/header.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <libpsl.h>

#include "mime/text.h"
#include "util/ptime.h"
#include "util/str.h"

#define SHORT_NAME 5 /* names this short match whole words, case as written */

struct brand {
	const char *label; /* the first name, for details */
	const char **sq;   /* long names, squeezed: "posteitaliane" */
	size_t nsq;
	const char **tok; /* short names, as written: "INPS", "AdE" */
	size_t ntok;
	const char **domains; /* where the brand really writes from */
	size_t ndomains;
};

struct pdomain {
	const char *domain;
	const struct brand *brand; /* whose domain it is, or NULL */
};

struct hstate {
	pg_arena *a;
	struct brand *brands;
	size_t nbrands;
	struct pdomain *pdom;
	size_t npdom;
	int64_t future_slack;
	int min_year;
	double list_factor;
	const psl_ctx_t *psl; /* libpsl's built-in list: static, read-only */
};

static void setf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void setf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- names ------------------------------------------------------------ */

/* Latin look-alikes in Cyrillic and Greek, the usual homoglyphs of brand
 * spoofing ("Pоste" with a Cyrillic o). */
static char confusable(gunichar c)
{
	static const struct {
		gunichar u;
		char a;
	} map[] = {
		{0x0430, 'a'}, {0x0435, 'e'}, {0x043E, 'o'}, {0x0440, 'p'}, {0x0441, 'c'},
		{0x0443, 'y'}, {0x0445, 'x'}, {0x0456, 'i'}, {0x0458, 'j'}, {0x0455, 's'},
		{0x0501, 'd'}, {0x0410, 'A'}, {0x0412, 'B'}, {0x0415, 'E'}, {0x041A, 'K'},
		{0x041C, 'M'}, {0x041D, 'H'}, {0x041E, 'O'}, {0x0420, 'P'}, {0x0421, 'C'},
		{0x0422, 'T'}, {0x0425, 'X'}, {0x0406, 'I'}, {0x0408, 'J'}, {0x0405, 'S'},
		{0x03BF, 'o'}, {0x039F, 'O'}, {0x03B1, 'a'}, {0x0391, 'A'}, {0x0392, 'B'},
		{0x0395, 'E'}, {0x0396, 'Z'}, {0x0397, 'H'}, {0x0399, 'I'}, {0x039A, 'K'},
		{0x039C, 'M'}, {0x039D, 'N'}, {0x03A1, 'P'}, {0x03A4, 'T'}, {0x03A7, 'X'},
		{0x03A5, 'Y'}, {0x03BD, 'v'}, {0x03C1, 'p'}, {0x03B9, 'i'}, {0x0131, 'i'},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].u == c)
			return map[i].a;
	return 0;
}

/* Two forms of a name: squeezed (ASCII letters and digits only, lower
 * case: "Poste-Italiane" and "PosteItaliane" both "posteitaliane") and
 * tokens (runs of letters and digits, case kept, each between blanks:
 * " Poste Italiane ").  Compatibility forms and accents are undone (NFKD,
 * combining marks dropped) and look-alike letters mapped first.  Into the
 * arena; false when out of memory. */
static bool normalise(pg_arena *a, const char *s, const char **sq, const char **tok)
{
	char *clean = NULL;
	if (!g_utf8_validate(s, -1, NULL)) {
		clean = pg_utf8_sanitize(s, strlen(s));
		if (clean == NULL)
			return false;
		s = clean;
	}
	gchar *d = g_utf8_normalize(s, -1, G_NORMALIZE_NFKD);
	free(clean);
	if (d == NULL)
		return false;
	size_t n = strlen(d);
	char *q = pg_arena_alloc(a, n + 1), *t = pg_arena_alloc(a, n + 3);
	if (q == NULL || t == NULL) {
		g_free(d);
		return false;
	}
	size_t qn = 0, tn = 0;
	t[tn++] = ' ';
	for (const char *p = d; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		char ch = 0;
		if (c < 0x80 && g_ascii_isalnum((gchar)c))
			ch = (char)c;
		else if (c >= 0x300 && c <= 0x36F)
			continue; /* a combining accent: "è" is "e" here */
		else
			ch = confusable(c);
		if (ch == 0) {
			if (t[tn - 1] != ' ')
				t[tn++] = ' ';
			continue;
		}
		q[qn++] = pg_lower(ch);
		t[tn++] = ch;
	}
	if (t[tn - 1] != ' ')
		t[tn++] = ' ';
	q[qn] = '\0';
	t[tn] = '\0';
	g_free(d);
	*sq = q;
	*tok = t;
	return true;
}

/* ---- domains ---------------------------------------------------------- */

/* Is d the domain p or below it? */
static bool domain_under(const char *d, const char *p)
{
	size_t dn = strlen(d), pn = strlen(p);
	if (dn < pn)
		return false;
	if (dn == pn)
		return pg_streq_ci(d, p);
	return d[dn - pn - 1] == '.' && pg_streq_ci(d + dn - pn, p);
}

static bool brand_domain(const struct brand *b, const char *d)
{
	for (size_t i = 0; i < b->ndomains; i++)
		if (domain_under(d, b->domains[i]))
			return true;
	return false;
}

/* The registrable domain ("example.co.uk" of "www.example.co.uk"), by the
 * public suffix list; the domain itself when it has none (an IP, a bare
 * suffix). */
static const char *registrable(const struct hstate *st, const char *d)
{
	const char *r = st->psl ? psl_registrable_domain(st->psl, d) : NULL;
	if (r != NULL)
		return r;
	if (st->psl == NULL) {
		/* no list: the last two labels */
		const char *last = strrchr(d, '.');
		if (last != NULL) {
			const char *p = last;
			while (p > d && p[-1] != '.')
				p--;
			return p > d ? p : d;
		}
	}
	return d;
}

/* Domain-like runs of the folded display name ("agenziaentrate.gov.it",
 * from "info@agenziaentrate.gov.it" or a bare mention).  Calls fn for each
 * with whether an '@' came right before it.  Stops when fn returns true. */
typedef bool (*domain_fn)(void *ctx, const char *dom, bool after_at);

static void each_domain(pg_arena *a, const char *s, domain_fn fn, void *ctx)
{
	size_t n = strlen(s);
	size_t i = 0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		bool dc = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
		if (!dc) {
			i++;
			continue;
		}
		size_t st = i;
		while (i < n) {
			c = (unsigned char)s[i];
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
			      c == '-'))
				break;
			i++;
		}
		size_t b = st, e = i;
		while (b < e && (s[b] == '.' || s[b] == '-'))
			b++;
		while (e > b && (s[e - 1] == '.' || s[e - 1] == '-'))
			e--;
		const char *dot = memchr(s + b, '.', e - b);
		if (dot == NULL)
			continue;
		/* a top-level label of letters: "poste.it", not "3.5" */
		const char *tld = s + e;
		while (tld > s + b && tld[-1] != '.')
			tld--;
		bool letters = (size_t)(s + e - tld) >= 2;
		for (const char *p = tld; p < s + e && letters; p++)
			letters = *p >= 'a' && *p <= 'z';
		if (!letters)
			continue;
		char *dom = pg_arena_strndup(a, s + b, e - b);
		if (dom == NULL)
			return;
		if (fn(ctx, dom, st > 0 && s[st - 1] == '@'))
			return;
	}
}

/* ---- configuration ---------------------------------------------------- */

static pg_status str_list(pg_arena *a, const config_setting_t *l, const char *what,
			  const char ***out, size_t *n, char *err, size_t errlen)
{
	*out = NULL;
	*n = 0;
	if (l == NULL)
		return PG_OK;
	if (!config_setting_is_aggregate(l) || config_setting_type(l) == CONFIG_TYPE_GROUP) {
		setf(err, errlen, "%s must be a list of strings", what);
		return PG_ERR_CONFIG;
	}
	int len = config_setting_length(l);
	const char **v = pg_arena_calloc(a, len > 0 ? (size_t)len : 1, sizeof(*v));
	if (v == NULL)
		return PG_ERR_NOMEM;
	for (int i = 0; i < len; i++) {
		const config_setting_t *e = config_setting_get_elem(l, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING ||
		    !config_setting_get_string(e)[0]) {
			setf(err, errlen, "%s: element %d is not a non-empty string", what, i);
			return PG_ERR_CONFIG;
		}
		char *s = pg_arena_strdup(a, config_setting_get_string(e));
		if (s == NULL)
			return PG_ERR_NOMEM;
		v[i] = s;
	}
	*out = v;
	*n = (size_t)len;
	return PG_OK;
}

static pg_status add_pdomain(struct hstate *st, size_t *cap, const char *d, const struct brand *b)
{
	if (st->npdom == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct pdomain *v = pg_arena_alloc(st->a, nc * sizeof(*v));
		if (v == NULL)
			return PG_ERR_NOMEM;
		if (st->npdom)
			memcpy(v, st->pdom, st->npdom * sizeof(*v));
		st->pdom = v;
		*cap = nc;
	}
	char *low = pg_arena_strdup(st->a, d);
	if (low == NULL)
		return PG_ERR_NOMEM;
	st->pdom[st->npdom++] = (struct pdomain){pg_strlower(low), b};
	return PG_OK;
}

static pg_status read_brand(struct hstate *st, const config_setting_t *g, int i, struct brand *b,
			    char *err, size_t errlen)
{
	char what[96];
	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		setf(err, errlen,
		     "header.brands[%d]: a brand is a group { names = [...]; domains = [...]; }",
		     i);
		return PG_ERR_CONFIG;
	}
	for (int k = 0; k < config_setting_length(g); k++) {
		const char *m = config_setting_name(config_setting_get_elem(g, (unsigned)k));
		if (strcmp(m, "names") != 0 && strcmp(m, "domains") != 0) {
			setf(err, errlen, "header.brands[%d]: unknown field '%s' (names, domains)",
			     i, m);
			return PG_ERR_CONFIG;
		}
	}
	const char **names, **domains;
	size_t nn, nd;
	snprintf(what, sizeof(what), "header.brands[%d].names", i);
	pg_status s = str_list(st->a, config_setting_get_member(g, "names"), what, &names, &nn, err,
			       errlen);
	if (s != PG_OK)
		return s;
	snprintf(what, sizeof(what), "header.brands[%d].domains", i);
	s = str_list(st->a, config_setting_get_member(g, "domains"), what, &domains, &nd, err,
		     errlen);
	if (s != PG_OK)
		return s;
	if (nn == 0 || nd == 0) {
		setf(err, errlen, "header.brands[%d]: a brand needs names and domains", i);
		return PG_ERR_CONFIG;
	}
	b->label = names[0];
	b->domains = domains;
	b->ndomains = nd;
	b->sq = pg_arena_calloc(st->a, nn, sizeof(char *));
	b->tok = pg_arena_calloc(st->a, nn, sizeof(char *));
	if (b->sq == NULL || b->tok == NULL)
		return PG_ERR_NOMEM;
	for (size_t k = 0; k < nn; k++) {
		const char *sq, *tok;
		if (!normalise(st->a, names[k], &sq, &tok))
			return PG_ERR_NOMEM;
		size_t len = strlen(sq);
		if (len == 0) {
			setf(err, errlen, "header.brands[%d]: name '%s' has no letters", i,
			     names[k]);
			return PG_ERR_CONFIG;
		}
		if (len > SHORT_NAME) {
			b->sq[b->nsq++] = sq;
		} else {
			/* " INPS " as a whole word, in the case written */
			size_t tl = strlen(tok);
			if (tl < 3 || memchr(tok + 1, ' ', tl - 2) != NULL) {
				setf(err, errlen,
				     "header.brands[%d]: short name '%s' must be one word (%d "
				     "letters or "
				     "fewer match whole words only)",
				     i, names[k], SHORT_NAME);
				return PG_ERR_CONFIG;
			}
			b->tok[b->ntok++] = tok;
		}
	}
	return PG_OK;
}

static void header_free(void *state)
{
	struct hstate *st = state;
	if (st != NULL)
		pg_arena_free(st->a);
}

static pg_status header_init(const pg_config *cfg, void **state, char *err, size_t errlen)
{
	*state = NULL;
	pg_arena *a = pg_arena_new();
	if (a == NULL)
		return PG_ERR_NOMEM;
	struct hstate *st = pg_arena_calloc(a, 1, sizeof(*st));
	if (st == NULL) {
		pg_arena_free(a);
		return PG_ERR_NOMEM;
	}
	st->a = a;
	st->psl = psl_builtin();
	st->future_slack = pg_cfg_int(cfg, "header.date_future_slack", 10800);
	st->min_year = (int)pg_cfg_int(cfg, "header.date_min_year", 1980);
	st->list_factor = pg_cfg_float(cfg, "header.replyto_list_factor", 0.2);
	pg_status s = PG_OK;
	size_t cap = 0;
	const config_setting_t *bl = pg_cfg_setting(cfg, "header.brands");
	if (bl != NULL) {
		if (config_setting_type(bl) != CONFIG_TYPE_LIST) {
			setf(err, errlen,
			     "header.brands must be a list of groups ( { ... }, ... )");
			s = PG_ERR_CONFIG;
			goto out;
		}
		int n = config_setting_length(bl);
		st->brands = pg_arena_calloc(a, n > 0 ? (size_t)n : 1, sizeof(*st->brands));
		if (st->brands == NULL) {
			s = PG_ERR_NOMEM;
			goto out;
		}
		for (int i = 0; i < n; i++) {
			struct brand *b = &st->brands[st->nbrands];
			s = read_brand(st, config_setting_get_elem(bl, (unsigned)i), i, b, err,
				       errlen);
			if (s != PG_OK)
				goto out;
			st->nbrands++;
			for (size_t k = 0; k < b->ndomains; k++)
				if ((s = add_pdomain(st, &cap, b->domains[k], b)) != PG_OK)
					goto out;
		}
	}
	/* Protected domains of our own, and the URL analyser's (url.protected)
	 * when it is configured: one list for the whole configuration. */
	static const char *const lists[] = {"header.protected_domains", "url.protected",
					    "url.protected_domains"};
	for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
		const char **v;
		size_t n;
		s = str_list(a, pg_cfg_setting(cfg, lists[l]), lists[l], &v, &n, err, errlen);
		if (s != PG_OK)
			goto out;
		for (size_t k = 0; k < n; k++)
			if ((s = add_pdomain(st, &cap, v[k], NULL)) != PG_OK)
				goto out;
	}
	if (st->future_slack < 0 || st->min_year < 1 || st->list_factor < 0) {
		setf(err, errlen,
		     "header.date_future_slack, header.date_min_year and "
		     "header.replyto_list_factor "
		     "must not be negative");
		s = PG_ERR_CONFIG;
	}
out:
	if (s != PG_OK) {
		if (s == PG_ERR_NOMEM)
			setf(err, errlen, "header: out of memory");
		pg_arena_free(a);
		return s;
	}
	*state = st;
	return PG_OK;
}

/* ---- checks ----------------------------------------------------------- */

struct spoof_ctx {
	const struct hstate *st;
	pg_actx *ax;
	const char *from_dom;
	const char *found; /* detail of the first spoof */
	const char *other; /* an address domain of the display name not the sender's */
};

static bool on_display_domain(void *ctx, const char *dom, bool after_at)
{
	struct spoof_ctx *c = ctx;
	/* A domain may be protected twice (a brand's, and the URL analyser's
	 * list): the sender is fine when any entry that covers it accepts. */
	bool protected_ = false, accepted = false;
	for (size_t i = 0; i < c->st->npdom && !accepted; i++) {
		const struct pdomain *p = &c->st->pdom[i];
		if (!domain_under(dom, p->domain))
			continue;
		protected_ = true;
		accepted = domain_under(c->from_dom, p->domain) ||
			   (p->brand && brand_domain(p->brand, c->from_dom));
	}
	if (protected_ && !accepted) {
		c->found = pg_arena_printf(c->ax->arena, "display name names %s, sender domain %s",
					   dom, c->from_dom);
		return true;
	}
	if (after_at && c->other == NULL &&
	    strcmp(registrable(c->st, dom), registrable(c->st, c->from_dom)) != 0)
		c->other = dom;
	return false;
}

static pg_status check_from(pg_actx *ax, const struct hstate *st)
{
	const char *name = NULL, *addr = NULL;
	pg_msg_from(ax->msg, &name, &addr);
	if (name == NULL || name[0] == '\0' || addr == NULL)
		return PG_OK;
	const char *dom = pg_addr_domain(ax->arena, addr);
	if (dom == NULL)
		return PG_OK;
	const char *sq, *tok;
	if (!normalise(ax->arena, name, &sq, &tok))
		return PG_ERR_NOMEM;
	for (size_t i = 0; i < st->nbrands; i++) {
		const struct brand *b = &st->brands[i];
		bool hit = false;
		for (size_t k = 0; k < b->nsq && !hit; k++)
			hit = strstr(sq, b->sq[k]) != NULL;
		for (size_t k = 0; k < b->ntok && !hit; k++)
			hit = strstr(tok, b->tok[k]) != NULL;
		if (hit && !brand_domain(b, dom))
			return pg_sym(ax, "HDR_DISPLAY_SPOOF",
				      "display name '%s' names %s, sender domain %s", name,
				      b->label, dom);
	}
	size_t fl;
	const char *folded = pg_text_fold(ax->arena, name, strlen(name), &fl);
	if (folded == NULL)
		return PG_ERR_NOMEM;
	struct spoof_ctx c = {.st = st, .ax = ax, .from_dom = dom};
	each_domain(ax->arena, folded, on_display_domain, &c);
	if (c.found != NULL)
		return pg_sym(ax, "HDR_DISPLAY_SPOOF", "%s", c.found);
	/* "Per conto di: user@domain" is how PEC names the certified sender in
	 * an envelope sent by the provider's own address: not a trick. */
	size_t tl;
	const char *trimmed = pg_trim(name, &tl);
	if (c.other != NULL && !pg_startswith_ci(trimmed, "per conto di:"))
		return pg_sym(ax, "HDR_FROM_NAME_ADDR",
			      "display name holds an address at %s, sender %s", c.other, dom);
	return PG_OK;
}

static const char *first_addr(pg_arena *a, InternetAddressList *l)
{
	int n = l ? internet_address_list_length(l) : 0;
	for (int i = 0; i < n; i++) {
		InternetAddress *ia = internet_address_list_get_address(l, i);
		if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
			const char *s =
				internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
			if (s != NULL && s[0] != '\0')
				return pg_addr_domain(a, s);
		}
	}
	return NULL;
}

static bool is_list_mail(const pg_msg *m)
{
	static const char *const hs[] = {"List-Id",        "List-Post",   "Mailing-List",
					 "X-Mailing-List", "X-BeenThere", NULL};
	for (int i = 0; hs[i]; i++)
		if (pg_msg_header(m, hs[i]) != NULL)
			return true;
	return false;
}

static pg_status check_replyto(pg_actx *ax, const struct hstate *st)
{
	const char *rdom = first_addr(ax->arena, g_mime_message_get_reply_to(ax->msg->gm));
	if (rdom == NULL)
		return PG_OK;
	const char *name = NULL, *addr = NULL;
	pg_msg_from(ax->msg, &name, &addr);
	const char *fdom = pg_addr_domain(ax->arena, addr);
	if (fdom == NULL)
		return PG_OK;
	const char *rr = registrable(st, rdom), *fr = registrable(st, fdom);
	if (pg_streq_ci(rr, fr))
		return PG_OK;
	/* Lists set Reply-To to themselves by design: weaker evidence. */
	bool list = is_list_mail(ax->msg);
	return pg_sym_scaled(ax, "HDR_REPLYTO_DIVERGES", list ? st->list_factor : 1.0,
			     "reply-to %s, from %s%s", rr, fr, list ? " (mailing list)" : "");
}

/* The zone of a Date ("+0100", "-0430") as written: the last "+HHMM" or
 * "-HHMM" of the value, before any trailing comment.  False when there is
 * none ("GMT", "EST" and other names are not checked). */
static bool date_zone(const char *v, int *hh, int *mm)
{
	const char *z = NULL;
	for (const char *p = v; *p; p++)
		if ((*p == '+' || *p == '-') && g_ascii_isdigit(p[1]) && g_ascii_isdigit(p[2]) &&
		    g_ascii_isdigit(p[3]) && g_ascii_isdigit(p[4]) && !g_ascii_isdigit(p[5]) &&
		    (p == v || p[-1] == ' ' || p[-1] == '\t'))
			z = p;
	if (z == NULL)
		return false;
	*hh = (z[1] - '0') * 10 + (z[2] - '0');
	*mm = (z[3] - '0') * 10 + (z[4] - '0');
	if (*z == '-')
		*hh = -*hh;
	return true;
}

/* The raw value of the first header name, or NULL. */
static const char *raw_header(const pg_msg *m, const char *name)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(m->gm));
	int n = hl ? g_mime_header_list_get_count(hl) : 0;
	for (int i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *hn = g_mime_header_get_name(h);
		if (hn != NULL && pg_streq_ci(hn, name))
			return g_mime_header_get_raw_value(h);
	}
	return NULL;
}

/* A Received header's date as a Unix time, or -1. */
static int64_t received_time(const char *v)
{
	/* The strict parser reads what MTAs write in a fraction of GMime's
	 * time (GMime builds a GDateTime and a GTimeZone per call). */
	int64_t t;
	if (pg_time_parse_rfc5322(v, &t) == 0)
		return t;
	GDateTime *dt = g_mime_utils_header_decode_date(v);
	if (dt == NULL)
		return -1;
	t = (int64_t)g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	return t;
}

/* When the message was received: the date of the topmost Received header
 * (written by the receiving MTA, in the milter's case ours) when it parses
 * and is not after now; else now.  Re-scanning old mail then judges its
 * Date against its own delivery, as the milter did.  The raw value: a
 * decoded one would be a copy of the whole header. */
static int64_t received_at(const pg_msg *m, int64_t now)
{
	const char *v = raw_header(m, "Received");
	const char *semi = v ? strrchr(v, ';') : NULL;
	int64_t t = semi ? received_time(semi + 1) : -1;
	return t > 0 && t <= now ? t : now;
}

static pg_status check_date(pg_actx *ax, const struct hstate *st)
{
	const char *v = pg_msg_header(ax->msg, "Date");
	if (v == NULL || pg_trim(v, &(size_t){0})[0] == '\0')
		return pg_sym(ax, "HDR_DATE_MISSING", NULL);
	/* Real zones run from -12:00 to +14:00, in whole, half or
	 * three-quarter hours; ratware writes "-1600" and "+0017". */
	int hh, mm;
	if (date_zone(v, &hh, &mm) && (hh < -12 || hh > 14 || (mm != 0 && mm != 30 && mm != 45))) {
		pg_status s = pg_sym(ax, "HDR_DATE_BAD_ZONE", "%.80s", v);
		if (s != PG_OK)
			return s;
	}
	GDateTime *dt = g_mime_utils_header_decode_date(v);
	if (dt == NULL)
		return pg_sym(ax, "HDR_DATE_INVALID", "unparsable: %.80s", v);
	int year = g_date_time_get_year(dt);
	int64_t t = (int64_t)g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	if (year < st->min_year)
		return pg_sym(ax, "HDR_DATE_INVALID", "year %d: %.80s", year, v);
	/* Only the future is suspect: mail is read (and re-scanned) long after
	 * it was written, and test corpora are decades old. */
	int64_t at = received_at(ax->msg, ax->now);
	if (t > at + st->future_slack)
		return pg_sym(ax, "HDR_DATE_FUTURE", "%lld hours after it was received: %.80s",
			      (long long)((t - at) / 3600), v);
	return PG_OK;
}

/* "<left@right>" (RFC 5322 msg-id: no blanks inside, one '@' with text on
 * both sides), optionally followed by a comment. */
static bool msgid_valid(const char *v)
{
	while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
		v++;
	if (*v != '<')
		return false;
	const char *e = strchr(v, '>');
	if (e == NULL)
		return false;
	const char *at = NULL;
	for (const char *p = v + 1; p < e; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= ' ' || c == '<' || c >= 0x7f)
			return false;
		if (c == '@') {
			if (at != NULL)
				return false;
			at = p;
		}
	}
	if (at == NULL || at == v + 1 || at + 1 == e)
		return false;
	for (const char *p = e + 1; *p; p++)
		if (!(*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
			/* a trailing comment "(added by ...)" is tolerated */
			return *p == '(' && strchr(p, ')') != NULL;
		}
	return true;
}

static pg_status check_msgid(pg_actx *ax)
{
	const char *v = raw_header(ax->msg, "Message-ID");
	if (v == NULL || pg_trim(v, &(size_t){0})[0] == '\0')
		return pg_sym(ax, "HDR_MSGID_MISSING", NULL);
	if (!msgid_valid(v)) {
		size_t n;
		const char *t = pg_trim(v, &n);
		return pg_sym(ax, "HDR_MSGID_INVALID", "%.*s", (int)(n > 80 ? 80 : n), t);
	}
	return PG_OK;
}

/* ---- PEC markers on mail that is not valid PEC ------------------------- */

static bool is_signature_failure(const char *code)
{
	static const char *const codes[] = {"not-multipart-signed",
					    "signed-not-top-level",
					    "malformed-multipart-signed",
					    "signature-unreadable",
					    "signer-unknown",
					    "signature-digest-mismatch",
					    "signature-invalid",
					    "signer-not-in-index",
					    "certificate-expired",
					    "certificate-not-yet-valid",
					    NULL};
	for (int i = 0; codes[i]; i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

static pg_status check_pec(pg_actx *ax)
{
	const pg_classification *cls = ax->cls;
	if (cls == NULL || cls->cls != PG_CLASS_INVALID_PEC)
		return PG_OK;
	/* The failed checks' codes, in order, for the detail. */
	char codes[512];
	size_t cl = 0;
	bool unsigned_ = false, badsig = false, other = false, limit = false, wrapped = false;
	codes[0] = '\0';
	for (size_t i = 0; i < cls->reasons.n; i++) {
		const char *r = cls->reasons.v[i];
		if (strncmp(r, "embedded-signature:", 19) == 0 && strstr(r, " verifies;") != NULL &&
		    strstr(r, "not in the index") == NULL)
			wrapped = true;
		if (pg_reason_is_evidence(r))
			continue;
		const char *colon = strchr(r, ':');
		size_t n = colon ? (size_t)(colon - r) : strlen(r);
		char code[64];
		if (n >= sizeof(code))
			n = sizeof(code) - 1;
		memcpy(code, r, n);
		code[n] = '\0';
		if (strcmp(code, "not-signed") == 0)
			unsigned_ = true;
		else if (strcmp(code, "limit-exceeded") == 0)
			limit = true;
		else if (is_signature_failure(code))
			badsig = true;
		else
			other = true;
		if (cl + n + 3 < sizeof(codes))
			cl += (size_t)snprintf(codes + cl, sizeof(codes) - cl, "%s%s",
					       cl ? ", " : "", code);
	}
	const char *claim = cls->claimed_type ? cls->claimed_type : pg_class_name(cls->claimed);
	/* A genuine envelope that a mailing list wrapped (footer added): its
	 * signature still verifies inside, by a listed provider.  Real PEC
	 * re-sent, not a forgery. */
	bool only_wrap = wrapped && strstr(codes, "signed-not-top-level") != NULL && !unsigned_;
	if (only_wrap)
		return pg_sym(ax, "HDR_PEC_LIST_WRAPPED", "claims %s; %s", claim, codes);
	if (unsigned_)
		return pg_sym(ax, "HDR_FAKE_PEC_UNSIGNED", "claims %s; %s", claim, codes);
	if (badsig)
		return pg_sym(ax, "HDR_FAKE_PEC_BAD_SIGNATURE", "claims %s; %s", claim, codes);
	if (other)
		return pg_sym(ax, "HDR_FAKE_PEC", "claims %s; %s", claim, codes);
	/* Only a size or depth cap: no proof of forgery; the engine's limit
	 * handling decides. */
	(void)limit;
	return PG_OK;
}

static pg_status header_run(pg_actx *ax, void *state)
{
	const struct hstate *st = state;
	pg_status s = check_pec(ax);
	if (s != PG_OK || ax->msg == NULL || ax->msg->gm == NULL)
		return s;
	if ((s = check_from(ax, st)) != PG_OK || (s = check_replyto(ax, st)) != PG_OK ||
	    (s = check_date(ax, st)) != PG_OK || (s = check_msgid(ax)) != PG_OK)
		return s;
	return PG_OK;
}

const pg_analyser pg_analyser_header = {
	.name = "header",
	.init = header_init,
	.free = header_free,
	.run = header_run,
};
