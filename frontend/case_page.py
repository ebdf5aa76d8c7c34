"""What the office's case page shows, in the reader's language: every code as its label.

``case_page_context`` turns ``patrol.selectors_case.CasePage`` (the data, already filtered by
who may see what) into plain values for frontend/case.html. Nothing here reads the database.
Stages, priorities, task statuses and kinds are shown by their labels only; their codes
appear in ``data-`` attributes for the scripts and tests, never as text.
"""

from __future__ import annotations

from datetime import datetime

from django.urls import reverse
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from civicmap.i18n import name_field
from frontend.maps.case_map import MapPoint
from frontend.maps.console import category_kind_labels, event_labels
from issues.models import CaseAction, Category, Priority, Report, Stage, TaskStatus
from patrol.selectors_case import CasePage, Person, PhotoLinks, TaskRow, Verification


def _label(choices, value) -> str:
    try:
        return str(choices(value).label)
    except ValueError:  # a value the enum no longer has: say so, never show the code
        return pgettext("unknown code", "Other")


def _person(person: Person | None) -> dict | None:
    return None if person is None else {"name": person.name, "phone": person.phone,
                                        "email": person.email}


def _photo(links: PhotoLinks | None) -> dict | None:
    return None if links is None else {"thumbnail": links.thumbnail, "display": links.display}


def _case_link(case_id: int | None) -> dict | None:
    if case_id is None:
        return None
    return {"id": case_id, "url": reverse("frontend:office-case", kwargs={"case_id": case_id})}


def _duration(start: datetime, end: datetime) -> str:
    """A span as "2 days, 3 hours" in the active language (Django's own wording)."""
    return timesince(start, end, depth=2)


def _deadline_text(amount, unit: str) -> str:
    value = f"{amount.normalize():f}" if hasattr(amount, "normalize") else str(amount)
    if unit == Category.DeadlineUnit.WORKING_DAYS:
        return _("%(amount)s working days") % {"amount": value}
    return _("%(amount)s hours") % {"amount": value}


def _task(row: TaskRow) -> dict:
    task = row.task
    return {
        "id": task.pk, "handler": row.handler or "", "live": row.live,
        "status": task.status, "status_label": _label(TaskStatus, task.status),
        "offered_at": task.offered_at, "response_due": task.response_due,
        "resolution_due": task.resolution_due, "accepted_at": task.accepted_at,
        "handed_in_at": task.handed_in_at, "finished_at": task.finished_at,
        "response_overdue": row.response_overdue, "resolution_overdue": row.resolution_overdue,
        "note": row.note, "proof": _photo(row.proof), "handed_in_by": _person(row.handed_in_by),
    }


def _verification(verification: Verification | None, category: Category) -> dict | None:
    if verification is None:
        return None
    late = not verification.on_time
    start, end = sorted([verification.handed_in_at, verification.resolution_due])
    margin = _duration(start, end)
    return {
        "task": _task(verification.task),
        "report_photos": [_photo(p) for p in verification.report_photos],
        "handed_in_at": verification.handed_in_at,
        "resolution_due": verification.resolution_due,
        "deadline": _deadline_text(category.resolution_deadline, category.resolution_unit),
        "taken": _duration(verification.task.task.offered_at, verification.handed_in_at),
        "on_time": not late,
        "margin": (_("%(span)s after the deadline") if late
                   else _("%(span)s before the deadline")) % {"span": margin},
        "proof_position": verification.proof_position,
    }


def _report(row, label: str) -> dict:
    report: Report = row.report
    return {
        "id": report.pk, "received_at": report.received_at,
        "channel": _label(Report.Channel, report.channel),
        "category": getattr(report.category, label),
        "description": row.description, "photos": [_photo(p) for p in row.photos],
        "reporter": _person(row.reporter),
    }


def case_page_context(*, page: CasePage, allowed: list[str], may_note: bool) -> dict:
    """The template's values for ``page``; ``allowed`` are the lifecycle actions the reader may
    take now (``patrol.services.lifecycle.case_allowed_actions``), ``may_note`` whether they
    may add an internal note."""
    case, label = page.case, name_field()
    stage_labels = {stage.value: str(stage.label) for stage in Stage}
    labels = event_labels()
    live = page.live_task
    timeline = []
    for row in page.events:
        event = row.event
        moved = bool(event.to_stage) and event.to_stage != event.from_stage
        timeline.append({
            "id": event.pk, "at": event.at, "action": event.action,
            "label": labels.get(event.action) or pgettext("case history", "Other change"),
            "actor": _person(row.actor), "system": event.actor_id is None,
            "stage": stage_labels.get(event.to_stage, "") if moved else "",
            "note": row.note, "linked": _case_link(row.linked_case),
            "report": (event.data or {}).get("report"),
        })
    return {
        "case": {
            "id": case.pk, "stage": case.stage, "stage_label": stage_labels.get(case.stage, ""),
            "category": getattr(case.category, label), "category_code": case.category.code,
            "kind": category_kind_labels().get(case.category.kind, ""),
            "group": getattr(case.category.group, label),
            "private": case.category.is_private,
            "priority": case.priority, "priority_label": _label(Priority, case.priority),
            "subdistrict": getattr(case.subdistrict, label),
            "community": getattr(case.community_grid, label, "") if case.community_grid else "",
            "unit_grid": case.unit_grid.grid_id if case.unit_grid else "",
            "created_at": case.created_at, "closed_at": case.closed_at,
            "report_count": case.report_count, "reporter_count": case.reporter_count,
            "merged_into": _case_link(case.merged_into_id),
            "follows": _case_link(case.follows_id),
            "merged_cases": [_case_link(pk) for pk in page.merged_cases],
        },
        "live_task": _task(live) if live else None,
        "tasks": [_task(row) for row in page.tasks],
        "timeline": timeline,
        "reports": [_report(row, label) for row in page.reports],
        "confirmations": [{"at": c.at, "rider": _person(c.rider), "photo": _photo(c.photo),
                           "distance_m": round(c.distance_m) if c.distance_m is not None
                           else None} for c in page.confirmations],
        "verification": _verification(page.verification, case.category),
        "reporters_visible": page.access.reporters,
        "may_verify": CaseAction.VERIFY in allowed,
        "may_sendback": CaseAction.SENDBACK in allowed,
        "may_note": may_note,
        # the dispatch panel: while the case may be dispatched, or offered again elsewhere
        "may_dispatch": CaseAction.DISPATCH in allowed or CaseAction.REDISPATCH in allowed,
    }


def case_map_points(page: CasePage) -> tuple[list[MapPoint], MapPoint | None]:
    """The reports' points and the proof's position for the case map (frontend.maps.case_map)."""
    reports = [MapPoint(lon=row.report.location.x, lat=row.report.location.y,
                        label=_("Report #%(id)s") % {"id": row.report.pk})
               for row in page.reports]
    position = page.verification.proof_position if page.verification else None
    proof = (MapPoint(lon=position[0], lat=position[1], label=_("Hand-in proof"))
             if position else None)
    return reports, proof

