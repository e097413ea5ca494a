"""End-to-end checks of the durable outbox (issue 4): Twilio faults, crashes, dedup, queue CLI.

Real Postfix + real sms-milter + fake Twilio (fault injection through FakeTwilio.set_script /
set_latency / stop / start).  Run as root:
    SMS_MILTER_BIN=build/sms-milter python3 -m unittest discover -s tests/e2e -v
or only this module:  ... -m unittest discover -s tests/e2e -p 'test_outbox_faults.py' -v

One module-level Environment with several milter instances, each behind its own smtpd
listener in the one sandbox Postfix:
  main     backoff 1s..2s, failure_notice = sender, notices via the sandbox's sendmail
  eomwait  eom_wait = 10 (and failure_notice = sender, to show that no notice is mailed)
  crash    backoff 1s..2s; killed with SIGKILL in the middle of a burst, restarted
  queue    long backoff (10m..1h), for `sms-milter queue` against the running daemon
  lookup   backoff 5s..10s: room for an alert storm between an ambiguous answer and the lookup
  badauth  a token Twilio rejects (401/20003) until a reload brings the right one
Every mail carries a unique tag in its subject; each case counts only its own SMS.  Cases
run one after another and leave no job of theirs pending, so counters of the fake Twilio
(creates) can be compared before and after a case.
"""

import concurrent.futures
import email.message
import email.utils
import os
import re
import secrets
import signal
import threading
import time
import unittest

from harness import Environment, exit_on_sigterm

SMS_NUMBER = "+14155550123"
SMS_RCPT = SMS_NUMBER + "@sms.example.com"
BAD_RCPT = "+15005550001@sms.example.com"  # the fake Twilio answers 400 / 21211
SENDER = "alerts@example.com"
BODY = "body text"
ENV = None


def sandbox_sendmail(env):
    return "/usr/sbin/sendmail -C " + env.postfix_etc


def wrong_token_file(env):
    """A private token file holding a token the fake Twilio does not know."""
    path = os.path.join(env.root, "wrong-token")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(16) + "\n")
    return path


def setUpModule():
    global ENV
    if os.geteuid() != 0:
        raise unittest.SkipTest("the Postfix sandbox needs root")
    exit_on_sigterm()
    notices = {"failure_notice": "sender", "sendmail_command": sandbox_sendmail,
               # BAD_RCPT, a Twilio test number (+1 500 555 ...), is a personal number to
               # libphonenumber: refused at RCPT unless allowed_number_types lists the type.
               "allowed_number_types": "fixed_line, mobile, fixed_line_or_mobile, "
                                       "personal_number"}
    # Bursts of alerts to one number: neither storm_window nor the destination rate limit
    # may thin them out here (tests/e2e/test_limits.py is about those), nor may
    # destination_rate_delay send them once a second (tests/e2e/test_twilio_realism.py).
    burst = {"storm_window": "0", "destination_rate_limit": "none",
             "destination_rate_delay": "0"}
    env = Environment({
        "main": {"overrides": dict(notices)},
        "eomwait": {"overrides": dict(notices, eom_wait="10")},
        "crash": {"overrides": dict(burst)},
        "queue": {"overrides": {"minimal_backoff_time": "10m",
                                "maximal_backoff_time": "1h"}},
        "lookup": {"overrides": dict(burst, minimal_backoff_time="5s",
                                     maximal_backoff_time="10s")},
        "badauth": {"overrides": {"twilio_auth_token_file": wrong_token_file}},
    })
    unittest.addModuleCleanup(env.stop)
    ENV = env.start()


def new_tag():
    return "OBX-" + secrets.token_hex(4)


def has(tag):
    return lambda x: tag in (x.get("body") or "")


