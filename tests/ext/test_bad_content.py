"""Bad content gets a clear error: each fixture under tests/fixtures/bad-* has exactly one flaw,
and its build fails with exactly one message that names the file and line, the need, what is
wrong, and how to fix it ("fix: ..."), as _ext/kb/quality/messages.py completes sphinx-needs' messages
from [kb.fix] in ubproject.toml."""

from __future__ import annotations

import os
import re
import string
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from conftest import FIXTURES, ROOT, build_fixture

MODEL = tomllib.loads((ROOT / "ubproject.toml").read_text(encoding="utf-8"))
# "<path>:<line>: WARNING|ERROR: <message>", then the message's indented lines
PROBLEM = re.compile(
    r"^(?P<path>\S+):(?P<line>\d+): (?:WARNING|ERROR): (?P<text>.*(?:\n  .*)*)", re.M)


@dataclass(frozen=True)
class Case:
    fixture: str
    where: str  # file:line, relative to the fixture project
    need: str
    problem: tuple[str, ...]  # what the message says is wrong
    fix: str  # the start of the hint


CASES = [
    Case("bad-duplicate-id", "index.rst:28", "REQ_FIXTURE_01",
         ("A need with ID 'REQ_FIXTURE_01' already exists (defined at index.rst:15)",),
         "give one of the two needs a new ID"),
    Case("bad-dead-link", "index.rst:15", "REQ_FIXTURE_01",
         ("unknown outgoing link 'GL_MISSING' in field 'derives_from'",),
         "correct 'GL_MISSING' in :derives_from: to the ID of an existing need"),
    Case("bad-wrong-link-type", "index.rst:28", "VT_FIXTURE_01",
         ("link 'GL_FIXTURE' in field 'verifies': target need type 'guideline' is not one of "
          "'design' or 'req'",),
         "name only a design or req in :verifies:"),
    Case("bad-missing-field", "index.rst:15", "REQ_FIXTURE_01",
         ("Field 'section' is not nullable, but no value or default was given",),
         "add :section: to the need: section of the source document"),
    Case("bad-markdown-missing-field", "index.md:15", "REQ_FIXTURE_MD_01",
         ("Field 'strength' is not nullable",),
         "add :strength: to the need: modal strength as worded in the source"),
    Case("bad-stakeholder", "index.rst:15", "REQ_FIXTURE_01",
         ("Field:          stakeholder", '"patient" is not one of'),
         "give :stakeholder: values of: manufacturer, healthcare-provider, user, regulator, "
         "vulnerability-finder, other"),
    Case("bad-phase", "index.rst:15", "REQ_FIXTURE_01",
         ("Field:          phase", '"maintenance" is not one of'),
         "give :phase: values of: design, manufacturing, verification, submission, post-market, "
         "end-of-support"),
    Case("bad-strength", "index.rst:15", "REQ_FIXTURE_01",
         ("Field:          strength", '"shall" is not one of'),
         "give :strength: one of: must, should, may, informative"),
    Case("bad-tag", "index.rst:15", "REQ_FIXTURE_01",
         ("Field:          tags", '"securty-testing" is not one of'),
         "give :tags: values of: cybersecurity, patient-safety,"),
    Case("bad-id", "index.rst:15", "REQ_fixture-01",
         ("Given ID 'REQ_fixture-01' does not match configured regex",),
         "use an ID such as REQ_FIXTURE_01: the type's prefix REQ_"),
    Case("bad-id-prefix", "index.rst:15", "DC_FIXTURE_01",
         ("the ID of a req starts with REQ_", '"DC_FIXTURE_01" does not match "^REQ_"'),
         "start the ID with REQ_, the prefix of its type, e.g. REQ_FIXTURE_01"),
    Case("bad-no-derives-from", "index.rst:15", "REQ_FIXTURE_01",
         ("Field:          derives_from", "[] has less than 1 item"),
         "give :derives_from: exactly one guideline ID (the guideline a requirement comes from)"),
    Case("bad-no-implements", "index.rst:28", "DC_FIXTURE_01",
         ("Field:          implements", "[] has less than 1 item"),
         "give :implements: at least one req ID (the requirements a design control implements)"),
    Case("bad-fit-not-on-topic", "index.rst:44", "FIT_FIXTURE_01_TO_FIXTURE_1_1",
         ("judges REQ_FIXTURE_01 against CL_FIXTURE_1_1, but no topic link of the crosswalk joins them",),
         "judge only a pair the crosswalk's topic tables link"),
    Case("bad-fit-full-unverified", "index.rst:45", "FIT_FIXTURE_01_TO_FIXTURE_1_1",
         ("cannot be full", '"full" is not one of'),
         "make the fit partial or related"),
    Case("bad-fit-level", "index.rst:45", "FIT_FIXTURE_01_TO_FIXTURE_1_1",
         ("has the fit level 'complete', which is not one of full, partial, related",),
         "give the fit level full"),
    Case("bad-empty-statement", "index.rst:15", "REQ_FIXTURE_01",
         ("every need needs a statement", '"content" is a required property'),
         "write the statement as the directive's content"),
]


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict:
    """Every fixture of CASES, built side by side (each thread waits on its own sphinx-build)."""
    names = [case.fixture for case in CASES]
    # the directories made here: pytest makes its base directory on first use, which
    # threads would race for
    directories = [tmp_path_factory.mktemp(name) for name in names]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        done = pool.map(build_fixture, names, directories)
        return dict(zip(names, done))


