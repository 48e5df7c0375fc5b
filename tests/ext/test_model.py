"""The information model in ubproject.toml: every key is one sphinx-needs reads, and the
site's own tables agree with it (sphinx-needs ignores unknown [needs] keys silently)."""

import tomllib
import pytest
from sphinx_needs import config as sn_config
from sphinx_needs.schema import config as schema_config

from conftest import ROOT, build_fixture

MODEL = tomllib.loads((ROOT / "ubproject.toml").read_text(encoding="utf-8"))
NEEDS = MODEL["needs"]


def keys_of(typed_dict) -> set[str]:
    return set(typed_dict.__required_keys__) | set(typed_dict.__optional_keys__)


def test_every_needs_key_is_known_to_sphinx_needs():
    allowed = sn_config.NeedsSphinxConfig.field_names()
    assert set(NEEDS) - allowed == set()


@pytest.mark.parametrize("name", sorted(NEEDS["types"]))
def test_need_type_keys(name):
    decl = NEEDS["types"][name]
    allowed = keys_of(sn_config.NeedType) - {"directive"}
    assert set(decl) - allowed == set()
    for field, fdecl in decl.get("fields", {}).items():
        assert field in NEEDS["fields"], f"type {name} narrows undeclared field {field}"
        assert set(fdecl) - keys_of(sn_config.NeedTypeFieldDeclaration) == set()
    for link, ldecl in decl.get("links", {}).items():
        assert link in NEEDS["links"], f"type {name} narrows undeclared link {link}"
        assert set(ldecl) - keys_of(sn_config.NeedTypeLinkDeclaration) == set()


@pytest.mark.parametrize("name", sorted(MODEL["needs"]["fields"]))
def test_field_keys(name):
    assert set(NEEDS["fields"][name]) - keys_of(sn_config.NeedFields) == set()


@pytest.mark.parametrize("name", sorted(MODEL["needs"]["links"]))
def test_link_keys(name):
    decl = NEEDS["links"][name]
    assert set(decl) - keys_of(sn_config.NeedLinksConfig) == set()
    assert set(decl["target_types"]) <= set(NEEDS["types"])


def test_schema_rules_are_valid():
    for rule in NEEDS["schema_definitions"]["schemas"]:
        schema_config.validate_schemas_root_type({"idx": 0, "severity": "violation", **rule})


def test_tag_meanings_match_vocabulary():
    vocabulary = NEEDS["fields"]["tags"]["schema"]["items"]["enum"]
    assert len(vocabulary) == len(set(vocabulary))
    assert set(vocabulary) == set(MODEL["kb"]["tags"])


def test_coverage_table_matches_schema_rules():
    """[kb.coverage] (what pages report) and the coverage-* schema rules (what the build
    enforces) state the same phase -> covering type mapping."""
    count_field_of_type = {}
    for name, field in NEEDS["fields"].items():
        derive = field.get("derive", {})
        if derive.get("kind") == "count":
            covering_type = derive["where"].split("'")[1]
            count_field_of_type[covering_type] = name
    enforced = {}
    for rule in NEEDS["schema_definitions"]["schemas"]:
        if rule["id"].startswith("coverage-"):
            phase = rule["select"]["properties"]["phase"]["contains"]["const"]
            (count_field,) = rule["validate"]["local"]["required"]
            enforced[phase] = count_field
    reported = {phase: count_field_of_type[kind] for phase, kind in MODEL["kb"]["coverage"].items()}
    assert enforced == reported


def test_markdown_need_is_built_like_rst(tmp_path):
    build = build_fixture("markdown-need", tmp_path)
    assert build.returncode == 0, build.output
    need = build.needs["REQ_MD_FIXTURE_01"]
    assert need["doctype"] == ".md"
    assert need["stakeholder"] == ["manufacturer"]
    assert need["derives_from"] == ["GL_MD_FIXTURE"]
    assert "<strong>Markdown</strong>" in build.html("index.html")
