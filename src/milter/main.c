/*
 * pecguard-milter - the Postfix front end.
 *
 *   pecguard-milter [--config FILE] [--set NAME=VALUE]... [--check]
 *
 * Runs in the foreground (systemd's Type=simple; see etc/pecguard-milter.service).
 * Startup: read the settings, bind the socket, drop privileges to
 * milter.user, then build the engine (so that state files are created as
 * that user).  A bad configuration is reported and the process exits 78
 * (EX_CONFIG) before binding anything.
 *
 * Signals: libmilter's own signal thread treats SIGHUP as "stop".  So the
 * milter runs in a second thread, every thread but the main one blocks
 * SIGHUP, SIGTERM and SIGINT, and the main thread never does, not even in
 * its handler (SA_NODEFER): Linux gives a process-directed signal to the
 * main thread whenever it does not block it, and libmilter's thread sees
 * one only if the main thread cannot take it.  The handler writes the
 * signal's number to a pipe; the main thread reads it and acts, so that a
 * SIGHUP arriving during a reload is taken by the main thread (and
 * coalesced into one more reload), never by libmilter.  SIGHUP rebuilds
 * the engine (configuration, providers' index, rules, policy map,
 * signatures) and swaps it in; messages in flight finish with the old
 * one; on a bad reload the old one stays.  The milter.* settings (socket,
 * user, spool, DSN server, logging) are read at start only.
 * SIGTERM/SIGINT stop gracefully: new connections and messages are
 * tempfailed (the client retries), messages in progress finish (up to
 * STOP_GRACE_S), then libmilter stops and the process exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "milter/milter.h"

#define EX_USAGE_    64
#define EX_CONFIG_   78
#define EX_SOFTWARE_ 70

/* How long a stop waits for messages in progress; under systemd's
 * TimeoutStopSec (60 s in etc/pecguard-milter.service). */
#define STOP_GRACE_S 50

static const char *overrides[64];
static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
	int e = errno;
	unsigned char b = (unsigned char)sig;
	/* A full pipe already holds enough wake-ups. */
	if (write(sig_pipe[1], &b, 1) < 0) {
	}
	errno = e;
}

/* Handlers for the main thread; the pipe is non-blocking on the write end
 * so that a handler never blocks. */
static int signals_init(void)
{
	if (pipe2(sig_pipe, O_CLOEXEC) != 0 ||
	    fcntl(sig_pipe[1], F_SETFL, fcntl(sig_pipe[1], F_GETFL) | O_NONBLOCK) != 0)
		return -1;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART | SA_NODEFER;
	if (sigaction(SIGHUP, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0 ||
	    sigaction(SIGINT, &sa, NULL) != 0)
		return -1;
	return 0;
}

/* The antivirus asked questions with known answers, at start and after a
 * reload; a failure is logged as an error and the milter keeps running (a
 * clamd still loading its database answers later; an antivirus that
 * answers wrong is refused by --check, the unit's ExecStartPre). */
static void av_selfcheck(void)
{
	if (pg_engine_av_selfcheck(pgm.eng) != PG_OK)
		pgm_log(LOG_ERR, "%s", pg_engine_errmsg(pgm.eng));
}

/* Waits for signals; returns the one that stops us.  Reloads on SIGHUP,
 * one reload for any number of SIGHUPs that arrived meanwhile. */
static int signals_loop(void)
{
	for (;;) {
		unsigned char b[64];
		ssize_t n = read(sig_pipe[0], b, sizeof b);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return SIGTERM; /* cannot happen: we hold the write end */
		bool hup = false;
		for (ssize_t i = 0; i < n; i++) {
			if (b[i] == SIGTERM || b[i] == SIGINT)
				return b[i];
			hup |= b[i] == SIGHUP;
		}
		if (!hup)
			continue;
		if (pg_engine_reload(pgm.eng) == PG_OK) {
			pgm_log(LOG_INFO, "reloaded: configuration %s, antivirus %s, %zu providers",
				pg_engine_config_source(pgm.eng), pg_engine_av_backend(pgm.eng),
				pg_engine_provider_count(pgm.eng));
			av_selfcheck();
		} else
			pgm_log(LOG_ERR, "reload failed, running configuration kept: %s",
				pg_engine_errmsg(pgm.eng));
	}
}

/* Lets the messages in progress reach their end of message (Postfix gets
 * its answer), up to STOP_GRACE_S. */
static bool drain(void)
{
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	unsigned long busy = atomic_load(&pgm.messages);
	if (busy > 0)
		pgm_log(LOG_INFO, "stopping: waiting for %lu message(s) in progress", busy);
	while ((busy = atomic_load(&pgm.messages)) > 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= STOP_GRACE_S) {
			pgm_log(LOG_WARNING,
				"stopping with %lu message(s) still in progress after %d s: "
				"Postfix applies milter_default_action to them",
				busy, STOP_GRACE_S);
			return false;
		}
		struct timespec ms10 = {0, 10 * 1000 * 1000};
		nanosleep(&ms10, NULL);
	}
	return true;
}
static size_t noverrides;

