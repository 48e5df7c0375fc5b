"""Furo's navigation tree computed once per build (kb.build.navigation) gives every page the
bytes furo gives it when it computes the tree page by page (``-D kb_nav_once=0``).

The fixture tests/fixtures/navigation has pages four directories deep, toctrees with and
without a caption, a hidden one, a glob, a ``self`` entry, the general index, a link out of the
site, a page listed by two toctrees (two current entries), a page with two top-level titles (a
link with an anchor to the page itself) and an orphan page (no current entry); it is built with
the html and the dirhtml builder. The real site is compared too (its session build has the
tree computed once)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import ROOT, Build, assert_same_pages, build_fixture, sphinx_build

from kb import compat

ONCE = "kb.build.navigation: the navigation tree of"
EACH = "kb.build.navigation: the navigation tree is computed for each page"


def build_each_page(once: Build, outdir: Path, *options: str) -> Build:
    """The same sources, each page's tree computed by furo."""
    return sphinx_build(once.srcdir, outdir, *options, "-D", "kb_nav_once=0")


def test_every_page_of_the_fixture_is_what_furo_writes(tmp_path):
    once = build_fixture("navigation", tmp_path)
    assert once.returncode == 0, once.output
    each = build_each_page(once, tmp_path / "each")
    assert each.returncode == 0, each.output
    assert ONCE in once.output and ONCE not in each.output
    assert_same_pages(once.outdir, each.outdir, ("once", "furo"))
    # the fixture has the cases the rules cover
    current = 'class="current reference internal" href="#"'
    assert once.html("guide/one.html").count(current) == 2  # listed by two toctrees
    assert 'href="#second-title"' in once.html("notes/two-titles.html")
    assert '<li class="toctree-l4 current current-page">' in once.html("guide/deep/deeper/leaf.html")
    assert "checked=" in once.html("guide/deep/deeper/leaf.html")
    assert "current" not in once.html("notes/orphan.html").split('class="sidebar-tree"')[1].split("</nav>")[0]


def test_dirhtml_pages_are_what_furo_writes(tmp_path):
    """dirhtml writes each page in a directory of its own (the links differ from html's)."""
    once = build_fixture("navigation", tmp_path, options=("-b", "dirhtml"))
    assert once.returncode == 0, once.output
    assert (once.outdir / "guide" / "deep" / "deeper" / "leaf" / "index.html").is_file()
    assert ONCE in once.output
    each = build_each_page(once, tmp_path / "each", "-b", "dirhtml")
    assert each.returncode == 0, each.output
    assert_same_pages(once.outdir, each.outdir, ("once", "furo"))


def test_tables_of_contents_with_only_nodes_get_furos_tree(tmp_path):
    """Sphinx copies the tables of contents of a page's ancestors without evaluating their
    ``only`` nodes: the tree then depends on more than the current page."""
    once = build_fixture("navigation", tmp_path)
    source = once.srcdir / "guide" / "deep" / "index.rst"
    source.write_text(source.read_text(encoding="utf-8") + "\n.. only:: html\n\n   Only in HTML\n"
                      "   ------------\n\n   Text.\n", encoding="utf-8")
    shutil.rmtree(once.outdir)
    once = sphinx_build(once.srcdir, once.outdir)
    assert once.returncode == 0, once.output
    assert EACH in once.output and ONCE not in once.output
    each = build_each_page(once, tmp_path / "each")
    assert_same_pages(once.outdir, each.outdir, ("once", "furo"))


def test_every_page_of_the_site_is_what_furo_writes(site, tmp_path):
    each = sphinx_build(ROOT, tmp_path / "html", "-E", "-D", "kb_nav_once=0")
    assert each.returncode == 0, each.output[-6000:]
    assert_same_pages(site.outdir, each.outdir, ("once", "furo"))


def test_a_changed_furo_function_stops_the_build(monkeypatch):
    name = "furo.navigation.get_navigation_tree"
    function, _ = compat.NAVIGATION_SOURCES[name]
    monkeypatch.setitem(compat.NAVIGATION_SOURCES, name, (function, "0" * 16))
    with pytest.raises(SystemExit, match=r"furo\.navigation\.get_navigation_tree changed"):
        compat.check()
