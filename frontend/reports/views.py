"""The reports page (/office/reports/): the office's governance reports with their status and
progress (polled from ``reports_status``), a form to ask for a month's report, and the
downloads, each checked against the reader's subdistrict (never a secret in the URL)."""

from __future__ import annotations

from django.contrib.auth.decorators import user_passes_test
from django.core.files.storage import default_storage
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from civicmap.i18n import name_field
from civicmap.roles import Role, user_has_role
from frontend.csp import csp_protected
from frontend.models import GovernanceReport, ReportStatus
from frontend.reports.forms import ReportRequestForm
from frontend.reports.months import month_last
from frontend.reports.selectors import (
    governance_report_get,
    governance_report_list,
    report_subdistricts,
)
from frontend.reports.services import governance_report_request

REPORT_POLL_MS = 1500  # how often the page asks while a report is being made
MSG_OFFICE_ONLY = gettext_lazy("Only office staff can do this.")
# In the downloaded file's name.
FILE_LABEL = pgettext_lazy("governance report", "governance report")
STAGE_LABELS = {
    "": pgettext_lazy("governance report", "Waiting for a worker"),
    "figures": pgettext_lazy("governance report", "Reading the figures"),
    "workbook": pgettext_lazy("governance report", "Writing the workbook"),
    "charts": pgettext_lazy("governance report", "Drawing the charts"),
    "map": pgettext_lazy("governance report", "Drawing the map"),
    "layout": pgettext_lazy("governance report", "Laying out the PDF"),
    "storing": pgettext_lazy("governance report", "Storing the files"),
    "done": pgettext_lazy("governance report", "Done"),
}
CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def _office_staff(user) -> bool:
    return user_has_role(user, Role.OFFICE_STAFF)


def report_row(report: GovernanceReport) -> dict:
    """A report as the page shows it (and as the poll answers)."""
    done = report.status == ReportStatus.DONE
    return {
        "id": report.pk,
        "subdistrict": report.subdistrict.code,
        "subdistrict_name": getattr(report.subdistrict, name_field()),
        "month": f"{report.month:%Y-%m}",
        "status": report.status,
        "status_label": str(ReportStatus(report.status).label),
        "stage_label": str(STAGE_LABELS.get(report.step, report.step)),
        "progress": report.progress,
        "error": report.error,
        "finished_at": (f"{timezone.localtime(report.finished_at):%Y-%m-%d %H:%M}"
                        if report.finished_at else ""),
        "seconds": round(report.seconds, 1) if report.seconds is not None else None,
        "downloads": {kind: reverse("frontend:report-download",
                                    kwargs={"report_id": report.pk, "kind": kind})
                      for kind in CONTENT_TYPES} if done else {},
    }


def _rows(user) -> list[dict]:
    return [report_row(report) for report in governance_report_list(user=user)]


@require_http_methods(["GET", "POST"])
@user_passes_test(_office_staff)  # anyone else goes to the login page
@csp_protected
def reports_page(request: HttpRequest) -> HttpResponse:
    """The office's reports: the list and the form. A valid POST asks for the report (made in
    the background) and comes back here (303); an invalid one shows the page with the form's
    errors beside the fields, nothing asked for."""
    subdistricts = list(report_subdistricts(user=request.user))
    # ?month= (the statistics page's link) fills the field in; the POST is what is checked.
    month = request.GET.get("month", "")[:7] or f"{month_last(now=timezone.now()):%Y-%m}"
    form = ReportRequestForm(request.POST if request.method == "POST" else None,
                             subdistricts=subdistricts,
                             initial={"month": month})
    if request.method == "POST":
        if form.is_valid():
            governance_report_request(subdistrict=form.chosen_subdistrict(),
                                      month=form.cleaned_data["month"], user=request.user,
                                      now=timezone.now())
            done = HttpResponseRedirect(reverse("frontend:reports"))
            done.status_code = 303  # See Other: the page again, by GET
            return done
    response = render(request, "frontend/reports.html", {
        "form": form, "reports": _rows(request.user), "office": True,
        "poll_ms": REPORT_POLL_MS,
    })
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def reports_status(request: HttpRequest) -> JsonResponse:
    """The list as JSON, polled by the page while a report is being made. Read from the
    primary, not the replica: the worker's progress should show within a poll."""
    if not _office_staff(request.user):
        return JsonResponse({"errors": [{"field": None, "code": "forbidden",
                                         "message": str(MSG_OFFICE_ONLY)}]}, status=403)
    response = JsonResponse({"reports": _rows(request.user)})
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def report_download(request: HttpRequest, report_id: int, kind: str) -> HttpResponse:
    """A ready report's workbook or PDF, streamed from the default storage (S3-compatible in a
    deployment) to office staff of its subdistrict or the district; 404 for another office's
    report, one not ready, or an unknown kind."""
    if not _office_staff(request.user):
        return JsonResponse({"errors": [{"field": None, "code": "forbidden",
                                         "message": str(MSG_OFFICE_ONLY)}]}, status=403)
    report = governance_report_get(user=request.user, report_id=report_id)
    if report is None or kind not in CONTENT_TYPES or report.status != ReportStatus.DONE:
        raise Http404
    name = getattr(report, kind).name
    place = getattr(report.subdistrict, name_field())
    filename = f"{place}-{report.month:%Y-%m}-{FILE_LABEL}.{kind}"
    response = FileResponse(default_storage.open(name, "rb"), as_attachment=True,
                            filename=filename, content_type=CONTENT_TYPES[kind])
    response["Cache-Control"] = "private, no-store"
    return response
