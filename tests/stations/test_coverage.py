"""Coverage: "is this point covered" (ST_DWithin, metres), area shares from the union of the
circles (EPSG:4548), report and riders'-needs shares, uncovered hotspots; worked by hand on the
1 km test square."""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.gis.geos import Point

from stations.selectors import Period, coverage_summary, stations_covering
from stations.services import station_upsert
from tests.stations.helpers import COVERAGE_URL, report_at, square_point, vincenty_m

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
WHEN = datetime(2026, 11, 1, 12, 0, tzinfo=SHANGHAI)
PERIOD = Period(since=datetime(2026, 10, 1, tzinfo=SHANGHAI),
                until=datetime(2026, 12, 1, tzinfo=SHANGHAI))
HOURS = [{"day": day, "open": "08:00", "close": "20:00"} for day in range(7)]
R = 250  # metres

# Two circles of radius 250 m whose centres are 250 m apart (metres from the square's SW corner):
# S1 at (250, 500), wholly in the west community; S2 at (500, 500), on the line between the two.
# Lens of the overlap: 2r²·acos(d/2r) − (d/2)·√(4r² − d²) with r = d = 250.
CIRCLE = math.pi * R**2  # 196,349.54 m²
LENS = 2 * R**2 * math.acos(0.5) - (R / 2) * math.sqrt(4 * R**2 - R**2)  # 76,773.10 m²
UNION = 2 * CIRCLE - LENS  # 315,925.98 m²
WEST_COVERED = CIRCLE + CIRCLE / 2 - LENS  # the lens lies in 250 ≤ x ≤ 500: 217,751.21 m²
EAST_COVERED = CIRCLE / 2  # 98,174.77 m²


def _station(name: str, dx: float, dy: float, radius: int | None = R):
    lon, lat = square_point(dx, dy)
    return station_upsert(
        name_zh=name, name_en=name, venue_type="pharmacy", address_zh="", lon=lon, lat=lat,
        opening_hours=HOURS, services=["charging"], coverage_radius_m=radius,
    )


def _report(dx: float, dy: float, code: str = "C0103"):
    lon, lat = square_point(dx, dy)
    return report_at(lon=lon, lat=lat, category_code=code, received_at=WHEN)


@pytest.fixture
def worked_square(square):
    """The two stations, and six reports (metres from the SW corner; L02xx are riders' needs):

        west: (250, 500) 0 m from S1 covered · (250, 740) 240 m from S1 covered ·
              (250, 760) 260 m from S1, 360 m from S2: uncovered ·
              (150, 150) L0203, 364 m from S1: uncovered
        east: (700, 500) L0202, 200 m from S2 covered · (950, 950) L0201, 636 m: uncovered
    """
    _station("测试驿站一", 250, 500)
    _station("测试驿站二", 500, 500)
    for dx, dy, code in [(250, 500, "C0103"), (250, 740, "C0103"), (250, 760, "C0103"),
                         (150, 150, "L0203"), (700, 500, "L0202"), (950, 950, "L0201")]:
        _report(dx, dy, code)
    return square


def test_point_coverage_uses_true_metres(worked_square):
    inside = square_point(250, 740)
    stations = stations_covering(point=Point(*inside, srid=4326))
    assert [s["name"] for s in stations] == ["测试驿站一"]
    s1 = square_point(250, 500)
    # 240 m in EPSG:4548, 239.99 m on the ground (the projection's scale here is 1 + 4.4e-5).
    assert stations[0]["distance_m"] == pytest.approx(vincenty_m(*inside, *s1), abs=0.06)
    assert stations_covering(point=Point(*square_point(250, 760), srid=4326)) == []


def test_area_shares_match_the_circles_worked_by_hand(worked_square):
    summary = coverage_summary(period=PERIOD, subdistrict=worked_square)
    west, east = summary["communities"]
    # Circles are 256-gons: their areas fall short by (2π/256)²/6 ≈ 1e-4 of the true circle.
    assert summary["subdistrict"]["area_m2"] == pytest.approx(1_000_000, rel=1e-9)
    assert summary["subdistrict"]["covered_area_m2"] == pytest.approx(UNION, rel=2e-4)
    assert summary["subdistrict"]["area_share"] == pytest.approx(UNION / 1e6, abs=1e-4)
    assert west["covered_area_m2"] == pytest.approx(WEST_COVERED, rel=2e-4)
    assert west["area_share"] == pytest.approx(WEST_COVERED / 500_000, abs=1e-4)  # 0.4355
    assert east["covered_area_m2"] == pytest.approx(EAST_COVERED, rel=2e-4)
    assert east["area_share"] == pytest.approx(EAST_COVERED / 500_000, abs=1e-4)  # 0.1963
    # S2 stands on the shared edge (to within the transformation's rounding): counted once.
    assert west["stations"] + east["stations"] == summary["subdistrict"]["stations"] == 2


