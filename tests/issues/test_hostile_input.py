"""Input that used to answer 500 or store what no listing can read: out-of-range capture times,
NUL characters, page numbers past bigint, absurd months, bodies past Django's limits.

Each refusal is a 400 in the API's error shape (or Open311's) naming the field, and nothing is
stored. Every listing that shows a report reads rows at the edges of the allowed range.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from issues.models import Report
from tests.issues.helpers import (
    API,
    CASES_URL,
    MY_REPORTS_URL,
    REPORTS_URL,
    assert_error_shape,
    body,
    client_for,
    error_fields,
    post_report,
    stored_snapshot,
)
from tests.issues.test_open311_support import GARBAGE, ROOT, demo_api_key, request_form

pytestmark = pytest.mark.django_db

OPEN311_REQUESTS = f"{ROOT}/requests.json"
HUGE = "99999999999999999999"  # past bigint (9223372036854775807)


def _open311_errors(response) -> set[str]:
    return {item["description"].split(":")[0] for item in json.loads(response.content)}


def _open311_post(**fields):
    fields.setdefault("service_code", GARBAGE)
    form = request_form(api_key=demo_api_key(), **fields)
    return Client().post(OPEN311_REQUESTS, form)


# --- capture time -------------------------------------------------------------------------------


@pytest.mark.parametrize("captured_at", [
    "0001-01-01T00:00:00+14:00",  # year 1 BC once in UTC
    "9999-12-31T23:59:59-14:00",  # year 10000 once in UTC
    "1999-12-31T09:59:59+00:00",  # a second before 2000-01-01 anywhere on Earth
])
def test_capture_time_out_of_range_is_refused_naming_captured_at(rider, captured_at):
    before = stored_snapshot()

    response = post_report(rider, captured_at=captured_at)

    assert response.status_code == 400
    assert_error_shape(response)
    assert "captured_at" in error_fields(response)
    assert stored_snapshot() == before


def test_capture_time_more_than_a_day_ahead_is_refused(rider):
    ahead = (timezone.now() + timedelta(days=1, minutes=5)).isoformat()

    response = post_report(rider, captured_at=ahead)

    assert response.status_code == 400
    assert "captured_at" in error_fields(response)


def test_capture_time_refusal_is_named_with_every_other_bad_field(rider):
    response = post_report(rider, captured_at="0001-01-01T00:00:00+14:00", category="X9999",
                           lon="north")

    assert response.status_code == 400
    assert {"captured_at", "category", "lon"} <= error_fields(response)


def test_capture_time_refusal_speaks_english_on_request(rider):
    response = post_report(rider, captured_at="0001-01-01T00:00:00+14:00",
                           headers={"HTTP_ACCEPT_LANGUAGE": "en"})

    message = next(e["message"] for e in body(response)["errors"] if e["field"] == "captured_at")
    assert "2000" in message and "capture time" in message
    default = post_report(rider, captured_at="0001-01-01T00:00:00+14:00")
    chinese = next(e["message"] for e in body(default)["errors"] if e["field"] == "captured_at")
    assert chinese != message and "2000" in chinese


def test_capture_times_at_both_edges_are_accepted(rider):
    earliest = post_report(rider, captured_at="2000-01-01T00:00:00+14:00")
    latest = post_report(rider, captured_at=(timezone.now() + timedelta(hours=23)).isoformat())

    assert earliest.status_code == 201, earliest.content
    assert latest.status_code == 201, latest.content


# --- NUL characters -----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["description", "category", "coord_system", "lon",
                                   "client_uuid", "captured_at"])
def test_nul_in_an_app_text_field_is_400_naming_it(rider, field):
    before = stored_snapshot()
    value = {"description": "路灯\x00不亮", "category": "C01\x0003", "coord_system": "wgs\x0084",
             "lon": "116.392\x00", "client_uuid": f"{uuid.uuid4()}\x00",
             "captured_at": "2026-01-01T00:00:00\x00+08:00"}[field]

    response = post_report(rider, **{field: value})

    assert response.status_code == 400, response.content
    assert_error_shape(response)
    assert field in error_fields(response)
    assert stored_snapshot() == before


@pytest.mark.parametrize("field", ["description", "first_name", "last_name", "phone", "email",
                                   "device_id", "account_id", "service_code", "lat",
                                   "media_url", "address_string"])
def test_nul_in_an_open311_field_is_400_naming_it(reference_data, field):
    before = Report.objects.count()

    response = _open311_post(**{field: "a\x00b"})

    assert response.status_code == 400, response.content
    assert field in _open311_errors(response)
    assert Report.objects.count() == before


def test_nul_in_an_open311_attribute_is_400_naming_it(reference_data):
    response = Client().post(OPEN311_REQUESTS, request_form(
        api_key=demo_api_key(), service_code="E0202", **{"attribute[signboard_text]": "x\x00"}))

    assert response.status_code == 400
    assert "attribute[signboard_text]" in _open311_errors(response)


def test_nul_in_an_open311_query_is_400(reference_data):
    response = Client().get(OPEN311_REQUESTS, {"service_code": "E01\x0001"})

    assert response.status_code == 400
    assert "service_code" in _open311_errors(response)


# --- pages past bigint --------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "name"), [
    (REPORTS_URL, "page"), (CASES_URL, "page"), (f"{API}/office/queue/", "offset"),
    (f"{API}/tasks/", "offset"), (f"{API}/me/reports/", "offset"),
    (f"{API}/me/points/", "offset"),
])
def test_page_or_offset_past_bigint_is_400_naming_it(reference_data, url, name):
    client = client_for("office1" if "office" in url
                        else "rider1" if "/me/" in url else "cw_lead")

    response = client.get(url, {name: HUGE})

    assert response.status_code == 400, response.content
    assert_error_shape(response)
    assert name in error_fields(response)


def test_open311_page_past_bigint_is_400_naming_it(reference_data):
    response = Client().get(OPEN311_REQUESTS, {"page": HUGE})

    assert response.status_code == 400
    assert "page" in _open311_errors(response)


def test_last_allowed_page_answers_an_empty_page(reference_data):
    response = client_for(None).get(REPORTS_URL, {"page": "100000"})

    assert response.status_code == 200
    assert json.loads(response.content)["features"] == []


# --- months -------------------------------------------------------------------------------------


@pytest.mark.parametrize("month", ["9999-12", "0000-01", "1999-12", "2101-01"])
def test_leaderboard_month_out_of_range_is_400_naming_month(rider, month):
    response = rider.get(f"{API}/leaderboard/", {"month": month})

    assert response.status_code == 400, response.content
    assert_error_shape(response)
    assert error_fields(response) == {"month"}


# --- bodies past Django's limits ----------------------------------------------------------------


def test_three_megabyte_description_is_413_in_the_error_shape(rider, settings):
    response = rider.post(REPORTS_URL, {"description": "x" * 3_000_000, "category": "C0103"})

    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/json")
    assert_error_shape(response)


def test_a_json_body_past_the_limit_is_413_in_the_error_shape(rider):
    payload = json.dumps({"note": "x" * 3_000_000})

    response = rider.post(f"{API}/notifications/read/", payload, content_type="application/json")

    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/json")
    assert_error_shape(response)


def test_two_thousand_form_fields_answer_400_in_the_error_shape(rider):
    response = rider.post(REPORTS_URL, {f"f{i}": "1" for i in range(2000)})

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert body(response)["errors"][0]["code"] == "too_many_fields"


def test_open311_body_past_the_limit_answers_in_open311_errors(reference_data):
    response = _open311_post(description="x" * 3_000_000)

    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/json")
    assert json.loads(response.content)[0]["code"] == 413


# --- a listing never fails because of one row ---------------------------------------------------


def _admin_client() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username="admin"))
    return client


def test_rows_at_the_edges_of_every_constraint_are_listed_everywhere(rider):
    """Rows written straight to the table at the extremes the database allows."""
    made = [body(post_report(rider, description=f"edge {n}")) for n in range(2)]
    received = timezone.now()
    earliest = timezone.datetime.fromisoformat("2000-01-01T00:00:00+14:00")
    Report.objects.filter(pk=made[0]["id"]).update(captured_at=earliest, received_at=received)
    Report.objects.filter(pk=made[1]["id"]).update(
        captured_at=received + timedelta(days=1), received_at=received)
    admin = _admin_client()

    for report in made:
        case_id = Report.objects.get(pk=report["id"]).case_id
        for url in (f"{API}/cases/{case_id}/", f"{API}/cases/{case_id}/events/"):
            assert rider.get(url).status_code == 200, url
        assert admin.get(f"/admin/issues/report/{report['id']}/change/").status_code == 200
    assert rider.get(MY_REPORTS_URL).status_code == 200
    assert Client().get(OPEN311_REQUESTS, {"extensions": "true"}).status_code == 200
    assert Client().get(f"{ROOT}/requests/{made[0]['id']}.xml").status_code == 200
    assert admin.get("/admin/issues/report/").status_code == 200
    assert admin.get("/admin/issues/report/", {"o": "-8"}).status_code == 200
    assert client_for(None).get(REPORTS_URL).status_code == 200


@pytest.mark.parametrize(("params", "name"), [
    ({"end_date": "0001-01-01"}, "end_date"),
    ({"start_date": "9999-12-31T23:59:59-14:00"}, "start_date"),
    ({"start_date": "0001-01-01T00:00:00+14:00"}, "start_date"),
])
def test_open311_dates_past_python_are_400_naming_them(reference_data, params, name):
    response = Client().get(OPEN311_REQUESTS, params)

    assert response.status_code == 400, response.content
    assert name in _open311_errors(response)


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_open311_datetime_attribute_out_of_range_is_400_naming_it(reference_data, moment):
    response = _open311_post(service_code="E0301", **{"attribute[noticed_at]": moment})

    assert response.status_code == 400, response.content
    assert "attribute[noticed_at]" in _open311_errors(response)


@pytest.mark.parametrize("url", [REPORTS_URL, CASES_URL])
@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                    "0001-01-01T00:00:00Z"])
def test_public_list_times_past_python_are_not_a_server_error(reference_data, url, moment):
    response = client_for(None).get(url, {"since": moment, "until": moment})

    assert response.status_code in (200, 400), response.content


@pytest.mark.parametrize(("language", "message"), [("zh-hans", "无法读取该请求。"),
                                                   ("en", "The request could not be read.")])
def test_a_malformed_multipart_report_is_400_in_the_error_shape_and_language(rider, language,
                                                                             message):
    cut_short = b'--b\r\nContent-Disposition: form-data; name="category"\r\n\r\nC0103'

    response = rider.generic("POST", REPORTS_URL, cut_short,
                             content_type="multipart/form-data; boundary=b",
                             HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 400
    assert body(response)["errors"] == [
        {"field": None, "code": "parse_error", "message": message}]
    assert not Report.objects.exists()
