"""The one intake service behind every channel (the rider app, Open311, file imports).

A report is checked (channel rules, photos by content, location, service area), then written in
one transaction: idempotent replay by ``client_uuid``, the per-rider hourly limit, grid
assignment, duplicate merging into a case, and the map aggregates. Each photo's renditions job
is its pending row, written in the same transaction (an outbox, issues.services.photos): handed
to Celery after the commit at best, by the sweep otherwise, so a Redis outage never fails the
report nor loses the job. If the transaction rolls back, the photo files it stored are deleted.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.gis.geos import Point
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from civicmap import coords
from civicmap.bounds import ACCURACY_MAX_M, CLIENT_TIME_AHEAD_MAX, CLIENT_TIME_MIN
from civicmap.db import row_insert
from civicmap.errors import Conflict, FieldError, InvalidInput, RateLimited
from civicmap.models import WGS84
from civicmap.selectors import GridPlace, grid_locate
from issues.aggregates import aggregates_count_report
from issues.hooks import case_opened
from issues.models import OPEN_STAGES, ApiClient, Case, Category, Report, ReportPhoto, Stage
from issues.photos import InspectedPhoto, photo_inspect
from issues.selectors import category_by_code, report_answer_get, report_answer_of_intake
from issues.services.cases import case_open, case_report_joined
from issues.services.photos import photo_store, stored_photos_cleanup
from issues.sql import CASE_MERGE_CANDIDATE, REPORTER_INTAKE_LOCK, REPORTER_REPLAY_AND_LIMIT

MSG_CATEGORY_REQUIRED = _("Choose a category.")
MSG_CATEGORY_UNKNOWN = _("Unknown category.")
MSG_UUID_REQUIRED = _("client_uuid is required: the app sends one per report so retries are safe.")
MSG_DESCRIPTION_TOO_LONG = _("The description may have at most %(limit)s characters.")
MSG_PHOTOS_REQUIRED = _("Add at least one photo.")
MSG_PHOTOS_TOO_MANY = _("At most %(limit)s photos.")
MSG_LOCATION_REQUIRED = _("Send the position (lon and lat) or a photo with GPS.")
MSG_LON_LAT_PAIR = _("Send lon and lat together.")
MSG_LON_RANGE = _("Longitude must be a number from -180 to 180.")
MSG_LAT_RANGE = _("Latitude must be a number from -90 to 90.")
MSG_COORD_SYSTEM = _("Unknown coordinate system: use wgs84, gcj02 or bd09.")
MSG_ACCURACY_RANGE = _("Accuracy must be a number of metres from 0 to 100,000.")
MSG_TIME_RANGE = _("The time must be between 2000-01-01 and one day from now.")
MSG_CAPTURED_AT_RANGE = _(
    "The capture time must be between 2000-01-01 and one day after the report is received."
)
MSG_NUL = _("Must not contain the NUL character (\\0).")
MSG_OUTSIDE_AREA = _("This place is outside every subdistrict this platform serves.")
MSG_REPLAY_CONFLICT = _(
    "This client_uuid was already used for a different report. Send a new client_uuid."
)
MSG_RATE_LIMITED = _("Too many reports in the last hour: try again in %(minutes)s minutes.")
MSG_RECEIVED_AT_REQUIRED = _("Give the time the report was received.")
MSG_RECEIVED_AT_RANGE = _("The time the report was received must be between 2000-01-01 and now.")
MSG_IMPORTED_CONFLICT = _(
    "This external ID was already imported with a different category, time, place or "
    "description."
)

EXIF_DEVICE_MAX_GAP_M = 200  # metres: past this the report keeps the device's and is flagged
FOLLOW_UP_WINDOW = timedelta(days=30)  # a repeat this soon after closure links to the old case
MERGE_CLOSED_STAGES = (Stage.CLOSED, Stage.EVALUATED)  # the closures a new case may follow


@dataclass(frozen=True)
class ChannelRules:
    """What one channel demands on top of the shared checks."""

    channel: str
    requires_client_uuid: bool
    requires_photos: bool  # unless the category is photo-optional
    max_description: int
    max_photos: int = 4
    # The caller gives the time the report was received (another system's history, imported):
    # required, from 2000-01-01 to now.
    given_received_at: bool = False


APP_CHANNEL = ChannelRules(Report.Channel.APP, True, True, 2000)
OPEN311_CHANNEL = ChannelRules(Report.Channel.OPEN311, False, False, 4000)
IMPORT_CHANNEL = ChannelRules(Report.Channel.IMPORT, False, False, 4000, max_photos=0,
                              given_received_at=True)


@dataclass(frozen=True)
class ReportContact:
    """Open311 reporters' details: stored privately, never shown publicly."""

    email: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    device_id: str = ""
    account_id: str = ""


