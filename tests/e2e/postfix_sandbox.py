"""A sandboxed Postfix (run as root) with an smtp-sink as next hop, for the end-to-end tests.

Layout under ROOT (see /work/shared/MILTER-FACTS.md for why each piece is there):
  etc/           config_directory: main.cf, master.cf, sasl/smtpd.conf, sasl/sasldb2
  spool/         queue_directory          data/  data_directory (owned by postfix)
  log/maillog    maillog_file (log/ is in maillog_file_prefixes; postlogd writes it)
  sink/          one file per message received by smtp-sink (envelope in X-*-Args headers)

Each Listener is an smtpd on 127.0.0.1:PORT with its own `-o smtpd_milters=...` (or, with
milters=MAIN_CF, main.cf's smtpd_milters); one may have Cyrus SASL (sasldb, PLAIN/LOGIN)
enabled, one may run chrooted in the queue directory as Debian's smtpd does.  Every port is a
free loopback port picked at run time.  Tests of the shipped Postfix snippets pass main_cf and
master_cf lines (a main.cf line replaces the generated one for the same parameter) and maps
(written to etc/NAME, then postmap'ed).  stop() is safe to call at any point, also after a
failed start().
"""

import email.message
import email.utils
import glob
import os
import pwd
import shutil
import smtplib
import socket
import subprocess
import time

