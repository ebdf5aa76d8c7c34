"""Basemaps: the tiles of each setting, the map on Nanyuan they go under, and the GCJ-02 shift.

The default reaches no foreign server (D-074): Tianditu with its key, else a plain background of
our own community and unit grid outlines (``frontend:map-background``). Every map's attribution
names the map data's sources and nothing else: no "Leaflet" prefix (civicmap-basemap.js).

Coordinates: the data are WGS 84, as are Tianditu's tiles (CGCS2000, within centimetres of it). A
GCJ-02 basemap (Amap) draws streets about 550 m from where WGS 84 puts them; every overlay
coordinate then goes through ``civicmap.coords.wgs84_to_gcj02`` here, in one place
(``Projector``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import folium
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from civicmap.coords import wgs84_to_gcj02
from frontend.maps.assets import MAP_CSS, use_static
from frontend.maps.elements import MapCall, layer_label

NANYUAN_CENTRE = (39.803, 116.393)  # (lat, lon) WGS 84: the middle of the subdistrict
DEFAULT_ZOOM = 14
MIN_ZOOM = 10
MAX_ZOOM = 19
BASEMAP_JS = ("civicmap_basemap", "frontend/civicmap-basemap.js")


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
    # Without tiles: the URL of our grid outlines, drawn as a plain background, and its source.
    background_url: str = ""
    background_attribution: str = ""


def basemap_get(key: str, *, language: str = "zh-hans", tianditu_key: str = "") -> Basemap:
    """The tiles of a basemap setting (osm | amap | tianditu | none), labels in ``language``,
    attributions in the active one.

    Tianditu needs a browser key; without one it falls back to the plain background rather than
    a grid of error images. The key is in the tile URL (the browser sends it to Tianditu).
    """
    english = language.startswith("en")
    if key == "osm":
        return Basemap(key, (TileSpec(
            "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            '&copy; <a href="https://www.openstreetmap.org/copyright">'
            + _("OpenStreetMap contributors") + "</a>",
            subdomains="", max_zoom=19,
        ),), image_hosts=("https://tile.openstreetmap.org",))
    if key == "amap":
        lang = "en" if english else "zh_cn"
        return Basemap(key, (TileSpec(
            "https://webrd0{s}.is.autonavi.com/appmaptile?lang=" + lang
            + "&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
            _("Basemap: AutoNavi"), subdomains="1234", max_zoom=18,
        ),), gcj02=True, image_hosts=("https://*.is.autonavi.com",))
    if key == "tianditu" and tianditu_key:
        labels = "eva" if english else "cva"

        def wmts(layer: str) -> str:
            return (f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                    f"&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                    f"&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={tianditu_key}")

        attribution = _("Basemap: Tianditu")
        return Basemap(key, (
            TileSpec(wmts("vec"), attribution, subdomains="01234567", max_zoom=18),
            # The labels layer names the same source: Leaflet shows an attribution once.
            TileSpec(wmts(labels), attribution, subdomains="01234567", max_zoom=18),
        ), image_hosts=("https://*.tianditu.gov.cn",))
    return Basemap("none", (), background_url=reverse("frontend:map-background"),
                   background_attribution=_("Boundaries: the subdistricts' grid data"))


def basemap_configured(*, language: str) -> Basemap:
    """The basemap of the settings (``BASEMAP``, ``TIANDITU_KEY``): every page's map uses it."""
    return basemap_get(settings.BASEMAP, language=language, tianditu_key=settings.TIANDITU_KEY)


def basemap_spec(basemap: Basemap) -> dict:
    """What civicmap-basemap.js needs to finish a map: the plain background and its source."""
    return {"background": basemap.background_url,
            "attribution": basemap.background_attribution}


class Projector:
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


def point(projector: Projector, lon: float, lat: float) -> dict:
    return {"type": "Point", "coordinates": list(projector.lonlat(lon, lat))}


def base_map(projector: Projector, basemap: Basemap,
              js: Sequence[tuple[str, str]]) -> folium.Map:
    """A map on Nanyuan with our assets and the basemap's tiles (none: the plain background of
    our grid outlines), its attribution naming the sources only."""
    fmap = folium.Map(location=list(projector.latlon(NANYUAN_CENTRE[1], NANYUAN_CENTRE[0])),
                      zoom_start=DEFAULT_ZOOM, tiles=None)
    # Without a tile layer Leaflet knows no zoom limit, which the marker clusters need.
    fmap.options.update(min_zoom=MIN_ZOOM, max_zoom=MAX_ZOOM)
    use_static(fmap, [*js, BASEMAP_JS], MAP_CSS)
    MapCall("basemap", basemap_spec(basemap)).add_to(fmap)
    for index, tiles in enumerate(basemap.tiles):
        folium.TileLayer(
            tiles=tiles.url, attr=tiles.attribution, subdomains=tiles.subdomains or "abc",
            max_zoom=MAX_ZOOM, max_native_zoom=tiles.max_zoom,
            name=layer_label(_("Basemap")) if index == 0 else layer_label(_("Basemap labels")),
            overlay=index > 0, control=index == 0,
        ).add_to(fmap)
    return fmap
