"""The report's PDF: a title, the month's summary, a bar chart per community, the weekly
trend as lines, the map of the communities shaded by reports, and every table with its
numbers (each chart's figures are also in a table). Plain values in, bytes out: no queries.

Text in WenQuanYi Micro Hei (``fonts``), embedded as a subset.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from io import BytesIO
from xml.sax.saxutils import escape

from django.utils.translation import pgettext
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from frontend.reports.charts import bars_draw, lines_draw
from frontend.reports.fonts import font_register
from frontend.reports.mapimage import map_draw
from frontend.reports.rows import COLUMNS, ReportFigures, ReportTable

PAGE = landscape(A4)  # wide tables: nine figures a row
Progress = Callable[[str], None]


def figure_text(value, kind: str) -> str:
    """A figure as the PDF's tables show it: rates as per cent, hours with one decimal, a
    dash where there is no value (a rate without a denominator)."""
    if value is None:
        return "—"
    if kind == "share":
        return f"{value * 100:.1f}%"
    if kind == "hours":
        return f"{value:.1f}"
    return str(value)


def _styles(font: str) -> dict[str, ParagraphStyle]:
    return {
        "title": ParagraphStyle("title", fontName=font, fontSize=18, leading=24,
                                spaceAfter=6),
        "h2": ParagraphStyle("h2", fontName=font, fontSize=13, leading=18, spaceBefore=8,
                             spaceAfter=4),
        "body": ParagraphStyle("body", fontName=font, fontSize=9, leading=13),
        "cell": ParagraphStyle("cell", fontName=font, fontSize=8, leading=10),
    }


def _table(table: ReportTable, styles: dict[str, ParagraphStyle], font: str) -> Table:
    head = [Paragraph(escape(str(table.label_heading)), styles["cell"])] + [
        Paragraph(escape(str(column.heading)), styles["cell"]) for column in COLUMNS]
    # Paragraph reads markup: names are escaped, never parsed.
    body = [[Paragraph(escape(str(row.label)), styles["cell"])]
            + [figure_text(getattr(row, column.attr), column.kind) for column in COLUMNS]
            for row in table.rows]
    widths = [60 * mm] + [(PAGE[0] - 40 * mm - 60 * mm) / len(COLUMNS)] * len(COLUMNS)
    out = Table([head] + body, colWidths=widths, repeatRows=1)
    out.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e2e8f0")),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#a0aec0")),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f7fafc")]),
    ]))
    return out


def report_pdf_write(*, figures: ReportFigures, title: str, made_at: str,
                     progress: Progress = lambda stage: None) -> bytes:
    """The PDF of ``figures``; ``progress`` is told each stage as it starts (charts, map,
    layout) so that the caller can record it."""
    font = font_register()
    styles = _styles(font)
    names = (pgettext("governance report", "Reports"), pgettext("governance report", "Closed"))
    progress("charts")
    community = figures.table("community")
    trend = figures.table("trend")
    story: list = [
        Paragraph(escape(title), styles["title"]),
        Paragraph(escape(pgettext("governance report",
                                  "Period: %(since)s to %(until)s (Beijing time). "
                                  "Made %(made)s.") % {
            "since": f"{figures.since:%Y-%m-%d}", "made": made_at,
            "until": f"{figures.until - timedelta(days=1):%Y-%m-%d}"}), styles["body"]),
        Spacer(1, 4 * mm),
        Paragraph(pgettext("governance report", "Summary"), styles["h2"]),
        _table(figures.table("summary"), styles, font),
        Spacer(1, 4 * mm),
        KeepTogether([bars_draw(
            rows=community.rows, names=names, font=font,
            title=pgettext("governance report", "Reports and closed cases by community"))]),
        KeepTogether([lines_draw(
            rows=trend.rows, names=names, font=font,
            title=pgettext("governance report", "Reports and closed cases by week"))]),
    ]
    progress("map")
    story += [PageBreak(),
              Paragraph(pgettext("governance report", "Reports by community on the map"),
                        styles["h2"]),
              map_draw(communities=figures.communities,
                       title=pgettext("governance report",
                                      "%(subdistrict)s: reports per community") % {
                           "subdistrict": figures.subdistrict_name},
                       legend_title=pgettext("governance report", "Reports"), font=font),
              Paragraph(pgettext("governance report",
                                 "Community boundaries are approximate (demo data)."),
                        styles["body"])]
    progress("layout")
    for table in figures.tables[1:]:
        story += [Paragraph(escape(str(table.title)), styles["h2"]), _table(table, styles, font),
                  Spacer(1, 4 * mm)]
    out = BytesIO()
    doc = SimpleDocTemplate(out, pagesize=PAGE, leftMargin=20 * mm, rightMargin=20 * mm,
                            topMargin=15 * mm, bottomMargin=15 * mm, title=title,
                            author="Nanyuan CivicMap")
    doc.build(story)
    return out.getvalue()
