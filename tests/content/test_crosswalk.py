"""The crosswalk: every clause and every mapping on the site is one the crosswalk gives.

tests/data/crosswalk.md is a verbatim copy of the project's crosswalk. Its section 2 has one
table per N60 topic (a row per framework, a cell of clauses, each group of clauses followed by
its evidence marker). This module parses those cells, independently of the site's code, and
checks needs.json against them:

* every ``clause`` need is a clause the crosswalk names, under a topic, for its framework;
* every mapping link (``maps_*``) of a requirement has the evidence level the crosswalk gives
  that clause under one of the requirement's topics, so no unverified lead is linked;
* every row of the crosswalk that maps a clause is mapped on the site, the topic pages apply
  to the requirements the topic names, and the framework pages list the topics the crosswalk
  finds silent ("—").

How a cell is read: the marker that governs a clause is the first evidence marker after it at
the same or a lower parenthesis depth (so "6.2 (6.2.5 ... [P]); 6.3 [S]" gives 6.2 [S] and
6.2.5 [P]); a parenthesis right after that marker that speaks of fit or of something unverified
("(unverified fit)", "(partial fit)", "(static-analysis content unverified)") makes the mapping
a judgement of fit; a clause after the last marker followed by "(unverified fit)" is one too,
and one followed only by "(unverified)" is a lead. "[P via N60]" (IEC 62304 6.2.5, which N60's
own text cites) counts as [P]. Ranges and lists the crosswalk abbreviates ("5.4.1 to 5.4.4",
"SR-1 to SR-5", "CR 1.1, 1.3", "Art. 83 to 86", "Appendix 1, all 8 categories") are expanded
before clauses are looked up; see ``normalize``. A clause belongs to the framework of the row,
or to the one a label before it in the cell names ("MDR-AI 17.2", "FDA25 VII.C.1",
"30111 §7"), for as long as the label's parenthesis stays open."""

from __future__ import annotations

import html
import re
import tomllib
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

from conftest import ROOT, of_type

DATA = Path(__file__).parents[1] / "data"
TEXT = (DATA / "crosswalk.md").read_text(encoding="utf-8")
MODEL = tomllib.loads((ROOT / "ubproject.toml").read_text(encoding="utf-8"))
EVIDENCE = MODEL["kb"]["evidence"]
LINK_OF_MARKER = {decl["marker"]: link for link, decl in EVIDENCE.items()}
FIT = LINK_OF_MARKER["(unverified fit)"]

# The crosswalk's abbreviation of each framework (its section 2 preamble) <- the site's need.
CODE = {
    "STD_FDA_PREMARKET_2023": "FDA23", "STD_FDA_PREMARKET_2025": "FDA25",
    "STD_FDCA_524B": "524B", "STD_IEC_81001_5_1_2021": "81001",
    "STD_IEC_62443_4_1_2018": "4-1", "STD_IEC_62443_4_2_2019": "4-2",
    "STD_AAMI_TIR57_2016": "TIR57", "STD_AAMI_SW96_2023": "SW96",
    "STD_MDCG_2019_16": "MDCG", "STD_EU_MDR_2017_745": "MDR", "STD_NIST_CSF_2_0": "CSF",
    "STD_ISO_14971_2019": "14971", "STD_IEC_62304": "62304", "STD_ISO_IEC_29147": "29147",
    "STD_ISO_IEC_30111_2019": "30111", "STD_UL_2900_2_1_2017": "UL", "STD_MDS2": "MDS2",
    "STD_HSCC_JSP2_2024": "JSP2",
}
# A row label's words -> the frameworks the row is about.
ROW_WORD = {"FDA23": {"FDA23"}, "524B": {"524B"}, "81001": {"81001"}, "4-1": {"4-1"},
            "4-2": {"4-2"}, "TIR57": {"TIR57"}, "SW96": {"SW96"}, "MDCG": {"MDCG"},
            "MDR-AI": {"MDR"}, "CSF": {"CSF"}, "14971": {"14971"}, "62304": {"62304"},
            "29147": {"29147"}, "ISO/IEC 29147": {"29147"}, "30111": {"30111"},
            "ISO/IEC 30111": {"30111"}, "UL": {"UL"}, "MDS2": {"MDS2"}, "JSP2": {"JSP2"}}
