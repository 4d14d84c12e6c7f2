#include "cli/input.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where d[start, end) ends once a final blank line ("\n" or "\r\n" after
 * a line end, or alone) is dropped. */
static size_t drop_final_blank(const char *d, size_t start, size_t end)
{
	if (end > start && d[end - 1] == '\n') {
		size_t ls = end - 1;
		if (ls > start && d[ls - 1] == '\r')
			ls--;
		if (ls == start || d[ls - 1] == '\n')
			return ls;
	}
	return end;
}

/* Splits an mbox at "From " lines that follow a blank line (or start the
 * file), passing each message without its From_ line and without the
 * blank line that mbox writers put after every message, the last one's
 * included: a message reads the same wherever it is in the mbox. */
static int walk_mbox(const char *path, const char *d, size_t len, pg_input_fn fn, void *ctx)
{
	size_t idx = 0, p = 0;
	while (p < len) {
		/* p is at a From_ line: the message starts on the next line. */
		const char *nl = memchr(d + p, '\n', len - p);
		size_t start = nl ? (size_t)(nl - d) + 1 : len;
		size_t q = start, end = len;
		bool split = false;
		while (q < len) {
			const char *e = memchr(d + q, '\n', len - q);
			if (e == NULL)
				break;
			size_t next = (size_t)(e - d) + 1;
			bool blank = (next - q == 1) || (next - q == 2 && d[q] == '\r');
			if (blank && next + 5 <= len && memcmp(d + next, "From ", 5) == 0) {
				end = q; /* drop the separating blank line */
				q = next;
				split = true;
				break;
			}
			q = next;
		}
		if (!split)
			end = drop_final_blank(d, start, len);
		int r = fn(ctx, path, ++idx, d + start, end - start, NULL);
		if (r)
			return r;
		p = split ? q : len;
	}
	return 0;
}

static int walk_data(const char *path, const char *d, size_t len, pg_input_fn fn, void *ctx)
{
	if (len >= 5 && memcmp(d, "From ", 5) == 0)
		return walk_mbox(path, d, len, fn, ctx);
	return fn(ctx, path, 0, d, len, NULL);
}

static int walk_file(const char *path, pg_input_fn fn, void *ctx)
{
	char err[512];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, sizeof(err), "%s", strerror(errno));
		return fn(ctx, path, 0, NULL, 0, err);
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		snprintf(err, sizeof(err), "%s", strerror(errno));
		close(fd);
		return fn(ctx, path, 0, NULL, 0, err);
	}
	if (sb.st_size == 0) {
		close(fd);
		return walk_data(path, "", 0, fn, ctx);
	}
	size_t len = (size_t)sb.st_size;
	void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		snprintf(err, sizeof(err), "%s", strerror(errno));
		return fn(ctx, path, 0, NULL, 0, err);
	}
	madvise(m, len, MADV_SEQUENTIAL);
	int r = walk_data(path, m, len, fn, ctx);
	munmap(m, len);
	return r;
}

