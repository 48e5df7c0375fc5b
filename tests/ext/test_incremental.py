"""Incremental builds of a small project with the real model and extensions: a build with
nothing changed reads nothing again, writes no need page, keeps the export and writes nothing
made of the needs (unless one of those files was changed by hand); an edit
writes the pages that show what changed (also through a needextend on another page), field
by field (a table is not written when none of its columns changed, a count or chart when
none of the fields its filters read changed), and gives the pages a full build gives; the
export follows the needs and repairs itself.
No timings are asserted: `make bench` reports them."""

import json
import re
import time

from conftest import build_fixture, pages, sphinx_build


#: The files written from the needs at the end of a build (kb.build.unchanged.outputs).
NEEDS_FILES = ("needs.json", "interchange/v1/needs.json", "interchange/v1/SHA256SUMS", "_static/kb-browse-data.js",
               "schema_violations.json")


def read_again(build) -> set[str]:
    return set(re.findall(r"reading sources\.\.\. \[[ \d]+%\] (\S+)", build.output))


def written_since(out, mtimes) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob("*.html") if p.stat().st_mtime_ns != mtimes.get(p)}


def snapshot(out):
    time.sleep(0.01)  # file times must tell the builds apart
    return {p: p.stat().st_mtime_ns for p in out.rglob("*.html")}


def test_incremental_builds_follow_the_needs_and_keep_the_export(tmp_path):
    first = build_fixture("incremental", tmp_path)
    assert first.returncode == 0, first.output
    src, out = first.srcdir, first.outdir
    assert "STD_FIXTURE" in first.needs["REQ_FIXTURE_A"]["cites"]
    assert "STD_FIXTURE" not in first.needs["REQ_FIXTURE_B"]["cites"]
    export_sums = (out / "export" / "SHA256SUMS").read_text()

    # nothing changed: no page is read again (the generated tag pages neither), no page
    # with a need is written, and the export is kept as it is
    mtimes = snapshot(out)
    made_of_needs = {name: ((out / name).stat().st_mtime_ns, (out / name).read_bytes()) for name in NEEDS_FILES}
    noop = sphinx_build(src, out)
    assert noop.returncode == 0, noop.output
    assert read_again(noop) == set()
    assert not written_since(out, mtimes) & {"pages/requirements.html", "pages/standards.html",
                                             "pages/mapping.html", "tags/cybersecurity.html"}
    assert "export/ is up to date" in noop.output
    assert (out / "export" / "SHA256SUMS").read_text() == export_sums
    # and no work on the needs (kb.build.unchanged): the files made from them are not written
    assert "kb.build.unchanged: no document read" in noop.output
    assert "Schema validation completed" not in noop.output
    assert {name: ((out / name).stat().st_mtime_ns, (out / name).read_bytes()) for name in NEEDS_FILES} == made_of_needs

    # an output changed by hand: the next build does the work again and writes it back
    (out / "_static" / "kb-browse-data.js").unlink()
    (out / "needs.json").write_bytes(b"{}")
    repaired = sphinx_build(src, out)
    assert repaired.returncode == 0, repaired.output
    assert "kb.build.unchanged" not in repaired.output
    assert {name: (out / name).read_bytes() for name in NEEDS_FILES} == {n: b for n, (_, b) in made_of_needs.items()}

    # REQ_FIXTURE_B moves into section 5.1: the needextend on the mapping page now links it
    # to the standard, whose page (back links) is written again though neither it nor the
    # mapping page was edited, and the counts by section change; the incremental build
    # equals a full build
    mtimes = snapshot(out)
    reqs = src / "pages" / "requirements.rst"
    reqs.write_text(reqs.read_text().replace(":section: 5.2", ":section: 5.1"))
    edit = sphinx_build(src, out)
    assert edit.returncode == 0, edit.output
    assert read_again(edit) == {"pages/requirements"}
    assert {"pages/requirements.html", "pages/standards.html", "pages/mapping.html",
            "pages/counts.html"} <= written_since(out, mtimes)
    assert "STD_FIXTURE" in edit.needs["REQ_FIXTURE_B"]["cites"]
    full = sphinx_build(src, tmp_path / "full", "-E")
    assert full.returncode == 0, full.output
    incremental, expected = pages(out), pages(full.outdir)
    assert incremental.keys() == expected.keys()
    assert [p for p in expected if incremental[p] != expected[p]] == []

    # the export followed the needs; a file changed in it is written again by the next build
    manifest = json.loads((out / "export" / "manifest.json").read_text())
    assert manifest["export"]["needs"]["exported"] == len(edit.needs)
    assert "REQ_FIXTURE_B" in (out / "export" / "requirements.csv").read_text()
    exported_sums = (out / "export" / "SHA256SUMS").read_text()
    assert exported_sums != export_sums
    (out / "export" / "requirements.csv").write_text("tampered\n")
    repair = sphinx_build(src, out)
    assert repair.returncode == 0 and "kb.publish.export: wrote export/" in repair.output, repair.output
    assert (out / "export" / "SHA256SUMS").read_text() == exported_sums

    # a tag's meaning changed in the model: its page is generated and read again
    model = src / "ubproject.toml"
    text = model.read_text()
    meaning = re.search(r'^cybersecurity = "([^"]*)"', text, re.M)
    assert meaning, "the model gives the tag cybersecurity a meaning"
    model.write_text(text.replace(meaning.group(0), 'cybersecurity = "A changed meaning of the tag."'))
    retag = sphinx_build(src, out)
    assert retag.returncode == 0, retag.output
    assert {"tags/cybersecurity", "tags/index"} <= read_again(retag)
    assert "A changed meaning of the tag." in (out / "tags" / "cybersecurity.html").read_text()


