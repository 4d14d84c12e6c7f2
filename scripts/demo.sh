#!/bin/sh
# The main job, live, on the built-in defaults, from a fresh Debian 12
# machine (as root): installs what it needs, builds, makes the bundled
# example messages (a test PKI and providers' index, signed PEC envelopes
# and receipts, fake PEC, an invoice lure, EICAR, ordinary mail) and the
# project's antivirus test database, starts a throw-away Postfix on
# loopback wired to pecguard-milter, delivers the demo set over SMTP,
# prints what each mailbox received and what each sender was told, and
# stops everything it started.
set -eu
# The demo starts a private Postfix: root is needed.  A user with sudo
# runs the script again through it (environment kept).
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		exec sudo -E "$0" "$@"
	fi
	echo "$0: run as root (or as a user with sudo)" >&2
	exit 1
fi
cd "$(dirname "$0")/.."
JOBS=$(nproc 2>/dev/null || echo 2)

./scripts/setup.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$JOBS" --target pecguard_cli pecguard_milter pg-mkfixtures >/dev/null

EX=build/examples
rm -rf "$EX"
./build/tests/tools/pg-mkfixtures "$EX" >/dev/null
sh tests/tools/mkavdb.sh "$EX/avdb" >/dev/null
exec python3 tests/e2e/demo.py --milter build/pecguard-milter --examples "$EX"
