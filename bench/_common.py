"""Shared helpers of the benchmarks: the bench database, Django set-up, Redis db 13, results.

Every benchmark runs against its own working database ``civicmap_bench`` (never ``civicmap`` or a
``test_*`` database) and its own Redis database 13 for the Celery broker. The working database
is a copy of the template ``civicmap_bench_seed``, which is created, migrated and seeded with
1,000,000 reports once and kept; a benchmark starts from a fresh copy of it (made again only when
the current one has been written to), and one that writes drops its copy for a fresh one when
it ends, so no benchmark ever undoes its own writes (docs/DECISIONS.md D-049).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python")
RESULTS_DIR = ROOT / "var" / "bench"
RESULTS_FILE = RESULTS_DIR / "results.json"

# CIVICMAP_BENCH_DB names another working database; its template is always ``<name>_seed``.
# The benchmarks create, drop and copy only databases whose name starts with "civicmap_bench".
# With BENCH_DB_ENSURED=1 the template is neither built nor checked (run_all.py did it for its
# children): when it exists the working copy is still made fresh from it, and when it does not
# the database is used as it is, e.g. a development copy (``CREATE DATABASE civicmap_mapdev
# TEMPLATE civicmap``) for a benchmark that only reads.
BENCH_DB = os.environ.get("CIVICMAP_BENCH_DB", "civicmap_bench")
TEMPLATE_DB = f"{BENCH_DB}_seed"
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "root"
BENCH_DB_URL = f"postgis://{PG_USER}@{PG_HOST}:{PG_PORT}/{BENCH_DB}"
PG_DSN = f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={BENCH_DB}"
BENCH_REDIS_URL = "redis://127.0.0.1:6379/13"  # Celery broker of the benchmarks, flushed
# The figures are about 1,000,000 reports; a smaller seed (CIVICMAP_BENCH_REPORTS) is for trying
# the benchmarks out, on a database name of one's own.
SEED_REPORTS = int(os.environ.get("CIVICMAP_BENCH_REPORTS", "1000000"))
SEED_ARGS = ["--reports", str(SEED_REPORTS), "--no-progress", "--seed", "1"]
# CIVICMAP_BENCH_SUBDISTRICTS (seed_demo --subdistricts with counts, e.g.
# "110106005=1000000,110106016=1642000") seeds those reports instead (bench/bench_district.py).
SEED_SPREAD = os.environ.get("CIVICMAP_BENCH_SUBDISTRICTS", "")
if SEED_SPREAD:
    SEED_REPORTS = sum(int(part.split("=")[1]) for part in SEED_SPREAD.split(","))
    SEED_ARGS = ["--subdistricts", SEED_SPREAD, "--no-progress", "--seed", "1"]
SEED_COMMAND = "seed_demo " + " ".join(SEED_ARGS)
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


STATIC_ROOT = ROOT / "var" / "staticfiles"  # the settings' default


def static_ensure() -> None:
    """The pages' static files collected (``manage.py collectstatic`` into the default
    STATIC_ROOT, as a deployment does) for the benchmarks that serve pages under gunicorn:
    CompressedManifestStaticFilesStorage answers 500 without its manifest. Collected again
    when a static source is newer than the manifest, so that a benchmark measures the scripts
    as they are (minutes on a loaded machine: it compresses every file)."""
    manifest = STATIC_ROOT / "staticfiles.json"
    if manifest.exists():
        collected = manifest.stat().st_mtime
        if all(path.stat().st_mtime <= collected for path in ROOT.glob("*/static/**/*")
               if path.is_file()):
            return
    log(f"collectstatic into {STATIC_ROOT}")
    subprocess.run([PYTHON, "manage.py", "collectstatic", "--no-input", "-v", "0"],
                   cwd=ROOT, check=True, env=bench_env(STATIC_ROOT=str(STATIC_ROOT)))


# --- one benchmark at a time -------------------------------------------------------------------

# A session advisory lock, taken in the always-present postgres db; one per bench database.
_LOCK_KEY = "civicmap-bench" if BENCH_DB == "civicmap_bench" else f"civicmap-bench:{BENCH_DB}"
_lock_conn = None


def bench_lock(timeout_s: float = 1800) -> None:
    """Hold the bench database for the life of this process: one benchmark at a time.

    Benchmarks write to ``civicmap_bench`` and drop it for a fresh copy of the template; a
    second run that started meanwhile would see the first one's rows, or lose its database
    under it, and must wait. The lock is a PostgreSQL session advisory lock, released when this
    process exits, however it exits. Children of a process that holds it are started with
    BENCH_LOCK_HELD=1.
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
#
# The template keeps its seed record (JSON) as its database comment: what seed_demo ran, how long
# it took, the migrations it was migrated to and a version that changes with each build or
# migration. The record is written last, so a template without one (a build that died) is built
# again. The working copy's comment names the template version it was copied from.

