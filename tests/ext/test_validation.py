"""Schema validation of changed needs only (kb.build.validation): a build that failed on a
schema rule fails again, with the same messages and the same schema_violations.json, when
nothing changed and nothing was validated again; validating every need gives the same; a
fixed need passes."""

import json
import re

from conftest import build_fixture, sphinx_build

SUMMARY = re.compile(r"Schema validation completed with (\d+) warning\(s\) .*?\((\d+) changed")


def schema_messages(output: str) -> list[str]:
    """Each schema finding as reported: from its location to its type."""
    return re.findall(r"\S+: (?:ERROR|WARNING): Need '.*?\[sn_schema[^\]]*\]", output, re.S)


def summary(output: str) -> tuple[int, int]:
    found = SUMMARY.search(output)
    assert found, output[-3000:]
    return int(found[1]), int(found[2])


def test_unchanged_needs_keep_their_findings(tmp_path):
    first = build_fixture("bad-id-prefix", tmp_path)
    assert first.returncode != 0
    messages = schema_messages(first.output)
    assert any("the ID of a req starts with REQ_" in m for m in messages), first.output[-3000:]
    report = (first.outdir / "schema_violations.json").read_text()
    assert "DC_FIXTURE_01" in json.loads(report)["validation_warnings"]
    assert summary(first.output)[1] == 2  # a new environment: the guideline and the req

    again = sphinx_build(first.srcdir, first.outdir)
    assert again.returncode != 0, "a build with nothing changed must fail as the last one did"
    assert summary(again.output) == (summary(first.output)[0], 0)
    assert schema_messages(again.output) == messages
    assert (again.outdir / "schema_violations.json").read_text() == report

    every = sphinx_build(first.srcdir, first.outdir, "-D", "kb_validate_all=1")
    assert every.returncode != 0
    assert schema_messages(every.output) == messages
    assert (every.outdir / "schema_violations.json").read_text() == report

    index = first.srcdir / "index.rst"
    index.write_text(index.read_text().replace("DC_FIXTURE_01", "REQ_FIXTURE_01"))
    fixed = sphinx_build(first.srcdir, first.outdir)
    assert fixed.returncode == 0, fixed.output[-3000:]
    warnings, changed = summary(fixed.output)
    assert warnings == 0 and 1 <= changed < 3
    assert json.loads((fixed.outdir / "schema_violations.json").read_text())["validation_warnings"] == {}


def test_a_schema_looks_at_the_needs_of_the_types_its_select_names():
    """types_selected: the types a select can match where properties.type names them (const,
    enum, both); None where it may match any need: no select, no type in it, or a type schema
    with more than const and enum. The site's rules give each kind."""
    import tomllib

    from conftest import ROOT
    from kb.build.validation import types_selected

    def select(type_spec):
        return {"select": {"properties": {"type": type_spec, "phase": {"type": "array"}}, "required": ["id"]}}

    assert types_selected(select({"type": "string", "const": "req"})) == {"req"}
    assert types_selected(select({"type": "string", "enum": ["req", "design", 3]})) == {"req", "design"}
    assert types_selected(select({"type": "string", "enum": ["req", "design"], "const": "design"})) == {"design"}
    assert types_selected(select({"type": "string", "const": "req", "pattern": "^r"})) is None
    assert types_selected(select({"type": "array", "const": "req"})) is None
    assert types_selected({"select": {"properties": {"phase": {"type": "array"}}}}) is None
    assert types_selected({"validate": {"local": {}}}) is None

    model = tomllib.loads((ROOT / "ubproject.toml").read_text(encoding="utf-8"))
    selected = {schema["id"]: types_selected(schema) for schema in model["needs"]["schema_definitions"]["schemas"]}
    assert selected["id-prefix-req"] == {"req"}
    assert selected["statement"] == {"guideline", "req", "design", "test", "postmarket", "standard"}
    assert None in selected.values(), "a rule selecting by phase alone looks at every need"
