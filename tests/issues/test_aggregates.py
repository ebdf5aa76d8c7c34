"""The map aggregates kept current by intake equal a recount from the reports."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, timedelta

import pytest
from django.conf import settings
from django.contrib.gis.geos import Polygon
from django.db import connection
from django.utils import timezone

from civicmap.models import UnitGrid
from civicmap.spatial import CELL_SIZE_M
from issues.aggregates import aggregates_rebuild, aggregates_totals_recount, aggregates_version
from issues.models import Report, Rider
from issues.services.catalogue import category_catalogue_import
from issues.services.intake import ChannelRules, ReportInput, report_create
from tests.sql_rows import query_rows

pytestmark = pytest.mark.django_db

NO_PHOTOS = ChannelRules(Report.Channel.APP, requires_client_uuid=True, requires_photos=False,
                         max_description=2000)
TABLES = {
    "cells": "SELECT cell_x, cell_y, hour, category_id, subdistrict_id, count "
             "FROM issues_reportcellhour ORDER BY 1, 2, 3, 4, 5",
    "units": "SELECT community_id, unit_grid_id, hour, category_id, subdistrict_id, count "
             "FROM issues_reportunitgridhour ORDER BY 1, 2, 3, 4",
    "cell_days": "SELECT cell_x, cell_y, day, category_id, subdistrict_id, count "
                 "FROM issues_reportcellday ORDER BY 1, 2, 3, 4, 5",
    "unit_days": "SELECT community_id, unit_grid_id, day, category_id, subdistrict_id, count "
                 "FROM issues_reportunitgridday ORDER BY 1, 2, 3, 4",
    "cell_totals": "SELECT cell_x, cell_y, day, subdistrict_id, is_private, kind, count "
                   "FROM issues_reportcelldaytotal ORDER BY 1, 2, 3, 4, 5, 6",
    "unit_totals": "SELECT community_id, unit_grid_id, day, subdistrict_id, is_private, kind, "
                   "count FROM issues_reportunitgriddaytotal ORDER BY 1, 2, 3, 5, 6",
    "cell_weeks": "SELECT cell_x, cell_y, week, subdistrict_id, is_private, kind, count "
                  "FROM issues_reportcellweektotal ORDER BY 1, 2, 3, 4, 5, 6",
    "unit_weeks": "SELECT community_id, unit_grid_id, week, subdistrict_id, is_private, kind, "
                  "count FROM issues_reportunitgridweektotal ORDER BY 1, 2, 3, 5, 6",
}
# The totals are the daily rows summed over the categories, by the category's privacy and
# kind (the code's first letter).
DAYS_OVER_CATEGORIES = {
    "cell_totals": "SELECT d.cell_x, d.cell_y, d.day, d.subdistrict_id, k.is_private, "
                   "left(k.code, 1), sum(d.count)::int FROM issues_reportcellday d "
                   "JOIN issues_category k ON k.id = d.category_id "
                   "GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6",
    "unit_totals": "SELECT d.community_id, d.unit_grid_id, d.day, d.subdistrict_id, "
                   "k.is_private, left(k.code, 1), sum(d.count)::int "
                   "FROM issues_reportunitgridday d JOIN issues_category k "
                   "ON k.id = d.category_id GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 5, 6",
}
# The weekly totals are the daily totals summed from Monday 00:00 UTC.
TOTALS_BY_WEEK = {
    "cell_weeks": "SELECT cell_x, cell_y, date_trunc('week', day, 'UTC'), subdistrict_id, "
                  "is_private, kind, sum(count)::int FROM issues_reportcelldaytotal "
                  "GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6",
    "unit_weeks": "SELECT community_id, unit_grid_id, date_trunc('week', day, 'UTC'), "
                  "subdistrict_id, is_private, kind, sum(count)::int "
                  "FROM issues_reportunitgriddaytotal GROUP BY 1, 2, 3, 4, 5, 6 "
                  "ORDER BY 1, 2, 3, 5, 6",
}
# The daily rows are the hourly rows summed by day from 00:00 UTC.
HOURS_BY_DAY = {
    "cell_days": "SELECT cell_x, cell_y, date_trunc('day', hour, 'UTC'), category_id, "
                 "subdistrict_id, sum(count)::int FROM issues_reportcellhour "
                 "GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5",
    "unit_days": "SELECT community_id, unit_grid_id, date_trunc('day', hour, 'UTC'), "
                 "category_id, subdistrict_id, sum(count)::int FROM issues_reportunitgridhour "
                 "GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4",
}
# A grid row's subdistrict is its community's.
GRID_SUBDISTRICT_MISMATCHES = (
    "SELECT count(*) FROM issues_reportunitgridday d JOIN civicmap_communitygrid c "
    "ON c.id = d.community_id WHERE c.subdistrict_id <> d.subdistrict_id")


def _rows(queries: dict[str, str] = TABLES) -> dict[str, list[tuple]]:
    return query_rows(queries)


def test_aggregates_kept_by_intake_equal_a_recount(reference_data):
    """Some unit grids of the sampled area are taken away first: the reports there get their
    community alone and are counted in its own row (unit grid NULL)."""
    area = Polygon.from_bbox((116.385, 39.790, 116.402, 39.805))
    UnitGrid.objects.filter(pk__in=[pk for n, pk in enumerate(
        UnitGrid.objects.filter(boundary__intersects=area).order_by("pk")
        .values_list("pk", flat=True)) if n % 2]).delete()
    rng = random.Random(3)
    places = [(rng.choice(["E0101", "E0201", "E0501", "L0201"]),
               116.385 + rng.random() * 0.017, 39.790 + rng.random() * 0.015) for _ in range(10)]
    rider = Rider.objects.order_by("user_id").first().user
    today = timezone.now().astimezone(UTC).replace(hour=1, minute=0, second=0, microsecond=0)
    tuesday = today - timedelta(days=today.weekday() + 13)  # 01:00 UTC, two weeks back
    for number in range(60):
        # Three runs of 20 reports 37 minutes apart (01:00-13:00 UTC): a Tuesday, the Wednesday
        # after it and the Tuesday a week later; each run at the same ten places, each place
        # twice in a row, so that days, weeks and kinds all hold several rows.
        run, step = divmod(number, 20)
        code, lon, lat = places[step // 2]
        report_create(
            channel=NO_PHOTOS, reporter=rider,
            received_at=tuesday + timedelta(days=(0, 1, 7)[run], minutes=37 * step),
            data=ReportInput(category_code=code, lon=lon, lat=lat, client_uuid=uuid.uuid4()),
        )
    kept = _rows()
    for table in TABLES:
        assert sum(row[-1] for row in kept[table]) == 60, table
    outside = Report.objects.filter(unit_grid__isnull=True)
    assert 0 < outside.count() < 60 and not outside.filter(community_grid__isnull=True).exists()
    assert sum(row[-1] for row in kept["units"] if row[1] is None) == outside.count()
    assert {row[0] for row in kept["units"] if row[1] is None} == set(
        outside.values_list("community_grid_id", flat=True))
    assert len(kept["cell_days"]) < len(kept["cells"])  # days hold several hours each
    assert len({row[2] for row in kept["unit_weeks"]}) >= 2
    assert len(kept["unit_weeks"]) < len(kept["unit_totals"])  # weeks hold several days each
    assert _rows(HOURS_BY_DAY) == {table: kept[table] for table in HOURS_BY_DAY}
    assert _rows(DAYS_OVER_CATEGORIES) == {table: kept[table] for table in DAYS_OVER_CATEGORIES}
    assert _rows(TOTALS_BY_WEEK) == {table: kept[table] for table in TOTALS_BY_WEEK}
    assert {row[4] for row in kept["cell_totals"]} == {False, True}  # L0201 is private
    assert {row[5] for row in kept["unit_totals"]} == {"E", "L"}  # the categories' kinds
    assert {row[4] for row in kept["cells"]} == set(
        Report.objects.values_list("subdistrict_id", flat=True))
    assert _rows({"mismatches": GRID_SUBDISTRICT_MISMATCHES})["mismatches"] == [(0,)]
    aggregates_rebuild()
    assert _rows() == kept


def test_daily_rows_start_at_utc_midnight_whatever_the_session_time_zone(reference_data):
    """A report at 23:30 UTC (07:30 the next day in Beijing) counts on its UTC day, even when
    the connection's time zone is Asia/Shanghai."""
    rider = Rider.objects.order_by("user_id").first().user
    received = timezone.now().replace(hour=23, minute=30, second=0, microsecond=0) - timedelta(
        days=1)
    report_create(channel=NO_PHOTOS, reporter=rider, received_at=received, data=ReportInput(
        category_code="E0101", lon=116.392, lat=39.797, client_uuid=uuid.uuid4()))
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL TIME ZONE 'Asia/Shanghai'")
        aggregates_rebuild()
        cursor.execute("SET LOCAL TIME ZONE 'UTC'")
        cursor.execute("SELECT day, count FROM issues_reportcellday")
        assert cursor.fetchall() == [(received.replace(hour=0, minute=0), 1)]


