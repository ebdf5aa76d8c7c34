"""Writes for the 苑苑暖心卡: a rider's union membership and its status, the union's benefits
and their limits, and a benefit redeemed at a check-in.

Who may change what is checked here (union staff of the member's or the benefit's subdistrict;
the district's accounts read only), so every path (the union page, the seed) holds the same
rules. A redemption is written by ``checkin_create`` in the check-in's own transaction through
``benefit_redeem``; a refusal rolls both back.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicmap.errors import FieldError, InvalidInput, PermissionRefused
from civicmap.roles import Role, user_has_role
from civicmap.scopes import EVERYWHERE, user_subdistrict_ids
from stations.models import (
    Benefit,
    BenefitRedemption,
    BenefitStationLimit,
    CheckIn,
    MembershipEvent,
    MembershipStatus,
    Station,
    UnionMembership,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")  # limits count per calendar month in Beijing time
REASON_MAX = 200

MSG_UNKNOWN_BENEFIT = _("Unknown benefit: %(code)s.")
MSG_BENEFIT_NOT_HERE = _("This station does not offer this benefit.")
MSG_NOT_A_MEMBER = _("Only union members with a card can use benefits.")
MSG_CARD_SUSPENDED = _("Your member card is suspended: benefits cannot be used.")
MSG_NO_CARD_YET = _("Your member card has not been issued yet.")
MSG_MEMBER_LIMIT = _("You have used this benefit %(used)d of %(limit)d times this month.")
MSG_STATION_LIMIT = _("This station has given this benefit %(limit)d times this month: "
                      "no more this month.")
MSG_ALREADY_REDEEMED = _("A benefit was already used at this visit.")
MSG_BAD_TRANSITION = _("A membership cannot go from %(from)s to %(to)s.")
MSG_REASON_REQUIRED = _("Give a reason (at most 200 characters).")
MSG_NOT_YOUR_MEMBER = _("This member's file is kept by another subdistrict's union.")
MSG_READ_ONLY = _("The district's accounts read these pages; the subdistrict's union changes "
                  "them.")
MSG_BAD_LIMIT = _("A whole number from %(min)d to %(max)d.")
MSG_STATION_NOT_YOURS = _("This station lies in another subdistrict than the benefit's.")

# What each status may become, by the union's action.
TRANSITIONS: dict[str, frozenset[str]] = {
    MembershipStatus.JOINED: frozenset({MembershipStatus.CARD_ISSUED, MembershipStatus.SUSPENDED}),
    MembershipStatus.CARD_ISSUED: frozenset({MembershipStatus.SUSPENDED}),
    # Reinstating: back to card_issued (a card was issued) or joined (none yet).
    MembershipStatus.SUSPENDED: frozenset({MembershipStatus.CARD_ISSUED,
                                           MembershipStatus.JOINED}),
}


def month_start(moment: datetime) -> datetime:
    """The first instant of ``moment``'s calendar month in Beijing (an aware datetime)."""
    local = moment.astimezone(SHANGHAI)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def union_can_write(*, user, subdistrict_id: int) -> bool:
    """Union staff of this subdistrict (or the superuser). The district's accounts, whose scope
    is every subdistrict, read and do not write."""
    if getattr(user, "is_superuser", False):
        return True
    if not user_has_role(user, Role.UNION_STAFF):
        return False
    scope = user_subdistrict_ids(user)
    return scope is not EVERYWHERE and subdistrict_id in scope


def _require_writer(user, subdistrict_id: int, field: str | None) -> None:
    if getattr(user, "is_superuser", False):
        return
    if user_subdistrict_ids(user) is EVERYWHERE:
        raise PermissionRefused(FieldError(None, "read_only", MSG_READ_ONLY))
    if not union_can_write(user=user, subdistrict_id=subdistrict_id):
        raise PermissionRefused(FieldError(field, "not_yours", MSG_NOT_YOUR_MEMBER))


# --- memberships -------------------------------------------------------------------------------


CARD_NUMBER_LOCK = 7_180_001  # pg_advisory_xact_lock key: one card issued at a time


