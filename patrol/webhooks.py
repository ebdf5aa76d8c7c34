"""The outgoing webhook: every notification, signed, delivered at least once.

A deployment points ``WEBHOOK_URL`` at a relay of its own (WeChat template messages, SMS) and
shares ``WEBHOOK_SECRET`` with it. Each notification gets one ``WebhookDelivery`` row in the
transaction that makes the notification (``patrol.services.notify``, which hands in its text);
its JSON body is frozen there. This module imports nothing that notifies.

How a delivery travels:

1. When the transaction commits, one Celery task is queued for it
   (``patrol.tasks.webhook_deliver_task``).
2. The task POSTs the body with these headers:

   ``X-Civicmap-Delivery``  the delivery id (a UUID): the same on every attempt; drop repeats.
   ``X-Civicmap-Timestamp`` Unix seconds of this attempt; refuse ones far from your clock.
   ``X-Civicmap-Signature`` ``sha256=`` + hex HMAC-SHA256 with the secret over
                            ``f"{timestamp}.".encode() + body`` (the raw body bytes).
   ``X-Civicmap-Event``     the notification kind, e.g. ``case_closed``.

   A 2xx answer is delivered; anything else (refused connection, timeout, 4xx, 5xx) is
   retried with exponential backoff: ``WEBHOOK_BACKOFF_BASE_S`` × 2^(attempts − 1), at most
   ``WEBHOOK_BACKOFF_MAX_S``, until ``WEBHOOK_GIVE_UP_AFTER_S`` after the notification, when
   the delivery is marked failed (the admin lists and can retry it).
3. The retry schedule is ``next_attempt_at`` in the database. A periodic job
   (``patrol.tasks.webhook_deliveries_dispatch_task``, every ``WEBHOOK_DISPATCH_EVERY_S``)
   claims due rows with ``SELECT … FOR UPDATE SKIP LOCKED`` and queues a task for each. No
   task carries an ETA: Redis redelivers unacknowledged tasks after its visibility timeout, and
   an ETA longer than that would run again and again (docs: Celery on Redis).

Why nothing is lost and nothing is sent twice at once:

* Tasks are acknowledged late: a worker killed mid-delivery leaves its task unacknowledged and
  Redis hands it to another worker after the visibility timeout, with the same delivery id.
* A claim pushes ``next_attempt_at`` one lease ahead (``WEBHOOK_CLAIM_LEASE_S``) and the task
  carries that value as its claim token. A task whose token no longer matches the row (the
  attempt it stood for has been made, or the dispatcher re-claimed the row after the lease)
  does nothing. A task lost from Redis is replaced when the lease lapses.
* The attempt holds the row lock (``FOR UPDATE SKIP LOCKED``) for the length of the POST, so
  two copies of one task never send at once; a dead worker's lock goes with its connection.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

import requests
from celery import current_app
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from patrol.models import Notification, WebhookDelivery

# One attempt at one delivery (patrol.tasks), queued by name: the task module imports this one.
WEBHOOK_DELIVER_TASK = "patrol.tasks.webhook_deliver_task"

logger = logging.getLogger(__name__)

HEADER_DELIVERY = "X-Civicmap-Delivery"
HEADER_TIMESTAMP = "X-Civicmap-Timestamp"
HEADER_SIGNATURE = "X-Civicmap-Signature"
HEADER_EVENT = "X-Civicmap-Event"
USER_AGENT = "NanyuanCivicMap-Webhook/1"
ERROR_MAX_CHARS = 500

DELIVERED = "delivered"
RETRY = "retry"
FAILED = "failed"
SKIPPED = "skipped"


# --- signing (the receiver does the same to check) ---------------------------------------------


def webhook_signature(*, secret: str, timestamp: int | str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256(secret, ``"{timestamp}."`` + body)."""
    message = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


# --- making deliveries (inside the notification's transaction) -------------------------------


def webhook_enabled() -> bool:
    return bool(settings.WEBHOOK_URL)


