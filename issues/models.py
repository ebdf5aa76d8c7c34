"""Reports from riders and other channels, their categories, and the cases they merge into."""

from __future__ import annotations

import uuid
from enum import StrEnum

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db.models import F, Func, Q, Value
from django.utils.translation import gettext_lazy as _

from civicmap.bounds import ACCURACY_MAX_M, CLIENT_TIME_AHEAD_MAX, CLIENT_TIME_MIN
from civicmap.models import WGS84, CommunityGrid, Subdistrict, UnitGrid
from civicmap.spatial import METRIC_SRID, metric, metric_cell_key


class TeamType(models.TextChoices):
    """The three volunteer team types of the Nanyuan programme."""

    CIVILITY = "civility", _("Civility persuasion (文明劝导)")
    SUNSET = "sunset", _("Warm sunset (情暖夕阳)")
    HOUSEKEEPER = "housekeeper", _("Nanyuan housekeeper (南苑管家)")


class CategoryGroup(models.Model):
    """A major class of CJ/T 214 / GB/T 30428: kind letter + 2-digit major code, e.g. ``E01``."""

    code = models.CharField(_("code"), max_length=3, unique=True)
    name_zh = models.CharField(_("Chinese name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100)

    class Meta:
        verbose_name = _("category group")
        verbose_name_plural = _("category groups")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=r"^[CEL][0-9]{2}$"), name="category_group_code_format"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name_zh}"


DEADLINE_HOURS_MAX = 8784  # hours: 366 days
DEADLINE_WORKING_DAYS_MAX = 250  # working days: about a calendar year in China


class Category(models.Model):
    """A minor category: what a report is about, who handles it and how fast."""

    class Urgency(models.TextChoices):
        EMERGENCY = "emergency", _("Emergency")
        URGENT = "urgent", _("Urgent")
        NORMAL = "normal", _("Normal")

    class Handler(models.TextChoices):
        TEAM = "team", _("Volunteer team")
        DEPARTMENT = "department", _("Government department")
        UNION = "union", _("Trade union")

    class DeadlineUnit(models.TextChoices):
        HOURS = "hours", _("Hours")
        WORKING_DAYS = "working_days", _("Working days")

    # Kind letter (C component 部件, E event 事件, L local extension), 2-digit major, 2-digit minor.
    code = models.CharField(_("code"), max_length=5, unique=True)
    group = models.ForeignKey(
        CategoryGroup, on_delete=models.PROTECT, related_name="categories",
        verbose_name=_("group"),
    )
    name_zh = models.CharField(_("Chinese name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100)
    icon = models.CharField(_("icon"), max_length=40)
    urgency = models.CharField(
        _("urgency"), max_length=10, choices=Urgency.choices, default=Urgency.NORMAL
    )
    is_private = models.BooleanField(
        _("private"), default=False, help_text=_("Never shown publicly (邻里守望, 骑手诉求).")
    )
    handler = models.CharField(_("default handler"), max_length=10, choices=Handler.choices)
    handler_team_type = models.CharField(
        _("handling team type"), max_length=12, choices=TeamType.choices, blank=True
    )
    handler_department = models.ForeignKey(
        "patrol.Department", on_delete=models.PROTECT, null=True, blank=True,
        related_name="default_categories", verbose_name=_("handling department"),
        help_text=_("For a component, its owner department."),
    )
    photo_optional = models.BooleanField(_("photo optional"), default=False)
    response_deadline = models.DecimalField(
        _("response deadline"), max_digits=6, decimal_places=2
    )
    response_unit = models.CharField(
        _("response deadline unit"), max_length=12, choices=DeadlineUnit.choices
    )
    resolution_deadline = models.DecimalField(
        _("resolution deadline"), max_digits=6, decimal_places=2
    )
    resolution_unit = models.CharField(
        _("resolution deadline unit"), max_length=12, choices=DeadlineUnit.choices
    )
    merge_radius_m = models.PositiveIntegerField(
        _("duplicate radius (m)"), default=50,
        help_text=_("Reports of one problem within this many metres join one case."),
    )
    merge_window_hours = models.PositiveIntegerField(
        _("duplicate window (hours)"), default=72,
        help_text=_("A case is joined only if its last report is this recent."),
    )
    equivalents = models.ManyToManyField(
        "self", blank=True, symmetrical=True, verbose_name=_("equivalent categories")
    )
    auto_dispatch = models.BooleanField(
        _("dispatch automatically"), default=False,
        help_text=_("Dispatch on intake without the office filing the case first."),
    )

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=r"^[CEL][0-9]{4}$"), name="category_code_format"
            ),
            models.CheckConstraint(
                condition=(
                    Q(handler="team", handler_department__isnull=True)
                    & ~Q(handler_team_type="")
                )
                | Q(handler="department", handler_department__isnull=False, handler_team_type="")
                | Q(handler="union", handler_department__isnull=True, handler_team_type=""),
                name="category_handler_consistent",
            ),
            models.CheckConstraint(
                condition=Q(response_deadline__gt=0) & Q(resolution_deadline__gt=0),
                name="category_deadlines_positive",
            ),
            models.CheckConstraint(
                condition=Q(merge_radius_m__gt=0, merge_radius_m__lte=1000),
                name="category_merge_radius_range",
            ),
            # A task's deadline is at most about a year after its offer (DEADLINE_AHEAD_MAX):
            # 8,784 hours is 366 days; 250 working days are about a calendar year.
            models.CheckConstraint(
                condition=(Q(response_unit="hours", response_deadline__lte=DEADLINE_HOURS_MAX)
                           | Q(response_unit="working_days",
                               response_deadline__lte=DEADLINE_WORKING_DAYS_MAX))
                & (Q(resolution_unit="hours", resolution_deadline__lte=DEADLINE_HOURS_MAX)
                   | Q(resolution_unit="working_days",
                       resolution_deadline__lte=DEADLINE_WORKING_DAYS_MAX)),
                name="category_deadlines_at_most_a_year",
            ),
            # Intake looks back this far for a case to join: hours, at most a year.
            models.CheckConstraint(
                condition=Q(merge_window_hours__gte=1, merge_window_hours__lte=8784),
                name="category_merge_window_at_most_a_year",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name_zh}"

    @property
    def kind(self) -> str:
        """``C`` component, ``E`` event or ``L`` local extension: the code's first letter."""
        return self.code[0]


