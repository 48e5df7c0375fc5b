"""The chain of evidence of a requirement, read from the links the model declares, and the
two views that show it: the compact traceability matrix (``.. kb-trace-matrix::``) and the
chain under each requirement and design control (the ``kb_summary`` and ``kb_chain`` layout
functions of the ``kb`` layout in ubproject.toml).

The steps of the chain are the covering types of the model, in its order ([kb.coverage] and the
count fields: design controls, then tests, then post-market activities), each with its covering
link. A step's items are the needs of its type that link to the requirement, and those that
link to an item of an earlier step where the link may point there (the tests that verify a
design control). No link name, type or state is written here: the model accessor names them."""

from __future__ import annotations

import html
from dataclasses import dataclass

from docutils import nodes
from docutils.parsers.rst import directives
from kb_export.ordering import natural_key
from kb_shared.trees import FINISHING, finished_page
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx_needs.api import get_needs_view

from .. import compat
from ..build import placeholders
from ..model import model_of
from ..quality.coverage import COVERAGE
from ..quality.review import SUSPECT_FROM

TITLE_CHARS = 60  # a longer title is cut in the matrix, shown whole on expanding its row


@dataclass(frozen=True)
class Step:
    kind: str  # the covering need type
    link: str  # its covering link
    label: str  # "Implemented by": the incoming label of the link, as the model words it
    targets: tuple[str, ...]  # the types the link may point to


def steps_of(model) -> list[Step]:
    out = []
    for kind, link in model.covering_links.items():
        decl = model.links.get(link, {})
        label = str(decl.get("incoming", link))
        label = label.removeprefix("is ").capitalize()
        out.append(Step(kind, link, label, tuple(decl.get("target_types") or ())))
    return out


def chain_of(need, needs, steps: list[Step]) -> list[tuple[Step, list[tuple[str, str | None]]]]:
    """For each step: (item ID, the earlier item it reaches the need through, or None)."""
    seen: dict[str, str] = {need["id"]: need["type"]}
    out = []
    for step in steps:
        items: list[tuple[str, str | None]] = []
        for via, via_type in list(seen.items()):
            if via_type not in step.targets or via not in needs:
                continue
            for i in needs[via].get(f"{step.link}_back") or []:
                if i in needs and needs[i]["type"] == step.kind and i not in {x for x, _ in items}:
                    items.append((i, None if via == need["id"] else via))
        items.sort(key=lambda item: (item[1] is not None, natural_key(item[1] or ""), natural_key(item[0])))
        out.append((step, items))
        seen.update({i: step.kind for i, _ in items})
    return out


def short(title: str) -> str:
    return title if len(title) <= TITLE_CHARS else title[:TITLE_CHARS - 1].rstrip() + "…"


# ---------------------------------------------------------------------------- HTML pieces
# The matrix and the chain are written as HTML by this module (every text escaped), because
# docutils has no nodes for <details>, aria attributes or a screen-reader-only text.

class kb_html(nodes.General, nodes.Element):
    """Finished, escaped HTML of a view; other builders show its text."""

    # for the incremental rebuild (kb.build.rebuild), which reads the pages as read
    kb_shows_no_needs = "made when a page is written, from a view that says what it shows"


def visit_kb_html(self, node) -> None:
    self.body.append(node["html"])
    raise nodes.SkipNode


def visit_kb_html_text(self, node) -> None:
    raise nodes.SkipNode


def depart_nothing(self, node) -> None:
    pass


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def _uri(app: Sphinx, fromdocname: str, need) -> str:
    return app.builder.get_relative_uri(fromdocname, need["docname"]) + "#" + need["id"]


def _link(app, fromdocname, need, text: str | None = None) -> str:
    return (f'<a class="reference internal" href="{esc(_uri(app, fromdocname, need))}" '
            f'title="{esc(need["title"])}">{esc(text or need["id"])}</a>')


def badge(state: str) -> str:
    return f'<span class="kb-badge kb-coverage-{esc(state)}">{esc(state)}</span>'


def suspect_cell(ids: list[str]) -> str:
    if not ids:
        return ""
    names = ", ".join(ids)
    return (f'<span class="kb-suspect" title="Suspect links: {esc(names)}">'
            f'<span aria-hidden="true">⚠</span><span class="kb-sr-only">Suspect links: </span>'
            f'{esc(names)}</span>')


