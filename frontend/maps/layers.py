"""The governance map: heat, community choropleth, unit grids, hotspots, stations and the
demand no station reaches, drawn with folium from the apps' layers (plain values in,
``folium.Map`` out: no request, no database).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import folium
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from folium.plugins import HeatMap, HeatMapWithTime
from folium.utilities import JsCode

from civicmap.layers import UnitGridShape
from frontend.maps.assets import (
    HEATMAP_JS,
    HEATMAP_WITH_TIME_CSS,
    HEATMAP_WITH_TIME_JS,
    MAP_JS,
    map_assets_check,
    use_static,
)
from frontend.maps.basemaps import Basemap, Projector, base_map, point
from frontend.maps.elements import (
    MapCall,
    controls_text,
    details,
    feature_collection,
    js_value,
    layer_label,
    number,
)
from frontend.selectors import CommunityStats, MapLayers, UnitGridStats
from issues.layers import HeatCell, HeatFrame, Hotspot
from stations.layers import PUBLIC_MIN_REPORTS, StationPin, UncoveredCell

# --- colours --------------------------------------------------------------------------------

DENSITY_COLOURS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")  # YlOrRd, 5 classes
NO_DATA_COLOUR = "#d9d9d9"
HOTSPOT_COLOUR = "#7a0177"
UNCOVERED_COLOUR = "#e6550d"
STATION_COLOUR = "#2c7fb8"
UNIT_GRID_COLOUR = "#636363"


def density_breaks(values: Sequence[float], classes: int = len(DENSITY_COLOURS)) -> list[float]:
    """Upper bounds of equal-count classes (quantiles) of the positive values, rounded up."""
    positive = sorted(value for value in values if value > 0)
    if not positive:
        return []
    breaks = []
    for k in range(1, classes + 1):
        value = positive[min(len(positive) - 1, round(k * len(positive) / classes) - 1)]
        value = float(int(value) + 1) if value >= 10 else round(value + 0.05, 1)
        if not breaks or value > breaks[-1]:
            breaks.append(value)
    return breaks


def density_colour(value: float, breaks: Sequence[float]) -> str:
    if value <= 0 or not breaks:
        return NO_DATA_COLOUR
    for index, upper in enumerate(breaks):
        if value <= upper:
            return DENSITY_COLOURS[index]
    return DENSITY_COLOURS[len(breaks) - 1]


def _heat_points(projector: Projector, cells: Sequence[HeatCell],
                 peak: float) -> list[list[float]]:
    """[lat, lon, weight] per cell, weight in (0, 1]: counts at or above ``peak`` saturate."""
    points = []
    for cell in cells:
        lat, lon = projector.latlon(cell.lon, cell.lat)
        points.append([round(lat, 6), round(lon, 6), round(min(1.0, cell.count / peak), 3)])
    return points


def _peak(counts: list[int]) -> float:
    """The 95th percentile of the counts: a few extreme cells should not wash out the rest."""
    if not counts:
        return 1.0
    ordered = sorted(counts)
    return float(max(1, ordered[int(0.95 * (len(ordered) - 1))]))


COMMUNITY_STYLE = {"fillOpacity": 0.55, "color": "#444444", "weight": 1.5}
UNIT_GRID_STYLE = {"color": UNIT_GRID_COLOUR, "weight": 0.8, "fillOpacity": 0.0,
                   "dashArray": "3 3"}


def community_features(projector: Projector, grids: Sequence[CommunityStats],
                       open_cases: bool = True) -> tuple[list[dict], list[float]]:
    """The choropleth's features (each with its class colour) and its class breaks;
    ``cases_label`` names what ``open_cases`` counts for the stage filter (``case_column``),
    so that a popup says so after the page redraws for another stage."""
    breaks = density_breaks([grid.reports_per_km2 for grid in grids])
    return [
        {
            "type": "Feature", "id": grid.code,
            "geometry": projector.geometry(grid.geometry),
            "properties": {
                "name": grid.name, "code": grid.code,
                "reports": number(grid.reports), "open_cases": number(grid.open_cases),
                "cases_label": case_column(open_cases),
                "overdue_cases": number(grid.overdue_cases),
                "per_km2": number(grid.reports_per_km2, 1),
                "area_km2": number(grid.area_km2, 2),
                "colour": density_colour(grid.reports_per_km2, breaks),
            },
        }
        for grid in grids
    ], breaks


def _community_layer(fmap: folium.Map, projector: Projector, grids: Sequence[CommunityStats],
                     open_cases: bool = True) -> tuple[str, list[float]]:
    features, breaks = community_features(projector, grids, open_cases)
    layer = folium.GeoJson(
        feature_collection(features), name=layer_label(_("Community grids: reports per km²")),
        style_function=lambda feature: {
            "fillColor": feature["properties"]["colour"], **COMMUNITY_STYLE,
        },
        highlight_function=lambda feature: {"weight": 3, "fillOpacity": 0.7},
        on_each_feature=details({
            "tooltip": True, "title": "name",
            # The case row's label is the feature's own (cases_label): the stage's.
            "rows": [[_("Reports"), "reports"],
                     [case_column(open_cases), "open_cases", "cases_label"],
                     [_("Overdue cases"), "overdue_cases"], [_("Reports per km²"), "per_km2"],
                     [_("Area (km²)"), "area_km2"], [_("Code"), "code"]],
        }),
        class_name="civicmap-community",
    )
    layer.add_to(fmap)
    return layer.get_name(), breaks


def unit_grid_features(projector: Projector, units: Sequence[UnitGridStats]) -> list[dict]:
    """About 1,300 polygons: properties kept short (the community shows in the choropleth)."""
    return [
        {
            "type": "Feature", "geometry": projector.geometry(unit.geometry),
            "properties": {"grid_id": unit.grid_id, "reports": unit.reports},
        }
        for unit in units
    ]


def unit_grid_shape_features(projector: Projector, shapes: Sequence[UnitGridShape]) -> list[dict]:
    """Every unit grid's polygon by its grid id (the feature's ``id``), without counts: what
    civicmap-map.js joins with the counts of ``governance_map_data``."""
    return [{"type": "Feature", "id": shape.grid_id, "geometry": projector.geometry(shape.geometry),
             "properties": {"grid_id": shape.grid_id}}
            for shape in shapes]


def _unit_grid_layer(fmap: folium.Map, projector: Projector, units: Sequence[UnitGridStats],
                     min_zoom: int, shapes_url: str = "") -> str:
    """Off at first (1,300 dashed outlines hide the choropleth); shown only from ``min_zoom``.

    With ``shapes_url`` (``unit_grid_shape_features`` as JSON) the page carries the counts by
    grid id only, and civicmap-map.js fetches the shapes the first time the layer is switched
    on (``unitGridsOnDemand``): the polygons, a good half of the page, are the same for every
    filter and hidden when the page opens."""
    # Above the community polygons (overlayPane, 400), so that their details show on hover.
    folium.map.CustomPane("unitgrids", z_index=420, pointer_events=True).add_to(fmap)
    layer = folium.GeoJson(
        feature_collection([] if shapes_url else unit_grid_features(projector, units)),
        name=layer_label(_("Unit grids (zoom in)")), show=False,
        style_function=lambda feature: UNIT_GRID_STYLE,
        on_each_feature=details({
            "tooltip": True, "title": "grid_id",
            "rows": [[_("Reports"), "reports"]],
        }),
        pane="unitgrids", class_name="civicmap-unitgrid",
    )
    layer.add_to(fmap)
    MapCall("paneMinZoom", "unitgrids", min_zoom).add_to(fmap)
    if shapes_url:
        MapCall("unitGridsOnDemand", {
            "layer": layer.get_name(), "url": shapes_url, "style": UNIT_GRID_STYLE,
            "counts": {unit.grid_id: unit.reports for unit in units},
        }).add_to(fmap)
    return layer.get_name()


def hotspot_features(projector: Projector, hotspots: Sequence[Hotspot],
                     open_cases: bool = True) -> list[dict]:
    """A point per hotspot, its radius in metres and its details as properties; the title
    says which cases it counts (``open_cases``: as governance_map_data)."""
    title = (_("Hotspot: %(count)s open cases") if open_cases
             else _("Hotspot: %(count)s closed cases"))
    return [
        {
            "type": "Feature",
            "geometry": point(projector, spot.lon, spot.lat),
            "properties": {
                "title": title % {"count": number(spot.case_count)},
                "community": spot.community,
                # Metres on the ground; at least 30 m so that a tight cluster stays visible.
                "radius_m": round(max(spot.radius_m, 30.0), 1),
                "categories": [f"{name} ({number(count)})" for name, count in spot.categories],
                "latest": [f"{case.category}: {case.description}" for case in spot.latest],
            },
        }
        for spot in hotspots
    ]


def _hotspot_layer(fmap: folium.Map, projector: Projector,
                   hotspots: Sequence[Hotspot], open_cases: bool = True) -> str:
    """Off at first: the clusters are a closer look, drawn over the heat they come from."""
    features = hotspot_features(projector, hotspots, open_cases)
    # Above the unit grids' pane, so that a hotspot can be clicked at any zoom.
    folium.map.CustomPane("hotspots", z_index=430, pointer_events=True).add_to(fmap)
    layer = folium.GeoJson(
        feature_collection(features), name=layer_label(_("Hotspots of open cases")), show=False,
        point_to_layer=JsCode("civicmap.metreCircle(" + js_value({
            "color": HOTSPOT_COLOUR, "weight": 2, "fillColor": HOTSPOT_COLOUR,
            "fillOpacity": 0.25, "className": "civicmap-hotspot", "pane": "hotspots",
        }) + ")"),
        on_each_feature=details({
            "popup": True, "tooltip": True, "title": "title",
            "rows": [[_("Community"), "community"], [_("Commonest categories"), "categories"],
                     [_("Latest cases"), "latest"]],
        }),
    )
    layer.add_to(fmap)
    return layer.get_name()


def station_features(projector: Projector, stations: Sequence[StationPin]
                     ) -> tuple[list[dict], list[dict]]:
    """The stations' pins with their details, and their coverage circles (metres)."""
    pins = [
        {
            "type": "Feature", "geometry": point(projector, station.lon, station.lat),
            "properties": {
                "name": station.name, "address": station.address, "venue": station.venue,
                "services": station.services, "hours": station.hours,
                "radius": _("%(metres)s m") % {"metres": number(station.radius_m)},
                "open_now": _("Open now") if station.open_now else _("Closed now"),
                "status_class": "civicmap-open" if station.open_now else "",
            },
        }
        for station in stations
    ]
    coverage = [
        {"type": "Feature", "geometry": point(projector, station.lon, station.lat),
         "properties": {"radius_m": station.radius_m}}
        for station in stations
    ]
    return pins, coverage


