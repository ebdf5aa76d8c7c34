"""Nearest stations: KNN order, true metres, walking minutes, services, open now (Asia/Shanghai)."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.contrib.gis.geos import Point

from civicmap import coords
from stations.selectors import station_nearest_list
from tests.stations.helpers import NEAREST_URL, STATIONS_URL, vincenty_m

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
FIXTURE = json.loads(
    (Path(__file__).resolve().parents[2] / "fixtures" / "stations.json").read_text("utf-8")
)
P = (116.392, 39.800)  # WGS 84: on 南苑路, 330 m north of 槐房万达广场
MEIYIJIA = "美宜佳东营房店工会驿站"  # opens 07:00, closes 01:00 the next day, every day
NEAR_MEIYIJIA = (116.4075, 39.797)  # 111 m north of it


def _by_hand(point: tuple[float, float], names: set[str] | None = None) -> list[tuple[float, str]]:
    """Every demo station's Vincenty distance from ``point``, nearest first."""
    return sorted(
        (vincenty_m(*point, item["lon"], item["lat"]), item["name_zh"])
        for item in FIXTURE if names is None or item["name_zh"] in names
    )


def test_the_five_nearest_match_hand_computed_distances(clients):
    # Vincenty on WGS 84 for all 30 demo stations; PostGIS agrees:
    #   SELECT name_zh, ST_Distance(location, 'SRID=4326;POINT(116.392 39.8)'::geography)
    #   FROM stations_station ORDER BY 2 LIMIT 5;
    #   中国建设银行槐房支行工会驿站 210.335 | 槐房万达广场党群服务站 333.092 |
    #   槐房万达美食街烧烤店工会驿站 528.185 | 南苑街道党群服务中心工会驿站 561.824 |
    #   中国工商银行南苑支行工会驿站 581.050
    expected = _by_hand(P)[:5]
    response = clients["anonymous"].get(NEAREST_URL, {"lon": P[0], "lat": P[1]})
    assert response.status_code == 200
    stations = response.json()["stations"]
    assert [s["name_zh"] for s in stations] == [name for _d, name in expected]
    for station, (distance, _name) in zip(stations, expected, strict=True):
        assert station["distance_m"] == pytest.approx(distance, abs=0.06)  # rounded to 0.1 m
    assert stations[0]["distance_m"] == pytest.approx(210.3, abs=0.05)
    assert stations[1]["distance_m"] == pytest.approx(333.1, abs=0.05)


def test_walking_time_is_distance_at_1_2_m_per_s_rounded_up(clients):
    stations = clients["anonymous"].get(NEAREST_URL, {"lon": P[0], "lat": P[1]}).json()[
        "stations"]
    for station in stations:
        assert station["walk_minutes"] == math.ceil(station["distance_m"] / 1.2 / 60)
    assert stations[0]["walk_minutes"] == 3  # 210.3 m / 1.2 m/s = 175 s


def test_a_gcj02_position_is_converted_before_measuring(clients):
    gcj = coords.wgs84_to_gcj02(*P)  # what a phone's map app would send, ~550 m off
    response = clients["anonymous"].get(
        NEAREST_URL, {"lon": gcj[0], "lat": gcj[1], "coord_system": "gcj02"})
    body = response.json()
    assert body["position"]["lon"] == pytest.approx(P[0], abs=1e-6)
    assert body["stations"][0]["name_zh"] == _by_hand(P)[0][1]
    assert body["stations"][0]["distance_m"] == pytest.approx(_by_hand(P)[0][0], abs=0.1)
    # Where to draw it on the client's GCJ-02 basemap, too:
    shown = coords.wgs84_to_gcj02(body["stations"][0]["lon"], body["stations"][0]["lat"])
    assert body["stations"][0]["display_lon"] == pytest.approx(shown[0], abs=2e-6)


def test_service_filter_keeps_only_stations_offering_it(clients):
    with_tyre = {item["name_zh"] for item in FIXTURE if "tyre_repair" in item["services"]}
    expected = [name for _d, name in _by_hand(P, with_tyre)[:5]]
    response = clients["anonymous"].get(
        NEAREST_URL, {"lon": P[0], "lat": P[1], "service": "tyre_repair"})
    stations = response.json()["stations"]
    assert [s["name_zh"] for s in stations] == expected
    for station in stations:
        codes = [service["code"] for service in station["services"]]
        assert "tyre_repair" in codes
        tyre = next(s for s in station["services"] if s["code"] == "tyre_repair")
        assert tyre["member_benefit"] is True
        assert tyre["name_en"] == "Tyre repair discount" and tyre["name_zh"]