def test_report_and_needs_shares_worked_by_hand(worked_square):
    summary = coverage_summary(period=PERIOD, subdistrict=worked_square)
    west, east = summary["communities"]
    whole = summary["subdistrict"]
    assert (west["reports"], west["reports_covered"], west["reports_share"]) == (4, 2, 0.5)
    assert (west["needs"], west["needs_covered"], west["needs_share"]) == (1, 0, 0.0)
    assert (east["reports"], east["reports_covered"], east["reports_share"]) == (2, 1, 0.5)
    assert (east["needs"], east["needs_covered"], east["needs_share"]) == (2, 1, 0.5)
    assert (whole["reports"], whole["reports_covered"], whole["reports_share"]) == (6, 3, 0.5)
    assert (whole["needs"], whole["needs_covered"], whole["needs_share"]) == (3, 1, 0.3333)


def test_uncovered_hotspots_are_the_heaviest_unit_grids(worked_square):
    hotspots = coverage_summary(period=PERIOD, subdistrict=worked_square)["hotspots"]
    # Needs weigh 3, other reports 1. Unit grids are numbered north to south, west to east:
    # (150, 150) is column 1, row 1 of the west community → sequence (9−1)·5 + 1 + 1 = 042;
    # (950, 950) is column 4 of the east one, row 9 → 005; (250, 760) → (9−7)·5 + 2 + 1 = 013.
    assert [(h["grid_id"], h["weight"]) for h in hotspots] == [
        ("110106999001042", 3.0), ("110106999002005", 3.0), ("110106999001013", 1.0),
    ]
    assert hotspots[0]["uncovered_needs"] == 1 and hotspots[2]["uncovered_reports"] == 1
    # With equal weights the tie at the top is broken by grid ID, and the needs no longer lead.
    flat = coverage_summary(period=PERIOD, subdistrict=worked_square, need_weight=1.0)
    assert [h["weight"] for h in flat["hotspots"]] == [1.0, 1.0, 1.0]


def test_the_default_radius_is_a_setting(square, settings):
    settings.STATION_COVERAGE_RADIUS_M = R
    _station("默认半径驿站", 250, 500, radius=None)
    _report(250, 740)  # 240 m: covered at 250 m
    _report(250, 760)  # 260 m: not
    summary = coverage_summary(period=PERIOD, subdistrict=square)
    assert summary["radius_default_m"] == R
    assert summary["subdistrict"]["covered_area_m2"] == pytest.approx(CIRCLE, rel=2e-4)
    assert summary["subdistrict"]["reports_covered"] == 1
    settings.STATION_COVERAGE_RADIUS_M = 300
    assert coverage_summary(period=PERIOD, subdistrict=square)["subdistrict"][
        "reports_covered"] == 2


def test_a_station_radius_overrides_the_setting(square, settings):
    settings.STATION_COVERAGE_RADIUS_M = 1000
    _station("自有半径驿站", 250, 500, radius=R)
    _report(250, 760)  # 260 m: outside its own 250 m
    assert coverage_summary(period=PERIOD, subdistrict=square)["subdistrict"][
        "reports_covered"] == 0


def test_inactive_stations_cover_nothing(worked_square):
    from stations.models import Station

    Station.objects.filter(name_zh__startswith="测试驿站").update(is_active=False)
    summary = coverage_summary(period=PERIOD, subdistrict=worked_square)
    assert summary["subdistrict"]["reports_covered"] == 0
    assert summary["subdistrict"]["covered_area_m2"] == 0


def test_coverage_api_for_staff_only(clients, worked_square, staff_of_square):
    params = {"subdistrict": "110106999", "since": "2026-10-01T00:00:00+08:00",
              "until": "2026-12-01T00:00:00+08:00"}
    for role in ("anonymous", "rider", "volunteer"):
        assert clients[role].get(COVERAGE_URL, params).status_code in (401, 403)
    for role in ("office_staff", "union_staff"):
        response = clients[role].get(COVERAGE_URL, params)
        assert response.status_code == 200
        assert response.json()["subdistrict"]["reports_share"] == 0.5
    point = dict(zip(("lon", "lat"), square_point(250, 740), strict=True))
    response = clients["office_staff"].get(COVERAGE_URL + "point/", point)
    assert response.json()["covered"] is True
    assert clients["anonymous"].get(COVERAGE_URL + "point/", point).status_code in (401, 403)


def test_coverage_api_refuses_a_reversed_period_and_unknown_subdistrict(clients, reference_data):
    response = clients["office_staff"].get(COVERAGE_URL, {
        "since": "2026-12-01T00:00:00+08:00", "until": "2026-10-01T00:00:00+08:00"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "since"
    response = clients["office_staff"].get(COVERAGE_URL, {"subdistrict": "999999999"})
    assert response.json()["errors"][0]["field"] == "subdistrict"


def test_coverage_layer_is_public_geojson(clients, reference_data):
    response = clients["anonymous"].get(COVERAGE_URL + "layer/")
    assert response.status_code == 200
    geometry = response.json()["features"][0]["geometry"]
    assert geometry["type"] in ("Polygon", "MultiPolygon")