def station_layers(fmap: folium.Map, projector: Projector,
                   stations: Sequence[StationPin]) -> tuple[str, str]:
    """Two overlays: the stations' pins (on at first: where a rider can rest) and their
    coverage circles (off at first: 30 overlapping discs tint the whole choropleth)."""
    pins, coverage = station_features(projector, stations)
    markers = folium.GeoJson(
        feature_collection(pins), name=layer_label(_("Union stations")),
        marker=folium.Marker(icon=folium.Icon(color="blue", icon="mug-hot", prefix="fa")),
        on_each_feature=details({
            "popup": True, "title": "name", "label": "name",
            "badge": {"key": "open_now", "classKey": "status_class"},
            "rows": [[_("Venue"), "venue"],
                     [_("Address"), "address"], [_("Services"), "services"],
                     [_("Opening hours"), "hours"], [_("Coverage radius"), "radius"]],
        }),
    )
    markers.add_to(fmap)
    circles = folium.GeoJson(
        feature_collection(coverage), name=layer_label(_("Union station coverage")),
        show=False,
        point_to_layer=JsCode("civicmap.metreCircle(" + js_value({
            "color": STATION_COLOUR, "weight": 1, "fillColor": STATION_COLOUR,
            "fillOpacity": 0.08, "interactive": False, "className": "civicmap-coverage",
        }) + ")"),
    )
    circles.add_to(fmap)
    return markers.get_name(), circles.get_name()


