"""Reads of the monthly awards (先锋骑手, issue 18): a subdistrict's nomination list, built from the
points ledger by the rules below, the union's decisions, and a rider's awards.

The rules (``award_rules`` says them in words, beside the list on /union/awards/). In an
Asia/Shanghai calendar month, counting only the subdistrict's cases (as its leaderboard does):

* at least ``AWARD_MIN_POINTS`` points;
* at least ``AWARD_MIN_VERIFIED_REPORTS`` cases the rider reported first that were verified and
  are closed (a case cancelled after its verification no longer counts);
* at least ``AWARD_MIN_CONFIRMATIONS`` cases of others the rider confirmed (or reported again)
  that were verified and are closed;
* an active rider (the union has not deactivated the account) with no report of the month
  flagged for its position (device and photo over 200 m apart: ``Report.location_flagged``).

Nominees are ranked by points, then verified reports, then confirmations, then display name.
Every figure comes from the ledger the verification writes (issues.services.points), so the
list and the leaderboard agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Q, Sum
from django.utils.translation import gettext_lazy as _

from civicmap.i18n import name_field
from civicmap.models import Subdistrict
from issues.models import AwardDecision, AwardKind, PointsEntry, Report, Rider, Stage
from issues.selectors_points import month_bounds
from issues.services.points import CONFIRMER, FIRST_REPORTER

AWARD_MIN_POINTS = 30
AWARD_MIN_VERIFIED_REPORTS = 2
AWARD_MIN_CONFIRMATIONS = 1
VERIFIED_STAGES = (Stage.CLOSED, Stage.EVALUATED)

MSG_RULE_POINTS = _("At least %(points)d points in the month, earned on this subdistrict's "
                    "cases.")
MSG_RULE_REPORTS = _("At least %(reports)d of the rider's own reports verified and closed in the "
                     "month.")
MSG_RULE_CONFIRMATIONS = _("At least %(confirmations)d confirmation(s) of other riders' reports, "
                           "verified and closed in the month.")
MSG_RULE_STANDING = _("An active rider, with no report of the month flagged for its position.")
MSG_RULE_ORDER = _("Ranked by points, then verified reports, then confirmations.")


def award_rules() -> list[str]:
    """The nomination rules in words, in the active language, from the constants above."""
    return [str(MSG_RULE_POINTS) % {"points": AWARD_MIN_POINTS},
            str(MSG_RULE_REPORTS) % {"reports": AWARD_MIN_VERIFIED_REPORTS},
            str(MSG_RULE_CONFIRMATIONS) % {"confirmations": AWARD_MIN_CONFIRMATIONS},
            str(MSG_RULE_STANDING), str(MSG_RULE_ORDER)]


@dataclass(frozen=True)
class Nominee:
    rank: int
    rider_id: int
    display_name: str
    community: str | None
    points: int
    verified_reports: int
    confirmations: int


def award_nominee_list(*, subdistrict: Subdistrict, month: date) -> list[Nominee]:
    """The subdistrict's nominees for the month, ranked (one grouped query of the ledger and
    one of the flagged reports)."""
    start, end = month_bounds(month)
    closed = Q(case__stage__in=VERIFIED_STAGES)
    label = f"rider__community__{name_field()}"
    totals = (
        PointsEntry.objects.filter(created_at__gte=start, created_at__lt=end,
                                   case__subdistrict=subdistrict, rider__is_active=True)
        .values("rider_id", "rider__user_id", "rider__display_name", label)
        .annotate(points=Sum("points"),
                  verified=Count("case", distinct=True,
                                 filter=closed & Q(reason__startswith=FIRST_REPORTER)),
                  confirmed=Count("case", distinct=True,
                                  filter=closed & Q(reason__startswith=CONFIRMER)))
        .filter(points__gte=AWARD_MIN_POINTS, verified__gte=AWARD_MIN_VERIFIED_REPORTS,
                confirmed__gte=AWARD_MIN_CONFIRMATIONS)
        .order_by("-points", "-verified", "-confirmed", "rider__display_name", "rider_id"))
    rows = list(totals)
    flagged = set(Report.objects.filter(
        reporter_id__in=[row["rider__user_id"] for row in rows], location_flagged=True,
        received_at__gte=start, received_at__lt=end).values_list("reporter_id", flat=True))
    kept = [row for row in rows if row["rider__user_id"] not in flagged]
    return [
        Nominee(rank=rank, rider_id=row["rider_id"], display_name=row["rider__display_name"],
                community=row[label], points=row["points"], verified_reports=row["verified"],
                confirmations=row["confirmed"])
        for rank, row in enumerate(kept, start=1)
    ]


def award_decision_list(*, subdistrict: Subdistrict, month: date) -> dict[int, AwardDecision]:
    """The union's decisions of the month, by rider id."""
    decisions = AwardDecision.objects.filter(subdistrict=subdistrict, month=month
                                             ).select_related("decided_by", "rider")
    return {decision.rider_id: decision for decision in decisions}


def award_name(kind: str) -> str:
    """An award's name in the active language."""
    return str(AwardKind(kind).label)


def rider_award_list(*, rider: Rider) -> list[AwardDecision]:
    """The awards a rider was given, newest month first."""
    return list(AwardDecision.objects.filter(rider=rider, awarded=True)
                .select_related("subdistrict").defer("subdistrict__boundary")
                .order_by("-month", "kind"))


def award_get(*, award_id: int) -> AwardDecision | None:
    """An award given (not a refusal), with what its certificate names."""
    return (AwardDecision.objects.filter(pk=award_id, awarded=True)
            .select_related("rider", "subdistrict").defer("subdistrict__boundary").first())
