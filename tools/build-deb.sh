#!/usr/bin/env bash
# Builds the Debian package: copies this tree (without .git and build directories) to a
# temporary directory, runs dpkg-buildpackage -us -uc -b there, and leaves the .deb files,
# .changes and .buildinfo in OUTDIR (default build-deb/ in the repo, ignored by git).
# Writes nothing else outside /tmp. Needs the build dependencies
# (bash tools/install-deps.sh build).
#
#   bash tools/build-deb.sh [OUTDIR]      then: apt-get install ./build-deb/sms-milter_*.deb
#
# SMS_MILTER_DEB_JOBS sets the parallel jobs (default 2).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$repo/build-deb}")

# One version: CMakeLists.txt's project() version must be debian/changelog's.
version=$(sed -n 's/^project(sms-milter VERSION \([0-9][0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
deb_version=$(dpkg-parsechangelog -l "$repo/debian/changelog" -S Version)
if [ -z "$version" ] || [ "${deb_version%%-*}" != "$version" ]; then
	echo "build-deb: CMakeLists.txt says version '$version' but debian/changelog" \
		"says '$deb_version': add a changelog entry (dch -v $version)" >&2
	exit 1
fi

tmp=$(mktemp -d /tmp/sms-milter-deb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
src=$tmp/sms-milter-$version
mkdir "$src"
tar -C "$repo" --exclude=./.git --exclude='./build*' --exclude=__pycache__ -cf - . |
	tar -C "$src" -xf -

log=$tmp/build.log
echo "build-deb: building sms-milter $deb_version in $src"
if ! (cd "$src" && dpkg-buildpackage -us -uc -b -j"${SMS_MILTER_DEB_JOBS:-2}") >"$log" 2>&1; then
	tail -60 "$log" >&2
	echo "build-deb: dpkg-buildpackage failed" >&2
	exit 1
fi

mkdir -p "$out"
arch=$(dpkg --print-architecture)
rm -f "$out"/sms-milter_*.deb "$out"/sms-milter-dbgsym_*.deb "$out"/sms-milter_*.changes \
	"$out"/sms-milter_*.buildinfo
cp "$tmp"/*.deb "$tmp"/*.changes "$tmp"/*.buildinfo "$out"/
ls -l "$out"/*_"$deb_version"_"$arch".deb