def uncovered_features(cells: Sequence[UncoveredCell], *, basemap: Basemap) -> dict:
    """The uncovered-demand layer's data, as the map fetches it when the layer is switched on:
    a FeatureCollection of the cells drawn on ``basemap``, counts formatted in the active
    language (the riders' needs among them where the cells tell them: the office's)."""
    projector = Projector(basemap)
    return feature_collection([
        {"type": "Feature", "geometry": point(projector, cell.lon, cell.lat),
         "properties": {"count": cell.reports, "reports": number(cell.reports),
                        **({} if cell.needs is None else {"needs": number(cell.needs)})}}
        for cell in cells
    ])


def _uncovered_layer(fmap: folium.Map, url: str, *, public: bool) -> str:
    """Hidden by default and empty: civicmap-map.js fetches ``url`` (``uncovered_features``)
    the first time it is switched on. Counting the reports beyond every station takes seconds
    with 1,000,000 reports stored; the page should not wait for a layer nobody has asked for.
    ``public``: the cells of at least ``PUBLIC_MIN_REPORTS`` reports, counts rounded down."""
    rows = ([[_("Reports beyond every station (rounded down)"), "reports"]] if public
            else [[_("Reports beyond every station"), "reports"],
                  [_("Of them, riders' own needs"), "needs"]])
    layer = folium.GeoJson(
        feature_collection([]),
        name=layer_label(_("Uncovered demand: reports beyond every station")), show=False,
        point_to_layer=JsCode("civicmap.scaledDot(" + js_value({
            "color": UNCOVERED_COLOUR, "weight": 1, "fillColor": UNCOVERED_COLOUR,
            "fillOpacity": 0.6, "className": "civicmap-uncovered",
        }) + ")"),
        on_each_feature=details({"tooltip": True, "rows": rows}),
    )
    layer.add_to(fmap)
    MapCall("onDemand", {"kind": "uncovered", "layer": layer.get_name(), "url": url}
             ).add_to(fmap)
    return layer.get_name()


