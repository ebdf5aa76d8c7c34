"""Admin for categories, riders, reports and cases, with map widgets for the points."""

import segno
from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from civicmap.api.tokens import token_qr_payload
from issues.models import (
    ApiClient,
    Case,
    CaseConfirmation,
    CaseEvent,
    Category,
    CategoryGroup,
    PointsEntry,
    Report,
    ReportPhoto,
    Rider,
)


@admin.register(CategoryGroup)
class CategoryGroupAdmin(admin.ModelAdmin):
    list_display = ["code", "name_zh", "name_en"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = [
        "code", "name_zh", "urgency", "is_private", "handler", "auto_dispatch",
        "merge_radius_m", "merge_window_hours",
    ]
    list_filter = ["urgency", "is_private", "handler", "group"]
    search_fields = ["code", "name_zh", "name_en"]
    filter_horizontal = ["equivalents"]


class PointsEntryInline(admin.TabularInline):
    model = PointsEntry
    extra = 0
    readonly_fields = ["points", "reason", "event_key", "case", "created_at"]


@admin.register(Rider)
class RiderAdmin(admin.ModelAdmin):
    list_display = ["display_name", "member_no", "community", "is_active"]
    list_filter = ["is_active", "community"]
    search_fields = ["display_name", "member_no", "user__username"]
    inlines = [PointsEntryInline]


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active", "created_at"]


class ReportPhotoInline(admin.TabularInline):
    model = ReportPhoto
    extra = 0
    readonly_fields = ["sha256", "image_format", "width", "height", "status"]


@admin.register(Report)
class ReportAdmin(GISModelAdmin):
    list_display = ["id", "category", "channel", "received_at", "community_grid", "case"]
    list_filter = ["channel", "category__group", "community_grid"]
    raw_id_fields = ["case", "reporter", "unit_grid"]
    inlines = [ReportPhotoInline]
    date_hierarchy = "received_at"


class CaseEventInline(admin.TabularInline):
    model = CaseEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "action", "actor", "from_stage", "to_stage", "note", "task"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Case)
class CaseAdmin(GISModelAdmin):
    list_display = ["id", "category", "stage", "community_grid", "report_count", "last_report_at"]
    list_filter = ["stage", "category__group", "community_grid"]
    raw_id_fields = ["follows", "merged_into", "unit_grid"]
    inlines = [CaseEventInline]
    date_hierarchy = "created_at"


@admin.register(CaseConfirmation)
class CaseConfirmationAdmin(admin.ModelAdmin):
    list_display = ["case", "rider", "created_at"]
    raw_id_fields = ["case", "rider", "photo"]


@admin.register(ReportPhoto)
class ReportPhotoAdmin(admin.ModelAdmin):
    list_display = ["id", "report", "status", "image_format", "width", "height"]
    raw_id_fields = ["report"]


# Union staff issue and revoke riders' API tokens here; each token also shows as a QR code
# that the rider page scans to sign in (no typing 40 characters on a phone).
admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class RiderTokenAdmin(TokenAdmin):
    list_display = ["key_hint", "user", "created"]
    readonly_fields = ["qr_code"]
    fields = ["user", "qr_code"]

    @admin.display(description=_("token"))
    def key_hint(self, token: TokenProxy) -> str:
        return f"{token.key[:6]}…"

    @admin.display(description=_("QR code for the rider page"))
    def qr_code(self, token: TokenProxy) -> str:
        if not token.pk:
            return _("Save to issue the token; its QR code shows here.")
        svg = segno.make(token_qr_payload(token.key), error="m").svg_inline(scale=5)
        # segno's SVG holds only the encoded token; no user text reaches this markup.
        return mark_safe(svg)  # noqa: S308


# --- rider recognition: the points ledger ---------------------------------------------------


@admin.register(PointsEntry)
class PointsEntryAdmin(admin.ModelAdmin):
    """The ledger, read-only: entries are written by the lifecycle, never by hand."""

    list_display = ["created_at", "rider", "points", "reason", "case", "event_key"]
    list_filter = ["reason", "rider__community"]
    search_fields = ["rider__display_name", "rider__member_no", "event_key"]
    raw_id_fields = ["rider", "case"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
