"""Postfix as documented: the README's main.cf snippet, conf-examples/transport and
conf-examples/postfix-master.cf, taken from the files exactly as written.  Only what the docs
tell the admin to substitute is replaced: the paths of the transport map and of the
not-attached command, and the queue directory /var/spool/postfix in milter_socket.

The sandbox's attached smtpd runs chrooted in its queue directory, as Debian's does, so
smtpd_milters = { unix:/sms-milter/sms-milter.sock, ... } is resolved inside the chroot.
  attached  main.cf's smtpd_milters (the snippet): SMS sent, nothing reaches the sink
  absent    -o smtpd_milters= (the milter not attached): RCPT accepted, then the safety net
            bounces the gateway recipient at delivery with 5.3.0; the DSN reaches the sender
            at the sink, the gateway address never does
  accept    the commented default_action=accept alternative from postfix-main.cf
Then the milter is stopped: `attached` answers 451 4.7.1 to ordinary mail too (the cost the
README states), `accept` delivers ordinary mail and the net bounces SMS mail.

Run as root:  SMS_MILTER_BIN=build/sms-milter python3 -m unittest tests/e2e/test_postfix_safety_net.py
"""

import os
import pwd
import secrets
import shutil
import stat
import time
import unittest

import doc_snippets
from harness import Environment, exit_on_sigterm
from milter_proc import MilterInstance
from postfix_sandbox import MAIN_CF, Listener, PostfixSandbox, SendFailed

SMS_NUMBER = "+14155550123"
GATEWAY_RCPT = SMS_NUMBER + "@sms.example.com"
SENDER = "alerts@example.com"  # its DSNs go to the sink (default_transport)
NOT_ATTACHED = "/usr/lib/sms-milter/not-attached"
QUEUE_DIRECTORY = "/var/spool/postfix"
ENV = None


class DocumentedPostfix(Environment):
    """One milter on the documented unix socket, one Postfix configured from the docs."""

    def __init__(self):
        super().__init__({})

    def _start(self):
        self._start_twilio(prefix="sms-milter-net-")

        pdir = self.postfix_dir
        spool = os.path.join(pdir, "spool")
        # The socket directory the package makes (0750, group sms-milter with postfix in it).
        # Here: group postfix and set-gid, so the socket the milter (run as root) creates
        # there is group postfix too and the chrooted smtpd, running as postfix, connects.
        sockdir = os.path.join(spool, "sms-milter")
        os.makedirs(sockdir)
        os.chown(sockdir, 0, pwd.getpwnam("postfix").pw_gid)
        os.chmod(sockdir, 0o750 | stat.S_ISGID)
        socket_line = [l for l in doc_snippets.settings("conf-examples/sms-milter.conf")
                       if l.startswith("milter_socket")]
        if len(socket_line) != 1:
            raise RuntimeError("conf-examples/sms-milter.conf: no single milter_socket line")
        milter_socket = socket_line[0].split("=", 1)[1].strip().replace(QUEUE_DIRECTORY, spool)
        m = MilterInstance("gw", self.root, self.fake.url, self.pki["ca"], self.account_sid,
                           self.token_file, {"milter_socket": milter_socket})
        self.milters["gw"] = m
        m.start()

        etc = os.path.join(pdir, "etc")
        command = os.path.join(self.root, "not-attached")
        shutil.copy(doc_snippets.repo_path("packaging/not-attached"), command)
        os.chmod(command, 0o755)
        main_cf = [l.replace("hash:/etc/postfix/transport", "hash:" + os.path.join(etc, "transport"))
                   for l in doc_snippets.readme_block("postfix-snippet")]
        master_cf = [l.replace(NOT_ATTACHED, command)
                     for l in doc_snippets.settings("conf-examples/postfix-master.cf")]
        with open(doc_snippets.repo_path("conf-examples/transport")) as f:
            transport = f.read()
        accept = doc_snippets.commented("conf-examples/postfix-main.cf", "smtpd_milters =")
        listeners = [Listener("attached", milters=MAIN_CF, chroot=True),
                     Listener("absent"),
                     Listener("accept", milters=accept.split("=", 1)[1].strip(), chroot=True)]
        self.postfix = PostfixSandbox(pdir, listeners, main_cf=main_cf, master_cf=master_cf,
                                      maps={"transport": transport})
        self.postfix.start()


def setUpModule():
    global ENV
    if os.geteuid() != 0:
        raise unittest.SkipTest("the Postfix sandbox needs root")
    exit_on_sigterm()
    env = DocumentedPostfix()
    unittest.addModuleCleanup(env.stop)
    ENV = env.start()


def new_tag():
    return "NET-" + secrets.token_hex(4)


class SnippetsAgree(unittest.TestCase):
    def test_readme_snippet_is_postfix_main_cf(self):
        """The README's block is exactly the settings of conf-examples/postfix-main.cf."""
        self.assertEqual(doc_snippets.readme_block("postfix-snippet"),
                         doc_snippets.settings("conf-examples/postfix-main.cf"))

    def test_socket_paths_agree(self):
        """main.cf names, inside the chroot, the socket that sms-milter.conf listens on."""
        main = [l for l in doc_snippets.readme_block("postfix-snippet")
                if l.startswith("smtpd_milters")][0]
        conf = [l for l in doc_snippets.settings("conf-examples/sms-milter.conf")
                if l.startswith("milter_socket")][0]
        inside = conf.split("=", 1)[1].strip().replace("unix:" + QUEUE_DIRECTORY, "unix:")
        self.assertIn("{ %s," % inside, main)