def hourly_heat_data(frames: Sequence[HeatFrame], *, basemap: Basemap) -> dict:
    """The hourly heatmap's data, as the map fetches it when the layer is switched on: a label
    and [lat, lon, weight] points per hour, drawn on ``basemap``; weights relative to the
    period's peak (as ``_heat_points``)."""
    projector = Projector(basemap)
    peak = _peak([cell.count for frame in frames for cell in frame.cells])
    return {"labels": [_hour_label(frame.hour) for frame in frames],
            "frames": [_heat_points(projector, frame.cells, peak) for frame in frames]}


def _hourly_heat_layer(fmap: folium.Map, hours: Sequence[datetime], url: str) -> str:
    """Hidden by default, one empty frame per hour: civicmap-map.js fetches ``url``
    (``hourly_heat_data``) the first time it is switched on. A week of hourly frames weighed
    1 MB of the page with 1,000,000 reports stored."""
    by_hour = HeatMapWithTime(
        [[] for _hour in hours], index=[_hour_label(hour) for hour in hours],
        name=layer_label(_("Reports by hour, last 7 days")), radius=18, show=False,
        auto_play=False, max_opacity=0.7,
    )
    use_static(by_hour, HEATMAP_WITH_TIME_JS, HEATMAP_WITH_TIME_CSS)
    by_hour.add_to(fmap)
    # Its time control shows only while the layer is on, in the page's language.
    MapCall("onDemand", {"kind": "hourly", "layer": by_hour.get_name(),
                          "control": by_hour._control_name, "url": url,
                          "text": time_control_text()}).add_to(fmap)
    return by_hour.get_name()


def time_control_text() -> dict[str, str]:
    """The TimeDimension control's words (the plugin's are English: "Play", "1fps")."""
    return {
        "backward": _("Previous hour"), "forward": _("Next hour"), "play": _("Play"),
        "playReverse": _("Play backwards"), "loop": _("Loop"),
        "date": _("Hour shown"), "speed": _("%(fps)s frames a second"),
        "noTime": _("No hour to show"),
    }


def _hour_label(hour: datetime) -> str:
    return timezone.localtime(hour).strftime("%m-%d %H:00")


