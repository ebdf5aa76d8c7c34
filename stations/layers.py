"""The stations app's map layers as plain values: the pins of active stations with their
coverage, and the demand no station reaches. Frontend draws them."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.contrib.gis.db.models.functions import AsGeoJSON
from django.contrib.gis.gdal import CoordTransform, SpatialReference
from django.contrib.gis.geos import MultiPoint, Point
from django.utils import timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import get_language

from civicmap.i18n import name_field
from civicmap.models import WGS84, Subdistrict
from civicmap.spatial import METRIC_SRID, as_geometry_point
from stations.catalogue import service_catalogue
from stations.selectors import (
    Period,
    Site,
    active_stations,
    demand_cells,
    radius_expression,
    station_open_ids,
    subdistrict_default,
    venue_type_catalogue,
)

_TO_WGS84 = CoordTransform(SpatialReference(METRIC_SRID), SpatialReference(WGS84))


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


def station_pins(*, now: datetime | None = None, subdistrict_id: int | None = None,
                 ids: Collection[int] | None = None) -> list[StationPin]:
    """Active stations (of one subdistrict, or the whole district; ``ids``: only these) with
    services, hours, whether open at ``now`` and coverage radius (the values of the API's list,
    ``stations.selectors.station_features``), labelled in the active language, by Chinese
    name."""
    open_ids = station_open_ids(at=now or timezone.now())
    label = "name_en" if (get_language() or "").startswith("en") else "name_zh"
    services = {entry["code"]: entry[label] for entry in service_catalogue()}
    venues = {entry["code"]: entry[label] for entry in venue_type_catalogue()}
    stations = active_stations()
    if subdistrict_id is not None:
        stations = stations.filter(subdistrict_id=subdistrict_id)
    if ids is not None:
        stations = stations.filter(pk__in=list(ids))
    rows = (stations
            .annotate(geojson=AsGeoJSON(as_geometry_point("location"), precision=6),
                      radius=radius_expression())
            .order_by("name_zh")
            .values_list("pk", name_field(), "address_zh", "venue_type", "geojson", "radius",
                         "services", "opening_hours"))
    pins = []
    for pk, name, address, venue, geojson, radius, codes, hours in rows:
        lon, lat = json.loads(geojson)["coordinates"]
        pins.append(StationPin(
            name=name, address=address, venue=venues.get(venue, venue), lon=lon, lat=lat,
            radius_m=radius, services=[services.get(code, code) for code in codes],
            hours=_hours_lines(hours), open_now=pk in open_ids,
        ))
    return pins


UNCOVERED_CELL_M = 100  # metres: uncovered reports are drawn in 100 m cells (EPSG:4548)
# The public sees a cell only with at least this many uncovered reports, its count rounded down
# to a multiple of it, at the cell's centre (docs/DECISIONS.md, "The public's uncovered demand").
PUBLIC_MIN_REPORTS = 5


@dataclass(frozen=True)
class UncoveredCell:
    lon: float  # the centroid of the cell's uncovered reports, WGS 84 degrees
    lat: float
    reports: int  # reports no station's radius reaches, riders' own needs included
    needs: int | None  # of them, riders' own needs (骑手诉求); None for the public


def _cells_wgs84(points: list[tuple[float, float]]) -> list[Point]:
    multi = MultiPoint([Point(x, y) for x, y in points], srid=METRIC_SRID)
    multi.transform(_TO_WGS84)
    return list(multi)


def uncovered_demand_cells(*, since: datetime, until: datetime, user=None,
                           subdistrict: Subdistrict | None = None,
                           sites: Sequence[Site] | None = None) -> list[UncoveredCell]:
    """Reports in [since, until) outside every active station's radius (or every one of a
    what-if's ``sites``), per 100 m cell (``demand_cells``: geography ST_DWithin, every
    category), in ``subdistrict`` or the reader's own (the first by code for the district
    role, or without a reader). Staff only: it counts private categories too, and places each
    cell at the centroid of its reports."""
    cells = demand_cells(subdistrict=subdistrict or subdistrict_default(user=user),
                         period=Period(since=since, until=until), cell_m=UNCOVERED_CELL_M,
                         sites=sites)
    if not cells:
        return []
    points = _cells_wgs84([(cell.x, cell.y) for cell in cells])
    return [UncoveredCell(lon=point.x, lat=point.y, reports=cell.reports, needs=cell.needs)
            for cell, point in zip(cells, points, strict=True)]


def uncovered_demand_cells_public(*, since: datetime, until: datetime,
                                  min_reports: int = PUBLIC_MIN_REPORTS) -> list[UncoveredCell]:
    """The uncovered demand as anyone may see it (the first subdistrict by code, as the
    office's default): only cells with at least ``min_reports`` uncovered reports, each count
    rounded down to a multiple of ``min_reports``, drawn at the cell's centre (not at its
    reports' centroid), riders' needs not told apart. So no cell shows fewer than
    ``min_reports`` reports, nor where within its 100 m they were."""
    cells = [cell for cell in demand_cells(subdistrict=subdistrict_default(),
                                           period=Period(since=since, until=until),
                                           cell_m=UNCOVERED_CELL_M)
             if cell.reports >= min_reports]
    if not cells:
        return []
    points = _cells_wgs84([cell.key for cell in cells])  # ST_SnapToGrid: the cell's centre
    return [UncoveredCell(lon=point.x, lat=point.y,
                          reports=cell.reports // min_reports * min_reports, needs=None)
            for cell, point in zip(cells, points, strict=True)]
