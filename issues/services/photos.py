"""Storing photos and making their renditions, so that no photo is lost to a fault.

Files live in Django's storage (local disk in development, S3-compatible in a deployment);
originals are private, renditions (display copy, thumbnail) are clean copies.

The renditions job is an outbox (issues.services.outbox; docs/SECURITY.md, "Fault behaviour"):
the pending ReportPhoto row, written in the uploader's transaction, *is* the job. After the
commit it is handed to Celery at once, best effort (``photo_renditions_queue`` never raises:
Redis may be down); a periodic sweep (``photos_pending_queue``, Celery beat) hands over every
pending row that was never queued or whose job was queued long ago and never ran (lost with the
broker, or its worker died). The job (``photo_renditions_attach``) is idempotent, so a job
handed over twice costs a no-op.

A database rollback does not remove files, so writers wrap their transaction in
``stored_photos_cleanup``: when it fails, the files stored inside it are deleted, but only those
that no committed row refers to. An error after the commit (in a commit hook) deletes nothing.

Retention: ``photo_originals_expire`` deletes originals (with their EXIF) after
PHOTO_ORIGINAL_RETENTION_DAYS; the renditions stay.
"""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from civicmap.db import row_insert
from issues.models import Report, ReportPhoto
from issues.photos import InspectedPhoto, photo_renditions_make
from issues.services.outbox import outbox_job_queue, outbox_pending_queue

logger = logging.getLogger(__name__)

# By name: issues.tasks calls this module, so this module does not import it.
PHOTO_RENDITIONS_TASK = "issues.tasks.photo_renditions_make_task"


@contextmanager
def stored_photos_cleanup() -> Iterator[list[ReportPhoto]]:
    """Yield a list to put stored photos in; if the block fails, delete the files that the
    database does not hold (their transaction rolled back).

    Used as ``with stored_photos_cleanup() as stored, transaction.atomic():``, the exception may
    also come after the commit (a commit hook): the rows are then in the database and the files
    are kept. When the database cannot be asked (it is down), the files are kept too: an orphan
    file is a smaller harm than a committed photo without its original.
    """
    stored: list[ReportPhoto] = []
    try:
        yield stored
    except BaseException:
        _uncommitted_files_delete(stored)
        raise


def photo_store(*, upload: IO[bytes], inspected: InspectedPhoto, stored: list[ReportPhoto],
                report: Report | None = None, position: int = 0) -> ReportPhoto:
    """Save the original privately and write its renditions job (the pending row, noted as
    queued) in the caller's transaction; the job is handed to Celery after the commit, best
    effort."""
    upload.seek(0)
    photo = ReportPhoto(
        report=report, sha256=inspected.sha256, image_format=inspected.image_format,
        width=inspected.width, height=inspected.height, position=position,
        queued_at=timezone.now(),
    )
    photo.original.save("original", File(upload), save=False)
    stored.append(photo)
    row_insert(instance=photo)
    transaction.on_commit(partial(photo_renditions_queue, photo_id=photo.pk,
                                  stamped=photo.queued_at))
    return photo


def photo_renditions_queue(*, photo_id: int, stamped: datetime | None = None) -> bool:
    """Hand one photo's job to Celery and note when (``stamped``: noted already, with the row);
    False (logged) if the broker refused. Never raises: it runs after the commit, inside the
    uploader's request."""
    return outbox_job_queue(task_name=PHOTO_RENDITIONS_TASK, rows=ReportPhoto.objects.all(),
                            pk=photo_id, queued_field="queued_at", stamped=stamped)


def photos_pending_queue(*, now: datetime | None = None) -> int:
    """The sweep: hand to Celery every pending photo never queued and older than
    PHOTO_QUEUE_GRACE_S (its commit hook had its chance), or queued more than PHOTO_QUEUE_LEASE_S
    ago and still pending (the job was lost with the broker, or its worker died). Returns how
    many were queued; stops at the first broker failure (the next run tries again)."""
    return outbox_pending_queue(
        task_name=PHOTO_RENDITIONS_TASK,
        pending=ReportPhoto.objects.filter(status=ReportPhoto.Status.PENDING),
        created_field="created_at", queued_field="queued_at",
        grace_s=settings.PHOTO_QUEUE_GRACE_S, lease_s=settings.PHOTO_QUEUE_LEASE_S,
        now=now or timezone.now(),
    )


