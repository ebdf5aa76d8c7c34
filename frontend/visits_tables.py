"""The union's visits page's tables, charts and CSV files, built from stations.selectors_visits
in plain functions (testable without HTTP). Each chart is drawn from the same rows as its
table (frontend/static/frontend/stats.js, as the statistics page), and each table is also a CSV
file (``frontend.stats_tables.table_csv``: UTF-8 with a BOM, numbers as numbers)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from frontend.stats_tables import chart_build, table_csv
from stations.selectors_visits import (
    VisitsWindow,
    redemptions_per_benefit,
    redemptions_per_station,
    visits_by_day,
    visits_by_hour,
    visits_by_week,
    visits_per_station,
    visits_totals,
)

TABLES = ("day", "week", "hour", "station", "benefit", "benefit-station")


@dataclass(frozen=True)
class VisitsTable:
    """One table of the page: ``name`` (its CSV's name), a title, its header (the first
    column's, then each figure's), its rows (a label and the figures) and its charts."""

    name: str
    title: str
    header: list[str]
    rows: list[tuple[str, list[int]]]
    charts: list[dict]

    def csv(self) -> bytes:
        return table_csv(header=self.header, rows=self.rows)


def visits_summary(*, user, window: VisitsWindow) -> list[tuple[str, int]]:
    """The period's totals as (name, figure): check-ins, members served, stations visited,
    benefits redeemed."""
    totals = visits_totals(user=user, window=window)
    uses = sum(row["uses"] for row in redemptions_per_benefit(user=user, window=window))
    return [(_("Check-ins"), totals["visits"]), (_("Members served"), totals["riders"]),
            (_("Stations visited"), totals["stations"]), (_("Benefits redeemed"), uses)]


def visits_tables_build(*, user, window: VisitsWindow) -> list[VisitsTable]:
    return [visits_table_build(user=user, window=window, name=name) for name in TABLES]


def _counts(name: str, title: str, label_header: str, rows: list[tuple[str, dict]], *,
            kind: str, horizontal: bool = False) -> VisitsTable:
    """A table of check-ins and members served per label, with its chart."""
    header = [_("Check-ins"), _("Members served")]
    labels = [label for label, _row in rows]
    return VisitsTable(name, title, [label_header, *header],
                       [(label, [row["visits"], row["riders"]]) for label, row in rows], [
        chart_build(chart_id=f"visits-{name}", title=title, categories=labels,
                    horizontal=horizontal,
                    series=[{"name": header[0], "type": kind, "axis": 0,
                             "data": [row["visits"] for _label, row in rows]},
                            {"name": header[1], "type": kind, "axis": 0,
                             "data": [row["riders"] for _label, row in rows]}]),
    ])


def visits_table_build(*, user, window: VisitsWindow, name: str) -> VisitsTable:
    """One table (a name of TABLES) with its chart."""
    if name == "day":
        return _counts(name, _("Check-ins by day"), _("Day"),
                       [(row["day"].isoformat(), row)
                        for row in visits_by_day(user=user, window=window)], kind="line")
    if name == "week":
        return _counts(name, _("Check-ins by week"), _("Week from"),
                       [(row["week"].isoformat(), row)
                        for row in visits_by_week(user=user, window=window)], kind="bar")
    if name == "hour":
        return _counts(name, _("Check-ins by hour of day"), _("Hour (Beijing time)"),
                       [(f"{row['hour']:02d}:00", row)
                        for row in visits_by_hour(user=user, window=window)], kind="bar")
    if name == "station":
        return _counts(name, _("Check-ins by station"), _("Station"),
                       [(row["name"], row)
                        for row in visits_per_station(user=user, window=window)],
                       kind="bar", horizontal=True)
    benefits = redemptions_per_benefit(user=user, window=window)
    several = len({row["subdistrict"] for row in benefits}) > 1
    names = {row["id"]: (f"{row['name']} ({row['subdistrict_name']})" if several
                         else row["name"]) for row in benefits}
    if name == "benefit":
        title = _("Benefits redeemed")
        header = [_("Uses"), _("Members who used it")]
        return VisitsTable(name, title, [_("Benefit"), *header],
                           [(names[row["id"]], [row["uses"], row["members"]])
                            for row in benefits], [
            chart_build(chart_id="visits-benefit", title=title, horizontal=True,
                        categories=[names[row["id"]] for row in benefits],
                        series=[{"name": header[0], "type": "bar", "axis": 0,
                                 "data": [row["uses"] for row in benefits]},
                                {"name": header[1], "type": "bar", "axis": 0,
                                 "data": [row["members"] for row in benefits]}]),
        ])
    if name == "benefit-station":
        return _benefit_station(user=user, window=window, names=names)
    raise ValueError(name)


def _benefit_station(*, user, window: VisitsWindow, names: dict[int, str]) -> VisitsTable:
    """Uses of each benefit at each station where one was used: a column per benefit and the
    total (the pivot of one aggregate's rows)."""
    title = _("Benefits redeemed by station")
    uses: dict[int, dict[int, int]] = {}
    stations: dict[int, str] = {}
    for row in redemptions_per_station(user=user, window=window):
        stations[row["station"]] = row["station_name"]
        uses.setdefault(row["station"], {})[row["benefit"]] = row["uses"]
    benefit_ids = list(names)
    rows = [(stations[station], [*(counts.get(b, 0) for b in benefit_ids), sum(counts.values())])
            for station, counts in uses.items()]
    return VisitsTable("benefit-station", title,
                       [_("Station"), *(names[b] for b in benefit_ids), _("Total")], rows, [
        chart_build(chart_id="visits-benefit-station", title=title, horizontal=True,
                    stacked=True, categories=[label for label, _figures in rows],
                    series=[{"name": names[b], "type": "bar", "axis": 0,
                             "data": [figures[i] for _label, figures in rows]}
                            for i, b in enumerate(benefit_ids)]),
    ])
