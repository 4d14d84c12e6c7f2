/*
 * bayes.c - the statistical filter: tokenizer, learning, classifier.
 *
 * Tokenizer.  The text analysers read (subject, text parts, HTML rendered)
 * is folded (NFKC + case folding: "FATTURA", "Fattura" and the fullwidth
 * "ｆａｔｔｕｒａ" are one word), cut into words of letters and digits (2..40
 * characters, accents kept: "perché" is not "perche"), and each word is
 * paired with the one before it (word pairs carry phrases such as "fattura
 * scaduta").  URL hosts and e-mail domains are kept whole, as are a few
 * header facts (sender and reply domains, Message-ID host, the names of
 * the header fields, mailer family, attachment extensions, part types,
 * charsets).  Every token is a 64-bit keyed hash: 8-byte keys in the
 * store, no strings kept.
 *
 * Classifier.  Robinson's f(w) = (s*x + n*p(w)) / (s + n) per token, p(w)
 * from counts normalised by the numbers of learned spam and ham; the most
 * significant tokens (|f - 0.5| > min_deviation, at most max_significant)
 * are combined with Fisher's chi-square method, which says "unsure" when
 * the evidence points both ways instead of averaging it away.
 *
 * Speed.  A B-tree lookup per token costs about a microsecond in LMDB, too
 * much for a thousand tokens per message, so the analyser keeps an
 * in-memory copy of the token counts (an open-addressing table, 16 bytes a
 * token), rebuilt from the store when learning changed it (at most every
 * bayes.cache_refresh seconds); a message then costs one store read (the
 * learned counters) and a thousand cache-friendly probes.  With
 * bayes.cache = false every message reads its tokens from the store in one
 * batch instead.
 */
#include "scan/bayes.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <libpsl.h>

#include "mime/text.h"
#include "util/str.h"

/* Everything Bayes keeps is in one namespace, told apart by key length:
 *   8 bytes    a token: (spam, ham) messages it was learned from;
 *   "learned"  (spam, ham) messages learned;
 *   17 bytes   a message learned: (1, 0) as spam, (0, 1) as ham;
 *   "generation" (changes so far, 0): running filters refresh on a change.
 * The first three always move by the same amounts in one learning, so one
 * counters_add of one transaction does it: a crash or a full store never
 * leaves the counts of a message half learned. */
#define NS_BAYES       "bayes"
#define KEY_LEARNED    "learned"
#define KEY_GENERATION "generation"
#define SEEN_KEY_LEN   17

#define WORD_MIN 2
#define WORD_MAX 40
/* Text is folded in pieces this size, so a long message stops being read
 * once max_tokens is reached. */
#define FOLD_PIECE 8192

/* ---- settings ------------------------------------------------------------ */

typedef struct bayes_opts {
	bool enabled;
	int64_t min_learned;
	double spam_threshold;
	double spam_floor; /* fraction of BAYES_SPAM's weight at the threshold */
	double ham_threshold;
	size_t max_tokens;
	size_t max_significant;
	double min_deviation;
	double robinson_s;
	double robinson_x;
	bool cache;
	double cache_refresh;
	char subject_tag[64];
} bayes_opts;

static pg_status opts_read(const pg_config *cfg, bayes_opts *o, char *err, size_t errlen)
{
	memset(o, 0, sizeof(*o));
	o->enabled = pg_cfg_bool(cfg, "bayes.enabled", true);
	o->min_learned = pg_cfg_int(cfg, "bayes.min_learned", 200);
	o->spam_threshold = pg_cfg_float(cfg, "bayes.spam_threshold", 0.95);
	o->spam_floor = pg_cfg_float(cfg, "bayes.spam_floor", 0.5);
	o->ham_threshold = pg_cfg_float(cfg, "bayes.ham_threshold", 0.05);
	int64_t mt = pg_cfg_int(cfg, "bayes.max_tokens", 2000);
	int64_t ms = pg_cfg_int(cfg, "bayes.max_significant", 150);
	o->min_deviation = pg_cfg_float(cfg, "bayes.min_deviation", 0.1);
	o->robinson_s = pg_cfg_float(cfg, "bayes.robinson_s", 1.0);
	o->robinson_x = pg_cfg_float(cfg, "bayes.robinson_x", 0.5);
	o->cache = pg_cfg_bool(cfg, "bayes.cache", true);
	o->cache_refresh = pg_cfg_float(cfg, "bayes.cache_refresh", 30);
	snprintf(o->subject_tag, sizeof(o->subject_tag), "%s",
		 pg_cfg_str(cfg, "scoring.subject_tag", ""));
	const char *bad = NULL;
	if (o->min_learned < 0)
		bad = "bayes.min_learned must be 0 or more";
	else if (!(o->spam_threshold > 0.5 && o->spam_threshold <= 1.0))
		bad = "bayes.spam_threshold must be above 0.5 and at most 1";
	else if (!(o->spam_floor >= 0.0 && o->spam_floor <= 1.0))
		bad = "bayes.spam_floor must be between 0 and 1";
	else if (!(o->ham_threshold >= 0.0 && o->ham_threshold < 0.5))
		bad = "bayes.ham_threshold must be at least 0 and below 0.5";
	else if (mt < 1 || mt > 100000)
		bad = "bayes.max_tokens must be 1..100000";
	else if (ms < 1 || ms > 1000)
		bad = "bayes.max_significant must be 1..1000";
	else if (!(o->min_deviation >= 0.0 && o->min_deviation < 0.5))
		bad = "bayes.min_deviation must be at least 0 and below 0.5";
	else if (!(o->robinson_s > 0.0 && o->robinson_s <= 100.0))
		bad = "bayes.robinson_s must be above 0 (and at most 100)";
	else if (!(o->robinson_x > 0.0 && o->robinson_x < 1.0))
		bad = "bayes.robinson_x must be between 0 and 1";
	else if (!(o->cache_refresh >= 0.0))
		bad = "bayes.cache_refresh must be 0 or more seconds";
	if (bad != NULL) {
		pg_errf(err, errlen, "%s", bad);
		return PG_ERR_CONFIG;
	}
	o->max_tokens = (size_t)mt;
	o->max_significant = (size_t)ms;
	return PG_OK;
}

/* ---- hashing ------------------------------------------------------------- */

/* A fixed key: token hashes must mean the same in every process and on
 * every host sharing a store, so it cannot be random per process. */
#define HASH_KEY 0x70656367756172deULL /* "pecguar" + 0xde */
#define GOLDEN   0x9e3779b97f4a7c15ULL

/* splitmix64's finaliser: a bijection whose every input bit moves about
 * half of the output bits. */
