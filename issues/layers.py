"""The issues app's map layers, as plain values: reports per 100 m cell (heat), per grid, and
the hotspots of open cases. Frontend composes them into its maps; the API may serve the same
numbers. Counted and clustered inside PostGIS, no model instances handed out.

Units: distances and radii in metres (EPSG:4548), times aware.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.contrib.gis.geos import Point
from django.contrib.gis.geos.prepared import PreparedGeometry
from django.db.models import (
    Count,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)

from civicmap.i18n import name_field
from civicmap.models import CommunityGrid
from civicmap.replica import read_connection
from civicmap.spatial import (
    CELL_SIZE_M,
    METRIC_SRID,
    PointX,
    PointY,
    as_geometry_point,
    metric,
)
from issues.models import (
    CLOSED_STAGES,
    OPEN_STAGES,
    Case,
    Category,
    Report,
    ReportCellDay,
    ReportCellDayTotal,
    ReportCellHour,
    ReportCellWeekTotal,
    ReportUnitGridDay,
    ReportUnitGridDayTotal,
    ReportUnitGridHour,
    ReportUnitGridWeekTotal,
    Stage,
)
from issues.sql import CASE_HOTSPOTS, GRID_COUNTS_SUMMED, HEAT_CELLS_SUMMED

DESCRIPTION_MAX_CHARS = 140  # a hotspot popup shows the start of each description
HOTSPOT_LATEST_CASES = 3  # cases listed in a hotspot popup, newest first


# The stages a map's case layers may show (``MapFilters.stages``): the open ones (the default:
# the backlog), one of them, or the closed ones. Cancelled cases are on no map.
MAP_STAGES_OPEN = "open"
MAP_STAGES_CLOSED = "closed"


def map_stages(choice: str) -> tuple[str, ...]:
    """The stages a map's stage filter (``open``, ``closed`` or one open stage) stands for."""
    if choice == MAP_STAGES_CLOSED:
        return tuple(CLOSED_STAGES)
    if choice in OPEN_STAGES:
        return (Stage(choice),)
    return tuple(OPEN_STAGES)


@dataclass(frozen=True)
class MapFilters:
    """What a map shows: reports received in [since, until), some categories or all (or the
    categories of some kinds: ``C`` components, ``E`` events, ``L`` local), in one subdistrict
    or (``subdistrict_id`` None) the whole district, in one community grid or all of them; the
    case layers the cases in ``stages`` (the open ones by default).

    Which layers each filter applies to (docs/ARCHITECTURE.md, "The governance map"): the
    period, categories, kinds, subdistrict and community to every layer of reports and cases;
    ``stages`` to the case layers only (open and overdue counts, hotspots): the report
    aggregates count reports, which have no stage.

    The public sees public categories only; office staff (``include_private``) see all.
    """

    since: datetime
    until: datetime
    categories: tuple[str, ...] = ()
    include_private: bool = False
    subdistrict_id: int | None = None
    kinds: tuple[str, ...] = ()
    community_id: int | None = None
    stages: tuple[str, ...] = tuple(OPEN_STAGES)

    def cache_key(self) -> str:
        """The filters as a short string, for a cache key (every field, in order)."""
        return ":".join([
            self.since.isoformat(), self.until.isoformat(), ",".join(self.categories),
            "p" if self.include_private else "", str(self.subdistrict_id or ""),
            ",".join(self.kinds), str(self.community_id or ""), ",".join(self.stages),
        ])



def map_filters_for_period(*, now: datetime, days: int, categories: tuple[str, ...] = (),
                           include_private: bool = False,
                           subdistrict_id: int | None = None, kinds: tuple[str, ...] = (),
                           community_id: int | None = None,
                           stages: tuple[str, ...] = tuple(OPEN_STAGES)) -> MapFilters:
    """The last ``days`` days up to ``now``, on whole hours (the aggregates' resolution)."""
    until = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return MapFilters(since=until - timedelta(days=days), until=until,
                      categories=categories, include_private=include_private,
                      subdistrict_id=subdistrict_id, kinds=kinds, community_id=community_id,
                      stages=stages)


