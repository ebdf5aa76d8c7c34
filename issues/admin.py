"""Admin for categories, riders, reports and cases, with map widgets for the points."""

from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin

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
