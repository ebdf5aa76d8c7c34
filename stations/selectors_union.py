"""Reads for the union's station pages (/union/stations/): the list with today's hours and the
visits of the last 30 days, and one station to edit, each within the reader's subdistricts
(``civicmap.scopes``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.gis.db.models.functions import PointOnSurface
from django.db.models import Count, Q
from django.utils import timezone

from civicmap.i18n import name_field
from civicmap.models import Subdistrict
from civicmap.scopes import EVERYWHERE, in_scope_q, user_subdistrict_ids
from stations.hours import LOCAL_TZ, is_open_at, wraps_midnight
from stations.models import Station

VISITS_DAYS = 30  # the list's check-in count: the last 30 days up to now


@dataclass(frozen=True)
class UnionStationRow:
    station: Station  # with ``visits``: check-ins in the last VISITS_DAYS days
    name: str  # in the reader's language
    today: list[tuple[str, str, bool]]  # today's intervals: (open, close, runs into next day)
    open_now: bool  # active and open now (public holidays honoured)


def union_station_list(*, user, is_active: bool | None = None, venue_type: str | None = None,
                       service: str | None = None, now: datetime | None = None
                       ) -> list[UnionStationRow]:
    """The stations of ``user``'s subdistricts, by Chinese name, filtered by activation,
    venue type and service code. One query: the visits are a filtered COUNT over the
    check-ins' (station, at) index."""
    now = now or timezone.now()
    stations = Station.objects.filter(in_scope_q(user)).annotate(visits=Count(
        "checkins", filter=Q(checkins__at__gte=now - timedelta(days=VISITS_DAYS),
                             checkins__at__lt=now)))
    if is_active is not None:
        stations = stations.filter(is_active=is_active)
    if venue_type:
        stations = stations.filter(venue_type=venue_type)
    if service:
        stations = stations.filter(services__contains=[service])
    weekday = now.astimezone(LOCAL_TZ).weekday()
    label = name_field()
    return [
        UnionStationRow(
            station=station, name=getattr(station, label),
            today=[(i["open"], i["close"], wraps_midnight(i))
                   for i in station.opening_hours if i["day"] == weekday],
            open_now=station.is_active and is_open_at(
                station.opening_hours, now, closed_on_holidays=station.closed_on_holidays),
        )
        for station in stations.order_by("name_zh")
    ]


def union_station_get(*, user, station_id: int) -> Station | None:
    """The station if it lies in one of ``user``'s subdistricts; None otherwise (a 404)."""
    return Station.objects.filter(in_scope_q(user), pk=station_id).first()


def union_station_start(*, user) -> tuple[float, float] | None:
    """Where a new station's pin starts (WGS 84 lon, lat): a point inside the reader's first
    subdistrict by code (``ST_PointOnSurface``: inside even for a concave outline); None when
    there is none."""
    scope = user_subdistrict_ids(user)
    subdistricts = Subdistrict.objects.order_by("code")
    if scope is not EVERYWHERE:
        subdistricts = subdistricts.filter(pk__in=sorted(scope))
    spot = subdistricts.annotate(spot=PointOnSurface("boundary")).values_list(
        "spot", flat=True).first()
    return (spot.x, spot.y) if spot is not None else None
