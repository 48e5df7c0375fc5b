"""Every use of a private or undocumented API of Sphinx or sphinx-needs, in one place.

The site needs a few things neither project offers publicly: adding generated documents to
the project, dropping the doctrees Sphinx keeps in memory, the needs as read (before links
are resolved), the needextend records, the node classes of sphinx-needs' views, a layout
function of its own, the texts of sphinx-needs' messages, furo's navigation tree (computed
once per build by kb.build.navigation, which reproduces what furo and Sphinx do per page),
sphinx-needs' needs.json writer (the same bytes, encoded by Python's C encoder), and its
purge of a document (skipped where there is nothing to purge).
Each is reached here and nowhere else (tests/ext/test_compat.py fails on an underscore-prefixed
name of Sphinx, sphinx-needs or furo anywhere else), and ``check`` proves each one still exists
when the build starts: an
upgrade that renames one stops the build with one line naming what changed and the versions
this site supports, instead of silently leaving stale pages, losing error hints or switching
a speed-up off. Where ``sphinx_needs.api`` documents an accessor (``get_needs_view``), the
other modules use it directly."""

from __future__ import annotations

import functools
import hashlib
import inspect
import io
import os
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

import furo
import furo.navigation
import sphinx.builders as sphinx_builders
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.builders import Builder
from sphinx.builders.html import StandaloneHTMLBuilder
from sphinx.environment import BuildEnvironment
from sphinx.environment.adapters import toctree as sphinx_toctree
from sphinx.events import EventManager
from sphinx.project import Project
from sphinx.search import IndexBuilder
from sphinx.writers.html5 import HTML5Translator
from sphinx_needs.builder import NeedsBuilder
from sphinx_needs.data import (NeedsBarType, NeedsCoreFields, NeedsExtendType, NeedsPieType, NeedsTableType,
                               SphinxNeedsData)
from sphinx_needs.directives.need import purge_needs
from sphinx_needs.directives.needbar import Needbar, process_needbar
from sphinx_needs.directives.needextend import Needextend
from sphinx_needs.directives.needextract import Needextract
from sphinx_needs.directives.needflow._directive import NeedflowGraphiz, NeedflowPlantuml
from sphinx_needs.directives.needlist import Needlist
from sphinx_needs.directives.needpie import Needpie
from sphinx_needs.directives.needtable import Needtable
from sphinx_needs.functions.functions import DynamicFunctionParsed
from sphinx_needs.layout import LayoutHandler
from sphinx_needs.need_item import NeedItem, NeedLink, NeedModification
from sphinx_needs.needsfile import NeedsList
from sphinx_needs.nodes import Need
from sphinx_needs.roles.need_count import NeedCount, process_need_count
from sphinx_needs.roles.need_incoming import NeedIncoming
from sphinx_needs.roles.need_outgoing import NeedOutgoing
from sphinx_needs.roles.need_part import NeedPart
from sphinx_needs.roles.need_ref import NeedRef
from sphinx_needs.schema import process as needs_schema_process
from sphinx_needs.schema import reporting as needs_schema_reporting

SUPPORTED = "Sphinx 9.0 with sphinx-needs 9.1 and furo 2025.12.19"


class IncompatibleUpgrade(SystemExit):
    """Stops the build with one line (Sphinx reports any other exception as a crash)."""

    def __init__(self, what: str) -> None:
        installed = ", ".join(f"{d} {_version(d)}" for d in ("sphinx", "sphinx-needs", "furo"))
        super().__init__(f"error: kb.compat: {what}; this site supports {SUPPORTED} "
                         f"(installed: {installed}); adapt _ext/kb/compat.py or install the "
                         "versions of requirements.lock")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


# ---------------------------------------------------------------------- Sphinx
def add_generated_document(env: BuildEnvironment, docname: str, source: Path) -> None:
    """Put ``docname`` into the project, read from the file ``source`` (relative to the
    source directory). Project.doc2path() reads a private mapping that has no setter."""
    env.project.docnames.add(docname)
    env.project._docname_to_path[docname] = source


def drop_read_doctrees(env: BuildEnvironment) -> bool | None:
    """Free the doctrees a serial build keeps in memory since reading them (Sphinx loads them
    again from its pickles when writing). None: this Sphinx keeps no such cache; False: it
    was empty (nothing was read); True: it was emptied."""
    cache = getattr(env, "_write_doc_doctree_cache", None)
    if cache is None:
        return None
    had = bool(cache)
    cache.clear()
    return had


