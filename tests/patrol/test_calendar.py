"""Next year's calendar without a release (issue 17): the office enters a year's holidays and
make-up working days on /office/calendar/; deadlines count on them across 1 January; from
1 November every office page warns until next year's arrangement is in.

Days of "2027" here are made up for the test (the State Council's notice for 2027 is not at
hand): 1 January 2027 is a Friday, 2 January a Saturday.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from patrol.calendar import (
    arrangement_check,
    calendar_year_missing,
    entered_years_forget,
    work_calendar,
)
from patrol.models import HolidayArrangement, HolidayArrangementDay, Task
from patrol.services.calendar import holiday_arrangement_save
from patrol.services.lifecycle import case_act, task_deadline
from patrol.workdays import SHANGHAI
from tests.patrol.helpers import report

CALENDAR_URL = "/office/calendar/"
NEW_YEAR_EVE = datetime(2026, 12, 31, 10, 0, tzinfo=SHANGHAI)  # a Thursday, 10:00
HOLIDAYS_2027 = "2027-01-01\n2027-02-06\n2027-02-07"
MAKEUP_2027 = "2027-01-02"  # a Saturday worked


@pytest.fixture(autouse=True)
def _no_cached_years():
    """The entered years are cached in Redis, which outlives each test's rolled-back rows."""
    entered_years_forget()
    yield
    entered_years_forget()


def _codes(errors) -> list[tuple[str, str]]:
    return [(error.field, error.code) for error in errors]


def test_the_check_refuses_each_fault_and_passes_a_good_year():
    ok = arrangement_check(year=2027, holidays=[date(2027, 1, 1)],
                           makeup_workdays=[date(2027, 1, 2)])
    assert ok == []
    assert _codes(arrangement_check(year=2026, holidays=[date(2026, 1, 1)],
                                    makeup_workdays=[])) == [("year", "built_in")]
    assert _codes(arrangement_check(year=1999, holidays=[date(1999, 1, 1)],
                                    makeup_workdays=[])) == [("year", "out_of_range")]
    assert _codes(arrangement_check(
        year=2027, holidays=[date(2028, 1, 1)], makeup_workdays=[date(2026, 12, 26)])) == [
        ("holidays", "not_in_year"), ("makeup_workdays", "not_in_year")]
    assert _codes(arrangement_check(year=2027, holidays=[], makeup_workdays=[])) == [
        ("holidays", "required")]
    # 4 January 2027 is a Monday: a make-up working day is a weekend day worked.
    assert _codes(arrangement_check(year=2027, holidays=[date(2027, 1, 1)],
                                    makeup_workdays=[date(2027, 1, 4)])) == [
        ("makeup_workdays", "weekday")]
    assert _codes(arrangement_check(year=2027, holidays=[date(2027, 1, 2)],
                                    makeup_workdays=[date(2027, 1, 2)])) == [
        ("makeup_workdays", "both")]


@pytest.mark.django_db
def test_the_database_holds_the_same_rules(reference_data):
    arrangement = HolidayArrangement.objects.create(year=2027, entered_at=timezone.now())
    for day, kind in ((date(2027, 1, 4), "makeup"), (date(2028, 1, 1), "holiday")):
        with pytest.raises(IntegrityError), transaction.atomic():
            HolidayArrangementDay.objects.create(arrangement=arrangement, day=day, kind=kind)
    HolidayArrangementDay.objects.create(arrangement=arrangement, day=date(2027, 1, 2),
                                         kind="makeup")
    with pytest.raises(IntegrityError), transaction.atomic():  # not both: one row a day
        HolidayArrangementDay.objects.create(arrangement=arrangement, day=date(2027, 1, 2),
                                             kind="holiday")


def _office(client):
    client.force_login(get_user_model().objects.get(username="office1"))
    return client


