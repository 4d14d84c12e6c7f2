#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pg_buf_init(pg_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->max = max;
}

void pg_buf_free(pg_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
}

void pg_buf_reset(pg_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

static pg_status buf_grow(pg_buf *b, size_t need)
{
	if (need > b->max || need > PG_BUF_UNLIMITED)
		return PG_ERR_TOO_BIG;
	if (need + 1 <= b->alloc)
		return PG_OK;
	size_t a = b->alloc ? b->alloc : 256;
	while (a < need + 1)
		a *= 2;
	char *p = realloc(b->data, a);
	if (p == NULL)
		return PG_ERR_NOMEM;
	b->data = p;
	b->alloc = a;
	return PG_OK;
}

pg_status pg_buf_append(pg_buf *b, const void *p, size_t n)
{
	if (n > PG_BUF_UNLIMITED - b->len)
		return PG_ERR_TOO_BIG;
	pg_status st = buf_grow(b, b->len + n);
	if (st != PG_OK)
		return st;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return PG_OK;
}

pg_status pg_buf_puts(pg_buf *b, const char *s)
{
	return pg_buf_append(b, s, strlen(s));
}

pg_status pg_buf_vprintf(pg_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return PG_ERR_INVALID;
	pg_status st = buf_grow(b, b->len + (size_t)n);
	if (st != PG_OK)
		return st;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return PG_OK;
}

pg_status pg_buf_printf(pg_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pg_status st = pg_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return st;
}

char *pg_buf_take(pg_buf *b)
{
	if (b->data == NULL && buf_grow(b, 0) != PG_OK)
		return NULL;
	if (b->len == 0)
		b->data[0] = '\0';
	char *p = b->data;
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	return p;
}
