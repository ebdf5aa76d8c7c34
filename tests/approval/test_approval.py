"""Approval files: what users get from the API and the pages, for one fixed demo, unchanged.

The demo is the one ``manage.py seed_demo --seed 2026 --now 2026-11-30T10:00:00+08:00
--reports 400`` writes (the same command, lifecycle included), in a database emptied first with
its id sequences restarted, followed by Celery beat's first alert scans, with the clock frozen
at --now. For each demo user playing a role
(and the anonymous public) every main GET endpoint's answer is recorded, and so are the map
pages' data (the layers the governance map embeds, the layers it fetches, the office console's
feed). ``tests/approval/approved/*.json`` hold the approved answers; a refactor must leave
them identical.

After a behaviour change that an issue asks for: ``APPROVE=1 .venv/bin/pytest
tests/approval`` rewrites them; review the diff and say why in the commit body
(docs/ARCHITECTURE.md, "Approval files").
"""

from __future__ import annotations

import difflib
import io
import json
import os
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from patrol.services.alerts import tasks_deadline_near_scan, tasks_overdue_scan
from tests.module_rows import module_rows

SEED = 2026
NOW = "2026-11-30T10:00:00+08:00"
REPORTS = 400
APPROVED_DIR = Path(__file__).resolve().parent / "approved"
APPROVE = os.environ.get("APPROVE") == "1"

# The demo users playing each role (fixtures/demo_people.json); None is the anonymous public.
USERS = {
    "anonymous": None,
    "rider": "rider1",
    "volunteer": "ce_vol3",
    "team_leader": "ce_lead",
    "liaison": "liaison_municipal",
    "office_staff": "office1",
    "union_staff": "union1",
}
# Tables Django fills itself after migrating (role groups, permissions): kept. Every other
# table is emptied with RESTART IDENTITY so that the ids in the answers are the same in every
# run, whatever other tests did to the sequences before.
KEPT_TABLES = {"django_migrations", "django_content_type", "auth_permission", "auth_group",
               "auth_group_permissions", "spatial_ref_sys"}
HOTSPOT_MIN_CASES = 2  # instead of the deployed 10: see ``demo``
LIST_LIMIT = 60  # long lists are cut to their first items (in the answer's own order)


# --- the frozen demo ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_rows(django_db_setup, django_db_blocker) -> Iterator[None]:
    """The demo for --seed 2026 at --now alone in the database, written once for the module
    (tests/module_rows.py) with the clock frozen at --now; then Celery beat's first scans at
    --now, as on a running demo (the feeds get their alerts). Over 20 s, in the set-up of the
    module's first test: seed_demo's whole demo, its history and every case's life."""
    frozen = datetime.fromisoformat(NOW)

    def make() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            tables = sorted(name for (name,) in cursor.fetchall() if name not in KEPT_TABLES)
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        call_command("seed_demo", seed=SEED, now=NOW, reports=REPORTS, no_progress=True,
                     stdout=io.StringIO())
        tasks_overdue_scan(now=frozen)
        tasks_deadline_near_scan(now=frozen)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: frozen)
        with module_rows(django_db_blocker, make):
            yield


@pytest.fixture
def demo(demo_rows, db, monkeypatch, settings) -> None:
    """The demo (``demo_rows``), the clock frozen at --now.

    Hotspots need MAP_HOTSPOT_MIN_CASES open cases within MAP_HOTSPOT_EPS_M; the small demo's
    open cases are too sparse for the deployed 10, so the threshold is lowered to draw some.

    Nothing in the product reads the database's clock (no now()/CURRENT_TIMESTAMP in queries
    or defaults: every time comes from ``django.utils.timezone.now``), so freezing that one
    function freezes every answer; the database's own clock is never read.
    """
    settings.MAP_HOTSPOT_MIN_CASES = HOTSPOT_MIN_CASES
    frozen = datetime.fromisoformat(NOW)
    monkeypatch.setattr(timezone, "now", lambda: frozen)
    cache.clear()  # throttle counters of earlier tests


