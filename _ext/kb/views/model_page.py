"""The model page (``.. kb-model::``): the information model's tables, rendered from the same
ubproject.toml sphinx-needs reads (through the model accessor), so the page can never
disagree with the build."""

from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from ..model import Model, model_of


def _enum(schema: dict | None) -> list[str]:
    if not schema:
        return []
    return list(schema.get("enum") or schema.get("items", {}).get("enum") or [])


def _schema_text(schema: dict | None) -> str:
    if not schema:
        return ""
    parts = []
    if values := _enum(schema):
        parts.append("one of " if schema.get("type") != "array" else "list of ")
        parts[-1] += ", ".join(f"``{v}``" for v in values)
    elif "pattern" in schema:
        parts.append(f"matches ``{schema['pattern']}``")
    elif schema.get("type"):
        parts.append(schema["type"])
    return "; ".join(parts)


def _text(plain: str) -> str:
    """Plain text as reStructuredText: "REQ_" would be a link, "*" emphasis."""
    return re.sub(r"([\\`*_|])", r"\\\1", plain)


def model_rst(model: Model) -> list[str]:
    needs = model.needs
    types, links, fields = needs["types"], needs.get("links", {}), needs.get("fields", {})
    out: list[str] = []

    def table(title: str, header: list[str], rows: list[list[str]], widths: str = "auto") -> None:
        out.extend([f".. list-table:: {title}", "   :header-rows: 1", f"   :widths: {widths}", ""])
        for row in [header, *rows]:
            out.append(f"   * - {row[0] or ' '}")
            out.extend(f"     - {cell or ' '}" for cell in row[1:])
        out.append("")

    def required_of(type_name: str) -> tuple[list[str], list[str]]:
        decl = types[type_name]
        req_fields = [
            f"``{name}``" for name, d in decl.get("fields", {}).items() if d.get("nullable") is False
        ]
        req_links = []
        for name, d in decl.get("links", {}).items():
            s = d.get("schema", {})
            n = f"``{name}``"
            if s.get("maxItems") == 1 and s.get("minItems") == 1:
                n += " (exactly one)"
            elif s.get("minItems"):
                n += f" (at least {s['minItems']})"
            req_links.append(n)
        return req_fields, req_links

    rows = []
    for name, decl in types.items():
        req_fields, req_links = required_of(name)
        rows.append([f"``{name}``", decl["title"], f"``{decl['prefix']}``",
                     ", ".join(req_fields), ", ".join(req_links)])
    table("Need types", ["Directive", "Is", "ID prefix", "Required fields", "Required links"], rows)

    rows = [[f"``{name}``", d.get("description", ""), f"{d.get('outgoing', name)} / {d.get('incoming', '')}",
             ", ".join(f"``{t}``" for t in d.get("target_types", []))]
            for name, d in links.items()]
    table("Link types", ["Option", "Meaning", "Shown as (outgoing / incoming)", "May point to"], rows)

    rows = []
    for name, d in fields.items():
        if name == "tags":
            continue
        kind = "derived from links" if "derive" in d else _schema_text(d.get("schema"))
        rows.append([f"``{name}``", d.get("description", ""), kind])
    table("Fields", ["Option", "Meaning", "Values"], rows, "20 50 30")

    rows = [[f"``{tag}``", meaning] for tag, meaning in model.tag_meanings.items()]
    table("Tags (controlled vocabulary)", ["Tag", "Meaning"], rows, "20 80")

    fixes = model.fixes
    rows = [[f"``{s.get('id', '')}``", _text(s.get("message", "")), _text(fixes.get(s.get("id"), ""))]
            for s in model.schema_rules]
    table("Checks the build enforces besides field values and link targets",
          ["Rule", "What it demands", "How to fix a need that fails it"], rows, "20 40 40")
    return out


class ModelDirective(SphinxDirective):
    """``.. kb-model::`` renders the information model tables from ubproject.toml."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        path = Path(self.env.app.confdir) / "ubproject.toml"
        self.env.note_dependency(str(path))
        container = nodes.container(classes=["kb-model"])
        lines = model_rst(model_of(self.env.app.confdir))
        self.state.nested_parse(StringList(lines, source=str(path)), self.content_offset, container)
        return [container]


class IdSchemeDirective(SphinxDirective):
    """``.. kb-id-regex::`` shows the ID regex sphinx-needs enforces."""

    def run(self) -> list[nodes.Node]:
        regex = model_of(self.env.app.confdir).id_regex
        return [nodes.literal_block(regex, regex)]


def setup(app: Sphinx) -> dict:
    app.add_directive("kb-model", ModelDirective)
    app.add_directive("kb-id-regex", IdSchemeDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
