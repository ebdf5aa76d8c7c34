"""Transferring a case to a bordering subdistrict (issue 16, docs/DECISIONS.md D-053): the
receiving office gets it filed afresh (or dispatched there at once when its category is
dispatched on intake) with fresh deadlines, an open offer ends, both offices hear of it; every
bad input is a 4xx in the error shape that writes nothing.

The places are worked out from the demo geography in the database: a point inside Nanyuan a
given number of metres from its border with 和义 (Heyi), and one inside Heyi (which does not
border 东高地, Donggaodi).
"""

from __future__ import annotations

import pytest

from civicmap.models import Subdistrict
from issues.models import Case, CaseAction, CaseEvent, Stage, TaskStatus
from issues.services.intake import OPEN311_CHANNEL, ReportInput, report_create
from patrol.models import Department, Notification, Task
from patrol.notifications.content import notification_messages
from patrol.services.lifecycle import TRANSFER_REACH_M, case_allowed_actions, task_deadline
from tests.patrol.helpers import (
    API,
    HUAIFANG,
    act,
    case_in_stage,
    client_for,
    cst,
    live_task,
    near_border,
    snapshot,
    user,
)

NANYUAN, HEYI, DONGGAODI = "110106005", "110106016", "110106006"
T0 = cst(2026, 9, 14, 9)  # a Monday
REASON = "位于和义街道一侧的人行道"

db = pytest.mark.django_db


def case_at(lonlat: tuple[float, float], *, category: str = "E0101") -> Case:
    """A new case from one report at the point (through the intake service)."""
    data = ReportInput(category_code=category, lon=lonlat[0], lat=lonlat[1])
    return report_create(channel=OPEN311_CHANNEL, data=data, reporter=user("rider1"),
                         received_at=T0).report.case


def nanyuan_case_near_heyi(**kwargs) -> Case:
    return case_at(near_border(NANYUAN, HEYI, 60), **kwargs)


def url(case: Case, action: str = "") -> str:
    return f"{API}/cases/{case.pk}/{action + '/' if action else ''}"


def untouched(case: Case) -> tuple:
    """What a refused transfer must leave as it was: the lifecycle's snapshot, the case's
    place, the notifications."""
    fresh = Case.objects.get(pk=case.pk)
    return (snapshot(case), fresh.subdistrict_id, fresh.community_grid_id, fresh.unit_grid_id,
            Notification.objects.count())


def office_recipients(case: Case, kind: str = "case_transferred") -> set[str]:
    return set(Notification.objects.filter(case=case, kind=kind)
               .values_list("recipient__username", flat=True))


# --- the happy paths ----------------------------------------------------------------------------


@db
def test_office_transfers_a_filed_case_near_the_border_to_heyi(reference_data):
    case = nanyuan_case_near_heyi()
    act(case, CaseAction.FILE, "office1", at=cst(2026, 9, 14, 10))
    answer = client_for("office1").post(url(case, CaseAction.TRANSFER),
                                        {"subdistrict": HEYI, "reason": REASON})
    assert answer.status_code == 200, answer.content

    case.refresh_from_db()
    heyi = Subdistrict.objects.get(code=HEYI)
    assert (case.stage, case.subdistrict_id) == (Stage.FILED, heyi.pk)
    # It takes Heyi's grids (nearest its location): Heyi's routing, map and statistics.
    assert case.community_grid.subdistrict_id == heyi.pk
    assert case.unit_grid.community_id == case.community_grid_id
    # Its reports stay where they were made.
    assert set(case.reports.values_list("subdistrict__code", flat=True)) == {NANYUAN}
    event = CaseEvent.objects.filter(case=case).order_by("at", "id").last()
    assert (event.action, event.from_stage, event.to_stage, event.note, event.data,
            event.actor.username) == (CaseAction.TRANSFER, Stage.FILED, Stage.FILED, REASON,
                                      {"from": NANYUAN, "to": HEYI}, "office1")
    # Both offices hear of it; Donggaodi's does not, nor the district role (D-051: it reads
    # every queue, it is not sent each case).
    assert office_recipients(case) == {"office1", "office2", "office_heyi1"}
    note = Notification.objects.filter(case=case, kind="case_transferred").first()
    assert (note.data["from"]["zh"], note.data["to"]["zh"], note.data["reason"]) == (
        "南苑街道", "和义街道", REASON)
    texts = notification_messages(kind=note.kind, data=note.data, case_id=case.pk)
    assert texts == {"zh-hans": f"案件 #{case.pk} 已从南苑街道移交至和义街道：{REASON}",
                     "en": f"Case #{case.pk} was transferred from Nanyuan Subdistrict to Heyi "
                           f"Subdistrict: {REASON}"}
    # The receiving office owns it now: Heyi's office may transfer it, Nanyuan's no longer.
    assert CaseAction.TRANSFER in case_allowed_actions(case=case, actor=user("office_heyi1"))
    assert CaseAction.TRANSFER not in case_allowed_actions(case=case, actor=user("office1"))
    refused = client_for("office1").post(url(case, CaseAction.TRANSFER),
                                         {"subdistrict": NANYUAN, "reason": "退回"})
    assert refused.status_code in {403, 404}


