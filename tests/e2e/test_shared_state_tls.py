"""End to end: shared_state over TLS (rediss://), as README "Several relays" and
sms-milter.conf(5) (shared_state_ca_file) describe it.

Debian's redis-server listening with TLS only (redis_proc.py with tls=...): a server certificate
from the test CA (pki.py, subjectAltName IP:127.0.0.1, IP:::1, DNS:localhost), a password
(requirepass), no client certificate asked for, bound to 127.0.0.1 and 127.0.0.2. Two Postfix
sandboxes ("a" and "b"), each with its own sms-milter, both with the README's rediss:// block:
relay "a" names Redis by its IP address, relay "b" by the name localhost, so that both ways of
checking the certificate's name are used. More sms-milters hang off sandbox a's Postfix (a
listener each), all with shared_state_failure = local:
  "other-ca"   shared_state_ca_file = an unrelated CA
  "no-ca"      no shared_state_ca_file: the system store, which does not know the test CA
  "wrong-ip"   rediss://127.0.0.2:PORT/3: Redis listens there, the certificate does not name it
  "wrong-pw"   the right CA, a wrong password
Cases:
  - destination_rate_limit = 1/1h counted across a and b over TLS: one SMS, then 450 4.7.1;
  - a wrong password is refused by Redis over TLS: the relay runs on its own state;
  - a certificate that cannot be verified (unknown CA, no CA file, an address the certificate
    does not name): Redis counts as down, the mail is accepted and texted, and the warning
    names the verification error.
ctest runs it within the `e2e` suite (unittest discovery), about 10 s.

Run as root:  SMS_MILTER_BIN=build/sms-milter python3 -m unittest tests/e2e/test_shared_state_tls.py
"""

import os
import re
import secrets
import unittest

from doc_snippets import readme_block
from milter_proc import MilterInstance
from redis_proc import RedisServer
from relay_pair import RelayWorld, alert, assert_no_secret_in_logs, start_world

SENDER = "alerts@example.com"
WORLD = None
LIMIT_REPLY = (450, "4.7.1 SMS rate limit reached (destination_rate_limit 1/1h), try again later")
FAILING = ("other-ca", "no-ca", "wrong-ip", "wrong-pw")


class World(RelayWorld):
    """Redis over TLS, two relays and the failing milters."""

    def _start(self):
        self._start_twilio(prefix="sms-milter-e2e-tls-")
        password = secrets.token_hex(16)
        self.redis = RedisServer(os.path.join(self.root, "redis"), password, tls=self.pki,
                                 bind=("127.0.0.1", "127.0.0.2")).start()
        pw_file = self.secret("redis-password", password)
        wrong_pw_file = self.secret("redis-password-wrong", secrets.token_hex(16))
        # README "Several relays", the rediss:// block, with this Redis and these files.
        example = dict(l.split(" = ", 1) for l in readme_block("shared-state-tls-config"))
        url = example["shared_state"]

        def settings(host, **kw):
            s = dict(example, shared_state=url.replace(
                "redis.example.net:6380/0", "%s:%d/3" % (host, self.redis.port)),
                shared_state_password_file=pw_file, shared_state_ca_file=self.pki["ca"],
                destination_rate_limit="1/1h")
            s.update(kw)
            return s

        specs = {
            "a": settings("127.0.0.1"),
            "b": settings("localhost"),
            "other-ca": settings("127.0.0.1", shared_state_ca_file=self.pki["other_ca"]),
            "no-ca": settings("127.0.0.1", shared_state_ca_file=None),
            "wrong-ip": settings("127.0.0.2"),
            "wrong-pw": settings("127.0.0.1", shared_state_password_file=wrong_pw_file),
        }
        for name, overrides in specs.items():
            m = MilterInstance(name, self.root, self.fake.url, self.pki["ca"], self.account_sid,
                               self.token_file, overrides)
            self.milters[name] = m
            m.start()
        self.start_relays({"a": ("a",) + FAILING, "b": ("b",)})


def setUpModule():
    global WORLD
    WORLD = start_world(World)


def message(rcpt, subject):
    return alert(SENDER, rcpt, subject)


class SharedStateTls(unittest.TestCase):
    maxDiff = None

    def send(self, listener, rcpt, subject):
        return WORLD.sandbox_of(listener).send_mail(listener, SENDER, [rcpt],
                                                    raw=message(rcpt, subject), check=False)

    def sms_with(self, tag, count=1, timeout=20):
        return WORLD.fake.wait_for(lambda m: tag in (m["body"] or ""), count=count,
                                   timeout=timeout)

    def test_1_limit_counted_across_relays_over_tls(self):
        rcpt, tag = "4155550170@sms.example.com", "TLS-" + secrets.token_hex(4)
        r = self.send("a", rcpt, "DISK FULL %s" % tag)
        self.assertEqual((r.rcpts[rcpt][0], r.data and r.data[0]), (250, 250), r)
        self.assertEqual(len(self.sms_with(tag)), 1)
        r = self.send("b", rcpt, "SWAP LOW %s" % tag)
        self.assertEqual(r.rcpts[rcpt], LIMIT_REPLY, r)
        self.assertIn("(counted across the relays)", WORLD.milters["b"].log_text())
        for name in ("a", "b"):  # no failure on the way: both really shared over TLS
            log = WORLD.milters[name].log_text()
            self.assertRegex(log, r"sharing rate limits, .* through rediss://")
            self.assertNotIn("warning: shared_state", log)

    def assert_runs_alone(self, name, why):
        """Mail through milter NAME is accepted and texted; its log says why Redis is down."""
        rcpt, tag = "4155550171@sms.example.com", "TLS-" + secrets.token_hex(4)
        r = self.send(name, rcpt, "RAID DEGRADED %s" % tag)
        self.assertEqual((r.rcpts[rcpt][0], r.data and r.data[0]), (250, 250), (name, r))
        self.assertEqual(len(self.sms_with(tag)), 1, name)
        host = "127.0.0.2" if name == "wrong-ip" else "127.0.0.1"
        self.assertRegex(
            WORLD.milters[name].log_text(),
            r"warning: shared_state: rediss://%s:%d/3 unreachable \(%s\): rate limits, "
            % (re.escape(host), WORLD.redis.port, why))

    def test_2_wrong_password_is_refused_over_tls(self):
        self.assert_runs_alone("wrong-pw", r"AUTH refused: WRONGPASS [^)]*")

    def test_3_unknown_ca_means_redis_down(self):
        self.assert_runs_alone("other-ca", "TLS: certificate not trusted: self-signed certificate "
                               "in certificate chain")

    def test_4_no_ca_file_with_a_private_ca_means_redis_down(self):
        self.assert_runs_alone("no-ca", "TLS: certificate not trusted: self-signed certificate "
                               "in certificate chain")

    def test_5_address_not_in_the_certificate_means_redis_down(self):
        self.assert_runs_alone("wrong-ip", "TLS: certificate not trusted: IP address mismatch")

    def test_6_no_secret_in_any_log(self):
        assert_no_secret_in_logs(self, WORLD)


if __name__ == "__main__":
    unittest.main()
