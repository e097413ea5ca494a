#!/usr/bin/env bash
# SMS text corpus runner: renders every tests/corpus case with `sms-milter render --json` and
# compares the SMS text (or the SMTP reply) byte for byte. See README.md in this directory.
#
# usage: tests/corpus/run.sh BINARY [CASE-NAME-SUBSTRING...]
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: $0 BINARY [CASE-NAME-SUBSTRING...]" >&2
    exit 2
fi
binary=$1
shift
if [[ ! -x $binary ]]; then
    echo "$0: $binary is not an executable" >&2
    exit 2
fi
corpus=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/sms-corpus.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

python3 - "$binary" "$corpus" "$work" "$@" <<'PYTHON'
import base64, difflib, json, os, re, subprocess, sys, unicodedata

binary, corpus, work, *filters = sys.argv[1:]
SENDER = "alerts@example.com"
RCPT = "+14155550123@sms.example.com"
TEMPLATE_FILL = "@@BASE64-ATTACHMENT-20MIB@@"
TEMPLATE_BYTES = 20 * 1024 * 1024
# "@@EMPTY-MIME-PARTS BOUNDARY COUNT@@": COUNT parts that are a boundary line and a blank line.
EMPTY_PARTS = re.compile(rb"@@EMPTY-MIME-PARTS (\S+) ([0-9]+)@@")


