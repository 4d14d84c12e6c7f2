#include "util/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"

pg_status pg_json_strn(pg_buf *b, const char *s, size_t n)
{
	if (s == NULL)
		return pg_buf_puts(b, "null");
	char *clean = NULL;
	if (!pg_utf8_valid(s, n)) {
		clean = pg_utf8_sanitize(s, n);
		if (clean == NULL)
			return PG_ERR_NOMEM;
		s = clean;
		n = strlen(clean);
	}
	pg_status st = pg_buf_putc(b, '"');
	size_t run = 0; /* start of the pending run of plain bytes */
	for (size_t i = 0; st == PG_OK && i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		st = pg_buf_append(b, s + run, i - run);
		run = i + 1;
		if (st != PG_OK)
			break;
		switch (c) {
		case '"':
			st = pg_buf_puts(b, "\\\"");
			break;
		case '\\':
			st = pg_buf_puts(b, "\\\\");
			break;
		case '\n':
			st = pg_buf_puts(b, "\\n");
			break;
		case '\r':
			st = pg_buf_puts(b, "\\r");
			break;
		case '\t':
			st = pg_buf_puts(b, "\\t");
			break;
		default:
			st = pg_buf_printf(b, "\\u%04x", c);
			break;
		}
	}
	if (st == PG_OK)
		st = pg_buf_append(b, s + run, n - run);
	if (st == PG_OK)
		st = pg_buf_putc(b, '"');
	free(clean);
	return st;
}

pg_status pg_json_str(pg_buf *b, const char *s)
{
	return pg_json_strn(b, s, s ? strlen(s) : 0);
}

pg_status pg_json_key(pg_buf *b, const char *key, bool first)
{
	pg_status st = PG_OK;
	if (!first)
		st = pg_buf_putc(b, ',');
	if (st == PG_OK)
		st = pg_json_str(b, key);
	if (st == PG_OK)
		st = pg_buf_putc(b, ':');
	return st;
}
