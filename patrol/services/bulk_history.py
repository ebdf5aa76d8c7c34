"""The bulk path for case lifecycles (demo seed, benchmarks): every case gets a life up to ``now``.

After ``issues.services.bulk.reports_bulk_load`` every case is ``new`` and has no task. Here each
one is given the life the services would have given it, in four parts kept apart on purpose:

1. ``case_steps_plan`` (pure, one seeded ``random.Random`` per case): the case's steps as
   (action, at, actor reference, parameters), from its age, category and reporters. Old cases
   are mostly closed or evaluated, some cancelled as invalid; recent ones stop wherever ``now``
   finds them; some tasks pass their response or resolution deadline (overdue). Emergencies,
   auto-dispatch categories and riders' own needs are dispatched at creation, as intake does.
2. ``histories_plan`` (pure): all cases' steps in one time order (at, case id, step), with the
   routes and actors resolved. Routing is ``patrol.routing.route_for_case`` replicated on an
   in-memory snapshot (``Reference.route``), including "the team with the fewest live tasks",
   whose counts are kept along the time order; a test proves both give the same routes.
   Deadlines come from the services' own function (``patrol.services.lifecycle.task_deadline``).
3. ``histories_rows`` (pure): the rows those steps leave behind (case stage, closed_at,
   updated_at; tasks; CaseEvents; Ratings; the riders' PointsEntry awards of each verification,
   as ``issues.services.points.case_points_award`` writes them, daily cap included), each step
   checked against ``issues.lifecycle.TRANSITIONS`` as ``case_act`` checks it.
4. ``case_histories_bulk_apply``: loads the snapshot, plans, and writes with COPY.

tests/patrol/test_bulk_history.py replays the same planned steps through ``case_act`` and
``case_auto_dispatch`` and asserts that the rows are equal. Differences, by design:

* hand-ins have no proof photo here (``proof_photo`` is NULL): the demo history has no images;
* no Notifications are written (a feed entry per recipient per step would multiply the rows
  many times over for a history nobody was there to read); the overdue scan raises the
  overdue alerts of the seeded tasks on its first run, once (``*_alerted_at`` are left NULL);
* ``updated_at`` is the later of the case's last report and its last action: in a real life
  reports and actions interleave (a replay after the reports' bulk load cannot show that).

A case is never closed or cancelled before its last report: intake would have opened a new case
for a report arriving after the closure, so the history would not be one intake could produce.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count

from civicmap.roles import Role
from issues.lifecycle import TRANSITIONS
from issues.models import LIVE_TASK_STATUSES, OPEN_STAGES, CaseAction, Category, Rider, Stage
from issues.services.bulk import rows_copy
from issues.services.points import (
    CAPPED_SUFFIX,
    CONFIRMER,
    FIRST_REPORTER,
    verified_event_key,
)
from patrol.models import Department, RoutingRule, Task, VolunteerTeam
from patrol.services.lifecycle import AUTO_EVALUATE_AFTER_DAYS, task_deadline
from patrol.workdays import SHANGHAI

T = Task.Status
K = Task.AssigneeKind
AUTO_DISPATCH = "auto_dispatch"  # intake's case_auto_dispatch: a "dispatch" event, no actor
EVALUATE_JOB_AT = time(2, 0)  # the evaluation job (cases_evaluate_due) runs daily at 02:00
COPY_CHUNK = 100_000  # rows per COPY, so a million events never sit in one buffer

# Where a team leader escalates what the team cannot fix (街乡吹哨、部门报到), by team type.
ESCALATE_TO = {"civility": "chengguan", "housekeeper": "property", "sunset": "residents_committee"}
CANCEL_REASONS = ("无效举报：现场核实无此问题", "不属于本街道受理范围", "信息不全，无法核实")
HANDIN_NOTES = ("已处理完毕，现场已恢复", "已清理完毕", "已劝导当事人整改", "已协调物业处理")
SENDBACK_NOTES = ("现场照片看不清，请补拍", "问题未完全解决，请继续处理")
REPLY_NOTES = ("已与商户和物业协调，已答复骑手", "已在附近驿站安排解决，已答复骑手")
ESCALATE_REASONS = ("超出志愿服务队处理能力，需部门处置",)
RATING_COMMENTS = {5: ("处理很及时", "非常满意", ""), 4: ("不错", ""), 3: ("一般", ""),
                   2: ("处理太慢了",), 1: ("问题没有解决",)}


@dataclass(frozen=True)
class LifeProfile:
    """How cases go; shares are probabilities per case (or per task). Defaults for the demo."""

    cancel: float = 0.06  # the office cancels the case as invalid
    file_first: float = 0.8  # filed, then dispatched (else dispatched straight from "new")
    # Office triage delay in hours: (share, low, high), uniform inside each band.
    triage_hours: tuple[tuple[float, float, float], ...] = (
        (0.55, 0.2, 4.0), (0.30, 4.0, 48.0), (0.15, 48.0, 168.0))
    stuck_offer: float = 0.03  # nobody ever accepts the task (overdue for response)
    late_accept: float = 0.12  # accepted after the response deadline
    escalate: float = 0.05  # a team leader escalates to a department after accepting
    start: float = 0.7  # the worker marks the task started before handing in
    stuck_work: float = 0.03  # accepted, never handed in (overdue for resolution)
    late_handin: float = 0.17  # handed in after the resolution deadline
    sendback: float = 0.08  # the verifier sends the work back once
    union_accept: float = 0.6  # union staff accept before replying (else reply at once)
    rate: float = 0.4  # a reporter rates the closed case
    second_rater: float = 0.15  # a second reporter rates it too (if there is one)
    scores: tuple[float, ...] = (0.04, 0.05, 0.11, 0.30, 0.50)  # weights of scores 1..5


DEFAULT_PROFILE = LifeProfile()
# An overwhelmed office (the benchmarks' 100,000 open cases): 40 % of the cases wait 4 to 45
# days for triage, and a fifth of the tasks are never taken up, a fifth never finished.
BACKLOG_PROFILE = LifeProfile(
    triage_hours=((0.30, 0.2, 8.0), (0.30, 8.0, 96.0), (0.40, 96.0, 1080.0)),
    stuck_offer=0.2, late_accept=0.3, stuck_work=0.2, late_handin=0.35)
PROFILES = {"demo": DEFAULT_PROFILE, "backlog": BACKLOG_PROFILE}


# --- the reference snapshot -------------------------------------------------------------------

class RouteIds(NamedTuple):
    """A route as ids (patrol.routing.Route holds model instances)."""

    kind: str  # Task.AssigneeKind
    team_id: int | None = None
    department_id: int | None = None


@dataclass(frozen=True)
class CategoryInfo:
    id: int
    urgency: str
    handler: str
    handler_team_type: str
    handler_department_id: int | None
    auto_dispatch: bool
    response: tuple[Decimal, str]  # (amount, unit), as the category stores them
    resolution: tuple[Decimal, str]

    @property
    def dispatched_on_intake(self) -> bool:
        """case_auto_dispatch's rule."""
        return (self.urgency == Category.Urgency.EMERGENCY or self.auto_dispatch
                or self.handler == Category.Handler.UNION)


