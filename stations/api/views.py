"""HTTP endpoints of the stations app: parse, call one service or selector, answer.

Who may do what: the nearest stations, the list, the service catalogue and the coverage layer
are public; coverage figures and siting are for office and union staff (they count riders'
private needs); check-ins are for riders; station writes, imports, exports, check-in codes and
visit statistics are for union staff.
"""

from __future__ import annotations

from django.contrib.gis.geos import Point
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from civicmap import coords
from civicmap.api.parsers import MultipartFormParser
from civicmap.api.permissions import IsRider, role_permission
from civicmap.errors import FieldError, InvalidInput
from civicmap.i18n import name_field
from civicmap.models import WGS84
from civicmap.replica import replica_reads
from civicmap.roles import Role
from civicmap.scopes import in_scope_q
from stations.api.serializers import (
    COORD_SYSTEMS,
    CheckInInput,
    CoverageQuery,
    ExportQuery,
    ImportInput,
    ListQuery,
    NearestQuery,
    PositionQuery,
    SitingInput,
    VisitsQuery,
    WhatIfInput,
)
from stations.catalogue import service_catalogue
from stations.io import (
    MAX_IMPORT_BYTES,
    MSG_FILE_TOO_LARGE,
    rows_from_upload,
    stations_to_csv,
    stations_to_geojson,
)
from stations.layers import uncovered_demand_cells
from stations.models import Station
from stations.selectors import (
    Site,
    active_stations,
    coverage_layer,
    coverage_summary,
    rider_checkin_list,
    siting_suggest,
    station_features,
    station_nearest_list,
    station_radius_default_m,
    station_sites_what_if,
    stations_covering,
)
from stations.selectors_cards import member_card_get
from stations.selectors_visits import checkin_visits
from stations.services import (
    checkin_create,
    station_save,
    station_token_ensure,
    station_token_rotate,
    stations_import,
)
from stations.tokens import token_qr_payload, token_qr_svg

GEOJSON = "application/geo+json"
MSG_BODY_NOT_OBJECT = _("Send the station as a JSON object.")
MSG_CANDIDATE_OUTSIDE = _("This candidate site lies outside the subdistrict.")
MSG_UNKNOWN_COORD_SYSTEM = _("Unknown coordinate system: use wgs84, gcj02 or bd09.")
MSG_WHAT_IF_OUTSIDE = _("This station would lie outside the subdistrict.")
MSG_WHAT_IF_UNKNOWN_STATION = _("No active station of this subdistrict has this number.")
MSG_WHAT_IF_TWICE = _("This station is already moved or removed in this request.")

StaffOnly = role_permission(Role.OFFICE_STAFF, Role.UNION_STAFF)
UnionStaffOnly = role_permission(Role.UNION_STAFF)

STATION_FIELDS = ("name_zh", "name_en", "venue_type", "address_zh", "lon", "lat",
                  "opening_hours", "services", "coverage_radius_m", "is_active",
                  "closed_on_holidays")


def _valid(serializer_class, data, *, user=None) -> dict:
    """The input's validated values; ``user``: the reader, whose subdistricts a period's
    place must be (``PeriodInput``)."""
    serializer = serializer_class(data=data, context={"user": user})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class StationListView(APIView):
    """GET: every active station as GeoJSON, with services and hours (public).
    POST: create or update a station by its Chinese name (union staff)."""

    parser_classes = [JSONParser]

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "GET" else [UnionStaffOnly()]

    @extend_schema(parameters=[ListQuery], responses={(200, GEOJSON): dict})
    @replica_reads()
    def get(self, request: Request) -> HttpResponse:
        values = _valid(ListQuery, request.query_params)
        return HttpResponse(
            station_features(service=values.get("service"), open_now=values["open_now"],
                             at=values.get("at"),
                             subdistrict_id=getattr(values.get("subdistrict"), "pk", None)),
            content_type=GEOJSON,
        )

    @extend_schema(request=dict, responses={201: dict, 200: dict})
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise InvalidInput(FieldError(None, "invalid", MSG_BODY_NOT_OBJECT))
        fields = {key: request.data[key] for key in STATION_FIELDS if key in request.data}
        system = request.data.get("coord_system", "wgs84")
        if system not in COORD_SYSTEMS:
            raise InvalidInput(FieldError("coord_system", "invalid", MSG_UNKNOWN_COORD_SYSTEM))
        if system != "wgs84" and all(
            isinstance(fields.get(axis), int | float) and not isinstance(fields.get(axis), bool)
            for axis in ("lon", "lat")
        ):
            fields["lon"], fields["lat"] = coords.to_wgs84(fields["lon"], fields["lat"], system)
        for required in ("lon", "lat", "opening_hours", "services", "venue_type",
                         "name_zh", "name_en"):
            fields.setdefault(required, None)
        station, created = station_save(actor=request.user, **fields)
        return Response(_station_detail(station),
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _station_detail(station: Station) -> dict:
    return {
        "id": station.pk, "name_zh": station.name_zh, "name_en": station.name_en,
        "subdistrict": station.subdistrict.code if station.subdistrict_id else None,
        "venue_type": station.venue_type, "address_zh": station.address_zh,
        "lon": round(station.location.x, 6), "lat": round(station.location.y, 6),
        "opening_hours": station.opening_hours, "services": station.services,
        "coverage_radius_m": station.coverage_radius_m, "is_active": station.is_active,
        "closed_on_holidays": station.closed_on_holidays,
    }


class ServiceCatalogueView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: dict})
    @replica_reads()
    def get(self, request: Request) -> Response:
        return Response({"services": service_catalogue()})


