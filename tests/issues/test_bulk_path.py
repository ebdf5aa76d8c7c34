"""The seed's bulk path forms the same cases and aggregates as the intake service.

A small, dense history (reports a few metres to a few hundred metres apart, minutes to days
apart, of categories with equivalents) goes through both paths; the rows must match one for one.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.gis.geos import Point
from django.db import connection

from civicmap.db import tables_truncate
from civicmap.models import UnitGrid
from issues.aggregates import AGGREGATE_TABLES
from issues.models import Category, Report, Rider
from issues.services.bulk import ReportDraft, reports_bulk_load
from issues.services.intake import ChannelRules, ReportInput, report_create

pytestmark = pytest.mark.django_db

START = datetime(2026, 6, 1, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
CENTRE = (116.3930, 39.7990)  # inside 槐房社区, near the mall
METRES_PER_DEGREE_LAT = 111_320.0
# The rider app's rules without photos: a history replayed through intake has none.
HISTORY_CHANNEL = ChannelRules(Report.Channel.APP, requires_client_uuid=True,
                               requires_photos=False, max_description=2000)


def _history(category_ids: list[int], rider_ids: list[int]) -> list[ReportDraft]:
    rng = random.Random(42)
    drafts = []
    moment = START
    for _ in range(160):
        moment += timedelta(minutes=rng.choice([3, 20, 90, 600, 2000]))
        dx, dy = rng.gauss(0, 60), rng.gauss(0, 60)  # metres
        drafts.append(ReportDraft(
            lon=round(CENTRE[0] + dx / (METRES_PER_DEGREE_LAT * 0.768), 7),
            lat=round(CENTRE[1] + dy / METRES_PER_DEGREE_LAT, 7),
            category_id=rng.choice(category_ids), received_at=moment,
            reporter_id=rng.choice(rider_ids), description="测试",
            client_uuid=uuid.UUID(int=rng.getrandbits(128), version=4),
        ))
    return drafts


def _dump() -> dict[str, list[tuple]]:
    """Rows of both paths, with case ids renumbered by creation order (ids differ)."""
    queries = {
        "reports": """SELECT r.received_at, r.category_id, r.reporter_id, r.unit_grid_id,
                             r.community_grid_id, r.joined_existing_case,
                             dense_rank() OVER (ORDER BY c.created_at, c.id)
                      FROM issues_report r JOIN issues_case c ON c.id = r.case_id
                      ORDER BY r.received_at, r.id""",
        "cases": """SELECT created_at, last_report_at, category_id, stage, report_count,
                           reporter_count, unit_grid_id, community_grid_id,
                           round(ST_X(location::geometry)::numeric, 9),
                           round(ST_Y(location::geometry)::numeric, 9)
                    FROM issues_case ORDER BY created_at, id""",
        "cells": "SELECT cell_x, cell_y, hour, category_id, count FROM issues_reportcellhour "
                 "ORDER BY 1, 2, 3, 4",
        "units": "SELECT community_id, unit_grid_id, hour, category_id, count "
                 "FROM issues_reportunitgridhour ORDER BY 1, 2, 3, 4",
        "cell_days": "SELECT cell_x, cell_y, day, category_id, count FROM issues_reportcellday "
                     "ORDER BY 1, 2, 3, 4",
        "unit_days": "SELECT community_id, unit_grid_id, day, category_id, count "
                     "FROM issues_reportunitgridday ORDER BY 1, 2, 3, 4",
    }
    with connection.cursor() as cursor:
        result = {}
        for name, sql in queries.items():
            cursor.execute(sql)
            result[name] = cursor.fetchall()
    return result


def _history_clear() -> None:
    tables_truncate(*AGGREGATE_TABLES, "issues_caseevent", "issues_reportphoto",
                    "issues_report", "issues_case")


def test_bulk_path_matches_the_intake_service_row_for_row(reference_data):
    # Without the unit grid at the centre, some reports lie in their community alone.
    UnitGrid.objects.filter(boundary__covers=Point(*CENTRE, srid=4326)).delete()
    # Exposed garbage and overflowing bins are declared equivalent; a street-order category too.
    # None of them is dispatched on intake (the bulk lifecycle path covers that separately).
    codes = ["E0101", "E0102", "E0501"]
    categories = {c.code: c for c in Category.objects.filter(code__in=codes)}
    assert len(categories) == 3
    rider_ids = list(Rider.objects.values_list("user_id", flat=True)[:3])
    drafts = _history([categories[code].pk for code in codes], rider_ids)

    _history_clear()
    reports_bulk_load(drafts=drafts)
    bulk = _dump()

    _history_clear()
    code_of = {category.pk: code for code, category in categories.items()}
    for draft in drafts:
        report_create(
            channel=HISTORY_CHANNEL, reporter=Rider.objects.get(user_id=draft.reporter_id).user,
            received_at=draft.received_at,
            data=ReportInput(category_code=code_of[draft.category_id], lon=draft.lon,
                             lat=draft.lat, description=draft.description,
                             client_uuid=draft.client_uuid, photos=()),
        )
    intake = _dump()

    assert len({row[-1] for row in bulk["reports"]}) < len(drafts)  # the history merges
    assert any(row[5] for row in bulk["reports"])
    assert any(row[3] is None and row[4] is not None for row in bulk["reports"])
    for name in ("reports", "cases", "cells", "units", "cell_days", "unit_days"):
        assert intake[name] == bulk[name], name
