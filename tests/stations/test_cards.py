"""The 苑苑暖心卡: benefits redeemed at check-in within the member's and the station's monthly
limits, refusals naming the field with nothing written, the race for the last allowed use, the
membership's status changes with their history, and the rider's card."""

from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg2
import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction

from civicmap.errors import InvalidInput, PermissionRefused
from stations.cards import (
    benefit_station_limit_set,
    benefit_update,
    membership_status_set,
)
from stations.models import (
    Benefit,
    BenefitRedemption,
    CheckIn,
    MembershipEvent,
    MembershipStatus,
    Station,
    UnionMembership,
)
from stations.services import checkin_create, station_token_ensure
from tests.stations.helpers import CHECKINS_URL, client_for

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
WANDA = "槐房万达广场党群服务站"  # at 116.392000 E, 39.797000 N: haircut, ID copies; no tyres
WANDA_POINT = (116.392, 39.797)
CENTRE = "南苑街道党群服务中心工会驿站"  # at 116.395 E, 39.8045 N: haircut, tyres, ID copies
CENTRE_POINT = (116.395, 39.8045)
HEYI_CENTRE = "和义街道党群服务中心工会驿站"  # at 116.3832 E, 39.8211 N: no haircut benefit
HEYI_POINT = (116.3832, 39.8211)
NANYUAN = "110106005"
NOV_10 = datetime(2026, 11, 10, 12, 0, tzinfo=SHANGHAI)
CARD_URL = "/api/v1/me/card/"


def _user(username: str):
    return get_user_model().objects.get(username=username)


def _code(name: str) -> str:
    return station_token_ensure(station=Station.objects.get(name_zh=name)).short_code


def _visit(username: str, *, station: str = WANDA, point=WANDA_POINT, benefit: str | None,
           at: datetime = NOV_10):
    return checkin_create(rider=_user(username), code=_code(station), lon=point[0],
                          lat=point[1], benefit=benefit, now=at)


def _refusal(call) -> tuple[str | None, str]:
    with pytest.raises(InvalidInput) as refused:
        call()
    (error,) = refused.value.errors
    return error.field, error.code


def _hours(n: int) -> datetime:
    return NOV_10.replace(hour=NOV_10.hour + n)


@pytest.fixture
def cards(reference_data):
    """The demo's memberships: rider1 and rider3 Nanyuan's with cards, rider4 joined without
    one, rider5 suspended (fixtures/benefits.json)."""
    return {m.rider.username: m for m in UnionMembership.objects.select_related("rider")}


def test_a_benefit_is_recorded_with_the_check_in(cards):
    result = _visit("rider1", benefit="haircut")
    redemption = result.redemption
    assert result.counted and redemption is not None
    assert (redemption.benefit.code, redemption.station.name_zh, redemption.rider.username,
            redemption.checkin_id, redemption.at) == (
        "haircut", WANDA, "rider1", result.checkin.pk, NOV_10)
    assert redemption.membership == cards["rider1"]


def test_the_member_limit_per_month_refuses_the_next_use_and_writes_nothing(cards):
    _visit("rider1", benefit="haircut")  # 1 haircut a month
    before = CheckIn.objects.count()
    assert _refusal(lambda: _visit("rider1", station=CENTRE, point=CENTRE_POINT,
                                   benefit="haircut", at=_hours(2))) == (
        "benefit", "member_limit_reached")
    assert CheckIn.objects.count() == before and BenefitRedemption.objects.count() == 1
    # Next month (Beijing's calendar) the count starts again.
    assert _visit("rider1", benefit="haircut",
                  at=datetime(2026, 12, 1, 0, 30, tzinfo=SHANGHAI)).redemption is not None