def _db_create_allowed(name: str) -> None:
    """Benchmarks create and drop databases: only ones named for them, never ``civicmap``."""
    if not name.startswith("civicmap_bench"):
        raise SystemExit(f"refusing to create or drop {name!r}: a bench database's name starts "
                         "with civicmap_bench (use BENCH_DB_ENSURED=1 to read another as it is)")


def _comment(cur, dbname: str) -> dict | None:
    """The JSON comment of a database: None when there is no such database, {} without one."""
    cur.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                "WHERE datname = %s", [dbname])
    row = cur.fetchone()
    if row is None:
        return None
    try:
        return json.loads(row[0] or "{}")
    except ValueError:
        return {}


def _comment_set(cur, dbname: str, record: dict) -> None:
    cur.execute(f'COMMENT ON DATABASE "{dbname}" IS %s', [json.dumps(record, sort_keys=True)])


_MIGRATIONS_LIST = (
    "import django; django.setup(); from django.db.migrations.loader import MigrationLoader; "
    "print('\\n'.join(sorted(f'{app}.{name}' for app, name in "
    "MigrationLoader(None, ignore_no_migrations=True).disk_migrations)))")


def _migrations_digest() -> str:
    """A digest of the names of every migration on disk (the project's and the installed
    packages', as Django's loader finds them, without a database): a template whose record
    holds another digest has migrations to apply."""
    run = subprocess.run([PYTHON, "-c", _MIGRATIONS_LIST], cwd=ROOT, env=bench_env(),
                         capture_output=True, text=True, check=True)
    return hashlib.sha256(run.stdout.encode()).hexdigest()[:16]


def _manage(dbname: str, *args: str) -> float:
    """Run a manage.py command against ``dbname``; returns its wall time in seconds."""
    started = time.perf_counter()
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, check=True,
                   env=bench_env(DATABASE_URL=f"postgis://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}"))
    return time.perf_counter() - started


def _template_vacuum() -> tuple[int, int]:
    """VACUUM, REINDEX and ANALYZE the template (fresh statistics, visibility map and
    indexes for the planner; every copy inherits them); returns its reports and cases.

    The REINDEX is the operator's step after a bulk load. The seed writes 90 days of every
    case's lifecycle as updates after its COPY, which leaves the indexes on the cases and
    tasks up to 10 times their size (``case_console_open``: 4,286 pages for 34,000 entries,
    431 rebuilt) and marked ``indcheckxmin``: PostgreSQL then ignores them in every query
    whose snapshot is older than the seed (another template seeding beside it), and the
    benchmark measures sequential scans.
    """
    conn = pg_connect(TEMPLATE_DB)
    with conn.cursor() as cur:
        cur.execute("VACUUM")
        cur.execute(f'REINDEX DATABASE "{TEMPLATE_DB}"')
        cur.execute("ANALYZE")
        cur.execute("SELECT count(*) FROM issues_report")
        reports = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM issues_case")
        cases = cur.fetchone()[0]
    conn.close()
    return reports, cases


def _template_close(cur, record: dict) -> None:
    """Write the template's record and close it to connections: CREATE DATABASE … TEMPLATE
    fails while anyone is connected to the template."""
    _comment_set(cur, TEMPLATE_DB, record)
    cur.execute(f'ALTER DATABASE "{TEMPLATE_DB}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false')


def _template_drop(cur) -> None:
    if _comment(cur, TEMPLATE_DB) is not None:
        log(f"dropping the template {TEMPLATE_DB}")
        cur.execute(f'ALTER DATABASE "{TEMPLATE_DB}" WITH IS_TEMPLATE false')
        cur.execute(f'DROP DATABASE "{TEMPLATE_DB}" WITH (FORCE)')


