"""Station writes validate the same way on every path."""

from __future__ import annotations

import pytest
from django.db import connection

from civicmap.errors import InvalidInput
from stations.models import Station
from stations.services import station_upsert

pytestmark = pytest.mark.django_db

GOOD = {
    "name_zh": "测试驿站", "name_en": "Test station", "venue_type": "pharmacy",
    "address_zh": "南苑路1号", "lon": 116.392, "lat": 39.797,
    "opening_hours": [{"day": 0, "open": "10:00", "close": "02:00"}],
    "services": ["charging", "water"], "coverage_radius_m": None,
}


def test_every_demo_station_lies_inside_its_subdistrict(reference_data):
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT s.code, count(*) FILTER (WHERE ST_Covers(s.boundary, st.location::geometry))
               FROM stations_station st JOIN civicmap_subdistrict s ON s.id = st.subdistrict_id
               GROUP BY s.code ORDER BY s.code"""
        )
        # Nanyuan's 30, Donggaodi's 3, Heyi's 6 (fixtures/stations.json), each inside.
        assert cursor.fetchall() == [("110106005", 30), ("110106006", 3), ("110106016", 6)]
    assert Station.objects.count() == 39
    assert Station.objects.filter(name_zh="槐房万达广场党群服务站").exists()


def test_station_upsert_creates_a_valid_station(reference_data):
    station = station_upsert(**GOOD)
    assert station.location.x == pytest.approx(116.392)
    assert station.services == ["charging", "water"]


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"lon": 116.3975, "lat": 39.9087}, "location", "outside_area"),
        ({"lon": "east"}, "location", "invalid"),
        ({"lat": float("nan")}, "location", "invalid"),
        ({"coverage_radius_m": 0}, "coverage_radius_m", "out_of_range"),
        ({"coverage_radius_m": 5001}, "coverage_radius_m", "out_of_range"),
        ({"services": ["charging", "sauna"]}, "services", "invalid"),
        ({"venue_type": "casino"}, "venue_type", "invalid"),
        ({"opening_hours": [{"day": 7, "open": "08:00", "close": "20:00"}]},
         "opening_hours", "invalid"),
        ({"opening_hours": [{"day": 1, "open": "8am", "close": "20:00"}]},
         "opening_hours", "invalid"),
        ({"opening_hours": {"day": 1}}, "opening_hours", "invalid"),
    ],
)
def test_station_upsert_refuses_bad_input_and_saves_nothing(reference_data, change, field, code):
    before = Station.objects.count()
    with pytest.raises(InvalidInput) as refusal:
        station_upsert(**{**GOOD, **change})
    assert (refusal.value.errors[0].field, refusal.value.errors[0].code) == (field, code)
    assert Station.objects.count() == before


def test_station_upsert_reports_every_fault_at_once(reference_data):
    with pytest.raises(InvalidInput) as refusal:
        station_upsert(**{**GOOD, "lon": "x", "coverage_radius_m": 0, "services": ["sauna"],
                          "venue_type": "casino"})
    fields = [error.field for error in refusal.value.errors]
    assert fields == ["location", "venue_type", "services", "coverage_radius_m"]


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"lon": True}, "location", "invalid"),
        ({"coverage_radius_m": "300m"}, "coverage_radius_m", "invalid"),
        ({"coverage_radius_m": 250.5}, "coverage_radius_m", "invalid"),
        ({"coverage_radius_m": float("inf")}, "coverage_radius_m", "out_of_range"),
        ({"services": "charging"}, "services", "invalid"),
        ({"name_zh": "  "}, "name_zh", "required"),
        ({"name_en": "x" * 101}, "name_en", "too_long"),
        ({"is_active": "yes"}, "is_active", "invalid"),
    ],
)
def test_station_upsert_refuses_loose_types(reference_data, change, field, code):
    with pytest.raises(InvalidInput) as refusal:
        station_upsert(**{**GOOD, **change})
    assert (refusal.value.errors[0].field, refusal.value.errors[0].code) == (field, code)


def test_radius_given_as_text_from_a_csv_is_accepted(reference_data):
    assert station_upsert(**{**GOOD, "coverage_radius_m": "450"}).coverage_radius_m == 450
    assert station_upsert(**{**GOOD, "coverage_radius_m": ""}).coverage_radius_m is None
