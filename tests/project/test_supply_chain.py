"""Supply chain: every package of requirements.lock is pinned to one version and hash-checked,
and `make audit` checks the lock for known vulnerabilities (pip-audit) without installing
anything; it needs the network, so it is not part of `make test`."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from conftest import ROOT

PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[^\s=;]+$")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


def requirements(text: str) -> list[str]:
    """The requirement lines of a lock, each with its continuation lines, comments dropped."""
    logical = re.sub(r"\\\n", " ", text)
    lines = (line.split(" #")[0].strip() for line in logical.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def unpinned(text: str) -> list[str]:
    """Requirements that are not ``name==version`` with at least one sha256 hash."""
    bad = []
    for line in requirements(text):
        spec, *options = line.split()
        hashes = [o for o in options if o.startswith("--hash")]
        if not PINNED.match(spec) or not hashes or not all(HASH.fullmatch(h) for h in hashes):
            bad.append(spec)
    return bad


def test_lock_pins_every_package_with_hashes():
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    assert len(requirements(text)) > 50  # the whole tree, not only the direct dependencies
    assert unpinned(text) == []


def test_search_index_is_stemmed_by_pystemmer():
    """Sphinx stems the words of its search index with snowballstemmer, which takes PyStemmer's
    C stemmers when PyStemmer is installed (the same Snowball algorithms, the same stems):
    the lock pins it, and the venv's English stemmer is the C one."""
    import snowballstemmer

    lock = requirements((ROOT / "requirements.lock").read_text(encoding="utf-8"))
    assert [line.split()[0] for line in lock if line.lower().startswith("pystemmer==")]
    assert type(snowballstemmer.stemmer("english")).__module__ == "Stemmer"


@pytest.mark.parametrize("lock, bad", [
    ("sphinx==9.0.4 \\\n    --hash=sha256:" + "a" * 64 + "\n    # via -r requirements.in\n", []),
    ("sphinx>=9.0 \\\n    --hash=sha256:" + "a" * 64 + "\n", ["sphinx>=9.0"]),
    ("sphinx==9.0.4\n", ["sphinx==9.0.4"]),
    ("sphinx==9.0.4 --hash=md5:abc\n", ["sphinx==9.0.4"]),
    ("sphinx\n", ["sphinx"]),
])
def test_unpinned_finds_what_is_not_pinned(lock, bad):
    assert unpinned(lock) == bad


def make_dry_run(target: str) -> str:
    """The commands ``make TARGET`` would run, also when the tests run under make."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    return subprocess.run(["make", "-n", "--no-print-directory", target], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True).stdout


def test_make_audit_checks_the_lock_without_installing():
    command = " ".join(make_dry_run("audit").replace("\\\n", " ").split())
    assert "pip-audit --requirement requirements.lock --require-hashes --disable-pip --strict" in command


def test_make_test_does_not_audit():
    assert "pip-audit" not in make_dry_run("test")


def test_published_site_holds_no_build_state():
    """make html writes the doctrees (pickled build state) beside the site, not into it."""
    (command,) = [line for line in make_dry_run("html").splitlines() if "sphinx-build" in line]
    assert re.search(r"-d (\S+) \. _build/html$", command) and "-d _build/html" not in command
