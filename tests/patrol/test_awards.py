"""The union's award decisions (patrol.services.awards, issue 18): who may decide, the refusals
that name their field and write nothing, the database's constraints, the notification sent
once, and the transaction. The nominations are tests/issues/award_helpers.py's."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import IntegrityError, transaction
from django.utils import translation

from civicmap.errors import Conflict, InvalidInput, PermissionRefused
from civicmap.models import Subdistrict
from issues.models import AwardDecision, Rider
from patrol.models import Notification
from patrol.notifications.content import notification_message
from patrol.services import awards
from patrol.services.awards import (
    MSG_DECIDED,
    MSG_MONTH_FUTURE,
    MSG_NOT_NOMINATED,
    MSG_NOT_YOURS,
    award_decision_record,
)
from patrol.services.notify import notify
from tests.issues.award_helpers import MARCH, nominations  # noqa: F401
from tests.patrol.helpers import cst, user

pytestmark = pytest.mark.django_db
APRIL_2 = cst(2026, 4, 2, 10)


def rider_id(username: str) -> int:
    return Rider.objects.get(user__username=username).pk


def decide(username: str = "rider2", *, actor: str = "union1", code: str = "110106005",
           month: date = MARCH, awarded: bool = True, at=APRIL_2) -> AwardDecision:
    return award_decision_record(actor=user(actor), subdistrict=Subdistrict.objects.get(
        code=code), rider_id=rider_id(username), month=month, awarded=awarded,
        reason="本月上报最多", at=at)


def refusal(error) -> list[tuple[str | None, str, str]]:
    return [(e.field, e.code, str(e.message)) for e in error.value.errors]


def test_an_award_is_recorded_and_its_rider_told_once_in_words(nominations):  # noqa: F811
    decision = decide()
    assert (decision.awarded, decision.month, decision.decided_by.username) == (
        True, MARCH, "union1")
    told = Notification.objects.get(kind="award_granted")
    assert told.recipient.username == "rider2"
    assert told.key == f"award_granted:award:{decision.pk}"
    assert notification_message(kind=told.kind, data=told.data, case_id=None) == (
        "恭喜您！南苑街道总工会评选您为2026年3月的先锋骑手。感谢您守护街巷！")
    with translation.override("en"):
        english = notification_message(kind=told.kind, data=told.data, case_id=None)
    assert "Pioneer Rider" in english and "March 2026" in english
    notify(kind="award_granted", at=APRIL_2, award=decision)  # a retry: still one
    assert Notification.objects.filter(kind="award_granted").count() == 1
    refused = decide("rider1", awarded=False)
    assert refused.awarded is False
    assert Notification.objects.filter(kind="award_granted").count() == 1  # no award, no word


def test_a_nominee_is_decided_once(nominations):  # noqa: F811
    decide()
    with pytest.raises(Conflict) as twice:
        decide(awarded=False)
    assert refusal(twice) == [("rider", "decided", str(MSG_DECIDED))]
    assert AwardDecision.objects.count() == 1
    assert Notification.objects.filter(kind="award_granted").count() == 1


def test_refusals_name_their_field_and_write_nothing(nominations):  # noqa: F811
    with pytest.raises(InvalidInput) as not_nominated:
        decide("rider3")
    assert refusal(not_nominated) == [("rider", "not_nominated", str(MSG_NOT_NOMINATED))]
    with pytest.raises(InvalidInput) as future:
        decide(month=date(2026, 5, 1))
    assert refusal(future) == [("month", "future", str(MSG_MONTH_FUTURE))]
    with pytest.raises(PermissionRefused) as elsewhere:
        decide(actor="union_heyi1")
    assert refusal(elsewhere) == [("subdistrict", "not_yours", str(MSG_NOT_YOURS))]
    with pytest.raises(InvalidInput) as other_list:  # rider1 is not on Heyi's list
        decide("rider1", actor="union_heyi1", code="110106016")
    assert refusal(other_list)[0][:2] == ("rider", "not_nominated")
    with pytest.raises(PermissionRefused):
        decide(actor="office_district")
    with pytest.raises(InvalidInput) as empty:
        award_decision_record(actor=user("union1"), subdistrict=Subdistrict.objects.get(
            code="110106005"), rider_id=rider_id("rider2"), month=MARCH, awarded=True,
            reason="  ", at=APRIL_2)
    assert refusal(empty)[0][:2] == ("reason", "required")
    assert not AwardDecision.objects.exists()
    assert not Notification.objects.filter(kind="award_granted").exists()


def test_the_current_month_may_be_decided(nominations):  # noqa: F811
    decision = decide(at=cst(2026, 3, 31, 23, 0))
    assert decision.month == MARCH


def test_the_database_holds_one_award_per_rider_and_month(nominations):  # noqa: F811
    decision = decide()
    heyi = Subdistrict.objects.get(code="110106016")
    fields = {"rider": decision.rider, "month": MARCH, "reason": "x",
              "decided_by": user("union_heyi1"), "decided_at": APRIL_2}
    with pytest.raises(IntegrityError), transaction.atomic():
        AwardDecision.objects.create(subdistrict=heyi, awarded=True, **fields)
    AwardDecision.objects.create(subdistrict=heyi, awarded=False, **fields)  # a refusal: fine
    with pytest.raises(IntegrityError), transaction.atomic():
        AwardDecision.objects.create(subdistrict=decision.subdistrict, awarded=False,
                                     **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        AwardDecision.objects.create(subdistrict=heyi, awarded=False,
                                     **{**fields, "month": date(2026, 2, 2)})


def test_a_failed_notification_writes_no_decision(nominations, monkeypatch):  # noqa: F811
    def broken(**kwargs):
        raise RuntimeError("feed down")

    monkeypatch.setattr(awards, "notify", broken)
    with pytest.raises(RuntimeError):
        decide()
    assert not AwardDecision.objects.exists()
