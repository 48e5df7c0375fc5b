"""The browse page: ``.. kb-browse::`` places a catalogue of every need, filterable by facets
and free text, on a page (``browse.rst``). The filtering runs in the browser
(_static/kb-browse.js); this module writes its data.

The data is generated from the needs once they are final (after sphinx-needs sealed them, with
the ``coverage`` of kb.quality.coverage) into ``_static/kb-browse-data.js``: a script, not a JSON file
to fetch, so the page works offline and from ``file://``. Facet values come from the model
(ubproject.toml) in its order, so a value no need uses yet still shows, with a count of 0.

The Framework facet is the crosswalk's: a need is in the frameworks its clauses are part of,
the clauses it maps to through a mapping link (the link types of ``[kb.evidence]``) and, for a
clause, the clause itself (``part_of``). Its values are the standards of the ``[kb.crosswalk]``
columns in their order, then any other standard a clause is part of; each is labelled with its
column's label (and the standard's short name where a column has several)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from docutils import nodes
from kb_export.ordering import natural_key
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import ReferenceRole, SphinxDirective
from sphinx_needs.api import get_needs_view

from ..build import placeholders, unchanged
from ..model import Model, model_of
from . import once_per_build
from .tags import tag_docname

logger = logging.getLogger(__name__)

BROWSE_DOC = "browse"  # the page with ``.. kb-browse::``, which ``:kb-browse:`` links to
DATA_FILE = "kb-browse-data.js"
TEXT_PARAM = "q"
# (URL parameter, label, need field) of each facet, in the order the page shows them.
FACETS = (
    ("tag", "Tag", "tags"),
    ("type", "Type", "type"),
    ("document", "Document", None),  # not a field: the guidelines a need traces to (documents_of)
    ("stakeholder", "Stakeholder", "stakeholder"),
    ("phase", "Phase", "phase"),
    ("stage", "Life-cycle stage", "lifecycle_stage"),
    ("section", "Section", "section"),
    ("coverage", "Coverage", "coverage"),
    ("framework", "Framework", None),  # not a field: from the need's clauses (frameworks_of)
)
FRAMEWORK_LINK = "part_of"  # a clause -> the standard it is part of
SOURCE_LINK = "derives_from"  # a requirement -> the guideline it comes from
CITES_LINK = "cites"  # a requirement -> a standard its source passage names
ROLE = re.compile(r"(?::[\w:+.-]+:|\{[\w:+.-]+\})`([^`<]*?)\s*(?:<[^>]*>)?`")
LINK = re.compile(r"`([^`<]*?)\s*<[^>]*>`__?")


def plain_text(markup: str) -> str:
    """A need's statement without reStructuredText/MyST markup, for free-text search and CSV:
    roles and links keep their text, emphasis and literal markers go."""
    text = ROLE.sub(r"\1", markup)
    text = LINK.sub(r"\1", text)
    text = re.sub(r"\*\*|\*|``", "", text)
    return " ".join(text.split())


def frameworks_of(need, needs, fits: dict) -> set[str]:
    """The standards a need maps to: those of the clauses it has a full or partial fit to
    ([kb.crosswalk.fits]; a topic link alone is no mapping), or its own (a clause's)."""
    judged = [needs[f] for f in need.get(f"{fits['requirement']}_back") or [] if f in needs]
    clauses = [c for fit in judged if fit[fits["level"]] in fits["maps_to"]
               for c in fit[fits["clause"]] if c in needs]
    out = set(need.get(FRAMEWORK_LINK) or [])
    for clause_id in clauses:
        out.update(needs[clause_id].get(FRAMEWORK_LINK) or [])
    return out


class Documents:
    """The guidelines (documents) a need traces to: a guideline itself; a requirement the one it
    derives from; a design control, test or post-market activity the documents of the needs it
    covers (a test through the design controls it verifies); a standard the documents of the
    requirements that cite it."""

    def __init__(self, needs, covering_links: tuple[str, ...]) -> None:
        self.needs, self.covering_links = needs, covering_links
        self.known: dict[str, frozenset[str]] = {}

    def of(self, need_id: str, visiting: frozenset[str] = frozenset()) -> frozenset[str]:
        if need_id in self.known:
            return self.known[need_id]
        need = self.needs[need_id]
        if need["type"] == "guideline":
            found = {need_id}
        elif need.get(SOURCE_LINK):
            found = set(need[SOURCE_LINK])
        else:
            found = set()
            targets = [t for link in self.covering_links for t in need.get(link) or []]
            targets += [r for r in need.get(f"{CITES_LINK}_back") or [] if self.needs.get(r, {}).get(SOURCE_LINK)]
            for target in targets:
                if target in self.needs and target not in visiting:
                    found |= self.of(target, visiting | {need_id})
        self.known[need_id] = frozenset(found)
        return self.known[need_id]


def document_values(model: Model, needs) -> list[dict]:
    """The documents of [kb.documents] in their order, each labelled with its short name."""
    out = []
    for guideline, label in model.documents.items():
        title = needs[guideline]["title"] if guideline in needs else ""
        out.append({"value": guideline, "label": label, "meaning": title or guideline})
    return out


def framework_values(model: Model, needs) -> list[dict]:
    """The crosswalk's columns in their order, a value per standard, then any other standard
    some clause is part of; the label is the column's, with the standard's short name where the
    column has several, and the tooltip (``"meaning"``) the standard's identifier and title."""
    crosswalk = model.kb.get("crosswalk", {})
    short = crosswalk.get("short", {})
    labels = {}
    for column in crosswalk.get("columns", []):
        for standard in column["standards"]:
            several = len(column["standards"]) > 1
            labels[standard] = f"{column['label']} ({short.get(standard, standard)})" if several else column["label"]
    others = {s for n in needs.values() for s in n.get(FRAMEWORK_LINK) or []} - set(labels)
    out = []
    for standard in [*labels, *sorted(others, key=natural_key)]:
        need = needs[standard] if standard in needs else None
        doc_id = (need.get("doc_id") if need else None) or standard
        title = need["title"] if need else ""
        out.append({"value": standard, "label": labels.get(standard, doc_id),
                    "meaning": f"{doc_id}: {title}" if title else doc_id})
    return out


def facet_values(model: Model, needs) -> dict[str, list[dict]]:
    """Facet -> its values, each ``{"value", "label"}`` (tags also ``"meaning"``, ``"page"``;
    frameworks ``"meaning"``)."""
    sections = sorted({n["section"] for n in needs.values() if n.get("section")}, key=natural_key)
    return {
        "tag": [{"value": t, "label": t, "meaning": meaning, "page": tag_docname(t)}
                for t, meaning in model.tag_meanings.items()],
        "type": [{"value": t, "label": d["title"]} for t, d in model.site_types.items()],
        "stakeholder": [{"value": v, "label": v} for v in model.enum("stakeholder")],
        "phase": [{"value": v, "label": v} for v in model.enum("phase")],
        "stage": [{"value": v, "label": v} for v in model.enum("lifecycle_stage")],
        "document": document_values(model, needs),
        "section": [{"value": s, "label": s} for s in sections],
        "coverage": [{"value": v, "label": v} for v in model.states],
        "framework": framework_values(model, needs),
    }


def _as_list(value) -> list[str]:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def browse_data(needs, model: Model, target_uri) -> dict:
    """Everything the page needs, compact: each need's facet values as indexes into the
    facet's value list. ``target_uri(docname)`` gives a page's URL relative to the site root.
    Needs are ordered by type (model order), then by ID with numbers compared as numbers."""
    values = facet_values(model, needs)
    position = {key: {v["value"]: i for i, v in enumerate(vals)} for key, vals in values.items()}
    type_order = list(model.types)
    # The site's own types: a fit is shown beside the requirement it judges, on the crosswalk pages.
    ordered = sorted((n for n in needs.values() if n["type"] in model.site_types), key=lambda n: (type_order.index(n["type"]), natural_key(n["id"])))
    documents = Documents(needs, model.covering_link_names)
    derived = {"framework": lambda need: frameworks_of(need, needs, model.fits),
               "document": lambda need: documents.of(need["id"])}
    records = []
    for need in ordered:
        facets = []
        for key, _label, field in FACETS:
            if field is None:  # derived from the need's links, in the facet's order
                facets.append(sorted(position[key][v] for v in derived[key](need) if v in position[key]))
            else:
                facets.append([position[key][v] for v in _as_list(need.get(field)) if v in position[key]])
        records.append({
            "id": need["id"],
            "title": need["title"],
            "url": f"{target_uri(need['docname'])}#{need['id']}" if need["docname"] else "",
            "text": plain_text(need["content"] or ""),
            "facets": facets,
        })
    for tag in values["tag"]:
        tag["page"] = target_uri(tag["page"])
    return {
        "facets": [{"key": key, "label": label, "values": values[key]} for key, label, _ in FACETS],
        "needs": records,
    }


def write_data(app: Sphinx, builder) -> None:
    """``write-started``: the needs are sealed (sphinx-needs does it at priority 500)."""
    if builder.format != "html" or unchanged.settled(app):
        return
    data = browse_data(get_needs_view(app), model_of(app.confdir), builder.get_target_uri)
    path = Path(builder.outdir) / "_static" / DATA_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    # ensure_ascii: the file is plain ASCII whatever the page's encoding, and it is JSON,
    # which is valid JavaScript, so it cannot break out of the assignment.
    text = "window.KB_BROWSE_DATA = " + json.dumps(data, ensure_ascii=True, separators=(",", ":")) + ";\n"
    if not path.is_file() or path.read_text(encoding="ascii") != text:
        path.write_text(text, encoding="ascii")


class browse(nodes.General, nodes.Element):
    """Where the browse UI goes; kb-browse.js builds it in the browser."""

    # for the incremental rebuild (kb.build.rebuild): the page names its data file with the
    # file's checksum, and the data follows every need (and the model), so the page is written
    # again whenever a need changed, and a build that changed nothing leaves it alone
    kb_shows_all_needs = True


def visit_browse_html(self, node: browse) -> None:
    self.body.append(
        '<div class="kb-browse" id="kb-browse">'
        "<noscript><p>Filtering needs this page's script. Every need is also on the "
        "requirement pages and in needs.json.</p></noscript>"
    )


def depart_browse_html(self, node: browse) -> None:
    self.body.append("</div>")


def skip(self, node: nodes.Node) -> None:
    raise nodes.SkipNode


class BrowseDirective(SphinxDirective):
    """``.. kb-browse::`` the filterable catalogue of all needs."""

    def run(self) -> list[nodes.Node]:
        return [browse()]


class browse_link(nodes.Inline, nodes.TextElement):
    """A link to a filtered view of the browse page; resolved once the needs are known."""

    kb_shows_no_needs = "a link made of its own filters; the needs' facet values only check them"


class BrowseRole(ReferenceRole):
    """``:kb-browse:`text <tag=sbom&type=req>``` links to the browse page with these filters.
    The build checks the filters, so a link cannot point to a facet or value that does not exist."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        node = browse_link(self.rawtext, self.title, kb_query=self.target)
        self.set_source_info(node)
        return [node], []


def resolve_browse_links(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    links = placeholders.on_page(app, doctree, browse_link)
    if not links:
        return
    values = once_per_build(app, "facet values", lambda: facet_values(model_of(app.confdir), get_needs_view(app)))
    allowed = {key: {v["value"] for v in vals} for key, vals in values.items()}
    for link in links:
        params = parse_qsl(link["kb_query"], keep_blank_values=True)
        wrong = [f"{k}={v}" for k, v in params if k != TEXT_PARAM and v not in allowed.get(k, ())]
        if wrong or not params:
            logger.warning("kb-browse: unknown or no filters %s in %r; facets are %s",
                           wrong, link["kb_query"], ", ".join(allowed), location=link)
        if BROWSE_DOC not in app.env.found_docs:
            logger.warning("kb-browse: there is no page %r to link to", BROWSE_DOC, location=link)
        refuri = f"{app.builder.get_relative_uri(docname, BROWSE_DOC)}?{urlencode(params)}"
        link.replace_self(nodes.reference("", link.astext(), internal=True, refuri=refuri))


def add_assets(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Only the page with the catalogue loads its script, style and data."""
    if doctree is None or not placeholders.on_page(app, doctree, browse):
        return
    app.add_css_file("kb-browse.css")
    app.add_js_file(DATA_FILE, defer="defer")
    app.add_js_file("kb-browse.js", defer="defer")


def setup(app: Sphinx) -> dict:
    app.add_node(browse, html=(visit_browse_html, depart_browse_html),
                 latex=(skip, None), text=(skip, None), man=(skip, None), texinfo=(skip, None))
    app.add_directive("kb-browse", BrowseDirective)
    app.add_node(browse_link)
    placeholders.register(browse, browse_link)
    app.add_role("kb-browse", BrowseRole())
    app.connect("doctree-resolved", resolve_browse_links)
    app.connect("write-started", write_data, priority=800)
    app.connect("html-page-context", add_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
