"""The statistics' selectors (patrol.stats) on a small history built through the services with
injected times, then counted into the daily facts (patrol.facts). Every expected figure is
worked out by hand below from the story, not read from the implementation.

Definitions (patrol/stats.py): for the local days [since, until), reports received; cases
dispatched (once each, on its deciding task's day), of them closed and overdue (not closed by
the deadline, as of the recount's ``now``); the rates of patrol.selectors.rates_from_counts;
median hours offer → acceptance and deciding offer → closure (from histograms: within 2 %).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import TestCase
from django.utils import translation

from civicmap.models import Subdistrict
from issues.models import Category
from issues.services.cases import case_confirm
from patrol.facts import case_facts_rebuild, case_facts_refresh
from patrol.models import CaseDayFact, Department, VolunteerTeam
from patrol.sql import HOURS_BIN_SQL
from patrol.stats import (
    StatsFilters,
    bucket_next,
    median_from_histogram,
    period_segments,
    stats_by,
    stats_cache_warm,
    stats_filters_for,
    stats_summary,
    stats_trend,
)
from tests.module_rows import module_rows
from tests.patrol.helpers import (
    CHENGYUAN,
    HEYI_XILI_1,
    HUAIFANG,
    XINGONG,
    act,
    cst,
    proof_photo,
    report,
    user,
)

pytestmark = pytest.mark.django_db

NANYUAN, HEYI = "110106005", "110106016"
SINCE, UNTIL = date(2026, 3, 2), date(2026, 3, 9)  # Monday to Monday
NOW = cst(2026, 3, 20)  # the recount's "now": open cases due before it are overdue
HOURS = ("median_response_hours", "median_resolution_hours")
FIELDS = ("reports", "cases", "closed", "overdue", "response_rate", "resolution_rate",
          "satisfaction_rate", "median_response_hours", "median_resolution_hours")


def close(case, *, worker: str, accept_at, closed_at) -> None:
    act(case, "accept", worker, at=accept_at)
    act(case, "handin", worker, at=closed_at - timedelta(hours=1), note="已处理",
        photo=proof_photo())
    act(case, "verify", "office2", at=closed_at)


def dispatch(code: str, *, community: str, point: int, reporter: str, at, office="office1",
             **params):
    case = report(code, community=community, point=point, reporter=reporter,
                  at=at - timedelta(hours=1)).case
    act(case, "file", office, at=at - timedelta(minutes=30))
    act(case, "dispatch", office, at=at, **params)
    return case


def facts_recount(**kwargs) -> int:
    """case_facts_rebuild as beat runs it, its on-commit version bump included (the test's
    transaction never commits)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return case_facts_rebuild(**kwargs)


@pytest.fixture
def recount():
    """``recount(...)``: ``facts_recount``, for the tests that recount again."""
    return facts_recount


@pytest.fixture(scope="module")
def history_rows(django_db_setup, django_db_blocker) -> Iterator[dict[str, int]]:
    """``history``'s rows, written and recounted once for the module (tests/module_rows.py)."""
    with module_rows(django_db_blocker, history_write) as cases:
        yield cases


@pytest.fixture
def history(history_rows, db) -> dict[str, int]:
    """The story below, each test in a savepoint of the module's rows, with nothing cached by
    the tests before it (the facts' version and the figures live in the cache, not in the
    rolled-back rows). The cases' ids by letter."""
    cache.clear()
    return history_rows


@pytest.fixture
def history_each(reference_data) -> dict[str, int]:
    """The story below written for one test: for modules with a transactional test, which
    would wait for the module's transaction (tests/frontend/test_stats_page.py)."""
    return history_write()


