"""The governance map in a real browser: offline, under a strict CSP, with every layer.

Headless Chromium (Debian's) against ``live_server``; requests to any other host are aborted.
"""

from __future__ import annotations

import math
import re

import pytest
from django.utils import timezone

from tests.frontend.conftest import screenshot
from tests.frontend.helpers import (
    HOTSPOT_CATEGORIES,
    XSS_DESCRIPTION,
    XSS_STATION_NAME,
    hostile_station_load,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MAP_URL = "/map/"
# The uncovered demand is the public's too, in cells of at least 5 reports (D-066).
OVERLAYS_ZH = ["社区网格：每平方公里上报数", "单元网格（放大后显示）", "上报热力图",
               "逐小时上报（最近 7 天）", "未结案件热点", "工会驿站", "工会驿站覆盖范围",
               "未覆盖需求：驿站服务半径以外的上报"]
OVERLAYS_EN = ["Community grids: reports per km²", "Unit grids (zoom in)", "Reports heatmap",
               "Reports by hour, last 7 days", "Hotspots of open cases",
               "Union stations", "Union station coverage",
               "Uncovered demand: reports beyond every station"]
# On when the page opens (frontend/README.md, "Default layers").
DEFAULT_ON_ZH = ["社区网格：每平方公里上报数", "上报热力图", "工会驿站"]

# Counts what the map drew, by the classes frontend.maps gives each layer.
COUNT_LAYERS = """() => ({
  community: document.querySelectorAll("path.civicmap-community").length,
  unitgrids: document.querySelectorAll("path.civicmap-unitgrid").length,
  hotspots: document.querySelectorAll("path.civicmap-hotspot").length,
  coverage: document.querySelectorAll("path.civicmap-coverage").length,
  stations: document.querySelectorAll(".leaflet-marker-pane .awesome-marker").length,
  heat: document.querySelectorAll("canvas.leaflet-heatmap-layer").length,
  legend: document.querySelectorAll(".civicmap-legend").length,
  scale: document.querySelectorAll(".leaflet-control-scale").length,
  overlays: Array.from(document.querySelectorAll(
      ".leaflet-control-layers-overlays label > span > span")).map(s => s.textContent.trim()),
  checked: Array.from(document.querySelectorAll(".leaflet-control-layers-overlays label"))
      .filter(l => l.querySelector("input").checked)
      .map(l => l.querySelector("span > span").textContent.trim()),
  legendShown: getComputedStyle(document.querySelector(".civicmap-legend")).display !== "none",
  legendSections: Array.from(document.querySelectorAll(".civicmap-legend-part"))
      .filter(p => getComputedStyle(p).display !== "none")
      .map(p => p.querySelector(".civicmap-legend-section").textContent),
  timeControls: document.querySelectorAll(".leaflet-bar-timecontrol").length,
})"""

# Clicks an overlay's checkbox in the layer control, as a person would (Leaflet listens to it).
SWITCH = """(label) => {
  const labels = Array.from(document.querySelectorAll(".leaflet-control-layers-overlays label"));
  const found = labels.find(l => l.querySelector("span > span").textContent.trim() === label);
  found.querySelector("input").click();
}"""


def _switch(watched, label: str) -> None:
    watched.page.evaluate(SWITCH, label)


def _overlay_click(page, label: str) -> None:
    """Tick or untick an overlay as a user would: open the collapsed layer control, click the
    label holding ``label`` (``_switch`` clicks the input of the label that is exactly it)."""
    page.hover(".leaflet-control-layers")
    page.locator(".leaflet-control-layers-overlays label", has_text=label).click()


def _layers(watched) -> dict:
    return watched.page.evaluate(COUNT_LAYERS)


def test_map_opens_offline_with_its_default_layers_and_no_errors(map_history, open_page):
    """The page in Chromium, axe's audit, then the unit grids fetched (2,241 polygons), drawn
    and zoomed to."""
    from civicmap.models import CommunityGrid
    from stations.models import Station

    watched = open_page(MAP_URL)
    watched.page.wait_for_selector("path.civicmap-community")
    layers = _layers(watched)
    screenshot(watched.page, "map-page.png")

    watched.assert_clean()
    assert watched.axe_violations() == []
    assert layers["overlays"] == OVERLAYS_ZH
    assert layers["checked"] == DEFAULT_ON_ZH
    assert layers["community"] == CommunityGrid.objects.count()  # the whole district's
    assert layers["stations"] == Station.objects.filter(is_active=True).count()
    assert layers["heat"] == 1
    # Off until asked for: hotspots, unit grids, coverage, the hourly heat and its slider.
    assert layers["hotspots"] == layers["unitgrids"] == layers["coverage"] == 0
    assert layers["timeControls"] == 0
    assert layers["legend"] == 1 and layers["scale"] == 1
    assert layers["legendSections"] == ["每平方公里上报数（社区网格）", "上报热力图", "工会驿站"]

    # Unit grids, switched on, are fetched (the page carries their counts only), drawn, and
    # their pane is hidden below the configured zoom.
    fetched = "performance.getEntriesByType('resource').map(entry => entry.name).join(' ')"
    assert "/map/unit-grids/" not in watched.page.evaluate(fetched)
    _switch(watched, "单元网格（放大后显示）")
    watched.page.wait_for_function(
        "() => document.querySelectorAll('path.civicmap-unitgrid').length > 1000")
    assert "/map/unit-grids/" in watched.page.evaluate(fetched)
    assert watched.page.evaluate(
        "getComputedStyle(window.civicmapMap.getPane('unitgrids')).display") == "none"
    # In braces: setZoom returns the map, which Playwright would serialise with every layer.
    watched.page.evaluate("() => { window.civicmapMap.setZoom(16, {animate: false}); }")
    assert watched.page.evaluate(
        "getComputedStyle(window.civicmapMap.getPane('unitgrids')).display") == "block"


def test_the_legend_follows_the_layer_switches(map_history, open_page):
    watched = open_page(MAP_URL)
    watched.page.wait_for_selector("path.civicmap-community")

    _switch(watched, "未结案件热点")
    _switch(watched, "工会驿站覆盖范围")
    layers = _layers(watched)
    assert layers["hotspots"] == 1 and layers["coverage"] > 0
    assert layers["legendSections"] == ["每平方公里上报数（社区网格）", "上报热力图",
                                        "未结案件热点", "工会驿站", "工会驿站覆盖范围"]

    _switch(watched, "上报热力图")
    _switch(watched, "工会驿站")
    layers = _layers(watched)
    assert layers["heat"] == 0 and layers["stations"] == 0
    assert layers["legendSections"] == ["每平方公里上报数（社区网格）", "未结案件热点",
                                        "工会驿站覆盖范围"]

    for label in ("社区网格：每平方公里上报数", "未结案件热点", "工会驿站覆盖范围"):
        _switch(watched, label)
    layers = _layers(watched)
    assert layers["checked"] == [] and layers["legendSections"] == []
    assert not layers["legendShown"]  # no layer on: no legend at all
    watched.assert_clean()


def test_a_layer_with_nothing_says_so(map_history, open_page, settings):
    settings.MAP_HOTSPOT_MIN_CASES = 10  # the default: the four cases at Huaifang are too few
    watched = open_page(MAP_URL)
    page = watched.page
    page.wait_for_selector("path.civicmap-community")
    _switch(watched, "未结案件热点")
    layers = _layers(watched)
    assert layers["hotspots"] == 0 and "未结案件热点" in layers["legendSections"]
    empty = page.locator(".civicmap-legend-is-empty .civicmap-legend-empty")
    assert empty.count() == 1 and empty.is_visible()
    assert empty.text_content() == (
        "本期间没有热点：没有哪里有 10 件或以上相距 50 米以内的未结案件。")
    # The same in the table of the map's numbers.
    assert "本期间没有热点。" in page.locator("#civicmap-hotspot-table").text_content()
    watched.assert_clean()


def test_the_time_slider_shows_only_with_its_layer_in_the_pages_language(map_history, open_page):
    for locale, label, play, speed in (("zh-CN", "逐小时上报（最近 7 天）", "播放", "每秒 1 帧"),
                                       ("en", "Reports by hour, last 7 days", "Play",
                                        "1 frames a second")):
        watched = open_page(MAP_URL, locale=locale)
        page = watched.page
        page.wait_for_selector("path.civicmap-community")
        assert _layers(watched)["timeControls"] == 0
        _switch(watched, label)
        page.wait_for_function("() => window.civicmap.onDemandState.hourly === 'loaded'")
        control = page.locator(".leaflet-bar-timecontrol")
        assert control.count() == 1
        assert control.locator(".timecontrol-play.play").get_attribute("title") == play
        assert control.locator(".timecontrol-play.play").get_attribute("aria-label") == play
        assert control.locator(".timecontrol-speed").text_content().strip() == speed
        assert "fps" not in control.text_content()
        assert label in _layers(watched)["legendSections"]
        assert watched.axe_violations() == []
        _switch(watched, label)
        assert _layers(watched)["timeControls"] == 0
        watched.assert_clean()


def test_leaflets_controls_speak_the_pages_language(map_history, open_page):
    for locale, zoom_in, zoom_out, layers in (("zh-CN", "放大", "缩小", "图层"),
                                              ("en", "Zoom in", "Zoom out", "Layers")):
        watched = open_page(MAP_URL, locale=locale)
        page = watched.page
        page.wait_for_selector("path.civicmap-community")
        assert page.get_attribute(".leaflet-control-zoom-in", "title") == zoom_in
        assert page.get_attribute(".leaflet-control-zoom-in", "aria-label") == zoom_in
        assert page.get_attribute(".leaflet-control-zoom-out", "title") == zoom_out
        assert page.get_attribute(".leaflet-control-layers-toggle", "title") == layers
        assert page.get_attribute(".leaflet-control-layers-toggle", "aria-label") == layers


def test_an_invalid_filter_is_answered_with_the_forms_error(map_history, open_page, client):
    """days=5 is not a period on offer: 400, the error beside the field, "5" still in it (not
    the first option, "最近 24 小时"), the page says the map shows that filter's default, and
    the map does: the valid category over the default 30 days."""
    page = client.get(MAP_URL, {"days": "5"})
    assert page.status_code == 400
    html = page.content.decode()
    assert 'id="days-error"' in html and 'aria-describedby="days-error"' in html
    assert '<option value="5" selected>5（无效）</option>' in html

    watched = open_page(MAP_URL + "?days=5&category=C0401")
    browser = watched.page
    browser.wait_for_selector("path.civicmap-community")
    assert browser.locator("#id_days option:checked").text_content() == "5（无效）"
    assert browser.locator("#id_category option:checked").text_content().startswith("C0401")
    error = browser.locator("#days-error")
    assert error.is_visible() and "5" in error.text_content()
    assert browser.locator("[role=alert]").text_content() == (
        "标为无效的筛选条件，地图按默认值显示（最近 30 天、所有类别、整个区）。")
    assert watched.axe_violations() == []
    # C0401's six reports at Chengyuan over the last 10 days: all six in 30 days (one in 24 h).
    from issues.models import Report

    assert Report.objects.filter(category__code="C0401").count() == 6
    assert sum(int(cell) for cell in browser.locator(
        "#civicmap-community-table tbody td:nth-child(2)").all_text_contents()) == 6


def test_coverage_circles_are_true_metres_on_screen(map_history, open_page):
    """A station's circle spans 2 × its radius in metres: pixels measured on the drawn SVG
    against the Web Mercator scale at its latitude (earth circumference 40,075,016.686 m)."""
    watched = open_page(MAP_URL)
    watched.page.wait_for_selector("path.civicmap-community")
    _switch(watched, "工会驿站覆盖范围")
    watched.page.wait_for_selector("path.civicmap-coverage")
    zoom = 15
    circles = watched.page.evaluate("""(zoom) => {
        const map = window.civicmapMap;
        map.setZoom(zoom, {animate: false});
        const out = [];
        map.eachLayer(layer => {
            if (layer instanceof L.Circle && layer.options.className === "civicmap-coverage") {
                // Leaflet draws only what is in view: circles off screen have no width.
                const inView = map.getBounds().contains(layer.getBounds());
                const rect = layer.getElement().getBoundingClientRect();
                out.push({lat: layer.getLatLng().lat, radius_m: layer.getRadius(),
                          width: rect.width, inView: inView});
            }
        });
        return out;
    }""", zoom)
    from stations.models import Station

    assert len(circles) == Station.objects.filter(is_active=True).count()
    measured = [circle for circle in circles if circle["inView"]]
    assert len(measured) >= 10
    for circle in measured:
        metres_per_pixel = 40_075_016.686 * math.cos(math.radians(circle["lat"])) / (256 * 2**zoom)
        expected_px = 2 * circle["radius_m"] / metres_per_pixel
        assert circle["width"] == pytest.approx(expected_px, rel=0.01)


def test_map_sends_a_strict_csp_with_a_fresh_nonce(map_history, client):
    first = client.get(MAP_URL)
    second = client.get(MAP_URL)
    policy = first.headers["Content-Security-Policy"]
    script_src = next(d for d in policy.split("; ") if d.startswith("script-src"))
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    nonce = script_src.split("'nonce-")[1].rstrip("'")
    assert policy != second.headers["Content-Security-Policy"]
    html = first.content.decode()
    inline = re.findall(r"<(script|style)(?![^>]*\ssrc=)([^>]*)>", html)
    assert len(inline) > 5
    assert all(f'nonce="{nonce}"' in attributes for _tag, attributes in inline)
    sources = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', html)
    assert sources and all(url.startswith("/") and not url.startswith("//") for url in sources)


def test_public_map_hides_private_categories_and_descriptions(map_history, client):
    html = client.get(MAP_URL).content.decode()
    assert "hotspot case" not in html and "private need" not in html
    assert "L0101" not in html  # not even in the category filter
    # The uncovered demand is there, hidden, in the public's cells (k reports or more).
    assert "civicmap-uncovered" in html and "rounded down" not in html  # Chinese by default


def test_office_map_adds_descriptions_and_uncovered_demand(map_history, client):
    from django.contrib.auth import get_user_model

    from stations.models import Station

    Station.objects.update(coverage_radius_m=1)  # metres: then no report is within reach
    client.force_login(get_user_model().objects.get(username="office1"))
    html = client.get(MAP_URL).content.decode()
    assert "private need" in html and "L0101" in html
    assert "civicmap-uncovered" in html and "骑手诉求" in html


def test_user_text_is_shown_as_text_and_runs_nothing(map_history, open_page, session_for):
    station = hostile_station_load()
    watched = open_page(MAP_URL, session=session_for("office1"))
    page = watched.page
    page.wait_for_selector("path.civicmap-community")
    _switch(watched, "未结案件热点")
    page.wait_for_selector("path.civicmap-hotspot")

    # The hotspot popup lists the newest case's description, exactly as typed. Zoomed in, a
    # click inside the circle (off its centre, where a station's marker may sit) opens it.
    page.evaluate("""() => {
        const map = window.civicmapMap;
        map.eachLayer(layer => {
            const properties = layer.feature && layer.feature.properties;
            if (properties && properties.radius_m && properties.title)
                map.setView(layer.getLatLng(), 18, {animate: false});
        });
    }""")
    hotspot = page.wait_for_selector("path.civicmap-hotspot")
    box = hotspot.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.5)
    popup = page.wait_for_selector(".leaflet-popup-content")
    assert XSS_DESCRIPTION in popup.text_content()
    assert popup.query_selector("script, img") is None
    page.evaluate("() => { window.civicmapMap.closePopup(); }")  # not the map, returned
    page.wait_for_selector(".leaflet-popup-content", state="detached")  # after its fade

    # The station's name and address too.
    page.evaluate("""(name) => { window.civicmapMap.eachLayer(layer => {
        if (layer.feature && layer.feature.properties.name === name) { layer.openPopup(); }
    }); }""", XSS_STATION_NAME)
    popup = page.wait_for_selector(".leaflet-popup-content")
    assert XSS_STATION_NAME in popup.text_content()
    assert '<b onmouseover="window.__xss = 1">丰台区</b>' in popup.text_content()
    assert popup.query_selector("script, img, b") is None
    screenshot(page, "map-page-hostile-text.png")

    assert page.evaluate("window.__xss") is None
    watched.assert_clean()
    assert watched.axe_violations() == []  # office staff's map, every layer of theirs
    assert station.pk


