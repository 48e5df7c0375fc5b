"""The change report (tools/changes, `make changes`): a temporary repository with two versions
of a tiny project (one requirement changed, one added, one removed, one link moved to another
target) gives exactly the expected rows, in the HTML, the XLSX and the JSON; bad input stops
with one line and leaves no report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from conftest import FIXTURES, ROOT, sphinx_build

from kb.model import model_of
from kb.quality.review import REVIEWED, record_review
from kb_export.tables import untext

TOOL = ROOT / "tools" / "changes"


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_AUTHOR_DATE": "2026-01-02T03:04:05Z",
           "GIT_COMMITTER_DATE": "2026-01-02T03:04:05Z"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True)


def second_version(text: str) -> str:
    """REQ_FIXTURE_A reworded, REQ_FIXTURE_C removed, REQ_FIXTURE_D added, DC_FIXTURE_1 moved
    from REQ_FIXTURE_A to REQ_FIXTURE_B."""
    text = text.replace("Updates should reach the device over an authenticated channel.",
                        "Updates should reach the device over an authenticated and encrypted channel.")
    start = text.index(".. req:: Document the interfaces")
    end = text.index(".. design::")
    text = text[:start] + text[start:end].replace("Document the interfaces", "Keep an SBOM") \
        .replace("REQ_FIXTURE_C", "REQ_FIXTURE_D").replace("N60-5.1-04", "N60-5.5.2-09") \
        .replace("The manufacturer should document every interface of the device.",
                 "The manufacturer should keep a software bill of materials.") + text[end:]
    return text.replace("   :implements: REQ_FIXTURE_A", "   :implements: REQ_FIXTURE_B")


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """Three commits: one before needs.json existed (a README), v1.0 (the fixture, with its
    links reviewed) and the second version."""
    repo = tmp_path_factory.mktemp("repo")
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("A project before its knowledge base.\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start")
    shutil.copytree(FIXTURES / "changes", repo, dirs_exist_ok=True)
    for f in ("conf.py", "ubproject.toml", "docutils.conf"):
        shutil.copy(ROOT / f, repo / f)
    for folder in ("_ext", "_static"):
        shutil.copytree(ROOT / folder, repo / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / ".gitignore").write_text("_build/\n")
    first = sphinx_build(repo, tmp_path_factory.mktemp("first") / "html")
    assert first.returncode == 0, first.output[-3000:]
    assert "No earlier release" in first.html("index.html")  # no tag yet
    (repo / REVIEWED).parent.mkdir(parents=True, exist_ok=True)
    (repo / REVIEWED).write_text(json.dumps(record_review(first.needs, model_of(ROOT))))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first version")
    git(repo, "tag", "v1.0")
    index = repo / "index.rst"
    index.write_text(second_version(index.read_text()))
    git(repo, "commit", "-q", "-am", "second version")
    git(repo, "tag", "v1.1")
    return repo


@pytest.fixture(scope="module")
def report(repo, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "changes"
    proc = run_tool("v1.0", "--to", "main", "--repo", str(repo), "-o", str(out), "--cache", str(repo / "_build" / "cache"))
    assert proc.returncode == 0, proc.stderr
    return out


ADDED = [("REQ_FIXTURE_D", "req", "Keep an SBOM")]
REMOVED = [("REQ_FIXTURE_C", "req", "Document the interfaces")]
CHANGED = [("REQ_FIXTURE_A", "req", "content", "Updates should reach the device over an authenticated channel.",
            "Updates should reach the device over an authenticated and encrypted channel.")]
LINKS = [("DC_FIXTURE_1", "implements", "REQ_FIXTURE_A", "removed"),
         ("DC_FIXTURE_1", "implements", "REQ_FIXTURE_B", "added")]
COVERAGE = [("REQ_FIXTURE_A", "covered", "justified"), ("REQ_FIXTURE_B", "justified", "covered")]
# unreviewed since v1.0: the moved link, the test's link to the control whose link moved, and
# its link to the reworded requirement
SUSPECT = [("DC_FIXTURE_1", "REQ_FIXTURE_B"), ("VT_FIXTURE_1", "DC_FIXTURE_1"), ("VT_FIXTURE_1", "REQ_FIXTURE_A")]


def test_json_rows(report):
    data = json.loads((report / "changes.json").read_text())
    assert [(r["id"], r["type"], r["title"]) for r in data["added"]] == ADDED
    assert [(r["id"], r["type"], r["title"]) for r in data["removed"]] == REMOVED
    assert data["added"][0]["links"] == {"derives_from": ["GL_FIXTURE"]}
    assert [(r["id"], r["type"], r["field"], r["old"], r["new"]) for r in data["changed"]] == CHANGED
    assert [(r["id"], r["link"], r["target"], r["change"]) for r in data["links"]] == LINKS
    assert [(r["id"], r["old"], r["new"]) for r in data["coverage"]] == COVERAGE
    assert [(r["id"], r["target"]) for r in data["suspect"]] == SUSPECT
    assert data["from"]["label"] == "v1.0" and data["to"]["label"] == "main"
    assert data["summary"] == {"needs added": 1, "needs removed": 1, "needs changed": 1, "fields changed": 1,
                               "links added": 1, "links removed": 1, "coverage changes": 2,
                               "suspect links raised": 3}


def sheet_rows(path: Path, title: str) -> list[tuple]:
    rows = list(openpyxl.load_workbook(path)[title].iter_rows(values_only=True))
    return [tuple("" if v is None else untext(v) for v in r) for r in rows[1:]]


def test_xlsx_rows(report):
    path = report / "changes.xlsx"
    assert sheet_rows(path, "Needs added") == [(*ADDED[0], "derives_from: GL_FIXTURE")]
    assert sheet_rows(path, "Needs removed") == [(*REMOVED[0], "derives_from: GL_FIXTURE")]
    assert sheet_rows(path, "Fields changed") == CHANGED  # the old and the new text, whole
    assert sheet_rows(path, "Links") == LINKS
    assert sheet_rows(path, "Coverage changes") == COVERAGE
    assert sheet_rows(path, "Suspect links raised") == SUSPECT


def test_html_shows_word_level_differences(report):
    page = (report / "changes.html").read_text()
    assert "<title>Changes since v1.0</title>" in page
    assert "authenticated <ins>and encrypted </ins>channel." in page
    for need_id, *_ in ADDED + REMOVED + CHANGED + LINKS + COVERAGE + SUSPECT:
        assert f"<code>{need_id}</code>" in page
    assert "<del>removed</del>" in page and "<ins>added</ins>" in page
    assert "<script" not in page and "http" not in page.split("<body>", 1)[1]  # offline, nothing loaded


def test_a_second_run_uses_the_cache_and_gives_the_same_bytes(repo, report, tmp_path):
    cached = sorted((repo / "_build" / "cache" / "needs").glob("*/site/needs.json"))
    assert len(cached) == 2
    stamps = [p.stat().st_mtime_ns for p in cached]
    out = tmp_path / "again"
    proc = run_tool("v1.0", "--to", "main", "--repo", str(repo), "-o", str(out), "--cache", str(repo / "_build" / "cache"))
    assert proc.returncode == 0, proc.stderr
    assert [p.stat().st_mtime_ns for p in cached] == stamps  # nothing rebuilt
    for name in ("changes.html", "changes.xlsx", "changes.json"):
        assert (out / name).read_bytes() == (report / name).read_bytes(), name


@pytest.mark.parametrize("args, message", [
    (["nosuchref", "--to", "main"], "changes: error: unknown ref 'nosuchref': give a branch, tag or commit of"),
    (["v1.0", "--to", "v1.0"], "changes: error: v1.0 and v1.0 are the same commit"),
    (["main~2", "--to", "main"], "is older than the first version that wrote needs.json; give a later ref"),
    (["v1.0", "--to", "main~7"], "changes: error: unknown ref 'main~7'"),
])
def test_bad_refs_stop_with_one_line_and_no_report(repo, tmp_path, args, message):
    out = tmp_path / "changes"
    proc = run_tool(*args, "--repo", str(repo), "-o", str(out), "--cache", str(repo / "_build" / "cache"))
    assert proc.returncode == 2
    assert message in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".changes.tmp-*"))


def test_the_site_of_a_release_shows_the_changes_since_the_previous_one(repo, tmp_path):
    """Built from the commit tagged v1.1, the page lists the changes since v1.0; the report's
    files are in changes/ of the site and in the export bundle, under its SHA256SUMS."""
    build = sphinx_build(repo, tmp_path / "html")
    assert build.returncode == 0, build.output[-3000:]
    page = build.html("index.html")
    section = page.split("Changes since the previous release", 1)[1]
    assert "Since v1.0" in section
    assert "1 needs added, 1 needs removed, 1 needs changed" in section
    for need_id, *_ in ADDED + CHANGED + LINKS + COVERAGE + SUSPECT:
        assert f"{need_id}</span></code>" in section or f">{need_id}<" in section, need_id
    assert '<span class="kb-added">and encrypted </span>' in section
    report = json.loads((tmp_path / "html" / "changes" / "changes.json").read_text())
    assert report["from"]["label"] == "v1.0" and [r["id"] for r in report["added"]] == ["REQ_FIXTURE_D"]
    sums = (tmp_path / "html" / "export" / "SHA256SUMS").read_text()
    for name in ("changes.html", "changes.xlsx", "changes.json"):
        assert f"  {name}\n" in sums, name
