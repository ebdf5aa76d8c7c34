"""/api/v1/council/board/: the suggestion box's board as JSON (issue 18), from the same
selector as the union's page (/union/council/)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from civicmap.api.fields import SubdistrictField
from civicmap.replica import replica_reads
from patrol.selectors_council import (
    BOARD_STATES,
    council_board,
    council_may_read,
    council_subdistrict_for,
)


class MayReadCouncil(BasePermission):
    def has_permission(self, request, view) -> bool:
        return council_may_read(user=request.user)


class CouncilBoardQuery(serializers.Serializer):
    subdistrict = SubdistrictField(required=False)
    since = serializers.DateField(required=False, help_text="first day (Beijing), included")
    until = serializers.DateField(required=False, help_text="last day (Beijing), included")
    state = serializers.ChoiceField(choices=BOARD_STATES, required=False)

    def validate(self, attrs: dict) -> dict:
        if attrs.get("since") and attrs.get("until") and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"until": "until must not be before since."})
        return attrs


class CouncilBoardView(APIView):
    permission_classes = [IsAuthenticated, MayReadCouncil]

    @extend_schema(parameters=[CouncilBoardQuery], responses={200: dict})
    @replica_reads()
    def get(self, request: Request) -> Response:
        query = CouncilBoardQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        subdistrict = council_subdistrict_for(user=request.user,
                                              subdistrict=values.get("subdistrict"))
        rows = council_board(subdistrict_id=subdistrict.pk, since=values.get("since"),
                             until=values.get("until"), state=values.get("state", ""))
        return Response({"subdistrict": subdistrict.code,
                         "rows": [row.as_json() for row in rows]})
