"""Reads of the stations' visits: check-ins per station, by day, by week and by hour of day,
the members served (distinct riders) and the benefits redeemed, for a period and optionally one
subdistrict or one station. The API (``GET /api/v1/stations/visits/``, ``checkin_visits``) and
the union's visits page (/union/visits/) read through these, each within the subdistricts the
reader's work covers (``civicmap.scopes``).

One SQL aggregate per figure. Days and weeks are Beijing's: ``date_trunc`` on ``at`` in
Asia/Shanghai, so a check-in at 23:30 Beijing time (15:30 UTC) counts on that Beijing day, and
weeks start on Monday. The hour of day comes from the check-in's hour bucket (whole hours since
1970-01-01 00:00 UTC; Beijing is UTC+8 all year, so (bucket + 8) mod 24 is its clock hour).
Days, weeks and hours without a visit are filled with zeros here, by a loop over the period's
days (at most a few hundred), never over the check-ins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, F, IntegerField, Q, QuerySet, Value
from django.db.models.functions import Mod, TruncDay, TruncWeek

from civicmap.i18n import name_field
from civicmap.scopes import in_scope_q
from stations.cards import SHANGHAI
from stations.models import Benefit, BenefitRedemption, CheckIn, Station

BEIJING_UTC_OFFSET_H = 8  # Beijing is UTC+8 all year (no daylight saving)
HOURS_OF_DAY = 24


@dataclass(frozen=True)
class VisitsWindow:
    """Check-ins at [since, until) (an open end when None), at the stations of one subdistrict
    or one station when given (else every station the reader's work covers)."""

    since: datetime | None = None
    until: datetime | None = None
    subdistrict_id: int | None = None
    station_id: int | None = None

    def days(self) -> list[date]:
        """The Beijing days of a closed period, first to last."""
        assert self.since is not None and self.until is not None, "a closed period"
        first = self.since.astimezone(SHANGHAI).date()
        last = (self.until - timedelta(microseconds=1)).astimezone(SHANGHAI).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def visits_stations(*, user) -> list[Station]:
    """The stations whose visits the reader may see (the filter's choices), by subdistrict and
    name."""
    return list(Station.objects.filter(in_scope_q(user)).only("id", "name_zh", "name_en",
                                                             "subdistrict_id")
                .order_by("subdistrict__code", "name_zh"))


def _period_q(window: VisitsWindow, *, prefix: str = "") -> Q:
    """The period on ``<prefix>at``."""
    period = Q()
    if window.since:
        period &= Q(**{f"{prefix}at__gte": window.since})
    if window.until:
        period &= Q(**{f"{prefix}at__lt": window.until})
    return period


def _place_q(user, window: VisitsWindow, *, station: str = "station") -> Q:
    """The reader's subdistricts, narrowed to the window's subdistrict or station (``station``:
    the path to the row's station)."""
    place = in_scope_q(user, field=f"{station}__subdistrict")
    if window.subdistrict_id is not None:
        place &= Q(**{f"{station}__subdistrict_id": window.subdistrict_id})
    if window.station_id is not None:
        place &= Q(**{f"{station}_id": window.station_id})
    return place


def visits_checkins(*, user, window: VisitsWindow) -> QuerySet[CheckIn]:
    """The counted check-ins of the window that the reader may see."""
    return CheckIn.objects.filter(_place_q(user, window) & _period_q(window))


def visits_totals(*, user, window: VisitsWindow) -> dict:
    """``visits`` (check-ins), ``riders`` (members served: distinct riders) and ``stations``
    (stations visited), one aggregate."""
    return visits_checkins(user=user, window=window).aggregate(
        visits=Count("id"), riders=Count("rider", distinct=True),
        stations=Count("station", distinct=True))


def visits_per_station(*, user, window: VisitsWindow) -> list[dict]:
    """Every station of the window's place (inactive ones and those without a visit too) with
    its visits and riders, busiest first."""
    stations = Station.objects.filter(in_scope_q(user))
    if window.subdistrict_id is not None:
        stations = stations.filter(subdistrict_id=window.subdistrict_id)
    if window.station_id is not None:
        stations = stations.filter(pk=window.station_id)
    counted = _period_q(window, prefix="checkins__")
    label = name_field()
    rows = (stations.annotate(visits=Count("checkins", filter=counted),
                              riders=Count("checkins__rider", filter=counted, distinct=True))
            .order_by("-visits", "name_zh")
            .values("id", label, "name_zh", "name_en", "is_active", "visits", "riders"))
    return [{"id": row["id"], "name": row[label], "name_zh": row["name_zh"],
             "name_en": row["name_en"], "is_active": row["is_active"], "visits": row["visits"],
             "riders": row["riders"]} for row in rows]


def visits_per_rider(*, user, window: VisitsWindow) -> list[dict]:
    """Each rider who checked in, with visits and stations visited, most visits first."""
    rows = (visits_checkins(user=user, window=window)
            .values("rider", "rider__username", "rider__rider__display_name",
                    "rider__rider__member_no")
            .annotate(visits=Count("id"), stations=Count("station", distinct=True))
            .order_by("-visits", "rider"))
    return [{"user_id": row["rider"], "username": row["rider__username"],
             "display_name": row["rider__rider__display_name"],
             "member_no": row["rider__rider__member_no"],
             "visits": row["visits"], "stations": row["stations"]} for row in rows]


def _grouped(*, user, window: VisitsWindow, bucket) -> dict:
    """{bucket: (visits, riders)}: one GROUP BY over the window's check-ins."""
    rows = (visits_checkins(user=user, window=window).annotate(bucket=bucket)
            .values("bucket").annotate(visits=Count("id"), riders=Count("rider", distinct=True))
            .order_by())
    return {row["bucket"]: (row["visits"], row["riders"]) for row in rows}


def visits_by_day(*, user, window: VisitsWindow) -> list[dict]:
    """Each Beijing day of the (closed) period: ``day``, ``visits``, ``riders`` (distinct that
    day)."""
    counts = _grouped(user=user, window=window, bucket=TruncDay("at", tzinfo=SHANGHAI))
    counts = {moment.date(): value for moment, value in counts.items()}
    return [{"day": day, "visits": counts.get(day, (0, 0))[0],
             "riders": counts.get(day, (0, 0))[1]} for day in window.days()]


def visits_by_week(*, user, window: VisitsWindow) -> list[dict]:
    """Each week (Monday to Sunday, Beijing) touching the (closed) period: ``week`` (its
    Monday), ``visits``, ``riders`` (distinct that week). The first and last weeks count the
    period's days only."""
    counts = _grouped(user=user, window=window, bucket=TruncWeek("at", tzinfo=SHANGHAI))
    counts = {moment.date(): value for moment, value in counts.items()}
    mondays = sorted({day - timedelta(days=day.weekday()) for day in window.days()})
    return [{"week": monday, "visits": counts.get(monday, (0, 0))[0],
             "riders": counts.get(monday, (0, 0))[1]} for monday in mondays]


def visits_by_hour(*, user, window: VisitsWindow) -> list[dict]:
    """Each hour of the Beijing day, 0 to 23: ``hour``, ``visits``, ``riders`` (distinct)."""
    hour = Mod(F("hour_bucket") + Value(BEIJING_UTC_OFFSET_H), Value(HOURS_OF_DAY),
               output_field=IntegerField())
    counts = _grouped(user=user, window=window, bucket=hour)
    return [{"hour": h, "visits": counts.get(h, (0, 0))[0], "riders": counts.get(h, (0, 0))[1]}
            for h in range(HOURS_OF_DAY)]


def _benefits(*, user, window: VisitsWindow) -> QuerySet[Benefit]:
    """The benefits of the window's place: the union of a station's subdistrict sets them."""
    benefits = Benefit.objects.filter(in_scope_q(user))
    if window.subdistrict_id is not None:
        benefits = benefits.filter(subdistrict_id=window.subdistrict_id)
    if window.station_id is not None:
        benefits = benefits.filter(subdistrict__stations=window.station_id)
    return benefits


def redemptions_per_benefit(*, user, window: VisitsWindow) -> list[dict]:
    """Every benefit of the window's place (unused ones too): ``uses`` and ``members`` (distinct
    members who used it), by subdistrict and code."""
    used = _period_q(window, prefix="redemptions__")
    if window.station_id is not None:
        used &= Q(redemptions__station_id=window.station_id)
    label = name_field()
    rows = (_benefits(user=user, window=window)
            .annotate(uses=Count("redemptions", filter=used),
                      members=Count("redemptions__membership", filter=used, distinct=True))
            .order_by("subdistrict__code", "code")
            .values("id", "code", label, "subdistrict__code", f"subdistrict__{label}", "uses",
                    "members"))
    return [{"id": row["id"], "code": row["code"], "name": row[label],
             "subdistrict": row["subdistrict__code"],
             "subdistrict_name": row[f"subdistrict__{label}"], "uses": row["uses"],
             "members": row["members"]} for row in rows]


def redemptions_per_station(*, user, window: VisitsWindow) -> list[dict]:
    """Uses of each benefit at each station in the window (pairs without a use left out):
    ``station``, ``station_name``, ``benefit``, ``uses``; by station name, then benefit."""
    label = name_field()
    rows = (BenefitRedemption.objects.filter(_place_q(user, window) & _period_q(window))
            .values("station", f"station__{label}", "station__name_zh", "benefit")
            .annotate(uses=Count("id"))
            .order_by("station__name_zh", "station", "benefit"))
    return [{"station": row["station"], "station_name": row[f"station__{label}"],
             "benefit": row["benefit"], "uses": row["uses"]} for row in rows]


def checkin_visits(*, user, since: datetime | None = None,
                   until: datetime | None = None) -> dict:
    """Visits (counted check-ins) per station and per rider, for the union's statistics: the
    stations of the subdistricts ``user`` covers (``civicmap.scopes``) and their check-ins."""
    window = VisitsWindow(since=since, until=until)
    totals = visits_totals(user=user, window=window)
    return {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "visits": totals["visits"],
        "riders": totals["riders"],
        "per_station": visits_per_station(user=user, window=window),
        "per_rider": visits_per_rider(user=user, window=window),
    }
