/*
 * buf.h - a growable byte buffer with a hard cap.
 *
 * Appending past the cap fails with PG_ERR_TOO_BIG and leaves the buffer as
 * it was: input never grows memory without bound.  The data is always
 * NUL-terminated (the NUL is not counted in len).
 */
#ifndef PG_UTIL_BUF_H
#define PG_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "pecguard.h"

typedef struct pg_buf {
	char *data; /* NULL until the first append */
	size_t len;
	size_t alloc;
	size_t max; /* cap on len */
} pg_buf;

#define PG_BUF_UNLIMITED ((size_t)-1 / 2)

void pg_buf_init(pg_buf *b, size_t max);
/* Frees the data; the buffer may be reused after pg_buf_init(). */
void pg_buf_free(pg_buf *b);
/* Empties the buffer, keeping its memory. */
void pg_buf_reset(pg_buf *b);
pg_status pg_buf_append(pg_buf *b, const void *p, size_t n) PG_WUR;
/* One byte: inline while the memory has room (byte-at-a-time builders call
 * it for every byte), else as pg_buf_append. */
static inline PG_WUR pg_status pg_buf_putc(pg_buf *b, char c)
{
	if (b->len + 2 <= b->alloc && b->len < b->max) {
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
		return PG_OK;
	}
	return pg_buf_append(b, &c, 1);
}
pg_status pg_buf_puts(pg_buf *b, const char *s) PG_WUR;
pg_status pg_buf_printf(pg_buf *b, const char *fmt, ...) PG_WUR
	__attribute__((format(printf, 2, 3)));
pg_status pg_buf_vprintf(pg_buf *b, const char *fmt, va_list ap) PG_WUR;
/* Gives the caller the data (malloc'd, NUL-terminated; never NULL unless
 * out of memory) and empties the buffer. */
char *pg_buf_take(pg_buf *b);

#endif
