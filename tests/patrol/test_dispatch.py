"""Dispatch with judgement (issue 17, D-058): the routing's suggestion saying which rule chose
it, every handler with its open and overdue load, a resolution deadline within bounds with its
reason in the history, a priority that orders the queues, shortens deadlines and raises alerts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from civicmap.models import CommunityGrid
from issues.models import Case, CaseEvent, Category, Priority, priority_for_urgency
from patrol.deadlines import (
    DEADLINE_MAX_FACTOR,
    DEADLINE_MIN_AHEAD,
    priority_factor,
    task_deadline,
)
from patrol.models import Department, Notification, RoutingRule, VolunteerTeam
from patrol.routing import Target, TeamLoad, route_choose
from patrol.selectors import QueueFilters, task_list_for_user, triage_queue
from patrol.services.alerts import tasks_overdue_scan
from tests.patrol.helpers import (
    API,
    HUAIFANG,
    XINGONG,
    act,
    client_for,
    cst,
    live_task,
    report,
    snapshot,
    user,
)

pytestmark = pytest.mark.django_db


def options(case, username: str = "office1") -> dict:
    answer = client_for(username).get(f"{API}/cases/{case.pk}/dispatch-options/")
    assert answer.status_code == 200, answer.content
    return answer.json()


def filed(category: str = "E0101", *, community: str = HUAIFANG, point: int = 0, at=None):
    case = report(category, community=community, point=point, at=at).case
    act(case, "file", "office1", at=at + timedelta(minutes=1) if at else None)
    return Case.objects.get(pk=case.pk)


def dispatch(case, **body):
    return client_for("office1").post(f"{API}/cases/{case.pk}/dispatch/", body, format="json")


# --- the suggestion says which rule chose it ----------------------------------------------------


def test_route_choose_says_which_target_decided():
    teams = [TeamLoad(1, "civility", 3), TeamLoad(2, "housekeeper", 1)]
    rule = Target("team_type", team_type="civility", reach=1, rule_id=7)
    handler = Target("team_type", team_type="housekeeper")
    assert route_choose(rules=[rule], handler=handler, teams=teams).by == rule
    assert route_choose(rules=[], handler=handler, teams=teams).by == handler
    # No team of the handler's type: the locality (the least busy team) decides, no target.
    nobody = Target("team_type", team_type="sunset")
    chosen = route_choose(rules=[], handler=nobody, teams=teams)
    assert (chosen.team_id, chosen.by) == (2, None)


def test_the_suggestion_comes_first_and_names_its_rule(reference_data):
    case = filed("E0101")
    answer = options(case)
    # No rule for E0101 in Nanyuan: the category's default handler, a housekeeper team.
    assert answer["suggestion"]["rule"]["source"] == "default"
    assert answer["suggestion"]["kind"] == "team"
    assert answer["handlers"][0]["suggested"] is True
    assert answer["handlers"][0]["id"] == answer["suggestion"]["id"]
    assert sum(h["suggested"] for h in answer["handlers"]) == 1

    civility = VolunteerTeam.objects.get(code="civility_east")
    rule = RoutingRule.objects.create(
        category=Category.objects.get(code="E0101"), target="team", team=civility,
        community=CommunityGrid.objects.get(code=HUAIFANG))
    answer = options(case)
    assert answer["suggestion"]["id"] == civility.pk
    assert answer["suggestion"]["rule"] == {
        "source": "rule", "rule": rule.pk, "reach": "community",
        "text": f"本类别在案卷所在社区的分派规则 #{rule.pk}"}
    english = client_for("office1").get(f"{API}/cases/{case.pk}/dispatch-options/",
                                        HTTP_ACCEPT_LANGUAGE="en").json()
    assert english["suggestion"]["rule"]["text"] == (
        f"Routing rule #{rule.pk} for this category in the case's community")


# --- every handler with its load ----------------------------------------------------------------


def test_every_handler_of_the_place_with_its_open_and_overdue_tasks(
        reference_data, django_assert_max_num_queries):
    team = VolunteerTeam.objects.get(code="civility_west")
    long_ago = timezone.now() - timedelta(days=30)
    # Two live tasks of the team: one offered a month ago (past its response deadline), one
    # offered now; a third, done, is not load.
    old = filed("E0105", community=XINGONG, point=0, at=long_ago)
    act(old, "dispatch", "office1", team=team.pk, at=long_ago + timedelta(minutes=2))
    fresh = filed("E0105", community=XINGONG, point=1)
    act(fresh, "dispatch", "office1", team=team.pk)
    case = filed("E0101")
    with django_assert_max_num_queries(12):
        answer = options(case)
    rows = {(h["kind"], h["code"]): h for h in answer["handlers"]}
    assert (rows[("team", "civility_west")]["open"],
            rows[("team", "civility_west")]["overdue"]) == (2, 1)
    assert rows[("team", "civility_east")]["open"] == 0
    # Nanyuan's teams and the district's departments; not Heyi's or Donggaodi's own.
    teams = set(VolunteerTeam.objects.filter(subdistrict=case.subdistrict_id)
                .values_list("code", flat=True))
    departments = set(Department.objects.filter(subdistrict__isnull=True)
                      .values_list("code", flat=True))
    assert {code for kind, code in rows if kind == "team"} == teams
    assert {code for kind, code in rows if kind == "department"} == departments
    assert ("department", "heyi_property_office") not in rows


def test_heyi_office_reads_no_dispatch_options_of_a_nanyuan_case(reference_data):
    case = filed("E0101")
    answer = client_for("office_heyi1").get(f"{API}/cases/{case.pk}/dispatch-options/")
    assert answer.status_code == 403
    assert client_for("hk_lead").get(
        f"{API}/cases/{case.pk}/dispatch-options/").status_code == 403


# --- a deadline within bounds, with its reason in the history --------------------------------


def test_a_chosen_handler_and_deadline_inside_the_bounds_with_a_reason(reference_data):
    case = filed("E0101")
    team = VolunteerTeam.objects.get(code="civility_east")  # not the suggestion
    bounds = options(case)["deadline"]
    due = timezone.now() + timedelta(hours=30)
    answer = dispatch(case, team=team.pk, resolution_due=due.isoformat(),
                      reason="周末有集市，需提前清理")
    assert answer.status_code == 200, answer.content
    assert bounds["earliest"] < due.isoformat() < bounds["latest"]
    task = live_task(case)
    assert task.team_id == team.pk
    assert abs(task.resolution_due - due) < timedelta(seconds=1)
    assert task.response_due <= task.resolution_due
    event = CaseEvent.objects.get(case=case, action="dispatch")
    assert event.note == "周末有集市，需提前清理"
    assert abs(datetime.fromisoformat(event.data["resolution_due"]) - due) < timedelta(seconds=1)
    history = client_for("office1").get(f"{API}/cases/{case.pk}/events/").json()["events"]
    assert any(e["action"] == "dispatch" and e["note"] == "周末有集市，需提前清理"
               for e in history)


@pytest.mark.parametrize("where", ["too_early", "too_late"])
def test_a_deadline_outside_the_bounds_is_400_naming_it_and_nothing_is_written(
        reference_data, where):
    case = filed("E0101")
    category = case.category
    now = timezone.now()
    default = task_deadline(now, category.resolution_deadline, category.resolution_unit)
    due = (now + DEADLINE_MIN_AHEAD / 2 if where == "too_early"
           else now + (default - now) * DEADLINE_MAX_FACTOR + timedelta(hours=1))
    before = snapshot(case)
    answer = dispatch(case, resolution_due=due.isoformat(), reason="原因")
    assert answer.status_code == 400, answer.content
    errors = answer.json()["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("resolution_due", "out_of_bounds")]
    assert snapshot(case) == before
    assert not Notification.objects.filter(case=case, kind="task_offered").exists()


def test_a_changed_deadline_without_a_reason_is_400_naming_the_reason(reference_data):
    case = filed("E0101")
    before = snapshot(case)
    answer = dispatch(case, resolution_due=(timezone.now() + timedelta(hours=30)).isoformat())
    assert answer.status_code == 400
    assert [e["field"] for e in answer.json()["errors"]] == ["reason"]
    assert snapshot(case) == before


def test_the_default_deadline_sent_back_needs_no_reason(reference_data):
    case = filed("E0101")
    default = options(case)["deadline"]["resolution_default"]
    answer = dispatch(case, resolution_due=default)
    assert answer.status_code == 200, answer.content
    assert CaseEvent.objects.get(case=case, action="dispatch").note == ""


# --- the priority -------------------------------------------------------------------------------


def test_prioritise_sets_the_priority_with_its_reason_in_the_history(reference_data):
    case = filed("E0101")
    answer = client_for("office1").post(f"{API}/cases/{case.pk}/prioritise/",
                                        {"priority": "urgent", "reason": "学校门口"},
                                        format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["priority"] == "urgent"
    assert answer.json()["stage"] == "filed"
    assert Case.objects.get(pk=case.pk).priority == Priority.URGENT
    event = CaseEvent.objects.filter(case=case).order_by("id").last()
    assert (event.action, event.note, event.data) == (
        "prioritise", "学校门口", {"from": "normal", "to": "urgent"})
    assert (event.from_stage, event.to_stage) == ("filed", "filed")


@pytest.mark.parametrize(("body", "fields"), [
    ({"priority": "extreme", "reason": "x"}, ["priority"]),
    ({"priority": "urgent"}, ["reason"]),
    ({"priority": "normal", "reason": "x"}, ["priority"]),  # already normal
    ({"reason": "x"}, ["priority"]),
])
def test_a_bad_priority_is_400_naming_the_field_and_changes_nothing(reference_data, body,
                                                                     fields):
    case = filed("E0101")
    before = snapshot(case)
    answer = client_for("office1").post(f"{API}/cases/{case.pk}/prioritise/", body,
                                        format="json")
    assert answer.status_code == 400, answer.content
    assert [e["field"] for e in answer.json()["errors"]] == fields
    assert snapshot(case) == before
    assert Case.objects.get(pk=case.pk).priority == Priority.NORMAL


def test_a_team_may_not_prioritise(reference_data):
    case = filed("E0101")
    answer = client_for("hk_lead").post(f"{API}/cases/{case.pk}/prioritise/",
                                        {"priority": "urgent", "reason": "x"}, format="json")
    assert answer.status_code == 403


def test_intake_gives_the_priority_of_the_category_urgency(reference_data):
    assert report("E0101").case.priority == Priority.NORMAL  # normal
    assert report("C0101", point=1).case.priority == Priority.HIGH  # urgent
    assert report("E0401", point=2).case.priority == Priority.URGENT  # emergency
    assert priority_for_urgency("emergency") == Priority.URGENT


# --- priority shortens deadlines by one rule ---------------------------------------------------


@pytest.mark.parametrize(("priority", "factor"), [("urgent", 0.5), ("high", 0.75),
                                                   ("normal", 1.0)])
def test_priority_shortens_the_category_deadlines(reference_data, priority, factor):
    at = cst(2026, 6, 2, 10, 0)  # a Tuesday
    case = filed("E0101", at=at - timedelta(minutes=5))
    if priority != "normal":
        act(case, "prioritise", "office1", at=at - timedelta(minutes=1), priority=priority,
            reason="影响通行")
    act(case, "dispatch", "office1", at=at)
    task = live_task(case)
    category = case.category
    assert task.response_due == task_deadline(at, category.response_deadline,
                                              category.response_unit, factor=factor)
    assert task.resolution_due == task_deadline(at, category.resolution_deadline,
                                                category.resolution_unit, factor=factor)
    full = task_deadline(at, category.resolution_deadline, category.resolution_unit)
    assert task.resolution_due - at == (full - at) * factor


def test_the_factor_is_relative_to_the_category_urgency():
    assert priority_factor(priority=Priority.URGENT, urgency="normal") == 0.5
    assert priority_factor(priority=Priority.URGENT, urgency="emergency") == 1.0
    assert priority_factor(priority=Priority.URGENT, urgency="urgent") == pytest.approx(2 / 3)
    assert priority_factor(priority=Priority.NORMAL, urgency="emergency") == 1.0


def test_a_priority_chosen_at_dispatch_is_recorded_and_shortens(reference_data):
    case = filed("E0101")
    answer = dispatch(case, priority="high", reason="靠近学校")
    assert answer.status_code == 200, answer.content
    actions = list(CaseEvent.objects.filter(case=case).order_by("id")
                   .values_list("action", "note"))
    assert actions[-2:] == [("prioritise", "靠近学校"), ("dispatch", "")]
    task = live_task(case)
    full = task_deadline(task.offered_at, case.category.resolution_deadline,
                         case.category.resolution_unit)
    assert task.resolution_due - task.offered_at == (full - task.offered_at) * 0.75


# --- alerts ---------------------------------------------------------------------------------


def test_an_urgent_dispatch_alerts_the_office_and_the_handler(reference_data):
    case = filed("E0101")
    team = VolunteerTeam.objects.get(code="civility_east")
    act(case, "prioritise", "office1", priority="urgent", reason="燃气味")
    act(case, "dispatch", "office1", team=team.pk)
    told = set(Notification.objects.filter(case=case, kind="case_urgent")
               .values_list("recipient__username", flat=True))
    assert {"office1", "office2", team.leader.username} <= told
    assert "office_heyi1" not in told and "office_district" not in told
    row = Notification.objects.filter(case=case, kind="case_urgent").first()
    assert row.data["handler"]["zh"] == team.name_zh
    feed = client_for(team.leader.username).get(f"{API}/notifications/",
                                                HTTP_ACCEPT_LANGUAGE="en").json()
    texts = [item["message"] for item in feed["notifications"] if item["kind"] == "case_urgent"]
    assert texts and texts[0].startswith(f"Urgent: case #{case.pk}")


def test_a_normal_dispatch_raises_no_urgent_alert(reference_data):
    case = filed("E0101")
    act(case, "dispatch", "office1")
    assert not Notification.objects.filter(case=case, kind="case_urgent").exists()


def test_the_overdue_scan_alerts_urgent_cases_first(reference_data, monkeypatch):
    long_ago = timezone.now() - timedelta(days=30)
    normal = filed("E0101", point=0, at=long_ago)
    act(normal, "dispatch", "office1", at=long_ago + timedelta(minutes=2))
    urgent = filed("E0101", point=1, at=long_ago + timedelta(hours=1))
    act(urgent, "prioritise", "office1", priority="urgent", reason="x",
        at=long_ago + timedelta(hours=1, minutes=2))
    act(urgent, "dispatch", "office1", at=long_ago + timedelta(hours=1, minutes=3))
    seen = []
    monkeypatch.setattr("patrol.services.alerts.notify",
                        lambda *, kind, task, at: seen.append((kind, task.case_id)))
    tasks_overdue_scan()
    assert [case for kind, case in seen if kind == "task_response_overdue"] == [
        urgent.pk, normal.pk]


# --- queues ordered by priority ------------------------------------------------------------


def test_the_queues_put_the_most_urgent_first(reference_data):
    at = cst(2026, 6, 2, 10, 0)
    older = filed("E0101", point=0, at=at)
    newer = filed("E0101", point=1, at=at + timedelta(hours=1))
    act(older, "prioritise", "office1", priority="high", reason="x",
        at=at + timedelta(hours=2))
    queue = list(triage_queue(user=user("office1"),
                              filters=QueueFilters(stages=("filed",))))
    assert [c.pk for c in queue][:2] == [older.pk, newer.pk]
    team = VolunteerTeam.objects.get(code="housekeeper")
    # The newer case's deadline is the earlier one; the high one still comes first.
    act(newer, "dispatch", "office1", team=team.pk, at=at + timedelta(hours=3))
    act(older, "dispatch", "office1", team=team.pk, at=at + timedelta(hours=4))
    tasks = task_list_for_user(user=user(team.leader.username))
    assert [t.case_id for t in tasks][:2] == [older.pk, newer.pk]
    listed = client_for(team.leader.username).get(f"{API}/tasks/").json()["tasks"]
    assert [(t["case"], t["priority"]) for t in listed][:2] == [
        (older.pk, "high"), (newer.pk, "normal")]


def test_a_task_follows_its_case_priority(reference_data):
    case = filed("E0101")
    act(case, "dispatch", "office1")
    assert live_task(case).priority == Priority.NORMAL
    act(case, "prioritise", "office1", priority="urgent", reason="燃气味")
    assert live_task(case).priority == Priority.URGENT
    # A live task keeps its deadlines; the office and the handler hear at once.
    assert Notification.objects.filter(case=case, kind="case_urgent").exists()


def test_a_redispatch_takes_a_handler_and_a_deadline_with_its_reason(reference_data):
    case = filed("E0101")
    act(case, "dispatch", "office1")
    answer = options(case)
    assert answer["action"] == "redispatch"
    department = Department.objects.get(code="chengguan")
    due = timezone.now() + timedelta(hours=5)
    reply = client_for("office1").post(
        f"{API}/cases/{case.pk}/redispatch/",
        {"department": department.pk, "resolution_due": due.isoformat(), "reason": "需执法"},
        format="json")
    assert reply.status_code == 200, reply.content
    task = live_task(case)
    assert (task.department_id, task.team_id) == (department.pk, None)
    assert abs(task.resolution_due - due) < timedelta(seconds=1)
    assert CaseEvent.objects.filter(case=case, action="redispatch").get().note == "需执法"
    # A department of another subdistrict is no choice: 400 naming it, nothing written.
    before = snapshot(case)
    heyi = Department.objects.get(code="heyi_property_office")
    refused = client_for("office1").post(f"{API}/cases/{case.pk}/redispatch/",
                                         {"department": heyi.pk}, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "department"
    assert snapshot(case) == before


def test_an_escalation_goes_only_to_a_department_serving_the_case(reference_data):
    case = filed("E0101")
    before = snapshot(case)
    heyi = Department.objects.get(code="heyi_property_office")
    refused = client_for("office1").post(f"{API}/cases/{case.pk}/escalate/",
                                         {"department": heyi.pk, "reason": "转交"},
                                         format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "department"
    assert snapshot(case) == before
    district = Department.objects.get(code="chengguan")
    act(case, "escalate", "office1", department=district.pk, reason="需执法")
    assert live_task(case).department_id == district.pk
