from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CivicmapConfig(AppConfig):
    """The shared geography: the subdistrict, its community grids and unit grids."""

    name = "civicmap"
    verbose_name = _("Geography")
