/*
 * rules.c - the rules analyser (see rules.h and docs/analysers/rules.md).
 *
 * Rules are grouped by what they read ("classes"): the folded text, the
 * raw bytes, the URLs, and one class per header name a rule names ("ALL"
 * is a header name too).  Each class is one Vectorscan database compiled
 * at init, scanned once per message.  Header rules get a class per header
 * rather than one database over a joined header block: a pattern then
 * sees exactly the header it names, with ^ and $ where the rule's author
 * expects them, as rspamd does with its per-header regexp classes.
 *
 * Everything built at init is read-only afterwards, except the pool of
 * Vectorscan scratch spaces, which has its own mutex: a scratch space may
 * serve one scan at a time only.
 */
#include "scan/rules.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hs/hs.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mime/text.h"
#include "util/buf.h"
#include "util/str.h"

#define RAW_MAX      (256u << 10) /* raw bytes scanned */
#define BODY_MAX     (1u << 20)   /* text scanned (folded) */
#define HEADER_MAX   (256u << 10) /* one header class's input */
#define URL_BUF_MAX  (256u << 10) /* all URLs of a message, one per line */
#define URL_MAX      2000         /* URLs per message */
#define URL_LEN_MAX  2048         /* one URL */
#define SNIPPET      50           /* bytes of context in a symbol's detail */
#define META_OPS_MAX 256          /* operations in one meta expression */
#define POOL_MAX     256          /* idle scratch spaces kept */
#define NAME_MAX_LEN 100

enum rtype { T_HEADER, T_BODY, T_RAW, T_URL, T_META, T_COUNT };
static const char *const type_names[T_COUNT] = {"header", "body", "raw", "url", "meta"};

/* Meta expressions are compiled to a small stack program. */
enum mop_code {
	OP_RULE,
	OP_NUM,
	OP_NOT,
	OP_AND,
	OP_OR,
	OP_ADD,
	OP_GE,
	OP_GT,
	OP_LE,
	OP_LT,
	OP_EQ,
	OP_NE
};
struct mop {
	enum mop_code op;
	long arg; /* rule index or number */
};

struct rule {
	char *name;
	char *desc;    /* may be NULL */
	char *header;  /* header rules: the header's name, or "ALL" */
	char *pattern; /* header, body, raw, url */
	char *expr;    /* meta */
	enum rtype type;
	double weight; /* effective: the symbols group's, else the rule's */
	bool negate, nocase, internal;
	size_t cls;       /* index of its class (not for meta) */
	pcre2_code *re;   /* set when the rule runs on PCRE2 */
	struct mop *prog; /* meta */
	size_t nprog;
};

struct rclass {
	enum rtype type;
	const char *header; /* header classes: the name (borrowed from a rule) */
	hs_database_t *db;  /* NULL when no rule of the class runs on Vectorscan */
	size_t *rules;      /* every rule of the class */
	size_t nrules;
	size_t *pcre; /* those on PCRE2 */
	size_t npcre;
};

struct pool {
	pthread_mutex_t mu;
	hs_scratch_t *proto; /* sized for every database; cloned when the pool is empty */
	hs_scratch_t **idle;
	size_t n, cap;
};

struct rules_state {
	struct rule *r;
	size_t n;
	struct rclass *c;
	size_t nc;
	size_t *meta_order; /* meta rules, each after the metas it uses */
	size_t nmeta;
	pcre2_match_context *mctx;
	struct pool pool;
	bool pool_ready;
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

/* ---- state lifetime --------------------------------------------------- */

static void rules_free(void *state)
{
	struct rules_state *st = state;
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->n; i++) {
		struct rule *r = &st->r[i];
		free(r->name);
		free(r->desc);
		free(r->header);
		free(r->pattern);
		free(r->expr);
		free(r->prog);
		pcre2_code_free(r->re);
	}
	free(st->r);
	for (size_t i = 0; i < st->nc; i++) {
		hs_free_database(st->c[i].db);
		free(st->c[i].rules);
		free(st->c[i].pcre);
	}
	free(st->c);
	free(st->meta_order);
	pcre2_match_context_free(st->mctx);
	if (st->pool_ready) {
		for (size_t i = 0; i < st->pool.n; i++)
			hs_free_scratch(st->pool.idle[i]);
		free(st->pool.idle);
		hs_free_scratch(st->pool.proto);
		pthread_mutex_destroy(&st->pool.mu);
	}
	free(st);
}

/* ---- reading the rules ------------------------------------------------ */

static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return true;
}

/* A string member of a rule, or NULL when absent; -1 when of another type. */
static int get_str(const config_setting_t *g, const char *name, const char **out)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	*out = NULL;
	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return -1;
	*out = config_setting_get_string(s);
	return 0;
}

static int get_bool(const config_setting_t *g, const char *name, bool *out)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return -1;
	*out = config_setting_get_bool(s) != 0;
	return 0;
}

static char *dup_or_null(const char *s, bool *nomem)
{
	if (s == NULL)
		return NULL;
	char *d = strdup(s);
	if (d == NULL)
		*nomem = true;
	return d;
}

/* Reads one rule (a group) of list `list` at position i into r. */
static pg_status read_rule(const config_setting_t *g, const char *list, unsigned i, struct rule *r,
			   char *err, size_t errlen)
{
	static const char *const known[] = {"name",       "type",   "header",      "pattern",
					    "expression", "weight", "description", "negate",
					    "nocase",     NULL};
	char where[160];
	snprintf(where, sizeof(where), "%s[%u]", list, i);
	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		setf(err, errlen, "%s: a rule must be a group { name = ...; type = ...; ... }",
		     where);
		return PG_ERR_CONFIG;
	}
	const char *name, *type, *header, *pattern, *expr, *desc;
	if (get_str(g, "name", &name) != 0 || name == NULL) {
		setf(err, errlen, "%s: the rule has no name (a string)", where);
		return PG_ERR_CONFIG;
	}
	if (!valid_name(name)) {
		setf(err, errlen, "%s: rule '%s': a name is 1 to %d letters, digits or '_'", where,
		     name, NAME_MAX_LEN);
		return PG_ERR_CONFIG;
	}
	snprintf(where, sizeof(where), "%s[%u] rule '%s'", list, i, name);
	for (int k = 0; k < config_setting_length(g); k++) {
		const char *m = config_setting_name(config_setting_get_elem(g, (unsigned)k));
		bool ok = false;
		for (int j = 0; known[j] && !ok; j++)
			ok = strcmp(m, known[j]) == 0;
		if (!ok) {
			setf(err, errlen, "%s: unknown field '%s'", where, m);
			return PG_ERR_CONFIG;
		}
	}
	if (get_str(g, "type", &type) != 0 || get_str(g, "header", &header) != 0 ||
	    get_str(g, "pattern", &pattern) != 0 || get_str(g, "expression", &expr) != 0 ||
	    get_str(g, "description", &desc) != 0) {
		setf(err, errlen,
		     "%s: type, header, pattern, expression and description are strings", where);
		return PG_ERR_CONFIG;
	}
	if (type == NULL) {
		setf(err, errlen, "%s: missing type (header, body, raw, url or meta)", where);
		return PG_ERR_CONFIG;
	}
	int t = -1;
	for (int k = 0; k < T_COUNT; k++)
		if (strcmp(type, type_names[k]) == 0)
			t = k;
	if (t < 0) {
		setf(err, errlen, "%s: unknown type '%s' (header, body, raw, url or meta)", where,
		     type);
		return PG_ERR_CONFIG;
	}
	r->type = (enum rtype)t;
	if (r->type == T_HEADER && (header == NULL || header[0] == '\0')) {
		setf(err, errlen, "%s: a header rule needs header = \"Name\" (or \"ALL\")", where);
		return PG_ERR_CONFIG;
	}
	if (r->type != T_HEADER && header != NULL) {
		setf(err, errlen, "%s: 'header' is only for rules of type header", where);
		return PG_ERR_CONFIG;
	}
	if (r->type == T_META) {
		if (expr == NULL || pattern != NULL) {
			setf(err, errlen, "%s: a meta rule has an expression and no pattern",
			     where);
			return PG_ERR_CONFIG;
		}
	} else if (pattern == NULL || expr != NULL) {
		setf(err, errlen, "%s: missing pattern%s", where,
		     expr ? " (expression is only for meta rules)" : "");
		return PG_ERR_CONFIG;
	}
	const config_setting_t *w = config_setting_get_member(g, "weight");
	if (w == NULL || !config_setting_is_number(w)) {
		setf(err, errlen, "%s: missing weight (a number)", where);
		return PG_ERR_CONFIG;
	}
	r->weight = config_setting_type(w) == CONFIG_TYPE_FLOAT
			    ? config_setting_get_float(w)
			    : (double)config_setting_get_int64(w);
	if (!(r->weight >= -1000 && r->weight <= 1000)) {
		setf(err, errlen, "%s: weight %g out of range", where, r->weight);
		return PG_ERR_CONFIG;
	}
	if (get_bool(g, "negate", &r->negate) != 0 || get_bool(g, "nocase", &r->nocase) != 0) {
		setf(err, errlen, "%s: negate and nocase are booleans (true/false)", where);
		return PG_ERR_CONFIG;
	}
	bool nomem = false;
	r->name = dup_or_null(name, &nomem);
	r->header = dup_or_null(header, &nomem);
	r->pattern = dup_or_null(pattern, &nomem);
	r->expr = dup_or_null(expr, &nomem);
	r->desc = dup_or_null(desc, &nomem);
	r->internal = strncmp(name, "__", 2) == 0;
	return nomem ? PG_ERR_NOMEM : PG_OK;
}

