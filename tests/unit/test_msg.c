/*
 * Unit tests: src/mime/msg.c - the message model over GMime: the tree in
 * pre-order, exact raw bytes of every entity, nested messages, decoded
 * headers and content, caps and the scan-wide part budget.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mime/msg.h"

static const pg_limits big = {
	.max_message_size = 1 << 20,
	.max_header_field = 1000,
	.max_header_block = 4000,
	.max_depth = 8,
	.max_parts = 50,
};

/* Parses m (a string) with lim and a fresh budget of lim->max_parts. */
static pg_msg *parse_lim(pg_arena *a, const char *m, const pg_limits *lim, pg_status want)
{
	unsigned budget = lim->max_parts;
	pg_msg *out = NULL;
	char err[256] = "";
	pg_status st = pg_msg_parse(a, m, strlen(m), lim, 0, &budget, &out, err, sizeof(err));
	if (st != want)
		fail_msg("status %d, expected %d (%s)", st, want, err);
	if (want != PG_OK) {
		assert_true(err[0] != '\0');
		assert_null(out);
		return NULL;
	}
	assert_non_null(out);
	/* the budget pays for every entity, nested messages included */
	assert_int_equal(lim->max_parts - budget, out->nparts);
	return out;
}

static pg_msg *parse(pg_arena *a, const char *m)
{
	return parse_lim(a, m, &big, PG_OK);
}

/* The entity's raw bytes are exactly want, and lie inside buf. */
static void raw_is(const pg_part *p, const char *buf, size_t buflen, const char *want)
{
	size_t n;
	const char *r = pg_part_raw(p, &n);
	assert_non_null(r);
	assert_true(r >= buf && r + n <= buf + buflen);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(r, want, n);
}

static void content_is(const pg_part *p, const void *want, size_t wantlen)
{
	size_t n;
	const unsigned char *c = pg_part_content(p, &n);
	assert_non_null(c);
	assert_int_equal(n, wantlen);
	assert_memory_equal(c, want, n);
	/* decoded once: the second call gives the cached bytes */
	size_t n2;
	assert_ptr_equal(pg_part_content(p, &n2), c);
	assert_int_equal(n2, n);
}

/* ---- a single-part message ------------------------------------------------ */

static const char *simple = "From: \"Mario Rossi\" <Mario.Rossi@Example.IT>\n"
			    "To: a@b.test\n"
			    "Subject: =?UTF-8?Q?Caff=C3=A8?= e\n"
			    " =?ISO-8859-1?Q?t=E8?=\n"
			    "X-Latin1: Perch\xe9\n"
			    "X-Dup: first\n"
			    "x-dup: second\n"
			    "Content-Type: text/plain; charset=utf-8\n"
			    "\n"
			    "Ciao.\n";

static void simple_message(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	pg_msg *m = parse(a, simple);
	assert_int_equal(pg_msg_part_count(m), 1);
	assert_int_equal(m->depth, 0);
	assert_null(m->parent_part);
	const pg_part *r = pg_msg_root(m);
	assert_ptr_equal(r, pg_msg_part(m, 0));
	assert_null(pg_msg_part(m, 1));
	assert_string_equal(pg_part_content_type(r), "text/plain");
	assert_int_equal(pg_part_depth(r), 0);
	assert_int_equal(r->index, 0);
	assert_null(r->parent);
	assert_ptr_equal(r->msg, m);
	assert_false(r->is_multipart || r->is_message || r->is_attachment);
	assert_null(pg_part_filename(r));
	assert_int_equal(pg_part_child_count(r), 0);
	assert_null(pg_part_child(r, 0));
	/* the top-level entity is the whole message, and so is the message */
	raw_is(r, simple, strlen(simple), simple);
	size_t n;
	assert_ptr_equal(pg_msg_raw(m, &n), simple);
	assert_int_equal(n, strlen(simple));
	content_is(r, "Ciao.\n", 6);
	pg_arena_free(a);
}