def test_the_station_limit_counts_every_member(cards):
    benefit = Benefit.objects.get(subdistrict__code=NANYUAN, code="haircut")
    wanda = Station.objects.get(name_zh=WANDA)
    benefit_station_limit_set(benefit_id=benefit.pk, station_id=wanda.pk, monthly_limit=1,
                              actor=_user("union1"))
    _visit("rider1", benefit="haircut")
    assert _refusal(lambda: _visit("rider3", benefit="haircut")) == (
        "benefit", "station_limit_reached")
    assert not CheckIn.objects.filter(rider__username="rider3").exists()
    # Another station has its own cap: rider3 has the haircut there.
    assert _visit("rider3", station=CENTRE, point=CENTRE_POINT,
                  benefit="haircut").redemption is not None


@pytest.mark.parametrize(("username", "station", "point", "benefit", "code"), [
    ("rider1", WANDA, WANDA_POINT, "tyre_repair", "not_offered"),  # 万达 repairs no tyres
    ("rider1", HEYI_CENTRE, HEYI_POINT, "haircut", "not_offered"),  # Heyi has no haircut
    ("rider1", WANDA, WANDA_POINT, "massage", "unknown"),
    ("rider5", WANDA, WANDA_POINT, "haircut", "card_suspended"),
    ("rider4", WANDA, WANDA_POINT, "haircut", "no_card"),
    ("rider2", WANDA, WANDA_POINT, "haircut", "member_limit_reached"),
])
def test_refusals_name_the_benefit_and_write_nothing(cards, username, station, point, benefit,
                                                     code):
    if code == "member_limit_reached":  # rider2 (Heyi's member) used Nanyuan's haircut
        _visit(username, station=CENTRE, point=CENTRE_POINT, benefit="haircut", at=_hours(-3))
    before = (CheckIn.objects.count(), BenefitRedemption.objects.count())
    assert _refusal(lambda: _visit(username, station=station, point=point,
                                   benefit=benefit)) == ("benefit", code)
    assert (CheckIn.objects.count(), BenefitRedemption.objects.count()) == before


def test_a_non_member_is_refused(cards):
    UnionMembership.objects.filter(rider__username="rider1").delete()
    assert _refusal(lambda: _visit("rider1", benefit="haircut")) == ("benefit", "not_a_member")
    assert not CheckIn.objects.exists()


def test_a_station_cap_of_zero_means_not_offered_there(cards):
    benefit = Benefit.objects.get(subdistrict__code=NANYUAN, code="id_copies")
    benefit_station_limit_set(benefit_id=benefit.pk,
                              station_id=Station.objects.get(name_zh=WANDA).pk,
                              monthly_limit=0, actor=_user("union1"))
    assert _refusal(lambda: _visit("rider1", benefit="id_copies")) == ("benefit", "not_offered")


def test_one_benefit_per_visit(cards):
    _visit("rider1", benefit="id_copies")
    assert _refusal(lambda: _visit("rider1", benefit="haircut")) == (
        "benefit", "already_redeemed")
    assert BenefitRedemption.objects.count() == 1


def test_the_database_refuses_a_redemption_at_another_station_than_its_check_in(cards):
    checkin = _visit("rider1", benefit=None).checkin
    centre = Station.objects.get(name_zh=CENTRE)
    benefit = Benefit.objects.get(subdistrict__code=NANYUAN, code="haircut")
    with pytest.raises(IntegrityError), transaction.atomic():
        BenefitRedemption.objects.create(checkin=checkin, benefit=benefit,
                                         membership=cards["rider1"], rider=checkin.rider,
                                         station=centre, at=NOV_10)
        connection.check_constraints()  # the composite keys are deferred to the commit
    with pytest.raises(IntegrityError), transaction.atomic():
        BenefitRedemption.objects.create(checkin=checkin, benefit=benefit,
                                         membership=cards["rider3"], rider=checkin.rider,
                                         station=checkin.station, at=NOV_10)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.mark.django_db(transaction=True)