class OutboxFaults(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        ENV.fake.set_script([])
        ENV.fake.set_latency(0)

    def tearDown(self):
        ENV.fake.set_script([])
        ENV.fake.set_latency(0)
        if ENV.fake.server is None:  # a case failed while Twilio was "down"
            ENV.fake.start()

    # ---- helpers -------------------------------------------------------------------------
    def send(self, listener, rcpts, tag, sender=SENDER, **kw):
        return ENV.postfix.send_mail(listener, sender, rcpts, subject="ALERT " + tag,
                                     body=BODY, check=False, **kw)

    def assert_accepted(self, r):
        self.assertEqual(r.data and r.data[0], 250, r)

    def sms_with(self, tag):
        return [m for m in ENV.fake.messages() if tag in (m["body"] or "")]

    def wait_sms(self, tag, count=1, timeout=20, milter="main"):
        got = ENV.fake.wait_for(has(tag), count=count, timeout=timeout)
        self.assertGreaterEqual(len(got), count,
                                "%d SMS with %s after %ss, want %d; milter log:\n%s"
                                % (len(got), tag, timeout, count,
                                   ENV.milters[milter].log_text()[-3000:]))
        return got

    def quiet_then_count(self, tag, seconds=3.0):
        """After a bounded quiet period (a late resend would show up), the SMS for tag."""
        ENV.fake.wait_for(has(tag), count=10**6, timeout=seconds)
        return self.sms_with(tag)

    def jobs(self, milter, tag):
        return [j for j in ENV.milters[milter].jobs() if tag in (j.get("body") or "")]

    def settled_jobs(self, milter, tag, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            jobs = self.jobs(milter, tag)
            if jobs and all(j["state"] in ("sent", "failed") for j in jobs):
                return jobs
            if time.monotonic() >= deadline:
                self.fail("jobs for %s not settled after %ss: %r\nmilter log:\n%s"
                          % (tag, timeout, jobs, ENV.milters[milter].log_text()[-3000:]))
            time.sleep(0.1)

    def wait_job(self, milter, tag, predicate, timeout=15):
        job = ENV.milters[milter].wait_job(lambda j: has(tag)(j) and predicate(j), timeout)
        self.assertIsNotNone(job, "no matching job for %s after %ss: %r\nmilter log:\n%s"
                             % (tag, timeout, self.jobs(milter, tag),
                                ENV.milters[milter].log_text()[-3000:]))
        return job

    def lookups(self):
        """GET requests on the message list so far (from the fake Twilio's request log)."""
        try:
            with open(os.path.join(ENV.root, "fake-twilio.log")) as f:
                return sum(1 for line in f if " GET " in line and "/Messages.json?" in line)
        except FileNotFoundError:
            return 0

    def creates(self):
        return ENV.fake.stats()["creates"]

    def notices_for(self, tag):
        ENV.postfix.wait_queue_empty()
        return [m for m in ENV.postfix.sink_messages() if tag in m["data"]]

    # ---- cases ---------------------------------------------------------------------------
    def test_01_twilio_down_for_a_while(self):
        tags = [new_tag() for _ in range(5)]
        ENV.fake.stop()
        try:
            for tag in tags:
                self.assert_accepted(self.send("main", [SMS_RCPT], tag))
            for tag in tags:  # each one tried at least once against the closed port
                job = self.wait_job("main", tag, lambda j: (j["attempts"] or 0) >= 1)
                self.assertIn(job["state"], ("queued", "deferred", "sending"), job)
            time.sleep(2)  # a few more failed retries while down
            self.assertEqual([self.sms_with(t) for t in tags], [[]] * 5)
        finally:
            ENV.fake.start()  # same port
        for tag in tags:
            self.wait_sms(tag, timeout=20)
        time.sleep(3)  # late resends would show up
        counts = [len(self.sms_with(t)) for t in tags]
        self.assertEqual(counts, [1] * 5, "SMS per mail after the outage")
        for tag in tags:
            jobs = self.settled_jobs("main", tag)
            self.assertEqual([(j["state"], j["sid"]) for j in jobs],
                             [("sent", self.sms_with(tag)[0]["sid"])])

    def test_02_three_429_then_success(self):
        tag = new_tag()
        before = self.creates()
        ENV.fake.set_script([{"status": 429, "code": 20429}] * 3)
        self.assert_accepted(self.send("main", [SMS_RCPT], tag))
        self.wait_sms(tag, timeout=30)
        self.assertEqual(len(self.quiet_then_count(tag)), 1)
        jobs = self.settled_jobs("main", tag)
        self.assertEqual([(j["state"], j["attempts"], j["sid"]) for j in jobs],
                         [("sent", 4, self.sms_with(tag)[0]["sid"])])
        self.assertEqual(self.creates() - before, 4)

    def test_03_500_after_create_is_found_not_resent(self):
        tag = new_tag()
        before_creates, before_lookups = self.creates(), self.lookups()
        ENV.fake.set_script([{"status": 500, "create": True}])
        self.assert_accepted(self.send("main", [SMS_RCPT], tag))
        created = self.wait_sms(tag, timeout=10)
        jobs = self.settled_jobs("main", tag, timeout=20)
        self.assertEqual(len(self.quiet_then_count(tag)), 1, "resent after a 500")
        self.assertEqual([(j["state"], j["sid"]) for j in jobs], [("sent", created[0]["sid"])])
        self.assertEqual(self.creates() - before_creates, 1)
        self.assertGreaterEqual(self.lookups() - before_lookups, 1, "no lookup before resend")
        self.assertIn("found at Twilio after an uncertain outcome", ENV.milters["main"].log_text())

    def test_04_503_nothing_created_is_looked_up_and_resent(self):
        tag = new_tag()
        before_creates, before_lookups = self.creates(), self.lookups()
        ENV.fake.set_script([{"status": 503}])
        self.assert_accepted(self.send("main", [SMS_RCPT], tag))
        job = self.wait_job("main", tag, lambda j: j["check_first"] == 1 or j["state"] == "sent")
        self.wait_sms(tag, timeout=20)
        self.assertEqual(len(self.quiet_then_count(tag)), 1)
        jobs = self.settled_jobs("main", tag)
        # attempts: the 503, a lookup that missed, and lookup_recheck_time later the second
        # lookup that missed too, followed by the send.
        self.assertEqual([(j["state"], j["attempts"], j["sid"]) for j in jobs],
                         [("sent", 3, self.sms_with(tag)[0]["sid"])], job)
        self.assertEqual(self.creates() - before_creates, 2)
        self.assertGreaterEqual(self.lookups() - before_lookups, 2, "resent without two lookups")
        self.assertIn("not found at Twilio after an uncertain outcome",
                      ENV.milters["main"].log_text())

    def test_05_permanent_error_fails_once_and_mails_a_notice(self):
        tag = new_tag()
        before = self.creates()
        self.assert_accepted(self.send("main", [BAD_RCPT], tag))
        jobs = self.settled_jobs("main", tag)
        self.assertEqual([(j["state"], j["attempts"]) for j in jobs], [("failed", 1)])
        self.assertIn("21211", jobs[0]["last_error"] or "")
        time.sleep(3)  # a retry would show up as a second create
        self.assertEqual(self.creates() - before, 1)
        self.assertEqual(self.sms_with(tag), [])
        notices = ENV.postfix.wait_for_sink(lambda m: tag in m["data"], timeout=30)
        self.assertEqual([(m["mail_from"], m["rcpts"]) for m in notices],
                         [("", [SENDER])], "notice: null sender, to the envelope sender")
        self.assertIn("21211", notices[0]["data"])
        self.assertIn("Auto-Submitted: auto-replied", notices[0]["data"])
        self.assertRegex(notices[0]["data"], r"\n  ALERT %s\r?\n  %s\r?\n" % (tag, BODY),
                         "the SMS text, line by line")

    def test_06_same_message_twice_one_sms(self):
        tag = new_tag()
        msg = email.message.EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = SENDER, SMS_RCPT, "ALERT " + tag
        msg["Date"] = email.utils.formatdate()
        msg["Message-ID"] = email.utils.make_msgid(domain="e2e.test")
        msg.set_content(BODY)
        raw = msg.as_bytes()
        for _ in range(2):
            r = ENV.postfix.send_mail("main", SENDER, [SMS_RCPT], raw=raw, check=False)
            self.assert_accepted(r)
        self.wait_sms(tag)
        self.assertEqual(len(self.quiet_then_count(tag)), 1, "texted twice")
        self.assertEqual(len(self.jobs("main", tag)), 1)
        self.assertIn("status=duplicate", ENV.milters["main"].log_text())
        self.assertEqual(self.notices_for(tag), [], "the resubmission reached the sink")

    def test_07_eom_wait_permanent_error_is_the_smtp_reply(self):
        tag = new_tag()
        before = self.creates()
        t0 = time.monotonic()
        r = self.send("eomwait", [BAD_RCPT], tag)
        elapsed = time.monotonic() - t0
        self.assertEqual(r.data and r.data[0], 550, r)
        self.assertTrue(r.data[1].startswith("5.1.1"), r)
        self.assertIn("21211", r.data[1])
        self.assertLess(elapsed, 9, "waited the whole eom_wait for an immediate refusal")
        jobs = self.settled_jobs("eomwait", tag)
        self.assertEqual([(j["state"], j["attempts"]) for j in jobs], [("failed", 1)])
        self.assertEqual(self.creates() - before, 1)
        time.sleep(3)  # a notice, if any, would be in the sink by now
        self.assertEqual(self.notices_for(tag), [], "notice mailed although the client got 550")

        tag = new_tag()
        r = self.send("eomwait", [SMS_RCPT], tag)
        self.assert_accepted(r)
        got = self.sms_with(tag)  # eom waited for Twilio's answer: already there
        self.assertEqual(len(got), 1, "SMS not created by the time DATA was answered")
        self.assertEqual(len(self.quiet_then_count(tag)), 1)
        self.assertEqual([(j["state"], j["sid"]) for j in self.settled_jobs("eomwait", tag)],
                         [("sent", got[0]["sid"])])

    def test_08_kill_9_during_burst(self):
        """SIGKILL the milter in a burst of 50 mails; every mail Postfix accepted: one SMS."""
        milter, n, kill_after = ENV.milters["crash"], 50, 15
        run = new_tag()
        tags = ["%s-%02d" % (run, i) for i in range(n)]
        ENV.fake.set_latency(200)  # keeps requests in flight at the moment of the kill
        results, lock, accepted_count = {}, threading.Lock(), [0]

        def one(tag):
            try:
                r = self.send("crash", [SMS_RCPT], tag, timeout=60)
                code = r.data[0] if r.data else r.rcpts[SMS_RCPT][0]
            except Exception as e:  # 4xx at MAIL, dropped connection, ...
                code = getattr(e, "code", None) or repr(e)
            with lock:
                results[tag] = code
                if code == 250:
                    accepted_count[0] += 1
            time.sleep(0.2)  # ~20 mails/s over 4 threads: some before, during, after

        kill_t = restart_t = None
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(one, t) for t in tags]
            deadline = time.monotonic() + 60
            while accepted_count[0] < kill_after and time.monotonic() < deadline:
                time.sleep(0.01)
            milter.kill()
            kill_t = time.monotonic()
            time.sleep(0.5)  # mails during this gap get 4xx (milter_default_action=tempfail)
            milter.start()
            restart_t, restart_wall = time.monotonic(), time.time()
            concurrent.futures.wait(futures, timeout=120)
        accepted = [t for t in tags if results.get(t) == 250]
        refused = [t for t in tags if results.get(t) != 250]
        ENV.fake.set_latency(0)

        deadline = restart_t + 60
        while time.monotonic() < deadline:
            if all(self.sms_with(t) for t in accepted):
                break
            time.sleep(0.2)
        time.sleep(3)  # late duplicates
        arrivals = [m["_created"] for m in ENV.fake.messages()
                    if any(has(t)(m) for t in accepted)]
        drain = max(arrivals) - restart_wall if arrivals else float("nan")
        per_tag = {t: len([m for m in ENV.fake.messages() if (t + "\n") in m["body"]])
                   for t in tags}
        sms_accepted = sum(min(per_tag[t], 1) for t in accepted)
        duplicates = sum(c - 1 for c in per_tag.values() if c > 1)
        sms_for_refused = [t for t in refused if per_tag[t]]
        recovered = re.findall(r"(\d+) job\(s\) were being sent when the daemon stopped",
                               milter.log_text())
        print("\nkill -9 burst: mails=%d accepted(250)=%d refused=%d sms_for_accepted=%d "
              "sms_total=%d duplicates=%d sms_for_refused_mails=%d last_sms_after_restart=%.1fs "
              "killed_after=%.1fs_of_burst jobs_in_sending_at_restart=%s"
              % (n, len(accepted), len(refused), sms_accepted, sum(per_tag.values()),
                 duplicates, len(sms_for_refused), drain, kill_t - t0,
                 recovered[-1] if recovered else 0))
        print("refused replies: %r" % sorted({str(results.get(t)) for t in refused}))
        self.assertGreaterEqual(len(accepted), kill_after)
        self.assertTrue(refused, "the kill did not hit the burst: %r" % results)
        missing = [t for t in accepted if per_tag[t] == 0]
        self.assertEqual(missing, [], "accepted mails without SMS after 60 s")
        self.assertEqual({t: c for t, c in per_tag.items() if c > 1}, {}, "duplicate SMS")
        for t in accepted:
            jobs = self.jobs("crash", t + "\n")
            self.assertEqual([j["state"] for j in jobs], ["sent"], (t, jobs))

    def test_09_queue_cli_against_running_daemon(self):
        m = ENV.milters["queue"]
        keep, drop = new_tag(), new_tag()
        ENV.fake.set_script([{"status": 429, "code": 20429}])
        self.assert_accepted(self.send("queue", [SMS_RCPT], keep))
        j_keep = self.wait_job("queue", keep, lambda j: j["state"] == "deferred")
        ENV.fake.set_script([{"status": 429, "code": 20429}])
        self.assert_accepted(self.send("queue", [SMS_RCPT], drop))
        j_drop = self.wait_job("queue", drop, lambda j: j["state"] == "deferred")
        self.assertGreater(j_keep["next_attempt"], time.time() + 300, j_keep)  # backoff >= 10m

        out = m.queue("list")
        self.assertEqual(out.returncode, 0, out)
        rows = {int(l.split()[0]): l.split() for l in out.stdout.splitlines()[1:] if l.strip()}
        self.assertEqual(rows[j_keep["id"]][1:3], ["deferred", "1"], out.stdout)
        self.assertEqual(rows[j_drop["id"]][1:3], ["deferred", "1"], out.stdout)
        self.assertNotIn(SMS_NUMBER, out.stdout, "numbers must be masked")

        out = m.queue("show", str(j_keep["id"]))
        self.assertEqual(out.returncode, 0, out)
        self.assertRegex(out.stdout, r"(?m)^state:\s+deferred$")
        self.assertRegex(out.stdout, r"(?m)^attempts:\s+1$")
        self.assertIn("\ntext:\n    ALERT %s\n    %s\n" % (keep, BODY), out.stdout)
        self.assertIn("429", out.stdout)

        def stats():
            r = m.queue("stats")
            self.assertEqual(r.returncode, 0, r)
            states = r.stdout.split("\n\n", 1)[0]  # then the rate limits and storms
            return {l.split()[0]: int(l.split()[1]) for l in states.splitlines() if l.strip()}

        self.assertEqual(stats().get("deferred"), 2, m.queue("stats").stdout)

        out = m.queue("drop", str(j_drop["id"]))
        self.assertEqual((out.returncode, out.stdout.strip()),
                         (0, "job %d: dropped" % j_drop["id"]), out)
        self.assertEqual(self.jobs("queue", drop), [])
        self.assertEqual(m.queue("show", str(j_drop["id"])).returncode, 1)

        before = self.creates()
        out = m.queue("retry", str(j_keep["id"]))
        self.assertEqual((out.returncode, out.stdout.strip()),
                         (0, "job %d: due now" % j_keep["id"]), out)
        self.wait_sms(keep, timeout=25, milter="queue")  # the idle sender looks every 15 s
        self.assertEqual(len(self.quiet_then_count(keep)), 1)
        self.assertEqual(self.sms_with(drop), [], "a dropped job was sent")
        self.assertEqual(self.creates() - before, 1)
        jobs = self.settled_jobs("queue", keep)
        self.assertEqual([(j["state"], j["attempts"]) for j in jobs], [("sent", 2)])
        st = stats()
        self.assertEqual((st.get("sent"), st.get("deferred", 0)), (1, 0), st)

        r = m.queue("retry", str(j_keep["id"]))  # sent: nothing to retry
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(m.queue("show", "999999").returncode, 1)
        self.assertEqual(m.queue("bogus").returncode, 2)

    # An alert storm to one number while Twilio answers 5xx: more than a page (50) of newer
    # messages to that number. The lookup before a resend pages on (newest first) until it
    # reaches messages older than the job, so the created message is found, not resent.
    def test_10_lookup_finds_message_behind_newer_ones(self):
        tag, storm, n = new_tag(), new_tag(), 60
        ENV.fake.set_script([{"status": 500, "create": True}])
        self.assert_accepted(self.send("lookup", [SMS_RCPT], tag))
        self.wait_sms(tag, milter="lookup")
        job = self.wait_job("lookup", tag, lambda j: j["check_first"] == 1, timeout=10)
        t_deferred = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:  # the storm, same number
            results = list(pool.map(lambda i: self.send("lookup", [SMS_RCPT],
                                                        "%s-%02d" % (storm, i)), range(n)))
        self.assertEqual([r.data and r.data[0] for r in results], [250] * n)
        storm_sms = ENV.fake.wait_for(has(storm), count=n, timeout=30)
        self.assertEqual(len(storm_sms), n)
        # precondition: the storm was on Twilio before the job's lookup (backoff >= 5 s)
        self.assertEqual(self.jobs("lookup", tag)[0]["state"], "deferred",
                         "storm too slow (%.1fs): %r" % (time.monotonic() - t_deferred, job))
        jobs = self.settled_jobs("lookup", tag, timeout=30)
        got = self.quiet_then_count(tag)
        self.assertEqual(len(got), 1, "resent after a 500 although created (log: %s)"
                         % re.findall(r".*uncertain outcome.*", ENV.milters["lookup"].log_text()))
        self.assertEqual([(j["state"], j["sid"]) for j in jobs], [("sent", got[0]["sid"])])


    def test_11_wrong_credentials_keep_jobs_and_complain_once(self):
        milter = ENV.milters["badauth"]
        tags = [new_tag() for _ in range(3)]
        creates = ENV.fake.stats()["creates"]
        for tag in tags:
            self.assert_accepted(self.send("badauth", [SMS_RCPT], tag))
        # Backoff 1s..2s: every job meets several 401s in 5 s, yet stays queued for later.
        time.sleep(5)
        for tag in tags:
            jobs = self.jobs("badauth", tag)
            self.assertEqual([j["state"] for j in jobs], ["deferred"], jobs)
            self.assertGreaterEqual(jobs[0]["attempts"], 2, jobs)
        self.assertEqual(ENV.fake.stats()["creates"], creates)
        complaints = milter.log_text().count("Twilio rejected the credentials")
        self.assertEqual(complaints, 1, milter.log_text()[-3000:])

        # The admin fixes the token file name and reloads: every job goes out, once.
        milter.settings["twilio_auth_token_file"] = ENV.token_file
        milter.write_config()
        milter.proc.send_signal(signal.SIGUSR1)
        for tag in tags:
            self.wait_sms(tag, timeout=20, milter="badauth")
        for tag in tags:
            self.assertEqual(len(self.quiet_then_count(tag, seconds=1.0)), 1)

if __name__ == "__main__":
    unittest.main()