def webhook_body(*, notification: Notification, message: dict[str, str],
                 delivery_id: uuid.UUID) -> str:
    """The JSON text sent for a notification and its ``message`` (its text in each language of
    the site), frozen when the delivery is made.

    Recipient by id and username only: the relay maps them to a WeChat openid or a phone of its
    own; no phone number or reporter identity leaves through the webhook.
    """
    recipient = notification.recipient
    payload = {
        "delivery_id": str(delivery_id),
        "event": "notification",
        "notification": {
            "id": notification.pk,
            "kind": notification.kind,
            "created_at": notification.created_at,
            "recipient": {"id": recipient.pk, "username": recipient.get_username()},
            "case": notification.case_id,
            "task": notification.task_id,
            "data": notification.data,
            "message": message,
        },
    }
    return json.dumps(payload, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":"))


def webhook_deliveries_create(*, notifications: Iterable[Notification],
                              messages: Mapping[int, dict[str, str]], at: datetime
                              ) -> list[WebhookDelivery]:
    """One delivery per notification (once: a notification has at most one), queued on commit;
    ``messages`` is each notification's text by its id (patrol.services.notify writes them).

    Call inside the transaction that made the notifications, so that a notification and its
    delivery exist together or not at all.
    """
    if not webhook_enabled():
        return []
    kinds = set(settings.WEBHOOK_KINDS)
    lease = timedelta(seconds=settings.WEBHOOK_CLAIM_LEASE_S)
    give_up = timedelta(seconds=settings.WEBHOOK_GIVE_UP_AFTER_S)
    now = timezone.now()
    rows = []
    for notification in notifications:
        if kinds and notification.kind not in kinds:
            continue
        delivery_id = uuid.uuid4()
        rows.append(WebhookDelivery(
            delivery_id=delivery_id, notification=notification,
            body=webhook_body(notification=notification, message=messages[notification.pk],
                              delivery_id=delivery_id),
            # Claimed by the task queued below until the lease lapses; then the dispatcher
            # takes it. The clock is the real one: ``at`` may be an injected event time.
            next_attempt_at=now + lease, give_up_at=max(at, now) + give_up, created_at=now,
        ))
    # ignore_conflicts: a notification that already has its delivery keeps that one.
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    made = list(WebhookDelivery.objects.filter(delivery_id__in=[r.delivery_id for r in rows])
                .values_list("delivery_id", "next_attempt_at"))
    if made:
        # robust: a broker that is down must not fail the request that made the notification;
        # the dispatcher sends these when their lease lapses.
        transaction.on_commit(lambda: _enqueue(made), robust=True)
    return rows


def _enqueue(claims: Iterable[tuple[uuid.UUID, datetime]]) -> None:
    for delivery_id, claimed_until in claims:
        current_app.send_task(WEBHOOK_DELIVER_TASK,
                              args=[str(delivery_id), claimed_until.isoformat()])


# --- the periodic dispatcher -------------------------------------------------------------------


def webhook_deliveries_claim(*, now: datetime | None = None, limit: int = 200
                             ) -> list[tuple[uuid.UUID, datetime]]:
    """Claim pending deliveries that are due: push each one lease ahead; returns the claims
    (delivery id, claim token) for the caller to send."""
    now = now or timezone.now()
    claimed_until = now + timedelta(seconds=settings.WEBHOOK_CLAIM_LEASE_S)
    with transaction.atomic():
        # SKIP LOCKED: two dispatchers never claim one row, and a row a worker is sending right
        # now (locked for its POST) is left alone rather than waited for.
        due = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id").values_list("pk", "delivery_id")[:limit]
        )
        WebhookDelivery.objects.filter(pk__in=[pk for pk, _id in due]).update(
            next_attempt_at=claimed_until)
    return [(delivery_id, claimed_until) for _pk, delivery_id in due]


