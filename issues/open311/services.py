"""Writes of the Open311 API: who posts (api_key), the request itself, and its media.

A POST goes through ``issues.services.intake.report_create`` with the Open311 channel's rules
(no client_uuid, photos optional, description up to 4,000 characters), so grids, duplicate
merging, aggregates, routing and, for a rider's token, the hourly limit are the native API's.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import requests
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.gis.geos import Point
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.models import Token

from civicmap.errors import DomainError, FieldError, InvalidInput, PermissionRefused, RateLimited
from civicmap.i18n import name_field
from civicmap.models import WGS84, Subdistrict
from civicmap.roles import user_is_rider
from civicmap.selectors import grid_locate, subdistrict_list
from issues.models import ApiClient, Report
from issues.open311.inputs import PostInput, media_host_allowed
from issues.photos import photo_inspect
from issues.services.intake import (
    OPEN311_CHANNEL,
    ReportInput,
    report_create,
    report_input_parse,
)
from issues.services.outbox import outbox_job_queue, outbox_pending_queue
from issues.services.photos import photo_store, stored_photos_cleanup

logger = logging.getLogger(__name__)

MSG_API_KEY_MISSING = _("Send an api_key to post a service request.")
MSG_API_KEY_INVALID = _("This api_key is not valid.")
MSG_JURISDICTION_MISMATCH = _("This place (lat, long) lies in %(place)s, jurisdiction_id "
                              "%(code)s, not in %(sent)s: send that code, or no jurisdiction_id.")
MSG_KEY_RATE_LIMITED = _("This api_key has posted %(limit)d service requests in the last hour, "
                         "the most allowed. Try again in %(minutes)d minutes.")

# The intake service's field names, as an Open311 client knows them.
OPEN311_FIELD_NAMES = {"lon": "long", "lat": "lat", "category": "service_code",
                       "photos": "media_url"}
MEDIA_TIMEOUT_S = (5, 20)  # seconds: to connect, then between bytes
MEDIA_CHUNK_BYTES = 64 * 1024
OPEN311_MEDIA_TASK = "issues.tasks.open311_media_fetch_task"  # queued by name (outbox)


@dataclass(frozen=True)
class Poster:
    """Who posts: an organisation's ApiClient, or a rider through their app token."""

    api_client: ApiClient | None = None
    reporter: AbstractBaseUser | None = None


def open311_poster_resolve(*, api_key: str | None) -> Poster:
    """The active ApiClient with this key, else the active rider whose DRF token it is.

    Raises PermissionRefused (403) for a missing key, an unknown one, an inactive client, or the
    token of someone who is not an active rider.
    """
    if not api_key:
        raise PermissionRefused(FieldError("api_key", "required", MSG_API_KEY_MISSING))
    client = ApiClient.objects.filter(api_key=api_key, is_active=True).first()
    if client is not None:
        return Poster(api_client=client)
    token = Token.objects.select_related("user").filter(key=api_key).first()
    if token is not None and token.user.is_active and user_is_rider(token.user):
        return Poster(reporter=token.user)
    raise PermissionRefused(FieldError("api_key", "invalid", MSG_API_KEY_INVALID))


def open311_request_create(*, data: PostInput, poster: Poster,
                           jurisdiction: Subdistrict | None = None) -> Report:
    """A new report (a POST is never a replay: Open311 has no client_uuid).

    With a ``jurisdiction`` (a subdistrict), the place must lie in it. Raises InvalidInput
    (400) naming Open311 parameters, or RateLimited for a rider's token. The media fetch job is
    written with the report and queued after the commit.
    """
    raw = {"category": data.category.code, "description": data.description,
           "lon": data.long, "lat": data.lat, "coord_system": "wgs84"}
    report_data = report_input_parse(raw=raw, contact=data.contact, attributes=data.attributes,
                                     media_url=data.media_url)
    if jurisdiction is not None:
        _jurisdiction_match_check(report_data, jurisdiction)
    try:
        with transaction.atomic():
            if poster.api_client is not None:
                _api_client_rate_limit_check(poster.api_client)
            result = report_create(channel=OPEN311_CHANNEL, data=report_data,
                                   reporter=poster.reporter, api_client=poster.api_client)
    except DomainError as error:
        raise _with_open311_names(error) from error
    report = result.report
    if report.media_url:
        # The job (media_status pending) was written with the report; this hands it over,
        # best effort and never raising: with Redis down the answer is still 201 and the sweep
        # (open311_media_pending_queue) hands it over once Redis is back.
        transaction.on_commit(partial(open311_media_queue, report_id=report.pk))
    return report


