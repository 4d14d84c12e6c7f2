/*
 * callbacks.c - the libmilter callbacks: one message, one scan, one verdict.
 *
 * The message is reassembled as Postfix passes it (header fields, then the
 * body in CRLF), in memory up to milter.spool_threshold and in a private,
 * unlinked file beyond.  At end of message the engine decides, and the
 * decision is applied:
 *
 *   tempfail    451 4.7.1: a deciding check (the antivirus) could not run
 *   quarantine  a virus inside valid PEC: Postfix holds it, nothing is
 *               delivered; for an envelope, with pec.notice_key set, the
 *               sending provider gets an avviso di rilevazione virus
 *   reject      550 5.7.1: a virus or a spam score over the reject mark
 *   otherwise   recipients whose mailbox is PEC-only refuse ordinary mail:
 *               all of them -> 550 5.7.1; some -> removed, and their sender
 *               gets a delivery status notification; the others receive
 *               the message with the X-PECGuard / X-Spam headers, the
 *               subject tagged when the score says so (never on valid PEC).
 *
 * Headers of those names already in the message are removed first: a
 * sender must not be able to pre-label its own mail.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <strings.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "milter/milter.h"

pgm_global pgm;

/* Header names pecguard owns in delivered mail. */
static const char *const owned_headers[] = {
	"X-PECGuard-Class", "X-PECGuard-Symbols", "X-PECGuard-Warning", "X-PECGuard-Virus",
	"X-Spam-Flag",      "X-Spam-Score",       "X-Spam-Status",      NULL,
};
#define NOWNED 7

struct conn {
	char client[INET6_ADDRSTRLEN + 8];
	/* the message in progress */
	char *sender;
	char **rcpts;
	size_t nrcpts, caprcpts;
	char *mem;
	size_t len, cap;
	int spool_fd; /* -1 while in memory */
	size_t total;
	size_t limit;
	bool too_big;
	size_t hdr_len;         /* bytes of the header block (for notifications) */
	unsigned owned[NOWNED]; /* occurrences of our headers in the message */
	bool have_subject;
	char *auth;
	bool in_message; /* counted in pgm.messages */
};

static struct conn *get(SMFICTX *ctx)
{
	return smfi_getpriv(ctx);
}

static sfsistat say(SMFICTX *ctx, const char *code, const char *xcode, const char *text,
		    sfsistat ret);

static void reset_message(struct conn *c)
{
	free(c->sender);
	c->sender = NULL;
	for (size_t i = 0; i < c->nrcpts; i++)
		free(c->rcpts[i]);
	c->nrcpts = 0;
	free(c->mem);
	c->mem = NULL;
	c->len = c->cap = 0;
	if (c->spool_fd >= 0)
		close(c->spool_fd);
	c->spool_fd = -1;
	c->total = 0;
	c->too_big = false;
	c->hdr_len = 0;
	memset(c->owned, 0, sizeof(c->owned));
	c->have_subject = false;
	free(c->auth);
	c->auth = NULL;
	if (c->in_message) {
		c->in_message = false;
		atomic_fetch_sub(&pgm.messages, 1);
	}
}

/* Appends bytes to the message, moving it to a spool file past the
 * threshold.  Returns -1 on failure (the message is then tempfailed). */
