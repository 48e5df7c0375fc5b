"""IMDRF N60 content: every digest item is exactly one requirement with the digest's section,
stakeholders, phases and cited standards; the seed's ten tabs; glossary and standards."""

import csv
import re
from pathlib import Path

import pytest

from conftest import of_type

DATA = Path(__file__).parents[1] / "data"
WHO = {"MFR": ["manufacturer"], "HCP": ["healthcare-provider"], "USER": ["user"],
       "REG": ["regulator"], "VF": ["vulnerability-finder"], "OTH": ["other"],
       "ALL": ["manufacturer", "healthcare-provider", "user", "regulator", "vulnerability-finder"]}
LIFE_CYCLE = ["design", "manufacturing", "verification", "submission", "post-market", "end-of-support"]
PHASE = {"DES": ["design"], "MFG": ["manufacturing"], "TEST": ["verification"],
         "SUB": ["submission"], "PMM": ["post-market"], "EOS": ["end-of-support"],
         # the whole life cycle; not-stated (alone) for the two scope statements the digest gives no phase
         "TPLC": LIFE_CYCLE, "–": ["not-stated"]}
SEED_TABS = ["General Principles", "Pre-Market Considerations for Medical Device Cybersecurity",
             "Security Requirements and Architecture Design", "Secure Communications",
             "Data Protection", "Device Integrity", "User Authentication", "Software Maintenance",
             "Physical Access", "Reliability and Availability"]


def expand(value: str, table: dict) -> set[str]:
    out = set()
    for token in re.split(r"[,→]", value):
        out.update(table[token.strip()])
    return out


