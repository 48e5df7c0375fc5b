"""N70 (legacy devices) and N73 (SBOM): every digest item is one requirement with the digest's
section, stakeholders and phases; the N70 page has its tabs; N73 shows its confidence
everywhere; the documents link to each other both ways; the life-cycle page is generated."""

from __future__ import annotations

import csv
import html
import re
from pathlib import Path

import openpyxl
import pytest

from conftest import DATA, of_type

LIFE_CYCLE = ["design", "manufacturing", "verification", "submission", "post-market", "end-of-support"]
WHO = {"MFR": {"manufacturer"}, "HCP": {"healthcare-provider"}, "USER": {"user"},
       "ALL": {"manufacturer", "healthcare-provider", "user", "regulator", "vulnerability-finder"},
       # N70-6.3: the digest names no stakeholder; the section is about the transfer between the two
       "–": {"manufacturer", "healthcare-provider"}}
PHASE = {"DES": {"design"}, "TEST": {"verification"}, "PMM": {"post-market"}, "EOS": {"end-of-support"},
         "PMM (procurement)": {"post-market"}, "TPLC": set(LIFE_CYCLE), "–": {"not-stated"}}
CONFIDENCE = {"verified": "verified", "verified (section titles only)": "section-titles-verified",
              "partly verified": "partly-verified", "unverified": "unverified"}
MUST = {"N70-11-01", "N70-11.1-01"}
# the references of the item lists, as standard needs (IMDRF documents are guidelines: linked
# with details and named in the text, not cited)
CITED = {"HSCC HIC-MaLTS": "STD_HSCC_HIC_MALTS_2023", "MDS2": "STD_MDS2", "AAMI TIR97": "STD_AAMI_TIR97_2019",
         "IEC 62443-4-1": "STD_IEC_62443_4_1_2018", "IEC 62443-3-2": "STD_IEC_62443_3_2_2020",
         "IEC 81001-5-1": "STD_IEC_81001_5_1_2021", "IEC TR 60601-4-5": "STD_IEC_TR_60601_4_5_2021",
         "IEC TR 80001-2-8": "STD_IEC_TR_80001_2_8_2016", "IEC 62443-4-2": "STD_IEC_62443_4_2_2019",
         "NIST 800-12": "STD_NIST_SP_800_12", "NIST Secure Software Development Framework": "STD_NIST_SSDF",
         "NTIA": "STD_NTIA_SBOM_FRAMING_2021"}
TABLE_1_ROWS = [f"N70-11.1-T{i}" for i in range(1, 10)]
N70_TABS = ["General Principles", "Development", "Support", "Limited Support", "End of Support",
            "Stage Transitions", "Compensating Controls", "Education"]