#: kb.build.hygiene takes a doctree apart once Sphinx is done with it: a document read, once
#: write_doctree has pickled it (the last thing read_doc does with it; Sphinx would keep it in
#: env._write_doc_doctree_cache for the write unless write_doctree's private ``_cache`` says
#: not to), and a page, once write_doc has written it (the last use in _write_docname, and in
#: the writer processes of _write_parallel). The sources of the four are checked.
DOCTREE_LIFE_SOURCES = {
    "sphinx.builders.Builder.read_doc": (lambda: Builder.read_doc, "713040ca96af0e9e"),
    "sphinx.builders.Builder.write_doctree": (lambda: Builder.write_doctree, "d1386c9b4273a999"),
    "sphinx.builders._write_docname": (lambda: sphinx_builders._write_docname, "b15f93fe8a33c9ca"),
    "sphinx.builders.Builder._write_parallel": (lambda: Builder._write_parallel, "3ea209a4e854b609"),
}


def hand_over_doctrees(builder: Builder, take: Callable[[nodes.document], None], *, pages: bool) -> None:
    """Give ``take`` each doctree ``builder`` reads once it is pickled, instead of Sphinx
    keeping it in memory until the write (which then loads the pickle, as an incremental or a
    parallel build does), and with ``pages`` each page once it is written
    (DOCTREE_LIFE_SOURCES)."""
    write_doctree = builder.write_doctree

    @functools.wraps(write_doctree)
    def write_doctree_then_take(docname: str, doctree: nodes.document, *, _cache: bool = True) -> None:
        write_doctree(docname, doctree, _cache=False)
        take(doctree)

    builder.write_doctree = write_doctree_then_take
    if pages:
        write_doc = builder.write_doc

        @functools.wraps(write_doc)
        def write_doc_then_take(docname: str, doctree: nodes.document) -> None:
            write_doc(docname, doctree)
            take(doctree)

        builder.write_doc = write_doc_then_take


def search_index_as_in_a_full_build() -> None:
    """Make the search index of an incremental build the one a full build writes. Sphinx
    loads the index of the last build from searchindex.js and feeds it the pages it writes;
    but its load() leaves out the index entries (the glossary's terms: lost from the search
    after any build that does not write the glossary page), its prune() leaves a term of a
    page that is gone with an empty list of pages, and freeze() lists the entries in the
    order the pages were fed. Here the entries are loaded too, emptied terms dropped, and
    the entries frozen in the order of the page names (a full serial build's order)."""
    if getattr(IndexBuilder.load, "kb_patched", False):
        return
    load, prune, freeze = IndexBuilder.load, IndexBuilder.prune, IndexBuilder.freeze

    @functools.wraps(load)
    def load_with_entries(self, stream, format) -> None:
        text = stream.read()
        load(self, io.BytesIO(text) if isinstance(text, bytes) else io.StringIO(text), format)
        fmt = self.formats[format] if isinstance(format, str) else format
        frozen = fmt.loads(text)
        index2fn = frozen["docnames"]
        entries: dict[str, list[tuple[str, str, str]]] = {}
        for entry, places in frozen.get("indexentries", {}).items():
            for doc, entry_id, main in places:
                entries.setdefault(index2fn[doc], []).append((entry, entry_id, "main" if main else ""))
        self._index_entries.clear()
        self._index_entries.update({d: sorted(e) for d, e in entries.items()})

    @functools.wraps(prune)
    def prune_emptied(self, docnames) -> None:
        kept = set(docnames)
        prune(self, kept)
        for doc in [d for d in self._index_entries if d not in kept]:
            del self._index_entries[doc]
        for mapping in (self._mapping, self._title_mapping):
            for word in [w for w, pages in mapping.items() if not pages]:
                del mapping[word]

    @functools.wraps(freeze)
    def freeze_in_page_order(self):
        ordered = sorted(self._index_entries.items())
        self._index_entries.clear()
        self._index_entries.update(ordered)
        return freeze(self)

    load_with_entries.kb_patched = True
    IndexBuilder.load, IndexBuilder.prune, IndexBuilder.freeze = load_with_entries, prune_emptied, freeze_in_page_order


# ---------------------------------------------------------------------- sphinx-needs data
def needs_as_read(env: BuildEnvironment):
    """The needs before links are resolved and needextend applied (at ``env-updated``)."""
    return SphinxNeedsData(env).get_needs_mutable()


