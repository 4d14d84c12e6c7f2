#!/bin/sh
# mkavdb.sh OUTDIR - writes pecguard's test signature database for ClamAV.
#
#   OUTDIR/pecguard-test.ndb  content signatures (Name:TargetType:Offset:Hex)
#   OUTDIR/pecguard-test.hdb  hash signatures    (MD5:Size:Name)
#
# Both libclamav in-process (cl_load) and a private clamd (DatabaseDirectory)
# load this directory; no official database (main.cvd, daily.cvd) is needed,
# and none may be downloaded in tests.  Every detection is reported with the
# suffix ".UNOFFICIAL" because the files are not signed by Cisco-Talos.
#
# The EICAR test string is assembled from two halves so that no file of the
# repository contains it whole (scanners on developer machines and on CI
# would otherwise quarantine this script).
#
# The ClamAV test files (Debian package clamav-testfiles) all carry the same
# tiny PE, clam.exe (544 bytes), packed (UPX, FSG, MEW, ...), archived (zip,
# 7z, cab, cpio, ...) or embedded (mail, OLE2, PDF, RTF, ...).  The official
# database detects them as "ClamAV-Test-File"; ours does the same with
# signatures of our own, so that detection through every unpacker can be
# tested without the official database.  What we match inside clam.exe:
#   - the code at file offset 0x40 (the entry point, RVA 0x1040): it calls
#     MessageBoxA/ExitProcess; 51 bytes, unique to this file;
#   - the import names "USER32.DLL\0CLAMessageBoxA" (the "CLA" prefix makes
#     the import name unique: no real program imports "CLAMessageBoxA");
#   - the MD5 of the whole 544-byte file, for the exact-file case (an
#     unpacker that rebuilds the PE byte for byte also hits it).
# Target type 1 (PE) keeps the two content signatures from firing on
# anything that ClamAV does not recognise as a PE once unpacked.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 64
fi
out=$1
mkdir -p "$out"

hex() { od -An -tx1 -v | tr -d ' \n'; }

# shellcheck disable=SC2016 # the '$' are literal characters of the string
eicar_a='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-'
# shellcheck disable=SC2016
eicar_b='STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
eicar_hex=$(printf '%s%s' "$eicar_a" "$eicar_b" | hex)
eicar_md5=$(printf '%s%s' "$eicar_a" "$eicar_b" | md5sum | cut -d' ' -f1)
eicar_len=$(printf '%s%s' "$eicar_a" "$eicar_b" | wc -c | tr -d ' ')

# clam.exe, file offset 0x40..0x72: mov ebx,0x401071; xor eax,eax; push...;
# the decoding loop and the int 21h DOS exit.  Written out (not read from
# /usr/share/clamav-testfiles) so that the database does not depend on the
# test files being installed.
clam_code=bb7110400033c050508bf3535350b02940300466ac79f9ba3100780dad50ff66700e1fbe3100e9e5ffb409cd21b44ccd2162
clam_imports=$(printf 'USER32.DLL\000CLAMessageBoxA' | hex)
clam_md5=aa15bcf478d165efd2065190eb473bcb
clam_len=544

tmp="$out/.pecguard-test.$$"
trap 'rm -f "$tmp.ndb" "$tmp.hdb"' EXIT
{
	printf 'Eicar-Test-Signature:0:0:%s\n' "$eicar_hex"
	printf 'ClamAV-Test-File:1:*:%s\n' "$clam_code"
	printf 'ClamAV-Test-File:1:*:%s\n' "$clam_imports"
} >"$tmp.ndb"
{
	printf '%s:%s:Eicar-Test-Signature\n' "$eicar_md5" "$eicar_len"
	printf '%s:%s:ClamAV-Test-File\n' "$clam_md5" "$clam_len"
} >"$tmp.hdb"
# Renamed into place so that a clamd or a reload reading the directory never
# sees a half-written file.
mv "$tmp.ndb" "$out/pecguard-test.ndb"
mv "$tmp.hdb" "$out/pecguard-test.hdb"
trap - EXIT

# Sanity: the installed test file must still be the clam.exe described above.
f=/usr/share/clamav-testfiles/clam.exe
if [ -r "$f" ] && [ "$(md5sum <"$f" | cut -d' ' -f1)" != "$clam_md5" ]; then
	echo "mkavdb: warning: $f is not the expected clam.exe (md5 differs)" >&2
fi
echo "mkavdb: wrote $out/pecguard-test.ndb and $out/pecguard-test.hdb"
