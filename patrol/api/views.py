"""HTTP endpoints of the lifecycle: actions on cases, history, task lists, queue, rates."""

from __future__ import annotations

from django.contrib.gis.geos import Point
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from civicmap.api.parsers import MultipartFormParser
from civicmap.api.permissions import IsOfficeStaff
from civicmap.errors import MSG_NOT_FOUND, Conflict, FieldError, NotFound, PermissionRefused
from civicmap.i18n import name_field
from civicmap.models import WGS84
from civicmap.replica import replica_reads
from issues.models import CaseAction, Priority
from issues.visibility import case_access, office_covers
from patrol.api.serializers import (
    ActionInput,
    BulkInput,
    QueueQuery,
    RatesQuery,
    TaskQuery,
    case_output,
    dispatch_options_output,
    task_output,
)
from patrol.selectors import (
    QueueFilters,
    TaskSection,
    case_detail_for_user,
    dispatch_options,
    rates_compute,
    task_assignable_members,
    task_get_for_user,
    task_list_for_user,
    task_section_counts,
    triage_queue,
)
from patrol.services.lifecycle import (
    ACTIONS,
    case_act,
    case_allowed_actions,
    case_live_task,
    case_transfer_targets,
)


class CaseActionView(APIView):
    """POST /api/v1/cases/{id}/{action}/ — one lifecycle action (file, dispatch, accept …)."""

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, MultipartFormParser, FormParser]

    @extend_schema(request=ActionInput, responses={200: dict})
    def post(self, request: Request, case_id: int, action: str) -> Response:
        if action not in ACTIONS or action == CaseAction.EVALUATE:
            raise NotFound(FieldError("action", "unknown", MSG_NOT_FOUND))
        form = ActionInput(data=request.data)
        form.is_valid(raise_exception=True)
        if case_detail_for_user(case_id=case_id, user=request.user) is None:
            raise NotFound(FieldError(None, "not_found", MSG_NOT_FOUND))
        case = case_act(case_id=case_id, action=action, actor=request.user,
                        **form.validated_data)
        if case_detail_for_user(case_id=case_id, user=request.user) is None:
            # Done, and no longer the actor's to read (a private case transferred away): say
            # where it went, nothing more.
            return Response({"id": case.pk, "stage": case.stage,
                             "subdistrict": case.subdistrict.code})
        return _case_response(request, case_id)


def _case_response(request: Request, case_id: int) -> Response:
    case = case_detail_for_user(case_id=case_id, user=request.user)
    if case is None:
        raise NotFound(FieldError(None, "not_found", MSG_NOT_FOUND))
    allowed = case_allowed_actions(case=case, actor=request.user)
    output = case_output(case, access=case_access(user=request.user, case=case), allowed=allowed)
    if CaseAction.TRANSFER in allowed:  # where it may go: the choices of the office's console
        label = name_field()
        output["transfer_to"] = [{"code": place.code, "name": getattr(place, label)}
                                 for place in case_transfer_targets(case=case)]
    if CaseAction.ASSIGN in allowed:  # whom the leader may give it to: the team page's picker
        task = case_live_task(case=case)
        output["assign_to"] = [{"id": member.pk, "name": member.first_name or member.username,
                                "current": member.pk == task.assignee_id}
                               for member in task_assignable_members(task=task)]
    return Response(output)


MSG_DISPATCH_OFFICE_ONLY = _("Only the office of the case's subdistrict dispatches it.")


