"""Input of the map pages: parsed and checked here, at the edge."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from civicmap.i18n import name_field
from civicmap.models import Subdistrict
from issues.models import OPEN_STAGES, Category, Priority, ReportChannel, Stage
from patrol.console import (
    PAGE_SIZE,
    PAGE_SIZE_MAX,
    SEARCH_MIN_CHARS,
    ConsoleFilters,
    ConsoleOptions,
    ConsoleSort,
    DueState,
    Handler,
)
from patrol.selectors import DUE_SOON_HOURS

PERIOD_CHOICES = [
    (1, _("Last 24 hours")),
    (7, _("Last 7 days")),
    (30, _("Last 30 days")),
    (90, _("Last 90 days")),
]


class MapFilterForm(forms.Form):
    """The map's filters. Unset, or invalid (the page shows the errors; the data views refuse
    the request before asking), they are the defaults: ``days`` given, every category, the
    whole district."""

    days = forms.TypedChoiceField(label=_("Period"), choices=PERIOD_CHOICES, coerce=int,
                                  required=False, empty_value=None)
    category = forms.ChoiceField(label=_("Category"), required=False)
    subdistrict = forms.ChoiceField(label=_("Subdistrict"), required=False)

    def __init__(self, *args, categories: list[Category], subdistricts: list[Subdistrict],
                 days: int, **kwargs) -> None:
        super().__init__(*args, initial={"days": days}, **kwargs)
        label = name_field()
        self.fields["category"].choices = [("", _("All categories"))] + [
            (category.code, f"{category.code} {getattr(category, label)}")
            for category in categories
        ]
        self.fields["subdistrict"].choices = [("", _("The whole district"))] + [
            (subdistrict.code, getattr(subdistrict, label)) for subdistrict in subdistricts
        ]
        self._subdistrict_ids = {subdistrict.code: subdistrict.pk for subdistrict in subdistricts}

    def _chosen(self, name: str):
        return self.cleaned_data.get(name) if self.is_bound and self.is_valid() else None

    def chosen_days(self) -> int:
        """The period asked for, in days."""
        return self._chosen("days") or self.initial["days"]

    def chosen_categories(self) -> tuple[str, ...]:
        """The category codes asked for; empty means every category the viewer may see."""
        category = self._chosen("category")
        return (category,) if category else ()

    def chosen_subdistrict_id(self) -> int | None:
        """The subdistrict asked for; None means the whole district."""
        code = self._chosen("subdistrict")
        return self._subdistrict_ids[code] if code else None

    def chosen_subdistrict_code(self) -> str:
        """The subdistrict's code as asked for ("" for the whole district), for data URLs."""
        return self._chosen("subdistrict") or ""


# --- the office console's list (/office/, /office/cases/) -----------------------------------

SEARCH_MAX_CHARS = 100
PAGE_MAX = 10_000  # 500,000 cases at 50 a page: a larger page number is a typo
MSG_SEARCH_TOO_SHORT = _("Search for at least %(count)s characters, or a case number.")
MSG_DATES_REVERSED = _("The start date is after the end date.")


def _sort_choices() -> list[tuple[str, str]]:
    return [
        (ConsoleSort.NEWEST.value, _("Newest report first")),
        (ConsoleSort.DEADLINE.value, _("Deadline, soonest first")),
        (ConsoleSort.REPORTS.value, _("Most reports first")),
        (ConsoleSort.PRIORITY.value, _("Priority, most urgent first")),
    ]


def _kind_choices() -> list[tuple[str, str]]:
    return [("C", pgettext_lazy("category kind", "Components (部件)")),
            ("E", pgettext_lazy("category kind", "Events (事件)")),
            ("L", pgettext_lazy("category kind", "Local needs"))]


def _due_choices() -> list[tuple[str, str]]:
    return [(DueState.OVERDUE.value, _("Overdue")),
            (DueState.SOON.value, _("Due within %(hours)s hours") % {"hours": DUE_SOON_HOURS})]


