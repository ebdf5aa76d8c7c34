"""The photo outbox and the retention of originals (issues.services.photos): the pending row is
the job, the sweep finds what the broker lost, the job runs twice to the same result, stored
files are deleted only for a transaction that rolled back, originals expire and renditions stay.
The faults themselves (Redis, PostgreSQL, a worker killed) are in test_faults.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from issues.api.views import MSG_ORIGINAL_DELETED
from issues.models import ReportPhoto
from issues.photos import photo_inspect
from issues.services.photos import (
    photo_originals_expire,
    photo_renditions_attach,
    photo_renditions_queue,
    photo_store,
    photos_pending_queue,
    stored_photos_cleanup,
)
from tests.issues.faults import celery_broker
from tests.issues.helpers import body, client_for, jpeg, photo_url, post_report


def _photo(rider, **fields) -> ReportPhoto:
    answer = post_report(rider, **fields)
    assert answer.status_code == 201, answer.content
    return ReportPhoto.objects.get(report_id=body(answer)["id"])


def _stored_files(photo: ReportPhoto) -> list[str]:
    return [field.name for field in (photo.original, photo.display, photo.thumbnail) if field]


# --- stored_photos_cleanup: files go with a rollback only ------------------------------------


def test_files_stored_in_a_transaction_that_rolls_back_are_deleted(rider):
    upload = ContentFile(jpeg(), name="p.jpg")
    inspected = photo_inspect(upload=upload)
    with pytest.raises(RuntimeError), stored_photos_cleanup() as stored, transaction.atomic():
        photo = photo_store(upload=upload, inspected=inspected, stored=stored)
        assert default_storage.exists(photo.original.name)
        raise RuntimeError("after the photo, before the commit")
    assert not default_storage.exists(photo.original.name)
    assert not ReportPhoto.objects.filter(pk=photo.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_files_are_kept_when_the_error_comes_after_the_commit(reference_data, media_root):
    """What deleted committed originals in issue 14: a commit hook raising after the commit."""
    upload = ContentFile(jpeg(), name="p.jpg")
    inspected = photo_inspect(upload=upload)

    def hook_fails() -> None:
        raise ConnectionError("a commit hook failing, as the broker's did")

    with pytest.raises(ConnectionError), stored_photos_cleanup() as stored, transaction.atomic():
        photo = photo_store(upload=upload, inspected=inspected, stored=stored)
        transaction.on_commit(hook_fails)
    assert ReportPhoto.objects.filter(pk=photo.pk).exists()
    assert default_storage.exists(photo.original.name)


# --- the job: idempotent, counted, bounded ---------------------------------------------------


def test_the_job_run_twice_makes_the_renditions_once(rider):
    photo = _photo(rider)
    assert (photo.status, photo.attempts) == (ReportPhoto.Status.PENDING, 0)
    assert photo_renditions_attach(photo_id=photo.pk) == "ready"
    photo.refresh_from_db()
    first = (_stored_files(photo), photo.display.read(), photo.attempts)
    assert photo_renditions_attach(photo_id=photo.pk) == "skipped"
    photo.refresh_from_db()
    assert (_stored_files(photo), photo.display.read(), photo.attempts) == first
    assert first[2] == 1


def test_a_job_started_too_often_marks_its_photo_failed(rider, settings):
    settings.PHOTO_JOB_MAX_ATTEMPTS = 3
    photo = _photo(rider)
    ReportPhoto.objects.filter(pk=photo.pk).update(attempts=3)  # three runs that never ended
    assert photo_renditions_attach(photo_id=photo.pk) == "failed"
    photo.refresh_from_db()
    assert (photo.status, photo.display.name) == (ReportPhoto.Status.FAILED, "")


def test_a_missing_original_file_is_retried_not_failed(rider):
    """A file not (yet) there is a storage fault: the job raises and stays pending for the sweep."""
    photo = _photo(rider)
    default_storage.delete(photo.original.name)
    with pytest.raises(FileNotFoundError):
        photo_renditions_attach(photo_id=photo.pk)
    photo.refresh_from_db()
    assert (photo.status, photo.attempts) == (ReportPhoto.Status.PENDING, 1)


# --- the sweep -----------------------------------------------------------------------------


def test_the_sweep_queues_never_queued_jobs_after_the_grace_and_lost_ones_after_the_lease(
    rider, settings
):
    settings.PHOTO_QUEUE_GRACE_S, settings.PHOTO_QUEUE_LEASE_S = 10, 600
    never = _photo(rider)
    lost = _photo(rider, photos=[jpeg(colour=(1, 2, 3))])
    done = _photo(rider, photos=[jpeg(colour=(9, 9, 9))])
    now = timezone.now()
    # A test's transaction never commits, so no hook ran: as if the broker had refused
    # ``never`` (its hook clears the stamp) and taken ``lost`` now, then lost it.
    ReportPhoto.objects.filter(pk=never.pk).update(queued_at=None)
    ReportPhoto.objects.filter(pk=lost.pk).update(queued_at=now)
    assert photo_renditions_attach(photo_id=done.pk) == "ready"

    assert photos_pending_queue(now=now + timedelta(seconds=5)) == 0  # its hook may still run
    assert photos_pending_queue(now=now + timedelta(seconds=11)) == 1
    never.refresh_from_db()
    assert never.queued_at is not None
    assert photos_pending_queue(now=now + timedelta(seconds=30)) == 0  # queued: leased
    assert photos_pending_queue(now=now + timedelta(seconds=601)) == 2  # both lost: again
    stamped = done.queued_at
    done.refresh_from_db()
    assert done.queued_at == stamped  # a made photo is never queued again


def test_a_photo_is_written_noted_as_queued_and_its_hook_sends_no_second_statement(rider):
    """The commit hook's cost (issue 20): the row carries its queued time from the intake's
    own INSERT, so a broker that takes the job costs no UPDATE and no second commit."""
    before = timezone.now()
    photo = _photo(rider)
    assert photo.queued_at is not None and before <= photo.queued_at <= timezone.now()
    with CaptureQueriesContext(connection) as statements:
        assert photo_renditions_queue(photo_id=photo.pk, stamped=photo.queued_at)
    assert [query["sql"] for query in statements.captured_queries] == []


def test_a_refused_job_loses_only_its_own_stamp(rider):
    """The broker refuses: the hook clears the stamp it wrote, so the sweep takes the job after
    its grace time; a stamp the sweep wrote since is left alone."""
    photo = _photo(rider)
    with celery_broker("redis://127.0.0.1:1/0"):  # nothing listens there
        assert not photo_renditions_queue(photo_id=photo.pk,
                                          stamped=photo.queued_at - timedelta(seconds=1))
        assert ReportPhoto.objects.get(pk=photo.pk).queued_at == photo.queued_at
        assert not photo_renditions_queue(photo_id=photo.pk, stamped=photo.queued_at)
    assert ReportPhoto.objects.get(pk=photo.pk).queued_at is None


def test_beat_runs_the_sweep_and_retention(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"issues.tasks.photos_pending_queue_task",
            "issues.tasks.photo_originals_expire_task"} <= tasks


# --- retention of originals ----------------------------------------------------------------


def test_originals_older_than_the_retention_are_deleted_and_renditions_still_served(
    rider, settings
):
    settings.PHOTO_ORIGINAL_RETENTION_DAYS = 30
    old = _photo(rider)
    young = _photo(rider, photos=[jpeg(colour=(5, 200, 5))])
    for photo in (old, young):
        assert photo_renditions_attach(photo_id=photo.pk) == "ready"
    now = timezone.now()
    ReportPhoto.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=30, hours=1))
    ReportPhoto.objects.filter(pk=young.pk).update(created_at=now - timedelta(days=29, hours=23))
    old.refresh_from_db()
    original_name, display = old.original.name, old.display.read()

    assert photo_originals_expire(now=now) == 1
    assert photo_originals_expire(now=now) == 0
    old.refresh_from_db()
    assert not default_storage.exists(original_name)
    assert (old.original.name, old.original_deleted_at) == ("", now)
    young.refresh_from_db()
    assert young.original_deleted_at is None and default_storage.exists(young.original.name)

    office = client_for("office1")
    served = office.get(photo_url(old.pk, "display"))
    assert served.status_code == 200 and b"".join(served.streaming_content) == display
    assert office.get(photo_url(old.pk, "thumbnail")).status_code == 200
    gone = office.get(photo_url(old.pk, "original"), HTTP_ACCEPT_LANGUAGE="en")
    assert gone.status_code == 404
    with translation.override("en"):
        expected = str(MSG_ORIGINAL_DELETED)
    assert body(gone)["errors"] == [{"field": None, "code": "original_deleted",
                                     "message": expected}]
    assert office.get(photo_url(young.pk, "original")).status_code == 200


def test_a_pending_photo_whose_original_expired_fails_instead_of_looping(rider):
    photo = _photo(rider)
    ReportPhoto.objects.filter(pk=photo.pk).update(created_at=timezone.now() - timedelta(days=400))
    assert photo_originals_expire() == 1
    assert photo_renditions_attach(photo_id=photo.pk) == "failed"


def test_the_database_refuses_a_deleted_original_that_still_names_a_file(rider):
    photo = _photo(rider)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReportPhoto.objects.filter(pk=photo.pk).update(original_deleted_at=timezone.now())