class NearestView(APIView):
    """Up to 5 stations nearest a position, nearest first, with metres and minutes on foot."""

    permission_classes = [AllowAny]

    @extend_schema(parameters=[NearestQuery], responses={200: dict})
    @replica_reads()
    def get(self, request: Request) -> Response:
        values = _valid(NearestQuery, request.query_params)
        lon, lat = values["wgs84"]
        at = values.get("at") or timezone.now()
        stations = station_nearest_list(
            point=Point(lon, lat, srid=WGS84), service=values.get("service"),
            open_now=values["open_now"], at=at, limit=values["limit"],
        )
        system = values["coord_system"]
        if system != "wgs84":  # also where to draw them on the client's own basemap
            for station in stations:
                station["display_lon"], station["display_lat"] = (
                    round(value, 6)
                    for value in coords.from_wgs84(station["lon"], station["lat"], system)
                )
        return Response({
            "position": {"lon": round(lon, 6), "lat": round(lat, 6)},
            "coord_system": system, "at": at.isoformat(), "stations": stations,
        })


class CoverageView(APIView):
    """Coverage of the subdistrict and each community, and the uncovered hotspots."""

    permission_classes = [StaffOnly]

    @extend_schema(parameters=[CoverageQuery], responses={200: dict})
    @replica_reads()
    def get(self, request: Request) -> Response:
        values = _valid(CoverageQuery, request.query_params, user=request.user)
        return Response(coverage_summary(
            period=values["period"], subdistrict=values["subdistrict"],
            report_weight=values["report_weight"],
            need_weight=values["need_weight"], hotspots=values["hotspots"],
        ))


class CoverageWhatIfView(APIView):
    """The coverage figures and the uncovered demand with stations added, moved or removed on
    the map, before anything is saved: read only, nothing is written."""

    permission_classes = [StaffOnly]
    parser_classes = [JSONParser]

    @extend_schema(request=WhatIfInput, responses={200: dict})
    @replica_reads()
    def post(self, request: Request) -> Response:
        values = _valid(WhatIfInput, request.data, user=request.user)
        subdistrict, system = values["subdistrict"], values["coord_system"]
        sites = _what_if_sites(values)
        cells = uncovered_demand_cells(since=values["period"].since, until=values["period"].until,
                                       subdistrict=subdistrict, sites=sites)
        return Response({
            "coord_system": system,
            "summary": coverage_summary(
                period=values["period"], subdistrict=subdistrict, sites=sites,
                report_weight=values["report_weight"], need_weight=values["need_weight"]),
            "uncovered": [
                {"lon": round(cell.lon, 6), "lat": round(cell.lat, 6),
                 "display": [round(value, 6)
                             for value in coords.from_wgs84(cell.lon, cell.lat, system)],
                 "reports": cell.reports, "needs": cell.needs}
                for cell in cells
            ],
        })


