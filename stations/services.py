"""Writes for stations: every path (API, admin import, demo seed) validates the same way.

Also the check-in with the 苑苑暖心卡 (a rider scans the station's QR code) and the rotation of a
station's check-in code by union staff.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicmap.errors import MSG_NOT_FOUND, FieldError, InvalidInput, NotFound, PermissionRefused
from civicmap.models import WGS84
from civicmap.roles import user_is_rider
from civicmap.scopes import user_covers
from stations.cards import benefit_for_station, benefit_redeem
from stations.hours import opening_hours_validate
from stations.models import (
    MAX_COVERAGE_RADIUS_M,
    BenefitRedemption,
    CheckIn,
    Service,
    Station,
    StationToken,
    VenueType,
)
from stations.tokens import code_read, short_code_new

MSG_OUTSIDE = _("The station lies outside the subdistrict.")
MSG_NOT_YOURS = _("This station lies in a subdistrict you do not work for.")
MSG_BAD_RADIUS = _("The coverage radius must be more than 0 and at most 5,000 metres.")
MSG_RADIUS_NOT_WHOLE = _("The coverage radius must be a whole number of metres.")
MSG_UNKNOWN_SERVICE = _("Unknown service: %(service)s.")
MSG_SERVICES_NOT_LIST = _("Services must be a list of service codes.")
MSG_BAD_VENUE = _("Unknown venue type.")
MSG_BAD_COORDINATE = _("Coordinates must be numbers: longitude -180…180, latitude -90…90.")
MSG_NAME_REQUIRED = _("A name is required (at most %(max)d characters).")
MSG_TEXT_TOO_LONG = _("Text of at most %(max)d characters.")
MSG_BAD_ACTIVE = _("Active must be true or false.")
MSG_BAD_HOLIDAYS = _("Closed on public holidays must be true or false.")
MSG_NAME_TAKEN = _("Another station already has this Chinese name.")
MSG_DUPLICATE_ROW = _("Another row of this file has the same Chinese name.")

MSG_CODE_INVALID = _("This is not a valid station code. Scan the QR code at the station again.")
MSG_CODE_REVOKED = _(
    "This station code has been replaced. Scan the QR code now posted at the station."
)
MSG_STATION_INACTIVE = _("This station is closed for check-ins.")
MSG_TOO_FAR = _(
    "You are %(distance)d m from the station: check in within %(limit)d m of it."
)
MSG_RIDERS_ONLY = _("Only riders can do this.")

CHECKIN_MAX_DISTANCE_M = 150  # metres on the ground, from the phone's position to the station


def checkin_max_distance_m() -> int:
    """Metres; the deployment may set STATION_CHECKIN_MAX_DISTANCE_M."""
    return int(getattr(settings, "STATION_CHECKIN_MAX_DISTANCE_M", CHECKIN_MAX_DISTANCE_M))


# --- station writes ---------------------------------------------------------------------------


def _station_point(lon: object, lat: object) -> Point:
    if isinstance(lon, bool) or isinstance(lat, bool):  # JSON true is not a coordinate
        raise InvalidInput(FieldError("location", "invalid", MSG_BAD_COORDINATE))
    try:
        lon_f, lat_f = float(lon), float(lat)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InvalidInput(FieldError("location", "invalid", MSG_BAD_COORDINATE)) from exc
    if not (math.isfinite(lon_f) and math.isfinite(lat_f)
            and -180 <= lon_f <= 180 and -90 <= lat_f <= 90):
        raise InvalidInput(FieldError("location", "invalid", MSG_BAD_COORDINATE))
    return Point(lon_f, lat_f, srid=WGS84)


def _radius_parse(value: object) -> int | None:
    """Metres as a whole number, or None for the default; raises InvalidInput otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise InvalidInput(FieldError("coverage_radius_m", "invalid", MSG_RADIUS_NOT_WHOLE))
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            FieldError("coverage_radius_m", "invalid", MSG_RADIUS_NOT_WHOLE)
        ) from exc
    if not math.isfinite(number) or not (0 < number <= MAX_COVERAGE_RADIUS_M):
        raise InvalidInput(FieldError("coverage_radius_m", "out_of_range", MSG_BAD_RADIUS))
    if number != int(number):
        raise InvalidInput(FieldError("coverage_radius_m", "invalid", MSG_RADIUS_NOT_WHOLE))
    return int(number)


