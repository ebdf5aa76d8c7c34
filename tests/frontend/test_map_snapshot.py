"""The governance map's default view served from its periodic snapshot.

``map_snapshot_refresh`` (run by Celery beat) stores the layers of ``/map/`` with its default
filters for each audience (public, office staff) and language; ``map_layers`` serves them while
they are younger than ``MAP_SNAPSHOT_MAX_AGE_S`` and computes everything else live. A page
tells which path it took by its counts: a report added after the refresh is missing from a
snapshot and present in a live read.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from frontend import selectors
from frontend.codec import dataclass_from_json, dataclass_to_json
from frontend.models import MapAudience, MapSnapshot
from frontend.selectors import (
    MapLayers,
    map_filters_default,
    map_layers,
    map_layers_live,
    map_reads,
)
from frontend.services import map_snapshot_refresh
from frontend.tasks import map_snapshot_refresh_task
from issues.layers import HotspotCase, map_filters_for_period
from tests.frontend.helpers import (
    OFFICE_ROLES,
    PRIVATE_CATEGORY,
    ROLES,
    XINGONG,
    XSS_DESCRIPTION,
    client_for,
    report_add,
)

pytestmark = pytest.mark.django_db

MAP_URL = "/map/"
ZH, EN = "zh-hans", "en"
# A unit grid's feature as folium writes it into the page (frontend.maps, unit-grid layer).
# The page's unit grid counts by grid id (civicmap.unitGridsOnDemand's spec).
UNIT_GRID_COUNTS = re.compile(r'"counts": (\{[^{}]*\})')



def _stored(audience: MapAudience, language: str = ZH) -> MapLayers:
    snapshot = MapSnapshot.objects.get(audience=audience, language=language)
    return dataclass_from_json(MapLayers, snapshot.layers)


def _reports(layers: MapLayers) -> int:
    return sum(unit.reports for unit in layers.unit_grids)


def _live(*, include_private: bool, language: str = ZH, days: int | None = None) -> MapLayers:
    now = timezone.now()
    filters = (map_filters_for_period(now=now, days=days, include_private=include_private)
               if days else map_filters_default(now=now, include_private=include_private))
    with map_reads():
        return map_layers_live(filters=filters, now=now, language=language)


def _page_reports(response) -> int:
    """Reports on the page's unit grids (every report of the period lies in one)."""
    found = UNIT_GRID_COUNTS.findall(response.content.decode())
    assert len(found) == 1, "no unit grid counts on the page"
    counts = json.loads(found[0])
    assert counts and all(len(grid_id) == 15 for grid_id in counts)
    return sum(counts.values())


def _report_after_refresh(now) -> None:
    """A public report at Xingong an hour ago, added once the snapshot was taken."""
    report_add(point=XINGONG, code="E0505", received_at=now - timedelta(hours=1))


# --- the codec --------------------------------------------------------------------------------


def test_layers_survive_json_and_back(map_history_shared):
    layers = _live(include_private=True)
    spot = layers.clusters[0]
    assert spot.latest and spot.categories and layers.heat_cells and layers.grids  # every kind
    data = json.loads(json.dumps(dataclass_to_json(layers)))  # plain JSON, nothing else
    back = dataclass_from_json(MapLayers, data)
    assert back == layers  # lists of tuples and aware datetimes compare unequal to lists/str
    assert isinstance(back.clusters[0].categories[0], tuple)
    assert back.clusters[0].latest[0].last_report_at == spot.latest[0].last_report_at
    assert back.clusters[0].latest[0].last_report_at.tzinfo is not None


def test_codec_refuses_naive_datetimes():
    case = HotspotCase(category="C0101", description="", last_report_at=timezone.now()
                       .replace(tzinfo=None))
    with pytest.raises(ValueError, match="naive"):
        dataclass_to_json(case)


# --- the refresh ------------------------------------------------------------------------------


