"""Furo's navigation tree, computed once per build instead of once per page.

Furo shows the whole site's table of contents in the sidebar of every page. For each page it
asks Sphinx for the global toctree (every toctree of the project resolved, the tables of
contents of the pages copied, the tree rendered by docutils) and rewrites that HTML with
BeautifulSoup (a checkbox and its label for each entry with children). The work for one page
grows with the number of pages, so the work for all grows with its square: on the site (144
pages) 7.4 of the 33 CPU seconds of a full build; here, 0.1.

From one page to the next, only this changes (the rules are read from the sources compat
checks, ``compat.NAVIGATION_SOURCES``):

* the links: relative to the directory of the page; a link to the page itself is ``#`` (or
  its ``#anchor``), as Sphinx makes it empty and the HTML writer writes an empty link so;
* the current page: Sphinx gives the class ``current`` to each link to the page (one without
  an anchor) and to every ``li`` and ``ul`` around it; furo checks the checkbox of each such
  ``li`` that has one, and gives the last ``li`` with ``current`` the class ``current-page``.

So ``Template`` asks Sphinx and furo once per build for the tree of a page that is in no
toctree, with a placeholder for each internal link, and notes where each tag that can change
stands; ``Directory`` puts the relative links in, once for each directory with pages; for a
page, the tags on the paths to its own entries are rewritten and the rest is copied. The bytes
are those furo writes (tests/ext/test_navigation_once.py builds pages at several depths both
ways and compares every page, and the real site's pages).

A page gets furo's own computation where the rules above do not cover it: a builder that makes
links its own way (singlehtml), tables of contents with ``only`` nodes (Sphinx copies the
tables of contents of a page's ancestors without evaluating them, so the tree depends on more
than the current page), a link that HTML escaping would change, or a tree whose tags are not
of the shapes the rules know (then for the whole build, with a message). ``kb_nav_once = 0``
switches it off: each page is computed by furo, with the same result."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.osutil import relative_uri

from .. import compat

logger = logging.getLogger(__name__)

#: A document name no toctree lists: the tree computed for it marks no page as current.
NO_PAGE = "\x00kb-navigation"
#: What the tree without a current page has for a link to a page (then its number and ":"):
#: an internal link is always one (a link out of the site has "://", so none looks like it).
PLACEHOLDER = "kb-navigation-link-"
#: Characters a link would have escaped in the HTML (or that change how it is quoted).
ESCAPED = re.compile(r"""[&<>"']""")
TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)([^<>]*?)(/?)>")
ATTRIBUTE = re.compile(r"""\s+([^\s=/>]+)(?:=("[^"]*"|'[^']*'))?""")
#: The classes of an entry as the tree without a current page has them: Sphinx's level, and
#: furo's has-children after it.
ENTRY_CLASSES = re.compile(r"toctree-l\d+( has-children)?")


class Unknown(Exception):
    """The tree has a tag of a shape the rules do not know."""


@dataclass
class Tag:
    """A tag of the tree that may change from page to page, as BeautifulSoup writes it:
    attributes sorted by name, each ``name="value"`` as written (escaped and quoted)."""

    name: str
    attributes: dict[str, str]
    closed: str  # "/" for a tag written <input .../>

    @classmethod
    def parse(cls, text: str) -> Tag:
        match = TAG.fullmatch(text)
        attributes = {m.group(1): m.group(0).strip() for m in ATTRIBUTE.finditer(match.group(3))}
        tag = cls(match.group(2), attributes, match.group(4))
        if str(tag) != text:
            raise Unknown(text)
        return tag

    def __str__(self) -> str:
        return f"<{self.name}{''.join(' ' + self.attributes[k] for k in sorted(self.attributes))}{self.closed}>"

    def value(self, name: str) -> str:
        written = self.attributes.get(name, "")
        return written.split("=", 1)[1][1:-1] if "=" in written else ""

    def with_value(self, name: str, value: str) -> Tag:
        """Another value, of characters that need no escaping and no other quotes."""
        return Tag(self.name, {**self.attributes, name: f'{name}="{value}"'}, self.closed)


@dataclass
class Link:
    """A link of the tree to a page of the site."""

    docname: str
    anchor: str  # as written in the HTML
    tag: int  # index of the <a> in Template.tags
    around: tuple[int, ...]  # the <li> and <ul> tags around it


