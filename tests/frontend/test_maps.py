"""frontend.maps without HTTP or a database: values in, a folium map out."""

from __future__ import annotations

import gc
import math
import re
import weakref
from datetime import UTC, datetime

import folium
import pytest
from coordTransform import wgs84_to_gcj02 as reference_wgs84_to_gcj02
from django.utils import translation
from folium.plugins import MarkerCluster

from frontend.maps import assets, basemaps, layers
from frontend.selectors import CommunityStats, MapLayers, UnitGridStats
from issues.layers import HeatCell, HeatFrame, Hotspot, HotspotCase
from stations.layers import StationPin, UncoveredCell

HOSTILE = "</script><script>alert(1)</script><img src=x onerror=alert(2)>${alert(3)}"
# A 500 m square at Chengyuan (lon, lat ring), WGS 84.
SQUARE = {"type": "Polygon", "coordinates": [[[116.393, 39.803], [116.399, 39.803],
                                              [116.399, 39.808], [116.393, 39.808],
                                              [116.393, 39.803]]]}
STATION_POINT = (116.3954, 39.8060)  # (lon, lat) WGS 84


def _values(name: str = "成园社区") -> dict:
    hour = datetime(2026, 11, 28, 8, tzinfo=UTC)
    return {
        "heat_cells": [HeatCell(116.395, 39.805, 3), HeatCell(116.396, 39.805, 1)],
        "heat_hours": [hour, hour.replace(hour=9)],
        "heat_frames_url": "/map/hourly/",
        "uncovered_url": "/map/uncovered/?days=30",
        "grids": [CommunityStats(code="110106005007", name=name, geometry=SQUARE,
                                 area_km2=0.29, reports=12, open_cases=5, overdue_cases=1)],
        "unit_grids": [UnitGridStats(grid_id="110106005007001", community=name,
                                     geometry=SQUARE, reports=2)],
        "clusters": [Hotspot(community=name, lon=116.395, lat=39.805, radius_m=42.0,
                             case_count=4, categories=[(HOSTILE, 4)],
                             latest=[HotspotCase(category="路灯", description=HOSTILE,
                                                 last_report_at=hour)])],
        "stations": [StationPin(name=name + HOSTILE, address=HOSTILE, venue="银行",
                                lon=STATION_POINT[0], lat=STATION_POINT[1], radius_m=500,
                                services=["饮水"], hours=["星期一 09:00–21:00"],
                                open_now=True)],
    }


def _build(basemap: str = "none", language: str = "zh-hans", **changes) -> folium.Map:
    return layers.governance_map_build(**{**_values(), **changes},
                                     basemap=basemaps.basemap_get(basemap, language=language),
                                     language=language)


def _geojson_features(script: str) -> list[dict]:
    """Every GeoJSON feature embedded in the map script, decoded."""
    import json

    features = []
    for match in re.finditer(r"_add\((\{\"features\".*?\})\);\n", script):
        features.extend(json.loads(match.group(1))["features"])
    return features


def test_map_loads_nothing_from_other_origins():
    parts = assets.map_render_parts(_build(), nonce="n0nce")
    urls = re.findall(r'(?:src|href)="([^"]+)"', parts.header + parts.html)
    assert urls and all(url.startswith("/static/") for url in urls)
    assert "://" not in parts.header + parts.html and "cdn" not in parts.header + parts.script


def test_a_rendered_map_is_freed_without_the_garbage_collector():
    """Rendering takes folium's parent/child cycles apart: the map and its layers' data go as
    soon as the view lets go of them, not in a full collection inside a later request."""
    fmap = _build()
    layers = [weakref.ref(child) for child in fmap._children.values()]
    assert layers
    gc.disable()
    try:
        assets.map_render_parts(fmap, nonce="n")
        del fmap
        assert all(layer() is None for layer in layers)
    finally:
        gc.enable()


def test_map_assets_check_refuses_a_plugin_left_on_its_cdn():
    fmap = _build()
    MarkerCluster().add_to(fmap)  # folium's default: cdnjs.cloudflare.com
    with pytest.raises(ValueError, match="cdnjs.cloudflare.com"):
        assets.map_assets_check(fmap)


def test_every_inline_script_and_style_carries_the_nonce():
    parts = assets.map_render_parts(_build(), nonce="n0nce")
    tags = re.findall(r"<(?:script|style)\b[^>]*>", parts.header + parts.html)
    assert len(tags) > 5
    assert all('nonce="n0nce"' in tag for tag in tags)


