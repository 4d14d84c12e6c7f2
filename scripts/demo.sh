#!/bin/sh
# The main job on the embedded defaults, from a fresh Debian 12 machine:
# installs what it needs, builds, makes the bundled example messages (a
# test PKI, a providers' index and signed PEC envelopes, receipts and
# anomalies, tampered and imitation PEC, ordinary mail) and classifies
# them with `pecguard scan`, printing a table.
set -eu
cd "$(dirname "$0")/.."
JOBS=$(nproc 2>/dev/null || echo 2)

./scripts/setup.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$JOBS" --target pecguard_cli pg-mkfixtures >/dev/null

EX=build/examples
rm -rf "$EX"
./build/tests/tools/pg-mkfixtures "$EX" >/dev/null
echo "pecguard scan --providers $EX/pki/index.ldif $EX/messages"
echo
exec ./build/pecguard scan --providers "$EX/pki/index.ldif" "$EX/messages"
