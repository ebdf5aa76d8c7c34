"""Who closes the work: volunteer teams, government departments, and the tasks handed to them."""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GistIndex
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from civicmap.bounds import DEADLINE_AHEAD_MAX
from civicmap.models import WGS84, CommunityGrid, Subdistrict
from issues.models import LIVE_TASK_STATUSES, Case, Priority, TaskStatus, TeamType


class Department(models.Model):
    """A government department a case can be escalated to (街乡吹哨、部门报到)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name_zh = models.CharField(_("Chinese name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100)
    # A district department (城管, 交警 …) serves every subdistrict; a subdistrict's own (its
    # property office, its residents' committees) serves that one only.
    subdistrict = models.ForeignKey(
        Subdistrict, on_delete=models.PROTECT, null=True, blank=True,
        related_name="departments", verbose_name=_("subdistrict"),
        help_text=_("Empty: serves the whole district."),
    )
    liaisons = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="liaison_for",
        verbose_name=_("liaisons"),
    )

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name_zh


class VolunteerTeam(models.Model):
    """A volunteer team; a deployment may have several teams of one type."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    team_type = models.CharField(_("type"), max_length=12, choices=TeamType.choices)
    name_zh = models.CharField(_("Chinese name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100)
    # The subdistrict the team belongs to; it serves communities of that subdistrict only.
    subdistrict = models.ForeignKey(
        Subdistrict, on_delete=models.PROTECT, related_name="teams",
        verbose_name=_("subdistrict"),
    )
    leader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="led_teams",
        verbose_name=_("leader"),
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="teams", verbose_name=_("members")
    )
    communities = models.ManyToManyField(
        CommunityGrid, related_name="teams", verbose_name=_("communities served")
    )

    class Meta:
        verbose_name = _("volunteer team")
        verbose_name_plural = _("volunteer teams")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name_zh


class Task(models.Model):
    """A case handed to a team, a department or the union, with its own progress and deadlines."""

    Status = TaskStatus  # the lifecycle's vocabulary (issues.models)

    class AssigneeKind(models.TextChoices):
        TEAM = "team", _("Volunteer team")
        DEPARTMENT = "department", _("Department")
        UNION = "union", _("Trade union")

    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("case")
    )
    # A copy of the case's location, kept by database triggers (migration 0005): set when the
    # task is written, followed when the case moves. It lets a team's list be ordered nearest
    # first by one KNN scan of the team's own live tasks (task_live_team_location).
    location = models.PointField(srid=WGS84, geography=True, null=True, editable=False)
    # A copy of the case's subdistrict, kept by database triggers (migration 0017) like the
    # location: one subdistrict's overdue cases are found from its own live tasks
    # (task_live_subdistrict), however many the other subdistricts hold.
    subdistrict = models.ForeignKey(
        Subdistrict, on_delete=models.PROTECT, related_name="+", editable=False,
        verbose_name=_("subdistrict"),
    )
    assignee_kind = models.CharField(_("handled by"), max_length=10, choices=AssigneeKind.choices)
    team = models.ForeignKey(
        VolunteerTeam, on_delete=models.PROTECT, null=True, blank=True, related_name="tasks",
        verbose_name=_("team"),
    )
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, null=True, blank=True, related_name="tasks",
        verbose_name=_("department"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="assigned_tasks", verbose_name=_("assignee"),
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.OFFERED,
        db_index=True,
    )
    offered_at = models.DateTimeField(_("offered"))
    response_due = models.DateTimeField(_("response deadline"))
    resolution_due = models.DateTimeField(_("resolution deadline"))
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    handed_in_at = models.DateTimeField(_("handed in"), null=True, blank=True)
    handed_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", verbose_name=_("handed in by"),
    )
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    note = models.TextField(_("hand-in note"), blank=True)
    proof_photo = models.ForeignKey(
        "issues.ReportPhoto", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", verbose_name=_("proof photo"),
    )
    decline_reason = models.CharField(_("decline reason"), max_length=200, blank=True)
    # A copy of its case's priority, kept by database triggers (migration 0011) like the
    # location: a team's or a department's list is ordered by it, then by deadline, from one
    # range of the partial indexes task_live_*_due (docs/DECISIONS.md D-058).
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL,
        db_default=Priority.NORMAL, editable=False)
    # Set once when the overdue alert goes out, so a second scan never repeats it.
    response_alerted_at = models.DateTimeField(null=True, blank=True)
    resolution_alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [
            models.Index(fields=["status", "response_due"], name="task_response_due"),
            models.Index(fields=["status", "resolution_due"], name="task_resolution_due"),
            # The office console by deadline (patrol.console._deadline_ids): the live tasks in
            # its order, walked until a page of the scope's cases is found, not sorted whole.
            models.Index(fields=["resolution_due", "-case"], name="task_live_due",
                         condition=Q(status__in=LIVE_TASK_STATUSES)),
            # One subdistrict's overdue cases (patrol.selectors.case_overdue: the map's
            # community statistics, the queue): its own live tasks, both deadlines tested in
            # the index alone (an index-only scan, however scattered the tasks' rows).
            models.Index(fields=["subdistrict", "resolution_due"],
                         include=["case", "status", "response_due"],
                         name="task_live_subdistrict",
                         condition=Q(status__in=LIVE_TASK_STATUSES)),
            # A team's or a department's task list by deadline: one range of live tasks each.
            models.Index(fields=["team", "priority", "resolution_due", "id"],
                         name="task_live_team_due", condition=Q(status__in=LIVE_TASK_STATUSES)),
            models.Index(fields=["department", "priority", "resolution_due", "id"],
                         name="task_live_department_due",
                         condition=Q(status__in=LIVE_TASK_STATUSES)),
            # Nearest first within a team or a department (btree_gist lets GiST take the id).
            # Each only on its own kind of task, so that a team's list can use no other.
            GistIndex(fields=["team", "location"], name="task_live_team_location",
                      condition=Q(status__in=LIVE_TASK_STATUSES, team__isnull=False)),
            GistIndex(fields=["department", "location"], name="task_live_department_location",
                      condition=Q(status__in=LIVE_TASK_STATUSES, department__isnull=False)),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(assignee_kind="team", team__isnull=False, department__isnull=True)
                | Q(assignee_kind="department", team__isnull=True, department__isnull=False)
                | Q(assignee_kind="union", team__isnull=True, department__isnull=True),
                name="task_assignee_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(response_due__gte=F("offered_at"))
                & Q(resolution_due__gte=F("offered_at")),
                name="task_deadlines_after_offer",
            ),
            # Deadlines come from the category (at most about a year, issues.Category): 400 days.
            models.CheckConstraint(
                condition=Q(response_due__lte=F("offered_at") + DEADLINE_AHEAD_MAX)
                & Q(resolution_due__lte=F("offered_at") + DEADLINE_AHEAD_MAX),
                name="task_deadlines_within_a_year",
            ),
            models.CheckConstraint(condition=Q(priority__in=Priority.values),
                                   name="task_priority_valid"),
            # At most one live task per case: a case is worked by one assignee at a time.
            models.UniqueConstraint(
                fields=["case"],
                condition=Q(status__in=["offered", "accepted", "in_progress", "handed_in",
                                        "sent_back"]),
                name="task_one_live_per_case",
            ),
        ]

    def __str__(self) -> str:
        return f"Task {self.pk} for case {self.case_id}"


