"""The README's compose and Kubernetes examples (`<!-- checked: container-compose -->`,
`<!-- checked: container-kubernetes -->`), checked against the image; they are not run on
Docker Compose or a cluster (neither is on this machine kind).

For both: the YAML parses; every mount names a declared volume (or secret); the image's paths
are mounted; the daemon runs as uid 2525, with a read-only root file system.
Compose: the secret's path (/run/secrets/NAME) is the config's twilio_auth_token_file, the
config is README container-config; the MTA starts after sms-milter and mounts the socket
volume. Kubernetes: the init container's command runs in the image (as root, as the example
says) on a Secret mounted as Kubernetes does (a root-owned 0400 file behind ..data symbolic
links); then `sms-milter check` runs in the image as uid 2525, read-only, on the ConfigMap's
config with the init container's output mounted where the example mounts it, and passes.

check_all(image, workdir, outputs) is called by test_container.py once the image exists.
"""

import json
import os
import secrets
import shutil
import stat
import subprocess

import yaml

from doc_snippets import readme_block

UID = 2525
PATHS = ("/etc/sms-milter", "/var/lib/sms-milter", "/run/sms-milter")


class Failed(Exception):
    pass


def check(cond, text):
    if not cond:
        raise Failed(text)


def block(name):
    """The README's fenced block after `<!-- checked: NAME -->`, parsed (all documents)."""
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")) as f:
        lines = f.read().split("\n")
    marker = "<!-- checked: %s -->" % name
    starts = [i for i, l in enumerate(lines) if l.strip() == marker]
    check(len(starts) == 1, "README.md: expected one %r line, found %d" % (marker, len(starts)))
    i = starts[0] + 1
    check(lines[i] == "```yaml", "README.md: %r is not followed by a ```yaml block" % marker)
    end = lines.index("```", i + 1)
    return [d for d in yaml.safe_load_all("\n".join(lines[i + 1:end])) if d is not None]


def covered(paths, mounts):
    """Each path is a mount target or lies under one."""
    return [p for p in paths
            if not any(p == m or p.startswith(m.rstrip("/") + "/") for m in mounts)]


def conf_value(conf_lines, key):
    found = [l.split("=", 1)[1].strip() for l in conf_lines
             if l.split("=", 1)[0].strip() == key]
    check(len(found) == 1, "the config sets %s %d times" % (key, len(found)))
    return found[0]


