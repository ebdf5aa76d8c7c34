"""Small pieces the maps share: JSON for a <script>, calls into civicmap-map.js, labels.

Safety: user text (names, descriptions) reaches the page only as GeoJSON property values, which
folium embeds as JSON with ``<``, ``>``, ``&`` and ``'`` escaped, and which our
civicmap-map.js shows with textContent. No folium Popup/Tooltip is used for data: those put
HTML into a JavaScript template literal, where ``${…}`` in a description would run.
"""

from __future__ import annotations

import html
import json
import re

from branca.element import MacroElement
from django.utils import formats
from django.utils.translation import gettext as _
from folium.template import Template
from folium.utilities import JsCode


def js_value(value: object) -> str:
    """JSON safe inside an HTML <script>: <, >, & and ' escaped (as folium's own filter)."""
    return (json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")
            .replace(">", "\\u003e").replace("&", "\\u0026").replace("'", "\\u0027"))


def details(spec: dict) -> JsCode:
    return JsCode(f"civicmap.details({js_value(spec)})")


class MapCall(MacroElement):
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


def number(value: float, decimals: int = 0) -> str:
    return formats.number_format(round(value, decimals), decimals, use_l10n=True,
                                 force_grouping=True)


def layer_label(text: str) -> str:
    """A layer name: Leaflet's layer control inserts it as HTML."""
    return html.escape(text)


def feature_collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def controls_text() -> dict[str, str]:
    """Leaflet's own control titles (English in Leaflet) in the active language, for
    ``civicmap.controlsLocalise``."""
    return {"zoomIn": _("Zoom in"), "zoomOut": _("Zoom out"), "layers": _("Layers"),
            "legend": _("Legend")}
