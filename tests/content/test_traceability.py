"""Traceability: coverage per phase, tested design controls, volumes, and the pages report
what needs.json implies."""

import re
import tomllib
from collections import Counter

import pytest

from conftest import ROOT, build_fixture, of_type

COVERAGE = tomllib.loads((ROOT / "ubproject.toml").read_text(encoding="utf-8"))["kb"]["coverage"]
BACK = {"design": "implements_back", "test": "verifies_back", "postmarket": "maintains_back"}


def expected_state(need, needs) -> str:
    """Coverage recomputed from needs.json alone."""
    def has(kind):
        return any(needs[i]["type"] == kind for i in need[BACK[kind]])
    kinds = {COVERAGE[p] for p in need["phase"] if p in COVERAGE}
    covered = all(has(k) for k in kinds) if kinds else any(has(k) for k in BACK)
    return "covered" if covered else ("justified" if need["rationale"] else "gap")


def test_every_req_is_covered_or_justified(needs):
    states = {i: expected_state(n, needs) for i, n in of_type(needs, "req").items()}
    assert [i for i, s in states.items() if s == "gap"] == []


def test_reported_coverage_equals_computed(needs):
    for i, need in of_type(needs, "req").items():
        assert need["coverage"] == expected_state(need, needs), i


def test_every_design_control_has_a_test(needs):
    untested = [i for i, n in of_type(needs, "design").items()
                if not any(needs[t]["type"] == "test" for t in n["verifies_back"])]
    assert untested == []


def test_rationales_are_few_and_real(needs):
    justified = [n for n in of_type(needs, "req").values() if n["coverage"] == "justified"]
    assert len(justified) <= 40
    assert all(len(n["rationale"]) >= 20 for n in justified)


def test_volumes(needs):
    counts = Counter(n["type"] for n in needs.values())
    assert counts["design"] >= 40 and counts["test"] >= 40 and counts["postmarket"] >= 20


@pytest.mark.parametrize("kind", ["design", "test", "postmarket"])
def test_no_repeated_items(needs, kind):
    items = of_type(needs, kind).values()
    titles = [n["title"].strip().lower() for n in items]
    assert len(titles) == len(set(titles))
    bodies = [" ".join(n["content"].split()).lower() for n in items]
    assert len(bodies) == len(set(bodies))
    assert all(len(b.split()) >= 25 for b in bodies), "items must say specifically what is done"


def test_postmarket_activities_have_owner_and_trigger(needs):
    for n in of_type(needs, "postmarket").values():
        assert n["stakeholder"] and n["trigger"]


def test_healthcare_providers_own_activities(needs):
    owners = Counter(s for n in of_type(needs, "postmarket").values() for s in n["stakeholder"])
    assert owners["healthcare-provider"] >= 8


def test_coverage_summary_equals_needs_json(site, needs):
    html = site.html("requirements/traceability/index.html")
    table = html.split('kb-coverage-summary')[1].split("</table>")[0]
    rows = [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
            for r in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)]
    all_row = next(r for r in rows if r and r[0] == "All")
    reqs = of_type(needs, "req").values()
    states = Counter(expected_state(n, needs) for n in reqs)
    assert all_row[2:6] == [str(len(reqs)), str(states["covered"]), str(states["justified"]), str(states["gap"])]
    documents = {r[0] for r in rows if r and r[0] != "All"}
    assert documents == {d for n in reqs for d in n["derives_from"]}  # sections are counted per document


def test_matrix_lists_every_requirement_with_its_links(site, needs):
    html = site.html("requirements/traceability/matrix.html")
    for i, need in of_type(needs, "req").items():
        assert f'>{i}<' in html or f'"{i}"' in html, i
        for dc in need["implements_back"]:
            assert dc in html


def test_need_pages_show_links_by_name(site):
    html = site.html("requirements/verification/design-principles.html")
    assert "verifies" in html
    html = site.html("requirements/design-controls/design-principles.html")
    assert "implements" in html and "is verified by" in html


def test_uncovered_requirement_fails_the_build_naming_it(tmp_path):
    build = build_fixture("uncovered-req", tmp_path)
    assert build.returncode != 0
    assert "index.rst:13: ERROR: Need 'REQ_FIXTURE_UNCOVERED'" in build.output
    assert "coverage-design" in build.output and "fix: link a design control" in build.output
    assert "DC_FIXTURE_UNTESTED" in build.output and "design-verified" in build.output
    assert "Need 'REQ_FIXTURE_JUSTIFIED' has schema violations" not in build.output


def test_changed_requirement_flags_its_links_until_reviewed(tmp_path):
    """Editing a requirement after its links were reviewed marks them suspect; recording the
    review with tools/review-links clears the flag."""
    import shutil
    import subprocess
    import sys

    first = build_fixture("suspect-link", tmp_path / "a")
    assert first.returncode == 0, first.output
    assert first.needs["REQ_FIXTURE_CHANGING"]["suspect_from"] == ["DC_FIXTURE_01"]  # never reviewed

    src = first.srcdir
    (src / "requirements").mkdir()
    shutil.copytree(ROOT / "tools", src / "tools")
    subprocess.run([sys.executable, str(src / "tools" / "review-links"), str(first.outdir / "needs.json")],
                   check=True, capture_output=True, cwd=src)
    reviewed = build_fixture_again(src, tmp_path / "b")
    assert reviewed.needs["REQ_FIXTURE_CHANGING"]["suspect_from"] is None
    assert reviewed.needs["DC_FIXTURE_01"]["suspect_links"] is None

    page = src / "index.rst"
    page.write_text(page.read_text().replace("Original statement", "Changed statement"))
    changed = build_fixture_again(src, tmp_path / "c")
    assert changed.needs["REQ_FIXTURE_CHANGING"]["suspect_from"] == ["DC_FIXTURE_01"]
    assert changed.needs["DC_FIXTURE_01"]["suspect_links"] == ["REQ_FIXTURE_CHANGING"]
    assert changed.needs["VT_FIXTURE_01"]["suspect_links"] is None  # the design did not change


def build_fixture_again(src, out):
    from conftest import sphinx_build
    build = sphinx_build(src, out, "-E")
    assert build.returncode == 0, build.output
    return build