@dataclass(frozen=True)
class ReportInput:
    category_code: str | None
    description: str = ""
    lon: float | None = None
    lat: float | None = None
    coord_system: str = "wgs84"
    accuracy_m: float | None = None
    photos: Sequence[IO[bytes]] = ()
    client_uuid: uuid.UUID | None = None
    captured_at: datetime | None = None
    contact: ReportContact = field(default_factory=ReportContact)
    attributes: dict = field(default_factory=dict)
    media_url: str = ""
    external_id: str = ""  # the import channel's: the record's ID in the system it came from
    parse_errors: tuple[FieldError, ...] = ()  # values that did not parse, from the form


@dataclass(frozen=True)
class IntakeResult:
    report: Report
    replayed: bool
    # A new report's: what its answer shows beyond its row (intake_answer), known on the way.
    case_stage: str | None = None  # its case's at the commit (the new one's after dispatch)
    place: GridPlace | None = None  # grid_locate's, with the places' codes and names
    photos: tuple[ReportPhoto, ...] = ()  # as written, in order


@dataclass(frozen=True)
class _Located:
    point: Point
    sent_lon: float
    sent_lat: float
    source: str
    flagged: bool


@dataclass(frozen=True)
class CheckedReport:
    """What ``report_check`` found: everything ``report_create`` writes from."""

    category: Category
    located: _Located
    place: GridPlace
    inspected: list[InspectedPhoto]
    fingerprint: str


MSG_NOT_A_NUMBER = _("Must be a number.")
MSG_BAD_UUID = _("Must be a UUID.")
MSG_BAD_DATETIME = _("Must be an ISO 8601 date and time.")


def text_nul_errors(values: dict[str, list[str]]) -> list[FieldError]:
    """A field error for each field with a NUL character in any of its values.

    PostgreSQL's text cannot hold NUL at all (psycopg2 refuses to send it, a 500 if nobody
    looks), so every channel's parser runs this over every field it was sent, before any value
    is used: the rider app's form here, Open311's parameters in issues.open311.inputs.
    """
    return [FieldError(name, "nul_character", MSG_NUL) for name, items in values.items()
            if "\x00" in name or any("\x00" in str(item) for item in items)]


def report_input_parse(*, raw: dict[str, str | None], photos: Sequence[IO[bytes]] = (),
                       **extra) -> ReportInput:
    """Build a ReportInput from form strings; a value that does not parse is kept as a field
    error and raised together with every other bad field by ``report_create``. A value with a
    NUL character is named and then treated as absent."""
    errors = text_nul_errors({name: [value] for name, value in raw.items() if value is not None})
    raw = {name: None if name in {error.field for error in errors} else value
           for name, value in raw.items()}

    def number(name: str) -> float | None:
        text = (raw.get(name) or "").strip()
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            errors.append(FieldError(name, "invalid", MSG_NOT_A_NUMBER))
            return None

    client_uuid = None
    if raw.get("client_uuid"):
        try:
            client_uuid = uuid.UUID(str(raw["client_uuid"]))
        except ValueError:
            errors.append(FieldError("client_uuid", "invalid", MSG_BAD_UUID))
    captured_at = None
    if raw.get("captured_at"):
        try:
            captured_at = parse_datetime(str(raw["captured_at"]).strip())
        except ValueError:  # well formed, but no such day or offset (2026-02-30, +25:00)
            captured_at = None
        if captured_at is None or timezone.is_naive(captured_at):
            errors.append(FieldError("captured_at", "invalid", MSG_BAD_DATETIME))
            captured_at = None
    return ReportInput(
        category_code=(raw.get("category") or "").strip() or None,
        description=(raw.get("description") or "").strip(),
        lon=number("lon"), lat=number("lat"),
        coord_system=(raw.get("coord_system") or "").strip() or "wgs84",
        accuracy_m=number("accuracy_m"), photos=photos, client_uuid=client_uuid,
        captured_at=captured_at, parse_errors=tuple(errors), **extra,
    )


