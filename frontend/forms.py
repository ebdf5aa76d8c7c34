"""Input of the map pages: parsed and checked here, at the edge."""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import urlencode

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from civicmap.i18n import name_field
from civicmap.models import CommunityGrid, Subdistrict
from issues.layers import MAP_STAGES_CLOSED, map_stages
from issues.models import OPEN_STAGES, Category, Priority, ReportChannel, Stage
from patrol.calendar import arrangement_check
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


MAX_SHOWN_INVALID = 40  # characters of a refused value shown back in its field


MSG_COMMUNITY_ELSEWHERE = _("This community is not in the subdistrict chosen.")


class MapFilterForm(forms.Form):
    """The map's filters. Unset, or invalid (the page answers 400 with each error beside its
    field and the map drawn with that filter's default; the data views refuse the request
    before asking), they are the defaults: ``days`` given, every category of every kind, the
    whole district, every community, the open cases."""

    days = forms.TypedChoiceField(label=_("Period"), choices=PERIOD_CHOICES, coerce=int,
                                  required=False, empty_value=None)
    kind = forms.ChoiceField(label=_("Kind"), required=False)
    category = forms.ChoiceField(label=_("Category"), required=False)
    subdistrict = forms.ChoiceField(label=_("Subdistrict"), required=False)
    community = forms.ChoiceField(label=_("Community"), required=False)
    stage = forms.ChoiceField(label=_("Stage"), required=False)

    def __init__(self, *args, categories: list[Category], subdistricts: list[Subdistrict],
                 communities: list[CommunityGrid], days: int, **kwargs) -> None:
        super().__init__(*args, initial={"days": days}, **kwargs)
        label = name_field()
        self.fields["kind"].choices = [("", _("All kinds"))] + _kind_choices()
        self.fields["category"].choices = [("", _("All categories"))] + [
            (category.code, f"{category.code} {getattr(category, label)}")
            for category in categories
        ]
        self.fields["subdistrict"].choices = [("", _("The whole district"))] + [
            (subdistrict.code, getattr(subdistrict, label)) for subdistrict in subdistricts
        ]
        self.fields["community"].choices = [("", _("All communities"))] + [
            (community.code, getattr(community, label)) for community in communities
        ]
        # The case layers' stages (issues.layers.map_stages); public as on the case pages.
        self.fields["stage"].choices = (
            [("", _("Open cases (every open stage)"))]
            + [(stage.value, stage.label) for stage in Stage if stage in OPEN_STAGES]
            + [(MAP_STAGES_CLOSED, _("Closed cases"))]
        )
        self._subdistrict_ids = {subdistrict.code: subdistrict.pk for subdistrict in subdistricts}
        self._communities = {community.code: community for community in communities}

    def clean(self) -> dict:
        """A community outside the subdistrict chosen is refused (the map would be empty)."""
        data = super().clean()
        community = self._communities.get(data.get("community") or "")
        subdistrict = self._subdistrict_ids.get(data.get("subdistrict") or "")
        if community is not None and subdistrict is not None \
                and community.subdistrict_id != subdistrict:
            self.add_error("community", forms.ValidationError(MSG_COMMUNITY_ELSEWHERE,
                                                              code="invalid_choice"))
        return data

    def _post_clean(self) -> None:
        """A refused value stays in its field, marked as not valid, rather than the select
        falling back to its first option (which showed "最近 24 小时" over a map of 30 days);
        the field points screen readers to its error (``<name>-error`` in map.html)."""
        super()._post_clean()
        for name in self.errors:
            field, value = self.fields.get(name), self.data.get(name)
            if not isinstance(field, forms.ChoiceField):
                continue
            field.widget.attrs.update({"aria-invalid": "true",
                                       "aria-describedby": f"{name}-error"})
            if value and value not in dict(field.choices):
                shown = str(value)[:MAX_SHOWN_INVALID]
                field.choices = [*field.choices,
                                 (value, _("%(value)s (not valid)") % {"value": shown})]

    def _chosen(self, name: str):
        """A field's valid value; None when unset or refused (its default then applies, the
        other filters still do)."""
        if not self.is_bound or (not self.is_valid() and name in self.errors):
            return None
        return self.cleaned_data.get(name)

    def chosen_days(self) -> int:
        """The period asked for, in days."""
        return self._chosen("days") or self.initial["days"]

    def chosen_categories(self) -> tuple[str, ...]:
        """The category codes asked for; empty means every category the viewer may see."""
        category = self._chosen("category")
        return (category,) if category else ()

    def chosen_kinds(self) -> tuple[str, ...]:
        """The category kinds asked for (``C``, ``E``, ``L``); empty means every kind."""
        kind = self._chosen("kind")
        return (kind,) if kind else ()

    def chosen_subdistrict_id(self) -> int | None:
        """The subdistrict asked for; None means the whole district."""
        code = self._chosen("subdistrict")
        return self._subdistrict_ids[code] if code else None

    def chosen_subdistrict_code(self) -> str:
        """The subdistrict's code as asked for ("" for the whole district), for data URLs."""
        return self._chosen("subdistrict") or ""

    def chosen_community_id(self) -> int | None:
        """The community grid asked for; None means every community."""
        code = self._chosen("community")
        return self._communities[code].pk if code else None

    def chosen_stages(self) -> tuple[str, ...]:
        """The stages the case layers show (the open ones unless asked otherwise)."""
        return map_stages(self._chosen("stage") or "")

    def query(self) -> dict[str, str]:
        """The valid filters that are set, as the page's URL carries them."""
        return {name: str(self._chosen(name)) for name in self.fields if self._chosen(name)}


