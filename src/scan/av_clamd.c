/*
 * av_clamd.c - the clamd backend: zINSTREAM over a unix or TCP socket.
 *
 * One fresh connection per scan: clamd closes idle sessions on its own
 * schedule, and a pooled connection that died while idle would need the
 * same retry logic anyway; a unix or loopback connect costs microseconds
 * next to a scan.
 *
 * Every step has a deadline (connect_timeout_ms for the connect,
 * io_timeout_ms for each send and for the wait for the verdict), all I/O
 * is non-blocking with poll(), and no send can raise SIGPIPE in the host
 * process (MSG_NOSIGNAL, or SO_NOSIGPIPE where that is the spelling).
 *
 * Failover: a scan tries the servers in order starting from a rotating
 * index, so that load spreads.  Only a verdict ("OK", "<name> FOUND")
 * ends the round; a server that cannot be reached, times out, drops the
 * connection or answers anything else ("... ERROR": out of memory, its
 * StreamMaxLength, ...; or a reply that is not clamd's) is skipped, since
 * the next one may be configured or loaded differently.  When none gives
 * a verdict the result is PG_AV_ERROR naming each server and its failure.
 */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "scan/av_internal.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* BSDs: SO_NOSIGPIPE is set on the socket instead */
#endif

/* zINSTREAM chunk: big enough to keep syscalls few, small enough that a
 * clamd with a small StreamMaxLength sees its limit crossed by one chunk,
 * not by a whole message. */
#define CLAMD_CHUNK (64u * 1024)
/* Replies are one line: "stream: <name> FOUND", an error text... */
#define CLAMD_REPLY_MAX 1024
/* Room for "label: why; " of every server in a failure message. */
#define CLAMD_WHY_MAX 1024

typedef struct clamd_server {
	char *label;           /* as written in the spec, for messages */
	struct sockaddr_un un; /* when is_unix */
	struct addrinfo *ai;   /* TCP: every address of the host, resolved at open */
	int is_unix;
} clamd_server;

typedef struct clamd_av {
	clamd_server *servers;
	size_t nservers;
	atomic_uint next; /* where the next scan starts trying: spreads load */
	pg_av_limits lim;
	size_t chunk;
} clamd_av;

/* ---- sockets ------------------------------------------------------------ */

static void why_set(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void why_set(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* poll() one fd until an event or the deadline (ms on CLOCK_MONOTONIC),
 * restarting after signals.  Returns the revents, 0 on timeout, -1 on
 * error (errno set). */
static int poll_until(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left < 0)
			left = 0;
		struct pollfd pfd = {.fd = fd, .events = events};
		int r = poll(&pfd, 1, (int)(left > INT32_MAX ? INT32_MAX : left));
		if (r > 0)
			return pfd.revents;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/* A connected non-blocking socket to one address, or -1 with why. */
static int connect_addr(int family, const struct sockaddr *sa, socklen_t salen, unsigned timeout_ms,
			char *why, size_t whylen)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		why_set(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
#ifdef SO_NOSIGPIPE
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		if (connect(fd, sa, salen) == 0)
			return fd;
		if (errno == EINPROGRESS || errno == EINTR)
			break;
		/* A unix socket whose listen queue is full says EAGAIN
		 * instead of waiting: retry briefly within the deadline. */
		if (errno == EAGAIN && family == AF_UNIX) {
			if (now_ms() >= deadline) {
				why_set(why, whylen,
					"connect: listen queue full (server busy) for %u ms",
					timeout_ms);
				close(fd);
				return -1;
			}
			struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000000};
			nanosleep(&ts, NULL);
			continue;
		}
		why_set(why, whylen, "connect: %s", strerror(errno));
		close(fd);
		return -1;
	}
	int ev = poll_until(fd, POLLOUT, deadline);
	if (ev == 0) {
		why_set(why, whylen, "connect: timed out after %u ms", timeout_ms);
		close(fd);
		return -1;
	}
	if (ev < 0) {
		why_set(why, whylen, "connect: poll: %s", strerror(errno));
		close(fd);
		return -1;
	}
	int soerr = 0;
	socklen_t len = sizeof soerr;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
		soerr = errno;
	if (soerr != 0) {
		why_set(why, whylen, "connect: %s", strerror(soerr));
		close(fd);
		return -1;
	}
	return fd;
}

