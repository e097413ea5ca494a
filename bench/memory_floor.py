#!/usr/bin/env python3
"""Memory floor: how much of sms-milter's idle RSS is loading its libraries, and how much is its own.

Builds three do-nothing C++ programs (print a line, sleep) and measures their RSS: one linked
with nothing extra, one linked with exactly the shared libraries the daemon names (its
DT_NEEDED entries, read from the binary), and, for each of those libraries, one linked with it
alone. Then starts the daemon on a minimal config (unix socket, fake Twilio over HTTPS,
nothing sent) and prints its idle RSS, its own part (the growth over the do-nothing program
with the same libraries) per mapping, and smaps_rollup's split into private dirty memory
(the daemon's own heap, stacks and relocations) and clean file pages (library code and data,
which the kernel can drop and read again).

Usage: sudo bench/memory_floor.py      (SMS_MILTER_BIN, default build/sms-milter)
Prints figures and asserts nothing.
"""

import collections
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

from fake_twilio import FakeTwilio  # noqa: E402
from milter_proc import MilterInstance, milter_bin  # noqa: E402
from pki import make_pki  # noqa: E402

NOP = r"""
#include <cstdio>
#include <string>
#include <unistd.h>
int main() { std::string s = "ready"; std::puts(s.c_str()); std::fflush(stdout); pause(); }
"""


def needed(binary):
    out = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True,
                         check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", out)


def smaps(pid):
    """RSS in KiB per mapped file name ([heap], [anon], ... for the rest)."""
    rss, name = collections.Counter(), None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            parts = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                name = os.path.basename(parts[5]) if len(parts) > 5 else "[anon]"
            elif parts[0] == "Rss:":
                rss[name] += int(parts[1])
    return rss


def rollup(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        return {p[0].rstrip(":"): int(p[1]) for p in (l.split() for l in f) if len(p) == 3}


def nop_rss(workdir, libs):
    exe = os.path.join(workdir, "nop")
    src = exe + ".cpp"
    with open(src, "w") as f:
        f.write(NOP)
    subprocess.run(["g++", "-O2", src, "-o", exe, "-Wl,--no-as-needed"] +
                   ["-l:" + lib for lib in libs], check=True)
    proc = subprocess.Popen([exe], stdout=subprocess.PIPE)
    try:
        proc.stdout.readline()
        return smaps(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def daemon_rss(workdir):
    pki = make_pki(os.path.join(workdir, "pki"))
    sid, token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
    token_file = os.path.join(workdir, "token")
    with open(token_file, "w") as f:
        f.write(token)
    os.chmod(token_file, 0o600)
    fake = FakeTwilio(pki["cert"], pki["key"], sid, token)
    fake.start()
    milter = MilterInstance("idle", workdir, fake.url, pki["ca"], sid, token_file)
    try:
        milter.start()
        time.sleep(3)  # past start-up and the first housekeeping
        return smaps(milter.proc.pid), rollup(milter.proc.pid)
    finally:
        milter.stop()
        fake.stop()


def mib(kib):
    return "%.1f MiB" % (kib / 1024)


def main():
    binary = milter_bin()
    libs = needed(binary)
    with tempfile.TemporaryDirectory(prefix="memory-floor-") as workdir:
        bare = sum(nop_rss(workdir, []).values())
        floor_map = nop_rss(workdir, libs)
        floor = sum(floor_map.values())
        alone = [(sum(nop_rss(workdir, [lib]).values()) - bare, lib) for lib in libs]
        daemon_map, roll = daemon_rss(workdir)
    daemon = sum(daemon_map.values())
    print("RSS of a do-nothing C++ program:                        %s" % mib(bare))
    print("the same, linked with the daemon's %d libraries (%d mapped): %s" % (
        len(libs), sum(1 for k in floor_map if ".so" in k), mib(floor)))
    print("sms-milter idle after start:                             %s" % mib(daemon))
    print("  private dirty (its own heap, stacks, relocations):     %s" % mib(roll["Private_Dirty"]))
    print("  clean file pages (library code and data):              %s" % mib(
        roll["Private_Clean"] + roll["Shared_Clean"]))
    print("\nwhat loading each library (and what it pulls in) adds to the do-nothing program:")
    for extra, lib in sorted(alone, reverse=True):
        print("  %8s  %s" % (mib(extra), lib))
    print("\nwhere the daemon's own %s (idle minus the linked do-nothing program) lies:" % mib(
        daemon - floor))
    growth = {k: daemon_map[k] - floor_map.get(k, 0) for k in daemon_map}
    for name, extra in sorted(growth.items(), key=lambda kv: -kv[1])[:12]:
        print("  %8s  %s" % (mib(extra), name))


if __name__ == "__main__":
    main()