def link_types(env: BuildEnvironment) -> list[str]:
    """The outgoing link fields of the project's needs."""
    return list(SphinxNeedsData(env).get_schema().iter_link_field_names())


def extends(env: BuildEnvironment) -> list[dict]:
    """The needextend records: docname, lineno, filter, filter_is_id, modifications,
    list_modifications (link field, kind, value) and extend_priority."""
    return list(SphinxNeedsData(env).get_or_create_extends().values())


def extend_targets(value) -> list[tuple[str, str | None]] | None:
    """The (need ID, part) a list modification adds; None when it is computed (a dynamic
    function), so its targets are known only once the needs are resolved."""
    items = list(getattr(value, "value", None) or [])
    if not all(isinstance(v, NeedLink) for v in items):
        return None
    return [(v.id, v.part) for v in items]


def extend_link_ids(value) -> list[str]:
    """The need IDs a list modification names (the text of a computed value)."""
    return [getattr(v, "id", str(v)) for v in getattr(value, "value", None) or []]


def modified_at(need) -> list[tuple[str | None, int | None]]:
    """Where the needextend blocks that changed ``need`` stand: (docname, line)."""
    return [(m.docname, m.lineno) for m in need.modifications]


# ---------------------------------------------------------------------- sphinx-needs nodes
#: Views that select needs with a filter.
FILTERED_VIEWS = (Needextract, Needtable, Needlist, NeedflowGraphiz, NeedflowPlantuml)
#: Inline references to one need (``:need:``, ``:need_incoming:``, ...).
NEED_REFERENCES = (NeedRef, NeedIncoming, NeedOutgoing, NeedPart)
#: Of those, the ones that show the links of a need, not only its title.
LINK_REFERENCES = (NeedIncoming, NeedOutgoing)


def fields_shown(node: nodes.Element) -> frozenset[str] | None:
    """The fields of its needs a view shows, or None when it shows whole needs. A needtable
    shows its columns, orders by its sort key, and links each ID to the need's page; a
    style_row with a dynamic function or shown need parts can show any field. Every other view
    (needextract, needlist, needflow) counts as showing whole needs."""
    if not isinstance(node, Needtable):
        return None
    a = node.attributes
    if "[[" in str(a.get("style_row") or "") or a.get("show_parts"):
        return None
    sort = "id" if a.get("sort") in (None, "", "id_complete") else a["sort"]
    # sphinx-needs keeps a column as (NAME in upper case, its title)
    return frozenset({name.lower() for name, _ in a["columns"]} | {"id", "docname", sort})


def count_filters(node: nodes.Element) -> list[str] | None:
    """The filters of a view that shows only how many needs each selects (``:need_count:``,
    needpie, needbar; need parts counted), its scope as filters too; None for any other node,
    or for a view with a filter function (its selection cannot be read from the page)."""
    if isinstance(node, NeedCount):
        return [f for f in str(node.get("reftarget") or "").split(" ? ") if f.strip()]
    if not isinstance(node, (Needpie, Needbar)):
        return None
    a = node.attributes
    if a.get("filter_func") or not a.get("content"):
        return None
    scope = [f"{name} in {values!r}" for name, values in (("status", a.get("status")), ("tags", a.get("tags")),
                                                          ("type", a.get("types"))) if values]
    if isinstance(node, Needpie):
        cells = list(a["content"])
    else:  # a table of filters, maybe with a row and a column of labels, or plain numbers
        rows = [line.split(a.get("separator") or ",") for line in a["content"]]
        from_data = lambda labels: bool(labels) and labels[0] == "FROM_DATA"  # noqa: E731
        if from_data(a.get("xlabels")):
            rows = rows[1:]
        if from_data(a.get("ylabels")):
            rows = [row[1:] for row in rows]
        cells = [cell for row in rows for cell in row if not cell.strip().isdigit()]
    return [*scope, *([a["filter"]] if a.get("filter") else []), *(c.strip() for c in cells if c.strip())]


def is_needs_node(node: nodes.Node) -> bool:
    """A node sphinx-needs fills in when it resolves a page (any of its views or functions).
    Not a need (it shows its own need) nor a needextend (it shows nothing: sphinx-needs removes
    it when it resolves the page, and what it does to the needs it selects is in their links)."""
    return type(node).__module__.startswith("sphinx_needs.") and not isinstance(node, (Need, Needextend))


