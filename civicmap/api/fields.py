"""Input fields shared by the API's query serializers."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from civicmap.bounds import CLIENT_TIME_MIN, QUERY_TIME_MAX
from civicmap.models import Subdistrict

MSG_QUERY_TIME_RANGE = _("Use a date and time from 2000-01-01 to 2099-12-31.")


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


MSG_SUBDISTRICT_UNKNOWN = _("Unknown subdistrict.")


class SubdistrictCodeField(serializers.CharField):
    """A loaded subdistrict's 9-digit code (``?subdistrict=``); anything else is a 400."""

    default_error_messages = {"unknown": MSG_SUBDISTRICT_UNKNOWN}

    def __init__(self, **kwargs) -> None:
        super().__init__(max_length=9, **kwargs)

    def to_internal_value(self, data) -> str:
        code = super().to_internal_value(data)
        if not Subdistrict.objects.filter(code=code).exists():
            self.fail("unknown")
        return code
