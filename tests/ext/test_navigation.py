"""Navigation: the sidebar reaches every part of the site, every need has a permalink, and
Sphinx's search finds a requirement by its ID and by the words of its statement."""

import json
import posixpath
import re
import sys
import tomllib

import pytest
from sphinx.search.en import SearchEnglish

from conftest import ROOT, of_type

from kb.views.browse import plain_text

MODEL = tomllib.loads((ROOT / "ubproject.toml").read_text(encoding="utf-8"))


SECTIONS = ["guidelines/index.html", "requirements/index.html",
            "requirements/traceability/index.html", "browse.html", "tags/index.html"]


def sidebar_links(html: str, page: str) -> set[str]:
    """The pages the sidebar of ``page`` links to, as paths from the site root."""
    sidebar = html.split('class="sidebar-tree"')[1].split("</nav>")[0]
    return {posixpath.normpath(posixpath.join(posixpath.dirname(page), href))
            for href in re.findall(r'href="([^"#]+)', sidebar)}


@pytest.mark.parametrize("page", ["index.html", "requirements/imdrf-n60/s05-3-security-testing.html",
                                  "tags/scope.html"])
def test_sidebar_reaches_guidelines_requirements_traceability_browse_and_tags(site, page):
    links = sidebar_links(site.html(page), page)
    assert [s for s in SECTIONS if s not in links] == []


def test_every_need_has_a_permalink(site, needs):
    """The ID in a need's head links to the need's own anchor on its page: a link to
    ``<page>.html#<ID>`` that never changes, as IDs never do."""
    pages: dict[str, str] = {}
    fits = MODEL["kb"]["crosswalk"]["fits"]["type"]
    for need_id, need in needs.items():
        page = need["docname"] + ".html"
        html = pages.setdefault(page, site.html(page))
        if need["type"] == fits:  # a fit is a row of its topic page's fit table
            assert re.search(rf'<tr [^>]*\bid="{need_id}"', html), f"{need_id} has no anchor on {page}"
            continue
        anchor = re.search(rf'<table class="need [^"]*" id="{need_id}">(.*?)</tr>', html, re.S)
        assert anchor, f"{need_id} has no anchor on {page}"
        assert f'href="#{need_id}"' in anchor.group(1), f"{need_id}: its ID does not link to itself"


@pytest.fixture(scope="module")
def search_index(site) -> dict:
    text = (site.outdir / "searchindex.js").read_text(encoding="utf-8")
    assert text.startswith("Search.setIndex(")
    return json.loads(text[len("Search.setIndex("):text.rindex(")")])


def documents_with(index: dict, term: str) -> set[str]:
    found = set()
    for table in ("terms", "titleterms"):
        entry = index[table].get(term, [])
        found.update(index["docnames"][i] for i in ([entry] if isinstance(entry, int) else entry))
    return found


def test_search_finds_every_requirement_by_id(search_index, needs):
    """The search page stems a query as the index did (``..._S_E`` is indexed as ``..._s_``)."""
    lang = SearchEnglish({})
    for need_id, need in of_type(needs, "req").items():
        assert need["docname"] in documents_with(search_index, lang.stem(need_id.lower())), need_id


def test_search_finds_every_requirement_by_the_words_of_its_statement(search_index, needs):
    """Each indexed word of the statement (stemmed, as Sphinx stems it) leads to the page."""
    lang = SearchEnglish({})
    for need_id, need in of_type(needs, "req").items():
        words = {w.lower() for w in lang.split(plain_text(need["content"]))}
        stems = {lang.stem(w) for w in words if lang.word_filter(lang.stem(w))}
        missing = [s for s in stems if need["docname"] not in documents_with(search_index, s)]
        assert stems and missing == [], f"{need_id}: not found by {missing}"


def test_tag_pages_are_searchable(search_index):
    assert "tags/patient-safety" in search_index["docnames"]
    assert "tags/patient-safety" in documents_with(search_index, "harm")