# Rows that also hold clauses of another framework, introduced by its label ("FDA25 VII.C.2").
ROW_EXTRA = {"FDA23": {"FDA25"}, "524B": {"FDA25"}}
# Labels that open a stretch of a cell about one framework.
LABELS = {"FDA25": r"\bFDA25\b", "FDA23": r"\bFDA23\b", "MDCG": r"\bMDCG\b",
          "MDR": r"\bMDR(?:-AI)?\b", "TIR57": r"\bTIR57\b", "SW96": r"\bSW96\b",
          "TIR97": r"\bTIR97\b", "29147": r"\b29147 §", "30111": r"\b30111 §"}
MARKER = re.compile(r"`(\[(?:P|P-OoI|S|S-FDA|P via N60)\])`")

# Which requirements each topic applies to, read from the N60 section or Table 1 row its
# heading names (checked in test_topic_headings_name_the_selected_sections).
T1 = {2: "SC", 3: "DP", 4: "DI", 5: "UA", 6: "SM", 7: "PA", 8: "RA"}


def _t1(code):
    return lambda r: r["digest"].startswith(f"N60-5.1-T1-{code}")


def _sections(*sections):
    return lambda r: r["section"] in sections


SELECT = {
    1: lambda r: r["section"] == "5.6.1" or (r["section"] == "5.1" and "-T1-" not in r["digest"]),
    2: _t1("SC"), 3: _t1("DP"), 4: _t1("DI"), 5: _t1("UA"),
    6: lambda r: _t1("SM")(r) or r["digest"] == "N60-5.4-04",  # 5.4 "Updates and Remediation"
    7: lambda r: _t1("PA")(r) or (r["section"] == "6.1.1" and "physical-access" in r["tags"]),
    8: _t1("RA"),
    9: _sections("5.2", "5.6.2"), 10: _sections("5.3", "5.6.3"), 11: _sections("5.4", "5.6.4"),
    12: _sections("5.5.1", "5.5.2", "5.6.5"), 13: _sections("6.3", "6.3.1", "6.3.2", "6.3.3"),
    14: _sections("6.4", "6.4.1", "6.4.2", "6.4.3"), 15: _sections("6.5", "6.5.1", "6.5.2", "6.5.3"),
    16: lambda r: r["section"] in ("4.4", "6.2", "6.2.1", "6.2.2", "6.2.3", "6.2.4")
    or r["digest"] == "N60-5.4-06",  # 5.4 "Information sharing"
    17: _sections("6.6", "6.6.1", "6.6.2"),
}
NAMED = {1: ["§5.1", "§5.6.1"], 2: ["§5.1 Table 1"], 3: ["§5.1 Table 1"], 4: ["§5.1 Table 1"],
         5: ["§5.1 Table 1"], 6: ["§5.1 Table 1", '§5.4 "Updates and Remediation"'],
         7: ["§5.1 Table 1", "§6.1.1"], 8: ["§5.1 Table 1"], 9: ["§5.2", "§5.6.2"],
         10: ["§5.3", "§5.6.3"], 11: ["§5.4", "§5.6.4"], 12: ["§5.5.1", "§5.5.2", "§5.6.5"],
         13: ["§6.3"], 14: ["§6.4"], 15: ["§6.5"],
         16: ["§4.4", '§5.4 "Information sharing"', "§6.2"], 17: ["§6.6"]}
T1_NAME = {"SC": "secure communications", "DP": "data protection", "DI": "device integrity",
           "UA": "user authentication", "SM": "software maintenance", "PA": "physical access",
           "RA": "reliability"}

# Rows with an evidence marker whose clauses are nevertheless left out, and why.
LEFT_OUT = {
    (1, "TIR57 / SW96"): "N60 names TIR57 as a source, but the crosswalk gives no clause",
    (6, "UL"): "the update-plan summary's clause number is unverified",
    (11, "UL"): "the update-plan summary's clause is unverified",
    (14, "TIR57 / SW96"): "the production and post-production steps' numbers are unverified",
}


# ---------------------------------------------------------------------- parsing the crosswalk


def parse_topics(text: str) -> dict[int, dict]:
    section2 = text.split("## 2. Crosswalk", 1)[1].split("\n## 3.", 1)[0]
    topics = {}
    for match in re.finditer(r"^### 2\.(\d+) (.+?)\n(.*?)(?=^### |\Z)", section2, re.M | re.S):
        rows = []
        for line in match.group(3).splitlines():
            if not line.startswith("| ") or line.startswith(("| Framework", "|---")):
                continue
            label, cell = line.strip().strip("|").split("|", 1)
            rows.append((label.strip(), cell.strip()))
        topics[int(match.group(1))] = {"heading": match.group(2), "rows": rows}
    return topics