def webhook_deliveries_dispatch(*, now: datetime | None = None) -> int:
    """The periodic job: queue a delivery task for every due delivery; returns how many."""
    claims = webhook_deliveries_claim(now=now)
    _enqueue(claims)
    return len(claims)


# --- one attempt --------------------------------------------------------------------------------


def webhook_backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: base × 2^(attempts − 1), capped."""
    base, cap = settings.WEBHOOK_BACKOFF_BASE_S, settings.WEBHOOK_BACKOFF_MAX_S
    return timedelta(seconds=min(cap, base * 2 ** max(0, min(attempts - 1, 30))))


def webhook_post(*, delivery: WebhookDelivery, kind: str) -> str | None:
    """POST the frozen body once; None when the receiver answered 2xx, else what went wrong."""
    url, secret = settings.WEBHOOK_URL, settings.WEBHOOK_SECRET
    if not url:
        return "WEBHOOK_URL is not set"
    body = delivery.body.encode("utf-8")
    timestamp = str(int(timezone.now().timestamp()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        HEADER_DELIVERY: str(delivery.delivery_id),
        HEADER_TIMESTAMP: timestamp,
        HEADER_SIGNATURE: webhook_signature(secret=secret, timestamp=timestamp, body=body),
        HEADER_EVENT: kind,
    }
    try:
        answer = requests.post(url, data=body, headers=headers, allow_redirects=False,
                               timeout=settings.WEBHOOK_TIMEOUT_S)
    except requests.RequestException as error:
        return f"{type(error).__name__}: {error}"[:ERROR_MAX_CHARS]
    if 200 <= answer.status_code < 300:
        return None
    return f"HTTP {answer.status_code}: {answer.text[:200]}"[:ERROR_MAX_CHARS]


def webhook_delivery_attempt(*, delivery_id: uuid.UUID | str,
                             claimed_until: datetime | None = None) -> str:
    """Send one delivery if it is still pending and still claimed by this attempt.

    ``claimed_until`` is the claim token the task was queued with (None: send regardless, for
    the admin and tests). Returns delivered, retry, failed or skipped.
    """
    with transaction.atomic():
        # Hold the row for the length of the POST: a second copy of this task skips it instead
        # of sending at the same time. SKIP LOCKED so that copy returns at once.
        delivery = (WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("notification").filter(delivery_id=delivery_id).first())
        if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
            return SKIPPED
        if claimed_until is not None and delivery.next_attempt_at != claimed_until:
            return SKIPPED  # this attempt was made already, or the row was claimed anew
        error = webhook_post(delivery=delivery, kind=delivery.notification.kind)
        now = timezone.now()
        delivery.attempts += 1
        if error is None:
            delivery.status, delivery.delivered_at, delivery.last_error = (
                WebhookDelivery.Status.DELIVERED, now, "")
            outcome = DELIVERED
        elif now >= delivery.give_up_at:
            delivery.status, delivery.last_error = WebhookDelivery.Status.FAILED, error
            outcome = FAILED
        else:
            # The last try falls on the give-up time, never after it.
            delivery.next_attempt_at = min(now + webhook_backoff(delivery.attempts),
                                           delivery.give_up_at)
            delivery.last_error = error
            outcome = RETRY
        delivery.save(update_fields=["status", "attempts", "next_attempt_at", "last_error",
                                     "delivered_at"])
    if outcome != DELIVERED:
        logger.warning("Webhook delivery %s: %s (%s)", delivery_id, outcome, error)
    return outcome


def webhook_deliveries_retry(*, delivery_ids: Iterable[int], now: datetime | None = None) -> int:
    """Give failed (or waiting) deliveries a fresh window and make them due now (the admin)."""
    now = now or timezone.now()
    return WebhookDelivery.objects.filter(
        pk__in=list(delivery_ids),
        status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.FAILED],
    ).update(status=WebhookDelivery.Status.PENDING, next_attempt_at=now,
             give_up_at=now + timedelta(seconds=settings.WEBHOOK_GIVE_UP_AFTER_S))

