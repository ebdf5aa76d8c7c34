"""Intake over real sockets: parallel retries, parallel reporters, photos made by a real worker."""

from __future__ import annotations

import io
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from PIL import Image
from rest_framework.authtoken.models import Token

from issues.models import Case, Report, ReportPhoto

pytestmark = pytest.mark.django_db(transaction=True)

POINT = {"lon": "116.3925", "lat": "39.7975"}  # in front of Huaifang Wanda Plaza


def _jpeg(seed: int = 0, size: tuple[int, int] = (1600, 1200), exif: Image.Exif | None = None
          ) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (seed % 255, 120, 40)).save(buffer, "JPEG", exif=exif or b"")
    return buffer.getvalue()


def _post(url: str, token: str, fields: dict, photo: bytes) -> requests.Response:
    return requests.post(
        f"{url}/api/v1/reports/", data=fields,
        files=[("photos", ("street.jpg", photo, "image/jpeg"))],
        headers={"Authorization": f"Token {token}"}, timeout=30,
    )


def test_parallel_retries_of_one_report_create_exactly_one(reference_data, live_server):
    token = Token.objects.get(user__username="rider1").key
    fields = {**POINT, "category": "E0101", "description": "路口垃圾堆",
              "client_uuid": str(uuid.uuid4())}
    photo = _jpeg()
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: _post(live_server.url, token, fields, photo),
                                range(6)))
    assert sorted(answer.status_code for answer in answers) == [200] * 5 + [201]
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert Report.objects.filter(client_uuid=fields["client_uuid"]).count() == 1
    assert ReportPhoto.objects.count() == 1


def test_two_riders_reporting_one_problem_at_once_share_one_case(reference_data, live_server):
    tokens = [Token.objects.get(user__username=name).key for name in ("rider1", "rider2")]

    def report(token: str) -> requests.Response:
        fields = {**POINT, "category": "E0101", "client_uuid": str(uuid.uuid4())}
        return _post(live_server.url, token, fields, _jpeg(seed=len(token)))

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(report, tokens))
    assert [answer.status_code for answer in answers] == [201, 201]
    assert len({answer.json()["properties"]["case"] for answer in answers}) == 1
    case = Case.objects.get()
    assert (case.report_count, case.reporter_count) == (2, 2)


def test_a_real_worker_makes_clean_renditions_after_the_report_is_accepted(
    reference_data, live_server, celery_worker
):
    token = Token.objects.get(user__username="rider1").key
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    exif[0x010F] = "RiderPhone"  # camera make: must not survive
    answer = _post(live_server.url, token,
                   {**POINT, "category": "E0101", "client_uuid": str(uuid.uuid4())},
                   _jpeg(size=(2000, 1000), exif=exif))
    assert answer.status_code == 201
    assert answer.json()["properties"]["photos"][0]["status"] == "pending"
    photo = ReportPhoto.objects.get()
    deadline = time.monotonic() + 30
    while photo.status != ReportPhoto.Status.READY and time.monotonic() < deadline:
        time.sleep(0.2)
        photo.refresh_from_db()
    assert photo.status == ReportPhoto.Status.READY
    display = Image.open(io.BytesIO(requests.get(
        f"{live_server.url}/api/v1/photos/{photo.pk}/display/", timeout=10).content))
    thumbnail = Image.open(io.BytesIO(requests.get(
        f"{live_server.url}/api/v1/photos/{photo.pk}/thumbnail/", timeout=10).content))
    assert display.size == (640, 1280)  # rotated upright, long side 1280
    assert max(thumbnail.size) == 320
    assert not display.getexif() and not thumbnail.getexif()
    mine = requests.get(f"{live_server.url}/api/v1/me/reports/",
                        headers={"Authorization": f"Token {token}"}, timeout=10).json()
    assert mine["features"][0]["properties"]["photos"][0]["thumbnail_url"].endswith(
        f"/photos/{photo.pk}/thumbnail/")
