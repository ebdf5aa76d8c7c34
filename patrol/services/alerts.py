"""Notifications in users' feeds, and the overdue scan (a periodic Celery beat job).

Each notification has a once-only key per recipient (a unique constraint), so raising it twice,
or from two workers at once, still gives one. Deadlines live in the database and are scanned;
nothing waits in a Celery ETA.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from civicmap.roles import Role
from issues.models import Case
from patrol.models import Notification, Task

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
    if kind == "task_offered":
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
           data: dict | None = None) -> int:
    """Put one notification in each recipient's feed, once; returns how many were new."""
    case = case or (task.case if task else None)
    key = f"{kind}:{case.pk if case else ''}:{task.pk if task else ''}"
    if kind in RIDER_KINDS or kind == "case_escalated":
        key = f"{key}:{at.isoformat()}"
    rows = [
        Notification(recipient=user, kind=kind, key=key, case=case, task=task,
                     data=data or {}, created_at=at)
        for user in {user.pk: user for user in _recipients(kind, case, task)}.values()
    ]
    created = Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len(created)


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
