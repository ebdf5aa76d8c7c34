"""Who closes the work: volunteer teams, government departments, and the tasks handed to them."""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from civicmap.models import CommunityGrid
from issues.models import Case, TeamType


class Department(models.Model):
    """A government department a case can be escalated to (街乡吹哨、部门报到)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name_zh = models.CharField(_("Chinese name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100)
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

    class Status(models.TextChoices):
        OFFERED = "offered", _("Offered")
        ACCEPTED = "accepted", _("Accepted")
        IN_PROGRESS = "in_progress", _("In progress")
        HANDED_IN = "handed_in", _("Handed in")
        SENT_BACK = "sent_back", _("Sent back")
        DONE = "done", _("Done")
        DECLINED = "declined", _("Declined")
        ESCALATED = "escalated", _("Escalated")

    class AssigneeKind(models.TextChoices):
        TEAM = "team", _("Volunteer team")
        DEPARTMENT = "department", _("Department")
        UNION = "union", _("Trade union")

    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("case")
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
    # Set once when the overdue alert goes out, so a second scan never repeats it.
    response_alerted_at = models.DateTimeField(null=True, blank=True)
    resolution_alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [
            models.Index(fields=["status", "response_due"], name="task_response_due"),
            models.Index(fields=["status", "resolution_due"], name="task_resolution_due"),
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
