"""Rider recognition (先锋骑手): the points ledger, the monthly leaderboard and its exports, a
rider's own points page, and who may call each endpoint.

Cases go through the real lifecycle (``tests.patrol.helpers``: intake, then ``case_act`` with
injected times); points are whatever ``_verify`` awards. The values are the defaults of
civicmap/settings/base.py: first reporter 10, confirmer 3, daily cap 30 (Asia/Shanghai day).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from django.db import IntegrityError, transaction
from openpyxl import load_workbook

from issues.models import PointsEntry, Rider
from issues.services.cases import case_confirm
from issues.services.points import (
    case_points_award,
    case_points_revoke,
    cases_points_backfill,
    verified_event_key,
)
from tests.patrol.helpers import (
    API,
    HEYI_XILI_1,
    act,
    app_report,
    client_for,
    cst,
    join_all,
    live_task,
    proof_photo,
    report,
    run_in_threads,
    user,
    wait_for_lock_waiters,
)

db = pytest.mark.django_db
LEADERBOARD = f"{API}/leaderboard/"
MY_POINTS = f"{API}/me/points/"
NAMES = {"rider1": "骑手王小勇", "rider2": "骑手李春生", "rider3": "骑手赵磊"}
ROLES = {
    "anonymous": None, "rider": "rider1", "volunteer": "hk_vol1", "team_leader": "hk_lead",
    "office_staff": "office1", "union_staff": "union1", "liaison": "liaison_municipal",
    "admin": "admin",
}


def export_url(extension: str) -> str:
    return f"{API}/leaderboard/export.{extension}"


def rider(username: str) -> Rider:
    return Rider.objects.get(user__username=username)


def close(case, at: datetime):
    """File, dispatch, accept, hand in and verify, one minute apart; verified at ``at``."""
    steps = [("file", "office1", {}), ("dispatch", "office1", {}), ("accept", "hk_vol1", {}),
             ("handin", "hk_vol1", {"note": "已清理"})]
    for minutes, (action, actor, params) in zip(range(4, 0, -1), steps, strict=True):
        if action == "handin":
            params = {**params, "photo": proof_photo()}
        act(case, action, actor, at=at - timedelta(minutes=minutes), **params)
    return act(case, "verify", "office2", at=at)


def ledger(case=None) -> list[tuple[str, int, str]]:
    entries = PointsEntry.objects.select_related("rider__user").order_by("rider__user__username")
    if case is not None:
        entries = entries.filter(case=case)
    return [(e.rider.user.username, e.points, e.reason) for e in entries]


def entry(username: str, points: int, at: datetime, case=None) -> PointsEntry:
    """A ledger row written directly, at ``at`` (for the leaderboard's reads)."""
    made = PointsEntry.objects.create(rider=rider(username), points=points, case=case,
                                      reason="first_reporter", event_key=f"test:{at}:{points}")
    PointsEntry.objects.filter(pk=made.pk).update(created_at=at)
    return made


# --- the ledger --------------------------------------------------------------------------------


@db
def test_the_first_reporter_earns_more_than_later_reporters_and_confirmers(reference_data,
                                                                          media_root):
    t0 = cst(2026, 3, 2, 9)
    case = report("E0101", reporter="rider1", at=t0).case
    assert report("E0101", reporter="rider2", at=t0 + timedelta(minutes=10)).case == case
    case_confirm(case_id=case.pk, position=case.location, rider=user("rider3"))
    report("E0101", reporter=None, at=t0 + timedelta(minutes=20))  # a citizen, not a rider
    report("E0101", reporter="rider2", at=t0 + timedelta(minutes=30))  # again: still once
    verified_at = cst(2026, 3, 2, 15)
    close(case, verified_at)

    assert ledger(case) == [("rider1", 10, "first_reporter"), ("rider2", 3, "confirmer"),
                            ("rider3", 3, "confirmer")]
    assert set(PointsEntry.objects.values_list("event_key", flat=True)) == {
        f"case:{case.pk}:verified"}
    assert set(PointsEntry.objects.values_list("created_at", flat=True)) == {verified_at}


@db
def test_reports_merged_into_a_case_count_as_confirmations_however_early(reference_data,
                                                                         media_root):
    earlier = report("E0101", reporter="rider2", point=0, at=cst(2026, 3, 2, 9)).case
    target = report("E0101", reporter="rider1", point=3, at=cst(2026, 3, 2, 10)).case
    assert earlier != target
    act(earlier, "merge", "office1", into=target.pk, at=cst(2026, 3, 2, 10, 30))
    close(target, cst(2026, 3, 2, 15))
    assert ledger(target) == [("rider1", 10, "first_reporter"), ("rider2", 3, "confirmer")]
    assert not PointsEntry.objects.filter(case=earlier).exists()


@db
def test_cancelled_cases_riders_needs_and_non_riders_earn_nothing(reference_data, media_root):
    cancelled = report("E0101", reporter="rider1", point=0).case
    case_confirm(case_id=cancelled.pk, position=cancelled.location, rider=user("rider2"))
    act(cancelled, "cancel", "office1", reason="无效上报")
    need = app_report("L0201", reporter="rider2", point=1).case
    act(need, "reply", "union1", note="已协调")
    assert PointsEntry.objects.count() == 0

    # A citizen reported first: nobody is the first reporter; the rider who joined confirms.
    citizens = report("E0101", reporter=None, point=3, at=cst(2026, 3, 2, 9)).case
    report("E0101", reporter="rider3", point=3, at=cst(2026, 3, 2, 9, 5))
    # A rider the union has deactivated earns nothing.
    Rider.objects.filter(user__username="rider2").update(is_active=False)
    case_confirm(case_id=citizens.pk, position=citizens.location, rider=user("rider2"))
    close(citizens, cst(2026, 3, 2, 15))
    assert ledger() == [("rider3", 3, "confirmer")]


@db
def test_the_daily_cap_cuts_awards_and_says_so(reference_data, media_root, settings):
    settings.POINTS_DAILY_CAP = 25
    cases = [report("E0101", reporter="rider1", point=n, at=cst(2026, 3, 2, 8)).case
             for n in range(5)]
    # Four verified on Monday 2 March (Asia/Shanghai), the fifth at 00:30 on Tuesday, which is
    # still Monday 16:30 in UTC: the day is Shanghai's.
    times = [cst(2026, 3, 2, 10), cst(2026, 3, 2, 12), cst(2026, 3, 2, 14),
             cst(2026, 3, 2, 23, 50), cst(2026, 3, 3, 0, 30)]
    for case, at in zip(cases, times, strict=True):
        close(case, at)
    points = [(e.points, e.reason) for e in PointsEntry.objects.order_by("created_at")]
    assert points == [(10, "first_reporter"), (10, "first_reporter"),
                      (5, "first_reporter_capped"), (0, "first_reporter_capped"),
                      (10, "first_reporter")]


@db
def test_an_award_is_written_once_per_rider_and_case(reference_data, media_root):
    case = report("E0101", reporter="rider1").case
    close(case, cst(2026, 3, 2, 15))
    assert case_points_award(case=case, at=cst(2026, 3, 2, 16)) == []
    assert ledger(case) == [("rider1", 10, "first_reporter")]
    with pytest.raises(IntegrityError), transaction.atomic():
        PointsEntry.objects.create(rider=rider("rider1"), points=10, reason="first_reporter",
                                   event_key=verified_event_key(case.pk))


@db
def test_points_of_a_case_are_withdrawn_once_if_it_is_ever_cancelled(reference_data,
                                                                     media_root):
    case = report("E0101", reporter="rider1").case
    case_confirm(case_id=case.pk, position=case.location, rider=user("rider2"))
    close(case, cst(2026, 3, 2, 15))
    later = cst(2026, 3, 5, 9)
    assert len(case_points_revoke(case=case, at=later)) == 2
    assert case_points_revoke(case=case, at=later) == []
    totals = {r.user.username: sum(r.points.values_list("points", flat=True))
              for r in Rider.objects.filter(user__username__in=["rider1", "rider2"])}
    assert totals == {"rider1": 0, "rider2": 0}


@db
def test_the_backfill_awards_verified_cases_written_without_the_lifecycle_once(reference_data,
                                                                              media_root):
    case = report("E0101", reporter="rider1").case
    case_confirm(case_id=case.pk, position=case.location, rider=user("rider2"))
    verified_at = cst(2026, 3, 2, 15)
    close(case, verified_at)
    PointsEntry.objects.all().delete()  # as the demo's bulk history leaves it
    assert cases_points_backfill() == 2
    assert ledger(case) == [("rider1", 10, "first_reporter"), ("rider2", 3, "confirmer")]
    assert set(PointsEntry.objects.values_list("created_at", flat=True)) == {verified_at}
    assert cases_points_backfill() == 0


@pytest.mark.django_db(transaction=True)
def test_two_verifications_at_once_for_one_rider_keep_to_the_cap(reference_data, settings,
                                                                 media_root):
    settings.POINTS_DAILY_CAP = 15
    cases = [report("E0101", reporter="rider1", point=n, at=cst(2026, 3, 2, 8)).case
             for n in range(2)]
    for case in cases:
        for action, actor, params in [("file", "office1", {}), ("dispatch", "office1", {}),
                                      ("accept", "hk_vol1", {}),
                                      ("handin", "hk_vol1", {"note": "已清理",
                                                             "photo": proof_photo()})]:
            act(case, action, actor, at=cst(2026, 3, 2, 9), **params)
    with transaction.atomic():
        # Hold rider1's row: both verifications reach the cap check and wait there together.
        Rider.objects.select_for_update().get(user__username="rider1")
        threads, results = run_in_threads(
            *[lambda case=case: act(case, "verify", "office2", at=cst(2026, 3, 2, 10))
              for case in cases])
        wait_for_lock_waiters(2)
    join_all(threads)
    assert all(not isinstance(r, Exception) for r in results), results
    assert sorted(PointsEntry.objects.values_list("points", "reason")) == [
        (5, "first_reporter_capped"), (10, "first_reporter")]
    assert all(live_task(case) is None for case in cases)


# --- the leaderboard ---------------------------------------------------------------------------


@db
def test_the_leaderboard_counts_by_the_shanghai_month_and_shares_ranks(reference_data):
    entry("rider1", 10, cst(2026, 3, 31, 23, 30))  # 15:30 UTC on the 31st: March
    entry("rider2", 7, cst(2026, 3, 1, 0, 10))  # 16:10 UTC on 28 February: still March here
    entry("rider2", 3, cst(2026, 3, 15, 12))
    entry("rider3", 4, cst(2026, 3, 10, 12))
    entry("rider3", 10, cst(2026, 4, 1, 0, 10))  # 16:10 UTC on 31 March: April
    entry("rider1", 3, cst(2026, 2, 28, 23, 50))  # February
    board = client_for("rider1").get(LEADERBOARD, {"month": "2026-03"},
                                     HTTP_ACCEPT_LANGUAGE="en").json()
    assert board["month"] == "2026-03" and board["community"] is None
    rows = [(r["rank"], r["display_name"], r["points"]) for r in board["riders"]]
    assert sorted(rows) == sorted([(1, NAMES["rider1"], 10), (1, NAMES["rider2"], 10),
                                   (3, NAMES["rider3"], 4)])
    assert [r["rank"] for r in board["riders"]] == [1, 1, 3]
    communities = {r["display_name"]: r["community"] for r in board["riders"]}
    assert communities == {NAMES["rider1"]: "Huaifang Community",
                           NAMES["rider2"]: "Chengyuan Community",
                           NAMES["rider3"]: "Nanting Xinyuan North Community"}

    april = client_for("rider1").get(LEADERBOARD, {"month": "2026-04"}).json()
    assert [(r["display_name"], r["points"]) for r in april["riders"]] == [(NAMES["rider3"], 10)]


@db
def test_a_community_board_lists_the_riders_registered_there(reference_data):
    entry("rider1", 10, cst(2026, 3, 5, 12))  # registered in 110106005010 (Huaifang)
    entry("rider2", 12, cst(2026, 3, 5, 12))  # registered in 110106005007 (Chengyuan)
    huaifang = client_for("office1").get(LEADERBOARD, {"month": "2026-03",
                                                       "community": "110106005010"}).json()
    assert huaifang["community"]["code"] == "110106005010"
    assert [(r["rank"], r["display_name"], r["points"]) for r in huaifang["riders"]] == [
        (1, NAMES["rider1"], 10)]
    whole = client_for("office1").get(LEADERBOARD, {"month": "2026-03"}).json()
    assert [r["display_name"] for r in whole["riders"]] == [NAMES["rider2"], NAMES["rider1"]]


@db
def test_the_leaderboard_shows_display_names_only_and_leaves_out_zero_and_inactive(
        reference_data):
    entry("rider1", 10, cst(2026, 3, 5, 12))
    entry("rider2", 10, cst(2026, 3, 5, 12))
    entry("rider2", -10, cst(2026, 3, 6, 12))  # withdrawn: nothing left
    entry("rider3", 5, cst(2026, 3, 5, 12))
    Rider.objects.filter(user__username="rider3").update(is_active=False)
    answer = client_for("rider2").get(LEADERBOARD, {"month": "2026-03"})
    body = answer.json()
    assert [r["display_name"] for r in body["riders"]] == [NAMES["rider1"]]
    assert set(body["riders"][0]) == {"rank", "display_name", "community", "points", "awards"}
    text = answer.content.decode()
    for secret in ["rider1", "NY2026-0001", "13800000001"]:  # username, member no., phone
        assert secret not in text


@db
def test_a_subdistrict_board_counts_the_points_earned_on_its_cases(reference_data):
    """Riders belong to the district union: one account and one total; the board of a
    subdistrict counts what they earned on its cases, the default board everything."""
    heyi = report("E0101", community=HEYI_XILI_1, reporter="rider2").case
    nanyuan = report("E0101", reporter="rider1").case
    entry("rider2", 12, cst(2026, 3, 5, 12), case=heyi)
    entry("rider2", 5, cst(2026, 3, 6, 12), case=nanyuan)
    entry("rider1", 8, cst(2026, 3, 6, 12), case=nanyuan)

    def board(**params) -> dict:
        return client_for("rider1").get(LEADERBOARD, {"month": "2026-03", **params}).json()

    heyi_board = board(subdistrict="110106016")
    assert heyi_board["subdistrict"]["code"] == "110106016"
    assert [(r["display_name"], r["points"]) for r in heyi_board["riders"]] == [
        (NAMES["rider2"], 12)]
    assert [(r["display_name"], r["points"]) for r in board(subdistrict="110106005")[
        "riders"]] == [(NAMES["rider1"], 8), (NAMES["rider2"], 5)]
    district = board()
    assert "subdistrict" not in district  # the district's board answers as before
    assert [(r["display_name"], r["points"]) for r in district["riders"]] == [
        (NAMES["rider2"], 17), (NAMES["rider1"], 8)]
    exported = client_for("union_heyi1").get(export_url("csv"), {
        "month": "2026-03", "subdistrict": "110106016"})
    assert exported["Content-Disposition"] == (
        'attachment; filename="leaderboard-2026-03-110106016.csv"')
    assert client_for("rider1").get(LEADERBOARD, {"subdistrict": "1"}).status_code == 400


@db
def test_the_leaderboard_defaults_to_this_month(reference_data):
    from django.utils import timezone

    entry("rider1", 10, timezone.now())
    body = client_for("rider1").get(LEADERBOARD).json()
    assert body["month"] == timezone.localtime().strftime("%Y-%m")
    assert [r["points"] for r in body["riders"]] == [10]


@db
@pytest.mark.parametrize("params, field", [
    ({"month": "2026-13"}, "month"), ({"month": "March"}, "month"),
    ({"community": "110106005099"}, "community"), ({"limit": 0}, "limit"),
])
def test_bad_leaderboard_parameters_answer_400(reference_data, params, field):
    answer = client_for("union1").get(LEADERBOARD, params, HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 400
    [error] = answer.json()["errors"]
    assert error["field"] == field
    if field == "month":
        assert error["message"] == "Give the month as YYYY-MM, e.g. 2026-03."
    assert client_for("union1").get(export_url("csv"), params).status_code == 400


# --- the exports -------------------------------------------------------------------------------


@db
def test_union_staff_export_the_board_as_csv_for_excel(reference_data):
    entry("rider1", 10, cst(2026, 3, 5, 12))
    entry("rider2", 13, cst(2026, 3, 5, 12))
    answer = client_for("union1").get(export_url("csv"), {"month": "2026-03"})
    assert answer.status_code == 200
    assert answer["Content-Type"] == "text/csv; charset=utf-8"
    assert answer["Content-Disposition"] == 'attachment; filename="leaderboard-2026-03.csv"'
    assert answer.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0] == ["名次", "显示名称", "社区", "积分"]
    assert [row[:2] + row[3:] for row in rows[1:]] == [["1", NAMES["rider2"], "13"],
                                                        ["2", NAMES["rider1"], "10"]]
    english = client_for("union1").get(export_url("csv"), {"month": "2026-03"},
                                       HTTP_ACCEPT_LANGUAGE="en")
    assert english.content.decode("utf-8-sig").splitlines()[0] == \
        "Rank,Display name,Community,Points"


@db
def test_union_staff_export_the_board_as_xlsx(reference_data):
    entry("rider1", 10, cst(2026, 3, 5, 12))
    Rider.objects.filter(user__username="rider2").update(display_name="=HYPERLINK(\"x\")")
    entry("rider2", 3, cst(2026, 3, 5, 12))
    answer = client_for("union1").get(export_url("xlsx"),
                                      {"month": "2026-03", "community": "110106005010"})
    assert answer.status_code == 200
    assert answer["Content-Disposition"] == (
        'attachment; filename="leaderboard-2026-03-110106005010.xlsx"')
    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet.title == "2026-03"
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0] == ["名次", "显示名称", "社区", "积分"]
    assert values[1][0] == 1 and values[1][1] == NAMES["rider1"] and values[1][3] == 10
    assert len(values) == 2  # rider2 is registered in another community

    whole = load_workbook(io.BytesIO(client_for("union1").get(
        export_url("xlsx"), {"month": "2026-03"}).content)).active
    cell = whole.cell(row=3, column=2)
    assert cell.value == "'=HYPERLINK(\"x\")" and cell.data_type == "s"  # text, no formula


