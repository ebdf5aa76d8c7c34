"""Admin for categories, riders, reports and cases, with map widgets for the points.

What each role sees here is decided in civicmap.roles. Reports, cases, their events and photos,
confirmations and the points ledger are written by the intake and the lifecycle only: shown
here, never edited (civicmap.admin_access.ServiceWrittenAdminMixin), the superuser included.
"""

import segno
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from civicmap.admin_access import (
    RowScopedAdminMixin,
    ServiceWrittenAdminMixin,
    SubdistrictScopedAdminMixin,
    SuperuserOnlyAdminMixin,
)
from civicmap.admin_widgets import OfflineGISModelAdmin
from civicmap.api.tokens import token_qr_payload
from civicmap.roles import rider_user_filter, staff_user_filter
from civicmap.scopes import EVERYWHERE, in_scope_q, user_subdistrict_ids
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


class PointsEntryInline(ServiceWrittenAdminMixin, admin.TabularInline):
    model = PointsEntry
    extra = 0
    readonly_fields = ["points", "reason", "event_key", "case", "created_at"]


@admin.register(Rider)
class RiderAdmin(RowScopedAdminMixin, admin.ModelAdmin):
    """Union staff keep the riders' profiles: riders' only, never a staff account's."""

    list_display = ["display_name", "member_no", "community", "is_active"]
    list_filter = ["is_active", "community"]
    search_fields = ["display_name", "member_no", "user__username"]
    inlines = [PointsEntryInline]

    def get_queryset(self, request):
        riders = super().get_queryset(request)
        if request.user.is_superuser:
            return riders
        return riders.exclude(staff_user_filter(through="user__"))

    def get_readonly_fields(self, request, obj=None):
        # A profile stays with its account: moving it would hand one rider's points to another.
        return ["user", "joined_at"] if obj is not None else ["joined_at"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user" and not request.user.is_superuser:
            kwargs["queryset"] = get_user_model().objects.exclude(staff_user_filter())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(ApiClient)
class ApiClientAdmin(SuperuserOnlyAdminMixin, admin.ModelAdmin):
    """Open311 clients and their API keys: the superuser's alone (civicmap.roles)."""

    list_display = ["name", "is_active", "created_at"]


class ReportPhotoInline(ServiceWrittenAdminMixin, admin.TabularInline):
    model = ReportPhoto
    extra = 0
    readonly_fields = ["sha256", "image_format", "width", "height", "status"]


@admin.register(Report)
class ReportAdmin(ServiceWrittenAdminMixin, SubdistrictScopedAdminMixin, OfflineGISModelAdmin):
    list_display = ["id", "category", "channel", "received_at", "community_grid", "case"]
    # media_status: the Open311 media fetches that were refused or failed (the fields are
    # read-only, as every field here: ServiceWrittenAdminMixin).
    list_filter = ["channel", "media_status", "category__group", "community_grid"]
    raw_id_fields = ["case", "reporter", "unit_grid"]
    inlines = [ReportPhotoInline]
    date_hierarchy = "received_at"


class CaseEventInline(ServiceWrittenAdminMixin, admin.TabularInline):
    model = CaseEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "action", "actor", "from_stage", "to_stage", "note", "task_id"]


@admin.register(Case)
class CaseAdmin(ServiceWrittenAdminMixin, SubdistrictScopedAdminMixin, OfflineGISModelAdmin):
    """Cases move only through patrol.services.lifecycle (its checks, its events). Office
    staff see their subdistrict's (``SubdistrictScopedAdminMixin``), as everywhere."""

    list_display = ["id", "category", "stage", "community_grid", "report_count", "last_report_at"]
    list_filter = ["stage", "category__group", "community_grid"]
    raw_id_fields = ["follows", "merged_into", "unit_grid"]
    # The workflow's fields, read-only even where a change form is shown (there is none today).
    readonly_fields = ["stage", "merged_into", "follows", "report_count", "reporter_count",
                       "created_at", "last_report_at", "updated_at", "closed_at",
                       "cancel_reason"]
    inlines = [CaseEventInline]
    date_hierarchy = "created_at"


@admin.register(CaseConfirmation)
class CaseConfirmationAdmin(ServiceWrittenAdminMixin, SubdistrictScopedAdminMixin,
                            OfflineGISModelAdmin):
    subdistrict_field = "case__subdistrict"
    list_display = ["case", "rider", "distance_m", "created_at"]
    raw_id_fields = ["case", "rider", "photo"]


@admin.register(ReportPhoto)
class ReportPhotoAdmin(ServiceWrittenAdminMixin, RowScopedAdminMixin, admin.ModelAdmin):
    """The photos of the cases of the user's subdistricts: a report's, a task's proof, a
    confirmation's (civicmap.scopes); every photo for the district and the superuser."""

    list_display = ["id", "report", "status", "image_format", "width", "height"]
    raw_id_fields = ["report"]

    def get_queryset(self, request):
        photos = super().get_queryset(request)
        if user_subdistrict_ids(request.user) is EVERYWHERE:
            return photos
        cases = Case.objects.filter(in_scope_q(request.user))
        return photos.filter(
            in_scope_q(request.user, field="report__subdistrict")
            | Exists(cases.filter(tasks__proof_photo=OuterRef("pk")))
            | Exists(cases.filter(confirmations__photo=OuterRef("pk"))))


# Union staff issue and revoke riders' API tokens here; each token also shows as a QR code
# that the rider page scans to sign in (no typing 40 characters on a phone). A token signs in
# as its user, so a staff account's token is the superuser's alone: for everyone else the
# admin lists, shows, issues and revokes riders' tokens only (civicmap.roles.rider_user_filter).
admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class RiderTokenAdmin(RowScopedAdminMixin, TokenAdmin):
    list_display = ["key_hint", "user", "created"]
    readonly_fields = ["qr_code"]
    fields = ["user", "qr_code"]

    def get_queryset(self, request):
        tokens = super().get_queryset(request)
        if request.user.is_superuser:
            return tokens
        # Deactivated riders' tokens too, so that the union can revoke them.
        return tokens.filter(rider_user_filter(through="user__", active=False))

    def get_readonly_fields(self, request, obj=None):
        # A token belongs to its user: to give someone else one, issue a new token.
        return ["user", "qr_code"] if obj is not None else ["qr_code"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user" and not request.user.is_superuser:
            kwargs["queryset"] = get_user_model().objects.filter(rider_user_filter())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

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
class PointsEntryAdmin(ServiceWrittenAdminMixin, admin.ModelAdmin):
    """The ledger, read-only: entries are written by the lifecycle, never by hand."""

    list_display = ["created_at", "rider", "points", "reason", "case", "event_key"]
    list_filter = ["reason", "rider__community"]
    search_fields = ["rider__display_name", "rider__member_no", "event_key"]
    raw_id_fields = ["rider", "case"]
    date_hierarchy = "created_at"
