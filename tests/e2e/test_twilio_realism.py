"""End to end against a fake Twilio as awkward as the real one (issue 11): the lookup before a
resend, API keys in `check --online`, 21611.

Real Postfix + real sms-milter + fake Twilio over HTTPS, with the fake's realism switches
(fake_twilio.py: queued messages with date_sent null, a list that lags, null dates first or
last, small pages, trial-prefixed bodies, 21611, a throttled list). Run as root:
    SMS_MILTER_BIN=build/sms-milter python3 -m unittest tests/e2e/test_twilio_realism.py -v

Milter instances, each behind its own smtpd listener in the one sandbox Postfix:
  real     backoff 1s..2s, lookup_recheck_time 5s: the first lookup comes 1-2 s after an
           uncertain create, the second at least 5 s after the first
  resend   the same with lookup_failure_action = resend (a throttled lookup must not resend)
Every mail carries a unique tag in its subject; each case counts only its own SMS. Each case
sets the realism it needs and the fake is reset to plain behaviour after it.
"""

import os
import secrets
import subprocess
import time
import unittest

from harness import Environment, exit_on_sigterm
from milter_proc import milter_bin

SENDER = "alerts@example.com"
BODY = "body text"
FROM = "+15005550006"  # milter_proc.py's twilio_from
ENV = None
# Bursts of alerts to one number: none of the limits may thin them out here.
OPEN = {"storm_window": "0", "destination_rate_limit": "none", "minimal_backoff_time": "1s",
        "maximal_backoff_time": "2s", "lookup_recheck_time": "5s"}


def setUpModule():
    global ENV
    if os.geteuid() != 0:
        raise unittest.SkipTest("the Postfix sandbox needs root")
    exit_on_sigterm()
    env = Environment({"real": {"overrides": dict(OPEN)},
                       "resend": {"overrides": dict(OPEN, lookup_failure_action="resend")}})
    unittest.addModuleCleanup(env.stop)
    ENV = env.start()


def new_tag():
    return "TWR-" + secrets.token_hex(4)


def number():
    """A number of its own per case: the list for it holds only that case's messages."""
    return "+1415555%04d" % (secrets.randbelow(9000) + 1000)