# --- a rider's own points ----------------------------------------------------------------------


@db
def test_a_rider_sees_their_own_points_with_the_reason_for_each(reference_data, media_root):
    first = report("E0101", reporter="rider1", point=0, at=cst(2026, 3, 2, 9)).case
    close(first, cst(2026, 3, 2, 15))
    confirmed = report("E0101", reporter="rider2", point=3, at=cst(2026, 4, 1, 9)).case
    case_confirm(case_id=confirmed.pk, position=confirmed.location, rider=user("rider1"))
    close(confirmed, cst(2026, 4, 2, 15))
    rider1 = client_for("rider1")

    everything = rider1.get(MY_POINTS, HTTP_ACCEPT_LANGUAGE="en").json()
    assert everything["total"] == 13
    assert [(e["points"], e["case"], e["reason_text"]) for e in everything["entries"]] == [
        (3, confirmed.pk, f"Confirmed case #{confirmed.pk}, now verified"),
        (10, first.pk, f"First to report case #{first.pk}, now verified"),
    ]
    march = rider1.get(MY_POINTS, {"month": "2026-03"}).json()
    assert (march["month"], march["month_total"], march["total"]) == ("2026-03", 10, 13)
    assert [e["reason_text"] for e in march["entries"]] == [f"首报案件 #{first.pk}，已核查结案"]
    assert client_for("rider2").get(MY_POINTS).json()["total"] == 10
    assert rider1.get(MY_POINTS, {"month": "2026-3"}).status_code == 400


