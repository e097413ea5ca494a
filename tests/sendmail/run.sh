#!/bin/sh
# Runs the Sendmail end-to-end suite (or, with arguments, that Python command) inside private
# mount, network, UTS and PID namespaces: the suite unpacks Debian's Sendmail there and mounts
# it over /usr, /etc, /var, /run and /dev without touching the host's (see sendmail_sandbox.py).
# When the namespace's first process exits, the kernel kills every process left in it and the
# mounts vanish, so nothing survives a crash or a timeout (--kill-child).
# Usage: run.sh [SMS_MILTER_BIN]   (root; the .debs come from tools/fetch-sendmail.sh)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" != 0 ]; then
	echo "tests/sendmail: needs root (namespaces, mounts, Sendmail)" >&2
	exit 1
fi
if [ $# -gt 0 ]; then
	SMS_MILTER_BIN=$1
	shift
	export SMS_MILTER_BIN
fi
export SMS_MILTER_SENDMAIL_NS=1 PYTHONPATH="$here:$here/../e2e${PYTHONPATH:+:$PYTHONPATH}"
# sh (not python) is the namespace's PID 1, so orphaned Sendmail processes are reaped.
if [ $# -gt 0 ]; then
	exec unshare --mount --propagation private --net --uts --pid --fork --mount-proc \
		--kill-child -- sh -c '"$@"; exit $?' sh "$@"
fi
exec unshare --mount --propagation private --net --uts --pid --fork --mount-proc \
	--kill-child -- sh -c 'python3 -m unittest discover -s "$1" -p "test_*.py" -v; exit $?' sh "$here"
