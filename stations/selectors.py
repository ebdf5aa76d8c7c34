"""Reads of the stations app: nearest stations, the public list, coverage, siting and a rider's
check-ins (the visits' figures: stations.selectors_visits).

Units: every distance and radius is in metres on the ground. "Near" and "covered" are answered
by PostGIS on geography (``ST_DWithin``, ``ST_Distance``: metres on the WGS 84 spheroid). Areas
come from buffers in EPSG:4548 (CGCS2000 / 3-degree Gauss-Kruger CM 117E; scale error about
3e-5 at Nanyuan) and are used for area shares and drawing only, never for "is this covered".
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import shapely
from django.conf import settings
from django.contrib.gis.db.models import GeometryField, PointField
from django.contrib.gis.db.models.aggregates import Collect, Union
from django.contrib.gis.db.models.functions import (
    Area,
    AsGeoJSON,
    Centroid,
    Distance,
    GeometryDistance,
    Intersection,
    PointOnSurface,
    SnapToGrid,
    Transform,
)
from django.contrib.gis.geos import GEOSGeometry, Point
from django.contrib.postgres.aggregates import JSONBAgg
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    JSONField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, JSONObject
from django.utils import timezone, translation

from civicmap.i18n import name_field
from civicmap.models import WGS84, CommunityGrid, Subdistrict, UnitGrid
from civicmap.navigation import navigation_links
from civicmap.replica import read_connection
from civicmap.scopes import in_scope_q
from civicmap.spatial import METRIC_SRID, Buffer, PointX, PointY, as_geometry_point, metric
from issues.models import Report
from stations.catalogue import service_catalogue, services_describe
from stations.hours import LOCAL_TZ, hours_today, is_open_at, reopens_at
from stations.models import DEFAULT_COVERAGE_RADIUS_M, CheckIn, Station, VenueType
from stations.siting import mclp_greedy
from stations.sql import NEAREST_STATIONS, WithinReachOfSites, sites_union_metric_sql

NEAREST_LIMIT = 5
# KNN (<->) on geography orders by distance on a sphere; the answer reports (and finally orders
# by) distance on the spheroid. The two differ by under 0.5 %, so ranking twice as many by KNN
# and re-sorting them leaves the top five right except for near-ties beyond that margin.
NEAREST_OVERFETCH = 2
WALKING_SPEED_M_PER_S = 1.2  # 4.3 km/h, a common planning figure for walking; the distance is
# a straight line, so the estimate is a lower bound on the real walk.
RIDERS_NEEDS_GROUP = "L02"  # 骑手诉求: riders' own needs (parking, charging, access, pickup)
DEFAULT_REPORT_WEIGHT = 1.0  # demand weight of a report of any other category
DEFAULT_NEED_WEIGHT = 3.0  # a rider's own need counts three times: the stations exist for them
DEMAND_CELL_M = 25  # metres: siting groups uncovered reports into 25 m cells (see siting_suggest)
HOTSPOTS_DEFAULT = 10
AREA_QUAD_SEGS = 64  # a 256-gon per circle: area within 0.01 % of the true circle


def station_radius_default_m() -> int:
    """The coverage radius of a station without its own (metres; setting
    STATION_COVERAGE_RADIUS_M, default 500)."""
    return int(getattr(settings, "STATION_COVERAGE_RADIUS_M", DEFAULT_COVERAGE_RADIUS_M))


def radius_expression() -> Coalesce:
    """Each station's coverage radius in metres: its own, or the default."""
    return Coalesce(F("coverage_radius_m"), Value(station_radius_default_m()),
                    output_field=IntegerField())


def walk_minutes(distance_m: float) -> int:
    """Walking time at 1.2 m/s (4.3 km/h), rounded up to whole minutes."""
    return math.ceil(distance_m / WALKING_SPEED_M_PER_S / 60)


def active_stations() -> QuerySet[Station]:
    return Station.objects.filter(is_active=True)


def station_open_ids(*, at: datetime) -> set[int]:
    """Active stations open at ``at`` (their weekly hours in Asia/Shanghai, see stations.hours).

    One small query over every active station's hours: a subdistrict has tens of stations.
    """
    return {
        pk for pk, hours, holidays in active_stations().values_list(
            "id", "opening_hours", "closed_on_holidays")
        if is_open_at(hours, at, closed_on_holidays=holidays)
    }


# --- nearest and list -----------------------------------------------------------------------


