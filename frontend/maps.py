"""The office's maps, built with folium in plain functions: values in, ``folium.Map`` out.

No request, no database: the view reads the layers through frontend.selectors and passes them
here, so tests build a map from a handful of values and look at what it draws.

Offline: folium's defaults load Leaflet, jQuery, Bootstrap, Font Awesome and the plugins from
five public CDNs. Every map and plugin element here gets ``default_js``/``default_css`` pointing
at our static files (npm packages under vendor/, see the FRONTEND block of the settings), and
``map_assets_check`` refuses a map that still names a URL of another origin.

Safety: user text (names, descriptions) reaches the page only as GeoJSON property values, which
folium embeds as JSON with ``<``, ``>``, ``&`` and ``'`` escaped, and which our
civicmap-map.js shows with textContent. No folium Popup/Tooltip is used for data: those put
HTML into a JavaScript template literal, where ``${…}`` in a description would run.

Coordinates: the data are WGS 84. A GCJ-02 basemap (Amap) draws streets about 550 m from where
WGS 84 puts them; every overlay coordinate then goes through ``civicmap.coords.wgs84_to_gcj02``
here, in one place (``_Projector``).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import folium
from branca.element import Element, MacroElement
from django.conf import settings
from django.templatetags.static import static
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from folium.elements import JSCSSMixin
from folium.plugins import HeatMap, HeatMapWithTime, MarkerCluster
from folium.template import Template
from folium.utilities import JsCode

from civicmap.coords import wgs84_to_gcj02
from frontend.selectors import (
    CommunityStats,
    HeatCell,
    HeatFrame,
    Hotspot,
    OpenCase,
    StationPin,
    UncoveredCell,
    UnitGridStats,
)
from issues.models import Stage

NANYUAN_CENTRE = (39.803, 116.393)  # (lat, lon) WGS 84: the middle of the subdistrict
DEFAULT_ZOOM = 14
MIN_ZOOM = 10
MAX_ZOOM = 19

# --- assets from our own origin -------------------------------------------------------------

# (folium's name for the link, static path). The names are folium's, so that a plugin that
# adds the same library under the same name does not add it twice.
MAP_JS = [
    ("leaflet", "vendor/leaflet/leaflet.js"),
    ("jquery", "vendor/jquery/jquery.min.js"),
    ("bootstrap", "vendor/bootstrap/js/bootstrap.bundle.min.js"),
    ("awesome_markers", "vendor/leaflet.awesome-markers/leaflet.awesome-markers.min.js"),
    ("civicmap_map", "frontend/civicmap-map.js"),
]
MAP_CSS = [
    ("leaflet_css", "vendor/leaflet/leaflet.css"),
    ("bootstrap_css", "vendor/bootstrap/css/bootstrap.min.css"),
    ("awesome_markers_font_css", "vendor/fontawesome/css/all.min.css"),
    ("awesome_markers_css", "vendor/leaflet.awesome-markers/leaflet.awesome-markers.css"),
    ("civicmap_map_css", "frontend/civicmap-map.css"),
]
HEATMAP_JS = [("leaflet-heat.js", "vendor/leaflet.heat/leaflet-heat.js")]
HEATMAP_WITH_TIME_JS = [
    ("iso8601", "vendor/iso8601-js-period/iso8601.js"),
    ("leaflet.timedimension.min.js", "vendor/leaflet-timedimension/leaflet.timedimension.min.js"),
    ("heatmap.min.js", "vendor/folium/pa7_hm.min.js"),
    ("leaflet-heatmap.js", "vendor/folium/pa7_leaflet_hm.min.js"),
]
# Our copy of the plugin's stylesheet: the package's loads a font from netdna.bootstrapcdn.com
# (see the comment at the top of the file).
HEATMAP_WITH_TIME_CSS = [
    ("leaflet.timedimension.control.min.css", "frontend/leaflet.timedimension.control.css"),
]
MARKER_CLUSTER_JS = [
    ("markerclusterjs", "vendor/leaflet.markercluster/leaflet.markercluster.js"),
]
MARKER_CLUSTER_CSS = [
    ("markerclustercss", "vendor/leaflet.markercluster/MarkerCluster.css"),
    ("markerclusterdefaultcss", "vendor/leaflet.markercluster/MarkerCluster.Default.css"),
]

MSG_FOREIGN_ASSET = "{element} loads {url} from another origin; give it a static URL."


def _static_links(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, static(path)) for name, path in pairs]


def _use_static(element: JSCSSMixin, js: Sequence[tuple[str, str]],
                css: Sequence[tuple[str, str]] = ()) -> None:
    """Replace an element's CDN links by ours (instance attributes: the class lists stay)."""
    element.default_js = _static_links(js)
    element.default_css = _static_links(css)


