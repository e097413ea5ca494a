#!/usr/bin/env bash
# Runs the miltertest scripts against the real sms-milter binary, then checks the outbox
# that they filled. Usage: run.sh BINARY. Prints "N passed, N failed"; exits non-zero on any failure.
set -u
bin=$(readlink -f "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
	rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'not-the-real-token\n' >"$work/token"
chmod 600 "$work/token"
cat >"$work/sms-milter.conf" <<CONF
milter_socket = inet:$port@127.0.0.1
gateway_domains = sms.example.com
allowed_countries = US, CA
allowed_clients = 127.0.0.0/8, ::1
allowed_senders = @example.com
twilio_account_sid = AC0123456789abcdef0123456789abcdef
twilio_auth_token_file = $work/token
twilio_from = +15005550006
# Nothing listens here: jobs stay deferred, which is all these tests need.
twilio_api_url = https://127.0.0.1:9
state_directory = $work/state
log_to = stderr
minimal_backoff_time = 1h
maximal_backoff_time = 1h
CONF
"$bin" run -c "$work/sms-milter.conf" 2>"$work/milter.log" &
pid=$!

passed=0
failed=0
result() { # name, status
	if [ "$2" -eq 0 ]; then
		passed=$((passed + 1)); echo "PASS $1"
	else
		failed=$((failed + 1)); echo "FAIL $1"
	fi
}
for script in "$here"/rcpt_replies.lua "$here"/delete_discard.lua "$here"/abort_and_reuse.lua; do
	miltertest -D "socket=inet:$port@127.0.0.1" -D "dir=$here" -s "$script"
	rc=$?
	result "$(basename "$script")" "$rc"
done

# SIGUSR1 reloads the config: France becomes allowed. A broken config is refused and the
# running one kept.
sed -i 's/^allowed_countries = US, CA$/allowed_countries = US, CA, FR/' "$work/sms-milter.conf"
kill -USR1 "$pid"
for _ in $(seq 50); do grep -q "reloaded configuration" "$work/milter.log" && break; sleep 0.1; done
miltertest -D "socket=inet:$port@127.0.0.1" -D "dir=$here" -s "$here/reload.lua"
rc=$?
result "reload.lua (SIGUSR1)" "$rc"
cp "$work/sms-milter.conf" "$work/good.conf"
echo "no_such_key = 1" >>"$work/sms-milter.conf"
kill -USR1 "$pid"
for _ in $(seq 50); do grep -q "keeping the previous configuration" "$work/milter.log" && break; sleep 0.1; done
miltertest -D "socket=inet:$port@127.0.0.1" -D "dir=$here" -s "$here/reload.lua"
rc=$?
grep -q "reload: .*unknown key" "$work/milter.log" && [ "$rc" -eq 0 ]
result "a broken config on SIGUSR1 is refused, the old one kept" $?

# The outbox holds exactly the jobs of the messages that reached end of message.
jobs() { sqlite3 "file:$work/state/outbox.db?mode=ro" "SELECT number FROM jobs WHERE queue_id = '$1'"; }
[ "$(jobs MTDISCARD1)" = "+14155550123" ]; result "outbox: SMS-only message queued" $?
[ "$(jobs MTMIXED2)" = "+14155550124" ]; result "outbox: mixed message queued" $?
[ -z "$(jobs MTNOTEXT3)" ]; result "outbox: no job for a message without text" $?
[ "$(sqlite3 "file:$work/state/outbox.db?mode=ro" "SELECT COUNT(*) FROM jobs WHERE number = '+14155550125'")" = 0 ]
result "outbox: no job for aborted messages" $?
! grep -q "not-the-real-token" "$work/milter.log"; result "log: no secret" $?

# An inet socket has no authentication: check says so (and still passes).
out=$("$bin" check --user "$(id -un)" -c "$work/good.conf" 2>&1)
rc=$?
[ "$rc" -eq 0 ] && grep -q "warning: .*inet socket: any local user" <<<"$out"
result "check warns about an inet milter_socket" $?

# run_as_user: started as root, the daemon drops to nobody after binding a unix socket that
# only nobody's group can reach (0660), owns its outbox and still answers on that socket.
chmod 755 "$work"
install -d -m 0750 "$work/sock"
sed -e "s|^milter_socket = .*|milter_socket = unix:$work/sock/milter.sock|" \
	-e "s|^state_directory = .*|state_directory = $work/state-nobody|" "$work/good.conf" >"$work/nobody.conf"
echo "run_as_user = nobody" >>"$work/nobody.conf"
"$bin" run -c "$work/nobody.conf" 2>"$work/nobody.log" &
pid2=$!
for _ in $(seq 100); do [ -S "$work/sock/milter.sock" ] && break; sleep 0.1; done
miltertest -D "socket=unix:$work/sock/milter.sock" -D "dir=$here" -s "$here/reload.lua"
rc=$?
uids=$(awk '/^Uid:/{print $2,$3,$4,$5}' "/proc/$pid2/status" 2>/dev/null)
owner=$(stat -c %U "$work/state-nobody/outbox.db" 2>/dev/null)
sock=$(stat -c '%a %U' "$work/sock/milter.sock" 2>/dev/null)
kill "$pid2"; wait "$pid2" 2>/dev/null
[ "$rc" -eq 0 ] && [ "$uids" = "65534 65534 65534 65534" ] && [ "$owner" = nobody ] && [ "$sock" = "660 nobody" ]
result "run_as_user = nobody on a unix socket (uids: $uids, outbox owner: $owner, socket: $sock)" $?
! grep -q "inet socket" "$work/nobody.log"
result "no inet warning for a unix socket" $?

# A unix socket whose directory is missing: a fatal error naming the directory, exit 1.
sed -e "s|^milter_socket = .*|milter_socket = unix:$work/missing/milter.sock|" "$work/good.conf" >"$work/missing.conf"
timeout 20 "$bin" run -c "$work/missing.conf" 2>"$work/missing.log"
rc=$?
[ "$rc" -eq 1 ] && grep -q "fatal: cannot listen on .*directory $work/missing does not exist" "$work/missing.log"
result "a missing socket directory is a fatal error (exit $rc)" $?

if [ "$failed" -ne 0 ]; then
	echo "--- milter log"; cat "$work/milter.log" "$work/nobody.log" 2>/dev/null
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