def station_nearest_list(
    *, point: Point, service: str | None = None, open_now: bool = False,
    at: datetime | None = None, limit: int = NEAREST_LIMIT,
) -> list[dict]:
    """Up to ``limit`` active stations nearest ``point`` (WGS 84), nearest first.

    KNN in PostGIS (``ORDER BY location <-> point``); ``distance_m`` is ``ST_Distance`` on
    geography: true metres on the spheroid, not degrees. ``walk_minutes`` assumes 1.2 m/s in a
    straight line. ``service`` keeps stations offering it; ``open_now`` keeps those open at
    ``at`` (default now) in Asia/Shanghai.

    Each station also carries ``today`` (the intervals starting on the day of ``at``, none on a
    holiday it closes for), ``reopens`` (when a closed one next opens: ``at`` in Asia/Shanghai
    and ``days`` from today, 0 today, 1 tomorrow; None when open) and ``navigation`` (Amap,
    Baidu and ``geo:`` links, ``civicmap.navigation``).
    """
    at = at or timezone.now()
    with read_connection().cursor() as cursor:
        # "Open now" is decided on the hours in Python (stations.hours), so then every active
        # station offering the service is read: a subdistrict has tens of stations.
        cursor.execute(NEAREST_STATIONS, {"lon": point.x, "lat": point.y, "service": service,
                                      "fetch": None if open_now else limit * NEAREST_OVERFETCH})
        rows = cursor.fetchall()
    stations = [_nearest_row(row, at=at) for row in rows]
    if open_now:
        stations = [station for station in stations if station["open_now"]]
    return sorted(stations, key=lambda station: (station["distance_m"], station["id"]))[:limit]


def _nearest_row(row: tuple, *, at: datetime) -> dict:
    (pk, name_zh, name_en, venue_type, address_zh, lon, lat, distance_m, hours_text, services,
     radius_m, closed_on_holidays) = row
    hours = json.loads(hours_text)  # Django's connection hands jsonb over as text
    name = name_zh if name_field() == "name_zh" else name_en
    return {
        "id": pk, "name": name,
        "name_zh": name_zh, "name_en": name_en, "venue_type": venue_type,
        "address_zh": address_zh, "lon": round(lon, 6), "lat": round(lat, 6),
        "distance_m": round(distance_m, 1), "walk_minutes": walk_minutes(distance_m),
        "open_now": is_open_at(hours, at, closed_on_holidays=closed_on_holidays),
        "opening_hours": hours, "closed_on_holidays": closed_on_holidays,
        "today": hours_today(hours, at, closed_on_holidays=closed_on_holidays),
        "reopens": _reopens(hours, at, closed_on_holidays=closed_on_holidays),
        "navigation": navigation_links(lon=lon, lat=lat, name=name),
        "services": services_describe(services),
        "coverage_radius_m": radius_m or station_radius_default_m(),
    }


def _reopens(hours: list[dict], at: datetime, *, closed_on_holidays: bool) -> dict | None:
    moment = reopens_at(hours, at, closed_on_holidays=closed_on_holidays)
    if moment is None:
        return None
    return {"at": moment, "days": (moment.date() - at.astimezone(LOCAL_TZ).date()).days}


def station_features(*, service: str | None = None, open_now: bool = False,
                     at: datetime | None = None, subdistrict_id: int | None = None) -> str:
    """Every active station (of one subdistrict, or the whole district) as GeoJSON
    FeatureCollection text, assembled by PostGIS.

    Properties: names, subdistrict code, venue type, address, service codes, weekly hours,
    coverage radius (metres) and whether it is open at ``at``. The collection also carries the
    service catalogue (``services``: code, Chinese and English names, member benefit) and the
    venue types, so a client can label the codes in either language.
    """
    at = at or timezone.now()
    open_ids = station_open_ids(at=at)
    stations = active_stations()
    if service:
        stations = stations.filter(services__contains=[service])
    if open_now:
        stations = stations.filter(id__in=open_ids)
    if subdistrict_id is not None:
        stations = stations.filter(subdistrict_id=subdistrict_id)
    label = name_field()
    feature = JSONObject(
        type=Value("Feature"), id=F("id"),
        geometry=Cast(AsGeoJSON(as_geometry_point("location"), precision=6), JSONField()),
        properties=JSONObject(
            name=F(label), name_zh=F("name_zh"), name_en=F("name_en"),
            subdistrict=F("subdistrict__code"), venue_type=F("venue_type"),
            address_zh=F("address_zh"), services=F("services"),
            opening_hours=F("opening_hours"), closed_on_holidays=F("closed_on_holidays"),
            coverage_radius_m=radius_expression(),
            # An empty IN () would make Django drop the whole query: say False instead.
            open_now=ExpressionWrapper(Q(id__in=open_ids), output_field=BooleanField())
            if open_ids else Value(False),
        ),
    )
    text = stations.aggregate(
        text=Cast(JSONObject(
            type=Value("FeatureCollection"),
            features=Coalesce(JSONBAgg(feature, order_by=("name_zh",)),
                              Cast(Value("[]"), JSONField())),
        ), TextField())
    )["text"]
    if text is None:  # no rows at all: the aggregate still answers, but be safe
        text = '{"type": "FeatureCollection", "features": []}'
    # The catalogues are constants of the code: appended as foreign members of the collection.
    collection = json.loads(text)
    collection["services"] = service_catalogue()
    collection["venue_types"] = venue_type_catalogue()
    collection["at"] = at.isoformat()
    return json.dumps(collection, ensure_ascii=False)


