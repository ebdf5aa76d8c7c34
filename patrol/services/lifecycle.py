"""The lifecycle's actions: what each does to tasks, routing, notifications and points.

``case_act`` takes an action name from ``issues.lifecycle.TRANSITIONS``, locks the case and its
live task, checks the table and the actor's role, applies the action's effects (tasks, routing,
notifications, points) and moves the case through ``issues.lifecycle.case_stage_move`` (its
stage and its event), all in one transaction. A refused action changes nothing: 409 naming the
allowed actions for an illegal transition, 403 for a role that may not act.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicmap.db import row_insert, row_update
from civicmap.errors import Conflict, FieldError, InvalidInput, NotFound, PermissionRefused
from civicmap.i18n import name_field
from civicmap.models import Subdistrict
from civicmap.roles import Role, user_has_role
from civicmap.scopes import user_covers
from civicmap.selectors import grid_nearest, subdistrict_get, subdistrict_neighbours
from issues.lifecycle import (
    TRANSITIONS,
    TransitionRefused,
    allowed_actions,
    case_event_write,
    case_stage_move,
    transition_for,
)
from issues.models import (
    LIVE_TASK_STATUSES,
    Case,
    CaseAction,
    CaseConfirmation,
    Category,
    Priority,
    Report,
    Stage,
    TaskStatus,
)
from issues.photos import photo_inspect
from issues.services.cases import case_summary_recount
from issues.services.photos import photo_store, stored_photos_cleanup
from issues.services.points import case_points_award, case_points_revoke
from issues.visibility import office_covers
from patrol.deadlines import Deadlines, deadline_bounds, task_deadline, task_deadlines
from patrol.models import Rating, Task
from patrol.routing import Route, route_for_case
from patrol.selectors import dispatch_departments, dispatch_teams, task_assignable_members
from patrol.services.notify import notify

__all__ = ["task_deadline"]  # the demo history reads it here (fixtures.case_histories)

MSG_NOT_ALLOWED = _("“%(action)s” is not possible now (stage: %(stage)s). Allowed: %(allowed)s.")
MSG_ROLE = _("You may not do “%(action)s” on this case.")
MSG_NO_ROUTE = _("No team or department serves this case's community: choose one.")
MSG_REASON_REQUIRED = _("Give a reason.")
MSG_PROOF_REQUIRED = _("A hand-in needs a proof photo and a note.")
MSG_NOTE_REQUIRED = _("Write a note.")
MSG_SELF_VERIFY = _("The person who handed the work in cannot verify it.")
MSG_SCORE = _("The score is a whole number from 1 to 5.")
MSG_ALREADY_RATED = _("You have already rated this case.")
MSG_NOT_MEMBER = _("That person is not an active member of the task's team.")
MSG_MEMBER_REQUIRED = _("Choose a member.")
MSG_BAD_TARGET = _("Give either a team or a department, not both.")
MSG_UNKNOWN_TARGET = _("Unknown team or department.")
MSG_MERGE_TARGET = _("Merge into another open case of a public or the same category.")
MSG_SPLIT_REPORTS = _("Choose some, not all, of this case's reports.")
MSG_NOT_FOUND = _("No such case.")
MSG_TRANSFER_UNKNOWN = _("Choose a subdistrict this platform serves (its 9-digit code).")
MSG_TRANSFER_SAME = _("The case is already in that subdistrict.")
MSG_TRANSFER_NOT_BORDERING = _("%(target)s does not border %(current)s: a case goes only to a "
                               "neighbouring subdistrict.")
MSG_PRIORITY = _("Choose a priority: urgent, high or normal.")
MSG_PRIORITY_SAME = _("The case already has that priority.")
MSG_DEADLINE_BOUNDS = _("Choose a resolution deadline from %(earliest)s to %(latest)s.")
MSG_TRANSFER_TOO_FAR = _("The case's location is %(distance)s m from %(target)s: a case goes "
                         "there only when its location is inside it or within %(reach)s m of it.")

OFFICE_ACTIONS = {CaseAction.FILE, CaseAction.CANCEL, CaseAction.DISPATCH,
                  CaseAction.REDISPATCH, CaseAction.VERIFY, CaseAction.SENDBACK,
                  CaseAction.MERGE, CaseAction.SPLIT, CaseAction.ESCALATE,
                  CaseAction.TRANSFER, CaseAction.ADD_NOTE, CaseAction.PRIORITISE}
WORKER_ACTIONS = {CaseAction.ACCEPT, CaseAction.DECLINE, CaseAction.START,
                  CaseAction.HANDIN}
AUTO_EVALUATE_AFTER_DAYS = 7
# A case goes to a bordering subdistrict only when its location is inside that subdistrict or
# within this many metres (EPSG:4548) of its boundary: a report on a border street
# (docs/DECISIONS.md D-053).
TRANSFER_REACH_M = 200
# A resolution deadline the office sends within this of the default is the default (the
# console shows it to the minute; the default moves on with the clock while the form is open).
DEADLINE_SAME_WITHIN = timedelta(minutes=1)


@dataclass
class ActionContext:
    case: Case
    task: Task | None
    actor: Any
    at: datetime
    params: dict


AUTO_DISPATCH_NOTE = "auto"  # the event note of a dispatch made by intake, not a person


@dataclass(frozen=True)
class Effects:
    """What an action writes besides the stage and the task's status (issues.lifecycle's
    table): the event's note and data, fields of the live task and of the case."""

    note: str = ""
    data: dict = field(default_factory=dict)
    task: dict[str, Any] = field(default_factory=dict)  # Task attname → value
    case: dict[str, Any] = field(default_factory=dict)  # Case attname → value


