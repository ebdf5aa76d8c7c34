"""The working-day calendar deadlines are counted on: the built-in file's years
(patrol/data/cn_calendar.json) and the years the office entered on /office/calendar/
(``HolidayArrangement``), which extend it.

The entered years are read through the shared cache (Redis; it fails open to the database)
and the key is deleted when a year is saved, so every web server and worker counts on the
same calendar without any state of its own (docs/ARCHITECTURE.md, "What each part needs").
What is kept per process is derived from the cached value alone (``_calendar_of``).

``arrangement_check`` is the one rule for what the office may enter: the page's form and the
saving service both call it (the database's constraints hold the same invariants).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import cache, lru_cache

from django.core.cache import cache as shared_cache
from django.utils.translation import gettext_lazy as _

from civicmap.errors import FieldError
from patrol.models import HolidayArrangement, HolidayArrangementDay
from patrol.workdays import DEFAULT_CALENDAR_PATH, SHANGHAI, WorkCalendar

CACHE_KEY = "patrol:holiday-arrangements:v1"
# Seconds: a bound on staleness should the delete on save not reach Redis (it fails open).
CACHE_SECONDS = 600
YEAR_MIN, YEAR_MAX = 2000, 2100  # as the table's check constraint
WARN_FROM_MONTH = 11  # the State Council publishes next year's arrangement in November

MSG_YEAR_RANGE = _("Enter a year from %(min)s to %(max)s.")
MSG_YEAR_BUILT_IN = _("%(year)s's arrangement is built in and cannot be changed here.")
MSG_NOT_IN_YEAR = _("%(day)s is not in %(year)s.")
MSG_MAKEUP_WEEKDAY = _("%(day)s is a weekday; a make-up working day falls on a Saturday or "
                       "Sunday.")
MSG_BOTH = _("%(day)s is listed both as a holiday and as a make-up working day.")
MSG_NO_HOLIDAYS = _("List the year's public holidays.")


@cache
def built_in_years() -> dict[str, dict]:
    """The packaged file's arrangements by year (a file of the release: the same on every
    server, so loading it once per process keeps nothing a second server would need)."""
    with open(DEFAULT_CALENDAR_PATH, encoding="utf-8") as f:
        return json.load(f)


def entered_years() -> dict[str, dict]:
    """The office's arrangements by year, in the file's shape, from the shared cache or else
    the database (then cached)."""
    years = shared_cache.get(CACHE_KEY)
    if years is None:
        years = {}
        for arrangement in HolidayArrangement.objects.prefetch_related("days"):
            days = list(arrangement.days.all())
            years[str(arrangement.year)] = {
                "source": arrangement.source,
                "holidays": [d.day.isoformat() for d in days
                             if d.kind == HolidayArrangementDay.Kind.HOLIDAY],
                "makeup_workdays": [d.day.isoformat() for d in days
                                    if d.kind == HolidayArrangementDay.Kind.MAKEUP],
            }
        shared_cache.set(CACHE_KEY, years, CACHE_SECONDS)
    return years


def arrangements_list() -> list[HolidayArrangement]:
    """The entered years, oldest first, with their days and who entered them (for the page)."""
    return list(HolidayArrangement.objects.select_related("entered_by")
                .prefetch_related("days"))


def entered_years_forget() -> None:
    """Drop the cached arrangements (after a save commits): the next reader loads them."""
    shared_cache.delete(CACHE_KEY)


def work_calendar() -> WorkCalendar:
    """The calendar deadlines count on now: the built-in years, extended by the entered ones."""
    return _calendar_of(json.dumps(entered_years(), sort_keys=True))


@lru_cache(maxsize=4)
def _calendar_of(entered: str) -> WorkCalendar:
    """A calendar per content of the entered years (so each one's warnings log once)."""
    return WorkCalendar({**json.loads(entered), **built_in_years()})  # the file wins


def is_public_holiday(day: date) -> bool:
    """Whether ``day`` is a public holiday on the calendar deadlines count on: the provider of
    ``civicmap.holidays`` (registered in ``PatrolConfig.ready()``), which stations asks."""
    return work_calendar().is_holiday(day)


def covered_years() -> frozenset[int]:
    """The years with an arrangement, built in or entered."""
    return frozenset(int(year) for year in (*built_in_years(), *entered_years()))


def calendar_year_missing(*, now: datetime) -> int | None:
    """Next year, when it is November or December (Beijing time) and next year has no
    arrangement yet; None otherwise. From 1 November every office page says so."""
    today = now.astimezone(SHANGHAI).date()
    if today.month < WARN_FROM_MONTH or today.year + 1 in covered_years():
        return None
    return today.year + 1


def arrangement_check(*, year: int, holidays: list[date],
                      makeup_workdays: list[date]) -> list[FieldError]:
    """What is wrong with an arrangement the office enters (nothing: an empty list): the year
    in range and not built in, every day inside the year, at least one holiday, every make-up
    day on a weekend, no day both."""
    if not YEAR_MIN <= year <= YEAR_MAX:
        return [FieldError("year", "out_of_range",
                           MSG_YEAR_RANGE % {"min": YEAR_MIN, "max": YEAR_MAX})]
    if str(year) in built_in_years():
        return [FieldError("year", "built_in", MSG_YEAR_BUILT_IN % {"year": year})]
    errors = []
    for field, days in (("holidays", holidays), ("makeup_workdays", makeup_workdays)):
        errors += [FieldError(field, "not_in_year",
                              MSG_NOT_IN_YEAR % {"day": day.isoformat(), "year": year})
                   for day in days if day.year != year]
    if not holidays:
        errors.append(FieldError("holidays", "required", MSG_NO_HOLIDAYS))
    errors += [FieldError("makeup_workdays", "weekday", MSG_MAKEUP_WEEKDAY % {
        "day": day.isoformat()}) for day in makeup_workdays if day.weekday() < 5]
    errors += [FieldError("makeup_workdays", "both", MSG_BOTH % {"day": day.isoformat()})
               for day in sorted(set(holidays) & set(makeup_workdays))]
    return errors
