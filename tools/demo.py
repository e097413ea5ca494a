#!/usr/bin/env python3
"""Demo: one alert mail through a real Postfix and sms-milter to a fake Twilio.

Run as root from the repo:  SMS_MILTER_BIN=build/sms-milter python3 tools/demo.py
Starts the e2e harness (tests/e2e: throw-away CA, fake Twilio over HTTPS, sandboxed Postfix,
one milter instance), sends "Subject: DISK FULL on db1" to +14155550123@sms.example.com,
waits for the SMS, prints what Twilio received and the milter's log lines for that mail,
then tears everything down.  Exit status 1 when no SMS arrived.  E2E_KEEP=1 keeps the files.
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))

from harness import Environment, exit_on_sigterm  # noqa: E402

RCPT = "+14155550123@sms.example.com"
SUBJECT = "DISK FULL on db1"
BODY = "/var/lib/postgresql is 98% full (2 GB left).\nCheck db1.example.com now.\n"


def main():
    exit_on_sigterm()
    env = Environment({"main": {}})
    print("starting fake Twilio, sms-milter and a sandboxed Postfix ...")
    env.start()
    try:
        r = env.postfix.send_mail("main", "alerts@example.com", [RCPT], SUBJECT, BODY)
        print("SMTP: RCPT %s -> %s %s; DATA -> %s %s" % (RCPT, *r.rcpts[RCPT], *r.data))
        m = re.search(r"queued as (\w+)", r.data[1])
        queue_id = m.group(1) if m else None
        got = env.fake.wait_for(lambda msg: SUBJECT in (msg["body"] or ""), timeout=30)
        print()
        if got:
            msg = got[0]
            print("Twilio received %d message(s):" % len(got))
            print("  To:   %s\n  From: %s\n  SID:  %s\n  Body:" % (msg["to"], msg["from"],
                                                                  msg["sid"]))
            for line in msg["body"].split("\n"):
                print("    | " + line)
        else:
            print("NO SMS reached the fake Twilio within 30 s")
        deadline = time.monotonic() + 5  # the milter logs "sent" just after Twilio answered
        while True:
            lines = env.milters["main"].log_text().splitlines()
            mine = [l for l in lines if queue_id and queue_id in l]
            if any("status=sent" in l or "status=failed" in l for l in mine) or \
                    time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        mine = mine or lines[-20:]
        print("\nsms-milter log%s:" % (" (queue ID %s)" % queue_id if queue_id else ""))
        for line in mine:
            print("  " + line)
        return 0 if got else 1
    finally:
        env.stop()
        print("\nstopped everything" + (" (files kept in %s)" % env.root if env.keep else ""))


if __name__ == "__main__":
    sys.exit(main())