static int put(struct conn *c, const void *d, size_t n)
{
	if (c->too_big)
		return 0;
	if (c->total + n > c->limit) {
		c->too_big = true; /* keep the connection; refuse at the end */
		return 0;
	}
	c->total += n;
	if (c->spool_fd < 0 && c->len + n > pgm.spool_threshold) {
		char path[600];
		snprintf(path, sizeof(path), "%s/pecguard.XXXXXX", pgm.spool_dir);
		int fd = mkostemp(path, O_CLOEXEC);
		if (fd < 0) {
			pgm_log(LOG_ERR, "spool %s: %s", path, strerror(errno));
			return -1;
		}
		unlink(path); /* private: gone with the descriptor */
		ssize_t w = c->len ? write(fd, c->mem, c->len) : 0;
		if (w < 0 || (size_t)w != c->len) {
			pgm_log(LOG_ERR, "spool write: %s", strerror(errno));
			close(fd);
			return -1;
		}
		free(c->mem);
		c->mem = NULL;
		c->cap = 0;
		c->spool_fd = fd;
	}
	if (c->spool_fd >= 0) {
		const char *p = d;
		while (n > 0) {
			ssize_t w = write(c->spool_fd, p, n);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				pgm_log(LOG_ERR, "spool write: %s", strerror(errno));
				return -1;
			}
			p += w;
			n -= (size_t)w;
		}
		return 0;
	}
	if (c->len + n > c->cap) {
		size_t cap = c->cap ? c->cap : 16384;
		while (cap < c->len + n)
			cap *= 2;
		char *nm = realloc(c->mem, cap);
		if (nm == NULL)
			return -1;
		c->mem = nm;
		c->cap = cap;
	}
	memcpy(c->mem + c->len, d, n);
	c->len += n;
	return 0;
}

static sfsistat pg_connect(SMFICTX *ctx, char *host, struct sockaddr *sa)
{
	if (atomic_load(&pgm.stopping))
		return say(ctx, "421", "4.3.2", "pecguard: shutting down, try again later",
			   SMFIS_TEMPFAIL);
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return SMFIS_TEMPFAIL;
	c->spool_fd = -1;
	snprintf(c->client, sizeof(c->client), "%s", host ? host : "unknown");
	if (sa != NULL && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)sa)->sin_addr, c->client,
			  sizeof(c->client));
	else if (sa != NULL && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)sa)->sin6_addr, c->client,
			  sizeof(c->client));
	smfi_setpriv(ctx, c);
	atomic_fetch_add(&pgm.connections, 1);
	return SMFIS_CONTINUE;
}

static char *strip_brackets(const char *a)
{
	size_t n = strlen(a);
	if (n >= 2 && a[0] == '<' && a[n - 1] == '>')
		return strndup(a + 1, n - 2);
	return strdup(a);
}

static sfsistat pg_envfrom(SMFICTX *ctx, char **argv)
{
	struct conn *c = get(ctx);
	if (c == NULL)
		return SMFIS_TEMPFAIL;
	reset_message(c);
	/* Counted before the stop flag is read (both sequentially
	 * consistent): either the stop sees this message and waits for it, or
	 * this message sees the stop and never touches the engine. */
	c->in_message = true;
	atomic_fetch_add(&pgm.messages, 1);
	if (atomic_load(&pgm.stopping)) {
		reset_message(c);
		return say(ctx, "451", "4.3.2", "pecguard: shutting down, try again later",
			   SMFIS_TEMPFAIL);
	}
	pg_limits lim;
	pg_engine_get_limits(pgm.eng, &lim);
	c->limit = lim.max_message_size;
	c->sender = strip_brackets(argv[0] ? argv[0] : "");
	const char *auth = smfi_getsymval(ctx, "{auth_authen}");
	if (auth != NULL)
		c->auth = strdup(auth);
	return c->sender ? SMFIS_CONTINUE : SMFIS_TEMPFAIL;
}

static sfsistat pg_envrcpt(SMFICTX *ctx, char **argv)
{
	struct conn *c = get(ctx);
	if (c == NULL || argv[0] == NULL)
		return SMFIS_TEMPFAIL;
	if (c->nrcpts == c->caprcpts) {
		size_t cap = c->caprcpts ? c->caprcpts * 2 : 8;
		char **nv = realloc(c->rcpts, cap * sizeof(*nv));
		if (nv == NULL)
			return SMFIS_TEMPFAIL;
		c->rcpts = nv;
		c->caprcpts = cap;
	}
	char *r = strip_brackets(argv[0]);
	if (r == NULL)
		return SMFIS_TEMPFAIL;
	c->rcpts[c->nrcpts++] = r;
	return SMFIS_CONTINUE;
}