TOPICS = parse_topics(TEXT)
APPENDIX_1 = [c.strip() for c in re.search(
    r"Appendix 1 Security Control Categories: (.+?)\.\n", TEXT).group(1).split(";")]


def row_codes(label: str) -> set[str]:
    return set().union(*(ROW_WORD[w.strip()] for w in label.split(" / ")))


def _expand(prefix: str, first: str, last: str) -> str:
    width = len(first) if first.startswith("0") else 0
    return ", ".join(f"{prefix}{i:0{width}d}" for i in range(int(first), int(last) + 1))


def normalize(cell: str) -> str:
    """The cell with the crosswalk's abbreviations written out."""
    s = cell.replace("**", "")
    s = s.replace("Appendix 1, all 8 categories", ", ".join(f"App. 1 {c}" for c in APPENDIX_1))
    s = re.sub(r"Appendix (\d)", r"App. \1", s)
    # the crosswalk's short names for "Code, Data, and Execution Integrity"
    s = re.sub(r"App\. 1 (?:Code|Execution) Integrity", "App. 1 Code, Data, and Execution Integrity", s)
    s = s.replace("App. 2 A and B", "App. 2 A and App. 2 B")
    s = re.sub(r"(\S+?)\(([a-z])\) and \(([a-z])\)", r"\1(\2) and \1(\3)", s)
    s = re.sub(r"Art\. (\d+) to (\d+)", lambda m: _expand("Art. ", m[1], m[2]), s)
    s = re.sub(r"Art\. (\d+) and (\d+)", r"Art. \1 and Art. \2", s)
    s = re.sub(r"CCSC (\d+) to (\d+)", lambda m: _expand("CCSC ", m[1], m[2]), s)
    s = re.sub(r"\bFR ?(\d) to FR ?(\d)", lambda m: _expand("FR ", m[1], m[2]), s)
    s = re.sub(r"\bFR(\d)", r"FR \1", s)
    s = re.sub(r"\b([A-Z]{2,4}(?:\.[A-Z]{2})?)-(\d+) to \1-(\d+)",
               lambda m: _expand(m[1] + "-", m[2], m[3]), s)
    s = re.sub(r"(?<![\w.])((?:[A-Z]+\.)*(?:\d+\.)*)(\d+) ?(?:to|–) ?\1(\d+)(?!\d)",
               lambda m: _expand(m[1], m[2], m[3]), s)
    s = re.sub(r"\b(CR|EDR) (\d+\.\d+)((?:, \d+\.\d+)+)",
               lambda m: m[1] + " " + m[2] + "".join(f", {m[1]} {x}" for x in m[3].split(", ")[1:]), s)
    s = re.sub(r"\b(CR|EDR) (\d+\.\d+) and (\d+\.\d+)", r"\1 \2 and \1 \3", s)
    return s


def _depths(s: str) -> list[int]:
    depth, out = 0, []
    for ch in s:
        out.append(depth)
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
    return out


def _parenthetical(s: str) -> str:
    """The parenthesis at the start of s, nested ones included ('' if none)."""
    s = s.lstrip()
    if not s.startswith("("):
        return ""
    depth = 0
    for i, ch in enumerate(s):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            return s[: i + 1]
    return s


def level_at(s: str, pos: int) -> str | None:
    """The evidence of the clause mentioned at pos: a link type, 'unverified' or None."""
    depths = _depths(s)
    for marker in MARKER.finditer(s, pos):
        if depths[marker.start()] <= depths[pos]:
            link = LINK_OF_MARKER["[P]" if marker.group(1) == "[P via N60]" else marker.group(1)]
            if re.search(r"unverified|\bfit\b", _parenthetical(s[marker.end():])):
                return FIT
            return link
    rest = s[pos:]
    if re.search(r"\((?:unverified|partial) fit", rest):
        return FIT
    return "unverified" if "(unverified)" in rest else None


def locator(code: str, ref: str) -> str:
    return ref[len("Annex I "):] if code == "MDR" and ref.startswith("Annex I ") else ref


def mentions(s: str, loc: str):
    return re.finditer(r"(?<![\w.])" + re.escape(loc) + r"(?![\w(]|[.\-]\w)", s)


