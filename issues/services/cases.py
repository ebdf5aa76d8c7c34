"""Writes for cases at intake: opening one, adding a report, a rider confirming one.

The lifecycle after intake (file, dispatch, close …) is the patrol app's state machine.
"""

from __future__ import annotations

from datetime import datetime
from typing import IO

from django.contrib.gis.db.models import Collect
from django.contrib.gis.geos import Point
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicmap.errors import Conflict, FieldError, NotFound
from civicmap.selectors import GridPlace
from civicmap.spatial import as_geometry_point
from issues.models import Case, CaseConfirmation, CaseEvent, Category, Report
from issues.photos import photo_inspect
from issues.services.photos import photo_store, stored_photos_cleanup

MSG_CASE_NOT_OPEN = _("This case is no longer open; report it again if the problem is back.")
MSG_CASE_PRIVATE = _("No such case.")


def case_event_write(*, case: Case, action: str, actor=None, from_stage: str = "",
                     to_stage: str = "", note: str = "", task=None, data: dict | None = None,
                     at: datetime | None = None) -> CaseEvent:
    """Append one event to the case's audit trail (never edited afterwards)."""
    return CaseEvent.objects.create(
        case=case, action=action, actor=actor, from_stage=from_stage, to_stage=to_stage,
        note=note, task=task, data=data or {}, at=at or timezone.now(),
    )


def case_open(*, category: Category, point: Point, now: datetime, place: GridPlace,
              follows: Case | None) -> Case:
    """A new case at the report's point and grids; linked to a closed case it repeats."""
    case = Case.objects.create(
        category=category, location=point, community_grid=place.community,
        unit_grid=place.unit_grid, follows=follows, created_at=now, last_report_at=now,
        updated_at=now,
    )
    case_event_write(case=case, action="created", to_stage=case.stage, at=now,
                     data={"follows": follows.pk} if follows else {})
    return case


def case_report_added(*, case: Case, report: Report, joined: bool) -> None:
    """Recompute what a case derives from its reports: location, counts, last report time.

    The location is the centroid (mean lon/lat) of its reports' points; the bulk path writes
    the same mean.
    """
    summary = Report.objects.filter(case=case).aggregate(
        points=Collect(as_geometry_point("location")),
        reports=Count("id"),
        reporters=Count("reporter", distinct=True),
        anonymous=Count("id", filter=Q(reporter__isnull=True)),
    )
    case.location = summary["points"].centroid
    case.report_count = summary["reports"]
    case.reporter_count = summary["reporters"] + summary["anonymous"]
    case.last_report_at = report.received_at
    case.updated_at = report.received_at
    case.save(update_fields=["location", "report_count", "reporter_count", "last_report_at",
                             "updated_at"])
    if joined:
        case_event_write(case=case, action="report_merged", at=report.received_at,
                         data={"report": report.pk})


def case_confirm(*, case_id: int, rider, client_uuid=None,
                 photo_upload: IO[bytes] | None = None) -> tuple[Case, bool]:
    """Add the rider as a confirmer of an open public case, once; returns (case, created).

    A repeat by the same rider changes nothing and answers ``created=False``.
    """
    inspected = photo_inspect(upload=photo_upload, field="photo") if photo_upload else None
    with stored_photos_cleanup() as stored, transaction.atomic():
        # Lock the case row: a confirmation must not race its closure.
        case = (Case.objects.select_for_update(of=("self",)).select_related("category")
                .filter(pk=case_id).first())
        if case is None or case.category.is_private:
            raise NotFound(FieldError(None, "not_found", MSG_CASE_PRIVATE))
        if not case.is_open:
            raise Conflict(FieldError(None, "not_open", MSG_CASE_NOT_OPEN))
        if CaseConfirmation.objects.filter(case=case, rider=rider).exists():
            return case, False
        photo = (
            photo_store(upload=photo_upload, inspected=inspected, stored=stored)
            if photo_upload and inspected else None
        )
        CaseConfirmation.objects.create(case=case, rider=rider, client_uuid=client_uuid,
                                        photo=photo)
        case_event_write(case=case, action="confirmed", actor=rider)
    return case, True