static int walk_stdin(size_t max, pg_input_fn fn, void *ctx)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	if (buf == NULL)
		return fn(ctx, "-", 0, NULL, 0, "out of memory");
	for (;;) {
		if (len == cap) {
			if (cap > max) /* one byte over the limit is enough to say so */
				break;
			char *nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				free(buf);
				return fn(ctx, "-", 0, NULL, 0, "out of memory");
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(0, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			char err[256];
			snprintf(err, sizeof(err), "%s", strerror(errno));
			free(buf);
			return fn(ctx, "-", 0, NULL, 0, err);
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	int r = walk_data("-", buf, len, fn, ctx);
	free(buf);
	return r;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directories being read, innermost first: symbolic links are
 * followed, so a link to one of them would read it again, forever (two
 * such links in a directory make 2^64 walks before the depth cap). */
struct ancestor {
	dev_t dev;
	ino_t ino;
	const struct ancestor *up;
};

static bool is_ancestor(const struct ancestor *up, const struct stat *sb)
{
	for (const struct ancestor *a = up; a != NULL; a = a->up)
		if (a->dev == sb->st_dev && a->ino == sb->st_ino)
			return true;
	return false;
}

#define LOOP_ERROR "directory loop: a link to a directory that contains it"

static int walk_path(const char *path, size_t max, pg_input_fn fn, void *ctx, int depth,
		     const struct ancestor *up);

static int walk_dir(const char *path, size_t max, pg_input_fn fn, void *ctx, int depth,
		    const struct ancestor *up)
{
	DIR *d = opendir(path);
	if (d == NULL) {
		char err[256];
		snprintf(err, sizeof(err), "%s", strerror(errno));
		return fn(ctx, path, 0, NULL, 0, err);
	}
	struct stat sb;
	if (fstat(dirfd(d), &sb) != 0) {
		char err[256];
		snprintf(err, sizeof(err), "%s", strerror(errno));
		closedir(d);
		return fn(ctx, path, 0, NULL, 0, err);
	}
	if (is_ancestor(up, &sb)) {
		closedir(d);
		return fn(ctx, path, 0, NULL, 0, LOOP_ERROR);
	}
	const struct ancestor self = {sb.st_dev, sb.st_ino, up};
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int r = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nv = realloc(names, cap * sizeof(*nv));
			if (nv == NULL) {
				r = fn(ctx, path, 0, NULL, 0, "out of memory");
				goto out;
			}
			names = nv;
		}
		size_t l = strlen(path) + strlen(de->d_name) + 2;
		names[n] = malloc(l);
		if (names[n] == NULL) {
			r = fn(ctx, path, 0, NULL, 0, "out of memory");
			goto out;
		}
		snprintf(names[n], l, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/",
			 de->d_name);
		n++;
	}
	if (n > 1) /* an empty directory has no array */
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n && r == 0; i++)
		r = walk_path(names[i], max, fn, ctx, depth + 1, &self);
out:
	closedir(d);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

static bool is_dir(const char *base, const char *sub)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s", base, sub);
	struct stat sb;
	return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int walk_path(const char *path, size_t max, pg_input_fn fn, void *ctx, int depth,
		     const struct ancestor *up)
{
	struct stat sb;
	if (depth > 64)
		return fn(ctx, path, 0, NULL, 0, "directories nested too deep");
	if (stat(path, &sb) != 0) {
		char err[256];
		snprintf(err, sizeof(err), "%s", strerror(errno));
		return fn(ctx, path, 0, NULL, 0, err);
	}
	if (S_ISDIR(sb.st_mode)) {
		/* A Maildir: its messages are in new/ and cur/; tmp/ holds
		 * deliveries in progress. */
		if (is_dir(path, "cur") && is_dir(path, "new") && is_dir(path, "tmp")) {
			if (is_ancestor(up, &sb))
				return fn(ctx, path, 0, NULL, 0, LOOP_ERROR);
			const struct ancestor md = {sb.st_dev, sb.st_ino, up};
			char sub[4096];
			snprintf(sub, sizeof(sub), "%s/new", path);
			int r = walk_dir(sub, max, fn, ctx, depth + 1, &md);
			if (r)
				return r;
			snprintf(sub, sizeof(sub), "%s/cur", path);
			return walk_dir(sub, max, fn, ctx, depth + 1, &md);
		}
		return walk_dir(path, max, fn, ctx, depth, up);
	}
	if (!S_ISREG(sb.st_mode))
		return fn(ctx, path, 0, NULL, 0, "not a regular file or directory");
	return walk_file(path, fn, ctx);
}

int pg_input_walk(const char *path, size_t max, pg_input_fn fn, void *ctx)
{
	if (strcmp(path, "-") == 0)
		return walk_stdin(max, fn, ctx);
	return walk_path(path, max, fn, ctx, 0, NULL);
}