def label_at(s: str, pos: int, allowed: set[str], default: str) -> str:
    """The framework a clause mentioned at pos belongs to: the last label before it ("MDR-AI",
    "FDA25", "30111 §") whose parenthesis has not closed in between, else the row's own."""
    depths = _depths(s)
    current, where = default, -1
    for code, pattern in LABELS.items():
        if code not in allowed and code != "TIR97":
            continue
        for m in re.finditer(pattern, s[:pos]):
            if m.start() > where and min(depths[m.start():pos + 1]) >= depths[m.start()]:
                current, where = code, m.start()
    return current


@lru_cache(maxsize=None)
def crosswalk_level(topic: int, code: str, ref: str) -> str | None:
    """The evidence the crosswalk gives clause ``ref`` of framework ``code`` under a topic."""
    for label, cell in TOPICS[topic]["rows"]:
        primary = row_codes(label)
        allowed = primary | set().union(*(ROW_EXTRA.get(w.strip(), set()) for w in label.split(" / ")))
        if code not in allowed or cell.startswith("—"):
            continue
        s = normalize(cell)
        default = label.split(" / ")[0].strip()
        default = next(iter(ROW_WORD.get(default, {default})))
        for m in mentions(s, locator(code, ref)):
            if label_at(s, m.start(), allowed, default) == code:
                return level_at(s, m.start())
    return None


# ---------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def clauses(needs):
    return of_type(needs, "clause")


@pytest.fixture(scope="module")
def reqs(needs):
    # the crosswalk's topics are N60's: crosswalk.md maps no N70 or N73 requirement
    return {i: n for i, n in of_type(needs, "req").items() if n["derives_from"] == ["GL_IMDRF_N60"]}


def topics_of(req) -> list[int]:
    return [n for n, select in SELECT.items() if select(req)]


# ---------------------------------------------------------------------- the crosswalk itself


def test_crosswalk_parses():
    assert sorted(TOPICS) == list(range(1, 18))
    assert all(len(t["rows"]) >= 12 for t in TOPICS.values())
    assert len(APPENDIX_1) == 8


def test_evidence_levels_are_the_crosswalk_legend():
    legend = text_between(TEXT, "### 0.1", "### 0.2")
    markers = set(re.findall(r"^\| `?(\[[^\]]+\]|\([^)]+\)|—)`? \|", legend, re.M))
    assert set(LINK_OF_MARKER) == markers - {"(unverified)", "—"}


def text_between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


def test_topic_headings_name_the_selected_sections():
    for n, tokens in NAMED.items():
        heading = TOPICS[n]["heading"]
        assert all(t in heading for t in tokens), (n, heading)
        if n in T1:
            assert T1_NAME[T1[n]] in heading.lower(), (n, heading)


def test_reading_of_cells():
    """The reading rules on cells whose marker placement is tricky."""
    assert crosswalk_level(6, "62304", "6.2") == "maps_secondary"
    assert crosswalk_level(6, "62304", "6.2.5") == "maps_primary"
    assert crosswalk_level(12, "62304", "6.2.5") == "maps_primary"
    assert crosswalk_level(12, "62304", "8.1.2") == FIT
    assert crosswalk_level(3, "81001", "5.2.1") == FIT
    assert crosswalk_level(3, "4-2", "CR 1.5") == FIT
    assert crosswalk_level(5, "4-2", "CCSC 1") == FIT
    assert crosswalk_level(8, "4-2", "CCSC 1") == "maps_primary"
    assert crosswalk_level(16, "81001", "4.1.7") == FIT  # (partial fit)
    assert crosswalk_level(9, "TIR57", "6.5") == "maps_fda_cited"
    assert crosswalk_level(9, "SW96", "7.4") == "maps_fda_cited"
    assert crosswalk_level(11, "SW96", "10") == "maps_secondary"
    assert crosswalk_level(10, "UL", "18") == "unverified"
    assert crosswalk_level(1, "FDA25", "VII.C.2") == "maps_primary"
    assert crosswalk_level(1, "FDA23", "App. 1 Resiliency and Recovery") == "maps_primary"
    assert crosswalk_level(9, "MDR", "Annex I 4") == "maps_primary"
    assert crosswalk_level(9, "MDCG", "4") is None
    assert crosswalk_level(1, "14971", "7.1") is None  # its cell is "—"


# ---------------------------------------------------------------------- clauses


def test_every_framework_is_a_standard(needs):
    for std_id in CODE:
        assert needs[std_id]["type"] == "standard", std_id
        assert needs[std_id]["publisher"] and needs[std_id]["doc_id"]


