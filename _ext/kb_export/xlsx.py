"""The workbook: every sheet of tables.py as a worksheet an auditor can work with
(frozen header row and ID column, autofilter, wrapped text, widths from the content, IDs
linked to their page, landscape print repeating the header row on every page).

The same input gives the same bytes: the document properties carry the source commit's
date (openpyxl stamps "modified" with the time of saving, so it is set again in the file),
and the ZIP entries are rewritten with that date and fixed attributes. Values go in as text or numbers only, never as formulas (tables.py
has already put an apostrophe before text a spreadsheet would read as one)."""

from __future__ import annotations

import functools
import io
import re
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

from .tables import Sheet, text

MAX_CELL = 32767  # characters Excel holds in one cell
TRUNCATED = "\n[... cut at Excel's cell limit; the full text is in the CSV file and needs.json]"


# openpyxl is imported when a workbook is written, not with this module: the site's build
# imports the exporter on every build and writes a workbook only when the export is out of
# date (the import is 0.13 s, a tenth of a build that changed nothing)
@functools.cache
def _openpyxl() -> SimpleNamespace:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    return SimpleNamespace(Workbook=Workbook, get_column_letter=get_column_letter,
                           header_font=Font(bold=True), header_fill=PatternFill("solid", fgColor="DDE6F0"),
                           link_font=Font(color="0563C1", underline="single"),
                           wrap=Alignment(wrap_text=True, vertical="top"))


def write(sheets: list[Sheet], path: Path, when: datetime, title: str) -> None:
    workbook = _openpyxl().Workbook()
    workbook.remove(workbook.active)
    for sheet in sheets:
        _worksheet(workbook.create_sheet(sheet.title), sheet)
    props = workbook.properties
    props.creator, props.title, props.lastModifiedBy = "kb_export", title, None
    stamp = when.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)
    props.created = props.modified = stamp
    buffer = io.BytesIO()
    workbook.save(buffer)
    path.write_bytes(_fixed_zip(buffer.getvalue(), stamp))


def _worksheet(ws, sheet: Sheet) -> None:
    style = _openpyxl()
    get_column_letter = style.get_column_letter
    ws.append([text(c) for c in sheet.columns])
    for c in ws[1]:
        c.font, c.fill, c.alignment = style.header_font, style.header_fill, style.wrap
    for index, (row, url) in enumerate(zip(sheet.rows, sheet.urls), start=2):
        ws.append([_fit(v) for v in row])
        # by position: ws[ws.max_row] scans every cell of the sheet, for every row
        cells = [ws.cell(row=index, column=column) for column in range(1, len(sheet.columns) + 1)]
        for c in cells:
            c.alignment = style.wrap
        if url:
            cells[0].hyperlink = url
            cells[0].font = style.link_font
    last = get_column_letter(len(sheet.columns))
    ws.freeze_panes = "A2" if sheet.title == "About" else "B2"
    ws.auto_filter.ref = f"A1:{last}{len(sheet.rows) + 1}"
    for index, name in enumerate(sheet.columns, start=1):
        ws.column_dimensions[get_column_letter(index)].width = _width(sheet, index - 1, name)
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"


def _fit(value):
    if isinstance(value, str) and len(value) > MAX_CELL:
        return value[: MAX_CELL - len(TRUNCATED)] + TRUNCATED
    return value


def _width(sheet: Sheet, index: int, name: str) -> float:
    """Wide enough for the longest line of the column, within limits: long text wraps."""
    longest = max([len(name)] + [len(line) for row in sheet.rows if row[index] is not None
                                 for line in str(row[index]).splitlines() or [""]])
    limit = 90 if name == "content" else 60 if name in sheet.wide else 32
    return float(min(max(longest + 2, 8), limit))


def _fixed_zip(data: bytes, stamp: datetime) -> bytes:
    date_time = max(stamp.timetuple()[:6], (1980, 1, 1, 0, 0, 0))  # ZIP cannot go earlier
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl sets "modified" to now on saving
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp.isoformat().encode() + b"Z", data)
            entry = zipfile.ZipInfo(info.filename, date_time=date_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.create_system = 3
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, data, compresslevel=9)
    return out.getvalue()