def _jurisdiction_match_check(data: ReportInput, jurisdiction: Subdistrict) -> None:
    """Refuse (400, naming ``jurisdiction_id``) a place that lies in another subdistrict than
    the one the client named. A place that cannot be read, or lies outside every subdistrict,
    is left to the intake service, which names the field and says why."""
    lon, lat = data.lon, data.lat
    if lon is None or lat is None or not (math.isfinite(lon) and math.isfinite(lat)
                                          and -180 <= lon <= 180 and -90 <= lat <= 90):
        return
    place = grid_locate(point=Point(lon, lat, srid=WGS84))
    if place is None or place.subdistrict_id == jurisdiction.pk:
        return
    actual = subdistrict_list().get(pk=place.subdistrict_id)
    raise InvalidInput(FieldError("jurisdiction_id", "mismatch", MSG_JURISDICTION_MISMATCH % {
        "place": getattr(actual, name_field()), "code": actual.code, "sent": jurisdiction.code}))


def _api_client_rate_limit_check(api_client: ApiClient) -> None:
    """At most OPEN311_REQUESTS_PER_HOUR_PER_KEY posts per key in any hour (a rider's token is
    held to REPORTS_PER_HOUR_PER_RIDER by the intake service instead). Raises RateLimited."""
    # The client's row stays locked until this post's report is committed: concurrent posts
    # with one key are counted one after the other, so a burst cannot all pass the count.
    ApiClient.objects.select_for_update().filter(pk=api_client.pk).values_list("pk").get()
    limit = settings.OPEN311_REQUESTS_PER_HOUR_PER_KEY
    since = timezone.now() - timedelta(hours=1)
    recent = list(  # received_at is indexed: the last hour's rows only
        Report.objects.filter(api_client=api_client, received_at__gt=since)
        .order_by("-received_at").values_list("received_at", flat=True)[:limit]
    )
    if len(recent) < limit:
        return
    # The oldest of the last ``limit`` posts leaves the window first.
    retry_after = max(1, math.ceil((recent[-1] + timedelta(hours=1)
                                    - timezone.now()).total_seconds()))
    raise RateLimited(
        FieldError("api_key", "rate_limited", MSG_KEY_RATE_LIMITED % {
            "limit": limit, "minutes": math.ceil(retry_after / 60)}),
        retry_after_s=retry_after,
    )


def _with_open311_names(error: DomainError) -> DomainError:
    renamed = tuple(FieldError(OPEN311_FIELD_NAMES.get(item.field or "", item.field),
                               item.code, item.message) for item in error.errors)
    if isinstance(error, RateLimited):
        return RateLimited(*renamed, retry_after_s=error.retry_after_s)
    return type(error)(*renamed, extra=error.extra)


def open311_media_queue(*, report_id: int) -> bool:
    """Hand one report's media fetch to Celery and note when; False (logged) if the broker
    refused. Never raises (issues.services.outbox)."""
    return outbox_job_queue(task_name=OPEN311_MEDIA_TASK, rows=Report.objects.all(),
                            pk=report_id, queued_field="media_queued_at")


def open311_media_pending_queue(*, now: datetime | None = None) -> int:
    """The sweep of the media outbox: hand to Celery every pending fetch never queued and older
    than PHOTO_QUEUE_GRACE_S, or queued more than OPEN311_MEDIA_LEASE_S × its attempts ago (the
    job was lost, its worker died, or the host did not answer: asked less often each time).
    Returns how many were queued."""
    return outbox_pending_queue(
        task_name=OPEN311_MEDIA_TASK,
        pending=Report.objects.filter(media_status=Report.MediaStatus.PENDING),
        created_field="received_at", queued_field="media_queued_at",
        attempts_field="media_attempts", grace_s=settings.PHOTO_QUEUE_GRACE_S,
        lease_s=settings.OPEN311_MEDIA_LEASE_S, now=now or timezone.now(),
    )


