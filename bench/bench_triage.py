"""Benchmark 4: the office's triage queue and the task lists, with over 100,000 open cases.

Database ``civicmap_bench_lifecycle`` (its own: the lifecycle history changes every case) is
created, migrated and seeded once with ``seed_demo`` (reports, then the lifecycle bulk path
``fixtures.case_histories``), over a short history so that recent, open cases dominate; the
seed time is measured and kept in var/bench/triage_seed.json. Later runs reuse the database while
its seed record matches.

Each scenario sends ``--requests`` GETs (after ``--warmup`` unmeasured ones) through Django's
test client in this process (the full middleware, DRF authentication by token, permissions,
selector, serialisation; no network), with base settings and DEBUG off. Server time per request:
p50/p95/p99, the share of it spent in SQL, and the number of queries. Target: p95 < 100 ms.

* the triage queue ``GET /api/v1/office/queue/`` as office staff: default (stage new, newest
  first, 100 cases), ``?community=`` (each community in turn), ``?category=`` (each category in
  turn), ``?overdue=true`` alone and with ``stage=dispatched&stage=in_progress&stage=handed_in``;
* ``GET /api/v1/tasks/`` as the leader of the busiest team and as one of its volunteers, by
  deadline and by distance (``?lon=&lat=``, hotspot points in turn); a department liaison's list
  as well, for comparison.
* the office console's list ``GET /office/cases/?facets=0`` (issue 17) as office staff (a
  session, as the page asks): a page of 50 with the total, unfiltered and for each search (case
  number, 2 Chinese characters that every description has, 2 that few have, 4 characters, a
  community's name, a unit grid ID), each filter (every value in turn) and each sort;
  ``console_district_*`` as the district's office for comparison; ``console_counts_*`` the
  counts beside the filters (``?facets=only``, which the page asks for after the list), never
  from their cache (CONSOLE_FACETS_CACHE_S = 0): what the first look at new filters costs.

The slowest query of each scenario is EXPLAIN ANALYZEd to var/bench/triage_explain_<name>.txt.
Run alone: .venv/bin/python bench/bench_triage.py [--requests 200] [--reseed] [--only NAME …]
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

NAME = "triage"
DB = "civicmap_bench_lifecycle"
DB_URL = f"postgis://{common.PG_USER}@{common.PG_HOST}:{common.PG_PORT}/{DB}"
SEED_FILE = common.RESULTS_DIR / "triage_seed.json"
# The reports: the same history as the other benchmarks' database (1,000,000 reports over 90
# days, seed 1: about 262,000 cases). The lifecycle: BACKLOG_PROFILE of
# fixtures.case_histories (an overwhelmed office), which leaves over 100,000 of them open;
# the demo profile closes most cases within about 10 days.
SEED_ARGS = ["--reports", "1000000", "--days", "90", "--seed", "1", "--no-progress",
             "--no-lifecycle"]
LIFECYCLE_PROFILE = "backlog"
MIN_OPEN_CASES = 100_000
TARGET_P95_MS = 100.0
OFFICE_USER = "office1"
VOLUNTEER_OF = {"hk_lead": "hk_vol1", "cw_lead": "cw_vol1", "ce_lead": "ce_vol1",
                "ss_lead": "ss_vol1"}


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DATABASE_URL=DB_URL, CELERY_BROKER_URL=common.BENCH_REDIS_URL,
               DJANGO_SETTINGS_MODULE="civicmap.settings.base", DJANGO_DEBUG="0",
               PYTHONPATH=str(common.ROOT), LOG_LEVEL="WARNING")
    env.update(extra)
    return env


def _counts() -> dict:
    conn = common.pg_connect(DB)
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('issues_case') IS NOT NULL")
        if not cur.fetchone()[0]:
            conn.close()
            return {}
        cur.execute("SELECT stage, count(*) FROM issues_case GROUP BY stage ORDER BY stage")
        stages = dict(cur.fetchall())
        cur.execute("SELECT count(*) FROM issues_report")
        reports = cur.fetchone()[0]
        cur.execute("""SELECT count(*) FILTER (WHERE status IN ('offered', 'accepted',
                              'in_progress', 'handed_in', 'sent_back')),
                              count(*) FILTER (WHERE status = 'offered' AND response_due < now()),
                              count(*) FILTER (WHERE status IN ('offered', 'accepted',
                              'in_progress', 'sent_back') AND resolution_due < now()),
                              count(*)
                       FROM patrol_task""")
        live, late_response, late_resolution, tasks = cur.fetchone()
        cur.execute("SELECT count(*) FROM issues_caseevent")
        events = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM patrol_rating")
        ratings = cur.fetchone()[0]
    conn.close()
    open_stages = ("new", "filed", "dispatched", "in_progress", "handed_in")
    return {"reports": reports, "cases": sum(stages.values()), "stages": stages,
            "open_cases": sum(n for s, n in stages.items() if s in open_stages),
            "tasks": tasks, "live_tasks": live, "overdue_response_now": late_response,
            "overdue_resolution_now": late_resolution, "events": events, "ratings": ratings}


def _record() -> dict:
    return json.loads(SEED_FILE.read_text()) if SEED_FILE.exists() else {}


def _record_write(record: dict) -> None:
    SEED_FILE.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")


def db_ensure(*, reseed: bool, relife: bool) -> dict:
    """Create, migrate and seed the lifecycle bench database, in two phases that each run once:
    the reports (seed_demo --no-lifecycle, the long part), then the lifecycle bulk path."""
    common.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    copied = _database_create()
    conn = common.pg_connect(DB)
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    conn.close()
    subprocess.run([common.PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"],
                   cwd=common.ROOT, env=_env(), check=True)
    record, counts = _record(), _counts()
    if copied:
        record = copied
        _lifecycle_reset()
    elif reseed or record.get("args") != SEED_ARGS or counts.get("reports") != record.get(
            "reports"):
        record = _reports_seed()
    elif relife or record.get("profile") != LIFECYCLE_PROFILE or not counts.get("tasks"):
        _lifecycle_reset()
    else:
        common.log(f"{DB} already seeded ({counts['open_cases']:,} open cases): reusing it")
        return {**record, "reused": True}
    record = _lifecycle_seed(record)
    if record["open_cases"] < MIN_OPEN_CASES:
        raise SystemExit(f"only {record['open_cases']:,} open cases (< {MIN_OPEN_CASES:,})")
    return record


def _database_create() -> dict | None:
    """Create the database unless it exists. When the other benchmarks' template holds the same
    reports (1,000,000, seed 1, 90 days), copy it (CREATE DATABASE … TEMPLATE: a file copy, about
    a minute, instead of seeding again) and return the seed record for the copy."""
    admin = common.pg_connect("postgres")
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB])
            if cur.fetchone() is not None:
                return None
            source = common.bench_seed_record()
            # Ours add only --days 90 (seed_demo's default) and --no-lifecycle to theirs.
            if (source and source.get("reports") == common.SEED_REPORTS
                    and set(common.SEED_ARGS) <= set(SEED_ARGS)):
                common.log(f"creating database {DB} as a copy of {common.TEMPLATE_DB}")
                started = time.perf_counter()
                cur.execute(f'CREATE DATABASE "{DB}" TEMPLATE "{common.TEMPLATE_DB}" '
                            "STRATEGY FILE_COPY")
                return _copied_record(source, time.perf_counter() - started)
            common.log(f"creating database {DB}")
            cur.execute(f'CREATE DATABASE "{DB}"')
            return None
    finally:
        admin.close()


def _copied_record(source: dict, copy_s: float) -> dict:
    """The seed record of a copy: its reports' --now is the end of their history (the source's
    seed_demo ran without --now), taken as the minute after the last report."""
    conn = common.pg_connect(DB)
    with conn.cursor() as cur:
        cur.execute("SELECT date_trunc('minute', max(received_at)) + interval '1 minute' "
                    "FROM issues_report")
        now = cur.fetchone()[0].isoformat()
    conn.close()
    record = {"seeded_at": now, "args": SEED_ARGS, "copied_from": common.TEMPLATE_DB,
              "reports_command": source.get("command"), "reports_s": source.get("seed_s"),
              "copy_s": round(copy_s, 1), "reports": source["reports"]}
    _record_write(record)
    return record


def _reports_seed() -> dict:
    now = common.now_iso()  # the history's --now, used again by the lifecycle
    args = [*SEED_ARGS, "--now", now]
    common.log(f"seeding {DB}: seed_demo {' '.join(args)}")
    started = time.perf_counter()
    run = subprocess.run([common.PYTHON, "manage.py", "seed_demo", *args],
                         cwd=common.ROOT, env=_env(), check=True, capture_output=True,
                         text=True)
    reports_s = time.perf_counter() - started
    common.log(run.stdout.strip().replace("\n", " | "))
    counts = _counts()
    record = {"seeded_at": now, "args": SEED_ARGS, "reports_command": f"seed_demo {' '.join(args)}",
              "reports_s": round(reports_s, 1), "reports": counts["reports"],
              "seed_output": run.stdout.strip().splitlines()}
    _record_write(record)
    common.log(f"reports seeded in {reports_s:.0f} s: {counts['reports']:,} reports, "
               f"{counts['cases']:,} cases")
    return record


def _lifecycle_reset() -> None:
    """Back to the state the reports' bulk load leaves (every case new, no task): the
    lifecycle is applied again (another profile, or after a change to the bulk path)."""
    common.log("resetting the lifecycle (cases back to new, tasks and events removed)")
    conn = common.pg_connect(DB)
    with conn.cursor() as cur:
        # The reports' bulk load writes no events, points or tasks: all of these are the
        # lifecycle's (webhook deliveries hang off notifications).
        cur.execute("TRUNCATE patrol_webhookdelivery, patrol_notification, patrol_rating, "
                    "issues_caseevent, issues_pointsentry, patrol_task RESTART IDENTITY")
        cur.execute("UPDATE issues_case SET stage = 'new', closed_at = NULL, "
                    "cancel_reason = '', updated_at = last_report_at WHERE stage <> 'new' "
                    "OR closed_at IS NOT NULL OR updated_at <> last_report_at")
    conn.close()


def _lifecycle_seed(record: dict) -> dict:
    common.log(f"lifecycle bulk path, profile {LIFECYCLE_PROFILE}")
    started = time.perf_counter()
    life = subprocess.run([common.PYTHON, __file__, "lifecycle", "--now", record["seeded_at"]],
                          cwd=common.ROOT, env=_env(), check=True, capture_output=True,
                          text=True)
    lifecycle_s = time.perf_counter() - started
    common.log(life.stdout.strip())
    started = time.perf_counter()
    conn = common.pg_connect(DB)
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    conn.close()
    vacuum_s = time.perf_counter() - started
    counts = _counts()
    record = {
        **record, "profile": LIFECYCLE_PROFILE,
        "lifecycle_command": f"case_histories_bulk_apply(seed=1, now={record['seeded_at']}, "
                             f"profile={LIFECYCLE_PROFILE.upper()}_PROFILE)",
        "lifecycle_s": round(lifecycle_s, 1), "vacuum_analyze_s": round(vacuum_s, 1),
        "lifecycle": json.loads(life.stdout.strip().splitlines()[-1]), **counts,
    }
    _record_write(record)
    common.log(f"lifecycle in {lifecycle_s:.0f} s: {counts['cases']:,} cases, "
               f"{counts['open_cases']:,} open, {counts['tasks']:,} tasks")
    return record


def lifecycle_apply(now: str) -> None:
    """The lifecycle bulk path on the seeded reports (a child process of db_ensure)."""
    django_setup()
    from datetime import datetime

    from fixtures.case_histories import PROFILES, case_histories_bulk_apply

    started = time.perf_counter()
    summary = case_histories_bulk_apply(seed=1, now=datetime.fromisoformat(now),
                                        profile=PROFILES[LIFECYCLE_PROFILE])
    summary["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(summary, ensure_ascii=False))


def django_setup() -> None:
    os.environ.update(_env())
    if str(common.ROOT) not in sys.path:
        sys.path.insert(0, str(common.ROOT))
    import django

    django.setup()
    from django.db import connection

    if connection.settings_dict["NAME"] != DB:
        raise SystemExit(f"refusing to benchmark against {connection.settings_dict['NAME']!r}")


# --- scenarios ----------------------------------------------------------------------------------

def _busiest_team_leader() -> tuple[str, str, int]:
    """The team with the most live tasks: its leader, one volunteer, the count."""
    from django.db.models import Count, Q

    from issues.models import LIVE_TASK_STATUSES
    from patrol.models import VolunteerTeam

    team = (VolunteerTeam.objects.annotate(
        live=Count("tasks", filter=Q(tasks__status__in=LIVE_TASK_STATUSES)))
        .select_related("leader").order_by("-live", "code").first())
    volunteer = team.members.order_by("username").first()
    return team.leader.username, volunteer.username, team.live


def _busiest_liaison() -> tuple[str, int]:
    from django.db.models import Count, Q

    from issues.models import LIVE_TASK_STATUSES
    from patrol.models import Department

    department = (Department.objects.annotate(
        live=Count("tasks", filter=Q(tasks__status__in=LIVE_TASK_STATUSES)))
        .order_by("-live", "code").first())
    return department.liaisons.order_by("username").first().username, department.live


def scenarios() -> list[tuple[str, str, object, str]]:
    """(name, username, path for request i, what it is)."""
    from civicmap.models import CommunityGrid
    from fixtures.seed import fixture_load
    from issues.models import Category

    communities = list(CommunityGrid.objects.order_by("code").values_list("code", flat=True))
    categories = list(Category.objects.order_by("code").values_list("code", flat=True))
    spots = [(h["lon"], h["lat"]) for h in fixture_load("hotspots.json")["hotspots"]]
    leader, volunteer, team_live = _busiest_team_leader()
    liaison, department_live = _busiest_liaison()
    queue = "/api/v1/office/queue/"
    tasks = "/api/v1/tasks/"

    def near(i: int) -> str:
        lon, lat = spots[i % len(spots)]
        return f"{tasks}?lon={lon}&lat={lat}"

    return [
        ("queue_default", OFFICE_USER, lambda i: queue, "stage new, newest first"),
        ("queue_community", OFFICE_USER,
         lambda i: f"{queue}?community={communities[i % len(communities)]}",
         f"each of {len(communities)} communities in turn"),
        ("queue_category", OFFICE_USER,
         lambda i: f"{queue}?category={categories[i % len(categories)]}",
         f"each of {len(categories)} categories in turn"),
        ("queue_overdue", OFFICE_USER, lambda i: f"{queue}?overdue=true",
         "overdue=true (default stage new: new cases have no task, so always empty)"),
        ("queue_overdue_dispatched", OFFICE_USER,
         lambda i: f"{queue}?overdue=true&stage=dispatched&stage=in_progress&stage=handed_in",
         "overdue=true with the stages that have a live task"),
        ("leader_by_deadline", leader, lambda i: tasks, f"team with {team_live:,} live tasks"),
        ("leader_by_distance", leader, near, "lon/lat of each hotspot in turn"),
        ("volunteer_by_deadline", volunteer, lambda i: tasks, "same team, a member"),
        ("volunteer_by_distance", volunteer, near, "lon/lat of each hotspot in turn"),
        ("liaison_by_deadline", liaison, lambda i: tasks,
         f"department with {department_live:,} live tasks (for comparison)"),
        ("liaison_by_distance", liaison, near, "for comparison"),
        *console_scenarios(),
    ]


CONSOLE = "/office/cases/"
DISTRICT_USER = "office_district"


def console_scenarios() -> list[tuple[str, str, object, str]]:
    """The office console's list (/office/cases/): every search kind, filter and sort."""
    from urllib.parse import urlencode

    from django.contrib.auth import get_user_model

    from civicmap.models import UnitGrid
    from issues.models import OPEN_STAGES, Case, Priority
    from patrol.console import console_options

    def each(name: str, values: list[str], what: str) -> tuple[str, str, object, str]:
        # the scenario names the filter it walks: console_<field>, console_counts_<field>
        field = name.removeprefix("console_").removeprefix("counts_")

        def path(i: int) -> str:
            return f"{CONSOLE}?{urlencode({field: values[i % len(values)]})}"
        return (name, OFFICE_USER, path, f"each of {len(values)} {what} in turn")

    # What the office may choose (its subdistrict's communities, teams, departments).
    options = console_options(user=get_user_model().objects.get(username=OFFICE_USER))
    in_scope = Case.objects.filter(stage__in=OPEN_STAGES, merged_into__isnull=True,
                                   community_grid__in=options.communities)
    open_ids = list(in_scope.order_by("?").values_list("pk", flat=True)[:200])
    communities = [c.code for c in options.communities]
    names = [c.name_zh for c in options.communities]
    grids = list(UnitGrid.objects.filter(cases__in=in_scope).distinct()
                 .order_by("grid_id").values_list("grid_id", flat=True)[:50])
    categories = [c.code for c in options.categories]
    handlers = ([f"team:{t.code}" for t in options.teams]
                + [f"department:{d.code}" for d in options.departments] + ["union"])

    def q(word: str):
        return lambda i: f"{CONSOLE}?{urlencode({'q': word})}"

    listed = [
        ("console_default", OFFICE_USER, lambda i: CONSOLE, "newest first, page 1 of 50"),
        ("console_search_number", OFFICE_USER,
         lambda i: f"{CONSOLE}?{urlencode({'q': f'#{open_ids[i % len(open_ids)]}'})}",
         "q=#<an open case's number>, 200 in turn"),
        ("console_search_2chars_all", OFFICE_USER, q("演示"),
         "q=演示 (2 characters: every demo description has them)"),
        ("console_search_2chars_few", OFFICE_USER, q("井盖"),
         "q=井盖 (2 characters, one category's words)"),
        ("console_search_4chars", OFFICE_USER, q("路灯不亮"), "q=路灯不亮 (trigram index)"),
        ("console_search_community", OFFICE_USER,
         lambda i: f"{CONSOLE}?{urlencode({'q': names[i % len(names)][:2]})}",
         "q=the first 2 characters of each community's name"),
        ("console_search_grid", OFFICE_USER,
         lambda i: f"{CONSOLE}?{urlencode({'q': grids[i % len(grids)]})}",
         f"q=each of {len(grids)} unit grid IDs"),
        each("console_stage", [str(s) for s in OPEN_STAGES], "open stages"),
        each("console_category", categories, "categories"),
        each("console_kind", ["C", "E", "L"], "kinds"),
        each("console_community", communities, "communities"),
        each("console_handler", handlers, "handlers"),
        each("console_due", ["overdue", "soon"], "deadline states"),
        each("console_priority", [p.code for p in Priority], "priorities"),
        each("console_channel", ["app", "open311"], "channels"),
        ("console_created", OFFICE_USER,
         lambda i: f"{CONSOLE}?created_from={_days_ago(7)}", "created in the last 7 days"),
        each("console_sort", ["deadline", "reports", "priority"], "sorts"),
        ("console_overdue_by_deadline", OFFICE_USER,
         lambda i: f"{CONSOLE}?due=overdue&sort=deadline", "overdue, deadline first"),
        ("console_page_20", OFFICE_USER, lambda i: f"{CONSOLE}?page=20", "page 20"),
        ("console_district_default", DISTRICT_USER, lambda i: CONSOLE, "the district's office"),
        ("console_district_2chars_all", DISTRICT_USER, q("演示"), "the district's office"),
    ]
    counts = [
        ("console_counts_default", OFFICE_USER, lambda i: CONSOLE, "no filter"),
        each("console_counts_category", categories, "categories"),
        each("console_counts_handler", handlers, "handlers"),
        each("console_counts_due", ["overdue", "soon"], "deadline states"),
        ("console_counts_2chars_all", OFFICE_USER, q("演示"), "q=演示"),
        ("console_counts_district", DISTRICT_USER, lambda i: CONSOLE, "the district's office"),
    ]
    return ([_with_query(s, "facets=0") for s in listed]
            + [_with_query(s, "facets=only") for s in counts])