class RoutingRule(models.Model):
    """Who handles a category in a community: editable by the office in the admin.

    A rule with no community applies to every community of its subdistrict, one with neither to
    the whole district. The most specific rule wins; without one, the category's default
    handler decides (see patrol.routing).
    """

    class Target(models.TextChoices):
        TEAM_TYPE = "team_type", _("A team of a type serving the community")
        TEAM = "team", _("A given team")
        DEPARTMENT = "department", _("A department")
        UNION = "union", _("The trade union")

    category = models.ForeignKey(
        "issues.Category", on_delete=models.CASCADE, related_name="routing_rules",
        verbose_name=_("category"),
    )
    # Where the rule applies: one community, or every community of one subdistrict, or (neither)
    # the whole district.
    subdistrict = models.ForeignKey(
        Subdistrict, on_delete=models.CASCADE, null=True, blank=True,
        related_name="routing_rules", verbose_name=_("subdistrict"),
        help_text=_("Empty (and no community): the whole district."),
    )
    community = models.ForeignKey(
        CommunityGrid, on_delete=models.CASCADE, null=True, blank=True,
        related_name="routing_rules", verbose_name=_("community"),
        help_text=_("Empty: every community of the subdistrict."),
    )
    target = models.CharField(_("route to"), max_length=12, choices=Target.choices)
    team_type = models.CharField(_("team type"), max_length=12, choices=TeamType.choices,
                                 blank=True)
    team = models.ForeignKey(VolunteerTeam, on_delete=models.CASCADE, null=True, blank=True,
                             related_name="+", verbose_name=_("team"))
    department = models.ForeignKey(Department, on_delete=models.CASCADE, null=True, blank=True,
                                   related_name="+", verbose_name=_("department"))

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        constraints = [
            models.UniqueConstraint(fields=["category", "community"],
                                    name="routing_rule_once_per_place"),
            models.UniqueConstraint(fields=["category", "subdistrict"],
                                    condition=Q(community__isnull=True),
                                    name="routing_rule_once_per_subdistrict",
                                    nulls_distinct=False),
            # A community names its subdistrict already: a rule names one or the other.
            models.CheckConstraint(condition=Q(community__isnull=True)
                                   | Q(subdistrict__isnull=True),
                                   name="routing_rule_one_place"),
            models.CheckConstraint(
                condition=Q(target="team_type", team__isnull=True, department__isnull=True)
                & ~Q(team_type="")
                | Q(target="team", team__isnull=False, department__isnull=True, team_type="")
                | Q(target="department", team__isnull=True, department__isnull=False,
                    team_type="")
                | Q(target="union", team__isnull=True, department__isnull=True, team_type=""),
                name="routing_rule_target_consistent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.category_id} → {self.target}"


class Rating(models.Model):
    """A reporter's or confirmer's rating of a closed case (满意度), once per rider and case."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="ratings",
                             verbose_name=_("case"))
    rider = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="ratings", verbose_name=_("rider"))
    score = models.PositiveSmallIntegerField(_("score"))
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("created"))

    class Meta:
        verbose_name = _("rating")
        verbose_name_plural = _("ratings")
        constraints = [
            models.UniqueConstraint(fields=["case", "rider"], name="rating_once_per_rider"),
            models.CheckConstraint(condition=Q(score__gte=1, score__lte=5),
                                   name="rating_score_1_to_5"),
        ]


class Notification(models.Model):
    """One message in a user's in-app feed. ``key`` makes each one happen once per recipient
    (an overdue alert raised by two workers at once is still one notification)."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                  related_name="notifications", verbose_name=_("recipient"))
    kind = models.CharField(_("kind"), max_length=40)
    key = models.CharField(_("once-only key"), max_length=120)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, null=True, blank=True,
                             related_name="notifications", verbose_name=_("case"))
    task = models.ForeignKey(Task, on_delete=models.CASCADE, null=True, blank=True,
                             related_name="notifications", verbose_name=_("task"))
    data = models.JSONField(_("data"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), db_index=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "key"], name="notification_once"),
        ]


