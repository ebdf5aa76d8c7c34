"""Benchmark 8: the statistics page's data (/office/stats/, issue 17), 1,000,000 reports stored.

The page reads the daily aggregate patrol_casedayfact (patrol.facts, docs/DECISIONS.md D-059),
so its cost follows the days and the groups in the period, not the reports. On a fresh copy of
the bench template this:

1. recounts the aggregate: every day (``case_facts_rebuild``: the daily beat job, the seed's
   last step, ``manage.py case_facts_rebuild``), then the recent days (``case_facts_refresh``:
   the ten-minute beat job), timed;
2. times the page's server side, the view ``office_stats`` called in-process (form, every
   selector, the template; no HTTP, no middleware), cold (a new facts version before each
   call: nothing cached, as after a recount) and cached, for four scenarios: Nanyuan's office for
   the seed's last whole month by week and for the whole seed (about 90 days) by month, and
   the district role for the whole seed by week (with the subdistricts' comparison) and for a
   year by month;
3. as the baseline in the same run, the live rates over the same periods
   (patrol.selectors.rates_compute, which reads tasks and ratings: what the figures would cost
   without the aggregate) and one trivial ORM query.

    .venv/bin/python bench/bench_stats.py [--requests 60] [--warmup 5]

Target: p95 < 300 ms for every scenario, cold. It writes (the aggregate) and so leaves a fresh copy
of the template behind (bench/_common.py ``bench_db_writes``).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime, timedelta
from datetime import time as day_start
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

NAME = "stats"
TARGET_P95_MS = 300.0
NANYUAN_OFFICE = "office1"  # fixtures/demo_people.json
DISTRICT_OFFICE = "office_district"


def _timed(call, *, requests: int, warmup: int, before=None) -> dict:
    from django.db import connection

    for _ in range(warmup):
        call()
    wall, sql, queries = [], [], 0
    for _ in range(requests):
        if before is not None:
            before()
        timer = common.SqlTimer()
        with connection.execute_wrapper(timer):
            started = time.perf_counter()
            call()
            wall.append((time.perf_counter() - started) * 1000)
        sql.append(timer.seconds * 1000)
        queries = timer.queries
    pct = common.percentile
    return {"p50": round(pct(wall, 50), 2), "p95": round(pct(wall, 95), 2),
            "sql_p95": round(pct(sql, 95), 2), "queries": queries, "n": len(wall)}


def measure(*, requests: int, warmup: int) -> dict:
    common.django_setup()
    from django.conf import settings

    # Static URLs without collectstatic's manifest (the page's template names three files):
    # set before anything asks for the storage.
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.db.models import Max, Min
    from django.test import RequestFactory
    from django.utils import timezone, translation

    from issues.models import Case, Report
    from patrol.facts import _version_bump, case_facts_rebuild, case_facts_refresh
    from patrol.models import CaseDayFact, Task
    from patrol.selectors import rates_compute

    users = get_user_model().objects
    office, district = users.get(username=NANYUAN_OFFICE), users.get(username=DISTRICT_OFFICE)
    ends = Report.objects.aggregate(first=Min("received_at"), last=Max("received_at"))
    now = ends["last"] + timedelta(minutes=1)  # the seed's "now"
    first_day, last_day = (timezone.localdate(ends["first"]), timezone.localdate(ends["last"]))

    started = time.perf_counter()
    rows = case_facts_rebuild(now=now)
    rebuild_s = time.perf_counter() - started
    started = time.perf_counter()
    recent_rows = case_facts_refresh(now=now)
    refresh_s = time.perf_counter() - started
    common.log(f"{NAME}: rebuilt {rows:,} fact rows in {rebuild_s:.1f} s; the recent days "
               f"({recent_rows:,} rows) in {refresh_s:.1f} s")

    from frontend.views import office_stats

    factory = RequestFactory()

    def page(user, query: dict) -> None:
        request = factory.get("/office/stats/", query)
        request.user = user
        request.session = SessionStore()
        request.LANGUAGE_CODE = "zh-hans"
        response = office_stats(request)
        assert response.status_code == 200, response.content[:500]

    month_end = last_day.replace(day=1) - timedelta(days=1)  # the last whole month
    month = month_end.replace(day=1)
    whole = {"since": first_day.isoformat(), "until": last_day.isoformat()}
    year = {"since": (last_day - timedelta(days=364)).isoformat(),
            "until": last_day.isoformat(), "bucket": "month"}
    scenarios = {
        "office_month_by_week": (office, {"month": month.strftime("%Y-%m")}, month,
                                 month_end + timedelta(days=1)),
        "office_whole_by_month": (office, {**whole, "bucket": "month"}, first_day,
                                  last_day + timedelta(days=1)),
        "district_whole_by_week": (district, whole, first_day, last_day + timedelta(days=1)),
        "district_year_by_month": (district, year, last_day - timedelta(days=364),
                                   last_day + timedelta(days=1)),
    }
    zone = timezone.get_default_timezone()

    def moment(day: date):
        return datetime.combine(day, day_start.min, tzinfo=zone)

    timings, cold, baselines = {}, {}, {}
    with translation.override("zh-hans"):
        for name, (user, query, since, until) in scenarios.items():
            # Cold: a new facts version before each call (as after a recount, nothing cached).
            cold[name] = _timed(lambda u=user, q=query: page(u, q), requests=requests,
                                warmup=warmup, before=_version_bump)
            timings[name] = _timed(lambda u=user, q=query: page(u, q), requests=requests,
                                   warmup=warmup)
            baselines[name] = _timed(
                lambda u=user, s=since, t=until: rates_compute(user=u, since=moment(s),
                                                               until=moment(t)),
                requests=max(3, requests // 10), warmup=1)
            common.log(f"{name:<24} cold p50 {cold[name]['p50']:8.1f} p95 "
                       f"{cold[name]['p95']:8.1f} ms ({cold[name]['queries']} queries) | "
                       f"cached p95 {timings[name]['p95']:8.1f} ms | "
                       f"live rates p95 {baselines[name]['p95']:8.1f} ms")
    trivial = _timed(lambda: Case.objects.filter(pk=1).exists(), requests=requests,
                     warmup=warmup)
    return {
        "reports": Report.objects.count(), "cases": Case.objects.count(),
        "tasks": Task.objects.count(), "fact_rows": CaseDayFact.objects.count(),
        "days": (last_day - first_day).days + 1, "rebuild_s": round(rebuild_s, 1),
        "refresh_s": round(refresh_s, 1), "refresh_rows": recent_rows,
        "timings_cold": cold, "timings": timings, "baseline_live_rates": baselines,
        "baseline_trivial": trivial,
    }


def run(*, requests: int, warmup: int) -> dict:
    machine = common.machine_info()
    with common.bench_db_writes() as seed:
        measured = measure(requests=requests, warmup=warmup)
    result = {"measured_at": common.now_iso(), "machine": machine, "seed": seed,
              "requests": requests, "target_p95_ms": TARGET_P95_MS, **measured}
    result["meets_target"] = all(t["p95"] < TARGET_P95_MS
                                 for t in measured["timings_cold"].values())
    common.result_write(NAME, result)
    common.log(f"{NAME}: p95 < {TARGET_P95_MS:.0f} ms: "
               f"{'met' if result['meets_target'] else 'MISSED'}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=60, help="timed calls per scenario")
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    run(requests=args.requests, warmup=args.warmup)
    return 0


if __name__ == "__main__":
    sys.exit(main())
