"""Reads of the patrol app: task lists, the triage queue, a case's detail and history, rates.

Object-level rules are here: a volunteer sees only their teams' tasks, a liaison only their
department's, union staff the union's. Who may read a case and what of it (reporters, words,
notes, photos) is ``issues.visibility``'s rule.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.contrib.auth import get_user_model
from django.contrib.gis.db.models.functions import Distance, GeometryDistance
from django.contrib.gis.geos import Point
from django.db.models import Case as DjangoCase
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, When
from django.utils import timezone

from civicmap.i18n import name_field
from civicmap.models import CommunityGrid, Subdistrict
from civicmap.roles import Role, user_has_role
from civicmap.scopes import in_scope_q
from issues.hooks import TaskHandling
from issues.models import LIVE_TASK_STATUSES, Case, Report, Stage
from issues.visibility import case_visible_to
from patrol.deadlines import DeadlineBounds, Deadlines, deadline_bounds, task_deadlines
from patrol.models import Department, Rating, Task, VolunteerTeam
from patrol.routing import Route, route_for_case

# What a task list reads (patrol.api.serializers.task_output): loading only these keeps a
# page of tasks from building five full model instances per row.
_TASK_ROW_FIELDS = (
    "id", "case_id", "status", "assignee_id", "offered_at", "response_due", "resolution_due",
    "assignee_kind", "team__name_zh", "team__name_en", "department__name_zh",
    "department__name_en", "case__stage", "case__location", "case__category__code",
    "case__category__name_zh", "case__category__name_en", "case__category__is_private",
    "case__community_grid__name_zh", "case__community_grid__name_en", "case__subdistrict__code",
    "case__subdistrict__name_zh", "case__subdistrict__name_en", "priority",
)


class TaskSection(StrEnum):
    """The team page's sections of live tasks (frontend/PHONE.md): each live task is in one.
    ``new``: offered, not yet accepted, its response deadline not passed; ``overdue``: past
    the deadline that applies to it (``task_overdue``); ``in_progress``: the rest (accepted,
    started, sent back, handed in)."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    OVERDUE = "overdue"


def task_section_q(*, section: TaskSection, now: datetime) -> Q:
    """The live tasks of one section (the caller keeps to live tasks)."""
    overdue = task_overdue(now=now)
    if section == TaskSection.OVERDUE:
        return overdue
    offered = Q(status=Task.Status.OFFERED)
    return (offered if section == TaskSection.NEW else ~offered) & ~overdue


# The order within a section: new tasks newest first (the one just offered is on top); the
# overdue most urgent first, then the most recently due (a task 86 days overdue sinks below
# one overdue since this morning: the fresh one can still be saved); in progress as the whole
# list, most urgent then nearest deadline.
_DUE_NOW = DjangoCase(When(status=Task.Status.OFFERED, then=F("response_due")),
                      default=F("resolution_due"))
SECTION_ORDER = {
    TaskSection.NEW: ("-offered_at", "-id"),
    TaskSection.OVERDUE: ("priority", _DUE_NOW.desc(), "-id"),
    TaskSection.IN_PROGRESS: ("priority", "resolution_due", "id"),
}


def task_section_counts(*, user, now: datetime) -> dict[str, int]:
    """How many of the caller's live tasks each section holds (one query)."""
    live = _tasks_of(user).filter(status__in=LIVE_TASK_STATUSES)
    return live.aggregate(**{section.value: Count("pk", filter=task_section_q(
        section=section, now=now)) for section in TaskSection})


