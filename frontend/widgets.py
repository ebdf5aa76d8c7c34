"""The admin's map widget with OpenLayers from our own static files instead of a CDN.

Django's ``OSMWidget`` loads ``ol.js``/``ol.css`` from cdn.jsdelivr.net, so the admin's maps
break on a network without the public internet. ``OfflineOSMWidget`` uses the same template
and OLMapWidget.js with OpenLayers from frontend/node_modules (npm ``ol``, vendor/ol/), and
opens on Nanyuan. The OpenStreetMap tiles under it are images: without them the geometry still
shows and can be edited.

Admin classes use it by deriving from ``OfflineGISModelAdmin`` instead of ``GISModelAdmin``
(or by setting ``gis_widget = OfflineOSMWidget``).
"""

from __future__ import annotations

from django.contrib.gis.admin import GISModelAdmin
from django.contrib.gis.forms.widgets import OSMWidget


class OfflineOSMWidget(OSMWidget):
    default_lon = 116.395  # degrees east: Nanyuan subdistrict, Fengtai
    default_lat = 39.80  # degrees north
    default_zoom = 13

    class Media:
        # extend = False: OSMWidget's own Media would add the CDN links back.
        extend = False
        css = {"all": ("vendor/ol/ol.css", "gis/css/ol3.css")}
        js = ("vendor/ol/ol.js", "gis/js/OLMapWidget.js")


class OfflineGISModelAdmin(GISModelAdmin):
    """GISModelAdmin whose geometry fields use ``OfflineOSMWidget``."""

    gis_widget = OfflineOSMWidget
