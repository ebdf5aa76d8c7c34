"""Serializers of the lifecycle API: inputs for actions and filters; task and case outputs."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from civicmap.api.fields import QueryTimeField, SubdistrictField
from civicmap.api.paging import offset_field
from civicmap.i18n import name_field
from civicmap.navigation import navigation_links
from issues.models import Case, CaseAction, Priority, Stage
from issues.selectors import photo_url
from issues.visibility import CaseAccess
from patrol.models import RoutingRule, Task
from patrol.routing import Target
from patrol.selectors import (
    DispatchOptions,
    TaskSection,
    handler_name,
    task_remaining_seconds,
)

PRIORITY_CODES = [priority.code for priority in Priority]


class ActionInput(serializers.Serializer):
    """Every action's optional fields; the service says which one an action needs."""

    team = serializers.IntegerField(required=False)
    department = serializers.IntegerField(required=False)
    assignee = serializers.IntegerField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    photo = serializers.FileField(required=False)
    score = serializers.IntegerField(required=False)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    into = serializers.IntegerField(required=False)
    reports = serializers.ListField(child=serializers.IntegerField(), required=False)
    subdistrict = serializers.CharField(
        required=False, allow_blank=True, max_length=20,
        help_text="transfer: the 9-digit code of a bordering subdistrict to move the case to")
    priority = serializers.ChoiceField(
        choices=PRIORITY_CODES, required=False,
        help_text="prioritise (and optionally dispatch, redispatch): urgent, high or normal")
    resolution_due = serializers.DateTimeField(
        required=False,
        help_text="dispatch, redispatch: the resolution deadline, within the bounds the "
                  "dispatch options give; a reason is required when it is not the default")


class TaskQuery(serializers.Serializer):
    lon = serializers.FloatField(required=False, min_value=-180, max_value=180)
    lat = serializers.FloatField(required=False, min_value=-90, max_value=90)
    include_closed = serializers.BooleanField(required=False, default=False)
    section = serializers.ChoiceField(
        choices=[section.value for section in TaskSection], required=False,
        help_text="one section of the live tasks (new, in_progress, overdue), in its order")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=300, default=100)
    offset = offset_field()


class QueueQuery(serializers.Serializer):
    subdistrict = SubdistrictField(required=False)
    community = serializers.CharField(required=False)
    category = serializers.CharField(required=False)
    stage = serializers.MultipleChoiceField(choices=Stage.choices, required=False)
    overdue = serializers.BooleanField(required=False, default=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500, default=100)
    offset = offset_field()


class BulkInput(serializers.Serializer):
    action = serializers.ChoiceField(choices=[CaseAction.FILE, CaseAction.CANCEL])
    cases = serializers.ListField(child=serializers.IntegerField(), min_length=1,
                                  max_length=200)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200)


class RatesQuery(serializers.Serializer):
    since = QueryTimeField()
    until = QueryTimeField()
    subdistrict = SubdistrictField(required=False)

    def validate(self, attrs: dict) -> dict:
        if attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"until": "until must be after since."})
        return attrs


def task_output(task: Task, *, reader_id: int, distance_m: float | None = None) -> dict:
    """A task in a list, with the links that open its place in the navigation apps;
    ``assigned_to_me``: the reader is its assignee (given it by the leader, or took it on by
    accepting; the team page marks it)."""
    case = task.case
    label = name_field()
    category_name = getattr(case.category, label)
    return {
        "id": task.pk, "case": case.pk, "status": task.status,
        "stage": case.stage, "category": case.category.code,
        "category_name": category_name,
        "subdistrict": case.subdistrict.code,
        "community": getattr(case.community_grid, label, None),
        "lon": round(case.location.x, 6), "lat": round(case.location.y, 6),
        "navigation": navigation_links(lon=case.location.x, lat=case.location.y,
                                       name=category_name),
        "handler": handler_name(task), "assignee": task.assignee_id,
        "assigned_to_me": task.assignee_id == reader_id,
        "offered_at": task.offered_at, "response_due": task.response_due,
        "resolution_due": task.resolution_due,
        "priority": Priority(task.priority).code,
        "remaining_seconds": task_remaining_seconds(task),
        "distance_m": round(distance_m, 1) if distance_m is not None else None,
    }


def _photo_urls(photos, access: CaseAccess, *, owner_id: int | None, private: bool,
                rendition: str) -> list[str]:
    return [photo_url(photo.pk, rendition) for photo in photos
            if photo.status == "ready"
            and access.photo(owner_id=owner_id, rendition=rendition, private=private)]


def _proof_url(task: Task, access: CaseAccess) -> str | None:
    """A proof photo has no owner among the riders: its case's handlers and the office see it
    (and everyone, for a public case)."""
    if task.proof_photo_id is None:
        return None
    return next(iter(_photo_urls([task.proof_photo], access, owner_id=None, private=False,
                                 rendition="display")), None)