def history_write() -> dict[str, int]:
    """As tests/patrol/test_rates.py's week, plus a case in 和义 (Heyi), then recounted as at
    NOW:

    E0101 (housekeeper; response 1 working day, resolution 7 working days):
      A  Huaifang, report Mon 2 Mar 09:00, dispatched 10:00, accepted 11:00 (1 h, on time),
         closed Wed 4 Mar 10:00 (48 h, on time, due Wed 11 Mar 10:00). Rated 5.
      B  Xingong, same report and dispatch; accepted Wed 4 Mar 09:00 (47 h, late), closed
         Thu 12 Mar 10:00 (240 h, a day late). Rated 4 and 2.
    E0201 (civility teams; 1 and 7 working days):
      C  Huaifang (civility_east), report Tue 3 Mar 09:00, dispatched 10:00, accepted Wed
         10:00 (24 h, exactly on time); open, due Thu 12 Mar 10:00: overdue at NOW.
      D  Xingong (civility_west), same times, never accepted: overdue at NOW.
    E  Huaifang E0101, report Sun 8 Mar 23:00 (inside), dispatched at Mon 9 Mar 00:00
       (outside), accepted 01:00, closed 03:00, rated 1.
    F  Chengyuan E0101, report Sun 1 Mar 22:59, dispatched 23:59 (both before): never
       accepted, overdue at NOW.
    H  Heyi E0101, report Mon 2 Mar 09:00, dispatched 10:00 by 和义's office to the district
       department 市政 (municipal), accepted 12:00 (2 h); open, its resolution deadline
       before NOW: overdue.
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
    until = cst(2026, 3, 9)
    e = dispatch("E0101", community=HUAIFANG, point=6, reporter="rider4", at=until)
    close(e, worker="hk_vol1", accept_at=until + timedelta(hours=1),
          closed_at=until + timedelta(hours=3))
    act(e, "rate", "rider4", at=until + timedelta(hours=4), score=1)
    dispatch("E0101", community=CHENGYUAN, point=0, reporter="rider5",
             at=cst(2026, 3, 1, 23, 59))
    municipal = Department.objects.get(code="municipal")
    h = dispatch("E0101", community=HEYI_XILI_1, point=0, reporter="rider2", at=monday,
                 office="office_heyi1", department=municipal.pk)
    act(h, "accept", "liaison_municipal", at=cst(2026, 3, 2, 12))
    assert h.tasks.get().resolution_due < NOW  # H is overdue at NOW, as the story says
    facts_recount(now=NOW)
    return {"A": a.pk, "B": b.pk, "C": c.pk, "D": d.pk, "E": e.pk, "H": h.pk}


def figures(row) -> dict:
    """The row's figures; its medians as close as the histograms promise (within 2 % of the
    exact ones, patrol.stats.median_from_histogram), so that they equal the story's."""
    values = {name: getattr(row, name) for name in FIELDS}
    for name in HOURS:
        if values[name] is not None:
            values[name] = pytest.approx(values[name], rel=0.02)
    return values


def office(username: str = "office1", *, since=SINCE, until=UNTIL, bucket="week", **kwargs):
    return stats_filters_for(user=user(username), since=since, until=until, bucket=bucket,
                             **kwargs)


# Nanyuan's week, every figure from the story: reports A, B, C, D and E (received Sun 8 Mar);
# cases A–D (E dispatched at ``until``, F before ``since``, H in Heyi); closed A and B (B after
# the week, as of NOW); overdue B (late), C and D (open past their deadlines).
# response: A and C on time of A–D → 2/4; resolution: A of 4 → 0.25; satisfaction: 5, 4, 2 →
# 2/3; response hours A 1, B 47, C 24 → median 24; resolution hours A 48, B 240 → 144.
NANYUAN_WEEK = {
    "reports": 5, "cases": 4, "closed": 2, "overdue": 3, "response_rate": 0.5,
    "resolution_rate": 0.25, "satisfaction_rate": 0.6667, "median_response_hours": 24.0,
    "median_resolution_hours": 144.0,
}


def test_summary_of_an_offices_week(history):
    summary = stats_summary(filters=office())
    assert summary.key == "total"
    assert figures(summary) == NANYUAN_WEEK


