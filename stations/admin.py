"""Admin for stations: a map widget, GeoJSON/CSV import and export, check-in codes and visits.

The import goes through ``stations.services.stations_import``: the same checks as the API, and
all rows or none.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from civicmap.admin_access import ServiceWrittenAdminMixin, SubdistrictScopedAdminMixin
from civicmap.admin_widgets import OfflineGISModelAdmin
from civicmap.errors import FieldError, InvalidInput
from civicmap.scopes import user_covers
from civicmap.selectors import grid_locate, service_area_covers
from stations.io import (
    MAX_IMPORT_BYTES,
    MSG_FILE_TOO_LARGE,
    rows_from_upload,
    stations_to_csv,
    stations_to_geojson,
)
from stations.models import CheckIn, Station, StationToken
from stations.services import (
    MSG_NOT_YOURS,
    MSG_OUTSIDE,
    station_token_rotate,
    station_validate,
    stations_import,
)
from stations.tokens import token_qr_payload

MSG_IMPORTED = _("Imported %(created)d new and %(updated)d updated stations.")
MSG_IMPORT_REFUSED = _("Nothing was imported. Fix these rows and upload the file again:")
MSG_ROTATED = _("New check-in codes for %(count)d stations: print and post the new QR codes.")


class StationImportForm(forms.Form):
    file = forms.FileField(
        label=_("GeoJSON or CSV file"),
        help_text=_("The same columns as the export. All rows are saved, or none."),
    )


class StationAdminForm(forms.ModelForm):
    """The admin's form checks a station exactly as the API does (``station_validate``), and
    its place against the subdistricts of ``user`` (set by ``StationAdmin.get_form``)."""

    user = None

    class Meta:
        model = Station
        fields = ["name_zh", "name_en", "venue_type", "address_zh", "location", "opening_hours",
                  "closed_on_holidays", "services", "coverage_radius_m", "is_active"]

    def clean(self) -> dict:
        data = super().clean()
        location = data.get("location")
        try:
            cleaned = station_validate(
                name_zh=data.get("name_zh"), name_en=data.get("name_en"),
                venue_type=data.get("venue_type"), address_zh=data.get("address_zh") or "",
                lon=location.x if location else None, lat=location.y if location else None,
                opening_hours=data.get("opening_hours"), services=list(data.get("services") or []),
                coverage_radius_m=data.get("coverage_radius_m"),
                is_active=data.get("is_active"),
                closed_on_holidays=data.get("closed_on_holidays"),
            )
        except InvalidInput as exc:
            for error in exc.errors:
                # "opening_hours.3" (an interval, named in the message) is the field's error
                named = (error.field or "").split(".")[0]
                field = named if named in self.fields else None
                if field is None or field not in self.errors:
                    self.add_error(field, str(error.message))
        else:
            data["opening_hours"] = cleaned["opening_hours"]  # as stored: without "next_day"
        if location is not None and not service_area_covers(point=location):
            self.add_error("location", str(MSG_OUTSIDE))
        elif location is not None and self.user is not None:
            place = grid_locate(point=location)
            if place is not None and not user_covers(self.user, place.subdistrict_id):
                self.add_error("location", str(MSG_NOT_YOURS))
        return data


class StationTokenInline(admin.TabularInline):
    model = StationToken
    fields = ["short_code", "created_at", "created_by", "revoked_at", "qr_payload"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-created_at"]

    @admin.display(description=_("QR code text"))
    def qr_payload(self, token: StationToken) -> str:
        if token.revoked_at is not None:
            return "—"
        return token_qr_payload(station_id=token.station_id, short_code=token.short_code)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Station)
class StationAdmin(SubdistrictScopedAdminMixin, OfflineGISModelAdmin):
    """Union staff see and edit their subdistrict's stations; the district union every one."""

    form = StationAdminForm
    list_display = ["name_zh", "venue_type", "coverage_radius_m", "is_active", "qr_link"]
    list_filter = ["venue_type", "is_active"]
    search_fields = ["name_zh", "name_en", "address_zh"]
    actions = ["export_geojson", "export_csv", "rotate_codes"]
    inlines = [StationTokenInline]
    change_list_template = "admin/stations/station/change_list.html"

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.user = request.user  # on the class made for this request
        return form

    def get_urls(self):
        extra = [
            path("import/", self.admin_site.admin_view(self.import_view),
                 name="stations_station_import"),
        ]
        return extra + super().get_urls()

    @admin.display(description=_("QR code"))
    def qr_link(self, station: Station) -> str:
        return format_html('<a href="/api/v1/stations/{}/token/qr.svg">SVG</a>', station.pk)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request) or not self.has_change_permission(request):
            return HttpResponseRedirect(reverse("admin:stations_station_changelist"))
        form = StationImportForm(request.POST or None, request.FILES or None)
        errors: list[str] = []
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                if upload.size > MAX_IMPORT_BYTES:  # before reading it into memory
                    raise InvalidInput(FieldError("file", "too_large", MSG_FILE_TOO_LARGE))
                result = stations_import(
                    rows=rows_from_upload(name=upload.name, content=upload.read()),
                    actor=request.user,
                )
            except InvalidInput as exc:
                errors = [f"{error.field}: {error.message}" for error in exc.errors]
                messages.error(request, MSG_IMPORT_REFUSED)
            else:
                messages.success(request, MSG_IMPORTED % {
                    "created": result.created, "updated": result.updated,
                })
                return HttpResponseRedirect(reverse("admin:stations_station_changelist"))
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta,
            "form": form, "errors": errors, "title": _("Import stations"),
        }
        return TemplateResponse(request, "admin/stations/station/import.html", context)

    @admin.action(description=_("Export the selected stations as GeoJSON"))
    def export_geojson(self, request, queryset) -> HttpResponse:
        response = HttpResponse(stations_to_geojson(queryset.order_by("name_zh")),
                                content_type="application/geo+json")
        response["Content-Disposition"] = 'attachment; filename="stations.geojson"'
        return response

    @admin.action(description=_("Export the selected stations as CSV"))
    def export_csv(self, request, queryset) -> HttpResponse:
        response = HttpResponse(stations_to_csv(queryset.order_by("name_zh")),
                                content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="stations.csv"'
        return response

    @admin.action(description=_("Issue new check-in codes (the old QR codes stop working)"),
                  permissions=["change"])
    def rotate_codes(self, request, queryset) -> None:
        for station in queryset:
            station_token_rotate(station=station, actor=request.user)
        messages.success(request, MSG_ROTATED % {"count": queryset.count()})


@admin.register(CheckIn)
class CheckInAdmin(ServiceWrittenAdminMixin, SubdistrictScopedAdminMixin, OfflineGISModelAdmin):
    """Visits, written by stations.services.checkin_create only; a subdistrict's union staff
    see its stations' visits."""

    subdistrict_field = "station__subdistrict"

    list_display = ["at", "station", "rider", "method", "distance_m"]
    list_filter = ["method", "station"]
    date_hierarchy = "at"
    search_fields = ["station__name_zh", "rider__username"]
    readonly_fields = ["rider", "station", "token", "method", "at", "hour_bucket", "position",
                       "distance_m", "accuracy_m"]