def _tree_elements(root: Element) -> list[Element]:
    """Every element of a folium tree, the root included."""
    elements, pending = [], [root]
    while pending:
        element = pending.pop()
        elements.append(element)
        pending.extend(element._children.values())
    return elements


def map_assets_check(fmap: folium.Map) -> None:
    """Raise ValueError if any element of the map would load a script or style elsewhere."""
    for element in _tree_elements(fmap):
        for _name, url in [*getattr(element, "default_js", []),
                           *getattr(element, "default_css", [])]:
            if "//" in url:  # http://, https:// and protocol-relative //host/
                raise ValueError(MSG_FOREIGN_ASSET.format(element=type(element).__name__,
                                                          url=url))


# --- basemaps -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TileSpec:
    url: str
    attribution: str
    subdomains: str = "abc"
    max_zoom: int = 18


@dataclass(frozen=True)
class Basemap:
    key: str
    tiles: tuple[TileSpec, ...]
    gcj02: bool = False  # tiles drawn in GCJ-02: shift the overlays
    image_hosts: tuple[str, ...] = ()  # for the page's Content-Security-Policy img-src


def basemap_get(key: str, *, language: str = "zh-hans", tianditu_key: str = "") -> Basemap:
    """The tiles of a basemap setting (osm | amap | tianditu | none), labels in ``language``.

    Tianditu needs a browser key; without one it falls back to no tiles rather than a grid of
    error images.
    """
    english = language.startswith("en")
    if key == "osm":
        return Basemap(key, (TileSpec(
            "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>',
            subdomains="", max_zoom=19,
        ),), image_hosts=("https://tile.openstreetmap.org",))
    if key == "amap":
        lang = "en" if english else "zh_cn"
        return Basemap(key, (TileSpec(
            "https://webrd0{s}.is.autonavi.com/appmaptile?lang=" + lang
            + "&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
            "&copy; AutoNavi 高德地图", subdomains="1234", max_zoom=18,
        ),), gcj02=True, image_hosts=("https://*.is.autonavi.com",))
    if key == "tianditu" and tianditu_key:
        labels = "eva" if english else "cva"

        def wmts(layer: str) -> str:
            return (f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                    f"&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                    f"&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={tianditu_key}")

        attribution = "&copy; 天地图 Tianditu"
        return Basemap(key, (
            TileSpec(wmts("vec"), attribution, subdomains="01234567", max_zoom=18),
            TileSpec(wmts(labels), attribution, subdomains="01234567", max_zoom=18),
        ), image_hosts=("https://*.tianditu.gov.cn",))
    return Basemap("none", ())


class _Projector:
    """WGS 84 (lon, lat) to what the basemap draws in: unchanged, or GCJ-02 for Amap."""

    def __init__(self, basemap: Basemap) -> None:
        self.gcj02 = basemap.gcj02

    def lonlat(self, lon: float, lat: float) -> tuple[float, float]:
        return wgs84_to_gcj02(lon, lat) if self.gcj02 else (lon, lat)

    def latlon(self, lon: float, lat: float) -> tuple[float, float]:
        lon, lat = self.lonlat(lon, lat)
        return (lat, lon)

    def geometry(self, geometry: dict) -> dict:
        """A GeoJSON geometry with every position converted (any nesting of rings)."""
        if not self.gcj02:
            return geometry

        def walk(coords):
            if coords and isinstance(coords[0], (int, float)):
                return list(self.lonlat(coords[0], coords[1]))
            return [walk(part) for part in coords]

        return {**geometry, "coordinates": walk(geometry["coordinates"])}


# --- small elements -------------------------------------------------------------------------


def js_value(value: object) -> str:
    """JSON safe inside an HTML <script>: <, >, & and ' escaped (as folium's own filter)."""
    return (json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")
            .replace(">", "\\u003e").replace("&", "\\u0026").replace("'", "\\u0027"))


def _details(spec: dict) -> JsCode:
    return JsCode(f"civicmap.details({js_value(spec)})")


class _MapCall(MacroElement):
    """``civicmap.<function>(map, <json argument>...)`` after the map and its layers exist."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        civicmap.{{ this.function }}({{ this._parent.get_name() }}{% for arg in this.args %},
            {{ arg }}{% endfor %});
        {% endmacro %}
    """)

    def __init__(self, function: str, *args: object) -> None:
        super().__init__()
        self._name = "CivicMapCall"
        if not re.fullmatch(r"[A-Za-z]+", function):
            raise ValueError(function)
        self.function = function
        self.args = [js_value(arg) for arg in args]


