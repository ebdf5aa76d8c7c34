"""Input of the map pages: parsed and checked here, at the edge."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from civicmap.i18n import name_field
from issues.models import Category

PERIOD_CHOICES = [
    (1, _("Last 24 hours")),
    (7, _("Last 7 days")),
    (30, _("Last 30 days")),
    (90, _("Last 90 days")),
]


class MapFilterForm(forms.Form):
    days = forms.TypedChoiceField(label=_("Period"), choices=PERIOD_CHOICES, coerce=int,
                                  required=False, empty_value=None)
    category = forms.ChoiceField(label=_("Category"), required=False)

    def __init__(self, *args, categories: list[Category], days: int, **kwargs) -> None:
        super().__init__(*args, initial={"days": days}, **kwargs)
        label = name_field()
        self.fields["category"].choices = [("", _("All categories"))] + [
            (category.code, f"{category.code} {getattr(category, label)}")
            for category in categories
        ]
