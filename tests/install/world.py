"""The private world of the install test: mounts, a Postfix set up as Debian's postinst sets
up an "Internet Site" relay, an smtp-sink as its next hop, and small helpers.

Everything here runs inside the namespaces tests/install/run.sh makes (private mounts,
private network, private PIDs), so Postfix uses its real paths (/etc/postfix,
/var/spool/postfix, port 25) without touching the machine's own instance.
"""

import grp
import os
import pwd
import re
import shutil
import smtplib
import socket
import stat
import subprocess
import time
from email.message import EmailMessage

from admin_steps import Failed, run_block, wait  # noqa: F401 (used by the install tests)

SINK_PORT = 2525  # private network namespace: fixed ports are fine
MYHOSTNAME = "relay.example.net"
SPOOL_QUEUES = ("incoming", "active", "deferred", "hold", "maildrop")
PRIVATE = ("/etc/postfix", "/var/spool/postfix", "/var/lib/postfix", "/var/log", "/run")
STARTED = time.monotonic()
STEP_PREFIX = [""]  # e.g. "by hand: " for the phase in the overlay


def step(text):
    print("[%5.1fs] %s%s" % (time.monotonic() - STARTED, STEP_PREFIX[0], text), flush=True)


def check(cond, text):
    if not cond:
        raise Failed(text)


def run(cmd, timeout=120, check_rc=True, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          stdin=kw.pop("stdin", subprocess.DEVNULL), **kw)
    if check_rc and proc.returncode != 0:
        raise Failed("%s exited %d:\n%s%s" % (cmd if isinstance(cmd, str) else " ".join(cmd),
                                              proc.returncode, proc.stdout[-3000:],
                                              proc.stderr[-3000:]))
    return proc


def expect_mode_owner(path, mode, owner, group):
    st = os.stat(path)
    got = (stat.S_IMODE(st.st_mode), pwd.getpwuid(st.st_uid).pw_name,
           grp.getgrgid(st.st_gid).gr_name)
    check(got == (mode, owner, group), "%s: want %04o %s:%s, got %04o %s:%s"
          % (path, mode, owner, group, *got))


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


# ---- mounts ------------------------------------------------------------------------------

def private_mounts(work):
    """tmpfs over PRIVATE; /etc/postfix keeps the files of the postfix package."""
    run(["ip", "link", "set", "lo", "up"])
    saved = os.path.join(work, "etc-postfix")
    shutil.copytree("/etc/postfix", saved, symlinks=True)
    for path in PRIVATE:
        run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", path])
    for name in os.listdir(saved):  # dynamicmaps.cf, postfix-files, postfix-script, sasl/...
        if name in ("main.cf", "master.cf") or name.startswith(("transport", "aliases")):
            continue
        src, dst = os.path.join(saved, name), os.path.join("/etc/postfix", name)
        if os.path.isdir(src) and not os.path.islink(src):
            shutil.copytree(src, dst, symlinks=True)
        else:
            shutil.copy2(src, dst, follow_symlinks=False)
    postfix = pwd.getpwnam("postfix")
    os.chown("/var/lib/postfix", postfix.pw_uid, postfix.pw_gid)
    os.mkdir("/var/log/apt")  # apt's term.log and history.log


# ---- Postfix -----------------------------------------------------------------------------

def postfix_internet_site():
    """main.cf and master.cf as Debian's postinst writes them for "Internet Site"
    (main.cf.debian plus its postconf -e settings; master.cf.dist: smtpd chrooted)."""
    shutil.copy("/usr/share/postfix/main.cf.debian", "/etc/postfix/main.cf")
    shutil.copy("/usr/share/postfix/master.cf.dist", "/etc/postfix/master.cf")
    # TEST-ONLY: the aliases database in /etc/postfix (private here) instead of /etc/aliases.
    shutil.copy("/etc/aliases", "/etc/postfix/aliases")
    run(["postconf", "-e",
         "smtpd_relay_restrictions=permit_mynetworks permit_sasl_authenticated "
         "defer_unauth_destination",
         "myhostname=" + MYHOSTNAME,  # the postinst asks for the machine's name
         "alias_maps=hash:/etc/postfix/aliases",
         "alias_database=hash:/etc/postfix/aliases",
         "mydestination=$myhostname, localhost.example.net, localhost",
         "relayhost=[127.0.0.1]:%d" % SINK_PORT,  # TEST-ONLY: the organisation's next hop
         "mynetworks=127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128",
         "mailbox_size_limit=0",
         "recipient_delimiter=+",
         "inet_interfaces=all",
         "inet_protocols=all",
         "maillog_file=/var/log/mail.log"])  # TEST-ONLY: no syslog daemon here
    run(["newaliases"])


def postfix_start():
    run(["/usr/lib/postfix/configure-instance.sh", "-"])  # what postfix@-.service runs first
    run(["postfix", "check"])
    run(["postfix", "start"])
    wait(lambda: port_open(25), 20, "Postfix listening on port 25")


def postfix_reload():
    before = maillog().count("reload -- version")
    run(["postfix", "reload"])
    wait(lambda: maillog().count("reload -- version") > before, 10, "postfix reload")


def maillog():
    try:
        with open("/var/log/mail.log", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def queue_drained(timeout=30):
    def files():
        out = []
        for q in SPOOL_QUEUES:
            for d, _, names in os.walk(os.path.join("/var/spool/postfix", q)):
                out += [os.path.join(d, f) for f in names]
        return out
    wait(lambda: not files(), timeout,
         lambda: "the Postfix queue to drain; maillog:\n" + maillog()[-3000:])


def send(rcpts, subject, body, sender="alerts@example.com"):
    """One message to 127.0.0.1:25; every step must get 250."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, ", ".join(rcpts), subject
    msg.set_content(body)
    with smtplib.SMTP("127.0.0.1", 25, local_hostname="monitor.example.net", timeout=60) as s:
        s.ehlo()
        code, text = s.mail(sender)
        check(code == 250, "MAIL FROM refused: %d %s" % (code, text.decode()))
        for r in rcpts:
            code, text = s.rcpt(r)
            check(code == 250, "RCPT TO:<%s> refused: %d %s" % (r, code, text.decode()))
        code, text = s.data(msg.as_bytes())
        check(code == 250, "DATA refused: %d %s" % (code, text.decode()))


class Sink:
    """smtp-sink as relayhost: one file per message it receives."""

    def __init__(self, work):
        self.dir = os.path.join(work, "sink")
        os.makedirs(self.dir)
        postfix = pwd.getpwnam("postfix")
        os.chown(self.dir, postfix.pw_uid, postfix.pw_gid)
        self.proc = subprocess.Popen(
            ["smtp-sink", "-u", "postfix", "-d", os.path.join(self.dir, "%Y%m%d%H%M%S."),
             "127.0.0.1:%d" % SINK_PORT, "16"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait(lambda: port_open(SINK_PORT), 10, "smtp-sink")

    def messages(self):
        """[{"from": sender, "rcpts": [...], "text": whole file}], oldest first."""
        out = []
        for name in sorted(os.listdir(self.dir)):
            with open(os.path.join(self.dir, name), errors="replace") as f:
                text = f.read()
            rcpts = re.findall(r"^X-Rcpt-Args: (?:TO:)?<([^>]*)>", text, re.M | re.I)
            sender = re.search(r"^X-Mail-Args: (?:FROM:)?<([^>]*)>", text, re.M | re.I)
            out.append({"rcpts": [r.lower() for r in rcpts],
                        "from": sender.group(1) if sender else None, "text": text})
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
