"""The documented install path (README "Install"), end to end, on this machine.

Run by tests/install/run.sh as root inside private mount, network and PID namespaces; see
world.py. Each README block is read from README.md by its `<!-- tested: NAME -->` marker and
run as written.

The package (really installed on this machine, then purged):
 1. Postfix set up as Debian's postinst sets up an "Internet Site" relay (main.cf.debian,
    master.cf.dist: smtpd chrooted), started before sms-milter exists.
 2. install-package: build the .deb with the one command, apt-get install it; lintian on the
    .changes shows no error; the files, owners and modes postinst promises are there.
 3. The scenario below, with the unit /lib/systemd/system/sms-milter.service.
 4. apt-get purge removes the state, the socket directory and /etc/sms-milter.

By hand (install-by-hand), in an overlay of / that vanishes afterwards, on a system without
the user sms-milter: the same Postfix, the README's commands with the binary under test
as build/sms-milter, then the same scenario with /etc/systemd/system/sms-milter.service.

The scenario: install-config and install-start (the token through the README's `read` line,
`check --online` as the service user; the last line `systemctl enable --now sms-milter` is
replaced by starting ExecStart= as the unit would, see unit_daemon.py); postfix-snippet
appended to main.cf and install-postfix-net; one alert reaches the fake Twilio and nothing
reaches the next hop; an ordinary co-recipient does reach it; with the milter removed from
main.cf the SMS mail bounces with 5.3.0 through the safety net and is never relayed.

TEST-ONLY deviations from the README, nothing else: the SID and token of the fake Twilio for
the README's placeholders; twilio_api_url and twilio_ca_file pointing at the fake; log_to =
stderr (no syslog daemon here; under systemd the journal takes stderr); the Postfix settings
marked TEST-ONLY in world.py; `systemctl daemon-reload` of the hand install is skipped.
"""

import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))

from doc_snippets import readme_block  # noqa: E402
from fake_twilio import FakeTwilio  # noqa: E402
from pki import make_pki  # noqa: E402
from unit_daemon import UnitDaemon  # noqa: E402
from world import (STEP_PREFIX, Failed, Sink, check, expect_mode_owner, maillog, postfix_internet_site,  # noqa: E402
                   postfix_reload, postfix_start, private_mounts, queue_drained, run,
                   run_block, send, step, wait)

PACKAGE_UNIT = "/lib/systemd/system/sms-milter.service"
HAND_UNIT = "/etc/systemd/system/sms-milter.service"
CONF = "/etc/sms-milter/sms-milter.conf"
TOKEN_FILE = "/etc/sms-milter/twilio-auth-token"
SOCKET = "/var/spool/postfix/sms-milter/sms-milter.sock"
EXAMPLES = "/usr/share/doc/sms-milter/examples/"
SRC = "/tmp/sms-milter-src"  # the hand install's source tree, inside the overlay


def set_config_keys(lines, account_sid):
    """README install-config: set each `key = value` in the config (the example has each
    key once, with a placeholder value)."""
    with open(CONF) as f:
        conf = f.read()
    for line in lines:
        key, _, value = (x.strip() for x in line.partition("="))
        check(key and value, "install-config: %r is not `key = value`" % line)
        if key == "twilio_account_sid":
            value = account_sid  # the placeholder, replaced as the admin does
        pattern = re.compile(r"^%s[ \t]*=.*$" % re.escape(key), re.M)
        check(len(pattern.findall(conf)) == 1,
              "install-config: %s has no single `%s =` line to set" % (CONF, key))
        conf = pattern.sub(lambda _: "%s = %s" % (key, value), conf)
    with open(CONF, "w") as f:  # keeps the file's owner and mode, as an editor does
        f.write(conf)