def report_create(
    *,
    channel: ChannelRules,
    data: ReportInput,
    reporter: AbstractBaseUser | None = None,
    api_client: ApiClient | None = None,
    received_at: datetime | None = None,
) -> IntakeResult:
    """Accept one report, or replay the first answer for a repeated ``client_uuid``.

    ``received_at`` defaults to now; an import of past reports passes their time, so that
    duplicate windows are judged as they were then.

    An imported record (``data.external_id``) already imported with the same content is
    replayed too; the partial unique constraint report_import_external_id_unique stops two
    imports writing it at once (the loser's IntegrityError rolls its transaction back).

    Raises InvalidInput (400), Conflict (409, a uuid or an external ID reused with other
    content) or RateLimited (429). Nothing is stored when it raises.
    """
    checked = report_check(channel=channel, data=data, received_at=received_at)
    with stored_photos_cleanup() as stored, transaction.atomic():
        if reporter is not None:
            _reporter_lock(reporter.pk)
            replay = _replay_or_rate_limit(reporter, data.client_uuid, checked.fingerprint)
            if replay is not None:
                return IntakeResult(report=replay, replayed=True)
        if data.external_id:
            replay = report_imported_find(channel=channel, external_id=data.external_id,
                                          fingerprint=checked.fingerprint)
            if replay is not None:
                return IntakeResult(report=replay, replayed=True)
        report, case_stage = _report_write(channel, data, checked.category, checked.located,
                                           checked.place, checked.fingerprint, reporter,
                                           api_client, received_at or timezone.now())
        photos = tuple(
            photo_store(upload=upload, inspected=info, stored=stored, report=report,
                        position=position)
            for position, (upload, info) in enumerate(zip(data.photos, checked.inspected,
                                                          strict=True)))
    return IntakeResult(report=report, replayed=False, case_stage=case_stage,
                        place=checked.place, photos=photos)


def intake_answer(*, result: IntakeResult) -> Report:
    """The report as its rider's post is answered (``ReportFeatureOutput``): a new one built
    from what intake wrote and read (``report_answer_of_intake``, no statement: D-082), a
    replayed one read from the database (``report_answer_get``)."""
    if result.replayed or result.place is None or result.case_stage is None:
        return report_answer_get(report_id=result.report.pk)
    return report_answer_of_intake(report=result.report, case_stage=result.case_stage,
                                   place=result.place, photos=result.photos)


def report_check(*, channel: ChannelRules, data: ReportInput,
                 received_at: datetime | None = None) -> CheckedReport:
    """Run every check and name every bad field in one refusal: the form, each photo, the
    location and the service area. Writes nothing: ``report_create`` runs it first, and an
    import's dry run runs it alone over every feature of a file."""
    errors: list[FieldError] = []
    try:
        category = _input_check(channel, data, received_at)
    except InvalidInput as refusal:
        category, errors = None, list(refusal.errors)
    inspected = []
    for index, upload in enumerate(data.photos):
        try:
            inspected.append(photo_inspect(upload=upload, field=f"photos.{index}"))
        except InvalidInput as refusal:
            errors.extend(refusal.errors)
    located = place = None
    if not {"lon", "lat", "coord_system"} & {error.field for error in errors}:
        try:
            located = _location_resolve(data, inspected)
        except InvalidInput as refusal:
            errors.extend(refusal.errors)
    if located is not None:
        place = grid_locate(point=located.point)
        if place is None:
            errors.append(FieldError("lon", "outside_area", MSG_OUTSIDE_AREA))
    if errors:
        raise InvalidInput(*errors)
    return CheckedReport(category, located, place, inspected,
                         _fingerprint(data, inspected, received_at))


