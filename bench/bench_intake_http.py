"""Benchmark 2: rider intake over HTTP, one ~50 KB JPEG per report, against what PostgreSQL
does with a single-row INSERT and with intake's own statements.

The benchmark starts gunicorn (gunicorn.conf.py's sync workers, civicmap.settings.base) on a free
port against the bench database, with photo renditions left to Celery (the tasks only queue in Redis
db 13: no worker runs), the hourly limit raised to 10^9 and MEDIA_ROOT in a temp directory. A client
of 4 threads posts ``POST /api/v1/reports/`` for a fixed time as 200 bench riders (DRF tokens), each
request with a new client_uuid, a point and category drawn like the demo history and one ~50 KB
JPEG, in a multipart body encoded by hand and sent with http.client. Measured:
reports/s, latency p50/p95/p99 and the CPU the web workers spend per report accepted (their
user + system time over the intake slices, from /proc), with the client's own and PostgreSQL's
beside it (and, for each pgbench run, PostgreSQL's and pgbench's).

Two pgbench limits, each 4 clients in the same run:

- single-row INSERTs into ``bench_report_copy (LIKE issues_report INCLUDING ALL)``: same columns,
  CHECKs and indexes, no foreign keys or triggers, a random point as geography;
- intake's own statements: before the load, this process posts INTAKE_SCRIPTS reports the way
  the client does (Django's test client, the same rotation of places, riders and photos) and
  records every statement each one sends (token, category, grid, lock, replay and rate-limit
  lookups, the duplicate function, the case, event, report, aggregate upserts, dispatch and
  notifications when there are any, the photo, the outbox's note, the answer's reads). Each
  becomes a pgbench script of one transaction, with the values it was sent except a fresh
  client_uuid, times relative to ``now()`` and the ids earlier INSERTs return (``\\gset``);
  pgbench draws one script per transaction.

The figures are intake reports/s ÷ each pgbench rate. A variant gunicorn runs with
``DATABASE_CONN_MAX_AGE=0`` (a new database connection per request, as before commit 621b2fa),
to keep measuring what persistent connections are worth; ``--baseline PATH`` adds the same
server from another checkout (e.g. the previous commit's, made with ``git archive``) to compare
a change in one run. Because the machine is shared, the pgbench runs and the servers take turns
in 3 rounds of 10 s slices in rotating order, so that load from other users falls on all alike.
A GET of the category list (a small JSON view) on each server gives the framework's own ceiling.

Afterwards the bench database is dropped for a fresh copy of its template (whatever the run
wrote goes with it, the copy table too), Redis db 13 is flushed and the temp MEDIA_ROOT deleted.

Run alone: .venv/bin/python bench/bench_intake_http.py [--duration 30] [--clients 4] [--rounds 3]
[--no-variant] [--baseline PATH]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

NAME = "intake_http"
RIDERS = 200
PHOTO_BYTES = 50_000
PHOTO_VARIANTS = 8
SAMPLER_SEED = 20260202


# --- gunicorn -------------------------------------------------------------------------------

def _gunicorn_start(media_root: str, log_path: Path, root: Path = common.ROOT,
                    **extra_env: str) -> tuple[subprocess.Popen, str]:
    env = common.bench_env(
        DJANGO_ALLOWED_HOSTS="127.0.0.1", REPORTS_PER_HOUR_PER_RIDER=str(10**9),
        MEDIA_ROOT=media_root, **extra_env,
    )
    if "DATABASE_CONN_MAX_AGE" not in extra_env:
        env.pop("DATABASE_CONN_MAX_AGE", None)  # the app's own default
    return common.gunicorn_start(env=env, log_path=log_path, root=root)


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
            except (OSError, http.client.HTTPException):  # requests' errors are OSErrors too
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


def _report_form(number: int, riders: list[tuple[int, str]], photos: list[bytes],
                 places: list) -> tuple[str, dict, bytes]:
    """The ``number``-th report the client posts: (token, form fields, photo bytes), each a
    new place, rider and client_uuid."""
    _, token = riders[number % len(riders)]
    lon, lat, code = places[number % len(places)]
    form = {"category": code, "lon": f"{lon:.7f}", "lat": f"{lat:.7f}", "coord_system": "wgs84",
            "accuracy_m": "8", "client_uuid": str(uuid.uuid4()),
            "description": f"benchmark report {number}"}
    return token, form, photos[number % len(photos)]


BOUNDARY = "civicmap-bench-1f7c2a9e"


def _multipart(form: dict[str, str], photo: bytes) -> bytes:
    """The form and one JPEG as ``multipart/form-data`` (RFC 7578) with BOUNDARY: the body a
    phone's browser sends."""
    head = "".join(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                   f"{value}\r\n" for name, value in form.items())
    head += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="photos"; '
             'filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n')
    return b"".join((head.encode(), photo, f"\r\n--{BOUNDARY}--\r\n".encode()))


