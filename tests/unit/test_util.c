/* Unit tests: src/util (arena, buf, str, time, json). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include <cmocka.h>
#include <gmime/gmime.h>

#include "util/arena.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/ptime.h"
#include "util/str.h"

static int destroyed[4];
static int destroy_order;
static void destroy(void *p)
{
	destroyed[*(int *)p] = ++destroy_order;
}

static void arena_alloc_align_and_defer(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	assert_non_null(a);
	for (int i = 0; i < 1000; i++) {
		void *p = pg_arena_alloc(a, (size_t)(i % 37) + 1);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
	}
	/* A large allocation gets its own chunk and keeps the current one. */
	char *big = pg_arena_alloc(a, 1 << 20);
	assert_non_null(big);
	memset(big, 'x', 1 << 20);
	char *s = pg_arena_printf(a, "%s-%d", "abc", 42);
	assert_string_equal(s, "abc-42");
	assert_string_equal(pg_arena_strndup(a, "hello", 3), "hel");
	assert_null(pg_arena_alloc(a, SIZE_MAX - 8));
	assert_null(pg_arena_calloc(a, SIZE_MAX / 2, 4));
	static int ids[3] = {0, 1, 2};
	destroy_order = 0;
	memset(destroyed, 0, sizeof(destroyed));
	assert_int_equal(pg_arena_defer(a, destroy, &ids[0]), 0);
	assert_int_equal(pg_arena_defer(a, destroy, &ids[1]), 0);
	assert_int_equal(pg_arena_defer(a, destroy, &ids[2]), 0);
	pg_arena_free(a);
	/* Newest first. */
	assert_int_equal(destroyed[2], 1);
	assert_int_equal(destroyed[1], 2);
	assert_int_equal(destroyed[0], 3);
}

static void buf_cap_is_hard(void **state)
{
	(void)state;
	pg_buf b;
	pg_buf_init(&b, 10);
	assert_int_equal(pg_buf_puts(&b, "12345"), PG_OK);
	assert_int_equal(pg_buf_puts(&b, "67890"), PG_OK);
	assert_int_equal(pg_buf_putc(&b, 'x'), PG_ERR_TOO_BIG);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "1234567890");
	assert_int_equal(pg_buf_printf(&b, "%d", 1), PG_ERR_TOO_BIG);
	pg_buf_reset(&b);
	assert_int_equal(pg_buf_printf(&b, "%05d", 42), PG_OK);
	assert_string_equal(b.data, "00042");
	char *t = pg_buf_take(&b);
	assert_string_equal(t, "00042");
	free(t);
	assert_null(b.data);
	t = pg_buf_take(&b); /* empty buffer: an empty string, not NULL */
	assert_string_equal(t, "");
	free(t);
	pg_buf_free(&b);
}

