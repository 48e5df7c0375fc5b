"""Incremental builds that stay correct: after an edit, write again every page that shows a
need whose rendering changed, and no other.

Sphinx writes again only the pages it re-read. sphinx-needs does not track which pages show
the needs of other pages, so after an edit the needextract tabs, the tables, the diagrams, the
coverage summary and the boxes of linked needs (back links, coverage, suspect flags) kept their
old content until a full build. This module compares the needs as read (before links are
resolved) with those of the previous build and returns to Sphinx, at ``env-updated``, the pages
to write besides the ones it re-read:

* changed: needs added, removed, or with another title, content, field or outgoing link;
* affected: the changed needs; when a need was added, removed, moved to another page or
  changed its type or links, also the needs it links to, before and after (their back links,
  counts and coverage change) and the needs linking to it (the targets of their links);
  and the needs with a covering link (implements, verifies, maintains) to a changed need
  (their chain shows it; if the link was reviewed, its fingerprint changed their suspect
  flags);
* the pages of the affected needs (a need's box shows all of it, back links and chain
  included);
* the pages with a filtered view (needextract, needtable, needflow, needlist) that shows a
  change, field by field: a need comes into or out of its filter (its values before and
  after); a changed need it selects changed a field it shows (a needtable shows its columns,
  its sort key and the ID with its page; the other views whole needs); a need it selects
  got other derived data (back links, coverage, suspect flags) and it shows some; or a need
  it selects links to a need that came, went or moved, and it shows that link;
* the pages with a ``:need:`` reference to a changed need (or a ``:need_incoming:`` /
  ``:need_outgoing:`` to an affected one);
* the pages with a view that only counts the needs its filters select (need_count, needpie,
  needbar): when a need came or went, a changed need changed a field its filters read, or
  derived data they read (coverage, counts) may have changed;
* every page with a view that depends on a filter this module cannot read or on all needs,
  whenever anything changed; and every page with a view that shows some fields of every need
  (``kb_shows_fields``, or every field as read but some: ``kb_shows_fields_but``), when a
  need was added or removed or one of those fields changed.

A filter may name derived fields (coverage, the counts, back links): the needs as read do not
have them, so a need whose derived data may have changed counts as coming into or out of it,
and one whose derived data stayed as it was and whose filter cannot be evaluated without them
counts as selected. A need's derived data may change when its links, its type, its page or the
fields its coverage reads changed, when it is the target of such a need's links, when a need
on its chain changed, or (its fingerprint and the suspect flags of the reviewed links to it)
when anything about it changed.

A title edit thus writes the tables that show titles, not those that list the same needs
by other columns; a content edit writes no crosswalk page.

Each node this site adds to a page says what it shows (``DECLARATIONS``; a test holds every
node class of the site to it): all needs, some fields of every need, some fields of the needs
a filter selects (the life-cycle page), or no need (its output depends on the model or on
nothing; a needtable inside it declares itself). A node may add the titles of the needs a
function picks from the needs as read (``TitlesOf``: a crosswalk framework page shows the
titles of the requirements mapped to it, not of every requirement).

A page written again does not write the pages above it in the toctrees, unless its table of
contents changed, and a page retitled writes every page (``kb.build.contents``).

needextend (the crosswalk's mappings) counts as part of the needs it selects: the link
targets it adds are among a need's links, so a need that comes into or out of an extend's
filter changes its links and the pages of those targets are written. When ubproject.toml,
requirements/reviewed-links.json or any needextend changed, or an extend's filter or values
cannot be read from the needs as read, every page is written."""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib
import json
from pathlib import Path
from typing import NamedTuple

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

from .. import compat
from ..model import model_of
from ..quality import coverage, review

logger = logging.getLogger(__name__)

