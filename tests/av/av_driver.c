/*
 * av_driver.c - scans files with one pg_av backend, for check_clamd.py.
 *
 *   av_driver [OPTIONS] SPEC FILE...
 *     --db DIR            signature directory (backend "clamav")
 *     --connect-ms N      pg_av_limits.connect_timeout_ms
 *     --io-ms N           pg_av_limits.io_timeout_ms
 *     --max-scan-size N   pg_av_limits.max_scan_size
 *     --threads N         scan the files from N threads at once
 *     --sync N            after the N-th result (one thread only), print
 *                         "SYNC" and wait for a line on stdin: the caller
 *                         changes the world (kills clamd) at a known point
 *     --reload            call pg_av_reload first, print "RELOAD ok|error TEXT"
 *
 * Prints one line per file, flushed at once:
 *     PATH<TAB>clean | infected NAME | error TEXT
 * Exit status: 0 when every scan returned PG_OK (whatever the verdicts),
 * 2 on a bad spec (the message on stderr), 1 on other failures.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan/av.h"

typedef struct driver {
	pg_av *av;
	char **files;
	int nfiles;
	atomic_int next;
	long sync_after;
	pthread_mutex_t out_lock;
	atomic_int failures;
} driver;

static int read_file(const char *path, unsigned char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	size_t cap = 65536, n = 0;
	unsigned char *b = malloc(cap);
	size_t r;
	while (b != NULL && (r = fread(b + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			unsigned char *nb = realloc(b, cap * 2);
			if (nb == NULL) {
				free(b);
				b = NULL;
				break;
			}
			b = nb;
			cap *= 2;
		}
	}
	int bad = ferror(f);
	fclose(f);
	if (b == NULL || bad) {
		free(b);
		return -1;
	}
	*data = b;
	*len = n;
	return 0;
}

static void scan_one(driver *d, const char *path)
{
	unsigned char *data = NULL;
	size_t len = 0;
	char line[1024];
	if (read_file(path, &data, &len) != 0) {
		snprintf(line, sizeof line, "%s\terror cannot read the file", path);
		atomic_fetch_add(&d->failures, 1);
	} else {
		pg_av_result r;
		pg_status st = pg_av_scan(d->av, data, len, path, &r);
		if (st != PG_OK) {
			snprintf(line, sizeof line, "%s\terror status %d", path, (int)st);
			atomic_fetch_add(&d->failures, 1);
		} else if (r.verdict == PG_AV_CLEAN) {
			snprintf(line, sizeof line, "%s\tclean", path);
		} else if (r.verdict == PG_AV_INFECTED) {
			snprintf(line, sizeof line, "%s\tinfected %s", path, r.virus);
		} else {
			snprintf(line, sizeof line, "%s\terror %s", path, r.error);
		}
	}
	free(data);
	pthread_mutex_lock(&d->out_lock);
	fprintf(stdout, "%s\n", line);
	fflush(stdout);
	pthread_mutex_unlock(&d->out_lock);
}

static void *worker(void *arg)
{
	driver *d = arg;
	int i;
	while ((i = atomic_fetch_add(&d->next, 1)) < d->nfiles) {
		scan_one(d, d->files[i]);
		if (d->sync_after > 0 && i + 1 == d->sync_after) {
			char buf[64];
			fprintf(stdout, "SYNC\n");
			fflush(stdout);
			if (fgets(buf, sizeof buf, stdin) == NULL)
				return NULL;
		}
	}
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: av_driver [--db DIR] [--connect-ms N] [--io-ms N] "
			"[--max-scan-size N] [--threads N] [--sync N] [--reload] SPEC FILE...\n");
	exit(64);
}

int main(int argc, char **argv)
{
	const char *db = NULL;
	pg_av_limits lim = {0};
	long threads = 1;
	int reload = 0;
	driver d = {.sync_after = 0};
	int i = 1;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *o = argv[i];
		if (strcmp(o, "--reload") == 0) {
			reload = 1;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		if (strcmp(o, "--db") == 0)
			db = v;
		else if (strcmp(o, "--connect-ms") == 0)
			lim.connect_timeout_ms = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(o, "--io-ms") == 0)
			lim.io_timeout_ms = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(o, "--max-scan-size") == 0)
			lim.max_scan_size = strtoull(v, NULL, 10);
		else if (strcmp(o, "--threads") == 0)
			threads = strtol(v, NULL, 10);
		else if (strcmp(o, "--sync") == 0)
			d.sync_after = strtol(v, NULL, 10);
		else
			usage();
	}
	if (i >= argc || threads < 1 || threads > 64 || (d.sync_after > 0 && threads != 1))
		usage();
	const char *spec = argv[i++];
	d.files = argv + i;
	d.nfiles = argc - i;
	atomic_init(&d.next, 0);
	atomic_init(&d.failures, 0);
	pthread_mutex_init(&d.out_lock, NULL);

	char err[512];
	pg_status st = pg_av_open(spec, db, &lim, &d.av, err, sizeof err);
	if (st != PG_OK) {
		fprintf(stderr, "av_driver: %s: %s\n", pg_status_name(st), err);
		return 2;
	}
	if (reload) {
		st = pg_av_reload(d.av, err, sizeof err);
		printf("RELOAD %s%s\n", st == PG_OK ? "ok" : "error ", st == PG_OK ? "" : err);
		fflush(stdout);
	}

	pthread_t tid[64];
	for (long t = 0; t < threads; t++)
		if (pthread_create(&tid[t], NULL, worker, &d) != 0) {
			fprintf(stderr, "av_driver: pthread_create failed\n");
			return 1;
		}
	for (long t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);
	pg_av_free(d.av);
	pthread_mutex_destroy(&d.out_lock);
	return atomic_load(&d.failures) == 0 ? 0 : 1;
}