def case_output(case: Case, *, access: CaseAccess, allowed: list[str]) -> dict:
    """A case for one reader, as ``access`` (``issues.visibility.case_access``) lets them see
    it: descriptions, reporters, workers' notes and photos only where the rule says so."""
    label = name_field()
    tasks = sorted(case.tasks.all(), key=lambda t: (t.offered_at, t.pk))
    reports = sorted(case.reports.all(), key=lambda r: (r.received_at, r.pk))
    return {
        "id": case.pk, "stage": case.stage, "category": case.category.code,
        "category_name": getattr(case.category, label),
        "private": case.category.is_private,
        "subdistrict": case.subdistrict.code,
        "community": getattr(case.community_grid, label, None),
        "unit_grid": case.unit_grid.grid_id if case.unit_grid else None,
        "lon": round(case.location.x, 6), "lat": round(case.location.y, 6),
        "report_count": case.report_count, "reporter_count": case.reporter_count,
        "created_at": case.created_at, "closed_at": case.closed_at,
        "priority": Priority(case.priority).code,
        "allowed_actions": allowed,
        "reports": [
            {
                "id": report.pk, "received_at": report.received_at,
                "subdistrict": report.subdistrict.code,
                "description": report.description if access.report_text(report) else None,
                "photos": _photo_urls(report.photos.all(), access, owner_id=report.reporter_id,
                                      private=report.category.is_private,
                                      rendition="thumbnail"),
                **({"reporter": report.reporter_id, "contact_phone": report.contact_phone,
                    "contact_email": report.contact_email} if access.reporters else {}),
            }
            for report in reports
        ],
        "tasks": [
            {
                "id": task.pk, "status": task.status, "handler": handler_name(task),
                "response_due": task.response_due, "resolution_due": task.resolution_due,
                "note": task.note if access.notes else None,
                "proof_photo": _proof_url(task, access),
            }
            for task in tasks
        ],
    }


def route_explained(by: Target | None) -> dict:
    """Which routing rule chose a suggestion, in the reader's language: ``source`` is ``rule``
    (with its ``rule`` id and ``reach``: community, subdistrict, district), ``default`` (the
    category's default handler) or ``locality`` (no rule: the least busy team serving the
    community)."""
    if by is None:
        return {"source": "locality", "rule": None, "reach": None,
                "text": str(_("No rule applies: the least busy team serving the community."))}
    least_busy = (str(_(" (the least busy team of that type)"))
                  if by.kind == RoutingRule.Target.TEAM_TYPE else "")
    if by.rule_id is None:
        return {"source": "default", "rule": None, "reach": None,
                "text": str(_("The category's default handler")) + least_busy}
    reach = ("community", "subdistrict", "district")[by.reach]
    text = {
        "community": _("Routing rule #%(rule)s for this category in the case's community"),
        "subdistrict": _("Routing rule #%(rule)s for this category in the subdistrict"),
        "district": _("Routing rule #%(rule)s for this category in the whole district"),
    }[reach]
    return {"source": "rule", "rule": by.rule_id, "reach": reach,
            "text": str(text) % {"rule": by.rule_id} + least_busy}


def dispatch_options_output(case: Case, options: DispatchOptions) -> dict:
    """GET /cases/{id}/dispatch-options/: the suggestion first, saying which rule chose it,
    then every handler with its load; the deadlines and their bounds; the priorities."""
    label = name_field()
    suggestion = options.suggestion
    chosen = None
    if suggestion is not None:
        handler = suggestion.team or suggestion.department
        chosen = {"kind": suggestion.kind, "id": handler.pk if handler else None,
                  "name": getattr(handler, label) if handler else str(_("The trade union")),
                  "rule": route_explained(suggestion.by)}
    handlers = [
        {"kind": h.kind, "id": h.id, "code": h.code, "name": h.name, "team_type": h.team_type,
         "open": h.open, "overdue": h.overdue,
         "suggested": chosen is not None and (chosen["kind"], chosen["id"]) == (h.kind, h.id)}
        for h in options.handlers
    ]
    handlers.sort(key=lambda h: not h["suggested"])  # stable: the suggestion, then by code
    return {
        "case": case.pk, "stage": case.stage, "priority": Priority(case.priority).code,
        "action": CaseAction.REDISPATCH if case.stage == Stage.DISPATCHED else CaseAction.DISPATCH,
        "suggestion": chosen, "handlers": handlers,
        "deadline": {"response_default": options.deadlines.response_due,
                     "resolution_default": options.deadlines.resolution_due,
                     "earliest": options.bounds.earliest, "latest": options.bounds.latest},
        "priorities": [{"code": p.code, "label": str(p.label)} for p in Priority],
    }
