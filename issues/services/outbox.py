"""The transactional outbox shared by the background jobs that must survive faults (docs/
SECURITY.md, "Fault behaviour"): a row written in the request's transaction *is* the job.

After the commit the job is handed to Celery at once, best effort (``outbox_job_queue`` never
raises: Redis may be down); a periodic sweep (``outbox_pending_queue``, Celery beat) hands over
every pending row never queued after a grace time, or queued and still pending once its lease ran
out (lost with the broker, its worker died, or the job asked to be tried again later). The jobs
themselves are idempotent, so a job handed over twice costs a no-op.

Used by the photo renditions (issues.services.photos) and the Open311 media fetch
(issues.open311.services).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import DatabaseError
from django.db.models import DateTimeField, DurationField, ExpressionWrapper, F, Q, QuerySet, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from civicmap.celery_send import task_send

logger = logging.getLogger(__name__)

# Publishing to a broker that is down fails in milliseconds with this policy (kombu's default
# retries for about 0.6 s, and without retries it waits 6 s for a connection): a request must
# not wait on Redis, the sweep hands the job over later.
QUEUE_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1,
                      "interval_max": 0.1}
SWEEP_BATCH = 500  # jobs handed over per sweep run at most; the next run takes the rest


def outbox_job_queue(*, task_name: str, rows: QuerySet, pk: int, queued_field: str,
                     stamped: datetime | None = None) -> bool:
    """Hand the job of row ``pk`` (of ``rows``' model) to the Celery task ``task_name`` and note
    when in ``queued_field``; False (logged) if the broker refused. Never raises: it runs after
    the commit, inside the writer's request.

    ``stamped``: the row was written with ``queued_field`` set to this time, in the writer's
    transaction. Then a broker that takes the job costs no second statement and commit; one that
    refuses it gets the stamp cleared, so that the sweep takes the job after its grace time as if
    it had never been queued. (Should the process die between its commit and this call, the
    stamp stands and the sweep takes the job once its lease runs out.)"""
    label = rows.model._meta.label
    try:
        # Celery's send_task, its per-message work done once per process (civicmap.celery_send).
        task_send(name=task_name, args=[pk], retry_policy=QUEUE_RETRY_POLICY)
    except Exception:
        logger.warning("%s %s: broker unavailable, the sweep will queue it", label, pk,
                       exc_info=True)
        if stamped is not None:
            _queued_note(rows.filter(pk=pk, **{queued_field: stamped}), label, pk, queued_field,
                         None)
        return False
    if stamped is None:
        _queued_note(rows.filter(pk=pk), label, pk, queued_field, timezone.now())
    return True


def _queued_note(row: QuerySet, label: str, pk: int, queued_field: str,
                 value: datetime | None) -> None:
    try:
        row.update(**{queued_field: value})
    except DatabaseError:
        # Not noted: the sweep may queue the job once more (harmless), or, for a stamp left on
        # a refused job, once its lease runs out rather than its grace time.
        logger.warning("%s %s: %s not saved", label, pk, queued_field, exc_info=True)


def outbox_pending_queue(*, task_name: str, pending: QuerySet, created_field: str,
                         queued_field: str, grace_s: int, lease_s: int, now: datetime,
                         attempts_field: str | None = None) -> int:
    """The sweep: hand to ``task_name`` every ``pending`` row never queued and created more than
    ``grace_s`` seconds ago (its commit hook had its chance), or queued more than ``lease_s``
    seconds ago and still pending; with ``attempts_field``, the lease grows with the attempts
    (lease × attempts: a host that keeps failing is asked less and less often). Returns how many
    were queued; stops at the first broker failure (the next run tries again)."""
    lease = Value(timedelta(seconds=lease_s))
    if attempts_field is not None:
        lease = ExpressionWrapper(lease * Greatest(F(attempts_field), Value(1)),
                                  output_field=DurationField())
    due = (
        pending.alias(lease_end=ExpressionWrapper(F(queued_field) + lease,
                                                  output_field=DateTimeField()))
        .filter(Q(**{f"{queued_field}__isnull": True,
                     f"{created_field}__lt": now - timedelta(seconds=grace_s)})
                | Q(lease_end__lt=now))
        .order_by(created_field).values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    rows = pending.model._default_manager.all()
    queued = 0
    for pk in list(due):
        if not outbox_job_queue(task_name=task_name, rows=rows, pk=pk,
                                queued_field=queued_field):
            break
        queued += 1
    if queued:
        logger.info("Sweep: %s pending %s job(s) queued", queued, pending.model._meta.label)
    return queued
