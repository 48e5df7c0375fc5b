"""The built site: warning-free, needs.json complete, model page generated from the model."""

import re
import tomllib

from conftest import ROOT, of_type

MODEL = tomllib.loads((ROOT / "ubproject.toml").read_text(encoding="utf-8"))


def test_build_is_warning_free(site):
    assert not re.search(r"WARNING|ERROR", site.output), site.output[-4000:]


def test_needs_json_holds_every_type_of_the_site(site, needs):
    """The site's own types ([kb.site]); the types of a device's security file are declared for
    device projects and have no need here."""
    assert (site.outdir / "needs.json").is_file()
    assert {n["type"] for n in needs.values()} == {*MODEL["kb"]["site"]["types"], MODEL["kb"]["crosswalk"]["fits"]["type"]}
    assert set(MODEL["kb"]["site"]["types"]) < set(MODEL["needs"]["types"])


def test_needs_json_has_no_timestamps(site):
    data = site.needs_json
    assert "created" not in data and "created" not in data["versions"][data["current_version"]]


def test_every_id_matches_the_scheme(needs):
    regex = re.compile(MODEL["needs"]["id_regex"])
    assert [i for i in needs if not regex.match(i)] == []


def test_model_page_is_generated_from_the_model(site):
    page = site.html("requirements/model.html").replace("\u2018", "'").replace("\u2019", "'")
    for name, decl in MODEL["needs"]["types"].items():
        assert f"<code class=\"docutils literal notranslate\"><span class=\"pre\">{name}</span></code>" in page
        assert decl["title"] in page
    for tag in MODEL["kb"]["tags"]:
        assert f"<span class=\"pre\">{tag}</span>" in page
    for rule in MODEL["needs"]["schema_definitions"]["schemas"]:
        assert rule["message"] in page


def test_contributing_guide_is_a_myst_page(site):
    assert (ROOT / "guide" / "contributing.md").is_file()
    assert "Add a requirement" in site.html("guide/contributing.html")


def test_guideline_need_fields(needs):
    gl = of_type(needs, "guideline")["GL_IMDRF_N60"]
    assert gl["doc_id"] == "IMDRF/CYBER WG/N60FINAL:2020"
    assert gl["url"].startswith("https://www.imdrf.org/")
