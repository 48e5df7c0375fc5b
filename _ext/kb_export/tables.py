"""The tables of the exports, as rows that the XLSX writer and the CSV writer both render: a
sheet per need type, the traceability matrix, the coverage summary, the crosswalk (one row per
mapping, crosswalk.py) and the About sheet. What covers a requirement is the model's rule
(trace.py), passed in, never named here.

Cell text is made safe here, once, so both formats hold the same values: characters XML
cannot hold become U+FFFD, and text that a spreadsheet would run as a formula gets a leading
apostrophe (OWASP ASVS 5.0 V1.2.10, CWE-1236). Lists are one item per line, so a cell of
IDs reads back by splitting lines."""

from __future__ import annotations

import csv
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import crosswalk
from .needs import NeedsFile, is_empty
from .ordering import natural_key
from .trace import Trace, linked_from
from .tree import SOURCE_LINK

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# XML 1.0 cannot hold these; lone surrogates cannot even be written as UTF-8.
UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# The N60 model's sheets, in this order; a type another project does not have gives an
# empty sheet, and each further type of the file gets a sheet of its own after these.
TYPE_SHEETS = [
    ("req", "Requirements", "requirements.csv"),
    ("design", "Design controls", "design-controls.csv"),
    ("test", "Tests", "tests.csv"),
    ("postmarket", "Post-market activities", "post-market-activities.csv"),
    ("standard", "Standards", "standards.csv"),
]
FIRST_COLUMNS = {
    "req": ["section", "digest", "stakeholder", "phase", "strength", "coverage", "rationale"],
    "design": ["control_category"],
    "test": ["method"],
    "postmarket": ["stakeholder", "trigger"],
    "standard": ["publisher", "doc_id", "date", "url"],
    "guideline": ["publisher", "doc_id", "date", "url"],
}
SOURCE_COLUMNS = ["docname", "lineno"]
# The coverage summary's column for the requirements that some need of a covering type covers.
COVERED_BY = {"design": "With design control", "test": "With test", "postmarket": "With post-market activity"}


@dataclass
class Sheet:
    title: str                     # worksheet name, at most 31 characters
    csv_name: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)   # str, int, float or None per cell
    urls: list[str | None] = field(default_factory=list)  # link of each row's first cell
    wide: tuple[str, ...] = ()     # columns holding long text


def text(value: str) -> str:
    value = UNWRITABLE.sub("\ufffd", value)
    # The apostrophe goes before a formula trigger, also one behind apostrophes ("'=x"
    # becomes "''=x"), so that removing one apostrophe (untext) always gives the original.
    if value.lstrip("'").startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def cell(value):
    if value is None or value == [] or value == {}:
        return None
    if isinstance(value, bool):
        return text("true" if value else "false")
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return value
    if isinstance(value, float):  # NaN and infinity, which json.loads accepts
        return text(repr(value))
    if isinstance(value, str):
        return text(value) if value else None
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
        return text("\n".join(str(v) for v in value))
    return text(json.dumps(value, sort_keys=True, ensure_ascii=False))


def untext(value) -> str:
    """The original text of a cell read back from a CSV or XLSX file."""
    value = "" if value is None else str(value)
    guarded = value.startswith("'") and value.lstrip("'").startswith(FORMULA_TRIGGERS)
    return value[1:] if guarded else value


def need_url(need: dict, base_url: str | None) -> str | None:
    if need.get("is_external") and need.get("external_url"):
        return need["external_url"]
    if base_url is None or not need.get("docname"):
        return None
    return f"{base_url}{need['docname']}.html#{need['id']}"