class DispatchOptionsView(APIView):
    """GET /api/v1/cases/{id}/dispatch-options/ — whom the office may dispatch the case to (the
    routing's suggestion first, saying which rule chose it; every team and department that may
    take it, with its open and overdue tasks), the default deadlines and their bounds. For the
    office staff of the case's subdistrict: 404 for a case the reader may not see, 403 for
    one it may see but not dispatch."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: dict})
    def get(self, request: Request, case_id: int) -> Response:
        case = case_detail_for_user(case_id=case_id, user=request.user)
        if case is None:
            raise NotFound(FieldError(None, "not_found", MSG_NOT_FOUND))
        if not office_covers(request.user, subdistrict_id=case.subdistrict_id):
            raise PermissionRefused(FieldError(None, "forbidden", MSG_DISPATCH_OFFICE_ONLY))
        options = dispatch_options(case=case, now=timezone.now())
        return Response(dispatch_options_output(case, options))


class CaseDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: dict})
    def get(self, request: Request, case_id: int) -> Response:
        return _case_response(request, case_id)


class CaseEventsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: dict})
    def get(self, request: Request, case_id: int) -> Response:
        case = case_detail_for_user(case_id=case_id, user=request.user)
        if case is None:
            raise NotFound(FieldError(None, "not_found", MSG_NOT_FOUND))
        access = case_access(user=request.user, case=case)
        return Response({"case": case.pk, "events": [
            {"action": e.action, "from": e.from_stage or None, "to": e.to_stage or None,
             "at": e.at, "note": e.note if access.event_note(e) else None, "task": e.task_id,
             **({"actor": e.actor_id} if access.reporters else {})}
            for e in case.events.all()
        ]})


class TaskListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[TaskQuery], responses={200: dict})
    @replica_reads()
    def get(self, request: Request) -> Response:
        query = TaskQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        point = (Point(values["lon"], values["lat"], srid=WGS84)
                 if "lon" in values and "lat" in values else None)
        now = timezone.now()
        section = TaskSection(values["section"]) if "section" in values else None
        tasks = task_list_for_user(user=request.user, point=point,
                                   include_closed=values["include_closed"], section=section,
                                   now=now, limit=values["limit"], offset=values["offset"])
        return Response({
            "tasks": [task_output(task, reader_id=request.user.pk,
                                  distance_m=task.distance.m if point else None)
                      for task in tasks],
            "counts": task_section_counts(user=request.user, now=now),
        })


class TaskDetailView(APIView):
    """GET /api/v1/tasks/<id>/ — one of the caller's tasks, live or closed, as a row of the
    task list (the team page opens a message's task with it when the task is not among the
    rows it has loaded); 404 when it is not the caller's, so that it tells nothing of others'."""

    permission_classes = [IsAuthenticated]

    # Its own id: drf-spectacular would name it as the list (APIView GETs are "retrieve").
    @extend_schema(operation_id="api_v1_task_retrieve", responses={200: dict})
    @replica_reads()
    def get(self, request: Request, task_id: int) -> Response:
        task = task_get_for_user(user=request.user, task_id=task_id)
        if task is None:
            raise NotFound(FieldError(None, "not_found", MSG_NOT_FOUND))
        return Response(task_output(task, reader_id=request.user.pk))


class TriageQueueView(APIView):
    permission_classes = [IsOfficeStaff]

    @extend_schema(parameters=[QueueQuery], responses={200: dict})
    @replica_reads()
    def get(self, request: Request) -> Response:
        query = QueueQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        cases = triage_queue(user=request.user, filters=QueueFilters(
            subdistrict_id=getattr(values.get("subdistrict"), "pk", None),
            community=values.get("community"), category=values.get("category"),
            stages=tuple(values.get("stage") or ("new",)), overdue=values["overdue"],
            limit=values["limit"], offset=values["offset"],
        ))
        return Response({"cases": [
            {"id": c.pk, "stage": c.stage, "category": c.category.code,
             "category_name": getattr(c.category, name_field()),
             "subdistrict": c.subdistrict.code,
             "community": c.community_grid.code if c.community_grid else None,
             "report_count": c.report_count,
             "reporter_count": c.reporter_count, "lon": round(c.location.x, 6),
             "lat": round(c.location.y, 6), "last_report_at": c.last_report_at,
             "priority": Priority(c.priority).code}
            for c in cases
        ]})


class TriageBulkView(APIView):
    """POST /api/v1/office/queue/bulk/ — file or cancel many cases; each in its own
    transaction, the answer says which were done and which refused (another subdistrict's
    case among them: refused, the others done)."""

    permission_classes = [IsOfficeStaff]

    @extend_schema(request=BulkInput, responses={200: dict})
    def post(self, request: Request) -> Response:
        form = BulkInput(data=request.data)
        form.is_valid(raise_exception=True)
        done, refused = [], []
        for case_id in form.validated_data["cases"]:
            try:
                case_act(case_id=case_id, action=form.validated_data["action"],
                         actor=request.user, reason=form.validated_data.get("reason", ""))
                done.append(case_id)
            except (Conflict, NotFound, PermissionRefused) as refusal:  # e.g. not its place
                refused.append({"case": case_id, "message": str(refusal.errors[0].message)})
        return Response({"done": done, "refused": refused})


class RatesView(APIView):
    permission_classes = [IsOfficeStaff]

    @extend_schema(parameters=[RatesQuery], responses={200: dict})
    @replica_reads()
    def get(self, request: Request) -> Response:
        query = RatesQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        return Response(rates_compute(
            user=request.user, since=values["since"], until=values["until"],
            subdistrict_id=getattr(values.get("subdistrict"), "pk", None)))
