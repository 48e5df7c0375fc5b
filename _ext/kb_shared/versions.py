"""needs.json of any committed version of this repository, for comparing two versions.

A version is built in a temporary git worktree of its commit, with the dependencies of that
version's own requirements.lock (a virtual environment per lock, kept in the cache; the
current one when the lock is the same), and its needs.json is kept in the cache by commit, so
a version is built once. The device template's needs.json is built the same way, after the
knowledge base it imports the requirements of (its interchange) has been built from the same
commit.

Every problem a user can fix is a VersionError with a one-line message."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# The first commit whose build writes needs.json (build_json in ubproject.toml); an older ref
# has nothing to compare.
FIRST_MARK = ("ubproject.toml", "build_json = true")
DEVICE = "examples/device-template"
NESTED = "KB_CHANGES_NESTED"
RELEASE_TAG = re.compile(r"v[0-9]+\.[0-9]+")  # a release: v<major>.<minor>  # set in the builds made here: no release page of their own


class VersionError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


def git(repo: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if check and proc.returncode:
        raise VersionError(f"git {' '.join(args)}: {proc.stderr.strip() or 'failed'}")
    return proc.stdout.strip() if proc.returncode == 0 else ""


def resolve(repo: Path, ref: str) -> str:
    """The commit a ref names; an unknown ref is a VersionError."""
    commit = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    if not commit:
        raise VersionError(f"unknown ref {ref!r}: give a branch, tag or commit of {repo}")
    return commit


def writes_needs_json(repo: Path, commit: str) -> bool:
    path, mark = FIRST_MARK
    text = git(repo, "show", f"{commit}:{path}", check=False)
    return mark in text


def previous_release(repo: Path) -> str | None:
    """The newest release tag (v<major>.<minor>) before HEAD: HEAD's own tag does not count."""
    here = set(git(repo, "tag", "--points-at", "HEAD", "--list", "v[0-9]*.[0-9]*", check=False).split())
    for tag in git(repo, "tag", "--merged", "HEAD", "--sort=-creatordate", "--list", "v[0-9]*.[0-9]*",
                   check=False).split():
        if tag not in here and _is_release(tag):
            return tag
    return None


def _is_release(tag: str) -> bool:
    return RELEASE_TAG.fullmatch(tag) is not None


def _lock_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def python_for(repo: Path, commit: str, cache: Path) -> Path:
    """The Python with the version's own lock installed: the running one when that lock is
    the current lock, else a virtual environment in the cache, made once per lock."""
    lock = git(repo, "show", f"{commit}:requirements.lock", check=False)
    current = (repo / "requirements.lock").read_text(encoding="utf-8") if (repo / "requirements.lock").is_file() else ""
    if not lock or lock == current.strip():  # git() strips the file's last newline
        return Path(sys.executable)
    venv = cache / "venvs" / _lock_hash(lock)
    python = venv / "bin" / "python"
    if not (venv / ".installed").is_file():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        with tempfile.NamedTemporaryFile("w", suffix=".lock", delete=False) as f:
            f.write(lock)
        proc = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--require-hashes", "--no-deps",
                               "-r", f.name], capture_output=True, text=True)
        os.unlink(f.name)
        if proc.returncode:
            raise VersionError(f"installing the lock of {commit[:12]} failed: {proc.stderr.strip()[-300:]}")
        (venv / ".installed").touch()
    return python


def needs_json(repo: Path, ref: str, cache: Path, project: str = ".") -> tuple[str, Path]:
    """(commit, needs.json) of a ref, built in a worktree unless the cache has it."""
    commit = resolve(repo, ref)
    if not writes_needs_json(repo, commit):
        raise VersionError(f"{ref} ({commit[:12]}) is older than the first version that wrote needs.json; "
                           "give a later ref")
    name = "site" if project == "." else project.replace("/", "_")
    kept = cache / "needs" / commit / name / "needs.json"
    if kept.is_file():
        return commit, kept
    python = python_for(repo, commit, cache)
    sphinx = [str(python), "-m", "sphinx", "-q", "-W", "--keep-going"]
    work = Path(tempfile.mkdtemp(prefix="kb-version-"))
    tree = work / "tree"
    env = {**os.environ, NESTED: "1"}
    try:
        git(repo, "worktree", "add", "--detach", "--force", str(tree), commit)
        if project == ".":
            # sphinx-needs' needs builder writes the same needs.json as an HTML build, without
            # writing a page: about a quarter of the time
            steps = [[*sphinx, "-b", "needs", "-d", str(work / "doctrees"), str(tree), str(work / "out")]]
            built = work / "out" / "needs.json"
        else:
            # a device project imports the interchange an HTML build of the site publishes
            steps = [[*sphinx, "-b", "html", "-d", str(work / "doctrees"), str(tree), str(tree / "_build" / "html")],
                     [*sphinx, "-b", "html", "-E", str(tree / project), str(tree / project / "_build" / "html")]]
            built = tree / project / "_build" / "html" / "needs.json"
        for step in steps:
            proc = subprocess.run(step, capture_output=True, text=True, env=env, cwd=tree)
            if proc.returncode:
                raise VersionError(f"building {ref} ({commit[:12]}) failed: {proc.stderr.strip()[-400:]}")
        kept.parent.mkdir(parents=True, exist_ok=True)
        partial = kept.with_suffix(".part")
        shutil.copyfile(built, partial)
        partial.replace(kept)  # the cache never holds half a file
    finally:
        git(repo, "worktree", "remove", "--force", str(tree), check=False)
        shutil.rmtree(work, ignore_errors=True)
    return commit, kept