def action_effects(*, action: str, at: datetime, actor_id: int | None,
                   params: Mapping[str, Any], task: Mapping[str, Any] | None) -> Effects:
    """The writes of ``action`` from plain values (validated already): ``case_act`` applies
    them to the locked rows, the demo history (fixtures.case_histories) to the rows it writes
    in bulk, so both write the same. ``task`` holds the live task's ``accepted_at`` and
    ``assignee_id`` (None: no live task)."""
    def text(key: str) -> str:
        return (params.get(key) or "").strip()

    if action == CaseAction.CANCEL:
        return Effects(note=text("reason"), case={"cancel_reason": text("reason")[:200]})
    if action == CaseAction.DECLINE:
        return Effects(note=text("reason"),
                       task={"decline_reason": text("reason")[:200], "finished_at": at})
    if action == CaseAction.REDISPATCH:
        return Effects(task={"finished_at": at})
    if action == CaseAction.ACCEPT:
        return Effects(task={"accepted_at": at, "assignee_id": task["assignee_id"] or actor_id})
    if action in {CaseAction.HANDIN, CaseAction.REPLY}:
        handed_in = {"note": text("note"), "handed_in_at": at, "handed_in_by_id": actor_id}
        if action == CaseAction.HANDIN:
            return Effects(note=text("note"), task=handed_in)
        return Effects(note=text("note"), case={"closed_at": at}, task={
            **handed_in, "accepted_at": task["accepted_at"] or at, "finished_at": at})
    if action == CaseAction.VERIFY:
        return Effects(note=text("note"), case={"closed_at": at}, task={"finished_at": at})
    if action in {CaseAction.SENDBACK, CaseAction.ADD_NOTE}:
        return Effects(note=text("note"))
    if action == CaseAction.ESCALATE:
        return Effects(note=text("reason"), task={"status": TaskStatus.ESCALATED,
                                                  "finished_at": at} if task else {})
    if action == CaseAction.RATE:
        return Effects(data={"score": params["score"]})
    if action == CaseAction.PRIORITISE:
        priority = Priority(params["priority_value"])
        return Effects(note=text("reason"),
                       data={"from": Priority(params["priority_before"]).code,
                             "to": priority.code},
                       case={"priority": priority})
    if action == CaseAction.TRANSFER:
        place = params["place"]  # civicmap.selectors.GridPlace in the receiving subdistrict
        return Effects(note=text("reason"), data={"from": params["from"], "to": params["to"]},
                       case={"subdistrict_id": place.subdistrict_id,
                             "community_grid_id": place.community_id,
                             "unit_grid_id": place.unit_grid_id},
                       task={"finished_at": at} if task else {})
    return Effects()


def _is_worker(actor, task: Task | None, case: Case) -> bool:
    """Whether the actor works this task: team member or leader, liaison, union staff of the
    case's subdistrict."""
    if task is None or actor is None:
        return False
    if task.assignee_kind == Task.AssigneeKind.TEAM:
        return task.team.leader_id == actor.pk or task.team.members.filter(pk=actor.pk).exists()
    if task.assignee_kind == Task.AssigneeKind.DEPARTMENT:
        return task.department.liaisons.filter(pk=actor.pk).exists()
    return _union_covers(actor, case)


def _union_covers(actor, case: Case) -> bool:
    """Union staff whose work covers the case's subdistrict."""
    return user_has_role(actor, Role.UNION_STAFF) and user_covers(actor, case.subdistrict_id)


