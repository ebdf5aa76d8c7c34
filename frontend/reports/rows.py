"""The report's contents as plain values: what the writers (``xlsx``, ``pdf``) take. No
queries here; ``figures`` fills them from the statistics selectors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from django.utils.translation import pgettext_lazy

if TYPE_CHECKING:
    from patrol.stats import StatsRow


@dataclass(frozen=True)
class Column:
    """One figure of a row: the StatsRow attribute, its heading, and how it is written."""

    attr: str
    heading: object  # a lazily translated string
    kind: str  # "count", "share" (a fraction 0..1, shown as per cent) or "hours"


COLUMNS = (
    Column("reports", pgettext_lazy("governance report", "Reports"), "count"),
    Column("cases", pgettext_lazy("governance report", "Cases dispatched"), "count"),
    Column("closed", pgettext_lazy("governance report", "Closed"), "count"),
    Column("overdue", pgettext_lazy("governance report", "Overdue"), "count"),
    Column("response_rate", pgettext_lazy("governance report", "Response rate"), "share"),
    Column("resolution_rate", pgettext_lazy("governance report", "Resolution rate"), "share"),
    Column("satisfaction_rate",
           pgettext_lazy("governance report", "Satisfaction rate"), "share"),
    Column("median_response_hours",
           pgettext_lazy("governance report", "Median hours to respond"), "hours"),
    Column("median_resolution_hours",
           pgettext_lazy("governance report", "Median hours to resolve"), "hours"),
)


@dataclass(frozen=True)
class ReportTable:
    """One table of the report (a sheet of the workbook, a table of the PDF)."""

    key: str  # "summary", "community", "handler", "category", "trend"
    title: object  # a lazily translated string
    label_heading: object  # the first column's heading
    rows: tuple[StatsRow, ...]


@dataclass(frozen=True)
class CommunityShape:
    """A community of the subdistrict for the map image: its polygon and its reports."""

    code: str
    name: str
    geometry: dict  # GeoJSON polygon, WGS 84
    reports: int


@dataclass(frozen=True)
class ReportFigures:
    subdistrict_code: str
    subdistrict_name: str
    month: date
    since: datetime
    until: datetime
    summary: StatsRow
    tables: tuple[ReportTable, ...]  # summary, community, handler, category, trend
    communities: tuple[CommunityShape, ...]

    def table(self, key: str) -> ReportTable:
        return next(table for table in self.tables if table.key == key)


def report_tables(*, summary: StatsRow, by: dict[str, tuple[StatsRow, ...]],
                  trend: tuple[StatsRow, ...]) -> tuple[ReportTable, ...]:
    """The report's tables in order, each with its title and first heading: the summary, by
    community, handler and category (``by``'s keys), and by week."""
    titles = {  # (the table's title, its first column's heading)
        "summary": (pgettext_lazy("governance report", "Summary"),
                   pgettext_lazy("governance report", "Subdistrict")),
        "community": (pgettext_lazy("governance report", "By community"),
                     pgettext_lazy("governance report", "Community")),
        "handler": (pgettext_lazy("governance report", "By handler"),
                   pgettext_lazy("governance report", "Handler")),
        "category": (pgettext_lazy("governance report", "By category"),
                    pgettext_lazy("governance report", "Category")),
        "trend": (pgettext_lazy("governance report", "By week"),
                 pgettext_lazy("governance report", "Week")),
    }
    rows = {"summary": (summary,), **by, "trend": trend}
    return tuple(ReportTable(key, *titles[key], tuple(rows[key])) for key in titles)
