"""The demo geography tiles the subdistrict exactly and follows DB11/T 2157's numbering."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from shapely.geometry import box, shape

from civicmap.models import CommunityGrid, Subdistrict, UnitGrid
from fixtures.seed import FIXTURES_DIR, NANYUAN_CODE

pytestmark = pytest.mark.django_db

# Areas in m², measured in EPSG:4548. Tolerances are for floating-point noise, not for gaps:
# a real gap or overlap of a unit grid would be hundreds of m².
AREA_TOLERANCE_M2 = 0.01


def _scalar(sql: str, params: list | None = None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def test_subdistrict_is_about_ten_square_kilometres(reference_data):
    area = _scalar("SELECT ST_Area(ST_Transform(boundary, 4548)) FROM civicmap_subdistrict "
                   "WHERE code = %s", [NANYUAN_CODE])
    assert 9e6 <= area <= 11e6


def test_subdistrict_contains_the_wanda_box_and_lies_inside_fengtai(reference_data):
    with open(FIXTURES_DIR / "fengtai_district.geojson", encoding="utf-8") as handle:
        fengtai = shape(json.load(handle)["features"][0]["geometry"])
    nanyuan = shape(json.loads(Subdistrict.objects.get(code=NANYUAN_CODE).boundary.geojson))
    assert nanyuan.contains(box(116.385, 39.790, 116.402, 39.805))
    assert fengtai.contains(nanyuan)


def test_community_grids_tile_each_subdistrict(reference_data):
    assert CommunityGrid.objects.filter(subdistrict__code=NANYUAN_CODE).count() == 14
    # SELECT ST_Area(ST_Transform(ST_SymDifference(s.boundary, ST_Union(c.boundary)), 4548)) ...
    gap_or_excess = _scalar(
        """SELECT max(ST_Area(ST_Transform(ST_SymDifference(s.boundary, u.geom), 4548)))
           FROM civicmap_subdistrict s,
                LATERAL (SELECT ST_Union(boundary) AS geom FROM civicmap_communitygrid
                         WHERE subdistrict_id = s.id) u"""
    )
    overlap = _scalar(
        """SELECT coalesce(sum(ST_Area(ST_Transform(ST_Intersection(a.boundary, b.boundary),
                                                    4548))), 0)
           FROM civicmap_communitygrid a JOIN civicmap_communitygrid b
             ON a.id < b.id AND ST_Intersects(a.boundary, b.boundary)"""
    )
    assert gap_or_excess < AREA_TOLERANCE_M2
    assert overlap < AREA_TOLERANCE_M2


def test_unit_grids_tile_each_community(reference_data):
    worst_gap = _scalar(
        """SELECT max(ST_Area(ST_Transform(ST_SymDifference(c.boundary, u.geom), 4548)))
           FROM civicmap_communitygrid c
           JOIN (SELECT community_id, ST_Union(boundary) AS geom FROM civicmap_unitgrid
                 GROUP BY community_id) u ON u.community_id = c.id"""
    )
    overlap = _scalar(
        """SELECT coalesce(sum(ST_Area(ST_Transform(ST_Intersection(a.boundary, b.boundary),
                                                    4548))), 0)
           FROM civicmap_unitgrid a JOIN civicmap_unitgrid b
             ON a.id < b.id AND ST_Intersects(a.boundary, b.boundary)"""
    )
    assert worst_gap < AREA_TOLERANCE_M2
    assert overlap < AREA_TOLERANCE_M2


def test_unit_grids_are_about_ten_thousand_square_metres(reference_data):
    largest = _scalar("SELECT max(ST_Area(ST_Transform(boundary, 4548))) FROM civicmap_unitgrid")
    median = _scalar(
        """SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ST_Area(ST_Transform(boundary,
           4548))) FROM civicmap_unitgrid"""
    )
    assert 9_900 <= largest <= 10_100
    assert median > 5_000


def test_unit_grid_ids_carry_their_community_and_are_unique(reference_data):
    ids = list(UnitGrid.objects.values_list("grid_id", "community__code"))
    assert len({grid_id for grid_id, _ in ids}) == len(ids)
    assert all(len(grid_id) == 15 and grid_id[:12] == community for grid_id, community in ids)
    assert all(grid_id.startswith("110106") for grid_id, _ in ids)


def test_unit_grids_are_numbered_west_to_east_then_north_to_south(reference_data):
    # Row = 100 m lattice row of the cell's centroid (north first), column west to east.
    rows = _rows(
        """SELECT c.code, u.grid_id,
                  floor(ST_Y(ST_Transform(ST_PointOnSurface(u.boundary), 4548)) / 100),
                  floor(ST_X(ST_Transform(ST_PointOnSurface(u.boundary), 4548)) / 100)
           FROM civicmap_unitgrid u JOIN civicmap_communitygrid c ON c.id = u.community_id
           ORDER BY c.code, u.grid_id"""
    )
    by_community: dict[str, list[tuple]] = {}
    for code, grid_id, row, column in rows:
        by_community.setdefault(code, []).append((int(grid_id[12:]), -row, column))
    for cells in by_community.values():
        sequences = [sequence for sequence, _, _ in cells]
        assert sequences == list(range(1, len(cells) + 1))
        positions = [(north_first, column) for _, north_first, column in cells]
        assert positions == sorted(positions)


def _rows(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()
