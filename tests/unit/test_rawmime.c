/* Unit tests: src/mime/rawmime.c - exact spans and caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mime/rawmime.h"

static const pg_limits lim = {
	.max_message_size = 1 << 20,
	.max_header_field = 1000,
	.max_header_block = 4000,
	.max_depth = 5,
	.max_parts = 20,
};

static pg_rawent *scan(pg_arena *a, const char *m, pg_status want, unsigned *nparts)
{
	pg_rawent *root = NULL;
	unsigned n = 0;
	char err[256] = "";
	pg_status st = pg_raw_scan(a, m, strlen(m), &lim, 0, &root, &n, err, sizeof(err));
	if (st != want)
		fail_msg("status %d, expected %d (%s)", st, want, err);
	if (want != PG_OK)
		assert_true(err[0] != '\0');
	if (nparts)
		*nparts = n;
	return root;
}

static void span_eq(const char *m, size_t a, size_t b, const char *want)
{
	assert_int_equal(b - a, strlen(want));
	assert_memory_equal(m + a, want, b - a);
}

static void signed_spans_are_exact(void **state)
{
	(void)state;
	const char *m =
		"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";\r\n"
		" boundary=\"BB\"\r\n"
		"\r\n"
		"preamble\r\n"
		"--BB\r\n"
		"Content-Type: text/plain\r\n"
		"\r\n"
		"signed text\r\n"
		"\r\n"
		"--BB  \r\n"
		"Content-Type: application/pkcs7-signature\r\n"
		"\r\n"
		"SIG\r\n"
		"--BB--\r\n"
		"epilogue\r\n";
	pg_arena *a = pg_arena_new();
	unsigned n;
	pg_rawent *r = scan(a, m, PG_OK, &n);
	assert_int_equal(n, 3);
	assert_int_equal(r->kind, PG_RAW_MULTIPART);
	assert_string_equal(r->ctype, "multipart/signed");
	assert_string_equal(r->boundary, "BB");
	assert_int_equal(r->nchildren, 2);
	assert_true(r->closed);
	pg_rawent *c0 = r->first_child, *c1 = c0->next;
	/* The CRLF before a delimiter belongs to the delimiter (RFC 2046). */
	span_eq(m, c0->start, c0->end, "Content-Type: text/plain\r\n\r\nsigned text\r\n");
	span_eq(m, c0->body_start, c0->end, "signed text\r\n");
	assert_string_equal(c0->ctype, "text/plain");
	span_eq(m, c1->body_start, c1->end, "SIG");
	assert_string_equal(c1->ctype, "application/pkcs7-signature");
	pg_arena_free(a);
}

static void lf_and_nested_message(void **state)
{
	(void)state;
	const char *m = "Content-Type: multipart/mixed; boundary=outer\n"
			"\n"
			"--outer\n"
			"Content-Type: message/rfc822\n"
			"\n"
			"Subject: inner\n"
			"Content-Type: multipart/alternative; boundary=\"outer-x\"\n"
			"\n"
			"--outer-x\n"
			"\n"
			"no headers\n"
			"--outer-x--\n"
			"--outer\n"
			"Content-Type: message/rfc822\n"
			"Content-Transfer-Encoding: base64\n"
			"\n"
			"U3ViamVjdDogeAoKeQo=\n"
			"--outer--\n";
	pg_arena *a = pg_arena_new();
	unsigned n;
	pg_rawent *r = scan(a, m, PG_OK, &n);
	assert_int_equal(r->nchildren, 2);
	pg_rawent *msg = r->first_child;
	assert_int_equal(msg->kind, PG_RAW_MESSAGE);
	pg_rawent *inner = msg->first_child;
	assert_int_equal(inner->kind, PG_RAW_MULTIPART);
	assert_string_equal(inner->boundary, "outer-x");
	assert_int_equal(inner->nchildren, 1);
	pg_rawent *leaf = inner->first_child;
	/* An entity without headers starts with its blank line. */
	assert_int_equal(leaf->hdr_end, leaf->start);
	span_eq(m, leaf->body_start, leaf->end, "no headers");
	/* An encoded message/rfc822 is a leaf for the raw scan. */
	assert_int_equal(msg->next->kind, PG_RAW_LEAF);
	assert_string_equal(msg->next->cte, "base64");
	assert_int_equal(n, 5);
	pg_arena_free(a);
}

