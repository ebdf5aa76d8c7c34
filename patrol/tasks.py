"""Background work of the patrol app (Celery on Redis). Idempotent: safe to run twice or in
parallel. The tasks are thin; the work is in patrol's services and patrol.webhooks, which queue
a task by name when they must (patrol.webhooks.WEBHOOK_DELIVER_TASK), never importing this."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from patrol.facts import case_facts_rebuild, case_facts_refresh
from patrol.services.alerts import tasks_deadline_near_scan, tasks_overdue_scan
from patrol.services.lifecycle import cases_evaluate_due
from patrol.stats import stats_cache_warm
from patrol.webhooks import webhook_deliveries_dispatch, webhook_delivery_attempt


@shared_task
def tasks_overdue_scan_task() -> dict[str, int]:
    return tasks_overdue_scan()


@shared_task
def cases_evaluate_due_task() -> int:
    return cases_evaluate_due()


@shared_task(ignore_result=True)
def tasks_deadline_near_scan_task() -> dict[str, int]:
    """The periodic "deadline coming close" scan."""
    return tasks_deadline_near_scan()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def webhook_deliver_task(delivery_id: str, claimed_until: str) -> str:
    """One attempt. Idempotent: a repeat of the same message finds its claim used and stops."""
    return webhook_delivery_attempt(delivery_id=delivery_id,
                                    claimed_until=parse_datetime(claimed_until))


@shared_task(ignore_result=True)
def webhook_deliveries_dispatch_task() -> int:
    return webhook_deliveries_dispatch()


@shared_task(ignore_result=True)
def case_facts_refresh_task() -> int:
    """The statistics' recent days recounted (patrol.facts), then the most asked-for figures
    computed into the cache (patrol.stats)."""
    rows = case_facts_refresh()
    stats_cache_warm(today=timezone.localdate())
    return rows


@shared_task(ignore_result=True)
def case_facts_rebuild_task() -> int:
    """The statistics' every day recounted (patrol.facts), once a day; the cache warmed."""
    rows = case_facts_rebuild()
    stats_cache_warm(today=timezone.localdate())
    return rows
