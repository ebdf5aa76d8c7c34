"""The paging parameters of every list, bounded once (civicmap.bounds).

An unbounded whole number reaches PostgreSQL as OFFSET: past 2**63 - 1 that is a database
error (a 500), so each list takes its ``page`` or ``offset`` from here and a value past the
bound is a 400 naming the parameter. Open311's ``page`` uses the same PAGE_MAX.
"""

from __future__ import annotations

from rest_framework import serializers

from civicmap.bounds import OFFSET_MAX, PAGE_MAX


def page_field() -> serializers.IntegerField:
    """``page``, from 1 (the first) to PAGE_MAX."""
    return serializers.IntegerField(required=False, min_value=1, max_value=PAGE_MAX, default=1)


def offset_field() -> serializers.IntegerField:
    """``offset``, rows to skip: from 0 to OFFSET_MAX."""
    return serializers.IntegerField(required=False, min_value=0, max_value=OFFSET_MAX,
                                    default=0)
