"""The workbook: every sheet of tables.py as a worksheet an auditor can work with
(frozen header row and ID column, autofilter, wrapped text, widths from the content, IDs
linked to their page, landscape print repeating the header row on every page).

The SpreadsheetML (ECMA-376, the parts Excel itself writes for such a sheet) is written
here, not through openpyxl: the export of the site's 133,000 cells took 2.7 s in openpyxl
(its per-cell style objects) and takes a tenth of that as text. The tests read the
workbook back with openpyxl, an independent reader.

The same input gives the same bytes: the document properties and every ZIP entry carry the
source commit's date. Values go in as text or numbers only, never as formulas (tables.py
has already put an apostrophe before text a spreadsheet would read as one); text is written
inline in its cell (no shared-string table to keep in order)."""

from __future__ import annotations

import io
import math
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from .tables import Sheet, text

MAX_CELL = 32767  # characters Excel holds in one cell
TRUNCATED = "\n[... cut at Excel's cell limit; the full text is in the CSV file and needs.json]"

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
HYPERLINK = f"{RELATIONSHIPS}/hyperlink"
DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
# the cell formats of styles.xml, by their index
HEADER, BODY, LINK = 1, 2, 3
# a carriage return written as itself would be read back as a line feed (XML's line ends)
CELL_TEXT = {"\r": "&#13;"}
A4 = 9  # paperSize


def write(sheets: list[Sheet], path: Path, when: datetime, title: str) -> None:
    stamp = when.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)
    parts = {
        "[Content_Types].xml": _content_types(len(sheets)),
        "_rels/.rels": _relationships([
            ("rId1", "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument",
             "xl/workbook.xml"),
            ("rId2", "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties",
             "docProps/core.xml"),
            ("rId3", f"{RELATIONSHIPS}/extended-properties", "docProps/app.xml")]),
        "docProps/core.xml": _core(title, stamp),
        "docProps/app.xml": (f'{DECLARATION}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/'
                             '2006/extended-properties"><Application>kb_export</Application></Properties>'),
        "xl/workbook.xml": _workbook(sheets),
        "xl/_rels/workbook.xml.rels": _relationships(
            [(f"rId{n}", f"{RELATIONSHIPS}/worksheet", f"worksheets/sheet{n}.xml") for n in range(1, len(sheets) + 1)]
            + [(f"rId{len(sheets) + 1}", f"{RELATIONSHIPS}/styles", "styles.xml")]),
        "xl/styles.xml": STYLES,
    }
    for n, sheet in enumerate(sheets, start=1):
        parts[f"xl/worksheets/sheet{n}.xml"], links = _worksheet(sheet)
        if links:
            parts[f"xl/worksheets/_rels/sheet{n}.xml.rels"] = _relationships(
                [(f"rId{i}", HYPERLINK, url, "External") for i, url in enumerate(links, start=1)])
    path.write_bytes(_zip(parts, stamp))


def _worksheet(sheet: Sheet) -> tuple[str, list[str]]:
    """The sheet's XML and the targets of its hyperlinks (relationship rId1, rId2, ...)."""
    letters = [column_letter(i) for i in range(1, len(sheet.columns) + 1)]
    last = "".join(map(str, _last_cell(sheet)))
    # the header row frozen; on a table of needs, their ID column too
    pane = ('<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>' if sheet.title == "About" else
            '<pane xSplit="1" ySplit="1" topLeftCell="B2" activePane="bottomRight" state="frozen"/>'
            '<selection pane="topRight"/><selection pane="bottomLeft"/>'
            '<selection pane="bottomRight" activeCell="B2" sqref="B2"/>')
    cols = "".join(f'<col min="{i}" max="{i}" width="{_width(sheet, i - 1, name):g}" customWidth="1"/>'
                   for i, name in enumerate(sheet.columns, start=1))
    out = [f'{DECLARATION}<worksheet xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}">'
           '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
           f'<dimension ref="A1:{last}"/><sheetViews><sheetView workbookViewId="0">{pane}</sheetView></sheetViews>'
           f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols><sheetData>',
           _row(1, letters, [text(c) for c in sheet.columns], HEADER, HEADER)]
    links, refs = [], []
    for r, (row, url) in enumerate(zip(sheet.rows, sheet.urls), start=2):
        out.append(_row(r, letters, row, LINK if url else BODY, BODY))
        if url:
            links.append(url)
            refs.append(f'<hyperlink ref="A{r}" r:id="rId{len(links)}"/>')
    out.append(f'</sheetData><autoFilter ref="A1:{last}"/>')
    if refs:
        out.append(f'<hyperlinks>{"".join(refs)}</hyperlinks>')
    out.append('<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/>'
               f'<pageSetup paperSize="{A4}" orientation="landscape" fitToWidth="1" fitToHeight="0"/></worksheet>')
    return "".join(out), links


def _last_cell(sheet: Sheet) -> tuple[str, int]:
    """The column and row of the sheet's last cell (the header row is row 1)."""
    return column_letter(len(sheet.columns)), len(sheet.rows) + 1