def task_list_for_user(*, user, point: Point | None = None, include_closed: bool = False,
                       section: TaskSection | None = None, now: datetime | None = None,
                       limit: int = 100, offset: int = 0) -> list[Task]:
    """A page of the caller's tasks: by deadline, or nearest first when ``point`` is given
    (``distance`` in metres on the spheroid); of one section of live tasks when ``section``
    is given (in the section's order, ``SECTION_ORDER``, unless nearest first).

    Nearest first is two steps: the ids of the page by ``<->`` (on the sphere; for one team's
    live tasks, one KNN scan of the GiST index (team, location) on the tasks' copy of their
    case's location), then only those rows with the exact distance, sorted by it. The two
    distances differ by at most about 0.3 %, so only a near-tie at a page's edge could come out
    differently.
    """
    tasks = _tasks_of(user)
    if not include_closed or section is not None:
        tasks = tasks.filter(status__in=LIVE_TASK_STATUSES)
    if section is not None:
        tasks = tasks.filter(task_section_q(section=section, now=now or timezone.now()))
    rows = _task_rows(tasks)
    if point is None:  # the most urgent first (the task's copy of its case's priority, D-058)
        order = SECTION_ORDER[section] if section else ("priority", "resolution_due", "id")
        return list(rows.order_by(*order)[offset:offset + limit])
    # No id after the distance: PostgreSQL then sorts every live task of the kind instead of
    # walking the KNN index (19.5 against 1.1 ms for one team at 1,000,000 reports). Tasks at
    # one spot come in the index's order, the same from one request to the next.
    nearest = list(tasks.order_by(GeometryDistance("location", point))
                   .values_list("pk", flat=True)[offset:offset + limit])
    found = rows.annotate(distance=Distance("location", point)).in_bulk(nearest)
    return sorted(found.values(), key=lambda task: (task.distance.m, task.pk))


def task_get_for_user(*, user, task_id: int) -> Task | None:
    """One of the caller's tasks, live or closed, as a row of their list (``task_output``);
    None when it is not theirs (another team's, another subdistrict's, or none at all), so
    that the caller answers 404 either way. The team page opens a message's task with it when
    the task is not among the rows it has loaded."""
    return _task_rows(_tasks_of(user).filter(pk=task_id)).first()


def _task_rows(tasks: QuerySet[Task]) -> QuerySet[Task]:
    """Tasks with only what a row of a task list reads (``_TASK_ROW_FIELDS``)."""
    return (tasks.select_related("case__category", "case__community_grid", "case__subdistrict",
                                 "team", "department")
            .only(*_TASK_ROW_FIELDS))


def _tasks_of(user) -> QuerySet[Task]:
    """Every task of the subdistricts an office account covers (``civicmap.scopes``); else the
    tasks of the user's teams (member or leader) and departments (liaison) wherever they are,
    and the union's of their subdistricts for union staff. The teams and departments are read
    first as ids, so each is one range of the partial indexes task_live_*_due."""
    in_scope = in_scope_q(user, field="case__subdistrict")
    if user_has_role(user, Role.OFFICE_STAFF):
        return Task.objects.filter(in_scope)
    teams = (VolunteerTeam.objects.filter(Q(members=user) | Q(leader=user))
             .values_list("pk", flat=True).distinct())
    departments = Department.objects.filter(liaisons=user).values_list("pk", flat=True)
    mine = Q(team__in=list(teams)) | Q(department__in=list(departments))
    if user_has_role(user, Role.UNION_STAFF):
        mine |= Q(assignee_kind=Task.AssigneeKind.UNION) & in_scope
    return Task.objects.filter(mine)


def tasks_for_user(*, user) -> QuerySet[Task]:
    """Every task the user may see, live or closed, by the rule of ``_tasks_of`` (the admin's
    rows: patrol.admin.TaskAdmin)."""
    return _tasks_of(user)


def task_assignable_members(*, task: Task) -> QuerySet:
    """Whom a leader may give a team's task to: the team's leader and members whose accounts
    are active (an account switched off takes no work); none for another handler's task."""
    if task.team_id is None:
        return get_user_model().objects.none()
    return (get_user_model().objects.filter(is_active=True)
            .filter(Q(pk=task.team.leader_id) | Q(teams=task.team_id)).distinct()
            .order_by("first_name", "username"))