def _is_leader(actor, task: Task | None) -> bool:
    return bool(task and task.team and actor and task.team.leader_id == actor.pk)


def _reporter_or_confirmer(actor, case: Case) -> bool:
    return actor is not None and (
        case.reports.filter(reporter=actor).exists()
        or CaseConfirmation.objects.filter(case=case, rider=actor).exists()
    )


def actor_may(*, actor, action: str, case: Case, task: Task | None) -> bool:
    """Role rules per action (the table decides the stage rules). The office's and the union's
    actions are for the staff of the case's subdistrict (``civicmap.scopes``); a team or a
    department acts on its own tasks wherever they are."""
    if actor is None:  # the system itself: intake auto-dispatch, the evaluation job
        return action in {CaseAction.DISPATCH, CaseAction.EVALUATE}
    office = office_covers(actor, subdistrict_id=case.subdistrict_id)
    union_task = task is not None and task.assignee_kind == Task.AssigneeKind.UNION
    if action in OFFICE_ACTIONS and office:
        return True
    if action == CaseAction.ESCALATE:
        return _is_leader(actor, task)
    if action in WORKER_ACTIONS:
        return _is_worker(actor, task, case)
    if action == CaseAction.ASSIGN:
        return office or _is_leader(actor, task)
    if action == CaseAction.REPLY:
        return union_task and _union_covers(actor, case)
    if action == CaseAction.RATE:
        return _reporter_or_confirmer(actor, case)
    if (action in {CaseAction.FILE, CaseAction.CANCEL, CaseAction.DISPATCH}
            and case.category.handler == Category.Handler.UNION):
        return _union_covers(actor, case)
    return False


# Not steps of the case's work, so not among the actions offered with a case (the console's
# buttons, a 409's list): the system's evaluation, and the office's note, which its case page
# offers to whoever may write it (``actor_may``).
NOT_OFFERED = frozenset({CaseAction.EVALUATE, CaseAction.ADD_NOTE})


def case_allowed_actions(*, case: Case, actor) -> list[str]:
    """What this actor may do to the case now: shown with a case, named in a 409."""
    task = case_live_task(case=case)
    handed_in_by_actor = task is not None and task.handed_in_by_id == getattr(actor, "pk", None)
    return [
        action for action in allowed_actions(stage=case.stage,
                                             task_status=task.status if task else None)
        if action not in NOT_OFFERED
        and actor_may(actor=actor, action=action, case=case, task=task)
        and not (action == CaseAction.VERIFY and handed_in_by_actor)
    ]


def case_live_task(*, case: Case, lock: bool = False) -> Task | None:
    tasks = Task.objects.filter(case=case, status__in=LIVE_TASK_STATUSES).select_related(
        "team", "department")
    if lock:
        tasks = tasks.select_for_update(of=("self",))
    return tasks.first()


def case_act(*, case_id: int, action: str, actor, at: datetime | None = None,
             **params: Any) -> Case:
    """Apply one lifecycle action to a case; returns the case as it is afterwards."""
    if action not in ACTIONS:
        raise NotFound(FieldError("action", "unknown", MSG_NOT_FOUND))
    upload = params.get("photo")
    inspected = photo_inspect(upload=upload, field="photo") if upload else None
    with stored_photos_cleanup() as stored, transaction.atomic():
        # Lock the case row, then its live task: two members racing to accept one task, or the
        # office and a team acting at once, are serialised here; the loser sees the new state.
        case = (Case.objects.select_for_update(of=("self",)).select_related("category")
                .filter(pk=case_id).first())
        if case is None:
            raise NotFound(FieldError(None, "not_found", MSG_NOT_FOUND))
        task = case_live_task(case=case, lock=True)
        _check(case, task, action, actor)
        context = ActionContext(case=case, task=task, actor=actor, at=at or timezone.now(),
                                params={**params, "inspected": inspected, "stored": stored})
        ACTIONS[action](context)
        case.updated_at = context.at
        case.save(update_fields=["stage", "updated_at", "closed_at", "cancel_reason",
                                 "merged_into", "subdistrict", "community_grid", "unit_grid",
                                 "priority"])
    return case


def _check(case: Case, task: Task | None, action: str, actor) -> None:
    try:
        transition_for(action=action, stage=case.stage,
                       task_status=task.status if task else None)
    except TransitionRefused:
        allowed = case_allowed_actions(case=case, actor=actor)
        raise Conflict(FieldError("action", "not_allowed", MSG_NOT_ALLOWED % {
            "action": action, "stage": case.stage, "allowed": ", ".join(allowed) or "—"}),
            extra={"allowed": allowed}) from None
    if not actor_may(actor=actor, action=action, case=case, task=task):
        raise PermissionRefused(FieldError("action", "forbidden", MSG_ROLE % {"action": action}))


