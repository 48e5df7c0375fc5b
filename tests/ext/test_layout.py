"""The kb layouts: kb_fields (_ext/kb/build/layout.py) shows what sphinx-needs' meta_all shows."""

import re
import tomllib

from conftest import ROOT, build_fixture

LAYOUTS = tomllib.loads((ROOT / "ubproject.toml").read_text(encoding="utf-8"))["needs"]["layouts"]


def reference_layouts() -> str:
    """The kb layouts with meta_all(no_links=True, ...) in place of kb_fields(...)."""
    out = []
    for name, ref in (("kb", "meta_all_reference"), ("kb_guideline", "meta_all_reference_guideline")):
        layout = LAYOUTS[name]["layout"]
        meta = [line.replace("<<kb_fields(", "<<meta_all(no_links=True, ") for line in layout["meta"]]
        assert meta != layout["meta"], "the kb layouts use kb_fields"
        out += [f"[needs.layouts.{ref}]", 'grid = "simple"', f"[needs.layouts.{ref}.layout]",
                f"head = {layout['head']!r}", f"meta = {meta!r}", ""]
    return "\n".join(out)


def meta_rows(html: str) -> dict[str, str]:
    """The meta row of every need box on a page, by need ID (links made page-relative)."""
    rows = {}
    # the meta row comes last in a kb box (after the chain's own table), first in the reference
    for start in re.finditer(r'<table class="[^"]*needs_type_[^"]*" id="([A-Z_0-9]+)">', html):
        need_id = start.group(1)
        meta = re.compile(r'<tr class="need meta[^"]*">(.*?)</tr>', re.S).search(html, start.end()).group(1)
        rows[need_id] = re.sub(r"SNCB-[0-9a-f]{8}", "", meta).replace('href="index.html#', 'href="#')
    return rows


def test_kb_fields_renders_what_meta_all_renders(tmp_path):
    build = build_fixture("layout", tmp_path, model_extra=reference_layouts())
    assert build.returncode == 0, build.output
    ours, reference = meta_rows(build.html("index.html")), meta_rows(build.html("reference.html"))
    assert set(ours) == set(reference) == set(build.needs)
    for need_id in ours:
        assert ours[need_id] == reference[need_id], need_id
    assert "rationale: " in ours["REQ_FIXTURE_02"] and "is implemented by" in ours["REQ_FIXTURE_01"]
