"""Benchmark 6: the governance map ``/map/`` with 1,000,000 reports stored.

Three figures, each for the public map (anonymous) and the office's (office staff: private
categories, hotspot descriptions and the uncovered-demand layer added):

1. **Bytes**: the page and every request it makes, as headless Chromium receives them
   (Playwright's response events: each response's decoded body and its transfer size). Counted:
   the HTML (the map's data are inline in it), scripts, styles, fonts and images from our origin.
   Not counted: basemap tiles and anything else from another origin, which the benchmark aborts
   (their number is recorded). Three sums: ``raw`` (decoded bodies: what the page weighs with no
   compression anywhere), ``sent`` (what this gunicorn actually sent: WhiteNoise sends the
   static files gzip-compressed, the HTML goes uncompressed) and ``gzip`` (every body compressed
   at level 6, as tests/frontend/test_phone_weight.py counts: what nginx or a GZip middleware
   would send). Target: < 1.5 MB, held against ``raw``; the other two are reported beside it.
2. **Server time** of the map's data: ``GET /map/`` through Django's test client in this process
   (the full middleware, the view, folium, the template; no network), base settings, DEBUG off,
   the process's heap frozen after loading as civicmap/wsgi.py freezes a gunicorn worker's,
   ``--requests`` requests after ``--warmup`` unmeasured ones. The view's selectors (the names
   frontend/views.py imports from frontend/selectors.py) are wrapped in this process only, so
   that each request gives the time of its data (the selectors' wall time: SQL and turning rows
   into values), the SQL part of it (connection.execute_wrapper) and the query count, beside the
   whole view's time. The layers' own selectors, called inside ``map_layers`` when it computes
   live, are timed too (``selectors``) but not added twice. Measured twice: ``server``, the page
   users get (the map's snapshot refreshed just before, as Celery beat keeps it), and
   ``server_live``, the same page computed per request (every snapshot taken as stale:
   ``MAP_SNAPSHOT_MAX_AGE_S`` = 0, what a filtered map or a stopped beat costs).
   ``served_from_snapshot`` counts the requests that did not compute the layers. Target: data
   p95 < 300 ms (public map, ``server``; the office's and the live figures are reported beside).
3. **First paint**: ``--loads`` cold loads (a new browser context each: empty cache) of the page
   served by gunicorn (gunicorn.conf.py's workers, base settings) on a free port, in headless
   Chromium (/usr/bin/chromium) with every non-local request aborted. ``first-contentful-paint``
   from the Performance API, the time until the layers the default view shows are drawn (community
   polygons, the heat canvas and the station markers present in the DOM, polled on every
   animation frame; the unit grids are off until switched on),
   the navigation's time to first byte and the load event; medians. Target: FCP < 2 s; the
   layers' time is reported beside it.

Read only, except one session row for office staff (deleted at the end) and the map's snapshot
rows, refreshed by ``frontend.services.map_snapshot_refresh`` before each measured phase as beat
would have (``snapshot_refresh``: how long a refresh of every audience and language takes).

Run alone: .venv/bin/python bench/bench_map.py [--requests 20] [--warmup 3] [--loads 5]
For development against another database:
  CIVICMAP_BENCH_DB=civicmap_mapdev BENCH_DB_ENSURED=1 .venv/bin/python bench/bench_map.py
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

NAME = "map"
MAP_URL = "/map/"
TARGET_BYTES = 1_500_000  # raw (decoded) bytes of the page and its requests
TARGET_DATA_P95_MS = 300.0
TARGET_FCP_MS = 2000.0
OFFICE_USER = "office1"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
# The selectors governance_map calls (frontend/views.py imports them by these names).
VIEW_SELECTORS = ("map_category_list", "map_filters_for_period", "map_layers", "station_pins",
                  "report_heat_frames", "uncovered_demand_cells")
# Those map_layers calls when it computes the layers live (names in frontend/selectors.py):
# map_layers_live and the layers it reads, each layer timed apart in a filter's first request.
# The heat cells, the hotspots and the community case counts run beside the others (D-095):
# their times overlap, and the request's SQL time counts its own thread's statements only.
LIVE_LAYERS = ("report_heat_cells", "report_grid_counts", "unit_grid_stats",
               "community_grid_stats", "community_case_counts", "case_hotspots")
LIVE_SELECTORS = ("map_layers_live", *LIVE_LAYERS)

# Runs in the page before its own scripts: the moment every layer of the map is in the DOM.
LAYERS_WATCH = """
(function () {
  function drawn() {
    return document.querySelector("path.civicmap-community")
      && document.querySelector("canvas.leaflet-heatmap-layer")
      && document.querySelector(".leaflet-marker-pane .awesome-marker");
  }
  function poll() {
    if (drawn()) { window.__layersDrawnAt = performance.now(); return; }
    requestAnimationFrame(poll);
  }
  requestAnimationFrame(poll);
})();
"""
TIMINGS = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const fcp = performance.getEntriesByName("first-contentful-paint")[0];
  return {fcp: fcp ? fcp.startTime : null, layers: window.__layersDrawnAt ?? null,
          ttfb: nav.responseStart, response_end: nav.responseEnd,
          dom_content_loaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd};
}"""


