from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IssuesConfig(AppConfig):
    """Reports, photos, categories, cases and duplicates, intake, Open311."""

    name = "issues"
    verbose_name = _("Reports and cases")