def _row(r: int, letters: list[str], values: list, first_style: int, style: int) -> str:
    cells = []
    for i, (letter, value) in enumerate(zip(letters, values)):
        s = first_style if i == 0 else style
        if value is None:
            cells.append(f'<c r="{letter}{r}" s="{s}"/>')
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ValueError(f"{letter}{r}: a cell cannot hold {value}")
            cells.append(f'<c r="{letter}{r}" s="{s}"><v>{value!r}</v></c>')
        else:
            cells.append(f'<c r="{letter}{r}" s="{s}" t="inlineStr"><is><t xml:space="preserve">'
                         f'{escape(_fit(value), CELL_TEXT)}</t></is></c>')
    return f'<row r="{r}">{"".join(cells)}</row>'


def column_letter(n: int) -> str:
    """1 -> A, 26 -> Z, 27 -> AA."""
    letters = ""
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _fit(value: str) -> str:
    if len(value) > MAX_CELL:
        return value[: MAX_CELL - len(TRUNCATED)] + TRUNCATED
    return value


def _width(sheet: Sheet, index: int, name: str) -> float:
    """Wide enough for the longest line of the column, within limits: long text wraps."""
    longest = max([len(name)] + [len(line) for row in sheet.rows if row[index] is not None
                                 for line in str(row[index]).splitlines() or [""]])
    limit = 90 if name == "content" else 60 if name in sheet.wide else 32
    return float(min(max(longest + 2, 8), limit))


def _workbook(sheets: list[Sheet]) -> str:
    entries = "".join(f'<sheet name={quoteattr(s.title)} sheetId="{n}" r:id="rId{n}"/>'
                      for n, s in enumerate(sheets, start=1))
    names = []
    for n, s in enumerate(sheets):
        quoted = "'" + s.title.replace("'", "''") + "'"
        column, row = _last_cell(s)
        last = f"${column}${row}"
        names.append(f'<definedName name="_xlnm._FilterDatabase" localSheetId="{n}" hidden="1">'
                     f'{escape(quoted)}!$A$1:{last}</definedName>')
        names.append(f'<definedName name="_xlnm.Print_Titles" localSheetId="{n}">{escape(quoted)}!$1:$1</definedName>')
    return (f'{DECLARATION}<workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}"><workbookPr/>'
            f'<bookViews><workbookView activeTab="0"/></bookViews><sheets>{entries}</sheets>'
            f'<definedNames>{"".join(names)}</definedNames><calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>')


def _core(title: str, stamp: datetime) -> str:
    when = stamp.isoformat() + "Z"
    return (f'{DECLARATION}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
            'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f'<dc:title>{escape(title)}</dc:title><dc:creator>kb_export</dc:creator>'
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{when}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{when}</dcterms:modified></cp:coreProperties>')


def _content_types(sheet_count: int) -> str:
    sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    overrides = [("/xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"),
                 ("/xl/styles.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"),
                 ("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"),
                 ("/docProps/app.xml", "application/vnd.openxmlformats-officedocument.extended-properties+xml")]
    overrides += [(f"/xl/worksheets/sheet{n}.xml", sheet_type) for n in range(1, sheet_count + 1)]
    return (f'{DECLARATION}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            + "".join(f'<Override PartName="{p}" ContentType="{t}"/>' for p, t in overrides) + "</Types>")


def _relationships(entries: list[tuple[str, ...]]) -> str:
    rels = "".join(f'<Relationship Id="{e[0]}" Type="{e[1]}" Target={quoteattr(e[2])}'
                   + (f' TargetMode="{e[3]}"' if len(e) > 3 else "") + "/>" for e in entries)
    return f'{DECLARATION}<Relationships xmlns="{PACKAGE}">{rels}</Relationships>'


_FONT = '<sz val="11"/><name val="Calibri"/><family val="2"/><scheme val="minor"/>'
_WRAP = '<alignment vertical="top" wrapText="1"/>'
STYLES = (
    f'{DECLARATION}<styleSheet xmlns="{MAIN}">'
    f'<fonts count="3"><font>{_FONT}</font><font><b/>{_FONT}</font>'
    f'<font><u/><color rgb="FF0563C1"/>{_FONT}</font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFDDE6F0"/><bgColor indexed="64"/></patternFill></fill>'
    '</fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    f'<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1" applyAlignment="1">{_WRAP}</xf>'
    f'<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1">{_WRAP}</xf>'
    f'<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1" applyAlignment="1">{_WRAP}</xf>'
    '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')


def _zip(parts: dict[str, str], stamp: datetime) -> bytes:
    date_time = max(stamp.timetuple()[:6], (1980, 1, 1, 0, 0, 0))  # ZIP cannot go earlier
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        for name, content in parts.items():
            entry = zipfile.ZipInfo(name, date_time=date_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.create_system = 3
            entry.external_attr = 0o644 << 16
            package.writestr(entry, content.encode("utf-8"), compresslevel=6)
    return out.getvalue()
