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
from tests.stations.helpers import API, client_for, square_point
from tests.stations.test_coverage import (  # noqa: F401  (worked_square: a fixture)
    PERIOD,
    SHANGHAI,
    R,
    worked_square,
)

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


def test_nothing_changed_is_the_saved_state(worked_square):  # noqa: F811
    saved = coverage_summary(period=PERIOD, subdistrict=worked_square)
    imagined = coverage_summary(period=PERIOD, subdistrict=worked_square,
                                sites=station_sites_what_if())
    assert imagined == saved  # areas, shares, hotspots, check-ins: the same rule, to the digit
    assert (demand_cells(subdistrict=worked_square, period=PERIOD, sites=station_sites())
            == demand_cells(subdistrict=worked_square, period=PERIOD))


def test_a_station_added_at_an_uncovered_need_raises_the_shares(worked_square):  # noqa: F811
    # (950, 950) holds the uncovered L0201: a station there covers it (0 m) and nothing else.
    whole = _whole(added=[_site(950, 950)])
    assert (whole["reports_covered"], whole["reports_share"]) == (4, 0.6667)
    assert (whole["needs_covered"], whole["needs_share"]) == (2, 0.6667)
    assert whole["stations"] == 3
    cells = demand_cells(subdistrict=worked_square, period=PERIOD, cell_m=100,
                         sites=station_sites_what_if(added=[_site(950, 950)]))
    assert sum(cell.reports for cell in cells) == 2  # (250, 760) and (150, 150) are left


def test_removing_a_station_lowers_the_shares(worked_square):  # noqa: F811
    # Without S2, (700, 500) L0202 is 450 m from S1: no longer covered.
    whole = _whole(removed=[_id("测试驿站二")])
    assert (whole["reports_covered"], whole["needs_covered"]) == (2, 0)
    assert whole["stations"] == 1
    # Removing both leaves nothing covered, and no area.
    both = _whole(removed=[_id("测试驿站一"), _id("测试驿站二")])
    assert (both["reports_covered"], both["covered_area_m2"]) == (0, 0.0)


def test_moving_a_station_covers_where_it_goes(worked_square):  # noqa: F811
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


def test_check_ins_within_reach(worked_square):  # noqa: F811
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


# --- the endpoint -------------------------------------------------------------------------------

PERIOD_BODY = {"subdistrict": "110106999", "since": "2026-10-01T00:00:00+08:00",
               "until": "2026-12-01T00:00:00+08:00"}


def _station_rows() -> list[tuple]:
    return list(Station.objects.order_by("id").values_list(
        "id", "name_zh", "location", "coverage_radius_m", "is_active", "subdistrict_id"))


def _lonlat(dx: float, dy: float) -> dict:
    lon, lat = square_point(dx, dy)
    return {"lon": lon, "lat": lat}


def test_the_endpoint_answers_the_what_if_and_writes_nothing(
        clients, staff_of_square, worked_square):  # noqa: F811
    before = _station_rows()
    s1, s2 = _id("测试驿站一"), _id("测试驿站二")
    body = {**PERIOD_BODY, "added": [{**_lonlat(950, 950), "radius_m": R}],
            "moved": [{"id": s1, **_lonlat(250, 600)}], "removed": [s2]}
    for role in ("union_staff", "office_staff"):
        response = clients[role].post(WHAT_IF_URL, body, format="json")
        assert response.status_code == 200, response.json()
        answer = response.json()
        whole = answer["summary"]["subdistrict"]
        # S1 at (250, 600) reaches (250, 500), (250, 740) and (250, 760) (160 m); the new one
        # (950, 950); S2's (700, 500) is left: 4 of 6, needs 1 of 3.
        assert (whole["reports_covered"], whole["needs_covered"]) == (4, 1)
        assert sum(cell["reports"] for cell in answer["uncovered"]) == 2
        assert all(cell["display"] == [cell["lon"], cell["lat"]] for cell in answer["uncovered"])
    # Nothing changes and nothing goes away: not a station, not a radius, not a position.
    assert _station_rows() == before
    saved = clients["union_staff"].post(WHAT_IF_URL, {**PERIOD_BODY, "days": 90},
                                        format="json")
    assert saved.status_code == 200


