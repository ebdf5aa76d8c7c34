"""Union staff see and edit their subdistrict's stations, check-in codes, visits and coverage;
the district union (a membership with no subdistrict) every one (issue 16, civicmap.scopes).
The demo's stations are all Nanyuan's: union1's, not union_heyi1's."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from civicmap.models import Membership
from stations.models import Station
from tests.patrol.helpers import HEYI_XILI_1, client_for, community_points

pytestmark = pytest.mark.django_db

STATIONS = "/api/v1/stations"


def station_body(lon: float, lat: float, name: str) -> dict:
    return {"name_zh": name, "name_en": "Scope test", "venue_type": "restaurant",
            "address_zh": "测试路1号", "lon": lon, "lat": lat,
            "opening_hours": [{"day": 0, "open": "08:00", "close": "20:00"}],
            "services": ["charging"], "coverage_radius_m": 400}


def test_another_subdistricts_station_is_not_found_nor_changed(reference_data):
    station = Station.objects.order_by("pk").first()
    heyi = client_for("union_heyi1")
    assert heyi.get(f"{STATIONS}/{station.pk}/token/").status_code == 404
    assert heyi.post(f"{STATIONS}/{station.pk}/token/rotate/").status_code == 404
    assert client_for("union1").get(f"{STATIONS}/{station.pk}/token/").status_code == 200
    # Moving a Nanyuan station, or naming a new one after it: refused, nothing written.
    lon, lat = community_points(HEYI_XILI_1)[0]
    answer = heyi.post(f"{STATIONS}/", station_body(lon, lat, station.name_zh), format="json")
    assert answer.status_code == 400 and answer.json()["errors"][0]["code"] == "not_yours"
    assert Station.objects.get(pk=station.pk).location == station.location
    # A new station in Heyi is theirs; one placed in Nanyuan is not.
    assert heyi.post(f"{STATIONS}/", station_body(lon, lat, "和义测试驿站"),
                     format="json").status_code == 201
    assert heyi.post(f"{STATIONS}/", station_body(station.location.x, station.location.y,
                                                  "越界驿站"), format="json").status_code == 400
    assert not Station.objects.filter(name_zh="越界驿站").exists()


def test_exports_visits_and_coverage_are_the_readers_subdistricts(reference_data):
    def exported(username: str) -> int:
        answer = client_for(username).get(f"{STATIONS}/export/", {"file_type": "geojson"})
        return len(json.loads(answer.content)["features"])

    assert exported("union_heyi1") == Station.objects.filter(subdistrict__code="110106016").count()
    assert exported("union1") == Station.objects.filter(subdistrict__code="110106005").count()
    assert exported("union_heyi1") > 0
    visited = {row["name_zh"] for row in client_for("union_heyi1").get(
        f"{STATIONS}/visits/").json()["per_station"]}
    assert visited <= set(Station.objects.filter(subdistrict__code="110106016")
                          .values_list("name_zh", flat=True))
    coverage = client_for("union_heyi1").get(f"{STATIONS}/coverage/").json()
    assert coverage["subdistrict"]["code"] == "110106016"  # their own, by default
    refused = client_for("union_heyi1").get(f"{STATIONS}/coverage/",
                                            {"subdistrict": "110106005"})
    assert refused.status_code == 403
    # The district union: every subdistrict's.
    district = get_user_model().objects.get(username="union_heyi1")
    Membership.objects.filter(user=district).update(subdistrict=None)
    assert exported("union_heyi1") == Station.objects.count()
    assert client_for("union_heyi1").get(f"{STATIONS}/coverage/", {
        "subdistrict": "110106005"}).status_code == 200
