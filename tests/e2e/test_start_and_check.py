"""The real binary at start-up and in `check`, without an MTA: what an admin sees.

  - log_to = syslog (the default) with no syslog daemon: a fatal start-up error still reaches
    stderr, and the exit status is 1;

Run as root:  SMS_MILTER_BIN=build/sms-milter python3 -m unittest tests/e2e/test_start_and_check.py
"""

import os
import shutil
import subprocess
import tempfile
import unittest

from milter_proc import milter_bin

ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"


class Workdir:
    """A temp dir (0755) with a secret file and a config writer."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="sms-milter-start-", dir=os.environ.get("E2E_TMPDIR"))
        os.chmod(self.root, 0o755)
        self.token = self.path("twilio-token")
        fd = os.open(self.token, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("not-a-real-token\n")

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def config(self, name="sms-milter.conf", **settings):
        values = {"milter_socket": "unix:" + self.path("milter.sock"),
                  "gateway_domains": "sms.example.com",
                  "twilio_account_sid": ACCOUNT_SID,
                  "twilio_auth_token_file": self.token,
                  "twilio_from": "+15005550006",
                  "state_directory": self.path("state")}
        values.update(settings)
        path = self.path(name)
        with open(path, "w") as f:
            f.writelines("%s = %s\n" % kv for kv in values.items() if kv[1] is not None)
        return path

    def remove(self):
        shutil.rmtree(self.root, ignore_errors=True)


def run(*args, timeout=30):
    return subprocess.run([milter_bin(), *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


class StartUp(unittest.TestCase):
    def setUp(self):
        self.w = Workdir()
        self.addCleanup(self.w.remove)

    def test_fatal_reaches_stderr_with_syslog(self):
        conf = self.w.config(log_to="syslog",
                             state_directory=self.w.path("no-such-parent", "state"))
        r = run("run", "-c", conf)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, r"sms-milter\[\d+\]: fatal: .*%s"
                         % self.w.path("no-such-parent", "state"))


if __name__ == "__main__":
    unittest.main()
