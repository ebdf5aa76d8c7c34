"""Fixtures of the fuzzing and permission-matrix tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections

from tests.module_rows import module_rows_committed


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
    of ``private_case``; ``private_photo`` rider1's photo of a private report (an elderly
    resident in difficulty, Chengyuan) that only its reporter and staff may see. ``report`` and
    ``private_report`` are the reports of ``case`` and ``private_case`` (Open311's ids).

    In 和义 (Heyi), beside Nanyuan, rider2 reported from the app: ``heyi_case`` (public, new),
    ``heyi_private_case`` (private, new), ``heyi_need_case`` (a rider's own need, with the
    union at intake) and ``heyi_task_case`` (public, dispatched by office_heyi1 to a team of
    Heyi's made here, ``heyi_matrix``): the cross-subdistrict rows of the matrix.
    """

    case: int
    private_case: int
    new_case: int
    photo: int
    proof_photo: int
    station: int
    private_photo: int
    notification: int
    notification_owner: str
    api_key: str
    station_code: str
    station_point: tuple[float, float]
    case_point: tuple[float, float]
    report: int
    private_report: int
    rider_token: str
    heyi_case: int
    heyi_private_case: int
    heyi_need_case: int
    heyi_task_case: int
    rider_description: str = "垃圾暴露 门牌 12 号"
    heyi_description: str = "和义 垃圾 门牌 21 号"
    worker_note: str = "已清理 联系 13800009999 门牌 9 号"


@pytest.fixture
def demo(reference_data, settings, tmp_path) -> Demo:
    settings.MEDIA_ROOT = tmp_path / "media"
    return _demo_make()


@pytest.fixture(scope="module")
def demo_committed(django_db_setup, django_db_blocker, tmp_path_factory
                   ) -> Iterator[tuple[Demo, Path]]:
    """``demo``'s objects and their MEDIA_ROOT, committed once for a module of transactional
    tests that only read them (and sign in): each of its tests is put back to this state, the
    session's when the module is done (tests/reference_state.py)."""
    media = tmp_path_factory.mktemp("demo-media")
    with module_rows_committed(django_db_blocker, _demo_make, media=media) as made:
        yield made, media


def _demo_make() -> Demo:
    from rest_framework.authtoken.models import Token

    from issues.models import ApiClient, Case, ReportPhoto
    from issues.tasks import photo_renditions_make_task
    from patrol.models import Notification
    from stations.models import Station
    from stations.services import station_token_ensure
    from stations.tokens import token_qr_payload
    from tests.issues.helpers import client_for as issues_client
    from tests.issues.helpers import post_report
    from tests.patrol.helpers import (
        CHENGYUAN,
        HEYI_XILI_1,
        HUAIFANG,
        act,
        case_in_stage,
        community_points,
        proof_photo,
    )

    lon, lat = community_points(HUAIFANG)[1]
    posted = post_report(issues_client("rider1"), category="E0101", lon=lon, lat=lat,
                         description=Demo.rider_description)
    assert posted.status_code == 201, posted.content
    new = Case.objects.get(pk=posted.json()["properties"]["case"])
    public = case_in_stage("in_progress", category="E0101", point=3)
    act(public, "handin", "hk_vol1", note=Demo.worker_note, photo=proof_photo())
    private = case_in_stage("handed_in", category="L0101", worker="ss_vol1", point=5)
    lon, lat = community_points(CHENGYUAN)[2]
    posted = post_report(issues_client("rider1"), category="L0101", lon=lon, lat=lat,
                         description="独居老人 门牌 7 号")
    assert posted.status_code == 201, posted.content
    photo = ReportPhoto.objects.filter(report__case=new).first()
    private_photo = ReportPhoto.objects.get(report__pk=posted.json()["id"])
    proof = private.tasks.exclude(proof_photo=None).first().proof_photo
    for pending in (photo, private_photo, proof):
        photo_renditions_make_task(pending.pk)
    heyi = _heyi_cases(post_report, issues_client, community_points(HEYI_XILI_1), act)
    notification = Notification.objects.order_by("pk").first()
    station = Station.objects.order_by("pk").first()
    token = station_token_ensure(station=station)
    return Demo(
        case=public.pk, private_case=private.pk, new_case=new.pk, photo=photo.pk,
        proof_photo=proof.pk, private_photo=private_photo.pk, station=station.pk,
        notification=notification.pk, notification_owner=notification.recipient.username,
        api_key=ApiClient.objects.filter(is_active=True).first().api_key,
        station_code=token_qr_payload(station_id=station.pk, short_code=token.short_code),
        station_point=(station.location.x, station.location.y),
        case_point=community_points(HUAIFANG)[3],
        report=public.reports.get().pk, private_report=private.reports.get().pk,
        rider_token=Token.objects.get(user__username="rider1").key, **heyi,
    )


def _heyi_cases(post_report, issues_client, points, act) -> dict[str, int]:
    """rider2's reports in Heyi (see ``Demo``), and the Heyi team that has one's task."""
    from django.contrib.auth import get_user_model

    from civicmap.models import Subdistrict
    from patrol.models import VolunteerTeam

    def reported(category: str, point: int) -> int:
        lon, lat = points[point]
        posted = post_report(issues_client("rider2"), category=category, lon=lon, lat=lat,
                             description=Demo.heyi_description)
        assert posted.status_code == 201, posted.content
        return posted.json()["properties"]["case"]

    leader = get_user_model().objects.create_user("heyi_matrix_lead")
    team = VolunteerTeam.objects.create(
        code="heyi_matrix", team_type="civility", name_zh="和义矩阵队", name_en="Heyi matrix",
        subdistrict=Subdistrict.objects.get(code="110106016"), leader=leader)
    task_case = reported("E0101", 3)
    act(task_case, "file", "office_heyi1")
    act(task_case, "dispatch", "office_heyi1", team=team.pk)
    return {"heyi_case": reported("E0101", 0), "heyi_private_case": reported("L0101", 1),
            "heyi_need_case": reported("L0201", 2), "heyi_task_case": task_case}