def venue_type_catalogue() -> list[dict]:
    with translation.override("zh-hans"):
        names_zh = {code: str(name) for code, name in VenueType.choices}
    with translation.override("en"):
        names_en = {code: str(name) for code, name in VenueType.choices}
    return [{"code": code, "name_zh": names_zh[code], "name_en": names_en[code]}
            for code, _label in VenueType.choices]


# --- coverage ---------------------------------------------------------------------------------


def stations_covering(*, point: Point) -> list[dict]:
    """The active stations whose radius reaches ``point``: ``ST_DWithin`` on geography, metres."""
    stations = (
        active_stations()
        .filter(location__dwithin=(point, radius_expression()))
        .annotate(distance=Distance("location", point), radius_m=radius_expression())
        .order_by(GeometryDistance("location", point), "id")
    )
    label = name_field()
    return [
        {"id": s.pk, "name": getattr(s, label), "distance_m": round(s.distance.m, 1),
         "coverage_radius_m": s.radius_m}
        for s in stations
    ]


@dataclass(frozen=True)
class Site:
    """A station as coverage sees it: where it stands and how far it reaches."""

    lon: float  # WGS 84 degrees
    lat: float
    radius_m: int  # metres on the ground
    station: int | None = None  # the station's id; None for a station only imagined


def station_sites() -> list[Site]:
    """The active stations (every subdistrict's: a neighbour's reaches over the edge) as sites,
    by id."""
    return [
        Site(lon=location.x, lat=location.y, radius_m=radius, station=pk)
        for pk, location, radius in active_stations().annotate(radius=radius_expression())
        .order_by("id").values_list("id", "location", "radius")
    ]


def station_reach_list(*, subdistrict: Subdistrict) -> list[dict]:
    """The subdistrict's active stations with their reach, by name: what a what-if may move
    or remove (``id``, ``name`` in the reader's language, WGS 84 ``lon``/``lat``,
    ``radius_m``)."""
    label = name_field()
    return [
        {"id": pk, "name": name, "lon": location.x, "lat": location.y, "radius_m": radius}
        for pk, name, location, radius in active_stations().filter(subdistrict=subdistrict)
        .annotate(radius=radius_expression()).order_by("name_zh")
        .values_list("id", label, "location", "radius")
    ]


def station_sites_what_if(*, added: Sequence[Site] = (), moved: dict[int, tuple[float, float]]
                          | None = None, removed: Collection[int] = ()) -> list[Site]:
    """The active stations as they would be: ``moved`` (id → lon, lat in WGS 84) standing
    elsewhere with their own radius, ``removed`` (ids) gone, ``added`` new ones. Nothing is
    written: the set goes to ``coverage_summary(sites=...)`` as a ``VALUES`` list."""
    moved, removed = moved or {}, set(removed)
    sites = [
        Site(lon=moved[site.station][0], lat=moved[site.station][1], radius_m=site.radius_m,
             station=site.station) if site.station in moved else site
        for site in station_sites() if site.station not in removed
    ]
    return [*sites, *added]


