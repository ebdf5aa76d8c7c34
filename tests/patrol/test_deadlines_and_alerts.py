"""Deadlines from the category (hours or working days on China's calendar), the remaining time in
the task list, and the overdue scan: one alert per deadline, however often or however many
workers run it.

Working-day answers are worked out by hand from patrol/data/cn_calendar.json (2026: National Day
and Mid-Autumn holidays 25-27 September and 1-7 October; make-up working days Sunday 20
September and Saturday 10 October) and the rule in patrol/workdays.py: on a working day the clock
starts at the dispatch time; on a day off at 09:00 of the next working day; the deadline is the
same clock time n working days later.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from patrol.models import Notification, Task
from patrol.services.alerts import tasks_overdue_scan
from tests.patrol.helpers import (
    API,
    HUAIFANG,
    act,
    case_in_stage,
    client_for,
    cst,
    join_all,
    live_task,
    report,
    run_in_threads,
    wait_for_lock_waiters,
)

db = pytest.mark.django_db

PEOPLE = json.loads((Path(settings.BASE_DIR) / "fixtures" / "demo_people.json")
                    .read_text(encoding="utf-8"))
# The office that hears of a Nanyuan case's overdue task: Nanyuan's (a user with no subdistrict
# in the file is Nanyuan's), not the neighbours' nor the district role (patrol.services.notify).
OFFICE_STAFF = {u["username"] for u in PEOPLE["users"] if u["role"] == "office_staff"
                and u.get("subdistrict", "110106005") == "110106005"}


def dispatch_at(code: str, at: datetime) -> Task:
    """A report an hour before ``at``, filed half an hour before, dispatched at ``at``."""
    case = report(code, community=HUAIFANG, at=at - timedelta(hours=1)).case
    act(case, "file", "office1", at=at - timedelta(minutes=30))
    act(case, "dispatch", "office1", at=at)
    return live_task(case)


# --- deadlines --------------------------------------------------------------------------------


DEADLINES = [
    # C0103 street lamp: response 1 working day, resolution 7 working days.
    # Wednesday 30 September 15:00 is the last working day before National Day: 1-7 October are
    # off, Thursday 8 October is the next working day, so the response is due Thu 8 Oct 15:00.
    # (Not 9 October: 8 October is an ordinary Thursday, in neither list of cn_calendar.json.)
    # Resolution: 8 (1), 9 (2), Sat 10 make-up (3), 12 (4), 13 (5), 14 (6), 15 (7) October.
    pytest.param("C0103", cst(2026, 9, 30, 15), cst(2026, 10, 8, 15), cst(2026, 10, 15, 15),
                 id="wednesday-before-national-day"),
    # Friday 18 September 15:00: Saturday 19 is off, Sunday 20 is a make-up working day, so the
    # response is due Sunday 20 September 15:00. Resolution: 20 (1), 21 (2), 22 (3), 23 (4),
    # 24 (5), then 25-27 are the Mid-Autumn holiday, 28 (6), 29 (7) September.
    pytest.param("C0103", cst(2026, 9, 18, 15), cst(2026, 9, 20, 15), cst(2026, 9, 29, 15),
                 id="friday-before-a-makeup-sunday"),
    # Saturday 3 October 11:00 is a holiday: the clock starts Thursday 8 October 09:00.
    # Response: 9 October 09:00. Resolution: 9 (1), Sat 10 (2), 12 (3), 13 (4), 14 (5), 15 (6),
    # 16 (7) October, 09:00.
    pytest.param("C0103", cst(2026, 10, 3, 11), cst(2026, 10, 9, 9), cst(2026, 10, 16, 9),
                 id="dispatched-on-a-holiday"),
    # E0104 illegal structure: 1 and 15 working days from Monday 9 March 10:00 (no holiday in
    # March or early April before Qingming on 4-6 April): response Tue 10 March; resolution 10,
    # 11, 12, 13, 16, 17, 18, 19, 20, 23, 24, 25, 26, 27, 30 March → Mon 30 March 10:00.
    pytest.param("E0104", cst(2026, 3, 9, 10), cst(2026, 3, 10, 10), cst(2026, 3, 30, 10),
                 id="fifteen-working-days"),
    # C0101 manhole cover, urgent: 2 and 24 hours, counted on the wall clock even on a holiday
    # night: 1 October 22:30 + 2 h = 2 October 00:30; + 24 h = 2 October 22:30.
    pytest.param("C0101", cst(2026, 10, 1, 22, 30), cst(2026, 10, 2, 0, 30),
                 cst(2026, 10, 2, 22, 30), id="hours-ignore-holidays"),
    # L0101 elderly person in difficulty: response 1 hour, resolution 24 hours.
    pytest.param("L0101", cst(2026, 2, 16, 8), cst(2026, 2, 16, 9), cst(2026, 2, 17, 8),
                 id="one-hour-during-spring-festival"),
]


@db
@pytest.mark.parametrize(("code", "at", "response_due", "resolution_due"), DEADLINES)
def test_deadlines_come_from_the_category_in_hours_or_working_days(
        reference_data, code, at, response_due, resolution_due):
    task = dispatch_at(code, at)
    assert task.offered_at == at
    assert task.response_due == response_due
    assert task.resolution_due == resolution_due


@db
def test_a_redispatch_starts_fresh_deadlines(reference_data):
    task = dispatch_at("C0103", cst(2026, 9, 18, 15))
    act(task.case_id, "redispatch", "office1", at=cst(2026, 9, 30, 15),
        department=task.department_id)
    fresh = live_task(task.case_id)
    assert fresh.pk != task.pk
    # The same answers as the first two rows of DEADLINES, from the new start.
    assert (fresh.response_due, fresh.resolution_due) == (cst(2026, 10, 8, 15),
                                                         cst(2026, 10, 15, 15))
    task.refresh_from_db()
    assert (task.status, task.response_due) == ("declined", cst(2026, 9, 20, 15))


def remaining_bounds(due: datetime, call) -> tuple[int, int, object]:
    """Call the API and return the window the server's ``remaining_seconds`` must fall in."""
    before = timezone.now()
    answer = call()
    after = timezone.now()
    # The server computed int((due - now).total_seconds()) for some now in [before, after].
    return int((due - after).total_seconds()) - 1, int((due - before).total_seconds()), answer