static void header_lookups(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	pg_msg *m = parse(a, simple);
	/* unfolded, RFC 2047 decoded to UTF-8 from each word's charset */
	assert_string_equal(pg_msg_header(m, "Subject"), "Caff\xc3\xa8 e t\xc3\xa8");
	/* names in any case; the first of repeated fields */
	assert_string_equal(pg_msg_header(m, "sUBJECT"), pg_msg_header(m, "Subject"));
	assert_string_equal(pg_msg_header(m, "X-Dup"), "first");
	assert_null(pg_msg_header(m, "X-Absent"));
	/* raw 8-bit Latin-1 in a field comes out as UTF-8 */
	assert_string_equal(pg_msg_header(m, "X-Latin1"), "Perch\xc3\xa9");
	/* the top level's Content-* fields live on GMime's MIME part; the
	 * message finds them there */
	assert_string_equal(pg_msg_header(m, "Content-Type"), "text/plain; charset=utf-8");
	/* the top-level entity reads the message's fields */
	const pg_part *r = pg_msg_root(m);
	assert_string_equal(pg_part_header(r, "To"), "a@b.test");
	/* From: display name as written, address lower-cased */
	const char *name, *addr;
	pg_msg_from(m, &name, &addr);
	assert_string_equal(name, "Mario Rossi");
	assert_string_equal(addr, "mario.rossi@example.it");
	assert_string_equal(pg_addr_domain(a, addr), "example.it");
	pg_arena_free(a);
}

static void from_and_domains(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	const char *name, *addr;
	/* a group: its first member */
	pg_msg *m = parse(a, "From: Ufficio: Anna <ANNA@Uff.Test>, b@uff.test;\n\nx\n");
	pg_msg_from(m, &name, &addr);
	assert_string_equal(name, "Anna");
	assert_string_equal(addr, "anna@uff.test");
	/* an empty group, then a mailbox */
	m = parse(a, "From: Nessuno:;, c@d.test\n\nx\n");
	pg_msg_from(m, &name, &addr);
	assert_true(name == NULL || name[0] == '\0'); /* no display name (GMime gives "") */
	assert_string_equal(addr, "c@d.test");
	/* no From at all */
	m = parse(a, "Subject: x\n\nx\n");
	pg_msg_from(m, &name, &addr);
	assert_null(name);
	assert_null(addr);

	assert_string_equal(pg_addr_domain(a, "x@Pec.Example.IT."), "pec.example.it");
	assert_string_equal(pg_addr_domain(a, "<x@a.test>"), "a.test");
	assert_string_equal(pg_addr_domain(a, "\"a@b\"@c.test"), "c.test");
	assert_null(pg_addr_domain(a, "nobody"));
	assert_null(pg_addr_domain(a, "x@"));
	assert_null(pg_addr_domain(a, NULL));
	pg_arena_free(a);
}

/* ---- multipart ------------------------------------------------------------ */

static const char *mixed = "From: a@b.test\r\n"
			   "Subject: multi\r\n"
			   "MIME-Version: 1.0\r\n"
			   "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
			   "\r\n"
			   "preamble\r\n"
			   "--XX\r\n"
			   "Content-Type: text/plain; charset=iso-8859-1\r\n"
			   "Content-Transfer-Encoding: quoted-printable\r\n"
			   "\r\n"
			   "Perch=E9 no=\r\n"
			   "t soft=3D\r\n"
			   "--XX\r\n"
			   "Content-Type: application/pdf; name=\"x.pdf\"\r\n"
			   "Content-Disposition: attachment;\r\n"
			   " filename*=UTF-8''fattura%20n%C2%B01.pdf\r\n"
			   "Content-Transfer-Encoding: base64\r\n"
			   "\r\n"
			   "JVBE\r\n"
			   "Ri0xLjQK\r\n"
			   "--XX--\r\n"
			   "epilogue\r\n";

