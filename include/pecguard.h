/*
 * pecguard.h - the public API of libpecguard.
 *
 * libpecguard tells a genuine PEC message (Italian certified e-mail, signed
 * by a provider listed in the official providers' index) from ordinary mail
 * and from mail that only imitates PEC, and explains why.
 *
 * Model:
 *   pg_engine  long-lived, shared by every scan of a process: limits, the
 *              providers' index (the trust store), later configuration and
 *              stores.  Thread-safe: many scans may run at once on one engine,
 *              and the providers' index may be reloaded while they run.
 *   pg_scan    one message: bytes in, one verdict out.  Owned by one thread.
 *
 * Every function that can fail returns a pg_status; the handle keeps a
 * human-readable message for the last failure (pg_engine_errmsg,
 * pg_scan_errmsg).  There is no global state: everything hangs off a handle.
 */
#ifndef PECGUARD_H
#define PECGUARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define PG_API __attribute__((visibility("default")))
#define PG_WUR __attribute__((warn_unused_result))
#else
#define PG_API
#define PG_WUR
#endif

#define PECGUARD_VERSION "0.1.0"

/* Status codes.  PG_OK is zero; every other value is a failure with a
 * message in the handle's errmsg. */
typedef enum pg_status {
	PG_OK = 0,
	PG_ERR_NOMEM,           /* out of memory */
	PG_ERR_IO,              /* a file could not be read or written */
	PG_ERR_INVALID,         /* bad argument or API misuse */
	PG_ERR_CONFIG,          /* bad configuration */
	PG_ERR_INDEX,           /* bad providers' index */
	PG_ERR_PARSE,           /* input could not be parsed at all */
	PG_ERR_TOO_BIG,         /* message larger than the size limit */
	PG_ERR_HEADER_TOO_LONG, /* a header field or header block over its limit */
	PG_ERR_TOO_DEEP,        /* MIME nesting deeper than the limit */
	PG_ERR_TOO_MANY_PARTS,  /* more MIME parts than the limit */
	PG_ERR_TEMPFAIL,        /* a deciding check could not run: try again */
	PG_STATUS_COUNT
} pg_status;

/* A stable, lower-case, hyphenated name for a status ("too-deep"). */
PG_API const char *pg_status_name(pg_status st);
/* A short English description of a status. */
PG_API const char *pg_status_str(pg_status st);

/* What a message is in the PEC world.  Exactly one per message. */
typedef enum pg_class {
	PG_CLASS_PEO = 0,      /* ordinary mail */
	PG_CLASS_PEC_ENVELOPE, /* busta di trasporto */
	PG_CLASS_PEC_RECEIPT,  /* ricevuta / avviso */
	PG_CLASS_PEC_ANOMALY,  /* busta di anomalia */
	PG_CLASS_INVALID_PEC,  /* carries PEC markers but fails a check */
	PG_CLASS_COUNT
} pg_class;

/* "peo", "pec-envelope", "pec-receipt", "pec-anomaly", "invalid-pec". */
PG_API const char *pg_class_name(pg_class c);
/* Non-zero for the three valid PEC classes. */
PG_API int pg_class_is_pec(pg_class c);

/* Caps on what input controls.  Hitting one is a typed status, never a
 * crash.  Zero in a field means "the default". */
typedef struct pg_limits {
	size_t max_message_size; /* bytes; default 64 MiB */
	size_t max_header_field; /* one header field, folded; default 64 KiB */
	size_t max_header_block; /* all header fields of one entity; default 1 MiB */
	unsigned max_depth;      /* MIME nesting (multipart + message/rfc822); default 32 */
	unsigned max_parts;      /* MIME entities in one message; default 1000 */
} pg_limits;

typedef struct pg_engine pg_engine;
typedef struct pg_scan pg_scan;
typedef struct pg_msg pg_msg;
typedef struct pg_part pg_part;

/* ---- engine ------------------------------------------------------------ */

/* Creates an engine with default limits and an empty providers' index.
 * On success *out owns a new engine; free it with pg_engine_free(). */
