"""Sendmail end to end: Debian 12's Sendmail 8.17 set up exactly as conf-examples/sendmail.mc
and the README say, the real sms-milter on its default unix socket, the fake Twilio over HTTPS.

Run as root through the namespaces:  tests/sendmail/run.sh [SMS_MILTER_BIN]   (ctest: sendmail)
sendmail_sandbox.py unpacks and "installs" Sendmail in private namespaces; the .mc lines, the
access and mailertable entries and the commands come from the doc files (sendmail_docs.py).
The only lines the sandbox adds, in a block of their own: SMART_HOST to the sink (ordinary mail
must go somewhere), accept_unresolvable_domains (no DNS for the senders' domains) and Debian's
sasl.m4 include (AUTH for the SASL case). Each mail carries a unique tag in its subject.
SENDMAIL_KEEP=1 keeps the work directory.
"""

import email.message
import email.utils
import os
import pwd
import re
import secrets
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import unittest

import sendmail_docs as docs
from doc_snippets import repo_path
from fake_twilio import FakeTwilio
from harness import exit_on_sigterm
from milter_proc import MilterInstance, milter_bin
from pki import make_pki
from sendmail_sandbox import LAN_CLIENT, SendmailSandbox, in_private_namespace, run

SMS_NUMBER = "+14155550123"
SMS_RCPT = "14155550123@sms.example.com"
ORDINARY_RCPT = "bob@example.org"
SENDER = "alerts@example.com"
SASL_USER, SASL_PASSWORD = "alice", "sm-Passw0rd"
SANDBOX_MC = [
    "define(`SMART_HOST', `[127.0.0.2]')dnl",
    "FEATURE(`accept_unresolvable_domains')dnl",
    "include(`/etc/mail/sasl/sasl.m4')dnl",
]
# systemd runs Debian's /etc/init.d/sendmail for sendmail.service (the package has no unit);
# the namespace has no systemd, so the script is called directly.
SYSTEMCTL = {"systemctl restart sendmail": "/etc/init.d/sendmail restart"}
ENV = None


class Env:
    """Everything the cases share; stop() is safe at any point and stops all of it."""

    def __init__(self):
        self.keep = os.environ.get("SENDMAIL_KEEP") == "1"
        self.workdir = tempfile.mkdtemp(prefix="sms-milter-sendmail-",
                                        dir=os.environ.get("E2E_TMPDIR"))
        os.chmod(self.workdir, 0o755)
        self.sandbox = SendmailSandbox(self.workdir)
        self.fake = None
        self.milter = None

    def start(self):
        sb = self.sandbox
        sb.install()
        # What the .deb and its unit provide: the safety net's command, the user sms-milter
        # and the RuntimeDirectory /run/sms-milter (0750 sms-milter:sms-milter). The daemon
        # runs as that user (run_as_user here, the unit's User= on a real system), so the
        # socket is sms-milter's, mode 0660; Sendmail's daemon reaches it as root.
        os.makedirs("/usr/lib/sms-milter", exist_ok=True)
        shutil.copy(repo_path("packaging/not-attached"), "/usr/lib/sms-milter/not-attached")
        os.chmod("/usr/lib/sms-milter/not-attached", 0o755)
        run(["useradd", "--system", "--user-group", "--home-dir", "/var/lib/sms-milter",
             "--shell", "/usr/sbin/nologin", "sms-milter"])
        os.makedirs("/run/sms-milter", mode=0o750)
        shutil.chown("/run/sms-milter", "sms-milter", "sms-milter")
        self._setup_sasl()

        pki = make_pki(os.path.join(self.workdir, "pki"))
        sid, token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
        token_file = os.path.join(self.workdir, "twilio-token")
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        shutil.chown(token_file, "sms-milter", "sms-milter")
        self.fake = FakeTwilio(pki["cert"], pki["key"], sid, token,
                               log_path=os.path.join(self.workdir, "fake-twilio.log")).start()
        self.milter = MilterInstance("sendmail", self.workdir, self.fake.url, pki["ca"], sid,
                                     token_file, {"milter_socket": docs.milter_socket(),
                                                  "allowed_clients": "198.51.100.0/24",
                                                  "run_as_user": "sms-milter"})
        os.makedirs(self.milter.state_dir, mode=0o700)
        shutil.chown(self.milter.state_dir, "sms-milter", "sms-milter")
        self.milter.start()

        # The admin's steps: the .mc lines above MAILER_DEFINITIONS, then the README's commands.
        sb.insert_mc_lines(docs.mc_lines(), SANDBOX_MC)
        sb.start_sink()
        for line in docs.readme_steps():
            if line.strip() and not line.lstrip().startswith("#"):
                out = sb.shell(SYSTEMCTL.get(line.strip(), line), timeout=180)
                # Debian's make exits 0 even when m4 fails (e.g. FEATURE() after MAILER()).
                if "ERROR" in out.stdout + out.stderr:
                    raise RuntimeError("%s:\n%s%s" % (line, out.stdout, out.stderr))
        if not sb.daemon_pid():
            raise RuntimeError("sendmail is not running after the README's steps; log:\n%s"
                               % sb.log()[-3000:])
        return self

    def _setup_sasl(self):
        """Debian's AUTH set-up with a sasldb user (sasl.m4 is included by SANDBOX_MC)."""
        with open("/etc/mail/sasl/Sendmail.conf.2", "w") as f:
            f.write("pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\n"
                    "sasldb_path: /etc/sasldb2\n")
        subprocess.run(["saslpasswd2", "-f", "/etc/sasldb2", "-c", "-p", "-u",
                        "relay.e2e.test", SASL_USER], input=SASL_PASSWORD.encode(), check=True)
        os.chmod("/etc/sasldb2", 0o640)

    def stop(self):
        errors = []
        for step in (self.sandbox.shutdown, lambda: self.milter and self.milter.stop(),
                     lambda: self.fake and self.fake.stop()):
            try:
                step()
            except Exception as e:  # keep stopping the rest
                errors.append(e)
        if not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            print("sendmail work directory kept: %s" % self.workdir)
        if errors:
            raise errors[0]


