"""The in-app feed: who hears what and what it says, the "deadline coming close" scan, and the
feed API (reading one's own, marking read) for every role.

Deadlines by hand (patrol/data/cn_calendar.json, patrol/workdays.py): an E0101 task dispatched
Monday 2 March 2026 09:59 has its response due Tuesday 3 March 09:59 (1 working day: 24 h) and
its resolution due Wednesday 11 March 09:59 (7 working days: 216 h). With the default 20 %, the
team hears of the response deadline from 24 h × 0.8 = 19 h 12 min after the offer (Tuesday
05:11) and of the resolution deadline from 216 h × 0.8 = 172 h 48 min after it (Monday 9 March
14:47).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from civicmap.models import Subdistrict
from civicmap.roles import Role
from patrol.models import Department, Notification, Task, VolunteerTeam
from patrol.selectors import union_names
from patrol.services.alerts import tasks_deadline_near_scan
from patrol.services.notifications import MSG_NOTIFICATION_NOT_FOUND
from patrol.services.notify import _case_riders, _staff_in, _task_workers
from tests.patrol.helpers import (
    API,
    HEYI_XILI_1,
    act,
    app_report,
    case_in_stage,
    client_for,
    cst,
    join_all,
    live_task,
    report,
    run_in_threads,
    user,
    wait_for_lock_waiters,
)

db = pytest.mark.django_db
FEED = f"{API}/notifications/"
READ_MANY = f"{API}/notifications/read/"
HOUSEKEEPERS = {"hk_lead", "hk_vol1", "hk_vol2", "hk_vol3", "hk_vol4"}
ROLES = {
    "anonymous": None, "rider": "rider1", "volunteer": "hk_vol1", "team_leader": "hk_lead",
    "office_staff": "office1", "union_staff": "union1", "liaison": "liaison_municipal",
    "admin": "admin",
}


def read_url(notification_id: int) -> str:
    return f"{API}/notifications/{notification_id}/read/"


def feed_of(username: str, **params) -> dict:
    answer = client_for(username).get(FEED, params, HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 200, answer.content
    return answer.json()


def kinds_for(username: str, case) -> list[str]:
    return list(Notification.objects.filter(recipient__username=username, case=case)
                .order_by("created_at", "id").values_list("kind", flat=True))


# --- who hears it: statements built once -----------------------------------------------------


@db
def test_who_hears_is_read_as_the_orm_read_it(reference_data):
    # The reference: the ORM's reads notify sent before (issue 20).
    first = report("E0101", reporter="rider1")
    report("E0101", reporter="rider2")  # joins the case (the same point)
    report("E0101", reporter="rider1")  # the same rider again
    report("E0101", reporter=None)  # anonymous
    case = first.case
    report_ids = list(case.reports.order_by("id").values_list("pk", flat=True))
    assert len(report_ids) == 4
    for chosen in (None, [], report_ids[:1], report_ids[1:], report_ids[3:]):
        orm = case.reports.exclude(reporter=None)
        if chosen is not None:
            orm = orm.filter(pk__in=chosen)
        assert sorted(_case_riders(case, report_ids=chosen)) == sorted(
            orm.order_by().values_list("reporter", flat=True).distinct())
    assert sorted(_case_riders(case)) == sorted([user("rider1").pk, user("rider2").pk])

    subdistricts = list(Subdistrict.objects.values_list("pk", flat=True))
    heard = 0
    for role in Role:
        for chosen in ([], subdistricts, *([pk] for pk in subdistricts)):
            read = _staff_in(role, chosen)
            assert sorted(read) == sorted(get_user_model().objects.filter(
                groups__name=role.value, membership__subdistrict__in=chosen)
                .values_list("pk", flat=True).distinct())
            assert len(read) == len(set(read))
            heard += len(read)
    assert heard > 0

    assert VolunteerTeam.objects.filter(members__isnull=False).exists()
    assert Department.objects.filter(liaisons__isnull=False).exists()
    for team in VolunteerTeam.objects.all():
        task = Task(assignee_kind=Task.AssigneeKind.TEAM, team=team)
        assert sorted(_task_workers(task)) == sorted(
            [team.leader_id, *team.members.values_list("pk", flat=True)])
    for department in Department.objects.all():
        task = Task(assignee_kind=Task.AssigneeKind.DEPARTMENT, department=department)
        assert sorted(_task_workers(task)) == sorted(
            department.liaisons.values_list("pk", flat=True))


# --- who hears what --------------------------------------------------------------------------


@db
def test_a_rider_hears_of_filing_dispatch_and_closure_with_the_proof_photo(reference_data):
    case = case_in_stage("closed", at=cst(2026, 3, 2, 9))
    assert kinds_for("rider1", case) == ["case_filed", "case_dispatched", "case_handed_in",
                                         "case_closed"]
    task = Task.objects.get(case=case)
    closed = Notification.objects.get(recipient__username="rider1", case=case,
                                      kind="case_closed")
    assert closed.data["proof_photo"] == f"/api/v1/photos/{task.proof_photo_id}/display/"
    assert "note" not in closed.data  # the team's hand-in note is not the rider's to read
    dispatched = Notification.objects.get(recipient__username="rider1", case=case,
                                          kind="case_dispatched")
    assert dispatched.data["handler"]["zh"] == task.team.name_zh

    items = {n["kind"]: n for n in feed_of("rider1")["notifications"]}
    assert items["case_closed"]["message"] == (
        f"Case #{case.pk} has been dealt with and closed. Thank you!")
    assert items["case_closed"]["data"]["proof_photo"] == closed.data["proof_photo"]
    assert items["case_dispatched"]["message"] == (
        f"Your report (case #{case.pk}) has been handed to {task.team.name_en}.")
    # The photo the message points to is one the rider may open (once processed: no worker
    # runs here, so it is found but not ready).
    opened = client_for("rider1").get(closed.data["proof_photo"])
    assert opened.status_code == 404 and opened.json()["errors"][0]["code"] == "not_ready"


@db
def test_a_riders_need_in_heyi_is_handled_by_heyis_union_and_heard_by_its_staff(reference_data):
    case = app_report("L0201", community=HEYI_XILI_1, reporter="rider2",
                      description="和义西里没有停车的地方").case
    dispatched = Notification.objects.get(recipient__username="rider2", case=case,
                                          kind="case_dispatched")
    assert dispatched.data["handler"] == {"zh": "和义街道总工会",
                                          "en": "Heyi Subdistrict Trade Union"}
    offered = set(Notification.objects.filter(case=case, kind="task_offered")
                  .values_list("recipient__username", flat=True))
    assert offered == {"union_heyi1"}  # not Nanyuan's union1, not the district's


@db
def test_a_rider_hears_the_union_named_as_every_list_names_it(reference_data):
    # "Who handles a case" is patrol.selectors.handler_names: the notification and the task
    # lists name the union alike (the notification once said "the subdistrict trade union").
    case = app_report("L0201", reporter="rider2", description="万达北门没有停车的地方").case
    dispatched = Notification.objects.get(recipient__username="rider2", case=case,
                                          kind="case_dispatched")
    assert dispatched.data["handler"] == union_names(case.subdistrict) == {
        "zh": "南苑街道总工会", "en": "Nanyuan Subdistrict Trade Union"}
    items = {n["kind"]: n for n in client_for("rider2").get(
        FEED, HTTP_ACCEPT_LANGUAGE="en").json()["notifications"]}
    assert items["case_dispatched"]["message"] == (
        f"Your report (case #{case.pk}) has been handed to Nanyuan Subdistrict Trade Union.")


@db
def test_a_rider_hears_of_a_cancellation_with_its_reason_in_their_language(reference_data):
    case = report("E0101").case
    act(case, "cancel", "office1", reason="重复上报，已合并处理")
    [item] = feed_of("rider1")["notifications"]
    assert item["kind"] == "case_cancelled" and item["data"]["reason"] == "重复上报，已合并处理"
    assert item["message"] == f"Case #{case.pk} was cancelled: 重复上报，已合并处理"
    chinese = client_for("rider1").get(FEED, HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    assert chinese["notifications"][0]["message"] == f"案件 #{case.pk} 已作废：重复上报，已合并处理"


@db
def test_a_team_hears_of_a_new_task_and_the_leader_and_office_of_an_escalation(
        reference_data):
    case = case_in_stage("in_progress")
    offered = Notification.objects.filter(case=case, kind="task_offered")
    assert set(offered.values_list("recipient__username", flat=True)) == HOUSEKEEPERS
    assert not offered.filter(recipient__username__startswith="rider").exists()
    item = next(n for n in feed_of("hk_vol2")["notifications"] if n["kind"] == "task_offered")
    assert item["message"] == f"New task: case #{case.pk} (Exposed garbage)."
    assert datetime.fromisoformat(item["data"]["resolution_due"]) == live_task(
        case).resolution_due

    department = Department.objects.get(code="chengguan")
    act(case, "escalate", "hk_lead", department=department.pk, reason="需要执法")
    escalated = Notification.objects.filter(case=case, kind="case_escalated")
    assert set(escalated.values_list("recipient__username", flat=True)) == {
        "hk_lead", "office1", "office2"}
    assert escalated.first().data["department"]["zh"] == department.name_zh
    # The department's liaisons hear of their new task.
    liaisons = set(department.liaisons.values_list("username", flat=True))
    assert set(Notification.objects.filter(case=case, kind="task_offered",
                                           task=live_task(case))
               .values_list("recipient__username", flat=True)) == liaisons


# --- the "deadline coming close" scan --------------------------------------------------------


@db
def test_a_team_hears_once_when_each_deadline_comes_close(reference_data):
    case = case_in_stage("dispatched", at=cst(2026, 3, 2, 9, 57))
    task = live_task(case)
    assert (task.offered_at, task.response_due, task.resolution_due) == (
        cst(2026, 3, 2, 9, 59), cst(2026, 3, 3, 9, 59), cst(2026, 3, 11, 9, 59))

    assert tasks_deadline_near_scan(now=cst(2026, 3, 3, 5, 10)) == {"response": 0,
                                                                   "resolution": 0}
    assert tasks_deadline_near_scan(now=cst(2026, 3, 3, 5, 12)) == {"response": 1,
                                                                   "resolution": 0}
    assert tasks_deadline_near_scan(now=cst(2026, 3, 3, 9, 0)) == {"response": 0,
                                                                  "resolution": 0}
    near = Notification.objects.filter(kind="task_deadline_near", task=task)
    assert set(near.values_list("recipient__username", flat=True)) == HOUSEKEEPERS
    assert near.first().data["deadline"] == "response"
    item = next(n for n in feed_of("hk_vol1")["notifications"]
                if n["kind"] == "task_deadline_near")
    assert item["message"] == (f"Case #{case.pk}: accept it by 2026-03-03 09:59 "
                               "(the response deadline is near).")

    # Accepted: the response deadline is behind it; the resolution one comes close later.
    act(case, "accept", "hk_vol1", at=cst(2026, 3, 3, 9, 30))
    assert tasks_deadline_near_scan(now=cst(2026, 3, 9, 14, 46)) == {"response": 0,
                                                                    "resolution": 0}
    assert tasks_deadline_near_scan(now=cst(2026, 3, 9, 14, 48)) == {"response": 0,
                                                                    "resolution": 1}
    assert tasks_deadline_near_scan(now=cst(2026, 3, 10, 9)) == {"response": 0,
                                                                 "resolution": 0}
    assert near.count() == 2 * len(HOUSEKEEPERS)
    # Past the deadline it is the overdue scan's business, not this one's.
    late = case_in_stage("dispatched", at=cst(2026, 3, 2, 9, 57), point=3)
    assert tasks_deadline_near_scan(now=cst(2026, 3, 12, 10)) == {"response": 0,
                                                                  "resolution": 0}
    assert not Notification.objects.filter(kind="task_deadline_near",
                                           task=live_task(late)).exists()


@db
def test_the_near_deadline_share_is_a_setting(reference_data, settings):
    settings.TASK_DEADLINE_NEAR_PERCENT = 50  # from 12 h after a 24 h response window
    case_in_stage("dispatched", at=cst(2026, 3, 2, 9, 57))
    assert tasks_deadline_near_scan(now=cst(2026, 3, 2, 21, 58))["response"] == 0
    assert tasks_deadline_near_scan(now=cst(2026, 3, 2, 22, 0))["response"] == 1


@pytest.mark.django_db(transaction=True)
def test_two_scans_at_once_tell_each_member_once(reference_data):
    case = case_in_stage("dispatched", at=cst(2026, 3, 2, 9, 57))
    task = live_task(case)
    now = cst(2026, 3, 3, 6)
    with transaction.atomic():
        # Both scans wait on the task row the test holds, then run at the same moment.
        list(Task.objects.select_for_update().filter(pk=task.pk))
        threads, counts = run_in_threads(lambda: _scan_locking_task(now),
                                         lambda: _scan_locking_task(now))
        wait_for_lock_waiters(2)
    join_all(threads)
    assert all(isinstance(c, dict) for c in counts), counts
    near = Notification.objects.filter(kind="task_deadline_near", task=task)
    assert sorted(near.values_list("recipient__username", flat=True)) == sorted(HOUSEKEEPERS)


def _scan_locking_task(now):
    """One scan that first waits for the task row the test holds."""
    with transaction.atomic():
        list(Task.objects.select_for_update().all())
    return tasks_deadline_near_scan(now=now)


# --- the feed API ------------------------------------------------------------------------------


@db
def test_the_feed_shows_ones_own_notifications_newest_first_and_counts_the_unread(
        reference_data):
    cases = [report("E0101", point=n).case for n in range(3)]
    for case in cases:
        act(case, "file", "office1")
    act(report("E0101", point=4, reporter="rider2").case, "file", "office1")
    body = feed_of("rider1")
    assert body["unread"] == 3
    assert [n["case"] for n in body["notifications"]] == [c.pk for c in reversed(cases)]
    assert {n["kind"] for n in body["notifications"]} == {"case_filed"}
    assert all(n["read_at"] is None for n in body["notifications"])

    page = feed_of("rider1", limit=2)
    assert [n["case"] for n in page["notifications"]] == [cases[2].pk, cases[1].pk]
    rest = feed_of("rider1", limit=2, before=page["next_before"])
    assert [n["case"] for n in rest["notifications"]] == [cases[0].pk]
    assert rest["next_before"] is None
    assert feed_of("hk_vol1")["notifications"] == []  # filing tells the team nothing


@db
def test_marking_read_is_ones_own_and_idempotent(reference_data):
    for n in range(2):
        act(report("E0101", point=n).case, "file", "office1")
    act(report("E0101", point=4, reporter="rider2").case, "file", "office1")
    mine = list(Notification.objects.filter(recipient__username="rider1").order_by("id"))
    theirs = Notification.objects.get(recipient__username="rider2")
    rider = client_for("rider1")

    first = rider.post(read_url(mine[0].pk))
    assert first.status_code == 200 and first.json()["read_at"] is not None
    again = rider.post(read_url(mine[0].pk))
    assert again.json()["read_at"] == first.json()["read_at"]  # the first reading stays
    assert feed_of("rider1")["unread"] == 1
    assert feed_of("rider1", unread="true")["notifications"][0]["id"] == mine[1].pk

    refused = rider.post(read_url(theirs.pk), HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 404
    assert refused.json()["errors"] == [{"field": None, "code": "not_found",
                                         "message": str(MSG_NOTIFICATION_NOT_FOUND)}]
    # Someone else's ids in a list are ignored, not marked.
    many = rider.post(READ_MANY, {"ids": [mine[1].pk, theirs.pk]}, format="json")
    assert many.json() == {"marked": 1}
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert feed_of("rider1")["unread"] == 0

    assert client_for("rider2").post(READ_MANY, {}, format="json").status_code == 400
    assert client_for("rider2").post(READ_MANY, {"all": True}, format="json").json() == {
        "marked": 1}
    assert feed_of("rider2")["unread"] == 0


@db
def test_bad_feed_parameters_answer_400_in_the_error_shape(reference_data):
    answer = client_for("rider1").get(FEED, {"limit": 0})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "limit"


@db
def test_the_feed_reads_in_a_fixed_number_of_queries(reference_data,
                                                     django_assert_max_num_queries):
    for n in range(6):
        act(report("E0101", point=n).case, "file", "office1")
    rider = client_for("rider1")
    with django_assert_max_num_queries(6):
        assert len(rider.get(FEED).json()["notifications"]) == 6


# --- who may call what -------------------------------------------------------------------------


@db
@pytest.mark.parametrize("role", list(ROLES))
def test_every_signed_in_role_reads_and_marks_its_own_feed(reference_data, role):
    username = ROLES[role]
    case = case_in_stage("dispatched")
    own = Notification.objects.filter(recipient__username=username).first() if username else None
    other = Notification.objects.exclude(recipient__username=username).first()
    client = client_for(username)
    expected = 401 if username is None else 200
    listed = client.get(FEED)
    assert listed.status_code == expected
    assert client.post(READ_MANY, {"all": True}, format="json").status_code == expected
    assert client.post(read_url(other.pk)).status_code == (401 if username is None else 404)
    if username is None:
        return
    ids = {n["id"] for n in listed.json()["notifications"]}
    assert ids == set(Notification.objects.filter(recipient=user(username))
                      .values_list("pk", flat=True))
    if own is not None:
        assert client.post(read_url(own.pk)).status_code == 200
    assert case.pk  # the case made the notifications above
    assert Notification.objects.filter(pk=other.pk, read_at__isnull=True).exists()


def test_roles_cover_every_kind_of_user():
    assert set(ROLES) == {"anonymous", "rider", "volunteer", "team_leader", "office_staff",
                          "union_staff", "liaison", "admin"}


def test_near_deadline_windows_by_hand():
    # 24 h × 20 % = 4 h 48 min before the response deadline; 216 h × 20 % = 43 h 12 min.
    assert cst(2026, 3, 3, 9, 59) - timedelta(hours=4, minutes=48) == cst(2026, 3, 3, 5, 11)
    assert cst(2026, 3, 11, 9, 59) - timedelta(hours=43, minutes=12) == cst(2026, 3, 9, 14, 47)
