"""The case lifecycle beyond the happy path of test_journey.py: every transition checked and
recorded atomically, refusals that change nothing, decline, the accept race, verification by
someone else, send back, escalation, riders' needs, merge and split, ratings, the evaluation
job, and the office's triage queue with its bulk actions.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from issues.lifecycle import TRANSITIONS
from issues.models import Case, CaseEvent, Report
from issues.services.cases import case_confirm
from patrol.models import Department, Notification, Rating, Task
from patrol.services.lifecycle import cases_evaluate_due
from tests.patrol.helpers import (
    API,
    CHENGYUAN,
    HUAIFANG,
    XINGONG,
    act,
    app_report,
    case_in_stage,
    client_for,
    cst,
    join_all,
    last_event,
    live_task,
    proof_photo,
    report,
    run_in_threads,
    snapshot,
    user,
    wait_for_lock_waiters,
)

db = pytest.mark.django_db


def url(case: Case | int, action: str = "") -> str:
    case_id = case if isinstance(case, int) else case.pk
    return f"{API}/cases/{case_id}/{action + '/' if action else ''}"


# --- every transition is checked and recorded -------------------------------------------------


@db
def test_each_action_writes_one_event_with_the_stages_of_the_transition_table(reference_data):
    t0 = cst(2026, 3, 9, 9)  # Monday; the minutes below only order the events
    case = report("E0101", at=t0).case
    steps = [
        ("file", "office1", {}),
        ("dispatch", "office1", {}),
        ("accept", "hk_vol1", {}),
        ("start", "hk_vol1", {}),
        ("handin", "hk_vol1", {"note": "清理了一半", "photo": proof_photo()}),
        ("sendback", "office2", {"note": "还有垃圾"}),
        ("handin", "hk_vol2", {"note": "全部清理", "photo": proof_photo()}),
        ("verify", "office2", {}),
        ("rate", "rider1", {"score": 5}),
    ]
    for minute, (action, actor, params) in enumerate(steps, start=1):
        before = Case.objects.get(pk=case.pk).stage
        events_before = CaseEvent.objects.filter(case=case).count()
        act(case, action, actor, at=t0 + timedelta(minutes=minute), **params)
        after = Case.objects.get(pk=case.pk).stage
        rule = TRANSITIONS[action]
        assert before in rule.case_from
        # case_to None would mean "unchanged"; every action here moves the stage somewhere.
        assert after == rule.case_to
        assert CaseEvent.objects.filter(case=case).count() == events_before + 1
        event = last_event(case)
        assert (event.action, event.from_stage, event.to_stage) == (action, before, after)
        assert event.actor == user(actor)
        assert event.at == t0 + timedelta(minutes=minute)
        tasks = list(Task.objects.filter(case=case))
        assert len(tasks) == (0 if action == "file" else 1)  # one task all along
        if rule.task_to is not None:
            assert tasks[0].status == rule.task_to
            assert event.task_id == tasks[0].pk
    task = Task.objects.get(case=case)
    assert task.handed_in_by == user("hk_vol2")  # the second hand-in replaced the first
    assert task.note == "全部清理"


@db
def test_a_failure_after_the_event_is_written_rolls_back_stage_task_and_event(reference_data,
                                                                           monkeypatch):
    """The stage change, the task change and the CaseEvent are one transaction: when the
    closing notification fails after all three are written, none of them stays."""
    case = case_in_stage("handed_in")
    before = snapshot(case)

    def broken_notify(**kwargs):
        raise RuntimeError("notification store down")

    monkeypatch.setattr("patrol.services.lifecycle.notify", broken_notify)
    with pytest.raises(RuntimeError):
        act(case, "verify", "office2")
    assert snapshot(case) == before
    fresh = Case.objects.get(pk=case.pk)
    assert fresh.closed_at is None
    assert Task.objects.get(case=case).finished_at is None
    assert not CaseEvent.objects.filter(case=case, action="verify").exists()


# Illegal transitions over HTTP. ``allowed`` is what the table admits at that stage and task
# status, filtered by the actor's role, in the table's order (issues/lifecycle.py TRANSITIONS):
ILLEGAL = [
    # dispatched, task offered: the table admits redispatch, decline, accept, assign, reply,
    # escalate, split, transfer, prioritise; office staff may redispatch, assign, escalate,
    # split and (the case's own office) transfer and prioritise (decline and accept are the
    # team's, reply the union's on a union task).
    pytest.param("dispatched", "verify", "office1",
                 ["redispatch", "assign", "escalate", "split", "transfer", "prioritise"],
                 id="verify-before-handin"),
    # the same stage for a member of the team: decline and accept only.
    pytest.param("dispatched", "handin", "hk_vol1", ["decline", "accept"],
                 id="handin-before-accept"),
    # filed, no task: cancel, dispatch, escalate, merge, split, transfer, prioritise (all
    # office actions).
    pytest.param("filed", "file", "office1",
                 ["cancel", "dispatch", "escalate", "merge", "split", "transfer", "prioritise"],
                 id="file-twice"),
    # in progress, task accepted: the member may start or hand in (assign and escalate are the
    # leader's or the office's).
    pytest.param("in_progress", "accept", "hk_vol2", ["start", "handin"], id="accept-twice"),
    # in progress: a rider may do nothing yet.
    pytest.param("in_progress", "rate", "rider1", [], id="rate-before-closure"),
    # closed: only ratings (reporters) remain; the office has nothing left to do.
    pytest.param("closed", "cancel", "office2", [], id="cancel-after-closure"),
    # handed in: decline is only possible before acceptance; the member has no action left.
    pytest.param("handed_in", "decline", "hk_vol1", [], id="decline-after-handin"),
]


@db
@pytest.mark.parametrize(("stage", "action", "actor", "allowed"), ILLEGAL)
def test_an_illegal_transition_is_409_naming_the_allowed_actions_and_changes_nothing(
        reference_data, stage, action, actor, allowed):
    case = case_in_stage(stage)
    before = snapshot(case)
    answer = client_for(actor).post(url(case, action), {"reason": "x", "note": "x", "score": 4})
    assert answer.status_code == 409, answer.content
    body = answer.json()
    assert body["errors"][0]["code"] == "not_allowed"
    assert body["allowed"] == allowed
    message = body["errors"][0]["message"]
    assert action in message and stage in message
    for name in allowed:
        assert name in message
    if not allowed:
        assert "—" in message
    assert snapshot(case) == before


@db
@pytest.mark.parametrize("action", ["evaluate", "delete", "close", "created"])
def test_actions_outside_the_api_are_404_and_change_nothing(reference_data, action):
    # "evaluate" is the job's, not a user's; the others are not actions at all.
    case = case_in_stage("closed")
    before = snapshot(case)
    assert client_for("office1").post(url(case, action)).status_code == 404
    assert snapshot(case) == before


@db
def test_an_action_on_a_missing_case_is_404(reference_data):
    missing = (Case.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000
    assert client_for("office1").post(url(missing, "file")).status_code == 404


# --- assignment -------------------------------------------------------------------------------


@db
def test_the_leader_assigns_a_member_and_the_assignment_survives_acceptance(reference_data):
    case = case_in_stage("dispatched")
    before = snapshot(case)
    for stranger in ["cw_vol1", "office1", "rider1"]:  # not in the housekeeper team
        answer = client_for("hk_lead").post(url(case, "assign"),
                                            {"assignee": user(stranger).pk})
        assert answer.status_code == 400, stranger
        assert answer.json()["errors"][0]["field"] == "assignee"
        assert snapshot(case) == before

    assert client_for("hk_lead").post(url(case, "assign"),
                                      {"assignee": user("hk_vol3").pk}).status_code == 200
    event = last_event(case)
    assert (event.action, event.actor, event.data) == ("assign", user("hk_lead"),
                                                       {"assignee": user("hk_vol3").pk})
    assert Case.objects.get(pk=case.pk).stage == "dispatched"  # assignment moves no stage
    # Another member accepts for the team; the task stays with the one the leader chose.
    act(case, "accept", "hk_vol1")
    assert live_task(case).assignee == user("hk_vol3")


# --- decline ----------------------------------------------------------------------------------


@db
def test_decline_with_a_reason_returns_the_case_to_the_office_queue_as_filed(reference_data):
    case = case_in_stage("dispatched")
    task = live_task(case)
    answer = client_for("hk_vol1").post(url(case, "decline"), {"reason": "不在服务范围"})
    assert answer.status_code == 200, answer.content
    assert answer.json()["stage"] == "filed"
    task.refresh_from_db()
    assert (task.status, task.decline_reason) == ("declined", "不在服务范围")
    assert task.finished_at is not None
    assert live_task(case) is None
    event = last_event(case)
    assert (event.action, event.from_stage, event.to_stage, event.note) == (
        "decline", "dispatched", "filed", "不在服务范围")

    office = client_for("office1")
    filed = office.get(f"{API}/office/queue/", {"stage": "filed"}).json()["cases"]
    assert [c["id"] for c in filed] == [case.pk]
    # From the queue the office can dispatch it again: a new task, the declined one kept.
    assert office.post(url(case, "dispatch")).status_code == 200
    assert list(Task.objects.filter(case=case).order_by("id").values_list("status", flat=True)) \
        == ["declined", "offered"]


@db
@pytest.mark.parametrize("data", [{}, {"reason": ""}, {"reason": "   "}],
                         ids=["absent", "empty", "blank"])
def test_decline_without_a_reason_is_400_and_changes_nothing(reference_data, data):
    case = case_in_stage("dispatched")
    before = snapshot(case)
    answer = client_for("hk_vol1").post(url(case, "decline"), data)
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "reason"
    assert snapshot(case) == before


@db
def test_decline_after_acceptance_is_409(reference_data):
    case = case_in_stage("in_progress")
    before = snapshot(case)
    answer = client_for("hk_vol1").post(url(case, "decline"), {"reason": "太忙"})
    assert answer.status_code == 409
    assert "decline" not in answer.json()["allowed"]
    assert snapshot(case) == before


# --- the accept race --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_members_racing_to_accept_one_task_exactly_one_wins(reference_data, live_server):
    from django.db import transaction
    from rest_framework.authtoken.models import Token

    case = case_in_stage("dispatched")
    racers = ["hk_vol1", "hk_vol2"]
    headers = {name: {"Authorization": f"Token {Token.objects.get(user__username=name).key}"}
               for name in racers}

    def accept(name: str):
        return lambda: requests.post(f"{live_server.url}{url(case, 'accept')}",
                                     headers=headers[name], timeout=30)

    # Hold the case row lock, so that both requests reach the lock before either can take it.
    with transaction.atomic():
        Case.objects.select_for_update().get(pk=case.pk)
        threads, answers = run_in_threads(accept("hk_vol1"), accept("hk_vol2"))
        wait_for_lock_waiters(2)
    join_all(threads)

    for answer in answers:
        assert isinstance(answer, requests.Response), answer
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [200, 409], [a.content for a in answers]
    winner = racers[[a.status_code for a in answers].index(200)]
    loser_body = answers[[a.status_code for a in answers].index(409)].json()
    # The loser sees the new state: the task is accepted, so a member may start or hand in.
    assert loser_body["allowed"] == ["start", "handin"]
    task = Task.objects.get(case=case)
    assert task.status == "accepted"
    assert task.assignee == user(winner)
    assert CaseEvent.objects.filter(case=case, action="accept").count() == 1
    assert Case.objects.get(pk=case.pk).stage == "in_progress"


# --- verification and send back ---------------------------------------------------------------


@db
def test_office_staff_who_handed_the_work_in_cannot_verify_it(reference_data):
    # office1 also volunteers in the housekeeper team, so may accept and hand in its task.
    case = case_in_stage("dispatched")
    team = live_task(case).team
    team.members.add(user("office1"))
    office1 = client_for("office1")
    assert office1.post(url(case, "accept")).status_code == 200
    handed = office1.post(url(case, "handin"), {"note": "我自己清理的", "photo": proof_photo()},
                          format="multipart")
    assert handed.status_code == 200, handed.content
    before = snapshot(case)
    refused = office1.post(url(case, "verify"))
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["code"] == "self_verify"
    assert snapshot(case) == before
    assert Case.objects.get(pk=case.pk).closed_at is None

    # Someone else may verify it.
    assert client_for("office2").post(url(case, "verify")).json()["stage"] == "closed"


@db
def test_the_one_who_handed_the_work_in_is_not_offered_verify(reference_data):
    """``allowed_actions`` (shown with the case, and named in every 409) must not offer an
    action the service will refuse: office1 handed the work in, so verify is not theirs."""
    case = case_in_stage("dispatched")
    live_task(case).team.members.add(user("office1"))
    act(case, "accept", "office1")
    act(case, "handin", "office1", note="我自己清理的", photo=proof_photo())
    office1, office2 = client_for("office1"), client_for("office2")
    assert "verify" in office2.get(url(case)).json()["allowed_actions"]
    assert "verify" not in office1.get(url(case)).json()["allowed_actions"]


@db
def test_send_back_returns_the_case_to_in_progress_and_the_team_hands_in_again(reference_data):
    case = case_in_stage("handed_in")
    office = client_for("office2")
    before = snapshot(case)
    assert office.post(url(case, "sendback")).status_code == 400  # a note is required
    assert snapshot(case) == before

    sent = office.post(url(case, "sendback"), {"note": "照片看不清"})
    assert sent.status_code == 200
    assert sent.json()["stage"] == "in_progress"
    task = Task.objects.get(case=case)
    assert task.status == "sent_back"
    assert last_event(case).note == "照片看不清"
    # The team sees the task again and hands it in again; it is still the same task.
    mine = client_for("hk_vol1").get(f"{API}/tasks/").json()["tasks"]
    assert [(t["case"], t["status"]) for t in mine] == [(case.pk, "sent_back")]
    again = client_for("hk_vol1").post(url(case, "handin"), {"note": "重新拍照",
                                                             "photo": proof_photo()},
                                       format="multipart")
    assert again.status_code == 200 and again.json()["stage"] == "handed_in"
    assert office.post(url(case, "verify")).json()["stage"] == "closed"
    assert list(Task.objects.filter(case=case).values_list("status", flat=True)) == ["done"]


# --- escalation -------------------------------------------------------------------------------


@db
@pytest.mark.parametrize("stage", ["new", "filed", "dispatched", "in_progress", "handed_in"])
def test_the_office_may_escalate_at_any_stage_before_closure_with_fresh_deadlines(
        reference_data, stage):
    t0 = cst(2026, 3, 9, 9)  # Monday 09:00; every step of the set-up takes one minute
    case = case_in_stage(stage, at=t0)
    team_task = live_task(case)
    chengguan = Department.objects.get(code="chengguan")
    t1 = cst(2026, 3, 10, 10)  # Tuesday 10:00, no holiday in March 2026 (cn_calendar.json)
    act(case, "escalate", "office1", at=t1, department=chengguan.pk, reason="需要执法")

    assert Case.objects.get(pk=case.pk).stage == "dispatched"
    if team_task is not None:
        team_task.refresh_from_db()
        assert team_task.status == "escalated"
        assert team_task.finished_at == t1
    new = live_task(case)
    assert (new.assignee_kind, new.department, new.status) == ("department", chengguan,
                                                                "offered")
    # E0101: response 1 working day, resolution 7 working days, counted from the escalation:
    # 1 working day after Tue 10 Mar 10:00 is Wed 11 Mar 10:00; 7 working days are 11, 12, 13,
    # 16, 17, 18, 19 March, so Thu 19 Mar 10:00.
    assert new.offered_at == t1
    assert new.response_due == cst(2026, 3, 11, 10)
    assert new.resolution_due == cst(2026, 3, 19, 10)
    event = last_event(case)
    assert (event.action, event.from_stage, event.to_stage, event.data) == (
        "escalate", stage, "dispatched", {"department": "chengguan"})
    # The liaison of the department now sees the task.
    tasks = client_for("liaison_chengguan").get(f"{API}/tasks/").json()["tasks"]
    assert [t["id"] for t in tasks] == [new.pk]


@db
@pytest.mark.parametrize("stage", ["closed", "evaluated"])
def test_escalation_after_closure_is_409(reference_data, stage):
    case = case_in_stage(stage)
    before = snapshot(case)
    answer = client_for("office1").post(
        url(case, "escalate"), {"department": Department.objects.get(code="chengguan").pk})
    assert answer.status_code == 409
    assert snapshot(case) == before


@db
def test_a_team_leader_escalates_their_teams_task_and_a_volunteer_may_not(reference_data):
    case = case_in_stage("in_progress")
    department = Department.objects.get(code="chengguan").pk
    before = snapshot(case)
    for outsider in ["hk_vol1", "cw_lead", "rider1"]:  # a member, another team's leader, rider
        answer = client_for(outsider).post(url(case, "escalate"), {"department": department})
        assert answer.status_code == 403, outsider
        assert snapshot(case) == before

    answer = client_for("hk_lead").post(url(case, "escalate"),
                                        {"department": department, "reason": "需要执法"})
    assert answer.status_code == 200
    statuses = list(Task.objects.filter(case=case).order_by("id")
                    .values_list("assignee_kind", "status"))
    assert statuses == [("team", "escalated"), ("department", "offered")]
    # The office hears of it, and so does the leader whose team gave it up.
    notified = set(Notification.objects.filter(case=case, kind="case_escalated")
                   .values_list("recipient__username", flat=True))
    assert notified == {"hk_lead", "office1", "office2"}
    # Now the live task is the department's: the team leader may not escalate it again.
    assert client_for("hk_lead").post(url(case, "escalate"),
                                      {"department": department}).status_code == 403


@db
def test_escalating_a_team_category_needs_a_department(reference_data):
    case = case_in_stage("dispatched")  # E0101: handled by a team, no owner department
    before = snapshot(case)
    answer = client_for("office1").post(url(case, "escalate"))
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "department"
    assert snapshot(case) == before


# --- riders' own needs ------------------------------------------------------------------------


@db
def test_a_riders_need_goes_to_the_union_which_replies_and_closes_it_without_verification(
        reference_data):
    case = app_report("L0201", reporter="rider2", description="万达北门没有停车的地方").case
    assert case.stage == "dispatched"
    task = live_task(case)
    assert (task.assignee_kind, task.team, task.department) == ("union", None, None)

    union = client_for("union1")
    detail = union.get(url(case))
    assert detail.status_code == 200
    assert [r["reporter"] for r in detail.json()["reports"]] == [user("rider2").pk]
    assert "reply" in detail.json()["allowed_actions"]
    assert [t["case"] for t in union.get(f"{API}/tasks/").json()["tasks"]] == [case.pk]

    before = snapshot(case)
    assert union.post(url(case, "reply"), {"note": ""}).status_code == 400
    assert snapshot(case) == before

    replied = union.post(url(case, "reply"), {"note": "已协调物业在北门划出骑手停车区"})
    assert replied.status_code == 200
    assert replied.json()["stage"] == "closed"
    task.refresh_from_db()
    assert task.status == "done" and task.note == "已协调物业在北门划出骑手停车区"
    assert Case.objects.get(pk=case.pk).closed_at is not None
    actions = list(CaseEvent.objects.filter(case=case).values_list("action", flat=True))
    assert actions == ["created", "dispatch", "reply"]  # no hand-in, no verification
    # The rider who asked hears of it and may rate the answer.
    assert Notification.objects.filter(case=case, kind="case_closed",
                                       recipient__username="rider2").count() == 1
    assert client_for("rider2").post(url(case, "rate"), {"score": 5}).json()["stage"] \
        == "evaluated"


# --- merge and split --------------------------------------------------------------------------


@db
def test_merge_moves_every_report_to_the_target_and_cancels_the_source(reference_data):
    t0 = cst(2026, 4, 20, 9)
    source = report("E0101", point=0, reporter="rider1", at=t0).case
    report("E0101", point=0, reporter="rider4", at=t0 + timedelta(hours=1))  # joins source
    target = report("E0102", point=2, reporter="rider2", at=t0).case  # an equivalent category
    report("E0102", point=2, reporter="rider3", at=t0 + timedelta(hours=2))
    case_confirm(case_id=source.pk, position=source.location, rider=user("rider5"))
    moved = sorted(Report.objects.filter(case=source).values_list("pk", flat=True))
    assert len(moved) == 2

    answer = client_for("office1").post(url(source, "merge"), {"into": target.pk})
    assert answer.status_code == 200, answer.content
    assert answer.json()["stage"] == "cancelled"

    source.refresh_from_db()
    target.refresh_from_db()
    assert (source.stage, source.merged_into, source.cancel_reason) == ("cancelled", target,
                                                                        "merged")
    assert not Report.objects.filter(case=source).exists()
    assert sorted(Report.objects.filter(case=target).values_list("pk", flat=True)) == sorted(
        [*moved, *target.reports.exclude(pk__in=moved).values_list("pk", flat=True)])
    # Four reports by four riders now; the confirmation moved with them.
    assert (target.report_count, target.reporter_count) == (4, 4)
    assert target.last_report_at == t0 + timedelta(hours=2)
    assert target.confirmations.filter(rider__username="rider5").exists()
    merge_event = last_event(source)
    assert (merge_event.action, merge_event.from_stage, merge_event.to_stage) == (
        "merge", "new", "cancelled")
    assert merge_event.data == {"into": target.pk, "reports": moved}
    merged_in = last_event(target)
    assert merged_in.action == "merged_in"
    assert merged_in.data == {"from": source.pk, "reports": moved}
    # A merged case leaves the office's queue.
    queue = client_for("office1").get(f"{API}/office/queue/").json()["cases"]
    assert [c["id"] for c in queue] == [target.pk]


@db
def test_merge_into_an_unrelated_category_is_400_and_changes_nothing(reference_data):
    source = report("E0101", point=0).case
    other = report("C0103", point=3).case  # street lamp: not E0101 nor an equivalent
    before = (snapshot(source), snapshot(other))
    answer = client_for("office1").post(url(source, "merge"), {"into": other.pk})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "into"
    assert (snapshot(source), snapshot(other)) == before


@db
def test_a_dispatched_case_cannot_be_merged_away(reference_data):
    source = case_in_stage("dispatched", point=0)
    target = report("E0101", point=3).case
    before = snapshot(source)
    answer = client_for("office1").post(url(source, "merge"), {"into": target.pk})
    assert answer.status_code == 409
    assert snapshot(source) == before


@db
def test_split_moves_the_chosen_reports_to_a_new_case_and_recounts_both(reference_data):
    t0 = cst(2026, 4, 20, 9)
    first = report("E0101", point=0, reporter="rider1", at=t0)
    second = report("E0101", point=0, reporter="rider2", at=t0 + timedelta(hours=1))
    third = report("E0101", point=0, reporter="rider3", at=t0 + timedelta(hours=2))
    case = first.case
    assert second.case == case == third.case
    act(case, "file", "office1", at=t0 + timedelta(hours=3))
    history = list(CaseEvent.objects.filter(case=case).values_list("pk", "action"))

    answer = client_for("office1").post(url(case, "split"), {"reports": [third.pk]},
                                        format="json")
    assert answer.status_code == 200, answer.content
    case.refresh_from_db()
    new = Case.objects.exclude(pk=case.pk).get()
    assert list(new.reports.values_list("pk", flat=True)) == [third.pk]
    assert (new.report_count, new.reporter_count) == (1, 1)
    assert (new.stage, new.category.code) == ("new", "E0101")
    assert new.created_at == new.last_report_at == third.received_at
    assert (case.report_count, case.reporter_count) == (2, 2)
    assert case.last_report_at == second.received_at
    assert case.stage == "filed"  # the original keeps its place in the lifecycle
    # History kept: the old events are untouched, one "split" is added, the new case starts
    # with "split_from".
    events = list(CaseEvent.objects.filter(case=case).order_by("at", "id")
                  .values_list("pk", "action"))
    assert events[:-1] == history and events[-1][1] == "split"
    assert last_event(case).data == {"new_case": new.pk, "reports": [third.pk]}
    assert list(new.events.values_list("action", "data")) == [
        ("split_from", {"from": case.pk, "reports": [third.pk]})]


@db
def test_split_of_all_or_of_foreign_reports_is_400(reference_data):
    t0 = cst(2026, 4, 20, 9)
    first = report("E0101", point=0, at=t0)
    second = report("E0101", point=0, reporter="rider2", at=t0 + timedelta(hours=1))
    foreign = report("E0101", point=4, reporter="rider3", at=t0)
    case = first.case
    before = snapshot(case)
    office = client_for("office1")
    for chosen in ([first.pk, second.pk], [foreign.pk], [first.pk, foreign.pk], []):
        answer = office.post(url(case, "split"), {"reports": chosen}, format="json")
        assert answer.status_code == 400, chosen
        assert snapshot(case) == before
    assert Case.objects.count() == 2


# --- ratings and the evaluation job -----------------------------------------------------------


@db
def test_the_first_rating_evaluates_the_case_and_a_second_by_the_same_rider_is_409(
        reference_data):
    case = case_in_stage("closed")
    rider = client_for("rider1")
    rated = rider.post(url(case, "rate"), {"score": 5, "comment": "很快"})
    assert rated.status_code == 200 and rated.json()["stage"] == "evaluated"
    before = snapshot(case)
    again = rider.post(url(case, "rate"), {"score": 1})
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == "already_rated"
    assert snapshot(case) == before
    assert list(Rating.objects.filter(case=case).values_list("score", "comment")) == [
        (5, "很快")]


@db
@pytest.mark.parametrize("score", [0, 6, -1, "", "五"])
def test_a_score_outside_1_to_5_is_400(reference_data, score):
    case = case_in_stage("closed")
    before = snapshot(case)
    answer = client_for("rider1").post(url(case, "rate"), {"score": score})
    assert answer.status_code == 400
    assert snapshot(case) == before
    assert not Rating.objects.filter(case=case).exists()


@db
def test_a_rating_without_a_score_is_400_naming_the_score_and_changes_nothing(reference_data):
    """The rider's page refuses it before sending (issue 19); the API refuses it too."""
    case = case_in_stage("closed")
    before = snapshot(case)
    answer = client_for("rider1").post(url(case, "rate"), {"comment": "很快"})
    assert answer.status_code == 400
    assert answer.json()["errors"] == [
        {"field": "score", "code": "invalid", "message": "评分须为 1 到 5 之间的整数。"}]
    assert snapshot(case) == before
    assert not Rating.objects.filter(case=case).exists()


