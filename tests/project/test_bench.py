"""The benchmark generator (tools/bench.py) at a tiny size, and incremental builds
(_ext/kb/build/rebuild.py) checked against full builds of its synthetic project. No timings are
asserted: `make bench` reports them."""

import importlib.util
import json
import subprocess
import sys

from conftest import ROOT, pages, sphinx_build

spec = importlib.util.spec_from_file_location("bench", ROOT / "tools" / "bench.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_bench_runs_at_a_tiny_size(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "bench.py"), "--sizes", "60", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["case"] for r in results] == list(bench.CASES)
    for r in results:
        assert {"needs", "case", "seconds", "peak_rss_mb"} <= set(r) and r["needs"] == 60
        if r.get("skipped"):
            assert r["seconds"] is None and "not in this tree" in r["skipped"]
        else:
            assert r["seconds"] > 0 and (r["peak_rss_mb"] is None or r["peak_rss_mb"] > 0)
    assert not any(r.get("skipped") for r in results if r["case"] in ("full", "noop", "edit", "floor"))
    needs = json.loads((tmp_path / "60" / "html" / "needs.json").read_text())
    needs = needs["versions"][needs["current_version"]]["needs"]
    assert len(needs) == 60 and {n["type"] for n in needs.values()} == set(bench.TITLE)
    for name in ("needs", "case", "seconds", "peak MB", "x floor"):
        assert name in proc.stdout


def test_incremental_build_writes_what_changed_and_equals_a_full_build(tmp_path):
    src, out = tmp_path / "src", tmp_path / "html"
    first_req_page = bench.write_project(src, bench.make_needs(60), plain=False)
    assert sphinx_build(src, out).returncode == 0
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.html")}

    # the text of one requirement: its page, its tab, the matrix and the pages of the needs
    # linking to it are written again; a page showing none of them is not
    body = first_req_page.read_text()
    first_req_page.write_text(body.replace("\n\n   ", "\n\n   Edited. ", 1))  # REQ_BENCH_0's text
    build = sphinx_build(src, out)
    assert build.returncode == 0, build.output
    written = {p.relative_to(out).as_posix() for p in out.rglob("*.html") if p.stat().st_mtime_ns != mtimes.get(p)}
    assert {"requirements/imdrf-n60/s4-1.html", "guidelines/gl-0.html",
            "requirements/traceability/matrix.html"} <= written
    assert "requirements/standards/p000.html" not in written
    assert "Edited." in (out / "guidelines" / "gl-0.html").read_text()

    # a new link, to a requirement of the other page: its back links change there; the
    # incremental build gives the pages a full build gives
    design_page = src / "requirements" / "design-controls" / "p000.rst"
    design_page.write_text(design_page.read_text().replace("   :implements: ", "   :implements: REQ_BENCH_22, ", 1))
    assert sphinx_build(src, out).returncode == 0
    full = tmp_path / "full"
    assert sphinx_build(src, full, "-E").returncode == 0
    incremental, expected = pages(out), pages(full)
    assert incremental.keys() == expected.keys()
    assert [p for p in expected if incremental[p] != expected[p]] == []
