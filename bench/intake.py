#!/usr/bin/env python3
"""Intake: how fast a sandbox Postfix accepts mail with and without sms-milter attached.

Loopback only, as root (the Postfix sandbox needs it). Reuses the end-to-end harness
(tests/e2e): one sandbox Postfix with three smtpd listeners -- no milter (Postfix alone, the
ceiling), sms-milter on its default unix socket, and a second sms-milter on an inet socket --
an smtp-sink as next hop, and the fake Twilio over HTTPS (no added latency). smtp-source sends
MAILS 300-byte mails per figure over 1, 10 and 50 SMTP sessions, to an SMS recipient and to
an ordinary recipient; the figure is mails/s over smtp-source's wall time, after the queue
has drained from the previous figure. With --rounds N every figure is taken N times, the
three setups of a figure back to back (so that a ratio compares runs minutes apart, not the
machine's mood over the whole run), and the tables print medians and each ratio's range.
Postfix keeps its default in_flow_delay (1s), so a milter that starves Postfix's inflow
control shows up here.

With --floor a fourth setup runs bench/null_milter.c (built with gcc): a libmilter filter with
sms-milter's protocol steps and no-reply flags that does none of its work, so that what
Postfix and libmilter cost any such filter stands beside what sms-milter adds.

Also printed: the CPU time each figure cost per mail, Postfix's processes and sms-milter's
apart (less sensitive to what else the machine runs than the rates), and, for the
unix-socket daemon: its RSS idle (after start), its peak (VmHWM) over
all figures, its peak while --at-once SMTP sessions (100) each send one SMS mail of its own
(own text, own number) at the same time, and its RSS idle again after all that.
The drain to Twilio is measured by bench/burst.py.

Usage: sudo bench/intake.py [--mails 1000] [--sessions 1,10,50] [--rounds 1] [--floor]
                            [--at-once 100]
Environment: SMS_MILTER_BIN (default build/sms-milter), E2E_KEEP=1 keeps the work dir.
Prints figures and asserts nothing; exit status 1 only when a run failed outright.
"""

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

from drain import in_parallel  # noqa: E402
from fake_twilio import FakeTwilio  # noqa: E402
from harness import exit_on_sigterm  # noqa: E402
from milter_proc import MilterInstance  # noqa: E402
from pki import make_pki  # noqa: E402
from postfix_sandbox import Listener, PostfixSandbox  # noqa: E402

import secrets  # noqa: E402
import shutil  # noqa: E402
import smtplib  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
from statistics import median  # noqa: E402

SENDER = "alerts@example.com"
RCPTS = {"SMS": "+14155550123@sms.example.com", "ordinary": "ops@example.org"}


def rss_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak(pid):
    """Start VmHWM again from the current RSS (Linux: 5 > clear_refs)."""
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")


def sms_at_once(port, n, timeout):
    """n SMTP sessions that each send one SMS mail (own number and text) at the same moment;
    returns the errors."""
    ready = threading.Barrier(n)
    errors = []

    def one(i):
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as c:
                c.mail(SENDER)
                c.rcpt("+1415555%04d@sms.example.com" % (100 + i % 9900))
                ready.wait(timeout)
                c.data(("From: %s\r\nSubject: disk %d full\r\n\r\nAlert %d: /var on host%d "
                        "is 97%% full.\r\n" % (SENDER, i, i, i)).encode())
        except Exception as e:  # counted, not fatal
            errors.append(repr(e))

    in_parallel(one, n, timeout)
    return errors


