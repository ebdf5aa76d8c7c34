"""Shared helpers of the benchmarks: the bench database, Django set-up, Redis db 13, results.

Every benchmark runs against its own database ``civicmap_bench`` (never ``civicmap`` or a
``test_*`` database) and its own Redis database 13 for the Celery broker. The database is
created, migrated and seeded with 1,000,000 reports the first time; later runs reuse it when it
still holds exactly 1,000,000 reports.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python")
RESULTS_DIR = ROOT / "var" / "bench"
RESULTS_FILE = RESULTS_DIR / "results.json"
SEED_FILE = RESULTS_DIR / "seed.json"
UNDO_FILE = RESULTS_DIR / "pending_undo.json"  # marks of writes not yet undone (a crash)

# CIVICMAP_BENCH_DB points a benchmark at another database (a development copy, e.g.
# ``CREATE DATABASE civicmap_mapdev TEMPLATE civicmap``); with BENCH_DB_ENSURED=1 it is used as
# it is (no seeding). The default is the 1,000,000-report database the figures are about.
BENCH_DB = os.environ.get("CIVICMAP_BENCH_DB", "civicmap_bench")
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "root"
BENCH_DB_URL = f"postgis://{PG_USER}@{PG_HOST}:{PG_PORT}/{BENCH_DB}"
PG_DSN = f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={BENCH_DB}"
BENCH_REDIS_URL = "redis://127.0.0.1:6379/13"  # Celery broker of the benchmarks, flushed
SEED_REPORTS = 1_000_000
SEED_ARGS = ["--reports", str(SEED_REPORTS), "--no-progress", "--seed", "1"]
BENCH_RIDER_PREFIX = "bench_rider_"


def bench_env(**extra: str) -> dict[str, str]:
    """The environment for any child process of a benchmark: bench db, Redis db 13."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=BENCH_DB_URL,
        CELERY_BROKER_URL=BENCH_REDIS_URL,
        DJANGO_SETTINGS_MODULE="civicmap.settings.base",
        PYTHONPATH=str(ROOT),
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def django_setup(**extra: str) -> None:
    """Set up Django in this process against the bench database (call before importing models)."""
    os.environ.update(bench_env(**extra))
    os.environ["DATABASE_URL"] = BENCH_DB_URL  # never anything else, whatever the caller had
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    name = connection.settings_dict["NAME"]
    if name != BENCH_DB:  # belt and braces: benchmarks write and delete rows
        raise SystemExit(f"refusing to benchmark against database {name!r}")


def pg_connect(dbname: str = BENCH_DB):
    import psycopg2

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname)
    conn.autocommit = True
    return conn


def log(message: str) -> None:
    print(f"[{datetime.now(UTC).strftime('%H:%M:%SZ')}] {message}", flush=True)


# --- one benchmark at a time -------------------------------------------------------------------

# A session advisory lock, taken in the always-present postgres db; one per bench database.
_LOCK_KEY = "civicmap-bench" if BENCH_DB == "civicmap_bench" else f"civicmap-bench:{BENCH_DB}"
_lock_conn = None


def bench_lock(timeout_s: float = 1800) -> None:
    """Hold the bench database for the life of this process: one benchmark at a time.

    Benchmarks write to ``civicmap_bench`` and undo their writes afterwards; a second run that
    started meanwhile would see the first one's rows (and its pending undo) and must wait. The
    lock is a PostgreSQL session advisory lock, released when this process exits, however it
    exits. Children of a process that holds it are started with BENCH_LOCK_HELD=1.
    """
    global _lock_conn
    if _lock_conn is not None or os.environ.get("BENCH_LOCK_HELD") == "1":
        return
    import psycopg2

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres",
                            application_name=f"{_LOCK_KEY} lock, pid {os.getpid()} "
                                             f"{Path(sys.argv[0]).name}"[:63])
    conn.autocommit = True
    deadline = time.monotonic() + timeout_s
    told = False
    with conn.cursor() as cur:
        while True:
            cur.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [_LOCK_KEY])
            if cur.fetchone()[0]:
                break
            if not told:
                cur.execute("""SELECT a.application_name FROM pg_locks l
                               JOIN pg_stat_activity a ON a.pid = l.pid
                               WHERE l.locktype = 'advisory' AND l.granted
                                 AND l.objid = hashtext(%s)::oid""", [_LOCK_KEY])
                holder = cur.fetchone()
                log(f"another benchmark holds {BENCH_DB} ({holder[0] if holder else '?'}): "
                    f"waiting up to {timeout_s:.0f} s")
                told = True
            if time.monotonic() > deadline:
                conn.close()
                raise SystemExit(f"gave up waiting for the benchmark lock on {BENCH_DB}")
            time.sleep(5)
    _lock_conn = conn


