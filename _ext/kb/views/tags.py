"""Tag pages: ``tags/<tag>.html`` for every tag of the vocabulary in ubproject.toml.

Each page says what the tag means ([kb.tags]) and lists the needs that carry it, one
needtable per need type. The pages are generated, never written by hand, and nothing is
written into the source tree: Sphinx reads a document from a file, so every ``tags/<tag>``
is added to the project as a *virtual document* backed by ``tags/index.rst`` (the page that
lists the tags), and ``source-read`` replaces that file's text with the page generated here.
From then on they are ordinary documents: in the toctree and the sidebar, in the search
index, with needtables resolved by sphinx-needs and checked by the strict build.

The alternative, ``html-collect-pages`` with a template, would leave the pages out of the
search index and out of sphinx-needs' processing, so needtables could not be used.

Tags shown on a need link to their tag page: sphinx-needs renders the ``tags`` of a need as
plain text, both in a need's layout and in a needtable column (an element with the class
``needs_tags`` holding one text node per tag). Once sphinx-needs has rendered a page, each
such text that is a tag of the vocabulary becomes a link, titled with the tag's meaning."""

from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from kb_shared.trees import FINISHING, finished_page
from sphinx.application import Sphinx
from sphinx.errors import ConfigError
from sphinx.util.docutils import SphinxDirective
from sphinx_needs.api import get_needs_view

from .. import compat
from ..build import placeholders
from ..model import model_of
from . import once_per_build

TAGS_DIR = "tags"
# The file every tag page is read from before source-read swaps in its generated text.
CARRIER = Path(TAGS_DIR) / "index.rst"
# Columns of the needtable of each need type on a tag page; other types show ID and title.
TYPE_COLUMNS = {
    "guideline": "id, title, publisher, doc_id, date",
    "req": "id, title, section, stakeholder, phase, coverage",
    "design": "id, title, control_category, implements",
    "test": "id, title, method, verifies",
    "postmarket": "id, title, stakeholder, maintains",
    "standard": "id, title, publisher, doc_id",
}


def tag_docname(tag: str) -> str:
    return f"{TAGS_DIR}/{tag}"


def rst_text(text: str) -> str:
    """``text`` as reStructuredText that renders literally: every punctuation character is
    backslash-escaped, so ``*``, backquotes, ``_`` or ``|`` in a meaning are never markup."""
    return re.sub(r"([^\w\s])", r"\\\1", text)


def plural(title: str) -> str:
    return title[:-1] + "ies" if title.endswith("y") else title + "s"


def tag_page_rst(tag: str, meaning: str, types: dict) -> str:
    """The reStructuredText of the page of ``tag``: its meaning, then a section per need type."""
    lines = [
        tag, "=" * len(tag), "",
        rst_text(meaning), "",
        f"The needs that carry the tag ``{tag}`` follow, by type. To combine the tag with other "
        f"filters, :kb-browse:`browse the needs tagged {tag} <tag={tag}>`; every tag is listed "
        "on :doc:`/tags/index`.", "",
    ]
    for type_name, decl in types.items():
        heading = plural(decl["title"])
        lines += [heading, "-" * len(heading), "", f".. kb-tag-needs:: {tag} {type_name}", ""]
    return "\n".join(lines)


def add_tag_documents(app: Sphinx, env, added: set, changed: set, removed: set) -> set[str]:
    """``env-get-outdated``: put a document ``tags/<tag>`` for every tag into the project.

    Runs after Sphinx discovered the files (which cannot see these documents) and before it
    reads any. Their text comes from ubproject.toml, not from the file Sphinx watches, so a
    page is returned (read again) when its text differs from the one read last time, and the
    tag list when the vocabulary changed. The needs they list are views (needtable,
    need_count), which kb.build.rebuild writes again when the needs change."""
    model = model_of(app.confdir)
    env.kb_tag_meanings = model.tag_meanings  # for the tag list, read in any process
    if not (Path(app.srcdir) / CARRIER).is_file():
        return set()  # a project without a tags section (e.g. a test fixture)
    types = model.site_types
    texts = {f"{TAGS_DIR}/index": repr(env.kb_tag_meanings)}
    for tag, meaning in env.kb_tag_meanings.items():
        if tag == "index":
            raise ConfigError("ubproject.toml: 'index' cannot be a tag: tags/index is the tag list")
        docname = tag_docname(tag)
        compat.add_generated_document(env, docname, CARRIER)
        texts[docname] = tag_page_rst(tag, meaning, types)
    removed.difference_update(texts)  # "removed" only because discovery cannot see them
    read_before = getattr(env, "kb_tag_texts", {})
    env.kb_tag_texts = texts
    return {d for d, text in texts.items() if read_before.get(d) != text or d not in env.all_docs}


