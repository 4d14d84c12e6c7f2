/*
 * attach.c - the attachment analyser: real types, risky names, archives,
 * Office macros.  See attach.h and docs/analysers/attach.md.
 *
 * Every object (an attachment, or a member of an archive) goes through
 * object_check(): its type by content (object_sniff), its name (risky and
 * double extensions), the name's claim against the content (TYPE_MISMATCH),
 * VBA in OLE2 files, and the members of archives, walked with libarchive
 * under one budget per message (entries, decompressed bytes, nesting).
 *
 * Nothing here is global: the libmagic pool lives in the analyser state,
 * everything of one message in a walk on the stack and the scan's arena,
 * member buffers in malloc'd memory freed before the walk returns.
 */
#include <archive.h>
#include <archive_entry.h>
#include <magic.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime/text.h"
#include "scan/attach.h"
#include "util/str.h"

/* ---- kinds of content ------------------------------------------------------ */

typedef enum kind {
	K_UNKNOWN = 0, /* binary nobody recognised */
	K_EMPTY,
	K_OTHER, /* libmagic named it; nothing here acts on it */
	K_TEXT,
	K_HTML,
	K_XML,
	K_PDF,
	K_RTF,
	K_IMAGE,
	K_CMS,
	K_OLE,
	K_ZIP,
	K_RAR,
	K_7Z,
	K_TAR,
	K_CAB,
	K_GZIP,
	K_BZIP2,
	K_XZ,
	K_ZSTD,
	K_ARCHIVE, /* another archive libmagic knows (arj, lha, cpio...) */
	K_ISO,
	K_UDF,
	K_VHD,
	K_VHDX,
	K_PE,
	K_ELF,
	K_MACHO,
	K_LNK,
	K_COUNT
} kind;

enum {
	KF_DANGER = 1, /* a harmless-looking name must not hide it */
	KF_WALK = 2,   /* libarchive may open it */
	KF_STREAM = 4, /* a single compressed stream (raw format when not tar) */
	KF_EXEC = 8,
	KF_DISK = 16,
	KF_ARCHIVE = 32,
};

static const unsigned kind_flags[K_COUNT] = {
	[K_HTML] = KF_DANGER,
	[K_OLE] = KF_DANGER,
	[K_ZIP] = KF_DANGER | KF_WALK | KF_ARCHIVE,
	[K_RAR] = KF_DANGER | KF_WALK | KF_ARCHIVE,
	[K_7Z] = KF_DANGER | KF_WALK | KF_ARCHIVE,
	[K_TAR] = KF_DANGER | KF_WALK | KF_ARCHIVE,
	[K_CAB] = KF_DANGER | KF_WALK | KF_ARCHIVE,
	[K_GZIP] = KF_DANGER | KF_WALK | KF_STREAM | KF_ARCHIVE,
	[K_BZIP2] = KF_DANGER | KF_WALK | KF_STREAM | KF_ARCHIVE,
	[K_XZ] = KF_DANGER | KF_WALK | KF_STREAM | KF_ARCHIVE,
	[K_ZSTD] = KF_DANGER | KF_WALK | KF_STREAM | KF_ARCHIVE,
	[K_ARCHIVE] = KF_DANGER | KF_WALK | KF_ARCHIVE,
	[K_ISO] = KF_DANGER | KF_WALK | KF_DISK,
	[K_UDF] = KF_DANGER | KF_DISK,
	[K_VHD] = KF_DANGER | KF_DISK,
	[K_VHDX] = KF_DANGER | KF_DISK,
	[K_PE] = KF_DANGER | KF_EXEC,
	[K_ELF] = KF_DANGER | KF_EXEC,
	[K_MACHO] = KF_DANGER | KF_EXEC,
	[K_LNK] = KF_DANGER,
};

typedef struct sniffed {
	kind k;
	const char *mime; /* static, or in the scan's arena (libmagic) */
} sniffed;

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static bool at(const unsigned char *d, size_t n, size_t off, const void *sig, size_t sl)
{
	return off <= n && sl <= n - off && memcmp(d + off, sig, sl) == 0;
}

/* "MZ" alone starts many text files; an executable has either the PE
 * signature where e_lfanew points, or the binary DOS header (NUL bytes). */
static bool looks_pe(const unsigned char *d, size_t n)
{
	if (!at(d, n, 0, "MZ", 2))
		return false;
	if (n >= 0x40) {
		uint32_t off = le32(d + 0x3c);
		if (at(d, n, off, "PE\0\0", 4))
			return true;
	}
	return memchr(d, 0, n < 64 ? n : 64) != NULL;
}

/* Text: no NUL and at most 1% control characters in the first 4 KiB, or a
 * UTF-16 byte order mark.  Charsets do not matter here. */
static bool looks_text(const unsigned char *d, size_t n)
{
	size_t m = n < 4096 ? n : 4096;
	if (at(d, n, 0, "\xff\xfe", 2) || at(d, n, 0, "\xfe\xff", 2))
		return true;
	size_t ctl = 0;
	for (size_t i = 0; i < m; i++) {
		unsigned char c = d[i];
		if (c == 0)
			return false;
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1b) ||
		    c == 0x7f)
			ctl++;
	}
	return ctl * 100 <= m;
}

/* Markup that a browser (or mshta) would run or render as a page: what
 * "HTML posing as a PDF" or as a signed invoice looks like. */
static kind text_kind(const unsigned char *d, size_t n)
{
	size_t m = n < 1024 ? n : 1024;
	size_t i = 0;
	if (at(d, n, 0, "\xef\xbb\xbf", 3))
		i = 3;
	while (i < m && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n'))
		i++;
	static const char *const html[] = {"<html", "<!doctype html", "<script",          "<iframe",
					   "<body", "<head>",         "<meta http-equiv", "<svg"};
	for (const unsigned char *p = d + i; p < d + m;) {
		const unsigned char *lt = memchr(p, '<', (size_t)(d + m - p));
		if (lt == NULL)
			break;
		size_t left = (size_t)(d + m - lt);
		for (size_t k = 0; k < sizeof(html) / sizeof(html[0]); k++) {
			size_t hl = strlen(html[k]);
			if (hl <= left && pg_strneq_ci((const char *)lt, html[k], hl))
				return K_HTML;
		}
		p = lt + 1;
	}
	if (i < m && d[i] == '<')
		return K_XML;
	return K_TEXT;
}

/* DER ContentInfo: SEQUENCE (definite or indefinite length) starting with
 * the OID 1.2.840.113549.1.7.x (PKCS #7 data, signedData, ...). */
static bool looks_cms(const unsigned char *d, size_t n)
{
	static const unsigned char oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48,
					    0x86, 0xf7, 0x0d, 0x01, 0x07};
	if (n < 2 || d[0] != 0x30)
		return false;
	size_t off;
	if (d[1] == 0x80 || d[1] < 0x80)
		off = 2;
	else if (d[1] >= 0x81 && d[1] <= 0x84)
		off = 2 + (size_t)(d[1] - 0x80);
	else
		return false;
	return at(d, n, off, oid, sizeof(oid));
}

/* Our own checks by magic bytes: the kinds decisions hinge on, decided
 * quickly and the same way on every machine.  libmagic (slower, vaguer on
 * damaged files, database-dependent) only names what is left. */