def _what_if_sites(values: dict) -> list[Site]:
    """The imagined station set, every station sent checked first: each must stand inside the
    subdistrict, and the moved and removed ones be its own active stations, each named once.
    Refused as one 400 naming every field (``added.2``, ``removed.0``)."""
    subdistrict = values["subdistrict"]
    own = set(active_stations().filter(subdistrict=subdistrict).values_list("id", flat=True))
    errors: list[FieldError] = []
    for name in ("added", "moved"):
        errors += [
            FieldError(f"{name}.{index}", "outside_area", MSG_WHAT_IF_OUTSIDE)
            for index, station in enumerate(values[name])
            if not subdistrict.boundary.covers(Point(station["lon"], station["lat"], srid=WGS84))
        ]
    seen: set[int] = set()
    for field, pk in [*((f"moved.{index}.id", station["id"])
                        for index, station in enumerate(values["moved"])),
                      *((f"removed.{index}", pk) for index, pk in enumerate(values["removed"]))]:
        if pk not in own:
            errors.append(FieldError(field, "unknown_station", MSG_WHAT_IF_UNKNOWN_STATION))
        elif pk in seen:
            errors.append(FieldError(field, "duplicate", MSG_WHAT_IF_TWICE))
        seen.add(pk)
    if errors:
        raise InvalidInput(*errors)
    default_m = station_radius_default_m()
    return station_sites_what_if(
        added=[Site(lon=station["lon"], lat=station["lat"],
                    radius_m=station.get("radius_m") or default_m)
               for station in values["added"]],
        moved={station["id"]: (station["lon"], station["lat"]) for station in values["moved"]},
        removed=values["removed"],
    )


class CoveragePointView(APIView):
    """Is this point covered, and by which stations (ST_DWithin on geography, metres)."""

    permission_classes = [StaffOnly]

    @extend_schema(parameters=[PositionQuery], responses={200: dict})
    @replica_reads()
    def get(self, request: Request) -> Response:
        values = _valid(PositionQuery, request.query_params)
        lon, lat = values["wgs84"]
        stations = stations_covering(point=Point(lon, lat, srid=WGS84))
        return Response({"covered": bool(stations), "stations": stations})


class CoverageLayerView(APIView):
    """The covered area (union of the circles) as GeoJSON, for drawing."""

    permission_classes = [AllowAny]

    @extend_schema(responses={(200, GEOJSON): dict})
    @replica_reads()
    def get(self, request: Request) -> HttpResponse:
        return HttpResponse(coverage_layer(), content_type=GEOJSON)


class SitingView(APIView):
    """Where to open the next k stations: GET with query parameters (unit-grid candidates), or
    POST a JSON body that may list candidate host venues."""

    permission_classes = [StaffOnly]
    parser_classes = [JSONParser]

    @extend_schema(parameters=[SitingInput], responses={200: dict})
    @replica_reads()
    def get(self, request: Request) -> Response:
        return self._answer(_valid(SitingInput, request.query_params, user=request.user))

    @extend_schema(request=SitingInput, responses={200: dict})
    def post(self, request: Request) -> Response:
        return self._answer(_valid(SitingInput, request.data, user=request.user))

    def _answer(self, values: dict) -> Response:
        subdistrict = values["subdistrict"]
        venues = values.get("candidates") or None
        if venues:
            outside = [
                FieldError(f"candidates.{index}", "outside_area", MSG_CANDIDATE_OUTSIDE)
                for index, venue in enumerate(venues)
                if not subdistrict.boundary.covers(Point(venue["lon"], venue["lat"], srid=WGS84))
            ]
            if outside:
                raise InvalidInput(*outside)
        return Response(siting_suggest(
            k=values["k"], period=values["period"], subdistrict=subdistrict,
            radius_m=values.get("radius_m"), venues=venues,
            report_weight=values["report_weight"], need_weight=values["need_weight"],
            cell_m=values["cell_m"],
        ))


class CheckInView(APIView):
    """POST: a rider checks in with the station's code and their position.
    GET: the rider's own check-ins, newest first."""

    permission_classes = [IsRider]
    parser_classes = [JSONParser, FormParser, MultipartFormParser]

    @extend_schema(request=CheckInInput, responses={201: dict, 200: dict})
    def post(self, request: Request) -> Response:
        values = _valid(CheckInInput, request.data)
        lon, lat = values["wgs84"]
        result = checkin_create(rider=request.user, code=values["code"], lon=lon, lat=lat,
                                accuracy_m=values.get("accuracy_m"),
                                benefit=values.get("benefit") or None)
        checkin = result.checkin
        redemption = result.redemption
        return Response(
            {"counted": result.counted, "checkin": _checkin_detail(checkin),
             "benefit": None if redemption is None else {
                 "code": redemption.benefit.code,
                 "name": getattr(redemption.benefit, name_field()),
                 "at": redemption.at.isoformat()}},
            status=status.HTTP_201_CREATED if result.counted else status.HTTP_200_OK,
        )

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        checkins = rider_checkin_list(rider=request.user)[:200]
        return Response({"checkins": [_checkin_detail(checkin) for checkin in checkins]})