# --- who may call what -------------------------------------------------------------------------


def _expected(role: str, allowed: set[str]) -> int:
    if role == "anonymous":
        return 401
    return 200 if role in allowed else 403


@db
@pytest.mark.parametrize("role", list(ROLES))
def test_who_may_read_the_board_export_it_and_read_their_points(reference_data, role):
    entry("rider1", 10, cst(2026, 3, 5, 12))
    client = client_for(ROLES[role])
    everyone = set(ROLES) - {"anonymous"}
    assert client.get(LEADERBOARD, {"month": "2026-03"}).status_code == _expected(role,
                                                                                   everyone)
    for extension in ("csv", "xlsx"):
        answer = client.get(export_url(extension), {"month": "2026-03"})
        assert answer.status_code == _expected(role, {"union_staff", "admin"}), extension
        if answer.status_code != 200:
            assert "errors" in answer.json()
    assert client.get(MY_POINTS).status_code == _expected(role, {"rider"})


@db
def test_leaderboard_queries_stay_few(reference_data, django_assert_max_num_queries):
    for n, username in enumerate(["rider1", "rider2", "rider3", "rider4", "rider5"]):
        entry(username, 10 + n, cst(2026, 3, 5, 12))
    client = client_for("union1")
    with django_assert_max_num_queries(4):
        assert len(client.get(LEADERBOARD, {"month": "2026-03"}).json()["riders"]) == 5
    with django_assert_max_num_queries(4):
        assert client.get(export_url("xlsx"), {"month": "2026-03"}).status_code == 200


