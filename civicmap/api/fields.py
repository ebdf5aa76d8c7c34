"""Input fields shared by the API's query serializers."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from civicmap.bounds import CLIENT_TIME_MIN, QUERY_TIME_MAX
from civicmap.selectors import subdistrict_get

MSG_QUERY_TIME_RANGE = _("Use a date and time from 2000-01-01 to 2099-12-31.")
MSG_UNKNOWN_SUBDISTRICT = _("Unknown subdistrict code.")


class QueryTimeField(serializers.DateTimeField):
    """A time a query filters by (``since``, ``until``, ``at``), from 2000-01-01 (in UTC+14) to
    the end of 2099: windows computed from it (``until`` − 90 days) stay inside Python's years
    1 to 9999, where year 1 would overflow."""

    default_error_messages = {"out_of_range": MSG_QUERY_TIME_RANGE}

    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        if not CLIENT_TIME_MIN <= moment < QUERY_TIME_MAX:
            self.fail("out_of_range")
        return moment


class SubdistrictField(serializers.CharField):
    """A ``subdistrict`` filter: the 9-digit code of a subdistrict served, read as the
    Subdistrict. Any other value is refused with 400 ``unknown``,
    naming the field, rather than answering an empty list for a typo."""

    default_error_messages = {"unknown": MSG_UNKNOWN_SUBDISTRICT}

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("help_text", "subdistrict code (9 digits), e.g. 110106005")
        super().__init__(max_length=None, **kwargs)

    def to_internal_value(self, data):
        subdistrict = subdistrict_get(code=super().to_internal_value(data))
        if subdistrict is None:
            self.fail("unknown")
        return subdistrict