/* ---- meta expressions ------------------------------------------------- */

struct mparser {
	const char *s;
	size_t pos;
	struct rules_state *st;
	struct mop *prog;
	size_t n;
	int depth;
	const char *rule; /* for messages */
	char *err;
	size_t errlen;
	bool failed;
};

static void mp_skip(struct mparser *p)
{
	while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n')
		p->pos++;
}

static bool mp_accept(struct mparser *p, const char *tok)
{
	mp_skip(p);
	size_t n = strlen(tok);
	if (strncmp(p->s + p->pos, tok, n) != 0)
		return false;
	/* "<" must not take the first half of "<=", nor "!" of "!=". */
	if (n == 1 && (tok[0] == '<' || tok[0] == '>' || tok[0] == '!') && p->s[p->pos + 1] == '=')
		return false;
	p->pos += n;
	return true;
}

static void mp_fail(struct mparser *p, const char *what)
{
	if (!p->failed)
		setf(p->err, p->errlen, "rule '%s': expression: %s at offset %zu", p->rule, what,
		     p->pos);
	p->failed = true;
}

static void mp_emit(struct mparser *p, enum mop_code op, long arg)
{
	if (p->failed)
		return;
	if (p->n >= META_OPS_MAX) {
		mp_fail(p, "too long");
		return;
	}
	p->prog[p->n++] = (struct mop){op, arg};
}

static void mp_expr(struct mparser *p);

static size_t find_rule(const struct rules_state *st, const char *name, size_t n)
{
	for (size_t i = 0; i < st->n; i++)
		if (strlen(st->r[i].name) == n && strncmp(st->r[i].name, name, n) == 0)
			return i;
	return (size_t)-1;
}