def _text_errors(name_zh: object, name_en: object, address_zh: object) -> list[FieldError]:
    errors = []
    for field, value, limit, required in (
        ("name_zh", name_zh, 100, True), ("name_en", name_en, 100, True),
        ("address_zh", address_zh, 200, False),
    ):
        text = value.strip() if isinstance(value, str) else None
        if text is None or (required and not text):
            if required:
                errors.append(FieldError(field, "required", MSG_NAME_REQUIRED % {"max": limit}))
            elif value is not None:
                errors.append(FieldError(field, "invalid", MSG_TEXT_TOO_LONG % {"max": limit}))
        elif len(text) > limit:
            errors.append(FieldError(field, "too_long", MSG_TEXT_TOO_LONG % {"max": limit}))
    return errors


def _station_fields_validate(
    *, venue_type: object, services: object, opening_hours: object
) -> tuple[list[FieldError], list[dict] | None]:
    """The faults of these fields, and the hours as stored (None when they have faults)."""
    errors = []
    if venue_type not in VenueType.values:
        errors.append(FieldError("venue_type", "invalid", MSG_BAD_VENUE))
    if not isinstance(services, list | tuple):
        errors.append(FieldError("services", "invalid", MSG_SERVICES_NOT_LIST))
    else:
        for service in services:
            if not isinstance(service, str) or service not in Service.values:
                errors.append(
                    FieldError("services", "invalid", MSG_UNKNOWN_SERVICE % {"service": service})
                )
    hours = None
    try:
        hours = opening_hours_validate(opening_hours)
    except InvalidInput as exc:
        errors.extend(exc.errors)
    return errors, hours


def station_validate(
    *,
    name_zh: object,
    name_en: object,
    venue_type: object,
    address_zh: object = "",
    lon: object,
    lat: object,
    opening_hours: object,
    services: object,
    coverage_radius_m: object = None,
    is_active: object = None,
    closed_on_holidays: object = None,
) -> dict:
    """Check every field of a station and report all the faults at once (InvalidInput).

    Returns the model's field values, cleaned. Whether the point lies inside the subdistrict is
    the database's to say (a trigger), when the station is saved.
    """
    errors: list[FieldError] = []
    location = radius = None
    try:
        location = _station_point(lon, lat)
    except InvalidInput as exc:
        errors.extend(exc.errors)
    errors.extend(_text_errors(name_zh, name_en, address_zh))
    field_errors, hours = _station_fields_validate(
        venue_type=venue_type, services=services, opening_hours=opening_hours
    )
    errors.extend(field_errors)
    try:
        radius = _radius_parse(coverage_radius_m)
    except InvalidInput as exc:
        errors.extend(exc.errors)
    if is_active is not None and not isinstance(is_active, bool):
        errors.append(FieldError("is_active", "invalid", MSG_BAD_ACTIVE))
    if closed_on_holidays is not None and not isinstance(closed_on_holidays, bool):
        errors.append(FieldError("closed_on_holidays", "invalid", MSG_BAD_HOLIDAYS))
    if errors:
        raise InvalidInput(*errors)
    cleaned = {
        "name_zh": name_zh.strip(), "name_en": name_en.strip(),  # type: ignore[union-attr]
        "venue_type": venue_type, "address_zh": (address_zh or "").strip(),  # type: ignore
        "location": location, "opening_hours": hours,
        "services": list(services), "coverage_radius_m": radius,  # type: ignore[arg-type]
    }
    for field, value in (("is_active", is_active), ("closed_on_holidays", closed_on_holidays)):
        if value is not None:  # None: an existing station keeps its own
            cleaned[field] = value
    return cleaned