static sniffed sniff_bytes(const unsigned char *d, size_t n)
{
#define R(kk, mm)                                                                                  \
	return (sniffed)                                                                           \
	{                                                                                          \
		.k = (kk), .mime = (mm)                                                            \
	}
	if (n == 0)
		R(K_EMPTY, "application/x-empty");
	/* ISO 9660 / UDF volume descriptors follow 32 KiB of system area,
	 * which may hold anything (hybrid images start with a boot record). */
	static const size_t vd[] = {0x8001, 0x8801, 0x9001};
	for (size_t i = 0; i < 3; i++) {
		if (at(d, n, vd[i], "CD001", 5))
			R(K_ISO, "application/x-iso9660-image");
		if (at(d, n, vd[i], "BEA01", 5) || at(d, n, vd[i], "NSR02", 5) ||
		    at(d, n, vd[i], "NSR03", 5))
			R(K_UDF, "application/x-udf-image");
	}
	if (at(d, n, 0, "\x4c\0\0\0\x01\x14\x02\0", 8))
		R(K_LNK, "application/x-ms-shortcut");
	if (looks_pe(d, n))
		R(K_PE, "application/x-dosexec");
	if (at(d, n, 0,
	       "\x7f"
	       "ELF",
	       4))
		R(K_ELF, "application/x-executable");
	if (at(d, n, 0, "\xfe\xed\xfa\xce", 4) || at(d, n, 0, "\xfe\xed\xfa\xcf", 4) ||
	    at(d, n, 0, "\xce\xfa\xed\xfe", 4) || at(d, n, 0, "\xcf\xfa\xed\xfe", 4))
		R(K_MACHO, "application/x-mach-binary");
	/* 0xCAFEBABE is also a Java class; a fat Mach-O has few architectures
	 * where a class file has its version (>= 45). */
	if (at(d, n, 0, "\xca\xfe\xba\xbe", 4) && n >= 8 && be32(d + 4) >= 1 && be32(d + 4) <= 20)
		R(K_MACHO, "application/x-mach-binary");
	if (at(d, n, 0, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8))
		R(K_OLE, "application/x-ole-storage");
	if (at(d, n, 0, "PK\x03\x04", 4) || at(d, n, 0, "PK\x05\x06", 4) ||
	    at(d, n, 0, "PK\x07\x08PK\x03\x04", 8))
		R(K_ZIP, "application/zip");
	if (at(d, n, 0, "Rar!\x1a\x07", 6))
		R(K_RAR, "application/x-rar");
	if (at(d, n, 0, "7z\xbc\xaf\x27\x1c", 6))
		R(K_7Z, "application/x-7z-compressed");
	if (at(d, n, 0, "\x1f\x8b\x08", 3))
		R(K_GZIP, "application/gzip");
	if (at(d, n, 0, "BZh", 3) && n >= 4 && d[3] >= '1' && d[3] <= '9')
		R(K_BZIP2, "application/x-bzip2");
	if (at(d, n, 0,
	       "\xfd"
	       "7zXZ\0",
	       6))
		R(K_XZ, "application/x-xz");
	if (at(d, n, 0, "\x28\xb5\x2f\xfd", 4))
		R(K_ZSTD, "application/zstd");
	if (at(d, n, 0, "MSCF\0\0\0\0", 8))
		R(K_CAB, "application/vnd.ms-cab-compressed");
	if (at(d, n, 257, "ustar", 5))
		R(K_TAR, "application/x-tar");
	if (at(d, n, 0, "vhdxfile", 8))
		R(K_VHDX, "application/x-vhdx");
	if (at(d, n, 0, "conectix", 8) || (n >= 512 && at(d, n, n - 512, "conectix", 8)))
		R(K_VHD, "application/x-vhd");
	/* Readers accept "%PDF-" anywhere in the first KiB. */
	if (memmem(d, n < 1024 ? n : 1024, "%PDF-", 5) != NULL)
		R(K_PDF, "application/pdf");
	if (at(d, n, 0, "{\\rtf", 5))
		R(K_RTF, "text/rtf");
	if (at(d, n, 0, "\xff\xd8\xff", 3))
		R(K_IMAGE, "image/jpeg");
	if (at(d, n, 0, "\x89PNG\r\n\x1a\n", 8))
		R(K_IMAGE, "image/png");
	if (at(d, n, 0, "GIF87a", 6) || at(d, n, 0, "GIF89a", 6))
		R(K_IMAGE, "image/gif");
	if (at(d, n, 0, "II*\0", 4) || at(d, n, 0, "MM\0*", 4))
		R(K_IMAGE, "image/tiff");
	if (at(d, n, 0, "RIFF", 4) && at(d, n, 8, "WEBP", 4))
		R(K_IMAGE, "image/webp");
	if (at(d, n, 0, "BM", 2) && n >= 14 && le32(d + 2) == n)
		R(K_IMAGE, "image/bmp");
	if (looks_cms(d, n))
		R(K_CMS, "application/pkcs7-mime");
	if (looks_text(d, n)) {
		kind k = text_kind(d, n);
		R(k, k == K_HTML ? "text/html" : k == K_XML ? "text/xml" : "text/plain");
	}
	R(K_UNKNOWN, NULL);
#undef R
}

const char *pg_attach_sniff(const unsigned char *data, size_t len)
{
	if (data == NULL)
		return NULL;
	sniffed s = sniff_bytes(data, len);
	return s.k == K_EMPTY ? NULL : s.mime;
}

/* What libmagic's MIME types mean here. */
static kind mime_kind(const char *mime)
{
	static const struct {
		const char *mime;
		kind k;
	} map[] = {
		{"application/x-dosexec", K_PE},
		{"application/vnd.microsoft.portable-executable", K_PE},
		{"application/x-msdownload", K_PE},
		{"application/x-executable", K_ELF},
		{"application/x-pie-executable", K_ELF},
		{"application/x-sharedlib", K_ELF},
		{"application/x-mach-binary", K_MACHO},
		{"application/x-ms-shortcut", K_LNK},
		{"application/x-iso9660-image", K_ISO},
		{"application/zip", K_ZIP},
		{"application/x-rar", K_RAR},
		{"application/vnd.rar", K_RAR},
		{"application/x-7z-compressed", K_7Z},
		{"application/gzip", K_GZIP},
		{"application/x-gzip", K_GZIP},
		{"application/x-bzip2", K_BZIP2},
		{"application/x-xz", K_XZ},
		{"application/zstd", K_ZSTD},
		{"application/x-tar", K_TAR},
		{"application/vnd.ms-cab-compressed", K_CAB},
		{"application/x-lha", K_ARCHIVE},
		{"application/x-lzh-compressed", K_ARCHIVE},
		{"application/x-arj", K_ARCHIVE},
		{"application/x-cpio", K_ARCHIVE},
		{"application/pdf", K_PDF},
		{"text/html", K_HTML},
		{"text/xml", K_XML},
		{"application/xml", K_XML},
		{"text/rtf", K_RTF},
		{"application/x-ole-storage", K_OLE},
		{"application/msword", K_OLE},
		{"application/vnd.ms-excel", K_OLE},
		{"application/vnd.ms-powerpoint", K_OLE},
		{"application/vnd.ms-office", K_OLE},
		{"application/x-msi", K_OLE},
		{"application/octet-stream", K_UNKNOWN},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(mime, map[i].mime) == 0)
			return map[i].k;
	if (strncmp(mime, "image/", 6) == 0)
		return K_IMAGE;
	if (strncmp(mime, "text/", 5) == 0)
		return K_TEXT;
	return K_OTHER;
}

/* ---- names --------------------------------------------------------------- */

enum xclass { X_NONE = 0, X_EXEC, X_SCRIPT, X_SHORTCUT, X_DISK, X_ARCHIVE, X_DOC };
enum claim {
	C_NONE = 0,
	C_PDF,
	C_OFFICE,
	C_OOXML,
	C_ODF,
	C_XML,
	C_CMS,
	C_IMAGE,
	C_TEXT,
	C_MEDIA,
	C_EML
};

static const struct ext_def {
	const char *ext;
	unsigned char cls;
	unsigned char claim;
} ext_table[] = {
	/* what Windows runs on a double click */
	{"exe", X_EXEC, 0},
	{"scr", X_EXEC, 0},
	{"com", X_EXEC, 0},
	{"pif", X_EXEC, 0},
	{"msi", X_EXEC, 0},
	{"msp", X_EXEC, 0},
	{"dll", X_EXEC, 0},
	{"cpl", X_EXEC, 0},
	{"jar", X_EXEC, 0},
	{"xll", X_EXEC, 0},
	/* what Windows Script Host, mshta, PowerShell or cmd run */
	{"js", X_SCRIPT, 0},
	{"jse", X_SCRIPT, 0},
	{"vbs", X_SCRIPT, 0},
	{"vbe", X_SCRIPT, 0},
	{"wsf", X_SCRIPT, 0},
	{"wsh", X_SCRIPT, 0},
	{"wsc", X_SCRIPT, 0},
	{"hta", X_SCRIPT, 0},
	{"ps1", X_SCRIPT, 0},
	{"psm1", X_SCRIPT, 0},
	{"bat", X_SCRIPT, 0},
	{"cmd", X_SCRIPT, 0},
	{"sct", X_SCRIPT, 0},
	{"lnk", X_SHORTCUT, 0},
	/* mounted by a double click since Windows 8: contents escape Mark-of-the-Web */
	{"iso", X_DISK, 0},
	{"img", X_DISK, 0},
	{"vhd", X_DISK, 0},
	{"vhdx", X_DISK, 0},
	{"zip", X_ARCHIVE, 0},
	{"rar", X_ARCHIVE, 0},
	{"7z", X_ARCHIVE, 0},
	{"tar", X_ARCHIVE, 0},
	{"gz", X_ARCHIVE, 0},
	{"tgz", X_ARCHIVE, 0},
	{"bz2", X_ARCHIVE, 0},
	{"tbz", X_ARCHIVE, 0},
	{"tbz2", X_ARCHIVE, 0},
	{"xz", X_ARCHIVE, 0},
	{"txz", X_ARCHIVE, 0},
	{"zst", X_ARCHIVE, 0},
	{"z", X_ARCHIVE, 0},
	{"lz", X_ARCHIVE, 0},
	{"lzh", X_ARCHIVE, 0},
	{"lha", X_ARCHIVE, 0},
	{"arj", X_ARCHIVE, 0},
	{"cab", X_ARCHIVE, 0},
	{"ace", X_ARCHIVE, 0},
	{"cpio", X_ARCHIVE, 0},
	/* documents: what a harmless-looking name claims */
	{"pdf", X_DOC, C_PDF},
	{"doc", X_DOC, C_OFFICE},
	{"dot", X_DOC, C_OFFICE},
	{"xls", X_DOC, C_OFFICE},
	{"xlt", X_DOC, C_OFFICE},
	{"xla", X_DOC, C_OFFICE},
	{"ppt", X_DOC, C_OFFICE},
	{"pps", X_DOC, C_OFFICE},
	{"pot", X_DOC, C_OFFICE},
	{"msg", X_DOC, C_OFFICE},
	{"pub", X_DOC, C_OFFICE},
	{"vsd", X_DOC, C_OFFICE},
	{"rtf", X_DOC, C_OFFICE},
	{"docx", X_DOC, C_OOXML},
	{"dotx", X_DOC, C_OOXML},
	{"docm", X_DOC, C_OOXML},
	{"dotm", X_DOC, C_OOXML},
	{"xlsx", X_DOC, C_OOXML},
	{"xltx", X_DOC, C_OOXML},
	{"xlsm", X_DOC, C_OOXML},
	{"xltm", X_DOC, C_OOXML},
	{"xlsb", X_DOC, C_OOXML},
	{"xlam", X_DOC, C_OOXML},
	{"pptx", X_DOC, C_OOXML},
	{"ppsx", X_DOC, C_OOXML},
	{"potx", X_DOC, C_OOXML},
	{"pptm", X_DOC, C_OOXML},
	{"ppsm", X_DOC, C_OOXML},
	{"odt", X_DOC, C_ODF},
	{"ods", X_DOC, C_ODF},
	{"odp", X_DOC, C_ODF},
	{"odg", X_DOC, C_ODF},
	{"xml", X_DOC, C_XML},
	{"xsd", X_DOC, C_XML},
	{"xsl", X_DOC, C_XML},
	{"p7m", X_DOC, C_CMS},
	{"p7s", X_DOC, C_CMS},
	{"p7c", X_DOC, C_CMS},
	{"p7b", X_DOC, C_CMS},
	{"jpg", X_DOC, C_IMAGE},
	{"jpeg", X_DOC, C_IMAGE},
	{"jpe", X_DOC, C_IMAGE},
	{"png", X_DOC, C_IMAGE},
	{"gif", X_DOC, C_IMAGE},
	{"bmp", X_DOC, C_IMAGE},
	{"tif", X_DOC, C_IMAGE},
	{"tiff", X_DOC, C_IMAGE},
	{"webp", X_DOC, C_IMAGE},
	{"heic", X_DOC, C_IMAGE},
	{"txt", X_DOC, C_TEXT},
	{"csv", X_DOC, C_TEXT},
	{"tsv", X_DOC, C_TEXT},
	{"log", X_DOC, C_TEXT},
	{"json", X_DOC, C_TEXT},
	{"mp3", X_DOC, C_MEDIA},
	{"mp4", X_DOC, C_MEDIA},
	{"wav", X_DOC, C_MEDIA},
	{"avi", X_DOC, C_MEDIA},
	{"mov", X_DOC, C_MEDIA},
	{"m4a", X_DOC, C_MEDIA},
	{"eml", X_DOC, C_EML},
	/* decoys only: an HTML attachment is no lie about its type */
	{"htm", X_DOC, C_NONE},
	{"html", X_DOC, C_NONE},
};