static void mp_unary(struct mparser *p)
{
	if (p->failed)
		return;
	if (++p->depth > 64) {
		mp_fail(p, "nested too deeply");
		return;
	}
	mp_skip(p);
	const char *s = p->s + p->pos;
	if (mp_accept(p, "!")) {
		mp_unary(p);
		mp_emit(p, OP_NOT, 0);
	} else if (mp_accept(p, "(")) {
		mp_expr(p);
		if (!mp_accept(p, ")"))
			mp_fail(p, "')' expected");
	} else if (*s >= '0' && *s <= '9') {
		long v = 0;
		while (p->s[p->pos] >= '0' && p->s[p->pos] <= '9' && v < 1000000)
			v = v * 10 + (p->s[p->pos++] - '0');
		mp_emit(p, OP_NUM, v);
	} else {
		size_t n = 0;
		while ((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
		       (s[n] >= '0' && s[n] <= '9') || s[n] == '_')
			n++;
		if (n == 0) {
			mp_fail(p, "a rule name, a number, '!' or '(' expected");
		} else {
			size_t idx = find_rule(p->st, s, n);
			if (idx == (size_t)-1) {
				if (!p->failed)
					setf(p->err, p->errlen,
					     "rule '%s': expression names '%.*s', which is not a "
					     "rule",
					     p->rule, (int)n, s);
				p->failed = true;
			} else {
				p->pos += n;
				mp_emit(p, OP_RULE, (long)idx);
			}
		}
	}
	p->depth--;
}

static void mp_sum(struct mparser *p)
{
	mp_unary(p);
	while (!p->failed && mp_accept(p, "+")) {
		mp_unary(p);
		mp_emit(p, OP_ADD, 0);
	}
}

static void mp_cmp(struct mparser *p)
{
	static const struct {
		const char *tok;
		enum mop_code op;
	} ops[] = {{">=", OP_GE}, {"<=", OP_LE}, {"==", OP_EQ},
		   {"!=", OP_NE}, {">", OP_GT},  {"<", OP_LT}};
	mp_sum(p);
	for (size_t i = 0; !p->failed && i < sizeof(ops) / sizeof(ops[0]); i++)
		if (mp_accept(p, ops[i].tok)) {
			mp_sum(p);
			mp_emit(p, ops[i].op, 0);
			break;
		}
}

static void mp_and(struct mparser *p)
{
	mp_cmp(p);
	while (!p->failed && mp_accept(p, "&&")) {
		mp_cmp(p);
		mp_emit(p, OP_AND, 0);
	}
}

static void mp_expr(struct mparser *p)
{
	mp_and(p);
	while (!p->failed && mp_accept(p, "||")) {
		mp_and(p);
		mp_emit(p, OP_OR, 0);
	}
}

static pg_status compile_meta(struct rules_state *st, struct rule *r, char *err, size_t errlen)
{
	struct mparser p = {.s = r->expr, .st = st, .rule = r->name, .err = err, .errlen = errlen};
	p.prog = calloc(META_OPS_MAX, sizeof(*p.prog));
	if (p.prog == NULL)
		return PG_ERR_NOMEM;
	mp_expr(&p);
	mp_skip(&p);
	if (!p.failed && p.s[p.pos] != '\0')
		mp_fail(&p, "unexpected text");
	if (p.failed) {
		free(p.prog);
		return PG_ERR_CONFIG;
	}
	r->prog = p.prog;
	r->nprog = p.n;
	return PG_OK;
}

/* Orders meta rules so that each comes after the metas it reads; a cycle
 * is a configuration error. */
static pg_status order_metas(struct rules_state *st, char *err, size_t errlen)
{
	size_t nmeta = 0;
	for (size_t i = 0; i < st->n; i++)
		nmeta += st->r[i].type == T_META;
	if (nmeta == 0)
		return PG_OK;
	st->meta_order = calloc(nmeta, sizeof(size_t));
	unsigned char *mark = calloc(st->n, 1); /* 0 new, 1 on the path, 2 done */
	size_t *stack = calloc(st->n, sizeof(size_t)), *next = calloc(st->n, sizeof(size_t));
	pg_status ret = PG_OK;
	if (st->meta_order == NULL || mark == NULL || stack == NULL || next == NULL) {
		ret = PG_ERR_NOMEM;
		goto out;
	}
	/* Iterative depth-first search: configurations are data, so no
	 * recursion whose depth they choose. */
	for (size_t root = 0; root < st->n; root++) {
		if (st->r[root].type != T_META || mark[root] == 2)
			continue;
		size_t sp = 0;
		stack[sp++] = root;
		mark[root] = 1;
		next[root] = 0;
		while (sp > 0) {
			size_t cur = stack[sp - 1];
			struct rule *r = &st->r[cur];
			bool pushed = false;
			while (next[cur] < r->nprog) {
				const struct mop *op = &r->prog[next[cur]++];
				if (op->op != OP_RULE || st->r[op->arg].type != T_META)
					continue;
				size_t dep = (size_t)op->arg;
				if (mark[dep] == 1) {
					setf(err, errlen,
					     "rule '%s': meta rules form a cycle through '%s'",
					     r->name, st->r[dep].name);
					ret = PG_ERR_CONFIG;
					goto out;
				}
				if (mark[dep] == 0) {
					mark[dep] = 1;
					next[dep] = 0;
					stack[sp++] = dep;
					pushed = true;
					break;
				}
			}
			if (!pushed) {
				mark[cur] = 2;
				st->meta_order[st->nmeta++] = cur;
				sp--;
			}
		}
	}
out:
	free(mark);
	free(stack);
	free(next);
	return ret;
}

static long meta_eval(const struct rule *r, const bool *fired)
{
	long stack[META_OPS_MAX];
	size_t sp = 0;
	/* The parser emits well-formed programs: every operator finds its
	 * operands, and the result is the one value left. */
	for (size_t i = 0; i < r->nprog; i++) {
		const struct mop *o = &r->prog[i];
		long b;
		switch (o->op) {
		case OP_RULE:
			stack[sp++] = fired[o->arg] ? 1 : 0;
			continue;
		case OP_NUM:
			stack[sp++] = o->arg;
			continue;
		case OP_NOT:
			stack[sp - 1] = !stack[sp - 1];
			continue;
		default:
			break;
		}
		b = stack[--sp];
		long *a = &stack[sp - 1];
		switch (o->op) {
		case OP_AND:
			*a = *a && b;
			break;
		case OP_OR:
			*a = *a || b;
			break;
		case OP_ADD:
			*a = *a + b;
			break;
		case OP_GE:
			*a = *a >= b;
			break;
		case OP_GT:
			*a = *a > b;
			break;
		case OP_LE:
			*a = *a <= b;
			break;
		case OP_LT:
			*a = *a < b;
			break;
		case OP_EQ:
			*a = *a == b;
			break;
		case OP_NE:
			*a = *a != b;
			break;
		default:
			break;
		}
	}
	return sp == 1 ? stack[0] : 0;
}

/* ---- compiling -------------------------------------------------------- */

/* Is the pattern matched as UTF-8?  Only when it holds non-ASCII
 * characters (and is valid UTF-8), and never on raw bytes.  An ASCII
 * pattern means the same bytewise, and Vectorscan compiles it to a far
 * smaller automaton: "." and "\\S" in UTF-8 mode are multi-byte machines. */
static bool utf8_pattern(const struct rule *r)
{
	if (r->type == T_RAW)
		return false;
	size_t n = strlen(r->pattern);
	bool ascii = true;
	for (size_t i = 0; i < n && ascii; i++)
		ascii = (unsigned char)r->pattern[i] < 0x80;
	return !ascii && pg_utf8_valid(r->pattern, n);
}

/* Flags per type: the text and URLs are matched without regard to case
 * (the text is case-folded already; URLs' hosts and schemes have no case),
 * headers and raw bytes with it unless the rule says nocase.  Header and
 * URL inputs hold one value per line, hence multi-line anchors; the text
 * is free-flowing, so "." crosses its line breaks.  Text, URL and header
 * inputs are made valid UTF-8 before scanning, as UTF-8 mode requires. */
static unsigned hs_flags(const struct rule *r)
{
	unsigned f = HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY | HS_FLAG_MULTILINE;
	if (utf8_pattern(r))
		f |= HS_FLAG_UTF8;
	if (r->type == T_BODY || r->type == T_URL || r->nocase)
		f |= HS_FLAG_CASELESS;
	if (r->type == T_BODY)
		f |= HS_FLAG_DOTALL;
	return f;
}

static uint32_t pcre_flags(const struct rule *r)
{
	uint32_t f = PCRE2_MULTILINE;
	if (utf8_pattern(r))
		f |= PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
	if (r->type == T_BODY || r->type == T_URL || r->nocase)
		f |= PCRE2_CASELESS;
	if (r->type == T_BODY)
		f |= PCRE2_DOTALL;
	return f;
}

static pg_status compile_pcre(struct rule *r, const char *hs_msg, char *err, size_t errlen)
{
	int ec;
	PCRE2_SIZE off;
	r->re = pcre2_compile((PCRE2_SPTR)r->pattern, PCRE2_ZERO_TERMINATED, pcre_flags(r), &ec,
			      &off, NULL);
	if (r->re == NULL) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ec, msg, sizeof(msg));
		setf(err, errlen, "rule '%s': invalid pattern: %s at offset %zu (Vectorscan: %s)",
		     r->name, (const char *)msg, (size_t)off, hs_msg);
		return PG_ERR_CONFIG;
	}
	/* Without JIT (an unsupported CPU) pcre2_match interprets: slower,
	 * same answers, so a JIT failure is not an error. */
	(void)pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE);
	return PG_OK;
}

/* ---- compiled databases, cached in the state directory ----------------
 *
 * Compiling the shipped rules takes Vectorscan about a second of CPU, at
 * every start of the command line and every reload of the milter.  The
 * compiled database of a class is therefore kept in
 * state_dir/rules-cache/<key>, where key is the SHA-256 of everything the
 * compilation depends on: the library's version, the CPU it compiles for,
 * and every pattern with its flags and id in order.  A changed rule, a
 * library upgrade or another CPU is another key, so a stale file is never
 * read.  The file: magic, the ids that went to PCRE2, the serialized
 * database, and the SHA-256 of all that (a torn or damaged file is a miss).
 * The cache is an optimisation only: any failure to read or write it means
 * compiling, never an error. */

#define CACHE_MAGIC "pecguard-hs-1\n"
#define CACHE_MAX   (256u << 20)

static bool cache_key(const char *const *ex, const unsigned *fl, const unsigned *ids, size_t m,
		      char hex[65])
{
	hs_platform_info_t plat;
	if (hs_populate_platform(&plat) != HS_SUCCESS)
		return false;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (md == NULL)
		return false;
	unsigned char h[32];
	unsigned hl = 0;
	uint64_t pv[2] = {plat.tune, plat.cpu_features};
	const char *ver = hs_version();
	bool ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
		  EVP_DigestUpdate(md, CACHE_MAGIC, strlen(CACHE_MAGIC)) &&
		  EVP_DigestUpdate(md, ver, strlen(ver) + 1) &&
		  EVP_DigestUpdate(md, pv, sizeof(pv));
	for (size_t i = 0; ok && i < m; i++) {
		uint32_t v[3] = {ids[i], fl[i], (uint32_t)strlen(ex[i])};
		ok = EVP_DigestUpdate(md, v, sizeof(v)) && EVP_DigestUpdate(md, ex[i], v[2]);
	}
	ok = ok && EVP_DigestFinal_ex(md, h, &hl) && hl == 32;
	EVP_MD_CTX_free(md);
	for (size_t i = 0; ok && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	return ok;
}

static bool sha256_of(const void *d, size_t n, unsigned char out[32])
{
	unsigned l = 0;
	return EVP_Digest(d, n, out, &l, EVP_sha256(), NULL) && l == 32;
}

/* Reads the cached database of key: its PCRE2 ids into pcre (*npcre), the
 * database into *db.  False on any miss. */
static bool cache_load(const char *dir, const char *key, const unsigned *ids, size_t m,
		       size_t *pcre, size_t *npcre, hs_database_t **db)
{
	char path[4096];
	if (snprintf(path, sizeof(path), "%s/rules-cache/%s", dir, key) >= (int)sizeof(path))
		return false;
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return false;
	unsigned char *buf = NULL;
	bool ok = false;
	struct stat sb;
	if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 64 ||
	    (uint64_t)sb.st_size > CACHE_MAX)
		goto out;
	size_t n = (size_t)sb.st_size;
	if ((buf = malloc(n)) == NULL || fread(buf, 1, n, f) != n)
		goto out;
	unsigned char h[32];
	size_t ml = strlen(CACHE_MAGIC);
	if (!sha256_of(buf, n - 32, h) || memcmp(h, buf + n - 32, 32) != 0 ||
	    memcmp(buf, CACHE_MAGIC, ml) != 0)
		goto out;
	size_t off = ml;
	uint32_t np;
	memcpy(&np, buf + off, 4);
	off += 4;
	if (np > m || off + (size_t)np * 4 + 8 > n - 32)
		goto out;
	for (uint32_t i = 0; i < np; i++) {
		uint32_t id;
		memcpy(&id, buf + off, 4);
		off += 4;
		bool known = false;
		for (size_t k = 0; k < m && !known; k++)
			known = ids[k] == id;
		if (!known)
			goto out;
		pcre[i] = id;
	}
	uint64_t dl;
	memcpy(&dl, buf + off, 8);
	off += 8;
	if (dl != (uint64_t)(n - 32 - off))
		goto out;
	*db = NULL;
	if (dl > 0 &&
	    hs_deserialize_database((const char *)buf + off, (size_t)dl, db) != HS_SUCCESS) {
		*db = NULL;
		goto out;
	}
	*npcre = np;
	ok = true;
out:
	free(buf);
	fclose(f);
	return ok;
}