def _client(role: str) -> Client:
    from django.contrib.auth import get_user_model

    client = Client()
    if USERS[role]:
        client.force_login(get_user_model().objects.get(username=USERS[role]))
    return client


# --- normalising --------------------------------------------------------------------------------

_PHOTO_NAME = re.compile(r"(/media/[^\"'\s]*?)[0-9a-f]{8,}[^\"'\s/]*")
_FOLIUM_ID = re.compile(r"(?<=_)[0-9a-f]{32}(?![0-9a-f])")
_NONCE = re.compile(r' nonce="[^"]*"')


def _normalised(value: Any) -> Any:
    """Photo file names (random) replaced; everything else kept as the user receives it."""
    if isinstance(value, dict):
        return {key: _normalised(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalised(item) for item in value]
    if isinstance(value, str):
        return _PHOTO_NAME.sub(r"\1<random>", value)
    return value


def _trimmed(value: Any) -> Any:
    """Long lists cut to their first LIST_LIMIT items, with their full length kept."""
    if isinstance(value, dict):
        return {key: _trimmed(item) for key, item in value.items()}
    if isinstance(value, list):
        items = [_trimmed(item) for item in value[:LIST_LIMIT]]
        if len(value) > LIST_LIMIT:
            items.append(f"... {len(value) - LIST_LIMIT} more of {len(value)}")
        return items
    return value


def _answer(client: Client, url: str, **headers: str) -> dict:
    """A GET's status, content type and body (JSON parsed; other bodies as text)."""
    response = client.get(url, **headers)
    content_type = response.get("Content-Type", "")
    body: Any = response.content.decode()
    if "json" in content_type:
        body = json.loads(body)
    return {"status": response.status_code, "content_type": content_type,
            "body": _trimmed(_normalised(body))}


# --- what is recorded -----------------------------------------------------------------------


def _samples() -> dict[str, Any]:
    """One case per stage (the lowest id) for the detail, events and Open311 answers, and
    where the oldest case in progress lies (for the queries near a point)."""
    from issues.models import Case

    cases = {}
    for stage in Case.objects.order_by("stage").values_list("stage", flat=True).distinct():
        cases[stage] = Case.objects.filter(stage=stage).order_by("id").first().pk
    near = Case.objects.select_related("category").get(pk=cases["in_progress"])
    return {"cases": cases, "lon": round(near.location.x, 6), "lat": round(near.location.y, 6),
            "category": near.category.code}


def _api_urls(samples: dict[str, Any]) -> list[str]:
    where = f"lon={samples['lon']}&lat={samples['lat']}"
    urls = [
        "/api/v1/categories/",
        "/api/v1/reports/?page_size=50",
        "/api/v1/reports/?page=2&page_size=20&stage=dispatched,in_progress",
        "/api/v1/cases/?page_size=50",
        f"/api/v1/reports/nearby/?{where}&category={samples['category']}",
        "/api/v1/me/reports/",
        "/api/v1/me/points/",
        "/api/v1/leaderboard/",
        "/api/v1/tasks/",
        "/api/v1/tasks/?include_closed=true",
        f"/api/v1/tasks/?{where}",
        "/api/v1/office/queue/",
        "/api/v1/office/queue/?overdue=true",
        "/api/v1/office/queue/?stage=in_progress&stage=handed_in",
        "/api/v1/office/queue/?overdue=true&stage=dispatched&stage=in_progress"
        "&stage=handed_in",
        "/api/v1/rates/?since=2026-09-01T00:00:00%2B08:00&until=2026-11-30T10:00:00%2B08:00",
        "/api/v1/notifications/",
        "/api/v1/stations/",
        "/api/v1/stations/services/",
        f"/api/v1/stations/nearest/?{where}",
        f"/api/v1/stations/coverage/point/?{where}",
        "/api/v1/stations/coverage/",
        "/api/v1/stations/visits/",
        "/phone/me/",
    ]
    for _, case_id in sorted(samples["cases"].items()):
        urls += [f"/api/v1/cases/{case_id}/", f"/api/v1/cases/{case_id}/events/"]
    return urls


def _open311_urls(samples: dict[str, Any]) -> list[str]:
    urls = ["/open311/v2/discovery.json", "/open311/v2/services.json",
            f"/open311/v2/services/{samples['category']}.json", "/open311/v2/requests.json",
            "/open311/v2/requests.json?status=closed",
            f"/open311/v2/requests/{samples['cases']['in_progress']}.xml"]
    urls += [f"/open311/v2/requests/{case_id}.json"
             for _, case_id in sorted(samples["cases"].items())]
    return urls


# Answered again in English (Accept-Language: en): names and messages in the other language.
ENGLISH_URLS = ("/api/v1/categories/", "/api/v1/stations/services/", "/api/v1/leaderboard/",
                "/api/v1/office/queue/", "/api/v1/tasks/", "/open311/v2/services.json")


def _api_record(role: str, samples: dict[str, Any]) -> dict[str, dict]:
    client = _client(role)
    record = {url: _answer(client, url) for url in _api_urls(samples) + _open311_urls(samples)}
    for url in ENGLISH_URLS:
        record[f"{url} [en]"] = _answer(client, url, HTTP_ACCEPT_LANGUAGE="en")
    case_id = samples["cases"]["in_progress"]
    record[f"/api/v1/cases/{case_id}/ [en]"] = _answer(client, f"/api/v1/cases/{case_id}/",
                                                       HTTP_ACCEPT_LANGUAGE="en")
    return record


def _page_record(role: str) -> dict[str, dict]:
    client = _client(role)
    record = {}
    for language in ("zh-hans", "en"):
        headers = {"HTTP_ACCEPT_LANGUAGE": language}
        for url in ("/map/", "/office/"):
            page = _map_page(client, url, **headers)
            record[f"{url} [{language}] text"] = page["text"]
            record[f"{url} [{language}] data"] = page["data"]
        for url in ("/map/hourly/", "/map/uncovered/", "/office/cases/"):
            record[f"{url} [{language}]"] = _answer(client, url, **headers)
    return record


def _same_as_anonymous(record: dict[str, Any], anonymous: dict[str, Any]) -> dict[str, Any]:
    """A signed-in user's answers, those equal to the public's written as a reference to them
    (most of the API is public: this keeps the files small and shows what a role adds)."""
    return {key: SAME_AS_ANONYMOUS if anonymous.get(key) == value else value
            for key, value in record.items()}


SAME_AS_ANONYMOUS = "= anonymous"


def _map_page(client: Client, url: str, **headers: str) -> dict[str, Any]:
    """What a map page shows: its text outside the map, and the data its map script embeds
    (each JSON literal: GeoJSON layers, heatmap points, legend, labels, in order of
    appearance), folium's random element ids numbered and the CSP nonce left out."""
    response = client.get(url, **headers)
    if response.status_code != 200:
        answer = {"status": response.status_code, "location": response.get("Location", "")}
        return {"text": answer, "data": answer}
    ids: dict[str, str] = {}  # folium's random ids, numbered in order of appearance
    html = _FOLIUM_ID.sub(lambda match: ids.setdefault(match[0], f"<id{len(ids) + 1}>"),
                          _NONCE.sub("", response.content.decode()))
    return {"text": _page_text(html), "data": _trimmed(_script_literals(html))}


def _page_text(html: str) -> list[str]:
    """The words the page shows outside its map (title, filters, "as of", legend's frame):
    the text between tags, scripts and styles left out, one entry per run of text."""
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.DOTALL | re.IGNORECASE)
    runs = (" ".join(run.split()) for run in re.split(r"<[^>]*>", html))
    return [run for run in runs if run]


