"""Writes of the governance report: asking for one (the page, the command, beat on the 1st),
making it (the Celery worker) and the outbox's sweep.

The row is the job (``GovernanceReport``, as the photos' outbox, D-039): asked for in a
transaction, handed to Celery after the commit (best effort), found again by the sweep when the
hand-over or the worker was lost. Making is idempotent: a ready report is left alone, a second
run of one under way makes the same documents again and the last to finish keeps its files
(the other's are deleted). Progress is written in its own short statements, outside any
transaction, so the page sees it while the worker runs.
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import date, datetime

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import pgettext

from civicmap.models import Subdistrict
from frontend.models import GovernanceReport, ReportStatus
from frontend.reports.figures import report_figures
from frontend.reports.months import month_last
from frontend.reports.pdf import report_pdf_write
from frontend.reports.xlsx import report_xlsx_write
from issues.services.outbox import outbox_job_queue, outbox_pending_queue

logger = logging.getLogger(__name__)

REPORT_TASK = "frontend.tasks.governance_report_make_task"
STORAGE_PREFIX = "governance-reports"
# Per cent reached as each stage starts (the page shows the stage and the bar).
STAGE_PROGRESS = {"figures": 5, "workbook": 30, "charts": 45, "map": 60, "layout": 75,
                  "storing": 90}
ERROR_MAX = 2000  # characters of a failure kept for the office to read


def report_title(*, subdistrict_name: str, month: date) -> str:
    """The report's title in the active language, e.g. 南苑街道 2026年11月 治理月报."""
    return pgettext("governance report", "%(subdistrict)s governance report, %(month)s") % {
        "subdistrict": subdistrict_name, "month": f"{month:%Y-%m}"}


def _queue_after_commit(report_id: int) -> None:
    transaction.on_commit(lambda: outbox_job_queue(
        task_name=REPORT_TASK, rows=GovernanceReport.objects.all(), pk=report_id,
        queued_field="queued_at"))


def governance_report_request(*, subdistrict: Subdistrict, month: date, user=None,
                              now: datetime, queue: bool = True) -> GovernanceReport:
    """Ask for ``subdistrict``'s report of ``month`` (its first day, checked by the caller:
    ``months.month_parse``). A report ready or failed is made again (the figures may have
    changed since: late closures, ratings); one waiting or under way is left to finish. With
    ``queue``, the job is handed to Celery after the commit; the command makes it itself."""
    with transaction.atomic():
        # Locked so that two requests at once re-arm it once; a concurrent insert is settled
        # by the unique constraint (get_or_create reads the winner's row).
        report, created = GovernanceReport.objects.select_for_update().get_or_create(
            subdistrict=subdistrict, month=month,
            defaults={"requested_by": user, "requested_at": now})
        if not created and report.status in (ReportStatus.DONE, ReportStatus.FAILED):
            report.status, report.progress, report.step, report.error = (
                ReportStatus.PENDING, 0, "", "")
            report.requested_by, report.requested_at, report.queued_at = user, now, None
            report.save(update_fields=["status", "progress", "step", "error", "requested_by",
                                       "requested_at", "queued_at"])
        if queue and report.status == ReportStatus.PENDING and report.queued_at is None:
            _queue_after_commit(report.pk)
    return report


def governance_reports_monthly(*, now: datetime) -> list[GovernanceReport]:
    """Beat's job: every subdistrict's report of last month (``month_last(now)``), asked for
    once. Idempotent: a report that exists (made, under way or asked for by an office) is left
    as it is, so the daily run after the 1st only catches up what a missed run did not ask."""
    month = month_last(now=now)
    made = set(GovernanceReport.objects.filter(month=month)
               .values_list("subdistrict_id", flat=True))
    return [governance_report_request(subdistrict=subdistrict, month=month, now=now)
            for subdistrict in Subdistrict.objects.exclude(pk__in=made).order_by("code")]


def governance_reports_pending_queue(*, now: datetime | None = None) -> int:
    """The outbox's sweep: queue every report waiting and never queued after
    ``REPORT_QUEUE_GRACE_S``, or waiting or under way past ``REPORT_QUEUE_LEASE_S`` since it was
    queued (lost with the broker, or its worker died)."""
    return outbox_pending_queue(
        task_name=REPORT_TASK,
        pending=GovernanceReport.objects.filter(
            status__in=[ReportStatus.PENDING, ReportStatus.RUNNING]),
        created_field="requested_at", queued_field="queued_at",
        grace_s=settings.REPORT_QUEUE_GRACE_S, lease_s=settings.REPORT_QUEUE_LEASE_S,
        now=now or timezone.now())