def escape(s):
    """One line made readable: invisible and non-ASCII space-like characters shown as escapes."""
    out = []
    for ch in s:
        cat = unicodedata.category(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch == " ":
            out.append(" ")
        elif cat in ("Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cn") or ch == "\ufffd":
            out.append("\\u%04x" % ord(ch) if ord(ch) <= 0xFFFF else "\\U%08x" % ord(ch))
        else:
            out.append(ch)
    line = "".join(out)
    # make trailing spaces visible
    stripped = line.rstrip(" ")
    return stripped + "\\x20" * (len(line) - len(stripped))


def show(text):
    return [escape(l) + "⏎" for l in text.split("\n")[:-1]] + [escape(text.split("\n")[-1])]


def diff(want, got):
    lines = list(difflib.unified_diff(show(want), show(got), "want", "got", lineterm="", n=2))
    lines.append("want (escaped): " + json.dumps(want, ensure_ascii=True))
    lines.append("got  (escaped): " + json.dumps(got, ensure_ascii=True))
    return "\n".join("    " + l for l in lines)


def read_known():
    known = {}
    path = os.path.join(corpus, "KNOWN-FAILURES")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                name, _, reason = line.partition(" ")
                known[name] = reason.strip()
    return known


def expand_template(src, dst):
    """NN-name.eml.tmpl: a line holding only TEMPLATE_FILL becomes 20 MiB of base64; or one
    holding only an EMPTY_PARTS marker becomes that many empty MIME parts."""
    with open(src, "rb") as f:
        tmpl = f.read()
    crlf = b"\r\n" in tmpl
    nl = b"\r\n" if crlf else b"\n"
    parts = list(EMPTY_PARTS.finditer(tmpl))
    if parts:
        if len(parts) != 1:
            raise ValueError(f"{src}: needs exactly one @@EMPTY-MIME-PARTS ...@@ line")
        m = parts[0]
        with open(dst, "wb") as out:
            out.write(tmpl[: m.start()])
            out.write((b"--" + m.group(1) + nl + nl) * int(m.group(2)))
            out.write(tmpl[m.end() + len(nl):])
        return
    marker = TEMPLATE_FILL.encode()
    if tmpl.count(marker) != 1:
        raise ValueError(f"{src}: needs exactly one {TEMPLATE_FILL} line")
    before, after = tmpl.split(marker)
    # Deterministic, incompressible-looking payload, 57 raw bytes per 76-character line.
    block = bytes((i * 151 + 7) % 256 for i in range(57 * 1024))
    with open(dst, "wb") as out:
        out.write(before)
        written = 0
        while written < TEMPLATE_BYTES:
            chunk = block[: TEMPLATE_BYTES - written]
            enc = base64.b64encode(chunk)
            out.write(nl.join(enc[i:i + 76] for i in range(0, len(enc), 76)))
            written += len(chunk)
            if written < TEMPLATE_BYTES:
                out.write(nl)
        out.write(after)


def read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def cases():
    names = {}
    for entry in sorted(os.listdir(corpus)):
        if entry.endswith(".eml"):
            names[entry[:-4]] = entry
        elif entry.endswith(".eml.tmpl"):
            names[entry[:-9]] = entry
    return sorted(names.items())


def run_case(name, message_file):
    """Returns (ok, details)."""
    base = os.path.join(corpus, name)
    want_txt, want_reply = base + ".txt", base + ".reply"
    if os.path.exists(want_txt) == os.path.exists(want_reply):
        return False, "    needs exactly one of %s.txt or %s.reply" % (name, name)
    if message_file.endswith(".tmpl"):
        generated = os.path.join(work, name + ".eml")
        expand_template(message_file, generated)
        message_file = generated
    conf = os.path.join(work, name + ".conf")
    with open(conf, "wb") as f:
        f.write(read(os.path.join(corpus, "base.conf")))
        if os.path.exists(base + ".conf"):
            f.write(b"\n" + read(base + ".conf"))
    cmd = [binary, "render", "-c", conf, "--from", SENDER, "--to", RCPT, "--json", message_file]
    p = subprocess.run(cmd, capture_output=True, timeout=120)
    if p.returncode != 0:
        return False, "    render exited %d: %s" % (p.returncode, p.stderr.decode(errors="replace").strip())
    lines = [l for l in p.stdout.decode("utf-8", errors="replace").splitlines() if l.strip()]
    if len(lines) != 1:
        return False, "    expected one JSON line, got:\n" + p.stdout.decode(errors="replace")
    result = json.loads(lines[0])
    problems = []
    if os.path.exists(want_reply):
        want = read(want_reply).decode("utf-8")
        if result.get("result") != "reject":
            problems.append("    want a reject, got result=%r" % result.get("result"))
            got = result.get("text", result.get("reply", ""))
        else:
            got = result.get("reply", "")
    else:
        want = read(want_txt).decode("utf-8")
        if result.get("result") != "sms":
            problems.append("    want an SMS, got result=%r reply=%r" % (result.get("result"), result.get("reply")))
        got = result.get("text", result.get("reply", ""))
    if got != want:
        problems.append(diff(want, got))
    if os.path.exists(base + ".meta"):
        for line in read(base + ".meta").decode().splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, _, value = (x.strip() for x in line.partition("="))
            have = result.get(key)
            if str(have) != value:
                problems.append("    %s: want %s, got %s" % (key, value, have))
    return not problems, "\n".join(problems)


known = read_known()
all_cases = cases()
passed = failed = xfail = xpass = 0
seen = set()
for name, entry in all_cases:
    seen.add(name)
    if filters and not any(f in name for f in filters):
        continue
    try:
        ok, details = run_case(name, os.path.join(corpus, entry))
    except Exception as e:  # a broken case is a failure, not a crash of the runner
        import traceback
        ok, details = False, "    runner error: " + traceback.format_exc().replace("\n", "\n    ")
    if name in known:
        if ok:
            xpass += 1
            failed += 1
            print("FAIL %s (XPASS: listed in KNOWN-FAILURES but passes; remove it from the list)" % name)
        else:
            xfail += 1
            passed += 1
            print("XFAIL %s (%s)" % (name, known[name]))
    elif ok:
        passed += 1
        print("PASS %s" % name)
    else:
        failed += 1
        print("FAIL %s" % name)
        print(details)
for name in sorted(set(known) - seen):
    failed += 1
    print("FAIL %s (listed in KNOWN-FAILURES but there is no such case)" % name)
print("%d cases: %d PASS, %d XFAIL (expected failures, counted as passed), %d FAIL, %d XPASS"
      % (passed + failed, passed - xfail, xfail, failed - xpass, xpass))
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
PYTHON