def station_save(*, actor=None, station_id: int | None = None, **fields
                 ) -> tuple[Station, bool]:
    """Create or update the station named ``name_zh`` (fields as ``station_validate``), or
    with ``station_id`` that station (its Chinese name may change: the union's editor); returns
    it and whether it is new, with the subdistrict that covers it. Refused outside every
    subdistrict, and for an ``actor`` (union staff) outside the subdistricts they work for
    (``civicmap.scopes``), before and after the change; nothing is saved on a refusal.
    ``is_active`` and ``closed_on_holidays`` None leave an existing station as it is (a new one
    is active and open on holidays).
    """
    cleaned = station_validate(**fields)
    name_zh = cleaned.pop("name_zh")
    try:
        with transaction.atomic():
            existing = (Station.objects.filter(name_zh=name_zh) if station_id is None
                        else Station.objects.filter(pk=station_id))
            before = existing.values_list("subdistrict_id", flat=True).first()
            if station_id is not None and before is None:
                raise NotFound(FieldError(None, "not_found", MSG_NOT_FOUND))
            if actor is not None and before is not None and not user_covers(actor, before):
                raise InvalidInput(FieldError("name_zh", "not_yours", MSG_NOT_YOURS))
            if station_id is None:
                station, created = Station.objects.update_or_create(name_zh=name_zh,
                                                                    defaults=cleaned)
            else:
                station, created = Station.objects.update_or_create(
                    pk=station_id, defaults={**cleaned, "name_zh": name_zh})
            station.refresh_from_db(fields=["subdistrict"])  # the database's trigger set it
            if actor is not None and not user_covers(actor, station.subdistrict_id):
                raise InvalidInput(FieldError("location", "not_yours", MSG_NOT_YOURS))
    except IntegrityError as exc:
        _raise_if_outside(exc)
        if "name_zh" in str(exc):  # the unique Chinese name, on a rename
            raise InvalidInput(FieldError("name_zh", "duplicate", MSG_NAME_TAKEN)) from exc
        raise
    return station, created


def _raise_if_outside(exc: IntegrityError) -> None:
    # The database trigger station_inside_subdistrict is the last word on the area.
    if "station_inside_subdistrict" in str(exc) or "outside the subdistrict" in str(exc):
        raise InvalidInput(FieldError("location", "outside_area", MSG_OUTSIDE)) from exc


def station_upsert(**fields) -> Station:
    """Create or update the station named ``name_zh`` (see ``station_save``); returns it."""
    station, _created = station_save(**fields)
    return station


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    stations: list[Station]


def stations_import(*, rows: list[dict], actor=None, dry_run: bool = False) -> ImportResult:
    """Save every row with ``station_save`` (as ``actor``), all or nothing.

    Every row is checked (each in a savepoint, so one bad row does not hide the next); if any
    fails, nothing is kept and the errors name their rows as ``rows.<n>.<field>`` (n from 1).
    ``dry_run`` checks every row the same way (the database's own trigger included) and rolls
    everything back.
    """
    errors: list[FieldError] = []
    saved: list[Station] = []
    created_count = 0
    seen: set[str] = set()
    with transaction.atomic():
        for number, row in enumerate(rows, start=1):
            name = row.get("name_zh")
            if isinstance(name, str) and name.strip() in seen:
                errors.append(FieldError(f"rows.{number}.name_zh", "duplicate", MSG_DUPLICATE_ROW))
                continue
            try:
                with transaction.atomic():
                    station, created = station_save(actor=actor, **row)
            except InvalidInput as exc:
                errors.extend(
                    FieldError(f"rows.{number}.{error.field}", error.code, error.message)
                    for error in exc.errors
                )
                continue
            seen.add(station.name_zh)
            saved.append(station)
            created_count += created
        if errors:
            raise InvalidInput(*errors)  # leaves the atomic block: every row is rolled back
        if dry_run:
            transaction.set_rollback(True)
    return ImportResult(created=created_count, updated=len(saved) - created_count, stations=saved)


# --- check-in codes -----------------------------------------------------------------------------


def _token_create(station: Station, actor, now: datetime) -> StationToken:
    for _attempt in range(5):  # a clash of random codes is about 1 in 10^11 per pair
        try:
            with transaction.atomic():
                return StationToken.objects.create(
                    station=station, short_code=short_code_new(), created_at=now,
                    created_by=actor if getattr(actor, "pk", None) else None,
                )
        except IntegrityError as exc:
            if "short_code" not in str(exc):
                raise
    raise RuntimeError("could not draw a fresh short code")


