"""Rider recognition (先锋骑手): points in the ledger when a case is verified.

The rules:

* When the office verifies a case (``patrol.services.lifecycle._verify``, in its transaction),
  the rider whose report opened the case earns ``POINTS_FIRST_REPORTER``; every other rider
  who reported the same problem or confirmed it earns ``POINTS_CONFIRMER``. Reports merged in
  from another case count as confirmations, however early they were: the case's first report
  is its own earliest report that was not merged in.
* One entry per rider and case (event key ``case:{id}:verified``, unique per rider in the
  database): a second verification, a retry, or two workers at once write nothing more.
* A rider earns at most ``POINTS_DAILY_CAP`` points a day (Asia/Shanghai). An award over the
  cap is cut down, to zero if need be, and says so in its reason, so the rider sees why.
* Nothing for cancelled cases, for riders' own needs (closed by the union's reply, not
  verified), for reporters who are not active riders (anonymous or Open311 citizens, staff,
  riders the union has deactivated). Should a case with points ever be cancelled, the
  cancellation writes one reversing entry per rider (``case:{id}:revoked``).

Who earns in which role (``contributor_roles``) and how much the cap leaves (``points_award``)
are pure functions: ``case_points_award`` feeds them from the database, the demo history
(fixtures/case_histories.py) from its own running totals, so both follow one rule.

An entry's ``created_at`` is the verification's time (the clock of the lifecycle action), which
is what the daily cap and the monthly leaderboard count by.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from issues.models import Case, CaseConfirmation, CaseEvent, PointsEntry, Rider

R = TypeVar("R")  # a rider as the caller holds it (a Rider, or an id)
SHANGHAI = ZoneInfo("Asia/Shanghai")  # the programme's calendar: days and months

FIRST_REPORTER = "first_reporter"
CONFIRMER = "confirmer"
CAPPED_SUFFIX = "_capped"
REVOKED = "case_cancelled"

# What a rider's points page says for each reason (the entry's case id fills %(case)s).
REASON_TEXTS = {
    FIRST_REPORTER: _("First to report case #%(case)s, now verified"),
    CONFIRMER: _("Confirmed case #%(case)s, now verified"),
    FIRST_REPORTER + CAPPED_SUFFIX: _(
        "First to report case #%(case)s, now verified (cut by the daily limit)"),
    CONFIRMER + CAPPED_SUFFIX: _("Confirmed case #%(case)s, now verified (cut by the daily limit)"),
    REVOKED: _("Case #%(case)s was cancelled: its points are withdrawn"),
}
MSG_REASON_OTHER = _("Points adjustment")


def verified_event_key(case_id: int) -> str:
    return f"case:{case_id}:verified"


def revoked_event_key(case_id: int) -> str:
    return f"case:{case_id}:revoked"


def points_day(at: datetime) -> date:
    """The Asia/Shanghai calendar day of ``at``: the day the daily cap counts by."""
    return at.astimezone(SHANGHAI).date()


def shanghai_day_bounds(at: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the Asia/Shanghai calendar day of ``at``."""
    start = datetime.combine(points_day(at), time(0), tzinfo=SHANGHAI)
    return start, start + timedelta(days=1)


def contributor_roles(*, riders: Iterable[tuple[R, int]], first_user_id: int | None
                      ) -> list[tuple[R, str]]:
    """Each contributing rider with its role: the first reporter first (the rider whose user
    sent the case's first own report), then the others in the order given (by rider id).
    ``riders``: (rider, its user id) for the active riders who reported or confirmed."""
    riders = list(riders)
    first = [(rider, FIRST_REPORTER) for rider, user in riders if user == first_user_id]
    return first + [(rider, CONFIRMER) for rider, user in riders if user != first_user_id]


def points_award(*, role: str, earned_today: int) -> tuple[int, str]:
    """(points, reason) of one award: the role's points, cut to what the daily cap leaves of
    the positive points the rider already earned that day (to zero if need be, the reason
    then saying so)."""
    base = {FIRST_REPORTER: settings.POINTS_FIRST_REPORTER,
            CONFIRMER: settings.POINTS_CONFIRMER}[role]
    points = min(base, max(0, settings.POINTS_DAILY_CAP - earned_today))
    return points, role if points == base else role + CAPPED_SUFFIX


