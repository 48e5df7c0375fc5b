"""The crosswalk between N60 and other frameworks, rendered from the links themselves.

Two relations, kept apart:

* **topic links**: the ``needextend`` blocks of the topic pages (``[kb.crosswalk] topics`` in
  ubproject.toml), one block per row of the crosswalk's tables, each appending ``maps_*``
  links (one link type per evidence level, ``[kb.evidence]``) to the requirements its filter
  selects: the clause is on the requirement's topic;
* **fits**: ``.. kb-fits::`` on a topic page, one line per judged topic link
  (``<requirement> <clause> <level> <reason>``), each a need of the fit type
  (``[kb.crosswalk.fits]``) with its level (full, partial, related) and reason; its evidence
  is the marker of the topic link it judges, set here. Only the levels of ``maps_to`` (full,
  partial) count as "maps to"; related fits and topic links nobody judged a fit are "see also".

This module reads both back and renders:

* ``.. kb-crosswalk-topic::`` on a topic page: the requirements it applies to and, per
  framework, the clauses the requirements map to and the clauses to see also;
* ``.. kb-fits::`` itself: the fits of the page, one row each, with their reasons;
* ``.. kb-crosswalk-matrix::``: topics x frameworks;
* ``.. kb-crosswalk-framework:: <column>``: one framework's topics, the requirements that map
  to it, the clauses no requirement reaches, and every fit with its reason;
* ``.. kb-crosswalk-coverage::``: per framework, clauses reached and requirements mapped;
* ``.. kb-crosswalk-legend::``: the evidence levels.

``.. kb-crosswalk-cell:: <column>`` (``:status: silent | unmapped | note``, content: a plain
text note) records, on a topic page, what the crosswalk says where a row maps no clause
(``silent``: its "—"; ``unmapped``: only leads without a verified clause number), or a remark
on a mapped row (``note``)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from kb_export.crosswalk import fits_of
from kb_export.ordering import natural_key
from kb_shared.tables import table as _table
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx_needs.api import add_need, get_needs_view
from sphinx_needs.exceptions import InvalidNeedException

from .. import compat
from ..build import placeholders
from ..model import model_of
from . import once_per_build

logger = logging.getLogger(__name__)

STATUSES = ("silent", "unmapped", "note")
STATUS_TEXT = {"silent": "—", "unmapped": "leads only"}


def settings(confdir) -> tuple[dict, dict]:
    model = model_of(confdir)
    return model.crosswalk, model.evidence


class crosswalk_view(nodes.General, nodes.Element):
    """Placeholder, filled in once every need and every needextend is known."""

    # for the incremental rebuild (kb.build.rebuild): the crosswalk reads no need's content, and
    # a requirement's title only on a framework page (its "Requirements that map to it")
    kb_shows_fields_but = ("content", "title")


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
        if self.kind in ("matrix", "framework", "coverage"):
            topics = Path(self.env.srcdir) / crosswalk["topics"]
            for path in sorted(topics.glob("*.rst")):
                self.env.note_dependency(str(path))
        node = crosswalk_view(kind=self.kind, column=self.arguments[0] if self.arguments else "")
        if self.kind == "framework":
            # the titles of the requirements that map to it (kb.build.rebuild.TitlesOf)
            node.kb_shows_titles_picked_by = f"{__name__}:framework_title_ids"
            node["kb_titles_argument"] = node["column"]
        self.set_source_info(node)
        return [node]


FIT_LINE = re.compile(r"(?P<req>\S+)\s+(?P<clause>\S+)\s+(?P<level>\S+)\s+(?P<reason>\S.*)")


def fit_id(req_id: str, clause_id: str, model) -> str:
    """FIT_<requirement ID without its prefix>_TO_<clause ID without its prefix>."""
    types = model.types
    prefix = types[model.fits["type"]]["prefix"]
    req_prefix = types[model.links[model.fits["requirement"]]["target_types"][0]]["prefix"]
    clause_prefix = types[model.links[model.fits["clause"]]["target_types"][0]]["prefix"]
    return f"{prefix}{req_id.removeprefix(req_prefix)}_TO_{clause_id.removeprefix(clause_prefix)}"


class FitsDirective(SphinxDirective):
    """``.. kb-fits::`` one judged topic link per line: ``<requirement ID> <clause ID> <level>
    <reason, one sentence>``; blank lines and lines starting with ``#`` are skipped. Each line
    becomes a need of the fit type (hidden: the page shows the fits as a table)."""

    has_content = True

    def run(self) -> list[nodes.Node]:
        model = model_of(self.env.app.confdir)
        fits = model.fits
        levels = model.enum(fits["level"])
        out: list[nodes.Node] = []
        for index, line in enumerate(self.content):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            lineno = self.content.info(index)[1] + 1
            location = (self.env.docname, lineno)
            match = FIT_LINE.fullmatch(text)
            if not match:
                logger.warning(f"kb-fits: cannot read {text[:70]!r}\n  fix: write one fit per line: "
                               f"<requirement ID> <clause ID> <{' | '.join(levels)}> <reason>",
                               location=location, type="kb", subtype="fit-line")
                continue
            need_id = fit_id(match["req"], match["clause"], model)
            if match["level"] not in levels:
                logger.warning(f"Need '{need_id}' has the fit level {match['level']!r}, which is not one of "
                               f"{', '.join(levels)}\n  fix: {model.fixes.get('fit-level', '')}",
                               location=location, type="kb", subtype="fit-level")
                continue
            try:
                out += add_need(
                    self.env.app, self.state, self.env.docname, lineno, need_type=fits["type"],
                    title=f"{match['req']} against {match['clause']}", id=need_id, hide=True,
                    **{fits["level"]: match["level"], fits["reason"]: match["reason"],
                       fits["requirement"]: [match["req"]], fits["clause"]: [match["clause"]]})
            except InvalidNeedException as err:
                logger.warning(f"{need_id}: could not be created: {err.message}", location=location)
                continue
        node = crosswalk_view(kind="fits", column="")
        self.set_source_info(node)
        return [*out, node]


def judge_fits(app: Sphinx, needs) -> None:
    """``needs-before-sealing``: a fit judges a topic link, so its requirement must link its
    clause; the fit's evidence is that link's marker."""
    model = model_of(app.confdir)
    fits, markers = model.fits, model.evidence_markers
    for need in needs.values():
        if need["type"] != fits["type"]:
            continue
        req_id = next(iter(need[fits["requirement"]]), None)
        clause_id = next(iter(need[fits["clause"]]), None)
        req = needs.get(req_id) if req_id else None
        links = [link for link in markers if req is not None and clause_id in req[link]]
        if links:
            need[fits["evidence"]] = markers[links[0]]
        elif req is not None and clause_id in needs:
            logger.warning(
                f"Need '{need['id']}' judges {req_id} against {clause_id}, but no topic link of the "
                f"crosswalk joins them\n  fix: {model.fixes.get('fit-topic', '')}",
                location=(need["docname"], need["lineno"]), type="kb", subtype="fit-topic")


class CoverageDirective(_View):
    kind = "coverage"


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
        model = model_of(app.confdir)
        self.fit_model = model.fits
        self.clause_type = model.links[self.fit_model["clause"]]["target_types"][0]
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
        # (requirement, clause) -> the fit judging that topic link
        self.fits = fits_of(self.needs, self.fit_model)

    def level(self, req_id: str, clause_id: str) -> str | None:
        fit = self.fits.get((req_id, clause_id))
        return fit[self.fit_model["level"]] if fit else None

    def maps_to(self, req_id: str, clause_id: str) -> bool:
        return self.level(req_id, clause_id) in self.fit_model.get("maps_to", ())

    def split(self, topic: str, key: str) -> tuple[list, list]:
        """A topic's (clause, link) pairs in one framework: (those at least one of the topic's
        requirements maps to, those to see also)."""
        reqs = self.topic_reqs.get(topic, ())
        maps = self.maps_in(topic, key)
        mapped = {c for c, _ in maps if any(self.maps_to(r, c) for r in reqs)}
        return [m for m in maps if m[0] in mapped], [m for m in maps if m[0] not in mapped]

    def topic_links_to(self, clause_id: str) -> set[str]:
        """The needs with a topic link to a clause (each once, whatever its evidence links)."""
        clause = self.needs[clause_id]
        return {n for link in self.evidence for n in clause[f"{link}_back"]}

    def clauses_of(self, key: str) -> list[str]:
        """Every clause of a framework column, in the order of its references."""
        standards = self.column(key)["standards"]
        found = [n["id"] for n in self.needs.values()
                 if n["type"] == self.clause_type and n["part_of"] and n["part_of"][0] in standards]
        return sorted(found, key=lambda c: (standards.index(self.needs[c]["part_of"][0]),
                                            natural_key(self.needs[c]["clause_ref"] or ""), natural_key(c)))

    def fits_to(self, clause_ids) -> list[dict]:
        wanted = set(clause_ids)
        return [f for (r, c), f in self.fits.items() if c in wanted]

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


def _clause_list(app, cw: Crosswalk, docname: str, maps, with_title: bool, multi: bool,
                 note=None) -> nodes.container:
    """The clauses grouped by document and evidence level (in the order of the columns and of
    [kb.evidence]): one line per group, "<document> <marker>: clause; clause". ``note(clause)``
    may add a text after a clause (its fits)."""
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
            if note and (text := note(clause_id)):
                para += nodes.Text(f" ({text})")
        box += para
    return box


def _req_list(app, cw: Crosswalk, docname: str, ids) -> nodes.paragraph:
    para = nodes.paragraph()
    for i, need_id in enumerate(sorted(ids, key=natural_key)):
        if i:
            para += nodes.Text(", ")
        para += _ref(app, docname, cw.needs[need_id], need_id)
    return para


def _level_counts(cw: Crosswalk, reqs, clause_id: str) -> str:
    """"2 full, 1 partial": the maps-to fits of the requirements to one clause."""
    levels = [cw.level(r, clause_id) for r in reqs]
    return ", ".join(f"{levels.count(l)} {l}" for l in cw.fit_model["maps_to"] if levels.count(l))


def _cell(app, cw: Crosswalk, docname: str, topic: str, column: dict, with_title: bool,
          with_notes: bool) -> nodes.container:
    """A topic's clauses in one framework: first those its requirements map to (a full or
    partial fit), then, labelled, those to see also (a related fit or the topic alone)."""
    box = nodes.container()
    multi = len(column["standards"]) > 1
    reqs = cw.topic_reqs.get(topic, ())
    fitting, see_also = cw.split(topic, column["key"])
    if fitting:
        box += nodes.paragraph(text="Maps to:", classes=["kb-crosswalk-maps-to"])
        box += _clause_list(app, cw, docname, fitting, with_title, multi,
                            lambda c: _level_counts(cw, reqs, c)).children
    if see_also:
        box += nodes.paragraph(text="See also (on the topic, no fit):", classes=["kb-crosswalk-see-also"])
        box += _clause_list(app, cw, docname, see_also, with_title, multi).children
    for note in cw.notes_in(topic, column["key"]):
        if note["status"] in STATUS_TEXT and not (fitting or see_also):
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
    out.append(_table(["Framework", "Clauses: those the requirements map to (with the number of full "
                                    "and partial fits), then those to see also; each with the evidence level"],
                      rows, ["kb-crosswalk-topic"], [25, 75]))
    return out


def _doc_ref_para(app, docname: str, column: dict) -> nodes.paragraph:
    para = nodes.paragraph()
    para += _doc_ref(app, docname, column["page"], column["label"])
    return para


def _fit_rows(app, cw: Crosswalk, docname: str, fits: list[dict]) -> nodes.table:
    """One row per fit, anchored by its ID: requirement, clause, level, evidence, reason;
    maps-to levels first, then by requirement and clause."""
    fm = cw.fit_model
    levels = [*fm["maps_to"], *(l for l in ("related",) if l not in fm["maps_to"])]

    def key(fit):
        clause_id = fit[fm["clause"]][0]
        column = cw.column_of(clause_id)
        keys = [c["key"] for c in cw.columns]
        return (levels.index(fit[fm["level"]]) if fit[fm["level"]] in levels else len(levels),
                natural_key(fit[fm["requirement"]][0]), keys.index(column) if column in keys else len(keys),
                natural_key(cw.needs[clause_id]["clause_ref"] or ""))

    rows, ids = [], []
    for fit in sorted(fits, key=key):
        # the fit's anchor is on the page that writes it; another page shows the row only
        req_id, clause_id = fit[fm["requirement"]][0], fit[fm["clause"]][0]
        req = nodes.paragraph()
        req += _ref(app, docname, cw.needs[req_id], req_id)
        clause = nodes.paragraph()
        column = cw.column_of(clause_id)
        label = cw.column(column)["label"] + " " if column else ""
        clause += _ref(app, docname, cw.needs[clause_id], label + cw.label(clause_id, True))
        level = nodes.paragraph(classes=[f"kb-fit-{fit[fm['level']]}"])
        level += nodes.inline(text=fit[fm["level"]], classes=["kb-fit", f"kb-fit-{fit[fm['level']]}"])
        rows.append([req, clause, level, fit[fm["evidence"]] or "", fit[fm["reason"]]])
        ids.append(fit["id"] if fit["docname"] == docname else "")
    return _table(["Requirement", "Clause", "Fit", "Evidence", "Reason"], rows,
                  ["kb-crosswalk-fits"], [14, 24, 8, 9, 45], ids)


def render_fits(app, cw: Crosswalk, docname: str) -> list[nodes.Node]:
    """The fits of the topic's links: those written here, and those of a pair this topic
    shares with another, judged on that topic's page."""
    pairs = {(r, c) for c, _ in cw.topic_maps[docname] for r in cw.topic_reqs.get(docname, ())}
    fits = [f for pair, f in cw.fits.items() if pair in pairs]
    if not fits:
        return [nodes.paragraph(text="No topic link of this topic is judged a fit: every clause is on "
                                     "the topic only (see also).")]
    return [_fit_rows(app, cw, docname, fits)]