@db
def test_a_dispatched_case_ends_its_offer_and_gets_fresh_deadlines_in_heyi(reference_data):
    case = nanyuan_case_near_heyi()
    act(case, CaseAction.FILE, "office1", at=cst(2026, 9, 14, 10))
    act(case, CaseAction.DISPATCH, "office1", at=cst(2026, 9, 14, 11))
    offer = live_task(case)
    # The task keeps a copy of its case's subdistrict (a trigger), and follows the transfer.
    assert Task.objects.get(pk=offer.pk).subdistrict.code == NANYUAN
    moved_at, dispatched_at = cst(2026, 9, 15, 9), cst(2026, 9, 16, 14)
    act(case, CaseAction.TRANSFER, "office1", at=moved_at, subdistrict=HEYI, reason=REASON)

    offer.refresh_from_db()
    assert (offer.status, offer.finished_at) == (TaskStatus.TRANSFERRED, moved_at)
    assert offer.subdistrict.code == HEYI
    assert live_task(case) is None
    case.refresh_from_db()
    assert case.stage == Stage.FILED
    event = CaseEvent.objects.filter(case=case, action=CaseAction.TRANSFER).get()
    assert (event.from_stage, event.task_id) == (Stage.DISPATCHED, offer.pk)

    # Heyi's office dispatches it: the new task's deadlines run from then.
    municipal = Department.objects.get(code="municipal")
    act(case, CaseAction.DISPATCH, "office_heyi1", at=dispatched_at, department=municipal.pk)
    fresh = live_task(case)
    category = case.category
    assert (fresh.offered_at, fresh.response_due, fresh.resolution_due) == (
        dispatched_at,
        task_deadline(dispatched_at, category.response_deadline, category.response_unit),
        task_deadline(dispatched_at, category.resolution_deadline, category.resolution_unit))


@db
def test_an_auto_dispatched_category_is_dispatched_again_on_the_receiving_side(reference_data):
    """A road collapse is dispatched on intake; moved by the district's office, it is
    dispatched at once in Heyi with deadlines from the transfer."""
    case = nanyuan_case_near_heyi(category="E0401")
    first = live_task(case)
    assert case.stage == Stage.DISPATCHED and first is not None
    moved_at = cst(2026, 9, 14, 15)
    act(case, CaseAction.TRANSFER, "office_district", at=moved_at, subdistrict=HEYI,
        reason=REASON)

    case.refresh_from_db()
    first.refresh_from_db()
    fresh = live_task(case)
    assert case.stage == Stage.DISPATCHED
    assert first.status == TaskStatus.TRANSFERRED
    assert fresh.pk != first.pk and fresh.offered_at == moved_at
    assert fresh.resolution_due == task_deadline(moved_at, case.category.resolution_deadline,
                                                 case.category.resolution_unit)
    actions = list(CaseEvent.objects.filter(case=case, at=moved_at).order_by("id")
                   .values_list("action", "from_stage", "to_stage", "note"))
    assert actions == [(CaseAction.TRANSFER, Stage.DISPATCHED, Stage.FILED, REASON),
                       (CaseAction.DISPATCH, Stage.FILED, Stage.DISPATCHED, "auto")]
    assert {"office1", "office_heyi1"} <= office_recipients(case)


@db
def test_the_case_detail_offers_the_bordering_subdistricts_in_reach(reference_data):
    near, far = nanyuan_case_near_heyi(), case_in_stage("new", community=HUAIFANG)
    office = client_for("office1")
    detail = office.get(url(near)).json()
    assert CaseAction.TRANSFER in detail["allowed_actions"]
    assert [place["code"] for place in detail["transfer_to"]] == [HEYI]
    assert office.get(url(far)).json()["transfer_to"] == []
    # Not offered to whoever may not transfer it.
    assert "transfer_to" not in client_for("office_heyi1").get(url(near)).json()


# --- refusals -----------------------------------------------------------------------------------


def _heyi_case() -> Case:
    heyi = Subdistrict.objects.get(code=HEYI).boundary.point_on_surface
    return case_at((heyi.x, heyi.y))