/* Writes the compiled class atomically (temporary file, rename); quietly
 * gives up on any failure. */
static void cache_save(const char *dir, const char *key, const size_t *pcre, size_t npcre,
		       const hs_database_t *db)
{
	char path[4096], tmp[4200];
	if (snprintf(path, sizeof(path), "%s/rules-cache", dir) >= (int)sizeof(path))
		return;
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return;
	char *ser = NULL;
	size_t sl = 0;
	if (db != NULL && hs_serialize_database(db, &ser, &sl) != HS_SUCCESS)
		return;
	pg_buf b;
	pg_buf_init(&b, CACHE_MAX);
	uint32_t np = (uint32_t)npcre;
	uint64_t dl = sl;
	bool ok = pg_buf_append(&b, CACHE_MAGIC, strlen(CACHE_MAGIC)) == PG_OK &&
		  pg_buf_append(&b, &np, 4) == PG_OK;
	for (size_t i = 0; ok && i < npcre; i++) {
		uint32_t id = (uint32_t)pcre[i];
		ok = pg_buf_append(&b, &id, 4) == PG_OK;
	}
	ok = ok && pg_buf_append(&b, &dl, 8) == PG_OK &&
	     (sl == 0 || pg_buf_append(&b, ser, sl) == PG_OK);
	free(ser);
	unsigned char h[32];
	ok = ok && sha256_of(b.data, b.len, h) && pg_buf_append(&b, h, 32) == PG_OK;
	snprintf(tmp, sizeof(tmp), "%s/rules-cache/%s.%ld.tmp", dir, key, (long)getpid());
	snprintf(path, sizeof(path), "%s/rules-cache/%s", dir, key);
	int fd = ok ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
	if (fd >= 0) {
		ok = write(fd, b.data, b.len) == (ssize_t)b.len;
		ok = close(fd) == 0 && ok;
		if (!ok || rename(tmp, path) != 0)
			(void)unlink(tmp);
	}
	pg_buf_free(&b);
}

/* Compiles the class's m patterns into one database; patterns Vectorscan
 * refuses go to PCRE2, one at a time (hs_compile_multi names the first it
 * cannot take).  ex, fl and ids are consumed. */
static pg_status compile_fresh(struct rules_state *st, struct rclass *c, const char **ex,
			       unsigned *fl, unsigned *ids, size_t m, char *err, size_t errlen)
{
	while (m > 0) {
		hs_compile_error_t *ce = NULL;
		if (hs_compile_multi(ex, fl, ids, (unsigned)m, HS_MODE_BLOCK, NULL, &c->db, &ce) ==
		    HS_SUCCESS)
			break;
		c->db = NULL;
		if (ce == NULL)
			return PG_ERR_NOMEM;
		if (ce->expression < 0 || (size_t)ce->expression >= m) {
			setf(err, errlen, "rules of type %s%s%s: Vectorscan: %s",
			     type_names[c->type], c->header ? " on " : "",
			     c->header ? c->header : "", ce->message);
			hs_free_compile_error(ce);
			return PG_ERR_CONFIG;
		}
		size_t k = (size_t)ce->expression;
		pg_status ret = compile_pcre(&st->r[ids[k]], ce->message, err, errlen);
		hs_free_compile_error(ce);
		if (ret != PG_OK)
			return ret;
		c->pcre[c->npcre++] = ids[k];
		memmove(ex + k, ex + k + 1, (m - k - 1) * sizeof(*ex));
		memmove(fl + k, fl + k + 1, (m - k - 1) * sizeof(*fl));
		memmove(ids + k, ids + k + 1, (m - k - 1) * sizeof(*ids));
		m--;
	}
	return PG_OK;
}

/* One database for the class, from the cache in cache_dir (the state
 * directory, or NULL) when it has it, else compiled and then cached. */
static pg_status compile_class(struct rules_state *st, struct rclass *c, const char *cache_dir,
			       char *err, size_t errlen)
{
	size_t m = c->nrules;
	if (m == 0)
		return PG_OK;
	const char **ex = calloc(m, sizeof(*ex));
	unsigned *fl = calloc(m, sizeof(*fl)), *ids = calloc(m, sizeof(*ids));
	c->pcre = calloc(m, sizeof(*c->pcre));
	pg_status ret = PG_OK;
	if (ex == NULL || fl == NULL || ids == NULL || c->pcre == NULL) {
		ret = PG_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < m; i++) {
		const struct rule *r = &st->r[c->rules[i]];
		ex[i] = r->pattern;
		fl[i] = hs_flags(r);
		ids[i] = (unsigned)c->rules[i];
	}
	char key[65];
	bool cacheable = cache_dir != NULL && cache_key(ex, fl, ids, m, key);
	if (cacheable && cache_load(cache_dir, key, ids, m, c->pcre, &c->npcre, &c->db)) {
		/* the patterns Vectorscan refused, for PCRE2 again */
		for (size_t i = 0; i < c->npcre && ret == PG_OK; i++)
			ret = compile_pcre(&st->r[c->pcre[i]], "(cached)", err, errlen);
	} else {
		ret = compile_fresh(st, c, ex, fl, ids, m, err, errlen);
		if (ret == PG_OK && cacheable)
			cache_save(cache_dir, key, c->pcre, c->npcre, c->db);
	}
	if (ret != PG_OK)
		goto out;
	if (c->db != NULL) {
		if (!st->pool_ready) {
			if (pthread_mutex_init(&st->pool.mu, NULL) != 0) {
				ret = PG_ERR_NOMEM;
				goto out;
			}
			st->pool_ready = true;
		}
		/* One prototype scratch sized for every database. */
		if (hs_alloc_scratch(c->db, &st->pool.proto) != HS_SUCCESS) {
			ret = PG_ERR_NOMEM;
			goto out;
		}
	}
out:
	free(ex);
	free(fl);
	free(ids);
	return ret;
}