def test_the_last_allowed_use_goes_to_one_of_two_at_once(reference_data):
    """Another transaction holds rider1's membership row (as a concurrent redemption does) and
    records the month's one haircut; the check-in waiting for the row then counts it and is
    refused. Without the lock both would have counted none and both been written."""
    rider1 = _user("rider1")
    membership = UnionMembership.objects.get(rider=rider1)
    earlier = _visit("rider1", station=CENTRE, point=CENTRE_POINT, benefit=None, at=_hours(-2))
    haircut = Benefit.objects.get(subdistrict__code=NANYUAN, code="haircut")
    settings = connection.settings_dict
    other = psycopg2.connect(dbname=settings["NAME"], user=settings["USER"],
                             password=settings["PASSWORD"],
                             host=settings["HOST"] or "127.0.0.1", port=settings["PORT"] or 5432)
    outcome: dict = {}
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            other_pid = cursor.fetchone()[0]
            cursor.execute("SELECT id FROM stations_unionmembership WHERE id = %s FOR UPDATE",
                           [membership.pk])
            cursor.execute(
                "INSERT INTO stations_benefitredemption "
                "(checkin_id, benefit_id, membership_id, rider_id, station_id, at) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                [earlier.checkin.pk, haircut.pk, membership.pk, rider1.pk,
                 earlier.checkin.station_id, _hours(-2)])

        def rider_redeems() -> None:
            try:
                outcome["result"] = _visit("rider1", benefit="haircut")
            except InvalidInput as refused:
                outcome["refused"] = refused.errors[0].code
            finally:
                connection.close()

        waiting = threading.Thread(target=rider_redeems)
        waiting.start()
        with other.cursor() as cursor:  # until the check-in waits for the row (no sleep)
            blocked: list = []
            while not blocked and waiting.is_alive():
                cursor.execute("SELECT pg_stat_clear_snapshot()")  # else a stale snapshot
                cursor.execute("SELECT pid FROM pg_stat_activity WHERE wait_event_type = "
                               "'Lock' AND %s = ANY(pg_blocking_pids(pid))", [other_pid])
                blocked = cursor.fetchall()
        other.commit()
        waiting.join()
    finally:
        other.close()
    assert blocked, "the check-in never waited for the membership row"
    assert outcome == {"refused": "member_limit_reached"}
    assert BenefitRedemption.objects.filter(membership=membership).count() == 1
    assert CheckIn.objects.filter(rider=rider1).count() == 1


# --- the membership's status and the union's limits --------------------------------------------


def test_union_staff_suspend_and_reinstate_with_the_reason_in_the_history(cards):
    union1 = _user("union1")
    membership = membership_status_set(membership_id=cards["rider3"].pk,
                                       to_status=MembershipStatus.SUSPENDED,
                                       reason="会费逾期", actor=union1)
    assert membership.status == "suspended" and membership.card_number
    membership_status_set(membership_id=membership.pk, to_status=MembershipStatus.CARD_ISSUED,
                          reason="已补缴", actor=union1)
    events = list(MembershipEvent.objects.filter(membership=membership)
                  .values_list("from_status", "to_status", "reason", "actor__username"))
    assert events[-2:] == [("card_issued", "suspended", "会费逾期", "union1"),
                           ("suspended", "card_issued", "已补缴", "union1")]


def test_issuing_a_card_gives_the_next_number(cards):
    numbers = list(UnionMembership.objects.exclude(card_number=None)
                   .values_list("card_number", flat=True))
    membership = membership_status_set(membership_id=cards["rider4"].pk,
                                       to_status=MembershipStatus.CARD_ISSUED,
                                       reason="办卡", actor=_user("union1"))
    assert membership.card_number == f"NY{int(max(numbers)[2:]) + 1:08d}"


