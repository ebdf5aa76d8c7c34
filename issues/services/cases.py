"""Writes for cases at intake: opening one, adding a report, a rider confirming one.

The lifecycle after intake (file, dispatch, close …): issues.lifecycle (its table, the stage,
the events) and patrol.services.lifecycle (the actions' effects).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import IO

from django.conf import settings
from django.contrib.gis.db.models import Collect
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from civicmap.db import instance_loaded, row_insert
from civicmap.errors import Conflict, FieldError, InvalidInput, NotFound
from civicmap.models import Subdistrict
from civicmap.selectors import GridPlace
from civicmap.spatial import as_geometry_point
from issues.lifecycle import case_event_write
from issues.models import (
    CASE_SEARCH_TEXT_MAX,
    Case,
    CaseConfirmation,
    Category,
    Report,
    priority_for_urgency,
)
from issues.photos import photo_inspect
from issues.services.photos import photo_store, stored_photos_cleanup
from issues.sql import CASE_REPORT_JOINED

MSG_CASE_NOT_OPEN = _("This case is no longer open; report it again if the problem is back.")
MSG_CASE_PRIVATE = _("No such case.")
MSG_CONFIRM_TOO_FAR = _(
    "You are %(distance)s m from this case: confirm it from within %(limit)s m."
)


def search_text_build(descriptions: Iterable[str]) -> str:
    """A case's search text from its reports' descriptions, oldest first: each on a line of its
    own unless empty or already there, at most CASE_SEARCH_TEXT_MAX characters (the rule of
    issues.sql.case_search_text_sql, which intake and the bulk load apply one report at a
    time)."""
    text = ""
    for description in descriptions:
        if not description or description in text or len(text) >= CASE_SEARCH_TEXT_MAX:
            continue
        text = f"{text}\n{description}" if text else description
        text = text[:CASE_SEARCH_TEXT_MAX]
    return text


def case_open(*, category: Category, point: Point, now: datetime, place: GridPlace,
              follows_id: int | None, description: str = "",
              channel: str = Report.Channel.APP) -> Case:
    """A new case at the report's point and grids, with the first report's words and channel
    (the console searches and filters by them); linked to a closed case it repeats."""
    case = row_insert(instance=Case(
        category=category, location=point, subdistrict_id=place.subdistrict_id,
        community_grid_id=place.community_id,
        unit_grid_id=place.unit_grid_id, follows_id=follows_id, created_at=now, last_report_at=now,
        updated_at=now, report_count=1, reporter_count=1,
        priority=priority_for_urgency(category.urgency),
        search_text=search_text_build([description]), channel=channel,
    ))
    case_event_write(case=case, action="created", to_stage=case.stage, at=now,
                     data={"follows": follows_id} if follows_id else {})
    if place.names is not None:
        # Its subdistrict as .only() loads it, from grid_locate's names: dispatch on intake
        # names the subdistrict's trade union without reading the row and its boundary (D-082).
        case.subdistrict = instance_loaded(
            model=Subdistrict, id=place.subdistrict_id, code=place.names.subdistrict_code,
            name_zh=place.names.subdistrict_name_zh, name_en=place.names.subdistrict_name_en)
    return case


def case_summary_recount(*, case: Case, last_report: Report) -> None:
    """Recompute what a case derives from its reports (after a merge or split moves reports):
    location, counts, last report time, the words the console searches and the first report's
    channel.

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
    case.last_report_at = last_report.received_at
    case.updated_at = last_report.received_at
    in_order = Report.objects.filter(case=case).order_by("received_at", "id")
    case.search_text = search_text_build(in_order.values_list("description", flat=True))
    case.channel = in_order.values_list("channel", flat=True).first() or case.channel
    case.save(update_fields=["location", "report_count", "reporter_count", "last_report_at",
                             "updated_at", "search_text", "channel"])


def case_report_joined(*, case_id: int, report: Report) -> str:
    """A new report joined an open case: move its location, count it, and log the merge.
    Returns the case's stage (locked by the caller until its commit)."""
    with connection.cursor() as cursor:
        cursor.execute(CASE_REPORT_JOINED, {
            "lon": report.location.x, "lat": report.location.y, "reporter": report.reporter_id,
            "case": case_id, "report": report.pk, "at": report.received_at,
            "description": report.description})
        (stage,) = cursor.fetchone()
    case_event_write(case=Case(pk=case_id), action="report_merged", at=report.received_at,
                     data={"report": report.pk})
    return stage


def case_confirm(*, case_id: int, rider, position: Point, client_uuid=None,
                 photo_upload: IO[bytes] | None = None) -> tuple[Case, bool]:
    """Add the rider as a confirmer of an open public case, once; returns (case, created).

    ``position`` is where the rider is (WGS 84): a confirmation earns points, so it is made
    on the spot, within CONFIRM_MAX_DISTANCE_M metres of the case (or the category's duplicate
    radius when larger), measured on the spheroid by PostGIS. A repeat by the same rider
    changes nothing and answers ``created=False``.

    Raises NotFound (unknown or private case), Conflict (closed) or InvalidInput (too far,
    naming ``lon``).
    """
    inspected = photo_inspect(upload=photo_upload, field="photo") if photo_upload else None
    with stored_photos_cleanup() as stored, transaction.atomic():
        # Lock the case row: a confirmation must not race its closure.
        case = (Case.objects.select_for_update(of=("self",)).select_related("category")
                .annotate(distance=Distance("location", position))  # geography: metres
                .filter(pk=case_id).first())
        if case is None or case.category.is_private:
            raise NotFound(FieldError(None, "not_found", MSG_CASE_PRIVATE))
        if not case.is_open:
            raise Conflict(FieldError(None, "not_open", MSG_CASE_NOT_OPEN))
        limit_m = max(settings.CONFIRM_MAX_DISTANCE_M, case.category.merge_radius_m)
        if case.distance.m > limit_m:
            raise InvalidInput(FieldError("lon", "too_far", MSG_CONFIRM_TOO_FAR % {
                "distance": round(case.distance.m), "limit": limit_m}))
        if CaseConfirmation.objects.filter(case=case, rider=rider).exists():
            return case, False
        photo = (
            photo_store(upload=photo_upload, inspected=inspected, stored=stored)
            if photo_upload and inspected else None
        )
        CaseConfirmation.objects.create(case=case, rider=rider, client_uuid=client_uuid,
                                        photo=photo, position=position,
                                        distance_m=case.distance.m)
        case_event_write(case=case, action="confirmed", actor=rider)
    return case, True
