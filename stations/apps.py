from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StationsConfig(AppConfig):
    """Union rest stations and their coverage."""

    name = "stations"
    verbose_name = _("Stations")
