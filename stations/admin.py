"""Admin for stations, with a map widget."""

from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin

from stations.models import Station


@admin.register(Station)
class StationAdmin(GISModelAdmin):
    list_display = ["name_zh", "venue_type", "coverage_radius_m", "is_active"]
    list_filter = ["venue_type", "is_active"]
    search_fields = ["name_zh", "name_en", "address_zh"]
