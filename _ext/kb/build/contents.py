"""Tables of contents in incremental builds: the pages a changed title or table of contents
makes stale, and no others.

With every page it writes, Sphinx writes the pages whose toctree includes it
(``Builder.write`` adds ``env.files_to_rebuild``), in case the page's table of contents
changed. A page this site writes again because a need it shows changed (kb.build.rebuild) has
not been read again, so its title and table of contents are those of the last build, and the
pages above it need not be written: on the real site a requirement's title edit wrote the
home page, the index of the guidelines, of the requirements, of the crosswalk, of the
traceability pages and of the tags for nothing. Here those pages are written only for the
pages read again whose table of contents changed.

The other way round, Sphinx writes too little: every page shows the titles of all pages in
its sidebar (furo's navigation tree), and its neighbours' titles in its footer, so a page
added, removed or retitled changes every page, while Sphinx writes only the pages above it.
Then every page is written, as a clean build would."""

from __future__ import annotations

from sphinx.application import Sphinx
from sphinx.builders import Builder
from sphinx.environment import BuildEnvironment

from .. import compat


def _title(env: BuildEnvironment, docname: str) -> str | None:
    title = env.titles.get(docname)
    return None if title is None else title.pformat()


def _contents(env: BuildEnvironment, docname: str) -> str | None:
    toc = env.tocs.get(docname)
    return None if toc is None else toc.pformat()


class Before:
    """The titles and tables of contents of the pages about to be read again, as the last
    build left them, and the pages removed (kept on the application: one build's worth)."""

    def __init__(self) -> None:
        self.titles: dict[str, str | None] = {}
        self.contents: dict[str, str | None] = {}
        self.read: set[str] = set()
        self.purged: set[str] = set()


def _before(app: Sphinx) -> Before:
    if not hasattr(app, "kb_contents_before"):
        app.kb_contents_before = Before()
    return app.kb_contents_before


def note_before_reading(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    """``env-before-read-docs``: Sphinx drops a page's title and contents when it reads it."""
    before = _before(app)
    for docname in docnames:
        before.titles[docname] = _title(env, docname)
        before.contents[docname] = _contents(env, docname)
    before.read.update(docnames)


def note_purged(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    _before(app).purged.add(docname)


def pages_with_stale_titles(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """``env-updated``: every page when a page came, went or changed its title."""
    before = _before(app)
    removed = before.purged - env.found_docs
    retitled = {d for d in before.read if d in env.found_docs and before.titles.get(d) != _title(env, d)}
    return sorted(env.found_docs) if removed or retitled else []


def parents_of_changed_contents_only(app: Sphinx, builder: Builder) -> None:
    """``write-started``, before Builder.write adds the pages above each page it writes."""
    before = _before(app)
    changed = {d for d in before.read if before.contents.get(d) != _contents(app.env, d)}
    compat.write_parents_only_of(app.env, changed)


def restore(app: Sphinx, exception: Exception | None) -> None:
    compat.write_parents_only_of(app.env, None)
    app.kb_contents_before = Before()


def setup(app: Sphinx) -> dict:
    # late: after the handlers that add pages to read (the generated tag pages)
    app.connect("env-before-read-docs", note_before_reading, priority=900)
    app.connect("env-purge-doc", note_purged)
    app.connect("env-updated", pages_with_stale_titles)
    app.connect("write-started", parents_of_changed_contents_only)
    app.connect("build-finished", restore)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
