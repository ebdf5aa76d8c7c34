"""Report counts per 100 m cell and per unit grid (a report in no unit grid: per community), by
category and hour and by category and day, for the maps.

Kept current in the intake's transaction (``aggregates_count_report``) and rebuilt in bulk by
``aggregates_rebuild`` (the seed's bulk path, and the recount that tests compare against). Both
use the same SELECT, so they cannot drift apart. Raw SQL because Django's upsert cannot
increment a counter (``ON CONFLICT … DO UPDATE SET count = count + n``); parameters are bound.

The daily rows (from 00:00 UTC) are the hourly counts of the same statement summed by day: a
30-day map reads its whole days there and only the hours at the period's two ends from the
hourly rows (issues.layers), about 20 times fewer rows at 1,000,000 reports.
"""

from __future__ import annotations

from django.db import connection

from civicmap.db import tables_truncate
from civicmap.spatial import CELL_SIZE_M, METRIC_SRID

# One row per (cell, hour, category) for the reports the WHERE clause selects.
_CELL_SELECT = f"""
    SELECT floor(ST_X(ST_Transform(r.location::geometry, {METRIC_SRID})) / {CELL_SIZE_M})::int,
           floor(ST_Y(ST_Transform(r.location::geometry, {METRIC_SRID})) / {CELL_SIZE_M})::int,
           date_trunc('hour', r.received_at), r.category_id, count(*)
    FROM issues_report r WHERE {{where}}
    GROUP BY 1, 2, 3, 4
"""
# One row per (community, unit grid or NULL, hour, category): a report in no unit grid is
# counted in its community's row (issues.models.GridCount).
_UNIT_SELECT = """
    SELECT r.community_grid_id, r.unit_grid_id, date_trunc('hour', r.received_at),
           r.category_id, count(*)
    FROM issues_report r WHERE r.community_grid_id IS NOT NULL AND {where}
    GROUP BY 1, 2, 3, 4
"""
# One statement per kind of aggregate: the hourly counts, upserted, and the same counts summed
# by day (date_trunc in UTC, whatever the session's time zone), upserted.
_CELL_INSERT = """
    WITH counted (cell_x, cell_y, hour, category_id, n) AS ({select}),
    hourly AS (
        INSERT INTO issues_reportcellhour (cell_x, cell_y, hour, category_id, count)
        SELECT cell_x, cell_y, hour, category_id, n FROM counted
        ON CONFLICT (hour, category_id, cell_x, cell_y)
        DO UPDATE SET count = issues_reportcellhour.count + EXCLUDED.count
    )
    INSERT INTO issues_reportcellday (cell_x, cell_y, day, category_id, count)
    SELECT cell_x, cell_y, date_trunc('day', hour, 'UTC'), category_id, sum(n) FROM counted
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (day, category_id, cell_x, cell_y)
    DO UPDATE SET count = issues_reportcellday.count + EXCLUDED.count
"""
# The unique constraints are NULLS NOT DISTINCT, so a community's own row conflicts too.
_UNIT_INSERT = """
    WITH counted (community_id, unit_grid_id, hour, category_id, n) AS ({select}),
    hourly AS (
        INSERT INTO issues_reportunitgridhour (community_id, unit_grid_id, hour, category_id,
                                               count)
        SELECT community_id, unit_grid_id, hour, category_id, n FROM counted
        ON CONFLICT (hour, category_id, community_id, unit_grid_id)
        DO UPDATE SET count = issues_reportunitgridhour.count + EXCLUDED.count
    )
    INSERT INTO issues_reportunitgridday (community_id, unit_grid_id, day, category_id, count)
    SELECT community_id, unit_grid_id, date_trunc('day', hour, 'UTC'), category_id, sum(n)
    FROM counted
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (day, category_id, community_id, unit_grid_id)
    DO UPDATE SET count = issues_reportunitgridday.count + EXCLUDED.count
"""
AGGREGATE_TABLES = ("issues_reportcellhour", "issues_reportunitgridhour",
                    "issues_reportcellday", "issues_reportunitgridday")


def _aggregate(where: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_CELL_INSERT.format(select=_CELL_SELECT.format(where=where)), params)
        cursor.execute(_UNIT_INSERT.format(select=_UNIT_SELECT.format(where=where)), params)


def aggregates_count_report(*, report_id: int) -> None:
    """Add one accepted report to the counts; call inside the intake's transaction."""
    _aggregate("r.id = %s", [report_id])


def aggregates_rebuild() -> None:
    """Recount everything from the reports (bulk loads, repairs)."""
    tables_truncate(*AGGREGATE_TABLES)
    _aggregate("TRUE", [])