def _checkin_detail(checkin) -> dict:
    return {
        "id": checkin.pk, "station": checkin.station_id,
        "station_name": getattr(checkin.station, name_field()), "at": checkin.at.isoformat(),
        "distance_m": checkin.distance_m, "method": checkin.method,
    }


class MyCardView(APIView):
    """GET: the rider's 苑苑暖心卡: status, number, and the benefits with the uses left this
    month."""

    permission_classes = [IsRider]

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response(member_card_get(rider=request.user))


class VisitsView(APIView):
    """Counted visits per station and per rider (union staff)."""

    permission_classes = [UnionStaffOnly]

    @extend_schema(parameters=[VisitsQuery], responses={200: dict})
    @replica_reads()
    def get(self, request: Request) -> Response:
        values = _valid(VisitsQuery, request.query_params)
        return Response(checkin_visits(user=request.user, since=values.get("since"),
                                       until=values.get("until")))


def _token_detail(token) -> dict:
    return {
        "station": token.station_id, "short_code": token.short_code,
        "qr_payload": token_qr_payload(station_id=token.station_id,
                                       short_code=token.short_code),
        "created_at": token.created_at.isoformat(),
        "qr_svg_url": f"/api/v1/stations/{token.station_id}/token/qr.svg",
    }


def _station_of(user, station_id: int) -> Station:
    """A station of the subdistricts ``user`` works for; another subdistrict's is a 404."""
    return get_object_or_404(Station.objects.filter(in_scope_q(user)), pk=station_id)


class StationTokenView(APIView):
    """The station's current check-in code (made on first use), for printing."""

    permission_classes = [UnionStaffOnly]

    @extend_schema(responses={200: dict})
    def get(self, request: Request, station_id: int) -> Response:
        station = _station_of(request.user, station_id)
        return Response(_token_detail(station_token_ensure(station=station, actor=request.user)))


class StationTokenRotateView(APIView):
    """Revoke the current code and issue a new one: the printed QR code must be replaced."""

    permission_classes = [UnionStaffOnly]

    @extend_schema(request=None, responses={201: dict})
    def post(self, request: Request, station_id: int) -> Response:
        station = _station_of(request.user, station_id)
        token = station_token_rotate(station=station, actor=request.user)
        return Response(_token_detail(token), status=status.HTTP_201_CREATED)


class StationTokenQrView(APIView):
    """The current code as a printable SVG QR code."""

    permission_classes = [UnionStaffOnly]

    @extend_schema(responses={(200, "image/svg+xml"): bytes})
    def get(self, request: Request, station_id: int) -> HttpResponse:
        station = _station_of(request.user, station_id)
        token = station_token_ensure(station=station, actor=request.user)
        svg = token_qr_svg(station_id=station.pk, short_code=token.short_code)
        response = HttpResponse(svg, content_type="image/svg+xml")
        response["Cache-Control"] = "private, no-store"
        return response


class StationExportView(APIView):
    """The stations of the union staff's subdistricts as CSV or GeoJSON."""

    permission_classes = [UnionStaffOnly]

    @extend_schema(parameters=[ExportQuery], responses={200: bytes})
    def get(self, request: Request) -> HttpResponse:
        values = _valid(ExportQuery, request.query_params)
        stations = Station.objects.filter(in_scope_q(request.user)).order_by("name_zh")
        if values["file_type"] == "csv":
            response = HttpResponse(stations_to_csv(stations), content_type="text/csv")
            response["Content-Disposition"] = 'attachment; filename="stations.csv"'
        else:
            response = HttpResponse(stations_to_geojson(stations), content_type=GEOJSON)
            response["Content-Disposition"] = 'attachment; filename="stations.geojson"'
        return response


class StationImportView(APIView):
    """Upload a GeoJSON or CSV file of stations: all rows saved, or none (union staff)."""

    permission_classes = [UnionStaffOnly]
    parser_classes = [MultipartFormParser, FormParser]

    @extend_schema(request={"multipart/form-data": ImportInput}, responses={200: dict})
    def post(self, request: Request) -> Response:
        upload = _valid(ImportInput, request.data)["file"]
        if upload.size > MAX_IMPORT_BYTES:  # before reading it into memory
            raise InvalidInput(FieldError("file", "too_large", MSG_FILE_TOO_LARGE))
        rows = rows_from_upload(name=upload.name, content=upload.read())
        result = stations_import(rows=rows, actor=request.user)
        return Response({"created": result.created, "updated": result.updated})
