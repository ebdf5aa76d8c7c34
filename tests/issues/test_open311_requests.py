"""POST and GET requests over real HTTP: the same intake as the native API, the list's filters,
paging and extensions, private fields, media fetched from allowed hosts only, and no CSRF.

Grids and distances are checked against PostGIS through tests/issues/helpers.py (its SQL is
beside each helper), never through the app's own code.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.db.models import Sum
from django.utils import timezone

from issues.models import Report, ReportCellHour, ReportPhoto, ReportUnitGridHour
from issues.tasks import open311_media_fetch_task, photo_renditions_make_task
from patrol.services.lifecycle import case_act
from tests.issues.helpers import covering_grids, project
from tests.issues.test_open311_support import (
    CHENGYUAN,
    FORMATS,
    GARBAGE,
    HUAIFANG_GATE,
    LAMP,
    ROAD_COLLAPSE,
    ROOT,
    MediaHost,
    created_id,
    demo_api_key,
    jpeg,
    one_request,
    parse,
    request_form,
    request_list,
    rider_token,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _post(base: str, fmt: str = "json", **fields) -> str:
    fields.setdefault("api_key", demo_api_key())
    answer = requests.post(f"{base}{ROOT}/requests.{fmt}", data=request_form(**fields),
                           timeout=30)
    return created_id(answer, fmt)


def _list(base: str, fmt: str = "json", **params) -> list[dict]:
    return request_list(requests.get(f"{base}{ROOT}/requests.{fmt}", params=params, timeout=30),
                        fmt)


def _ids(items: list[dict]) -> list[str]:
    return [item["service_request_id"] for item in items]


def _age(report_id: str, days: float) -> None:
    """Move a report ``days`` into the past (as an import of old reports would have it)."""
    Report.objects.filter(pk=int(report_id)).update(
        received_at=timezone.now() - timedelta(days=days))


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_post_is_a_new_request_and_repeats_share_one_case(reference_data, live_server,
                                                               fmt):
    base = live_server.url
    first = _post(base, fmt, service_code=GARBAGE, description="垃圾堆")
    # 20 m east of the first: the same problem for the duplicate rule (50 m for E0101).
    second = _post(base, fmt, service_code=GARBAGE, description="垃圾堆",
                   point=project(HUAIFANG_GATE, metres=20, azimuth_deg=90))
    assert first != second
    items = {item["service_request_id"]: item
             for item in _list(base, fmt, service_request_id=f"{first},{second}",
                               extensions="true")}
    extended = [items[first]["extended_attributes"], items[second]["extended_attributes"]]
    assert extended[0]["case_id"] == extended[1]["case_id"]
    unit_grid, community = covering_grids(HUAIFANG_GATE)
    assert (extended[0]["unit_grid"], extended[0]["community"]) == (unit_grid, community)
    assert extended[0]["stage"] == "new"
    reports = Report.objects.filter(pk__in=[int(first), int(second)])
    assert {report.channel for report in reports} == {"open311"}
    assert reports.get(pk=int(second)).joined_existing_case
    case = reports.first().case
    assert (case.report_count, case.reporter_count) == (2, 2)
    # The map aggregates count both, like any native report.
    assert ReportCellHour.objects.aggregate(n=Sum("count"))["n"] == 2
    assert ReportUnitGridHour.objects.aggregate(n=Sum("count"))["n"] == 2
    notes = items[second]["notes"]
    notes = notes if fmt == "json" else notes["note"]
    assert [note["type"] for note in notes] == ["opened", "activity"]  # created, joined


def test_a_riders_token_posts_as_the_rider_and_shows_no_one(reference_data, live_server):
    base = live_server.url
    request_id = _post(base, api_key=rider_token("rider1"), service_code=GARBAGE)
    report = Report.objects.get(pk=int(request_id))
    assert report.reporter.username == "rider1" and report.api_client is None
    assert report.channel == "open311" and report.client_uuid is None
    mine = requests.get(f"{base}/api/v1/me/reports/", timeout=30,
                        headers={"Authorization": f"Token {rider_token('rider1')}"}).json()
    assert [feature["id"] for feature in mine["features"]] == [report.pk]
    for fmt in FORMATS:
        text = requests.get(f"{base}{ROOT}/requests/{request_id}.{fmt}", timeout=30,
                            params={"extensions": "true"}).text
        assert "rider1" not in text and "骑手王小勇" not in text and "13800000001" not in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_contact_details_device_and_account_stay_private(reference_data, live_server, fmt):
    base = live_server.url
    secrets = {"email": "zhang.wei@example.org", "first_name": "伟", "last_name": "张",
               "phone": "13911112222", "device_id": "DEVICE-XYZ-77",
               "account_id": "ACCOUNT-5150"}
    request_id = _post(base, fmt, **secrets)
    answers = [
        requests.get(f"{base}{ROOT}/requests/{request_id}.{fmt}", params={"extensions": "true"},
                     timeout=30),
        requests.get(f"{base}{ROOT}/requests.{fmt}", params={"extensions": "true"}, timeout=30),
    ]
    for answer in answers:
        assert answer.status_code == 200
        for value in secrets.values():
            assert value not in answer.text
        for name in ("email", "first_name", "last_name", "phone", "device_id", "account_id",
                     "api_client", "reporter"):
            assert f'"{name}"' not in answer.text and f"<{name}>" not in answer.text
    stored = Report.objects.get(pk=int(request_id))
    assert stored.contact_email == secrets["email"] and stored.account_id == "ACCOUNT-5150"


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_list_filters_by_id_code_status_dates_and_place(reference_data, live_server, fmt):
    base = live_server.url
    garbage = _post(base, service_code=GARBAGE)
    lamp = _post(base, service_code=LAMP, point=CHENGYUAN)
    emergency = _post(base, service_code=ROAD_COLLAPSE, point=CHENGYUAN,
                      **{"attribute[hazard_level]": "medium"})
    old = _post(base, service_code=LAMP)
    _age(old, 30)
    ancient = _post(base, service_code=GARBAGE, point=CHENGYUAN)
    _age(ancient, 120)
    office = get_user_model().objects.get(username="office1")
    case_act(case_id=Report.objects.get(pk=int(lamp)).case_id, action="cancel", actor=office,
             reason="已修复")

    # Default: the last 90 days, newest first.
    assert _ids(_list(base, fmt)) == [emergency, lamp, garbage, old]
    assert _ids(_list(base, fmt, service_code=f"{LAMP},{ROAD_COLLAPSE}")) == [
        emergency, lamp, old]
    assert _ids(_list(base, fmt, status="closed")) == [lamp]
    assert _ids(_list(base, fmt, status="open")) == [emergency, garbage, old]
    assert _ids(_list(base, fmt, status="open,closed")) == [emergency, lamp, garbage, old]
    # Empty parameters are absent ones.
    assert _ids(_list(base, fmt, status="", service_code="", start_date="", end_date="",
                      page="", page_size="", extensions="", lat="", long="",
                      radius="")) == [emergency, lamp, garbage, old]
    # start_date alone: 90 days from it; end_date alone: the 90 days before it.
    now = timezone.now()
    assert _ids(_list(base, fmt, start_date=(now - timedelta(days=150)).isoformat())) == [
        ancient]
    assert _ids(_list(base, fmt, end_date=(now - timedelta(days=10)).isoformat())) == [old]
    assert _ids(_list(base, fmt, start_date=(now - timedelta(days=40)).date().isoformat(),
                      end_date=(now - timedelta(days=20)).date().isoformat())) == [old]
    # The ids override every other filter, the 90-day window included.
    assert _ids(_list(base, fmt, service_request_id=f"{ancient},{garbage},999999",
                      status="closed", service_code=LAMP)) == [garbage, ancient]
    # Within 300 m of 成原 (the lamp, the emergency and the ancient one are there).
    near = _ids(_list(base, fmt, lat=CHENGYUAN[1], long=CHENGYUAN[0], radius=300))
    assert near == [emergency, lamp]


@pytest.mark.parametrize("fmt", FORMATS)
def test_pages_of_page_size_and_at_most_1000(reference_data, live_server, fmt):
    base = live_server.url
    first = Report.objects.get(pk=int(_post(base)))
    # 1,004 more reports of the same case, one a minute back from now: copies of the first row.
    now = timezone.now()
    copies = []
    for minutes in range(1, 1005):
        copy = Report.objects.get(pk=first.pk)
        copy.pk, copy.received_at = None, now - timedelta(minutes=minutes)
        copies.append(copy)
    Report.objects.bulk_create(copies)
    newest = list(Report.objects.order_by("-received_at", "-id").values_list("pk", flat=True))
    everything = _list(base, fmt)
    assert len(everything) == 1000
    assert _ids(everything) == [str(pk) for pk in newest[:1000]]
    assert _ids(_list(base, fmt, page=2)) == [str(pk) for pk in newest[1000:]]
    assert _ids(_list(base, fmt, page=3, page_size=7)) == [str(pk) for pk in newest[14:21]]
    assert _list(base, fmt, page=500, page_size=7) == []


def test_media_from_an_allowed_host_becomes_the_public_display_copy(
    reference_data, live_server, media_host, media_root, settings, spare_broker
):
    settings.OPEN311_MEDIA_HOSTS = ["127.0.0.1"]
    port = media_host.server_address[1]
    MediaHost.routes = {"/pothole.jpg": (200, {"Content-Type": "image/jpeg"},
                                          jpeg((1600, 1200)))}
    media_url = f"http://127.0.0.1:{port}/pothole.jpg"
    request_id = _post(live_server.url, media_url=media_url)
    report = Report.objects.get(pk=int(request_id))
    assert report.media_url == media_url
    item = one_request(requests.get(f"{live_server.url}{ROOT}/requests/{request_id}.json",
                                    timeout=30), "json")
    assert item["media_url"] is None  # not fetched yet: never the client's own URL

    # The Celery job, run here in-process: fetch, then the usual renditions job.
    assert open311_media_fetch_task.apply(args=[report.pk]).get() == "fetched"
    assert open311_media_fetch_task.apply(args=[report.pk]).get() == "skipped"
    assert MediaHost.hits == ["/pothole.jpg"]
    report.refresh_from_db()
    assert (report.media_status, report.media_attempts) == (Report.MediaStatus.FETCHED, 1)
    photo = ReportPhoto.objects.get(report=report)
    assert photo_renditions_make_task.apply(args=[photo.pk]).get() == "ready"

    for fmt in FORMATS:
        item = one_request(requests.get(f"{live_server.url}{ROOT}/requests/{request_id}.{fmt}",
                                        timeout=30), fmt)
        assert item["media_url"] == f"{live_server.url}/api/v1/photos/{photo.pk}/display/"
    display = requests.get(item["media_url"], timeout=30)
    assert display.status_code == 200 and display.headers["Content-Type"] == "image/jpeg"
    assert display.content[:2] == b"\xff\xd8" and display.content != jpeg((1600, 1200))


def test_media_is_not_fetched_from_hosts_off_the_list_redirects_or_non_photos(
    reference_data, live_server, media_host, media_root, settings, spare_broker
):
    settings.OPEN311_MEDIA_HOSTS = ["127.0.0.1"]
    port = media_host.server_address[1]
    MediaHost.routes = {
        "/moved.jpg": (302, {"Location": "http://example.com/x.jpg"}, b""),
        "/page.jpg": (200, {"Content-Type": "image/jpeg"}, b"<html>not a photo</html>"),
    }
    outcomes = {}
    for name in ("moved.jpg", "page.jpg", "gone.jpg"):
        request_id = _post(live_server.url, media_url=f"http://127.0.0.1:{port}/{name}")
        outcomes[name] = open311_media_fetch_task.apply(args=[int(request_id)]).get()
    # A host that did not answer with the file is asked again later (the sweep); a non-photo
    # is refused for good.
    assert outcomes == {"moved.jpg": "pending", "page.jpg": "refused", "gone.jpg": "pending"}
    assert ReportPhoto.objects.count() == 0

    # A host taken off the list after the POST is never contacted.
    MediaHost.routes = {"/ok.jpg": (200, {}, jpeg())}
    request_id = _post(live_server.url, media_url=f"http://127.0.0.1:{port}/ok.jpg")
    hits = len(MediaHost.hits)
    settings.OPEN311_MEDIA_HOSTS = ["media.nanyuan.example"]
    assert open311_media_fetch_task.apply(args=[int(request_id)]).get() == "refused"
    assert len(MediaHost.hits) == hits and ReportPhoto.objects.count() == 0
    assert Report.objects.get(pk=int(request_id)).media_status == Report.MediaStatus.REFUSED


def test_csrf_does_not_block_a_post_even_with_a_browser_session(reference_data, live_server):
    """Open311 is key-authenticated: a client that also holds a session cookie (an app in a
    web view) and sends no CSRF token is not refused."""
    session = SessionStore()
    user = get_user_model().objects.get(username="office1")
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    for fmt in FORMATS:
        answer = requests.post(
            f"{live_server.url}{ROOT}/requests.{fmt}", data=request_form(api_key=demo_api_key()),
            cookies={"sessionid": session.session_key, "csrftoken": "x" * 32},
            headers={"Origin": "https://elsewhere.example", "Referer": "https://elsewhere.example/"},
            timeout=30,
        )
        created_id(answer, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_spec_roots_declaration_and_utf8(reference_data, live_server, fmt):
    base = f"{live_server.url}{ROOT}"
    request_id = _post(live_server.url, description="井盖 ✓")
    roots = {"discovery": "discovery", "services": "services",
             f"services/{GARBAGE}": "service_definition", "requests": "service_requests",
             f"requests/{request_id}": "service_requests"}
    for path, root in roots.items():
        answer = requests.get(f"{base}/{path}.{fmt}", timeout=30)
        assert answer.status_code == 200, (path, answer.text)
        data = parse(answer, fmt)
        if fmt == "xml":
            assert list(data) == [root]
        elif root in ("discovery", "service_definition"):
            assert isinstance(data, dict)  # objects in the spec, not arrays
        else:
            assert isinstance(data, list)
    text = requests.get(f"{base}/requests/{request_id}.{fmt}", timeout=30).content
    assert "井盖 ✓".encode() in text  # raw UTF-8, no escapes