# ---------------------------------------------------------------------- layouts
#: Core fields a layout leaves out by default (the internal ones).
HIDDEN_CORE = frozenset(name for name, props in NeedsCoreFields.items() if not props.get("show_in_layout"))


def add_layout_function(name: str, function: Callable) -> None:
    """Make ``<<name(...)>>`` usable in need layouts: ``function(handler, *args, **kwargs)``.
    sphinx-needs has no API for it: each LayoutHandler fills its own function table."""
    init = LayoutHandler.__init__
    if getattr(init, "kb_functions", None) is None:
        added: dict[str, Callable] = {}

        @functools.wraps(init)
        def with_kb_functions(self, *args, **kwargs):
            init(self, *args, **kwargs)
            for key, func in added.items():
                self.functions[key] = functools.partial(func, self)

        with_kb_functions.kb_functions = added
        LayoutHandler.__init__ = with_kb_functions
    LayoutHandler.__init__.kb_functions[name] = function


def layout_need(handler) -> NeedItem:
    return handler.need


def layout_app(handler) -> Sphinx:
    return handler.app


def layout_docname(handler) -> str:
    """The page the need is shown on (a needextract shows it on another page than its own)."""
    return handler.fromdocname


def layout_link_fields(handler) -> Iterator[str]:
    return handler.needs_schema.iter_link_field_names()


def layout_meta(handler, name: str) -> nodes.inline:
    """What ``<<meta(name)>>`` renders, without a label."""
    return handler.meta(name)


def memoize_layout_parsing() -> None:
    """Parse each ``<<function(...)>>`` string of a layout once instead of for every need."""
    if getattr(DynamicFunctionParsed.from_string, "kb_memoized", False):
        return
    parse = DynamicFunctionParsed.from_string

    @functools.lru_cache(maxsize=256)
    def parsed(func_string: str, allow_need: bool) -> DynamicFunctionParsed:
        return parse(func_string, allow_need=allow_need)

    def from_string(cls, func_string: str, *, allow_need: bool = False) -> DynamicFunctionParsed:
        # new lists: a layout function may change a list it is given (meta_all's exclude);
        # the parser gives lists of str, int, float and bool only
        call = parsed(func_string, allow_need)
        fresh = lambda value: list(value) if isinstance(value, list) else value  # noqa: E731
        return DynamicFunctionParsed(call.name, tuple(fresh(a) for a in call.args),
                                     tuple((key, fresh(value)) for key, value in call.kwargs))

    from_string.kb_memoized = True
    DynamicFunctionParsed.from_string = classmethod(from_string)


# ---------------------------------------------------------------------- messages
#: How sphinx-needs words its messages about a need, as kb.quality.messages reads them:
#: (log record subtype ending, pattern of the message, [kb.fix] key), first match wins; a
#: schema rule's own key is its id, read from the message's "Schema path:".
NAMES_NEED = r"^Need '(?P<id>[^']+)' "
NOT_CREATED = r"^Need could not be created: "
MESSAGE_KINDS = [
    ("create_need", r"A need with ID '(?P<id>[^']+)' already exists", "duplicate-id"),
    ("create_need", r"Given ID '(?P<id>[^']+)' does not match", "id-scheme"),
    ("create_need", r"Field '(?P<field>[^']+)' is not nullable", "missing-field"),
    ("create_need", r"", "create-need"),
    ("link_outgoing", r"unknown outgoing link '(?P<target>[^']+)' in field '(?P<field>\w+)'", "dead-link"),
    ("link_target_type", r"in field '(?P<field>\w+)': target need type", "link-target-type"),
    ("field_fail", r"Field:\s+(?P<field>\w+)", "field-value"),
    ("link_fail", r"Field:\s+(?P<field>\w+)", "link-count"),
    ("local_fail", r"Schema path:\s+(?P<rule>[\w-]+)\[", None),
]
#: Words of those messages that the sources of sphinx-needs must still contain.
MESSAGE_TEXTS = {
    "api/need.py": ["already exists", "does not match", "is not nullable"],
    "directives/need.py": ["Need could not be created", "unknown outgoing link", "target need type"],
    "schema/reporting.py": ["Field:", "Schema path"],
}


