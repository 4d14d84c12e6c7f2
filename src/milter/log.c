#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "milter/milter.h"

static int use_syslog;
static int events_fd = -1;
static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;

static int facility_of(const char *name)
{
	static const struct {
		const char *n;
		int f;
	} t[] = {{"mail", LOG_MAIL},     {"daemon", LOG_DAEMON}, {"local0", LOG_LOCAL0},
		 {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},
		 {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6},
		 {"local7", LOG_LOCAL7}};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(name, t[i].n) == 0)
			return t[i].f;
	return LOG_MAIL;
}

void pgm_log_open(const char *how, const char *facility)
{
	use_syslog = strcmp(how, "syslog") == 0;
	if (use_syslog)
		openlog("pecguard-milter", LOG_PID | LOG_NDELAY, facility_of(facility));
}

void pgm_log(int prio, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(prio, fmt, ap);
	} else {
		/* One write per line: lines from threads never interleave. */
		char buf[4096];
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		struct tm tm;
		gmtime_r(&ts.tv_sec, &tm);
		size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ pecguard-milter: ", &tm);
		int m = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
		if (m < 0)
			m = 0;
		n += (size_t)m < sizeof(buf) - n - 1 ? (size_t)m : sizeof(buf) - n - 2;
		buf[n++] = '\n';
		ssize_t w = write(2, buf, n);
		(void)w;
	}
	va_end(ap);
}

int pgm_events_open(const char *path)
{
	if (path == NULL || path[0] == '\0')
		return 0;
	events_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	return events_fd < 0 ? -1 : 0;
}

void pgm_events_write(const char *line)
{
	if (events_fd < 0)
		return;
	size_t n = strlen(line);
	char *buf = malloc(n + 1);
	if (buf == NULL)
		return;
	memcpy(buf, line, n);
	buf[n] = '\n';
	/* One write per event, O_APPEND: lines stay whole across threads and
	 * processes. */
	pthread_mutex_lock(&events_lock);
	ssize_t w = write(events_fd, buf, n + 1);
	pthread_mutex_unlock(&events_lock);
	if (w < 0)
		pgm_log(LOG_ERR, "event log: %s", strerror(errno));
	free(buf);
}
