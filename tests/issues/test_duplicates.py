"""Duplicate merging at intake: which open case a report joins, and when it opens a new one.

Offsets are geodesic metres from PostGIS ``ST_Project``; the merge rule measures planar metres in
EPSG:4548, which differ by about 3e-5 (under 1 mm at these distances), so the margins below are
wide on purpose: 20 vs 50 m, 80 vs 50 m, 120 and 170 vs 150 m.
"""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import psycopg2
import pytest
from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.db import connection
from django.utils import timezone

from civicmap.models import WGS84
from civicmap.spatial import CELL_SIZE_M, METRIC_SRID
from issues.models import Case, CaseEvent, Category, Report
from issues.services.intake import ChannelRules, ReportInput, report_create
from tests.issues.helpers import (
    CHENGYUAN,
    HUAIFANG,
    body,
    post_report_at,
    project,
    row_distance_m,
    row_lon_lat,
)
from tests.patrol.helpers import wait_for_lock_waiters

pytestmark = pytest.mark.django_db


def _case_of(response) -> Case:
    assert response.status_code == 201, response.content
    return Case.objects.get(pk=body(response)["properties"]["case"])


def _backdate_case(case_id: int, *, hours: float) -> None:
    """Move the case's creation and last report ``hours`` into the past (a raw UPDATE, as the
    constraint wants last_report_at >= created_at)."""
    # UPDATE issues_case SET created_at = now() - interval, last_report_at = ... WHERE id = ...
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE issues_case
                  SET created_at = now() - make_interval(secs => %s),
                      last_report_at = now() - make_interval(secs => %s)
                WHERE id = %s""",
            [hours * 3600, hours * 3600, case_id],
        )


def test_report_20_m_away_joins_the_case_which_moves_to_the_centroid(rider, rider2):
    second_point = project(HUAIFANG, metres=20, azimuth_deg=60)
    first = post_report_at(rider, HUAIFANG)
    case = _case_of(first)

    second = post_report_at(rider2, second_point)

    assert second.status_code == 201
    assert body(second)["properties"]["case"] == case.pk
    assert body(second)["properties"]["joined_existing_case"] is True
    assert Report.objects.get(pk=body(second)["id"]).joined_existing_case is True
    assert Case.objects.count() == 1
    case.refresh_from_db()
    assert (case.report_count, case.reporter_count) == (2, 2)
    # The centroid of two points is their mean lon/lat.
    centroid = ((HUAIFANG[0] + second_point[0]) / 2, (HUAIFANG[1] + second_point[1]) / 2)
    assert row_distance_m("issues_case", case.pk, centroid) < 0.01
    # ... which is about 10 m from each report, not where the first one was.
    assert row_distance_m("issues_case", case.pk, HUAIFANG) == pytest.approx(10, abs=0.1)
    assert CaseEvent.objects.filter(case=case, action="report_merged").count() == 1


def test_case_location_is_the_centroid_of_all_its_reports(rider, rider2, rider3):
    points = [HUAIFANG, project(HUAIFANG, metres=30, azimuth_deg=0),
              project(HUAIFANG, metres=30, azimuth_deg=90)]
    responses = [post_report_at(client, point)
                 for client, point in zip((rider, rider2, rider3), points, strict=True)]

    case_ids = {body(response)["properties"]["case"] for response in responses}
    assert len(case_ids) == 1
    case = Case.objects.get(pk=case_ids.pop())
    stored = [row_lon_lat("issues_report", body(response)["id"]) for response in responses]
    centroid = (sum(p[0] for p in stored) / 3, sum(p[1] for p in stored) / 3)
    assert row_distance_m("issues_case", case.pk, centroid) < 0.01
    assert (case.report_count, case.reporter_count) == (3, 3)


def test_reporter_count_counts_distinct_riders(rider, rider2):
    case = _case_of(post_report_at(rider, HUAIFANG))
    post_report_at(rider, project(HUAIFANG, metres=10, azimuth_deg=0))  # the same rider again
    post_report_at(rider2, project(HUAIFANG, metres=10, azimuth_deg=180))

    case.refresh_from_db()
    assert case.report_count == 3
    assert case.reporter_count == 2


def test_report_80_m_away_opens_a_new_case_when_the_radius_is_50_m(rider, rider2):
    assert Category.objects.get(code="C0103").merge_radius_m == 50
    first_case = _case_of(post_report_at(rider, HUAIFANG))

    second = post_report_at(rider2, project(HUAIFANG, metres=80, azimuth_deg=200))

    second_case = _case_of(second)
    assert second_case.pk != first_case.pk
    assert body(second)["properties"]["joined_existing_case"] is False
    first_case.refresh_from_db()
    assert first_case.report_count == 1
    assert row_distance_m("issues_case", first_case.pk, HUAIFANG) < 0.001  # did not move


@pytest.mark.parametrize(("metres", "joins"), [(49.9, True), (50.1, False)])
def test_the_radius_is_exact_to_a_decimetre(rider, rider2, metres, joins):
    """The lookup measures planar metres on the stored EPSG:4548 point, the rule itself: 10 cm
    either side of the 50 m radius decides (geodesic and planar metres differ by ~1.5 mm
    here)."""
    first_case = _case_of(post_report_at(rider, HUAIFANG))

    second = post_report_at(rider2, project(HUAIFANG, metres=metres, azimuth_deg=135))

    assert (_case_of(second).pk == first_case.pk) is joins
    assert body(second)["properties"]["joined_existing_case"] is joins


@pytest.mark.parametrize("azimuth_deg", range(0, 360, 45))
def test_a_report_just_inside_the_radius_joins_in_every_direction(rider, rider2, azimuth_deg):
    """The lookup reads the 100 m cells around the point (Case.merge_cell): 49.5 m away in any
    direction, often in a neighbouring cell, is still found."""
    first_case = _case_of(post_report_at(rider, HUAIFANG))

    second = post_report_at(rider2, project(HUAIFANG, metres=49.5, azimuth_deg=azimuth_deg))

    assert _case_of(second).pk == first_case.pk


def test_merge_cell_is_the_100_m_cell_of_the_case_location_in_epsg_4548(rider):
    case = _case_of(post_report_at(rider, HUAIFANG))
    metric = Point(*row_lon_lat("issues_case", case.pk), srid=WGS84).transform(
        METRIC_SRID, clone=True)

    case.refresh_from_db()
    assert case.merge_cell == (int(metric.x // CELL_SIZE_M) << 32) | int(metric.y // CELL_SIZE_M)


def test_report_of_another_category_at_the_same_spot_opens_a_new_case(rider, rider2):
    first_case = _case_of(post_report_at(rider, HUAIFANG, category="C0103"))

    second_case = _case_of(post_report_at(rider2, HUAIFANG, category="C0101"))

    assert second_case.pk != first_case.pk
    assert second_case.category.code == "C0101"


def test_report_of_a_declared_equivalent_category_joins_the_case(rider, rider2):
    # 垃圾桶满溢 (E0102) is declared equivalent to 暴露垃圾 (E0101) in fixtures/categories.json.
    assert Category.objects.get(code="E0102").equivalents.filter(code="E0101").exists()
    first_case = _case_of(post_report_at(rider, CHENGYUAN, category="E0101"))

    second = post_report_at(rider2, project(CHENGYUAN, metres=30, azimuth_deg=10),
                            category="E0102")

    assert _case_of(second).pk == first_case.pk
    assert body(second)["properties"]["joined_existing_case"] is True
    first_case.refresh_from_db()
    assert first_case.report_count == 2


def test_report_after_the_window_opens_a_new_case(rider, rider2):
    # C0103's window is 72 h: a case last reported 73 h ago is not joined.
    assert Category.objects.get(code="C0103").merge_window_hours == 72
    old_case = _case_of(post_report_at(rider, HUAIFANG))
    _backdate_case(old_case.pk, hours=73)

    new_case = _case_of(post_report_at(rider2, project(HUAIFANG, metres=5, azimuth_deg=0)))

    assert new_case.pk != old_case.pk
    old_case.refresh_from_db()
    assert old_case.report_count == 1


def test_report_inside_the_window_still_joins(rider, rider2):
    old_case = _case_of(post_report_at(rider, HUAIFANG))
    _backdate_case(old_case.pk, hours=71)

    response = post_report_at(rider2, project(HUAIFANG, metres=5, azimuth_deg=0))

    assert _case_of(response).pk == old_case.pk
    old_case.refresh_from_db()
    assert timezone.now() - old_case.last_report_at < timedelta(minutes=1)  # refreshed


def test_closed_case_is_not_joined_and_the_new_case_follows_it(rider, rider2):
    closed = _case_of(post_report_at(rider, HUAIFANG))
    Case.objects.filter(pk=closed.pk).update(stage="closed", closed_at=timezone.now())

    response = post_report_at(rider2, project(HUAIFANG, metres=10, azimuth_deg=300))

    new_case = _case_of(response)
    assert new_case.pk != closed.pk
    assert new_case.follows_id == closed.pk
    assert new_case.stage == "new"
    assert body(response)["properties"]["joined_existing_case"] is False
    closed.refresh_from_db()
    assert (closed.stage, closed.report_count) == ("closed", 1)


@pytest.mark.django_db(transaction=True)
def test_a_case_closed_while_the_lookup_waits_for_it_gives_way_to_the_next_open_case(
        rider, rider2, rider3):
    """The office closes the nearest open case while a report waits for its row lock: the
    report joins the next open case in the radius rather than following the one just closed."""
    nearest = _case_of(post_report_at(rider, HUAIFANG))
    other = _case_of(post_report_at(rider2, CHENGYUAN))
    Case.objects.filter(pk=other.pk).update(  # 35 m from the nearest, 45 m from the report
        location=Point(*project(HUAIFANG, metres=35, azimuth_deg=180), srid=WGS84))
    settings = connection.settings_dict
    office = psycopg2.connect(dbname=settings["NAME"], user=settings["USER"],
                              host=settings["HOST"] or "127.0.0.1", port=settings["PORT"] or 5432)
    with office.cursor() as cursor:  # the office's transaction holds the nearest case
        cursor.execute("SELECT id FROM issues_case WHERE id = %s FOR UPDATE", [nearest.pk])

    def office_closes() -> None:
        try:
            wait_for_lock_waiters(1)  # the report waits for the row
        finally:
            connection.close()  # this thread's own
        with office.cursor() as cursor:
            cursor.execute("UPDATE issues_case SET stage = 'closed', closed_at = now() "
                           "WHERE id = %s", [nearest.pk])
        office.commit()

    closing = threading.Thread(target=office_closes)
    closing.start()
    try:
        response = post_report_at(rider3, project(HUAIFANG, metres=10, azimuth_deg=0))
    finally:
        closing.join()
        office.close()

    assert _case_of(response).pk == other.pk
    assert body(response)["properties"]["joined_existing_case"] is True


def test_a_report_timed_just_before_the_case_was_opened_still_joins_it(rider, rider2):
    """Two riders at once: each intake takes its time before the merge lock, so the one that
    waited may carry an earlier time than the case the other just opened. It joins; the case's
    last report time does not go back (nor below its creation: a database constraint)."""
    case = _case_of(post_report_at(rider, HUAIFANG))
    earlier = case.created_at - timedelta(milliseconds=5)
    second = report_create(
        channel=ChannelRules(Report.Channel.APP, requires_client_uuid=True,
                             requires_photos=False, max_description=2000),
        reporter=User.objects.get(username="rider2"), received_at=earlier,
        data=ReportInput(category_code="C0103", lon=HUAIFANG[0], lat=HUAIFANG[1],
                         client_uuid=uuid.uuid4()))

    assert second.report.case_id == case.pk
    case.refresh_from_db()
    assert case.report_count == 2
    assert case.last_report_at == case.created_at


def test_evaluated_case_is_not_joined_either(rider, rider2):
    evaluated = _case_of(post_report_at(rider, HUAIFANG))
    Case.objects.filter(pk=evaluated.pk).update(stage="evaluated", closed_at=timezone.now())

    new_case = _case_of(post_report_at(rider2, HUAIFANG))

    assert new_case.pk != evaluated.pk
    assert new_case.follows_id == evaluated.pk


def test_open_case_is_joined_in_preference_to_a_closed_one_nearby(rider, rider2, rider3):
    closed = _case_of(post_report_at(rider, HUAIFANG))
    Case.objects.filter(pk=closed.pk).update(stage="closed", closed_at=timezone.now())
    reopened = _case_of(post_report_at(rider2, HUAIFANG))  # follows the closed one

    third = post_report_at(rider3, project(HUAIFANG, metres=15, azimuth_deg=90))

    assert _case_of(third).pk == reopened.pk


def test_category_with_a_larger_radius_merges_at_that_radius(rider, rider2):
    # 暴露垃圾 (E0101) merges within 150 m (fixtures/categories.json).
    assert Category.objects.get(code="E0101").merge_radius_m == 150
    case = _case_of(post_report_at(rider, CHENGYUAN, category="E0101"))

    joined = post_report_at(rider2, project(CHENGYUAN, metres=120, azimuth_deg=135),
                            category="E0101")

    assert _case_of(joined).pk == case.pk


def test_category_with_a_larger_radius_opens_a_new_case_beyond_it(rider, rider2):
    case = _case_of(post_report_at(rider, CHENGYUAN, category="E0101"))

    beyond = post_report_at(rider2, project(CHENGYUAN, metres=170, azimuth_deg=135),
                            category="E0101")

    assert _case_of(beyond).pk != case.pk


def test_report_joins_the_nearest_of_two_open_cases_in_range(rider, rider2, rider3):
    west = _case_of(post_report_at(rider, HUAIFANG))
    east_point = project(HUAIFANG, metres=60, azimuth_deg=90)
    east = _case_of(post_report_at(rider2, east_point))
    assert east.pk != west.pk

    # 40 m east of HUAIFANG: 40 m from the west case, 20 m from the east one.
    response = post_report_at(rider3, project(HUAIFANG, metres=40, azimuth_deg=90))

    assert _case_of(response).pk == east.pk


@pytest.mark.parametrize("stage", ["filed", "dispatched", "in_progress", "handed_in"])
def test_case_in_any_open_stage_is_joined(rider, rider2, stage):
    case = _case_of(post_report_at(rider, HUAIFANG))
    Case.objects.filter(pk=case.pk).update(stage=stage)

    response = post_report_at(rider2, project(HUAIFANG, metres=10, azimuth_deg=45))

    assert _case_of(response).pk == case.pk
    assert body(response)["properties"]["status"] == stage


def test_cancelled_case_is_not_joined(rider, rider2):
    cancelled = _case_of(post_report_at(rider, HUAIFANG))
    Case.objects.filter(pk=cancelled.pk).update(stage="cancelled")

    new_case = _case_of(post_report_at(rider2, HUAIFANG))

    assert new_case.pk != cancelled.pk
    assert new_case.stage == "new"


def test_joining_keeps_the_same_location_and_counts_as_a_recount(rider, rider2, rider3):
    """Intake moves a joined case by a running mean (one UPDATE, however many reports the case
    has); after many joins it must equal the recount that merge and split use."""
    from issues.services.cases import case_summary_recount

    clients = (rider, rider2, rider3, rider)  # a rider reporting twice counts once
    case = _case_of(post_report_at(rider, HUAIFANG))
    for number in range(11):
        point = project(HUAIFANG, metres=3 + 3.7 * number, azimuth_deg=47 * number)
        assert body(post_report_at(clients[number % 4], point))["properties"]["case"] == case.pk
    case.refresh_from_db()
    incremental = (row_lon_lat("issues_case", case.pk), case.report_count, case.reporter_count)

    case_summary_recount(case=case, last_report=case.reports.latest("received_at"))

    recounted = row_lon_lat("issues_case", case.pk)
    assert incremental[1:] == (case.report_count, case.reporter_count) == (12, 3)
    assert row_distance_m("issues_case", case.pk, incremental[0]) < 0.001
    assert recounted != HUAIFANG