static pg_status add_to_class(struct rules_state *st, size_t ri)
{
	struct rule *r = &st->r[ri];
	size_t ci;
	if (r->type == T_HEADER) {
		for (ci = T_URL + 1; ci < st->nc; ci++)
			if (pg_streq_ci(st->c[ci].header, r->header))
				break;
		if (ci == st->nc) {
			st->c[ci] = (struct rclass){.type = T_HEADER, .header = r->header};
			st->nc++;
		}
	} else {
		ci = (size_t)r->type; /* the first classes are body, raw, url */
	}
	struct rclass *c = &st->c[ci];
	if (c->rules == NULL) {
		c->rules = calloc(st->n, sizeof(size_t));
		if (c->rules == NULL)
			return PG_ERR_NOMEM;
	}
	c->rules[c->nrules++] = ri;
	r->cls = ci;
	return PG_OK;
}

static pg_status read_list(const pg_config *cfg, const char *list, struct rules_state *st,
			   size_t cap, char *err, size_t errlen)
{
	const config_setting_t *l = pg_cfg_setting(cfg, list);
	if (l == NULL)
		return PG_OK;
	if (config_setting_type(l) != CONFIG_TYPE_LIST &&
	    config_setting_type(l) != CONFIG_TYPE_ARRAY) {
		setf(err, errlen, "'%s' must be a list of rules: ( { ... }, { ... } )", list);
		return PG_ERR_CONFIG;
	}
	for (int i = 0; i < config_setting_length(l) && st->n < cap; i++) {
		struct rule *r = &st->r[st->n];
		pg_status s = read_rule(config_setting_get_elem(l, (unsigned)i), list, (unsigned)i,
					r, err, errlen);
		st->n++; /* counted even when half read, so rules_free frees it */
		if (s != PG_OK)
			return s;
	}
	return PG_OK;
}

static int cmp_name(const void *a, const void *b)
{
	const struct rule *const *x = a, *const *y = b;
	return strcmp((*x)->name, (*y)->name);
}

static pg_status rules_init(const pg_config *cfg, void **state, char *err, size_t errlen)
{
	*state = NULL;
	struct rules_state *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return PG_ERR_NOMEM;
	pg_status ret;
	size_t cap = pg_cfg_count(cfg, "rules") + pg_cfg_count(cfg, "local_rules");
	st->r = calloc(cap ? cap : 1, sizeof(*st->r));
	/* body, raw, url, then at most one class per header rule */
	st->c = calloc(cap + T_URL + 1, sizeof(*st->c));
	st->mctx = pcre2_match_context_create(NULL);
	if (st->r == NULL || st->c == NULL || st->mctx == NULL) {
		ret = PG_ERR_NOMEM;
		goto fail;
	}
	/* Bounds on PCRE2 backtracking: a slow pattern costs a missed match,
	 * never a stuck scan. */
	pcre2_set_match_limit(st->mctx, 200000);
	pcre2_set_depth_limit(st->mctx, 10000);
	st->nc = T_URL + 1;
	for (size_t i = 0; i < st->nc; i++)
		st->c[i].type = (enum rtype)i;
	if ((ret = read_list(cfg, "rules", st, cap, err, errlen)) != PG_OK ||
	    (ret = read_list(cfg, "local_rules", st, cap, err, errlen)) != PG_OK)
		goto fail;

	/* Names are unique: a symbol means one rule. */
	if (st->n > 1) {
		const struct rule **sorted = calloc(st->n, sizeof(*sorted));
		if (sorted == NULL) {
			ret = PG_ERR_NOMEM;
			goto fail;
		}
		for (size_t i = 0; i < st->n; i++)
			sorted[i] = &st->r[i];
		qsort(sorted, st->n, sizeof(*sorted), cmp_name);
		for (size_t i = 1; i < st->n; i++)
			if (strcmp(sorted[i]->name, sorted[i - 1]->name) == 0) {
				setf(err, errlen,
				     "rule '%s' is defined twice (in rules or local_rules); to "
				     "change a "
				     "default rule's weight set it in the symbols group",
				     sorted[i]->name);
				free(sorted);
				ret = PG_ERR_CONFIG;
				goto fail;
			}
		free(sorted);
	}

	for (size_t i = 0; i < st->n; i++) {
		struct rule *r = &st->r[i];
		bool known = false;
		double w = pg_cfg_symbol_weight(cfg, r->name, &known);
		if (known)
			r->weight = w;
		if (r->type == T_META)
			ret = compile_meta(st, r, err, errlen);
		else
			ret = add_to_class(st, i);
		if (ret != PG_OK)
			goto fail;
	}
	if ((ret = order_metas(st, err, errlen)) != PG_OK)
		goto fail;
	/* The state directory, when it is one, holds the compiled databases. */
	const char *sd = pg_cfg_str(cfg, "state_dir", "");
	struct stat sb;
	const char *cache_dir = pg_cfg_bool(cfg, "rules_cache", true) && sd[0] != '\0' &&
						stat(sd, &sb) == 0 && S_ISDIR(sb.st_mode)
					? sd
					: NULL;
	for (size_t i = 0; i < st->nc; i++)
		if ((ret = compile_class(st, &st->c[i], cache_dir, err, errlen)) != PG_OK)
			goto fail;
	*state = st;
	return PG_OK;
fail:
	if (ret == PG_ERR_NOMEM)
		setf(err, errlen, "rules: out of memory");
	rules_free(st);
	return ret;
}

/* ---- scratch pool ----------------------------------------------------- */

/* A scratch space for one scan: an idle one if any, else a new clone. */
static hs_scratch_t *pool_get(struct pool *p)
{
	hs_scratch_t *s = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->n > 0)
		s = p->idle[--p->n];
	pthread_mutex_unlock(&p->mu);
	if (s == NULL && hs_clone_scratch(p->proto, &s) != HS_SUCCESS)
		return NULL;
	return s;
}

static void pool_put(struct pool *p, hs_scratch_t *s)
{
	pthread_mutex_lock(&p->mu);
	if (p->n == p->cap && p->cap < POOL_MAX) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		hs_scratch_t **v = realloc(p->idle, cap * sizeof(*v));
		if (v != NULL) {
			p->idle = v;
			p->cap = cap;
		}
	}
	if (p->n < p->cap) {
		p->idle[p->n++] = s;
		s = NULL;
	}
	pthread_mutex_unlock(&p->mu);
	if (s != NULL)
		hs_free_scratch(s);
}

/* ---- inputs ----------------------------------------------------------- */

/* s as valid UTF-8, in the arena (s itself when already valid). */
static const char *utf8_in_arena(pg_arena *a, const char *s, size_t *n)
{
	if (pg_utf8_valid(s, *n))
		return s;
	char *fixed = pg_utf8_sanitize(s, *n);
	if (fixed == NULL)
		return NULL;
	*n = strlen(fixed);
	char *r = pg_arena_strndup(a, fixed, *n);
	free(fixed);
	return r;
}

/* Appends the NFKC + case folding of word w[0, n) (no blanks inside) to b,
 * as pg_text_fold does, faster for the common cases, and with typographic
 * quotes made ASCII so that "l\u2019account" matches a pattern written
 * "l'account".  ASCII keeps its case (the patterns ignore it).  Latin-1
 * letters (U+00C0 to U+00FF: every accented letter of Italian) are their
 * own NFKC form and fold by a fixed offset, so only other scripts,
 * ligatures, fullwidth forms and combining marks go through GLib, a word at
 * a time (so that a base letter and its combining accent compose).
 * pg_text_fold calls GLib for every non-ASCII word: on Italian text that was
 * most of this analyser's time. */
