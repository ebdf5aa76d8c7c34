"""The outgoing webhook against a real local HTTP receiver: what is sent and how it is signed,
the retry schedule kept in the database, giving up, the admin; then with a real Celery worker
and beat on Redis: a receiver that is down and comes back gets every notification, and a worker
killed in the middle of a delivery leads to a redelivery under the same id, never to a loss.

Service-level tests call ``webhook_delivery_attempt`` and ``webhook_deliveries_claim`` directly
inside the test's transaction (no worker: nothing is queued before a commit). The worker tests
are transactional, and their worker reads the test database.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from patrol.models import Notification, WebhookDelivery
from patrol.webhooks import (
    DELIVERED,
    FAILED,
    RETRY,
    SKIPPED,
    webhook_backoff,
    webhook_deliveries_claim,
    webhook_delivery_attempt,
)
from tests.patrol.helpers import act, case_in_stage, join_all, report, run_in_threads, user
from tests.patrol.test_webhooks_receiver import (
    SECRET,
    celery_process,
    receiver_running,
    wait_until,
)


@pytest.fixture
def receiver():
    with receiver_running() as made:
        yield made


@pytest.fixture
def webhook(settings, receiver):
    """The webhook pointed at the (not yet started) receiver, with short test backoffs."""
    settings.WEBHOOK_URL = receiver.url
    settings.WEBHOOK_SECRET = SECRET
    settings.WEBHOOK_KINDS = []
    settings.WEBHOOK_BACKOFF_BASE_S = 10
    settings.WEBHOOK_BACKOFF_MAX_S = 60
    settings.WEBHOOK_GIVE_UP_AFTER_S = 3600
    settings.WEBHOOK_CLAIM_LEASE_S = 120
    settings.WEBHOOK_TIMEOUT_S = 5
    return receiver


def _filed_case_delivery() -> WebhookDelivery:
    case = report("E0101")
    act(case.case, "file", "office1")
    return WebhookDelivery.objects.get(notification__case=case.case,
                                       notification__kind="case_filed")


# --- what is sent --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_notification_gets_one_delivery_with_a_frozen_signed_body(reference_data, webhook):
    webhook.start()
    case = report("E0101").case
    act(case, "file", "office1")
    notification = Notification.objects.get(case=case, kind="case_filed")
    delivery = WebhookDelivery.objects.get(notification=notification)
    assert delivery.status == "pending" and delivery.attempts == 0
    body = json.loads(delivery.body)
    assert body["delivery_id"] == str(delivery.delivery_id)
    assert body["notification"]["kind"] == "case_filed"
    assert body["notification"]["recipient"] == {"id": user("rider1").pk, "username": "rider1"}
    assert body["notification"]["case"] == case.pk
    assert body["notification"]["message"]["zh-hans"] == f"您的上报（案件 #{case.pk}）已受理立案。"
    assert body["notification"]["message"]["en"] == (
        f"Your report (case #{case.pk}) has been accepted and filed.")

    assert webhook_delivery_attempt(delivery_id=delivery.delivery_id) == DELIVERED
    [got] = webhook.requests
    assert got.signature_ok and got.fresh and got.answered == 200
    assert got.delivery_id == str(delivery.delivery_id) and got.event == "case_filed"
    assert got.body == delivery.body.encode("utf-8")  # the frozen bytes, Chinese as UTF-8
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 1, "")
    assert delivery.delivered_at is not None


@pytest.mark.django_db
def test_no_webhook_url_means_no_deliveries(reference_data, settings):
    settings.WEBHOOK_URL = ""
    case = case_in_stage("closed")
    assert Notification.objects.filter(case=case).exists()
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_webhook_kinds_limit_what_is_sent(reference_data, webhook, settings):
    webhook.start()
    settings.WEBHOOK_KINDS = ["case_closed"]
    case = case_in_stage("closed")
    sent = set(WebhookDelivery.objects.values_list("notification__kind", flat=True))
    assert sent == {"case_closed"}
    assert Notification.objects.filter(case=case).exclude(kind="case_closed").exists()


@pytest.mark.django_db
def test_a_notification_and_its_delivery_are_made_together_or_not_at_all(reference_data,
                                                                        webhook, monkeypatch):
    case = report("E0101").case

    def broken(**kwargs):
        raise RuntimeError("webhook table down")

    monkeypatch.setattr("patrol.services.notify.webhook_deliveries_create", broken)
    with pytest.raises(RuntimeError):
        act(case, "file", "office1")
    case.refresh_from_db()
    assert case.stage == "new"
    assert not Notification.objects.filter(case=case).exists()


@pytest.mark.django_db
def test_a_notification_made_again_keeps_its_one_delivery(reference_data, webhook):
    from patrol.services.notify import notify

    case = report("E0101").case
    at = timezone.now()
    with transaction.atomic():
        notify(kind="case_filed", case=case, at=at)
    with transaction.atomic():
        notify(kind="case_filed", case=case, at=at)  # the same key: nothing new
    assert Notification.objects.filter(case=case).count() == 1
    assert WebhookDelivery.objects.filter(notification__case=case).count() == 1


# --- retries, the schedule and giving up -------------------------------------------------------


def test_backoff_doubles_from_the_base_and_stops_at_the_cap(settings):
    settings.WEBHOOK_BACKOFF_BASE_S, settings.WEBHOOK_BACKOFF_MAX_S = 10, 60
    assert [webhook_backoff(n).total_seconds() for n in range(1, 7)] == [10, 20, 40, 60, 60, 60]
    assert webhook_backoff(10_000).total_seconds() == 60


@pytest.mark.django_db
def test_failed_attempts_are_rescheduled_with_backoff_then_given_up(reference_data, webhook):
    delivery = _filed_case_delivery()
    webhook.mode = "error"
    webhook.start()
    expected_waits = [10, 20, 40, 60, 60]
    for attempt, wait_s in enumerate(expected_waits, start=1):
        before = timezone.now()
        assert webhook_delivery_attempt(delivery_id=delivery.delivery_id) == RETRY
        after = timezone.now()
        delivery.refresh_from_db()
        assert delivery.attempts == attempt and delivery.status == "pending"
        assert delivery.last_error.startswith("HTTP 503")
        assert before + timedelta(seconds=wait_s) <= delivery.next_attempt_at
        assert delivery.next_attempt_at <= after + timedelta(seconds=wait_s)
    # Down altogether: the error says so, and the schedule goes on.
    webhook.stop()
    assert webhook_delivery_attempt(delivery_id=delivery.delivery_id) == RETRY
    delivery.refresh_from_db()
    assert "ConnectionError" in delivery.last_error
    # Close to the give-up time the next try falls on it, not after it …
    soon = timezone.now() + timedelta(seconds=5)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(give_up_at=soon)
    assert webhook_delivery_attempt(delivery_id=delivery.delivery_id) == RETRY
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == soon
    # … and a failure at or past it is final.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(give_up_at=timezone.now())
    assert webhook_delivery_attempt(delivery_id=delivery.delivery_id) == FAILED
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 8
    assert webhook_delivery_attempt(delivery_id=delivery.delivery_id) == SKIPPED
    assert webhook_deliveries_claim(now=timezone.now() + timedelta(days=2)) == []


@pytest.mark.django_db
def test_the_dispatcher_claims_due_deliveries_once_and_a_used_claim_sends_nothing(
        reference_data, webhook):
    webhook.start()
    delivery = _filed_case_delivery()
    created_claim = delivery.next_attempt_at  # the on-commit task's claim, one lease ahead
    assert created_claim - delivery.created_at == timedelta(seconds=120)
    assert webhook_deliveries_claim(now=timezone.now()) == []  # not due while claimed

    later = created_claim + timedelta(seconds=1)  # the queued task never ran: the lease lapsed
    [(claimed_id, claim)] = webhook_deliveries_claim(now=later)
    assert claimed_id == delivery.delivery_id and claim == later + timedelta(seconds=120)
    assert webhook_deliveries_claim(now=later) == []  # claimed again: not due

    # The first task turns up late: its claim is stale, it sends nothing.
    assert webhook_delivery_attempt(delivery_id=delivery.delivery_id,
                                    claimed_until=created_claim) == SKIPPED
    assert webhook.requests == []
    assert webhook_delivery_attempt(delivery_id=delivery.delivery_id,
                                    claimed_until=claim) == DELIVERED
    # A copy of the same message (a redelivery after the attempt was made) sends nothing.
    assert webhook_delivery_attempt(delivery_id=delivery.delivery_id,
                                    claimed_until=claim) == SKIPPED
    assert len(webhook.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_a_delivery_being_sent_is_skipped_by_the_dispatcher_and_by_a_second_copy(
        reference_data, webhook, spare_broker):
    webhook.start()
    delivery = _filed_case_delivery()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    with transaction.atomic():
        # The row lock a sending worker holds for the length of its POST.
        WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        threads, results = run_in_threads(
            lambda: webhook_deliveries_claim(now=timezone.now()),
            lambda: webhook_delivery_attempt(delivery_id=delivery.delivery_id))
        join_all(threads)
    assert results == [[], SKIPPED]
    assert webhook.requests == []


# --- the admin -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_shows_failed_deliveries_and_retries_them(reference_data, webhook):
    delivery = _filed_case_delivery()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status="failed", attempts=9, last_error="HTTP 503: relay down")
    admin = Client()
    admin.force_login(user("admin"))
    listing = admin.get("/admin/patrol/webhookdelivery/?status__exact=failed",
                        HTTP_ACCEPT_LANGUAGE="en")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert str(delivery.delivery_id) in page and "HTTP 503: relay down" in page
    assert "Failed (given up)" in page

    answer = admin.post("/admin/patrol/webhookdelivery/", {
        "action": "retry_now", "_selected_action": [delivery.pk]})
    assert answer.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 9
    assert delivery.next_attempt_at <= timezone.now() < delivery.give_up_at
    office = Client()
    office.force_login(user("office1"))  # the office watches failed deliveries (civicmap.roles)
    assert office.get("/admin/patrol/webhookdelivery/").status_code == 200
    union = Client()
    union.force_login(user("union1"))  # staff, but not given the deliveries
    assert union.get("/admin/patrol/webhookdelivery/").status_code == 403


# --- with a real worker and beat on Redis --------------------------------------------------------


def _worker_settings(**extra: str) -> dict[str, str]:
    return {"WEBHOOK_BACKOFF_BASE_S": "1", "WEBHOOK_BACKOFF_MAX_S": "2",
            "WEBHOOK_GIVE_UP_AFTER_S": "600", "WEBHOOK_CLAIM_LEASE_S": "5",
            "WEBHOOK_DISPATCH_EVERY_S": "1", "WEBHOOK_TIMEOUT_S": "5", **extra}


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_is_down_then_up_gets_each_notification(
        reference_data, webhook, spare_broker, settings, tmp_path):
    """Over 20 s on a busy machine: a Celery worker and beat start as processes of their own,
    and each delivery fails three times, each retry waiting its backoff, before the receiver
    comes up."""
    settings.WEBHOOK_CLAIM_LEASE_S = 5
    worker = celery_process(kind="worker", log_path=tmp_path / "worker.log",
                            receiver_url=webhook.url, settings_env=_worker_settings())
    beat = celery_process(kind="beat", log_path=tmp_path / "beat.log",
                          receiver_url=webhook.url, settings_env=_worker_settings())
    try:
        cases = [report("E0101", point=n).case for n in range(3)]
        for case in cases:
            act(case, "file", "office1")  # committed: each queues its first attempt
        deliveries = WebhookDelivery.objects.filter(notification__case__in=cases)
        assert deliveries.count() == 3

        # The receiver is down: attempts fail and are rescheduled from the database by beat.
        wait_until(lambda: all(d.attempts >= 3 for d in deliveries.all()), timeout_s=60,
                   what="three failed attempts each", logs=(worker, beat))
        assert set(deliveries.values_list("status", flat=True)) == {"pending"}
        assert all("ConnectionError" in d.last_error for d in deliveries.all())
        assert webhook.requests == []

        webhook.start()
        wait_until(lambda: set(deliveries.values_list("status", flat=True)) == {"delivered"},
                   timeout_s=60, what="every delivery delivered", logs=(worker, beat))
    finally:
        beat.stop()
        worker.stop()
    expected = {str(d.delivery_id): d.body.encode() for d in deliveries.all()}
    assert sorted(webhook.processed) == sorted(expected)
    for got in webhook.requests:
        assert got.signature_ok and got.fresh
        assert got.body == expected[got.delivery_id]
    kinds = {got.json()["notification"]["case"]: got.event for got in webhook.requests}
    assert kinds == {case.pk: "case_filed" for case in cases}


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_delivery_leads_to_a_redelivery_with_the_same_id(
        reference_data, webhook, spare_broker, settings, tmp_path):
    # No beat and a long lease: only Redis (late acknowledgement, a 3-second visibility timeout)
    # can bring the killed worker's task back.
    settings.WEBHOOK_CLAIM_LEASE_S = 600
    quick = _worker_settings(WEBHOOK_CLAIM_LEASE_S="600")
    webhook.mode = "stall"
    webhook.start()
    first = celery_process(kind="worker", log_path=tmp_path / "first.log",
                           receiver_url=webhook.url, settings_env=quick, visibility_timeout_s=3)
    second = None
    try:
        case = report("E0101").case
        act(case, "file", "office1")
        delivery = WebhookDelivery.objects.get(notification__case=case)
        assert webhook.stalled.wait(60), first.log()  # the POST is in flight …
        first.kill()  # … when its worker dies
        webhook.release.set()
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("pending", 0)  # nothing recorded

        second = celery_process(kind="worker", log_path=tmp_path / "second.log",
                                receiver_url=webhook.url, settings_env=quick,
                                visibility_timeout_s=3)
        wait_until(lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == "delivered",
                   timeout_s=60, what="the redelivery", logs=(first, second))
    finally:
        first.kill()
        if second is not None:
            second.stop()
    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert len(webhook.requests) == 2
    killed, redelivered = webhook.requests
    assert killed.delivery_id == redelivered.delivery_id == str(delivery.delivery_id)
    assert killed.body == redelivered.body == delivery.body.encode()
    assert killed.signature_ok and redelivered.signature_ok
    assert redelivered.answered == 200
    assert webhook.processed == [str(delivery.delivery_id)]  # the receiver acted once
    # The same Celery message, handed back by Redis: the task id in both workers' logs.
    pattern = r"webhook_deliver_task\[([0-9a-f-]{36})\] received"
    assert re.findall(pattern, first.log()) == re.findall(pattern, second.log())
    assert len(re.findall(pattern, second.log())) == 1
