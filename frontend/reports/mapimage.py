"""The PDF's map: the subdistrict's communities from their PostGIS polygons, shaded by their
reports in the month (five classes of equal width up to the busiest), each named, with a
legend. Vector shapes drawn by reportlab.graphics: no tiles, no network.

Projection: longitude scaled by cos(mean latitude) (equirectangular), which keeps shapes true
to within about 0.1 % across a subdistrict a few kilometres wide at 39.8° N.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from reportlab.graphics.shapes import Drawing, Polygon, Rect, String
from reportlab.lib import colors

from frontend.reports.rows import CommunityShape

WIDTH, HEIGHT = 480, 360  # points
MARGIN, LEGEND_W = 10, 110
# A sequential palette (ColorBrewer YlOrRd, 5 classes), lightest for the fewest reports.
PALETTE = tuple(colors.HexColor(code) for code in
                ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"))
DARK_FROM = 3  # the classes from which a name is written in white


def _rings(geometry: dict) -> list[list[tuple[float, float]]]:
    """The outer rings of a GeoJSON Polygon or MultiPolygon (lon, lat)."""
    if geometry["type"] == "Polygon":
        return [[tuple(point) for point in geometry["coordinates"][0]]]
    if geometry["type"] == "MultiPolygon":
        return [[tuple(point) for point in polygon[0]] for polygon in geometry["coordinates"]]
    return []


def class_breaks(maximum: int) -> list[int]:
    """Upper bounds of the five classes, equal widths from 0 to ``maximum`` (at least 1)."""
    step = max(1, maximum) / len(PALETTE)
    return [math.ceil(step * (index + 1)) for index in range(len(PALETTE))]


def class_of(value: int, breaks: Sequence[int]) -> int:
    return next((index for index, bound in enumerate(breaks) if value <= bound), len(breaks) - 1)


def map_draw(*, communities: Sequence[CommunityShape], title: str, legend_title: str,
             font: str) -> Drawing:
    """The choropleth of ``communities`` by reports."""
    drawing = Drawing(WIDTH, HEIGHT)
    drawing.add(String(0, HEIGHT - 12, title, fontName=font, fontSize=10))
    points = [point for shape in communities for ring in _rings(shape.geometry)
              for point in ring]
    if not points:
        return drawing
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    kx = math.cos(math.radians((min(lats) + max(lats)) / 2))
    span_x, span_y = (max(lons) - min(lons)) * kx or 1e-9, (max(lats) - min(lats)) or 1e-9
    box_w, box_h = WIDTH - LEGEND_W - 2 * MARGIN, HEIGHT - 20 - 2 * MARGIN
    scale = min(box_w / span_x, box_h / span_y)

    def project(lon: float, lat: float) -> tuple[float, float]:
        return (MARGIN + (lon - min(lons)) * kx * scale, MARGIN + (lat - min(lats)) * scale)

    breaks = class_breaks(max(shape.reports for shape in communities))
    for shape in communities:
        fill = PALETTE[class_of(shape.reports, breaks)]
        for ring in _rings(shape.geometry):
            flat = [value for lon, lat in ring for value in project(lon, lat)]
            drawing.add(Polygon(flat, fillColor=fill, strokeColor=colors.HexColor("#555555"),
                                strokeWidth=0.6))
    for shape in communities:  # names on top of every shape
        ring = max(_rings(shape.geometry), key=len, default=[])
        if ring:
            x, y = project(sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring))
            dark = class_of(shape.reports, breaks) >= DARK_FROM  # white text on dark fills
            drawing.add(String(x, y, f"{shape.name} {shape.reports}", fontName=font,
                               fontSize=6.5, textAnchor="middle",
                               fillColor=colors.white if dark else colors.black))
    _legend_draw(drawing, breaks, legend_title, font)
    return drawing


def _legend_draw(drawing: Drawing, breaks: Sequence[int], title: str, font: str) -> None:
    x, y = WIDTH - LEGEND_W + 10, HEIGHT - 50
    drawing.add(String(x, y + 14, title, fontName=font, fontSize=8))
    low = 0
    for colour, high in zip(PALETTE, breaks, strict=True):
        drawing.add(Rect(x, y, 14, 10, fillColor=colour, strokeColor=colors.grey,
                         strokeWidth=0.4))
        drawing.add(String(x + 20, y + 2, f"{low}–{high}", fontName=font, fontSize=7))
        low, y = high + 1, y - 14