class ConsoleFilterForm(forms.Form):
    """The console's search, filters, order and page, checked against what the account may
    choose (its subdistricts' communities, teams and departments): an unknown value is an
    error naming the field, never an empty list that looks like an answer."""

    q = forms.CharField(label=_("Search"), required=False, max_length=SEARCH_MAX_CHARS,
                        strip=True)
    stage = forms.ChoiceField(label=_("Stage"), required=False)
    kind = forms.ChoiceField(label=_("Kind"), required=False)
    category = forms.ChoiceField(label=_("Category"), required=False)
    community = forms.ChoiceField(label=_("Community"), required=False)
    handler = forms.ChoiceField(label=_("Handler"), required=False)
    due = forms.ChoiceField(label=_("Deadline"), required=False)
    priority = forms.ChoiceField(label=_("Priority"), required=False)
    channel = forms.ChoiceField(label=_("Channel"), required=False)
    created_from = forms.DateField(label=_("Reported from"), required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}))
    created_to = forms.DateField(label=_("Reported until"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(label=_("Sort"), required=False)
    page = forms.IntegerField(label=_("Page"), required=False, min_value=1, max_value=PAGE_MAX,
                              widget=forms.HiddenInput)
    page_size = forms.IntegerField(required=False, min_value=1, max_value=PAGE_SIZE_MAX,
                                   widget=forms.HiddenInput)

    def __init__(self, *args, options: ConsoleOptions, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        everything = [("", _("All"))]
        label = name_field()
        fields = self.fields
        fields["stage"].choices = everything + [(stage.value, stage.label) for stage in Stage
                                                if stage in OPEN_STAGES]
        fields["kind"].choices = everything + _kind_choices()
        fields["category"].choices = everything + [
            (c.code, f"{c.code} {getattr(c, label)}") for c in options.categories]
        fields["community"].choices = everything + [
            (c.code, getattr(c, label)) for c in options.communities]
        fields["handler"].choices = everything + [
            (f"team:{t.code}", getattr(t, label)) for t in options.teams] + [
            (f"department:{d.code}", getattr(d, label)) for d in options.departments] + [
            ("union", _("Trade union"))]
        fields["due"].choices = everything + _due_choices()
        fields["priority"].choices = everything + [(p.code, p.label) for p in Priority]
        fields["channel"].choices = everything + list(ReportChannel.choices)
        fields["sort"].choices = _sort_choices()
        self.options = options

    def clean_q(self) -> str:
        q = self.cleaned_data["q"]
        if q and len(q) < SEARCH_MIN_CHARS and not q.lstrip("#").isdigit():
            raise forms.ValidationError(MSG_SEARCH_TOO_SHORT, code="too_short",
                                        params={"count": SEARCH_MIN_CHARS})
        return q

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("created_from"), data.get("created_to")
        if start and end and start > end:
            self.add_error("created_from", forms.ValidationError(MSG_DATES_REVERSED,
                                                                 code="invalid"))
        return data

    def filters(self) -> ConsoleFilters:
        """The checked query as the selector's filters (codes resolved to ids); the defaults
        when the form is unbound. Call after is_valid()."""
        if not self.is_bound:
            return ConsoleFilters()
        data, options = self.cleaned_data, self.options
        handler = None
        if data.get("handler"):
            kind, _sep, code = data["handler"].partition(":")
            handler = Handler(kind=kind, id={
                "team": {t.code: t.pk for t in options.teams},
                "department": {d.code: d.pk for d in options.departments},
            }[kind][code] if code else None)
        return ConsoleFilters(
            search=data.get("q") or "",
            stage=data.get("stage") or None,
            kind=data.get("kind") or None,
            category_id=({c.code: c.pk for c in options.categories}[data["category"]]
                          if data.get("category") else None),
            community_id=({c.code: c.pk for c in options.communities}[data["community"]]
                           if data.get("community") else None),
            handler=handler,
            due=data.get("due") or None,
            priority=({p.code: p.value for p in Priority}[data["priority"]]
                      if data.get("priority") else None),
            channel=data.get("channel") or None,
            created_from=data.get("created_from"), created_to=data.get("created_to"),
            sort=data.get("sort") or ConsoleSort.NEWEST,
            page=data.get("page") or 1, page_size=data.get("page_size") or PAGE_SIZE,
        )
