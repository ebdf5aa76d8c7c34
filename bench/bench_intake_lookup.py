"""Benchmark 1: grid assignment plus duplicate lookup per report, with 1,000,000 reports stored.

For 2,000 points drawn like the demo history (fixtures/history.py's sampler, its own seed), time
what intake does before it writes the report:

* ``grid_locate(point=...)``: the unit grid and community of the point (one statement);
* ``_case_for_report(...)``: one call of the PL/pgSQL function issues_case_merge_candidate
  (migrations issues 0010, 0011): the category class (the category and its equivalents) with the
  per-class advisory lock, then the joinable open case, locked, or the recently closed case a
  new one follows.

Lookups are made as of one minute after the stored history ends (``now`` passed to
``_case_for_report``), so that the duplicate windows find the same open cases however old the
seeded database is. Each point is looked up twice, in alternating order: once the lookup alone,
which the target is about, and once followed by the write intake makes next when no case is
joinable (``case_open``: the new case and its event). Each runs in ``transaction.atomic()`` and
is rolled back, so nothing is kept and the database stays at its seeded 1,000,000 reports.
Per-report latency (ms): p50/p95/p99, for the whole and each part. Target: lookup p95 < 5 ms.
Because the machine is shared, a trivial ORM query and ``SELECT 1`` are timed after every lookup
on the same connection: the lookup's cost is also given as a multiple of one ORM query. The time
each kind of query spends inside ``cursor.execute`` is summed apart from Python's work, and the
lookups of a median and of the slowest point are EXPLAIN ANALYZEd to var/bench/ (the
function's statements through auto_explain).

A report joining a case updates the case's location and counts (``case_report_joined``, a running
mean in one UPDATE); it is timed on the largest stored case against a recount of that case's
reports (``case_summary_recount``, what merge and split use), both rolled back.

Run alone: .venv/bin/python bench/bench_intake_lookup.py [--points 2000] [--warmup 200]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

NAME = "intake_lookup"
TARGET_P95_MS = 5.0
SAMPLER_SEED = 20260101  # not the seed of the stored history: new points, same distribution


class _Rollback(Exception):
    pass


def _points(count: int):
    from django.contrib.gis.geos import Point

    from civicmap.models import WGS84
    from issues.models import Category

    categories = {c.pk: c for c in Category.objects.all()}
    places, _bounds = common.history_places(count=count, seed=SAMPLER_SEED)
    return [(Point(lon, lat, srid=WGS84), categories[category])
            for lon, lat, category in places]


def _lookup(point, category, *, open_case: bool, now) -> dict:
    """One grid assignment plus case lookup, timed by part, rolled back.

    ``open_case=True`` also makes the write that follows when no open case is joinable
    (``case_open``: the INSERTs of the new case and its event, then rolled back).
    """
    from django.db import connection, transaction

    from civicmap.selectors import grid_locate
    from issues.services import intake
    from issues.services.cases import case_open

    outcome: dict = {}
    cpu = time.process_time()
    started = time.perf_counter()
    place = grid_locate(point=point)
    located = time.perf_counter()
    try:
        with transaction.atomic():
            joined_id, follows_id = intake._case_for_report(category, place.subdistrict_id,
                                                            point, now)
            outcome["joined"] = joined_id is not None
            if open_case and joined_id is None:
                case_open(category=category, point=point, now=now, place=place,
                          follows_id=follows_id)
            raise _Rollback
    except _Rollback:
        pass
    finished = time.perf_counter()
    outcome["cpu_ms"] = (time.process_time() - cpu) * 1000
    assert not connection.in_atomic_block
    outcome.update(grid_ms=(located - started) * 1000, case_ms=(finished - located) * 1000,
                   total_ms=(finished - started) * 1000)
    return outcome


def _baseline() -> dict:
    """Two trivial queries on the same connection, timed right after each lookup: the floor
    that one round trip (``SELECT 1``) and one ORM query (a category by primary key) cost on
    the machine at that moment."""
    from django.db import connection

    from issues.models import Category

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    middle = time.perf_counter()
    Category.objects.filter(pk=1).first()
    finished = time.perf_counter()
    return {"select1_ms": (middle - started) * 1000, "orm_ms": (finished - middle) * 1000}


class _QueryTimer:
    """An execute wrapper that sums the time each kind of query spends in cursor.execute (the
    database's parse, plan, run and the round trip), apart from Django's Python work."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}

    @staticmethod
    def kind(sql: str) -> str:
        if "issues_case_merge_candidate" in sql:
            return "case to join or follow (class, lock, case)"
        if "civicmap_unitgrid" in sql:
            return "grid_locate"
        if sql.lstrip().startswith("INSERT"):
            return "INSERT " + sql.split('"')[1]
        return sql.split()[0]

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.times.setdefault(self.kind(sql), []).append(
                (time.perf_counter() - started) * 1000)


def _explain(point, category, now) -> str:
    """The plans of intake's lookups for one point, run as intake runs them: EXPLAIN (ANALYZE,
    BUFFERS) of the grid statement, and the duplicate lookup's function call with auto_explain
    reporting the plan of each statement inside it (sent back as notices; the bench database's
    role is a superuser, which LOAD needs)."""
    from django.db import connection, transaction

    from civicmap import sql as civicmap_sql
    from civicmap.selectors import grid_locate
    from issues.services import intake

    parts = [f"point {point.wkt}, category {category.code} (radius "
             f"{category.merge_radius_m} m, window {category.merge_window_hours} h)\n"]
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + civicmap_sql.GRID_LOCATE,
                           {"lon": point.x, "lat": point.y})
            plan = "\n".join(row[0] for row in cursor.fetchall())
            parts.append(f"-- grid_locate\n{plan}\n")
            cursor.execute("LOAD 'auto_explain'")
            for setting, value in (("log_min_duration", "0"), ("log_analyze", "on"),
                                   ("log_buffers", "on"), ("log_nested_statements", "on"),
                                   ("log_level", "notice")):
                cursor.execute(f"SET LOCAL auto_explain.{setting} = {value}")
            notices = cursor.connection.notices
            del notices[:]
            intake._case_for_report(category, grid_locate(point=point).subdistrict_id, point, now)
            parts.append("-- _case_for_report: issues_case_merge_candidate's statements\n"
                         + "\n".join(notice.strip() for notice in notices) + "\n")
            del notices[:]
            raise _Rollback
    except _Rollback:
        pass
    return "\n".join(parts)