def test_english_is_one_switch_away(map_history, open_page):
    watched = open_page(MAP_URL)
    page = watched.page
    with page.expect_navigation():
        page.select_option("#civicmap-language", "en")
    page.wait_for_selector("path.civicmap-community")
    assert _layers(watched)["overlays"] == OVERLAYS_EN
    assert page.evaluate("document.documentElement.lang") == "en"
    watched.assert_clean()


def test_overlays_show_when_tiles_cannot_load(map_history, open_page, settings):
    settings.BASEMAP = "osm"
    blocked_types: list[str] = []
    watched = open_page(MAP_URL, blocked_types=blocked_types)
    watched.page.wait_for_selector("path.civicmap-community")
    layers = _layers(watched)
    from civicmap.models import CommunityGrid
    from stations.models import Station

    assert layers["community"] == CommunityGrid.objects.count()
    assert layers["stations"] == Station.objects.filter(is_active=True).count()
    assert blocked_types and set(blocked_types) == {"image"}  # only the tiles went elsewhere
    assert all("tile.openstreetmap.org" in url for url in watched.blocked)
    watched.assert_clean(allow_blocked_images=True)


def test_hotspot_categories_are_public_ones(map_history):
    from issues.layers import case_hotspots, map_filters_for_period

    filters = map_filters_for_period(now=timezone.now(), days=30)
    (hotspot,) = case_hotspots(filters=filters, eps_m=50, min_cases=3)
    assert hotspot.case_count == len(HOTSPOT_CATEGORIES)