@dataclass(frozen=True)
class TeamInfo:
    id: int
    rank: int  # position in ORDER BY code (the database's collation decides ties)
    team_type: str
    leader_id: int
    member_ids: tuple[int, ...]
    community_ids: frozenset[int]


@dataclass(frozen=True)
class RuleInfo:
    community_id: int | None
    target: str
    team_type: str
    team_id: int | None
    department_id: int | None


@dataclass
class Reference:
    """What routing and the role rules read, loaded once (``reference_load``)."""

    categories: dict[int, CategoryInfo]
    teams: dict[int, TeamInfo]
    rules: dict[int, list[RuleInfo]]  # by category id
    department_codes: dict[int, str]
    department_liaisons: dict[int, tuple[int, ...]]
    office_ids: tuple[int, ...]
    union_ids: tuple[int, ...]
    live_counts: dict[int, int] = field(default_factory=dict)  # live tasks per team, at start
    riders: dict[int, int] = field(default_factory=dict)  # active riders: user id -> rider id
    # Points already earned per (rider id, Asia/Shanghai day), for the daily cap.
    points_by_day: dict[tuple[int, date], int] = field(default_factory=dict)

    # patrol.routing.route_for_case, step for step, on ids.
    def route(self, category_id: int, community_id: int | None,
              live: dict[int, int]) -> RouteIds | None:
        rules = [r for r in self.rules.get(category_id, ())
                 if r.community_id == community_id or r.community_id is None]
        for rule in sorted(rules, key=lambda r: r.community_id is None):  # specific first
            route = self._rule_route(rule, community_id, live)
            if route:
                return route
        category = self.categories[category_id]
        if category.handler == Category.Handler.UNION:
            return RouteIds(K.UNION)
        if category.handler == Category.Handler.DEPARTMENT:
            return RouteIds(K.DEPARTMENT, department_id=category.handler_department_id)
        team = self._team_of_type(category.handler_team_type, community_id, live)
        if team is not None:
            return RouteIds(K.TEAM, team_id=team)
        locality = self._least_busy(self._serving(community_id), live)
        return RouteIds(K.TEAM, team_id=locality) if locality is not None else None

    def _rule_route(self, rule: RuleInfo, community_id: int | None,
                    live: dict[int, int]) -> RouteIds | None:
        if rule.target == "team":
            return RouteIds(K.TEAM, team_id=rule.team_id)
        if rule.target == "department":
            return RouteIds(K.DEPARTMENT, department_id=rule.department_id)
        if rule.target == "union":
            return RouteIds(K.UNION)
        team = self._team_of_type(rule.team_type, community_id, live)
        return RouteIds(K.TEAM, team_id=team) if team is not None else None

    def _serving(self, community_id: int | None) -> list[TeamInfo]:
        # filter(communities=None) in the ORM means "teams serving no community".
        if community_id is None:
            return [t for t in self.teams.values() if not t.community_ids]
        return [t for t in self.teams.values() if community_id in t.community_ids]

    def _team_of_type(self, team_type: str, community_id: int | None,
                      live: dict[int, int]) -> int | None:
        return self._least_busy(
            [t for t in self._serving(community_id) if t.team_type == team_type], live)

    @staticmethod
    def _least_busy(teams: list[TeamInfo], live: dict[int, int]) -> int | None:
        if not teams:
            return None
        return min(teams, key=lambda t: (live.get(t.id, 0), t.rank)).id

    def workers(self, route: RouteIds) -> tuple[int, ...]:
        """Who may accept and hand in a task of this route (members first, else the leader)."""
        if route.kind == K.TEAM:
            team = self.teams[route.team_id]
            return team.member_ids or (team.leader_id,)
        if route.kind == K.DEPARTMENT:
            return self.department_liaisons.get(route.department_id, ())
        return self.union_ids