@db
def test_the_task_list_shows_the_time_left_to_the_deadline_that_applies(reference_data):
    liaison = client_for("liaison_municipal")
    # C0101 dispatched 30 minutes ago: 2 hours to respond, so about 90 minutes (5,400 s) left.
    task = dispatch_at("C0101", timezone.now() - timedelta(minutes=30))
    low, high, answer = remaining_bounds(task.response_due,
                                         lambda: liaison.get(f"{API}/tasks/"))
    [row] = answer.json()["tasks"]
    assert low <= row["remaining_seconds"] <= high
    assert 5_300 < row["remaining_seconds"] <= 5_400

    # Once accepted, the resolution deadline applies: 24 h from dispatch, 23.5 h (84,600 s) left.
    act(task.case_id, "accept", "liaison_municipal")
    low, high, answer = remaining_bounds(task.resolution_due,
                                         lambda: liaison.get(f"{API}/tasks/"))
    [row] = answer.json()["tasks"]
    assert low <= row["remaining_seconds"] <= high
    assert 84_500 < row["remaining_seconds"] <= 84_600


@db
def test_an_overdue_task_shows_negative_time_left(reference_data):
    # E0101 dispatched 10 days ago: its 1-working-day response deadline has passed.
    case = case_in_stage("dispatched", at=timezone.now() - timedelta(days=10))
    task = live_task(case)
    low, high, answer = remaining_bounds(task.response_due,
                                         lambda: client_for("hk_vol1").get(f"{API}/tasks/"))
    [row] = answer.json()["tasks"]
    assert row["remaining_seconds"] < 0
    assert low <= row["remaining_seconds"] <= high


# --- the overdue scan -------------------------------------------------------------------------