class Rider(models.Model):
    """A delivery rider or courier (外卖骑手、快递小哥): a user who reports as 流动吹哨人."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rider",
        verbose_name=_("user"),
    )
    display_name = models.CharField(_("display name"), max_length=50)
    member_no = models.CharField(
        _("union member number"), max_length=30, unique=True, null=True, blank=True
    )
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    community = models.ForeignKey(
        CommunityGrid, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="riders", verbose_name=_("community"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    joined_at = models.DateTimeField(_("joined"), auto_now_add=True)

    class Meta:
        verbose_name = _("rider")
        verbose_name_plural = _("riders")

    def __str__(self) -> str:
        return self.display_name


class PointsEntry(models.Model):
    """One award in a rider's points ledger; the total is the sum, never stored."""

    rider = models.ForeignKey(
        Rider, on_delete=models.CASCADE, related_name="points", verbose_name=_("rider")
    )
    points = models.IntegerField(_("points"))
    reason = models.CharField(_("reason"), max_length=40)
    # The event that earned it, e.g. "case:123:verified"; unique per rider so no double award.
    event_key = models.CharField(_("event key"), max_length=80)
    case = models.ForeignKey(
        "issues.Case", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        constraints = [
            models.UniqueConstraint(fields=["rider", "event_key"], name="points_once_per_event"),
        ]


class AwardKind(models.TextChoices):
    """The awards the union gives riders each month (issue 18)."""

    PIONEER = "pioneer", _("Pioneer Rider (先锋骑手)")


class AwardDecision(models.Model):
    """The union's decision on one rider nominated for an award of one month: awarded or not,
    with its reason. In issues, not patrol, so that the leaderboard (issues) shows the award;
    the service that decides and notifies is patrol.services.awards (D-070)."""

    kind = models.CharField(_("award"), max_length=20, choices=AwardKind.choices,
                            default=AwardKind.PIONEER)
    month = models.DateField(_("month"), help_text=_("The first day of the month (Beijing)."))
    subdistrict = models.ForeignKey(Subdistrict, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("subdistrict"))
    rider = models.ForeignKey(Rider, on_delete=models.PROTECT, related_name="award_decisions",
                              verbose_name=_("rider"))
    awarded = models.BooleanField(_("awarded"))
    reason = models.CharField(_("reason"), max_length=500)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("decided by"))
    decided_at = models.DateTimeField(_("decided"))

    class Meta:
        verbose_name = _("award decision")
        verbose_name_plural = _("award decisions")
        constraints = [
            # One decision per nominee of a subdistrict's list; one award of a kind per rider
            # and month, whichever subdistrict's union gives it.
            models.UniqueConstraint(fields=["kind", "month", "subdistrict", "rider"],
                                    name="award_decision_once"),
            models.UniqueConstraint(fields=["kind", "month", "rider"],
                                    condition=Q(awarded=True), name="award_once_per_month"),
            models.CheckConstraint(condition=Q(month__day=1), name="award_month_first_day"),
            models.CheckConstraint(condition=~Q(reason=""), name="award_reason_set"),
            models.CheckConstraint(condition=Q(kind__in=["pioneer"]), name="award_kind_valid"),
        ]


class ApiClient(models.Model):
    """An organisation that posts through Open311 with an api_key."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    api_key = models.CharField(_("API key"), max_length=64, unique=True)
    contact = models.CharField(_("contact"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")

    def __str__(self) -> str:
        return self.name


class Stage(models.TextChoices):
    """The seven stages of the national process, plus cancellation."""

    NEW = "new", _("Collected (信息收集)")
    FILED = "filed", _("Filed (案卷建立)")
    DISPATCHED = "dispatched", _("Dispatched (任务派遣)")
    IN_PROGRESS = "in_progress", _("In progress (任务处理)")
    HANDED_IN = "handed_in", _("Handed in (处理反馈)")
    CLOSED = "closed", _("Closed (核查结案)")
    EVALUATED = "evaluated", _("Evaluated (综合评价)")
    CANCELLED = "cancelled", _("Cancelled")


# A case is "open" (live, counted as backlog, joinable by a new report) in these stages.
OPEN_STAGES = (Stage.NEW, Stage.FILED, Stage.DISPATCHED, Stage.IN_PROGRESS, Stage.HANDED_IN)
# Closed and done with: what the map's stage filter "closed" shows (issues.layers).
CLOSED_STAGES = (Stage.CLOSED, Stage.EVALUATED)


class Priority(models.IntegerChoices):
    """How soon a case must be handled: orders the queues (most urgent first, so the smallest
    value), shortens deadlines by rule and raises alerts (patrol). ``code`` is the API's word."""

    URGENT = 1, _("Urgent")
    HIGH = 2, _("High")
    NORMAL = 3, _("Normal")

    @property
    def code(self) -> str:
        return self.name.lower()

    @classmethod
    def from_code(cls, code: str) -> Priority | None:
        """The member the API's word names, None for any other word."""
        return next((member for member in cls if member.code == code), None)