def _stats(values: list[float]) -> dict:
    values = [v for v in values if v is not None]
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": round(common.percentile(values, 50), 1),
            "p95": round(common.percentile(values, 95), 1), "max": round(max(values), 1),
            "median": round(statistics.median(values), 1)}


# --- 2. server time, in this process ----------------------------------------------------------

class _SelectorClock:
    """Wraps the view's selectors and the live layers' (in this process only) to time each
    call of a request; ``calls`` holds (name, wall s, SQL s, queries, inside another)."""

    def __init__(self, timer_of) -> None:
        self.timer_of = timer_of  # () -> the request's common.SqlTimer
        self.calls: list[tuple[str, float, float, int, bool]] = []
        self.originals: list[tuple[object, str, object]] = []  # module, name, function
        self.depth = 0

    def install(self) -> None:
        from frontend import selectors, views

        for module, names in ((views, VIEW_SELECTORS), (selectors, LIVE_SELECTORS)):
            for name in names:
                original = getattr(module, name)
                self.originals.append((module, name, original))
                setattr(module, name, self._wrap(name, original))

    def uninstall(self) -> None:
        for module, name, original in self.originals:
            setattr(module, name, original)

    def _wrap(self, name: str, original):
        def timed(*args, **kwargs):
            timer = self.timer_of()
            sql0, queries0 = timer.seconds, timer.queries
            nested = self.depth > 0
            self.depth += 1
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.depth -= 1
                self.calls.append((name, time.perf_counter() - started,
                                   timer.seconds - sql0, timer.queries - queries0, nested))

        return timed


def _office_session() -> str:
    """A session for office staff, written directly (no login: no last_login update)."""
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore

    user = get_user_model().objects.get(username=OFFICE_USER)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def server_time(*, session_key: str | None, requests: int, warmup: int) -> dict:
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    client = Client(SERVER_NAME="localhost")
    if session_key:
        client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    for _ in range(warmup):  # connection, PROJ, catalogues, plans: not counted
        assert client.get(MAP_URL).status_code == 200
    current = [common.SqlTimer()]
    clock = _SelectorClock(lambda: current[0])
    clock.install()
    totals, sql, queries, data, data_sql, data_queries, sizes = [], [], [], [], [], [], []
    from_snapshot = 0
    per_selector: dict[str, list[float]] = {}
    per_selector_sql: dict[str, list[float]] = {}
    per_selector_queries: dict[str, int] = {}
    try:
        for _ in range(requests):
            current[0] = timer = common.SqlTimer()
            clock.calls = []
            with connection.execute_wrapper(timer):
                started = time.perf_counter()
                response = client.get(MAP_URL)
                elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"{MAP_URL}: {response.status_code}")
            totals.append(elapsed * 1000)
            sql.append(timer.seconds * 1000)
            queries.append(timer.queries)
            sizes.append(len(response.content))
            outer = [call for call in clock.calls if not call[4]]
            data.append(sum(call[1] for call in outer) * 1000)
            data_sql.append(sum(call[2] for call in outer) * 1000)
            data_queries.append(sum(call[3] for call in outer))
            from_snapshot += all(call[0] != "map_layers_live" for call in clock.calls)
            for name, wall, sql_s, n, _nested in clock.calls:
                per_selector.setdefault(name, []).append(wall * 1000)
                per_selector_sql.setdefault(name, []).append(sql_s * 1000)
                per_selector_queries[name] = max(per_selector_queries.get(name, 0), n)
    finally:
        clock.uninstall()
    return {
        "requests": requests, "warmup": warmup,
        "view_ms": _stats(totals), "view_sql_ms": _stats(sql), "view_queries": max(queries),
        "data_ms": _stats(data), "data_sql_ms": _stats(data_sql),
        "data_queries": max(data_queries),
        "build_and_render_ms": _stats([t - d for t, d in zip(totals, data, strict=True)]),
        "html_bytes": max(sizes), "served_from_snapshot": from_snapshot,
        "selectors": {
            name: {"ms": _stats(values), "sql_ms": _stats(per_selector_sql[name]),
                   "queries": per_selector_queries[name]}
            for name, values in per_selector.items()
        },
        "meets_target": common.percentile(data, 95) < TARGET_DATA_P95_MS,
    }


