"""The database refuses rows that break the model's invariants, whatever path writes them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.gis.geos import Point
from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone

from civicmap.models import Subdistrict
from fixtures.seed import NANYUAN_CODE
from issues.models import Case, CaseConfirmation, Category, CategoryGroup, Report
from patrol.models import Rating, Task
from stations.models import CheckIn, Station

pytestmark = pytest.mark.django_db


def _case(category: Category) -> Case:
    now = timezone.now()
    return Case.objects.create(
        category=category, location=Point(116.392, 39.797, srid=4326), subdistrict=_nanyuan(),
        created_at=now, last_report_at=now, updated_at=now,
    )


def _nanyuan() -> Subdistrict:
    return Subdistrict.objects.get(code=NANYUAN_CODE)


def test_report_without_a_point_is_refused(reference_data):
    category = Category.objects.get(code=Category.objects.order_by("code").first().code)
    case = _case(category)
    with pytest.raises(IntegrityError), transaction.atomic():
        Report.objects.create(
            location=None, sent_lon=116.392, sent_lat=39.797, category=category,
            subdistrict=case.subdistrict, received_at=timezone.now(), case=case,
            channel="open311",
        )


@pytest.mark.parametrize("code", ["X0101", "E011", "E01011", "e0101", "E01A1"])
def test_category_code_must_be_kind_letter_and_four_digits(reference_data, code):
    group = CategoryGroup.objects.order_by("code").first()
    # Too long a code is refused by the column's length, the rest by the check constraint.
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        Category.objects.create(
            code=code, group=group, name_zh="测试", name_en="Test", icon="x",
            handler="union", response_deadline=1, response_unit="hours",
            resolution_deadline=1, resolution_unit="hours",
        )


def test_app_report_needs_a_client_uuid(reference_data):
    category = Category.objects.order_by("code").first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Report.objects.create(
            location=Point(116.392, 39.797, srid=4326), sent_lon=116.392, sent_lat=39.797,
            category=category, received_at=timezone.now(), case=_case(category), channel="app",
        )


def test_station_outside_the_subdistrict_cannot_be_saved_even_directly(reference_data):
    with pytest.raises(IntegrityError), transaction.atomic():
        # Tiananmen, far north of Nanyuan.
        Station.objects.create(
            name_zh="天安门驿站", name_en="Tiananmen", venue_type="bank",
            location=Point(116.3975, 39.9087, srid=4326),
        )


def test_station_radius_over_five_kilometres_is_refused(reference_data):
    with pytest.raises(IntegrityError), transaction.atomic():
        Station.objects.create(
            name_zh="大半径驿站", name_en="Big", venue_type="bank", coverage_radius_m=5001,
            location=Point(116.392, 39.797, srid=4326),
        )


def test_case_events_cannot_be_changed_once_written(reference_data):
    case = _case(Category.objects.order_by("code").first())
    event = case.events.create(action="created", to_stage="new", at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        type(event).objects.filter(pk=event.pk).update(note="rewritten")


# --- what clients send, in range (civicmap.bounds) ----------------------------------------------


def _report(**fields) -> Report:
    category = Category.objects.get(code="E0101")
    return Report.objects.create(
        location=Point(116.392, 39.797, srid=4326), sent_lon=116.392, sent_lat=39.797,
        category=category, received_at=timezone.now(), case=_case(category), channel="open311",
        subdistrict=_nanyuan(),
        **fields,
    )


def _raw_update(table: str, row_id: int, assignment: str, params: list) -> None:
    """UPDATE by SQL: values Python's datetime cannot even hold (year 0, year 10000)."""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {assignment} WHERE id = %s", [*params, row_id])


@pytest.mark.parametrize("captured_at", [
    "0001-01-01T00:00:00+14:00",  # year 1 BC in UTC: what the probe stored
    "9999-12-31T23:59:59-14:00",  # year 10000 in UTC
    "1999-12-31T09:59:59+00:00",  # a second before 2000-01-01 began anywhere
])
def test_a_capture_time_out_of_range_is_refused_by_the_database(reference_data, captured_at):
    report = _report()
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_update("issues_report", report.pk, "captured_at = %s::timestamptz", [captured_at])


def test_a_capture_time_past_a_day_after_receipt_is_refused(reference_data):
    report = _report()
    with pytest.raises(IntegrityError), transaction.atomic():
        Report.objects.filter(pk=report.pk).update(
            captured_at=report.received_at + timedelta(days=1, seconds=1))


def test_capture_times_at_the_edges_are_stored(reference_data):
    report = _report()
    _raw_update("issues_report", report.pk, "captured_at = %s::timestamptz",
                ["2000-01-01T00:00:00+14:00"])
    Report.objects.filter(pk=report.pk).update(
        captured_at=report.received_at + timedelta(days=1))
    assert Report.objects.get(pk=report.pk).captured_at == report.received_at + timedelta(days=1)


def test_a_report_accuracy_over_100_km_is_refused(reference_data):
    with pytest.raises(IntegrityError), transaction.atomic():
        _report(accuracy_m=100_000.5)


@pytest.mark.parametrize(("fields"), [
    {"response_deadline": 8785, "response_unit": "hours"},
    {"resolution_deadline": 251, "resolution_unit": "working_days"},
    {"merge_window_hours": 0},
    {"merge_window_hours": 8785},
])
def test_a_category_deadline_or_window_past_a_year_is_refused(reference_data, fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        Category.objects.filter(code="E0101").update(**fields)


def test_a_task_deadline_past_400_days_is_refused(reference_data):
    case, now = _case(Category.objects.get(code="E0101")), timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        Task.objects.create(case=case, assignee_kind="union", offered_at=now,
                            response_due=now + timedelta(hours=2),
                            resolution_due=now + timedelta(days=400, seconds=1))
    Task.objects.create(case=case, assignee_kind="union", offered_at=now,
                        response_due=now + timedelta(days=400),
                        resolution_due=now + timedelta(days=400))


@pytest.mark.parametrize("score", [0, 6])
def test_a_rating_outside_1_to_5_is_refused(reference_data, score):
    rider = get_user_model().objects.get(username="rider1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(case=_case(Category.objects.get(code="E0101")), rider=rider,
                              score=score, created_at=timezone.now())


def test_a_check_in_accuracy_over_100_km_is_refused(reference_data):
    station = Station.objects.order_by("pk").first()
    rider = get_user_model().objects.get(username="rider1")
    with pytest.raises(IntegrityError), transaction.atomic():
        CheckIn.objects.create(rider=rider, station=station, method="qr", at=timezone.now(),
                               hour_bucket=1, position=station.location, distance_m=0,
                               accuracy_m=100_001)


def test_a_confirmation_at_a_negative_distance_is_refused(reference_data):
    rider = get_user_model().objects.get(username="rider1")
    with pytest.raises(IntegrityError), transaction.atomic():
        CaseConfirmation.objects.create(case=_case(Category.objects.get(code="E0101")),
                                        rider=rider, distance_m=-1)


def test_text_with_a_nul_character_never_reaches_the_database(reference_data):
    """PostgreSQL text cannot hold NUL: psycopg2 refuses before sending (no CHECK needed)."""
    with pytest.raises(ValueError, match="NUL"), transaction.atomic():
        _report(description="a\x00b")