@db
@pytest.mark.parametrize(("target", "actor", "code"), [
    pytest.param("110106999", "office1", "unknown", id="unknown-code"),
    pytest.param("南苑", "office1", "unknown", id="not-a-code"),
    pytest.param("", "office1", "unknown", id="missing"),
    pytest.param(NANYUAN, "office1", "same", id="same-subdistrict"),
    pytest.param(DONGGAODI, "office_heyi1", "not_bordering", id="heyi-to-donggaodi"),
])
def test_a_bad_target_is_400_naming_the_field_and_writes_nothing(reference_data, target, actor,
                                                                  code):
    case = _heyi_case() if actor == "office_heyi1" else nanyuan_case_near_heyi()
    assert case.subdistrict.code == (HEYI if actor == "office_heyi1" else NANYUAN)
    before = untouched(case)
    answer = client_for(actor).post(url(case, CaseAction.TRANSFER),
                                    {"subdistrict": target, "reason": REASON})
    assert answer.status_code == 400, answer.content
    errors = answer.json()["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("subdistrict", code)]
    assert errors[0]["message"]
    assert untouched(case) == before


@db
def test_a_case_far_from_the_border_is_400_with_the_distance_and_the_rule(reference_data):
    case = case_at(near_border(NANYUAN, HEYI, 3 * TRANSFER_REACH_M))
    before = untouched(case)
    answer = client_for("office1").post(url(case, CaseAction.TRANSFER),
                                        {"subdistrict": HEYI, "reason": REASON},
                                        HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 400
    error = answer.json()["errors"][0]
    assert (error["field"], error["code"]) == ("subdistrict", "too_far")
    assert "Heyi" in error["message"] and f"{TRANSFER_REACH_M} m" in error["message"]
    assert untouched(case) == before


@db
def test_a_transfer_without_a_reason_names_both_problems_in_chinese_by_default(reference_data):
    case = nanyuan_case_near_heyi()
    before = untouched(case)
    answer = client_for("office1").post(url(case, CaseAction.TRANSFER),
                                        {"subdistrict": NANYUAN})
    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("reason", "required"),
                                                        ("subdistrict", "same")]
    assert errors[1]["message"] == "该案件已属于这个街道。"
    assert untouched(case) == before


@db
def test_a_closed_case_is_409_naming_the_allowed_actions(reference_data):
    case = case_in_stage("closed")
    before = untouched(case)
    answer = client_for("office1").post(url(case, CaseAction.TRANSFER),
                                        {"subdistrict": HEYI, "reason": REASON})
    assert answer.status_code == 409
    assert answer.json()["errors"][0]["code"] == "not_allowed"
    assert answer.json()["allowed"] == []
    assert untouched(case) == before


@db
@pytest.mark.parametrize("stage", ["in_progress", "handed_in"])
def test_work_under_way_is_not_transferred(reference_data, stage):
    case = case_in_stage(stage)
    assert CaseAction.TRANSFER not in case_allowed_actions(case=case, actor=user("office1"))
    answer = client_for("office1").post(url(case, CaseAction.TRANSFER),
                                        {"subdistrict": HEYI, "reason": REASON})
    assert answer.status_code == 409


@db
@pytest.mark.parametrize("actor", ["hk_vol1", "hk_lead", "office_heyi1", "union1", "rider1"])
def test_only_the_cases_own_office_or_the_district_may_transfer(reference_data, actor):
    """A team member or leader, the receiving office (it did not own the case yet), union staff
    and riders are refused; nothing is written."""
    case = nanyuan_case_near_heyi()
    act(case, CaseAction.FILE, "office1")
    act(case, CaseAction.DISPATCH, "office1")
    before = untouched(case)
    answer = client_for(actor).post(url(case, CaseAction.TRANSFER),
                                    {"subdistrict": HEYI, "reason": REASON})
    # The team can read the case: 403. The others may get 404 where scoping hides it.
    assert answer.status_code in ({403} if actor.startswith("hk_") else {403, 404}), answer.content
    assert untouched(case) == before
    assert Task.objects.get(case=case).status == TaskStatus.OFFERED


@db
def test_a_private_case_transferred_away_answers_where_it_went_and_nothing_more(reference_data):
    """Nanyuan's office may no longer read a private case once it is Heyi's: the action's
    answer says it is done and where the case went, not the case."""
    case = nanyuan_case_near_heyi(category="L0101")
    act(case, CaseAction.FILE, "office1", at=cst(2026, 9, 14, 10))
    answer = client_for("office1").post(url(case, CaseAction.TRANSFER),
                                        {"subdistrict": HEYI, "reason": REASON})
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"id": case.pk, "stage": Stage.FILED, "subdistrict": HEYI}
    assert client_for("office1").get(url(case)).status_code == 404
    assert client_for("office_heyi1").get(url(case)).json()["subdistrict"] == HEYI
