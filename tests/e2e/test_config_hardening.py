"""Hostile config and secret files, through the real binary (security review, issue 10):

  b. a 60,000-character value: `check` exits 1 with FILE:LINE (it used to die of SIGSEGV in
     std::regex's recursion), and a running daemon sent SIGUSR1 with such a file keeps
     running with its previous configuration: mail to the gateway domain is still texted.
  f. secret files: a FIFO at the secret's path makes `check` and `run` fail at once (they
     used to hang); a secret owned by another user than root, the reader or the daemon's user,
     and one in a directory that group or others can write (without the sticky bit), are
     refused with FILE:LINE.
  g. twilio_api_url = https://api.twilio.com@evil.example (the credentials would go to
     evil.example) and other URLs that are not https://HOST[:PORT][/PATH] fail `check` with
     FILE:LINE; a regional edge, an address with a port and a path prefix pass.

Run as root:
    SMS_MILTER_BIN=build/sms-milter python3 -m unittest discover -s tests/e2e -p 'test_config_hardening.py' -v
"""

import os
import pwd
import re
import secrets
import signal
import time
import unittest

from harness import Environment, exit_on_sigterm
from test_start_and_check import Workdir, run

LONG = 60000


def setUpModule():
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root (chown, the Postfix sandbox)")
    exit_on_sigterm()


def line_of(path, key):
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if line.startswith(key + " ="):
                return n
    raise AssertionError("%s not in %s" % (key, path))


class LongValues(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.w = Workdir()
        self.addCleanup(self.w.remove)

    def test_check_reports_file_and_line(self):
        cases = {"gateway_domains": ("a" * LONG, "gateway_domains: expected domain names"),
                 "twilio_from": ("A" * LONG, "twilio_from: too long"),
                 "milter_socket": ("inet:" + "1" * LONG, "milter_socket: expected inet:PORT"),
                 "twilio_api_url": ("https://" + "/" * LONG,
                                    "twilio_api_url: expected https://HOST[:PORT]")}
        for key, (value, want) in cases.items():
            with self.subTest(key=key):
                conf = self.w.config(**{key: value})
                r = run("check", "-c", conf)
                self.assertEqual(r.returncode, 1, r.stderr[-500:])
                self.assertTrue(r.stderr.startswith("%s:%d: %s" % (conf, line_of(conf, key), want)),
                                r.stderr[:500])
                self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr[:500])

    def test_long_alias_and_sender_rule(self):
        aliases = self.w.path("aliases")
        with open(aliases, "w") as f:
            f.write("oncall: +14155550101\n" + "a" * LONG + ": +14155550102\n")
        rules = self.w.path("sender_rules")
        with open(rules, "w") as f:
            f.write("x@" + "a" * LONG + "  +1415*\n")
        conf = self.w.config(aliases=aliases, sender_rules=rules)
        r = run("check", "-c", conf)
        self.assertEqual(r.returncode, 1, r.stderr[-500:])
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 2, r.stderr[:500])
        self.assertTrue(lines[0].startswith(aliases + ":2: expected \"name: "), lines[0][:200])
        self.assertTrue(lines[1].startswith(rules + ":1: \"x@aaa"), lines[1][:200])
        self.assertTrue(lines[1].endswith("is not a sender pattern (user@domain, @domain, <> "
                                          "or *)"), lines[1][-200:])


class Reload(unittest.TestCase):
    """A running daemon (behind the sandbox Postfix, with the fake Twilio)."""

    @classmethod
    def setUpClass(cls):
        cls.env = Environment({"main": {}})
        cls.addClassCleanup(cls.env.stop)
        cls.env.start()

    def test_reload_with_a_long_value_keeps_the_running_config(self):
        ENV = self.env
        m = ENV.milters["main"]
        tag = "LONG-" + secrets.token_hex(4)
        good = m.settings["gateway_domains"]
        before = m.log_text().count("reload: keeping the previous configuration")
        try:
            m.settings["gateway_domains"] = "a" * LONG
            m.write_config()
            m.proc.send_signal(signal.SIGUSR1)
            deadline = time.monotonic() + 10
            while (m.log_text().count("reload: keeping the previous configuration") == before
                   and time.monotonic() < deadline and m.alive()):
                time.sleep(0.1)
        finally:
            m.settings["gateway_domains"] = good
            m.write_config()
        self.assertTrue(m.alive(), "the daemon died on the reload:\n" + m.log_text()[-2000:])
        log = m.log_text()
        self.assertEqual(log.count("reload: keeping the previous configuration"), before + 1,
                         log[-2000:])
        self.assertRegex(log, r"error: reload: %s:%d: gateway_domains: expected domain names"
                         % (re.escape(m.config_path), line_of(m.config_path, "gateway_domains")))
        # Still the old config: sms.example.com is a gateway domain, the mail is texted.
        r = ENV.postfix.send_mail("main", "alerts@example.com", ["+14155550123@sms.example.com"],
                                  subject="ALERT " + tag, body="still here", check=False)
        self.assertEqual(r.data and r.data[0], 250, r)
        got = ENV.fake.wait_for(lambda x: tag in (x.get("body") or ""), timeout=20)
        self.assertEqual([x["to"] for x in got], ["+14155550123"], m.log_text()[-2000:])


