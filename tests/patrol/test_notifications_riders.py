"""A rider hears of every change of their case (issue 19), once, in words a rider understands:
filed, dispatched, dispatched again, passed to a bordering subdistrict, handed in, sent back,
closed, merged. Each text is checked in both languages and must carry no code (no stage,
action, kind or category code), no office term and none of the office's notes.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from issues.models import CaseAction
from patrol.models import Notification
from patrol.notifications.content import notification_messages
from patrol.selectors import dispatch_departments
from patrol.services.notify import notify
from tests.patrol.helpers import (
    act,
    case_in_stage,
    cst,
    live_task,
    near_border,
    proof_photo,
    report,
)
from tests.patrol.test_transfer import HEYI, NANYUAN, REASON, case_at

db = pytest.mark.django_db
T0 = cst(2026, 9, 14, 9)  # a Monday
CODE = re.compile(r"[a-z]+_[a-z_]+|\b[A-Z]\d{4}\b|%\(")  # kind/stage codes, categories


def only_one(rider: str, kind: str) -> Notification:
    """The rider's one notification of ``kind`` (there must be exactly one)."""
    rows = list(Notification.objects.filter(recipient__username=rider, kind=kind))
    assert len(rows) == 1, [row.key for row in rows]
    return rows[0]


def texts_of(notification: Notification) -> dict[str, str]:
    texts = notification_messages(kind=notification.kind, data=notification.data,
                                  case_id=notification.case_id)
    for text in texts.values():
        assert not CODE.search(text), text
    return texts


@db
def test_a_rider_hears_of_filing_and_dispatch_once_each(reference_data):
    case = case_in_stage("dispatched", at=T0)
    filed = texts_of(only_one("rider1", "case_filed"))
    assert filed == {"zh-hans": f"您的上报（案件 #{case.pk}）已受理立案。",
                     "en": f"Your report (case #{case.pk}) has been accepted and filed."}
    dispatched = texts_of(only_one("rider1", "case_dispatched"))
    assert dispatched["en"].startswith(f"Your report (case #{case.pk}) has been handed to ")


@db
def test_a_rider_hears_their_case_went_to_another_handler(reference_data):
    case = case_in_stage("dispatched", at=T0)
    department = dispatch_departments(subdistrict_id=case.subdistrict_id).first()
    act(case, CaseAction.REDISPATCH, "office1", at=T0 + timedelta(hours=1),
        department=department.pk)
    notification = only_one("rider1", "case_redispatched")
    handler = live_task(case).department
    assert handler == department
    assert texts_of(notification) == {
        "zh-hans": f"您的上报（案件 #{case.pk}）已改由{handler.name_zh}处理。",
        "en": f"Your report (case #{case.pk}) is now with {handler.name_en}, who will deal "
              f"with it."}


@db
def test_a_rider_hears_where_their_case_went_but_not_the_offices_reason(reference_data):
    case = case_at(near_border(NANYUAN, HEYI, 60))
    act(case, CaseAction.FILE, "office1", at=T0 + timedelta(hours=1))
    act(case, CaseAction.TRANSFER, "office1", at=T0 + timedelta(hours=2), subdistrict=HEYI,
        reason=REASON)
    notification = only_one("rider1", "case_moved")
    assert "reason" not in notification.data
    assert texts_of(notification) == {
        "zh-hans": f"您上报的问题（案件 #{case.pk}）所在地由和义街道负责，已转交给他们办理。",
        "en": f"The place of your report (case #{case.pk}) is looked after by Heyi "
              f"Subdistrict, so it has been passed to them."}
    # The offices' notification is theirs: the rider does not get it.
    assert not Notification.objects.filter(recipient__username="rider1",
                                           kind="case_transferred").exists()


@db
def test_a_rider_hears_of_the_hand_in_the_send_back_and_the_closure(reference_data):
    case = case_in_stage("handed_in", at=T0)
    handed_in = texts_of(only_one("rider1", "case_handed_in"))
    assert handed_in == {"zh-hans": f"您上报的问题（案件 #{case.pk}）已处理完毕，正在核查。",
                         "en": f"The work on your report (case #{case.pk}) is finished; it "
                               f"is being checked now."}
    act(case, CaseAction.SENDBACK, "office2", at=T0 + timedelta(hours=1), note="还有垃圾")
    sent_back = only_one("rider1", "case_sent_back")
    assert "还有垃圾" not in str(sent_back.data)  # the office's note is the team's to read
    assert texts_of(sent_back) == {
        "zh-hans": f"您上报的问题（案件 #{case.pk}）还需继续处理，已退回重新办理。",
        "en": f"Your report (case #{case.pk}) needs more work: it has been sent back to be "
              f"put right."}
    act(case, CaseAction.HANDIN, "hk_vol2", at=T0 + timedelta(hours=2), note="全部清理",
        photo=proof_photo())
    act(case, CaseAction.VERIFY, "office2", at=T0 + timedelta(hours=3))
    # Two hand-ins: told twice, once each; the closure once.
    assert Notification.objects.filter(recipient__username="rider1",
                                       kind="case_handed_in").count() == 2
    closed = texts_of(only_one("rider1", "case_closed"))
    assert closed["zh-hans"] == f"案件 #{case.pk} 已处置并核查结案，感谢您！"


@db
def test_the_riders_of_a_merged_case_hear_which_case_their_report_is_now_in(reference_data):
    source = report("E0101", point=0, reporter="rider1", at=T0).case
    target = report("E0102", point=2, reporter="rider2", at=T0).case
    act(source, CaseAction.MERGE, "office1", at=T0 + timedelta(hours=1), into=target.pk)
    notification = only_one("rider1", "case_merged")
    assert notification.case_id == target.pk  # the inbox opens the case the report is in
    assert texts_of(notification) == {
        "zh-hans": f"其他人也上报了同一问题：您的上报（案件 #{source.pk}）已与案件 "
                   f"#{target.pk} 合并处理。",
        "en": f"Others reported the same problem: your report (case #{source.pk}) is now "
              f"handled together with case #{target.pk}."}
    # The target's own reporter is told nothing: their case did not change for them.
    assert not Notification.objects.filter(recipient__username="rider2",
                                           kind="case_merged").exists()


@db
def test_a_change_told_again_at_the_same_moment_is_still_one(reference_data):
    """The once-only key: the same change raised twice (a retried task) gives one row."""
    case = case_in_stage("handed_in", at=T0)
    at = T0 + timedelta(minutes=4)  # the hand-in's moment in case_in_stage
    notify(kind="case_handed_in", case=case, at=at)
    only_one("rider1", "case_handed_in")
