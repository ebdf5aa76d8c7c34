"""The migrations describe the models: nothing is left for makemigrations to write."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_no_model_change_is_missing_a_migration():
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out)
    except SystemExit:  # --check exits 1 when a migration is missing
        pytest.fail(f"models and migrations differ:\n{out.getvalue()}")


# --- the data migrations, each taken out and applied again ---------------------------------

# The migrations that repair or classify rows they find, oldest first.
DATA_MIGRATIONS = [("issues", "0014_client_times_in_range"),
                   ("patrol", "0007_client_times_in_range"),
                   ("stations", "0004_client_times_in_range"),
                   ("issues", "0016_report_media_outbox")]


def _data_migrations_run(*, forwards: bool) -> None:
    """Apply ``DATA_MIGRATIONS`` in order, or unapply them newest first, each alone with
    Django's own ``Migration.apply`` / ``unapply`` on the models of its day (the loader's
    state before it), inside the test's transaction (PostgreSQL's DDL is transactional, so the
    test rolls it all back). Deferred foreign-key checks are run first, as ALTER TABLE refuses
    a table with pending trigger events. One migration at a time, not ``migrate`` to a target:
    taking the database back to before issues 0014 unapplies and reapplies some 70 migrations,
    re-rendering their models each time (about 30 s of the suite's CPU)."""
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    loader = MigrationLoader(connection)
    for key in DATA_MIGRATIONS if forwards else reversed(DATA_MIGRATIONS):
        migration = loader.graph.nodes[key]
        before = loader.project_state(key, at_end=False)
        with connection.schema_editor() as editor:
            if forwards:
                migration.apply(before, editor)
            else:
                migration.unapply(before, editor)


def _sql(query: str, params: list | None = None) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall() if cursor.description else []


def _reports_of_one_case(names, *, now):
    """One Open311 report per name (their ids by name), all of one new E0101 case."""
    from django.contrib.gis.geos import Point

    from civicmap.models import Subdistrict
    from fixtures.seed import NANYUAN_CODE
    from issues.models import Case, Category, Report

    category = Category.objects.get(code="E0101")
    nanyuan = Subdistrict.objects.get(code=NANYUAN_CODE)
    case = Case.objects.create(category=category, location=Point(116.392, 39.797, srid=4326),
                               subdistrict=nanyuan, created_at=now, last_report_at=now,
                               updated_at=now)
    return case, {name: Report.objects.create(
        location=Point(116.392, 39.797, srid=4326), sent_lon=116.392, sent_lat=39.797,
        category=category, subdistrict=nanyuan, received_at=now, case=case,
        channel="open311").pk
        for name in names}


def test_data_migrations_repair_and_classify_the_rows_they_find(reference_data):
    """The data migrations, taken out and applied again on today's schema: rows out of range,
    written by SQL while no constraint holds them back, are repaired before the range
    constraints (issues 0014, patrol 0007, stations 0004), and media URLs written before the
    outbox get their job state (issues 0016)."""
    from django.utils import timezone

    now = timezone.now()
    bounds = _out_of_range_rows(now=now)
    _case, media = _reports_of_one_case(("with_photo", "without_photo", "no_url"), now=now)

    _data_migrations_run(forwards=False)
    _out_of_range_written(bounds)
    _media_urls_written(media)
    _data_migrations_run(forwards=True)

    _out_of_range_repaired(bounds)
    _media_urls_classified(media)


# --- the repair of rows out of range (issues 0014, patrol 0007, stations 0004) ------------------


def _out_of_range_rows(*, now) -> dict:
    """The rows the repair is tried on: a case's reports by name, a task, a check-in."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model

    from patrol.models import Task
    from stations.models import CheckIn, Station

    case, reports = _reports_of_one_case(
        ("year_1", "year_10000", "too_late", "edge", "fine", "vague"), now=now)
    task = Task.objects.create(case=case, assignee_kind="union", offered_at=now,
                               response_due=now + timedelta(hours=2),
                               resolution_due=now + timedelta(days=3))
    station = Station.objects.order_by("pk").first()
    checkin = CheckIn.objects.create(
        rider=get_user_model().objects.get(username="rider1"), station=station, method="qr",
        at=now, hour_bucket=1, position=station.location, distance_m=0, accuracy_m=10)
    return {"reports": reports, "task": task, "category": case.category, "checkin": checkin}


def _out_of_range_written(rows: dict) -> None:
    """Impossible values, by SQL, with the schema from before the constraints."""
    reports = rows["reports"]
    for name, value in [("year_1", "0001-01-01T00:00:00+14:00"),
                        ("year_10000", "9999-12-31T23:59:59-14:00"),
                        ("edge", "2000-01-01T00:00:00+14:00")]:
        _sql("UPDATE issues_report SET captured_at = %s::timestamptz WHERE id = %s",
             [value, reports[name]])
    _sql("UPDATE issues_report SET captured_at = received_at + interval '1 day 1 second' "
         "WHERE id = %s", [reports["too_late"]])
    _sql("UPDATE issues_report SET captured_at = received_at + interval '1 day', "
         "accuracy_m = 10 WHERE id = %s", [reports["fine"]])
    _sql("UPDATE issues_report SET accuracy_m = 1e9 WHERE id = %s", [reports["vague"]])
    _sql("UPDATE patrol_task SET response_due = '9999-12-31T23:59:59-14:00', "
         "resolution_due = offered_at + interval '5000 days' WHERE id = %s", [rows["task"].pk])
    _sql("UPDATE issues_category SET response_deadline = 9999, response_unit = 'hours', "
         "resolution_deadline = 9999, resolution_unit = 'working_days', "
         "merge_window_hours = 2000000000 WHERE id = %s", [rows["category"].pk])
    _sql("UPDATE stations_checkin SET accuracy_m = 'Infinity' WHERE id = %s",
         [rows["checkin"].pk])


def _out_of_range_repaired(rows: dict) -> None:
    """An impossible capture time or accuracy is NULL (unknown), a task's deadlines are 400
    days after its offer, a category's deadlines and window a year; rows inside the ranges are
    as they were, and the constraints hold."""
    from datetime import timedelta

    from django.utils import timezone

    from issues.models import Report

    reports = rows["reports"]
    captured = dict(_sql(
        "SELECT id, captured_at IS NULL FROM issues_report WHERE id = ANY(%s)",
        [list(reports.values())]))
    assert {name: captured[pk] for name, pk in reports.items()} == {
        "year_1": True, "year_10000": True, "too_late": True, "edge": False, "fine": False,
        "vague": True}
    assert Report.objects.get(pk=reports["edge"]).captured_at == timezone.datetime.fromisoformat(
        "2000-01-01T00:00:00+14:00")
    assert Report.objects.get(pk=reports["fine"]).accuracy_m == 10
    assert Report.objects.get(pk=reports["vague"]).accuracy_m is None
    task, category, checkin = rows["task"], rows["category"], rows["checkin"]
    task.refresh_from_db()
    assert task.response_due == task.resolution_due == task.offered_at + timedelta(days=400)
    category.refresh_from_db()
    assert (category.response_deadline, category.resolution_deadline,
            category.merge_window_hours) == (8784, 250, 8784)
    checkin.refresh_from_db()
    assert checkin.accuracy_m is None
    constraints = {name for (name,) in _sql(
        "SELECT conname FROM pg_constraint WHERE conname = ANY(%s)",
        [["report_captured_at_in_range", "task_deadlines_within_a_year",
          "checkin_accuracy_at_most_100_km", "category_deadlines_at_most_a_year"]])}
    assert len(constraints) == 4


# --- the media outbox's state of existing rows (issues 0016) ----------------------------------


def _media_urls_written(reports: dict[str, int]) -> None:
    """Before 0016 a media URL had no job state: two reports get one, one of them its photo."""
    _sql("UPDATE issues_report SET media_url = 'http://media.example/a.jpg' WHERE id = ANY(%s)",
         [[reports["with_photo"], reports["without_photo"]]])
    _sql("""INSERT INTO issues_reportphoto (report_id, original, display, thumbnail, sha256,
                image_format, width, height, status, position, created_at, attempts)
            VALUES (%s, 'private/originals/x', '', '', '', 'JPEG', 1, 1, 'ready', 0, now(), 1)""",
         [reports["with_photo"]])


def _media_urls_classified(reports: dict[str, int]) -> None:
    """One with its photo was fetched, one without is pending (the sweep fetches it), one
    without a URL has no job; then the constraint holds."""
    from django.db import IntegrityError, transaction

    from issues.models import Report, ReportPhoto

    states = dict(Report.objects.filter(pk__in=reports.values())
                  .values_list("pk", "media_status"))
    assert {name: states[pk] for name, pk in reports.items()} == {
        "with_photo": "fetched", "without_photo": "pending", "no_url": "none"}
    assert ReportPhoto.objects.filter(report_id=reports["with_photo"]).count() == 1
    for bad in ("none", "pending"):
        url = "http://media.example/b.jpg" if bad == "none" else ""
        with pytest.raises(IntegrityError), transaction.atomic():
            _sql("UPDATE issues_report SET media_url = %s, media_status = %s WHERE id = %s",
                 [url, bad, reports["no_url"]])
