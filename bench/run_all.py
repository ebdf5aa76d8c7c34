"""Run every benchmark (``make bench``): prepare the bench database, run each in its own process,
print a summary table and write var/bench/results.json.

Exits 0 when every benchmark ran (whether or not it met its target), 1 when one failed to run.
The first run seeds the template ``civicmap_bench_seed`` with 1,000,000 reports (about 8
minutes); later runs reuse it, and each benchmark works on a fresh copy, ``civicmap_bench``.
Each benchmark has a time limit, so a full run stays within about 25 minutes once the district
benchmark's two templates exist (their first seeding takes about 80 minutes more).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

# (result key, script, arguments, time limit in seconds)
BENCHMARKS = [
    ("intake_lookup", "bench_intake_lookup.py", [], 600),
    ("intake_http", "bench_intake_http.py", ["--duration", "30", "--clients", "4"], 600),
    ("worker_memory", "bench_worker_memory.py",
     ["--intakes", "10000", "--worker-tasks", "3000", "--worker-timeout", "300"], 1320),
    ("stations_nearest", "bench_stations.py", [], 600),
    # Its own database (civicmap_bench_lifecycle): the first run copies civicmap_bench_seed
    # and writes the backlog lifecycle (≈ 4 min).
    ("triage", "bench_triage.py", [], 2700),
    # The office map's uncovered-demand layer takes ≈ 10 s a request at 1M: ≈ 10 min in all.
    ("map", "bench_map.py", [], 1500),
    # Its own two templates (…_district_a_seed, …_b_seed: 1M and 3M reports); the first run
    # seeds them (≈ 20 and 60 min on this machine), later runs measure in ≈ 5 min.
    ("district", "bench_district.py", [], 7200),
    # Writes the statistics' aggregate in its copy (≈ minutes at 1M), then times the page.
    ("stats", "bench_stats.py", [], 2700),
    # Locust steps of 30 s at rising rates until p95 >= 500 ms or an error: ≈ 3-8 min.
    ("load", "bench_load.py", [], 1200),
]


def _fmt(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def summary_rows(results: dict, seed: dict) -> list[tuple[str, str, str]]:
    rows = []
    if seed:
        how = "reused (loaded earlier)" if seed.get("reused") else "loaded in this run"
        if seed.get("age_h_at_run") is not None:
            how += f", seeded {seed['age_h_at_run']} h ago"
        rows.append(("1M seed load (seed_demo)", f"{_fmt(seed.get('seed_s'))} s, "
                     f"{_fmt(seed.get('seed_reports_per_s'))} reports/s", how))
    lookup = results.get("intake_lookup")
    if lookup:
        t = lookup["total_ms"]
        rows.append(("1 lookup p50 / p95 / p99",
                     f"{t['p50']:.2f} / {t['p95']:.2f} / {t['p99']:.2f} ms",
                     f"target p95 < {lookup['target_p95_ms']} ms: "
                     + ("met" if lookup["meets_target"] else "MISSED")))
        g, c = lookup["grid_locate_ms"], lookup["case_lookup_ms"]
        rows.append(("  grid_locate / case p95", f"{g['p95']:.2f} / {c['p95']:.2f} ms",
                     f"joined an open case: {lookup['joined_share']:.0%}"))
    http = results.get("intake_http")
    if http:
        i = http["intake"]
        rows.append(("2 intake HTTP (4 clients)", f"{i['ok_per_s']:,.1f} reports/s",
                     f"p50 {i['latency_ms'].get('p50')} ms, p95 {i['latency_ms'].get('p95')} ms"))
        slices = ", ".join(f"{s['tps']:,.0f}" for s in http["pgbench_slices"])
        rows.append(("  pgbench INSERT (4 clients)", f"{http['pgbench_tps']:,.0f} tps",
                     f"slices {slices}"))
        rows.append(("  ratio intake / pgbench", f"{http['ratio_intake_to_pgbench']:.2%}",
                     f"GET categories {http['get_categories_baseline']['ok_per_s']:,.0f} req/s"))
        rows.append(("  pgbench intake's statements", f"{http['pgbench_intake_tps']:,.1f} tps",
                     f"ratio intake / it {http['ratio_intake_to_intake_script']:.1%}, target "
                     ">= 50 %: " + ("met" if http["ratio_intake_to_intake_script"] >= 0.5
                                     else "MISSED")))
        rows.append(("  web CPU per intake", f"{http['web_cpu_ms_per_intake']:.1f} ms", ""))
        variant = http.get("variant_connection_per_request")
        if variant:
            v = variant["intake"]
            rows.append(("  variant CONN_MAX_AGE=0", f"{v['ok_per_s']:,.1f} reports/s",
                         f"app x{variant['app_speedup_over_variant']} faster, p50 "
                         f"{v['latency_ms'].get('p50')} ms"))
    memory = results.get("worker_memory")
    if memory:
        p, w = memory["intake_process"], memory["celery_worker"]
        rows.append((f"3 intake RSS @1k / @{memory['intakes'] // 1000}k",
                     f"{p['rss_kb_at_1000'] / 1024:.1f} / {p['rss_kb_at_end'] / 1024:.1f} MB",
                     f"slope {p['slope_kb_per_1000']:,.1f} KB/1k, flat (< 5 MB): "
                     + _fmt(p["flat"])))
        rows.append((f"  worker RSS @1k / @{w['last_sample_tasks']:,} tasks",
                     f"{_fmt((w['rss_kb_at_1000'] or 0) / 1024)} / "
                     f"{w['rss_kb_last_sample'] / 1024:.1f} MB",
                     f"slope {w['slope_kb_per_1000']:,.1f} KB/1k, flat (< 5 MB): "
                     + _fmt(w["flat"])))
    stations = results.get("stations_nearest")
    if stations:
        v, n = stations["view_ms"], stations["view_new_connection_ms"]
        rows.append(("5 nearest stations p50 / p95 / p99",
                     f"{v['p50']:.2f} / {v['p95']:.2f} / {v['p99']:.2f} ms",
                     f"target p95 < {stations['target_p95_ms']} ms: "
                     + ("met" if stations["meets_target"] else "MISSED")))
        rows.append(("  new connection / selector p95",
                     f"{n['p95']:.2f} / {stations['selector_ms']['p95']:.2f} ms",
                     f"{stations['active_stations']} stations"))
        analytics = stations.get("analytics")
        if analytics:
            rows.append(("  coverage / siting (90 days)",
                         f"{analytics['coverage_summary_s']} / {analytics['siting_k5_s']} s",
                         f"{analytics['reports_in_period']:,} reports, once each"))
    triage = results.get("triage")  # bench_triage.py
    if triage:
        rows.append(("4 triage queue and task lists", f"{triage['counts']['open_cases']:,} "
                     "open cases", f"target p95 < {triage['target_p95_ms']:.0f} ms: "
                     + ("met" if triage["meets_target"] else "MISSED")))
        for name, scenario in triage["scenarios"].items():
            rows.append((f"  {name} p50 / p95",
                         f"{scenario['ms']['p50']:.1f} / {scenario['ms']['p95']:.1f} ms",
                         "met" if scenario["meets_target"] else "MISSED"))
    governance_map = results.get("map")  # bench_map.py
    if governance_map:
        targets = governance_map["targets"]
        for audience in ("public", "office"):
            server = governance_map[audience]["server"]
            rows.append((f"6 /map/ {audience}: data p50 / p95",
                         f"{server['data_ms']['p50']:.0f} / {server['data_ms']['p95']:.0f} ms",
                         f"target p95 < {targets['data_p95_ms']:.0f} ms: "
                         + ("met" if server["meets_target"] else "MISSED")
                         + f"; whole view p95 {server['view_ms']['p95']:.0f} ms"))
            live = governance_map[audience].get("server_live")
            if live:  # the same page with no fresh snapshot (a filter, beat stopped)
                rows.append(("  live (no snapshot): data p50 / p95",
                             f"{live['data_ms']['p50']:.0f} / {live['data_ms']['p95']:.0f} ms",
                             "what a category filter or a stale snapshot costs"))
            loaded = governance_map[audience].get("browser")
            if loaded:
                size, timing = loaded["bytes"], loaded["timing_ms"]
                rows.append(("  bytes raw / sent / gzip",
                             f"{size['raw'] / 1e6:.2f} / {size['sent'] / 1e6:.2f} / "
                             f"{size['gzip'] / 1e6:.2f} MB",
                             f"target raw < {targets['raw_bytes'] / 1e6:.1f} MB: "
                             + ("met" if loaded["meets_bytes_target"] else "MISSED")))
                rows.append(("  first paint / layers drawn",
                             f"{timing['fcp']['median']:.0f} / "
                             f"{timing['layers']['median']:.0f} ms",
                             f"median of {loaded['loads']}, target FCP < "
                             f"{targets['fcp_ms']:.0f} ms: "
                             + ("met" if loaded["meets_fcp_target"] else "MISSED")))
        refresh = governance_map.get("snapshot_refresh")
        if refresh:
            rows.append(("  snapshot refresh (beat)", f"{refresh['ms']['p50'] / 1000:.1f} s p50",
                         f"every {refresh['interval_s']} s"))
    district = results.get("district")  # bench_district.py
    if district:
        rows.append((f"7 Nanyuan alone vs + neighbours (N={district['n']:,})",
                     f"B: {district['b']['reports']:,} reports",
                     f"target B/A <= {district['max_ratio']}: "
                     + ("met" if district["meets_target"] else "MISSED")))
        for name, ratio in district["ratios"].items():
            a, b = district["a"]["ms"][name], district["b"]["ms"][name]
            rows.append((f"  {name} p50 / p95 A -> B",
                         f"{a['p50']:.2f} / {a['p95']:.2f} -> {b['p50']:.2f} / {b['p95']:.2f} ms",
                         f"B/A {ratio['p50']:.2f} / {ratio['p95']:.2f}"))
    stats = results.get("stats")  # bench_stats.py
    if stats:
        rows.append((f"8 statistics page ({stats['reports']:,} reports)",
                     f"recount {stats['rebuild_s']} s",
                     f"target cold p95 < {stats['target_p95_ms']:.0f} ms: "
                     + ("met" if stats["meets_target"] else "MISSED")))
        for name, cold in stats["timings_cold"].items():
            cached = stats["timings"][name]
            rows.append((f"  {name} p95 cold / cached",
                         f"{cold['p95']:.1f} / {cached['p95']:.1f} ms",
                         f"live rates {stats['baseline_live_rates'][name]['p95']:.1f} ms"))
    load = results.get("load")  # bench_load.py
    if load:
        best = load["highest_passing"]
        rows.append(("9 a district's day (Locust mix)",
                     f"{best['requests_per_s']:,.1f} req/s, {best['reports_per_s']:,.2f} reports/s"
                     if best else "no step passed",
                     f"highest step with p95 < {load['target_p95_ms']} ms and no errors; GET "
                     f"categories {load['get_categories_baseline']['ok_per_s']:,.0f} req/s"))
        capacity = load.get("capacity")
        if capacity:
            for label, key in (("  a day per web worker", "per_web_worker"),
                               ("  a day per database core", "per_db_core")):
                if capacity[key]:
                    rows.append((label, f"{capacity[key]['reports_per_day']:,} reports",
                                 f"{capacity[key]['riders_per_day']:,} riders"))
    return rows


def table(rows: list[tuple[str, str, str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    line = "+".join("-" * (w + 2) for w in widths)
    out = [line]
    for row in rows:
        out.append("|".join(f" {cell:<{widths[i]}} " for i, cell in enumerate(row)))
    out.append(line)
    return "\n".join(out)


def _stop_group(child: subprocess.Popen) -> None:
    """SIGTERM to the benchmark's process group (the group id is the child's pid), then
    SIGKILL to what is left after 30 s."""
    for sig, grace in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=grace)
            time.sleep(1)  # the group's other members get the signal too
        except subprocess.TimeoutExpired:
            continue


def main() -> int:
    started = time.perf_counter()
    common.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    common.bench_lock()  # for the whole run; the children inherit it (BENCH_LOCK_HELD)
    seed = common.bench_db_ensure()
    machine = common.machine_info()
    common.log(f"machine: {machine['cpus']} CPUs, {machine['memory_gib']} GiB, PostgreSQL "
               f"{machine.get('postgresql')}, PostGIS {machine.get('postgis')}, "
               f"load {machine['loadavg_at_start']}")
    env = dict(os.environ, BENCH_DB_ENSURED="1", BENCH_LOCK_HELD="1")
    statuses = {}
    for key, script, args, limit in BENCHMARKS:
        common.log(f"=== {script} (limit {limit} s)")
        t0 = time.perf_counter()
        # Its own process group: on a timeout, its gunicorn or Celery worker go with it.
        child = subprocess.Popen([common.PYTHON, str(common.ROOT / "bench" / script), *args],
                                 cwd=common.ROOT, env=env, start_new_session=True)
        try:
            returncode = child.wait(timeout=limit)
            status = "ok" if returncode == 0 else f"exit {returncode}"
        except subprocess.TimeoutExpired:
            status = f"timed out after {limit} s"
            _stop_group(child)
        statuses[key] = {"status": status, "wall_s": round(time.perf_counter() - t0, 1)}
        common.log(f"=== {script}: {status} in {statuses[key]['wall_s']} s")
    if any(s["status"] != "ok" for s in statuses.values()):
        # A benchmark that died may have left rows: a fresh copy now, not at the next start.
        if seed:
            common.bench_db_restore()
        common.redis_flush()
    data = json.loads(common.RESULTS_FILE.read_text()) if common.RESULTS_FILE.exists() else {}
    results = {k: v for k, v in data.get("benchmarks", {}).items()
               if statuses.get(k, {}).get("status") == "ok"}  # only this run's figures
    if seed.get("seeded_at"):
        # The history ends when it was seeded (--now defaults to then): duplicate windows
        # (24-168 h) age with it, so later runs find fewer open cases to join.
        seeded = datetime.fromisoformat(seed["seeded_at"])
        seed["age_h_at_run"] = round((datetime.now(UTC) - seeded).total_seconds() / 3600, 1)
    data.update(machine=machine, seed=seed, runs=statuses, finished_at=common.now_iso(),
                total_wall_s=round(time.perf_counter() - started, 1))
    data["benchmarks"] = {**data.get("benchmarks", {}), **results}
    common.RESULTS_FILE.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    try:
        rows = summary_rows(results, seed)
    except (KeyError, TypeError, ValueError) as exc:  # the figures are in results.json anyway
        rows = [("summary", "could not be built", repr(exc))]
    print()
    print(f"Benchmarks, {common.now_iso()}: {machine['cpus']} CPUs, {machine['memory_gib']} GiB, "
          f"PostgreSQL {machine.get('postgresql')}, PostGIS {machine.get('postgis')}")
    if rows:
        print(table(rows))
    for key, status in statuses.items():
        if status["status"] != "ok":
            print(f"{key}: {status['status']}")
    print(f"results: {common.RESULTS_FILE.relative_to(common.ROOT)}; "
          f"total {time.perf_counter() - started:,.0f} s")
    return 0 if all(s["status"] == "ok" for s in statuses.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
