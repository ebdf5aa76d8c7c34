"""Reads of the Open311 API: discovery, services and their definitions, service requests.

Every function returns plain data (dicts and lists in the spec's field order) that
``issues.open311.formats`` writes as XML or JSON. Names and messages follow the request's
language (Chinese by default, English on ``Accept-Language: en``).

A service request is one report of a public category; its ``status`` is its case's (open until
the case is closed or cancelled). Reporters' contact details, device and account IDs, the API
client and the reporter never appear here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.gis.geos import Point
from django.contrib.gis.measure import D
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from civicmap.i18n import name_field
from civicmap.selectors import subdistrict_list
from issues.hooks import task_handling
from issues.models import (
    OPEN_STAGES,
    Case,
    Category,
    Report,
    ReportPhoto,
    Stage,
)
from issues.open311.definitions import BEIJING, ServiceAttribute, service_attributes
from issues.selectors import photo_url
from issues.selectors_public import case_public_history
from issues.visibility import report_text_public

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = ["text/xml", "application/json"]
# When this server's Open311 interface last changed (discovery's ``changeset``).
CHANGESET = datetime(2026, 11, 29, 12, 0, tzinfo=BEIJING)
DEFAULT_JURISDICTION_ID = "nanyuan.fengtai.beijing"
REQUESTS_MAX = 1000  # the spec's default limit, and the largest page_size

MSG_CONTACT = _("Nanyuan Subdistrict grid management centre (南苑街道网格化管理中心), "
                "Fengtai District, Beijing")
MSG_KEY_SERVICE = _("Organisations ask the subdistrict office for an api_key; riders may use "
                    "the token of their rider app.")
MSG_SERVICE_NOTICE = _("Response within %(response)s; resolution within %(resolution)s.")
KIND_LABELS = {"C": _("Components"), "E": _("Events"), "L": _("Local services")}


def district_jurisdiction_id() -> str:
    """This server's own jurisdiction id: the whole district, as leaving ``jurisdiction_id``
    out (D-052)."""
    return getattr(settings, "OPEN311_JURISDICTION_ID", DEFAULT_JURISDICTION_ID)


def jurisdiction_list() -> list[dict]:
    """Every subdistrict as a jurisdiction: its code is the ``jurisdiction_id`` that narrows
    every call to it; none means the whole district."""
    label = name_field()
    return [{"jurisdiction_id": subdistrict.code, "name": getattr(subdistrict, label),
             "name_zh": subdistrict.name_zh, "name_en": subdistrict.name_en}
            for subdistrict in subdistrict_list()]


def discovery(*, endpoint_url: str) -> dict:
    """The spec's discovery, and (a foreign member) the jurisdictions this endpoint serves."""
    return {
        "changeset": CHANGESET,
        "contact": str(MSG_CONTACT),
        "key_service": str(MSG_KEY_SERVICE),
        "endpoints": [{
            "specification": SPECIFICATION, "url": endpoint_url, "changeset": CHANGESET,
            "type": "production", "formats": FORMATS,
        }],
        "jurisdictions": jurisdiction_list(),
    }


# --- services ---------------------------------------------------------------------------------


def public_category(*, code: str) -> Category | None:
    """The category offered as a service: public ones only (private ones are never offered)."""
    return Category.objects.filter(code=code, is_private=False).select_related("group").first()


def _deadline_text(amount: Decimal, unit: str) -> str:
    if unit == Category.DeadlineUnit.WORKING_DAYS:
        days = int(amount)
        return ngettext("%(count)s working day", "%(count)s working days", days) % {
            "count": days}
    hours = Decimal(amount)
    if hours < 1:
        minutes = int(hours * 60)
        return ngettext("%(count)s minute", "%(count)s minutes", minutes) % {"count": minutes}
    whole = int(hours)
    count = whole if hours == whole else format(hours.normalize(), "f")
    return ngettext("%(count)s hour", "%(count)s hours", whole if hours == whole else 2) % {
        "count": count}


def service_notice(*, category: Category) -> str:
    """What to expect: the category's response and resolution deadlines."""
    return str(MSG_SERVICE_NOTICE) % {
        "response": _deadline_text(category.response_deadline, category.response_unit),
        "resolution": _deadline_text(category.resolution_deadline, category.resolution_unit),
    }


def _group_label(category: Category) -> str:
    """Kind and major class: C03 and E01 are both 市容环境, one a component, one an event."""
    group = category.group
    return f"{KIND_LABELS[category.kind]} · {getattr(group, name_field())}"


def service_list() -> list[dict]:
    label = name_field()
    categories = Category.objects.filter(is_private=False).select_related("group").order_by(
        "code")
    return [
        {
            "service_code": category.code,
            "service_name": getattr(category, label),
            "description": service_notice(category=category),
            "metadata": bool(service_attributes(category=category)),
            "type": "realtime",
            "keywords": ", ".join([category.icon, category.name_zh, category.name_en,
                                   category.group.name_zh, category.group.name_en]),
            "group": _group_label(category),
        }
        for category in categories
    ]


def _attribute_dict(attribute: ServiceAttribute, order: int) -> dict:
    return {
        "variable": True,
        "code": attribute.code,
        "datatype": attribute.datatype,
        "required": attribute.required,
        "datatype_description": attribute.datatype_description or None,
        "order": order,
        "description": str(attribute.description),
        "values": [{"key": value.key, "name": str(value.name)} for value in attribute.values],
    }


