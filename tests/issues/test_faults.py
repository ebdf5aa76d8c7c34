"""Nothing is lost under faults: Redis, PostgreSQL connections and a Celery worker killed while
riders report. Every fault is real (processes started and killed by the test); every test ends
with one report per client_uuid and every photo processed once the service is back.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import psycopg2
import pytest
import requests
from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from issues.models import Report, ReportPhoto
from issues.open311.services import open311_media_fetch, open311_media_pending_queue
from issues.photos import photo_renditions_make
from issues.services.photos import photos_pending_queue
from issues.tasks import open311_media_fetch_task, photo_renditions_make_task
from tests.issues.faults import (
    DEADLINE_S,
    BackendKiller,
    RedisServer,
    Worker,
    _dsn,
    celery_broker,
    wait_for,
)
from tests.issues.helpers import REPORTS_URL, body, client_for, jpeg, post_report, report_form
from tests.issues.test_open311_support import ROOT, MediaHost, demo_api_key, request_form

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def on_test_redis(redis_server, settings):
    """The app's broker and cache are the test's own Redis (db 0 broker, db 1 cache)."""
    settings.CACHES = {"default": {**settings.CACHES["default"],
                                   "LOCATION": redis_server.url(1)}}
    with celery_broker(redis_server.url(0)):
        yield redis_server


def queued_photo_ids(server: RedisServer, task=photo_renditions_make_task) -> list[int]:
    """The ids (a photo's, or a report's for ``task``) of the jobs waiting in the test Redis's
    default queue (Celery's message protocol 2: a base64 JSON body ``[args, kwargs, embed]``)."""
    ids = []
    for raw in server.client(0).lrange("celery", 0, -1):
        message = json.loads(raw)
        if message["headers"]["task"] == task.name:
            args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            ids.append(args[0])
    return sorted(ids)


def rendition_hashes(photo: ReportPhoto) -> tuple[str, str]:
    def digest(field) -> str:
        with field.open("rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()

    return digest(photo.display), digest(photo.thumbnail)


def test_intake_answers_201_and_keeps_the_photo_while_redis_is_down(
    reference_data, media_root, on_test_redis
):
    """The hole of issue 14: the job queued after commit raised into the response (500), the
    committed original was deleted, the retry got 200 and the photo stayed pending forever."""
    on_test_redis.kill()
    rider = client_for("rider1")
    client_uuid = str(uuid.uuid4())
    answer = post_report(rider, client_uuid=client_uuid, photos=[jpeg(colour=(200, 10, 10))])
    assert answer.status_code == 201, answer.content
    photo = ReportPhoto.objects.get(report_id=body(answer)["id"])
    assert (photo.status, photo.queued_at) == (ReportPhoto.Status.PENDING, None)
    assert default_storage.exists(photo.original.name)

    retry = post_report(rider, client_uuid=client_uuid, photos=[jpeg(colour=(200, 10, 10))])
    assert (retry.status_code, body(retry)["id"]) == (200, body(answer)["id"])
    assert default_storage.exists(photo.original.name)

    on_test_redis.start()
    # The sweep hands the job over once it is a few seconds old and was never queued.
    assert photos_pending_queue(now=timezone.now()) == 0
    assert photos_pending_queue(now=timezone.now() + timedelta(minutes=1)) == 1
    assert queued_photo_ids(on_test_redis) == [photo.pk]
    photo.refresh_from_db()
    assert photo.queued_at is not None
    assert photo_renditions_make_task(photo.pk) == "ready"
    assert Report.objects.filter(client_uuid=client_uuid).count() == 1


def clean_rendition_hashes(photo: ReportPhoto) -> tuple[str, str]:
    """What one clean run makes of the photo's original (photo_renditions_make is pure)."""
    with photo.original.open("rb") as original:
        display, thumbnail = photo_renditions_make(original=io.BytesIO(original.read()))
    return hashlib.sha256(display).hexdigest(), hashlib.sha256(thumbnail).hexdigest()


def assert_every_photo_processed_once(client_uuids: list[str]) -> None:
    """One report per client_uuid, each with its photo made ready, renditions as a clean run."""
    for client_uuid in client_uuids:
        assert Report.objects.filter(client_uuid=client_uuid).count() == 1, client_uuid
    photos = ReportPhoto.objects.filter(report__client_uuid__in=client_uuids)
    assert photos.count() == len(client_uuids)
    for photo in photos:
        assert photo.status == ReportPhoto.Status.READY, photo.pk
        assert rendition_hashes(photo) == clean_rendition_hashes(photo), photo.pk


def all_ready(client_uuids: list[str]) -> bool:
    return not ReportPhoto.objects.filter(report__client_uuid__in=client_uuids).exclude(
        status=ReportPhoto.Status.READY).exists()


RIDERS = ("rider1", "rider2", "rider3")


def test_redis_killed_mid_burst_every_report_is_accepted_and_every_photo_made(
    reference_data, media_root, on_test_redis, settings, tmp_path
):
    """(a) Redis, broker and cache, is SIGKILLed while a burst of reports is in flight: every
    report answers 201 (its retry 200); restarted empty (its queued jobs are gone), the sweep
    hands every pending job to a worker and every photo is made. Over 20 s on a busy machine: a
    Redis server and a Celery worker started and stopped, 15 photos made by that one worker."""
    client_uuids = [str(uuid.uuid4()) for _ in range(15)]
    answered = threading.Semaphore(0)

    def report(index: int) -> tuple[int, int]:
        try:
            answer = post_report(client_for(RIDERS[index % 3]), client_uuid=client_uuids[index],
                                 photos=[jpeg(colour=(index * 16, 90, 200))])
            answered.release()
            return answer.status_code, body(answer)["id"]
        finally:
            connection.close()  # this thread's database connection

    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(report, index) for index in range(len(client_uuids))]
        for _ in range(5):
            answered.acquire(timeout=DEADLINE_S)
        on_test_redis.kill()  # mid-burst: ten reports still to come or in flight
        answers = [future.result() for future in futures]
    assert [status for status, _id in answers] == [201] * len(client_uuids)
    never_queued = ReportPhoto.objects.filter(queued_at__isnull=True).count()
    assert never_queued >= 5  # the reports after the kill: their jobs only in the database

    # The phones did not all hear back: each retries, and gets the first answer.
    for index, client_uuid in enumerate(client_uuids):
        retry = post_report(client_for(RIDERS[index % 3]), client_uuid=client_uuid,
                            photos=[jpeg(colour=(index * 16, 90, 200))])
        assert (retry.status_code, body(retry)["id"]) == (200, answers[index][1])

    on_test_redis.start()
    worker = Worker(broker_url=on_test_redis.url(0), log_path=tmp_path / "worker.log")
    worker.start()
    try:
        # The jobs queued before the kill died with Redis: past their lease, the sweep queues
        # them again with the never-queued ones.
        later = timezone.now() + timedelta(seconds=settings.PHOTO_QUEUE_LEASE_S + 1)
        pending = ReportPhoto.objects.filter(status=ReportPhoto.Status.PENDING).count()
        assert pending >= never_queued
        assert photos_pending_queue(now=later) == pending
        wait_for(lambda: all_ready(client_uuids), what="every photo made", timeout=30)
    finally:
        worker.stop()
    assert_every_photo_processed_once(client_uuids)


def _post_until_answered(url: str, token: str, fields: dict, photo: bytes,
                         deadline: float) -> tuple[requests.Response, int]:
    """The phone's retry loop: the same report (same client_uuid) until a 200 or 201."""
    failures = 0
    while True:
        try:
            answer = requests.post(
                f"{url}{REPORTS_URL}", data=fields,
                files=[("photos", ("street.jpg", photo, "image/jpeg"))],
                headers={"Authorization": f"Token {token}"}, timeout=30)
            if answer.status_code in (200, 201):
                return answer, failures
            assert answer.status_code >= 500, answer.content  # a fault, never a refusal
        except requests.ConnectionError:
            pass
        failures += 1
        assert time.monotonic() < deadline, "the report was never accepted"


def test_postgres_backends_killed_mid_burst_one_report_per_uuid_and_every_photo_made(
    reference_data, media_root, live_server, on_test_redis, tmp_path
):
    """(b) The live server's PostgreSQL backends are terminated about every 0.8 s (an intake
    takes about half that here) while riders post and retry each report with its client_uuid:
    one report per client_uuid, each photo made."""
    tokens = {name: Token.objects.get(user__username=name).key for name in RIDERS}
    reports = [({**report_form(), "client_uuid": str(uuid.uuid4())}, jpeg(colour=(i * 20, 9, 9)))
               for i in range(12)]
    for fields, _photo in reports:
        fields.pop("photos")
    deadline = time.monotonic() + 60
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        own_pid = cursor.fetchone()[0]

    def report(index: int) -> tuple[int, int, int]:
        fields, photo = reports[index]
        answer, failures = _post_until_answered(live_server.url, tokens[RIDERS[index % 3]],
                                                fields, photo, deadline)
        return answer.status_code, answer.json()["id"], failures

    started = time.monotonic()
    with BackendKiller(spare={own_pid}, every=0.8) as killer:
        with ThreadPoolExecutor(max_workers=3) as pool:
            answers = list(pool.map(report, range(len(reports))))
    print(f"burst {time.monotonic() - started:.1f} s, backends killed: {killer.killed}; "
          f"failed attempts per report: {[failures for _status, _id, failures in answers]}; "
          f"final answers: "
          f"{sorted(status for status, _id, _failures in answers)}")
    assert killer.killed > 0
    assert sum(failures for _status, _id, failures in answers) > 0  # the faults hit requests
    client_uuids = [fields["client_uuid"] for fields, _photo in reports]
    assert_one_report_per_uuid(client_uuids)

    worker = Worker(broker_url=on_test_redis.url(0), log_path=tmp_path / "worker.log")
    worker.start()
    try:
        # Jobs whose hand-over a killed connection interrupted are still in the outbox.
        photos_pending_queue(now=timezone.now() + timedelta(minutes=1))
        wait_for(lambda: all_ready(client_uuids), what="every photo made", timeout=30)
    finally:
        worker.stop()
    assert_every_photo_processed_once(client_uuids)
    # No committed photo lost its original to the cleanup of a failed attempt.
    for photo in ReportPhoto.objects.all():
        assert default_storage.exists(photo.original.name)


def assert_one_report_per_uuid(client_uuids: list[str]) -> None:
    counts = dict(Report.objects.filter(client_uuid__in=client_uuids)
                  .values_list("client_uuid").annotate(n=Count("id")))
    assert {str(key): value for key, value in counts.items()} == dict.fromkeys(client_uuids, 1)


def _lock_key_share(photo_id: int):
    """Another session's FOR KEY SHARE lock on the photo row: the job's start (a plain UPDATE of
    non-key columns) passes it, its final SELECT ... FOR UPDATE waits for it."""
    holder = psycopg2.connect(_dsn())
    with holder.cursor() as cursor:
        cursor.execute("SELECT id FROM issues_reportphoto WHERE id = %s FOR KEY SHARE",
                       [photo_id])
    return holder


def _job_waits_for_the_row(photo_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock'
                  AND query LIKE %s""", ['%FROM "issues_reportphoto"%FOR UPDATE%'])
        return cursor.fetchone()[0] > 0 and ReportPhoto.objects.get(pk=photo_id).attempts == 1


def test_worker_killed_mid_job_the_photo_is_made_once_with_the_same_result(
    reference_data, media_root, on_test_redis, tmp_path
):
    """(c) The pool process running the job is SIGKILLed mid-job (held at its final row lock,
    after it marked its start): the job is redelivered (acks_late, reject_on_worker_lost) to the
    new pool process, the photo is made once, and its renditions equal a clean run's. Over 20 s
    on a busy machine: a prefork worker started, its pool process killed and started again."""
    client_uuid = str(uuid.uuid4())
    answer = post_report(client_for("rider1"), client_uuid=client_uuid,
                         photos=[jpeg((900, 600), colour=(30, 160, 60))])
    assert answer.status_code == 201
    photo = ReportPhoto.objects.get(report_id=body(answer)["id"])
    assert queued_photo_ids(on_test_redis) == [photo.pk]

    holder = _lock_key_share(photo.pk)
    worker = Worker(broker_url=on_test_redis.url(0), log_path=tmp_path / "worker.log",
                    pool="prefork")
    try:  # the lock is let go whatever happens, even a worker that does not start
        worker.start()
        wait_for(lambda: _job_waits_for_the_row(photo.pk), what="the job to be mid-way")
        [child] = worker.child_pids()
        os.kill(child, signal.SIGKILL)
        wait_for(lambda: b"WorkerLostError" in worker.log_path.read_bytes(),
                 what="the worker to see its pool process lost")
        holder.rollback()
        wait_for(lambda: all_ready([client_uuid]), what="the photo made after redelivery")
    finally:
        holder.close()
        worker.stop()
    photo.refresh_from_db()
    assert photo.attempts == 2  # killed once, run once more
    assert_every_photo_processed_once([client_uuid])
    made = rendition_hashes(photo), photo.display.name
    # A late duplicate delivery (the broker's own redelivery, a sweep) changes nothing.
    assert photo_renditions_make_task(photo.pk) == "skipped"
    photo.refresh_from_db()
    assert (rendition_hashes(photo), photo.display.name) == made
    assert photos_pending_queue(now=timezone.now() + timedelta(days=1)) == 0


def test_whole_worker_killed_mid_job_the_sweep_hands_the_job_to_a_new_worker(
    reference_data, media_root, on_test_redis, settings, tmp_path
):
    """(c, the whole worker) The worker process itself is SIGKILLed mid-job: nobody reports the
    loss, and the broker would redeliver only after its visibility timeout (an hour). The sweep
    queues the job again once its lease is over; a new worker makes the photo, as a clean run.
    Over 20 s: two Celery workers started one after the other, and the job's lease waited out."""
    client_uuid = str(uuid.uuid4())
    answer = post_report(client_for("rider2"), client_uuid=client_uuid,
                         photos=[jpeg((900, 600), colour=(160, 30, 90))])
    assert answer.status_code == 201
    photo = ReportPhoto.objects.get(report_id=body(answer)["id"])

    holder = _lock_key_share(photo.pk)
    first = Worker(broker_url=on_test_redis.url(0), log_path=tmp_path / "first.log")
    try:  # the lock is let go whatever happens, even a worker that does not start
        first.start()
        wait_for(lambda: _job_waits_for_the_row(photo.pk), what="the job to be mid-way")
        first.kill()
    finally:
        holder.rollback()
        holder.close()
        first.kill()
    photo.refresh_from_db()
    assert (photo.status, photo.attempts) == (ReportPhoto.Status.PENDING, 1)
    assert queued_photo_ids(on_test_redis) == []  # unacknowledged, held for the dead worker

    second = Worker(broker_url=on_test_redis.url(0), log_path=tmp_path / "second.log")
    second.start()
    try:
        later = timezone.now() + timedelta(seconds=settings.PHOTO_QUEUE_LEASE_S + 1)
        assert photos_pending_queue(now=later) == 1
        wait_for(lambda: all_ready([client_uuid]), what="the photo made by the new worker")
    finally:
        second.stop()
    photo.refresh_from_db()
    assert photo.attempts == 2
    assert_every_photo_processed_once([client_uuid])


def test_phone_sign_in_answers_while_the_cache_is_down(reference_data, on_test_redis, caplog):
    """With Redis down, /phone/token/ answered 500 (its throttle reads the cache). The cache now
    fails open, logged; the lockout that stops guessing counts in PostgreSQL."""
    from fixtures.seed import DEMO_PASSWORD

    on_test_redis.kill()
    phone = APIClient()
    wrong = phone.post("/phone/token/", {"username": "rider1", "password": "nope"},
                       format="json")
    assert wrong.status_code == 400
    assert wrong.json()["errors"][0]["code"] == "invalid_credentials"
    right = phone.post("/phone/token/", {"username": "rider1", "password": DEMO_PASSWORD},
                       format="json")
    assert right.status_code == 200
    assert right.json()["token"] == Token.objects.get(user__username="rider1").key
    assert any("Cache unavailable, failing open" in record.getMessage()
               for record in caplog.records if record.levelname == "WARNING")


# --- the Open311 media fetch: the same outbox ------------------------------------------------


def _open311_post_with_media(media_url: str) -> Report:
    answer = APIClient().post(f"{ROOT}/requests.json",
                              request_form(api_key=demo_api_key(), media_url=media_url))
    assert answer.status_code in (200, 201), answer.content
    return Report.objects.get(pk=int(answer.json()[0]["service_request_id"]))


def test_open311_media_posted_while_redis_is_down_is_fetched_once_it_is_back(
    reference_data, media_root, on_test_redis, media_host, settings, tmp_path
):
    """The hole: with Redis down at the POST, the fetch job was lost with the commit hook and
    nothing queued it again. The report now carries the job (media_status pending); once Redis
    is back the sweep hands it to a real worker, which fetches the photo and makes its
    renditions."""
    settings.OPEN311_MEDIA_HOSTS = ["127.0.0.1"]
    MediaHost.routes = {"/pothole.jpg": (200, {"Content-Type": "image/jpeg"},
                                         jpeg((1200, 900), colour=(90, 90, 20)))}
    on_test_redis.kill()
    report = _open311_post_with_media(
        f"http://127.0.0.1:{media_host.server_address[1]}/pothole.jpg")
    assert (report.media_status, report.media_queued_at, report.media_attempts) == (
        Report.MediaStatus.PENDING, None, 0)

    on_test_redis.start()
    assert open311_media_pending_queue(now=timezone.now()) == 0  # within the grace time
    assert open311_media_pending_queue(now=timezone.now() + timedelta(minutes=1)) == 1
    assert queued_photo_ids(on_test_redis, open311_media_fetch_task) == [report.pk]
    worker = Worker(broker_url=on_test_redis.url(0), log_path=tmp_path / "worker.log")
    worker.start(env={"OPEN311_MEDIA_HOSTS": "127.0.0.1"})
    try:
        wait_for(lambda: ReportPhoto.objects.filter(
            report=report, status=ReportPhoto.Status.READY).exists(),
            what="the media fetched and its renditions made", timeout=30)
    finally:
        worker.stop()
    report.refresh_from_db()
    assert (report.media_status, report.media_attempts) == (Report.MediaStatus.FETCHED, 1)
    assert MediaHost.hits == ["/pothole.jpg"]
    [photo] = ReportPhoto.objects.filter(report=report)
    assert rendition_hashes(photo) == clean_rendition_hashes(photo)
    # Done: a late duplicate delivery and the next sweeps change nothing.
    assert open311_media_fetch_task(report.pk) == "skipped"
    assert open311_media_pending_queue(now=timezone.now() + timedelta(days=1)) == 0
    assert ReportPhoto.objects.filter(report=report).count() == 1


def test_open311_media_refused_is_final_and_never_queued_again(
    reference_data, media_root, on_test_redis, media_host, settings
):
    settings.OPEN311_MEDIA_HOSTS = ["127.0.0.1"]
    port = media_host.server_address[1]
    MediaHost.routes = {"/page.jpg": (200, {"Content-Type": "image/jpeg"}, b"<html>no</html>"),
                        "/ok.jpg": (200, {}, jpeg())}
    not_a_photo = _open311_post_with_media(f"http://127.0.0.1:{port}/page.jpg")
    off_the_list = _open311_post_with_media(f"http://127.0.0.1:{port}/ok.jpg")
    assert sorted(queued_photo_ids(on_test_redis, open311_media_fetch_task)) == sorted(
        [not_a_photo.pk, off_the_list.pk])
    assert open311_media_fetch(report_id=not_a_photo.pk) == "refused"
    settings.OPEN311_MEDIA_HOSTS = ["media.nanyuan.example"]  # taken off after the POST
    assert open311_media_fetch(report_id=off_the_list.pk) == "refused"
    assert MediaHost.hits == ["/page.jpg"]
    statuses = set(Report.objects.filter(pk__in=[not_a_photo.pk, off_the_list.pk])
                   .values_list("media_status", flat=True))
    assert statuses == {Report.MediaStatus.REFUSED}
    assert open311_media_pending_queue(now=timezone.now() + timedelta(days=30)) == 0
    assert open311_media_fetch(report_id=not_a_photo.pk) == "skipped"
    assert ReportPhoto.objects.count() == 0


def test_open311_media_host_that_keeps_failing_is_asked_less_often_then_failed(
    reference_data, media_root, on_test_redis, media_host, settings
):
    """A host that does not answer with the file: the fetch stays pending and the sweep asks
    again after the lease times the attempts so far; after OPEN311_MEDIA_MAX_ATTEMPTS it is
    failed, for good (the old task retried three times in memory and forgot it)."""
    settings.OPEN311_MEDIA_HOSTS = ["127.0.0.1"]
    settings.OPEN311_MEDIA_MAX_ATTEMPTS = 3
    lease = timedelta(seconds=settings.OPEN311_MEDIA_LEASE_S)
    MediaHost.routes = {"/busy.jpg": (503, {}, b"busy")}
    report = _open311_post_with_media(
        f"http://127.0.0.1:{media_host.server_address[1]}/busy.jpg")
    on_test_redis.client(0).delete("celery")  # the job queued at the POST: run here instead

    outcomes = []
    for attempt in (1, 2, 3):
        outcomes.append(open311_media_fetch(report_id=report.pk))
        report.refresh_from_db()
        assert report.media_attempts == attempt
        if report.media_status != Report.MediaStatus.PENDING:
            break
        # Not before the lease × attempts is over; then once.
        assert open311_media_pending_queue(
            now=report.media_queued_at + lease * attempt - timedelta(seconds=1)) == 0
        assert open311_media_pending_queue(
            now=report.media_queued_at + lease * attempt + timedelta(seconds=1)) == 1
        assert queued_photo_ids(on_test_redis, open311_media_fetch_task) == [report.pk]
        on_test_redis.client(0).delete("celery")
    assert outcomes == ["pending", "pending", "failed"]
    assert report.media_status == Report.MediaStatus.FAILED
    assert MediaHost.hits == ["/busy.jpg"] * 3
    assert open311_media_pending_queue(now=timezone.now() + timedelta(days=30)) == 0
    assert open311_media_fetch(report_id=report.pk) == "skipped"
    assert len(MediaHost.hits) == 3
