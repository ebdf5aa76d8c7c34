"""HTTP endpoints of the issues app: parse, call one service or selector, answer."""

from __future__ import annotations

from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from civicmap import coords
from civicmap.api.parsers import MultipartFormParser
from civicmap.api.permissions import IsRider
from civicmap.errors import MSG_NOT_FOUND, FieldError, InvalidInput, NotFound
from civicmap.i18n import name_field
from civicmap.replica import replica_reads
from civicmap.selectors import community_at
from issues.api.serializers import (
    CategoryOutput,
    ConfirmInput,
    LocationQuery,
    MyReportOutput,
    MyReportsQuery,
    NearbyQuery,
    PublicListQuery,
    ReportCreateInput,
    ReportFeatureOutput,
)
from issues.models import Category, ReportPhoto
from issues.selectors import (
    PublicFilters,
    case_nearby_list,
    case_public_features,
    category_list,
    report_point,
    report_public_features,
    rider_report_list,
    rider_report_of_case,
)
from issues.services.cases import case_confirm
from issues.services.intake import (
    APP_CHANNEL,
    MSG_CATEGORY_UNKNOWN,
    intake_answer,
    report_create,
    report_input_parse,
)
from issues.visibility import photo_visible_to

GEOJSON = "application/geo+json"
MSG_PHOTO_NOT_READY = _("The photo is still being processed.")
MSG_ORIGINAL_DELETED = _(
    "The original of this photo was deleted after the retention period; its display copy remains."
)


class CategoryListView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=CategoryOutput(many=True))
    @replica_reads()
    def get(self, request: Request) -> Response:
        return Response(CategoryOutput(category_list(), many=True).data)


# The form's text fields, read once: a serializer built per post costs CPU for a list of names.
_REPORT_FORM_FIELDS = tuple(name for name in ReportCreateInput().fields if name != "photos")


class ReportListCreateView(APIView):
    """GET: public reports as GeoJSON (built in PostGIS). POST: a rider files a report."""

    parser_classes = [MultipartFormParser, FormParser]

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "GET" else [IsRider()]

    @extend_schema(parameters=[PublicListQuery], responses={(200, GEOJSON): dict})
    @replica_reads()
    def get(self, request: Request) -> HttpResponse:
        filters = _public_filters(request)
        return HttpResponse(report_public_features(filters=filters), content_type=GEOJSON)

    @extend_schema(request={"multipart/form-data": ReportCreateInput},
                   responses={201: dict, 200: dict})
    def post(self, request: Request) -> Response:
        raw = {key: request.data.get(key) for key in _REPORT_FORM_FIELDS}
        data = report_input_parse(raw=raw, photos=request.FILES.getlist("photos"))
        result = report_create(channel=APP_CHANNEL, reporter=request.user, data=data)
        body = ReportFeatureOutput(intake_answer(result=result)).data
        return Response(body, status=status.HTTP_200_OK if result.replayed else 201)


def _public_filters(request: Request) -> PublicFilters:
    query = PublicListQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    values = query.validated_data
    return PublicFilters(
        bbox=values.get("bbox"), subdistrict_id=getattr(values.get("subdistrict"), "pk", None),
        community=values.get("community"),
        unit_grid=values.get("unit_grid"), categories=values.get("category", ()),
        stages=values.get("stage", ()), since=values.get("since"), until=values.get("until"),
        page=values["page"], page_size=values["page_size"],
    )


class CaseListView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="api_v1_cases_list", parameters=[PublicListQuery],
                   responses={(200, GEOJSON): dict})
    @replica_reads()
    def get(self, request: Request) -> HttpResponse:
        return HttpResponse(case_public_features(filters=_public_filters(request)),
                            content_type=GEOJSON)


class NearbyCasesView(APIView):
    """Open public cases of a category near a point, to confirm instead of filing again."""

    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[NearbyQuery], responses={200: dict})
    @replica_reads()
    def get(self, request: Request) -> Response:
        query = NearbyQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        category = Category.objects.filter(code=values["category"]).first()
        if category is None:
            raise InvalidInput(FieldError("category", "unknown", MSG_CATEGORY_UNKNOWN))
        lon, lat = coords.to_wgs84(values["lon"], values["lat"], values["coord_system"])
        cases = case_nearby_list(point=report_point(lon=lon, lat=lat), category=category)
        return Response({"cases": cases})


