"""Benchmark 9: a district's day under load (Locust), the highest rate one machine holds.

The benchmark starts gunicorn (gunicorn.conf.py's sync workers, civicmap.settings.base, as benchmark
2) on a free port against the bench database, with photo renditions left to Celery (tasks only queue
in Redis db 13, which is also the cache), the riders' and Open311 hourly limits raised to 10^9, and
MEDIA_ROOT in a temp directory (and var/staticfiles collected once, as a deployment). It writes a
plan (tokens, places, cases, the mix) for ``bench/locustfile.py``, signs the office's sessions
in (``office_sessions``), measures the baseline
(``GET /api/v1/categories/``, 4 threads, as benchmark 2), warms up (``--warmup`` seconds of the
first step, not counted), then runs Locust headless in steps of
rising offered rate: every user starts one visit every ``PACING_S`` seconds on average (a
Poisson process), so ``users = rate × PACING_S``. Each step runs ``--step`` seconds (its users
started evenly over its first ``PACING_S`` seconds, counted from the start; before each, the
map's snapshots are refreshed, as Celery beat does every MAP_SNAPSHOT_INTERVAL_S where no beat
runs); the run stops at the first step whose p95 over all requests is ≥ 500 ms or that has
any failure, and the highest passing step is the figure: requests/s and reports/s (rider posts
that made a report and Open311 posts).

During each step it adds up the CPU time of the gunicorn workers and of the database backends
serving them (their connections persist), per request of the mix: what one web worker and one
database core hold, the capacity table of docs/BENCHMARKS.md. The reports the database gains
in each step are counted; over the steps that passed they are checked against the posts
answered as new: a rider's retry (same client_uuid after a dropped answer) must come back 200
as the same report and store nothing.

Afterwards the bench database is dropped for a fresh copy of its template, Redis db 13 is
flushed and the temp directory deleted.

Run alone: .venv/bin/python bench/bench_load.py [--step 30] [--rates 2,4,8,...]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402
from bench_intake_http import _category_get, _load, _places, _summary  # noqa: E402
from bench_map import snapshot_refresh  # noqa: E402

NAME = "load"
TARGET_P95_MS = 500
PACING_S = 10  # each simulated user starts one visit every PACING_S seconds on average
DEFAULT_RATES = (0.5, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)  # visits/s offered, step by step
RIDERS = 200
PLACES = 2000
PUBLIC_CASES = 500
OFFICE_LOGINS = ("office1", "office2")  # the demo's Nanyuan office staff
OFFICE_SESSIONS_EACH = 5  # signed-in sessions per account, shared by the office users
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
HISTORY_DAYS = 28  # the window of the seeded history the mix is counted over (before its end)
# A local-time day, for the busiest hour's share (fixtures/history.py draws local rhythms).
LOCAL_TZ = "Asia/Shanghai"
SUBDISTRICTS_DISTRICT, SUBDISTRICTS_CITY = 24, 340  # Fengtai ~ two dozen; Beijing ~ 340

# --- the mix -------------------------------------------------------------------------------------
#
# Visits a day of each kind, from the seeded history (counted by ``history_counts``) and, where
# the history records nothing (page views, Open311 polls), from these stated assumptions:
OFFICE_LOOKS_PER_CASE = 3  # the office sees each new case in the queue, the console and the map
PUBLIC_VIEWS_PER_REPORT = 2  # the home page, the map or a case page, per report filed
OPEN311_POLLS_PER_DAY_PER_SUBDISTRICT = 288  # one client polling every 5 minutes


def mix_weights(counts: dict[str, float]) -> dict[str, int]:
    """Locust user-class weights (visits a day of each kind) from the history's daily counts:
    ``reports`` (rider posts), ``tasks`` (tasks offered: a team member's list, accept, hand
    in), ``cases`` (new cases, each looked at by the office), ``subdistricts`` (with reports:
    one Open311 poller each). Every user starts one visit per ``PACING_S``, so the weights are
    the shares of the visits."""
    return {
        "Rider": round(counts["reports"]),
        "TeamMember": round(counts["tasks"]),
        "Office": round(counts["cases"] * OFFICE_LOOKS_PER_CASE),
        "Public": round(counts["reports"] * PUBLIC_VIEWS_PER_REPORT),
        "Open311Client": round(counts["subdistricts"] * OPEN311_POLLS_PER_DAY_PER_SUBDISTRICT),
    }


def history_counts(days: int = HISTORY_DAYS) -> dict[str, float]:
    """A day of the seeded history, averaged over its last ``days`` days: reports, new cases,
    tasks offered, riders who reported, subdistricts with reports; the busiest local hour's
    share of the day's reports."""
    from django.db.models import Count, Max
    from django.db.models.functions import ExtractHour

    from issues.models import Case, Report
    from patrol.models import Task

    end = Report.objects.aggregate(end=Max("received_at"))["end"]
    start = end - timedelta(days=days)
    reports = Report.objects.filter(received_at__gt=start)
    total = reports.count()
    by_hour = (reports.annotate(hour=ExtractHour("received_at", tzinfo=_local_tz()))
               .values("hour").annotate(n=Count("id")).order_by("-n"))
    busiest = by_hour[0]["n"] if by_hour else 0
    rider_days = (reports.exclude(reporter=None)
                  .values("reporter", "received_at__date").distinct().count())
    return {
        "days": days, "reports": total / days,
        "cases": Case.objects.filter(created_at__gt=start).count() / days,
        "tasks": Task.objects.filter(offered_at__gt=start).count() / days,
        "riders": rider_days / days,
        "subdistricts": reports.values("subdistrict").distinct().count(),
        "peak_hour_share": round(busiest / total, 4) if total else 0.0,
    }