def priority_for_urgency(urgency: str) -> Priority:
    """A new case's priority, from its category's urgency (the one rule; intake applies it):
    an emergency is urgent, an urgent category high, any other normal. The office changes it
    with the ``prioritise`` action (docs/DECISIONS.md D-058)."""
    return {Category.Urgency.EMERGENCY: Priority.URGENT,
            Category.Urgency.URGENT: Priority.HIGH}.get(urgency, Priority.NORMAL)


class TaskStatus(models.TextChoices):
    """Where a case's task stands (patrol.models.Task.status). Named here, beside the stages,
    because the transition table (issues.lifecycle) moves both together."""

    OFFERED = "offered", _("Offered")
    ACCEPTED = "accepted", _("Accepted")
    IN_PROGRESS = "in_progress", _("In progress")
    HANDED_IN = "handed_in", _("Handed in")
    SENT_BACK = "sent_back", _("Sent back")
    DONE = "done", _("Done")
    DECLINED = "declined", _("Declined")
    ESCALATED = "escalated", _("Escalated")
    TRANSFERRED = "transferred", _("Transferred")  # an offer ended by the case's transfer


# A task is "live" (being worked; at most one per case) in these statuses.
LIVE_TASK_STATUSES = (TaskStatus.OFFERED, TaskStatus.ACCEPTED, TaskStatus.IN_PROGRESS,
                      TaskStatus.HANDED_IN, TaskStatus.SENT_BACK)


class CaseAction(StrEnum):
    """The lifecycle's actions: the names of issues.lifecycle.TRANSITIONS, the API's action
    URLs and the ``action`` of their ``CaseEvent`` rows. Every list of actions names these
    members, never the strings. The labels are presentation and live with the pages
    (frontend.maps.console), which word some actions twice (as a button, as history)."""

    FILE = "file"
    CANCEL = "cancel"
    DISPATCH = "dispatch"
    REDISPATCH = "redispatch"
    DECLINE = "decline"
    ACCEPT = "accept"
    ASSIGN = "assign"
    START = "start"
    HANDIN = "handin"
    VERIFY = "verify"
    SENDBACK = "sendback"
    REPLY = "reply"
    ESCALATE = "escalate"
    RATE = "rate"
    EVALUATE = "evaluate"
    MERGE = "merge"
    SPLIT = "split"
    TRANSFER = "transfer"
    # An office's internal note on the case (its case page): no stage changes, any stage. Not
    # "note": that word is a field of many rows and payloads (a task's hand-in note, an event's).
    ADD_NOTE = "add_note"
    PRIORITISE = "prioritise"


class ReportChannel(models.TextChoices):
    """Where a report came from (Report.Channel); a case's is its first report's."""

    APP = "app", _("Rider app")
    OPEN311 = "open311", _("Open311")
    # Another system's history (a 12345 hotline's or the grid system's cases) imported from a
    # geography file (frontend.geography, D-063): no reporter, the time the other system had.
    IMPORT = "import", _("File import")


class TextBigrams(models.Func):
    """issues_text_bigrams(text): its distinct 2-character pieces, lower-cased (a SQL function
    of migration 0026, IMMUTABLE so that a generated column may use it)."""

    function = "issues_text_bigrams"
    output_field = ArrayField(models.TextField())


# The console's search reads at most this many characters of a case's descriptions (its
# reports' distinct descriptions, oldest first): a hotspot case of thousands of reports keeps
# the words of its first ones, and its row stays small.
CASE_SEARCH_TEXT_MAX = 2000


