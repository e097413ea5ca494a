"""End to end through the real Postfix sandbox and the fake Twilio: the Prometheus endpoint
(metrics_listen, issue 13).

One milter instance, "metrics", with the README's metrics_listen line exactly as written
(127.0.0.1:9899), destination_rate_limit = 3/1h and storm_window = 0:
  - after a burst (mails with two SMS recipients each, an invalid recipient, a rate-limited
    one, a permanent Twilio refusal and a 429 scripted at the fake), a live scrape passes
    `promtool check metrics`, shows exactly the metrics `sms-milter help metrics` lists
    (tests/docs/check_docs.sh holds that list against the man page), and its counts match
    what the fake Twilio saw (its request log, by HTTP status) and what was sent;
  - during a Twilio outage (the fake stopped), scrapes show the outbox depth rising and the
    oldest job's age growing; once the fake is back both return to 0;
  - only GET /metrics is served;
  - `check` refuses a metrics_listen that is not a numeric address with a port, warns about a
    non-loopback one; a second daemon cannot take a port the first one serves, and a restart
    right after scrapes binds it again at once.

Run as root:  SMS_MILTER_BIN=build/sms-milter python3 -m unittest tests/e2e/test_metrics.py
"""

import collections
import os
import re
import secrets
import shutil
import subprocess
import time
import unittest
import urllib.error
import urllib.request

from doc_snippets import readme_block
from harness import Environment, exit_on_sigterm
from milter_proc import MilterInstance, milter_bin

SENDER = "alerts@example.com"
ENV = None
URL = None
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
WAITING = "state IN ('queued','sending','deferred')"


def readme_settings():
    """The README's metrics block: key = value lines."""
    out = {}
    for line in readme_block("metrics-config"):
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip()
    return out


def setUpModule():
    global ENV, URL
    if os.geteuid() != 0:
        raise unittest.SkipTest("the Postfix sandbox needs root")
    exit_on_sigterm()
    overrides = dict(readme_settings(), destination_rate_limit="3/1h", storm_window="0")
    URL = "http://%s/metrics" % overrides["metrics_listen"]
    env = Environment({"metrics": {"overrides": overrides}})
    unittest.addModuleCleanup(env.stop)
    ENV = env.start()
    wait_serving(ENV.milters["metrics"], 1)


def wait_serving(milter, times, timeout=10):
    """Until the daemon's log says `times` times that it serves metrics (its milter socket
    comes up before the endpoint)."""
    deadline = time.monotonic() + timeout
    while milter.log_text().count("serving metrics on") < times:
        if not milter.alive() or time.monotonic() > deadline:
            raise AssertionError("no metrics endpoint; log:\n" + milter.log_text()[-2000:])
        time.sleep(0.1)


