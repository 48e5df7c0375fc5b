"""Parallel builds where they help: a build that reads many documents runs with the workers
``-j`` asks for, a build that reads few runs in one process.

With ``-j 2`` on two cores a clean build of the real site took 12.8 to 12.9 s against 15.7 to
16.2 s serial (the same pages; the export written during the build then shares the second
core: 14.2 to 15.1 s against 15.8 to 16.0 s). An edit reads one document and writes about 24
pages, and there forking a reader and a writer costs more than it saves: 4.9 to 5.1 s against
4.8 s serial. Sphinx forks whenever ``-j`` is above 1, so this part sets the application's
``parallel`` to 1 for a build that reads fewer than ``kb_serial_below`` documents (default
50; read and write then run serially) and gives it back at the end."""

from __future__ import annotations

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)


def serial_when_few(app: Sphinx, env, docnames: list[str]) -> None:
    few = app.config.kb_serial_below
    if app.parallel > 1 and len(docnames) < few:
        app.kb_parallel = app.parallel
        app.parallel = 1
        logger.info(f"kb.build.parallel: {len(docnames)} documents to read, fewer than {few}: "
                    "this build runs in one process", color="darkgreen")


def give_back(app: Sphinx, exception) -> None:
    if hasattr(app, "kb_parallel"):
        app.parallel = app.__dict__.pop("kb_parallel")


def setup(app: Sphinx) -> dict:
    # fewer documents read than this and the build runs in one process (an edit reads one or a
    # few; a clean build of the real site reads 141)
    app.add_config_value("kb_serial_below", 50, "", types=(int,))
    app.connect("env-before-read-docs", serial_when_few, priority=999)  # Sphinx decides right after
    app.connect("build-finished", give_back)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
