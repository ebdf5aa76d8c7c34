"""The A4 PDF of a station's check-in sheet: the same name, QR code and instructions as the
HTML sheet (/union/stations/<id>/sheet/), for printing where the browser's print is poor.

The QR code is drawn from segno's module matrix as filled squares (vector, sharp at any
printer resolution); the font is the reports' CJK font (``frontend.reports.fonts``).
"""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO
from xml.sax.saxutils import escape

import segno
from reportlab.graphics.shapes import Drawing, Rect
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from frontend.reports.fonts import font_register

QR_SIDE_MM = 110  # the code's printed side: scannable from an arm's length
QR_QUIET_MODULES = 4  # the standard quiet zone around the symbol


def _qr_drawing(payload: str) -> Drawing:
    """The QR code (error correction M, as the SVG) as a vector drawing QR_SIDE_MM wide."""
    matrix = segno.make(payload, error="m").matrix
    modules = len(matrix) + 2 * QR_QUIET_MODULES
    cell = QR_SIDE_MM * mm / modules
    drawing = Drawing(QR_SIDE_MM * mm, QR_SIDE_MM * mm)
    for row_index, row in enumerate(matrix):
        for column, dark in enumerate(row):
            if dark:
                drawing.add(Rect((column + QR_QUIET_MODULES) * cell,
                                 (modules - 1 - row_index - QR_QUIET_MODULES) * cell,
                                 cell, cell, fillColor="black", strokeColor=None))
    drawing.hAlign = "CENTER"
    return drawing


def station_sheet_pdf(*, heading: str, name: str, name_en: str | None, payload: str,
                      code_line: str, sections: Sequence[tuple[str, Sequence[str]]]) -> bytes:
    """One A4 page: ``heading`` (subdistrict · union station), the station's ``name`` (and
    ``name_en``), the QR code of ``payload``, ``code_line`` (the short code to type) and each
    section of instructions (a title and its numbered steps)."""
    font = font_register()

    def style(size: float, *, centre: bool = False) -> ParagraphStyle:
        return ParagraphStyle(f"s{size}{centre}", fontName=font, fontSize=size,
                              leading=size * 1.45, alignment=1 if centre else 0)

    story = [Paragraph(escape(heading), style(12, centre=True)),
             Paragraph(escape(name), style(24, centre=True))]
    if name_en:
        story.append(Paragraph(escape(name_en), style(14, centre=True)))
    story += [Spacer(1, 4 * mm), _qr_drawing(payload), Spacer(1, 2 * mm),
              Paragraph(escape(code_line), style(18, centre=True)), Spacer(1, 6 * mm)]
    for title, steps in sections:
        story.append(Paragraph(escape(title), style(14)))
        story += [Paragraph(f"{number}. {escape(step)}", style(11.5))
                  for number, step in enumerate(steps, start=1)]
        story.append(Spacer(1, 3 * mm))
    out = BytesIO()
    SimpleDocTemplate(out, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm,
                      topMargin=15 * mm, bottomMargin=15 * mm, title=name,
                      author="Nanyuan CivicMap").build(story)
    return out.getvalue()