def overdue_history() -> dict[str, Task]:
    """Three E0101 tasks dispatched Monday 2 March 2026 09:59 (reported 09:57, dispatched two
    minutes later by ``case_in_stage``): one never accepted, one accepted late and being
    worked, one handed in."""
    t0 = cst(2026, 3, 2, 9, 57)
    offered = case_in_stage("dispatched", at=t0, point=0)
    working = case_in_stage("dispatched", at=t0, point=3)
    act(working, "accept", "hk_vol1", at=cst(2026, 3, 4, 9))
    handed_in = case_in_stage("handed_in", at=t0, point=6)
    tasks = {name: live_task(case) for name, case in
             [("offered", offered), ("working", working), ("handed_in", handed_in)]}
    return tasks


@db
def test_the_overdue_scan_raises_each_alert_once_and_the_resolution_alert_reaches_the_office(
        reference_data):
    tasks = overdue_history()
    offered, working, handed_in = tasks["offered"], tasks["working"], tasks["handed_in"]
    # Dispatch times: t0 + 2 min = 09:59 on Monday 2 March; response due Tue 3 March 09:59,
    # resolution due Wed 11 March 09:59.
    assert offered.response_due == cst(2026, 3, 3, 9, 59)
    assert offered.resolution_due == cst(2026, 3, 11, 9, 59)

    # Thursday 5 March: only the task still offered is past its response deadline (the other
    # two were accepted, late or not); nobody is past a resolution deadline yet.
    thursday = cst(2026, 3, 5, 10)
    assert tasks_overdue_scan(now=thursday) == {"response": 1, "resolution": 0}
    assert tasks_overdue_scan(now=thursday) == {"response": 0, "resolution": 0}
    response = Notification.objects.filter(kind="task_response_overdue")
    assert list(response.values_list("task", "recipient__username")) == [(offered.pk, "hk_lead")]

    # Thursday 12 March: the offered and the working task are past resolution; the handed-in one
    # is waiting for verification, not for the team, so it raises nothing.
    later = cst(2026, 3, 12, 10)
    assert tasks_overdue_scan(now=later) == {"response": 0, "resolution": 2}
    assert tasks_overdue_scan(now=later) == {"response": 0, "resolution": 0}
    assert tasks_overdue_scan(now=later + timedelta(days=3)) == {"response": 0, "resolution": 0}
    resolution = Notification.objects.filter(kind="task_resolution_overdue")
    assert sorted(resolution.values_list("task", "recipient__username")) == sorted(
        (task.pk, name) for task in (offered, working) for name in OFFICE_STAFF)
    assert response.count() == 1
    for task in (offered, working, handed_in):
        task.refresh_from_db()
    assert (offered.response_alerted_at, offered.resolution_alerted_at) == (thursday, later)
    assert (working.response_alerted_at, working.resolution_alerted_at) == (None, later)
    assert (handed_in.response_alerted_at, handed_in.resolution_alerted_at) == (None, None)
    # The alert is in each office user's feed once.
    for name in OFFICE_STAFF:
        assert Notification.objects.filter(recipient__username=name,
                                           kind="task_resolution_overdue").count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_workers_scanning_at_once_raise_each_alert_once(reference_data):
    tasks = overdue_history()
    offered, working = tasks["offered"], tasks["working"]
    now = cst(2026, 3, 12, 10)  # past every deadline above

    # Hold the rows of both overdue tasks, so that both workers have listed them and wait on
    # the same rows before either may claim one.
    with transaction.atomic():
        list(Task.objects.select_for_update().filter(pk__in=[offered.pk, working.pk]))
        threads, counts = run_in_threads(lambda: tasks_overdue_scan(now=now),
                                         lambda: tasks_overdue_scan(now=now))
        wait_for_lock_waiters(2)
    join_all(threads)

    for result in counts:
        assert isinstance(result, dict), result
    # One response alert (the offered task) and two resolution alerts (offered and working),
    # split between the workers in whatever way, but each raised once.
    assert sum(c["response"] for c in counts) == 1
    assert sum(c["resolution"] for c in counts) == 2
    assert Notification.objects.filter(kind="task_response_overdue").count() == 1
    assert sorted(Notification.objects.filter(kind="task_resolution_overdue")
                  .values_list("task", "recipient__username")) == sorted(
        (task.pk, name) for task in (offered, working) for name in OFFICE_STAFF)
