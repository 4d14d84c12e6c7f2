/*
 * headers.c - how a verdict explains itself in the delivered message.
 *
 *   X-PECGuard-Class: pec-envelope; type=posta-certificata; provider="Gestore Alfa"
 *   X-PECGuard-Symbols: INVOICE_SUBJECT_INVIO_FILE=3.00, URL_LOOKALIKE=4.50
 *   X-Spam-Flag: YES
 *   X-Spam-Score: 7.5
 *   X-Spam-Status: Yes, score=7.5 required=5.0 tests=INVOICE_SUBJECT_INVIO_FILE,URL_LOOKALIKE
 *   X-PECGuard-Warning: (valid PEC only) what the certified content raised
 *
 * The X-Spam-* fields are SpamAssassin's, so existing Sieve rules and mail
 * clients work unchanged.  A valid PEC message always says X-Spam-Flag: NO:
 * the law forbids spam actions on it; its findings go to the warning.
 */
#include <stdio.h>
#include <string.h>

#include "engine/engine.h"
#include "util/buf.h"
#include "util/str.h"

/* Keeps a header value printable ASCII: names and details may carry
 * anything a message put there. */
static pg_status put_ascii(pg_buf *b, const char *s)
{
	pg_status st = PG_OK;
	for (; *s && st == PG_OK; s++) {
		unsigned char c = (unsigned char)*s;
		st = pg_buf_putc(b, (c >= 0x20 && c < 0x7f && c != '"') ? (char)c : '?');
	}
	return st;
}

/* Appends item to a list separated by sep (", " or ","), folding the line
 * after the separator when it would grow past 72 columns.  The first item
 * of a list gets no separator: the value follows its label directly
 * ("tests=A,B", not "tests=,A,B"). */
static pg_status fold_put(pg_buf *b, size_t *linelen, bool first, const char *sep, const char *item)
{
	pg_status st = PG_OK;
	if (!first) {
		if (*linelen + strlen(sep) + strlen(item) > 72) {
			st = pg_buf_puts(b, ",\n\t");
			*linelen = 1;
		} else {
			st = pg_buf_puts(b, sep);
			*linelen += strlen(sep);
		}
	}
	if (st == PG_OK)
		st = put_ascii(b, item);
	*linelen += strlen(item);
	return st;
}

static pg_status add(pg_scan *s, const char *name, pg_buf *b)
{
	if (s->nhdr >= sizeof(s->hdr_name) / sizeof(s->hdr_name[0]))
		return PG_OK;
	const char *v = pg_arena_strndup(s->arena, b->data ? b->data : "", b->len);
	if (v == NULL)
		return PG_ERR_NOMEM;
	s->hdr_name[s->nhdr] = name;
	s->hdr_value[s->nhdr++] = v;
	pg_buf_reset(b);
	return PG_OK;
}

/* The first failed check of an invalid PEC message. */
static const char *first_failure(const pg_classification *c)
{
	for (size_t i = 0; i < c->reasons.n; i++) {
		const char *r = c->reasons.v[i];
		if (!pg_reason_is_evidence(r))
			return r;
	}
	return NULL;
}

