"""Reads of the office console's list (/office/): the open cases of the subdistricts an account
covers, searched, filtered, sorted and paged, with a count beside every filter value.

The console's filters reach the live task (handler, overdue, due soon: patrol's words, so the
read is patrol's); the rules for "overdue" and "due soon" are patrol.selectors' (one definition,
applied here to the case's live task through a join instead of EXISTS, so that one pass over
the cases counts them). The page shows at most ``page_size`` rows: a district account at
100,000 open cases never loads them all (D-056).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from django.db import connection
from django.db.models import (
    BooleanField,
    CharField,
    ExpressionWrapper,
    F,
    FilteredRelation,
    Lookup,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models import (
    Case as CaseWhen,
)
from django.utils import timezone

from civicmap.models import CommunityGrid, UnitGrid
from civicmap.scopes import EVERYWHERE, in_scope_q, user_subdistrict_ids
from issues.models import LIVE_TASK_STATUSES, OPEN_STAGES, Case, Category
from patrol.models import Department, Task, VolunteerTeam
from patrol.selectors import task_due_soon, task_overdue

PAGE_SIZE = 50  # rows a page of the console shows
PAGE_SIZE_MAX = 200
SEARCH_MIN_CHARS = 2  # a 2-character Chinese word is a word; one character is not a search
BIGRAM = 2  # issues.Case.search_bigrams: the pieces of this length
SEARCH_TOTAL_MAX = 5000  # a search's total counted this far (100 pages of 50): "5,000+"
UNIT_GRID_ID = re.compile(r"^[0-9]{15}$")  # DB11/T 2157-2023
COMMUNITY_CODE = re.compile(r"^[0-9]{12}$")  # district (6) + street (3) + community (3)
CASE_NUMBER = re.compile(r"^#?([0-9]{1,11})$")
LIVE = "live__"  # the case's live task (at most one: patrol.Task task_one_live_per_case)


class ConsoleSort(StrEnum):
    """The console's orders, each ending on the id so that a page is stable."""

    NEWEST = "newest"  # last report first
    DEADLINE = "deadline"  # the live task's resolution deadline, soonest; then newest (no task)
    REPORTS = "reports"  # most reports first
    PRIORITY = "priority"  # urgent first, then newest


class DueState(StrEnum):
    OVERDUE = "overdue"
    SOON = "soon"


@dataclass(frozen=True)
class Handler:
    """Who holds a case's live task: a team, a department (by id) or the union."""

    kind: str  # patrol.Task.AssigneeKind
    id: int | None = None


@dataclass(frozen=True)
class ConsoleFilters:
    """The console's query, already checked (frontend.forms.ConsoleFilterForm). Ids, not codes:
    the form resolves the codes it accepts."""

    search: str = ""
    stage: str | None = None
    category_id: int | None = None
    kind: str | None = None  # the category code's letter: C 部件, E 事件, L local
    community_id: int | None = None
    handler: Handler | None = None
    due: str | None = None  # DueState
    priority: int | None = None  # issues.Priority
    channel: str | None = None  # issues.ReportChannel
    created_from: date | None = None  # inclusive, in the active time zone
    created_to: date | None = None  # inclusive
    sort: str = ConsoleSort.NEWEST
    page: int = 1
    page_size: int = PAGE_SIZE


@dataclass(frozen=True)
class ConsoleRow:
    id: int
    stage: str
    category: str  # code
    category_name_zh: str
    category_name_en: str
    community_zh: str | None
    community_en: str | None
    priority: int
    channel: str
    report_count: int
    created_at: datetime
    last_report_at: datetime
    lon: float  # WGS 84 degrees
    lat: float
    handler_zh: str | None
    handler_en: str | None
    resolution_due: datetime | None
    due: str | None  # DueState or None


@dataclass(frozen=True)
class ConsolePage:
    rows: list[ConsoleRow]
    total: int
    page: int
    page_size: int
    # facet -> value -> cases matching every other filter; values are the API's words or ids
    facets: dict[str, dict] = field(default_factory=dict)
    total_capped: bool = False  # more than SEARCH_TOTAL_MAX matched (a search, a task filter)


