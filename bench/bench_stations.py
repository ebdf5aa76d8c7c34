"""Benchmark 5: nearest stations (``GET /api/v1/stations/nearest/``), with 1,000,000 reports stored.

For 2,000 positions drawn like the demo history (fixtures/history.py's sampler, its own seed),
time the nearest-stations answer in this process:

* ``view``: the whole request through Django's test client (middleware, DRF, the KNN query,
  the hours check, JSON rendering), on one kept database connection: the server's time;
* ``view_new_connection``: the same with the connection closed before each request, as the
  base settings (``CONN_MAX_AGE`` 0) make every request open one;
* ``selector``: ``station_nearest_list`` alone.

Also the CPU time of this process per request (``view_python_cpu_ms``): on a loaded machine the
wall time also holds waiting for a CPU, and this part does not.

The requests cycle through four variants: plain, ``service=charging``, ``open_now=1``, and
``service=tyre_repair&open_now=1``; every fourth position is sent in GCJ-02. Target: view p95
< 10 ms. One query of each kind is EXPLAIN ANALYZEd to var/bench/.

Also timed once each (information, no target): the coverage summary and siting (k = 5) over the
last 90 days of the stored history: they test every report against the stations.

Read only: nothing is written to the bench database.

Run alone: .venv/bin/python bench/bench_stations.py [--points 2000] [--warmup 200]
           [--no-analytics]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

NAME = "stations_nearest"
TARGET_P95_MS = 10.0
SAMPLER_SEED = 20261128  # new points, the history's distribution
VARIANTS = [
    {},
    {"service": "charging"},
    {"open_now": "1"},
    {"service": "tyre_repair", "open_now": "1"},
]
NEAREST_URL = "/api/v1/stations/nearest/"


def _requests(positions: list[tuple[float, float]]) -> list[dict]:
    from civicmap import coords

    requests = []
    for index, (lon, lat) in enumerate(positions):
        params = {"lon": f"{lon:.7f}", "lat": f"{lat:.7f}", **VARIANTS[index % len(VARIANTS)]}
        if index % 4 == 3:  # a phone's map app: GCJ-02
            glon, glat = coords.wgs84_to_gcj02(lon, lat)
            params.update(lon=f"{glon:.7f}", lat=f"{glat:.7f}", coord_system="gcj02")
        requests.append(params)
    return requests


def _stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": round(common.percentile(values, 50), 3),
            "p95": round(common.percentile(values, 95), 3),
            "p99": round(common.percentile(values, 99), 3),
            "max": round(max(values), 3), "mean": round(sum(values) / len(values), 3)}


def _explain(lon: float, lat: float) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the statements ``station_nearest_list`` runs (its SQL)."""
    from django.db import connection

    from stations import selectors
    from stations import sql as stations_sql

    parts = []
    with connection.cursor() as cursor:
        for label, service, fetch in (
            ("plain", None, selectors.NEAREST_LIMIT * selectors.NEAREST_OVERFETCH),
            ("service=charging", "charging", selectors.NEAREST_LIMIT * selectors.NEAREST_OVERFETCH),
            ("open_now=1 (every active station, hours decided in Python)", None, None),
        ):
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + stations_sql.NEAREST_STATIONS, {
                "lon": lon, "lat": lat, "service": service, "fetch": fetch})
            plan = "\n".join(row[0] for row in cursor.fetchall())
            parts.append(f"-- {label}\n{plan}\n")
    return "\n".join(parts)


def _analytics() -> dict:
    """One coverage summary and one siting run over the last 90 days of the stored history."""
    from datetime import timedelta

    from django.db.models import Max

    from issues.models import Report
    from stations.selectors import Period, coverage_summary, siting_suggest

    latest = Report.objects.aggregate(latest=Max("received_at"))["latest"]
    period = Period(since=latest - timedelta(days=90), until=latest + timedelta(seconds=1))
    started = time.perf_counter()
    summary = coverage_summary(period=period)
    coverage_s = time.perf_counter() - started
    started = time.perf_counter()
    siting = siting_suggest(k=5, period=period)
    siting_s = time.perf_counter() - started
    return {
        "period": summary["period"], "reports_in_period": summary["subdistrict"]["reports"],
        "coverage_summary_s": round(coverage_s, 2), "siting_k5_s": round(siting_s, 2),
        "reports_share": summary["subdistrict"]["reports_share"],
        "area_share": summary["subdistrict"]["area_share"],
        "siting_demand_cells": siting["demand_cells"],
        "siting_greedy_evaluations": siting["greedy_evaluations"],
    }


