"""End-to-end tests: real Postfix + real sms-milter + fake Twilio over HTTPS.

Run as root:  SMS_MILTER_BIN=build/sms-milter python3 -m unittest discover -s tests/e2e -v
One Environment (harness.py) is shared by the module; it is stopped by a module cleanup, also
when setup or a test fails.  Every mail carries a unique tag in its subject, so each case
looks only at its own SMS, sink deliveries and outbox jobs.  E2E_KEEP=1 keeps the work dir.
"""

import base64
import os
import secrets
import subprocess
import time
import unittest

from harness import Environment, exit_on_sigterm
from milter_proc import milter_bin

SMS_NUMBER = "+14155550123"
SENDER = "alerts@example.com"
BODY = "body text"
ENV = None


def setUpModule():
    global ENV
    if os.geteuid() != 0:
        raise unittest.SkipTest("the Postfix sandbox needs root")
    exit_on_sigterm()
    env = Environment({"main": {}, "sasl": {"sasl": True}, "untrusted": {"untrusted": True}})
    unittest.addModuleCleanup(env.stop)
    ENV = env.start()


def new_tag():
    return "E2E-" + secrets.token_hex(4)


class EndToEnd(unittest.TestCase):
    maxDiff = None

    # ---- helpers -------------------------------------------------------------------------
    def send(self, listener, rcpts, tag, sender=SENDER, **kw):
        return ENV.postfix.send_mail(listener, sender, rcpts, subject="ALERT " + tag,
                                     body=BODY, check=False, **kw)

    def sms_with(self, tag):
        return [m for m in ENV.fake.messages() if tag in (m["body"] or "")]

    def expect_one_sms(self, milter, tag, to=SMS_NUMBER, timeout=20):
        """The SMS for tag arrives, with the right fields, and exactly once."""
        got = ENV.fake.wait_for(lambda m: tag in (m["body"] or ""), timeout=timeout)
        self.assertTrue(got, "no SMS with %s reached the fake Twilio in %ss; milter log:\n%s"
                        % (tag, timeout, ENV.milters[milter].log_text()[-2000:]))
        self.assertEqual((got[0]["to"], got[0]["from"], got[0]["body"]),
                         (to, "+15005550006", "ALERT %s\n%s" % (tag, BODY)))
        jobs = self.settled_jobs(milter, tag)
        self.assertEqual([(j["number"], j["state"], j["sid"]) for j in jobs],
                         [(to, "sent", got[0]["sid"])])
        self.assertEqual(len(self.sms_with(tag)), 1, "SMS sent more than once")

    def settled_jobs(self, milter, tag, timeout=10):
        """The outbox jobs for tag once none of them is still queued/sending/deferred."""
        m = ENV.milters[milter]
        deadline = time.monotonic() + timeout
        while True:
            jobs = [j for j in m.jobs() if tag in (j.get("body") or "")]
            if jobs and all(j["state"] in ("sent", "failed") for j in jobs):
                return jobs
            if time.monotonic() >= deadline:
                self.fail("outbox jobs for %s not settled after %ss: %r" % (tag, timeout, jobs))
            time.sleep(0.1)

    def expect_no_sms(self, tag, seconds=3.0):
        """Absence check: nothing with tag reaches Twilio during a bounded quiet period."""
        got = ENV.fake.wait_for(lambda m: tag in (m["body"] or ""), timeout=seconds)
        self.assertEqual(got, [], "unexpected SMS for %s" % tag)

    def expect_no_sms_beyond_one(self, tag, seconds=3.0):
        """Quiet period after the first SMS: a second one (a blind resend) fails the test."""
        got = ENV.fake.wait_for(lambda m: tag in (m["body"] or ""), count=2, timeout=seconds)
        self.assertEqual(len(got), 1, "duplicate SMS (a blind resend?): %r"
                         % [(m["sid"], m["date_created"]) for m in got])

    def sink_with(self, tag):
        ENV.postfix.wait_queue_empty()
        return [m for m in ENV.postfix.sink_messages() if tag in m["data"]]

    def assert_reply(self, reply, code, enhanced):
        self.assertEqual(reply[0], code, reply)
        self.assertTrue(reply[1].startswith(enhanced), reply)

    # ---- cases ---------------------------------------------------------------------------
    def test_01_number_forms_are_texted_and_not_delivered(self):
        for rcpt in (SMS_NUMBER + "@sms.example.com", "4155550123@sms.example.com",
                     "415.555.0123@SMS.Example.COM"):
            with self.subTest(rcpt=rcpt):
                tag = new_tag()
                r = self.send("main", [rcpt], tag)
                self.assert_reply(r.rcpts[rcpt], 250, "2.")
                self.assertEqual(r.data[0], 250, r)
                self.expect_one_sms("main", tag)
                self.assertEqual([m["rcpts"] for m in self.sink_with(tag)], [],
                                 "SMS-only mail reached the sink")
                self.expect_removed_without_discard(r)

    def expect_removed_without_discard(self, r):
        """Postfix queued the SMS-only mail with no recipient left and qmgr removed it: the
        milter deleted every recipient and accepted instead of discarding (a discard starves
        Postfix's inflow control, see milter/callbacks.cpp)."""
        queue_id = r.data[1].split("queued as ")[-1].strip()
        deadline = time.monotonic() + 10
        while not any(queue_id + ": removed" in l for l in ENV.postfix.maillog_text().splitlines()):
            self.assertLess(time.monotonic(), deadline, "qmgr did not remove %s" % queue_id)
            time.sleep(0.1)
        mine = [l for l in ENV.postfix.maillog_text().splitlines() if queue_id + ":" in l]
        self.assertFalse([l for l in mine if "milter-discard" in l or "status=" in l], mine)

    def test_02_mixed_recipients_split(self):
        tag, sms = new_tag(), SMS_NUMBER + "@sms.example.com"
        r = self.send("main", [sms, "ops@example.org"], tag)
        self.assertEqual([r.rcpts[sms][0], r.rcpts["ops@example.org"][0], r.data[0]],
                         [250, 250, 250], r)
        self.expect_one_sms("main", tag)
        delivered = ENV.postfix.wait_for_sink(lambda m: tag in m["data"], timeout=20)
        self.assertEqual([m["rcpts"] for m in delivered], [["ops@example.org"]])

    def test_03_invalid_numbers_rejected(self):
        for rcpt in ("12@sms.example.com", "not-a-number@sms.example.com"):
            with self.subTest(rcpt=rcpt):
                r = self.send("main", [rcpt], new_tag())
                self.assert_reply(r.rcpts[rcpt], 550, "5.1.1")

    def test_04_disallowed_country_rejected(self):
        rcpt = "+33612345678@sms.example.com"
        r = self.send("main", [rcpt], new_tag())
        self.assert_reply(r.rcpts[rcpt], 550, "5.7.1")

    def test_05_disallowed_client_rejected_ordinary_rcpt_kept(self):
        tag, sms = new_tag(), SMS_NUMBER + "@sms.example.com"
        r = self.send("main", [sms, "ops@example.org"], tag, source="127.0.0.2")
        self.assert_reply(r.rcpts[sms], 550, "5.7.1")
        self.assertEqual(r.rcpts["ops@example.org"][0], 250, r)
        self.assertEqual(r.data[0], 250, r)
        delivered = ENV.postfix.wait_for_sink(lambda m: tag in m["data"], timeout=20)
        self.assertEqual([m["rcpts"] for m in delivered], [["ops@example.org"]])
        self.assertEqual(delivered[0]["client"], "127.0.0.1")  # relayed by the sandbox
        self.expect_no_sms(tag)

    def test_06_disallowed_sender_rejected(self):
        rcpt = SMS_NUMBER + "@sms.example.com"
        r = self.send("main", [rcpt], new_tag(), sender="evil@example.org")
        self.assert_reply(r.rcpts[rcpt], 550, "5.7.1")

    def test_07_sasl_required(self):
        rcpt = SMS_NUMBER + "@sms.example.com"
        r = self.send("sasl", [rcpt], new_tag())
        self.assert_reply(r.rcpts[rcpt], 550, "5.7.1")
        tag = new_tag()
        auth = (ENV.postfix.sasl_user, ENV.postfix.sasl_password)
        r = self.send("sasl", [rcpt], tag, auth=auth)
        self.assertEqual((r.rcpts[rcpt][0], r.data and r.data[0]), (250, 250), r)
        self.expect_one_sms("sasl", tag)

    def test_08_twilio_outage_then_recovery(self):
        tag, rcpt, milter = new_tag(), SMS_NUMBER + "@sms.example.com", ENV.milters["main"]
        ENV.fake.stop()
        try:
            r = self.send("main", [rcpt], tag)
            self.assertEqual((r.rcpts[rcpt][0], r.data and r.data[0]), (250, 250), r)
            # attempts counts from the claim, so an attempt is over once the job has left
            # `sending`.
            job = milter.wait_job(lambda j: tag in (j.get("body") or "")
                                  and (j.get("attempts") or 0) >= 1
                                  and j.get("state") != "sending", timeout=10)
            self.assertIsNotNone(job, "no failed attempt recorded: %r" % milter.jobs())
            self.assertIn(job["state"], ("deferred", "queued"), job)
        finally:
            ENV.fake.start()  # same port
        self.expect_one_sms("main", tag, timeout=20)
        self.expect_no_sms_beyond_one(tag)

    def test_09_untrusted_certificate(self):
        tag, rcpt, milter = new_tag(), SMS_NUMBER + "@sms.example.com", ENV.milters["untrusted"]
        before = ENV.fake.stats()["handshake_failures"]
        r = self.send("untrusted", [rcpt], tag)
        self.assertEqual((r.rcpts[rcpt][0], r.data and r.data[0]), (250, 250), r)
        job = milter.wait_job(lambda j: tag in (j.get("body") or "")
                              and "certif" in (j.get("last_error") or "").lower(), timeout=15)
        self.assertIsNotNone(job, "no job with a certificate error: %r" % milter.jobs())
        self.assertNotEqual(job["state"], "sent", job)
        self.assertGreater(ENV.fake.stats()["handshake_failures"], before)
        self.assertEqual(self.sms_with(tag), [])

    # A reused keep-alive connection that dies after Twilio created the message: libcurl must
    # not resend on its own, and the lookup before any resend finds the message (SPEC 7).
    def test_10_no_blind_resend_when_connection_drops_after_create(self):
        rcpt, milter = SMS_NUMBER + "@sms.example.com", ENV.milters["main"]
        warm = new_tag()  # leaves a keep-alive connection to the fake Twilio in the milter
        self.send("main", [rcpt], warm)
        self.expect_one_sms("main", warm)
        tag = new_tag()
        ENV.fake.set_script([{"drop": True, "create": True}])
        try:
            r = self.send("main", [rcpt], tag)
            self.assertEqual(r.data and r.data[0], 250, r)
            job = milter.wait_job(lambda j: tag in (j.get("body") or "")
                                  and (j.get("attempts") or 0) >= 1, timeout=10)
            self.assertIsNotNone(job, "no attempt recorded: %r" % milter.jobs())
            self.expect_no_sms_beyond_one(tag)
        finally:
            ENV.fake.set_script([])

    def test_11_check_online_and_send(self):
        milter = ENV.milters["main"]
        run = lambda *a: subprocess.run([milter_bin(), *a], capture_output=True, text=True,
                                        timeout=60, stdin=subprocess.DEVNULL)
        ok = run("check", "--online", "--user", "root", "-c", milter.config_path)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn("Twilio credentials accepted", ok.stdout)

        # A wrong token: refused by Twilio, reported, and never printed.
        wrong = secrets.token_hex(16)
        bad_token = os.path.join(ENV.root, "wrong-token")
        fd = os.open(bad_token, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(wrong + "\n")
        bad_conf = os.path.join(ENV.root, "wrong-token.conf")
        with open(milter.config_path) as src, open(bad_conf, "w") as dst:
            for line in src:
                dst.write("twilio_auth_token_file = %s\n" % bad_token
                          if line.startswith("twilio_auth_token_file") else line)
        bad = run("check", "--online", "--user", "root", "-c", bad_conf)
        self.assertEqual(bad.returncode, 1, bad.stdout)
        self.assertIn("credentials not accepted", bad.stderr)
        self.assertNotIn(wrong, bad.stdout + bad.stderr)

        tag = new_tag()
        sent = run("send", "-c", milter.config_path, "--to", "415.555.0199", "send test " + tag)
        self.assertEqual(sent.returncode, 0, sent.stderr)
        self.assertIn("sent to +14155550199", sent.stdout)
        got = ENV.fake.wait_for(lambda m: tag in (m["body"] or ""), timeout=10)
        self.assertEqual([(m["to"], m["body"]) for m in got], [("+14155550199", "send test " + tag)])

    def test_99_auth_token_never_logged(self):
        basic = base64.b64encode(("%s:%s" % (ENV.account_sid, ENV.auth_token)).encode())
        files = ENV.log_files()
        self.assertTrue(any("milter-" in f for f in files), files)
        for path in files:
            with open(path, "rb") as f:
                data = f.read()
            with self.subTest(file=path):  # never print the data: it would leak the token
                self.assertFalse(ENV.auth_token.encode() in data, "auth token in %s" % path)
                self.assertFalse(basic in data, "Basic credentials in %s" % path)


if __name__ == "__main__":
    unittest.main()