PG_API PG_WUR pg_status pg_engine_new(pg_engine **out);
/* Frees the engine.  Every scan made from it must be freed first. */
PG_API void pg_engine_free(pg_engine *eng);
/* The message of the last failure of an engine call ("" if none).  Valid
 * until the next engine call from the same thread. */
PG_API const char *pg_engine_errmsg(const pg_engine *eng);

PG_API PG_WUR pg_status pg_engine_set_limits(pg_engine *eng, const pg_limits *lim);
PG_API void pg_engine_get_limits(const pg_engine *eng, pg_limits *out);

/* Loads the providers' index (LDIF, RFC 6109 schema) from a file or from
 * memory.  On success the new index replaces the current one atomically:
 * scans already running keep the index they started with.  On failure the
 * current index is kept and errmsg names the line and the attribute. */
PG_API PG_WUR pg_status pg_engine_load_providers(pg_engine *eng, const char *path);
PG_API PG_WUR pg_status pg_engine_load_providers_mem(pg_engine *eng, const char *data, size_t len,
						     const char *name);
/* Number of providers in the current index. */
PG_API size_t pg_engine_provider_count(const pg_engine *eng);

/* Configures the engine from the built-in defaults, then the file at path
 * (NULL: none), then overrides ("dotted.name=value", as command-line flags
 * give them; NULL when n is 0).  Builds everything the configuration names
 * -- limits, providers' index, antivirus, analysers and their rules, the
 * state store -- and swaps it in atomically.  On any failure nothing
 * changes and errmsg says what is wrong (file, line, setting). */
PG_API PG_WUR pg_status pg_engine_configure(pg_engine *eng, const char *path,
					    const char *const *overrides, size_t n);
/* Builds again from the same file and overrides (SIGHUP): reloads the
 * configuration, the providers' index, rules and signatures.  On failure
 * the running configuration stays. */
PG_API PG_WUR pg_status pg_engine_reload(pg_engine *eng);
/* Where the current configuration came from. */
PG_API const char *pg_engine_config_source(const pg_engine *eng);
/* "clamav", "clamd:...", or "none". */
PG_API const char *pg_engine_av_backend(const pg_engine *eng);
/* Asks the configured antivirus two questions with known answers: the
 * EICAR test string must be found (signatures loaded and matching), and
 * content nested past every archive limit must come back "not fully
 * scanned", never clean (clamd needs AlertExceedsMax yes).  PG_OK (also
 * with no antivirus); PG_ERR_IO when it does not answer, PG_ERR_CONFIG
 * when it answers wrong: the reason in pg_engine_errmsg(). */
PG_API PG_WUR pg_status pg_engine_av_selfcheck(pg_engine *eng);
/* The subject of the certificate that signs virus notices (pec.notice_cert)
 * into buf, or "" when no notice key is configured. */
PG_API void pg_engine_notice_signer(pg_engine *eng, char *buf, size_t len);

/* Learning (Bayes): the message's tokens counted as spam (spam != 0) or
 * ham; unlearn removes a previous learning.  Relearning a message as the
 * other class moves its counts (a user's false-positive report). */
PG_API PG_WUR pg_status pg_engine_learn(pg_engine *eng, const void *data, size_t len, int spam,
					int unlearn);

/* Outbreak signatures: SHA-256 of a confirmed sample (an attachment, or a
 * file inside an archive) that the antivirus stage reports as the virus
 * "PECGuard.Outbreak.NAME" from the next scan on, whatever the backend. */
PG_API PG_WUR pg_status pg_engine_outbreak_add(pg_engine *eng, const unsigned char sha256[32],
					       const char *name, const char *source);
/* Removes every signature called name; *removed counts them. */
PG_API PG_WUR pg_status pg_engine_outbreak_remove(pg_engine *eng, const char *name,
						  size_t *removed);
typedef int (*pg_outbreak_fn)(void *ctx, const char *sha256_hex, const char *name, int64_t added,
			      const char *source);
PG_API PG_WUR pg_status pg_engine_outbreak_list(pg_engine *eng, pg_outbreak_fn fn, void *ctx);

/* ---- settings ----------------------------------------------------------- */