def _number(value: float, decimals: int = 0) -> str:
    return formats.number_format(round(value, decimals), decimals, use_l10n=True,
                                 force_grouping=True)


def _label(text: str) -> str:
    """A layer name: Leaflet's layer control inserts it as HTML."""
    return html.escape(text)


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


# --- the governance map ---------------------------------------------------------------------


def _feature_collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def _point(projector: _Projector, lon: float, lat: float) -> dict:
    return {"type": "Point", "coordinates": list(projector.lonlat(lon, lat))}


def _heat_points(projector: _Projector, cells: Sequence[HeatCell],
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


def _community_layer(fmap: folium.Map, projector: _Projector,
                     grids: Sequence[CommunityStats]) -> list[float]:
    breaks = density_breaks([grid.reports_per_km2 for grid in grids])
    features = [
        {
            "type": "Feature", "id": grid.code,
            "geometry": projector.geometry(grid.geometry),
            "properties": {
                "name": grid.name, "code": grid.code,
                "reports": _number(grid.reports), "open_cases": _number(grid.open_cases),
                "overdue_cases": _number(grid.overdue_cases),
                "per_km2": _number(grid.reports_per_km2, 1),
                "area_km2": _number(grid.area_km2, 2),
                "colour": density_colour(grid.reports_per_km2, breaks),
            },
        }
        for grid in grids
    ]
    folium.GeoJson(
        _feature_collection(features), name=_label(_("Community grids: reports per km²")),
        style_function=lambda feature: {
            "fillColor": feature["properties"]["colour"], "fillOpacity": 0.55,
            "color": "#444444", "weight": 1.5,
        },
        highlight_function=lambda feature: {"weight": 3, "fillOpacity": 0.7},
        on_each_feature=_details({
            "tooltip": True, "title": "name",
            "rows": [[_("Reports"), "reports"], [_("Open cases"), "open_cases"],
                     [_("Overdue cases"), "overdue_cases"], [_("Reports per km²"), "per_km2"],
                     [_("Area (km²)"), "area_km2"], [_("Code"), "code"]],
        }),
        class_name="civicmap-community",
    ).add_to(fmap)
    return breaks


def _unit_grid_layer(fmap: folium.Map, projector: _Projector, units: Sequence[UnitGridStats],
                     min_zoom: int) -> None:
    # Above the community polygons (overlayPane, 400), so that their details show on hover.
    folium.map.CustomPane("unitgrids", z_index=420, pointer_events=True).add_to(fmap)
    # About 1,300 polygons: properties kept short (the community shows in the choropleth).
    features = [
        {
            "type": "Feature", "geometry": projector.geometry(unit.geometry),
            "properties": {"grid_id": unit.grid_id, "reports": unit.reports},
        }
        for unit in units
    ]
    folium.GeoJson(
        _feature_collection(features), name=_label(_("Unit grids (zoom in)")),
        style_function=lambda feature: {
            "color": UNIT_GRID_COLOUR, "weight": 0.8, "fillOpacity": 0.0, "dashArray": "3 3",
        },
        on_each_feature=_details({
            "tooltip": True, "title": "grid_id",
            "rows": [[_("Reports"), "reports"]],
        }),
        pane="unitgrids", class_name="civicmap-unitgrid",
    ).add_to(fmap)
    _MapCall("paneMinZoom", "unitgrids", min_zoom).add_to(fmap)


def _hotspot_layer(fmap: folium.Map, projector: _Projector,
                   hotspots: Sequence[Hotspot]) -> None:
    features = [
        {
            "type": "Feature",
            "geometry": _point(projector, spot.lon, spot.lat),
            "properties": {
                "title": _("Hotspot: %(count)s open cases") % {"count": _number(spot.case_count)},
                "community": spot.community,
                # Metres on the ground; at least 30 m so that a tight cluster stays visible.
                "radius_m": round(max(spot.radius_m, 30.0), 1),
                "categories": [f"{name} ({_number(count)})" for name, count in spot.categories],
                "latest": [f"{case.category}: {case.description}" for case in spot.latest],
            },
        }
        for spot in hotspots
    ]
    # Above the unit grids' pane, so that a hotspot can be clicked at any zoom.
    folium.map.CustomPane("hotspots", z_index=430, pointer_events=True).add_to(fmap)
    folium.GeoJson(
        _feature_collection(features), name=_label(_("Hotspots of open cases")),
        point_to_layer=JsCode("civicmap.metreCircle(" + js_value({
            "color": HOTSPOT_COLOUR, "weight": 2, "fillColor": HOTSPOT_COLOUR,
            "fillOpacity": 0.25, "className": "civicmap-hotspot", "pane": "hotspots",
        }) + ")"),
        on_each_feature=_details({
            "popup": True, "tooltip": True, "title": "title",
            "rows": [[_("Community"), "community"], [_("Commonest categories"), "categories"],
                     [_("Latest cases"), "latest"]],
        }),
    ).add_to(fmap)


def _station_layer(fmap: folium.Map, projector: _Projector,
                   stations: Sequence[StationPin]) -> None:
    group = folium.FeatureGroup(name=_label(_("Union stations and coverage")))
    coverage = [
        {"type": "Feature", "geometry": _point(projector, station.lon, station.lat),
         "properties": {"radius_m": station.radius_m}}
        for station in stations
    ]
    folium.GeoJson(
        _feature_collection(coverage), control=False,
        point_to_layer=JsCode("civicmap.metreCircle(" + js_value({
            "color": STATION_COLOUR, "weight": 1, "fillColor": STATION_COLOUR,
            "fillOpacity": 0.08, "interactive": False, "className": "civicmap-coverage",
        }) + ")"),
    ).add_to(group)
    pins = [
        {
            "type": "Feature", "geometry": _point(projector, station.lon, station.lat),
            "properties": {
                "name": station.name, "address": station.address, "venue": station.venue,
                "services": station.services, "hours": station.hours,
                "radius": _("%(metres)s m") % {"metres": _number(station.radius_m)},
                "open_now": _("Open now") if station.open_now else _("Closed now"),
                "status_class": "civicmap-open" if station.open_now else "",
            },
        }
        for station in stations
    ]
    folium.GeoJson(
        _feature_collection(pins), control=False,
        marker=folium.Marker(icon=folium.Icon(color="blue", icon="mug-hot", prefix="fa")),
        on_each_feature=_details({
            "popup": True, "title": "name",
            "badge": {"key": "open_now", "classKey": "status_class"},
            "rows": [[_("Venue"), "venue"],
                     [_("Address"), "address"], [_("Services"), "services"],
                     [_("Opening hours"), "hours"], [_("Coverage radius"), "radius"]],
        }),
    ).add_to(group)
    group.add_to(fmap)


def uncovered_features(cells: Sequence[UncoveredCell], *, basemap: Basemap) -> dict:
    """The uncovered-demand layer's data, as the map fetches it when the layer is switched on:
    a FeatureCollection of the cells drawn on ``basemap``, counts formatted in the active
    language."""
    projector = _Projector(basemap)
    return _feature_collection([
        {"type": "Feature", "geometry": _point(projector, cell.lon, cell.lat),
         "properties": {"count": cell.reports, "reports": _number(cell.reports),
                        "needs": _number(cell.needs)}}
        for cell in cells
    ])


def _uncovered_layer(fmap: folium.Map, url: str) -> None:
    """Hidden by default and empty: civicmap-map.js fetches ``url`` (``uncovered_features``)
    the first time it is switched on. Counting the reports beyond every station takes seconds
    with 1,000,000 reports stored; the page should not wait for a layer nobody has asked for."""
    layer = folium.GeoJson(
        _feature_collection([]),
        name=_label(_("Uncovered demand: reports beyond every station")), show=False,
        point_to_layer=JsCode("civicmap.scaledDot(" + js_value({
            "color": UNCOVERED_COLOUR, "weight": 1, "fillColor": UNCOVERED_COLOUR,
            "fillOpacity": 0.6, "className": "civicmap-uncovered",
        }) + ")"),
        on_each_feature=_details({
            "tooltip": True,
            "rows": [[_("Reports beyond every station"), "reports"],
                     [_("Of them, riders' own needs"), "needs"]],
        }),
    )
    layer.add_to(fmap)
    _MapCall("onDemand", {"kind": "uncovered", "layer": layer.get_name(), "url": url}
             ).add_to(fmap)


def hourly_heat_data(frames: Sequence[HeatFrame], *, basemap: Basemap) -> dict:
    """The hourly heatmap's data, as the map fetches it when the layer is switched on: a label
    and [lat, lon, weight] points per hour, drawn on ``basemap``; weights relative to the
    period's peak (as ``_heat_points``)."""
    projector = _Projector(basemap)
    peak = _peak([cell.count for frame in frames for cell in frame.cells])
    return {"labels": [_hour_label(frame.hour) for frame in frames],
            "frames": [_heat_points(projector, frame.cells, peak) for frame in frames]}


def _hourly_heat_layer(fmap: folium.Map, hours: Sequence[datetime], url: str) -> None:
    """Hidden by default, one empty frame per hour: civicmap-map.js fetches ``url``
    (``hourly_heat_data``) the first time it is switched on. A week of hourly frames weighed
    1 MB of the page with 1,000,000 reports stored."""
    by_hour = HeatMapWithTime(
        [[] for _hour in hours], index=[_hour_label(hour) for hour in hours],
        name=_label(_("Reports by hour, last 7 days")), radius=18, show=False,
        auto_play=False, max_opacity=0.7,
    )
    _use_static(by_hour, HEATMAP_WITH_TIME_JS, HEATMAP_WITH_TIME_CSS)
    by_hour.add_to(fmap)
    _MapCall("onDemand", {"kind": "hourly", "layer": by_hour.get_name(),
                          "control": by_hour._control_name, "url": url}).add_to(fmap)


def _hour_label(hour: datetime) -> str:
    return timezone.localtime(hour).strftime("%m-%d %H:00")


def _legend(breaks: Sequence[float], *, with_stations: bool, with_uncovered: bool = False
            ) -> dict:
    density_items = []
    lower = 0.0
    decimals = 0 if breaks and breaks[0] >= 10 else 1
    for colour, upper in zip(DENSITY_COLOURS, breaks, strict=False):
        density_items.append({"colour": colour, "label": f"{_number(lower, decimals)} – "
                                                         f"{_number(upper, decimals)}"})
        lower = upper
    density_items.append({"colour": NO_DATA_COLOUR, "label": _("No reports")})
    symbols = [
        {"colour": "rgba(122, 1, 119, 0.25)", "border": HOTSPOT_COLOUR, "shape": "circle",
         "label": _("Hotspot of open cases")},
        {"colour": "transparent", "border": UNIT_GRID_COLOUR, "shape": "line",
         "label": _("Unit grid")},
    ]
    if with_stations:
        symbols.insert(1, {"colour": "rgba(44, 127, 184, 0.15)", "border": STATION_COLOUR,
                           "shape": "circle", "label": _("Union station coverage")})
    if with_uncovered:
        symbols.append({"colour": UNCOVERED_COLOUR, "shape": "circle",
                        "label": _("Reports beyond every station")})
    return {
        "title": _("Legend"),
        "sections": [
            {"title": _("Reports per km² (community grids)"), "items": density_items},
            {"title": _("Symbols"), "items": symbols},
        ],
    }


def _base_map(projector: _Projector, basemap: Basemap,
              js: Sequence[tuple[str, str]]) -> folium.Map:
    """A map on Nanyuan with our assets and the basemap's tiles (none: a plain background)."""
    fmap = folium.Map(location=list(projector.latlon(NANYUAN_CENTRE[1], NANYUAN_CENTRE[0])),
                      zoom_start=DEFAULT_ZOOM, tiles=None)
    # Without a tile layer Leaflet knows no zoom limit, which the marker clusters need.
    fmap.options.update(min_zoom=MIN_ZOOM, max_zoom=MAX_ZOOM)
    _use_static(fmap, js, MAP_CSS)
    for index, tiles in enumerate(basemap.tiles):
        folium.TileLayer(
            tiles=tiles.url, attr=tiles.attribution, subdomains=tiles.subdomains or "abc",
            max_zoom=MAX_ZOOM, max_native_zoom=tiles.max_zoom,
            name=_label(_("Basemap")) if index == 0 else _label(_("Basemap labels")),
            overlay=index > 0, control=index == 0,
        ).add_to(fmap)
    return fmap


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
    language: str = "zh-hans",
    unit_grid_min_zoom: int | None = None,
) -> folium.Map:
    """The office's governance map: heat, community choropleth, unit grids, hotspots, stations
    and (office staff only) the demand no station reaches.

    Two layers are hidden at first and loaded when switched on: the hourly heatmap of
    ``heat_hours`` from ``heat_frames_url`` and the uncovered demand from ``uncovered_url``
    (no URL: no layer).

    Labels are in ``language`` (Chinese by default, English on request); data are WGS 84 and
    are shifted to GCJ-02 when the basemap is (Amap).
    """
    if unit_grid_min_zoom is None:
        unit_grid_min_zoom = settings.MAP_UNIT_GRID_MIN_ZOOM
    projector = _Projector(basemap)
    with translation.override(language):
        fmap = _base_map(projector, basemap, MAP_JS)

        breaks = _community_layer(fmap, projector, grids)
        if unit_grids:
            _unit_grid_layer(fmap, projector, unit_grids, unit_grid_min_zoom)

        heat = HeatMap(
            _heat_points(projector, heat_cells, _peak([cell.count for cell in heat_cells])),
            name=_label(_("Reports heatmap")), radius=18, blur=14, min_opacity=0.3,
            max_zoom=16,
        )
        _use_static(heat, HEATMAP_JS)
        heat.add_to(fmap)

        if heat_hours and heat_frames_url:
            _hourly_heat_layer(fmap, heat_hours, heat_frames_url)

        _hotspot_layer(fmap, projector, clusters)
        if stations:
            _station_layer(fmap, projector, stations)
        if uncovered_url:
            _uncovered_layer(fmap, uncovered_url)

        folium.LayerControl(collapsed=True).add_to(fmap)
        _MapCall("scaleBar").add_to(fmap)
        _MapCall("legend", _legend(breaks, with_stations=bool(stations),
                                   with_uncovered=bool(uncovered_url))).add_to(fmap)
    map_assets_check(fmap)
    return fmap


