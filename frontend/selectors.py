"""The maps' reads: each app exports its own layers as plain values (civicmap.layers,
issues.layers, patrol.layers, stations.layers) and this module composes them into what the
governance map and the office console draw, and serves the governance map's default view from
its snapshot (``map_layers``). No SQL of its own, no app's output parsed again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import translation

from civicmap.beside import cores_to_spare, read_beside
from civicmap.layers import UnitGridShape, community_grid_shapes, unit_grid_shapes
from civicmap.replica import read_alias
from civicmap.scopes import EVERYWHERE, user_subdistrict_ids
from frontend.codec import dataclass_from_json
from frontend.models import MapAudience, MapSnapshot
from issues.aggregates import aggregates_version
from issues.layers import (
    GridReportCounts,
    HeatCell,
    Hotspot,
    MapFilters,
    case_hotspots,
    map_filters_for_period,
    open_case_counts,
    report_grid_counts,
    report_heat_cells,
)
from patrol.layers import overdue_case_counts

T = TypeVar("T")


# Whether the enclosing map_reads block lets the map read beside it (map_read_beside).
_reads_beside: ContextVar[bool] = ContextVar("frontend_map_reads_beside", default=False)


@contextmanager
def map_reads() -> Iterator[None]:
    """Read a map's layers in one transaction (READ COMMITTED: each statement sees what was
    committed when it began, so layers read a moment apart may differ by a report or two), on
    the database reads go to: the replica inside a ``replica_reads()`` block that chose it.

    PostgreSQL's JIT compiler is off for the app's connections (the database OPTIONS in
    civicmap/settings/base.py, docs/DECISIONS.md): these queries are estimated above
    ``jit_above_cost`` and compiling them took longer than running them. Parallel workers are
    off in the transaction (D-094): a map's statements take tens of milliseconds, and the
    workers started for them cost the server more CPU than they saved in time. Inside an outer
    transaction (a test's) the setting is put back when the block ends; after an error the
    rollback to its savepoint puts it back.

    The outermost block lets the map read beside itself (``map_read_beside``) while the
    machine has cores to spare (``settings.MAP_READS_BESIDE_BELOW_LOAD``): in READ COMMITTED a
    second session sees what this one would. Inside a transaction that may have written (a
    test's; one on the primary sends the reads there too: ``read_alias``) every read stays on
    this connection.
    """
    alias = read_alias()
    connection = connections[alias]
    outermost = not connection.in_atomic_block
    beside = _reads_beside.set(
        outermost and cores_to_spare(below_load=settings.MAP_READS_BESIDE_BELOW_LOAD))
    try:
        with transaction.atomic(using=alias):
            before = _parallel_workers_set(connection, "0")
            yield
            if not outermost:
                _parallel_workers_set(connection, before)
    finally:
        _reads_beside.reset(beside)


def map_read_beside(read: Callable[[], T], *, language: str) -> Callable[[], T]:
    """``read`` in ``language``, started now in a ``map_reads`` of its own on another
    connection (``civicmap.beside``) when the enclosing ``map_reads`` allows it, else run in
    the enclosing one when its result is asked for; returns that ask."""
    translated = partial(_translated, read, language=language)
    if not _reads_beside.get():
        return translated
    return read_beside(partial(_map_reads_run, translated)).result


def _translated(read: Callable[[], T], *, language: str) -> T:
    with translation.override(language):
        return read()


def _map_reads_run(read: Callable[[], T]) -> T:
    with map_reads():
        return read()


def _parallel_workers_set(connection: BaseDatabaseWrapper, value: str) -> str:
    """Set ``max_parallel_workers_per_gather`` for the rest of the transaction; returns what it
    was."""
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH was AS MATERIALIZED ("
            "SELECT current_setting('max_parallel_workers_per_gather') AS value) "
            "SELECT value, set_config('max_parallel_workers_per_gather', %s, true) FROM was",
            [value])
        return cursor.fetchone()[0]


# --- community and unit grids (civicmap's polygons, counted by issues and patrol) -----------


@dataclass(frozen=True)
class CommunityStats:
    code: str
    name: str
    geometry: dict  # GeoJSON polygon, WGS 84
    area_km2: float
    reports: int  # reports received in the period
    open_cases: int  # open now
    overdue_cases: int  # open now with a live task past its deadline

    @property
    def reports_per_km2(self) -> float:
        return self.reports / self.area_km2 if self.area_km2 else 0.0


@dataclass(frozen=True)
class CommunityCaseCounts:
    open: dict[int, int]  # community grid pk -> cases in the filters' stages
    overdue: dict[int, int]  # community grid pk -> those with a live task past its deadline


def community_case_counts(*, filters: MapFilters, now: datetime) -> CommunityCaseCounts:
    """The cases ``community_grid_stats`` counts per community grid: open, and overdue."""
    return CommunityCaseCounts(open=open_case_counts(filters=filters),
                               overdue=overdue_case_counts(filters=filters, now=now))


def community_grid_stats(*, filters: MapFilters, now: datetime,
                         counts: GridReportCounts | None = None,
                         cases: CommunityCaseCounts | None = None) -> list[CommunityStats]:
    """Each community grid with its reports in the period, open and overdue cases, and area.

    Reports from the grid aggregates, not the reports themselves (at 1,000,000 reports the raw
    count over 30 days took 250 ms); ``counts``: the period's ``report_grid_counts`` with the
    same filters, when the caller has read them for the unit grids too (the governance map:
    summing the aggregates twice cost 130-170 ms more at 1,000,000 reports); ``cases``: the
    filters' ``community_case_counts``, when the caller read them beside (``map_layers_live``).
    """
    reports = (counts or report_grid_counts(filters=filters)).communities
    cases = cases or community_case_counts(filters=filters, now=now)
    return [
        CommunityStats(
            code=grid.code, name=grid.name, geometry=grid.geometry, area_km2=grid.area_km2,
            reports=reports.get(grid.pk, 0), open_cases=cases.open.get(grid.pk, 0),
            overdue_cases=cases.overdue.get(grid.pk, 0),
        )
        for grid in community_grid_shapes(subdistrict_id=filters.subdistrict_id,
                                          community_id=filters.community_id)
    ]


def office_grid_stats(*, user, filters: MapFilters, now: datetime) -> list[CommunityStats]:
    """``community_grid_stats`` of the subdistricts ``user`` covers (``civicmap.scopes``): the
    office console's own subdistrict, read through the filters' subdistrict (so that its cost
    is that subdistrict's), every one for the district."""
    scope = user_subdistrict_ids(user)
    if scope is EVERYWHERE:
        return community_grid_stats(filters=filters, now=now)
    return [grid for place in sorted(scope)
            for grid in community_grid_stats(filters=replace(filters, subdistrict_id=place),
                                             now=now)]


@dataclass(frozen=True)
class UnitGridStats:
    grid_id: str
    community: str
    geometry: dict  # GeoJSON polygon, WGS 84
    reports: int  # reports received in the period


def unit_grid_stats(*, filters: MapFilters, counts: GridReportCounts | None = None,
                    with_geometry: bool = True) -> list[UnitGridStats]:
    """Every unit grid with its reports in the period (issues' aggregates); ``counts`` as in
    ``community_grid_stats``; ``with_geometry`` as in ``unit_grid_shapes``."""
    reports = (counts or report_grid_counts(filters=filters)).unit_grids
    return [
        UnitGridStats(grid_id=grid.grid_id, community=grid.community, geometry=grid.geometry,
                      reports=reports.get(grid.pk, 0))
        for grid in unit_grid_shapes(subdistrict_id=filters.subdistrict_id,
                                     community_id=filters.community_id,
                                     with_geometry=with_geometry)
    ]


# --- the governance map's layers: live, or its default view from the snapshot --------------


@dataclass(frozen=True)
class MapLayers:
    """The governance map's data layers as read at ``as_of``. Not the stations: whether a
    station is open changes by the minute, and ``station_pins`` takes 18 ms at 1,000,000
    reports, so the view reads them live beside these."""

    as_of: datetime
    heat_cells: list[HeatCell]
    unit_grids: list[UnitGridStats]
    grids: list[CommunityStats]
    clusters: list[Hotspot]


def map_filters_default(*, now: datetime, include_private: bool) -> MapFilters:
    """The governance map as it opens: the last ``settings.MAP_PERIOD_DAYS`` days, every
    category, the whole district (the view the snapshot holds)."""
    return map_filters_for_period(now=now, days=settings.MAP_PERIOD_DAYS,
                                  include_private=include_private)


def map_audience(*, include_private: bool) -> MapAudience:
    """Whose snapshot filters with ``include_private`` read: office staff's, or the public's."""
    return MapAudience.OFFICE if include_private else MapAudience.PUBLIC


def map_layers_live(*, filters: MapFilters, now: datetime, language: str) -> MapLayers:
    """The layers computed by the selectors, names in ``language``. Private categories and the
    hotspots' newest descriptions go together (``filters.include_private``: office staff).
    The unit grids are counts only: the page and the data endpoint join them with the shapes
    of ``map_unit_grids_json``, the same for every filter (D-077).
    Call inside ``map_reads``. The heat cells, the hotspots and the community case counts,
    which need nothing of the others, are read beside them (``map_read_beside``, D-095)."""
    heat_cells = map_read_beside(partial(report_heat_cells, filters=filters), language=language)
    clusters = map_read_beside(
        partial(case_hotspots, filters=filters, eps_m=settings.MAP_HOTSPOT_EPS_M,
                min_cases=settings.MAP_HOTSPOT_MIN_CASES,
                with_descriptions=filters.include_private), language=language)
    cases = map_read_beside(partial(community_case_counts, filters=filters, now=now),
                            language=language)
    with translation.override(language):
        counts = report_grid_counts(filters=filters)
        unit_grids = unit_grid_stats(filters=filters, counts=counts, with_geometry=False)
        grids = community_grid_stats(filters=filters, now=now, counts=counts, cases=cases())
    return MapLayers(as_of=now, heat_cells=heat_cells(), unit_grids=unit_grids, grids=grids,
                     clusters=clusters())


def map_layers(*, filters: MapFilters, now: datetime, language: str) -> MapLayers:
    """The governance map's layers for ``filters`` in ``language``: the snapshot of its
    audience and language (``frontend.services.map_snapshot_refresh``, run by Celery beat) when
    the filters are the default ones and the snapshot is younger than
    ``settings.MAP_SNAPSHOT_MAX_AGE_S``; else computed now (another period or a category, no
    snapshot, a stale one: beat not running).

    The audience follows ``filters.include_private``, the same flag that keeps private
    categories out of the live reads: a public request can only ever read the public row. A
    snapshot's period may end up to that age earlier than a live one's; ``as_of`` says when.
    Call inside ``map_reads``.
    """
    if filters == map_filters_default(now=now, include_private=filters.include_private):
        snapshot = (
            MapSnapshot.objects
            .filter(audience=map_audience(include_private=filters.include_private),
                    language=language,
                    computed_at__gt=now - timedelta(seconds=settings.MAP_SNAPSHOT_MAX_AGE_S))
            .only("since", "until", "layers").first()
        )
        # A period of another length: MAP_PERIOD_DAYS changed since the snapshot was taken.
        if snapshot and snapshot.until - snapshot.since == filters.until - filters.since:
            return dataclass_from_json(MapLayers, snapshot.layers)
    return map_layers_live(filters=filters, now=now, language=language)


# The shape of what ``map_layers_json`` keeps, in its key: a deployment that changes it never
# reads what the previous code kept (2: unit grids as counts by grid id).
MAP_JSON_FORMAT = 2


def map_layers_json(*, filters: MapFilters, now: datetime, language: str, variant: str,
                    build: Callable[[MapLayers], dict]) -> bytes:
    """``build(map_layers(...))`` as JSON bytes, kept ``settings.MAP_LIVE_CACHE_S`` seconds in
    the shared cache (Redis: every web process reads what one computed) under the filters (the
    audience among them: ``include_private``), the language, ``variant`` (what else ``build``
    depends on: the basemap's projection, the query it echoes) and the aggregates' version;
    ``as_of`` inside says when the layers were read. The filters' period is on whole hours, so
    a key lives at most until the next hour's. The bytes, not the layers: unpickling the
    layers' 2,000 unit grid polygons took 160-320 ms, longer than computing most of them. The
    cache fails open (civicmap.cache): with Redis down every request computes. Call inside
    ``map_reads``."""
    key = (f"map-json:{MAP_JSON_FORMAT}:{aggregates_version()}:{language}:{variant}:"
           f"{filters.cache_key()}")
    return _json_kept(key=key, ttl=settings.MAP_LIVE_CACHE_S, make=lambda: build(
        map_layers(filters=filters, now=now, language=language)))


def map_unit_grids_json(*, variant: str, build: Callable[[list[UnitGridShape]], dict]
                        ) -> bytes:
    """``build(every unit grid's shape)`` as JSON bytes, kept ``settings.MAP_UNIT_GRIDS_CACHE_S``
    in the shared cache under ``variant`` (the basemap's projection): the shapes are the same
    for every filter and change with an import only, so the map's data endpoint sends counts by
    grid id and the page fetches these once (``frontend.views.map_unit_grids``). Fails open as
    ``map_layers_json``."""
    return _json_kept(key=f"map-unit-grids:{variant}", ttl=settings.MAP_UNIT_GRIDS_CACHE_S,
                      make=lambda: build(unit_grid_shapes()))


def _json_kept(*, key: str, ttl: int, make: Callable[[], object]) -> bytes:
    """``make()`` as compact JSON bytes, kept ``ttl`` seconds in the shared cache under ``key``
    (0: computed every time). The cache fails open (civicmap.cache)."""
    body = cache.get(key) if ttl > 0 else None
    if body is None:
        body = json.dumps(make(), cls=DjangoJSONEncoder, separators=(",", ":")).encode()
        if ttl > 0:
            cache.set(key, body, timeout=ttl)
    return body