static pg_status fold_word(pg_arena *a, pg_buf *b, const char *w, size_t n)
{
	bool simple = true;
	bool nul = false, symbol = false;
	for (size_t i = 0; i < n && simple; i++) {
		unsigned char c = (unsigned char)w[i];
		nul = nul || c == 0;
		if (c < 0x80)
			continue;
		unsigned char c1 = i + 1 < n ? (unsigned char)w[i + 1] : 0;
		unsigned char c2 = i + 2 < n ? (unsigned char)w[i + 2] : 0;
		/* U+00C0..U+00FF is C3 80..BF; U+00D7 (x), U+00F7 (/) and U+00DF
		 * (sharp s, which folds to "ss") excepted. */
		if (c == 0xC3 && (c1 & 0xC0) == 0x80 && c1 != 0x97 && c1 != 0xB7 && c1 != 0x9F) {
			i++;
			continue;
		}
		/* quotes U+2018 U+2019 U+201C U+201D: E2 80 98/99/9C/9D */
		if (c == 0xE2 && c1 == 0x80 &&
		    (c2 == 0x98 || c2 == 0x99 || c2 == 0x9C || c2 == 0x9D)) {
			i += 2;
			continue;
		}
		/* symbols NFKC and case folding keep (or make a space) */
		bool space;
		size_t l = pg_fold_plain(w + i, n - i, &space);
		if (l > 0) {
			symbol = true;
			i += l - 1;
			continue;
		}
		simple = false;
	}
	if (simple && symbol && !nul) {
		/* Common symbols (pg_fold_plain): NFKC and case folding as
		 * GLib's (ASCII lower-cased, quotes kept), without it. */
		size_t fl = 0;
		const char *f = pg_text_fold(a, w, n, &fl);
		return f != NULL ? pg_buf_append(b, f, fl) : PG_ERR_NOMEM;
	}
	/* GLib stops at a NUL: such a word still goes to GLib. */
	if (symbol)
		simple = false;
	if (simple) {
		size_t start = b->len;
		pg_status s = pg_buf_append(b, w, n);
		if (s != PG_OK)
			return s;
		/* in place: the output is never longer than the input */
		size_t o = start;
		for (size_t i = start; i < b->len; i++) {
			unsigned char c = (unsigned char)b->data[i];
			if (c == 0xC3 && i + 1 < b->len) {
				unsigned char c1 = (unsigned char)b->data[++i];
				b->data[o++] = (char)c;
				/* capitals U+00C0..U+00DE fold to U+00E0..U+00FE */
				b->data[o++] = (char)(c1 <= 0x9E ? c1 + 0x20 : c1);
			} else if (c == 0xE2 && i + 2 < b->len) {
				unsigned char q = (unsigned char)b->data[i + 2];
				b->data[o++] = q == 0x98 || q == 0x99 ? '\'' : '"';
				i += 2;
			} else {
				b->data[o++] = (char)c;
			}
		}
		b->len = o;
		b->data[o] = '\0';
		return PG_OK;
	}
	gchar *nf = g_utf8_normalize(w, (gssize)n, G_NORMALIZE_NFKC);
	if (nf == NULL) /* invalid UTF-8: kept, made valid later */
		return pg_buf_append(b, w, n);
	gchar *cf = g_utf8_casefold(nf, -1);
	g_free(nf);
	if (cf == NULL)
		return PG_ERR_NOMEM;
	pg_status s = pg_buf_puts(b, cf);
	g_free(cf);
	return s;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

/* The subject and the text, folded (NFKC + case folding), into the arena.
 * ASCII is left as it is (the patterns ignore its case): most mail is
 * ASCII and then costs one copy. */
static const char *body_input(pg_arena *a, const pg_text *t, size_t *len)
{
	size_t sl = strlen(t->subject);
	if (sl > BODY_MAX / 4)
		sl = BODY_MAX / 4;
	size_t tl = t->all_len;
	if (tl > BODY_MAX - sl - 1)
		tl = BODY_MAX - sl - 1;
	char *joined = pg_arena_alloc(a, sl + 1 + tl + 1);
	if (joined == NULL)
		return NULL;
	memcpy(joined, t->subject, sl);
	joined[sl] = '\n';
	memcpy(joined + sl + 1, t->all, tl);
	joined[sl + 1 + tl] = '\0';
	size_t n = sl + 1 + tl;
	/* All ASCII (most mail): nothing to fold, valid UTF-8 already. */
	if (pg_ascii_span(joined, n) == n) {
		*len = n;
		return joined;
	}
	/* Stretches of ASCII words are copied whole; only the words holding
	 * a non-ASCII byte are folded. */
	pg_buf b;
	pg_buf_init(&b, PG_BUF_UNLIMITED);
	pg_status s = PG_OK;
	size_t i = 0;
	while (i < n && s == PG_OK) {
		size_t p = i;
		while (p < n && (unsigned char)joined[p] < 0x80)
			p++;
		if (p == n) {
			s = pg_buf_append(&b, joined + i, n - i);
			break;
		}
		size_t ws = p, we = p;
		while (ws > i && !is_blank(joined[ws - 1]))
			ws--;
		while (we < n && !is_blank(joined[we]))
			we++;
		s = pg_buf_append(&b, joined + i, ws - i);
		if (s == PG_OK)
			s = fold_word(a, &b, joined + ws, we - ws);
		i = we;
	}
	const char *r = s == PG_OK ? pg_arena_strndup(a, b.data ? b.data : "", b.len) : NULL;
	*len = b.len;
	pg_buf_free(&b);
	return r ? utf8_in_arena(a, r, len) : NULL;
}

static bool url_stop(unsigned char c)
{
	return c <= ' ' || c == '"' || c == '\'' || c == '<' || c == '>' || c == '`' || c == '{' ||
	       c == '}' || c == '|' || c == '\\' || c == '^' || c == 0x7f;
}

/* Appends one URL as a line, without the blanks and line breaks that
 * would split it.  Returns false when the buffer is full. */
static bool url_add(pg_buf *b, const char *u, size_t n, size_t *count)
{
	if (*count >= URL_MAX)
		return false;
	if (n > URL_LEN_MAX)
		n = URL_LEN_MAX;
	size_t start = b->len;
	for (size_t i = 0; i < n; i++) {
		char c = u[i];
		if (c == '\n' || c == '\r' || c == '\t' || c == '\0')
			continue;
		if (pg_buf_putc(b, c) != PG_OK)
			return false;
	}
	while (b->len > start && b->data[b->len - 1] == ' ')
		b->len--;
	if (b->len == start)
		return true;
	(*count)++;
	return pg_buf_putc(b, '\n') == PG_OK;
}

/* Every href of the HTML, then every http(s):// URL written in the text:
 * one per line.  A simple scan: the URL analyser does the real work. */
static pg_status url_input(const pg_text *t, pg_buf *b)
{
	size_t count = 0;
	for (size_t i = 0; i < t->nlinks; i++) {
		const char *h = t->links[i].href;
		size_t n;
		h = pg_trim(h, &n);
		if (!url_add(b, h, n, &count))
			return PG_OK;
	}
	const char *s = t->all;
	size_t len = t->all_len;
	size_t i = 0;
	while (i + 7 < len) {
		const char *p = memchr(s + i, ':', len - i);
		if (p == NULL)
			break;
		size_t at = (size_t)(p - s);
		i = at + 1;
		size_t scheme;
		if (at >= 5 && pg_strneq_ci(s + at - 5, "https", 5))
			scheme = 5;
		else if (at >= 4 && pg_strneq_ci(s + at - 4, "http", 4))
			scheme = 4;
		else
			continue;
		if (at + 3 > len || s[at + 1] != '/' || s[at + 2] != '/')
			continue;
		size_t st = at - scheme;
		if (st > 0) {
			unsigned char pc = (unsigned char)s[st - 1];
			if ((pc >= 'a' && pc <= 'z') || (pc >= 'A' && pc <= 'Z') ||
			    (pc >= '0' && pc <= '9'))
				continue;
		}
		size_t e = at + 3;
		while (e < len && !url_stop((unsigned char)s[e]))
			e++;
		/* Sentence punctuation after a URL is not part of it. */
		while (e > at + 3 && strchr(".,;:!?)]", s[e - 1]) != NULL)
			e--;
		if (!url_add(b, s + st, e - st, &count))
			return PG_OK;
		i = e;
	}
	return PG_OK;
}

/* Every header field of the message in the order written.  GMime keeps
 * the Content-* fields on the top-level MIME part, the others on the
 * message: both lists, merged by offset. */
static GMimeHeader **all_headers(pg_arena *a, const pg_msg *m, size_t *n)
{
	GMimeHeaderList *l1 = g_mime_object_get_header_list(GMIME_OBJECT(m->gm));
	GMimeObject *root = g_mime_message_get_mime_part(m->gm);
	GMimeHeaderList *l2 = root ? g_mime_object_get_header_list(root) : NULL;
	int n1 = l1 ? g_mime_header_list_get_count(l1) : 0;
	int n2 = l2 && l2 != l1 ? g_mime_header_list_get_count(l2) : 0;
	GMimeHeader **v = pg_arena_alloc(a, ((size_t)n1 + (size_t)n2 + 1) * sizeof(*v));
	if (v == NULL)
		return NULL;
	/* each list is in the order written: merge them */
	size_t k = 0;
	int i1 = 0, i2 = 0;
	while (i1 < n1 || i2 < n2) {
		GMimeHeader *h1 = i1 < n1 ? g_mime_header_list_get_header_at(l1, i1) : NULL;
		GMimeHeader *h2 = i2 < n2 ? g_mime_header_list_get_header_at(l2, i2) : NULL;
		if (h2 == NULL ||
		    (h1 != NULL && g_mime_header_get_offset(h1) <= g_mime_header_get_offset(h2))) {
			v[k++] = h1;
			i1++;
		} else {
			v[k++] = h2;
			i2++;
		}
	}
	*n = k;
	return v;
}

/* Appends header h (named hn) to a class's input b: its value, one line,
 * or "Name: value" for ALL.  first: nothing was appended before. */
static pg_status header_append(pg_buf *b, GMimeHeader *h, const char *hn, bool all, bool first)
{
	/* For ALL, the raw value, unfolded, and decoded only when it holds an
	 * encoded-word: asking GMime to decode every field (Received, DKIM...)
	 * costs ten times the scan. */
	gchar *dec = NULL;
	const char *v = all ? g_mime_header_get_raw_value(h) : g_mime_header_get_value(h);
	if (v == NULL)
		v = "";
	if (all) {
		while (*v == ' ' || *v == '\t')
			v++;
		if (strstr(v, "=?") != NULL)
			v = dec = g_mime_utils_header_decode_text(NULL, v);
	}
	size_t start = b->len;
	pg_status s = first ? PG_OK : pg_buf_putc(b, '\n');
	if (s == PG_OK && all && (s = pg_buf_puts(b, hn)) == PG_OK)
		s = pg_buf_append(b, ": ", 2);
	if (s == PG_OK)
		s = pg_buf_puts(b, v ? v : "");
	g_free(dec);
	if (s != PG_OK) {
		b->len = start; /* over the cap: what fitted is scanned */
		if (b->data != NULL)
			b->data[start] = '\0';
		return s;
	}
	/* A value is one line: folding must not start new ones (a fold's line
	 * break goes, its blank stays). */
	size_t w = start + (first ? 0 : 1);
	for (size_t k = w; b->data != NULL && k < b->len; k++) {
		char c = b->data[k];
		if (c == '\r')
			continue;
		if (c == '\n') {
			if (k + 1 < b->len && (b->data[k + 1] == ' ' || b->data[k + 1] == '\t'))
				continue;
			c = ' ';
		}
		b->data[w++] = c;
	}
	while (w > start && (b->data[w - 1] == ' ' || b->data[w - 1] == '\t'))
		w--;
	b->len = w;
	if (b->data != NULL)
		b->data[w] = '\0';
	return PG_OK;
}

struct hinput {
	const char *text; /* valid UTF-8, in the scan's arena */
	size_t len;
};

/* The inputs of every header class, in one pass over the header fields:
 * the values of the header a class names, one per line (every
 * occurrence), or every field as "Name: value" lines for ALL.  An absent
 * header gives "". */
static pg_status header_inputs(pg_arena *a, const pg_msg *m, const struct rules_state *st,
			       struct hinput *out)
{
	size_t first = T_URL + 1, nh = st->nc - first;
	size_t nf = 0;
	GMimeHeader **hv = all_headers(a, m, &nf);
	pg_buf *b = calloc(nh, sizeof(*b));
	unsigned char *state = calloc(nh, 1); /* 0 empty, 1 started, 2 full */
	bool *all = calloc(nh, sizeof(*all)); /* the class reads every field */
	pg_status s = hv && b && state && all ? PG_OK : PG_ERR_NOMEM;
	for (size_t k = 0; k < nh && b; k++)
		pg_buf_init(&b[k], HEADER_MAX);
	for (size_t k = 0; k < nh && all; k++)
		all[k] = pg_streq_ci(st->c[first + k].header, "all");
	for (size_t i = 0; i < nf && s == PG_OK; i++) {
		const char *hn = g_mime_header_get_name(hv[i]);
		if (hn == NULL)
			continue;
		for (size_t k = 0; k < nh && s == PG_OK; k++) {
			if (state[k] == 2 || (!all[k] && !pg_streq_ci(hn, st->c[first + k].header)))
				continue;
			s = header_append(&b[k], hv[i], hn, all[k], state[k] == 0);
			state[k] = 1;
			if (s == PG_ERR_TOO_BIG) {
				state[k] = 2;
				s = PG_OK;
			}
		}
	}
	for (size_t k = 0; k < nh && s == PG_OK; k++) {
		size_t len = b[k].len;
		const char *in = utf8_in_arena(a, b[k].data ? b[k].data : "", &len);
		if (in == b[k].data)
			in = pg_arena_strndup(a, b[k].data, len);
		else if (in != NULL && b[k].data == NULL)
			in = "";
		if (in == NULL)
			s = PG_ERR_NOMEM;
		out[k] = (struct hinput){in, len};
	}
	for (size_t k = 0; k < nh && b; k++)
		pg_buf_free(&b[k]);
	free(b);
	free(state);
	free(all);
	return s;
}

/* ---- scanning --------------------------------------------------------- */

struct hits {
	bool *hit;
	unsigned long long *end; /* where the first match ended */
};

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
		    void *ctx)
{
	(void)from;
	(void)flags;
	struct hits *h = ctx;
	if (!h->hit[id]) {
		h->hit[id] = true;
		h->end[id] = to;
	}
	return 0;
}