def _input_check(channel: ChannelRules, data: ReportInput, given_received_at: datetime | None
                 ) -> Category:
    """Every check that needs no photo decoding, all at once, so each bad field is named."""
    errors = list(data.parse_errors)
    bad = {error.field for error in errors}
    # The capture time is checked against this moment; the report's own receipt time is taken
    # at the write (after the locks), never earlier, so the database's bound holds too.
    received_at = given_received_at or timezone.now()
    if channel.given_received_at and "received_at" not in bad:
        if given_received_at is None:
            errors.append(FieldError("received_at", "required", MSG_RECEIVED_AT_REQUIRED))
        elif not CLIENT_TIME_MIN <= given_received_at <= timezone.now():
            errors.append(FieldError("received_at", "out_of_range", MSG_RECEIVED_AT_RANGE))
    category = None
    if not data.category_code:
        if "category" not in bad:
            errors.append(FieldError("category", "required", MSG_CATEGORY_REQUIRED))
    else:
        category = category_by_code(code=data.category_code)
        if category is None:
            errors.append(FieldError("category", "unknown", MSG_CATEGORY_UNKNOWN))
    if channel.requires_client_uuid and data.client_uuid is None and "client_uuid" not in bad:
        errors.append(FieldError("client_uuid", "required", MSG_UUID_REQUIRED))
    if len(data.description) > channel.max_description:
        errors.append(FieldError("description", "too_long",
                                 MSG_DESCRIPTION_TOO_LONG % {"limit": channel.max_description}))
    if len(data.photos) > channel.max_photos:
        errors.append(FieldError("photos", "too_many",
                                 MSG_PHOTOS_TOO_MANY % {"limit": channel.max_photos}))
    elif (channel.requires_photos and not data.photos
          and not (category is not None and category.photo_optional)):
        errors.append(FieldError("photos", "required", MSG_PHOTOS_REQUIRED))
    errors.extend(error for error in _coordinate_errors(data) if error.field not in bad)
    if data.accuracy_m is not None and not (math.isfinite(data.accuracy_m)
                                            and 0 <= data.accuracy_m <= ACCURACY_MAX_M):
        errors.append(FieldError("accuracy_m", "out_of_range", MSG_ACCURACY_RANGE))
    if data.captured_at is not None and not (
            CLIENT_TIME_MIN <= data.captured_at <= received_at + CLIENT_TIME_AHEAD_MAX):
        # Also the database's CHECK report_captured_at_in_range (civicmap.bounds).
        errors.append(FieldError("captured_at", "out_of_range", MSG_CAPTURED_AT_RANGE))
    if errors:
        raise InvalidInput(*errors)
    return category


def _coordinate_errors(data: ReportInput) -> list[FieldError]:
    errors = []
    if (data.lon is None) != (data.lat is None):
        errors.append(FieldError("lon" if data.lon is None else "lat", "required",
                                 MSG_LON_LAT_PAIR))
    if data.lon is not None and not (math.isfinite(data.lon) and -180 <= data.lon <= 180):
        errors.append(FieldError("lon", "out_of_range", MSG_LON_RANGE))
    if data.lat is not None and not (math.isfinite(data.lat) and -90 <= data.lat <= 90):
        errors.append(FieldError("lat", "out_of_range", MSG_LAT_RANGE))
    try:
        coords.coord_system_parse(data.coord_system)
    except ValueError:
        errors.append(FieldError("coord_system", "invalid", MSG_COORD_SYSTEM))
    return errors