def _template_build(cur, digest: str) -> dict:
    """Create, migrate and seed the template (SEED_ARGS), then VACUUM ANALYZE and close it."""
    log(f"creating the template {TEMPLATE_DB}")
    cur.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
    conn = pg_connect(TEMPLATE_DB)
    with conn.cursor() as template:
        template.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    conn.close()
    log(f"migrating {TEMPLATE_DB}")
    migrate_s = _manage(TEMPLATE_DB, "migrate", "--no-input", "-v", "0")
    log(f"seeding {TEMPLATE_DB} with {SEED_REPORTS:,} reports ({SEED_COMMAND})")
    seed_s = _manage(TEMPLATE_DB, "seed_demo", *SEED_ARGS)
    reports, cases = _template_vacuum()
    if reports != SEED_REPORTS:
        raise SystemExit(f"seed_demo left {reports:,} reports in {TEMPLATE_DB}, not "
                         f"{SEED_REPORTS:,}")
    record = {
        "seeded_at": now_iso(), "reports": reports, "cases": cases,
        "command": SEED_COMMAND,
        "migrate_s": round(migrate_s, 1), "seed_s": round(seed_s, 1),
        "seed_reports_per_s": round(reports / seed_s), "migrations": digest,
        "version": now_iso(),
    }
    _template_close(cur, record)
    log(f"seeded {reports:,} reports in {seed_s:.0f} s ({reports / seed_s:,.0f} reports/s)")
    return record


def _template_migrate(cur, record: dict, digest: str) -> dict:
    """Apply new migrations to the template in place rather than seeding it again for minutes
    (its data are then what the old code seeded and the migrations changed, as in a deployment)."""
    log(f"{TEMPLATE_DB}: migrations were added since it was seeded: migrating it")
    cur.execute(f'ALTER DATABASE "{TEMPLATE_DB}" WITH ALLOW_CONNECTIONS true')
    try:
        _manage(TEMPLATE_DB, "migrate", "--no-input", "-v", "0")
        _template_vacuum()
        record = {**record, "migrations": digest, "migrated_at": now_iso(),
                  "version": now_iso()}
    finally:  # the old record after a failed migration: the next run tries again
        _template_close(cur, record)
    return record


def _template_ensure() -> dict:
    """The template, built unless complete (its record names SEED_ARGS and SEED_REPORTS
    reports) and migrated when new migrations exist; returns its record."""
    _db_create_allowed(BENCH_DB)  # and so its template, whose name starts with it
    digest = _migrations_digest()
    admin = pg_connect("postgres")
    with admin.cursor() as cur:
        record = _comment(cur, TEMPLATE_DB)
        if record is not None and (record.get("reports") != SEED_REPORTS
                                   or record.get("command") != SEED_COMMAND):
            log(f"{TEMPLATE_DB} is incomplete or was seeded otherwise: building it again")
            _template_drop(cur)
            record = None
        if record is None:
            record = {**_template_build(cur, digest), "reused": False}
        elif record.get("migrations") != digest:
            record = {**_template_migrate(cur, record, digest), "reused": True}
        else:
            log(f"{TEMPLATE_DB} holds {record['reports']:,} reports, migrated: reusing it")
            record = {**record, "reused": True}
    admin.close()
    return record


def bench_seed_record() -> dict:
    """The template's seed record ({} when there is no template)."""
    admin = pg_connect("postgres")
    with admin.cursor() as cur:
        record = _comment(cur, TEMPLATE_DB)
    admin.close()
    return record or {}


def _copy_marker(record: dict) -> dict:
    return {"copy_of": TEMPLATE_DB, "version": record.get("version")}


def _copy_is_fresh(cur, record: dict) -> bool:
    """Whether the working database is a copy of the template's current version that nobody
    has written to: PostgreSQL's statistics count no row inserted, updated or deleted in it
    since it was created (a rolled-back write counts too: it leaves dead rows behind)."""
    if _comment(cur, BENCH_DB) != _copy_marker(record):
        return False
    cur.execute("SELECT tup_inserted + tup_updated + tup_deleted FROM pg_stat_database "
                "WHERE datname = %s", [BENCH_DB])
    return cur.fetchone()[0] == 0


