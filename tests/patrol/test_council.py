"""The riders' suggestion box and council (issue 18): the board grouped by topic and place,
scoped by subdistrict; meetings planned, topics gathering their cases, outcomes recorded and
told once to each rider who raised them; refusals naming the field with nothing written."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from civicmap.errors import Conflict, DomainError, InvalidInput, PermissionRefused
from civicmap.models import CommunityGrid, Subdistrict
from issues.models import Case, Category
from patrol.models import CouncilMeeting, CouncilTopic, CouncilTopicCase, Notification
from patrol.selectors_council import council_board, council_may_act, council_may_read
from patrol.services.council import (
    MSG_CASE_ELSEWHERE,
    MSG_DATE_PAST,
    MSG_NOT_YOURS,
    MSG_OUTCOME_EARLY,
    MSG_OUTCOME_EMPTY,
    MSG_TITLE_EMPTY,
    MSG_TOPIC_TWICE,
    council_meeting_plan,
    council_topic_add,
    council_topic_outcome_record,
    council_topic_remove,
)
from tests.patrol.helpers import (
    API,
    CHENGYUAN,
    HEYI_XILI_1,
    HUAIFANG,
    client_for,
    cst,
    report,
    user,
)

pytestmark = pytest.mark.django_db

NANYUAN = "110106005"
HEYI = "110106016"
NOW = cst(2026, 11, 30, 10)
PARKING, CHARGING = "L0201", "L0202"


def _ids(response) -> list[str]:
    return [row["category"] for row in response.json()["rows"]]


@pytest.fixture
def suggestions(reference_data) -> dict:
    """Nanyuan's own-needs cases (points of one community are ≥ 213 m apart: one case each,
    except where two riders report at one point and the second joins the first):

      P1  parking, Huaifang, rider1 and rider2 (joined), 2 Nov 09:00: open
      P2  parking, Huaifang, rider1, 3 Nov 09:00: closed (set directly: the board only counts)
      P3  parking, Huaifang, rider3, 4 Nov 09:00: cancelled (set directly)
      P4  parking, Chengyuan, rider2, 5 Nov 09:00: open
      C1  charging, Huaifang, rider4, 20 Nov 09:00: open
      H1  parking, Heyi, rider5, 6 Nov 09:00: open (another subdistrict's)
      E   an ordinary case (E0101) in Huaifang: not on the board.
    """
    at = cst(2026, 11, 2, 9)
    p1 = report(PARKING, community=HUAIFANG, point=0, reporter="rider1", at=at).case
    joined = report(PARKING, community=HUAIFANG, point=0, reporter="rider2",
                    at=at + timedelta(hours=1)).case
    assert joined.pk == p1.pk
    p2 = report(PARKING, community=HUAIFANG, point=1, reporter="rider1",
                at=cst(2026, 11, 3, 9)).case
    p3 = report(PARKING, community=HUAIFANG, point=2, reporter="rider3",
                at=cst(2026, 11, 4, 9)).case
    p4 = report(PARKING, community=CHENGYUAN, point=0, reporter="rider2",
                at=cst(2026, 11, 5, 9)).case
    c1 = report(CHARGING, community=HUAIFANG, point=3, reporter="rider4",
                at=cst(2026, 11, 20, 9)).case
    h1 = report(PARKING, community=HEYI_XILI_1, point=0, reporter="rider5",
                at=cst(2026, 11, 6, 9)).case
    report("E0101", community=HUAIFANG, point=4, reporter="rider1", at=cst(2026, 11, 6, 9))
    # The states the board counts; the lifecycle's own tests cover how cases get there.
    Case.objects.filter(pk=p2.pk).update(stage="closed", closed_at=cst(2026, 11, 10))
    Case.objects.filter(pk=p3.pk).update(stage="cancelled")
    return {"p1": p1, "p2": p2, "p3": p3, "p4": p4, "c1": c1, "h1": h1}


def _nanyuan() -> Subdistrict:
    return Subdistrict.objects.get(code=NANYUAN)


def _community(code: str) -> CommunityGrid:
    return CommunityGrid.objects.get(code=code)


def _category(code: str) -> Category:
    return Category.objects.get(code=code)


def _meeting(day: date = date(2026, 12, 10)) -> CouncilMeeting:
    return council_meeting_plan(actor=user("union1"), subdistrict=_nanyuan(), date=day,
                                title="十二月小哥议事会", at=NOW)


def _written() -> tuple:
    return (CouncilMeeting.objects.count(), CouncilTopic.objects.count(),
            CouncilTopicCase.objects.count(), Notification.objects.count())


def _fields(refused: DomainError) -> list[tuple[str | None, str]]:
    return [(error.field, str(error.message)) for error in refused.errors]


# --- the board --------------------------------------------------------------------------------


def test_board_groups_own_needs_cases_by_topic_and_place_with_counts(suggestions):
    rows = council_board(subdistrict_id=_nanyuan().pk)
    got = {(row.category_code, row.community_zh): (row.total, row.open, row.closed,
                                                   row.cancelled) for row in rows}
    assert got == {
        (PARKING, "槐房社区"): (3, 1, 1, 1),
        (PARKING, "诚苑社区"): (1, 1, 0, 0),
        (CHARGING, "槐房社区"): (1, 1, 0, 0),
    }
    huaifang = next(r for r in rows
                    if r.category_code == PARKING and r.community_zh == "槐房社区")
    assert huaifang.newest == cst(2026, 11, 4, 9)  # P3's report, the newest of the three
    assert all(row.planned_meeting_id is None for row in rows)


def test_board_filters_by_period_and_state(suggestions):
    nanyuan = _nanyuan().pk
    november_start = council_board(subdistrict_id=nanyuan, since=date(2026, 11, 3),
                                   until=date(2026, 11, 5))
    assert {(r.category_code, r.community_zh, r.total) for r in november_start} == {
        (PARKING, "槐房社区", 2), (PARKING, "诚苑社区", 1)}  # P2, P3; P4 (5 Nov, included)
    open_only = council_board(subdistrict_id=nanyuan, state="open")
    assert sorted((r.category_code, r.community_zh, r.total) for r in open_only) == [
        (PARKING, "槐房社区", 1), (PARKING, "诚苑社区", 1), (CHARGING, "槐房社区", 1)]
    closed = council_board(subdistrict_id=nanyuan, state="closed")
    assert [(r.category_code, r.closed, r.total) for r in closed] == [(PARKING, 1, 1)]


def test_board_shows_a_topic_on_a_planned_meetings_agenda(suggestions):
    meeting = _meeting()
    council_topic_add(actor=user("union1"), meeting=meeting, category=_category(PARKING),
                      community=_community(HUAIFANG), at=NOW)
    rows = {(r.category_code, r.community_zh): r for r in
            council_board(subdistrict_id=_nanyuan().pk)}
    assert rows[(PARKING, "槐房社区")].planned_meeting_id == meeting.pk
    assert rows[(PARKING, "槐房社区")].planned_meeting_date == date(2026, 12, 10)
    assert rows[(PARKING, "诚苑社区")].planned_meeting_id is None


def test_another_subdistricts_union_sees_none_of_nanyuans_board(suggestions):
    heyi = council_board(subdistrict_id=Subdistrict.objects.get(code=HEYI).pk)
    assert [(r.category_code, r.total) for r in heyi] == [(PARKING, 1)]  # H1 only
    answer = client_for("union_heyi1").get(f"{API}/council/board/")
    assert answer.status_code == 200
    assert answer.json()["subdistrict"] == HEYI
    assert [row["total"] for row in answer.json()["rows"]] == [1]
    assert client_for("union_heyi1").get(f"{API}/council/board/",
                                         {"subdistrict": NANYUAN}).status_code == 404


def test_api_reads_the_same_board_as_the_selector(suggestions):
    answer = client_for("union1").get(f"{API}/council/board/", {"state": "open"})
    assert answer.status_code == 200
    expected = [row.as_json() for row in council_board(subdistrict_id=_nanyuan().pk,
                                                       state="open")]
    assert answer.json() == {"subdistrict": NANYUAN, "rows": expected}
    district = client_for("office_district")
    assert district.get(f"{API}/council/board/").status_code == 400  # must choose one
    assert district.get(f"{API}/council/board/", {"subdistrict": NANYUAN}).json() == {
        "subdistrict": NANYUAN,
        "rows": [row.as_json() for row in council_board(subdistrict_id=_nanyuan().pk)]}
    bad = client_for("union1").get(f"{API}/council/board/", {"state": "solved"})
    assert bad.status_code == 400
    assert [e["field"] for e in bad.json()["errors"]] == ["state"]
    assert client_for("rider1").get(f"{API}/council/board/").status_code == 403
    assert client_for("office1").get(f"{API}/council/board/").status_code == 403


def test_who_reads_and_who_acts():
    nanyuan = _nanyuan().pk
    assert council_may_act(user=user("union1"), subdistrict_id=nanyuan)
    assert not council_may_act(user=user("union_heyi1"), subdistrict_id=nanyuan)
    assert not council_may_act(user=user("office_district"), subdistrict_id=nanyuan)
    assert council_may_read(user=user("office_district"))
    assert not council_may_read(user=user("office1"))
    assert not council_may_read(user=user("rider1"))


# --- meetings, topics, outcomes ---------------------------------------------------------------


def test_a_topic_gathers_its_waiting_cases_and_outcome_tells_each_reporter_once(suggestions):
    meeting = _meeting(date(2026, 11, 30))
    topic = council_topic_add(actor=user("union1"), meeting=meeting,
                              category=_category(PARKING), community=_community(HUAIFANG),
                              at=NOW)
    # P1 and P2 (open and closed); not P3 (cancelled), P4 (Chengyuan) or H1 (Heyi).
    assert sorted(c.pk for c in topic.cases.all()) == sorted(
        [suggestions["p1"].pk, suggestions["p2"].pk])
    other = council_topic_add(actor=user("union1"), meeting=meeting,
                              category=_category(CHARGING), community=_community(HUAIFANG),
                              at=NOW)
    council_topic_outcome_record(actor=user("union1"), topic=topic,
                                 outcome="商请物业在南门外划设骑手临时停车区。", at=NOW)
    told = Notification.objects.filter(kind="council_outcome")
    # rider1 reported P1 and P2, rider2 joined P1: one notification each.
    assert sorted(told.values_list("recipient__username", flat=True)) == ["rider1", "rider2"]
    first = told.get(recipient__username="rider1")
    assert first.case_id is None
    assert first.data["outcome"] == "商请物业在南门外划设骑手临时停车区。"
    assert first.data["place"]["zh"] == "槐房社区"
    assert first.data["category"] == PARKING and first.data["date"] == "2026-11-30"
    feed = client_for("rider1").get(f"{API}/notifications/").json()
    texts = [item["message"] for item in feed["notifications"]
             if item["kind"] == "council_outcome"]
    assert len(texts) == 1 and texts[0].endswith("商请物业在南门外划设骑手临时停车区。")
    meeting.refresh_from_db()
    assert meeting.state == "planned"  # the charging topic has no outcome yet
    # Recording again is refused; nobody hears twice.
    with pytest.raises(Conflict):
        council_topic_outcome_record(actor=user("union1"), topic=topic, outcome="再议", at=NOW)
    assert told.count() == 2
    council_topic_outcome_record(actor=user("union1"), topic=other,
                                 outcome="驿站增设充电柜。", at=NOW)
    meeting.refresh_from_db()
    assert meeting.state == "held" and meeting.held_at == NOW
    assert sorted(Notification.objects.filter(kind="council_outcome").values_list(
        "recipient__username", flat=True)) == ["rider1", "rider2", "rider4"]


def test_decided_cases_wait_for_no_later_topic(suggestions):
    meeting = _meeting(date(2026, 11, 30))
    topic = council_topic_add(actor=user("union1"), meeting=meeting,
                              category=_category(CHARGING), community=_community(HUAIFANG),
                              at=NOW)
    council_topic_outcome_record(actor=user("union1"), topic=topic, outcome="已协调。", at=NOW)
    later = _meeting(date(2026, 12, 20))
    with pytest.raises(InvalidInput) as refused:
        council_topic_add(actor=user("union1"), meeting=later, category=_category(CHARGING),
                          community=_community(HUAIFANG), at=NOW)
    assert [e.field for e in refused.value.errors] == ["category"]


def test_outcome_message_in_both_languages(suggestions):
    from django.utils import translation

    from patrol.notifications.content import notification_message

    meeting = _meeting(date(2026, 11, 30))
    topic = council_topic_add(actor=user("union1"), meeting=meeting,
                              category=_category(CHARGING), community=_community(HUAIFANG),
                              at=NOW)
    council_topic_outcome_record(actor=user("union1"), topic=topic, outcome="增设充电柜。",
                                 at=NOW)
    row = Notification.objects.get(kind="council_outcome")
    with translation.override("zh-hans"):
        zh = notification_message(kind=row.kind, data=row.data, case_id=None)
    with translation.override("en"):
        en = notification_message(kind=row.kind, data=row.data, case_id=None)
    charging = _category(CHARGING)
    assert zh == f"2026-11-30 的小哥议事会讨论了槐房社区的“{charging.name_zh}”：增设充电柜。"
    place = _community(HUAIFANG).name_en
    assert en == (f"The riders' council of 2026-11-30 discussed {charging.name_en} in "
                  f"{place}: 增设充电柜。")


@pytest.mark.parametrize(("plan", "field", "message"), [
    ({"date": date(2026, 11, 29), "title": "会议"}, "date", MSG_DATE_PAST),
    ({"date": date(2026, 12, 1), "title": "  "}, "title", MSG_TITLE_EMPTY),
])
def test_planning_refusals_name_the_field_and_write_nothing(reference_data, plan, field,
                                                            message):
    before = _written()
    with pytest.raises(InvalidInput) as refused:
        council_meeting_plan(actor=user("union1"), subdistrict=_nanyuan(), at=NOW, **plan)
    assert _fields(refused.value) == [(field, str(message))]
    assert _written() == before


def test_another_subdistricts_union_may_not_plan_or_add(suggestions):
    before = _written()
    with pytest.raises(PermissionRefused) as refused:
        council_meeting_plan(actor=user("union_heyi1"), subdistrict=_nanyuan(),
                             date=date(2026, 12, 10), title="会议", at=NOW)
    assert _fields(refused.value) == [("subdistrict", str(MSG_NOT_YOURS))]
    meeting = _meeting()
    before = _written()
    with pytest.raises(PermissionRefused):
        council_topic_add(actor=user("union_heyi1"), meeting=meeting,
                          category=_category(PARKING), community=_community(HUAIFANG), at=NOW)
    with pytest.raises(PermissionRefused):  # the district reads, does not act
        council_topic_add(actor=user("office_district"), meeting=meeting,
                          category=_category(PARKING), community=_community(HUAIFANG), at=NOW)
    assert _written() == before


def test_topic_refusals_name_the_field_and_write_nothing(suggestions):
    meeting = _meeting()
    council_topic_add(actor=user("union1"), meeting=meeting, category=_category(PARKING),
                      community=_community(HUAIFANG), at=NOW)
    before = _written()
    cases = [
        ({"category": _category(PARKING), "community": _community(HUAIFANG)},
         [("category", str(MSG_TOPIC_TWICE))]),
        ({"category": _category("E0101"), "community": _community(HUAIFANG)},
         [("category", None)]),
        ({"category": _category(PARKING), "community": _community(HEYI_XILI_1)},
         [("community", None)]),
        ({"category": _category(PARKING), "community": _community(CHENGYUAN),
          "case_ids": [suggestions["p4"].pk, suggestions["h1"].pk]},
         [("cases", str(MSG_CASE_ELSEWHERE % {"case": suggestions["h1"].pk}))]),
        ({"category": _category("L0203"), "community": None}, [("category", None)]),
    ]
    for kwargs, expected in cases:
        with pytest.raises(DomainError) as refused:
            council_topic_add(actor=user("union1"), meeting=meeting, at=NOW, **kwargs)
        got = _fields(refused.value)
        assert [field for field, _ in got] == [field for field, _ in expected], kwargs
        for (_, message), (_, want) in zip(got, expected, strict=True):
            assert want is None or message == want
    assert _written() == before


def test_outcome_refusals_name_the_field_and_write_nothing(suggestions):
    meeting = _meeting(date(2026, 12, 10))
    topic = council_topic_add(actor=user("union1"), meeting=meeting,
                              category=_category(PARKING), community=_community(HUAIFANG),
                              at=NOW)
    before = _written()
    with pytest.raises(InvalidInput) as empty:
        council_topic_outcome_record(actor=user("union1"), topic=topic, outcome="  \n",
                                     at=cst(2026, 12, 10, 15))
    assert _fields(empty.value) == [("outcome", str(MSG_OUTCOME_EMPTY))]
    with pytest.raises(InvalidInput) as early:
        council_topic_outcome_record(actor=user("union1"), topic=topic, outcome="定了",
                                     at=cst(2026, 12, 9, 23, 59))
    assert _fields(early.value) == [("outcome", str(MSG_OUTCOME_EARLY))]
    assert _written() == before
    council_topic_remove(actor=user("union1"), topic=topic)
    assert CouncilTopic.objects.count() == 0 and CouncilTopicCase.objects.count() == 0


def test_database_keeps_a_topics_cases_in_the_meetings_subdistrict(suggestions):
    meeting = _meeting()
    topic = council_topic_add(actor=user("union1"), meeting=meeting,
                              category=_category(PARKING), community=_community(CHENGYUAN),
                              at=NOW)
    with pytest.raises(IntegrityError), transaction.atomic():
        CouncilTopicCase.objects.create(topic=topic, meeting=meeting, case=suggestions["h1"])
    with pytest.raises(IntegrityError), transaction.atomic():  # a case on one topic per meeting
        other = CouncilTopic.objects.create(meeting=meeting, category=_category(CHARGING))
        CouncilTopicCase.objects.create(topic=other, meeting=meeting, case=suggestions["p4"])
    with pytest.raises(IntegrityError), transaction.atomic():  # an outcome has its time
        CouncilTopic.objects.filter(pk=topic.pk).update(outcome="定了")
    with pytest.raises(IntegrityError), transaction.atomic():  # held: every topic decided
        CouncilMeeting.objects.filter(pk=meeting.pk).update(state="held", held_at=NOW)
        connection.check_constraints()
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.mark.parametrize(("query", "field"), [
    ({"since": "2026-13-01"}, "since"),
    ({"until": "yesterday"}, "until"),
    ({"since": "2026-11-10", "until": "2026-11-01"}, "until"),
    ({"subdistrict": "nanyuan"}, "subdistrict"),
    ({"state": "evaluated"}, "state"),
])
def test_api_refuses_a_bad_filter_naming_it(reference_data, query, field):
    answer = client_for("union1").get(f"{API}/council/board/", query)
    assert answer.status_code == 400
    assert [error["field"] for error in answer.json()["errors"]] == [field]


def test_an_outcome_goes_to_the_webhook_once_per_reporter(suggestions, settings):
    from patrol.models import WebhookDelivery

    settings.WEBHOOK_URL = "http://127.0.0.1:9/hook"  # nothing is sent here: rows only
    settings.WEBHOOK_KINDS = []
    meeting = _meeting(date(2026, 11, 30))
    topic = council_topic_add(actor=user("union1"), meeting=meeting,
                              category=_category(PARKING), community=_community(HUAIFANG),
                              at=NOW)
    council_topic_outcome_record(actor=user("union1"), topic=topic, outcome="试行临时停车区。",
                                 at=NOW)
    deliveries = WebhookDelivery.objects.filter(notification__kind="council_outcome")
    assert sorted(deliveries.values_list("notification__recipient__username", flat=True)) == [
        "rider1", "rider2"]
    assert "试行临时停车区。" in deliveries.first().body
