#!/usr/bin/env bash
# Installs everything sms-milter needs to build, test and run its demo on Debian 12, from
# Debian's archive only. Postfix is preseeded so that the package does not configure and
# start a system instance: the tests and the demo run their own sandboxed ones.
set -euo pipefail

packages=(
	build-essential cmake pkg-config git ca-certificates
	libmilter-dev libcurl4-openssl-dev libphonenumber-dev libssl-dev libfmt-dev doctest-dev
	libsqlite3-dev libgmime-3.0-dev libxml2-dev libicu-dev nlohmann-json3-dev
	postfix swaks miltertest sqlite3 openssl python3 libsasl2-modules sasl2-bin
	groff-base man-db clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
	echo "install-deps: all packages present"
	exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
apt-get install -y -q --no-install-recommends "${missing[@]}"
