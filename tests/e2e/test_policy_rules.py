"""End to end through the real Postfix sandbox and the fake Twilio: which recipients are SMS
and which SMS may be sent (issue 9).

Milter instances, each behind its own smtpd listener in the one sandbox Postfix:
  carrier  carrier_domains = yes; gateway_domains is the example line of sms-milter.conf(5)'s
           CARRIER DOMAINS section (a domain added with :GB), allowed_countries US, CA, GB;
           allowed_number_types is the man page's example (toll-free added)
  plain    the defaults: carrier_domains = no, allowed_number_types without toll_free;
           aliases = a copy of conf-examples/aliases (changed and reloaded with SIGUSR1)
  rules    aliases and sender_rules: conf-examples/aliases and conf-examples/sender_rules as
           shipped; allowed_senders empty (any sender)
  local    Postfix's non_smtpd_milters (mail submitted with sendmail(1)): local_submission
           = no, then restarted with yes; its notices go through the sandbox's sendmail
Every mail carries a unique tag in its subject; each case looks only at its own SMS, sink
deliveries and log lines.

Run as root:  SMS_MILTER_BIN=build/sms-milter python3 -m unittest tests/e2e/test_policy_rules.py
"""

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
import unittest

import doc_snippets
from harness import Environment, exit_on_sigterm
from milter_proc import milter_bin

SENDER = "alerts@example.com"
BODY = "body text"
ENV = None


def man5_gateway_example():
    """The `gateway_domains = ...` example line of sms-milter.conf(5)'s CARRIER DOMAINS
    section, as an admin types it."""
    with open(doc_snippets.repo_path("packaging/sms-milter.conf.5")) as f:
        section = f.read().split('.SH "CARRIER DOMAINS"\n', 1)[-1].split("\n.SH ", 1)[0]
    lines = [l.replace("\\-", "-") for l in section.split("\n")
             if l.startswith("gateway_domains = ")]
    if len(lines) != 1:
        raise AssertionError("sms-milter.conf(5): expected one gateway_domains example line, "
                             "found %d" % len(lines))
    return lines[0].split("=", 1)[1].strip()


def man5_example(key):
    """The one `KEY = ...` example of sms-milter.conf(5), inside a .B line or on its own."""
    with open(doc_snippets.repo_path("packaging/sms-milter.conf.5")) as f:
        found = [l.replace("\\-", "-").removeprefix(".B ").strip('"')
                 for l in f.read().split("\n")
                 if l.removeprefix(".B ").strip('"').startswith(key + " = ")]
    if len(found) != 1:
        raise AssertionError("sms-milter.conf(5): expected one %s example, found %d"
                             % (key, len(found)))
    return found[0].split("=", 1)[1].strip()


def aliases_copy(env):
    """conf-examples/aliases as shipped, copied where a test may change it."""
    path = os.path.join(env.root, "aliases")
    shutil.copy(doc_snippets.repo_path("conf-examples/aliases"), path)
    return path


def sandbox_sendmail(env):
    return "/usr/sbin/sendmail -C " + env.postfix_etc


def setUpModule():
    global ENV
    if os.geteuid() != 0:
        raise unittest.SkipTest("the Postfix sandbox needs root")
    exit_on_sigterm()
    env = Environment({
        "carrier": {"overrides": {"carrier_domains": "yes",
                                  "gateway_domains": man5_gateway_example(),
                                  "allowed_countries": "US, CA, GB",
                                  "allowed_number_types": man5_example("allowed_number_types")}},
        "plain": {"overrides": {"aliases": aliases_copy}},
        "rules": {"overrides": {"aliases": doc_snippets.repo_path("conf-examples/aliases"),
                                "sender_rules":
                                    doc_snippets.repo_path("conf-examples/sender_rules"),
                                "allowed_senders": None}},
        "local": {"overrides": {"sendmail_command": sandbox_sendmail}},
    }, main_cf=[lambda env: "non_smtpd_milters = " + env.milters["local"].postfix_milter()])
    unittest.addModuleCleanup(env.stop)
    ENV = env.start()


