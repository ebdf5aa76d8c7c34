"""Cases of another system (a 12345 hotline's, the grid system's history) imported from a
geography file: each feature is a report through the one intake service (the import channel),
so that its grids, subdistrict, duplicate merging and checks are those of every report.

The features come from ``civicmap.geofiles.geofile_read`` (WGS 84, GCJ-02 already shifted
back). Attributes, with names a Shapefile keeps (10 characters): ``category`` (the category's
code), ``desc`` or ``description``, ``reported`` (or ``reported_at``, or an export's
``created``: ISO 8601; a time without an offset is Beijing time) and ``ext_id`` (or
``external_id``; optional: the record's ID over there, which makes a second import of the same
file write nothing again).

Every feature is checked before anything is written and every problem is named by its feature
(``features.<n>.<field>``, n from 1 in the file's order; the message starts with the external
ID in brackets when there is one); then all are written in one transaction, oldest first, so
that duplicate windows are judged as they were then.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from civicmap.errors import Conflict, DomainError, FieldError, InvalidInput
from civicmap.geofiles import MSG_GEOMETRY_UNREADABLE, Progress, SourceFeature, finite_point
from civicmap.scopes import user_subdistrict_ids
from issues.services.intake import (
    IMPORT_CHANNEL,
    ReportInput,
    report_check,
    report_create,
    report_imported_find,
)

EXTERNAL_ID = re.compile(r"^[\w.\-/:#]{1,64}$")  # \w: Chinese letters too
# The report's field each intake error names, as the feature's attribute it comes from.
INTAKE_FIELDS = {"lon": "geometry", "lat": "geometry", "coord_system": "geometry",
                 "received_at": "reported", "external_id": "ext_id"}

MSG_CASE_NOT_A_POINT = _("Each case needs a point geometry.")
MSG_REPORTED_REQUIRED = _(
    "Give the time the case was reported (reported), e.g. 2026-03-01T08:30:00+08:00."
)
MSG_REPORTED_INVALID = _(
    "The reported time must be an ISO 8601 date and time, e.g. 2026-03-01T08:30:00+08:00."
)
MSG_REPORTED_DATE_ONLY = _(
    "The reported time has a date but no time of day: a Shapefile keeps dates only, so store "
    "the time as text."
)
MSG_EXTERNAL_ID_FORMAT = _(
    "An external ID is 1 to 64 letters, digits or . - _ / : # (no spaces)."
)
MSG_EXTERNAL_ID_TWICE = _("The external ID is also feature %(first)s's: each record once.")
MSG_IMPORTED_MEANWHILE = _(
    "Another import wrote some of these records meanwhile: nothing was written; check the file "
    "again."
)
MSG_CASE_NOT_YOURS = _(
    "This place is in a subdistrict you do not work for: import only your own subdistrict's "
    "cases."
)


@dataclass(frozen=True)
class CasesImport:
    """What an import found and (``applied``) wrote: records new and already imported; after
    the apply, how many of the new opened a case and how many joined one."""

    applied: bool
    records_new: int
    records_unchanged: int
    cases_opened: int = 0
    cases_joined: int = 0


@dataclass(frozen=True)
class _Record:
    """A feature as intake's input."""

    number: int
    data: ReportInput
    received_at: datetime


def _first(properties: dict, *names: str) -> object:
    for name in names:
        if properties.get(name) not in (None, ""):
            return properties[name]
    return None


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # an ID column read as a number
    return "" if value is None else str(value).strip()


def _reported_at(value: object) -> tuple[datetime | None, str | None]:
    """(the time, None) or (None, the problem's code)."""
    if value is None:
        return None, "required"
    if isinstance(value, datetime):
        parsed: datetime | None = value
    elif isinstance(value, date):
        return None, "date_only"
    elif not isinstance(value, str):
        return None, "invalid"  # a number
    else:
        text = value.strip()
        # GDAL writes a date-and-time it turned into text as 2026/03/01 08:30:00+08.
        text = re.sub(r"^(\d{4})/(\d{2})/(\d{2})", r"\1-\2-\3", text)
        try:
            parsed = parse_datetime(text)
        except ValueError:  # well formed, but no such day or offset
            parsed = None
    if parsed is None:
        return None, "invalid"
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)  # settings.TIME_ZONE: Beijing time
    return parsed, None


class _Problems:
    """Every problem of the file, each naming its feature (with its external ID), one a field:
    a point missing is not also "send the position"."""

    def __init__(self) -> None:
        self.errors: dict[str, FieldError] = {}

    def add(self, number: int, external_id: str, field: str, code: str, message) -> None:
        text = f"[{external_id}] {message}" if external_id else message
        name = f"features.{number}.{field}"
        self.errors.setdefault(name, FieldError(name, code, text))

    def add_refusal(self, number: int, external_id: str, refusal: DomainError) -> None:
        for error in refusal.errors:
            field = INTAKE_FIELDS.get(error.field or "", error.field or "feature")
            self.add(number, external_id, field, error.code, error.message)

    def of_feature(self, number: int) -> bool:
        return any(name.startswith(f"features.{number}.") for name in self.errors)

    def refusal(self) -> InvalidInput:
        return InvalidInput(*self.errors.values())


