#!/usr/bin/env bash
# Builds sms-milter with AddressSanitizer and UBSan in build-asan/ and runs the unit tests,
# the miltertest scripts and the corpus against it. Any sanitizer report (also from the
# daemon, which the scripts start and stop) fails the run. Usage: tests/sanitize.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-asan
work=$(mktemp -d)
reports=$work/reports
mkdir "$reports"
trap 'rm -rf "$work"' EXIT

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DSMS_MILTER_SANITIZE=ON >/dev/null
cmake --build "$build" -j2 >/dev/null

export ASAN_OPTIONS="detect_leaks=1:log_path=$reports/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan"
export G_SLICE=always-malloc G_DEBUG=gc-friendly  # let ASan see GLib's allocations

status=0
# Each suite's output is kept and shown when it fails (a failing check, not only a report).
run_quiet() {
	local out=$work/$1.out
	shift
	if ! "$@" >"$out" 2>&1; then
		echo "failed under ASan/UBSan: $*" >&2
		grep -B3 -A12 -E "ERROR|FAIL" "$out" | head -60 >&2 || tail -30 "$out" >&2
		status=1
	fi
}
run_quiet unit "$build/tests/unit-tests"
run_quiet milter "$root/tests/milter/run.sh" "$build/sms-milter"
run_quiet corpus "$root/tests/corpus/run.sh" "$build/sms-milter"
if compgen -G "$reports/*" >/dev/null; then
	echo "sanitizer reports:" >&2
	head -60 "$reports"/* >&2
	status=1
fi
[ "$status" -eq 0 ] && echo "unit, milter and corpus tests clean under ASan/UBSan"
exit "$status"