@dataclass(frozen=True)
class ConsoleOptions:
    """What the console's filters offer an account: every category, and the communities, teams
    and departments of the subdistricts it covers (a district department serves them all)."""

    categories: list[Category]
    communities: list[CommunityGrid]
    teams: list[VolunteerTeam]
    departments: list[Department]


def console_options(*, user) -> ConsoleOptions:
    scope = user_subdistrict_ids(user)
    communities = CommunityGrid.objects.filter(in_scope_q(user)).order_by("code")
    teams = VolunteerTeam.objects.filter(in_scope_q(user)).order_by("code")
    departments = Department.objects.order_by("code")
    if scope is not EVERYWHERE:
        departments = departments.filter(Q(subdistrict__isnull=True)
                                         | Q(subdistrict__in=sorted(scope)))
    return ConsoleOptions(
        categories=list(Category.objects.order_by("code").only("code", "name_zh", "name_en")),
        communities=list(communities.only("code", "name_zh", "name_en")),
        teams=list(teams.only("code", "name_zh", "name_en")),
        departments=list(departments.only("code", "name_zh", "name_en")))


class ILike(Lookup):
    """``lhs ILIKE rhs`` (PostgreSQL): what a pg_trgm index answers, case-insensitively."""

    lookup_name = "ilike"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} ILIKE {rhs}", [*lhs_params, *rhs_params]


# --- the query --------------------------------------------------------------------------------

def _with_live_task(cases: QuerySet[Case], *, now: datetime) -> QuerySet[Case]:
    """The case's live task joined (LEFT JOIN, at most one row a case) and its deadline state."""
    return cases.annotate(
        live=FilteredRelation("tasks", condition=Q(tasks__status__in=LIVE_TASK_STATUSES)),
    ).annotate(due_state=CaseWhen(
        When(task_overdue(now=now, prefix=LIVE), then=Value(DueState.OVERDUE.value)),
        When(task_due_soon(now=now, prefix=LIVE), then=Value(DueState.SOON.value)),
        default=None, output_field=CharField()))


def _search_q(search: str) -> Q:
    """A case number (``123``, ``#123``), a unit grid ID (15 digits), a community's code (12
    digits), or words: in the reports' descriptions (substring, any language) or a community's
    name."""
    number = CASE_NUMBER.match(search)
    if UNIT_GRID_ID.match(search):
        return Q(unit_grid_id__in=UnitGrid.objects.filter(grid_id=search).values("pk"))
    if COMMUNITY_CODE.match(search):
        return Q(community_grid__code=search)
    if number:
        return Q(pk=int(number.group(1)))
    communities = list(CommunityGrid.objects.filter(
        Q(name_zh__icontains=search) | Q(name_en__icontains=search))
        .values_list("pk", flat=True))
    # ILIKE on the column, as the GIN trigram index case_search_text_trgm serves (3 or more
    # characters); the user's % _ \\ are matched as themselves.
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    words = Q(ILike(F("search_text"), Value(f"%{escaped}%")))
    if len(search) == BIGRAM and not search.isspace():  # no trigram: the pieces' GIN index
        words &= Q(search_bigrams__contains=[search.lower()])
    return words | Q(community_grid_id__in=communities) if communities else words


def _base(*, user, filters: ConsoleFilters) -> QuerySet[Case]:
    """Open cases of the user's subdistricts matching the filters that have no counts (search,
    created dates). Scope, stages and merged_into as the partial index case_console_open
    says them, so that it serves."""
    cases = Case.objects.filter(in_scope_q(user), stage__in=OPEN_STAGES,
                                merged_into__isnull=True)
    if filters.search:
        cases = cases.filter(_search_q(filters.search))
    zone = timezone.get_current_timezone()
    if filters.created_from:
        cases = cases.filter(created_at__gte=datetime.combine(filters.created_from, time.min,
                                                              tzinfo=zone))
    if filters.created_to:
        cases = cases.filter(created_at__lt=datetime.combine(
            filters.created_to + timedelta(days=1), time.min, tzinfo=zone))
    return cases


def _kind_category_ids(kind: str) -> list[int]:
    return list(Category.objects.filter(code__startswith=kind).values_list("pk", flat=True))


