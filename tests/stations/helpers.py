"""Helpers of the stations tests: clients, an independent geodesic distance, a test square.

Distances expected by the tests come from Vincenty's inverse formula on the WGS 84 ellipsoid,
computed here (not by the app, not by PostGIS), and agree with PostGIS's
``ST_Distance(geography, geography)`` to well under a millimetre at these ranges.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime

from django.contrib.gis.geos import Point, Polygon
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from civicmap.models import CommunityGrid, Subdistrict, UnitGrid
from issues.models import Case, Category, Report

API = "/api/v1"
STATIONS_URL = f"{API}/stations/"
NEAREST_URL = f"{API}/stations/nearest/"
COVERAGE_URL = f"{API}/stations/coverage/"
SITING_URL = f"{API}/stations/siting/"
CHECKINS_URL = f"{API}/stations/checkins/"
VISITS_URL = f"{API}/stations/visits/"

# Demo usernames per role (fixtures/demo_people.json).
ROLE_USERS = {
    "anonymous": None, "rider": "rider1", "volunteer": "cw_vol1", "office_staff": "office1",
    "union_staff": "union1", "department_liaison": "liaison_chengguan",
}

WGS84_A = 6378137.0  # metres, semi-major axis
WGS84_F = 1 / 298.257223563


def client_for(username: str | None) -> APIClient:
    client = APIClient()
    if username is not None:
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.get(username=username)
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def vincenty_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Distance in metres on the WGS 84 ellipsoid (Vincenty 1975, inverse problem)."""
    a, f = WGS84_A, WGS84_F
    b = a * (1 - f)
    u1 = math.atan((1 - f) * math.tan(math.radians(lat1)))
    u2 = math.atan((1 - f) * math.tan(math.radians(lat2)))
    big_l = math.radians(lon2 - lon1)
    lam = big_l
    sin_u1, cos_u1, sin_u2, cos_u2 = math.sin(u1), math.cos(u1), math.sin(u2), math.cos(u2)
    for _ in range(200):
        sin_lam, cos_lam = math.sin(lam), math.cos(lam)
        sin_sigma = math.hypot(cos_u2 * sin_lam, cos_u1 * sin_u2 - sin_u1 * cos_u2 * cos_lam)
        if sin_sigma == 0:
            return 0.0
        cos_sigma = sin_u1 * sin_u2 + cos_u1 * cos_u2 * cos_lam
        sigma = math.atan2(sin_sigma, cos_sigma)
        sin_alpha = cos_u1 * cos_u2 * sin_lam / sin_sigma
        cos2_alpha = 1 - sin_alpha**2
        cos_2sm = cos_sigma - 2 * sin_u1 * sin_u2 / cos2_alpha if cos2_alpha else 0.0
        c = f / 16 * cos2_alpha * (4 + f * (4 - 3 * cos2_alpha))
        previous = lam
        lam = big_l + (1 - c) * f * sin_alpha * (
            sigma + c * sin_sigma * (cos_2sm + c * cos_sigma * (-1 + 2 * cos_2sm**2))
        )
        if abs(lam - previous) < 1e-13:
            break
    u_sq = cos2_alpha * (a**2 - b**2) / b**2
    big_a = 1 + u_sq / 16384 * (4096 + u_sq * (-768 + u_sq * (320 - 175 * u_sq)))
    big_b = u_sq / 1024 * (256 + u_sq * (-128 + u_sq * (74 - 47 * u_sq)))
    delta_sigma = big_b * sin_sigma * (cos_2sm + big_b / 4 * (
        cos_sigma * (-1 + 2 * cos_2sm**2)
        - big_b / 6 * cos_2sm * (-3 + 4 * sin_sigma**2) * (-3 + 4 * cos_2sm**2)
    ))
    return b * big_a * (sigma - delta_sigma)


def offset_point(lon: float, lat: float, *, north_m: float = 0.0, east_m: float = 0.0
                 ) -> tuple[float, float]:
    """A point about ``north_m``/``east_m`` metres away (spherical approximation, good to
    ~0.5 %): tests then measure the true distance with ``vincenty_m``."""
    metres_per_degree = 111_320.0
    return (lon + east_m / (metres_per_degree * math.cos(math.radians(lat))),
            lat + north_m / metres_per_degree)


# --- a test square, far from Nanyuan, whose numbers can be worked out by hand ------------------

SQUARE_X0, SQUARE_Y0 = 440_000.0, 4_400_000.0  # EPSG:4548 metres, SW corner (≈116.30 E, 39.74 N)
SQUARE_SIDE_M = 1000.0


def metric_to_wgs84(x: float, y: float) -> tuple[float, float]:
    """EPSG:4548 → WGS 84 by PostGIS (the same transformation the app uses)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_X(g), ST_Y(g) FROM ST_Transform(ST_SetSRID(ST_MakePoint(%s, %s), 4548),"
            " 4326) AS g", [x, y],
        )
        return cursor.fetchone()


def _metric_polygon(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    ring = [metric_to_wgs84(x, y) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))]
    return Polygon(ring, srid=4326)


def square_point(dx: float, dy: float) -> tuple[float, float]:
    """(lon, lat) of the point ``dx``, ``dy`` metres east and north of the square's SW corner."""
    return metric_to_wgs84(SQUARE_X0 + dx, SQUARE_Y0 + dy)


