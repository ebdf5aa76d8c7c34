"""Routing: which team, department or the union gets a case.

Order (components go first to their owner, events first to the locality; docs/ARCHITECTURE.md,
"After intake: the lifecycle", and the handlers in fixtures/README.md):
1. the routing rule for (category, community), then for the category in the case's
   subdistrict, then in the whole district;
2. the category's default handler (a team type, its owner department, or the union);
3. the locality: any team serving the case's community.
Among eligible teams, the one with the fewest live tasks wins (ties: the lowest code).

The decision is one pure function, ``route_choose``, over plain inputs: the rules, the default
handler (both as ``Target``) and the teams serving the community with their live-task counts.
``route_for_case`` loads those inputs from the database for one case; the demo history
(fixtures/case_histories.py) passes the same inputs from its in-memory snapshot, so both follow
this one rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import NamedTuple, Protocol

from django.db import connection
from django.db.models import Count, Q

from civicmap.db import columns_sql, joined_instances
from issues.models import LIVE_TASK_STATUSES, Case, Category
from patrol.models import Department, RoutingRule, Task, VolunteerTeam


@dataclass(frozen=True)
class Target:
    """Where a routing rule or a category's default handler points: ``kind`` is a
    RoutingRule.Target (a team of a type serving the community, a given team, a department,
    the union). ``reach``: how wide the rule's place is, the narrowest first: 0 the case's
    community, 1 its subdistrict, 2 the whole district (the default handler comes after
    them all). ``rule_id``: the RoutingRule it comes from (None: the category's default
    handler), so that a suggestion can say which rule chose it."""

    kind: str
    team_type: str = ""
    team_id: int | None = None
    department_id: int | None = None
    reach: int = 0
    rule_id: int | None = None


@dataclass(frozen=True)
class Route:
    kind: str  # Task.AssigneeKind
    team: VolunteerTeam | None = None
    department: Department | None = None
    by: Target | None = None  # what chose it (RouteIds.by); None: the locality, or a person


@dataclass(frozen=True)
class RouteIds:
    """A route as ids: what ``route_choose`` decides, and ``by`` which target of its order
    decided it: a rule (``rule_id`` set), the category's default handler (``rule_id`` None),
    or None for the locality (the least busy team serving the community)."""

    kind: str  # Task.AssigneeKind
    team_id: int | None = None
    department_id: int | None = None
    by: Target | None = None


class Candidate(Protocol):
    """A team serving the case's community (a VolunteerTeam annotated with ``live`` will do)."""

    id: int
    team_type: str
    live: int  # its live tasks (LIVE_TASK_STATUSES)


class TeamLoad(NamedTuple):
    """A Candidate as plain values."""

    id: int
    team_type: str
    live: int


def rule_target(*, target: str, team_type: str, team_id: int | None,
                department_id: int | None, community_id: int | None,
                subdistrict_id: int | None, rule_id: int | None = None) -> Target:
    """A RoutingRule's fields as a Target."""
    reach = 0 if community_id is not None else 1 if subdistrict_id is not None else 2
    return Target(kind=target, team_type=team_type, team_id=team_id,
                  department_id=department_id, reach=reach, rule_id=rule_id)


# A category's routing rules that apply at a place (its community's, its subdistrict's, the
# district's), each with its team and department, as
# ``RoutingRule.objects.filter(…).select_related("team", "department")`` loads them: a statement
# built once, where the ORM compiled that query anew for every case dispatched, about 1 ms of a
# web worker's CPU (docs/BENCHMARKS.md §2). A community of None matches the rules of no
# community, as the ORM's ``community=None`` does. Parameters: category, community, subdistrict
# (ids).
_RULE_MODELS = (RoutingRule, VolunteerTeam, Department)
_RULES_AT_PLACE = f"""SELECT {columns_sql(model=RoutingRule, alias="r")},
        {columns_sql(model=VolunteerTeam, alias="t")}, {columns_sql(model=Department, alias="d")}
    FROM {RoutingRule._meta.db_table} r
    LEFT JOIN {VolunteerTeam._meta.db_table} t ON t.id = r.team_id
    LEFT JOIN {Department._meta.db_table} d ON d.id = r.department_id
    WHERE r.category_id = %(category)s
      AND (r.community_id IS NOT DISTINCT FROM %(community)s
           OR (r.community_id IS NULL AND r.subdistrict_id = %(subdistrict)s)
           OR (r.community_id IS NULL AND r.subdistrict_id IS NULL))"""


