"""Start sms-milter the way its installed systemd unit would, without systemd.

UnitDaemon(UNIT_FILE, LOG) reads the unit's [Service] section and, like systemd, creates
RuntimeDirectory= under /run and StateDirectory= under /var/lib with their modes, owned by
User=:Group=, then runs ExecStart= as that user (initgroups, setgid, setuid) with UMask=,
LimitCORE= and a clean environment, output to LOG (the journal's place). stop() is SIGTERM,
as `systemctl stop` (KillSignal=SIGTERM).
"""

import configparser
import grp
import os
import pwd
import resource
import shlex
import signal
import stat
import subprocess

from world import Failed, check, wait


def service_section(path):
    """The unit's [Service] settings; a repeated key keeps its last value."""
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str
    with open(path) as f:
        lines = [l for l in f if not l.lstrip().startswith(("#", ";"))]
    parser.read_string("".join(lines))
    return parser["Service"]


class UnitDaemon:
    def __init__(self, unit_file, log_path):
        svc = service_section(unit_file)
        self.user, self.group = svc["User"], svc["Group"]
        self.argv = shlex.split(svc["ExecStart"])
        self.umask = int(svc.get("UMask", "0022"), 8)
        self.core = svc.get("LimitCORE")
        self.dirs = [(os.path.join("/run", d), int(svc.get("RuntimeDirectoryMode", "0755"), 8))
                     for d in svc.get("RuntimeDirectory", "").split()]
        self.dirs += [(os.path.join("/var/lib", d),
                       int(svc.get("StateDirectoryMode", "0755"), 8))
                      for d in svc.get("StateDirectory", "").split()]
        self.log_path = log_path
        self.proc = None

    def start(self, socket_path):
        """Start ExecStart=; return once socket_path is a socket (fail if the daemon exits)."""
        pw = pwd.getpwnam(self.user)
        gid = grp.getgrnam(self.group).gr_gid
        for path, mode in self.dirs:
            os.makedirs(path, mode=mode, exist_ok=True)
            os.chown(path, pw.pw_uid, gid)
            os.chmod(path, mode)

        def become():
            os.initgroups(self.user, gid)
            os.setgid(gid)
            os.setuid(pw.pw_uid)
            os.umask(self.umask)
            if self.core is not None:
                n = 0 if self.core == "0" else resource.RLIM_INFINITY
                resource.setrlimit(resource.RLIMIT_CORE, (n, n))

        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "HOME": pw.pw_dir, "USER": self.user, "LOGNAME": self.user,
               "SHELL": pw.pw_shell, "LANG": "C.UTF-8"}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, cwd="/", env=env, preexec_fn=become,
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)

        def listening():
            return os.path.exists(socket_path) and stat.S_ISSOCK(os.stat(socket_path).st_mode)
        wait(lambda: self.proc.poll() is not None or listening(), 20,
             "the milter socket " + socket_path)
        check(self.proc.poll() is None, "sms-milter exited %s at start:\n%s"
              % (self.proc.returncode, self.log_text()[-3000:]))

    def stop(self):
        """SIGTERM; returns the exit status (None if never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise Failed("sms-milter did not stop within 30 s of SIGTERM")
        return self.proc.returncode

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""
