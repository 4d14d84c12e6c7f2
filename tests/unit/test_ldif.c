/*
 * test_ldif.c - the LDIF content-record parser (src/pec/ldif.c).
 *
 * Inputs are inline strings: each test shows the exact bytes it feeds, so
 * the line numbers the errors must name can be counted by eye.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pec/ldif.h"

typedef struct fixture {
	pg_arena *a;
	pg_ldif *ldif;
	char err[256];
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	f->a = pg_arena_new();
	if (f->a == NULL) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	pg_arena_free(f->a);
	free(f);
	return 0;
}

static pg_status parse_len(fixture *f, const char *s, size_t n)
{
	f->ldif = NULL;
	f->err[0] = '\0';
	return pg_ldif_parse(f->a, s, n, &f->ldif, f->err, sizeof(f->err));
}

static pg_status parse(fixture *f, const char *s)
{
	return parse_len(f, s, strlen(s));
}

/* Parses s, which must succeed. */
static const pg_ldif *parse_ok(fixture *f, const char *s)
{
	pg_status st = parse(f, s);
	if (st != PG_OK)
		fail_msg("unexpected error %d: %s", (int)st, f->err);
	assert_non_null(f->ldif);
	return f->ldif;
}

/* Parses s, which must fail with PG_ERR_PARSE and exactly this message. */
static void parse_fails(fixture *f, const char *s, const char *want)
{
	pg_status st = parse(f, s);
	assert_int_equal(st, PG_ERR_PARSE);
	assert_string_equal(f->err, want);
}

static void assert_value(const pg_ldif_attr *a, const char *name, const char *value, unsigned line)
{
	assert_non_null(a);
	assert_string_equal(a->name, name);
	assert_int_equal(a->len, strlen(value));
	assert_memory_equal(a->value, value, a->len);
	assert_int_equal(a->value[a->len], '\0');
	assert_int_equal(a->line, line);
}

static void test_basic(void **state)
{
	fixture *f = *state;
	const pg_ldif *l = parse_ok(f, "version: 1\n"
				       "# a comment\n"
				       "\n"
				       "dn: o=postacert\n"
				       "objectClass: top\n"
				       "o: postacert\n"
				       "\n"
				       "\n"
				       "dn: providerName=X,o=postacert\n"
				       "providerName: X\n"
				       "empty:\n"
				       "spaces:    lots  \n");
	assert_int_equal(l->nentries, 2);
	assert_string_equal(l->entries[0].dn, "o=postacert");
	assert_int_equal(l->entries[0].line, 4);
	assert_int_equal(l->entries[0].nattrs, 2);
	assert_value(&l->entries[0].attrs[0], "objectClass", "top", 5);
	assert_value(&l->entries[0].attrs[1], "o", "postacert", 6);
	assert_null(l->entries[0].attrs[0].options);
	assert_string_equal(l->entries[1].dn, "providerName=X,o=postacert");
	assert_int_equal(l->entries[1].line, 9);
	assert_int_equal(l->entries[1].nattrs, 3);
	assert_value(&l->entries[1].attrs[0], "providerName", "X", 10);
	assert_value(&l->entries[1].attrs[1], "empty", "", 11);
	/* Leading spaces separate; trailing ones are part of a plain value. */
	assert_value(&l->entries[1].attrs[2], "spaces", "lots  ", 12);
}

