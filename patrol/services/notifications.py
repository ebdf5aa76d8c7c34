"""The in-app feed: what each notification says, the data it carries, reading and marking read.

Who hears what (``patrol.services.alerts.notify`` picks the recipients):

* a rider, of their report being filed, dispatched, closed (with the proof photo of a public
  case, and the union's reply to a rider's need; never a team's hand-in note) or cancelled
  (with the reason);
* a team (leader and members; a department's liaisons; union staff for the union), of a new
  task and of a deadline coming close (``tasks_deadline_near_scan``);
* a team leader and the office, of an escalation; the leader of an overdue task, the office of
  a task past its resolution deadline.

The data a notification carries is frozen when it is made (the webhook sends the same); its
message is written from that data in the reader's language when the feed is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from civicmap.errors import FieldError, NotFound
from issues.models import Case
from issues.selectors import photo_url
from issues.visibility import NOTES_FOR_REPORTERS, case_is_public
from patrol.models import Notification, Task
from patrol.workdays import SHANGHAI

MSG_NOTIFICATION_NOT_FOUND = _("No such notification.")

MESSAGES = {
    "case_filed": _("Your report (case #%(case)s) has been accepted and filed."),
    "case_dispatched": _("Your report (case #%(case)s) has been handed to %(handler)s."),
    "case_closed": _("Case #%(case)s has been dealt with and closed. Thank you!"),
    "case_cancelled": _("Case #%(case)s was cancelled: %(reason)s"),
    "task_offered": _("New task: case #%(case)s (%(category)s)."),
    "task_response_overdue": _("Case #%(case)s was not accepted by its response deadline."),
    "task_resolution_overdue": _("Case #%(case)s is past its resolution deadline."),
    "case_escalated": _("Case #%(case)s was escalated to %(department)s."),
}
DEADLINE_NEAR_MESSAGES = {
    "response": _("Case #%(case)s: accept it by %(due)s (the response deadline is near)."),
    "resolution": _("Case #%(case)s: hand the work in by %(due)s (the deadline is near)."),
}
MSG_GENERIC = _("An update on case #%(case)s.")
MSG_SOMEONE = _("a team")
FEED_LANGUAGES = ("zh-hans", "en")


# --- the data a notification carries ---------------------------------------------------------


def _names(obj, prefix: str = "name") -> dict[str, str]:
    return {"zh": getattr(obj, f"{prefix}_zh"), "en": getattr(obj, f"{prefix}_en")}


def _handler_names(task: Task | None) -> dict[str, str] | None:
    if task is None:
        return None
    if task.team_id:
        return _names(task.team)
    if task.department_id:
        return _names(task.department)
    return {"zh": "南苑街道总工会", "en": "the subdistrict trade union"}


def notification_data_build(*, kind: str, case: Case | None, task: Task | None) -> dict:
    """What a notification of ``kind`` carries besides its case and task ids (JSON-safe)."""
    if case is None:
        return {}
    data: dict = {"case": case.pk, "category": case.category.code,
                  "category_name": _names(case.category)}
    if kind == "case_cancelled":
        data["reason"] = case.cancel_reason
    elif kind == "case_dispatched":
        live = task or Task.objects.filter(case=case).select_related(
            "team", "department").order_by("-offered_at", "-id").first()
        data["handler"] = _handler_names(live)
    elif kind == "case_closed":
        done = (Task.objects.filter(case=case, status=Task.Status.DONE)
                .order_by("-finished_at", "-id").first())
        if done is not None:
            # To the reporters: a note only if written to them (the union's reply), a proof
            # photo only if they may see it (a public case's): issues.visibility.
            addressed = case.events.filter(task=done, action__in=NOTES_FOR_REPORTERS).last()
            if addressed is not None:
                data["note"] = addressed.note
            if case_is_public(case):
                data["proof_photo"] = photo_url(done.proof_photo_id, "display")
                data["proof_photo_thumbnail"] = photo_url(done.proof_photo_id, "thumbnail")
    elif kind == "case_escalated":
        escalated_to = (Task.objects.filter(case=case, department__isnull=False)
                        .select_related("department").order_by("-offered_at", "-id").first())
        data["department"] = _names(escalated_to.department) if escalated_to else None
    if task is not None:
        data.update({"task": task.pk, "response_due": task.response_due.isoformat(),
                     "resolution_due": task.resolution_due.isoformat()})
    return data


# --- what it says -------------------------------------------------------------------------------


def _pick(names: dict | None, fallback: str) -> str:
    if not names:
        return fallback
    language = translation.get_language() or "zh-hans"
    return names.get("en" if language.startswith("en") else "zh") or fallback


def _local(iso: str | None) -> str:
    if not iso:
        return ""
    moment = datetime.fromisoformat(iso)
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def notification_message(*, kind: str, data: dict, case_id: int | None) -> str:
    """The notification's text in the active language, from its frozen data."""
    values = {
        "case": case_id if case_id is not None else data.get("case", "—"),
        "reason": data.get("reason", ""),
        "category": _pick(data.get("category_name"), data.get("category", "")),
        "handler": _pick(data.get("handler"), str(MSG_SOMEONE)),
        "department": _pick(data.get("department"), "—"),
        "due": _local(data.get("due")),
    }
    if kind == "task_deadline_near":
        template = DEADLINE_NEAR_MESSAGES.get(data.get("deadline", ""), MSG_GENERIC)
    else:
        template = MESSAGES.get(kind, MSG_GENERIC)
    return str(template) % values


def notification_messages(notification: Notification) -> dict[str, str]:
    """The text in every language of the site (what the webhook carries)."""
    texts = {}
    for language in FEED_LANGUAGES:
        with translation.override(language):
            texts[language] = notification_message(kind=notification.kind,
                                                   data=notification.data,
                                                   case_id=notification.case_id)
    return texts


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

