"""The container image (README "In a container"), built and run as the README says.

 1. README container-build: the base image (tools/container-base.sh, cached) and the image
    from packaging/container/Containerfile; its size is printed.
 2. README container-config, container-host and container-run: the config, the secret file
    and the socket directory on the host, the state in a named volume, the container started
    read-only as uid 2525 with the Postfix group. The health check passes; the daemon is not
    root; its idle RSS is printed.
 3. The sandbox Postfix (tests/e2e/postfix_sandbox.py) has the container's socket in
    smtpd_milters: one alert reaches the fake Twilio over HTTPS, the log (podman logs: stderr)
    says status=sent, `podman exec NAME sms-milter queue list` shows the job.
 4. State on the volume: with the fake Twilio down, an alert is queued and deferred; the
    container is stopped and removed, the fake Twilio comes back, the README's run command
    starts a new container on the same volume, and that job is sent, once.
 5. The compose and Kubernetes examples (check_examples.py): their config passes
    `sms-milter check` in the image, their mounts name the image's paths.
The Twilio token never appears in any output or log.

TEST-ONLY deviations from the README: host paths under a work directory instead of
/etc/sms-milter and /var/spool/postfix/sms-milter, container and volume names of this run;
`--network=host` on podman run (the fake Twilio listens on the host's loopback); the fake's
SID, token, URL and CA (twilio_api_url, twilio_ca_file mounted next to the config);
short backoff times. podman runs with tests/container/containers.conf (CONTAINERS_CONF).

Exit 77 (ctest: skipped) only when podman is missing or cannot run a container at all.
"""

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))

from admin_steps import Failed, run_block, wait  # noqa: E402
from doc_snippets import readme_block  # noqa: E402
from fake_twilio import FakeTwilio  # noqa: E402
from pki import make_pki  # noqa: E402
from postfix_sandbox import Listener, PostfixSandbox  # noqa: E402

import check_examples  # noqa: E402

SKIP = 77
IMAGE = "sms-milter"  # the README's tag
UID = 2525


def check(cond, text):
    if not cond:
        raise Failed(text)


def step(text):
    print("container: " + text, flush=True)


def run(args, check_rc=True, timeout=120, **kw):
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kw)
    if check_rc and proc.returncode != 0:
        raise Failed("%s exited %d:\n%s%s" % (" ".join(args), proc.returncode,
                                              proc.stdout[-3000:], proc.stderr[-3000:]))
    return proc


def podman_usable():
    """None when podman can run a container here, else why not."""
    if shutil.which("podman") is None:
        return "podman is not installed (bash tools/install-deps.sh test installs it)"
    # A root file system of /bin/true and the libraries it links: no image, no network.
    rootfs = tempfile.mkdtemp(prefix="sms-milter-probe-")
    try:
        libs = re.findall(r"(/\S+) \(0x", run(["ldd", "/bin/true"]).stdout)
        for path in ["/bin/true"] + libs:
            os.makedirs(rootfs + os.path.dirname(path), exist_ok=True)
            shutil.copy(path, rootfs + path)
        probe = run(["podman", "run", "--rm", "--network=none", "--rootfs", rootfs,
                     "/bin/true"], check_rc=False, timeout=60)
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    if probe.returncode != 0:
        return "podman cannot run a container on this machine: " + \
            (probe.stderr.strip() or probe.stdout.strip())[-500:]
    return None


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        fields = dict(l.split(":", 1) for l in f if ":" in l)
    return int(fields["VmRSS"].split()[0]), fields["Uid"].split(), fields["Gid"].split()


class World:
    """Everything the test starts, stopped in reverse order by stop()."""

    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="sms-milter-container-")
        os.chmod(self.work, 0o755)
        self.tag = "sms-milter-test-%d" % os.getpid()
        self.volume = self.tag + "-state"
        self.fake = self.postfix = None
        self.containers = set()
        self.token = secrets.token_hex(16)
        self.account_sid = "AC" + secrets.token_hex(16)
        self.outputs = []  # every text a secret must never appear in

    def stop(self):
        for name in self.containers:
            run(["podman", "rm", "-f", "-v", "-t", "5", name], check_rc=False)
        run(["podman", "volume", "rm", "-f", self.volume], check_rc=False)
        for stop in (lambda: self.postfix and self.postfix.stop(),
                     lambda: self.fake and self.fake.stop()):
            try:
                stop()
            except Exception as e:  # keep stopping the rest
                print("cleanup: %s" % e, file=sys.stderr)
        shutil.rmtree(self.work, ignore_errors=True)

    def path(self, *rel):
        return os.path.join(self.work, *rel)

    def host_paths(self, line):
        """The README's host paths and names -> this run's (TEST-ONLY)."""
        line = re.sub(r"(?<!:)/etc/sms-milter/", self.path("etc") + "/", line)  # host side
        return (line
                .replace("/var/spool/postfix/sms-milter", self.path("socket"))
                .replace("sms-milter-state", self.volume)
                .replace("--name sms-milter ", "--name %s " % self.tag)
                .replace("podman healthcheck run sms-milter ", "podman healthcheck run %s "
                         % self.tag)
                .replace("podman logs sms-milter", "podman logs " + self.tag)
                .replace("podman run -d ", "podman run -d --network=host -v %s:%s:ro "
                         % (self.path("etc", "test-ca.pem"), "/etc/sms-milter/test-ca.pem")))

    def logs(self):
        proc = run(["podman", "logs", self.tag], check_rc=False)
        return proc.stdout + proc.stderr


