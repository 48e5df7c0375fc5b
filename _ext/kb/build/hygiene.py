"""Hygiene of a build: what it needs from the system, what content may link to, and how
much memory it keeps scanning.

Required programs: the build stops at the start with one line saying what to install.
Without graphviz's ``dot``, each diagram would fail on its own, late in the build and with a
message about a setting (``graphviz_dot``) rather than about a missing package. make checks
first (tools/require-program); this check covers a plain ``sphinx-build``.

It stops the build with SystemExit and the message, not with an ExtensionError: Sphinx reports
any exception, its own included, as a crash with a traceback and a log file, where a missing
package needs one line.

Safe links: links in content lead to pages, never run script. docutils turns any text that
looks like a URI into a link, and a ``javascript:`` URI is one to it:
``<iframe src="javascript:alert(1)">`` pasted into a statement would be shown as text with a
live ``javascript:`` link inside. A link whose scheme is not one of SCHEMES becomes plain text
again. (Markup itself is escaped by docutils, MyST's inline HTML is off in conf.py, and the raw
directive is off in docutils.conf.)

Garbage collection for large builds: the objects alive when writing starts are frozen.
Python's cyclic garbage collector scans every tracked object in a full collection, and runs
one whenever the objects that survived younger collections grow by a quarter. Writing a page
creates trees of nodes with parent links (cycles) that live long enough to count, so at 10,000
needs a full collection ran every 15 or so pages, each scanning the environment, the needs and
the doctrees: millions of objects, 5 seconds each, a third of the build, and the reason the
build time grew faster than the number of needs.

At ``write-started`` (the documents are read, the environment pickled, the needs resolved),
``freeze`` drops the doctrees Sphinx keeps in memory since reading them, if it kept them (a
serial build keeps every one unless they are taken apart, below; Sphinx loads them from the
pickles it wrote, as it does in a parallel or an incremental build), collects once if
documents were read, and freezes what is alive (``gc.freeze()``): the
environment and the needs, which live to the end of the build. Later collections skip them
and scan only what writing creates; the last ``build-finished`` handler unfreezes them (the
files written after the pages, such as the interchange, which parses needs.json, still run
with them frozen: 1.5 s against 0.8 s at 10,000 needs). The doctrees must not
be frozen: writing attaches new nodes to them, which a frozen doctree would keep alive after
its page is written. A parallel build forks its writers after this, which also keeps them from
copying pages a collection would touch.

The environment of an incremental build is frozen as soon as it is loaded: unpickling it
(hundreds of thousands of objects) ran three full collections that found nothing to free,
and the full collections of the read phase scanned it again. The collector is off while it
loads (``config-inited`` to ``builder-inited``) and the loaded environment is frozen. What
reading replaces in it stays frozen until ``build-finished``; the few documents an edit
reads make that little. For the rest of the build a young collection waits for 10,000 new
objects, not Python's 700: a build makes them by the hundred thousand, most freed by their
reference count, and every hundredth young collection is a full one while what survived
grows. A full build of the real site spent 4.1 s of its 19.3 s in the collector (42 full
collections), 2.4 s of 17.5 s with both; an edit build 1.5 s of its 5.9 s (the collection at
exit included), 0.3 s of 4.5 s. build-finished gives the process its own settings back.

Doctrees are taken apart once Sphinx is done with them (``take_apart`` empties every node):
a document read, as soon as it is pickled, instead of being kept in memory until ``freeze``
drops it, and a page, as soon as it is written. A doctree is cycles throughout (each node and
its parent, each node and its document), so it outlives its last use until a full collection
finds it; a page of 1,440 need boxes is millions of objects. Emptied, its nodes are freed by
their reference count at once, and the full collections that remain scan what is alive. At
10,000 needs a clean build spent 34.9 s of 137.0 s in the collector, 12.4 s of 110.8 s with
the doctrees taken apart, and its process peaked at 736 MB instead of 859 MB; a clean build
of the real site spent 3.1 s in the collector, 1.5 s with them taken apart.
Only the ``html`` and ``dirhtml`` builders have their pages taken apart (the builders that
write page by page through Sphinx's own write_documents); ``-D kb_take_apart_doctrees=0``
keeps them whole (tests/ext/test_collection.py compares the pages both ways).

At exit, Python collects once more: after the unfreeze, that scanned the whole heap of the
build, 0.5 s of a 6 s edit build of the real site, for memory the process gives back anyway.
An ``atexit`` handler freezes everything first (a process that goes on after the build, a
test or a language server, only gets there when it ends too)."""