def test_framework_urls_come_from_the_crosswalk_or_the_standards_page(needs):
    standards_page = (ROOT / "requirements" / "standards.rst").read_text(encoding="utf-8")
    for std_id in CODE:
        url = needs[std_id]["url"]
        assert url is None or url in TEXT or url in standards_page, (std_id, url)


def test_every_clause_belongs_to_a_crosswalk_framework(clauses):
    assert len(clauses) >= 300
    for clause_id, clause in clauses.items():
        assert len(clause["part_of"]) == 1 and clause["part_of"][0] in CODE, clause_id


def test_no_clause_the_crosswalk_does_not_contain(clauses):
    """Every clause (framework + clause_ref) is named by the crosswalk, under some topic, with
    an evidence level; a lead marked (unverified) does not count."""
    unknown = []
    for clause_id, clause in clauses.items():
        code = CODE[clause["part_of"][0]]
        levels = {crosswalk_level(n, code, clause["clause_ref"]) for n in TOPICS}
        if not levels & set(EVIDENCE):
            unknown.append((clause_id, code, clause["clause_ref"]))
    assert unknown == []


def test_clause_titles_are_the_crosswalks(clauses):
    flat = " ".join(TEXT.replace("**", "").split()).lower()
    invented = [(i, c["clause_title"]) for i, c in clauses.items()
                if c["clause_title"] and " ".join(c["clause_title"].split()).lower() not in flat]
    assert invented == []


def test_every_clause_is_mapped(clauses):
    unmapped = [i for i, c in clauses.items() if not any(c[f"{link}_back"] for link in EVIDENCE)]
    assert unmapped == []


# ---------------------------------------------------------------------- mappings


def test_every_mapping_has_the_crosswalks_evidence_level(reqs, needs):
    """Each maps_* link from a requirement to a clause: under one of the requirement's topics
    the crosswalk gives that clause exactly that evidence level."""
    wrong = []
    count = 0
    for req_id, req in reqs.items():
        topics = topics_of(req)
        for link in EVIDENCE:
            for clause_id in req[link]:
                count += 1
                clause = needs[clause_id]
                code = CODE[clause["part_of"][0]]
                found = {n: crosswalk_level(n, code, clause["clause_ref"]) for n in topics}
                if link not in found.values():
                    wrong.append((req_id, clause_id, link, found))
    assert count > 1000
    assert wrong[:20] == []


def test_only_requirements_map_and_only_to_clauses(needs):
    for need in needs.values():
        for link in EVIDENCE:
            if need[link]:
                assert need["type"] == "req", need["id"]
                assert all(needs[t]["type"] == "clause" for t in need[link]), need["id"]


def test_every_mapped_row_of_the_crosswalk_is_mapped(reqs, needs):
    """A row that gives a clause with an evidence marker has at least one mapping on the site
    (unless listed in LEFT_OUT with the reason)."""
    missing = []
    for n, topic in TOPICS.items():
        members = [r for r in reqs.values() if SELECT[n](r)]
        for label, cell in topic["rows"]:
            if cell.startswith("—") or not MARKER.search(cell) or (n, label) in LEFT_OUT:
                continue
            codes = row_codes(label) | set().union(*(ROW_EXTRA.get(w.strip(), set()) for w in label.split(" / ")))
            mapped = any(
                CODE[needs[c]["part_of"][0]] in codes
                and crosswalk_level(n, CODE[needs[c]["part_of"][0]], needs[c]["clause_ref"]) == link
                for r in members for link in EVIDENCE for c in r[link])
            if not mapped:
                missing.append((n, label))
    assert missing == []


def test_left_out_rows_are_rows_of_the_crosswalk():
    for (n, label), _reason in LEFT_OUT.items():
        assert any(l == label for l, _ in TOPICS[n]["rows"]), (n, label)


def test_mappings_are_in_needs_json_with_their_link_type(site):
    data = site.needs_json
    version = data["versions"][data["current_version"]]
    schema = version["needs_schema"]["properties"]
    for link in EVIDENCE:
        assert schema[link]["field_type"] == "links", link
        assert schema[f"{link}_back"]["field_type"] == "backlinks", link
    req = version["needs"]["REQ_N60_5_1_T1_SC1"]
    assert "CL_IEC81001_5_4_3" in req["maps_primary"]
    assert "CL_IEC62443_4_2_CR_5_1" in req["maps_fit_judgement"]


