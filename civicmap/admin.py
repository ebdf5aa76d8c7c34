"""Admin for accounts and the geography, with map widgets whose assets we serve (no CDN).

Users and groups are the superuser's alone (civicmap.admin_access), whatever permission a group
holds; what each role sees elsewhere in the admin is written in civicmap.roles.
"""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from civicmap.admin_access import (
    SuperuserOnlyAdminMixin,
    SuperuserOnlyGroupAdmin,
    SuperuserOnlyUserAdmin,
)
from civicmap.admin_widgets import OfflineGISModelAdmin
from civicmap.models import CommunityGrid, Membership, Subdistrict, UnitGrid

admin.site.unregister(get_user_model())
admin.site.unregister(Group)
admin.site.register(get_user_model(), SuperuserOnlyUserAdmin)
admin.site.register(Group, SuperuserOnlyGroupAdmin)


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


@admin.register(Membership)
class MembershipAdmin(SuperuserOnlyAdminMixin, admin.ModelAdmin):
    """Where each staff account works (civicmap.scopes): the superuser's alone, like the
    accounts themselves. No subdistrict: the whole district."""

    list_display = ["user", "subdistrict"]
    list_filter = ["subdistrict"]
    search_fields = ["user__username"]
    raw_id_fields = ["user"]
