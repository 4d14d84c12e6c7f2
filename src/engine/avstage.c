/*
 * avstage.c - the antivirus stage of a scan.
 *
 * What is scanned: the whole message as received (ClamAV's own mail parser
 * sees what a differently-minded MIME parser might hide), every nested
 * message whole (postacert.eml, a forwarded message), then every decoded
 * leaf part, including the parts of those nested messages.  Identical
 * contents are scanned once (the part list says "same content as" the
 * first), empty parts are listed as such.  Every leaf's SHA-256 is also
 * looked up among the outbreak signatures, so a confirmed campaign sample
 * is stopped whatever the backend, from the next message.
 *
 * The verdict is infected if anything is; else tempfail if anything could
 * not be scanned; clean only when everything was.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "engine/engine.h"
#include "scan/attach.h"
#include "util/str.h"

#define LABEL_MAX 512

/* "1.3 postacert.eml/eicar.com": the part number (IMAP-like, counting
 * through nested messages) and the file names on the way. */
static const char *part_label(pg_arena *a, const pg_part *p)
{
	unsigned nums[64];
	const char *names[16];
	size_t nn = 0, nf = 0;
	if (p->filename != NULL)
		names[nf++] = p->filename;
	const pg_part *q = p;
	while (q != NULL && nn < 64) {
		if (q->parent != NULL) {
			nums[nn++] = q->index + 1;
			q = q->parent;
		} else {
			q = q->msg->parent_part;
			if (q != NULL && q->filename != NULL && nf < 16)
				names[nf++] = q->filename;
		}
	}
	char buf[LABEL_MAX];
	size_t o = 0;
	if (nn == 0)
		o += (size_t)snprintf(buf, sizeof(buf), "1");
	for (size_t i = nn; i > 0 && o < sizeof(buf); i--)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%u", i == nn ? "" : ".",
				      nums[i - 1]);
	for (size_t i = nf; i > 0 && o < sizeof(buf); i--)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", i == nf ? " " : "/",
				      names[i - 1]);
	if (p->filename == NULL && o < sizeof(buf))
		snprintf(buf + o, sizeof(buf) - o, "%s%s", nf ? "/" : " ", p->ctype);
	return pg_arena_strdup(a, buf);
}

struct seen {
	unsigned char (*h)[32];
	const char **label; /* where each content was first met */
	size_t n, cap;
};

/* The label of the part that had this content already, or NULL when it
 * is new (then remembered under label). */
static const char *seen_add(pg_arena *a, struct seen *sn, const unsigned char h[32],
			    const char *label)
{
	for (size_t i = 0; i < sn->n; i++)
		if (memcmp(sn->h[i], h, 32) == 0)
			return sn->label[i];
	if (sn->n == sn->cap) {
		size_t cap = sn->cap ? sn->cap * 2 : 16;
		unsigned char(*nv)[32] = pg_arena_alloc(a, cap * 32);
		const char **nl = pg_arena_alloc(a, cap * sizeof(*nl));
		if (nv == NULL || nl == NULL)
			return NULL; /* scan again rather than skip */
		if (sn->n) {
			memcpy(nv, sn->h, sn->n * 32);
			memcpy(nl, sn->label, sn->n * sizeof(*nl));
		}
		sn->h = nv;
		sn->label = nl;
		sn->cap = cap;
	}
	memcpy(sn->h[sn->n], h, 32);
	sn->label[sn->n++] = label;
	return NULL;
}

static void sha256(const void *d, size_t n, unsigned char out[32])
{
	unsigned int len = 32;
	EVP_Digest(d, n, out, &len, EVP_sha256(), NULL);
}

static pg_status record(pg_scan *s, const char *label, const char *result)
{
	if (s->navparts == s->capavparts) {
		size_t cap = s->capavparts ? s->capavparts * 2 : 8;
		pg_avpart *nv = pg_arena_alloc(s->arena, cap * sizeof(*nv));
		if (nv == NULL)
			return PG_ERR_NOMEM;
		if (s->navparts)
			memcpy(nv, s->avparts, s->navparts * sizeof(*nv));
		s->avparts = nv;
		s->capavparts = cap;
	}
	const char *r = pg_arena_strdup(s->arena, result);
	if (r == NULL)
		return PG_ERR_NOMEM;
	s->avparts[s->navparts++] = (pg_avpart){.part = label, .result = r};
	return PG_OK;
}