def _feature_check(feature: SourceFeature, problems: _Problems, seen: dict[str, int],
                   scope: frozenset[int] | None) -> tuple[_Record | None, bool]:
    """(the feature as intake's input, whether it was already imported), or (None, False)
    with every problem of the feature added: the file's own (geometry, time, ID) first, then
    intake's checks of what is left (category, description, place)."""
    properties, number = feature.properties, feature.number
    external_id = _text(_first(properties, "ext_id", "external_id"))
    if external_id and not EXTERNAL_ID.match(external_id):
        problems.add(number, "", "ext_id", "invalid", MSG_EXTERNAL_ID_FORMAT)
        external_id = ""
    elif external_id in seen:
        problems.add(number, external_id, "ext_id", "duplicate",
                     MSG_EXTERNAL_ID_TWICE % {"first": seen[external_id]})
    elif external_id:
        seen[external_id] = number
    point = finite_point(feature.geometry)
    if point is None:
        problems.add(number, external_id, "geometry", "invalid",
                     MSG_GEOMETRY_UNREADABLE if feature.geometry_problem
                     else MSG_CASE_NOT_A_POINT)
    received_at, time_problem = _reported_at(_first(properties, "reported", "reported_at",
                                                    "created"))
    if time_problem is not None:
        problems.add(number, external_id, "reported", time_problem, {
            "required": MSG_REPORTED_REQUIRED, "date_only": MSG_REPORTED_DATE_ONLY,
        }.get(time_problem, MSG_REPORTED_INVALID))
    data = ReportInput(
        category_code=_text(properties.get("category")) or None,
        description=_text(_first(properties, "desc", "description")),
        lon=point[0] if point else None, lat=point[1] if point else None,
        external_id=external_id,
    )
    try:
        checked = report_check(channel=IMPORT_CHANNEL, data=data, received_at=received_at)
    except InvalidInput as refusal:
        problems.add_refusal(number, external_id, refusal)
        return None, False
    if scope is not None and checked.place.subdistrict_id not in scope:
        problems.add(number, external_id, "geometry", "not_yours", MSG_CASE_NOT_YOURS)
    if problems.of_feature(number):
        return None, False
    imported = None
    if external_id:
        try:
            imported = report_imported_find(channel=IMPORT_CHANNEL, external_id=external_id,
                                            fingerprint=checked.fingerprint)
        except Conflict as refusal:  # imported before with other content
            problems.add_refusal(number, external_id, refusal)
            return None, False
    return _Record(number, data, received_at), imported is not None


def cases_import(
    *, features: list[SourceFeature], actor=None, dry_run: bool = False,
    progress: Progress | None = None,
) -> CasesImport:
    """Check every feature, then (unless ``dry_run``) write them all in one transaction.

    An ``actor`` (a page's user) imports only points inside the subdistricts they work for;
    none (the command) is the whole district. Raises InvalidInput with every problem of the
    file; nothing is written then.
    """
    scope = user_subdistrict_ids(actor) if actor is not None else None
    problems = _Problems()
    seen: dict[str, int] = {}
    new: list[_Record] = []
    unchanged = 0
    for feature in features:
        record, imported = _feature_check(feature, problems, seen, scope)
        if record is not None and imported:
            unchanged += 1
        elif record is not None:
            new.append(record)
        if progress is not None:
            progress("check", feature.number, len(features))
    if problems.errors:
        raise problems.refusal()
    if dry_run:
        return CasesImport(False, len(new), unchanged)
    return _cases_write(new, unchanged, progress)


def _cases_write(records: list[_Record], unchanged: int, progress: Progress | None
                 ) -> CasesImport:
    """Every record through intake, oldest first, all or nothing. Intake's locks on the
    categories' classes are held to the end: riders' reports of those classes wait for the
    import's commit."""
    ordered = sorted(records, key=lambda record: (record.received_at, record.number))
    try:
        with transaction.atomic():
            opened, joined = _records_write(ordered, progress)
    except IntegrityError:  # report_import_external_id_unique: a parallel import of the file
        raise InvalidInput(FieldError("file", "conflict", MSG_IMPORTED_MEANWHILE)) from None
    return CasesImport(True, len(records), unchanged, opened, joined)


def _records_write(ordered: list[_Record], progress: Progress | None) -> tuple[int, int]:
    """(cases opened, records joining a case), inside the caller's transaction."""
    opened = joined = 0
    for done, record in enumerate(ordered, start=1):
        try:
            result = report_create(channel=IMPORT_CHANNEL, data=record.data,
                                   received_at=record.received_at)
        except DomainError as refusal:  # changed since the check: nothing is kept
            problems = _Problems()
            problems.add_refusal(record.number, record.data.external_id, refusal)
            raise problems.refusal() from None
        if result.report.joined_existing_case:
            joined += 1
        elif not result.replayed:
            opened += 1
        if progress is not None:
            progress("apply", done, len(ordered))
    return opened, joined
