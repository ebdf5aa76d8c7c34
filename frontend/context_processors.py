"""What every page built on base.html may show: the links of the reader's roles, and the
office's warning that next year's holidays have not been entered (from 1 November,
patrol.calendar)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.utils import timezone

from civicmap.roles import Role, user_has_role
from frontend.union_views import union_page_reader
from patrol.calendar import calendar_year_missing


def calendar_warning(request: HttpRequest) -> dict[str, Callable[[], int | None]]:
    """``calendar_year_missing``: next year, to office staff, while its arrangement is missing
    from 1 November; None otherwise. A callable, so that only a page that shows it (base.html)
    reads the calendar."""

    def missing() -> int | None:
        if not user_has_role(request.user, Role.OFFICE_STAFF):
            return None
        return calendar_year_missing(now=timezone.now())

    return {"calendar_year_missing": missing}


def navigation(request: HttpRequest) -> dict[str, bool]:
    """Which sections' links the bar shows: the office's to office staff, the union's to those
    who may read its pages, union staff and the district's accounts (each page still checks its
    own access)."""
    return {"nav_office": user_has_role(request.user, Role.OFFICE_STAFF),
            "nav_union": union_page_reader(request.user)}