def union_names(subdistrict: Subdistrict) -> dict[str, str]:
    """The subdistrict's trade union (街道总工会), which handles its riders' own needs."""
    return {"zh": f"{subdistrict.name_zh}总工会", "en": f"{subdistrict.name_en} Trade Union"}


def handler_names(task: Task | None) -> dict[str, str] | None:
    """Who handles a task, in Chinese and English: its team, its department or the union of
    its case's subdistrict."""
    if task is None:
        return None
    handler = task.team if task.team_id else task.department if task.department_id else None
    if handler is None:
        return union_names(task.case.subdistrict)
    return {"zh": handler.name_zh, "en": handler.name_en}


def handler_name(task: Task | None) -> str | None:
    """``handler_names`` in the active language."""
    names = handler_names(task)
    if names is None:
        return None
    return names["zh" if name_field() == "name_zh" else "en"]


def task_handling_by_id(task_ids: Collection[int]) -> dict[int, TaskHandling]:
    """Who handles each task and when it is due, for issues' Open311 listing (registered as
    issues.hooks' provider by PatrolConfig.ready())."""
    tasks = Task.objects.select_related("team", "department", "case__subdistrict").in_bulk(
        task_ids)
    return {pk: TaskHandling(handler=handler_name(task), resolution_due=task.resolution_due)
            for pk, task in tasks.items()}


def task_remaining_seconds(task: Task, now: datetime | None = None) -> int:
    """Seconds to the deadline that applies now (negative when overdue)."""
    now = now or timezone.now()
    due = task.response_due if task.status == Task.Status.OFFERED else task.resolution_due
    return int((due - now).total_seconds())


# "Overdue", defined once (the queue, the map, the overdue and deadline-near scans use these): a
# task still offered past its response deadline; a live task past its resolution deadline. The
# queue counts a handed-in task (its case is not closed yet); the alerts do not (the team's work
# is in: the office, not the team, owes the next step).
AWAITING_RESPONSE_STATUSES = (Task.Status.OFFERED,)
WORK_OWED_STATUSES = tuple(s for s in LIVE_TASK_STATUSES if s != Task.Status.HANDED_IN)


# "Due soon" (the console's filter): a live task whose resolution deadline falls within this
# many hours from now, and that is not overdue.
DUE_SOON_HOURS = 24


def task_response_overdue(*, now: datetime, prefix: str = "") -> Q:
    """``prefix`` reaches the task through a relation (``"live__"`` from a case, as the office
    console joins its live task)."""
    return Q(**{f"{prefix}status__in": AWAITING_RESPONSE_STATUSES,
                f"{prefix}response_due__lt": now})


def task_resolution_overdue(*, now: datetime, handed_in_counts: bool = True,
                            prefix: str = "") -> Q:
    statuses = LIVE_TASK_STATUSES if handed_in_counts else WORK_OWED_STATUSES
    return Q(**{f"{prefix}status__in": statuses, f"{prefix}resolution_due__lt": now})


def task_overdue(*, now: datetime, prefix: str = "") -> Q:
    """A live task past the deadline that applies to it (``case_overdue``'s rule on one task)."""
    return (task_response_overdue(now=now, prefix=prefix)
            | task_resolution_overdue(now=now, prefix=prefix))


def task_due_soon(*, now: datetime, prefix: str = "") -> Q:
    """A live task due within DUE_SOON_HOURS that is not overdue (the console's "due soon")."""
    return (Q(**{f"{prefix}status__in": LIVE_TASK_STATUSES,
                 f"{prefix}resolution_due__gte": now,
                 f"{prefix}resolution_due__lt": now + timedelta(hours=DUE_SOON_HOURS)})
            # not late to respond (written without a negation: the console joins the task)
            & (Q(**{f"{prefix}status__in": [status for status in LIVE_TASK_STATUSES
                                            if status not in AWAITING_RESPONSE_STATUSES]})
               | Q(**{f"{prefix}response_due__gte": now})))