class SafetyNet(unittest.TestCase):
    maxDiff = None

    def send(self, listener, rcpts, tag):
        return ENV.postfix.send_mail(listener, SENDER, rcpts, subject="ALERT " + tag,
                                     body="body text", check=False)

    def sink_with(self, tag):
        ENV.postfix.wait_queue_empty()
        return [m for m in ENV.postfix.sink_messages() if tag in m["data"]]

    def expect_bounced_by_net(self, tag, r):
        """Accepted at RCPT and DATA, bounced at delivery by the net, DSN to the sender."""
        self.assertEqual((r.rcpts[GATEWAY_RCPT][0], r.data and r.data[0]), (250, 250), r)
        dsn = ENV.postfix.wait_for_sink(lambda m: tag in m["data"], timeout=30)
        self.assertEqual([(m["mail_from"], m["rcpts"]) for m in dsn], [("", [SENDER])],
                         "expected only the DSN to the sender at the sink")
        self.assertIn("5.3.0", dsn[0]["data"])
        self.assertIn("SMS gateway milter not attached", dsn[0]["data"])
        qid = r.data[1].rsplit(" ", 1)[-1]  # "2.0.0 Ok: queued as QID"
        log = ENV.postfix.maillog_text()
        deliveries = [l for l in log.splitlines() if " %s: to=<" % qid in l]
        self.assertEqual(len(deliveries), 1, log[-3000:])
        self.assertIn("to=<%s>" % GATEWAY_RCPT, deliveries[0])
        for want in ("relay=sms-not-attached", "dsn=5.3.0", "status=bounced",
                     "SMS gateway milter not attached"):
            self.assertIn(want, deliveries[0])
        self.assertEqual(self.sms_with(tag), [])

    def sms_with(self, tag):
        return [m for m in ENV.fake.messages() if tag in (m["body"] or "")]

    def test_1_attached_sms_sent_nothing_delivered(self):
        tag = new_tag()
        r = self.send("attached", [GATEWAY_RCPT], tag)
        self.assertEqual((r.rcpts[GATEWAY_RCPT][0], r.data and r.data[0]), (250, 250), r)
        got = ENV.fake.wait_for(lambda m: tag in (m["body"] or ""), timeout=20)
        self.assertEqual([(m["to"], m["body"]) for m in got],
                         [(SMS_NUMBER, "ALERT %s\nbody text" % tag)],
                         ENV.milters["gw"].log_text()[-2000:])
        self.assertEqual(self.sink_with(tag), [], "SMS mail reached the sink")
        self.assertNotIn("relay=sms-not-attached", ENV.postfix.maillog_text())

    def test_2_absent_bounced_never_relayed(self):
        tag = new_tag()
        r = self.send("absent", [GATEWAY_RCPT], tag)
        self.expect_bounced_by_net(tag, r)

    def test_3_mixed_recipients_absent(self):
        """Without the milter the ordinary co-recipient still gets the mail; only the
        gateway recipient is bounced."""
        tag = new_tag()
        r = self.send("absent", [GATEWAY_RCPT, "ops@example.org"], tag)
        self.assertEqual(r.rcpts["ops@example.org"][0], 250, r)
        delivered = ENV.postfix.wait_for_sink(
            lambda m: tag in m["data"] and m["rcpts"] == ["ops@example.org"], timeout=30)
        self.assertEqual(len(delivered), 1)
        ENV.postfix.wait_for_sink(lambda m: tag in m["data"] and m["mail_from"] == "",
                                  timeout=30)
        self.assertEqual(sorted((m["mail_from"], tuple(m["rcpts"])) for m in self.sink_with(tag)),
                         [("", (SENDER,)), (SENDER, ("ops@example.org",))])

    def test_9_milter_down(self):
        ENV.milters["gw"].stop()
        with self.subTest("default_action=tempfail: 451 for every session, ordinary mail too"):
            tag = new_tag()
            try:
                r = self.send("attached", ["ops@example.org"], tag)
                reply = r.rcpts["ops@example.org"] if r.data is None else r.data
            except SendFailed as e:
                reply = (e.code, e.text)
            self.assertEqual(reply[0], 451, reply)
            self.assertTrue(reply[1].startswith("4.7.1"), reply)
            self.assertEqual(self.sink_with(tag), [])
        with self.subTest("default_action=accept: ordinary mail flows"):
            tag = new_tag()
            r = self.send("accept", ["ops@example.org"], tag)
            self.assertEqual(r.data and r.data[0], 250, r)
            self.assertEqual([m["rcpts"] for m in ENV.postfix.wait_for_sink(
                lambda m: tag in m["data"], timeout=30)], [["ops@example.org"]])
        with self.subTest("default_action=accept: SMS mail bounced by the net"):
            tag = new_tag()
            self.expect_bounced_by_net(tag, self.send("accept", [GATEWAY_RCPT], tag))


if __name__ == "__main__":
    unittest.main()
