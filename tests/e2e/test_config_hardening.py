"""Hostile config and secret files, through the real binary (security review, issue 10):

  b. a 60,000-character value: `check` exits 1 with FILE:LINE (it used to die of SIGSEGV in
     std::regex's recursion), and a running daemon sent SIGUSR1 with such a file keeps
     running with its previous configuration: mail to the gateway domain is still texted.

Run as root:
    SMS_MILTER_BIN=build/sms-milter python3 -m unittest discover -s tests/e2e -p 'test_config_hardening.py' -v
"""

import os
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


if __name__ == "__main__":
    unittest.main()
