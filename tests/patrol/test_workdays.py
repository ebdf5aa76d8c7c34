"""Tests for patrol.workdays: China's working-day calendar and deadlines.

Dates come from the packaged calendar (State Council notices for 2025 and
2026) unless a test builds its own WorkCalendar from a dict.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import pytest

from patrol.workdays import (
    BAD_UNIT_MESSAGE,
    HOLIDAY_AND_MAKEUP_MESSAGE,
    NAIVE_DATETIME_MESSAGE,
    SHANGHAI,
    WORKING_DAYS_NOT_INT_MESSAGE,
    WorkCalendar,
    deadline_add,
    default_calendar,
)


def cst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An Asia/Shanghai wall-clock datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def calendar() -> WorkCalendar:
    """A fresh packaged calendar, so warnings are not shared between tests."""
    return WorkCalendar.from_file()


def test_packaged_calendar_holds_2025_and_2026_as_published(calendar: WorkCalendar) -> None:
    assert {2025, 2026} <= calendar.covered_years
    # 2026 notice: 元旦 1/1-3, 春节 2/15-23, 清明 4/4-6, 劳动 5/1-5, 端午 6/19-21,
    # 中秋 9/25-27, 国庆 10/1-7; make-up days 1/4, 2/14, 2/28, 5/9, 9/20, 10/10.
    for makeup in ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20"]:
        day = date.fromisoformat(makeup)
        assert day.weekday() >= 5  # every make-up day is a Saturday or Sunday
        assert calendar.is_workday(day)
    for holiday in ["2026-01-02", "2026-02-16", "2026-04-06", "2026-05-05", "2026-10-07"]:
        assert not calendar.is_workday(date.fromisoformat(holiday))


def test_spring_festival_2026_is_skipped(calendar: WorkCalendar) -> None:
    # Sat 14 Feb is a make-up working day; 15-23 Feb are off; Tue 24 Feb is the next working day.
    assert calendar.add_working_days(cst(2026, 2, 14, 10), 1) == cst(2026, 2, 24, 10)


def test_makeup_saturday_counts_as_a_working_day(calendar: WorkCalendar) -> None:
    # Fri 13 Feb 2026 + 1 working day lands on Sat 14 Feb, a make-up working day.
    assert calendar.is_workday(date(2026, 2, 14))
    assert calendar.add_working_days(cst(2026, 2, 13, 10), 1) == cst(2026, 2, 14, 10)


def test_one_working_day_from_friday_15h_is_monday_15h(calendar: WorkCalendar) -> None:
    assert calendar.add_working_days(cst(2026, 3, 13, 15), 1) == cst(2026, 3, 16, 15)


def test_start_in_utc_is_counted_on_shanghai_time(calendar: WorkCalendar) -> None:
    # 07:00 UTC is 15:00 in Beijing, Friday 13 March 2026.
    start = datetime(2026, 3, 13, 7, tzinfo=UTC)
    deadline = calendar.add_working_days(start, 1)
    assert deadline == cst(2026, 3, 16, 15)
    assert deadline.tzinfo == SHANGHAI


def test_crossing_from_2025_into_2026(calendar: WorkCalendar) -> None:
    # Wed 31 Dec 2025; 1-3 Jan 2026 are off; Sun 4 Jan 2026 is a make-up working day.
    assert calendar.add_working_days(cst(2025, 12, 31, 16), 1) == cst(2026, 1, 4, 16)
    assert calendar.add_working_days(cst(2025, 12, 31, 16), 2) == cst(2026, 1, 5, 16)


def test_start_on_weekend_counts_from_next_working_day_at_0900(calendar: WorkCalendar) -> None:
    # Sat 14 March 2026, 14:00: the clock starts Mon 16 March 09:00.
    assert calendar.add_working_days(cst(2026, 3, 14, 14), 1) == cst(2026, 3, 17, 9)
    assert calendar.add_working_days(cst(2026, 3, 14, 14), 0) == cst(2026, 3, 16, 9)


def test_start_on_holiday_counts_from_next_working_day_at_0900(calendar: WorkCalendar) -> None:
    # National Day 2026 is 1-7 October; Thu 8 October is the first working day after it.
    assert calendar.add_working_days(cst(2026, 10, 3, 11), 1) == cst(2026, 10, 9, 9)


def test_zero_working_days_from_a_working_day_is_the_start(calendar: WorkCalendar) -> None:
    assert calendar.add_working_days(cst(2026, 3, 13, 15, 30), 0) == cst(2026, 3, 13, 15, 30)


def test_year_without_data_falls_back_to_weekends_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calendar = WorkCalendar({"2026": {"holidays": [], "makeup_workdays": []}})
    with caplog.at_level(logging.WARNING, logger="patrol.workdays"):
        # Fri 3 May 2030 15:00 + 1 working day: Mon 6 May 2030, no Labour Day holiday known.
        assert calendar.add_working_days(cst(2030, 5, 3, 15), 1) == cst(2030, 5, 6, 15)
        assert not calendar.is_workday(date(2030, 5, 4))  # a Saturday
        assert calendar.is_workday(date(2030, 5, 7))  # a Tuesday
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "2030" in warnings[0].getMessage()


def test_calendar_from_dict_honours_its_own_data() -> None:
    calendar = WorkCalendar({2031: {"holidays": ["2031-03-03"], "makeup_workdays": ["2031-03-08"]}})
    assert not calendar.is_workday(date(2031, 3, 3))  # a Monday declared a holiday
    assert calendar.is_workday(date(2031, 3, 8))  # a Saturday declared a working day


def test_date_both_holiday_and_makeup_is_rejected() -> None:
    with pytest.raises(ValueError) as excinfo:
        WorkCalendar({2031: {"holidays": ["2031-03-08"], "makeup_workdays": ["2031-03-08"]}})
    assert str(excinfo.value) == HOLIDAY_AND_MAKEUP_MESSAGE.format(day="2031-03-08")


@pytest.mark.parametrize("n", [1.5, 1.0, "1", True])
def test_non_integer_working_days_raise(calendar: WorkCalendar, n: object) -> None:
    with pytest.raises(ValueError) as excinfo:
        calendar.add_working_days(cst(2026, 3, 13, 15), n)  # type: ignore[arg-type]
    assert str(excinfo.value) == WORKING_DAYS_NOT_INT_MESSAGE.format(n=n)


def test_negative_working_days_raise(calendar: WorkCalendar) -> None:
    with pytest.raises(ValueError):
        calendar.add_working_days(cst(2026, 3, 13, 15), -1)


def test_naive_start_raises(calendar: WorkCalendar) -> None:
    with pytest.raises(ValueError) as excinfo:
        calendar.add_working_days(datetime(2026, 3, 13, 15), 1)
    assert str(excinfo.value) == NAIVE_DATETIME_MESSAGE


def test_deadline_in_hours_runs_through_holidays() -> None:
    # Spring Festival night: 23:00 on 16 Feb 2026 + 2 h is 01:00 on 17 Feb.
    assert deadline_add(cst(2026, 2, 16, 23), 2, "hours") == cst(2026, 2, 17, 1)
    assert deadline_add(cst(2026, 2, 16, 23), 0.5, "hours") == cst(2026, 2, 16, 23, 30)


def test_deadline_in_working_days_uses_packaged_calendar_by_default() -> None:
    assert deadline_add(cst(2026, 2, 14, 10), 1, "working_days") == cst(2026, 2, 24, 10)
    assert default_calendar() is default_calendar()


def test_deadline_in_working_days_uses_given_calendar() -> None:
    weekends_only = WorkCalendar({"2026": {}})
    # Fri 13 Feb 2026: with no make-up Saturday known, the next working day is Mon 16 Feb.
    deadline = deadline_add(cst(2026, 2, 13, 10), 1, "working_days", calendar=weekends_only)
    assert deadline == cst(2026, 2, 16, 10)


@pytest.mark.parametrize("unit", ["days", "minutes", "WORKING_DAYS", ""])
def test_deadline_bad_unit_raises(unit: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        deadline_add(cst(2026, 3, 13, 15), 1, unit)  # type: ignore[arg-type]
    assert str(excinfo.value) == BAD_UNIT_MESSAGE.format(unit=unit)