@pytest.mark.django_db
def test_refused_input_is_shown_beside_its_fields_and_nothing_is_saved(reference_data, client):
    page = _office(client).post(CALENDAR_URL, {
        "year": "2027", "holidays": "2027-01-01\n2028-01-01\nsoon",
        "makeup_workdays": "2027-01-04", "source": "test"}, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 400
    html = page.content.decode()
    assert "“soon” is not a date (YYYY-MM-DD)." in html
    assert 'id="holidays-error"' in html and 'aria-describedby="holidays-error"' in html
    assert "2028-01-01\nsoon" in html  # what was typed stays in the field

    page = client.post(CALENDAR_URL, {"year": "2027", "holidays": "2027-01-01 2028-01-01",
                                      "makeup_workdays": "2027-01-04 2027-01-01"},
                       HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 400
    html = page.content.decode()
    assert "2028-01-01 不在 2027 年内。" in html
    assert "2027-01-04 是工作日；调休上班日应在星期六或星期日。" in html
    assert "2027-01-01 同时被列为节假日和调休上班日。" in html
    assert 'id="makeup_workdays-error"' in html

    page = client.post(CALENDAR_URL, {"year": "2026", "holidays": "2026-01-01"})
    assert page.status_code == 400
    assert "2026 年的安排已内置，不能在此修改。" in page.content.decode()
    assert not HolidayArrangement.objects.exists()
    assert not HolidayArrangementDay.objects.exists()


@pytest.mark.django_db
def test_a_saved_year_is_listed_and_entering_it_again_replaces_it(reference_data, client,
                                                                   django_capture_on_commit_callbacks):
    _office(client)
    with django_capture_on_commit_callbacks(execute=True):
        saved = client.post(CALENDAR_URL, {"year": "2027", "holidays": HOLIDAYS_2027,
                                           "makeup_workdays": MAKEUP_2027,
                                           "source": "国办发明电〔2026〕X号"})
    assert saved.status_code == 303 and saved["Location"] == f"{CALENDAR_URL}?saved=2027"
    page = client.get(saved["Location"]).content.decode()
    assert "2027 年的安排已保存。" in page and "2027-02-07" in page and "office1" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(CALENDAR_URL, {"year": "2027", "holidays": "2027-01-01"})
    assert list(HolidayArrangementDay.objects.values_list("day", "kind")) == [
        (date(2027, 1, 1), "holiday")]


@pytest.mark.django_db
def test_deadlines_across_new_year_count_on_the_entered_year(reference_data,
                                                              django_capture_on_commit_callbacks):
    """One working day from Thursday 31 December 2026 10:00: without 2027's arrangement,
    Friday 1 January (Monday to Friday); with it, 1 January is a holiday and Saturday
    2 January a make-up working day, so 10:00 on the 2nd. The cached calendar is dropped on
    save: the very next deadline counts on it."""
    office = get_user_model().objects.get(username="office1")
    assert task_deadline(NEW_YEAR_EVE, Decimal(1), "working_days") == datetime(
        2027, 1, 1, 10, 0, tzinfo=SHANGHAI)
    with django_capture_on_commit_callbacks(execute=True):
        holiday_arrangement_save(year=2027, holidays=[date(2027, 1, 1)],
                                 makeup_workdays=[date(2027, 1, 2)], source="",
                                 actor=office, at=timezone.now())
    assert task_deadline(NEW_YEAR_EVE, Decimal(1), "working_days") == datetime(
        2027, 1, 2, 10, 0, tzinfo=SHANGHAI)
    assert task_deadline(NEW_YEAR_EVE, Decimal(2), "working_days") == datetime(
        2027, 1, 4, 10, 0, tzinfo=SHANGHAI)
    assert 2027 in work_calendar().covered_years and 2026 in work_calendar().covered_years

    # A case dispatched on New Year's Eve: the task's response deadline (E0502: 1 working
    # day) is the make-up Saturday.
    case_id = report("E0502").case_id
    case_act(case_id=case_id, action="dispatch", actor=office, at=NEW_YEAR_EVE)
    assert Task.objects.get(case_id=case_id).response_due == datetime(
        2027, 1, 2, 10, 0, tzinfo=SHANGHAI)


@pytest.mark.django_db
@pytest.mark.parametrize(("day", "warned"), [
    (datetime(2026, 10, 31, 23, 0, tzinfo=SHANGHAI), False),
    (datetime(2026, 11, 1, 0, 30, tzinfo=SHANGHAI), True),  # 16:30 UTC on 31 October
    (datetime(2026, 12, 31, 23, 0, tzinfo=SHANGHAI), True),
])
def test_office_pages_warn_from_1_november_until_next_year_is_in(
        reference_data, client, monkeypatch, day, warned, django_capture_on_commit_callbacks):
    monkeypatch.setattr(timezone, "now", lambda: day)
    assert (calendar_year_missing(now=day) == 2027) is warned
    _office(client)
    warning = "2027 年的节假日和调休上班日尚未录入"
    for path in ("/office/", CALENDAR_URL, "/map/"):
        assert (warning in client.get(path).content.decode()) is warned, path
    client.logout()  # the public is not told
    assert warning not in client.get("/map/").content.decode()

    _office(client)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(CALENDAR_URL, {"year": "2027", "holidays": HOLIDAYS_2027,
                                   "makeup_workdays": MAKEUP_2027})
    assert calendar_year_missing(now=day) is None
    assert warning not in client.get("/office/").content.decode()
