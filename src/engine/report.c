/*
 * report.c - the JSON description of a scan (pg_scan_json).
 */
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "util/clocale.h"
#include "util/json.h"
#include "util/ptime.h"
#include "util/str.h"

#define J(x)                                                                                       \
	do {                                                                                       \
		if ((x) != PG_OK)                                                                  \
			goto nomem;                                                                \
	} while (0)

static pg_status json_time(pg_buf *b, int64_t t)
{
	if (t < 0)
		return pg_buf_puts(b, "null");
	char ts[32];
	pg_time_format_iso8601(t, ts, sizeof(ts));
	return pg_json_str(b, ts);
}

static char *scan_json_c(const pg_scan *s, const char *path)
{
	pg_buf b;
	pg_buf_init(&b, PG_BUF_UNLIMITED);
	const pg_classification *c = &s->cls;

	J(pg_buf_putc(&b, '{'));
	J(pg_json_key(&b, "path", true));
	J(pg_json_str(&b, path));
	J(pg_json_key(&b, "class", false));
	J(pg_json_str(&b, s->ran ? pg_class_name(c->cls) : NULL));
	J(pg_json_key(&b, "pec_type", false));
	J(pg_json_str(&b, c->pec_type));
	J(pg_json_key(&b, "claimed", false));
	if (c->cls == PG_CLASS_INVALID_PEC) {
		J(pg_buf_putc(&b, '{'));
		J(pg_json_key(&b, "class", true));
		J(pg_json_str(&b, pg_class_name(c->claimed)));
		J(pg_json_key(&b, "pec_type", false));
		J(pg_json_str(&b, c->claimed_type));
		J(pg_buf_putc(&b, '}'));
	} else {
		J(pg_buf_puts(&b, "null"));
	}
	J(pg_json_key(&b, "provider", false));
	J(pg_json_str(&b, c->provider ? c->provider->name : NULL));
	J(pg_json_key(&b, "reasons", false));
	J(pg_buf_putc(&b, '['));
	for (size_t i = 0; i < c->reasons.n; i++) {
		if (i)
			J(pg_buf_putc(&b, ','));
		J(pg_json_str(&b, c->reasons.v[i]));
	}
	J(pg_buf_putc(&b, ']'));

	J(pg_json_key(&b, "signer", false));
	if (c->have_sig && c->sig.signer != NULL) {
		char sha[60];
		pg_hex_upper(c->sig.sha1, 20, sha, true);
		J(pg_buf_putc(&b, '{'));
		J(pg_json_key(&b, "subject", true));
		J(pg_json_str(&b, c->signer_subject));
		J(pg_json_key(&b, "sha1", false));
		J(pg_json_str(&b, sha));
		J(pg_json_key(&b, "provider", false));
		J(pg_json_str(&b, c->signer_provider ? c->signer_provider->name : NULL));
		J(pg_json_key(&b, "not_before", false));
		J(json_time(&b, pg_x509_not_before(c->sig.signer)));
		J(pg_json_key(&b, "not_after", false));
		J(json_time(&b, pg_x509_not_after(c->sig.signer)));
		J(pg_json_key(&b, "signing_time", false));
		J(json_time(&b, c->sig.signing_time));
		J(pg_json_key(&b, "digest", false));
		J(pg_json_str(&b, c->sig.digest));
		J(pg_buf_putc(&b, '}'));
	} else {
		J(pg_buf_puts(&b, "null"));
	}
	J(pg_json_key(&b, "verified_at", false));
	/* A scan not run has a zeroed classification: 0 is no time. */
	J(json_time(&b, s->ran ? c->verified_at : -1));

	J(pg_json_key(&b, "av", false));
	J(pg_buf_putc(&b, '{'));
	J(pg_json_key(&b, "status", true));
	J(pg_json_str(&b, pg_av_state_name(s->av)));
	J(pg_json_key(&b, "viruses", false));
	J(pg_buf_putc(&b, '['));
	for (size_t i = 0; i < s->nviruses; i++) {
		J(pg_buf_puts(&b, i ? ",{" : "{"));
		J(pg_json_key(&b, "name", true));
		J(pg_json_str(&b, s->viruses[i].name));
		J(pg_json_key(&b, "part", false));
		J(pg_json_str(&b, s->viruses[i].part));
		J(pg_buf_putc(&b, '}'));
	}
	J(pg_buf_putc(&b, ']'));
	J(pg_json_key(&b, "parts", false));
	J(pg_buf_putc(&b, '['));
	for (size_t i = 0; i < s->navparts; i++) {
		J(pg_buf_puts(&b, i ? ",{" : "{"));
		J(pg_json_key(&b, "part", true));
		J(pg_json_str(&b, s->avparts[i].part));
		J(pg_json_key(&b, "result", false));
		J(pg_json_str(&b, s->avparts[i].result));
		J(pg_buf_putc(&b, '}'));
	}
	J(pg_buf_putc(&b, ']'));
	J(pg_json_key(&b, "backend", false));
	J(pg_json_str(&b, s->rt->comp ? s->rt->comp->av_backend : "none"));
	J(pg_json_key(&b, "error", false));
	J(pg_json_str(&b, s->av_error));
	J(pg_buf_putc(&b, '}'));

	J(pg_json_key(&b, "score", false));
	J(pg_buf_printf(&b, "%.2f", s->score));
	J(pg_json_key(&b, "action", false));
	J(pg_json_str(&b, s->ran ? pg_action_name(s->action) : NULL));
	J(pg_json_key(&b, "symbols", false));
	J(pg_buf_putc(&b, '['));
	for (size_t i = 0; i < s->syms.n; i++) {
		J(pg_buf_puts(&b, i ? ",{" : "{"));
		J(pg_json_key(&b, "name", true));
		J(pg_json_str(&b, s->syms.v[i].name));
		J(pg_json_key(&b, "weight", false));
		J(pg_buf_printf(&b, "%.2f", s->syms.v[i].weight));
		J(pg_json_key(&b, "detail", false));
		J(pg_json_str(&b, s->syms.v[i].detail));
		J(pg_buf_putc(&b, '}'));
	}
	J(pg_buf_putc(&b, ']'));

	J(pg_json_key(&b, "headers", false));
	J(pg_buf_putc(&b, '['));
	for (size_t i = 0; i < s->nhdr; i++) {
		J(pg_buf_puts(&b, i ? ",[" : "["));
		J(pg_json_str(&b, s->hdr_name[i]));
		J(pg_buf_putc(&b, ','));
		J(pg_json_str(&b, s->hdr_value[i]));
		J(pg_buf_putc(&b, ']'));
	}
	J(pg_buf_putc(&b, ']'));
	J(pg_json_key(&b, "tagged_subject", false));
	J(pg_json_str(&b, s->tagged_subject));

	const pg_msg *m = s->msg;
	J(pg_json_key(&b, "subject", false));
	J(pg_json_str(&b, m ? pg_msg_header(m, "Subject") : NULL));
	J(pg_json_key(&b, "message_id", false));
	J(pg_json_str(&b, m ? pg_msg_header(m, "Message-ID") : NULL));
	J(pg_json_key(&b, "size", false));
	J(pg_buf_printf(&b, "%zu", s->len));
	J(pg_json_key(&b, "status", false));
	J(pg_json_str(&b, pg_status_name(s->status)));
	J(pg_json_key(&b, "error", false));
	J(pg_json_str(&b, s->status != PG_OK ? s->errmsg : NULL));
	J(pg_buf_putc(&b, '}'));
	return pg_buf_take(&b);
nomem:
	pg_buf_free(&b);
	return NULL;
}

/* Numbers in the C locale, whatever the host program set (util/clocale.h). */
char *pg_scan_json(const pg_scan *s, const char *path)
{
	locale_t prev = pg_c_locale_enter();
	char *j = scan_json_c(s, path);
	pg_c_locale_leave(prev);
	return j;
}