# --- the bench database -----------------------------------------------------------------------

def _report_count() -> int | None:
    conn = pg_connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('issues_report') IS NOT NULL")
            if not cur.fetchone()[0]:
                return None
            cur.execute("SELECT count(*) FROM issues_report")
            return cur.fetchone()[0]
    finally:
        conn.close()


def bench_db_ensure() -> dict:
    """Create, migrate and seed ``civicmap_bench`` unless it already holds the 1M reports.

    Returns the seed record (how long the 1M load took, when it ran), also kept in
    var/bench/seed.json so that later runs can report it.
    """
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    if os.environ.get("BENCH_DB_ENSURED") == "1":  # run_all.py did it for its children
        return json.loads(SEED_FILE.read_text()) if SEED_FILE.exists() else {}
    bench_lock()  # before looking at a pending undo: it may be a running benchmark's
    admin = pg_connect("postgres")
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB])
        if cur.fetchone() is None:
            log(f"creating database {BENCH_DB}")
            cur.execute(f'CREATE DATABASE "{BENCH_DB}"')
    admin.close()
    conn = pg_connect()
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    conn.close()
    env = bench_env()
    if UNDO_FILE.exists():  # an earlier benchmark stopped before undoing its writes
        log(f"undoing the writes an earlier run left ({UNDO_FILE.name})")
        subprocess.run([PYTHON, __file__, "undo"], cwd=ROOT, env=bench_env(BENCH_LOCK_HELD="1"),
                       check=True)
    count = _report_count()
    if count == SEED_REPORTS:
        log(f"{BENCH_DB} already holds {count:,} reports: reusing it")
        subprocess.run([PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT,
                       env=env, check=True)
        record = json.loads(SEED_FILE.read_text()) if SEED_FILE.exists() else {}
        record["reused"] = True
        return record
    log(f"migrating {BENCH_DB}")
    started = time.perf_counter()
    subprocess.run([PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT,
                   env=env, check=True)
    migrate_s = time.perf_counter() - started
    log(f"seeding {BENCH_DB} with {SEED_REPORTS:,} reports (seed_demo {' '.join(SEED_ARGS)})")
    started = time.perf_counter()
    subprocess.run([PYTHON, "manage.py", "seed_demo", *SEED_ARGS], cwd=ROOT, env=env,
                   check=True)
    seed_s = time.perf_counter() - started
    conn = pg_connect()
    with conn.cursor() as cur:
        # Fresh statistics and visibility map for the planner, as autovacuum would do later.
        cur.execute("VACUUM ANALYZE")
        cur.execute("SELECT count(*) FROM issues_report")
        count = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM issues_case")
        cases = cur.fetchone()[0]
    conn.close()
    record = {
        "seeded_at": now_iso(), "reports": count, "cases": cases,
        "command": "seed_demo " + " ".join(SEED_ARGS),
        "migrate_s": round(migrate_s, 1), "seed_s": round(seed_s, 1),
        "seed_reports_per_s": round(count / seed_s), "reused": False,
    }
    SEED_FILE.write_text(json.dumps(record, indent=2) + "\n")
    log(f"seeded {count:,} reports in {seed_s:.0f} s ({count / seed_s:,.0f} reports/s)")
    return record


def bench_riders_ensure(count: int) -> list[tuple[int, str]]:
    """``count`` bench riders with DRF tokens (created once, kept); returns (user id, token)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from rest_framework.authtoken.models import Token

    from civicmap.roles import Role
    from issues.models import Rider

    User = get_user_model()
    group = Group.objects.get(name=Role.RIDER.value)
    riders = []
    for number in range(1, count + 1):
        user, created = User.objects.get_or_create(username=f"{BENCH_RIDER_PREFIX}{number:04d}")
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
            user.groups.add(group)
        Rider.objects.get_or_create(user=user, defaults={"display_name": f"bench {number}"})
        token, _ = Token.objects.get_or_create(user=user)
        riders.append((user.pk, token.key))
    return riders


# --- undoing benchmark writes ---------------------------------------------------------------

_SNAPSHOT = "bench_case_snapshot"
# Intake (report_create and what it calls: cases, events, photos, auto-dispatch tasks,
# notifications, webhook deliveries ...) adds rows to the reports and cases and to tables that
# point at them. Rows with an id above the mark are the benchmark's. Foreign keys are DEFERRABLE
# INITIALLY DEFERRED (Django's), so one transaction may delete them in any order.
WRITE_ROOTS = ["issues_report", "issues_case"]


def _downstream_tables(cur) -> list[str]:
    """The root tables and every table that points at one of them, transitively (by foreign
    key), that has an ``id`` column: what an intake can add rows to."""
    tables = set(WRITE_ROOTS)
    while True:
        cur.execute("""SELECT DISTINCT c.conrelid::regclass::text FROM pg_constraint c
                       WHERE c.contype = 'f' AND c.confrelid::regclass::text = ANY(%s)""",
                    [sorted(tables)])
        found = {row[0] for row in cur.fetchall()} - tables
        if not found:
            break
        tables |= found
    cur.execute("""SELECT table_name FROM information_schema.columns
                   WHERE table_schema = 'public' AND column_name = 'id'
                     AND table_name = ANY(%s)""", [sorted(tables)])
    return sorted(row[0] for row in cur.fetchall())


def _aggregate_tables(cur) -> list[str]:
    """The map aggregates present in the bench database: hourly, and daily once migrated."""
    cur.execute("""SELECT t FROM unnest(%s::text[]) AS t WHERE to_regclass(t) IS NOT NULL""",
                [["issues_reportcellhour", "issues_reportunitgridhour",
                  "issues_reportcellday", "issues_reportunitgridday"]])
    return [row[0] for row in cur.fetchall()]


def writes_mark() -> dict:
    """Remember where the seeded rows end (and the mutable columns of the cases), so that
    ``writes_undo`` can put the database back to its 1,000,000 seeded reports."""
    bench_lock()
    conn = pg_connect()
    marks: dict = {"max_id": {}, "count": {}}
    with conn.cursor() as cur:
        for table in _downstream_tables(cur):
            cur.execute(f"SELECT coalesce(max(id), 0), count(*) FROM {table}")
            marks["max_id"][table], marks["count"][table] = cur.fetchone()
        for table in _aggregate_tables(cur):
            cur.execute(f"SELECT count(*), coalesce(sum(count), 0) FROM {table}")
            marks["count"][table] = [int(v) for v in cur.fetchone()]
        cur.execute(f"DROP TABLE IF EXISTS {_SNAPSHOT}")
        # Intake rewrites a joined case's centroid, counts and times: keep them to restore.
        cur.execute(f"""CREATE TABLE {_SNAPSHOT} AS SELECT id, location, report_count,
                        reporter_count, last_report_at, updated_at, stage FROM issues_case""")
        cur.execute(f"ALTER TABLE {_SNAPSHOT} ADD PRIMARY KEY (id)")
    conn.close()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    UNDO_FILE.write_text(json.dumps(marks) + "\n")
    return marks


def writes_undo(marks: dict) -> dict:
    """Delete every row a benchmark added after ``writes_mark`` and restore the seeded cases and
    map aggregates; check that every table is back to its count. Returns what was removed.
    Photo files live in a temp MEDIA_ROOT that the benchmark deletes itself."""
    from issues.sql import CELL_SELECT, UNIT_SELECT

    conn = pg_connect()
    conn.autocommit = False
    removed: dict = {}
    with conn.cursor() as cur:
        where = f"r.id > {int(marks['max_id']['issues_report'])}"
        # The aggregates the benchmark's reports added, subtracted again (intake's SELECTs).
        cur.execute(f"""UPDATE issues_reportcellhour h SET count = h.count - d.n
                        FROM ({CELL_SELECT.format(where=where)}) AS d(x, y, hour, cat, n)
                        WHERE h.cell_x = d.x AND h.cell_y = d.y AND h.hour = d.hour
                          AND h.category_id = d.cat""")
        # A report in no unit grid is in its community's row (unit grid NULL): IS NOT DISTINCT.
        cur.execute(f"""UPDATE issues_reportunitgridhour h SET count = h.count - d.n
                        FROM ({UNIT_SELECT.format(where=where)}) AS d(com, u, hour, cat, n)
                        WHERE h.community_id = d.com AND h.unit_grid_id IS NOT DISTINCT FROM d.u
                          AND h.hour = d.hour AND h.category_id = d.cat""")
        if "issues_reportcellday" in _aggregate_tables(cur):  # the daily roll-ups (0006)
            cur.execute(f"""UPDATE issues_reportcellday h SET count = h.count - d.n
                            FROM (SELECT x, y, date_trunc('day', hour, 'UTC') AS day, cat,
                                         sum(n) AS n
                                  FROM ({CELL_SELECT.format(where=where)})
                                       AS s(x, y, hour, cat, n) GROUP BY 1, 2, 3, 4) AS d
                            WHERE h.cell_x = d.x AND h.cell_y = d.y AND h.day = d.day
                              AND h.category_id = d.cat""")
            cur.execute(f"""UPDATE issues_reportunitgridday h SET count = h.count - d.n
                            FROM (SELECT com, u, date_trunc('day', hour, 'UTC') AS day, cat,
                                         sum(n) AS n
                                  FROM ({UNIT_SELECT.format(where=where)})
                                       AS s(com, u, hour, cat, n) GROUP BY 1, 2, 3, 4) AS d
                            WHERE h.community_id = d.com
                              AND h.unit_grid_id IS NOT DISTINCT FROM d.u
                              AND h.day = d.day AND h.category_id = d.cat""")
        for table in _aggregate_tables(cur):
            cur.execute(f"DELETE FROM {table} WHERE count = 0")
        for table, mark in marks["max_id"].items():
            cur.execute(f"DELETE FROM {table} WHERE id > %s", [mark])
            removed[table] = cur.rowcount
        cur.execute(f"""UPDATE issues_case c SET location = s.location,
                            report_count = s.report_count, reporter_count = s.reporter_count,
                            last_report_at = s.last_report_at, updated_at = s.updated_at,
                            stage = s.stage
                        FROM {_SNAPSHOT} s
                        WHERE c.id = s.id AND (c.report_count <> s.report_count
                              OR c.last_report_at <> s.last_report_at OR c.stage <> s.stage)""")
        removed["cases_restored"] = cur.rowcount
        cur.execute(f"DROP TABLE {_SNAPSHOT}")
        mismatches = []
        for table, count in marks["count"].items():
            if isinstance(count, list):
                cur.execute(f"SELECT count(*), coalesce(sum(count), 0) FROM {table}")
                now = [int(v) for v in cur.fetchone()]
            else:
                cur.execute(f"SELECT count(*) FROM {table}")
                now = cur.fetchone()[0]
            if now != count:
                mismatches.append(f"{table}: {now} rows, was {count}")
        if mismatches:  # keep the rows and the undo file: someone must look
            conn.rollback()
            raise RuntimeError("undo would not restore the bench database: "
                               + "; ".join(mismatches))
    conn.commit()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE issues_report, issues_case, issues_caseevent, "
                    "issues_reportphoto, " + ", ".join(_aggregate_tables(cur)))
        cur.execute("SELECT count(*) FROM issues_report")
        removed["reports_left"] = cur.fetchone()[0]
    conn.close()
    UNDO_FILE.unlink(missing_ok=True)
    return {table: n for table, n in removed.items() if n}


# --- Redis db 13 --------------------------------------------------------------------------------

def redis_flush() -> None:
    import redis

    redis.Redis.from_url(BENCH_REDIS_URL).flushdb()


def redis_queue_length(queue: str = "celery") -> int:
    import redis

    return redis.Redis.from_url(BENCH_REDIS_URL).llen(queue)


# --- test photos --------------------------------------------------------------------------------

def jpeg_photo(*, target_bytes: int, seed: int, size: tuple[int, int] = (800, 600)) -> bytes:
    """A synthetic JPEG (gradients plus noise, so that it compresses like a photo) whose quality
    is searched so that the file is as close as possible to ``target_bytes``."""
    import io
    import random

    from PIL import Image

    rng = random.Random(seed)
    channels = []
    for _ in range(3):
        gradient = Image.linear_gradient("L").rotate(rng.uniform(0, 360)).resize(size)
        channels.append(Image.blend(gradient, Image.effect_noise(size, rng.uniform(20, 40)), 0.35))
    image = Image.merge("RGB", channels)
    low, high, best = 5, 95, b""
    while low <= high:
        quality = (low + high) // 2
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        data = buffer.getvalue()
        if not best or abs(len(data) - target_bytes) < abs(len(best) - target_bytes):
            best = data
        low, high = (quality + 1, high) if len(data) < target_bytes else (low, quality - 1)
    return best


# --- measuring ----------------------------------------------------------------------------------

class SqlTimer:
    """Adds up the time spent in the database and the number of statements (a
    ``connection.execute_wrapper``): the SQL part of a request's server time."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.queries = 0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.queries += 1


def history_places(*, count: int, seed: int
                   ) -> tuple[list[tuple[float, float, int]], tuple[float, float, float, float]]:
    """``count`` (lon, lat, category id) drawn like the demo history (fixtures/history.py's
    sampler: hotspots and their categories, plus a uniform background) with a seed of the
    benchmark's own: new points, the same distribution. Also the sampled area's bounds."""
    from django.utils import timezone

    from fixtures.history import HistoryPlan, _Sampler

    sampler = _Sampler(HistoryPlan(seed=seed, now=timezone.now(), reports=count, days=1),
                       rider_ids=[])
    places = []
    for _ in range(count):
        lon, lat, spot = sampler.place()
        places.append((lon, lat, sampler.category(spot)))
    return places, sampler.area.bounds


def gunicorn_start(*, env: dict[str, str], log_path: Path,
                   extra_args: tuple[str, ...] = ()) -> tuple[subprocess.Popen, str]:
    """The app under gunicorn (2 workers) on a free local port, as a deployment runs it; returns
    the process and its base URL once ``/api/v1/categories/`` answers (within 60 s)."""
    import requests

    port = free_port()
    log_file = open(log_path, "w")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "civicmap.wsgi:application", "-w", "2",
         "-b", f"127.0.0.1:{port}", "--error-logfile", "-", *extra_args],
        cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}: see {log_path}")
        try:
            if requests.get(f"{base}/api/v1/categories/", timeout=2).status_code == 200:
                return process, base
        except requests.RequestException:
            pass
        time.sleep(0.3)
    gunicorn_stop(process)
    raise RuntimeError(f"gunicorn did not answer within 60 s: see {log_path}")