def render_matrix(app, cw: Crosswalk, docname: str) -> list[nodes.Node]:
    header = ["N60 topic", *(c["label"] for c in cw.columns)]
    rows = []
    for topic in cw.topics:
        first = nodes.paragraph()
        first += _doc_ref(app, docname, topic, cw.titles[topic])
        rows.append([first, *(_matrix_cell(app, cw, docname, topic, c) for c in cw.columns)])
    return [_table(header, rows, ["kb-crosswalk-matrix"])]


def _matrix_cell(app, cw: Crosswalk, docname: str, topic: str, column: dict) -> nodes.container:
    """The clauses the topic's requirements map to, and how many to see also."""
    box = nodes.container()
    fitting, see_also = cw.split(topic, column["key"])
    if fitting:
        box += _clause_list(app, cw, docname, fitting, False, len(column["standards"]) > 1).children
    if see_also:
        box += nodes.paragraph(text=f"see also: {len(see_also)} on the topic",
                               classes=["kb-crosswalk-see-also"])
    for note in cw.notes_in(topic, column["key"]):
        if note["status"] in STATUS_TEXT and not (fitting or see_also):
            box += nodes.paragraph(text=STATUS_TEXT[note["status"]])
    if not box.children:
        box += nodes.paragraph(text="")
    return box


