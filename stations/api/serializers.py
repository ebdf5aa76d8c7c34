"""Input serializers of the stations API (thin: the services and selectors hold the rules)."""

from __future__ import annotations

import math
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from civicmap import coords
from civicmap.api.fields import MSG_UNKNOWN_SUBDISTRICT, QueryTimeField, SubdistrictField
from civicmap.errors import FieldError, PermissionRefused
from civicmap.scopes import user_covers
from stations.models import MAX_COVERAGE_RADIUS_M, Service
from stations.selectors import (
    DEFAULT_NEED_WEIGHT,
    DEFAULT_REPORT_WEIGHT,
    DEMAND_CELL_M,
    HOTSPOTS_DEFAULT,
    NEAREST_LIMIT,
    Period,
    subdistrict_default,
)
from stations.services import MSG_UNKNOWN_SERVICE

COORD_SYSTEMS = [system.value for system in coords.CoordSystem]
DEFAULT_PERIOD_DAYS = 90
MAX_SITING_K = 20
MAX_VENUES = 500
MAX_WHAT_IF_STATIONS = 50  # stations added, moved or removed in one what-if, each
WHAT_IF_DAYS = [30, 90, 365]  # the coverage page's periods, in days

MSG_NOT_A_NUMBER = _("A finite number is required.")
MSG_PERIOD_ORDER = _("since must be before until.")
MSG_NOT_YOUR_PLACE = _("You do not work for this subdistrict.")


class FiniteFloatField(serializers.FloatField):
    default_error_messages = {"invalid": MSG_NOT_A_NUMBER}

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value


class ServiceField(serializers.ChoiceField):
    def __init__(self, **kwargs) -> None:
        super().__init__(choices=Service.choices, **kwargs)

    def to_internal_value(self, data):
        if data not in Service.values:
            raise serializers.ValidationError(str(MSG_UNKNOWN_SERVICE % {"service": data}),
                                              code="invalid")
        return data


class PositionQuery(serializers.Serializer):
    """A position as a phone sends it; ``wgs84`` holds it converted to WGS 84 (lon, lat)."""

    lon = FiniteFloatField(min_value=-180, max_value=180)
    lat = FiniteFloatField(min_value=-90, max_value=90)
    coord_system = serializers.ChoiceField(choices=COORD_SYSTEMS, default="wgs84")

    def validate(self, attrs: dict) -> dict:
        attrs["wgs84"] = coords.to_wgs84(attrs["lon"], attrs["lat"], attrs["coord_system"])
        return attrs


class NearestQuery(PositionQuery):
    service = ServiceField(required=False)
    open_now = serializers.BooleanField(required=False, default=False)
    at = QueryTimeField(required=False, help_text="default: now (for open_now)")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=NEAREST_LIMIT,
                                     default=NEAREST_LIMIT)


class ListQuery(serializers.Serializer):
    subdistrict = SubdistrictField(required=False)
    service = ServiceField(required=False)
    open_now = serializers.BooleanField(required=False, default=False)
    at = QueryTimeField(required=False)


class PeriodInput(serializers.Serializer):
    """Reports received in [since, until) in a subdistrict; default the last 90 days."""

    subdistrict = SubdistrictField(required=False,
                                   help_text="subdistrict code; default the reader's own")
    since = QueryTimeField(required=False)
    until = QueryTimeField(required=False)
    report_weight = FiniteFloatField(required=False, min_value=0, max_value=100,
                                     default=DEFAULT_REPORT_WEIGHT)
    need_weight = FiniteFloatField(required=False, min_value=0, max_value=100,
                                   default=DEFAULT_NEED_WEIGHT)

    def validate(self, attrs: dict) -> dict:
        until = attrs.get("until") or timezone.now()
        since = attrs.get("since") or until - timedelta(days=DEFAULT_PERIOD_DAYS)
        if since >= until:
            raise serializers.ValidationError({"since": MSG_PERIOD_ORDER})
        attrs["period"] = Period(since=since, until=until)
        # The reader's own subdistrict by default; another one's is refused (civicmap.scopes).
        user = self.context.get("user")
        attrs["subdistrict"] = attrs.get("subdistrict") or subdistrict_default(user=user)
        if attrs["subdistrict"] is None:
            raise serializers.ValidationError({"subdistrict": MSG_UNKNOWN_SUBDISTRICT})
        if user is not None and not user_covers(user, attrs["subdistrict"].pk):
            raise PermissionRefused(FieldError("subdistrict", "not_yours", MSG_NOT_YOUR_PLACE))
        return attrs


