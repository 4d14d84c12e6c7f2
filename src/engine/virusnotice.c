/*
 * virusnotice.c - the avviso di rilevazione virus for a quarantined
 * envelope: what the scan found, the configuration's key, and the
 * providers' index (who we are, where the sending provider takes its
 * receipts), handed to src/pec/notice.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "pec/notice.h"
#include "pec/smime.h"

void pg_notice_free(pg_notice *n)
{
	if (n == NULL)
		return;
	free(n->data);
	free(n->to);
	free(n->from);
	free(n->provider);
	free(n->virus);
	free(n->ident);
	free(n);
}

/* Our own index entry: the one listing the notice certificate. */
static const pg_provider *own_provider(const pg_runtime *rt, const pg_notice_key *k)
{
	unsigned char sha1[20];
	if (pg_x509_sha1(pg_notice_key_cert(k), sha1) != 0)
		return NULL;
	return pg_providers_find_sha1(rt->providers, sha1);
}

/* The distinct virus names, ", "-separated, into the arena. */
static const char *virus_names(pg_scan *s)
{
	char *v = pg_arena_strdup(s->arena, s->viruses[0].name);
	for (size_t i = 1; v != NULL && i < s->nviruses; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(s->viruses[i].name, s->viruses[j].name) == 0;
		if (!seen)
			v = pg_arena_printf(s->arena, "%s, %s", v, s->viruses[i].name);
	}
	return v;
}

static char *dup_or_null(const char *s, bool *nomem)
{
	char *d = strdup(s ? s : "");
	if (d == NULL)
		*nomem = true;
	return d;
}

pg_status pg_scan_virus_notice(pg_scan *s, const char *const *rcpts, size_t nrcpts,
			       pg_notice **out)
{
	*out = NULL;
	const pg_classification *c = &s->cls;
	if (!s->ran || s->action != PG_ACTION_QUARANTINE || s->nviruses == 0 ||
	    c->cls != PG_CLASS_PEC_ENVELOPE || c->provider == NULL || c->daticert == NULL) {
		snprintf(s->errmsg, sizeof(s->errmsg),
			 "a virus notice is for a valid PEC envelope held for a virus");
		return PG_ERR_INVALID;
	}
	const pg_runtime *rt = s->rt;
	const pg_notice_key *key = rt->comp ? rt->comp->notice : NULL;
	if (key == NULL)
		return PG_OK; /* not configured: held, no notice */

	/* Who we are: the settings, else our entry in the index. */
	const char *gestore = rt->cfg ? pg_cfg_str(rt->cfg, "pec.provider_name", "") : "";
	const char *from = rt->cfg ? pg_cfg_str(rt->cfg, "pec.notice_from", "") : "";
	const pg_provider *own = NULL;
	if (gestore[0] == '\0' || from[0] == '\0') {
		own = own_provider(rt, key);
		if (own == NULL) {
			snprintf(s->errmsg, sizeof(s->errmsg),
				 "pec.notice_cert is not listed in the providers' index: set "
				 "pec.provider_name and pec.notice_from");
			return PG_ERR_CONFIG;
		}
		if (gestore[0] == '\0')
			gestore = own->name;
		if (from[0] == '\0') {
			if (own->ndomains == 0) {
				snprintf(s->errmsg, sizeof(s->errmsg),
					 "%s has no managedDomains: set pec.notice_from", own->name);
				return PG_ERR_CONFIG;
			}
			from = pg_arena_printf(s->arena, "posta-certificata@%s", own->domains[0]);
			if (from == NULL)
				return PG_ERR_NOMEM;
		}
	}
	/* The sending provider: the envelope's signer (the classifier checked
	 * that it manages the sender's domain). */
	const pg_provider *sender = c->provider;
	if (sender->mail_receipt == NULL || sender->mail_receipt[0] == '\0') {
		snprintf(s->errmsg, sizeof(s->errmsg), "%s has no mailReceipt in the providers' index",
			 sender->name);
		return PG_ERR_CONFIG;
	}
	const pg_daticert *dc = c->daticert;
	const char *oggetto = dc->oggetto;
	if (oggetto == NULL && c->inner != NULL)
		oggetto = pg_msg_header(c->inner, "Subject");
	const char *msgid = dc->msgid;
	if (msgid == NULL)
		msgid = pg_part_header(pg_msg_root(s->msg), "X-Riferimento-Message-ID");
	if (msgid == NULL) {
		snprintf(s->errmsg, sizeof(s->errmsg),
			 "the envelope names no original Message-ID (dati/msgid)");
		return PG_ERR_INVALID;
	}
	const char *virus = virus_names(s);
	if (virus == NULL)
		return PG_ERR_NOMEM;
	pg_notice_in in = {
		.gestore = gestore,
		.from = from,
		.to = sender->mail_receipt,
		.mittente = dc->mittente,
		.dest = dc->dest,
		.ndest = dc->ndest,
		.risposte = dc->risposte,
		.oggetto = oggetto,
		.msgid = msgid,
		.virus = virus,
		.held = rcpts,
		.nheld = rcpts ? nrcpts : 0,
		/* a fixed verification time fixes the notice's date too (tests) */
		.now = s->time_mode == PG_TIME_FIXED ? s->at : (int64_t)time(NULL),
	};
	char ident[320];
	if (pg_notice_ident(from, in.now, ident, sizeof(ident)) != 0) {
		snprintf(s->errmsg, sizeof(s->errmsg), "no random bytes for the notice's identifier");
		return PG_ERR_IO;
	}
	in.ident = ident;
	char *data = NULL;
	size_t len = 0;
	pg_status st = pg_notice_build(key, &in, &data, &len, s->errmsg, sizeof(s->errmsg));
	if (st != PG_OK)
		return st;
	pg_notice *n = calloc(1, sizeof(*n));
	if (n == NULL) {
		free(data);
		return PG_ERR_NOMEM;
	}
	n->data = data;
	n->len = len;
	bool nomem = false;
	n->to = dup_or_null(sender->mail_receipt, &nomem);
	n->from = dup_or_null(from, &nomem);
	n->provider = dup_or_null(sender->name, &nomem);
	n->virus = dup_or_null(virus, &nomem);
	n->ident = dup_or_null(ident, &nomem);
	if (nomem) {
		pg_notice_free(n);
		return PG_ERR_NOMEM;
	}
	*out = n;
	return PG_OK;
}
