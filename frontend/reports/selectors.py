"""Reads of the governance reports, always through the reader's scope (civicmap.scopes): an
office sees and downloads its own subdistrict's reports only; the district's office every one."""

from __future__ import annotations

from django.db.models import QuerySet

from civicmap.models import Subdistrict
from civicmap.scopes import in_scope_q
from frontend.models import GovernanceReport

REPORT_LIST_MAX = 60  # rows on the page: five years of one subdistrict, or two months of 24+


def governance_report_list(*, user) -> list[GovernanceReport]:
    """The reports of the user's subdistricts, newest month first."""
    return list(GovernanceReport.objects.filter(in_scope_q(user, field="subdistrict"))
                .select_related("subdistrict")
                .order_by("-month", "subdistrict__code")[:REPORT_LIST_MAX])


def governance_report_get(*, user, report_id: int) -> GovernanceReport | None:
    """One report, if it is of a subdistrict the user works for; None otherwise (the caller
    answers 404: another office's report is not said to exist)."""
    return (GovernanceReport.objects.filter(in_scope_q(user, field="subdistrict"))
            .select_related("subdistrict").filter(pk=report_id).first())


def report_subdistricts(*, user) -> QuerySet[Subdistrict]:
    """The subdistricts the user may ask a report of, by code."""
    return Subdistrict.objects.filter(in_scope_q(user, field="pk")).order_by("code")
