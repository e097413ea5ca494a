"""What an admin does by hand, for the tests that follow the docs on a real system (the install
and container tests): run a README block as pasted into a shell, and wait for its effect.
"""

import subprocess
import time


class Failed(Exception):
    pass


def run_block(name, lines, cwd="/", input_text="", env=None, timeout=300):
    """README lines as a bash script (set -e), as an admin would paste them; input_text is
    what the admin types."""
    script = "set -e\n" + "\n".join(lines) + "\n"
    proc = subprocess.run(["bash", "-c", script], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, input=input_text, env=env)
    if proc.returncode != 0:
        raise Failed("README block %s exited %d:\n%s%s" % (name, proc.returncode,
                                                            proc.stdout[-4000:],
                                                            proc.stderr[-4000:]))
    return proc


def wait(pred, timeout, what):
    """pred()'s first true value within timeout seconds; what (or what()) names it on failure."""
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise Failed("timed out after %ss waiting for %s"
                         % (timeout, what() if callable(what) else what))
        time.sleep(0.1)
