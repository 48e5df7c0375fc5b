"""The ``kb_fields`` layout function: a need's non-empty fields, rendered fast.

The need layouts in ubproject.toml show a need's type, title and ID, its non-empty fields and
its links in both directions. sphinx-needs' ``meta_all`` renders the fields, but parses every
field label as reStructuredText and walks every core field of the need on every call: about
two thirds of the time a need box costs, which on 10,000 needs (and their needextract copies)
is minutes. ``kb_fields(exclude=[...])`` renders exactly what ``meta_all(no_links=True,
exclude=[...])`` renders (the same nodes, so the same HTML; tests/test_layout.py compares
them) without those costs.

sphinx-needs has no API to add a layout function; kb.compat adds it to the function table of
its layout handler, and memoizes the parsing of the ``<<function(...)>>`` strings of a layout,
which are the same few strings for every need. kb.compat checks both at start-up."""

from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx

from .. import compat


def kb_fields(handler, exclude: list[str] | None = None) -> nodes.inline:
    """``meta_all(no_links=True, exclude=exclude)``: one line per non-empty field."""
    links = compat.layout_link_fields(handler)
    skip = compat.HIDDEN_CORE | set(exclude or ()) | {n for link in links for n in (link, f"{link}_back")}
    container = nodes.inline()
    for name, value in compat.layout_need(handler).items():
        if name in skip or value is None or value == "" or value == []:
            continue  # what meta() shows nothing for
        data = compat.layout_meta(handler, name)  # no prefix: meta() would parse it as reStructuredText
        label = nodes.inline(classes=["needs_label"])
        label += nodes.Text(f"{name}: ")
        data.insert(0, label)
        line = nodes.line()
        line += data
        container += line
    return container


def setup(app: Sphinx) -> dict:
    compat.add_layout_function("kb_fields", kb_fields)
    compat.memoize_layout_parsing()
    return {"parallel_read_safe": True, "parallel_write_safe": True}
