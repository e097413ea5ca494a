"""Shared by the drain benchmarks (burst.py, pacing.py): a burst of alerts queued through the
sandbox Postfix with smtp-source, the wait until the milter's outbox has drained them into the
fake Twilio, and the duplicate count. Reuses the end-to-end harness (tests/e2e), which this
module puts on sys.path: `from drain import Environment, ...`.
"""

import collections
import os
import smtplib
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

from harness import Environment, exit_on_sigterm  # noqa: E402,F401

SENDER = "alerts@example.com"
# A benchmark measures the drain, not the policy: retries come soon (a 429 or a lost
# connection should not stall a figure), and no rate limit or storm window holds back a
# burst of alerts from one sender with one subject per number; nor does the spacing of
# requests to one number (destination_rate_delay: 10 numbers would drain at 10 SMS/s).
OVERRIDES = {"minimal_backoff_time": "1s", "maximal_backoff_time": "10s",
             "sender_rate_limit": "none", "destination_rate_limit": "none",
             "global_rate_limit": "none", "storm_window": "0", "destination_rate_delay": "0"}


def numbers(count, first=100):
    """count distinct numbers +1415555NNNN from +14155550100 on (first)."""
    return ["+1415555%04d" % (first + i) for i in range(count)]


def queue_burst(port, mails, to, sessions, subject, deadline):
    """smtp-source runs in parallel, one per number in `to`, mails/len(to) mails each over
    sessions/len(to) SMTP sessions, with the subject "SUBJECT I" for the I-th number;
    Message-IDs differ per mail. Returns the runs that failed, as (exit status, end of their
    output)."""
    procs = [subprocess.Popen(
        ["smtp-source", "-s", str(max(1, sessions // len(to))), "-m", str(mails // len(to)),
         "-f", SENDER, "-t", num + "@sms.example.com", "-S", "%s %d" % (subject, i),
         "-M", "bench.e2e.test", "127.0.0.1:%d" % port],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for i, num in enumerate(to)]
    failed = []
    for pr in procs:
        try:
            out, _ = pr.communicate(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pr.kill()
            out, _ = pr.communicate()
        if pr.returncode != 0:
            failed.append((pr.returncode, out.strip()[-500:]))
    return failed


def queue_distinct(port, mails, sessions, subject, deadline):
    """`mails` alerts, each to a number of its own (+14155551000 on), over `sessions` SMTP
    sessions in parallel; session I sends as alerts-I@example.com, so that no sender reaches
    the default sender_rate_limit (500/1h) with up to 10,000 mails over 20 sessions. The
    subject is "SUBJECT K" for the K-th mail. Returns the failures, as strings."""
    failed = []

    def session(i):
        sender = "alerts-%d@example.com" % i
        try:
            with smtplib.SMTP("127.0.0.1", port,
                              timeout=max(1, deadline - time.monotonic())) as c:
                for k in range(i, mails, sessions):
                    c.sendmail(sender, ["+1415555%04d@sms.example.com" % (1000 + k)],
                               ("From: %s\r\nTo: on-call\r\nSubject: %s %d\r\n"
                                "Message-ID: <burst-%d@bench.e2e.test>\r\n\r\n"
                                "Alert %d: /var on host%d is 97%% full.\r\n"
                                % (sender, subject, k, k, k, k)).encode())
        except Exception as e:  # counted, not fatal
            failed.append(repr(e))

    in_parallel(session, sessions, max(1, deadline - time.monotonic()))
    return failed


def in_parallel(fn, n, timeout):
    """fn(0) ... fn(n - 1), each on a thread of its own; waits up to timeout s for each."""
    threads = [threading.Thread(target=fn, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)


def wait_drained(env, milter, expected, deadline, tag=""):
    """Poll until `expected` jobs (those whose text holds tag) are sent or failed and as many
    SMS (with tag) reached the fake Twilio, or the deadline (time.monotonic()) passes.
    The fake's create count is looked at first: reading every job and message while the
    burst drains would take the fake's threads' CPU (and the GIL) and blur its timing."""
    while time.monotonic() < deadline:
        if env.fake.stats()["creates"] >= expected and len(sms(env, tag)) >= expected:
            states = collections.Counter(j["state"] for j in milter.jobs()
                                         if tag in (j["body"] or ""))
            if states.get("sent", 0) + states.get("failed", 0) >= expected:
                return True
        time.sleep(0.2)
    return False


def sms(env, tag=""):
    """The SMS the fake Twilio received (with tag in the text), in the order created."""
    return [m for m in env.fake.messages() if tag in (m["body"] or "")]


def duplicates(env, milter, tag=""):
    """SMS at Twilio that no sent job accounts for: SIDs no outbox job has, or more SMS than
    sent jobs (with tag). Must be 0."""
    msgs = sms(env, tag)
    jobs = [j for j in milter.jobs() if tag in (j["body"] or "")]
    sids = {j["sid"] for j in jobs if j["sid"]}
    sent = sum(1 for j in jobs if j["state"] == "sent")
    return max(len([m for m in msgs if m["sid"] not in sids]), len(msgs) - sent)
