"""Reading Open311 parameters at the edge: every bad one is named in one 400 answer.

An empty parameter is an absent one. POST parameters are read from the form body first, then
from the query string (some clients put ``api_key`` or ``jurisdiction_id`` there).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

from civicmap.bounds import CLIENT_TIME_MIN, PAGE_MAX, QUERY_TIME_MAX
from civicmap.errors import FieldError, InvalidInput, NotFound
from civicmap.models import WGS84, Subdistrict
from civicmap.selectors import subdistrict_get
from issues.models import Category
from issues.open311.definitions import (
    BEIJING,
    attribute_param_values,
    attributes_validate,
    service_attributes,
)
from issues.open311.selectors import (
    REQUESTS_MAX,
    RequestFilters,
    district_jurisdiction_id,
    public_category,
)
from issues.services.intake import (
    MSG_LAT_RANGE,
    MSG_LON_RANGE,
    MSG_NOT_A_NUMBER,
    ReportContact,
    text_nul_errors,
)

SPAN_MAX = timedelta(days=90)  # the spec's widest start_date..end_date, and the default window
NEAR_DEFAULT_RADIUS_M = 1000  # metres, when lat+long come without radius
NEAR_MAX_RADIUS_M = 20_000  # metres: the whole subdistrict and then some

MSG_SERVICE_CODE_REQUIRED = _("Send a service_code.")
MSG_SERVICE_UNKNOWN = _("No service has this code.")
MSG_LOCATION_REQUIRED = _("Send the location as lat and long (WGS 84).")
MSG_LAT_LONG_PAIR = _("Send lat and long together.")
MSG_NO_GEOCODING = _(
    "This server does not look up addresses, so it cannot place this request: send lat and "
    "long (WGS 84) instead."
)
MSG_TOO_LONG = _("At most %(limit)s characters.")
MSG_BAD_EMAIL = _("Enter a valid email address.")
MSG_MEDIA_URL_INVALID = _("media_url must be an http or https URL.")
MSG_MEDIA_HOST = _("Media is fetched only from approved hosts, and %(host)s is not one of them.")
MSG_BAD_IDS = _("Service request IDs are whole numbers, separated by commas.")
MSG_BAD_DATE = _("Use an ISO 8601 date and time, e.g. 2026-06-01T08:00:00+08:00.")
MSG_DATE_RANGE = _("Use a date from 2000-01-01 to 2099-12-31.")
MSG_DATE_ORDER = _("end_date must not be before start_date.")
MSG_DATE_SPAN = _("start_date and end_date may be at most %(days)s days apart.")
MSG_BAD_STATUS = _("status is open, closed, or both separated by a comma.")
MSG_BAD_PAGE = _("page is a whole number from 1 to %(max)s.")
MSG_BAD_PAGE_SIZE = _("page_size is a whole number from 1 to %(max)s.")
MSG_BAD_BOOLEAN = _("Use true or false.")
MSG_BAD_RADIUS = _("radius is a number of metres, more than 0 and at most %(max)s.")
MSG_RADIUS_NEEDS_POINT = _("radius needs lat and long.")
MSG_JURISDICTION_UNKNOWN = _("No jurisdiction has the id %(id)s: send the code of a subdistrict "
                             "that discovery lists, or none for the whole district.")

# Longest values the report's columns hold (issues.models.Report).
CONTACT_LIMITS = {
    "email": 254, "first_name": 100, "last_name": 100, "phone": 30, "device_id": 100,
    "account_id": 100,
}
MEDIA_URL_MAX = 500
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


class Params:
    """Parameters from one or more QueryDicts, the first holding a value winning."""

    def __init__(self, *sources: Mapping) -> None:
        self.sources = sources

    def get(self, name: str) -> str | None:
        for source in self.sources:
            value = source.get(name)
            if value is not None and value.strip():
                return value.strip()
        return None

    def lists(self) -> dict[str, list[str]]:
        merged: dict[str, list[str]] = {}
        for source in self.sources:
            for name, values in source.lists():
                if name not in merged and any(value.strip() for value in values):
                    merged[name] = values
        return merged

    def nul_check(self) -> None:
        """Refuse every parameter (of any source, used or not) holding a NUL character: PostgreSQL
        text cannot store one, and a lookup by it is a database error. Raises InvalidInput."""
        values: dict[str, list[str]] = {}
        for source in self.sources:
            for name, items in source.lists():
                values.setdefault(name, []).extend(items)
        errors = text_nul_errors(values)
        if errors:
            raise InvalidInput(*errors)


def jurisdiction_parse(params: Params) -> Subdistrict | None:
    """The subdistrict that ``jurisdiction_id`` names (its 9-digit code), or None for the whole
    district: none sent, or this server's own id (``OPEN311_JURISDICTION_ID``, which clients
    sent before the district had subdistricts). Anything else: NotFound, as the spec says."""
    sent = params.get("jurisdiction_id")
    if sent is None or sent == district_jurisdiction_id():
        return None
    subdistrict = subdistrict_get(code=sent)
    if subdistrict is None:
        raise NotFound(FieldError("jurisdiction_id", "not_found",
                                  MSG_JURISDICTION_UNKNOWN % {"id": sent}))
    return subdistrict


# --- POST requests ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PostInput:
    category: Category
    lat: str | None  # as sent: the intake service parses and checks the numbers
    long: str | None
    description: str
    contact: ReportContact
    media_url: str
    attributes: dict


def post_input_parse(params: Params) -> PostInput:
    """The POST form, checked; raises InvalidInput naming every bad parameter."""
    errors: list[FieldError] = []
    category = None
    code = params.get("service_code")
    if code is None:
        errors.append(FieldError("service_code", "required", MSG_SERVICE_CODE_REQUIRED))
    else:
        category = public_category(code=code)
        if category is None:
            errors.append(FieldError("service_code", "unknown", MSG_SERVICE_UNKNOWN))
    lat, long = params.get("lat"), params.get("long")
    if lat is None and long is None:
        placeable = next((name for name in ("address_string", "address_id")
                          if params.get(name)), None)
        if placeable is not None:
            errors.append(FieldError(placeable, "not_geocoded", MSG_NO_GEOCODING))
        else:
            errors.append(FieldError("lat", "required", MSG_LOCATION_REQUIRED))
    elif lat is None or long is None:
        errors.append(FieldError("lat" if lat is None else "long", "required",
                                 MSG_LAT_LONG_PAIR))
    contact = {}
    for name, limit in CONTACT_LIMITS.items():
        value = params.get(name) or ""
        if len(value) > limit:
            errors.append(FieldError(name, "too_long", MSG_TOO_LONG % {"limit": limit}))
        elif name == "email" and value:
            try:
                validate_email(value)
            except ValidationError:
                errors.append(FieldError(name, "invalid", MSG_BAD_EMAIL))
        contact[name] = value
    media_url = params.get("media_url") or ""
    if media_url:
        errors.extend(_media_url_errors(media_url))
    attributes: dict = {}
    if category is not None:
        attributes, attribute_errors = attributes_validate(
            attributes=service_attributes(category=category),
            posted=attribute_param_values(params.lists()),
        )
        errors.extend(attribute_errors)
    if errors:
        raise InvalidInput(*errors)
    return PostInput(category=category, lat=lat, long=long,
                     description=params.get("description") or "",
                     contact=ReportContact(**contact), media_url=media_url,
                     attributes=attributes)


def media_host_allowed(url: str) -> bool:
    """Whether the URL's host is on OPEN311_MEDIA_HOSTS: ``host`` (any port) or ``host:port``."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    allowed = {entry.lower() for entry in getattr(settings, "OPEN311_MEDIA_HOSTS", [])}
    try:
        port = parts.port
    except ValueError:
        return False
    return bool(host) and (host in allowed or (port is not None and f"{host}:{port}" in allowed))