def framework_title_ids(needs: Mapping[str, Mapping], key: str, confdir: str) -> set[str]:
    """The requirements whose titles the framework page of column ``key`` shows (those a full
    or partial fit maps to a clause of the framework), from the needs as read: for
    the incremental rebuild, which writes the page again when one of their titles changed."""
    crosswalk, _ = settings(confdir)
    fits = model_of(confdir).fits
    standards = set(next((c["standards"] for c in crosswalk["columns"] if c["key"] == key), ()))
    clauses = {i for i, n in needs.items() if standards.intersection(n.get("part_of") or ())}
    return {r for n in needs.values() if n.get("type") == fits["type"] and n.get(fits["level"]) in fits["maps_to"]
            and clauses.intersection(n.get(fits["clause"]) or ()) for r in n.get(fits["requirement"]) or ()}


def framework_fits(cw: Crosswalk, key: str) -> tuple[list[str], list[dict], set[str]]:
    """A framework's clauses, the fits to them, and the clauses a full or partial fit reaches."""
    fm = cw.fit_model
    clauses = cw.clauses_of(key)
    fits = cw.fits_to(clauses)
    return clauses, fits, {f[fm["clause"]][0] for f in fits if f[fm["level"]] in fm["maps_to"]}


def framework_counts(cw: Crosswalk, key: str) -> dict[str, int]:
    """A framework's coverage in both directions, counted."""
    clauses, fits, reached = framework_fits(cw, key)
    fm = cw.fit_model
    mapped = {f[fm["requirement"]][0] for f in fits if f[fm["level"]] in fm["maps_to"]}
    return {
        "clauses": len(clauses), "reached": len(reached), "not reached": len(clauses) - len(reached),
        "requirements": len(mapped),
        "topic links": sum(len(cw.topic_links_to(c)) for c in clauses),
        **{f"{level} fits": sum(1 for f in fits if f[fm["level"]] == level) for level in ("full", "partial", "related")},
    }


