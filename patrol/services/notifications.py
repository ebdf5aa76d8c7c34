"""The in-app feed (a delivery of notifications): a user reads and marks read their own.

The rows are made by ``patrol.services.notify``; their text is
``patrol.notifications.content.notification_message``'s, written in the reader's language by
the API (patrol.api.notification_views).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicmap.errors import FieldError, NotFound
from patrol.models import Notification

MSG_NOTIFICATION_NOT_FOUND = _("No such notification.")


# --- the feed -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feed:
    notifications: list[Notification]
    unread: int
    next_before: int | None


def notification_feed(*, user, unread_only: bool = False, before: int | None = None,
                      limit: int = 50) -> Feed:
    """The user's own notifications, newest first, a page at a time (``before``: an id)."""
    mine = Notification.objects.filter(recipient=user)
    page = mine.order_by("-id")
    if unread_only:
        page = page.filter(read_at__isnull=True)
    if before is not None:
        page = page.filter(pk__lt=before)
    rows = list(page[:limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return Feed(notifications=rows, unread=mine.filter(read_at__isnull=True).count(),
                next_before=rows[-1].pk if more and rows else None)


def notification_mark_read(*, user, notification_id: int, at: datetime | None = None
                           ) -> Notification:
    """Mark one of the user's notifications read (again: no change); another's is 404."""
    at = at or timezone.now()
    with transaction.atomic():
        Notification.objects.filter(pk=notification_id, recipient=user,
                                    read_at__isnull=True).update(read_at=at)
        notification = Notification.objects.filter(pk=notification_id, recipient=user).first()
    if notification is None:
        raise NotFound(FieldError(None, "not_found", MSG_NOTIFICATION_NOT_FOUND))
    return notification


def notifications_mark_read(*, user, ids: list[int] | None, at: datetime | None = None) -> int:
    """Mark the user's unread notifications read: those of ``ids``, or all (None)."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=at or timezone.now())

