"""What a notification carries and says: pure functions, no database, no delivery.

``patrol.services.notify`` reads the facts (the case, its task, the handler's names, the done
task's note and proof photo) and calls ``notification_data``; the data is frozen on the
``Notification`` row. Its text is written from that data in the reader's language when the feed
is read (``notification_message``) and in every language of the site for the webhook
(``notification_messages``).
"""

from __future__ import annotations

from datetime import date, datetime

from django.utils import formats, translation
from django.utils.translation import gettext_lazy as _

from patrol.workdays import SHANGHAI

MESSAGES = {
    "case_filed": _("Your report (case #%(case)s) has been accepted and filed."),
    "case_dispatched": _("Your report (case #%(case)s) has been handed to %(handler)s."),
    "case_closed": _("Case #%(case)s has been dealt with and closed. Thank you!"),
    "case_cancelled": _("Case #%(case)s was cancelled: %(reason)s"),
    # The rest of a rider's case, in a rider's words (no stage names, no office terms).
    "case_redispatched": _("Your report (case #%(case)s) is now with %(handler)s, who will "
                           "deal with it."),
    "case_moved": _("The place of your report (case #%(case)s) is looked after by %(to)s, "
                    "so it has been passed to them."),
    "case_handed_in": _("The work on your report (case #%(case)s) is finished; it is being "
                        "checked now."),
    "case_sent_back": _("Your report (case #%(case)s) needs more work: it has been sent back "
                        "to be put right."),
    "case_merged": _("Others reported the same problem: your report (case #%(from_case)s) "
                     "is now handled together with case #%(case)s."),
    "task_offered": _("New task: case #%(case)s (%(category)s)."),
    "task_assigned": _("Your team leader has given you case #%(case)s (%(category)s): it is "
                       "yours to do now."),
    "task_response_overdue": _("Case #%(case)s was not accepted by its response deadline."),
    "task_resolution_overdue": _("Case #%(case)s is past its resolution deadline."),
    "case_escalated": _("Case #%(case)s was escalated to %(department)s."),
    "case_transferred": _("Case #%(case)s was transferred from %(from)s to %(to)s: %(reason)s"),
    "case_urgent": _("Urgent: case #%(case)s (%(category)s) is with %(handler)s, to be "
                     "resolved by %(resolution_due)s."),
    "council_outcome": _("The riders' council of %(date)s discussed %(category)s in %(place)s: "
                         "%(outcome)s"),
    "award_granted": _("Congratulations! The trade union of %(union)s has named you "
                       "%(award)s for %(month)s. Thank you for looking out for the streets."),
}
DEADLINE_NEAR_MESSAGES = {
    "response": _("Case #%(case)s: accept it by %(due)s (the response deadline is near)."),
    "resolution": _("Case #%(case)s: hand the work in by %(due)s (the deadline is near)."),
}
MSG_GENERIC = _("An update on case #%(case)s.")
MSG_SOMEONE = _("a team")
MSG_WHOLE_SUBDISTRICT = _("the whole subdistrict")
FEED_LANGUAGES = ("zh-hans", "en")


# --- the data a notification carries ---------------------------------------------------------


def names_of(obj, prefix: str = "name") -> dict[str, str]:
    """An object's Chinese and English names, as a notification freezes them."""
    return {"zh": getattr(obj, f"{prefix}_zh"), "en": getattr(obj, f"{prefix}_en")}


