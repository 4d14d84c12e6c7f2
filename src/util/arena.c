#include "util/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK 16384
#define ARENA_ALIGN 16

struct chunk {
	struct chunk *next;
	size_t size;
	size_t used;
	_Alignas(ARENA_ALIGN) unsigned char data[];
};

struct deferred {
	struct deferred *next;
	void (*fn)(void *);
	void *p;
};

struct pg_arena {
	struct chunk *head;
	struct deferred *defers;
	size_t total;
};

pg_arena *pg_arena_new(void)
{
	return calloc(1, sizeof(pg_arena));
}

void pg_arena_free(pg_arena *a)
{
	if (a == NULL)
		return;
	/* Destructors first (newest first): they may still read arena memory. */
	while (a->defers != NULL) {
		struct deferred *d = a->defers;
		a->defers = d->next;
		d->fn(d->p);
	}
	while (a->head != NULL) {
		struct chunk *c = a->head;
		a->head = c->next;
		free(c);
	}
	free(a);
}

void *pg_arena_alloc(pg_arena *a, size_t n)
{
	if (n > SIZE_MAX - ARENA_ALIGN - sizeof(struct chunk))
		return NULL;
	n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (n == 0)
		n = ARENA_ALIGN;
	struct chunk *c = a->head;
	if (c == NULL || c->size - c->used < n) {
		/* Large requests get a chunk of their own, placed behind the
		 * current one so the current chunk's free space is not lost. */
		size_t size = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;
		struct chunk *nc = malloc(sizeof(*nc) + size);
		if (nc == NULL)
			return NULL;
		nc->size = size;
		nc->used = 0;
		if (c != NULL && size == n) {
			nc->next = c->next;
			c->next = nc;
		} else {
			nc->next = c;
			a->head = nc;
		}
		c = nc;
	}
	void *p = c->data + c->used;
	c->used += n;
	a->total += n;
	return p;
}

void *pg_arena_calloc(pg_arena *a, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size)
		return NULL;
	void *p = pg_arena_alloc(a, nmemb * size);
	if (p != NULL)
		memset(p, 0, nmemb * size);
	return p;
}

char *pg_arena_strndup(pg_arena *a, const char *s, size_t n)
{
	char *p = pg_arena_alloc(a, n + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *pg_arena_strdup(pg_arena *a, const char *s)
{
	return pg_arena_strndup(a, s, strlen(s));
}

char *pg_arena_vprintf(pg_arena *a, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return NULL;
	char *p = pg_arena_alloc(a, (size_t)n + 1);
	if (p == NULL)
		return NULL;
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *pg_arena_printf(pg_arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = pg_arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

int pg_arena_defer(pg_arena *a, void (*fn)(void *), void *p)
{
	struct deferred *d = pg_arena_alloc(a, sizeof(*d));
	if (d == NULL) {
		fn(p);
		return -1;
	}
	d->fn = fn;
	d->p = p;
	d->next = a->defers;
	a->defers = d;
	return 0;
}

size_t pg_arena_used(const pg_arena *a)
{
	return a->total;
}