/* Read-only access to a configuration without building an engine: the
 * front ends' own settings (the milter's socket and user) are read before
 * the engine is configured, once privileges are dropped.  Same files and
 * overrides as pg_engine_configure(). */
typedef struct pg_settings pg_settings;
PG_API PG_WUR pg_status pg_settings_load(const char *path, const char *const *overrides, size_t n,
					 pg_settings **out, char *err, size_t errlen);
PG_API void pg_settings_free(pg_settings *s);
/* By dotted name ("milter.socket"); def when absent. */
PG_API const char *pg_settings_str(const pg_settings *s, const char *name, const char *def);
PG_API int64_t pg_settings_int(const pg_settings *s, const char *name, int64_t def);
PG_API int pg_settings_bool(const pg_settings *s, const char *name, int def);

/* ---- scan -------------------------------------------------------------- */

/* How the verification time of signer certificates is chosen. */
typedef enum pg_time_mode {
	PG_TIME_NOW = 0, /* the time of the scan (default) */
	PG_TIME_FIXED,   /* a given time (pg_scan_set_time) */
	PG_TIME_SIGNING  /* the CMS signing time, else now: forensics */
} pg_time_mode;

/* Creates a scan on an engine.  *out owns it; free with pg_scan_free(). */
PG_API PG_WUR pg_status pg_scan_new(pg_engine *eng, pg_scan **out);
PG_API void pg_scan_free(pg_scan *scan);
PG_API const char *pg_scan_errmsg(const pg_scan *scan);

/* mode PG_TIME_FIXED uses t (seconds since the epoch, UTC). */
PG_API void pg_scan_set_time(pg_scan *scan, pg_time_mode mode, int64_t t);

/* Push-style input: append bytes of the message as they arrive.  Returns
 * PG_ERR_TOO_BIG once the size limit is passed (the bytes are not kept). */
PG_API PG_WUR pg_status pg_scan_write(pg_scan *scan, const void *data, size_t len);
/* Parses and classifies what was written.  A message that breaks a limit
 * returns that status, and still gets a safe class with a reason. */
PG_API PG_WUR pg_status pg_scan_run(pg_scan *scan);
/* Same, on a caller's buffer, without copying: data must stay valid and
 * unchanged until pg_scan_free(). */
PG_API PG_WUR pg_status pg_scan_run_buffer(pg_scan *scan, const void *data, size_t len);

/* Results, valid after pg_scan_run*() until pg_scan_free(). */
PG_API pg_class pg_scan_class(const pg_scan *scan);
/* The X-Trasporto / X-Ricevuta value of a valid PEC class ("posta-certificata",
 * "avvenuta-consegna", "errore"...), else NULL. */
PG_API const char *pg_scan_pec_type(const pg_scan *scan);
/* For invalid-pec: the class and type the markers claim (type may be NULL). */
PG_API pg_class pg_scan_claimed_class(const pg_scan *scan);
PG_API const char *pg_scan_claimed_type(const pg_scan *scan);
/* providerName of the signer when it is in the index, else NULL. */
PG_API const char *pg_scan_provider(const pg_scan *scan);
/* Machine-readable reasons, "code" or "code: detail". */
PG_API size_t pg_scan_reason_count(const pg_scan *scan);
PG_API const char *pg_scan_reason(const pg_scan *scan, size_t i);
/* Non-zero when a reason records evidence -- a PEC marker found, a check
 * passed ("signature-valid", "daticert-absent" of an anomaly, ...) --
 * rather than a failed check or a limit (docs/CLASSES.md). */
PG_API int pg_reason_is_evidence(const char *reason);
/* Status of the last run (PG_OK, or the limit that was hit...). */
PG_API pg_status pg_scan_status(const pg_scan *scan);

/* What to do with the message.  A valid PEC envelope, receipt or anomaly
 * never gets a spam action: only the antivirus may stop it (quarantine). */