def scenario(work, unit, sink, examples=EXAMPLES, cwd="/"):
    """Configure, start and attach sms-milter as the README says; send through Postfix."""
    token, account_sid = secrets.token_hex(16), "AC" + secrets.token_hex(16)
    outputs = []  # what the admin's commands printed: the token must appear in none of it
    fake = daemon = None
    try:
        step("README install-config and install-start (check --online as the service user)")
        pki = make_pki(os.path.join(work, "pki"))
        os.chmod(os.path.join(work, "pki"), 0o755)  # twilio_ca_file, read by sms-milter
        fake = FakeTwilio(pki["cert"], pki["key"], account_sid, token,
                          log_path=os.path.join(work, "fake-twilio.log")).start()
        set_config_keys(readme_block("install-config"), account_sid)
        with open(CONF, "a") as f:
            f.write("\n# TEST-ONLY (tests/install): the fake Twilio; stderr for the log\n"
                    "twilio_api_url = %s\ntwilio_ca_file = %s\nlog_to = stderr\n"
                    % (fake.url, pki["ca"]))
        lines = readme_block("install-start")
        check(lines[-1] == "systemctl enable --now sms-milter",
              "install-start should end with `systemctl enable --now sms-milter`")
        proc = run_block("install-start", lines[:-1], input_text=token + "\n")
        outputs.append(proc.stdout + proc.stderr)
        print("    " + outputs[-1].strip().replace("\n", "\n    "))
        expect_mode_owner(TOKEN_FILE, 0o600, "sms-milter", "sms-milter")
        with open(TOKEN_FILE) as f:
            check(f.read() == token + "\n", TOKEN_FILE + " does not hold the token")

        step("systemctl enable --now: ExecStart= as %s would run it" % unit)
        daemon = UnitDaemon(unit, os.path.join(work, "sms-milter.log"))
        daemon.start(SOCKET)
        expect_mode_owner(SOCKET, 0o660, "sms-milter", "sms-milter")
        # No core dump may hold the token: the unit forbids core files, and the daemon makes
        # itself non-dumpable (its /proc/PID files then belong to root, not sms-milter).
        check(daemon.core == "0", unit + " lacks LimitCORE=0")
        with open("/proc/%d/limits" % daemon.proc.pid) as f:
            core = [l.split()[4:6] for l in f if l.startswith("Max core file size")]
        check(core == [["0", "0"]], "the daemon's core file size limit: %r" % core)
        check(os.stat("/proc/%d/environ" % daemon.proc.pid).st_uid == 0,
              "the daemon is dumpable: its /proc/PID/environ belongs to sms-milter")

        step("README postfix-snippet (into main.cf) and install-postfix-net")
        with open("/etc/postfix/main.cf", "a") as f:
            f.write("\n" + "\n".join(readme_block("postfix-snippet")) + "\n")
        reloads = maillog().count("reload -- version")
        net = [l.replace(EXAMPLES, examples) for l in readme_block("install-postfix-net")]
        proc = run_block("install-postfix-net", net, cwd=cwd)
        outputs.append(proc.stdout + proc.stderr)
        wait(lambda: maillog().count("reload -- version") > reloads, 10, "postfix reload")

        step("one alert: the SMS reaches the fake Twilio, nothing reaches the next hop")
        send(["14155550123@sms.example.com"], "DISK FULL on db1",
             "/var/lib/postgresql is 98% full.\n")
        got = wait(lambda: fake.messages(), 30, lambda: "the SMS at the fake Twilio; logs:\n"
                   + daemon.log_text()[-2000:] + maillog()[-2000:])
        check(len(got) == 1 and got[0]["to"] == "+14155550123" and
              got[0]["from"] == "+15017122661" and "DISK FULL on db1" in got[0]["body"],
              "unexpected SMS: %r" % [(m["to"], m["from"], m["body"]) for m in got])
        queue_drained()
        check(sink.messages() == [], "the alert reached the next hop: %r"
              % [(m["from"], m["rcpts"]) for m in sink.messages()])
        wait(lambda: "status=sent" in daemon.log_text(), 15, "status=sent in the daemon log")
        proc = run(["runuser", "-u", "sms-milter", "--", "sms-milter", "queue", "list"])
        outputs.append(proc.stdout + proc.stderr)

        step("an SMS and an ordinary recipient: only the ordinary one reaches the next hop")
        send(["14155550124@sms.example.com", "ops@example.org"], "RAID degraded", "md0\n")
        wait(lambda: sink.messages(), 30, "the ordinary recipient at the next hop")
        wait(lambda: len(fake.messages()) == 2, 30, "the second SMS")
        queue_drained()
        got = sink.messages()
        check(len(got) == 1 and got[0]["rcpts"] == ["ops@example.org"],
              "the next hop should get only ops@example.org: %r"
              % [(m["from"], m["rcpts"]) for m in got])

        step("safety net: without the milter in main.cf, SMS mail bounces, never relayed")
        run(["postconf", "-X", "smtpd_milters", "non_smtpd_milters"])
        postfix_reload()
        send(["14155550125@sms.example.com"], "not attached", "no milter\n")
        bounced = re.compile(r"to=<14155550125@sms\.example\.com>, relay=sms-not-attached, "
                             r".*dsn=5\.3\.0, status=bounced \(.*SMS gateway milter not attached")
        wait(lambda: bounced.search(maillog()), 30,
             lambda: "the bounce in the maillog:\n" + maillog()[-3000:])
        dsn = wait(lambda: [m for m in sink.messages() if m["from"] == ""], 30,
                   "the bounce to the sender at the next hop")
        check(dsn[0]["rcpts"] == ["alerts@example.com"] and "5.3.0" in dsn[0]["text"],
              "unexpected bounce: %r" % dsn[0]["rcpts"])
        queue_drained()
        check(not [m for m in sink.messages() if "14155550125@sms.example.com" in m["rcpts"]],
              "SMS mail was relayed without the milter")
        check(len(fake.messages()) == 2, "an SMS was sent without the milter")

        step("systemctl stop: SIGTERM")
        rc = daemon.stop()
        check(rc == 0, "sms-milter exited %s on SIGTERM" % rc)
        with open(os.path.join(work, "fake-twilio.log")) as f:
            outputs.append(f.read())
        for text in outputs + [daemon.log_text(), maillog()]:
            check(token not in text, "the Twilio token appeared in output or logs")
    except Failed:
        if daemon is not None:
            print("--- sms-milter log (tail) ---\n" + daemon.log_text()[-3000:], file=sys.stderr)
        raise
    finally:
        for stop in (lambda: daemon and daemon.stop(), lambda: fake and fake.stop()):
            try:
                stop()
            except Exception as e:  # keep stopping the rest
                print("cleanup: %s" % e, file=sys.stderr)


