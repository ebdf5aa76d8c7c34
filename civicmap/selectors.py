"""Reads of the shared geography: which grid a point falls in."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.gis.geos import Point
from django.db import connection

from civicmap.models import WGS84, CommunityGrid, Subdistrict, UnitGrid


@dataclass(frozen=True)
class GridPlace:
    """Where a point falls, as ids: what a report and a case store."""

    unit_grid_id: int | None
    community_id: int


def grid_locate_sql(*, lon: str, lat: str) -> str:
    """The grid rule as one SELECT of (unit grid id or NULL, community id) for the point at
    the SQL expressions ``lon``, ``lat`` (WGS 84 degrees): intake binds parameters, the bulk
    path (issues.services.bulk) joins it laterally to its staged rows, so both follow one rule.

    ST_Covers counts the boundary, so a point on an edge shared by two grids matches both: the
    lowest grid ID (code) wins, so the same point always gets the same grid. Append runs its
    branches in order and stops at LIMIT 1: the community branch only runs for a point that no
    unit grid covers (the unit grids need not tile a community).
    """
    point = f"ST_SetSRID(ST_MakePoint({lon}, {lat}), {WGS84})"
    return f"""
        (SELECT id, community_id FROM {UnitGrid._meta.db_table}
         WHERE ST_Covers(boundary, {point}) ORDER BY grid_id LIMIT 1)
        UNION ALL
        (SELECT NULL, id FROM {CommunityGrid._meta.db_table}
         WHERE ST_Covers(boundary, {point}) ORDER BY code LIMIT 1)
        LIMIT 1"""


# One statement, one round trip; intake runs it for every report (docs/DECISIONS.md, "Intake's
# lookups in SQL").
_GRID_LOCATE_SQL = grid_locate_sql(lon="%(lon)s", lat="%(lat)s")


def grid_locate(*, point: Point) -> GridPlace | None:
    """The unit grid and community grid of a WGS 84 point, or None outside the service area.

    A point outside every unit grid but inside a community gets the community alone.
    """
    with connection.cursor() as cursor:
        cursor.execute(_GRID_LOCATE_SQL, {"lon": point.x, "lat": point.y})
        row = cursor.fetchone()
    return GridPlace(unit_grid_id=row[0], community_id=row[1]) if row else None


def service_area_covers(*, point: Point) -> bool:
    return Subdistrict.objects.filter(boundary__covers=point).exists()
