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


# Every case but StrictDoc's, which installs StrictDoc from PyPI into its own venv first
# (test_sdoc_project_holds_every_need_and_link checks what it is given to build)
OFFLINE_CASES = [case for case in bench.CASES if case != "peer-strictdoc"]


def test_bench_runs_at_a_tiny_size(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "bench.py"), "--sizes", "60", "--out", str(tmp_path),
                           "--cases", ",".join(OFFLINE_CASES)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["case"] for r in results] == OFFLINE_CASES
    for r in results:
        assert {"needs", "case", "seconds", "peak_rss_mb"} <= set(r) and r["needs"] == 60
        if r.get("skipped"):
            assert r["seconds"] is None and "not in this tree" in r["skipped"]
        else:
            assert r["seconds"] > 0 and (r["peak_rss_mb"] is None or r["peak_rss_mb"] > 0)
    assert not any(r.get("skipped") for r in results if r["case"] in ("full", "noop", "edit", "floor", "peer-needs"))
    needs = json.loads((tmp_path / "60" / "html" / "needs.json").read_text())
    needs = needs["versions"][needs["current_version"]]["needs"]
    assert len(needs) == 60 and {n["type"] for n in needs.values()} == set(bench.TITLE)
    peer_pages = "".join(p.read_text() for p in (tmp_path / "60" / "peer-needs-html").rglob("*.html"))
    assert all(f'id="{need_id}"' in peer_pages for need_id in needs)
    for name in ("needs", "case", "seconds", "peak MB", "x floor"):
        assert name in proc.stdout


def test_plain_sphinx_needs_project_has_none_of_the_sites_extensions(tmp_path):
    bench.write_project(tmp_path / "src", bench.make_needs(60), "needs")
    conf = (tmp_path / "src" / "conf.py").read_text()
    assert 'extensions = ["sphinx_needs"]' in conf and "needs_from_toml" not in conf
    assert not {"_ext", "_static", "_templates", "ubproject.toml", "browse.rst"} & {p.name for p in (tmp_path / "src").iterdir()}
    assert ":layout:" not in "".join(p.read_text() for p in (tmp_path / "src").rglob("*.rst"))


def test_sdoc_project_holds_every_need_and_link(tmp_path):
    needs = bench.make_needs(60)
    bench.write_sdoc_project(tmp_path / "sdoc", needs, cache=tmp_path / "cache")
    documents = {p.relative_to(tmp_path / "sdoc").with_suffix("").as_posix(): p.read_text()
                 for p in (tmp_path / "sdoc").rglob("*.sdoc")}
    assert documents.keys() == bench.pages_of(needs).keys()
    text = "\n".join(documents.values())
    for need in needs:
        assert f"UID: {need['id']}\n" in text
    links = sum(len(need.get(link, [])) for need in needs for link in bench.links_of(needs))
    assert text.count("- TYPE: Parent\n  VALUE: ") == links > 0
    assert all(d.startswith("[DOCUMENT]\nTITLE: ") and d.count("[[SECTION]]") == d.count("[[/SECTION]]")
               for d in documents.values())
    assert f'cache_dir = "{tmp_path / "cache"}"' in (tmp_path / "sdoc" / "strictdoc.toml").read_text()


def test_strictdoc_that_cannot_be_installed_is_a_reason_to_skip(tmp_path):
    (tmp_path / "venv").write_text("a file where the venv would go")
    program, why_not = bench.strictdoc_program(tmp_path / "venv")
    assert program is None and "failed" in why_not


def test_incremental_build_writes_what_changed_and_equals_a_full_build(tmp_path):
    src, out = tmp_path / "src", tmp_path / "html"
    first_req_page = bench.write_project(src, bench.make_needs(60))
    assert sphinx_build(src, out).returncode == 0
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.html")}

    # the text of one requirement: its page, its tab and the pages of the needs linking to it
    # (their chain shows it) are written again; the matrix (titles, sections, coverage, and
    # suspect links, but no link to it was reviewed) and a page showing none of them are not
    body = first_req_page.read_text()
    first_req_page.write_text(body.replace("\n\n   ", "\n\n   Edited. ", 1))  # REQ_BENCH_0's text
    build = sphinx_build(src, out)
    assert build.returncode == 0, build.output
    written = {p.relative_to(out).as_posix() for p in out.rglob("*.html") if p.stat().st_mtime_ns != mtimes.get(p)}
    assert {"requirements/imdrf-n60/s4-1.html", "guidelines/gl-0.html",
            "requirements/design-controls/p000.html"} <= written
    assert not written & {"requirements/traceability/matrix.html", "requirements/standards/p000.html"}
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