def build(world):
    step("README container-build (base image cached in /var/cache/sms-milter-tests)")
    t0 = time.monotonic()
    proc = run_block("container-build", readme_block("container-build"), cwd=REPO, timeout=1500)
    world.outputs.append(proc.stdout + proc.stderr)
    size = int(run(["podman", "image", "inspect", "--format", "{{.Size}}", IMAGE]).stdout)
    step("  built in %.0f s; image %s: %.1f MB" % (time.monotonic() - t0, IMAGE, size / 1e6))
    health = run(["podman", "image", "inspect", "--format", "{{json .Config.Healthcheck}}",
                  IMAGE]).stdout
    check("sms-milter" in health and "check" in health,
          "the image has no HEALTHCHECK running sms-milter check: %s" % health)


def configure(world):
    step("README container-config and container-host: config, secret, socket directory")
    pki = make_pki(world.path("pki"))
    world.fake = FakeTwilio(pki["cert"], pki["key"], world.account_sid, world.token,
                            log_path=world.path("fake-twilio.log")).start()
    os.makedirs(world.path("etc"), mode=0o755)
    conf = []
    for line in readme_block("container-config"):
        if line.startswith("twilio_account_sid"):
            line = "twilio_account_sid = " + world.account_sid  # the placeholder
        conf.append(line)
    conf += ["# TEST-ONLY (tests/container): the fake Twilio, short backoff",
             "twilio_api_url = " + world.fake.url,
             "twilio_ca_file = /etc/sms-milter/test-ca.pem",
             "minimal_backoff_time = 1s", "maximal_backoff_time = 2s"]
    with open(world.path("etc", "sms-milter.conf"), "w") as f:
        f.write("\n".join(conf) + "\n")
    os.chmod(world.path("etc", "sms-milter.conf"), 0o644)
    shutil.copy(pki["ca"], world.path("etc", "test-ca.pem"))
    os.chmod(world.path("etc", "test-ca.pem"), 0o644)

    lines = [world.host_paths(l) for l in readme_block("container-host")]
    check(len([l for l in lines if l.startswith("read -rs")]) == 1,
          "container-host should read the token with one `read -rs` line")
    proc = run_block("container-host", lines, cwd=REPO, input_text=world.token + "\n")
    world.outputs.append(proc.stdout + proc.stderr)
    st = os.stat(world.path("etc", "twilio-auth-token"))
    check((st.st_uid, st.st_mode & 0o777) == (UID, 0o600),
          "the token file: want uid %d mode 0600, got uid %d mode %04o"
          % (UID, st.st_uid, st.st_mode & 0o777))


def start_container(world, what):
    step("README container-run (%s)" % what)
    world.containers.add(world.tag)
    proc = run_block("container-run", [world.host_paths(l) for l in readme_block("container-run")],
                     cwd=REPO)
    world.outputs.append(proc.stdout + proc.stderr)
    sock = world.path("socket", "sms-milter.sock")
    wait(lambda: os.path.exists(sock), 30, lambda: "the milter socket; log:\n" + world.logs())
    pid = int(run(["podman", "inspect", "--format", "{{.State.Pid}}", world.tag]).stdout)
    _, uids, gids = rss_kib(pid)
    postfix_gid = int(run(["getent", "group", "postfix"]).stdout.split(":")[2])
    check(set(uids) == {str(UID)} and set(gids) == {str(postfix_gid)},
          "the daemon should run as %d:%d, runs as uids %s gids %s"
          % (UID, postfix_gid, uids, gids))
    st = os.stat(sock)
    check((st.st_uid, st.st_gid, st.st_mode & 0o777) == (UID, postfix_gid, 0o660),
          "the socket: want %d:%d 0660, got %d:%d %04o"
          % (UID, postfix_gid, st.st_uid, st.st_gid, st.st_mode & 0o777))
    return pid


def send(world, number, subject, body):
    world.postfix.send_mail("main", "alerts@example.com", ["%s@sms.example.com" % number],
                            subject, body)