def test_the_nanyuan_office_never_counts_heyi_and_the_district_counts_both(history):
    assert figures(stats_summary(filters=office("office1"))) == NANYUAN_WEEK
    # 和义's office: H alone: 1 report, 1 case, open past its deadline; accepted after 2 h,
    # within its response deadline (1 working day) → 1/1.
    assert figures(stats_summary(filters=office("office_heyi1"))) == {
        "reports": 1, "cases": 1, "closed": 0, "overdue": 1, "response_rate": 1.0,
        "resolution_rate": 0.0, "satisfaction_rate": None, "median_response_hours": 2.0,
        "median_resolution_hours": None,
    }
    # The district: both. Response A, C, H on time of 5 → 0.6; resolution 1/5 = 0.2;
    # response hours 1, 2, 24, 47 → median (2 + 24) / 2 = 13.
    district = stats_summary(filters=office("office_district"))
    assert figures(district) == {
        "reports": 6, "cases": 5, "closed": 2, "overdue": 4, "response_rate": 0.6,
        "resolution_rate": 0.2, "satisfaction_rate": 0.6667, "median_response_hours": 13.0,
        "median_resolution_hours": 144.0,
    }
    by_subdistrict = stats_by(filters=office("office_district"), dimension="subdistrict")
    assert {row.key: row.cases for row in by_subdistrict} == {NANYUAN: 4, HEYI: 1}
    # The office asking for Heyi gets nothing, not Heyi's figures.
    heyi = Subdistrict.objects.get(code=HEYI)
    foreign = office("office1", subdistrict_id=heyi.pk)
    assert foreign.subdistrict_ids == ()
    assert figures(stats_summary(filters=foreign))["reports"] == 0
    assert stats_by(filters=foreign, dimension="community") == []
    # The district choosing Heyi gets Heyi's.
    chosen = office("office_district", subdistrict_id=heyi.pk)
    assert stats_summary(filters=chosen).cases == 1


def test_by_handler_adds_up_and_names_each_team(history):
    rows = {row.key: row for row in stats_by(filters=office(), dimension="handler")}
    assert set(rows) == {"team:housekeeper", "team:civility_east", "team:civility_west"}
    assert rows["team:housekeeper"].label == VolunteerTeam.objects.get(
        code="housekeeper").name_zh
    # housekeeper: reports A, B and E (E's case went to it too); cases A, B; both closed;
    # overdue B; response 1 of 2; resolution 1 of 2; ratings 5, 4, 2; hours 1, 47 and 48, 240.
    assert figures(rows["team:housekeeper"]) == {
        "reports": 3, "cases": 2, "closed": 2, "overdue": 1, "response_rate": 0.5,
        "resolution_rate": 0.5, "satisfaction_rate": 0.6667, "median_response_hours": 24.0,
        "median_resolution_hours": 144.0,
    }
    assert figures(rows["team:civility_east"]) == {  # C
        "reports": 1, "cases": 1, "closed": 0, "overdue": 1, "response_rate": 1.0,
        "resolution_rate": 0.0, "satisfaction_rate": None, "median_response_hours": 24.0,
        "median_resolution_hours": None,
    }
    assert figures(rows["team:civility_west"]) == {  # D
        "reports": 1, "cases": 1, "closed": 0, "overdue": 1, "response_rate": 0.0,
        "resolution_rate": 0.0, "satisfaction_rate": None, "median_response_hours": None,
        "median_resolution_hours": None,
    }
    assert sum(row.reports for row in rows.values()) == NANYUAN_WEEK["reports"]


