"""Storing photos: originals kept private, renditions queued for Celery after the commit.

Files live in Django's storage (local disk in development, S3-compatible in a deployment).
A database rollback does not remove files, so writers wrap their transaction in
``stored_photos_cleanup``: on any error the files stored inside it are deleted again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from django.core.files import File
from django.db import transaction

from issues.models import Report, ReportPhoto
from issues.photos import InspectedPhoto
from issues.tasks import photo_renditions_make_task


@contextmanager
def stored_photos_cleanup() -> Iterator[list[ReportPhoto]]:
    """Yield a list to put stored photos in; delete their files if the block fails."""
    stored: list[ReportPhoto] = []
    try:
        yield stored
    except BaseException:
        for photo in stored:
            photo.original.storage.delete(photo.original.name)
        raise


def photo_store(*, upload: IO[bytes], inspected: InspectedPhoto, stored: list[ReportPhoto],
                report: Report | None = None, position: int = 0) -> ReportPhoto:
    """Save the original privately and queue its renditions once the transaction commits."""
    upload.seek(0)
    photo = ReportPhoto(
        report=report, sha256=inspected.sha256, image_format=inspected.image_format,
        width=inspected.width, height=inspected.height, position=position,
    )
    photo.original.save("original", File(upload), save=False)
    stored.append(photo)
    photo.save()
    transaction.on_commit(lambda: photo_renditions_make_task.delay(photo.pk))
    return photo