class PlaceAtView(APIView):
    """GET /api/v1/places/at/ — the community and subdistrict a point falls in, by name in the
    request's language, for the rider's page to say where the report will be placed; both null
    outside the service area (intake then refuses the report and says so)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[LocationQuery], responses={200: dict})
    @replica_reads()
    def get(self, request: Request) -> Response:
        query = LocationQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        lon, lat = coords.to_wgs84(values["lon"], values["lat"], values["coord_system"])
        community = community_at(point=report_point(lon=lon, lat=lat))
        if community is None:
            return Response({"community": None, "subdistrict": None})
        label = name_field()
        return Response({
            "community": {"code": community.code, "name": getattr(community, label)},
            "subdistrict": {"code": community.subdistrict.code,
                            "name": getattr(community.subdistrict, label)},
        })


class CaseConfirmView(APIView):
    permission_classes = [IsRider]
    parser_classes = [MultipartFormParser, FormParser]

    @extend_schema(request={"multipart/form-data": ConfirmInput},
                   responses={201: dict, 200: dict})  # 201: a first confirmation; 200: a retry
    def post(self, request: Request, case_id: int) -> Response:
        form = ConfirmInput(data=request.data)
        form.is_valid(raise_exception=True)
        values = form.validated_data
        lon, lat = coords.to_wgs84(values["lon"], values["lat"], values["coord_system"])
        case, created = case_confirm(
            case_id=case_id, rider=request.user, position=report_point(lon=lon, lat=lat),
            client_uuid=form.validated_data.get("client_uuid"),
            photo_upload=form.validated_data.get("photo"),
        )
        return Response(
            {"case": case.pk, "confirmed": True, "created": created,
             "confirmations": case.confirmations.count()},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class MyReportsView(APIView):
    """GET /api/v1/me/reports/?state=open|closed|all&limit=&offset= — the rider's own reports,
    newest first, a page at a time; ``count`` is how many match the state in all."""

    permission_classes = [IsRider]

    @extend_schema(parameters=[MyReportsQuery], responses={200: dict})
    @replica_reads()
    def get(self, request: Request) -> Response:
        query = MyReportsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = query.validated_data
        reports = rider_report_list(rider=request.user, state=page["state"])
        listed = reports[page["offset"]:page["offset"] + page["limit"]]
        return Response({"type": "FeatureCollection", "count": reports.count(),
                         "features": MyReportOutput(listed, many=True).data})


class MyCaseReportView(APIView):
    """GET /api/v1/me/cases/<case_id>/report/ — the rider's own newest report in the case, as
    a row of ``me/reports/`` (the rider's page opens a message's case with it when the report
    is not among the rows it has loaded); 404 when they have none there, so that it tells
    nothing of others' cases."""

    permission_classes = [IsRider]

    @extend_schema(responses={200: dict})
    @replica_reads()
    def get(self, request: Request, case_id: int) -> Response:
        report = rider_report_of_case(rider=request.user, case_id=case_id)
        if report is None:
            raise NotFound(FieldError(None, "not_found", MSG_NOT_FOUND))
        return Response(MyReportOutput(report).data)


class PhotoView(APIView):
    """A photo rendition, to whoever ``issues.visibility.photo_visible_to`` lets see it: display
    copy and thumbnail as its case (a private category's: the office, the case's handlers and
    the photo's own reporter); the original (with its EXIF): office staff and the admin."""

    permission_classes = [AllowAny]

    @extend_schema(parameters=[OpenApiParameter("rendition", str, "path",
                                                enum=["display", "thumbnail", "original"])],
                   responses={(200, "image/jpeg"): bytes})
    def get(self, request: Request, photo_id: int, rendition: str) -> FileResponse:
        photo = get_object_or_404(ReportPhoto, pk=photo_id)
        if not photo_visible_to(user=request.user, photo=photo, rendition=rendition):
            raise NotFound(FieldError(None, "not_found", MSG_NOT_FOUND))
        if rendition == "original" and photo.original_deleted_at is not None:
            raise NotFound(FieldError(None, "original_deleted", MSG_ORIGINAL_DELETED))
        stored = {"display": photo.display, "thumbnail": photo.thumbnail,
                  "original": photo.original}[rendition]
        if not stored:
            raise NotFound(FieldError(None, "not_ready", MSG_PHOTO_NOT_READY))
        response = FileResponse(stored.open("rb"), content_type=_content_type(photo, rendition))
        response["Cache-Control"] = "private, max-age=3600"
        response["X-Content-Type-Options"] = "nosniff"
        return response


def _content_type(photo: ReportPhoto, rendition: str) -> str:
    if rendition != "original":
        return "image/jpeg"
    return {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}[photo.image_format]