def cpu_ticks(pid, children=False):
    """utime + stime of one process in clock ticks (with children: also those of its exited,
    waited-for children); 0 if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    ticks = int(fields[11]) + int(fields[12])
    return ticks + (int(fields[13]) + int(fields[14]) if children else 0)


def postfix_ticks(postfix):
    """CPU ticks used so far by one sandbox Postfix: its master with the children it has
    reaped (smtpd and cleanup end after max_use), plus the children still running."""
    with open(os.path.join(postfix.spool, "pid", "master.pid")) as f:
        master = int(f.read().split()[0])
    total = cpu_ticks(master, children=True)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if ppid == master:
                total += cpu_ticks(int(entry))
    return total


def start_null_milter(root):
    """Builds and starts bench/null_milter.c on a unix socket under root; returns the process
    (its args[1] is the socket as smtpd_milters names it)."""
    exe = os.path.join(root, "null_milter")
    subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-std=c11", "-o", exe,
                    os.path.join(HERE, "null_milter.c"), "-lmilter", "-lpthread"], check=True)
    sock = os.path.join(root, "null.sock")
    proc = subprocess.Popen([exe, "unix:" + sock, "sms.example.com"])
    deadline = time.monotonic() + 10
    while not os.path.exists(sock) and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc


def run_source(port, sessions, mails, rcpt, timeout):
    t0 = time.monotonic()
    r = subprocess.run(["smtp-source", "-s", str(sessions), "-m", str(mails), "-l", "300",
                        "-f", SENDER, "-t", rcpt, "-M", "bench.e2e.test",
                        "127.0.0.1:%d" % port],
                       capture_output=True, text=True, timeout=timeout)
    elapsed = time.monotonic() - t0
    return mails / elapsed, r.returncode, (r.stdout + r.stderr).strip()[-300:]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mails", type=int, default=1000)
    p.add_argument("--sessions", default="1,10,50")
    p.add_argument("--timeout", type=float, default=300, help="bound on one figure")
    p.add_argument("--floor", action="store_true",
                   help="also a fourth setup: bench/null_milter.c, a libmilter filter with "
                        "sms-milter's protocol steps and none of its work (the ceiling for any "
                        "libmilter filter of that shape)")
    p.add_argument("--rounds", type=int, default=1,
                   help="measure every figure this often; the tables give medians, and each "
                        "ratio is the median of the rounds' ratios with their range")
    p.add_argument("--at-once", type=int, default=100,
                   help="SMTP sessions sending one SMS mail each at once, for the peak RSS")
    p.add_argument("--twilio-latency-ms", type=int, default=0,
                   help="added to each fake Twilio answer; e.g. 60000 keeps the sending (and "
                        "the fake's own CPU, which shares this machine) out of the figures")
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("intake.py: needs root (sandbox Postfix)")
    sessions = [int(s) for s in a.sessions.split(",")]
    exit_on_sigterm()
    root = tempfile.mkdtemp(prefix="sms-milter-intake-")
    os.chmod(root, 0o755)
    fake = postfix = null = None
    milters = {}
    failures = []
    try:
        pki = make_pki(os.path.join(root, "pki"))
        sid, token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
        token_file = os.path.join(root, "twilio-token")
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        fake = FakeTwilio(pki["cert"], pki["key"], sid, token,
                          log_path=os.path.join(root, "fake-twilio.log")).start()
        fake.set_latency(a.twilio_latency_ms)
        milters["unix"] = MilterInstance("unix", root, fake.url, pki["ca"], sid, token_file)
        milters["inet"] = MilterInstance("inet", root, fake.url, pki["ca"], sid, token_file)
        milters["inet"].settings["milter_socket"] = "inet:%d@127.0.0.1" % milters["inet"].port
        for m in milters.values():
            # smtp-source sends one text again and again to one number: neither a rate limit
            # nor storm_window may turn those mails away or hold them back here, nor may
            # destination_rate_delay send them once a second.
            m.settings.update({"destination_rate_delay": "0",
                               "sender_rate_limit": "none", "destination_rate_limit": "none",
                               "global_rate_limit": "none", "storm_window": "0"})
            m.start()
        time.sleep(1)
        idle = rss_kib(milters["unix"].proc.pid, "VmRSS")
        listeners = [Listener("alone", milters=""),
                     Listener("unix", milters=milters["unix"].postfix_milter()),
                     Listener("inet", milters=milters["inet"].postfix_milter())]
        if a.floor:
            null = start_null_milter(root)
            listeners.append(Listener("null", milters=null.args[1]))
        os.makedirs(os.path.join(root, "postfix"), mode=0o755)
        postfix = PostfixSandbox(os.path.join(root, "postfix"), listeners)
        postfix.start()

        rates = {}  # (kind, setup, sessions) -> mails/s, one per round
        cpu = {}  # (kind, setup, sessions) -> [[Postfix ms per mail, sms-milter ms per mail]]
        tick = os.sysconf("SC_CLK_TCK")
        setups = ["alone", "unix", "inet"] + (["null"] if a.floor else [])
        # The three setups of one figure run back to back, so that each ratio compares runs
        # minutes apart at most; every other round reverses their order.
        for rnd in range(a.rounds):
            for kind, rcpt in RCPTS.items():
                for s in sessions:
                    for setup in (setups if rnd % 2 == 0 else setups[::-1]):
                        port = postfix.listeners[setup].port
                        pid = null.pid if setup == "null" else (
                            milters[setup].proc.pid if setup in milters else None)
                        postfix.wait_queue_empty(timeout=120)
                        before = (postfix_ticks(postfix), pid and cpu_ticks(pid))
                        rate, rc, out = run_source(port, s, a.mails, rcpt, a.timeout)
                        if rc != 0:
                            failures.append((kind, setup, s, out))
                        postfix.wait_queue_empty(timeout=120)  # qmgr's share of these mails
                        after = (postfix_ticks(postfix), pid and cpu_ticks(pid))
                        rates.setdefault((kind, setup, s), []).append(rate)
                        cpu.setdefault((kind, setup, s), []).append(
                            [(b - a0) * 1000.0 / tick / a.mails
                             for a0, b in zip(before, after) if b is not None])
                    print("  round %d %-8s %2d sessions: %s" % (
                        rnd + 1, kind, s, "  ".join("%s %.1f" % (setup, rates[(kind, setup, s)][-1])
                                                    for setup in setups)), flush=True)
        pid = milters["unix"].proc.pid
        peak = rss_kib(pid, "VmHWM")
        if a.at_once > 0:
            postfix.wait_queue_empty(timeout=120)
            reset_peak(pid)
            errors = sms_at_once(postfix.listeners["unix"].port, a.at_once, a.timeout)
            if errors:
                failures.append(("SMS at once", len(errors), errors[:3]))
            postfix.wait_queue_empty(timeout=120)
            at_once_peak = rss_kib(pid, "VmHWM")
        time.sleep(5)
        idle_after = rss_kib(pid, "VmRSS")

        print()
        print("Intake, mails/s (%d mails of 300 bytes per figure, smtp-source -> sandbox "
              "Postfix, in_flow_delay default, fake Twilio latency %d ms; median of %d "
              "round%s)" % (a.mails, a.twilio_latency_ms, a.rounds, "s" if a.rounds > 1 else ""))
        head = "| mail | setup | " + " | ".join("%d session%s" % (s, "s" if s > 1 else "")
                                                for s in sessions) + " |"
        print(head)
        print("|" + "---|" * (2 + len(sessions)))
        labels = {"alone": "Postfix alone", "unix": "+ sms-milter, unix socket",
                  "inet": "+ sms-milter, inet socket",
                  "null": "+ bench/null_milter.c, unix socket"}
        for kind in RCPTS:
            for setup in setups:
                cells = []
                for s in sessions:
                    got = rates[(kind, setup, s)]
                    if setup == "alone":
                        cells.append("%.0f" % median(got))
                        continue
                    ratios = [r / b for r, b in zip(got, rates[(kind, "alone", s)])]
                    spread = "" if len(ratios) == 1 else ", %.2f-%.2f" % (min(ratios), max(ratios))
                    cells.append("%.0f (%.2f x%s)" % (median(got), median(ratios), spread))
                print("| %s | %s | %s |" % (kind, labels[setup], " | ".join(cells)))
        print()
        print("CPU time per mail, ms: Postfix's processes (smtpd, cleanup, qmgr, ...) "
              "+ sms-milter's (the unix or inet daemon)")
        print(head)
        print("|" + "---|" * (2 + len(sessions)))
        for kind in RCPTS:
            for setup in setups:
                cells = []
                for s in sessions:
                    parts = [median(col) for col in zip(*cpu[(kind, setup, s)])]
                    cells.append("%.2f" % parts[0] if len(parts) == 1
                                 else "%.2f + %.2f" % (parts[0], parts[1]))
                print("| %s | %s | %s |" % (kind, setup, " | ".join(cells)))
        print()
        print("sms-milter RSS: idle %.1f MiB after start, peak (VmHWM) %.1f MiB over the figures"
              % (idle / 1024, peak / 1024), end="")
        if a.at_once > 0:
            print(", peak %.1f MiB with %d SMS mails at once" % (at_once_peak / 1024, a.at_once),
                  end="")
        print(", idle %.1f MiB after all" % (idle_after / 1024))
        if failures:
            print("smtp-source failures: %r" % failures)
    finally:
        for step in ([lambda: postfix and postfix.stop()] + [m.stop for m in milters.values()]
                     + [lambda: fake and fake.stop(), lambda: null and null.kill()]):
            try:
                step()
            except Exception as e:  # keep stopping the rest
                print("cleanup: %r" % e, file=sys.stderr)
        if os.environ.get("E2E_KEEP") != "1":
            shutil.rmtree(root, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