def reference_load() -> Reference:
    """The snapshot of categories, teams, rules, departments and staff that planning reads."""
    User = get_user_model()
    categories = {
        c.pk: CategoryInfo(
            id=c.pk, urgency=c.urgency, handler=c.handler,
            handler_team_type=c.handler_team_type,
            handler_department_id=c.handler_department_id, auto_dispatch=c.auto_dispatch,
            response=(c.response_deadline, c.response_unit),
            resolution=(c.resolution_deadline, c.resolution_unit),
        )
        for c in Category.objects.all()
    }
    teams = {}
    for rank, team in enumerate(VolunteerTeam.objects.order_by("code").prefetch_related(
            "members", "communities")):
        teams[team.pk] = TeamInfo(
            id=team.pk, rank=rank, team_type=team.team_type, leader_id=team.leader_id,
            member_ids=tuple(sorted(m.pk for m in team.members.all())),
            community_ids=frozenset(c.pk for c in team.communities.all()),
        )
    rules: dict[int, list[RuleInfo]] = defaultdict(list)
    for rule in RoutingRule.objects.all():
        rules[rule.category_id].append(RuleInfo(
            community_id=rule.community_id, target=rule.target, team_type=rule.team_type,
            team_id=rule.team_id, department_id=rule.department_id))
    departments = list(Department.objects.prefetch_related("liaisons"))
    live = dict(Task.objects.filter(status__in=LIVE_TASK_STATUSES, team__isnull=False)
                .values_list("team").annotate(n=Count("pk")).values_list("team", "n"))

    def group_ids(role: Role) -> tuple[int, ...]:
        return tuple(User.objects.filter(groups__name=role.value).order_by("pk")
                     .values_list("pk", flat=True).distinct())

    return Reference(
        categories=categories, teams=teams, rules=dict(rules),
        department_codes={d.pk: d.code for d in departments},
        department_liaisons={d.pk: tuple(sorted(u.pk for u in d.liaisons.all()))
                             for d in departments},
        office_ids=group_ids(Role.OFFICE_STAFF), union_ids=group_ids(Role.UNION_STAFF),
        live_counts=live,
        riders=dict(Rider.objects.filter(is_active=True).values_list("user_id", "pk")),
        points_by_day=_points_by_day(),
    )


def _points_by_day() -> dict[tuple[int, date], int]:
    with connection.cursor() as cursor:
        cursor.execute("""SELECT rider_id, (created_at AT TIME ZONE 'Asia/Shanghai')::date,
                                 sum(points)
                          FROM issues_pointsentry WHERE points > 0 GROUP BY 1, 2""")
        return {(rider, day): total for rider, day, total in cursor.fetchall()}


@dataclass(frozen=True)
class CaseSeed:
    """A case as the reports' bulk load left it."""

    id: int
    category_id: int
    community_id: int | None
    created_at: datetime
    last_report_at: datetime
    reporter_ids: tuple[int, ...]  # distinct, ascending
    first_reporter_id: int | None = None  # who sent the case's first report (None: anonymous)


def cases_load() -> list[CaseSeed]:
    """Cases still as intake leaves them: stage "new", no task yet."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.id, c.category_id, c.community_grid_id, c.created_at, c.last_report_at,
                      coalesce(r.ids, '{}'), r.first
               FROM issues_case c
               LEFT JOIN (SELECT case_id,
                                 array_agg(DISTINCT reporter_id ORDER BY reporter_id)
                                     FILTER (WHERE reporter_id IS NOT NULL) AS ids,
                                 (array_agg(reporter_id ORDER BY received_at, id))[1] AS first
                          FROM issues_report GROUP BY case_id) r ON r.case_id = c.id
               WHERE c.stage = 'new' AND c.merged_into_id IS NULL
                 AND NOT EXISTS (SELECT 1 FROM patrol_task t WHERE t.case_id = c.id)
               ORDER BY c.id"""
        )
        return [CaseSeed(row[0], row[1], row[2], row[3], row[4], tuple(row[5]), row[6])
                for row in cursor.fetchall()]


# --- 1. one case's steps (pure) ---------------------------------------------------------------

