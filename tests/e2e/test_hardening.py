"""Security review findings of issue 10, through the real binary (no MTA needed):

  e. the token stays out of core dumps: `run`, `check --online` and `send` are not dumpable
     (their /proc/PID/environ belongs to root, so neither a core file nor another process
     of the same user gets at their memory) and have RLIMIT_CORE 0, whether started as the
     service user (the unit's way) or as root with run_as_user.

  c. started as root with run_as_user, the daemon refuses a state_directory that is a
     symbolic link (the link's target stays root's) and an outbox file with more than one
     hard link, and hands the outbox files of an earlier run as root (outbox.db, -wal,
     -shm) to that user along with the directory and the socket; `check` names the link.

  d. the state directory is 0700 and every file in it 0600 under umask 022, files left
     0644 by an earlier version become 0600 (with a warning), and `queue` creates a private
     outbox too.

  h. an outbox lost while jobs were pending stops the start: with 20 SMS queued (Twilio
     down, long backoff) through a real Postfix, a damaged outbox.db (SQLite's quick_check),
     one cut to 0 bytes and one deleted each make `run` exit 1 with a fatal line that says
     what happened and the way out (`queue` refuses too); deleting outbox.created, as that
     line says, starts the daemon with an empty outbox. Without outbox.created, an empty
     outbox.db beside a non-empty -wal (a crashed daemon's) is refused as well.

Run as root:  SMS_MILTER_BIN=build/sms-milter python3 -m unittest tests/e2e/test_hardening.py
"""

import os
import pwd
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import unittest

from harness import Environment
from milter_proc import milter_bin, wait_unix

ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
USER = "nobody"


def setUpModule():
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root (files of another user, run_as_user)")


def as_user(name=USER):
    """Popen arguments that start the child as that user, as a unit's User= does."""
    pw = pwd.getpwnam(name)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


