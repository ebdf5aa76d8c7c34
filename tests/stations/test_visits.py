"""The visits' figures (stations.selectors_visits): check-ins by Beijing day, week and hour
around midnight, members served as distinct riders, benefits redeemed per benefit and per
station, each within the reader's subdistricts and narrowed to one station when asked."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from stations.selectors_visits import (
    VisitsWindow,
    redemptions_per_benefit,
    redemptions_per_station,
    visits_by_day,
    visits_by_hour,
    visits_by_week,
    visits_per_station,
    visits_totals,
)
from tests.stations.helpers import (
    VISITS_CENTRE,
    VISITS_HEYI,
    VISITS_WANDA,
    visits_history_create,
)

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Sunday 8 and Monday 9 November 2026, Beijing days: the history's check-ins straddle both
# midnight (Beijing) and the start of a week.
PERIOD = VisitsWindow(since=datetime(2026, 11, 8, tzinfo=SHANGHAI),
                      until=datetime(2026, 11, 10, tzinfo=SHANGHAI))


def _user(username: str):
    return get_user_model().objects.get(username=username)


@pytest.fixture
def history(reference_data):
    return visits_history_create()


def _figures(rows: list[dict], key: str) -> dict:
    return {row[key]: (row["visits"], row["riders"]) for row in rows
            if row["visits"] or row["riders"]}


def test_days_are_beijing_days_across_midnight(history):
    # In UTC every check-in but the lunchtime ones falls on Sunday 8th (23:30 and 00:30/00:40
    # Beijing are 15:30 and 16:30/16:40 UTC): grouped in UTC, Sunday would have 3.
    rows = visits_by_day(user=_user("union1"), window=PERIOD)
    assert [(row["day"].isoformat(), row["visits"], row["riders"]) for row in rows] == [
        ("2026-11-08", 1, 1), ("2026-11-09", 4, 3)]


def test_weeks_start_on_monday_in_beijing(history):
    rows = visits_by_week(user=_user("union1"), window=PERIOD)
    assert [(row["week"].isoformat(), row["visits"], row["riders"]) for row in rows] == [
        ("2026-11-02", 1, 1), ("2026-11-09", 4, 3)]


def test_hours_of_the_day_are_beijing_hours(history):
    rows = visits_by_hour(user=_user("union1"), window=PERIOD)
    assert len(rows) == 24
    # 23:30 (rider1), 00:30 (rider1) and 00:40 (rider2), 12:10 and 12:20 (rider1, rider3).
    assert _figures(rows, "hour") == {23: (1, 1), 0: (2, 2), 12: (2, 2)}


def test_members_served_are_distinct_riders(history):
    assert visits_totals(user=_user("union1"), window=PERIOD) == {
        "visits": 5, "riders": 3, "stations": 2}
    per_station = visits_per_station(user=_user("union1"), window=PERIOD)
    assert [(row["name_zh"], row["visits"], row["riders"]) for row in per_station[:2]] == [
        (VISITS_WANDA, 3, 2), (VISITS_CENTRE, 2, 2)]
    assert all(row["visits"] == 0 for row in per_station[2:])  # every station, zeros too


def test_redemptions_per_benefit_and_per_station(history):
    benefits = redemptions_per_benefit(user=_user("union1"), window=PERIOD)
    assert {row["code"]: (row["uses"], row["members"]) for row in benefits} == {
        "haircut": (1, 1), "id_copies": (3, 2), "tyre_repair": (0, 0)}
    codes = {row["id"]: row["code"] for row in benefits}
    pairs = redemptions_per_station(user=_user("union1"), window=PERIOD)
    assert {(row["station_name"], codes[row["benefit"]], row["uses"]) for row in pairs} == {
        (VISITS_WANDA, "haircut", 1), (VISITS_WANDA, "id_copies", 1),
        (VISITS_CENTRE, "id_copies", 2)}


def test_one_station(history):
    window = VisitsWindow(since=PERIOD.since, until=PERIOD.until,
                          station_id=history[VISITS_WANDA])
    user = _user("union1")
    assert _figures(visits_by_hour(user=user, window=window), "hour") == {23: (1, 1), 0: (2, 2)}
    assert {row["code"]: row["uses"] for row in redemptions_per_benefit(
        user=user, window=window)} == {"haircut": 1, "id_copies": 1, "tyre_repair": 0}


def test_each_union_sees_its_own_and_the_district_every_one(history):
    heyi = visits_totals(user=_user("union_heyi1"), window=PERIOD)
    assert heyi == {"visits": 1, "riders": 1, "stations": 1}
    assert [row["name_zh"] for row in visits_per_station(user=_user("union_heyi1"),
                                                          window=PERIOD) if row["visits"]] == [
        VISITS_HEYI]
    assert visits_totals(user=_user("office_district"), window=PERIOD) == {
        "visits": 6, "riders": 3, "stations": 3}
    # Nanyuan's union does not see Heyi's station even when it asks for it.
    asked = VisitsWindow(since=PERIOD.since, until=PERIOD.until, station_id=history[VISITS_HEYI])
    assert visits_totals(user=_user("union1"), window=asked)["visits"] == 0


def test_one_aggregate_per_figure(history):
    user = _user("union1")
    for selector in (visits_by_day, visits_by_week, visits_by_hour, visits_totals,
                     visits_per_station, redemptions_per_benefit, redemptions_per_station):
        with CaptureQueriesContext(connection) as queries:
            selector(user=user, window=PERIOD)
        assert len(queries) <= 2, selector.__name__  # the scope's membership, then one