def test_user_text_never_reaches_the_page_as_markup():
    parts = assets.map_render_parts(_build(), nonce="n0nce")
    page = parts.header + parts.html + parts.script
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "</script" not in parts.script.lower()
    # The text is there, JSON-escaped, for civicmap-map.js to show with textContent.
    assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)" in parts.script
    # No template literal could evaluate ${…}: the text sits only inside JSON strings.
    features = _geojson_features(parts.script)
    assert HOSTILE in [case.split(": ", 1)[1] for f in features
                       for case in f["properties"].get("latest", [])]


def test_labels_are_chinese_by_default_and_english_on_request():
    chinese = assets.map_render_parts(_build(), nonce="n").script
    english = assets.map_render_parts(_build(language="en"), nonce="n").script
    assert "未结案件热点" in chinese and "Hotspots of open cases" not in chinese
    assert "Hotspots of open cases" in english and "未结案件热点" not in english


def test_station_coverage_is_a_circle_of_true_metres():
    features = _geojson_features(assets.map_render_parts(_build(), nonce="n").script)
    coverage = [f for f in features if set(f["properties"]) == {"radius_m"}]
    assert [f["properties"]["radius_m"] for f in coverage] == [500]
    # L.circle takes metres on the ground (unlike L.circleMarker's pixels).
    assert "civicmap.metreCircle(" in assets.map_render_parts(_build(), nonce="n").script


def _mercator_pixel(lon: float, lat: float, zoom: int) -> tuple[float, float]:
    """Global Web Mercator pixel of a point at ``zoom`` with 256-pixel tiles (the XYZ scheme
    of OpenStreetMap and of Amap's tiles, which are drawn in GCJ-02 coordinates)."""
    scale = 256 * 2**zoom
    x = (lon + 180) / 360 * scale
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * scale
    return x, y


def test_amap_basemap_shifts_overlays_to_the_gcj02_pixel():
    """On Amap the station must sit where Amap draws its WGS 84 position: at the GCJ-02
    coordinates of the reference implementation (PyPI coordTransform), to the pixel at z18."""
    features = _geojson_features(assets.map_render_parts(_build("amap"), nonce="n").script)
    pins = [f for f in features if "venue" in f["properties"]]
    lon, lat = pins[0]["geometry"]["coordinates"]
    ref_lon, ref_lat = reference_wgs84_to_gcj02(*STATION_POINT)
    drawn = _mercator_pixel(lon, lat, 18)
    expected = _mercator_pixel(ref_lon, ref_lat, 18)
    assert math.dist(drawn, expected) < 0.5
    # …which is hundreds of pixels from where WGS 84 would put it (about 550 m at Nanyuan).
    assert math.dist(_mercator_pixel(*STATION_POINT, 18), expected) > 500
    # Polygons move with it, every vertex.
    community = next(f for f in features if f.get("id") == "110106005007")
    first = community["geometry"]["coordinates"][0][0]
    assert first == pytest.approx(list(reference_wgs84_to_gcj02(116.393, 39.803)), abs=1e-9)


def test_other_basemaps_leave_wgs84_alone():
    for key in ("osm", "none", "tianditu"):
        features = _geojson_features(assets.map_render_parts(_build(key), nonce="n").script)
        pins = [f for f in features if "venue" in f["properties"]]
        assert pins[0]["geometry"]["coordinates"] == list(STATION_POINT)


def test_basemaps():
    assert basemaps.basemap_get("osm").image_hosts == ("https://tile.openstreetmap.org",)
    assert basemaps.basemap_get("amap").gcj02
    assert "lang=en" in basemaps.basemap_get("amap", language="en").tiles[0].url
    assert basemaps.basemap_get("tianditu").key == "none"  # no key: no tiles
    tianditu = basemaps.basemap_get("tianditu", tianditu_key="k", language="en")
    assert [t.url.split("/")[3] for t in tianditu.tiles] == ["vec_w", "eva_w"]
    assert basemaps.basemap_get("anything else").tiles == ()


def test_the_default_basemap_is_tianditu_with_a_key_else_the_plain_background(monkeypatch):
    """The setting's default (civicmap/settings/base.py), read as a deployment reads it."""
    import importlib

    import civicmap.settings.base as base

    try:
        monkeypatch.delenv("BASEMAP", raising=False)
        monkeypatch.delenv("TIANDITU_KEY", raising=False)
        assert importlib.reload(base).BASEMAP == "none"
        monkeypatch.setenv("TIANDITU_KEY", "browser-key")
        assert importlib.reload(base).BASEMAP == "tianditu"
        monkeypatch.setenv("BASEMAP", "osm")
        assert importlib.reload(base).BASEMAP == "osm"
    finally:
        monkeypatch.undo()
        importlib.reload(base)


