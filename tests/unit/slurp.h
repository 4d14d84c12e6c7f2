/*
 * slurp.h - a test reads a whole file into memory.
 *
 * Include after cmocka.h (slurp_or_fail fails the test).
 */
#ifndef PG_TESTS_SLURP_H
#define PG_TESTS_SLURP_H

#include <stdio.h>
#include <stdlib.h>

/* The whole file, NUL-terminated (*len does not count the NUL, and binary
 * content is kept), or NULL when it cannot be read. */
static inline char *slurp_file(const char *path, size_t *len)
{
	*len = 0;
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 65536, n = 0, r;
	char *buf = malloc(cap + 1);
	while (buf != NULL && (r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			char *nb = realloc(buf, cap * 2 + 1);
			if (nb == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (buf != NULL && ferror(f)) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf != NULL) {
		buf[n] = '\0';
		*len = n;
	}
	return buf;
}

/* The same, failing the test when the file cannot be read. */
static inline char *slurp_or_fail(const char *path, size_t *len)
{
	char *b = slurp_file(path, len);
	if (b == NULL)
		fail_msg("cannot read %s", path);
	return b;
}

#endif