/* A connection to a server, or -1 with why.  A host name may have several
 * addresses ("localhost": ::1 and 127.0.0.1): they share one
 * connect_timeout_ms, so that a server costs at most that much. */
static int server_connect(const clamd_server *s, unsigned timeout_ms, char *why, size_t whylen)
{
	if (s->is_unix)
		return connect_addr(AF_UNIX, (const struct sockaddr *)&s->un, sizeof s->un,
				    timeout_ms, why, whylen);
	int64_t deadline = now_ms() + timeout_ms;
	int fd = -1;
	for (const struct addrinfo *ai = s->ai; ai != NULL && fd < 0; ai = ai->ai_next) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			why_set(why, whylen, "connect: timed out after %u ms", timeout_ms);
			break;
		}
		fd = connect_addr(ai->ai_family, ai->ai_addr, ai->ai_addrlen, (unsigned)left, why,
				  whylen);
	}
	return fd;
}

/* Outcome of sending: everything sent, the server answered early (it
 * refused the rest; the answer is waiting to be read), the server stopped
 * reading for too long, or the connection failed. */
enum send_result { SEND_OK, SEND_REPLIED, SEND_TIMEOUT, SEND_FAILED };

/* Sends [p, p+n), each wait bounded by timeout_ms.  Watching for input
 * while sending catches clamd's early "INSTREAM size limit exceeded"
 * before it closes and our next send only sees a reset. */
static enum send_result send_all(int fd, const void *p, size_t n, unsigned timeout_ms, char *why,
				 size_t whylen)
{
	const unsigned char *b = p;
	while (n > 0) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w > 0) {
			b += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			/* EPIPE/ECONNRESET: the server may still have left
			 * a reply saying why; the caller tries to read it. */
			why_set(why, whylen, "send: %s", strerror(errno));
			return SEND_FAILED;
		}
		int ev = poll_until(fd, POLLOUT | POLLIN, now_ms() + timeout_ms);
		if (ev == 0) {
			why_set(why, whylen, "send: timed out after %u ms", timeout_ms);
			return SEND_TIMEOUT;
		}
		if (ev < 0) {
			why_set(why, whylen, "send: poll: %s", strerror(errno));
			return SEND_FAILED;
		}
		if (ev & POLLIN)
			return SEND_REPLIED;
		/* POLLOUT, POLLERR or POLLHUP: the next send() tells which. */
	}
	return SEND_OK;
}

/* Reads a NUL-terminated reply (clamd's "z" commands) into buf; a reply
 * cut by EOF is accepted as it is, with the terminator added.  Returns 0,
 * or -1 with why (nothing received). */
static int read_reply(int fd, char *buf, size_t size, unsigned timeout_ms, char *why, size_t whylen)
{
	size_t len = 0;
	while (len + 1 < size) {
		ssize_t r = recv(fd, buf + len, size - 1 - len, 0);
		if (r > 0) {
			len += (size_t)r;
			if (memchr(buf + len - (size_t)r, '\0', (size_t)r) != NULL)
				break;
			continue;
		}
		if (r == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			if (len > 0)
				break;
			why_set(why, whylen, "receive: %s", strerror(errno));
			return -1;
		}
		int ev = poll_until(fd, POLLIN, now_ms() + timeout_ms);
		if (ev == 0) {
			why_set(why, whylen, "no reply within %u ms", timeout_ms);
			return -1;
		}
		if (ev < 0) {
			why_set(why, whylen, "receive: poll: %s", strerror(errno));
			return -1;
		}
	}
	buf[len] = '\0';
	if (len == 0) {
		why_set(why, whylen, "connection closed without a reply");
		return -1;
	}
	/* Drop the terminator and any trailing blanks: "stream: OK\0" or,
	 * from some versions and for some commands, "...\n". */
	len = strlen(buf);
	while (len > 0 && isspace((unsigned char)buf[len - 1]))
		buf[--len] = '\0';
	return 0;
}

/* ---- the verdict -------------------------------------------------------- */

static int ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);
	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* Turns an INSTREAM reply into a result.  Returns 1 for a verdict ("OK",
 * "<name> FOUND"), 0 for anything else, with why: an "... ERROR" or a
 * reply that is not clamd's at all (a proxy, another service on the
 * port).  Either way this server did not scan the content; another may. */