# ---------------------------------------------------------------------- furo's navigation tree
#: The functions whose per-page result kb.build.navigation reproduces, by the SHA-256 of their
#: source: the rules it follows are read from them (which links and which ``li``/``ul`` get
#: ``current``, the checked checkbox, ``current-page``, how links are made relative), so any
#: change to one of them may change the bytes furo writes, and the build stops until the rules
#: are checked again (the test tests/ext/test_navigation_once.py compares both ways).
NAVIGATION_SOURCES = {
    "furo._compute_navigation_tree": (lambda: furo._compute_navigation_tree, "376f6a271e349b74"),
    "furo.navigation.get_navigation_tree": (lambda: furo.navigation.get_navigation_tree, "b224fef946c29f53"),
    "sphinx.environment.adapters.toctree._toctree_add_classes":
        (lambda: sphinx_toctree._toctree_add_classes, "8a553dfea4bdc56f"),
    "sphinx.environment.adapters.toctree._resolve_toctree":
        (lambda: sphinx_toctree._resolve_toctree, "f407c9997ee3a98e"),
    "sphinx.environment.adapters.toctree._toctree_standard_entry":
        (lambda: sphinx_toctree._toctree_standard_entry, "411921e603934dde"),
    "StandaloneHTMLBuilder._get_local_toctree":
        (lambda: StandaloneHTMLBuilder._get_local_toctree, "0081b8a2ebf98d41"),
}
#: Where a page's navigation tree computed by kb.build.navigation waits in the page's context
#: for furo (an html-page-context handler that runs before furo's puts it there).
PRECOMPUTED_NAVIGATION = "kb_navigation_tree"


def _source_digest(function: Callable) -> str:
    source = inspect.getsource(inspect.unwrap(function))
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def navigation_tree_with(builder: StandaloneHTMLBuilder, docname: str, link: Callable[[str], str]) -> str:
    """Furo's navigation tree as it computes it for the page ``docname``, except that each
    internal link is ``link(document name)`` + its anchor instead of the link relative to the
    page. Furo's own function is called with a context holding only the ``toctree`` function;
    that function is the builder's (``_get_local_toctree``: the global toctree, rendered) with
    a builder whose get_relative_uri is ``link`` (global_toctree_for_doc asks the builder for
    nothing else)."""

    class Links:
        def __init__(self) -> None:
            self.tags = builder.tags

        def get_relative_uri(self, from_: str, to: str, typ: str | None = None) -> str:
            return link(to)

    def toctree(collapse: bool = True, **kwargs) -> str:
        # as StandaloneHTMLBuilder._get_local_toctree (its source is checked)
        if "includehidden" not in kwargs:
            kwargs["includehidden"] = False
        if kwargs.get("maxdepth") == "":
            kwargs.pop("maxdepth")
        tree = sphinx_toctree.global_toctree_for_doc(builder.env, docname, Links(), tags=builder.tags,
                                                     collapse=collapse, **kwargs)
        return builder.render_partial(tree)["fragment"]

    return furo._compute_navigation_tree({"toctree": toctree})


def use_precomputed_navigation() -> None:
    """Make furo take a page's navigation tree from the page's context when it is there (under
    PRECOMPUTED_NAVIGATION) instead of computing it: its html-page-context handler calls the
    module's ``_compute_navigation_tree(context)``."""
    compute = furo._compute_navigation_tree
    if getattr(compute, "kb_patched", False):
        return

    @functools.wraps(compute)
    def precomputed_or_computed(context: dict) -> str:
        tree = context.pop(PRECOMPUTED_NAVIGATION, None)
        return compute(context) if tree is None else tree

    precomputed_or_computed.kb_patched = True
    furo._compute_navigation_tree = precomputed_or_computed


def has_own_relative_links(builder: Builder) -> bool:
    """Whether the builder makes links between pages otherwise than Builder does (from the
    target URIs of both pages; singlehtml's single page, for one)."""
    return type(builder).get_relative_uri is not Builder.get_relative_uri


# ---------------------------------------------------------------------- schema validation
#: What kb.build.validation reproduces (validating changed needs only, reporting the others'
#: findings from the last build), by the SHA-256 of its source: a change may change which
#: findings are reported, in which words and order, so the build stops until it is checked.
VALIDATION_SOURCES = {
    "sphinx_needs.schema.process.process_schemas": (lambda: needs_schema_process.process_schemas, "5739fad88b9c4535"),
    "sphinx_needs.schema.reporting.generate_json_schema_validation_report":
        (lambda: needs_schema_reporting.generate_json_schema_validation_report, "22de1843cf12b8f4"),
}