def _move(context: ActionContext, action: CaseAction, note: str = "",
          data: dict | None = None) -> None:
    """Apply the action's effects (``action_effects``), move the case (issues.lifecycle writes
    its stage and the event), then give its live task the table's status."""
    task, case = context.task, context.case
    status = task.status if task else None
    effects = action_effects(
        action=action, at=context.at, actor_id=getattr(context.actor, "pk", None),
        params=context.params,
        task={"accepted_at": task.accepted_at, "assignee_id": task.assignee_id} if task else None)
    for name, value in effects.case.items():
        setattr(case, name, value)
    rule = case_stage_move(case=case, action=action, actor=context.actor, task_status=status,
                           task_id=task.pk if task else None, note=note or effects.note,
                           data={**effects.data, **(data or {})}, at=context.at)
    if task is not None and (rule.task_to is not None or effects.task):
        for name, value in effects.task.items():
            setattr(task, name, value)
        task.status = rule.task_to or task.status
        task.save(update_fields=["status", "accepted_at", "handed_in_at", "handed_in_by",
                                 "finished_at", "note", "proof_photo", "decline_reason",
                                 "assignee"])


def task_offer(*, case: Case, route: Route, at: datetime,
               resolution_due: datetime | None = None) -> Task:
    """A new task for the route with fresh deadlines: the category's, shortened by the case's
    priority (patrol.deadlines), or the resolution deadline the office chose (checked against
    its bounds by the caller; the response deadline is then no later than it). An urgent case
    also alerts the office and the handler."""
    defaults = task_deadlines(category=case.category, priority=case.priority, start=at)
    resolution = resolution_due or defaults.resolution_due
    task = row_insert(instance=Task(
        case=case, assignee_kind=route.kind, team=route.team, department=route.department,
        offered_at=at, response_due=min(defaults.response_due, resolution),
        resolution_due=resolution, priority=case.priority,  # the trigger's copy, in memory too
    ))
    notify(kind="task_offered", task=task, at=at)
    if case.priority == Priority.URGENT:
        notify(kind="case_urgent", task=task, at=at)
    return task


def _route_from_params(context: ActionContext) -> Route:
    """The team or department the office chose, or the routing's. A team of another
    subdistrict, or a department serving another one only, is no choice for this case."""
    team_id, department_id = context.params.get("team"), context.params.get("department")
    if team_id and department_id:
        raise InvalidInput(FieldError("team", "ambiguous", MSG_BAD_TARGET))
    place = context.case.subdistrict_id
    if team_id:
        team = dispatch_teams(subdistrict_id=place).filter(pk=team_id).first()
        if team is None:
            raise InvalidInput(FieldError("team", "unknown", MSG_UNKNOWN_TARGET))
        return Route(Task.AssigneeKind.TEAM, team=team)
    if department_id:
        department = dispatch_departments(subdistrict_id=place).filter(pk=department_id).first()
        if department is None:
            raise InvalidInput(FieldError("department", "unknown", MSG_UNKNOWN_TARGET))
        return Route(Task.AssigneeKind.DEPARTMENT, department=department)
    route = route_for_case(case=context.case)
    if route is None:
        raise Conflict(FieldError("team", "no_route", MSG_NO_ROUTE))
    return route


def _file(context: ActionContext) -> None:
    _move(context, CaseAction.FILE)
    notify(kind="case_filed", case=context.case, at=context.at)


def _cancel(context: ActionContext) -> None:
    reason = (context.params.get("reason") or "").strip()
    if not reason:
        raise InvalidInput(FieldError("reason", "required", MSG_REASON_REQUIRED))
    _move(context, CaseAction.CANCEL)
    case_points_revoke(case=context.case, at=context.at)
    notify(kind="case_cancelled", case=context.case, at=context.at)


@dataclass(frozen=True)
class DispatchPlan:
    """What a dispatch sets besides its handler, checked before anything is written."""

    priority: Priority | None  # a new priority (None: unchanged)
    defaults: Deadlines  # at the case's priority after the change
    resolution_due: datetime | None  # the office's own deadline (None: the default)
    reason: str


def _priority_param(context: ActionContext, errors: list[FieldError]) -> Priority | None:
    """The priority the office sent (None: none sent, or a word not in the list, which adds
    its error to ``errors``)."""
    code = context.params.get("priority")
    if code in (None, ""):
        return None
    priority = Priority.from_code(str(code))
    if priority is None:
        errors.append(FieldError("priority", "invalid", MSG_PRIORITY))
    return priority