class TwilioRealism(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        ENV.fake.reset()  # plain behaviour, no script, no realism

    def tearDown(self):
        ENV.fake.reset()

    # ---- helpers -------------------------------------------------------------------------
    def send(self, milter, to, tag):
        r = ENV.postfix.send_mail(milter, SENDER, [to + "@sms.example.com"],
                                  subject="ALERT " + tag, body=BODY, check=False)
        self.assertEqual(r.data and r.data[0], 250, r)

    def text(self, tag):
        return "ALERT %s\n%s" % (tag, BODY)

    def created_since(self, to, t0):
        """Messages to `to` that the milter created since t0 (not the planted history)."""
        return [m for m in ENV.fake.messages() if m["to"] == to and m["_created"] >= t0]

    def jobs(self, milter, tag):
        return [j for j in ENV.milters[milter].jobs() if tag in (j.get("body") or "")]

    def settled(self, milter, tag, count=1, timeout=40):
        """The `count` jobs for tag, once all are sent or failed (a job's creates all come
        before it is marked so: the count of SMS is final then)."""
        deadline = time.monotonic() + timeout
        while True:
            jobs = self.jobs(milter, tag)
            if len(jobs) >= count and all(j["state"] in ("sent", "failed") for j in jobs):
                return jobs
            if time.monotonic() >= deadline:
                self.fail("jobs not settled after %ss: %r\nmilter log:\n%s"
                          % (timeout, jobs, self.log_tail(milter)))
            time.sleep(0.2)

    def log_tail(self, milter):
        return ENV.milters[milter].log_text()[-3000:]

    # ---- the lookup before a resend ------------------------------------------------------
    def uncertain_create_behind_history(self, nulls):
        """A create whose answer is lost (500 after Twilio stored it) to a number with 60
        older messages of the same text; the message stays queued (date_sent null) and
        shows in the list only 3 s after it was created, 20 to a page."""
        to, tag, t0 = number(), new_tag(), time.time()
        ENV.fake.add_history(to, FROM, self.text(tag), count=60, age_s=3600)
        ENV.fake.set_realism(queued_s=120, list_lag_s=3, nulls=nulls, max_page_size=20)
        ENV.fake.set_script([{"status": 500, "create": True}])
        self.send("real", to, tag)
        jobs = self.settled("real", tag)
        got = self.created_since(to, t0)
        self.assertEqual(len(got), 1, "SMS created for one alert (nulls %s); log:\n%s"
                         % (nulls, self.log_tail("real")))
        self.assertEqual([(j["state"], j["sid"]) for j in jobs], [("sent", got[0]["sid"])])
        self.assertEqual(got[0]["_smart_encoded"], "false", "SmartEncoded=false on creates")
        log = ENV.milters["real"].log_text()
        self.assertIn("not found at Twilio after an uncertain outcome; looking again", log)
        self.assertRegex(log, r"status=sent, sid=SM\w+ \(found at Twilio after an uncertain")

    def test_01_uncertain_create_nulls_sort_last(self):
        self.uncertain_create_behind_history("last")

    def test_02_uncertain_create_nulls_sort_first(self):
        self.uncertain_create_behind_history("first")

    def test_03_two_identical_alerts_second_uncertain_two_sms(self):
        """The second create fails with 503 and Twilio has nothing: the first alert's SMS
        (same text, same number, seconds earlier) is not the second's: two SMS."""
        to, tag, t0 = number(), new_tag(), time.time()
        ENV.fake.set_script([{}, {"status": 503}])
        self.send("real", to, tag)
        self.send("real", to, tag)
        jobs = self.settled("real", tag, count=2)
        got = self.created_since(to, t0)
        self.assertEqual(len(got), 2, "SMS for two identical alerts; log:\n%s"
                         % self.log_tail("real"))
        self.assertEqual(sorted(j["sid"] for j in jobs), sorted(m["sid"] for m in got))
        self.assertEqual(sorted(j["state"] for j in jobs), ["sent", "sent"])

    def test_04_two_identical_alerts_second_created_then_lost_answer(self):
        """The second create is stored and its answer lost, and the list shows new messages
        only 4 s late: found by the second lookup, not sent a third time."""
        to, tag, t0 = number(), new_tag(), time.time()
        ENV.fake.set_realism(list_lag_s=4)
        ENV.fake.set_script([{}, {"drop": True, "create": True}])
        self.send("real", to, tag)
        self.send("real", to, tag)
        jobs = self.settled("real", tag, count=2)
        got = self.created_since(to, t0)
        self.assertEqual(len(got), 2, self.log_tail("real"))
        self.assertEqual(sorted(j["sid"] for j in jobs), sorted(m["sid"] for m in got))

    def test_05_trial_prefix_is_found(self):
        to, tag, t0 = number(), new_tag(), time.time()
        ENV.fake.set_realism(trial=True)
        ENV.fake.set_script([{"status": 500, "create": True}])
        self.send("real", to, tag)
        jobs = self.settled("real", tag)
        got = self.created_since(to, t0)
        self.assertEqual(len(got), 1, self.log_tail("real"))
        self.assertTrue(got[0]["body"].startswith("Sent from your Twilio trial account - "))
        self.assertEqual([(j["state"], j["sid"]) for j in jobs], [("sent", got[0]["sid"])])

    def test_06_throttled_lookup_is_not_a_resend(self):
        """lookup_failure_action = resend, and the list answers 429 three times: looked at
        again later, found, one SMS."""
        to, tag, t0 = number(), new_tag(), time.time()
        ENV.fake.set_realism(list_throttle=3)
        ENV.fake.set_script([{"status": 500, "create": True}])
        self.send("resend", to, tag)
        jobs = self.settled("resend", tag)
        got = self.created_since(to, t0)
        self.assertEqual(len(got), 1, self.log_tail("resend"))
        self.assertEqual([(j["state"], j["sid"]) for j in jobs], [("sent", got[0]["sid"])])
        self.assertNotIn("resending as configured", ENV.milters["resend"].log_text())

    # ---- errors --------------------------------------------------------------------------
    def test_07_queue_full_21611_is_retried(self):
        to, tag = number(), new_tag()
        before = ENV.fake.stats()["creates"]
        ENV.fake.set_realism(queue_full=2)
        self.send("real", to, tag)
        jobs = self.settled("real", tag)
        self.assertEqual([(j["state"], j["attempts"]) for j in jobs], [("sent", 3)],
                         self.log_tail("real"))
        self.assertEqual(len(ENV.fake.wait_for(lambda m: tag in m["body"], timeout=1)), 1)
        self.assertEqual(ENV.fake.stats()["creates"] - before, 3)
        self.assertRegex(ENV.milters["real"].log_text(), r"status=deferred.*21611")

    # ---- check --online ------------------------------------------------------------------
    def check_with_key(self, list_permission):
        sid = "SK" + secrets.token_hex(16)
        secret = secrets.token_hex(16)
        ENV.fake.add_api_key(sid, secret, list_permission=list_permission)
        path = os.path.join(ENV.root, "key-%s" % sid)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secret + "\n")
        conf = os.path.join(ENV.root, "key-%s.conf" % sid)
        with open(ENV.milters["real"].config_path) as src, open(conf, "w") as dst:
            for line in src:
                if not line.startswith("twilio_auth_token_file"):
                    dst.write(line)
            dst.write("twilio_api_key_sid = %s\ntwilio_api_key_secret_file = %s\n" % (sid, path))
        r = subprocess.run([milter_bin(), "check", "--online", "--user", "root", "-c", conf],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        self.assertNotIn(secret, r.stdout + r.stderr)
        return r

    def test_08_check_online_with_an_api_key(self):
        r = self.check_with_key(list_permission=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Twilio credentials accepted; they may list messages", r.stdout)
        # A test server is no Twilio host: said so, not guessed.
        self.assertIn("not a Twilio host", r.stdout)

    def test_09_check_online_with_a_key_that_may_not_list(self):
        r = self.check_with_key(list_permission=False)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertRegex(r.stderr, r"may not list messages \(HTTP 403 code 70051")
        self.assertIn("Messages read (list) permission", r.stderr)


if __name__ == "__main__":
    unittest.main()
