"""Helpers of the extensions that publish files beside the pages (the audit export, the
interchange): the needs.json they start from, and the list of links to the files on a page."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

from ..build import placeholders


def built_needs_json(app: Sphinx, extension: str) -> Path:
    """The needs.json sphinx-needs wrote into the HTML output; an error naming the fix if none."""
    path = Path(app.outdir) / "needs.json"
    if not path.is_file():
        raise ExtensionError(f"{extension}: no needs.json in the HTML output; set build_json = true "
                             "under [needs] in ubproject.toml")
    return path


def fill_file_lists(app: Sphinx, doctree: nodes.document, docname: str, placeholder: type[nodes.Element],
                    files: Callable[[], list[tuple[str, str, str]]]) -> None:
    """Replace every ``placeholder`` node of the page with a list of links to the published
    files: ``files()`` gives (path in the output, text shown, what it holds) for each."""
    found = placeholders.on_page(app, doctree, placeholder)
    if not found:
        return
    page_dir = posixpath.dirname(app.builder.get_target_uri(docname))
    items = nodes.bullet_list()
    for path, shown, holds in files():
        para = nodes.paragraph()
        para += nodes.reference("", "", nodes.literal(text=shown), refuri=posixpath.relpath(path, page_dir or "."),
                                classes=["kb-download"])
        para += nodes.Text(f": {holds}")
        items += nodes.list_item("", para)
    for node in found:
        node.replace_self(items.deepcopy())
