"""The what-if of the union's coverage page: coverage_summary over a station set that is in no
table (added, moved, removed stations), through the same coverage rule as the saved stations;
and its endpoint, which validates every station it is sent and writes nothing.

The worked square of test_coverage: S1 at (250, 500) and S2 at (500, 500), radius 250 m (metres
from the SW corner), and six reports, three of them covered (see ``worked_square``)."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.gis.geos import Point

from stations.models import CheckIn, Station
from stations.selectors import (
    Site,
    coverage_summary,
    demand_cells,
    station_sites,
    station_sites_what_if,
)
from tests.stations.helpers import API, square_point
from tests.stations.test_coverage import PERIOD, R, SHANGHAI, worked_square  # noqa: F401

pytestmark = pytest.mark.django_db

WHAT_IF_URL = f"{API}/stations/coverage/what-if/"


def _site(dx: float, dy: float, radius_m: int = R) -> Site:
    lon, lat = square_point(dx, dy)
    return Site(lon=lon, lat=lat, radius_m=radius_m)


def _id(name: str) -> int:
    return Station.objects.get(name_zh=name).pk


def _whole(**what_if) -> dict:
    summary = coverage_summary(period=PERIOD, subdistrict=Station.objects.get(
        name_zh="测试驿站一").subdistrict, sites=station_sites_what_if(**what_if))
    return summary["subdistrict"]


def test_nothing_changed_is_the_saved_state(worked_square):
    saved = coverage_summary(period=PERIOD, subdistrict=worked_square)
    imagined = coverage_summary(period=PERIOD, subdistrict=worked_square,
                                sites=station_sites_what_if())
    assert imagined == saved  # areas, shares, hotspots, check-ins: the same rule, to the digit
    assert (demand_cells(subdistrict=worked_square, period=PERIOD, sites=station_sites())
            == demand_cells(subdistrict=worked_square, period=PERIOD))


def test_a_station_added_at_an_uncovered_need_raises_the_shares(worked_square):
    # (950, 950) holds the uncovered L0201: a station there covers it (0 m) and nothing else.
    whole = _whole(added=[_site(950, 950)])
    assert (whole["reports_covered"], whole["reports_share"]) == (4, 0.6667)
    assert (whole["needs_covered"], whole["needs_share"]) == (2, 0.6667)
    assert whole["stations"] == 3
    cells = demand_cells(subdistrict=worked_square, period=PERIOD, cell_m=100,
                         sites=station_sites_what_if(added=[_site(950, 950)]))
    assert sum(cell.reports for cell in cells) == 2  # (250, 760) and (150, 150) are left


def test_removing_a_station_lowers_the_shares(worked_square):
    # Without S2, (700, 500) L0202 is 450 m from S1: no longer covered.
    whole = _whole(removed=[_id("测试驿站二")])
    assert (whole["reports_covered"], whole["needs_covered"]) == (2, 0)
    assert whole["stations"] == 1
    # Removing both leaves nothing covered, and no area.
    both = _whole(removed=[_id("测试驿站一"), _id("测试驿站二")])
    assert (both["reports_covered"], both["covered_area_m2"]) == (0, 0.0)


def test_moving_a_station_covers_where_it_goes(worked_square):
    lon, lat = square_point(950, 950)
    moved = station_sites_what_if(moved={_id("测试驿站二"): (lon, lat)})
    s2 = next(site for site in moved if site.station == _id("测试驿站二"))
    assert (s2.lon, s2.lat, s2.radius_m) == (lon, lat, R)  # elsewhere, with its own radius
    whole = _whole(moved={_id("测试驿站二"): (lon, lat)})
    # S2 now covers (950, 950) L0201 and no longer (700, 500) L0202: the same counts ...
    assert (whole["reports_covered"], whole["needs_covered"]) == (3, 1)
    cells = demand_cells(subdistrict=worked_square, period=PERIOD, cell_m=100, sites=moved)
    # ... but the uncovered demand is elsewhere: (700, 500) instead of (950, 950).
    assert len(cells) == 3 and sum(cell.needs for cell in cells) == 2


def test_check_ins_within_reach(worked_square):
    s2 = Station.objects.get(name_zh="测试驿站二")
    lon, lat = square_point(520, 500)  # 20 m east of S2
    CheckIn.objects.create(
        rider=get_user_model().objects.get(username="rider1"), station=s2, method="code",
        at=datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI), hour_bucket=1,
        position=Point(lon, lat, srid=4326), distance_m=20.0)
    saved = coverage_summary(period=PERIOD, subdistrict=worked_square)["checkins"]
    assert saved == {"checkins": 1, "checkins_covered": 1, "checkins_share": 1.0}
    removed = coverage_summary(period=PERIOD, subdistrict=worked_square,
                               sites=station_sites_what_if(removed=[s2.pk]))["checkins"]
    # S1 is 270 m away: the rider who rested at S2 would have no station within reach.
    assert removed == {"checkins": 1, "checkins_covered": 0, "checkins_share": 0.0}
