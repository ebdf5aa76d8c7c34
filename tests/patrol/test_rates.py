"""The three 接诉即办 rates over a period, overall and per team, grid and category, from a small
history built through the services with injected times, every expected value worked out by hand.

Definitions (patrol/selectors.py rates_compute): for tasks dispatched in [since, until),
response = tasks accepted by their response deadline ÷ tasks dispatched;
resolution = cases closed by their resolution deadline ÷ cases dispatched;
satisfaction = ratings of 4 or 5 ÷ ratings of those cases, with the mean score.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from issues.services.cases import case_confirm
from patrol.models import Department, VolunteerTeam
from tests.patrol.helpers import (
    API,
    CHENGYUAN,
    HUAIFANG,
    XINGONG,
    act,
    client_for,
    cst,
    live_task,
    proof_photo,
    report,
    user,
)

pytestmark = pytest.mark.django_db

SINCE, UNTIL = cst(2026, 3, 2), cst(2026, 3, 9)  # Monday to Monday, no holiday in between


def close(case, *, worker: str, accept_at, closed_at) -> None:
    act(case, "accept", worker, at=accept_at)
    act(case, "handin", worker, at=closed_at - timedelta(hours=1), note="已处理",
        photo=proof_photo())
    act(case, "verify", "office2", at=closed_at)


def dispatch(code: str, *, community: str, point: int, reporter: str, at) -> object:
    case = report(code, community=community, point=point, reporter=reporter,
                  at=at - timedelta(hours=1)).case
    act(case, "file", "office1", at=at - timedelta(minutes=30))
    act(case, "dispatch", "office1", at=at)
    return case


@pytest.fixture
def history(reference_data):
    """Four tasks dispatched in the week, and two outside it.

    E0101 (housekeeper team; response 1 working day, resolution 7 working days):
      A  Huaifang, dispatched Mon 2 Mar 10:00 → response due Tue 3 Mar 10:00, resolution due
         Wed 11 Mar 10:00 (3, 4, 5, 6, 9, 10, 11 March). Accepted Mon 11:00 (on time), closed
         Wed 4 Mar 10:00 (on time). Rated 5 by its reporter rider1.
      B  Xingong, same times. Accepted Wed 4 Mar 09:00 (late), closed Thu 12 Mar 10:00 (late,
         a day after 11 Mar 10:00). Rated 4 by its reporter rider2 and 2 by rider3, who
         confirmed it while it was open.
    E0201 (civility teams; 1 and 7 working days):
      C  Huaifang (civility_east), dispatched Tue 3 Mar 10:00, accepted exactly at its response
         deadline Wed 4 Mar 10:00 (on time: "by" the deadline). Still being worked.
      D  Xingong (civility_west), dispatched Tue 3 Mar 10:00, never accepted.
    Outside the period (must not count):
      E  Huaifang E0101, dispatched at ``until`` (Mon 9 Mar 00:00), accepted, closed and
         rated 1 at once.
      F  Chengyuan E0101, dispatched Sun 1 Mar 23:59, one minute before ``since``, never
         accepted.
    """
    monday, tuesday = cst(2026, 3, 2, 10), cst(2026, 3, 3, 10)
    a = dispatch("E0101", community=HUAIFANG, point=0, reporter="rider1", at=monday)
    b = dispatch("E0101", community=XINGONG, point=0, reporter="rider2", at=monday)
    case_confirm(case_id=b.pk, position=b.location, rider=user("rider3"))
    c = dispatch("E0201", community=HUAIFANG, point=3, reporter="rider1", at=tuesday)
    d = dispatch("E0201", community=XINGONG, point=3, reporter="rider2", at=tuesday)
    close(a, worker="hk_vol1", accept_at=cst(2026, 3, 2, 11), closed_at=cst(2026, 3, 4, 10))
    close(b, worker="hk_vol2", accept_at=cst(2026, 3, 4, 9), closed_at=cst(2026, 3, 12, 10))
    act(c, "accept", "ce_vol1", at=cst(2026, 3, 4, 10))
    act(a, "rate", "rider1", at=cst(2026, 3, 5, 10), score=5)
    act(b, "rate", "rider2", at=cst(2026, 3, 13, 10), score=4)
    act(b, "rate", "rider3", at=cst(2026, 3, 13, 11), score=2)

    e = dispatch("E0101", community=HUAIFANG, point=6, reporter="rider4", at=UNTIL)
    close(e, worker="hk_vol1", accept_at=UNTIL + timedelta(hours=1),
          closed_at=UNTIL + timedelta(hours=3))
    act(e, "rate", "rider4", at=UNTIL + timedelta(hours=4), score=1)
    dispatch("E0101", community=CHENGYUAN, point=0, reporter="rider5",
             at=SINCE - timedelta(minutes=1))

    # The deadlines the story above relies on.
    assert live_task(c).response_due == cst(2026, 3, 4, 10)
    assert a.tasks.get().resolution_due == cst(2026, 3, 11, 10)
    return {"A": a, "B": b, "C": c, "D": d, "E": e}


def rates(since=SINCE, until=UNTIL, username: str = "office1"):
    return client_for(username).get(f"{API}/rates/", {"since": since.isoformat(),
                                                       "until": until.isoformat()})


def pick(row: dict) -> dict:
    keys = ["dispatched", "accepted_on_time", "cases", "closed_on_time", "ratings", "satisfied",
            "response_rate", "resolution_rate", "satisfaction_rate", "mean_score"]
    return {key: row[key] for key in keys}


def test_overall_rates_for_the_period(history):
    answer = rates()
    assert answer.status_code == 200, answer.content
    # Tasks A, B, C, D (E at ``until`` and F before ``since`` are outside).
    # response: accepted by the deadline A (11:00 ≤ Tue 10:00) and C (exactly at it); B was
    # late and D never accepted → 2/4 = 0.5.
    # resolution: of the 4 cases, only A closed by its deadline (B closed a day late) → 1/4.
    # satisfaction: ratings 5 (A), 4 and 2 (B); E's 1 is outside → 4 or 5: 2 of 3 = 0.6667;
    # mean (5 + 4 + 2) / 3 = 3.666… → 3.67.
    assert pick(answer.json()["overall"]) == {
        "dispatched": 4, "accepted_on_time": 2, "cases": 4, "closed_on_time": 1,
        "ratings": 3, "satisfied": 2, "response_rate": 0.5, "resolution_rate": 0.25,
        "satisfaction_rate": 0.6667, "mean_score": 3.67,
    }


def test_rates_per_team(history):
    by_team = {row["key"]: pick(row) for row in rates().json()["by_team"]}
    name = {code: VolunteerTeam.objects.get(code=code).name_zh
            for code in ("housekeeper", "civility_east", "civility_west")}
    assert by_team == {
        # A and B: 1 of 2 accepted on time, 1 of 2 closed on time; ratings 5, 4, 2.
        name["housekeeper"]: {
            "dispatched": 2, "accepted_on_time": 1, "cases": 2, "closed_on_time": 1,
            "ratings": 3, "satisfied": 2, "response_rate": 0.5, "resolution_rate": 0.5,
            "satisfaction_rate": 0.6667, "mean_score": 3.67},
        # C: accepted on time, not closed, no rating.
        name["civility_east"]: {
            "dispatched": 1, "accepted_on_time": 1, "cases": 1, "closed_on_time": 0,
            "ratings": 0, "satisfied": 0, "response_rate": 1.0, "resolution_rate": 0.0,
            "satisfaction_rate": None, "mean_score": None},
        # D: never accepted.
        name["civility_west"]: {
            "dispatched": 1, "accepted_on_time": 0, "cases": 1, "closed_on_time": 0,
            "ratings": 0, "satisfied": 0, "response_rate": 0.0, "resolution_rate": 0.0,
            "satisfaction_rate": None, "mean_score": None},
    }


def test_rates_per_grid(history):
    by_grid = {row["key"]: pick(row) for row in rates().json()["by_grid"]}
    assert by_grid == {
        # Huaifang: A and C, both accepted on time; A closed on time; A rated 5.
        HUAIFANG: {
            "dispatched": 2, "accepted_on_time": 2, "cases": 2, "closed_on_time": 1,
            "ratings": 1, "satisfied": 1, "response_rate": 1.0, "resolution_rate": 0.5,
            "satisfaction_rate": 1.0, "mean_score": 5.0},
        # Xingong: B (late both ways) and D (never accepted); B rated 4 and 2 → 1 of 2, mean 3.
        XINGONG: {
            "dispatched": 2, "accepted_on_time": 0, "cases": 2, "closed_on_time": 0,
            "ratings": 2, "satisfied": 1, "response_rate": 0.0, "resolution_rate": 0.0,
            "satisfaction_rate": 0.5, "mean_score": 3.0},
    }


def test_rates_per_category(history):
    by_category = {row["key"]: pick(row) for row in rates().json()["by_category"]}
    assert by_category == {
        # E0101: A and B, as the housekeeper row.
        "E0101": {
            "dispatched": 2, "accepted_on_time": 1, "cases": 2, "closed_on_time": 1,
            "ratings": 3, "satisfied": 2, "response_rate": 0.5, "resolution_rate": 0.5,
            "satisfaction_rate": 0.6667, "mean_score": 3.67},
        # E0201: C (on time, open) and D (never accepted).
        "E0201": {
            "dispatched": 2, "accepted_on_time": 1, "cases": 2, "closed_on_time": 0,
            "ratings": 0, "satisfied": 0, "response_rate": 0.5, "resolution_rate": 0.0,
            "satisfaction_rate": None, "mean_score": None},
    }


def test_a_later_period_counts_only_its_own_tasks(history):
    # [9 Mar, 10 Mar): only E, dispatched at 00:00 on 9 March, accepted an hour later (due
    # Tue 10 Mar 00:00) and closed within hours (due 7 working days on): 1/1 and 1/1; rated 1.
    overall = rates(since=UNTIL, until=UNTIL + timedelta(days=1)).json()["overall"]
    assert pick(overall) == {
        "dispatched": 1, "accepted_on_time": 1, "cases": 1, "closed_on_time": 1,
        "ratings": 1, "satisfied": 0, "response_rate": 1.0, "resolution_rate": 1.0,
        "satisfaction_rate": 0.0, "mean_score": 1.0,
    }


def test_an_empty_period_has_no_rates(history):
    overall = rates(since=cst(2025, 1, 1), until=cst(2025, 2, 1)).json()["overall"]
    assert (overall["dispatched"], overall["response_rate"], overall["resolution_rate"],
            overall["satisfaction_rate"], overall["mean_score"]) == (0, None, None, None, None)


@pytest.mark.parametrize("query", [
    {"since": "2026-03-09T00:00:00+08:00", "until": "2026-03-02T00:00:00+08:00"},
    {"since": "2026-03-02T00:00:00+08:00", "until": "2026-03-02T00:00:00+08:00"},
    {"since": "2026-03-02T00:00:00+08:00"},
    {"since": "yesterday", "until": "2026-03-02T00:00:00+08:00"},
])
def test_a_bad_period_is_400(reference_data, query):
    assert client_for("office1").get(f"{API}/rates/", query).status_code == 400


def test_an_escalated_case_counts_its_rating_once_in_every_grouping(reference_data):
    """A case handled by two tasks in the period (the team's, escalated, and the department's)
    has one rating; the mean per grid and per category must weigh it once, like the overall
    mean does.

    G (Huaifang, E0101): dispatched Mon 2 Mar 10:00 to housekeeper, escalated Mon 12:00 to
    chengguan, which accepts at once and closes it Tue 3 Mar 10:00; rated 2.
    H (Huaifang, E0101): dispatched Mon 10:00, closed Tue 10:00 by housekeeper; rated 5.
    Ratings: 2 and 5 → mean 3.5, 1 of 2 satisfied, in the one grid and the one category.
    """
    monday = cst(2026, 3, 2, 10)
    g = dispatch("E0101", community=HUAIFANG, point=0, reporter="rider1", at=monday)
    h = dispatch("E0101", community=HUAIFANG, point=3, reporter="rider2", at=monday)
    chengguan = Department.objects.get(code="chengguan")
    act(g, "escalate", "hk_lead", at=cst(2026, 3, 2, 12), department=chengguan.pk)
    close(g, worker="liaison_chengguan", accept_at=cst(2026, 3, 2, 12, 30),
          closed_at=cst(2026, 3, 3, 10))
    close(h, worker="hk_vol1", accept_at=cst(2026, 3, 2, 11), closed_at=cst(2026, 3, 3, 10))
    act(g, "rate", "rider1", at=cst(2026, 3, 4, 10), score=2)
    act(h, "rate", "rider2", at=cst(2026, 3, 4, 10), score=5)

    body = rates().json()
    # Three tasks (G's two, H's one), two cases.
    assert (body["overall"]["dispatched"], body["overall"]["cases"]) == (3, 2)
    assert (body["overall"]["ratings"], body["overall"]["mean_score"]) == (2, 3.5)
    [grid] = body["by_grid"]
    [category] = body["by_category"]
    for row in (grid, category):
        assert (row["ratings"], row["satisfied"], row["satisfaction_rate"],
                row["mean_score"]) == (2, 1, 0.5, 3.5), row
