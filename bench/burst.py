#!/usr/bin/env python3
"""Throughput of a burst of alerts: smtp-source -> sandbox Postfix -> sms-milter -> fake Twilio.

Loopback only, as root (the Postfix sandbox needs it).  Reuses the end-to-end harness
(tests/e2e): one real sms-milter (its default send_concurrency unless --concurrency) behind
one smtpd of a sandbox Postfix, and the fake Twilio over HTTPS with an added latency per
create (100 ms).
smtp-source sends the burst: NUMBERS parallel runs, one per phone number
(+1415555010N), each with SESSIONS/NUMBERS sessions; Message-IDs differ per mail, so
dedup merges nothing.  Printed:
  mails/s accepted by Postfix (smtp-source wall time), SMS/s reaching Twilio, time to drain
  (end of smtp-source -> last SMS), requests per TLS connection (fake /_fake/stats),
  duplicates (SMS whose SID no outbox job has, or more SMS than sent jobs; must be 0),
  the daemon's peak RSS (VmHWM), and with --fake-alone the fake Twilio's own ceiling
  (--alone-clients keep-alive clients, no milter).

With --defaults the daemon runs on the program's defaults, every one, and each mail goes to
a number of its own from a sender per session (smtplib), which no default limit, storm
window or per-number spacing holds back: the drain an admin gets as installed.

Usage: sudo bench/burst.py [--mails 1000] [--latency-ms 100] [--concurrency N]
                           [--sessions 20] [--numbers 10] [--timeout 300] [--defaults]
                           [--fake-alone] [--alone-clients 16]
Environment: SMS_MILTER_BIN (default build/sms-milter), E2E_KEEP=1 keeps the work dir.
Exit status: 0 when every accepted mail reached Twilio exactly once within the timeout.
"""

import argparse
import base64
import collections
import http.client
import os
import re
import ssl
import sys
import threading
import time
import urllib.parse

import drain
from drain import Environment, exit_on_sigterm


def fake_alone(env, clients, per_client, latency_ms):
    """Creates/s the fake Twilio serves to `clients` keep-alive HTTPS clients by itself."""
    env.fake.set_latency(latency_ms)
    ctx = ssl.create_default_context(cafile=env.pki["ca"])
    auth = "Basic " + base64.b64encode(("%s:%s" % (env.account_sid, env.auth_token))
                                       .encode()).decode()
    path = "/2010-04-01/Accounts/%s/Messages.json" % env.account_sid
    errors = []

    def client(i):
        try:
            conn = http.client.HTTPSConnection("127.0.0.1", env.fake.port, context=ctx,
                                               timeout=30)
            for k in range(per_client):
                body = urllib.parse.urlencode({"To": "+14155550199", "From": "+15005550006",
                                               "Body": "alone %d %d" % (i, k)})
                conn.request("POST", path, body, {"Authorization": auth, "Content-Type":
                                                  "application/x-www-form-urlencoded"})
                r = conn.getresponse()
                r.read()
                if r.status != 201:
                    errors.append(r.status)
            conn.close()
        except Exception as e:  # reported, not fatal
            errors.append(repr(e))

    t0 = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    elapsed = time.monotonic() - t0
    env.fake.set_latency(0)
    return clients * per_client / elapsed, elapsed, errors