/* The first thing that could not be checked makes the verdict tempfail. */
static pg_status unscanned(pg_scan *s, const char *label, const char *why, bool *errored)
{
	if (*errored)
		return PG_OK;
	*errored = true;
	s->av_error = pg_arena_printf(s->arena, "%s: %s", label, why);
	return s->av_error != NULL ? PG_OK : PG_ERR_NOMEM;
}

/* A ClamAV heuristic alert (a phishing cloak, PUA, ...): the threat
 * indicator AV_HEURISTIC, weighted by the configuration like the
 * attachment analyser's; the antivirus verdict stays clean. */
static pg_status heuristic(pg_scan *s, const char *name, const char *label)
{
	const char *d = pg_arena_printf(s->arena, "%s in %s", name, label);
	if (d == NULL)
		return PG_ERR_NOMEM;
	double w = s->rt->cfg ? pg_cfg_symbol_weight(s->rt->cfg, "AV_HEURISTIC", NULL) : 0.0;
	return pg_symset_add(&s->syms, "AV_HEURISTIC", w, d);
}

/* Scans one object; records a virus, a heuristic alert or an error. */
static pg_status scan_object(pg_scan *s, const void *d, size_t n, const char *label, bool whole,
			     bool *errored)
{
	pg_av_result r;
	pg_status st = pg_av_scan(s->rt->comp->av, d, n, label, &r);
	if (st == PG_ERR_NOMEM)
		return st;
	if (st != PG_OK) {
		r.verdict = PG_AV_ERROR;
		snprintf(r.error, sizeof(r.error), "%s", pg_status_str(st));
	}
	/* ClamAV's own mail parser giving up on the whole message (too many
	 * MIME parameters, headers...) leaves nothing unscanned when we parsed
	 * the message: every decoded part is scanned on its own next.  Any
	 * other failure, or one on a message we could not parse, means content
	 * went unscanned. */
	bool mail_limit = r.verdict == PG_AV_ERROR && whole && s->msg != NULL &&
			  strstr(r.error, "Heuristics.Limits.Exceeded.Email") != NULL;
	char res[600];
	if (mail_limit)
		snprintf(res, sizeof(res),
			 "clean as far as ClamAV's mail parser went (%s); "
			 "every part scanned on its own",
			 r.error);
	else if (r.verdict == PG_AV_INFECTED)
		snprintf(res, sizeof(res), "%s", r.virus);
	else if (r.verdict == PG_AV_HEURISTIC)
		snprintf(res, sizeof(res), "clean; heuristic alert %s", r.virus);
	else if (r.verdict == PG_AV_ERROR)
		snprintf(res, sizeof(res), "error: %s", r.error);
	else
		snprintf(res, sizeof(res), "clean");
	if ((st = record(s, label, res)) != PG_OK)
		return st;
	if (r.verdict == PG_AV_INFECTED)
		return pg_scan_add_virus(s, r.virus, label);
	if (r.verdict == PG_AV_HEURISTIC)
		return heuristic(s, r.virus, label);
	if (mail_limit)
		return PG_OK;
	if (r.verdict == PG_AV_ERROR)
		return unscanned(s, label, r.error, errored);
	return PG_OK;
}

static pg_status outbreak_check(pg_scan *s, const unsigned char h[32], const char *label,
				bool *errored)
{
	if (s->rt->store == NULL)
		return PG_OK;
	const char *name = NULL;
	pg_status st = pg_outbreak_lookup(s->rt->store, s->arena, h, &name);
	if (st == PG_ERR_NOMEM)
		return st;
	if (st != PG_OK) {
		/* A store that cannot answer may hide a listed sample: as an
		 * antivirus that cannot answer, never clean. */
		char serr[256], why[320];
		pg_store_errmsg(s->rt->store, serr, sizeof(serr));
		snprintf(why, sizeof(why), "outbreak signatures unreadable: %s", serr);
		pg_status r = record(s, label, why);
		return r != PG_OK ? r : unscanned(s, label, why, errored);
	}
	if (name != NULL) {
		char v[300];
		snprintf(v, sizeof(v), "PECGuard.Outbreak.%s", name);
		pg_status r = record(s, label, v);
		return r != PG_OK ? r : pg_scan_add_virus(s, v, label);
	}
	return PG_OK;
}