def service_definition(*, category: Category) -> dict:
    return {
        "service_code": category.code,
        "attributes": [_attribute_dict(attribute, order) for order, attribute in
                       enumerate(service_attributes(category=category), start=1)],
    }


# --- service requests -------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestFilters:
    """What GET requests asks for. ``ids`` overrides every other filter but the subdistrict."""

    ids: tuple[int, ...] = ()
    subdistrict_id: int | None = None  # the jurisdiction_id's subdistrict; None: the district
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None  # requested_datetime >= start
    end: datetime | None = None  # requested_datetime <= end
    statuses: tuple[str, ...] = ()  # "open", "closed"
    near: Point | None = None  # WGS 84
    radius_m: float = 0  # metres (geography), with ``near``
    page: int = 1
    page_size: int = REQUESTS_MAX
    extensions: bool = False


def _public_reports() -> QuerySet[Report]:
    ready_photo = (
        ReportPhoto.objects.filter(report=OuterRef("pk"), status=ReportPhoto.Status.READY)
        .exclude(display="").order_by("position", "id").values("pk")[:1]
    )
    # The case's latest task, through the case's relation to patrol's tasks (no import of patrol).
    latest_task = Case.objects.filter(pk=OuterRef("case_id")).order_by(
        "-tasks__offered_at", "-tasks__id").values("tasks__pk")[:1]
    return (
        Report.objects.filter(category__is_private=False)
        .select_related("category", "case", "subdistrict", "community_grid", "unit_grid")
        .annotate(display_photo_id=Subquery(ready_photo), latest_task_id=Subquery(latest_task))
    )


def _filtered(reports: QuerySet[Report], filters: RequestFilters) -> QuerySet[Report]:
    if filters.subdistrict_id is not None:
        reports = reports.filter(subdistrict_id=filters.subdistrict_id)
    if filters.ids:
        return reports.filter(pk__in=filters.ids)
    if filters.service_codes:
        reports = reports.filter(category__code__in=filters.service_codes)
    if filters.start is not None:
        reports = reports.filter(received_at__gte=filters.start)
    if filters.end is not None:
        reports = reports.filter(received_at__lte=filters.end)
    if set(filters.statuses) == {"open"}:
        reports = reports.filter(case__stage__in=OPEN_STAGES)
    elif set(filters.statuses) == {"closed"}:
        reports = reports.exclude(case__stage__in=OPEN_STAGES)
    if filters.near is not None:
        # Report.location is geography: the distance is in metres on the spheroid.
        reports = reports.filter(location__dwithin=(filters.near, D(m=filters.radius_m)))
    return reports


def service_request_list(*, filters: RequestFilters,
                         absolute: Callable[[str], str]) -> list[dict]:
    """One page of public service requests, newest first (three queries, four with notes)."""
    start = (filters.page - 1) * filters.page_size
    reports = list(_filtered(_public_reports(), filters).order_by("-received_at", "-id")[
        start:start + filters.page_size])
    return _request_dicts(reports, extensions=filters.extensions, absolute=absolute)


def service_request_get(*, request_id: int, extensions: bool, absolute: Callable[[str], str],
                        subdistrict_id: int | None = None) -> dict | None:
    """One public service request, or None (unknown, of a private category, or of another
    subdistrict than ``subdistrict_id``'s when given)."""
    reports = _public_reports().filter(pk=request_id)
    if subdistrict_id is not None:
        reports = reports.filter(subdistrict_id=subdistrict_id)
    report = reports.first()
    if report is None:
        return None
    return _request_dicts([report], extensions=extensions, absolute=absolute)[0]


def _request_dicts(reports: list[Report], *, extensions: bool,
                   absolute: Callable[[str], str]) -> list[dict]:
    task_ids = {report.latest_task_id for report in reports if report.latest_task_id}
    handling = task_handling(task_ids)  # patrol provides it (issues.hooks)
    notes: dict[int, list[dict]] = {}
    if extensions:
        notes = case_public_history(case_ids={report.case_id for report in reports})
    label = name_field()
    answer = []
    for report in reports:
        task = handling.get(report.latest_task_id)
        case = report.case
        item = {
            "service_request_id": str(report.pk),
            "status": "open" if case.stage in OPEN_STAGES else "closed",
            "status_notes": str(Stage(case.stage).label),
            "service_name": getattr(report.category, label),
            "service_code": report.category.code,
            # Only what was posted as a public 311 request; riders' app descriptions often hold
            # names and door numbers and stay private (issues.visibility, docs/DECISIONS.md).
            "description": (report.description or None) if report_text_public(report) else None,
            "agency_responsible": task.handler if task else None,
            "service_notice": service_notice(category=report.category),
            "requested_datetime": report.received_at,
            "updated_datetime": max(case.updated_at, report.received_at),
            "expected_datetime": task.resolution_due if task else None,
            "address": getattr(report.community_grid, label, None),
            "address_id": None,
            "zipcode": None,
            "lat": round(report.location.y, 6),
            "long": round(report.location.x, 6),
            "media_url": absolute(photo_url(report.display_photo_id, "display"))
            if report.display_photo_id else None,
        }
        if extensions:
            item["extended_attributes"] = {
                "jurisdiction_id": report.subdistrict.code,
                "unit_grid": report.unit_grid.grid_id if report.unit_grid else None,
                "community": report.community_grid.code if report.community_grid else None,
                "case_id": case.pk,
                "stage": case.stage,
            }
            item["notes"] = notes.get(case.pk, [])
        answer.append(item)
    return answer
