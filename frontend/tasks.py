"""Periodic jobs of the frontend (Celery beat). Idempotent: safe to run twice or in parallel."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from frontend.reports.services import (
    governance_report_make,
    governance_reports_monthly,
    governance_reports_pending_queue,
)
from frontend.services import map_snapshot_refresh


@shared_task
def map_snapshot_refresh_task() -> int:
    """Refresh the governance map's snapshots (every ``MAP_SNAPSHOT_INTERVAL_S`` seconds);
    answers how many were stored."""
    return len(map_snapshot_refresh(now=timezone.now()))


# acks_late: a worker that dies mid-report leaves the message to be redelivered; the row is the
# job either way (the sweep queues it again). Making it twice costs the time, nothing else.
@shared_task(acks_late=True, reject_on_worker_lost=True)
def governance_report_make_task(report_id: int) -> str:
    """Make one governance report (frontend.reports.services.governance_report_make)."""
    return governance_report_make(report_id=report_id)


@shared_task(acks_late=True)
def governance_reports_monthly_task() -> int:
    """Beat, daily: ask for every subdistrict's report of last month that nobody asked for
    yet (on the 1st: all of them); answers how many were asked for."""
    return len(governance_reports_monthly(now=timezone.now()))


@shared_task(acks_late=True)
def governance_reports_pending_queue_task() -> int:
    """Beat's sweep of the reports' outbox: queue the reports whose job is missing."""
    return governance_reports_pending_queue()
