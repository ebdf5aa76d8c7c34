"""Writes for stations: every path (API, admin import, demo seed) validates the same way."""

from __future__ import annotations

import math

from django.contrib.gis.geos import Point
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from civicmap.errors import FieldError, InvalidInput
from civicmap.models import WGS84
from stations.hours import opening_hours_validate
from stations.models import MAX_COVERAGE_RADIUS_M, Service, Station, VenueType

MSG_OUTSIDE = _("The station lies outside the subdistrict.")
MSG_BAD_RADIUS = _("The coverage radius must be more than 0 and at most 5,000 metres.")
MSG_UNKNOWN_SERVICE = _("Unknown service: %(service)s.")
MSG_BAD_VENUE = _("Unknown venue type.")
MSG_BAD_COORDINATE = _("Coordinates must be numbers: longitude -180…180, latitude -90…90.")


def _station_point(lon: object, lat: object) -> Point:
    try:
        lon_f, lat_f = float(lon), float(lat)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InvalidInput(FieldError("location", "invalid", MSG_BAD_COORDINATE)) from exc
    if not (math.isfinite(lon_f) and math.isfinite(lat_f)
            and -180 <= lon_f <= 180 and -90 <= lat_f <= 90):
        raise InvalidInput(FieldError("location", "invalid", MSG_BAD_COORDINATE))
    return Point(lon_f, lat_f, srid=WGS84)


def _station_fields_validate(
    *, venue_type: str, services: list[str], coverage_radius_m: int | None, opening_hours: list
) -> None:
    errors = []
    if venue_type not in VenueType.values:
        errors.append(FieldError("venue_type", "invalid", MSG_BAD_VENUE))
    for service in services:
        if service not in Service.values:
            errors.append(
                FieldError("services", "invalid", MSG_UNKNOWN_SERVICE % {"service": service})
            )
    if coverage_radius_m is not None and not (0 < coverage_radius_m <= MAX_COVERAGE_RADIUS_M):
        errors.append(FieldError("coverage_radius_m", "out_of_range", MSG_BAD_RADIUS))
    if errors:
        raise InvalidInput(*errors)
    opening_hours_validate(opening_hours)


def station_upsert(
    *,
    name_zh: str,
    name_en: str,
    venue_type: str,
    address_zh: str,
    lon: object,
    lat: object,
    opening_hours: list,
    services: list[str],
    coverage_radius_m: int | None = None,
) -> Station:
    """Create or update the station named ``name_zh``; refuse it outside the subdistrict."""
    location = _station_point(lon, lat)
    _station_fields_validate(
        venue_type=venue_type, services=services,
        coverage_radius_m=coverage_radius_m, opening_hours=opening_hours,
    )
    try:
        with transaction.atomic():
            station, _ = Station.objects.update_or_create(
                name_zh=name_zh,
                defaults={
                    "name_en": name_en, "venue_type": venue_type, "address_zh": address_zh,
                    "location": location, "opening_hours": opening_hours,
                    "services": services, "coverage_radius_m": coverage_radius_m,
                },
            )
    except IntegrityError as exc:
        # The database trigger station_inside_subdistrict is the last word on the area.
        if "station_inside_subdistrict" in str(exc) or "outside the subdistrict" in str(exc):
            raise InvalidInput(FieldError("location", "outside_area", MSG_OUTSIDE)) from exc
        raise
    return station
