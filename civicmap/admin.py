"""Admin for the geography, with map widgets whose assets we serve (no CDN)."""

from django.contrib import admin

from civicmap.models import CommunityGrid, Subdistrict, UnitGrid
from frontend.widgets import OfflineGISModelAdmin


@admin.register(Subdistrict)
class SubdistrictAdmin(OfflineGISModelAdmin):
    list_display = ["code", "name_zh", "name_en"]


@admin.register(CommunityGrid)
class CommunityGridAdmin(OfflineGISModelAdmin):
    list_display = ["code", "name_zh", "name_en", "subdistrict"]
    search_fields = ["code", "name_zh", "name_en"]


@admin.register(UnitGrid)
class UnitGridAdmin(OfflineGISModelAdmin):
    list_display = ["grid_id", "community"]
    list_filter = ["community"]
    search_fields = ["grid_id"]