static void usage(FILE *f)
{
	fprintf(f, "usage: pecguard-milter [--config FILE] [--set NAME=VALUE]... [--check]\n"
		   "\n"
		   "  --config FILE     configuration (default /etc/pecguard/pecguard.conf if "
		   "present)\n"
		   "  --set NAME=VALUE  any setting (milter.socket=inet:10025@127.0.0.1)\n"
		   "  --check           check the configuration, build the engine and exit\n");
}

static void *milter_thread(void *arg)
{
	int *rc = arg;
	*rc = smfi_main();
	/* smfi_main returns when libmilter stops (our SIGTERM, or its own). */
	kill(getpid(), SIGTERM);
	return NULL;
}

/* Binds the libmilter socket, with the mode asked for a unix socket. */
/* The file of a unix socket spec ("unix:P", "local:P" or "/P"), else NULL. */
static const char *socket_path(const char *spec)
{
	if (strncmp(spec, "unix:", 5) == 0)
		return spec + 5;
	if (strncmp(spec, "local:", 6) == 0)
		return spec + 6;
	return spec[0] == '/' ? spec : NULL;
}

static int open_socket(const char *spec, const char *mode_s)
{
	const char *path = socket_path(spec);
	if (path != NULL)
		unlink(path); /* a stale socket from a crash */
	if (smfi_setconn((char *)spec) != MI_SUCCESS) {
		fprintf(stderr, "pecguard-milter: bad milter.socket '%s'\n", spec);
		return -1;
	}
	unsigned long mode = strtoul(mode_s, NULL, 8);
	mode_t old = umask((mode_t)(~mode & 0777));
	int r = smfi_opensocket(1);
	umask(old);
	if (r != MI_SUCCESS) {
		fprintf(stderr, "pecguard-milter: cannot open %s: %s\n", spec, strerror(errno));
		return -1;
	}
	if (path != NULL && chmod(path, (mode_t)mode) != 0)
		fprintf(stderr, "pecguard-milter: chmod %s: %s\n", path, strerror(errno));
	return 0;
}

/* Becomes milter.user (and milter.group), giving it the socket first.
 * Already that user (systemd's User=): nothing to do.  sock may be "". */
