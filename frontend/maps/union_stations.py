"""The union's station maps: the subdistrict's stations beside their list, and the editor's pin.

Data are WGS 84; on a GCJ-02 basemap (Amap) every position is shifted by ``Projector`` (the
pin too), and the editor posts the pin's position in the basemap's system for the view to shift
back with ``civicmap.coords.to_wgs84``: one transform each way, never a copy of it.
"""

from __future__ import annotations

from collections.abc import Sequence

import folium
from django.utils import translation
from django.utils.translation import gettext as _

from frontend.maps.assets import MAP_JS, map_assets_check
from frontend.maps.basemaps import Basemap, Projector, base_map
from frontend.maps.elements import MapCall, controls_text
from frontend.maps.layers import station_layers
from stations.layers import StationPin

PIN_ZOOM = 17  # a street and its doorways: where to drop a station's pin
STATIONS_ZOOM_MAX = 16


def union_stations_map_build(*, stations: Sequence[StationPin], basemap: Basemap,
                             language: str = "zh-hans") -> folium.Map:
    """The stations' pins and (switched off at first) their coverage circles, fitted to them;
    the same layers as the governance map's (``station_layers``)."""
    projector = Projector(basemap)
    with translation.override(language):
        fmap = base_map(projector, basemap, MAP_JS)
        station_layers(fmap, projector, stations)
        corners = [projector.latlon(pin.lon, pin.lat) for pin in stations]
        if corners:
            lats, lons = [c[0] for c in corners], [c[1] for c in corners]
            fmap.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]],
                            max_zoom=STATIONS_ZOOM_MAX, padding=(30, 30))
        folium.LayerControl(collapsed=True).add_to(fmap)
        MapCall("controlsLocalise", controls_text()).add_to(fmap)
        MapCall("scaleBar").add_to(fmap)
    map_assets_check(fmap)
    return fmap


def station_pin_map_build(*, lon: float, lat: float, basemap: Basemap,
                          language: str = "zh-hans") -> tuple[folium.Map, str]:
    """A map centred on the station's WGS 84 position with a pin to drag there (shifted onto
    a GCJ-02 basemap); returns it and the pin's JavaScript name, which union-stations.js
    listens to and moves."""
    projector = Projector(basemap)
    with translation.override(language):
        fmap = base_map(projector, basemap, MAP_JS)
        fmap.location = list(projector.latlon(lon, lat))
        fmap.options["zoom"] = PIN_ZOOM
        # ``title`` names the pin, which Leaflet makes a button when it can be dragged.
        pin = folium.Marker(location=list(projector.latlon(lon, lat)), draggable=True,
                            title=_("Drag the pin to the station's door"),
                            icon=folium.Icon(color="blue", icon="mug-hot", prefix="fa"))
        pin.add_to(fmap)
        MapCall("scaleBar").add_to(fmap)
    map_assets_check(fmap)
    return fmap, pin.get_name()
