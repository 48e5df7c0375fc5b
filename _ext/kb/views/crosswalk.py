"""The crosswalk between N60 and other frameworks, rendered from the mapping links themselves.

The mappings are data in one place only: the ``needextend`` blocks of the topic pages
(``[kb.crosswalk] topics`` in ubproject.toml), one block per row of the crosswalk's tables,
each appending ``maps_*`` links (one link type per evidence level, ``[kb.evidence]``) to the
requirements its filter selects. This module reads those blocks back, with the requirements
each one extended, and renders:

* ``.. kb-crosswalk-topic::`` on a topic page: the requirements it applies to and, per
  framework, the clauses with their evidence level;
* ``.. kb-crosswalk-matrix::``: topics x frameworks;
* ``.. kb-crosswalk-framework:: <column>``: the topics and requirements one framework maps
  to, and the topics where the crosswalk finds it silent;
* ``.. kb-crosswalk-legend::``: the evidence levels.

``.. kb-crosswalk-cell:: <column>`` (``:status: silent | unmapped | note``, content: a plain
text note) records, on a topic page, what the crosswalk says where a row maps no clause
(``silent``: its "—"; ``unmapped``: only leads without a verified clause number), or a remark
on a mapped row (``note``)."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from kb_export.ordering import natural_key
from kb_shared.tables import table as _table
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx_needs.api import get_needs_view

from .. import compat
from ..model import model_of

logger = logging.getLogger(__name__)

STATUSES = ("silent", "unmapped", "note")
STATUS_TEXT = {"silent": "—", "unmapped": "leads only"}


def settings(confdir) -> tuple[dict, dict]:
    model = model_of(confdir)
    return model.crosswalk, model.evidence


def topic_number(docname: str) -> str:
    """Topic pages are named tNN-...: crosswalk section 2.NN."""
    match = re.search(r"/t(\d+)-[^/]*$", docname)
    return f"2.{int(match.group(1))}" if match else docname


class crosswalk_view(nodes.General, nodes.Element):
    """Placeholder, filled in once every need and every needextend is known."""


def _cells(env) -> dict[str, list[dict]]:
    if not hasattr(env, "kb_crosswalk_cells"):
        env.kb_crosswalk_cells = {}
    return env.kb_crosswalk_cells


class CellDirective(SphinxDirective):
    required_arguments = 1
    has_content = True
    option_spec = {"status": lambda arg: directives.choice(arg, STATUSES)}

    def run(self) -> list[nodes.Node]:
        crosswalk, _ = settings(self.env.app.confdir)
        keys = [c["key"] for c in crosswalk["columns"]]
        column = self.arguments[0]
        status = self.options.get("status", "note")
        note = " ".join(" ".join(self.content).split())
        if column not in keys:
            logger.warning(f"kb-crosswalk-cell: unknown column {column!r}; use one of {keys}",
                           location=self.get_location())
        elif status == "note" and not note:
            logger.warning("kb-crosswalk-cell: a note needs text", location=self.get_location())
        else:
            _cells(self.env).setdefault(self.env.docname, []).append(
                {"column": column, "status": status, "note": note, "lineno": self.lineno})
        return []


class _View(SphinxDirective):
    kind = ""
    optional_arguments = 1

    def run(self) -> list[nodes.Node]:
        crosswalk, _ = settings(self.env.app.confdir)
        if self.kind == "framework":
            keys = [c["key"] for c in crosswalk["columns"]]
            if not self.arguments or self.arguments[0] not in keys:
                logger.warning(f"kb-crosswalk-framework: give one of {keys}",
                               location=self.get_location())
                return []
        if self.kind in ("matrix", "framework"):
            topics = Path(self.env.srcdir) / crosswalk["topics"]
            for path in sorted(topics.glob("*.rst")):
                self.env.note_dependency(str(path))
        node = crosswalk_view(kind=self.kind, column=self.arguments[0] if self.arguments else "")
        self.set_source_info(node)
        return [node]


class TopicDirective(_View):
    kind = "topic"


class MatrixDirective(_View):
    kind = "matrix"


class FrameworkDirective(_View):
    kind = "framework"


class LegendDirective(_View):
    kind = "legend"


# ---------------------------------------------------------------------- the data


class Crosswalk:
    """The mappings as the topic pages' needextend blocks and cell notes state them."""

    def __init__(self, app: Sphinx) -> None:
        self.config, self.evidence = settings(app.confdir)
        self.columns = self.config["columns"]
        self.short = self.config.get("short", {})
        prefix = self.config["topics"]
        self.needs = get_needs_view(app)
        blocks: dict[tuple[str, int], list[tuple[str, str]]] = {}
        for extend in compat.extends(app.env):
            if not extend["docname"].startswith(prefix):
                continue
            maps = []
            for name, _etype, value in extend["list_modifications"]:
                if name in self.evidence:
                    maps.extend((target, name) for target in compat.extend_link_ids(value))
            blocks[(extend["docname"], extend["lineno"])] = maps
        cells = {d: c for d, c in _cells(app.env).items() if d.startswith(prefix)}
        self.topics = sorted({d for d, _ in blocks} | set(cells))
        self.topic_reqs: dict[str, set[str]] = defaultdict(set)
        for need in self.needs.values():
            for docname, lineno in compat.modified_at(need):
                if (docname, lineno) in blocks:
                    self.topic_reqs[docname].add(need["id"])
        self.topic_maps: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for (docname, _lineno), maps in sorted(blocks.items()):
            for pair in maps:
                if pair not in self.topic_maps[docname] and pair[0] in self.needs:
                    self.topic_maps[docname].append(pair)
        self.cells = cells
        self.column_of_standard = {s: c["key"] for c in self.columns for s in c["standards"]}
        self.standard_order = [s for c in self.columns for s in c["standards"]]
        self.titles = {d: app.env.titles[d].astext() if d in app.env.titles else d for d in self.topics}

    def column_of(self, clause_id: str) -> str | None:
        part_of = self.needs[clause_id]["part_of"]
        return self.column_of_standard.get(part_of[0]) if part_of else None

    def column(self, key: str) -> dict:
        return next(c for c in self.columns if c["key"] == key)

    def maps_in(self, topic: str, column: str) -> list[tuple[str, str]]:
        return [(c, l) for c, l in self.topic_maps[topic] if self.column_of(c) == column]

    def notes_in(self, topic: str, column: str) -> list[dict]:
        return [c for c in self.cells.get(topic, []) if c["column"] == column]

    def label(self, clause_id: str, with_title: bool = False) -> str:
        need = self.needs[clause_id]
        text = need["clause_ref"]
        if with_title and need["clause_title"] and need["clause_title"] not in need["clause_ref"]:
            text += f" {need['clause_title']}"
        return text

    def marker(self, link: str) -> str:
        return self.evidence[link]["marker"]