static void test_empty_inputs(void **state)
{
	fixture *f = *state;
	assert_int_equal(parse_len(f, "", 0), PG_OK);
	assert_int_equal(f->ldif->nentries, 0);
	assert_int_equal(parse_len(f, NULL, 0), PG_OK);
	assert_int_equal(f->ldif->nentries, 0);
	assert_int_equal(parse_ok(f, "# only\n# comments\n\n\n")->nentries, 0);
	assert_int_equal(parse_ok(f, "version: 1\n")->nentries, 0);
	/* No final newline; an entry with a dn and nothing else. */
	const pg_ldif *l = parse_ok(f, "dn: a=b");
	assert_int_equal(l->nentries, 1);
	assert_string_equal(l->entries[0].dn, "a=b");
	assert_int_equal(l->entries[0].nattrs, 0);
	/* A UTF-8 BOM at the start is skipped, and only there. */
	l = parse_ok(f, "\xEF\xBB\xBFversion: 1\ndn: a=b\n");
	assert_int_equal(l->nentries, 1);
	parse_fails(f, "dn: a=b\n\xEF\xBB\xBFx: 1\n",
		    "2: expected \"attribute: value\" (attribute type of letters, digits, '-')");
	/* The empty dn (the root DSE) is a dn. */
	l = parse_ok(f, "dn:\nx: y\n");
	assert_string_equal(l->entries[0].dn, "");
}

static void test_folding(void **state)
{
	fixture *f = *state;
	const pg_ldif *l = parse_ok(f, "dn: cn=very long\n"
				       "  name,o=x\n"
				       "description: one\n"
				       " two\n"
				       "  three\n"
				       "descr\n"
				       " iption: folded in the type\n"
				       "hash: 85:71:C0:\n"
				       " 0B\n"
				       "last: x\n"
				       " \n");
	const pg_ldif_entry *e = &l->entries[0];
	/* Exactly one space is removed: the second one is data. */
	assert_string_equal(e->dn, "cn=very long name,o=x");
	assert_int_equal(e->nattrs, 4);
	assert_value(&e->attrs[0], "description", "onetwo three", 3);
	assert_value(&e->attrs[1], "description", "folded in the type", 6);
	assert_value(&e->attrs[2], "hash", "85:71:C0:0B", 8);
	/* A continuation holding only its space adds nothing. */
	assert_value(&e->attrs[3], "last", "x", 10);
}

static void test_comments(void **state)
{
	fixture *f = *state;
	const pg_ldif *l = parse_ok(f, "# comment\n"
				       " folded comment: not an attribute\n"
				       "dn: a=b\n"
				       "# a comment inside an entry\n"
				       "  still the comment\n"
				       "x: 1\n"
				       "#x: 2\n"
				       "y: #not a comment\n");
	assert_int_equal(l->nentries, 1);
	const pg_ldif_entry *e = &l->entries[0];
	assert_int_equal(e->line, 3);
	assert_int_equal(e->nattrs, 2);
	assert_value(&e->attrs[0], "x", "1", 6);
	assert_value(&e->attrs[1], "y", "#not a comment", 8);
}

static void test_crlf(void **state)
{
	fixture *f = *state;
	const pg_ldif *l = parse_ok(f, "version: 1\r\n"
				       "\r\n"
				       "dn: a=b\r\n"
				       "x: one\r\n"
				       " two\r\n"
				       "y:: dGVzdA==\r\n"
				       "\r\n"
				       "dn: c=d\n" /* LF and CRLF mixed */
				       "z: 3\r\n");
	assert_int_equal(l->nentries, 2);
	assert_value(&l->entries[0].attrs[0], "x", "onetwo", 4);
	assert_value(&l->entries[0].attrs[1], "y", "test", 6);
	assert_string_equal(l->entries[1].dn, "c=d");
	assert_value(&l->entries[1].attrs[0], "z", "3", 9);

	parse_fails(f, "dn: a=b\nx: one\rtwo\n", "2: stray CR (lines must end with LF or CRLF)");
	parse_fails(f, "dn: a=b\nx: one\r", "2: stray CR (lines must end with LF or CRLF)");
	parse_fails(f, "dn: a=b\r\r\n", "1: stray CR (lines must end with LF or CRLF)");
}

