"""The team's task list: pages by deadline and by distance, refused page sizes, and the
sections (new, in progress, overdue) with their counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection

from tests.patrol.helpers import API, HUAIFANG, case_in_stage, client_for, community_points

pytestmark = pytest.mark.django_db


@pytest.fixture
def four_tasks(reference_data) -> list[int]:
    """Four dispatched housekeeping cases (E0101, 南苑管家) at four points of one community."""
    return [case_in_stage("dispatched", category="E0101", community=HUAIFANG, point=i).pk
            for i in range(4)]


def _metres_to_case(case_id: int, lon: float, lat: float) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT ST_Distance(location, ST_SetSRID(ST_MakePoint(%s, %s), 4326)"
                       "::geography) FROM issues_case WHERE id = %s", [lon, lat, case_id])
        return cursor.fetchone()[0]


def test_pages_nearest_first_follow_each_other_and_show_true_metres(four_tasks):
    # Off the lattice of the cases, so that no two lie at the same distance: pages are cut by
    # the distance on the sphere, rows sorted by the spheroid's (a near-tie may differ).
    lon, lat = community_points(HUAIFANG)[2]
    lon, lat = lon + 0.00031, lat + 0.00017
    volunteer = client_for("hk_vol1")
    pages = [volunteer.get(f"{API}/tasks/", {"lon": lon, "lat": lat, "limit": 2,
                                             "offset": offset}).json()["tasks"]
             for offset in (0, 2)]
    rows = pages[0] + pages[1]
    assert [len(page) for page in pages] == [2, 2]
    assert sorted(row["case"] for row in rows) == sorted(four_tasks)
    expected = sorted(four_tasks, key=lambda case: _metres_to_case(case, lon, lat))
    assert [row["case"] for row in rows] == expected
    for row in rows:
        assert row["distance_m"] == pytest.approx(_metres_to_case(row["case"], lon, lat),
                                                  abs=0.1)
    assert rows[0]["distance_m"] < 50  # the case next to the point comes first


def test_pages_by_deadline_follow_each_other(four_tasks):
    volunteer = client_for("hk_vol1")
    whole = volunteer.get(f"{API}/tasks/").json()["tasks"]
    first = volunteer.get(f"{API}/tasks/", {"limit": 3}).json()["tasks"]
    rest = volunteer.get(f"{API}/tasks/", {"limit": 3, "offset": 3}).json()["tasks"]
    assert [t["id"] for t in first + rest] == [t["id"] for t in whole]
    assert len(whole) == 4
    dues = [t["resolution_due"] for t in whole]
    assert dues == sorted(dues)


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 301}, {"offset": -1},
                                    {"limit": "many"}])
def test_a_bad_page_is_refused_naming_the_field(four_tasks, params):
    answer = client_for("hk_vol1").get(f"{API}/tasks/", params)
    assert answer.status_code == 400
    assert [error["field"] for error in answer.json()["errors"]] == list(params)


def test_a_task_keeps_its_cases_location_when_the_case_moves(four_tasks):
    """The task's copy of its case's location (database triggers) is set when the task is
    written and follows the case when a report joins it, as nearest-first lists read it."""
    from issues.models import Case
    from issues.services.intake import OPEN311_CHANNEL, ReportInput, report_create
    from patrol.models import Task
    from tests.issues.helpers import project

    case = Case.objects.get(pk=four_tasks[0])
    task = Task.objects.get(case=case)

    def apart_m() -> float:
        with connection.cursor() as cursor:
            cursor.execute("SELECT ST_Distance(t.location, c.location) FROM patrol_task t "
                           "JOIN issues_case c ON c.id = t.case_id WHERE t.id = %s", [task.pk])
            return cursor.fetchone()[0]

    assert apart_m() == 0
    origin = community_points(HUAIFANG)[0]
    before = _metres_to_case(case.pk, *origin)
    lon, lat = project(origin, metres=20, azimuth_deg=90)
    joined = report_create(channel=OPEN311_CHANNEL, data=ReportInput(
        category_code="E0101", lon=lon, lat=lat)).report
    assert joined.case_id == case.pk
    assert _metres_to_case(case.pk, *origin) > before + 5  # the case moved
    assert apart_m() == 0


def test_tasks_at_one_spot_page_nearest_first_without_repeating_one(four_tasks):
    """Four cases moved to one point: their tasks tie on distance, and pages of one neither
    repeat nor skip a task."""
    from issues.models import Case
    from patrol.models import Task

    spot = Case.objects.get(pk=four_tasks[0]).location
    Case.objects.filter(pk__in=four_tasks).update(location=spot)  # the tasks' copies follow
    lon, lat = spot.x + 0.001, spot.y
    volunteer = client_for("hk_vol1")
    paged = [task["id"] for offset in range(4)
             for task in volunteer.get(f"{API}/tasks/", {"lon": lon, "lat": lat, "limit": 1,
                                                         "offset": offset}).json()["tasks"]]
    assert sorted(paged) == sorted(Task.objects.filter(case__in=four_tasks)
                                   .values_list("pk", flat=True))


def test_sections_split_the_live_tasks_with_counts_and_their_own_orders(reference_data):
    """New (offered, in time) newest first; overdue most recently due first, so a task 86
    days overdue sinks below one a day overdue; in progress by deadline; each counted."""
    from django.utils import timezone

    from patrol.models import Task

    now = timezone.now()
    older_new, stale, late, working, newer_new = [
        case_in_stage(stage, category="E0101", community=HUAIFANG, point=i).pk
        for i, stage in enumerate(["dispatched", "dispatched", "in_progress", "in_progress",
                                   "dispatched"])]
    Task.objects.filter(case=older_new).update(offered_at=now - timedelta(hours=2))
    Task.objects.filter(case=newer_new).update(offered_at=now - timedelta(hours=1))
    Task.objects.filter(case=stale).update(offered_at=now - timedelta(days=87),
                                           response_due=now - timedelta(days=86))
    Task.objects.filter(case=late).update(offered_at=now - timedelta(days=10),
                                          response_due=now - timedelta(days=9),
                                          resolution_due=now - timedelta(days=1))
    volunteer = client_for("hk_vol1")
    cases = {}
    for section in ("new", "in_progress", "overdue"):
        body = volunteer.get(f"{API}/tasks/", {"section": section}).json()
        assert body["counts"] == {"new": 2, "in_progress": 1, "overdue": 2}
        cases[section] = [task["case"] for task in body["tasks"]]
    assert cases == {"new": [newer_new, older_new], "in_progress": [working],
                     "overdue": [late, stale]}
    assert volunteer.get(f"{API}/tasks/", {"section": "later"}).json()["errors"][0][
        "field"] == "section"


def test_one_task_is_its_row_of_the_list_live_or_closed_and_nobody_elses(reference_data):
    """The team page opens a message's task beyond the section it shows; another team's task
    (or another subdistrict's, or none) is a 404 alike, never a 403 that would say it exists."""
    from patrol.models import Task

    closed = Task.objects.get(case=case_in_stage("closed", category="E0101",
                                                 community=HUAIFANG, point=0))
    live = Task.objects.get(case=case_in_stage("dispatched", category="E0101",
                                               community=HUAIFANG, point=1))
    volunteer = client_for("hk_vol1")
    rows = {row["id"]: row for row in volunteer.get(
        f"{API}/tasks/", {"include_closed": "true"}).json()["tasks"]}

    for task in (closed, live):
        answer = volunteer.get(f"{API}/tasks/{task.pk}/")
        assert answer.status_code == 200
        row, listed = answer.json(), rows[task.pk]
        # Counted from now at each answer: the two may straddle a second.
        assert row.pop("remaining_seconds") == pytest.approx(listed.pop("remaining_seconds"),
                                                             abs=5)
        assert row == listed
    assert client_for("hk_lead").get(f"{API}/tasks/{live.pk}/").json()["case"] == live.case_id
    assert client_for("office1").get(f"{API}/tasks/{live.pk}/").status_code == 200
    unknown = max(closed.pk, live.pk) + 1000
    for username, task_id in (("cw_vol1", live.pk), ("rider1", live.pk),
                              ("office_heyi1", live.pk), ("liaison_municipal", closed.pk),
                              ("hk_vol1", unknown)):
        refused = client_for(username).get(f"{API}/tasks/{task_id}/")
        assert refused.status_code == 404, username
        assert [error["code"] for error in refused.json()["errors"]] == ["not_found"]
    assert client_for(None).get(f"{API}/tasks/{live.pk}/").status_code == 401