@dataclass(slots=True)
class Step:
    """One planned action of one case; ``actor`` is a reference resolved in ``histories_plan``:
    None (the system), ("office", k), ("worker", k), ("assignee",), ("leader",) or
    ("user", id)."""

    action: str
    at: datetime
    actor: tuple | None
    params: dict[str, Any] | None = None
    deadlines: tuple[datetime, datetime] | None = None  # (response, resolution) of a new task


def _offer_deadlines(category: CategoryInfo, at: datetime) -> tuple[datetime, datetime]:
    """task_offer's deadlines, from the services' own function."""
    return (task_deadline(at, *category.response), task_deadline(at, *category.resolution))


def _hours(value: float) -> timedelta:
    return timedelta(hours=value)


def _whole_seconds(moment: datetime) -> datetime:
    # In UTC: comparing and sorting datetimes of one tzinfo skips the zone look-ups.
    return moment.astimezone(UTC).replace(microsecond=0)


class _CasePlanner:
    """Draws one case's steps; stops at the first step that would fall at or after ``now``."""

    def __init__(self, case: CaseSeed, category: CategoryInfo, kind: str | None, now: datetime,
                 rng: random.Random, profile: LifeProfile) -> None:
        self.case, self.category, self.kind = case, category, kind
        self.now, self.rng, self.profile = now, rng, profile
        self.steps: list[Step] = []
        self.last = case.created_at

    def add(self, action: str, at: datetime, actor: tuple | None, **params: Any) -> bool:
        at = max(_whole_seconds(at), self.last + timedelta(minutes=1))
        if at >= self.now:
            return False
        deadlines = None
        if action in {CaseAction.DISPATCH, CaseAction.ESCALATE}:
            deadlines = _offer_deadlines(self.category, at)
        self.steps.append(Step(action, at, actor, params or None, deadlines))
        self.last = at
        return True

    def after_last_report(self, at: datetime) -> datetime:
        """A closing step never comes before the case's last report (see the module doc)."""
        floor = self.case.last_report_at + _hours(self.rng.uniform(0.2, 4.0))
        return max(at, floor)

    def uniform_between(self, start: datetime, end: datetime, low: float, high: float
                        ) -> datetime:
        return start + (end - start) * self.rng.uniform(low, high)

    def office(self) -> tuple:
        return ("office", self.rng.getrandbits(16))

    def plan(self) -> list[Step]:
        rng, case = self.rng, self.case
        if self.kind is not None and self.category.dispatched_on_intake:
            at = _whole_seconds(case.created_at)
            self.steps.append(Step(AUTO_DISPATCH, at, None, None,
                                   _offer_deadlines(self.category, at)))
            self.last = at
            self.work(at, self.steps[-1].deadlines)
            return self.steps
        triage_at = case.created_at + _hours(self.triage_delay())
        if rng.random() < self.profile.cancel:
            self.add(CaseAction.CANCEL, self.after_last_report(triage_at), self.office(),
                     reason=rng.choice(CANCEL_REASONS))
            return self.steps
        if self.kind is None or rng.random() < self.profile.file_first:
            if not self.add(CaseAction.FILE, triage_at, self.office()) or self.kind is None:
                return self.steps
            band = (0.1, 2.0) if rng.random() < 0.7 else (2.0, 24.0)
            triage_at = self.last + _hours(rng.uniform(*band))
        if self.add(CaseAction.DISPATCH, triage_at, self.office()):
            self.work(self.last, self.steps[-1].deadlines)
        return self.steps

    def triage_delay(self) -> float:
        draw = self.rng.random()
        for share, low, high in self.profile.triage_hours:
            if draw < share:
                return self.rng.uniform(low, high)
            draw -= share
        return self.rng.uniform(*self.profile.triage_hours[-1][1:])

    def work(self, offered: datetime, deadlines: tuple[datetime, datetime],
             escalated: bool = False) -> None:
        """From an offered task to closure (and ratings, evaluation)."""
        rng, profile = self.rng, self.profile
        response_due, resolution_due = deadlines
        if rng.random() < profile.stuck_offer:
            return
        if self.kind == K.UNION:
            if rng.random() < profile.union_accept:
                if not self.add(CaseAction.ACCEPT, self.accept_time(offered, response_due),
                                ("worker", rng.getrandbits(16))):
                    return
                actor: tuple = ("assignee",)
            else:
                actor = ("worker", rng.getrandbits(16))
            reply_at = self.after_last_report(self.handin_time(self.last, offered,
                                                               resolution_due))
            if self.add(CaseAction.REPLY, reply_at, actor, note=rng.choice(REPLY_NOTES)):
                self.closed(self.last)
            return
        if not self.add(CaseAction.ACCEPT, self.accept_time(offered, response_due),
                        ("worker", rng.getrandbits(16))):
            return
        if self.kind == K.TEAM and not escalated and rng.random() < profile.escalate:
            if self.add(CaseAction.ESCALATE, self.last + _hours(rng.uniform(1, 48)), ("leader",),
                        reason=rng.choice(ESCALATE_REASONS)):
                self.work(self.last, self.steps[-1].deadlines, escalated=True)
            return
        if rng.random() < profile.stuck_work:
            return
        accepted = self.last
        handin_at = self.handin_time(accepted, offered, resolution_due)
        if rng.random() < profile.start:
            if not self.add(CaseAction.START, self.uniform_between(accepted, handin_at, 0.05, 0.3),
                            ("assignee",)):
                return
        if not self.add(CaseAction.HANDIN, handin_at, ("assignee",), note=rng.choice(HANDIN_NOTES)):
            return
        if rng.random() < profile.sendback:
            if not (self.add(CaseAction.SENDBACK, self.last + _hours(rng.uniform(1, 24)),
                             self.office(), note=rng.choice(SENDBACK_NOTES))
                    and self.add(CaseAction.START, self.last + _hours(rng.uniform(1, 24)),
                                 ("assignee",))
                    and self.add(CaseAction.HANDIN, self.last + _hours(rng.uniform(2, 72)),
                                 ("assignee",), note=rng.choice(HANDIN_NOTES))):
                return
        verify_at = self.after_last_report(self.last + _hours(rng.uniform(0.5, 36)))
        if self.add(CaseAction.VERIFY, verify_at, self.office(), note=""):
            self.closed(self.last)

    def accept_time(self, offered: datetime, response_due: datetime) -> datetime:
        if self.rng.random() < self.profile.late_accept:
            return response_due + (response_due - offered) * self.rng.uniform(0.1, 2.0)
        return self.uniform_between(offered, response_due, 0.05, 0.9)

    def handin_time(self, start: datetime, offered: datetime, resolution_due: datetime
                    ) -> datetime:
        if resolution_due <= start or self.rng.random() < self.profile.late_handin:
            return max(start, resolution_due) + (resolution_due - offered) * self.rng.uniform(
                0.05, 0.8)
        return self.uniform_between(start, resolution_due, 0.1, 0.9)

    def closed(self, closed_at: datetime) -> None:
        """Ratings by reporters, skewed high; else the evaluation job after 7 days."""
        rng, profile, reporters = self.rng, self.profile, self.case.reporter_ids
        rated = False
        if reporters and rng.random() < profile.rate:
            raters = [rng.choice(reporters)]
            if len(reporters) > 1 and rng.random() < profile.second_rater:
                raters.append(rng.choice([r for r in reporters if r != raters[0]]))
            at = closed_at
            for rider in raters:
                score = rng.choices(range(1, 6), profile.scores)[0]
                at += _hours(rng.uniform(0.5, 72))
                if not self.add(CaseAction.RATE, at, ("user", rider), score=score,
                                comment=rng.choice(RATING_COMMENTS[score])):
                    break
                rated = True
                at = self.last
        if not rated:
            self.add(  # a step after now is simply not taken
                CaseAction.EVALUATE, _evaluation_job_time(closed_at), None)