static void test_base64(void **state)
{
	fixture *f = *state;
	const pg_ldif *l = parse_ok(f, "dn:: Y249w6ksbz14\n"
				       "a:: dGVzdA==\n"
				       "b:: dGVzdDE=\n"
				       "c:: dGVzdDEy\n"
				       "d::\n"
				       "e:: AAEA\n"
				       "f::    dGVz\n"
				       " dDEy  \n"
				       "g::dGVzdA==\n");
	const pg_ldif_entry *e = &l->entries[0];
	assert_string_equal(e->dn, "cn=\xc3\xa9,o=x");
	assert_value(&e->attrs[0], "a", "test", 2);
	assert_value(&e->attrs[1], "b", "test1", 3);
	assert_value(&e->attrs[2], "c", "test12", 4);
	assert_value(&e->attrs[3], "d", "", 5);
	/* Binary values keep their NULs and their true length. */
	assert_int_equal(e->attrs[4].len, 3);
	assert_memory_equal(e->attrs[4].value, "\0\1\0", 3);
	/* Folded base64, trailing blanks ignored. */
	assert_value(&e->attrs[5], "f", "test12", 7);
	assert_value(&e->attrs[6], "g", "test", 9);

	parse_fails(f, "dn: a=b\nx: 1\na:: dGVzdA=\n",
		    "3: a: invalid base64: length is not a multiple of 4");
	parse_fails(f, "dn: a=b\na:: dGVzdA\n",
		    "2: a: invalid base64: length is not a multiple of 4");
	parse_fails(f, "dn: a=b\na:: dG*zdA==\n",
		    "2: a: invalid base64: character outside the alphabet");
	parse_fails(f, "dn: a=b\na:: dGVz dA==\n",
		    "2: a: invalid base64: length is not a multiple of 4");
	parse_fails(f, "dn: a=b\na:: dGV zdA=\n",
		    "2: a: invalid base64: character outside the alphabet");
	parse_fails(f, "dn: a=b\na:: dGVzdA=A\n", "2: a: invalid base64: misplaced '=' padding");
	parse_fails(f, "dn: a=b\na:: dG==dA==\n", "2: a: invalid base64: misplaced '=' padding");
	parse_fails(f, "dn: a=b\na:: d===\n", "2: a: invalid base64: misplaced '=' padding");
	parse_fails(f, "dn: a=b\na:: ====\n", "2: a: invalid base64: misplaced '=' padding");
	/* "dGVzdB==" would also decode to "test": only one spelling is valid. */
	parse_fails(f, "dn: a=b\na:: dGVzdB==\n",
		    "2: a: invalid base64: non-zero bits under the '=' padding");
	parse_fails(f, "dn: a=b\na:: dGVzdDF=\n",
		    "2: a: invalid base64: non-zero bits under the '=' padding");
	parse_fails(f, "dn:: ***\n", "1: dn: invalid base64: length is not a multiple of 4");
	/* The dn is a C string: a NUL in it is refused. */
	parse_fails(f, "dn:: YQBi\n", "1: dn: contains a NUL byte");
}

static void test_options(void **state)
{
	fixture *f = *state;
	const pg_ldif *l = parse_ok(f, "dn: a=b\n"
				       "providerCertificate;binary:: AAEA\n"
				       "description;lang-it;x-1: ciao\n"
				       "2.5.4.3: oid\n");
	const pg_ldif_entry *e = &l->entries[0];
	assert_string_equal(e->attrs[0].name, "providerCertificate");
	assert_string_equal(e->attrs[0].options, "binary");
	assert_int_equal(e->attrs[0].len, 3);
	assert_string_equal(e->attrs[1].name, "description");
	assert_string_equal(e->attrs[1].options, "lang-it;x-1");
	assert_value(&e->attrs[1], "description", "ciao", 3);
	assert_value(&e->attrs[2], "2.5.4.3", "oid", 4);

	parse_fails(f, "dn: a=b\na;: x\n", "2: a: empty attribute option");
	parse_fails(f, "dn: a=b\na;b;;c: x\n", "2: a: empty attribute option");
	parse_fails(f, "dn: a=b\na;b.c: x\n", "2: a: bad character in attribute options");
	parse_fails(f, "dn;x: a=b\n", "1: dn: attribute options are not allowed");
}

