"""Twilio's error texts quote the number ("The 'To' number +14155550142 is not a valid phone
number."): sms-milter masks it where the answer enters, so the full number shows up nowhere
the text goes (security review, issue 10 finding a).

Real Postfix + real sms-milter + the fake Twilio scripted to answer 400 / 21211 with a message
quoting the number:
  notice   failure_notice = sender: the daemon's log, the outbox's last_error, `queue list`,
           `queue show` and the notice's Reason line carry the masked number only (the
           notice names the failed recipient in its Subject and Recipient lines, as a DSN
           does: the sender wrote that address)
  eomwait  eom_wait = 10: the 550 reply to the client carries the masked number only
Run as root:
    SMS_MILTER_BIN=build/sms-milter python3 -m unittest discover -s tests/e2e -p 'test_masked_errors.py' -v
"""

import os
import secrets
import unittest

from harness import Environment, exit_on_sigterm

SENDER = "alerts@example.com"
ENV = None


def refusal(number):
    return [{"status": 400, "code": 21211,
             "message": "The 'To' number %s is not a valid phone number." % number}]


def setUpModule():
    global ENV
    if os.geteuid() != 0:
        raise unittest.SkipTest("the Postfix sandbox needs root")
    exit_on_sigterm()
    notices = {"failure_notice": "sender",
               "sendmail_command": lambda env: "/usr/sbin/sendmail -C " + env.postfix_etc}
    env = Environment({"notice": {"overrides": dict(notices)},
                       "eomwait": {"overrides": dict(notices, eom_wait="10")}})
    unittest.addModuleCleanup(env.stop)
    ENV = env.start()


class MaskedTwilioErrors(unittest.TestCase):
    maxDiff = None

    def tearDown(self):
        ENV.fake.set_script([])

    def send(self, milter, number, tag):
        return ENV.postfix.send_mail(milter, SENDER, [number + "@sms.example.com"],
                                     subject="ALERT " + tag, body="disk full", check=False)

    def failed_job(self, milter, tag):
        job = ENV.milters[milter].wait_job(
            lambda j: tag in (j.get("body") or "") and j["state"] == "failed", timeout=20)
        self.assertIsNotNone(job, ENV.milters[milter].log_text()[-3000:])
        return job

    def assert_masked(self, text, number, where):
        """The masked form is there, the full number (with or without '+') is not."""
        self.assertIn("+1415***" + number[-4:], text, where)
        self.assertNotIn(number[1:], text, where)
        self.assertNotIn(number[-7:], text, where)

    def test_notice_log_and_queue_show_the_number_masked(self):
        number, tag = "+14155550142", "MASK-" + secrets.token_hex(4)
        ENV.fake.set_script(refusal(number))
        r = self.send("notice", number, tag)
        self.assertEqual(r.data and r.data[0], 250, r)
        job = self.failed_job("notice", tag)
        self.assert_masked(job["last_error"], number, "outbox last_error")
        self.assertIn("21211", job["last_error"])

        m = ENV.milters["notice"]
        show = m.queue("show", str(job["id"]))
        self.assertEqual(show.returncode, 0, show.stderr)
        self.assert_masked(show.stdout, number, "queue show")
        listing = m.queue("list")
        self.assertEqual(listing.returncode, 0, listing.stderr)
        self.assertNotIn(number[-7:], listing.stdout, "queue list")
        self.assertIn("+1415***" + number[-4:], listing.stdout, "queue list")

        notices = ENV.postfix.wait_for_sink(lambda n: tag in n["data"], timeout=30)
        self.assertEqual(len(notices), 1, m.log_text()[-3000:])
        lines = notices[0]["data"].splitlines()
        reason = [l for l in lines if l.strip().startswith("Reason:")]
        self.assertEqual(len(reason), 1, notices[0]["data"])
        self.assert_masked(reason[0], number, "notice Reason line")
        # The notice names the failed recipient as the sender wrote it, and only there.
        self.assertEqual([l.split(":")[0].strip() for l in lines if number[-7:] in l],
                         ["Subject", "Recipient"], notices[0]["data"])

        log = m.log_text()
        self.assertIn("status=failed (HTTP 400 code 21211: The 'To' number +1415***%s is not "
                      "a valid phone number.)" % number[-4:], log)
        self.assertNotIn(number[-7:], log, "the daemon's log")

    def test_eom_wait_reply_shows_the_number_masked(self):
        number, tag = "+14155550143", "MASK-" + secrets.token_hex(4)
        ENV.fake.set_script(refusal(number))
        r = self.send("eomwait", number, tag)
        self.assertEqual(r.data and r.data[0], 550, r)
        self.assertEqual(r.data[1], "5.1.1 SMS refused by Twilio (error 21211): HTTP 400 code "
                         "21211: The 'To' number +1415***%s is not a valid phone number."
                         % number[-4:])
        job = self.failed_job("eomwait", tag)
        self.assert_masked(job["last_error"], number, "outbox last_error")
        log = ENV.milters["eomwait"].log_text()
        self.assertIn("reject: END-OF-MESSAGE: 550 5.1.1 SMS refused by Twilio", log)
        self.assertNotIn(number[-7:], log, "the daemon's log")


if __name__ == "__main__":
    unittest.main()
