#!/usr/bin/env bash
# Builds sms-milter with AddressSanitizer and UBSan in build-asan/ and runs the unit tests,
# the miltertest scripts and the corpus against it. Any sanitizer report (also from the
# daemon, which the scripts start and stop) fails the run. Usage: tests/sanitize.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-asan
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DSMS_MILTER_SANITIZE=ON >/dev/null
cmake --build "$build" -j2 >/dev/null

export ASAN_OPTIONS="detect_leaks=1:log_path=$reports/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan"
export G_SLICE=always-malloc G_DEBUG=gc-friendly  # let ASan see GLib's allocations

status=0
"$build/tests/unit-tests" >/dev/null || status=1
"$root/tests/milter/run.sh" "$build/sms-milter" >/dev/null || status=1
"$root/tests/corpus/run.sh" "$build/sms-milter" >/dev/null || status=1
if compgen -G "$reports/*" >/dev/null; then
	echo "sanitizer reports:" >&2
	head -60 "$reports"/* >&2
	status=1
fi
[ "$status" -eq 0 ] && echo "unit, milter and corpus tests clean under ASan/UBSan"
exit "$status"