static void test_url_refused(void **state)
{
	fixture *f = *state;
	parse_fails(f, "dn: a=b\nx: 1\njpegPhoto:< file:///etc/passwd\n",
		    "3: jpegPhoto: URL value (\":<\") refused: values are never fetched");
	parse_fails(f, "dn:< http://example.test/dn\n",
		    "1: dn: URL value (\":<\") refused: values are never fetched");
	/* Only right after the colon does '<' mean a URL. */
	const pg_ldif *l = parse_ok(f, "dn: a=b\nx: <b>\ny: :z\n");
	assert_value(&l->entries[0].attrs[0], "x", "<b>", 2);
	assert_value(&l->entries[0].attrs[1], "y", ":z", 3);
}

static void test_errors_name_line(void **state)
{
	fixture *f = *state;
	parse_fails(f, "version: 1\n\nobjectClass: top\n",
		    "3: objectClass: expected \"dn:\" at the start of an entry");
	parse_fails(f, "version: 2\n", "1: version: unsupported LDIF version (only 1)");
	/* "version:" only as the very first line. */
	parse_fails(f, "dn: a=b\n\nversion: 1\n",
		    "3: version: expected \"dn:\" at the start of an entry");
	parse_fails(f, " x: y\n",
		    "1: continuation line (starting with a space) with no line to continue");
	parse_fails(f, "dn: a=b\nx: 1\n\n continued\n",
		    "4: continuation line (starting with a space) with no line to continue");
	parse_fails(f, "dn: a=b\nx: 1\ndn: c=d\n",
		    "3: dn: a second dn in one entry (missing blank line?)");
	parse_fails(f, "dn: a=b\nchangetype: add\nx: 1\n",
		    "2: changetype: change records are not supported (content LDIF only)");
	parse_fails(f, "dn: a=b\nx: 1\nChangeType: modify\n",
		    "3: changetype: change records are not supported (content LDIF only)");
	parse_fails(f, "dn: a=b\ncontrol: 1.2.3 true\nchangetype: delete\n",
		    "2: control: change records are not supported (content LDIF only)");
	parse_fails(f, "dn: a=b\n-\n",
		    "2: expected \"attribute: value\" (attribute type of letters, digits, '-')");
	parse_fails(f, "dn: a=b\nno colon here\n",
		    "2: expected \"attribute: value\" (attribute type of letters, digits, '-')");
	parse_fails(f, "dn: a=b\n-x: 1\n",
		    "2: expected \"attribute: value\" (attribute type of letters, digits, '-')");
	parse_fails(f, "dn: a=b\nx_y: 1\n",
		    "2: expected \"attribute: value\" (attribute type of letters, digits, '-')");
	parse_fails(f, "dn: a=b\n: 1\n",
		    "2: expected \"attribute: value\" (attribute type of letters, digits, '-')");
	/* The line of a folded attribute is the line where it starts. */
	parse_fails(f, "dn: a=b\nx: 1\nfolded\n :: !!!!\n",
		    "3: folded: invalid base64: character outside the alphabet");
	static const char nul[] = "dn: a=b\nx: 1\ny: a\0b\n";
	assert_int_equal(parse_len(f, nul, sizeof(nul) - 1), PG_ERR_PARSE);
	assert_string_equal(f->err, "3: NUL byte in the line");
	/* Comments are checked for NULs too, and the error still has a line. */
	static const char nul2[] = "# a\n# \0\n";
	assert_int_equal(parse_len(f, nul2, sizeof(nul2) - 1), PG_ERR_PARSE);
	assert_string_equal(f->err, "2: NUL byte in the line");
}

static void test_err_buffer(void **state)
{
	fixture *f = *state;
	pg_ldif *l = NULL;
	/* No err buffer, or a tiny one: the status is still right. */
	assert_int_equal(pg_ldif_parse(f->a, "x", 1, &l, NULL, 0), PG_ERR_PARSE);
	char small[4] = "zzz";
	assert_int_equal(pg_ldif_parse(f->a, "x", 1, &l, small, sizeof(small)), PG_ERR_PARSE);
	assert_string_equal(small, "1: ");
	assert_null(l);
	assert_int_equal(pg_ldif_parse(f->a, NULL, 3, &l, small, sizeof(small)), PG_ERR_INVALID);
}