def test_snapshot_equals_a_live_computation(map_history_shared, settings):
    now = timezone.now()
    map_snapshot_refresh(now=now)
    assert MapSnapshot.objects.count() == 2 * len(settings.LANGUAGES)
    for include_private, audience in ((False, MapAudience.PUBLIC), (True, MapAudience.OFFICE)):
        filters = map_filters_default(now=now, include_private=include_private)
        for language, _name in settings.LANGUAGES:
            with map_reads():
                live = map_layers_live(filters=filters, now=now, language=language)
            snapshot = MapSnapshot.objects.get(audience=audience, language=language)
            assert dataclass_from_json(MapLayers, snapshot.layers) == live  # through jsonb
            assert (snapshot.computed_at, snapshot.since, snapshot.until) == (
                now, filters.since, filters.until)


def test_an_older_refresh_never_replaces_a_newer_snapshot(map_history_shared):
    now = timezone.now()
    map_snapshot_refresh(now=now)
    _report_after_refresh(now)
    map_snapshot_refresh(now=now - timedelta(minutes=1))  # a slow run that started earlier
    assert set(MapSnapshot.objects.values_list("computed_at", flat=True)) == {now}
    assert _reports(_stored(MapAudience.PUBLIC)) == _reports(_live(include_private=False)) - 1


def test_the_beat_task_refreshes_every_snapshot_in_place(map_history_shared, settings):
    entry = next(entry for entry in settings.CELERY_BEAT_SCHEDULE.values()
                 if entry["task"] == map_snapshot_refresh_task.name)
    assert entry["schedule"] == settings.MAP_SNAPSHOT_INTERVAL_S
    before = timezone.now()
    assert map_snapshot_refresh_task.apply().get() == 2 * len(settings.LANGUAGES)  # eagerly
    first = dict(MapSnapshot.objects.values_list("pk", "computed_at"))
    assert set(MapSnapshot.objects.values_list("audience", "language")) == {
        (audience, language) for audience in MapAudience.values
        for language, _name in settings.LANGUAGES}
    assert min(first.values()) >= before
    _report_after_refresh(before)
    map_snapshot_refresh_task.apply().get()
    again = dict(MapSnapshot.objects.values_list("pk", "computed_at"))
    assert again.keys() == first.keys()  # the same rows, replaced
    assert all(again[pk] > first[pk] for pk in first)
    assert _reports(_stored(MapAudience.PUBLIC)) == _reports(_live(include_private=False))


def test_command_refreshes_the_snapshots_at_start(map_history_shared, settings):
    """scripts/run.sh runs it after seed_demo, so the first visitors need not wait for beat."""
    from io import StringIO

    from django.core.management import call_command

    before = timezone.now()
    out = StringIO()
    call_command("map_snapshot_refresh", stdout=out)
    assert out.getvalue().count("map snapshot ") == 2 * len(settings.LANGUAGES)
    assert MapSnapshot.objects.filter(computed_at__gte=before).count() == 2 * len(
        settings.LANGUAGES)


def test_database_keeps_one_valid_snapshot_per_audience_and_language(map_history_shared):
    now = timezone.now()
    map_snapshot_refresh(now=now)
    row = {"computed_at": now, "since": now - timedelta(days=30), "until": now, "layers": {}}
    for bad in ({"audience": "office", "language": ZH},  # a second office snapshot in Chinese
                {"audience": "staff", "language": "fr"},  # an audience nobody is
                {"audience": "public", "language": "fr", "since": now}):  # an empty period
        with pytest.raises(IntegrityError), transaction.atomic():
            MapSnapshot.objects.create(**(row | bad))


# --- what /map/ serves ------------------------------------------------------------------------


def test_fresh_snapshot_is_served_with_its_time(map_history_shared, client):
    map_snapshot_refresh(now=timezone.now())
    snapshot = MapSnapshot.objects.get(audience=MapAudience.PUBLIC, language=ZH)
    _report_after_refresh(map_history_shared)
    live = _reports(_live(include_private=False))

    response = client.get(MAP_URL)
    assert _page_reports(response) == _reports(_stored(MapAudience.PUBLIC)) == live - 1
    assert response.context["as_of"] == snapshot.computed_at
    as_of = timezone.localtime(snapshot.computed_at).strftime("%Y-%m-%d %H:%M")  # Asia/Shanghai
    assert f"数据截至 {as_of}</small>" in response.content.decode()


