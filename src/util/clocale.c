/*
 * clocale.c - see clocale.h.
 */
#include "util/clocale.h"

#include <pthread.h>
#include <stdlib.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void make(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

locale_t pg_c_locale_enter(void)
{
	pthread_once(&once, make);
	if (c_locale == (locale_t)0)
		return (locale_t)0;
	return uselocale(c_locale);
}

void pg_c_locale_leave(locale_t previous)
{
	if (previous != (locale_t)0)
		uselocale(previous);
}

double pg_strtod_c(const char *s, char **end)
{
	pthread_once(&once, make);
	if (c_locale == (locale_t)0)
		return strtod(s, end);
	return strtod_l(s, end, c_locale);
}