def _dispatch_plan(context: ActionContext) -> DispatchPlan:
    """The priority and the resolution deadline a dispatch asks for, or InvalidInput naming
    every field at fault: a priority not in the list, a deadline outside its bounds
    (patrol.deadlines.deadline_bounds), no reason for a changed priority or deadline."""
    case, errors = context.case, []
    reason = (context.params.get("reason") or "").strip()
    priority = _priority_param(context, errors)
    if priority == case.priority:
        priority = None
    defaults = task_deadlines(category=case.category, priority=priority or case.priority,
                              start=context.at)
    chosen = context.params.get("resolution_due")
    if chosen is not None:
        bounds = deadline_bounds(defaults)
        if not bounds.admits(chosen):
            errors.append(FieldError("resolution_due", "out_of_bounds", MSG_DEADLINE_BOUNDS % {
                "earliest": _local(bounds.earliest), "latest": _local(bounds.latest)}))
        elif abs(chosen - defaults.resolution_due) < DEADLINE_SAME_WITHIN:
            chosen = None
    if (chosen is not None or priority is not None) and not reason:
        errors.append(FieldError("reason", "required", MSG_REASON_REQUIRED))
    if errors:
        raise InvalidInput(*errors)
    return DispatchPlan(priority=priority, defaults=defaults, resolution_due=chosen,
                        reason=reason)


def _local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _dispatch_with_plan(context: ActionContext, action: CaseAction) -> None:
    """Dispatch or redispatch: the handler the office chose (or the routing's), the priority
    and the deadline it set, each change with its reason in the case's history."""
    route = _route_from_params(context)
    plan = _dispatch_plan(context)
    if plan.priority is not None:
        _priority_set(context, plan.priority, plan.reason)
    note, data = "", {}
    if plan.resolution_due is not None:
        note = plan.reason
        data = {"resolution_due": plan.resolution_due.isoformat(),
                "default_resolution_due": plan.defaults.resolution_due.isoformat()}
    _move(context, action, note=note, data=data)
    context.task = task_offer(case=context.case, route=route, at=context.at,
                              resolution_due=plan.resolution_due)


def _dispatch(context: ActionContext) -> None:
    _dispatch_with_plan(context, CaseAction.DISPATCH)
    notify(kind="case_dispatched", case=context.case, at=context.at, handler_task=context.task)


def _redispatch(context: ActionContext) -> None:
    _dispatch_with_plan(context, CaseAction.REDISPATCH)
    notify(kind="case_redispatched", case=context.case, at=context.at,
           handler_task=context.task)


def _priority_set(context: ActionContext, priority: Priority, reason: str) -> None:
    """Give the case ``priority`` with its event ``prioritise`` (the stage stays)."""
    case = context.case
    context.params.update({"priority_value": priority, "priority_before": case.priority,
                           "reason": reason})
    _move(context, CaseAction.PRIORITISE)


def _prioritise(context: ActionContext) -> None:
    """Set how soon the case must be handled (urgent, high, normal) with a reason; an urgent
    case already with a handler alerts the office and the handler at once. A live task keeps
    its deadlines (the next offer takes the new ones)."""
    errors: list[FieldError] = []
    priority = _priority_param(context, errors)
    if priority is None and not errors:
        errors.append(FieldError("priority", "required", MSG_PRIORITY))
    elif priority is not None and priority == context.case.priority:
        errors.append(FieldError("priority", "same", MSG_PRIORITY_SAME))
    reason = (context.params.get("reason") or "").strip()
    if not reason:
        errors.append(FieldError("reason", "required", MSG_REASON_REQUIRED))
    if errors:
        raise InvalidInput(*errors)
    _priority_set(context, priority, reason)
    if priority == Priority.URGENT and context.task is not None:
        notify(kind="case_urgent", task=context.task, at=context.at,
               key_extra=context.at.isoformat())


def _decline(context: ActionContext) -> None:
    reason = (context.params.get("reason") or "").strip()
    if not reason:
        raise InvalidInput(FieldError("reason", "required", MSG_REASON_REQUIRED))
    _move(context, CaseAction.DECLINE)


def _accept(context: ActionContext) -> None:
    _move(context, CaseAction.ACCEPT)