@dataclass(frozen=True)
class _Drawn:
    """The JavaScript names of the layers a governance map drew ("" for one it did not)."""

    community: str
    heat: str
    unit_grids: str = ""
    hourly: str = ""
    hotspots: str = ""
    stations: str = ""
    coverage: str = ""
    uncovered: str = ""


# Leaflet.heat's default gradient and heatmap.js's (the hourly layer's), low to high.
HEAT_GRADIENT = ("#0000ff", "#00ffff", "#00ff00", "#ffff00", "#ff0000")
HOURLY_GRADIENT = ("#0000ff", "#00ff00", "#ffff00", "#ff0000")


def _density_items(breaks: Sequence[float]) -> list[dict]:
    items = []
    lower = 0.0
    decimals = 0 if breaks and breaks[0] >= 10 else 1
    for colour, upper in zip(DENSITY_COLOURS, breaks, strict=False):
        items.append({"colour": colour, "label": f"{number(lower, decimals)} – "
                                                 f"{number(upper, decimals)}"})
        lower = upper
    items.append({"colour": NO_DATA_COLOUR, "label": _("No reports")})
    return items


def _heat_items(peak: float) -> list[dict]:
    return [{"gradient": list(HEAT_GRADIENT), "shape": "gradient",
             "label": _("few → %(count)s or more reports a 100 m cell")
             % {"count": number(peak)}}]


def _hotspots_empty(open_cases: bool = True) -> str:
    if not open_cases:
        return _("Hotspots are drawn for open cases only.")
    return _("No hotspots in this period: nowhere are %(cases)s or more open cases within "
             "%(metres)s m of each other.") % {"cases": number(settings.MAP_HOTSPOT_MIN_CASES),
                                              "metres": number(settings.MAP_HOTSPOT_EPS_M)}


def _legend(drawn: _Drawn, *, breaks: Sequence[float], heat_peak: float, has_heat: bool,
            has_hotspots: bool, has_stations: bool, uncovered_public: bool = False,
            open_cases: bool = True) -> dict:
    """One section per layer drawn, named by the layer's JavaScript variable: civicmap-map.js
    shows a section only while its layer is on, and ``empty`` in place of the symbols when the
    layer has nothing to draw (``emptyText``: said by the on-demand layers once fetched)."""
    sections = [
        {"layer": drawn.community, "title": _("Reports per km² (community grids)"),
         "items": _density_items(breaks)},
        {"layer": drawn.heat, "title": _("Reports heatmap"),
         "items": _heat_items(heat_peak),
         "empty": "" if has_heat else _("No reports in this period.")},
        {"layer": drawn.unit_grids, "title": _("Unit grids"),
         "items": [{"colour": "transparent", "border": UNIT_GRID_COLOUR, "shape": "line",
                    "label": _("Unit grid (shown from zoom %(zoom)s)")
                    % {"zoom": settings.MAP_UNIT_GRID_MIN_ZOOM}}]},
        {"layer": drawn.hourly, "title": _("Reports by hour, last 7 days"),
         "items": [{"gradient": list(HOURLY_GRADIENT), "shape": "gradient",
                    "label": _("few → most reports a cell in the week's busiest hours")}],
         "emptyText": _("No reports in the last 7 days.")},
        {"layer": drawn.hotspots, "title": _("Hotspots of open cases"),
         "items": [{"colour": "rgba(122, 1, 119, 0.25)", "border": HOTSPOT_COLOUR,
                    "shape": "circle",
                    "label": _("At least %(cases)s open cases within %(metres)s m")
                    % {"cases": number(settings.MAP_HOTSPOT_MIN_CASES),
                       "metres": number(settings.MAP_HOTSPOT_EPS_M)}}],
         "empty": "" if has_hotspots else _hotspots_empty(open_cases)},
        {"layer": drawn.stations, "title": _("Union stations"),
         "items": [{"colour": "#38aadd", "shape": "pin", "label": _("Union station")}],
         "empty": "" if has_stations else _("No union stations here.")},
        {"layer": drawn.coverage, "title": _("Union station coverage"),
         "items": [{"colour": "rgba(44, 127, 184, 0.15)", "border": STATION_COLOUR,
                    "shape": "circle", "label": _("Within a station's coverage radius")}],
         "empty": "" if has_stations else _("No union stations here.")},
        {"layer": drawn.uncovered, "title": _("Uncovered demand"),
         "items": [{"colour": UNCOVERED_COLOUR, "shape": "circle",
                    "label": _("At least %(count)s reports beyond every station in a 100 m "
                               "cell (counts rounded down to a multiple of %(count)s)")
                    % {"count": number(PUBLIC_MIN_REPORTS)} if uncovered_public
                    else _("Reports beyond every station")}],
         "emptyText": _("Every report in this period was within a station's reach.")},
    ]
    return {"title": _("Legend"),
            "sections": [section for section in sections if section["layer"]]}