# --- rendering into our templates -----------------------------------------------------------

_OPENING_TAG = re.compile(r"<(script|style)(?=[\s>])", re.IGNORECASE)


@dataclass(frozen=True)
class MapParts:
    """A map's three parts for a Django template: <head> markup, <body> markup, one script."""

    header: str
    html: str
    script: str  # JavaScript without the <script> tag
    name: str  # the JavaScript variable (and element id) of the map


def _with_nonce(markup: str, nonce: str) -> str:
    """Every <script>/<style> opening tag gets the page's CSP nonce.

    Safe because user text never reaches this markup as markup: it is JSON-escaped (no ``<``).
    """
    return _OPENING_TAG.sub(lambda match: f'<{match.group(1)} nonce="{nonce}"', markup)


def map_render_parts(fmap: folium.Map, *, nonce: str) -> MapParts:
    """Render the map as folium's header/html/script components (as in folium's Flask example)
    with the CSP nonce on every inline script and style. Consumes the map: its element tree is
    taken apart once rendered (``_tree_release``)."""
    root = fmap.get_root()
    root.render()
    script = root.script.render()
    if "</script" in script.lower():
        raise ValueError("the map script would close its <script> element early")
    parts = MapParts(
        header=_with_nonce(root.header.render(), nonce),
        html=_with_nonce(root.html.render(), nonce),
        script=script,
        name=fmap.get_name(),
    )
    _tree_release(root)
    return parts