# ---------------------------------------------------------------------- rendering


def _ref(app: Sphinx, fromdocname: str, need, text: str) -> nodes.reference:
    uri = app.builder.get_relative_uri(fromdocname, need["docname"]) + "#" + need["id"]
    return nodes.reference("", text, refuri=uri, internal=True)


def _doc_ref(app: Sphinx, fromdocname: str, docname: str, text: str) -> nodes.reference:
    return nodes.reference("", text, refuri=app.builder.get_relative_uri(fromdocname, docname),
                           internal=True)


def _clause_list(app, cw: Crosswalk, docname: str, maps, with_title: bool, multi: bool) -> nodes.container:
    """The clauses grouped by document and evidence level (in the order of the columns and of
    [kb.evidence]): one line per group, "<document> <marker>: clause; clause"."""
    groups: dict[tuple[str, str], list[str]] = {}
    for clause_id, link in maps:
        standard = (cw.needs[clause_id]["part_of"] or [""])[0]
        groups.setdefault((standard, link), []).append(clause_id)
    box = nodes.container(classes=["kb-crosswalk-clauses"])
    links = list(cw.evidence)
    order = sorted(groups, key=lambda g: (cw.standard_order.index(g[0]) if g[0] in cw.standard_order
                                          else len(cw.standard_order), links.index(g[1])))
    for standard, link in order:
        clause_ids = groups[(standard, link)]
        para = nodes.paragraph()
        prefix = f"{cw.short[standard]} " if multi and standard in cw.short else ""
        para += nodes.strong(text=f"{prefix}{cw.marker(link)}")
        para += nodes.Text(": ")
        for i, clause_id in enumerate(clause_ids):
            if i:
                para += nodes.Text("; ")
            para += _ref(app, docname, cw.needs[clause_id], cw.label(clause_id, with_title))
        box += para
    return box