@db
def test_reporters_and_confirmers_may_rate_and_nobody_else(reference_data):
    case = report("E0101", reporter="rider1").case
    case_confirm(case_id=case.pk, position=case.location, rider=user("rider2"))
    for action, actor, params in [("file", "office1", {}), ("dispatch", "office1", {}),
                                  ("accept", "hk_vol1", {}),
                                  ("handin", "hk_vol1", {"note": "ok", "photo": proof_photo()}),
                                  ("verify", "office2", {})]:
        act(case, action, actor, **params)
    for outsider in ["rider3", "hk_vol1", "hk_lead", "office1", "union1", "liaison_municipal",
                     "admin"]:
        before = snapshot(case)
        assert client_for(outsider).post(url(case, "rate"), {"score": 5}).status_code == 403, \
            outsider
        assert snapshot(case) == before
    # The confirmer rates first: closed → evaluated; the reporter's later rating is kept too.
    assert client_for("rider2").post(url(case, "rate"), {"score": 2}).json()["stage"] \
        == "evaluated"
    assert client_for("rider1").post(url(case, "rate"), {"score": 4}).json()["stage"] \
        == "evaluated"
    assert sorted(Rating.objects.filter(case=case).values_list("rider__username", "score")) == [
        ("rider1", 4), ("rider2", 2)]
    assert list(CaseEvent.objects.filter(case=case, action="rate")
                .values_list("from_stage", "to_stage")) == [("closed", "evaluated"),
                                                            ("evaluated", "evaluated")]


