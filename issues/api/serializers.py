"""Input and output serializers of the issues API (thin: the services hold the rules)."""

from __future__ import annotations

from django.contrib.gis.geos import Point
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from civicmap.api.fields import QueryTimeField, SubdistrictField
from civicmap.api.paging import offset_field, page_field
from civicmap.i18n import name_field
from issues.models import CaseAction, Category, Report, Stage
from issues.selectors import PUBLIC_PAGE_SIZE_MAX, REPORT_STATES, photo_url
from issues.visibility import note_for_reporters

COORD_SYSTEMS = ["wgs84", "gcj02", "bd09"]
# The most of "my reports" one answer holds: also the default, the whole list as before paging.
MY_REPORTS_MAX = 200


class FiniteFloatField(serializers.FloatField):
    default_error_messages = {"invalid": _("A finite number is required.")}

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value != value or value in (float("inf"), float("-inf")):  # NaN or infinite
            self.fail("invalid")
        return value


class ReportCreateInput(serializers.Serializer):
    """The phone form, for the OpenAPI description: the intake service parses and checks it,
    so that one answer names every bad field."""

    category = serializers.CharField(help_text="category code, e.g. E0101")
    description = serializers.CharField(required=False, help_text="at most 2,000 characters")
    lon = serializers.FloatField(required=False)
    lat = serializers.FloatField(required=False)
    coord_system = serializers.ChoiceField(choices=COORD_SYSTEMS, required=False)
    accuracy_m = serializers.FloatField(required=False)
    photos = serializers.ListField(child=serializers.FileField(), required=False,
                                   help_text="1 to 4 JPEG, PNG or WebP photos, 10 MB each")
    client_uuid = serializers.UUIDField()
    captured_at = serializers.DateTimeField(required=False)


class LocationQuery(serializers.Serializer):
    lon = FiniteFloatField(min_value=-180, max_value=180)
    lat = FiniteFloatField(min_value=-90, max_value=90)
    coord_system = serializers.ChoiceField(choices=COORD_SYSTEMS, default="wgs84")


class NearbyQuery(LocationQuery):
    category = serializers.CharField()


class ConfirmInput(LocationQuery):
    """Where the rider is (the device's position, as for a report) and an optional photo."""

    client_uuid = serializers.UUIDField(required=False)
    photo = serializers.FileField(required=False)


class MyReportsQuery(serializers.Serializer):
    """A page of "my reports": ``state`` open | closed | all, ``limit`` and ``offset``."""

    state = serializers.ChoiceField(choices=REPORT_STATES, default="all")
    limit = serializers.IntegerField(min_value=1, max_value=MY_REPORTS_MAX, default=MY_REPORTS_MAX)
    offset = offset_field()


class PublicListQuery(serializers.Serializer):
    bbox = serializers.CharField(required=False, help_text="min_lon,min_lat,max_lon,max_lat")
    subdistrict = SubdistrictField(required=False)
    community = serializers.CharField(required=False)
    unit_grid = serializers.CharField(required=False)
    category = serializers.CharField(required=False, help_text="comma-separated codes")
    stage = serializers.CharField(required=False, help_text="comma-separated stages")
    since = QueryTimeField(required=False)
    until = QueryTimeField(required=False)
    page = page_field()
    page_size = serializers.IntegerField(required=False, min_value=1,
                                         max_value=PUBLIC_PAGE_SIZE_MAX, default=100)

    def validate_bbox(self, value: str) -> tuple[float, float, float, float]:
        try:
            numbers = tuple(float(part) for part in value.split(","))
        except ValueError:
            numbers = ()
        if len(numbers) != 4 or not (
            -180 <= numbers[0] < numbers[2] <= 180 and -90 <= numbers[1] < numbers[3] <= 90
        ):
            raise serializers.ValidationError(
                _("bbox is min_lon,min_lat,max_lon,max_lat with min below max.")
            )
        return numbers  # type: ignore[return-value]

    def validate_stage(self, value: str) -> tuple[str, ...]:
        stages = tuple(part for part in value.split(",") if part)
        unknown = [stage for stage in stages if stage not in Stage.values]
        if unknown:
            raise serializers.ValidationError(_("Unknown stage: %(stage)s.") % {
                "stage": ", ".join(unknown)})
        return stages

    def validate_category(self, value: str) -> tuple[str, ...]:
        return tuple(part for part in value.split(",") if part)


