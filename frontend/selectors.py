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
import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

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
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    Window,
)
from django.utils import timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import get_language

from civicmap.i18n import name_field
from civicmap.models import WGS84, CommunityGrid, UnitGrid
from civicmap.spatial import METRIC_SRID, ClusterDBSCAN, as_geometry_point, metric
from issues.aggregates import CELL_SIZE_M
from issues.models import OPEN_STAGES, Case, Category, Report, ReportCellHour, ReportUnitGridHour
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
    """Read a map's layers in one transaction with PostgreSQL's JIT compiler off.

    With 1,000,000 reports stored the layers' queries (ST_Transform per row, ST_ClusterDBSCAN,
    sums over ~300,000 hourly rows) are estimated above ``jit_above_cost`` (100,000), and
    compiling them took 0.4-0.9 s a query, more than running them (measured with
    bench/bench_map.py: hotspots 0.85 s with JIT, 0.19 s without). ``SET LOCAL`` ends with the
    transaction: the connection's other queries keep the server's setting. Raw SQL because
    Django has no API for a transaction-local setting.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
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


def report_heat_cells(*, filters: MapFilters) -> list[HeatCell]:
    """Reports per 100 m cell over the period, from the hourly aggregates (issues)."""
    rows = (_heat_rows(filters).values("cell_x", "cell_y")
            .annotate(n=Sum("count"), lon=_cell_centre_wgs84("X"), lat=_cell_centre_wgs84("Y"))
            .order_by("cell_x", "cell_y").values_list("lon", "lat", "n"))
    return [HeatCell(lon=lon, lat=lat, count=n) for lon, lat, n in rows]


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
    frames = []
    hour = filters.since
    while hour < filters.until:
        frames.append(HeatFrame(hour=hour, cells=by_hour.get(hour, [])))
        hour += timedelta(hours=1)
    return frames


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


def community_grid_stats(*, filters: MapFilters, now: datetime) -> list[CommunityStats]:
    """Each community grid with its reports in the period, open and overdue cases, and area.

    Area in km² of the boundary in EPSG:4548 (Gauss-Kruger, scale error about 3e-5 here).
    """
    label = name_field()
    # From the hourly unit-grid aggregates (issues.aggregates: intake counts every report with
    # its unit grid, whose community is the report's), not the reports themselves: at
    # 1,000,000 reports the raw count over 30 days took 250 ms. The period is on whole hours.
    reports = dict(
        ReportUnitGridHour.objects.filter(_category_q(filters), hour__gte=filters.since,
                                          hour__lt=filters.until)
        .values_list("unit_grid__community_id").annotate(n=Sum("count")).order_by()
    )
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


def unit_grid_stats(*, filters: MapFilters) -> list[UnitGridStats]:
    """Every unit grid with its reports in the period, from the hourly aggregates (issues)."""
    label = name_field()
    counts = dict(
        ReportUnitGridHour.objects.filter(_category_q(filters), hour__gte=filters.since,
                                          hour__lt=filters.until)
        .values_list("unit_grid_id").annotate(n=Sum("count")).order_by()
    )
    grids = (UnitGrid.objects.annotate(geojson=AsGeoJSON("boundary", precision=6),
                                       community_name=F(f"community__{label}"))
             .order_by("grid_id").values_list("pk", "grid_id", "community_name", "geojson"))
    return [
        UnitGridStats(grid_id=grid_id, community=community, geometry=json.loads(geojson),
                      reports=counts.get(pk, 0))
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


def case_hotspots(*, filters: MapFilters, eps_m: float, min_cases: int,
                  with_descriptions: bool = False) -> list[Hotspot]:
    """Clusters of open cases last reported in the period, per community grid.

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
        .annotate(
            cluster=Window(ClusterDBSCAN(metric("location"), eps_m=eps_m, min_points=min_cases),
                           partition_by=[F("community_grid_id")]),
            # Plain numbers, not geometries: with 1,000,000 reports the clusters hold thousands
            # of cases, and a GEOS object per value cost seconds in Python.
            x=_coordinate("X", metric("location")), y=_coordinate("Y", metric("location")),
            lon=_coordinate("X", as_geometry_point("location")),
            lat=_coordinate("Y", as_geometry_point("location")),
        )
        .filter(cluster__isnull=False)  # noise: not in any cluster
    )
    fields = ["community_grid_id", "cluster", "x", "y", "lon", "lat", "last_report_at",
              f"category__{label}", f"community_grid__{label}"]
    if with_descriptions:
        cases = cases.annotate(description=Subquery(
            Report.objects.filter(case=OuterRef("pk")).order_by("-received_at", "-id")
            .values("description")[:1]
        ))
        fields.append("description")
    members: dict[tuple[int, int], list[dict]] = defaultdict(list)
    for row in cases.values(*fields):
        members[(row["community_grid_id"], row["cluster"])].append(row)
    hotspots = []
    for rows in members.values():
        x = sum(row["x"] for row in rows) / len(rows)
        y = sum(row["y"] for row in rows) / len(rows)
        radius = max(math.hypot(row["x"] - x, row["y"] - y) for row in rows)
        latest = sorted(rows, key=lambda row: row["last_report_at"], reverse=True)
        hotspots.append(Hotspot(
            community=rows[0][f"community_grid__{label}"],
            lon=sum(row["lon"] for row in rows) / len(rows),
            lat=sum(row["lat"] for row in rows) / len(rows),
            radius_m=radius, case_count=len(rows),
            categories=Counter(row[f"category__{label}"] for row in rows).most_common(3),
            latest=[
                HotspotCase(category=row[f"category__{label}"],
                            description=(row["description"] or "")[:DESCRIPTION_MAX_CHARS],
                            last_report_at=row["last_report_at"])
                for row in latest[:HOTSPOT_LATEST_CASES]
            ] if with_descriptions else [],
        ))
    hotspots.sort(key=lambda hotspot: -hotspot.case_count)
    return hotspots


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