static sfsistat pg_header(SMFICTX *ctx, char *name, char *value)
{
	struct conn *c = get(ctx);
	if (c == NULL)
		return SMFIS_TEMPFAIL;
	for (int i = 0; owned_headers[i]; i++)
		if (strcasecmp(name, owned_headers[i]) == 0)
			c->owned[i]++;
	if (strcasecmp(name, "Subject") == 0)
		c->have_subject = true;
	/* "Name: value" with CRLF line ends, folding kept. */
	if (put(c, name, strlen(name)) != 0 || put(c, ": ", 2) != 0)
		return SMFIS_TEMPFAIL;
	for (const char *p = value; *p; p++) {
		if (*p == '\n' && (p == value || p[-1] != '\r')) {
			if (put(c, "\r\n", 2) != 0)
				return SMFIS_TEMPFAIL;
		} else if (put(c, p, 1) != 0) {
			return SMFIS_TEMPFAIL;
		}
	}
	return put(c, "\r\n", 2) == 0 ? SMFIS_CONTINUE : SMFIS_TEMPFAIL;
}

static sfsistat pg_eoh(SMFICTX *ctx)
{
	struct conn *c = get(ctx);
	if (c == NULL || put(c, "\r\n", 2) != 0)
		return SMFIS_TEMPFAIL;
	c->hdr_len = c->total;
	return SMFIS_CONTINUE;
}

static sfsistat pg_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct conn *c = get(ctx);
	if (c == NULL || put(c, chunk, len) != 0)
		return SMFIS_TEMPFAIL;
	return SMFIS_CONTINUE;
}

/* Text for a reply line: printable ASCII without '%' (libmilter formats). */
static void reply_text(char *out, size_t n, const char *in)
{
	size_t k = 0;
	for (; in && *in && k + 1 < n; in++) {
		unsigned char ch = (unsigned char)*in;
		out[k++] = (ch >= 0x20 && ch < 0x7f && ch != '%') ? (char)ch : '?';
	}
	out[k] = '\0';
}

static sfsistat say(SMFICTX *ctx, const char *code, const char *xcode, const char *text,
		    sfsistat ret)
{
	char t[400];
	reply_text(t, sizeof(t), text);
	if (smfi_setreply(ctx, (char *)code, (char *)xcode, t) != MI_SUCCESS)
		pgm_log(LOG_WARNING, "cannot set reply %s %s", code, xcode);
	return ret;
}

/* "NAME=1.00,NAME2=2.50" of the strongest symbols, for logs and replies. */
static void top_symbols(pg_scan *s, char *out, size_t n, size_t max)
{
	size_t o = 0;
	out[0] = '\0';
	size_t cnt = pg_scan_symbol_count(s);
	for (size_t i = 0; i < cnt && i < max && o < n; i++) {
		double w;
		const char *name = pg_scan_symbol(s, i, &w, NULL);
		o += (size_t)snprintf(out + o, n - o, "%s%s=%.2f", i ? "," : "", name, w);
	}
}

/* Escapes a string into JSON (for the event line). */
static void json_str(char *out, size_t n, const char *in)
{
	size_t k = 0;
	if (n < 3)
		return;
	out[k++] = '"';
	for (; in && *in && k + 8 < n; in++) {
		unsigned char ch = (unsigned char)*in;
		if (ch == '"' || ch == '\\') {
			out[k++] = '\\';
			out[k++] = (char)ch;
		} else if (ch < 0x20) {
			k += (size_t)snprintf(out + k, n - k, "\\u%04x", ch);
		} else {
			out[k++] = (char)ch;
		}
	}
	out[k++] = '"';
	out[k] = '\0';
}

