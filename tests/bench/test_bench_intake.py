"""Benchmark 2's load client: the multipart body it sends by hand is a report as a phone sends
it (no load is run here)."""

from __future__ import annotations

import hashlib
import json
import sys
import uuid
from pathlib import Path

import pytest

from issues.models import Report
from tests.issues.helpers import HUAIFANG, NORMAL_CATEGORY, REPORTS_URL, client_for, jpeg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import bench_intake_http  # noqa: E402


@pytest.mark.django_db
def test_the_hand_encoded_body_is_stored_as_the_report_it_describes(reference_data, settings,
                                                                    tmp_path):
    settings.MEDIA_ROOT = tmp_path
    photo = jpeg(colour=(20, 120, 200))
    form = {"category": NORMAL_CATEGORY, "lon": f"{HUAIFANG[0]:.7f}", "lat": f"{HUAIFANG[1]:.7f}",
            "coord_system": "wgs84", "accuracy_m": "8", "client_uuid": str(uuid.uuid4()),
            "description": "路灯不亮 benchmark report 7"}

    response = client_for("rider1").generic(
        "POST", REPORTS_URL, bench_intake_http._multipart(form, photo),
        content_type=f"multipart/form-data; boundary={bench_intake_http.BOUNDARY}")

    assert response.status_code == 201, response.content
    report = Report.objects.get(pk=json.loads(response.content)["id"])
    assert (report.category.code, report.description, str(report.client_uuid),
            report.accuracy_m) == (NORMAL_CATEGORY, form["description"], form["client_uuid"], 8)
    assert (report.sent_lon, report.sent_lat) == pytest.approx(HUAIFANG)
    assert [stored.sha256 for stored in report.photos.all()] == [
        hashlib.sha256(photo).hexdigest()]
