"""The PDF's charts, drawn with reportlab.graphics from the report's rows: reports and closed
cases per community (bars), and per week (lines). The same numbers are in the PDF's tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors

if TYPE_CHECKING:
    from patrol.stats import StatsRow


WIDTH, HEIGHT = 480, 220  # points (1/72 inch)
SERIES_COLOURS = (colors.HexColor("#2b6cb0"), colors.HexColor("#38a169"))
LABEL_MAX = 8  # characters of a category label under a bar


def _legend(font: str, names: Sequence[str], x: float, y: float) -> Legend:
    legend = Legend()
    legend.x, legend.y = x, y
    legend.fontName, legend.fontSize = font, 8
    legend.alignment = "right"
    legend.columnMaximum = 1
    legend.deltax = 60  # between the series side by side
    legend.colorNamePairs = list(zip(SERIES_COLOURS, names, strict=False))
    return legend


def _value_max(series: Sequence[Sequence[int]]) -> int:
    return max([1] + [value for values in series for value in values])


def bars_draw(*, rows: Sequence[StatsRow], title: str, names: tuple[str, str],
              font: str) -> Drawing:
    """Reports and closed cases per row (e.g. per community), side by side."""
    drawing = Drawing(WIDTH, HEIGHT)
    drawing.add(String(0, HEIGHT - 12, title, fontName=font, fontSize=10))
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 40, 50, WIDTH - 60, HEIGHT - 90
    series = [[row.reports for row in rows] or [0], [row.closed for row in rows] or [0]]
    chart.data = series
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = _value_max(series)
    chart.valueAxis.labels.fontName = font
    chart.categoryAxis.categoryNames = [str(row.label)[:LABEL_MAX] for row in rows] or [""]
    chart.categoryAxis.labels.fontName, chart.categoryAxis.labels.fontSize = font, 7
    chart.categoryAxis.labels.angle = 30 if len(rows) > 6 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(rows) > 6 else "n"
    for index, colour in enumerate(SERIES_COLOURS):
        chart.bars[index].fillColor = colour
    drawing.add(chart)
    drawing.add(_legend(font, names, WIDTH - 140, HEIGHT - 6))
    return drawing


def lines_draw(*, rows: Sequence[StatsRow], title: str, names: tuple[str, str],
               font: str) -> Drawing:
    """Reports and closed cases per period (the trend), one point per row in order."""
    drawing = Drawing(WIDTH, HEIGHT)
    drawing.add(String(0, HEIGHT - 12, title, fontName=font, fontSize=10))
    plot = LinePlot()
    plot.x, plot.y, plot.width, plot.height = 40, 40, WIDTH - 60, HEIGHT - 80
    reports = [(index, row.reports) for index, row in enumerate(rows)] or [(0, 0)]
    closed = [(index, row.closed) for index, row in enumerate(rows)] or [(0, 0)]
    plot.data = [reports, closed]
    plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = 0, max(1, len(rows) - 1)
    plot.xValueAxis.valueSteps = list(range(max(1, len(rows))))
    labels = [str(row.label) for row in rows]
    plot.xValueAxis.labelTextFormat = lambda value: (
        labels[int(value)] if 0 <= int(value) < len(labels) else "")
    plot.xValueAxis.labels.fontName, plot.xValueAxis.labels.fontSize = font, 7
    plot.yValueAxis.valueMin = 0
    plot.yValueAxis.valueMax = _value_max([[v for _, v in reports], [v for _, v in closed]])
    plot.yValueAxis.labels.fontName = font
    for index, colour in enumerate(SERIES_COLOURS):
        plot.lines[index].strokeColor = colour
        plot.lines[index].strokeWidth = 1.5
        plot.lines[index].symbol = makeMarker("FilledCircle", size=4, fillColor=colour)
    drawing.add(plot)
    drawing.add(_legend(font, names, WIDTH - 140, HEIGHT - 6))
    return drawing
