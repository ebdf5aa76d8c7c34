"""Spatial constants and the PostGIS functions Django lacks, each one small Func class.

Geometries are stored in WGS 84 (SRID 4326). Metres are measured in EPSG:4548 (CGCS2000 /
3-degree Gauss-Kruger CM 117E; Nanyuan is at 116.4 E, so the scale error is about 3e-5) or on
geography.
"""

from __future__ import annotations

from django.contrib.gis.db.models import GeometryField, PointField
from django.contrib.gis.geos import GEOSGeometry
from django.contrib.gis.db.models.functions import Transform
from django.db.models import Func, Value
from django.db.models.functions import Cast

from civicmap.models import WGS84

METRIC_SRID = 4548


def metric(expression: str | Func) -> Transform:
    """A WGS 84 geometry or geography column as geometry in EPSG:4548 (metres)."""
    return Transform(Cast(expression, output_field=GeometryField(srid=WGS84)), METRIC_SRID)


def as_geometry_point(expression: str | Func) -> Cast:
    """A geography point column as a geometry point (for functions that take geometry)."""
    return Cast(expression, output_field=PointField(srid=WGS84))


def metric_literal(geometry: GEOSGeometry) -> Transform:
    """A WGS 84 value transformed to EPSG:4548 by PostGIS, the same numbers as ``metric``."""
    return Transform(Value(geometry, output_field=GeometryField(srid=WGS84)), METRIC_SRID)