def _covered_by_a_station(*, sites: Sequence[Site] | None = None,
                          field: str = "location") -> Exists | WithinReachOfSites:
    """For a row with a geography ``field``: does any active station's radius reach it? With
    ``sites``, the stations of a what-if instead (``WithinReachOfSites``: the same rule, the
    same ST_DWithin on geography, over a ``VALUES`` list).

    ``ST_DWithin`` on geography with the largest radius finds the candidate stations through
    their GiST index; each is then kept if ``ST_Distance`` on geography (metres on the spheroid,
    the very distance ST_DWithin compares) is within its own radius. (A per-row radius inside
    ``__dwithin`` is not relabelled by Django in a subquery, and one OR branch per distinct
    radius measured 3–5 times slower.)
    """
    if sites is not None:
        return WithinReachOfSites(F(field), sites=sites)
    stations = active_stations().annotate(radius_m=radius_expression())
    largest = stations.aggregate(largest=Max("radius_m"))["largest"]
    if largest is None:  # no station: nothing is covered
        return Exists(stations.none())
    row_location = ExpressionWrapper(
        OuterRef(field), output_field=PointField(srid=WGS84, geography=True)
    )
    return Exists(
        stations.filter(location__dwithin=(OuterRef(field), largest))
        .annotate(distance_m=Distance("location", row_location))
        .filter(distance_m__lte=F("radius_m"))
    )


def coverage_union_metric(*, stations: QuerySet[Station] | None = None,
                          sites: Sequence[Site] | None = None) -> GEOSGeometry | None:
    """The union of the stations' coverage circles in EPSG:4548 (metres), or None without any;
    with ``sites``, those of a what-if.

    Circles as 256-gons (``ST_Buffer`` with quad_segs=64): for areas and drawing only.
    """
    if sites is not None:
        if not sites:
            return None
        sql, params = sites_union_metric_sql(sites, quad_segs=AREA_QUAD_SEGS)
        with read_connection().cursor() as cursor:
            cursor.execute(sql, params)
            (ewkb,) = cursor.fetchone()
        return GEOSGeometry(bytes(ewkb) if isinstance(ewkb, memoryview) else ewkb,
                            srid=METRIC_SRID)
    stations = active_stations() if stations is None else stations
    return stations.aggregate(
        union=Union(Buffer(metric("location"), radius_expression(), quad_segs=AREA_QUAD_SEGS))
    )["union"]


def coverage_layer() -> str:
    """The covered area as one GeoJSON Feature (WGS 84), for drawing."""
    union = coverage_union_metric()
    geometry = "null"
    if union is not None:
        geometry = union.transform(WGS84, clone=True).json
    return (
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": '
        f'{geometry}, "properties": {{"radius_default_m": {station_radius_default_m()}}}}}]}}'
    )


@dataclass(frozen=True)
class Period:
    """Reports received in [since, until)."""

    since: datetime
    until: datetime


def _reports(*, subdistrict: Subdistrict, period: Period) -> QuerySet[Report]:
    return Report.objects.filter(
        community_grid__subdistrict=subdistrict,
        received_at__gte=period.since, received_at__lt=period.until,
    )


def _is_need() -> Q:
    return Q(category__group__code=RIDERS_NEEDS_GROUP)


def _report_groups(*, subdistrict: Subdistrict, period: Period, by: dict,
                   aggregates: dict | None = None,
                   sites: Sequence[Site] | None = None) -> list[dict]:
    """Reports of the period counted (``n``) by the ``by`` expressions, ``covered`` (by an
    active station, or one of ``sites``) and ``need`` (a rider's own need). One pass: the
    coverage test, about 10 µs a report, runs once per report whatever is asked of the
    groups."""
    return list(
        _reports(subdistrict=subdistrict, period=period)
        .annotate(covered=_covered_by_a_station(sites=sites),
                  need=ExpressionWrapper(_is_need(), output_field=BooleanField()), **by)
        .values(*by, "covered", "need")
        .annotate(n=Count("id"), **(aggregates or {}))
        .order_by()
    )


@dataclass
class _Tally:
    reports: int = 0
    reports_covered: int = 0
    needs: int = 0
    needs_covered: int = 0

    def add(self, row: dict) -> None:
        self.reports += row["n"]
        self.reports_covered += row["n"] if row["covered"] else 0
        self.needs += row["n"] if row["need"] else 0
        self.needs_covered += row["n"] if row["need"] and row["covered"] else 0

    def as_dict(self) -> dict:
        return {
            "reports": self.reports, "reports_covered": self.reports_covered,
            "reports_share": _share(self.reports_covered, self.reports),
            "needs": self.needs, "needs_covered": self.needs_covered,
            "needs_share": _share(self.needs_covered, self.needs),
        }


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def subdistrict_default(*, user=None) -> Subdistrict:
    """The first subdistrict by code, of those ``user`` works for when given: a subdistrict's
    union staff get their own by default."""
    places = Subdistrict.objects.order_by("code")
    if user is not None:
        places = places.filter(in_scope_q(user, field="pk"))
    return places.first()  # type: ignore[return-value]


