#!/usr/bin/env python3
"""Generates the attachment analyser's test messages and fuzz seeds.

Run once from anywhere; the output is committed:
  tests/data/attach/*.eml        messages, one scenario each
  tests/data/attach/expected.tsv what each must and must not raise
  tests/data/attach/raw/*        bare archives for pg_attach_each_member
  fuzz/corpus/attach/*           seeds for fuzz_attach (< 20 KB each)

Everything is inert: "executables" are headers followed by a sentence,
scripts say "inert test", macros are empty VBA storages.  No real malware,
no EICAR.  Archives are built with Python's zipfile/tarfile, or with the
system's libarchive through ctypes where Python cannot (7z, encrypted zip);
the OLE2 compound file and the ISO 9660 image are built by hand below.
Encrypted archives carry random salts, so they differ on every run.
"""
import base64
import bz2
import ctypes
import ctypes.util
import gzip
import io
import os
import struct
import tarfile
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
RAW = os.path.join(HERE, "raw")
SEEDS = os.path.join(ROOT, "fuzz", "corpus", "attach")
DATE = (2019, 10, 5, 8, 42, 0)
MTIME = 1570257720

# ---- content -----------------------------------------------------------------

PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
       b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")
VBS = b"' inert test file - no payload\r\nWScript.Echo \"test\"\r\n"
JS = b"// inert test file - no payload\r\nWScript.Echo(\"test\");\r\n"
HTML_REDIRECT = (b"<html><script>window.location='http://fatture.example.invalid/"
                 b"IT01234567890_ABCDE'</script></html>")


def pe_stub():
    """An MZ/PE header and a sentence: the shape of a PE, nothing to run."""
    b = bytearray(0x200)
    b[0:2] = b"MZ"
    struct.pack_into("<I", b, 0x3C, 0x80)
    b[0x40:0x40 + 39] = b"This program cannot be run in DOS mode."
    b[0x80:0x84] = b"PE\0\0"
    struct.pack_into("<H", b, 0x84, 0x14C)
    b[0x100:0x100 + 38] = b"[inert test file: not a real program]"
    return bytes(b)


def elf_stub():
    b = bytearray(64)
    b[0:8] = b"\x7fELF\x02\x01\x01\x00"
    return bytes(b) + b"[inert test file: not a real program]\n"


def lnk_stub():
    """The Shell Link header (MS-SHLLINK 2.1) and nothing it points to."""
    b = bytearray(76)
    b[0:4] = b"\x4c\x00\x00\x00"
    b[4:20] = bytes.fromhex("0114020000000000c000000000000046")
    return bytes(b) + b"[inert test shortcut: no target]\n"


JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")
PNG = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" +
       struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0) + b"\0\0\0\0")


