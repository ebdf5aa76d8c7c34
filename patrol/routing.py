"""Routing: which team, department or the union gets a case.

Order (components go first to their owner, events first to the locality; docs/ARCHITECTURE.md,
"After intake: the lifecycle", and the handlers in fixtures/README.md):
1. the routing rule for (category, community), then the rule for the category everywhere;
2. the category's default handler (a team type, its owner department, or the union);
3. the locality: any team serving the case's community.
Among eligible teams, the one with the fewest live tasks wins (ties: the lowest code).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from issues.models import LIVE_TASK_STATUSES, Case, Category
from patrol.models import Department, RoutingRule, Task, VolunteerTeam


@dataclass(frozen=True)
class Route:
    kind: str  # Task.AssigneeKind
    team: VolunteerTeam | None = None
    department: Department | None = None


def _least_busy(teams) -> VolunteerTeam | None:
    return (
        teams.annotate(live=Count("tasks", filter=Q(tasks__status__in=LIVE_TASK_STATUSES)))
        .order_by("live", "code").first()
    )


def _team_of_type(team_type: str, case: Case) -> VolunteerTeam | None:
    return _least_busy(VolunteerTeam.objects.filter(team_type=team_type,
                                                    communities=case.community_grid_id))


def _rule_route(rule: RoutingRule, case: Case) -> Route | None:
    if rule.target == RoutingRule.Target.TEAM:
        return Route(Task.AssigneeKind.TEAM, team=rule.team)
    if rule.target == RoutingRule.Target.DEPARTMENT:
        return Route(Task.AssigneeKind.DEPARTMENT, department=rule.department)
    if rule.target == RoutingRule.Target.UNION:
        return Route(Task.AssigneeKind.UNION)
    team = _team_of_type(rule.team_type, case)
    return Route(Task.AssigneeKind.TEAM, team=team) if team else None


def _default_route(category: Category, case: Case) -> Route | None:
    if category.handler == Category.Handler.UNION:
        return Route(Task.AssigneeKind.UNION)
    if category.handler == Category.Handler.DEPARTMENT:
        return Route(Task.AssigneeKind.DEPARTMENT, department=category.handler_department)
    team = _team_of_type(category.handler_team_type, case)
    return Route(Task.AssigneeKind.TEAM, team=team) if team else None


def route_for_case(*, case: Case) -> Route | None:
    """Where the case goes; None when nobody serves its community (the office decides)."""
    rules = RoutingRule.objects.filter(category=case.category_id).filter(
        Q(community=case.community_grid_id) | Q(community__isnull=True)
    ).select_related("team", "department")
    for rule in sorted(rules, key=lambda r: r.community_id is None):  # specific first
        route = _rule_route(rule, case)
        if route:
            return route
    route = _default_route(case.category, case)
    if route:
        return route
    locality = _least_busy(VolunteerTeam.objects.filter(communities=case.community_grid_id))
    return Route(Task.AssigneeKind.TEAM, team=locality) if locality else None