def _progress(report_id: int, stage: str) -> None:
    """Record the stage and its per cent (autocommit: seen at once by the page's poll)."""
    GovernanceReport.objects.filter(pk=report_id, status=ReportStatus.RUNNING).update(
        step=stage, progress=STAGE_PROGRESS[stage])


def _claim(report_id: int) -> GovernanceReport | None:
    """Mark the report under way; None when there is nothing to do (gone, or ready)."""
    with transaction.atomic():
        report = (GovernanceReport.objects.select_for_update().select_related("subdistrict")
                  .filter(pk=report_id).first())
        if report is None or report.status == ReportStatus.DONE:
            return None
        report.status, report.started_at, report.error = ReportStatus.RUNNING, timezone.now(), ""
        report.step, report.progress = "figures", STAGE_PROGRESS["figures"]
        report.save(update_fields=["status", "started_at", "error", "step", "progress"])
    return report


def _documents(report: GovernanceReport) -> tuple[bytes, bytes]:
    """The workbook and the PDF of ``report``, in the site's language (Chinese)."""
    with translation.override(settings.LANGUAGE_CODE):
        figures = report_figures(subdistrict=report.subdistrict, month=report.month)
        title = report_title(subdistrict_name=figures.subdistrict_name, month=report.month)
        _progress(report.pk, "workbook")
        workbook = report_xlsx_write(figures=figures, title=title)
        made_at = f"{timezone.localtime():%Y-%m-%d %H:%M}"
        pdf = report_pdf_write(figures=figures, title=title, made_at=made_at,
                               progress=lambda stage: _progress(report.pk, stage))
    return workbook, pdf


def _store(report: GovernanceReport, workbook: bytes, pdf: bytes) -> tuple[str, str]:
    """Save both files in the default storage under new names (a second run never overwrites
    a file someone may be downloading)."""
    stem = f"{STORAGE_PREFIX}/{report.subdistrict.code}/{report.month:%Y-%m}-{secrets.token_hex(8)}"
    return (default_storage.save(f"{stem}.xlsx", ContentFile(workbook)),
            default_storage.save(f"{stem}.pdf", ContentFile(pdf)))


def _files_delete(names) -> None:
    for name in names:
        if name:
            try:
                default_storage.delete(name)
            except OSError:
                logger.warning("governance report file %s not deleted", name, exc_info=True)


def _finish(report_id: int, names: tuple[str, str], seconds: float) -> bool:
    """Attach the files and mark the report ready; the files it had are deleted after the
    commit. False (and the new files deleted) if the row is gone."""
    with transaction.atomic():
        report = GovernanceReport.objects.select_for_update().filter(pk=report_id).first()
        if report is None:
            transaction.on_commit(lambda: _files_delete(names))
            return False
        old = (report.xlsx.name, report.pdf.name)
        report.xlsx.name, report.pdf.name = names
        report.status, report.progress, report.step = ReportStatus.DONE, 100, "done"
        report.finished_at, report.seconds = timezone.now(), seconds
        report.save(update_fields=["xlsx", "pdf", "status", "progress", "step", "finished_at",
                                   "seconds"])
        transaction.on_commit(lambda: _files_delete(name for name in old if name not in names))
    return True


def _fail(report_id: int, error: Exception) -> None:
    GovernanceReport.objects.filter(pk=report_id).exclude(status=ReportStatus.DONE).update(
        status=ReportStatus.FAILED, error=f"{type(error).__name__}: {error}"[:ERROR_MAX],
        finished_at=timezone.now())


def governance_report_make(*, report_id: int) -> str:
    """Make report ``report_id``: figures, workbook, PDF, stored; answers the status it ends
    in ("done", "failed", or "skipped" when it was ready or gone). A failure is recorded on the
    row for the office to read, not raised: running it again would fail the same way until
    someone looks (the office asks again from the page)."""
    report = _claim(report_id)
    if report is None:
        return "skipped"
    started = time.monotonic()
    names: tuple[str, str] = ("", "")
    try:
        workbook, pdf = _documents(report)
        _progress(report.pk, "storing")
        names = _store(report, workbook, pdf)
        if not _finish(report.pk, names, time.monotonic() - started):
            return "skipped"
    except Exception as error:
        logger.exception("governance report %s failed", report_id)
        _files_delete(names)
        _fail(report_id, error)
        return ReportStatus.FAILED.value
    return ReportStatus.DONE.value