def ole2(entries):
    """A version 3 compound file with empty streams: header, one FAT
    sector, one directory sector.  entries: (name, type, child, right)
    with type 5 root, 1 storage, 2 stream; child/right are indexes."""
    NOSTREAM, ENDOFCHAIN, FREESECT, FATSECT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    hdr = bytearray(512)
    hdr[0:8] = bytes.fromhex("d0cf11e0a1b11ae1")
    struct.pack_into("<HHHHH", hdr, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIIII", hdr, 40, 0, 1, 1, 0, 4096, ENDOFCHAIN, 0, ENDOFCHAIN, 0)
    struct.pack_into("<I", hdr, 76, 0)
    for i in range(1, 109):
        struct.pack_into("<I", hdr, 76 + 4 * i, FREESECT)
    fat = bytearray(512)
    struct.pack_into("<II", fat, 0, FATSECT, ENDOFCHAIN)
    for i in range(2, 128):
        struct.pack_into("<I", fat, 4 * i, FREESECT)
    dirs = bytearray(512)
    for i, (name, typ, child, right) in enumerate(entries):
        e = bytearray(128)
        u = name.encode("utf-16-le")
        e[0:len(u)] = u
        struct.pack_into("<HBB", e, 64, len(u) + 2, typ, 1)
        struct.pack_into("<III", e, 68, NOSTREAM,
                         NOSTREAM if right is None else right,
                         NOSTREAM if child is None else child)
        struct.pack_into("<IQ", e, 116, ENDOFCHAIN, 0)
        dirs[128 * i:128 * (i + 1)] = e
    return bytes(hdr + fat + dirs)


OLE_VBA = ole2([("Root Entry", 5, 1, None), ("_VBA_PROJECT_CUR", 1, 2, None),
                ("VBA", 1, 3, None), ("_VBA_PROJECT", 2, None, 4), ("dir", 2, None, None)])
OLE_CLEAN = ole2([("Root Entry", 5, 1, None), ("WordDocument", 2, None, 2),
                  ("\x05SummaryInformation", 2, None, None)])


def iso9660(fname, data, volume="DOCUMENTI"):
    """A one-file ISO 9660 image of 22 sectors (ECMA-119): 16 empty, the
    primary volume descriptor, the terminator, the two path tables, the
    root directory, the file."""
    S = 2048

    def both32(v):
        return struct.pack("<I", v) + struct.pack(">I", v)

    def both16(v):
        return struct.pack("<H", v) + struct.pack(">H", v)

    date7 = bytes([119, 10, 5, 8, 42, 0, 4])

    def record(extent, size, flags, name):
        n = len(name)
        rec = (bytes([0, 0]) + both32(extent) + both32(size) + date7 + bytes([flags, 0, 0]) +
               both16(1) + bytes([n]) + name)
        if n % 2 == 0:
            rec += b"\0"
        return bytes([len(rec)]) + rec[1:]  # byte 0: the record's length

    root = record(20, S, 2, b"\0")
    img = bytearray(22 * S)
    pvd = bytearray(S)
    pvd[0:7] = b"\x01CD001\x01"
    pvd[8:40] = b" " * 32
    pvd[40:72] = volume.encode().ljust(32)
    pvd[80:88] = both32(22)
    pvd[120:124] = both16(1)
    pvd[124:128] = both16(1)
    pvd[128:132] = both16(S)
    pvd[132:140] = both32(10)
    struct.pack_into("<I", pvd, 140, 18)
    struct.pack_into(">I", pvd, 148, 19)
    pvd[156:156 + 34] = root
    for off, ln in ((190, 128), (318, 128), (446, 128), (574, 128), (702, 37), (739, 37), (776, 37)):
        pvd[off:off + ln] = b" " * ln
    for off in (813, 830, 847, 864):
        pvd[off:off + 17] = b"0" * 16 + b"\0"
    pvd[881] = 1
    img[16 * S:17 * S] = pvd
    img[17 * S:17 * S + 7] = b"\xffCD001\x01"
    img[18 * S:18 * S + 10] = bytes([1, 0]) + struct.pack("<I", 20) + struct.pack("<H", 1) + b"\0\0"
    img[19 * S:19 * S + 10] = bytes([1, 0]) + struct.pack(">I", 20) + struct.pack(">H", 1) + b"\0\0"
    d = record(20, S, 2, b"\0") + record(20, S, 2, b"\1") + record(21, len(data), 0, fname + b";1")
    img[20 * S:20 * S + len(d)] = d
    img[21 * S:21 * S + len(data)] = data
    return bytes(img)


# ---- archives ----------------------------------------------------------------


def zip_of(members, method=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members:
            zi = zipfile.ZipInfo(name, DATE)
            zi.compress_type = method
            zi.external_attr = 0o644 << 16
            z.writestr(zi, data)
    return buf.getvalue()


def ooxml(kind, macro):
    ct = b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'
    rels = b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>'
    part = {"word": "word/document.xml", "xl": "xl/workbook.xml"}[kind]
    m = [("[Content_Types].xml", ct), ("_rels/.rels", rels), (part, b"<?xml version=\"1.0\"?><doc/>")]
    if macro:
        m.append((kind + "/vbaProject.bin", OLE_VBA))
    return zip_of(m)


def tar_of(members, mode):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode, format=tarfile.USTAR_FORMAT) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = MTIME
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def tar_bz2_bomb(big, late):
    """A tar.bz2 with a member of `big` zero bytes, then a script."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:bz2", format=tarfile.USTAR_FORMAT) as t:
        ti = tarfile.TarInfo("zeros.bin")
        ti.size = big
        ti.mtime = MTIME

        class Zeros(io.RawIOBase):
            def __init__(self, n):
                self.n = n

            def readable(self):
                return True

            def readinto(self, b):
                k = min(len(b), self.n)
                b[:k] = bytes(k)
                self.n -= k
                return k
        t.addfile(ti, io.BufferedReader(Zeros(big), 1 << 20))
        ti = tarfile.TarInfo("late.js")
        ti.size = len(late)
        ti.mtime = MTIME
        t.addfile(ti, io.BytesIO(late))
    return out.getvalue()


class LibArchive:
    """Just enough of libarchive's write API for 7z and encrypted zip."""

    def __init__(self):
        self.la = ctypes.CDLL(ctypes.util.find_library("archive") or "libarchive.so.13")
        la = self.la
        la.archive_write_new.restype = ctypes.c_void_p
        la.archive_entry_new.restype = ctypes.c_void_p
        for f in ("archive_write_set_format_zip", "archive_write_set_format_7zip",
                  "archive_write_close", "archive_write_free"):
            getattr(la, f).argtypes = [ctypes.c_void_p]
        la.archive_write_set_options.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        la.archive_write_set_passphrase.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        la.archive_write_open_memory.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                                 ctypes.POINTER(ctypes.c_size_t)]
        la.archive_entry_set_pathname.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        la.archive_entry_set_size.argtypes = [ctypes.c_void_p, ctypes.c_int64]
        la.archive_entry_set_filetype.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        la.archive_entry_set_perm.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        la.archive_entry_set_mtime.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_long]
        la.archive_write_header.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        la.archive_write_data.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        la.archive_write_data.restype = ctypes.c_ssize_t
        la.archive_entry_free.argtypes = [ctypes.c_void_p]
        la.archive_error_string.argtypes = [ctypes.c_void_p]
        la.archive_error_string.restype = ctypes.c_char_p

    def write(self, fmt, members, options=None, passphrase=None):
        la = self.la
        a = la.archive_write_new()
        {"zip": la.archive_write_set_format_zip, "7z": la.archive_write_set_format_7zip}[fmt](a)
        if options and la.archive_write_set_options(a, options.encode()) != 0:
            raise RuntimeError(la.archive_error_string(a))
        if passphrase and la.archive_write_set_passphrase(a, passphrase.encode()) != 0:
            raise RuntimeError(la.archive_error_string(a))
        cap = 1 << 22
        buf = ctypes.create_string_buffer(cap)
        used = ctypes.c_size_t(0)
        if la.archive_write_open_memory(a, buf, cap, ctypes.byref(used)) != 0:
            raise RuntimeError(la.archive_error_string(a))
        for name, data in members:
            e = la.archive_entry_new()
            la.archive_entry_set_pathname(e, name.encode())
            la.archive_entry_set_size(e, len(data))
            la.archive_entry_set_filetype(e, 0o100000)
            la.archive_entry_set_perm(e, 0o644)
            la.archive_entry_set_mtime(e, MTIME, 0)
            if la.archive_write_header(a, e) != 0:
                raise RuntimeError(la.archive_error_string(a))
            if la.archive_write_data(a, data, len(data)) != len(data):
                raise RuntimeError(la.archive_error_string(a))
            la.archive_entry_free(e)
        la.archive_write_close(a)
        la.archive_write_free(a)
        return buf.raw[:used.value]