def _evaluation_job_time(closed_at: datetime) -> datetime:
    """The first daily run of cases_evaluate_due that finds the case 7 days closed."""
    due = (closed_at + timedelta(days=AUTO_EVALUATE_AFTER_DAYS)).astimezone(SHANGHAI)
    run = datetime.combine(due.date(), EVALUATE_JOB_AT, tzinfo=SHANGHAI)
    return run if run >= due else run + timedelta(days=1)


def case_steps_plan(*, case: CaseSeed, category: CategoryInfo, kind: str | None,
                    now: datetime, rng: random.Random,
                    profile: LifeProfile = DEFAULT_PROFILE) -> list[Step]:
    """One case's steps before ``now``; ``kind`` is where routing sends it (None: nowhere)."""
    return _CasePlanner(case, category, kind, now, rng, profile).plan()


def case_rng(*, seed: int, number: int) -> random.Random:
    """The case's own random stream: a case's life does not depend on the others'.

    ``number`` is the case's place in id order, not its id: ids depend on what the sequence
    handed out before (rolled-back transactions advance it too), places only on the cases."""
    return random.Random(seed * 1_000_003 + number)


# --- 2. all cases in time order, routes and actors resolved (pure) ----------------------------

@dataclass(slots=True)
class PlannedStep:
    """One step as case_act takes it: ``params`` are its keyword arguments (a hand-in's photo
    aside); ``route`` and ``deadlines`` describe the task a dispatch or escalation offers."""

    case_id: int
    action: str
    at: datetime
    actor_id: int | None
    params: dict[str, Any]
    route: RouteIds | None = None
    deadlines: tuple[datetime, datetime] | None = None


@dataclass(slots=True)
class _Working:
    route: RouteIds | None = None
    assignee: int | None = None
    handed_in_by: int | None = None
    stopped: bool = False