# The filters on the live task go by the tasks' own indexes (task_live_team_due,
# task_response_due …) as a semi-join: the cases are then counted from their covering index,
# not each joined to its task (165 against 30 ms for "overdue" at 86,000 open cases).

def _handler_q(handler: Handler) -> Q:
    tasks = Task.objects.filter(status__in=LIVE_TASK_STATUSES)
    if handler.kind == "team":
        tasks = tasks.filter(team_id=handler.id)
    elif handler.kind == "department":
        tasks = tasks.filter(department_id=handler.id)
    else:
        tasks = tasks.filter(assignee_kind=handler.kind)
    return Q(pk__in=tasks.values("case_id"))


def _due_rule(due: str, *, now: datetime) -> Q:
    """The rule on a task for a deadline state (patrol.selectors' own)."""
    return task_overdue(now=now) if due == DueState.OVERDUE else task_due_soon(now=now)


def _due_q(due: str, *, now: datetime) -> Q:
    return Q(pk__in=Task.objects.filter(_due_rule(due, now=now)).values("case_id"))


def _facet_filters(filters: ConsoleFilters, *, now: datetime) -> dict[str, Q]:
    """Each counted filter that is set, by facet name."""
    chosen = {
        "stage": Q(stage=filters.stage) if filters.stage else None,
        "category": Q(category_id=filters.category_id) if filters.category_id else None,
        # by the categories' ids (the category table is small): no join to it on every row
        "kind": Q(category_id__in=_kind_category_ids(filters.kind)) if filters.kind else None,
        "community": Q(community_grid_id=filters.community_id) if filters.community_id else None,
        "handler": _handler_q(filters.handler) if filters.handler else None,
        "due": _due_q(filters.due, now=now) if filters.due else None,
        "priority": Q(priority=filters.priority) if filters.priority else None,
        "channel": Q(channel=filters.channel) if filters.channel else None,
    }
    return {name: q for name, q in chosen.items() if q is not None}


_ORDER = {  # the deadline's: _deadline_ids
    ConsoleSort.NEWEST: ("-last_report_at", "-id"),
    ConsoleSort.REPORTS: ("-report_count", "-last_report_at", "-id"),
    ConsoleSort.PRIORITY: ("priority", "-last_report_at", "-id"),
}

_ROW_VALUES = (
    "id", "stage", "category__code", "category__name_zh", "category__name_en",
    "community_grid__name_zh", "community_grid__name_en", "priority", "channel", "report_count",
    "created_at", "last_report_at", "location", "live__team__name_zh", "live__team__name_en",
    "live__department__name_zh", "live__department__name_en", "live__assignee_kind",
    "live__resolution_due", "due_state", "subdistrict__name_zh", "subdistrict__name_en",
)


def office_console_page(*, user, filters: ConsoleFilters, now: datetime | None = None,
                        with_facets: bool = True) -> ConsolePage:
    """One page of the console: the open cases of the subdistricts ``user`` covers
    (civicmap.scopes) matching ``filters``, in its order, the total, and with ``with_facets``
    the counts (``office_console_facets``)."""
    now = now or timezone.now()
    base = _base(user=user, filters=filters)
    chosen = _facet_filters(filters, now=now)
    total, capped = _total(base, chosen, filters=filters)
    rows = _page_rows(base, chosen, filters=filters, now=now)
    facets = _counted(base, chosen, now=now) if with_facets else {}
    return ConsolePage(rows=rows, total=total, page=filters.page, page_size=filters.page_size,
                       facets=facets, total_capped=capped)


def office_console_total(*, user, filters: ConsoleFilters,
                         now: datetime | None = None) -> tuple[int, bool]:
    """How many cases match ``filters`` (a search's counted up to SEARCH_TOTAL_MAX) and
    whether a search matched more."""
    now = now or timezone.now()
    return _total(_base(user=user, filters=filters), _facet_filters(filters, now=now),
                  filters=filters)


