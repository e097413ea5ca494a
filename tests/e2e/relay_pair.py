"""Shared by the several-relays tests (test_shared_state.py, test_shared_state_tls.py): the
Environment's PKI and fake Twilio, plus a Redis and Postfix sandboxes ("relays"), each with
its own sms-milter(s) as listeners, stopped together; and the alert mail they send.
"""

import email.message
import email.utils
import os
import unittest

from harness import Environment, exit_on_sigterm
from postfix_sandbox import Listener, PostfixSandbox


class RelayWorld(Environment):
    """A subclass's _start() starts self.redis and its milters, then start_relays()."""

    def __init__(self):
        super().__init__({})
        self.redis = None
        self.relays = {}

    def secret(self, name, value):
        """A secret file (0600) under the work dir, holding value."""
        path = os.path.join(self.root, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value + "\n")
        return path

    def start_relays(self, listeners):
        """One Postfix sandbox per relay: {relay: [milter name, ...]}, a listener per milter,
        named after it."""
        for relay, names in listeners.items():
            pdir = os.path.join(self.root, "postfix-" + relay)
            os.makedirs(pdir, mode=0o755)
            p = PostfixSandbox(pdir, [Listener(n, milters=self.milters[n].postfix_milter())
                                      for n in names])
            self.relays[relay] = p
            p.start()

    def sandbox_of(self, listener):
        return next(p for p in self.relays.values() if listener in p.listeners)

    def stop(self):
        errors = []
        for p in self.relays.values():
            try:
                p.stop()
            except Exception as e:
                errors.append(e)
        try:
            if self.redis:
                self.redis.stop()
        except Exception as e:
            errors.append(e)
        super().stop()
        if errors:
            raise errors[0]

    def log_files(self):
        files = super().log_files()
        for p in self.relays.values():
            files += p.log_files()
        return files + [os.path.join(self.root, "redis", "redis.log")]


def start_world(world_class):
    """For setUpModule: the world started, stopped when the module's tests are done."""
    if os.geteuid() != 0:
        raise unittest.SkipTest("the Postfix sandboxes need root")
    exit_on_sigterm()
    world = world_class()
    unittest.addModuleCleanup(world.stop)
    return world.start()


def alert(sender, rcpt, subject, body="check the service"):
    """An alert mail with its own Message-ID and Date, as bytes."""
    msg = email.message.EmailMessage()
    msg["From"] = sender
    msg["To"] = rcpt
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate()
    msg["Message-ID"] = email.utils.make_msgid(domain="e2e.test")
    msg.set_content(body)
    return msg.as_bytes()


def assert_no_secret_in_logs(test, world):
    """Neither the Twilio token nor the Redis password is in any log of the world."""
    for path in world.log_files():
        with open(path, "rb") as f:
            data = f.read()
        test.assertNotIn(world.auth_token.encode(), data, path)
        test.assertNotIn(world.redis.password.encode(), data, path)
