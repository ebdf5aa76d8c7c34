"""The database refuses rows that break the model's invariants, whatever path writes them."""

from __future__ import annotations

import pytest
from django.contrib.gis.geos import Point
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from issues.models import Case, Category, CategoryGroup, Report
from stations.models import Station

pytestmark = pytest.mark.django_db


def _case(category: Category) -> Case:
    now = timezone.now()
    return Case.objects.create(
        category=category, location=Point(116.392, 39.797, srid=4326),
        created_at=now, last_report_at=now, updated_at=now,
    )


def test_report_without_a_point_is_refused(reference_data):
    category = Category.objects.get(code=Category.objects.order_by("code").first().code)
    case = _case(category)
    with pytest.raises(IntegrityError), transaction.atomic():
        Report.objects.create(
            location=None, sent_lon=116.392, sent_lat=39.797, category=category,
            received_at=timezone.now(), case=case, channel="open311",
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
