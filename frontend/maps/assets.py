"""Offline and CSP policing of a folium map, and its rendering into our templates.

folium's defaults load Leaflet, jQuery, Bootstrap, Font Awesome and the plugins from five
public CDNs. Every map and plugin element gets ``default_js``/``default_css`` pointing at our
static files (npm packages under vendor/, see the FRONTEND block of the settings), and
``map_assets_check`` refuses a map that still names a URL of another origin. Rendering puts the
page's CSP nonce on every inline script and style, then releases the rendered tree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import folium
from branca.element import Element
from django.templatetags.static import static
from folium.elements import JSCSSMixin

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


def use_static(element: JSCSSMixin, js: Sequence[tuple[str, str]],
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


# folium's Map header forbids zooming the page (maximum-scale=1.0, user-scalable=no): axe's
# meta-viewport (WCAG 1.4.4). The pages' own viewport (base.html) is the one that counts.
FOLIUM_VIEWPORT = re.compile(r'<meta name="viewport"[^>]*user-scalable=no[^>]*>', re.S)


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
        header=_with_nonce(FOLIUM_VIEWPORT.sub("", root.header.render()), nonce),
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
