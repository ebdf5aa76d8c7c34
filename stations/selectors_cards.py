"""Reads for the 苑苑暖心卡: a rider's own card and its benefits with the uses left this month,
and the union's lists of members (with their history) and of benefits with their limits."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Case, Count, F, Prefetch, Q, Value, When
from django.utils import timezone

from civicmap.i18n import name_field
from civicmap.scopes import in_scope_q
from stations.cards import month_start
from stations.models import (
    Benefit,
    BenefitRedemption,
    BenefitStationLimit,
    MembershipEvent,
    Station,
    UnionMembership,
)


def member_card_get(*, rider, now: datetime | None = None) -> dict:
    """The rider's card: status, number, and every active benefit of every subdistrict's union
    (riders belong to the district union and redeem anywhere) with its uses left this calendar
    month in Beijing; none left while the card is not issued or suspended. Three queries; no
    membership: status ``none`` and no benefits."""
    now = now or timezone.now()
    membership = (UnionMembership.objects.select_related("subdistrict")
                  .filter(rider=rider).first())
    if membership is None:
        return {"status": "none", "card_number": None, "subdistrict": None,
                "joined_at": None, "card_issued_at": None, "benefits": []}
    name = name_field()
    used = dict(BenefitRedemption.objects.filter(membership=membership, at__gte=month_start(now))
                .values("benefit").annotate(n=Count("id")).values_list("benefit", "n"))
    benefits = []
    for benefit in (Benefit.objects.filter(is_active=True).select_related("subdistrict")
                    .order_by("subdistrict__code", "code")):
        left = max(benefit.member_limit - used.get(benefit.pk, 0), 0)
        usable = membership.status == "card_issued"
        benefits.append({
            "code": benefit.code, "name": getattr(benefit, name), "service": benefit.service,
            "subdistrict": getattr(benefit.subdistrict, name),
            "member_limit": benefit.member_limit, "used": used.get(benefit.pk, 0),
            "remaining": left if usable else 0,
        })
    return {
        "status": membership.status, "card_number": membership.card_number,
        "subdistrict": getattr(membership.subdistrict, name),
        "joined_at": membership.joined_at.isoformat(),
        "card_issued_at": (membership.card_issued_at.isoformat()
                           if membership.card_issued_at else None),
        "benefits": benefits,
    }


def union_membership_list(*, user, status: str | None = None, limit: int = 500
                          ) -> list[UnionMembership]:
    """The members whose files the user's subdistricts keep, with their history (events
    prefetched: two queries), suspended first, then by card number."""
    rows = (UnionMembership.objects.filter(in_scope_q(user))
            .select_related("rider__rider", "subdistrict")
            .prefetch_related(Prefetch("events", queryset=MembershipEvent.objects
                                       .select_related("actor").order_by("at", "id")))
            .annotate(redeemed=Count("redemptions")))
    if status:
        rows = rows.filter(status=status)
    # Suspended first (the union's attention), then by card number, waiting members last.
    rows = rows.alias(suspended_last=Case(When(status="suspended", then=Value(0)),
                                          default=Value(1)))
    return list(rows.order_by("suspended_last", F("card_number").asc(nulls_last=True),
                              "id")[:limit])


def union_benefit_list(*, user, now: datetime | None = None) -> list[dict]:
    """The benefits of the user's subdistricts, each with its station limits, the stations
    offering its service, and the uses this month (in all and per station)."""
    since = month_start(now or timezone.now())
    benefits = list(Benefit.objects.filter(in_scope_q(user)).select_related("subdistrict")
                    .annotate(month_uses=Count("redemptions",
                                               filter=Q(redemptions__at__gte=since)))
                    .order_by("subdistrict__code", "code"))
    limits: dict[int, dict[int, int]] = {}
    for row in BenefitStationLimit.objects.filter(benefit__in=benefits):
        limits.setdefault(row.benefit_id, {})[row.station_id] = row.monthly_limit
    uses: dict[tuple[int, int], int] = {
        (row["benefit"], row["station"]): row["n"]
        for row in BenefitRedemption.objects.filter(benefit__in=benefits, at__gte=since)
        .values("benefit", "station").annotate(n=Count("id"))
    }
    stations = list(Station.objects.filter(in_scope_q(user), is_active=True)
                    .order_by("name_zh").only("id", "name_zh", "name_en", "services",
                                              "subdistrict_id"))
    name = name_field()
    out = []
    for benefit in benefits:
        offering = [s for s in stations if s.subdistrict_id == benefit.subdistrict_id
                    and benefit.service in s.services]
        out.append({
            "benefit": benefit,
            "name": getattr(benefit, name),
            "stations": [{
                "station": station, "name": getattr(station, name),
                "limit": limits.get(benefit.pk, {}).get(station.pk),
                "uses": uses.get((benefit.pk, station.pk), 0),
            } for station in offering],
        })
    return out
