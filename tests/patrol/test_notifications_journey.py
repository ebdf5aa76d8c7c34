"""Done when: over real HTTP, a verified case notifies its rider in the feed and through the
webhook (a real receiver checks the signature; a real Celery worker on Redis delivers), adds the
right points, and the month's leaderboard shows them.
"""

from __future__ import annotations

import csv
import io
import uuid

import pytest
import requests
from django.utils import timezone
from PIL import Image
from rest_framework.authtoken.models import Token

from patrol.models import WebhookDelivery
from tests.patrol.test_webhooks_receiver import (
    SECRET,
    celery_process,
    receiver_running,
    wait_until,
)

pytestmark = pytest.mark.django_db(transaction=True)

# The gate of 槐房社区 (inside community 110106005010), served by the 南苑管家 team.
GATE = {"lon": "116.3930", "lat": "39.7990"}
HUAIFANG = "110106005010"


@pytest.fixture
def receiver():
    with receiver_running() as made:
        yield made


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (90, 140, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


class Api:
    def __init__(self, base: str, username: str) -> None:
        self.base = base
        token = Token.objects.get(user__username=username).key
        self.headers = {"Authorization": f"Token {token}", "Accept-Language": "en"}

    def post(self, path: str, data: dict | None = None, photo: str | None = None):
        files = [(photo, ("photo.jpg", _jpeg(), "image/jpeg"))] if photo else None
        answer = requests.post(f"{self.base}/api/v1/{path}", data=data or {}, files=files,
                               headers=self.headers, timeout=30)
        assert answer.status_code in (200, 201), (path, answer.status_code, answer.text)
        return answer.json()

    def get(self, path: str, **params):
        answer = requests.get(f"{self.base}/api/v1/{path}", params=params, headers=self.headers,
                              timeout=30)
        assert answer.status_code == 200, (path, answer.status_code, answer.text)
        return answer


def test_a_verified_case_notifies_its_rider_in_the_feed_and_by_webhook_and_earns_points(
        reference_data, live_server, receiver, spare_broker, settings, media_root, tmp_path):
    settings.WEBHOOK_URL, settings.WEBHOOK_SECRET = receiver.url, SECRET
    receiver.start()
    worker = celery_process(kind="worker", log_path=tmp_path / "worker.log",
                            receiver_url=receiver.url, media_root=media_root)
    try:
        rider1, rider2 = Api(live_server.url, "rider1"), Api(live_server.url, "rider2")
        office, verifier = Api(live_server.url, "office1"), Api(live_server.url, "office2")
        volunteer = Api(live_server.url, "hk_vol1")

        reported = rider1.post("reports/", {**GATE, "category": "E0101",
                                            "description": "小区门口垃圾堆",
                                            "client_uuid": str(uuid.uuid4())}, photo="photos")
        case_id = reported["properties"]["case"]
        rider2.post(f"cases/{case_id}/confirm/", {**GATE, "client_uuid": str(uuid.uuid4())})
        office.post(f"cases/{case_id}/file/")
        office.post(f"cases/{case_id}/dispatch/")
        volunteer.post(f"cases/{case_id}/accept/")
        volunteer.post(f"cases/{case_id}/handin/", {"note": "已清理"}, photo="photo")
        assert verifier.post(f"cases/{case_id}/verify/")["stage"] == "closed"

        # The feed: filed, dispatched, handed in, closed, newest first, the proof photo
        # attached.
        feed = rider1.get("notifications/").json()
        assert [n["kind"] for n in feed["notifications"]] == [
            "case_closed", "case_handed_in", "case_dispatched", "case_filed"]
        closed = feed["notifications"][0]
        assert closed["message"] == f"Case #{case_id} has been dealt with and closed. Thank you!"
        assert "note" not in closed["data"]  # the hand-in note stays the team's
        photo_path = closed["data"]["proof_photo"]
        wait_until(lambda: requests.get(live_server.url + photo_path, headers=rider1.headers,
                                        timeout=10).status_code == 200,
                   what="the proof photo, processed by the worker", logs=(worker,))

        # The webhook: delivered by the worker, the signature checked by the receiver.
        delivery = WebhookDelivery.objects.get(notification__case_id=case_id,
                                               notification__kind="case_closed",
                                               notification__recipient__username="rider1")
        wait_until(lambda: str(delivery.delivery_id) in receiver.processed,
                   what="the case_closed delivery", logs=(worker,))
        got = next(r for r in receiver.requests if r.delivery_id == str(delivery.delivery_id))
        assert got.signature_ok and got.fresh and got.event == "case_closed"
        sent = got.json()["notification"]
        assert sent["recipient"]["username"] == "rider1" and sent["case"] == case_id
        assert sent["data"]["proof_photo"] == photo_path
        assert sent["message"]["zh-hans"] == f"案件 #{case_id} 已处置并核查结案，感谢您！"
        wait_until(lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == "delivered",
                   what="the delivery recorded", logs=(worker,))
    finally:
        worker.stop()

    # The points: 10 for the first reporter, 3 for the confirmer, each with its reason.
    mine = rider1.get("me/points/").json()
    assert mine["total"] == 10
    assert [(e["points"], e["reason_text"]) for e in mine["entries"]] == [
        (10, f"First to report case #{case_id}, now verified")]
    assert rider2.get("me/points/").json()["total"] == 3

    # The month's leaderboards, subdistrict and community, and the union's export.
    month = timezone.localtime().strftime("%Y-%m")
    board = rider2.get("leaderboard/", month=month).json()
    assert [(r["rank"], r["display_name"], r["points"]) for r in board["riders"]] == [
        (1, "骑手王小勇", 10), (2, "骑手李春生", 3)]
    local = rider2.get("leaderboard/", month=month, community=HUAIFANG).json()
    assert [(r["display_name"], r["points"]) for r in local["riders"]] == [("骑手王小勇", 10)]
    union = Api(live_server.url, "union1")
    exported = union.get("leaderboard/export.csv", month=month).content.decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(exported)))[1:] == [
        ["1", "骑手王小勇", "Huaifang Community", "10"],
        ["2", "骑手李春生", "Chengyuan Community", "3"]]