MSG_NOT_A_DATE = _("“%(value)s” is not a date (YYYY-MM-DD).")
MAX_CALENDAR_DAYS = 60  # days in one list: a year has about 30 holidays and 6 make-up days


def _days_parse(text: str) -> list[date]:
    """Dates written YYYY-MM-DD, separated by spaces, commas, 、 or new lines."""
    days, bad = [], []
    for word in re.split(r"[\s,，、;；]+", text.strip()):
        if not word:
            continue
        try:
            days.append(date.fromisoformat(word))
        except ValueError:
            bad.append(word[:20])
    if bad:
        raise forms.ValidationError([MSG_NOT_A_DATE % {"value": word} for word in bad],
                                    code="invalid")
    if len(days) > MAX_CALENDAR_DAYS:
        raise forms.ValidationError(_("At most %(count)s days.") % {"count": MAX_CALENDAR_DAYS},
                                    code="too_many")
    return days


class HolidayArrangementForm(forms.Form):
    """A year's holidays and make-up working days as the State Council's notice lists them;
    checked by ``patrol.calendar.arrangement_check`` (each error beside its field)."""

    year = forms.IntegerField(label=_("Year"))
    holidays = forms.CharField(
        label=_("Public holidays"), widget=forms.Textarea(attrs={"rows": 6}), required=False,
        help_text=_("Every day off in the holiday periods, YYYY-MM-DD, one a line."))
    makeup_workdays = forms.CharField(
        label=_("Make-up working days (调休)"), widget=forms.Textarea(attrs={"rows": 3}),
        required=False, help_text=_("Saturdays or Sundays worked instead, YYYY-MM-DD."))
    source = forms.CharField(label=_("Source (the notice)"), max_length=300, required=False)

    def clean_holidays(self) -> list[date]:
        return _days_parse(self.cleaned_data.get("holidays") or "")

    def clean_makeup_workdays(self) -> list[date]:
        return _days_parse(self.cleaned_data.get("makeup_workdays") or "")

    def _post_clean(self) -> None:
        """Each refused field points screen readers to its errors (``<name>-error``)."""
        super()._post_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs.update({"aria-invalid": "true",
                                                       "aria-describedby": f"{name}-error"})

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:  # a field already refused: its message is the one to read
            return data
        for error in arrangement_check(year=data["year"], holidays=data["holidays"],
                                       makeup_workdays=data["makeup_workdays"]):
            self.add_error(error.field, forms.ValidationError(str(error.message),
                                                              code=error.code))
        return data


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


def month_first_day(text: str, *, today: date) -> date | None:
    """A month typed as YYYY-MM: its first day (None for nothing typed); a malformed month or
    one not begun by ``today`` is the field's error."""
    if not text:
        return None
    try:
        if len(text) != 7 or text[4] != "-":
            raise ValueError(text)
        first = date(int(text[:4]), int(text[5:]), 1)
    except ValueError:
        raise forms.ValidationError(MSG_STATS_MONTH_FORMAT, code="invalid") from None
    if first > today:
        raise forms.ValidationError(MSG_STATS_MONTH_FUTURE, code="future")
    return first


