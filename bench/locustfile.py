"""A district's day as Locust users (benchmark 9, driven by bench/bench_load.py).

Five kinds of user, each starting one visit every ``pacing_s`` seconds on average (a Poisson
process: ``poisson_pacing``), in the shares of the
plan's ``weights`` (bench_load.mix_weights: visits a day of each kind, counted from the seeded
history where it records them and from stated assumptions where it does not):

* ``Rider``: posts a report with a ~50 KB JPEG and a new client_uuid (``POST /api/v1/reports/``,
  201); on a flaky network (``RETRY_SHARE`` of the posts) the answer is lost and the phone sends
  the same report with the same client_uuid again, which must be answered 200 as the same
  report, storing nothing (counted as "POST /api/v1/reports/ (retry)").
* ``TeamMember``: lists its tasks, accepts an offered one (another member's acceptance first is
  a 409, the lost race the team page shows, counted apart and not an error) or hands in one it
  holds with a proof photo.
* ``Office``: signed in (a session the driver opened through the login form before the steps:
  staff sign in once a day, not once a visit), the console's list with a filter, the map with
  a filter, or the triage queue.
* ``Public``: the home page, the map, a public case's page.
* ``Open311Client``: services, a jurisdiction's requests of the last hour, now and then a POST
  with its api_key.

The plan (tokens, places, cases, weights) is the JSON file named by CIVICMAP_LOAD_PLAN, written
by bench_load.py against the bench database. Run alone (a server up, a plan written):
``CIVICMAP_LOAD_PLAN=plan.json .venv/bin/locust -f bench/locustfile.py --host http://…``.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from locust import HttpUser, User, task

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import jpeg_photo  # noqa: E402

PLAN = json.loads(Path(os.environ["CIVICMAP_LOAD_PLAN"]).read_text())
# The share of rider posts whose answer is lost on the way back (a phone in a lift, a dead zone)
# and that the phone sends again: an assumption, not in the history.
RETRY_SHARE = float(os.environ.get("CIVICMAP_LOAD_RETRY_SHARE", "0.1"))
PHOTOS = [jpeg_photo(target_bytes=50_000, seed=seed) for seed in range(4)]  # as benchmark 2
OPEN_STAGES = ("new", "filed", "dispatched", "in_progress", "handed_in")
HELD_STATUSES = ("accepted", "in_progress", "sent_back")  # a task that may be handed in
POLL_WINDOW = timedelta(hours=1)  # an Open311 poller's look back, overlapping its last poll


def poisson_pacing(mean_s: float) -> Callable[[User], float]:
    """Locust's wait time for visits that arrive as a Poisson process: each next visit starts an
    exponentially distributed interval (mean ``mean_s``) after the previous one started, at once
    if that visit ran longer. Many such users together arrive as a Poisson process of rate
    users / ``mean_s``, as a district's riders and residents do. With ``constant_pacing`` the
    users of a step, started together, stayed in step: every ``mean_s`` seconds its visits came
    in a burst of a few seconds, several times the offered rate, and requests queued behind it
    on an otherwise idle machine (docs/BENCHMARKS.md §9)."""

    def wait_time(user: User) -> float:
        now = time.perf_counter()
        started = getattr(user, "_visit_started", now)
        wait = max(0.0, started + random.expovariate(1 / mean_s) - now)
        user._visit_started = now + wait
        return wait

    return wait_time


class _Visitor(HttpUser):
    abstract = True
    wait_time = poisson_pacing(PLAN["pacing_s"])


class _TokenUser(_Visitor):
    abstract = True
    tokens_key = ""

    def on_start(self) -> None:
        token = random.choice(PLAN[self.tokens_key])
        self.client.headers.update({"Authorization": f"Token {token}", "Accept-Language": "en"})


class Rider(_TokenUser):
    # Rider posts a day: the history's reports a day.
    weight = PLAN["weights"]["Rider"]
    tokens_key = "riders"

    @task
    def report(self) -> None:
        lon, lat, code = random.choice(PLAN["places"])
        data = {"category": code, "lon": f"{lon:.7f}", "lat": f"{lat:.7f}",
                "coord_system": "wgs84", "accuracy_m": "8", "client_uuid": str(uuid.uuid4()),
                "description": "load test report"}
        photo = random.choice(PHOTOS)
        first = self._post(data, photo, "POST /api/v1/reports/", expected=201)
        if first is not None and random.random() < RETRY_SHARE:
            self._post(data, photo, "POST /api/v1/reports/ (retry)", expected=200,
                       same_as=first)

    def _post(self, data: dict, photo: bytes, name: str, *, expected: int,
              same_as: int | None = None) -> int | None:
        """One post of the report; its id when answered as ``expected`` (and, for a retry, as
        the same report), else a failure."""
        with self.client.post("/api/v1/reports/", data=data, name=name, catch_response=True,
                              files={"photos": ("photo.jpg", photo, "image/jpeg")}) as answer:
            if answer.status_code != expected:
                answer.failure(f"{answer.status_code}, not {expected}: {answer.text[:200]}")
                return None
            report_id = answer.json()["id"]
            if same_as is not None and report_id != same_as:
                answer.failure(f"the retry made report {report_id}, not {same_as} again")
                return None
            return report_id


class TeamMember(_TokenUser):
    # Team visits a day: the history's tasks offered a day (each a list, then accept or hand in).
    weight = PLAN["weights"]["TeamMember"]
    tokens_key = "team_tokens"

    @task
    def work(self) -> None:
        tasks = self.client.get("/api/v1/tasks/?limit=50", name="GET /api/v1/tasks/").json()
        offered = [t for t in tasks["tasks"] if t["status"] == "offered"]
        held = [t for t in tasks["tasks"]
                if t["assigned_to_me"] and t["status"] in HELD_STATUSES]
        if offered:
            self._act(random.choice(offered)["case"], "accept")
        elif held:
            self._act(random.choice(held)["case"], "handin",
                      data={"note": "done (load test)"},
                      files={"photo": ("proof.jpg", random.choice(PHOTOS), "image/jpeg")})

    def _act(self, case_id: int, action: str, **fields) -> None:
        with self.client.post(f"/api/v1/cases/{case_id}/{action}/", catch_response=True,
                              name=f"POST /api/v1/cases/[id]/{action}/", **fields) as answer:
            if answer.status_code == 409:  # another member was first: the team page's race
                answer.request_meta["name"] = f"POST /api/v1/cases/[id]/{action}/ (taken)"
                answer.success()
            elif answer.status_code != 200:
                answer.failure(f"{answer.status_code}: {answer.text[:200]}")


class Office(_Visitor):
    # Office looks a day: OFFICE_LOOKS_PER_CASE × the history's new cases a day.
    weight = PLAN["weights"]["Office"]

    def on_start(self) -> None:
        """One of the sessions the driver signed in through the login form (bench_load)."""
        name, value = random.choice(PLAN["office_sessions"])
        self.client.cookies.set(name, value)

    @task
    def console(self) -> None:
        self.client.get("/office/cases/", name="GET /office/cases/?filters", params={
            "stage": random.choice(OPEN_STAGES), "category": random.choice(PLAN["categories"])})

    @task
    def governance_map(self) -> None:
        self.client.get("/map/", name="GET /map/?filters (office)", params={
            "days": random.choice((1, 7, 30)), "category": random.choice(PLAN["categories"])})

    @task
    def queue(self) -> None:
        self.client.get("/api/v1/office/queue/", name="GET /api/v1/office/queue/",
                        params={"stage": "new", "category": random.choice(PLAN["categories"])})


class Public(_Visitor):
    # Public views a day: PUBLIC_VIEWS_PER_REPORT × the history's reports a day.
    weight = PLAN["weights"]["Public"]

    @task
    def home(self) -> None:
        self.client.get("/", name="GET /")

    @task
    def governance_map(self) -> None:
        self.client.get("/map/", name="GET /map/")

    @task
    def case(self) -> None:
        self.client.get(f"/cases/{random.choice(PLAN['public_cases'])}/",
                        name="GET /cases/[id]/")


class Open311Client(_Visitor):
    # Open311 polls a day: OPEN311_POLLS_PER_DAY_PER_SUBDISTRICT × the subdistricts with reports.
    weight = PLAN["weights"]["Open311Client"]
    root = "/open311/v2"

    def on_start(self) -> None:
        services = self._services()
        self.services = [s["service_code"] for s in services]
        self.answers = {s["service_code"]: self._required_answers(s["service_code"])
                        for s in services if s.get("metadata")}

    def _required_answers(self, code: str) -> dict[str, str]:
        """What a client answers to a service's required questions, as the spec has it read
        them from the service definition: each list's first value, a number 1, a word."""
        definition = self.client.get(f"{self.root}/services/{code}.json",
                                     name="GET open311 services/[code].json").json()
        answers = {}
        for attribute in definition.get("attributes", []):
            if not attribute.get("required"):
                continue
            values = attribute.get("values") or []
            name = f"attribute[{attribute['code']}]"
            if attribute["datatype"] == "multivaluelist":
                name += "[]"
            answers[name] = (values[0]["key"] if values
                             else "1" if attribute["datatype"] == "number" else "load test")
        return answers

    def _services(self) -> list[dict]:
        return self.client.get(f"{self.root}/services.json", name="GET open311 services.json",
                               params={"jurisdiction_id": self._jurisdiction()}).json()

    def _jurisdiction(self) -> str:
        return random.choice(PLAN["jurisdictions"])

    @task(10)
    def requests(self) -> None:
        """What changed since the last poll, with an overlap: the requests of the last
        ``POLL_WINDOW``. (Without start_date the spec's default is up to 1,000 requests, about
        560 KB: about 1 s a call at 20,000 reports on the loaded machine.)"""
        since = datetime.now(UTC) - POLL_WINDOW
        self.client.get(f"{self.root}/requests.json", name="GET open311 requests.json?start_date",
                        params={"jurisdiction_id": self._jurisdiction(),
                                "start_date": since.isoformat(timespec="seconds")})

    @task(1)
    def services_list(self) -> None:
        self._services()

    @task(1)
    def post(self) -> None:
        lon, lat, _code = random.choice(PLAN["places"])
        service = random.choice(self.services)
        with self.client.post(f"{self.root}/requests.json", catch_response=True,
                              name="POST /open311/v2/requests.json",
                              data={"api_key": PLAN["open311_key"], "service_code": service,
                                    "lat": f"{lat:.7f}", "long": f"{lon:.7f}",
                                    "description": "load test request",
                                    **self.answers.get(service, {})}) as answer:
            if answer.status_code != 200:
                answer.failure(f"{answer.status_code}: {answer.text[:200]}")
