"""Markup and script in content are shown as text, never run: in the need's box, in a
needtable and in needs.json, for reStructuredText and Markdown (tests/fixtures/escaping); a raw
HTML block stops the build (tests/fixtures/raw-html)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from conftest import build_fixture

# what each need of the fixture holds, exactly as written
TITLES = {"REQ_FIXTURE_RST": "Title <script>alert(1)</script> end",
          "REQ_FIXTURE_MD": "Title <script>alert(5)</script> end"}
RATIONALES = {"REQ_FIXTURE_RST": "Fixture rationale <img src=x onerror=alert(2)> end.",
              "REQ_FIXTURE_MD": "Fixture rationale <img src=x onerror=alert(6)> end."}
# the statements up to their first quote (docutils shows straight quotes as typographic ones)
STATEMENTS = {"REQ_FIXTURE_RST": "Statement <img src=x onerror=alert(3)> and <iframe src=",
              "REQ_FIXTURE_MD": "Statement <img src=x onerror=alert(7)> and <iframe src="}
PAGE_OF = {"REQ_FIXTURE_RST": "index.html", "REQ_FIXTURE_MD": "markdown.html"}


class LiveMarkup(HTMLParser):
    """What a browser would run: event-handler attributes, javascript: URLs, frames, scripts
    with a body of their own, images with the fixture's src=x."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value}>")
        if tag == "iframe" or (tag == "img" and dict(attrs).get("src") == "x"):
            self.found.append(f"<{tag}>")
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and "alert(" in data:
            self.found.append(f"<script>{data}</script>")


def live_markup(page: str) -> list[str]:
    parser = LiveMarkup()
    parser.feed(page)
    return parser.found


def text(fragment: str) -> str:
    """What a browser shows of an HTML fragment: tags dropped, entities decoded. A live
    <script> would lose its tags here, so its text would no longer match the title."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def table(page: str, table_id: str) -> str:
    start = page.index(f'id="{table_id}"')
    return page[start:page.index("</table>", start)]


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    build = build_fixture("escaping", tmp_path_factory.mktemp("escaping"))
    assert build.returncode == 0, build.output[-3000:]
    return build


def test_live_markup_detector_finds_live_markup():
    """The detector the other tests rely on finds each kind of live markup, and not its text."""
    live = ('<img src=x onerror=alert(2)><a href=" JavaScript:alert(4)">x</a>'
            '<iframe src="y"></iframe><script>alert(1)</script>')
    assert len(live_markup(live)) == 5
    assert live_markup(html.escape(live)) == []
    assert live_markup('<script src="_static/doctools.js"></script><a href="page.html">x</a>') == []


@pytest.mark.parametrize("page", ["index.html", "markdown.html"])
def test_no_live_markup_on_the_pages(build, page):
    assert live_markup(build.html(page)) == []


@pytest.mark.parametrize("need_id", sorted(TITLES))
def test_need_shows_markup_as_text(build, need_id):
    box = text(table(build.html(PAGE_OF[need_id]), need_id))
    assert TITLES[need_id] in box
    assert RATIONALES[need_id] in box
    assert STATEMENTS[need_id] in box


def test_markdown_script_block_is_text(build):
    box = text(table(build.html("markdown.html"), "REQ_FIXTURE_MD"))
    assert "<script>alert(9)</script>" in box


@pytest.mark.parametrize("need_id", sorted(TITLES))
def test_needtable_shows_markup_as_text(build, need_id):
    page = build.html("index.html")
    rows = text(table(page, "needtable-index-0-table_node"))
    assert TITLES[need_id] in rows
    assert RATIONALES[need_id] in rows


@pytest.mark.parametrize("need_id", sorted(TITLES))
def test_needs_json_keeps_markup_as_literal_text(build, need_id):
    need = build.needs[need_id]
    assert need["title"] == TITLES[need_id]
    assert need["rationale"] == RATIONALES[need_id]
    assert need["content"].startswith(STATEMENTS[need_id] + '"javascript:alert(')


def test_raw_html_stops_the_build(tmp_path):
    build = build_fixture("raw-html", tmp_path)
    assert build.returncode != 0
    assert f'{build.srcdir / "index.rst"}:16: WARNING: "raw" directive disabled.' in build.output
    # --keep-going still writes the page: without the raw block
    assert live_markup(build.html("index.html")) == []


def test_site_has_no_live_script_links(site):
    """No page of the real site has an event-handler attribute or a javascript: URL."""
    found = {str(p.relative_to(site.outdir)): live_markup(p.read_text(encoding="utf-8"))
             for p in site.outdir.rglob("*.html") if ".doctrees" not in p.parts}
    assert {page: live for page, live in found.items() if live} == {}