/* Outbreak signatures match the members of archives too: a campaign's
 * script is the same file in every differently-named zip. */
struct members {
	pg_scan *s;
	const char *label;
	bool *errored;
	pg_status st;
};

static int member_check(void *ctx, const char *path, const unsigned char *data, size_t len)
{
	struct members *mc = ctx;
	unsigned char h[32];
	sha256(data, len, h);
	const char *label = pg_arena_printf(mc->s->arena, "%s!%s", mc->label, path);
	if (label == NULL) {
		mc->st = PG_ERR_NOMEM;
		return 1;
	}
	mc->st = outbreak_check(mc->s, h, label, mc->errored);
	return mc->st != PG_OK;
}

static bool may_be_archive(const unsigned char *c, size_t n)
{
	const char *t = pg_attach_sniff(c, n);
	return t != NULL && strncmp(t, "text/", 5) != 0 && strcmp(t, "application/pdf") != 0 &&
	       strcmp(t, "application/pkcs7-mime") != 0;
}

pg_status pg_avstage_run(pg_scan *s)
{
	bool errored = false;
	struct seen sn = {0};
	unsigned char h[32];
	pg_status st;

	sha256(s->data, s->len, h);
	(void)seen_add(s->arena, &sn, h, "message");
	if ((st = scan_object(s, s->data, s->len, "message", true, &errored)) != PG_OK)
		return st;

	const pg_msg *m = s->msg;
	for (size_t i = 0; m != NULL && i < m->nparts; i++) {
		const pg_part *p = m->parts[i];
		if (p->is_multipart)
			continue;
		bool inner = p->is_message && p->inner != NULL;
		size_t n = 0;
		const unsigned char *c = pg_part_content(p, &n);
		const char *label = part_label(s->arena, p);
		if (label == NULL)
			return PG_ERR_NOMEM;
		/* Every part is named in the list, also those not scanned again. */
		if (c == NULL || n == 0) {
			if ((st = record(s, label, "empty")) != PG_OK)
				return st;
			continue;
		}
		sha256(c, n, h);
		const char *first = seen_add(s->arena, &sn, h, label);
		if (first != NULL) {
			char same[LABEL_MAX + 40];
			snprintf(same, sizeof(same), "same content as %s", first);
			if ((st = record(s, label, same)) != PG_OK)
				return st;
			continue;
		}
		if (inner) {
			/* A nested message (postacert.eml, a forward) is given to
			 * ClamAV whole as well, as the top one is: its mail parser
			 * and its link checks see the message as its reader would,
			 * and its parts come next on their own. */
			if ((st = scan_object(s, c, n, label, true, &errored)) != PG_OK)
				return st;
			continue;
		}
		if ((st = outbreak_check(s, h, label, &errored)) != PG_OK)
			return st;
		if (s->rt->store != NULL && may_be_archive(c, n)) {
			struct members mc = {
				.s = s, .label = label, .errored = &errored, .st = PG_OK};
			pg_status w = pg_attach_each_member(c, n, 0, member_check, &mc);
			if (w == PG_ERR_NOMEM || mc.st == PG_ERR_NOMEM)
				return PG_ERR_NOMEM;
		}
		if ((st = scan_object(s, c, n, label, false, &errored)) != PG_OK)
			return st;
	}
	if (s->nviruses > 0)
		s->av = PG_AV_STATE_INFECTED;
	else if (errored)
		s->av = PG_AV_STATE_TEMPFAIL;
	else
		s->av = PG_AV_STATE_CLEAN;
	return PG_OK;
}
