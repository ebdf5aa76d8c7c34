"""Reads of the points ledger: the monthly leaderboard and a rider's own entries.

Months are Asia/Shanghai calendar months: an entry at 23:30 on the 31st (15:30 UTC) belongs to
that month, one at 00:10 on the 1st (16:10 UTC the day before) to the next. A rider's points
for a month are the sum of that month's entries (awards and any withdrawals).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from django.db.models import Sum
from django.utils import timezone

from civicmap.i18n import name_field
from civicmap.models import CommunityGrid, Subdistrict
from issues.models import AwardDecision, PointsEntry, Rider
from issues.services.points import SHANGHAI, points_reason_text

RIDER_ENTRIES_MAX = 500
# A rider's entries by sign: earned (above zero), withdrawn (below: a mistaken award taken
# back) or all.
POINTS_KINDS = ("earned", "withdrawn", "all")


def month_current(now: datetime | None = None) -> date:
    """The first day of the present Asia/Shanghai month."""
    local = (now or timezone.now()).astimezone(SHANGHAI)
    return date(local.year, local.month, 1)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """[start, end) of an Asia/Shanghai calendar month, as aware datetimes."""
    start = datetime.combine(month.replace(day=1), time(0), tzinfo=SHANGHAI)
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return start, datetime.combine(following, time(0), tzinfo=SHANGHAI)


@dataclass(frozen=True)
class LeaderboardRow:
    rank: int
    display_name: str
    community: str | None
    points: int
    awards: tuple[str, ...] = ()  # the award kinds given to the rider for the month
    rider_id: int | None = None  # to find a rider's own row; never shown or exported


def awards_of_month(*, month: date, rider_ids: list[int],
                    subdistrict: Subdistrict | None = None) -> dict[int, list[str]]:
    """The awards given in the month to these riders (by one subdistrict's union, or any), as
    award kinds by rider id: what the leaderboard shows beside a name."""
    awards = AwardDecision.objects.filter(month=month, awarded=True, rider_id__in=rider_ids)
    if subdistrict is not None:
        awards = awards.filter(subdistrict=subdistrict)
    kinds: dict[int, list[str]] = {}
    for rider_id, kind in awards.order_by("kind").values_list("rider_id", "kind"):
        kinds.setdefault(rider_id, []).append(kind)
    return kinds


def leaderboard(*, month: date, community: CommunityGrid | None = None,
                subdistrict: Subdistrict | None = None,
                limit: int | None = None) -> list[LeaderboardRow]:
    """Riders by points earned in the month, most first; the district's (every entry), one
    subdistrict's (points earned on its cases: a rider who reports in two subdistricts is on
    both boards, with what they earned in each), or one community's riders (the community the
    rider is registered in). Active riders with points above zero only. A rider has one account
    and one total for the district, whatever the boards.

    Ranks are shared by equal totals (1, 2, 2, 4); equal totals are listed by display name.
    Display names only: no usernames, member numbers or phone numbers. Each row carries the
    awards the rider was given for the month (by the subdistrict's union on its board).
    """
    start, end = month_bounds(month)
    entries = PointsEntry.objects.filter(created_at__gte=start, created_at__lt=end,
                                         rider__is_active=True)
    if community is not None:
        entries = entries.filter(rider__community=community)
    if subdistrict is not None:
        entries = entries.filter(case__subdistrict=subdistrict)
    label = f"rider__community__{name_field()}"
    totals = (entries.values("rider_id", "rider__display_name", label)
              .annotate(total=Sum("points")).filter(total__gt=0)
              .order_by("-total", "rider__display_name", "rider_id"))
    if limit is not None:
        totals = totals[:limit]
    totals = list(totals)
    awards = awards_of_month(month=month, rider_ids=[row["rider_id"] for row in totals],
                             subdistrict=subdistrict)
    rows: list[LeaderboardRow] = []
    for position, row in enumerate(totals, start=1):
        tied = rows and rows[-1].points == row["total"]
        rows.append(LeaderboardRow(
            rank=rows[-1].rank if tied else position, display_name=row["rider__display_name"],
            community=row[label], points=row["total"],
            awards=tuple(awards.get(row["rider_id"], ())), rider_id=row["rider_id"],
        ))
    return rows


def leaderboard_place(*, rider: Rider, month: date, subdistrict: Subdistrict | None = None
                      ) -> LeaderboardRow | None:
    """The rider's own row of the month's district or subdistrict board (rank shared with equal
    totals, as on the board), wherever it falls; None when not on it (no points there)."""
    return next((row for row in leaderboard(month=month, subdistrict=subdistrict)
                 if row.rider_id == rider.pk), None)


@dataclass(frozen=True)
class RiderPoints:
    total: int
    month: date
    month_total: int
    entries: list[dict]
    count: int  # the entries listed in all (of the month and kind), of which ``entries`` a page


def rider_points(*, rider: Rider, month: date | None = None, kind: str = "all",
                 limit: int = RIDER_ENTRIES_MAX, offset: int = 0) -> RiderPoints:
    """A rider's own ledger: all-time total, the month's total and the month's entries (all
    entries when no month is given), newest first, each with its reason in words; ``kind``
    keeps the earned or the withdrawn ones (`POINTS_KINDS`), ``limit`` and ``offset`` a page."""
    ledger = PointsEntry.objects.filter(rider=rider)
    shown_month = month or month_current()
    start, end = month_bounds(shown_month)
    in_month = ledger.filter(created_at__gte=start, created_at__lt=end)
    listed = in_month if month is not None else ledger
    if kind == "earned":
        listed = listed.filter(points__gt=0)
    elif kind == "withdrawn":
        listed = listed.filter(points__lt=0)
    entries = [
        {"points": entry.points, "reason": entry.reason,
         "reason_text": points_reason_text(reason=entry.reason, case_id=entry.case_id),
         "case": entry.case_id, "at": entry.created_at}
        for entry in listed.order_by("-created_at", "-id")[offset:offset + limit]
    ]
    return RiderPoints(
        total=ledger.aggregate(total=Sum("points"))["total"] or 0, month=shown_month,
        month_total=in_month.aggregate(total=Sum("points"))["total"] or 0, entries=entries,
        count=listed.count(),
    )
