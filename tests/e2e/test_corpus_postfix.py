"""Corpus mails through the real path: Postfix -> sms-milter -> fake Twilio.

A few cases of tests/corpus (the shapes legacy systems send most: base64 from Java, quoted-
printable from Exchange, HTML-only appliances, multipart/alternative, Latin-1, 8-bit headers,
and a message with no text) are submitted over SMTP as they are; the SMS that reaches Twilio
must be the expected text byte for byte, and the no-text mail must get 550 5.6.0.
"""

import os
import unittest

from harness import Environment

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")
CASES = [
    "03-java-base64-utf8",
    "04-exchange-qp-curly-apostrophe",
    "08-grafana-html-table-style",
    "09-alertmanager-alternative",
    "10-printer-latin1-toner-bas",
    "16-nested-mixed-alternative-pdf",
    "27-broken-8bit-subject",
]
RCPT = "+14155550123@sms.example.com"
ENV = None


def setUpModule():
    global ENV
    if os.geteuid() != 0:
        raise unittest.SkipTest("the Postfix sandbox needs root")
    env = Environment({"main": {}})
    unittest.addModuleCleanup(env.stop)
    ENV = env.start()


def read(name, ext, mode="rb"):
    with open(os.path.join(CORPUS, name + ext), mode) as f:
        return f.read()


class CorpusThroughPostfix(unittest.TestCase):
    def test_expected_texts_reach_twilio(self):
        for name in CASES:
            with self.subTest(case=name):
                want = read(name, ".txt").decode("utf-8")
                r = ENV.postfix.send_mail("main", "alerts@example.com", [RCPT], raw=read(name, ".eml"),
                                          check=False)
                self.assertEqual(r.data and r.data[0], 250, r)
                got = ENV.fake.wait_for(lambda m: m["body"] == want, timeout=20)
                self.assertEqual(len(got), 1, "%s: Twilio got %r" % (name, [m["body"] for m in ENV.fake.messages()][-3:]))

    def test_no_text_gets_550(self):
        r = ENV.postfix.send_mail("main", "alerts@example.com", [RCPT], raw=read("29-no-text-at-all", ".eml"),
                                  check=False)
        want = read("29-no-text-at-all", ".reply", "r").strip()
        self.assertEqual(r.data and r.data[0], int(want.split()[0]), r)
        self.assertIn(want.split(" ", 2)[1], r.data[1])


if __name__ == "__main__":
    unittest.main()