from __future__ import annotations

import atexit
import gc
import shutil
from urllib.parse import urlsplit

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.builders import Builder

from .. import compat
from . import unchanged

# output formats whose builders run dot for a diagram (text and man show its alt text)
RENDERS_DIAGRAMS = {"html", "latex", "texinfo"}


def require_dot(app: Sphinx) -> None:
    if "sphinx.ext.graphviz" not in app.extensions or app.builder.format not in RENDERS_DIAGRAMS:
        return
    dot = app.config.graphviz_dot
    if shutil.which(dot) is None:
        # SystemExit with a message: Python prints it to stderr and exits with status 1
        raise SystemExit(
            f"error: '{dot}' is missing: install the package graphviz "
            "(Debian/Ubuntu: sudo apt-get install graphviz)"
        )


# the schemes MyST accepts in Markdown links by default (myst_url_schemes); "" is a relative link
SCHEMES = {"", "http", "https", "mailto", "ftp"}


def unlink_other_schemes(app: Sphinx, doctree: nodes.document) -> None:
    for reference in list(doctree.findall(nodes.reference)):
        uri = reference.get("refuri")
        if uri is not None and urlsplit(uri).scheme.lower() not in SCHEMES:
            reference.replace_self(nodes.Text(reference.astext()))


# a young collection after this many new tracked objects (Python's default is 700)
YOUNG_COLLECTION_AFTER = 10_000


def take_apart(tree: nodes.Node) -> None:
    """Empty every node of a tree nothing uses any more, so that reference counting frees it."""
    stack = [tree]
    while stack:
        node = stack.pop()
        stack.extend(getattr(node, "children", ()))
        vars(node).clear()


def take_apart_doctrees(app: Sphinx) -> None:
    if not app.config.kb_take_apart_doctrees:
        return
    builder = app.builder
    # a builder that writes its own way (singlehtml assembles one tree) keeps its pages whole
    pages = builder.name in {"html", "dirhtml"} and type(builder).write_documents is Builder.write_documents
    compat.hand_over_doctrees(builder, take_apart, pages=pages)


def pause_collection(app: Sphinx, config) -> None:
    # the process's own settings, given back by unfreeze (a process that turned the collector
    # off keeps it off)
    app.kb_collection = (gc.isenabled(), gc.get_threshold())
    gc.disable()


def freeze_loaded_environment(app: Sphinx) -> None:
    gc.freeze()
    enabled, (young, *older) = app.kb_collection
    gc.set_threshold(max(young, YOUNG_COLLECTION_AFTER), *older)
    if enabled:
        gc.enable()


def freeze(app: Sphinx, builder) -> None:
    dropped = compat.drop_read_doctrees(app.env)
    if dropped is None:  # another Sphinx: keep its doctrees and the default collection
        return
    if dropped or unchanged.documents_read(app):
        gc.collect()  # what reading left (its doctrees, if they were kept whole) is not frozen
    gc.freeze()


def unfreeze(app: Sphinx, exception) -> None:
    # for a process that goes on after the build (a language server, a test)
    gc.unfreeze()
    enabled, threshold = app.kb_collection
    gc.set_threshold(*threshold)
    if enabled:
        gc.enable()


def setup(app: Sphinx) -> dict:
    atexit.unregister(gc.freeze)  # once a process, however many builds it runs
    atexit.register(gc.freeze)
    app.add_config_value("kb_take_apart_doctrees", True, "", types=(bool, int))
    app.connect("config-inited", pause_collection, priority=999)  # the last before the environment loads
    app.connect("builder-inited", freeze_loaded_environment, priority=0)
    app.connect("builder-inited", take_apart_doctrees)
    app.connect("builder-inited", require_dot)
    app.connect("doctree-read", unlink_other_schemes)
    app.connect("write-started", freeze, priority=900)  # after sphinx-needs resolved the needs
    app.connect("build-finished", unfreeze, priority=999)  # after the interchange and the export
    return {"parallel_read_safe": True, "parallel_write_safe": True}
