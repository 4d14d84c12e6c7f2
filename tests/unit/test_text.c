/* Unit tests: src/mime/text.c - text of a message, HTML rendering, links, folding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "harness.h"
#include "mime/text.h"
#include "util/str.h"

static const char *msg_alt =
	"From: a@b.test\n"
	"Subject: =?iso-8859-1?q?Fattura_n=B0_12_=E8_pronta?=\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/alternative; boundary=x\n"
	"\n"
	"--x\n"
	"Content-Type: text/plain; charset=iso-8859-1\n"
	"Content-Transfer-Encoding: quoted-printable\n"
	"\n"
	"Perch=E9 pagare?\n"
	"--x\n"
	"Content-Type: text/html; charset=utf-8\n"
	"\n"
	"<html><head><style>p{color:red}</style><script>var x='hidden';</script></head>"
	"<body><p>Gentile cliente,</p><div>scarica la <a href=\"http://evil.test/&amp;x\">"
	"fattura <b>qui</b></a></div><a href='https://agenziaentrate.gov.it'>"
	"<img alt=\"logo AdE\" src=x></a> &euro; 10&nbsp;EUR</body></html>\n"
	"--x\n"
	"Content-Type: text/plain; name=allegato.txt\n"
	"Content-Disposition: attachment; filename=allegato.txt\n"
	"\n"
	"not body text\n"
	"--x--\n";

static void text_parts_and_links(void **state)
{
	(void)state;
	harness *h = harness_open_mem(msg_alt, strlen(msg_alt), NULL);
	const pg_text *t = pg_msg_text(h->msg);
	assert_non_null(t);
	assert_int_equal(t->nparts, 2);
	assert_string_equal(t->subject, "Fattura n\xc2\xb0 12 \xc3\xa8 pronta");
	assert_false(t->parts[0].html);
	assert_string_equal(t->parts[0].text, "Perch\xc3\xa9 pagare?");
	assert_true(t->parts[1].html);
	const char *html = t->parts[1].text;
	assert_non_null(strstr(html, "Gentile cliente,"));
	assert_non_null(strstr(html, "scarica la fattura qui"));
	assert_non_null(strstr(html, "\xe2\x82\xac 10"));
	assert_null(strstr(html, "hidden"));
	assert_null(strstr(html, "color"));
	assert_null(strstr(t->all, "not body text"));
	assert_int_equal(t->nlinks, 2);
	assert_string_equal(t->links[0].href, "http://evil.test/&x");
	assert_string_equal(t->links[0].shown, "fattura qui");
	assert_string_equal(t->links[1].href, "https://agenziaentrate.gov.it");
	assert_string_equal(t->links[1].shown, "logo AdE");
	/* cached */
	assert_ptr_equal(pg_msg_text(h->msg), t);
	harness_close(h);
}

static void stray_quote_hides_nothing(void **state)
{
	(void)state;
	/* A stray quote after a value (browsers ignore it) must not swallow
	 * the rest of the document; nor may an unclosed value. */
	const char *m =
		"Content-Type: text/html\n\n"
		"<table cellpadding=0 width=\"100%\"\"><tr><td><a href=\"http://1.2.3.4/\">"
		"http://www.ebay.com/x</a> hello</td></tr></table><p title=\"open>after</p>";
	harness *h = harness_open_mem(m, strlen(m), NULL);
	const pg_text *t = pg_msg_text(h->msg);
	assert_non_null(t);
	assert_int_equal(t->nlinks, 1);
	assert_string_equal(t->links[0].href, "http://1.2.3.4/");
	assert_string_equal(t->links[0].shown, "http://www.ebay.com/x");
	assert_non_null(strstr(t->all, "hello"));
	assert_non_null(strstr(t->all, "after"));
	harness_close(h);
}