/* Up to SNIPPET bytes of input before end, on a character boundary, with
 * line breaks as blanks: what the match ended on, for the symbol's detail. */
static const char *snippet(pg_arena *a, const struct rule *r, const char *in, size_t len,
			   size_t end)
{
	if (end > len)
		end = len;
	size_t st = end > SNIPPET ? end - SNIPPET : 0;
	if (r->type == T_URL || r->type == T_HEADER) {
		/* the whole line the match ended on (one URL, one header value) */
		size_t last = end > 0 ? end - 1 : 0; /* the match's last byte */
		const char *nl = last > 0 ? memrchr(in, '\n', last) : NULL;
		st = nl ? (size_t)(nl - in) + 1 : 0;
		const char *e = last < len ? memchr(in + last, '\n', len - last) : NULL;
		end = e ? (size_t)(e - in) : len;
		if (end < st)
			end = st;
		if (end - st > 200)
			end = st + 200;
	}
	while (st < end && ((unsigned char)in[st] & 0xC0) == 0x80)
		st++;
	char *s = pg_arena_strndup(a, in + st, end - st);
	if (s == NULL)
		return NULL;
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	if (!pg_utf8_valid(s, strlen(s))) {
		char *f = pg_utf8_sanitize(s, strlen(s));
		if (f == NULL)
			return NULL;
		s = pg_arena_strdup(a, f);
		free(f);
	}
	return s;
}

struct run {
	pg_actx *ax;
	const struct rules_state *st;
	hs_scratch_t *scratch;
	pcre2_match_data *md;
	struct hits h;
	const char **detail; /* NULL: no details wanted */
	const pg_text *text;
	struct hinput *hin; /* header classes' inputs, on first use */
};

