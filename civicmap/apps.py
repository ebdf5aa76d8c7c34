from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CivicmapConfig(AppConfig):
    """The shared geography: the subdistrict, its community grids and unit grids."""

    name = "civicmap"
    verbose_name = _("Geography")

    def ready(self) -> None:
        # Inside ready(): civicmap.roles imports models, which the app registry loads first.
        from civicmap.roles import role_groups_sync

        post_migrate.connect(role_groups_sync, dispatch_uid="civicmap.role_groups_sync")