@dataclass
class Template:
    """The tree without a current page, in pieces: ``texts[i]`` comes before ``tags[i]``
    and the last text after the last tag."""

    texts: list[str] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    checkbox: dict[int, int] = field(default_factory=dict)  # the <li> tag's checkbox tag

    @classmethod
    def compute(cls, app: Sphinx) -> Template:
        docnames: list[str] = []

        def placeholder(docname: str) -> str:
            docnames.append(docname)
            return f"{PLACEHOLDER}{len(docnames) - 1}:"

        html = compat.navigation_tree_with(app.builder, NO_PAGE, placeholder)
        return cls.parse(html, docnames)

    @classmethod
    def parse(cls, html: str, docnames: list[str]) -> Template:
        template = cls()
        href = re.compile(re.escape(PLACEHOLDER) + r"(\d+):(.*)", re.S)
        open_tags: list[tuple[str, int | None]] = []  # name, index of a tag that may change
        start = 0
        for match in TAG.finditer(html):
            closing, name = match.group(1), match.group(2)
            if closing:
                if not open_tags or open_tags.pop()[0] != name:
                    raise Unknown(match.group(0))
                continue
            index = None
            if name in ("ul", "li", "a", "input"):
                tag = Tag.parse(match.group(0))
                link = href.fullmatch(tag.value("href")) if name == "a" and "href" in tag.attributes else None
                if name == "ul" and tag.attributes:
                    raise Unknown(match.group(0))
                if name == "li" and not ENTRY_CLASSES.fullmatch(tag.value("class")):
                    raise Unknown(match.group(0))
                if link or name in ("ul", "li") or (name == "input" and "toctree-checkbox" in tag.value("class")):
                    index = len(template.tags)
                    template.texts.append(html[start:match.start()])
                    template.tags.append(tag)
                    start = match.end()
                if link:
                    if not (tag.value("class").startswith("reference ")
                            and tag.attributes["href"].startswith('href="')):
                        raise Unknown(match.group(0))
                    if any(n not in ("ul", "li") for n, _ in open_tags):
                        raise Unknown(match.group(0))  # Sphinx marks every node around a link
                    around = tuple(i for _, i in open_tags)
                    template.links.append(Link(docnames[int(link.group(1))], link.group(2), index, around))
                elif name == "input" and index is not None:
                    if not open_tags or open_tags[-1][0] != "li":
                        raise Unknown(match.group(0))
                    template.checkbox[open_tags[-1][1]] = index
            if not match.group(4):
                open_tags.append((name, index))
        if open_tags:
            raise Unknown(f"<{open_tags[-1][0]}> not closed")
        template.texts.append(html[start:])
        return template


@dataclass
class Directory:
    """The tree for the pages of one directory (with links relative to it): its text, and
    where each tag of the template stands in it."""

    text: str
    tags: list[Tag]
    starts: list[int]
    ends: list[int]

    @classmethod
    def compute(cls, template: Template, directory: str, target_of: Callable[[str], str]) -> Directory | None:
        """None when a link would need escaping (the page gets furo's own tree)."""
        base = directory + NO_PAGE  # a page of the directory that no link leads to
        tags = list(template.tags)
        for link in template.links:
            uri = relative_uri(base, target_of(link.docname))
            if ESCAPED.search(uri):
                return None
            tags[link.tag] = tags[link.tag].with_value("href", uri + link.anchor)
        pieces, starts, ends, offset = [], [], [], 0
        for text, tag in zip(template.texts, tags):
            written = str(tag)
            pieces += [text, written]
            starts.append(offset + len(text))
            offset += len(text) + len(written)
            ends.append(offset)
        pieces.append(template.texts[-1])
        return cls("".join(pieces), tags, starts, ends)


