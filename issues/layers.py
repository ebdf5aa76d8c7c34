"""The issues app's map layers, as plain values: reports per 100 m cell (heat), per grid, and
the hotspots of open cases. Frontend composes them into its maps; the API may serve the same
numbers. Counted and clustered inside PostGIS, no model instances handed out.

Units: distances and radii in metres (EPSG:4548), times aware.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.contrib.gis.db.models.functions import Transform
from django.db.models import (
    Count,
    F,
    Func,
    Min,
    Model,
    Q,
    QuerySet,
    Sum,
)

from civicmap.i18n import name_field
from civicmap.models import WGS84
from civicmap.replica import read_connection
from civicmap.spatial import (
    CELL_SIZE_M,
    MetricPoint,
    PointX,
    PointY,
    as_geometry_point,
)
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
from issues.sql import CASE_HOTSPOTS

DESCRIPTION_MAX_CHARS = 140  # a hotspot popup shows the start of each description
HOTSPOT_LATEST_CASES = 3  # cases listed in a hotspot popup, newest first


@dataclass(frozen=True)
class MapFilters:
    """What a map shows: reports received in [since, until), some categories or all, in one
    subdistrict or (``subdistrict_id`` None) the whole district.

    The public sees public categories only; office staff (``include_private``) see all.
    """

    since: datetime
    until: datetime
    categories: tuple[str, ...] = ()
    include_private: bool = False
    subdistrict_id: int | None = None



def map_filters_for_period(*, now: datetime, days: int, categories: tuple[str, ...] = (),
                           include_private: bool = False,
                           subdistrict_id: int | None = None) -> MapFilters:
    """The last ``days`` days up to ``now``, on whole hours (the aggregates' resolution)."""
    until = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return MapFilters(since=until - timedelta(days=days), until=until,
                      categories=categories, include_private=include_private,
                      subdistrict_id=subdistrict_id)


def category_q(filters: MapFilters, prefix: str = "category__") -> Q:
    q = Q()
    if not filters.include_private:
        q &= Q(**{f"{prefix}is_private": False})
    if filters.categories:
        q &= Q(**{f"{prefix}code__in": filters.categories})
    return q


def place_q(filters: MapFilters, path: str) -> Q:
    """The filters' subdistrict, ``path`` leading to a row's subdistrict id."""
    return Q() if filters.subdistrict_id is None else Q(**{path: filters.subdistrict_id})


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


def _cell_centre_wgs84(axis: str) -> Func:
    """ST_X or ST_Y of a 100 m cell's centre in WGS 84, computed by PostGIS in the query.

    Intake computes a cell as floor(x / 100), floor(y / 100) in EPSG:4548 (issues.aggregates),
    so the centre is ((i + 0.5) * 100, (j + 0.5) * 100) metres, transformed by PostGIS. In the
    query rather than a GEOS point per row in Python: with 1,000,000 reports the week's hourly
    frames hold tens of thousands of cells (seconds in Python).
    """
    # Min() of a grouped column is the column: as an aggregate, PostgreSQL transforms once per
    # cell after grouping (a plain column expression would join the GROUP BY and be transformed
    # for every hourly row).
    centre = Transform(MetricPoint((Min("cell_x") + 0.5) * CELL_SIZE_M,
                                   (Min("cell_y") + 0.5) * CELL_SIZE_M), WGS84)
    return PointX(centre) if axis == "X" else PointY(centre)


def _heat_rows(filters: MapFilters) -> QuerySet:
    return ReportCellHour.objects.filter(category_q(filters), place_q(filters, "subdistrict_id"),
                                         hour__gte=filters.since, hour__lt=filters.until)


def _utc_midnight(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _period_rows(filters: MapFilters, hourly: type[Model], daily: type[Model]
                 ) -> list[QuerySet]:
    """The aggregate rows of the period in the category and subdistrict filters: its whole
    days (from 00:00 UTC) from the daily roll-ups, the hours at either end from the hourly
    rows.

    At 1,000,000 reports a 30-day sum over the hourly rows read about 285,000 of them (100-170
    ms a sum); the daily rows hold the same counts in 160,000 (issues.aggregates keeps both).
    """
    first_day = _utc_midnight(filters.since)
    if first_day < filters.since:
        first_day += timedelta(days=1)
    last_day = _utc_midnight(filters.until)
    category = category_q(filters) & place_q(filters, "subdistrict_id")
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


def open_cases_in_communities(*, filters: MapFilters) -> QuerySet[Case]:
    """Open cases (merged duplicates excluded) in a community grid, in the category filter."""
    return Case.objects.filter(category_q(filters), place_q(filters, "subdistrict_id"),
                               stage__in=OPEN_STAGES, merged_into__isnull=True,
                               community_grid__isnull=False)


def open_case_counts(*, filters: MapFilters) -> dict[int, int]:
    """Open cases per community grid (primary key → cases)."""
    return dict(open_cases_in_communities(filters=filters).values_list("community_grid_id")
                .annotate(n=Count("id")).order_by())


# --- hotspots: density clusters of open cases -----------------------------------------------


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
        Case.objects.filter(category_q(filters), place_q(filters, "subdistrict_id"),
                            stage__in=OPEN_STAGES,
                            merged_into__isnull=True, community_grid__isnull=False,
                            last_report_at__gte=filters.since, last_report_at__lt=filters.until)
        .values("id", "community_grid_id", "last_report_at", "location_metric",
                lon=PointX(as_geometry_point("location")),
                lat=PointY(as_geometry_point("location")),
                category_name=F(f"category__{label}"),
                community_name=F(f"community_grid__{label}"))
    )
    cases_sql, params = cases.query.sql_with_params()
    with read_connection().cursor() as cursor:
        cursor.execute(CASE_HOTSPOTS.format(cases=cases_sql), [
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