def case_column(open_cases: bool) -> str:
    """The heading of the community table's case column: the stage filter's cases."""
    return _("Open cases") if open_cases else _("Closed cases")


def governance_map_stations(*, stations: Sequence[StationPin], basemap: Basemap) -> dict:
    """The station layers as ``governance_map_data`` gives the others (read live: whether a
    station is open changes by the minute): {layers, legend}."""
    pins, coverage = station_features(Projector(basemap), stations)
    empty = "" if stations else _("No union stations here.")
    return {"layers": {"stations": feature_collection(pins),
                       "coverage": feature_collection(coverage)},
            "legend": {"stations": {"empty": empty}, "coverage": {"empty": empty}}}


def governance_map_data(*, layers: MapLayers, basemap: Basemap, query: str,
                        open_cases: bool = True) -> dict:
    """The governance map's data layers for one choice of filters, as the page fetches them
    when a filter changes (``map_layers`` in the view; the same features, styles and legend
    texts as ``governance_map_build`` draws): ``layers`` by the page's names for them, the
    legend sections that depend on the data, the tables under the map, when the data are as
    of, and ``query``, the filters as the page's URL carries them; ``open_cases``: the case
    layers hold open cases (else the closed ones, and no hotspots). Texts in the active
    language, positions on ``basemap``. Not the stations: ``governance_map_stations``."""
    projector = Projector(basemap)
    communities, breaks = community_features(projector, layers.grids, open_cases)
    peak = _peak([cell.count for cell in layers.heat_cells])
    return {
        "query": query,
        "as_of": layers.as_of.isoformat(),
        "as_of_text": _("Data as of %(time)s") % {
            "time": timezone.localtime(layers.as_of).strftime("%Y-%m-%d %H:%M")},
        "layers": {
            "community": feature_collection(communities),
            "heat": _heat_points(projector, layers.heat_cells, peak),
            # Counts by grid id: the shapes come once from map_unit_grids (the page joins them).
            "unit_grids": {unit.grid_id: unit.reports for unit in layers.unit_grids},
            "hotspots": feature_collection(hotspot_features(projector, layers.clusters,
                                                            open_cases)),
        },
        "legend": {
            "community": {"items": _density_items(breaks), "empty": ""},
            "heat": {"items": _heat_items(peak),
                     "empty": "" if layers.heat_cells else _("No reports in this period.")},
            "hotspots": {"empty": "" if layers.clusters else _hotspots_empty(open_cases)},
        },
        "tables": {
            "communities": [[grid.name, number(grid.reports), number(grid.reports_per_km2, 1),
                             number(grid.open_cases), number(grid.overdue_cases)]
                            for grid in layers.grids],
            "hotspots": [[spot.community, number(spot.case_count),
                          ", ".join(f"{name} ({number(count)})"
                                    for name, count in spot.categories)]
                         for spot in layers.clusters],
            "hotspots_empty": (_("No hotspots in this period.") if open_cases
                               else _("Hotspots are drawn for open cases only.")),
            "case_column": case_column(open_cases),
        },
    }