static const struct ext_def *ext_find(const char *ext)
{
	if (ext[0] == '\0')
		return NULL;
	for (size_t i = 0; i < sizeof(ext_table) / sizeof(ext_table[0]); i++)
		if (strcmp(ext_table[i].ext, ext) == 0)
			return &ext_table[i];
	return NULL;
}

static bool class_risky(int c)
{
	return c == X_EXEC || c == X_SCRIPT || c == X_SHORTCUT || c == X_DISK;
}

typedef struct name_info {
	char ext[16];                   /* final extension, lower case ASCII, or "" */
	char inner[16];                 /* the one before it, or "" */
	const struct ext_def *ed, *ied; /* their entries in ext_table, or NULL */
	bool bidi;                      /* a bidirectional control character was in the name */
	bool padded;                    /* blanks before the final dot push it out of view */
} name_info;

/* Length of an invisible or bidirectional formatting character (UTF-8) at
 * s, or 0; *bidi says if it reorders text. */
static size_t invisible_len(const unsigned char *s, size_t n, bool *bidi)
{
	*bidi = false;
	if (n >= 3 && s[0] == 0xe2 && s[1] == 0x80 && s[2] >= 0x8b && s[2] <= 0x8f) {
		*bidi = s[2] >= 0x8e; /* LRM, RLM */
		return 3;
	}
	if (n >= 3 && s[0] == 0xe2 && s[1] == 0x80 && s[2] >= 0xaa && s[2] <= 0xae) {
		*bidi = true; /* LRE RLE PDF LRO RLO */
		return 3;
	}
	if (n >= 3 && s[0] == 0xe2 && s[1] == 0x81 && s[2] >= 0xa0 && s[2] <= 0xa9 &&
	    s[2] != 0xa5) {
		*bidi = s[2] >= 0xa6; /* LRI RLI FSI PDI */
		return 3;
	}
	if (n >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf)
		return 3;
	if (n >= 2 && s[0] == 0xd8 && s[1] == 0x9c) {
		*bidi = true; /* ARABIC LETTER MARK */
		return 2;
	}
	if (n >= 2 && s[0] == 0xc2 && s[1] == 0xad)
		return 2; /* soft hyphen */
	return 0;
}

static void ext_copy(char out[16], const char *s, size_t n)
{
	out[0] = '\0';
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0 || n > 15)
		return;
	for (size_t i = 0; i < n; i++) {
		char c = pg_lower(s[i]);
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return;
		out[i] = c;
	}
	out[n] = '\0';
}

/* What Windows would take as the extension, and what a reader sees. */
static void name_parse(const char *name, name_info *ni)
{
	memset(ni, 0, sizeof(*ni));
	if (name == NULL)
		return;
	const char *base = name;
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	size_t n = strlen(base);
	/* Only the tail matters for extensions. */
	if (n > 1000) {
		base += n - 1000;
		n = 1000;
	}
	char buf[1024];
	size_t len = 0;
	for (size_t i = 0; i < n;) {
		bool bidi;
		size_t il = invisible_len((const unsigned char *)base + i, n - i, &bidi);
		if (il) {
			ni->bidi |= bidi;
			i += il;
			continue;
		}
		buf[len++] = base[i++];
	}
	/* Windows drops trailing dots and blanks: "x.pdf.exe." runs. */
	while (len > 0 && (buf[len - 1] == '.' || buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	char *dot = memrchr(buf, '.', len);
	if (dot == NULL)
		return;
	ext_copy(ni->ext, dot + 1, (size_t)(buf + len - (dot + 1)));
	size_t blanks = 0;
	for (char *p = dot; p > buf && (p[-1] == ' ' || p[-1] == '\t'); p--)
		blanks++;
	ni->padded = blanks >= 3;
	char *prev = memrchr(buf, '.', (size_t)(dot - buf));
	if (prev != NULL)
		ext_copy(ni->inner, prev + 1, (size_t)(dot - (prev + 1)));
	ni->ed = ext_find(ni->ext);
	ni->ied = ext_find(ni->inner);
}

static bool name_double(const name_info *ni)
{
	if (ni->ed == NULL || !class_risky(ni->ed->cls))
		return false;
	if (ni->bidi || ni->padded)
		return true;
	return ni->ied != NULL && (ni->ied->cls == X_DOC || ni->ied->cls == X_ARCHIVE);
}

bool pg_attach_double_extension(const char *name)
{
	name_info ni;
	name_parse(name, &ni);
	return name_double(&ni);
}

/* Appends a printable copy of s[0, n) to out (capacity cap, NUL kept):
 * control bytes and invalid UTF-8 as '?', invisible and bidirectional
 * characters spelled "[U+202E]", so that a report never replays the
 * trick it describes.  Returns the new length. */
static size_t safe_append(char *out, size_t cap, size_t len, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		char tmp[12];
		size_t tl, adv;
		bool bidi;
		size_t il = invisible_len(u + i, n - i, &bidi);
		unsigned char c = u[i];
		if (il) {
			uint32_t b0 = u[i], b1 = u[i + 1] & 0x3fu;
			uint32_t cp = il == 3 ? (b0 & 0x0f) << 12 | b1 << 6 | (u[i + 2] & 0x3fu)
					      : (b0 & 0x1f) << 6 | b1;
			tl = (size_t)snprintf(tmp, sizeof(tmp), "[U+%04X]", (unsigned)cp);
			adv = il;
		} else if (c < 0x20 || c == 0x7f) {
			tmp[0] = '?';
			tl = 1;
			adv = 1;
		} else if (c < 0x80) {
			tmp[0] = (char)c;
			tl = 1;
			adv = 1;
		} else {
			size_t sl = c >= 0xf0 && c <= 0xf4   ? 4
				    : c >= 0xe0              ? 3
				    : c >= 0xc2 && c <= 0xdf ? 2
							     : 0;
			bool ok = sl > 0 && sl <= n - i && c < 0xf5;
			for (size_t k = 1; ok && k < sl; k++)
				ok = (u[i + k] & 0xc0) == 0x80;
			/* overlong 3/4-byte forms, surrogates, beyond U+10FFFF, C1 controls */
			if (ok && sl == 3 &&
			    ((c == 0xe0 && u[i + 1] < 0xa0) || (c == 0xed && u[i + 1] >= 0xa0)))
				ok = false;
			if (ok && sl == 4 &&
			    ((c == 0xf0 && u[i + 1] < 0x90) || (c == 0xf4 && u[i + 1] >= 0x90)))
				ok = false;
			if (ok && sl == 2 && c == 0xc2 && u[i + 1] < 0xa0)
				ok = false;
			if (ok) {
				memcpy(tmp, u + i, sl);
				tl = sl;
				adv = sl;
			} else {
				tmp[0] = '?';
				tl = 1;
				adv = 1;
			}
		}
		if (len + tl + 4 >= cap) {
			if (len + 3 < cap) {
				memcpy(out + len, "...", 3);
				len += 3;
			}
			break;
		}
		memcpy(out + len, tmp, tl);
		len += tl;
		i += adv;
	}
	out[len] = '\0';
	return len;
}

/* ---- the libmagic pool ----------------------------------------------------- */

/* magic_t is not thread-safe and magic_load takes milliseconds: handles are
 * loaded once and lent to one scan at a time. */
#define MAGIC_POOL_CEILING 64

typedef struct magic_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	magic_t idle[MAGIC_POOL_CEILING];
	size_t nidle;
	size_t total; /* loaded, idle or lent */
	size_t max;
	size_t bytes; /* libmagic looks at no more than this */
	char *db;     /* NULL: the system database */
} magic_pool;