def _location_resolve(data: ReportInput, photos: list[InspectedPhoto]) -> _Located:
    """The device's position (converted to WGS 84), else the first photo's EXIF GPS."""
    exif = next((photo.gps for photo in photos if photo.gps is not None), None)
    if data.lon is None or data.lat is None:
        if exif is None:
            raise InvalidInput(FieldError("lon", "required", MSG_LOCATION_REQUIRED))
        return _Located(Point(*exif, srid=WGS84), exif[0], exif[1], "exif", False)
    lon, lat = coords.to_wgs84(data.lon, data.lat, data.coord_system)
    flagged = exif is not None and _metres_apart((lon, lat), exif) > EXIF_DEVICE_MAX_GAP_M
    return _Located(Point(lon, lat, srid=WGS84), data.lon, data.lat, "device", flagged)


def _metres_apart(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres (haversine, mean Earth radius): enough for a 200 m test."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def _fingerprint(data: ReportInput, photos: list[InspectedPhoto],
                 received_at: datetime | None) -> str:
    """SHA-256 over the form fields and each photo's SHA-256: what "the same content" means
    (an imported record's: its time and ID too)."""
    content = {
        "category": data.category_code, "description": data.description,
        "lon": data.lon, "lat": data.lat, "coord_system": str(data.coord_system),
        "accuracy_m": data.accuracy_m,
        "captured_at": data.captured_at.isoformat() if data.captured_at else None,
        "photos": [photo.sha256 for photo in photos],
    }
    if data.external_id:
        content["external_id"] = data.external_id
        content["received_at"] = received_at.astimezone(UTC).isoformat() if received_at else None
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _reporter_lock(reporter_id: int) -> None:
    """Serialise one rider's intakes until commit (a transaction-level advisory lock).

    Two parallel submissions with one client_uuid then see each other: exactly one report is
    created. It also makes the hourly limit exact. Riders never submit in bulk, so the lock is
    uncontended in practice.
    """
    with connection.cursor() as cursor:
        cursor.execute(REPORTER_INTAKE_LOCK, [reporter_id])


def _replay_or_rate_limit(reporter, client_uuid: uuid.UUID | None, fingerprint: str
                          ) -> Report | None:
    """The report this post repeats (same rider and client_uuid, same content), else None once
    the hourly limit is checked: Conflict when the client_uuid was used for other content,
    RateLimited when the rider's last hour already holds REPORTS_PER_HOUR_PER_RIDER reports.

    Both lookups are one statement (issues.sql.REPORTER_REPLAY_AND_LIMIT), built once: as two
    ORM queries they cost the web worker about 2 ms of CPU a report (docs/BENCHMARKS.md §2).
    The limit reads the ``limit``-th newest report of the hour, the oldest of the last
    ``limit``, which leaves the window first: one row, however many the hour holds.
    """
    limit = settings.REPORTS_PER_HOUR_PER_RIDER
    with connection.cursor() as cursor:
        cursor.execute(REPORTER_REPLAY_AND_LIMIT, {
            "reporter": reporter.pk, "client_uuid": client_uuid,
            "since": timezone.now() - timedelta(hours=1), "offset": limit - 1})
        replay_id, replay_fingerprint, oldest = cursor.fetchone()
    if replay_id is not None:
        if replay_fingerprint != fingerprint:
            raise Conflict(FieldError("client_uuid", "conflict", MSG_REPLAY_CONFLICT))
        return Report.objects.get(pk=replay_id)
    if oldest is None:
        return None
    retry_after = math.ceil((oldest + timedelta(hours=1) - timezone.now()).total_seconds())
    retry_after = max(retry_after, 1)
    raise RateLimited(
        FieldError(None, "rate_limited",
                   MSG_RATE_LIMITED % {"minutes": math.ceil(retry_after / 60)}),
        retry_after_s=retry_after,
    )


def report_imported_find(*, channel: ChannelRules, external_id: str, fingerprint: str
                         ) -> Report | None:
    """The report already imported with this external ID, None if there is none; Conflict if
    its content differs (the file changed, or two systems' IDs collide)."""
    first = Report.objects.filter(channel=channel.channel, external_id=external_id).first()
    if first is None:
        return None
    if first.content_sha256 != fingerprint:
        raise Conflict(FieldError("external_id", "conflict", MSG_IMPORTED_CONFLICT))
    return first