static int reply_parse(const char *reply, pg_av_result *out, char *why, size_t whylen)
{
	/* Only the first line: a reply from something that is not clamd
	 * may be long and multi-line. */
	size_t len = strcspn(reply, "\r\n");
	if (len >= 6 && (memcmp(reply + len - 6, " ERROR", 6) == 0 ||
			 memcmp(reply + len - 6, ":ERROR", 6) == 0)) {
		why_set(why, whylen, "%s%.*s",
			strstr(reply, "size limit exceeded") != NULL
				? "stream over the server's StreamMaxLength: "
				: "",
			(int)len, reply);
		return 0;
	}
	/* "stream: " names the object; tolerate a missing blank. */
	const char *p = reply;
	if (strncmp(p, "stream:", 7) == 0) {
		p += 7;
		while (*p == ' ')
			p++;
	}
	size_t plen = strcspn(p, "\r\n");
	if (plen == 2 && memcmp(p, "OK", 2) == 0 && p[2] == '\0') {
		pg_av_result_clean(out);
		return 1;
	}
	if (p[plen] == '\0' && ends_with(p, plen, " FOUND")) {
		size_t n = plen - strlen(" FOUND");
		while (n > 0 && p[n - 1] == ' ')
			n--;
		char name[sizeof out->virus];
		if (n >= sizeof name)
			n = sizeof name - 1;
		memcpy(name, p, n);
		name[n] = '\0';
		pg_av_result_found(out, name);
		return 1;
	}
	why_set(why, whylen, "unexpected reply: %.*s", (int)(len > 120 ? 120 : len), reply);
	return 0;
}

/* One zINSTREAM exchange with one server.  Returns 1 when the server
 * gave a verdict (out is set), 0 when it did not (why says how; the
 * caller tries the next server). */
static int server_scan(const clamd_av *av, const clamd_server *s, const unsigned char *data,
		       size_t len, pg_av_result *out, char *why, size_t whylen)
{
	int fd = server_connect(s, av->lim.connect_timeout_ms, why, whylen);
	if (fd < 0)
		return 0;
	unsigned tmo = av->lim.io_timeout_ms;
	static const char cmd[] = "zINSTREAM"; /* sent with its NUL */
	enum send_result sr = send_all(fd, cmd, sizeof cmd, tmo, why, whylen);
	size_t off = 0;
	while (sr == SEND_OK) {
		size_t n = len - off < av->chunk ? len - off : av->chunk;
		unsigned char hdr[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
					(unsigned char)(n >> 8), (unsigned char)n};
		sr = send_all(fd, hdr, sizeof hdr, tmo, why, whylen);
		if (n == 0 || sr != SEND_OK)
			break; /* the zero-length chunk ends the stream */
		sr = send_all(fd, data + off, n, tmo, why, whylen);
		off += n;
	}
	if (sr == SEND_TIMEOUT) {
		/* A server that stopped reading is not going to answer: do
		 * not wait another io_timeout for it. */
		close(fd);
		return 0;
	}
	char reply[CLAMD_REPLY_MAX];
	char rwhy[256];
	int got = read_reply(fd, reply, sizeof reply, tmo, rwhy, sizeof rwhy);
	close(fd);
	if (got == 0) {
		/* Even after a failed send: clamd says why it stopped
		 * reading ("INSTREAM size limit exceeded. ERROR"). */
		return reply_parse(reply, out, why, whylen);
	}
	if (sr == SEND_OK || sr == SEND_REPLIED)
		why_set(why, whylen, "%s", rwhy);
	return 0;
}

/* ---- backend ops ---------------------------------------------------------- */

/* Appends "label: why" to a "; "-separated list (truncating quietly). */
static void why_append(char *all, size_t size, const char *label, const char *why)
{
	size_t used = strlen(all);
	if (used + 1 >= size)
		return;
	snprintf(all + used, size - used, "%s%s: %s", used > 0 ? "; " : "", label, why);
}