def test_fresh_snapshot_is_served_without_computing_the_layers(map_history_shared, client,
                                                                monkeypatch):
    map_snapshot_refresh(now=timezone.now())

    def live_read(**kwargs):
        raise AssertionError("the layers were computed although the snapshot is fresh")

    monkeypatch.setattr(selectors, "map_layers_live", live_read)
    assert client.get(MAP_URL).status_code == 200
    with pytest.raises(AssertionError, match="computed"):  # a filtered map needs it
        client.get(MAP_URL, {"category": "E0505"})


@pytest.mark.parametrize("snapshot", ["missing", "stale", "of another period"])
def test_without_a_usable_snapshot_the_map_is_computed_live(map_history_shared, client, settings,
                                                            snapshot):
    refreshed_at = timezone.now()
    if snapshot == "stale":  # beat stopped
        refreshed_at -= timedelta(seconds=settings.MAP_SNAPSHOT_MAX_AGE_S + 60)
    if snapshot != "missing":
        map_snapshot_refresh(now=refreshed_at)
    if snapshot == "of another period":
        settings.MAP_PERIOD_DAYS = 7  # the snapshot counts 30 days, the map now opens on 7
    _report_after_refresh(map_history_shared)
    before = timezone.now()

    response = client.get(MAP_URL)
    assert _page_reports(response) == _reports(
        _live(include_private=False, days=settings.MAP_PERIOD_DAYS))
    assert response.context["as_of"] >= before
    assert "数据截至 " in response.content.decode()


def test_a_snapshot_just_younger_than_the_limit_is_served(map_history_shared, client, settings):
    map_snapshot_refresh(now=timezone.now()
                         - timedelta(seconds=settings.MAP_SNAPSHOT_MAX_AGE_S - 60))
    _report_after_refresh(map_history_shared)
    stored = _reports(_stored(MapAudience.PUBLIC))
    assert _page_reports(client.get(MAP_URL)) == stored < _reports(_live(include_private=False))


@pytest.mark.parametrize(("query", "served"), [
    ({"category": "E0505"}, "live"),
    ({"days": 7}, "live"),
    ({"days": 90}, "live"),
    ({"days": 30}, "snapshot"),  # the default period asked for by name is the default view
])
def test_only_the_default_view_comes_from_the_snapshot(map_history_shared, client, query, served):
    map_snapshot_refresh(now=timezone.now())
    _report_after_refresh(map_history_shared)
    now = timezone.now()
    filters = map_filters_for_period(
        now=now, days=query.get("days", 30),
        categories=(query["category"],) if "category" in query else ())
    with map_reads():
        live = _reports(map_layers_live(filters=filters, now=now, language=ZH))
    response = client.get(MAP_URL, query)
    expected = live if served == "live" else live - 1  # the snapshot misses the new report
    assert _page_reports(response) == expected


# --- audiences and languages ------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_served_its_own_audience(map_history_shared, client, role):
    """Office staff get the office's snapshot (private categories, descriptions); every other
    role, signed in or not, the public one and never the office's."""
    map_snapshot_refresh(now=timezone.now())
    office = role in OFFICE_ROLES
    public_layers, office_layers = _stored(MapAudience.PUBLIC), _stored(MapAudience.OFFICE)
    assert _reports(office_layers) == _reports(public_layers) + 1  # the private need
    _report_after_refresh(map_history_shared)

    response = client_for(client, role).get(MAP_URL)
    html = response.content.decode()
    audience = MapAudience.OFFICE if office else MapAudience.PUBLIC
    assert response.context["as_of"] == MapSnapshot.objects.get(
        audience=audience, language=ZH).computed_at
    assert _page_reports(response) == _reports(office_layers if office else public_layers)
    for text in ("private need", "hotspot case", PRIVATE_CATEGORY):
        assert (text in html) == office