def _assign(context: ActionContext) -> None:
    """A team's task to one of its active members (``task_assignable_members``), or to another
    one (reassigning): the event names them, they alone are told (``task_assigned``, once per
    assignment). Anyone else (another team's, a stranger, a switched-off account) is refused
    naming ``assignee``, nothing written."""
    if context.params.get("assignee") is None:
        raise InvalidInput(FieldError("assignee", "required", MSG_MEMBER_REQUIRED))
    member = task_assignable_members(task=context.task).filter(
        pk=context.params.get("assignee")).first()
    if member is None:
        raise InvalidInput(FieldError("assignee", "not_member", MSG_NOT_MEMBER))
    context.task.assignee = member
    context.task.save(update_fields=["assignee"])
    case_event_write(case=context.case, action=CaseAction.ASSIGN, actor=context.actor,
                     task_id=context.task.pk, data={"assignee": member.pk}, at=context.at)
    notify(kind="task_assigned", task=context.task, at=context.at,
           key_extra=f"{member.pk}:{context.at.isoformat()}")


def _start(context: ActionContext) -> None:
    _move(context, CaseAction.START)


def _handin(context: ActionContext) -> None:
    note = (context.params.get("note") or "").strip()
    upload, inspected = context.params.get("photo"), context.params["inspected"]
    if not note or upload is None:
        raise InvalidInput(FieldError("photo" if upload is None else "note", "required",
                                      MSG_PROOF_REQUIRED))
    context.task.proof_photo = photo_store(upload=upload, inspected=inspected,
                                           stored=context.params["stored"])
    _move(context, CaseAction.HANDIN)
    notify(kind="case_handed_in", case=context.case, at=context.at)


def _verify(context: ActionContext) -> None:
    if context.task.handed_in_by_id == getattr(context.actor, "pk", None):
        raise PermissionRefused(FieldError("action", "self_verify", MSG_SELF_VERIFY))
    _move(context, CaseAction.VERIFY)
    case_points_award(case=context.case, at=context.at)
    notify(kind="case_closed", case=context.case, at=context.at)


def _sendback(context: ActionContext) -> None:
    note = (context.params.get("note") or "").strip()
    if not note:
        raise InvalidInput(FieldError("note", "required", MSG_NOTE_REQUIRED))
    _move(context, CaseAction.SENDBACK)
    notify(kind="case_sent_back", case=context.case, at=context.at)


def _add_note(context: ActionContext) -> None:
    """The office's internal note: an event with the note, nothing else changes. Who reads it
    is the rule for event notes (``issues.visibility``: the office and the case's handlers)."""
    note = (context.params.get("note") or "").strip()
    if not note:
        raise InvalidInput(FieldError("note", "required", MSG_NOTE_REQUIRED))
    _move(context, CaseAction.ADD_NOTE)


def _reply(context: ActionContext) -> None:
    note = (context.params.get("note") or "").strip()
    if not note:
        raise InvalidInput(FieldError("note", "required", MSG_NOTE_REQUIRED))
    _move(context, CaseAction.REPLY)
    notify(kind="case_closed", case=context.case, at=context.at)


def _escalate(context: ActionContext) -> None:
    """To the department named, else the category's own; either must serve the case's
    subdistrict (``dispatch_departments``, the dispatch's rule)."""
    department_id = context.params.get("department")
    serving = dispatch_departments(subdistrict_id=context.case.subdistrict_id)
    department = serving.filter(
        pk=department_id or context.case.category.handler_department_id).first()
    if department is None:
        raise InvalidInput(FieldError("department", "unknown" if department_id else "required",
                                      MSG_UNKNOWN_TARGET))
    _move(context, CaseAction.ESCALATE, data={"department": department.code})
    context.task = task_offer(case=context.case, at=context.at,
                              route=Route(Task.AssigneeKind.DEPARTMENT, department=department))
    notify(kind="case_escalated", case=context.case, at=context.at)


def _rate(context: ActionContext) -> None:
    score = context.params.get("score")
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise InvalidInput(FieldError("score", "invalid", MSG_SCORE))
    rating, created = Rating.objects.get_or_create(
        case=context.case, rider=context.actor,
        defaults={"score": score, "comment": (context.params.get("comment") or "")[:2000],
                  "created_at": context.at},
    )
    if not created:
        raise Conflict(FieldError("score", "already_rated", MSG_ALREADY_RATED))
    _move(context, CaseAction.RATE)


def _evaluate(context: ActionContext) -> None:
    _move(context, CaseAction.EVALUATE)


