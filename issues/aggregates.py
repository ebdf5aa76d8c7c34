"""Report counts per 100 m cell and per unit grid, by category and hour, for the maps.

Kept current in the intake's transaction (``aggregates_count_report``) and rebuilt in bulk by
``aggregates_rebuild`` (the seed's bulk path, and the recount that tests compare against). Both
use the same SELECT, so they cannot drift apart. Raw SQL because Django's upsert cannot
increment a counter (``ON CONFLICT … DO UPDATE SET count = count + n``); parameters are bound.
"""

from __future__ import annotations

from django.db import connection

from civicmap.db import tables_truncate
from civicmap.spatial import METRIC_SRID

CELL_SIZE_M = 100  # metres, in EPSG:4548

# One row per (cell, hour, category) for the reports the WHERE clause selects.
_CELL_SELECT = f"""
    SELECT floor(ST_X(ST_Transform(r.location::geometry, {METRIC_SRID})) / {CELL_SIZE_M})::int,
           floor(ST_Y(ST_Transform(r.location::geometry, {METRIC_SRID})) / {CELL_SIZE_M})::int,
           date_trunc('hour', r.received_at), r.category_id, count(*)
    FROM issues_report r WHERE {{where}}
    GROUP BY 1, 2, 3, 4
"""
_UNIT_SELECT = """
    SELECT r.unit_grid_id, date_trunc('hour', r.received_at), r.category_id, count(*)
    FROM issues_report r WHERE r.unit_grid_id IS NOT NULL AND {where}
    GROUP BY 1, 2, 3
"""
_CELL_INSERT = """
    INSERT INTO issues_reportcellhour (cell_x, cell_y, hour, category_id, count) {select}
    ON CONFLICT (hour, category_id, cell_x, cell_y)
    DO UPDATE SET count = issues_reportcellhour.count + EXCLUDED.count
"""
_UNIT_INSERT = """
    INSERT INTO issues_reportunitgridhour (unit_grid_id, hour, category_id, count) {select}
    ON CONFLICT (hour, category_id, unit_grid_id)
    DO UPDATE SET count = issues_reportunitgridhour.count + EXCLUDED.count
"""


def _aggregate(where: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_CELL_INSERT.format(select=_CELL_SELECT.format(where=where)), params)
        cursor.execute(_UNIT_INSERT.format(select=_UNIT_SELECT.format(where=where)), params)


def aggregates_count_report(*, report_id: int) -> None:
    """Add one accepted report to the counts; call inside the intake's transaction."""
    _aggregate("r.id = %s", [report_id])


def aggregates_rebuild() -> None:
    """Recount everything from the reports (bulk loads, repairs)."""
    tables_truncate("issues_reportcellhour", "issues_reportunitgridhour")
    _aggregate("TRUE", [])