def open311_media_fetch(*, report_id: int) -> str:
    """The media job: fetch a report's ``media_url`` into a private original; the display copy
    and thumbnail follow from the usual renditions job. Only hosts on OPEN311_MEDIA_HOSTS are
    ever contacted (checked again here: the setting may have changed since the POST), redirects
    are not followed, and at most PHOTO_MAX_BYTES + 1 bytes are read.

    Records the outcome on the report and returns it: ``fetched``; ``refused`` (host not
    allowed, or not a photo: final); ``pending`` (the host did not answer with the file: the
    sweep tries again later); ``failed`` (the job was started OPEN311_MEDIA_MAX_ATTEMPTS times
    without a file); ``skipped`` (no longer pending: idempotent, a second delivery is a no-op).
    A storage or database error propagates: the job stays pending for the sweep.
    """
    # Noted in its own commit before the work, so a worker killed mid-fetch still counts it.
    started = Report.objects.filter(pk=report_id, media_status=Report.MediaStatus.PENDING) \
        .update(media_attempts=F("media_attempts") + 1)
    if not started:
        return "skipped"
    report = Report.objects.only("id", "media_url", "media_attempts").get(pk=report_id)
    last_attempt = report.media_attempts >= settings.OPEN311_MEDIA_MAX_ATTEMPTS
    if report.media_attempts > settings.OPEN311_MEDIA_MAX_ATTEMPTS:
        logger.error("Report %s: media fetch started %s times, given up", report_id,
                     report.media_attempts - 1)
        return _media_settle(report_id, Report.MediaStatus.FAILED)
    if not media_host_allowed(report.media_url):
        logger.warning("Report %s: media host not allowed, not fetched", report_id)
        return _media_settle(report_id, Report.MediaStatus.REFUSED)
    try:
        data = _download(report.media_url)
    except requests.RequestException:
        logger.warning("Report %s: media could not be fetched (attempt %s of %s)", report_id,
                       report.media_attempts, settings.OPEN311_MEDIA_MAX_ATTEMPTS, exc_info=True)
        if last_attempt:
            return _media_settle(report_id, Report.MediaStatus.FAILED)
        # Pending, and queued now: the sweep asks again once the lease (× attempts) is over.
        Report.objects.filter(pk=report_id, media_status=Report.MediaStatus.PENDING).update(
            media_queued_at=timezone.now())
        return "pending"
    upload = ContentFile(data, name="media")
    try:
        inspected = photo_inspect(upload=upload, field="media_url")
    except InvalidInput as refusal:
        logger.warning("Report %s: media refused: %s", report_id, refusal)
        return _media_settle(report_id, Report.MediaStatus.REFUSED)
    with stored_photos_cleanup() as stored, transaction.atomic():
        # Lock the report row: two deliveries of this job must not both store the photo.
        report = Report.objects.select_for_update().get(pk=report_id)
        if report.media_status != Report.MediaStatus.PENDING:
            return "skipped"
        photo_store(upload=upload, inspected=inspected, stored=stored, report=report)
        report.media_status = Report.MediaStatus.FETCHED
        report.save(update_fields=["media_status"])
    return "fetched"


def _media_settle(report_id: int, status: str) -> str:
    Report.objects.filter(pk=report_id, media_status=Report.MediaStatus.PENDING).update(
        media_status=status)
    return status


def _download(url: str) -> bytes:
    limit = settings.PHOTO_MAX_BYTES + 1  # one byte more lets photo_inspect say "too large"
    with requests.get(url, stream=True, timeout=MEDIA_TIMEOUT_S, allow_redirects=False,
                      headers={"User-Agent": "Nanyuan-CivicMap-Open311/1"}) as response:
        if response.status_code != 200:
            raise requests.HTTPError(f"HTTP {response.status_code}", response=response)
        chunks, size = [], 0
        for chunk in response.iter_content(MEDIA_CHUNK_BYTES):
            chunks.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
    return b"".join(chunks)[:limit]