static void multipart_tree_and_spans(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	pg_msg *m = parse(a, mixed);
	size_t len = strlen(mixed);
	assert_int_equal(pg_msg_part_count(m), 3);
	const pg_part *r = pg_msg_root(m);
	assert_string_equal(pg_part_content_type(r), "multipart/mixed");
	assert_true(r->is_multipart);
	assert_int_equal(pg_part_child_count(r), 2);
	/* a multipart has no content of its own */
	size_t n = 99;
	assert_null(pg_part_content(r, &n));
	assert_int_equal(n, 0);
	raw_is(r, mixed, len, mixed);
	for (size_t i = 0; i < 2; i++) {
		const pg_part *c = pg_part_child(r, i);
		/* children in order, and in pre-order after their parent */
		assert_ptr_equal(c, pg_msg_part(m, i + 1));
		assert_ptr_equal(c->parent, r);
		assert_int_equal(c->index, i);
		assert_int_equal(pg_part_depth(c), 1);
		assert_ptr_equal(c->msg, m);
	}
	assert_null(pg_part_child(r, 2));
	const pg_part *t = pg_msg_part(m, 1), *pdf = pg_msg_part(m, 2);
	/* exact bytes: headers and body, without the CRLF that belongs to
	 * the next delimiter */
	raw_is(t, mixed, len,
	       "Content-Type: text/plain; charset=iso-8859-1\r\n"
	       "Content-Transfer-Encoding: quoted-printable\r\n"
	       "\r\n"
	       "Perch=E9 no=\r\n"
	       "t soft=3D");
	raw_is(pdf, mixed, len,
	       "Content-Type: application/pdf; name=\"x.pdf\"\r\n"
	       "Content-Disposition: attachment;\r\n"
	       " filename*=UTF-8''fattura%20n%C2%B01.pdf\r\n"
	       "Content-Transfer-Encoding: base64\r\n"
	       "\r\n"
	       "JVBE\r\n"
	       "Ri0xLjQK");
	/* transfer decoding only: the charset stays the part's own */
	content_is(t, "Perch\xe9 not soft=", 16);
	content_is(pdf, "%PDF-1.4\n", 9);
	/* RFC 2231 file name, decoded; an attachment */
	assert_string_equal(pg_part_filename(pdf), "fattura n\xc2\xb0"
						   "1.pdf");
	assert_true(pdf->is_attachment);
	assert_false(t->is_attachment);
	assert_null(pg_part_filename(t));
	/* part headers are the part's own, decoded */
	assert_string_equal(pg_part_header(t, "Content-Transfer-Encoding"), "quoted-printable");
	assert_null(pg_part_header(t, "Subject"));
	assert_string_equal(pg_part_header(r, "Subject"), "multi");
	pg_arena_free(a);
}

static void names_and_encodings(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	const char *m = "Content-Type: multipart/mixed; boundary=b\n"
			"\n"
			"--b\n"
			"Content-Type: application/octet-stream;\n"
			" name=\"=?UTF-8?B?cmljZXZ1dGEuemlw?=\"\n"
			"\n"
			"PK\n"
			"--b\n"
			"Content-Type: text/plain\n"
			"Content-Transfer-Encoding: x-uuencode\n"
			"\n"
			"begin 644 note.txt\n"
			"):&D@=&AE<F4*\n"
			"`\n"
			"end\n"
			"--b\n"
			"Content-Type: text/plain\n"
			"Content-Transfer-Encoding: 8bit\n"
			"Content-Disposition: inline\n"
			"\n"
			"gi\xc3\xa0\n"
			"--b\n"
			"Content-Type: application/pdf\n"
			"Content-Disposition: attachment\n"
			"Content-Transfer-Encoding: BASE64\n"
			"\n"
			"JVBE Ri0x\n"
			"LjQK====\n"
			"--b--\n";
	pg_msg *msg = parse(a, m);
	assert_int_equal(pg_msg_part_count(msg), 5);
	/* an encoded-word in a name parameter, decoded; a name makes an attachment */
	const pg_part *zip = pg_msg_part(msg, 1);
	assert_string_equal(pg_part_filename(zip), "ricevuta.zip");
	assert_true(zip->is_attachment);
	/* uuencode goes through GMime's decoder */
	content_is(pg_msg_part(msg, 2), "hi there\n", 9);
	/* 8bit: identity (the LF before the delimiter is the delimiter's) */
	const pg_part *txt = pg_msg_part(msg, 3);
	content_is(txt, "gi\xc3\xa0", 4);
	assert_false(txt->is_attachment);
	/* attachment without a name; encoding names in any case; base64
	 * with spaces and padding */
	const pg_part *pdf = pg_msg_part(msg, 4);
	assert_true(pdf->is_attachment);
	assert_null(pg_part_filename(pdf));
	content_is(pdf, "%PDF-1.4\n", 9);
	pg_arena_free(a);
}

/* ---- nested messages -------------------------------------------------------- */

static const char *nested = "Subject: outer\n"
			    "Content-Type: multipart/mixed; boundary=o\n"
			    "\n"
			    "--o\n"
			    "\n"
			    "see attached\n"
			    "--o\n"
			    "Content-Type: message/rfc822; name=postacert.eml\n"
			    "Content-Disposition: inline; filename=postacert.eml\n"
			    "\n"
			    "Subject: inner\n"
			    "From: Ufficio <Ufficio@Inner.Test>\n"
			    "Content-Type: multipart/alternative; boundary=i\n"
			    "\n"
			    "--i\n"
			    "Content-Type: text/plain\n"
			    "\n"
			    "plain\n"
			    "--i\n"
			    "Content-Type: text/html\n"
			    "\n"
			    "<p>html</p>\n"
			    "--i--\n"
			    "--o\n"
			    "Content-Type: application/octet-stream\n"
			    "\n"
			    "tail\n"
			    "--o--\n";