def scrape(path="/metrics", method="GET"):
    req = urllib.request.Request(URL.replace("/metrics", path), method=method)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def parse(text):
    """{(name, frozenset of (label, value)): float}"""
    out = {}
    for line in text.split("\n"):
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            raise AssertionError("not a sample line: %r" % line)
        labels = frozenset(LABEL_RE.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(samples, name, **labels):
    """Sum of the samples of `name` whose labels include `labels` (0 when none)."""
    want = set(labels.items())
    return sum(v for (n, l), v in samples.items() if n == name and want <= set(l))


def fake_log_lines():
    try:
        with open(os.path.join(ENV.root, "fake-twilio.log")) as f:
            return f.read().split("\n")[:-1]
    except FileNotFoundError:  # no request yet
        return []


def creates_by_status(lines):
    """The fake's create requests (POST .../Messages.json) by the HTTP status it answered."""
    counts = collections.Counter()
    for line in lines:
        parts = line.split(" ")
        if len(parts) == 4 and parts[1] == "POST" and parts[2].endswith("/Messages.json"):
            counts[parts[3]] += 1
    return counts


class Metrics(unittest.TestCase):
    maxDiff = None

    def send(self, rcpts, subject):
        return ENV.postfix.send_mail("metrics", SENDER, rcpts, subject=subject,
                                     body="check the service", check=False)

    def wait_drained(self, timeout=30):
        m = ENV.milters["metrics"]
        deadline = time.monotonic() + timeout
        while m.jobs(WAITING):
            self.assertLess(time.monotonic(), deadline, m.log_text()[-3000:])
            time.sleep(0.2)

    def test_1_burst_counts_match_twilio_and_pass_promtool(self):
        if not shutil.which("promtool"):
            self.fail("promtool not found (Debian package prometheus; tools/install-deps.sh)")
        m = ENV.milters["metrics"]
        ENV.fake.reset()
        log_start = len(fake_log_lines())
        before = parse(scrape()[2])
        # The first create is refused for good, the second gets 429 (retried, then sent).
        ENV.fake.set_script([{"status": 400, "code": 21610, "message": "unsubscribed"},
                             {"status": 429, "code": 20429}])
        tag = "MET-" + secrets.token_hex(4)
        mails = 0
        for i in range(6):  # 12 SMS
            r = self.send(["+1415555%04d@sms.example.com" % (200 + 2 * i),
                           "+1415555%04d@sms.example.com" % (201 + 2 * i)],
                          "ALERT %s burst %d" % (tag, i))
            self.assertEqual(r.data and r.data[0], 250, r)
            mails += 1
        # An invalid recipient next to a valid one: 550 5.1.1 for it, 1 SMS.
        r = self.send(["not-a-number@sms.example.com", "+14155550300@sms.example.com"],
                      "ALERT %s invalid" % tag)
        self.assertEqual(r.rcpts["not-a-number@sms.example.com"][0], 550, r)
        self.assertEqual(r.data and r.data[0], 250, r)
        mails += 1
        # destination_rate_limit = 3/1h: the fourth mail to one number gets 450 at RCPT.
        for word in ("alpha", "bravo", "charlie", "delta"):
            r = self.send(["+14155550399@sms.example.com"], "ALERT %s %s" % (tag, word))
            if word == "delta":
                self.assertEqual(r.rcpts["+14155550399@sms.example.com"][0], 450, r)
                self.assertIsNone(r.data, r)
            else:
                self.assertEqual(r.data and r.data[0], 250, r)
                mails += 1
        jobs = 12 + 1 + 3
        got = ENV.fake.wait_for(lambda x: tag in (x["body"] or ""), count=jobs - 1, timeout=60)
        self.assertEqual(len(got), jobs - 1, m.log_text()[-3000:])
        self.wait_drained()
        status, ctype, text = scrape()
        self.assertEqual(status, 200)
        self.assertIn("version=0.0.4", ctype)

        # Prometheus's own linter accepts the live scrape.
        check = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                               capture_output=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr + text)

        # Exactly the metrics the program documents (`help metrics`; check_docs.sh holds that
        # list against the man page).
        listed = subprocess.run([milter_bin(), "help", "metrics"], capture_output=True,
                                text=True, check=True).stdout.split("\n")
        listed = sorted(l.split(" ")[0] for l in listed if l)
        exposed = sorted(set(re.findall(r"^# TYPE (\S+) ", text, re.M)))
        self.assertEqual(exposed, listed)

        after = parse(text)

        def delta(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)

        # What the fake Twilio saw, by HTTP status, is what the milter counted.
        seen = creates_by_status(fake_log_lines()[log_start:])
        self.assertEqual(seen, collections.Counter({"201": jobs - 1, "400": 1, "429": 1}))
        for code, n in seen.items():
            self.assertEqual(delta("sms_milter_twilio_responses_total", request="create",
                                   http_status=code), n, (code, text))
        self.assertEqual(delta("sms_milter_twilio_responses_total", request="create",
                               http_status="400", error_code="21610"), 1)
        self.assertEqual(delta("sms_milter_twilio_responses_total", request="create",
                               http_status="429", error_code="20429"), 1)
        self.assertEqual(delta("sms_milter_twilio_request_duration_seconds_count",
                               request="create"), sum(seen.values()))
        # SMS by status: each job queued once; one deferred (429) and sent later; one failed.
        self.assertEqual({s: delta("sms_milter_sms_total", status=s)
                          for s in ("queued", "sent", "deferred", "failed", "suppressed",
                                    "duplicate")},
                         {"queued": jobs, "sent": len(got), "deferred": 1, "failed": 1,
                          "suppressed": 0, "duplicate": 0})
        self.assertEqual(delta("sms_milter_messages_total"), mails)
        self.assertEqual(delta("sms_milter_end_of_message_duration_seconds_count"), mails)
        self.assertEqual(delta("sms_milter_rcpt_decisions_total", result="accept",
                               reason="allowed"), jobs)
        self.assertEqual(delta("sms_milter_rcpt_decisions_total", result="reject",
                               reason="invalid_number"), 1)
        self.assertEqual(delta("sms_milter_rcpt_decisions_total", result="tempfail",
                               reason="rate_limit"), 1)
        self.assertEqual(delta("sms_milter_rate_limit_hits_total", limit="destination"), 1)
        self.assertEqual(delta("sms_milter_rate_limit_hits_total"), 1)
        self.assertEqual(value(after, "sms_milter_outbox_jobs"), 0)
        self.assertEqual(value(after, "sms_milter_outbox_readable"), 1)

    def test_2_outage_shows_depth_and_age_growing(self):
        m = ENV.milters["metrics"]
        self.wait_drained()
        base = parse(scrape()[2])
        self.assertEqual(value(base, "sms_milter_outbox_jobs"), 0)
        self.assertEqual(value(base, "sms_milter_outbox_oldest_job_age_seconds"), 0)
        ENV.fake.stop()
        try:
            tag = "OUT-" + secrets.token_hex(4)
            for i in range(2):
                r = self.send(["+1415555%04d@sms.example.com" % (500 + 2 * i),
                               "+1415555%04d@sms.example.com" % (501 + 2 * i)],
                              "ALERT %s %d" % (tag, i))
                self.assertEqual(r.data and r.data[0], 250, r)
            first = parse(scrape()[2])
            self.assertEqual(value(first, "sms_milter_outbox_jobs"), 4, first)
            time.sleep(2.5)
            second = parse(scrape()[2])
            self.assertEqual(value(second, "sms_milter_outbox_jobs"), 4, second)
            age1 = value(first, "sms_milter_outbox_oldest_job_age_seconds")
            age2 = value(second, "sms_milter_outbox_oldest_job_age_seconds")
            self.assertGreaterEqual(age2, age1 + 2, (age1, age2))
            # The retries that failed before any HTTP answer: counted, with no status.
            self.assertGreater(value(second, "sms_milter_twilio_responses_total",
                                     request="create", http_status="none")
                               - value(base, "sms_milter_twilio_responses_total",
                                       request="create", http_status="none"), 0, second)
            self.assertGreater(value(second, "sms_milter_sms_total", status="deferred")
                               - value(base, "sms_milter_sms_total", status="deferred"), 0)
        finally:
            ENV.fake.start()
        got = ENV.fake.wait_for(lambda x: tag in (x["body"] or ""), count=4, timeout=30)
        self.assertEqual(len(got), 4, m.log_text()[-3000:])
        self.wait_drained()
        end = parse(scrape()[2])
        self.assertEqual(value(end, "sms_milter_outbox_jobs"), 0)
        self.assertEqual(value(end, "sms_milter_outbox_oldest_job_age_seconds"), 0)

    def test_3_only_get_metrics(self):
        with self.assertRaises(urllib.error.HTTPError) as e:
            scrape("/")
        self.assertEqual(e.exception.code, 404)
        with self.assertRaises(urllib.error.HTTPError) as e:
            scrape("/metrics", method="POST")
        self.assertEqual(e.exception.code, 405)
        self.assertEqual(scrape(method="HEAD")[0], 200)

    def check_with(self, listen):
        m = ENV.milters["metrics"]
        path = os.path.join(ENV.root, "check-metrics.conf")
        with open(m.config_path) as f:
            text = re.sub(r"(?m)^metrics_listen = .*$", "metrics_listen = " + listen, f.read())
        with open(path, "w") as f:
            f.write(text)
        return subprocess.run([milter_bin(), "check", "--user", "root", "-c", path],
                              capture_output=True, text=True, timeout=30)

    def test_4_check_refuses_bad_and_warns_about_remote_addresses(self):
        for bad in ("localhost:9899", "127.0.0.1", "127.0.0.1:0", "[::1]9899", "::1:9899"):
            r = self.check_with(bad)
            self.assertEqual(r.returncode, 1, (bad, r.stdout, r.stderr))
            self.assertRegex(r.stderr, r"check-metrics\.conf:\d+: metrics_listen: expected "
                             r"IPV4:PORT or \[IPV6\]:PORT", bad)
        for good, warned in (("127.0.0.1:9899", False), ("[::1]:9899", False),
                             ("0.0.0.0:9899", True), ("[::]:9899", True)):
            r = self.check_with(good)
            self.assertEqual(r.returncode, 0, (good, r.stdout, r.stderr))
            self.assertEqual("is not a loopback address" in r.stderr, warned, (good, r.stderr))

    def test_5_a_second_daemon_cannot_take_the_port(self):
        first = ENV.milters["metrics"]
        second = MilterInstance("second", ENV.root, ENV.fake.url, ENV.pki["ca"],
                                ENV.account_sid, ENV.token_file,
                                {"metrics_listen": first.settings["metrics_listen"]})
        try:
            try:  # its milter socket may be listening for a moment before it gives up
                second.start(timeout=10)
            except RuntimeError:
                pass
            self.assertEqual(second.proc.wait(15) if second.proc else 1, 1, second.log_text())
        finally:
            second.stop()
        self.assertRegex(second.log_text(), r"fatal: metrics_listen 127\.0\.0\.1:\d+: cannot "
                         r"listen")
        self.assertEqual(scrape()[0], 200)
        # A restart right after scrapes binds the port again at once (SO_REUSEADDR).
        served = first.log_text().count("serving metrics on")
        first.stop()
        first.start()
        wait_serving(first, served + 1)
        self.assertEqual(scrape()[0], 200, first.log_text()[-2000:])


if __name__ == "__main__":
    unittest.main()