def _tree_release(root: Element) -> None:
    """Unlink a rendered folium tree so that reference counting frees it with its data.

    Each element points to its parent and the parent to its children: a cycle that only the
    garbage collector's full collections free. With the layers' GeoJSON (1,311 unit grids:
    ~15,000 objects a page) those collections took 60-150 ms inside later requests, one
    request in five (bench_map at 1,000,000 reports; docs/DECISIONS.md).
    """
    for element in _tree_elements(root):
        element._children.clear()
        element._parent = None


# --- the office console ---------------------------------------------------------------------

STAGE_COLOURS = {
    Stage.NEW: "#d62728", Stage.FILED: "#ff7f0e", Stage.DISPATCHED: "#1f77b4",
    Stage.IN_PROGRESS: "#9467bd", Stage.HANDED_IN: "#2ca02c",
}
CLOSED_COLOUR = "#7f7f7f"


def _action_labels() -> dict[str, str]:
    """Lifecycle actions as buttons and in a case's history ("case action": "File" is 立案)."""
    return {
        "file": pgettext("case action", "File"),
        "dispatch": pgettext("case action", "Dispatch"),
        "redispatch": pgettext("case action", "Dispatch again"),
        "verify": pgettext("case action", "Verify and close"),
        "sendback": pgettext("case action", "Send back"),
        "escalate": pgettext("case action", "Escalate"),
        "reply": pgettext("case action", "Reply and close"),
        "cancel": pgettext("case action", "Cancel case"),
    }