def checkin_coverage(*, subdistrict: Subdistrict, period: Period,
                     sites: Sequence[Site] | None = None) -> dict:
    """The check-ins of the period at the subdistrict's stations whose position is within
    reach of an active station (or of ``sites``): all of them while the stations stand where
    riders checked in, fewer when one is moved or removed in a what-if."""
    counts = {
        row["covered"]: row["n"]
        for row in CheckIn.objects.filter(station__subdistrict=subdistrict,
                                          at__gte=period.since, at__lt=period.until)
        .annotate(covered=_covered_by_a_station(sites=sites, field="position"))
        .values("covered").annotate(n=Count("id")).order_by()
    }
    total = counts.get(True, 0) + counts.get(False, 0)
    return {"checkins": total, "checkins_covered": counts.get(True, 0),
            "checkins_share": _share(counts.get(True, 0), total)}


def coverage_summary(
    *, period: Period, subdistrict: Subdistrict | None = None,
    report_weight: float = DEFAULT_REPORT_WEIGHT, need_weight: float = DEFAULT_NEED_WEIGHT,
    hotspots: int = HOTSPOTS_DEFAULT, sites: Sequence[Site] | None = None,
) -> dict:
    """Coverage of the subdistrict and each community by the active stations, or by the
    stations of a what-if (``sites``, see ``station_sites_what_if``; nothing is written).

    * area: the covered area (the union of the circles, EPSG:4548) over the area, in m²;
    * reports: reports received in the period within some station's radius (geography,
      metres), and of them riders' own needs (骑手诉求, category group L02);
    * check-ins: those at the subdistrict's stations within some station's radius;
    * hotspots: the unit grids with the most uncovered demand, weight = other reports ×
      ``report_weight`` + riders' needs × ``need_weight``.
    """
    subdistrict = subdistrict or subdistrict_default()
    union = coverage_union_metric(sites=sites)
    union_value = Value(union, output_field=GeometryField(srid=METRIC_SRID)) if union else None

    def with_area(queryset):
        queryset = queryset.annotate(area_m2=Area(metric("boundary")))
        if union_value is not None:
            queryset = queryset.annotate(
                covered_m2=Area(Intersection(metric("boundary"), union_value))
            )
        return queryset

    def covered_m2(row) -> float:
        return row.covered_m2.sq_m if union_value is not None else 0.0

    communities = list(with_area(CommunityGrid.objects.filter(subdistrict=subdistrict))
                       .order_by("code"))
    whole = with_area(Subdistrict.objects.filter(pk=subdistrict.pk)).get()
    points = ([station.location for station in active_stations().only("location")]
              if sites is None else [Point(site.lon, site.lat, srid=WGS84) for site in sites])
    groups = _report_groups(subdistrict=subdistrict, period=period,
                            by={"community": F("community_grid"), "grid": F("unit_grid")},
                            sites=sites)
    tallies: dict[int, _Tally] = {community.pk: _Tally() for community in communities}
    total = _Tally()
    uncovered: dict[int, list[int]] = {}  # unit grid → [reports, needs] not covered
    for row in groups:
        tallies.setdefault(row["community"], _Tally()).add(row)
        total.add(row)
        if not row["covered"] and row["grid"] is not None:
            counts = uncovered.setdefault(row["grid"], [0, 0])
            counts[0] += row["n"]
            counts[1] += row["n"] if row["need"] else 0
    label = name_field()

    def place(obj, area: float, covered: float, tally: _Tally, stations: int) -> dict:
        return {
            "code": obj.code, "name": getattr(obj, label), "name_zh": obj.name_zh,
            "name_en": obj.name_en, "stations": stations,
            "area_m2": round(area, 1), "covered_area_m2": round(covered, 1),
            "area_share": _share(covered, area), **tally.as_dict(),
        }

    # Stations counted where they stand (GEOS covers, as ST_Covers, in Python: tens of points);
    # one on an edge between communities goes to the lowest code, as grid_locate does.
    home: dict[int, int] = {}
    for point in points:
        for community in communities:
            if community.boundary.covers(point):
                home[community.pk] = home.get(community.pk, 0) + 1
                break
    return {
        "period": {"since": period.since.isoformat(), "until": period.until.isoformat()},
        "radius_default_m": station_radius_default_m(),
        "stations": len(points),
        "weights": {"report": report_weight, "need": need_weight},
        "subdistrict": place(whole, whole.area_m2.sq_m, covered_m2(whole), total,
                             sum(home.values())),
        "communities": [
            place(community, community.area_m2.sq_m, covered_m2(community),
                  tallies[community.pk], home.get(community.pk, 0))
            for community in communities
        ],
        "checkins": checkin_coverage(subdistrict=subdistrict, period=period, sites=sites),
        "hotspots": _hotspots(uncovered, report_weight=report_weight, need_weight=need_weight,
                              limit=hotspots),
    }