def rules_at_place(*, category_id: int, community_id: int | None, subdistrict_id: int
                   ) -> list[RoutingRule]:
    """The category's routing rules at a place (its community's, its subdistrict's, the
    district's), each with its team and department loaded (None when it names none)."""
    with connection.cursor() as cursor:
        cursor.execute(_RULES_AT_PLACE, {"category": category_id, "community": community_id,
                                         "subdistrict": subdistrict_id})
        rows = cursor.fetchall()
    rules = []
    for row in rows:
        rule, team, department = joined_instances(models=_RULE_MODELS, row=row)
        rule.team, rule.department = team, department  # cached, as select_related leaves them
        rules.append(rule)
    return rules


def handler_target(*, handler: str, handler_team_type: str,
                   handler_department_id: int | None) -> Target:
    """A category's default handler (Category.Handler) as a Target."""
    if handler == Category.Handler.UNION:
        return Target(RoutingRule.Target.UNION)
    if handler == Category.Handler.DEPARTMENT:
        return Target(RoutingRule.Target.DEPARTMENT, department_id=handler_department_id)
    return Target(RoutingRule.Target.TEAM_TYPE, team_type=handler_team_type)


def _least_busy(teams: Iterable[Candidate]) -> Candidate | None:
    # ``teams`` come in code order and min keeps the first of equals: ties go to the lowest code.
    return min(teams, key=lambda team: team.live, default=None)


def _target_route(target: Target, teams: Iterable[Candidate]) -> RouteIds | None:
    if target.kind == RoutingRule.Target.TEAM:
        return RouteIds(Task.AssigneeKind.TEAM, team_id=target.team_id)
    if target.kind == RoutingRule.Target.DEPARTMENT:
        return RouteIds(Task.AssigneeKind.DEPARTMENT, department_id=target.department_id)
    if target.kind == RoutingRule.Target.UNION:
        return RouteIds(Task.AssigneeKind.UNION)
    team = _least_busy(t for t in teams if t.team_type == target.team_type)
    return RouteIds(Task.AssigneeKind.TEAM, team_id=team.id) if team else None


def route_choose(*, rules: Iterable[Target], handler: Target,
                 teams: Iterable[Candidate]) -> RouteIds | None:
    """Where a case goes (the module's order), None when nobody serves its community.

    ``rules``: the category's rules for the case's place (``rules_at_place``), any order;
    ``handler``: the category's default handler; ``teams``: the teams serving the case's
    community in code order, with their live tasks. ``teams`` is read only when a team type or
    the locality decides (a lazy QuerySet then costs no query when a rule names the target).
    """
    for target in (*sorted(rules, key=lambda rule: rule.reach), handler):  # narrowest first
        route = _target_route(target, teams)
        if route:
            return replace(route, by=target)
    locality = _least_busy(teams)
    return RouteIds(Task.AssigneeKind.TEAM, team_id=locality.id) if locality else None


class _ServingTeams:
    """The teams serving a community in code order, each with ``live`` (its live tasks), as
    ``route_choose`` reads them: the query is built and run on the first read only. Most
    routes need no team list (a rule naming the team, a department, the union), and building
    the query cost intake's dispatch more than running it (docs/BENCHMARKS.md §2)."""

    def __init__(self, *, community_id: int) -> None:
        self.community_id = community_id
        self._teams: list[VolunteerTeam] | None = None

    def __iter__(self):
        if self._teams is None:
            self._teams = list(
                VolunteerTeam.objects.filter(communities=self.community_id).annotate(
                    live=Count("tasks", filter=Q(tasks__status__in=LIVE_TASK_STATUSES)))
                .order_by("code"))
        return iter(self._teams)


def route_for_case(*, case: Case) -> Route | None:
    """Where the case goes; None when nobody serves its community (the office decides)."""
    rules = rules_at_place(category_id=case.category_id, community_id=case.community_grid_id,
                           subdistrict_id=case.subdistrict_id)
    teams = _ServingTeams(community_id=case.community_grid_id)
    category = case.category
    route = route_choose(
        rules=[rule_target(target=r.target, team_type=r.team_type, team_id=r.team_id,
                           department_id=r.department_id, community_id=r.community_id,
                           subdistrict_id=r.subdistrict_id, rule_id=r.pk)
               for r in rules],
        handler=handler_target(handler=category.handler,
                               handler_team_type=category.handler_team_type,
                               handler_department_id=category.handler_department_id),
        teams=teams)
    if route is None:
        return None
    if route.kind == Task.AssigneeKind.TEAM:
        named = {r.team_id: r.team for r in rules if r.team_id is not None}
        team = named.get(route.team_id) or next(t for t in teams if t.pk == route.team_id)
        return Route(route.kind, team=team, by=route.by)
    if route.kind == Task.AssigneeKind.DEPARTMENT:
        named = {r.department_id: r.department for r in rules if r.department_id is not None}
        return Route(route.kind, department=named.get(route.department_id)
                     or category.handler_department, by=route.by)
    return Route(route.kind, by=route.by)