def _local_tz():
    from zoneinfo import ZoneInfo

    return ZoneInfo(LOCAL_TZ)


# --- the plan for the locustfile --------------------------------------------------------------

def _team_tokens() -> list[str]:
    """API tokens of every team member and leader (the demo's, made where missing)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q
    from rest_framework.authtoken.models import Token

    users = (get_user_model().objects.filter(Q(teams__isnull=False) | Q(led_teams__isnull=False))
             .distinct().order_by("username"))
    return [Token.objects.get_or_create(user=user)[0].key for user in users]


def plan_build(counts: dict[str, float]) -> dict:
    """What the simulated users need: tokens, places, cases, filters and the mix (the office's
    sessions are added once the server is up: ``office_sessions``)."""
    from fixtures.seed import DEMO_API_CLIENT
    from issues.models import ApiClient, Case, Category
    from issues.open311.selectors import jurisdiction_list

    places, _bounds = _places(PLACES)
    public_cases = list(
        Case.objects.filter(category__is_private=False, merged_into__isnull=True)
        .order_by("-id").values_list("id", flat=True)[:PUBLIC_CASES])
    return {
        "pacing_s": PACING_S,
        "weights": mix_weights(counts),
        "riders": [token for _, token in common.bench_riders_ensure(RIDERS)],
        "places": places,
        "team_tokens": _team_tokens(),
        "categories": list(Category.objects.order_by("code").values_list("code", flat=True)),
        "public_cases": public_cases,
        "open311_key": ApiClient.objects.get(name=DEMO_API_CLIENT).api_key,
        "jurisdictions": [j["jurisdiction_id"] for j in jurisdiction_list()],
    }


def office_sessions(base: str) -> list[list[str]]:
    """Sign each of ``OFFICE_LOGINS`` in through the login form (CSRF token, Referer, the
    password hash) ``OFFICE_SESSIONS_EACH`` times; returns the session cookies as
    [name, value]. Staff sign in once a day: in a step, whose users all start in its first
    ``PACING_S`` seconds, every office user signing in would queue the sync workers behind
    0.6 s hashes that a real day spreads over its morning."""
    import requests
    from django.conf import settings

    from fixtures.seed import DEMO_PASSWORD

    sessions = []
    for username in OFFICE_LOGINS:
        for _ in range(OFFICE_SESSIONS_EACH):
            with requests.Session() as client:
                form = client.get(f"{base}/accounts/login/", timeout=30)
                token = CSRF_INPUT.search(form.text).group(1)
                answer = client.post(f"{base}/accounts/login/", timeout=30,
                                     allow_redirects=False,
                                     data={"username": username, "password": DEMO_PASSWORD,
                                           "csrfmiddlewaretoken": token},
                                     headers={"Referer": f"{base}/accounts/login/"})
                if answer.status_code != 302:
                    raise RuntimeError(f"{username}: login answered {answer.status_code}")
                sessions += [[cookie.name, cookie.value] for cookie in answer.cookies
                             if cookie.name == settings.SESSION_COOKIE_NAME]
    return sessions


# --- Locust steps ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    rate: float  # visits/s offered
    users: int
    stats: dict
    cpu: dict


def _stats_read(prefix: Path, duration_s: float) -> dict:
    """Locust's ``<prefix>_stats.csv``: the aggregate, each request name, reports and retries."""
    rows = {row["Name"]: row for row in csv.DictReader(open(f"{prefix}_stats.csv"))}
    total = rows.pop("Aggregated")

    def count(name: str, column: str = "Request Count") -> int:
        return int(rows[name][column]) if name in rows else 0

    reports = sum(count(name) - count(name, "Failure Count")
                  for name in ("POST /api/v1/reports/", "POST /open311/v2/requests.json"))
    return {
        "requests": int(total["Request Count"]), "failures": int(total["Failure Count"]),
        "requests_per_s": round(int(total["Request Count"]) / duration_s, 2),
        "reports": reports, "reports_per_s": round(reports / duration_s, 2),
        "retries": count("POST /api/v1/reports/ (retry)"),
        "latency_ms": {p: float(total[f"{p[1:]}%"] if p != "p100" else total["100%"])
                       for p in ("p50", "p95", "p99")},
        "by_name": {name: {"requests": int(row["Request Count"]),
                           "failures": int(row["Failure Count"]),
                           "p50_ms": float(row["50%"]), "p95_ms": float(row["95%"])}
                    for name, row in rows.items()},
    }