# ---- messages ----------------------------------------------------------------

BOUNDARY = "----=_Part_0_pgattach"


def b64(data):
    s = base64.b64encode(data).decode()
    return "\r\n".join(s[i:i + 76] for i in range(0, len(s), 76))


def attachment(filename, ctype, data, disposition="attachment", raw_name=None):
    """raw_name: the name parameters as written (RFC 2231 and tricks)."""
    if raw_name is None:
        raw_name = 'name="%s"' % filename
        disp = 'filename="%s"' % filename
    else:
        disp = raw_name.replace("name", "filename", 1)
    return ("Content-Type: %s; %s\r\nContent-Transfer-Encoding: base64\r\n"
            "Content-Disposition: %s; %s\r\n\r\n%s\r\n" % (ctype, raw_name, disposition, disp, b64(data)))


def message(subject, text, parts, html=None):
    h = ("From: Amministrazione <amministrazione@fornitore.example>\r\n"
         "To: ufficio@cliente.example\r\n"
         "Subject: %s\r\nDate: Sat, 05 Oct 2019 08:42:00 +0200\r\n"
         "Message-ID: <%s@fornitore.example>\r\nMIME-Version: 1.0\r\n"
         'Content-Type: multipart/mixed; boundary="%s"\r\n\r\n'
         % (subject, zlib.crc32((subject + text).encode()), BOUNDARY))
    body = ""
    if html is None:
        body += "--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n" % (
            BOUNDARY, text)
    else:
        alt = BOUNDARY + "_alt"
        body += ('--%s\r\nContent-Type: multipart/alternative; boundary="%s"\r\n\r\n'
                 "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n"
                 "--%s\r\nContent-Type: text/html; charset=utf-8\r\n\r\n%s\r\n--%s--\r\n" % (
                     BOUNDARY, alt, alt, text, alt, html, alt))
    for p in parts:
        body += "--%s\r\n%s" % (BOUNDARY, p)
    body += "--%s--\r\n" % BOUNDARY
    return (h + body).encode("utf-8")