static inline uint64_t fmix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Little-endian loads: the hash of a word is the same on every host. */
static inline uint64_t load_le(const unsigned char *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline uint64_t load8(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

/* Hash of n bytes under seed (the token's kind): each 8-byte block is
 * mixed into the state; the length enters too, so texts that differ only
 * by trailing zero bytes differ. */
static uint64_t hash_bytes(uint64_t seed, const void *data, size_t n)
{
	const unsigned char *p = data;
	uint64_t h = seed ^ HASH_KEY ^ ((uint64_t)n * GOLDEN);
	while (n >= 8) {
		h = fmix(h ^ load8(p)) + GOLDEN;
		p += 8;
		n -= 8;
	}
	h = fmix(h ^ load_le(p, n) ^ ((uint64_t)n << 59));
	/* Zero marks an empty slot in the tables below. */
	return h ? h : GOLDEN;
}

/* The same hash for a buffer that may be overwritten up to the next
 * multiple of 8 past n: the tail is zero-padded and loaded whole. */
static inline uint64_t hash_padded(uint64_t seed, unsigned char *p, size_t n)
{
	memset(p + n, 0, 8);
	uint64_t h = seed ^ HASH_KEY ^ ((uint64_t)n * GOLDEN);
	size_t r = n;
	while (r >= 8) {
		h = fmix(h ^ load8(p)) + GOLDEN;
		p += 8;
		r -= 8;
	}
	h = fmix(h ^ load8(p) ^ ((uint64_t)r << 59));
	return h ? h : GOLDEN;
}

static uint64_t kind_seed(const char *kind)
{
	return kind[0] ? fmix(hash_bytes(0, kind, strlen(kind))) : 0;
}

uint64_t pg_bayes_token(const char *kind, const char *text, size_t len)
{
	return hash_bytes(kind_seed(kind ? kind : ""), text, len);
}

uint64_t pg_bayes_bigram(uint64_t a, uint64_t b)
{
	/* Order matters ("non pagare" is not "pagare non"): a is multiplied,
	 * b rotated. */
	uint64_t h = fmix((a * GOLDEN) ^ ((b << 23) | (b >> 41)) ^ HASH_KEY);
	return h ? h : GOLDEN;
}

/* ---- the set of a message's tokens ----------------------------------- */

typedef struct tokset {
	uint64_t *v; /* in the order first seen */
	size_t n, max;
	uint64_t *slots; /* open addressing, 0 = empty; at most half full */
	size_t mask, maxmask;
	pg_arena *a; /* where slots grow: most messages need a few hundred */
	bool nomem;  /* growing failed: full from then on */
} tokset;

static pg_status tokset_init(tokset *t, pg_arena *a, size_t max)
{
	size_t cap = 64;
	while (cap < max * 2)
		cap <<= 1;
	t->maxmask = cap - 1;
	if (cap > 512)
		cap = 512;
	t->v = pg_arena_alloc(a, max * sizeof(*t->v));
	t->slots = pg_arena_calloc(a, cap, sizeof(*t->slots));
	if (t->v == NULL || t->slots == NULL)
		return PG_ERR_NOMEM;
	t->n = 0;
	t->max = max;
	t->mask = cap - 1;
	t->a = a;
	t->nomem = false;
	return PG_OK;
}

static inline bool tokset_full(const tokset *t)
{
	return t->n >= t->max || t->nomem;
}

static void tokset_place(uint64_t *slots, size_t mask, uint64_t h)
{
	size_t i = (size_t)(h ^ (h >> 32)) & mask;
	while (slots[i] != 0)
		i = (i + 1) & mask;
	slots[i] = h;
}

static bool tokset_grow(tokset *t)
{
	size_t cap = (t->mask + 1) * 2;
	uint64_t *ns = pg_arena_calloc(t->a, cap, sizeof(*ns));
	if (ns == NULL)
		return false;
	for (size_t i = 0; i < t->n; i++)
		tokset_place(ns, cap - 1, t->v[i]);
	t->slots = ns;
	t->mask = cap - 1;
	return true;
}

static inline bool tokset_has(const tokset *t, uint64_t h)
{
	size_t i = (size_t)(h ^ (h >> 32)) & t->mask;
	while (t->slots[i] != 0) {
		if (t->slots[i] == h)
			return true;
		i = (i + 1) & t->mask;
	}
	return false;
}

/* Adds h unless present or full; true when added. */
static inline bool tokset_add(tokset *t, uint64_t h)
{
	if (tokset_full(t))
		return false;
	size_t i = (size_t)(h ^ (h >> 32)) & t->mask;
	while (t->slots[i] != 0) {
		if (t->slots[i] == h)
			return false;
		i = (i + 1) & t->mask;
	}
	if ((t->n + 1) * 2 > t->mask + 1 && t->mask < t->maxmask) {
		if (!tokset_grow(t)) {
			t->nomem = true;
			return false;
		}
		tokset_place(t->slots, t->mask, h);
	} else {
		t->slots[i] = h;
	}
	t->v[t->n++] = h;
	return true;
}

/* ---- tokenizer ------------------------------------------------------------ */

typedef struct tokenizer {
	pg_arena *a;
	tokset *set;
	uint64_t seed; /* of the words being read: body or subject */
	uint64_t prev; /* the word before, for pairs */
	bool has_prev;
	const psl_ctx_t *psl;
	uint64_t seed_url, seed_urld, seed_email, seed_long;
	/* Explaining (pg_bayes_explain): the text of each token, parallel to
	 * set->v; NULL when not explaining, which costs one test a token. */
	const char **texts;
	const char *kind; /* of the words being read, for their text */
	char prev_text[WORD_MAX * 4 + 16];
} tokenizer;

static void tz_init(tokenizer *tz, pg_arena *a, tokset *set)
{
	memset(tz, 0, sizeof(*tz));
	tz->a = a;
	tz->set = set;
	/* The built-in Public Suffix List: immutable data inside libpsl. */
	tz->psl = psl_builtin();
	tz->seed_url = kind_seed("url");
	tz->seed_urld = kind_seed("urld");
	tz->seed_email = kind_seed("email");
	tz->seed_long = kind_seed("long");
	tz->kind = "";
}

/* Adds token h; when explaining, records its text "kind:text". */
static void put(tokenizer *tz, uint64_t h, const char *kind, const char *text, size_t n)
{
	if (!tokset_add(tz->set, h) || tz->texts == NULL)
		return;
	tz->texts[tz->set->n - 1] = kind[0] ? pg_arena_printf(tz->a, "%s:%.*s", kind, (int)n, text)
					    : pg_arena_strndup(tz->a, text, n);
}

static void emit_kind(tokenizer *tz, const char *kind, const char *text, size_t n)
{
	if (n > 0)
		put(tz, pg_bayes_token(kind, text, n), kind, text, n);
}

/* Classes of ASCII characters, one table look-up each: the scanner's
 * inner loops run over every byte of the text. */
enum {
	C_SPACE = 1,  /* blank: separates chunks */
	C_ALNUM = 2,  /* letter or digit: in words */
	C_HOST = 4,   /* may appear in a host name */
	C_LEAD = 8,   /* opens around an address in prose: < ( [ { " ' * */
	C_TRAIL = 16, /* closes one, or ends a sentence: > ) ] } " ' * . , ; : ! ? */
	C_MARK = 32   /* . : @ -- a chunk without one is only words */
};
static const unsigned char ascii_class[128] = {
	0, 0, 0, 0, 0, 0, 0,  0,  0,  1, 1,  1,  1,  1,  0, 0,  0,  0, 0,  0, 0,  0,  0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 1,  16, 24, 0, 0,  0,  0,  24, 8, 16, 24, 0, 16, 4, 52, 0,  6, 6, 6, 6,
	6, 6, 6, 6, 6, 6, 48, 16, 8,  0, 16, 16, 32, 6,  6, 6,  6,  6, 6,  6, 6,  6,  6, 6, 6, 6,
	6, 6, 6, 6, 6, 6, 6,  6,  6,  6, 6,  6,  6,  8,  0, 16, 0,  4, 0,  6, 6,  6,  6, 6, 6, 6,
	6, 6, 6, 6, 6, 6, 6,  6,  6,  6, 6,  6,  6,  6,  6, 6,  6,  6, 6,  8, 0,  16, 0, 0,
};

static inline bool is_class(unsigned char c, unsigned cls)
{
	return c < 0x80 && (ascii_class[c] & cls) != 0;
}

static inline bool ascii_space(unsigned char c)
{
	return is_class(c, C_SPACE);
}

static inline bool ascii_alnum(unsigned char c)
{
	return is_class(c, C_ALNUM);
}

/* Non-ASCII bytes may be part of an internationalised host name. */
static inline bool host_byte(unsigned char c)
{
	return c >= 0x80 || (ascii_class[c] & C_HOST) != 0;
}

/* A host (folded, so lower case) as tokens: itself, and its registrable
 * domain when that differs ("www.foo.co.uk" and "foo.co.uk"), so every
 * host of one site shares a token.  Returns false when it is not a
 * plausible host name. */
static bool emit_host(tokenizer *tz, uint64_t seed, const char *h, size_t n, bool need_suffix)
{
	while (n > 0 && h[n - 1] == '.')
		n--;
	while (n > 0 && h[0] == '.')
		h++, n--;
	if (n < 3 || n > 253 || memchr(h, '.', n) == NULL)
		return false;
	/* Text that was all ASCII reaches us unfolded: lower-case here. */
	char buf[256];
	for (size_t i = 0; i < n; i++) {
		if (!host_byte((unsigned char)h[i]))
			return false;
		buf[i] = pg_lower(h[i]);
	}
	buf[n] = '\0';
	/* A host seen before (a message repeats its links) has given all its
	 * tokens already, or they did not fit: the Public Suffix List look-ups
	 * are the costly part, skipped. */
	uint64_t tok = hash_bytes(seed, buf, n);
	if (tokset_has(tz->set, tok))
		return true;
	const char *reg = tz->psl ? psl_registrable_domain(tz->psl, buf) : NULL;
	if (need_suffix) {
		/* Prose glues words with full stops ("fine.grazie"): a host
		 * only when the last label is a suffix the list knows, not one
		 * the list's catch-all rule would accept. */
		const char *tld = strrchr(buf, '.');
		if (reg == NULL || tld == NULL ||
		    !psl_is_public_suffix2(tz->psl, tld + 1, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE))
			return false;
	}
	put(tz, tok, seed == tz->seed_email ? "email" : "url", buf, n);
	if (reg != NULL && strlen(reg) != n)
		put(tz, hash_bytes(tz->seed_urld, reg, strlen(reg)), "urld", reg, strlen(reg));
	return true;
}

/* The host of a URL given from its scheme or "www.". */
static void url_host(tokenizer *tz, const char *s, size_t n)
{
	const char *p = s, *end = s + n;
	const char *sep = NULL;
	for (const char *q = s; q + 2 < end; q++)
		if (q[0] == ':' && q[1] == '/' && q[2] == '/') {
			sep = q;
			break;
		}
	if (sep != NULL)
		p = sep + 3;
	const char *h = p;
	while (p < end && *p != '/' && *p != '?' && *p != '#' && *p != '\\')
		p++;
	/* user:password@host - the host is after the last '@'. */
	for (const char *q = p; q > h; q--)
		if (q[-1] == '@') {
			h = q;
			break;
		}
	const char *e = h;
	while (e < p && *e != ':')
		e++;
	emit_host(tz, tz->seed_url, h, (size_t)(e - h), false);
}

/* A word has ended: its token, and its pair with the word before. */
static void end_word(tokenizer *tz, unsigned char *wb, size_t wn, size_t wc, const char *first)
{
	if (wc >= WORD_MIN && wc <= WORD_MAX) {
		uint64_t h = hash_padded(tz->seed, wb, wn);
		put(tz, h, tz->kind, (const char *)wb, wn);
		if (tz->has_prev) {
			uint64_t b = pg_bayes_bigram(tz->prev, h);
			if (tokset_add(tz->set, b) && tz->texts != NULL)
				tz->texts[tz->set->n - 1] = pg_arena_printf(
					tz->a, "%s %s%s%.*s", tz->prev_text, tz->kind,
					tz->kind[0] ? ":" : "", (int)wn, (const char *)wb);
		}
		tz->prev = h;
		tz->has_prev = true;
		if (tz->texts != NULL)
			snprintf(tz->prev_text, sizeof(tz->prev_text), "%s%s%.*s", tz->kind,
				 tz->kind[0] ? ":" : "", (int)wn, (const char *)wb);
	} else if (wc > WORD_MAX) {
		/* Base64 blobs, hashes, glued words: the shape is the signal
		 * ("a word of 60-odd characters starting with a letter"), and
		 * it breaks the phrase. */
		char lb[32];
		int ln = snprintf(lb, sizeof(lb), "%c%zu",
				  ascii_alnum((unsigned char)first[0]) ? pg_lower(first[0]) : '*',
				  wc / 10 * 10);
		put(tz, hash_bytes(tz->seed_long, lb, (size_t)ln), "long", lb, (size_t)ln);
		tz->has_prev = false;
	}
}

/* A Latin-1 letter U+00C0..U+00FF (not the signs × and ÷) at s, the
 * accented letters of Italian among them: told without GLib. */
static inline bool latin1_letter(const char *s, size_t n)
{
	unsigned char d;
	return n >= 2 && (unsigned char)s[0] == 0xC3 && (d = (unsigned char)s[1]) >= 0x80 &&
	       d <= 0xBF && d != 0x97 && d != 0xB7;
}

/* What a non-ASCII character is to the word scanner. */
enum { U_SEP, U_WORD, U_SKIP };
static int uclass(const char *s, size_t n, size_t *clen)
{
	gunichar u = g_utf8_get_char_validated(s, (gssize)n);
	if (u == (gunichar)-1 || u == (gunichar)-2) {
		*clen = 1; /* an invalid byte separates */
		return U_SEP;
	}
	*clen = (size_t)g_unichar_to_utf8(u, NULL);
	if (g_unichar_type(u) == G_UNICODE_FORMAT)
		return U_SKIP;
	return g_unichar_isalnum(u) || g_unichar_ismark(u) ? U_WORD : U_SEP;
}

/* Words of letters and digits, ASCII lower-cased as they are copied.
 * Format characters (zero-width space, soft hyphen) are dropped inside a
 * word: they are how spam hides words from filters, not how people
 * write. */
static void words(tokenizer *tz, const char *s, size_t n)
{
	/* Room for WORD_MAX characters of 4 bytes and the zero padding that
	 * hash_padded reads. */
	unsigned char wb[WORD_MAX * 4 + 16];
	size_t i = 0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t clen = 1;
		if (c < 0x80) {
			if (!(ascii_class[c] & C_ALNUM)) {
				i++;
				continue;
			}
		} else if (latin1_letter(s + i, n - i)) {
			clen = 2;
		} else if (uclass(s + i, n - i, &clen) != U_WORD) {
			i += clen;
			continue;
		}
		const char *first = s + i;
		size_t wn = 0, wc = 0;
		while (i < n) {
			c = (unsigned char)s[i];
			if (c < 0x80) {
				if (!(ascii_class[c] & C_ALNUM))
					break;
				if (wc < WORD_MAX)
					wb[wn++] = (unsigned char)pg_lower((char)c);
				wc++;
				i++;
				continue;
			}
			if (latin1_letter(s + i, n - i)) {
				/* À..Þ lower-case to à..þ: the second byte + 0x20. */
				if (wc < WORD_MAX) {
					unsigned char d = (unsigned char)s[i + 1];
					wb[wn++] = 0xC3;
					wb[wn++] = d <= 0x9E ? (unsigned char)(d + 0x20) : d;
				}
				wc++;
				i += 2;
				continue;
			}
			int k = uclass(s + i, n - i, &clen);
			if (k == U_SEP)
				break;
			if (k == U_WORD) {
				if (wc < WORD_MAX) {
					memcpy(wb + wn, s + i, clen);
					wn += clen;
				}
				wc++;
			}
			i += clen;
		}
		end_word(tz, wb, wn, wc, first);
		if (tokset_full(tz->set))
			return;
	}
}

/* One run of non-blank text: a URL, an e-mail address, or words. */
static void chunk(tokenizer *tz, const char *s, size_t n)
{
	/* Trim what surrounds addresses in prose: <...>, (...), quotes, and
	 * the punctuation that ends a sentence. */
	const char *b = s, *e = s + n;
	while (b < e && is_class((unsigned char)*b, C_LEAD))
		b++;
	while (e > b && is_class((unsigned char)e[-1], C_TRAIL))
		e--;
	size_t m = (size_t)(e - b);
	if (m >= 4) {
		/* One look at the bytes decides which forms are possible. */
		bool colon = false, dot = false, hostlike = true;
		const char *at = NULL;
		for (const char *q = b; q < e; q++) {
			unsigned char c = (unsigned char)*q;
			if (c == ':')
				colon = true;
			else if (c == '.')
				dot = true;
			else if (c == '@' && at == NULL)
				at = q;
			hostlike = hostlike && c < 0x80 && host_byte(c);
		}
		if ((colon && memmem(b, m, "://", 3) != NULL) ||
		    (m > 4 && pg_strneq_ci(b, "www.", 4))) {
			url_host(tz, b, m);
			tz->has_prev = false;
			return;
		}
		if (at != NULL && at > b) {
			const char *d = at + 1, *de = d;
			while (de < e && host_byte((unsigned char)*de))
				de++;
			if (emit_host(tz, tz->seed_email, d, (size_t)(de - d), false)) {
				tz->has_prev = false;
				return;
			}
		}
		/* A bare host name in prose ("agenziaentrate.gov.it"): a host
		 * when it ends in a public suffix, and its words too. */
		if (dot && hostlike)
			emit_host(tz, tz->seed_url, b, m, true);
	}
	words(tz, s, n);
}

/* Folded text, or ASCII text (folded as it is read): chunks between
 * blanks. */
static void scan_folded(tokenizer *tz, const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && !tokset_full(tz->set)) {
		while (i < n && ascii_space((unsigned char)s[i]))
			i++;
		/* Most chunks are plain words: only one with '.', ':' or '@'
		 * can be a URL, an address or a host. */
		size_t j = i;
		unsigned marks = 0;
		for (; j < n; j++) {
			unsigned char c = (unsigned char)s[j];
			if (c < 0x80) {
				if (ascii_class[c] & C_SPACE)
					break;
				marks |= ascii_class[c];
			}
		}
		if (j > i) {
			if (marks & C_MARK)
				chunk(tz, s + i, j - i);
			else
				words(tz, s + i, j - i);
		}
		i = j;
	}
}