def _failures_read(prefix: Path) -> list[dict]:
    path = Path(f"{prefix}_failures.csv")
    return list(csv.DictReader(open(path)))[:10] if path.exists() else []


def _cpu_seconds(gunicorn: subprocess.Popen) -> dict[str, dict[int, float]]:
    """CPU seconds so far of each gunicorn worker and of each database backend of the bench
    database (the workers' connections; not PostgreSQL's background processes), by pid."""
    import psutil

    workers = [worker.pid for worker in psutil.Process(gunicorn.pid).children()]
    conn = common.pg_connect("postgres")
    with conn.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> "
                    "pg_backend_pid()", [common.BENCH_DB])
        backends = [row[0] for row in cur.fetchall()]
    conn.close()

    def by_pid(pids: list[int]) -> dict[int, float]:
        seconds = {}
        for pid in pids:
            try:
                times = psutil.Process(pid).cpu_times()
                seconds[pid] = times.user + times.system
            except psutil.Error:  # gone meanwhile
                pass
        return seconds

    return {"web": by_pid(workers), "db": by_pid(backends)}


def _cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two readings: a process that started meanwhile counts whole; one
    that ended meanwhile (a connection closed at its CONN_MAX_AGE) is lost, so this is a lower
    bound."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def _step_run(*, base: str, rate: float, duration_s: int, plan_path: Path, tmp: Path,
              gunicorn: subprocess.Popen) -> Step:
    users = max(1, round(rate * PACING_S))
    tmp.mkdir(exist_ok=True)
    prefix = tmp / f"step_{rate:g}"
    env = dict(os.environ, CIVICMAP_LOAD_PLAN=str(plan_path))
    command = [str(common.VENV_BIN / "locust"), "-f", str(Path(__file__).parent / "locustfile.py"),
               "--headless", "--host", base, "-u", str(users),
               # Started evenly over one pacing interval, so that their visits are spread
               # over it from the first (locustfile.poisson_pacing).
               "-r", f"{users / PACING_S:g}", "-t", f"{duration_s}s",
               "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING",
               "--stop-timeout", "30"]
    before = _cpu_seconds(gunicorn)
    locust_before, started = _children_cpu_s(), time.monotonic()
    process = subprocess.Popen(command, env=env, cwd=common.ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    output, _ = process.communicate()
    after = _cpu_seconds(gunicorn)
    locust_cores = (_children_cpu_s() - locust_before) / (time.monotonic() - started)
    if not Path(f"{prefix}_stats.csv").exists():
        raise RuntimeError(f"locust wrote no statistics:\n{output[-3000:]}")
    stats = _stats_read(prefix, duration_s)
    stats["failure_examples"] = _failures_read(prefix)
    requests = max(stats["requests"], 1)
    cpu = {kind: round(1000 * _cpu_spent(before[kind], after[kind]) / requests, 2)
           for kind in before}
    return Step(rate=rate, users=users, stats=stats,
                cpu={"ms_per_request": cpu, "locust_cores": round(locust_cores, 2)})


def _children_cpu_s() -> float:
    """CPU seconds of this process's children waited for so far: Locust's, once its step has
    ended (the step divides them by its wall time: the cores Locust kept busy). Locust runs
    its users on one core; near 1.0 over a step, its own queue, not the server's, would set the
    latencies it measures."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _passes(step: Step) -> bool:
    return step.stats["failures"] == 0 and step.stats["latency_ms"]["p95"] < TARGET_P95_MS


# --- capacity ----------------------------------------------------------------------------------

def capacity(*, best: Step, counts: dict[str, float]) -> dict:
    """Riders and reports a day held, from the highest passing step and the history's rates.

    A day's reports come in a day shaped like the history's: its busiest hour holds
    ``peak_hour_share`` of them, and that hour must stay within the rate held. Per web worker
    and per database core: one core's worth of the CPU milliseconds a request of the mix cost
    each of them in that step. The district and the city: subdistricts each with the history's
    reports a day, and how many workers and database cores they need."""
    stats, share = best.stats, counts["peak_hour_share"]
    reports_per_request = stats["reports"] / max(stats["requests"], 1)
    reports_per_rider = counts["reports"] / max(counts["riders"], 1)

    def day(requests_per_s: float) -> dict:
        reports = requests_per_s * reports_per_request * 3600 / share
        return {"requests_per_s": round(requests_per_s, 1), "reports_per_day": round(reports),
                "riders_per_day": round(reports / reports_per_rider)}

    cpu = best.cpu["ms_per_request"]
    per_subdistrict = counts["reports"] / max(counts["subdistricts"], 1)
    machine = day(stats["requests_per_s"])
    worker = day(1000 / cpu["web"]) if cpu["web"] else None
    database = day(1000 / cpu["db"]) if cpu["db"] else None

    def fraction(reports: float, held: dict | None) -> float | None:
        return round(reports / held["reports_per_day"], 2) if held and held[
            "reports_per_day"] else None

    def need(subdistricts: int) -> dict:
        reports = per_subdistrict * subdistricts
        return {"subdistricts": subdistricts, "reports_per_day": round(reports),
                "riders_per_day": round(reports / reports_per_rider),
                "machines": fraction(reports, machine), "web_workers": fraction(reports, worker),
                "db_cores": fraction(reports, database)}

    return {
        "peak_hour_share": share, "reports_per_rider_per_day": round(reports_per_rider, 2),
        "reports_per_subdistrict_per_day": round(per_subdistrict, 1),
        "reports_per_request": round(reports_per_request, 4),
        "machine_held": machine, "per_web_worker": worker, "per_db_core": database,
        "district": need(SUBDISTRICTS_DISTRICT), "city": need(SUBDISTRICTS_CITY),
    }


# --- the benchmark -----------------------------------------------------------------------------

def _stored_reports() -> int:
    from issues.models import Report

    return Report.objects.count()


def run(*, step_s: int = 30, rates: tuple[float, ...] = DEFAULT_RATES, baseline_s: int = 10,
        warmup_s: int = 15) -> dict:
    common.django_setup()
    counts = history_counts()
    tmp = Path(tempfile.mkdtemp(prefix="civicmap-bench-load-"))
    media_root = tmp / "media"
    media_root.mkdir()
    common.static_ensure()
    plan = plan_build(counts)
    plan_path = tmp / "plan.json"
    plan_path.write_text(json.dumps(plan))
    common.log(f"{NAME}: history a day {counts}; weights {plan['weights']}")
    stored = _stored_reports()
    common.redis_flush()
    env = common.bench_env(
        DJANGO_ALLOWED_HOSTS="127.0.0.1", REPORTS_PER_HOUR_PER_RIDER=str(10**9),
        OPEN311_REQUESTS_PER_HOUR_PER_KEY=str(10**9), MEDIA_ROOT=str(media_root),
        STATIC_ROOT=str(common.STATIC_ROOT), REDIS_URL=common.BENCH_REDIS_URL)
    env.pop("DATABASE_CONN_MAX_AGE", None)  # the app's own default
    steps: list[Step] = []
    gunicorn = None
    try:
        gunicorn, base = common.gunicorn_start(env=env, log_path=tmp / "gunicorn.log")
        _load(base, 3, 4, _category_get)  # warm-up
        baseline = _summary([_load(base, baseline_s, 4, _category_get)])
        common.log(f"{NAME}: baseline GET categories {baseline['ok_per_s']} req/s")
        plan["office_sessions"] = office_sessions(base)
        plan_path.write_text(json.dumps(plan))
        # Warm-up, not counted: every worker renders each page once and fills its caches.
        snapshot_refresh()
        _step_run(base=base, rate=rates[0], duration_s=warmup_s, plan_path=plan_path,
                  tmp=tmp / "warmup", gunicorn=gunicorn)
        for rate in rates:
            snapshot_refresh()  # beat's job (every MAP_SNAPSHOT_INTERVAL_S): the default map
            stored_before = _stored_reports()
            step = _step_run(base=base, rate=rate, duration_s=step_s, plan_path=plan_path,
                             tmp=tmp, gunicorn=gunicorn)
            step.stats["reports_written"] = _stored_reports() - stored_before
            steps.append(step)
            s = step.stats
            common.log(f"{NAME}: {rate:g} visits/s ({step.users} users): {s['requests_per_s']} "
                       f"req/s, {s['reports_per_s']} reports/s, p95 {s['latency_ms']['p95']:.0f}"
                       f" ms, {s['failures']} failures, {s['retries']} retries; CPU ms/request "
                       f"{step.cpu['ms_per_request']}, Locust {step.cpu['locust_cores']} core")
            if not _passes(step):
                break
        log_tail = (tmp / "gunicorn.log").read_text()[-2000:]
    finally:
        if gunicorn is not None:
            common.gunicorn_stop(gunicorn)
        common.redis_flush()
        common.rmtree_quiet(tmp)
    passing = [step for step in steps if _passes(step)]
    # Over the steps that passed: in one whose requests queue for seconds, posts still in flight
    # when Locust stops are stored but missing from its statistics.
    written = sum(step.stats["reports_written"] for step in passing)
    posted = sum(step.stats["reports"] for step in passing)  # answered 201, or Open311's 200
    best = passing[-1] if passing else None
    error_free = [step for step in steps if step.stats["failures"] == 0]
    result = {
        "measured_at": common.now_iso(), "reports_stored": stored,
        "loadavg_at_start": os.getloadavg(), "gunicorn_workers": common.web_workers(),
        "step_s": step_s, "warmup_s": warmup_s, "pacing_s": PACING_S,
        "target_p95_ms": TARGET_P95_MS,
        "history_day": counts, "weights": plan["weights"],
        "assumptions": {"office_looks_per_case": OFFICE_LOOKS_PER_CASE,
                        "public_views_per_report": PUBLIC_VIEWS_PER_REPORT,
                        "open311_polls_per_day_per_subdistrict":
                            OPEN311_POLLS_PER_DAY_PER_SUBDISTRICT},
        "get_categories_baseline": baseline,
        "steps": [{"visits_per_s": s.rate, "users": s.users, **s.stats, "cpu": s.cpu}
                  for s in steps],
        "highest_passing": ({"visits_per_s": best.rate, "users": best.users,
                             "requests_per_s": best.stats["requests_per_s"],
                             "reports_per_s": best.stats["reports_per_s"],
                             "p95_ms": best.stats["latency_ms"]["p95"],
                             "ratio_to_baseline": round(best.stats["requests_per_s"]
                                                        / baseline["ok_per_s"], 4)}
                            if best else None),
        # Equal when no retry stored a second report (and no post was lost uncounted).
        "reports_written": written, "reports_answered_new": posted,
        "capacity": capacity(best=best, counts=counts) if best else None,
        # The same arithmetic from the highest step without errors whatever its p95: what the
        # CPU a request costs allows, when the latency target is not met (a loaded machine).
        "capacity_cpu_only": (capacity(best=error_free[-1], counts=counts)
                              if error_free else None),
        "gunicorn_log_tail": log_tail if not passing else "",
    }
    common.result_write(NAME, result)
    common.log(f"{NAME}: highest rate held {result['highest_passing']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=int, default=30, help="seconds measured per step")
    parser.add_argument("--warmup", type=int, default=15, help="seconds of warm-up, not counted")
    parser.add_argument("--rates", default=",".join(f"{r:g}" for r in DEFAULT_RATES),
                        help="visits/s offered, one step each, rising")
    args = parser.parse_args()
    with common.bench_db_writes():
        run(step_s=args.step, rates=tuple(float(r) for r in args.rates.split(",")),
            warmup_s=args.warmup)


if __name__ == "__main__":
    main()