def photo_renditions_attach(*, photo_id: int) -> str:
    """The renditions job: make the clean display copy and thumbnail of one pending photo.

    Idempotent: a photo no longer pending is ``skipped``; two runs at once make the same bytes
    and only the first to lock the row attaches them. Returns ``ready``, ``skipped`` or
    ``failed`` (the original does not decode, retention deleted it, or the job was started more
    than PHOTO_JOB_MAX_ATTEMPTS times: a photo that kills its worker, or whose file stays
    missing, must not be redelivered forever).
    A storage or database error propagates: the job stays pending and the sweep queues it again.
    """
    # Noted in its own commit before the work, so a worker killed mid-job still counts it.
    started = ReportPhoto.objects.filter(pk=photo_id, status=ReportPhoto.Status.PENDING).update(
        attempts=F("attempts") + 1)
    if not started:
        return "skipped"
    photo = ReportPhoto.objects.get(pk=photo_id)
    if photo.attempts > settings.PHOTO_JOB_MAX_ATTEMPTS:
        logger.error("Photo %s: started %s times, given up", photo_id, photo.attempts - 1)
        return _photo_failed(photo_id)
    if not photo.original:
        logger.error("Photo %s: its original is gone", photo_id)
        return _photo_failed(photo_id)
    # A storage error, a missing file included (a mount not there yet, a worker pointed at the
    # wrong storage), propagates: the sweep tries again, up to PHOTO_JOB_MAX_ATTEMPTS.
    with photo.original.open("rb") as original:
        data = original.read()
    try:
        display, thumbnail = photo_renditions_make(original=io.BytesIO(data))
    except Exception:
        logger.exception("Photo %s could not be processed", photo_id)
        return _photo_failed(photo_id)
    name = uuid.uuid4().hex
    with stored_photos_cleanup() as stored, transaction.atomic():
        # Lock the row (FOR UPDATE): two deliveries of this job must not both attach files.
        photo = ReportPhoto.objects.select_for_update().get(pk=photo_id)
        if photo.status != ReportPhoto.Status.PENDING:
            return "skipped"
        stored.append(photo)
        photo.display.save(f"public/display/{name}.jpg", ContentFile(display), save=False)
        photo.thumbnail.save(f"public/thumbnails/{name}.jpg", ContentFile(thumbnail),
                             save=False)
        photo.status = ReportPhoto.Status.READY
        photo.save(update_fields=["display", "thumbnail", "status"])
    return "ready"


def photo_originals_expire(*, now: datetime | None = None, batch: int = 500) -> int:
    """Retention: delete the originals (they carry the EXIF: position, time, device) of photos
    older than PHOTO_ORIGINAL_RETENTION_DAYS, oldest first, ``batch`` at most per run; the
    renditions stay and the row records when its original went. Returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.PHOTO_ORIGINAL_RETENTION_DAYS)
    with transaction.atomic():
        # Locked and skipped by a concurrent run, so two runs never delete the same file twice.
        photos = list(
            ReportPhoto.objects.select_for_update(skip_locked=True)
            .filter(original_deleted_at__isnull=True, created_at__lt=cutoff)
            .order_by("created_at")[:batch]
        )
        for photo in photos:
            # File first, row second: if the commit fails the row still names the (deleted)
            # file and the next run deletes nothing more and records it.
            photo.original.storage.delete(photo.original.name)
            photo.original = ""
            photo.original_deleted_at = now
            photo.save(update_fields=["original", "original_deleted_at"])
    if photos:
        logger.info("Retention: %s original photo(s) deleted", len(photos))
    return len(photos)


def _photo_failed(photo_id: int) -> str:
    ReportPhoto.objects.filter(pk=photo_id, status=ReportPhoto.Status.PENDING).update(
        status=ReportPhoto.Status.FAILED)
    return "failed"


def _uncommitted_files_delete(photos: list[ReportPhoto]) -> None:
    files = {photo.pk: [(field.storage, field.name)
                        for field in (photo.original, photo.display, photo.thumbnail)
                        if field and field.name]
             for photo in photos}
    names = [name for stored in files.values() for _storage, name in stored]
    if not names:
        return
    try:
        held = _names_held([pk for pk in files if pk is not None])
    except DatabaseError:
        logger.warning("Stored photo files kept: the database could not say whether their "
                       "transaction committed: %s", names, exc_info=True)
        return
    for stored in files.values():
        for storage, name in stored:
            if name not in held:
                storage.delete(name)


def _names_held(photo_ids: list[int]) -> set[str]:
    """The file names that the committed rows of these photos refer to (by primary key: a row
    that was rolled back is not there, and a row's save that failed left no id)."""

    def query() -> set[str]:
        rows = ReportPhoto.objects.filter(pk__in=photo_ids).values_list(
            "original", "display", "thumbnail")
        return {name for row in rows for name in row if name}

    if not photo_ids:
        return set()
    try:
        return query()
    except DatabaseError:
        if connection.in_atomic_block:
            raise
        # Outside any transaction the connection may just be broken (PostgreSQL restarted or
        # the backend killed): ask once more on a new one.
        connection.close()
        return query()