def plan(types: dict[str, str]) -> list[tuple[str, str | None, str, str]]:
    """(kind, need type, sheet title, CSV file name) of every sheet, in workbook order, for
    the need types of a file (type -> title); the site's download list uses it too."""
    known = [("type", t, title, name) for t, title, name in TYPE_SHEETS]
    out = [("about", None, "About", "about.csv"), known[0],
           ("matrix", None, "Traceability matrix", "traceability-matrix.csv"),
           *known[1:], ("summary", None, "Coverage summary", "coverage-summary.csv"),
           ("crosswalk", None, "Crosswalk", "crosswalk.csv"),
           ("framework coverage", None, "Framework coverage", "framework-coverage.csv"),
           ("framework gaps", None, "Framework gaps", "framework-gaps.csv")]
    if CHAIN_START in types:  # a device's security file
        out.append(("submission", None, "Submission traceability", "submission-traceability.csv"))
    titles = {title.lower() for _, _, title, _ in out}
    names = {name for *_, name in out}
    for need_type, type_title in types.items():
        if need_type in {t for t, _, _ in TYPE_SHEETS}:
            continue
        slug = re.sub(r"[^a-z0-9]+", "-", need_type.lower()).strip("-") or "type"
        name, n = f"type-{slug}.csv", 2
        while name in names:
            name, n = f"type-{slug}-{n}.csv", n + 1
        names.add(name)
        out.append(("type", need_type, sheet_title(type_title, titles), name))
    return out


def build(source: NeedsFile, selected: dict[str, dict], base_url: str | None, about: dict,
          markers: dict[str, str] | None = None, trace: Trace | None = None) -> list[Sheet]:
    """Every sheet; ``markers``: mapping link type -> evidence marker (crosswalk.py);
    ``trace``: what covers a requirement (trace.py)."""
    trace = trace or Trace()
    if markers is None:
        markers = crosswalk.mapping_markers(source)
    sheets = []
    for kind, need_type, title, csv_name in plan(source.types(selected)):
        if kind == "about":
            sheets.append(about_sheet(about, title, csv_name))
        elif kind == "matrix":
            sheets.append(matrix_sheet(source, selected, base_url, trace, title, csv_name))
        elif kind == "summary":
            sheets.append(summary_sheet(source, selected, trace, title, csv_name))
        elif kind == "crosswalk":
            sheets.append(crosswalk_sheet(source, selected, markers, base_url, title, csv_name))
        elif kind == "framework coverage":
            sheets.append(framework_coverage_sheet(source, selected, base_url, title, csv_name))
        elif kind == "framework gaps":
            sheets.append(framework_gaps_sheet(source, markers, base_url, title, csv_name))
        elif kind == "submission":
            sheets.append(submission_sheet(source, selected, trace, base_url, title, csv_name))
        else:
            sheets.append(type_sheet(source, selected, need_type, title, csv_name, base_url))
    return sheets


