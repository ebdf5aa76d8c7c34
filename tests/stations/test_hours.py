"""Opening hours: the one validation of every path (each fault names its weekday row and
interval, nothing written), the "next day" box, and closing on the calendar's public holidays
(``civicmap.holidays``, answered by patrol's calendar) wherever "open now" is decided."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.contrib.gis.geos import Point
from django.utils import translation

from civicmap.errors import InvalidInput
from civicmap.holidays import is_public_holiday
from civicmap.models import WGS84
from stations.hours import LOCAL_TZ, hours_today, is_open_at, opening_hours_validate, reopens_at
from stations.models import Station
from stations.selectors import station_nearest_list, station_open_ids
from stations.services import station_save
from tests.stations.test_services import GOOD

# The holiday calendar reads the office's entered years (the database, through the cache).
pytestmark = pytest.mark.django_db

MONDAY_9_TO_5 = {"day": 0, "open": "09:00", "close": "17:00"}


def _refusal(hours: list[dict]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInput) as refused, translation.override("en"):
        opening_hours_validate(hours)
    with translation.override("en"):
        return [(error.field, str(error.message)) for error in refused.value.errors]


def test_an_interval_ending_before_it_starts_without_next_day_names_its_row():
    assert _refusal([MONDAY_9_TO_5, {"day": 0, "open": "20:00", "close": "02:00",
                                     "next_day": False}]) == [
        ("opening_hours.1", 'Monday, interval 2: it ends before it starts. Tick "next day" if '
                            "it runs past midnight.")]


def test_next_day_ticked_on_a_daytime_interval_names_its_row():
    assert _refusal([{"day": 4, "open": "09:00", "close": "17:00", "next_day": True}]) == [
        ("opening_hours.0", 'Friday, interval 1: with "next day" ticked it must close the next '
                            "day no later than it opened (at most 24 hours).")]


def test_overlapping_intervals_of_a_day_name_the_later_row_and_the_other():
    assert _refusal([MONDAY_9_TO_5, {"day": 0, "open": "16:00", "close": "18:00"}]) == [
        ("opening_hours.1", "Monday, interval 2 overlaps Monday, interval 1.")]


def test_a_night_past_midnight_overlapping_the_next_morning_is_refused():
    # Sunday 22:00 – Monday 02:00 wraps the week into Monday 01:00 – 05:00.
    assert _refusal([{"day": 0, "open": "01:00", "close": "05:00"},
                     {"day": 6, "open": "22:00", "close": "02:00", "next_day": True}]) == [
        ("opening_hours.1", "Sunday, interval 1 overlaps Monday, interval 1.")]


def test_the_refusal_is_in_chinese_by_default():
    with pytest.raises(InvalidInput) as refused, translation.override("zh-hans"):
        opening_hours_validate([{"day": 2, "open": "18:00", "close": "08:00",
                                 "next_day": False}])
    with translation.override("zh-hans"):
        assert str(refused.value.errors[0].message).startswith("星期三")


def test_several_intervals_and_a_ticked_night_are_stored_without_the_box():
    hours = [MONDAY_9_TO_5, {"day": 0, "open": "18:00", "close": "02:00", "next_day": True},
             {"day": 1, "open": "08:00", "close": "00:00", "next_day": True}]
    assert opening_hours_validate(hours) == [
        MONDAY_9_TO_5, {"day": 0, "open": "18:00", "close": "02:00"},
        {"day": 1, "open": "08:00", "close": "00:00"}]


@pytest.mark.django_db
def test_the_service_refuses_bad_hours_and_writes_nothing(reference_data):
    station = Station.objects.get(name_zh="槐房万达广场党群服务站")
    before = station.opening_hours
    bad = [MONDAY_9_TO_5, {"day": 0, "open": "12:00", "close": "13:00", "next_day": False}]
    with pytest.raises(InvalidInput) as refused:
        station_save(station_id=station.pk, **{**GOOD, "opening_hours": bad})
    assert [error.field for error in refused.value.errors] == ["opening_hours.1"]
    station.refresh_from_db()
    assert station.opening_hours == before and station.name_zh == "槐房万达广场党群服务站"


# 2026-10-01 is National Day, a holiday of the built-in calendar (patrol/data/cn_calendar.json);
# 2026-10-09 a Friday and a working day.
NATIONAL_DAY_10AM = datetime(2026, 10, 1, 10, 0, tzinfo=LOCAL_TZ)
WORKING_FRIDAY_10AM = datetime(2026, 10, 9, 10, 0, tzinfo=LOCAL_TZ)
EVERY_DAY_8_TO_8 = [{"day": day, "open": "08:00", "close": "20:00"} for day in range(7)]


def test_patrol_answers_the_holiday_question():
    assert is_public_holiday(NATIONAL_DAY_10AM.date())
    assert not is_public_holiday(WORKING_FRIDAY_10AM.date())


def test_a_station_closed_on_holidays_is_closed_all_the_holiday():
    assert is_open_at(EVERY_DAY_8_TO_8, NATIONAL_DAY_10AM)
    assert not is_open_at(EVERY_DAY_8_TO_8, NATIONAL_DAY_10AM, closed_on_holidays=True)
    assert is_open_at(EVERY_DAY_8_TO_8, WORKING_FRIDAY_10AM, closed_on_holidays=True)


@pytest.mark.django_db
def test_open_now_honours_the_holiday_setting_in_the_list_and_nearest(reference_data):
    station = Station.objects.get(name_zh="槐房万达广场党群服务站")
    assert station.pk in station_open_ids(at=NATIONAL_DAY_10AM)
    station_save(station_id=station.pk, **{**GOOD, "name_zh": station.name_zh,
                                           "lon": station.location.x,
                                           "lat": station.location.y,
                                           "opening_hours": EVERY_DAY_8_TO_8,
                                           "closed_on_holidays": True})
    assert station.pk not in station_open_ids(at=NATIONAL_DAY_10AM)
    assert station.pk in station_open_ids(at=WORKING_FRIDAY_10AM)
    nearest = station_nearest_list(point=Point(station.location.x, station.location.y,
                                               srid=WGS84), at=NATIONAL_DAY_10AM, limit=1)
    assert nearest[0]["id"] == station.pk
    assert (nearest[0]["open_now"], nearest[0]["closed_on_holidays"]) == (False, True)


@pytest.mark.django_db
def test_a_station_renamed_by_its_id_keeps_its_row(reference_data):
    station = Station.objects.get(name_zh="槐房万达广场党群服务站")
    saved, created = station_save(station_id=station.pk, **{
        **GOOD, "name_zh": "槐房驿站（新名）", "lon": station.location.x,
        "lat": station.location.y})
    assert (saved.pk, created, saved.name_zh) == (station.pk, False, "槐房驿站（新名）")
    with pytest.raises(InvalidInput) as refused:
        station_save(station_id=station.pk, **{**GOOD, "name_zh": "新宫社区党群服务站",
                                               "lon": station.location.x,
                                               "lat": station.location.y})
    assert refused.value.errors[0].field == "name_zh"


# --- today's hours and when a closed station reopens (the rider's station list) ----------------

NIGHTS_FRIDAY_SATURDAY = [{"day": 4, "open": "20:00", "close": "02:00"},
                          {"day": 5, "open": "20:00", "close": "02:00"}]


def _local(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=LOCAL_TZ)


def test_today_lists_the_intervals_starting_today_with_the_past_midnight_mark():
    hours = [{"day": 4, "open": "13:00", "close": "17:00"},
             {"day": 4, "open": "08:00", "close": "11:30"}, *NIGHTS_FRIDAY_SATURDAY[1:],
             {"day": 3, "open": "20:00", "close": "02:00"}]
    # Friday 2026-10-09; Thursday's night (running into Friday) is Thursday's.
    assert hours_today(hours, _local(2026, 10, 9, 1, 0)) == [
        {"open": "08:00", "close": "11:30", "next_day": False},
        {"open": "13:00", "close": "17:00", "next_day": False}]
    assert hours_today(NIGHTS_FRIDAY_SATURDAY, _local(2026, 10, 10, 9, 0)) == [
        {"open": "20:00", "close": "02:00", "next_day": True}]


def test_today_is_empty_on_a_holiday_the_station_closes_for():
    assert hours_today(EVERY_DAY_8_TO_8, NATIONAL_DAY_10AM, closed_on_holidays=True) == []
    assert len(hours_today(EVERY_DAY_8_TO_8, NATIONAL_DAY_10AM)) == 1


def test_an_open_station_has_no_reopening():
    assert reopens_at(EVERY_DAY_8_TO_8, WORKING_FRIDAY_10AM) is None
    # Past midnight, still in Friday's night.
    assert reopens_at(NIGHTS_FRIDAY_SATURDAY, _local(2026, 10, 10, 1, 30)) is None


def test_a_closed_station_reopens_later_today_tomorrow_or_next_week():
    assert reopens_at(EVERY_DAY_8_TO_8, _local(2026, 10, 9, 6, 0)) == _local(2026, 10, 9, 8, 0)
    assert reopens_at(EVERY_DAY_8_TO_8, _local(2026, 10, 9, 21, 0)) == _local(2026, 10, 10, 8, 0)
    # Saturday 02:00 the night ends: next at Saturday 20:00; Sunday 03:00: next Friday 20:00.
    assert reopens_at(NIGHTS_FRIDAY_SATURDAY, _local(2026, 10, 10, 2, 0)) == _local(
        2026, 10, 10, 20, 0)
    assert reopens_at(NIGHTS_FRIDAY_SATURDAY, _local(2026, 10, 11, 3, 0)) == _local(
        2026, 10, 16, 20, 0)
    assert reopens_at([], WORKING_FRIDAY_10AM) is None


def test_a_station_closed_on_holidays_reopens_after_the_holidays():
    # National Day week 2026: 1–7 October are holidays in the built-in calendar.
    first_working = next(day for day in range(2, 20)
                         if not is_public_holiday(_local(2026, 10, day, 0, 0).date()))
    assert reopens_at(EVERY_DAY_8_TO_8, NATIONAL_DAY_10AM, closed_on_holidays=True) == _local(
        2026, 10, first_working, 8, 0)


def test_a_night_begun_the_evening_before_a_holiday_ends_reopens_at_midnight():
    # Wednesday 2026-10-07 is the last holiday; its evening is closed, Thursday from midnight on
    # the night that began on the Wednesday is open again (the holiday rule ends at midnight).
    nights = [{"day": 2, "open": "20:00", "close": "06:00"}]
    assert is_public_holiday(_local(2026, 10, 7, 0, 0).date())
    assert not is_public_holiday(_local(2026, 10, 8, 0, 0).date())
    assert reopens_at(nights, _local(2026, 10, 7, 21, 0), closed_on_holidays=True) == _local(
        2026, 10, 8, 0, 0)


@pytest.mark.django_db
def test_the_nearest_list_says_today_reopening_and_navigation(reference_data):
    station = Station.objects.get(name_zh="槐房万达广场党群服务站")
    station_save(station_id=station.pk, **{**GOOD, "name_zh": station.name_zh,
                                           "lon": station.location.x,
                                           "lat": station.location.y,
                                           "opening_hours": EVERY_DAY_8_TO_8,
                                           "closed_on_holidays": False})
    row = station_nearest_list(point=Point(station.location.x, station.location.y, srid=WGS84),
                               at=_local(2026, 10, 9, 21, 0), limit=1)[0]
    assert row["today"] == [{"open": "08:00", "close": "20:00", "next_day": False}]
    assert row["reopens"] == {"at": _local(2026, 10, 10, 8, 0), "days": 1}
    assert set(row["navigation"]) == {"amap", "baidu", "geo"}