#: Files read by the site's extensions outside the documents.
INPUTS = ("ubproject.toml", "requirements/reviewed-links.json")
#: Fields the site's own extensions set after reading (kb.quality: coverage, review).
SET_AFTER_READING = {*coverage.FIELDS_SET, *review.FIELDS_SET}
#: Of those, the suspect flags (kb.quality.review): all that changes on a need whose covering
#: link points to a changed need, when nothing else about it changed.
SUSPECT_FIELDS = set(review.FIELDS_SET)
#: The fields of a need its own derived data reads besides its links (its suspect flags read
#: only its links and the needs they point to).
OWN_DERIVED_INPUTS = set(coverage.FIELDS_READ)
#: Raw fields that do not show on any page.
NOT_SHOWN = {"lineno", "lineno_content"}
#: Views that select needs with a filter are compat.FILTERED_VIEWS, views that count them
#: compat.count_filters; any other node of sphinx-needs (need_func, ...) depends on all needs,
#: and so does a node of this site that says so (``kb_shows_all_needs``).
ALL = None  # a view that depends on all needs
#: What a node class of this site declares it shows, as a class attribute:
#: ``kb_shows_all_needs = True``; ``kb_shows_fields = ("type", ...)``, fields of every need
#: (as read, before links are resolved); ``kb_shows_fields_but = ("content", ...)``, every field
#: of every need as read except these (a view that never shows them: an edit of them alone
#: leaves its page as it is); ``kb_shows_no_needs = "why"``.
#: ``kb_shows_selection = (filter, fields)``, those fields (as read or derived) of the needs the
#: filter selects, as a needtable with those columns.
DECLARATIONS = ("kb_shows_all_needs", "kb_shows_fields", "kb_shows_fields_but", "kb_shows_selection",
                "kb_shows_no_needs")
UNKNOWN = object()  # a value the previous build did not keep: counts as changed


class TitlesOf(NamedTuple):
    """A view that shows the titles of some needs, besides its other fields (a node that says
    so with ``kb_shows_titles_picked_by = "module:function"``): the function picks them from
    the needs as read, ``function(values by need ID, argument, confdir) -> IDs``, the argument
    being the node's ``kb_titles_argument``."""

    function: str
    argument: str


class Selection(NamedTuple):
    """A filtered view: its filter (over the needs as read), the fields as read it shows of the
    needs it selects (None: whole needs), and the derived fields it shows of them or its filter
    reads."""

    filter: str
    fields: frozenset[str] | None
    derived: frozenset[str]


class Counts(NamedTuple):
    """A view that shows how many needs its filters select: the fields as read (and need
    parts) and the derived fields the filters read."""

    fields: frozenset[str]
    derived: frozenset[str]


@functools.cache
def _raw_names_of(confdir: str) -> frozenset[str]:
    """Fields a filter may name and still be answered from the needs as read."""
    model = model_of(confdir)
    fields = set(model.fields) - set(model.derived_fields) - SET_AFTER_READING
    return frozenset(fields | set(model.links) | {"id", "type", "title", "docname", "status", "tags", "content"})


@functools.cache
def _derived_names_of(confdir: str) -> frozenset[str]:
    """Fields a filter may name that the needs have only after reading: derived by sphinx-needs
    (counts, fingerprint), set by this site (coverage, suspect flags), back links."""
    model = model_of(confdir)
    return frozenset({*model.derived_fields, *SET_AFTER_READING, *(f"{link}_back" for link in model.links)})


def _selection(node: nodes.Element, raw: frozenset[str], derived: frozenset[str]) -> Selection | None:
    """What a filtered view selects and shows, if its filter names only fields this module
    knows, else ALL."""
    a = node.attributes
    if a.get("filter_func") or list(a.get("filter_code") or []) or a.get("status") or a.get("tags") or a.get("types"):
        return ALL
    return _shown_selection(a.get("filter") or "True", compat.fields_shown(node), raw, derived)


def _shown_selection(expr: str, shown: frozenset[str] | None, raw: frozenset[str],
                     derived: frozenset[str]) -> Selection | None:
    read = _names_read(expr, raw, derived)
    if read is ALL:
        return ALL
    if shown is None:
        return Selection(expr, None, frozenset({"*"}))
    return Selection(expr, frozenset(shown & raw), frozenset(shown - raw) | (read - raw))


def _names_read(expr: str, raw: frozenset[str], derived: frozenset[str]) -> frozenset[str] | None:
    """The fields a filter names, or ALL when it names something else (a function, a variable)
    or the content (the state keeps a digest of the content)."""
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        return ALL
    names = frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name))
    return names if names <= (raw - {"content"}) | derived else ALL


