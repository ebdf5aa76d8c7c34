"""The bulk path for histories (demo seed, imports): forms cases and aggregates as intake would.

Intake handles one report at a time in SQL; here a million reports are merged in Python, in
received order, with the same rule (issues.services.intake): a report joins the nearest open
case of its category or an equivalent one within the category's radius (metres in EPSG:4548)
whose last report is within the category's window; otherwise it opens a case. Metric coordinates
come from PostGIS, as in intake, so both paths see the same numbers. Rows go in with COPY.
"""

from __future__ import annotations

import io
import math
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction

from civicmap.models import WGS84
from issues.aggregates import aggregates_rebuild
from issues.models import Category
from issues.sql import (
    BULK_ASSIGNMENT_CREATE,
    BULK_CASES_GRIDS_SET,
    BULK_REPORTS_INSERT,
    BULK_STAGING_CREATE,
    BULK_STAGING_DROP,
    BULK_STAGING_METRIC_POINTS,
    CASE_ID_SEQUENCE,
    SEQUENCE_NEXT,
    SEQUENCE_SET,
)

BUCKET_M = 200  # metres: spatial hash cell; a search reaches ceil(radius / BUCKET_M) cells.


@dataclass(frozen=True)
class ReportDraft:
    """One report of a history, already in WGS 84 and inside the service area."""

    lon: float
    lat: float
    category_id: int
    received_at: datetime
    reporter_id: int | None
    description: str = ""
    client_uuid: uuid.UUID | None = None
    captured_at: datetime | None = None
    channel: str = "app"


@dataclass
class _OpenCase:
    number: int
    category_id: int
    created_at: datetime
    last_report_at: datetime
    sum_x: float = 0.0
    sum_y: float = 0.0
    sum_lon: float = 0.0
    sum_lat: float = 0.0
    reports: int = 0
    reporters: set = field(default_factory=set)
    anonymous: int = 0

    def add(self, x: float, y: float, draft: ReportDraft) -> None:
        self.sum_x += x
        self.sum_y += y
        self.sum_lon += draft.lon
        self.sum_lat += draft.lat
        self.reports += 1
        self.last_report_at = draft.received_at
        if draft.reporter_id is None:
            self.anonymous += 1
        else:
            self.reporters.add(draft.reporter_id)

    @property
    def centre(self) -> tuple[float, float]:
        return self.sum_x / self.reports, self.sum_y / self.reports


@dataclass(frozen=True)
class _Rule:
    candidates: frozenset[int]
    radius_m: float
    window: timedelta


def _rules() -> dict[int, _Rule]:
    rules = {}
    for category in Category.objects.prefetch_related("equivalents"):
        rules[category.pk] = _Rule(
            candidates=frozenset({category.pk, *(c.pk for c in category.equivalents.all())}),
            radius_m=category.merge_radius_m,
            window=timedelta(hours=category.merge_window_hours),
        )
    return rules


class _CaseIndex:
    """Open cases hashed by 200 m bucket and category, to find merge candidates quickly.

    Drafts come in received order, so a case whose last report is older than the longest
    merge window can never be joined again: it is dropped from its bucket when next seen,
    which keeps buckets short over a long history.
    """

    def __init__(self, longest_window: timedelta) -> None:
        self.buckets: dict[tuple[int, int, int], list[_OpenCase]] = defaultdict(list)
        self.cases: list[_OpenCase] = []
        self.longest_window = longest_window

    def _alive(self, key: tuple[int, int, int], horizon: datetime) -> list[_OpenCase]:
        bucket = self.buckets.get(key)
        if not bucket:
            return []
        alive = [case for case in bucket if case.last_report_at >= horizon]
        if len(alive) != len(bucket):
            self.buckets[key] = alive
        return alive

    def nearest(self, x: float, y: float, draft: ReportDraft, rule: _Rule) -> _OpenCase | None:
        best, best_distance = None, math.inf
        bx, by = int(x // BUCKET_M), int(y // BUCKET_M)
        reach = math.ceil(rule.radius_m / BUCKET_M)
        since = draft.received_at - rule.window
        horizon = draft.received_at - self.longest_window
        for category_id in rule.candidates:
            for dx in range(-reach, reach + 1):
                for dy in range(-reach, reach + 1):
                    for case in self._alive((category_id, bx + dx, by + dy), horizon):
                        if case.last_report_at < since:
                            continue
                        cx, cy = case.centre
                        distance = math.hypot(cx - x, cy - y)
                        if distance <= rule.radius_m and (
                            distance < best_distance
                            or (distance == best_distance and case.number < best.number)
                        ):
                            best, best_distance = case, distance
        return best

    def open(self, draft: ReportDraft) -> _OpenCase:
        case = _OpenCase(len(self.cases), draft.category_id, draft.received_at, draft.received_at)
        self.cases.append(case)
        return case

    def add(self, case: _OpenCase, x: float, y: float, draft: ReportDraft) -> None:
        """Add a report to the case and keep the case in the bucket of its moving centre,
        so a search around a point always reaches every centre within the radius."""
        old_key = self._key(case) if case.reports else None
        case.add(x, y, draft)
        new_key = self._key(case)
        if new_key != old_key:
            if old_key is not None and case in self.buckets.get(old_key, ()):
                self.buckets[old_key].remove(case)
            self.buckets[new_key].append(case)

    @staticmethod
    def _key(case: _OpenCase) -> tuple[int, int, int]:
        cx, cy = case.centre
        return case.category_id, int(cx // BUCKET_M), int(cy // BUCKET_M)


@dataclass(frozen=True)
class BulkResult:
    reports: int
    cases: int


def rows_copy(cursor, table: str, columns: list[str], rows: Iterable[tuple]) -> None:
    """COPY rows into a table: tab-separated text, \\N for NULL."""
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_copy_value(value) for value in row))
        buffer.write("\n")
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