def test_mappings_leave_every_reviewed_link_unsuspected(needs):
    assert [i for i, n in needs.items() if n["suspect_links"]] == []


def test_mapping_link_types_are_left_out_of_the_fingerprint():
    exclude = MODEL["needs"]["fields"]["fingerprint"]["derive"]["exclude"]
    clause_links = [name for name, decl in MODEL["needs"]["links"].items()
                    if decl.get("target_types") == ["clause"] and name != MODEL["kb"]["crosswalk"]["fits"]["clause"]]
    assert set(clause_links) == set(EVIDENCE)  # a fit's own link to its clause is part of the fit
    assert set(clause_links) | {"part_of"} <= set(exclude)


# ---------------------------------------------------------------------- pages


def topic_pages() -> dict[int, Path]:
    pages = sorted((ROOT / "requirements" / "crosswalk" / "topics").glob("t*.rst"))
    return {int(re.match(r"t(\d+)-", p.name).group(1)): p for p in pages}


def test_one_topic_page_per_crosswalk_topic():
    assert sorted(topic_pages()) == sorted(TOPICS)


def test_one_needextend_block_per_crosswalk_row():
    for n, page in topic_pages().items():
        source = page.read_text(encoding="utf-8")
        labels = re.findall(r"^\.\. Row (.+)\n\n\.\. needextend::", source, re.M)
        assert labels, page.name
        assert len(labels) == len(set(labels)), page.name
        assert set(labels) <= {l for l, _ in TOPICS[n]["rows"]}, page.name


def test_topic_pages_apply_to_the_topics_requirements(site, reqs):
    for n, page in topic_pages().items():
        html = site.html(f"requirements/crosswalk/topics/{page.stem}.html")
        applies = html.split("Applies to", 1)[1].split("</p>", 1)[0]
        shown = set(re.findall(r">(REQ_N60_[A-Z0-9_]+)<", applies))
        assert shown == {i for i, r in reqs.items() if SELECT[n](r)}, page.name


def silent_topics(column: dict) -> set[int]:
    codes = {CODE[s] for s in column["standards"]}
    silent = set()
    for n, topic in TOPICS.items():
        cells = [cell for label, cell in topic["rows"] if row_codes(label) & codes]
        if cells and all(cell.startswith("—") for cell in cells):
            silent.add(n)
    return silent


@pytest.mark.parametrize("column", MODEL["kb"]["crosswalk"]["columns"], ids=lambda c: c["key"])
def test_framework_page_lists_the_silent_topics(site, column):
    html = site.html(column["page"] + ".html")
    tag, rest = re.search(r'<(ul|p) class="kb-crosswalk-silent[^"]*">(.*)', html, re.S).groups()
    block = rest.split(f"</{tag}>", 1)[0]
    listed = {int(n) for n in re.findall(r"Crosswalk 2\.(\d+):", block)}
    assert listed == silent_topics(column)


# ---------------------------------------------------------------------- fits

FITS = MODEL["kb"]["crosswalk"]["fits"]
MARKERS = {decl["marker"] for decl in EVIDENCE.values()}
UNCONFIRMED = {"(unverified fit)", "[S-FDA]"}  # the crosswalk has not confirmed the clause text


@pytest.fixture(scope="module")
def fits(needs):
    return of_type(needs, FITS["type"])


def pair(fit) -> tuple[str, str]:
    return fit[FITS["requirement"]][0], fit[FITS["clause"]][0]


def test_every_fit_carries_a_level_its_evidence_and_a_reason(fits, needs):
    assert len(fits) > 500
    for fit_id, fit in fits.items():
        assert fit[FITS["level"]] in ("full", "partial", "related"), fit_id
        assert fit[FITS["evidence"]] in MARKERS, fit_id
        reason = fit[FITS["reason"]]
        assert reason.endswith(".") and "\n" not in reason and 20 <= len(reason), fit_id
        assert len(reason.split()) <= 45, fit_id
        assert len(fit[FITS["requirement"]]) == 1 and len(fit[FITS["clause"]]) == 1, fit_id
        req_id, clause_id = pair(fit)
        assert (needs[req_id]["type"], needs[clause_id]["type"]) == ("req", "clause"), fit_id