def test_a_what_if_in_gcj02_is_answered_in_gcj02(clients, worked_square, staff_of_square):  # noqa: F811
    from civicmap import coords

    lon, lat = coords.from_wgs84(*square_point(950, 950), "gcj02")
    body = {**PERIOD_BODY, "coord_system": "gcj02", "added": [{"lon": lon, "lat": lat}]}
    response = clients["union_staff"].post(WHAT_IF_URL, body, format="json")
    assert response.status_code == 200
    assert response.json()["summary"]["subdistrict"]["needs_covered"] == 2
    cell = response.json()["uncovered"][0]
    shifted = coords.from_wgs84(cell["lon"], cell["lat"], "gcj02")  # lon, lat rounded: ±1e-6
    assert cell["display"] == pytest.approx(list(shifted), abs=2e-6)


@pytest.mark.parametrize(("body", "fields"), [
    ({"added": [{"lon": "east", "lat": 39.8}]}, ["added.0.lon"]),
    ({"added": [{"lon": 116.0, "lat": 91}]}, ["added.0.lat"]),
    ({"added": [{"lon": 116.0}]}, ["added.0.lat"]),
    ({"added": [{"lon": 116.39, "lat": 39.8, "radius_m": 0}]}, ["added.0.radius_m"]),
    ({"added": [{"lon": 1, "lat": 1}] * 51}, ["added"]),
    ({"removed": list(range(1, 52))}, ["removed"]),
    ({"days": 7}, ["days"]),
    ({"coord_system": "bd10"}, ["coord_system"]),
    ({"moved": [{"id": "S2", "lon": 116.0, "lat": 39.8}]}, ["moved.0.id"]),
])
def test_malformed_stations_are_refused_by_field(clients, staff_of_square, body, fields,
                                                 worked_square):  # noqa: F811
    response = clients["union_staff"].post(WHAT_IF_URL, {**PERIOD_BODY, **body}, format="json")
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == fields


def test_stations_outside_unknown_or_twice_are_refused_by_index(
        clients, staff_of_square, worked_square):  # noqa: F811
    before = _station_rows()
    s1, s2 = _id("测试驿站一"), _id("测试驿站二")
    nanyuan = Station.objects.exclude(subdistrict=worked_square).filter(is_active=True).first()
    body = {**PERIOD_BODY,
            "added": [_lonlat(500, 500), _lonlat(1200, 500)],  # the second is 200 m outside
            "moved": [{"id": s1, **_lonlat(-10, 500)}, {"id": nanyuan.pk, **_lonlat(500, 500)}],
            "removed": [s2, 999_999, s2]}
    response = clients["union_staff"].post(WHAT_IF_URL, body, format="json",
                                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert [(error["field"], error["code"]) for error in response.json()["errors"]] == [
        ("added.1", "outside_area"), ("moved.0", "outside_area"),
        ("moved.1.id", "unknown_station"), ("removed.1", "unknown_station"),
        ("removed.2", "duplicate"),
    ]
    assert response.json()["errors"][0]["message"] == (
        "This station would lie outside the subdistrict.")
    chinese = clients["union_staff"].post(WHAT_IF_URL, body, format="json")
    assert chinese.json()["errors"][0]["message"] == "该驿站将位于街道范围以外。"
    assert _station_rows() == before


def test_who_may_ask(clients, worked_square, staff_of_square):  # noqa: F811
    body = {**PERIOD_BODY, "removed": [_id("测试驿站二")]}
    for role, status in [("anonymous", 401), ("rider", 403), ("volunteer", 403),
                         ("department_liaison", 403)]:
        assert clients[role].post(WHAT_IF_URL, body, format="json").status_code == status
    heyi = client_for("union_heyi1")
    # Another subdistrict's union may not read this one's figures ...
    assert heyi.post(WHAT_IF_URL, body, format="json").status_code == 403
    # ... nor name its stations in a what-if of its own subdistrict.
    own = heyi.post(WHAT_IF_URL, {"removed": [_id("测试驿站二")]}, format="json")
    assert own.status_code == 400 and own.json()["errors"][0]["field"] == "removed.0"
