"""Background work of the Open311 API (Celery on Redis): fetching a request's media_url.

Celery's autodiscovery looks for ``<app>.tasks`` only; a worker registers this module through
the URLconf that Django's system checks import when the worker starts (tested in
tests/issues/test_open311_units.py).
"""

from __future__ import annotations

from celery import shared_task


@shared_task(bind=True, acks_late=True, max_retries=3, default_retry_delay=60)
def open311_media_fetch_task(self, report_id: int) -> str:
    """Fetch the media of one report; idempotent. A host that did not answer is tried again
    (three times, a minute apart)."""
    from issues.open311.services import open311_media_fetch  # services queue this task

    outcome = open311_media_fetch(report_id=report_id)
    if outcome == "failed" and self.request.retries < self.max_retries:
        raise self.retry()
    return outcome
