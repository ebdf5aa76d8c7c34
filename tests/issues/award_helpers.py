"""The nominations of March 2026 that the award tests share: ledger rows written directly on
cases made through the intake (the selector reads the ledger, so its rules are tested without
running each case's lifecycle)."""

from __future__ import annotations

from datetime import date

import pytest

from issues.models import Case, PointsEntry, Rider
from tests.patrol.helpers import HEYI_XILI_1, cst, report

MARCH = date(2026, 3, 1)
IN_MARCH = cst(2026, 3, 20, 10)


def earn(username: str, case: Case, reason: str, points: int, at=IN_MARCH) -> PointsEntry:
    made = PointsEntry.objects.create(
        rider=Rider.objects.get(user__username=username), points=points, reason=reason,
        case=case, event_key=f"case:{case.pk}:verified")
    PointsEntry.objects.filter(pk=made.pk).update(created_at=at)
    return made


@pytest.fixture
def nominations(reference_data) -> dict[str, Case]:
    """In Nanyuan, March 2026: rider2 (43 points, 2 verified reports, 1 confirmation) and rider1
    (33, 2, 1) meet the rules; rider3 has one verified report (its other case was cancelled),
    rider4 29 points, rider5 a report flagged for its position. In Heyi, rider2 has 100 points
    on one case (not nominated there)."""
    cases = {f"c{n}": report("E0101", reporter=None, point=n, at=cst(2026, 3, 2, 9)).case
             for n in range(1, 10)}
    cases["heyi"] = report("E0101", reporter=None, community=HEYI_XILI_1,
                           at=cst(2026, 3, 2, 9)).case
    Case.objects.filter(pk__in=[case.pk for case in cases.values()]).update(stage="closed")
    Case.objects.filter(pk=cases["c8"].pk).update(stage="cancelled")
    for username, case, reason, points in [
        ("rider1", "c1", "first_reporter", 15), ("rider1", "c2", "first_reporter", 15),
        ("rider1", "c3", "confirmer", 3),
        ("rider2", "c3", "first_reporter", 20), ("rider2", "c4", "first_reporter_capped", 20),
        ("rider2", "c1", "confirmer", 3), ("rider2", "heyi", "first_reporter", 100),
        ("rider3", "c5", "first_reporter", 30), ("rider3", "c8", "first_reporter", 10),
        ("rider3", "c2", "confirmer", 3),
        ("rider4", "c6", "first_reporter", 13), ("rider4", "c7", "first_reporter", 13),
        ("rider4", "c5", "confirmer", 3),
        ("rider5", "c6", "confirmer", 3), ("rider5", "c7", "confirmer", 3),
        ("rider5", "c9", "first_reporter", 20), ("rider5", "c4", "first_reporter", 20),
    ]:
        earn(username, cases[case], reason, points)
    earn("rider4", cases["c9"], "confirmer", 3, at=cst(2026, 4, 1, 0, 10))  # April (Beijing)
    flagged = report("E0101", reporter="rider5", point=10, at=cst(2026, 3, 5, 9))
    type(flagged).objects.filter(pk=flagged.pk).update(location_flagged=True)
    return cases
