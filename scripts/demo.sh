#!/bin/sh
# The main job on the embedded defaults, from a fresh Debian 12 machine:
# installs what it needs, builds, makes the bundled example messages (a
# test PKI, a providers' index and signed PEC envelopes, receipts and
# anomalies, tampered and imitation PEC, viruses inside envelopes,
# ordinary mail) and classifies and scans them with `pecguard scan`,
# printing a table.
set -eu
cd "$(dirname "$0")/.."
JOBS=$(nproc 2>/dev/null || echo 2)

./scripts/setup.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$JOBS" --target pecguard_cli pg-mkfixtures >/dev/null

# The example messages, their test PKI and providers' index, and the
# project's antivirus test database (EICAR, ClamAV's test files): no
# official ClamAV database is needed.
EX=build/examples
rm -rf "$EX"
./build/tests/tools/pg-mkfixtures "$EX" >/dev/null
sh tests/tools/mkavdb.sh "$EX/avdb" >/dev/null
mkdir -p "$EX/state"
set -- scan --providers "$EX/pki/index.ldif" --av clamav --av-db "$EX/avdb" --state "$EX/state" \
	"$EX/messages"
echo "pecguard $*"
echo
exec ./build/pecguard "$@"