def governance_map_build(
    *,
    heat_cells: Sequence[HeatCell],
    heat_hours: Sequence[datetime] = (),
    heat_frames_url: str = "",
    grids: Sequence[CommunityStats],
    unit_grids: Sequence[UnitGridStats] = (),
    clusters: Sequence[Hotspot],
    stations: Sequence[StationPin],
    basemap: Basemap,
    uncovered_url: str = "",
    uncovered_public: bool = False,
    language: str = "zh-hans",
    unit_grid_min_zoom: int | None = None,
    data_url: str = "",
    unit_grids_url: str = "",
    open_cases: bool = True,
) -> folium.Map:
    """The governance map: heat, community choropleth, unit grids, hotspots, stations and the
    demand no station reaches (``uncovered_public``: as the public sees it, in cells of at
    least ``PUBLIC_MIN_REPORTS`` reports).

    On at first (frontend/README.md, "Default layers"): the community choropleth, the heatmap
    and the union stations. Off until switched on: unit grids, hotspots, station coverage and
    two layers loaded only then, the hourly heatmap of ``heat_hours`` from ``heat_frames_url``
    and the uncovered demand from ``uncovered_url`` (no URL: no layer). The legend has a
    section per layer, shown while that layer is on, saying so when a layer has nothing.

    With ``data_url`` (``governance_map_data`` as JSON), civicmap-map.js redraws the data
    layers in place when the page's filters change. With ``unit_grids_url``
    (``unit_grid_shape_features`` as JSON) the unit grids' shapes are fetched once, when their
    layer is first switched on or the filters first change, and ``unit_grids`` need no
    geometry. ``open_cases``: as governance_map_data.

    Labels are in ``language`` (Chinese by default, English on request); data are WGS 84 and
    are shifted to GCJ-02 when the basemap is (Amap).
    """
    if unit_grid_min_zoom is None:
        unit_grid_min_zoom = settings.MAP_UNIT_GRID_MIN_ZOOM
    projector = Projector(basemap)
    with translation.override(language):
        fmap = base_map(projector, basemap, MAP_JS)

        community, breaks = _community_layer(fmap, projector, grids, open_cases)
        unit_name = (_unit_grid_layer(fmap, projector, unit_grids, unit_grid_min_zoom,
                                      shapes_url=unit_grids_url)
                     if unit_grids else "")

        peak = _peak([cell.count for cell in heat_cells])
        heat = HeatMap(
            _heat_points(projector, heat_cells, peak),
            name=layer_label(_("Reports heatmap")), radius=18, blur=14, min_opacity=0.3,
            max_zoom=16,
        )
        use_static(heat, HEATMAP_JS)
        heat.add_to(fmap)

        hourly = (_hourly_heat_layer(fmap, heat_hours, heat_frames_url)
                  if heat_hours and heat_frames_url else "")
        hotspots = _hotspot_layer(fmap, projector, clusters, open_cases)
        pins, coverage = station_layers(fmap, projector, stations)
        uncovered = (_uncovered_layer(fmap, uncovered_url, public=uncovered_public)
                     if uncovered_url else "")

        folium.LayerControl(collapsed=True).add_to(fmap)
        MapCall("controlsLocalise", controls_text()).add_to(fmap)
        MapCall("scaleBar").add_to(fmap)
        drawn = _Drawn(community=community, heat=heat.get_name(), unit_grids=unit_name,
                       hourly=hourly, hotspots=hotspots, stations=pins, coverage=coverage,
                       uncovered=uncovered)
        MapCall("legend", _legend(drawn, breaks=breaks, heat_peak=peak,
                                   has_heat=bool(heat_cells), has_hotspots=bool(clusters),
                                   has_stations=bool(stations),
                                   uncovered_public=uncovered_public,
                                   open_cases=open_cases)).add_to(fmap)
        if data_url:
            MapCall("liveFilters", {
                "url": data_url,
                "layers": {"community": community, "heat": heat.get_name(),
                           "unit_grids": unit_name, "hotspots": hotspots, "stations": pins,
                           "coverage": coverage},
                "unitGridsUrl": unit_grids_url,
                "styles": {"community": COMMUNITY_STYLE, "unit_grids": UNIT_GRID_STYLE},
                "onDemand": {"hourly": hourly, "uncovered": uncovered},
                "updated": _("Map updated."),
                "failed": _("The map could not be updated. Try again, or press Show."),
            }).add_to(fmap)
    map_assets_check(fmap)
    return fmap