def _copy_value(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _staging_load(cursor, drafts: list[ReportDraft]) -> list[tuple[float, float]]:
    """Put the drafts in a temporary table and get their EPSG:4548 coordinates from PostGIS."""
    cursor.execute(BULK_STAGING_DROP)
    cursor.execute(BULK_STAGING_CREATE)
    rows_copy(
        cursor, "report_staging",
        ["seq", "lon", "lat", "category_id", "received_at", "reporter_id", "description",
         "client_uuid", "captured_at", "channel"],
        (
            (seq, d.lon, d.lat, d.category_id, d.received_at, d.reporter_id, d.description,
             d.client_uuid, d.captured_at, d.channel)
            for seq, d in enumerate(drafts)
        ),
    )
    cursor.execute(BULK_STAGING_METRIC_POINTS)
    return cursor.fetchall()


def reports_bulk_load(
    *, drafts: Iterable[ReportDraft], progress: Callable[[int], None] | None = None
) -> BulkResult:
    """Insert a history of reports with its cases and aggregates, in one transaction.

    Drafts are processed in received order. Returns how many reports and cases were written.
    """
    ordered = sorted(drafts, key=lambda d: d.received_at)
    rules = _rules()
    with transaction.atomic(), connection.cursor() as cursor:
        metric_points = _staging_load(cursor, ordered)
        index = _CaseIndex(max((rule.window for rule in rules.values()), default=timedelta(0)))
        assignments = []
        for seq, (draft, (x, y)) in enumerate(zip(ordered, metric_points, strict=True)):
            case = index.nearest(x, y, draft, rules[draft.category_id])
            joined = case is not None
            case = case or index.open(draft)
            index.add(case, x, y, draft)
            assignments.append((seq, case.number, joined))
            if progress and seq % 10_000 == 0:
                progress(seq)
        first_id = _case_ids_reserve(cursor, len(index.cases))
        _cases_insert(cursor, index.cases, first_id)
        _reports_insert(cursor, assignments, first_id)
        _cases_finish(cursor, first_id, len(index.cases))
        aggregates_rebuild()
    return BulkResult(reports=len(ordered), cases=len(index.cases))


def _case_ids_reserve(cursor, count: int) -> int:
    """Reserve ``count`` consecutive case ids from the sequence; returns the first."""
    if count == 0:
        return 0
    cursor.execute(CASE_ID_SEQUENCE)
    sequence = cursor.fetchone()[0]
    cursor.execute(SEQUENCE_NEXT, [sequence])
    first = cursor.fetchone()[0]
    cursor.execute(SEQUENCE_SET, [sequence, first + count - 1])
    return first


def _cases_insert(cursor, cases: list[_OpenCase], first_id: int) -> None:
    # The location is written as the mean of its reports' lon/lat, the intake's ST_Centroid.
    rows_copy(
        cursor, "issues_case",
        ["id", "category_id", "stage", "location", "report_count", "reporter_count",
         "created_at", "last_report_at", "updated_at", "cancel_reason"],
        (
            (first_id + case.number, case.category_id, "new",
             f"SRID={WGS84};POINT({case.sum_lon / case.reports!r} {case.sum_lat / case.reports!r})",
             case.reports, len(case.reporters) + case.anonymous, case.created_at,
             case.last_report_at, case.last_report_at, "")
            for case in cases
        ),
    )


def _reports_insert(cursor, assignments: list[tuple[int, int, bool]], first_id: int) -> None:
    cursor.execute(BULK_ASSIGNMENT_CREATE)
    rows_copy(cursor, "report_assignment", ["seq", "case_id", "joined"],
          ((seq, first_id + number, joined) for seq, number, joined in assignments))
    cursor.execute(BULK_REPORTS_INSERT)


def _cases_finish(cursor, first_id: int, count: int) -> None:
    """Give each new case the grids of its first report (as intake does)."""
    cursor.execute(BULK_CASES_GRIDS_SET, [first_id, first_id + count - 1])
