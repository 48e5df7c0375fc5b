"""Build the site once per test session; tests read its outputs (needs.json, HTML).

Small fixture projects under tests/fixtures/ are built with the real model: the fixture's
pages are copied beside the project's conf.py, ubproject.toml and _ext/."""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

# the browser fixtures, shared by every module under browser/ (one Playwright per process)
pytest_plugins = ["browser.session"]

ROOT = Path(__file__).resolve().parents[1]
# Sphinx colours its messages when CI=true; the tests read the messages as plain text.
os.environ["NO_COLOR"] = "1"
FIXTURES = Path(__file__).parent / "fixtures"
DATA = Path(__file__).parent / "data"
SPHINX = [sys.executable, "-m", "sphinx"]
STRICT = ["-W", "--keep-going", "-n"]


@dataclass
class Build:
    srcdir: Path
    outdir: Path
    returncode: int
    output: str  # stdout, then stderr
    stderr: str = ""

    @property
    def needs_json(self) -> dict:
        return json.loads((self.outdir / "needs.json").read_text(encoding="utf-8"))

    @property
    def needs(self) -> dict[str, dict]:
        data = self.needs_json
        return data["versions"][data["current_version"]]["needs"]

    def html(self, page: str) -> str:
        return (self.outdir / page).read_text(encoding="utf-8")


def sphinx_build(srcdir: Path, outdir: Path, *extra: str, env: dict | None = None) -> Build:
    proc = subprocess.run(
        [*SPHINX, "-b", "html", *STRICT, *extra, str(srcdir), str(outdir)],
        capture_output=True, text=True, cwd=srcdir, env=env,
    )
    return Build(srcdir, outdir, proc.returncode, proc.stdout + proc.stderr, proc.stderr)


def build_fixture(name: str, tmp_path: Path, env: dict | None = None, model_extra: str = "",
                  options: tuple[str, ...] = ()) -> Build:
    """Build tests/fixtures/<name> with the project's real configuration and model
    (plus ``model_extra``, TOML appended to the model; ``options`` for sphinx-build)."""
    src = fixture_project(name, tmp_path, model_extra)
    return sphinx_build(src, tmp_path / "html", *options, env=env)


def fixture_project(name: str, tmp_path: Path, model_extra: str = "") -> Path:
    """tests/fixtures/<name> copied to tmp_path/src beside the project's configuration,
    model (plus ``model_extra``) and extensions."""
    src = tmp_path / "src"
    shutil.copytree(FIXTURES / name, src)
    for f in ("conf.py", "ubproject.toml", "docutils.conf"):
        shutil.copy(ROOT / f, src / f)
    if model_extra:
        with open(src / "ubproject.toml", "a", encoding="utf-8") as f:
            f.write("\n" + model_extra)
    for folder in ("_ext", "_static"):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return src


def run_exporter(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python3 -m kb_export ARGS`` as the Makefiles run it: the package from _ext/."""
    environment = {**os.environ, **(env or {})}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "_ext"), environment.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "kb_export", *args], capture_output=True, text=True,
                          env=environment)


def pages(outdir: Path) -> dict[str, str]:
    """Every HTML page of a build, with the random ids of need containers removed."""
    return {p.relative_to(outdir).as_posix(): re.sub(r"SNCB-[0-9a-f]{8}", "", p.read_text(encoding="utf-8"))
            for p in outdir.rglob("*.html")}


def assert_same_pages(ours: Path, theirs: Path, names: tuple[str, str] = ("ours", "theirs")) -> None:
    """Two builds wrote the same HTML pages, byte for byte (as ``pages`` reads them); if not,
    which pages differ and the first one's difference, the builds called ``names``."""
    mine, other = pages(ours), pages(theirs)
    assert mine and sorted(mine) == sorted(other)
    differ = [page for page in sorted(mine) if mine[page] != other[page]]
    if differ:
        first = differ[0]
        diff = "\n".join(list(difflib.unified_diff(other[first].splitlines(), mine[first].splitlines(),
                                                   names[1], names[0], lineterm=""))[:40])
        pytest.fail(f"{len(differ)} pages differ from {names[1]}'s: {differ[:10]}\n{first}:\n{diff}")


@pytest.fixture(scope="session")
def site() -> Build:
    """The real site, built once with warnings as errors."""
    build = sphinx_build(ROOT, ROOT / "_build" / "test" / "html", "-E")
    assert build.returncode == 0, f"the site does not build:\n{build.output[-6000:]}"
    return build


@pytest.fixture(scope="session")
def needs(site: Build) -> dict[str, dict]:
    return site.needs


def documents_of(need: dict, needs: dict) -> set[str]:
    """The guidelines a need traces to, from needs.json (as the browse page's Document facet):
    a guideline itself; a requirement the one it derives from; a design control, test or
    post-market activity those of what it covers; a standard those of the requirements citing it."""
    if need["type"] == "guideline":
        return {need["id"]}
    if need.get("derives_from"):
        return set(need["derives_from"])
    targets = [t for link in ("implements", "verifies", "maintains") for t in need.get(link) or []]
    targets += [r for r in need.get("cites_back") or [] if needs[r].get("derives_from")]
    return {d for t in targets for d in documents_of(needs[t], needs)}


def of_type(needs: dict[str, dict], kind: str) -> dict[str, dict]:
    return {k: v for k, v in needs.items() if v["type"] == kind}


def browsed(needs: dict[str, dict]) -> dict[str, dict]:
    """The needs the browse page lists: those of the site's own types ([kb.site]); the
    crosswalk's fits are shown on the crosswalk pages."""
    model = tomllib.loads((ROOT / "ubproject.toml").read_text(encoding="utf-8"))
    return {k: v for k, v in needs.items() if v["type"] in model["kb"]["site"]["types"]}


def frameworks_of(need: dict, needs: dict) -> set[str]:
    """From needs.json, as the browse page's Framework facet: a clause's framework; for a
    requirement, the frameworks of the clauses it has a full or partial fit to (a topic link
    alone is not a mapping)."""
    fits = tomllib.loads((ROOT / "ubproject.toml").read_text(encoding="utf-8"))["kb"]["crosswalk"]["fits"]
    out = set(need.get("part_of") or [])
    for fit_id in need.get(f"{fits['requirement']}_back") or []:
        fit = needs[fit_id]
        if fit[fits["level"]] in fits["maps_to"]:
            out.update(s for c in fit[fits["clause"]] for s in needs[c]["part_of"])
    return out