def test_basemap_configured_follows_the_settings(settings):
    settings.BASEMAP, settings.TIANDITU_KEY = "none", ""
    plain = basemaps.basemap_configured(language="zh-hans")
    assert plain.tiles == () and plain.image_hosts == ()
    assert plain.background_url == "/map/background/"
    assert plain.background_attribution == "边界：街道网格数据"

    settings.BASEMAP, settings.TIANDITU_KEY = "tianditu", "browser-key"
    tianditu = basemaps.basemap_configured(language="zh-hans")
    assert [t.url.split("/")[3] for t in tianditu.tiles] == ["vec_w", "cva_w"]
    assert all(t.url.endswith("&tk=browser-key") for t in tianditu.tiles)
    assert {t.attribution for t in tianditu.tiles} == {"底图：天地图"}
    assert tianditu.background_url == "" and not tianditu.gcj02  # CGCS2000: no shift

    settings.BASEMAP = "osm"
    osm = basemaps.basemap_configured(language="zh-hans")
    assert "OpenStreetMap" in osm.tiles[0].attribution and osm.background_url == ""


@pytest.mark.parametrize("key", ["none", "tianditu", "osm"])
def test_every_map_calls_the_basemap_finish_with_its_background(key):
    """civicmap.basemap drops Leaflet's prefix (the browser tests check the control's text)."""
    script = assets.map_render_parts(
        layers.governance_map_build(**_values(), language="zh-hans",
                                    basemap=basemaps.basemap_get(key, tianditu_key="k")),
        nonce="n").script
    (call,) = re.findall(r"civicmap\.basemap\([^;]*\);", script)
    if key == "none":
        assert '"background": "/map/background/"' in call and "边界：街道网格数据" in call
    else:
        assert '"background": ""' in call