static pg_status clamd_scan(void *impl, const void *data, size_t len, const char *name,
			    pg_av_result *out)
{
	(void)name; /* clamd names every INSTREAM object "stream" */
	clamd_av *av = impl;
	/* The limits hold on the stream: content over them would be cut by
	 * clamd (StreamMaxLength) or not scanned (MaxFileSize) - either way
	 * not fully scanned, so never sent and never clean. */
	if (len > av->lim.max_scan_size || len > av->lim.max_file_size) {
		pg_av_result_error(
			out,
			"limits exceeded: content not fully scanned: %zu bytes over the "
			"%s limit (%llu)",
			len, len > av->lim.max_file_size ? "max file size" : "max scan size",
			(unsigned long long)(len > av->lim.max_file_size ? av->lim.max_file_size
									 : av->lim.max_scan_size));
		return PG_OK;
	}
	char all[CLAMD_WHY_MAX] = "";
	unsigned start = atomic_fetch_add_explicit(&av->next, 1, memory_order_relaxed);
	for (size_t i = 0; i < av->nservers; i++) {
		const clamd_server *s = &av->servers[(start + i) % av->nservers];
		char why[256] = "";
		if (server_scan(av, s, data, len, out, why, sizeof why))
			return PG_OK;
		why_append(all, sizeof all, s->label, why);
	}
	pg_av_result_error(out, "clamd: %s%s", av->nservers > 1 ? "all servers failed: " : "", all);
	return PG_OK;
}

/* Asks every server to reload its database; all are asked even when one
 * fails, so that one dead server does not keep the others on old
 * signatures. */
static pg_status clamd_reload(void *impl, char *err, size_t errlen)
{
	clamd_av *av = impl;
	char all[CLAMD_WHY_MAX] = "";
	for (size_t i = 0; i < av->nservers; i++) {
		const clamd_server *s = &av->servers[i];
		char why[256] = "";
		int fd = server_connect(s, av->lim.connect_timeout_ms, why, sizeof why);
		if (fd >= 0) {
			static const char cmd[] = "zRELOAD";
			char reply[CLAMD_REPLY_MAX];
			enum send_result sr = send_all(fd, cmd, sizeof cmd, av->lim.io_timeout_ms,
						       why, sizeof why);
			if ((sr == SEND_OK || sr == SEND_REPLIED) &&
			    read_reply(fd, reply, sizeof reply, av->lim.io_timeout_ms, why,
				       sizeof why) == 0 &&
			    strcmp(reply, "RELOADING") != 0)
				why_set(why, sizeof why, "unexpected reply to RELOAD: %s", reply);
			close(fd);
		}
		if (why[0] != '\0')
			why_append(all, sizeof all, s->label, why);
	}
	if (all[0] != '\0') {
		pg_av_errf(err, errlen, "clamd reload: %s", all);
		return PG_ERR_IO;
	}
	return PG_OK;
}

static unsigned clamd_signatures(const void *impl)
{
	(void)impl; /* clamd does not say over zINSTREAM */
	return 0;
}

static void clamd_free(void *impl)
{
	clamd_av *av = impl;
	for (size_t i = 0; i < av->nservers; i++) {
		free(av->servers[i].label);
		if (av->servers[i].ai != NULL)
			freeaddrinfo(av->servers[i].ai);
	}
	free(av->servers);
	free(av);
}

static const pg_av_ops clamd_ops = {
	.scan = clamd_scan,
	.reload = clamd_reload,
	.signatures = clamd_signatures,
	.free = clamd_free,
};

/* ---- the spec ------------------------------------------------------------- */

