"""Stations in and out as GeoJSON and CSV (API and admin), and station writes through the API:
the same checks everywhere, refusals in the API's error shape, nothing saved on a refusal."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.gis.geos import Point
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation

from civicmap import coords
from stations.io import (
    rows_from_csv,
    rows_from_geofile,
    rows_from_geojson,
    rows_from_upload,
    stations_feature_collection,
    stations_to_csv,
    stations_to_geojson,
)
from stations.models import Station
from stations.services import MSG_BAD_RADIUS, stations_import
from tests.stations.helpers import STATIONS_URL

pytestmark = pytest.mark.django_db

IMPORT_URL = f"{STATIONS_URL}import/"
EXPORT_URL = f"{STATIONS_URL}export/"
HOURS = [{"day": 0, "open": "22:00", "close": "06:00"}]  # Monday night into Tuesday
GOOD = {
    "name_zh": "新测试驿站", "name_en": "New test station", "venue_type": "restaurant",
    "address_zh": "南苑路2号", "lon": 116.393, "lat": 39.798, "opening_hours": HOURS,
    "services": ["charging", "haircut"], "coverage_radius_m": 400,
}


def _snapshot() -> list[tuple]:
    return list(Station.objects.order_by("name_zh").values_list(
        "name_zh", "name_en", "venue_type", "address_zh", "location", "opening_hours",
        "services", "coverage_radius_m", "is_active", "closed_on_holidays"))


def _upload(name: str, text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"))


def test_geojson_and_csv_round_trip_unchanged(reference_data):
    before = _snapshot()
    stations = list(Station.objects.order_by("name_zh"))
    for rows in (rows_from_geojson(stations_to_geojson(stations)),
                 rows_from_csv(stations_to_csv(stations))):
        assert len(rows) == len(stations) == 39  # Nanyuan's 30 and its neighbours' 9
        result = stations_import(rows=rows)
        assert (result.created, result.updated) == (0, 39)
        assert _snapshot() == before


def test_closed_on_holidays_travels_in_every_file_format(reference_data):
    Station.objects.filter(name_zh="槐房万达广场党群服务站").update(closed_on_holidays=True)
    before = _snapshot()
    stations = list(Station.objects.order_by("name_zh"))
    collection = stations_feature_collection(stations)
    features = [type("Feature", (), {"properties": feature["properties"],
                                     "geometry": Point(*feature["geometry"]["coordinates"])})
                for feature in collection["features"]]
    for rows in (rows_from_geojson(stations_to_geojson(stations)),
                 rows_from_csv(stations_to_csv(stations)), rows_from_geofile(features=features)[0]):
        Station.objects.update(closed_on_holidays=False)
        stations_import(rows=rows)
        assert _snapshot() == before


def test_export_and_reimport_through_the_api(clients):
    for fmt in ("csv", "geojson"):
        response = clients["union_staff"].get(EXPORT_URL, {"file_type": fmt})
        assert response.status_code == 200
        name = f"stations.{fmt}"
        assert name in response["Content-Disposition"]
        answer = clients["union_staff"].post(IMPORT_URL, {"file": _upload(name, response.content
                                                                          .decode("utf-8"))})
        assert answer.status_code == 200, answer.json()
        exported = rows_from_upload(name=name, content=response.content)
        assert answer.json() == {"created": 0, "updated": len(exported)}
    assert clients["office_staff"].get(EXPORT_URL).status_code == 403
    assert clients["rider"].post(IMPORT_URL, {}).status_code == 403


def _csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def test_a_bad_row_refuses_the_whole_file(clients):
    good = {"name_zh": "导入驿站甲", "name_en": "Import A", "venue_type": "bank",
            "address_zh": "", "lon": "116.393", "lat": "39.798", "coverage_radius_m": "",
            "services": "charging;water", "opening_hours": json.dumps(HOURS), "is_active": ""}
    bad = {**good, "name_zh": "导入驿站乙", "coverage_radius_m": "0", "services": "charging;sauna"}
    before = Station.objects.count()
    response = clients["union_staff"].post(
        IMPORT_URL, {"file": _upload("new.csv", _csv([good, bad]))}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    errors = {(e["field"], e["code"]) for e in response.json()["errors"]}
    assert errors == {("rows.2.coverage_radius_m", "out_of_range"), ("rows.2.services", "invalid")}
    assert Station.objects.count() == before  # not even the good row
    response = clients["union_staff"].post(IMPORT_URL, {"file": _upload("new.csv", _csv([good]))})
    assert response.json() == {"created": 1, "updated": 0}
    station = Station.objects.get(name_zh="导入驿站甲")
    assert station.coverage_radius_m is None and station.services == ["charging", "water"]


def test_a_geojson_station_outside_the_subdistrict_is_refused(clients):
    collection = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [116.3975, 39.9087]},
        "properties": {**{k: v for k, v in GOOD.items() if k not in ("lon", "lat")}},
    }]}
    response = clients["union_staff"].post(
        IMPORT_URL, {"file": _upload("far.geojson", json.dumps(collection))})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "rows.1.location"
    assert response.json()["errors"][0]["code"] == "outside_area"
    assert not Station.objects.filter(name_zh=GOOD["name_zh"]).exists()


@pytest.mark.parametrize(
    ("name", "text", "field"),
    [
        ("x.txt", "hello", "file"),
        ("x.geojson", "{not json", "file"),
        ("x.geojson", '{"type": "FeatureCollection", "features": [{"geometry": null}]}',
         "rows.1.location"),
        ("x.csv", "name_zh,lon\n站,1\n", "file"),
        ("x.csv", "name_zh,name_en,venue_type,lon,lat,opening_hours\n站,S,bank,116.39,39.8,[{\n",
         "rows.1.opening_hours"),
    ],
)
def test_unreadable_files_are_refused(clients, name, text, field):
    response = clients["union_staff"].post(IMPORT_URL, {"file": _upload(name, text)})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field


def test_union_staff_create_and_update_a_station_through_the_api(clients):
    response = clients["union_staff"].post(STATIONS_URL, GOOD, format="json")
    assert response.status_code == 201
    assert response.json()["coverage_radius_m"] == 400
    response = clients["union_staff"].post(STATIONS_URL, {**GOOD, "coverage_radius_m": None},
                                           format="json")
    assert response.status_code == 200 and response.json()["coverage_radius_m"] is None
    assert clients["office_staff"].post(STATIONS_URL, GOOD, format="json").status_code == 403
    assert clients["anonymous"].post(STATIONS_URL, GOOD, format="json").status_code in (401, 403)


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"lon": 116.3975, "lat": 39.9087}, "location", "outside_area"),
        ({"coverage_radius_m": 0}, "coverage_radius_m", "out_of_range"),
        ({"coverage_radius_m": -5}, "coverage_radius_m", "out_of_range"),
        ({"coverage_radius_m": 5001}, "coverage_radius_m", "out_of_range"),
        ({"coverage_radius_m": "far"}, "coverage_radius_m", "invalid"),
        ({"opening_hours": [{"day": 1, "open": "25:00", "close": "26:00"}]},
         "opening_hours", "invalid"),
        ({"opening_hours": "Mon-Fri 9-5"}, "opening_hours", "invalid"),
        ({"services": ["charging", "sauna"]}, "services", "invalid"),
        ({"services": "charging"}, "services", "invalid"),
        ({"lon": "116.39E"}, "location", "invalid"),
        ({"lat": None}, "location", "invalid"),
        ({"lon": True}, "location", "invalid"),
        ({"name_zh": ""}, "name_zh", "required"),
        ({"coord_system": "mars"}, "coord_system", "invalid"),
    ],
)
def test_bad_station_input_is_refused_with_a_clear_message(clients, change, field, code):
    before = _snapshot()
    response = clients["union_staff"].post(STATIONS_URL, {**GOOD, **change}, format="json",
                                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert (errors[0]["field"], errors[0]["code"]) == (field, code)
    assert errors[0]["message"] and "Traceback" not in errors[0]["message"]
    assert _snapshot() == before


def test_outside_message_in_chinese_by_default(clients):
    response = clients["union_staff"].post(
        STATIONS_URL, {**GOOD, "lon": 116.3975, "lat": 39.9087}, format="json")
    assert response.json()["errors"][0]["message"] == "该驿站不在南苑街道辖区内。"


def test_a_gcj02_station_position_is_stored_as_wgs84(clients):
    gcj = coords.wgs84_to_gcj02(GOOD["lon"], GOOD["lat"])
    response = clients["union_staff"].post(
        STATIONS_URL, {**GOOD, "lon": gcj[0], "lat": gcj[1], "coord_system": "gcj02"},
        format="json")
    assert response.status_code == 201
    assert response.json()["lon"] == pytest.approx(GOOD["lon"], abs=1e-6)


def _admin_client() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username="admin"))
    return client


def test_admin_imports_a_csv_file_and_shows_refusals(reference_data):
    client = _admin_client()
    url = "/admin/stations/station/import/"
    assert client.get(url).status_code == 200
    good = {"name_zh": "后台导入驿站", "name_en": "Admin import", "venue_type": "bank",
            "lon": "116.393", "lat": "39.798", "services": "water", "opening_hours": "[]"}
    response = client.post(url, {"file": _upload("a.csv", _csv([{**good, "lon": "x"}]))})
    assert response.status_code == 200
    assert "rows.1.location" in response.content.decode()
    assert not Station.objects.filter(name_zh="后台导入驿站").exists()
    response = client.post(url, {"file": _upload("a.csv", _csv([good]))})
    assert response.status_code == 302
    assert Station.objects.filter(name_zh="后台导入驿站").exists()


def test_admin_exports_the_selected_stations(reference_data):
    client = _admin_client()
    ids = list(Station.objects.order_by("name_zh").values_list("pk", flat=True)[:3])
    for action, marker in (("export_geojson", b"FeatureCollection"), ("export_csv", b"name_zh")):
        response = client.post("/admin/stations/station/", {
            "action": action, "_selected_action": ids})
        assert response.status_code == 200
        assert marker in response.content
    rows = rows_from_csv(client.post("/admin/stations/station/", {
        "action": "export_csv", "_selected_action": ids}).content.decode("utf-8"))
    assert len(rows) == 3


def test_admin_form_refuses_what_the_api_refuses(reference_data):
    client = _admin_client()
    station = Station.objects.get(name_zh="槐房万达广场党群服务站")
    response = client.get(f"/admin/stations/station/{station.pk}/change/")
    assert response.status_code == 200
    form = response.context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data.update({"coverage_radius_m": "6000", "location": "SRID=4326;POINT (116.392 39.797)",
                 "opening_hours": json.dumps(station.opening_hours),
                 "services": ",".join(station.services), "is_active": "on",
                 "tokens-TOTAL_FORMS": "0", "tokens-INITIAL_FORMS": "0"})
    response = client.post(f"/admin/stations/station/{station.pk}/change/", data)
    assert response.status_code == 200  # the form again, with the service's message
    with translation.override("zh-hans"):
        assert str(MSG_BAD_RADIUS) in response.content.decode()
    station.refresh_from_db()
    assert station.coverage_radius_m == 300