/* Is s only ASCII and U+00C0..U+00FF (UTF-8 C3 80..C3 BF), without 'ß'
 * (whose case folding is "ss")?  Those are stable under NFKC, and their
 * case folding is adding 0x20 to the upper-case ones. */
static bool latin1_simple(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80)
			continue;
		if (c != 0xC3 || i + 1 >= n)
			return false;
		unsigned char d = (unsigned char)s[++i];
		if (d < 0x80 || d > 0xBF || d == 0x9F)
			return false;
	}
	return true;
}

/* Folds text piece by piece (cut at blanks, so words stay whole) and
 * tokenizes it, stopping when the token set is full. */
static pg_status tz_text(tokenizer *tz, const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && !tokset_full(tz->set)) {
		size_t j = n - i > FOLD_PIECE ? i + FOLD_PIECE : n;
		if (j < n) {
			size_t k = j;
			while (k > i && !ascii_space((unsigned char)s[k - 1]))
				k--;
			if (k > i) {
				j = k;
			} else {
				/* no blank: cut between UTF-8 characters */
				while (j > i + 1 && ((unsigned char)s[j] & 0xC0) == 0x80)
					j--;
			}
		}
		/* Folding ASCII and the precomposed Latin-1 letters (the
		 * accented vowels of Italian) is lower-casing, which the
		 * scanner does as it copies words: only text with other
		 * characters goes through NFKC and case folding. */
		if (latin1_simple(s + i, j - i)) {
			scan_folded(tz, s + i, j - i);
		} else {
			size_t fl = 0;
			const char *f = pg_text_fold(tz->a, s + i, j - i, &fl);
			if (f == NULL)
				return PG_ERR_NOMEM;
			scan_folded(tz, f, fl);
		}
		i = j;
	}
	return PG_OK;
}

