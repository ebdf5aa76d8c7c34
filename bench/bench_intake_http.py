"""Benchmark 2: rider intake over HTTP, one ~50 KB JPEG per report, against pgbench's INSERT rate.

The benchmark starts gunicorn (2 sync workers, civicmap.settings.base) on a free port against
the bench database, with photo renditions left to Celery (the tasks only queue in Redis db 13:
no worker runs), the hourly limit raised to 10^9 and MEDIA_ROOT in a temp directory. A client of
4 threads posts ``POST /api/v1/reports/`` for a fixed time as 200 bench riders (DRF tokens),
each request with a new client_uuid, a point and category drawn like the demo history and one
~50 KB JPEG. Measured: reports/s and latency p50/p95/p99.

In the same run, pgbench inserts single rows (4 clients, same total duration) into
``bench_report_copy (LIKE issues_report INCLUDING ALL)``: same columns, CHECKs and indexes, no
foreign keys or triggers, a random point as geography. The figure is intake reports/s ÷ the
pgbench rate. A second gunicorn, the variant, runs with ``DATABASE_CONN_MAX_AGE=0`` (a new
database connection per request, as before commit 621b2fa), to keep measuring what persistent
connections are worth. Because the machine is shared, pgbench, the app's gunicorn and the
variant take turns in 3 rounds of 10 s slices in rotating order, so that load from other users
falls on all three alike. A GET of the category list (a small JSON view) on each server gives
the framework's own ceiling for comparison.

Afterwards the bench database is dropped for a fresh copy of its template (whatever the run
wrote goes with it, the copy table too), Redis db 13 is flushed and the temp MEDIA_ROOT deleted.

Run alone: .venv/bin/python bench/bench_intake_http.py [--duration 30] [--clients 4] [--rounds 3]
[--no-variant]
"""

from __future__ import annotations

import argparse
import itertools
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

NAME = "intake_http"
RIDERS = 200
PHOTO_BYTES = 50_000
PHOTO_VARIANTS = 8
SAMPLER_SEED = 20260202


# --- gunicorn -------------------------------------------------------------------------------

def _gunicorn_start(media_root: str, log_path: Path,
                    **extra_env: str) -> tuple[subprocess.Popen, str]:
    env = common.bench_env(
        DJANGO_ALLOWED_HOSTS="127.0.0.1", REPORTS_PER_HOUR_PER_RIDER=str(10**9),
        MEDIA_ROOT=media_root, **extra_env,
    )
    if "DATABASE_CONN_MAX_AGE" not in extra_env:
        env.pop("DATABASE_CONN_MAX_AGE", None)  # the app's own default
    return common.gunicorn_start(env=env, log_path=log_path)


# --- the HTTP client ------------------------------------------------------------------------

def _load(base: str, duration_s: float, clients: int, make_request) -> dict:
    """``clients`` threads each loop ``make_request(session, base)`` for ``duration_s``.

    Returns the raw outcomes, (latency in s, HTTP status or -1), and the time from the start
    to the last answer; ``_summary`` turns one or more of these into figures."""
    import requests

    results: list[tuple[float, int]] = []
    last_done = [0.0]
    lock = threading.Lock()
    start = time.perf_counter()
    stop_at = start + duration_s

    def worker() -> None:
        session = requests.Session()
        local = []
        done = start
        while True:
            sent = time.perf_counter()
            if sent >= stop_at:
                break
            try:
                status = make_request(session, base)
            except requests.RequestException:
                status = -1
            done = time.perf_counter()
            local.append((done - sent, status))
        with lock:
            results.extend(local)
            last_done[0] = max(last_done[0], done)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"results": results, "elapsed_s": max(last_done[0] - start, duration_s)}


def _summary(loads: list[dict]) -> dict:
    """Throughput and latency over one or more load slices (their times added up)."""
    results = [r for load in loads for r in load["results"]]
    elapsed = sum(load["elapsed_s"] for load in loads)
    ok = [r for r in results if 200 <= r[1] < 300]
    statuses: dict[str, int] = {}
    for _, status in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    latencies = [r[0] * 1000 for r in ok]
    return {
        "requests": len(results), "ok": len(ok), "statuses": statuses,
        "elapsed_s": round(elapsed, 2), "ok_per_s": round(len(ok) / elapsed, 1),
        "slices_ok_per_s": [round(sum(200 <= r[1] < 300 for r in load["results"])
                                  / load["elapsed_s"], 1) for load in loads],
        "latency_ms": {
            "p50": round(common.percentile(latencies, 50), 1),
            "p95": round(common.percentile(latencies, 95), 1),
            "p99": round(common.percentile(latencies, 99), 1),
            "max": round(max(latencies), 1),
        } if latencies else {},
    }