def _script_literals(html: str) -> list[Any]:
    """Every JSON object or array literal passed in the page's inline scripts."""
    decoder = json.JSONDecoder()
    literals = []
    for script in re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.DOTALL):
        position = 0
        while True:
            match = re.compile(r"[\[{]").search(script, position)
            if match is None:
                break
            try:
                value, end = decoder.raw_decode(script, match.start())
            except json.JSONDecodeError:
                position = match.start() + 1
                continue
            if value not in ({}, []):
                literals.append(value)
            position = end
    return literals


# --- comparing ------------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1) + "\n"


def _first_difference(approved: Any, received: Any, path: str = "") -> str:
    if type(approved) is not type(received):
        return f"{path or '/'}: {approved!r:.120} became {received!r:.120}"
    if isinstance(approved, dict):
        for key in sorted(set(approved) | set(received)):
            if key not in received:
                return f"{path}/{key}: missing"
            if key not in approved:
                return f"{path}/{key}: new"
            if approved[key] != received[key]:
                return _first_difference(approved[key], received[key], f"{path}/{key}")
    elif isinstance(approved, list):
        for index, (old, new) in enumerate(zip(approved, received, strict=False)):
            if old != new:
                return _first_difference(old, new, f"{path}[{index}]")
        return f"{path}: {len(approved)} items became {len(received)}"
    return f"{path or '/'}: {approved!r:.120} became {received!r:.120}"


