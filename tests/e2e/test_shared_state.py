"""End to end: two relays sharing rate limits, duplicate detection and storm windows through
Redis (issue 14, SPEC §10).

Debian's redis-server on a free loopback port with its own directory (redis_proc.py), two
Postfix sandboxes ("a" and "b"), each with its own sms-milter and state directory, both with
shared_state pointing at that Redis, one fake Twilio behind both:
  - the same message submitted to both relays gives one SMS;
  - destination_rate_limit = 3/1h across both: three SMS, then 450 4.7.1 on either relay;
  - a storm split across the pair gives one SMS and one summary counting both relays' alerts;
  - Redis killed: relay "a" (shared_state_failure = local) keeps texting on its own state,
    relay "b" (tempfail, set by a reload) answers 451 4.3.0 at RCPT; every accepted mail
    becomes an SMS; with Redis back, "b" accepts again;
  - a relay killed with a job it could not send yet: a second sms-milter on a copy of its
    state directory sends it (the README's procedure).
ctest runs it within the `e2e` suite (unittest discovery), about 30 s.

Run as root:  SMS_MILTER_BIN=build/sms-milter python3 -m unittest tests/e2e/test_shared_state.py
"""

import os
import secrets
import shutil
import signal
import time
import unittest

from doc_snippets import readme_block
from milter_proc import MilterInstance
from redis_proc import RedisServer
from relay_pair import RelayWorld, alert, assert_no_secret_in_logs, start_world

SENDER = "alerts@example.com"
WORLD = None
LIMIT_REPLY = (450, "4.7.1 SMS rate limit reached (destination_rate_limit 3/1h), try again later")
TEMPFAIL_REPLY = (451, "4.3.0 SMS gateway shared state unavailable, try again later")


class World(RelayWorld):
    """Redis and two relays (Postfix + sms-milter), "a" and "b"."""

    def _start(self):
        self._start_twilio(prefix="sms-milter-e2e-shared-")
        password = secrets.token_hex(16)
        self.redis = RedisServer(os.path.join(self.root, "redis"), password).start()
        # README "Several relays", with this Redis's address and password file.
        shared = dict(l.split(" = ", 1) for l in readme_block("shared-state-config"))
        shared["shared_state"] = shared["shared_state"].replace(
            "redis://192.0.2.10:6379/0", self.redis.url)
        shared["shared_state_password_file"] = self.secret("redis-password", password)
        for name in ("a", "b"):
            m = MilterInstance(name, self.root, self.fake.url, self.pki["ca"], self.account_sid,
                               self.token_file, dict(shared, **{
                                   "destination_rate_limit": "3/1h",
                                   "storm_window": "4s",
                               }))
            self.milters[name] = m
            m.start()
        self.start_relays({"a": ["a"], "b": ["b"]})


def setUpModule():
    global WORLD
    WORLD = start_world(World)


def new_tag():
    return "SHR-" + secrets.token_hex(4)


def message(rcpt, subject, body="check the service"):
    return alert(SENDER, rcpt, subject, body)


