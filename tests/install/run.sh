#!/usr/bin/env bash
# ctest "install": the documented install path (README "Install") on this machine, see
# test_install.py. Runs it inside private mount, network and PID namespaces: the machine's
# own Postfix, ports and logs are never touched, and every process the test starts dies with
# the namespace, also when the test fails. Needs root; takes 2 to 4 minutes (it builds the
# .deb).
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
	echo "install test: needs root" >&2
	exit 1
fi
here=$(cd "$(dirname "$0")" && pwd)
# bash stays PID 1 of the namespace (reaping Postfix's daemonized processes); when it exits,
# the kernel kills whatever is left in the namespace.
exec env SMS_MILTER_INSTALL_NS=1 unshare --mount --net --pid --fork --propagation private \
	--mount-proc bash -c 'python3 "$1"; exit $?' install-test "$here/test_install.py"