def office_console_facets(*, user, filters: ConsoleFilters,
                          now: datetime | None = None) -> dict[str, dict]:
    """The counts beside the filters: each facet's values counted under every other filter, as
    a shop's filters count (one pass over the matching open cases and their live tasks, the
    console's slowest read: the list asks for them apart, D-056)."""
    now = now or timezone.now()
    return _counted(_base(user=user, filters=filters), _facet_filters(filters, now=now), now=now)


def _counted(base: QuerySet[Case], chosen: dict[str, Q], *, now: datetime) -> dict[str, dict]:
    return _kinds_summed(_facets(_with_live_task(base, now=now), chosen))


def _total(base: QuerySet[Case], chosen: dict[str, Q], *,
           filters: ConsoleFilters) -> tuple[int, bool]:
    """An index-only count of the cases; counted up to SEARCH_TOTAL_MAX when a search or a
    filter on the live task decides it (a word in nearly every case, or "overdue" in a
    backlog, would read every match: 0.4 s at 86,000 open cases, 60 ms for 57,000 overdue of
    141,000). The counts beside the filters still give such a filter's exact number."""
    matching = base.filter(*chosen.values())
    if not (filters.search or filters.due or filters.handler):
        return matching.count(), False
    total = matching[:SEARCH_TOTAL_MAX + 1].count()
    return min(total, SEARCH_TOTAL_MAX), total > SEARCH_TOTAL_MAX


def _page_rows(base: QuerySet[Case], chosen: dict[str, Q], *, filters: ConsoleFilters,
               now: datetime) -> list[ConsoleRow]:
    """The page in two steps: its ids in order, then their rows. Unless the live task decides
    the order (the deadline sort), the ids come from the cases alone (an
    index-only scan of case_console_open and a top-N sort: 86,000 open cases sorted by reports
    in ~20 ms, against ~300 ms joining every case to its task, category and grid first)."""
    cases = base.filter(*chosen.values())
    offset, size = (filters.page - 1) * filters.page_size, filters.page_size
    if filters.sort == ConsoleSort.DEADLINE:
        # A deadline state filters the live tasks being sorted, not the cases through them
        others = [q for name, q in chosen.items() if name != "due"]
        ids = _deadline_ids(base.filter(*others), offset=offset, size=size,
                            rule=_due_rule(filters.due, now=now) if filters.due else None)
    else:
        ids = list(cases.order_by(*_ORDER[ConsoleSort(filters.sort)])
                   .values_list("pk", flat=True)[offset:offset + size])
    found = {values["id"]: values for values in _with_live_task(
        Case.objects.filter(pk__in=ids), now=now).values(*_ROW_VALUES)}
    return [_row(found[pk]) for pk in ids if pk in found]


def _deadline_ids(cases: QuerySet[Case], *, offset: int, size: int,
                  rule: Q | None = None) -> list[int]:
    """A page of ids by the live task's resolution deadline, soonest first, then the cases with
    no live task, newest first. From the live tasks (a sort of the tasks whose case matches,
    about 35,000 at 86,000 open cases), not every open case joined to its task and sorted
    (70 against ~25 ms of SQL); the cases without a task are counted only on the pages that
    reach them. ``rule``: a deadline state the tasks must be in (then no case without one
    qualifies)."""
    tasked = Task.objects.filter(status__in=LIVE_TASK_STATUSES, case__in=cases)
    if rule is not None:
        tasked = tasked.filter(rule)
    ids = list(tasked.order_by("resolution_due", "-case_id")
               .values_list("case_id", flat=True)[offset:offset + size])
    if len(ids) == size or rule is not None:
        return ids
    after = max(0, offset - tasked.count())
    rest = (cases.exclude(pk__in=tasked.values("case_id"))
            .order_by("-last_report_at", "-id").values_list("pk", flat=True))
    return ids + list(rest[after:after + size - len(ids)])


def _kinds_summed(facets: dict[str, dict]) -> dict[str, dict]:
    """The kind facet was counted by category: summed by the code's letter."""
    codes = dict(Category.objects.values_list("pk", "code"))
    kinds: dict[str, int] = {}
    for category_id, n in facets["kind"].items():
        kinds[codes[category_id][0]] = kinds.get(codes[category_id][0], 0) + n
    return {**facets, "kind": kinds}


