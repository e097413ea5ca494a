#!/usr/bin/env python3
"""What shared_state (Redis) costs at RCPT and in intake.

Starts the fake Twilio (answering after --twilio-latency-ms, 60 s by default so the sending
stays out of the figures), a private redis-server on a loopback port, one Postfix sandbox with
two listeners: "plain" (sms-milter without shared_state) and "shared" (sms-milter with
shared_state and every rate limit on, so each RCPT runs the reserve script and each end of
message the claim script). Then, for each, sends --mails SMS mails over --sessions SMTP
sessions and prints the RCPT latency the client sees (p50, p99) and mails/s, and the ratio of
shared to plain. Prints figures, asserts nothing. Run as root:

    SMS_MILTER_BIN=build/sms-milter python3 bench/shared_state.py [--mails 600] [--sessions 10]
"""

import argparse
import os
import secrets
import smtplib
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

from harness import Environment  # noqa: E402
from redis_proc import RedisServer  # noqa: E402


def run(port, mails, sessions):
    lat, lock = [], threading.Lock()
    per = mails // sessions

    def worker(w):
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as s:
            s.ehlo()
            for i in range(per):
                rcpt = "41555%05d@sms.example.com" % ((w * per + i) % 100000)
                s.mail("alerts@example.com")
                t0 = time.perf_counter()
                code, _ = s.rcpt(rcpt)
                t1 = time.perf_counter()
                if code == 250:
                    s.data(b"Subject: bench %d %d\r\n\r\nload %d\r\n" % (w, i, i))
                else:
                    s.rset()
                with lock:
                    lat.append(t1 - t0)

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - t0
    lat.sort()
    return (statistics.median(lat) * 1000, lat[int(len(lat) * 0.99) - 1] * 1000,
            per * sessions / took)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mails", type=int, default=600)
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--twilio-latency-ms", type=int, default=60000)
    a = ap.parse_args()
    limits = {"sender_rate_limit": "1000000/1h", "destination_rate_limit": "1000/1h",
              "global_rate_limit": "1000000/1h", "storm_window": "5m"}
    env = Environment({"plain": {"overrides": dict(limits)},
                       "shared": {"overrides": dict(limits)}})
    redis = None
    try:
        env._start_twilio(prefix="sms-milter-bench-shared-")
        redis = RedisServer(os.path.join(env.root, "redis"), secrets.token_hex(16)).start()
        pw = os.path.join(env.root, "redis-password")
        fd = os.open(pw, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(redis.password + "\n")
        env.milter_specs["shared"]["overrides"].update(
            {"shared_state": redis.url, "shared_state_password_file": pw})
        env._start_twilio = lambda *args, **kw: None  # already started
        env._start()
        env.fake.set_latency(a.twilio_latency_ms)
        ports = {n: l.port for n, l in env.postfix.listeners.items()}
        run(ports["plain"], 50, 5)  # warm up both
        run(ports["shared"], 50, 5)
        res = {}
        for name in ("plain", "shared", "plain", "shared"):  # interleaved, best of two
            r = run(ports[name], a.mails, a.sessions)
            if name not in res or r[2] > res[name][2]:
                res[name] = r
        print("%d SMS mails over %d sessions, best of two runs each (shared 2-core machine, "
              "other jobs running: expect 10-30 %% noise)" % (a.mails, a.sessions))
        print("%-28s %10s %10s %10s" % ("setup", "RCPT p50", "RCPT p99", "mails/s"))
        for name, label in (("plain", "sms-milter alone"), ("shared", "+ shared_state (Redis)")):
            p50, p99, rate = res[name]
            print("%-28s %8.2fms %8.2fms %10.1f" % (label, p50, p99, rate))
        print("RCPT added by Redis: p50 %+.2f ms, p99 %+.2f ms; intake ratio %.2f x" % (
            res["shared"][0] - res["plain"][0], res["shared"][1] - res["plain"][1],
            res["shared"][2] / res["plain"][2]))
    finally:
        env.stop()
        if redis:
            redis.stop()


if __name__ == "__main__":
    main()
