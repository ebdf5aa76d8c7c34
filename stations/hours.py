"""Weekly opening hours that may run past midnight, and "is it open now" in Asia/Shanghai.

An interval is ``{"day": 0-6 (Monday=0), "open": "HH:MM", "close": "HH:MM"}``. A close at or
before the open runs into the next day (10:00–02:00 ends at 02:00 the next morning); "24:00"
closes at midnight. Minutes since Monday 00:00 make the arithmetic one line.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _

from civicmap.errors import FieldError, InvalidInput

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$|^24:00$")

MSG_HOURS_NOT_LIST = _("Opening hours must be a list of intervals.")
MSG_HOURS_BAD_INTERVAL = _(
    'Each interval needs "day" (0 = Monday … 6 = Sunday), "open" and "close" as HH:MM.'
)


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def opening_hours_validate(hours: object) -> list[dict]:
    """Return the intervals unchanged if well formed; raise InvalidInput naming the field."""
    if not isinstance(hours, list):
        raise InvalidInput(FieldError("opening_hours", "invalid", MSG_HOURS_NOT_LIST))
    for interval in hours:
        if not (
            isinstance(interval, dict)
            and set(interval) == {"day", "open", "close"}
            and type(interval["day"]) is int
            and 0 <= interval["day"] <= 6
            and isinstance(interval["open"], str)
            and isinstance(interval["close"], str)
            and _TIME.match(interval["open"])
            and _TIME.match(interval["close"])
            and interval["open"] != "24:00"
        ):
            raise InvalidInput(FieldError("opening_hours", "invalid", MSG_HOURS_BAD_INTERVAL))
    return hours


def _week_spans(interval: dict) -> list[tuple[int, int]]:
    """The interval as [start, end) minutes since Monday 00:00, split where it wraps the week."""
    start = interval["day"] * MINUTES_PER_DAY + _minutes(interval["open"])
    length = _minutes(interval["close"]) - _minutes(interval["open"])
    if length <= 0:  # runs past midnight into the next day
        length += MINUTES_PER_DAY
    end = start + length
    if end <= MINUTES_PER_WEEK:
        return [(start, end)]
    return [(start, MINUTES_PER_WEEK), (0, end - MINUTES_PER_WEEK)]


def is_open_at(hours: list[dict], moment: datetime) -> bool:
    """Whether a station with these hours is open at ``moment`` (any timezone-aware datetime)."""
    local = moment.astimezone(LOCAL_TZ)
    minute_of_week = local.weekday() * MINUTES_PER_DAY + local.hour * 60 + local.minute
    return any(
        start <= minute_of_week < end
        for interval in hours
        for start, end in _week_spans(interval)
    )
