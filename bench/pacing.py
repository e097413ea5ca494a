#!/usr/bin/env python3
"""Pacing: the create-request rate sms-milter achieves against the twilio_send_rate set.

Loopback only, as root (the Postfix sandbox needs it). Reuses the end-to-end harness through
bench/drain.py: one real sms-milter (send_concurrency 64) behind a sandbox Postfix, the fake
Twilio over HTTPS (no added latency). For each rate, twilio_send_rate is set and the daemon
reloaded (SIGUSR1), then smtp-source queues about SECONDS x rate alerts (at least 10) to 10
numbers at once, and the drain is timed at the fake Twilio (when each message was created).

Steady state: from the first create after the whole burst was queued (the outbox then has
more than pacing lets out), and not within the first 10 % of the creates, to the last one.
Printed per rate: SMS, the steady span, the achieved rate = creates / span, and its
deviation from the configured rate in percent (target: within 5 %). (The spacing of the
creates and the most within a second are checked by the unit tests, to the nanosecond, and
by tests/e2e/test_pacing.py; seen at the fake they would carry its jitter: a request that
opens a new TLS connection, or meets the fake's threads busy, arrives tens of milliseconds
after it started.)

Usage: sudo bench/pacing.py [--rates 1,5,20,100] [--seconds 10] [--timeout 60]
Environment: SMS_MILTER_BIN (default build/sms-milter), E2E_KEEP=1 keeps the work dir.
Prints figures and asserts nothing; exit status 1 when an alert did not reach Twilio exactly
once.
"""

import argparse
import os
import secrets
import signal
import sys
import time

import drain
from drain import Environment, exit_on_sigterm


def reload(milter, rate, timeout=10):
    before = milter.log_text().count("reloaded configuration")
    milter.settings["twilio_send_rate"] = str(rate)
    milter.write_config()
    milter.proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while milter.log_text().count("reloaded configuration") == before:
        if time.monotonic() > deadline:
            sys.exit("pacing.py: the reload was not logged; log:\n" + milter.log_text()[-2000:])
        time.sleep(0.05)


def one_rate(env, milter, port, rate, seconds, timeout):
    reload(milter, rate)
    count = max(10, int(round(rate * seconds / 10.0)) * 10)  # 10 numbers, as many each
    tag = "PACE%s" % secrets.token_hex(3)
    t0 = time.monotonic()
    failed = drain.queue_burst(port, count, drain.numbers(10), 10, tag, t0 + timeout)
    queued_at = time.time()  # the fake's clock (time.time())
    drained = drain.wait_drained(env, milter, count, t0 + timeout, tag)
    time.sleep(1)  # late duplicates
    times = sorted(m["_created"] for m in drain.sms(env, tag))
    row = {"rate": rate, "sms": len(times), "failed": failed, "drained": drained,
           "duplicates": drain.duplicates(env, milter, tag)}
    start = max(len(times) // 10, next((i for i, t in enumerate(times) if t >= queued_at),
                                       len(times)))
    if len(times) - start >= 3:
        span = times[-1] - times[start]
        row["span"] = span
        row["achieved"] = (len(times) - 1 - start) / span
    return row


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rates", default="1,5,20,100", help="twilio_send_rate values")
    p.add_argument("--seconds", type=float, default=10, help="drain time per rate, about")
    p.add_argument("--timeout", type=float, default=60, help="bound per rate")
    a = p.parse_args()
    rates = [float(r) for r in a.rates.split(",")]
    if os.geteuid() != 0:
        sys.exit("pacing.py: needs root (sandbox Postfix)")
    exit_on_sigterm()
    # send_concurrency at its most: pacing, not the requests in flight, is to set the rate
    # (16 in flight at 100/s would cap it as soon as the fake answered in over 160 ms).
    env = Environment({"bench": {"overrides": dict(drain.OVERRIDES, twilio_send_rate="0",
                                                   send_concurrency="64")}})
    rows = []
    try:
        env.start()
        milter = env.milters["bench"]
        port = env.postfix.listeners["bench"].port
        for rate in rates:
            rows.append(one_rate(env, milter, port, rate, a.seconds, a.timeout))
    finally:
        env.stop()
    print("pacing: twilio_send_rate against the create requests the fake Twilio saw, in the "
          "steady state (load average %.2f)" % os.getloadavg()[0])
    print("| configured/s | SMS | steady span | achieved/s | deviation |")
    print("|---|---|---|---|---|")
    ok = True
    for r in rows:
        good = r["drained"] and not r["failed"] and r["duplicates"] == 0
        ok = ok and good
        if "achieved" not in r:
            print("| %g | %d | - | - | - |" % (r["rate"], r["sms"]))
        else:
            print("| %g | %d | %.2f s | %.2f | %+.2f %% |"
                  % (r["rate"], r["sms"], r["span"], r["achieved"],
                     100 * (r["achieved"] - r["rate"]) / r["rate"]))
        if not good:
            print("    rate %g: drained=%s, duplicates=%d, smtp-source failures %r"
                  % (r["rate"], r["drained"], r["duplicates"], r["failed"]))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