static magic_t pool_load(const magic_pool *p, char *err, size_t errlen)
{
	/* Compressed files, tar and OLE2 (CDF) are sniffed here; libmagic's CDF
	 * parser is the slowest and most troubled part of it. */
	magic_t m = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_CDF |
			       MAGIC_NO_CHECK_ELF | MAGIC_NO_CHECK_TAR);
	if (m == NULL) {
		snprintf(err, errlen, "libmagic: cannot open");
		return NULL;
	}
	if (magic_load(m, p->db) != 0) {
		const char *why = magic_error(m);
		snprintf(err, errlen, "libmagic: cannot load %s: %s",
			 p->db ? p->db : "the default database", why ? why : "?");
		magic_close(m);
		return NULL;
	}
	size_t bytes = p->bytes, indir = 4, name = 30;
	magic_setparam(m, MAGIC_PARAM_BYTES_MAX, &bytes);
	magic_setparam(m, MAGIC_PARAM_INDIR_MAX, &indir);
	magic_setparam(m, MAGIC_PARAM_NAME_MAX, &name);
	return m;
}

/* A handle for the caller alone, or NULL (type stays unknown).  Blocks when
 * every handle is lent and the pool is full: magic_buffer on 64 KiB is far
 * shorter than loading another database. */
static magic_t pool_take(magic_pool *p)
{
	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (p->nidle > 0) {
			magic_t m = p->idle[--p->nidle];
			pthread_mutex_unlock(&p->mu);
			return m;
		}
		if (p->total < p->max) {
			p->total++;
			pthread_mutex_unlock(&p->mu);
			char err[256];
			magic_t m = pool_load(p, err, sizeof(err));
			if (m == NULL) {
				pthread_mutex_lock(&p->mu);
				p->total--;
				pthread_cond_signal(&p->cv);
				pthread_mutex_unlock(&p->mu);
			}
			return m;
		}
		pthread_cond_wait(&p->cv, &p->mu);
	}
}