def square_subdistrict_create() -> Subdistrict:
    """A 1 km × 1 km subdistrict (a square in EPSG:4548, its corners transformed to WGS 84),
    cut into a west and an east community of 500 m × 1000 m, each tiled by 100 m unit grids.

        (0,1000) ┌────┬────┐ (1000,1000)
                 │ W  │ E  │
           (0,0) └────┴────┘ (1000,0)      metres from the SW corner
    """
    x0, y0, side = SQUARE_X0, SQUARE_Y0, SQUARE_SIDE_M
    subdistrict = Subdistrict.objects.create(
        code="110106999", name_zh="测试方块街道", name_en="Test Square Subdistrict",
        boundary=_metric_polygon(x0, y0, x0 + side, y0 + side),
    )
    for number, (left, right) in enumerate(((0, 500), (500, 1000)), start=1):
        community = CommunityGrid.objects.create(
            code=f"110106999{number:03d}", name_zh=f"测试社区{number}",
            name_en=f"Test Community {number}", subdistrict=subdistrict,
            boundary=_metric_polygon(x0 + left, y0, x0 + right, y0 + side),
        )
        sequence = 0
        for row in range(9, -1, -1):  # north to south, then west to east
            for column in range(left // 100, right // 100):
                sequence += 1
                UnitGrid.objects.create(
                    grid_id=f"{community.code}{sequence:03d}", community=community,
                    boundary=_metric_polygon(x0 + column * 100, y0 + row * 100,
                                             x0 + column * 100 + 100, y0 + row * 100 + 100),
                )
    return subdistrict


def report_at(*, lon: float, lat: float, category_code: str, received_at: datetime) -> Report:
    """A report (with its own case) at a point, its grids found as intake would."""
    from civicmap.selectors import grid_locate

    point = Point(lon, lat, srid=4326)
    place = grid_locate(point=point)
    category = Category.objects.get(code=category_code)
    case = Case.objects.create(
        category=category, location=point, subdistrict_id=place.subdistrict_id,
        created_at=received_at, last_report_at=received_at,
        updated_at=received_at, report_count=1, reporter_count=1,
        community_grid_id=place.community_id if place else None,
        unit_grid_id=place.unit_grid_id if place else None,
    )
    return Report.objects.create(
        location=point, sent_lon=lon, sent_lat=lat, category=category, case=case,
        subdistrict_id=place.subdistrict_id,
        received_at=received_at, channel=Report.Channel.OPEN311, client_uuid=uuid.uuid4(),
        community_grid_id=place.community_id if place else None,
        unit_grid_id=place.unit_grid_id if place else None,
    )


# --- a small visits history (tests/stations/test_visits.py, the visits page) -------------------

VISITS_WANDA = "槐房万达广场党群服务站"  # 116.392 E, 39.797 N: haircut, ID copies
VISITS_CENTRE = "南苑街道党群服务中心工会驿站"  # 116.395 E, 39.8045 N: haircut, tyres, ID copies
VISITS_HEYI = "和义街道党群服务中心工会驿站"  # 116.3832 E, 39.8211 N (和义)
VISITS_MONTH = "2026-11"


def visits_history_create() -> dict[str, int]:
    """Six check-ins through the check-in service, around Beijing's midnight between Sunday 8
    and Monday 9 November 2026 (23:30 and 00:30 Beijing are 15:30 and 16:30 UTC, both Sunday in
    UTC), four with a benefit of the card (rider1 and rider3 hold Nanyuan's cards). Returns
    the three stations' ids by Chinese name."""
    from zoneinfo import ZoneInfo

    from django.contrib.auth import get_user_model

    from stations.models import Station
    from stations.services import checkin_create, station_token_ensure

    shanghai = ZoneInfo("Asia/Shanghai")
    stations = {name: Station.objects.get(name_zh=name)
                for name in (VISITS_WANDA, VISITS_CENTRE, VISITS_HEYI)}
    users = {user.username: user for user in get_user_model().objects.filter(
        username__in=["rider1", "rider2", "rider3"])}
    for username, name, (day, hour, minute), benefit in [
        ("rider1", VISITS_WANDA, (8, 23, 30), "haircut"),
        ("rider1", VISITS_WANDA, (9, 0, 30), "id_copies"),
        ("rider2", VISITS_WANDA, (9, 0, 40), None),
        ("rider1", VISITS_CENTRE, (9, 12, 10), "id_copies"),
        ("rider3", VISITS_CENTRE, (9, 12, 20), "id_copies"),
        ("rider2", VISITS_HEYI, (9, 12, 0), None),
    ]:
        station = stations[name]
        checkin_create(rider=users[username],
                       code=station_token_ensure(station=station).short_code,
                       lon=station.location.x, lat=station.location.y, benefit=benefit,
                       now=datetime(2026, 11, day, hour, minute, tzinfo=shanghai))
    return {name: station.pk for name, station in stations.items()}
