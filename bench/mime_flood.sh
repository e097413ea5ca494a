#!/usr/bin/env bash
# Memory of `render` and of the running milter on MIME floods (bench/mime_flood.py): one
# ~1.8 MB message of 200,000 empty MIME parts behind a text/plain part. Prints:
#   - render: peak RSS (/usr/bin/time's "Maximum resident set size") and the SMS text;
#   - the daemon: RSS idle, peak (VmHWM) and RSS 2 s after CONCURRENT floods were sent at once
#     by miltertest (bench/big_message.lua, in 65535-byte body chunks) to one SMS recipient,
#     then after each further round (memory the allocator kept should be reused, not added).
# Loopback only: a unix socket in a temporary directory; the Twilio URL is a closed port, so
# jobs stay deferred. Prints figures, asserts nothing; exits non-zero only on errors.
# Usage: bench/mime_flood.sh BINARY
# Environment: PARTS (default 200000), CONCURRENT (default 6), ROUNDS (default 3), LIMIT
# (body_size_limit, default: the default).
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 BINARY" >&2
	exit 2
fi
bin=$(readlink -f "$1")
here=$(cd "$(dirname "$0")" && pwd)
parts=${PARTS:-200000}
concurrent=${CONCURRENT:-6}
rounds=${ROUNDS:-3}
rcpt="<+14155550123@sms.example.com>"

for tool in miltertest python3 /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "$0: needs $tool" >&2; exit 2; }
done

work=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

printf 'not-the-real-token\n' >"$work/token"
chmod 600 "$work/token"
cat >"$work/sms-milter.conf" <<-CONF
	milter_socket = unix:$work/milter.sock
	gateway_domains = sms.example.com
	twilio_account_sid = AC0123456789abcdef0123456789abcdef
	twilio_auth_token_file = $work/token
	twilio_from = +15005550006
	# Nothing listens here: jobs stay deferred.
	twilio_api_url = https://127.0.0.1:9
	state_directory = $work/state
	log_to = stderr
CONF
if [ -n "${LIMIT:-}" ]; then echo "body_size_limit = $LIMIT" >>"$work/sms-milter.conf"; fi

python3 "$here/mime_flood.py" --parts "$parts" "$work/flood.eml"
# big_message.lua wants the headers (one a line, no line ends) and the body apart.
python3 - "$work" <<-'PY'
	import sys
	work = sys.argv[1]
	data = open(work + "/flood.eml", "rb").read()
	head, body = data.split(b"\r\n\r\n", 1)
	open(work + "/headers", "wb").write(head.replace(b"\r\n", b"\n") + b"\n")
	open(work + "/body", "wb").write(body)
PY
size=$(stat -c %s "$work/flood.eml")

echo "sms-milter: $bin"
echo "message: $size bytes, $parts empty MIME parts after a text/plain part"
echo

/usr/bin/time -v "$bin" render -c "$work/sms-milter.conf" --from alerts@example.com \
	--to "+14155550123@sms.example.com" "$work/flood.eml" >"$work/render.out" 2>"$work/render.time"
peak=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/render.time")
wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/render.time")
echo "render: peak RSS $(awk -v k="$peak" 'BEGIN { printf "%.1f MiB", k / 1024 }'), $wall wall"
sed 's/^/  | /' "$work/render.out"
echo

kib() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$pid/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

"$bin" run -c "$work/sms-milter.conf" 2>>"$work/milter.log" &
pid=$!
for _ in $(seq 100); do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "$0: the milter exited; its log:" >&2
		cat "$work/milter.log" >&2
		exit 1
	fi
	if [ -S "$work/milter.sock" ]; then break; fi
	sleep 0.1
done
[ -S "$work/milter.sock" ] || { echo "$0: the milter does not listen" >&2; exit 1; }
sleep 0.5
echo "daemon: RSS idle $(mib "$(kib VmRSS)")"

round() {
	local n=$1 pids=() i
	for i in $(seq "$concurrent"); do
		miltertest -D "socket=unix:$work/milter.sock" -D "headers=$work/headers" \
			-D "body=$work/body" -D "chunk=65535" -D "rcpt=$rcpt" -D "qid=FLOOD$n$i" \
			-s "$here/big_message.lua" >"$work/mt.$n.$i" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		if ! wait "${pids[$i]}"; then
			echo "$0: miltertest failed:" >&2
			cat "$work/mt.$n.$((i + 1))" >&2
			exit 1
		fi
	done
	sleep 2
	echo "daemon: after round $n ($concurrent floods at once): peak (VmHWM) $(mib "$(kib VmHWM)"), RSS $(mib "$(kib VmRSS)"); EOM replies: $(sed -n 's/^eom=//p' "$work"/mt."$n".* | sort | uniq -c | xargs)"
}
for n in $(seq "$rounds"); do round "$n"; done
echo "daemon log lines about the structure budget: $(grep -c 'structure too large' "$work/milter.log" || true)"