def test_by_community_and_by_category(history):
    communities = {row.key: figures(row) for row in
                   stats_by(filters=office(), dimension="community")}
    assert communities == {
        # A, C (and E's report): response 1 and 24 h, both on time; A closed in 48 h, rated 5.
        HUAIFANG: {"reports": 3, "cases": 2, "closed": 1, "overdue": 1, "response_rate": 1.0,
                   "resolution_rate": 0.5, "satisfaction_rate": 1.0,
                   "median_response_hours": 12.5, "median_resolution_hours": 48.0},
        # B, D: B late both ways (47 h, 240 h), rated 4 and 2; D never accepted.
        XINGONG: {"reports": 2, "cases": 2, "closed": 1, "overdue": 2, "response_rate": 0.0,
                  "resolution_rate": 0.0, "satisfaction_rate": 0.5,
                  "median_response_hours": 47.0, "median_resolution_hours": 240.0},
    }
    categories = {row.key: figures(row) for row in
                  stats_by(filters=office(), dimension="category")}
    assert categories == {
        "E0101": {"reports": 3, "cases": 2, "closed": 2, "overdue": 1, "response_rate": 0.5,
                  "resolution_rate": 0.5, "satisfaction_rate": 0.6667,
                  "median_response_hours": 24.0, "median_resolution_hours": 144.0},
        "E0201": {"reports": 2, "cases": 2, "closed": 0, "overdue": 2, "response_rate": 0.5,
                  "resolution_rate": 0.0, "satisfaction_rate": None,
                  "median_response_hours": 24.0, "median_resolution_hours": None},
    }


def test_labels_are_names_in_the_active_language(history):
    names = {c.code: (c.name_zh, c.name_en)
             for c in Category.objects.filter(code__in=["E0101", "E0201"])}
    with translation.override("en"):
        english = {row.key: row.label for row in stats_by(filters=office(), dimension="category")}
    with translation.override("zh-hans"):
        chinese = {row.key: row.label for row in stats_by(filters=office(), dimension="category")}
    assert english == {code: en for code, (_zh, en) in names.items()}
    assert chinese == {code: zh for code, (zh, _en) in names.items()}


def test_weekly_trend_has_every_week_of_the_period(history):
    rows = stats_trend(filters=office(since=date(2026, 2, 23), until=date(2026, 3, 16)))
    assert [row.key for row in rows] == ["2026-02-23", "2026-03-02", "2026-03-09"]
    # Week of 23 Feb: F alone (report and dispatch on Sun 1 Mar): never accepted, overdue.
    assert figures(rows[0]) == {
        "reports": 1, "cases": 1, "closed": 0, "overdue": 1, "response_rate": 0.0,
        "resolution_rate": 0.0, "satisfaction_rate": None, "median_response_hours": None,
        "median_resolution_hours": None,
    }
    assert figures(rows[1]) == NANYUAN_WEEK
    # Week of 9 Mar: E (its report was the week before): 1 h to accept, 3 h to close, rated 1.
    assert figures(rows[2]) == {
        "reports": 0, "cases": 1, "closed": 1, "overdue": 0, "response_rate": 1.0,
        "resolution_rate": 1.0, "satisfaction_rate": 0.0, "median_response_hours": 1.0,
        "median_resolution_hours": 3.0,
    }


def test_monthly_trend_keys_are_the_first_days(history):
    rows = stats_trend(filters=office(since=date(2026, 2, 1), until=date(2026, 4, 1),
                                      bucket="month"))
    assert [(row.key, row.label) for row in rows] == [("2026-02-01", "2026-02"),
                                                      ("2026-03-01", "2026-03")]
    # March: A–F: reports 6, cases 6, closed A, B, E; overdue B, C, D, F.
    assert (rows[1].reports, rows[1].cases, rows[1].closed, rows[1].overdue) == (6, 6, 3, 4)
    assert rows[0].reports == 0 and rows[0].response_rate is None


def test_an_empty_period_has_zeros_and_no_rates(history):
    summary = stats_summary(filters=office(since=date(2025, 1, 1), until=date(2025, 2, 1)))
    assert figures(summary) == {name: (0 if name in ("reports", "cases", "closed", "overdue")
                                       else None) for name in FIELDS}


def test_bad_filters_are_refused(reference_data):
    with pytest.raises(ValueError):
        stats_filters_for(user=user("office1"), since=SINCE, until=UNTIL, bucket="day")
    with pytest.raises(ValueError):
        stats_filters_for(user=user("office1"), since=UNTIL, until=SINCE, bucket="week")
    with pytest.raises(ValueError):
        stats_by(filters=StatsFilters(subdistrict_ids=None, since=SINCE, until=UNTIL,
                                      bucket="week"), dimension="stage")


