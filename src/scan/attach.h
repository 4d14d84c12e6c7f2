/*
 * attach.h - the attachment analyser, and archive walking for others.
 *
 * The analyser looks at every leaf part of the content message that is an
 * attachment or is not a text body: its real type by content (own checks
 * of magic bytes, libmagic for the rest), its file name against that type,
 * and the members of archives (libarchive, bounded in depth, entries and
 * bytes).  It only adds threat indicators (symbols with weights from the
 * configuration): it never says "virus".  See docs/analysers/attach.md.
 *
 * pg_attach_each_member() gives other code (outbreak signatures, the
 * invoice analyser) the members of an archive with the same bounds.
 */
#ifndef PG_SCAN_ATTACH_H
#define PG_SCAN_ATTACH_H

#include <stdbool.h>
#include <stddef.h>

#include "pecguard.h"
#include "scan/analyser.h"

extern const pg_analyser pg_analyser_attach;

/* Bounds of pg_attach_each_member() (the analyser's are configurable,
 * with these defaults: attach.* in etc/pecguard.d/attach.conf). */
#define PG_ATTACH_MAX_DEPTH     3           /* archive levels opened by default */
#define PG_ATTACH_DEPTH_CEILING 8           /* max_depth is clamped to this */
#define PG_ATTACH_MAX_ENTRIES   500         /* entries looked at in all */
#define PG_ATTACH_MAX_BYTES     (32u << 20) /* bytes decompressed in all */
#define PG_ATTACH_MEMBER_CAP    (16u << 20) /* bytes of one member */

/* Called once per regular member (directories, links and devices are not
 * handed).  path names it from the archive given, nested archives joined by
 * '!': "fattura.vbs", "interno.zip!fattura.vbs"; a single compressed stream
 * (.gz, .bz2, .xz) gives one member called "data".  Names are made safe to
 * print: control characters and invalid UTF-8 become '?', invisible and
 * bidirectional formatting characters become "[U+202E]".
 *
 * data is the member's decompressed content, valid only during the call.
 * It is complete, except for members larger than PG_ATTACH_MEMBER_CAP:
 * those are handed truncated to exactly PG_ATTACH_MEMBER_CAP bytes, so
 * len == PG_ATTACH_MEMBER_CAP means "this prefix, maybe more" (a hash of it
 * is still a stable signature; a parser should give up).  Members that
 * cannot be read (encrypted, damaged) are not handed.
 *
 * Return 0 to go on, anything else to stop the walk. */
typedef int (*pg_attach_member_fn)(void *ctx, const char *path, const unsigned char *data,
				   size_t len);

/* Walks the members of the archive in data[0, len) (zip, rar, 7z, tar, cab,
 * lha, cpio, ISO 9660, and gzip/bzip2/xz/lzma/zstd/lz4/compress streams,
 * alone or around tar), handing each to fn in archive order.  A member that
 * is itself an archive is handed, then walked, while the nesting is below
 * max_depth (1: the members of data only; 0: PG_ATTACH_MAX_DEPTH; clamped
 * to PG_ATTACH_DEPTH_CEILING).  At most PG_ATTACH_MAX_ENTRIES entries and
 * PG_ATTACH_MAX_BYTES decompressed bytes in all: archive bombs stop there.
 *
 * Returns PG_OK when the walk ended (or fn stopped it), also when data is
 * not an archive (fn is never called) or is damaged (the members before the
 * damage were handed); PG_ERR_TOO_BIG when a bound stopped it early or a
 * member was handed truncated (the rest was handed as said); PG_ERR_NOMEM;
 * PG_ERR_INVALID for a NULL fn.
 * Thread-safe; no libmagic, no configuration. */
pg_status pg_attach_each_member(const unsigned char *data, size_t len, unsigned max_depth,
				pg_attach_member_fn fn, void *ctx) PG_WUR;

/* The type of data[0, len) by its first bytes (the analyser's own checks,
 * without libmagic): a MIME type such as "application/pdf",
 * "application/x-dosexec", "application/zip", "application/pkcs7-mime"
 * (DER CMS), "text/html", "text/xml", "text/plain", or NULL when unknown.
 * The string is static. */
const char *pg_attach_sniff(const unsigned char *data, size_t len);

/* Does a file name hide a risky extension behind a harmless-looking one:
 * "fattura.pdf.exe", "scan.jpg   .vbs", "doc.xml.js.", a bidirectional
 * override (U+202E) before an executable, script, shortcut or disk image
 * extension?  "fattura.xml.p7m" and "archivio.tar.gz" are not. */
bool pg_attach_double_extension(const char *name);

#endif
