"""Background work of the Open311 API (Celery on Redis): fetching a request's media_url.

Celery's autodiscovery looks for ``<app>.tasks`` only; a worker registers this module through
the URLconf that Django's system checks import when the worker starts (tested in
tests/issues/test_open311_units.py).
"""

from __future__ import annotations

from celery import shared_task


# acks_late: acknowledged after the run, so a worker that dies mid-fetch leaves it to be
# redelivered; the report's media_status is the job either way (the sweep queues it again). No
# Celery retry: a failed fetch stays pending in the database and the sweep asks again later.
@shared_task(acks_late=True, reject_on_worker_lost=True)
def open311_media_fetch_task(report_id: int) -> str:
    """Fetch the media of one report; idempotent (issues.open311.services.open311_media_fetch)."""
    from issues.open311.services import open311_media_fetch  # services queue this task

    return open311_media_fetch(report_id=report_id)


@shared_task(acks_late=True)
def open311_media_pending_queue_task() -> int:
    """Beat's sweep of the media outbox: queue the pending fetches whose job is missing."""
    from issues.open311.services import open311_media_pending_queue

    return open311_media_pending_queue()