@db
def test_the_evaluation_job_evaluates_cases_closed_seven_days_ago_and_not_younger(
        reference_data):
    t0 = cst(2026, 5, 11, 9)
    old = case_in_stage("closed", at=t0, point=0)  # closed at t0 + 5 min
    young = case_in_stage("closed", at=t0 + timedelta(days=1), point=3)
    rated = case_in_stage("evaluated", at=t0, point=6)
    old_closed = Case.objects.get(pk=old.pk).closed_at
    assert old_closed == t0 + timedelta(minutes=5)

    # One second short of seven days: nothing is due yet.
    assert cases_evaluate_due(now=old_closed + timedelta(days=7, seconds=-1)) == 0
    # Exactly seven days after the first closure: that one only (the other is six days old).
    now = old_closed + timedelta(days=7)
    assert cases_evaluate_due(now=now) == 1
    assert Case.objects.get(pk=old.pk).stage == "evaluated"
    assert Case.objects.get(pk=young.pk).stage == "closed"
    assert Case.objects.get(pk=rated.pk).stage == "evaluated"
    event = last_event(old)
    assert (event.action, event.actor, event.at, event.from_stage, event.to_stage) == (
        "evaluate", None, now, "closed", "evaluated")
    assert cases_evaluate_due(now=now) == 0  # run again: nothing new
    assert CaseEvent.objects.filter(action="evaluate").count() == 1