static void pool_give(magic_pool *p, magic_t m)
{
	pthread_mutex_lock(&p->mu);
	p->idle[p->nidle++] = m;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* ---- analyser state ---------------------------------------------------------- */

typedef struct attach_state {
	unsigned max_depth;
	size_t max_entries;
	size_t max_bytes;
	size_t member_cap;
	bool body_passwords;
	magic_pool pool;
} attach_state;

/* ---- a walk: one message, or one pg_attach_each_member call ----------------- */

enum sym {
	S_ATTACH_EXECUTABLE,
	S_ATTACH_SCRIPT,
	S_ATTACH_SHORTCUT,
	S_ATTACH_DISK_IMAGE,
	S_ARCHIVE_EXECUTABLE,
	S_ARCHIVE_SCRIPT,
	S_ARCHIVE_SHORTCUT,
	S_ARCHIVE_DISK_IMAGE,
	S_DOUBLE_EXTENSION,
	S_TYPE_MISMATCH,
	S_OFFICE_MACRO,
	S_ENCRYPTED_ARCHIVE,
	S_ENCRYPTED_ARCHIVE_PASSWORD_IN_BODY,
	S_ARCHIVE_LIMIT,
	S_COUNT
};

static const char *const sym_names[S_COUNT] = {
	"ATTACH_EXECUTABLE",
	"ATTACH_SCRIPT",
	"ATTACH_SHORTCUT",
	"ATTACH_DISK_IMAGE",
	"ARCHIVE_EXECUTABLE",
	"ARCHIVE_SCRIPT",
	"ARCHIVE_SHORTCUT",
	"ARCHIVE_DISK_IMAGE",
	"DOUBLE_EXTENSION",
	"TYPE_MISMATCH",
	"OFFICE_MACRO",
	"ENCRYPTED_ARCHIVE",
	"ENCRYPTED_ARCHIVE_PASSWORD_IN_BODY",
	"ARCHIVE_LIMIT",
};

/* Details joined per symbol: enough to name the culprits, bounded so that
 * an archive of 500 scripts does not make a 30 KiB header. */
#define DETAILS_MAX   6
#define PATH_CAP      1024
#define NAME_CAP      240 /* one path component */
#define HEAD_BYTES    (64u << 10)
#define PASSWORDS_MAX 8

/* Findings by name about the members of one archive, held until the walk
 * knows whether it is a document package (OOXML, OpenDocument, EPUB):
 * nobody opens the parts of a package by a double click, so their names
 * ("OPS/js/book.js") say nothing unless the package is named as an archive
 * that Explorer would open ("x.zip"). */
#define PENDING_MAX 32

typedef struct pending {
	enum sym s[PENDING_MAX];
	const char *detail[PENDING_MAX];
	size_t n;
} pending;

typedef struct walk {
	const attach_state *st; /* NULL in pg_attach_each_member: no libmagic */
	pg_actx *ax;            /* NULL in pg_attach_each_member: no symbols */
	unsigned max_depth;
	size_t entries_left;
	size_t bytes_left;
	size_t member_cap;
	pg_attach_member_fn fn;
	void *ctx;
	bool stop;    /* fn asked to stop, or out of memory */
	bool limited; /* a bound cut the walk short */
	pg_status err;
	unsigned details[S_COUNT];
	/* passwords given by the text of the message (analyser only) */
	bool pw_done;
	bool pw_use; /* hand them to libarchive (attach.body_passwords) */
	const char *pw[PASSWORDS_MAX];
	size_t npw;
	const char *encrypted_path; /* the first encrypted archive seen */
	bool encrypted_opened;      /* one of its entries was read with a body password */
	pending *pend;              /* of the archive being walked, or NULL */
	char path[PATH_CAP];
	size_t plen;
} walk;

static void walk_nomem(walk *w)
{
	w->err = PG_ERR_NOMEM;
	w->stop = true;
}

static void emit(walk *w, enum sym s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void emit(walk *w, enum sym s, const char *fmt, ...)
{
	if (w->ax == NULL || w->err != PG_OK)
		return;
	unsigned n = ++w->details[s];
	if (n > DETAILS_MAX + 1)
		return;
	pg_status st;
	if (n == DETAILS_MAX + 1) {
		st = pg_sym(w->ax, sym_names[s], "and more");
	} else {
		va_list ap;
		va_start(ap, fmt);
		char *d = pg_arena_vprintf(w->ax->arena, fmt, ap);
		va_end(ap);
		st = d ? pg_sym(w->ax, sym_names[s], "%s", d) : PG_ERR_NOMEM;
	}
	if (st != PG_OK)
		walk_nomem(w);
}

static void emit_name(walk *w, enum sym s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* emit() for a finding by a member's name: held in the archive's pending
 * list (see struct pending), emitted at once when it is full. */
static void emit_name(walk *w, enum sym s, const char *fmt, ...)
{
	if (w->ax == NULL || w->err != PG_OK)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *d = pg_arena_vprintf(w->ax->arena, fmt, ap);
	va_end(ap);
	if (d == NULL) {
		walk_nomem(w);
		return;
	}
	if (w->pend != NULL && w->pend->n < PENDING_MAX) {
		w->pend->s[w->pend->n] = s;
		w->pend->detail[w->pend->n++] = d;
		return;
	}
	emit(w, s, "%s", d);
}

/* Appends "!name" (or "name" first) to the path; returns the length to
 * restore with path_pop. */
static size_t path_push(walk *w, const char *name)
{
	size_t old = w->plen;
	if (w->plen > 0 && w->plen + 2 < PATH_CAP) {
		w->path[w->plen++] = '!';
		w->path[w->plen] = '\0';
	}
	size_t n = strlen(name);
	char comp[NAME_CAP + 16];
	size_t cl = safe_append(comp, sizeof(comp), 0, name, n);
	if (cl == 0)
		cl = safe_append(comp, sizeof(comp), 0, "?", 1);
	w->plen = safe_append(w->path, PATH_CAP, w->plen, comp, cl);
	return old;
}

static void path_pop(walk *w, size_t old)
{
	w->plen = old;
	w->path[old] = '\0';
}

static const char *path_dup(walk *w)
{
	if (w->ax == NULL)
		return w->path;
	const char *p = pg_arena_strdup(w->ax->arena, w->path);
	if (p == NULL)
		walk_nomem(w);
	return p ? p : "";
}

static void limit_hit(walk *w, const char *what)
{
	w->limited = true;
	emit(w, S_ARCHIVE_LIMIT, "%s: %s", w->path, what);
}

/* ---- member data ---------------------------------------------------------- */

typedef struct member {
	struct archive *a;
	unsigned char *buf;
	size_t len, cap;
	int64_t declared; /* size from the entry, or -1 */
	bool eof;         /* all of the data was read */
	bool failed;      /* read error: encrypted without password, damaged */
	bool fatal;       /* the archive cannot go on */
	bool capped;      /* stopped at the member cap */
	bool starved;     /* stopped because the message's bytes budget ran out */
} member;

/* Reads member data until upto bytes (or the end, a cap, the budget).  The
 * buffer grows only as data arrives and never past the member cap, whatever
 * size the entry claims; a claimed size only saves reallocations. */
static void member_read(walk *w, member *m, size_t upto)
{
	while (!m->eof && !m->failed && m->len < upto) {
		if (m->len >= w->member_cap) {
			m->capped = true;
			return;
		}
		if (w->bytes_left == 0) {
			m->starved = true;
			return;
		}
		if (m->len == m->cap) {
			size_t nc = m->cap ? m->cap * 2 : 16384;
			/* +1: the read that finds the end needs room for one byte */
			if (m->cap == 0 && upto == SIZE_MAX && m->declared >= 0 &&
			    (uint64_t)m->declared < w->member_cap)
				nc = (size_t)m->declared + 1;
			if (nc > w->member_cap)
				nc = w->member_cap;
			unsigned char *nb = realloc(m->buf, nc);
			if (nb == NULL) {
				walk_nomem(w);
				m->failed = m->fatal = true;
				return;
			}
			m->buf = nb;
			m->cap = nc;
		}
		size_t want = m->cap - m->len;
		if (want > upto - m->len)
			want = upto - m->len;
		if (want > w->bytes_left)
			want = w->bytes_left;
		if (want > HEAD_BYTES)
			want = HEAD_BYTES;
		la_ssize_t r = archive_read_data(m->a, m->buf + m->len, want);
		if (r == 0) {
			m->eof = true;
			return;
		}
		if (r < 0) {
			m->failed = true;
			m->fatal = r == ARCHIVE_FATAL;
			return;
		}
		m->len += (size_t)r;
		w->bytes_left -= (size_t)r;
	}
}

/* ---- archives ------------------------------------------------------------------ */

typedef struct arc_info {
	bool listed; /* at least one entry */
	bool damaged;
	bool ooxml; /* [Content_Types].xml at the root */
	bool odf;   /* mimetype at the root */
	unsigned nencrypted;
	bool encrypted_headers;
	bool decrypted;       /* an encrypted entry was read */
	char macro[NAME_CAP]; /* an OOXML part that holds macros, or "" */
} arc_info;

typedef struct object {
	const char *name;  /* file name as given, or NULL */
	const char *ctype; /* declared Content-Type (attachments only) */
	const unsigned char *data;
	size_t len;
	bool partial;   /* data is a prefix: member that may be read further */
	unsigned level; /* 0: an attachment; n: a member at archive nesting n */
	member *mem;    /* the member to read further, or NULL */
} object;

static void object_check(walk *w, object *o);

/* A new reader for the formats we open.  Not archive_read_support_format_all:
 * mtree would read files named in a hostile spec from our own disk, and
 * "empty"/"raw" would accept anything.  Filters whose library is missing
 * fall back to running an external program (a fork per message): such a
 * filter is left out. */
static struct archive *reader_new(const walk *w, bool raw)
{
	static int (*const filters[])(struct archive *) = {
		archive_read_support_filter_gzip,     archive_read_support_filter_bzip2,
		archive_read_support_filter_xz,       archive_read_support_filter_lzma,
		archive_read_support_filter_zstd,     archive_read_support_filter_lz4,
		archive_read_support_filter_compress,
	};
	const size_t nf = sizeof(filters) / sizeof(filters[0]);
	unsigned skip = 0;
	for (size_t attempt = 0; attempt <= nf; attempt++) {
		struct archive *a = archive_read_new();
		if (a == NULL)
			return NULL;
		bool again = false;
		for (size_t i = 0; i < nf; i++) {
			if (skip & (1u << i))
				continue;
			if (filters[i](a) != ARCHIVE_OK) {
				skip |= 1u << i;
				again = true;
				break;
			}
		}
		if (again) {
			archive_read_free(a);
			continue;
		}
		if (raw) {
			archive_read_support_format_raw(a);
		} else {
			archive_read_support_format_zip(a);
			archive_read_support_format_rar(a);
			archive_read_support_format_rar5(a);
			archive_read_support_format_7zip(a);
			archive_read_support_format_tar(a);
			archive_read_support_format_iso9660(a);
			archive_read_support_format_cab(a);
			archive_read_support_format_lha(a);
			archive_read_support_format_cpio(a);
		}
		/* Every candidate password: libarchive tries each on each
		 * encrypted entry. */
		for (size_t i = 0; w->pw_use && i < w->npw; i++)
			archive_read_add_passphrase(a, w->pw[i]);
		return a;
	}
	return NULL;
}

/* A zip with its end of central directory: libarchive then reads it by
 * seeking, and skipping a member costs nothing.  Without, it streams,
 * and skipping means inflating. */
static bool zip_has_eocd(const unsigned char *d, size_t n)
{
	size_t from = n > 65557 ? n - 65557 : 0;
	for (size_t i = n >= 22 ? n - 22 + 1 : 0; i-- > from;)
		if (d[i] == 'P' && memcmp(d + i, "PK\x05\x06", 4) == 0)
			return true;
	return false;
}

/* Does a zip say an entry is encrypted (general purpose flag bit 0 in a
 * local or central header)?  Only then is the text of the message worth
 * rendering for passwords before the walk. */
static bool zip_flags_encrypted(const unsigned char *d, size_t n)
{
	for (const unsigned char *p = d; (size_t)(d + n - p) >= 10;) {
		const unsigned char *h = memmem(p, (size_t)(d + n - p), "PK", 2);
		if (h == NULL || (size_t)(d + n - h) < 10)
			return false;
		bool local = h[2] == 3 && h[3] == 4, central = h[2] == 1 && h[3] == 2;
		if ((local && (h[6] & 1)) || (central && (h[8] & 1)))
			return true;
		p = h + 2;
	}
	return false;
}

static bool ends_with_ci(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && pg_streq_ci(s + n - m, suffix);
}

/* The name of the one member of a compressed stream: the outer name less
 * its compression suffix ("fattura.exe.gz" -> "fattura.exe"). */
static const char *stream_member_name(char *buf, size_t cap, const char *outer)
{
	static const char *const suffixes[] = {".gz", ".bz2", ".xz", ".lzma", ".zst", ".lz4", ".z"};
	if (outer == NULL)
		return "data";
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		if (ends_with_ci(outer, suffixes[i])) {
			size_t n = strlen(outer) - strlen(suffixes[i]);
			if (n == 0 || n >= cap)
				break;
			memcpy(buf, outer, n);
			buf[n] = '\0';
			return buf;
		}
	}
	return "data";
}

static const char *entry_name(struct archive_entry *e)
{
	const char *n = archive_entry_pathname_utf8(e);
	if (n == NULL)
		n = archive_entry_pathname(e);
	return n ? n : "?";
}

static void member_hand(walk *w, object *o);
static void archive_walk(walk *w, const unsigned char *data, size_t len, kind k,
			 const char *outer_name, unsigned level, arc_info *info);

/* Walks the archive data[0, len) whose members sit at nesting level. */
static void archive_walk_mem(walk *w, const unsigned char *data, size_t len, kind k,
			     const char *outer_name, unsigned level, arc_info *info)
{
	bool raw = false;
	struct archive *a = reader_new(w, false);
	if (a == NULL) {
		walk_nomem(w);
		return;
	}
	if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
		archive_read_free(a);
		if (!(kind_flags[k] & KF_STREAM)) {
			info->damaged = true;
			return;
		}
		/* A compressed stream holding no archive: one member. */
		a = reader_new(w, true);
		if (a == NULL) {
			walk_nomem(w);
			return;
		}
		raw = true;
		if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
			archive_read_free(a);
			info->damaged = true;
			return;
		}
	}
	pending pend = {.n = 0};
	pending *outer_pend = w->pend;
	w->pend = &pend;
	int retries = 0, cheap_skip = -1;
	while (!w->stop) {
		struct archive_entry *e;
		int r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r == ARCHIVE_RETRY && ++retries < 4)
			continue;
		if (r < ARCHIVE_WARN) {
			/* Encrypted headers (RAR -hp, 7z -mhe) end here. */
			const char *es = archive_error_string(a);
			if (archive_read_has_encrypted_entries(a) > 0 ||
			    (es && (strstr(es, "ncrypt") || strstr(es, "assphrase"))))
				info->encrypted_headers = true;
			else
				info->damaged = true;
			break;
		}
		if (raw && archive_filter_code(a, 0) == ARCHIVE_FILTER_NONE)
			break;
		if (w->entries_left == 0) {
			limit_hit(w, "too many entries");
			break;
		}
		w->entries_left--;
		info->listed = true;
		if (archive_entry_filetype(e) != AE_IFREG)
			continue;
		char sbuf[NAME_CAP];
		const char *name =
			raw ? stream_member_name(sbuf, sizeof(sbuf), outer_name) : entry_name(e);
		bool enc = archive_entry_is_encrypted(e) > 0;
		if (enc)
			info->nencrypted++;
		if (strcmp(name, "[Content_Types].xml") == 0)
			info->ooxml = true;
		if (strcmp(name, "mimetype") == 0)
			info->odf = true;
		/* Macros of an OOXML package: the VBA project, Excel 4.0 sheets. */
		if (info->macro[0] == '\0' && (ends_with_ci(name, "vbaProject.bin") ||
					       pg_startswith_ci(name, "xl/macrosheets/")))
			safe_append(info->macro, sizeof(info->macro), 0, name, strlen(name));
		/* Skipping costs nothing in a seekable zip, an ISO image or an
		 * uncompressed tar; elsewhere libarchive decompresses what it
		 * skips, and that is charged to the budget below. */
		if (cheap_skip < 0) {
			int fmt = archive_format(a) & ARCHIVE_FORMAT_BASE_MASK;
			bool filtered = archive_filter_code(a, 0) != ARCHIVE_FILTER_NONE;
			cheap_skip = !raw && !filtered &&
				     ((fmt == ARCHIVE_FORMAT_ZIP && zip_has_eocd(data, len)) ||
				      fmt == ARCHIVE_FORMAT_ISO9660 || fmt == ARCHIVE_FORMAT_TAR ||
				      fmt == ARCHIVE_FORMAT_CPIO);
		}
		member m = {.a = a,
			    .declared = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1};
		size_t old = path_push(w, name);
		/* The analyser reads a head, and the rest only when the type asks
		 * for it (object_check); pg_attach_each_member hands whole members. */
		member_read(w, &m, w->fn != NULL ? SIZE_MAX : HEAD_BYTES);
		if (enc && !m.failed && m.len > 0)
			info->decrypted = true;
		if (!m.failed || m.len > 0) {
			object o = {.name = name,
				    .data = m.buf ? m.buf : (const unsigned char *)"",
				    .len = m.len,
				    .partial = !m.eof,
				    .level = level,
				    .mem = &m};
			if (w->fn != NULL)
				member_hand(w, &o);
			else
				object_check(w, &o);
		} else if (enc && w->fn == NULL) {
			/* unreadable without the password: its name still tells */
			object o = {.name = name,
				    .data = (const unsigned char *)"",
				    .len = 0,
				    .partial = true,
				    .level = level};
			object_check(w, &o);
		}
		const char *stop = NULL;
		if (m.fatal)
			info->damaged = true;
		else if (m.starved)
			stop = "decompressed bytes budget spent";
		else if (!m.eof && !cheap_skip && !raw) {
			/* Reaching the next header decompresses the rest of this
			 * member: charged to the budget before libarchive does it,
			 * refused when the size is unknown. */
			uint64_t rest = m.declared >= 0 && (uint64_t)m.declared > m.len
						? (uint64_t)m.declared - m.len
						: 0;
			if (m.declared < 0 || rest > w->bytes_left)
				stop = m.capped ? "member over the size cap"
						: "member too large to skip";
			else
				w->bytes_left -= (size_t)rest;
		}
		if (m.capped && !m.eof)
			w->limited = true; /* pg_attach_each_member handed it truncated */
		if (stop != NULL)
			limit_hit(w, stop);
		path_pop(w, old);
		free(m.buf);
		if (m.fatal || stop != NULL || raw)
			break;
	}
	if (archive_read_has_encrypted_entries(a) > 0 && info->nencrypted == 0 &&
	    !info->encrypted_headers)
		info->nencrypted = 1;
	archive_read_free(a);
	w->pend = outer_pend;
	name_info ni;
	name_parse(outer_name, &ni);
	bool package = (info->ooxml || info->odf) && !(ni.ed && ni.ed->cls == X_ARCHIVE);
	for (size_t i = 0; i < pend.n && !package; i++)
		emit(w, pend.s[i], "%s", pend.detail[i]);
}