class WebhookDelivery(models.Model):
    """One notification on its way to the outgoing webhook, delivered at least once.

    Made in the transaction that makes the notification. The body is frozen then, so every
    attempt, and every redelivery of a task whose worker died, sends the same bytes under the
    same ``delivery_id``: the receiver drops repeats by that id. The retry schedule lives here
    (``next_attempt_at``) and a periodic job scans it; no Celery ETA waits for a retry.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed (given up)")

    delivery_id = models.UUIDField(_("delivery ID"), unique=True, editable=False)
    notification = models.OneToOneField(
        Notification, on_delete=models.CASCADE, related_name="webhook_delivery",
        verbose_name=_("notification"),
    )
    body = models.TextField(_("body (JSON, as sent)"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # When the next attempt is due; while a worker holds a claim, when that claim lapses.
    next_attempt_at = models.DateTimeField(_("next attempt"))
    give_up_at = models.DateTimeField(_("give up at"))
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"), db_index=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The dispatcher's scan: pending rows by due time (a small partial index).
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"),
                         name="webhook_delivery_due"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=["pending", "delivered", "failed"]),
                                   name="webhook_delivery_status_valid"),
            models.CheckConstraint(
                condition=~Q(status="delivered") | Q(delivered_at__isnull=False),
                name="webhook_delivery_delivered_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id} ({self.status})"


class HolidayArrangement(models.Model):
    """One year's public holidays and make-up working days (调休) as the office entered them
    from the State Council's notice (published each November for the next year). Years the
    built-in calendar (patrol/data/cn_calendar.json) covers are not entered here; entered
    years extend it (patrol.calendar)."""

    year = models.PositiveSmallIntegerField(_("year"), unique=True)
    source = models.CharField(_("source"), max_length=300, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", verbose_name=_("entered by"),
    )
    entered_at = models.DateTimeField(_("entered at"))

    class Meta:
        verbose_name = _("holiday arrangement")
        verbose_name_plural = _("holiday arrangements")
        ordering = ["year"]
        constraints = [
            models.CheckConstraint(condition=Q(year__gte=2000, year__lte=2100),
                                   name="holiday_arrangement_year_range"),
        ]

    def __str__(self) -> str:
        return str(self.year)


class HolidayArrangementDay(models.Model):
    """A day of a year's arrangement: a holiday, or a make-up working day on a weekend. A day
    is one or the other (unique), and lies in its arrangement's year."""

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("Holiday")
        MAKEUP = "makeup", _("Make-up working day")

    arrangement = models.ForeignKey(
        HolidayArrangement, on_delete=models.CASCADE, to_field="year", db_column="year",
        related_name="days", verbose_name=_("year"),
    )
    day = models.DateField(_("day"), unique=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)

    class Meta:
        verbose_name = _("holiday arrangement day")
        verbose_name_plural = _("holiday arrangement days")
        ordering = ["day"]
        constraints = [
            models.CheckConstraint(condition=Q(day__year=F("arrangement_id")),
                                   name="holiday_arrangement_day_in_its_year"),
            # ISO weekday 6 Saturday, 7 Sunday: a make-up day moves work onto a weekend.
            models.CheckConstraint(
                condition=Q(kind="holiday") | Q(kind="makeup", day__iso_week_day__in=[6, 7]),
                name="holiday_arrangement_makeup_on_a_weekend"),
            models.CheckConstraint(condition=Q(kind__in=["holiday", "makeup"]),
                                   name="holiday_arrangement_day_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.day.isoformat()} {self.kind}"


class CaseDayFact(models.Model):
    """The statistics' daily aggregate (patrol.stats, docs/DECISIONS.md D-059): per local day
    (Asia/Shanghai) and subdistrict, the counts behind the 接诉即办 rates and the hours behind
    the median times, once in total and once per value of each ``dimension`` (community,
    category, handler): a table of the page reads only its own dimension's rows, about a tenth
    of what one row per day × community × category × handler would hold. Derived data: rebuilt
    from reports, tasks, cases and ratings by ``case_facts_rebuild`` (a periodic task for the
    recent days, a command for all), never written elsewhere.

    A row's day is, per figure: ``reports`` the day a report was received; ``dispatched``,
    ``accepted_on_time`` and ``response_hours`` the day a task was offered; the case figures
    (``cases`` … ``satisfied``, ``resolution_hours``) the day its deciding task was offered (the
    task done, else its latest), whose handler the row names. ``handler_kind`` "" holds the
    reports of cases never dispatched.

    ``grain`` "week" and "month" rows (``day`` the Monday, the 1st) add up the "day" rows of
    their week or month, so that a period reads whole months and weeks in one row each and only
    its loose days day by day. The hours behind the medians are histograms: counts over
    log-spaced bins (patrol.sql.HOURS_BIN_RATIO wide), which add up over days where the hours
    themselves would only pile up (docs/DECISIONS.md D-075).
    """

    class Grain(models.TextChoices):
        DAY = "day", _("Day")
        WEEK = "week", _("Week")
        MONTH = "month", _("Month")


    class HandlerKind(models.TextChoices):
        NONE = "", _("Not dispatched")
        TEAM = "team", _("Volunteer team")
        DEPARTMENT = "department", _("Department")
        UNION = "union", _("Trade union")

    class Dimension(models.TextChoices):
        TOTAL = "total", _("Total")
        COMMUNITY = "community", _("Community")
        CATEGORY = "category", _("Category")
        HANDLER = "handler", _("Handled by")

    grain = models.CharField(_("grain"), max_length=5, choices=Grain.choices, default=Grain.DAY)
    day = models.DateField(_("day"))
    dimension = models.CharField(_("dimension"), max_length=10, choices=Dimension.choices)
    subdistrict = models.ForeignKey(Subdistrict, on_delete=models.CASCADE, related_name="+",
                                    verbose_name=_("subdistrict"))
    community_grid = models.ForeignKey(CommunityGrid, on_delete=models.CASCADE, null=True,
                                       blank=True, related_name="+",
                                       verbose_name=_("community grid"))
    category = models.ForeignKey("issues.Category", on_delete=models.CASCADE, null=True,
                                 blank=True, related_name="+", verbose_name=_("category"))
    handler_kind = models.CharField(_("handled by"), max_length=10, blank=True,
                                    choices=HandlerKind.choices)
    team = models.ForeignKey(VolunteerTeam, on_delete=models.CASCADE, null=True, blank=True,
                             related_name="+", verbose_name=_("team"))
    department = models.ForeignKey(Department, on_delete=models.CASCADE, null=True, blank=True,
                                   related_name="+", verbose_name=_("department"))
    reports = models.PositiveIntegerField(_("reports"), default=0)
    dispatched = models.PositiveIntegerField(_("tasks dispatched"), default=0)
    accepted_on_time = models.PositiveIntegerField(_("accepted on time"), default=0)
    cases = models.PositiveIntegerField(_("cases dispatched"), default=0)
    closed = models.PositiveIntegerField(_("cases closed"), default=0)
    closed_on_time = models.PositiveIntegerField(_("closed on time"), default=0)
    overdue = models.PositiveIntegerField(_("overdue"), default=0)
    ratings = models.PositiveIntegerField(_("ratings"), default=0)
    satisfied = models.PositiveIntegerField(_("satisfied ratings"), default=0)
    # Hours from offer to acceptance (one per accepted task) and from the deciding offer to the
    # case's closure (one per closed case), as histograms: the bins that hold any (ascending)
    # and how many each holds, side by side. A median needs the distribution, not a sum.
    response_bins = ArrayField(models.SmallIntegerField(), default=list, blank=True)
    response_counts = ArrayField(models.IntegerField(), default=list, blank=True)
    resolution_bins = ArrayField(models.SmallIntegerField(), default=list, blank=True)
    resolution_counts = ArrayField(models.IntegerField(), default=list, blank=True)

    class Meta:
        verbose_name = _("daily case facts")
        verbose_name_plural = _("daily case facts")
        indexes = [
            # One table of one subdistrict's period (an office), and of every subdistrict's
            # (the district).
            models.Index(fields=["dimension", "grain", "subdistrict", "day"],
                         name="casedayfact_subdistrict_day"),
            models.Index(fields=["dimension", "grain", "day"], name="casedayfact_day"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["grain", "day", "subdistrict", "dimension", "community_grid", "category",
                        "handler_kind", "team", "department"],
                name="casedayfact_unique", nulls_distinct=False,
            ),
            models.CheckConstraint(
                condition=(Q(handler_kind="", team__isnull=True, department__isnull=True)
                           | Q(handler_kind="team", team__isnull=False,
                               department__isnull=True)
                           | Q(handler_kind="department", team__isnull=True,
                               department__isnull=False)
                           | Q(handler_kind="union", team__isnull=True,
                               department__isnull=True)),
                name="casedayfact_handler_valid",
            ),
            # Each row is keyed by its own dimension's columns only.
            models.CheckConstraint(
                condition=(Q(dimension="total", community_grid__isnull=True,
                             category__isnull=True, handler_kind="")
                           | Q(dimension="community", category__isnull=True, handler_kind="")
                           | Q(dimension="category", community_grid__isnull=True,
                               category__isnull=False, handler_kind="")
                           | Q(dimension="handler", community_grid__isnull=True,
                               category__isnull=True)),
                name="casedayfact_dimension_keys",
            ),
            models.CheckConstraint(
                condition=Q(accepted_on_time__lte=F("dispatched"),
                            closed_on_time__lte=F("closed"), closed__lte=F("cases"),
                            overdue__lte=F("cases"), satisfied__lte=F("ratings")),
                name="casedayfact_parts_within_wholes",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.subdistrict_id} {self.dimension}"


# --- the riders' council (小哥议事会) and suggestion box (小哥说事箱), issue 18 -------------------


class CouncilMeeting(models.Model):
    """A meeting of one subdistrict's riders' council. Planned for a day to come; held once
    every topic has its outcome (patrol.services.council)."""

    class State(models.TextChoices):
        PLANNED = "planned", _("Planned")
        HELD = "held", _("Held")

    subdistrict = models.ForeignKey(Subdistrict, on_delete=models.PROTECT,
                                    related_name="council_meetings",
                                    verbose_name=_("subdistrict"))
    date = models.DateField(_("date"))
    title = models.CharField(_("title"), max_length=120)
    state = models.CharField(_("state"), max_length=8, choices=State.choices,
                             default=State.PLANNED)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+",
                                   verbose_name=_("planned by"))
    created_at = models.DateTimeField(_("created"))
    held_at = models.DateTimeField(_("held"), null=True, blank=True)

    class Meta:
        verbose_name = _("council meeting")
        verbose_name_plural = _("council meetings")
        ordering = ["-date", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=["planned", "held"]),
                                   name="councilmeeting_state_valid"),
            models.CheckConstraint(
                condition=(Q(state="planned", held_at__isnull=True)
                           | Q(state="held", held_at__isnull=False)),
                name="councilmeeting_held_when_held_at"),
            models.CheckConstraint(condition=~Q(title=""), name="councilmeeting_title_set"),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.title}"


