from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PatrolConfig(AppConfig):
    """Volunteer teams, departments, routing, tasks and deadlines."""

    name = "patrol"
    verbose_name = _("Teams and tasks")

    def ready(self) -> None:
        # patrol subscribes to the hooks of issues (issues.hooks) and answers the base's
        # holiday question (civicmap.holidays), apps below it. Imported inside ready(): these
        # modules import models, which the app registry loads first.
        from civicmap.holidays import holiday_provider_register
        from issues.hooks import case_opened, task_handling_provider_register
        from patrol.calendar import is_public_holiday
        from patrol.selectors import task_handling_by_id
        from patrol.services.lifecycle import case_opened_dispatch

        case_opened.connect(case_opened_dispatch, dispatch_uid="patrol.case_opened_dispatch")
        task_handling_provider_register(task_handling_by_id)
        holiday_provider_register(is_public_holiday)  # stations' closing on holidays