def _event_labels() -> dict[str, str]:
    """The other entries of a case's history (issues.CaseEvent.action)."""
    return {
        **_action_labels(),
        "created": pgettext("case history", "Reported"),
        "report_merged": pgettext("case history", "Another report joined"),
        "confirmed": pgettext("case history", "Confirmed by a rider"),
        "accept": pgettext("case history", "Accepted"),
        "decline": pgettext("case history", "Declined"),
        "assign": pgettext("case history", "Assigned"),
        "start": pgettext("case history", "Work started"),
        "handin": pgettext("case history", "Handed in"),
        "merge": pgettext("case history", "Merged into another case"),
        "merged_in": pgettext("case history", "Another case merged in"),
        "split": pgettext("case history", "Split"),
        "split_from": pgettext("case history", "Split from another case"),
        "rate": pgettext("case history", "Rated"),
        "evaluate": pgettext("case history", "Evaluated"),
    }


def office_case_rows(cases: Sequence[OpenCase], *, basemap: Basemap) -> list[dict]:
    """The console's list and markers: one row per open case, drawn on ``basemap``."""
    projector = _Projector(basemap)
    rows = []
    for case in cases:
        lon, lat = projector.lonlat(case.lon, case.lat)
        rows.append({
            "id": case.id, "stage": case.stage, "category": case.category,
            "category_name": case.category_name, "community": case.community,
            "report_count": case.report_count,
            "last_report_at": case.last_report_at.isoformat(),
            "lon": round(lon, 6), "lat": round(lat, 6),
        })
    return rows