def _approve(name: str, received: dict[str, Any]) -> None:
    """Compare with tests/approval/approved/<name>.json (or rewrite it under APPROVE=1)."""
    path = APPROVED_DIR / f"{name}.json"
    text = _dumps(received)
    if APPROVE:
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run APPROVE=1 .venv/bin/pytest tests/approval"
    approved_text = path.read_text(encoding="utf-8")
    if approved_text == text:
        return
    approved = json.loads(approved_text)
    received = json.loads(text)
    lines = []
    for key in sorted(set(approved) | set(received)):
        if approved.get(key) != received.get(key):
            lines.append(f"  {key}: {_first_difference(approved.get(key), received.get(key))}")
    diff = list(difflib.unified_diff(approved_text.splitlines(), text.splitlines(),
                                     "approved", "received", lineterm="", n=2))
    pytest.fail(f"{name} ({path.name}) differs from the approved answers:\n" + "\n".join(lines)
                + "\n\nFirst lines of the diff:\n" + "\n".join(diff[:80]), pytrace=False)


def test_answers_and_pages_match_the_approved_files(demo):
    """One seed for all the users (seeding is the slow part); every difference is reported
    (per user and endpoint), not only the first. Over 20 s: the seeded demo, then every
    endpoint and page for every role, in two languages."""
    samples = _samples()
    anonymous = {"api": _api_record("anonymous", samples), "pages": _page_record("anonymous")}
    failures = []
    for role in USERS:
        for kind, record in (("api", _api_record), ("pages", _page_record)):
            received = anonymous[kind] if role == "anonymous" else _same_as_anonymous(
                record(role, samples) if kind == "api" else record(role), anonymous[kind])
            try:
                _approve(f"{kind}-{role}", received)
            except pytest.fail.Exception as failure:
                failures.append(str(failure))
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)


def test_the_map_from_its_snapshot_matches_the_approved_live_map(demo):
    """The governance map served from the periodic snapshot (frontend.services) is the same
    page as the live one the approved files hold, for the public and for office staff."""
    from frontend.services import map_snapshot_refresh

    map_snapshot_refresh(now=timezone.now())
    for role in ("anonymous", "office_staff"):
        approved = json.loads((APPROVED_DIR / f"pages-{role}.json").read_text(encoding="utf-8"))
        received = json.loads(_dumps(_page_record(role)))
        for key, value in received.items():
            if key.startswith("/map/ "):
                assert value == approved[key], (
                    f"{role} {key}: {_first_difference(approved[key], value)}")