def bench_db_restore() -> float:
    """Drop the working database and copy the template again; returns the seconds it took.

    ``DROP DATABASE … WITH (FORCE)`` terminates the connections left to it first (as
    ``pg_terminate_backend`` would). ``STRATEGY FILE_COPY`` copies the files after a checkpoint;
    PostgreSQL 15's default WAL_LOG writes the whole database through the WAL, several times
    slower for a large one (docs/BENCHMARKS.md)."""
    _db_create_allowed(BENCH_DB)
    record = bench_seed_record()
    if not record:
        raise SystemExit(f"no template {TEMPLATE_DB} to copy {BENCH_DB} from")
    admin = pg_connect("postgres")
    started = time.perf_counter()
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{BENCH_DB}" TEMPLATE "{TEMPLATE_DB}" STRATEGY FILE_COPY')
        _comment_set(cur, BENCH_DB, _copy_marker(record))
    admin.close()
    seconds = time.perf_counter() - started
    log(f"{BENCH_DB}: a fresh copy of {TEMPLATE_DB} in {seconds:.1f} s")
    return seconds


def bench_db_ensure(*, writes: bool = False) -> dict:
    """Hold the bench lock, make sure the template is complete and current, and give this
    benchmark a working database fresh from it. Returns the template's seed record (how long
    the seed took, when it ran).

    With BENCH_DB_ENSURED=1 the template is not checked (run_all.py did it); without a
    template the database is used as it is, which a benchmark that ``writes`` refuses."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    bench_lock()
    if os.environ.get("BENCH_DB_ENSURED") == "1":
        record = bench_seed_record()
        if not record:
            if writes:
                raise SystemExit(f"this benchmark writes, and {BENCH_DB} has no template "
                                 f"{TEMPLATE_DB} to be made fresh from: run it without "
                                 "BENCH_DB_ENSURED=1")
            log(f"{BENCH_DB} is used as it is (no template {TEMPLATE_DB})")
            return {}
    else:
        record = _template_ensure()
    admin = pg_connect("postgres")
    with admin.cursor() as cur:
        fresh = _copy_is_fresh(cur, record)
    admin.close()
    if fresh:
        log(f"{BENCH_DB} is a fresh copy of {TEMPLATE_DB}, not written to since: keeping it")
    else:
        bench_db_restore()
    return record


def _django_disconnect() -> None:
    """Close this process's Django connections, if it set Django up, before its database goes."""
    if "django.db" in sys.modules:
        from django.apps import apps
        from django.db import connections

        if apps.ready:
            connections.close_all()


@contextmanager
def bench_db_writes() -> Iterator[dict]:
    """For a benchmark that writes: a fresh working database, and another fresh copy when the
    block ends, however it ends, so that whoever comes next finds the seeded data. Yields the
    seed record."""
    record = bench_db_ensure(writes=True)
    try:
        yield record
    finally:
        _django_disconnect()
        bench_db_restore()

def bench_riders_ensure(count: int) -> list[tuple[int, str]]:
    """``count`` bench riders with DRF tokens (created in each fresh copy of the template, which
    holds none); returns (user id, token)."""
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


def history_places(*, count: int, seed: int, subdistrict: str | None = None
                   ) -> tuple[list[tuple[float, float, int]], tuple[float, float, float, float]]:
    """``count`` (lon, lat, category id) drawn like the demo history (fixtures/history.py's
    sampler: hotspots and their categories, plus a uniform background) with a seed of the
    benchmark's own: new points, the same distribution; in one subdistrict (its code) or in
    all of them. Also the sampled area's bounds."""
    from django.utils import timezone

    from fixtures.history import HistoryPlan, _Sampler

    spread = ((subdistrict, count),) if subdistrict else ()
    sampler = _Sampler(HistoryPlan(seed=seed, now=timezone.now(), reports=count, days=1,
                                   spread=spread), rider_ids=[])
    places = []
    for _ in range(count):
        lon, lat, spot = sampler.place()
        places.append((lon, lat, sampler.category(spot)))
    return places, sampler.area.bounds


def web_workers() -> int:
    """How many workers ``gunicorn_start`` runs: what gunicorn.conf.py sets in this process's
    environment, which the servers inherit (``bench_env``)."""
    import runpy

    return int(runpy.run_path(str(ROOT / "gunicorn.conf.py"))["workers"])


def gunicorn_start(*, env: dict[str, str], log_path: Path,
                   extra_args: tuple[str, ...] = (), root: Path = ROOT
                   ) -> tuple[subprocess.Popen, str]:
    """The app under gunicorn (this checkout's gunicorn.conf.py: one worker more than the
    cores, or WEB_WORKERS) on a free local port, as a deployment runs it; returns
    the process and its base URL once ``/api/v1/categories/`` answers (within 60 s). ``root``
    is the checkout whose code it runs (another one: to compare with an older commit)."""
    import requests

    port = free_port()
    log_file = open(log_path, "w")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "civicmap.wsgi:application",
         "--config", str(ROOT / "gunicorn.conf.py"), "-b", f"127.0.0.1:{port}",
         "--error-logfile", "-", *extra_args],
        cwd=root, env={**env, "PYTHONPATH": str(root)}, stdout=log_file,
        stderr=subprocess.STDOUT,
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


