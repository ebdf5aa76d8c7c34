"""Periodic jobs of the patrol app (Celery beat). Idempotent: safe to run twice or in parallel."""

from __future__ import annotations

from celery import shared_task

from patrol.services.alerts import tasks_overdue_scan
from patrol.services.lifecycle import cases_evaluate_due


@shared_task
def tasks_overdue_scan_task() -> dict[str, int]:
    return tasks_overdue_scan()


@shared_task
def cases_evaluate_due_task() -> int:
    return cases_evaluate_due()