def test_an_edit_writes_the_tables_that_show_the_edited_field(tmp_path):
    first = build_fixture("incremental", tmp_path)
    assert first.returncode == 0, first.output
    src, out = first.srcdir, first.outdir
    reqs = src / "pages" / "requirements.rst"

    def edit(old: str, new: str) -> set[str]:
        mtimes = snapshot(out)
        reqs.write_text(reqs.read_text().replace(old, new))
        build = sphinx_build(src, out)
        assert build.returncode == 0, build.output
        assert read_again(build) == {"pages/requirements"}
        return written_since(out, mtimes)

    # the mapping page's table shows ID, section and cites of every requirement; the tag
    # page's shows the title; the counts page counts by type, section, coverage and design
    # count; the matrix shows titles, sections and coverage: a content edit writes none of
    # them (no link to the requirement was reviewed, so its fingerprint flags no link), a
    # title edit the tag page and the matrix
    counted = {"pages/mapping.html", "pages/counts.html"}
    written = edit("The first requirement.", "The first requirement, said again.")
    assert "pages/requirements.html" in written
    assert not written & {*counted, "tags/cybersecurity.html", "pages/matrix.html"}
    written = edit("A requirement of section 5.1", "The requirement of section 5.1")
    assert {"tags/cybersecurity.html", "pages/matrix.html"} <= written and not written & counted

    # the second design control comes to implement REQ_FIXTURE_A too (a link, on another
    # page): the count of requirements with more than one design control reads derived data
    # (design_count) that the link changes, so the counts page is written, though nothing on
    # it or in the fields its filters read as written was edited
    mtimes = snapshot(out)
    coverage = src / "pages" / "coverage.rst"
    coverage.write_text(coverage.read_text().replace(":implements: REQ_FIXTURE_B\n",
                                                     ":implements: REQ_FIXTURE_A, REQ_FIXTURE_B\n"))
    build = sphinx_build(src, out)
    assert build.returncode == 0, build.output
    assert read_again(build) == {"pages/coverage"}
    assert "DC_FIXTURE_02" in build.needs["REQ_FIXTURE_A"]["implements_back"]
    assert {"pages/counts.html", "pages/matrix.html", "pages/requirements.html"} <= written_since(out, mtimes)
    full = sphinx_build(src, tmp_path / "full", "-E")
    assert full.returncode == 0, full.output
    incremental, expected = pages(out), pages(full.outdir)
    assert [p for p in expected if incremental[p] != expected[p]] == []


def test_titles_and_tables_of_contents(tmp_path):
    """A page written again for a need it shows does not write the pages whose toctree lists
    it (its table of contents did not change); a page retitled changes the sidebar of every
    page, so every page is written, as a clean build writes it."""
    first = build_fixture("incremental", tmp_path)
    assert first.returncode == 0, first.output
    src, out = first.srcdir, first.outdir
    every_page = set(pages(out))

    mtimes = snapshot(out)
    reqs = src / "pages" / "requirements.rst"
    reqs.write_text(reqs.read_text().replace("A requirement of section 5.1", "The requirement of section 5.1"))
    edit = sphinx_build(src, out)
    assert edit.returncode == 0, edit.output
    written = written_since(out, mtimes)
    assert {"pages/requirements.html", "tags/cybersecurity.html"} <= written
    assert "index.html" not in written, "the home page's toctree lists the same titles as before"

    mtimes = snapshot(out)
    coverage = src / "pages" / "coverage.rst"
    coverage.write_text(coverage.read_text().replace("Coverage\n========\n", "Design coverage\n===============\n", 1))
    retitle = sphinx_build(src, out)
    assert retitle.returncode == 0, retitle.output
    assert read_again(retitle) == {"pages/coverage"}
    assert every_page <= written_since(out, mtimes)
    full = sphinx_build(src, tmp_path / "full", "-E")
    assert full.returncode == 0, full.output
    incremental, expected = pages(out), pages(full.outdir)
    assert "Design coverage" in incremental["index.html"]
    assert [p for p in expected if incremental[p] != expected[p]] == []


def test_the_export_worker_writes_what_the_build_would(tmp_path):
    """The export written by a worker while the pages are written has the bytes of the
    export the build writes itself afterwards (kb_export_worker = 0)."""
    with_worker = build_fixture("incremental", tmp_path / "worker")
    assert with_worker.returncode == 0, with_worker.output
    assert "(in a worker, while the pages were written)" in with_worker.output
    without = build_fixture("incremental", tmp_path / "serial", options=("-D", "kb_export_worker=0"))
    assert without.returncode == 0, without.output
    assert "in a worker" not in without.output
    files = lambda out: {p.relative_to(out).as_posix(): p.read_bytes() for p in (out / "export").rglob("*")  # noqa: E731
                         if p.is_file()}
    assert files(with_worker.outdir) == files(without.outdir)
    assert list(with_worker.outdir.rglob("kb-export-worker")) == [], "the worker's directory is removed"
