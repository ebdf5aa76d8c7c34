"""The admin's map widget, with OpenLayers from our own static files instead of a CDN.

Django's ``OSMWidget`` loads ``ol.js``/``ol.css`` from cdn.jsdelivr.net, so the admin's maps
are blank on a network without the public internet. ``OfflineOSMWidget`` uses the same template
and OLMapWidget.js with OpenLayers from our static files (npm ``ol``, served as vendor/ol/ by
settings.STATICFILES_DIRS and FRONTEND_VENDOR_FILES), and opens on Nanyuan. OpenStreetMap's tiles
are drawn under it only when the site's basemap is OpenStreetMap (``settings.BASEMAP``); with
any other basemap the map has no tiles and reaches no other server (D-074): the geometry
still shows and can be edited.

Every admin of a model with a geometry derives from ``OfflineGISModelAdmin`` (issues, patrol,
stations, civicmap). A geometry the user may not change (a view-only page, or a field in
``readonly_fields``) is drawn on a read-only map too, instead of Django's WKT text.

This module is in the base app: the apps above it (issues, patrol, stations) import it, and it
imports none of them, nor frontend.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.admin import GISModelAdmin
from django.contrib.gis.db.models import GeometryField
from django.contrib.gis.forms.widgets import OSMWidget
from django.db.models import Model
from django.utils.safestring import SafeString


class OfflineOSMWidget(OSMWidget):
    default_lon = 116.395  # degrees east: Nanyuan subdistrict, Fengtai
    default_lat = 39.80  # degrees north
    default_zoom = 13
    template_name = "civicmap/admin/map.html"

    def get_context(self, name, value, attrs) -> dict:
        return {**super().get_context(name, value, attrs), "osm_tiles": settings.BASEMAP == "osm"}

    class Media:
        # extend = False: OSMWidget's own Media would add the CDN links back.
        extend = False
        css = {"all": ("vendor/ol/ol.css", "gis/css/ol3.css")}
        js = ("vendor/ol/ol.js", "gis/js/OLMapWidget.js")


class OfflineOSMReadOnlyWidget(OfflineOSMWidget):
    """The same map with its draw and modify interactions taken away."""

    template_name = "civicmap/admin/readonly_map.html"


class GeometryMap:
    """A geometry shown on a read-only map: an entry of an admin's readonly fields.

    Django accepts callables among readonly fields (called with the object, labelled by
    ``short_description``); the same instance must stand in both the fields and the readonly
    fields, so each admin keeps one per geometry field.
    """

    def __init__(self, field: GeometryField) -> None:
        self.field = field
        self.__name__ = f"{field.name}_map"
        self.short_description = field.verbose_name

    def __call__(self, obj: Model) -> SafeString:
        # "disabled": the template leaves out "Delete all Features"; the textarea's name is not a
        # form field, so whatever is drawn on it is never saved.
        widget = OfflineOSMReadOnlyWidget(attrs={"geom_type": self.field.geom_type,
                                                 "disabled": True})
        return widget.render(self.__name__, getattr(obj, self.field.name),
                             attrs={"id": f"id_{self.__name__}"})


class OfflineGISModelAdmin(GISModelAdmin):
    """GISModelAdmin whose geometry fields use ``OfflineOSMWidget``, read-only ones included."""

    gis_widget = OfflineOSMWidget

    def __init__(self, model, admin_site) -> None:
        super().__init__(model, admin_site)
        self.geometry_maps: dict[str, GeometryMap] = {
            field.name: GeometryMap(field)
            for field in model._meta.concrete_fields if isinstance(field, GeometryField)
        }

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and not self.has_change_permission(request, obj):
            read_only = set(self.geometry_maps)  # a view-only page: every field is read-only
        else:
            read_only = {name for name in fields if isinstance(name, str)}
        return fields + [shown for name, shown in self.geometry_maps.items()
                         if name in read_only and shown not in fields]

    def get_fields(self, request, obj=None):
        read_only = {shown.field.name for shown in self.get_readonly_fields(request, obj)
                     if isinstance(shown, GeometryMap)}
        fields = []
        for name in super().get_fields(request, obj):
            shown = self.geometry_maps[name] if name in read_only else name
            if shown not in fields:
                fields.append(shown)
        return fields

    def render_change_form(self, request, context, add=False, change=False, form_url="",
                           obj=None):
        # A view-only page has no geometry form field to bring the widget's scripts along.
        if self.geometry_maps:
            context["media"] = context["media"] + self.gis_widget().media
        return super().render_change_form(request, context, add=add, change=change,
                                          form_url=form_url, obj=obj)