def histories_plan(*, cases: list[CaseSeed], reference: Reference, seed: int,
                   now: datetime, profile: LifeProfile = DEFAULT_PROFILE,
                   progress: Callable[[int], None] | None = None) -> list[PlannedStep]:
    """Every case's steps in the order the services would meet them: (at, case id, step)."""
    queue = []
    kinds: dict[tuple[int, int | None], str | None] = {}  # the route's kind never depends on load
    for number, case in enumerate(cases):
        category = reference.categories[case.category_id]
        place = (case.category_id, case.community_id)
        if place not in kinds:
            static = reference.route(case.category_id, case.community_id, {})
            kinds[place] = static.kind if static else None
        steps = case_steps_plan(case=case, category=category, kind=kinds[place],
                                now=now, rng=case_rng(seed=seed, number=number),
                                profile=profile)
        queue.extend((step.at, case.id, index, step) for index, step in enumerate(steps))
        if progress and number % 10_000 == 0:
            progress(number)
    queue.sort()  # (at, case id, step number) is unique: the steps themselves never compare
    by_id = {case.id: case for case in cases}
    live = defaultdict(int, reference.live_counts)
    state: dict[int, _Working] = defaultdict(_Working)
    planned = []
    for _at, case_id, _index, step in queue:
        working = state[case_id]
        if working.stopped:
            continue
        resolved = _resolve(step, by_id[case_id], working, reference, live)
        if resolved is None:  # nobody could take this step: the case stays where it is
            working.stopped = True
            continue
        planned.append(resolved)
    return planned


def _resolve(step: Step, case: CaseSeed, working: _Working, reference: Reference,
             live: dict[int, int]) -> PlannedStep | None:
    params = dict(step.params or {})
    route = None
    if step.action in {AUTO_DISPATCH, CaseAction.DISPATCH}:
        route = reference.route(case.category_id, case.community_id, live)
        if route is None:
            return None
    elif step.action == CaseAction.ESCALATE:
        department = _department_by_code(reference,
                                         ESCALATE_TO.get(_team_type(reference, working)))
        if department is None:
            return None
        params["department"] = department
        route = RouteIds(K.DEPARTMENT, department_id=department)
    actor = _actor(step, working, reference)
    if actor is False:
        return None
    # The task the step leaves live changes the least-busy counts from now on.
    if (step.action in {CaseAction.VERIFY, CaseAction.REPLY, CaseAction.ESCALATE}
            and working.route.kind == K.TEAM):
        live[working.route.team_id] -= 1
    if route is not None:
        if route.kind == K.TEAM:
            live[route.team_id] += 1
        working.route, working.assignee, working.handed_in_by = route, None, None
    if step.action == CaseAction.ACCEPT and working.assignee is None:
        working.assignee = actor
    if step.action in {CaseAction.HANDIN, CaseAction.REPLY}:
        working.handed_in_by = actor
    return PlannedStep(case.id, step.action, step.at, actor, params, route, step.deadlines)


def _team_type(reference: Reference, working: _Working) -> str | None:
    route = working.route
    return reference.teams[route.team_id].team_type if route and route.team_id else None


def _department_by_code(reference: Reference, code: str | None) -> int | None:
    return next((pk for pk, c in reference.department_codes.items() if c == code), None)


def _actor(step: Step, working: _Working, reference: Reference) -> int | None | bool:
    """The user id for the step's actor reference; False when nobody fits."""
    ref = step.actor
    if ref is None:
        return None
    kind = ref[0]
    if kind == "user":
        return ref[1]
    if kind == "office":
        # The verifier must not be the one who handed the work in (services: MSG_SELF_VERIFY).
        staff = [pk for pk in reference.office_ids if pk != working.handed_in_by] \
            if step.action == CaseAction.VERIFY else list(reference.office_ids)
        return staff[ref[1] % len(staff)] if staff else False
    if working.route is None:
        return False
    if kind == "leader":
        return reference.teams[working.route.team_id].leader_id \
            if working.route.kind == K.TEAM else False
    if kind == "assignee" and working.assignee is not None:
        return working.assignee
    workers = reference.workers(working.route)
    return workers[(ref[1] if kind == "worker" else 0) % len(workers)] if workers else False


# --- 3. the rows the steps leave (pure) ---------------------------------------------------------

@dataclass
class HistoryRows:
    """Tasks are numbered 0, 1, … in the order they are offered (ids come when written)."""

    cases: dict[int, tuple[str, datetime, datetime | None, str]]  # stage, updated, closed, reason
    tasks: list[list]  # TASK_COLUMNS, with the task number in place of the id
    events: list[tuple]  # EVENT_COLUMNS, with the task number in place of task_id
    ratings: list[tuple]  # RATING_COLUMNS
    points: list[tuple] = field(default_factory=list)  # POINTS_COLUMNS


TASK_COLUMNS = ["id", "case_id", "assignee_kind", "team_id", "department_id", "assignee_id",
                "status", "offered_at", "response_due", "resolution_due", "accepted_at",
                "handed_in_at", "handed_in_by_id", "finished_at", "note", "decline_reason"]
EVENT_COLUMNS = ["case_id", "task_id", "actor_id", "action", "from_stage", "to_stage", "note",
                 "data", "at"]
