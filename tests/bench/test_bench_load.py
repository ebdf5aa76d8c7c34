"""Benchmark 9's pieces: the mix, the capacity arithmetic, the locustfile loading its user
classes from a plan, and the office's sessions signed in against a live server (no load is run
here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import bench_load  # noqa: E402

DAY = {"reports": 1000.0, "cases": 400.0, "tasks": 300.0, "riders": 50.0, "subdistricts": 3,
       "peak_hour_share": 0.1}


def test_the_mix_is_the_history_day_in_visits_per_kind():
    weights = bench_load.mix_weights(DAY)

    assert weights == {
        "Rider": 1000, "TeamMember": 300, "Office": 400 * bench_load.OFFICE_LOOKS_PER_CASE,
        "Public": 1000 * bench_load.PUBLIC_VIEWS_PER_REPORT,
        "Open311Client": 3 * bench_load.OPEN311_POLLS_PER_DAY_PER_SUBDISTRICT,
    }


def test_capacity_holds_the_busiest_hour_within_the_rate_held():
    stats = {"requests": 1200, "reports": 120, "requests_per_s": 10.0}
    best = bench_load.Step(rate=8, users=80, stats=stats,
                           cpu={"ms_per_request": {"web": 50.0, "db": 10.0}})

    table = bench_load.capacity(best=best, counts=DAY)

    # 10 requests/s, one in ten a report: 1 report/s, 3,600 in the busiest hour, a tenth of
    # the day's; 20 reports a rider a day.
    assert table["machine_held"] == {"requests_per_s": 10.0, "reports_per_day": 36_000,
                                          "riders_per_day": 1_800}
    assert table["per_web_worker"]["reports_per_day"] == 72_000  # 1000 / 50 ms = 20 req/s
    assert table["per_db_core"]["reports_per_day"] == 360_000  # 100 req/s
    city = table["city"]
    assert city["reports_per_day"] == round(1000 / 3 * bench_load.SUBDISTRICTS_CITY)
    assert city["web_workers"] == round(city["reports_per_day"] / 72_000, 2)


def test_locusts_cpu_is_read_once_its_process_is_waited_for():
    """The step's Locust figure: a child's CPU counts once it has ended and been waited for."""
    before = bench_load._children_cpu_s()
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    subprocess.run([sys.executable, "-c", burn], check=True)

    assert bench_load._children_cpu_s() - before >= 0.3


@pytest.fixture
def plan(tmp_path) -> Path:
    """A plan with what the locustfile reads at import: the pacing and the mix."""
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"pacing_s": 10, "weights": bench_load.mix_weights(DAY)}))
    return path


def test_the_locustfile_lists_its_five_users_from_a_plan(plan, tmp_path):

    listed = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"),
         "--list"], env={"CIVICMAP_LOAD_PLAN": str(plan), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120, cwd=tmp_path)

    assert listed.returncode == 0, listed.stderr
    users = {line.strip() for line in listed.stdout.splitlines()[1:] if line.strip()}
    assert users == {"Rider", "TeamMember", "Office", "Public", "Open311Client"}


PACING_PROBE = """
import json, random, statistics, types
import locustfile
clock = [0.0]
locustfile.time.perf_counter = lambda: clock[0]
random.seed(7)
wait_time, user, starts, waits = locustfile.poisson_pacing(10.0), types.SimpleNamespace(), [], []
for _ in range(4000):
    starts.append(clock[0])
    clock[0] += 0.5  # the visit
    waits.append(wait_time(user))
    clock[0] += waits[-1]
gaps = [b - a for a, b in zip(starts, starts[1:])]
clock[0] += 60.0  # a visit far longer than any interval drawn
print(json.dumps({"mean": statistics.mean(gaps), "stdev": statistics.stdev(gaps),
                  "short": sum(w == 0 for w in waits) / len(waits),
                  "after_long": wait_time(user)}))
"""


def test_visits_arrive_as_a_poisson_process_not_in_step(plan, tmp_path):
    """Each user's visits start exponential intervals apart (mean the pacing): the standard
    deviation of the gaps is about their mean, where constant pacing's was 0 and kept the
    users started together in step (docs/BENCHMARKS.md §9)."""

    probe = subprocess.run([sys.executable, "-c", PACING_PROBE], capture_output=True, text=True,
                           env={"CIVICMAP_LOAD_PLAN": str(plan), "PATH": "/usr/bin:/bin",
                                "PYTHONPATH": str(ROOT / "bench")}, timeout=120, cwd=tmp_path)

    assert probe.returncode == 0, probe.stderr
    gaps = json.loads(probe.stdout.splitlines()[-1])
    assert 9.5 < gaps["mean"] < 10.6 and 8.5 < gaps["stdev"] < 11.5
    # An interval shorter than the 0.5 s visit starts the next one at once (about 5 %).
    assert 0.02 < gaps["short"] < 0.1
    assert gaps["after_long"] == 0.0


@pytest.mark.django_db(transaction=True)
def test_office_sessions_are_signed_in_through_the_login_form(reference_data, live_server):
    sessions = bench_load.office_sessions(live_server.url)

    assert len(sessions) == len(bench_load.OFFICE_LOGINS) * bench_load.OFFICE_SESSIONS_EACH
    assert len({value for _name, value in sessions}) == len(sessions)
    for name, value in sessions:  # each one a signed-in member of the office: the console
        console = requests.get(f"{live_server.url}/office/cases/", cookies={name: value},
                               allow_redirects=False, timeout=30)
        assert console.status_code == 200
    anonymous = requests.get(f"{live_server.url}/office/cases/", allow_redirects=False,
                             timeout=30)
    assert anonymous.status_code == 403