static const char *inner_bytes = "Subject: inner\n"
				 "From: Ufficio <Ufficio@Inner.Test>\n"
				 "Content-Type: multipart/alternative; boundary=i\n"
				 "\n"
				 "--i\n"
				 "Content-Type: text/plain\n"
				 "\n"
				 "plain\n"
				 "--i\n"
				 "Content-Type: text/html\n"
				 "\n"
				 "<p>html</p>\n"
				 "--i--";

static void nested_message(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	pg_msg *m = parse(a, nested);
	size_t len = strlen(nested);
	/* pre-order, the inner message's entities in their place */
	static const struct {
		const char *ctype;
		unsigned depth, index;
	} want[] = {
		{"multipart/mixed", 0, 0},          {"text/plain", 1, 0}, {"message/rfc822", 1, 1},
		{"multipart/alternative", 2, 0},    {"text/plain", 3, 0}, {"text/html", 3, 1},
		{"application/octet-stream", 1, 2},
	};
	assert_int_equal(pg_msg_part_count(m), 7);
	for (size_t i = 0; i < 7; i++) {
		const pg_part *p = pg_msg_part(m, i);
		assert_string_equal(pg_part_content_type(p), want[i].ctype);
		assert_int_equal(pg_part_depth(p), want[i].depth);
		assert_int_equal(p->index, want[i].index);
	}
	const pg_part *mp = pg_msg_part(m, 2);
	assert_true(mp->is_message);
	assert_string_equal(pg_part_filename(mp), "postacert.eml");
	/* the message part's children are not multipart children */
	assert_int_equal(pg_part_child_count(mp), 0);
	pg_msg *in = mp->inner;
	assert_non_null(in);
	assert_ptr_equal(in->parent_part, mp);
	assert_int_equal(in->depth, 2);
	assert_int_equal(pg_msg_part_count(in), 3);
	/* the same entities, shared with the outer list */
	for (size_t i = 0; i < 3; i++) {
		assert_ptr_equal(pg_msg_part(in, i), pg_msg_part(m, 3 + i));
		assert_ptr_equal(pg_msg_part(in, i)->msg, in);
	}
	const pg_part *ir = pg_msg_root(in);
	assert_null(ir->parent); /* a message's top level */
	assert_string_equal(pg_msg_header(in, "Subject"), "inner");
	assert_string_equal(pg_part_header(ir, "Subject"), "inner");
	assert_string_equal(pg_msg_header(m, "Subject"), "outer");
	const char *name, *addr;
	pg_msg_from(in, &name, &addr);
	assert_string_equal(addr, "ufficio@inner.test");
	/* exact bytes, inside the outer buffer: the message part's content is
	 * the inner message as transmitted, and so is its top level */
	raw_is(ir, nested, len, inner_bytes);
	content_is(mp, inner_bytes, strlen(inner_bytes));
	/* the inner message's own bytes, not the outer buffer it lies in */
	size_t n;
	const char *raw = pg_msg_raw(in, &n);
	assert_int_equal(n, strlen(inner_bytes));
	assert_memory_equal(raw, inner_bytes, n);
	assert_ptr_equal(raw, pg_part_raw(ir, &n));
	raw_is(pg_msg_part(in, 1), nested, len, "Content-Type: text/plain\n\nplain");
	raw_is(pg_msg_part(in, 2), nested, len, "Content-Type: text/html\n\n<p>html</p>");
	content_is(pg_msg_part(in, 2), "<p>html</p>", 11);
	raw_is(pg_msg_part(m, 6), nested, len, "Content-Type: application/octet-stream\n\ntail");
	pg_arena_free(a);
}

/* Spans are trusted only where GMime and the raw scan agree on the shape
 * (here they read a comment in Content-Type differently): elsewhere there
 * are no raw bytes, and content still decodes through GMime. */
