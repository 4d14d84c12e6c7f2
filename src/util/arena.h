/*
 * arena.h - a memory arena per message.
 *
 * Everything a scan allocates lives in its arena and goes away at once with
 * pg_arena_free().  Objects owned by other libraries (GMime objects, OpenSSL
 * handles) register a destructor, run in reverse order of registration.
 */
#ifndef PG_UTIL_ARENA_H
#define PG_UTIL_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct pg_arena pg_arena;

/* A new arena, or NULL when out of memory. */
pg_arena *pg_arena_new(void);
/* Runs the destructors, then frees every allocation and the arena. */
void pg_arena_free(pg_arena *a);

/* Memory aligned for any type, owned by the arena; NULL when out of memory
 * (or when n would overflow). */
void *pg_arena_alloc(pg_arena *a, size_t n);
/* Same, zero-filled. */
void *pg_arena_calloc(pg_arena *a, size_t nmemb, size_t size);
/* NUL-terminated copies owned by the arena. */
char *pg_arena_strdup(pg_arena *a, const char *s);
char *pg_arena_strndup(pg_arena *a, const char *s, size_t n);
char *pg_arena_printf(pg_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *pg_arena_vprintf(pg_arena *a, const char *fmt, va_list ap);

/* Registers fn(p) to run when the arena is freed.  Returns 0, or -1 when out
 * of memory, in which case fn(p) has been run already, so that the caller
 * never leaks p. */
int pg_arena_defer(pg_arena *a, void (*fn)(void *), void *p);

/* Total bytes handed out (for memory accounting in tests). */
size_t pg_arena_used(const pg_arena *a);

#endif