def test_every_fit_judges_a_topic_link_and_takes_its_evidence(fits, needs):
    """A fit is never a new mapping: its requirement has a topic link to its clause, and its
    evidence is that link's marker (the first, in [kb.evidence] order, if there are two)."""
    for fit_id, fit in fits.items():
        req_id, clause_id = pair(fit)
        links = [link for link in EVIDENCE if clause_id in needs[req_id][link]]
        assert links, fit_id
        assert fit[FITS["evidence"]] == EVIDENCE[links[0]]["marker"], fit_id
    assert len({pair(f) for f in fits.values()}) == len(fits)  # one judgement per pair


def test_every_fit_is_to_a_clause_the_crosswalk_gives_under_the_fits_topic(fits, needs):
    """No clause outside crosswalk.md: the clause of each fit is named, with an evidence level,
    in the crosswalk's table of the topic whose page holds the fit."""
    outside = []
    for fit_id, fit in fits.items():
        topic = int(re.search(r"/t(\d+)-", fit["docname"])[1])
        clause = needs[pair(fit)[1]]
        if crosswalk_level(topic, CODE[clause["part_of"][0]], clause["clause_ref"]) not in EVIDENCE:
            outside.append((fit_id, topic))
    assert outside == []


def test_no_full_fit_to_a_clause_the_crosswalk_has_not_confirmed(fits):
    assert {f[FITS["evidence"]] for f in fits.values()} >= {"[P]", "[S]"}
    assert [i for i, f in fits.items() if f[FITS["evidence"]] in UNCONFIRMED and f[FITS["level"]] == "full"] == []


def test_the_schema_refuses_a_full_fit_the_crosswalk_has_not_confirmed():
    rule = next(r for r in MODEL["needs"]["schema_definitions"]["schemas"] if r["id"] == "fit-evidence")
    assert set(rule["select"]["properties"]["evidence"]["enum"]) == UNCONFIRMED
    assert "full" not in rule["validate"]["local"]["properties"][FITS["level"]]["enum"]


def test_each_reason_is_written_for_its_pair(fits):
    counts = Counter(f[FITS["reason"]] for f in fits.values())
    assert [r for r, n in counts.items() if n > 2] == []


def test_topic_links_are_not_called_mappings():
    """The topic relation says "on the topic of"; "maps to" is a full or partial fit."""
    for link in EVIDENCE:
        declared = MODEL["needs"]["links"][link]
        assert declared["outgoing"].startswith("on the topic of"), link
        assert "maps to" not in declared["outgoing"] + declared["incoming"], link
    assert FITS["maps_to"] == ["full", "partial"]


def table_after(html: str, heading: str, css: str) -> str:
    rest = html.split(heading, 1)[1]
    return rest.split(f'class="{css}', 1)[1].split("</table>", 1)[0]


def test_topic_pages_show_each_fit_with_its_reason_anchored_where_written(site, fits, needs):
    for n, page in topic_pages().items():
        docname = f"requirements/crosswalk/topics/{page.stem}"
        html = site.html(docname + ".html")
        table = html.split('class="kb-crosswalk-fits', 1)[1].split("</table>", 1)[0]
        anchors = set(re.findall(r'<tr[^>]*\bid="(FIT_[A-Z0-9_]+)"', table))
        assert anchors == {i for i, f in fits.items() if f["docname"] == docname}, page.name
        text = plain(table)
        for fit_id in anchors:
            assert plain(fits[fit_id][FITS["reason"]]) in text, fit_id
        assert "Maps to:" in html and "See also (on the topic, no fit):" in html, page.name


def plain(markup: str) -> str:
    """Text without tags and entities, quotes straight (docutils makes them typographic)."""
    text = html.unescape(re.sub(r"<[^>]+>", "", markup))
    return " ".join(text.translate(str.maketrans("\u2018\u2019\u201c\u201d", "''\"\"")).split())


def framework_fits(column: dict, fits: dict, needs: dict) -> tuple[set[str], set[str], list[str]]:
    """(requirements mapped, clauses no maps-to fit reaches, every clause) of one column."""
    clauses = [i for i, c in of_type(needs, "clause").items() if c["part_of"][0] in column["standards"]]
    maps = [f for f in fits.values() if pair(f)[1] in clauses and f[FITS["level"]] in FITS["maps_to"]]
    reached = {pair(f)[1] for f in maps}
    return {pair(f)[0] for f in maps}, set(clauses) - reached, clauses