def scenario(world):
    pid = start_container(world, "first start")
    step("  the health check passes; the daemon runs as uid %d with the Postfix group" % UID)
    time.sleep(3)  # idle: start-up done, nothing to send
    rss, _, _ = rss_kib(pid)
    step("  idle RSS of the daemon in the container: %.1f MiB" % (rss / 1024))

    step("the sandbox Postfix with the container's socket in smtpd_milters")
    os.makedirs(world.path("postfix"), mode=0o755)
    sock = "unix:" + world.path("socket", "sms-milter.sock")
    world.postfix = PostfixSandbox(world.path("postfix"), [Listener("main", milters=sock)])
    world.postfix.start()

    step("one alert reaches the fake Twilio; the container's log (stderr) says status=sent")
    send(world, "14155550123", "DISK FULL on db1", "/var/lib/postgresql is 98% full.\n")
    got = wait(lambda: world.fake.messages(), 30,
               lambda: "the SMS at the fake Twilio; log:\n" + world.logs()[-3000:])
    check(len(got) == 1 and got[0]["to"] == "+14155550123" and
          "DISK FULL on db1" in got[0]["body"],
          "unexpected SMS: %r" % [(m["to"], m["body"]) for m in got])
    wait(lambda: re.search(r"to=\+1415\*+0123, .*status=sent", world.logs()), 15,
         lambda: "status=sent in podman logs:\n" + world.logs()[-3000:])
    world.postfix.wait_queue_empty()
    check(world.postfix.sink_messages() == [], "the alert reached the next hop")
    queue = run(["podman", "exec", world.tag, "sms-milter", "queue", "list"])  # as README says
    world.outputs.append(queue.stdout + queue.stderr)
    check("sent" in queue.stdout and "1415" in queue.stdout,
          "podman exec ... sms-milter queue list does not show the sent job:\n" + queue.stdout)

    step("fake Twilio down: an alert is queued and deferred")
    world.fake.stop()
    send(world, "14155550124", "RAID degraded", "md0 lost a disk\n")
    wait(lambda: re.search(r"to=\+1415\*+0124, .*status=deferred", world.logs()), 30,
         lambda: "status=deferred in podman logs:\n" + world.logs()[-3000:])

    step("container stopped and removed; fake Twilio back; a new container on the volume")
    stopped = run(["podman", "stop", "-t", "20", world.tag])
    code = run(["podman", "inspect", "--format", "{{.State.ExitCode}}", world.tag]).stdout
    check(code.strip() == "0", "sms-milter exited %s on podman stop (SIGTERM)" % code.strip())
    world.outputs += [stopped.stdout + stopped.stderr, world.logs()]
    run(["podman", "rm", "-v", world.tag])
    world.containers.discard(world.tag)
    check(len(world.fake.messages()) == 1, "an SMS reached the fake Twilio while it was down")
    world.fake.start()
    start_container(world, "restart on the same state volume")
    got = wait(lambda: len(world.fake.messages()) >= 2 and world.fake.messages(), 30,
               lambda: "the queued SMS after the restart; log:\n" + world.logs()[-3000:])
    check(got[1]["to"] == "+14155550124" and "RAID degraded" in got[1]["body"],
          "unexpected SMS after the restart: %r" % [(m["to"], m["body"]) for m in got])
    wait(lambda: re.search(r"to=\+1415\*+0124, .*status=sent", world.logs()), 15,
         lambda: "status=sent after the restart:\n" + world.logs()[-3000:])
    time.sleep(2)
    check(len(world.fake.messages()) == 2, "an SMS was sent twice: %r"
          % [(m["to"], m["body"]) for m in world.fake.messages()])
    world.outputs.append(world.logs())


def main():
    why = podman_usable()
    if why:
        print("SKIPPED: " + why)
        return SKIP
    world = World()
    try:
        build(world)
        configure(world)
        scenario(world)
        step("compose and Kubernetes examples (check_examples.py)")
        check_examples.check_all(IMAGE, world.path("examples"), world.outputs)
        files = [world.path("fake-twilio.log")]
        if world.postfix:
            files += world.postfix.log_files()
        for path in files:
            if os.path.isfile(path):
                with open(path, errors="replace") as f:
                    world.outputs.append(f.read())
        for text in world.outputs:
            check(world.token not in text, "the Twilio token appeared in output or logs")
    except (Failed, check_examples.Failed):
        if world.containers:
            print("--- podman logs (tail) ---\n" + world.logs()[-3000:], file=sys.stderr)
        if world.postfix:
            print("--- maillog (tail) ---\n" + world.postfix.maillog_text()[-2000:],
                  file=sys.stderr)
        raise
    finally:
        world.stop()
    step("container image ok")
    return 0


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("container test: needs root", file=sys.stderr)
        sys.exit(1)
    os.environ["CONTAINERS_CONF"] = os.path.join(HERE, "containers.conf")

    def stop_on_sigterm(*_):  # a ctest timeout: unwind, so that World.stop() runs
        raise KeyboardInterrupt("SIGTERM")
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        sys.exit(main())
    except (Failed, check_examples.Failed) as e:
        print("FAILED: %s" % e, file=sys.stderr)
        sys.exit(1)
