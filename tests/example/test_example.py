"""The example device project (examples/device-template): it builds strictly from the site's
interchange, its gap analysis is what the two needs.json files imply, its export carries the
analysis, and its mistakes stop the build with messages that say where.

The gap analysis is recomputed here from the files alone: the knowledge base's needs.json
(which requirements exist, their phases, the scope filter) and the example's needs.json (the
device's own needs and their outgoing links), with the coverage rule of the site's
ubproject.toml. It is then compared with the three tables of the gap-analysis page, its
summary, the requirements in the example's needs.json and the audit export."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

import openpyxl
import pytest

from conftest import FIXTURES, ROOT, Build, run_exporter, sphinx_build

from kb_export.filter import select

EXAMPLE = ROOT / "examples" / "device-template"
EXAMPLE_MODEL = tomllib.loads((EXAMPLE / "ubproject.toml").read_text(encoding="utf-8"))
SCOPE = EXAMPLE_MODEL["device"]["gap_analysis"]["scope"]
COVERAGE = tomllib.loads((ROOT / "ubproject.toml").read_text(encoding="utf-8"))["kb"]["coverage"]
LINK_OF = {"design": "implements", "test": "verifies", "postmarket": "maintains"}
SECTIONS = {"covered": "covered", "not-covered": "gap", "not-applicable": "justified"}


@pytest.fixture(scope="session")
def interchange(site) -> Path:
    return site.outdir / "interchange" / "v1"


def build_example(src: Path, out: Path, interchange: Path, *extra: str) -> Build:
    return sphinx_build(src, out, "-E", "-D", f"imdrf_interchange={interchange}", *extra)


def example_copy(tmp_path: Path, fixture: str | None = None) -> Path:
    """A copy of the template, as a manufacturer starts from it (with the knowledge base's
    kb_shared and kb_export copied into its _ext/), with a fixture page added."""
    src = tmp_path / "device"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("_build", "__pycache__"))
    for package in ("kb_shared", "kb_export"):
        shutil.copytree(ROOT / "_ext" / package, src / "_ext" / package, ignore=shutil.ignore_patterns("__pycache__"))
    if fixture:
        shutil.copytree(FIXTURES / fixture, src, dirs_exist_ok=True)
    return src


@pytest.fixture(scope="session")
def example(interchange) -> Build:
    build = build_example(EXAMPLE, ROOT / "_build" / "test" / "example" / "html", interchange)
    assert build.returncode == 0, f"the example does not build:\n{build.output[-6000:]}"
    return build


def needs_of(path: Path) -> dict[str, dict]:
    document = json.loads(path.read_text(encoding="utf-8"))
    return document["versions"][document["current_version"]]["needs"]


@pytest.fixture(scope="session")
def expected(interchange, example) -> dict[str, str]:
    """Requirement ID -> covered / gap / justified, from the two needs.json files."""
    kb = needs_of(interchange / "needs.json")
    device = {i: n for i, n in example.needs.items() if not n["is_external"]}
    covering, decided = defaultdict(set), defaultdict(set)
    for need_id, need in device.items():
        if need["type"] in LINK_OF:
            for target in need[LINK_OF[need["type"]]]:
                covering[(target, need["type"])].add(need_id)
        if need["type"] == "applicability":
            for target in need["scopes_out"]:
                decided[target].add(need_id)
    states = {}
    for req_id, req in select(kb, f"type == 'req' and ({SCOPE})").items():
        kinds = {COVERAGE[p] for p in req["phase"] if p in COVERAGE}
        have = {k for k in LINK_OF if covering[(req_id, k)]}
        covered = kinds <= have if kinds else bool(have)
        states[req_id] = "justified" if decided[req_id] else "covered" if covered else "gap"
    return states


def page_tables(example: Build) -> dict[str, set[str]]:
    html = example.html("gap-analysis.html")
    out = {}
    for section_id, state in SECTIONS.items():
        part = html.split(f'<section id="{section_id}">', 1)[1].split("</section>", 1)[0]
        out[state] = set(re.findall(r'<tr class="need[^"]*" data-need-id="([^"]+)"', part))
    return out


def test_example_builds_warning_free(example):
    assert not re.search(r"WARNING|ERROR", example.output), example.output[-4000:]


def test_gap_analysis_page_equals_what_the_two_needs_json_files_imply(example, expected):
    tables = page_tables(example)
    for state in SECTIONS.values():
        assert tables[state] == {i for i, s in expected.items() if s == state}, state
    assert all(tables.values()), "the example shows requirements in every state"


def test_gap_summary_counts_the_same(example, expected):
    html = example.html("gap-analysis.html")
    table = html.split("device-gap-summary", 1)[1].split("</table>", 1)[0]
    rows = [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
            for r in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)]
    counts = Counter(expected.values())
    assert next(r for r in rows if r and r[0] == "All")[1:] == \
        [str(len(expected)), str(counts["covered"]), str(counts["gap"]), str(counts["justified"])]


def test_needs_json_describes_the_requirements_for_this_device(example, expected):
    reqs = {i: n for i, n in example.needs.items() if n["type"] == "req"}
    assert set(reqs) == set(expected), "the analysed requirements, and no other"
    for req_id, req in reqs.items():
        assert req["is_external"] and req["external_url"].endswith(f".html#{req_id}")
        assert req["coverage"] == expected[req_id], req_id
        decisions = req["scopes_out_back"]
        assert bool(req["rationale"]) == (expected[req_id] == "justified")
        assert all(req["rationale"].count(f"{d}: ") == 1 for d in decisions)
        assert bool(req["missing"]) == (expected[req_id] == "gap")
        # only the device's own items link here; the knowledge base's examples are not imported
        assert all(i.startswith("LVP_") for link in ("implements", "verifies", "maintains")
                   for i in req[f"{link}_back"]), req_id
        # the knowledge base's counts of its own examples are left out of this project's file
        assert "design_count" not in req and "suspect_from" in req and req["suspect_from"] is None


def test_the_device_file_is_complete(example):
    own = {i: n for i, n in example.needs.items() if not n["is_external"]}
    kinds = Counter(n["type"] for n in own.values())
    assert kinds["design"] >= 25 and kinds["test"] >= 20 and kinds["postmarket"] >= 10 and kinds["applicability"] >= 3
    regex = re.compile(EXAMPLE_MODEL["needs"]["id_regex"])
    assert [i for i in own if not regex.match(i)] == []
    assert [i for i, n in own.items() if n["type"] == "design" and not n["verifies_back"]] == []
    # written by hand; components and vulnerabilities are read from the SBOM and VEX files
    for need in (n for n in own.values() if n["type"] not in ("component", "vulnerability")):
        least = 10 if need["type"] in ("asset", "interface") else 25
        assert len(need["content"].split()) >= least, f"{need['id']}: say specifically what is done"
    for decision in (n for n in own.values() if n["type"] == "applicability"):
        assert decision["basis"] and decision["decided_by"] and decision["revisit_when"]
        assert len(decision["rationale"]) >= 40


def test_export_carries_the_gap_analysis(tmp_path, example, expected, interchange):
    out = tmp_path / "export"
    model = interchange / "ubproject.toml"
    proc = run_exporter(str(example.outdir / "needs.json"), "-o", str(out), "--model", str(model),
                        "--base-url", "../html/", "--no-sbom")
    assert proc.returncode == 0, proc.stderr
    with open(out / "requirements.csv", encoding="utf-8", newline="") as f:
        rows = {r["id"]: r for r in csv.DictReader(f)}
    assert {i: r["coverage"] for i, r in rows.items()} == expected
    assert all(r["external_url"].endswith(f"#{i}") for i, r in rows.items())
    with open(out / "coverage-summary.csv", encoding="utf-8", newline="") as f:
        summary = {r["Document"] if r["Document"] == "All" else (r["Document"], r["Section"]): r
                   for r in csv.DictReader(f)}
    counts = Counter(expected.values())
    assert [summary["All"][k] for k in ("Requirements", "Covered", "Justified", "Gap")] == \
        [str(len(expected)), str(counts["covered"]), str(counts["justified"]), str(counts["gap"])]
    assert (out / "type-applicability.csv").is_file()


def test_link_to_a_missing_imdrf_id_names_file_line_need_and_id(tmp_path, interchange):
    src = example_copy(tmp_path, "device-bad-id")
    build = build_example(src, tmp_path / "html", interchange)
    assert build.returncode != 0
    page = src / "bad-link.rst"
    line = page.read_text(encoding="utf-8").splitlines().index(
        ".. design:: Rate limiting of login attempts on the pump server") + 1
    assert (f"{page}:{line}: WARNING: Need 'LVP_DC_FIXTURE_01' has unknown outgoing link "
            f"'REQ_N60_5_1_T1_UA9' in field 'implements'") in build.output, build.output[-3000:]
    assert "REQ_N60_5_1_T1_UA9 is neither a need of this project nor an ID of the IMDRF knowledge base" in build.output
    assert "closest existing IDs: REQ_N60_5_1_T1_UA1" in build.output
    assert len(re.findall(r"WARNING|ERROR", build.output)) == 1, "the bad link is the only problem"


def test_contradictory_and_out_of_scope_decisions_fail_at_the_decision(tmp_path, interchange):
    src = example_copy(tmp_path, "device-bad-decision")
    build = build_example(src, tmp_path / "html", interchange)
    assert build.returncode != 0
    page = src / "bad-decision.rst"
    line = page.read_text(encoding="utf-8").splitlines().index(
        ".. applicability:: Data in transit needs no protection") + 1
    assert re.search(rf"{re.escape(str(page))}:{line}: WARNING: LVP_AD_FIXTURE_01 declares REQ_N60_5_1_T1_SC3 "
                     rf"not applicable, but this device covers it with LVP_DC_\w+", build.output), build.output[-3000:]
    assert (f"{page}:{line}: WARNING: LVP_AD_FIXTURE_01 declares REQ_N60_2_03 not applicable, but "
            f"REQ_N60_2_03 is outside the gap analysis") in build.output


def test_changing_a_published_declaration_is_refused(tmp_path, interchange):
    src = example_copy(tmp_path)
    with open(src / "ubproject.toml", "a", encoding="utf-8") as f:
        f.write('\n[needs.links.implements]\ntarget_types = ["req", "design"]\n')
    build = build_example(src, tmp_path / "html", interchange)
    assert build.returncode != 0
    assert (f"{src / 'ubproject.toml'}: [needs.links.implements] target_types = ['req', 'design'] changes "
            f"what the IMDRF knowledge base publishes in {interchange / 'ubproject.toml'}") in build.output


def test_missing_interchange_stops_with_one_clear_message(tmp_path):
    build = build_example(example_copy(tmp_path), tmp_path / "html", tmp_path / "no-such-dir")
    assert build.returncode != 0
    assert f"imdrf_interchange: {tmp_path / 'no-such-dir' / 'ubproject.toml'} does not exist. Build the " \
           "knowledge base first" in build.output


def test_gap_analysis_lists_n70_requirements_in_every_state(example, expected):
    """The scope takes in N70's duties of manufacturers: the page lists them as covered (the LV-7's
    life-cycle plan, component support tracking, support-status page, handover package), not
    covered, and not applicable (patient communication), as needs.json implies."""
    n70 = {i: s for i, s in expected.items() if i.startswith("REQ_N70_")}
    assert set(n70.values()) == {"covered", "gap", "justified"}
    tables = page_tables(example)
    for req_id, state in n70.items():
        assert req_id in tables[state], (req_id, state)
    assert {"REQ_N70_7_1_1_05", "REQ_N70_8_1_1_02", "REQ_N70_8_3_1_01"} <= {i for i, s in n70.items() if s == "covered"}


@pytest.mark.parametrize("fixture, message", [
    ("device-bad-sbom-json", r"sbom/lv7\.cdx\.json: \$: not valid JSON: Expecting ',' delimiter at line 4 column 3"),
    ("device-bad-vex-schema", r"sbom/lv7\.vex\.cdx\.json: \$\.vulnerabilities\[0\]\.analysis\.state: does not follow "
                              r"the CycloneDX 1\.6 schema: 'maybe' is not one of"),
    ("device-vex-unknown-component", r"sbom/lv7\.vex\.cdx\.json: \$\.vulnerabilities\[0\]\.affects\[0\]\.ref: names "
                                     r"'libfoo-9\.9', which is no component of sbom/lv7\.cdx\.json \(CORVANE-FIXTURE-0001\)"),
])
def test_bad_sbom_or_vex_stops_the_build_naming_file_path_and_id(tmp_path, interchange, fixture, message):
    src = example_copy(tmp_path, fixture)
    build = build_example(src, tmp_path / "html", interchange)
    assert build.returncode != 0
    assert re.search(re.escape(str(src / "sbom.rst")) + r":\d+: WARNING: " + re.escape(str(src)) + "/" + message,
                     build.output), build.output[-3000:]


def test_sbom_components_and_vulnerabilities_come_from_the_files(example):
    import json as json_module
    sbom = json_module.loads((EXAMPLE / "sbom" / "lv7.cdx.json").read_text(encoding="utf-8"))
    vex = json_module.loads((EXAMPLE / "sbom" / "lv7.vex.cdx.json").read_text(encoding="utf-8"))
    components = {i: n for i, n in example.needs.items() if n["type"] == "component"}
    vulnerabilities = {i: n for i, n in example.needs.items() if n["type"] == "vulnerability"}
    assert len(sbom["components"]) >= 30 and len(components) == len(sbom["components"])
    assert {n["purl"] for n in components.values()} == {c["purl"] for c in sbom["components"]}
    assert {n["vuln_id"] for n in vulnerabilities.values()} == {v["id"] for v in vex["vulnerabilities"]}
    states = {"not_affected": "not_affected", "exploitable": "affected", "resolved": "fixed", "in_triage": "under_investigation"}
    for v in vex["vulnerabilities"]:
        need = next(n for n in vulnerabilities.values() if n["vuln_id"] == v["id"])
        assert need["vex_status"] == states[v["analysis"]["state"]]
        assert len(need["affects"]) == len(v["affects"])
    end = EXAMPLE_MODEL["device"]["sbom"]["device_end_of_support"]
    flagged = {i for i, n in components.items() if "legacy-devices" in n["tags"]}
    assert flagged and flagged == {i for i, n in components.items() if n["eos_date"] < end}
    page = example.html("sbom.html")
    assert all(i in page.split("Support status and end-of-support timeline", 1)[0] for i in flagged)


# ---------------------------------------------------------------------- the security file
# threat -> security risk -> control -> test, and vulnerability -> security risk, read back from
# the device's needs.json and its audit export.

ABOVE_ACCEPTANCE = ("medium", "high")


def own(needs: dict, kind: str) -> dict[str, dict]:
    return {i: n for i, n in needs.items() if n["type"] == kind and not n["is_external"]}


def sources(need: dict, link: str, kind: str, needs: dict) -> list[str]:
    return [i for i in need.get(f"{link}_back") or [] if i in needs and needs[i]["type"] == kind]


@pytest.fixture(scope="module")
def exported(tmp_path_factory, example, interchange):
    out = tmp_path_factory.mktemp("device-export") / "export"
    proc = run_exporter(str(example.outdir / "needs.json"), "-o", str(out), "--model",
                        str(interchange / "ubproject.toml"), "--base-url", "../html/", "--no-sbom",
                        "--attach", str(EXAMPLE / "sbom" / "lv7.cdx.json"),
                        "--attach", str(EXAMPLE / "sbom" / "lv7.vex.cdx.json"))
    assert proc.returncode == 0, proc.stderr
    return out


def test_the_threat_model_covers_every_interface(example):
    needs = example.needs
    threats, interfaces = own(needs, "threat"), own(needs, "interface")
    assert len(threats) >= 25 and len(interfaces) >= 8 and own(needs, "asset")
    targeted = {t for n in threats.values() for t in n["targets"]}
    assert set(interfaces) <= targeted, f"interfaces no threat targets: {sorted(set(interfaces) - targeted)}"
    assert all(n["stride"] and n["attack_vector"] for n in threats.values())


def test_every_risk_above_acceptance_reaches_a_test(example):
    needs = example.needs
    risks = own(needs, "risk")
    assert {n["risk_before"] for n in risks.values()} >= {"medium", "high"}
    for risk_id, risk in risks.items():
        if risk["risk_before"] not in ABOVE_ACCEPTANCE:
            continue
        controls = sources(risk, "mitigates", "design", needs)
        assert controls, f"{risk_id} is above acceptance and no control mitigates it"
        assert all(sources(needs[c], "verifies", "test", needs) for c in controls), risk_id
    unacceptable = [n for n in risks.values() if n["acceptability"] == "unacceptable"]
    assert all(n["benefit_risk"] for n in unacceptable)


def test_every_threat_has_its_risk_and_every_affected_vulnerability_is_rated(example):
    needs = example.needs
    assert all(sources(t, "assesses", "risk", needs) for t in own(needs, "threat").values())
    for vuln_id, vuln in own(needs, "vulnerability").items():
        if vuln["vex_status"] == "affected":
            assert sources(vuln, "rates", "risk", needs), vuln_id


def test_every_gap_the_analysis_reports_is_real(example):
    """missing, recomputed from needs.json: a chain need lacks exactly what the page says."""
    needs = example.needs
    limit = EXAMPLE_MODEL["device"]["sbom"]["investigation_days"]
    reported = {i: n["missing"] for i, n in needs.items() if not n["is_external"]
                and n["type"] in ("threat", "risk", "design", "vulnerability", "component") and n["missing"]}
    for need_id, lacks in reported.items():
        need = needs[need_id]
        for lack in lacks:
            if lack.startswith("a security risk that assesses"):
                assert not sources(need, "assesses", "risk", needs)
            elif lack.startswith("a control that mitigates"):
                assert need["risk_before"] in ABOVE_ACCEPTANCE and not sources(need, "mitigates", "design", needs)
            elif lack.startswith("a test that verifies"):
                assert not sources(need, "verifies", "test", needs)
            elif lack.startswith("a security risk that rates"):
                assert need["vex_status"] == "affected" and not sources(need, "rates", "risk", needs)
            elif lack.startswith("an assessment: under investigation for"):
                days = int(lack.split(" for ", 1)[1].split(" ", 1)[0])
                assert need["vex_status"] == "under_investigation" and days > limit
            else:
                pytest.fail(f"{need_id}: unknown gap {lack!r}")
    page = example.html("gap-analysis.html").split("Gaps in the security file", 1)[1]
    assert all(need_id in page for need_id in reported)


def test_export_has_the_sheets_and_walks_the_chain(exported, example):
    needs = example.needs
    book = openpyxl.load_workbook(exported / "traceability.xlsx", read_only=True)
    assert {"Threat", "Security risk", "SBOM component", "Vulnerability", "Submission traceability"} <= set(book.sheetnames)
    with open(exported / "submission-traceability.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["Threat"] for r in rows} == set(own(needs, "threat"))
    for row in rows:
        if row["Security risk"]:
            assert row["Security risk"] in sources(needs[row["Threat"]], "assesses", "risk", needs)
        if row["Control"]:
            assert row["Control"] in sources(needs[row["Security risk"]], "mitigates", "design", needs)
            assert set(filter(None, row["Requirement"].split("\n"))) == set(needs[row["Control"]]["implements"])
        if row["Test"]:
            assert row["Test"] in sources(needs[row["Control"]], "verifies", "test", needs)
    above = {i for i, n in own(needs, "risk").items() if n["risk_before"] in ABOVE_ACCEPTANCE}
    assert above <= {r["Security risk"] for r in rows if r["Test"]}


def test_sbom_and_vex_travel_in_the_bundle(exported):
    sums = dict(reversed(line.split("  ", 1)) for line in (exported / "SHA256SUMS").read_text().splitlines())
    for name in ("lv7.cdx.json", "lv7.vex.cdx.json"):
        assert (exported / name).read_bytes() == (EXAMPLE / "sbom" / name).read_bytes()
        assert sums[name] == hashlib.sha256((exported / name).read_bytes()).hexdigest()
    about = dict(csv.reader(open(exported / "about.csv", encoding="utf-8", newline="")))
    assert about["attached files"] == "lv7.cdx.json, lv7.vex.cdx.json"


def test_counts_are_those_of_the_files(example):
    counts = Counter(n["type"] for n in example.needs.values() if not n["is_external"])
    assert counts["component"] >= 30 and counts["vulnerability"] >= 5
    assert ROOT.is_dir()


@pytest.mark.parametrize("fixture, message", [
    ("device-bad-risk-unscored", "WARNING: Need 'LVP_RK_FIXTURE_01' could not be created: Field 'exploitability' is not nullable"),
    ("device-bad-risk-unjustified", "ERROR: Need 'LVP_RK_FIXTURE_02' has schema violations:"),
    ("device-bad-vulnerability-unrated", "ERROR: Need 'LVP_VX_FIXTURE_02' has schema violations:"),
    ("device-bad-component-unsupported", "WARNING: Need 'LVP_SC_FIXTURE_01' could not be created: Field 'support_level' is not nullable"),
])
def test_incomplete_security_file_need_stops_the_build_naming_file_line_and_need(tmp_path, interchange, fixture, message):
    """Each rule of the security file has its fixture: a risk without scores, an unacceptable
    residual risk without a benefit-risk justification, an affected vulnerability that no risk
    rates, a component without support data."""
    src = example_copy(tmp_path, fixture)
    build = build_example(src, tmp_path / "html", interchange)
    assert build.returncode != 0
    page = src / "bad.rst"
    line = next(n for n, text in enumerate(page.read_text(encoding="utf-8").splitlines(), 1) if text.startswith(".. "))
    assert f"{page}:{line}: {message}" in build.output, build.output[-3000:]
    rules = {"device-bad-risk-unjustified": "risk-residual-justified",
             "device-bad-vulnerability-unrated": "vulnerability-affected-rated"}
    if fixture in rules:
        assert f"Schema path:    {rules[fixture]}" in build.output



def test_the_device_template_gets_its_own_report(example, tmp_path):
    """make pdf: the device's pages ([kb.report] of its model) as its own audit report, with a
    bookmark for each page (tests/export/test_report_pdf.py reads the site's report)."""
    import subprocess
    import sys

    from pypdf import PdfReader

    model = ROOT / "examples" / "device-template" / "ubproject.toml"
    device = tomllib.loads(model.read_text(encoding="utf-8"))["kb"]["report"]
    out = tmp_path / "device.pdf"
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "report-pdf"), str(example.outdir),
                           "--model", str(model), "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    reader = PdfReader(out)
    top = [" ".join(item.title.split()) for item in reader.outline if not isinstance(item, list)]
    assert top[0] == " ".join(device["title"].split())
    assert len(top) == 1 + len(device["pages"]) + len(device["wide"])
    text = "".join(page.extract_text() for page in reader.pages).replace("\n", "")
    assert "LVP_DC_" in text and "REQ_N60_" in text
    assert reader.pages[-1].mediabox.width > reader.pages[-1].mediabox.height  # wide pages last