SINK_DIR = "sink"
QUEUE_SUBDIRS = ("maildrop", "incoming", "active", "deferred", "hold")


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_port(port, host="127.0.0.1", timeout=10.0, alive=None):
    """Poll until host:port accepts TCP; `alive()` returning False aborts early."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            return False
        try:
            socket.create_connection((host, port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


MAIN_CF = object()  # Listener(milters=MAIN_CF): no -o smtpd_milters, main.cf's value applies


class Listener:
    """One smtpd entry in master.cf.  milters: a literal smtpd_milters value (overrides
    milter_port) or MAIN_CF; chroot: run smtpd chrooted in the queue directory."""

    def __init__(self, name, milter_port=None, sasl=False, milters=None, chroot=False):
        self.name, self.milter_port, self.sasl = name, milter_port, sasl
        self.milters, self.chroot = milters, chroot
        self.port = free_port()


class SendFailed(Exception):
    """An SMTP command was refused; .stage is 'connect', 'mail', 'rcpt' or 'data'."""

    def __init__(self, stage, code, text, rcpts=None):
        super().__init__("%s refused: %s %s" % (stage, code, text))
        self.stage, self.code, self.text, self.rcpts = stage, code, text, rcpts or {}


class SendResult:
    def __init__(self, rcpts, data):
        self.rcpts = rcpts  # {rcpt: (code, text)}
        self.data = data    # (code, text) or None when no recipient was accepted

    def __repr__(self):
        return "SendResult(rcpts=%r, data=%r)" % (self.rcpts, self.data)


class PostfixSandbox:
    MYHOSTNAME = "e2e-sandbox.test"
    RELAY_DOMAINS = ("sms.example.com", "example.org")

    def __init__(self, root, listeners, sasl_user="alice", sasl_password="e2e-Passw0rd",
                 main_cf=(), master_cf=(), maps=None):
        self.root = os.path.abspath(root)
        self.listeners = {l.name: l for l in listeners}
        self.extra_main, self.extra_master = list(main_cf), list(master_cf)
        self.maps = dict(maps or {})
        self.sasl_user, self.sasl_password = sasl_user, sasl_password
        self.etc = os.path.join(self.root, "etc")
        self.spool = os.path.join(self.root, "spool")
        self.logdir = os.path.join(self.root, "log")
        self.maillog = os.path.join(self.logdir, "maillog")
        self.sink_dir = os.path.join(self.root, SINK_DIR)
        self.sink_port = free_port()
        self.sink_proc = None
        self.started = False

    # ---- setup ---------------------------------------------------------------------------
    def _check_parents(self):
        path = self.root
        while path != "/":
            if not os.stat(path).st_mode & 0o001:
                raise RuntimeError("%s is not traversable by the postfix user: choose a sandbox "
                                   "directory whose parents are all o+x" % path)
            path = os.path.dirname(path)

    def _write(self, rel, text, mode=0o644):
        path = os.path.join(self.root, rel)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def _main_cf(self):
        lines = self._generated_main_cf()
        for extra in _entries(self.extra_main):  # replaces the generated line, else appended
            key = extra.split("=", 1)[0].strip()
            same = [i for i, l in enumerate(lines) if l.split("=", 1)[0].strip() == key]
            if same:
                lines[same[0]] = extra
            else:
                lines.insert(len(lines) - 1, extra)
        return "\n".join(lines)

    def _generated_main_cf(self):
        v6 = ipv6_loopback()
        sink = "smtp:[127.0.0.1]:%d" % self.sink_port
        return [
            "# generated by tests/e2e/postfix_sandbox.py",
            "compatibility_level = 3.6",
            "queue_directory = " + self.spool,
            "data_directory = " + os.path.join(self.root, "data"),
            "maillog_file = " + self.maillog,
            "maillog_file_prefixes = " + self.logdir,
            "myhostname = " + self.MYHOSTNAME,
            "mydomain = e2e.test",
            "myorigin = $myhostname",
            "mydestination =",
            "inet_interfaces = " + ("127.0.0.1, [::1]" if v6 else "127.0.0.1"),
            "inet_protocols = " + ("all" if v6 else "ipv4"),
            "mynetworks = 127.0.0.0/8" + (" [::1]/128" if v6 else ""),
            "relay_domains = " + ", ".join(self.RELAY_DOMAINS),
            "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, "
            "reject_unauth_destination",
            "default_transport = " + sink,
            "relay_transport = " + sink,
            "local_transport = error:5.1.1 no local delivery in the e2e sandbox",
            "alias_maps =",
            "alias_database =",
            "smtp_bind_address = 127.0.0.1",
            "smtpd_peername_lookup = no",
            "smtp_tls_security_level = none",
            "smtpd_tls_security_level = none",
            "milter_default_action = tempfail",
            "milter_protocol = 6",
            "smtpd_milters =",
            "non_smtpd_milters =",
            "smtpd_error_sleep_time = 0",
            "smtpd_soft_error_limit = 1000",
            "smtpd_hard_error_limit = 1000",
            "queue_run_delay = 1s",
            "minimal_backoff_time = 1s",
            "maximal_backoff_time = 2s",
            "biff = no",
            "",
        ]

    def _master_cf(self):
        lines = ["# generated by tests/e2e/postfix_sandbox.py; chroot column is n everywhere"]
        for l in self.listeners.values():
            opts = ["syslog_name=postfix/" + l.name]
            if l.milters is None:
                opts.append("smtpd_milters=" + ("inet:127.0.0.1:%d" % l.milter_port
                                                if l.milter_port else ""))
            elif l.milters is not MAIN_CF:
                opts.append("smtpd_milters=" + l.milters)
            if l.sasl:
                opts += ["smtpd_sasl_auth_enable=yes", "smtpd_sasl_type=cyrus",
                         "smtpd_sasl_path=smtpd",
                         "cyrus_sasl_config_path=" + os.path.join(self.etc, "sasl"),
                         "smtpd_sasl_security_options=noanonymous",
                         "smtpd_sasl_local_domain=" + self.MYHOSTNAME]
            lines.append("127.0.0.1:%d inet n - %s - - smtpd" % (l.port, "y" if l.chroot else "n"))
            lines += ["  -o " + o for o in opts]
        lines += [
            "pickup    unix  n - n 60   1 pickup",
            "cleanup   unix  n - n -    0 cleanup",
            "qmgr      unix  n - n 300  1 qmgr",
            "rewrite   unix  - - n -    - trivial-rewrite",
            "bounce    unix  - - n -    0 bounce",
            "defer     unix  - - n -    0 bounce",
            "trace     unix  - - n -    0 bounce",
            "verify    unix  - - n -    1 verify",
            "flush     unix  n - n 1000? 0 flush",
            "proxymap  unix  - - n -    - proxymap",
            "proxywrite unix - - n -    1 proxymap",
            "smtp      unix  - - n -    - smtp",
            "relay     unix  - - n -    - smtp",
            "showq     unix  n - n -    - showq",
            "error     unix  - - n -    - error",
            "retry     unix  - - n -    - error",
            "discard   unix  - - n -    - discard",
            "local     unix  - n n -    - local",
            "anvil     unix  - - n -    1 anvil",
            "scache    unix  - - n -    1 scache",
            "postlog   unix-dgram n - n - 1 postlogd",
        ]
        return "\n".join(lines + self.extra_master + [""])

    def _setup_sasl(self):
        sasldir = os.path.join(self.etc, "sasl")
        os.makedirs(sasldir, exist_ok=True)
        db = os.path.join(sasldir, "sasldb2")
        self._write("etc/sasl/smtpd.conf", "pwcheck_method: auxprop\nauxprop_plugin: sasldb\n"
                    "mech_list: PLAIN LOGIN\nsasldb_path: %s\n" % db)
        subprocess.run(["saslpasswd2", "-f", db, "-c", "-p", "-u", self.MYHOSTNAME,
                        self.sasl_user], input=self.sasl_password.encode(), check=True)
        os.chown(db, 0, pwd.getpwnam("postfix").pw_gid)
        os.chmod(db, 0o640)

    def start(self):
        self._check_parents()
        postfix = pwd.getpwnam("postfix")
        for d in ("etc", "spool", "data", "log", SINK_DIR):
            os.makedirs(os.path.join(self.root, d), mode=0o755, exist_ok=True)
        for d in ("data", SINK_DIR):
            os.chown(os.path.join(self.root, d), postfix.pw_uid, postfix.pw_gid)
        self._write("etc/main.cf", self._main_cf())
        self._write("etc/master.cf", self._master_cf())
        for name, text in self.maps.items():
            self._write("etc/" + name, text)
            subprocess.run(["postmap", "-c", self.etc, "hash:" + os.path.join(self.etc, name)],
                           check=True,
                           timeout=30)
        if any(l.sasl for l in self.listeners.values()):
            self._setup_sasl()
        self._start_sink()
        self._postfix("check")
        self._postfix("start")
        self.started = True
        for l in self.listeners.values():
            if not wait_port(l.port, timeout=15):
                raise RuntimeError("smtpd %s did not listen on %d; maillog:\n%s"
                                   % (l.name, l.port, self.maillog_text()[-3000:]))
        return self

    def _start_sink(self):
        out = open(os.path.join(self.logdir, "smtp-sink.log"), "ab")
        self.sink_proc = subprocess.Popen(
            ["smtp-sink", "-u", "postfix", "-h", "sink.e2e.test",
             "-d", os.path.join(self.sink_dir, "%Y%m%d%H%M%S."),
             "127.0.0.1:%d" % self.sink_port, "64"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        if not wait_port(self.sink_port, alive=lambda: self.sink_proc.poll() is None):
            raise RuntimeError("smtp-sink did not start (see %s/smtp-sink.log)" % self.logdir)

    def _postfix(self, cmd):
        proc = subprocess.run(["postfix", "-c", self.etc, cmd], capture_output=True, text=True,
                              timeout=60)
        if proc.returncode != 0:
            raise RuntimeError("postfix -c %s %s failed (%d): %s%s" % (
                self.etc, cmd, proc.returncode, proc.stdout, proc.stderr))
        return proc

    def stop(self):
        if self.started:
            self.started = False
            try:
                self._postfix("stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                subprocess.run(["postfix", "-c", self.etc, "abort"], capture_output=True)
        if self.sink_proc is not None and self.sink_proc.poll() is None:
            self.sink_proc.terminate()
            try:
                self.sink_proc.wait(10)
            except subprocess.TimeoutExpired:
                self.sink_proc.kill()
                self.sink_proc.wait()
        self.sink_proc = None

    # ---- sending -------------------------------------------------------------------------
    def send_mail(self, listener, sender, rcpts, subject="", body="", source="127.0.0.1",
                  auth=None, check=True, headers=None, raw=None, timeout=120):
        """Send one message over SMTP, one RCPT per recipient.

        Returns SendResult; with check=True raises SendFailed when MAIL or DATA is refused or
        no recipient is accepted (per-recipient replies are in .rcpts either way).
        auth=(user, password) does AUTH first; source picks the client address in 127/8.
        """
        port = self.listeners[listener].port
        if raw is None:
            msg = email.message.EmailMessage()
            msg["From"] = sender
            msg["To"] = ", ".join(rcpts)
            if subject:
                msg["Subject"] = subject
            msg["Date"] = email.utils.formatdate()
            msg["Message-ID"] = email.utils.make_msgid(domain="e2e.test")
            for k, v in (headers or {}).items():
                msg[k] = v
            msg.set_content(body)
            raw = msg.as_bytes()
        with smtplib.SMTP("127.0.0.1", port, source_address=(source, 0), timeout=timeout,
                          local_hostname="client.e2e.test") as smtp:
            smtp.ehlo()
            if auth:
                smtp.login(*auth)
            code, text = smtp.mail(sender)
            if code != 250:
                raise SendFailed("mail", code, text.decode())
            results = {}
            for r in rcpts:
                code, text = smtp.rcpt(r)
                results[r] = (code, text.decode())
            accepted = [r for r, (c, _) in results.items() if c in (250, 251)]
            data = None
            if accepted:
                code, text = smtp.data(raw)
                data = (code, text.decode())
            else:
                smtp.rset()
        if check and not accepted:
            first = next(iter(results.values()))
            raise SendFailed("rcpt", first[0], first[1], results)
        if check and data[0] != 250:
            raise SendFailed("data", data[0], data[1], results)
        return SendResult(results, data)

    # ---- observing -----------------------------------------------------------------------
    def queue_files(self):
        out = []
        for d in QUEUE_SUBDIRS:
            for dirpath, _, files in os.walk(os.path.join(self.spool, d)):
                out += [os.path.join(dirpath, f) for f in files]
        return out

    def wait_queue_empty(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while self.queue_files():
            if time.monotonic() >= deadline:
                raise AssertionError("Postfix queue not empty after %ss: %s"
                                     % (timeout, self.queue_files()))
            time.sleep(0.1)

    def sink_messages(self):
        """Messages the sink got: dicts with client, mail_from, rcpts (list), data, file."""
        return sink_messages(self.sink_dir)

    def wait_for_sink(self, predicate, timeout=30.0):
        """Poll until some sink message satisfies predicate; return the matching ones."""
        return wait_for_sink(self.sink_dir, predicate, timeout)

    def maillog_text(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_files(self):
        return [self.maillog, os.path.join(self.logdir, "smtp-sink.log")] + \
            glob.glob(os.path.join(self.sink_dir, "*"))


def _entries(lines):
    """main.cf lines -> one string per parameter (continuation lines joined on), no comments."""
    out = []
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace() and out:
            out[-1] += "\n" + line
        else:
            out.append(line)
    return out


def sink_messages(sink_dir):
    """What an smtp-sink that dumps to sink_dir received: one dict per message with client,
    mail_from, rcpts (list), data and file (the envelope is in X-*-Args header lines)."""
    out = []
    for path in sorted(glob.glob(os.path.join(sink_dir, "*"))):
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        m = {"file": path, "rcpts": [], "mail_from": None, "client": None}
        lines = text.split("\n")
        i = 0
        while i < len(lines) and lines[i].startswith("X-"):
            k, _, v = lines[i].partition(": ")
            if k == "X-Rcpt-Args":
                m["rcpts"].append(_addr(v))
            elif k == "X-Mail-Args":
                m["mail_from"] = _addr(v)
            elif k == "X-Client-Addr":
                m["client"] = v
            i += 1
        m["data"] = "\n".join(lines[i:])
        out.append(m)
    return out


def wait_for_sink(sink_dir, predicate, timeout=30.0):
    """Poll until some sink message satisfies predicate; return the matching ones."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in sink_messages(sink_dir) if predicate(m)]
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(0.1)


def _addr(args):
    """'<a@b> SIZE=12' -> 'a@b' (lowercased, as Postfix relays it)."""
    first = args.split()[0] if args.split() else ""
    if first.upper().startswith(("FROM:", "TO:")):
        first = first.split(":", 1)[1]
    return first.strip("<>").lower()


def remove_tree(root):
    shutil.rmtree(root, ignore_errors=True)
