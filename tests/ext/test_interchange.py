"""The interchange (_ext/kb/publish/interchange.py): the site publishes its needs.json and the model to
declare at interchange/v1/, a project that declares only that model imports the needs in a
strict build, and what version 1 has published stays published."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
import textwrap
import tomllib

import pytest

from conftest import FIXTURES, ROOT, sphinx_build

from kb.publish.toml_writer import TomlError, dumps

MODEL = tomllib.loads((ROOT / "ubproject.toml").read_text(encoding="utf-8"))
SNAPSHOT = json.loads((ROOT / "tests" / "data" / "interchange-v1.json").read_text(encoding="utf-8"))
PUBLISHED_IDS = (ROOT / "tests" / "data" / "interchange-v1-ids.txt").read_text(encoding="utf-8").split()


@pytest.fixture(scope="session")
def interchange(site):
    return site.outdir / "interchange" / "v1"


@pytest.fixture(scope="session")
def published(interchange) -> dict:
    return tomllib.loads((interchange / "ubproject.toml").read_text(encoding="utf-8"))


def enum(schema: dict | None) -> list[str]:
    schema = schema or {}
    return list(schema.get("enum") or (schema.get("items") or {}).get("enum") or [])


def test_files_are_published_with_checksums(site, interchange):
    assert sorted(p.name for p in interchange.iterdir()) == ["SHA256SUMS", "needs.json", "ubproject.toml"]
    assert (interchange / "needs.json").read_bytes() == (site.outdir / "needs.json").read_bytes()
    for line in (interchange / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256((interchange / name).read_bytes()).hexdigest() == digest, name


def test_model_is_the_sites_declarations(published, interchange):
    assert {k: published["needs"][k] for k in ("types", "links", "fields")} == \
        {k: MODEL["needs"][k] for k in ("types", "links", "fields")}
    assert set(published["needs"]) == {"types", "links", "fields"}, "layouts and checks are the site's policy"
    assert published["kb"] == {"tags": MODEL["kb"]["tags"], "coverage": MODEL["kb"]["coverage"]}
    meta = published["interchange"]
    assert meta["version"] == MODEL["kb"]["interchange"]["version"]
    assert meta["needs_json_sha256"] == hashlib.sha256((interchange / "needs.json").read_bytes()).hexdigest()
    assert meta["covering_links"] == {"design": "implements", "test": "verifies", "postmarket": "maintains"}
    assert set(meta["project_relative"]) <= set(MODEL["needs"]["fields"])


def test_model_declares_every_type_link_and_field_of_needs_json(published, interchange):
    document = json.loads((interchange / "needs.json").read_text(encoding="utf-8"))
    block = document["versions"][document["current_version"]]
    assert {n["type"] for n in block["needs"].values()} <= set(published["needs"]["types"])
    schema = block["needs_schema"]["properties"]
    links = {k for k, p in schema.items() if p.get("field_type") == "links"}
    extras = {k for k, p in schema.items() if p.get("field_type") == "extra"}
    # the rest are sphinx-needs' own (links, parent_needs; completion, duration), which every
    # project has: the consumer build below shows that nothing else needs declaring
    assert links - set(published["needs"]["links"]) == {"links", "parent_needs"}
    assert extras - set(published["needs"]["fields"]) == {"completion", "duration"}


def consumer(tmp_path, interchange, *, with_model: bool):
    src = tmp_path / "consumer"
    shutil.copytree(FIXTURES / "interchange-consumer", src)
    model = f"needs_from_toml = {str(interchange / 'ubproject.toml')!r}\n" if with_model else ""
    (src / "conf.py").write_text(textwrap.dedent(f"""\
        project = "consumer"
        extensions = ["sphinx_needs"]
        needs_build_json = True
        needs_external_needs = [{{"json_path": {str(interchange / 'needs.json')!r},
                                  "base_url": "https://kb.example.org"}}]
        """) + model, encoding="utf-8")
    return sphinx_build(src, tmp_path / "html")


def test_project_declaring_only_the_published_model_imports_in_a_strict_build(tmp_path, interchange):
    build = consumer(tmp_path, interchange, with_model=True)
    assert build.returncode == 0, build.output[-4000:]
    assert build.needs["DC_CONSUMER_01"]["implements"] == ["REQ_N60_5_1_T1_SC3"]
    assert "REQ_N60_5_5_2_09" in build.html("index.html")  # an imported requirement in a table


def test_without_the_model_the_strict_build_fails(tmp_path, interchange):
    build = consumer(tmp_path, interchange, with_model=False)
    assert build.returncode != 0
    assert "Unknown keys in external need source" in build.output
    assert "could not be added: Unknown need type 'standard'" in build.output


def test_nothing_published_in_version_1_disappears(published, interchange):
    """Within a major version names are only added (guide/exports.md, "Interchange")."""
    now = {
        "types": sorted(published["needs"]["types"]),
        "links": sorted(published["needs"]["links"]),
        "fields": sorted(published["needs"]["fields"]),
        "vocabularies": {k: sorted(enum(v.get("schema"))) for k, v in sorted(published["needs"]["fields"].items())
                         if enum(v.get("schema"))},
    }
    removed = {k: sorted(set(SNAPSHOT[k]) - set(now[k])) for k in ("types", "links", "fields")}
    removed["vocabularies"] = {f: sorted(set(v) - set(now["vocabularies"].get(f, []))) for f, v in
                               SNAPSHOT["vocabularies"].items() if set(v) - set(now["vocabularies"].get(f, []))}
    assert not any(removed.values()), (
        f"removed from interchange v1: {removed}. Consumers of v1 rely on these names: keep them, "
        f"or publish a new major version (guide/exports.md, 'Interchange')")
    added = {k: sorted(set(now[k]) - set(SNAPSHOT[k])) for k in ("types", "links", "fields")}
    added["vocabularies"] = {f: sorted(set(v) - set(SNAPSHOT["vocabularies"].get(f, []))) for f, v in
                             now["vocabularies"].items() if set(v) - set(SNAPSHOT["vocabularies"].get(f, []))}
    assert not any(added.values()), (
        f"added to the interchange: {added}. Raise [kb.interchange] version (minor), announce it in "
        f"CHANGELOG.md, and record the names and the version in tests/data/interchange-v1.json")
    assert SNAPSHOT["version"] == published["interchange"]["version"], \
        "record the new version in tests/data/interchange-v1.json"
    document = json.loads((interchange / "needs.json").read_text(encoding="utf-8"))
    ids = set(document["versions"][document["current_version"]]["needs"])
    assert [i for i in PUBLISHED_IDS if i not in ids] == [], "published IDs never disappear"


def test_changelog_announces_the_published_version(published):
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    interchange_part = changelog.split("## Interchange", 1)[1]
    versions = re.findall(r"^### Interchange (\d+\.\d+)", interchange_part, re.M)
    assert versions and versions[0] == published["interchange"]["version"], \
        "the newest entry of CHANGELOG.md's Interchange section is the published version"


def test_model_page_links_the_interchange_files(site):
    page = site.html("requirements/model.html")
    for name in ("needs.json", "ubproject.toml", "SHA256SUMS"):
        assert f'href="../interchange/v1/{name}"' in page


@pytest.mark.parametrize("value", [
    "plain", 'quote " and backslash \\ and \\d', "line\nbreak\ttab", "del \x7f and bell \x07",
    "unicode: \u00e9\u2013\u00a7\U0001F489", "",
])
def test_toml_writer_reads_back(value):
    document = {"a": {"b.c": {"text": value, "list": [value, "x"], "flag": True, "n": 3},
                      "schema": {"type": "string", "enum": [value] * 12}}}
    assert tomllib.loads(dumps(document, inline=frozenset({"schema"}))) == document


@pytest.mark.parametrize("value", [1.5, None, {1, 2}])
def test_toml_writer_refuses_what_it_cannot_write(value):
    with pytest.raises(TomlError):
        dumps({"key": value})
