"""The page's form: which month, which subdistrict (of those the office works for)."""

from __future__ import annotations

from datetime import date

from django import forms
from django.utils import timezone
from django.utils.translation import pgettext_lazy

from civicmap.errors import InvalidInput
from civicmap.i18n import name_field
from civicmap.models import Subdistrict
from frontend.reports.months import month_parse


class ReportRequestForm(forms.Form):
    """Ask for a month's report. The month must have ended (``months.month_parse``); the
    subdistrict must be one of the office's (another is "not one of the choices")."""

    month = forms.CharField(label=pgettext_lazy("governance report", "Month"), max_length=7,
                            widget=forms.TextInput(attrs={"type": "month",
                                                          "placeholder": "2026-11"}))
    subdistrict = forms.ChoiceField(label=pgettext_lazy("governance report", "Subdistrict"))

    def __init__(self, *args, subdistricts: list[Subdistrict], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        label = name_field()
        self.fields["subdistrict"].choices = [
            (subdistrict.code, getattr(subdistrict, label)) for subdistrict in subdistricts]
        self._subdistricts = {subdistrict.code: subdistrict for subdistrict in subdistricts}

    def full_clean(self) -> None:
        """Clean, then point each field in error at its message (the template gives the
        message the id ``<field id>-error``) for screen readers."""
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs.update({
                    "aria-invalid": "true", "aria-describedby": f"id_{name}-error"})

    def clean_month(self) -> date:
        try:
            return month_parse(text=self.cleaned_data["month"], now=timezone.now())
        except InvalidInput as refused:
            error = refused.errors[0]
            raise forms.ValidationError(error.message, code=error.code) from None

    def chosen_subdistrict(self) -> Subdistrict:
        return self._subdistricts[self.cleaned_data["subdistrict"]]
