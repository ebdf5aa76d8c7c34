"""The report's contents as plain values: what the writers (``xlsx``, ``pdf``) take. No
queries here; ``figures`` fills them from the statistics selectors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from patrol.stats import StatsRow


@dataclass(frozen=True)
class Column:
    """One figure of a row: the StatsRow attribute, its heading, and how it is written."""

    attr: str
    heading: object  # a lazily translated string
    kind: str  # "count", "rate" (a fraction 0..1, shown as per cent) or "hours"


COLUMNS = (
    Column("reports", _("Reports"), "count"),
    Column("cases", _("Cases"), "count"),
    Column("closed", _("Closed"), "count"),
    Column("overdue", _("Overdue"), "count"),
    Column("response_rate", _("Response rate"), "rate"),
    Column("resolution_rate", _("Resolution rate"), "rate"),
    Column("satisfaction_rate", _("Satisfaction rate"), "rate"),
    Column("median_response_hours", _("Median hours to respond"), "hours"),
    Column("median_resolution_hours", _("Median hours to resolve"), "hours"),
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