static void record(struct conn *c, pg_scan *s, const char *qid, const char *outcome,
		   const char *reply, const bool *delivered)
{
	char sym[512], rc[2048];
	top_symbols(s, sym, sizeof(sym), 12);
	size_t o = 0;
	rc[0] = '\0';
	for (size_t i = 0; i < c->nrcpts && o < sizeof(rc); i++)
		o += (size_t)snprintf(
			rc + o, sizeof(rc) - o, "%s<%s>(%s%s)", i ? "," : "", c->rcpts[i],
			pg_mailbox_policy_name(pg_scan_mailbox_policy(s, c->rcpts[i])),
			delivered && !delivered[i] ? ",refused" : "");
	const char *virus = pg_scan_virus_count(s) ? pg_scan_virus(s, 0, NULL) : NULL;
	pgm_log(LOG_INFO,
		"%s: class=%s%s%s provider=%s av=%s%s%s score=%.1f action=%s milter=%s "
		"client=%s%s%s from=<%s> rcpts=%s symbols=%s%s%s",
		qid, pg_class_name(pg_scan_class(s)), pg_scan_pec_type(s) ? " type=" : "",
		pg_scan_pec_type(s) ? pg_scan_pec_type(s) : "",
		pg_scan_provider(s) ? pg_scan_provider(s) : "-", pg_av_state_name(pg_scan_av(s)),
		virus ? " virus=" : "", virus ? virus : "", pg_scan_score(s),
		pg_action_name(pg_scan_action(s)), outcome, c->client, c->auth ? " auth=" : "",
		c->auth ? c->auth : "", c->sender, rc, sym[0] ? sym : "none",
		reply ? " reply=" : "", reply ? reply : "");

	char *j = pg_scan_json(s, NULL);
	if (j == NULL)
		return;
	size_t cap = strlen(j) + 4096 + c->nrcpts * 600;
	char *line = malloc(cap);
	if (line == NULL) {
		free(j);
		return;
	}
	char ts[32], buf[1100];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	size_t k = (size_t)snprintf(line, cap, "{\"time\":\"%s\",\"queue_id\":", ts);
	json_str(buf, sizeof(buf), qid);
	k += (size_t)snprintf(line + k, cap - k, "%s,\"client\":", buf);
	json_str(buf, sizeof(buf), c->client);
	k += (size_t)snprintf(line + k, cap - k, "%s,\"auth\":", buf);
	if (c->auth)
		json_str(buf, sizeof(buf), c->auth);
	k += (size_t)snprintf(line + k, cap - k, "%s,\"from\":", c->auth ? buf : "null");
	json_str(buf, sizeof(buf), c->sender);
	k += (size_t)snprintf(line + k, cap - k, "%s,\"recipients\":[", buf);
	for (size_t i = 0; i < c->nrcpts; i++) {
		json_str(buf, sizeof(buf), c->rcpts[i]);
		k += (size_t)snprintf(
			line + k, cap - k, "%s{\"address\":%s,\"policy\":\"%s\",\"delivered\":%s}",
			i ? "," : "", buf,
			pg_mailbox_policy_name(pg_scan_mailbox_policy(s, c->rcpts[i])),
			delivered ? (delivered[i] ? "true" : "false") : "false");
	}
	json_str(buf, sizeof(buf), outcome);
	k += (size_t)snprintf(line + k, cap - k, "],\"milter\":%s,\"reply\":", buf);
	if (reply)
		json_str(buf, sizeof(buf), reply);
	k += (size_t)snprintf(line + k, cap - k, "%s,%s", reply ? buf : "null", j + 1);
	pgm_events_write(line);
	free(line);
	free(j);
}

/* Removes headers of ours that came with the message, last first. */
static void drop_owned(SMFICTX *ctx, struct conn *c)
{
	for (int i = 0; owned_headers[i]; i++)
		for (unsigned k = c->owned[i]; k > 0; k--)
			smfi_chgheader(ctx, (char *)owned_headers[i], (int)k, NULL);
}