/* The domain of the first address in a header value such as
 * "Name <user@Example.COM>" or "user@example.com (x)". */
static size_t addr_domain(const char *v, char *out, size_t outlen)
{
	/* The address in angle brackets when there is one: a display name
	 * may hold an '@' of its own ("info@bank" <x@elsewhere.test>). */
	const char *lt = v ? strrchr(v, '<') : NULL;
	if (lt != NULL && strchr(lt, '@') != NULL)
		v = lt;
	const char *at = v ? strchr(v, '@') : NULL;
	if (at == NULL)
		return 0;
	size_t n = 0;
	for (const char *p = at + 1; *p && host_byte((unsigned char)*p) && n + 1 < outlen; p++)
		out[n++] = pg_lower(*p);
	while (n > 0 && out[n - 1] == '.')
		n--;
	out[n] = '\0';
	return n;
}

/* "Microsoft Outlook 16.0.5", "Apple Mail (2.3445)" -> "microsoft outlook",
 * "apple mail": the family, not the build. */
static size_t mailer_family(const char *v, char *out, size_t outlen)
{
	size_t n = 0;
	bool space = false;
	for (const char *p = v; *p && n + 2 < outlen; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c >= '0' && c <= '9') || c == '(' || c == '/' || c == ';' || c == '[' ||
		    c == ',' || c >= 0x80)
			break;
		if (c == ' ' || c == '\t' || c == '-' || c == '_' || c == '.') {
			space = n > 0;
			continue;
		}
		if (space)
			out[n++] = ' ';
		space = false;
		out[n++] = pg_lower((char)c);
	}
	out[n] = '\0';
	return n;
}