def test_density_classes():
    breaks = layers.density_breaks([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert breaks == sorted(breaks) and len(breaks) == 5
    assert layers.density_colour(0, breaks) == layers.NO_DATA_COLOUR
    assert layers.density_colour(1, breaks) == layers.DENSITY_COLOURS[0]
    assert layers.density_colour(10, breaks) == layers.DENSITY_COLOURS[-1]
    assert layers.density_breaks([0, 0]) == []


def test_map_without_data_still_renders():
    fmap = layers.governance_map_build(heat_cells=[], grids=[], clusters=[], stations=[],
                                     basemap=basemaps.basemap_get("none"))
    assert "L.map(" in assets.map_render_parts(fmap, nonce="n").script


@pytest.mark.parametrize("open_cases, cases, hotspot", [
    (True, "Open cases", "Hotspot: 4 open cases"),
    (False, "Closed cases", "Hotspot: 4 closed cases"),
])
def test_case_labels_say_what_the_stage_filter_counts(open_cases, cases, hotspot):
    """The community popup's case row and a hotspot's title name the stage's cases, on the
    page and in the data it redraws from (a popup's label is its feature's cases_label)."""
    values = _values()
    basemap = basemaps.basemap_get("none", language="en")
    script = assets.map_render_parts(
        _build(language="en", open_cases=open_cases), nonce="n").script
    features = _geojson_features(script)
    community = next(f for f in features if "cases_label" in f["properties"])
    assert community["properties"]["cases_label"] == cases
    assert f'"{cases}", "open_cases", "cases_label"' in script
    assert next(f for f in features if "title" in f["properties"])["properties"][
        "title"] == hotspot
    with translation.override("en"):
        data = layers.governance_map_data(
            layers=_layers_of(values), basemap=basemap, query="", open_cases=open_cases)
    assert data["layers"]["community"]["features"][0]["properties"]["cases_label"] == cases
    assert data["layers"]["hotspots"]["features"][0]["properties"]["title"] == hotspot
    assert data["tables"]["case_column"] == cases


def _layers_of(values: dict) -> MapLayers:
    return MapLayers(as_of=datetime(2026, 11, 28, 9, tzinfo=UTC),
                     heat_cells=values["heat_cells"], unit_grids=values["unit_grids"],
                     grids=values["grids"], clusters=values["clusters"])


def test_hidden_layers_hold_no_data_and_name_their_urls():
    script = assets.map_render_parts(_build(), nonce="n").script
    assert script.count("civicmap.onDemand(") == 2
    assert '"url": "/map/hourly/"' in script
    assert '"url": "/map/uncovered/?days=30"' in script  # JSON-escaped like every value
    assert '"kind": "uncovered"' in script and "civicmap-uncovered" in script
    # Without URLs (the public map has no uncovered demand) the layers are not drawn at all.
    public = assets.map_render_parts(_build(uncovered_url=""), nonce="n").script
    assert public.count("civicmap.onDemand(") == 1 and "civicmap-uncovered" not in public


def test_unit_grids_with_a_shapes_url_carry_their_counts_and_no_polygons():
    """The unit grids are off when the page opens: with their shapes' URL the page holds the
    counts by grid id, and the shapes are fetched when the layer is first switched on."""
    inline = assets.map_render_parts(_build(), nonce="n").script
    assert any(feature["properties"].get("grid_id") == "110106005007001"
               for feature in _geojson_features(inline))
    assert "civicmap.unitGridsOnDemand(" not in inline
    lazy = assets.map_render_parts(_build(unit_grids_url="/map/unit-grids/?basemap=none"),
                                   nonce="n").script
    assert not any("grid_id" in feature["properties"] for feature in _geojson_features(lazy))
    assert "civicmap.unitGridsOnDemand(" in lazy
    assert '"url": "/map/unit-grids/?basemap=none"' in lazy
    assert '"counts": {"110106005007001": 2}' in lazy


def test_hourly_heat_data_weighs_cells_against_the_period_peak():
    hour = datetime(2026, 11, 28, 8, tzinfo=UTC)
    frames = [HeatFrame(hour, [HeatCell(116.395, 39.805, 2), HeatCell(116.396, 39.805, 1)]),
              HeatFrame(hour.replace(hour=9), [])]
    data = layers.hourly_heat_data(frames, basemap=basemaps.basemap_get("none"))
    assert len(data["labels"]) == 2 and data["labels"][0].endswith(":00")
    # _peak: the 95th percentile of [1, 2] (index int(0.95 * 1) = 0) is 1: both saturate.
    assert data["frames"] == [[[39.805, 116.395, 1.0], [39.805, 116.396, 1.0]], []]
    shifted = layers.hourly_heat_data(frames, basemap=basemaps.basemap_get("amap"))
    assert shifted["frames"][0][0] != data["frames"][0][0]  # GCJ-02 on Amap


def test_uncovered_features_are_points_with_formatted_counts():
    cells = [UncoveredCell(lon=116.395, lat=39.805, reports=1234, needs=5)]
    with translation.override("en"):
        collection = layers.uncovered_features(cells, basemap=basemaps.basemap_get("none"))
    (feature,) = collection["features"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [116.395, 39.805]}
    assert feature["properties"] == {"count": 1234, "reports": "1,234", "needs": "5"}


def _legend_spec(script: str) -> dict:
    """The argument of ``civicmap.legend(map, {...})`` in a rendered map script."""
    import json

    match = re.search(r"civicmap\.legend\(\w+,\s*(\{.*?\})\);\n", script, re.DOTALL)
    return json.loads(match.group(1))


def test_the_legend_has_a_section_per_layer_named_by_its_variable():
    script = assets.map_render_parts(_build(), nonce="n").script
    spec = _legend_spec(script)
    titles = [section["title"] for section in spec["sections"]]
    assert titles == ["每平方公里上报数（社区网格）", "上报热力图", "单元网格",
                      "逐小时上报（最近 7 天）", "未结案件热点", "工会驿站", "工会驿站覆盖范围",
                      "未覆盖的需求"]
    for section in spec["sections"]:  # each names a layer the script declares
        assert re.search(rf"var {section['layer']} = ", script), section["title"]
    assert not any(section.get("empty") for section in spec["sections"])
    heat = spec["sections"][1]["items"][0]
    # The colour saturates at _peak of the counts [3, 1]: the 95th percentile, index 0, is 1.
    assert heat["shape"] == "gradient" and heat["label"] == "少 → 每 100 米网格 1 件或以上上报"


def test_an_empty_layer_says_so_in_its_legend_section(settings):
    settings.MAP_HOTSPOT_MIN_CASES, settings.MAP_HOTSPOT_EPS_M = 10, 50
    with translation.override("en"):
        script = assets.map_render_parts(
            _build(clusters=[], heat_cells=[], stations=[], language="en"), nonce="n").script
    empty = {section["title"]: section.get("empty")
             for section in _legend_spec(script)["sections"]}
    assert empty["Hotspots of open cases"] == (
        "No hotspots in this period: nowhere are 10 or more open cases within 50 m of each "
        "other.")
    assert empty["Reports heatmap"] == "No reports in this period."
    assert empty["Union stations"] == "No union stations here."
    assert not empty["Reports per km² (community grids)"]


def test_only_heat_communities_and_stations_are_on_at_first():
    script = assets.map_render_parts(_build(), nonce="n").script
    # folium adds a layer shown at first to the map in its own statement: `.addTo(map_…)`.
    spec = _legend_spec(script)
    on = [section["title"] for section in spec["sections"]
          if re.search(rf"{section['layer']}\.addTo\(map_\w+\)", script)]
    assert on == ["每平方公里上报数（社区网格）", "上报热力图", "工会驿站"]