class Workdir:
    """A temp dir (0755) with a secret file, a config writer and daemons that are stopped
    when the test ends."""

    def __init__(self, test):
        self.root = tempfile.mkdtemp(prefix="sms-milter-hardening-",
                                     dir=os.environ.get("E2E_TMPDIR"))
        os.chmod(self.root, 0o755)
        test.addCleanup(shutil.rmtree, self.root, ignore_errors=True)
        self.test = test
        self.token = self.path("twilio-token")
        fd = os.open(self.token, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("not-a-real-token\n")
        self.socket = self.path("sock", "milter.sock")
        os.mkdir(self.path("sock"), 0o750)
        self.state = self.path("state")

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def give(self, *paths, user=USER):
        pw = pwd.getpwnam(user)
        for p in paths:
            os.chown(p, pw.pw_uid, pw.pw_gid)

    def config(self, **settings):
        values = {"milter_socket": "unix:" + self.socket,
                  "gateway_domains": "sms.example.com",
                  "twilio_account_sid": ACCOUNT_SID,
                  "twilio_auth_token_file": self.token,
                  "twilio_from": "+15005550006",
                  "state_directory": self.state,
                  "log_to": "stderr"}
        values.update(settings)
        path = self.path("sms-milter.conf")
        with open(path, "w") as f:
            f.writelines("%s = %s\n" % kv for kv in values.items() if kv[1] is not None)
        return path

    def start(self, conf, **popen):
        """`sms-milter run`; returns the Popen once it serves (its socket accepts connections
        and it logged "starting")."""
        log = open(self.path("milter.log"), "ab")
        proc = subprocess.Popen([milter_bin(), "run", "-c", conf], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                **popen)
        log.close()
        self.test.addCleanup(stop, proc)
        alive = lambda: proc.poll() is None  # noqa: E731
        up = wait_unix(self.socket, timeout=20, alive=alive)
        deadline = time.monotonic() + 20  # the socket comes first, then the outbox
        while up and alive() and "starting sms-milter" not in self.log():
            up = time.monotonic() < deadline
            time.sleep(0.05)
        self.test.assertTrue(up and alive(), "the daemon did not start (exit %s):\n%s"
                             % (proc.poll(), self.log()[-3000:]))
        return proc

    def log(self):
        try:
            with open(self.path("milter.log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


def stop(proc):
    """SIGTERM, then SIGKILL after 15 s; returns the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def run_to_exit(conf, timeout=20):
    """`sms-milter run` expected to give up at start-up: (exit status, output); the status is
    None when it was still running after `timeout` seconds (then it is killed)."""
    proc = subprocess.Popen([milter_bin(), "run", "-c", conf], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out = proc.communicate(timeout=timeout)[0]
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        proc.kill()
        return None, proc.communicate()[0]


def owner(path):
    st = os.lstat(path)
    return pwd.getpwuid(st.st_uid).pw_name, st.st_gid


def proc_uid(pid):
    """The real uid of a running process."""
    with open("/proc/%d/status" % pid) as f:
        return int(next(l for l in f if l.startswith("Uid:")).split()[1])


def dumpable(pid):
    """False when the kernel treats the process as not dumpable: its /proc/PID files then
    belong to root whoever it runs as (only root may read its environ or memory)."""
    return os.stat("/proc/%d/environ" % pid).st_uid == proc_uid(pid) != 0


def core_limit(pid):
    """(soft, hard) RLIMIT_CORE as /proc/PID/limits shows it."""
    with open("/proc/%d/limits" % pid) as f:
        line = next(l for l in f if l.startswith("Max core file size"))
    return tuple(line[len("Max core file size"):].split()[:2])


class NotDumpable(unittest.TestCase):
    def setUp(self):
        self.w = Workdir(self)
        self.nobody = pwd.getpwnam(USER).pw_uid

    def assert_not_dumpable(self, pid):
        self.assertEqual(proc_uid(pid), self.nobody)
        self.assertFalse(dumpable(pid), "sms-milter (pid %d) is dumpable" % pid)
        self.assertEqual(core_limit(pid), ("0", "0"))
        r = subprocess.run(["cat", "/proc/%d/environ" % pid], capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=10, **as_user())
        self.assertNotEqual(r.returncode, 0, "another process of user nobody read its environ")

    def test_run_as_the_service_user(self):
        """The unit's way: started as the user itself (User=), no run_as_user."""
        os.mkdir(self.w.state, 0o700)
        self.w.give(self.w.token, self.w.state, self.w.path("sock"))
        proc = self.w.start(self.w.config(), **as_user())
        self.assert_not_dumpable(proc.pid)

    def test_run_as_root_with_run_as_user(self):
        proc = self.w.start(self.w.config(run_as_user=USER))
        self.assert_not_dumpable(proc.pid)

    def test_check_online_and_send(self):
        """Both hold the token while they wait for Twilio (here: a port that never answers)."""
        os.mkdir(self.w.state, 0o700)
        self.w.give(self.w.token, self.w.state, self.w.path("sock"))
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(4)
            silent.settimeout(20)
            conf = self.w.config(twilio_api_url="https://127.0.0.1:%d" % silent.getsockname()[1])
            for args in (["check", "--online"], ["send", "--to", "+14155550123", "test"]):
                with self.subTest(command=args[0]):
                    proc = subprocess.Popen([milter_bin(), args[0], "-c", conf] + args[1:],
                                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                            stderr=subprocess.STDOUT, **as_user())
                    self.addCleanup(stop, proc)
                    try:
                        conn, _ = silent.accept()  # it has read the token and is waiting
                    except socket.timeout:
                        proc.kill()
                        self.fail("%s never connected:\n%s" % (args[0], proc.communicate()[0]))
                    with conn:
                        self.assert_not_dumpable(proc.pid)
                    proc.kill()
                    proc.communicate()


class RunAsUserOwnership(unittest.TestCase):
    def setUp(self):
        self.w = Workdir(self)
        self.nobody = pwd.getpwnam(USER)

    def test_symlinked_state_directory_is_refused(self):
        target = self.w.path("target")  # root's, as /etc would be
        os.mkdir(target, 0o755)
        with open(os.path.join(target, "keep"), "w") as f:
            f.write("root's\n")
        os.symlink(target, self.w.state)
        conf = self.w.config(run_as_user=USER)

        r = subprocess.run([milter_bin(), "check", "-c", conf], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=30)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("%s: state_directory is a symbolic link: started as root with "
                      "run_as_user, sms-milter refuses it" % self.w.state, r.stderr)

        rc, out = run_to_exit(conf)
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"fatal: state_directory %s is a symbolic link: started as root "
                         r"with run_as_user, sms-milter gives the state directory to user "
                         r"nobody and will not follow a link to do so; set state_directory "
                         r"to the directory itself \(%s\)" % (self.w.state, target))
        for path in (target, os.path.join(target, "keep")):
            self.assertEqual(owner(path), ("root", 0), path)
        self.assertEqual(os.stat(target).st_mode & 0o7777, 0o755)
        self.assertEqual(sorted(os.listdir(target)), ["keep"])

    def test_hard_linked_outbox_is_refused(self):
        precious = self.w.path("precious")  # a file of root's elsewhere
        with open(precious, "w") as f:
            f.write("root's\n")
        os.mkdir(self.w.state, 0o700)
        os.link(precious, os.path.join(self.w.state, "outbox.db"))
        rc, out = run_to_exit(self.w.config(run_as_user=USER))
        self.assertEqual(rc, 1, out)
        self.assertIn("fatal: %s/outbox.db has 2 hard links: sms-milter will not give it to "
                      "user nobody" % self.w.state, out)
        self.assertEqual(owner(precious), ("root", 0))

    def test_outbox_of_a_run_as_root_is_handed_over(self):
        """A daemon that once ran as root (and crashed, leaving -wal and -shm) starts as
        run_as_user: the outbox files become that user's, so it can open them."""
        proc = self.w.start(self.w.config())
        proc.kill()  # a crash: the -wal and -shm files stay
        proc.wait()
        files = ["outbox.db", "outbox.db-wal", "outbox.db-shm", "outbox.created"]
        for name in files:
            self.assertEqual(owner(os.path.join(self.w.state, name))[0], "root", name)

        os.unlink(self.w.socket)  # left by the crash
        proc = self.w.start(self.w.config(run_as_user=USER))
        self.assertEqual(proc_uid(proc.pid), self.nobody.pw_uid)
        for path in [self.w.state, self.w.socket] + [os.path.join(self.w.state, n)
                                                      for n in files]:
            self.assertEqual(owner(path), (USER, self.nobody.pw_gid), path)
        self.assertEqual(os.stat(self.w.socket).st_mode & 0o777, 0o660)
        self.assertEqual(stop(proc), 0, self.w.log()[-3000:])
        self.assertNotIn("error", self.w.log())


class OutboxModes(unittest.TestCase):
    def setUp(self):
        self.w = Workdir(self)

    def modes(self):
        return {name: oct(os.lstat(os.path.join(self.w.state, name)).st_mode & 0o7777)
                for name in os.listdir(self.w.state)}

    def assert_private(self, want_files):
        self.assertEqual(oct(os.stat(self.w.state).st_mode & 0o7777), oct(0o700))
        modes = self.modes()
        self.assertLessEqual(set(want_files), set(modes), modes)
        self.assertEqual(modes, {name: oct(0o600) for name in modes})

    def test_private_whatever_the_umask(self):
        conf = self.w.config()
        proc = self.w.start(conf, umask=0o022)
        self.assert_private(["outbox.db", "outbox.db-wal", "outbox.db-shm"])
        self.assertEqual(stop(proc), 0, self.w.log()[-3000:])

        for name in os.listdir(self.w.state):  # as a daemon before this fix left them
            os.chmod(os.path.join(self.w.state, name), 0o644)
        proc = self.w.start(conf, umask=0o022)
        self.assert_private(["outbox.db", "outbox.db-wal", "outbox.db-shm"])
        self.assertIn("warning: outbox: %s/outbox.db was mode 0644; now 0600" % self.w.state,
                      self.w.log())
        self.assertEqual(stop(proc), 0, self.w.log()[-3000:])

    def test_queue_creates_a_private_outbox(self):
        r = subprocess.run([milter_bin(), "queue", "-c", self.w.config(), "stats"],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30,
                           umask=0o022)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_private(["outbox.db"])


class LostOutbox(unittest.TestCase):
    PENDING = 20

    def setUp(self):
        # Twilio down and an hour's backoff: the jobs stay pending.
        self.env = Environment({"h": {"overrides": {"minimal_backoff_time": "1h",
                                                    "maximal_backoff_time": "1h"}}})
        self.addCleanup(self.env.stop)
        self.env.start()
        self.env.fake.stop()
        self.m = self.env.milters["h"]

    def refused(self, *expected):
        """`run` exits 1 with each expected text in a fatal line; `queue list` refuses too."""
        rc, out = run_to_exit(self.m.config_path)
        self.assertEqual(rc, 1, out[-3000:])
        fatal = [l for l in out.splitlines() if ": fatal: " in l]
        self.assertEqual(len(fatal), 1, out[-3000:])
        for text in expected:
            self.assertIn(text, fatal[0])
        q = self.m.queue("list")
        self.assertEqual(q.returncode, 1, q.stdout)
        self.assertIn(expected[0], q.stderr)

    def test_lost_outbox_stops_the_start(self):
        rcpts = ["1415555%04d@sms.example.com" % (100 + i) for i in range(self.PENDING)]
        r = self.env.postfix.send_mail("h", "alerts@example.com", rcpts, subject="DISK FULL",
                                       body="on db1\n")
        self.assertEqual(r.data[0], 250, r)
        deadline = time.monotonic() + 30
        while len(self.m.jobs()) < self.PENDING and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(len(self.m.jobs("state IN ('queued', 'sending', 'deferred')")),
                         self.PENDING, self.m.log_text()[-3000:])
        self.assertEqual(self.m.stop(), 0)
        db, marker = self.m.outbox, os.path.join(self.m.state_dir, "outbox.created")
        self.assertTrue(os.path.isfile(marker))

        with sqlite3.connect("file:%s?mode=ro" % db, uri=True) as c:
            page = c.execute("PRAGMA page_size").fetchone()[0]
            root = c.execute("SELECT rootpage FROM sqlite_master WHERE name = 'jobs'").fetchone()[0]
        c.close()
        with open(db, "r+b") as f:  # the jobs table's first page, overwritten
            f.seek((root - 1) * page)
            f.write(b"\xff" * page)
        self.refused("%s is damaged (SQLite's quick_check: " % db,
                     "sms-milter will not start on it; keep a copy of %s, then recover what you "
                     "can into a new outbox.db (sqlite3's .recover), or move outbox.db aside and "
                     "delete %s to start with an empty outbox" % (self.m.state_dir, marker))

        os.truncate(db, 0)
        self.refused("%s is empty (0 bytes), but %s says an outbox was made here: the SMS "
                     "queued in it are lost (a truncated or replaced file?); sms-milter will not "
                     "start with an empty outbox unasked: restore outbox.db from a backup, or "
                     "delete %s to start with an empty outbox" % (db, marker, marker))
        self.assertEqual(os.path.getsize(db), 0)  # neither run nor queue initialised it

        os.unlink(db)
        self.refused("%s is missing, but %s says an outbox was made here" % (db, marker))
        self.assertFalse(os.path.exists(db))

        os.unlink(marker)  # the way out the fatal line names
        self.m.start()
        deadline = time.monotonic() + 20  # the socket comes first, then the outbox
        while not os.path.isfile(marker) and self.m.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertTrue(os.path.isfile(marker), self.m.log_text()[-3000:])
        self.assertEqual(self.m.jobs(), [])


class LoneWal(unittest.TestCase):
    def test_empty_outbox_beside_a_wal_is_refused(self):
        w = Workdir(self)
        conf = w.config()
        proc = w.start(conf)
        proc.kill()  # a crash: what was written is still in the -wal
        proc.wait()
        db = os.path.join(w.state, "outbox.db")
        wal = os.path.getsize(db + "-wal")
        self.assertGreater(wal, 0)
        os.unlink(os.path.join(w.state, "outbox.created"))
        os.truncate(db, 0)
        rc, out = run_to_exit(conf)
        self.assertEqual(rc, 1, out)
        self.assertIn("fatal: %s is empty (0 bytes), but %s-wal holds %d bytes of it: the rest "
                      "of an outbox whose database is lost; restore outbox.db from a backup, or "
                      "delete %s-wal to start with an empty outbox" % (db, db, wal, db), out)


if __name__ == "__main__":
    unittest.main()
