"""Debian's redis-server for the end-to-end tests: a private instance on a free loopback port,
with its own directory, no persistence (--save ''), a password, never the system service.

With tls=pki (the dict tests/e2e/pki.py makes) it listens with TLS only (--port 0, --tls-port)
with the test CA's server certificate (SAN IP:127.0.0.1, IP:::1, DNS:localhost), clients not
asked for a certificate (--tls-auth-clients no), and .url is rediss://. bind: the addresses it
listens on (a list; "-ADDR" is skipped when the host lacks it, as in redis.conf)."""

import os
import shutil
import subprocess
import time

from postfix_sandbox import free_port, wait_port


class RedisServer:
    def __init__(self, root, password, tls=None, bind=("127.0.0.1",)):
        self.root = root
        self.password = password
        self.tls = tls
        self.bind = list(bind)
        self.port = free_port()
        self.proc = None

    def start(self):
        binary = shutil.which("redis-server")
        if not binary:
            raise RuntimeError("redis-server not installed (tools/install-deps.sh test)")
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        conf = os.path.join(self.root, "redis.conf")
        with open(conf, "w") as f:  # the password in a file of the test's own, mode 0600
            if self.password:
                f.write("requirepass %s\n" % self.password)
        os.chmod(conf, 0o600)
        log = open(os.path.join(self.root, "redis.log"), "ab")
        if self.tls:
            listen = ["--port", "0", "--tls-port", str(self.port),
                      "--tls-cert-file", self.tls["cert"], "--tls-key-file", self.tls["key"],
                      "--tls-ca-cert-file", self.tls["ca"], "--tls-auth-clients", "no"]
        else:
            listen = ["--port", str(self.port)]
        self.proc = subprocess.Popen(
            [binary, conf, *listen, "--bind", *self.bind, "--dir", self.root,
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", ""],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        if not wait_port(self.port, alive=lambda: self.proc.poll() is None):
            self.stop()
            raise RuntimeError("redis-server did not listen on %d" % self.port)
        return self

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL: Redis gone at once, as a crash or a lost host."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        deadline = time.monotonic() + 10
        while True:  # the port may stay busy a moment
            try:
                return self.start()
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    @property
    def url(self):
        return "%s://127.0.0.1:%d/3" % ("rediss" if self.tls else "redis", self.port)