static void unmatched_spans_are_null(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	static const char mm[] = "Content-Type: multipart/mixed (c; boundary=Y); boundary=X\n"
				 "\n"
				 "--X\n"
				 "\n"
				 "a\n"
				 "--X\n"
				 "Content-Type: message/rfc822\n"
				 "\n"
				 "Subject: i\n"
				 "\n"
				 "b\n"
				 "--X--\n";
	unsigned budget = big.max_parts;
	pg_msg *m = NULL;
	char err[256];
	assert_int_equal(
		pg_msg_parse(a, mm, sizeof(mm) - 1, &big, 0, &budget, &m, err, sizeof(err)), PG_OK);
	assert_int_equal(pg_msg_part_count(m), 4);
	size_t n = 99;
	assert_null(pg_part_raw(pg_msg_part(m, 1), &n));
	assert_int_equal(n, 0);
	content_is(pg_msg_part(m, 1), "a", 1);
	pg_msg *in = pg_msg_part(m, 2)->inner;
	assert_non_null(in);
	assert_string_equal(pg_msg_header(in, "Subject"), "i");
	n = 99;
	assert_null(pg_msg_raw(in, &n));
	assert_int_equal(n, 0);
	/* the top level is still the whole input */
	assert_non_null(pg_msg_raw(m, &n));
	assert_int_equal(n, m->len);
	pg_arena_free(a);
}

static const char *encoded_inner =
	"Content-Type: multipart/mixed; boundary=o\n"
	"\n"
	"--o\n"
	"Content-Type: message/rfc822\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"U3ViamVjdDogZW5jCkNvbnRlbnQtVHlwZTogbXVsdGlwYXJ0L21peGVkOyBib3VuZGFyeT1p\n"
	"CgotLWkKCm9uZQotLWkKCnR3bwotLWktLQo=\n"
	"--o--\n";
static const char *encoded_inner_decoded = "Subject: enc\n"
					   "Content-Type: multipart/mixed; boundary=i\n"
					   "\n"
					   "--i\n"
					   "\n"
					   "one\n"
					   "--i\n"
					   "\n"
					   "two\n"
					   "--i--\n";

/* Against RFC 2046 but seen in real envelopes: an encoded message/rfc822
 * is decoded and parsed as a message of its own, its depth continuing. */
static void encoded_nested_message(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	pg_msg *m = parse(a, encoded_inner);
	assert_int_equal(pg_msg_part_count(m), 5);
	const pg_part *mp = pg_msg_part(m, 1);
	assert_true(mp->is_message);
	pg_msg *in = mp->inner;
	assert_non_null(in);
	assert_ptr_equal(in->parent_part, mp);
	assert_int_equal(in->depth, 2);
	assert_string_equal(pg_msg_header(in, "Subject"), "enc");
	size_t dl = strlen(encoded_inner_decoded);
	content_is(mp, encoded_inner_decoded, dl);
	/* the inner bytes are the decoded ones; spans refer to them */
	size_t n;
	const char *raw = pg_msg_raw(in, &n);
	assert_int_equal(n, dl);
	assert_memory_equal(raw, encoded_inner_decoded, dl);
	raw_is(pg_msg_root(in), raw, n, encoded_inner_decoded);
	raw_is(pg_msg_part(in, 1), raw, n, "\none");
	raw_is(pg_msg_part(in, 2), raw, n, "\ntwo");
	assert_int_equal(pg_part_depth(pg_msg_part(m, 3)), 3);
	assert_ptr_equal(pg_msg_part(m, 4), pg_msg_part(in, 2));

	/* what does not decode to a message stays a leaf */
	m = parse(a, "Content-Type: message/rfc822\n"
		     "Content-Transfer-Encoding: base64\n"
		     "\n"
		     "\n");
	assert_int_equal(pg_msg_part_count(m), 1);
	assert_true(pg_msg_root(m)->is_message);
	assert_null(pg_msg_root(m)->inner);
	pg_arena_free(a);
}

/* ---- odd input ---------------------------------------------------------------- */

static void odd_input(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	/* empty: one empty entity */
	pg_msg *m = parse(a, "");
	assert_int_equal(pg_msg_part_count(m), 1);
	assert_string_equal(pg_part_content_type(pg_msg_root(m)), "text/plain");
	content_is(pg_msg_root(m), "", 0);
	/* no header at all: all of it is the body */
	const char *bare = "just a body line\nand another\n";
	m = parse(a, bare);
	assert_int_equal(pg_msg_part_count(m), 1);
	content_is(pg_msg_root(m), bare, strlen(bare));
	assert_null(pg_msg_header(m, "Subject"));
	/* headers only, no blank line, no newline */
	m = parse(a, "Subject: only");
	assert_string_equal(pg_msg_header(m, "Subject"), "only");
	content_is(pg_msg_root(m), "", 0);
	/* a multipart that never closes: the last part runs to the end */
	const char *open = "Content-Type: multipart/mixed; boundary=z\n\n--z\n\nfirst\n--z\n\nlast";
	m = parse(a, open);
	assert_int_equal(pg_msg_part_count(m), 3);
	raw_is(pg_msg_part(m, 2), open, strlen(open), "\nlast");
	/* NUL bytes inside a body are bytes like the others */
	static const char withnul[] = "Subject: z\n\na\0b\n";
	unsigned budget = 10;
	pg_msg *out = NULL;
	char err[128];
	assert_int_equal(pg_msg_parse(a, withnul, sizeof(withnul) - 1, &big, 0, &budget, &out, err,
				      sizeof(err)),
			 PG_OK);
	content_is(pg_msg_root(out), "a\0b\n", 4);
	pg_arena_free(a);
}