typedef enum pg_action {
	PG_ACTION_NONE = 0,
	PG_ACTION_ADD_HEADER,  /* deliver, with the spam headers set */
	PG_ACTION_TAG_SUBJECT, /* and the subject tagged */
	PG_ACTION_REJECT,      /* refuse (5.7.1) */
	PG_ACTION_TEMPFAIL,    /* a deciding check could not run: try again later (4.7.1) */
	PG_ACTION_QUARANTINE,  /* a virus inside valid PEC: hold, do not deliver, notify */
	PG_ACTION_COUNT
} pg_action;
/* "none", "add-header", "tag-subject", "reject", "tempfail", "quarantine". */
PG_API const char *pg_action_name(pg_action a);
PG_API pg_action pg_scan_action(const pg_scan *scan);
/* The sum of the symbols' weights. */
PG_API double pg_scan_score(const pg_scan *scan);
/* Symbols the analysers added: name, weight, detail (may be NULL). */
PG_API size_t pg_scan_symbol_count(const pg_scan *scan);
PG_API const char *pg_scan_symbol(const pg_scan *scan, size_t i, double *weight,
				  const char **detail);

/* The statistical filter's clues behind this scan's BAYES_* symbol, for a
 * helpdesk asking "why was this tagged": every token it combined, as text
 * ("s:fattura" a subject word, "url:host" a link's host, "a b" a word pair,
 * "from:domain" the sender's domain), how many learned spam and ham
 * messages held it, and its probability p of spam.  fn returns non-zero to
 * stop.  *prob gets the message's probability; *ready is 0 when Bayes gave
 * no verdict (disabled, too few messages learned), and then fn is not
 * called.  Call after the scan has run; it reads the store again, so a
 * learning in between shows. */
typedef int (*pg_clue_fn)(void *ctx, const char *token, int64_t nspam, int64_t nham, double p);
PG_API PG_WUR pg_status pg_scan_bayes_clues(pg_scan *scan, pg_clue_fn fn, void *ctx, double *prob,
					    int *ready);

/* The antivirus verdict of the whole message. */
typedef enum pg_av_state {
	PG_AV_NOT_SCANNED = 0, /* antivirus "none" */
	PG_AV_STATE_CLEAN,
	PG_AV_STATE_INFECTED,
	PG_AV_STATE_TEMPFAIL /* could not scan: never clean */
} pg_av_state;
/* "not-scanned", "clean", "infected", "tempfail". */
PG_API const char *pg_av_state_name(pg_av_state s);
PG_API pg_av_state pg_scan_av(const pg_scan *scan);
/* Viruses found: the name and the part ("1.3.2 postacert.eml/eicar.com"). */
PG_API size_t pg_scan_virus_count(const pg_scan *scan);
PG_API const char *pg_scan_virus(const pg_scan *scan, size_t i, const char **part);
/* Why the antivirus could not answer, when tempfail. */
PG_API const char *pg_scan_av_error(const pg_scan *scan);

/* The parsed top-level message, or NULL if it could not be parsed. */
PG_API const pg_msg *pg_scan_message(const pg_scan *scan);
/* The content later analysers inspect: for valid PEC envelopes and
 * receipts that carry one, the inner postacert.eml; else the top level.
 * NULL if nothing could be parsed. */
PG_API const pg_msg *pg_scan_content(const pg_scan *scan);

/* One JSON object (no trailing newline) describing the scan; path is
 * echoed as "path" (may be NULL).  Returns a malloc'd string (free() it),
 * or NULL when out of memory. */
PG_API char *pg_scan_json(const pg_scan *scan, const char *path);

/* ---- recipients and headers ---------------------------------------------- */

/* A mailbox's choice (the policy map, setting policy.map). */
typedef enum pg_mailbox_policy {
	PG_POLICY_ACCEPT = 0, /* ordinary and certified mail (default) */
	PG_POLICY_PEC_ONLY    /* the PEC circuit only: valid PEC classes */
} pg_mailbox_policy;
/* "accept", "pec-only". */
PG_API const char *pg_mailbox_policy_name(pg_mailbox_policy p);
/* The policy of a recipient's mailbox ("<a@b>" brackets allowed). */
PG_API pg_mailbox_policy pg_scan_mailbox_policy(const pg_scan *scan, const char *rcpt);
/* 1 when the message may be delivered to rcpt as far as its mailbox policy
 * goes; 0 when the mailbox is pec-only and the message is not valid PEC.
 * The antivirus and spam actions apply to the message as a whole. */