/* Parses one server: "/abs/path.sock", "host:port", "[v6addr]:port". */
static pg_status server_parse(const char *item, size_t n, clamd_server *s, char *err, size_t errlen)
{
	s->label = strndup(item, n);
	if (s->label == NULL) {
		pg_av_errf(err, errlen, "out of memory");
		return PG_ERR_NOMEM;
	}
	const char *label = s->label;
	if (label[0] == '/') {
		if (n >= sizeof s->un.sun_path) {
			pg_av_errf(err, errlen, "clamd: socket path too long (max %zu bytes): %s",
				   sizeof s->un.sun_path - 1, label);
			return PG_ERR_CONFIG;
		}
		s->is_unix = 1;
		s->un.sun_family = AF_UNIX;
		memcpy(s->un.sun_path, label, n + 1);
		return PG_OK;
	}

	char host[256];
	const char *port;
	int numeric = 0;
	if (label[0] == '[') {
		const char *close_br = strchr(label, ']');
		if (close_br == NULL || close_br[1] != ':') {
			pg_av_errf(err, errlen,
				   "clamd: bad server \"%s\" (expected [ADDRESS]:PORT)", label);
			return PG_ERR_CONFIG;
		}
		size_t hl = (size_t)(close_br - label - 1);
		if (hl == 0 || hl >= sizeof host) {
			pg_av_errf(err, errlen, "clamd: bad address in \"%s\"", label);
			return PG_ERR_CONFIG;
		}
		memcpy(host, label + 1, hl);
		host[hl] = '\0';
		port = close_br + 2;
		numeric = 1; /* brackets are for literal addresses only */
	} else {
		const char *colon = strrchr(label, ':');
		if (colon == NULL) {
			pg_av_errf(err, errlen,
				   "clamd: bad server \"%s\" (expected an absolute socket path or "
				   "HOST:PORT)",
				   label);
			return PG_ERR_CONFIG;
		}
		if (memchr(label, ':', (size_t)(colon - label)) != NULL) {
			pg_av_errf(
				err, errlen,
				"clamd: bad server \"%s\" (write IPv6 addresses as [ADDRESS]:PORT)",
				label);
			return PG_ERR_CONFIG;
		}
		size_t hl = (size_t)(colon - label);
		if (hl == 0 || hl >= sizeof host) {
			pg_av_errf(err, errlen, "clamd: bad host in \"%s\"", label);
			return PG_ERR_CONFIG;
		}
		memcpy(host, label, hl);
		host[hl] = '\0';
		port = colon + 1;
	}
	unsigned long pn = 0;
	size_t pdigits = 0;
	for (const char *q = port; *q != '\0'; q++, pdigits++) {
		if (*q < '0' || *q > '9' || pdigits >= 5) {
			pdigits = 0;
			break;
		}
		pn = pn * 10 + (unsigned long)(*q - '0');
	}
	if (pdigits == 0 || pn == 0 || pn > 65535) {
		pg_av_errf(err, errlen, "clamd: bad port in \"%s\"", label);
		return PG_ERR_CONFIG;
	}
	/* Resolved once, here: a name that does not resolve is a
	 * configuration error at start, not a temporary failure of every
	 * message.  No AI_ADDRCONFIG: it would hide ::1 on a host without
	 * a global IPv6 address. */
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV | (numeric ? AI_NUMERICHOST : 0)};
	int rc = getaddrinfo(host, port, &hints, &s->ai);
	if (rc != 0) {
		s->ai = NULL;
		pg_av_errf(err, errlen, "clamd: cannot resolve \"%s\": %s", label,
			   gai_strerror(rc));
		return rc == EAI_MEMORY ? PG_ERR_NOMEM : PG_ERR_CONFIG;
	}
	return PG_OK;
}

pg_status pg_av_clamd_open(const char *servers, const pg_av_limits *lim, const pg_av_ops **ops,
			   void **impl, char *err, size_t errlen)
{
	*ops = &clamd_ops;
	*impl = NULL;
	clamd_av *av = calloc(1, sizeof *av);
	if (av == NULL) {
		pg_av_errf(err, errlen, "out of memory");
		return PG_ERR_NOMEM;
	}
	av->lim = *lim;
	/* Never a chunk over the stream limit we know of, so that one chunk
	 * cannot carry the stream past it unnoticed. */
	av->chunk = lim->max_scan_size < CLAMD_CHUNK ? (size_t)lim->max_scan_size : CLAMD_CHUNK;
	atomic_init(&av->next, 0);

	size_t cap = 1;
	for (const char *p = servers; *p != '\0'; p++)
		cap += *p == ',';
	av->servers = calloc(cap, sizeof *av->servers);
	if (av->servers == NULL) {
		free(av);
		pg_av_errf(err, errlen, "out of memory");
		return PG_ERR_NOMEM;
	}

	pg_status st = PG_OK;
	const char *p = servers;
	for (;;) {
		const char *end = strchr(p, ',');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		/* Blanks around items are allowed: "a.sock, b:3310". */
		while (n > 0 && isspace((unsigned char)*p)) {
			p++;
			n--;
		}
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			n--;
		if (n == 0) {
			pg_av_errf(err, errlen, "clamd: empty server in \"clamd:%s\"", servers);
			st = PG_ERR_CONFIG;
			break;
		}
		st = server_parse(p, n, &av->servers[av->nservers++], err, errlen);
		if (st != PG_OK || end == NULL)
			break;
		p = end + 1;
	}
	if (st != PG_OK) {
		clamd_free(av);
		return st;
	}
	*impl = av;
	return PG_OK;
}
