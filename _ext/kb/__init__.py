"""The site's Sphinx extension: one package, laid out by responsibility.

- ``model``: the one reader of ubproject.toml, with the accessors every other part asks;
- ``quality``: messages that name file, line, need and fix; coverage; suspect-link review;
- ``views``: the model page, tags, browse, the crosswalk, the life-cycle page;
- ``build``: need layout, incremental rebuild (the pages a need or a title makes stale),
  hygiene (required programs, safe links, memory), furo's navigation tree computed once per
  build, schema validation of the needs that changed, no work on the needs in a build that
  changed nothing, the site's placeholders found in one walk of a page; reproducible output is
  ``kb_shared.reproducible``, which a device project loads too;
- ``publish``: the interchange, the export written during the build, the pages' file lists;
- ``compat``: every private or undocumented use of Sphinx, sphinx-needs and furo, checked first.

conf.py loads this package alone; the exporter (``kb_export``) and the helpers shared with
the device template (``kb_shared``) are packages of their own beside it."""

from __future__ import annotations

from sphinx.application import Sphinx

# In the order their handlers must run where two share an event and a priority.
PARTS = (
    "kb.compat",
    "kb.build.layout",
    "kb.model",
    "kb.views.model_page",
    "kb.quality.coverage",
    "kb.quality.messages",
    "kb.quality.review",
    "kb.publish.export",
    "kb_shared.reproducible",
    "kb.build.hygiene",
    "kb.build.parallel",
    "kb.build.accessible",
    "kb.build.navigation",
    "kb.views.crosswalk",
    "kb.views.life_cycle",
    "kb.views.tags",
    "kb.views.browse",
    "kb.views.chain",
    "kb.publish.interchange",
    "kb.publish.release",
    "kb.build.rebuild",
    "kb.build.unchanged",
    "kb.build.validation",
    "kb.build.contents",
)


def setup(app: Sphinx) -> dict:
    for part in PARTS:
        app.setup_extension(part)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
