"""The case page's small map: where the reports were made and where the proof was taken."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import folium
from django.utils import translation
from django.utils.translation import gettext as _
from folium.utilities import JsCode

from frontend.maps.assets import MAP_JS, map_assets_check
from frontend.maps.basemaps import Basemap, Projector, base_map, point
from frontend.maps.elements import MapCall, details, feature_collection, js_value, layer_label

REPORT_COLOUR = "#1f77b4"
PROOF_COLOUR = "#2ca02c"
CASE_ZOOM_MAX = 17  # a case's reports lie within metres: do not zoom in past the street


@dataclass(frozen=True)
class MapPoint:
    lon: float  # WGS 84
    lat: float
    label: str  # shown as text (textContent), never as markup


def case_map_build(*, reports: Sequence[MapPoint], proof: MapPoint | None, basemap: Basemap,
                   language: str = "zh-hans") -> folium.Map:
    """The reports' points (blue) and the proof photo's position (green, when it has one) on
    ``basemap``, fitted to them, with a legend that says when the proof has no position."""
    projector = Projector(basemap)
    with translation.override(language):
        fmap = base_map(projector, basemap, MAP_JS)
        _points(fmap, projector, reports, REPORT_COLOUR, _("Report points"),
                "civicmap-case-report")
        if proof is not None:
            _points(fmap, projector, [proof], PROOF_COLOUR, _("Hand-in proof"),
                    "civicmap-case-proof")
        corners = [projector.latlon(p.lon, p.lat) for p in [*reports, *([proof] if proof else [])]]
        if corners:
            lats, lons = [c[0] for c in corners], [c[1] for c in corners]
            fmap.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]],
                            max_zoom=CASE_ZOOM_MAX,
                            padding=(30, 30))
        MapCall("scaleBar").add_to(fmap)
        MapCall("legend", {"title": _("On the map"), "sections": [{"title": "", "items": [
            {"colour": REPORT_COLOUR, "shape": "circle", "label": _("Report points")},
            {"colour": PROOF_COLOUR, "shape": "circle",
             "label": _("Hand-in proof") if proof else _("Hand-in proof: no position recorded")},
        ]}]}).add_to(fmap)
    map_assets_check(fmap)
    return fmap


def _points(fmap: folium.Map, projector: Projector, points: Sequence[MapPoint], colour: str,
            name: str, class_name: str) -> None:
    features = [{"type": "Feature", "geometry": point(projector, p.lon, p.lat),
                 "properties": {"label": p.label}} for p in points]
    folium.GeoJson(
        feature_collection(features), name=layer_label(name),
        point_to_layer=JsCode("civicmap.scaledDot(" + js_value({
            "color": "#ffffff", "weight": 2, "fillColor": colour, "fillOpacity": 0.9,
            "className": class_name,
        }) + ")"),
        on_each_feature=details({"tooltip": True, "title": "label", "rows": []}),
    ).add_to(fmap)