class SecretFiles(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.w = Workdir()
        self.addCleanup(self.w.remove)
        self.conf = self.w.config(log_to="stderr")
        self.line = line_of(self.conf, "twilio_auth_token_file")

    def check_fails(self, want):
        r = run("check", "-c", self.conf, timeout=10)
        self.assertEqual((r.returncode, r.stderr),
                         (1, "%s:%d: %s\n" % (self.conf, self.line, want)))

    def test_fifo_fails_at_once(self):
        os.unlink(self.w.token)
        os.mkfifo(self.w.token, 0o600)
        t0 = time.monotonic()
        self.check_fails("%s is not a regular file" % self.w.token)
        r = run("run", "-c", self.conf, timeout=10)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("%s:%d: %s is not a regular file" % (self.conf, self.line, self.w.token),
                      r.stderr)
        self.assertLess(time.monotonic() - t0, 5)

    def test_fifo_as_config_or_table_file_fails_at_once(self):
        """A FIFO where the config, aliases or sender_rules file should be: an error, not a
        hang (opening a FIFO waits for a writer)."""
        fifo = self.w.path("fifo")
        os.mkfifo(fifo, 0o600)
        r = run("check", "-c", fifo, timeout=10)
        self.assertEqual((r.returncode, r.stderr), (1, "%s: is not a regular file\n" % fifo))
        for key in ("aliases", "sender_rules"):
            with self.subTest(key=key):
                conf = self.w.config(name=key + ".conf", **{key: fifo})
                r = run("check", "-c", conf, timeout=10)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn("%s: is not a regular file" % fifo, r.stderr)

    def test_owned_by_another_user(self):
        os.chown(self.w.token, pwd.getpwnam("nobody").pw_uid, 0)
        owner = "nobody (uid %d)" % pwd.getpwnam("nobody").pw_uid
        try:
            pwd.getpwnam("sms-milter")
        except KeyError:
            self.check_fails("%s belongs to %s, not to root" % (self.w.token, owner))
        else:
            r = run("check", "-c", self.conf, timeout=10)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("%s belongs to %s, not to root or sms-milter" % (self.w.token, owner),
                          r.stderr)
        # The daemon's user may own it: root reads it for that user.
        r = run("check", "--user", "nobody", "-c", self.conf, timeout=10)
        self.assertNotIn("belongs to", r.stderr)
        self.assertNotIn("twilio-token", r.stderr)

    def test_directory_others_can_write(self):
        os.chmod(self.w.root, 0o775)
        self.check_fails("%s lies in %s, which group or others can write (mode 0775); run "
                         "chmod go-w on it" % (self.w.token, self.w.root))
        os.chmod(self.w.root, 0o1777)  # sticky, as /tmp: nobody else can swap the file
        r = run("check", "-c", self.conf, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.endswith("%s: ok\n" % self.conf), r.stdout)



class ApiUrl(unittest.TestCase):
    def setUp(self):
        self.w = Workdir()
        self.addCleanup(self.w.remove)

    def test_only_https_host_port_path(self):
        refused = {"https://api.twilio.com@evil.example": "user name or password (\"user@\")",
                   "https://AC0123:secret@api.twilio.com": "user name or password (\"user@\")",
                   "https://api.twilio.com\\@evil.example": "backslash",
                   "https://evil.example#@api.twilio.com": "query or fragment",
                   "https://api.twilio.com:99999": "port out of range 1-65535",
                   "http://api.twilio.com": "not https://"}
        for url, why in refused.items():
            with self.subTest(url=url):
                conf = self.w.config(twilio_api_url=url)
                r = run("check", "-c", conf, timeout=10)
                self.assertEqual((r.returncode, r.stderr),
                                 (1, "%s:%d: twilio_api_url: expected https://HOST[:PORT][/PATH]: "
                                     "%s\n" % (conf, line_of(conf, "twilio_api_url"), why)))
        for url in ("https://api.dublin.ie1.twilio.com", "https://127.0.0.1:8443/",
                    "https://[::1]:8443/twilio"):
            with self.subTest(url=url):
                conf = self.w.config(twilio_api_url=url)
                r = run("check", "-c", conf, timeout=10)
                self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