def office_map_build(*, grids: Sequence[CommunityStats], basemap: Basemap, feed_url: str,
                     api_root: str, poll_ms: int, language: str = "zh-hans") -> folium.Map:
    """The triage console's map: community outlines and an (empty) cluster of open cases that
    civicmap-office.js fills from ``feed_url`` every ``poll_ms`` milliseconds."""
    projector = _Projector(basemap)
    with translation.override(language):
        fmap = _base_map(projector, basemap,
                         [*MAP_JS, ("civicmap_office", "frontend/civicmap-office.js")])
        features = [
            {"type": "Feature", "geometry": projector.geometry(grid.geometry),
             "properties": {"name": grid.name, "open_cases": _number(grid.open_cases),
                            "overdue_cases": _number(grid.overdue_cases)}}
            for grid in grids
        ]
        folium.GeoJson(
            _feature_collection(features), name=_label(_("Community grids")),
            style_function=lambda feature: {"color": "#555555", "weight": 1.5,
                                            "fillOpacity": 0.03},
            on_each_feature=_details({
                "tooltip": True, "title": "name",
                "rows": [[_("Open cases"), "open_cases"], [_("Overdue cases"), "overdue_cases"]],
            }),
            class_name="civicmap-community",
        ).add_to(fmap)
        cluster = MarkerCluster(name=_label(_("Open cases")), disable_clustering_at_zoom=18)
        _use_static(cluster, MARKER_CLUSTER_JS, MARKER_CLUSTER_CSS)
        cluster.add_to(fmap)
        folium.LayerControl(collapsed=True).add_to(fmap)
        _MapCall("scaleBar").add_to(fmap)
        _MapCall("officeConsole", {
            "cluster": cluster.get_name(), "feed": feed_url, "api": api_root,
            "pollMs": poll_ms, "locale": "en" if language.startswith("en") else "zh-CN",
            "stages": {stage.value: {"colour": STAGE_COLOURS.get(stage, CLOSED_COLOUR),
                                     "label": str(stage.label)} for stage in Stage},
            "actions": [[action, label] for action, label in _action_labels().items()],
            "events": _event_labels(),
            "text": {
                "openCases": _("%(count)s open cases, updated %(time)s"),
                "loadFailed": _("Could not load the cases; trying again."),
                "reports": _("Reports in this case"), "photos": _("Photos"),
                "history": _("History"),
                "tasks": _("Tasks"), "actions": _("Actions"), "note": _("Reason or note"),
                "noActions": _("Nothing to do here now."), "new": _("New"),
                "reportCount": _("Reports: %(count)s"), "close": _("Close"),
            },
        }).add_to(fmap)
    map_assets_check(fmap)
    return fmap