# ---------------------------------------------------------------------------- the matrix

class trace_matrix(nodes.General, nodes.Element):
    """Placeholder, filled in once every need is known."""

    @property
    def kb_shows_selection(self) -> tuple[str, tuple[str, ...]]:
        """For the incremental rebuild (kb.build.rebuild): the requirements of its rows, with
        the fields a row shows; their chain (the needs covering them, two steps down, with
        their titles and pages) is derived data of the requirement, as coverage is."""
        tests = ["type == 'req'", *([f"{self['tag']!r} in tags"] if self["tag"] else []),
                 *([f"{self['stakeholder']!r} in stakeholder"] if self["stakeholder"] else [])]
        return " and ".join(tests), ("id", "title", "section", "docname", COVERAGE, SUSPECT_FROM)


class TraceMatrixDirective(SphinxDirective):
    """``.. kb-trace-matrix::`` every requirement (or those with ``:tag:`` or ``:stakeholder:``)
    with one column per step of its chain, its coverage and its suspect links."""

    option_spec = {"tag": directives.unchanged, "stakeholder": directives.unchanged,
                   "caption": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        node = trace_matrix(tag=self.options.get("tag", ""), stakeholder=self.options.get("stakeholder", ""),
                            caption=self.options.get("caption", ""))
        self.set_source_info(node)
        return [node]


def render_matrix(app: Sphinx, fromdocname: str, needs, tag: str = "", stakeholder: str = "",
                  caption: str = "") -> str:
    model = model_of(app.confdir)
    steps = steps_of(model)
    reqs = [n for n in needs.values() if n["type"] == "req"
            and (not tag or tag in (n.get("tags") or []))
            and (not stakeholder or stakeholder in (n.get("stakeholder") or []))]
    reqs.sort(key=lambda n: (natural_key(n.get("section") or ""), natural_key(n["id"])))
    head = ["ID", "Title", "Section", *[s.label for s in steps], "Coverage", "Suspect"]
    out = ['<div class="kb-matrix-scroll" tabindex="0" role="region" '
           f'aria-label="{esc(caption or "Traceability matrix")}">',
           '<table class="kb-trace-matrix">']
    if caption:
        out.append(f"<caption>{esc(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f'<th scope="col">{esc(h)}</th>' for h in head) + "</tr></thead><tbody>")
    for need in reqs:
        cells = [f'<th scope="row" class="kb-id">{_link(app, fromdocname, need)}</th>']
        title = need["title"]
        if short(title) == title:
            cells.append(f'<td class="kb-title">{esc(title)}</td>')
        else:
            cells.append(f'<td class="kb-title"><details><summary>{esc(short(title))}</summary>'
                         f'{esc(title)}</details></td>')
        cells.append(f'<td class="kb-section">{esc(need.get("section") or "")}</td>')
        for step, items in chain_of(need, needs, steps):
            links = [_link(app, fromdocname, needs[i]) for i, _ in items]
            cells.append(f'<td class="kb-step">{" ".join(links)}</td>')
        cells.append(f'<td class="kb-coverage">{badge(need.get(COVERAGE) or "")}</td>')
        cells.append(f'<td class="kb-suspect-cell">{suspect_cell(need.get(SUSPECT_FROM) or [])}</td>')
        out.append(f'<tr id="matrix-{esc(need["id"])}">' + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "\n".join(out)


def fill_matrices(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    matrices = placeholders.on_page(app, doctree, trace_matrix)
    if not matrices:
        return
    needs = get_needs_view(app)
    for node in matrices:
        text = render_matrix(app, docname, needs, node["tag"], node["stakeholder"], node["caption"])
        node.replace_self(kb_html(html=text))


# ---------------------------------------------------------------------------- the chain of a need

def kb_summary(handler, fields: list[str] | None = None) -> nodes.inline:
    """One line: the values of ``fields`` that the need has, separated by middle dots; a link
    field shows its targets' IDs; the coverage state as a badge."""
    need = compat.layout_need(handler)
    states = set(model_of(compat.layout_app(handler).confdir).states)
    parts = []
    for name in fields or []:
        value = need.get(name)
        if value in (None, "", []):
            continue
        text = ", ".join(value) if isinstance(value, list) else str(value)
        if name == COVERAGE and text in states:
            parts.append(badge(text))
        else:
            parts.append(f'<span class="kb-summary-field"><span class="kb-summary-name">{esc(name.replace("_", " "))}'
                         f'</span> {esc(text)}</span>')
    return _inline('<span class="kb-summary">' + ' <span aria-hidden="true">·</span> '.join(parts) + "</span>")


def kb_chain(handler) -> nodes.inline:
    """The chain of a requirement (its design controls, the tests of each, its post-market
    activities, its coverage), or of a design control (up to its requirements, down to its
    tests and post-market activities), as a small table."""
    app = compat.layout_app(handler)
    need = compat.layout_need(handler)
    model = model_of(app.confdir)
    needs = get_needs_view(app)
    steps = steps_of(model)
    fromdocname = compat.layout_docname(handler)
    rows = []
    if need["type"] == "req":
        chain = chain_of(need, needs, steps)
    else:
        step = next((s for s in steps if s.kind == need["type"]), None)
        if step is None:
            return _inline("")
        ups = [needs[t] for t in need.get(step.link) or [] if t in needs]
        if ups:
            rows.append(("Up: " + str(model.links[step.link]["outgoing"]),
                         " ".join(_link(app, fromdocname, n) for n in ups)))
        later = [s for s in steps if need["type"] in s.targets and s.kind != need["type"]]
        chain = [(s, [(i, None) for i in need.get(f"{s.link}_back") or []
                      if i in needs and needs[i]["type"] == s.kind]) for s in later]
    for step, items in chain:
        direct = [i for i, via in items if via is None]
        via: dict[str, list[str]] = {}
        for i, v in items:
            if v is not None:
                via.setdefault(v, []).append(i)
        cells = [_link(app, fromdocname, needs[i]) for i in direct]
        cells += [f'<span class="kb-via">{_link(app, fromdocname, needs[i])} '
                  f'<span class="kb-via-of">({esc("of")} {esc(v)})</span></span>'
                  for v, ids in via.items() for i in ids]
        rows.append((step.label, " ".join(cells) or '<span class="kb-none">none</span>'))
    if need["type"] == "req" and need.get(COVERAGE):
        rows.append(("Coverage", badge(need[COVERAGE])))
        if need.get("rationale"):  # why it needs no covering item
            rows.append(("Rationale", esc(need["rationale"])))
    if not rows:
        return _inline("")
    body = "".join(f'<tr><th scope="row">{esc(label)}</th><td>{cell}</td></tr>' for label, cell in rows)
    return _inline(f'<table class="kb-chain"><caption class="kb-sr-only">Chain of {esc(need["id"])}</caption>'
                   f"<tbody>{body}</tbody></table>")


def statement_first(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """In a need of a layout whose grid has a footer (``kb``), the full list of fields and links
    (the meta row, collapsed) goes last: the statement comes first, then the summary line and
    the chain (the footer)."""
    grids = [node for node in finished_page(doctree) if isinstance(node, nodes.table)
             and "need" in node["classes"] and "needs_grid_simple_footer" in node["classes"]]
    for table in grids:
        # the grid's own rows (table > tgroup > tbody), not those of tables in the need's
        # content: a need nested in it is a table of its own, which this walk reaches too
        for body in (b for group in table.children if isinstance(group, nodes.tgroup)
                     for b in group.children if isinstance(b, nodes.tbody)):
            meta = [row for row in body.children if "meta" in row["classes"]]
            for row in meta:
                body.remove(row)
                body.append(row)


def _inline(text: str) -> nodes.inline:
    container = nodes.inline(classes=["kb-chain-box"])
    container += kb_html(html=text)
    return container


def setup(app: Sphinx) -> dict:
    app.add_node(kb_html, html=(visit_kb_html, depart_nothing), text=(visit_kb_html_text, depart_nothing),
                 latex=(visit_kb_html_text, depart_nothing), man=(visit_kb_html_text, depart_nothing),
                 texinfo=(visit_kb_html_text, depart_nothing))
    app.add_node(trace_matrix)
    placeholders.register(trace_matrix)
    app.add_directive("kb-trace-matrix", TraceMatrixDirective)
    app.connect("doctree-resolved", fill_matrices)
    app.connect("doctree-resolved", statement_first, priority=FINISHING)
    compat.add_layout_function("kb_summary", kb_summary)
    compat.add_layout_function("kb_chain", kb_chain)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