def _hotspots(uncovered: dict[int, list[int]], *, report_weight: float, need_weight: float,
              limit: int) -> list[dict]:
    """The unit grids with the most uncovered demand weight, heaviest first (ties: grid ID)."""
    grids = {
        grid.pk: grid for grid in UnitGrid.objects.filter(pk__in=list(uncovered))
        .select_related("community").only("grid_id", "community__code", "community__name_zh",
                                           "community__name_en")
    }
    rows = []
    for pk, (reports, needs) in uncovered.items():
        weight = (reports - needs) * report_weight + needs * need_weight
        rows.append((-weight, grids[pk].grid_id, pk, reports, needs, weight))
    rows.sort()
    rows = rows[:limit]
    centres = dict(
        UnitGrid.objects.filter(pk__in=[row[2] for row in rows])
        .annotate(centre=_grid_point()).values_list("pk", "centre")
    )
    label = name_field()
    return [
        {
            "rank": rank, "grid_id": grid_id, "community": grids[pk].community.code,
            "community_name": getattr(grids[pk].community, label),
            "lon": round(centres[pk].x, 6), "lat": round(centres[pk].y, 6),
            "uncovered_reports": reports, "uncovered_needs": needs, "weight": weight,
        }
        for rank, (_neg, grid_id, pk, reports, needs, weight) in enumerate(rows, start=1)
    ]


def _grid_point() -> Case:
    """A unit grid's centroid, or a point on its surface when the centroid falls outside it
    (an L-shaped piece clipped by a road)."""
    return Case(
        When(boundary__covers=Centroid("boundary"), then=Centroid("boundary")),
        default=PointOnSurface("boundary"),
        output_field=GeometryField(srid=WGS84),
    )


# --- siting -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A possible new site: a unit grid's centre or a host venue someone proposed."""

    key: str  # the grid ID, or "venue:<n>" (n from 1, in the order given)
    kind: str  # "unit_grid" or "venue"
    name: str
    lon: float  # WGS 84 degrees
    lat: float
    x: float  # EPSG:4548 metres
    y: float
    community: str | None = None


def grid_candidates(*, subdistrict: Subdistrict) -> list[Candidate]:
    """Every unit grid's centre (see ``_grid_point``) in the subdistrict, its coordinates read
    as numbers: a model and two GEOS points a grid took 110-230 ms for Nanyuan's 1,311."""
    grids = (
        UnitGrid.objects.filter(community__subdistrict=subdistrict)
        .annotate(centre=_grid_point())
        .annotate(centre_metric=Transform("centre", METRIC_SRID))
        .order_by("grid_id")
        .values_list("grid_id", f"community__{name_field()}", "community__code",
                     PointX("centre"), PointY("centre"),
                     PointX("centre_metric"), PointY("centre_metric"))
    )
    return [
        Candidate(key=grid_id, kind="unit_grid", name=f"{community_name} {grid_id}",
                  lon=lon, lat=lat, x=x, y=y, community=community)
        for grid_id, community_name, community, lon, lat, x, y in grids
    ]


def venue_candidates(*, venues: Sequence[dict]) -> list[Candidate]:
    """Proposed host venues ``{"name", "lon", "lat"}`` (WGS 84) as candidates; PostGIS
    transforms them to EPSG:4548, as it does the reports (one query for all of them)."""
    if not venues:
        return []
    annotations = {
        f"p{index}": Transform(
            Value(Point(venue["lon"], venue["lat"], srid=WGS84),
                  output_field=GeometryField(srid=WGS84)),
            METRIC_SRID,
        )
        for index, venue in enumerate(venues)
    }
    row = Subdistrict.objects.annotate(**annotations).values(*annotations)[:1].get()
    return [
        Candidate(key=f"venue:{index + 1}", kind="venue", name=str(venue.get("name") or ""),
                  lon=venue["lon"], lat=venue["lat"],
                  x=row[f"p{index}"].x, y=row[f"p{index}"].y)
        for index, venue in enumerate(venues)
    ]


