"""Reads of the shared geography: which grid a point falls in."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.gis.geos import Point

from civicmap.models import CommunityGrid, Subdistrict, UnitGrid


@dataclass(frozen=True)
class GridPlace:
    unit_grid: UnitGrid | None
    community: CommunityGrid


def grid_locate(*, point: Point) -> GridPlace | None:
    """The unit grid and community grid of a WGS 84 point, or None outside the service area.

    ``__covers`` counts the boundary, so a point on an edge shared by two grids matches both;
    the lowest grid ID (code) wins, so the same point always gets the same grid.
    """
    unit = (
        UnitGrid.objects.filter(boundary__covers=point)
        .select_related("community").order_by("grid_id").first()
    )
    if unit is not None:
        return GridPlace(unit_grid=unit, community=unit.community)
    community = CommunityGrid.objects.filter(boundary__covers=point).order_by("code").first()
    if community is not None:
        return GridPlace(unit_grid=None, community=community)
    return None


def service_area_covers(*, point: Point) -> bool:
    return Subdistrict.objects.filter(boundary__covers=point).exists()