# --- the triage queue and its bulk actions ----------------------------------------------------


@db
def test_bulk_file_reports_done_and_refused_cases(reference_data):
    fresh = [report("E0101", point=i).case.pk for i in range(3)]
    filed = case_in_stage("filed", point=5).pk
    missing = max(fresh + [filed]) + 1000
    answer = client_for("office1").post(f"{API}/office/queue/bulk/",
                                        {"action": "file", "cases": [*fresh, filed, missing]},
                                        format="json")
    assert answer.status_code == 200
    body = answer.json()
    assert body["done"] == fresh
    assert [r["case"] for r in body["refused"]] == [filed, missing]
    assert "dispatch" in body["refused"][0]["message"]  # the 409 message names what is allowed
    assert set(Case.objects.filter(pk__in=fresh).values_list("stage", flat=True)) == {"filed"}
    assert CaseEvent.objects.filter(case_id=filed, action="file").count() == 1


@db
def test_bulk_cancel_needs_a_reason_and_records_it(reference_data):
    cases = [report("E0101", point=i).case.pk for i in range(2)]
    dispatched = case_in_stage("dispatched", point=5).pk
    office = client_for("office1")
    before = [snapshot(c) for c in cases]
    missing_reason = office.post(f"{API}/office/queue/bulk/",
                                 {"action": "cancel", "cases": cases}, format="json")
    assert missing_reason.status_code == 400
    assert [snapshot(c) for c in cases] == before

    answer = office.post(f"{API}/office/queue/bulk/",
                         {"action": "cancel", "cases": [*cases, dispatched], "reason": "重复上报"},
                         format="json")
    assert answer.status_code == 200
    assert answer.json()["done"] == cases
    assert [r["case"] for r in answer.json()["refused"]] == [dispatched]
    assert list(Case.objects.filter(pk__in=cases).values_list("stage", "cancel_reason")
                .distinct()) == [("cancelled", "重复上报")]
    assert Case.objects.get(pk=dispatched).stage == "dispatched"


