"""A docutils table from a header and rows, for the tables an extension computes (coverage
summaries, the crosswalk's views, a device's gap summary)."""

from __future__ import annotations

from docutils import nodes


def table(header: list[str], rows: list[list[nodes.Node | str]], classes: list[str],
          widths: list[int] | None = None, row_ids: list[str] | None = None) -> nodes.table:
    """A table with one header row; a cell is a node or plain text (shown as a paragraph);
    ``widths``: relative column widths (equal by default); ``row_ids``: the HTML id of each
    body row (a link target), if given."""
    result = nodes.table(classes=classes)
    group = nodes.tgroup(cols=len(header))
    result += group
    for width in widths or [1] * len(header):
        group += nodes.colspec(colwidth=width)
    thead, tbody = nodes.thead(), nodes.tbody()
    for target, body, ids in ((thead, [header], [None]), (tbody, rows, row_ids or [None] * len(rows))):
        for cells, row_id in zip(body, ids):
            row = nodes.row(ids=[row_id] if row_id else [])
            for cell in cells:
                entry = nodes.entry()
                entry += cell if isinstance(cell, nodes.Node) else nodes.paragraph(text=cell)
                row += entry
            target += row
    group += thead
    group += tbody
    return result