def _join_update(repeats: int = 30) -> dict:
    """``case_report_joined`` (running mean, one UPDATE) against ``case_summary_recount`` on
    the largest stored case, each rolled back: what joining a hotspot case costs."""
    from django.db import transaction

    from issues.models import Case
    from issues.services.cases import case_report_joined, case_summary_recount

    case = Case.objects.order_by("-report_count", "id").first()
    report = case.reports.order_by("-received_at", "-id").first()
    times: dict[str, list[float]] = {"joined_update": [], "recount": []}
    for number in range(repeats * 2):
        name = "joined_update" if number % 2 == 0 else "recount"
        started = time.perf_counter()
        try:
            with transaction.atomic():
                if name == "joined_update":
                    case_report_joined(case_id=case.pk, report=report)
                else:
                    case_summary_recount(case=case, last_report=report)
                raise _Rollback
        except _Rollback:
            pass
        times[name].append((time.perf_counter() - started) * 1000)
    joined, recount = _stats(times["joined_update"]), _stats(times["recount"])
    return {"case_reports": case.report_count, "joined_update_ms": joined,
            "recount_ms": recount, "recount_over_joined_p50": round(
                recount["p50"] / joined["p50"], 1)}


def _stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": round(common.percentile(values, 50), 3),
            "p95": round(common.percentile(values, 95), 3),
            "p99": round(common.percentile(values, 99), 3),
            "max": round(max(values), 3), "mean": round(sum(values) / len(values), 3)}


