"""Fixtures of the fuzzing and permission-matrix tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections


@pytest.fixture(scope="module")
def wsgi_app():
    """The project's WSGI app, as a server runs it, for schemathesis' in-process transport.

    Like Django's own test client, it keeps the database connection open across the request (a
    real server closes it at both ends), so requests run inside the test's transaction.
    """
    handler = get_wsgi_application()

    def app(environ, start_response):
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        try:
            response = handler(environ, start_response)
            try:
                return [b"".join(response)]
            finally:
                response.close()
        finally:
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)

    return app


@dataclass(frozen=True)
class Demo:
    """Objects the fuzzer and the permission matrix aim at, created in the test's transaction.

    ``case`` is a public case (exposed garbage at Huaifang) reported by rider1 and handed in by
    hk_vol1 of the housekeeper team (leader hk_lead); ``private_case`` a private one (an
    elderly resident in difficulty) handed in by ss_vol1 of the sunset team; ``new_case`` one
    rider1 has just reported from the app, with ``photo``. ``proof_photo`` is the hand-in photo
    of ``private_case``.
    """

    case: int
    private_case: int
    new_case: int
    photo: int
    proof_photo: int
    station: int
    notification: int
    notification_owner: str
    api_key: str


@pytest.fixture
def demo(reference_data, settings, tmp_path) -> Demo:
    from issues.models import ApiClient, Case, ReportPhoto
    from issues.tasks import photo_renditions_make_task
    from patrol.models import Notification
    from stations.models import Station
    from tests.issues.helpers import client_for as issues_client
    from tests.issues.helpers import post_report
    from tests.patrol.helpers import HUAIFANG, case_in_stage, community_points

    settings.MEDIA_ROOT = tmp_path / "media"
    lon, lat = community_points(HUAIFANG)[1]
    posted = post_report(issues_client("rider1"), category="E0101", lon=lon, lat=lat,
                         description="垃圾暴露 门牌 12 号")
    assert posted.status_code == 201, posted.content
    new = Case.objects.get(pk=posted.json()["properties"]["case"])
    public = case_in_stage("handed_in", category="E0101", point=3)
    private = case_in_stage("handed_in", category="L0101", worker="ss_vol1", point=5)
    photo = ReportPhoto.objects.filter(report__case=new).first()
    proof = private.tasks.exclude(proof_photo=None).first().proof_photo
    for pending in (photo, proof):
        photo_renditions_make_task(pending.pk)
    notification = Notification.objects.order_by("pk").first()
    return Demo(
        case=public.pk, private_case=private.pk, new_case=new.pk, photo=photo.pk,
        proof_photo=proof.pk, station=Station.objects.order_by("pk").first().pk,
        notification=notification.pk, notification_owner=notification.recipient.username,
        api_key=ApiClient.objects.filter(is_active=True).first().api_key,
    )
