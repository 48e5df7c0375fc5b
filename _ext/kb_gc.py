"""Garbage collection for large builds: the objects alive when writing starts are frozen.

Python's cyclic garbage collector scans every tracked object in a full collection, and runs
one whenever the objects that survived younger collections grow by a quarter. Writing a page
creates trees of nodes with parent links (cycles) that live long enough to count, so at 10,000
needs a full collection ran every 15 or so pages, each scanning the environment, the needs and
the doctrees: millions of objects, 5 seconds each, a third of the build, and the reason the
build time grew faster than the number of needs.

At ``write-started`` (the documents are read, the environment pickled, the needs resolved),
this module drops the doctrees Sphinx keeps in memory since reading them (a serial build keeps
every one; Sphinx loads them from the pickles it wrote, as it does in a parallel or an
incremental build), collects once and freezes what is alive (``gc.freeze()``): the
environment and the needs, which live to the end of the build. Later collections skip them
and scan only what writing creates; ``build-finished`` unfreezes them. The doctrees must not be frozen: writing attaches new nodes
to them, which a frozen doctree would keep alive after its page is written. A parallel build
forks its writers after this, which also keeps them from copying pages a collection would
touch."""

from __future__ import annotations

import gc

from sphinx.application import Sphinx


def freeze(app: Sphinx, builder) -> None:
    cache = getattr(app.env, "_write_doc_doctree_cache", None)
    if cache is None:  # another Sphinx: keep its doctrees and the default collection
        return
    if cache:  # documents were read: free their doctrees before freezing
        cache.clear()
        gc.collect()
    gc.freeze()


def unfreeze(app: Sphinx, exception) -> None:
    gc.unfreeze()  # for a process that goes on after the build (a language server, a test)


def setup(app: Sphinx) -> dict:
    app.connect("write-started", freeze, priority=900)  # after sphinx-needs resolved the needs
    app.connect("build-finished", unfreeze)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
