from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IssuesConfig(AppConfig):
    """Reports, photos, categories, cases and duplicates, intake, Open311."""

    name = "issues"
    verbose_name = _("Reports and cases")

    def ready(self) -> None:
        # Inside ready(): these modules import models, which the app registry loads first.
        from civicmap.views import bad_request_responder_register
        from issues.open311.formats import bad_request_response

        bad_request_responder_register(prefix="/open311/", responder=bad_request_response)