def _merge(context: ActionContext) -> None:
    target = (Case.objects.select_for_update()
              .filter(pk=context.params.get("into"), subdistrict=context.case.subdistrict_id)
              .exclude(pk=context.case.pk).filter(stage__in=TRANSITIONS[CaseAction.SPLIT].case_from)
              .first())
    if target is None or target.category_id != context.case.category_id and not (
        target.category.equivalents.filter(pk=context.case.category_id).exists()
    ):
        raise InvalidInput(FieldError("into", "invalid", MSG_MERGE_TARGET))
    moved = list(context.case.reports.order_by("received_at", "id"))
    Report.objects.filter(case=context.case).update(case=target)
    for confirmation in CaseConfirmation.objects.filter(case=context.case).exclude(
        rider__in=CaseConfirmation.objects.filter(case=target).values("rider")
    ):
        confirmation.case = target
        confirmation.save(update_fields=["case"])
    case_summary_recount(case=target, last_report=max(
        [*moved, target.reports.latest("received_at")], key=lambda r: r.received_at))
    context.case.merged_into = target
    context.case.cancel_reason = "merged"
    context.case.report_count = context.case.reporter_count = 0
    Case.objects.filter(pk=context.case.pk).update(report_count=0, reporter_count=0)
    _move(context, CaseAction.MERGE, data={"into": target.pk, "reports": [r.pk for r in moved]})
    case_event_write(case=target, action="merged_in", actor=context.actor, at=context.at,
                     data={"from": context.case.pk, "reports": [r.pk for r in moved]})
    # Told as the case the riders' reports are now in (that is where their page follows them).
    notify(kind="case_merged", case=target, at=context.at, key_extra=str(context.case.pk))


def _split(context: ActionContext) -> None:
    ids = set(context.params.get("reports") or [])
    reports = list(context.case.reports.filter(pk__in=ids).order_by("received_at", "id"))
    if not reports or len(reports) != len(ids) or len(reports) >= context.case.report_count:
        raise InvalidInput(FieldError("reports", "invalid", MSG_SPLIT_REPORTS))
    first = reports[0]
    new_case = Case.objects.create(
        subdistrict_id=context.case.subdistrict_id, category=first.category,
        location=first.location, created_at=first.received_at,
        last_report_at=reports[-1].received_at, updated_at=context.at,
        unit_grid=first.unit_grid, community_grid=first.community_grid,
    )
    Report.objects.filter(pk__in=[r.pk for r in reports]).update(case=new_case)
    case_summary_recount(case=new_case, last_report=reports[-1])
    remaining = context.case.reports.latest("received_at")
    case_summary_recount(case=context.case, last_report=remaining)
    _move(context, CaseAction.SPLIT,
          data={"new_case": new_case.pk, "reports": [r.pk for r in reports]})
    case_event_write(case=new_case, action="split_from", actor=context.actor, at=context.at,
                     to_stage=new_case.stage,
                     data={"from": context.case.pk, "reports": [r.pk for r in reports]})


def case_transfer_targets(*, case: Case) -> list[Subdistrict]:
    """The subdistricts this case may be transferred to: those bordering its own whose boundary
    is within TRANSFER_REACH_M of its location (or hold it), by code."""
    return [neighbour for neighbour in subdistrict_neighbours(
        subdistrict_id=case.subdistrict_id, point=case.location)
        if neighbour.distance_m <= TRANSFER_REACH_M]


def _transfer_target(case: Case, code: str) -> Subdistrict:
    """The subdistrict named by ``code`` if the case may go there; else InvalidInput saying
    why (unknown, the same, not bordering, too far from the case's location)."""
    target = subdistrict_get(code=code)
    if target is None:
        raise InvalidInput(FieldError("subdistrict", "unknown", MSG_TRANSFER_UNKNOWN))
    if target.pk == case.subdistrict_id:
        raise InvalidInput(FieldError("subdistrict", "same", MSG_TRANSFER_SAME))
    label = name_field()
    neighbour = next((n for n in subdistrict_neighbours(
        subdistrict_id=case.subdistrict_id, point=case.location) if n.pk == target.pk), None)
    if neighbour is None:
        current = Subdistrict.objects.filter(pk=case.subdistrict_id).values_list(
            label, flat=True).get()
        raise InvalidInput(FieldError("subdistrict", "not_bordering",
                                      MSG_TRANSFER_NOT_BORDERING % {
                                          "target": getattr(target, label), "current": current}))
    if neighbour.distance_m > TRANSFER_REACH_M:
        raise InvalidInput(FieldError("subdistrict", "too_far", MSG_TRANSFER_TOO_FAR % {
            "distance": round(neighbour.distance_m), "target": getattr(target, label),
            "reach": TRANSFER_REACH_M}))
    return target


