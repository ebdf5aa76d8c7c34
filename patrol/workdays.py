"""China's working-day calendar and case deadlines counted on it.

Resolution and response deadlines are set per category in hours (emergencies
run around the clock) or in working days. Working days skip weekends and
public holidays and honour make-up working days (调休: a Saturday or Sunday
declared a working day). The State Council General Office publishes each
year's arrangement in November of the year before; `data/cn_calendar.json`
holds one entry per year with its source (the release's years), and the office
enters later years on /office/calendar/ (patrol.calendar builds the calendar
of both, which the services count on). A year with no entry falls back to plain
Monday-Friday working days and logs a warning, so a missing update is
noticed rather than silently wrong around the holidays.

Pure Python on purpose (no Django): Celery deadline scans, services and tests
all call it the same way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

logger = logging.getLogger(__name__)

# China Standard Time, UTC+8, no daylight saving since 1991, so adding whole
# days to a local wall-clock time never skips or repeats an hour.
SHANGHAI = ZoneInfo("Asia/Shanghai")

# When a case is dispatched on a non-working day, its working-day clock starts
# at the opening of the next working day.
WORKDAY_START = time(9, 0)  # 09:00 Asia/Shanghai

DEFAULT_CALENDAR_PATH = Path(__file__).resolve().parent / "data" / "cn_calendar.json"

DeadlineUnit = Literal["hours", "working_days"]
DEADLINE_UNITS: tuple[str, ...] = ("hours", "working_days")

NAIVE_DATETIME_MESSAGE = "The start of a deadline must be a timezone-aware datetime."
WORKING_DAYS_NOT_INT_MESSAGE = "Working days must be a whole number, got {n!r}."
WORKING_DAYS_NEGATIVE_MESSAGE = "Working days must not be negative, got {n}."
BAD_UNIT_MESSAGE = "Unknown deadline unit {unit!r}; expected one of: hours, working_days."
HOLIDAY_AND_MAKEUP_MESSAGE = "{day} is listed both as a holiday and as a make-up working day."
NO_DATA_WARNING = (
    "No holiday calendar for %d; counting Monday to Friday as working days. "
    "Add the State Council's arrangement for %d to %s."
)


def _whole_working_days(n: float) -> int:
    """Return ``n`` as a non-negative int, or raise ValueError (floats and bools included)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValueError(WORKING_DAYS_NOT_INT_MESSAGE.format(n=n))
    if n < 0:
        raise ValueError(WORKING_DAYS_NEGATIVE_MESSAGE.format(n=n))
    return n


def _parse_days(values: Any) -> set[date]:
    """Parse a list of ISO dates ("YYYY-MM-DD") into a set of dates."""
    return {date.fromisoformat(value) for value in values or ()}


