"""Reads around intake: nearby open cases, confirming one, the rider's own reports, the public
GeoJSON listings and the category list."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from civicmap import coords
from fixtures.seed import fixture_load
from issues.models import Case, CaseConfirmation, CaseEvent, Category, ReportPhoto
from tests.issues.helpers import (
    CASES_URL,
    CATEGORIES_URL,
    CHENGYUAN,
    HUAIFANG,
    MY_REPORTS_URL,
    NEARBY_URL,
    REPORTS_URL,
    RIDER_DISPLAY_NAMES,
    XINGONG,
    assert_error_shape,
    body,
    client_for,
    confirm_form,
    confirm_url,
    covering_grids,
    error_fields,
    geodesic_m,
    jpeg,
    my_case_report_url,
    post_report_at,
    project,
    row_distance_m,
    stored_snapshot,
    upload,
)

pytestmark = pytest.mark.django_db

DISTANCE_TOLERANCE_M = 0.5  # metres: the API rounds distance_m to 0.1 m


def _case_at(client, point, category="C0103", **fields) -> int:
    response = post_report_at(client, point, category=category, **fields)
    assert response.status_code == 201, response.content
    return body(response)["properties"]["case"]


def _nearby(client, point, category="C0103", system="wgs84"):
    return client.get(NEARBY_URL, {"lon": repr(point[0]), "lat": repr(point[1]),
                                   "coord_system": system, "category": category})


# --- nearby -----------------------------------------------------------------------------------


@pytest.fixture
def street_lamp_cases(rider):
    """Nine open street-lamp (C0103) cases on an east-west line through HUAIFANG, at 30, 90,
    150, 210 and 300 m east and 60, 120, 180 and 240 m west: at least 60 m apart, so none
    merge (radius 50 m). Returns {signed metres east: case id}."""
    cases = {}
    for metres in (30, 90, 150, 210, 300):
        cases[metres] = _case_at(rider, project(HUAIFANG, metres=metres, azimuth_deg=90))
    for metres in (60, 120, 180, 240):
        cases[-metres] = _case_at(rider, project(HUAIFANG, metres=metres, azimuth_deg=270))
    assert len(set(cases.values())) == 9
    return cases


def test_nearby_lists_the_five_nearest_open_cases_nearest_first(rider2, street_lamp_cases):
    response = _nearby(rider2, HUAIFANG)

    assert response.status_code == 200
    listed = body(response)["cases"]
    expected = [street_lamp_cases[m] for m in (30, -60, 90, -120, 150)]
    assert [case["id"] for case in listed] == expected
    for case in listed:
        # SELECT ST_Distance(location, ST_SetSRID(ST_MakePoint(116.392, 39.797), 4326)::geography)
        #   FROM issues_case WHERE id = case.id
        reference = row_distance_m("issues_case", case["id"], HUAIFANG)
        assert case["distance_m"] == pytest.approx(reference, abs=DISTANCE_TOLERANCE_M)
    assert [case["distance_m"] for case in listed] == pytest.approx(
        [30, 60, 90, 120, 150], abs=DISTANCE_TOLERANCE_M)


def test_nearby_leaves_out_cases_beyond_250_m(rider2, street_lamp_cases):
    # From 150 m east: 300 m east is 150 m away, 240 m west is 390 m away, 120 m west 270 m.
    query = project(HUAIFANG, metres=150, azimuth_deg=90)

    listed = body(_nearby(rider2, query))["cases"]

    ids = [case["id"] for case in listed]
    assert street_lamp_cases[-120] not in ids
    assert street_lamp_cases[-240] not in ids
    assert street_lamp_cases[300] in ids
    assert all(case["distance_m"] <= 250 for case in listed)


def test_nearby_uses_the_category_radius_when_it_exceeds_250_m(rider, rider2):
    from issues.models import Category

    Category.objects.filter(code="C0103").update(merge_radius_m=400)
    far = _case_at(rider, project(HUAIFANG, metres=330, azimuth_deg=0))
    Category.objects.filter(code="C0103").update(merge_radius_m=50)
    beyond = _case_at(rider, project(HUAIFANG, metres=450, azimuth_deg=180))
    Category.objects.filter(code="C0103").update(merge_radius_m=400)

    ids = [case["id"] for case in body(_nearby(rider2, HUAIFANG))["cases"]]

    assert ids == [far]
    assert beyond not in ids


def test_nearby_honours_gcj02_for_the_query_point(rider2, street_lamp_cases):
    wgs = body(_nearby(rider2, HUAIFANG))["cases"]
    gcj_point = coords.from_wgs84(*HUAIFANG, "gcj02")

    gcj = body(_nearby(rider2, gcj_point, system="gcj02"))["cases"]

    assert [case["id"] for case in gcj] == [case["id"] for case in wgs]
    for a, b in zip(gcj, wgs, strict=True):
        assert a["distance_m"] == pytest.approx(b["distance_m"], abs=DISTANCE_TOLERANCE_M)


def test_nearby_excludes_other_categories_closed_cases_and_includes_equivalents(rider, rider2):
    lamp = _case_at(rider, project(HUAIFANG, metres=20, azimuth_deg=0))
    closed_lamp = _case_at(rider, project(HUAIFANG, metres=70, azimuth_deg=180))
    Case.objects.filter(pk=closed_lamp).update(stage="closed", closed_at=timezone.now())
    cancelled_lamp = _case_at(rider, project(HUAIFANG, metres=130, azimuth_deg=180))
    Case.objects.filter(pk=cancelled_lamp).update(stage="cancelled")
    manhole = _case_at(rider, project(HUAIFANG, metres=10, azimuth_deg=90), category="C0101")
    garbage = _case_at(rider, project(HUAIFANG, metres=40, azimuth_deg=270), category="E0101")

    lamps = [case["id"] for case in body(_nearby(rider2, HUAIFANG, "C0103"))["cases"]]
    bins = [case["id"] for case in body(_nearby(rider2, HUAIFANG, "E0102"))["cases"]]

    assert lamps == [lamp]
    assert manhole not in lamps and garbage not in lamps
    assert bins == [garbage]  # E0101 is declared equivalent to E0102


def test_nearby_never_lists_private_categories(rider, rider2):
    _case_at(rider, HUAIFANG, category="L0201", photos=[])
    _case_at(rider, CHENGYUAN, category="L0101", photos=[])

    assert body(_nearby(rider2, HUAIFANG, "L0201"))["cases"] == []
    assert body(_nearby(rider2, CHENGYUAN, "L0101"))["cases"] == []
    assert body(_nearby(rider, HUAIFANG, "L0201"))["cases"] == []  # not even to the reporter


def test_nearby_shows_a_thumbnail_of_a_processed_photo(rider, rider2):
    with_photo = _case_at(rider, HUAIFANG)
    without = _case_at(rider, project(HUAIFANG, metres=80, azimuth_deg=0))
    photo = ReportPhoto.objects.get(report__case_id=with_photo)
    ReportPhoto.objects.filter(pk=photo.pk).update(status=ReportPhoto.Status.READY)

    listed = {case["id"]: case for case in body(_nearby(rider2, HUAIFANG))["cases"]}

    assert listed[with_photo]["thumbnail_url"] == f"/api/v1/photos/{photo.pk}/thumbnail/"
    assert listed[without]["thumbnail_url"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"lat": "39.797", "category": "C0103"}, "lon"),
        ({"lon": "116.392", "lat": "NaN", "category": "C0103"}, "lat"),
        ({"lon": "116.392", "lat": "39.797", "category": "C0103", "coord_system": "mars"},
         "coord_system"),
        ({"lon": "116.392", "lat": "39.797", "category": "X9999"}, "category"),
        ({"lon": "116.392", "lat": "39.797"}, "category"),
    ],
)
def test_nearby_refuses_a_bad_query_naming_the_field(rider, query, field):
    response = rider.get(NEARBY_URL, query)

    assert response.status_code == 400
    assert_error_shape(response)
    assert field in error_fields(response)


# --- confirm ----------------------------------------------------------------------------------


def test_confirm_adds_the_rider_once(rider, rider2, rider3):
    case_id = _case_at(rider, HUAIFANG)

    first = rider2.post(confirm_url(case_id),
                        confirm_form(client_uuid="1b4e28ba-2fa1-11d2-883f-0016d3cca427"))
    repeat = rider2.post(confirm_url(case_id), confirm_form())
    other = rider3.post(confirm_url(case_id), confirm_form())

    assert first.status_code == 201
    assert body(first)["confirmations"] == 1
    assert repeat.status_code == 200
    assert body(repeat)["confirmations"] == 1
    assert other.status_code == 201
    assert body(other)["confirmations"] == 2
    assert CaseConfirmation.objects.filter(case_id=case_id).count() == 2
    assert CaseConfirmation.objects.filter(case_id=case_id, rider__username="rider2").count() == 1
    assert CaseEvent.objects.filter(case_id=case_id, action="confirmed").count() == 2


def test_confirm_with_a_photo_stores_it(rider, rider2, media_root):
    case_id = _case_at(rider, HUAIFANG)
    files_before = stored_snapshot().files

    response = rider2.post(confirm_url(case_id),
                           confirm_form(photo=upload(jpeg(colour=(9, 99, 199)))),
                           format="multipart")

    assert response.status_code == 201
    confirmation = CaseConfirmation.objects.get(case_id=case_id)
    assert confirmation.photo is not None
    assert confirmation.photo.image_format == "JPEG"
    assert len(stored_snapshot().files - files_before) == 1


def test_confirm_with_a_bad_photo_is_400_and_stores_nothing(rider, rider2):
    case_id = _case_at(rider, HUAIFANG)
    before = stored_snapshot()

    response = rider2.post(confirm_url(case_id), confirm_form(photo=upload(b"not a photo")),
                           format="multipart")

    assert response.status_code == 400
    assert "photo" in error_fields(response)
    assert stored_snapshot() == before


def test_confirm_with_a_malformed_client_uuid_is_400_and_stores_nothing(rider, rider2):
    case_id = _case_at(rider, HUAIFANG)
    before = stored_snapshot()

    response = rider2.post(confirm_url(case_id), confirm_form(client_uuid="not-a-uuid"))

    assert response.status_code == 400
    assert "client_uuid" in error_fields(response)
    assert stored_snapshot() == before


def test_confirm_of_a_private_case_is_404(rider, rider2):
    case_id = _case_at(rider, HUAIFANG, category="L0201", photos=[])
    before = stored_snapshot()

    response = rider2.post(confirm_url(case_id), confirm_form())

    assert response.status_code == 404
    assert_error_shape(response)
    assert stored_snapshot() == before


def test_confirm_of_a_closed_case_is_409(rider, rider2):
    case_id = _case_at(rider, HUAIFANG)
    Case.objects.filter(pk=case_id).update(stage="closed", closed_at=timezone.now())
    before = stored_snapshot()

    response = rider2.post(confirm_url(case_id), confirm_form())

    assert response.status_code == 409
    assert_error_shape(response)
    assert stored_snapshot() == before


def test_confirm_by_a_non_rider_is_403(rider):
    case_id = _case_at(rider, HUAIFANG)
    before = stored_snapshot()

    response = client_for("office1").post(confirm_url(case_id), confirm_form())

    assert response.status_code == 403
    assert stored_snapshot() == before


def test_confirm_of_an_unknown_case_is_404(rider):
    rider.raise_request_exception = False  # an unhandled error must show as the 500 it is

    response = rider.post(confirm_url(987654321), confirm_form())

    assert response.status_code == 404
    assert_error_shape(response)


def test_confirm_stores_where_the_rider_was_and_how_far_from_the_case(rider, rider2):
    case_id = _case_at(rider, HUAIFANG)
    here = project(HUAIFANG, metres=290, azimuth_deg=45)

    response = rider2.post(confirm_url(case_id), confirm_form(here))

    assert response.status_code == 201
    confirmation = CaseConfirmation.objects.get(case_id=case_id)
    assert (confirmation.position.x, confirmation.position.y) == pytest.approx(here, abs=1e-9)
    # SELECT ST_Distance(case.location, here::geography): the case is at its one report.
    assert confirmation.distance_m == pytest.approx(geodesic_m(HUAIFANG, here), abs=0.01)


@pytest.mark.parametrize("metres", [310, 5000])
def test_confirm_from_further_than_the_limit_is_400_and_stores_nothing(rider, rider2, metres):
    case_id = _case_at(rider, HUAIFANG)
    before = stored_snapshot()

    response = rider2.post(confirm_url(case_id),
                           confirm_form(project(HUAIFANG, metres=metres, azimuth_deg=200)),
                           HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    errors = assert_error_shape(response)
    assert [(error["field"], error["code"]) for error in errors] == [("lon", "too_far")]
    assert f"{metres} m" in errors[0]["message"] and "300 m" in errors[0]["message"]
    assert stored_snapshot() == before


def test_confirm_distance_limit_is_a_setting(rider, rider2, settings):
    settings.CONFIRM_MAX_DISTANCE_M = 100
    case_id = _case_at(rider, HUAIFANG)

    far = rider2.post(confirm_url(case_id), confirm_form(project(HUAIFANG, metres=150,
                                                                 azimuth_deg=0)))
    near = rider2.post(confirm_url(case_id), confirm_form(project(HUAIFANG, metres=90,
                                                                  azimuth_deg=0)))

    assert far.status_code == 400
    assert near.status_code == 201


def test_confirm_reaches_as_far_as_a_wider_duplicate_radius(rider, rider2):
    """A category whose reports merge within 600 m is "here" within 600 m: the nearby list
    shows its cases that far (max(250 m, radius)), so the rider can confirm them."""
    case_id = _case_at(rider, HUAIFANG)
    Category.objects.filter(code="C0103").update(merge_radius_m=600)

    within = rider2.post(confirm_url(case_id),
                         confirm_form(project(HUAIFANG, metres=550, azimuth_deg=90)))

    assert within.status_code == 201
    assert CaseConfirmation.objects.get(case_id=case_id).distance_m == pytest.approx(550, abs=1)


def test_confirm_without_a_position_is_400_naming_it(rider, rider2):
    case_id = _case_at(rider, HUAIFANG)
    before = stored_snapshot()

    response = rider2.post(confirm_url(case_id), {"client_uuid": str(uuid.uuid4())})

    assert response.status_code == 400
    assert {"lon", "lat"} <= error_fields(response)
    assert stored_snapshot() == before


def test_confirm_position_in_gcj02_is_converted_before_measuring(rider, rider2):
    case_id = _case_at(rider, HUAIFANG)
    gcj = coords.from_wgs84(*HUAIFANG, "gcj02")  # about 550 m from HUAIFANG as WGS 84 numbers

    taken_raw = rider2.post(confirm_url(case_id), confirm_form(tuple(gcj)))
    converted = rider2.post(confirm_url(case_id),
                            confirm_form(tuple(gcj), coord_system="gcj02"))

    assert taken_raw.status_code == 400
    assert converted.status_code == 201
    stored = CaseConfirmation.objects.get(case_id=case_id)
    assert stored.distance_m < 1


# --- the rider's own reports ------------------------------------------------------------------


def test_my_reports_lists_only_the_callers_reports_with_stage_and_history(rider, rider2):
    mine_first = body(post_report_at(rider, HUAIFANG))
    theirs = body(post_report_at(rider2, CHENGYUAN))
    # rider2 joins rider1's case: rider1 still sees only their own report.
    joined = body(post_report_at(rider2, project(HUAIFANG, metres=10, azimuth_deg=0)))
    assert joined["properties"]["case"] == mine_first["properties"]["case"]
    mine_second = body(post_report_at(rider, XINGONG))
    case_id = mine_first["properties"]["case"]
    Case.objects.filter(pk=case_id).update(stage="filed")
    CaseEvent.objects.create(case_id=case_id, action="file", from_stage="new", to_stage="filed",
                             at=timezone.now())

    response = rider.get(MY_REPORTS_URL)

    assert response.status_code == 200
    features = {feature["id"]: feature for feature in body(response)["features"]}
    assert set(features) == {mine_first["id"], mine_second["id"]}
    assert theirs["id"] not in features and joined["id"] not in features
    first = features[mine_first["id"]]["properties"]
    assert first["status"] == "filed"
    assert [event["action"] for event in first["history"]] == ["created", "report_merged",
                                                               "file"]
    assert features[mine_second["id"]]["properties"]["status"] == "new"
    assert [e["action"] for e in features[mine_second["id"]]["properties"]["history"]] == [
        "created"]


def test_my_reports_include_private_ones_of_the_rider(rider):
    private = body(post_report_at(rider, HUAIFANG, category="L0201", photos=[]))

    features = body(rider.get(MY_REPORTS_URL))["features"]

    assert [feature["id"] for feature in features] == [private["id"]]


def test_my_reports_come_a_page_at_a_time_open_or_closed(rider):
    posted = [body(post_report_at(rider, point)) for point in (HUAIFANG, CHENGYUAN, XINGONG)]
    Case.objects.filter(pk=posted[0]["properties"]["case"]).update(stage="closed")
    newest_first = [report["id"] for report in reversed(posted)]

    first = body(rider.get(MY_REPORTS_URL, {"limit": 2}))
    second = body(rider.get(MY_REPORTS_URL, {"limit": 2, "offset": 2}))

    assert (first["count"], second["count"]) == (3, 3)
    assert [f["id"] for f in first["features"] + second["features"]] == newest_first
    opened = body(rider.get(MY_REPORTS_URL, {"state": "open"}))
    assert (opened["count"], [f["id"] for f in opened["features"]]) == (2, newest_first[:2])
    closed = body(rider.get(MY_REPORTS_URL, {"state": "closed"}))
    assert [f["id"] for f in closed["features"]] == [posted[0]["id"]]
    refused = rider.get(MY_REPORTS_URL, {"state": "done", "limit": 0})
    assert refused.status_code == 400
    assert error_fields(refused) == {"state", "limit"}


def test_my_report_of_a_case_is_its_row_of_my_reports_and_nobody_elses(rider, rider2):
    """The inbox opens a case's report beyond the pages loaded with it; a case the rider did
    not report is a 404, as one that does not exist (it tells nothing of others' cases)."""
    mine = body(post_report_at(rider, HUAIFANG))
    body(post_report_at(rider, XINGONG))  # newer: "my reports" lists it first
    joined = body(post_report_at(rider2, project(HUAIFANG, metres=10, azimuth_deg=0)))
    theirs = body(post_report_at(rider2, CHENGYUAN))
    case_id = mine["properties"]["case"]
    assert joined["properties"]["case"] == case_id

    answer = rider.get(my_case_report_url(case_id))

    assert answer.status_code == 200
    rows = {row["id"]: row for row in body(rider.get(MY_REPORTS_URL))["features"]}
    assert body(answer) == rows[mine["id"]]
    # rider2 reported in the same case: their own report, never rider1's.
    assert body(rider2.get(my_case_report_url(case_id)))["id"] == joined["id"]
    unknown = max(case_id, theirs["properties"]["case"]) + 1000
    for client, case in ((rider, theirs["properties"]["case"]), (rider, unknown)):
        refused = client.get(my_case_report_url(case))
        assert refused.status_code == 404
        assert_error_shape(refused)
    assert client_for("office1").get(my_case_report_url(case_id)).status_code == 403
    assert client_for(None).get(my_case_report_url(case_id)).status_code == 401


# --- public listings --------------------------------------------------------------------------

DESCRIPTION_MARKER = "ZZ-rider-private-words-42"
RESTRICTED_KEYS = {"reporter", "reporter_id", "client_uuid", "description", "contact_email",
                   "contact_phone", "contact_first_name", "contact_last_name", "device_id",
                   "account_id", "rider", "username", "display_name"}


@pytest.fixture
def mixed_reports(rider, rider2):
    """Public and private reports by two riders, each description carrying a marker."""
    made = {}
    for name, client, point, category in [
        ("lamp", rider, HUAIFANG, "C0103"),
        ("garbage", rider2, CHENGYUAN, "E0101"),
        ("manhole", rider, XINGONG, "C0101"),
        ("rider_parking", rider, project(HUAIFANG, metres=5, azimuth_deg=0), "L0201"),
        ("elderly", rider2, CHENGYUAN, "L0101"),
    ]:
        photos = [] if category.startswith("L") else [jpeg()]
        response = post_report_at(client, point, category=category, photos=photos,
                                  description=f"{DESCRIPTION_MARKER} {name}")
        assert response.status_code == 201
        made[name] = body(response)
    return made


def _secrets(made: dict) -> list[str]:
    return [DESCRIPTION_MARKER, "rider1", "rider2", *RIDER_DISPLAY_NAMES.values(),
            *(feature["properties"]["client_uuid"] for feature in made.values())]


@pytest.mark.parametrize("url", [REPORTS_URL, CASES_URL])
def test_public_listings_never_show_private_categories_or_the_reporter(reference_data,
                                                                       mixed_reports, url):
    response = client_for(None).get(url)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/geo+json")
    collection = body(response)
    assert collection["type"] == "FeatureCollection"
    categories = {feature["properties"]["category"] for feature in collection["features"]}
    assert categories == {"C0103", "E0101", "C0101"}
    assert collection["count"] == 3
    text = response.content.decode()
    for secret in _secrets(mixed_reports):
        assert secret not in text
    for feature in collection["features"]:
        assert not RESTRICTED_KEYS & set(feature["properties"])


@pytest.mark.parametrize("url", [REPORTS_URL, CASES_URL])
def test_public_listings_filtered_to_a_private_category_are_empty(reference_data, mixed_reports,
                                                                  url):
    response = client_for(None).get(url, {"category": "L0201,L0101"})

    assert response.status_code == 200
    assert body(response)["features"] == []
    assert body(response)["count"] == 0


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {feature["id"] for feature in body(response)["features"]}


def test_public_reports_filters_narrow_by_bbox_community_unit_grid_and_category(
    reference_data, mixed_reports
):
    client = client_for(None)
    lamp, garbage, manhole = (mixed_reports[n]["id"] for n in ("lamp", "garbage", "manhole"))
    grid_id, community = covering_grids(HUAIFANG)
    # A 0.002-degree box (about 170 x 220 m) around HUAIFANG only.
    bbox = ",".join(map(str, (HUAIFANG[0] - 0.001, HUAIFANG[1] - 0.001,
                              HUAIFANG[0] + 0.001, HUAIFANG[1] + 0.001)))

    assert _ids(client.get(REPORTS_URL)) == {lamp, garbage, manhole}
    assert _ids(client.get(REPORTS_URL, {"bbox": bbox})) == {lamp}
    assert _ids(client.get(REPORTS_URL, {"community": community})) == {lamp}
    assert _ids(client.get(REPORTS_URL, {"community": covering_grids(CHENGYUAN)[1]})) == {garbage}
    assert _ids(client.get(REPORTS_URL, {"unit_grid": grid_id})) == {lamp}
    assert _ids(client.get(REPORTS_URL, {"category": "C0101"})) == {manhole}
    assert _ids(client.get(REPORTS_URL, {"category": "C0101,E0101"})) == {manhole, garbage}


def test_public_cases_filters_narrow_by_bbox_community_unit_grid_category_and_stage(
    reference_data, mixed_reports
):
    client = client_for(None)
    lamp, garbage, manhole = (mixed_reports[n]["properties"]["case"]
                              for n in ("lamp", "garbage", "manhole"))
    Case.objects.filter(pk=garbage).update(stage="filed")
    grid_id, community = covering_grids(XINGONG)
    bbox = ",".join(map(str, (XINGONG[0] - 0.001, XINGONG[1] - 0.001,
                              XINGONG[0] + 0.001, XINGONG[1] + 0.001)))

    assert _ids(client.get(CASES_URL)) == {lamp, garbage, manhole}
    assert _ids(client.get(CASES_URL, {"bbox": bbox})) == {manhole}
    assert _ids(client.get(CASES_URL, {"community": community})) == {manhole}
    assert _ids(client.get(CASES_URL, {"unit_grid": grid_id})) == {manhole}
    assert _ids(client.get(CASES_URL, {"category": "C0103"})) == {lamp}
    assert _ids(client.get(CASES_URL, {"stage": "filed"})) == {garbage}
    assert _ids(client.get(CASES_URL, {"stage": "new"})) == {lamp, manhole}
    assert _ids(client.get(CASES_URL, {"stage": "new,filed"})) == {lamp, garbage, manhole}
    assert _ids(client.get(REPORTS_URL, {"stage": "filed"})) == {mixed_reports["garbage"]["id"]}


def test_public_listings_filter_by_since_and_until(reference_data, mixed_reports):
    client = client_for(None)
    old_report = mixed_reports["manhole"]["id"]
    old_case = mixed_reports["manhole"]["properties"]["case"]
    # Three days ago, for the report and for its single-report case.
    # UPDATE issues_report SET received_at = now() - interval '3 days' WHERE id = ...
    with connection.cursor() as cursor:
        cursor.execute("UPDATE issues_report SET received_at = now() - interval '3 days' "
                       "WHERE id = %s", [old_report])
        cursor.execute("UPDATE issues_case SET created_at = now() - interval '3 days', "
                       "last_report_at = now() - interval '3 days' WHERE id = %s", [old_case])
    cutoff = (timezone.now() - timedelta(days=1)).isoformat()
    recent_reports = {mixed_reports[n]["id"] for n in ("lamp", "garbage")}
    recent_cases = {mixed_reports[n]["properties"]["case"] for n in ("lamp", "garbage")}

    assert _ids(client.get(REPORTS_URL, {"since": cutoff})) == recent_reports
    assert _ids(client.get(REPORTS_URL, {"until": cutoff})) == {old_report}
    assert _ids(client.get(CASES_URL, {"since": cutoff})) == recent_cases
    assert _ids(client.get(CASES_URL, {"until": cutoff})) == {old_case}
    week_ago = (timezone.now() - timedelta(days=7)).isoformat()
    assert _ids(client.get(REPORTS_URL, {"since": week_ago, "until": cutoff})) == {old_report}


@pytest.mark.parametrize("url", [REPORTS_URL, CASES_URL])
def test_public_listing_pages_are_consistent_with_the_count(rider, url):
    for index in range(5):
        assert post_report_at(rider, project(XINGONG, metres=70 * index,
                                             azimuth_deg=180)).status_code == 201
    client = client_for(None)

    pages = [body(client.get(url, {"page_size": 2, "page": page})) for page in (1, 2, 3)]

    assert [len(page["features"]) for page in pages] == [2, 2, 1]
    assert all(page["count"] == 5 for page in pages)
    assert [page["page"] for page in pages] == [1, 2, 3]
    assert all(page["page_size"] == 2 for page in pages)
    ids = [feature["id"] for page in pages for feature in page["features"]]
    assert len(set(ids)) == 5
    assert set(ids) == _ids(client.get(url))


@pytest.mark.parametrize("url", [REPORTS_URL, CASES_URL])
def test_public_listing_query_count_does_not_grow_with_features(rider, url,
                                                                django_assert_max_num_queries):
    for index in range(6):
        post_report_at(rider, project(XINGONG, metres=70 * index, azimuth_deg=180))
    client = client_for(None)

    with django_assert_max_num_queries(4):
        response = client.get(url)

    assert len(body(response)["features"]) == 6


@pytest.mark.parametrize("url", [REPORTS_URL, CASES_URL])
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"bbox": "116.40,39.79,116.39,39.80"}, "bbox"),  # min lon above max lon
        ({"bbox": "116.39,39.80,116.40,39.79"}, "bbox"),  # min lat above max lat
        ({"bbox": "116.39,39.79,116.40"}, "bbox"),
        ({"stage": "bogus"}, "stage"),
        ({"page_size": "5000"}, "page_size"),
        ({"page": "0"}, "page"),
        ({"since": "last tuesday"}, "since"),
    ],
)
def test_public_listing_refuses_bad_filters_in_the_error_shape(reference_data, url, query,
                                                               field):
    response = client_for(None).get(url, query)

    assert response.status_code == 400
    assert_error_shape(response)
    assert field in error_fields(response)