pg_status pg_scan_build_headers(pg_scan *s)
{
	pg_buf b;
	pg_buf_init(&b, 1u << 16);
	pg_status st = PG_OK;
	char tmp[512];
	const pg_classification *c = &s->cls;
	bool pec = pg_class_is_pec(c->cls);

	/* X-PECGuard-Class */
	st = pg_buf_puts(&b, pg_class_name(c->cls));
	if (st == PG_OK && pec) {
		st = pg_buf_puts(&b, "; type=");
		if (st == PG_OK)
			st = put_ascii(&b, c->pec_type ? c->pec_type : "");
		if (st == PG_OK)
			st = pg_buf_puts(&b, "; provider=\"");
		if (st == PG_OK)
			st = put_ascii(&b, c->provider ? c->provider->name : "");
		if (st == PG_OK)
			st = pg_buf_putc(&b, '"');
	} else if (st == PG_OK && c->cls == PG_CLASS_INVALID_PEC) {
		const char *f = first_failure(c);
		snprintf(tmp, sizeof(tmp), "; claims=%s; failed=%.*s", pg_class_name(c->claimed),
			 f ? (int)strcspn(f, ":") : 7, f ? f : "unknown");
		st = put_ascii(&b, tmp);
	}
	if (st == PG_OK)
		st = add(s, "X-PECGuard-Class", &b);

	/* X-PECGuard-Symbols: every symbol with its weight, strongest first */
	size_t linelen = 0;
	for (size_t i = 0; st == PG_OK && i < s->syms.n; i++) {
		snprintf(tmp, sizeof(tmp), "%s=%.2f", s->syms.v[i].name, s->syms.v[i].weight);
		st = fold_put(&b, &linelen, i == 0, ", ", tmp);
	}
	if (st == PG_OK && s->syms.n == 0)
		st = pg_buf_puts(&b, "none");
	if (st == PG_OK)
		st = add(s, "X-PECGuard-Symbols", &b);

	/* SpamAssassin's fields; never "YES" on valid PEC */
	bool spam = !pec && (s->action == PG_ACTION_ADD_HEADER ||
			     s->action == PG_ACTION_TAG_SUBJECT || s->action == PG_ACTION_REJECT);
	if (st == PG_OK)
		st = pg_buf_puts(&b, spam ? "YES" : "NO");
	if (st == PG_OK)
		st = add(s, "X-Spam-Flag", &b);
	if (st == PG_OK)
		st = pg_buf_printf(&b, "%.1f", s->score);
	if (st == PG_OK)
		st = add(s, "X-Spam-Score", &b);
	if (st == PG_OK) {
		st = pg_buf_printf(&b, "%s, score=%.1f required=%.1f tests=", spam ? "Yes" : "No",
				   s->score, s->rt->tag_subject);
		linelen = b.len;
		for (size_t i = 0; st == PG_OK && i < s->syms.n; i++)
			st = fold_put(&b, &linelen, i == 0, ",", s->syms.v[i].name);
		if (st == PG_OK && s->syms.n == 0)
			st = pg_buf_puts(&b, "none");
		if (st == PG_OK)
			st = pg_buf_puts(&b, " version=pecguard-" PECGUARD_VERSION);
	}
	if (st == PG_OK)
		st = add(s, "X-Spam-Status", &b);

	/* Valid PEC: what the certified content raised, for the reader only */
	if (st == PG_OK && pec && s->syms.n > 0 && s->score >= s->rt->add_header) {
		snprintf(tmp, sizeof(tmp),
			 "the certified message scores %.1f (spam threshold %.1f); PEC from the "
			 "circuit is never spam-tagged: ",
			 s->score, s->rt->tag_subject);
		st = put_ascii(&b, tmp);
		linelen = b.len;
		bool first = true;
		for (size_t i = 0; st == PG_OK && i < s->syms.n; i++)
			if (s->syms.v[i].weight > 0) {
				st = fold_put(&b, &linelen, first, ", ", s->syms.v[i].name);
				first = false;
			}
		if (st == PG_OK)
			st = add(s, "X-PECGuard-Warning", &b);
	}

	/* The tagged subject, for tag-subject on ordinary or invalid PEC mail */
	if (st == PG_OK && s->action == PG_ACTION_TAG_SUBJECT && !pec) {
		const char *tag = s->rt->subject_tag ? s->rt->subject_tag : "[SPAM] ";
		const char *raw = NULL;
		if (s->msg != NULL) {
			GMimeHeaderList *hl =
				g_mime_object_get_header_list(GMIME_OBJECT(s->msg->gm));
			GMimeHeader *h = hl ? g_mime_header_list_get_header(hl, "Subject") : NULL;
			raw = h ? g_mime_header_get_raw_value(h) : NULL;
		}
		size_t n = 0;
		const char *t = raw ? pg_trim(raw, &n) : "";
		/* Tagged once: a subject already tagged keeps its tag. */
		if (strncmp(t, tag, strlen(tag)) == 0)
			s->tagged_subject = pg_arena_strndup(s->arena, t, n);
		else
			s->tagged_subject = pg_arena_printf(s->arena, "%s%.*s", tag, (int)n, t);
		if (s->tagged_subject == NULL)
			st = PG_ERR_NOMEM;
	}
	pg_buf_free(&b);
	return st;
}

size_t pg_scan_header_count(const pg_scan *scan)
{
	return scan->nhdr;
}

const char *pg_scan_header(const pg_scan *scan, size_t i, const char **value)
{
	if (i >= scan->nhdr)
		return NULL;
	if (value)
		*value = scan->hdr_value[i];
	return scan->hdr_name[i];
}

const char *pg_scan_tagged_subject(const pg_scan *scan)
{
	return scan->tagged_subject;
}

const char *pg_mailbox_policy_name(pg_mailbox_policy p)
{
	return p == PG_POLICY_PEC_ONLY ? "pec-only" : "accept";
}

pg_mailbox_policy pg_scan_mailbox_policy(const pg_scan *scan, const char *rcpt)
{
	return pg_policymap_lookup(scan->rt->comp ? scan->rt->comp->policymap : NULL, rcpt);
}

int pg_scan_recipient_accepts(const pg_scan *scan, const char *rcpt)
{
	if (pg_class_is_pec(scan->cls.cls))
		return 1;
	return pg_scan_mailbox_policy(scan, rcpt) == PG_POLICY_PEC_ONLY ? 0 : 1;
}
