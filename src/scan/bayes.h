/*
 * bayes.h - the statistical filter: Robinson's per-token probabilities
 * combined with Fisher's chi-square method (as SpamBayes, SpamAssassin and
 * bogofilter do), trained by the administrator and by users' reports.
 *
 * Tokens are 64-bit hashes of the folded (NFKC + case folded) words of the
 * subject and the text parts, word pairs, URL and e-mail hosts, and a few
 * header facts; their spam/ham counts live in the store (namespace
 * "bayes", one counter pair per token), the numbers of learned messages in
 * "bayes_meta", and what each message was learned as in "bayes_seen".
 * docs/analysers/bayes.md tells the whole story.
 */
#ifndef PG_SCAN_BAYES_H
#define PG_SCAN_BAYES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/config.h"
#include "engine/store.h"
#include "mime/msg.h"
#include "scan/analyser.h"

/* Adds BAYES_SPAM, BAYES_HAM or BAYES_UNSURE once bayes.min_learned spam
 * and ham messages each have been learned; nothing before, nothing without
 * a store. */
extern const pg_analyser pg_analyser_bayes;

/* Learns message m as spam or ham (unlearn false), or forgets what it was
 * learned as (unlearn true: spam is then ignored).  Idempotent: a message
 * (known by its Message-ID, else by its tokens) learned again as the same
 * class changes nothing; learned as the other class, its counts move from
 * one class to the other (a user's false-positive report undoes an earlier
 * "learn spam").  On PG_OK, err says what was done ("learned as spam",
 * "already learned as spam", "moved from spam to ham", "unlearned (was
 * ham)", "not learned: nothing to unlearn"); on failure, why. */
pg_status pg_bayes_learn(pg_store *st, const pg_config *cfg, const pg_msg *m, bool spam,
			 bool unlearn, char *err, size_t errlen) PG_WUR;

/* Numbers of spam and ham messages learned (zeros when none). */
pg_status pg_bayes_learned(pg_store *st, int64_t *nspam, int64_t *nham) PG_WUR;

/* ---- for tests, diagnostics and tools --------------------------------- */

/* The spam probability the analyser would compute for ax->msg with the
 * state from pg_analyser_bayes.init: *prob in [0, 1], *ntok the number of
 * significant tokens combined.  *ready false (and *prob 0.5) when there is
 * no store or too little has been learned. */
pg_status pg_bayes_probability(pg_actx *ax, void *state, double *prob, size_t *ntok,
			       bool *ready) PG_WUR;

/* The clues behind a probability, for a helpdesk asking "why": every
 * token combined, as text ("s:fattura" a subject word, "url:host", "a b"
 * a word pair), with its spam and ham counts and its probability f; fn
 * returns non-zero to stop.  Same verdict as pg_bayes_probability. */
typedef int (*pg_bayes_clue_fn)(void *ctx, const char *token, int64_t nspam, int64_t nham,
				double f);
pg_status pg_bayes_explain(pg_actx *ax, void *state, pg_bayes_clue_fn fn, void *ctx, double *prob,
			   bool *ready) PG_WUR;

/* The token hashes of a message, unique, in the order first seen, at most
 * bayes.max_tokens; in arena a. */
pg_status pg_bayes_tokenize(pg_arena *a, const pg_config *cfg, const pg_msg *m, uint64_t **out,
			    size_t *n) PG_WUR;
/* The same for a bare text, as the body of a message is tokenized
 * (words, word pairs, hosts), at most max tokens. */
pg_status pg_bayes_tokenize_text(pg_arena *a, const char *text, size_t len, size_t max,
				 uint64_t **out, size_t *n) PG_WUR;
/* The hash of one token: kind "" for a body word (folded: "fattura"), "s"
 * subject word, "url" URL host, "urld" its registrable domain, "email"
 * e-mail domain, "from" / "replyto" sender domains, "mailer", "ext"
 * attachment extension, "ct" part content type, "cs" charset. */
uint64_t pg_bayes_token(const char *kind, const char *text, size_t len);
/* The hash of the word pair (a, b), a first. */
uint64_t pg_bayes_bigram(uint64_t a, uint64_t b);

#endif
