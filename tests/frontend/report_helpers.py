"""Test data for the governance report: the demo (``seed_demo``'s defaults, 2,000 reports over
90 days with their lifecycles) ending just after last month, and readers of the files."""

from __future__ import annotations

import io
import re
from datetime import date, datetime, timedelta

from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from frontend.reports.months import local_zone, month_bounds, month_last
from frontend.reports.rows import CommunityShape, ReportFigures
from patrol.stats import StatsRow

NANYUAN = "110106005"
HEYI = "110106016"
DEMO_REPORTS = 2000  # seed_demo's default (fixtures/management/commands/seed_demo.py)


def report_month() -> date:
    """Last month by the real clock: the month a report may be made of today."""
    return month_last(now=timezone.now())


def demo_seed(*, month: date, reports: int = DEMO_REPORTS) -> None:
    """The demo with its history ending on the 1st after ``month``, 10:00 local time."""
    now = month_bounds(month)[1].astimezone(local_zone()) + timedelta(hours=10)
    call_command("seed_demo", seed=2026, now=now.isoformat(), reports=reports,
                 no_progress=True, stdout=io.StringIO())
    # The statistics' cache is keyed by the facts' version, which a recount bumps after its
    # commit: inside a test's transaction that never comes, so forget what earlier tests cached.
    cache.clear()


def pdf_pages(data: bytes) -> int:
    """Pages of a PDF by its page objects (``/Type /Page``, not ``/Pages``): reportlab writes
    them uncompressed."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))


def month_text(month: date) -> str:
    return f"{month:%Y-%m}"


def aware(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _square(lon: float, lat: float) -> dict:
    """A GeoJSON square about 850 m wide at Nanyuan's latitude."""
    return {"type": "Polygon", "coordinates": [[[lon, lat], [lon + 0.01, lat],
                                                [lon + 0.01, lat + 0.01], [lon, lat + 0.01],
                                                [lon, lat]]]}


def figures_fake() -> ReportFigures:
    """Eight communities in two rows of squares, community i with 10 × i reports; the first
    row's satisfaction rate and response median unknown (None). Headings in Chinese when the
    caller activates it."""
    from frontend.reports.rows import report_tables

    rows = tuple(StatsRow(str(i), f"社区{i}号", 10 * i, 8 * i, 5 * i, i, 0.9, 0.8, None, None,
                         30.25) for i in range(1, 9))
    since, until = month_bounds(date(2026, 11, 1))
    return ReportFigures(
        subdistrict_code=NANYUAN, subdistrict_name="南苑街道", month=date(2026, 11, 1),
        since=since, until=until, summary=rows[0],
        tables=report_tables(summary=rows[0], by={"community": rows, "handler": rows,
                                                  "category": rows}, trend=rows[:5]),
        communities=tuple(CommunityShape(str(i), f"社区{i}", _square(116.38 + 0.01 * (i % 4),
                                                                    39.78 + 0.01 * (i // 4)),
                                         10 * i) for i in range(8)))