def _row(values: dict) -> ConsoleRow:
    union = values["live__assignee_kind"] == "union"
    union_zh = f"{values['subdistrict__name_zh']}总工会"  # patrol.selectors.union_names
    union_en = f"{values['subdistrict__name_en']} Trade Union"
    return ConsoleRow(
        id=values["id"], stage=values["stage"], category=values["category__code"],
        category_name_zh=values["category__name_zh"],
        category_name_en=values["category__name_en"],
        community_zh=values["community_grid__name_zh"],
        community_en=values["community_grid__name_en"],
        priority=values["priority"], channel=values["channel"],
        report_count=values["report_count"], created_at=values["created_at"],
        last_report_at=values["last_report_at"],
        lon=values["location"].x, lat=values["location"].y,
        handler_zh=(union_zh if union else values["live__team__name_zh"]
                    or values["live__department__name_zh"]),
        handler_en=(union_en if union else values["live__team__name_en"]
                    or values["live__department__name_en"]),
        resolution_due=values["live__resolution_due"], due=values["due_state"],
    )


# --- the counts beside the filters ------------------------------------------------------------

# Facet -> the columns of the inner query it groups by (its grouping set).
_FACET_COLUMNS = {
    "stage": ("stage",),
    "category": ("category_id",),
    "kind": ("category_id",),  # summed by the category's letter afterwards
    "community": ("community_grid_id",),
    "handler": ("h_kind", "h_team", "h_department"),
    "due": ("due_state",),
    "priority": ("priority",),
    "channel": ("channel",),
}
_COLUMNS = ("stage", "category_id", "community_grid_id", "h_kind", "h_team", "h_department",
            "due_state", "priority", "channel")


def _facets(base: QuerySet[Case], chosen: dict[str, Q]) -> dict[str, dict]:
    """Every facet's counts in one pass over the cases (GROUPING SETS): the inner query is the
    ORM's (scope, search, dates, the live task), with one boolean a counted filter; each facet
    counts the rows that pass every filter but its own.

    Raw SQL for the outer query because Django has no GROUPING SETS; only fixed identifiers
    are written into it, every value stays a bound parameter of the inner query.
    """
    flags = {f"f_{name}": ExpressionWrapper(q, output_field=BooleanField())
             for name, q in chosen.items()}
    inner = base.annotate(h_kind=F("live__assignee_kind"), h_team=F("live__team_id"),
                          h_department=F("live__department_id"), **flags)
    sql, params = inner.values(*_COLUMNS, *flags).order_by().query.sql_with_params()

    def passing(facet: str) -> str:
        others = [flag for flag in flags if flag != f"f_{facet}"]
        return f"count(*) FILTER (WHERE {' AND '.join(others)})" if others else "count(*)"

    counts = ", ".join(f"{passing(facet)} AS n_{facet}" for facet in _FACET_COLUMNS)
    sets = ", ".join(f"({', '.join(columns)})"
                     for columns in dict.fromkeys(_FACET_COLUMNS.values()))
    grouping = f"GROUPING({', '.join(_COLUMNS)})"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {grouping}, {', '.join(_COLUMNS)}, {counts} "
                       f"FROM ({sql}) AS console GROUP BY GROUPING SETS ({sets})", params)
        result = cursor.fetchall()
    return _facets_read(result)


def _facets_read(result: list[tuple]) -> dict[str, dict]:
    facets: dict[str, dict] = {name: {} for name in _FACET_COLUMNS}
    width = len(_COLUMNS)
    for row in result:
        bits, values, counts = row[0], row[1:1 + width], row[1 + width:]
        grouped = {column for i, column in enumerate(_COLUMNS)
                   if not bits & (1 << (width - 1 - i))}
        by_column = dict(zip(_COLUMNS, values, strict=True))
        for (facet, columns), n in zip(_FACET_COLUMNS.items(), counts, strict=True):
            if set(columns) != grouped or not n:
                continue
            if facet == "handler":
                if by_column["h_kind"] is None:
                    continue
                key = (by_column["h_kind"], by_column["h_team"] or by_column["h_department"])
            else:
                key = by_column[columns[0]]
                if key is None:
                    continue
            facets[facet][key] = facets[facet].get(key, 0) + n
    return facets