/* ---- caps --------------------------------------------------------------------- */

static void caps_are_typed(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	pg_limits lim = big;
	char m[16384];

	/* a header field over max_header_field */
	size_t o = (size_t)snprintf(m, sizeof(m), "Subject: ");
	memset(m + o, 'x', 1200);
	strcpy(m + o + 1200, "\n\nbody\n");
	parse_lim(a, m, &lim, PG_ERR_HEADER_TOO_LONG);
	/* inside a part too */
	o = (size_t)snprintf(m, sizeof(m), "Content-Type: multipart/mixed; boundary=b\n\n--b\nX: ");
	memset(m + o, 'x', 1200);
	strcpy(m + o + 1200, "\n\nbody\n--b--\n");
	parse_lim(a, m, &lim, PG_ERR_HEADER_TOO_LONG);
	/* a header block over max_header_block */
	o = 0;
	for (int i = 0; i < 6; i++) {
		o += (size_t)snprintf(m + o, sizeof(m) - o, "X-%d: ", i);
		memset(m + o, 'y', 900);
		o += 900;
		m[o++] = '\n';
	}
	strcpy(m + o, "\nbody\n");
	parse_lim(a, m, &lim, PG_ERR_HEADER_TOO_LONG);

	/* nesting: max_depth levels below the top are allowed, one more is not */
	lim.max_depth = 3;
	o = 0;
	for (int i = 0; i < 3; i++)
		o += (size_t)snprintf(m + o, sizeof(m) - o,
				      "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i,
				      i);
	strcpy(m + o, "\nleaf\n");
	pg_msg *ok = parse_lim(a, m, &lim, PG_OK);
	assert_int_equal(pg_part_depth(pg_msg_part(ok, ok->nparts - 1)), 3);
	o = 0;
	for (int i = 0; i < 4; i++)
		o += (size_t)snprintf(m + o, sizeof(m) - o,
				      "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i,
				      i);
	strcpy(m + o, "\nleaf\n");
	parse_lim(a, m, &lim, PG_ERR_TOO_DEEP);
	/* message/rfc822 counts as a level */
	strcpy(m, "Content-Type: message/rfc822\n\n"
		  "Content-Type: message/rfc822\n\n"
		  "Content-Type: message/rfc822\n\n"
		  "Content-Type: message/rfc822\n\n"
		  "Subject: deep\n\nx\n");
	parse_lim(a, m, &lim, PG_ERR_TOO_DEEP);
	/* and so does an encoded one, parsed later: its depth continues */
	lim.max_depth = 2;
	strcpy(m, "Content-Type: multipart/mixed; boundary=o\n\n--o\n"
		  "Content-Type: message/rfc822\n"
		  "Content-Transfer-Encoding: base64\n\n"
		  "U3ViamVjdDogZW5jCkNvbnRlbnQtVHlwZTogbXVsdGlwYXJ0L21peGVkOyBib3VuZGFyeT1p\n"
		  "CgotLWkKCm9uZQotLWkKCnR3bwotLWktLQo=\n"
		  "--o--\n");
	parse_lim(a, m, &lim, PG_ERR_TOO_DEEP);

	/* parts: max_parts entities are allowed, one more is not */
	lim = big;
	lim.max_parts = 6;
	o = (size_t)snprintf(m, sizeof(m), "Content-Type: multipart/mixed; boundary=b\n\n");
	for (int i = 0; i < 5; i++)
		o += (size_t)snprintf(m + o, sizeof(m) - o, "--b\n\npart %d\n", i);
	strcpy(m + o, "--b--\n");
	ok = parse_lim(a, m, &lim, PG_OK);
	assert_int_equal(pg_msg_part_count(ok), 6);
	lim.max_parts = 5;
	parse_lim(a, m, &lim, PG_ERR_TOO_MANY_PARTS);
	pg_arena_free(a);
}

/* The raw scan guards GMime with the caps, but reads some shapes
 * differently: a line that is no header field ends its header block (GMime
 * skips the line), an RFC 2231 boundary is no boundary to it.  Whatever
 * GMime builds beyond what the raw scan saw is capped all the same. */