class SharedState(unittest.TestCase):
    maxDiff = None

    def send(self, relay, rcpt, subject=None, raw=None):
        return WORLD.relays[relay].send_mail(relay, SENDER, [rcpt], raw=raw or message(
            rcpt, subject), check=False)

    def sms_with(self, tag, count=1, timeout=20):
        return WORLD.fake.wait_for(lambda m: tag in (m["body"] or ""), count=count,
                                   timeout=timeout)

    def test_1_same_message_on_both_relays_gives_one_sms(self):
        rcpt, tag = "4155550180@sms.example.com", new_tag()
        raw = message(rcpt, "DISK FULL %s" % tag)
        for relay in ("a", "b"):  # a client that timed out on a and retried on b
            r = self.send(relay, rcpt, raw=raw)
            self.assertEqual((r.rcpts[rcpt][0], r.data and r.data[0]), (250, 250), r)
        self.assertEqual(len(self.sms_with(tag)), 1)
        time.sleep(2)  # nothing more comes
        self.assertEqual(len(self.sms_with(tag, count=2, timeout=0)), 1, "texted twice")
        self.assertIn("status=duplicate", WORLD.milters["b"].log_text())
        self.assertEqual(len(WORLD.milters["b"].jobs("body LIKE ?", ("%" + tag + "%",))), 0)

    def test_2_destination_limit_counts_across_both_relays(self):
        rcpt, tag = "4155550181@sms.example.com", new_tag()
        for relay, what in (("a", "disk full"), ("b", "swap low"), ("a", "cpu hot")):
            r = self.send(relay, rcpt, "ALERT %s %s" % (tag, what))
            self.assertEqual((r.rcpts[rcpt][0], r.data and r.data[0]), (250, 250), r)
        self.assertEqual(len(self.sms_with(tag, count=3)), 3)
        for relay in ("b", "a"):
            r = self.send(relay, rcpt, "ALERT %s link down on %s" % (tag, relay))
            self.assertEqual(r.rcpts[rcpt], LIMIT_REPLY, (relay, r))
            self.assertIn("(counted across the relays)", WORLD.milters[relay].log_text())
        self.assertEqual(len(self.sms_with(tag, count=4, timeout=1)), 3)

    def test_3_storm_split_across_relays_gives_one_sms_and_one_summary(self):
        rcpt, tag = "4155550182@sms.example.com", new_tag()
        for i, relay in enumerate(("a", "b", "a", "b", "b")):
            raw = message(rcpt, "LOAD %s high" % tag, "load %d.%d at 12:0%d" % (i, i, i))
            r = self.send(relay, rcpt, raw=raw)
            self.assertEqual((r.rcpts[rcpt][0], r.data and r.data[0]), (250, 250), r)
        first = self.sms_with(tag)
        self.assertEqual(len(first), 1)
        both = WORLD.fake.wait_for(lambda m: "storm_window" in (m["body"] or "")
                                   and tag in (m["body"] or ""), timeout=20)
        self.assertEqual(len(both), 1, "no summary")
        self.assertTrue(both[0]["body"].startswith(
            "4 more alerts like this within 4s not sent (storm_window)."), both[0]["body"])
        self.assertIn("sent by another relay; counted in its summary",
                      WORLD.milters["b"].log_text())
        time.sleep(6)  # exactly one summary, from the relay that sent the first SMS
        texts = [m for m in WORLD.fake.messages() if tag in (m["body"] or "")]
        self.assertEqual(len(texts), 2, [m["body"] for m in texts])

    def set_failure_mode(self, relay, mode):
        m = WORLD.milters[relay]
        m.settings["shared_state_failure"] = mode
        m.write_config()
        reloads = m.log_text().count("reloaded configuration")
        m.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while m.log_text().count("reloaded configuration") == reloads and \
                time.monotonic() < deadline:
            time.sleep(0.1)

    def test_4_redis_killed_local_keeps_texting_tempfail_answers_451(self):
        b = WORLD.milters["b"]
        self.set_failure_mode("b", "tempfail")
        # Should an assertion below fail, the next tests still find Redis running and b
        # accepting (else b answers them 451 and hides where the failure was).
        self.addCleanup(lambda: b.log_text().count("is reachable again") or
                        self.set_failure_mode("b", "local"))
        self.addCleanup(lambda: WORLD.redis.running or WORLD.redis.restart())
        WORLD.redis.kill()
        tag = new_tag()
        accepted = []
        for i in range(3):
            rcpt = "41555501%d@sms.example.com" % (90 + i)
            r = self.send("a", rcpt, "RAID DEGRADED %s disk %d" % (tag, i))
            self.assertEqual((r.rcpts[rcpt][0], r.data and r.data[0]), (250, 250), r)
            accepted.append(rcpt)
            r = self.send("b", rcpt, "FAN FAILED %s slot %d" % (tag, i))
            self.assertEqual(r.rcpts[rcpt], TEMPFAIL_REPLY, r)
        # No accepted mail lost: each became an SMS, from relay a's own state.
        self.assertEqual(len(self.sms_with(tag, count=3)), 3)
        self.assertRegex(WORLD.milters["a"].log_text(),
                         r"warning: shared_state: redis://127\.0\.0\.1:\d+/3 unreachable")
        self.assertIn("reject: RCPT from [127.0.0.1]: 451 4.3.0", b.log_text())
        # Redis back: b shares and accepts again once its backoff has passed.
        WORLD.redis.restart()
        rcpt, deadline = "4155550199@sms.example.com", time.monotonic() + 40
        while True:
            r = self.send("b", rcpt, "BACK %s" % tag)
            if r.rcpts[rcpt][0] == 250 or time.monotonic() > deadline:
                break
            time.sleep(1)
        self.assertEqual((r.rcpts[rcpt][0], r.data and r.data[0]), (250, 250), r)
        self.assertEqual(len(self.sms_with("BACK " + tag)), 1)
        self.assertIn("is reachable again", b.log_text())

    def test_5_jobs_of_a_dead_relay_are_sent_from_a_copy_of_its_outbox(self):
        # README "Several relays": copy the dead relay's state directory and run a second
        # sms-milter on the copy, with no MTA attached, until nothing is queued.
        b, rcpt, tag = WORLD.milters["b"], "4155550183@sms.example.com", new_tag()
        WORLD.fake.set_script([{"status": 429, "code": 20429}] * 100)  # b cannot send it
        try:
            r = self.send("b", rcpt, "UPS ON BATTERY %s" % tag)
            self.assertEqual((r.rcpts[rcpt][0], r.data and r.data[0]), (250, 250), r)
            self.assertIsNotNone(b.wait_job(lambda j: tag in j["body"]
                                            and j["state"] == "deferred"))
            b.kill()  # the relay is gone for good
        finally:
            WORLD.fake.set_script([])
        self.assertEqual(self.sms_with(tag, timeout=0), [])
        shutil.copytree(b.state_dir, os.path.join(WORLD.root, "state-rescue"))
        settings = {k: v for k, v in b.settings.items()
                    if k not in ("milter_socket", "state_directory")}
        rescue = MilterInstance("rescue", WORLD.root, WORLD.fake.url, WORLD.pki["ca"],
                                WORLD.account_sid, WORLD.token_file, settings)
        WORLD.milters["rescue"] = rescue
        rescue.start()
        self.assertEqual(len(self.sms_with(tag)), 1)
        deadline = time.monotonic() + 10
        while rescue.jobs("state IN ('queued', 'deferred', 'sending')") and \
                time.monotonic() < deadline:
            time.sleep(0.2)
        stats = rescue.queue("stats")
        self.assertEqual(stats.returncode, 0, stats.stderr)
        self.assertNotRegex(stats.stdout, r"\b(queued|deferred|sending)\b")

    def test_6_no_secret_in_any_log(self):
        assert_no_secret_in_logs(self, WORLD)


if __name__ == "__main__":
    unittest.main()