static pg_status scan_class(struct run *rn, const struct rclass *c, const char *in, size_t len)
{
	const struct rules_state *st = rn->st;
	if (c->db != NULL &&
	    hs_scan(c->db, in, (unsigned)len, 0, rn->scratch, on_match, &rn->h) != HS_SUCCESS)
		return PG_ERR_TEMPFAIL;
	for (size_t i = 0; i < c->npcre; i++) {
		size_t ri = c->pcre[i];
		if (rn->md == NULL) {
			rn->md = pcre2_match_data_create(1, NULL);
			if (rn->md == NULL)
				return PG_ERR_NOMEM;
		}
		int rc = pcre2_match(st->r[ri].re, (PCRE2_SPTR)in, len, 0, 0, rn->md, st->mctx);
		/* Errors (a match limit hit) count as no match. */
		if (rc >= 0) {
			rn->h.hit[ri] = true;
			rn->h.end[ri] = pcre2_get_ovector_pointer(rn->md)[1];
		}
	}
	if (rn->detail == NULL)
		return PG_OK;
	for (size_t i = 0; i < c->nrules; i++) {
		size_t ri = c->rules[i];
		const struct rule *r = &st->r[ri];
		if (!rn->h.hit[ri] || r->negate || r->internal)
			continue;
		const char *sn = snippet(rn->ax->arena, r, in, len, (size_t)rn->h.end[ri]);
		if (sn == NULL)
			return PG_ERR_NOMEM;
		rn->detail[ri] = r->type == T_HEADER && c->header && strcmp(c->header, "ALL") != 0
					 ? pg_arena_printf(rn->ax->arena, "%s: %s", c->header, sn)
					 : pg_arena_printf(rn->ax->arena, "\"%s\"", sn);
		if (rn->detail[ri] == NULL)
			return PG_ERR_NOMEM;
	}
	return PG_OK;
}

static pg_status run_class(struct run *rn, const struct rclass *c)
{
	pg_arena *a = rn->ax->arena;
	const pg_msg *m = rn->ax->msg;
	if ((c->type == T_BODY || c->type == T_URL) && rn->text == NULL) {
		rn->text = pg_msg_text(m);
		if (rn->text == NULL)
			return PG_ERR_NOMEM;
	}
	switch (c->type) {
	case T_BODY: {
		size_t len = 0;
		const char *in = body_input(a, rn->text, &len);
		return in ? scan_class(rn, c, in, len) : PG_ERR_NOMEM;
	}
	case T_RAW: {
		size_t len = 0;
		const char *in = pg_msg_raw(m, &len);
		if (len > RAW_MAX)
			len = RAW_MAX;
		return scan_class(rn, c, in ? in : "", in ? len : 0);
	}
	case T_URL: {
		pg_buf b;
		pg_buf_init(&b, URL_BUF_MAX);
		pg_status s = url_input(rn->text, &b);
		size_t len = b.len;
		const char *in = NULL;
		if (s == PG_OK) {
			in = utf8_in_arena(a, b.data ? b.data : "", &len);
			if (in == b.data)
				in = pg_arena_strndup(a, b.data ? b.data : "", len);
			if (in == NULL)
				s = PG_ERR_NOMEM;
		}
		pg_buf_free(&b);
		return s == PG_OK ? scan_class(rn, c, in, len) : s;
	}
	case T_HEADER: {
		size_t first = T_URL + 1;
		if (rn->hin == NULL) {
			rn->hin = pg_arena_calloc(a, rn->st->nc - first, sizeof(*rn->hin));
			if (rn->hin == NULL)
				return PG_ERR_NOMEM;
			pg_status s = header_inputs(a, m, rn->st, rn->hin);
			if (s != PG_OK)
				return s;
		}
		const struct hinput *hi = &rn->hin[c - rn->st->c - first];
		return scan_class(rn, c, hi->text, hi->len);
	}
	default:
		return PG_OK;
	}
}

/* Runs every class and meta rule; fired[i] as in pg_rules_eval, details
 * into detail when not NULL. */
static pg_status evaluate(pg_actx *ax, struct rules_state *st, bool *fired, const char **detail)
{
	struct run rn = {.ax = ax, .st = st, .detail = detail};
	rn.h.hit = fired;
	rn.h.end = pg_arena_calloc(ax->arena, st->n ? st->n : 1, sizeof(*rn.h.end));
	if (rn.h.end == NULL)
		return PG_ERR_NOMEM;
	memset(fired, 0, st->n * sizeof(*fired));
	pg_status s = PG_OK;
	if (st->pool_ready) {
		rn.scratch = pool_get(&st->pool);
		if (rn.scratch == NULL)
			return PG_ERR_NOMEM;
	}
	for (size_t i = 0; i < st->nc && s == PG_OK; i++)
		if (st->c[i].nrules > 0)
			s = run_class(&rn, &st->c[i]);
	if (rn.scratch != NULL)
		pool_put(&st->pool, rn.scratch);
	pcre2_match_data_free(rn.md);
	if (s != PG_OK)
		return s;
	for (size_t i = 0; i < st->n; i++)
		if (st->r[i].type != T_META && st->r[i].negate)
			fired[i] = !fired[i];
	/* Metas last, in dependency order: they read the others' results. */
	for (size_t k = 0; k < st->nmeta; k++) {
		const struct rule *r = &st->r[st->meta_order[k]];
		bool v = meta_eval(r, fired) != 0;
		fired[st->meta_order[k]] = r->negate ? !v : v;
	}
	return PG_OK;
}

static pg_status rules_run(pg_actx *ax, void *state)
{
	struct rules_state *st = state;
	if (st == NULL || st->n == 0 || ax->msg == NULL || ax->msg->gm == NULL)
		return PG_OK;
	bool *fired = pg_arena_calloc(ax->arena, st->n, sizeof(*fired));
	const char **detail = pg_arena_calloc(ax->arena, st->n, sizeof(*detail));
	if (fired == NULL || detail == NULL)
		return PG_ERR_NOMEM;
	pg_status s = evaluate(ax, st, fired, detail);
	for (size_t i = 0; i < st->n && s == PG_OK; i++)
		if (fired[i] && !st->r[i].internal)
			s = pg_symset_add(ax->syms, st->r[i].name, st->r[i].weight, detail[i]);
	return s;
}

const pg_analyser pg_analyser_rules = {
	.name = "rules",
	.init = rules_init,
	.free = rules_free,
	.run = rules_run,
};

/* ---- introspection ---------------------------------------------------- */

size_t pg_rules_count(const void *state)
{
	return state ? ((const struct rules_state *)state)->n : 0;
}

const char *pg_rules_name(const void *state, size_t i)
{
	const struct rules_state *st = state;
	return st && i < st->n ? st->r[i].name : NULL;
}

const char *pg_rules_type(const void *state, size_t i)
{
	const struct rules_state *st = state;
	return st && i < st->n ? type_names[st->r[i].type] : NULL;
}

double pg_rules_weight(const void *state, size_t i)
{
	const struct rules_state *st = state;
	return st && i < st->n ? st->r[i].weight : 0;
}

int pg_rules_engine_of(const void *state, const char *name)
{
	const struct rules_state *st = state;
	for (size_t i = 0; st && i < st->n; i++)
		if (strcmp(st->r[i].name, name) == 0)
			return st->r[i].type == T_META ? PG_RULE_META
			       : st->r[i].re           ? PG_RULE_PCRE2
						       : PG_RULE_VECTORSCAN;
	return -1;
}

pg_status pg_rules_eval(pg_actx *ax, void *state, bool *fired)
{
	struct rules_state *st = state;
	if (st == NULL || st->n == 0 || ax->msg == NULL || ax->msg->gm == NULL) {
		if (st)
			memset(fired, 0, st->n * sizeof(*fired));
		return PG_OK;
	}
	return evaluate(ax, st, fired, NULL);
}