static void add_headers(SMFICTX *ctx, struct conn *c, pg_scan *s)
{
	drop_owned(ctx, c);
	for (size_t i = 0; i < pg_scan_header_count(s); i++) {
		const char *v;
		const char *n = pg_scan_header(s, i, &v);
		if (smfi_addheader(ctx, (char *)n, (char *)v) != MI_SUCCESS)
			pgm_log(LOG_WARNING, "cannot add header %s", n);
	}
	for (size_t i = 0; i < pg_scan_virus_count(s); i++) {
		const char *part;
		const char *v = pg_scan_virus(s, i, &part);
		char val[600];
		snprintf(val, sizeof(val), "%s in %s", v, part);
		reply_text(val, sizeof(val), val);
		smfi_addheader(ctx, "X-PECGuard-Virus", val);
	}
	const char *subj = pg_scan_tagged_subject(s);
	if (subj != NULL) {
		if (c->have_subject)
			smfi_chgheader(ctx, "Subject", 1, (char *)subj);
		else
			smfi_addheader(ctx, "Subject", (char *)subj);
	}
}

/* The avviso di rilevazione virus for an envelope just held.  The hold
 * comes first and stands whatever happens here: the message is kept, and
 * a notice that cannot be built or submitted is logged with the queue id
 * for the operator (the envelope is in the hold queue to act on).
 *
 * Envelope sender: our provider's own posta-certificata@ address, the
 * notice's From, not the null sender.  Providers' receipts travel so
 * (the real receipts in the shared corpus have Return-Path:
 * <posta-certificata@...>), and a notice the sending provider cannot take
 * then comes back to our mailbox as a bounce, so a notice the rules
 * require is never lost in silence.  No loop follows: the bounce has the
 * null sender, and a receipt is delivered, never answered with another. */
static void notify_virus(struct conn *c, pg_scan *s, const char *qid)
{
	if (pg_scan_class(s) != PG_CLASS_PEC_ENVELOPE) {
		pgm_log(LOG_NOTICE, "%s: held %s: no virus notice (only envelopes get one)", qid,
			pg_scan_pec_type(s) ? pg_scan_pec_type(s) : "message");
		return;
	}
	pg_notice *n = NULL;
	pg_status st = pg_scan_virus_notice(s, (const char *const *)c->rcpts, c->nrcpts, &n);
	if (st != PG_OK) {
		pgm_log(LOG_ERR, "%s: held, but no virus notice could be made: %s", qid,
			pg_scan_errmsg(s));
		return;
	}
	if (n == NULL) {
		pgm_log(LOG_NOTICE, "%s: held; no virus notice sent: pec.notice_key is not set",
			qid);
		return;
	}
	char err[512];
	if (pgm_smtp_submit(n->from, n->to, n->data, n->len, err, sizeof(err)) != 0)
		pgm_log(LOG_ERR,
			"%s: held, but the virus notice to %s <%s> could not be submitted: %s", qid,
			n->provider, n->to, err);
	else
		pgm_log(LOG_INFO,
			"%s: virus notice sent: to=<%s> provider=%s virus=%s notice=<%s> from=<%s>",
			qid, n->to, n->provider, n->virus, n->ident, n->from);
	pg_notice_free(n);
}