PG_API int pg_scan_recipient_accepts(const pg_scan *scan, const char *rcpt);

/* The header fields pecguard adds to a delivered message, in order
 * (X-PECGuard-Class, X-PECGuard-Symbols, X-Spam-Flag, X-Spam-Score,
 * X-Spam-Status, and for valid PEC X-PECGuard-Warning when the certified
 * content raised concerns).  Values are ASCII, folded with "\n\t". */
PG_API size_t pg_scan_header_count(const pg_scan *scan);
PG_API const char *pg_scan_header(const pg_scan *scan, size_t i, const char **value);
/* With the tag-subject action: the new Subject value (the tag, then the
 * original value as received, encoded words untouched); else NULL. */
PG_API const char *pg_scan_tagged_subject(const pg_scan *scan);

/* ---- the virus notice ------------------------------------------------------ */

/* An avviso di rilevazione virus, ready to submit over SMTP. */
typedef struct pg_notice {
	char *data;     /* the signed message, CRLF line ends */
	size_t len;
	char *to;       /* RCPT TO: the sending provider's mailReceipt */
	char *from;     /* MAIL FROM and From: our posta-certificata@ address */
	char *provider; /* the sending provider's providerName, for logs */
	char *virus;    /* the virus named in the notice, for logs */
	char *ident;    /* the notice's Message-ID (without brackets) */
} pg_notice;

/* For a scan whose action is quarantine because the antivirus found a
 * virus in a valid PEC envelope: the notice the recipient's provider (us)
 * sends the sending provider, signed with the key of the settings
 * pec.notice_cert / pec.notice_key.  rcpts (may be NULL) are the
 * recipients the envelope was held for, named in the notice.
 *   PG_OK, *out a new notice (pg_notice_free), or *out NULL when no
 *     notice key is configured (the envelope is held all the same);
 *   PG_ERR_INVALID the scan is not a valid envelope with a virus;
 *   PG_ERR_CONFIG our provider or the sender's mailReceipt cannot be
 *     found in the providers' index; PG_ERR_IO signing failed;
 *   the reason in pg_scan_errmsg(). */
PG_API PG_WUR pg_status pg_scan_virus_notice(pg_scan *scan, const char *const *rcpts, size_t nrcpts,
					     pg_notice **out);
PG_API void pg_notice_free(pg_notice *n);

/* ---- parsed messages ----------------------------------------------------- */

/* The first value of a header field, unfolded and decoded (RFC 2047) to
 * UTF-8, or NULL.  Name is case-insensitive. */
PG_API const char *pg_msg_header(const pg_msg *msg, const char *name);
/* The raw bytes of the whole message as parsed.  For a nested message
 * (postacert.eml) its own bytes as transmitted inside the outer one (the
 * decoded bytes when it was transfer-encoded); NULL with *len 0 when they
 * could not be located. */
PG_API const char *pg_msg_raw(const pg_msg *msg, size_t *len);
/* MIME entities in pre-order, the message's top-level entity first.  Parts
 * of nested messages (message/rfc822) are included, with their depth. */
PG_API size_t pg_msg_part_count(const pg_msg *msg);
PG_API const pg_part *pg_msg_part(const pg_msg *msg, size_t i);

/* "text/plain" (lower case). */
PG_API const char *pg_part_content_type(const pg_part *part);
/* Decoded file name (Content-Disposition filename or Content-Type name), or NULL. */
PG_API const char *pg_part_filename(const pg_part *part);
PG_API unsigned pg_part_depth(const pg_part *part);
/* The transfer-decoded content of a leaf part (NULL for multiparts).
 * Decoded on first use; NULL with *len 0 when out of memory. */
PG_API const unsigned char *pg_part_content(const pg_part *part, size_t *len);
/* The exact bytes of the entity (headers and body) as transmitted, or NULL
 * when the raw structure could not be matched. */
PG_API const char *pg_part_raw(const pg_part *part, size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* PECGUARD_H */