def with_postfix(work, body):
    """Debian's Internet Site Postfix and the sink around body(sink); always stopped."""
    postfix_internet_site()
    sink = Sink(work)
    started = False
    try:
        postfix_start()
        started = True
        body(sink)
        run(["postfix", "stop"])
        started = False
    except Failed:
        print("--- mail.log (tail) ---\n" + maillog()[-3000:], file=sys.stderr)
        raise
    finally:
        if started:
            run(["postfix", "abort"], check_rc=False)
        sink.stop()


# ---- the package --------------------------------------------------------------------------

def package(work, env):
    def body(sink):
        step("README install-package: build the .deb with the one command, apt-get install it")
        run_block("install-package", readme_block("install-package"), cwd=REPO, env=env,
                         timeout=600)
        out = os.path.join(REPO, "build-deb")
        debs = [f for f in os.listdir(out) if re.match(r"sms-milter_.*\.deb$", f)]
        check(len(debs) == 1, "build-deb/ should hold one sms-milter .deb: %s" % debs)
        step("  %s: %d bytes" % (debs[0], os.path.getsize(os.path.join(out, debs[0]))))

        changes = [f for f in os.listdir(out) if f.endswith(".changes")]
        check(len(changes) == 1, "build-deb/ should hold one .changes: %s" % changes)
        lint = run(["lintian", "--pedantic", "--display-info", os.path.join(out, changes[0])],
                   check_rc=False, timeout=300)
        tags = [l for l in lint.stdout.splitlines() if re.match(r"^[EWIPX]: ", l)]
        counts = [sum(1 for t in tags if t.startswith(k + ":")) for k in "EWIP"]
        step("  lintian: %d errors, %d warnings, %d info, %d pedantic" % tuple(counts))
        for t in tags:
            print("    " + t)
        stderr = lint.stderr.replace("running with root privileges is not recommended!", "")
        check(counts[0] == 0 and lint.returncode == 0 and not stderr.strip(),
              "lintian: errors or a failure (exit %d):\n%s%s"
              % (lint.returncode, lint.stdout, lint.stderr))

        step("what the package installed and created")
        for path in ("/usr/sbin/sms-milter", "/usr/lib/sms-milter/not-attached"):
            check(os.access(path, os.X_OK), path + " is not executable")
        for path in (PACKAGE_UNIT, "/usr/share/man/man8/sms-milter.8.gz",
                     "/usr/share/man/man5/sms-milter.conf.5.gz", EXAMPLES + "sms-milter.conf",
                     EXAMPLES + "postfix-master.cf", EXAMPLES + "transport"):
            check(os.path.isfile(path), path + " is missing")
        conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", "sms-milter"]).stdout
        check(CONF in conffiles, CONF + " is not a conffile")
        check(not os.path.lexists("/etc/systemd/system/multi-user.target.wants/"
                                  "sms-milter.service"), "the unit was enabled on install")
        check_created("/lib/systemd/system")

        scenario(work, PACKAGE_UNIT, sink)

    with_postfix(work, body)

    step("apt-get purge removes the state")
    run(["apt-get", "purge", "sms-milter"], env=env, timeout=300)
    for path in ("/var/lib/sms-milter", "/var/spool/postfix/sms-milter", "/etc/sms-milter",
                 "/usr/sbin/sms-milter", PACKAGE_UNIT):
        check(not os.path.lexists(path), path + " is still there after purge")
    status = run(["dpkg-query", "-W", "-f=${db:Status-Status}", "sms-milter"],
                 check_rc=False).stdout
    check(status in ("", "not-installed"), "dpkg still knows sms-milter: %r" % status)


