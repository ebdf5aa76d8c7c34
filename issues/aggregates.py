"""Report counts per 100 m cell and per unit grid (a report in no unit grid: per community), by
category and hour and by category and day, for the maps.

Kept current in the intake's transaction (``aggregates_count_report``) and rebuilt in bulk by
``aggregates_rebuild`` (the seed's bulk path, and the recount that tests compare against). Both
use the same SELECT, so they cannot drift apart. Raw SQL because Django's upsert cannot
increment a counter (``ON CONFLICT … DO UPDATE SET count = count + n``); parameters are bound.

The daily rows (from 00:00 UTC) are the hourly counts of the same statement summed by day: a
30-day map reads its whole days there and only the hours at the period's two ends from the
hourly rows (issues.layers), about 20 times fewer rows at 1,000,000 reports. The daily totals
are the daily rows of the same statement summed over the categories of each kind, the public and
the private ones apart: a map of every category or of a kind reads those, 2 to 3 times fewer
again, and its whole weeks from the weekly totals (the daily totals summed from Monday 00:00
UTC), 3.5 times fewer than their days.
"""

from __future__ import annotations

import uuid

from django.core.cache import cache
from django.db import connection, transaction

from civicmap.db import tables_truncate
from issues.sql import (
    CELL_INSERT,
    CELL_SELECT,
    CELL_TOTALS_RECOUNT,
    UNIT_INSERT,
    UNIT_SELECT,
    UNIT_TOTALS_RECOUNT,
)

_VERSION_KEY = "map-aggregates:version"

TOTAL_TABLES = ("issues_reportcelldaytotal", "issues_reportunitgriddaytotal",
                "issues_reportcellweektotal", "issues_reportunitgridweektotal")
AGGREGATE_TABLES = ("issues_reportcellhour", "issues_reportunitgridhour",
                    "issues_reportcellday", "issues_reportunitgridday", *TOTAL_TABLES)


def _aggregate(where: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(CELL_INSERT.format(select=CELL_SELECT.format(where=where)), params)
        cursor.execute(UNIT_INSERT.format(select=UNIT_SELECT.format(where=where)), params)


def aggregates_count_report(*, report_id: int) -> None:
    """Add one accepted report to the counts; call inside the intake's transaction."""
    _aggregate("r.id = %s", [report_id])


def aggregates_rebuild() -> None:
    """Recount everything from the reports (bulk loads, repairs); a new ``aggregates_version``
    once committed."""
    tables_truncate(*AGGREGATE_TABLES)
    _aggregate("TRUE", [])
    transaction.on_commit(aggregates_version_bump)


def aggregates_totals_recount() -> None:
    """Sum the daily rows over the categories again (by day and by week): after a category
    turned private or public (the totals keep the two apart by the flag it had when counted);
    a new ``aggregates_version`` once committed."""
    tables_truncate(*TOTAL_TABLES)
    with connection.cursor() as cursor:
        cursor.execute(CELL_TOTALS_RECOUNT)
        cursor.execute(UNIT_TOTALS_RECOUNT)
    transaction.on_commit(aggregates_version_bump)


def aggregates_version() -> str:
    """The version of the counts that map caches are kept under (frontend.selectors): renewed
    by every recount, so that no cached layer outlives the counts it was read from. One report
    counted by intake does not renew it (at tens of reports a second nothing would stay cached):
    a cached layer may lack the reports of its time to live (``MAP_LIVE_CACHE_S``), as the
    snapshot may; the page says what time its data are as of. A lost key (Redis flushed or
    down) gives a new version: nothing older is read."""
    version = cache.get(_VERSION_KEY)
    if version is None:
        cache.add(_VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(_VERSION_KEY) or uuid.uuid4().hex
    return version


def aggregates_version_bump() -> None:
    cache.set(_VERSION_KEY, uuid.uuid4().hex, timeout=None)
