"""The office's case page (/office/case/<id>/): one case with its whole history, read once.

Who may read it: the office staff whose work covers the case's subdistrict and the district
role (``issues.visibility.office_covers``); for anyone else the page does not exist (None, a
404), even for a public case another subdistrict's office may see in the API. What of it they
see (reporters, descriptions, notes, photos) is ``issues.visibility.CaseAccess``'s rule, the
same object the API's serializers ask.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import BooleanField, ExpressionWrapper
from django.utils import timezone

from issues.models import LIVE_TASK_STATUSES, Case, CaseAction, CaseEvent, Report, Stage
from issues.photos import photo_exif_position
from issues.selectors import photo_url
from issues.visibility import CaseAccess, case_access, office_covers
from patrol.models import Task
from patrol.selectors import handler_name, task_resolution_overdue, task_response_overdue

# Event actions that link to another case, and the key of ``CaseEvent.data`` naming it.
LINKED_CASE_KEYS = {
    CaseAction.MERGE: "into", "merged_in": "from", CaseAction.SPLIT: "new_case",
    "split_from": "from",
}


@dataclass(frozen=True)
class Person:
    """Who reported or acted, as far as the reader may know (``CaseAccess.reporters``): a
    rider's display name (or the account's name), an Open311 reporter's contact details. A
    rider's profile phone is never here (the admin's only, docs/SECURITY.md)."""

    name: str = ""
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class PhotoLinks:
    thumbnail: str
    display: str


@dataclass(frozen=True)
class ReportRow:
    report: Report
    description: str | None  # None: the reader may not read it
    photos: list[PhotoLinks]
    reporter: Person | None  # None: the reader may not know


@dataclass(frozen=True)
class TaskRow:
    task: Task
    handler: str | None
    live: bool
    response_overdue: bool
    resolution_overdue: bool
    proof: PhotoLinks | None
    note: str | None
    handed_in_by: Person | None


@dataclass(frozen=True)
class EventRow:
    event: CaseEvent
    actor: Person | None  # None: the system, or the reader may not know
    note: str | None
    linked_case: int | None  # a merge's or split's other case


@dataclass(frozen=True)
class ConfirmationRow:
    at: datetime
    rider: Person | None
    distance_m: float | None
    photo: PhotoLinks | None


@dataclass(frozen=True)
class Verification:
    """What the office checks before closing a handed-in case: the reports' photos beside the
    proof, the worker's note, the time taken against the resolution deadline, and where the
    proof was taken (its original's EXIF position, when it has one and is still kept)."""

    task: TaskRow
    report_photos: list[PhotoLinks]
    handed_in_at: datetime
    resolution_due: datetime
    taken: timedelta  # from the offer to the hand-in, elapsed time
    margin: timedelta  # resolution_due − handed_in_at: negative when handed in late
    proof_position: tuple[float, float] | None  # (lon, lat) WGS 84

    @property
    def on_time(self) -> bool:
        return self.margin >= timedelta(0)


@dataclass(frozen=True)
class CasePage:
    case: Case
    access: CaseAccess
    reports: list[ReportRow]
    tasks: list[TaskRow]
    events: list[EventRow]
    confirmations: list[ConfirmationRow]
    merged_cases: list[int] = field(default_factory=list)  # cases merged into this one
    verification: Verification | None = None

    @property
    def live_task(self) -> TaskRow | None:
        return next((row for row in self.tasks if row.live), None)


def case_page_read(*, case_id: int, user, now: datetime | None = None) -> CasePage | None:
    """The case page's data for ``user``, or None when the case does not exist or is not of a
    subdistrict the user's office work covers. About ten queries whatever the history's length
    (the reports, photos, tasks, events, confirmations and people are each read in one)."""
    case = (Case.objects.select_related("category__group", "subdistrict", "community_grid",
                                        "unit_grid")
            .filter(pk=case_id).first())
    if case is None or not office_covers(user, subdistrict_id=case.subdistrict_id):
        return None
    now = now or timezone.now()
    access = case_access(user=user, case=case)
    reports = list(Report.objects.filter(case=case).select_related("category")
                   .prefetch_related("photos").order_by("received_at", "pk"))
    tasks = _task_rows(case, access, now=now)
    events = list(case.events.order_by("at", "pk"))
    confirmations = list(case.confirmations.select_related("photo").order_by("created_at", "pk"))
    people = _people(access, reports=reports, events=events, confirmations=confirmations,
                     tasks=[row.task for row in tasks])
    report_rows = [_report_row(report, access, people) for report in reports]
    tasks = [_with_person(row, people) for row in tasks]
    return CasePage(
        case=case, access=access, reports=report_rows, tasks=tasks,
        events=[EventRow(event=event, actor=people.get(event.actor_id),
                         note=event.note if access.event_note(event) and event.note else None,
                         linked_case=_linked_case(event))
                for event in events],
        confirmations=[ConfirmationRow(
            at=confirmation.created_at, rider=people.get(confirmation.rider_id),
            distance_m=confirmation.distance_m,
            photo=_links(confirmation.photo, access, owner_id=confirmation.rider_id))
            for confirmation in confirmations],
        merged_cases=list(case.merged_cases.order_by("pk").values_list("pk", flat=True)),
        verification=_verification(case, tasks, report_rows),
    )


def _task_rows(case: Case, access: CaseAccess, *, now: datetime) -> list[TaskRow]:
    """Every task of the case, oldest first, with "overdue" by the one definition
    (``patrol.selectors.task_response_overdue`` / ``task_resolution_overdue``)."""
    tasks = (Task.objects.filter(case=case)
             .select_related("team", "department", "proof_photo", "case__subdistrict")
             .annotate(response_late=ExpressionWrapper(task_response_overdue(now=now),
                                                       output_field=BooleanField()),
                       resolution_late=ExpressionWrapper(task_resolution_overdue(now=now),
                                                         output_field=BooleanField()))
             .order_by("offered_at", "pk"))
    return [TaskRow(task=task, handler=handler_name(task),
                    live=task.status in LIVE_TASK_STATUSES,
                    response_overdue=task.response_late, resolution_overdue=task.resolution_late,
                    proof=_links(task.proof_photo, access, owner_id=None),
                    note=task.note if access.notes and task.note else None, handed_in_by=None)
            for task in tasks]


def _people(access: CaseAccess, *, reports, events, confirmations, tasks) -> dict[int, Person]:
    """Every account named on the page, read once; empty when the reader may not know who
    reported or acted (``CaseAccess.reporters``)."""
    if not access.reporters:
        return {}
    ids = ({r.reporter_id for r in reports} | {e.actor_id for e in events}
           | {c.rider_id for c in confirmations} | {t.handed_in_by_id for t in tasks}) - {None}
    users = get_user_model().objects.filter(pk__in=ids).select_related("rider")
    return {user.pk: Person(name=_display_name(user)) for user in users}


def _display_name(user) -> str:
    rider = getattr(user, "rider", None)
    return (rider.display_name if rider else "") or user.get_full_name() or user.get_username()


def _with_person(row: TaskRow, people: dict[int, Person]) -> TaskRow:
    if row.task.handed_in_by_id is None:
        return row
    return TaskRow(**{**row.__dict__, "handed_in_by": people.get(row.task.handed_in_by_id)})


def _report_row(report: Report, access: CaseAccess, people: dict[int, Person]) -> ReportRow:
    reporter = None
    if access.reporters:
        contact = " ".join(filter(None, [report.contact_last_name, report.contact_first_name]))
        account = people.get(report.reporter_id, Person())
        reporter = Person(name=account.name or contact, phone=report.contact_phone,
                          email=report.contact_email)
    photos = [links for photo in report.photos.all()
              if (links := _links(photo, access, owner_id=report.reporter_id,
                                  private=report.category.is_private))]
    return ReportRow(report=report,
                     description=report.description if access.report_text(report) else None,
                     photos=photos, reporter=reporter)


def _links(photo, access: CaseAccess, *, owner_id: int | None,
           private: bool = False) -> PhotoLinks | None:
    """A ready photo's thumbnail and display URLs, if the reader may see them."""
    if photo is None or photo.status != "ready" or not access.photo(
            owner_id=owner_id, rendition="display", private=private):
        return None
    return PhotoLinks(thumbnail=photo_url(photo.pk, "thumbnail"),
                      display=photo_url(photo.pk, "display"))


def _linked_case(event: CaseEvent) -> int | None:
    key = LINKED_CASE_KEYS.get(event.action)
    value = (event.data or {}).get(key) if key else None
    return value if isinstance(value, int) else None


def _verification(case: Case, tasks: list[TaskRow],
                  reports: list[ReportRow]) -> Verification | None:
    """The verification panel's facts while the case waits for it (handed in)."""
    row = next((row for row in tasks if row.live and row.task.handed_in_at), None)
    if case.stage != Stage.HANDED_IN or row is None:
        return None
    task = row.task
    return Verification(
        task=row, report_photos=[photo for report in reports for photo in report.photos],
        handed_in_at=task.handed_in_at, resolution_due=task.resolution_due,
        taken=task.handed_in_at - task.offered_at,
        margin=task.resolution_due - task.handed_in_at,
        proof_position=_proof_position(task),
    )


def _proof_position(task: Task) -> tuple[float, float] | None:
    photo = task.proof_photo
    if photo is None or not photo.original:
        return None
    try:
        with photo.original.open("rb") as original:
            return photo_exif_position(original=original)
    except OSError:  # the file is gone (expired, a restore without media): no position
        return None

