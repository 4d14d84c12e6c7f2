/*
 * dsn.c - telling a sender that some recipients refused the message.
 *
 * A mailbox restricted to the PEC circuit refuses ordinary mail; when other
 * recipients of the same message take it, the milter removes the refusing
 * ones and the sender must learn which, as a bounce would have told them.
 * The notification is an RFC 3464 delivery status report (multipart/report)
 * with a null envelope sender (it must never bounce), submitted over SMTP to
 * the configured server: usually the local Postfix, which queues it.
 *
 * pgm_smtp_submit() is the SMTP client itself; the virus notices of
 * callbacks.c go through it too.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "milter/milter.h"
#include "util/ptime.h"

#define IO_TIMEOUT_MS 30000

struct conn {
	int fd;
	char buf[4096];
	size_t len;
};

static int wait_io(int fd, short ev)
{
	struct pollfd p = {.fd = fd, .events = ev};
	int r;
	do
		r = poll(&p, 1, IO_TIMEOUT_MS);
	while (r < 0 && errno == EINTR);
	return r > 0 ? 0 : -1;
}

static int send_all(struct conn *c, const char *d, size_t n)
{
	while (n > 0) {
		if (wait_io(c->fd, POLLOUT) != 0)
			return -1;
		ssize_t w = send(c->fd, d, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		d += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one SMTP reply (multi-line aware); returns the code or -1. */
static int reply(struct conn *c, char *text, size_t textlen)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (nl != NULL) {
			size_t ll = (size_t)(nl - c->buf) + 1;
			int code = ll >= 4 ? atoi(c->buf) : -1;
			bool last = ll >= 4 && c->buf[3] != '-';
			if (text && textlen) {
				size_t k = ll < textlen ? ll : textlen - 1;
				memcpy(text, c->buf, k);
				text[k] = '\0';
				text[strcspn(text, "\r\n")] = '\0';
			}
			memmove(c->buf, c->buf + ll, c->len - ll);
			c->len -= ll;
			if (last)
				return code;
			continue;
		}
		if (c->len == sizeof(c->buf))
			return -1;
		if (wait_io(c->fd, POLLIN) != 0)
			return -1;
		ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c->len += (size_t)r;
	}
}

static int command(struct conn *c, int want, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int command(struct conn *c, int want, char *err, size_t errlen, const char *fmt, ...)
{
	char line[1100];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2) {
		snprintf(err, errlen, "command too long");
		return -1;
	}
	memcpy(line + n, "\r\n", 3);
	if (send_all(c, line, (size_t)n + 2) != 0) {
		snprintf(err, errlen, "send failed: %s", strerror(errno));
		return -1;
	}
	char text[512];
	int code = reply(c, text, sizeof(text));
	if (code / 100 != want) {
		snprintf(err, errlen, "%.40s: %s", line, code < 0 ? "no reply" : text);
		return -1;
	}
	return 0;
}

static int connect_to(const char *hostport, char *err, size_t errlen)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	if (colon == NULL || (size_t)(colon - hostport) >= sizeof(host)) {
		snprintf(err, errlen, "dsn_smtp '%s': expected HOST:PORT", hostport);
		return -1;
	}
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int r = getaddrinfo(host, colon + 1, &hints, &res);
	if (r != 0) {
		snprintf(err, errlen, "%s: %s", hostport, gai_strerror(r));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(err, errlen, "%s: %s", hostport, strerror(errno));
	return fd;
}

/* Dot-stuffed, CRLF lines of the message body for DATA. */
static int send_data(struct conn *c, const char *msg, size_t n)
{
	size_t i = 0;
	while (i < n) {
		const char *nl = memchr(msg + i, '\n', n - i);
		size_t le = nl ? (size_t)(nl - msg) : n;
		size_t ll = le - i;
		if (ll > 0 && msg[le - 1] == '\r')
			ll--;
		if (ll > 0 && msg[i] == '.' && send_all(c, ".", 1) != 0)
			return -1;
		if (send_all(c, msg + i, ll) != 0 || send_all(c, "\r\n", 2) != 0)
			return -1;
		i = le + 1;
	}
	return send_all(c, ".\r\n", 3);
}