def _report_requests(riders: list[tuple[int, str]], photos: list[bytes], places: list):
    sequence = itertools.count()  # shared by every slice: each request a new place and rider

    def post(session, base: str) -> int:
        number = next(sequence)
        _, token = riders[number % len(riders)]
        lon, lat, code = places[number % len(places)]
        response = session.post(
            f"{base}/api/v1/reports/",
            headers={"Authorization": f"Token {token}", "Accept-Language": "en"},
            data={"category": code, "lon": f"{lon:.7f}", "lat": f"{lat:.7f}",
                  "coord_system": "wgs84", "accuracy_m": "8", "client_uuid": str(uuid.uuid4()),
                  "description": f"benchmark report {number}"},
            files={"photos": ("photo.jpg", photos[number % len(photos)], "image/jpeg")},
            timeout=60,
        )
        if response.status_code not in (200, 201) and number < 5:
            common.log(f"  intake answered {response.status_code}: {response.text[:300]}")
        return response.status_code

    return post


def _category_get(session, base: str) -> int:
    return session.get(f"{base}/api/v1/categories/", timeout=30).status_code


# --- pgbench ----------------------------------------------------------------------------------

PGBENCH_SQL = """\
\\set lon {min_lon} + random(0, 1000000) * {span_lon} / 1000000.0
\\set lat {min_lat} + random(0, 1000000) * {span_lat} / 1000000.0
\\set cat random({min_cat}, {max_cat})
\\set rider random(1, 100000)
INSERT INTO bench_report_copy (location, sent_lon, sent_lat, sent_coord_system, accuracy_m,
  location_source, location_flagged, category_id, description, client_uuid, content_sha256,
  channel, reporter_id, captured_at, received_at, unit_grid_id, community_grid_id, case_id,
  joined_existing_case, contact_email, contact_first_name, contact_last_name, contact_phone,
  device_id, account_id, media_url, attributes)
VALUES (ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :lon, :lat, 'wgs84', 8,
  'device', false, :cat, 'pgbench report', gen_random_uuid(),
  md5(random()::text) || md5(random()::text), 'app', :rider, now(), now(), NULL, NULL, 1, false,
  '', '', '', '', '', '', '', '{{}}');
"""


def _pgbench_prepare(bounds: tuple[float, float, float, float], tmp: Path) -> Path:
    conn = common.pg_connect()
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_report_copy")
        cur.execute("CREATE TABLE bench_report_copy (LIKE issues_report INCLUDING ALL)")
        cur.execute("SELECT min(id), max(id) FROM issues_category")
        min_cat, max_cat = cur.fetchone()
    conn.close()
    min_lon, min_lat, max_lon, max_lat = bounds
    script = tmp / "insert_report.sql"
    script.write_text(PGBENCH_SQL.format(
        min_lon=min_lon, min_lat=min_lat, span_lon=max_lon - min_lon, span_lat=max_lat - min_lat,
        min_cat=min_cat, max_cat=max_cat))
    return script


