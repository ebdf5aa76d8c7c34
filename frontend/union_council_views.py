"""/union/council/: the riders' suggestion box and council (issue 18), the union's pages.

The board (the riders' own-needs cases by topic and place, counts by state, as a table and a
chart of the same numbers), the meetings (planned and held; plan one), and a meeting's page
(put topics on its agenda, take them off, record each topic's outcome). Reads go through
``patrol.selectors_council`` (the same board selector as /api/v1/council/board/), writes
through ``patrol.services.council``. Union staff of a subdistrict act on its council; an
account of the whole district reads every subdistrict's; anyone else goes to the login page.
A refusal is the page again (400) with the error beside its field, nothing written; a write
answers 303 back to the page.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import user_passes_test
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from civicmap.errors import DomainError, InvalidInput
from civicmap.i18n import name_field
from civicmap.models import CommunityGrid, Subdistrict
from civicmap.replica import replica_reads
from civicmap.selectors import subdistrict_list
from frontend.csp import csp_protected
from issues.models import Category
from patrol.models import CouncilMeeting, CouncilTopic
from patrol.selectors_council import (
    BoardRow,
    council_board,
    council_may_act,
    council_may_read,
    council_meeting_get,
    council_meeting_list,
    council_subdistrict_ids,
    council_today,
    council_topic_list,
    own_needs_categories,
)
from patrol.services.council import (
    council_meeting_plan,
    council_topic_add,
    council_topic_outcome_record,
    council_topic_remove,
)

STATE_LABELS = {"open": _("Open"), "closed": pgettext_lazy("council state", "Closed"),
                "cancelled": _("Cancelled")}


def _reader(user) -> bool:
    return council_may_read(user=user)


def see_other(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response.status_code = 303  # See Other: a reload does not post again
    return response


def _add_errors(form: forms.Form, refused: DomainError) -> None:
    for error in refused.errors:
        field = error.field if error.field in form.fields else None
        form.add_error(field, str(error.message))


def _subdistricts(user) -> list[Subdistrict]:
    scope = council_subdistrict_ids(user=user)
    return [s for s in subdistrict_list() if scope is None or s.pk in scope]


def union_subdistrict_chosen(request: HttpRequest) -> tuple[Subdistrict, list[Subdistrict]]:
    """The subdistrict of a union page, the council's or the awards' (``?subdistrict=CODE``,
    one the account's work covers; else its own, or the first); 404 for another's."""
    choices = _subdistricts(request.user)
    if not choices:
        raise Http404
    code = request.GET.get("subdistrict", "")
    if not code:
        return choices[0], choices
    for subdistrict in choices:
        if subdistrict.code == code:
            return subdistrict, choices
    raise Http404


# --- the board ------------------------------------------------------------------------------


class BoardFilterForm(forms.Form):
    since = forms.DateField(label=_("From"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    state = forms.ChoiceField(label=_("State"), required=False,
                              choices=[("", _("Every state")), *STATE_LABELS.items()])

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", _("The last day is before the first."))
        return data


def _row_label(row: BoardRow, *, english: bool) -> tuple[str, str]:
    category = row.category_en if english else row.category_zh
    if row.community_id is None:
        return category, str(_("No community"))
    return category, (row.community_en if english else row.community_zh) or ""


def council_chart(rows: list[BoardRow], *, english: bool) -> dict:
    """The board's numbers for the stacked bar chart (council.js): one bar per topic and
    place, its cases by state; the same numbers as the table."""
    return {
        "categories": [" · ".join(_row_label(row, english=english)) for row in rows],
        "series": [{"name": str(STATE_LABELS[state]),
                    "data": [getattr(row, state) for row in rows]}
                   for state in ("open", "closed", "cancelled")],
    }


@require_GET
@user_passes_test(_reader)  # anyone else goes to the login page
@csp_protected
@replica_reads()
def union_council_board(request: HttpRequest) -> HttpResponse:
    """The suggestion box: the subdistrict's own-needs cases by topic and place."""
    subdistrict, choices = union_subdistrict_chosen(request)
    form = BoardFilterForm(request.GET)
    english = name_field() == "name_en"
    context: dict = {"form": form, "subdistrict": subdistrict, "subdistricts": choices,
                     "subdistrict_name": getattr(subdistrict, name_field()),
                     "may_act": council_may_act(user=request.user,
                                                subdistrict_id=subdistrict.pk)}
    if not form.is_valid():
        return render(request, "frontend/union_council_board.html", context, status=400)
    rows = council_board(subdistrict_id=subdistrict.pk, since=form.cleaned_data["since"],
                         until=form.cleaned_data["until"], state=form.cleaned_data["state"])
    context.update(
        rows=[(row, *_row_label(row, english=english)) for row in rows],
        totals={state: sum(getattr(row, state) for row in rows)
                for state in ("total", "open", "closed", "cancelled")},
        chart=council_chart(rows, english=english) if rows else None,
    )
    return render(request, "frontend/union_council_board.html", context)


# --- the meetings ---------------------------------------------------------------------------


class MeetingPlanForm(forms.Form):
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    title = forms.CharField(label=_("Title"), max_length=120)


def _meetings_url(subdistrict: Subdistrict) -> str:
    return f"{reverse('frontend:union-council-meetings')}?subdistrict={subdistrict.code}"


@require_http_methods(["GET", "POST"])
@user_passes_test(_reader)
@csp_protected
def union_council_meetings(request: HttpRequest) -> HttpResponse:
    """The subdistrict's meetings, newest first; its union staff plan the next one here."""
    subdistrict, choices = union_subdistrict_chosen(request)
    may_act = council_may_act(user=request.user, subdistrict_id=subdistrict.pk)
    form = MeetingPlanForm(request.POST or None, initial={"date": council_today()})
    status = 200
    if request.method == "POST":
        if not may_act:
            return HttpResponse(status=403)
        if form.is_valid():
            try:
                meeting = council_meeting_plan(
                    actor=request.user, subdistrict=subdistrict,
                    date=form.cleaned_data["date"], title=form.cleaned_data["title"],
                    at=timezone.now())
            except InvalidInput as refused:
                _add_errors(form, refused)
            else:
                return see_other(reverse("frontend:union-council-meeting",
                                          kwargs={"meeting_id": meeting.pk}))
        status = 400
    return render(request, "frontend/union_council_meetings.html", {
        "subdistrict": subdistrict, "subdistricts": choices, "may_act": may_act,
        "subdistrict_name": getattr(subdistrict, name_field()), "form": form,
        "meetings": council_meeting_list(subdistrict_id=subdistrict.pk),
    }, status=status)


class TopicAddForm(forms.Form):
    category = forms.ModelChoiceField(label=_("Topic"), queryset=Category.objects.none(),
                                      to_field_name="code")
    community = forms.ModelChoiceField(label=_("Place"), queryset=CommunityGrid.objects.none(),
                                       to_field_name="code", required=False,
                                       empty_label=_("No community"))

    def __init__(self, *args, subdistrict: Subdistrict, **kwargs) -> None:
        super().__init__(*args, prefix="add", **kwargs)
        label = name_field()
        categories = own_needs_categories()
        self.fields["category"].queryset = categories
        self.fields["category"].label_from_instance = lambda c: getattr(c, label)
        communities = (CommunityGrid.objects.filter(subdistrict=subdistrict)
                       .defer("boundary").order_by("code"))
        self.fields["community"].queryset = communities
        self.fields["community"].label_from_instance = lambda c: getattr(c, label)


class OutcomeForm(forms.Form):
    outcome = forms.CharField(label=_("Outcome"), widget=forms.Textarea(attrs={"rows": 3}),
                              max_length=2000)


def _topic_of(meeting: CouncilMeeting, raw: str) -> CouncilTopic:
    if not raw.isdigit():
        raise Http404
    topic = CouncilTopic.objects.filter(meeting=meeting, pk=int(raw)).first()
    if topic is None:
        raise Http404
    topic.meeting = meeting
    return topic


@require_http_methods(["GET", "POST"])
@user_passes_test(_reader)
@csp_protected
def union_council_meeting(request: HttpRequest, meeting_id: int) -> HttpResponse:
    """A meeting: its agenda (topics with their cases and outcomes); its subdistrict's union
    staff add and remove topics while it is planned and record each topic's outcome from its
    day on. ``action`` in the POST: ``add``, ``remove`` or ``outcome`` (with ``topic``)."""
    meeting = council_meeting_get(meeting_id=meeting_id, user=request.user)
    if meeting is None:
        raise Http404
    may_act = council_may_act(user=request.user, subdistrict_id=meeting.subdistrict_id)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    add_form = TopicAddForm(request.POST if action == "add" else None,
                            subdistrict=meeting.subdistrict)
    outcome_form, outcome_topic_id = OutcomeForm(), None
    status = 200
    if request.method == "POST":
        if not may_act:
            return HttpResponse(status=403)
        here = reverse("frontend:union-council-meeting", kwargs={"meeting_id": meeting.pk})
        now = timezone.now()
        try:
            if action == "add":
                if add_form.is_valid():
                    council_topic_add(actor=request.user, meeting=meeting,
                                      category=add_form.cleaned_data["category"],
                                      community=add_form.cleaned_data["community"], at=now)
                    return see_other(here)
            elif action == "remove":
                council_topic_remove(actor=request.user,
                                     topic=_topic_of(meeting, request.POST.get("topic", "")))
                return see_other(here)
            elif action == "outcome":
                topic = _topic_of(meeting, request.POST.get("topic", ""))
                outcome_form, outcome_topic_id = OutcomeForm(request.POST), topic.pk
                if outcome_form.is_valid():
                    council_topic_outcome_record(actor=request.user, topic=topic,
                                                 outcome=outcome_form.cleaned_data["outcome"],
                                                 at=now)
                    return see_other(here)
            else:
                return HttpResponse(status=400)
        except DomainError as refused:
            _add_errors(outcome_form if action == "outcome" else add_form, refused)
        status = 400
    label = name_field()
    topics = [
        {"topic": topic, "category": getattr(topic.category, label),
         "place": (getattr(topic.community_grid, label) if topic.community_grid
                   else _("No community")),
         "form": outcome_form if topic.pk == outcome_topic_id else OutcomeForm(
             auto_id=f"id_outcome_{topic.pk}_%s")}
        for topic in council_topic_list(meeting=meeting)]
    return render(request, "frontend/union_council_meeting.html", {
        "meeting": meeting, "may_act": may_act, "topics": topics, "add_form": add_form,
        "planned": meeting.state == CouncilMeeting.State.PLANNED,
        "outcome_open": council_today() >= meeting.date,
        "subdistrict": meeting.subdistrict,
        "subdistrict_name": getattr(meeting.subdistrict, name_field()),
    }, status=status)

