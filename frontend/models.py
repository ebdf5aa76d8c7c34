"""The governance map's default view, computed by a periodic job (``map_snapshot_refresh``).

In PostgreSQL rather than a process's memory or a local disk: every web server reads the same
rows, and a refresh by any Celery worker is seen by all of them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import pgettext_lazy


class MapAudience(models.TextChoices):
    """Who a map is for. The public sees public categories and no descriptions; office staff
    see every category and the hotspots' newest descriptions. The office's snapshot is never
    served to anyone else (frontend.selectors.map_layers)."""

    PUBLIC = "public", "public"
    OFFICE = "office", "office"


class MapSnapshot(models.Model):
    """The layers of ``/map/`` with its default filters (``settings.MAP_PERIOD_DAYS``, every
    category) for one audience in one language, as computed at ``computed_at``.

    ``layers`` holds ``frontend.selectors.MapLayers`` as JSON (``frontend.codec``): raw values,
    user text included unescaped, exactly what the live selectors return; the page escapes
    them when it renders, whichever path they came by.
    """

    audience = models.CharField(max_length=8, choices=MapAudience.choices)
    language = models.CharField(max_length=16)  # a code of settings.LANGUAGES: names are labelled
    computed_at = models.DateTimeField()  # the moment the layers were read: the page's "as of"
    since = models.DateTimeField()  # the period of reports the layers count: [since, until)
    until = models.DateTimeField()
    layers = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["audience", "language"],
                                    name="map_snapshot_one_per_audience_language"),
            models.CheckConstraint(condition=Q(audience__in=MapAudience.values),
                                   name="map_snapshot_audience_known"),
            models.CheckConstraint(condition=Q(since__lt=F("until")),
                                   name="map_snapshot_period_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.audience} {self.language} {self.computed_at:%Y-%m-%d %H:%M}"


class ReportStatus(models.TextChoices):
    """Where a governance report's making stands (the page polls it)."""

    PENDING = "pending", pgettext_lazy("governance report", "Waiting")
    RUNNING = "running", pgettext_lazy("governance report", "Being made")
    DONE = "done", pgettext_lazy("governance report", "Ready")
    FAILED = "failed", pgettext_lazy("governance report", "Failed")


class GovernanceReport(models.Model):
    """The monthly governance report of one subdistrict (issue 17): its figures as an XLSX
    workbook and a PDF with charts and a map, made by a Celery worker (frontend.reports).

    The row is the job (a transactional outbox, as the photos' D-039): written pending in the
    request's transaction, handed to Celery after the commit and swept by beat when the hand-over
    was lost. One row per subdistrict and month: making it again replaces its files. The files
    are in Django's default storage (S3-compatible in a deployment), never on one web server's
    disk; they are served by ``frontend.reports.views.report_download``, which checks the
    reader's subdistrict.
    """

    subdistrict = models.ForeignKey("civicmap.Subdistrict", on_delete=models.PROTECT,
                                    related_name="+")
    month = models.DateField()  # the first day of the month reported on (Asia/Shanghai)
    status = models.CharField(max_length=8, choices=ReportStatus.choices,
                              default=ReportStatus.PENDING)
    progress = models.PositiveSmallIntegerField(default=0)  # per cent, 0 to 100
    step = models.CharField(max_length=32, blank=True)  # what the worker is doing (a code)
    error = models.TextField(blank=True)  # why it failed, for the office to read
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                     null=True, blank=True, related_name="+")  # none: beat
    requested_at = models.DateTimeField()
    queued_at = models.DateTimeField(null=True, blank=True)  # handed to Celery (the outbox)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)  # how long the last making took
    xlsx = models.FileField(max_length=255, blank=True)  # names in the default storage
    pdf = models.FileField(max_length=255, blank=True)

    class Meta:
        ordering = ["-month", "subdistrict_id"]
        constraints = [
            models.UniqueConstraint(fields=["subdistrict", "month"],
                                    name="governance_report_one_per_subdistrict_month"),
            models.CheckConstraint(condition=Q(month__day=1),
                                   name="governance_report_month_first_day"),
            models.CheckConstraint(condition=Q(status__in=ReportStatus.values),
                                   name="governance_report_status_known"),
            models.CheckConstraint(condition=Q(progress__lte=100),
                                   name="governance_report_progress_percent"),
            # Ready means both files are there; anything else is at most under way.
            models.CheckConstraint(
                condition=~Q(status=ReportStatus.DONE) | (~Q(xlsx="") & ~Q(pdf="")
                                                           & Q(progress=100)),
                name="governance_report_done_has_files"),
        ]

    def __str__(self) -> str:
        return f"{self.subdistrict_id} {self.month:%Y-%m} {self.status}"