def case_overdue(*, now: datetime) -> Exists:
    """A case with a live task past the deadline that applies to it: the queue's ``overdue``
    filter and the map's overdue layer. The task's copy of the subdistrict matched to the
    case's lets PostgreSQL read one subdistrict's live tasks only (task_live_subdistrict) when
    the cases are one subdistrict's. The live statuses are said again, outside the rule's two
    arms: each arm implies them, but PostgreSQL proves a partial index's condition only from
    a condition of its own."""
    return Exists(Task.objects.filter(case=OuterRef("pk"), subdistrict=OuterRef("subdistrict"),
                                      status__in=LIVE_TASK_STATUSES)
                  .filter(task_overdue(now=now)))


@dataclass(frozen=True)
class QueueFilters:
    # One subdistrict's cases (of those the reader covers); None: every one the reader covers.
    subdistrict_id: int | None = None
    community: str | None = None
    category: str | None = None
    stages: tuple[str, ...] = (Stage.NEW,)
    overdue: bool = False
    limit: int = 100
    offset: int = 0


# The stages in which a case can have a live task (issues.lifecycle: dispatch and escalation
# lead to "dispatched"; the task stays live until closure, or a decline back to "filed").
STAGES_WITH_LIVE_TASK = (Stage.DISPATCHED, Stage.IN_PROGRESS, Stage.HANDED_IN)


# What a queue row shows (patrol.api.views.TriageQueueView, patrol.layers.office_open_cases).
_QUEUE_ROW_FIELDS = (
    "id", "stage", "location", "report_count", "reporter_count", "last_report_at",
    "category__code", "category__name_zh", "category__name_en",
    "community_grid__code", "community_grid__name_zh", "community_grid__name_en",
    "subdistrict__code", "priority",
)


def triage_queue(*, user, filters: QueueFilters) -> QuerySet[Case]:
    """The office's queue: cases with their merged duplicates (report counts), the most urgent
    first (``Case.priority``), then newest first,
    of the subdistricts ``user`` covers (``civicmap.scopes``: one subdistrict's office its own,
    the district role every one, or the one ``filters.subdistrict_id`` names). The subdistrict
    leads the index case_queue_subdistrict, so one subdistrict's page costs what it did
    before the others were loaded.

    ``overdue`` keeps cases with a live task past its response or resolution deadline: only
    cases in a stage that has a live task can match, and each is probed with EXISTS in the
    newest-first order (index case_queue or case_recent), stopping at the page's end.
    """
    stages = filters.stages
    if filters.overdue:
        stages = tuple(stage for stage in stages if stage in STAGES_WITH_LIVE_TASK)
    # Left (D-058): the priority leads the order but not the indexes yet, so a page sorts the
    # matching cases (a top-N sort) instead of stopping at its end.
    cases = Case.objects.filter(in_scope_q(user), stage__in=stages, merged_into__isnull=True)
    if filters.subdistrict_id is not None:  # index case_queue_subdistrict
        cases = cases.filter(subdistrict_id=filters.subdistrict_id)
    if filters.community:  # index case_queue_community
        cases = cases.filter(community_grid_id=_community_id(filters.community))
    if filters.category:
        cases = cases.filter(category__code=filters.category)
    if filters.overdue:
        cases = cases.filter(case_overdue(now=timezone.now()))
    return (
        cases.select_related("category", "community_grid", "subdistrict")
        .only(*_QUEUE_ROW_FIELDS)
        # The most urgent first (D-058), then newest report first.
        .order_by("priority", "-last_report_at", "-id")
        [filters.offset:filters.offset + filters.limit]
    )



def _community_id(code: str) -> int:
    """The community grid's key for its code (0, which no grid has, for an unknown one), read
    first: with the key as a constant PostgreSQL knows how many cases it holds and walks
    case_queue_community, where a join on the code let it guess from the average community
    and AND two indexes once the neighbours' communities were loaded (queue by community
    4.1 → 5.3 ms at 1,000,000 reports)."""
    return CommunityGrid.objects.filter(code=code).values_list("pk", flat=True).first() or 0


