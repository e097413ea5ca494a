#!/usr/bin/env bash
# Makes the base image packaging/container/Containerfile builds on where no container
# registry is reachable: a minimal Debian 12 from the Debian archive (debootstrap
# --variant=minbase), imported into podman as localhost/debian:bookworm-min.
#
#   bash tools/container-base.sh [IMAGE]     (as root; IMAGE default localhost/debian:bookworm-min)
#
# The root file system is kept as a tarball in $SMS_MILTER_CONTAINER_CACHE (default
# /var/cache/sms-milter-tests/container), named by a key of suite, variant, mirror and
# package list: a second run imports it (seconds) instead of running debootstrap again (one to
# two minutes), and an image that already carries the key is left as it is. Delete the cache
# directory to start from the archive again (e.g. for newer security updates).
set -euo pipefail

image=${1:-localhost/debian:bookworm-min}
suite=bookworm
variant=minbase
mirror=${SMS_MILTER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
include=() # extra packages in the base; none: each stage installs what it needs
cache=${SMS_MILTER_CONTAINER_CACHE:-/var/cache/sms-milter-tests/container}

key=$(printf '%s\n' "$suite" "$variant" "$mirror" "${include[@]}" | sha256sum | cut -c1-16)
tarball=$cache/debian-$suite-$variant-$key.tar

if [ "$(podman image inspect --format '{{index .Labels "sms-milter.base-key"}}' "$image" \
	2>/dev/null || true)" = "$key" ]; then
	echo "container-base: $image is up to date (key $key)"
	exit 0
fi

if [ ! -s "$tarball" ]; then
	mkdir -p "$cache"
	root=$(mktemp -d "$cache/root.XXXXXX")
	trap 'rm -rf "$root" "$tarball.tmp"' EXIT
	echo "container-base: debootstrap --variant=$variant $suite from $mirror"
	args=(--variant="$variant")
	[ "${#include[@]}" -eq 0 ] || args+=(--include="$(
		IFS=,
		echo "${include[*]}"
	)")
	if ! debootstrap "${args[@]}" "$suite" "$root" "$mirror" >"$root.log" 2>&1; then
		tail -20 "$root.log" >&2
		rm -f "$root.log"
		echo "container-base: debootstrap failed" >&2
		exit 1
	fi
	rm -f "$root.log"
	# The downloaded .debs and package lists: every stage runs apt-get update itself.
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
		"$root"/var/log/bootstrap.log
	tar --numeric-owner -C "$root" -cf "$tarball.tmp" .
	mv "$tarball.tmp" "$tarball"
	echo "container-base: cached $tarball"
fi

podman import --quiet --change "LABEL sms-milter.base-key=$key" \
	--change 'CMD ["/bin/bash"]' "$tarball" "$image" >/dev/null
echo "container-base: imported $image (key $key)"