@db
def test_bulk_refuses_unknown_actions(reference_data):
    case = report("E0101").case
    answer = client_for("office1").post(f"{API}/office/queue/bulk/",
                                        {"action": "dispatch", "cases": [case.pk]}, format="json")
    assert answer.status_code == 400
    assert Case.objects.get(pk=case.pk).stage == "new"


@db
def test_the_triage_queue_filters_by_community_category_stage_and_overdue(reference_data):
    now = timezone.now()
    huaifang_garbage = report("E0101", community=HUAIFANG, point=0).case.pk
    huaifang_lamp = report("C0103", community=HUAIFANG, point=3).case.pk
    xingong_garbage = report("E0101", community=XINGONG, point=0).case.pk
    filed = case_in_stage("filed", community=CHENGYUAN, point=0).pk
    # Dispatched ten days ago: its 1-working-day response deadline has long passed.
    late = case_in_stage("dispatched", community=CHENGYUAN, point=3,
                         at=now - timedelta(days=10)).pk
    on_time = case_in_stage("dispatched", community=CHENGYUAN, point=6).pk
    assert live_task(late).response_due < now < live_task(on_time).response_due

    office = client_for("office1")

    def ids(**query) -> set[int]:
        answer = office.get(f"{API}/office/queue/", query)
        assert answer.status_code == 200, answer.content
        return {c["id"] for c in answer.json()["cases"]}

    assert ids() == {huaifang_garbage, huaifang_lamp, xingong_garbage}  # stage new by default
    assert ids(community=HUAIFANG) == {huaifang_garbage, huaifang_lamp}
    assert ids(category="E0101") == {huaifang_garbage, xingong_garbage}
    assert ids(community=HUAIFANG, category="E0101") == {huaifang_garbage}
    assert ids(community="110106005999") == set()  # no such community: no case
    assert ids(stage="filed") == {filed}
    assert ids(stage=["filed", "dispatched"]) == {filed, late, on_time}
    assert ids(stage="dispatched", overdue="true") == {late}
    assert ids(stage=["new", "filed", "dispatched"], overdue="true") == {late}
    assert office.get(f"{API}/office/queue/", {"stage": "lost"}).status_code == 400


def test_the_stages_said_to_have_a_live_task_are_the_ones_the_lifecycle_gives_one():
    """The overdue queue keeps to STAGES_WITH_LIVE_TASK: every transition that leaves a live
    task (or offers one) must end in one of those stages."""
    from issues.models import LIVE_TASK_STATUSES
    from patrol.selectors import STAGES_WITH_LIVE_TASK

    for action, rule in TRANSITIONS.items():
        leaves_live = rule.task_to in LIVE_TASK_STATUSES or action in {"dispatch", "escalate"}
        if leaves_live and rule.case_to is not None:
            assert rule.case_to in STAGES_WITH_LIVE_TASK, action