def read_items(name: str) -> list[dict]:
    with open(DATA / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


N70_ITEMS = read_items("n70-items.csv")
N73_ITEMS = read_items("n73-items.csv")


def expand(value: str, table: dict) -> set[str]:
    value = value.replace('"', "").strip()
    if value in table:
        return set(table[value])
    out = set()
    for token in re.split(r"[,→]", value):
        out |= table[token.strip()]
    return out


def req_id(digest: str) -> str:
    return "REQ_" + re.sub(r"[.-]", "_", digest.upper())


@pytest.fixture(scope="module")
def by_digest(needs) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for need in of_type(needs, "req").values():
        out.setdefault(need["digest"], []).append(need["id"])
    return out


def test_the_item_lists_are_complete():
    assert len(N70_ITEMS) == 73 and len({i["digest_id"] for i in N70_ITEMS}) == 73
    assert len(N73_ITEMS) == 7


@pytest.mark.parametrize("items, guideline", [(N70_ITEMS, "GL_IMDRF_N70"), (N73_ITEMS, "GL_IMDRF_N73")])
def test_every_item_is_exactly_one_req(items, guideline, by_digest, needs):
    prefix = items[0]["digest_id"][:4]
    expected = {i["digest_id"] for i in items} | (set(TABLE_1_ROWS) if prefix == "N70-" else set())
    found = {d: ids for d, ids in by_digest.items() if d.startswith(prefix)}
    assert sorted(expected - set(found)) == [], "items without a requirement"
    assert sorted(set(found) - expected) == [], "requirements naming an unknown item"
    assert {d: ids for d, ids in found.items() if len(ids) > 1} == {}, "items doubled"
    assert all(needs[ids[0]]["derives_from"] == [guideline] for ids in found.values())


@pytest.mark.parametrize("item", N70_ITEMS + N73_ITEMS, ids=lambda i: i["digest_id"])
def test_req_matches_its_item(item, by_digest, needs):
    need = needs[by_digest[item["digest_id"]][0]]
    assert need["id"] == req_id(item["digest_id"])
    assert need["section"] == item["section"]
    assert set(need["stakeholder"]) == expand(item["who"], WHO)
    assert set(need["phase"]) == expand(item["phase"], PHASE)
    assert (need["strength"] == "must") == (item["digest_id"] in MUST)
    assert need["lifecycle_stage"], "every N70 and N73 requirement belongs to a stage"
    cited = {std for pattern, std in CITED.items() if pattern in item["refs"]}
    assert set(need["cites"]) == cited
    assert {"cybersecurity"} <= set(need["tags"])
    assert len(need["content"].split()) >= 15, "statement too short to be a paraphrase"
    if item["digest_id"].startswith("N70-"):
        assert "legacy-devices" in need["tags"]
        inferred = len(item["section"].split(".")) >= 3
        assert (need["section_numbering"] == "inferred") == inferred
        if item["section"][0] in "6789":
            chapter_part = item["section"].split(".")[1] if "." in item["section"] else ""
            assert need["duty"] == {"1": "communication", "2": "risk-management",
                                    "3": "transfer-of-responsibility"}[chapter_part]
    else:
        assert need["confidence"] == CONFIDENCE[item["confidence"]]
        assert "sbom" in need["tags"]


def test_table_1_rows_are_requirements_of_their_own(by_digest, needs):
    rows = [needs[by_digest[d][0]] for d in TABLE_1_ROWS]
    assert all(r["section"] == "11.1" and r["stakeholder"] == ["healthcare-provider"] for r in rows)
    assert all(r["strength"] == "may" and r["lifecycle_stage"] == ["end-of-support"] for r in rows)
    assert len({r["title"] for r in rows}) == 9


def test_every_tab_of_the_n70_page_holds_requirements(site, needs):
    page = site.html("guidelines/imdrf-n70/index.html")
    labels = re.findall(r'<label [^>]*class="sd-tab-label"[^>]*>\s*(.*?)\s*</label>', page, re.S)
    assert [html.unescape(label) for label in labels] == N70_TABS
    panels = re.split(r'<label [^>]*class="sd-tab-label"', page)[1:]
    for label, panel in zip(N70_TABS, panels):
        shown = set(re.findall(r'id="(REQ_N70_[A-Z0-9_]+)"', panel))
        assert shown, f"tab {label} shows no requirement"
    every = set(re.findall(r'id="(REQ_N70_[A-Z0-9_]+)"', page))
    n70 = {i for i, n in of_type(needs, "req").items() if n["digest"].startswith("N70-")}
    scope = {req_id(i["digest_id"]) for i in N70_ITEMS if i["section"] in ("1", "2")}
    assert n70 - scope <= every, f"N70 requirements on no tab: {sorted(n70 - scope - every)}"


def test_n73_confidence_shows_in_html_json_and_xlsx(site, needs):
    n73 = {i: n for i, n in of_type(needs, "req").items() if n["digest"].startswith("N73-")}
    assert {n["confidence"] for n in n73.values()} == set(CONFIDENCE.values())
    page = site.html("requirements/imdrf-n73/sbom.html")
    for need_id, need in n73.items():
        box = page.split(f'id="{need_id}"', 1)[1].split('class="need_container', 1)[0]
        assert re.search(r"confidence:\s*</span>\s*<span[^>]*>\s*" + re.escape(need["confidence"]), box), need_id
    book = openpyxl.load_workbook(Path(site.outdir) / "export" / "traceability.xlsx", read_only=True)
    rows = list(book["Requirements"].iter_rows(values_only=True))
    column = rows[0].index("confidence")
    exported = {r[0]: r[column] for r in rows[1:] if r[0] in n73}
    assert exported == {i: n["confidence"] for i, n in n73.items()}


# The digest's cross-document hints: (source side, detailed side) by digest prefix.
HINTS = [("N60-6.6", "N70-"), ("N60-5.5.2", "N70-7.1.1"), ("N60-5.5.2", "N70-7.2.2"), ("N60-5.5.2", "N70-8.3"),
         ("N70-", "N73-"), ("N60-6.4.1", "N70-11.1"), ("N60-6.3", "N70-5.2")]


@pytest.mark.parametrize("general, specific", HINTS)
def test_cross_document_links_in_both_directions(general, specific, needs, site):
    pairs = [(n["id"], t) for n in of_type(needs, "req").values() if n["digest"].startswith(specific)
             for t in n["details"] if needs[t]["digest"].startswith(general)]
    assert pairs, f"no requirement of {specific} details one of {general}"
    for source, target in pairs:
        assert source in needs[target]["details_back"]
        page = site.html(needs[target]["docname"] + ".html")
        box = page.split(f'id="{target}"', 1)[1].split('class="need_container', 1)[0]
        assert "is detailed in" in box and source in box, (target, source)


def test_the_life_cycle_page_sets_the_parties_side_by_side(site, needs):
    page = site.html("guidelines/imdrf-n70/life-cycle.html")
    for stage in ("Development", "Support", "Limited Support", "End of Support"):
        assert f">{stage}<" in page
    assert page.count("Healthcare provider") >= 5 and "kb-share-manufacturer" in page
    eos = page.split('id="stage-end-of-support"', 1)[1]
    hcp_eos = [i for i, n in of_type(needs, "req").items()
               if n.get("lifecycle_stage") == ["end-of-support"] and "healthcare-provider" in n["stakeholder"]]
    assert hcp_eos and all(i in eos for i in hcp_eos)
