"""Notifications in users' feeds, and the deadline scans (periodic Celery beat jobs): overdue,
and coming close.

Each notification has a once-only key per recipient (a unique constraint), so raising it twice,
or from two workers at once, still gives one; its webhook delivery (patrol/webhooks.py) is made
with it, in the same transaction. Deadlines live in the database and are scanned; nothing waits
in a Celery ETA.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import DateTimeField, DurationField, Exists, ExpressionWrapper, F, OuterRef
from django.utils import timezone

from civicmap.roles import Role
from issues.models import Case
from patrol.models import Notification, Task
from patrol.services.notifications import notification_data_build
from patrol.webhooks import webhook_deliveries_create, webhook_enabled

RIDER_KINDS = {"case_filed", "case_dispatched", "case_closed", "case_cancelled"}


def _task_workers(task: Task) -> list:
    User = get_user_model()
    if task.assignee_kind == Task.AssigneeKind.TEAM:
        return [task.team.leader, *task.team.members.all()]
    if task.assignee_kind == Task.AssigneeKind.DEPARTMENT:
        return list(task.department.liaisons.all())
    return list(User.objects.filter(groups__name=Role.UNION_STAFF.value))


def _task_leaders(task: Task) -> list:
    if task.assignee_kind == Task.AssigneeKind.TEAM:
        return [task.team.leader]
    return _task_workers(task)


def _office() -> list:
    return list(get_user_model().objects.filter(groups__name=Role.OFFICE_STAFF.value))


def _case_riders(case: Case) -> list:
    User = get_user_model()
    reporter_ids = set(case.reports.exclude(reporter=None).values_list("reporter", flat=True))
    return list(User.objects.filter(pk__in=reporter_ids))


def _recipients(kind: str, case: Case | None, task: Task | None) -> list:
    if kind in RIDER_KINDS:
        return _case_riders(case)
    if kind in {"task_offered", "task_deadline_near"}:
        return _task_workers(task)
    if kind == "task_response_overdue":
        return _task_leaders(task)
    if kind == "task_resolution_overdue":
        return _office()
    if kind == "case_escalated":
        previous = (Task.objects.filter(case=case, status=Task.Status.ESCALATED)
                    .select_related("team").order_by("-finished_at").first())
        leaders = [previous.team.leader] if previous and previous.team else []
        return [*leaders, *_office()]
    return []


def notify(*, kind: str, at: datetime, case: Case | None = None, task: Task | None = None,
           data: dict | None = None, key_extra: str = "") -> int:
    """Put one notification in each recipient's feed, once, with its webhook delivery (when a
    webhook is set), in the caller's transaction; returns how many were new.

    The notification carries ``notification_data_build``'s data (proof photo, reason, deadlines
    …) merged with ``data``; ``key_extra`` tells apart notifications of one kind, case and task
    that may each happen once (e.g. the response and the resolution deadline coming close).
    """
    case = case or (task.case if task else None)
    key = f"{kind}:{case.pk if case else ''}:{task.pk if task else ''}"
    if kind in RIDER_KINDS or kind == "case_escalated":
        key = f"{key}:{at.isoformat()}"
    if key_extra:
        key = f"{key}:{key_extra}"
    payload = {**notification_data_build(kind=kind, case=case, task=task), **(data or {})}
    recipients = {user.pk: user for user in _recipients(kind, case, task)}
    rows = [
        Notification(recipient=user, kind=kind, key=key, case=case, task=task,
                     data=payload, created_at=at)
        for user in recipients.values()
    ]
    created = Notification.objects.bulk_create(rows, ignore_conflicts=True)
    if not webhook_enabled():
        return len(created)
    # bulk_create with ignore_conflicts sets no primary keys: read back this call's rows by key
    # and time. One made earlier by an identical call already has its delivery (kept as is).
    made = list(Notification.objects.filter(key=key, recipient__in=list(recipients),
                                            created_at=at).select_related("recipient"))
    webhook_deliveries_create(notifications=made, at=at)
    return len(made)


def tasks_overdue_scan(*, now: datetime | None = None) -> dict[str, int]:
    """Alert once when a task passes its response deadline unaccepted (to the team leader),
    and once when it passes its resolution deadline not handed in (to the office).

    The UPDATE … WHERE alerted_at IS NULL claims each task; run twice, or on two workers at
    once, only one run claims it (the row lock of the UPDATE), and it alerts once.
    """
    now = now or timezone.now()
    counts = {"response": 0, "resolution": 0}
    checks = [
        ("response", "task_response_overdue", "response_alerted_at",
         {"status": Task.Status.OFFERED, "response_due__lt": now}),
        ("resolution", "task_resolution_overdue", "resolution_alerted_at",
         {"status__in": [Task.Status.OFFERED, Task.Status.ACCEPTED, Task.Status.IN_PROGRESS,
                         Task.Status.SENT_BACK], "resolution_due__lt": now}),
    ]
    for name, kind, stamp, conditions in checks:
        candidates = Task.objects.filter(**conditions, **{f"{stamp}__isnull": True})
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
        ("response", "response_due", {"status": Task.Status.OFFERED}),
        ("resolution", "resolution_due",
         {"status__in": [Task.Status.OFFERED, Task.Status.ACCEPTED, Task.Status.IN_PROGRESS,
                         Task.Status.SENT_BACK]}),
    ]
    for name, due_field, conditions in checks:
        # due − fraction × (due − offered): PostgreSQL timestamp − interval × float.
        window = ExpressionWrapper((F(due_field) - F("offered_at")) * fraction,
                                   output_field=DurationField())
        near_from = ExpressionWrapper(F(due_field) - window, output_field=DateTimeField())
        told = Notification.objects.filter(task=OuterRef("pk"), kind="task_deadline_near",
                                           data__deadline=name)
        candidates = (Task.objects.filter(**conditions, **{f"{due_field}__gt": now})
                      .annotate(near_from=near_from).filter(near_from__lte=now)
                      .exclude(Exists(told)))
        for task in candidates.select_related("case__category", "team", "department"):
            with transaction.atomic():
                due = getattr(task, due_field)
                if notify(kind="task_deadline_near", task=task, at=now, key_extra=name,
                          data={"deadline": name, "due": due.isoformat()}):
                    counts[name] += 1
    return counts
