"""The union's monthly award decisions (先锋骑手, issue 18): the union staff of a subdistrict
decide, for each rider on the subdistrict's nomination list of a month (the current month or an
earlier one), whether to give the award, with a reason; a rider given the award is told once
(``notify``, kind ``award_granted``).

The decision lives in issues (``AwardDecision``, so that the leaderboard shows the award); this
service is in patrol because it notifies (D-070). Every refusal names its field and writes
nothing: the checks run before the write and the service is one transaction. The database holds
the invariants (one decision per nominee, one award of a kind per rider and month) for writes
that bypass it.
"""

from __future__ import annotations

from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from civicmap.errors import Conflict, InvalidInput, PermissionRefused
from civicmap.models import Subdistrict
from issues.models import AwardDecision, AwardKind, Rider
from issues.selectors_awards import award_nominee_list
from issues.selectors_points import month_current
from patrol.selectors_council import council_may_act
from patrol.services.notify import notify

REASON_MAX = 500

MSG_NOT_YOURS = _("Only the union staff of this subdistrict decide its awards.")
MSG_MONTH_FUTURE = _("Awards are decided for the current month or an earlier one.")
MSG_NOT_NOMINATED = _("This rider is not on the subdistrict's nomination list for the month.")
MSG_DECIDED = _("This rider's nomination for the month has already been decided.")
MSG_AWARDED_ELSEWHERE = _("This rider has already been given this award for the month.")
MSG_REASON_EMPTY = _("Give the reason for the decision.")
MSG_REASON_LONG = _("The reason is longer than %(max)d characters.")


@transaction.atomic
def award_decision_record(*, actor, subdistrict: Subdistrict, rider_id: int, month: date,
                          awarded: bool, reason: str, at: datetime,
                          kind: str = AwardKind.PIONEER) -> AwardDecision:
    """Record the union's decision on a nominee of the subdistrict's list for ``month`` (its
    first day) and, when the award is given, tell the rider."""
    # The same rule as the council's: only the subdistrict's own union staff act; the
    # district's accounts read.
    if not council_may_act(user=actor, subdistrict_id=subdistrict.pk):
        raise PermissionRefused.single("subdistrict", "not_yours", MSG_NOT_YOURS)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput.single("reason", "required", MSG_REASON_EMPTY)
    if len(reason) > REASON_MAX:
        raise InvalidInput.single("reason", "too_long", MSG_REASON_LONG % {"max": REASON_MAX})
    if month > month_current(at):
        raise InvalidInput.single("month", "future", MSG_MONTH_FUTURE)
    # The rider's row, locked: two staff deciding on one rider at once, or two subdistricts
    # awarding the same rider, are serialised here (the second sees the first's decision).
    rider = Rider.objects.select_for_update().filter(pk=rider_id).first()
    nominated = {nominee.rider_id for nominee in award_nominee_list(subdistrict=subdistrict,
                                                                     month=month)}
    if rider is None or rider.pk not in nominated:
        raise InvalidInput.single("rider", "not_nominated", MSG_NOT_NOMINATED)
    decisions = AwardDecision.objects.filter(kind=kind, month=month, rider=rider)
    if decisions.filter(subdistrict=subdistrict).exists():
        raise Conflict.single("rider", "decided", MSG_DECIDED)
    if awarded and decisions.filter(awarded=True).exists():
        raise Conflict.single("rider", "awarded_elsewhere", MSG_AWARDED_ELSEWHERE)
    try:
        with transaction.atomic():
            decision = AwardDecision.objects.create(
                kind=kind, month=month, subdistrict=subdistrict, rider=rider, awarded=awarded,
                reason=reason, decided_by=actor, decided_at=at)
    except IntegrityError as clash:  # the rider lock makes this unreachable but for bypasses
        raise Conflict.single("rider", "decided", MSG_DECIDED) from clash
    if awarded:
        notify(kind="award_granted", at=at, award=decision)
    return decision