static sfsistat decide(SMFICTX *ctx, struct conn *c, pg_scan *s, const char *qid, const char *data)
{
	char why[512], sym[300];
	pg_action a = pg_scan_action(s);
	const char *virus = pg_scan_virus_count(s) ? pg_scan_virus(s, 0, NULL) : NULL;
	bool *delivered = calloc(c->nrcpts ? c->nrcpts : 1, sizeof(bool));
	if (delivered == NULL)
		return say(ctx, "451", "4.3.0", "pecguard: out of memory, try again later",
			   SMFIS_TEMPFAIL);
	sfsistat ret;

	switch (a) {
	case PG_ACTION_TEMPFAIL:
		snprintf(why, sizeof(why), "pecguard: antivirus unavailable (%s), try again later",
			 pg_scan_av_error(s) ? pg_scan_av_error(s) : "no answer");
		ret = say(ctx, "451", "4.7.1", why, SMFIS_TEMPFAIL);
		record(c, s, qid, "tempfail", why, NULL);
		break;
	case PG_ACTION_QUARANTINE:
		/* A virus inside valid PEC: not delivered, kept, the sending
		 * provider to be notified; the law forbids refusing it. */
		add_headers(ctx, c, s);
		snprintf(why, sizeof(why), "pecguard: virus %s in a PEC %s from %s", virus,
			 pg_scan_pec_type(s) ? pg_scan_pec_type(s) : "message",
			 pg_scan_provider(s) ? pg_scan_provider(s) : "?");
		reply_text(why, sizeof(why), why);
		if (smfi_quarantine(ctx, why) != MI_SUCCESS) {
			ret = say(ctx, "451", "4.3.0",
				  "pecguard: cannot quarantine, try again later", SMFIS_TEMPFAIL);
			record(c, s, qid, "tempfail", "quarantine failed", NULL);
			break;
		}
		ret = SMFIS_ACCEPT;
		record(c, s, qid, "quarantine", why, NULL);
		notify_virus(c, s, qid);
		break;
	case PG_ACTION_REJECT:
		if (virus != NULL) {
			snprintf(why, sizeof(why), "pecguard: virus %s found, message refused",
				 virus);
		} else {
			top_symbols(s, sym, sizeof(sym), 5);
			snprintf(why, sizeof(why),
				 "pecguard: message refused as spam (score %.1f: %s)",
				 pg_scan_score(s), sym);
		}
		ret = say(ctx, "550", "5.7.1", why, SMFIS_REJECT);
		record(c, s, qid, "reject", why, NULL);
		break;
	default: {
		size_t nref = 0;
		const char **refused = calloc(c->nrcpts ? c->nrcpts : 1, sizeof(*refused));
		if (refused == NULL) {
			ret = say(ctx, "451", "4.3.0", "pecguard: out of memory", SMFIS_TEMPFAIL);
			break;
		}
		for (size_t i = 0; i < c->nrcpts; i++) {
			delivered[i] = pg_scan_recipient_accepts(s, c->rcpts[i]) != 0;
			if (!delivered[i])
				refused[nref++] = c->rcpts[i];
		}
		if (nref > 0 && nref == c->nrcpts) {
			snprintf(why, sizeof(why),
				 "pecguard: mailbox accepts certified mail (PEC) only; this is %s",
				 pg_class_name(pg_scan_class(s)));
			ret = say(ctx, "550", "5.7.1", why, SMFIS_REJECT);
			record(c, s, qid, "reject", why, delivered);
			free(refused);
			break;
		}
		if (nref > 0) {
			const pg_msg *m = pg_scan_message(s);
			const char *subj = m ? pg_msg_header(m, "Subject") : NULL;
			char err[512];
			if (c->sender[0] == '\0') {
				/* a bounce to a PEC-only mailbox: never bounce a bounce */
				pgm_log(LOG_NOTICE,
					"%s: null sender: no notification for refused recipients",
					qid);
			} else if (pgm_dsn_send(c->sender, refused, nref, qid, subj, data,
						c->hdr_len, err, sizeof(err)) != 0) {
				pgm_log(LOG_ERR, "%s: delivery status notification: %s", qid, err);
				ret = say(ctx, "451", "4.3.0",
					  "pecguard: cannot notify refused recipients now, try "
					  "again later",
					  SMFIS_TEMPFAIL);
				record(c, s, qid, "tempfail", "notification failed", NULL);
				free(refused);
				break;
			}
			for (size_t i = 0; i < nref; i++) {
				char a2[600];
				snprintf(a2, sizeof(a2), "<%s>", refused[i]);
				if (smfi_delrcpt(ctx, a2) != MI_SUCCESS)
					pgm_log(LOG_ERR, "%s: cannot remove recipient %s", qid, a2);
			}
		}
		free(refused);
		add_headers(ctx, c, s);
		ret = SMFIS_ACCEPT;
		record(c, s, qid, nref ? "accept-partial" : "accept", NULL, delivered);
		break;
	}
	}
	free(delivered);
	return ret;
}