def problems(output: str) -> list[re.Match]:
    return list(PROBLEM.finditer(output))


@pytest.mark.parametrize("case", CASES, ids=[c.fixture for c in CASES])
def test_bad_content_fails_with_a_located_message_and_a_fix(builds, case):
    build = builds[case.fixture]
    assert build.returncode != 0, f"{case.fixture} built without error:\n{build.output[-3000:]}"
    found = problems(build.output)
    assert len(found) == 1, "expected exactly one problem:\n" + "\n".join(m[0] for m in found)
    (problem,) = found
    file, line = case.where.split(":")
    assert (problem["path"], problem["line"]) == (str(build.srcdir / file), line), problem[0]
    text = problem["text"]
    assert text.startswith(f"Need '{case.need}' "), text
    for words in case.problem:
        assert words in text
    assert f"\n  fix: {case.fix}" in text


def test_every_fixture_is_a_case():
    """A bad-* fixture that no case reads would prove nothing."""
    on_disk = {p.name for p in FIXTURES.glob("bad-*")}
    assert on_disk == {case.fixture for case in CASES}


def test_problem_parser_reads_a_located_message():
    """The parser the cases rely on: one message with its indented lines, none in plain text."""
    output = ("reading sources... done\n/x/index.rst:7: ERROR: Need 'A' has schema violations:\n"
              "  Field:  tags\n  fix: do it [sn_schema_violation.field_fail]\nbuild finished\n")
    (match,) = problems(output)
    assert (match["path"], match["line"]) == ("/x/index.rst", "7")
    assert match["text"].endswith("fix: do it [sn_schema_violation.field_fail]")
    assert problems("build succeeded.\n") == []


def test_every_schema_rule_has_a_fix():
    """Under the rule's id, or the id without its last part (id-prefix for id-prefix-req)."""
    fixes = set(MODEL["kb"]["fix"])
    rules = [rule["id"] for rule in MODEL["needs"]["schema_definitions"]["schemas"]]
    assert [r for r in rules if r not in fixes and r.rpartition("-")[0] not in fixes] == []


def test_id_prefix_rules_match_the_types():
    """One id-prefix rule per need type of the site ([kb.site]), demanding that type's prefix
    from [needs.types]; the types declared for device projects follow their project's IDs."""
    demanded = {}
    for rule in MODEL["needs"]["schema_definitions"]["schemas"]:
        if rule["id"].startswith("id-prefix-"):
            need_type = rule["select"]["properties"]["type"]["const"]
            demanded[need_type] = rule["validate"]["local"]["properties"]["id"]["pattern"]
    site_types = [*MODEL["kb"]["site"]["types"], MODEL["kb"]["crosswalk"]["fits"]["type"]]
    assert demanded == {name: "^" + MODEL["needs"]["types"][name]["prefix"] for name in site_types}


def test_fix_hints_use_only_placeholders_kb_checks_fills():
    """kb.quality.messages leaves an unknown placeholder empty rather than failing the build: a typo in
    a hint would go unnoticed but for this test."""
    filled = {"field", "allowed", "targets", "count", "description", "target", "suggestion", "prefix"}
    for key, hint in MODEL["kb"]["fix"].items():
        used = {name for _, name, _, _ in string.Formatter().parse(hint) if name}
        assert used <= filled, key


def test_model_page_says_how_to_fix_each_rule(site):
    page = site.html("requirements/model.html").replace("\u2019", "'")
    fixes = MODEL["kb"]["fix"]
    for rule in MODEL["needs"]["schema_definitions"]["schemas"]:
        if rule["id"] in fixes:
            assert fixes[rule["id"]] in page, rule["id"]


def test_every_kind_of_problem_has_a_fix():
    from kb.compat import MESSAGE_KINDS as KINDS

    assert {key for _, _, key in KINDS if key} - set(MODEL["kb"]["fix"]) == set()