def render_framework(app, cw: Crosswalk, docname: str, key: str) -> list[nodes.Node]:
    column = cw.column(key)
    fm = cw.fit_model
    out: list[nodes.Node] = []
    mapped = [t for t in cw.topics if cw.maps_in(t, key)]
    n = framework_counts(cw, key)
    out.append(nodes.paragraph(text=(
        f"{n['clauses']} clauses on {len(mapped)} of the {len(cw.topics)} N60 topics, through "
        f"{n['topic links']} topic links. Judged pair by pair: {n['full fits']} full and "
        f"{n['partial fits']} partial fits map {n['requirements']} requirements to {n['reached']} "
        f"clauses; {n['related fits']} related fits are context (see also); {n['not reached']} "
        f"clauses no requirement reaches.")))

    out.append(nodes.rubric(text="Topics and clauses"))
    rows = []
    for topic in mapped:
        first = nodes.paragraph()
        first += _doc_ref(app, docname, topic, cw.titles[topic])
        rows.append([first, _cell(app, cw, docname, topic, column, True, True),
                     _req_list(app, cw, docname, cw.topic_reqs.get(topic, ()))])
    out.append(_table(["Topic", "Clauses: maps to, then see also; with the evidence level", "Requirements of the topic"],
                      rows, ["kb-crosswalk-framework"], [20, 50, 30]))

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

    clauses, fits, reached = framework_fits(cw, key)
    out.append(nodes.rubric(text="Requirements that map to it (full or partial fit)"))
    per_req: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for fit in fits:
        if fit[fm["level"]] in fm["maps_to"]:
            per_req[fit[fm["requirement"]][0]][fit[fm["level"]]].append(fit)
    rows = []
    for req_id in sorted(per_req, key=natural_key):
        first = nodes.paragraph()
        first += _ref(app, docname, cw.needs[req_id], req_id)
        cells = []
        for level in fm["maps_to"]:
            para = nodes.paragraph()
            for i, fit in enumerate(sorted(per_req[req_id][level], key=lambda f: natural_key(
                    cw.needs[f[fm["clause"]][0]]["clause_ref"] or ""))):
                if i:
                    para += nodes.Text("; ")
                clause_id = fit[fm["clause"]][0]
                para += nodes.reference("", cw.label(clause_id), internal=True,
                                        refuri=app.builder.get_relative_uri(docname, fit["docname"]) + "#" + fit["id"])
            cells.append(para)
        rows.append([first, cw.needs[req_id]["title"], *cells])
    out.append(_table(["Requirement", "Title", *(f"{l.capitalize()} fit" for l in fm["maps_to"])], rows,
                      ["kb-crosswalk-requirements"], [18, 42, 20, 20]) if rows
               else nodes.paragraph(text="None: no requirement has a full or partial fit to this framework."))

    out.append(nodes.rubric(text="Clauses no requirement reaches (gaps)"))
    rows = []
    for clause_id in clauses:
        if clause_id in reached:
            continue
        first = nodes.paragraph()
        first += _ref(app, docname, cw.needs[clause_id], cw.label(clause_id))
        related = sorted((f[fm["requirement"]][0] for f in fits if f[fm["clause"]][0] == clause_id), key=natural_key)
        rows.append([first, cw.needs[clause_id]["clause_title"] or "",
                     _req_list(app, cw, docname, related) if related else "",
                     str(len(cw.topic_links_to(clause_id)))])
    out.append(_table(["Clause", "Title", "Related requirements (see also)", "Topic links"], rows,
                      ["kb-crosswalk-gaps"], [18, 42, 28, 12]) if rows
               else nodes.paragraph(text="None: a full or partial fit reaches every clause."))

    out.append(nodes.rubric(text="Every fit, with its reason"))
    out.append(_fit_rows(app, cw, docname, fits) if fits else nodes.paragraph(text="None."))
    return out