def vm_hwm(pid):
    """The peak resident set size of a process, as /proc reports it ("12345 kB")."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mails", type=int, default=1000)
    p.add_argument("--latency-ms", type=int, default=100)
    p.add_argument("--concurrency", type=int, default=None,
                   help="send_concurrency (default: the program's default)")
    p.add_argument("--alone-clients", type=int, default=16,
                   help="keep-alive clients for --fake-alone")
    p.add_argument("--sessions", type=int, default=20, help="SMTP sessions in parallel, total")
    p.add_argument("--numbers", type=int, default=10, help="phone numbers (smtp-source runs)")
    p.add_argument("--timeout", type=float, default=300, help="bound on the whole burst")
    p.add_argument("--fake-alone", action="store_true", help="also measure the fake by itself")
    p.add_argument("--defaults", action="store_true",
                   help="the program's default settings, every one (limits, storm_window, "
                        "destination_rate_delay, backoff): each mail to a number of its own, "
                        "one sender per SMTP session (--numbers is then ignored)")
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("burst.py: needs root (sandbox Postfix)")
    if not a.defaults and (a.mails % a.numbers or a.sessions % a.numbers):
        sys.exit("burst.py: --mails and --sessions must be multiples of --numbers")
    exit_on_sigterm()
    # --defaults: the harness's own short backoff and recheck times go too (None drops a key).
    overrides = (dict.fromkeys(("minimal_backoff_time", "maximal_backoff_time",
                                "lookup_recheck_time")) if a.defaults else dict(drain.OVERRIDES))
    if a.concurrency is not None:
        overrides["send_concurrency"] = str(a.concurrency)
    env = Environment({"bench": {"overrides": overrides}})
    ok = False
    try:
        env.start()
        milter = env.milters["bench"]
        port = env.postfix.listeners["bench"].port
        env.fake.set_latency(a.latency_ms)
        t_start, wall_start = time.monotonic(), time.time()
        deadline = t_start + a.timeout
        if a.defaults:
            failed_runs = drain.queue_distinct(port, a.mails, a.sessions, "bench burst",
                                               deadline)
        else:
            failed_runs = drain.queue_burst(port, a.mails, drain.numbers(a.numbers),
                                            a.sessions, "bench burst", deadline)
        t_sent = time.monotonic()
        accepted = len(re.findall(r"status=queued", milter.log_text()))
        # drain: every accepted mail has a sent job and an SMS, or the timeout
        drain.wait_drained(env, milter, accepted, deadline)
        t_drained = time.monotonic()
        peak_rss = vm_hwm(milter.proc.pid)
        time.sleep(2)  # late duplicates
        msgs = env.fake.messages()
        states = collections.Counter(j["state"] for j in milter.jobs())
        duplicates = drain.duplicates(env, milter)
        created = sorted(m["_created"] for m in msgs)
        stats = env.fake.stats()
        dedup_merged = milter.log_text().count("status=duplicate")
        send_time = t_sent - t_start
        print("burst: %d mails, %s, %d SMTP sessions, send_concurrency %s, "
              "Twilio latency %d ms" % (a.mails,
                                        "a number each, default settings" if a.defaults
                                        else "%d numbers" % a.numbers, a.sessions,
                                        a.concurrency or "default", a.latency_ms))
        print("  accepted by Postfix (SMS jobs queued by the milter): %d in %.2f s = %.1f mails/s"
              % (accepted, send_time, accepted / send_time))
        if created:
            span = created[-1] - wall_start
            print("  SMS at Twilio: %d; burst start -> last SMS %.2f s = %.1f SMS/s; "
                  "first -> last SMS %.2f s" % (len(msgs), span, len(msgs) / span,
                                               created[-1] - created[0]))
        print("  drain (end of smtp-source -> all jobs settled): %.2f s" % (t_drained - t_sent))
        print("  outbox: %s; dedup merges: %d" % (dict(states), dedup_merged))
        print("  fake Twilio: %d requests, %d TLS connections = %.1f requests/connection, "
              "%d creates, %d handshake failures"
              % (stats["requests"], stats["connections"],
                 stats["requests"] / max(1, stats["connections"]), stats["creates"],
                 stats["handshake_failures"]))
        print("  daemon peak RSS (VmHWM): %s" % peak_rss)
        print("  duplicates: %d" % duplicates)
        if failed_runs:
            print("  smtp-source failures: %r" % failed_runs)
        if a.fake_alone:
            n = a.alone_clients
            for lat in sorted({0, a.latency_ms}):
                rate, el, errs = fake_alone(env, n, 100, lat)
                print("  fake Twilio alone, %d keep-alive clients, latency %d ms: %.1f creates/s "
                      "(%d in %.2f s)%s" % (n, lat, rate, n * 100, el,
                                            ", errors %r" % errs[:5] if errs else ""))
        ok = (not failed_runs and accepted == a.mails and duplicates == 0
              and states.get("sent", 0) == accepted and len(msgs) == accepted)
    finally:
        env.stop()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
