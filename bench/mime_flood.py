#!/usr/bin/env python3
"""Writes a MIME flood: one multipart/mixed message made of a text/plain part (the alert) and
then PARTS empty parts, each just a boundary line and the blank line that ends its (empty)
headers. With the default 200,000 parts the message is about 1.8 MB: the case of issue 8
("one 1.8 MB message made of 200,000 empty MIME parts takes about 220 MB").

Usage: bench/mime_flood.py [--parts N] [--nested] [--lf] OUTPUT-FILE (or - for stdout)
  --nested  each empty part is itself a multipart opening the next level (a deep tree)
  --lf      LF line ends instead of CRLF
Used by bench/mime_flood.sh and tests/render/mime_flood.sh.
"""

import argparse
import sys

SUBJECT = "MIME flood"
TEXT = "Disk /var on db1 at 99%, the text of the first part."


def message(parts, nested, nl):
    out = [
        "From: Alerts <alerts@example.com>",
        "To: <+14155550123@sms.example.com>",
        "Subject: " + SUBJECT,
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="bnd"',
        "",
        "--bnd",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        TEXT,
    ]
    if nested:
        # Level k opens with a part whose type is multipart/mixed with boundary "bndk".
        for k in range(parts):
            out += ["--bnd%s" % (k or ""), 'Content-Type: multipart/mixed; boundary="bnd%d"' % (k + 1), ""]
        out += ["--bnd%d--" % k for k in range(parts, 0, -1)]
        out += ["--bnd--", ""]
    else:
        out += ["--bnd", ""] * parts  # 9 bytes a part with CRLF
        out += ["--bnd--", ""]
    return nl.join(out).encode()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", type=int, default=200000)
    p.add_argument("--nested", action="store_true")
    p.add_argument("--lf", action="store_true")
    p.add_argument("output")
    a = p.parse_args()
    data = message(a.parts, a.nested, "\n" if a.lf else "\r\n")
    if a.output == "-":
        sys.stdout.buffer.write(data)
    else:
        with open(a.output, "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