static void archive_walk(walk *w, const unsigned char *data, size_t len, kind k,
			 const char *outer_name, unsigned level, arc_info *info)
{
	/* libarchive's ISO 9660 bidder reads 32 KiB + 8 sectors ahead: an image
	 * holding one small shortcut is shorter, and would pass unopened.
	 * Padding with zeros changes nothing of what it holds. */
	enum { ISO_BID_BYTES = 32768 + 8 * 2048 };
	if (k != K_ISO || len >= ISO_BID_BYTES) {
		archive_walk_mem(w, data, len, k, outer_name, level, info);
		return;
	}
	unsigned char *pad = calloc(1, ISO_BID_BYTES);
	if (pad == NULL) {
		walk_nomem(w);
		return;
	}
	memcpy(pad, data, len);
	archive_walk_mem(w, pad, ISO_BID_BYTES, k, outer_name, level, info);
	free(pad);
}

/* pg_attach_each_member: hand the member, then open it if it is an archive. */
static void member_hand(walk *w, object *o)
{
	if (o->partial && !(o->mem && o->mem->capped))
		return; /* not complete, not the documented truncation: withheld */
	if (w->fn(w->ctx, w->path, o->data, o->len) != 0) {
		w->stop = true;
		return;
	}
	sniffed s = sniff_bytes(o->data, o->len);
	if ((kind_flags[s.k] & KF_WALK) && !o->partial) {
		if (o->level < w->max_depth) {
			arc_info info = {0};
			archive_walk(w, o->data, o->len, s.k, o->name, o->level + 1, &info);
		}
	}
}

/* ---- OLE2 and VBA -------------------------------------------------------------- */

/* A VBA project lives in a storage holding the stream "_VBA_PROJECT" (Word:
 * Macros/VBA/_VBA_PROJECT; Excel: _VBA_PROJECT_CUR/VBA/_VBA_PROJECT).
 * Directory entry names are UTF-16LE, NUL-terminated and zero-padded, so
 * the name followed by U+0000 (or by "_CUR" and U+0000) is searched over
 * the bytes we hold: no FAT chains followed, nothing to go wrong on a
 * damaged file, and document text quoting the name (not NUL-terminated)
 * does not match. */
static bool ole_has_vba(const unsigned char *d, size_t n)
{
	static const char name[] = "_\0V\0B\0A\0_\0P\0R\0O\0J\0E\0C\0T\0";
	const size_t nl = sizeof(name) - 1;
	const unsigned char *p = d, *end = d + n;
	while ((size_t)(end - p) >= nl) {
		const unsigned char *hit = memmem(p, (size_t)(end - p), name, nl);
		if (hit == NULL)
			return false;
		const unsigned char *after = hit + nl;
		size_t left = (size_t)(end - after);
		if ((left >= 2 && after[0] == 0 && after[1] == 0) ||
		    (left >= 10 && memcmp(after, "_\0C\0U\0R\0\0\0", 10) == 0))
			return true;
		p = hit + 1;
	}
	return false;
}

/* ---- claims --------------------------------------------------------------- */

static int claim_of_ctype(const char *ct)
{
	if (ct == NULL)
		return C_NONE;
	static const struct {
		const char *ct;
		int claim;
	} map[] = {
		{"application/pdf", C_PDF},
		{"application/msword", C_OFFICE},
		{"application/vnd.ms-excel", C_OFFICE},
		{"application/vnd.ms-powerpoint", C_OFFICE},
		{"application/vnd.ms-outlook", C_OFFICE},
		{"application/rtf", C_OFFICE},
		{"text/rtf", C_OFFICE},
		{"application/xml", C_XML},
		{"text/xml", C_XML},
		{"application/pkcs7-mime", C_CMS},
		{"application/pkcs7-signature", C_CMS},
		{"application/x-pkcs7-mime", C_CMS},
		{"application/x-pkcs7-signature", C_CMS},
		{"text/plain", C_TEXT},
		{"text/csv", C_TEXT},
		{"message/rfc822", C_EML},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(ct, map[i].ct) == 0)
			return map[i].claim;
	if (strncmp(ct, "application/vnd.openxmlformats-officedocument.", 46) == 0 ||
	    (strncmp(ct, "application/vnd.ms-", 19) == 0 && strstr(ct, "macroenabled")))
		return C_OOXML;
	if (strncmp(ct, "application/vnd.oasis.opendocument.", 35) == 0)
		return C_ODF;
	if (strncmp(ct, "image/", 6) == 0)
		return C_IMAGE;
	if (strncmp(ct, "audio/", 6) == 0 || strncmp(ct, "video/", 6) == 0)
		return C_MEDIA;
	return C_NONE;
}

/* Does a claimed type allow this content?  Only contents that could hurt
 * (KF_DANGER) can contradict a claim; a PNG named .jpg, a PDF named .txt,
 * text in any charset are honest enough. */
static bool claim_allows(int claim, kind k, const arc_info *ai)
{
	if (!(kind_flags[k] & KF_DANGER))
		return true;
	/* A zip is an Office document when it has the parts of one, or when we
	 * could not list it to tell. */
	bool doc_zip = k == K_ZIP && (ai->ooxml || ai->odf || !ai->listed || ai->damaged);
	switch (claim) {
	case C_OFFICE: /* OLE, OOXML renamed .doc, HTML and XML saved as .xls */
		return k == K_OLE || k == K_HTML || doc_zip;
	case C_OOXML: /* password-protected OOXML is an OLE2 container */
	case C_ODF:
		return k == K_OLE || doc_zip;
	case C_TEXT:
		return k == K_HTML;
	default:
		return false;
	}
}

static const char *const claim_names[] = {
	[C_NONE] = "",
	[C_PDF] = "PDF",
	[C_OFFICE] = "Office",
	[C_OOXML] = "Office Open XML",
	[C_ODF] = "OpenDocument",
	[C_XML] = "XML",
	[C_CMS] = "signed (CMS)",
	[C_IMAGE] = "image",
	[C_TEXT] = "text",
	[C_MEDIA] = "audio/video",
	[C_EML] = "message",
};

/* ---- passwords in the text ------------------------------------------------------ */

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A word that introduces the value: "è", "e'", "is", "=" or ":" (the
 * text is UTF-8; Latin-1 è is accepted too, for text that is not). */
