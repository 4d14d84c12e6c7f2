/*
 * milter.h - pecguard-milter: the Postfix front end of libpecguard.
 *
 * main.c       process: options, settings, socket, privileges, signals
 * callbacks.c  the libmilter callbacks: one message, one scan, one verdict
 * dsn.c        delivery status notifications for recipients refused by
 *              their PEC-only policy, sent over SMTP with a null sender;
 *              the SMTP client (pgm_smtp_submit) they and the virus
 *              notices share
 * log.c        syslog / stderr lines and the JSON event log
 */
#ifndef PG_MILTER_MILTER_H
#define PG_MILTER_MILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "pecguard.h"

/* What the callbacks need from the process, fixed at start. */
typedef struct pgm_global {
	pg_engine *eng;
	size_t spool_threshold;
	char spool_dir[512];
	char dsn_smtp[256];
	char reporting_mta[256];
	/* Counted by the callbacks for a graceful stop: open connections,
	 * and messages between MAIL FROM and their end. */
	atomic_ulong connections;
	atomic_ulong messages;
	atomic_bool stopping; /* SIGTERM: new messages are tempfailed */
} pgm_global;

extern pgm_global pgm;

/* Logging (log.c). */
void pgm_log_open(const char *how, const char *facility);
void pgm_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int pgm_events_open(const char *path);
void pgm_events_write(const char *line);

/* A recipient refused by its mailbox policy. */
typedef struct pgm_refused {
	const char *addr;
} pgm_refused;

/* Sends the sender a delivery status notification naming the refused
 * recipients.  0 on success, -1 with a message in err. */
int pgm_dsn_send(const char *sender, const char *const *refused, size_t nrefused,
		 const char *queue_id, const char *subject, const char *orig_headers,
		 size_t orig_len, char *err, size_t errlen);

/* Submits one message to milter.dsn_smtp: MAIL FROM:<mail_from> ("" is
 * the null sender), one RCPT TO:<rcpt>, DATA msg (dot-stuffed, CRLF).
 * 0 once the server accepted it, -1 with the reason in err. */
int pgm_smtp_submit(const char *mail_from, const char *rcpt, const char *msg, size_t len,
		    char *err, size_t errlen);

/* The callbacks table (callbacks.c). */
struct smfiDesc;
extern struct smfiDesc pgm_desc;

#endif
