"""/union/awards/: the monthly awards (先锋骑手, issue 18), the union's page, and the certificates.

The page shows a subdistrict's nomination list of a month (``?month=YYYY-MM``, last month by
default) with each nominee's figures, the rules beside it in words
(``issues.selectors_awards``), and the union's decision per row; its union staff decide there
(``patrol.services.awards``: awarded or not, with a reason; the rider given the award is
notified). The district's accounts read every subdistrict's list and decide nothing. A decision
is a POST answered 303 back to the page, or the page again with the refusal naming its field
(400; 403 for the district, 409 for a nominee already decided), nothing written.

A certificate (``/union/awards/<id>/certificate.pdf``) is for the union staff who read the
subdistrict's page and for the rider given the award (the phone's token, or a session): the
rider's API (/api/v1/me/awards/) links to it.
"""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.contrib.auth.decorators import user_passes_test
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from civicmap.errors import DomainError, FieldError
from civicmap.i18n import name_field
from civicmap.models import Subdistrict
from civicmap.scopes import EVERYWHERE, user_subdistrict_ids
from frontend.award_certificate import Certificate, certificate_pdf
from frontend.csp import csp_protected
from frontend.union_council_views import see_other, union_subdistrict_chosen
from frontend.union_views import union_page_reader
from issues.api.points_views import MonthField
from issues.models import AwardDecision, AwardKind
from issues.selectors_awards import (
    award_decision_list,
    award_get,
    award_name,
    award_nominee_list,
    award_rules,
)
from issues.selectors_points import month_current
from patrol.selectors_council import council_may_act
from patrol.services.awards import REASON_MAX, award_decision_record
from patrol.workdays import SHANGHAI

MSG_UNION_NAME = _("%(subdistrict)s Trade Union")


def _month_parse(text: str) -> date:
    """``YYYY-MM`` to the month's first day, by the API's month rule (format and range);
    ValidationError with its message otherwise."""
    try:
        return MonthField().to_internal_value(text)
    except serializers.ValidationError as refused:
        raise forms.ValidationError(refused.detail[0], code="invalid") from refused


class MonthInput(forms.CharField):
    """``YYYY-MM`` (the browser's month input) to the month's first day."""

    def to_python(self, value) -> date | None:
        text = super().to_python(value)
        return _month_parse(text) if text else None


class DecisionForm(forms.Form):
    rider = forms.IntegerField(label=_("Rider"), min_value=1)
    month = MonthInput(label=_("Month"))
    awarded = forms.TypedChoiceField(
        label=_("Decision"), coerce=lambda value: value == "yes", widget=forms.RadioSelect,
        choices=[("yes", _("Award")), ("no", _("Do not award"))])
    reason = forms.CharField(label=_("Reason"), max_length=REASON_MAX)


def _last_month() -> date:
    return (month_current() - timedelta(days=1)).replace(day=1)


def _page_url(subdistrict: Subdistrict, month: date) -> str:
    return (f"{reverse('frontend:union-awards')}?subdistrict={subdistrict.code}"
            f"&month={month:%Y-%m}")


@require_http_methods(["GET", "POST"])
@user_passes_test(union_page_reader)  # anyone else goes to the login page
@csp_protected
def union_awards(request: HttpRequest) -> HttpResponse:
    """The month's nomination list with its figures, the rules, and the decisions."""
    subdistrict, choices = union_subdistrict_chosen(request)
    may_act = council_may_act(user=request.user, subdistrict_id=subdistrict.pk)
    errors: list[FieldError] = []
    status = 200
    month = _last_month()
    if request.GET.get("month"):
        try:
            month = _month_parse(request.GET["month"])
        except forms.ValidationError as refused:
            errors, status = [FieldError("month", "invalid", refused.messages[0])], 400
    posted_rider = None
    if request.method == "POST":
        if not may_act:
            return HttpResponse(status=403)
        form = DecisionForm(request.POST)
        posted_rider = request.POST.get("rider")
        if form.is_valid():
            data = form.cleaned_data
            try:
                award_decision_record(actor=request.user, subdistrict=subdistrict,
                                      rider_id=data["rider"], month=data["month"],
                                      awarded=data["awarded"], reason=data["reason"],
                                      at=timezone.now())
            except DomainError as refused:
                errors, status = list(refused.errors), refused.status_code
            else:
                return see_other(_page_url(subdistrict, data["month"]) + "&saved=1")
        else:
            errors = [FieldError(field, "invalid", " ".join(messages))
                      for field, messages in form.errors.items()]
            status = 400
        month = form.cleaned_data.get("month") or month  # the list the decision was made on
    decisions = award_decision_list(subdistrict=subdistrict, month=month)
    nominees = award_nominee_list(subdistrict=subdistrict, month=month)
    nominated = {nominee.rider_id for nominee in nominees}
    return render(request, "frontend/union_awards.html", {
        "subdistrict": subdistrict, "subdistricts": choices, "may_act": may_act,
        "subdistrict_name": getattr(subdistrict, name_field()),
        "month": month, "month_value": f"{month:%Y-%m}", "month_max": f"{month_current():%Y-%m}",
        "decidable": month <= month_current(),
        "rules": award_rules(), "award_name": award_name(AwardKind.PIONEER),
        "rows": [(nominee, decisions.get(nominee.rider_id)) for nominee in nominees],
        # Decisions on riders the list no longer holds (a case cancelled since): kept, shown.
        "others": [d for rider_id, d in decisions.items() if rider_id not in nominated],
        "errors": errors, "posted_rider": posted_rider,
        "posted": request.POST if request.method == "POST" else {},
        "reason_max": REASON_MAX, "saved": request.GET.get("saved") == "1",
    }, status=status)


def _may_read_certificate(user, award: AwardDecision) -> bool:
    """The rider given the award, or an account that reads the union's page of its
    subdistrict."""
    if award.rider.user_id == user.pk:
        return True
    scope = user_subdistrict_ids(user)
    return union_page_reader(user) and (scope is EVERYWHERE or award.subdistrict_id in scope)


class AwardCertificateView(APIView):
    """GET /union/awards/<id>/certificate.pdf — an award's certificate; the phone's token or a
    session. Anyone else, and a decision that gave no award, is answered 404."""

    permission_classes = [IsAuthenticated]

    # A file for a browser or the phone, as the monthly report's PDF: not an operation of the
    # API's description (/api/v1/me/awards/ is, and links here).
    @extend_schema(exclude=True)
    def get(self, request: Request, award_id: int) -> HttpResponse:
        award = award_get(award_id=award_id)
        if award is None or not _may_read_certificate(request.user, award):
            raise Http404
        data = certificate_pdf(Certificate(
            rider_name=award.rider.display_name, award_name=award_name(award.kind),
            month=award.month,
            union_name=str(MSG_UNION_NAME) % {
                "subdistrict": getattr(award.subdistrict, name_field())},
            decided_on=award.decided_at.astimezone(SHANGHAI).date()))
        response = HttpResponse(data, content_type="application/pdf")
        response["Content-Disposition"] = (
            f'inline; filename="award-{award.pk}-{award.month:%Y-%m}.pdf"')
        response["Cache-Control"] = "private, no-store"
        return response