class Case(models.Model):
    """The problem that reports of the same thing merge into."""

    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="cases", verbose_name=_("category")
    )
    stage = models.CharField(
        _("stage"), max_length=12, choices=Stage.choices, default=Stage.NEW, db_index=True
    )
    # Follows its reports (their centroid); geography so that distances are in metres.
    location = models.PointField(_("location"), srid=WGS84, geography=True)
    # The same point in EPSG:4548 (metres on the plane), computed by PostgreSQL whenever the
    # location is written: the map's hotspots cluster thousands of open cases at once, and
    # ST_Transform to EPSG:4548 costs about 13 µs a point (0.3 s a request at 1,000,000 reports).
    location_metric = models.GeneratedField(
        expression=metric("location"), output_field=models.PointField(srid=METRIC_SRID),
        db_persist=True,
    )
    # The location's 100 m cell (civicmap.spatial.metric_cell_key), also kept by PostgreSQL:
    # intake's duplicate lookup reads the cases of one category in the cells around a point by
    # the btree index case_merge_cell. A GiST box there returned every case of every category
    # near a hotspot (4,000+ rows for 150 m at 1,000,000 reports) to keep a handful.
    merge_cell = models.GeneratedField(
        expression=metric_cell_key("location"), output_field=models.BigIntegerField(),
        db_persist=True,
    )
    # The subdistrict whose grids hold the case's first report: its office runs the case (a
    # transfer moves it); reports merge only into cases of their own subdistrict.
    subdistrict = models.ForeignKey(
        Subdistrict, on_delete=models.PROTECT, related_name="cases",
        verbose_name=_("subdistrict"),
    )
    community_grid = models.ForeignKey(
        CommunityGrid, on_delete=models.PROTECT, null=True, blank=True, related_name="cases",
        verbose_name=_("community grid"),
    )
    unit_grid = models.ForeignKey(
        UnitGrid, on_delete=models.PROTECT, null=True, blank=True, related_name="cases",
        verbose_name=_("unit grid"),
    )
    follows = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="followed_by",
        verbose_name=_("follows closed case"),
    )
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged_cases",
        verbose_name=_("merged into"),
    )
    report_count = models.PositiveIntegerField(_("reports"), default=0)
    reporter_count = models.PositiveIntegerField(_("reporters"), default=0)
    created_at = models.DateTimeField(_("created"), db_index=True)
    last_report_at = models.DateTimeField(_("last report"))
    updated_at = models.DateTimeField(_("updated"))
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    cancel_reason = models.CharField(_("cancellation reason"), max_length=200, blank=True)
    # A database default as well, so that the SQL paths that insert cases (intake's merge
    # function, the bulk demo load) need not name it.
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL,
        db_default=Priority.NORMAL,
    )
    # Kept by the code paths that add reports to a case (issues.services.cases, the bulk
    # load's fixtures.sql, through issues.sql.case_search_text_sql): the office console
    # searches them by substring (D-056). Defaults in the database too, for the SQL inserts.
    search_text = models.TextField(_("words of the reports"), blank=True, default="",
                                   db_default="")
    channel = models.CharField(_("channel"), max_length=8, choices=ReportChannel.choices,
                               default=ReportChannel.APP, db_default=ReportChannel.APP)
    # Every 2-character piece of the search text, lower-cased (issues_text_bigrams, migration
    # 0026), kept by PostgreSQL: a 2-character search (a Chinese word) has no trigram, so the
    # trigram index cannot answer it; this array's GIN index can (D-056).
    search_bigrams = models.GeneratedField(
        expression=TextBigrams("search_text"),
        output_field=ArrayField(models.TextField()), db_persist=True)

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        indexes = [
            models.Index(fields=["category", "stage", "last_report_at"], name="case_dup_lookup"),
            # With the stage, so that the lookup's open and closed statements each read only
            # their own cases from it (else PostgreSQL ANDs it with the stage index: 34,000 open
            # cases at 1,000,000 reports). The subdistrict first (a report merges only within
            # its own): one subdistrict's lookups read its own part of the index, as large
            # however many cases the others hold (bench/bench_district.py: without it the
            # lookup's p95 grew 1.4 times with 200,000 neighbouring reports). The last report
            # last: the open statement's window is then a range of the index, not a filter over
            # every open case of the cell (the bulk load, where every case stays new until the
            # lifecycle, visited all of a hot cell's history for each report: 1,000,000 reports
            # took over an hour, slowing as they went).
            models.Index(fields=["subdistrict", "category", "merge_cell", "stage",
                                 "last_report_at"],
                         name="case_merge_cell"),
            # The office's queue, the most urgent first, then newest report first
            # (patrol.selectors.triage_queue): one stage, or several at once.
            models.Index(fields=["stage", "priority", "-last_report_at", "-id"],
                         name="case_queue", condition=Q(merged_into__isnull=True)),
            models.Index(fields=["-last_report_at", "-id"], name="case_recent",
                         condition=Q(merged_into__isnull=True)),
            # One subdistrict's queue (its office's): the subdistrict first, so that its pages
            # cost the same however many other subdistricts share the table.
            models.Index(fields=["subdistrict", "stage", "priority", "-last_report_at", "-id"],
                         name="case_queue_subdistrict", condition=Q(merged_into__isnull=True)),
            # One community's queue: the community (in one subdistrict) first, for the same
            # reason (bench/bench_district.py: without it the neighbours' cases doubled it).
            models.Index(fields=["community_grid", "stage", "priority", "-last_report_at",
                                 "-id"],
                         name="case_queue_community", condition=Q(merged_into__isnull=True)),
            # The console's search in the words of the reports: trigrams serve a search of 3
            # or more characters; 2 Chinese characters have no trigram and scan the scope's
            # open cases instead (D-056, measured in docs/BENCHMARKS.md, benchmark 4).
            # Read by ILIKE (patrol.console), not Django's icontains (UPPER(col) LIKE …).
            GinIndex(fields=["search_text"], opclasses=["gin_trgm_ops"],
                     name="case_search_text_trgm", condition=Q(merged_into__isnull=True)),
            # The office console (patrol.console): its open cases newest first, with every
            # column its filters, counts and sorts read, so that the total and the counts
            # beside the filters are index-only scans of the open cases (not of the wide rows
            # of every case: D-056, benchmark 4).
            GinIndex(fields=["search_bigrams"], name="case_search_bigrams",
                     condition=Q(merged_into__isnull=True)),
            # The map's community statistics and hotspots read it alone too (the points:
            # issues.layers.case_hotspots), so one subdistrict's map reads none of the rows its
            # neighbours' cases share pages with (D-081).
            models.Index(fields=["subdistrict", "-last_report_at", "-id"],
                         include=["stage", "category", "community_grid", "priority", "channel",
                                  "report_count", "created_at", "location_metric", "location"],
                         name="case_console_open",
                         condition=Q(merged_into__isnull=True, stage__in=OPEN_STAGES)),
            # The open cases of a subdistrict most urgent first, then newest: the triage queue
            # over several stages at once (overdue: dispatched, in progress, handed in), whose
            # stage index would give each stage apart and leave the order to a sort of them all
            # (67,000 rows, 116 ms at 141,000 open cases), and the console's priority order.
            models.Index(fields=["subdistrict", "priority", "-last_report_at", "-id"],
                         name="case_open_priority",
                         condition=Q(merged_into__isnull=True, stage__in=OPEN_STAGES)),
            # The map's closed cases per community (issues.layers.open_case_counts with the
            # stage filter "closed"): the cases last reported in the period, read from this
            # index alone (the id counted, the community and the category filtered). At
            # 1,000,000 reports the 217,000 closed cases of 90 days were a parallel scan of
            # the whole table (36,600 pages, 100-200 ms); here 10 MB, 60-75 ms (D-083).
            models.Index(fields=["subdistrict", "last_report_at"],
                         include=["id", "community_grid", "category"],
                         name="case_closed_place",
                         condition=Q(merged_into__isnull=True, stage__in=CLOSED_STAGES)),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(stage__in=[choice.value for choice in Stage]), name="case_stage_valid"
            ),
            models.CheckConstraint(
                condition=Q(last_report_at__gte=F("created_at")), name="case_last_report_order"
            ),
            models.CheckConstraint(
                condition=~Q(follows=F("id")), name="case_not_following_itself"
            ),
            models.CheckConstraint(
                condition=Q(priority__in=Priority.values), name="case_priority_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.category.code} {self.stage}"

    @property
    def is_open(self) -> bool:
        return self.stage in OPEN_STAGES


class Report(models.Model):
    """One submission: a point, a category, words and photos, from one channel."""

    Channel = ReportChannel

    class CoordSystem(models.TextChoices):
        WGS84 = "wgs84", "WGS 84"
        GCJ02 = "gcj02", "GCJ-02"
        BD09 = "bd09", "BD-09"

    class LocationSource(models.TextChoices):
        DEVICE = "device", _("Device position")
        EXIF = "exif", _("Photo EXIF")

    class MediaStatus(models.TextChoices):
        NONE = "none", _("No media URL")
        PENDING = "pending", _("To fetch")
        FETCHED = "fetched", _("Fetched")
        REFUSED = "refused", _("Refused")
        FAILED = "failed", _("Failed")

    # WGS 84, converted from what was sent; geography so that distances are in metres.
    location = models.PointField(_("location"), srid=WGS84, geography=True)
    sent_lon = models.FloatField(_("longitude as sent"))
    sent_lat = models.FloatField(_("latitude as sent"))
    sent_coord_system = models.CharField(
        _("coordinate system as sent"), max_length=6, choices=CoordSystem.choices,
        default=CoordSystem.WGS84,
    )
    accuracy_m = models.FloatField(_("accuracy (m)"), null=True, blank=True)
    location_source = models.CharField(
        _("location source"), max_length=6, choices=LocationSource.choices,
        default=LocationSource.DEVICE,
    )
    location_flagged = models.BooleanField(
        _("location flagged"), default=False,
        help_text=_("The device position and the photo's EXIF position are over 200 m apart."),
    )
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="reports", verbose_name=_("category")
    )
    description = models.TextField(_("description"), blank=True)
    client_uuid = models.UUIDField(_("client UUID"), null=True, blank=True)
    content_sha256 = models.CharField(_("content fingerprint"), max_length=64, blank=True)
    channel = models.CharField(
        _("channel"), max_length=8, choices=Channel.choices, default=Channel.APP
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="reports", verbose_name=_("reporter"),
    )
    api_client = models.ForeignKey(
        ApiClient, on_delete=models.PROTECT, null=True, blank=True, related_name="reports",
        verbose_name=_("API client"),
    )
    captured_at = models.DateTimeField(_("captured"), null=True, blank=True)
    received_at = models.DateTimeField(_("received"), db_index=True)
    # The subdistrict whose grids contain the report (civicmap.selectors.grid_locate).
    subdistrict = models.ForeignKey(
        Subdistrict, on_delete=models.PROTECT, related_name="reports",
        verbose_name=_("subdistrict"),
    )
    unit_grid = models.ForeignKey(
        UnitGrid, on_delete=models.PROTECT, null=True, blank=True, related_name="reports",
        verbose_name=_("unit grid"),
    )
    community_grid = models.ForeignKey(
        CommunityGrid, on_delete=models.PROTECT, null=True, blank=True, related_name="reports",
        verbose_name=_("community grid"),
    )
    # Indexed with the time (report_case_newest), which serves the key's lookups too.
    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, related_name="reports", verbose_name=_("case"),
        db_index=False,
    )
    joined_existing_case = models.BooleanField(_("joined an existing case"), default=False)
    # Open311 reporters' contact details: private, shown to office staff only.
    contact_email = models.EmailField(_("email"), blank=True)
    contact_first_name = models.CharField(_("first name"), max_length=100, blank=True)
    contact_last_name = models.CharField(_("last name"), max_length=100, blank=True)
    contact_phone = models.CharField(_("phone"), max_length=30, blank=True)
    device_id = models.CharField(_("device ID"), max_length=100, blank=True)
    account_id = models.CharField(_("account ID"), max_length=100, blank=True)
    media_url = models.URLField(_("media URL"), blank=True, max_length=500)
    # The fetch of media_url is an outbox job (issues.services.outbox), written with the report:
    # media_queued_at is when it was last handed to the broker (null: never, e.g. Redis was
    # down), media_attempts how many times a worker started it. issues.open311.services has it.
    media_status = models.CharField(
        _("media status"), max_length=8, choices=MediaStatus.choices, default=MediaStatus.NONE,
        db_default=MediaStatus.NONE,
    )
    media_queued_at = models.DateTimeField(_("media queued"), null=True, blank=True)
    media_attempts = models.PositiveSmallIntegerField(_("media fetch attempts"), default=0,
                                                      db_default=0)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    # The imported record's ID in the system it came from (the import channel): a second import
    # of the same file finds it and writes nothing again. Empty for every other channel.
    external_id = models.CharField(_("external ID"), max_length=64, blank=True, default="",
                                   db_default="")

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        indexes = [
            models.Index(fields=["reporter", "received_at"], name="report_rider_recent"),
            # A case's reports newest first: its newest words one index entry away (the map's
            # hotspots, however many reports a case holds).
            models.Index(fields=["case", "-received_at", "-id"], name="report_case_newest"),
            # The media sweep reads the pending fetches only.
            models.Index(fields=["received_at"], condition=Q(media_status="pending"),
                         name="report_media_pending_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["reporter", "client_uuid"],
                condition=Q(client_uuid__isnull=False),
                name="report_client_uuid_unique_per_reporter",
            ),
            models.CheckConstraint(
                condition=Q(sent_lon__gte=-180, sent_lon__lte=180)
                & Q(sent_lat__gte=-90, sent_lat__lte=90),
                name="report_sent_coordinates_in_range",
            ),
            models.CheckConstraint(
                condition=Q(accuracy_m__isnull=True) | Q(accuracy_m__gte=0),
                name="report_accuracy_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(accuracy_m__isnull=True) | Q(accuracy_m__lte=ACCURACY_MAX_M),
                name="report_accuracy_at_most_100_km",
            ),
            # The phone's clock: from 2000-01-01 (in UTC+14) to a day after receipt. Python
            # cannot hold a year before 1 or after 9999, and a listing must read every row.
            models.CheckConstraint(
                condition=Q(captured_at__isnull=True)
                | Q(captured_at__gte=CLIENT_TIME_MIN,
                    captured_at__lte=F("received_at") + CLIENT_TIME_AHEAD_MAX),
                name="report_captured_at_in_range",
            ),
            models.CheckConstraint(
                condition=~Q(channel="app") | Q(client_uuid__isnull=False),
                name="report_app_needs_client_uuid",
            ),
            # One report per imported record: two imports of one file at once cannot both
            # write it (the import's check finds it first otherwise).
            models.UniqueConstraint(
                fields=["external_id"], condition=Q(channel="import") & ~Q(external_id=""),
                name="report_import_external_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(channel="import") | Q(external_id=""),
                name="report_external_id_only_imported",
            ),
            # A media URL always has a fetch job (in some state); no URL, no job.
            models.CheckConstraint(
                condition=(Q(media_url="") & Q(media_status="none"))
                | (~Q(media_url="") & ~Q(media_status="none")),
                name="report_media_status_follows_url",
            ),
        ]

    def __str__(self) -> str:
        return f"Report {self.pk} ({self.category_id})"


