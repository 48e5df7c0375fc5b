"""Tags shown on a need link to their tag page (``tags/<tag>.html``, see kb_tags.py).

sphinx-needs renders the ``tags`` of a need as plain text, both in a need's layout
(``<<meta_all()>>``) and in a needtable column: an element with the class ``needs_tags``
holding one text node per tag. Once sphinx-needs has rendered a page, each such text that is a
tag of the vocabulary becomes a link, titled with the tag's meaning."""

from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx

from kb_tags import tag_docname, tag_meanings


def _shows_tags(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Element) and "needs_tags" in node["classes"]


def link_tags(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    if app.builder.format != "html":
        return
    holders = list(doctree.findall(_shows_tags))
    if not holders:
        return
    meanings = tag_meanings(app.confdir)
    for holder in holders:
        for text in list(holder.findall(nodes.Text)):
            tag = text.astext()
            if tag not in meanings or isinstance(text.parent, nodes.reference):
                continue
            link = nodes.reference(
                "", tag, internal=True, classes=["kb-tag"], reftitle=meanings[tag],
                refuri=app.builder.get_relative_uri(docname, tag_docname(tag)),
            )
            text.parent.replace(text, link)


def setup(app: Sphinx) -> dict:
    # after sphinx-needs (priority 500) has rendered need layouts and needtables
    app.connect("doctree-resolved", link_tags, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