def new_tag():
    return "POL-" + secrets.token_hex(4)


class PolicyRules(unittest.TestCase):
    maxDiff = None

    def send(self, listener, rcpts, tag, sender=SENDER):
        return ENV.postfix.send_mail(listener, sender, rcpts, subject="ALERT " + tag, body=BODY,
                                     check=False)

    def sms_with(self, tag, count=1, timeout=20):
        return ENV.fake.wait_for(lambda m: tag in (m["body"] or ""), count=count,
                                 timeout=timeout)

    def sink_with(self, tag):
        ENV.postfix.wait_queue_empty()
        return [m for m in ENV.postfix.sink_messages() if tag in m["data"]]

    def render(self, milter, *rcpts, json_out=False, local=False):
        """`sms-milter render` with the instance's config; stdout lines."""
        args = [milter_bin(), "render", "-c", ENV.milters[milter].config_path,
                "--from", SENDER] + [a for r in rcpts for a in ("--to", r)]
        if json_out:
            args.append("--json")
        if local:
            args.append("--local")
        p = subprocess.run(args, input="Subject: DISK FULL\n\non db1\n", capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        # Where the rate limits and storm_window stand depends on the other cases' mail
        # (tests/e2e/test_limits.py checks those lines).
        lines = [l for l in p.stdout.splitlines()
                 if not l.startswith(("  rate limits for ", "  storm_window for "))]
        return [json.loads(l) for l in lines] if json_out else lines

    def queue_id(self, r):
        return r.data[1].split("queued as ")[-1].strip()

    def expect_removed(self, r):
        """Postfix's qmgr removed the message: every recipient was taken by the milter."""
        qid, deadline = self.queue_id(r), time.monotonic() + 10
        while qid + ": removed" not in ENV.postfix.maillog_text():
            self.assertLess(time.monotonic(), deadline, "qmgr did not remove %s" % qid)
            time.sleep(0.1)

    # ---- carrier_domains -------------------------------------------------------------------
    def test_carrier_domains_texted_not_relayed(self):
        cases = [("4155550123@vtext.com", "+14155550123"),
                 ("1-415-555-0124@TXT.ATT.NET", "+14155550124"),
                 ("4155550125@tmomail.net", "+14155550125"),
                 ("6135550123@txt.bell.ca", "+16135550123"),
                 # the man page's example of a domain added with its country
                 ("07400123456@sms.example-carrier.co.uk", "+447400123456")]
        for rcpt, number in cases:
            with self.subTest(rcpt=rcpt):
                tag = new_tag()
                r = self.send("carrier", [rcpt], tag)
                self.assertEqual((r.rcpts[rcpt][0], r.data and r.data[0]), (250, 250), r)
                got = self.sms_with(tag)
                self.assertEqual([(m["to"], m["body"]) for m in got],
                                 [(number, "ALERT %s\n%s" % (tag, BODY))],
                                 ENV.milters["carrier"].log_text()[-2000:])
                self.expect_removed(r)
                self.assertEqual(self.sink_with(tag), [], "carrier-domain mail was relayed")

    def test_carrier_domain_next_to_an_ordinary_recipient(self):
        tag, rcpt = new_tag(), "4155550126@vzwpix.com"
        r = self.send("carrier", [rcpt, "ops@example.org"], tag)
        self.assertEqual([r.rcpts[rcpt][0], r.rcpts["ops@example.org"][0], r.data[0]],
                         [250, 250, 250], r)
        self.assertEqual([m["to"] for m in self.sms_with(tag)], ["+14155550126"])
        delivered = ENV.postfix.wait_for_sink(lambda m: tag in m["data"], timeout=20)
        self.assertEqual([m["rcpts"] for m in delivered], [["ops@example.org"]])

    def test_carrier_domain_policy_applies(self):
        """The same RCPT checks as a gateway domain: a bad number, a country not allowed."""
        for rcpt, code, enhanced in (("12@vtext.com", 550, "5.1.1"),
                                     ("+33612345678@txt.att.net", 550, "5.7.1")):
            with self.subTest(rcpt=rcpt):
                r = self.send("carrier", [rcpt], new_tag())
                self.assertEqual(r.rcpts[rcpt][0], code, r)
                self.assertTrue(r.rcpts[rcpt][1].startswith(enhanced), r)

    def test_carrier_domains_render(self):
        lines = self.render("carrier", "4155550123@vtext.com", "ops@example.org")
        self.assertEqual(lines, ["<4155550123@vtext.com>: SMS to +14155550123 (US, "
                                 "fixed_line_or_mobile, Verizon carrier domain), GSM-7, "
                                 "1 segment, 16 septets",
                                 "    DISK FULL", "    on db1",
                                 "<ops@example.org>: not an SMS recipient, delivered as usual"])
        got = self.render("carrier", "6135550123@txt.bell.ca", json_out=True)
        self.assertEqual([(j["result"], j["number"], j["region"], j["carrier"]) for j in got],
                         [("sms", "+16135550123", "CA", "Bell")])
        self.assertEqual(self.render("plain", "4155550123@vtext.com"),
                         ["<4155550123@vtext.com>: not an SMS recipient, delivered as usual"])

    def test_render_takes_the_address_as_postfix_hands_it_over(self):
        """Postfix drops RFC 5322 comments from a recipient before the milter sees it, so
        +1(415)555-0130 reaches it as +1555-0130: render says so and decides the same."""
        for rcpt, number in (("+1(415)555-0130@sms.example.com", None),
                             ("4155550131(cell)@sms.example.com", "+14155550131")):
            with self.subTest(rcpt=rcpt):
                tag = new_tag()
                r = self.send("plain", [rcpt], tag)
                lines = self.render("plain", rcpt)
                self.assertIn("<%s>: the MTA hands this address over as " % rcpt, lines[0])
                if number is None:
                    self.assertEqual(r.rcpts[rcpt], (550, "5.1.1 Recipient is not a valid "
                                                         "phone number"), r)
                    self.assertTrue(lines[1].endswith(": 550 5.1.1 Recipient is not a valid "
                                                      "phone number"), lines)
                else:
                    self.assertEqual(r.rcpts[rcpt][0], 250, r)
                    self.assertEqual([m["to"] for m in self.sms_with(tag)], [number])
                    self.assertIn("SMS to %s " % number, lines[1])

    # ---- allowed_number_types --------------------------------------------------------------
    def test_premium_number_refused_next_to_an_allowed_one(self):
        tag, premium, ok = new_tag(), "9005550199@sms.example.com", "4155550128@sms.example.com"
        r = self.send("plain", [premium, ok], tag)
        self.assertEqual(r.rcpts[premium],
                         (550, "5.7.1 Destination number type not permitted (premium_rate)"), r)
        self.assertEqual((r.rcpts[ok][0], r.data and r.data[0]), (250, 250), r)
        self.assertEqual([m["to"] for m in self.sms_with(tag)], ["+14155550128"])
        self.assertEqual([m["to"] for m in self.sms_with(tag, count=2, timeout=3)],
                         ["+14155550128"], "the premium number was texted")
        self.expect_removed(r)
        log = ENV.milters["plain"].log_text()
        self.assertRegex(log, r"reject: RCPT from \[127\.0\.0\.1\]: 550 5\.7\.1 Destination "
                              r"number type not permitted \(premium_rate\); from=<%s> "
                              r"to=<\*\*\*0199@sms\.example\.com>" % re.escape(SENDER))

    def test_toll_free_only_where_listed(self):
        rcpt = "8005550123@sms.example.com"
        r = self.send("plain", [rcpt], new_tag())
        self.assertEqual(r.rcpts[rcpt],
                         (550, "5.7.1 Destination number type not permitted (toll_free)"), r)
        tag = new_tag()
        r = self.send("carrier", [rcpt, "9005550199@vtext.com"], tag)
        self.assertEqual(r.rcpts[rcpt][0], 250, r)
        self.assertEqual(r.rcpts["9005550199@vtext.com"][0], 550, r)
        self.assertEqual([m["to"] for m in self.sms_with(tag)], ["+18005550123"])
        lines = self.render("carrier", rcpt, "9005550199@vtext.com")
        self.assertEqual(lines[0], "<%s>: SMS to +18005550123 (US, toll_free), GSM-7, 1 segment, "
                                   "16 septets" % rcpt)
        self.assertEqual(lines[-1], "<9005550199@vtext.com>: 550 5.7.1 Destination number type "
                                    "not permitted (premium_rate)")

    # ---- aliases -----------------------------------------------------------------------------
    ONCALL = ["+14155550101", "+14155550102", "+14155550103", "+16135550104"]

    def test_alias_fans_out(self):
        """conf-examples/aliases as shipped: oncall (nested dba and network, one number named
        twice) texts each number once; the mail goes nowhere else."""
        tag, rcpt = new_tag(), "OnCall@sms.example.com"
        r = self.send("plain", [rcpt, "dba@sms.example.com"], tag)
        self.assertEqual((r.rcpts[rcpt][0], r.data and r.data[0]), (250, 250), r)
        got = self.sms_with(tag, count=len(self.ONCALL))
        self.assertEqual(sorted(m["to"] for m in got), self.ONCALL,
                         ENV.milters["plain"].log_text()[-2000:])
        self.assertEqual(len(self.sms_with(tag, count=len(self.ONCALL) + 1, timeout=3)),
                         len(self.ONCALL), "a number was texted twice")
        self.expect_removed(r)
        self.assertEqual(self.sink_with(tag), [])
        lines = self.render("plain", rcpt)
        self.assertEqual(lines[0], "<%s>: SMS to alias oncall (4 numbers): " % rcpt + ", ".join(
            "%s (%s, fixed_line_or_mobile)" % (n, "CA" if n.startswith("+1613") else "US")
            for n in self.ONCALL) + ", GSM-7, 1 segment, 16 septets")

    def test_alias_file_in_the_man_page_is_the_example(self):
        with open(doc_snippets.repo_path("packaging/sms-milter.conf.5")) as f:
            man = f.read().split("\n.B aliases\n", 1)[1].split(".ft CR\n", 1)[1]
        self.assertEqual(man.split("\n.ft\n", 1)[0].split("\n"),
                         doc_snippets.settings("conf-examples/aliases"))

    def test_alias_reload(self):
        """SIGUSR1 reads the aliases file again; a broken file keeps the running aliases."""
        m = ENV.milters["plain"]
        path = m.settings["aliases"]
        with open(path) as f:
            shipped = f.read()
        try:
            for text, want in ((shipped + "extra: +14155550105\n", "reloaded configuration"),
                               (shipped + "extra: +14155550105, loop\nloop: extra\n",
                                "reload: keeping the previous configuration")):
                before = m.log_text().count(want)
                with open(path, "w") as f:
                    f.write(text)
                m.proc.send_signal(signal.SIGUSR1)
                deadline = time.monotonic() + 10
                while m.log_text().count(want) == before:
                    self.assertLess(time.monotonic(), deadline, m.log_text()[-2000:])
                    time.sleep(0.1)
                tag = new_tag()
                r = self.send("plain", ["extra@sms.example.com"], tag)
                self.assertEqual(r.data and r.data[0], 250, r)
                self.assertEqual([x["to"] for x in self.sms_with(tag)], ["+14155550105"])
            self.assertIn("%s:18: alias loop: extra -> loop -> extra" % path, m.log_text())
        finally:
            with open(path, "w") as f:
                f.write(shipped)
            m.proc.send_signal(signal.SIGUSR1)

    # ---- sender_rules ------------------------------------------------------------------------
    def test_sender_rule_refuses_one_destination_and_allows_another(self):
        tag, ok, no = new_tag(), "4155550199@sms.example.com", "6135550123@sms.example.com"
        r = self.send("rules", [no, ok, "oncall@sms.example.com"], tag,
                      sender="nagios@mon.example.com")
        self.assertEqual(r.rcpts[no], (550, "5.7.1 Destination not permitted for this sender"), r)
        self.assertEqual([r.rcpts[ok][0], r.rcpts["oncall@sms.example.com"][0], r.data[0]],
                         [250, 250, 250], r)
        want = sorted(self.ONCALL + ["+14155550199"])  # the alias is named in the rule
        got = self.sms_with(tag, count=len(want))
        self.assertEqual(sorted(m["to"] for m in got), want,
                         ENV.milters["rules"].log_text()[-2000:])
        self.assertRegex(ENV.milters["rules"].log_text(),
                         r"reject: RCPT from \[127\.0\.0\.1\]: 550 5\.7\.1 Destination not "
                         r"permitted for this sender; from=<nagios@mon\.example\.com> "
                         r"to=<\*\*\*0123@sms\.example\.com>")

    def test_sender_rules_first_match_decides(self):
        cases = [("printer@mon.example.com", "4155550199@sms.example.com", False),  # nobody
                 ("ops@mon.example.com", "+14155550103@sms.example.com", False),  # not line 4
                 ("ops@mon.example.com", "dba@sms.example.com", True),
                 ("ops@mon.example.com", "oncall@sms.example.com", False),
                 ("alerts@example.com", "+14155550103@sms.example.com", True),  # the * line
                 ("alerts@example.com", "dba@sms.example.com", False)]
        for sender, rcpt, allowed in cases:
            with self.subTest(sender=sender, rcpt=rcpt):
                r = self.send("rules", [rcpt], new_tag(), sender=sender)
                self.assertEqual(r.rcpts[rcpt][0], 250 if allowed else 550, r)
        lines = self.render("rules", "dba@sms.example.com")  # from alerts@example.com: line 20
        self.assertEqual(lines, ["<dba@sms.example.com>: 550 5.7.1 Destination not permitted "
                                 "for this sender (sender_rules line 20)"])

    def test_sender_rules_in_the_man_page_are_the_example(self):
        with open(doc_snippets.repo_path("packaging/sms-milter.conf.5")) as f:
            man = f.read().split("\n.B sender_rules\n", 1)[1].split(".ft CR\n", 1)[1]
        self.assertEqual(man.split("\n.ft\n", 1)[0].split("\n"),
                         doc_snippets.settings("conf-examples/sender_rules"))

    # ---- local_submission ------------------------------------------------------------------
    def sendmail(self, rcpts, tag, sender=SENDER):
        """Submit on the relay itself, as a cron job would: sendmail(1) -> pickup -> cleanup,
        which runs non_smtpd_milters."""
        msg = "From: %s\nTo: %s\nSubject: ALERT %s\n\n%s\n" % (sender, ", ".join(rcpts), tag, BODY)
        p = subprocess.run(["/usr/sbin/sendmail", "-C", ENV.postfix_etc, "-f", sender, "--"]
                           + rcpts, input=msg, capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)

    def wait_log(self, milter, pattern, timeout=20):
        deadline = time.monotonic() + timeout
        while not re.search(pattern, ENV.milters[milter].log_text()):
            self.assertLess(time.monotonic(), deadline, "no %r in the %s milter's log:\n%s"
                            % (pattern, milter, ENV.milters[milter].log_text()[-2000:]))
            time.sleep(0.1)

    def test_local_submission_refused_by_default(self):
        """SMS only: the milter refuses the message at end of message and Postfix bounces it
        to the local sender; the SMS is never sent."""
        tag, rcpt = new_tag(), "4155550129@sms.example.com"
        self.sendmail([rcpt], tag)
        dsn = ENV.postfix.wait_for_sink(lambda m: tag in m["data"], timeout=30)
        self.assertEqual([(m["mail_from"], m["rcpts"]) for m in dsn], [("", [SENDER])],
                         ENV.postfix.maillog_text()[-3000:])
        self.assertIn("Status: 5.7.1\nDiagnostic-Code: X-Postfix; SMS not permitted for mail "
                      "submitted on this host", dsn[0]["data"])
        self.wait_log("local", r"reject: END-OF-MESSAGE: 550 5\.7\.1 SMS not permitted for mail "
                               r"submitted on this host; from=<%s> "
                               r"to=<\*\*\*0129@sms\.example\.com>" % re.escape(SENDER))
        self.assertEqual(self.sms_with(tag, timeout=3), [])
        self.assertEqual([m["rcpts"] for m in self.sink_with(tag)], [[SENDER]])
        self.assertEqual(self.render("local", rcpt, local=True),
                         ["<%s>: 550 5.7.1 SMS not permitted for mail submitted on this host"
                          % rcpt])
        self.assertTrue(self.render("local", rcpt)[0].startswith("<%s>: SMS to " % rcpt))

    def test_local_submission_with_an_ordinary_recipient(self):
        """The ordinary recipient gets the mail; the SMS recipient is removed and the sender
        gets a failure notice."""
        tag, rcpt = new_tag(), "4155550130@sms.example.com"
        self.sendmail([rcpt, "ops@example.org"], tag)
        ENV.postfix.wait_for_sink(lambda m: tag in m["data"] and m["mail_from"] == "",
                                  timeout=30)
        got = sorted((m["mail_from"], tuple(m["rcpts"])) for m in self.sink_with(tag))
        self.assertEqual(got, [("", (SENDER,)), (SENDER, ("ops@example.org",))],
                         ENV.milters["local"].log_text()[-2000:])
        notice = [m for m in self.sink_with(tag) if m["mail_from"] == ""][0]["data"]
        self.assertIn("Subject: SMS not delivered to +14155550130", notice)
        self.assertIn("550 5.7.1 SMS not permitted for mail submitted on this host", notice)
        self.assertEqual(self.sms_with(tag, timeout=3), [])

    def test_local_submission_yes_texts(self):
        m = ENV.milters["local"]
        m.stop()
        m.settings["local_submission"] = "yes"
        try:
            m.start()
            tag, rcpt = new_tag(), "4155550131@sms.example.com"
            self.sendmail([rcpt], tag)
            got = self.sms_with(tag)
            self.assertEqual([(s["to"], s["body"]) for s in got],
                             [("+14155550131", "ALERT %s\n%s" % (tag, BODY))], m.log_text()[-2000:])
            self.assertEqual(self.sink_with(tag), [], "the SMS mail was delivered too")
            # Postfix cannot refuse a recipient of local mail at RCPT: a bad number is refused
            # at end of message instead (bounced), not left in the queue.
            tag = new_tag()
            self.sendmail(["9005550199@sms.example.com"], tag)
            dsn = ENV.postfix.wait_for_sink(lambda x: tag in x["data"], timeout=30)
            self.assertEqual([(x["mail_from"], x["rcpts"]) for x in dsn], [("", [SENDER])])
            self.assertIn("Status: 5.7.1\nDiagnostic-Code: X-Postfix; Destination number type "
                          "not permitted\n    (premium_rate)", dsn[0]["data"])
        finally:
            m.stop()
            m.settings.pop("local_submission")
            m.start()

    def test_carrier_domains_off_by_default(self):
        """carrier_domains = no: the same address is ordinary mail, relayed as before."""
        tag, rcpt = new_tag(), "4155550127@vtext.com"
        r = self.send("plain", [rcpt], tag)
        self.assertEqual((r.rcpts[rcpt][0], r.data and r.data[0]), (250, 250), r)
        delivered = ENV.postfix.wait_for_sink(lambda m: tag in m["data"], timeout=20)
        self.assertEqual([m["rcpts"] for m in delivered], [[rcpt.lower()]])
        self.assertEqual(self.sms_with(tag, timeout=3), [])


if __name__ == "__main__":
    unittest.main()
