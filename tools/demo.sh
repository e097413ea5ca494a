#!/usr/bin/env bash
# The README's demo command: installs what is needed, builds, then runs a sandboxed Postfix
# on a loopback port with sms-milter attached and a local fake Twilio over HTTPS, sends one
# alert mail through it and prints the SMS that Twilio received.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh demo
build_log=$(mktemp)
if ! bash tools/build.sh >"$build_log" 2>&1; then
	tail -40 "$build_log" >&2
	echo "demo: the build failed (whole log: $build_log)" >&2
	exit 1
fi
rm -f "$build_log"
SMS_MILTER_BIN="$PWD/build/sms-milter" python3 tools/demo.py
