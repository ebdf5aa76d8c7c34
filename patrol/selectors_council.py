"""Reads of the riders' suggestion box and council (issue 18): the board of the riders'
own-needs cases (the L02 categories) grouped by topic and place, the meetings, and who may act.

The board is one query grouped in PostgreSQL (and one for the agendas); the union's page and
the JSON API (/api/v1/council/board/) read this same selector.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicmap.errors import MSG_NOT_FOUND, InvalidInput, NotFound
from civicmap.models import Subdistrict
from civicmap.roles import Role, user_has_role
from civicmap.scopes import EVERYWHERE, user_subdistrict_ids
from issues.models import OPEN_STAGES, Case, Category, Stage
from patrol.models import CouncilMeeting, CouncilTopic
from patrol.workdays import SHANGHAI

# The riders' own-needs categories: L0201 … L0205 (fixtures/categories.json).
OWN_NEEDS_PREFIX = "L02"
CLOSED_STAGES = (Stage.CLOSED, Stage.EVALUATED)
BOARD_STATES = ("open", "closed", "cancelled")
MSG_CHOOSE_SUBDISTRICT = _("Choose a subdistrict.")


def own_needs_categories() -> QuerySet[Category]:
    """The riders' own-needs categories (parking, charging, entering estates, finding pick-up
    points, station service): the suggestion box's topics."""
    return Category.objects.filter(code__startswith=OWN_NEEDS_PREFIX).exclude(
        code=OWN_NEEDS_PREFIX).order_by("code")


# --- who may read and act ---------------------------------------------------------------------


def council_may_read(*, user) -> bool:
    """Union staff (of a subdistrict, or the district's) read the council's pages, and so does
    the district's office (office staff whose work covers the whole district; the admin). A
    liaison or team of a district-wide department does not: the council is the union's."""
    return user_has_role(user, Role.UNION_STAFF) or (
        user_has_role(user, Role.OFFICE_STAFF) and user_subdistrict_ids(user) is EVERYWHERE)


def council_may_act(*, user, subdistrict_id: int) -> bool:
    """Only union staff of the subdistrict itself plan its meetings and record outcomes; an
    account of the whole district reads (the union federation does not run a subdistrict's
    council)."""
    scope = user_subdistrict_ids(user)
    return (user_has_role(user, Role.UNION_STAFF) and scope is not EVERYWHERE
            and subdistrict_id in scope)


def council_subdistrict_ids(*, user) -> list[int] | None:
    """The subdistricts whose council the user reads: None for every one."""
    scope = user_subdistrict_ids(user)
    return None if scope is EVERYWHERE else sorted(scope)


def council_subdistrict_for(*, user, subdistrict: Subdistrict | None) -> Subdistrict:
    """The subdistrict whose council the user looks at: the one asked for, if the user's work
    covers it (else 404 naming the field); none asked, the user's own when it is one (a
    district account must choose: 400 naming the field)."""
    scope = council_subdistrict_ids(user=user)
    if subdistrict is None:
        if scope is None or len(scope) != 1:
            raise InvalidInput.single("subdistrict", "required", MSG_CHOOSE_SUBDISTRICT)
        return Subdistrict.objects.defer("boundary").get(pk=scope[0])
    if scope is not None and subdistrict.pk not in scope:
        raise NotFound.single("subdistrict", "not_found", MSG_NOT_FOUND)
    return subdistrict


# --- the board ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardRow:
    category_id: int
    category_code: str
    category_zh: str
    category_en: str
    community_id: int | None
    community_zh: str | None
    community_en: str | None
    total: int
    open: int
    closed: int
    cancelled: int
    newest: datetime
    planned_meeting_id: int | None  # on the agenda of this planned meeting (the next one)
    planned_meeting_date: date | None

    def as_json(self) -> dict:
        return {"category": self.category_code,
                "category_name": {"zh": self.category_zh, "en": self.category_en},
                "community": self.community_id,
                "community_name": (None if self.community_id is None
                                   else {"zh": self.community_zh, "en": self.community_en}),
                "total": self.total, "open": self.open, "closed": self.closed,
                "cancelled": self.cancelled, "newest": self.newest.isoformat(),
                "on_agenda": (None if self.planned_meeting_id is None else
                              {"meeting": self.planned_meeting_id,
                               "date": self.planned_meeting_date.isoformat()})}


