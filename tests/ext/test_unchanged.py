"""A build that changed nothing does no work on the needs (kb.build.unchanged), but only after
a build that ended clean: a build that warned warns again when nothing changed, whether the
warning comes from sphinx-needs resolving the needs or from the site's schema validation
(tests/ext/test_validation.py). The settled no-op itself, and an output changed by hand, are
checked with the other incremental builds (tests/ext/test_incremental.py)."""

import re

from conftest import build_fixture, sphinx_build

PROBLEM = re.compile(r"^\S+:\d+: (?:WARNING|ERROR): .*", re.M)


def test_a_build_that_warned_warns_again_when_nothing_changed(tmp_path):
    first = build_fixture("bad-dead-link", tmp_path)
    assert first.returncode != 0
    problems = PROBLEM.findall(first.output)
    assert any("unknown outgoing link 'GL_MISSING'" in p for p in problems), first.output[-3000:]

    for _ in range(2):  # nor does the build after the one that warned again settle
        again = sphinx_build(first.srcdir, first.outdir)
        assert again.returncode != 0, "a build with nothing changed must fail as the last one did"
        assert "kb.build.unchanged" not in again.output
        assert PROBLEM.findall(again.output) == problems