static void header_tokens(tokenizer *tz, const pg_msg *m)
{
	char from[256] = "", dom[256];
	const char *name = NULL, *addr = NULL;
	pg_msg_from(m, &name, &addr);
	size_t fn = addr ? addr_domain(addr, from, sizeof(from)) : 0;
	if (fn > 0)
		emit_kind(tz, "from", from, fn);
	size_t rn = addr_domain(pg_msg_header(m, "Reply-To"), dom, sizeof(dom));
	if (rn > 0) {
		emit_kind(tz, "replyto", dom, rn);
		/* Replies going elsewhere than the sender: a phishing habit. */
		const char *fr = tz->psl && fn ? psl_registrable_domain(tz->psl, from) : NULL;
		const char *rr = tz->psl ? psl_registrable_domain(tz->psl, dom) : NULL;
		if (fr == NULL)
			fr = from;
		if (rr == NULL)
			rr = dom;
		if (strcmp(fr, rr) != 0)
			emit_kind(tz, "hdr", "replyto-elsewhere", 17);
	}
	/* Which header fields a message carries says much about the software
	 * that wrote it and the road it took (mailing lists, bulk senders).
	 * Fields that filters add -- ours included -- are left out, so a
	 * copy a user saves after filtering is the message that arrived. */
	GMimeHeaderList *hl = m->gm ? g_mime_object_get_header_list(GMIME_OBJECT(m->gm)) : NULL;
	int nh = hl ? g_mime_header_list_get_count(hl) : 0;
	for (int i = 0; i < nh && i < 200; i++) {
		GMimeHeader *hd = g_mime_header_list_get_header_at(hl, i);
		const char *hn = hd ? g_mime_header_get_name(hd) : NULL;
		char lc[48];
		size_t n = 0;
		for (; hn && hn[n] && n + 1 < sizeof(lc); n++)
			lc[n] = pg_lower(hn[n]);
		lc[n] = '\0';
		if (n == 0 || strncmp(lc, "x-spam-", 7) == 0 || strncmp(lc, "x-pecguard", 10) == 0)
			continue;
		emit_kind(tz, "hn", lc, n);
	}
	/* Where the Message-ID was made: the sender's own host, a bulk
	 * mailer's, or none at all. */
	size_t mn = addr_domain(pg_msg_header(m, "Message-ID"), dom, sizeof(dom));
	emit_kind(tz, "mid", mn ? dom : "(none)", mn ? mn : 6);
	const char *xm = pg_msg_header(m, "X-Mailer");
	if (xm == NULL)
		xm = pg_msg_header(m, "User-Agent");
	if (xm != NULL) {
		char fam[32];
		size_t n = mailer_family(xm, fam, sizeof(fam));
		if (n > 0)
			emit_kind(tz, "mailer", fam, n);
	}
	for (size_t i = 0; i < m->nparts; i++) {
		const pg_part *p = m->parts[i];
		if (p->ctype != NULL)
			emit_kind(tz, "ct", p->ctype, strlen(p->ctype));
		if (p->ctype != NULL && strncmp(p->ctype, "text/", 5) == 0 && p->obj != NULL) {
			const char *cs =
				g_mime_object_get_content_type_parameter(p->obj, "charset");
			char lc[48];
			size_t n = 0;
			for (; cs && cs[n] && n + 1 < sizeof(lc); n++)
				lc[n] = pg_lower(cs[n]);
			if (n > 0)
				emit_kind(tz, "cs", lc, n);
		}
		if (p->filename != NULL) {
			const char *dot = strrchr(p->filename, '.');
			char ext[16];
			size_t n = 0;
			if (dot != NULL)
				for (const char *q = dot + 1; *q && n + 1 < sizeof(ext); q++) {
					if (!ascii_alnum((unsigned char)*q)) {
						n = 0;
						break;
					}
					ext[n++] = pg_lower(*q);
				}
			emit_kind(tz, "ext", n ? ext : "(none)", n ? n : 6);
		}
	}
}

/* texts: NULL, or where to put the text of each token (explaining). */
static pg_status tokenize_msg(pg_arena *a, const bayes_opts *o, const pg_msg *m, tokset *set,
			      const char ***texts)
{
	pg_status st = tokset_init(set, a, o->max_tokens);
	if (st != PG_OK)
		return st;
	const pg_text *t = pg_msg_text(m);
	if (t == NULL)
		return PG_ERR_NOMEM;
	tokenizer tz;
	tz_init(&tz, a, set);
	if (texts != NULL) {
		*texts = pg_arena_calloc(a, o->max_tokens, sizeof(**texts));
		if (*texts == NULL)
			return PG_ERR_NOMEM;
		tz.texts = *texts;
	}
	/* Few, strong tokens first: a long message fills the set with words. */
	header_tokens(&tz, m);
	const char *subj = t->subject ? t->subject : "";
	size_t tl = strlen(o->subject_tag);
	while (*subj == ' ')
		subj++;
	/* Our own tag must not make a tagged copy (a user's report) another
	 * message than the one that arrived. */
	if (tl > 0 && strncmp(subj, o->subject_tag, tl) == 0)
		subj += tl;
	tz.seed = kind_seed("s");
	tz.kind = "s";
	st = tz_text(&tz, subj, strlen(subj));
	if (st != PG_OK)
		return st;
	/* Link targets are not in the rendered text: their hosts are. */
	for (size_t i = 0; i < t->nlinks && !tokset_full(set); i++) {
		const char *h = t->links[i].href;
		size_t hn = strlen(h);
		if (hn > 0 && (memmem(h, hn, "://", 3) != NULL || pg_startswith_ci(h, "www.")))
			url_host(&tz, h, hn);
	}
	tz.seed = 0;
	tz.kind = "";
	tz.has_prev = false;
	st = tz_text(&tz, t->all ? t->all : "", t->all_len);
	return st == PG_OK && set->nomem ? PG_ERR_NOMEM : st;
}

pg_status pg_bayes_tokenize(pg_arena *a, const pg_config *cfg, const pg_msg *m, uint64_t **out,
			    size_t *n)
{
	bayes_opts o;
	char err[128];
	pg_status st = opts_read(cfg, &o, err, sizeof(err));
	if (st != PG_OK)
		return st;
	tokset set;
	st = tokenize_msg(a, &o, m, &set, NULL);
	*out = st == PG_OK ? set.v : NULL;
	*n = st == PG_OK ? set.n : 0;
	return st;
}

pg_status pg_bayes_tokenize_text(pg_arena *a, const char *text, size_t len, size_t max,
				 uint64_t **out, size_t *n)
{
	tokset set;
	*out = NULL;
	*n = 0;
	pg_status st = tokset_init(&set, a, max ? max : 1);
	if (st != PG_OK)
		return st;
	tokenizer tz;
	tz_init(&tz, a, &set);
	st = tz_text(&tz, text, len);
	if (st == PG_OK && set.nomem)
		st = PG_ERR_NOMEM;
	if (st == PG_OK) {
		*out = set.v;
		*n = set.n;
	}
	return st;
}

/* ---- store keys ------------------------------------------------------------ */

static void key_bytes(uint64_t h, unsigned char out[8])
{
	for (int i = 0; i < 8; i++)
		out[i] = (unsigned char)(h >> (8 * i));
}

static uint64_t key_value(const unsigned char in[8])
{
	return load_le(in, 8);
}

/* The store's batch form of a token list: pointers to 8-byte keys, with
 * room for extra more keys the caller fills. */
static pg_status token_keys(pg_arena *a, const uint64_t *v, size_t n, size_t extra,
			    const void ***keys, size_t **klens)
{
	unsigned char *kb = pg_arena_alloc(a, n ? n * 8 : 1);
	const void **k = pg_arena_alloc(a, (n + extra ? n + extra : 1) * sizeof(*k));
	size_t *kl = pg_arena_alloc(a, (n + extra ? n + extra : 1) * sizeof(*kl));
	if (kb == NULL || k == NULL || kl == NULL)
		return PG_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		key_bytes(v[i], kb + 8 * i);
		k[i] = kb + 8 * i;
		kl[i] = 8;
	}
	*keys = k;
	*klens = kl;
	return PG_OK;
}

static pg_status read_meta(pg_store *st, int64_t *nspam, int64_t *nham, int64_t *gen)
{
	const void *keys[2] = {KEY_LEARNED, KEY_GENERATION};
	size_t kl[2] = {sizeof(KEY_LEARNED) - 1, sizeof(KEY_GENERATION) - 1};
	pg_counter_pair out[2];
	pg_status s = pg_store_counters_get(st, NS_BAYES, keys, kl, 2, out);
	if (s != PG_OK)
		return s;
	*nspam = out[0].a;
	*nham = out[0].b;
	if (gen)
		*gen = out[1].a;
	return PG_OK;
}

pg_status pg_bayes_learned(pg_store *st, int64_t *nspam, int64_t *nham)
{
	*nspam = *nham = 0;
	if (st == NULL)
		return PG_ERR_INVALID;
	return read_meta(st, nspam, nham, NULL);
}

/* ---- learning --------------------------------------------------------------- */

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

/* What identifies a message across learnings: its Message-ID (a copy
 * saved by the user keeps it, whatever headers were added on the way), or
 * when it has none, the set of its tokens. */