def gunicorn_stop(process: subprocess.Popen) -> None:
    """Stop gracefully (SIGTERM: the arbiter stops its own workers), kill after 30 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0-100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def rss_kb(pid: int | str = "self") -> int:
    """Resident set size in KB, from /proc/<pid>/status (VmRSS)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def now_iso() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


def machine_info() -> dict:
    """What the figures were measured on, read at run time."""
    info = {
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "kernel": platform.release(), "loadavg_at_start": os.getloadavg(),
    }
    with open("/proc/meminfo", encoding="ascii") as handle:
        total_kb = int(handle.readline().split()[1])
    info["memory_gib"] = round(total_kb / 1024 / 1024, 1)
    try:
        conn = pg_connect()
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            info["postgresql"] = cur.fetchone()[0]
            cur.execute("SELECT postgis_full_version()")
            full = cur.fetchone()[0]
            info["postgis"] = full.split('"')[1] if '"' in full else full
            info["postgis_full"] = full
        conn.close()
    except Exception as exc:  # the summary still prints
        info["postgresql"] = f"unknown ({exc})"
    import django

    info["django"] = django.get_version()
    return info


def result_write(name: str, result: dict) -> None:
    """Merge one benchmark's result into var/bench/results.json (keyed by benchmark name)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    data = json.loads(RESULTS_FILE.read_text()) if RESULTS_FILE.exists() else {}
    data.setdefault("benchmarks", {})[name] = result
    data["updated_at"] = now_iso()
    RESULTS_FILE.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def rmtree_quiet(path: str | Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["undo"]:
        bench_lock()
        django_setup()
        if UNDO_FILE.exists():
            log(f"undone: {writes_undo(json.loads(UNDO_FILE.read_text()))}")
    elif sys.argv[1:] == ["ensure"]:
        print(json.dumps(bench_db_ensure(), indent=2))
    else:
        raise SystemExit("usage: _common.py ensure|undo")