def _next_month(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


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
        return month_first_day(self.cleaned_data.get("month") or "", today=self.today)

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
            return data["month"], _next_month(data["month"])
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


# --- the union's visits page (/union/visits/) -----------------------------------------------

VISITS_DEFAULT_PERIOD = "30"
VISITS_PERIOD_CHOICES = [("7", _("Last 7 days")), ("30", _("Last 30 days")),
                         ("90", _("Last 90 days")), ("month", _("A month"))]
MSG_VISITS_MONTH_NEEDED = _("Choose the month.")
MSG_VISITS_STATION_ELSEWHERE = _("This station is not in the chosen subdistrict.")


class VisitsFilterForm(forms.Form):
    """The visits page's filters, checked at the edge: the last 7, 30 or 90 days (to today,
    Beijing days) or a month (YYYY-MM, up to today), and optionally a subdistrict (an account
    covering several) or one station, both among those the account's work covers. Nothing
    given: the last 30 days, every station. An invalid value is the field's error and the page
    shows no figures."""

    period = forms.ChoiceField(label=_("Period"), choices=VISITS_PERIOD_CHOICES, required=False)
    month = forms.CharField(label=_("Month"), required=False,
                            widget=forms.TextInput(attrs={"type": "month"}))
    subdistrict = forms.ChoiceField(label=_("Subdistrict"), required=False)
    station = forms.ChoiceField(label=_("Station"), required=False)

    def __init__(self, *args, subdistricts: list[Subdistrict], stations: list,
                 today: date, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        label = name_field()
        self.several_subdistricts = len(subdistricts) > 1
        self.fields["subdistrict"].choices = [("", _("Every subdistrict"))] + [
            (subdistrict.code, getattr(subdistrict, label)) for subdistrict in subdistricts]
        self._subdistrict_ids = {subdistrict.code: subdistrict.pk for subdistrict in subdistricts}
        self.fields["station"].choices = [("", _("Every station"))] + [
            (str(station.pk), getattr(station, label)) for station in stations]
        self._station_places = {str(station.pk): station.subdistrict_id for station in stations}

    def clean_month(self):
        return month_first_day(self.cleaned_data.get("month") or "", today=self.today)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        period = data.get("period") or ("month" if data.get("month") else VISITS_DEFAULT_PERIOD)
        data["period"] = period
        if period == "month" and not data.get("month"):
            self.add_error("month", forms.ValidationError(MSG_VISITS_MONTH_NEEDED,
                                                          code="required"))
        station, code = data.get("station"), data.get("subdistrict")
        if station and code and self._station_places[station] != self._subdistrict_ids[code]:
            self.add_error("station", forms.ValidationError(MSG_VISITS_STATION_ELSEWHERE,
                                                            code="elsewhere"))
        return data

    def chosen_days(self) -> tuple[date, date]:
        """The Beijing days asked for as [since, until) (call after is_valid)."""
        data = self.cleaned_data
        if data["period"] == "month":
            return data["month"], min(_next_month(data["month"]),
                                      self.today + timedelta(days=1))
        return (self.today - timedelta(days=int(data["period"]) - 1),
                self.today + timedelta(days=1))

    def chosen_place(self) -> tuple[int | None, int | None]:
        """(subdistrict id, station id) asked for; a station's own subdistrict with it."""
        station = self.cleaned_data.get("station")
        if station:
            return self._station_places[station], int(station)
        code = self.cleaned_data.get("subdistrict")
        return (self._subdistrict_ids[code] if code else None), None

    def query(self) -> str:
        """The valid filters as a query string (for the CSV links)."""
        return urlencode({key: value for key, value in self.data.items()
                          if key in self.fields and value})


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


MSG_CASE_NUMBER = _("Enter a case number: digits only, as on your report's receipt.")
MSG_NO_PUBLIC_CASE = _("No public case has this number. Check it, or ask the subdistrict "
                       "office: a case of a private category is not shown here.")


class CaseLookupForm(forms.Form):
    """The home page's lookup of a case by its number (GET ?case=)."""

    case = forms.IntegerField(label=_("Case number"), min_value=1, max_value=2**63 - 1,
                              error_messages={"invalid": MSG_CASE_NUMBER,
                                              "min_value": MSG_CASE_NUMBER,
                                              "max_value": MSG_CASE_NUMBER,
                                              "required": MSG_CASE_NUMBER})

    def refuse_unknown(self) -> None:
        """The number is well formed but names no public case: say so beside the field."""
        self.add_error("case", MSG_NO_PUBLIC_CASE)