def _with_query(scenario: tuple[str, str, object, str], extra: str):
    """The scenario with ``extra`` added to each of its paths' query strings."""
    name, username, path, what = scenario
    return (name, username,
            lambda i: path(i) + ("&" if "?" in path(i) else "?") + extra, what)


def _days_ago(days: int) -> str:
    from datetime import timedelta

    from django.utils import timezone

    return (timezone.localdate() - timedelta(days=days)).isoformat()


def _client(username: str, *, session: bool = False):
    """A token client for the API, or a signed-in session for the console's page data."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from rest_framework.authtoken.models import Token

    user = get_user_model().objects.get(username=username)
    if session:
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        return client
    token, _ = Token.objects.get_or_create(user=user)
    return Client(HTTP_AUTHORIZATION=f"Token {token.key}", HTTP_HOST="localhost")


def _session(path) -> bool:
    return path(0).startswith(CONSOLE)


def measure(username: str, path, *, requests: int, warmup: int) -> dict:
    from django.db import connection

    client = _client(username, session=_session(path))
    for i in range(warmup):
        assert client.get(path(i)).status_code == 200
    totals, sql, queries, sizes = [], [], [], []
    for i in range(requests):
        timer = common.SqlTimer()
        with connection.execute_wrapper(timer):
            started = time.perf_counter()
            response = client.get(path(i))
            elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"{path(i)} as {username}: {response.status_code} "
                               f"{response.content[:300]!r}")
        totals.append(elapsed * 1000)
        sql.append(timer.seconds * 1000)
        queries.append(timer.queries)
        body = response.json()
        sizes.append(len(body.get("cases", body.get("tasks", []))))
    pct = common.percentile
    return {
        "requests": requests,
        "ms": {"p50": round(pct(totals, 50), 2), "p95": round(pct(totals, 95), 2),
               "p99": round(pct(totals, 99), 2), "max": round(max(totals), 2)},
        "sql_ms": {"p50": round(pct(sql, 50), 2), "p95": round(pct(sql, 95), 2)},
        "queries": max(queries), "rows_min": min(sizes), "rows_max": max(sizes),
        "meets_target": pct(totals, 95) < TARGET_P95_MS,
    }


def explain_slowest(name: str, username: str, path) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the slowest query of one request, to var/bench/."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = _client(username, session=_session(path))
    with CaptureQueriesContext(connection) as captured:
        client.get(path(0))
    slowest = max(captured.captured_queries, key=lambda q: float(q["time"]))
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    out = common.RESULTS_DIR / f"triage_explain_{name}.txt"
    out.write_text(f"-- {path(0)} as {username}\n{slowest['sql']}\n\n{plan}\n")
    return str(out.relative_to(common.ROOT))


def run_scenarios(chosen, *, requests: int, warmup: int) -> dict:
    from django.test.utils import override_settings

    results = {}
    for name, username, path, what in chosen:
        # the counts' scenarios never read their cache: each request counts afresh
        ttl = 0 if name.startswith("console_counts") else None
        with override_settings(**({} if ttl is None else {"CONSOLE_FACETS_CACHE_S": ttl})):
            results[name] = {"user": username, "what": what, "example": path(0),
                             **measure(username, path, requests=requests, warmup=warmup),
                             "explain": explain_slowest(name, username, path)}
        r = results[name]
        common.log(f"{name:<26} p50 {r['ms']['p50']:7.2f}  p95 {r['ms']['p95']:7.2f}  "
                   f"p99 {r['ms']['p99']:7.2f} ms  (SQL p50 {r['sql_ms']['p50']:.2f} ms, "
                   f"{r['queries']} queries, {r['rows_max']} rows)  "
                   + ("met" if r["meets_target"] else "MISSED"))
    return results


def main() -> int:
    if sys.argv[1:2] == ["lifecycle"]:
        lifecycle_apply(sys.argv[sys.argv.index("--now") + 1])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--reseed", action="store_true", help="seed again even if seeded")
    parser.add_argument("--relife", action="store_true",
                        help="apply the lifecycle bulk path again on the seeded reports")
    parser.add_argument("--seed-only", action="store_true", help="seed, do not measure")
    parser.add_argument("--only", nargs="*", help="scenario names to run")
    args = parser.parse_args()
    # One benchmark at a time on this machine (the others' lock): less noise for both.
    common.bench_lock()
    seed = db_ensure(reseed=args.reseed, relife=args.relife)
    if args.seed_only:
        return 0
    django_setup()
    from django.conf import settings
    from django.db import connection

    assert not settings.DEBUG
    with connection.cursor() as cursor:
        cursor.execute("SHOW shared_buffers")
        shared_buffers = cursor.fetchone()[0]
        cursor.execute("SHOW work_mem")
        work_mem = cursor.fetchone()[0]
    chosen = [s for s in scenarios() if not args.only or s[0] in args.only]
    results = run_scenarios(chosen, requests=args.requests, warmup=args.warmup)
    record = {
        "database": DB, "seed": seed, "counts": _counts(), "target_p95_ms": TARGET_P95_MS,
        "how": "Django test client in-process, base settings, DEBUG off, token auth",
        "postgres": {"shared_buffers": shared_buffers, "work_mem": work_mem},
        "machine": common.machine_info(), "scenarios": results,
        "meets_target": all(r["meets_target"] for name, r in results.items()
                            if not name.startswith("liaison")),
        "measured_at": common.now_iso(),
    }
    common.result_write(NAME, record)
    print(json.dumps({name: {"p50": r["ms"]["p50"], "p95": r["ms"]["p95"]}
                      for name, r in results.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
