"""The patrol app's map layers as plain values: overdue cases per community grid and the
office console's open cases (patrol's triage queue)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from django.db.models import Count

from civicmap.i18n import name_field
from issues.layers import MapFilters, open_cases_in_communities
from issues.models import OPEN_STAGES
from patrol.selectors import STAGES_WITH_LIVE_TASK, QueueFilters, case_overdue, triage_queue


def overdue_case_counts(*, filters: MapFilters, now: datetime) -> dict[int, int]:
    """Open cases with a live task past its deadline, per community grid (pk → cases). No
    query when none of the filters' stages has a live task (the closed cases, a new or filed
    case), as the triage queue's overdue filter keeps to those stages."""
    stages = tuple(stage for stage in filters.stages if stage in STAGES_WITH_LIVE_TASK)
    if not stages:
        return {}
    return dict(
        open_cases_in_communities(filters=replace(filters, stages=stages))
        .filter(case_overdue(now=now))
        .values_list("community_grid_id").annotate(n=Count("id")).order_by()
    )


# --- the office console: open cases ---------------------------------------------------------

OFFICE_CASE_LIMIT = 500  # the console lists the newest open cases; older ones via filters


@dataclass(frozen=True)
class OpenCase:
    id: int
    stage: str
    category: str  # code
    category_name: str
    community: str | None
    report_count: int
    last_report_at: datetime
    lon: float  # WGS 84 degrees
    lat: float


def office_open_cases(*, user, limit: int = OFFICE_CASE_LIMIT) -> list[OpenCase]:
    """Open cases of the subdistricts ``user`` covers, newest report first, through patrol's
    triage queue (the API's query)."""
    label = name_field()
    cases = triage_queue(user=user,
                         filters=QueueFilters(stages=tuple(OPEN_STAGES), limit=limit))
    return [
        OpenCase(id=case.pk, stage=case.stage, category=case.category.code,
                 category_name=getattr(case.category, label),
                 community=getattr(case.community_grid, label, None),
                 report_count=case.report_count, last_report_at=case.last_report_at,
                 lon=case.location.x, lat=case.location.y)
        for case in cases
    ]
