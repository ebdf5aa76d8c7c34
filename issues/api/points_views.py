"""HTTP endpoints of rider recognition: the monthly leaderboard, its exports, a rider's points."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date

from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from openpyxl import Workbook
from openpyxl.styles import Font
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from civicmap.api.fields import SubdistrictField
from civicmap.api.paging import offset_field
from civicmap.api.permissions import IsRider, role_permission
from civicmap.bounds import MONTH_MAX, MONTH_MIN
from civicmap.errors import FieldError, InvalidInput
from civicmap.i18n import name_field
from civicmap.models import CommunityGrid, Subdistrict
from civicmap.replica import replica_reads
from civicmap.roles import Role
from issues.selectors_awards import award_name, rider_award_list
from issues.selectors_points import (
    POINTS_KINDS,
    RIDER_ENTRIES_MAX,
    LeaderboardRow,
    leaderboard,
    leaderboard_place,
    month_current,
    rider_points,
)

MSG_MONTH_FORMAT = _("Give the month as YYYY-MM, e.g. 2026-03.")
MSG_MONTH_RANGE = _("The month must be from %(first)s to %(last)s.")
MSG_COMMUNITY_UNKNOWN = _("Unknown community.")
EXPORT_COLUMNS = [_("Rank"), _("Display name"), _("Community"), _("Points")]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A cell starting with one of these is a formula to Excel: written as text instead.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MONTH_PATTERN = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


@extend_schema_field({"type": "string", "pattern": f"^{MONTH_PATTERN.pattern}$",
                      "example": "2026-11"})
class MonthField(serializers.Field):
    """``YYYY-MM`` to the first day of that month."""

    default_error_messages = {"invalid": MSG_MONTH_FORMAT, "out_of_range": MSG_MONTH_RANGE}

    def to_internal_value(self, data) -> date:
        if not isinstance(data, str) or not MONTH_PATTERN.fullmatch(data):
            self.fail("invalid")
        year, number = int(data[:4]), int(data[5:7])
        # Compared as numbers: Python has no year 0, and the end of 9999-12 is past its last day.
        if not (MONTH_MIN.year, MONTH_MIN.month) <= (year, number) <= (MONTH_MAX.year,
                                                                       MONTH_MAX.month):
            self.fail("out_of_range", first=_month_text(MONTH_MIN), last=_month_text(MONTH_MAX))
        return date(year, number, 1)

    def to_representation(self, value: date) -> str:
        return _month_text(value)


class LeaderboardQuery(serializers.Serializer):
    month = MonthField(required=False)
    subdistrict = SubdistrictField(required=False)
    community = serializers.CharField(required=False, allow_blank=True, max_length=12)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=100)


class MyPointsQuery(serializers.Serializer):
    """The month (default: every entry), ``kind`` earned | withdrawn | all, and a page."""

    month = MonthField(required=False)
    kind = serializers.ChoiceField(choices=POINTS_KINDS, default="all")
    limit = serializers.IntegerField(min_value=1, max_value=RIDER_ENTRIES_MAX,
                                     default=RIDER_ENTRIES_MAX)
    offset = offset_field()


@dataclass(frozen=True)
class LeaderboardParams:
    month: date
    community: CommunityGrid | None
    subdistrict: Subdistrict | None  # None: the district's board
    limit: int


def _leaderboard_params(request: Request) -> LeaderboardParams:
    query = LeaderboardQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    values = query.validated_data
    community = None
    if values.get("community"):
        community = CommunityGrid.objects.filter(code=values["community"]).first()
        if community is None:
            raise InvalidInput(FieldError("community", "unknown", MSG_COMMUNITY_UNKNOWN))
    subdistrict = values.get("subdistrict")
    return LeaderboardParams(month=values.get("month") or month_current(), community=community,
                             subdistrict=subdistrict, limit=values["limit"])


def _month_text(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


LEADERBOARD_PARAMETERS = [
    OpenApiParameter("month", str, description="YYYY-MM (Asia/Shanghai); default: this month"),
    OpenApiParameter("community", str, description="12-digit community grid code"),
    OpenApiParameter("subdistrict", str, description="9-digit subdistrict code: points earned "
                     "on its cases; default: the whole district"),
]


class LeaderboardView(APIView):
    """GET /api/v1/leaderboard/?month=YYYY-MM&subdistrict=code&community=code — riders by the
    month's points, the district's or one subdistrict's."""

    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[*LEADERBOARD_PARAMETERS, OpenApiParameter("limit", int)],
                   responses={200: dict})
    @replica_reads()
    def get(self, request: Request) -> Response:
        params = _leaderboard_params(request)
        rows = leaderboard(month=params.month, community=params.community,
                           subdistrict=params.subdistrict, limit=params.limit)
        return Response({
            "month": _month_text(params.month),
            **_place(params),
            "riders": [_row(r) for r in rows],
            **_own_place(request, params),
        })