def test_open_now_honours_hours_past_midnight_in_shanghai(clients):
    # Tuesday 00:30 in Beijing is Monday 16:30 UTC: 美宜佳 is still open from Monday 07:00.
    tuesday_0030 = "2026-11-30T16:30:00Z"
    body = clients["anonymous"].get(NEAREST_URL, {
        "lon": NEAR_MEIYIJIA[0], "lat": NEAR_MEIYIJIA[1], "open_now": "1", "at": tuesday_0030,
    }).json()
    assert body["stations"][0]["name_zh"] == MEIYIJIA
    assert body["stations"][0]["open_now"] is True
    # At 01:30 it has closed (01:00); the 24-hour and 02:00 stations are still open.
    body = clients["anonymous"].get(NEAREST_URL, {
        "lon": NEAR_MEIYIJIA[0], "lat": NEAR_MEIYIJIA[1], "open_now": "1",
        "at": "2026-12-01T01:30:00+08:00",
    }).json()
    names = [s["name_zh"] for s in body["stations"]]
    assert MEIYIJIA not in names and names
    assert all(s["open_now"] for s in body["stations"])
    open_at_0130 = {
        "金象大药房槐房店工会驿站", "南城老北京炸酱面馆工会驿站", "槐房万达美食街烧烤店工会驿站",
        "便利蜂南苑路店工会驿站", "物美便利店槐房西路店工会驿站",
    }  # three open 24 h, two until 02:00 (fixtures/stations.json)
    assert set(names) == open_at_0130


def test_open_now_off_lists_closed_stations_too(clients):
    body = clients["anonymous"].get(NEAREST_URL, {
        "lon": NEAR_MEIYIJIA[0], "lat": NEAR_MEIYIJIA[1], "at": "2026-12-01T01:30:00+08:00",
    }).json()
    assert body["stations"][0]["name_zh"] == MEIYIJIA
    assert body["stations"][0]["open_now"] is False


def test_knn_query_is_one_query_under_the_index(django_assert_max_num_queries, reference_data):
    at = datetime(2026, 12, 1, 12, 0, tzinfo=SHANGHAI)
    with django_assert_max_num_queries(1):
        stations = station_nearest_list(point=Point(*P, srid=4326), at=at)
    assert len(stations) == 5


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lon": "east", "lat": 39.8}, "lon"),
        ({"lon": 116.39, "lat": "nan"}, "lat"),
        ({"lon": 116.39}, "lat"),
        ({"lon": 116.39, "lat": 39.8, "service": "sauna"}, "service"),
        ({"lon": 116.39, "lat": 39.8, "coord_system": "mars"}, "coord_system"),
        ({"lon": 116.39, "lat": 39.8, "limit": 6}, "limit"),
    ],
)
def test_bad_nearest_queries_are_refused_in_the_error_shape(clients, params, field):
    response = clients["anonymous"].get(NEAREST_URL, params)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [error["field"] for error in errors] == [field]
    assert errors[0]["message"]


def test_unknown_service_message_names_it(clients):
    response = clients["anonymous"].get(
        NEAREST_URL, {"lon": 116.39, "lat": 39.8, "service": "sauna"},
        HTTP_ACCEPT_LANGUAGE="en")
    assert response.json()["errors"][0]["message"] == "Unknown service: sauna."


def test_list_is_geojson_with_services_hours_and_catalogue(clients, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        response = clients["anonymous"].get(STATIONS_URL, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    body = response.json()
    # The whole district's: Nanyuan's 30 and its neighbours' 9.
    assert body["type"] == "FeatureCollection" and len(body["features"]) == 39
    by_name = {f["properties"]["name_zh"]: f for f in body["features"]}
    wanda = by_name["槐房万达广场党群服务站"]
    assert wanda["geometry"] == {"type": "Point", "coordinates": [116.392, 39.797]}
    assert wanda["properties"]["coverage_radius_m"] == 300
    assert wanda["properties"]["name"] == "Huaifang Wanda Plaza Party-Mass Service Station"
    assert wanda["properties"]["opening_hours"][0] == {"day": 0, "open": "10:00", "close": "22:00"}
    assert "haircut" in wanda["properties"]["services"]
    default = by_name[MEIYIJIA]
    assert default["properties"]["coverage_radius_m"] == 500  # no radius of its own
    catalogue = {entry["code"]: entry for entry in body["services"]}
    assert catalogue["haircut"] == {"code": "haircut", "name_zh": "理发", "name_en": "Haircut",
                                    "member_benefit": True}
    assert catalogue["charging"]["member_benefit"] is False


def test_list_open_now_at_tuesday_0130(clients):
    body = clients["anonymous"].get(
        STATIONS_URL, {"open_now": "true", "at": "2026-12-01T01:30:00+08:00"}).json()
    assert len(body["features"]) == 5
    assert all(f["properties"]["open_now"] for f in body["features"])


def test_list_when_every_station_is_closed_or_none_is_active(clients):
    from stations.models import Station

    Station.objects.exclude(name_zh="槐房万达广场党群服务站").update(is_active=False)
    night = {"at": "2026-12-01T03:00:00+08:00"}  # 万达 opens at 10:00
    body = clients["anonymous"].get(STATIONS_URL, night).json()
    assert [f["properties"]["open_now"] for f in body["features"]] == [False]
    assert clients["anonymous"].get(STATIONS_URL, {**night, "open_now": "1"}).json()[
        "features"] == []
    assert clients["anonymous"].get(NEAREST_URL, {"lon": P[0], "lat": P[1], "open_now": "1",
                                                  **night}).json()["stations"] == []
    Station.objects.update(is_active=False)
    assert clients["anonymous"].get(STATIONS_URL).json()["features"] == []
    assert clients["anonymous"].get(NEAREST_URL, {"lon": P[0], "lat": P[1]}).json()[
        "stations"] == []
