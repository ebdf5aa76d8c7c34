"""Benchmark 7: Nanyuan's cost does not grow with the other subdistricts (issue 16).

Two bench templates, seeded by seed_demo with the same seed: A holds N reports in Nanyuan
alone; B N in Nanyuan (fixtures/history.py draws Nanyuan first from one stream: the same
reports, but for the few that each template's own --now, its seeding time, cuts off) plus 2N in
its neighbours Heyi and Donggaodi, split by their areas. On each, in the same run and in
alternating rounds (A, B, A, B …), this times Nanyuan's pages:

* ``lookup``: intake's grid assignment and duplicate lookup for new points in Nanyuan, as
  benchmark 1 (bench_intake_lookup._lookup, rolled back), with its two parts
  (``lookup_grid``, ``lookup_case``);
* ``queue``: Nanyuan's triage queue page, patrol.selectors.triage_queue with its subdistrict
  (stage new, newest first, 100 rows), and the same filtered by each Nanyuan community in turn;
* ``console``: the office console's data for Nanyuan (the map's open cases): the same selector,
  every open stage, 500 rows;
* ``map``: the map's data for Nanyuan (its subdistrict filter, the office's audience, the
  default 30 days), every layer computed live by frontend.selectors.map_layers_live, a tenth
  of the calls.

It reports p50/p95 for each on A and B and the ratios B/A; the issue asks for ≤ 1.2.

    .venv/bin/python bench/bench_district.py --reports 100000   # N (default 1,000,000)

The templates are ``$CIVICMAP_BENCH_DB_a_seed`` and ``…_b_seed`` (CIVICMAP_BENCH_DB, default
civicmap_bench_district), built by bench/_common.py's template flow on first use and reused.
Each round runs in a child process for one database (``measure``), since _common reads its
database and seed from the environment when imported.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

NAME = "district"
NANYUAN = "110106005"
NANYUAN_OFFICE = "office1"  # a demo office account of Nanyuan (fixtures/demo_people.json)
MAP_DAYS = 30  # the map's default period (settings.MAP_PERIOD_DAYS)
MAP_SHARE = 10  # the map data costs about a hundred queue pages: a tenth of the calls
# The neighbours' areas (fixtures/README.md, "Geography"): B's 2N reports are split by them.
NEIGHBOUR_AREAS_M2 = {"110106016": 5_588_255, "110106006": 1_213_919}
MAX_RATIO = 1.2
SAMPLER_SEED = 20260107  # new points in Nanyuan, drawn like the history
BASE_DB = os.environ.get("CIVICMAP_BENCH_DB", "civicmap_bench_district")


def spread(reports: int, *, neighbours: bool) -> str:
    """seed_demo --subdistricts for N in Nanyuan (and 2N in the neighbours by area)."""
    counts = {NANYUAN: reports}
    if neighbours:
        total = sum(NEIGHBOUR_AREAS_M2.values())
        heyi, donggaodi = NEIGHBOUR_AREAS_M2
        counts[heyi] = round(2 * reports * NEIGHBOUR_AREAS_M2[heyi] / total)
        counts[donggaodi] = 2 * reports - counts[heyi]
    return ",".join(f"{code}={count}" for code, count in counts.items())


# --- one round on one database (a child process) ------------------------------------------------

def _timed(call, *, requests: int, warmup: int) -> dict:
    from django.db import connection

    for _ in range(warmup):
        call(0)
    wall, sql, parts = [], [], {}
    for i in range(requests):
        timer = common.SqlTimer()
        with connection.execute_wrapper(timer):
            started = time.perf_counter()
            outcome = call(i)
            wall.append((time.perf_counter() - started) * 1000)
        sql.append(timer.seconds * 1000)
        for part in ("grid_ms", "case_ms"):  # the lookup's own split
            if isinstance(outcome, dict) and part in outcome:
                parts.setdefault(part, []).append(outcome[part])
    return {"ms": wall, "sql_ms": sql, "parts": parts}


def measure(*, requests: int, warmup: int) -> dict:
    """Nanyuan's lookup, queue and console on this process's bench database."""
    common.bench_db_ensure()
    common.django_setup()
    from datetime import timedelta

    import bench_intake_lookup as lookup_bench
    from django.contrib.auth import get_user_model
    from django.contrib.gis.geos import Point
    from django.db.models import Max

    from civicmap.models import WGS84, CommunityGrid, Subdistrict
    from frontend.selectors import map_layers_live, map_reads
    from issues.layers import MapFilters
    from issues.models import OPEN_STAGES, Case, Category, Report
    from patrol.selectors import QueueFilters, triage_queue

    nanyuan = Subdistrict.objects.get(code=NANYUAN)
    office = get_user_model().objects.get(username=NANYUAN_OFFICE)  # reads as Nanyuan's office
    communities = list(CommunityGrid.objects.filter(subdistrict=nanyuan).order_by("code")
                       .values_list("code", flat=True))
    categories = {c.pk: c for c in Category.objects.all()}
    places, _bounds = common.history_places(count=requests + warmup, seed=SAMPLER_SEED,
                                            subdistrict=NANYUAN)
    points = [(Point(lon, lat, srid=WGS84), categories[category])
              for lon, lat, category in places]
    now = Report.objects.aggregate(end=Max("received_at"))["end"] + timedelta(minutes=1)

    # The office's map of Nanyuan over the map's default period, computed live (a subdistrict
    # filter never reads the whole-district snapshot): every layer's selector.
    map_filters = MapFilters(since=now - timedelta(days=MAP_DAYS), until=now,
                             include_private=True, subdistrict_id=nanyuan.pk)

    def map_data(i: int):
        with map_reads():
            return map_layers_live(filters=map_filters, now=now, language="zh-hans")

    def queue(filters: QueueFilters):
        return lambda i: list(triage_queue(user=office, filters=filters))

    scenarios = {
        "lookup": lambda i: lookup_bench._lookup(*points[i], open_case=False, now=now),
        "queue": queue(QueueFilters(subdistrict_id=nanyuan.pk)),
        "queue_community": lambda i: list(triage_queue(user=office, filters=QueueFilters(
            subdistrict_id=nanyuan.pk, community=communities[i % len(communities)]))),
        "console": queue(QueueFilters(subdistrict_id=nanyuan.pk, stages=tuple(OPEN_STAGES),
                                      limit=500)),
    }
    timings = {name: _timed(call, requests=requests, warmup=warmup)
               for name, call in scenarios.items()}
    timings["map"] = _timed(map_data, requests=max(1, requests // MAP_SHARE),
                            warmup=max(1, warmup // MAP_SHARE))
    for part, values in timings["lookup"].pop("parts").items():
        timings[f"lookup_{part[:-3]}"] = {"ms": values, "sql_ms": values}
    for timing in timings.values():
        timing.pop("parts", None)
    plan = triage_queue(user=office, filters=QueueFilters(subdistrict_id=nanyuan.pk)).explain()
    return {
        "database": common.BENCH_DB, "seed": common.bench_seed_record(),
        "reports": Report.objects.count(), "cases": Case.objects.count(),
        "nanyuan_reports": Report.objects.filter(subdistrict=nanyuan).count(),
        "nanyuan_open_cases": Case.objects.filter(subdistrict=nanyuan, stage__in=OPEN_STAGES,
                                                  merged_into__isnull=True).count(),
        "queue_plan": plan, "timings": timings,
    }


# --- the driver ---------------------------------------------------------------------------------

def _round(label: str, reports: int, *, requests: int, warmup: int) -> dict:
    out = common.RESULTS_DIR / f"district_{label}.json"
    env = dict(os.environ, CIVICMAP_BENCH_DB=f"{BASE_DB}_{label}",
               CIVICMAP_BENCH_SUBDISTRICTS=spread(reports, neighbours=label == "b"))
    env.pop("BENCH_DB_ENSURED", None)  # each child builds or checks its own template
    env.pop("BENCH_LOCK_HELD", None)  # and holds its own database's lock
    subprocess.run([common.PYTHON, __file__, "measure", "--requests", str(requests),
                    "--warmup", str(warmup), "--out", str(out)],
                   cwd=common.ROOT, env=env, check=True)
    return json.loads(out.read_text())


def _stats(values: list[float]) -> dict:
    pct = common.percentile
    return {"p50": round(pct(values, 50), 3), "p95": round(pct(values, 95), 3),
            "n": len(values)}


def run(*, reports: int, rounds: int, requests: int, warmup: int) -> dict:
    common.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    machine = common.machine_info()
    runs: dict[str, list[dict]] = {"a": [], "b": []}
    for number in range(rounds):
        for label in ("a", "b"):
            common.log(f"{NAME}: round {number + 1}/{rounds}, database {label.upper()}")
            runs[label].append(_round(label, reports, requests=requests, warmup=warmup))
    result = {"measured_at": common.now_iso(), "machine": machine, "n": reports,
              "rounds": rounds, "requests_per_round": requests, "max_ratio": MAX_RATIO}
    for label, done in runs.items():
        first = done[0]
        result[label] = {
            "subdistricts": spread(reports, neighbours=label == "b"),
            "reports": first["reports"], "cases": first["cases"],
            "nanyuan_reports": first["nanyuan_reports"],
            "nanyuan_open_cases": first["nanyuan_open_cases"],
            "seed_s": first["seed"].get("seed_s"), "queue_plan": first["queue_plan"],
            "ms": {name: _stats([v for r in done for v in r["timings"][name]["ms"]])
                   for name in first["timings"]},
            "sql_ms": {name: _stats([v for r in done for v in r["timings"][name]["sql_ms"]])
                       for name in first["timings"]},
        }
    result["ratios"] = {
        name: {p: round(result["b"]["ms"][name][p] / result["a"]["ms"][name][p], 3)
               for p in ("p50", "p95")}
        for name in result["a"]["ms"]
    }
    result["meets_target"] = all(r["p50"] <= MAX_RATIO and r["p95"] <= MAX_RATIO
                                 for r in result["ratios"].values())
    common.result_write(NAME, result)
    for name, ratio in result["ratios"].items():
        a, b = result["a"]["ms"][name], result["b"]["ms"][name]
        common.log(f"{name:<16} A p50 {a['p50']:8.2f} p95 {a['p95']:8.2f} ms | B p50 "
                   f"{b['p50']:8.2f} p95 {b['p95']:8.2f} ms | B/A {ratio['p50']:.2f} / "
                   f"{ratio['p95']:.2f}")
    common.log(f"{NAME}: B/A within {MAX_RATIO}: {'met' if result['meets_target'] else 'MISSED'}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "measure"])
    parser.add_argument("--reports", type=int, default=1_000_000, help="N (default 1,000,000)")
    parser.add_argument("--rounds", type=int, default=2, help="A, B rounds (default 2)")
    parser.add_argument("--requests", type=int, default=300, help="timed calls per scenario")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.mode == "measure":
        args.out.write_text(json.dumps(measure(requests=args.requests, warmup=args.warmup)))
        return 0
    run(reports=args.reports, rounds=args.rounds, requests=args.requests, warmup=args.warmup)
    return 0


if __name__ == "__main__":
    sys.exit(main())