@pytest.mark.parametrize("column", MODEL["kb"]["crosswalk"]["columns"], ids=lambda c: c["key"])
def test_framework_page_shows_its_coverage_both_ways(site, column, fits, needs):
    html = site.html(column["page"] + ".html")
    mapped, gaps, clauses = framework_fits(column, fits, needs)
    if mapped:
        table = table_after(html, "Requirements that map to it", "kb-crosswalk-requirements")
        assert set(re.findall(r">(REQ_[A-Z0-9_]+)<", table)) == mapped
    if gaps:
        table = table_after(html, "Clauses no requirement reaches", "kb-crosswalk-gaps")
        firsts = {m for m in re.findall(r'<tr[^>]*>\s*<td><p><a[^>]*#(CL_[A-Z0-9_]+)"', table)}
        assert firsts == gaps, column["key"]
    assert f"{len(clauses)} clauses on" in html


def test_coverage_page_counts_every_framework(site, fits, needs):
    html = site.html("requirements/crosswalk/coverage.html")
    table = html.split('class="kb-crosswalk-coverage', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]
    assert len(rows) == len(MODEL["kb"]["crosswalk"]["columns"])
    for column, row in zip(MODEL["kb"]["crosswalk"]["columns"], rows):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        mapped, gaps, clauses = framework_fits(column, fits, needs)
        assert cells[0] == column["label"].replace("&", "&amp;")
        assert cells[1:5] == [str(len(clauses)), str(len(clauses) - len(gaps)), str(len(gaps)), str(len(mapped))]


def test_matrix_shows_only_clauses_with_a_fit(site, fits, needs):
    """A clause named in a matrix cell has a full or partial fit from a requirement of that
    topic; the others are counted as see also."""
    html = site.html("requirements/crosswalk/matrix.html")
    table = html.split("kb-crosswalk-matrix", 1)[1].split("</table>", 1)[0]
    named = set(re.findall(r'#(CL_[A-Z0-9_]+)"', table))
    maps_to = {pair(f)[1] for f in fits.values() if f[FITS["level"]] in FITS["maps_to"]}
    assert named and named <= maps_to
    assert "see also:" in table


def test_matrix_has_every_topic_and_framework(site):
    html = site.html("requirements/crosswalk/matrix.html")
    table = html.split("kb-crosswalk-matrix", 1)[1].split("</table>", 1)[0]
    assert len(re.findall(r"Crosswalk 2\.\d+:", table)) == len(TOPICS)
    for column in MODEL["kb"]["crosswalk"]["columns"]:
        assert column["label"].replace("&", "&amp;") in table


def test_corrections_are_stated(site):
    html = site.html("requirements/crosswalk/corrections.html")
    for phrase in ("VI.B", "supersedes", "Firmware and Software Updates", "29147:2014",
                   "30111:2013", "17.4", "18.8", "DIDT", "Annex G"):
        assert phrase in html, phrase
    assert "18.8" in site.html("requirements/crosswalk/frameworks/mdcg-mdr.html")
    assert "VI.B" in site.html("requirements/crosswalk/frameworks/fda.html")


def test_related_documents_on_the_guideline_page(site):
    source = (ROOT / "guidelines" / "imdrf-n60" / "index.rst").read_text(encoding="utf-8")
    related = source.split("Related documents\n", 1)[1].split("Filtering tags\n", 1)[0]
    for need_id in ("GL_IMDRF_N70", "GL_IMDRF_N73", "STD_FDA_PREMARKET_2025", "STD_MDCG_2019_16",
                    "STD_IEC_81001_5_1_2021", "STD_FDCA_524B", "STD_IEC_62443_4_1_2018",
                    "STD_NIST_CSF_2_0", "STD_ISO_14971_2019", "STD_IEC_62304",
                    "STD_ISO_IEC_29147", "STD_UL_2900_2_1_2017", "STD_MDS2", "STD_HSCC_JSP2_2024"):
        assert f":need:`{need_id}`" in related, need_id
    standards_page = (ROOT / "requirements" / "standards.rst").read_text(encoding="utf-8")
    for url in re.findall(r"<(https://[^>]+)>`__", related):
        assert url in TEXT or url in standards_page, url


def test_no_n70_or_n73_requirement_is_mapped(needs):
    """crosswalk.md's topics are N60's sections; it names N70 only as a pointer it did not read
    (its topic 2.17 "see IMDRF N70 [S]"), so no N70 or N73 requirement carries a mapping: they
    reach the frameworks through their details links to N60's requirements."""
    mapped = [i for i, n in of_type(needs, "req").items() if n["derives_from"] != ["GL_IMDRF_N60"]
              and any(n.get(link) for link in EVIDENCE)]
    assert mapped == []