def gunicorn_workers_cpu_s(process: subprocess.Popen) -> float:
    """CPU seconds (user + system) its workers have used so far: the children of the gunicorn
    arbiter, read from /proc (Linux)."""
    children = _proc_children(process.pid)
    return sum(_proc_cpu_ticks(pid) for pid in children) / os.sysconf("SC_CLK_TCK")


def _proc_children(pid: int | str) -> list[str]:
    """The pids of a process's children (Linux, /proc)."""
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


def _proc_stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the ")" that ends the command name (the state is
    the first, utime the 12th); None when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _proc_cpu_ticks(pid: int | str, *, children: bool = False) -> int:
    """utime + stime of a process (fields 14, 15 of /proc/<pid>/stat), with ``children`` also
    cutime + cstime: the CPU of the children it has reaped. 0 when the process is gone."""
    fields = _proc_stat(pid)
    return 0 if fields is None else sum(int(value) for value in fields[11:15 if children else 13])


@functools.cache
def _postmaster_pid() -> str:
    """The benchmarks' server's postmaster, read once: a connection made for each reading
    would start (and end) a backend whose CPU the reading counts."""
    conn = pg_connect("postgres")
    with conn.cursor() as cur:
        cur.execute("SHOW data_directory")
        data_directory = cur.fetchone()[0]
    conn.close()
    return Path(data_directory, "postmaster.pid").read_text().split()[0]


def postgres_children() -> set[str]:
    """The pids of the benchmarks' PostgreSQL server's processes (its postmaster's children)."""
    return set(_proc_children(_postmaster_pid()))


def postgres_backends_reaped(*, pids: set[str], database: str, timeout_s: float = 10.0
                             ) -> bool:
    """Wait until those of ``pids`` (``postgres_children()``) that are backends of ``database``
    (a pgbench run's, just ended) have ended and been reaped: their CPU then counts in the
    reading taken at the end of the slice that ran them, not in the next slice's. A backend's
    process ends a moment after its client disconnects, and the postmaster reaps it later
    still. The server's own processes (an autovacuum worker) and other databases' backends are
    not waited for. False if some are left after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = [pid for pid in pids & postgres_children() if _backend_or_exited(pid, database)]
        if not left or time.monotonic() > deadline:
            return not left
        time.sleep(0.01)


def _backend_or_exited(pid: str, database: str) -> bool:
    """A backend of ``database`` (its title names it: ``postgres: 15/main: root <database>
    127.0.0.1(40312) idle``) or a process that is exiting and awaits its reaping: its title
    is gone as soon as its memory is released, a moment before its state turns Z (zombie),
    and every child of the postmaster has a title while it lives."""
    fields = _proc_stat(pid)
    try:
        title = Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return False  # reaped meanwhile
    return fields is not None and (fields[0] in "ZX" or not title.strip()
                                   or f" {database} " in title)


def postgres_cpu_s() -> float:
    """CPU seconds the benchmarks' PostgreSQL server has used so far: its postmaster with the
    backends it has reaped (pgbench's, which end with each run) and its live children (the
    app's persistent backends, the WAL writer, checkpointer, autovacuum). Read from /proc
    through the postmaster's pid in ``postmaster.pid`` (Linux, the benchmark as root or as the
    server's user); a streaming replica's processes are not its children."""
    ticks = _proc_cpu_ticks(_postmaster_pid(), children=True)
    ticks += sum(_proc_cpu_ticks(child) for child in postgres_children())
    return ticks / os.sysconf("SC_CLK_TCK")


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
    if sys.argv[1:] == ["ensure"]:
        print(json.dumps(bench_db_ensure(), indent=2))
    elif sys.argv[1:] == ["rebuild"]:  # after a change to seed_demo: seed the template again
        bench_lock()
        _db_create_allowed(TEMPLATE_DB)
        connection = pg_connect("postgres")
        with connection.cursor() as cursor:
            _template_drop(cursor)
        connection.close()
        print(json.dumps(bench_db_ensure(), indent=2))
    else:
        raise SystemExit("usage: _common.py ensure|rebuild")