def _state_q(state: str) -> Q:
    return {"open": Q(stage__in=OPEN_STAGES), "closed": Q(stage__in=CLOSED_STAGES),
            "cancelled": Q(stage=Stage.CANCELLED)}[state]


def _local_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)


def council_cases(*, subdistrict_id: int, since: date | None = None,
                  until: date | None = None, state: str = "") -> QuerySet[Case]:
    """The subdistrict's own-needs cases (merged ones counted in the case they joined),
    reported from ``since`` to ``until`` (local days, both included), in ``state``."""
    cases = Case.objects.filter(subdistrict_id=subdistrict_id, merged_into__isnull=True,
                                category__code__startswith=OWN_NEEDS_PREFIX)
    if since is not None:
        cases = cases.filter(created_at__gte=_local_start(since))
    if until is not None:
        cases = cases.filter(created_at__lt=_local_start(until + timedelta(days=1)))
    if state:
        cases = cases.filter(_state_q(state))
    return cases


def council_board(*, subdistrict_id: int, since: date | None = None, until: date | None = None,
                  state: str = "") -> list[BoardRow]:
    """The board: the subdistrict's own-needs cases grouped by topic (category) and place
    (community), with counts by state (open stages, closed or evaluated, cancelled), the newest
    case's time and the next planned meeting whose agenda has the topic. Most open first."""
    groups = (council_cases(subdistrict_id=subdistrict_id, since=since, until=until,
                            state=state)
              .values("category_id", "category__code", "category__name_zh",
                      "category__name_en", "community_grid_id", "community_grid__name_zh",
                      "community_grid__name_en")
              .annotate(total=Count("id"), open=Count("id", filter=_state_q("open")),
                        closed=Count("id", filter=_state_q("closed")),
                        cancelled=Count("id", filter=_state_q("cancelled")),
                        newest=Max("created_at"))
              .order_by("-open", "-total", "category__code", "community_grid__name_zh"))
    agenda: dict[tuple[int, int | None], tuple[int, date]] = {}
    for topic in (CouncilTopic.objects
                  .filter(meeting__subdistrict_id=subdistrict_id,
                          meeting__state=CouncilMeeting.State.PLANNED)
                  .order_by("-meeting__date", "-meeting_id")
                  .values("category_id", "community_grid_id", "meeting_id", "meeting__date")):
        agenda[(topic["category_id"], topic["community_grid_id"])] = (
            topic["meeting_id"], topic["meeting__date"])  # the earliest planned one wins
    rows = []
    for group in groups:
        meeting = agenda.get((group["category_id"], group["community_grid_id"]))
        rows.append(BoardRow(
            category_id=group["category_id"], category_code=group["category__code"],
            category_zh=group["category__name_zh"], category_en=group["category__name_en"],
            community_id=group["community_grid_id"],
            community_zh=group["community_grid__name_zh"],
            community_en=group["community_grid__name_en"], total=group["total"],
            open=group["open"], closed=group["closed"], cancelled=group["cancelled"],
            newest=group["newest"], planned_meeting_id=meeting[0] if meeting else None,
            planned_meeting_date=meeting[1] if meeting else None))
    return rows


# --- meetings -----------------------------------------------------------------------------------


def council_meeting_list(*, subdistrict_id: int) -> QuerySet[CouncilMeeting]:
    """The subdistrict's meetings, newest first, with their number of topics and decided ones."""
    return (CouncilMeeting.objects.filter(subdistrict_id=subdistrict_id)
            .annotate(topic_count=Count("topics"),
                      decided_count=Count("topics", filter=Q(topics__decided_at__isnull=False)))
            .order_by("-date", "-id"))


def council_meeting_get(*, meeting_id: int, user) -> CouncilMeeting | None:
    """One meeting the user may read, with its topics (category, place, number of cases);
    None for another subdistrict's (a 404)."""
    scope = council_subdistrict_ids(user=user)
    meetings = CouncilMeeting.objects.select_related("subdistrict")
    if scope is not None:
        meetings = meetings.filter(subdistrict_id__in=scope)
    return meetings.filter(pk=meeting_id).first()


def council_topic_list(*, meeting: CouncilMeeting) -> QuerySet[CouncilTopic]:
    return (CouncilTopic.objects.filter(meeting=meeting)
            .select_related("category", "community_grid")
            .annotate(case_count=Count("cases"))
            .order_by("category__code", "community_grid__name_zh", "id"))


def council_today() -> date:
    """Today in Beijing time: meetings are planned by local day."""
    return timezone.now().astimezone(SHANGHAI).date()
