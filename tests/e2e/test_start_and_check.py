"""The real binary at start-up, in `check` and in `render`'s usage, without an MTA: what an
admin sees.

  - log_to = syslog (the default) with no syslog daemon: a fatal start-up error still reaches
    stderr, and the exit status is 1;
  - a missing state_directory whose parent exists is created (mode 0700);
  - `check` run as root verifies what the daemon's user (run_as_user, else the system user
    sms-milter) can read and write, and names each file that user cannot read; run as that
    user it checks the same in-process (the user here is nobody: no user is created);
  - `render` requires --from, as its synopsis says; --from '' is the null sender.
  - `check` refuses a shared_state that start-up refuses (a CA file that holds no
    certificate, a host that does not resolve), without connecting to Redis.
  - `check` run as root verifies what the daemon's user (run_as_user, else the system user
    sms-milter) can read and write, and names each file that user cannot read.

Run as root:  SMS_MILTER_BIN=build/sms-milter python3 -m unittest tests/e2e/test_start_and_check.py
"""

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import unittest

from milter_proc import milter_bin, wait_unix

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
        self.assertRegex(r.stderr, r"sms-milter\[\d+\]: fatal: state_directory %s: cannot create "
                         r"it: No such file or directory" % self.w.path("no-such-parent", "state"))

    def test_missing_state_directory_is_created(self):
        conf = self.w.config(log_to="stderr")
        proc = subprocess.Popen([milter_bin(), "run", "-c", conf], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        try:
            self.assertTrue(wait_unix(self.w.path("milter.sock"), timeout=15,
                                      alive=lambda: proc.poll() is None),
                            "the daemon did not start")
            st = os.stat(self.w.path("state"))
            self.assertEqual(oct(st.st_mode & 0o777), oct(0o700))
            self.assertTrue(os.path.exists(self.w.path("state", "outbox.db")))
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                out = proc.communicate(timeout=15)[0]
            except subprocess.TimeoutExpired:
                proc.kill()
                out = proc.communicate()[0]
        self.assertIn("created state_directory " + self.w.path("state"), out)
        self.assertEqual(proc.returncode, 0, out)


class CheckAsDaemonUser(unittest.TestCase):
    USER = "nobody"

    def setUp(self):
        self.w = Workdir()
        self.addCleanup(self.w.remove)
        self.nobody = pwd.getpwnam(self.USER)

    def give(self, path):
        os.chown(path, self.nobody.pw_uid, self.nobody.pw_gid)

    def test_root_check_names_what_run_as_user_cannot_read(self):
        conf = self.w.config(run_as_user=self.USER)
        os.chmod(conf, 0o640)  # root:root, as the README's install once left it
        r = run("check", "-c", conf)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(sorted(r.stderr.splitlines()), sorted([
            "%s: not readable by user nobody (Permission denied)" % conf,
            "%s: not readable by user nobody (Permission denied)" % self.w.token]))
        self.assertNotIn(": ok", r.stdout)

        self.give(conf)
        self.give(self.w.token)
        os.makedirs(self.w.path("state"), mode=0o700)
        self.give(self.w.path("state"))  # as the daemon's first start leaves it
        with open(self.w.path("state", "outbox.db"), "w"):
            pass  # then made by `sms-milter queue` run as root
        os.makedirs(self.w.path("run"), mode=0o750)
        self.give(self.w.path("run"))  # as RuntimeDirectory= makes it
        unit_conf = self.w.config(name="unit.conf",  # no run_as_user: started as the user
                                  milter_socket="unix:" + self.w.path("run", "milter.sock"))
        r = run("check", "--user", self.USER, "-c", unit_conf)
        self.assertEqual((r.returncode, r.stderr.strip()),
                         (1, "%s: not writable by user nobody (Permission denied)"
                          % self.w.path("state", "outbox.db")))

        # root with run_as_user gives the outbox files to that user before the drop
        r = run("check", "-c", conf)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(r.stdout, "%s: files and directories checked as user nobody\n"
                         "%s: twilio_api_url is Twilio region US1 (the default)\n%s: ok\n"
                         % (conf, conf, conf))

    def test_user_option_names_the_daemons_user(self):
        conf = self.w.config()  # no run_as_user: --user says who the daemon runs as
        r = run("check", "--user", self.USER, "-c", conf)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("%s: not readable by user nobody (Permission denied)" % self.w.token,
                      r.stderr.splitlines())
        r = run("check", "--user", "root", "-c", conf)  # a daemon run as root
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertIn("checked as user root", r.stdout)

    def test_check_as_the_user_itself(self):
        """The unit's way (User=, no run_as_user): the state and socket directories must be
        writable by that user."""
        os.makedirs(self.w.path("state"), mode=0o700)  # root's
        os.makedirs(self.w.path("run"), mode=0o755)    # root's
        conf = self.w.config(milter_socket="unix:" + self.w.path("run", "milter.sock"))
        self.give(self.w.token)
        r = subprocess.run(["runuser", "-u", self.USER, "--", milter_bin(), "check", "-c", conf],
                           capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(sorted(r.stderr.splitlines()), sorted([
            "%s: state_directory not writable by user nobody (Permission denied)"
            % self.w.path("state"),
            "%s: cannot create the milter socket here: not writable by user nobody "
            "(Permission denied)" % self.w.path("run")]))


class CheckSharedState(unittest.TestCase):
    """`check` refuses what start-up refuses in shared_state, without connecting to Redis."""

    def setUp(self):
        self.w = Workdir()
        self.addCleanup(self.w.remove)

    def check_and_start(self, **settings):
        conf = self.w.config(log_to="stderr", **settings)
        return run("check", "-c", conf), run("run", "-c", conf, timeout=10)

    def test_a_ca_file_that_is_no_certificate(self):
        ca = self.w.path("redis-ca.pem")
        with open(ca, "w") as f:
            f.write("this is not a PEM certificate\n")
        check, start = self.check_and_start(shared_state="rediss://127.0.0.1:6380/0",
                                            shared_state_ca_file=ca)
        self.assertEqual(start.returncode, 1, start.stderr)
        self.assertIn("shared_state: cannot load the CA certificates", start.stderr)
        self.assertEqual(check.returncode, 1, check.stdout + check.stderr)
        self.assertIn("shared_state: cannot load the CA certificates", check.stderr)
        self.assertNotIn(": ok", check.stdout)

    def test_a_host_that_does_not_resolve(self):
        check, start = self.check_and_start(shared_state="redis://redis.invalid:6379/0")
        self.assertEqual(start.returncode, 1, start.stderr)
        self.assertIn("shared_state: cannot look up redis.invalid", start.stderr)
        self.assertEqual(check.returncode, 1, check.stdout + check.stderr)
        self.assertIn("shared_state: cannot look up redis.invalid", check.stderr)

    def test_a_good_url_passes_without_a_redis(self):
        conf = self.w.config(shared_state="redis://127.0.0.1:1/0")
        r = run("check", "-c", conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("shared_state redis://127.0.0.1:1/0: address and TLS settings usable; "
                      "not connected", r.stdout)


class RenderFrom(unittest.TestCase):
    def test_from_is_required_and_decides(self):
        w = Workdir()
        self.addCleanup(w.remove)
        conf = w.config(allowed_senders="@example.com")
        msg = w.path("message")
        with open(msg, "w") as f:
            f.write("Subject: DISK FULL\n\non db1\n")
        rcpt = "4155550123@sms.example.com"
        r = run("render", "-c", conf, "--to", rcpt, msg)
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn("--from is required", r.stderr)
        r = run("render", "-c", conf, "--from", "", "--to", rcpt, msg)
        self.assertEqual((r.returncode, r.stdout),
                         (0, "<%s>: 550 5.7.1 Sender not permitted to send SMS\n" % rcpt))
        r = run("render", "-c", conf, "--from", "alerts@example.com", "--to", rcpt, msg)
        self.assertEqual((r.returncode, r.stdout),
                         (0, "<%s>: SMS to +14155550123 (US, fixed_line_or_mobile), GSM-7, 1 segment, "
                             "16 septets\n"
                             "    DISK FULL\n    on db1\n"
                             "  rate limits for +14155550123 (no readable outbox in %s: counted "
                             "from 0): sender_rate_limit 0 of 500/1h, destination_rate_limit 0 of "
                             "60/1h, global_rate_limit 0 of 2000/1h\n"
                             "  storm_window for +14155550123: texted; the same alert again within "
                             "300s would be held back\n" % (rcpt, w.path("state"))))


if __name__ == "__main__":
    unittest.main()