def _html_breakdown(*, session_key: str | None) -> dict:
    """Which parts of the HTML weigh what: each folium element's script, by kind."""
    import re

    from django.conf import settings
    from django.test import Client

    client = Client(SERVER_NAME="localhost")
    if session_key:
        client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    html = client.get(MAP_URL).content.decode()
    parts: dict[str, int] = {}
    # Folium's script is a run of statements, one element after another, named <kind>_<hex>.
    for chunk in re.split(r"\n\s*(?=var \w+_[0-9a-f]{32}\b|function \w+_[0-9a-f]{32}_)", html):
        match = re.match(r"(?:var|function) (\w+?)_[0-9a-f]{32}", chunk.strip())
        kind = match.group(1) if match else "other"
        parts[kind] = parts.get(kind, 0) + len(chunk.encode())
    return dict(sorted(parts.items(), key=lambda item: -item[1]))


def snapshot_refresh() -> float:
    """Refresh the map's snapshots now, as Celery beat does every MAP_SNAPSHOT_INTERVAL_S, so
    that the page measured next is the one users get; answers the milliseconds it took."""
    from django.utils import timezone

    from frontend.services import map_snapshot_refresh

    started = time.perf_counter()
    map_snapshot_refresh(now=timezone.now())
    return (time.perf_counter() - started) * 1000


def server_time_live(*, session_key: str | None, requests: int, warmup: int) -> dict:
    """``server_time`` with every snapshot taken as stale: the layers computed per request."""
    from django.test import override_settings

    with override_settings(MAP_SNAPSHOT_MAX_AGE_S=0):
        return server_time(session_key=session_key, requests=requests, warmup=warmup)


# --- 1 and 3. the browser against gunicorn ----------------------------------------------------