def test_public_snapshot_holds_no_private_category_and_no_description(map_history_shared):
    from issues.models import Category

    map_snapshot_refresh(now=timezone.now())
    private_name = Category.objects.get(code=PRIVATE_CATEGORY).name_zh
    public = MapSnapshot.objects.get(audience=MapAudience.PUBLIC, language=ZH).layers
    office = MapSnapshot.objects.get(audience=MapAudience.OFFICE, language=ZH).layers
    public_text = json.dumps(public, ensure_ascii=False)
    office_text = json.dumps(office, ensure_ascii=False)
    assert public["clusters"] and all(spot["latest"] == [] for spot in public["clusters"])
    assert "private need" not in public_text and private_name not in public_text
    assert "private need" in office_text and private_name in office_text
    described = [case["description"] for spot in office["clusters"] for case in spot["latest"]]
    assert XSS_DESCRIPTION in described  # raw: escaping is the page's job, as when live


def test_languages_are_kept_apart(map_history_shared, client):
    from civicmap.models import CommunityGrid

    map_snapshot_refresh(now=timezone.now())
    zh, en = _stored(MapAudience.PUBLIC, ZH), _stored(MapAudience.PUBLIC, EN)
    assert [grid.name for grid in zh.grids] == list(
        CommunityGrid.objects.order_by("code").values_list("name_zh", flat=True))
    assert [grid.name for grid in en.grids] == list(
        CommunityGrid.objects.order_by("code").values_list("name_en", flat=True))
    assert {grid.name for grid in zh.grids}.isdisjoint(grid.name for grid in en.grids)

    english = MapSnapshot.objects.get(audience=MapAudience.PUBLIC, language=EN)
    response = client.get(MAP_URL, HTTP_ACCEPT_LANGUAGE="en")
    assert response.context["as_of"] == english.computed_at
    assert en.grids[0].name in response.content.decode()
    assert "Data as of " in response.content.decode()

    english.delete()  # the Chinese snapshot is no English one
    before = timezone.now()
    assert client.get(MAP_URL, HTTP_ACCEPT_LANGUAGE="en").context["as_of"] >= before
    assert client.get(MAP_URL).context["as_of"] < before


# --- the page is the same page ----------------------------------------------------------------

# What differs between two renders of one map: CSP nonces, folium's element ids, CSRF tokens.
_PER_RENDER = [
    (re.compile(r'nonce="[^"]+"'), 'nonce=""'),
    (re.compile(r"_[0-9a-f]{32}"), "_id"),
    (re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"'), 'name="csrfmiddlewaretoken"'),
]


def _normalised(html: str) -> str:
    for pattern, replacement in _PER_RENDER:
        html = pattern.sub(replacement, html)
    return html


@pytest.mark.parametrize("role", ["anonymous", "office_staff"])
def test_page_from_the_snapshot_is_the_page_computed_live(map_history_shared, client, settings,
                                                          monkeypatch, role):
    """Same moment, same data: the two paths render the same HTML, user text escaped alike."""
    now = timezone.now()
    map_snapshot_refresh(now=now)
    monkeypatch.setattr(timezone, "now", lambda: now)
    client = client_for(client, role)
    from_snapshot = client.get(MAP_URL).content.decode()
    settings.MAP_SNAPSHOT_MAX_AGE_S = 0  # every snapshot stale: computed live
    live = client.get(MAP_URL).content.decode()
    assert _normalised(from_snapshot) == _normalised(live)
    assert XSS_DESCRIPTION not in from_snapshot  # only ever as escaped JSON
    assert ("\\u003cscript\\u003ewindow.__xss" in from_snapshot) == (role in OFFICE_ROLES)


def test_map_layers_reads_the_audience_of_its_filters(map_history_shared, settings):
    """The reader's only key to the office's row is the flag that lets private categories into
    a live read: there is no way to ask for the office's snapshot with public filters."""
    now = timezone.now()
    map_snapshot_refresh(now=now)
    MapSnapshot.objects.filter(audience=MapAudience.PUBLIC).delete()
    filters = map_filters_default(now=now, include_private=False)
    with map_reads():
        public = map_layers(filters=filters, now=now, language=ZH)
        live = map_layers_live(filters=filters, now=now, language=ZH)
    assert public == live  # computed live, not the office's snapshot
    assert _reports(public) == _reports(_stored(MapAudience.OFFICE)) - 1  # the private need
    assert public.clusters and all(spot.latest == [] for spot in public.clusters)
