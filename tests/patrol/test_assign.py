"""A team leader gives a team's task to a member and gives it to another (issue 19): the
member is told once, the case's history names them, the task list marks it theirs; a stranger,
another team's member, a switched-off account or someone who is not the leader is refused
naming the field, nothing changed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from civicmap.errors import InvalidInput, PermissionRefused
from patrol.models import Notification
from patrol.notifications.content import notification_messages
from patrol.services.lifecycle import MSG_NOT_MEMBER
from tests.patrol.helpers import (
    API,
    act,
    case_in_stage,
    client_for,
    last_event,
    live_task,
    snapshot,
    user,
)

pytestmark = pytest.mark.django_db


def _assigned(case, username: str) -> list[Notification]:
    return list(Notification.objects.filter(case=case, kind="task_assigned",
                                            recipient=user(username)))


def test_the_leader_assigns_then_reassigns_and_each_member_hears_once(reference_data):
    case = case_in_stage("dispatched")  # offered to 南苑管家 (hk_lead, hk_vol1…3)
    at = timezone.now()
    act(case, "assign", "hk_lead", at=at, assignee=user("hk_vol3").pk)
    assert live_task(case).assignee == user("hk_vol3")
    event = last_event(case)
    assert (event.action, event.actor, event.data) == ("assign", user("hk_lead"),
                                                       {"assignee": user("hk_vol3").pk})
    [told] = _assigned(case, "hk_vol3")
    assert told.task == live_task(case)
    # Only the member: the rest of the team heard of the task when it was offered.
    assert Notification.objects.filter(case=case, kind="task_assigned").count() == 1
    assert notification_messages(kind="task_assigned", data=told.data, case_id=case.pk) == {
        "zh-hans": f"队长把案件 #{case.pk}（{told.data['category_name']['zh']}）交给了您，"
                   "现在由您来处理。",
        "en": f"Your team leader has given you case #{case.pk} "
              f"({told.data['category_name']['en']}): it is yours to do now.",
    }

    act(case, "assign", "hk_lead", at=at + timedelta(minutes=5), assignee=user("hk_vol2").pk)
    assert live_task(case).assignee == user("hk_vol2")
    assert len(_assigned(case, "hk_vol2")) == 1
    assert len(_assigned(case, "hk_vol3")) == 1  # not told again of the one they lost


def test_an_assignment_to_someone_outside_the_team_changes_nothing(reference_data):
    case = case_in_stage("dispatched")
    before = snapshot(case)
    for stranger in ["cw_vol1", "office1", "rider1"]:  # another team's, the office, a rider
        with pytest.raises(InvalidInput) as refused:
            act(case, "assign", "hk_lead", assignee=user(stranger).pk)
        [error] = refused.value.errors
        assert (error.field, error.code, str(error.message)) == (
            "assignee", "not_member", str(MSG_NOT_MEMBER))
    with pytest.raises(InvalidInput) as refused:
        act(case, "assign", "hk_lead")
    assert [(e.field, e.code) for e in refused.value.errors] == [("assignee", "required")]
    assert snapshot(case) == before
    assert live_task(case).assignee is None
    assert not Notification.objects.filter(kind="task_assigned").exists()


def test_a_switched_off_member_is_refused(reference_data):
    case = case_in_stage("dispatched")
    member = user("hk_vol3")
    member.is_active = False
    member.save(update_fields=["is_active"])
    with pytest.raises(InvalidInput):
        act(case, "assign", "hk_lead", assignee=member.pk)
    assert live_task(case).assignee is None


def test_a_member_who_is_not_the_leader_may_not_assign(reference_data):
    case = case_in_stage("dispatched")
    before = snapshot(case)
    with pytest.raises(PermissionRefused):
        act(case, "assign", "hk_vol1", assignee=user("hk_vol2").pk)
    assert snapshot(case) == before


# --- through the API ------------------------------------------------------------------------


def test_the_api_assigns_and_offers_the_leader_the_team_as_choices(reference_data):
    case = case_in_stage("dispatched")
    leader = client_for("hk_lead")
    detail = leader.get(f"{API}/cases/{case.pk}/").json()
    members = {member["id"]: member for member in detail["assign_to"]}
    team = live_task(case).team
    assert set(members) == {team.leader_id, *team.members.values_list("pk", flat=True)}
    assert user("hk_vol3").pk in members and user("cw_vol1").pk not in members
    assert not any(member["current"] for member in members.values())

    answer = leader.post(f"{API}/cases/{case.pk}/assign/", {"assignee": user("hk_vol2").pk})
    assert answer.status_code == 200
    current = [m["id"] for m in answer.json()["assign_to"] if m["current"]]
    assert current == [user("hk_vol2").pk]
    # A member is not offered the picker; the task list marks the task theirs.
    member = client_for("hk_vol2")
    assert "assign_to" not in member.get(f"{API}/cases/{case.pk}/").json()
    [row] = [t for t in member.get(f"{API}/tasks/").json()["tasks"] if t["case"] == case.pk]
    assert row["assigned_to_me"] is True
    [row] = [t for t in client_for("hk_vol1").get(f"{API}/tasks/").json()["tasks"]
             if t["case"] == case.pk]
    assert row["assigned_to_me"] is False


def test_the_api_refuses_an_outsider_in_the_error_shape_in_chinese(reference_data):
    case = case_in_stage("dispatched")
    before = snapshot(case)
    answer = client_for("hk_lead").post(f"{API}/cases/{case.pk}/assign/",
                                        {"assignee": user("cw_vol1").pk})
    assert answer.status_code == 400
    [error] = answer.json()["errors"]
    assert (error["field"], error["code"]) == ("assignee", "not_member")
    assert error["message"] == "此人不是该任务所属队伍的在册队员。"
    assert snapshot(case) == before

    answer = client_for("hk_vol1").post(f"{API}/cases/{case.pk}/assign/",
                                        {"assignee": user("hk_vol2").pk})
    assert answer.status_code == 403
    assert snapshot(case) == before