def card_number_next() -> str:
    """The next free card number of the district's series (NY and eight digits). Two cards
    issued at once would read the same last number: a transaction-scoped advisory lock makes
    them take turns (the unique constraint stays the backstop)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CARD_NUMBER_LOCK])
    last = (UnionMembership.objects.filter(card_number__isnull=False)
            .order_by("-card_number").values_list("card_number", flat=True).first())
    number = int(last[2:]) + 1 if last else 10_000_001
    return f"NY{number:08d}"


def membership_join(*, rider, subdistrict_id: int, actor=None, at: datetime | None = None,
                    reason: str = "") -> UnionMembership:
    """A rider joins the union (status joined, no card yet), with the first history row."""
    at = at or timezone.now()
    with transaction.atomic():
        membership = UnionMembership.objects.create(
            rider=rider, subdistrict_id=subdistrict_id, status=MembershipStatus.JOINED,
            joined_at=at,
        )
        MembershipEvent.objects.create(membership=membership, from_status="",
                                       to_status=MembershipStatus.JOINED,
                                       reason=reason[:REASON_MAX],
                                       actor=actor, at=at)
    return membership


def membership_status_set(*, membership_id: int, to_status: str, reason: str, actor,
                          at: datetime | None = None, check_actor: bool = True
                          ) -> UnionMembership:
    """Issue, suspend or reinstate a card, with the reason into its history.

    The row is locked so that two staff acting at once see each other's change (the second
    is refused as a transition from the new status). Refused: another subdistrict's member
    (403), a status it cannot go to, an empty reason (400 naming the field)."""
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_MAX:
        raise InvalidInput(FieldError("reason", "required", MSG_REASON_REQUIRED))
    if to_status not in MembershipStatus.values:
        raise InvalidInput(FieldError("status", "invalid", MSG_BAD_TRANSITION % {
            "from": "?", "to": to_status}))
    at = at or timezone.now()
    with transaction.atomic():
        membership = UnionMembership.objects.select_for_update().filter(pk=membership_id).first()
        if membership is None:
            raise InvalidInput(FieldError("membership", "unknown", MSG_NOT_YOUR_MEMBER))
        if check_actor:
            _require_writer(actor, membership.subdistrict_id, "membership")
        if to_status not in TRANSITIONS[membership.status] or (
            to_status == MembershipStatus.JOINED and membership.card_number
        ) or (membership.status == MembershipStatus.SUSPENDED
              and to_status == MembershipStatus.CARD_ISSUED and not membership.card_number):
            raise InvalidInput(FieldError("status", "invalid_transition", MSG_BAD_TRANSITION % {
                "from": MembershipStatus(membership.status).label,
                "to": MembershipStatus(to_status).label}))
        fields = ["status"]
        if to_status == MembershipStatus.CARD_ISSUED and not membership.card_number:
            membership.card_number = card_number_next()
            membership.card_issued_at = at
            fields += ["card_number", "card_issued_at"]
        event = MembershipEvent(membership=membership, from_status=membership.status,
                                to_status=to_status, reason=reason, actor=actor, at=at)
        membership.status = to_status
        membership.save(update_fields=fields)
        event.save()
    return membership


def membership_reinstate(*, membership_id: int, reason: str, actor,
                         at: datetime | None = None) -> UnionMembership:
    """Lift a suspension: back to card_issued if a card was issued, else to joined."""
    card = (UnionMembership.objects.filter(pk=membership_id)
            .values_list("card_number", flat=True).first())
    return membership_status_set(
        membership_id=membership_id, reason=reason, actor=actor, at=at,
        to_status=MembershipStatus.CARD_ISSUED if card else MembershipStatus.JOINED)


# --- benefits and limits -----------------------------------------------------------------------


def _limit_value(value: object, *, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(FieldError(field, "invalid", MSG_BAD_LIMIT % {"min": low, "max": high}))
    return value


def benefit_update(*, benefit_id: int, member_limit: int, is_active: bool, actor) -> Benefit:
    """The union sets a benefit's uses per member per month and whether it is offered."""
    limit = _limit_value(member_limit, field="member_limit", low=1, high=100)
    with transaction.atomic():
        benefit = Benefit.objects.select_for_update().filter(pk=benefit_id).first()
        if benefit is None:
            raise InvalidInput(FieldError("benefit", "unknown",
                                          MSG_UNKNOWN_BENEFIT % {"code": benefit_id}))
        _require_writer(actor, benefit.subdistrict_id, "benefit")
        benefit.member_limit, benefit.is_active = limit, bool(is_active)
        benefit.save(update_fields=["member_limit", "is_active"])
    return benefit


