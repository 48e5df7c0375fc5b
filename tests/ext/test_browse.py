"""The browse page and its data: generated from the needs, in the model's vocabulary. What
the page does in a browser is in test_browser.py."""

import json
import re
import sys
import tomllib

import pytest

from conftest import ROOT, browsed, build_fixture, documents_of, frameworks_of

from kb.views.browse import FACETS, plain_text

MODEL = tomllib.loads((ROOT / "ubproject.toml").read_text(encoding="utf-8"))
PREFIX = "window.KB_BROWSE_DATA = "
# The crosswalk's mapping link types: those the model lets point to clauses only.
MAPPING_LINKS = list(MODEL["kb"]["evidence"])  # the crosswalk's topic links
COLUMN_STANDARDS = [s for c in MODEL["kb"]["crosswalk"]["columns"] for s in c["standards"]]


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
    assert set(ids) == set(browsed(needs))


def test_data_facets_equal_needs_json(data, needs):
    assert [f["key"] for f in data["facets"]] == [key for key, _, _ in FACETS]
    for record in data["needs"]:
        need = needs[record["id"]]
        assert record["title"] == need["title"]
        for (key, _label, field), facet, indexes in zip(FACETS, data["facets"], record["facets"]):
            assert facet["key"] == key
            got = [facet["values"][i]["value"] for i in indexes]
            if key == "framework":
                order = [v["value"] for v in facet["values"]]
                assert got == sorted(frameworks_of(need, needs), key=order.index), (need["id"], key)
            elif key == "document":
                order = [v["value"] for v in facet["values"]]
                assert got == sorted(documents_of(need, needs), key=order.index), (need["id"], key)
            else:
                assert got == field_values(need, field), (need["id"], key)


def test_document_facet_reaches_every_covering_need_of_n70(data, needs):
    """Each N70 post-market activity of a hospital is in N70's document; the N70 requirements are
    in it and in no other; the standards N70 cites are in it too."""
    f = [x["key"] for x in data["facets"]].index("document")
    values = [v["value"] for v in data["facets"][f]["values"]]
    member = {r["id"]: {values[i] for i in r["facets"][f]} for r in data["needs"]}
    n70_reqs = [i for i, n in needs.items() if n["type"] == "req" and n["derives_from"] == ["GL_IMDRF_N70"]]
    assert n70_reqs and all(member[i] == {"GL_IMDRF_N70"} for i in n70_reqs)
    hospital = [i for i, n in needs.items() if n["type"] == "postmarket" and i.startswith("PM_HC_")]
    assert hospital and all("GL_IMDRF_N70" in member[i] for i in hospital)
    assert "GL_IMDRF_N70" in member["STD_HSCC_HIC_MALTS_2023"]


def test_framework_facet_holds_requirements_and_clauses_of_each_framework(data, needs):
    """Every framework of the crosswalk has its clauses and the requirements that map to them;
    no other type of need is in a framework."""
    facet = next(f for f in data["facets"] if f["key"] == "framework")
    f = [x["key"] for x in data["facets"]].index("framework")
    members: dict[str, set[str]] = {v["value"]: set() for v in facet["values"]}
    for record in data["needs"]:
        for i in record["facets"][f]:
            members[facet["values"][i]["value"]].add(record["id"])
    for standard, ids in members.items():
        clauses = {i for i, n in needs.items() if n["type"] == "clause" and n["part_of"] == [standard]}
        reqs = {i for i, n in needs.items() if n["type"] == "req" and standard in frameworks_of(n, needs)}
        assert clauses and reqs and ids == clauses | reqs, standard
    assert sum(1 for r in data["needs"] if r["facets"][f]) == \
        sum(1 for n in browsed(needs).values() if frameworks_of(n, needs))
    # a topic link alone does not put a requirement in a framework
    topic_only = [i for i, n in needs.items() if n["type"] == "req" and any(n[l] for l in MAPPING_LINKS)
                  and not frameworks_of(n, needs)]
    assert topic_only


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
    assert facets["type"] == MODEL["kb"]["site"]["types"]  # the types of the site's own needs
    assert facets["stakeholder"] == fields["stakeholder"]["schema"]["items"]["enum"]
    assert facets["phase"] == fields["phase"]["schema"]["items"]["enum"]
    assert facets["coverage"] == fields["coverage"]["schema"]["enum"]
    assert facets["framework"] == COLUMN_STANDARDS  # the crosswalk's columns, in their order
    assert facets["stage"] == fields["lifecycle_stage"]["schema"]["items"]["enum"]
    assert facets["document"] == list(MODEL["kb"]["documents"])
    sections = [tuple(int(n) for n in re.split(r"[.-]", s)) for s in facets["section"]]
    assert sections == sorted(sections)


def test_tag_values_carry_meaning_and_page(data):
    tags = data["facets"][0]["values"]
    assert [(t["value"], t["meaning"], t["page"]) for t in tags] == [
        (tag, meaning, f"tags/{tag}.html") for tag, meaning in MODEL["kb"]["tags"].items()
    ]


def test_framework_values_are_labelled_readably(data, needs):
    values = {v["value"]: v for f in data["facets"] if f["key"] == "framework" for v in f["values"]}
    assert values["STD_IEC_81001_5_1_2021"]["label"] == "IEC 81001-5-1"
    assert values["STD_NIST_CSF_2_0"]["label"] == "NIST CSF 2.0"
    assert values["STD_FDA_PREMARKET_2023"]["label"] == "FDA premarket guidance (2023)"
    assert values["STD_EU_MDR_2017_745"]["label"] == "MDCG 2019-16 / MDR Annex I (MDR)"
    labels = [v["label"] for v in values.values()]
    assert len(labels) == len(set(labels))
    for standard, value in values.items():
        assert value["meaning"] == f"{needs[standard]['doc_id']}: {needs[standard]['title']}"


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
    assert 'href="browse.html?framework=STD_IEC_81001_5_1_2021&amp;type=req"' in build.html("index.html")