@dataclass(frozen=True)
class DemandCell:
    key: tuple[float, float]  # the cell's snapped point in EPSG:4548 (metres)
    x: float  # the centroid of its uncovered reports, EPSG:4548 metres
    y: float
    reports: int  # uncovered reports in the cell, riders' needs included
    needs: int


def _demand(*, subdistrict: Subdistrict, period: Period, cell_m: int,
            sites: Sequence[Site] | None = None) -> tuple[list[DemandCell], _Tally]:
    """The uncovered reports of the period (by the active stations, or ``sites``) grouped
    into ``cell_m`` squares of EPSG:4548 (each at the centroid of its reports), and the tally
    of all reports, covered or not."""
    groups = _report_groups(
        subdistrict=subdistrict, period=period,
        by={"cell": SnapToGrid(metric("location"), float(cell_m))},
        aggregates={"centre": Centroid(Collect(metric("location")))}, sites=sites,
    )
    total = _Tally()
    merged: dict[tuple[float, float], list] = {}  # needs and other reports are two groups
    for row in groups:
        total.add(row)
        if row["covered"]:
            continue
        key = (row["cell"].x, row["cell"].y)
        entry = merged.setdefault(key, [0, 0, 0.0, 0.0])
        entry[0] += row["n"]
        entry[1] += row["n"] if row["need"] else 0
        entry[2] += row["centre"].x * row["n"]  # centroid of the union = weighted centroids
        entry[3] += row["centre"].y * row["n"]
    cells = [
        DemandCell(key=key, x=sx / reports, y=sy / reports, reports=reports, needs=needs)
        for key, (reports, needs, sx, sy) in sorted(merged.items())
    ]
    return cells, total


def demand_cells(*, subdistrict: Subdistrict, period: Period, cell_m: int = DEMAND_CELL_M,
                 sites: Sequence[Site] | None = None) -> list[DemandCell]:
    """Reports in the period that no active station (or none of ``sites``) covers, in
    ``cell_m`` squares."""
    return _demand(subdistrict=subdistrict, period=period, cell_m=cell_m, sites=sites)[0]


def coverage_pairs(*, candidates: Sequence[Candidate], cells: Sequence[DemandCell],
                   radius_m: float) -> dict[str, list[int]]:
    """Candidate key → indexes of the cells within ``radius_m`` (inclusive, as ST_DWithin) of
    it, by planar distance in EPSG:4548 (a shapely STRtree: the pairs come to ~10^5–10^6)."""
    mapping: dict[str, list[int]] = {candidate.key: [] for candidate in candidates}
    if not candidates or not cells:
        return mapping
    tree = shapely.STRtree(shapely.points([(cell.x, cell.y) for cell in cells]))
    sites = shapely.points([(candidate.x, candidate.y) for candidate in candidates])
    site_index, cell_index = tree.query(sites, predicate="dwithin", distance=radius_m)
    for site, cell in zip(site_index.tolist(), cell_index.tolist(), strict=True):
        mapping[candidates[site].key].append(cell)
    return mapping