static size_t sep_word(const unsigned char *s, size_t n)
{
	if (n >= 1 && (s[0] == ':' || s[0] == '='))
		return 1;
	size_t l = 0;
	if (n >= 2 && s[0] == 0xc3 && (s[1] == 0xa8 || s[1] == 0xa9))
		l = 2; /* è é in UTF-8 */
	else if (n >= 1 && (s[0] == 0xe8 || s[0] == 0xe9))
		l = 1; /* in Latin-1 */
	else if (n >= 2 && (s[0] == 'e' || s[0] == 'E') && s[1] == '\'')
		l = 2;
	else if (n >= 2 && pg_strneq_ci((const char *)s, "is", 2))
		l = 2;
	if (l == 0 || (l < n && (is_alnum(s[l]) || s[l] >= 0x80)))
		return 0;
	return l;
}

static const char *const pw_stop[] = {
	"il",    "la",    "lo",   "le",          "per",         "del",       "della",    "che",
	"non",   "sono",  "sarà", "sara",        "the",         "your",      "you",      "is",
	"are",   "will",  "be",   "sent",        "inviata",     "riportata", "seguente", "below",
	"sotto", "qui",   "here", "dimenticata", "dimenticato", "forgotten", "scaduta",  "expired",
	"reset", "nuova", "new",  "temporanea",  "required",    "richiesta",
};

/* The value after a keyword at t[p]; stored in the walk. */
static void pw_take(walk *w, const unsigned char *t, size_t n, size_t p, bool need_sep)
{
	size_t lim = n - p < 60 ? n : p + 60, j = p;
	bool sep = false;
	/* "Password del file: x", "la password per aprire l'allegato è x" */
	while (j < lim) {
		bool word_start = j == p || t[j - 1] == ' ' || t[j - 1] == '\t';
		size_t sl = (t[j] == ':' || t[j] == '=') ? 1
			    : word_start                 ? sep_word(t + j, n - j)
							 : 0;
		if (sl) {
			sep = true;
			j += sl;
			break;
		}
		unsigned char c = t[j];
		if (!(c == ' ' || c == '\t' || c == '\'' || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || c >= 0x80))
			break;
		j++;
	}
	if (!sep) {
		if (need_sep)
			return;
		j = p; /* "pwd 4411": a value right after the word, with a digit */
	}
	size_t ws = 0;
	while (j < n && ws < 12 &&
	       (t[j] == ' ' || t[j] == '\t' || t[j] == '\r' || t[j] == '\n' || t[j] == ':' ||
		t[j] == '"' || t[j] == '\'' || t[j] == '*')) {
		j++;
		ws++;
	}
	size_t s = j;
	while (j < n && j - s < 80 && t[j] > ' ' && t[j] != '<' && t[j] != '>' && t[j] != '"' &&
	       t[j] != '\'' && t[j] != '(' && t[j] != ')' && t[j] != '[' && t[j] != ']')
		j++;
	size_t e = j;
	while (e > s && strchr(".,;:!?*", t[e - 1]) != NULL)
		e--;
	size_t len = e - s;
	/* "Password: sa" is explicit; without a separator a value needs more */
	if (len < (sep ? 2u : 3u) || len > 64)
		return;
	bool digit = false, alpha_only = true;
	for (size_t i = s; i < e; i++) {
		digit |= t[i] >= '0' && t[i] <= '9';
		alpha_only &= !(t[i] >= '0' && t[i] <= '9') && (is_alnum(t[i]) || t[i] >= 0x80);
	}
	if (!sep && !digit)
		return;
	const char *tok = (const char *)t + s;
	if (memchr(tok, '@', len) || pg_memmem_ci(tok, len, "://") || pg_strneq_ci(tok, "www.", 4))
		return;
	if (alpha_only)
		for (size_t i = 0; i < sizeof(pw_stop) / sizeof(pw_stop[0]); i++)
			if (strlen(pw_stop[i]) == len && pg_strneq_ci(tok, pw_stop[i], len))
				return;
	for (size_t i = 0; i < w->npw; i++)
		if (strlen(w->pw[i]) == len && memcmp(w->pw[i], tok, len) == 0)
			return;
	if (w->npw >= PASSWORDS_MAX)
		return;
	char *c = pg_arena_strndup(w->ax->arena, tok, len);
	if (c == NULL) {
		walk_nomem(w);
		return;
	}
	w->pw[w->npw++] = c;
}

static void pw_scan(walk *w, const unsigned char *t, size_t n)
{
	static const struct {
		const char *kw;
		bool need_sep; /* common words: only "chiave:" counts */
	} kws[] = {
		{"password", false},
		{"passwd", false},
		{"pwd", false},
		{"passcode", false},
		{"parola chiave", false},
		{"parola d'ordine", false},
		{"codice di apertura", false},
		{"codice apertura", false},
		{"codice di accesso", true},
		{"chiave", true},
		{"pass", true},
		{"pw", true},
	};
	/* One pass: every keyword starts a word with 'p' or 'c'. */
	for (size_t p = 0; p < n && w->npw < PASSWORDS_MAX && !w->stop; p++) {
		char c = pg_lower((char)t[p]);
		if ((c != 'p' && c != 'c') || (p > 0 && is_alnum(t[p - 1])))
			continue;
		for (size_t k = 0; k < sizeof(kws) / sizeof(kws[0]); k++) {
			size_t kl = strlen(kws[k].kw);
			if (kws[k].kw[0] != c || n - p < kl ||
			    !pg_strneq_ci((const char *)t + p, kws[k].kw, kl))
				continue;
			if (p + kl < n && is_alnum(t[p + kl]))
				continue; /* "passwords" is a word about passwords */
			pw_take(w, t, n, p + kl, kws[k].need_sep);
			break;
		}
	}
}

/* Candidate passwords from the text of the message (computed once, before
 * the first archive is opened, so that they can open it).  The text is the
 * shared one: UTF-8, HTML rendered, entities decoded. */
static void pw_collect(walk *w)
{
	if (w->pw_done || w->ax == NULL)
		return;
	w->pw_done = true;
	const pg_text *t = pg_msg_text(w->ax->msg);
	if (t == NULL) {
		walk_nomem(w);
		return;
	}
	/* The password sits next to the lure, near the top. */
	size_t n = t->all_len < (256u << 10) ? t->all_len : (256u << 10);
	pw_scan(w, (const unsigned char *)t->all, n);
}

/* ---- one object -------------------------------------------------------------- */

static sniffed object_sniff(walk *w, const object *o)
{
	sniffed s = sniff_bytes(o->data, o->len);
	if (s.k != K_UNKNOWN || w->st == NULL || w->ax == NULL)
		return s;
	/* The state is shared read-only, but for its pool, which has a lock. */
	magic_pool *pool = (magic_pool *)&w->st->pool;
	magic_t m = pool_take(pool);
	if (m == NULL)
		return s;
	size_t n = o->len < pool->bytes ? o->len : pool->bytes;
	const char *r = magic_buffer(m, o->data, n);
	char *mime = r ? pg_arena_strdup(w->ax->arena, r) : NULL;
	pool_give(pool, m);
	if (mime == NULL) {
		if (r != NULL)
			walk_nomem(w);
		return s;
	}
	s.k = mime_kind(mime);
	s.mime = mime;
	return s;
}

