"""The whole journey over real HTTP: whistle → filing → routing → work → verification → rating."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from PIL import Image
from rest_framework.authtoken.models import Token

from issues.models import Case, Category
from patrol.models import Notification, Task, VolunteerTeam
from patrol.services.alerts import tasks_overdue_scan

pytestmark = pytest.mark.django_db(transaction=True)

# The gate of 槐房社区 (inside community 110106005010), served by the 南苑管家 team.
GATE = {"lon": "116.3930", "lat": "39.7990"}


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (90, 140, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


class Api:
    def __init__(self, base: str, username: str) -> None:
        self.base = base
        self.headers = {"Authorization": f"Token {Token.objects.get(user__username=username).key}"}

    def post(self, path: str, data: dict | None = None, photo: bool = False):
        files = [("photo", ("proof.jpg", _jpeg(), "image/jpeg"))] if photo else None
        return requests.post(f"{self.base}/api/v1/{path}", data=data or {}, files=files,
                             headers=self.headers, timeout=30)

    def get(self, path: str):
        return requests.get(f"{self.base}/api/v1/{path}", headers=self.headers, timeout=30)


def test_exposed_garbage_goes_from_whistle_to_rating(reference_data, live_server):
    rider, office = Api(live_server.url, "rider1"), Api(live_server.url, "office1")
    volunteer, verifier = Api(live_server.url, "hk_vol1"), Api(live_server.url, "office2")
    answer = requests.post(
        f"{live_server.url}/api/v1/reports/", headers=rider.headers, timeout=30,
        data={**GATE, "category": "E0101", "description": "小区门口垃圾堆",
              "client_uuid": str(uuid.uuid4())},
        files=[("photos", ("garbage.jpg", _jpeg(), "image/jpeg"))],
    )
    assert answer.status_code == 201
    case_id = answer.json()["properties"]["case"]

    assert office.post(f"cases/{case_id}/file/").json()["stage"] == "filed"
    dispatched = office.post(f"cases/{case_id}/dispatch/").json()
    assert dispatched["stage"] == "dispatched"
    task = Task.objects.get(case_id=case_id)
    assert task.team.team_type == "housekeeper"  # routing: 南苑管家
    assert task.team.members.filter(username="hk_vol1").exists()

    mine = volunteer.get("tasks/").json()["tasks"]
    assert [t["case"] for t in mine] == [case_id]
    assert mine[0]["remaining_seconds"] > 0
    assert volunteer.post(f"cases/{case_id}/accept/").json()["stage"] == "in_progress"
    assert volunteer.post(f"cases/{case_id}/start/").status_code == 200
    handed = volunteer.post(f"cases/{case_id}/handin/", {"note": "已清理"}, photo=True)
    assert handed.status_code == 200 and handed.json()["stage"] == "handed_in"

    assert verifier.post(f"cases/{case_id}/verify/").json()["stage"] == "closed"
    mine = rider.get("me/reports/").json()["features"][0]["properties"]
    assert mine["status"] == "closed"
    assert [e["action"] for e in mine["history"]] == [
        "created", "file", "dispatch", "accept", "start", "handin", "verify"]
    rated = rider.post(f"cases/{case_id}/rate/", {"score": 5, "comment": "很快"})
    assert rated.status_code == 200 and rated.json()["stage"] == "evaluated"
    actions = [e["action"] for e in rider.get(f"cases/{case_id}/events/").json()["events"]]
    assert actions == ["created", "file", "dispatch", "accept", "start", "handin", "verify",
                       "rate"]
    assert Notification.objects.filter(recipient__username="rider1", case_id=case_id,
                                       kind="case_closed").count() == 1


def test_broken_manhole_cover_is_escalated_and_closed_by_the_liaison(reference_data,
                                                                      live_server):
    rider, office = Api(live_server.url, "rider2"), Api(live_server.url, "office1")
    leader = Api(live_server.url, "hk_lead")
    answer = requests.post(
        f"{live_server.url}/api/v1/reports/", headers=rider.headers, timeout=30,
        data={**GATE, "category": "C0101", "client_uuid": str(uuid.uuid4())},
        files=[("photos", ("manhole.jpg", _jpeg(), "image/jpeg"))],
    )
    case_id = answer.json()["properties"]["case"]
    office.post(f"cases/{case_id}/file/")
    team = VolunteerTeam.objects.get(code="housekeeper")  # Nanyuan's
    assert office.post(f"cases/{case_id}/dispatch/", {"team": team.pk}).status_code == 200
    escalated = leader.post(f"cases/{case_id}/escalate/", {"reason": "井盖需市政更换"})
    assert escalated.status_code == 200
    tasks = list(Task.objects.filter(case_id=case_id).order_by("id"))
    assert [t.status for t in tasks] == ["escalated", "offered"]
    department = tasks[1].department
    liaison = Api(live_server.url, department.liaisons.first().username)
    assert liaison.post(f"cases/{case_id}/accept/").status_code == 200
    assert liaison.post(f"cases/{case_id}/handin/", {"note": "已更换井盖"},
                        photo=True).status_code == 200
    assert office.post(f"cases/{case_id}/verify/").json()["stage"] == "closed"


def test_emergency_report_is_dispatched_with_no_human_step(reference_data, live_server):
    rider = Api(live_server.url, "rider1")
    code = Category.objects.filter(urgency="emergency").order_by("code").first().code
    answer = requests.post(
        f"{live_server.url}/api/v1/reports/", headers=rider.headers, timeout=30,
        data={**GATE, "category": code, "client_uuid": str(uuid.uuid4())},
        files=[("photos", ("fire.jpg", _jpeg(), "image/jpeg"))],
    )
    assert answer.status_code == 201
    emergency = Case.objects.get(pk=answer.json()["properties"]["case"])
    assert emergency.stage == "dispatched"
    task = emergency.tasks.get()
    assert task.status == "offered"
    assert timedelta(minutes=29) <= task.response_due - task.offered_at <= timedelta(minutes=31)


def test_an_overdue_task_raises_its_alert_on_time_once(reference_data, live_server):
    rider, office = Api(live_server.url, "rider1"), Api(live_server.url, "office1")
    answer = requests.post(
        f"{live_server.url}/api/v1/reports/", headers=rider.headers, timeout=30,
        data={**GATE, "category": "E0101", "client_uuid": str(uuid.uuid4())},
        files=[("photos", ("garbage.jpg", _jpeg(), "image/jpeg"))],
    )
    case_id = answer.json()["properties"]["case"]
    office.post(f"cases/{case_id}/file/")
    office.post(f"cases/{case_id}/dispatch/")
    task = Task.objects.get(case_id=case_id)
    leader = task.team.leader
    just_before = task.response_due - timedelta(seconds=1)
    assert tasks_overdue_scan(now=just_before)["response"] == 0
    after = task.response_due + timedelta(seconds=1)
    assert tasks_overdue_scan(now=after)["response"] == 1
    assert tasks_overdue_scan(now=after + timedelta(minutes=5))["response"] == 0
    alerts = Notification.objects.filter(kind="task_response_overdue", task=task)
    assert list(alerts.values_list("recipient", flat=True)) == [leader.pk]
    assert timezone.now() < task.response_due  # the scan ran with an injected clock


@pytest.mark.django_db
def test_the_triage_queue_names_categories_in_the_callers_language(reference_data, client):
    from django.contrib.auth import get_user_model

    from issues.models import Rider
    from issues.services.intake import ChannelRules, ReportInput, report_create

    rules = ChannelRules("app", requires_client_uuid=True, requires_photos=False,
                         max_description=2000)
    report_create(channel=rules, reporter=Rider.objects.order_by("user_id").first().user,
                  data=ReportInput(category_code="E0101", lon=116.393, lat=39.799,
                                   client_uuid=uuid.uuid4()))
    client.force_login(get_user_model().objects.get(username="office1"))
    english = client.get("/api/v1/office/queue/", HTTP_ACCEPT_LANGUAGE="en").json()["cases"]
    chinese = client.get("/api/v1/office/queue/").json()["cases"]
    garbage = Category.objects.get(code="E0101")
    assert english[0]["category_name"] == garbage.name_en
    assert chinese[0]["category_name"] == garbage.name_zh