def station_token_ensure(*, station: Station, actor=None, now: datetime | None = None
                         ) -> StationToken:
    """The station's current check-in code, made on first use."""
    with transaction.atomic():
        # Lock the station row: two staff opening the print page at once must not race to
        # make two codes (the partial unique index would refuse the second with an error).
        Station.objects.select_for_update().filter(pk=station.pk).first()
        token = StationToken.objects.filter(station=station, revoked_at__isnull=True).first()
        return token or _token_create(station, actor, now or timezone.now())


def station_token_rotate(*, station: Station, actor=None, now: datetime | None = None
                         ) -> StationToken:
    """Revoke the station's current code (it is refused from now on) and issue a new one."""
    now = now or timezone.now()
    with transaction.atomic():
        Station.objects.select_for_update().filter(pk=station.pk).first()  # as in ensure
        StationToken.objects.filter(station=station, revoked_at__isnull=True).update(
            revoked_at=now
        )
        return _token_create(station, actor, now)


# --- check-ins ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckInResult:
    checkin: CheckIn
    counted: bool  # False: this rider already checked in here within this clock hour
    redemption: BenefitRedemption | None = None  # the benefit used at this visit, if any


def hour_bucket(moment: datetime) -> int:
    """Whole hours since the Unix epoch (UTC); Beijing's clock hours too (UTC+8, no DST)."""
    return int(moment.timestamp() // 3600)


def checkin_create(
    *, rider, code: str, lon: float, lat: float, accuracy_m: float | None = None,
    benefit: str | None = None, now: datetime | None = None,
) -> CheckInResult:
    """Check a rider in at the station whose code they scanned or typed.

    Refused: a code that is not one of ours (bad signature, unknown short code), a code rotated
    out, an inactive station, a position more than 150 m (the setting) from the station. Counted
    once per rider, station and clock hour (a unique constraint); a repeat within the hour is
    answered with the visit already counted.

    ``benefit``: the code of a benefit of the 苑苑暖心卡 used at this visit (stations.cards):
    recorded with the check-in in one transaction, within the member's and the station's
    monthly limits; any refusal (400 naming ``benefit``) writes neither.
    """
    if not user_is_rider(rider):
        raise PermissionRefused(FieldError(None, "riders_only", MSG_RIDERS_ONLY))
    read = code_read(code)
    token = None
    if read is not None:
        token = StationToken.objects.select_related("station").filter(
            short_code=read.short_code
        ).first()
    if token is None or (read.station_id is not None and token.station_id != read.station_id):
        raise InvalidInput(FieldError("code", "invalid", MSG_CODE_INVALID))
    if token.revoked_at is not None:
        raise InvalidInput(FieldError("code", "revoked", MSG_CODE_REVOKED))
    station = token.station
    if not station.is_active:
        raise InvalidInput(FieldError("code", "station_inactive", MSG_STATION_INACTIVE))
    position = Point(lon, lat, srid=WGS84)
    # ST_Distance on geography: metres on the spheroid, as ST_DWithin measures them.
    distance_m = Station.objects.filter(pk=station.pk).annotate(
        d=Distance("location", position)
    ).values_list("d", flat=True).get().m
    limit_m = checkin_max_distance_m()
    if distance_m > limit_m:
        raise InvalidInput(FieldError(
            "location", "too_far",
            MSG_TOO_FAR % {"distance": math.floor(distance_m), "limit": limit_m},
        ))
    chosen = benefit_for_station(station=station, code=benefit) if benefit else None
    now = now or timezone.now()
    bucket = hour_bucket(now)
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: the repeat within the hour is not an error
                checkin = CheckIn.objects.create(
                    rider=rider, station=station, token=token,
                    method=CheckIn.Method.QR if read.signed else CheckIn.Method.SHORT_CODE,
                    at=now, hour_bucket=bucket, position=position,
                    distance_m=round(distance_m, 1), accuracy_m=accuracy_m,
                )
            counted = True
        except IntegrityError as exc:
            if "checkin_once_per_hour" not in str(exc):
                raise
            checkin = CheckIn.objects.select_related("station").get(
                rider=rider, station=station, hour_bucket=bucket
            )
            counted = False
        redemption = (benefit_redeem(checkin=checkin, benefit=chosen, at=now)
                      if chosen is not None else None)
    return CheckInResult(checkin=checkin, counted=counted, redemption=redemption)
