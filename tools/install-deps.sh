#!/usr/bin/env bash
# Installs, from Debian's archive only, what one purpose needs on Debian 12:
#
#   install-deps.sh build   compiler and -dev libraries: build the binary or the .deb
#   install-deps.sh demo    build, plus Postfix and Python for tools/demo.sh
#   install-deps.sh test    everything the test suites use (the default)
#
# A relay that only runs sms-milter needs none of this: the .deb's Depends are its run
# dependencies. Postfix is preseeded ("No configuration") only when this script installs it,
# so that the package neither configures nor starts a system instance; an already configured
# Postfix and its debconf answers are left alone.
set -euo pipefail

purpose=${1:-test}

build=(
	build-essential cmake pkg-config git ca-certificates debhelper
	libmilter-dev libcurl4-openssl-dev libphonenumber-dev libssl-dev libfmt-dev doctest-dev
	libsqlite3-dev libgmime-3.0-dev libxml2-dev libicu-dev nlohmann-json3-dev
	libmicrohttpd-dev
	libhiredis-dev
)
demo=(postfix python3 openssl libsasl2-modules sasl2-bin)
test=(
	swaks miltertest sqlite3 groff-base man-db clang libclang-rt-14-dev
	dpkg-dev fakeroot lintian m4 iproute2 util-linux
	prometheus
	redis-server
	podman runc debootstrap python3-yaml
)

case $purpose in
build) packages=("${build[@]}") ;;
demo) packages=("${build[@]}" "${demo[@]}") ;;
test) packages=("${build[@]}" "${demo[@]}" "${test[@]}") ;;
*)
	echo "usage: $0 [build|demo|test]" >&2
	exit 2
	;;
esac

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=()
for p in "${packages[@]}"; do
	installed "$p" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	for p in "${missing[@]}"; do
		if [ "$p" = postfix ]; then
			echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
		fi
	done
	apt-get update -qq
	apt-get install -y -q --no-install-recommends "${missing[@]}"
	# The prometheus package is installed for its promtool only (the alert-rules and e2e
	# metrics checks), redis-server for the binary the shared-state tests start on a port of
	# their own: a server either enabled and started under systemd is stopped and disabled
	# again; one that was installed before is left alone.
	for p in "${missing[@]}"; do
		if [ -d /run/systemd/system ]; then
			case $p in
			prometheus | redis-server) systemctl disable --now "$p.service" || true ;;
			esac
		fi
	done
else
	echo "install-deps: all $purpose packages present"
fi

if [ "$purpose" = test ]; then
	# Sendmail conflicts with Postfix as a package: the Sendmail tests unpack its .debs
	# (dpkg-deb -x) into a sandbox of their own instead of installing them.
	bash "$(dirname "$0")/fetch-sendmail.sh"
fi
