"""Spatial constants and the PostGIS functions Django lacks, each one small Func class.

Geometries are stored in WGS 84 (SRID 4326). Metres are measured in EPSG:4548 (CGCS2000 /
3-degree Gauss-Kruger CM 117E; Nanyuan is at 116.4 E, so the scale error is about 3e-5) or on
geography.
"""

from __future__ import annotations

from django.contrib.gis.db.models import GeometryField, PointField
from django.contrib.gis.db.models.functions import GeomOutputGeoFunc, Transform
from django.db.models import BigIntegerField, FloatField, Func, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Cast, Floor

from civicmap.models import WGS84

METRIC_SRID = 4548
# The side of the metric grid's square cells, metres in EPSG:4548: the maps' report counts
# (issues.aggregates) and intake's duplicate lookup (``metric_cell_key``) share it.
CELL_SIZE_M = 100


def metric(expression: str | Func) -> Transform:
    """A WGS 84 geometry or geography column as geometry in EPSG:4548 (metres)."""
    return Transform(Cast(expression, output_field=GeometryField(srid=WGS84)), METRIC_SRID)


def metric_cell_key(expression: str | Func) -> Combinable:
    """The 100 m cell of a WGS 84 point column as one bigint: (i << 32) | j, where i and j are
    floor(x / 100) and floor(y / 100) of the point in EPSG:4548 metres (about 4,400 and 44,000
    in Nanyuan: both positive and far below 2**31). A btree index on it finds the points of a
    few cells without a GiST box scan (issues.Case.merge_cell)."""
    # ST_X / ST_Y stay anonymous Func()s here: this expression is the GeneratedField
    # Case.merge_cell, and its deconstructed form is recorded in issues migration 0009, so a
    # named class would make Django see a changed field (a migration for identical SQL).
    def index(axis: str) -> Cast:
        coordinate = Func(metric(expression), function=f"ST_{axis}", output_field=FloatField())
        return Cast(Floor(coordinate / CELL_SIZE_M), output_field=BigIntegerField())

    return index("X").bitleftshift(32).bitor(index("Y"))


def as_geometry_point(expression: str | Func) -> Cast:
    """A geography point column as a geometry point (for functions that take geometry)."""
    return Cast(expression, output_field=PointField(srid=WGS84))


class Buffer(GeomOutputGeoFunc):
    """``ST_Buffer(geometry, radius, 'quad_segs=N')`` on a geometry in a metric SRID (EPSG:4548).

    ``radius`` is in the units of the geometry's SRID: metres for EPSG:4548 (never degrees: use
    ``metric()`` first). It may be an expression, e.g. a per-row radius column. ``quad_segs`` is
    segments per quarter circle: the 4N-gon's area falls short of the circle's by about
    (2π/4N)²/6, so 64 (a 256-gon) is within 0.01 %. For drawing and for areas only; "is this point
    covered" is ST_DWithin, which is exact.
    """

    function = "ST_Buffer"

    def __init__(self, expression, radius, quad_segs: int = 64, **extra) -> None:
        if not isinstance(quad_segs, int) or quad_segs < 1:
            raise ValueError("quad_segs must be a positive integer.")
        super().__init__(expression, radius, Value(f"quad_segs={quad_segs}"), **extra)


class PointX(Func):
    """``ST_X(point)``: the point's x in its SRID's units (degrees of longitude in EPSG:4326,
    metres of easting in EPSG:4548)."""

    function = "ST_X"
    output_field = FloatField()


class PointY(Func):
    """``ST_Y(point)``: the point's y (degrees of latitude in EPSG:4326, metres of northing in
    EPSG:4548)."""

    function = "ST_Y"
    output_field = FloatField()
