"""Input of the map pages: parsed and checked here, at the edge."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from django import forms
from django.utils.translation import gettext_lazy as _

from civicmap.i18n import name_field
from civicmap.models import Subdistrict
from issues.models import Category

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


# --- the statistics page (/office/stats/) ------------------------------------------------------

STATS_MAX_DAYS = 3 * 366  # the longest period a statistics page reads (three years)
MSG_STATS_MONTH_FORMAT = _("Enter a month as YYYY-MM, e.g. 2026-11.")
MSG_STATS_MONTH_FUTURE = _("That month has not begun yet.")
MSG_STATS_FROM_FUTURE = _("The period cannot start in the future.")
MSG_STATS_ORDER = _("The period's start is after its end.")
MSG_STATS_BOTH = _("Choose a month or a period from … to, not both.")
MSG_STATS_FROM_NEEDED = _("Give the day the period starts.")
MSG_STATS_TOO_LONG = _("A period is at most three years.")
STATS_BUCKET_CHOICES = [("week", _("Week")), ("month", _("Month"))]


class StatsFilterForm(forms.Form):
    """The statistics' filters, checked at the edge: a month (YYYY-MM) or a period from … to
    (local days, both included), the trend's bucket, and for an account covering several
    subdistricts (the district role) one of them. Nothing given: this month to today, by week.
    Any invalid value is the form's error and the page shows no figures."""

    month = forms.CharField(label=_("Month"), required=False,
                            widget=forms.TextInput(attrs={"type": "month"}))
    since = forms.DateField(label=_("From"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    bucket = forms.ChoiceField(label=_("Trend by"), choices=STATS_BUCKET_CHOICES,
                               required=False)
    subdistrict = forms.ChoiceField(label=_("Subdistrict"), required=False)

    def __init__(self, *args, subdistricts: list[Subdistrict], today, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        label = name_field()
        self.fields["subdistrict"].choices = [("", _("Every subdistrict"))] + [
            (subdistrict.code, getattr(subdistrict, label)) for subdistrict in subdistricts]
        self._subdistrict_ids = {subdistrict.code: subdistrict.pk for subdistrict in subdistricts}
        self.several_subdistricts = len(subdistricts) > 1

    def clean_month(self):
        text = self.cleaned_data.get("month") or ""
        if not text:
            return None
        try:
            if len(text) != 7 or text[4] != "-":
                raise ValueError(text)
            first = date(int(text[:4]), int(text[5:]), 1)
        except ValueError:
            raise forms.ValidationError(MSG_STATS_MONTH_FORMAT, code="invalid") from None
        if first > self.today:
            raise forms.ValidationError(MSG_STATS_MONTH_FUTURE, code="future")
        return first

    def clean(self):
        data = super().clean()
        month, since, until = data.get("month"), data.get("since"), data.get("until")
        if self.errors:
            return data
        if month and (since or until):
            raise forms.ValidationError(MSG_STATS_BOTH, code="both")
        if until and not since:
            self.add_error("since", forms.ValidationError(MSG_STATS_FROM_NEEDED,
                                                          code="required"))
        elif since and since > self.today:
            self.add_error("since", forms.ValidationError(MSG_STATS_FROM_FUTURE,
                                                          code="future"))
        elif since and until and since > until:
            self.add_error("until", forms.ValidationError(MSG_STATS_ORDER, code="order"))
        elif since and ((until or self.today) - since).days >= STATS_MAX_DAYS:
            self.add_error("until", forms.ValidationError(MSG_STATS_TOO_LONG,
                                                          code="too_long"))
        return data

    def chosen_period(self) -> tuple[date, date]:
        """The local days asked for as [since, until) (call after is_valid)."""
        data = self.cleaned_data
        if data.get("month"):
            first = data["month"]
            return first, (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        if data.get("since"):
            return data["since"], (data.get("until") or self.today) + timedelta(days=1)
        return self.today.replace(day=1), self.today + timedelta(days=1)

    def chosen_bucket(self) -> str:
        return self.cleaned_data.get("bucket") or "week"

    def chosen_subdistrict_id(self) -> int | None:
        code = self.cleaned_data.get("subdistrict")
        return self._subdistrict_ids[code] if code else None

    def query(self) -> str:
        """The valid filters as a query string (for the CSV links)."""
        return urlencode({key: value for key, value in self.data.items()
                          if key in self.fields and value})