def category_q(filters: MapFilters, prefix: str = "category__") -> Q:
    q = Q()
    if not filters.include_private:
        q &= Q(**{f"{prefix}is_private": False})
    if filters.categories:
        q &= Q(**{f"{prefix}code__in": filters.categories})
    if filters.kinds:  # a kind is the code's first letter (Category.kind)
        kinds = Q()
        for kind in filters.kinds:
            kinds |= Q(**{f"{prefix}code__startswith": kind})
        q &= kinds
    return q


def place_q(filters: MapFilters, path: str, community_path: str = "") -> Q:
    """The filters' subdistrict, ``path`` leading to a row's subdistrict id, and community,
    ``community_path`` to its community grid id (rows without one, the 100 m cells, are
    placed by ``_community_cells``)."""
    q = Q() if filters.subdistrict_id is None else Q(**{path: filters.subdistrict_id})
    if filters.community_id is not None and community_path:
        q &= Q(**{community_path: filters.community_id})
    return q


@dataclass(frozen=True)
class _CommunityCells:
    """The 100 m cells of one community grid: those whose centre lies inside its boundary (a
    cell on the boundary goes to the side of its centre, as a heat point is drawn there)."""

    boundary: PreparedGeometry  # in EPSG:4548, metres
    q: Q  # the cells of the boundary's bounding box: the SQL's cheap part of the test

    def holds(self, x: int, y: int) -> bool:
        return self.boundary.contains(Point((x + 0.5) * CELL_SIZE_M, (y + 0.5) * CELL_SIZE_M,
                                            srid=METRIC_SRID))