static sfsistat pg_eom(SMFICTX *ctx)
{
	struct conn *c = get(ctx);
	if (c == NULL)
		return SMFIS_TEMPFAIL;
	const char *qid = smfi_getsymval(ctx, "i");
	if (qid == NULL)
		qid = "NOQUEUE";
	if (c->too_big) {
		pgm_log(LOG_NOTICE, "%s: message over %zu bytes refused", qid, c->limit);
		reset_message(c);
		return say(ctx, "552", "5.3.4", "pecguard: message too big", SMFIS_REJECT);
	}
	const char *data = c->mem ? c->mem : "";
	void *map = NULL;
	if (c->spool_fd >= 0 && c->total > 0) {
		map = mmap(NULL, c->total, PROT_READ, MAP_PRIVATE, c->spool_fd, 0);
		if (map == MAP_FAILED) {
			pgm_log(LOG_ERR, "%s: spool map: %s", qid, strerror(errno));
			reset_message(c);
			return say(ctx, "451", "4.3.0", "pecguard: local error, try again later",
				   SMFIS_TEMPFAIL);
		}
		data = map;
		pgm_log(LOG_INFO, "%s: %zu bytes spooled to a private file in %s (over %zu)", qid,
			c->total, pgm.spool_dir, pgm.spool_threshold);
	}
	pg_scan *s = NULL;
	sfsistat ret;
	if (pg_scan_new(pgm.eng, &s) != PG_OK) {
		ret = say(ctx, "451", "4.3.0", "pecguard: out of memory, try again later",
			  SMFIS_TEMPFAIL);
	} else {
		pg_status st = pg_scan_run_buffer(s, data, c->total);
		if (st == PG_ERR_NOMEM) {
			pgm_log(LOG_ERR, "%s: out of memory scanning", qid);
			ret = say(ctx, "451", "4.3.0", "pecguard: out of memory, try again later",
				  SMFIS_TEMPFAIL);
		} else {
			ret = decide(ctx, c, s, qid, data);
		}
	}
	pg_scan_free(s);
	if (map != NULL)
		munmap(map, c->total);
	reset_message(c);
	return ret;
}

static sfsistat pg_abort(SMFICTX *ctx)
{
	struct conn *c = get(ctx);
	if (c != NULL)
		reset_message(c);
	return SMFIS_CONTINUE;
}

static sfsistat pg_close(SMFICTX *ctx)
{
	struct conn *c = get(ctx);
	if (c != NULL) {
		reset_message(c);
		free(c->rcpts);
		free(c);
		smfi_setpriv(ctx, NULL);
		atomic_fetch_sub(&pgm.connections, 1);
	}
	return SMFIS_CONTINUE;
}

struct smfiDesc pgm_desc = {
	.xxfi_name = "pecguard",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_DELRCPT | SMFIF_QUARANTINE,
	.xxfi_connect = pg_connect,
	.xxfi_envfrom = pg_envfrom,
	.xxfi_envrcpt = pg_envrcpt,
	.xxfi_header = pg_header,
	.xxfi_eoh = pg_eoh,
	.xxfi_body = pg_body,
	.xxfi_eom = pg_eom,
	.xxfi_abort = pg_abort,
	.xxfi_close = pg_close,
};
