"""苑苑暖心卡 check-in: a signed station code (QR) or its short code, the rider within 150 m,
once per rider, station and hour; rotation by union staff; visit statistics."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

from civicmap import coords
from stations.models import CheckIn, Station, StationToken
from stations.services import checkin_create, hour_bucket, station_token_ensure
from stations.tokens import CHECKIN_QR_PREFIX
from tests.stations.helpers import (
    CHECKINS_URL,
    STATIONS_URL,
    VISITS_URL,
    client_for,
    offset_point,
    vincenty_m,
)

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
WANDA = "槐房万达广场党群服务站"  # at 116.392000 E, 39.797000 N
WANDA_POINT = (116.392, 39.797)


@pytest.fixture
def wanda(reference_data) -> Station:
    return Station.objects.get(name_zh=WANDA)


@pytest.fixture
def code(clients, wanda) -> dict:
    """The current check-in code of 万达, as union staff fetch it for printing."""
    response = clients["union_staff"].get(f"{STATIONS_URL}{wanda.pk}/token/")
    assert response.status_code == 200
    return response.json()


def _check_in(client, text: str, point=WANDA_POINT, language: str | None = None, **extra):
    headers = {"HTTP_ACCEPT_LANGUAGE": language} if language else {}
    return client.post(CHECKINS_URL, {"code": text, "lon": point[0], "lat": point[1], **extra},
                       format="json", **headers)


def test_a_rider_checks_in_by_scanning_the_qr_code(clients, code, wanda):
    assert code["qr_payload"].startswith(CHECKIN_QR_PREFIX)
    near = offset_point(*WANDA_POINT, north_m=60)
    response = _check_in(clients["rider"], code["qr_payload"], near)
    assert response.status_code == 201
    body = response.json()
    assert body["counted"] is True
    assert body["checkin"]["station"] == wanda.pk and body["checkin"]["method"] == "qr"
    assert body["checkin"]["distance_m"] == pytest.approx(vincenty_m(*near, *WANDA_POINT), abs=0.1)
    assert CheckIn.objects.filter(station=wanda).count() == 1


def test_typing_the_short_code_works_too(clients, code):
    typed = code["short_code"].lower()
    typed = f"{typed[:4]} {typed[4:]}"  # as printed, in two groups, typed in lower case
    response = _check_in(clients["rider"], typed)
    assert response.status_code == 201
    assert response.json()["checkin"]["method"] == "code"


def test_counted_once_per_rider_station_and_hour(clients, code, wanda):
    assert _check_in(clients["rider"], code["qr_payload"]).status_code == 201
    again = _check_in(clients["rider"], code["short_code"])
    assert again.status_code == 200 and again.json()["counted"] is False
    assert CheckIn.objects.count() == 1
    # Another rider, the same hour: counted.
    other = _check_in(client_for("rider2"), code["qr_payload"])
    assert other.status_code == 201
    # The same rider in the next clock hour: counted again.
    rider = get_user_model().objects.get(username="rider1")
    later = checkin_create(rider=rider, code=code["short_code"], lon=WANDA_POINT[0],
                           lat=WANDA_POINT[1], now=timezone.now() + timedelta(hours=1))
    assert later.counted is True
    assert CheckIn.objects.filter(rider=rider, station=wanda).count() == 2


def test_the_database_refuses_a_second_count_in_the_hour(code, wanda):
    rider = get_user_model().objects.get(username="rider1")
    moment = datetime(2026, 12, 1, 10, 5, tzinfo=SHANGHAI)
    fields = {"rider": rider, "station": wanda, "method": "qr", "position": wanda.location,
              "distance_m": 0.0, "hour_bucket": hour_bucket(moment)}
    CheckIn.objects.create(at=moment, **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        CheckIn.objects.create(at=moment + timedelta(minutes=50), **fields)
    # 10:05 and 10:55 share Beijing's clock hour 10; 11:00 starts the next one.
    assert hour_bucket(moment + timedelta(minutes=55)) == hour_bucket(moment) + 1


def test_a_forged_code_is_refused(clients, code, wanda):
    forged = [
        code["qr_payload"][:-2] + ("AA" if not code["qr_payload"].endswith("AA") else "BB"),
        CHECKIN_QR_PREFIX + signing.Signer(salt="another.salt").sign(
            f"{wanda.pk}.{code['short_code']}"),
        CHECKIN_QR_PREFIX + signing.Signer(key="not-our-secret", salt="stations.checkin").sign(
            f"{wanda.pk}.{code['short_code']}"),
        "23456789",  # a well-formed short code nobody was given
        "hello",
    ]
    for text in forged:
        response = _check_in(clients["rider"], text)
        assert response.status_code == 400, text
        assert response.json()["errors"][0] == {
            "field": "code", "code": "invalid", "message": response.json()["errors"][0]["message"],
        }
    assert CheckIn.objects.count() == 0


def test_a_code_signed_for_another_station_is_refused(clients, code, wanda):
    other = Station.objects.exclude(pk=wanda.pk).first()
    # A valid signature, but the short code belongs to 万达, not to ``other``.
    text = CHECKIN_QR_PREFIX + signing.Signer(salt="stations.checkin").sign(
        f"{other.pk}.{code['short_code']}")
    assert _check_in(clients["rider"], text).json()["errors"][0]["code"] == "invalid"


def test_a_rotated_out_code_is_refused_and_the_new_one_works(clients, code, wanda):
    response = clients["union_staff"].post(f"{STATIONS_URL}{wanda.pk}/token/rotate/")
    assert response.status_code == 201
    fresh = response.json()
    assert fresh["short_code"] != code["short_code"]
    for old in (code["qr_payload"], code["short_code"]):
        refused = _check_in(clients["rider"], old)
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["code"] == "revoked"
    assert _check_in(clients["rider"], fresh["qr_payload"]).status_code == 201
    assert StationToken.objects.filter(station=wanda, revoked_at__isnull=True).count() == 1


def test_only_one_active_code_per_station_in_the_database(wanda):
    station_token_ensure(station=wanda)
    with pytest.raises(IntegrityError), transaction.atomic():
        StationToken.objects.create(station=wanda, short_code="ABCDEFGH",
                                    created_at=datetime(2026, 12, 1, tzinfo=SHANGHAI))


def test_a_position_too_far_is_refused(clients, code):
    # About 140 m and 160 m north (Vincenty says how far exactly): the limit is 150 m.
    inside = offset_point(*WANDA_POINT, north_m=140)
    outside = offset_point(*WANDA_POINT, north_m=160)
    assert vincenty_m(*inside, *WANDA_POINT) < 150 < vincenty_m(*outside, *WANDA_POINT)
    response = _check_in(clients["rider"], code["qr_payload"], outside, language="en")
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["field"], error["code"]) == ("location", "too_far")
    assert error["message"].endswith("check in within 150 m of it.")
    assert CheckIn.objects.count() == 0
    assert _check_in(clients["rider"], code["qr_payload"], inside).status_code == 201


def test_a_gcj02_position_is_converted_before_the_distance_check(clients, code):
    gcj = coords.wgs84_to_gcj02(*WANDA_POINT)  # ~550 m from the station if taken as WGS 84
    assert _check_in(clients["rider"], code["qr_payload"], gcj).status_code == 400
    response = _check_in(clients["rider"], code["qr_payload"], gcj, coord_system="gcj02")
    assert response.status_code == 201
    assert response.json()["checkin"]["distance_m"] < 0.1


def test_only_riders_check_in(clients, code):
    for role in ("anonymous", "office_staff", "union_staff", "volunteer"):
        assert _check_in(clients[role], code["qr_payload"]).status_code in (401, 403)


def test_bad_check_in_input_is_refused_in_the_error_shape(clients, code):
    response = clients["rider"].post(CHECKINS_URL, {"code": code["qr_payload"], "lon": "east",
                                                    "lat": 39.797}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "lon"


def test_codes_and_rotation_are_union_staff_only(clients, wanda):
    for role in ("anonymous", "rider", "office_staff"):
        assert clients[role].get(f"{STATIONS_URL}{wanda.pk}/token/").status_code in (401, 403)
        assert clients[role].post(
            f"{STATIONS_URL}{wanda.pk}/token/rotate/").status_code in (401, 403)
    svg = clients["union_staff"].get(f"{STATIONS_URL}{wanda.pk}/token/qr.svg")
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    assert svg.content.startswith(b"<svg")


def test_visits_are_counted_per_station_and_per_rider(clients, code, wanda):
    _check_in(clients["rider"], code["qr_payload"])
    _check_in(clients["rider"], code["qr_payload"])  # same hour: not counted again
    _check_in(client_for("rider2"), code["short_code"])
    assert clients["office_staff"].get(VISITS_URL).status_code == 403
    body = clients["union_staff"].get(VISITS_URL).json()
    assert (body["visits"], body["riders"]) == (2, 2)
    top = body["per_station"][0]
    assert (top["name_zh"], top["visits"], top["riders"]) == (WANDA, 2, 2)
    assert len(body["per_station"]) == 30  # stations without visits are listed with 0
    assert {(r["username"], r["visits"], r["stations"]) for r in body["per_rider"]} == {
        ("rider1", 1, 1), ("rider2", 1, 1),
    }
    mine = clients["rider"].get(CHECKINS_URL).json()["checkins"]
    assert [c["station"] for c in mine] == [wanda.pk]
