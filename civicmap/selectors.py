"""Reads of the shared geography: which grid a point falls in, the subdistricts served and
which of them border one another."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.contrib.gis.db.models.aggregates import Extent
from django.contrib.gis.db.models.functions import AsGeoJSON, AsSVG
from django.contrib.gis.geos import Point
from django.db import connection
from django.db.models import QuerySet

from civicmap.models import CommunityGrid, Subdistrict, UnitGrid
from civicmap.sql import GRID_LOCATE, GRID_NEAREST, SUBDISTRICT_NEIGHBOURS


@dataclass(frozen=True)
class PlaceNames:
    """The codes and names of a place's subdistrict, community and unit grid, as a report's
    answer shows them (and its dispatch names the subdistrict's trade union)."""

    subdistrict_code: str
    subdistrict_name_zh: str
    subdistrict_name_en: str
    community_code: str
    community_name_zh: str
    community_name_en: str
    unit_grid_code: str | None  # UnitGrid.grid_id; None with no unit grid


@dataclass(frozen=True)
class GridPlace:
    """Where a point falls, as ids: what a report and a case store."""

    unit_grid_id: int | None
    community_id: int
    subdistrict_id: int  # the subdistrict whose grids contain the point: it owns the report
    # grid_locate's, read in its statement: what intake's answer shows (None from grid_nearest).
    names: PlaceNames | None = field(default=None, compare=False)


def grid_locate(*, point: Point) -> GridPlace | None:
    """The unit grid and community grid of a WGS 84 point, or None outside the service area,
    with their codes and names (``GridPlace.names``).

    A point outside every unit grid but inside a community gets the community alone.
    """
    with connection.cursor() as cursor:
        cursor.execute(GRID_LOCATE, {"lon": point.x, "lat": point.y})
        row = cursor.fetchone()
    if row is None:
        return None
    return GridPlace(unit_grid_id=row[0], community_id=row[1], subdistrict_id=row[2],
                     names=PlaceNames(*row[3:]))


def community_at(*, point: Point) -> CommunityGrid | None:
    """The community grid a WGS 84 point falls in, with its subdistrict (boundaries deferred),
    or None outside the service area: the place's name as the rider's page shows it."""
    place = grid_locate(point=point)
    if place is None:
        return None
    return (CommunityGrid.objects.select_related("subdistrict")
            .defer("boundary", "subdistrict__boundary").get(pk=place.community_id))


def grid_nearest(*, point: Point, subdistrict_id: int) -> GridPlace | None:
    """The unit grid (or, lacking unit grids, the community) of one subdistrict nearest a WGS 84
    point, in metres: where a case transferred to that subdistrict is placed. None for a
    subdistrict with no grids."""
    with connection.cursor() as cursor:
        cursor.execute(GRID_NEAREST, {"lon": point.x, "lat": point.y,
                                      "subdistrict": subdistrict_id})
        row = cursor.fetchone()
    if row is None:
        return None
    return GridPlace(unit_grid_id=row[0], community_id=row[1], subdistrict_id=row[2])


def subdistrict_neighbours(*, subdistrict_id: int, point: Point) -> list[Subdistrict]:
    """The subdistricts that border this one (their boundaries touch or overlap: PostGIS
    ST_Intersects), by code, each with ``distance_m``: metres (EPSG:4548) from the WGS 84
    ``point`` to its boundary polygon, 0 inside it. Without the boundary column."""
    return list(Subdistrict.objects.raw(SUBDISTRICT_NEIGHBOURS, {
        "lon": point.x, "lat": point.y, "subdistrict": subdistrict_id}))


def service_area_covers(*, point: Point) -> bool:
    return Subdistrict.objects.filter(boundary__covers=point).exists()


def subdistrict_list() -> QuerySet[Subdistrict]:
    """Every subdistrict served, by code, without its boundary: what discovery (Open311), the
    API's filters and the map's subdistrict select list."""
    return Subdistrict.objects.defer("boundary").order_by("code")


def community_list() -> QuerySet[CommunityGrid]:
    """Every community grid, by code, without its boundary: the map's community select list."""
    return CommunityGrid.objects.defer("boundary").order_by("code")


def subdistrict_get(*, code: str) -> Subdistrict | None:
    """The subdistrict with this 9-digit code, or None (any other text included)."""
    if not (len(code) == 9 and code.isascii() and code.isdigit()):
        return None
    return Subdistrict.objects.filter(code=code).first()


def geography_feature_collection(*, subdistrict_code: str | None = None) -> dict:
    """The subdistricts (or one) with their community and unit grids as one WGS 84
    FeatureCollection in the layout ``civicmap.services.geography_import`` reads (``layer``,
    ``code``, names; units ``grid_id`` and ``community``): an export imports back unchanged.
    The GeoJSON of every boundary is made by PostGIS (7 decimals: about 1 cm)."""
    subdistricts = Subdistrict.objects.order_by("code")
    communities = CommunityGrid.objects.select_related("subdistrict").order_by("code")
    units = UnitGrid.objects.select_related("community").order_by("grid_id")
    if subdistrict_code is not None:
        subdistricts = subdistricts.filter(code=subdistrict_code)
        communities = communities.filter(subdistrict__code=subdistrict_code)
        units = units.filter(community__subdistrict__code=subdistrict_code)
    features = []

    def add(geojson: str, properties: dict) -> None:
        features.append({"type": "Feature", "geometry": json.loads(geojson),
                         "properties": properties})

    for row in subdistricts.annotate(geojson=AsGeoJSON("boundary", precision=7)):
        add(row.geojson, {"layer": "subdistrict", "code": row.code, "name_zh": row.name_zh,
                          "name_en": row.name_en, "grid_id": None, "community": None})
    for row in communities.annotate(geojson=AsGeoJSON("boundary", precision=7)):
        add(row.geojson, {"layer": "community", "code": row.code, "name_zh": row.name_zh,
                          "name_en": row.name_en, "grid_id": None, "community": None})
    for row in units.annotate(geojson=AsGeoJSON("boundary", precision=7)):
        add(row.geojson, {"layer": "unit", "code": None, "name_zh": None, "name_en": None,
                          "grid_id": row.grid_id, "community": row.community.code})
    return {"type": "FeatureCollection", "features": features}


OUTLINE_PRECISION = 4  # decimals of a degree in the SVG outlines: about 10 m, a few KB a page


@dataclass(frozen=True)
class CommunityOutline:
    code: str
    name_zh: str
    name_en: str
    subdistrict_code: str
    svg_path: str  # SVG path data in degrees: x longitude, y minus latitude (ST_AsSVG)


def community_outline_list() -> tuple[list[CommunityOutline], tuple[float, ...] | None]:
    """Every community grid's outline as SVG path data made by PostGIS, by code, and the
    extent of all of them (min lon, min lat, max lon, max lat; None without grids): the
    public home page's map, drawn without a map library or tiles."""
    rows = (CommunityGrid.objects.select_related("subdistrict").order_by("code")
            .annotate(svg=AsSVG("boundary", precision=OUTLINE_PRECISION)))
    outlines = [CommunityOutline(code=row.code, name_zh=row.name_zh, name_en=row.name_en,
                                 subdistrict_code=row.subdistrict.code, svg_path=row.svg)
                for row in rows]
    extent = CommunityGrid.objects.aggregate(extent=Extent("boundary"))["extent"]
    return outlines, extent
