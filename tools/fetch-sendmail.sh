#!/usr/bin/env bash
# Downloads (never installs) Debian's Sendmail packages for the Sendmail tests, which unpack
# them with dpkg-deb -x into a sandbox: Sendmail and Postfix conflict as packages.
# The .debs land in ${SENDMAIL_DEBS:-/var/cache/sms-milter-tests/sendmail}.
set -euo pipefail

dir=${SENDMAIL_DEBS:-/var/cache/sms-milter-tests/sendmail}
packages=(sendmail-bin sendmail-base sendmail-cf)

mkdir -p "$dir"
have=1
for p in "${packages[@]}"; do
	compgen -G "$dir/${p}_*.deb" >/dev/null || have=0
done
if [ "$have" = 1 ]; then
	echo "fetch-sendmail: packages present in $dir"
	exit 0
fi
cd "$dir"
if ! apt-get download "${packages[@]}"; then
	apt-get update -qq
	apt-get download "${packages[@]}"
fi
echo "fetch-sendmail: downloaded to $dir: $(ls "$dir" | tr '\n' ' ')"