static void test_find(void **state)
{
	fixture *f = *state;
	const pg_ldif *l = parse_ok(f, "dn: a=b\n"
				       "objectClass: top\n"
				       "cn: x\n"
				       "OBJECTCLASS: provider\n"
				       "objectclass;x: other\n");
	const pg_ldif_entry *e = &l->entries[0];
	size_t it = 0;
	const pg_ldif_attr *a = pg_ldif_find(e, "objectClass", &it);
	assert_value(a, "objectClass", "top", 2);
	a = pg_ldif_find(e, "objectClass", &it);
	assert_value(a, "OBJECTCLASS", "provider", 4);
	a = pg_ldif_find(e, "objectClass", &it);
	assert_value(a, "objectclass", "other", 5);
	assert_null(pg_ldif_find(e, "objectClass", &it));
	assert_null(pg_ldif_find(e, "objectClass", &it));
	assert_non_null(pg_ldif_find(e, "CN", NULL));
	assert_null(pg_ldif_find(e, "c", NULL));
	assert_null(pg_ldif_find(e, "dn", NULL));
}

static void test_caps(void **state)
{
	fixture *f = *state;
	const size_t mib = (size_t)1 << 20;
	char *buf = malloc(3 * mib);
	assert_non_null(buf);

	/* An unfolded line of exactly 1 MiB passes; one byte more does not. */
	size_t n = (size_t)sprintf(buf, "dn: a=b\nv: ");
	size_t vlen = mib - strlen("v: ");
	memset(buf + n, 'x', vlen);
	buf[n + vlen] = '\n';
	assert_int_equal(parse_len(f, buf, n + vlen + 1), PG_OK);
	assert_int_equal(f->ldif->entries[0].attrs[0].len, vlen);
	buf[n + vlen] = 'x';
	buf[n + vlen + 1] = '\n';
	assert_int_equal(parse_len(f, buf, n + vlen + 2), PG_ERR_PARSE);
	assert_string_equal(f->err, "2: line longer than 1048576 bytes (limit)");

	/* The same through folding: 3 x 512 KiB continuation lines. */
	n = (size_t)sprintf(buf, "dn: a=b\nx: 1\nv: y\n");
	for (int k = 0; k < 3; k++) {
		buf[n++] = ' ';
		memset(buf + n, 'y', mib / 2);
		n += mib / 2;
		buf[n++] = '\n';
	}
	assert_int_equal(parse_len(f, buf, n), PG_ERR_PARSE);
	assert_string_equal(f->err, "3: line longer than 1048576 bytes (limit)");
	free(buf);

	/* 100000 entries pass, the next one does not. */
	const size_t max = 100000;
	buf = malloc((max + 1) * 8 + 1);
	assert_non_null(buf);
	n = 0;
	for (size_t k = 0; k < max; k++)
		n += (size_t)sprintf(buf + n, "dn: a\n\n");
	assert_int_equal(parse_len(f, buf, n), PG_OK);
	assert_int_equal(f->ldif->nentries, max);
	n += (size_t)sprintf(buf + n, "dn: a\n");
	assert_int_equal(parse_len(f, buf, n), PG_ERR_PARSE);
	assert_string_equal(f->err, "200001: more than 100000 entries (limit)");
	free(buf);

	/* Over 64 MiB is refused before anything is read (calloc: the pages
	 * are never touched). */
	size_t big = ((size_t)64 << 20) + 1;
	buf = calloc(1, big);
	assert_non_null(buf);
	assert_int_equal(parse_len(f, buf, big), PG_ERR_PARSE);
	assert_string_equal(f->err, "1: input larger than 67108864 bytes (limit)");
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_inputs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_folding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_comments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crlf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_base64, setup, teardown),
		cmocka_unit_test_setup_teardown(test_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_url_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_name_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_err_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_caps, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