def generate_tag_page(app: Sphinx, docname: str, source: list[str]) -> None:
    """``source-read``: the text of a tag page, in place of the carrier file's."""
    if not docname.startswith(TAGS_DIR + "/"):
        return
    model = model_of(app.confdir)
    tag = docname.removeprefix(TAGS_DIR + "/")
    if tag in model.tags:
        source[0] = tag_page_rst(tag, model.tag_meanings[tag], model.site_types)


def keep_generated_source_private(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Sphinx would copy the carrier file to ``_sources/tags/<tag>.rst.txt``; that text is not
    the page's, so no source is published for tag pages."""
    if pagename.startswith(TAGS_DIR + "/") and pagename != f"{TAGS_DIR}/index":
        context["sourcename"] = ""


class tag_needs(nodes.General, nodes.Element):
    """The needtable of one type on a tag page; replaced by its content once needs are known."""

    # the needtable inside selects the needs of the type with the tag, and declares that filter;
    # "no need carries the tag" is true exactly when that filter selects none
    kb_shows_no_needs = "its needtable declares the needs it shows"


class TagNeedsDirective(SphinxDirective):
    """``.. kb-tag-needs:: TAG TYPE`` a needtable of the needs of TYPE that carry TAG."""

    required_arguments = 2

    def run(self) -> list[nodes.Node]:
        tag, type_name = self.arguments
        columns = TYPE_COLUMNS.get(type_name, "id, title")
        lines = [
            ".. needtable::",
            f"   :filter: type == '{type_name}' and '{tag}' in tags",
            f"   :columns: {columns}",
            "   :sort: id",
        ]
        node = tag_needs(kb_tag=tag, kb_type=type_name)
        self.state.nested_parse(StringList(lines, source=self.env.docname), self.content_offset, node)
        return [node]


def resolve_tag_needs(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """A type no need of which carries the tag gets a sentence instead of an empty table."""
    nodes_ = placeholders.on_page(app, doctree, tag_needs)
    if not nodes_:
        return
    carried = once_per_build(app, "tags by type", lambda: {(n["type"], tag) for n in get_needs_view(app).values()
                                                           for tag in n["tags"]})
    types = model_of(app.confdir).site_types
    for node in nodes_:
        tag, type_name = node["kb_tag"], node["kb_type"]
        if (type_name, tag) in carried:
            node.replace_self(node.children)
        else:
            title = types[type_name]["title"].lower()
            node.replace_self(nodes.paragraph(text=f"No {title} carries this tag."))


class TagIndexDirective(SphinxDirective):
    """``.. kb-tag-index::`` the table of all tags (link, meaning, number of needs) and the
    hidden toctree that puts the tag pages into the navigation."""

    def run(self) -> list[nodes.Node]:
        meanings = self.env.kb_tag_meanings
        lines = [".. list-table:: Tags of the vocabulary", "   :header-rows: 1",
                 "   :widths: 25 60 15", "", "   * - Tag", "     - Meaning", "     - Needs"]
        for tag, meaning in meanings.items():
            lines += [f"   * - :doc:`{tag} </{tag_docname(tag)}>`",
                      f"     - {rst_text(meaning)}",
                      f"     - :need_count:`'{tag}' in tags`"]
        lines += ["", ".. toctree::", "   :hidden:", ""]
        lines += [f"   /{tag_docname(tag)}" for tag in meanings]
        container = nodes.container(classes=["kb-tag-index"])
        self.state.nested_parse(StringList(lines, source=self.env.docname), self.content_offset, container)
        return [container]


def link_tags(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    if app.builder.format != "html":
        return
    holders = [node for node in finished_page(doctree) if "needs_tags" in node.attributes["classes"]]
    if not holders:
        return
    meanings = model_of(app.confdir).tag_meanings
    uris: dict[str, str] = {}
    for holder in holders:
        for text in list(holder.findall(nodes.Text)):
            tag = text.astext()
            parent = text.parent
            if tag not in meanings or isinstance(parent, nodes.reference):
                continue
            if tag not in uris:
                uris[tag] = app.builder.get_relative_uri(docname, tag_docname(tag))
            link = nodes.reference("", tag, internal=True, classes=["kb-tag"], reftitle=meanings[tag],
                                   refuri=uris[tag])
            # the page, said once: docutils finds a parent's document by climbing to the root
            # for every child it sets up (most of this handler's time on a page of many needs)
            parent.document = doctree
            parent.replace(text, link)


def setup(app: Sphinx) -> dict:
    app.connect("env-get-outdated", add_tag_documents)
    app.connect("source-read", generate_tag_page)
    app.connect("html-page-context", keep_generated_source_private)
    app.add_node(tag_needs)
    placeholders.register(tag_needs)
    app.add_directive("kb-tag-needs", TagNeedsDirective)
    app.add_directive("kb-tag-index", TagIndexDirective)
    # after sphinx-needs (priority 500) has filled the needtables and rendered need layouts
    app.connect("doctree-resolved", resolve_tag_needs, priority=600)
    app.connect("doctree-resolved", link_tags, priority=FINISHING)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