def _req_list(app, cw: Crosswalk, docname: str, ids) -> nodes.paragraph:
    para = nodes.paragraph()
    for i, need_id in enumerate(sorted(ids, key=natural_key)):
        if i:
            para += nodes.Text(", ")
        para += _ref(app, docname, cw.needs[need_id], need_id)
    return para


def _cell(app, cw: Crosswalk, docname: str, topic: str, column: dict, with_title: bool,
          with_notes: bool) -> nodes.container:
    box = nodes.container()
    maps = cw.maps_in(topic, column["key"])
    multi = len(column["standards"]) > 1
    if maps:
        box += _clause_list(app, cw, docname, maps, with_title, multi).children
    for note in cw.notes_in(topic, column["key"]):
        if note["status"] in STATUS_TEXT and not maps:
            box += nodes.paragraph(text=STATUS_TEXT[note["status"]])
        if with_notes and note["note"]:
            box += nodes.paragraph(text=note["note"], classes=["kb-crosswalk-note"])
    if not box.children:
        box += nodes.paragraph(text="")
    return box


def render_topic(app, cw: Crosswalk, docname: str) -> list[nodes.Node]:
    reqs = cw.topic_reqs.get(docname, set())
    out: list[nodes.Node] = []
    para = nodes.paragraph()
    para += nodes.strong(text=f"Applies to {len(reqs)} requirements: ")
    para += _req_list(app, cw, docname, reqs).children
    out.append(para)
    rows = []
    for column in cw.columns:
        rows.append([_doc_ref_para(app, docname, column), _cell(app, cw, docname, docname, column, True, True)])
    out.append(_table(["Framework", "Clauses, with the evidence level of the mapping"], rows,
                      ["kb-crosswalk-topic"], [25, 75]))
    return out


def _doc_ref_para(app, docname: str, column: dict) -> nodes.paragraph:
    para = nodes.paragraph()
    para += _doc_ref(app, docname, column["page"], column["label"])
    return para


def render_matrix(app, cw: Crosswalk, docname: str) -> list[nodes.Node]:
    header = ["N60 topic", *(c["label"] for c in cw.columns)]
    rows = []
    for topic in cw.topics:
        first = nodes.paragraph()
        first += _doc_ref(app, docname, topic, cw.titles[topic])
        rows.append([first, *(_cell(app, cw, docname, topic, c, False, False) for c in cw.columns)])
    return [_table(header, rows, ["kb-crosswalk-matrix"])]


