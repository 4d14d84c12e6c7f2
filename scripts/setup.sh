#!/bin/sh
# Install every Debian 12 package pecguard needs to build, test, fuzz and
# benchmark.  Idempotent: when everything is present it installs nothing and
# does not touch the network.
set -eu

# The multi-pattern matcher: Hyperscan on x86-64 (it conflicts with
# Vectorscan, and rspamd, a peer of the evaluation, needs Hyperscan);
# Vectorscan, its portable fork with the same API, elsewhere.
if [ "$(dpkg --print-architecture)" = amd64 ]; then
	HS_PKG=libhyperscan-dev
else
	HS_PKG=libvectorscan-dev
fi
BUILD_PKGS="build-essential cmake pkg-config clang llvm libclang-rt-14-dev
  libgmime-3.0-dev libglib2.0-dev libssl-dev openssl libxml2-dev
  libclamav-dev libmilter-dev libarchive-dev liblmdb-dev libhiredis-dev
  libpcre2-dev $HS_PKG libconfig-dev libpsl-dev libidn2-dev
  libmagic-dev libcmocka-dev"
TEST_PKGS="python3 postfix swaks clamav clamav-daemon clamav-testfiles
  miltertest redis-server redis-tools procps zip systemd locales"

missing=""
for p in $BUILD_PKGS $TEST_PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "setup: all dependencies present"
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi

echo "setup: installing:$missing"
# "No configuration" leaves /etc/postfix/main.cf absent: the system Postfix
# never starts; the tests run private instances with their own config.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
# Keep package scripts from starting system daemons (clamav-daemon, redis):
# the tests start their own on private sockets.
policy_added=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
	$SUDO chmod 755 /usr/sbin/policy-rc.d
	policy_added=1
fi
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
if [ "$policy_added" = 1 ]; then
	$SUDO rm -f /usr/sbin/policy-rc.d
fi
echo "setup: done"
