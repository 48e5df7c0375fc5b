"""A missing system program stops make, or the Sphinx build itself, with one line saying what
to install: never a stack trace. tools/require-program is run with a PATH that lacks the
program and holds stand-ins for what the script runs (id, apt-get), so no test installs
anything, whoever runs it."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import ROOT, build_fixture

REQUIRE = ROOT / "tools" / "require-program"


def stand_ins(tmp_path, uid: int, apt_get_succeeds: bool = False):
    """A bin directory with an ``id`` that reports ``uid`` and an ``apt-get`` that records
    each call in apt-get.log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (bin_dir / "apt-get").write_text(
        f'#!/bin/sh\necho "$@" >> {tmp_path}/apt-get.log\nexit {0 if apt_get_succeeds else 1}\n')
    for tool in ("id", "apt-get"):
        (bin_dir / tool).chmod(0o755)
    return bin_dir


def require(bin_dir, program: str, package: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/sh", str(REQUIRE), program, package], capture_output=True,
                          text=True, env={"PATH": str(bin_dir), **env})


@pytest.mark.parametrize("program, package", [("dot", "graphviz"), ("chromium", "chromium")])
def test_missing_program_as_non_root_gives_one_line(tmp_path, program, package):
    proc = require(stand_ins(tmp_path, uid=1000), program, package)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"error: '{program}' is missing: install the package {package} "
        f"(Debian/Ubuntu: sudo apt-get install {package})"]
    assert not (tmp_path / "apt-get.log").exists()


def test_no_auto_install_as_root_gives_the_same_line(tmp_path):
    proc = require(stand_ins(tmp_path, uid=0, apt_get_succeeds=True), "dot", "graphviz",
                   KB_NO_AUTO_INSTALL="1")
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "error: 'dot' is missing: install the package graphviz "
        "(Debian/Ubuntu: sudo apt-get install graphviz)"]
    assert not (tmp_path / "apt-get.log").exists()


def test_root_without_the_override_tries_apt_get(tmp_path):
    """The other branch: as root, require-program installs, and says so when it cannot."""
    proc = require(stand_ins(tmp_path, uid=0), "dot", "graphviz")
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1] == "error: could not install graphviz with apt-get; install it by hand"
    assert (tmp_path / "apt-get.log").read_text().split("\n")[0] == "update -qq"


def test_present_program_passes_silently(tmp_path):
    bin_dir = stand_ins(tmp_path, uid=1000)
    (bin_dir / "dot").symlink_to(shutil.which("sh"))
    proc = require(bin_dir, "dot", "graphviz")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_sphinx_build_without_dot_stops_with_one_line(tmp_path):
    no_dot = tmp_path / "empty-bin"
    no_dot.mkdir()
    build = build_fixture("markdown-need", tmp_path, env={**os.environ, "PATH": str(no_dot)})
    assert build.returncode == 1
    assert build.stderr.splitlines() == [
        "error: 'dot' is missing: install the package graphviz "
        "(Debian/Ubuntu: sudo apt-get install graphviz)"]
    assert "Traceback" not in build.output
