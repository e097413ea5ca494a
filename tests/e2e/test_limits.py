"""End to end through the real Postfix sandbox and the fake Twilio: rate limits and storm
windows (issue 9).

One milter instance, "limits", with destination_rate_limit = 2/1h and storm_window = 4s, the
other limits at their defaults:
  - the third mail to a number within the hour gets 450 4.7.1 at RCPT, naming the limit, and
    still does after a restart (the counts live in the state directory); `queue stats` and
    `render` show where the counter stands;
  - eight alerts of one storm (the same text but for a counter and a time) give one SMS at
    once and, when the window closes, one summary SMS that names the count.

Run as root:  SMS_MILTER_BIN=build/sms-milter python3 -m unittest tests/e2e/test_limits.py
"""

import json
import os
import re
import secrets
import subprocess
import time
import unittest

from harness import Environment, exit_on_sigterm
from milter_proc import milter_bin

SENDER = "alerts@example.com"
ENV = None
LIMIT_REPLY = (450, "4.7.1 SMS rate limit reached (destination_rate_limit 2/1h), try again later")


def setUpModule():
    global ENV
    if os.geteuid() != 0:
        raise unittest.SkipTest("the Postfix sandbox needs root")
    exit_on_sigterm()
    env = Environment({"limits": {"overrides": {"destination_rate_limit": "2/1h",
                                                "storm_window": "4s"}}})
    unittest.addModuleCleanup(env.stop)
    ENV = env.start()


def new_tag():
    return "LIM-" + secrets.token_hex(4)


class Limits(unittest.TestCase):
    maxDiff = None

    def send(self, rcpts, subject, body="check the service"):
        return ENV.postfix.send_mail("limits", SENDER, rcpts, subject=subject, body=body,
                                     check=False)

    def sms_with(self, tag, count=1, timeout=20):
        return ENV.fake.wait_for(lambda m: tag in (m["body"] or ""), count=count,
                                 timeout=timeout)

    def render(self, rcpt, json_out=False):
        m = ENV.milters["limits"]
        args = [milter_bin(), "render", "-c", m.config_path, "--from", SENDER, "--to", rcpt]
        if json_out:
            args.append("--json")
        p = subprocess.run(args, input="Subject: DISK FULL\n\non db1\n", capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_third_mail_past_destination_limit_gets_450_also_after_restart(self):
        m = ENV.milters["limits"]
        rcpt, other, tag = "4155550170@sms.example.com", "4155550171@sms.example.com", new_tag()
        # Different alerts (the same one again would be a storm, held back and not counted).
        for what in ("disk full", "swap low"):
            r = self.send([rcpt], "ALERT %s %s" % (tag, what))
            self.assertEqual((r.rcpts[rcpt][0], r.data and r.data[0]), (250, 250), r)
        self.assertEqual(len(self.sms_with(tag, count=2)), 2)
        r = self.send([rcpt, "ops@example.org"], "ALERT %s cpu hot" % tag)
        self.assertEqual(r.rcpts[rcpt], LIMIT_REPLY, r)
        self.assertEqual(r.rcpts["ops@example.org"][0], 250, "the ordinary recipient is kept")
        self.assertRegex(m.log_text(), r"reject: RCPT from \[127\.0\.0\.1\]: 450 4\.7\.1 SMS "
                                       r"rate limit reached \(destination_rate_limit 2/1h\)")
        r = self.send([other], "ALERT %s cpu hot" % tag)
        self.assertEqual(r.rcpts[other][0], 250, "another number is not limited")

        stats = m.queue("stats")
        self.assertEqual(stats.returncode, 0, stats)
        self.assertRegex(stats.stdout, r"(?m)^  destination_rate_limit\s+\+1415\*\*\*0170\s+"
                                       r"2 of 2/1h$")
        self.assertNotIn("4155550170", stats.stdout, "numbers must be masked")
        # (the sender's count depends on the other case's mail)
        self.assertRegex(self.render(rcpt), r"rate limits for \+14155550170: sender_rate_limit "
                                            r"\d+ of 500/1h, destination_rate_limit 2 of 2/1h")
        got = json.loads(self.render(rcpt, json_out=True))
        self.assertEqual((got["result"], got["reply"]), ("tempfail", "%d %s" % LIMIT_REPLY))

        m.stop()
        m.start()
        r = self.send([rcpt], "ALERT %s fan stopped" % tag)
        self.assertEqual(r.rcpts[rcpt], LIMIT_REPLY, r)
        time.sleep(2)
        self.assertEqual(len([s for s in ENV.fake.messages() if tag in (s["body"] or "")]), 3,
                         "only the two mails within the limit and the other number's")

    def test_eight_alerts_of_a_storm_give_one_sms_and_one_summary(self):
        m, rcpt, tag = ENV.milters["limits"], "4155550172@sms.example.com", new_tag()
        for i in range(8):  # one check firing again and again: only the counters change
            r = self.send([rcpt], "PROBLEM %s load %d.%02d at 12:00:%02d" % (tag, i + 3, i, i),
                          body="check %d of 8" % (i + 1))
            self.assertEqual((r.rcpts[rcpt][0], r.data and r.data[0]), (250, 250), r)
        first = self.sms_with(tag)
        self.assertEqual([s["body"] for s in first],
                         ["PROBLEM %s load 3.00 at 12:00:00\ncheck 1 of 8" % tag])
        log = m.log_text()
        held = re.findall(r"status=suppressed, first_job=(\d+)", log)
        self.assertEqual(len(held), 7, log[-3000:])
        self.assertEqual(len(set(held)), 1)

        both = self.sms_with(tag, count=2, timeout=30)  # the window closes after 4 s
        self.assertEqual(len(both), 2, "no summary SMS")
        self.assertEqual(both[1]["to"], "+14155550172")
        self.assertEqual(both[1]["body"],
                         "7 more alerts like this within 4s not sent (storm_window). Latest: "
                         "PROBLEM %s load 10.07 at 12:00:07 check 8 of 8" % tag)
        self.assertRegex(m.log_text(), r"status=queued, job=\d+ \(storm summary: 7 held back "
                                       r"after job %s\)" % held[0])
        time.sleep(6)  # exactly one summary
        self.assertEqual(len([s for s in ENV.fake.messages() if tag in (s["body"] or "")]), 2)
        ENV.postfix.wait_queue_empty()
        self.assertEqual([s for s in ENV.postfix.sink_messages() if tag in s["data"]], [],
                         "held-back alerts must not be relayed")


if __name__ == "__main__":
    unittest.main()