def _post_raw(base: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST ``body`` over one new connection (gunicorn's sync workers close each one) with
    http.client: the load client's CPU a report is then less than half of requests' (its
    sessions, adapters and multipart encoder), CPU the two cores otherwise take from the
    server under test (docs/BENCHMARKS.md §2)."""
    address = urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _report_requests(sequence: Iterator[int], riders: list[tuple[int, str]],
                     photos: list[bytes], places: list):
    """``sequence`` is shared by every slice (and the captured intakes before them): each
    request a new place and rider."""

    def post(session, base: str) -> int:
        number = next(sequence)
        token, form, photo = _report_form(number, riders, photos, places)
        status, answer = _post_raw(base, "/api/v1/reports/", _multipart(form, photo), {
            "Authorization": f"Token {token}", "Accept-Language": "en",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
        if status not in (200, 201) and number < 5:
            common.log(f"  intake answered {status}: {answer[:300]!r}")
        return status

    return post


def _category_get(session, base: str) -> int:
    return session.get(f"{base}/api/v1/categories/", timeout=30).status_code


# --- pgbench ----------------------------------------------------------------------------------

PGBENCH_SQL = """\
\\set lon {min_lon} + random(0, 1000000) * {span_lon} / 1000000.0
\\set lat {min_lat} + random(0, 1000000) * {span_lat} / 1000000.0
\\set cat random({min_cat}, {max_cat})
\\set rider random(1, 100000)
\\set sub random({min_sub}, {max_sub})
INSERT INTO bench_report_copy (location, sent_lon, sent_lat, sent_coord_system, accuracy_m,
  location_source, location_flagged, category_id, description, client_uuid, content_sha256,
  channel, reporter_id, captured_at, received_at, subdistrict_id, unit_grid_id,
  community_grid_id, case_id, joined_existing_case, contact_email, contact_first_name,
  contact_last_name, contact_phone, device_id, account_id, media_url, attributes)
VALUES (ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :lon, :lat, 'wgs84', 8,
  'device', false, :cat, 'pgbench report', gen_random_uuid(),
  md5(random()::text) || md5(random()::text), 'app', :rider, now(), now(), :sub, NULL, NULL, 1,
  false, '', '', '', '', '', '', '', '{{}}');
"""


def _pgbench_prepare(bounds: tuple[float, float, float, float], tmp: Path) -> Path:
    conn = common.pg_connect()
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_report_copy")
        cur.execute("CREATE TABLE bench_report_copy (LIKE issues_report INCLUDING ALL)")
        cur.execute("SELECT min(id), max(id) FROM issues_category")
        min_cat, max_cat = cur.fetchone()
        cur.execute("SELECT min(id), max(id) FROM civicmap_subdistrict")
        min_sub, max_sub = cur.fetchone()
    conn.close()
    min_lon, min_lat, max_lon, max_lat = bounds
    script = tmp / "insert_report.sql"
    script.write_text(PGBENCH_SQL.format(
        min_lon=min_lon, min_lat=min_lat, span_lon=max_lon - min_lon, span_lat=max_lat - min_lat,
        min_cat=min_cat, max_cat=max_cat, min_sub=min_sub, max_sub=max_sub))
    return script



# --- pgbench: intake's own statements --------------------------------------------------------

INTAKE_SCRIPTS = 100  # captured intakes, one pgbench script each (pgbench takes 128 at most)


class _StatementRecorder:
    """A ``connection.execute_wrapper`` keeping every statement of a request: its SQL, its
    parameters, when it ran, and the id an ``INSERT … RETURNING`` gave back (read from the
    cursor, then rewound for Django: psycopg2's cursors hold their rows on the client)."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, object, datetime, int | None]] = []

    def __call__(self, execute, sql, params, many, context):
        from django.utils import timezone

        result = execute(sql, params, many, context)
        returned = None
        cursor = context["cursor"]
        if not many and sql.lstrip().upper().startswith("INSERT") and " RETURNING " in sql:
            rows = cursor.fetchall()
            cursor.scroll(0, mode="absolute")
            returned = rows[0][0] if len(rows) == 1 else None
        for one in (params if many else [params]):
            self.statements.append((sql, one, timezone.now(), returned))
        return result


def _intake_script(recorder: _StatementRecorder, client_uuid: str) -> str:
    """One intake's statements as a pgbench transaction, bound as they were sent, except what
    must differ on each run: the client_uuid (``gen_random_uuid()``), the times (``now()``
    less what they were before the statement) and the ids a previous INSERT returned (its
    ``\\gset`` variable, e.g. ``:issues_report_id``)."""
    from django.db import connection
    from psycopg2.extensions import AsIs

    chained: dict[int, str] = {}

    def bound(value, at: datetime):
        if isinstance(value, uuid.UUID | str) and str(value) == client_uuid:
            return AsIs("gen_random_uuid()")
        if isinstance(value, datetime):
            return AsIs(f"(now() - interval '{round((at - value).total_seconds() * 1e6)} "
                        "microseconds')")
        if type(value) is int and value in chained:
            return AsIs(f":{chained[value]}")
        if isinstance(value, str):
            # A text naming a returned id (a notification's key, unique per recipient): the
            # same text around each run's own id.
            parts = [part for part in re.split(r"(\d+)", value) if part]
            if any(part.isdigit() and int(part) in chained for part in parts):
                return AsIs("(" + " || ".join(
                    f":{chained[int(part)]}" if part.isdigit() and int(part) in chained
                    else cursor.mogrify("%s", [part]).decode() for part in parts) + ")")
        return value

    lines = ["BEGIN;"]
    with connection.cursor() as cursor:
        for sql, params, at, returned in recorder.statements:
            if isinstance(params, dict):
                params = {name: bound(value, at) for name, value in params.items()}
            elif params is not None:
                params = [bound(value, at) for value in params]
            text = cursor.mogrify(sql, params).decode()
            text = " ".join(line.strip() for line in text.strip().splitlines())
            if returned is not None:
                table = re.match(r'\s*INSERT INTO "(\w+)"', text).group(1)
                if returned in chained:
                    raise ValueError(f"{table} returned id {returned}, like {chained[returned]}")
                chained[returned] = f"{table}_id"
                lines.append(f"{text} \\gset {table}_")
            else:
                lines.append(f"{text};")
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def _intake_scripts_capture(sequence: Iterator[int], riders: list[tuple[int, str]],
                            photos: list[bytes], places: list, tmp: Path) -> tuple[list[Path], int]:
    """Post INTAKE_SCRIPTS reports in this process (Django's test client, the bench's own
    requests) and write each one's statements as a pgbench script; also the statements one
    intake sends. An intake whose returned ids cannot be told from each other is left out."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from django.test import Client

    client = Client(SERVER_NAME="127.0.0.1")
    scripts: list[Path] = []
    counts = []
    while len(scripts) < INTAKE_SCRIPTS:
        token, form, photo = _report_form(next(sequence), riders, photos, places)
        recorder = _StatementRecorder()
        with connection.execute_wrapper(recorder):
            response = client.post(
                "/api/v1/reports/",
                {**form, "photos": SimpleUploadedFile("photo.jpg", photo, "image/jpeg")},
                HTTP_AUTHORIZATION=f"Token {token}", HTTP_ACCEPT_LANGUAGE="en")
        if response.status_code != 201:
            raise RuntimeError(f"intake answered {response.status_code}: {response.content!r}")
        try:
            text = _intake_script(recorder, form["client_uuid"])
        except ValueError as ambiguous:
            common.log(f"  {NAME}: intake left out of the scripts: {ambiguous}")
            continue
        script = tmp / f"intake_{len(scripts):03d}.sql"
        script.write_text(text)
        scripts.append(script)
        counts.append(len(recorder.statements))
    return scripts, round(sum(counts) / len(counts), 1)


def _pgbench(scripts: list[Path], clients: int, duration_s: int) -> dict:
    """pgbench over ``scripts`` (each transaction one of them, drawn at random), with the CPU
    seconds pgbench (this process's reaped children) and PostgreSQL spent meanwhile."""
    files = [argument for script in scripts for argument in ("-f", str(script))]
    command = ["pgbench", "-n", "-c", str(clients), "-j", str(min(clients, 2)),
               "-T", str(duration_s), *files, "-h", common.PG_HOST,
               "-p", str(common.PG_PORT), "-U", common.PG_USER, common.BENCH_DB]
    server_before = common.postgres_children()
    postgres_before, children_before = common.postgres_cpu_s(), _children_cpu_s()
    run = subprocess.run(command, capture_output=True, text=True)
    started = common.postgres_children() - server_before
    if not common.postgres_backends_reaped(pids=started, database=common.BENCH_DB):
        common.log(f"{NAME}: pgbench's backends not reaped within 10 s: its CPU may count "
                   "in the next slice")
    postgres_s = common.postgres_cpu_s() - postgres_before
    pgbench_s = _children_cpu_s() - children_before
    if run.returncode != 0:
        raise RuntimeError(f"pgbench failed ({run.returncode}): {run.stderr[-2000:]}")
    tps = float(re.search(r"tps = ([0-9.]+) \(without initial connection time\)",
                          run.stdout).group(1))
    latency = re.search(r"latency average = ([0-9.]+) ms", run.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", run.stdout)
    done = int(re.search(r"number of transactions actually processed: (\d+)",
                         run.stdout).group(1))
    return {"tps": round(tps, 1), "latency_avg_ms": float(latency.group(1)) if latency else None,
            "failed": int(failed.group(1)) if failed else 0, "transactions": done,
            "postgres_cpu_s": round(postgres_s, 2), "pgbench_cpu_s": round(pgbench_s, 2)}


def _children_cpu_s() -> float:
    """CPU seconds of this process's children it has waited for (pgbench's runs)."""
    times = os.times()
    return times.children_user + times.children_system


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
        variant: bool = True, rounds: int = 3, baseline: Path | None = None) -> dict:
    """pgbench, the app's gunicorn and (``variant``) the connection-per-request gunicorn take
    turns in ``rounds`` slices of ``duration_s / rounds`` seconds each, in a rotating order, so
    that the load other users put on the shared machine falls on all of them alike."""
    tmp = Path(tempfile.mkdtemp(prefix="civicmap-bench-http-"))
    media_root = tmp / "media"
    media_root.mkdir()
    # This process posts the captured intakes (Django's test client) as the servers are set.
    common.django_setup(REPORTS_PER_HOUR_PER_RIDER=str(10**9), MEDIA_ROOT=str(media_root))
    from issues.models import Report

    riders = common.bench_riders_ensure(RIDERS)
    places, bounds = _places(20_000)
    photos = [common.jpeg_photo(target_bytes=PHOTO_BYTES, seed=i) for i in range(PHOTO_VARIANTS)]
    stored = Report.objects.count()
    common.log(f"{NAME}: {stored:,} reports stored; photos {[len(p) for p in photos]} bytes")
    script = _pgbench_prepare(bounds, tmp)
    common.redis_flush()
    sequence = itertools.count()
    intake_scripts, statements = _intake_scripts_capture(sequence, riders, photos, places, tmp)
    common.log(f"{NAME}: {len(intake_scripts)} intakes captured as pgbench scripts, "
               f"{statements} statements each on average")
    servers: dict[str, tuple[subprocess.Popen, str]] = {}
    slice_s = duration_s / rounds
    try:
        servers["app"] = _gunicorn_start(str(media_root), tmp / "gunicorn.log")
        if variant:
            # A new database connection per request (DATABASE_CONN_MAX_AGE=0, Django's default
            # and the app's before 621b2fa): what persistent connections are worth.
            servers["per_request"] = _gunicorn_start(
                str(media_root), tmp / "gunicorn-per-request.log", DATABASE_CONN_MAX_AGE="0")
        if baseline is not None:
            # The same server from another checkout (an older commit): what a change is worth.
            servers["baseline"] = _gunicorn_start(str(media_root), tmp / "gunicorn-baseline.log",
                                                  root=baseline)
        common.log(f"{NAME}: gunicorn {', '.join(f'{k} at {v[1]}' for k, v in servers.items())}")
        post = _report_requests(sequence, riders, photos, places)
        gets: dict[str, list] = {name: [] for name in servers}
        posts: dict[str, list] = {name: [] for name in servers}
        cpu_s: dict[str, float] = dict.fromkeys(servers, 0.0)
        client_cpu_s: dict[str, float] = dict.fromkeys(servers, 0.0)
        postgres_cpu_s: dict[str, float] = dict.fromkeys(servers, 0.0)
        pgbench: dict[str, list[dict]] = {"insert": [], "intake": []}
        pgbench_scripts = {"insert": [script], "intake": intake_scripts}
        for _, base in servers.values():  # warm-up: not counted
            _load(base, warmup_s, clients, _category_get)
            _load(base, warmup_s, clients, post)
        for _ in range(2):
            for name, (_, base) in servers.items():
                gets[name].append(_load(base, baseline_s / 2, clients, _category_get))
        queued_before = common.redis_queue_length()
        turns = ["pgbench insert", "pgbench intake", *servers]
        for number in range(rounds):
            order = turns[number % len(turns):] + turns[:number % len(turns)]
            for turn in order:
                if turn.startswith("pgbench"):
                    kind = turn.split()[1]
                    pgbench[kind].append(_pgbench(pgbench_scripts[kind], clients,
                                                  round(slice_s)))
                else:
                    before = common.gunicorn_workers_cpu_s(servers[turn][0])
                    client_before = time.process_time()
                    postgres_before = common.postgres_cpu_s()
                    posts[turn].append(_load(servers[turn][1], slice_s, clients, post))
                    cpu_s[turn] += common.gunicorn_workers_cpu_s(servers[turn][0]) - before
                    client_cpu_s[turn] += time.process_time() - client_before
                    postgres_cpu_s[turn] += common.postgres_cpu_s() - postgres_before
            common.log(f"{NAME}: round {number + 1}/{rounds} ({', '.join(order)}): pgbench "
                       f"INSERT {pgbench['insert'][-1]['tps']} tps, intake's statements "
                       f"{pgbench['intake'][-1]['tps']} tps; intake " + ", ".join(
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
    pg_tps = sum(run["tps"] for run in pgbench["insert"]) / len(pgbench["insert"])
    script_tps = sum(run["tps"] for run in pgbench["intake"]) / len(pgbench["intake"])
    ratio = intake["ok_per_s"] / pg_tps
    script_ratio = intake["ok_per_s"] / script_tps
    result = {
        "measured_at": common.now_iso(), "reports_stored": stored, "clients": clients,
        "duration_s": duration_s, "rounds": rounds, "warmup_s": warmup_s, "riders": RIDERS,
        "photo_bytes": [len(p) for p in photos], "gunicorn_workers": common.web_workers(),
        "intake": intake, "photo_tasks_queued": queued, "reports_written_total": written,
        "web_cpu_ms_per_intake": _cpu_ms_per_intake(cpu_s["app"], posts["app"]),
        "client_cpu_ms_per_intake": _cpu_ms_per_intake(client_cpu_s["app"], posts["app"]),
        "postgres_cpu_ms_per_intake": _cpu_ms_per_intake(postgres_cpu_s["app"], posts["app"]),
        "get_categories_baseline": _summary(gets["app"]),
        "pgbench_slices": pgbench["insert"], "pgbench_tps": round(pg_tps, 1),
        "pgbench_copy_rows": copy_rows,
        "ratio_intake_to_pgbench": round(ratio, 4),
        "pgbench_intake_scripts": len(intake_scripts),
        "pgbench_intake_statements": statements,
        "pgbench_intake_slices": pgbench["intake"],
        "pgbench_intake_tps": round(script_tps, 1),
        "pgbench_intake_cpu_ms_per_transaction": _pgbench_cpu_ms(pgbench["intake"]),
        "ratio_intake_to_intake_script": round(script_ratio, 4),
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
    if baseline is not None:
        older = _summary(posts["baseline"])
        result["baseline_checkout"] = {
            "root": str(baseline), "intake": older,
            "get_categories_baseline": _summary(gets["baseline"]),
            "web_cpu_ms_per_intake": _cpu_ms_per_intake(cpu_s["baseline"], posts["baseline"]),
            "ratio_intake_to_pgbench": round(older["ok_per_s"] / pg_tps, 4),
            "ratio_intake_to_intake_script": round(older["ok_per_s"] / script_tps, 4),
        }
        common.log(f"{NAME}: baseline checkout {older['ok_per_s']} reports/s, "
                   f"{result['baseline_checkout']['web_cpu_ms_per_intake']} ms CPU per intake")
    common.result_write(NAME, result)
    common.log(f"{NAME}: intake {intake['ok_per_s']} reports/s, "
               f"{result['web_cpu_ms_per_intake']} ms CPU per intake, client "
               f"{result['client_cpu_ms_per_intake']} ms, PostgreSQL "
               f"{result['postgres_cpu_ms_per_intake']} ms (p50 "
               f"{intake['latency_ms'].get('p50')} ms, p95 {intake['latency_ms'].get('p95')} ms); "
               f"pgbench INSERT {pg_tps:.0f} tps, ratio {ratio:.2%}; pgbench intake's "
               f"statements {script_tps:.0f} tps, ratio {script_ratio:.1%} (CPU a transaction: "
               f"{result['pgbench_intake_cpu_ms_per_transaction']})"
               + (f"; with a connection per request {per_request['ok_per_s']} reports/s (app x"
                  f"{result['variant_connection_per_request']['app_speedup_over_variant']})"
                  if variant else ""))
    return result


def _pgbench_cpu_ms(runs: list[dict]) -> dict[str, float]:
    """PostgreSQL's and pgbench's CPU (ms) per transaction over pgbench's slices."""
    done = sum(run["transactions"] for run in runs)
    return {who: round(sum(run[f"{who}_cpu_s"] for run in runs) * 1000 / done, 2)
            for who in ("postgres", "pgbench")}


def _cpu_ms_per_intake(cpu_s: float, loads: list[dict]) -> float:
    """The web workers' CPU (ms) per report accepted, over the server's intake slices."""
    accepted = sum(200 <= status < 300 for load in loads for _, status in load["results"])
    return round(cpu_s * 1000 / accepted, 2) if accepted else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-variant", action="store_true",
                        help="skip the second server, with a database connection per request")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout (e.g. the previous commit's) whose gunicorn takes "
                             "turns with the app's, to compare CPU per intake in one run")
    args = parser.parse_args()
    with common.bench_db_writes():
        run(duration_s=args.duration, clients=args.clients, variant=not args.no_variant,
            rounds=args.rounds, baseline=args.baseline)


if __name__ == "__main__":
    main()
