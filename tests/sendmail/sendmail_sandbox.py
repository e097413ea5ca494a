"""A real Debian Sendmail 8.17, unpacked from its .debs, set up as Debian's postinst does, in a
private mount, network, UTS and PID namespace (tests/sendmail/run.sh enters it).

Sendmail and Postfix conflict as packages, so nothing is installed on the host: the .debs
(tools/fetch-sendmail.sh) are unpacked with dpkg-deb -x into WORKDIR/root, and overlay mounts
put them under /usr, /etc and /var, with the writes going to WORKDIR/upper-*. Debian's own
paths and commands then work exactly as the docs write them: /etc/mail/sendmail.mc,
/etc/mail/access, /etc/mail/mailertable, `make -C /etc/mail`, /run/sms-milter/sms-milter.sock.
The mounts disappear with the namespace; the host's /etc, /usr, /var and /run are untouched.

The network namespace has only `lo`: Sendmail listens on 127.0.0.1:25 and :587 as Debian's
sendmail.mc says, SMART_HOST sends ordinary mail to smtp-sink on 127.0.0.2:25, and nothing can
leave the machine. /etc/resolv.conf names fake_dns.py on 127.0.0.1, which answers NXDOMAIN to
everything. 198.51.100.10 (TEST-NET-2, on lo) plays an internal client outside Debian's
default `Connect:127 RELAY`.

There is no syslog daemon: a thread receives /dev/log (an overlay over /dev keeps the socket
out of the host's /dev) and appends Sendmail's lines to WORKDIR/maillog.
"""

import glob
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import threading
import time

from fake_dns import FakeDNS
from postfix_sandbox import sink_messages, wait_for_sink

DEBS = os.environ.get("SENDMAIL_DEBS", "/var/cache/sms-milter-tests/sendmail")
PACKAGES = ("sendmail-base", "sendmail-bin", "sendmail-cf", "libwrap0", "liblockfile1")
HOSTNAME = "relay.e2e.test"
SINK_ADDR = "127.0.0.2"
LAN_CLIENT = "198.51.100.10"
PID_FILE = "/run/sendmail/mta/sendmail.pid"
SANDBOX_BEGIN = "dnl ---- sandbox only (tests/sendmail), not from the docs ----"


def run(cmd, check=True, timeout=120, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kw)
    if check and proc.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s%s" % (" ".join(cmd) if isinstance(cmd, list)
                                                      else cmd, proc.returncode, proc.stdout,
                                                      proc.stderr))
    return proc


def in_private_namespace():
    """True only inside run.sh's namespaces: never mount over the host's /etc."""
    if os.environ.get("SMS_MILTER_SENDMAIL_NS") != "1":
        return False
    with open("/proc/net/dev") as f:
        ifaces = [l.split(":")[0].strip() for l in f.readlines()[2:]]
    return ifaces == ["lo"]