static void caps_hold_where_parsers_disagree(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	static const char *const heads[] = {
		"Subject: x\nnot a header line\nContent-Type: multipart/mixed; boundary=b0\n\n",
		"Content-Type: multipart/mixed; boundary*=''b0\n\n",
	};
	char m[16384];
	for (size_t h = 0; h < 2; h++) {
		/* 60 parts, 50 allowed */
		size_t o = (size_t)snprintf(m, sizeof(m), "%s", heads[h]);
		for (int i = 0; i < 60; i++)
			o += (size_t)snprintf(m + o, sizeof(m) - o, "--b0\n\npart %d\n", i);
		strcpy(m + o, "--b0--\n");
		parse_lim(a, m, &big, PG_ERR_TOO_MANY_PARTS);
		/* 12 levels, 8 allowed */
		o = (size_t)snprintf(m, sizeof(m), "%s--b0\n", heads[h]);
		for (int i = 1; i < 12; i++)
			o += (size_t)snprintf(
				m + o, sizeof(m) - o,
				"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
		strcpy(m + o, "\nleaf\n");
		parse_lim(a, m, &big, PG_ERR_TOO_DEEP);
		/* within the caps: parsed, every entity paid for */
		o = (size_t)snprintf(m, sizeof(m), "%s", heads[h]);
		for (int i = 0; i < 10; i++)
			o += (size_t)snprintf(m + o, sizeof(m) - o, "--b0\n\npart %d\n", i);
		strcpy(m + o, "--b0--\n");
		pg_msg *ok = parse_lim(a, m, &big, PG_OK);
		assert_int_equal(pg_msg_part_count(ok), 11);
	}
	pg_arena_free(a);
}

/* Where the parsers disagree, GMime's extra parts are refused before GMime
 * builds them (bguard.c): a message of many empty parts is turned away by
 * counting its delimiter lines, so it costs neither GMime's tree nor its
 * time (a million such parts took 1.3 GB).  Each shape is refused by the
 * guard ("delimiter lines" in the reason), and the same shape within the
 * caps still parses. */
static void hidden_parts_refused_before_gmime(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	static const char *const heads[] = {
		"Subject: x\nnot a header line\nContent-Type: multipart/mixed; boundary=b0\n\n",
		"Content-Type: multipart/mixed; boundary*=''b0\n\n",
		"Content-Type: multipart/mixed; boundary*=utf-8''b%30\n\n",
		"Content-Type: multipart/mixed; boundary*0=\"b\"; boundary*1=\"0\"\n\n",
		"Content-Type: multipart/mixed;\n BOUNDARY = \"b0  \"\n\n",
	};
	size_t cap = 200000;
	char *m = malloc(cap);
	assert_non_null(m);
	for (size_t h = 0; h < sizeof heads / sizeof heads[0]; h++) {
		size_t o = (size_t)snprintf(m, cap, "%s", heads[h]);
		for (int i = 0; i < 20000; i++)
			o += (size_t)snprintf(m + o, cap - o, "--b0%s\n\n", i % 2 ? "  " : "");
		strcpy(m + o, "--b0--\n");
		unsigned budget = big.max_parts;
		pg_msg *out = NULL;
		char err[256] = "";
		pg_status st = pg_msg_parse(a, m, strlen(m), &big, 0, &budget, &out, err, sizeof(err));
		/* the last shape the raw scan reads as GMime does: it refuses it */
		if (st != PG_ERR_TOO_MANY_PARTS || (h < 4 && strstr(err, "delimiter lines") == NULL))
			fail_msg("shape %zu: status %d (%s)", h, st, err);
		o = (size_t)snprintf(m, cap, "%s", heads[h]);
		for (int i = 0; i < 20; i++)
			o += (size_t)snprintf(m + o, cap - o, "--b0\n\npart %d\n", i);
		strcpy(m + o, "--b0--\n");
		parse_lim(a, m, &big, PG_OK);
	}
	free(m);
	pg_arena_free(a);
}

/* A chain of message/rfc822 parts costs GMime an entity per level whatever
 * their encoding: the guard counts their Content-Type lines before GMime
 * runs (100,000 quoted-printable levels in 7 MB took 500 MB). */
static void message_chain_refused_before_gmime(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	static const char lvl[] =
		"Content-Type: message/rfc822\nContent-Transfer-Encoding: quoted-printable\n\n";
	size_t n = 5000, cap = n * (sizeof(lvl) - 1) + 64;
	char *m = malloc(cap);
	assert_non_null(m);
	size_t o = (size_t)snprintf(m, cap, "Subject: x\n");
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(m + o, cap - o, "%s", lvl);
	snprintf(m + o, cap - o, "\nhello\n");
	unsigned budget = big.max_parts;
	pg_msg *out = NULL;
	char err[256] = "";
	assert_int_equal(pg_msg_parse(a, m, strlen(m), &big, 0, &budget, &out, err, sizeof(err)),
			 PG_ERR_TOO_MANY_PARTS);
	assert_non_null(strstr(err, "message/* types"));
	free(m);
	pg_arena_free(a);
}

/* Quoted-printable that hides each level's header ("=43ontent-Type") is
 * decoded and parsed level by level, each level costing its whole size:
 * only PG_ENCODED_NEST_MAX encoded levels are parsed, deeper ones stay
 * leaves. */
static char *qp_hide(const char *in)
{
	size_t n = strlen(in);
	char *out = malloc(3 * n + 1), *o = out;
	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '=' || (in[i] == 'C' && (i == 0 || in[i - 1] == '\n'))) {
			o += sprintf(o, "=%02X", (unsigned char)in[i]);
		} else {
			*o++ = in[i];
		}
	}
	*o = '\0';
	return out;
}