static void content_type_parsing(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	const char *b = NULL;
	const char *v = " Multipart/Mixed (comment) ; charset=x;\r\n\tBoundary=\"a\\\"b; c\" ";
	assert_string_equal(pg_raw_parse_ctype(a, v, strlen(v), "boundary", &b), "multipart/mixed");
	assert_string_equal(b, "a\"b; c");
	v = "text";
	assert_string_equal(pg_raw_parse_ctype(a, v, strlen(v), "boundary", &b), "text/plain");
	assert_null(b);
	v = "multipart/mixed; boundary=tok; boundary=second";
	pg_raw_parse_ctype(a, v, strlen(v), "boundary", &b);
	assert_string_equal(b, "tok");
	pg_arena_free(a);
}

static void caps_are_typed(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	char m[8192];
	/* depth 6 > 5 */
	size_t o = 0;
	for (int i = 0; i < 7; i++)
		o += (size_t)snprintf(m + o, sizeof(m) - o,
				      "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i,
				      i);
	snprintf(m + o, sizeof(m) - o, "\nx\n");
	scan(a, m, PG_ERR_TOO_DEEP, NULL);
	/* 25 parts > 20 */
	o = (size_t)snprintf(m, sizeof(m), "Content-Type: multipart/mixed; boundary=b\n\n");
	for (int i = 0; i < 25; i++)
		o += (size_t)snprintf(m + o, sizeof(m) - o, "--b\n\npart\n");
	scan(a, m, PG_ERR_TOO_MANY_PARTS, NULL);
	/* one field of 1200 bytes > 1000 */
	o = (size_t)snprintf(m, sizeof(m), "Subject: ");
	memset(m + o, 'x', 1200);
	strcpy(m + o + 1200, "\n\nbody\n");
	scan(a, m, PG_ERR_HEADER_TOO_LONG, NULL);
	/* a folded field counts whole */
	o = (size_t)snprintf(m, sizeof(m), "To: a");
	for (int i = 0; i < 150; i++)
		o += (size_t)snprintf(m + o, sizeof(m) - o, ",\n a@b.c");
	snprintf(m + o, sizeof(m) - o, "\n\nx\n");
	scan(a, m, PG_ERR_HEADER_TOO_LONG, NULL);
	/* block of 5 x 900 > 4000 */
	o = 0;
	for (int i = 0; i < 5; i++) {
		o += (size_t)snprintf(m + o, sizeof(m) - o, "X-%d: ", i);
		memset(m + o, 'y', 900);
		o += 900;
		m[o++] = '\n';
	}
	snprintf(m + o, sizeof(m) - o, "\nbody\n");
	scan(a, m, PG_ERR_HEADER_TOO_LONG, NULL);
	pg_arena_free(a);
}

static void odd_input_is_accepted(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	unsigned n;
	pg_rawent *r = scan(a, "", PG_OK, &n);
	assert_int_equal(n, 1);
	assert_int_equal(r->end, 0);
	r = scan(a, "no header line at all\nsecond\n", PG_OK, &n);
	assert_int_equal(r->body_start, 0);
	r = scan(a, "Subject: x", PG_OK, &n); /* no newline, no body */
	assert_int_equal(r->body_start, 10);
	/* multipart without a boundary parameter: a leaf */
	r = scan(a, "Content-Type: multipart/mixed\n\n--x\n\ny\n", PG_OK, &n);
	assert_int_equal(r->kind, PG_RAW_LEAF);
	/* delimiter immediately followed by another: an empty part */
	r = scan(a, "Content-Type: multipart/mixed; boundary=q\n\n--q\n--q\n\nz\n--q--", PG_OK, &n);
	assert_int_equal(r->nchildren, 2);
	assert_int_equal(r->first_child->end, r->first_child->start);
	pg_arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(signed_spans_are_exact), cmocka_unit_test(lf_and_nested_message),
		cmocka_unit_test(content_type_parsing),   cmocka_unit_test(caps_are_typed),
		cmocka_unit_test(odd_input_is_accepted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