RATING_COLUMNS = ["case_id", "rider_id", "score", "comment", "created_at"]
POINTS_COLUMNS = ["rider_id", "points", "reason", "event_key", "case_id", "created_at"]
_T = {name: index for index, name in enumerate(TASK_COLUMNS)}


class IllegalStep(RuntimeError):
    """A planned step the lifecycle table refuses: a bug in the planner."""


@dataclass(slots=True)
class _CaseState:
    stage: str
    updated_at: datetime
    closed_at: datetime | None = None
    cancel_reason: str = ""
    task: int | None = None  # number of the live task


def histories_rows(*, steps: Iterable[PlannedStep], cases: Iterable[CaseSeed],
                   reference: Reference) -> HistoryRows:
    """Apply the steps to cases as ``case_act`` would, checking each against TRANSITIONS."""
    seeds = {case.id: case for case in cases}
    states: dict[int, _CaseState] = {}
    tasks: list[list] = []
    events: list[tuple] = []
    ratings: list[tuple] = []
    ledger = _PointsLedger(reference)
    for step in steps:
        seed = seeds[step.case_id]
        state = states.get(step.case_id)
        if state is None:
            state = states[step.case_id] = _CaseState(Stage.NEW, seed.last_report_at)
        task = tasks[state.task] if state.task is not None else None
        rule = TRANSITIONS[CaseAction.DISPATCH if step.action == AUTO_DISPATCH else step.action]
        status = task[_T["status"]] if task else None
        if state.stage not in rule.case_from or (rule.task_from and status not in rule.task_from):
            raise IllegalStep(f"case {step.case_id}: {step.action} from {state.stage}/{status}")
        before, at, params = state.stage, step.at, step.params
        note, data, event_task = "", {}, state.task
        if rule.case_to is not None:
            state.stage = rule.case_to
        if rule.task_to is not None and task is not None:
            task[_T["status"]] = rule.task_to
        action = step.action
        if action == CaseAction.CANCEL:
            note = params["reason"].strip()
            state.cancel_reason = note[:200]
        elif action == CaseAction.ACCEPT:
            task[_T["accepted_at"]] = at
            task[_T["assignee_id"]] = task[_T["assignee_id"]] or step.actor_id
        elif action in {CaseAction.HANDIN, CaseAction.REPLY}:
            note = params["note"].strip()
            task[_T["note"]], task[_T["handed_in_at"]] = note, at
            task[_T["handed_in_by_id"]] = step.actor_id
            if action == CaseAction.REPLY:
                task[_T["accepted_at"]] = task[_T["accepted_at"]] or at
                task[_T["finished_at"]] = state.closed_at = at
        elif action == CaseAction.VERIFY:
            note = params.get("note", "").strip()
            task[_T["finished_at"]] = state.closed_at = at
            ledger.award(seed, at)
        elif action == CaseAction.SENDBACK:
            note = params["note"].strip()
        elif action == CaseAction.ESCALATE:
            note = params.get("reason", "").strip()
            data = {"department": reference.department_codes[params["department"]]}
            if task is not None:
                task[_T["status"]], task[_T["finished_at"]] = T.ESCALATED, at
        elif action == CaseAction.RATE:
            data = {"score": params["score"]}
            ratings.append((step.case_id, step.actor_id, params["score"],
                            params.get("comment", "")[:2000], at))
        elif action == AUTO_DISPATCH:
            note = "auto"
        events.append((step.case_id, event_task, step.actor_id,
                       CaseAction.DISPATCH if action == AUTO_DISPATCH else action, before,
                       state.stage, note, data, at))
        if task is not None and task[_T["status"]] not in LIVE_TASK_STATUSES:
            state.task = None
        if step.route is not None:  # dispatch, auto-dispatch, escalate: task_offer
            route = step.route
            state.task = len(tasks)
            tasks.append([state.task, step.case_id, route.kind, route.team_id,
                          route.department_id, None, T.OFFERED, at, *step.deadlines,
                          None, None, None, None, "", ""])
        if action != AUTO_DISPATCH:  # case_auto_dispatch saves the stage only
            state.updated_at = max(state.updated_at, at)
    return HistoryRows(
        cases={pk: (s.stage, s.updated_at, s.closed_at, s.cancel_reason)
               for pk, s in states.items()},
        tasks=tasks, events=events, ratings=ratings, points=ledger.entries,
    )


