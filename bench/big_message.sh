#!/usr/bin/env bash
# Peak memory and time of the real milter on large messages: a base64 attachment before the
# text/plain part (the worst order: the text comes last), sent by miltertest in body chunks to
# one SMS recipient. For each size (100 KiB, 1 MiB, 20 MiB) and each body_size_limit (the
# default, and the largest allowed, 64 MiB) a fresh milter is started, so VmHWM (peak RSS from
# /proc/PID/status) belongs to that one message. Loopback only: the Twilio URL points at a
# closed port, so jobs just defer. No assertions on time; exits non-zero only on errors.
# Usage: bench/big_message.sh BINARY
# Environment: CHUNK (body chunk size, default 65535: libmilter refuses packets with more than
# 65535 data bytes unless a larger size is negotiated, and Postfix and Sendmail send at most
# 65535), SIZES (default "102400 1048576 20971520"), LIMITS (default "default 67108864").
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 BINARY" >&2
	exit 2
fi
bin=$(readlink -f "$1")
here=$(cd "$(dirname "$0")" && pwd)
chunk=${CHUNK:-65535}
sizes=${SIZES:-"102400 1048576 20971520"}
limits=${LIMITS:-"default 67108864"}
rcpt="<+14155550123@sms.example.com>"

for tool in miltertest ss sqlite3 base64 python3; do
	command -v "$tool" >/dev/null || { echo "$0: needs $tool" >&2; exit 2; }
done

work=$(mktemp -d)
pid=
stop_milter() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		pid=
	fi
}
cleanup() {
	stop_milter
	rm -rf "$work"
}
trap cleanup EXIT

printf 'not-the-real-token\n' >"$work/token"
chmod 600 "$work/token"

kib() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$pid/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
human() { awk -v b="$1" 'BEGIN { if (b >= 1048576) printf "%.1f MiB", b / 1048576; else printf "%.0f KiB", b / 1024 }'; }

# make_message SIZE: headers and body files; the base64 attachment is SIZE bytes encoded.
make_message() {
	local size=$1 dir=$work/msg-$1
	mkdir -p "$dir"
	cat >"$dir/headers" <<-HDR
		From: Alerts <alerts@example.com>
		To: $rcpt
		Subject: bench $size
		MIME-Version: 1.0
		Content-Type: multipart/mixed; boundary="bench-boundary"
	HDR
	{
		printf -- '--bench-boundary\r\n'
		printf 'Content-Type: application/octet-stream; name="blob.bin"\r\n'
		printf 'Content-Disposition: attachment; filename="blob.bin"\r\n'
		printf 'Content-Transfer-Encoding: base64\r\n\r\n'
		# 57 raw bytes make one 76-character line plus CRLF: 78 bytes.
		head -c $((size * 57 / 78)) /dev/urandom | base64 -w 76 | sed 's/$/\r/'
		printf -- '--bench-boundary\r\n'
		printf 'Content-Type: text/plain; charset=utf-8\r\n\r\n'
		printf 'Disk /var on db1 at 99%%, the text after the attachment.\r\n'
		printf -- '--bench-boundary--\r\n'
	} >"$dir/body"
}

# start_milter LIMIT: writes a config, starts the milter, waits until it listens.
start_milter() {
	local limit=$1 port
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	rm -rf "$work/state"
	cat >"$work/sms-milter.conf" <<-CONF
		milter_socket = inet:$port@127.0.0.1
		gateway_domains = sms.example.com
		twilio_account_sid = AC0123456789abcdef0123456789abcdef
		twilio_auth_token_file = $work/token
		twilio_from = +15005550006
		# Nothing listens here: jobs stay deferred.
		twilio_api_url = https://127.0.0.1:9
		state_directory = $work/state
		log_to = stderr
	CONF
	if [ "$limit" != default ]; then echo "body_size_limit = $limit" >>"$work/sms-milter.conf"; fi
	"$bin" run -c "$work/sms-milter.conf" 2>>"$work/milter.log" &
	pid=$!
	socket="inet:$port@127.0.0.1"
	for _ in $(seq 100); do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "$0: the milter exited; its log:" >&2
			cat "$work/milter.log" >&2
			exit 1
		fi
		if [ -n "$(ss -Hltn "sport = :$port")" ]; then break; fi
		sleep 0.1
	done
	[ -n "$(ss -Hltn "sport = :$port")" ] || { echo "$0: the milter does not listen" >&2; exit 1; }
	sleep 0.5  # let its threads settle before the baseline
}

for size in $sizes; do make_message "$size"; done

rows=()
for size in $sizes; do
	for limit in $limits; do
		start_milter "$limit"
		base_rss=$(kib VmRSS)
		base_hwm=$(kib VmHWM)
		qid="BENCH$size"
		t0=$(date +%s%N)
		if ! out=$(miltertest -D "socket=$socket" -D "headers=$work/msg-$size/headers" \
			-D "body=$work/msg-$size/body" -D "chunk=$chunk" -D "rcpt=$rcpt" -D "qid=$qid" \
			-s "$here/big_message.lua" 2>&1); then
			echo "$0: miltertest failed for $size bytes, limit $limit:" >&2
			echo "$out" >&2
			echo "--- milter log" >&2
			cat "$work/milter.log" >&2
			exit 1
		fi
		t1=$(date +%s%N)
		hwm=$(kib VmHWM)
		rss_after=$(kib VmRSS)
		eom=$(sed -n 's/^eom=//p' <<<"$out")
		chunks=$(sed -n 's/^chunks=//p' <<<"$out")
		sms=$(sqlite3 "file:$work/state/outbox.db?mode=ro" \
			"SELECT replace(body, char(10), ' / ') FROM jobs WHERE queue_id = '$qid' LIMIT 1" 2>/dev/null || echo '?')
		stop_milter
		msg_bytes=$(($(stat -c %s "$work/msg-$size/body") + $(stat -c %s "$work/msg-$size/headers")))
		[ "$limit" = default ] && limit_text="default" || limit_text=$(human "$limit")
		rows+=("$(human "$msg_bytes")|$limit_text|$chunks|$(mib "$base_rss")|$(mib "$base_hwm")|$(mib "$hwm")|$(mib "$rss_after")|$eom|$(awk -v n=$((t1 - t0)) 'BEGIN { printf "%.2f s", n / 1e9 }')|${sms:-(none)}")
	done
done

echo "sms-milter: $bin"
echo "body chunk: $chunk bytes; attachment before the text/plain part; recipient $rcpt"
echo
{
	echo "message|body_size_limit|chunks|RSS before|VmHWM before|VmHWM after (peak)|RSS after|EOM reply|elapsed|SMS text queued"
	printf '%s\n' "${rows[@]}"
} | column -t -s '|'
