#!/usr/bin/env python3
"""Metrics scrape vs intake: does scraping /metrics slow down how fast Postfix accepts SMS mail?

Loopback only, as root (the Postfix sandbox needs it). Reuses the end-to-end harness
(tests/e2e): one sandbox Postfix, one sms-milter on its default unix socket with
metrics_listen set, the fake Twilio over HTTPS. smtp-source sends MAILS 300-byte SMS mails
over SESSIONS SMTP sessions per round; rounds alternate between no scraper and a scraper
that GETs /metrics every INTERVAL seconds (default 1: fifteen times Prometheus's usual 15 s;
0: no pause at all, which mostly measures the scraper's own CPU on a small machine), so the
machine's drift falls on both alike. Printed: mails/s per round, the median of each kind and
their ratio, and the scrapes done and their median time. Then, with no mail flowing, the
daemon's own CPU time (utime + stime from /proc) over SCRAPES back-to-back scrapes: the cost
of one scrape, a figure a busy shared machine does not blur.

Usage: sudo bench/metrics_scrape.py [--mails 500] [--sessions 10] [--rounds 4] [--interval 1]
                                    [--scrapes 2000]
Environment: SMS_MILTER_BIN (default build/sms-milter), E2E_KEEP=1 keeps the work dir.
Prints figures and asserts nothing; exit status 1 only when a run failed outright.
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

from harness import Environment, exit_on_sigterm  # noqa: E402
from postfix_sandbox import free_port  # noqa: E402

SENDER = "alerts@example.com"
RCPT = "+14155550123@sms.example.com"


class Scraper:
    """GET /metrics in a loop on a thread of its own until stopped."""

    def __init__(self, url, interval):
        self.url, self.interval, self.times, self.errors = url, interval, [], 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        while not self.stopping.is_set():
            t0 = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=10) as r:
                    r.read()
                self.times.append(time.monotonic() - t0)
            except OSError:
                self.errors += 1
            if self.interval:
                self.stopping.wait(self.interval)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(15)


def run_source(port, sessions, mails, timeout):
    t0 = time.monotonic()
    r = subprocess.run(["smtp-source", "-s", str(sessions), "-m", str(mails), "-l", "300",
                        "-f", SENDER, "-t", RCPT, "-M", "bench.e2e.test",
                        "127.0.0.1:%d" % port],
                       capture_output=True, text=True, timeout=timeout)
    return mails / (time.monotonic() - t0), r.returncode, (r.stdout + r.stderr).strip()[-300:]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mails", type=int, default=500)
    p.add_argument("--sessions", type=int, default=10)
    p.add_argument("--rounds", type=int, default=4, help="rounds of each kind, alternating")
    p.add_argument("--timeout", type=float, default=300, help="bound on one round")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between scrapes")
    p.add_argument("--scrapes", type=int, default=2000, help="for the CPU time per scrape")
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("metrics_scrape.py: needs root (sandbox Postfix)")
    exit_on_sigterm()
    listen = "127.0.0.1:%d" % free_port()
    env = Environment({"bench": {"overrides": {
        "metrics_listen": listen,
        # One text again and again to one number: no limit or storm window may hold it up.
        "sender_rate_limit": "none", "destination_rate_limit": "none",
        "global_rate_limit": "none", "storm_window": "0"}}})
    failures = []
    results = {"off": [], "on": []}
    scrapes = []
    try:
        env.start()
        port = env.postfix.listeners["bench"].port
        url = "http://%s/metrics" % listen
        run_source(port, a.sessions, 100, a.timeout)  # warm-up, not counted
        for i in range(2 * a.rounds):
            kind = "off" if i % 2 == 0 else "on"
            env.postfix.wait_queue_empty(timeout=120)
            if kind == "on":
                with Scraper(url, a.interval) as s:
                    rate, rc, out = run_source(port, a.sessions, a.mails, a.timeout)
                scrapes.append((len(s.times), statistics.median(s.times) if s.times else 0,
                                s.errors))
            else:
                rate, rc, out = run_source(port, a.sessions, a.mails, a.timeout)
            if rc != 0:
                failures.append((kind, out))
            results[kind].append(rate)
            print("  round %d, scraper %-3s %7.1f mails/s" % (i + 1, kind, rate), flush=True)
        with urllib.request.urlopen(url, timeout=10) as r:
            size = len(r.read())
        off, on = statistics.median(results["off"]), statistics.median(results["on"])
        print()
        print("Intake of SMS mail, %d mails of 300 bytes per round over %d sessions, %d rounds "
              "each, a scrape every %g s (load average at the end: %s)"
              % (a.mails, a.sessions, a.rounds, a.interval,
                 " ".join("%.1f" % x for x in os.getloadavg())))
        print("| scraper | mails/s per round | median |")
        print("|---|---|---|")
        for kind in ("off", "on"):
            print("| %s | %s | %.1f |" % (
                "none" if kind == "off" else "GET /metrics every %g s" % a.interval,
                ", ".join("%.1f" % r for r in results[kind]), statistics.median(results[kind])))
        print()
        print("with the scraper / without: %.3f" % (on / off))
        print("scrapes per round: %s; median scrape %.1f ms; %d bytes; errors %d" % (
            ", ".join(str(n) for n, _, _ in scrapes),
            1000 * statistics.median(t for _, t, _ in scrapes), size,
            sum(e for _, _, e in scrapes)))
        env.postfix.wait_queue_empty(timeout=120)
        pid = env.milters["bench"].proc.pid
        tick = os.sysconf("SC_CLK_TCK")

        def cpu():
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / tick  # utime, stime

        time.sleep(2)
        c0, t0 = cpu(), time.monotonic()
        for _ in range(a.scrapes):
            with urllib.request.urlopen(url, timeout=10) as r:
                r.read()
        c1, t1 = cpu(), time.monotonic()
        print("daemon CPU over %d scrapes with no mail: %.2f s in %.1f s, %.3f ms per scrape"
              % (a.scrapes, c1 - c0, t1 - t0, 1000 * (c1 - c0) / a.scrapes))
        if failures:
            print("smtp-source failures: %r" % failures)
    finally:
        env.stop()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