class _PointsLedger:
    """issues.services.points.case_points_award on a verification, in time order: the first
    reporter and every other reporter who is an active rider, each once, cut to the daily cap.
    (The bulk history has no confirmations and no merges; a cancellation before any award
    revokes nothing.)"""

    def __init__(self, reference: Reference) -> None:
        self.riders = reference.riders
        self.by_day = dict(reference.points_by_day)
        self.base = {FIRST_REPORTER: settings.POINTS_FIRST_REPORTER,
                     CONFIRMER: settings.POINTS_CONFIRMER}
        self.cap = settings.POINTS_DAILY_CAP
        self.entries: list[tuple] = []

    def award(self, case: CaseSeed, at: datetime) -> None:
        contributors = sorted((self.riders[user], user) for user in case.reporter_ids
                              if user in self.riders)
        first = [(rider, FIRST_REPORTER) for rider, user in contributors
                 if user == case.first_reporter_id]
        others = [(rider, CONFIRMER) for rider, user in contributors
                  if user != case.first_reporter_id]
        day = at.astimezone(SHANGHAI).date()
        for rider, role in first + others:
            today = self.by_day.get((rider, day), 0)
            points = min(self.base[role], max(0, self.cap - today))
            reason = role if points == self.base[role] else role + CAPPED_SUFFIX
            if points > 0:
                self.by_day[(rider, day)] = today + points
            self.entries.append((rider, points, reason, verified_event_key(case.id), case.id,
                                 at))


# --- 4. writing -------------------------------------------------------------------------------

def _ids_reserve(cursor, table: str, count: int) -> int:
    """Reserve ``count`` consecutive ids of ``table``'s sequence; returns the first."""
    if count == 0:
        return 0
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    sequence = cursor.fetchone()[0]
    cursor.execute("SELECT nextval(%s)", [sequence])
    first = cursor.fetchone()[0]
    cursor.execute("SELECT setval(%s, %s)", [sequence, first + count - 1])
    return first


def _copy_chunked(cursor, table: str, columns: list[str], rows: Iterable[tuple]) -> None:
    chunk: list[tuple] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == COPY_CHUNK:
            rows_copy(cursor, table, columns, chunk)
            chunk = []
    if chunk:
        rows_copy(cursor, table, columns, chunk)


def case_histories_bulk_apply(*, seed: int, now: datetime,
                              progress: Callable[[int], None] | None = None,
                              profile: LifeProfile = DEFAULT_PROFILE) -> dict:
    """Give every case still as the reports' bulk load left it a deterministic life up to
    ``now``, written with COPY in one transaction. Returns counts for the summary."""
    with transaction.atomic(), connection.cursor() as cursor:
        reference = reference_load()
        cases = cases_load()
        steps = histories_plan(cases=cases, reference=reference, seed=seed, now=now,
                               profile=profile, progress=progress)
        rows = histories_rows(steps=steps, cases=cases, reference=reference)
        first_task = _ids_reserve(cursor, "patrol_task", len(rows.tasks))

        def task_id(number: int | None) -> int | None:
            return None if number is None else first_task + number

        _copy_chunked(cursor, "patrol_task", TASK_COLUMNS,
                      ((first_task + row[0], *row[1:]) for row in rows.tasks))
        _copy_chunked(cursor, "issues_caseevent", EVENT_COLUMNS, (
            (case_id, task_id(task), actor, action, before, after, note,
             json.dumps(data, ensure_ascii=False), at)
            for case_id, task, actor, action, before, after, note, data, at in rows.events))
        _copy_chunked(cursor, "patrol_rating", RATING_COLUMNS, rows.ratings)
        _copy_chunked(cursor, "issues_pointsentry", POINTS_COLUMNS, rows.points)
        cursor.execute("DROP TABLE IF EXISTS case_life")
        cursor.execute("CREATE TEMP TABLE case_life (id bigint PRIMARY KEY, stage text, "
                       "updated_at timestamptz, closed_at timestamptz, cancel_reason text) "
                       "ON COMMIT DROP")
        _copy_chunked(cursor, "case_life", ["id", "stage", "updated_at", "closed_at",
                                            "cancel_reason"],
                      ((pk, *values) for pk, values in rows.cases.items()))
        cursor.execute("""UPDATE issues_case c SET stage = l.stage, updated_at = l.updated_at,
                                 closed_at = l.closed_at, cancel_reason = l.cancel_reason
                          FROM case_life l WHERE c.id = l.id""")
        cursor.execute("DROP TABLE case_life")
        # Fresh planner statistics: the task and queue lists are read right after a seed.
        cursor.execute("ANALYZE issues_case, patrol_task, issues_caseevent, patrol_rating, "
                       "issues_pointsentry")
        if progress:
            progress(len(cases))
    return _summary(cases, rows, now)


def _summary(cases: list[CaseSeed], rows: HistoryRows, now: datetime) -> dict:
    stages: dict[str, int] = defaultdict(int)
    for case in cases:
        stages[str(rows.cases.get(case.id, (Stage.NEW,))[0])] += 1
    live = [t for t in rows.tasks if t[_T["status"]] in LIVE_TASK_STATUSES]
    return {
        "cases": len(cases), "tasks": len(rows.tasks), "events": len(rows.events),
        "ratings": len(rows.ratings), "points_entries": len(rows.points),
        "stages": dict(sorted(stages.items())),
        "open": sum(n for stage, n in stages.items() if stage in OPEN_STAGES),
        "overdue_response": sum(1 for t in live if t[_T["status"]] == T.OFFERED
                                and t[_T["response_due"]] < now),
        "overdue_resolution": sum(1 for t in live if t[_T["status"]] != T.HANDED_IN
                                  and t[_T["resolution_due"]] < now),
    }