static void encoded_nesting_is_capped(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	char *cur = strdup("Subject: bottom\n\nthe innermost text\n");
	for (int i = 0; i < 6; i++) {
		char *enc = qp_hide(cur);
		size_t cap = strlen(enc) + 200;
		char *next = malloc(cap);
		snprintf(next, cap,
			 "Subject: level %d\nContent-Type: message/rfc822\n"
			 "Content-Transfer-Encoding: quoted-printable\n\n%s",
			 i, enc);
		free(enc);
		free(cur);
		cur = next;
	}
	pg_msg *m = parse_lim(a, cur, &big, PG_OK);
	unsigned levels = 0;
	for (const pg_msg *q = m; q != NULL;) {
		const pg_msg *inner = NULL;
		for (size_t i = 0; i < q->nparts && inner == NULL; i++)
			if (q->parts[i]->inner != NULL && q->parts[i]->msg == q)
				inner = q->parts[i]->inner;
		if (inner != NULL)
			levels++;
		q = inner;
	}
	assert_int_equal(levels, PG_ENCODED_NEST_MAX);
	free(cur);
	pg_arena_free(a);
}

/* The part budget is the whole scan's: an encoded inner message parsed
 * after the outer one draws on what is left. */
static void budget_spans_nested_parses(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	char err[256] = "";
	pg_msg *out = NULL;
	/* outer: 2 entities (the encoded message is a leaf to the raw scan);
	 * inner: 3 */
	unsigned budget = 5;
	assert_int_equal(pg_msg_parse(a, encoded_inner, strlen(encoded_inner), &big, 0, &budget,
				      &out, err, sizeof(err)),
			 PG_OK);
	assert_int_equal(budget, 0);
	budget = 4;
	out = NULL;
	assert_int_equal(pg_msg_parse(a, encoded_inner, strlen(encoded_inner), &big, 0, &budget,
				      &out, err, sizeof(err)),
			 PG_ERR_TOO_MANY_PARTS);
	assert_non_null(strstr(err, "more MIME parts than the limit"));
	/* a budget smaller than the outer message alone */
	budget = 1;
	assert_int_equal(
		pg_msg_parse(a, mixed, strlen(mixed), &big, 0, &budget, &out, err, sizeof(err)),
		PG_ERR_TOO_MANY_PARTS);
	assert_int_equal(budget, 1); /* nothing was spent */
	pg_arena_free(a);
}

int main(void)
{
	g_mime_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(simple_message),
		cmocka_unit_test(header_lookups),
		cmocka_unit_test(from_and_domains),
		cmocka_unit_test(multipart_tree_and_spans),
		cmocka_unit_test(names_and_encodings),
		cmocka_unit_test(nested_message),
		cmocka_unit_test(unmatched_spans_are_null),
		cmocka_unit_test(encoded_nested_message),
		cmocka_unit_test(odd_input),
		cmocka_unit_test(caps_are_typed),
		cmocka_unit_test(caps_hold_where_parsers_disagree),
		cmocka_unit_test(hidden_parts_refused_before_gmime),
		cmocka_unit_test(message_chain_refused_before_gmime),
		cmocka_unit_test(encoded_nesting_is_capped),
		cmocka_unit_test(budget_spans_nested_parses),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	g_mime_shutdown();
	return r;
}
