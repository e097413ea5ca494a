"""The whole end-to-end world in one object: PKI, fake Twilio, sms-milter instances, Postfix.

    env = Environment({"main": {}, "sasl": {"sasl": True, "overrides": {...}},
                       "untrusted": {"untrusted": True}})
    env.start()      # on failure everything already started is stopped again
    ...
    env.stop()       # always safe; keeps the work directory when E2E_KEEP=1
                     # or when start() failed

Each milter instance gets its own smtpd listener (same name) in the one sandbox Postfix.
An override value may be a callable: it is called with the Environment once the work
directory exists (e.g. lambda env: "/usr/sbin/sendmail -C " + env.postfix_etc).
main_cf: extra main.cf lines for the sandbox Postfix, each a string or a callable called with
the Environment once the milters run (e.g. lambda env: "non_smtpd_milters = " +
env.milters["main"].postfix_milter()).
The work directory is a fresh mkdtemp under $E2E_TMPDIR (default /tmp), mode 0755 so the
postfix user can traverse it.  Secrets: the auth token is random per run and lives only in
WORKDIR/twilio-token (mode 0600); log_files() lists everything that must never contain it.
"""

import atexit
import glob
import os
import secrets
import shutil
import signal
import tempfile

from fake_twilio import FakeTwilio
from milter_proc import MilterInstance
from pki import make_pki
from postfix_sandbox import Listener, PostfixSandbox


class Environment:
    def __init__(self, milters, keep=None, main_cf=()):
        self.milter_specs = milters
        self.main_cf = list(main_cf)
        self.keep = os.environ.get("E2E_KEEP") == "1" if keep is None else keep
        self.root = None
        self.fake = None
        self.postfix = None
        self.milters = {}
        self.account_sid = "AC" + secrets.token_hex(16)
        self.auth_token = secrets.token_hex(16)

    def start(self):
        atexit.register(self.stop)  # safety net; stop() is idempotent
        try:
            self._start()
        except BaseException:
            self.keep = True  # the logs explain the failure
            self.stop()
            raise
        return self

    def _start_twilio(self, prefix="sms-milter-e2e-"):
        """The work directory, the throw-away PKI, the secret token file and the fake Twilio."""
        self.root = tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("E2E_TMPDIR"))
        os.chmod(self.root, 0o755)
        self.pki = make_pki(os.path.join(self.root, "pki"))
        self.token_file = os.path.join(self.root, "twilio-token")
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.auth_token + "\n")
        self.fake = FakeTwilio(self.pki["cert"], self.pki["key"], self.account_sid,
                               self.auth_token,
                               log_path=os.path.join(self.root, "fake-twilio.log")).start()

    def _start(self):
        self._start_twilio()
        listeners = []
        for name, spec in self.milter_specs.items():
            ca = self.pki["other_ca" if spec.get("untrusted") else "ca"]
            overrides = {k: v(self) if callable(v) else v
                         for k, v in (spec.get("overrides") or {}).items()}
            if spec.get("sasl"):
                overrides.setdefault("require_sasl_auth", "yes")
            m = MilterInstance(name, self.root, self.fake.url, ca, self.account_sid,
                               self.token_file, overrides)
            self.milters[name] = m
            m.start()
            listeners.append(Listener(name, sasl=bool(spec.get("sasl")),
                                      milters=m.postfix_milter()))
        pdir = self.postfix_dir
        os.makedirs(pdir, mode=0o755)
        main_cf = [l(self) if callable(l) else l for l in self.main_cf]
        self.postfix = PostfixSandbox(pdir, listeners, main_cf=main_cf)
        self.postfix.start()

    @property
    def postfix_dir(self):
        return os.path.join(self.root, "postfix")

    @property
    def postfix_etc(self):
        """The sandbox Postfix's config_directory (for `sendmail -C`), known before start."""
        return os.path.join(self.postfix_dir, "etc")

    def stop(self):
        """Stop whatever was started, in reverse order, even if a step fails. Idempotent."""
        errors = []
        steps = [lambda: self.postfix and self.postfix.stop()]
        steps += [m.terminate for m in self.milters.values()]  # in parallel: each takes seconds
        steps += [m.stop for m in self.milters.values()]
        steps += [lambda: self.fake and self.fake.stop()]
        for step in steps:
            try:
                step()
            except Exception as e:  # keep stopping the rest
                errors.append(e)
        if self.root and not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)
        if errors:
            raise errors[0]

    def log_files(self):
        """Every log and dump a secret must never appear in."""
        files = [m.log_path for m in self.milters.values()]
        files.append(os.path.join(self.root, "fake-twilio.log"))
        if self.postfix:
            files += self.postfix.log_files()
        for m in self.milters.values():
            files += glob.glob(os.path.join(m.state_dir, "*"))
        return [f for f in files if os.path.isfile(f)]


def exit_on_sigterm():
    """Make SIGTERM end the run like Ctrl-C (unittest would catch SystemExit as one test's
    error and go on), so atexit stops everything and a killed CI job leaves no Postfix."""
    def handler(*_):
        raise KeyboardInterrupt("SIGTERM")
    signal.signal(signal.SIGTERM, handler)
