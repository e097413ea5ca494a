"""End to end: delivery status by polling and SMS replies mailed back (issue 12, SPEC §9).

Real Postfix sandbox + real sms-milter + fake Twilio over HTTPS. One milter instance with the
README's delivery-status snippet as written, a short status_poll_schedule (1s, 2s) and
reply_poll_interval (1s), failure notices and replies mailed through the sandbox's sendmail,
so that they reach the smtp-sink behind Postfix:
  - an SMS that becomes undelivered 30007: the notice with the meaning reaches the sink,
    the log line says it, `queue show`/`list`/`stats` show it;
  - a delivered one: logged, no notice;
  - a reply: a mail to the alert's envelope sender with From <E.164>@<gateway domain>,
    In-Reply-To/References its Message-ID; STOP is forwarded too, marked;
  - a restart: no reply is forwarded twice (and a new one still is);
  - a reply from a number nothing was sent to: dropped and logged.

Run as root:  SMS_MILTER_BIN=build/sms-milter python3 -m unittest tests/e2e/test_delivery_status.py
"""

import email
import email.policy
import os
import re
import secrets
import time
import unittest

from doc_snippets import readme_block
from harness import Environment, exit_on_sigterm

SENDER = "alerts@example.com"
FROM_NUMBER = "+15005550006"  # the milter's twilio_from (milter_proc.py)
BAD_NUMBER = "+14155550199"   # becomes undelivered 30007
ENV = None


def sandbox_sendmail(env):
    return "/usr/sbin/sendmail -C " + env.postfix_etc


def setUpModule():
    global ENV
    if os.geteuid() != 0:
        raise unittest.SkipTest("the Postfix sandbox needs root")
    exit_on_sigterm()
    # The README's snippet as written, and short schedules for the test.
    overrides = dict(line.split(" = ", 1) for line in readme_block("delivery-status"))
    overrides.update({"sendmail_command": sandbox_sendmail, "storm_window": "0",
                      "status_poll_schedule": "1s, 2s", "status_poll_give_up": "5m",
                      "reply_poll_interval": "1s"})
    env = Environment({"status": {"overrides": overrides}})
    unittest.addModuleCleanup(env.stop)
    ENV = env.start()
    ENV.fake.set_status_rules([
        {"to": BAD_NUMBER, "status": "undelivered", "error_code": 30007, "after_s": 1},
        {"to": "*", "status": "delivered", "after_s": 1}])


def headers(sink_message):
    return email.message_from_string(sink_message["data"].replace("\r\n", "\n"),
                                     policy=email.policy.compat32)