static void folding(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	size_t n;
	assert_string_equal(pg_text_fold(a, "FATTURA Fattura", 15, &n), "fattura fattura");
	/* fullwidth letters fold to ASCII under NFKC */
	const char *fw = "\xef\xbd\x86\xef\xbd\x81\xef\xbd\x94\xef\xbd\x94\xef\xbd\x95\xef\xbd\x92"
			 "\xef\xbd\x81";
	assert_string_equal(pg_text_fold(a, fw, strlen(fw), &n), "fattura");
	assert_string_equal(pg_text_fold(a, "PERCH\xc3\x89 ok", 10, &n), "perch\xc3\xa9 ok");
	/* invalid UTF-8 is kept, never dropped */
	assert_string_equal(pg_text_fold(a, "A\xff", 2, &n), "a\xff");
	assert_string_equal(pg_text_fold(a, "", 0, &n), "");
	pg_arena_free(a);
}

/* The Latin-1 letters fold without GLib: the same as GLib's NFKC and case
 * folding, every one of U+00C0..U+00FF, beside ASCII and with others. */
static void folding_latin1(void **state)
{
	(void)state;
	pg_arena *a = pg_arena_new();
	char w[64];
	for (unsigned d = 0x80; d <= 0xBF; d++) {
		const char *ctx[] = {"%c%cA", "Z%c%c", "x%c%c\xcc\x81 ", "%c%c\xc2\xb2 Q"};
		for (size_t k = 0; k < sizeof(ctx) / sizeof(ctx[0]); k++) {
			snprintf(w, sizeof(w), ctx[k], 0xC3, (int)d);
			size_t n;
			const char *f = pg_text_fold(a, w, strlen(w), &n);
			gchar *nf = g_utf8_normalize(w, -1, G_NORMALIZE_NFKC);
			gchar *cf = g_utf8_casefold(nf, -1);
			assert_string_equal(f, cf);
			assert_int_equal(n, strlen(cf));
			g_free(cf);
			g_free(nf);
		}
	}
	/* and the common symbols (pg_fold_plain), which GLib keeps or makes
	 * a space */
	static const char *const sym[] = {
		"\xc2\xa0", "\xc2\xa3", "\xc2\xa7", "\xc2\xa9", "\xc2\xab", "\xc2\xae",
		"\xc2\xb0", "\xc2\xb1", "\xc2\xb6", "\xc2\xb7", "\xc2\xbb", "\xe2\x80\x93",
		"\xe2\x80\x94", "\xe2\x80\x98", "\xe2\x80\x99", "\xe2\x80\x9c",
		"\xe2\x80\x9d", "\xe2\x80\xa2", "\xe2\x82\xac"};
	for (size_t k = 0; k < sizeof(sym) / sizeof(sym[0]); k++) {
		bool space;
		assert_int_equal(pg_fold_plain(sym[k], strlen(sym[k]), &space), strlen(sym[k]));
		snprintf(w, sizeof(w), "Ab%s\xc3\x89x%s", sym[k], sym[k]);
		size_t n;
		const char *f = pg_text_fold(a, w, strlen(w), &n);
		gchar *nf = g_utf8_normalize(w, -1, G_NORMALIZE_NFKC);
		gchar *cf = g_utf8_casefold(nf, -1);
		assert_string_equal(f, cf);
		g_free(cf);
		g_free(nf);
	}
	pg_arena_free(a);
}

static void hostile_html(void **state)
{
	(void)state;
	/* deep nesting and many links stay bounded */
	char *m = malloc(400000);
	size_t o = (size_t)sprintf(m, "Content-Type: text/html\n\n");
	for (int i = 0; i < 20000; i++)
		o += (size_t)sprintf(m + o, "<div>");
	for (int i = 0; i < 3000; i++)
		o += (size_t)sprintf(m + o, "<a href=x%d>y</a>", i);
	m[o] = '\0';
	harness *h = harness_open_mem(m, o, NULL);
	const pg_text *t = pg_msg_text(h->msg);
	assert_non_null(t);
	assert_true(t->nlinks <= 2000);
	harness_close(h);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(text_parts_and_links),
		cmocka_unit_test(stray_quote_hides_nothing),
		cmocka_unit_test(folding),
		cmocka_unit_test(folding_latin1),
		cmocka_unit_test(hostile_html),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
