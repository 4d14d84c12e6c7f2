/*
 * clocale.h - the C locale for the library's own numbers.
 *
 * Scores and weights are written into JSON and mail headers, and read from
 * the configuration, with a decimal point.  A program that links
 * libpecguard and calls setlocale() for Italian would otherwise get
 * "score":0,50 (invalid JSON), "X-Spam-Score: 5,00", and "3.5" in the
 * configuration read as 3.  The public entry points that format or parse
 * numbers switch the calling thread to the C locale (uselocale: per
 * thread, nothing global is touched) and back.
 */
#ifndef PG_UTIL_CLOCALE_H
#define PG_UTIL_CLOCALE_H

#include <locale.h>

/* Switches this thread to the C locale; returns what to give back to
 * pg_c_locale_leave (0 when nothing was switched). */
locale_t pg_c_locale_enter(void);
void pg_c_locale_leave(locale_t previous);

/* strtod in the C locale, whatever the thread's locale is now (libconfig
 * switches a thread back to the global locale after it parses, undoing
 * pg_c_locale_enter). */
double pg_strtod_c(const char *s, char **end);

#endif