def write_parents_only_of(env: BuildEnvironment, docnames: set[str] | None) -> None:
    """Make Builder.write add, to the pages it writes, the pages whose toctree includes them
    only for ``docnames`` (None: for every page again, as Sphinx does). Builder.write reads
    them from env.files_to_rebuild, which Sphinx does not document; the environment has been
    saved before the write starts, so the narrowed mapping is never saved."""
    every = env.__dict__.pop("kb_files_to_rebuild", None)
    if every is not None:
        env.files_to_rebuild = every
    if docnames is not None:
        env.kb_files_to_rebuild = every = env.files_to_rebuild
        env.files_to_rebuild = {d: parents for d, parents in every.items() if d in docnames}


def write_needs_json(app: Sphinx, directory: Path) -> Path:
    """needs.json as sphinx-needs writes it at build-finished, into ``directory`` instead of
    the output: its NeedsBuilder writes into its own ``outdir``, which nothing else reads."""
    builder = NeedsBuilder(app, app.env)
    builder.outdir = directory
    builder.finish()
    return directory / "needs.json"


#: sphinx-needs writes needs.json with ``json.dump``, which always encodes in pure Python (the C
#: encoder serves ``json.dumps`` only); NeedsList.dump_json encodes the same document with the
#: same options through ``json.dumps``: the same bytes, about five times faster (at 10,000
#: needs 0.24 s against 1.2 s per build). Both methods are checked by the SHA-256 of their
#: source.
_SPHINX_NEEDS_WRITE_JSON = NeedsList.write_json  # before encode_needs_json_in_c replaces it
NEEDS_JSON_SOURCES = {
    "sphinx_needs.needsfile.NeedsList.write_json": (lambda: _SPHINX_NEEDS_WRITE_JSON, "931995b06b42c2c5"),
    "sphinx_needs.needsfile.NeedsList.dump_json": (lambda: NeedsList.dump_json, "394aeed1eecf2ebb"),
}


def _write_json_with_c_encoder(self: NeedsList, needs_file: str = "needs.json", needs_path: str = "") -> None:
    text = self.dump_json()
    with open(os.path.join(needs_path or self.outdir, needs_file), "w") as f:
        f.write(text)


def encode_needs_json_in_c() -> None:
    """Make sphinx-needs write needs.json through ``json.dumps`` (NEEDS_JSON_SOURCES)."""
    NeedsList.write_json = _write_json_with_c_encoder


def needs_schemas(env: BuildEnvironment) -> tuple[object, list]:
    """sphinx-needs' schema of the fields and its type schemas as resolved (with the types
    injected), as process_schemas reads them; sphinx_needs.api offers neither."""
    data = SphinxNeedsData(env)
    return data.get_schema(), data.get_resolved_schemas() or []


#: sphinx-needs purges a document (``SphinxNeedsData.remove_doc``) by testing every need,
#: needextend and needuml against it, and a build reads a document only after purging it: in a
#: clean build the cost grows with documents x needs (2 s of a clean build at 10,000 needs). A
#: document that no need, needextend, needuml or list of documents names has nothing to purge.
#: Which ones do is worked out once, at the first purge of a read phase: until the phase ends,
#: only a document being read adds entries (external needs have no document), and each is
#: purged before it is read. The sources of purge_needs (which only calls remove_doc) and of
#: remove_doc are checked.
PURGE_SOURCES = {
    "sphinx_needs.directives.need.purge_needs": (lambda: purge_needs, "f8832aea1e3e627e"),
    "sphinx_needs.data.SphinxNeedsData.remove_doc": (lambda: SphinxNeedsData.remove_doc, "13d507a1c81b2675"),
}


def documents_with_needs(env: BuildEnvironment) -> set[str]:
    """Every document that remove_doc would find something of, as it tests them."""
    data = SphinxNeedsData(env)
    found = {need.source.dict_repr.get("docname") for need in data._env_needs.values()}
    found.update(doc for docs in data.get_or_create_docs().values() for doc in docs)
    found.update(extend["docname"] for extend in data.get_or_create_extends().values())
    found.update(uml["docname"] for uml in data.get_or_create_umls().values())
    return found