def _cold_load(browser, base: str, session_key: str | None, path: str = MAP_URL,
               watch: str = "") -> dict:
    """One load of ``path`` in a new context (empty cache): timings and every response;
    ``watch``: the script that says when the layers are drawn (``LAYERS_WATCH``)."""
    from django.conf import settings
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 860})
    if session_key:
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session_key,
                              "url": base}])
    blocked: list[str] = []

    def guard(route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            blocked.append(f"{route.request.resource_type} {route.request.url}")
            route.abort()

    context.route("**/*", guard)
    context.add_init_script(watch or LAYERS_WATCH)
    page = context.new_page()
    responses = []
    page.on("response", lambda response: responses.append(response))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(base + path, wait_until="load", timeout=120_000)
        page.wait_for_function("() => window.__layersDrawnAt !== undefined", timeout=120_000)
        try:  # late requests (a font, marker images) settle; never waits long for them
            page.wait_for_load_state("networkidle", timeout=5_000)
            idle = True
        except PlaywrightTimeout:
            idle = False
        timings = page.evaluate(TIMINGS)
        entries = []
        for response in responses:
            if urlsplit(response.url).hostname not in LOCAL_HOSTS:
                continue
            body = response.body() if response.status < 300 else b""
            sizes = response.request.sizes()
            entries.append({
                "url": response.url.replace(base, ""),
                "type": response.request.resource_type, "status": response.status,
                "encoding": response.headers.get("content-encoding", ""),
                "raw": len(body), "sent": sizes["responseBodySize"],
                "headers": sizes["responseHeadersSize"],
                "gzip": len(gzip.compress(body, compresslevel=6)) if body else 0,
            })
    finally:
        context.close()
    return {"timings": timings, "requests": entries, "blocked": blocked, "errors": errors,
            "network_idle": idle}


def browser_loads(*, base: str, session_key: str | None, loads: int) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            for _ in range(common.web_workers()):  # warm-up: each worker's first /map/
                _cold_load(browser, base, session_key)
            runs = [_cold_load(browser, base, session_key) for _ in range(loads)]
        finally:
            browser.close()
    first = runs[0]
    entries = first["requests"]
    totals = {key: sum(entry[key] for entry in entries) for key in ("raw", "sent", "gzip")}
    totals["sent_with_headers"] = totals["sent"] + sum(e["headers"] for e in entries)
    html = next(entry for entry in entries if entry["type"] == "document")
    by_type: dict[str, dict] = {}
    for entry in entries:
        kind = by_type.setdefault(entry["type"], {"requests": 0, "raw": 0, "gzip": 0})
        kind["requests"] += 1
        kind["raw"] += entry["raw"]
        kind["gzip"] += entry["gzip"]
    timing = {key: _stats([run["timings"][key] for run in runs])
              for key in ("fcp", "layers", "ttfb", "response_end", "dom_content_loaded", "load")}
    return {
        "loads": loads, "requests": len(entries), "bytes": totals, "html": html,
        "bytes_by_type": by_type,
        "raw_bytes_of_each_load": [sum(e["raw"] for e in run["requests"]) for run in runs],
        "per_request": sorted(entries, key=lambda entry: -entry["raw"]),
        "blocked_requests": len(first["blocked"]),
        "blocked_examples": first["blocked"][:3],
        "page_errors": sorted({error for run in runs for error in run["errors"]}),
        "network_idle_within_5_s": [run["network_idle"] for run in runs],
        "timing_ms": timing,
        "fcp_ms_each": [round(run["timings"]["fcp"] or -1, 1) for run in runs],
        "layers_ms_each": [round(run["timings"]["layers"] or -1, 1) for run in runs],
        "meets_bytes_target": totals["raw"] < TARGET_BYTES,
        "meets_fcp_target": (timing["fcp"].get("median") or 1e9) < TARGET_FCP_MS,
    }


# --- 4. any filter: the data endpoint over random filter combinations ------------------------

DATA_URL = "/map/data/"
TARGET_FILTER_P95_MS = 150.0  # issue 20: any filter's data p95 at 1,000,000 reports
TARGET_FILTERED_FCP_MS = 1500.0
# A filtered view may have no heat, unit grid or station to draw: its layers are drawn when the
# legend exists (civicmap.legend runs after every layer was added).
LAYERS_WATCH_FILTERED = LAYERS_WATCH.replace(
    """return document.querySelector("path.civicmap-community")
      && document.querySelector("canvas.leaflet-heatmap-layer")
      && document.querySelector(".leaflet-marker-pane .awesome-marker");""",
    """return document.querySelector(".civicmap-legend");""")
assert LAYERS_WATCH_FILTERED != LAYERS_WATCH


def filter_combinations(*, count: int, seed: int, office: bool) -> list[dict[str, str]]:
    """``count`` distinct random choices of the page's filters, as its form offers them: period
    × (every category, a kind, or a category the audience may see) × (the whole district, a
    subdistrict, a community of it, or a community alone) × stage. The default view (every
    filter unset) is left out: it is the baseline, measured on its own."""
    import random

    from civicmap.models import CommunityGrid, Subdistrict
    from issues.layers import MAP_STAGES_CLOSED
    from issues.models import OPEN_STAGES, Category

    rng = random.Random(seed)
    categories = list(Category.objects.filter(**({} if office else {"is_private": False}))
                      .values_list("code", flat=True))
    subdistricts = dict(Subdistrict.objects.values_list("pk", "code"))
    communities = list(CommunityGrid.objects.values_list("code", "subdistrict_id"))
    stages = ["", *[str(stage) for stage in OPEN_STAGES], MAP_STAGES_CLOSED]
    seen: set[tuple] = set()
    combos: list[dict[str, str]] = []
    while len(combos) < count:
        combo = {"days": rng.choice(["", "1", "7", "30", "90"])}
        what = rng.random()
        if what < 0.3:
            combo["kind"] = rng.choice(["C", "E"] + (["L"] if office else []))
        elif what < 0.7:
            combo["category"] = rng.choice(categories)
        place = rng.random()
        if place < 0.4:
            combo["subdistrict"] = rng.choice(list(subdistricts.values()))
        elif place < 0.8:
            code, subdistrict = rng.choice(communities)
            combo["community"] = code
            if rng.random() < 0.5:
                combo["subdistrict"] = subdistricts[subdistrict]
        combo["stage"] = rng.choice(stages)
        combo = {key: value for key, value in combo.items() if value}
        key = tuple(sorted(combo.items()))
        if combo and key not in seen:
            seen.add(key)
            combos.append(combo)
    return combos


def _data_get(client, query: dict[str, str], timer: common.SqlTimer | None = None
              ) -> tuple[float, float, int]:
    """One GET of the data endpoint: (wall ms, SQL ms, queries), its SQL counted by ``timer``
    (a new one if none)."""
    from django.db import connection

    timer = timer or common.SqlTimer()
    with connection.execute_wrapper(timer):
        started = time.perf_counter()
        response = client.get(DATA_URL, query)
        elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{DATA_URL} {query}: {response.status_code} {response.content[:200]}")
    return elapsed * 1000, timer.seconds * 1000, timer.queries


def _data_get_by_layer(client, query: dict[str, str], layers: list[dict[str, float]]
                       ) -> tuple[float, float, int]:
    """``_data_get``, and the wall ms of each live layer's selector (``LIVE_LAYERS``; SQL and
    Python) appended to ``layers``: where a first request's time goes. The clock's wrappers
    cost microseconds a call."""
    timer = common.SqlTimer()
    clock = _SelectorClock(lambda: timer)
    clock.install()
    try:
        row = _data_get(client, query, timer)
    finally:
        clock.uninstall()
    spent: dict[str, float] = {}
    for name, wall, _sql, _queries, _nested in clock.calls:
        if name in LIVE_LAYERS:
            spent[name] = spent.get(name, 0.0) + wall * 1000
    layers.append(spent)
    return row


def _with_cpu(run: Callable[[], list]) -> tuple[list, tuple[float, float]]:
    """``run()`` and the CPU milliseconds it took this process (Django: the view, the
    selectors, the JSON) and the PostgreSQL server (``common.postgres_cpu_s``): the work done,
    steadier than wall times on a shared host (each reading is in clock ticks, 10 ms: summed
    over a pass of 40 requests)."""
    process, postgres = time.process_time(), common.postgres_cpu_s()
    rows = run()
    return rows, ((time.process_time() - process) * 1000,
                  (common.postgres_cpu_s() - postgres) * 1000)


def filters_time(*, session_key: str | None, combos: list[dict[str, str]],
                 live_warmup: dict[str, str], baseline_requests: int, warmup: int) -> dict:
    """The data endpoint's server time (Django's test client in this process, as
    ``server_time``: the whole request, JSON included) for each filter combination twice:
    ``cold``, the first request, with the map's cache emptied before (the layers computed
    live), and ``warm``, the same request again (from the shared cache), and, in the same
    run, ``baseline``: the default view (the snapshot) ``baseline_requests`` times.

    Warmed up, not counted, by the default view ``warmup`` times and by ``live_warmup``, a
    combination outside ``combos`` computed live: a connection's first live layers pay once
    for what the snapshot never needs (PROJ's transformation to WGS 84 set up, the aggregate
    tables' catalogue entries), 50-90 ms that fell on whichever combination came first."""
    from django.conf import settings
    from django.test import Client

    from issues.aggregates import aggregates_version_bump

    client = Client(SERVER_NAME="localhost")
    if session_key:
        client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    for _ in range(warmup):  # connection, PROJ, catalogues, plans: not counted
        _data_get(client, {})
    _data_get(client, live_warmup)
    baseline, baseline_cpu = _with_cpu(lambda: [_data_get(client, {})
                                                for _ in range(baseline_requests)])
    aggregates_version_bump()  # nothing cached before: every first request computes
    cold_layers: list[dict[str, float]] = []
    cold, cold_cpu = _with_cpu(lambda: [_data_get_by_layer(client, combo, cold_layers)
                                        for combo in combos])
    warm, warm_cpu = _with_cpu(lambda: [_data_get(client, combo) for combo in combos])

    def summary(rows: list[tuple[float, float, int]], cpu: tuple[float, float]) -> dict:
        return {"ms": _stats([row[0] for row in rows]), "sql_ms": _stats([row[1] for row in rows]),
                "queries": max(row[2] for row in rows),
                "cpu_ms_per_request": {"django": round(cpu[0] / len(rows), 1),
                                       "postgres": round(cpu[1] / len(rows), 1)}}

    slowest = sorted(zip((row[0] for row in cold), combos, cold_layers, strict=True),
                     key=lambda r: -r[0])
    return {
        "combinations": len(combos), "baseline": summary(baseline, baseline_cpu),
        "cold": summary(cold, cold_cpu), "warm": summary(warm, warm_cpu),
        "cold_layers_ms": {name: _stats([layers.get(name, 0.0) for layers in cold_layers])
                           for name in LIVE_LAYERS},
        "cache_s": settings.MAP_LIVE_CACHE_S,
        "slowest_cold": [{"ms": round(ms, 1), "filters": combo,
                          "layers_ms": {name: round(value, 1) for name, value in layers.items()}}
                         for ms, combo, layers in slowest[:5]],
        "meets_target_cold": common.percentile([row[0] for row in cold], 95)
        < TARGET_FILTER_P95_MS,
        "meets_target_warm": common.percentile([row[0] for row in warm], 95)
        < TARGET_FILTER_P95_MS,
    }


def filtered_loads(*, base: str, session_key: str | None, combos: list[dict[str, str]],
                   warmup: dict[str, str]) -> dict:
    """First paint of filtered views: a cold load (new context) of ``/map/?<filters>`` in
    Chromium for each combination, not cached before (gunicorn computes the layers live)."""
    from urllib.parse import urlencode

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            # Warm-up, not counted: each worker's first /map/ and first live layers (its
            # connections' first statements: see filters_time), a combination outside combos.
            for path in (MAP_URL, f"{MAP_URL}?{urlencode(warmup)}"):
                for _ in range(common.web_workers()):
                    _cold_load(browser, base, session_key, path, LAYERS_WATCH_FILTERED)
            runs = [_cold_load(browser, base, session_key, f"{MAP_URL}?{urlencode(combo)}",
                               LAYERS_WATCH_FILTERED) for combo in combos]
        finally:
            browser.close()
    timing = {key: _stats([run["timings"][key] for run in runs])
              for key in ("fcp", "layers", "ttfb", "load")}
    return {"loads": len(runs), "timing_ms": timing,
            "page_errors": sorted({error for run in runs for error in run["errors"]}),
            "blocked_requests": sum(len(run["blocked"]) for run in runs),
            "meets_fcp_target": (timing["fcp"].get("p95") or 1e9) < TARGET_FILTERED_FCP_MS}


def run_filters(*, combinations: int = 40, baseline: int = 20, warmup: int = 3, loads: int = 5,
                browser: bool = True, seed: int = 20) -> dict:
    """Benchmark 6's filter scenario (issue 20): ``filters_time`` for the public and office
    staff, then ``filtered_loads`` in Chromium; figures in var/bench/map_filters_<db>.json."""
    common.django_setup(DJANGO_DEBUG="0")
    from django.conf import settings
    from django.contrib.sessions.models import Session

    import civicmap.wsgi  # noqa: F401  (the heap as a gunicorn worker has it)

    counts = _counts()
    session_key = _office_session()
    result: dict = {"measured_at": common.now_iso(), "database": common.BENCH_DB,
                    "counts": counts, "machine": common.machine_info(), "seed": seed,
                    "load_average": os.getloadavg(),
                    "targets": {"data_p95_ms": TARGET_FILTER_P95_MS,
                                "fcp_ms": TARGET_FILTERED_FCP_MS}}
    tmp = Path(tempfile.mkdtemp(prefix="civicmap-bench-map-"))
    try:
        snapshot_refresh()  # the baseline's snapshot, as beat keeps it
        for audience, key in (("public", None), ("office", session_key)):
            # One more than measured, the same first ones: the last warms the live path up.
            *combos, live_warmup = filter_combinations(count=combinations + 1, seed=seed,
                                                       office=key is not None)
            timed = result[audience] = filters_time(
                session_key=key, combos=combos, live_warmup=live_warmup,
                baseline_requests=baseline, warmup=warmup)
            by_layer = {name: stats["p95"] for name, stats in timed["cold_layers_ms"].items()}
            common.log(f"{NAME}: {audience}: {combinations} filters: cold p50 "
                       f"{timed['cold']['ms']['p50']} p95 {timed['cold']['ms']['p95']} ms, "
                       f"warm p95 {timed['warm']['ms']['p95']} ms; default view p95 "
                       f"{timed['baseline']['ms']['p95']} ms; CPU a cold request "
                       f"{timed['cold']['cpu_ms_per_request']}; cold p95 by layer "
                       f"{by_layer}")
        detail = common.RESULTS_DIR / f"map_filters_{common.BENCH_DB}.json"
        detail.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        if browser:
            os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop
            common.static_ensure()  # the pages' static URLs (the data endpoint needs none)
            process, base = common.gunicorn_start(
                env=common.bench_env(DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost"),
                log_path=tmp / "gunicorn.log", extra_args=("--timeout", "120"))
            try:
                *combos, warmup = filter_combinations(count=loads + 1, seed=seed + 1,
                                                      office=False)
                loaded = result["public"]["browser"] = filtered_loads(
                    base=base, session_key=None, combos=combos, warmup=warmup)
                common.log(f"{NAME}: public: {loads} filtered cold loads: FCP p50 "
                           f"{loaded['timing_ms']['fcp'].get('p50')} p95 "
                           f"{loaded['timing_ms']['fcp'].get('p95')} ms, layers p95 "
                           f"{loaded['timing_ms']['layers'].get('p95')} ms")
            finally:
                common.gunicorn_stop(process)
    finally:
        Session.objects.filter(session_key=session_key).delete()
        common.rmtree_quiet(tmp)
    result["cache_s"] = settings.MAP_LIVE_CACHE_S
    detail = common.RESULTS_DIR / f"map_filters_{common.BENCH_DB}.json"
    detail.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    common.log(f"{NAME}: filters: figures in {detail}")
    return result


# --- the benchmark ----------------------------------------------------------------------------

def _counts() -> dict:
    from django.conf import settings
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), max(received_at) FROM issues_report")
        reports, latest = cursor.fetchone()
        cursor.execute("""SELECT count(*) FROM issues_report
                          WHERE received_at >= now() - %s * interval '1 day'""",
                       [settings.MAP_PERIOD_DAYS])
        (in_period,) = cursor.fetchone()
        cursor.execute("SELECT count(*), count(*) FILTER (WHERE stage IN "
                       "('new', 'filed', 'dispatched', 'in_progress', 'handed_in')) "
                       "FROM issues_case")
        cases, open_cases = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM issues_reportcellhour")
        (cell_hours,) = cursor.fetchone()
    return {"reports": reports, "reports_in_map_period": in_period, "cases": cases,
            "open_cases": open_cases, "cell_hour_rows": cell_hours,
            "latest_report": latest.isoformat() if latest else None,
            "map_period_days": settings.MAP_PERIOD_DAYS}


def run(*, requests: int = 20, warmup: int = 3, loads: int = 5, browser: bool = True) -> dict:
    common.django_setup(DJANGO_DEBUG="0")
    from django.conf import settings
    from django.contrib.sessions.models import Session

    # The heap as a gunicorn worker has it: civicmap/wsgi.py freezes what loading left behind.
    import civicmap.wsgi  # noqa: F401

    assert not settings.DEBUG
    common.static_ensure()  # the page's static URLs, in this process as under gunicorn
    counts = _counts()
    common.log(f"{NAME}: {common.BENCH_DB}: {counts['reports']:,} reports "
               f"({counts['reports_in_map_period']:,} in the map's {counts['map_period_days']} "
               f"days), {counts['open_cases']:,} open cases of {counts['cases']:,}")
    if counts["latest_report"]:
        common.log(f"{NAME}: latest report {counts['latest_report']} (the map shows the days "
                   "up to now: an old history leaves it empty)")
    session_key = _office_session()
    result: dict = {"measured_at": common.now_iso(), "database": common.BENCH_DB,
                    "counts": counts, "basemap": settings.BASEMAP,
                    "machine": common.machine_info(),
                    "targets": {"raw_bytes": TARGET_BYTES, "data_p95_ms": TARGET_DATA_P95_MS,
                                "fcp_ms": TARGET_FCP_MS}}
    tmp = Path(tempfile.mkdtemp(prefix="civicmap-bench-map-"))
    refreshes: list[float] = []
    try:
        for audience, key in (("public", None), ("office", session_key)):
            refreshes.append(snapshot_refresh())
            common.log(f"{NAME}: snapshot refreshed in {refreshes[-1]:.0f} ms")
            result[audience] = {}
            for path, measure in (("server", server_time), ("server_live", server_time_live)):
                common.log(f"{NAME}: {audience} ({path}): server time, {warmup} + {requests} "
                           "requests")
                server = result[audience][path] = measure(session_key=key, requests=requests,
                                                          warmup=warmup)
                common.log(f"{NAME}: {audience} ({path}): view p50 {server['view_ms']['p50']} "
                           f"ms, p95 {server['view_ms']['p95']} ms; data p50 "
                           f"{server['data_ms']['p50']} ms, p95 {server['data_ms']['p95']} ms "
                           f"(SQL p95 {server['data_sql_ms']['p95']} ms, "
                           f"{server['data_queries']} queries); HTML {server['html_bytes']:,} "
                           f"bytes; {server['served_from_snapshot']} of {requests} from the "
                           "snapshot")
            result[audience]["html_parts"] = _html_breakdown(session_key=key)
        if browser:
            refreshes.append(snapshot_refresh())  # what beat keeps, for gunicorn's workers
            os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop
            process, base = common.gunicorn_start(
                env=common.bench_env(DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost"),
                log_path=tmp / "gunicorn.log", extra_args=("--timeout", "120"))
            try:
                for audience, key in (("public", None), ("office", session_key)):
                    common.log(f"{NAME}: {audience}: {loads} cold loads in Chromium at {base}")
                    loaded = browser_loads(base=base, session_key=key, loads=loads)
                    result[audience]["browser"] = loaded
                    t = loaded["timing_ms"]
                    common.log(f"{NAME}: {audience}: {loaded['requests']} requests, "
                               f"{loaded['bytes']['raw']:,} bytes raw, "
                               f"{loaded['bytes']['sent']:,} sent, "
                               f"{loaded['bytes']['gzip']:,} gzip; FCP median "
                               f"{t['fcp'].get('median')} ms, layers {t['layers'].get('median')} "
                               f"ms, TTFB {t['ttfb'].get('median')} ms")
            finally:
                common.gunicorn_stop(process)
    finally:
        Session.objects.filter(session_key=session_key).delete()
        common.rmtree_quiet(tmp)
    result["snapshot_refresh"] = {"ms": _stats(refreshes),
                                  "interval_s": settings.MAP_SNAPSHOT_INTERVAL_S,
                                  "max_age_s": settings.MAP_SNAPSHOT_MAX_AGE_S}
    public = result["public"]
    result["meets_target"] = {
        "data_p95": public["server"]["meets_target"],
        "data_p95_live": public["server_live"]["meets_target"],
        **({"bytes": public["browser"]["meets_bytes_target"],
            "fcp": public["browser"]["meets_fcp_target"]} if browser else {}),
    }
    detail = common.RESULTS_DIR / f"map_{common.BENCH_DB}.json"  # every request, every load
    detail.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    if common.BENCH_DB == "civicmap_bench":  # results.json holds the figures of the 1M database
        common.result_write(NAME, result)
    else:
        common.log(f"{NAME}: a development database: figures in {detail} only")
    common.log(f"{NAME}: targets met: {result['meets_target']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--loads", type=int, default=5, help="cold loads in Chromium")
    parser.add_argument("--no-browser", action="store_true",
                        help="only the server time (no gunicorn, no Chromium)")
    parser.add_argument("--filters", type=int, default=40,
                        help="random filter combinations of the filter scenario (0: none)")
    parser.add_argument("--only-filters", action="store_true",
                        help="the filter scenario alone (issue 20)")
    args = parser.parse_args()
    common.bench_db_ensure()
    if not args.only_filters:
        run(requests=args.requests, warmup=args.warmup, loads=args.loads,
            browser=not args.no_browser)
    if args.filters:
        run_filters(combinations=args.filters, baseline=args.requests, warmup=args.warmup,
                    loads=args.loads, browser=not args.no_browser)


if __name__ == "__main__":
    main()