def _pgbench(script: Path, clients: int, duration_s: int) -> dict:
    command = ["pgbench", "-n", "-c", str(clients), "-j", str(min(clients, 2)),
               "-T", str(duration_s), "-f", str(script), "-h", common.PG_HOST,
               "-p", str(common.PG_PORT), "-U", common.PG_USER, common.BENCH_DB]
    run = subprocess.run(command, capture_output=True, text=True, check=True)
    tps = float(re.search(r"tps = ([0-9.]+) \(without initial connection time\)",
                          run.stdout).group(1))
    latency = re.search(r"latency average = ([0-9.]+) ms", run.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", run.stdout)
    return {"tps": round(tps, 1), "latency_avg_ms": float(latency.group(1)) if latency else None,
            "failed": int(failed.group(1)) if failed else 0}


def _pgbench_rows() -> int:
    conn = common.pg_connect()
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM bench_report_copy")
        rows = cur.fetchone()[0]
    conn.close()
    return rows


# --- the benchmark ---------------------------------------------------------------------------

def _conn_max_age() -> int | None:
    """The app's CONN_MAX_AGE as the app pass's gunicorn gets it (its settings, its env)."""
    env = common.bench_env()
    env.pop("DATABASE_CONN_MAX_AGE", None)
    run = subprocess.run(
        [common.PYTHON, "-c", "import django; django.setup(); from django.conf import settings; "
         "print(settings.DATABASES['default'].get('CONN_MAX_AGE', 0))"],
        cwd=common.ROOT, env=env, capture_output=True, text=True)
    return int(run.stdout.strip()) if run.returncode == 0 else None


def _places(count: int) -> tuple[list, tuple[float, float, float, float]]:
    from issues.models import Category

    codes = dict(Category.objects.values_list("pk", "code"))
    places, bounds = common.history_places(count=count, seed=SAMPLER_SEED)
    return [(lon, lat, codes[category]) for lon, lat, category in places], bounds


def run(duration_s: int = 30, clients: int = 4, warmup_s: int = 3, baseline_s: int = 10,
        variant: bool = True, rounds: int = 3) -> dict:
    """pgbench, the app's gunicorn and (``variant``) the connection-per-request gunicorn take
    turns in ``rounds`` slices of ``duration_s / rounds`` seconds each, in a rotating order, so
    that the load other users put on the shared machine falls on all of them alike."""
    common.django_setup()
    from issues.models import Report

    riders = common.bench_riders_ensure(RIDERS)
    places, bounds = _places(20_000)
    photos = [common.jpeg_photo(target_bytes=PHOTO_BYTES, seed=i) for i in range(PHOTO_VARIANTS)]
    stored = Report.objects.count()
    common.log(f"{NAME}: {stored:,} reports stored; photos {[len(p) for p in photos]} bytes")
    tmp = Path(tempfile.mkdtemp(prefix="civicmap-bench-http-"))
    media_root = tmp / "media"
    media_root.mkdir()
    script = _pgbench_prepare(bounds, tmp)
    common.redis_flush()
    servers: dict[str, tuple[subprocess.Popen, str]] = {}
    slice_s = duration_s / rounds
    try:
        servers["app"] = _gunicorn_start(str(media_root), tmp / "gunicorn.log")
        if variant:
            # A new database connection per request (DATABASE_CONN_MAX_AGE=0, Django's default
            # and the app's before 621b2fa): what persistent connections are worth.
            servers["per_request"] = _gunicorn_start(
                str(media_root), tmp / "gunicorn-per-request.log", DATABASE_CONN_MAX_AGE="0")
        common.log(f"{NAME}: gunicorn {', '.join(f'{k} at {v[1]}' for k, v in servers.items())}")
        post = _report_requests(riders, photos, places)
        gets: dict[str, list] = {name: [] for name in servers}
        posts: dict[str, list] = {name: [] for name in servers}
        pgbench: list[dict] = []
        for _, base in servers.values():  # warm-up: not counted
            _load(base, warmup_s, clients, _category_get)
            _load(base, warmup_s, clients, post)
        for _ in range(2):
            for name, (_, base) in servers.items():
                gets[name].append(_load(base, baseline_s / 2, clients, _category_get))
        queued_before = common.redis_queue_length()
        turns = ["pgbench", *servers]
        for number in range(rounds):
            order = turns[number % len(turns):] + turns[:number % len(turns)]
            for turn in order:
                if turn == "pgbench":
                    pgbench.append(_pgbench(script, clients, round(slice_s)))
                else:
                    posts[turn].append(_load(servers[turn][1], slice_s, clients, post))
            common.log(f"{NAME}: round {number + 1}/{rounds} ({', '.join(order)}): pgbench "
                       f"{pgbench[-1]['tps']} tps; intake " + ", ".join(
                           f"{k} {_summary(v[-1:])['ok_per_s']} reports/s"
                           for k, v in posts.items()))
        queued = common.redis_queue_length() - queued_before
        for name in list(servers):
            common.gunicorn_stop(servers.pop(name)[0])
        written = Report.objects.count() - stored
        copy_rows = _pgbench_rows()
    finally:
        for process, _ in servers.values():
            common.gunicorn_stop(process)
        common.redis_flush()
        common.rmtree_quiet(tmp)
    intake = _summary(posts["app"])
    pg_tps = sum(run["tps"] for run in pgbench) / len(pgbench)
    ratio = intake["ok_per_s"] / pg_tps
    result = {
        "measured_at": common.now_iso(), "reports_stored": stored, "clients": clients,
        "duration_s": duration_s, "rounds": rounds, "warmup_s": warmup_s, "riders": RIDERS,
        "photo_bytes": [len(p) for p in photos], "gunicorn_workers": 2,
        "intake": intake, "photo_tasks_queued": queued, "reports_written_total": written,
        "get_categories_baseline": _summary(gets["app"]),
        "pgbench_slices": pgbench, "pgbench_tps": round(pg_tps, 1),
        "pgbench_copy_rows": copy_rows,
        "ratio_intake_to_pgbench": round(ratio, 4),
        "database_conn_max_age_app": _conn_max_age(),
        "variant_connection_per_request": None,
    }
    if variant:
        per_request = _summary(posts["per_request"])
        result["variant_connection_per_request"] = {
            "settings": "DATABASE_CONN_MAX_AGE=0: a new database connection per request",
            "intake": per_request, "get_categories_baseline": _summary(gets["per_request"]),
            "ratio_intake_to_pgbench": round(per_request["ok_per_s"] / pg_tps, 4),
            "app_speedup_over_variant": round(intake["ok_per_s"] / per_request["ok_per_s"], 2),
        }
    common.result_write(NAME, result)
    common.log(f"{NAME}: intake {intake['ok_per_s']} reports/s (p50 "
               f"{intake['latency_ms'].get('p50')} ms, p95 {intake['latency_ms'].get('p95')} ms); "
               f"pgbench {pg_tps:.0f} tps; ratio {ratio:.2%}"
               + (f"; with a connection per request {per_request['ok_per_s']} reports/s (app x"
                  f"{result['variant_connection_per_request']['app_speedup_over_variant']})"
                  if variant else ""))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-variant", action="store_true",
                        help="skip the second server, with a database connection per request")
    args = parser.parse_args()
    with common.bench_db_writes():
        run(duration_s=args.duration, clients=args.clients, variant=not args.no_variant,
            rounds=args.rounds)


if __name__ == "__main__":
    main()