def purge_needs_of_documents_with_needs(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    """``env-purge-doc`` in place of sphinx-needs' purge_needs: the same, for a document that
    has something to purge (PURGE_SOURCES)."""
    holding = app.__dict__.get("kb_documents_with_needs")
    if holding is None:
        holding = app.kb_documents_with_needs = documents_with_needs(env)
    if docname in holding:
        purge_needs(app, env, docname)


def end_of_read_phase(app: Sphinx, env: BuildEnvironment) -> None:
    """``env-updated``: the next read phase works out again which documents hold needs."""
    app.__dict__.pop("kb_documents_with_needs", None)


def replace_listener(app: Sphinx, event: str, old: Callable, new: Callable) -> None:
    """Connect ``new`` to ``event`` in place of ``old``, at its priority. Sphinx has no public
    list of an event's listeners; its EventManager keeps them in ``listeners``."""
    for listener in list(app.events.listeners.get(event, ())):
        if inspect.unwrap(listener.handler) is old:
            app.disconnect(listener.id)
            app.connect(event, new, priority=listener.priority)
            return
    raise IncompatibleUpgrade(f"{old.__module__}.{old.__qualname__} is no longer connected to {event!r} "
                              "(or kb is loaded before sphinx_needs)")


def warning_count(app: Sphinx) -> int:
    """The warnings this build has logged so far (Sphinx counts them in ``_warncount`` and
    reports them only after build-finished)."""
    return app._warncount


# ---------------------------------------------------------------------- the start-up check
def _checks() -> Iterator[tuple[str, Callable[[], bool]]]:
    package = Path(inspect.getfile(SphinxNeedsData)).parent
    yield ("sphinx.project.Project no longer maps document names in _docname_to_path",
           lambda: "_docname_to_path" in inspect.getsource(Project.__init__))
    yield ("IndexBuilder no longer keeps _index_entries, _mapping and _title_mapping, or load/prune/freeze",
           lambda: all(n in inspect.getsource(IndexBuilder.__init__) for n in ("_index_entries", "_mapping", "_title_mapping"))
           and all(callable(getattr(IndexBuilder, m, None)) for m in ("load", "prune", "freeze"))
           and "'indexentries'" in inspect.getsource(getattr(IndexBuilder.freeze, "__wrapped__", IndexBuilder.freeze)))
    yield ("Sphinx no longer counts a build's warnings in _warncount",
           lambda: "self._warncount = 0" in inspect.getsource(Sphinx.__init__)
           and "self._warncount" in inspect.getsource(inspect.unwrap(Sphinx.build)))  # kb_shared.warm wraps it
    yield ("BuildEnvironment no longer keeps _write_doc_doctree_cache",
           lambda: "_write_doc_doctree_cache" in inspect.getsource(BuildEnvironment.__init__))
    for method in ("get_needs_mutable", "get_or_create_extends", "get_schema", "get_resolved_schemas"):
        yield (f"SphinxNeedsData has no {method}()", lambda m=method: callable(getattr(SphinxNeedsData, m, None)))
    yield ("needextend records changed their keys",
           lambda: {"filter", "filter_is_id", "modifications", "list_modifications", "extend_priority"}
           <= set(NeedsExtendType.__annotations__))
    yield ("needtable nodes no longer carry columns, sort, style_row and show_parts",
           lambda: {"columns", "sort", "style_row", "show_parts"} <= set(NeedsTableType.__annotations__))
    yield ("needpie and needbar nodes no longer carry content, filter, status, tags and types",
           lambda: {"content", "filter", "status", "tags", "types"} <= set(NeedsPieType.__annotations__)
           & set(NeedsBarType.__annotations__) and "filter_func" in NeedsPieType.__annotations__
           and {"separator", "xlabels", "ylabels"} <= set(NeedsBarType.__annotations__))
    yield ("needbar no longer takes labels FROM_DATA and plain numbers from its content",
           lambda: all(t in inspect.getsource(process_needbar)
                       for t in ('xlabels[0] == "FROM_DATA"', 'ylabels[0] == "FROM_DATA"', "element.isdigit()")))
    yield ("need_count no longer reads its filters from reftarget, split on ' ? '",
           lambda: all(t in inspect.getsource(process_need_count) for t in ('node_need_count["reftarget"]',
                                                                            'filter.split(" ? ")')))
    yield ("NeedLink no longer has id and part", lambda: {"id", "part"} <= set(NeedLink.__annotations__))
    yield ("NeedModification no longer has docname and lineno",
           lambda: {"docname", "lineno"} <= set(NeedModification.__annotations__))
    yield ("NeedItem has no modifications", lambda: isinstance(getattr(NeedItem, "modifications", None), property))
    yield ("NeedsCoreFields no longer says which fields a layout shows",
           lambda: any("show_in_layout" in props for props in NeedsCoreFields.values()))
    yield ("LayoutHandler no longer fills self.functions in __init__ or has meta()",
           lambda: "self.functions" in inspect.getsource(getattr(LayoutHandler.__init__, "__wrapped__",
                                                                  LayoutHandler.__init__))
           and callable(getattr(LayoutHandler, "meta", None)))
    yield ("LayoutHandler no longer keeps app and fromdocname",
           lambda: all(f"self.{a} =" in inspect.getsource(getattr(LayoutHandler.__init__, "__wrapped__",
                                                                   LayoutHandler.__init__))
                       for a in ("app", "fromdocname")))
    yield ("DynamicFunctionParsed.from_string or its fields changed",
           lambda: callable(getattr(DynamicFunctionParsed, "from_string", None))
           and {"name", "args", "kwargs"} <= set(DynamicFunctionParsed.__annotations__))
    for name, (function, digest) in NAVIGATION_SOURCES.items():
        yield (f"{name} changed (kb.build.navigation reproduces what it does per page)",
               lambda f=function, d=digest: _source_digest(f()) == d)
    for name, (function, digest) in NEEDS_JSON_SOURCES.items():
        yield (f"{name} changed (kb.compat.encode_needs_json_in_c writes needs.json as it does)",
               lambda f=function, d=digest: _source_digest(f()) == d)
    for name, (function, digest) in PURGE_SOURCES.items():
        yield (f"{name} changed (kb.compat.purge_needs_of_documents_with_needs skips what it does not purge)",
               lambda f=function, d=digest: _source_digest(f()) == d)
    for name, (function, digest) in DOCTREE_LIFE_SOURCES.items():
        yield (f"{name} changed (kb.build.hygiene takes apart the doctrees it is done with)",
               lambda f=function, d=digest: _source_digest(f()) == d)
    for name, (function, digest) in VALIDATION_SOURCES.items():
        yield (f"{name} changed (kb.build.validation reproduces what it does)",
               lambda f=function, d=digest: _source_digest(f()) == d)
    yield ("Sphinx's EventManager no longer keeps its listeners in listeners",
           lambda: "self.listeners" in inspect.getsource(EventManager.__init__))
    yield ("Builder.write no longer adds the pages in env.files_to_rebuild after write-started",
           lambda: (lambda source: "'write-started'" in source and "env.files_to_rebuild.get(docname" in source
                    and source.index("'write-started'") < source.index("env.files_to_rebuild.get(docname"))(
               inspect.getsource(Builder.write)))
    yield ("sphinx-needs' NeedsBuilder no longer writes needs.json into its outdir",
           lambda: "NeedsList(self.env, self.outdir" in inspect.getsource(NeedsBuilder.finish))
    yield ("furo's html-page-context handler no longer calls _compute_navigation_tree(context)",
           lambda: "_compute_navigation_tree(context)" in inspect.getsource(inspect.unwrap(furo._html_page_context)))
    yield ("StandaloneHTMLBuilder.handle_page no longer gives the page _get_local_toctree(pagename)",
           lambda: "self._get_local_toctree(pagename, **kwargs)"
           in inspect.getsource(StandaloneHTMLBuilder.handle_page))
    yield ("HTML5Translator.visit_reference no longer writes an empty link as '#'",
           lambda: "node['refuri'] or '#'" in inspect.getsource(HTML5Translator.visit_reference))
    for module, texts in MESSAGE_TEXTS.items():
        for text in texts:
            yield (f"sphinx-needs' {module} no longer words a message with {text!r}",
                   lambda m=module, t=text: t in (package / m).read_text(encoding="utf-8"))


def check() -> None:
    """Every private or undocumented use above still holds, or one line says which not."""
    for what, holds in _checks():
        try:
            ok = holds()
        except (OSError, TypeError, AttributeError):
            ok = False
        if not ok:
            raise IncompatibleUpgrade(what)


def setup(app: Sphinx) -> dict:
    check()
    encode_needs_json_in_c()
    replace_listener(app, "env-purge-doc", purge_needs, purge_needs_of_documents_with_needs)
    app.connect("env-updated", end_of_read_phase)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