def setUpModule():
    global ENV
    if os.geteuid() != 0 or not in_private_namespace():
        raise unittest.SkipTest("run through tests/sendmail/run.sh as root")
    exit_on_sigterm()
    env = Env()
    unittest.addModuleCleanup(env.stop)
    try:
        ENV = env.start()
    except BaseException:
        env.keep = True  # the logs explain the failure
        raise


def new_tag():
    return "SM-" + secrets.token_hex(4)


def message(tag, rcpts):
    m = email.message.EmailMessage()
    m["From"] = SENDER
    m["To"] = ", ".join(rcpts)
    m["Subject"] = "ALERT " + tag
    m["Date"] = email.utils.formatdate()
    m["Message-ID"] = email.utils.make_msgid(domain="e2e.test")
    m.set_content("body text")
    return m.as_bytes()


def queue_id(data_reply):
    """'2.0.0 6B1EstiH000832 Message accepted for delivery' -> '6B1EstiH000832'."""
    m = re.match(r"2\.0\.0 (\S+) Message accepted", data_reply[1]) if data_reply else None
    if not m:
        raise AssertionError("DATA was not accepted: %r" % (data_reply,))
    return m.group(1)


class Case(unittest.TestCase):
    maxDiff = None

    def send(self, rcpts, tag, sender=SENDER, source=LAN_CLIENT, **kw):
        return ENV.sandbox.smtp(sender, rcpts, message(tag, rcpts), source=source, **kw)

    def sms_with(self, tag):
        return [m for m in ENV.fake.messages() if tag in (m["body"] or "")]

    def expect_sms(self, tag, qid):
        got = ENV.fake.wait_for(lambda m: tag in (m["body"] or ""), timeout=20)
        self.assertTrue(got, "no SMS with %s; milter log:\n%s"
                        % (tag, ENV.milter.log_text()[-2000:]))
        self.assertEqual((got[0]["to"], got[0]["body"]), (SMS_NUMBER, "ALERT %s\nbody text" % tag))
        # The queue ID macro i reaches the milter: its log lines carry Sendmail's queue ID.
        sent = re.compile(r"%s: to=\+1415\*\*\*0123, from=<%s>, status=sent"
                          % (qid, re.escape(SENDER)))
        deadline = time.monotonic() + 10
        while not sent.search(ENV.milter.log_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertRegex(ENV.milter.log_text(), sent)
        time.sleep(0.5)
        self.assertEqual(len(self.sms_with(tag)), 1, "SMS sent more than once")

    def sink_with(self, tag):
        return [m for m in ENV.sandbox.sink_messages() if tag in m["data"]]

    def log_lines(self, qid):
        return [l for l in ENV.sandbox.log().splitlines() if " %s: " % qid in l]

    def assert_nothing_delivered(self, qid, tag):
        """Nothing of this message reached a mailer, the sink or the queue."""
        time.sleep(1)  # a delivery would have started by now
        lines = self.log_lines(qid)
        self.assertFalse([l for l in lines if " to=" in l], "\n".join(lines))
        self.assertEqual(self.sink_with(tag), [])
        self.assertFalse([f for f in ENV.sandbox.queue_files() if f.endswith(qid)])


class Attached(Case):
    """The milter attached as documented, with the documented safety net in place."""

    def test_docs_agree(self):
        """README and sendmail.mc give the same entries, commands and socket, and the socket
        is sms-milter's compiled-in default."""
        steps = docs.readme_steps()
        for path in ("/etc/mail/access", "/etc/mail/mailertable"):
            added = [re.match(r"echo '(.*)' >> %s$" % path, l) for l in steps]
            self.assertEqual(docs.entry_fields([m.group(1) for m in added if m]),
                             docs.entry_fields(docs.mc_entries(path)), path)
        for command in docs.mc_commands():
            self.assertIn(command, steps)
        socket = docs.milter_socket()
        defaults = subprocess.run([milter_bin(), "help", "config"], capture_output=True,
                                  text=True, check=True).stdout
        self.assertIn("milter_socket = %s\n" % socket, defaults)
        with open(repo_path("README.md")) as f:
            self.assertIn("milter_socket = %s" % socket, f.read())
        st = os.stat(socket[len("unix:"):])
        self.assertEqual((stat.S_IMODE(st.st_mode), pwd.getpwuid(st.st_uid).pw_name),
                         (0o660, "sms-milter"))

    def test_safety_net_routes_gateway_domain(self):
        """After the README's steps the gateway domain resolves to the net's mailer (with
        one `make` run, mailertable.db would be missing and gateway mail would be relayed)."""
        out = run(["sendmail", "-bv", SMS_RCPT]).stdout
        self.assertIn("deliverable: mailer sms-not-attached, host localhost", out)
        out = run(["sendmail", "-bv", ORDINARY_RCPT]).stdout
        self.assertIn("deliverable: mailer relay, host [127.0.0.2]", out)

    def test_sms_sent_and_mail_discarded(self):
        tag = new_tag()
        rcpts, data = self.send([SMS_RCPT], tag)
        self.assertEqual(rcpts[SMS_RCPT][0], 250)
        qid = queue_id(data)
        self.expect_sms(tag, qid)
        self.assert_nothing_delivered(qid, tag)
        self.assertNotIn("mailer=sms-not-attached", ENV.sandbox.log())

    def test_rcpt_rejections(self):
        tag = new_tag()
        rcpts, data = self.send(["12@sms.example.com"], tag)
        self.assertEqual(rcpts["12@sms.example.com"][0], 550)
        self.assertTrue(rcpts["12@sms.example.com"][1].startswith("5.1.1 "), rcpts)
        # {client_addr} reaches the milter: the same mail from outside allowed_clients...
        rcpts, _ = self.send([SMS_RCPT], tag, source="127.0.0.1")
        self.assertEqual(rcpts[SMS_RCPT][0], 550)
        self.assertTrue(rcpts[SMS_RCPT][1].startswith("5.7.1 "), rcpts)
        # ... and from a sender outside allowed_senders.
        rcpts, _ = self.send([SMS_RCPT], tag, sender="ops@other.test")
        self.assertEqual(rcpts[SMS_RCPT][0], 550)
        self.assertTrue(rcpts[SMS_RCPT][1].startswith("5.7.1 "), rcpts)
        time.sleep(0.5)
        self.assertEqual(self.sms_with(tag), [])

    def test_mixed_recipients(self):
        tag = new_tag()
        rcpts, data = self.send([SMS_RCPT, ORDINARY_RCPT], tag)
        self.assertEqual([c for c, _ in rcpts.values()], [250, 250])
        qid = queue_id(data)
        self.expect_sms(tag, qid)
        got = ENV.sandbox.wait_for_sink(lambda m: tag in m["data"])
        self.assertEqual([m["rcpts"] for m in got], [[ORDINARY_RCPT]])
        time.sleep(0.5)
        self.assertEqual(len(self.sink_with(tag)), 1)
        self.assertTrue([l for l in self.log_lines(qid)
                         if "delete: rcpt <%s>" % SMS_RCPT in l], self.log_lines(qid))

    def test_sasl_login_reaches_milter(self):
        """{auth_authen} reaches the milter with no Milter.macros changes."""
        m = ENV.milter
        try:
            self.reload(require_sasl_auth="yes")
            tag = new_tag()
            rcpts, _ = self.send([SMS_RCPT], tag)
            self.assertEqual(rcpts[SMS_RCPT][0], 550, "no AUTH, yet the SMS was allowed")
            self.assertTrue(rcpts[SMS_RCPT][1].startswith("5.7.1 "), rcpts)
            rcpts, data = self.send([SMS_RCPT], tag, auth=(SASL_USER, SASL_PASSWORD))
            self.assertEqual(rcpts[SMS_RCPT][0], 250, rcpts)
            self.expect_sms(tag, queue_id(data))
        finally:
            self.reload(require_sasl_auth="no")
        self.assertTrue(m.alive())

    def reload(self, **settings):
        m = ENV.milter
        before = m.log_text().count("reloaded configuration")
        m.settings.update(settings)
        m.write_config()
        m.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while m.log_text().count("reloaded configuration") == before:
            self.assertLess(time.monotonic(), deadline, "no reload:\n" + m.log_text()[-1000:])
            time.sleep(0.05)

    def test_tempfail_while_milter_down(self):
        """F=T: while the milter is down, every session gets 4xx, ordinary mail included."""
        m = ENV.milter
        m.stop()
        try:
            tag = new_tag()
            for rcpt in (SMS_RCPT, ORDINARY_RCPT):
                rcpts, data = self.send([rcpt], tag)  # MAIL is refused: its reply per rcpt
                self.assertEqual(rcpts[rcpt], (451, "4.3.2 Please try again later"))
                self.assertIsNone(data)
        finally:
            m.start()
        time.sleep(0.5)
        self.assertEqual(self.sms_with(tag), [])
        self.assertEqual(self.sink_with(tag), [])
        self.assertIn("Milter: initialization failed, temp failing commands", ENV.sandbox.log())


class NotAttached(Case):
    """The safety net when the milter is not attached: the documented .mc without its
    INPUT_MAIL_FILTER line (mailertable and the mailer stay). Runs after Attached."""

    @classmethod
    def setUpClass(cls):
        sb = ENV.sandbox
        sb.remove_mc_lines(lambda l: l.startswith("INPUT_MAIL_FILTER"))
        sb.shell("make -C /etc/mail")
        sb.shell(SYSTEMCTL["systemctl restart sendmail"], timeout=180)

    def test_gateway_mail_bounced_at_delivery_never_relayed(self):
        tag = new_tag()
        rcpts, data = self.send([SMS_RCPT, ORDINARY_RCPT], tag)
        # Accepted at RCPT (mailertable is no RCPT-time error) ...
        self.assertEqual([c for c, _ in rcpts.values()], [250, 250])
        qid = queue_id(data)
        # ... the ordinary recipient delivered, the gateway one bounced by the net's mailer ...
        dsn = ENV.sandbox.wait_for_sink(lambda m: m["rcpts"] == [SENDER.lower()]
                                        and tag in m["data"] and m["mail_from"] == "")
        self.assertEqual(len(dsn), 1, ENV.sandbox.log()[-3000:])
        self.assertIn("SMS gateway milter not attached", dsn[0]["data"])
        self.assertIn("Status: 5.", dsn[0]["data"])
        lines = self.log_lines(qid)
        self.assertTrue([l for l in lines if "to=<%s>" % SMS_RCPT in l
                         and "mailer=sms-not-attached" in l and "dsn=5." in l], "\n".join(lines))
        # ... and never relayed: the sink got the message for the ordinary recipient only.
        relayed = [m for m in self.sink_with(tag) if m["mail_from"] == SENDER]
        self.assertEqual([m["rcpts"] for m in relayed], [[ORDINARY_RCPT]])
        self.assertEqual(self.sms_with(tag), [])
        # Sendmail removes the queue files once the delivery process is done, which may be a
        # moment after the DSN reached the sink.
        deadline = time.monotonic() + 15
        while [f for f in ENV.sandbox.queue_files() if f.endswith(qid)]:
            self.assertLess(time.monotonic(), deadline, "the message stayed in the queue")
            time.sleep(0.2)


if __name__ == "__main__":
    unittest.main()
