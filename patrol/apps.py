from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PatrolConfig(AppConfig):
    """Volunteer teams, departments, routing, tasks and deadlines."""

    name = "patrol"
    verbose_name = _("Teams and tasks")