static void object_check(walk *w, object *o)
{
	if (w->stop)
		return;
	bool in_archive = o->level > 0;
	sniffed s = object_sniff(w, o);
	name_info ni;
	name_parse(o->name, &ni);
	int cls = ni.ed ? ni.ed->cls : X_NONE;
	const char *path = path_dup(w);
	const char *mime = s.mime ? s.mime : "application/octet-stream";

	/* By content: always.  By name: through emit_name (packages). */
	bool exec_c = (kind_flags[s.k] & KF_EXEC) != 0, disk_c = (kind_flags[s.k] & KF_DISK) != 0;
	enum sym y = in_archive ? S_ARCHIVE_EXECUTABLE : S_ATTACH_EXECUTABLE;
	if (exec_c && cls == X_EXEC)
		emit(w, y, "%s (.%s, %s)", path, ni.ext, mime);
	else if (exec_c)
		emit(w, y, "%s (%s)", path, mime);
	else if (cls == X_EXEC)
		emit_name(w, y, "%s (.%s)", path, ni.ext);
	if (cls == X_SCRIPT)
		emit_name(w, in_archive ? S_ARCHIVE_SCRIPT : S_ATTACH_SCRIPT, "%s (.%s)", path,
			  ni.ext);
	y = in_archive ? S_ARCHIVE_SHORTCUT : S_ATTACH_SHORTCUT;
	if (s.k == K_LNK)
		emit(w, y, "%s", path);
	else if (cls == X_SHORTCUT)
		emit_name(w, y, "%s", path);
	y = in_archive ? S_ARCHIVE_DISK_IMAGE : S_ATTACH_DISK_IMAGE;
	if (disk_c)
		emit(w, y, "%s (%s)", path, mime);
	else if (cls == X_DISK)
		emit_name(w, y, "%s (.%s)", path, ni.ext);
	if (name_double(&ni))
		emit_name(w, S_DOUBLE_EXTENSION, "%s", path);

	bool walkable = (kind_flags[s.k] & KF_WALK) != 0;
	/* Everything of an OLE2 file or an archive is needed; a member that is
	 * neither was read only as far as its type shows. */
	bool need_all = s.k == K_OLE || (walkable && o->level < w->max_depth);
	if (o->partial && o->mem != NULL && need_all) {
		member_read(w, o->mem, SIZE_MAX);
		o->data = o->mem->buf ? o->mem->buf : (const unsigned char *)"";
		o->len = o->mem->len;
		o->partial = !o->mem->eof;
	}

	/* vbaProject.bin in an OOXML file was reported for the document. */
	if (s.k == K_OLE && !ends_with_ci(o->name ? o->name : "", "vbaProject.bin") &&
	    ole_has_vba(o->data, o->len))
		emit(w, S_OFFICE_MACRO, "%s (VBA project)", path);

	arc_info ai = {0};
	if (walkable) {
		if (o->level >= w->max_depth) {
			limit_hit(w, "archive nested too deep");
		} else if (o->partial) {
			/* an archive member we could not read whole */
			if (o->mem != NULL && o->mem->capped)
				limit_hit(w, "member over the size cap");
			else if (o->mem != NULL && o->mem->starved)
				limit_hit(w, "decompressed bytes budget spent");
		} else {
			/* Formats that can be encrypted: passwords first, to open them. */
			if ((s.k == K_ZIP && zip_flags_encrypted(o->data, o->len)) ||
			    s.k == K_RAR || s.k == K_7Z || s.k == K_ARCHIVE)
				pw_collect(w);
			archive_walk(w, o->data, o->len, s.k, o->name, o->level + 1, &ai);
			if (ai.macro[0] != '\0')
				emit(w, S_OFFICE_MACRO, "%s (%s)", path, ai.macro);
		}
	}
	if (ai.nencrypted > 0 || ai.encrypted_headers) {
		if (ai.encrypted_headers)
			emit(w, S_ENCRYPTED_ARCHIVE, "%s (encrypted headers)", path);
		else
			emit(w, S_ENCRYPTED_ARCHIVE, "%s (%u encrypted %s)", path, ai.nencrypted,
			     ai.nencrypted == 1 ? "entry" : "entries");
		if (w->encrypted_path == NULL)
			w->encrypted_path = path;
		w->encrypted_opened |= ai.decrypted;
	}

	int claim = C_NONE;
	const char *claimed_by = NULL;
	const struct ext_def *ed = ni.ed;
	if (ed != NULL) {
		claim = ed->claim;
		claimed_by = ni.ext;
	} else if (!in_archive) {
		claim = claim_of_ctype(o->ctype);
	}
	if (claim != C_NONE && s.k != K_EMPTY && !claim_allows(claim, s.k, &ai)) {
		if (claimed_by)
			emit(w, S_TYPE_MISMATCH, "%s: named .%s (%s), is %s", path, claimed_by,
			     claim_names[claim], mime);
		else
			emit(w, S_TYPE_MISMATCH, "%s: declared %s, is %s", path, o->ctype, mime);
	}
}

/* ---- the analyser ------------------------------------------------------------ */

static pg_status attach_init(const pg_config *cfg, void **state, char *err, size_t errlen)
{
	attach_state *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return PG_ERR_NOMEM;
	int64_t depth = pg_cfg_int(cfg, "attach.max_archive_depth", PG_ATTACH_MAX_DEPTH);
	int64_t entries = pg_cfg_int(cfg, "attach.max_archive_entries", PG_ATTACH_MAX_ENTRIES);
	int64_t bytes = pg_cfg_int(cfg, "attach.max_archive_bytes", PG_ATTACH_MAX_BYTES);
	int64_t cap = pg_cfg_int(cfg, "attach.max_member_size", PG_ATTACH_MEMBER_CAP);
	int64_t pool = pg_cfg_int(cfg, "attach.magic_pool", 8);
	int64_t mbytes = pg_cfg_int(cfg, "attach.magic_bytes", 65536);
	const char *db = pg_cfg_str(cfg, "attach.magic_database", "");
	const char *bad = NULL;
	if (depth < 0 || depth > PG_ATTACH_DEPTH_CEILING)
		bad = "attach.max_archive_depth must be 0..8";
	else if (entries < 1 || entries > 1000000)
		bad = "attach.max_archive_entries must be 1..1000000";
	else if (bytes < 4096 || bytes > (int64_t)1 << 34)
		bad = "attach.max_archive_bytes must be 4096..17179869184";
	else if (cap < 4096 || cap > bytes)
		bad = "attach.max_member_size must be 4096..attach.max_archive_bytes";
	else if (pool < 1 || pool > MAGIC_POOL_CEILING)
		bad = "attach.magic_pool must be 1..64";
	else if (mbytes < 1024 || mbytes > (16 << 20))
		bad = "attach.magic_bytes must be 1024..16777216";
	if (bad != NULL) {
		snprintf(err, errlen, "%s", bad);
		free(st);
		return PG_ERR_CONFIG;
	}
	st->max_depth = (unsigned)depth;
	st->max_entries = (size_t)entries;
	st->max_bytes = (size_t)bytes;
	st->member_cap = (size_t)cap;
	st->body_passwords = pg_cfg_bool(cfg, "attach.body_passwords", true);
	magic_pool *p = &st->pool;
	p->max = (size_t)pool;
	p->bytes = (size_t)mbytes;
	if (db != NULL && db[0] != '\0' && (p->db = strdup(db)) == NULL) {
		free(st);
		return PG_ERR_NOMEM;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	/* One handle now: a missing database refuses the configuration
	 * instead of silently weakening every scan. */
	magic_t m = pool_load(p, err, errlen);
	if (m == NULL) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		free(p->db);
		free(st);
		return PG_ERR_CONFIG;
	}
	p->idle[p->nidle++] = m;
	p->total = 1;
	*state = st;
	return PG_OK;
}

static void attach_free(void *state)
{
	attach_state *st = state;
	if (st == NULL)
		return;
	magic_pool *p = &st->pool;
	/* Every scan has ended: all handles are idle. */
	for (size_t i = 0; i < p->nidle; i++)
		magic_close(p->idle[i]);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->db);
	free(st);
}

static pg_status attach_run(pg_actx *ax, void *state)
{
	const attach_state *st = state;
	const pg_msg *m = ax->msg;
	if (m == NULL || st == NULL)
		return PG_OK;
	walk *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return PG_ERR_NOMEM;
	w->st = st;
	w->ax = ax;
	w->max_depth = st->max_depth;
	w->entries_left = st->max_entries;
	w->bytes_left = st->max_bytes;
	w->member_cap = st->member_cap;
	w->pw_use = st->body_passwords;
	size_t np = pg_msg_part_count(m);
	for (size_t i = 0; i < np && !w->stop; i++) {
		const pg_part *p = pg_msg_part(m, i);
		if (p->is_multipart || p->is_message)
			continue;
		const char *ct = pg_part_content_type(p);
		const char *fn = pg_part_filename(p);
		if (fn == NULL && !p->is_attachment && ct != NULL &&
		    (strcmp(ct, "text/plain") == 0 || strcmp(ct, "text/html") == 0))
			continue;
		size_t len = 0;
		const unsigned char *data = pg_part_content(p, &len);
		if (data == NULL)
			data = (const unsigned char *)"";
		char label[96];
		if (fn == NULL || fn[0] == '\0')
			snprintf(label, sizeof(label), "[part %zu %s]", i, ct ? ct : "?");
		size_t old = path_push(w, fn && fn[0] ? fn : label);
		object o = {.name = fn, .ctype = ct, .data = data, .len = len, .level = 0};
		object_check(w, &o);
		path_pop(w, old);
	}
	if (w->encrypted_path != NULL)
		pw_collect(w);
	if (w->encrypted_path != NULL && w->npw > 0)
		emit(w, S_ENCRYPTED_ARCHIVE_PASSWORD_IN_BODY, "%s: %s", w->encrypted_path,
		     w->encrypted_opened ? "the text gives the password that opens it"
					 : "the text gives a password");
	pg_status rc = w->err;
	free(w);
	return rc;
}

const pg_analyser pg_analyser_attach = {
	.name = "attach",
	.init = attach_init,
	.free = attach_free,
	.run = attach_run,
};

/* ---- for others ------------------------------------------------------------------ */

pg_status pg_attach_each_member(const unsigned char *data, size_t len, unsigned max_depth,
				pg_attach_member_fn fn, void *ctx)
{
	if (fn == NULL || (data == NULL && len > 0))
		return PG_ERR_INVALID;
	if (data == NULL)
		return PG_OK;
	sniffed s = sniff_bytes(data, len);
	if (!(kind_flags[s.k] & KF_WALK))
		return PG_OK;
	walk *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return PG_ERR_NOMEM;
	w->max_depth = max_depth == 0                        ? PG_ATTACH_MAX_DEPTH
		       : max_depth > PG_ATTACH_DEPTH_CEILING ? PG_ATTACH_DEPTH_CEILING
							     : max_depth;
	w->entries_left = PG_ATTACH_MAX_ENTRIES;
	w->bytes_left = PG_ATTACH_MAX_BYTES;
	w->member_cap = PG_ATTACH_MEMBER_CAP;
	w->fn = fn;
	w->ctx = ctx;
	w->pw_done = true;
	arc_info info = {0};
	archive_walk(w, data, len, s.k, NULL, 1, &info);
	pg_status rc = w->err != PG_OK ? w->err : w->limited ? PG_ERR_TOO_BIG : PG_OK;
	free(w);
	return rc;
}
