/*
 * fuzz_attach.c - the attachment analyser and pg_attach_each_member().
 *
 * The input is walked as an archive (every member's bytes are read, so
 * that ASan sees them), then attached, base64-encoded, to a minimal message
 * whose text gives a password, under a name picked by the input's length
 * (an archive, a claimed document, a signed invoice, a double extension,
 * a disk image, no name at all), and the analyser runs on the message with
 * the built-in configuration.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "engine/config.h"
#include "mime/msg.h"
#include "scan/analyser.h"
#include "scan/attach.h"

static int touch(void *ctx, const char *path, const unsigned char *data, size_t len)
{
	unsigned *sum = ctx;
	for (size_t i = 0; i < len; i++)
		*sum += data[i];
	*sum += (unsigned)strlen(path);
	return 0;
}

typedef struct fixture {
	pg_config *cfg;
	void *state;
} fixture;

static fixture *fixture_get(void)
{
	static fixture fx;
	if (fx.cfg == NULL) {
		g_mime_init();
		char err[512];
		/* Small caps keep each run short; the caps paths get exercised. */
		static const char conf[] =
			"attach = { max_archive_bytes = 4194304; max_member_size = 1048576; };";
		pg_status st =
			pg_config_load_text(conf, "fuzz", NULL, 0, &fx.cfg, err, sizeof(err));
		if (st == PG_OK)
			st = pg_analyser_attach.init(fx.cfg, &fx.state, err, sizeof(err));
		if (st != PG_OK) {
			fprintf(stderr, "fuzz_attach: %s\n", err);
			abort();
		}
	}
	return &fx;
}

static char *base64(const uint8_t *d, size_t n, size_t *outlen)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *o = malloc(n / 3 * 4 + n / 57 * 2 + 8);
	if (o == NULL)
		abort();
	size_t k = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)d[i + 1] << 8;
		if (i + 2 < n)
			v |= d[i + 2];
		o[k++] = t[v >> 18];
		o[k++] = t[(v >> 12) & 63];
		o[k++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
		o[k++] = i + 2 < n ? t[v & 63] : '=';
		if ((i / 3 + 1) % 19 == 0) {
			o[k++] = '\r';
			o[k++] = '\n';
		}
	}
	*outlen = k;
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fixture *fx = fixture_get();
	unsigned sum = 0;
	pg_status ws = pg_attach_each_member(data, size, 0, touch, &sum);
	if (ws != PG_OK && ws != PG_ERR_TOO_BIG && ws != PG_ERR_NOMEM)
		abort();
	(void)pg_attach_sniff(data, size);

	static const char *const names[] = {
		"name=\"fattura.zip\"",
		"name=\"Fattura_733.pdf\"",
		"name=\"IT01234567890_ABCDE.xml.p7m\"",
		"name=\"Documento.docx\"",
		"name=\"scan.jpg   .vbs\"",
		"name=\"Fattura.iso\"",
		"name=\"NF131692.xls\"",
		"name*=UTF-8''fattura%E2%80%AEfdp.exe",
		"charset=binary", /* no name */
	};
	const char *name = names[size % (sizeof(names) / sizeof(names[0]))];
	size_t blen;
	char *b64 = base64(data, size, &blen);
	static const char head[] =
		"From: a@example.org\r\nTo: b@example.org\r\nSubject: Fattura\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\n--=_b\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n\r\nPassword del file: infected\r\n"
		"--=_b\r\nContent-Type: application/octet-stream; ";
	char *msg = malloc(sizeof(head) + strlen(name) + blen + 128);
	if (msg == NULL)
		abort();
	int n = sprintf(msg, "%s%s\r\nContent-Transfer-Encoding: base64\r\n\r\n", head, name);
	memcpy(msg + n, b64, blen);
	n += (int)blen;
	n += sprintf(msg + n, "\r\n--=_b--\r\n");
	free(b64);

	pg_arena *a = pg_arena_new();
	if (a == NULL)
		abort();
	pg_limits lim = {.max_message_size = 64u << 20,
			 .max_header_field = 64u << 10,
			 .max_header_block = 1u << 20,
			 .max_depth = 32,
			 .max_parts = 1000};
	unsigned budget = lim.max_parts;
	pg_msg *m = NULL;
	char err[256];
	if (pg_msg_parse(a, msg, (size_t)n, &lim, 0, &budget, &m, err, sizeof(err)) == PG_OK) {
		pg_symset syms = {.arena = a};
		pg_actx ax = {.arena = a, .msg = m, .top = m, .cfg = fx->cfg, .syms = &syms};
		pg_status st = pg_analyser_attach.run(&ax, fx->state);
		if (st != PG_OK && st != PG_ERR_NOMEM)
			abort();
		for (size_t i = 0; i < syms.n; i++)
			sum += (unsigned)strlen(syms.v[i].detail ? syms.v[i].detail : "");
	}
	pg_arena_free(a);
	free(msg);
	/* the bytes were read for real: ASan saw each of them */
	__asm__ volatile("" : : "r"(sum));
	return 0;
}
