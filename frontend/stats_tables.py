"""The statistics page's tables, charts and CSV files, built from patrol.stats's rows in plain
functions (testable without HTTP). Each chart is drawn from the same rows as its table, and
each table is also a CSV file: UTF-8 with a byte order mark (Excel then reads the Chinese),
headers in the page's language (Chinese by default), numbers as numbers (rates in per cent,
times in hours, empty where there is nothing to divide). ``chart_build`` and ``table_csv`` serve
the union's visits page too (frontend/visits_tables.py)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from patrol.stats import StatsFilters, StatsRow, stats_by, stats_summary, stats_trend

COUNTS = ("reports", "cases", "closed", "overdue")
RATES = ("response_rate", "resolution_rate", "satisfaction_rate")
HOURS = ("median_response_hours", "median_resolution_hours")
COLUMNS = COUNTS + RATES + HOURS


def column_headers() -> dict[str, str]:
    """Each figure's header in the active language."""
    return {
        "reports": _("Reports"), "cases": _("Cases dispatched"),
        "closed": pgettext("statistics", "Closed"),
        "overdue": pgettext("statistics", "Overdue"), "response_rate": _("Response rate (%)"),
        "resolution_rate": _("Resolution rate (%)"),
        "satisfaction_rate": _("Satisfaction rate (%)"),
        "median_response_hours": _("Median time to respond (h)"),
        "median_resolution_hours": _("Median time to resolve (h)"),
    }


@dataclass(frozen=True)
class StatsTable:
    """One table of the page: ``name`` (its CSV's name), a title, the header of its first
    column, its rows and its charts (each a dict the page's script draws)."""

    name: str
    title: str
    label_header: str
    rows: list[StatsRow]
    charts: list[dict]

    def header(self) -> list[str]:
        """The first column's header, then each figure's, in the active language."""
        headers = column_headers()
        return [self.label_header, *(headers[c] for c in COLUMNS)]

    def body(self) -> list[tuple[str, list[str]]]:
        """Each row's label and its figures as the page shows them (COLUMNS' order)."""
        return [(row.label, [stats_cell(row, column) for column in COLUMNS])
                for row in self.rows]


def figure_value(row: StatsRow, column: str) -> float | int | None:
    """A figure as the tables and CSV show it: rates in per cent (two places)."""
    value = getattr(row, column)
    if column in RATES and value is not None:
        return round(value * 100, 2)
    return value


TABLES = ("trend", "subdistrict", "community", "handler", "category")


def stats_tables_build(*, filters: StatsFilters, by_subdistrict: bool) -> tuple[StatsRow,
                                                                               list[StatsTable]]:
    """The summary and every table of the page; ``by_subdistrict`` adds the subdistricts'
    comparison (the district role, several subdistricts in view)."""
    names = [name for name in TABLES if by_subdistrict or name != "subdistrict"]
    return (stats_summary(filters=filters),
            [stats_table_build(filters=filters, name=name) for name in names])


def stats_table_build(*, filters: StatsFilters, name: str) -> StatsTable:
    """One table (a name of TABLES) with its charts."""
    if name == "trend":
        weekly = filters.bucket == "week"
        rows = stats_trend(filters=filters)
        return StatsTable("trend", _("Trend"), _("Week from") if weekly else _("Month"), rows, [
            _chart("trend-counts", _("Counts by week") if weekly else _("Counts by month"),
                   rows, COUNTS, kind="line"),
            _chart("trend-rates", _("Rates by week") if weekly else _("Rates by month"),
                   rows, RATES, kind="line"),
        ])
    title, header = {
        "subdistrict": (_("By subdistrict"), _("Subdistrict")),
        "community": (_("By community"), _("Community")),
        "handler": (_("By handler"), _("Handled by")),
        "category": (_("By category"), _("Category")),
    }[name]
    rows = stats_by(filters=filters, dimension=name)
    return StatsTable(name, title, header, rows, [
        _chart(name, title, rows, ("cases", "closed", "overdue"), kind="bar",
               rates=("resolution_rate",), horizontal=name in ("category", "handler")),
    ])


def _chart(chart_id: str, title: str, rows: list[StatsRow], columns: tuple[str, ...], *,
           kind: str, rates: tuple[str, ...] = (), horizontal: bool = False) -> dict:
    """What the page's script (frontend/static/frontend/stats.js) draws: categories, series
    (counts on the first value axis, rates in per cent on the second)."""
    headers = column_headers()
    series = [{"name": headers[c], "type": kind, "axis": 1 if c in RATES else 0,
               "data": [figure_value(row, c) for row in rows]} for c in columns]
    # Rates beside bars are points: a line would join unrelated communities or categories.
    series += [{"name": headers[c], "type": "line" if kind == "line" else "scatter", "axis": 1,
                "data": [figure_value(row, c) for row in rows]} for c in rates]
    return chart_build(chart_id=chart_id, title=title, categories=[row.label for row in rows],
                       series=series, horizontal=horizontal)


def chart_build(*, chart_id: str, title: str, categories: list[str], series: list[dict],
                horizontal: bool = False, stacked: bool = False) -> dict:
    """One chart as stats.js draws it: ``series`` of ``{name, type (bar, line, scatter), axis
    (0: counts, 1: per cent), data}``; ``horizontal``: bars along the category axis drawn
    sideways (long names); ``stacked``: bars on top of each other (parts of one whole)."""
    return {"id": f"chart-{chart_id}", "title": title, "horizontal": horizontal,
            "stacked": stacked, "categories": categories, "series": series,
            "axes": [_("Count"), _("Per cent")]}


def stats_cell(row: StatsRow, column: str) -> str:
    """A figure as the page's tables show it: "—" where there is nothing to divide."""
    value = figure_value(row, column)
    if value is None:
        return "—"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def stats_table_csv(table: StatsTable) -> bytes:
    """The table as a CSV file, UTF-8 with a BOM; headers in the active language."""
    return table_csv(header=table.header(),
                     rows=[(row.label, [figure_value(row, c) for c in COLUMNS])
                           for row in table.rows])


def table_csv(*, header: list[str], rows: Iterable[tuple[str, Sequence[float | int | None]]]
              ) -> bytes:
    """A table as a CSV file, UTF-8 with a BOM (Excel then reads the Chinese): ``header``, then
    each row's label (as text) and its figures (numbers as numbers, None empty)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for label, figures in rows:
        writer.writerow([_csv_text(label), *("" if value is None else value
                                             for value in figures)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _csv_text(text: str) -> str:
    """A name as a CSV cell that a spreadsheet shows as text, never runs as a formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