def podman(args, timeout=120):
    return subprocess.run(["podman"] + args, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def run_check(image, conf_text, token_dir, token_target, workdir, outputs):
    """`sms-milter check` in the image, read-only as uid 2525, on conf_text with token_dir
    mounted read-only at token_target."""
    conf = os.path.join(workdir, "check-%s.conf" % secrets.token_hex(4))
    with open(conf, "w") as f:
        f.write(conf_text)
    os.chmod(conf, 0o644)
    proc = podman(["run", "--rm", "--network=none", "--read-only", "--user", "%d:%d" % (UID, UID),
                   "-v", conf + ":/etc/sms-milter/sms-milter.conf:ro",
                   "-v", "%s:%s:ro" % (token_dir, token_target), image,
                   "check", "-c", "/etc/sms-milter/sms-milter.conf"])
    outputs.append(proc.stdout + proc.stderr)
    check(proc.returncode == 0, "sms-milter check in the image failed on an example's config "
          "(exit %d):\n%s%s" % (proc.returncode, proc.stdout, proc.stderr))


def check_compose(image, workdir, token, outputs):
    doc = block("container-compose")
    check(len(doc) == 1, "the compose example should be one YAML document")
    doc = doc[0]
    svc = doc["services"]["sms-milter"]
    check(svc["image"] == "sms-milter", "compose: image %r" % svc.get("image"))
    check(str(svc["user"]).split(":")[0] == str(UID), "compose: user %r" % svc.get("user"))
    check(svc.get("read_only") is True, "compose: read_only is not true")
    named = set(doc.get("volumes") or {})
    targets = []
    for v in svc["volumes"]:
        source, target = v.split(":")[:2]
        targets.append(target)
        check(source.startswith(("./", "/")) or source in named,
              "compose: volume %r is not declared" % source)
    check(not covered(PATHS[1:] + ("/etc/sms-milter/sms-milter.conf",), targets),
          "compose: unmounted: %s" % covered(PATHS[1:] + ("/etc/sms-milter/sms-milter.conf",),
                                               targets))
    declared = doc.get("secrets") or {}
    for s in svc.get("secrets") or []:
        check(s in declared and "file" in declared[s], "compose: secret %r not declared" % s)
    conf = readme_block("container-config")
    token_file = conf_value(conf, "twilio_auth_token_file")
    check(token_file in ["/run/secrets/" + s for s in svc.get("secrets") or []],
          "compose: twilio_auth_token_file %s is not one of its secrets" % token_file)
    check(conf_value(conf, "milter_socket") == "unix:/run/sms-milter/sms-milter.sock",
          "compose: the config's socket is not in the socket volume")
    socket_vol = [v.split(":")[0] for v in svc["volumes"] if v.split(":")[1] == "/run/sms-milter"]
    mta = [n for n, s in doc["services"].items() if n != "sms-milter"]
    check(len(mta) == 1, "compose: one MTA service expected: %s" % mta)
    m = doc["services"][mta[0]]
    check("sms-milter" in (m.get("depends_on") or []), "compose: the MTA does not start after "
          "sms-milter (the socket volume would take the MTA image's owner)")
    check(any(v.split(":")[0] == socket_vol[0] for v in m.get("volumes") or []),
          "compose: the MTA does not mount the socket volume")
    tokdir = os.path.join(workdir, "compose-secret")
    os.makedirs(tokdir, mode=0o755)
    with open(os.path.join(tokdir, "twilio-auth-token"), "w") as f:
        f.write(token + "\n")
    os.chown(os.path.join(tokdir, "twilio-auth-token"), UID, UID)
    os.chmod(os.path.join(tokdir, "twilio-auth-token"), 0o600)
    run_check(image, "\n".join(conf) + "\n", tokdir, "/run/secrets", workdir, outputs)


def kube_secret(directory, token):
    """A Secret volume as the kubelet writes it: KEY -> ..data/KEY, ..data -> ..TIMESTAMP,
    files root-owned with defaultMode 0400."""
    d = directory
    ts = os.path.join(d, "..2026_01_01_00_00_00.000000000")
    os.makedirs(ts, mode=0o755)
    with open(os.path.join(ts, "twilio-auth-token"), "w") as f:
        f.write(token)
    os.chmod(os.path.join(ts, "twilio-auth-token"), 0o400)
    os.symlink(os.path.basename(ts), os.path.join(d, "..data"))
    os.symlink("..data/twilio-auth-token", os.path.join(d, "twilio-auth-token"))
    return d


def check_kubernetes(image, workdir, token, outputs):
    docs = {d["kind"]: d for d in block("container-kubernetes")}
    check(set(docs) == {"ConfigMap", "Deployment"}, "kubernetes: kinds %s" % sorted(docs))
    dep = docs["Deployment"]
    check(dep["apiVersion"] == "apps/v1" and docs["ConfigMap"]["apiVersion"] == "v1",
          "kubernetes: apiVersion")
    check(dep["spec"]["selector"]["matchLabels"].items() <=
          dep["spec"]["template"]["metadata"]["labels"].items(),
          "kubernetes: the selector does not match the template's labels")
    pod = dep["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for c in pod.get("initContainers", []) + pod["containers"]:
        for m in c.get("volumeMounts", []):
            check(m["name"] in volumes, "kubernetes: %s mounts undeclared volume %s"
                  % (c["name"], m["name"]))
    milter = [c for c in pod["containers"] if c["image"] == "sms-milter"]
    check(len(milter) == 1, "kubernetes: one sms-milter container expected")
    milter = milter[0]
    sc = milter["securityContext"]
    check(sc["runAsUser"] == UID and sc["runAsNonRoot"] is True and
          sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False,
          "kubernetes: sms-milter's securityContext: %r" % sc)
    mounts = {m["mountPath"]: m["name"] for m in milter["volumeMounts"]}
    cm_name = volumes[mounts["/etc/sms-milter"]]["configMap"]["name"]
    check(cm_name == docs["ConfigMap"]["metadata"]["name"], "kubernetes: config map name")
    conf_text = docs["ConfigMap"]["data"]["sms-milter.conf"]
    conf = conf_text.split("\n")
    token_file = conf_value(conf, "twilio_auth_token_file")
    secret_dir = os.path.dirname(token_file)
    check(not covered(PATHS + (token_file,), list(mounts)),
          "kubernetes: unmounted: %s" % covered(PATHS + (token_file,), list(mounts)))
    check(conf_value(conf, "milter_socket") == "unix:/run/sms-milter/sms-milter.sock",
          "kubernetes: the config's socket is not in the socket volume")
    socket_vol = mounts["/run/sms-milter"]
    check(any(m["name"] == socket_vol for c in pod["containers"] if c is not milter
              for m in c.get("volumeMounts", [])), "kubernetes: no MTA mounts the socket volume")

    # The init container, in the image, on host directories standing for the pod's volumes.
    init = pod["initContainers"]
    check(len(init) == 1 and init[0]["image"] == "sms-milter", "kubernetes: one init container")
    init = init[0]
    host = {}  # volume name -> the host directory standing for it
    args = ["run", "--rm", "--network=none", "--read-only", "--user", "0:0",
            "--entrypoint", json.dumps(init["command"][:1])]
    for m in init["volumeMounts"]:
        vol = volumes[m["name"]]
        if "secret" in vol:
            path = host.setdefault(m["name"], kube_secret(
                os.path.join(workdir, "kube-secret-" + m["name"]), token + "\n"))
        else:
            path = host.setdefault(m["name"], os.path.join(workdir, "kube-volume-" + m["name"]))
            os.makedirs(path, mode=0o777, exist_ok=True)  # an emptyDir / a new volume
            os.chmod(path, 0o777)
        args += ["-v", "%s:%s%s" % (path, m["mountPath"], ":ro" if m.get("readOnly") else "")]
    proc = podman(args + [image] + init["command"][1:])
    outputs.append(proc.stdout + proc.stderr)
    check(proc.returncode == 0, "kubernetes: the init container's command failed (exit %d):\n%s%s"
          % (proc.returncode, proc.stdout, proc.stderr))
    copied = host[mounts[secret_dir]]
    st = os.stat(os.path.join(copied, os.path.basename(token_file)))
    check((st.st_uid, stat.S_IMODE(st.st_mode)) == (UID, 0o600),
          "kubernetes: the copied secret is uid %d mode %04o" % (st.st_uid, st.st_mode & 0o777))
    for name in (mounts["/var/lib/sms-milter"], socket_vol):
        st = os.stat(host[name])
        check(st.st_uid == UID and not st.st_mode & 0o007,
              "kubernetes: volume %s after the init container: uid %d mode %04o"
              % (name, st.st_uid, st.st_mode & 0o777))
    run_check(image, conf_text, copied, secret_dir, workdir, outputs)


def check_all(image, workdir, outputs):
    os.makedirs(workdir, mode=0o755, exist_ok=True)
    token = secrets.token_hex(16)
    try:
        check_compose(image, workdir, token, outputs)
        check_kubernetes(image, workdir, token, outputs)
        for text in outputs:
            check(token not in text, "an example's token appeared in the output")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