def run(points: int = 2000, warmup: int = 200) -> dict:
    common.django_setup()
    from datetime import timedelta

    from django.db import connection
    from django.db.models import Max

    from issues.models import Case, Report

    stored = Report.objects.count()
    cases = Case.objects.count()
    # Reports arrive right after the stored history ends (seed_demo's --now), whenever this
    # runs: the duplicate windows (24-168 h) then see the same open cases on every run.
    history_end = Report.objects.aggregate(end=Max("received_at"))["end"]
    now = history_end + timedelta(minutes=1)
    common.log(f"{NAME}: {stored:,} reports, {cases:,} cases stored; "
               f"{warmup} warm-up + {points} timed points, each looked up twice")
    drawn = _points(points + warmup)
    for number, (point, category) in enumerate(drawn[:warmup]):  # not counted
        _lookup(point, category, open_case=bool(number % 2), now=now)
    load_before = __import__("os").getloadavg()
    lookups, opened, baselines = [], [], []
    timer = _QueryTimer()
    started = time.perf_counter()
    for number, (point, category) in enumerate(drawn[warmup:]):
        # Both passes on the same point, alternating which goes first.
        with connection.execute_wrapper(timer):
            first_reads = number % 2 == 0
            if first_reads:
                lookups.append(_lookup(point, category, open_case=False, now=now))
            opened.append(_lookup(point, category, open_case=True, now=now))
            if not first_reads:
                lookups.append(_lookup(point, category, open_case=False, now=now))
        baselines.append(_baseline())
    wall_s = time.perf_counter() - started
    load_after = __import__("os").getloadavg()
    total = [t["total_ms"] for t in lookups]
    stats = _stats(total)
    slowest = max(range(len(lookups)), key=lambda i: lookups[i]["total_ms"])
    median_i = sorted(range(len(lookups)), key=lambda i: lookups[i]["total_ms"])[len(lookups) // 2]
    explain_path = common.RESULTS_DIR / "intake_lookup_explain.txt"
    explain_text = (
        "EXPLAIN (ANALYZE, BUFFERS) of intake's grid and duplicate lookups on the bench database "
        f"({stored:,} reports, {cases:,} cases), {common.now_iso()}\n\n"
        "== A median lookup ==\n" + _explain(*drawn[warmup + median_i], now)
        + "\n== The slowest lookup of the run ==\n" + _explain(*drawn[warmup + slowest], now)
    )
    explain_path.write_text(explain_text)
    assert Report.objects.count() == stored, "the lookups must not leave rows behind"
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(report_count), avg(report_count) FROM issues_case")
        max_case, avg_case = cursor.fetchone()
    orm = _stats([b["orm_ms"] for b in baselines])
    result = {
        "measured_at": common.now_iso(), "reports_stored": stored, "cases_stored": cases,
        "lookup_now": now.isoformat(),
        "largest_case_reports": max_case, "mean_case_reports": round(float(avg_case), 2),
        "points": points, "warmup": warmup, "wall_s": round(wall_s, 2),
        "loadavg_before": load_before, "loadavg_after": load_after,
        "total_ms": stats,
        "grid_locate_ms": _stats([t["grid_ms"] for t in lookups]),
        "case_lookup_ms": _stats([t["case_ms"] for t in lookups]),
        "client_cpu_ms": _stats([t["cpu_ms"] for t in lookups]),
        "joined_share": round(sum(t["joined"] for t in lookups) / len(lookups), 3),
        "joined_total_ms": _stats([t["total_ms"] for t in lookups if t["joined"]]),
        "not_joined_total_ms": _stats([t["total_ms"] for t in lookups if not t["joined"]]),
        "with_case_open_total_ms": _stats([t["total_ms"] for t in opened]),
        "with_case_open_new_case_ms": _stats([t["total_ms"] for t in opened if not t["joined"]]),
        "baseline_select1_ms": _stats([b["select1_ms"] for b in baselines]),
        "baseline_orm_query_ms": orm,
        "p50_in_orm_queries": round(stats["p50"] / orm["p50"], 1),
        "execute_ms_by_query": {kind: _stats(values) for kind, values in timer.times.items()},
        "target_p95_ms": TARGET_P95_MS, "meets_target": stats["p95"] < TARGET_P95_MS,
        "explain_file": str(explain_path.relative_to(common.ROOT)),
        "join_largest_case": _join_update(),
    }
    common.result_write(NAME, result)
    verdict = "met" if result["meets_target"] else "MISSED"
    common.log(f"{NAME}: lookup p50 {stats['p50']} ms, p95 {stats['p95']} ms, "
               f"p99 {stats['p99']} ms (target p95 < {TARGET_P95_MS} ms: {verdict}); "
               f"with case_open p95 {result['with_case_open_total_ms']['p95']} ms; one ORM query "
               f"p50 {orm['p50']} ms; load {load_before[0]:.1f}->{load_after[0]:.1f}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    common.bench_db_ensure()
    run(points=args.points, warmup=args.warmup)


if __name__ == "__main__":
    main()