class WorkCalendar:
    """Which calendar days are working days in mainland China.

    Built from a mapping of year to that year's arrangement, in the shape of
    `data/cn_calendar.json`::

        {"2026": {"source": "...", "holidays": ["2026-01-01", ...],
                  "makeup_workdays": ["2026-01-04", ...]}}

    Keys may be strings or ints. ``holidays`` lists every day off in the
    holiday periods (weekend days inside a period may be listed or not; it
    makes no difference). A listed date counts wherever its year key is, since
    a make-up day can fall in the previous calendar year. A year is "covered"
    when it has a key; dates in uncovered years use Monday-Friday and log one
    warning per year per calendar.
    """

    def __init__(self, years: Mapping[str | int, Mapping[str, Any]]) -> None:
        self._covered_years = {int(year) for year in years}
        self._holidays: set[date] = set()
        self._makeup_workdays: set[date] = set()
        for entry in years.values():
            self._holidays |= _parse_days(entry.get("holidays"))
            self._makeup_workdays |= _parse_days(entry.get("makeup_workdays"))
        clash = sorted(self._holidays & self._makeup_workdays)
        if clash:
            raise ValueError(HOLIDAY_AND_MAKEUP_MESSAGE.format(day=clash[0].isoformat()))
        self._warned_years: set[int] = set()

    @classmethod
    def from_file(cls, path: str | Path | None = None) -> WorkCalendar:
        """Load a calendar from a JSON file; by default the packaged `DEFAULT_CALENDAR_PATH`."""
        with open(path or DEFAULT_CALENDAR_PATH, encoding="utf-8") as f:
            return cls(json.load(f))

    @property
    def covered_years(self) -> frozenset[int]:
        """The years this calendar has an official arrangement for."""
        return frozenset(self._covered_years)

    def is_holiday(self, day: date) -> bool:
        """Return True when ``day`` is listed as a public holiday (a day off of a holiday
        period); weekends and make-up working days are not holidays."""
        return day in self._holidays

    def is_workday(self, day: date) -> bool:
        """Return True when ``day`` is a working day.

        A make-up working day is one; a holiday is not; any other day is one
        when it falls Monday to Friday.
        """
        if day in self._makeup_workdays:
            return True
        if day in self._holidays:
            return False
        self._warn_if_uncovered(day.year)
        return day.weekday() < 5  # Monday=0 .. Friday=4

    def next_workday(self, day: date) -> date:
        """Return the first working day strictly after ``day``."""
        day += timedelta(days=1)
        while not self.is_workday(day):
            day += timedelta(days=1)
        return day

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """Return the deadline ``n`` working days after ``start``, in Asia/Shanghai time.

        The rule, on Asia/Shanghai wall-clock time:

        1. If ``start`` falls on a working day, the clock starts at ``start``.
           Otherwise it starts at 09:00 (`WORKDAY_START`) on the next working day.
        2. The deadline is the same clock time as that start on the ``n``-th
           working day after the start's day. So 1 working day from Friday
           15:00 is Monday 15:00 (or the next working day's 15:00 if Monday
           is a holiday), and 1 working day from Saturday 14:00 is Tuesday
           09:00 (the clock starts Monday 09:00).
        3. ``n == 0`` returns the start of the clock: ``start`` itself on a
           working day, else the next working day's 09:00.

        Working days are whole calendar days: office hours are not modelled,
        so a case dispatched on a working day at 22:00 is due at 22:00.

        ``start`` must be timezone-aware (ValueError otherwise); the result is
        in Asia/Shanghai. ``n`` must be a non-negative int (ValueError
        otherwise; fractional working days are not supported).
        """
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError(NAIVE_DATETIME_MESSAGE)
        n = _whole_working_days(n)
        clock_start = self._clock_start(start.astimezone(SHANGHAI))
        day = clock_start.date()
        for _ in range(n):
            day = self.next_workday(day)
        return datetime.combine(day, clock_start.timetz())

    def _clock_start(self, local: datetime) -> datetime:
        """Return when the working-day clock starts for a case dispatched at ``local``."""
        if self.is_workday(local.date()):
            return local
        return datetime.combine(self.next_workday(local.date()), WORKDAY_START, tzinfo=SHANGHAI)

    def _warn_if_uncovered(self, year: int) -> None:
        """Log once per year that ``year`` has no data and weekends alone are used."""
        if year in self._covered_years or year in self._warned_years:
            return
        self._warned_years.add(year)
        logger.warning(NO_DATA_WARNING, year, year, DEFAULT_CALENDAR_PATH.name)


@cache
def default_calendar() -> WorkCalendar:
    """Return the packaged calendar, loaded once per process (so each warning is logged once)."""
    return WorkCalendar.from_file()


def add_hours(start: datetime, hours: float) -> datetime:
    """Return ``start`` plus ``hours`` of elapsed time, in Asia/Shanghai time.

    Plain wall-clock arithmetic, nights, weekends and holidays included:
    emergencies are handled around the clock. ``start`` must be timezone-aware.
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError(NAIVE_DATETIME_MESSAGE)
    return (start + timedelta(hours=hours)).astimezone(SHANGHAI)


def deadline_add(
    start: datetime,
    amount: float,
    unit: DeadlineUnit,
    *,
    calendar: WorkCalendar | None = None,
) -> datetime:
    """Return the deadline ``amount`` ``unit``s after ``start``, in Asia/Shanghai time.

    ``unit`` is "hours" (wall clock, see `add_hours`; 0.5 for 30 minutes) or
    "working_days" (see `WorkCalendar.add_working_days`; whole numbers only).
    ``calendar`` defaults to the packaged one. Raises ValueError for any
    other unit.
    """
    if unit == "hours":
        return add_hours(start, amount)
    if unit == "working_days":
        return (calendar or default_calendar()).add_working_days(start, _whole_working_days(amount))
    raise ValueError(BAD_UNIT_MESSAGE.format(unit=unit))
