"""Throw-away PKI for the end-to-end tests, made with the openssl CLI.

make_pki(DIR) creates in DIR:
  ca.pem / ca.key          the test CA the milter is told to trust
  server.pem / server.key  a server certificate signed by it, SAN IP:127.0.0.1, IP:::1,
                           DNS:localhost (used by the fake Twilio)
  other-ca.pem             an unrelated CA, for the "untrusted certificate" case
Keys are EC P-256 and valid for 2 days; nothing here is meant to outlive a test run.
"""

import os
import subprocess

SERVER_EXT = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
"""


def _openssl(*args, cwd):
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], proc.stderr.strip()))


def _make_ca(directory, name, cn):
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "2", "-subj", "/CN=" + cn,
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-keyout", name + ".key", "-out", name + ".pem", cwd=directory)


def make_pki(directory):
    """Create the files listed in the module docstring; return a dict of their paths."""
    os.makedirs(directory, exist_ok=True)
    _make_ca(directory, "ca", "sms-milter e2e test CA")
    _make_ca(directory, "other-ca", "unrelated e2e CA")
    with open(os.path.join(directory, "server.ext"), "w") as f:
        f.write(SERVER_EXT)
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key",
             "-out", "server.csr", cwd=directory)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", "server.ext",
             "-out", "server.pem", cwd=directory)
    paths = {k: os.path.join(directory, v) for k, v in {
        "ca": "ca.pem", "ca_key": "ca.key", "cert": "server.pem", "key": "server.key",
        "other_ca": "other-ca.pem"}.items()}
    for key in ("ca_key", "key"):
        os.chmod(paths[key], 0o600)
    return paths


if __name__ == "__main__":
    import sys
    print(make_pki(sys.argv[1] if len(sys.argv) > 1 else "pki"))