def _media_url_errors(url: str) -> list[FieldError]:
    parts = urlsplit(url)
    if len(url) > MEDIA_URL_MAX:
        return [FieldError("media_url", "too_long", MSG_TOO_LONG % {"limit": MEDIA_URL_MAX})]
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [FieldError("media_url", "invalid", MSG_MEDIA_URL_INVALID)]
    if not media_host_allowed(url):
        return [FieldError("media_url", "host_not_allowed",
                           MSG_MEDIA_HOST % {"host": parts.hostname})]
    return []


# --- GET requests -----------------------------------------------------------------------------


def _moment(text: str, *, end: bool) -> datetime | None:
    """A W3C/ISO 8601 date-time (a missing offset is Beijing time), or a date: its start, or
    for ``end`` its last second."""
    # A "+" left unescaped in a query string arrives as a space: "...T08:00:00 08:00".
    text = re.sub(r" (\d{2}:?\d{2})$", r"+\1", text)
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):  # a whole day
            day = parse_date(text)
            moment = datetime.combine(day, time.max if end else time.min) if day else None
        else:
            moment = parse_datetime(text)
    except ValueError:  # well formed, but no such date or time
        return None
    if moment is None:
        return None
    moment = moment.replace(tzinfo=BEIJING) if timezone.is_naive(moment) else moment
    try:  # in UTC: Python reads offsets up to ±23:59, PostgreSQL takes up to ±15:59 only
        return moment.astimezone(UTC)
    except OverflowError:  # past the first or last hour Python can hold
        return None


