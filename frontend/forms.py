"""Input of the map pages: parsed and checked here, at the edge."""

from __future__ import annotations

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