def notification_data(*, kind: str, case, task=None, handler: dict | None = None,
                      note: str | None = None, proof_photo: dict | None = None,
                      department: dict | None = None, transfer: dict | None = None,
                      merged_from: int | None = None) -> dict:
    """What a notification of ``kind`` carries besides its case and task ids (JSON-safe), from
    facts already read: ``handler`` (names, case_dispatched and case_urgent), ``note`` and
    ``proof_photo`` (urls, case_closed; only what the reporters may see), ``department`` (names,
    case_escalated), ``transfer`` (the two subdistricts' names and the reason,
    case_transferred; the names only, case_moved), ``merged_from`` (the case merged into this
    one, case_merged)."""
    if case is None:
        return {}
    data: dict = {"case": case.pk, "category": case.category.code,
                  "category_name": names_of(case.category)}
    if kind == "case_cancelled":
        data["reason"] = case.cancel_reason
    elif kind in {"case_dispatched", "case_redispatched", "case_urgent"}:
        data["handler"] = handler
    elif kind == "case_closed":
        if note is not None:
            data["note"] = note
        if proof_photo is not None:
            data["proof_photo"] = proof_photo["display"]
            data["proof_photo_thumbnail"] = proof_photo["thumbnail"]
    elif kind == "case_escalated":
        data["department"] = department
    elif kind == "case_transferred":
        data.update({"from": transfer["from"], "to": transfer["to"],
                     "reason": transfer["reason"]})
    elif kind == "case_moved":  # the riders': the office's reason is not theirs to read
        data.update({"from": transfer["from"], "to": transfer["to"]})
    elif kind == "case_merged":
        data["from_case"] = merged_from
    if task is not None:
        data.update({"task": task.pk, "response_due": task.response_due.isoformat(),
                     "resolution_due": task.resolution_due.isoformat()})
    return data


def council_outcome_data(*, meeting_id: int, date: str, title: str, category,
                         community, outcome: str) -> dict:
    """What a council outcome carries to the riders who raised the topic (JSON-safe): the
    meeting, the topic's category and place (names in both languages; a topic of no community
    is the whole subdistrict) and the outcome as the union recorded it."""
    return {"meeting": meeting_id, "date": date, "title": title, "category": category.code,
            "category_name": names_of(category),
            "place": names_of(community) if community is not None else None,
            "outcome": outcome}


def label_names(label) -> dict[str, str]:
    """A lazily translated label (a choice's) in Chinese and English, as a notification
    freezes it."""
    names = {}
    for language, key in (("zh-hans", "zh"), ("en", "en")):
        with translation.override(language):
            names[key] = str(label)
    return names


def award_granted_data(*, award_id: int, kind: str, award_label, month: date,
                       subdistrict) -> dict:
    """What an award carries to its rider (JSON-safe): the award, its name and the union's
    subdistrict in both languages, and the month (``YYYY-MM``)."""
    return {"award": award_id, "kind": kind, "award_name": label_names(award_label),
            "month": month.strftime("%Y-%m"), "subdistrict": names_of(subdistrict)}


def _month_words(text: str | None) -> str:
    """``YYYY-MM`` as the reader's language writes a month (2026年11月, November 2026)."""
    if not text:
        return ""
    return formats.date_format(date.fromisoformat(f"{text}-01"), "YEAR_MONTH_FORMAT")


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
        "resolution_due": _local(data.get("resolution_due")),
        "from": _pick(data.get("from"), "—"),
        "to": _pick(data.get("to"), "—"),
        "date": data.get("date", ""),
        "place": _pick(data.get("place"), str(MSG_WHOLE_SUBDISTRICT)),
        "outcome": data.get("outcome", ""),
        "union": _pick(data.get("subdistrict"), "—"),
        "award": _pick(data.get("award_name"), data.get("kind", "")),
        "month": _month_words(data.get("month")),
        "from_case": data.get("from_case", "—"),
    }
    if kind == "task_deadline_near":
        template = DEADLINE_NEAR_MESSAGES.get(data.get("deadline", ""), MSG_GENERIC)
    else:
        template = MESSAGES.get(kind, MSG_GENERIC)
    return str(template) % values


def notification_messages(*, kind: str, data: dict, case_id: int | None) -> dict[str, str]:
    """The text in every language of the site (what the webhook carries)."""
    texts = {}
    for language in FEED_LANGUAGES:
        with translation.override(language):
            texts[language] = notification_message(kind=kind, data=data, case_id=case_id)
    return texts