def _community_cells(filters: MapFilters) -> _CommunityCells | None:
    """The cells of the filters' community grid, None for no community filter.

    The cell aggregates carry a subdistrict but no community (a cell may straddle two): the
    rows of the community's bounding box are read (a few hundred cells), and their centres
    tested against the prepared boundary here, a few microseconds each.
    """
    if filters.community_id is None:
        return None
    boundary = (CommunityGrid.objects.filter(pk=filters.community_id)
                .annotate(m=metric("boundary")).values_list("m", flat=True).first())
    if boundary is None:  # the form only offers existing communities; gone meanwhile
        return _CommunityCells(boundary=Point(0, 0, srid=METRIC_SRID).prepared,
                               q=Q(pk__in=[]))
    xmin, ymin, xmax, ymax = boundary.extent  # metres
    return _CommunityCells(
        boundary=boundary.prepared,
        q=Q(cell_x__gte=int(xmin // CELL_SIZE_M), cell_x__lte=int(xmax // CELL_SIZE_M),
            cell_y__gte=int(ymin // CELL_SIZE_M), cell_y__lte=int(ymax // CELL_SIZE_M)),
    )


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


def _heat_rows(filters: MapFilters, cells: _CommunityCells | None) -> QuerySet:
    return ReportCellHour.objects.filter(category_q(filters), place_q(filters, "subdistrict_id"),
                                         cells.q if cells else Q(),
                                         hour__gte=filters.since, hour__lt=filters.until)


def _utc_midnight(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _utc_monday(day: datetime) -> datetime:
    """The Monday 00:00 UTC on or before ``day`` (a UTC midnight), as date_trunc('week')."""
    return day - timedelta(days=day.weekday())


def _totals_q(filters: MapFilters) -> Q:
    """``category_q`` for the totals, which carry the category's privacy and kind."""
    q = Q() if filters.include_private else Q(is_private=False)
    return q & Q(kind__in=filters.kinds) if filters.kinds else q


def _whole(start: datetime, end: datetime, first: datetime, last: datetime, field: str) -> Q:
    """The rows of ``field`` in [start, first) and [last, end): a period's two ends around the
    whole days or weeks [first, last) that coarser rows hold."""
    return (Q(**{f"{field}__gte": start, f"{field}__lt": first})
            | Q(**{f"{field}__gte": last, f"{field}__lt": end}))


def _period_rows(filters: MapFilters, hourly: type[Model], daily: type[Model],
                 totals: tuple[type[Model], type[Model]], place: Q) -> list[QuerySet]:
    """The aggregate rows of the period in the category and subdistrict filters: the hours at
    either end from the hourly rows; the whole days (from 00:00 UTC) from the daily rows when
    the filters choose categories, else from ``totals`` (the daily and the weekly totals, over
    the categories of each kind): the whole weeks (from Monday 00:00 UTC) from the weekly rows
    and the days at either end from the daily ones.

    At 1,000,000 reports a 30-day sum over the hourly rows read about 285,000 of them (100-170
    ms a sum); the daily rows hold the same counts in 155,000, the daily totals in 62,000 (a
    kind's in 16,000-25,000), and a 90-day map's 269,000 daily totals are about 90,000 rows
    with its twelve whole weeks read by week (issues.aggregates keeps them all; D-080, D-084,
    D-093).
    """
    first_day = _utc_midnight(filters.since)
    if first_day < filters.since:
        first_day += timedelta(days=1)
    last_day = _utc_midnight(filters.until)
    category = category_q(filters) & place
    if first_day >= last_day:  # no whole day in the period
        return [hourly.objects.filter(category, hour__gte=filters.since,
                                      hour__lt=filters.until)]
    rows = [hourly.objects.filter(category, _whole(filters.since, filters.until, first_day,
                                                   last_day, "hour"))]
    if filters.categories:
        return [*rows, daily.objects.filter(category, day__gte=first_day, day__lt=last_day)]
    # every category or a kind: the totals' own privacy and kind stand for the category's
    day_totals, week_totals = totals
    totals_q = _totals_q(filters) & place
    first_week = _utc_monday(first_day + timedelta(days=6))  # the first Monday from first_day
    last_week = _utc_monday(last_day)
    if first_week >= last_week:  # no whole week in the period
        return [*rows, day_totals.objects.filter(totals_q, day__gte=first_day,
                                                 day__lt=last_day)]
    return [
        *rows,
        day_totals.objects.filter(totals_q, _whole(first_day, last_day, first_week, last_week,
                                                   "day")),
        week_totals.objects.filter(totals_q, week__gte=first_week, week__lt=last_week),
    ]


@dataclass(frozen=True)
class GridReportCounts:
    """Reports in the period per unit grid and per community grid (primary key → reports)."""

    unit_grids: Counter
    communities: Counter  # those in no unit grid included


def _period_sums(statement: str, parts: list[QuerySet], keys: tuple[str, ...]) -> list[tuple]:
    """The rows of ``statement`` (issues.sql: HEAT_CELLS_SUMMED, GRID_COUNTS_SUMMED) over the
    period's ``parts`` (``_period_rows``), each grouped by ``keys`` with its ``count`` summed:
    one statement, each key once, where a query per part sent a row per key and part."""
    sqls, params = [], []
    for rows in parts:
        sql, part_params = (rows.values(*keys).annotate(n=Sum("count")).order_by()
                            .values_list(*keys, "n").query.sql_with_params())
        sqls.append(f"({sql})")
        params.extend(part_params)
    with read_connection().cursor() as cursor:
        cursor.execute(statement.format(parts=" UNION ALL ".join(sqls)), params)
        return cursor.fetchall()


def report_grid_counts(*, filters: MapFilters) -> GridReportCounts:
    """Both counts in one statement over the grid aggregates (issues.aggregates, read as
    ``_period_rows`` says): a community's reports are the sum of its rows, its unit grids' and
    its own row for reports in none of them."""
    unit_grids: Counter = Counter()
    communities: Counter = Counter()
    place = place_q(filters, "subdistrict_id", "community_id")
    parts = _period_rows(filters, ReportUnitGridHour, ReportUnitGridDay,
                         (ReportUnitGridDayTotal, ReportUnitGridWeekTotal), place)
    for community, unit_grid, reports in _period_sums(GRID_COUNTS_SUMMED, parts,
                                                      ("community_id", "unit_grid_id")):
        communities[community] += reports
        if unit_grid is not None:
            unit_grids[unit_grid] = reports
    return GridReportCounts(unit_grids=unit_grids, communities=communities)


def report_heat_cells(*, filters: MapFilters) -> list[HeatCell]:
    """Reports per 100 m cell over the period, from the aggregates (issues, read as
    ``_period_rows`` says), in the cells' order, at their centres."""
    community = _community_cells(filters)
    place = place_q(filters, "subdistrict_id") & (community.q if community else Q())
    parts = _period_rows(filters, ReportCellHour, ReportCellDay,
                         (ReportCellDayTotal, ReportCellWeekTotal), place)
    return [HeatCell(lon=lon, lat=lat, count=n)
            for x, y, lon, lat, n in _period_sums(HEAT_CELLS_SUMMED, parts, ("cell_x", "cell_y"))
            if community is None or community.holds(x, y)]


def report_heat_frames(*, filters: MapFilters) -> list[HeatFrame]:
    """Reports per 100 m cell for every hour of the period, empty hours included (issues).

    Two queries: the counts per hour and cell, and the centre of each distinct cell once (a
    week holds ~30 hourly rows per cell at 1,000,000 reports: 30 times fewer transforms).
    """
    community = _community_cells(filters)
    rows = _heat_rows(filters, community)
    counts = list(rows.values("hour", "cell_x", "cell_y").annotate(n=Sum("count"))
                  .order_by("hour", "cell_x", "cell_y")
                  .values_list("hour", "cell_x", "cell_y", "n"))
    # After the counts: cells are only ever added, so every counted cell has its centre.
    centres = {(x, y): (lon, lat) for x, y, lon, lat, _reports
               in _period_sums(HEAT_CELLS_SUMMED, [rows], ("cell_x", "cell_y"))}
    by_hour: dict[datetime, list[HeatCell]] = defaultdict(list)
    for hour, x, y, n in counts:
        if community and not community.holds(x, y):
            continue
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


def map_shows_open_cases(filters: MapFilters) -> bool:
    """Whether the filters' stages are open ones (the backlog now), not the closed ones."""
    return set(filters.stages) <= set(OPEN_STAGES)


def open_cases_in_communities(*, filters: MapFilters) -> QuerySet[Case]:
    """Cases in the filters' stages (merged duplicates excluded) in a community grid, in the
    category and place filters: the open ones now, whenever reported (the backlog), or the
    closed ones last reported in the period (every closed case ever would be most of the
    table: 230,000 rows at 1,000,000 reports, and no question the map answers)."""
    cases = Case.objects.filter(category_q(filters),
                                place_q(filters, "subdistrict_id", "community_grid_id"),
                                stage__in=filters.stages, merged_into__isnull=True,
                                community_grid__isnull=False)
    if not map_shows_open_cases(filters):
        cases = cases.filter(last_report_at__gte=filters.since, last_report_at__lt=filters.until)
    return cases


def open_case_counts(*, filters: MapFilters) -> dict[int, int]:
    """Cases in the filters' stages (open by default) per community grid (pk → cases)."""
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
    """Clusters of cases in the filters' stages (the open ones by default) last reported in
    the period, per community grid, largest first.

    ST_ClusterDBSCAN on the cases' points in EPSG:4548: ``eps_m`` metres between neighbours,
    at least ``min_cases`` cases per cluster; partitioned by community so that a cluster
    never spans two communities (and each partition is clustered alone). Noise is dropped.
    ``with_descriptions`` adds the newest cases' descriptions: office staff only.

    Open stages only: none for the closed ones. A hotspot says where work is waiting; the
    closed cases of 90 days are 20 times the open ones, and clustering them took 0.5-0.7 s at
    100,000 reports (D-077).
    """
    if not map_shows_open_cases(filters):
        return []
    cases = (
        Case.objects.filter(category_q(filters),
                            place_q(filters, "subdistrict_id", "community_grid_id"),
                            stage__in=filters.stages,
                            merged_into__isnull=True, community_grid__isnull=False,
                            last_report_at__gte=filters.since, last_report_at__lt=filters.until)
        .values("id", "community_grid_id", "category_id", "last_report_at", "location_metric",
                lon=PointX(as_geometry_point("location")),
                lat=PointY(as_geometry_point("location")))
    )
    cases_sql, params = cases.query.sql_with_params()
    with read_connection().cursor() as cursor:
        cursor.execute(CASE_HOTSPOTS.format(cases=cases_sql, name=name_field()), [
            float(eps_m), int(min_cases), *params, with_descriptions, HOTSPOT_CATEGORIES_SHOWN,
            HOTSPOT_LATEST_CASES,
        ])
        rows = cursor.fetchall()
    descriptions: dict[int, str] = {}
    if with_descriptions:  # the newest report's words of each case listed, one index entry
        newest = Report.objects.filter(case=OuterRef("pk")).order_by("-received_at", "-id")
        descriptions = dict(
            Case.objects.filter(pk__in=[pk for row in rows for pk in row[7] or ()])
            .annotate(words=Subquery(newest.values("description")[:1]))
            .values_list("pk", "words")
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