def rfc822_part(msg):
    return ("Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n" +
            msg.decode("utf-8") + "\r\n")


TEXT = "Gentile cliente,\r\nin allegato la documentazione richiesta.\r\n\r\nCordiali saluti"

# ---- the scenarios -----------------------------------------------------------


def build():
    la = LibArchive()
    out = {}   # file -> (bytes, must, must_not)

    def add(name, data, must=(), must_not=()):
        out[name] = (data, must, must_not)

    ANY = ("*",)
    docm = ooxml("word", True)
    iso_lnk = iso9660(b"DOCUMENTO.PDF.LNK", lnk_stub())
    iso_exe = iso9660(b"FATTURA.EXE", pe_stub())

    # lures: scripts, executables, shortcuts in archives
    add("zip-vbs.eml", message("Fattura 2019", TEXT, [
        attachment("Fattura_2019.zip", "application/zip", zip_of([("Fattura_2019.pdf.vbs", VBS)]))]),
        ["ARCHIVE_SCRIPT", "DOUBLE_EXTENSION"], ["ATTACH_SCRIPT", "TYPE_MISMATCH"])
    add("zip-js-and-pdf.eml", message("Documenti", TEXT, [
        attachment("Documenti.zip", "application/octet-stream",
                   zip_of([("documento.pdf", PDF), ("documento.js", JS)]))]),
        ["ARCHIVE_SCRIPT"], ["DOUBLE_EXTENSION", "TYPE_MISMATCH"])
    add("zip-lnk.eml", message("Avviso", TEXT, [
        attachment("Avviso.zip", "application/x-zip-compressed", zip_of([("Avviso.pdf.lnk", lnk_stub())]))]),
        ["ARCHIVE_SHORTCUT", "DOUBLE_EXTENSION"], ["ATTACH_SHORTCUT"])
    add("zip-exe-in-dir.eml", message("Ordine", TEXT, [
        attachment("Ordine.zip", "application/zip",
                   zip_of([("ordine/", b""), ("ordine/Ordine_3008.doc.exe", pe_stub())]))]),
        ["ARCHIVE_EXECUTABLE", "DOUBLE_EXTENSION"], ["ATTACH_EXECUTABLE"])
    add("targz-js.eml", message("Archivio", TEXT, [
        attachment("documenti.tar.gz", "application/gzip",
                   tar_of([("documenti/leggimi.txt", b"leggimi\n"), ("documenti/fattura.js", JS)], "w:gz"))]),
        ["ARCHIVE_SCRIPT"], ["DOUBLE_EXTENSION"])
    add("gz-exe.eml", message("Fattura", TEXT, [
        attachment("fattura.exe.gz", "application/octet-stream", gzip.compress(pe_stub(), mtime=0))]),
        ["ARCHIVE_EXECUTABLE"], ["ATTACH_EXECUTABLE"])
    add("7z-vbs.eml", message("Documento", TEXT, [
        attachment("Documento.7z", "application/x-7z-compressed",
                   la.write("7z", [("Documento_1762.vbs", VBS)]))]),
        ["ARCHIVE_SCRIPT"])
    # nesting: three levels are opened, a fourth is not
    lvl = zip_of([("d.js", JS)])
    lvl = zip_of([("c.zip", lvl)])
    lvl = zip_of([("b.zip", lvl)])
    add("nested-depth3.eml", message("Annidato", TEXT, [attachment("a.zip", "application/zip", lvl)]),
        ["ARCHIVE_SCRIPT"], ["ARCHIVE_LIMIT"])
    lvl4 = zip_of([("a.zip", lvl)])
    add("nested-depth4.eml", message("Annidato", TEXT, [attachment("z.zip", "application/zip", lvl4)]),
        ["ARCHIVE_LIMIT"], ["ARCHIVE_SCRIPT"])
    inner = message("Inoltro", TEXT, [attachment("Fattura.zip", "application/zip", zip_of([("Fattura.js", JS)]))])
    add("rfc822-zip-js.eml", message("Fwd: Inoltro", TEXT, [rfc822_part(inner)]), ["ARCHIVE_SCRIPT"])

    # encrypted archives and passwords in the text
    add("zip-zipcrypto-password.eml", message(
        "Documentazione", "Come da accordi invio la documentazione.\r\n\r\nPassword del file: 8hqpnj\r\n",
        [attachment("721291.zip", "application/x-zip-compressed",
                    la.write("zip", [("Documento_988.docm", docm)], "zip:encryption=zipcrypt", "8hqpnj"))]),
        ["ENCRYPTED_ARCHIVE", "ENCRYPTED_ARCHIVE_PASSWORD_IN_BODY", "OFFICE_MACRO"])
    add("zip-aes-password-html.eml", message(
        "Pratica", "Documentazione in allegato.",
        [attachment("Pratica.zip", "application/zip",
                    la.write("zip", [("Pratica_2231.xlsm", ooxml("xl", True)), ("Pratica.js", JS)],
                             "zip:encryption=aes256", "Qw3rty77"))],
        html="<html><body><p>Documentazione in allegato.</p><p>La password per aprire "
             "l'allegato &egrave; <b>Qw3rty77</b></p></body></html>"),
        ["ENCRYPTED_ARCHIVE", "ENCRYPTED_ARCHIVE_PASSWORD_IN_BODY", "OFFICE_MACRO", "ARCHIVE_SCRIPT"])
    add("zip-encrypted-nopassword.eml", message("Documento", TEXT, [
        attachment("Documento.zip", "application/zip",
                   la.write("zip", [("Documento.pdf", PDF)], "zip:encryption=zipcrypt", "segreta"))]),
        ["ENCRYPTED_ARCHIVE"], ["ENCRYPTED_ARCHIVE_PASSWORD_IN_BODY", "TYPE_MISMATCH"])
    add("zip-encrypted-wrong-password.eml", message(
        "Documento", "Pwd: nonquesta99", [
            attachment("Documento.zip", "application/zip",
                       la.write("zip", [("Documento.docm", docm)], "zip:encryption=aes256", "segreta"))]),
        ["ENCRYPTED_ARCHIVE", "ENCRYPTED_ARCHIVE_PASSWORD_IN_BODY"], ["OFFICE_MACRO"])

    # Office macros
    add("xls-vba.eml", message("Fattura", TEXT, [
        attachment("Fattura_4411.xls", "application/vnd.ms-excel", OLE_VBA)]),
        ["OFFICE_MACRO"], ["TYPE_MISMATCH"])
    add("docm.eml", message("Avviso scadenza", TEXT, [
        attachment("Avviso_scadenza.docm", "application/vnd.ms-word.document.macroEnabled.12", docm)]),
        ["OFFICE_MACRO"], ["TYPE_MISMATCH", "ARCHIVE_SCRIPT"])
    add("xlsm-renamed-xlsx.eml", message("Fattura", TEXT, [
        attachment("Fattura.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                   ooxml("xl", True))]),
        ["OFFICE_MACRO"], ["TYPE_MISMATCH"])
    add("zip-xlsm.eml", message("Report", TEXT, [
        attachment("Report.zip", "application/zip", zip_of([("Report.xlsm", ooxml("xl", True))]))]),
        ["OFFICE_MACRO"], ["ARCHIVE_SCRIPT", "ARCHIVE_EXECUTABLE"])

    # disk images
    add("iso-lnk.eml", message("Fattura", TEXT, [
        attachment("Documento.iso", "application/octet-stream", iso_lnk)]),
        ["ATTACH_DISK_IMAGE", "ARCHIVE_SHORTCUT", "DOUBLE_EXTENSION"])
    add("zip-img-exe.eml", message("Fattura", TEXT, [
        attachment("Fattura.zip", "application/zip", zip_of([("Fattura.img", iso_exe)]))]),
        ["ARCHIVE_DISK_IMAGE", "ARCHIVE_EXECUTABLE"], ["ATTACH_DISK_IMAGE"])
    add("vhdx-name.eml", message("Backup", TEXT, [
        attachment("Fattura.vhdx", "application/octet-stream", b"vhdxfile" + bytes(56))]),
        ["ATTACH_DISK_IMAGE"])

    # names
    add("lnk-double.eml", message("Documento", TEXT, [
        attachment("Documento.pdf.lnk", "application/octet-stream", lnk_stub())]),
        ["ATTACH_SHORTCUT", "DOUBLE_EXTENSION"])
    add("exe-double.eml", message("Fattura", TEXT, [
        attachment("fattura.pdf.exe", "application/octet-stream", pe_stub())]),
        ["ATTACH_EXECUTABLE", "DOUBLE_EXTENSION"], ["TYPE_MISMATCH"])
    add("rtl-override.eml", message("Fattura", TEXT, [
        attachment(None, "application/octet-stream", pe_stub(),
                   raw_name="name*=UTF-8''Fattura_%E2%80%AEfdp.exe")]),
        ["ATTACH_EXECUTABLE", "DOUBLE_EXTENSION"])
    add("spaces-vbs.eml", message("Scansione", TEXT, [
        attachment("scan.jpg          .vbs", "application/octet-stream", VBS)]),
        ["ATTACH_SCRIPT", "DOUBLE_EXTENSION"])
    add("trailing-dot-js.eml", message("Fattura", TEXT, [
        attachment("doc.xml.js.", "application/octet-stream", JS)]),
        ["ATTACH_SCRIPT", "DOUBLE_EXTENSION"])
    add("hta.eml", message("Avviso", TEXT, [
        attachment("Avviso.hta", "application/hta", b"<html><script>/* inert */</script></html>")]),
        ["ATTACH_SCRIPT"], ["TYPE_MISMATCH", "DOUBLE_EXTENSION"])

    # contents that lie about their type
    add("lnk-as-pdf.eml", message("Scansione", TEXT, [
        attachment("scansione.pdf", "application/pdf", lnk_stub())]),
        ["ATTACH_SHORTCUT", "TYPE_MISMATCH"], ["DOUBLE_EXTENSION"])
    add("exe-as-pdf.eml", message("Fattura", TEXT, [
        attachment("fattura.pdf", "application/pdf", pe_stub())]),
        ["ATTACH_EXECUTABLE", "TYPE_MISMATCH"], ["DOUBLE_EXTENSION"])
    add("elf-as-jpg.eml", message("Foto", TEXT, [
        attachment("foto.jpg", "image/jpeg", elf_stub())]),
        ["ATTACH_EXECUTABLE", "TYPE_MISMATCH"])
    add("html-as-pdf.eml", message("Fattura", TEXT, [
        attachment("Fattura_733.pdf", "application/pdf", HTML_REDIRECT)]),
        ["TYPE_MISMATCH"], ["ATTACH_EXECUTABLE", "ATTACH_SCRIPT", "DOUBLE_EXTENSION"])
    add("html-as-p7m.eml", message("Invio File 1234567890", TEXT, [
        attachment("IT01234567890_ABCDE.xml.p7m", "application/pkcs7-mime", HTML_REDIRECT)]),
        ["TYPE_MISMATCH"], ["DOUBLE_EXTENSION"])
    add("zip-as-pdf.eml", message("Fattura", TEXT, [
        attachment("Fattura.pdf", "application/pdf", zip_of([("Fattura.pdf", PDF)]))]),
        ["TYPE_MISMATCH"], ["ARCHIVE_SCRIPT"])
    add("zip-as-nameless-pdf.eml", message("Fattura", TEXT, [
        "Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n" %
        b64(zip_of([("Fattura.pdf", PDF)]))]),
        ["TYPE_MISMATCH"])

    # ham: none of these may raise anything
    add("ham-pdf.eml", message("Fattura n. 12/2019", TEXT, [
        attachment("Fattura_12_2019.pdf", "application/pdf", PDF)]), [], ANY)
    add("ham-pdf-octet.eml", message("Fattura", TEXT, [
        attachment("Fattura.pdf", "application/octet-stream", PDF)]), [], ANY)
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<p:FatturaElettronica versione="FPR12" '
           'xmlns:p="http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.2"/>\n').encode()
    add("ham-sdi-xml.eml", message("Fattura elettronica", TEXT, [
        attachment("IT01234567890_00001.xml", "application/xml", xml),
        attachment("IT01234567890_00001_MT_001.xml", "text/xml", xml)]), [], ANY)
    add("ham-xml-utf16.eml", message("Fattura", TEXT, [
        attachment("IT01234567890_00002.xml", "application/octet-stream",
                   b"\xff\xfe" + xml.decode().replace("UTF-8", "UTF-16").encode("utf-16-le"))]), [], ANY)
    add("ham-docx.eml", message("Lettera", TEXT, [
        attachment("Lettera.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                   ooxml("word", False))]), [], ANY)
    add("ham-doc-ole.eml", message("Lettera", TEXT, [
        attachment("Lettera.doc", "application/msword", OLE_CLEAN)]), [], ANY)
    add("ham-xls-html.eml", message("Estratto conto", TEXT, [
        attachment("estratto.xls", "application/vnd.ms-excel",
                   b"<html><body><table><tr><td>1</td></tr></table></body></html>")]), [], ANY)
    add("ham-zip-pdf.eml", message("Fatture", "Password dell'area riservata: non la trovi qui", [
        attachment("Fatture.zip", "application/zip", zip_of([("Fattura_1.pdf", PDF), ("Fattura_2.pdf", PDF)]))]),
        [], ANY)
    add("ham-targz.eml", message("Archivio", TEXT, [
        attachment("archivio.tar.gz", "application/gzip", tar_of([("archivio/Fattura.pdf", PDF)], "w:gz"))]),
        [], ANY)
    add("ham-images.eml", message("Foto", TEXT, [
        attachment("foto.jpg", "image/jpeg", JPEG), attachment("logo.png", "image/png", PNG),
        attachment("mislabelled.jpg", "image/jpeg", PNG)]), [], ANY)
    add("ham-text-latin1.eml", message("Elenco", TEXT, [
        attachment("elenco.csv", "text/csv", "Città;Importo\r\nForlì;12,50\r\n".encode("latin-1")),
        attachment("note.txt", "text/plain", b"note\r\n")]), [], ANY)
    add("ham-p7m-base64.eml", message("Fattura firmata", TEXT, [
        attachment("IT01234567890_00003.xml.p7m", "application/pkcs7-mime",
                   base64.b64encode(bytes.fromhex("3080" + "06092a864886f70d010702") + bytes(64)))]),
        [], ANY)
    add("ham-p7m-der.eml", message("Fattura firmata", TEXT, [
        attachment("IT01234567890_00004.xml.p7m", "application/octet-stream",
                   bytes.fromhex("3082" + "0120" + "06092a864886f70d010702") + bytes(64)),
        attachment("x.p7m.xml", "application/xml", xml)]), [], ANY)
    add("ham-eml-attached.eml", message("Fwd", TEXT, [rfc822_part(message("Fattura", TEXT, [
        attachment("Fattura.pdf", "application/pdf", PDF)]))]), [], ANY)
    add("ham-password-no-archive.eml", message("Accesso", "La tua password: Temp2019! scade domani.", [
        attachment("Istruzioni.pdf", "application/pdf", PDF)]), [], ANY)

    # bounds
    add("bomb-tar-bz2.eml", message("Archivio", TEXT, [
        attachment("archivio.tar.bz2", "application/x-bzip2",
                   tar_bz2_bomb(64 << 20, JS))]), ["ARCHIVE_LIMIT"], [])
    many = tar_of([("f%03d.txt" % i, b"") for i in range(600)] + [("ultimo.js", JS)], "w:gz")
    add("many-entries.eml", message("Archivio", TEXT, [
        attachment("molti.tar.gz", "application/gzip", many)]), ["ARCHIVE_LIMIT"], ["ARCHIVE_SCRIPT"])

    raw = {
        "nested.zip": lvl,
        "nested4.zip": lvl4,
        "mixed.zip": zip_of([("dir/", b""), ("dir/a.pdf", PDF), ("b.zip", zip_of([("c.vbs", VBS)]))]),
        "single.gz": gzip.compress(PDF, mtime=0),
        "docs.tar.gz": tar_of([("a/Fattura.pdf", PDF), ("a/b.js", JS)], "w:gz"),
        "encrypted.zip": la.write("zip", [("secret.pdf", PDF)], "zip:encryption=zipcrypt", "x"),
        "iso-lnk.iso": iso_lnk,
        "bomb.tar.bz2": tar_bz2_bomb(64 << 20, JS),
        "many.tar.gz": many,
        "plain.pdf": PDF,
    }
    seeds = {
        "zip-vbs.zip": zip_of([("Fattura.pdf.vbs", VBS)]),
        "zip-nested.zip": lvl,
        "zip-encrypted.zip": la.write("zip", [("a.docm", docm)], "zip:encryption=zipcrypt", "infected"),
        "zip-aes.zip": la.write("zip", [("a.js", JS)], "zip:encryption=aes256", "infected"),
        "docm.zip": docm,
        "ole-vba.xls": OLE_VBA,
        "ole-clean.doc": OLE_CLEAN,
        "iso-lnk.iso.gz": gzip.compress(iso_lnk, mtime=0),
        "iso-exe.iso.bz2": bz2.compress(iso_exe),
        "targz.tar.gz": raw["docs.tar.gz"],
        "single.gz": raw["single.gz"],
        "7z.7z": la.write("7z", [("a.vbs", VBS), ("b.pdf", PDF)]),
        "lnk.lnk": lnk_stub(),
        "pe.exe": pe_stub(),
        "elf.bin": elf_stub(),
        "html.pdf": HTML_REDIRECT,
        "p7m.der": bytes.fromhex("3080" + "06092a864886f70d010702") + bytes(32),
        "bomb.tar.bz2": raw["bomb.tar.bz2"],
        "many.tar.gz": many,
        "pdf.pdf": PDF,
    }
    return out, raw, seeds


def main():
    out, raw, seeds = build()
    os.makedirs(RAW, exist_ok=True)
    os.makedirs(SEEDS, exist_ok=True)
    with open(os.path.join(HERE, "expected.tsv"), "w") as tsv:
        tsv.write("# generated by make.py: file, symbols that must appear, symbols that must not\n"
                  "# (\"*\": no symbol at all; \"-\": none)\n")
        for name in sorted(out):
            data, must, must_not = out[name]
            with open(os.path.join(HERE, name), "wb") as f:
                f.write(data)
            tsv.write("%s\t%s\t%s\n" % (name, ",".join(must) or "-", ",".join(must_not) or "-"))
    for name, data in raw.items():
        with open(os.path.join(RAW, name), "wb") as f:
            f.write(data)
    for name, data in seeds.items():
        assert len(data) < 20000, name
        with open(os.path.join(SEEDS, name), "wb") as f:
            f.write(data)
    total = sum(os.path.getsize(os.path.join(d, f)) for d in (HERE, RAW) for f in os.listdir(d)
                if os.path.isfile(os.path.join(d, f)))
    print("%d messages, %d raw archives, %d seeds; %d bytes in tests/data/attach" %
          (len(out), len(raw), len(seeds), total))


if __name__ == "__main__":
    main()