class CategoryOutput(serializers.ModelSerializer):
    name = serializers.SerializerMethodField()
    group = serializers.CharField(source="group.code")
    group_name = serializers.SerializerMethodField()
    kind = serializers.CharField()
    private = serializers.BooleanField(source="is_private")

    class Meta:
        model = Category
        fields = ["code", "name", "name_zh", "name_en", "kind", "group", "group_name", "icon",
                  "urgency", "private", "photo_optional"]

    def get_name(self, category: Category) -> str:
        return getattr(category, name_field())

    def get_group_name(self, category: Category) -> str:
        return getattr(category.group, name_field())


def _photos(report: Report) -> list[dict]:
    return [
        {
            "id": photo.pk, "status": photo.status,
            "display_url": photo_url(photo.pk, "display") if photo.status == "ready" else None,
            "thumbnail_url": photo_url(photo.pk, "thumbnail") if photo.status == "ready" else None,
        }
        for photo in report.photos.all()
    ]


def point_geojson(point: Point, *, precision: int) -> dict:
    """A point as GeoJSON, its coordinates rounded to ``precision`` decimals: what
    rest_framework_gis's ``GeometryField(precision=…)`` gives, without its trip through OGR's
    GeoJSON text and back (3 % of an intake's CPU, docs/BENCHMARKS.md §2)."""
    lon, lat = point.coords
    return {"type": "Point", "coordinates": [round(lon, precision), round(lat, precision)]}


class ReportFeatureOutput(serializers.Serializer):
    """The answer to a report post: a GeoJSON Feature of the report, for its rider."""

    def to_representation(self, report: Report) -> dict:
        label = name_field()
        return {
            "type": "Feature",
            "id": report.pk,
            "geometry": point_geojson(report.location, precision=6),
            "properties": {
                "category": report.category.code,
                "category_name": getattr(report.category, label),
                "description": report.description,
                "subdistrict": report.subdistrict.code,
                "community_grid": {
                    "code": report.community_grid.code,
                    "name": getattr(report.community_grid, label),
                } if report.community_grid else None,
                "unit_grid": report.unit_grid.grid_id if report.unit_grid else None,
                "case": report.case_id,
                "joined_existing_case": report.joined_existing_case,
                "status": report.case.stage,
                "location_source": report.location_source,
                "location_flagged": report.location_flagged,
                "sent": {"lon": report.sent_lon, "lat": report.sent_lat,
                         "coord_system": report.sent_coord_system},
                "client_uuid": str(report.client_uuid) if report.client_uuid else None,
                "received_at": report.received_at,
                "photos": _photos(report),
            },
        }


# CaseEvent.action values a rider may see of their own case (not assignments, not others'
# confirmations, not the office's internal notes): every lifecycle action
# (issues.models.CaseAction) but assign, split and add_note.
PUBLIC_EVENT_ACTIONS = {"created", "report_merged",
                        *(set(CaseAction) - {CaseAction.ASSIGN, CaseAction.SPLIT,
                                             CaseAction.ADD_NOTE})}


class MyReportOutput(ReportFeatureOutput):
    """A rider's own report with its case's history (actions and times, no staff names; of the
    notes only those written to the reporters, ``issues.visibility.note_for_reporters``)."""

    def to_representation(self, report: Report) -> dict:
        feature = super().to_representation(report)
        feature["properties"]["history"] = [
            {"action": event.action, "stage": event.to_stage or None, "at": event.at,
             "note": event.note if note_for_reporters(event) and event.note else None}
            for event in report.case.events.all() if event.action in PUBLIC_EVENT_ACTIONS
        ]
        return feature
