"""Open311 shows the public request of a 311 client, never a rider's app description."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from issues.models import Report, Rider
from issues.services.intake import (
    OPEN311_CHANNEL,
    ChannelRules,
    ReportContact,
    ReportInput,
    report_create,
)

pytestmark = pytest.mark.django_db

APP_WITHOUT_PHOTOS = ChannelRules(Report.Channel.APP, requires_client_uuid=True,
                                  requires_photos=False, max_description=2000)


def _request(report_id: int) -> dict:
    answer = Client().get(f"/open311/v2/requests/{report_id}.json")
    assert answer.status_code == 200
    return answer.json()[0]


def test_a_rider_app_description_is_not_shown_through_open311(reference_data):
    rider = Rider.objects.order_by("user_id").first().user
    report = report_create(
        channel=APP_WITHOUT_PHOTOS, reporter=rider,
        data=ReportInput(category_code="E0101", lon=116.393, lat=39.799,
                         description="3号楼2单元王阿姨家门口", client_uuid=uuid.uuid4()),
    ).report
    shown = _request(report.pk)
    assert shown["description"] is None
    assert "王阿姨" not in str(shown)


def test_an_open311_description_is_shown_but_its_contact_is_not(reference_data):
    report = report_create(
        channel=OPEN311_CHANNEL,
        data=ReportInput(category_code="E0101", lon=116.394, lat=39.798,
                         description="Garbage by the bus stop",
                         contact=ReportContact(email="resident@example.org", phone="13900000000",
                                               first_name="Li")),
    ).report
    shown = _request(report.pk)
    assert shown["description"] == "Garbage by the bus stop"
    assert "resident@example.org" not in str(shown) and "13900000000" not in str(shown)