def _mercator_pixel(lon: float, lat: float, zoom: int) -> tuple[float, float]:
    """Global Web Mercator pixel at ``zoom`` with 256-pixel XYZ tiles (Amap's scheme too)."""
    scale = 256 * 2**zoom
    return ((lon + 180) / 360 * scale,
            (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * scale)


PIXEL_STATION = (116.3954, 39.8060)  # (lon, lat) WGS 84, a station placed for this test

MEASURE_MARKER_ON_TILE = """([name, zoom]) => new Promise(resolve => {
    const map = window.civicmapMap;
    let marker;
    map.eachLayer(layer => {
        if (layer.feature && layer.feature.properties.name === name && layer.getLatLng) {
            marker = layer;
        }
    });
    map.setView(marker.getLatLng(), zoom, {animate: false});
    setTimeout(() => {
        const box = map.getContainer().getBoundingClientRect();
        const icon = marker.getElement().getBoundingClientRect();
        const anchor = marker.options.icon.options.iconAnchor;
        const tiles = Array.from(document.querySelectorAll("img.leaflet-tile")).map(img => {
            const rect = img.getBoundingClientRect();
            return {src: img.getAttribute("src"), x: rect.left - box.left, y: rect.top - box.top};
        });
        resolve({x: icon.left - box.left + anchor[0], y: icon.top - box.top + anchor[1], tiles});
    }, 300);
})"""


def test_amap_overlays_land_on_the_right_pixel_of_the_gcj02_tiles(map_history, open_page,
                                                                   settings):
    """With Amap's GCJ-02 tiles, a station is drawn on the tile pixel where the reference
    GCJ-02 transform (PyPI coordTransform) and Web Mercator put its WGS 84 position."""
    from coordTransform import wgs84_to_gcj02 as reference_wgs84_to_gcj02

    from stations.services import station_upsert

    settings.BASEMAP = "amap"
    station_upsert(name_zh="像素测试驿站", name_en="Pixel test station", venue_type="bank",
                   address_zh="", lon=PIXEL_STATION[0], lat=PIXEL_STATION[1],
                   opening_hours=[], services=[])
    watched = open_page(MAP_URL)
    watched.page.wait_for_selector("path.civicmap-community")
    zoom = 17
    drawn = watched.page.evaluate(MEASURE_MARKER_ON_TILE, ["像素测试驿站", zoom])

    x, y = _mercator_pixel(*reference_wgs84_to_gcj02(*PIXEL_STATION), zoom)
    tile_x, tile_y = int(x // 256), int(y // 256)
    tile = next(t for t in drawn["tiles"]
                if f"x={tile_x}&y={tile_y}&z={zoom}" in t["src"].replace("&amp;", "&"))
    assert "autonavi.com" in tile["src"]
    # The marker's tip sits at the expected pixel within that Amap tile (to a pixel).
    assert abs(drawn["x"] - tile["x"] - (x - tile_x * 256)) <= 1
    assert abs(drawn["y"] - tile["y"] - (y - tile_y * 256)) <= 1
    watched.assert_clean(allow_blocked_images=True)


HOURLY_POINTS = """() => {
  let points = null;
  window.civicmapMap.eachLayer(layer => {
    if (Array.isArray(layer.data) && layer._timeDimension) {
      points = layer.data.reduce((sum, frame) => sum + frame.length, 0);
    }
  });
  return points;
}"""


def test_hidden_layers_are_fetched_once_when_switched_on(map_history, open_page, session_for):
    from stations.models import Station

    Station.objects.update(coverage_radius_m=1)  # metres: then almost no report is within reach
    watched = open_page(MAP_URL, session=session_for("office1"))
    page = watched.page
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url.split("/", 3)[3]))
    page.wait_for_selector("path.civicmap-community")
    assert page.evaluate("window.civicmap.onDemandState") == {}
    assert page.query_selector("path.civicmap-uncovered") is None

    _overlay_click(page, "逐小时上报（最近 7 天）")
    page.wait_for_function("() => window.civicmap.onDemandState.hourly === 'loaded'")
    assert page.evaluate(HOURLY_POINTS) > 0
    _overlay_click(page, "未覆盖需求：驿站服务半径以外的上报")
    page.wait_for_function("() => window.civicmap.onDemandState.uncovered === 'loaded'")
    page.wait_for_selector("path.civicmap-uncovered")
    # Off and on again: drawn from what was fetched, not fetched again.
    _overlay_click(page, "逐小时上报（最近 7 天）")
    _overlay_click(page, "逐小时上报（最近 7 天）")
    assert page.evaluate(HOURLY_POINTS) > 0
    assert [url for url in fetched if url.startswith("map/")] == [
        "map/hourly/", "map/uncovered/?days=30"]
    watched.assert_clean()
