"""Weekly opening hours that may run past midnight, and "is it open now" in Asia/Shanghai.

An interval is ``{"day": 0-6 (Monday=0), "open": "HH:MM", "close": "HH:MM"}``. A close at or
before the open runs into the next day (10:00–02:00 ends at 02:00 the next morning); "24:00"
closes at midnight. Minutes since Monday 00:00 make the arithmetic one line.

An interval may also say ``"next_day": true|false`` (the union's hours widget always does; the
API and files may): false refuses a close at or before the open, as a slip of the clock rather
than a night shift; true asks for exactly that. The key is checked and dropped, so what is
stored keeps one meaning. No two intervals may overlap, across midnight included; each fault
names its weekday row and interval (``opening_hours.<index in the list>``).

A station closed on public holidays (``closed_on_holidays``) is closed the whole Beijing
calendar day of each holiday in the calendar data (``civicmap.holidays``); a night that starts
the evening before runs until midnight.

For the rider's list, `hours_today` gives the intervals that start on the day of a moment and
`reopens_at` the next moment a closed station opens; both decide on `is_open_at`, so "open now",
"today" and "reopens" never disagree.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from civicmap.errors import FieldError, InvalidInput
from civicmap.holidays import is_public_holiday

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
# How far ahead a closed station's reopening is looked for: past the longest holiday run (the
# National Day week) with a week to spare.
REOPEN_LOOKAHEAD_DAYS = 21
_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$|^24:00$")

MSG_HOURS_NOT_LIST = _("Opening hours must be a list of intervals.")
MSG_HOURS_BAD_INTERVAL = _(
    'Each interval needs "day" (0 = Monday … 6 = Sunday), "open" and "close" as HH:MM.'
)
MSG_HOURS_ENDS_BEFORE = _(
    '%(day)s, interval %(number)d: it ends before it starts. Tick "next day" if it runs past '
    'midnight.'
)
MSG_HOURS_NEXT_DAY_LATE = _(
    '%(day)s, interval %(number)d: with "next day" ticked it must close the next day no later '
    'than it opened (at most 24 hours).'
)
MSG_HOURS_OVERLAP = _("%(day)s, interval %(number)d overlaps %(other_day)s, interval "
                      "%(other_number)d.")


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def opening_hours_validate(hours: object) -> list[dict]:
    """Return the intervals as stored (without ``next_day``) if well formed and apart; raise
    InvalidInput naming the field, or each faulty interval by its weekday and number."""
    if not isinstance(hours, list):
        raise InvalidInput(FieldError("opening_hours", "invalid", MSG_HOURS_NOT_LIST))
    for interval in hours:
        if not (
            isinstance(interval, dict)
            and set(interval) - {"next_day"} == {"day", "open", "close"}
            and type(interval.get("next_day", False)) is bool
            and type(interval["day"]) is int
            and 0 <= interval["day"] <= 6
            and isinstance(interval["open"], str)
            and isinstance(interval["close"], str)
            and _TIME.match(interval["open"])
            and _TIME.match(interval["close"])
            and interval["open"] != "24:00"
        ):
            raise InvalidInput(FieldError("opening_hours", "invalid", MSG_HOURS_BAD_INTERVAL))
    errors = _interval_errors(hours)
    if errors:
        raise InvalidInput(*errors)
    return [{"day": i["day"], "open": i["open"], "close": i["close"]} for i in hours]


def wraps_midnight(interval: dict) -> bool:
    """Whether the interval runs past midnight into the next day (close at or before open)."""
    return _minutes(interval["close"]) <= _minutes(interval["open"])


def _interval_errors(hours: list[dict]) -> list[FieldError]:
    """Each interval whose "next day" contradicts its times, and each later one of an
    overlapping pair, named as "Monday, interval 2" (its place among that weekday's rows)."""
    numbers, seen = [], [0] * 7
    for interval in hours:
        seen[interval["day"]] += 1
        numbers.append(seen[interval["day"]])

    def names(index: int) -> dict:
        return {"day": WEEKDAYS[hours[index]["day"]], "number": numbers[index]}

    errors, spans = [], {}
    for index, interval in enumerate(hours):
        wraps = wraps_midnight(interval)
        next_day = interval.get("next_day")
        if next_day is not None and wraps != next_day:
            message = MSG_HOURS_NEXT_DAY_LATE if next_day else MSG_HOURS_ENDS_BEFORE
            errors.append(FieldError(f"opening_hours.{index}", "invalid",
                                     message % names(index)))
        else:
            spans[index] = _week_spans(interval)
    order = sorted(spans, key=lambda index: (hours[index]["day"], numbers[index]))
    for later_at, later in enumerate(order):
        for earlier in order[:later_at]:
            if any(start < other_end and other_start < end
                   for start, end in spans[later] for other_start, other_end in spans[earlier]):
                other = names(earlier)
                errors.append(FieldError(f"opening_hours.{later}", "overlap", MSG_HOURS_OVERLAP % {
                    **names(later), "other_day": other["day"], "other_number": other["number"]}))
                break
    return errors


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


def is_open_at(hours: list[dict], moment: datetime, *, closed_on_holidays: bool = False
               ) -> bool:
    """Whether a station with these hours is open at ``moment`` (any timezone-aware datetime);
    ``closed_on_holidays``: closed all day on a public holiday of the calendar data."""
    local = moment.astimezone(LOCAL_TZ)
    if closed_on_holidays and is_public_holiday(local.date()):
        return False
    minute_of_week = local.weekday() * MINUTES_PER_DAY + local.hour * 60 + local.minute
    return any(
        start <= minute_of_week < end
        for interval in hours
        for start, end in _week_spans(interval)
    )


def hours_today(hours: list[dict], moment: datetime, *, closed_on_holidays: bool = False
                ) -> list[dict]:
    """The intervals that start on ``moment``'s Beijing calendar day, earliest first, as
    ``{"open", "close", "next_day"}`` (``next_day``: it closes after midnight); none on a public
    holiday when ``closed_on_holidays``."""
    day = moment.astimezone(LOCAL_TZ).date()
    if closed_on_holidays and is_public_holiday(day):
        return []
    return [{"open": interval["open"], "close": interval["close"],
             "next_day": wraps_midnight(interval)}
            for interval in sorted(hours, key=lambda interval: _minutes(interval["open"]))
            if interval["day"] == day.weekday()]


def reopens_at(hours: list[dict], moment: datetime, *, closed_on_holidays: bool = False
               ) -> datetime | None:
    """When a station closed at ``moment`` next opens (Asia/Shanghai), or None when it is open
    now or does not open within `REOPEN_LOOKAHEAD_DAYS`.

    A station can only become open where an interval starts or at midnight (where a holiday
    ends a night that began the evening before), so those moments are the candidates and
    `is_open_at` decides each: the holiday rule is applied in one place.
    """
    if is_open_at(hours, moment, closed_on_holidays=closed_on_holidays):
        return None
    start_day = moment.astimezone(LOCAL_TZ).date()
    candidates = []
    for offset in range(REOPEN_LOOKAHEAD_DAYS + 1):
        day: date = start_day + timedelta(days=offset)
        candidates.append(datetime.combine(day, time(0), tzinfo=LOCAL_TZ))
        candidates.extend(
            datetime.combine(day, time(*divmod(_minutes(interval["open"]), 60)), tzinfo=LOCAL_TZ)
            for interval in hours if interval["day"] == day.weekday())
    return next((candidate for candidate in sorted(candidates)
                 if candidate > moment
                 and is_open_at(hours, candidate, closed_on_holidays=closed_on_holidays)), None)