def _row(row: LeaderboardRow) -> dict:
    return {"rank": row.rank, "display_name": row.display_name, "community": row.community,
            "points": row.points,
            "awards": [{"kind": kind, "name": award_name(kind)} for kind in row.awards]}


def _own_place(request: Request, params: LeaderboardParams) -> dict:
    """For a rider (the key only then): ``me``, their own row of the district's or the
    subdistrict's board even outside the rows listed (null when not on it), and
    ``home_subdistrict``, the subdistrict of their community, whose board they may ask for."""
    rider = getattr(request.user, "rider", None)
    if rider is None or params.community is not None:
        return {}
    own = leaderboard_place(rider=rider, month=params.month, subdistrict=params.subdistrict)
    home = rider.community.subdistrict if rider.community else None
    return {"me": _row(own) if own else None,
            "home_subdistrict": {"code": home.code, "name": getattr(home, name_field())}
            if home else None}


def _place(params: LeaderboardParams) -> dict:
    """The board's community, and its subdistrict when it is one subdistrict's (the key only
    then: the district's board answers as before)."""
    def named(place) -> dict | None:
        return {"code": place.code, "name": getattr(place, name_field())} if place else None

    subdistrict = {"subdistrict": named(params.subdistrict)} if params.subdistrict else {}
    return {**subdistrict, "community": named(params.community)}


def _export_name(params: LeaderboardParams, extension: str) -> str:
    place = "".join(f"-{p.code}" for p in (params.subdistrict, params.community) if p)
    return f"leaderboard-{_month_text(params.month)}{place}.{extension}"


def _cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _table(rows: list[LeaderboardRow]) -> list[list]:
    header = [str(column) for column in EXPORT_COLUMNS]
    return [header, *([r.rank, _cell(r.display_name), _cell(r.community or ""), r.points]
                      for r in rows)]


def leaderboard_csv(rows: list[LeaderboardRow]) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel opens the Chinese names correctly."""
    text = io.StringIO()
    csv.writer(text).writerows(_table(rows))
    return "\ufeff".encode() + text.getvalue().encode("utf-8")


def leaderboard_xlsx(rows: list[LeaderboardRow], *, title: str) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title
    for values in _table(rows):
        sheet.append(values)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for column in sheet.iter_cols(min_row=2):
        for cell in column:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the name starts with
    for letter, width in zip("ABCD", (8, 24, 24, 10), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


class LeaderboardExportView(APIView):
    """GET /api/v1/leaderboard/export.csv|.xlsx — the whole board, for union staff."""

    permission_classes = [role_permission(Role.UNION_STAFF)]

    @extend_schema(parameters=LEADERBOARD_PARAMETERS,
                   responses={(200, "text/csv"): bytes, (200, XLSX_TYPE): bytes})
    @replica_reads()
    def get(self, request: Request, extension: str) -> HttpResponse:
        params = _leaderboard_params(request)
        rows = leaderboard(month=params.month, community=params.community,
                           subdistrict=params.subdistrict)
        if extension == "csv":
            response = HttpResponse(leaderboard_csv(rows), content_type="text/csv; charset=utf-8")
        else:
            response = HttpResponse(leaderboard_xlsx(rows, title=_month_text(params.month)),
                                    content_type=XLSX_TYPE)
        response["Content-Disposition"] = (
            f'attachment; filename="{_export_name(params, extension)}"')
        response["Cache-Control"] = "private, no-store"
        return response


class MyPointsView(APIView):
    """GET /api/v1/me/points/?month=YYYY-MM&kind=earned|withdrawn|all&limit=&offset= — the
    rider's own points, each with its reason, newest first; ``count``: how many match in all."""

    permission_classes = [IsRider]

    @extend_schema(parameters=[MyPointsQuery], responses={200: dict})
    @replica_reads()
    def get(self, request: Request) -> Response:
        query = MyPointsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        mine = rider_points(rider=request.user.rider, **query.validated_data)
        return Response({"total": mine.total, "month": _month_text(mine.month),
                         "month_total": mine.month_total, "count": mine.count,
                         "entries": mine.entries})


class MyAwardsView(APIView):
    """GET /api/v1/me/awards/ — the awards the rider was given (先锋骑手 …), newest month first,
    each with the link to its certificate (PDF)."""

    permission_classes = [IsRider]

    @extend_schema(responses={200: dict})
    @replica_reads()
    def get(self, request: Request) -> Response:
        label = name_field()
        return Response({"awards": [
            {"id": award.pk, "kind": award.kind, "name": award_name(award.kind),
             "month": _month_text(award.month),
             "subdistrict": {"code": award.subdistrict.code,
                             "name": getattr(award.subdistrict, label)},
             "decided_at": award.decided_at,
             "certificate": reverse("frontend:union-award-certificate",
                                    kwargs={"award_id": award.pk})}
            for award in rider_award_list(rider=request.user.rider)]})