def case_detail_for_user(*, case_id: int, user) -> Case | None:
    """One case if the user may read it (``issues.visibility``: public cases for all; private
    ones for the office staff of their subdistrict, their handlers and their reporters), else
    None."""
    reports = Report.objects.select_related("category", "subdistrict")
    case = (Case.objects.select_related("category", "subdistrict", "community_grid", "unit_grid")
            .prefetch_related(Prefetch("reports", queryset=reports), "reports__photos",
                              "tasks__team",
                              "tasks__department", "tasks__proof_photo")
            .filter(pk=case_id).first())
    if case is None or not case_visible_to(user=user, case=case):
        return None
    return case


def rates_compute(*, user, since: datetime, until: datetime,
                  subdistrict_id: int | None = None) -> dict:
    """接诉即办 rates for tasks dispatched in [since, until) on cases of the subdistricts
    ``user`` covers (or of one of them, ``subdistrict_id``): overall, per subdistrict (the
    district role's comparison of every subdistrict side by side; one row for a subdistrict's
    staff), team, grid, category.

    response = tasks accepted by their response deadline ÷ tasks dispatched;
    resolution = cases closed by their resolution deadline ÷ cases dispatched;
    satisfaction = ratings of 4 or 5 ÷ ratings, with the mean score.
    """
    tasks = Task.objects.filter(in_scope_q(user, field="case__subdistrict"),
                                offered_at__gte=since, offered_at__lt=until)
    if subdistrict_id is not None:
        tasks = tasks.filter(case__subdistrict_id=subdistrict_id)
    ratings = Rating.objects.filter(case__tasks__in=tasks).distinct()
    return {
        "since": since, "until": until,
        "overall": _rates(tasks, ratings, None),
        "by_subdistrict": _rates(tasks, ratings, "case__subdistrict__code"),
        "by_team": _rates(tasks, ratings, "team__name_zh"),
        "by_grid": _rates(tasks, ratings, "case__community_grid__code"),
        "by_category": _rates(tasks, ratings, "case__category__code"),
    }


def _rates(tasks: QuerySet[Task], ratings: QuerySet[Rating], group: str | None):
    """Counts and rates overall (``group`` None) or per value of the ``group`` path."""
    aggregates = {
        "dispatched": Count("pk"),
        "accepted_on_time": Count("pk", filter=Q(accepted_at__isnull=False,
                                                 accepted_at__lte=F("response_due"))),
        "cases": Count("case", distinct=True),
        "closed_on_time": Count("case", distinct=True, filter=Q(
            case__closed_at__isnull=False, case__closed_at__lte=F("resolution_due"),
            status=Task.Status.DONE)),
    }
    if group is None:
        scores = list(ratings.values_list("score", flat=True))
        return rates_from_counts({**tasks.aggregate(**aggregates), **_satisfaction(scores)})
    by_key = _scores_by(ratings, _rating_key(group))
    rows = []
    for row in tasks.values(group).annotate(**aggregates).order_by(group):
        key = row.pop(group)
        scores = _satisfaction(by_key.get(key, []))
        rows.append({"key": key, **rates_from_counts({**row, **scores})})
    return rows


def _rating_key(group: str) -> str:
    # Ratings reach a team through their case's tasks; grids and categories through the case.
    return {"team__name_zh": "case__tasks__team__name_zh"}.get(group, group)


def _scores_by(ratings: QuerySet[Rating], key_path: str) -> dict:
    """Each rating's score once per group value, however many tasks join it to the group."""
    scores: dict = {}
    for key, pk, score in ratings.values_list(key_path, "pk", "score").distinct():
        scores.setdefault(key, {})[pk] = score
    return {key: list(by_pk.values()) for key, by_pk in scores.items()}


def _satisfaction(scores: list[int]) -> dict:
    return {"ratings": len(scores), "satisfied": sum(score >= 4 for score in scores),
            "mean_score": sum(scores) / len(scores) if scores else None}


