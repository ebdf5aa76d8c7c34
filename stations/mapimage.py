"""A static PNG of the coverage map, drawn with Pillow (no tiles, no network): for docs/.

Everything is drawn in EPSG:4548 (metres), so the picture is true to scale: x to the right,
y up, one pixel the same number of metres both ways.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Polygon
from PIL import Image, ImageDraw, ImageFont

FONT_PATHS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
]
BACKGROUND = (250, 250, 247, 255)
COVERED = (76, 175, 80, 90)
COMMUNITY_LINE = (120, 120, 120, 255)
BOUNDARY_LINE = (30, 30, 30, 255)
STATION = (27, 94, 32, 255)
HOTSPOT = (229, 57, 53, 170)
SITE = (25, 118, 210, 255)
DEMAND = (244, 143, 0, 255)


@dataclass
class MapLayers:
    """Geometries in EPSG:4548 (metres)."""

    subdistrict: GEOSGeometry
    communities: list[tuple[str, GEOSGeometry]]  # (label, polygon)
    covered: GEOSGeometry | None
    stations: list[tuple[float, float, int]]  # x, y, radius in metres
    hotspots: list[tuple[str, GEOSGeometry]] = field(default_factory=list)  # (label, polygon)
    sites: list[tuple[str, float, float]] = field(default_factory=list)  # (label, x, y)
    demand: list[tuple[float, float]] = field(default_factory=list)  # uncovered reports


def _font(size: int) -> ImageFont.ImageFont:
    for path in FONT_PATHS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def _polygons(geometry: GEOSGeometry) -> Sequence[Polygon]:
    if isinstance(geometry, Polygon):
        return [geometry]
    if isinstance(geometry, MultiPolygon):
        return list(geometry)
    return [part for part in geometry if isinstance(part, Polygon)]  # a collection


def coverage_map_render(*, layers: MapLayers, path: Path, title: str, notes: Sequence[str],
                        width: int = 1400) -> None:
    """Draw the layers to a PNG at ``path``."""
    min_x, min_y, max_x, max_y = layers.subdistrict.extent
    margin, legend_h = 40, 170
    pad = 150.0  # metres around the subdistrict
    min_x, min_y, max_x, max_y = min_x - pad, min_y - pad, max_x + pad, max_y + pad
    scale = (width - 2 * margin) / (max_x - min_x)  # pixels per metre
    map_h = int((max_y - min_y) * scale)
    height = map_h + 2 * margin + legend_h + 50

    def px(x: float, y: float) -> tuple[float, float]:
        return margin + (x - min_x) * scale, margin + 50 + (max_y - y) * scale

    base = Image.new("RGBA", (width, height), BACKGROUND)
    overlay = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw_o = ImageDraw.Draw(overlay)
    if layers.covered is not None:
        for polygon in _polygons(layers.covered):
            draw_o.polygon([px(*xy) for xy in polygon.exterior_ring.coords], fill=COVERED)
            for ring in list(polygon)[1:]:  # holes: clear them again
                draw_o.polygon([px(*xy) for xy in ring.coords], fill=(0, 0, 0, 0))
    for _label, polygon in layers.hotspots:
        for part in _polygons(polygon):
            draw_o.polygon([px(*xy) for xy in part.exterior_ring.coords], fill=HOTSPOT)
    image = Image.alpha_composite(base, overlay)
    draw = ImageDraw.Draw(image)
    small, normal, big = _font(15), _font(18), _font(26)
    for label, polygon in layers.communities:
        for part in _polygons(polygon):
            draw.line([px(*xy) for xy in part.exterior_ring.coords], fill=COMMUNITY_LINE,
                      width=1)
        centre = polygon.point_on_surface
        cx, cy = px(centre.x, centre.y)
        draw.text((cx, cy), label, fill=(80, 80, 80, 255), font=small, anchor="mm")
    for part in _polygons(layers.subdistrict):
        draw.line([px(*xy) for xy in part.exterior_ring.coords], fill=BOUNDARY_LINE, width=3)
    for x, y in layers.demand:
        cx, cy = px(x, y)
        draw.ellipse([cx - 1.5, cy - 1.5, cx + 1.5, cy + 1.5], fill=DEMAND)
    for x, y, _radius in layers.stations:
        cx, cy = px(x, y)
        draw.rectangle([cx - 4, cy - 4, cx + 4, cy + 4], fill=STATION)
    placed: list[tuple[float, float]] = []
    for label, polygon in layers.hotspots:  # labels beside their cell, nudged apart
        centre = polygon.centroid
        cx, cy = px(centre.x, centre.y)
        while any(abs(cx - x) < 34 and abs(cy - y) < 16 for x, y in placed):
            cy += 16
        placed.append((cx, cy))
        draw.text((cx + 9, cy), label, fill=(183, 28, 28, 255), font=small, anchor="lm")
    for label, x, y in layers.sites:
        cx, cy = px(x, y)
        draw.ellipse([cx - 13, cy - 13, cx + 13, cy + 13], fill=SITE, outline=(255, 255, 255, 255),
                     width=2)
        draw.text((cx, cy), label, fill=(255, 255, 255, 255), font=normal, anchor="mm")
    draw.text((margin, 18), title, fill=(20, 20, 20, 255), font=big)
    # Scale bar: 1 km.
    bar_x, bar_y = margin, margin + 50 + map_h + 20
    draw.line([(bar_x, bar_y), (bar_x + 1000 * scale, bar_y)], fill=(20, 20, 20, 255), width=3)
    for tick in (0, 500, 1000):
        draw.line([(bar_x + tick * scale, bar_y - 5), (bar_x + tick * scale, bar_y + 5)],
                  fill=(20, 20, 20, 255), width=2)
    draw.text((bar_x + 1000 * scale + 10, bar_y), "1 km  (EPSG:4548, north up)",
              fill=(20, 20, 20, 255), font=small, anchor="lm")
    # Legend.
    y = bar_y + 25
    items = [
        ("rect", STATION, "union rest station"),
        ("fill", COVERED, "covered: within a station's walking radius"),
        ("dot", DEMAND, "report not covered"),
        ("fill", HOTSPOT, "uncovered hotspot: unit grid, ranked H1…"),
        ("site", SITE, "suggested next station, ranked 1…"),
    ]
    for kind, colour, text in items:
        if kind == "rect":
            draw.rectangle([margin, y - 5, margin + 10, y + 5], fill=colour)
        elif kind == "dot":
            draw.ellipse([margin + 2, y - 3, margin + 8, y + 3], fill=colour)
        elif kind == "site":
            draw.ellipse([margin - 2, y - 8, margin + 14, y + 8], fill=colour)
        else:
            swatch = Image.new("RGBA", (22, 14), colour)
            image.alpha_composite(swatch, (margin - 4, y - 7))
        draw.text((margin + 26, y), text, fill=(20, 20, 20, 255), font=small, anchor="lm")
        y += 22
    for note in notes:
        draw.text((margin + 520, bar_y + 25 + 22 * notes.index(note)), note,
                  fill=(60, 60, 60, 255), font=small, anchor="lm")
    image.convert("RGB").save(path, "PNG", optimize=True)