def test_a_cell_is_a_true_hundred_metre_square(reference_data):
    # SELECT ST_Distance(ST_Transform('SRID=4326;POINT(116.39 39.797)'::geometry, 4548), …)
    # Two points 99 m apart east-west in EPSG:4548 fall in the same or adjacent cells; the
    # cell index is floor(x / 100), so a 100 m step moves exactly one cell.
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT floor(ST_X(p) / %s), floor(ST_X(ST_Translate(p, %s, 0)) / %s)
               FROM (SELECT ST_Transform('SRID=4326;POINT(116.39 39.797)'::geometry, 4548)
                     AS p) s""",
            [CELL_SIZE_M, CELL_SIZE_M, CELL_SIZE_M],
        )
        first, moved = cursor.fetchone()
    assert moved - first == 1


def test_the_totals_follow_a_category_turned_public(reference_data,
                                                    django_capture_on_commit_callbacks):
    """The totals keep private reports apart by the category's flag when counted: the
    catalogue's import recounts them when a category's privacy changes, and the map's cached
    layers are renewed."""
    rider = Rider.objects.order_by("user_id").first().user
    report_create(channel=NO_PHOTOS, reporter=rider, received_at=timezone.now(), data=ReportInput(
        category_code="L0201", lon=116.392, lat=39.797, client_uuid=uuid.uuid4()))
    assert [row[4:] for row in _rows()["cell_totals"]] == [(True, "L", 1)]
    data = json.loads((settings.BASE_DIR / "fixtures" / "categories.json").read_text())
    for item in data["categories"]:
        if item["code"] == "L0201":
            item["private"] = False
    version = aggregates_version()
    with django_capture_on_commit_callbacks(execute=True):
        category_catalogue_import(data=data)
    assert [row[4:] for row in _rows()["cell_totals"]] == [(False, "L", 1)]
    assert [row[4:] for row in _rows()["unit_weeks"]] == [(False, "L", 1)]
    assert aggregates_version() != version
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        category_catalogue_import(data=data)  # nothing changed: no recount
    assert callbacks == []
    aggregates_totals_recount()
    kept = _rows()
    assert _rows({**DAYS_OVER_CATEGORIES, **TOTALS_BY_WEEK}) == {
        table: kept[table] for table in (*DAYS_OVER_CATEGORIES, *TOTALS_BY_WEEK)}
