"""Accessibility of the HTML that Sphinx writes (axe-core, WCAG 2.1 AA; tests/browser).

Sphinx writes the caption of a table of contents (furo's sidebar, a toctree with ``:caption:``)
as ``<p class="caption" role="heading">`` without ``aria-level``, which ARIA requires of a
heading: axe-core's critical ``aria-required-attr`` on every page. The translator adds the
level: 2, below the page's title.

The button in the head of a need box, which shows every field and link, is a span that reacts
to a click only: ``_static/kb-a11y.js`` makes it a button for the keyboard and screen readers."""

from __future__ import annotations

from sphinx.application import Sphinx
from sphinx.writers.html5 import HTML5Translator

ROLE = 'role="heading"'


class Translator(HTML5Translator):
    def visit_title(self, node) -> None:
        start = len(self.body)
        super().visit_title(node)
        for index in range(start, len(self.body)):
            part = self.body[index]
            if ROLE in part and "aria-level" not in part and 'class="caption"' in part:
                self.body[index] = part.replace(ROLE, ROLE + ' aria-level="2"', 1)


def setup(app: Sphinx) -> dict:
    app.add_js_file("kb-a11y.js")
    for builder in ("html", "dirhtml", "singlehtml"):
        app.set_translator(builder, Translator, override=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
