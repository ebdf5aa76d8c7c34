"""Admin for the geography, with map widgets."""

from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin

from civicmap.models import CommunityGrid, Subdistrict, UnitGrid


@admin.register(Subdistrict)
class SubdistrictAdmin(GISModelAdmin):
    list_display = ["code", "name_zh", "name_en"]


@admin.register(CommunityGrid)
class CommunityGridAdmin(GISModelAdmin):
    list_display = ["code", "name_zh", "name_en", "subdistrict"]
    search_fields = ["code", "name_zh", "name_en"]


@admin.register(UnitGrid)
class UnitGridAdmin(GISModelAdmin):
    list_display = ["grid_id", "community"]
    list_filter = ["community"]
    search_fields = ["grid_id"]