class CoverageQuery(PeriodInput):
    hotspots = serializers.IntegerField(required=False, min_value=0, max_value=100,
                                        default=HOTSPOTS_DEFAULT)


class VenueInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    lon = FiniteFloatField(min_value=-180, max_value=180)
    lat = FiniteFloatField(min_value=-90, max_value=90)
    coord_system = serializers.ChoiceField(choices=COORD_SYSTEMS, default="wgs84")

    def validate(self, attrs: dict) -> dict:
        lon, lat = coords.to_wgs84(attrs["lon"], attrs["lat"], attrs["coord_system"])
        return {"name": attrs["name"], "lon": lon, "lat": lat}


class SitingInput(PeriodInput):
    k = serializers.IntegerField(required=False, min_value=1, max_value=MAX_SITING_K, default=5)
    radius_m = serializers.IntegerField(required=False, min_value=1,
                                        max_value=MAX_COVERAGE_RADIUS_M)
    cell_m = serializers.IntegerField(required=False, min_value=10, max_value=200,
                                      default=DEMAND_CELL_M)
    candidates = VenueInput(many=True, required=False, max_length=MAX_VENUES,
                            help_text="host venues to choose from; default: unit-grid centres")


class AddedStationInput(serializers.Serializer):
    """A station imagined on the map: where (in the request's ``coord_system``), and how far
    it would reach (metres; default the setting's radius)."""

    lon = FiniteFloatField(min_value=-180, max_value=180)
    lat = FiniteFloatField(min_value=-90, max_value=90)
    radius_m = serializers.IntegerField(required=False, min_value=1,
                                        max_value=MAX_COVERAGE_RADIUS_M)


class MovedStationInput(serializers.Serializer):
    id = serializers.IntegerField(min_value=1)
    lon = FiniteFloatField(min_value=-180, max_value=180)
    lat = FiniteFloatField(min_value=-90, max_value=90)


class WhatIfInput(PeriodInput):
    """The stations as they would be, for ``coverage_summary(sites=...)``: nothing is saved.
    ``days``: the period ends now (or at ``until``) and starts so many days before."""

    days = serializers.ChoiceField(choices=WHAT_IF_DAYS, required=False)
    coord_system = serializers.ChoiceField(choices=COORD_SYSTEMS, default="wgs84")
    added = AddedStationInput(many=True, required=False, default=list,
                              max_length=MAX_WHAT_IF_STATIONS)
    moved = MovedStationInput(many=True, required=False, default=list,
                              max_length=MAX_WHAT_IF_STATIONS)
    removed = serializers.ListField(child=serializers.IntegerField(min_value=1),
                                    required=False, default=list,
                                    max_length=MAX_WHAT_IF_STATIONS)

    def validate(self, attrs: dict) -> dict:
        if attrs.get("days") and not attrs.get("since"):
            until = attrs.get("until") or timezone.now()
            attrs["until"], attrs["since"] = until, until - timedelta(days=attrs["days"])
        attrs = super().validate(attrs)
        system = attrs["coord_system"]
        for station in [*attrs["added"], *attrs["moved"]]:
            station["lon"], station["lat"] = coords.to_wgs84(station["lon"], station["lat"],
                                                             system)
        return attrs


class CheckInInput(PositionQuery):
    code = serializers.CharField(max_length=300, help_text="the QR code's text or the short code")
    accuracy_m = FiniteFloatField(required=False, min_value=0, max_value=100_000)
    benefit = serializers.SlugField(max_length=30, required=False, allow_blank=True,
                                    help_text="a benefit of the 苑苑暖心卡 used at this visit")


class VisitsQuery(serializers.Serializer):
    since = QueryTimeField(required=False)
    until = QueryTimeField(required=False)


class ExportQuery(serializers.Serializer):
    # Not "format": DRF reads that query parameter to choose a renderer.
    file_type = serializers.ChoiceField(choices=["geojson", "csv"], default="geojson")


class ImportInput(serializers.Serializer):
    file = serializers.FileField()
