"""The site's placeholder nodes on a page being written, found in one walk of the page.

The site's directives and roles leave placeholder nodes where a view goes (the crosswalk's
tables, the trace matrix, the coverage summary, the life-cycle table, the tag tables, browse
links, the lists of published files, the release changes); each part fills its own at
``doctree-resolved``. Each used to walk the whole page for its own class: ten walks of every
page written, most finding nothing. Now the first part to ask walks the page once and collects
the placeholders of every class registered (``register``, from each part's setup); the others
take theirs from that.

Placeholders come from reading only (no handler makes one), and sphinx-needs' copies of need
content (needextract) are made before the site's handlers run (they run at priority 500 or
later, after sphinx-needs' own), so the one walk sees every placeholder the page will have.
None holds another: each is empty until filled, but for the tag tables, which hold the
needtables sphinx-needs fills and are then replaced by their own children. (Whether a node is
still on the page cannot be told from its parent: sphinx-design's tabs move content without
updating it.)"""

from __future__ import annotations

from collections import defaultdict

from docutils import nodes
from kb_shared.trees import elements
from sphinx.application import Sphinx

#: The placeholder classes, registered by the parts that fill them.
CLASSES: set[type[nodes.Element]] = set()


def register(*classes: type[nodes.Element]) -> None:
    CLASSES.update(classes)


def on_page(app: Sphinx, doctree: nodes.document, cls: type[nodes.Element]) -> list[nodes.Element]:
    """The nodes of ``cls`` (registered) on the page, in document order."""
    if cls not in CLASSES:
        raise TypeError(f"{cls.__name__} is not a registered placeholder (kb.build.placeholders.register)")
    walked = app.__dict__.get("kb_placeholders")
    if walked is None or walked[0] is not doctree:  # the page is held here, so its id is not reused
        found: dict[type, list[nodes.Element]] = defaultdict(list)
        for node in elements(doctree):
            if type(node) in CLASSES:
                found[type(node)].append(node)
        walked = app.kb_placeholders = (doctree, found)
    return list(walked[1].get(cls, ()))
