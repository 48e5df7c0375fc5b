"""The browse page and its data: generated from the needs, in the model's vocabulary. What
the page does in a browser is in test_browser.py."""

import json
import re
import sys
import tomllib

import pytest

from conftest import ROOT, build_fixture

sys.path.insert(0, str(ROOT / "_ext"))
from kb_browse import FACETS, plain_text  # noqa: E402

MODEL = tomllib.loads((ROOT / "ubproject.toml").read_text(encoding="utf-8"))
PREFIX = "window.KB_BROWSE_DATA = "


@pytest.fixture(scope="module")
def data(site) -> dict:
    text = (site.outdir / "_static" / "kb-browse-data.js").read_text(encoding="ascii")
    assert text.startswith(PREFIX) and text.endswith(";\n")
    return json.loads(text[len(PREFIX):-2])


def field_values(need: dict, field: str) -> list[str]:
    value = need[field]
    if value in (None, ""):
        return []
    return value if isinstance(value, list) else [value]


def test_data_holds_every_need_once(data, needs):
    ids = [n["id"] for n in data["needs"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(needs)


def test_data_facets_equal_needs_json(data, needs):
    for record in data["needs"]:
        need = needs[record["id"]]
        assert record["title"] == need["title"]
        for (key, _label, field), facet, indexes in zip(FACETS, data["facets"], record["facets"]):
            assert facet["key"] == key
            assert [facet["values"][i]["value"] for i in indexes] == field_values(need, field), (need["id"], key)


def test_data_links_every_need_to_its_anchor(data, needs, site):
    pages = {}
    for record in data["needs"]:
        page, _, anchor = record["url"].partition("#")
        assert page == needs[record["id"]]["docname"] + ".html" and anchor == record["id"]
        html = pages.setdefault(page, site.html(page))
        assert f'id="{anchor}"' in html


def test_facet_values_follow_the_model(data):
    facets = {f["key"]: [v["value"] for v in f["values"]] for f in data["facets"]}
    fields = MODEL["needs"]["fields"]
    assert facets["tag"] == fields["tags"]["schema"]["items"]["enum"]
    assert facets["type"] == list(MODEL["needs"]["types"])
    assert facets["stakeholder"] == fields["stakeholder"]["schema"]["items"]["enum"]
    assert facets["phase"] == fields["phase"]["schema"]["items"]["enum"]
    assert facets["coverage"] == fields["coverage"]["schema"]["enum"]
    sections = [tuple(map(int, s.split("."))) for s in facets["section"]]
    assert sections == sorted(sections)


def test_tag_values_carry_meaning_and_page(data):
    tags = data["facets"][0]["values"]
    assert [(t["value"], t["meaning"], t["page"]) for t in tags] == [
        (tag, meaning, f"tags/{tag}.html") for tag, meaning in MODEL["kb"]["tags"].items()
    ]


def test_plain_text_drops_markup_and_keeps_words():
    assert plain_text("During :term:`verification` and :term:`the test <validation>`,\n**bold** and ``code``") \
        == "During verification and the test, bold and code"
    assert plain_text("See {term}`patient harm` and `N60 <https://example.org>`__.") == "See patient harm and N60."


def test_browse_page_loads_its_assets_from_the_site(site):
    html = site.html("browse.html")
    assert 'id="kb-browse"' in html and "<noscript>" in html
    assets = re.findall(r'<(?:script|link)\b[^>]*(?:src|href)="([^"]+)"', html)
    assert any("kb-browse.js" in a for a in assets) and any("kb-browse-data.js" in a for a in assets)
    assert [a for a in assets if re.match(r"[a-z]+:|//", a)] == []


def test_only_the_browse_page_loads_the_browse_script(site):
    assert "kb-browse.js" not in site.html("index.html")


def test_browse_links_are_checked_by_the_build(tmp_path):
    """``:kb-browse:`` links a filtered view; a filter the model does not have stops the build."""
    build = build_fixture("browse-links", tmp_path)
    assert build.returncode != 0
    assert "index.rst:4: WARNING: kb-browse: unknown or no filters ['tag=no-such-tag', 'colour=red']" \
        in build.output
    assert build.output.count("kb-browse:") == 1
    assert 'href="browse.html?tag=sbom&amp;type=req"' in build.html("index.html")