def check_created(unit_dir):
    """What postinst (or the hand install) must have created."""
    user = pwd.getpwnam("sms-milter")
    check(user.pw_uid < 1000 and user.pw_dir == "/var/lib/sms-milter" and
          user.pw_shell.endswith("nologin"), "sms-milter is not a system user: %s" % (user,))
    expect_mode_owner("/etc/sms-milter", 0o750, "root", "sms-milter")
    expect_mode_owner(CONF, 0o640, "root", "sms-milter")
    expect_mode_owner("/var/lib/sms-milter", 0o700, "sms-milter", "sms-milter")
    expect_mode_owner("/var/spool/postfix/sms-milter", 0o750, "sms-milter", "sms-milter")
    check("sms-milter" in run(["id", "-nG", "postfix"]).stdout.split(),
          "postfix is not in group sms-milter")
    check(os.path.isfile(os.path.join(unit_dir, "sms-milter.service")), "no unit in " + unit_dir)


# ---- by hand, in an overlay of / -----------------------------------------------------------

def by_hand(work, binary):
    """Mount an overlay of / with the repo and a copy of the source tree, run the by-hand
    phase (by_hand_inside) chrooted into it, unmount."""
    top = tempfile.mkdtemp(prefix="sms-milter-overlay-")
    root = os.path.join(top, "root")
    try:
        run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", top])
        for d in ("upper", "work", "root"):
            os.mkdir(os.path.join(top, d))
        run(["mount", "-t", "overlay", "overlay", "-o", "lowerdir=/,upperdir=%s,workdir=%s"
             % (os.path.join(top, "upper"), os.path.join(top, "work")), root])
        run(["mount", "-t", "proc", "proc", os.path.join(root, "proc")])
        dev = os.path.join(root, "dev")
        run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", dev])
        for name, minor in (("null", 3), ("zero", 5), ("random", 8), ("urandom", 9)):
            os.mknod(os.path.join(dev, name), 0o20666, os.makedev(1, minor))
            os.chmod(os.path.join(dev, name), 0o666)
        inner_repo = root + REPO
        os.makedirs(inner_repo, exist_ok=True)
        run(["mount", "--bind", "-o", "ro", REPO, inner_repo])
        src = root + SRC
        os.makedirs(os.path.join(src, "build"))
        shutil.copy(binary, os.path.join(src, "build", "sms-milter"))
        for d in ("packaging", "conf-examples"):
            shutil.copytree(os.path.join(REPO, d), os.path.join(src, d))
        proc = subprocess.run(["chroot", root, "env", "SMS_MILTER_INSTALL_NS=1", "python3",
                               os.path.join(REPO, "tests", "install", "test_install.py"),
                               "--by-hand"], stdin=subprocess.DEVNULL, timeout=300)
        check(proc.returncode == 0, "the by-hand install failed (see above)")
    finally:
        umount = run(["umount", "-R", top], check_rc=False)
        if umount.returncode == 0:  # never remove through a mount
            shutil.rmtree(top, ignore_errors=True)
        else:
            print("cleanup: umount -R %s: %s" % (top, umount.stderr), file=sys.stderr)


