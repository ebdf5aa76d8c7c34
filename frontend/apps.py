from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FrontendConfig(AppConfig):
    """Pages and maps, built from the same selectors as the API."""

    name = "frontend"
    verbose_name = _("Pages and maps")
