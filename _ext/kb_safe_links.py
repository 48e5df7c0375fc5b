"""Links in content lead to pages, never run script.

docutils turns any text that looks like a URI into a link, and a ``javascript:`` URI is one to
it: ``<iframe src="javascript:alert(1)">`` pasted into a statement would be shown as text with
a live ``javascript:`` link inside. A link whose scheme is not one of SCHEMES becomes plain text
again. (Markup itself is escaped by docutils, MyST's inline HTML is off in conf.py, and the raw
directive is off in docutils.conf.)"""

from __future__ import annotations

from urllib.parse import urlsplit

from docutils import nodes
from sphinx.application import Sphinx

# the schemes MyST accepts in Markdown links by default (myst_url_schemes); "" is a relative link
SCHEMES = {"", "http", "https", "mailto", "ftp"}


def unlink_other_schemes(app: Sphinx, doctree: nodes.document) -> None:
    for reference in list(doctree.findall(nodes.reference)):
        uri = reference.get("refuri")
        if uri is not None and urlsplit(uri).scheme.lower() not in SCHEMES:
            reference.replace_self(nodes.Text(reference.astext()))


def setup(app: Sphinx) -> dict:
    app.connect("doctree-read", unlink_other_schemes)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