def sheet_title(wanted: str, taken: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique ignoring case."""
    base = re.sub(r"[\[\]:*?/\\]", " ", wanted).strip()[:31] or "Type"
    title, n = base, 2
    while title.lower() in taken:
        title = f"{base[:27]} ({n})"
        n += 1
    taken.add(title.lower())
    return title


def type_sheet(source: NeedsFile, selected: dict[str, dict], need_type: str, title: str,
               csv_name: str, base_url: str | None) -> Sheet:
    needs = [n for n in selected.values() if n["type"] == need_type]
    if need_type == "req":
        needs.sort(key=lambda n: (natural_key(n.get("section") or ""), natural_key(n["id"])))

    def used(name: str) -> bool:
        return any(not is_empty(n.get(name)) for n in needs)

    first = [f for f in FIRST_COLUMNS.get(need_type, []) if used(f)]
    rest = [f for f in source.fields if f not in first and f not in SOURCE_COLUMNS and used(f)]
    links = [l for l in source.link_types if used(l)]
    backlinks = [f"{l}_back" for l in source.link_types if used(f"{l}_back")]
    columns = ["id", "title", *first, *rest, *links, *backlinks,
               *[f for f in SOURCE_COLUMNS if used(f)], "content"]
    sheet = Sheet(title, csv_name, columns, wide=("title", "content", "rationale", "trigger"))
    for need in needs:
        sheet.rows.append([cell(need.get(c)) for c in columns])
        sheet.urls.append(need_url(need, base_url))
    return sheet


def matrix_sheet(source: NeedsFile, selected: dict[str, dict], base_url: str | None, trace: Trace,
                 title: str, csv_name: str) -> Sheet:
    """Requirement -> design control -> test -> post-market activity, one requirement a row.
    Linked items are named even when a filter left them out of the other sheets."""
    columns = ["Requirement", "Title", "Section", "Phase", "Design controls",
               "Tests of the design controls", "Tests of the requirement",
               "Post-market activities", "Post-market activities of the design controls",
               "Coverage", "Rationale", "Suspect links from"]
    sheet = Sheet(title, csv_name, columns, wide=("Title", "Rationale"))
    needs = source.needs
    reqs = sorted((n for n in selected.values() if n["type"] == "req"),
                  key=lambda n: (natural_key(n.get("section") or ""), natural_key(n["id"])))
    covering = trace.covering_of
    for req in reqs:
        designs = covering(req, "design", needs)
        design_tests = sorted({t for d in designs for t in covering(needs[d], "test", needs)}, key=natural_key)
        design_pms = sorted({p for d in designs for p in covering(needs[d], "postmarket", needs)}, key=natural_key)
        sheet.rows.append([cell(v) for v in (
            req["id"], req.get("title"), req.get("section"), req.get("phase"), designs, design_tests,
            covering(req, "test", needs), covering(req, "postmarket", needs), design_pms,
            req.get("coverage"), req.get("rationale"), req.get("suspect_from"))])
        sheet.urls.append(need_url(req, base_url))
    return sheet


def coverage_summary(needs, selected, trace: Trace) -> tuple[list[str], list[list]]:
    """(header, rows) of the coverage per source document and section: requirements by coverage
    state and by covering type, then a row "All". ``needs``: every need by ID (the link targets);
    ``selected``: the needs summarised. A requirement's document is the guideline it derives
    from (two guidelines may number their sections alike). The site's coverage summary shows the
    same table."""
    kinds = [k for k in trace.covering if k in COVERED_BY]
    header = ["Document", "Section", "Requirements", *(s.capitalize() for s in trace.states),
              *(COVERED_BY[k] for k in kinds)]
    keys = ("reqs", *trace.states, *kinds)
    by_section: dict[tuple[str, str], Counter] = {}
    for need in selected.values():
        if need["type"] != "req":
            continue
        document = (need.get(SOURCE_LINK) or [""])[0]
        counts = by_section.setdefault((document, str(need.get("section") or "(none)")), Counter())
        counts["reqs"] += 1
        counts[need.get("coverage")] += 1
        for kind in kinds:
            counts[kind] += bool(trace.covering_of(need, kind, needs))
    rows = []
    total: Counter = Counter()
    for document, section in sorted(by_section, key=lambda key: (natural_key(key[0]), natural_key(key[1]))):
        total.update(by_section[(document, section)])
        rows.append([document, section, *(by_section[(document, section)][k] for k in keys)])
    rows.append(["All", "", *(total[k] for k in keys)])
    return header, rows


def summary_sheet(source: NeedsFile, selected: dict[str, dict], trace: Trace, title: str, csv_name: str) -> Sheet:
    """Per source section, as the coverage summary on the site's traceability page."""
    header, rows = coverage_summary(source.needs, selected, trace)
    sheet = Sheet(title, csv_name, header)
    for row in rows:
        sheet.rows.append([cell(row[0]), cell(row[1]), *row[2:]])
        sheet.urls.append(None)
    return sheet


def crosswalk_sheet(source: NeedsFile, selected: dict[str, dict], markers: dict[str, str],
                    base_url: str | None, title: str, csv_name: str) -> Sheet:
    """One row per mapping link of a selected need to a clause, with its evidence marker; the
    header row alone when the file has no mappings."""
    sheet = Sheet(title, csv_name, list(crosswalk.COLUMNS),
                  wide=("Requirement title", "Framework document", "Clause title", "Reason"))
    for row in crosswalk.rows(source, selected, markers):
        sheet.rows.append([cell(row[c]) for c in sheet.columns])
        sheet.urls.append(need_url(source.needs[row["Requirement"]], base_url))
    return sheet


def framework_coverage_sheet(source: NeedsFile, selected: dict[str, dict], base_url: str | None,
                             title: str, csv_name: str) -> Sheet:
    """Per framework, the selected requirements that a full or partial fit maps to it."""
    sheet = Sheet(title, csv_name, list(crosswalk.COVERAGE_COLUMNS),
                  wide=("Requirement title", "Framework document"))
    for row in crosswalk.coverage_rows(source, selected):
        sheet.rows.append([cell(row[c]) for c in sheet.columns])
        sheet.urls.append(need_url(source.needs[row["Requirement"]], base_url))
    return sheet


def framework_gaps_sheet(source: NeedsFile, markers: dict[str, str], base_url: str | None,
                         title: str, csv_name: str) -> Sheet:
    """The clauses of every framework that no full or partial fit reaches. From the whole
    file: a filter selects requirements, and a gap is a clause no requirement reaches."""
    sheet = Sheet(title, csv_name, list(crosswalk.GAP_COLUMNS), wide=("Framework document", "Clause title"))
    for row in crosswalk.gap_rows(source, markers):
        sheet.rows.append([cell(row[c]) for c in sheet.columns])
        sheet.urls.append(need_url(source.needs[row["Clause"]], base_url))
    return sheet


CHAIN_START = "threat"  # the first type of a device's security file chain


def submission_sheet(source: NeedsFile, selected: dict[str, dict], trace: Trace, base_url: str | None,
                     title: str, csv_name: str) -> Sheet:
    """Threat -> security risk -> control -> test -> IMDRF requirement, one row per path, as a
    premarket submission traces them; a missing step leaves its cells empty (that is a gap),
    so every selected threat has at least one row."""
    columns = ["Threat", "Threat title", "STRIDE", "Security risk", "Exploitability", "Severity",
               "Multi-patient harm", "Risk before", "Risk after", "Acceptability", "Control",
               "Control category", "Test", "Requirement"]
    sheet = Sheet(title, csv_name, columns, wide=("Threat title",))
    needs = source.needs

    def back(need: dict, link: str | None, kind: str) -> list[str]:
        return sorted(linked_from(need, link, kind, needs), key=natural_key)

    threats = sorted((n for n in selected.values() if n["type"] == CHAIN_START), key=lambda n: natural_key(n["id"]))
    for threat in threats:
        risks = back(threat, trace.chain.get(CHAIN_START), "risk") or [None]
        for risk_id in risks:
            risk = needs.get(risk_id, {})
            controls = back(risk, trace.chain.get("risk"), "design") if risk else []
            for control_id in controls or [None]:
                control = needs.get(control_id, {})
                tests = back(control, trace.covering.get("test"), "test") if control else []
                reqs = [r for r in control.get(trace.covering.get("design") or "", []) or [] if r in needs]
                for test_id in tests or [None]:
                    sheet.rows.append([cell(v) for v in (
                        threat["id"], threat.get("title"), threat.get("stride"), risk_id, risk.get("exploitability"),
                        risk.get("severity"), risk.get("multi_patient"), risk.get("risk_before"), risk.get("risk_after"),
                        risk.get("acceptability"), control_id, control.get("control_category"), test_id, reqs)])
                    sheet.urls.append(need_url(threat, base_url))
    return sheet


def about_sheet(about: dict, title: str, csv_name: str) -> Sheet:
    """What the export is: the nested facts of the manifest, one row each."""
    sheet = Sheet(title, csv_name, ["Item", "Value"], wide=("Value",))

    def add(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                add(f"{prefix}: {key}" if prefix else str(key), inner)
        else:
            sheet.rows.append([cell(prefix), cell(value)])
            sheet.urls.append(None)

    add("", about)
    return sheet


def write_csv(sheet: Sheet, path: Path) -> None:
    """RFC 4180: CRLF between records, fields with a comma, quote or line break quoted."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow([text(c) for c in sheet.columns])
        writer.writerows([("" if v is None else v) for v in row] for row in sheet.rows)