def test_refresh_recounts_only_the_recent_days(history, settings, recount):
    """The periodic recount leaves older days as they are (the daily one fixes them)."""
    settings.STATS_FACTS_RECENT_DAYS = 3
    CaseDayFact.objects.filter(day__lt=date(2026, 3, 10)).update(reports=0)
    before = CaseDayFact.objects.filter(day__gte=date(2026, 3, 10)).count()
    case_facts_refresh(now=cst(2026, 3, 13, 12))  # recounts 10–13 March
    assert CaseDayFact.objects.filter(day__lt=date(2026, 3, 10), reports__gt=0).count() == 0
    assert CaseDayFact.objects.filter(day__gte=date(2026, 3, 10)).count() == before
    recount(now=NOW)
    assert stats_summary(filters=office()).reports == NANYUAN_WEEK["reports"]


def test_cached_figures_follow_each_recount(history, recount, settings):
    """Figures are cached under the facts' version: a new report shows after the recount, at
    once, and not before (the page reads the aggregate, never the reports)."""
    settings.STATS_CACHE_S = 3600
    assert stats_summary(filters=office()).reports == 5
    report("E0101", community=HUAIFANG, point=9, reporter="rider3", at=cst(2026, 3, 3, 8))
    assert stats_summary(filters=office()).reports == 5
    recount(now=NOW)
    assert stats_summary(filters=office()).reports == 6


def test_warming_puts_this_and_last_months_figures_in_the_cache(history, settings,
                                                                django_assert_num_queries):
    settings.STATS_CACHE_S = 3600
    # Every subdistrict (3 in the reference data) and the district, this month and the last.
    assert stats_cache_warm(today=date(2026, 3, 20)) == 8
    march = office(since=date(2026, 3, 1), until=date(2026, 3, 21))
    with django_assert_num_queries(0):
        summary = stats_summary(filters=march)
        trend = stats_trend(filters=march)
    # March so far: A–F (E's report too): 6 reports, 6 cases; weeks from 23 Feb to 16 Mar.
    assert (summary.reports, summary.cases) == (6, 6)
    assert [row.key for row in trend] == ["2026-02-23", "2026-03-02", "2026-03-09",
                                          "2026-03-16"]


def test_a_recount_of_the_recent_days_keeps_older_periods_cached(
        history, recount, settings, django_capture_on_commit_callbacks,
        django_assert_num_queries):
    """The ten-minute recount renews only the recent days' version: a period that ends before
    them is still read from the cache; one that reaches them is read again."""
    settings.STATS_CACHE_S = 3600
    settings.STATS_FACTS_RECENT_DAYS = 3
    recount(now=NOW)  # every day; the recent recounts will start on 17 March
    old, recent = office(), office(since=date(2026, 3, 16), until=date(2026, 3, 23))
    stats_summary(filters=old), stats_summary(filters=recent)
    with django_capture_on_commit_callbacks(execute=True):
        case_facts_refresh(now=NOW)  # recounts 17–20 March
    with django_assert_num_queries(0):
        assert stats_summary(filters=old).reports == 5
    with django_assert_num_queries(1):
        stats_summary(filters=recent)
    recount(now=NOW)  # every day again: nothing cached is read again
    with django_assert_num_queries(1):
        stats_summary(filters=old)


def test_the_command_recounts_every_day_or_the_last_ones(history):
    CaseDayFact.objects.all().delete()
    out = io.StringIO()
    call_command("case_facts_rebuild", stdout=out)
    assert "rows from the first day" in out.getvalue()
    # Recounted now (December 2026): the open cases C and D are as overdue as at NOW.
    assert figures(stats_summary(filters=office())) == NANYUAN_WEEK
    call_command("case_facts_rebuild", "--days", "3", stdout=io.StringIO())  # nothing recent
    assert figures(stats_summary(filters=office())) == NANYUAN_WEEK
    with pytest.raises(CommandError):
        call_command("case_facts_rebuild", "--days", "0")