class CouncilTopic(models.Model):
    """A topic on a meeting's agenda: one riders' own-needs category in one community (or in
    none), gathering the matching cases when it is added. Its outcome is recorded at or after
    the meeting; recording notifies every rider who reported one of its cases, once."""

    meeting = models.ForeignKey(CouncilMeeting, on_delete=models.CASCADE,
                                related_name="topics", verbose_name=_("meeting"))
    category = models.ForeignKey("issues.Category", on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("category"))
    community_grid = models.ForeignKey(CommunityGrid, on_delete=models.PROTECT, null=True,
                                       blank=True, related_name="+",
                                       verbose_name=_("community"))
    cases = models.ManyToManyField(Case, through="CouncilTopicCase", related_name="+",
                                   verbose_name=_("cases"))
    outcome = models.TextField(_("outcome"), blank=True, default="")
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)

    class Meta:
        verbose_name = _("council topic")
        verbose_name_plural = _("council topics")
        ordering = ["meeting", "category", "community_grid", "id"]
        constraints = [
            # A topic once per meeting (a place of none counts as one place).
            models.UniqueConstraint(fields=["meeting", "category", "community_grid"],
                                    nulls_distinct=False, name="counciltopic_once"),
            # An outcome and its time come together, and an outcome has words.
            models.CheckConstraint(
                condition=(Q(outcome="", decided_at__isnull=True)
                           | (~Q(outcome="") & Q(decided_at__isnull=False))),
                name="counciltopic_outcome_with_time"),
        ]

    def __str__(self) -> str:
        return f"{self.meeting_id}: {self.category_id} @ {self.community_grid_id}"


class CouncilTopicCase(models.Model):
    """A case gathered by a topic. ``meeting`` is the topic's, copied so that the database
    keeps a case on one topic of a meeting; a trigger (migration 0014) keeps the case of the
    meeting's subdistrict and the copy equal to the topic's meeting."""

    topic = models.ForeignKey(CouncilTopic, on_delete=models.CASCADE, related_name="+",
                              verbose_name=_("topic"))
    meeting = models.ForeignKey(CouncilMeeting, on_delete=models.CASCADE, related_name="+",
                                verbose_name=_("meeting"))
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="council_topics",
                             verbose_name=_("case"))

    class Meta:
        verbose_name = _("case of a council topic")
        verbose_name_plural = _("cases of council topics")
        constraints = [
            models.UniqueConstraint(fields=["meeting", "case"], name="counciltopiccase_once"),
        ]
