"""Background work of the issues app (Celery on Redis). Every task is idempotent."""

from __future__ import annotations

import logging
import uuid

from celery import shared_task
from django.core.files.base import ContentFile
from django.db import transaction

from issues.models import ReportPhoto
from issues.photos import photo_renditions_make

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, max_retries=3, default_retry_delay=30)
def photo_renditions_make_task(photo_id: int) -> str:
    """Make the clean display copy and thumbnail of one photo; a second run changes nothing."""
    photo = ReportPhoto.objects.filter(pk=photo_id).first()
    if photo is None or photo.status == ReportPhoto.Status.READY:
        return "skipped"
    try:
        with photo.original.open("rb") as original:
            display, thumbnail = photo_renditions_make(original=original)
    except Exception:
        logger.exception("Photo %s could not be processed", photo_id)
        ReportPhoto.objects.filter(pk=photo_id).update(status=ReportPhoto.Status.FAILED)
        return "failed"
    name = uuid.uuid4().hex
    with transaction.atomic():
        # Lock the row: two deliveries of this task must not both attach files.
        photo = ReportPhoto.objects.select_for_update().get(pk=photo_id)
        if photo.status == ReportPhoto.Status.READY:
            return "skipped"
        photo.display.save(f"public/display/{name}.jpg", ContentFile(display), save=False)
        photo.thumbnail.save(f"public/thumbnails/{name}.jpg", ContentFile(thumbnail), save=False)
        photo.status = ReportPhoto.Status.READY
        photo.save(update_fields=["display", "thumbnail", "status"])
    return "ready"
