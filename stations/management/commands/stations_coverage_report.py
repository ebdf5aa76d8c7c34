"""``manage.py stations_coverage_report``: coverage figures and suggested sites as Markdown,
and the coverage map as a PNG (what docs/STATIONS.md shows, regenerated from the database)."""

from __future__ import annotations

import warnings
from datetime import datetime
from pathlib import Path

from django.contrib.gis.geos import Point
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone, translation

from civicmap.models import CommunityGrid, Subdistrict, UnitGrid
from civicmap.spatial import METRIC_SRID, metric
from stations.mapimage import MapLayers, coverage_map_render
from stations.models import Station
from stations.selectors import (
    DEMAND_CELL_M,
    Period,
    coverage_pairs,
    coverage_summary,
    coverage_union_metric,
    demand_cells,
    grid_candidates,
    radius_expression,
    siting_suggest,
    subdistrict_default,
    uncovered_report_points,
)


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"Not an ISO 8601 time: {text!r}") from exc
    if timezone.is_naive(moment):
        raise CommandError(f"{text!r} needs a timezone offset, e.g. +08:00.")
    return moment


def _pct(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.2f} %"


class Command(BaseCommand):
    help = "Print station coverage and suggested sites as Markdown; draw the coverage map."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", required=True, help="ISO 8601 with offset")
        parser.add_argument("--until", required=True, help="ISO 8601 with offset (exclusive)")
        parser.add_argument("--k", type=int, default=5, help="sites to suggest (default 5)")
        parser.add_argument("--hotspots", type=int, default=10)
        parser.add_argument("--cell-m", type=int, default=DEMAND_CELL_M)
        parser.add_argument("--png", type=Path, default=None, help="write the map here")
        parser.add_argument("--exact", action="store_true",
                            help="also solve the siting exactly (PuLP with CBC, a dev extra)")

    def handle(self, *args, **options) -> None:
        period = Period(since=_moment(options["since"]), until=_moment(options["until"]))
        subdistrict = subdistrict_default()
        with translation.override("en"):
            summary = coverage_summary(period=period, subdistrict=subdistrict,
                                       hotspots=options["hotspots"])
            siting = siting_suggest(k=options["k"], period=period, subdistrict=subdistrict,
                                    cell_m=options["cell_m"])
        self.stdout.write(self._markdown(summary, siting))
        if options["exact"]:
            self.stdout.write(self._exact(subdistrict, period, siting, options["cell_m"]))
        if options["png"]:
            self._png(options["png"], subdistrict, period, summary, siting)
            self.stdout.write(f"\nMap written to {options['png']}")

    def _markdown(self, summary: dict, siting: dict) -> str:
        lines = [
            f"Period: {summary['period']['since']} to {summary['period']['until']}; "
            f"{summary['stations']} active stations; default radius "
            f"{summary['radius_default_m']} m; demand weights: riders' needs "
            f"{summary['weights']['need']:g}, other reports {summary['weights']['report']:g}.",
            "",
            "| Community | Code | Stations | Area km² | Area covered | Reports | Covered "
            "| Riders' needs | Covered |",
            "|---|---|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for row in [*summary["communities"], summary["subdistrict"]]:
            name = row["name_en"] if row is not summary["subdistrict"] else (
                f"**{row['name_en']} (all)**")
            lines.append(
                f"| {name} {row['name_zh']} | {row['code']} | {row['stations']} "
                f"| {row['area_m2'] / 1e6:.3f} | {_pct(row['area_share'])} "
                f"| {row['reports']:,} | {_pct(row['reports_share'])} "
                f"| {row['needs']:,} | {_pct(row['needs_share'])} |"
            )
        lines += ["", "Uncovered hotspots (unit grids with the most uncovered demand):", "",
                  "| Rank | Unit grid | Community | Lon, lat (WGS 84) | Uncovered reports "
                  "| of which riders' needs | Weight |", "|--:|---|---|---|--:|--:|--:|"]
        for hotspot in summary["hotspots"]:
            lines.append(
                f"| H{hotspot['rank']} | {hotspot['grid_id']} | {hotspot['community_name']} "
                f"| {hotspot['lon']:.5f}, {hotspot['lat']:.5f} | {hotspot['uncovered_reports']} "
                f"| {hotspot['uncovered_needs']} | {hotspot['weight']:g} |"
            )
        before = siting["before"]
        lines += [
            "", f"Suggested sites (k = {siting['k']}, radius {siting['radius_m']} m, "
            f"{siting['candidates']:,} unit-grid centres as candidates, "
            f"{siting['demand_cells']} demand cells of {siting['cell_m']} m holding "
            f"{siting['uncovered_weight']:g} uncovered weight; greedy gain evaluations: "
            f"{siting['greedy_evaluations']:,}). Before: reports covered "
            f"{_pct(before['reports_share'])}, riders' needs {_pct(before['needs_share'])}.",
            "",
            "| Pick | Unit grid | Community | Lon, lat (WGS 84) | Greedy gain | Added reports "
            "| of which needs | Reports covered after | Needs covered after |",
            "|--:|---|---|---|--:|--:|--:|--:|--:|",
        ]
        communities = dict(CommunityGrid.objects.values_list("code", "name_en"))
        for pick in siting["picks"]:
            lines.append(
                f"| {pick['rank']} | {pick['key']} | {communities.get(pick['community'], '')} "
                f"| {pick['lon']:.5f}, {pick['lat']:.5f} | {pick['gain_weight']:g} "
                f"| {pick['added_reports']} | {pick['added_needs']} "
                f"| {_pct(pick['reports_share_after'])} | {_pct(pick['needs_share_after'])} |"
            )
        return "\n".join(lines)

    def _exact(self, subdistrict: Subdistrict, period: Period, siting: dict, cell_m: int) -> str:
        """The same instance as an integer programme: max Σ w·y, y_d ≤ Σ x_c over the sites
        covering d, Σ x ≤ k; solved by CBC through PuLP (a dev dependency)."""
        import pulp  # a dev dependency, needed only for --exact: imported when asked for

        cells = demand_cells(subdistrict=subdistrict, period=period, cell_m=cell_m)
        weights = {
            index: (cell.reports - cell.needs) * siting["weights"]["report"]
            + cell.needs * siting["weights"]["need"]
            for index, cell in enumerate(cells)
        }
        pairs = coverage_pairs(candidates=grid_candidates(subdistrict=subdistrict), cells=cells,
                               radius_m=siting["radius_m"])
        problem = pulp.LpProblem("mclp", pulp.LpMaximize)
        x = {key: problem.add_variable(f"x_{n}", cat="Binary")
             for n, key in enumerate(sorted(key for key, covered in pairs.items() if covered))}
        y = {index: problem.add_variable(f"y_{index}", cat="Binary") for index in weights}
        problem += pulp.lpSum(weights[index] * y[index] for index in weights)
        covering: dict[int, list] = {index: [] for index in weights}
        for key, covered in pairs.items():
            for index in covered:
                covering[index].append(x[key])
        for index in weights:
            problem += y[index] <= pulp.lpSum(covering[index])
        problem += pulp.lpSum(x.values()) <= siting["k"]
        with warnings.catch_warnings():  # PuLP 3.3 deprecates the name of its bundled CBC
            warnings.simplefilter("ignore", DeprecationWarning)
            solver = pulp.PULP_CBC_CMD(msg=False)
        problem.solve(solver)
        optimum = pulp.value(problem.objective)
        chosen = sorted(key for key, variable in x.items() if variable.value() > 0.5)
        greedy = sum(pick["gain_weight"] for pick in siting["picks"])
        return (f"\n\nExact optimum (CBC): {optimum:g} with {', '.join(chosen)}; the greedy's "
                f"{greedy:g} is {greedy / optimum * 100:.1f} % of it "
                f"(guaranteed at least 63.2 %).")

    def _png(self, path: Path, subdistrict: Subdistrict, period: Period, summary: dict,
             siting: dict) -> None:
        whole = Subdistrict.objects.annotate(m=metric("boundary")).get(pk=subdistrict.pk).m
        communities = [
            (community.name_en.replace(" Community", ""), community.m)
            for community in CommunityGrid.objects.filter(subdistrict=subdistrict)
            .annotate(m=metric("boundary"))
        ]
        covered = coverage_union_metric()
        if covered is not None:
            covered = covered.intersection(whole)
        stations = [
            (station.m.x, station.m.y, station.radius)
            for station in Station.objects.filter(is_active=True)
            .annotate(m=metric("location"), radius=radius_expression())
        ]
        hotspot_rank = {h["grid_id"]: f"H{h['rank']}" for h in summary["hotspots"]}
        hotspots = [
            (hotspot_rank[grid.grid_id], grid.m)
            for grid in UnitGrid.objects.filter(grid_id__in=hotspot_rank)
            .annotate(m=metric("boundary"))
        ]
        sites = []
        for pick in siting["picks"]:
            point = Point(pick["lon"], pick["lat"], srid=4326)
            point.transform(METRIC_SRID)
            sites.append((str(pick["rank"]), point.x, point.y))
        demand = [(p.x, p.y) for p in uncovered_report_points(subdistrict=subdistrict,
                                                                period=period)]
        whole_row = summary["subdistrict"]
        coverage_map_render(
            layers=MapLayers(subdistrict=whole, communities=communities, covered=covered,
                             stations=stations, hotspots=hotspots, sites=sites, demand=demand),
            path=path,
            title=f"Nanyuan union stations: coverage and the next {len(sites)} sites "
                  "(approximate demo data)",
            notes=[
                f"Area covered: {_pct(whole_row['area_share'])} of "
                f"{whole_row['area_m2'] / 1e6:.2f} km²",
                f"Reports covered: {_pct(whole_row['reports_share'])} of "
                f"{whole_row['reports']:,}",
                f"Riders' needs covered: {_pct(whole_row['needs_share'])} of "
                f"{whole_row['needs']:,}",
                f"Period {period.since:%Y-%m-%d} to {period.until:%Y-%m-%d}; "
                f"radius {summary['radius_default_m']} m unless the station has its own",
            ],
        )