class DeliveryStatus(unittest.TestCase):
    maxDiff = None

    @property
    def milter(self):
        return ENV.milters["status"]

    def send(self, number, tag, sender=SENDER):
        rcpt = number + "@sms.example.com"
        r = ENV.postfix.send_mail("status", sender, [rcpt], subject="ALERT " + tag,
                                  body="disk full")
        self.assertEqual(r.rcpts[rcpt][0], 250, r)
        job = self.milter.wait_job(lambda j: tag in j["body"] and j["sid"], timeout=30)
        self.assertIsNotNone(job, self.milter.log_text()[-3000:])
        return job

    def wait_log(self, pattern, timeout=30):
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.milter.log_text()):
            if time.monotonic() > deadline:
                self.fail("no log line matching %r in:\n%s"
                          % (pattern, self.milter.log_text()[-3000:]))
            time.sleep(0.2)
        return re.search(pattern, self.milter.log_text())

    def reply(self, number, text):
        return ENV.fake.add_inbound(number, FROM_NUMBER, text)

    def test_01_undelivered_30007_mails_a_notice_with_its_meaning(self):
        tag = "UNDL-" + secrets.token_hex(4)
        job = self.send(BAD_NUMBER, tag)
        notices = ENV.postfix.wait_for_sink(lambda m: tag in m["data"] and "30007" in m["data"])
        self.assertEqual([(m["mail_from"], m["rcpts"]) for m in notices], [("", [SENDER])])
        self.assertIn("undelivered (30007: message filtered by the carrier", notices[0]["data"])
        line = self.wait_log(r"(\S+): to=\+1415\*\*\*0199, from=<%s>, status=undelivered "
                             r"\(30007: message filtered by the carrier[^)]*\)\), sid=%s"
                             % (re.escape(SENDER), job["sid"]))
        self.assertEqual(line.group(1), job["queue_id"])
        done = self.milter.wait_job(lambda j: j["id"] == job["id"] and j["next_poll"] == 0)
        self.assertEqual((done["status"], done["status_code"]), ("undelivered", 30007))
        show = self.milter.queue("show", str(job["id"]))
        self.assertRegex(show.stdout, r"delivery: +undelivered \(30007: message filtered")
        listing = self.milter.queue("list")
        self.assertRegex(listing.stdout, r"\n +%d +sent .*undelivered:30007" % job["id"])
        self.assertNotIn(BAD_NUMBER, show.stdout + listing.stdout + self.milter.log_text())

    def test_02_delivered_is_logged_and_mails_no_notice(self):
        tag = "DLVR-" + secrets.token_hex(4)
        job = self.send("+14155550123", tag)
        self.wait_log(r"%s: to=\+1415\*\*\*0123, from=<%s>, status=delivered, sid=%s"
                      % (job["queue_id"], re.escape(SENDER), job["sid"]))
        time.sleep(2)  # a notice, if any, would have reached the sink by now
        self.assertEqual(ENV.postfix.wait_for_sink(lambda m: tag in m["data"], timeout=1), [])
        stats = self.milter.queue("stats").stdout
        self.assertRegex(stats, r"\n  delivered +[1-9]")
        self.assertRegex(stats, r"\n  undelivered +[0-9]")

    def test_03_reply_is_mailed_to_the_alert_sender_and_once_after_a_restart(self):
        number, sender = "+14155550150", "oncall@example.com"
        job = self.send(number, "RPLY-" + secrets.token_hex(4), sender=sender)
        self.assertRegex(job["message_id"], r"^<.+@e2e\.test>$")
        tag = "ACK-" + secrets.token_hex(4)
        sid = self.reply(number, "ACK " + tag)
        got = ENV.postfix.wait_for_sink(lambda m: tag in m["data"])
        self.assertEqual([(m["mail_from"], m["rcpts"]) for m in got], [("", [sender])],
                         self.milter.log_text()[-2000:])
        h = headers(got[0])
        self.assertEqual(h["From"], "<+14155550150@sms.example.com>")
        self.assertEqual(h["Subject"], "SMS reply from +1415***0150")
        self.assertEqual(h["In-Reply-To"], job["message_id"])
        self.assertEqual(h["References"], job["message_id"])
        self.assertIn("ACK " + tag, got[0]["data"])
        self.wait_log(r"%s: reply from=\+1415\*\*\*0150, sid=%s: mailed to <%s>"
                      % (job["queue_id"], sid, re.escape(sender)))

        # A restart: the reply is listed again (the poll reads back behind where it left
        # off) and not mailed again; a new reply after it still is, and STOP is marked.
        self.milter.stop()
        self.milter.start()
        stop_sid = self.reply(number, "STOP")
        got_stop = ENV.postfix.wait_for_sink(lambda m: stop_sid in m["data"] or
                                             ("X-SMS-Keyword: STOP" in m["data"] and
                                              "+14155550150@" in m["data"]))
        self.assertEqual(len(got_stop), 1, self.milter.log_text()[-2000:])
        self.assertEqual(headers(got_stop[0])["Subject"], "SMS reply from +1415***0150 (STOP)")
        self.wait_log(r"reply from=\+1415\*\*\*0150, sid=%s, keyword=STOP: mailed" % stop_sid)
        time.sleep(2)  # more reply polls
        self.assertEqual(len(ENV.postfix.wait_for_sink(lambda m: tag in m["data"], timeout=1)),
                         1, "a reply was forwarded twice")
        self.assertRegex(self.milter.queue("stats").stdout, r"\n  forwarded +2\n")

    def test_04_reply_from_an_unknown_number_is_dropped_and_logged(self):
        tag = "LOST-" + secrets.token_hex(4)
        sid = self.reply("+14155550177", "who is this " + tag)
        self.wait_log(r"reply from=\+1415\*\*\*0177, to=\+1500\*\*\*0006, sid=%s: no SMS sent "
                      r"to that number within reply_window; dropped" % sid)
        time.sleep(1)
        self.assertEqual(ENV.postfix.wait_for_sink(lambda m: tag in m["data"], timeout=1), [])
        self.assertRegex(self.milter.queue("stats").stdout, r"\n  dropped +[1-9]")


if __name__ == "__main__":
    unittest.main()
