"""The report's workbook: one sheet per table, headings in the active language (Chinese by
default), every figure a number cell (rates as fractions shown as per cent, hours with one
decimal), column widths set from the contents. Plain values in, bytes out: no queries."""

from __future__ import annotations

import unicodedata
from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from frontend.reports.rows import COLUMNS, ReportFigures, ReportTable

NUMBER_FORMATS = {"count": "0", "share": "0.0%", "hours": "0.0"}
MIN_WIDTH, MAX_WIDTH = 8, 48  # characters (a CJK character counts as two)
SHEET_NAME_MAX = 31  # Excel's limit
SHEET_NAME_FORBIDDEN = str.maketrans({char: " " for char in "[]:*?/\\"})


def text_width(text: str) -> int:
    """Columns ``text`` takes in a spreadsheet: two for a wide (CJK) character, one otherwise."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _sheet_name(title: str) -> str:
    return str(title).translate(SHEET_NAME_FORBIDDEN)[:SHEET_NAME_MAX]


def _table_write(sheet, table: ReportTable) -> None:
    """Headings in row 1 (bold, frozen), one row per StatsRow below; widths from contents."""
    headings = [str(table.label_heading)] + [str(column.heading) for column in COLUMNS]
    sheet.append(headings)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for row in table.rows:
        values = [str(row.label)] + [getattr(row, column.attr) for column in COLUMNS]
        sheet.append(values)  # None stays an empty cell: no rate without a denominator
        for cell, column in zip(sheet[sheet.max_row][1:], COLUMNS, strict=True):
            cell.number_format = NUMBER_FORMATS[column.kind]
    sheet.freeze_panes = "B2"
    for index, heading in enumerate(headings, start=1):
        letter = get_column_letter(index)
        widest = max([text_width(heading)] + [
            text_width(str(cell.value)) + 2 for cell in sheet[letter][1:] if cell.value is not None
        ])
        sheet.column_dimensions[letter].width = max(MIN_WIDTH, min(MAX_WIDTH, widest + 2))


def report_xlsx_write(*, figures: ReportFigures, title: str) -> bytes:
    """The workbook of ``figures``: a sheet per table (summary, by community, handler,
    category, week), in that order."""
    book = Workbook()
    book.remove(book.active)
    book.properties.title = title
    book.properties.creator = "Nanyuan CivicMap"
    for table in figures.tables:
        _table_write(book.create_sheet(_sheet_name(table.title)), table)
    out = BytesIO()
    book.save(out)
    return out.getvalue()