def rates_from_counts(row: dict) -> dict:
    """The row with its 接诉即办 rates added, from its counts: ``dispatched`` and
    ``accepted_on_time`` (tasks), ``cases`` and ``closed_on_time``, ``ratings`` and
    ``satisfied``; rounded to four places, None where the whole is 0. The one formula of the
    rates, shared by ``rates_compute`` and the statistics (patrol.stats)."""
    def ratio(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    return {
        **row,
        "response_rate": ratio(row["accepted_on_time"], row["dispatched"]),
        "resolution_rate": ratio(row["closed_on_time"], row["cases"]),
        "satisfaction_rate": ratio(row["satisfied"], row["ratings"]),
        "mean_score": round(row["mean_score"], 2) if row.get("mean_score") else None,
    }


# --- dispatch: who may take a case, and how busy they are -----------------------------------


def dispatch_teams(*, subdistrict_id: int) -> QuerySet[VolunteerTeam]:
    """The teams a case of this subdistrict may be dispatched to: the subdistrict's own."""
    return VolunteerTeam.objects.filter(subdistrict=subdistrict_id)


def dispatch_departments(*, subdistrict_id: int) -> QuerySet[Department]:
    """The departments a case of this subdistrict may go to: the subdistrict's own and the
    district's (``Department.subdistrict`` NULL)."""
    return Department.objects.filter(Q(subdistrict=subdistrict_id)
                                     | Q(subdistrict__isnull=True))


@dataclass(frozen=True)
class HandlerLoad:
    """A team or department that may take a case, with its live tasks (``open``) and those
    overdue by the rules above (``overdue``), wherever their cases are."""

    kind: str  # Task.AssigneeKind: team or department
    id: int
    code: str
    name: str
    team_type: str  # "" for a department
    open: int
    overdue: int


def dispatch_handlers(*, subdistrict_id: int, now: datetime) -> list[HandlerLoad]:
    """Every team and department that may take a case of this subdistrict with its load: two
    queries (teams, departments), each counting its tasks in the same statement."""
    live = Q(tasks__status__in=LIVE_TASK_STATUSES)
    overdue = (task_response_overdue(now=now, prefix="tasks__")
               | task_resolution_overdue(now=now, prefix="tasks__"))
    load = {"open": Count("tasks", filter=live), "overdue": Count("tasks", filter=overdue)}
    label = name_field()
    handlers = []
    for kind, rows in ((Task.AssigneeKind.TEAM, dispatch_teams(subdistrict_id=subdistrict_id)),
                       (Task.AssigneeKind.DEPARTMENT,
                        dispatch_departments(subdistrict_id=subdistrict_id))):
        fields = ["pk", "code", label, *(["team_type"] if kind == Task.AssigneeKind.TEAM else [])]
        for row in rows.annotate(**load).order_by("code").values(*fields, "open", "overdue"):
            handlers.append(HandlerLoad(kind=kind, id=row["pk"], code=row["code"],
                                        name=row[label], team_type=row.get("team_type", ""),
                                        open=row["open"], overdue=row["overdue"]))
    return handlers


@dataclass(frozen=True)
class DispatchOptions:
    """What the office chooses from when it dispatches a case: the routing's suggestion (with
    ``by``, what chose it; None when nobody serves the community), every handler with its load,
    the default deadlines at the case's priority and the bounds of the resolution deadline."""

    suggestion: Route | None
    handlers: list[HandlerLoad]
    deadlines: Deadlines
    bounds: DeadlineBounds


def dispatch_options(*, case: Case, now: datetime) -> DispatchOptions:
    """The dispatch options of ``case`` (read by office staff of its subdistrict) as of
    ``now``."""
    deadlines = task_deadlines(category=case.category, priority=case.priority, start=now)
    return DispatchOptions(
        suggestion=route_for_case(case=case),
        handlers=dispatch_handlers(subdistrict_id=case.subdistrict_id, now=now),
        deadlines=deadlines, bounds=deadline_bounds(deadlines))