def siting_suggest(
    *, k: int, period: Period, subdistrict: Subdistrict | None = None,
    radius_m: int | None = None, venues: Sequence[dict] | None = None,
    report_weight: float = DEFAULT_REPORT_WEIGHT, need_weight: float = DEFAULT_NEED_WEIGHT,
    cell_m: int = DEMAND_CELL_M,
) -> dict:
    """Where to open the next ``k`` stations (maximal covering location, greedy, lazy).

    Demand: the reports of the period that no active station covers yet, weighted (riders'
    needs ``need_weight``, other reports ``report_weight``), grouped into ``cell_m`` cells at the
    centroid of their reports; a cell counts as covered when its centroid is within the radius,
    so with 25 m cells a band of at most 18 m at a circle's edge is approximate (``cell_m``
    trades that for speed: the pairs grow as 1/cell_m² where demand is dense). Candidates: every
    unit grid's centre, or the ``venues`` given. Each pick answers the weight the greedy counted
    (``gain_weight``, on cells) and the exact added coverage, counted again in PostGIS with
    ST_DWithin on geography over every uncovered report (``added_*``).
    """
    subdistrict = subdistrict or subdistrict_default()
    radius_m = radius_m or station_radius_default_m()
    candidates = (venue_candidates(venues=venues) if venues
                  else grid_candidates(subdistrict=subdistrict))
    cells, before = _demand(subdistrict=subdistrict, period=period, cell_m=cell_m)

    def weight_of(reports: int, needs: int) -> float:
        return (reports - needs) * report_weight + needs * need_weight

    weights = {index: weight_of(cell.reports, cell.needs) for index, cell in enumerate(cells)}
    pairs = coverage_pairs(candidates=candidates, cells=cells, radius_m=radius_m)
    result = mclp_greedy(coverage=pairs, weights=weights, k=k)
    by_key = {candidate.key: candidate for candidate in candidates}
    picked = [by_key[pick.candidate] for pick in result.picks]
    exact = _added_exactly(subdistrict=subdistrict, period=period, picks=picked,
                           radius_m=radius_m)
    covered_reports, covered_needs = before.reports_covered, before.needs_covered
    answer_picks = []
    for rank, (pick, candidate) in enumerate(zip(result.picks, picked, strict=True), start=1):
        added_reports, added_needs = exact.get(rank, (0, 0))
        covered_reports += added_reports
        covered_needs += added_needs
        answer_picks.append({
            "rank": rank, "key": candidate.key, "kind": candidate.kind, "name": candidate.name,
            "community": candidate.community,
            "lon": round(candidate.lon, 6), "lat": round(candidate.lat, 6),
            "gain_weight": round(pick.added_weight, 3),
            "added_reports": added_reports, "added_needs": added_needs,
            "added_weight": weight_of(added_reports, added_needs),
            "reports_share_after": _share(covered_reports, before.reports),
            "needs_share_after": _share(covered_needs, before.needs),
        })
    return {
        "period": {"since": period.since.isoformat(), "until": period.until.isoformat()},
        "k": k, "radius_m": radius_m, "cell_m": cell_m,
        "weights": {"report": report_weight, "need": need_weight},
        "candidate_kind": "venue" if venues else "unit_grid", "candidates": len(candidates),
        "demand_cells": len(cells),
        "uncovered_weight": round(math.fsum(weights.values()), 3),
        "before": before.as_dict(),
        "picks": answer_picks,
        "greedy_evaluations": result.evaluations,
    }


def _added_exactly(*, subdistrict: Subdistrict, period: Period, picks: Sequence[Candidate],
                   radius_m: int) -> dict[int, tuple[int, int]]:
    """Rank → (reports, needs) not covered before that pick ``rank`` covers and no earlier pick
    does: ST_DWithin on geography, the first pick in rank order that reaches the report.

    The reports near some pick are found through their GiST index first, so the coverage test
    by the existing stations runs on those only."""
    if not picks:
        return {}
    sites = [(rank, Point(c.lon, c.lat, srid=WGS84)) for rank, c in enumerate(picks, start=1)]
    near_a_pick = Q(pk__in=[])
    for _rank, site in sites:
        near_a_pick |= Q(location__dwithin=(site, radius_m))
    rows = (
        _reports(subdistrict=subdistrict, period=period).filter(near_a_pick)
        .annotate(covered=_covered_by_a_station()).filter(covered=False)
        .annotate(first_pick=Case(
            *[When(location__dwithin=(site, radius_m), then=Value(rank)) for rank, site in sites],
            output_field=IntegerField(),
        ))
        .values("first_pick")
        .annotate(reports=Count("id"), needs=Count("id", filter=_is_need()))
        .order_by()
    )
    return {row["first_pick"]: (row["reports"], row["needs"]) for row in rows}


# --- check-ins --------------------------------------------------------------------------------


def rider_checkin_list(*, rider) -> QuerySet[CheckIn]:
    return CheckIn.objects.filter(rider=rider).select_related("station").order_by("-at", "-id")


def uncovered_report_points(*, subdistrict: Subdistrict, period: Period) -> list[GEOSGeometry]:
    """The reports of the period that no active station covers, as EPSG:4548 points (for maps)."""
    return list(
        _reports(subdistrict=subdistrict, period=period)
        .annotate(covered=_covered_by_a_station()).filter(covered=False)
        .annotate(point=metric("location")).values_list("point", flat=True)
    )