@pytest.mark.parametrize(("username", "target", "status", "reason", "refusal"), [
    ("union1", "rider3", "suspended", "  ", ("reason", "required")),
    ("union1", "rider3", "joined", "退卡", ("status", "invalid_transition")),
    ("union1", "rider4", "card_issued", "x" * 201, ("reason", "required")),
])
def test_bad_status_changes_name_the_field(cards, username, target, status, reason, refusal):
    with pytest.raises(InvalidInput) as refused:
        membership_status_set(membership_id=cards[target].pk, to_status=status, reason=reason,
                              actor=_user(username))
    assert (refused.value.errors[0].field, refused.value.errors[0].code) == refusal
    assert UnionMembership.objects.get(pk=cards[target].pk).status == cards[target].status


@pytest.mark.parametrize("username", ["union_heyi1", "office_district", "office1"])
def test_only_the_members_own_union_changes_it(cards, username):
    with pytest.raises(PermissionRefused):
        membership_status_set(membership_id=cards["rider3"].pk, to_status="suspended",
                              reason="核查", actor=_user(username))
    with pytest.raises(PermissionRefused):
        benefit_update(benefit_id=Benefit.objects.get(subdistrict__code=NANYUAN,
                                                      code="haircut").pk,
                       member_limit=3, is_active=True, actor=_user(username))


@pytest.mark.parametrize(("value", "field"), [(0, "member_limit"), (101, "member_limit"),
                                              (True, "member_limit"), ("2", "member_limit")])
def test_a_bad_member_limit_names_the_field(cards, value, field):
    haircut = Benefit.objects.get(subdistrict__code=NANYUAN, code="haircut")
    with pytest.raises(InvalidInput) as refused:
        benefit_update(benefit_id=haircut.pk, member_limit=value, is_active=True,
                       actor=_user("union1"))
    assert refused.value.errors[0].field == field
    assert Benefit.objects.get(pk=haircut.pk).member_limit == 1


def test_a_station_limit_must_be_of_the_benefits_subdistrict(cards):
    haircut = Benefit.objects.get(subdistrict__code=NANYUAN, code="haircut")
    heyi = Station.objects.get(name_zh=HEYI_CENTRE)
    with pytest.raises(InvalidInput) as refused:
        benefit_station_limit_set(benefit_id=haircut.pk, station_id=heyi.pk, monthly_limit=5,
                                  actor=_user("union1"))
    assert refused.value.errors[0].field == "station"


# --- the API -----------------------------------------------------------------------------------


def test_the_check_in_api_takes_a_benefit_and_the_card_shows_what_is_left(cards):
    client = client_for("rider1")
    response = client.post(CHECKINS_URL, {"code": _code(WANDA), "lon": WANDA_POINT[0],
                                          "lat": WANDA_POINT[1], "benefit": "id_copies"},
                           format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 201, response.content
    assert response.json()["benefit"]["code"] == "id_copies"
    assert response.json()["benefit"]["name"] == "Free ID copies"
    card = client.get(CARD_URL, HTTP_ACCEPT_LANGUAGE="en").json()
    assert (card["status"], card["card_number"]) == ("card_issued",
                                                     cards["rider1"].card_number)
    copies = next(b for b in card["benefits"]
                  if b["code"] == "id_copies" and b["subdistrict"] == "Nanyuan Subdistrict")
    assert (copies["member_limit"], copies["used"], copies["remaining"]) == (4, 1, 3)


def test_a_refused_benefit_is_a_400_naming_it_and_no_check_in(cards):
    response = client_for("rider1").post(
        CHECKINS_URL, {"code": _code(WANDA), "lon": WANDA_POINT[0], "lat": WANDA_POINT[1],
                       "benefit": "tyre_repair"}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "benefit", "code": "not_offered",
                                          "message": "This station does not offer this benefit."}]
    assert not CheckIn.objects.exists()


def test_a_suspended_card_shows_no_uses_left(cards):
    card = client_for("rider5").get(CARD_URL).json()
    assert card["status"] == "suspended"
    assert card["benefits"] and all(b["remaining"] == 0 for b in card["benefits"])