def test_week_and_month_rows_add_up_their_days(history):
    """The recount's week and month rows hold the sums and the hours of their day rows, per
    dimension and key (so a period reads whole months and weeks in one row each)."""
    days = CaseDayFact.objects.filter(grain="day")
    for grain, bucket in (("week", "week"), ("month", "month")):
        rolled = CaseDayFact.objects.filter(grain=grain)
        assert rolled.exists()
        for row in rolled:
            parts = days.filter(
                subdistrict=row.subdistrict_id, dimension=row.dimension,
                community_grid=row.community_grid_id, category=row.category_id,
                handler_kind=row.handler_kind, team=row.team_id,
                department=row.department_id, day__gte=row.day,
                day__lt=bucket_next(row.day, bucket))
            assert row.reports == sum(p.reports for p in parts)
            assert row.cases == sum(p.cases for p in parts)
            assert row.overdue == sum(p.overdue for p in parts)
            for kind in ("response", "resolution"):
                counted: dict[int, int] = {}
                for part in parts:
                    for bin_, n in zip(getattr(part, f"{kind}_bins"),
                                       getattr(part, f"{kind}_counts"), strict=True):
                        counted[bin_] = counted.get(bin_, 0) + n
                assert dict(zip(getattr(row, f"{kind}_bins"), getattr(row, f"{kind}_counts"),
                                strict=True)) == counted


def test_a_period_is_read_as_whole_months_weeks_and_loose_days():
    segments = period_segments(since=date(2026, 9, 8), until=date(2026, 12, 7))
    # Tue 8 Sep to Sun 13 Sep loose; weeks from 14 and 21 Sep; not the week from 28 Sep, which
    # would break October; October and November whole; Tue 1 to Sun 6 Dec loose (no Monday
    # in a whole week).
    assert segments == (
        [("day", date(2026, 9, d)) for d in range(8, 14)]
        + [("week", date(2026, 9, 14)), ("week", date(2026, 9, 21))]
        + [("day", date(2026, 9, d)) for d in range(28, 31)]
        + [("month", date(2026, 10, 1)), ("month", date(2026, 11, 1))]
        + [("day", date(2026, 12, d)) for d in range(1, 7)])
    # A week may run into a month that is not whole in the period.
    assert period_segments(since=date(2026, 3, 2), until=date(2026, 4, 6)) == [
        ("week", date(2026, 3, 2)), ("week", date(2026, 3, 9)), ("week", date(2026, 3, 16)),
        ("week", date(2026, 3, 23)), ("week", date(2026, 3, 30))]


@pytest.mark.parametrize("hours", [
    [24.0],
    [1.0, 47.0, 24.0, 2.0],
    [0.001, 0.004, 0.3],  # under a minute, and a little over
    [i * 0.37 for i in range(1, 2001)],  # even, spread over many bins
    [1.5] * 500 + [90.0] * 499 + [3.0 + i / 100 for i in range(301)],  # piles
    [2 ** (i % 17) / 7 + i / 1000 for i in range(5001)],  # odd, log-spread
])
def test_a_median_from_the_bins_is_within_two_per_cent_of_the_exact_one(hours):
    """The recount's bins (patrol.sql.HOURS_BIN_SQL) and the median read from them against
    PostgreSQL's exact percentile_cont(0.5): within 2 %, or a minute under a minute."""
    with connection.cursor() as cursor:
        cursor.execute(f"""
            SELECT array_agg(bin ORDER BY bin), array_agg(n ORDER BY bin),
                   (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY h)
                    FROM unnest(%(hours)s::float8[]) h)
            FROM (SELECT {HOURS_BIN_SQL.format(hours="h")} AS bin, count(*) AS n
                  FROM unnest(%(hours)s::float8[]) h GROUP BY 1) b""", {"hours": hours})
        bins, counts, exact = cursor.fetchone()
    assert abs(median_from_histogram(bins, counts) - exact) < max(0.02 * exact, 1 / 60)


def test_no_hours_no_median():
    assert median_from_histogram([], []) is None