static int drop_privileges(const char *user, const char *group, const char *sock)
{
	if (user[0] == '\0')
		return 0;
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		fprintf(stderr, "pecguard-milter: milter.user '%s' does not exist\n", user);
		return -1;
	}
	if (getuid() != 0 && geteuid() != 0) {
		if (getuid() == pw->pw_uid)
			return 0;
		fprintf(stderr, "pecguard-milter: cannot become %s: not started as root\n", user);
		return -1;
	}
	gid_t gid = pw->pw_gid;
	if (group[0] != '\0') {
		struct group *gr = getgrnam(group);
		if (gr == NULL) {
			fprintf(stderr, "pecguard-milter: milter.group '%s' does not exist\n",
				group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	const char *path = socket_path(sock);
	if (path != NULL && chown(path, pw->pw_uid, gid) != 0)
		fprintf(stderr, "pecguard-milter: chown %s: %s\n", path, strerror(errno));
	if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(pw->pw_uid) != 0) {
		fprintf(stderr, "pecguard-milter: cannot become %s: %s\n", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		fprintf(stderr, "pecguard-milter: privileges not dropped\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"set", required_argument, NULL, 'o'},
		{"check", no_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config = NULL;
	bool check = false;
	int o;
	while ((o = getopt_long(argc, argv, "c:o:th", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			config = optarg;
			break;
		case 'o':
			if (strchr(optarg, '=') == NULL || noverrides >= 64) {
				fprintf(stderr, "pecguard-milter: --set %s: expected NAME=VALUE\n",
					optarg);
				return EX_USAGE_;
			}
			overrides[noverrides++] = optarg;
			break;
		case 't':
			check = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE_;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE_;
	}
	if (config == NULL && access("/etc/pecguard/pecguard.conf", R_OK) == 0)
		config = "/etc/pecguard/pecguard.conf";

	char err[1024];
	pg_settings *set = NULL;
	if (pg_settings_load(config, overrides, noverrides, &set, err, sizeof(err)) != PG_OK) {
		fprintf(stderr, "pecguard-milter: %s\n", err);
		return EX_CONFIG_;
	}
	char sock[512], mode[16], user[64], group[64];
	snprintf(sock, sizeof(sock), "%s", pg_settings_str(set, "milter.socket", ""));
	snprintf(mode, sizeof(mode), "%s", pg_settings_str(set, "milter.socket_mode", "0660"));
	snprintf(user, sizeof(user), "%s", pg_settings_str(set, "milter.user", ""));
	snprintf(group, sizeof(group), "%s", pg_settings_str(set, "milter.group", ""));
	pgm.spool_threshold = (size_t)pg_settings_int(set, "milter.spool_threshold", 4 << 20);
	snprintf(pgm.spool_dir, sizeof(pgm.spool_dir), "%s",
		 pg_settings_str(set, "milter.spool_dir", "/var/spool/pecguard"));
	snprintf(pgm.dsn_smtp, sizeof(pgm.dsn_smtp), "%s",
		 pg_settings_str(set, "milter.dsn_smtp", "127.0.0.1:25"));
	snprintf(pgm.reporting_mta, sizeof(pgm.reporting_mta), "%s",
		 pg_settings_str(set, "milter.reporting_mta", ""));
	int timeout = (int)pg_settings_int(set, "milter.timeout", 300);
	char logto[32], facility[32], events[512];
	snprintf(logto, sizeof(logto), "%s", pg_settings_str(set, "milter.log", "syslog"));
	snprintf(facility, sizeof(facility), "%s",
		 pg_settings_str(set, "milter.syslog_facility", "mail"));
	snprintf(events, sizeof(events), "%s", pg_settings_str(set, "milter.events_file", ""));
	pg_settings_free(set);
	if (strcmp(logto, "syslog") != 0 && strcmp(logto, "stderr") != 0) {
		fprintf(stderr, "pecguard-milter: milter.log must be syslog or stderr\n");
		return EX_CONFIG_;
	}

	if (check) {
		/* As the milter will run: state files it creates (the LMDB
		 * store) must belong to milter.user, not to root. */
		if (drop_privileges(user, group, "") != 0)
			return EX_CONFIG_;
		pg_engine *e;
		if (pg_engine_new(&e) != PG_OK)
			return EX_SOFTWARE_;
		if (pg_engine_configure(e, config, overrides, noverrides) != PG_OK) {
			fprintf(stderr, "pecguard-milter: %s\n", pg_engine_errmsg(e));
			pg_engine_free(e);
			return EX_CONFIG_;
		}
		/* A wrong answer (EICAR missed, unscanned content passed as
		 * clean) fails the check; no answer (clamd still loading at
		 * boot) is only a warning: the milter tempfails until it does. */
		pg_status av = pg_engine_av_selfcheck(e);
		if (av == PG_ERR_CONFIG) {
			fprintf(stderr, "pecguard-milter: %s\n", pg_engine_errmsg(e));
			pg_engine_free(e);
			return EX_CONFIG_;
		}
		if (av != PG_OK)
			fprintf(stderr, "pecguard-milter: warning: %s\n", pg_engine_errmsg(e));
		printf("configuration ok: %s; antivirus %s; %zu providers\n",
		       pg_engine_config_source(e), pg_engine_av_backend(e),
		       pg_engine_provider_count(e));
		pg_engine_free(e);
		return 0;
	}

	/* Signals are the main thread's: handlers first, then blocked while
	 * the other threads are created (they inherit the mask), then
	 * unblocked here only. */
	if (signals_init() != 0) {
		fprintf(stderr, "pecguard-milter: signal handlers: %s\n", strerror(errno));
		return EX_SOFTWARE_;
	}
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* libmilter opens its socket only for a registered filter. */
	if (smfi_register(pgm_desc) != MI_SUCCESS) {
		fprintf(stderr, "pecguard-milter: smfi_register failed\n");
		return EX_SOFTWARE_;
	}
	if (open_socket(sock, mode) != 0)
		return EX_CONFIG_;
	if (drop_privileges(user, group, sock) != 0)
		return EX_CONFIG_;
	pgm_log_open(logto, facility);
	if (pgm_events_open(events) != 0) {
		fprintf(stderr, "pecguard-milter: events file %s: %s\n", events, strerror(errno));
		return EX_CONFIG_;
	}
	if (pg_engine_new(&pgm.eng) != PG_OK)
		return EX_SOFTWARE_;
	if (pg_engine_configure(pgm.eng, config, overrides, noverrides) != PG_OK) {
		fprintf(stderr, "pecguard-milter: %s\n", pg_engine_errmsg(pgm.eng));
		pgm_log(LOG_ERR, "bad configuration: %s", pg_engine_errmsg(pgm.eng));
		return EX_CONFIG_;
	}
	av_selfcheck();
	smfi_settimeout(timeout);
	pgm_log(LOG_INFO, "started on %s (uid %d): configuration %s, antivirus %s, %zu providers",
		sock, (int)getuid(), pg_engine_config_source(pgm.eng),
		pg_engine_av_backend(pgm.eng), pg_engine_provider_count(pgm.eng));

	int milter_rc = 0;
	pthread_t th;
	if (pthread_create(&th, NULL, milter_thread, &milter_rc) != 0) {
		fprintf(stderr, "pecguard-milter: cannot start\n");
		return EX_SOFTWARE_;
	}
	pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
	int sig = signals_loop();
	pgm_log(LOG_INFO, "stopping on signal %d", sig);
	/* First the messages in progress finish, with libmilter still
	 * serving their sessions (once stopped, it answers no more of them);
	 * meanwhile new sessions and messages are tempfailed. */
	atomic_store(&pgm.stopping, true);
	bool drained = drain();
	smfi_stop();
	pthread_join(th, NULL);
	/* Sessions whose SMTP client is leaving close now (up to 5 s); an
	 * idle one left open ends with the process.  No session can use the
	 * engine any more: the drain saw no message in progress after the
	 * stop flag was set, and a message started later sees the flag first
	 * (pg_envfrom).  So it is freed in every case; the libraries' own
	 * memory (libclamav's pools) is then released before exit, as a leak
	 * checker expects. */
	for (int i = 0; i < 500 && atomic_load(&pgm.connections) > 0; i++) {
		struct timespec ms10 = {0, 10 * 1000 * 1000};
		nanosleep(&ms10, NULL);
	}
	if (atomic_load(&pgm.connections) > 0)
		pgm_log(LOG_INFO, "stopping with %lu idle connection(s) open",
			atomic_load(&pgm.connections));
	if (drained) /* else a scan may still be running: exit with it */
		pg_engine_free(pgm.eng);
	pgm_log(LOG_INFO, "stopped");
	return milter_rc == MI_SUCCESS ? 0 : EX_SOFTWARE_;
}
