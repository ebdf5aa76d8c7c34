"""Background work of the issues app (Celery on Redis). Every task is idempotent.

The tasks are thin: the work is in issues.services.photos and issues.open311.services, which
also say how a job that Redis, PostgreSQL or a worker lost is found again (the pending row is
the job; beat sweeps). Those services queue these tasks by name (issues.services.outbox), so
they never import this module.
"""

from __future__ import annotations

from celery import shared_task

from issues.open311.services import open311_media_fetch, open311_media_pending_queue
from issues.services.photos import (
    photo_originals_expire,
    photo_renditions_attach,
    photos_pending_queue,
)


# acks_late: the message is acknowledged after the run, so a worker that dies mid-job leaves it
# to be redelivered (reject_on_worker_lost: at once when a pool child dies; after the broker's
# visibility timeout when the whole worker does), and the sweep queues it again in any case.
@shared_task(acks_late=True, reject_on_worker_lost=True)
def photo_renditions_make_task(photo_id: int) -> str:
    """Make the clean display copy and thumbnail of one photo; a second run changes nothing."""
    return photo_renditions_attach(photo_id=photo_id)


@shared_task(acks_late=True)
def photos_pending_queue_task() -> int:
    """Beat's sweep of the photo outbox: queue the pending photos whose job is missing."""
    return photos_pending_queue()


@shared_task(acks_late=True)
def photo_originals_expire_task() -> int:
    """Beat's retention job: delete originals older than PHOTO_ORIGINAL_RETENTION_DAYS."""
    return photo_originals_expire()


# acks_late: acknowledged after the run, so a worker that dies mid-fetch leaves it to be
# redelivered; the report's media_status is the job either way (the sweep queues it again). No
# Celery retry: a failed fetch stays pending in the database and the sweep asks again later.
@shared_task(acks_late=True, reject_on_worker_lost=True)
def open311_media_fetch_task(report_id: int) -> str:
    """Fetch the media of one Open311 request; idempotent (open311_media_fetch)."""
    return open311_media_fetch(report_id=report_id)


@shared_task(acks_late=True)
def open311_media_pending_queue_task() -> int:
    """Beat's sweep of the media outbox: queue the pending fetches whose job is missing."""
    return open311_media_pending_queue()