def read_items(name: str) -> list[dict]:
    with open(DATA / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


CSV_ITEMS = read_items("n60-items.csv")
ALL_ITEMS = CSV_ITEMS + read_items("n60-items-beyond-csv.csv")
REFERENCES = read_items("references.csv")
MUST_ITEMS = {l.strip() for l in (DATA / "n60-must-items.txt").read_text().splitlines()
              if l.strip() and not l.startswith("#")}


def cited_standards(item: dict) -> set[str]:
    refs = item["refs"]
    if refs == "refs of §5.1":  # N60 5.3 points back to the sources listed in 5.1
        refs = next(i["refs"] for i in CSV_ITEMS if i["digest_id"] == "N60-5.1-03")
    return {r["standard_id"] for r in REFERENCES if r["pattern"] in refs}


@pytest.fixture(scope="module")
def reqs(needs):
    """The requirements of N60 (those of N70 and N73 are tests/content/test_imdrf_family.py's)."""
    return {i: n for i, n in of_type(needs, "req").items() if n["digest"].startswith("N60-")}


@pytest.fixture(scope="module")
def by_digest(reqs):
    out = {}
    for need in reqs.values():
        out.setdefault(need["digest"], []).append(need["id"])
    return out


def test_reference_csv_has_178_items():
    assert len(CSV_ITEMS) == 178 and len({i["digest_id"] for i in CSV_ITEMS}) == 178


def test_every_digest_item_is_exactly_one_req(by_digest, reqs):
    expected = {i["digest_id"] for i in ALL_ITEMS}
    assert sorted(expected - set(by_digest)) == [], "digest items without a requirement"
    assert sorted(set(by_digest) - expected) == [], "requirements naming an unknown digest item"
    assert {d: ids for d, ids in by_digest.items() if len(ids) > 1} == {}, "items doubled"
    assert len(reqs) == len(expected) == 205


@pytest.mark.parametrize("item", ALL_ITEMS, ids=lambda i: i["digest_id"])
def test_req_matches_digest_item(item, by_digest, needs):
    need = needs[by_digest[item["digest_id"]][0]]
    assert need["id"] == "REQ_" + re.sub(r"[.-]", "_", item["digest_id"].upper())
    assert need["section"] == item["section"]
    assert set(need["stakeholder"]) == expand(item["who"].replace('"', ""), WHO)
    assert set(need["phase"]) == expand(item["phase"].replace('"', ""), PHASE)
    assert set(need["cites"]) == cited_standards(item)
    assert need["derives_from"] == ["GL_IMDRF_N60"]
    assert (need["strength"] == "must") == (item["digest_id"] in MUST_ITEMS)
    assert "cybersecurity" in need["tags"]
    assert len(need["content"].split()) >= 8, "statement too short to be a paraphrase"


def test_no_two_requirements_share_a_statement(reqs):
    statements = [" ".join(n["content"].split()).lower() for n in reqs.values()]
    assert len(statements) == len(set(statements))


@pytest.mark.parametrize("section", ["4.1", "4.2", "4.3", "4.4", "5.1", "5.2", "5.3", "5.4",
                                     "5.5.1", "5.5.2", "5.6", "6.1.1", "6.1.2", "6.2.1", "6.2.2",
                                     "6.2.3", "6.2.4", "6.3.1", "6.3.2", "6.3.3", "6.4.1", "6.4.2",
                                     "6.4.3", "6.5.1", "6.5.2", "6.5.3", "6.6.1", "6.6.2"])
def test_every_subsection_has_requirements(section, reqs):
    assert any(n["section"] == section for n in reqs.values())


def tab_panels(html: str) -> list[tuple[str, str]]:
    """(label, panel HTML) of each sphinx-design tab of the first tab-set, in order."""
    labels = re.findall(r'<label [^>]*class="sd-tab-label"[^>]*>\s*(.*?)\s*</label>', html, re.S)
    panels = re.split(r'<div class="sd-tab-content[^"]*"[^>]*>', html)[1:]
    return list(zip([re.sub(r"<[^>]+>", "", l).strip() for l in labels], panels))


def test_seed_tabs_in_order_and_none_empty(site, reqs):
    html = site.html("guidelines/imdrf-n60/index.html")
    tabs = tab_panels(html)[: len(SEED_TABS)]
    assert [label for label, _ in tabs] == SEED_TABS
    for label, panel in tabs:
        panel = panel.split('<input ')[0]  # up to the next tab
        shown = set(re.findall(r'id="(REQ_N60_[A-Z0-9_]+)"', panel))
        assert shown, f"tab {label!r} shows no requirement"
        assert shown <= set(reqs)


def test_tabs_show_every_section_5_1_requirement(site, reqs):
    html = site.html("guidelines/imdrf-n60/index.html")
    shown = set(re.findall(r'id="(REQ_N60_[A-Z0-9_]+)"', html))
    expected = {i for i, n in reqs.items() if n["section"] in ("4.1", "4.2", "4.3", "4.4", "5", "5.1")}
    assert expected <= shown


def test_every_cited_standard_resolves(needs):
    standards = of_type(needs, "standard")
    for need in needs.values():
        assert set(need["cites"]) <= set(standards), need["id"]
    for std in standards.values():
        assert std["publisher"] and std["doc_id"]


def test_standards_cover_n60_reference_list(needs):
    cited = {s for r in REFERENCES for s in [r["standard_id"]]}
    assert cited <= set(of_type(needs, "standard"))
    assert len(of_type(needs, "standard")) >= 50


def test_29147_edition_mismatch_is_noted(site):
    html = site.html("requirements/standards.html")
    assert "2014" in html and "2018" in html


GLOSSARY_TERMS = ["asset", "attack", "authentication", "authenticity", "authorization",
                  "availability", "compensating risk control measure", "confidentiality",
                  "coordinated vulnerability disclosure", "cybersecurity", "end of life",
                  "end of support", "essential performance", "exploit", "integrity",
                  "legacy medical device", "non-repudiation", "patient harm", "privacy", "threat",
                  "threat modeling", "update", "validation", "verification", "vulnerability"]


def test_glossary_has_every_n60_definition(site):
    html = site.html("guidelines/imdrf-n60/glossary.html")
    defined = {re.sub(r"<[^>]+>", "", t).strip().lower()
               for t in re.findall(r'<dt id="term-[^"]*">(.*?)</dt>', html, re.S)}
    defined = {re.sub(r"¶$", "", d).strip() for d in defined}
    assert set(GLOSSARY_TERMS) <= defined


def test_requirements_link_glossary_terms(site):
    pages = list((site.outdir / "requirements" / "imdrf-n60").glob("*.html"))
    links = sum(p.read_text(encoding="utf-8").count('glossary.html#term-') for p in pages)
    assert links >= 40


def test_n60_tables_list_their_requirements(site, reqs):
    """Table 1 on the 5.1 page and Tables 2 and 3 on the 6.4 page name their requirements."""
    html = site.html("requirements/imdrf-n60/s05-1-security-architecture.html")
    table1 = html.split("N60 Table 1 - Select design principles")[1].split("</table>")[0]
    rows = {i for i, n in reqs.items() if n["digest"].startswith("N60-5.1-T1-")}
    assert len(rows) == 15 and all(f"#{i}" in table1 for i in rows)
    html = site.html("requirements/imdrf-n60/s06-4-remediation.html")
    for table, req in (("N60 Table 2 \u2013", "REQ_N60_6_4_2_04"), ("N60 Table 3 \u2013", "REQ_N60_6_4_3_04")):
        assert f"#{req}" in html.split(table)[1].split("</table>")[0]
