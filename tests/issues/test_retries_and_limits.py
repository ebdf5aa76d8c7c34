"""Replays by client_uuid, and the per-rider hourly limit on new reports."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from issues.models import Report
from tests.issues.helpers import (
    CHENGYUAN,
    HUAIFANG,
    XINGONG,
    assert_error_shape,
    body,
    jpeg,
    post_report,
    project,
    stored_snapshot,
)

pytestmark = pytest.mark.django_db

PHOTO = jpeg(colour=(10, 200, 30))


def _first_post(client, **fields):
    client_uuid = str(uuid.uuid4())
    response = post_report(client, client_uuid=client_uuid, photos=[PHOTO], **fields)
    assert response.status_code == 201, response.content
    return client_uuid, body(response)


def test_replay_with_the_same_content_answers_200_with_the_same_ids_and_stores_nothing(rider):
    client_uuid, first = _first_post(rider, description="井盖旁路灯不亮")
    before = stored_snapshot()

    replay = post_report(rider, client_uuid=client_uuid, photos=[PHOTO],
                         description="井盖旁路灯不亮")

    assert replay.status_code == 200
    assert body(replay)["id"] == first["id"]
    assert body(replay)["properties"]["case"] == first["properties"]["case"]
    assert stored_snapshot() == before


def test_replay_of_a_gcj02_report_is_recognised_as_the_same(rider):
    from civicmap import coords

    sent = coords.from_wgs84(*CHENGYUAN, "gcj02")
    client_uuid, first = _first_post(rider, lon=sent[0], lat=sent[1], coord_system="gcj02")
    before = stored_snapshot()

    replay = post_report(rider, client_uuid=client_uuid, photos=[PHOTO], lon=sent[0],
                         lat=sent[1], coord_system="gcj02")

    assert replay.status_code == 200
    assert body(replay)["id"] == first["id"]
    assert stored_snapshot() == before


def test_same_uuid_with_another_description_is_409_and_changes_nothing(rider):
    client_uuid, first = _first_post(rider, description="路灯不亮")
    before = stored_snapshot()

    response = post_report(rider, client_uuid=client_uuid, photos=[PHOTO],
                           description="路灯一直闪")

    assert response.status_code == 409
    errors = assert_error_shape(response)
    assert "client_uuid" in {error["field"] for error in errors}
    assert stored_snapshot() == before
    assert Report.objects.get(pk=first["id"]).description == "路灯不亮"


def test_same_uuid_with_other_photo_bytes_is_409_and_changes_nothing(rider):
    client_uuid, _first = _first_post(rider)
    before = stored_snapshot()

    other_photo = jpeg(colour=(200, 10, 30))
    assert other_photo != PHOTO

    response = post_report(rider, client_uuid=client_uuid, photos=[other_photo])

    assert response.status_code == 409
    assert_error_shape(response)
    assert stored_snapshot() == before


def test_same_uuid_at_another_place_is_409(rider):
    client_uuid, _first = _first_post(rider)
    before = stored_snapshot()

    moved = project(HUAIFANG, metres=100, azimuth_deg=0)
    response = post_report(rider, client_uuid=client_uuid, photos=[PHOTO], lon=moved[0],
                           lat=moved[1])

    assert response.status_code == 409
    assert stored_snapshot() == before


def test_another_rider_may_use_the_same_uuid(rider, rider2):
    client_uuid, first = _first_post(rider)

    response = post_report(rider2, client_uuid=client_uuid, photos=[PHOTO])

    assert response.status_code == 201
    assert body(response)["id"] != first["id"]
    assert Report.objects.get(pk=body(response)["id"]).reporter.username == "rider2"


# --- the hourly limit -------------------------------------------------------------------------


def _new_report(client, index: int):
    """A new report at a distinct place (60 m apart: separate cases, irrelevant to the limit)."""
    point = project(XINGONG, metres=60 * index, azimuth_deg=90)
    return post_report(client, lon=point[0], lat=point[1], photos=[PHOTO])


def test_fourth_new_report_in_an_hour_is_429_with_retry_after(rider, settings):
    settings.REPORTS_PER_HOUR_PER_RIDER = 3
    for index in range(3):
        assert _new_report(rider, index).status_code == 201
    before = stored_snapshot()

    response = _new_report(rider, 3)

    assert response.status_code == 429
    assert_error_shape(response)
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit()
    # The oldest of the three was accepted moments ago: it leaves the window in about an hour.
    assert 3500 <= int(retry_after) <= 3600
    assert stored_snapshot() == before


def test_retry_after_counts_from_the_oldest_report_in_the_hour(rider, settings):
    settings.REPORTS_PER_HOUR_PER_RIDER = 3
    ids = [body(_new_report(rider, index))["id"] for index in range(3)]
    # The first was received 50 minutes ago, so the rider may report again in 10 minutes.
    # UPDATE issues_report SET received_at = now() - interval '50 minutes' WHERE id = first
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE issues_report SET received_at = now() - interval '50 minutes' WHERE id = %s",
            [ids[0]],
        )

    response = _new_report(rider, 3)

    assert response.status_code == 429
    assert 540 <= int(response.headers["Retry-After"]) <= 600


def test_reports_older_than_an_hour_do_not_count(rider, settings):
    settings.REPORTS_PER_HOUR_PER_RIDER = 3
    ids = [body(_new_report(rider, index))["id"] for index in range(3)]
    with connection.cursor() as cursor:
        # UPDATE issues_report SET received_at = now() - interval '61 minutes' WHERE id = first
        cursor.execute(
            "UPDATE issues_report SET received_at = now() - interval '61 minutes' WHERE id = %s",
            [ids[0]],
        )

    assert _new_report(rider, 3).status_code == 201


def test_replay_at_the_limit_still_answers_200(rider, settings):
    settings.REPORTS_PER_HOUR_PER_RIDER = 3
    client_uuid, first = _first_post(rider)
    for index in (1, 2):
        assert _new_report(rider, index).status_code == 201
    assert _new_report(rider, 3).status_code == 429
    before = stored_snapshot()

    replay = post_report(rider, client_uuid=client_uuid, photos=[PHOTO])

    assert replay.status_code == 200
    assert body(replay)["id"] == first["id"]
    assert stored_snapshot() == before


def test_refusals_and_replays_do_not_count_toward_the_limit(rider, settings):
    settings.REPORTS_PER_HOUR_PER_RIDER = 3
    for _ in range(3):  # refused: no category
        assert post_report(rider, category="").status_code == 400
    client_uuid, _first = _first_post(rider)
    for _ in range(3):  # replays of the first
        assert post_report(rider, client_uuid=client_uuid, photos=[PHOTO]).status_code == 200

    assert _new_report(rider, 1).status_code == 201
    assert _new_report(rider, 2).status_code == 201
    assert _new_report(rider, 3).status_code == 429


def test_the_limit_is_per_rider(rider, rider2, settings):
    settings.REPORTS_PER_HOUR_PER_RIDER = 3
    for index in range(3):
        assert _new_report(rider, index).status_code == 201
    assert _new_report(rider, 3).status_code == 429

    assert _new_report(rider2, 4).status_code == 201


def test_default_limit_is_30_an_hour(rider):
    from django.conf import settings as django_settings

    assert django_settings.REPORTS_PER_HOUR_PER_RIDER == 30