def benefit_station_limit_set(*, benefit_id: int, station_id: int, monthly_limit: int | None,
                              actor) -> BenefitStationLimit | None:
    """A station's own monthly cap on a benefit (0: not offered there); None removes it."""
    benefit = Benefit.objects.filter(pk=benefit_id).first()
    if benefit is None:
        raise InvalidInput(FieldError("benefit", "unknown",
                                      MSG_UNKNOWN_BENEFIT % {"code": benefit_id}))
    _require_writer(actor, benefit.subdistrict_id, "benefit")
    station = Station.objects.filter(pk=station_id).first()
    if station is None or station.subdistrict_id != benefit.subdistrict_id:
        raise InvalidInput(FieldError("station", "not_yours", MSG_STATION_NOT_YOURS))
    if monthly_limit is None:
        BenefitStationLimit.objects.filter(benefit=benefit, station=station).delete()
        return None
    limit = _limit_value(monthly_limit, field="monthly_limit", low=0, high=10_000)
    row, _created = BenefitStationLimit.objects.update_or_create(
        benefit=benefit, station=station, defaults={"monthly_limit": limit})
    return row


# --- redemption at a check-in ------------------------------------------------------------------


def benefit_for_station(*, station: Station, code: str) -> Benefit:
    """The active benefit ``code`` of the station's union that this station offers: its service
    among the station's, and no station cap of 0. Refused naming ``benefit`` otherwise."""
    benefit = Benefit.objects.filter(subdistrict_id=station.subdistrict_id, code=code,
                                     is_active=True).first()
    if benefit is None:
        offered_elsewhere = Benefit.objects.filter(code=code, is_active=True).exists()
        if offered_elsewhere:
            raise InvalidInput(FieldError("benefit", "not_offered", MSG_BENEFIT_NOT_HERE))
        raise InvalidInput(FieldError("benefit", "unknown", MSG_UNKNOWN_BENEFIT % {"code": code}))
    if benefit.service not in station.services or BenefitStationLimit.objects.filter(
        benefit=benefit, station=station, monthly_limit=0
    ).exists():
        raise InvalidInput(FieldError("benefit", "not_offered", MSG_BENEFIT_NOT_HERE))
    return benefit


def benefit_redeem(*, checkin: CheckIn, benefit: Benefit, at: datetime) -> BenefitRedemption:
    """Record ``benefit`` used at ``checkin``, within the limits; call inside the check-in's
    transaction (a refusal rolls the check-in back too).

    Locks, always in this order so that two redemptions never wait on each other in a cycle:
    the member's membership row (serialises one member's redemptions, so the per-member count
    cannot be overtaken), then the station's limit row if there is one (serialises the
    station's). The counts run after the locks, so the last allowed use goes to one of two
    riders racing for it and the other is refused."""
    membership = (UnionMembership.objects.select_for_update()
                  .filter(rider_id=checkin.rider_id).first())
    if membership is None:
        raise InvalidInput(FieldError("benefit", "not_a_member", MSG_NOT_A_MEMBER))
    if membership.status == MembershipStatus.SUSPENDED:
        raise InvalidInput(FieldError("benefit", "card_suspended", MSG_CARD_SUSPENDED))
    if membership.status != MembershipStatus.CARD_ISSUED:
        raise InvalidInput(FieldError("benefit", "no_card", MSG_NO_CARD_YET))
    if BenefitRedemption.objects.filter(checkin=checkin).exists():
        raise InvalidInput(FieldError("benefit", "already_redeemed", MSG_ALREADY_REDEEMED))
    since = month_start(at)
    used = BenefitRedemption.objects.filter(membership=membership, benefit=benefit,
                                            at__gte=since).count()
    if used >= benefit.member_limit:
        raise InvalidInput(FieldError("benefit", "member_limit_reached", MSG_MEMBER_LIMIT % {
            "used": used, "limit": benefit.member_limit}))
    cap = (BenefitStationLimit.objects.select_for_update()
           .filter(benefit=benefit, station_id=checkin.station_id).first())
    if cap is not None:
        given = BenefitRedemption.objects.filter(station_id=checkin.station_id, benefit=benefit,
                                                 at__gte=since).count()
        if given >= cap.monthly_limit:
            raise InvalidInput(FieldError("benefit", "station_limit_reached",
                                          MSG_STATION_LIMIT % {"limit": cap.monthly_limit}))
    return BenefitRedemption.objects.create(
        checkin=checkin, benefit=benefit, membership=membership, rider_id=checkin.rider_id,
        station_id=checkin.station_id, at=at,
    )