def case_contributors(*, case: Case) -> list[tuple[Rider, str]]:
    """The active riders who reported or confirmed the case, each once: the first reporter
    first (if the case's first report is a rider's), then the others by rider id."""
    merged_in = {
        report_id
        for data in CaseEvent.objects.filter(case=case, action="merged_in")
        .values_list("data", flat=True)
        for report_id in (data or {}).get("reports", [])
    }
    reports = list(case.reports.order_by("received_at", "id").values_list("pk", "reporter_id"))
    own = [reporter for pk, reporter in reports if pk not in merged_in]
    first_user = own[0] if own else None
    users = {reporter for _pk, reporter in reports if reporter is not None}
    users |= set(CaseConfirmation.objects.filter(case=case).values_list("rider_id", flat=True))
    riders = Rider.objects.filter(user_id__in=users, is_active=True).order_by("pk")
    return contributor_roles(riders=((rider, rider.user_id) for rider in riders),
                             first_user_id=first_user)


def case_points_award(*, case: Case, at: datetime) -> list[PointsEntry]:
    """Award the riders of a case just verified; returns the entries written (none on a repeat).

    Runs inside the verification's transaction.
    """
    contributors = case_contributors(case=case)
    if not contributors:
        return []
    key = verified_event_key(case.pk)
    day_start, day_end = shanghai_day_bounds(at)
    written = []
    with transaction.atomic():
        # Lock the riders (in id order, so two verifications never deadlock): the daily cap is
        # read, then written; two cases verified at once for one rider must not both see room.
        list(Rider.objects.select_for_update().filter(
            pk__in=[rider.pk for rider, _role in contributors]).order_by("pk"))
        done = set(PointsEntry.objects.filter(
            rider__in=[rider for rider, _role in contributors], event_key=key,
        ).values_list("rider_id", flat=True))
        for rider, role in contributors:
            if rider.pk in done:
                continue
            today = PointsEntry.objects.filter(
                rider=rider, created_at__gte=day_start, created_at__lt=day_end, points__gt=0,
            ).aggregate(total=Sum("points"))["total"] or 0
            points, reason = points_award(role=role, earned_today=today)
            written.append(_entry_write(rider=rider, points=points, reason=reason,
                                        event_key=key, case=case, at=at))
    return written


def case_points_revoke(*, case: Case, at: datetime) -> list[PointsEntry]:
    """Withdraw what a case earned, once per rider (a cancelled case earns nothing)."""
    earned = list(PointsEntry.objects.filter(event_key=verified_event_key(case.pk), points__gt=0)
                  .select_related("rider"))
    if not earned:
        return []
    key = revoked_event_key(case.pk)
    already = set(PointsEntry.objects.filter(event_key=key).values_list("rider_id", flat=True))
    return [
        _entry_write(rider=entry.rider, points=-entry.points, reason=REVOKED, event_key=key,
                     case=case, at=at)
        for entry in earned if entry.rider_id not in already
    ]


def _entry_write(*, rider: Rider, points: int, reason: str, event_key: str, case: Case,
                 at: datetime) -> PointsEntry:
    entry = PointsEntry.objects.create(rider=rider, points=points, reason=reason,
                                       event_key=event_key, case=case)
    # created_at is auto_now_add (the wall clock); the ledger counts by the event's time, the
    # same in production and injected in tests.
    PointsEntry.objects.filter(pk=entry.pk).update(created_at=at)
    entry.created_at = at
    return entry


def points_reason_text(*, reason: str, case_id: int | None) -> str:
    """What the rider's page says for an entry, in the active language."""
    template = REASON_TEXTS.get(reason)
    if template is None or case_id is None:
        return str(MSG_REASON_OTHER)
    return str(template) % {"case": case_id}


def cases_points_backfill(*, until: datetime | None = None) -> int:
    """Award every verified case that has no award yet, in the order of verification (the demo
    history is written in bulk, without the lifecycle service). Returns the entries written."""
    events = CaseEvent.objects.filter(action="verify").order_by("at", "id")
    if until is not None:
        events = events.filter(at__lt=until)
    written = 0
    for case_id, at in events.values_list("case_id", "at"):
        if PointsEntry.objects.filter(event_key=verified_event_key(case_id)).exists():
            continue
        case = Case.objects.get(pk=case_id)
        if case.stage in ("closed", "evaluated"):
            written += len(case_points_award(case=case, at=at))
    return written