def _report_write(channel, data, category, located, place: GridPlace, fingerprint, reporter,
                  api_client, now: datetime) -> tuple[Report, str]:
    """The report, its case opened or joined, its counts; returns the report and its case's
    stage (the new case's after dispatch on intake)."""
    joined_id, follows_id = _case_for_report(category, place.subdistrict_id, located.point, now)
    case = None if joined_id else case_open(category=category, point=located.point, now=now,
                                            place=place, follows_id=follows_id,
                                            description=data.description,
                                            channel=channel.channel)
    contact = data.contact
    report = row_insert(instance=Report(
        location=located.point, sent_lon=located.sent_lon, sent_lat=located.sent_lat,
        sent_coord_system=coords.coord_system_parse(data.coord_system).value,
        accuracy_m=data.accuracy_m, location_source=located.source,
        location_flagged=located.flagged, category=category, description=data.description,
        client_uuid=data.client_uuid, content_sha256=fingerprint, channel=channel.channel,
        reporter=reporter, api_client=api_client,
        # In UTC: Python reads offsets up to ±23:59, PostgreSQL stores up to ±15:59 only.
        captured_at=data.captured_at.astimezone(UTC) if data.captured_at else None,
        received_at=now, subdistrict_id=place.subdistrict_id, unit_grid_id=place.unit_grid_id,
        community_grid_id=place.community_id,
        case_id=joined_id or case.pk, joined_existing_case=bool(joined_id),
        contact_email=contact.email, contact_first_name=contact.first_name,
        contact_last_name=contact.last_name, contact_phone=contact.phone,
        device_id=contact.device_id, account_id=contact.account_id, media_url=data.media_url,
        # The media fetch job, written with the report (the outbox; the caller queues it).
        media_status=Report.MediaStatus.PENDING if data.media_url else Report.MediaStatus.NONE,
        attributes=data.attributes, external_id=data.external_id,
    ))
    aggregates_count_report(report_id=report.pk)
    if joined_id:
        return report, case_report_joined(case_id=joined_id, report=report)
    # patrol (above issues) dispatches it when its category says so (issues.hooks), moving the
    # case (this instance) on.
    case_opened.send(sender=Case, case=case, at=now)
    return report, case.stage


def _case_for_report(category: Category, subdistrict_id: int, point: Point, now: datetime
                     ) -> tuple[int | None, int | None]:
    """(id of the open case this report joins, None), or (None, id of the recently closed case
    a new case will follow, or None). A joined case's row stays locked until commit.

    The duplicate rule runs in PostgreSQL as one function call (issues_case_merge_candidate,
    defined in issues/sql/case_merge_candidate.sql, deployed by migration issues 0019;
    docs/DECISIONS.md, "Intake's lookups in SQL"): it takes the category
    class's merge lock, then finds the nearest open case of the class within the category's
    radius whose last report is inside its window (locked), else the nearest case of the class
    closed within the follow-up window, both of the report's own subdistrict (a case lives where
    its first report is). Distances are planar metres in EPSG:4548. The demo
    history's bulk load (fixtures.bulk_reports) calls the same function for each draft. One
    round trip, with the statements' plans kept by PL/pgSQL for the connection: at 1,000,000
    reports the lookup's round trips and planning were most of its time.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            CASE_MERGE_CANDIDATE,
            {"category": category.pk, "subdistrict": subdistrict_id, "lon": point.x,
             "lat": point.y,
             "radius": float(category.merge_radius_m), "open": list(OPEN_STAGES),
             "closed": list(MERGE_CLOSED_STAGES),
             "window_start": now - timedelta(hours=category.merge_window_hours),
             "follow_start": now - FOLLOW_UP_WINDOW})
        case_id, is_open = cursor.fetchone()
    if case_id is None:
        return None, None
    return (case_id, None) if is_open else (None, case_id)
