"""Tag pages: one per tag of the vocabulary, generated (nothing written into the source tree),
with the tag's meaning and its needs by type; tags on needs link to them."""

import html as html_lib
import re
import sys
import tomllib

import pytest
from docutils.core import publish_doctree

from conftest import ROOT

from kb.views.tags import plural, rst_text

MODEL = tomllib.loads((ROOT / "ubproject.toml").read_text(encoding="utf-8"))
TAGS = MODEL["kb"]["tags"]
TYPES = {t: MODEL["needs"]["types"][t] for t in MODEL["kb"]["site"]["types"]}  # the site's own types


def text_of(html: str) -> str:
    return html_lib.unescape(re.sub(r"<[^>]+>", "", html))


@pytest.mark.parametrize("tag", list(TAGS))
def test_tag_page_shows_meaning_and_needs_by_type(site, needs, tag):
    page = site.html(f"tags/{tag}.html")
    body = page.split('<article role="main"')[1].split("</article>")[0]
    assert f"<h1>{tag}<" in body
    assert TAGS[tag] in text_of(body)
    sections = re.split(r"<h2>", body)[1:]
    assert [text_of(s.split("</h2>")[0]).rstrip("¶").strip() for s in sections] == [
        plural(t["title"]) for t in TYPES.values()
    ]
    for type_name, section in zip(TYPES, sections):
        tagged = {i for i, n in needs.items() if n["type"] == type_name and tag in n["tags"]}
        listed = set(re.findall(r'href="[^"]*#([A-Z][A-Z0-9_]+)"', section)) & set(needs)
        if tagged:
            assert tagged <= listed, (type_name, sorted(tagged - listed)[:5])
            assert {i for i in listed if needs[i]["type"] == type_name} == tagged
        else:
            assert f"No {TYPES[type_name]['title'].lower()} carries this tag." in section


def test_tag_page_links_to_its_filtered_browse_view(site):
    assert 'href="../browse.html?tag=sbom"' in site.html("tags/sbom.html")


def test_tag_index_lists_every_tag_with_its_count(site, needs):
    page = site.html("tags/index.html")
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", page.split("<tbody>")[1], re.S)
    cells = [[text_of(c).strip() for c in re.findall(r"<td>(.*?)</td>", r, re.S)] for r in rows]
    assert [c[0] for c in cells] == list(TAGS)
    for tag, meaning, count in cells:
        assert meaning == TAGS[tag]
        assert int(count) == sum(tag in n["tags"] for n in needs.values())


def test_tag_pages_are_generated_not_written(site):
    """The source tree holds only the tag list; no copy of a source is published for a
    generated page (it would be the tag list's)."""
    assert sorted(p.name for p in (ROOT / "tags").iterdir()) == ["index.rst"]
    assert not (site.outdir / "_sources" / "tags" / "sbom.rst.txt").exists()


def test_tags_on_needs_link_to_their_pages(site):
    page = site.html("requirements/imdrf-n60/s05-3-security-testing.html")
    holders = re.findall(r'<span class="needs_tags">(.*?)</span></span></span>', page, re.S)
    assert holders
    for holder in holders:
        values = re.findall(r'<span class="needs_data">(.*?)</span>', holder, re.S)
        for value in values:
            link = re.fullmatch(r'<a class="kb-tag reference internal" href="../../tags/([a-z-]+)\.html" '
                                r'title="[^"]*">([a-z-]+)</a>', value)
            assert link and link.group(1) == link.group(2), value


def test_tags_on_extracted_needs_link_too(site):
    page = site.html("guidelines/imdrf-n60/index.html")
    assert page.count('class="kb-tag reference internal" href="../../tags/') > 100


def test_guideline_filtering_tags_section_links_tag_pages(site):
    section = site.html("guidelines/imdrf-n60/index.html").split('id="filtering-tags"')[1]
    for tag in ("cybersecurity", "patient-safety"):
        assert f'href="../../tags/{tag}.html"' in section
    assert 'href="../../tags/index.html"' in section


@pytest.mark.parametrize("text", ["plain words", "*not emphasis* and `not code`", "a_b_ |x| [1]_ \\ end",
                                  "N60's scope (section 3): ok."])
def test_meanings_render_as_text(text):
    assert publish_doctree(rst_text(text)).astext() == text