def render_framework(app, cw: Crosswalk, docname: str, key: str) -> list[nodes.Node]:
    column = cw.column(key)
    multi = len(column["standards"]) > 1
    out: list[nodes.Node] = []
    mapped = [t for t in cw.topics if cw.maps_in(t, key)]
    per_req: dict[str, list[tuple[str, str]]] = defaultdict(list)
    per_req_topics: dict[str, list[str]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    for topic in mapped:
        for req in cw.topic_reqs.get(topic, ()):
            per_req_topics[req].append(topic_number(topic))
    for req_id in per_req_topics:
        req = cw.needs[req_id]
        for link in cw.evidence:
            for clause_id in req[link]:
                if clause_id in cw.needs and cw.column_of(clause_id) == key:
                    per_req[req_id].append((clause_id, link))
                    counts[link] += 1
    clauses = {c for t in mapped for c, _ in cw.maps_in(t, key)}
    summary = ", ".join(f"{counts[l]} {cw.marker(l)}" for l in cw.evidence if counts[l])
    out.append(nodes.paragraph(text=(
        f"{len(clauses)} clauses map to {len(per_req)} requirements in {len(mapped)} of the "
        f"{len(cw.topics)} topics; {sum(counts.values())} mapping links ({summary or 'none'}).")))

    out.append(nodes.rubric(text="Topics and clauses"))
    rows = []
    for topic in mapped:
        first = nodes.paragraph()
        first += _doc_ref(app, docname, topic, cw.titles[topic])
        rows.append([first, _cell(app, cw, docname, topic, column, True, True),
                     _req_list(app, cw, docname, cw.topic_reqs.get(topic, ()))])
    out.append(_table(["Topic", "Clauses and evidence", "Requirements"], rows,
                      ["kb-crosswalk-framework"], [20, 45, 35]))

    silent = [t for t in cw.topics if not cw.maps_in(t, key)
              and any(n["status"] == "silent" for n in cw.notes_in(t, key))]
    unmapped = [t for t in cw.topics if not cw.maps_in(t, key)
                and any(n["status"] == "unmapped" for n in cw.notes_in(t, key))]
    for title, topics, cls in (
        ("Topics where the crosswalk finds no clause (—)", silent, "kb-crosswalk-silent"),
        ("Topics with leads only, left out (no verified clause)", unmapped, "kb-crosswalk-unmapped"),
    ):
        out.append(nodes.rubric(text=title))
        box = nodes.bullet_list(classes=[cls])
        for topic in topics:
            item = nodes.list_item()
            para = nodes.paragraph()
            para += _doc_ref(app, docname, topic, cw.titles[topic])
            notes = [n["note"] for n in cw.notes_in(topic, key) if n["note"]]
            if notes:
                para += nodes.Text(": " + " ".join(notes))
            item += para
            box += item
        out.append(box if topics else nodes.paragraph(text="None.", classes=[cls]))

    out.append(nodes.rubric(text="Requirement by requirement"))
    rows = []
    for req_id in sorted(per_req, key=natural_key):
        first = nodes.paragraph()
        first += _ref(app, docname, cw.needs[req_id], req_id)
        rows.append([first, cw.needs[req_id]["title"], ", ".join(per_req_topics[req_id]),
                     _clause_list(app, cw, docname, per_req[req_id], False, multi)])
    out.append(_table(["Requirement", "Title", "Topics", "Clauses and evidence"], rows,
                      ["kb-crosswalk-requirements"], [18, 32, 10, 40]))
    return out


def render_legend(app, cw: Crosswalk, docname: str) -> list[nodes.Node]:
    rows = []
    for link, decl in cw.evidence.items():
        code = nodes.paragraph()
        code += nodes.literal(text=link)
        rows.append([decl["marker"], code, decl["meaning"]])
    return [_table(["Marker", "Link type", "Meaning"], rows, ["kb-crosswalk-legend"], [15, 25, 60])]


def fill_views(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    views = list(doctree.findall(crosswalk_view))
    if not views:
        return
    cw = Crosswalk(app)
    for view in views:
        kind = view["kind"]
        if kind == "topic":
            new = render_topic(app, cw, docname)
        elif kind == "matrix":
            new = render_matrix(app, cw, docname)
        elif kind == "framework":
            new = render_framework(app, cw, docname, view["column"])
        else:
            new = render_legend(app, cw, docname)
        view.replace_self(new)


def purge(app: Sphinx, env, docname: str) -> None:
    _cells(env).pop(docname, None)


def merge(app: Sphinx, env, docnames, other) -> None:
    for docname in docnames:
        if docname in getattr(other, "kb_crosswalk_cells", {}):
            _cells(env)[docname] = other.kb_crosswalk_cells[docname]


def setup(app: Sphinx) -> dict:
    app.add_node(crosswalk_view)
    app.add_directive("kb-crosswalk-cell", CellDirective)
    app.add_directive("kb-crosswalk-topic", TopicDirective)
    app.add_directive("kb-crosswalk-matrix", MatrixDirective)
    app.add_directive("kb-crosswalk-framework", FrameworkDirective)
    app.add_directive("kb-crosswalk-legend", LegendDirective)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)
    app.connect("doctree-resolved", fill_views)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