class Syslog:
    """Receives syslog datagrams on /dev/log; lines() returns the text of each message."""

    def __init__(self, path):
        self.path = path
        self.sock = None
        self.thread = None
        self.lock = threading.Lock()

    def start(self):
        if os.path.exists("/dev/log"):
            os.unlink("/dev/log")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("/dev/log")
        os.chmod("/dev/log", 0o666)
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        with open(self.path, "ab", buffering=0) as out:
            while True:
                try:
                    data = self.sock.recv(65536)
                except OSError:
                    return
                with self.lock:
                    out.write(data.rstrip(b"\0\n") + b"\n")

    def stop(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def text(self):
        try:
            with open(self.path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


class SendmailSandbox:
    def __init__(self, workdir):
        self.workdir = workdir
        self.root = os.path.join(workdir, "root")
        self.maillog = os.path.join(workdir, "maillog")
        self.sink_dir = os.path.join(workdir, "sink")
        self.syslog = Syslog(self.maillog)
        self.dns = FakeDNS()
        self.sink_proc = None

    # ---- the "install": unpack, mount, what Debian's postinst does -----------------------
    def install(self):
        if not in_private_namespace():
            raise RuntimeError("SendmailSandbox must run inside tests/sendmail/run.sh's "
                               "namespaces (it mounts over /etc, /usr, /var, /run, /dev)")
        for p in PACKAGES:
            debs = sorted(glob.glob(os.path.join(DEBS, p + "_*.deb")))
            if not debs:
                raise RuntimeError("%s_*.deb not in %s: run tools/fetch-sendmail.sh" % (p, DEBS))
            run(["dpkg-deb", "-x", debs[-1], self.root])
        self._mount()
        run(["ip", "link", "set", "lo", "up"])
        # 127.0.0.2 stays unassigned (127/8 is local anyway): Sendmail counts the addresses
        # of its interfaces as itself, and would not relay to a SMART_HOST among them.
        run(["ip", "addr", "add", LAN_CLIENT + "/32", "dev", "lo"])
        run(["hostname", HOSTNAME])
        with open("/etc/hostname", "w") as f:
            f.write(HOSTNAME + "\n")
        with open("/etc/hosts", "w") as f:
            f.write("127.0.0.1\tlocalhost\n127.0.1.1\t%s %s\n::1\tlocalhost ip6-localhost\n"
                    % (HOSTNAME, HOSTNAME.split(".")[0]))
        with open("/etc/resolv.conf", "w") as f:
            f.write("nameserver 127.0.0.1\n")
        self.dns.start()
        self.syslog.start()
        self._postinst()

    def _mount(self):
        for d in ("usr", "etc", "var", "dev"):
            upper, work = (os.path.join(self.workdir, x + d) for x in ("upper-", "work-"))
            os.makedirs(upper)
            os.makedirs(work)
            lower = "/" + d if d == "dev" else "%s/%s:/%s" % (self.root, d, d)
            run(["mount", "-t", "overlay", "overlay", "-o",
                 "lowerdir=%s,upperdir=%s,workdir=%s" % (lower, upper, work), "/" + d])
        run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run"])

    def _postinst(self):
        """What sendmail-base's and sendmail-bin's postinst do on a fresh install."""
        for user in ("smmta", "smmsp"):
            run(["groupadd", "--system", user])
            run(["useradd", "--system", "-g", user, "-d", "/var/lib/sendmail",
                 "-s", "/usr/sbin/nologin", user])
        for link in ("/usr/sbin/sendmail-mta", "/usr/sbin/sendmail-msp", "/usr/sbin/sendmail",
                     "/usr/lib/sendmail"):
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink("/usr/libexec/sendmail/sendmail", link)
        for link, target in (("/usr/sbin/newaliases", "/usr/share/sendmail/newaliases"),
                             ("/usr/bin/mailq", "/usr/share/sendmail/mailq")):
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(target, link)
        os.makedirs("/var/lib/sendmail", exist_ok=True)
        # update_sendmail exits 1 when it changed something, as on every fresh install.
        proc = run(["/usr/share/sendmail/update_sendmail"], check=False)
        if not os.path.exists("/etc/mail/sendmail.cf"):
            raise RuntimeError("update_sendmail made no sendmail.cf:\n%s%s"
                               % (proc.stdout, proc.stderr))

    # ---- configuration -------------------------------------------------------------------
    def insert_mc_lines(self, lines, sandbox_lines=()):
        """Put lines into /etc/mail/sendmail.mc above MAILER_DEFINITIONS / MAILER(), as the
        docs say; sandbox_lines follow them in a block of their own."""
        with open("/etc/mail/sendmail.mc") as f:
            mc = f.read().split("\n")
        at = next(i for i, l in enumerate(mc) if l.startswith(("MAILER_DEFINITIONS", "MAILER(")))
        block = list(lines)
        if sandbox_lines:
            block += [SANDBOX_BEGIN] + list(sandbox_lines)
        mc[at:at] = block
        with open("/etc/mail/sendmail.mc", "w") as f:
            f.write("\n".join(mc))

    def remove_mc_lines(self, predicate):
        with open("/etc/mail/sendmail.mc") as f:
            mc = f.read().split("\n")
        with open("/etc/mail/sendmail.mc", "w") as f:
            f.write("\n".join(l for l in mc if not predicate(l)))

    def append(self, path, lines):
        with open(path, "a") as f:
            f.write("".join(l + "\n" for l in lines))

    def shell(self, command, timeout=120):
        """Run an admin's command line (from the docs) with /bin/sh; returns CompletedProcess."""
        return run(["sh", "-ec", command], timeout=timeout)

    # ---- daemons -------------------------------------------------------------------------
    def start_sink(self):
        os.makedirs(self.sink_dir, exist_ok=True)
        shutil.chown(self.sink_dir, "postfix", "postfix")
        out = open(os.path.join(self.workdir, "smtp-sink.log"), "ab")
        self.sink_proc = subprocess.Popen(
            ["smtp-sink", "-u", "postfix", "-h", "sink.e2e.test",
             "-d", os.path.join(self.sink_dir, "%Y%m%d%H%M%S."), SINK_ADDR + ":25", "64"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        if not wait_tcp(SINK_ADDR, 25, alive=lambda: self.sink_proc.poll() is None):
            raise RuntimeError("smtp-sink did not start")

    def daemon_pid(self):
        try:
            with open(PID_FILE) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def stop(self):
        """Stop the MTA daemon started by /etc/init.d/sendmail, by its pid file."""
        pid = self.daemon_pid()
        if pid is not None and _alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        # wait until port 25 is free again, so that a restart can bind it
        deadline = time.monotonic() + 10
        while wait_tcp("127.0.0.1", 25, timeout=0.1) and time.monotonic() < deadline:
            time.sleep(0.1)

    def shutdown(self):
        """Stop everything this sandbox started; safe at any point."""
        try:
            self.stop()
        finally:
            if self.sink_proc is not None and self.sink_proc.poll() is None:
                self.sink_proc.terminate()
                try:
                    self.sink_proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.sink_proc.kill()
                    self.sink_proc.wait()
            self.sink_proc = None
            self.syslog.stop()
            self.dns.stop()

    # ---- observing -----------------------------------------------------------------------
    def log(self):
        return self.syslog.text()

    def wait_log(self, predicate, timeout=20.0):
        """Poll the mail log until predicate(text) holds; return the text."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()
            if predicate(text) or time.monotonic() >= deadline:
                return text
            time.sleep(0.1)

    def queue_files(self):
        return [f for f in os.listdir("/var/spool/mqueue") if f[:2] in ("qf", "df", "Qf")]

    def sink_messages(self):
        """Messages the sink got: dicts with mail_from, rcpts (list), data, file."""
        return sink_messages(self.sink_dir)

    def wait_for_sink(self, predicate, timeout=20.0):
        return wait_for_sink(self.sink_dir, predicate, timeout)

    # ---- sending -------------------------------------------------------------------------
    def smtp(self, sender, rcpts, raw, source="127.0.0.1", port=25, auth=None, timeout=60):
        """One SMTP transaction, one RCPT per recipient. Returns (rcpt replies, DATA reply):
        {rcpt: (code, text)}, and (code, text) or None when no recipient was accepted."""
        raw = re.sub(rb"\r?\n", b"\r\n", raw)  # Sendmail 8.17 refuses bare LF
        with smtplib.SMTP("127.0.0.1", port, source_address=(source, 0), timeout=timeout,
                          local_hostname="client.e2e.test") as s:
            s.ehlo()
            if auth:
                s.login(*auth)
            code, text = s.mail(sender)
            if code != 250:
                return {r: (code, text.decode()) for r in rcpts}, None
            replies = {r: tuple((c, t.decode())) for r in rcpts for c, t in [s.rcpt(r)]}
            data = None
            if any(c in (250, 251) for c, _ in replies.values()):
                code, text = s.data(raw)
                data = (code, text.decode())
            else:
                s.rset()
        return replies, data




def _alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_tcp(host, port, timeout=10.0, alive=None):
    deadline = time.monotonic() + timeout
    while True:
        if alive is not None and not alive():
            return False
        try:
            socket.create_connection((host, port), timeout=1).close()
            return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
