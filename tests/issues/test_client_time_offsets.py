"""Client times with any offset Python reads are stored and queried, never a 500.

Found by fuzzing (tests/civicmap/test_fuzz_api.py): Python reads UTC offsets up to ±23:59 and
PostgreSQL takes up to ±15:59, so a capture time or an Open311 start_date/end_date such as
``2026-06-01T12:00:00+17:35`` passed every check and failed in the database. Both are now
handed to the database in UTC: the same instant, in an offset it stores.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client

from issues.models import Report
from tests.issues.helpers import post_report

pytestmark = pytest.mark.django_db

OFFSETS = {
    "2026-06-01T12:00:00+17:35": datetime(2026, 5, 31, 18, 25, tzinfo=UTC),
    "2026-06-01T12:00:00-18:32": datetime(2026, 6, 2, 6, 32, tzinfo=UTC),
    "2026-06-01T12:00:00+23:59": datetime(2026, 5, 31, 12, 1, tzinfo=UTC),
}


@pytest.mark.parametrize("sent", list(OFFSETS))
def test_a_capture_time_with_an_offset_past_postgresqls_is_stored_as_the_same_instant(
        rider, sent):
    answer = post_report(rider, captured_at=sent)
    assert answer.status_code == 201, answer.content
    stored = Report.objects.get(pk=answer.json()["id"]).captured_at
    assert stored == OFFSETS[sent]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_open311_date_with_an_offset_past_postgresqls_is_a_filter_like_any(
        reference_data, fmt):
    answer = Client().get(f"/open311/v2/requests.{fmt}", {
        "start_date": "2026-06-01T00:00:00+17:35", "end_date": "2026-06-20T00:00:00-18:32"})
    assert answer.status_code == 200, answer.content
