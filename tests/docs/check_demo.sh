#!/usr/bin/env bash
# The README's first command, run as written from the top of the tree: `bash tools/demo.sh`
# must install (nothing left to install here), build, and show the one alert mail arriving at
# the fake Twilio as its SMS, sent, with the number masked in the daemon's log lines.
#
# usage: check_demo.sh REPO_ROOT
set -euo pipefail

root=${1:?usage: $0 REPO_ROOT}
cd "$root"
command=$(sed -n '1,5{s/^ *\(bash tools\/demo\.sh\) *#.*/\1/p}' README.md)
if [[ $command != "bash tools/demo.sh" ]]; then
    echo "check_demo: the README's first lines give no 'bash tools/demo.sh'" >&2
    exit 1
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
$command >"$out" 2>&1 || rc=$?
cat "$out"

failures=0
expect() {
    if ! grep -qF -- "$1" "$out"; then
        echo "check_demo: the demo printed no '$1'" >&2
        failures=$((failures + 1))
    fi
}
[[ $rc -eq 0 ]] || { echo "check_demo: '$command' exited $rc" >&2; failures=$((failures + 1)); }
expect "Twilio received 1 message(s):"
expect "To:   +14155550123"
expect "| DISK FULL on db1"
expect "| /var/lib/postgresql is 98% full (2 GB left)."
expect "to=+1415***0123, from=<alerts@example.com>, status=sent, sid=SM"
if sed -n '/^sms-milter log/,$p' "$out" | grep -q "14155550123"; then
    echo "check_demo: the daemon's log shows the whole number" >&2
    failures=$((failures + 1))
fi
[[ $failures -eq 0 ]] && echo "check_demo: ok"
exit $((failures > 0))