static pg_status seen_key(pg_arena *a, const pg_msg *m, const tokset *set,
			  unsigned char key[SEEN_KEY_LEN])
{
	const char *mid = pg_msg_header(m, "Message-ID");
	size_t n = 0;
	if (mid != NULL) {
		mid = pg_trim(mid, &n);
		while (n > 0 && (*mid == '<' || *mid == ' ')) {
			mid++;
			n--;
		}
		while (n > 0 && (mid[n - 1] == '>' || mid[n - 1] == ' '))
			n--;
	}
	uint64_t h1, h2;
	if (n > 0) {
		key[0] = 'M';
		h1 = hash_bytes(kind_seed("mid1"), mid, n);
		h2 = hash_bytes(kind_seed("mid2"), mid, n);
	} else {
		/* Order-free: sorted, then hashed as bytes. */
		uint64_t *s = pg_arena_alloc(a, (set->n ? set->n : 1) * sizeof(*s));
		unsigned char *b = pg_arena_alloc(a, set->n ? set->n * 8 : 1);
		if (s == NULL || b == NULL)
			return PG_ERR_NOMEM;
		memcpy(s, set->v, set->n * sizeof(*s));
		qsort(s, set->n, sizeof(*s), cmp_u64);
		for (size_t i = 0; i < set->n; i++)
			key_bytes(s[i], b + 8 * i);
		key[0] = 'T';
		h1 = hash_bytes(kind_seed("tok1"), b, set->n * 8);
		h2 = hash_bytes(kind_seed("tok2"), b, set->n * 8);
	}
	key_bytes(h1, key + 1);
	key_bytes(h2, key + 9);
	return PG_OK;
}

static pg_status store_fail(pg_store *st, pg_status s, const char *what, char *err, size_t errlen)
{
	char m[256];
	pg_store_errmsg(st, m, sizeof(m));
	pg_errf(err, errlen, "bayes: %s: %s", what, m[0] ? m : pg_status_str(s));
	return s;
}

pg_status pg_bayes_learn(pg_store *st, const pg_config *cfg, const pg_msg *m, bool spam,
			 bool unlearn, char *err, size_t errlen)
{
	if (st == NULL || cfg == NULL || m == NULL) {
		pg_errf(err, errlen, "bayes: no store configured");
		return PG_ERR_INVALID;
	}
	bayes_opts o;
	pg_status s = opts_read(cfg, &o, err, errlen);
	if (s != PG_OK)
		return s;
	pg_arena *a = pg_arena_new();
	if (a == NULL) {
		pg_errf(err, errlen, "out of memory");
		return PG_ERR_NOMEM;
	}
	/* One batch: the tokens, then the learned counter and the record of
	 * this message, which move by the same amounts. */
	tokset set;
	const void **keys = NULL;
	size_t *klens = NULL;
	unsigned char sk[SEEN_KEY_LEN];
	s = tokenize_msg(a, &o, m, &set, NULL);
	if (s == PG_OK)
		s = token_keys(a, set.v, set.n, 2, &keys, &klens);
	if (s == PG_OK)
		s = seen_key(a, m, &set, sk);
	if (s != PG_OK) {
		pg_arena_free(a);
		pg_errf(err, errlen, "out of memory");
		return s;
	}
	size_t n = set.n;
	keys[n] = KEY_LEARNED;
	klens[n++] = sizeof(KEY_LEARNED) - 1;
	keys[n] = sk;
	klens[n++] = sizeof(sk);
	pg_counter_pair was;
	s = pg_store_counters_get(st, NS_BAYES, &keys[n - 1], &klens[n - 1], 1, &was);
	if (s != PG_OK) {
		pg_arena_free(a);
		return store_fail(st, s, "reading what was learned", err, errlen);
	}
	char prev = was.a > 0 && was.a >= was.b ? 'S' : was.b > 0 ? 'H' : 0;
	char want = spam ? 'S' : 'H';
	int64_t da = 0, db = 0; /* spam, ham deltas */
	const char *done;
	if (unlearn) {
		if (prev == 0) {
			pg_arena_free(a);
			pg_errf(err, errlen, "not learned: nothing to unlearn");
			return PG_OK;
		}
		da = prev == 'S' ? -1 : 0;
		db = prev == 'H' ? -1 : 0;
		done = prev == 'S' ? "unlearned (was spam)" : "unlearned (was ham)";
	} else if (prev == want) {
		pg_arena_free(a);
		pg_errf(err, errlen, "already learned as %s", spam ? "spam" : "ham");
		return PG_OK;
	} else {
		da = spam ? 1 : (prev == 'S' ? -1 : 0);
		db = spam ? (prev == 'H' ? -1 : 0) : 1;
		done = prev == 0 ? (spam ? "learned as spam" : "learned as ham")
				 : (spam ? "moved from ham to spam" : "moved from spam to ham");
	}
	s = pg_store_counters_add(st, NS_BAYES, keys, klens, n, da, db);
	if (s != PG_OK) {
		pg_arena_free(a);
		return store_fail(st, s, "learning", err, errlen);
	}
	/* Apart, and after: a failure here only delays the running filters'
	 * refresh until the next learning. */
	const void *gk[1] = {KEY_GENERATION};
	size_t gl[1] = {sizeof(KEY_GENERATION) - 1};
	s = pg_store_counters_add(st, NS_BAYES, gk, gl, 1, 1, 0);
	pg_arena_free(a);
	if (s != PG_OK)
		return store_fail(st, s, "learned, but could not signal the change", err, errlen);
	pg_errf(err, errlen, "%s", done);
	return PG_OK;
}

/* ---- the in-memory copy of the token counts --------------------------- */

typedef struct snap_slot {
	uint64_t key; /* 0 = empty */
	uint32_t s, h;
} snap_slot;

typedef struct snap {
	atomic_int refs;
	int64_t gen, nspam, nham;
	size_t n, mask;
	snap_slot *slots;
	bool nomem;
} snap;

