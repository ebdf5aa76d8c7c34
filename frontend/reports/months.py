"""The month a report covers: parsed at the edge, refused when unparseable or not yet over."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import pgettext_lazy

from civicmap.errors import InvalidInput

MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")
FIRST_YEAR = 2000  # no report before this: a typo, not a month anyone asks for
MSG_MONTH_FORMAT = pgettext_lazy("governance report", "Give the month as YYYY-MM, e.g. 2026-11.")
MSG_MONTH_FUTURE = pgettext_lazy(
    "governance report", "The month is not over yet: a report covers a whole month that has ended.")


def local_zone() -> ZoneInfo:
    """The office's time zone (Asia/Shanghai): months start at local midnight."""
    return ZoneInfo(settings.TIME_ZONE)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """[since, until) of ``month`` (its first day) in local time, timezone-aware."""
    zone = local_zone()
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return (datetime.combine(month, time(), tzinfo=zone),
            datetime.combine(following, time(), tzinfo=zone))


def month_last(*, now: datetime) -> date:
    """The month before the one ``now`` falls in (local time): what beat reports on the 1st."""
    today = now.astimezone(local_zone()).date()
    return date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)


def month_parse(*, text: str, now: datetime, field: str = "month") -> date:
    """The first day of the month ``text`` (``YYYY-MM``) names; InvalidInput naming ``field``
    if it is unparseable or has not ended by ``now`` (a report of a month still under way
    would change after it is made)."""
    found = MONTH_PATTERN.match((text or "").strip())
    if not found or not FIRST_YEAR <= int(found[1]) <= 9999 or not 1 <= int(found[2]) <= 12:
        raise InvalidInput.single(field, "invalid", MSG_MONTH_FORMAT)
    month = date(int(found[1]), int(found[2]), 1)
    if month > month_last(now=now):
        raise InvalidInput.single(field, "future", MSG_MONTH_FUTURE)
    return month