class Navigation:
    """Furo's navigation tree for each page of one build."""

    def __init__(self, app: Sphinx) -> None:
        self.app = app
        self.builder = app.builder
        self.template: Template | None = None
        self.directories: dict[str, Directory | None] = {}
        self.links_to: dict[str, list[Link]] = {}  # by target URI
        self.pages = 0  # pages given the tree (in this process: a parallel build forks writers)

    def usable(self) -> bool:
        """Whether the rules cover this build (else each page gets furo's own tree)."""
        if compat.has_own_relative_links(self.builder):
            return False
        env = self.app.env
        if any(next(toc.findall(addnodes.only), None) is not None for toc in env.tocs.values()):
            return False
        return True

    def compute(self) -> None:
        self.template = None
        if not self.usable():
            logger.info("kb.build.navigation: the navigation tree is computed for each page "
                        "(only nodes in a table of contents, or a builder with its own links)")
            return
        try:
            self.template = Template.compute(self.app)
        except Unknown as unknown:
            logger.info(f"kb.build.navigation: the navigation tree is computed for each page "
                        f"(a tag kb.build.navigation does not know: {unknown})")
            return
        for link in self.template.links:
            self.links_to.setdefault(self.builder.get_target_uri(link.docname), []).append(link)

    def tree_of(self, pagename: str) -> str | None:
        """The page's tree, or None for furo's own."""
        if self.template is None:
            return None
        target = self.builder.get_target_uri(pagename)
        directory = target[:target.rfind("/") + 1]
        if directory not in self.directories:
            self.directories[directory] = Directory.compute(self.template, directory, self.builder.get_target_uri)
        tree = self.directories[directory]
        if tree is None:
            return None
        self.pages += 1
        return self.mark(tree, pagename, self.links_to.get(target, []))

    def mark(self, tree: Directory, pagename: str, links: list[Link]) -> str:
        """The tree with the page as the current one (see the module's docstring)."""
        changed: dict[int, Tag] = {}
        current_entries: set[int] = set()
        for link in links:
            a = tree.tags[link.tag].with_value("href", link.anchor or "#")  # the page itself
            if link.docname == pagename and not link.anchor:
                a = a.with_value("class", "current " + a.value("class"))
                for index in link.around:  # a <ul> of the template has no attributes
                    if tree.tags[index].name == "ul":
                        changed[index] = tree.tags[index].with_value("class", "current")
                    else:
                        current_entries.add(index)
            changed[link.tag] = a
        last = max(current_entries, default=None)  # furo: the last <li> with current
        for index in current_entries:
            classes = tree.tags[index].value("class").split(" ")
            classes.insert(1, "current")  # after Sphinx's level, before furo's has-children
            if index == last:
                classes.append("current-page")
            changed[index] = tree.tags[index].with_value("class", " ".join(classes))
            if index in self.template.checkbox:
                checkbox = self.template.checkbox[index]
                changed[checkbox] = tree.tags[checkbox].with_value("checked", "")
        pieces, start = [], 0
        for index in sorted(changed):
            pieces += [tree.text[start:tree.starts[index]], str(changed[index])]
            start = tree.ends[index]
        pieces.append(tree.text[start:])
        return "".join(pieces)


def reset(app: Sphinx, env: BuildEnvironment) -> None:
    """At env-updated: the tables of contents are final; the tree is computed when the first
    page is written."""
    app.builder.kb_navigation = None


def precompute(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: nodes.document | None) -> None:
    """Before furo's html-page-context handler: the page's tree, for furo to take."""
    if not app.config.kb_nav_once or "toctree" not in context:
        return
    navigation = getattr(app.builder, "kb_navigation", None)
    if navigation is None:
        navigation = app.builder.kb_navigation = Navigation(app)
        navigation.compute()
    tree = navigation.tree_of(pagename)
    if tree is not None:
        context[compat.PRECOMPUTED_NAVIGATION] = tree


def report(app: Sphinx, exception: Exception | None) -> None:
    navigation = getattr(app.builder, "kb_navigation", None)
    if exception is None and navigation is not None and navigation.pages:
        directories = sum(1 for tree in navigation.directories.values() if tree is not None)
        logger.info(f"kb.build.navigation: the navigation tree of {navigation.pages} pages from one "
                    f"tree, made relative for {directories} directories", color="darkgreen")


def setup(app: Sphinx) -> dict:
    # the output is the same either way: nothing to rebuild when it changes
    app.add_config_value("kb_nav_once", True, "", types=(bool, int))
    compat.use_precomputed_navigation()
    app.connect("env-updated", reset)
    app.connect("html-page-context", precompute, priority=400)
    app.connect("build-finished", report)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
