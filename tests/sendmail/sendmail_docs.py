"""What the docs tell a Sendmail admin to do, read from the doc files themselves so that the
Sendmail tests apply it exactly as written (the docs cannot drift from what is tested).

  mc_lines()           the m4 lines of conf-examples/sendmail.mc (everything that is not dnl)
  mc_entries(FILE)     the entries the .mc's comments give for FILE (e.g. /etc/mail/access):
                       the indented "dnl     ..." lines after the line that ends "FILE:"
  mc_commands()        the indented command lines after "... rebuild and restart (Debian):"
  milter_socket()      the S= of the INPUT_MAIL_FILTER line
  readme_steps()       the README block marked <!-- tested: sendmail-steps -->
"""

import re

from doc_snippets import readme_block, repo_path

MC = "conf-examples/sendmail.mc"
INDENTED = re.compile(r"^dnl {4,}(\S.*)$")


def _mc():
    with open(repo_path(MC)) as f:
        return f.read().split("\n")


def mc_lines():
    return [l for l in _mc() if l.strip() and not l.startswith("dnl")]


def _indented_after(predicate, what):
    lines = _mc()
    starts = [i for i, l in enumerate(lines) if predicate(l)]
    if len(starts) != 1:
        raise AssertionError("%s: expected one line introducing %s, found %d"
                             % (MC, what, len(starts)))
    out = []
    for l in lines[starts[0] + 1:]:
        m = INDENTED.match(l)
        if not m:
            break
        out.append(m.group(1).strip())
    if not out:
        raise AssertionError("%s: no indented lines after the one introducing %s" % (MC, what))
    return out


def mc_entries(path):
    return _indented_after(lambda l: l.startswith("dnl") and l.rstrip().endswith(path + ":"),
                           path)


def mc_commands():
    return _indented_after(lambda l: l.startswith("dnl") and
                           l.rstrip().endswith("rebuild and restart (Debian):"), "the commands")


def milter_socket():
    found = [re.search(r"S=([^,']+)", l) for l in mc_lines() if l.startswith("INPUT_MAIL_FILTER")]
    if len(found) != 1 or not found[0]:
        raise AssertionError("%s: expected one INPUT_MAIL_FILTER line with S=" % MC)
    return found[0].group(1).strip()


def readme_steps():
    return readme_block("sendmail-steps")


def entry_fields(lines):
    """Entries compared by their white-space separated fields (tabs or spaces alike)."""
    return [l.split() for l in lines]