def test_public_listing_filter_error_is_english_with_accept_language_en(reference_data):
    response = client_for(None).get(CASES_URL, {"stage": "bogus"}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    (error,) = body(response)["errors"]
    assert error["field"] == "stage"
    assert error["message"] == "Unknown stage: bogus."


# --- categories -------------------------------------------------------------------------------


def test_categories_endpoint_lists_all_47_with_their_fields(reference_data):
    response = client_for(None).get(CATEGORIES_URL)

    assert response.status_code == 200
    listed = {category["code"]: category for category in body(response)}
    reference = {item["code"]: item for item in fixture_load("categories.json")["categories"]}
    assert len(listed) == 47
    assert set(listed) == set(reference)
    for code, category in listed.items():
        assert {"code", "name", "name_zh", "name_en", "icon", "urgency", "private",
                "photo_optional", "group"} <= set(category)
        item = reference[code]
        assert category["name_zh"] == item["name_zh"]
        assert category["icon"] == item["icon"]
        assert category["urgency"] == item["urgency"]
        assert category["private"] is item["private"]
        assert category["photo_optional"] is item["photo_optional"]
        assert category["group"] == code[:3]
    assert listed["L0201"]["private"] is True and listed["L0201"]["photo_optional"] is True
    assert listed["C0101"]["private"] is False and listed["C0101"]["urgency"] == "urgent"


def test_category_names_follow_the_request_language(reference_data):
    english = body(client_for(None).get(CATEGORIES_URL, HTTP_ACCEPT_LANGUAGE="en"))
    chinese = body(client_for(None).get(CATEGORIES_URL))

    lamp_en = next(c for c in english if c["code"] == "C0103")
    lamp_zh = next(c for c in chinese if c["code"] == "C0103")
    assert lamp_en["name"] == lamp_en["name_en"]
    assert lamp_zh["name"] == "路灯不亮或损坏"