def _whole(text: str | None, default: int, low: int, high: int) -> int | None:
    if text is None:
        return default
    # At most 18 digits: a longer number is past any bound, and Python refuses to convert one
    # of over 4,300 digits.
    if not re.fullmatch(r"[0-9]{1,18}", text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def _number(text: str | None) -> float | None | str:
    """A finite float, None when absent, or "bad"."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return "bad"
    return value if math.isfinite(value) else "bad"


def request_filters_parse(params: Params, *, now: datetime,
                          jurisdiction: Subdistrict | None = None) -> RequestFilters:
    """GET requests' parameters; ``service_request_id`` overrides every other filter but the
    jurisdiction (``jurisdiction_parse``: one subdistrict's requests, or the district's)."""
    errors: list[FieldError] = []
    page = _whole(params.get("page"), 1, 1, PAGE_MAX)
    if page is None:
        errors.append(FieldError("page", "invalid", MSG_BAD_PAGE % {"max": PAGE_MAX}))
    page_size = _whole(params.get("page_size"), REQUESTS_MAX, 1, REQUESTS_MAX)
    if page_size is None:
        errors.append(FieldError("page_size", "invalid",
                                 MSG_BAD_PAGE_SIZE % {"max": REQUESTS_MAX}))
    extensions = (params.get("extensions") or "false").lower()
    if extensions not in _TRUE | _FALSE:
        errors.append(FieldError("extensions", "invalid", MSG_BAD_BOOLEAN))
    common = {"page": page or 1, "page_size": page_size or REQUESTS_MAX,
              "extensions": extensions in _TRUE,
              "subdistrict_id": jurisdiction.pk if jurisdiction is not None else None}
    id_text = params.get("service_request_id")
    if id_text is not None:
        parts = [part.strip() for part in id_text.split(",") if part.strip()]
        if not parts or not all(re.fullmatch(r"[0-9]{1,18}", part) for part in parts):
            errors.append(FieldError("service_request_id", "invalid", MSG_BAD_IDS))
        if errors:
            raise InvalidInput(*errors)
        return RequestFilters(ids=tuple(int(part) for part in parts), **common)
    codes = tuple(part.strip() for part in (params.get("service_code") or "").split(",")
                  if part.strip())
    statuses = tuple(part.strip().lower() for part in (params.get("status") or "").split(",")
                     if part.strip())
    if any(status not in ("open", "closed") for status in statuses):
        errors.append(FieldError("status", "invalid", MSG_BAD_STATUS))
    start, end = _date_range(params, now=now, errors=errors)
    near, radius = _near(params, errors)
    if errors:
        raise InvalidInput(*errors)
    return RequestFilters(service_codes=codes, start=start, end=end, statuses=statuses,
                          near=near, radius_m=radius, **common)


def _date_range(params: Params, *, now: datetime,
                errors: list[FieldError]) -> tuple[datetime | None, datetime | None]:
    bounds = {}
    for name in ("start_date", "end_date"):
        text = params.get(name)
        bounds[name] = None if text is None else _moment(text, end=name == "end_date")
        if text is not None and bounds[name] is None:
            errors.append(FieldError(name, "invalid", MSG_BAD_DATE))
        elif bounds[name] is not None and not (
                CLIENT_TIME_MIN <= bounds[name] < QUERY_TIME_MAX):  # the window's arithmetic
            errors.append(FieldError(name, "out_of_range", MSG_DATE_RANGE))
    if any(error.field in bounds for error in errors):
        return None, None
    start, end = bounds["start_date"], bounds["end_date"]
    if start is None and end is None:
        return now - SPAN_MAX, None  # the last 90 days, up to now
    if start is None:
        start = end - SPAN_MAX
    if end is None:
        end = start + SPAN_MAX
    if end < start:
        errors.append(FieldError("end_date", "invalid", MSG_DATE_ORDER))
    elif end - start > SPAN_MAX:
        errors.append(FieldError("end_date", "too_wide",
                                 MSG_DATE_SPAN % {"days": SPAN_MAX.days}))
    return start, end


def _near(params: Params, errors: list[FieldError]) -> tuple[Point | None, float]:
    """The lat+long+radius extension: requests within ``radius`` metres of the point."""
    lat, long, radius = (_number(params.get(name)) for name in ("lat", "long", "radius"))
    bad = False
    for name, value in (("lat", lat), ("long", long), ("radius", radius)):
        if value == "bad":
            errors.append(FieldError(name, "invalid", MSG_NOT_A_NUMBER))
            bad = True
    if bad:
        return None, 0
    if lat is None and long is None:
        if radius is not None:
            errors.append(FieldError("radius", "required", MSG_RADIUS_NEEDS_POINT))
        return None, 0
    if lat is None or long is None:
        errors.append(FieldError("lat" if lat is None else "long", "required",
                                 MSG_LAT_LONG_PAIR))
        return None, 0
    if not -90 <= lat <= 90:
        errors.append(FieldError("lat", "out_of_range", MSG_LAT_RANGE))
    if not -180 <= long <= 180:
        errors.append(FieldError("long", "out_of_range", MSG_LON_RANGE))
    radius = NEAR_DEFAULT_RADIUS_M if radius is None else radius
    if not 0 < radius <= NEAR_MAX_RADIUS_M:
        errors.append(FieldError("radius", "out_of_range",
                                 MSG_BAD_RADIUS % {"max": NEAR_MAX_RADIUS_M}))
    return Point(long, lat, srid=WGS84), radius


def extensions_parse(params: Params) -> bool:
    """``extensions=true`` adds extended_attributes and notes to each request."""
    text = (params.get("extensions") or "false").lower()
    if text not in _TRUE | _FALSE:
        raise InvalidInput(FieldError("extensions", "invalid", MSG_BAD_BOOLEAN))
    return text in _TRUE
