"""The union's coverage map (/union/coverage/): the stations with their reach, the demand no
station reaches and the suggested next sites, handed to civicmap-coverage.js, which draws them
and runs the what-if (stations added by a click, moved by dragging, removed by a toggle; the
figures recomputed by the what-if endpoint). Plain values in, ``folium.Map`` out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import folium
from django.utils import translation
from django.utils.translation import gettext as _

from frontend.maps.assets import MAP_JS, map_assets_check
from frontend.maps.basemaps import Basemap, Projector, base_map
from frontend.maps.elements import MapCall, controls_text, number
from frontend.maps.layers import STATION_COLOUR, UNCOVERED_COLOUR
from stations.layers import UNCOVERED_CELL_M, UncoveredCell

COVERAGE_JS = [*MAP_JS, ("civicmap_coverage", "frontend/civicmap-coverage.js")]
ADDED_COLOUR = "#31a354"  # a station only imagined: green
PICK_COLOUR = "#7a0177"  # a suggested site


@dataclass(frozen=True)
class EditableStation:
    """An active station of the subdistrict, as the what-if may move or remove it."""

    id: int
    name: str
    lon: float  # WGS 84 degrees
    lat: float
    radius_m: int  # metres on the ground


def coverage_text() -> dict[str, str]:
    """The what-if's words, in the active language (civicmap-coverage.js shows them)."""
    return {
        "station": _("Station"), "added": _("New station %(n)s"),
        "remove": _("Remove"), "restore": _("Put back"),
        "moved": _("%(name)s moved"), "removedStation": _("%(name)s removed"),
        "noChanges": _("No changes: the figures are those of the saved stations."),
        "computing": _("Recomputing the figures…"),
        "computed": _("Figures recomputed for %(n)s changes. Nothing has been saved."),
        "failed": _("The figures could not be recomputed."),
        "reports": _("%(reports)s reports beyond every station"),
        "needs": _("of them riders' own needs: %(needs)s"),
        "pick": _("Suggested site %(rank)s"),
        "removeAdded": _("Take away"),
        "figure": _("%(covered)s of %(total)s (%(share)s)"),
        "cells": _("%(cells)s cells, %(reports)s reports"),
    }


def share_text(share: float | None) -> str:
    """A share (0–1, or None for nothing to share) as a percentage with two decimals."""
    return "—" if share is None else f"{share * 100:.2f} %"


def coverage_figures(summary: dict, cells: Sequence[UncoveredCell]) -> dict[str, str]:
    """The figures table's column for ``coverage_summary``'s answer and the uncovered cells,
    as civicmap-coverage.js writes the what-if's (the same words and rounding)."""
    text, whole, checkins = coverage_text(), summary["subdistrict"], summary["checkins"]

    def part(covered: int, total: int, share: float | None) -> str:
        return text["figure"] % {"covered": number(covered), "total": number(total),
                                 "share": share_text(share)}

    return {
        "reports": part(whole["reports_covered"], whole["reports"], whole["reports_share"]),
        "needs": part(whole["needs_covered"], whole["needs"], whole["needs_share"]),
        "checkins": part(checkins["checkins_covered"], checkins["checkins"],
                         checkins["checkins_share"]),
        "area": share_text(whole["area_share"]),
        "stations": number(whole["stations"]),
        "uncovered": text["cells"] % {"cells": number(len(cells)),
                                      "reports": number(sum(cell.reports for cell in cells))},
    }


def coverage_map_build(*, stations: Sequence[EditableStation], cells: Sequence[UncoveredCell],
                       picks: Sequence[dict], basemap: Basemap, what_if: dict,
                       language: str = "zh-hans") -> folium.Map:
    """The stations (draggable pins and their reach), the uncovered demand (dots growing with
    the reports) and the suggested sites, drawn on ``basemap`` (shifted to GCJ-02 when it is),
    with ``what_if`` (the endpoint's ``url``, ``days``, ``subdistrict``, ``radius_default_m``)
    for civicmap-coverage.js. Coordinates it sends back are in the basemap's system
    (``coord_system``), which the endpoint converts."""
    projector = Projector(basemap)

    def shown(lon: float, lat: float) -> list[float]:
        return [round(value, 6) for value in projector.latlon(lon, lat)]

    with translation.override(language):
        fmap = base_map(projector, basemap, COVERAGE_JS)
        folium.LayerControl(collapsed=True).add_to(fmap)
        MapCall("controlsLocalise", controls_text()).add_to(fmap)
        MapCall("scaleBar").add_to(fmap)
        MapCall("coverageWhatIf", {
            **what_if, "coord_system": "gcj02" if basemap.gcj02 else "wgs84",
            "stations": [{"id": s.id, "name": s.name, "latlng": shown(s.lon, s.lat),
                          "radius_m": s.radius_m} for s in stations],
            "cells": [{"latlng": shown(c.lon, c.lat), "reports": c.reports,
                       "needs": c.needs} for c in cells],
            "picks": [{"rank": p["rank"], "latlng": shown(p["lon"], p["lat"])}
                      for p in picks],
            "colours": {"station": STATION_COLOUR, "added": ADDED_COLOUR,
                        "uncovered": UNCOVERED_COLOUR, "pick": PICK_COLOUR},
            "text": coverage_text(),
        }).add_to(fmap)
        MapCall("legend", {"title": _("On the map"), "sections": [{"title": "", "items": [
            {"colour": "rgba(44, 127, 184, 0.15)", "border": STATION_COLOUR, "shape": "circle",
             "label": _("A station and its reach (drag to move)")},
            {"colour": "rgba(49, 163, 84, 0.15)", "border": ADDED_COLOUR, "shape": "circle",
             "label": _("A station added here (click the map)")},
            {"colour": UNCOVERED_COLOUR, "shape": "circle",
             "label": _("Reports beyond every station, per %(metres)s m cell")
             % {"metres": number(UNCOVERED_CELL_M)}},
            {"colour": PICK_COLOUR, "shape": "circle", "label": _("Suggested next site")},
        ]}]}).add_to(fmap)
    map_assets_check(fmap)
    return fmap
