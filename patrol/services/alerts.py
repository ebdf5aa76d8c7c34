"""The deadline scans (periodic Celery beat jobs, patrol.tasks): overdue, and coming close.

Deadlines live in the database and are scanned; nothing waits in a Celery ETA. What "overdue"
means is patrol.selectors' (``task_response_overdue``, ``task_resolution_overdue``); what is
said, to whom, is ``patrol.services.notify``'s.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField, DurationField, Exists, ExpressionWrapper, F, OuterRef
from django.utils import timezone

from patrol.models import Notification, Task
from patrol.selectors import (
    AWAITING_RESPONSE_STATUSES,
    WORK_OWED_STATUSES,
    task_resolution_overdue,
    task_response_overdue,
)
from patrol.services.notify import notify


def tasks_overdue_scan(*, now: datetime | None = None) -> dict[str, int]:
    """Alert once when a task passes its response deadline unaccepted (to the team leader),
    and once when it passes its resolution deadline not handed in (to the office). Urgent
    cases' alerts go first; their deadlines, shortened by priority, come earlier too.

    The UPDATE … WHERE alerted_at IS NULL claims each task; run twice, or on two workers at
    once, only one run claims it (the row lock of the UPDATE), and it alerts once.
    """
    now = now or timezone.now()
    counts = {"response": 0, "resolution": 0}
    checks = [
        ("response", "task_response_overdue", "response_alerted_at", "response_due",
         task_response_overdue(now=now)),
        ("resolution", "task_resolution_overdue", "resolution_alerted_at", "resolution_due",
         task_resolution_overdue(now=now, handed_in_counts=False)),
    ]
    for name, kind, stamp, due, overdue in checks:
        # The most urgent cases first (D-058), then the longest overdue: a scan that a slow
        # database or a long backlog stretches raises their alerts before the others'.
        candidates = (Task.objects.filter(overdue, **{f"{stamp}__isnull": True})
                      .order_by("priority", due, "pk"))
        for task_id in candidates.values_list("pk", flat=True):
            with transaction.atomic():
                claimed = Task.objects.filter(pk=task_id, **{f"{stamp}__isnull": True}).update(
                    **{stamp: now})
                if claimed:
                    task = Task.objects.select_related("team", "department", "case").get(
                        pk=task_id)
                    notify(kind=kind, task=task, at=now)
                    counts[name] += 1
    return counts


def tasks_deadline_near_scan(*, now: datetime | None = None) -> dict[str, int]:
    """Tell a task's team once when a deadline comes close: in the last
    ``TASK_DEADLINE_NEAR_PERCENT`` per cent of the time from the offer to the deadline (a task
    with 7 working days to resolve hears about 1.4 days before; an emergency with 2 hours, 24
    minutes before). Response deadlines of tasks still offered, resolution deadlines of tasks
    not yet handed in; a deadline already passed is the overdue scan's.

    Once per task and deadline: the notification's key (unique per recipient) makes a second
    scan, or two at once, add nothing.
    """
    now = now or timezone.now()
    fraction = settings.TASK_DEADLINE_NEAR_PERCENT / 100
    counts = {"response": 0, "resolution": 0}
    checks = [
        ("response", "response_due", AWAITING_RESPONSE_STATUSES),
        ("resolution", "resolution_due", WORK_OWED_STATUSES),
    ]
    for name, due_field, statuses in checks:
        # due − fraction × (due − offered): PostgreSQL timestamp − interval × float.
        window = ExpressionWrapper((F(due_field) - F("offered_at")) * fraction,
                                   output_field=DurationField())
        near_from = ExpressionWrapper(F(due_field) - window, output_field=DateTimeField())
        told = Notification.objects.filter(task=OuterRef("pk"), kind="task_deadline_near",
                                           data__deadline=name)
        candidates = (Task.objects.filter(status__in=statuses, **{f"{due_field}__gt": now})
                      .annotate(near_from=near_from).filter(near_from__lte=now)
                      .exclude(Exists(told)))
        for task in candidates.select_related("case__category", "team", "department"):
            with transaction.atomic():
                due = getattr(task, due_field)
                if notify(kind="task_deadline_near", task=task, at=now, key_extra=name,
                          data={"deadline": name, "due": due.isoformat()}):
                    counts[name] += 1
    return counts
