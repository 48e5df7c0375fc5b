"""The audit report PDF (``make pdf``, tools/report-pdf): printed from the built site by headless
Chromium, read back with pypdf. It holds bookmarks, every requirement ID, the traceability
matrix on landscape pages and links inside the document; it is byte-stable for the same build;
it joins an export's manifest and SHA256SUMS. The device template's report: tests/example."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tomllib

import pytest
from pypdf import PdfReader

from conftest import ROOT, of_type

TOOL = ROOT / "tools" / "report-pdf"
REPORT = tomllib.loads((ROOT / "ubproject.toml").read_text(encoding="utf-8"))["kb"]["report"]


def print_report(site_dir, out, model=ROOT / "ubproject.toml", *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), str(site_dir), "--model", str(model), "--out", str(out), *extra],
                          capture_output=True, text=True, cwd=ROOT)


def outline_titles(reader: PdfReader) -> list[tuple[int, str, int]]:
    out = []

    def walk(items, depth):
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                out.append((depth, " ".join(item.title.split()), reader.get_destination_page_number(item)))
    walk(reader.outline, 0)
    return out


@pytest.fixture(scope="module")
def report(site, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "audit-report.pdf"
    done = print_report(site.outdir, out)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def reader(report) -> PdfReader:
    return PdfReader(io.BytesIO(report.read_bytes()))


def page_titles(site, docnames) -> list[str]:
    import re
    return [" ".join(re.sub(r"<[^>]+>", "", re.search(r"<h1>(.*?)</h1>", site.html(f"{d}.html"), re.S)[1])
                     .replace("¶", "").split()) for d in docnames]


def test_cover_names_version_commit_and_date(reader):
    cover = reader.pages[0].extract_text()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert REPORT["title"].split()[0] in cover and "Audit report" in cover
    assert "Version" in cover and "Commit" in cover and commit in cover.replace("\n", "")
    assert "Date" in cover
    assert reader.metadata["/Title"] == REPORT["title"]


def test_bookmarks_lead_to_every_part(site, reader, needs):
    marks = outline_titles(reader)
    assert marks[0][1] == " ".join(REPORT["title"].split()) and marks[0][2] == 0
    top = [title for depth, title, _ in marks if depth == 0]
    req_pages = sorted({n["docname"] for n in of_type(needs, "req").values()})
    for title in page_titles(site, req_pages + REPORT["pages"] + REPORT["wide"]):
        assert title in top, title
    assert any(depth > 0 for depth, _, _ in marks)  # sections under the pages
    pages = [page for _, _, page in marks]
    assert pages == sorted(pages) and pages[-1] < len(reader.pages)


def test_every_requirement_id_and_the_matrix_are_in_it(reader, needs):
    text = "\n".join(page.extract_text() for page in reader.pages)
    flat = text.replace("\n", "")
    missing = [i for i in of_type(needs, "req") if i not in text and i not in flat]
    assert missing == []
    wide = [i for i, page in enumerate(reader.pages) if page.mediabox.width > page.mediabox.height]
    assert wide and wide == list(range(wide[0], len(reader.pages)))  # the matrix, last, in landscape
    matrix = "\n".join(reader.pages[i].extract_text() for i in wide)
    assert "Traceability matrix" in matrix and "Coverage" in matrix and "Implemented by" in matrix
    assert sum(i in matrix.replace("\n", "") for i in of_type(needs, "req")) == len(of_type(needs, "req"))


def test_links_lead_inside_the_document(reader):
    """A link to a need or a page of the report is a link inside the PDF, to a page of it."""
    internal, external = 0, []
    named = reader.named_destinations
    for page in reader.pages:
        for annot in page.get("/Annots") or []:
            annot = annot.get_object()
            if annot.get("/Subtype") != "/Link":
                continue
            action = annot.get("/A")
            if action is not None and action.get_object().get("/S") == "/URI":
                external.append(action.get_object()["/URI"])
            elif "/Dest" in annot or (action is not None and action.get_object().get("/S") == "/GoTo"):
                dest = annot.get("/Dest") or action.get_object()["/D"]
                if isinstance(dest, str):
                    assert dest in named, dest
                internal += 1
    assert internal > 500
    assert [u for u in external if str(u).startswith("file:")] == []


def test_the_same_build_prints_the_same_bytes(site, report, tmp_path):
    again = tmp_path / "again.pdf"
    assert print_report(site.outdir, again).returncode == 0
    assert again.read_bytes() == report.read_bytes()


def test_the_report_joins_an_export_bundle(site, report, tmp_path):
    bundle = tmp_path / "export"
    shutil.copytree(site.outdir / "export", bundle)
    sys.path.insert(0, str(ROOT / "_ext"))
    from kb_export.bundle import add_file

    manifest = add_file(bundle, report)
    assert manifest["files"][report.name]["bytes"] == report.stat().st_size
    assert json.loads((bundle / "manifest.json").read_text(encoding="utf-8")) == manifest
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=bundle, capture_output=True, text=True)
    assert check.returncode == 0 and f"{report.name}: OK" in check.stdout
    listed = {line.split("  ", 1)[1] for line in (bundle / "SHA256SUMS").read_text().splitlines()}
    assert listed == {p.name for p in bundle.iterdir()} - {"SHA256SUMS"}

