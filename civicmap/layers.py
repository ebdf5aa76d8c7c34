"""The base map layers as plain values: the community and unit grids' polygons (GeoJSON,
WGS 84), names in the active language. Other apps count what falls in them; frontend draws."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.contrib.gis.db.models.functions import Area, AsGeoJSON
from django.db import connection
from django.db.models import F

from civicmap.i18n import name_field
from civicmap.models import CommunityGrid, UnitGrid
from civicmap.spatial import metric
from civicmap.sql import GRID_OUTLINES, GRID_PRECISION


@dataclass(frozen=True)
class CommunityGridShape:
    pk: int
    code: str
    name: str
    geometry: dict  # GeoJSON polygon, WGS 84
    area_km2: float  # of the boundary in EPSG:4548 (Gauss-Kruger, scale error about 3e-5 here)


def community_grid_shapes(*, subdistrict_id: int | None = None,
                          community_id: int | None = None) -> list[CommunityGridShape]:
    """Every community grid (of one subdistrict, or the whole district; or the one
    ``community_id``), by code."""
    label = name_field()
    grids = CommunityGrid.objects.all()
    if subdistrict_id is not None:
        grids = grids.filter(subdistrict_id=subdistrict_id)
    if community_id is not None:
        grids = grids.filter(pk=community_id)
    grids = grids.annotate(
        area=Area(metric("boundary")), geojson=AsGeoJSON("boundary", precision=GRID_PRECISION),
    ).order_by("code")
    return [
        CommunityGridShape(pk=grid.pk, code=grid.code, name=getattr(grid, label),
                           geometry=json.loads(grid.geojson), area_km2=grid.area.sq_km)
        for grid in grids
    ]


@dataclass(frozen=True)
class UnitGridShape:
    pk: int
    grid_id: str
    community: str  # the community grid's name
    geometry: dict  # GeoJSON polygon, WGS 84


def unit_grid_shapes(*, subdistrict_id: int | None = None,
                     community_id: int | None = None,
                     with_geometry: bool = True) -> list[UnitGridShape]:
    """Every unit grid (of one subdistrict, or the whole district; or of the community grid
    ``community_id``), by grid id; without ``with_geometry`` the geometry is {} (the map's data
    endpoint counts by grid id, the shapes come once from ``map_unit_grids``: the polygons
    were most of its time and bytes)."""
    label = name_field()
    grids = UnitGrid.objects.all()
    if subdistrict_id is not None:
        grids = grids.filter(community__subdistrict_id=subdistrict_id)
    if community_id is not None:
        grids = grids.filter(community_id=community_id)
    if not with_geometry:
        return [UnitGridShape(pk=pk, grid_id=grid_id, community=community, geometry={})
                for pk, grid_id, community in grids.order_by("grid_id").values_list(
                    "pk", "grid_id", f"community__{label}")]
    grids = (grids.annotate(geojson=AsGeoJSON("boundary", precision=GRID_PRECISION),
                                       community_name=F(f"community__{label}"))
             .order_by("grid_id")
             .values_list("pk", "grid_id", "community_name", "geojson"))
    return [
        UnitGridShape(pk=pk, grid_id=grid_id, community=community,
                      geometry=json.loads(geojson))
        for pk, grid_id, community, geojson in grids
    ]


def grid_outlines_json() -> str:
    """Every community and unit grid of the district, the plain background drawn when the map
    has no tiles: ``{"precision": 6, "community": [[ring, …], …], "unit": […]}``, each grid the
    list of its rings (exterior first) as Google encoded polylines, built in PostGIS
    (civicmap.sql.GRID_OUTLINES). A quarter of the same outlines as GeoJSON (76 against 292 KB
    for the three subdistricts' 2,241 unit grids): every map page fetches them, and the
    governance map's whole download stays under benchmark 6's 1.5 MB (D-092).
    civicmap-basemap.js decodes them."""
    with connection.cursor() as cursor:
        cursor.execute(GRID_OUTLINES)
        (outlines,) = cursor.fetchone()
    return outlines