static void str_helpers(void **state)
{
	(void)state;
	assert_true(pg_streq_ci("X-Trasporto", "x-TRASPORTO"));
	assert_false(pg_streq_ci("X-Trasporto", "x-trasport"));
	assert_true(pg_startswith_ci("POSTA CERTIFICATA: x", "posta certificata:"));
	assert_false(pg_startswith_ci("POSTA", "posta certificata"));
	const char hay[] = "abc Daticert.XML def";
	assert_ptr_equal(pg_memmem_ci(hay, sizeof(hay) - 1, "daticert.xml"), hay + 4);
	assert_null(pg_memmem_ci(hay, 5, "daticert"));
	size_t n;
	const char *t = pg_trim("  \t a b \r\n", &n);
	assert_int_equal(n, 3);
	assert_memory_equal(t, "a b", 3);

	unsigned char sha[20],
		want[20] = {0x85, 0x71, 0xC0, 0x58, 0x44, 0x38, 0x9C, 0x6E, 0x26, 0x79,
			    0xE4, 0x73, 0x88, 0x1E, 0x36, 0xB8, 0x3E, 0x0B, 0x4B, 0x23};
	const char *colon = "85:71:C0:58:44:38:9C:6E:26:79:E4:73:88:1E:36:B8:3E:0B:4B:23";
	const char *plain = " 8571c05844389c6e2679e473881e36b83e0b4b23 ";
	assert_int_equal(pg_parse_sha1(colon, strlen(colon), sha), 0);
	assert_memory_equal(sha, want, 20);
	assert_int_equal(pg_parse_sha1(plain, strlen(plain), sha), 0);
	assert_memory_equal(sha, want, 20);
	assert_int_equal(pg_parse_sha1("85:71", 5, sha), -1);
	assert_int_equal(pg_parse_sha1("8571C0584438-C6E2679E473881E36B83E0B4B23", 40, sha), -1);
	const char *badsep = "85:71:C0:58:44:38:9C:6E:26:79:E4:73:88:1E:36:B8:3E:0B:4B;23";
	assert_int_equal(pg_parse_sha1(badsep, strlen(badsep), sha), -1);
	char hex[64];
	pg_hex_upper(want, 20, hex, true);
	assert_string_equal(hex, colon);
	pg_hex_upper(want, 2, hex, false);
	assert_string_equal(hex, "8571");

	assert_true(pg_utf8_valid("caf\xc3\xa9", 5));
	assert_false(pg_utf8_valid("caf\xe9", 4));
	assert_false(pg_utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
	assert_false(pg_utf8_valid("\xc0\xaf", 2));     /* overlong */
	char *s = pg_utf8_sanitize("a\xffz", 3);
	assert_string_equal(s, "a\xef\xbf\xbdz");
	free(s);
}

static void time_parse_and_format(void **state)
{
	(void)state;
	int64_t t;
	assert_int_equal(pg_time_parse_iso8601("2014-08-06T12:00:00Z", &t), 0);
	assert_int_equal(t, 1407326400);
	assert_int_equal(pg_time_parse_iso8601("2014-08-06T14:00:00+02:00", &t), 0);
	assert_int_equal(t, 1407326400);
	assert_int_equal(pg_time_parse_iso8601("2014-08-06T11:00:00.123-0100", &t), 0);
	assert_int_equal(t, 1407326400);
	assert_int_equal(pg_time_parse_iso8601("2014-08-06", &t), 0);
	assert_int_equal(t, 1407283200);
	assert_int_equal(pg_time_parse_iso8601("1970-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(pg_time_parse_iso8601("2024-02-29T00:00:00Z", &t), 0);
	assert_int_equal(pg_time_parse_iso8601("2023-02-29T00:00:00Z", &t), -1);
	assert_int_equal(pg_time_parse_iso8601("2014-13-01", &t), -1);
	assert_int_equal(pg_time_parse_iso8601("yesterday", &t), -1);
	assert_int_equal(pg_time_parse_iso8601("2014-08-06T12:00:00Zjunk", &t), -1);
	assert_int_equal(pg_time_parse_iso8601("", &t), -1);
	char buf[32];
	pg_time_format_iso8601(1407326400, buf, sizeof(buf));
	assert_string_equal(buf, "2014-08-06T12:00:00Z");
}

static void time_parse_rfc5322(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int64_t t; /* -1: refused (the lenient parser's turn) */
	} cases[] = {
		{"Mon, 26 Aug 2002 15:15:19 -0400 (EDT)", 1030389319},
		{" 27 May 2001 16:50:45 -0000", 990982245},
		{"\n\tThu, 1 Aug 2002 04:33 +1345", 1028126880},
		{"Thu, 29 Feb 2024 00:00:00 +0000\r\n", 1709164800},
		{"Wed, 29 Feb 2023 00:00:00 +0000", -1}, /* not a leap year */
		{"Mon, 26 Aug 2002 15:15:19 EDT", -1},   /* zone names: lenient */
		{"Mon, 26 Aug 2002 15:15:19", -1},
		{"Mon, 26 Agosto 2002 15:15:19 +0200", -1},
		{"Mon, 26 Aug 02 15:15:19 +0200", -1},
		{"Mon, 26 Aug 2002 25:15:19 +0200", -1},
		{"Mon, 26 Aug 2002 15:15:19 +0200x", -1},
		{"M12, 26 Aug 2002 15:15:19 +0200", -1},
		{"", -1}, /* a Received that ends at its ';' */
		{"7", -1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t t = 0;
		int r = pg_time_parse_rfc5322(cases[i].in, &t);
		if (cases[i].t < 0) {
			assert_int_equal(r, -1);
			continue;
		}
		assert_int_equal(r, 0);
		assert_int_equal(t, cases[i].t);
		/* the same instant as GMime's lenient parser gives */
		GDateTime *dt = g_mime_utils_header_decode_date(cases[i].in);
		assert_non_null(dt);
		assert_int_equal((int64_t)g_date_time_to_unix(dt), t);
		g_date_time_unref(dt);
	}
}

static void json_escaping(void **state)
{
	(void)state;
	pg_buf b;
	pg_buf_init(&b, PG_BUF_UNLIMITED);
	assert_int_equal(pg_json_str(&b, "a\"b\\c\n\x01"), PG_OK);
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001\"");
	pg_buf_reset(&b);
	assert_int_equal(pg_json_str(&b, NULL), PG_OK);
	assert_string_equal(b.data, "null");
	pg_buf_reset(&b);
	assert_int_equal(pg_json_str(&b, "x\xffy"), PG_OK); /* invalid UTF-8 replaced */
	assert_string_equal(b.data, "\"x\xef\xbf\xbdy\"");
	pg_buf_reset(&b);
	assert_int_equal(pg_json_key(&b, "k", false), PG_OK);
	assert_string_equal(b.data, ",\"k\":");
	pg_buf_free(&b);
}

/* A mail Date field in the local zone, English names whatever the locale
 * (the notices and the DSNs write it; pg_time_parse_rfc5322 reads it back). */
static void time_format_rfc5322(void **state)
{
	(void)state;
	char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
	char d[64];
	int64_t t = 1764331200, back = 0; /* 2025-11-28T12:00:00Z */
	setenv("TZ", "UTC0", 1);
	tzset();
	pg_time_format_rfc5322(t, d, sizeof d);
	assert_string_equal(d, "Fri, 28 Nov 2025 12:00:00 +0000");
	setenv("TZ", "CET-1", 1);
	tzset();
	pg_time_format_rfc5322(t, d, sizeof d);
	assert_string_equal(d, "Fri, 28 Nov 2025 13:00:00 +0100");
	assert_int_equal(pg_time_parse_rfc5322(d, &back), 0);
	assert_int_equal(back, t);
	if (old) {
		setenv("TZ", old, 1);
		free(old);
	} else {
		unsetenv("TZ");
	}
	tzset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(arena_alloc_align_and_defer),
		cmocka_unit_test(buf_cap_is_hard),
		cmocka_unit_test(str_helpers),
		cmocka_unit_test(time_parse_and_format),
		cmocka_unit_test(time_parse_rfc5322),
		cmocka_unit_test(time_format_rfc5322),
		cmocka_unit_test(json_escaping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
