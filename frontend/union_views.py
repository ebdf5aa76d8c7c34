"""/union/members/: the union's members and the card's benefits (issue 18).

Union staff of a subdistrict see the members whose files their union keeps, with each one's
history, and issue, suspend or reinstate a card with a reason; they set each benefit's uses per
member per month and the stations' own monthly caps. The district's accounts (union or office
staff whose work covers every subdistrict) read the page and change nothing. A plain form page:
every change is a POST answered 303 back to the page, or the page again with the refusal beside
its field (400; 403 for another subdistrict's member), nothing written.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import user_passes_test
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from civicmap.errors import DomainError, FieldError, InvalidInput
from civicmap.roles import Role, user_has_role
from civicmap.scopes import EVERYWHERE, user_subdistrict_ids
from frontend.csp import csp_protected
from stations.cards import (
    REASON_MAX,
    benefit_station_limit_set,
    benefit_update,
    membership_reinstate,
    membership_status_set,
)
from stations.models import MembershipStatus
from stations.selectors_cards import union_benefit_list, union_membership_list

ACTIONS = {
    "issue": MembershipStatus.CARD_ISSUED,
    "suspend": MembershipStatus.SUSPENDED,
    "reinstate": None,  # back to card_issued, or joined if no card was issued
}
MSG_UNKNOWN_ACTION = _("Unknown action.")


def union_page_reader(user) -> bool:
    """Union staff, and the district's accounts (read only); anyone else goes to sign in."""
    return user_has_role(user, Role.UNION_STAFF) or (
        user_has_role(user, Role.OFFICE_STAFF) and user_subdistrict_ids(user) is EVERYWHERE)


class StatusForm(forms.Form):
    membership = forms.IntegerField(min_value=1)
    action = forms.ChoiceField(choices=[(key, key) for key in ACTIONS])
    reason = forms.CharField(label=_("Reason"), max_length=REASON_MAX)


class BenefitForm(forms.Form):
    benefit = forms.IntegerField(min_value=1)
    member_limit = forms.IntegerField(label=_("Uses per member per month"), min_value=1,
                                      max_value=100)
    is_active = forms.BooleanField(label=_("Offered"), required=False)


class StationLimitForm(forms.Form):
    benefit = forms.IntegerField(min_value=1)
    station = forms.IntegerField(min_value=1)
    monthly_limit = forms.IntegerField(label=_("Uses per month at this station"), min_value=0,
                                       max_value=10_000, required=False,
                                       help_text=_("Empty: no cap of its own; 0: not offered."))


def _apply(request: HttpRequest, user) -> list[FieldError]:
    """Run the posted change; the errors to show (none: it was saved)."""
    kind = request.POST.get("form")
    form_class = {"status": StatusForm, "benefit": BenefitForm,
                  "station_limit": StationLimitForm}.get(kind)
    if form_class is None:
        return [FieldError("form", "invalid", MSG_UNKNOWN_ACTION)]
    form = form_class(request.POST)
    if not form.is_valid():
        return [FieldError(field, "invalid", " ".join(messages))
                for field, messages in form.errors.items()]
    data = form.cleaned_data
    if kind == "status":
        to_status = ACTIONS[data["action"]]
        if to_status is None:
            membership_reinstate(membership_id=data["membership"], reason=data["reason"],
                                 actor=user)
        else:
            membership_status_set(membership_id=data["membership"], to_status=to_status,
                                  reason=data["reason"], actor=user)
    elif kind == "benefit":
        benefit_update(benefit_id=data["benefit"], member_limit=data["member_limit"],
                       is_active=data["is_active"], actor=user)
    else:
        benefit_station_limit_set(benefit_id=data["benefit"], station_id=data["station"],
                                  monthly_limit=data["monthly_limit"], actor=user)
    return []


@require_http_methods(["GET", "POST"])
@user_passes_test(union_page_reader)  # anyone else goes to the login page
@csp_protected
def union_members(request: HttpRequest) -> HttpResponse:
    """The members with their status and history, and the benefits with their limits."""
    errors: list[FieldError] = []
    status = 200
    if request.method == "POST":
        try:
            errors = _apply(request, request.user)
        except DomainError as refused:
            errors, status = list(refused.errors), refused.status_code
        else:
            if errors:
                status = InvalidInput.status_code
            else:
                response = HttpResponseRedirect(f"{reverse('frontend:union-members')}?saved=1")
                response.status_code = 303  # See Other: a reload does not post again
                return response
    scope = user_subdistrict_ids(request.user)
    shown = request.GET.get("status", "")
    return render(request, "frontend/union_members.html", {
        "members": union_membership_list(user=request.user,
                                         status=shown if shown in MembershipStatus.values
                                         else None),
        "benefits": union_benefit_list(user=request.user),
        "writable": request.user.is_superuser or scope is not EVERYWHERE,
        "statuses": MembershipStatus.choices,
        "shown": shown,
        "errors": errors,
        "posted": request.POST if request.method == "POST" else {},
        "saved": request.GET.get("saved") == "1",
    }, status=status)
