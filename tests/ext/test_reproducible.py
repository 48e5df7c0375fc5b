"""Reproducible builds: two clean builds of one commit give the same site, byte for byte.

Each build starts from its own copy of the files git would check out (so nothing untracked on
this machine can leak in: an ignored or empty directory, a stale .doctrees), in its own
directory (so no absolute path can leak in) and with its own hash seed (so no set or dict order
can leak in). Every output file is compared: needs.json, the pages, the search index, assets."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import ROOT, STRICT


def checkout(dest: Path) -> Path:
    """Copy of the files of the work tree that git tracks or would track (not the ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():  # a file deleted but not yet committed is listed too
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def clean_build(tmp: Path, seed: str) -> Path:
    src, out = checkout(tmp / "src"), tmp / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", *STRICT, "-q", "-d", str(tmp / "doctrees"),
         str(src), str(out)],
        cwd=src, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": seed},
    )
    assert proc.returncode == 0, f"a clean checkout does not build:\n{proc.stderr[-4000:]}"
    return out


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory) -> tuple[Path, Path]:
    seeds = ["1", "2"]
    directories = [tmp_path_factory.mktemp(f"build{seed}") for seed in seeds]  # not in threads: see test_bad_content
    with ThreadPoolExecutor(max_workers=2) as pool:
        a, b = pool.map(clean_build, directories, seeds)
    return a, b


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_the_builds_write_the_same_files(two_builds):
    a, b = two_builds
    assert files(a) == files(b)
    assert {"needs.json", "requirements/model.html", "searchindex.js"} <= files(a)


def test_needs_json_is_byte_identical(two_builds):
    a, b = two_builds
    assert (a / "needs.json").read_bytes() == (b / "needs.json").read_bytes()


def test_every_output_file_is_byte_identical(two_builds):
    a, b = two_builds
    differ = [name for name in sorted(files(a) & files(b))
              if not filecmp.cmp(a / name, b / name, shallow=False)]
    assert differ == [], f"{len(differ)} files differ, e.g. {differ[:5]}"