def render_coverage(app, cw: Crosswalk, docname: str) -> list[nodes.Node]:
    """Per framework: its clauses and how many a fit reaches; the requirements mapped."""
    rows = []
    for column in cw.columns:
        n = framework_counts(cw, column["key"])
        rows.append([_doc_ref_para(app, docname, column), str(n["clauses"]), str(n["reached"]),
                     str(n["not reached"]), str(n["requirements"]),
                     str(n["full fits"]), str(n["partial fits"]), str(n["related fits"]), str(n["topic links"])])
    return [_table(["Framework", "Clauses", "Reached", "Gaps", "Requirements mapped",
                    "Full fits", "Partial fits", "Related fits", "Topic links"],
                   rows, ["kb-crosswalk-coverage"], [22, 9, 9, 9, 11, 9, 9, 9, 13])]


def render_legend(app, cw: Crosswalk, docname: str) -> list[nodes.Node]:
    rows = []
    for link, decl in cw.evidence.items():
        code = nodes.paragraph()
        code += nodes.literal(text=link)
        rows.append([decl["marker"], code, decl["meaning"]])
    return [_table(["Marker", "Link type", "Meaning"], rows, ["kb-crosswalk-legend"], [15, 25, 60])]


def fill_views(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    views = placeholders.on_page(app, doctree, crosswalk_view)
    if not views:
        return
    cw = once_per_build(app, "crosswalk", lambda: Crosswalk(app))
    for view in views:
        kind = view["kind"]
        if kind == "topic":
            new = render_topic(app, cw, docname)
        elif kind == "matrix":
            new = render_matrix(app, cw, docname)
        elif kind == "framework":
            new = render_framework(app, cw, docname, view["column"])
        elif kind == "fits":
            new = render_fits(app, cw, docname)
        elif kind == "coverage":
            new = render_coverage(app, cw, docname)
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
    placeholders.register(crosswalk_view)
    app.add_directive("kb-crosswalk-cell", CellDirective)
    app.add_directive("kb-crosswalk-topic", TopicDirective)
    app.add_directive("kb-crosswalk-matrix", MatrixDirective)
    app.add_directive("kb-crosswalk-framework", FrameworkDirective)
    app.add_directive("kb-crosswalk-legend", LegendDirective)
    app.add_directive("kb-crosswalk-coverage", CoverageDirective)
    app.add_directive("kb-fits", FitsDirective)
    app.connect("needs-before-sealing", judge_fits)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)
    app.connect("doctree-resolved", fill_views)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
