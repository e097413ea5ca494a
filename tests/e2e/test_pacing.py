"""End to end through the real Postfix sandbox and the fake Twilio: twilio_send_rate paces the
create requests (issue 9).

One milter instance, started with twilio_send_rate = 0 (no pacing); one mail with six SMS
recipients goes out at once. Then twilio_send_rate = 2 is set and the daemon reloaded
(SIGUSR1), and another mail with six SMS recipients is paced: the fake Twilio's create times
(when each message was created, `_created`) are never closer than sms-milter.conf(5) allows
(1/rate less the 100 ms a late start may be made up for), no window of one second holds
more than two, and all six arrive, each once. The bounds are lower bounds on the gaps (with
JITTER for the timing on the fake's side): correctness, not speed.

Run as root:  SMS_MILTER_BIN=build/sms-milter python3 -m unittest tests/e2e/test_pacing.py
"""

import os
import secrets
import signal
import time
import unittest

from harness import Environment, exit_on_sigterm

SENDER = "alerts@example.com"
# Seconds: a request arrives at the fake later than it started by up to this much (a new
# TLS connection, the fake's threads busy on a loaded machine); 75 ms seen at load 4.
JITTER = 0.15
ENV = None


def setUpModule():
    global ENV
    if os.geteuid() != 0:
        raise unittest.SkipTest("the Postfix sandbox needs root")
    exit_on_sigterm()
    env = Environment({"paced": {"overrides": {"twilio_send_rate": "0"}}})
    unittest.addModuleCleanup(env.stop)
    ENV = env.start()


class Pacing(unittest.TestCase):
    def send_six(self, first):
        """One mail to six numbers +1415555010N (N from first); returns the SMS at the fake,
        oldest first, once all six arrived (or what arrived in 30 s)."""
        tag = "PACE-" + secrets.token_hex(4)
        rcpts = ["+1415555%04d@sms.example.com" % n for n in range(first, first + 6)]
        r = ENV.postfix.send_mail("paced", SENDER, rcpts, subject="ALERT " + tag,
                                  body="disk full", check=False)
        self.assertEqual([r.rcpts[x][0] for x in rcpts] + [r.data and r.data[0]], [250] * 7, r)
        got = ENV.fake.wait_for(lambda m: tag in (m["body"] or ""), count=6, timeout=30)
        self.assertEqual(sorted(m["to"] for m in got), sorted(x.split("@")[0] for x in rcpts),
                         ENV.milters["paced"].log_text()[-2000:])
        time.sleep(0.5)  # a seventh (a duplicate) would fail the next line
        self.assertEqual(len([m for m in ENV.fake.messages() if tag in (m["body"] or "")]), 6)
        return sorted(got, key=lambda m: m["_created"])

    def reload(self, milter, key, value):
        before = milter.log_text().count("reloaded configuration")
        milter.settings[key] = value
        milter.write_config()
        milter.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while milter.log_text().count("reloaded configuration") == before:
            self.assertLess(time.monotonic(), deadline, milter.log_text()[-2000:])
            time.sleep(0.1)

    def test_rate_picked_up_on_reload_and_kept(self):
        milter = ENV.milters["paced"]
        rate, interval = 2.0, 0.5
        # Unpaced, the six go out together: some two closer than pacing at 2/s would allow
        # (this shows that the measurement below can fail).
        times = [m["_created"] for m in self.send_six(100)]
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertLess(min(gaps), interval - 0.1 - JITTER, gaps)

        self.reload(milter, "twilio_send_rate", "2")
        times = [m["_created"] for m in self.send_six(110)]
        gaps = [b - a for a, b in zip(times, times[1:])]
        # Never closer than 1/rate less 100 ms (a start made late lets the next come up to
        # that much sooner) ...
        self.assertGreaterEqual(min(gaps), interval - 0.1 - JITTER, gaps)
        # ... and never more than the rate (2) in any second: any three span a second.
        spans = [c - a for a, c in zip(times, times[int(rate):])]
        self.assertGreaterEqual(min(spans), 1.0 - JITTER, (gaps, spans))


if __name__ == "__main__":
    unittest.main()
