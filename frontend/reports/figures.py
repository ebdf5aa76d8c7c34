"""The figures of a governance report, read through patrol's statistics selectors
(``patrol.stats``): the same functions the dashboard at /office/stats/ calls, so a cell of the
report equals the number on the page for the same subdistrict and month (a test compares them).

Everything here is plain values; the writers (``xlsx``, ``pdf``) never query.
"""

from __future__ import annotations

from datetime import date

from civicmap.i18n import name_field
from civicmap.layers import community_grid_shapes
from civicmap.models import Subdistrict
from frontend.reports.months import month_bounds
from frontend.reports.rows import CommunityShape, ReportFigures, report_tables
from patrol.stats import StatsFilters, StatsRow, stats_by, stats_summary, stats_trend

TREND_BUCKET = "week"  # the trend's periods inside one month


def report_filters(*, subdistrict_id: int, month: date) -> StatsFilters:
    """The statistics filters of one subdistrict's month: what the dashboard builds for an
    office of that subdistrict choosing that month (``stats_filters_for``)."""
    since, until = (moment.date() for moment in month_bounds(month))  # local days
    return StatsFilters(subdistrict_ids=(subdistrict_id,), since=since, until=until,
                        bucket=TREND_BUCKET)


def _row_counts(rows: tuple[StatsRow, ...]) -> dict[str, int]:
    """Reports per community, by the row's key (the community's code)."""
    return {row.key: row.reports for row in rows}


def report_figures(*, subdistrict: Subdistrict, month: date) -> ReportFigures:
    """Read every figure of ``subdistrict``'s report for ``month`` (its first day), names in
    the active language."""
    filters = report_filters(subdistrict_id=subdistrict.pk, month=month)
    summary = stats_summary(filters=filters)
    by = {dimension: tuple(stats_by(filters=filters, dimension=dimension))
          for dimension in ("community", "handler", "category")}
    tables = report_tables(summary=summary, by=by, trend=tuple(stats_trend(filters=filters)))
    counts = _row_counts(by["community"])
    shapes = tuple(
        CommunityShape(code=shape.code, name=shape.name, geometry=shape.geometry,
                       reports=counts.get(shape.code, 0))
        for shape in community_grid_shapes(subdistrict_id=subdistrict.pk)
    )
    since, until = month_bounds(month)
    return ReportFigures(subdistrict_code=subdistrict.code,
                         subdistrict_name=getattr(subdistrict, name_field()), month=month,
                         since=since, until=until, summary=summary, tables=tables,
                         communities=shapes)