# --- the rider's own place, and the points list a page at a time -------------------------------


@db
def test_a_rider_sees_their_own_place_even_below_the_rows_listed(reference_data):
    entry("rider1", 3, cst(2026, 3, 5, 12))
    entry("rider2", 12, cst(2026, 3, 5, 12))
    entry("rider3", 12, cst(2026, 3, 6, 12))
    board = client_for("rider1").get(LEADERBOARD, {"month": "2026-03", "limit": 1}).json()
    assert [r["display_name"] for r in board["riders"]] == [NAMES["rider2"]]
    assert board["me"] == {"rank": 3, "display_name": NAMES["rider1"], "points": 3,
                           "community": board["me"]["community"], "awards": []}
    assert board["home_subdistrict"]["code"] == "110106005"  # rider1 lives in Huaifang
    tied = client_for("rider3").get(LEADERBOARD, {"month": "2026-03", "limit": 1}).json()
    assert tied["me"]["rank"] == 1  # shares the first place with rider2
    elsewhere = client_for("rider1").get(LEADERBOARD, {"month": "2026-03",
                                                       "subdistrict": "110106016"}).json()
    assert elsewhere["me"] is None  # no points earned there
    assert "me" not in client_for("office1").get(LEADERBOARD, {"month": "2026-03"}).json()


@db
def test_my_points_come_a_page_at_a_time_earned_or_withdrawn(reference_data):
    for day in range(1, 6):
        entry("rider1", day, cst(2026, 3, day, 12))
    entry("rider1", -2, cst(2026, 3, 10, 12))
    mine = client_for("rider1")
    first = mine.get(MY_POINTS, {"limit": 2}).json()
    assert (first["count"], [e["points"] for e in first["entries"]]) == (6, [-2, 5])
    second = mine.get(MY_POINTS, {"limit": 2, "offset": 2}).json()
    assert [e["points"] for e in second["entries"]] == [4, 3]
    assert first["total"] == second["total"] == 13
    earned = mine.get(MY_POINTS, {"kind": "earned"}).json()
    assert (earned["count"], min(e["points"] for e in earned["entries"])) == (5, 1)
    withdrawn = mine.get(MY_POINTS, {"kind": "withdrawn", "month": "2026-03"}).json()
    assert [e["points"] for e in withdrawn["entries"]] == [-2]
    refused = mine.get(MY_POINTS, {"kind": "spent"}, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400
    assert [error["field"] for error in refused.json()["errors"]] == ["kind"]