def run(points: int = 2000, warmup: int = 200, analytics: bool = True) -> dict:
    common.django_setup()
    from django.contrib.gis.geos import Point
    from django.db import connection
    from django.test import Client

    from civicmap import coords
    from issues.models import Report
    from stations.models import Station
    from stations.selectors import station_nearest_list

    stored = Report.objects.count()
    stations = Station.objects.filter(is_active=True).count()
    common.log(f"{NAME}: {stored:,} reports, {stations} active stations; "
               f"{warmup} warm-up + {points} timed requests")
    places, _bounds = common.history_places(count=points + warmup, seed=SAMPLER_SEED)
    requests = _requests([(lon, lat) for lon, lat, _category in places])
    client = Client(SERVER_NAME="localhost")  # one of the base settings' ALLOWED_HOSTS
    for params in requests[:warmup]:  # connection, catalogues, plans: not counted
        assert client.get(NEAREST_URL, params).status_code == 200
    load_before = common.machine_info()["loadavg_at_start"]

    view_ms, view_cpu_ms, fresh_ms, selector_ms = [], [], [], []
    started = time.perf_counter()
    for params in requests[warmup:]:
        t0, c0 = time.perf_counter(), time.process_time()
        response = client.get(NEAREST_URL, params)
        view_ms.append((time.perf_counter() - t0) * 1000)
        view_cpu_ms.append((time.process_time() - c0) * 1000)  # this process only, not PG's
        assert response.status_code == 200, response.content
    wall_s = time.perf_counter() - started
    for params in requests[warmup:]:
        connection.close()
        t0 = time.perf_counter()
        client.get(NEAREST_URL, params)
        fresh_ms.append((time.perf_counter() - t0) * 1000)
    for params in requests[warmup:]:
        lon, lat = coords.to_wgs84(float(params["lon"]), float(params["lat"]),
                                   params.get("coord_system", "wgs84"))
        t0 = time.perf_counter()
        station_nearest_list(point=Point(lon, lat, srid=4326),
                             service=params.get("service"), open_now="open_now" in params)
        selector_ms.append((time.perf_counter() - t0) * 1000)

    by_variant = {}
    for index, variant in enumerate(VARIANTS):
        label = "&".join(f"{k}={v}" for k, v in variant.items()) or "plain"
        by_variant[label] = _stats(view_ms[index::len(VARIANTS)])
    explain_path = common.RESULTS_DIR / "stations_nearest_explain.txt"
    lon, lat = (float(requests[warmup]["lon"]), float(requests[warmup]["lat"]))
    explain_path.write_text(_explain(lon, lat))
    view = _stats(view_ms)
    result = {
        "measured_at": common.now_iso(), "reports_stored": stored, "active_stations": stations,
        "points": points, "warmup": warmup, "wall_s": round(wall_s, 2),
        "loadavg_before": load_before, "loadavg_after": common.machine_info()["loadavg_at_start"],
        "view_ms": view, "view_python_cpu_ms": _stats(view_cpu_ms),
        "view_new_connection_ms": _stats(fresh_ms),
        "selector_ms": _stats(selector_ms), "view_ms_by_variant": by_variant,
        "target_p95_ms": TARGET_P95_MS, "meets_target": view["p95"] < TARGET_P95_MS,
        "explain_file": str(explain_path.relative_to(common.ROOT)),
    }
    if analytics:
        common.log(f"{NAME}: coverage summary and siting over the last 90 days (once each)")
        result["analytics"] = _analytics()
    common.result_write(NAME, result)
    common.log(f"{NAME}: view p50 {view['p50']} ms, p95 {view['p95']} ms, p99 {view['p99']} ms "
               f"(target p95 < {TARGET_P95_MS} ms: {'met' if result['meets_target'] else 'MISSED'})"
               f"; new connection p95 {result['view_new_connection_ms']['p95']} ms; "
               f"selector p95 {result['selector_ms']['p95']} ms")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--no-analytics", action="store_true",
                        help="skip the one-off coverage and siting timings")
    args = parser.parse_args()
    common.bench_db_ensure()
    run(points=args.points, warmup=args.warmup, analytics=not args.no_analytics)


if __name__ == "__main__":
    main()