def _counts(filters: list[str], raw: frozenset[str], derived: frozenset[str]) -> Counts | None:
    read: set[str] = set()
    for expr in filters:
        names = _names_read(expr, raw, derived)
        if names is ALL:
            return ALL
        read |= names
    return Counts(frozenset(read & raw) | {"parts"}, frozenset(read - raw))


def note_documents_read(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    """At env-before-read-docs, after every handler that adds documents to read: which."""
    env.kb_docs_read = set(docnames)


def collect_views(app: Sphinx, doctree: nodes.document) -> None:
    """At doctree-read: the views and need references of the page."""
    raw, derived = _raw_names_of(str(app.confdir)), _derived_names_of(str(app.confdir))
    views, refs, link_refs = [], set(), set()
    for node in doctree.findall(nodes.Element):
        if isinstance(node, compat.NEED_REFERENCES):
            target = str(node.get("reftarget", "")).rsplit("<", 1)[-1].rstrip(">")  # "text <ID.part>"
            (link_refs if isinstance(node, compat.LINK_REFERENCES) else refs).add(target.split(".")[0].strip())
        elif isinstance(node, compat.FILTERED_VIEWS):
            views.append(_selection(node, raw, derived))
        elif (filters := compat.count_filters(node)) is not None:
            views.append(_counts(filters, raw, derived))
        elif getattr(node, "kb_shows_fields", None):
            fields = tuple(sorted(node.kb_shows_fields))
            views.append(fields if set(fields) <= raw else ALL)
        elif getattr(node, "kb_shows_selection", None):
            expr, shown = node.kb_shows_selection
            views.append(_shown_selection(expr, frozenset(shown), raw, derived))
        elif getattr(node, "kb_shows_fields_but", None):
            views.append(tuple(sorted(raw - set(node.kb_shows_fields_but))))
        elif getattr(node, "kb_shows_all_needs", False) or compat.is_needs_node(node):
            views.append(ALL)
        if getattr(node, "kb_shows_titles_picked_by", None):
            views.append(TitlesOf(node.kb_shows_titles_picked_by, node.get("kb_titles_argument", "")))
    state = _views(app.env)
    state[app.env.docname] = (views, refs, link_refs)


def _views(env: BuildEnvironment) -> dict:
    if not hasattr(env, "kb_views"):
        env.kb_views = {}
    return env.kb_views


def purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    _views(env).pop(docname, None)


def merge(app: Sphinx, env: BuildEnvironment, docnames: list[str], other: BuildEnvironment) -> None:
    theirs = _views(other)
    _views(env).update({d: theirs[d] for d in docnames if d in theirs})


def _digest(need) -> str:
    data = {k: v for k, v in need.items() if k not in NOT_SHOWN}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _values(need, raw: frozenset[str]) -> dict:
    """The fields as read of a need, the content as a digest (it can be long), its parts."""
    values = {k: need[k] for k in raw if k in need}
    values["content"] = hashlib.sha256(str(need.get("content", "")).encode()).hexdigest()
    values["parts"] = sorted(need.get("parts") or ())
    return values


def _inputs(app: Sphinx) -> str:
    h = hashlib.sha256()
    for name in INPUTS:
        path = Path(app.confdir) / name
        h.update(path.read_bytes() if path.is_file() else b"-")
    return h.hexdigest()


@functools.lru_cache(maxsize=None)
def _compiled(expr: str):
    try:
        return compile(expr, "<filter>", "eval")
    except SyntaxError:
        return None


def _selects(expr: str, values: dict) -> bool:
    """Whether the filter selects a need with these values; True when it cannot tell."""
    code = _compiled(expr)
    if code is None:
        return True
    try:
        return bool(eval(code, {"__builtins__": {}}, dict(values)))  # noqa: S307 -- the site's own filters
    except Exception:
        return True


def _extends_digest(env: BuildEnvironment) -> str:
    """A digest of the needextends."""
    shown = sorted(json.dumps([e["docname"], e["filter"], e["filter_is_id"], e["modifications"],
                               e["list_modifications"], e["extend_priority"]], sort_keys=True, default=repr)
                   for e in compat.extends(env))
    return hashlib.sha256("\n".join(shown).encode()).hexdigest() if shown else ""


def _extended_links(env: BuildEnvironment, needs: dict[str, dict], raw: frozenset[str]) -> dict[str, set[str]] | None:
    """Per need (of ``needs``: values by ID), the link targets the needextends add to it; None
    when an extend cannot be followed from the needs as read (every page is written then)."""
    extends = compat.extends(env)
    added: dict[tuple[str, bool], set[str]] = {}
    for e in extends:
        targets = added.setdefault((e["filter"], e["filter_is_id"]), set())
        for _, _, value in e["list_modifications"]:
            items = compat.extend_targets(value)
            if items is None:
                return None  # a dynamic function: its targets are known only after resolving
            targets.update(f"{i}.{part}" if part else i for i, part in items)
    links: dict[str, set[str]] = {}
    for (expr, is_id), targets in added.items():
        if is_id:
            links.setdefault(expr, set()).update(targets)
            continue
        if _names_read(expr, raw, frozenset()) is ALL:
            return None
        for i, v in needs.items():
            if _selects(expr, v):
                links.setdefault(i, set()).update(targets)
    return links


def pages_to_write(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """At env-updated: the pages to write besides the re-read ones."""
    read_now = env.__dict__.pop("kb_docs_read", None)
    old = getattr(env, "kb_needs_state", None)
    inputs = _inputs(app) + _extends_digest(env)
    # a need of a page not read again is as it was (needs as read come from reading), so its
    # state is the last build's, unless the inputs changed or an extend could not be followed
    kept = old["needs"] if old and old["inputs"] == inputs and read_now is not None else {}
    link_types = compat.link_types(env)
    confdir = str(app.confdir)
    model = model_of(confdir)
    covering_links = model.covering_link_names
    raw = _raw_names_of(confdir)
    new, fresh = {}, {}
    for i, need in compat.needs_as_read(env).items():
        doc = need["docname"]
        if i in kept and kept[i]["doc"] == doc and doc in env.found_docs and doc not in read_now:
            new[i] = kept[i]
            continue
        n = dict(need.items())  # links not resolved yet; a plain dict, read field by field below
        new[i] = fresh[i] = {"digest": _digest(n), "doc": doc, "type": n["type"],
                             "links": sorted({t for link in link_types for t in n[link] or []}),
                             "covering": sorted({t for link in covering_links for t in n[link] or []}),
                             "values": _values(n, raw)}
    extended = _extended_links(env, {i: s["values"] for i, s in fresh.items()}, raw)
    for i, targets in (extended or {}).items():
        fresh[i]["links"] = sorted(set(fresh[i]["links"]) | targets)
    if extended is None:
        inputs += "unknown"
    env.kb_needs_state = {"needs": new, "inputs": inputs}
    views = _views(env)
    if old is None:
        return []  # a first build writes every page anyway
    if old["inputs"] != inputs or extended is None:
        return sorted(env.found_docs)
    before = old["needs"]
    states = lambda i: [s for s in (before.get(i), new.get(i)) if s]  # noqa: E731
    changed = {i for i in before.keys() | new.keys()
               if (before.get(i) or {}).get("digest") != (new.get(i) or {}).get("digest")}
    if not changed:
        return []
    # added, removed, moved to another page, another type or other links: the back links,
    # counts and coverage of the targets change, and so do the links to it
    every_field = raw | {"content", "parts"}
    fields_changed = {i: every_field if len(states(i)) == 1 else
                      {k for k in every_field if before[i]["values"].get(k, UNKNOWN) != new[i]["values"].get(k)}
                      for i in changed}
    structural = {i for i in changed if len(states(i)) == 1 or any(
        before[i][k] != new[i][k] for k in ("doc", "type", "links"))}
    # needs whose derived data changes: the targets of a need that came, went, moved or changed
    # its links (their back links, counts and coverage); the needs linking to such a need (the
    # targets of their links); the needs with a covering link to a changed need (the chain on
    # their pages shows it), whose suspect flags change too if the link was reviewed (a link
    # never reviewed is suspect whatever its target's fingerprint); and, since the chain on a
    # requirement's page (kb.views.chain) shows the needs that cover what covers it, two steps
    # of covering links
    reviewed = review.load_reviewed(app.confdir)
    relinked = {i for i, s in new.items() if structural.intersection(s["links"])}
    derived = {t for i in structural for s in states(i) for t in s["links"]} | relinked
    covering_a_change = {i for i, s in new.items() if changed.intersection(s["covering"])}
    suspect = {i for i in covering_a_change if changed.intersection(new[i]["covering"], reviewed.get(i, ()))}
    reviewed_targets = {t for targets in reviewed.values() for t in targets}
    fingerprint = model.fingerprint_field
    hop = {t for i in changed for s in states(i) for t in s["covering"]}
    derived |= hop | {t for i in hop for s in states(i) for t in s["covering"]}
    affected = changed | derived | covering_a_change
    pages = {s["doc"] for i in affected for s in states(i)}
    link_fields = frozenset(link_types)

    def derived_changed(i: str, shown: frozenset[str]) -> bool:
        """Whether derived data of need ``i`` among ``shown`` (derived field names, "*" for
        any) may have changed."""
        if not shown:
            return False
        if i in derived:
            return True
        if i in changed and (i in structural or fields_changed[i] & OWN_DERIVED_INPUTS):
            return True  # its own coverage changes with its links or the fields it reads
        if i in changed and shown & {"*", fingerprint}:
            return True
        if i in changed and i in reviewed_targets and shown & SUSPECT_FIELDS:
            return True  # its fingerprint changed: the reviewed links to it are suspect now
        if i in covering_a_change and "*" in shown:
            return True  # its chain shows the changed need
        return i in suspect and bool(shown & SUSPECT_FIELDS)  # its suspect flags changed

    def selection_shows_a_change(view: Selection) -> bool:
        for i in affected:
            selected = [bool(s) and _selects(view.filter, s["values"]) for s in (before.get(i), new.get(i))]
            if not any(selected):
                continue
            if i in changed and (selected[0] != selected[1] or view.fields is None
                                 or fields_changed[i] & view.fields):
                return True
            if derived_changed(i, view.derived):
                return True  # shown, or it may come into or out of a filter that reads it
            if i in relinked and (view.fields is None or link_fields & view.fields):
                return True  # the href of a link to a need that came, went or moved
        return False

    def counts_show_a_change(view: Counts) -> bool:
        return any(len(states(i)) == 1 or (i in changed and fields_changed[i] & view.fields)
                   or derived_changed(i, view.derived) for i in affected)

    retitled = {i for i in changed if "title" in fields_changed[i]}
    values_before = {i: s["values"] for i, s in before.items()}
    values_new = {i: s["values"] for i, s in new.items()}

    @functools.cache
    def titles_shown(view: TitlesOf) -> set[str]:
        module, name = view.function.split(":")
        pick = getattr(importlib.import_module(module), name)
        return pick(values_before, view.argument, confdir) | pick(values_new, view.argument, confdir)

    def shows_a_change(view) -> bool:
        if view is ALL:
            return True
        if isinstance(view, TitlesOf):
            return bool(retitled) and bool(retitled & titles_shown(view))
        if isinstance(view, Selection):  # a NamedTuple: before the plain tuple
            return selection_shows_a_change(view)
        if isinstance(view, Counts):
            return counts_show_a_change(view)
        # fields of every need: a need came or went, or a field changed
        return any(fields_changed[i].intersection(view) for i in changed)

    for doc, (doc_views, refs, link_refs) in views.items():
        if doc not in pages and (refs & changed or link_refs & affected
                                 or any(shows_a_change(v) for v in doc_views)):
            pages.add(doc)
    pages &= env.found_docs
    logger.info(f"kb.build.rebuild: {len(changed)} needs changed, {len(affected)} affected, "
                f"{len(pages)} pages to write", color="darkgreen")
    return sorted(pages)


def setup(app: Sphinx) -> dict:
    compat.search_index_as_in_a_full_build()
    app.connect("env-before-read-docs", note_documents_read, priority=999)
    app.connect("doctree-read", collect_views)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)
    app.connect("env-updated", pages_to_write)
    # 3: the views of a page are (views, references, link references), filtered views a
    # Selection, counting views Counts; a need's values include its parts
    return {"env_version": 3, "parallel_read_safe": True, "parallel_write_safe": True}
