#!/usr/bin/env bash
# Builds the libFuzzer target for the message-to-SMS path with clang in build-fuzz/ and runs it
# for SECONDS over a copy of fuzz/seeds/ in a temporary directory. Prints executions, speed
# and coverage from libFuzzer's final stats. Crash, leak and timeout inputs are kept in
# fuzz/crashes-found/. Exits non-zero when the build fails or libFuzzer finds anything.
# Usage: fuzz/run.sh SECONDS
set -euo pipefail

if [ $# -ne 1 ] || ! [[ $1 =~ ^[1-9][0-9]*$ ]]; then
	echo "usage: $0 SECONDS" >&2
	exit 2
fi
seconds=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=$root/build-fuzz
found=$here/crashes-found

generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
if [ -f "$build/CMakeCache.txt" ]; then generator=(); fi  # keep the existing generator
CC=clang CXX=clang++ cmake -S "$root" -B "$build" "${generator[@]}" \
	-DSMS_MILTER_FUZZ=ON -DSMS_MILTER_TESTS=OFF >/dev/null
cmake --build "$build" --target message_text_fuzzer -j "$(nproc)"

work=$(mktemp -d)
trap 'rm -rf "$work"; rmdir "$found" 2>/dev/null || true' EXIT
mkdir -p "$work/corpus" "$found"
cp "$here"/seeds/* "$work/corpus/"

# GLib's slice allocator would hide heap errors from ASan. UBSan findings are fatal already
# (-fno-sanitize-recover); ask for their stack too.
export G_SLICE=always-malloc G_DEBUG=gc-friendly
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
rc=0
"$build/message_text_fuzzer" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
	-timeout=10 -print_final_stats=1 -artifact_prefix="$found/" \
	"$work/corpus" >"$work/fuzz.log" 2>&1 || rc=$?

final_stat() { sed -n "s/^stat::$1: *//p" "$work/fuzz.log" | tail -1; }
done_line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$work/fuzz.log" | tail -1 || true)
echo "executions:    $(final_stat number_of_executed_units)"
echo "exec/s:        $(final_stat average_exec_per_sec)"
echo "new units:     $(final_stat new_units_added)"
echo "peak RSS (MB): $(final_stat peak_rss_mb)"
echo "slowest unit:  $(final_stat slowest_unit_time_sec) s"
echo "coverage:      $(grep -oE 'cov: [0-9]+ ft: [0-9]+' <<<"$done_line" || echo '?')"
echo "corpus:        $(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' <<<"$done_line" || echo '?')"

if [ "$rc" -ne 0 ] || grep -qE '^==[0-9]+==ERROR|^SUMMARY: |deadly signal|invariant broken' "$work/fuzz.log"; then
	echo "FAILED: libFuzzer exit status $rc; inputs in $found/" >&2
	grep -E -A40 'invariant broken|^==[0-9]+==ERROR|runtime error|ALARM|out-of-memory' \
		"$work/fuzz.log" | head -80 >&2 || true
	cp "$work/fuzz.log" "$found/last-run.log"
	exit 1
fi
echo "no crashes"
