#!/usr/bin/env bash
# Downloads (never installs) Debian's Sendmail packages for the Sendmail tests, which unpack
# them with dpkg-deb -x into a private mount namespace (tests/sendmail/): Sendmail and Postfix
# conflict as packages. Also fetched: the libraries sendmail-bin needs that a Postfix host
# usually lacks (libwrap0, liblockfile1); the tests unpack those too, the host keeps none.
# The .debs land in ${SENDMAIL_DEBS:-/var/cache/sms-milter-tests/sendmail}.
set -euo pipefail

dir=${SENDMAIL_DEBS:-/var/cache/sms-milter-tests/sendmail}
packages=(sendmail-bin sendmail-base sendmail-cf libwrap0 liblockfile1)

mkdir -p "$dir"
missing=()
for p in "${packages[@]}"; do
	compgen -G "$dir/${p}_*.deb" >/dev/null || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
	echo "fetch-sendmail: packages present in $dir"
	exit 0
fi

# apt downloads as the unprivileged user _apt: give it a directory of its own (otherwise apt
# warns "Download is performed unsandboxed as root"), then move the files into place.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chown _apt: "$tmp" 2>/dev/null || true
download() { (cd "$tmp" && apt-get download -q "${missing[@]}"); }
if ! download; then
	apt-get update -qq
	download
fi
mv "$tmp"/*.deb "$dir"/
echo "fetch-sendmail: downloaded ${missing[*]} to $dir"