def by_hand_inside():
    """Inside the overlay: a system that never had sms-milter, the README's commands."""
    work = tempfile.mkdtemp(prefix="sms-milter-by-hand-")
    os.chmod(work, 0o755)
    private_mounts(work)
    run(["userdel", "sms-milter"], check_rc=False)
    run(["groupdel", "sms-milter"], check_rc=False)
    for path in ("/etc/sms-milter", "/var/lib/sms-milter", "/usr/lib/sms-milter"):
        shutil.rmtree(path, ignore_errors=True)

    def body(sink):
        step("README install-by-hand (in an overlay of /; without systemctl daemon-reload)")
        lines = readme_block("install-by-hand")
        check("systemctl daemon-reload" in lines, "install-by-hand: no systemctl daemon-reload")
        run_block("install-by-hand", [l for l in lines if l != "systemctl daemon-reload"],
                  cwd=SRC)
        for path in ("/usr/sbin/sms-milter", "/usr/lib/sms-milter/not-attached"):
            check(os.access(path, os.X_OK), path + " is not executable")
        check_created("/etc/systemd/system")
        scenario(work, HAND_UNIT, sink, examples="conf-examples/", cwd=SRC)

    with_postfix(work, body)


# ---- main ---------------------------------------------------------------------------------

def main():
    check(os.geteuid() == 0, "needs root")
    check(os.environ.get("SMS_MILTER_INSTALL_NS") == "1",
          "run tests/install/run.sh (it makes the private namespaces)")
    if sys.argv[1:] == ["--by-hand"]:
        STEP_PREFIX[0] = "by hand: "
        by_hand_inside()
        return
    binary = os.environ.get("SMS_MILTER_BIN", os.path.join(REPO, "build", "sms-milter"))
    check(os.access(binary, os.X_OK), "no sms-milter binary at %s (set SMS_MILTER_BIN)"
          % binary)
    work = tempfile.mkdtemp(prefix="sms-milter-install-")
    os.chmod(work, 0o755)
    apt_conf = os.path.join(work, "apt.conf")
    with open(apt_conf, "w") as f:  # the admin answers apt's questions; other apt runs
        f.write('APT::Get::Assume-Yes "true";\nDPkg::Lock::Timeout "120";\n')
    env = dict(os.environ, APT_CONFIG=apt_conf, DEBIAN_FRONTEND="noninteractive")
    had_user = run(["getent", "passwd", "sms-milter"], check_rc=False).returncode == 0
    try:
        private_mounts(work)
        if run(["dpkg-query", "-W", "-f=${db:Status-Status}", "sms-milter"],
               check_rc=False).stdout == "installed":
            step("sms-milter is installed already: purging it first")
            run(["apt-get", "purge", "sms-milter"], env=env, timeout=300)
        package(work, env)
        by_hand(work, binary)
    finally:
        if run(["dpkg-query", "-W", "-f=${db:Status-Status}", "sms-milter"],
               check_rc=False).stdout not in ("", "not-installed"):
            run(["apt-get", "purge", "sms-milter"], env=env, check_rc=False, timeout=300)
        if not had_user:  # the package keeps its user on purge; the test leaves none
            run(["userdel", "sms-milter"], check_rc=False)
            run(["groupdel", "sms-milter"], check_rc=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except Failed as e:
        print("FAILED: %s" % e, file=sys.stderr)
        sys.exit(1)
    step("install path ok")