def photo_upload_path(instance: ReportPhoto, filename: str) -> str:
    """Originals under a private prefix with a random name: never guessable, never the user's."""
    return f"private/originals/{uuid.uuid4().hex}"


class ReportPhoto(models.Model):
    """A photo of a report. The original stays private; display copy and thumbnail are clean."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Processing")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    report = models.ForeignKey(
        Report, on_delete=models.CASCADE, null=True, blank=True, related_name="photos",
        verbose_name=_("report"),
    )
    # Emptied by retention only (original_deleted_at says when; not blank in forms); the
    # renditions stay.
    original = models.FileField(_("original"), upload_to=photo_upload_path)
    display = models.FileField(_("display copy"), blank=True)
    thumbnail = models.FileField(_("thumbnail"), blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    image_format = models.CharField(_("format"), max_length=8)
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.PENDING
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # The row is also the renditions job (an outbox, written in the uploader's transaction):
    # queued_at is when the job was last handed to the broker (null: never, e.g. Redis was
    # down), attempts how many times a worker started it. issues.services.photos has the sweep.
    queued_at = models.DateTimeField(_("queued"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    original_deleted_at = models.DateTimeField(_("original deleted"), null=True, blank=True)

    class Meta:
        verbose_name = _("report photo")
        verbose_name_plural = _("report photos")
        ordering = ["report_id", "position"]
        indexes = [
            # The sweep reads the pending jobs only: a small partial index, not the whole table.
            models.Index(fields=["created_at"], condition=models.Q(status="pending"),
                         name="photo_pending_created_idx"),
            # Retention reads the photos whose original is still kept, oldest first.
            models.Index(fields=["created_at"],
                         condition=models.Q(original_deleted_at__isnull=True),
                         name="photo_original_kept_idx"),
        ]
        constraints = [
            # An original is kept until retention deletes it, and then the field is empty.
            models.CheckConstraint(
                condition=(models.Q(original_deleted_at__isnull=True) & ~models.Q(original=""))
                | (models.Q(original_deleted_at__isnull=False) & models.Q(original="")),
                name="photo_original_kept_or_deleted",
            ),
        ]


class CaseConfirmation(models.Model):
    """A rider confirming an open case instead of filing a duplicate report."""

    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, related_name="confirmations", verbose_name=_("case")
    )
    rider = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="confirmations",
        verbose_name=_("rider"),
    )
    client_uuid = models.UUIDField(_("client UUID"), null=True, blank=True)
    photo = models.ForeignKey(
        ReportPhoto, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Where the rider was (WGS 84, converted from what the phone sent) and how far that is from
    # the case in metres on the spheroid; empty on confirmations made before positions were
    # required.
    position = models.PointField(_("position"), srid=WGS84, geography=True, null=True,
                                 blank=True)
    distance_m = models.FloatField(_("distance (m)"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("confirmation")
        verbose_name_plural = _("confirmations")
        constraints = [
            models.UniqueConstraint(fields=["case", "rider"], name="confirm_once_per_rider"),
            models.CheckConstraint(
                condition=Q(distance_m__isnull=True) | Q(distance_m__gte=0),
                name="confirm_distance_not_negative",
            ),
        ]


class CaseEvent(models.Model):
    """Append-only audit of every change to a case: who, when, from, to, note."""

    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, related_name="events", verbose_name=_("case")
    )
    # The task the event is about (patrol.models.Task). A plain column here, so that the audit
    # trail does not point up to patrol; patrol's migration 0008 makes the database refuse an id
    # that is not a task's (a foreign key constraint, deleted with its task).
    task_id = models.BigIntegerField(_("task"), null=True, blank=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("actor"),
    )
    action = models.CharField(_("action"), max_length=20)
    from_stage = models.CharField(_("from"), max_length=12, blank=True)
    to_stage = models.CharField(_("to"), max_length=12, blank=True)
    note = models.TextField(_("note"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    at = models.DateTimeField(_("at"), db_index=True)

    class Meta:
        verbose_name = _("case event")
        verbose_name_plural = _("case events")
        ordering = ["at", "id"]


class CellPlace(models.Model):
    """Reports in one 100 m cell over a period (an hour or a day).

    The cell is ``floor(x / 100), floor(y / 100)`` of the report's point in EPSG:4548 (metres),
    so a cell is a true 100 m × 100 m square.
    """

    cell_x = models.IntegerField()
    cell_y = models.IntegerField()
    # The reports' subdistrict (Report.subdistrict; a cell on a boundary has a row for each
    # side), so that one subdistrict's map reads only its own rows, by an index that leads with
    # it, however many reports its neighbours hold (bench/bench_district.py).
    subdistrict = models.ForeignKey(Subdistrict, on_delete=models.CASCADE, related_name="+")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class CellCount(CellPlace):
    """Reports of one category in one 100 m cell over a period."""

    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True


class GridPlace(models.Model):
    """Reports in one unit grid over a period (an hour or a day).

    The unit grids need not tile a community (intake gives a report in none of them its
    community alone): those reports are counted in a row of the community with no unit grid, so
    that a community's reports are the sum of its rows.
    """

    community = models.ForeignKey(CommunityGrid, on_delete=models.CASCADE, related_name="+")
    unit_grid = models.ForeignKey(UnitGrid, on_delete=models.CASCADE, null=True,
                                  related_name="+")
    # The community's subdistrict, stored for the same reason as CellPlace.subdistrict.
    subdistrict = models.ForeignKey(Subdistrict, on_delete=models.CASCADE, related_name="+")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class GridCount(GridPlace):
    """Reports of one category in one unit grid over a period."""

    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True


class ReportCellHour(CellCount):
    """Reports per 100 m cell, category and hour: what the heatmap reads, kept current by
    intake."""

    hour = models.DateTimeField()

    class Meta:
        verbose_name = _("report count per cell and hour")
        verbose_name_plural = _("report counts per cell and hour")
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "category", "cell_x", "cell_y", "subdistrict"],
                name="cell_hour_unique",
            ),
        ]
        indexes = [models.Index(fields=["subdistrict", "hour"],
                                name="cell_hour_subdistrict")]


class ReportUnitGridHour(GridCount):
    """Reports per unit grid (or community alone), category and hour, kept current by
    intake."""

    hour = models.DateTimeField()

    class Meta:
        verbose_name = _("report count per unit grid and hour")
        verbose_name_plural = _("report counts per unit grid and hour")
        constraints = [
            # NULLS NOT DISTINCT: one row per community for its reports in no unit grid.
            models.UniqueConstraint(
                fields=["hour", "category", "community", "unit_grid"],
                name="grid_hour_unique", nulls_distinct=False,
            ),
        ]
        indexes = [models.Index(fields=["subdistrict", "hour"],
                                name="grid_hour_subdistrict")]


class ReportCellDay(CellCount):
    """``ReportCellHour`` summed by day (from 00:00 UTC), kept current by intake in the same
    transaction: the maps read a month's whole days here and only the hours at its two ends
    from the hourly rows."""

    day = models.DateTimeField()  # 00:00 UTC of the day

    class Meta:
        verbose_name = _("report count per cell and day")
        verbose_name_plural = _("report counts per cell and day")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "category", "cell_x", "cell_y", "subdistrict"],
                name="cell_day_unique",
            ),
        ]
        indexes = [models.Index(fields=["subdistrict", "day"],
                                name="cell_day_subdistrict")]


class ReportUnitGridDay(GridCount):
    """``ReportUnitGridHour`` summed by day (from 00:00 UTC), kept current by intake."""

    day = models.DateTimeField()  # 00:00 UTC of the day

    class Meta:
        verbose_name = _("report count per unit grid and day")
        verbose_name_plural = _("report counts per unit grid and day")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "category", "community", "unit_grid"],
                name="grid_day_unique", nulls_distinct=False,
            ),
        ]
        indexes = [models.Index(fields=["subdistrict", "day"],
                                name="grid_day_subdistrict")]


class KindTotal(models.Model):
    """A total over the categories of one kind, the public and the private ones apart."""

    # The category's Category.is_private when counted; recounted when a category's changes.
    is_private = models.BooleanField()
    kind = models.CharField(max_length=1)  # Category.kind: C, E or L (the code's first letter)

    class Meta:
        abstract = True


def _week_starts_on_monday(name: str) -> models.CheckConstraint:
    """A week total's ``week`` is a Monday 00:00 UTC (PostgreSQL's ``date_trunc('week', …)``):
    a row of any other instant would be read for the wrong days."""
    return models.CheckConstraint(
        condition=Q(week=Func(Value("week"), F("week"), Value("UTC"), function="date_trunc",
                              output_field=models.DateTimeField())),
        name=name)


class ReportCellDayTotal(CellPlace, KindTotal):
    """``ReportCellDay`` summed over the categories of each kind, the public and the private
    ones apart: a map of every category or of a kind (as it opens, or of any period, stage or
    place) reads a few rows per cell and day, not one per category and cell (30 days at
    1,000,000 reports: 62,000 rows, not 155,000; kind C 21,000, not 46,000; D-080, D-084).
    Kept current by intake in the same statement (issues.aggregates)."""

    day = models.DateTimeField()  # 00:00 UTC of the day

    class Meta:
        verbose_name = _("report count per cell and day, all categories")
        verbose_name_plural = _("report counts per cell and day, all categories")
        constraints = [
            models.UniqueConstraint(fields=["day", "cell_x", "cell_y", "subdistrict",
                                            "is_private", "kind"],
                                    name="cell_day_total_unique"),
        ]
        indexes = [models.Index(fields=["subdistrict", "day"],
                                name="cell_day_total_subdistrict")]


class ReportCellWeekTotal(CellPlace, KindTotal):
    """``ReportCellDayTotal`` summed by week (Monday 00:00 UTC to the next): a map's period
    reads its whole weeks here, about 3.5 times fewer rows than their days at 1,000,000
    reports (D-093). Kept current by intake in the same statement (issues.aggregates)."""

    week = models.DateTimeField()  # the Monday 00:00 UTC the week starts

    class Meta:
        verbose_name = _("report count per cell and week, all categories")
        verbose_name_plural = _("report counts per cell and week, all categories")
        constraints = [
            models.UniqueConstraint(fields=["week", "cell_x", "cell_y", "subdistrict",
                                            "is_private", "kind"],
                                    name="cell_week_total_unique"),
            _week_starts_on_monday("cell_week_total_monday"),
        ]
        indexes = [models.Index(fields=["subdistrict", "week"],
                                name="cell_week_total_subdistrict")]


class ReportUnitGridDayTotal(GridPlace, KindTotal):
    """``ReportUnitGridDay`` summed over the categories of each kind, as
    ``ReportCellDayTotal`` is."""

    day = models.DateTimeField()  # 00:00 UTC of the day

    class Meta:
        verbose_name = _("report count per unit grid and day, all categories")
        verbose_name_plural = _("report counts per unit grid and day, all categories")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "community", "unit_grid", "is_private", "kind"],
                name="grid_day_total_unique", nulls_distinct=False,
            ),
        ]
        indexes = [models.Index(fields=["subdistrict", "day"],
                                name="grid_day_total_subdistrict")]


class ReportUnitGridWeekTotal(GridPlace, KindTotal):
    """``ReportUnitGridDayTotal`` summed by week, as ``ReportCellWeekTotal`` is."""

    week = models.DateTimeField()  # the Monday 00:00 UTC the week starts

    class Meta:
        verbose_name = _("report count per unit grid and week, all categories")
        verbose_name_plural = _("report counts per unit grid and week, all categories")
        constraints = [
            models.UniqueConstraint(
                fields=["week", "community", "unit_grid", "is_private", "kind"],
                name="grid_week_total_unique", nulls_distinct=False,
            ),
            _week_starts_on_monday("grid_week_total_monday"),
        ]
        indexes = [models.Index(fields=["subdistrict", "week"],
                                name="grid_week_total_subdistrict")]
