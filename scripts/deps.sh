#!/bin/sh
# deps.sh - install with apt-get whatever shade's build, tests, demo and
# benchmarks need and this machine lacks (Debian 12). Quiet when nothing is
# missing; never starts the distribution's database services (the tests run
# their own servers in a temporary directory).
set -eu

PACKAGES="
build-essential
pkg-config
libpq-dev
libev-dev
libmariadb-dev
libjansson-dev
postgresql-15
postgresql-client-15
mariadb-server
mariadb-client
percona-toolkit
postgresql-15-repack
procps
util-linux
coreutils
diffutils
jq
socat
netcat-openbsd
"

missing=
for p in $PACKAGES; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing="$missing $p"
done
[ -n "$missing" ] || exit 0

if [ "$(id -u)" = 0 ]; then
	SUDO=
elif command -v sudo >/dev/null 2>&1; then
	SUDO=sudo
else
	echo "deps.sh: missing packages:$missing (run as root to install)" >&2
	exit 1
fi

echo "deps.sh: installing$missing" >&2
log=$(mktemp "${TMPDIR:-/tmp}/shade-deps.XXXXXX")

# Keep the packages' maintainer scripts from starting PostgreSQL and MariaDB
# services: a policy-rc.d that says "no" for the duration of the install,
# unless the machine already has one.
policy=/usr/sbin/policy-rc.d
own_policy=
cleanup()
{
	[ -z "$own_policy" ] || $SUDO rm -f "$policy"
	rm -f "$log"
}
trap cleanup EXIT
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
	$SUDO chmod 755 "$policy"
	own_policy=1
fi

if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >"$log" 2>&1 ||
   ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
       --no-install-recommends $missing >>"$log" 2>&1; then
	cat "$log" >&2
	echo "deps.sh: apt-get failed" >&2
	exit 1
fi
