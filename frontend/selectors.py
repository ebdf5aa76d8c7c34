"""Reads for the maps: the layers of the governance map and of the office console.

They live here rather than in issues/selectors.py, patrol/selectors.py and stations/selectors.py
because those modules were being changed in parallel when the maps were written; each function
says which app it reads and can move there unchanged. Like the API's selectors they count and
cluster inside PostGIS and hand the maps plain values (no model instances), so a map function
can be tested without a database and the API can serve the same numbers.

Units: distances and radii in metres (EPSG:4548 or geography), areas in km², times aware.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.gis.db.models import GeometryField
from django.contrib.gis.db.models.functions import Area, AsGeoJSON, Transform
from django.contrib.gis.gdal import CoordTransform, SpatialReference
from django.contrib.gis.geos import MultiPoint, Point
from django.db import connection, transaction
from django.db.models import (
    Count,
    F,
    FloatField,
    Func,
    Min,
    Model,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.utils import timezone, translation
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import get_language

from civicmap.i18n import name_field
from civicmap.models import WGS84, CommunityGrid, UnitGrid
from civicmap.spatial import CELL_SIZE_M, METRIC_SRID, as_geometry_point, metric
from frontend.codec import dataclass_from_json
from frontend.models import MapAudience, MapSnapshot
from issues.models import (
    OPEN_STAGES,
    Case,
    Category,
    Report,
    ReportCellDay,
    ReportCellHour,
    ReportUnitGridDay,
    ReportUnitGridHour,
)
from patrol.lifecycle import LIVE_TASK_STATUSES
from patrol.models import Task
from patrol.selectors import QueueFilters, triage_queue
from stations.selectors import (
    Period,
    active_stations,
    demand_cells,
    station_features,
    subdistrict_default,
)

DESCRIPTION_MAX_CHARS = 140  # a hotspot popup shows the start of each description
HOTSPOT_LATEST_CASES = 3  # cases listed in a hotspot popup, newest first


@dataclass(frozen=True)
class MapFilters:
    """What a map shows: reports received in [since, until), some categories or all.

    The public sees public categories only; office staff (``include_private``) see all.
    """

    since: datetime
    until: datetime
    categories: tuple[str, ...] = ()
    include_private: bool = False


@contextmanager
def map_reads() -> Iterator[None]:
    """Read a map's layers in one transaction (READ COMMITTED: each statement sees what was
    committed when it began, so layers read a moment apart may differ by a report or two).

    PostgreSQL's JIT compiler is off for the app's connections (the database OPTIONS in
    civicmap/settings/base.py, docs/DECISIONS.md): these queries are estimated above
    ``jit_above_cost`` and compiling them took longer than running them.
    """
    with transaction.atomic():
        yield


def map_filters_for_period(*, now: datetime, days: int, categories: tuple[str, ...] = (),
                           include_private: bool = False) -> MapFilters:
    """The last ``days`` days up to ``now``, on whole hours (the aggregates' resolution)."""
    until = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return MapFilters(since=until - timedelta(days=days), until=until,
                      categories=categories, include_private=include_private)


def _category_q(filters: MapFilters, prefix: str = "category__") -> Q:
    q = Q()
    if not filters.include_private:
        q &= Q(**{f"{prefix}is_private": False})
    if filters.categories:
        q &= Q(**{f"{prefix}code__in": filters.categories})
    return q


def map_category_list(*, include_private: bool) -> QuerySet[Category]:
    """The categories a map may be filtered by (issues)."""
    categories = Category.objects.order_by("code")
    return categories if include_private else categories.filter(is_private=False)


# --- heat: reports per 100 m cell (issues.ReportCellHour) -----------------------------------


@dataclass(frozen=True)
class HeatCell:
    lon: float  # the cell's centre, WGS 84 degrees
    lat: float
    count: int  # reports in the cell


@dataclass(frozen=True)
class HeatFrame:
    hour: datetime  # the start of the hour
    cells: list[HeatCell]


_TO_WGS84 = CoordTransform(SpatialReference(METRIC_SRID), SpatialReference(WGS84))


def _coordinate(axis: str, geometry: Func) -> Func:
    """ST_X or ST_Y of a point geometry, as a float."""
    return Func(geometry, function=f"ST_{axis}", output_field=FloatField())


def _cell_centre_wgs84(axis: str) -> Func:
    """ST_X or ST_Y of a 100 m cell's centre in WGS 84, computed by PostGIS in the query.

    Intake computes a cell as floor(x / 100), floor(y / 100) in EPSG:4548 (issues.aggregates),
    so the centre is ((i + 0.5) * 100, (j + 0.5) * 100) metres, transformed by PostGIS. In the
    query rather than a GEOS point per row in Python: with 1,000,000 reports the week's hourly
    frames hold tens of thousands of cells (seconds in Python).
    """
    centre = Transform(Func(
        # Min() of a grouped column is the column: as an aggregate, PostgreSQL transforms once
        # per cell after grouping (a plain column expression would join the GROUP BY and be
        # transformed for every hourly row).
        Func((Min("cell_x") + 0.5) * CELL_SIZE_M, (Min("cell_y") + 0.5) * CELL_SIZE_M,
             function="ST_MakePoint", output_field=GeometryField(srid=0)),
        Value(METRIC_SRID), function="ST_SetSRID", output_field=GeometryField(srid=METRIC_SRID),
    ), WGS84)
    return _coordinate(axis, centre)


def _heat_rows(filters: MapFilters) -> QuerySet:
    return ReportCellHour.objects.filter(_category_q(filters), hour__gte=filters.since,
                                         hour__lt=filters.until)


def _utc_midnight(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _period_rows(filters: MapFilters, hourly: type[Model], daily: type[Model]
                 ) -> list[QuerySet]:
    """The aggregate rows of the period in the category filter: its whole days (from 00:00
    UTC) from the daily roll-ups, the hours at either end from the hourly rows.

    At 1,000,000 reports a 30-day sum over the hourly rows read about 285,000 of them (100-170
    ms a sum); the daily rows hold the same counts in 160,000 (issues.aggregates keeps both).
    """
    first_day = _utc_midnight(filters.since)
    if first_day < filters.since:
        first_day += timedelta(days=1)
    last_day = _utc_midnight(filters.until)
    category = _category_q(filters)
    if first_day >= last_day:  # no whole day in the period
        return [hourly.objects.filter(category, hour__gte=filters.since,
                                      hour__lt=filters.until)]
    return [
        hourly.objects.filter(category, Q(hour__gte=filters.since, hour__lt=first_day)
                              | Q(hour__gte=last_day, hour__lt=filters.until)),
        daily.objects.filter(category, day__gte=first_day, day__lt=last_day),
    ]


@dataclass(frozen=True)
class GridReportCounts:
    """Reports in the period per unit grid and per community grid (primary key → reports)."""

    unit_grids: Counter
    communities: Counter  # those in no unit grid included


def report_grid_counts(*, filters: MapFilters) -> GridReportCounts:
    """Both counts in one pass over the grid aggregates (issues.aggregates), whole days from
    the daily rows: a community's reports are the sum of its rows, its unit grids' and its
    own row for reports in none of them."""
    unit_grids: Counter = Counter()
    communities: Counter = Counter()
    for rows in _period_rows(filters, ReportUnitGridHour, ReportUnitGridDay):
        for community, unit_grid, reports in (rows.values_list("community_id", "unit_grid_id")
                                              .annotate(n=Sum("count")).order_by()):
            communities[community] += reports
            if unit_grid is not None:
                unit_grids[unit_grid] += reports
    return GridReportCounts(unit_grids=unit_grids, communities=communities)


def report_heat_cells(*, filters: MapFilters) -> list[HeatCell]:
    """Reports per 100 m cell over the period, from the daily and hourly aggregates (issues)."""
    cells: dict[tuple[int, int], list] = {}  # (x, y) -> [lon, lat, reports]
    for rows in _period_rows(filters, ReportCellHour, ReportCellDay):
        for x, y, lon, lat, n in (
            rows.values("cell_x", "cell_y")
            .annotate(n=Sum("count"), lon=_cell_centre_wgs84("X"), lat=_cell_centre_wgs84("Y"))
            .order_by().values_list("cell_x", "cell_y", "lon", "lat", "n")
        ):
            cells.setdefault((x, y), [lon, lat, 0])[2] += n
    return [HeatCell(lon=lon, lat=lat, count=n) for _key, (lon, lat, n) in sorted(cells.items())]


def report_heat_frames(*, filters: MapFilters) -> list[HeatFrame]:
    """Reports per 100 m cell for every hour of the period, empty hours included (issues).

    Two queries: the counts per hour and cell, and the centre of each distinct cell once (a
    week holds ~30 hourly rows per cell at 1,000,000 reports: 30 times fewer transforms).
    """
    rows = _heat_rows(filters)
    counts = list(rows.values("hour", "cell_x", "cell_y").annotate(n=Sum("count"))
                  .order_by("hour", "cell_x", "cell_y")
                  .values_list("hour", "cell_x", "cell_y", "n"))
    # After the counts: cells are only ever added, so every counted cell has its centre.
    centres = {
        (x, y): (lon, lat)
        for x, y, lon, lat in rows.values("cell_x", "cell_y")
        .annotate(lon=_cell_centre_wgs84("X"), lat=_cell_centre_wgs84("Y")).order_by()
        .values_list("cell_x", "cell_y", "lon", "lat")
    }
    by_hour: dict[datetime, list[HeatCell]] = defaultdict(list)
    for hour, x, y, n in counts:
        lon, lat = centres[(x, y)]
        by_hour[hour].append(HeatCell(lon=lon, lat=lat, count=n))
    return [HeatFrame(hour=hour, cells=by_hour.get(hour, [])) for hour in period_hours(filters)]


def period_hours(filters: MapFilters) -> list[datetime]:
    """The start of every hour of the period, in order (no database: the frames' labels)."""
    hours = []
    hour = filters.since
    while hour < filters.until:
        hours.append(hour)
        hour += timedelta(hours=1)
    return hours


# --- community and unit grids (civicmap, counted from issues and patrol) --------------------


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


def _overdue_q(now: datetime) -> Q:
    """A case with a live task past the deadline that applies to it (as patrol's triage)."""
    return Q(tasks__status=Task.Status.OFFERED, tasks__response_due__lt=now) | Q(
        tasks__status__in=LIVE_TASK_STATUSES, tasks__resolution_due__lt=now
    )


def community_grid_stats(*, filters: MapFilters, now: datetime,
                         counts: GridReportCounts | None = None) -> list[CommunityStats]:
    """Each community grid with its reports in the period, open and overdue cases, and area.

    Area in km² of the boundary in EPSG:4548 (Gauss-Kruger, scale error about 3e-5 here).
    Reports from the grid aggregates, not the reports themselves (at 1,000,000 reports the raw
    count over 30 days took 250 ms); ``counts``: the period's ``report_grid_counts`` with the
    same filters, when the caller has read them for the unit grids too (the governance map:
    summing the aggregates twice cost 130-170 ms more at 1,000,000 reports).
    """
    label = name_field()
    reports = (counts or report_grid_counts(filters=filters)).communities
    open_cases = Case.objects.filter(_category_q(filters), stage__in=OPEN_STAGES,
                                     merged_into__isnull=True, community_grid__isnull=False)
    opened = dict(open_cases.values_list("community_grid_id").annotate(n=Count("id")).order_by())
    overdue = dict(
        open_cases.filter(_overdue_q(now)).values_list("community_grid_id")
        .annotate(n=Count("id", distinct=True)).order_by()
    )
    grids = CommunityGrid.objects.annotate(
        area=Area(metric("boundary")), geojson=AsGeoJSON("boundary", precision=6),
    ).order_by("code")
    return [
        CommunityStats(
            code=grid.code, name=getattr(grid, label), geometry=json.loads(grid.geojson),
            area_km2=grid.area.sq_km, reports=reports.get(grid.pk, 0),
            open_cases=opened.get(grid.pk, 0), overdue_cases=overdue.get(grid.pk, 0),
        )
        for grid in grids
    ]


@dataclass(frozen=True)
class UnitGridStats:
    grid_id: str
    community: str
    geometry: dict  # GeoJSON polygon, WGS 84
    reports: int  # reports received in the period


def unit_grid_stats(*, filters: MapFilters, counts: GridReportCounts | None = None
                    ) -> list[UnitGridStats]:
    """Every unit grid with its reports in the period, from the daily and hourly aggregates
    (issues); ``counts`` as in ``community_grid_stats``."""
    label = name_field()
    reports = (counts or report_grid_counts(filters=filters)).unit_grids
    grids = (UnitGrid.objects.annotate(geojson=AsGeoJSON("boundary", precision=6),
                                       community_name=F(f"community__{label}"))
             .order_by("grid_id")
             .values_list("pk", "grid_id", "community_name", "geojson"))
    return [
        UnitGridStats(grid_id=grid_id, community=community, geometry=json.loads(geojson),
                      reports=reports.get(pk, 0))
        for pk, grid_id, community, geojson in grids
    ]


# --- hotspots: density clusters of open cases (issues) --------------------------------------


@dataclass(frozen=True)
class HotspotCase:
    category: str
    description: str  # the latest report's words, cut to DESCRIPTION_MAX_CHARS; user text
    last_report_at: datetime


@dataclass(frozen=True)
class Hotspot:
    community: str
    lon: float  # the members' mean position, WGS 84 degrees
    lat: float
    radius_m: float  # metres from that centre to the farthest member (EPSG:4548)
    case_count: int
    categories: list[tuple[str, int]]  # the commonest categories with their case counts
    latest: list[HotspotCase] = field(default_factory=list)  # office staff only


# Each cluster summed up in PostgreSQL: its members' count, mean position (EPSG:4548 metres and
# WGS 84 degrees), the farthest member from that mean (metres), the commonest categories and
# the newest cases. Raw SQL around the ORM's query of the cases (``{cases}``: the filters, the
# stored EPSG:4548 point ``location_metric``) because Django cannot group by a window
# function's result: with 1,000,000 reports the clusters hold about 20,000 cases, and grouping
# them in Python took 250 ms. Bound parameters in order: ST_ClusterDBSCAN's eps (metres,
# EPSG:4548) and minimum cases (ST_ClusterDBSCAN counts the row itself), the cases' own, whether to
# list the newest cases, the two limits.
_HOTSPOT_SQL = """
WITH clustered AS MATERIALIZED (
    SELECT id, community_grid_id, lon, lat, last_report_at, category_name, community_name,
           ST_X(location_metric) AS x, ST_Y(location_metric) AS y,
           ST_ClusterDBSCAN(location_metric, %s, %s)
               OVER (PARTITION BY community_grid_id) AS cluster
    FROM ({cases}) AS cases
),
member AS (SELECT * FROM clustered WHERE cluster IS NOT NULL),
centre AS (
    SELECT community_grid_id, cluster, count(*) AS n, avg(x) AS cx, avg(y) AS cy,
           avg(lon) AS lon, avg(lat) AS lat, min(community_name) AS community
    FROM member GROUP BY community_grid_id, cluster
),
spread AS (
    SELECT m.community_grid_id, m.cluster,
           max(sqrt((m.x - c.cx) ^ 2 + (m.y - c.cy) ^ 2)) AS radius
    FROM member m JOIN centre c USING (community_grid_id, cluster)
    GROUP BY m.community_grid_id, m.cluster
),
commonest AS (
    SELECT community_grid_id, cluster, category_name, count(*) AS n,
           row_number() OVER (PARTITION BY community_grid_id, cluster
                              ORDER BY count(*) DESC, category_name) AS rank
    FROM member GROUP BY community_grid_id, cluster, category_name
),
newest AS (
    SELECT community_grid_id, cluster, id, category_name, last_report_at,
           row_number() OVER (PARTITION BY community_grid_id, cluster
                              ORDER BY last_report_at DESC, id DESC) AS rank
    FROM member WHERE %s  -- false for the public: nothing to sort
),
-- Materialized: a few rows per cluster, each list computed once (the planner, expecting one
-- cluster, would otherwise recompute them for every cluster).
categories AS MATERIALIZED (
    SELECT community_grid_id, cluster, array_agg(category_name ORDER BY rank) AS names,
           array_agg(n ORDER BY rank) AS counts
    FROM commonest WHERE rank <= %s GROUP BY community_grid_id, cluster
),
latest AS MATERIALIZED (
    SELECT community_grid_id, cluster, array_agg(id ORDER BY rank) AS ids,
           array_agg(category_name ORDER BY rank) AS names,
           array_agg(last_report_at ORDER BY rank) AS times
    FROM newest WHERE rank <= %s GROUP BY community_grid_id, cluster
)
SELECT c.community, c.lon, c.lat, s.radius, c.n, k.names, k.counts, l.ids, l.names, l.times
FROM centre c
JOIN spread s USING (community_grid_id, cluster)
JOIN categories k USING (community_grid_id, cluster)
LEFT JOIN latest l USING (community_grid_id, cluster)
ORDER BY c.n DESC, c.community_grid_id, c.cluster
"""
HOTSPOT_CATEGORIES_SHOWN = 3  # the commonest categories of a hotspot, with their case counts


def case_hotspots(*, filters: MapFilters, eps_m: float, min_cases: int,
                  with_descriptions: bool = False) -> list[Hotspot]:
    """Clusters of open cases last reported in the period, per community grid, largest first.

    ST_ClusterDBSCAN on the cases' points in EPSG:4548: ``eps_m`` metres between neighbours,
    at least ``min_cases`` cases per cluster; partitioned by community so that a cluster
    never spans two communities (and each partition is clustered alone). Noise is dropped.
    ``with_descriptions`` adds the newest cases' descriptions: office staff only.
    """
    label = name_field()
    cases = (
        Case.objects.filter(_category_q(filters), stage__in=OPEN_STAGES,
                            merged_into__isnull=True, community_grid__isnull=False,
                            last_report_at__gte=filters.since, last_report_at__lt=filters.until)
        .values("id", "community_grid_id", "last_report_at", "location_metric",
                lon=_coordinate("X", as_geometry_point("location")),
                lat=_coordinate("Y", as_geometry_point("location")),
                category_name=F(f"category__{label}"),
                community_name=F(f"community_grid__{label}"))
    )
    cases_sql, params = cases.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(_HOTSPOT_SQL.format(cases=cases_sql), [
            float(eps_m), int(min_cases), *params, with_descriptions, HOTSPOT_CATEGORIES_SHOWN,
            HOTSPOT_LATEST_CASES,
        ])
        rows = cursor.fetchall()
    descriptions: dict[int, str] = {}
    if with_descriptions:  # the newest report's words of each case listed
        descriptions = dict(
            Report.objects.filter(case_id__in=[pk for row in rows for pk in row[7] or ()])
            .order_by("case_id", "-received_at", "-id").distinct("case_id")
            .values_list("case_id", "description")
        )
    return [
        Hotspot(
            community=community, lon=lon, lat=lat, radius_m=radius, case_count=count,
            categories=list(zip(names, counts, strict=True)),
            latest=[
                HotspotCase(category=name,
                            description=(descriptions.get(pk) or "")[:DESCRIPTION_MAX_CHARS],
                            last_report_at=at)
                for pk, name, at in zip(ids or (), latest_names or (), times or (), strict=True)
            ],
        )
        for (community, lon, lat, radius, count, names, counts, ids, latest_names,
             times) in rows
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
    category (the view the snapshot holds)."""
    return map_filters_for_period(now=now, days=settings.MAP_PERIOD_DAYS,
                                  include_private=include_private)


def map_audience(*, include_private: bool) -> MapAudience:
    """Whose snapshot filters with ``include_private`` read: office staff's, or the public's."""
    return MapAudience.OFFICE if include_private else MapAudience.PUBLIC


def map_layers_live(*, filters: MapFilters, now: datetime, language: str) -> MapLayers:
    """The layers computed by the selectors, names in ``language``. Private categories and the
    hotspots' newest descriptions go together (``filters.include_private``: office staff).
    Call inside ``map_reads``. About a second with 1,000,000 reports (docs/DECISIONS.md)."""
    with translation.override(language):
        heat_cells = report_heat_cells(filters=filters)
        counts = report_grid_counts(filters=filters)
        unit_grids = unit_grid_stats(filters=filters, counts=counts)
        grids = community_grid_stats(filters=filters, now=now, counts=counts)
        clusters = case_hotspots(filters=filters, eps_m=settings.MAP_HOTSPOT_EPS_M,
                                 min_cases=settings.MAP_HOTSPOT_MIN_CASES,
                                 with_descriptions=filters.include_private)
    return MapLayers(as_of=now, heat_cells=heat_cells, unit_grids=unit_grids, grids=grids,
                     clusters=clusters)


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


# --- stations (stations.selectors: the API's station list and coverage) ---------------------


@dataclass(frozen=True)
class StationPin:
    name: str
    address: str
    venue: str
    lon: float  # WGS 84 degrees
    lat: float
    radius_m: int  # coverage radius, metres on the ground
    services: list[str]
    hours: list[str]  # "Mon–Fri 09:00–21:00", one line per run of days alike
    open_now: bool


def _hours_lines(hours: list[dict]) -> list[str]:
    """One line per run of days with the same intervals: "Mon–Fri 09:00–21:00"."""
    by_day = {day: tuple(sorted((interval["open"], interval["close"])
                                for interval in hours if interval["day"] == day))
              for day in range(7)}
    lines = []
    day = 0
    while day < 7:
        last = day
        while last + 1 < 7 and by_day[last + 1] == by_day[day]:
            last += 1
        if by_day[day]:
            days = (f"{WEEKDAYS_ABBR[day]}" if last == day
                    else f"{WEEKDAYS_ABBR[day]}–{WEEKDAYS_ABBR[last]}")
            spans = ", ".join(f"{opens}–{closes}" for opens, closes in by_day[day])
            lines.append(f"{days} {spans}")
        day = last + 1
    return lines


def station_pins(*, now: datetime | None = None) -> list[StationPin]:
    """Active stations with services, hours, whether open at ``now`` and coverage radius, from
    ``stations.selectors.station_features`` (the API's list), labelled in the active language.
    """
    if not active_stations().exists():
        # station_features fails on an empty aggregate (reported); nothing to draw anyway.
        return []
    collection = json.loads(station_features(at=now or timezone.now()))
    label = "name_en" if (get_language() or "").startswith("en") else "name_zh"
    services = {entry["code"]: entry[label] for entry in collection["services"]}
    venues = {entry["code"]: entry[label] for entry in collection["venue_types"]}
    pins = []
    for feature in collection["features"]:
        properties = feature["properties"]
        lon, lat = feature["geometry"]["coordinates"]
        pins.append(StationPin(
            name=properties["name"], address=properties["address_zh"],
            venue=venues.get(properties["venue_type"], properties["venue_type"]),
            lon=lon, lat=lat, radius_m=properties["coverage_radius_m"],
            services=[services.get(code, code) for code in properties["services"]],
            hours=_hours_lines(properties["opening_hours"]),
            open_now=properties["open_now"],
        ))
    return pins


UNCOVERED_CELL_M = 100  # metres: uncovered reports are drawn in 100 m cells (EPSG:4548)


@dataclass(frozen=True)
class UncoveredCell:
    lon: float  # the centroid of the cell's uncovered reports, WGS 84 degrees
    lat: float
    reports: int  # reports no station's radius reaches, riders' own needs included
    needs: int  # of them, riders' own needs (骑手诉求)


def uncovered_demand_cells(*, filters: MapFilters) -> list[UncoveredCell]:
    """Reports of the period outside every active station's radius, per 100 m cell
    (``stations.selectors.demand_cells``: geography ST_DWithin, every category). Office only:
    it counts private categories too."""
    cells = demand_cells(subdistrict=subdistrict_default(),
                         period=Period(since=filters.since, until=filters.until),
                         cell_m=UNCOVERED_CELL_M)
    if not cells:
        return []
    points = MultiPoint([Point(cell.x, cell.y) for cell in cells], srid=METRIC_SRID)
    points.transform(_TO_WGS84)
    return [UncoveredCell(lon=point.x, lat=point.y, reports=cell.reports, needs=cell.needs)
            for cell, point in zip(cells, points, strict=True)]


# --- the office console: open cases (patrol's triage queue) ---------------------------------

OFFICE_CASE_LIMIT = 500  # the console lists the newest open cases; older ones via filters


@dataclass(frozen=True)
class OpenCase:
    id: int
    stage: str
    category: str  # code
    category_name: str
    community: str | None
    report_count: int
    last_report_at: datetime
    lon: float  # WGS 84 degrees
    lat: float


def office_open_cases(*, limit: int = OFFICE_CASE_LIMIT) -> list[OpenCase]:
    """Open cases, newest report first, through patrol's triage queue (the API's query)."""
    label = name_field()
    cases = triage_queue(filters=QueueFilters(stages=tuple(OPEN_STAGES), limit=limit))
    return [
        OpenCase(id=case.pk, stage=case.stage, category=case.category.code,
                 category_name=getattr(case.category, label),
                 community=getattr(case.community_grid, label, None),
                 report_count=case.report_count, last_report_at=case.last_report_at,
                 lon=case.location.x, lat=case.location.y)
        for case in cases
    ]
