"""Snippets the docs tell an admin to use, read from the doc files themselves so that the tests
exercise them exactly as written (the docs cannot drift from what is tested).

  readme_block("postfix-snippet")  the fenced block after `<!-- tested: postfix-snippet -->`
  settings(path)                   a main.cf-style file's lines without comments and blank lines
  commented(path, prefix)          the commented-out line "#PREFIX..." of a file, uncommented
"""

import os

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def repo_path(rel):
    return os.path.join(REPO_ROOT, rel)


def readme_block(name, readme="README.md"):
    """Lines of the fenced block that follows the marker line `<!-- tested: NAME -->`."""
    with open(repo_path(readme)) as f:
        lines = f.read().split("\n")
    marker = "<!-- tested: %s -->" % name
    starts = [i for i, l in enumerate(lines) if l.strip() == marker]
    if len(starts) != 1:
        raise AssertionError("%s: expected one %r line, found %d" % (readme, marker, len(starts)))
    i = starts[0] + 1
    if i >= len(lines) or not lines[i].startswith("```"):
        raise AssertionError("%s: %r is not followed by a fenced block" % (readme, marker))
    end = lines.index("```", i + 1)  # ValueError: the block is not closed
    return lines[i + 1:end]


def settings(rel):
    """Non-comment, non-blank lines (continuation lines kept), as in main.cf or master.cf."""
    with open(repo_path(rel)) as f:
        return [l for l in f.read().split("\n") if l.strip() and not l.lstrip().startswith("#")]


def commented(rel, prefix):
    """The one line "#PREFIX..." of the file, without its "#"."""
    with open(repo_path(rel)) as f:
        found = [l[1:] for l in f.read().split("\n") if l.startswith("#" + prefix)]
    if len(found) != 1:
        raise AssertionError("%s: expected one line starting #%s, found %d"
                             % (rel, prefix, len(found)))
    return found[0]