def _transfer(context: ActionContext) -> None:
    """To a bordering subdistrict's office: the case takes the receiving subdistrict's grid
    nearest its location (its routing, map and statistics are that subdistrict's from now on),
    an open offer ends, both offices hear of it; the receiving office files it afresh, or it
    is dispatched there at once when its category is dispatched on intake."""
    case = context.case
    reason = (context.params.get("reason") or "").strip()
    errors = [] if reason else [FieldError("reason", "required", MSG_REASON_REQUIRED)]
    try:
        target = _transfer_target(case, (context.params.get("subdistrict") or "").strip())
    except InvalidInput as refused:
        raise InvalidInput(*errors, *refused.errors) from None
    if errors:
        raise InvalidInput(*errors)
    place = grid_nearest(point=case.location, subdistrict_id=target.pk)
    if place is None:  # a subdistrict without grids takes no reports, nor cases
        raise InvalidInput(FieldError("subdistrict", "unknown", MSG_TRANSFER_UNKNOWN))
    source = Subdistrict.objects.filter(pk=case.subdistrict_id).values_list("code", flat=True)
    context.params.update({"from": source.get(), "to": target.code, "place": place})
    _move(context, CaseAction.TRANSFER)
    notify(kind="case_transferred", case=case, at=context.at)
    notify(kind="case_moved", case=case, at=context.at)
    _dispatch_automatically(case=case, at=context.at)


ACTIONS: dict[CaseAction, Callable[[ActionContext], None]] = {
    CaseAction.FILE: _file, CaseAction.CANCEL: _cancel, CaseAction.DISPATCH: _dispatch,
    CaseAction.REDISPATCH: _redispatch, CaseAction.DECLINE: _decline,
    CaseAction.ACCEPT: _accept, CaseAction.ASSIGN: _assign, CaseAction.START: _start,
    CaseAction.HANDIN: _handin, CaseAction.VERIFY: _verify, CaseAction.SENDBACK: _sendback,
    CaseAction.REPLY: _reply, CaseAction.ESCALATE: _escalate, CaseAction.RATE: _rate,
    CaseAction.EVALUATE: _evaluate, CaseAction.MERGE: _merge, CaseAction.SPLIT: _split,
    CaseAction.TRANSFER: _transfer, CaseAction.ADD_NOTE: _add_note,
    CaseAction.PRIORITISE: _prioritise,
}


def dispatched_on_intake(*, urgency: str, auto_dispatch: bool, handler: str) -> bool:
    """Whether a new case of a category so set is dispatched at intake, with no human step
    (the demo history's planner asks the same)."""
    return (urgency == Category.Urgency.EMERGENCY or auto_dispatch
            or handler == Category.Handler.UNION)


def case_auto_dispatch(*, case: Case, at: datetime) -> Task | None:
    """Dispatch a new case on intake when its category says so: emergencies, categories the
    office turned auto-dispatch on for, and riders' own needs (to the union). No human step."""
    if case.stage != Stage.NEW:
        return None
    task = _dispatch_automatically(case=case, at=at)
    if task is not None:
        row_update(instance=case, fields=["stage"])  # as save(update_fields=…): D-082
    return task


def _dispatch_automatically(*, case: Case, at: datetime) -> Task | None:
    """Dispatch the case (new, or filed by a transfer) by its routing when its category is
    dispatched on intake and someone serves its place; the caller saves the case."""
    category = case.category
    if not dispatched_on_intake(urgency=category.urgency, auto_dispatch=category.auto_dispatch,
                                handler=category.handler):
        return None
    route = route_for_case(case=case)
    if route is None:
        return None
    context = ActionContext(case=case, task=None, actor=None, at=at, params={})
    _move(context, CaseAction.DISPATCH, note=AUTO_DISPATCH_NOTE)
    task = task_offer(case=case, route=route, at=at)
    notify(kind="case_dispatched", case=case, at=at, handler_task=task)
    return task


def case_opened_dispatch(sender: type, *, case: Case, at: datetime, **kwargs) -> None:
    """Receiver of issues.hooks.case_opened (connected in PatrolConfig.ready())."""
    case_auto_dispatch(case=case, at=at)


def cases_evaluate_due(*, now: datetime | None = None) -> int:
    """Cases closed 7 days ago without a rating become evaluated (a periodic job)."""
    now = now or timezone.now()
    due = Case.objects.filter(stage=Stage.CLOSED,
                              closed_at__lte=now - timedelta(days=AUTO_EVALUATE_AFTER_DAYS))
    count = 0
    for case_id in due.values_list("pk", flat=True):
        try:
            case_act(case_id=case_id, action=CaseAction.EVALUATE, actor=None, at=now)
            count += 1
        except Conflict:  # rated meanwhile
            continue
    return count