static void append(char **b, size_t *len, size_t *cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void append(char **b, size_t *len, size_t *cap, const char *fmt, ...)
{
	if (*b == NULL)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	while (*len + (size_t)n + 1 > *cap) {
		char *nb = realloc(*b, *cap * 2);
		if (nb == NULL) {
			free(*b);
			*b = NULL;
			return;
		}
		*b = nb;
		*cap *= 2;
	}
	va_start(ap, fmt);
	vsnprintf(*b + *len, *cap - *len, fmt, ap);
	va_end(ap);
	*len += (size_t)n;
}

/* Keeps what goes into our own header fields printable ASCII. */
static void ascii_copy(char *dst, size_t dn, const char *src)
{
	size_t k = 0;
	for (; src && *src && k + 1 < dn; src++)
		dst[k++] = ((unsigned char)*src >= 0x20 && (unsigned char)*src < 0x7f) ? *src : '?';
	dst[k] = '\0';
}

int pgm_dsn_send(const char *sender, const char *const *refused, size_t nrefused,
		 const char *queue_id, const char *subject, const char *orig_headers,
		 size_t orig_len, char *err, size_t errlen)
{
	char mta[256], qid[64], subj[200], snd[512];
	if (pgm.reporting_mta[0])
		snprintf(mta, sizeof(mta), "%s", pgm.reporting_mta);
	else if (gethostname(mta, sizeof(mta)) != 0)
		snprintf(mta, sizeof(mta), "localhost");
	ascii_copy(qid, sizeof(qid), queue_id ? queue_id : "");
	ascii_copy(subj, sizeof(subj), subject ? subject : "");
	ascii_copy(snd, sizeof(snd), sender);

	char date[64];
	time_t now = time(NULL);
	pg_time_format_rfc5322((int64_t)now, date, sizeof(date));
	char boundary[96];
	snprintf(boundary, sizeof(boundary), "pecguard-dsn-%lld-%u", (long long)now,
		 (unsigned)(uintptr_t)refused ^ (unsigned)getpid());

	size_t cap = 8192, len = 0;
	char *m = malloc(cap);
	if (m == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	append(&m, &len, &cap,
	       "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
	       "To: <%s>\r\n"
	       "Subject: Undelivered Mail Returned to Sender: mailbox accepts certified mail "
	       "(PEC) only\r\n"
	       "Date: %s\r\n"
	       "Message-ID: <%lld.%s.pecguard-dsn@%s>\r\n"
	       "Auto-Submitted: auto-replied\r\n"
	       "MIME-Version: 1.0\r\n"
	       "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	       "\tboundary=\"%s\"\r\n"
	       "\r\n"
	       "This is a MIME-encapsulated message.\r\n"
	       "\r\n"
	       "--%s\r\n"
	       "Content-Type: text/plain; charset=utf-8\r\n"
	       "Content-Transfer-Encoding: 8bit\r\n"
	       "\r\n"
	       "Il messaggio \"%s\" non e' stato consegnato ai destinatari seguenti:\r\n"
	       "le loro caselle accettano solo posta elettronica certificata (PEC).\r\n"
	       "Gli altri destinatari lo hanno ricevuto.\r\n"
	       "\r\n"
	       "Your message \"%s\" was not delivered to the recipients below: their\r\n"
	       "mailboxes accept certified mail (PEC) only. The other recipients received it.\r\n"
	       "\r\n",
	       mta, snd, date, (long long)now, qid[0] ? qid : "msg", mta, boundary, boundary, subj,
	       subj);
	for (size_t i = 0; i < nrefused; i++) {
		char r[512];
		ascii_copy(r, sizeof(r), refused[i]);
		append(&m, &len, &cap, "    <%s>\r\n", r);
	}
	append(&m, &len, &cap,
	       "\r\n--%s\r\n"
	       "Content-Type: message/delivery-status\r\n"
	       "\r\n"
	       "Reporting-MTA: dns; %s\r\n"
	       "X-Postfix-Queue-ID: %s\r\n"
	       "Arrival-Date: %s\r\n",
	       boundary, mta, qid, date);
	for (size_t i = 0; i < nrefused; i++) {
		char r[512];
		ascii_copy(r, sizeof(r), refused[i]);
		append(&m, &len, &cap,
		       "\r\n"
		       "Final-Recipient: rfc822; %s\r\n"
		       "Action: failed\r\n"
		       "Status: 5.7.1\r\n"
		       "Diagnostic-Code: smtp; 550 5.7.1 mailbox accepts certified mail (PEC) "
		       "only\r\n",
		       r);
	}
	append(&m, &len, &cap, "\r\n--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n", boundary);
	if (m != NULL && orig_headers != NULL) {
		/* the original header block, capped */
		size_t n = orig_len < 65536 ? orig_len : 65536;
		append(&m, &len, &cap, "%.*s", (int)n, orig_headers);
	}
	append(&m, &len, &cap, "\r\n--%s--\r\n", boundary);
	if (m == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}

	int rc = pgm_smtp_submit("", snd, m, len, err, errlen);
	free(m);
	return rc;
}

int pgm_smtp_submit(const char *mail_from, const char *rcpt, const char *msg, size_t len,
		    char *err, size_t errlen)
{
	char mta[256];
	if (pgm.reporting_mta[0])
		snprintf(mta, sizeof(mta), "%s", pgm.reporting_mta);
	else if (gethostname(mta, sizeof(mta)) != 0)
		snprintf(mta, sizeof(mta), "localhost");
	char from[512], to[512];
	ascii_copy(from, sizeof(from), mail_from);
	ascii_copy(to, sizeof(to), rcpt);
	int rc = -1;
	struct conn c = {.fd = connect_to(pgm.dsn_smtp, err, errlen)};
	if (c.fd < 0)
		goto out;
	char text[512];
	int code = reply(&c, text, sizeof(text));
	if (code / 100 != 2) {
		snprintf(err, errlen, "%s greets with %s", pgm.dsn_smtp,
			 code < 0 ? "nothing" : text);
		goto out;
	}
	if (command(&c, 2, err, errlen, "EHLO %s", mta) != 0 ||
	    command(&c, 2, err, errlen, "MAIL FROM:<%s>", from) != 0 ||
	    command(&c, 2, err, errlen, "RCPT TO:<%s>", to) != 0 ||
	    command(&c, 3, err, errlen, "DATA") != 0)
		goto out;
	if (send_data(&c, msg, len) != 0) {
		snprintf(err, errlen, "DATA: send failed");
		goto out;
	}
	code = reply(&c, text, sizeof(text));
	if (code / 100 != 2) {
		snprintf(err, errlen, "end of DATA: %s", code < 0 ? "no reply" : text);
		goto out;
	}
	char ignore[64];
	(void)command(&c, 2, ignore, sizeof(ignore), "QUIT");
	rc = 0;
out:
	if (c.fd >= 0)
		close(c.fd);
	return rc;
}