static void snap_unref(snap *s)
{
	if (s == NULL || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(s->slots);
	free(s);
}

static inline size_t slot_of(uint64_t k, size_t mask)
{
	return (size_t)(k ^ (k >> 29)) & mask;
}

static void snap_insert(snap_slot *slots, size_t mask, uint64_t k, uint32_t s, uint32_t h)
{
	size_t i = slot_of(k, mask);
	while (slots[i].key != 0 && slots[i].key != k)
		i = (i + 1) & mask;
	slots[i] = (snap_slot){.key = k, .s = s, .h = h};
}

static bool snap_grow(snap *sn)
{
	size_t cap = (sn->mask + 1) * 2;
	snap_slot *ns = calloc(cap, sizeof(*ns));
	if (ns == NULL)
		return false;
	for (size_t i = 0; i <= sn->mask; i++)
		if (sn->slots[i].key != 0)
			snap_insert(ns, cap - 1, sn->slots[i].key, sn->slots[i].s, sn->slots[i].h);
	free(sn->slots);
	sn->slots = ns;
	sn->mask = cap - 1;
	return true;
}

static uint32_t sat32(int64_t v)
{
	return v <= 0 ? 0 : v >= (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static int snap_add(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	snap *sn = ctx;
	if (vlen != 16)
		return 0;
	const unsigned char *v = val;
	if (klen != 8) {
		/* The totals, read in the same transaction as the tokens. */
		if (klen == sizeof(KEY_LEARNED) - 1 && memcmp(key, KEY_LEARNED, klen) == 0) {
			sn->nspam = (int64_t)load_le(v, 8);
			sn->nham = (int64_t)load_le(v + 8, 8);
		} else if (klen == sizeof(KEY_GENERATION) - 1 &&
			   memcmp(key, KEY_GENERATION, klen) == 0) {
			sn->gen = (int64_t)load_le(v, 8);
		}
		return 0;
	}
	uint64_t k = key_value(key);
	if (k == 0)
		return 0;
	/* Load at most one half: probes stay short. */
	if ((sn->n + 1) * 2 > sn->mask + 1 && !snap_grow(sn)) {
		sn->nomem = true;
		return 1;
	}
	int64_t a = (int64_t)load_le(v, 8), b = (int64_t)load_le(v + 8, 8);
	snap_insert(sn->slots, sn->mask, k, sat32(a), sat32(b));
	sn->n++;
	return 0;
}

static pg_status snap_build(pg_store *st, size_t hint, snap **out)
{
	*out = NULL;
	snap *sn = calloc(1, sizeof(*sn));
	if (sn == NULL)
		return PG_ERR_NOMEM;
	atomic_init(&sn->refs, 1);
	size_t cap = 1u << 12;
	while (cap < hint * 2 && cap < ((size_t)1 << 40))
		cap <<= 1;
	sn->slots = calloc(cap, sizeof(*sn->slots));
	if (sn->slots == NULL) {
		free(sn);
		return PG_ERR_NOMEM;
	}
	sn->mask = cap - 1;
	pg_status s = pg_store_each(st, NS_BAYES, snap_add, sn);
	if (s == PG_OK && sn->nomem)
		s = PG_ERR_NOMEM;
	if (s != PG_OK) {
		snap_unref(sn);
		return s;
	}
	*out = sn;
	return PG_OK;
}

/* ---- analyser state --------------------------------------------------------- */

typedef struct bayes_state {
	bayes_opts o;
	pthread_mutex_t lock; /* guards the fields below */
	snap *cur;            /* one reference held here */
	pg_store *cur_store;  /* the store cur was read from */
	bool building;
	double built_at; /* monotonic seconds */
} bayes_state;

static double mono_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A snapshot reflecting generation gen, or an older one while the refresh
 * interval runs or another thread rebuilds; NULL when there is none yet
 * (another thread is building the first): read the store directly. */
static snap *snap_acquire(bayes_state *bs, pg_store *st, int64_t gen)
{
	pthread_mutex_lock(&bs->lock);
	snap *sn = bs->cur;
	bool stale = sn == NULL || bs->cur_store != st ||
		     (sn->gen != gen && mono_now() - bs->built_at >= bs->o.cache_refresh);
	if (!stale || bs->building) {
		if (sn != NULL && bs->cur_store == st)
			atomic_fetch_add_explicit(&sn->refs, 1, memory_order_relaxed);
		else
			sn = NULL;
		pthread_mutex_unlock(&bs->lock);
		return sn;
	}
	bs->building = true;
	size_t hint = sn ? sn->n : 0;
	pthread_mutex_unlock(&bs->lock);

	snap *fresh = NULL;
	pg_status s = snap_build(st, hint, &fresh);

	pthread_mutex_lock(&bs->lock);
	bs->building = false;
	bs->built_at = mono_now();
	if (s == PG_OK) {
		snap *old = bs->cur;
		bs->cur = fresh;
		bs->cur_store = st;
		snap_unref(old);
	}
	/* On failure keep serving the old copy (if it is of this store). */
	sn = bs->cur_store == st ? bs->cur : NULL;
	if (sn != NULL)
		atomic_fetch_add_explicit(&sn->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&bs->lock);
	return sn;
}

static void snap_lookup(const snap *sn, const uint64_t *keys, size_t n, pg_counter_pair *out)
{
	/* Touch every slot first: the misses overlap instead of queueing. */
	for (size_t i = 0; i < n; i++)
		__builtin_prefetch(&sn->slots[slot_of(keys[i], sn->mask)]);
	for (size_t i = 0; i < n; i++) {
		size_t j = slot_of(keys[i], sn->mask);
		out[i].a = out[i].b = 0;
		while (sn->slots[j].key != 0) {
			if (sn->slots[j].key == keys[i]) {
				out[i].a = sn->slots[j].s;
				out[i].b = sn->slots[j].h;
				break;
			}
			j = (j + 1) & sn->mask;
		}
	}
}

/* ---- classifier --------------------------------------------------------------- */

/* The two transcendental functions the classifier needs, written here so
 * that the core library does not depend on libm for them.  Both are exact
 * to a few units in the last place over the ranges used, far finer than a
 * spam probability needs. */
#define LN2 0.69314718055994530942

/* ln x for finite x > 0: x = m * 2^e with m in [sqrt(1/2), sqrt(2)), and
 * ln m = 2 atanh(z), z = (m - 1) / (m + 1), |z| < 0.172, by its series. */
static double ln_pos(double x)
{
	uint64_t b;
	memcpy(&b, &x, sizeof(b));
	int e = (int)((b >> 52) & 0x7ff);
	if (e == 0) { /* subnormal: scale into the normal range first */
		x *= 0x1p54;
		memcpy(&b, &x, sizeof(b));
		e = (int)((b >> 52) & 0x7ff) - 54;
	}
	e -= 1023;
	b = (b & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
	double m;
	memcpy(&m, &b, sizeof(m));
	if (m > 1.41421356237309504880) {
		m *= 0.5;
		e++;
	}
	double z = (m - 1.0) / (m + 1.0), z2 = z * z, term = z, sum = 0;
	for (int i = 1; i < 64; i += 2) {
		sum += term / i;
		term *= z2;
		if (term < 1e-20 && term > -1e-20)
			break;
	}
	return 2.0 * sum + (double)e * LN2;
}

/* e^-m for m >= 0: 2^-k * e^-r with r = m - k ln 2 in [-ln2/2, ln2/2],
 * e^-r by its Taylor series. */
static double exp_neg(double m)
{
	if (!(m < 745.0))
		return 0.0; /* below the smallest double */
	if (m < 0)
		m = 0;
	int k = (int)(m / LN2 + 0.5);
	double r = m - (double)k * LN2, term = 1.0, sum = 1.0;
	for (int i = 1; i < 30; i++) {
		term *= -r / i;
		sum += term;
		if (term < 1e-20 && term > -1e-20)
			break;
	}
	while (k > 60) {
		sum *= 0x1p-60;
		k -= 60;
	}
	return sum / (double)(1ULL << k);
}

/* P(X >= x2) for X chi-square with v (even) degrees of freedom: the
 * series e^-m * sum m^i / i!, m = x2 / 2. */
static double chi2q(double x2, size_t v)
{
	double m = x2 / 2.0, term = exp_neg(m), sum = term;
	for (size_t i = 1; i < v / 2; i++) {
		term *= m / (double)i;
		sum += term;
	}
	return sum < 1.0 ? sum : 1.0;
}

typedef struct clue {
	double f, dev;
	size_t tok; /* index in the message's tokens */
} clue;

/* Keeps the k clues of largest deviation, in their order: a histogram of
 * deviations finds the cut in linear time (the ties at the cut go to the
 * tokens seen first), no sort needed.  Returns k. */
#define DEV_BINS 257
static size_t top_k(clue *c, size_t n, size_t k)
{
	size_t hist[DEV_BINS] = {0};
	for (size_t i = 0; i < n; i++) {
		size_t b = (size_t)(c[i].dev * 512.0);
		hist[b < DEV_BINS ? b : DEV_BINS - 1]++;
	}
	size_t above = 0, cut = DEV_BINS - 1;
	while (cut > 0 && above + hist[cut] < k)
		above += hist[cut--];
	size_t room = k - above, m = 0; /* room: how many of bin cut to keep */
	for (size_t i = 0; i < n; i++) {
		size_t b = (size_t)(c[i].dev * 512.0);
		if (b >= DEV_BINS)
			b = DEV_BINS - 1;
		if (b > cut || (b == cut && room > 0 && room--))
			c[m++] = c[i];
	}
	return m;
}

static double classify(const bayes_opts *o, const pg_counter_pair *cnt, size_t n, int64_t nspam,
		       int64_t nham, clue *clues, size_t *used)
{
	double ns = (double)(nspam > 0 ? nspam : 1), nh = (double)(nham > 0 ? nham : 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		double s = (double)cnt[i].a, h = (double)cnt[i].b;
		if (s + h <= 0)
			continue; /* never seen: f = x, no evidence */
		/* Ratios of messages, so an unbalanced training set does
		 * not make every word look like the bigger class. */
		double rs = s / ns, rh = h / nh;
		if (rs > 1)
			rs = 1;
		if (rh > 1)
			rh = 1;
		double p = rs / (rs + rh);
		double cnt_n = s + h;
		double f = (o->robinson_s * o->robinson_x + cnt_n * p) / (o->robinson_s + cnt_n);
		double dev = f > 0.5 ? f - 0.5 : 0.5 - f;
		if (dev > o->min_deviation)
			clues[k++] = (clue){.f = f, .dev = dev, .tok = i};
	}
	if (k > o->max_significant)
		k = top_k(clues, k, o->max_significant);
	*used = k;
	if (k == 0)
		return 0.5;
	/* ln of the products of f and of 1 - f: the products are kept in
	 * range by moving binary exponents into an integer, then one
	 * logarithm each.  Robinson's f stays at least s*x / (s + n) away
	 * from 0 and 1, far above 2^-500, so nothing underflows between two
	 * checks. */
	double ph = 1.0, ps = 1.0;
	int eh = 0, es = 0;
	for (size_t i = 0; i < k; i++) {
		ph *= clues[i].f;
		ps *= 1.0 - clues[i].f;
		if (ph < 0x1p-500) {
			ph *= 0x1p500;
			eh -= 500;
		}
		if (ps < 0x1p-500) {
			ps *= 0x1p500;
			es -= 500;
		}
	}
	double lnh = ln_pos(ph) + eh * LN2, lns = ln_pos(ps) + es * LN2;
	/* Fisher: how unlikely are these probabilities if the words were
	 * random?  S is the evidence for spam, H for ham; (1 + S - H) / 2
	 * is near 1 or 0 when one side wins and near 0.5 when both (or
	 * neither) do. */
	double S = 1.0 - chi2q(-2.0 * lns, 2 * k);
	double H = 1.0 - chi2q(-2.0 * lnh, 2 * k);
	double prob = (1.0 + S - H) / 2.0;
	return prob < 0 ? 0 : prob > 1 ? 1 : prob;
}

/* The probability of ax->msg; with texts, also the clues and the text of
 * every token, for pg_bayes_explain. */
static pg_status probability(pg_actx *ax, bayes_state *bs, double *prob, size_t *ntok, bool *ready,
			     const char ***texts, clue **clues_out, pg_counter_pair **cnt_out)
{
	*prob = 0.5;
	*ntok = 0;
	*ready = false;
	if (bs == NULL || !bs->o.enabled || ax->store == NULL || ax->msg == NULL)
		return PG_OK;
	int64_t nspam, nham, gen;
	pg_status s = read_meta(ax->store, &nspam, &nham, &gen);
	if (s != PG_OK)
		return s;
	if (nspam < bs->o.min_learned || nham < bs->o.min_learned || nspam <= 0 || nham <= 0)
		return PG_OK;
	tokset set;
	s = tokenize_msg(ax->arena, &bs->o, ax->msg, &set, texts);
	if (s != PG_OK)
		return s;
	pg_counter_pair *cnt = pg_arena_alloc(ax->arena, (set.n ? set.n : 1) * sizeof(*cnt));
	clue *clues = pg_arena_alloc(ax->arena, (set.n ? set.n : 1) * sizeof(*clues));
	if (cnt == NULL || clues == NULL)
		return PG_ERR_NOMEM;
	snap *sn = bs->o.cache ? snap_acquire(bs, ax->store, gen) : NULL;
	if (sn != NULL) {
		snap_lookup(sn, set.v, set.n, cnt);
		/* The counts and the totals of one moment. */
		nspam = sn->nspam;
		nham = sn->nham;
		snap_unref(sn);
	} else {
		const void **keys;
		size_t *klens;
		s = token_keys(ax->arena, set.v, set.n, 0, &keys, &klens);
		if (s == PG_OK)
			s = pg_store_counters_get(ax->store, NS_BAYES, keys, klens, set.n, cnt);
		if (s != PG_OK)
			return s;
	}
	*prob = classify(&bs->o, cnt, set.n, nspam, nham, clues, ntok);
	*ready = true;
	if (clues_out)
		*clues_out = clues;
	if (cnt_out)
		*cnt_out = cnt;
	return PG_OK;
}

pg_status pg_bayes_probability(pg_actx *ax, void *state, double *prob, size_t *ntok, bool *ready)
{
	return probability(ax, state, prob, ntok, ready, NULL, NULL, NULL);
}

pg_status pg_bayes_explain(pg_actx *ax, void *state, pg_bayes_clue_fn fn, void *ctx, double *prob,
			   bool *ready)
{
	const char **texts = NULL;
	clue *clues = NULL;
	pg_counter_pair *cnt = NULL;
	size_t k = 0;
	pg_status s = probability(ax, state, prob, &k, ready, &texts, &clues, &cnt);
	if (s != PG_OK || !*ready)
		return s;
	for (size_t i = 0; i < k; i++) {
		const clue *c = &clues[i];
		const char *text = texts[c->tok] ? texts[c->tok] : "?";
		if (fn(ctx, text, cnt[c->tok].a, cnt[c->tok].b, c->f))
			break;
	}
	return PG_OK;
}

/* ---- the analyser --------------------------------------------------------------- */

static pg_status bayes_init(const pg_config *cfg, void **state, char *err, size_t errlen)
{
	bayes_state *bs = calloc(1, sizeof(*bs));
	if (bs == NULL)
		return PG_ERR_NOMEM;
	pg_status s = opts_read(cfg, &bs->o, err, errlen);
	if (s != PG_OK) {
		free(bs);
		return s;
	}
	pthread_mutex_init(&bs->lock, NULL);
	*state = bs;
	return PG_OK;
}

static void bayes_free(void *state)
{
	bayes_state *bs = state;
	if (bs == NULL)
		return;
	snap_unref(bs->cur);
	pthread_mutex_destroy(&bs->lock);
	free(bs);
}

/* The detail of every symbol: the probability and the clues combined. */
#define DETAIL "probability %.3f (tokens %zu)"

static pg_status bayes_run(pg_actx *ax, void *state)
{
	bayes_state *bs = state;
	double prob;
	size_t ntok;
	bool ready;
	pg_status s = pg_bayes_probability(ax, state, &prob, &ntok, &ready);
	if (s != PG_OK || !ready)
		return s;
	const bayes_opts *o = &bs->o;
	if (prob >= o->spam_threshold) {
		/* spam_floor of the weight at the threshold, all of it at
		 * certainty, linearly between. */
		double span = 1.0 - o->spam_threshold;
		double f = span > 0 ? o->spam_floor + (1.0 - o->spam_floor) *
							      (prob - o->spam_threshold) / span
				    : 1.0;
		return pg_sym_scaled(ax, "BAYES_SPAM", f > 1 ? 1 : f, DETAIL, prob, ntok);
	}
	if (prob <= o->ham_threshold) {
		double span = o->ham_threshold;
		double f = span > 0 ? 0.5 + 0.5 * (o->ham_threshold - prob) / span : 1.0;
		return pg_sym_scaled(ax, "BAYES_HAM", f > 1 ? 1 : f, DETAIL, prob, ntok);
	}
	return pg_sym(ax, "BAYES_UNSURE", DETAIL, prob, ntok);
}

const pg_analyser pg_analyser_bayes = {
	.name = "bayes",
	.init = bayes_init,
	.free = bayes_free,
	.run = bayes_run,
};
