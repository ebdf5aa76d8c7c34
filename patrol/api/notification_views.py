"""HTTP endpoints of the in-app feed: each signed-in user reads and marks their own only."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from civicmap.replica import replica_reads
from patrol.models import Notification
from patrol.notifications.content import notification_message
from patrol.services.notifications import (
    notification_feed,
    notification_mark_read,
    notifications_mark_read,
)


class FeedQuery(serializers.Serializer):
    unread = serializers.BooleanField(required=False, default=False)
    before = serializers.IntegerField(required=False, min_value=1)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=200, default=50)


class MarkReadInput(serializers.Serializer):
    """Either ``ids`` (a list) or ``all: true``."""

    ids = serializers.ListField(child=serializers.IntegerField(), required=False,
                                max_length=500)
    all = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("all") and "ids" not in attrs:
            raise serializers.ValidationError({"ids": serializers.Field.default_error_messages[
                "required"]})
        return attrs


def notification_output(notification: Notification) -> dict:
    return {
        "id": notification.pk, "kind": notification.kind,
        "message": notification_message(kind=notification.kind, data=notification.data,
                                        case_id=notification.case_id),
        "case": notification.case_id, "task": notification.task_id,
        "data": notification.data, "created_at": notification.created_at,
        "read_at": notification.read_at,
    }


class NotificationListView(APIView):
    """GET /api/v1/notifications/?unread=true&before=<id>&limit=50 — newest first."""

    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[FeedQuery], responses={200: dict})
    @replica_reads()
    def get(self, request: Request) -> Response:
        query = FeedQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        feed = notification_feed(user=request.user, unread_only=values["unread"],
                                 before=values.get("before"), limit=values["limit"])
        return Response({"unread": feed.unread, "next_before": feed.next_before,
                         "notifications": [notification_output(n) for n in feed.notifications]})


class NotificationReadView(APIView):
    """POST /api/v1/notifications/<id>/read/ — mark one read (again: no change)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: dict})
    def post(self, request: Request, notification_id: int) -> Response:
        notification = notification_mark_read(user=request.user,
                                              notification_id=notification_id)
        return Response(notification_output(notification))


class NotificationReadManyView(APIView):
    """POST /api/v1/notifications/read/ with ``{"ids": [...]}`` or ``{"all": true}``."""

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, FormParser]

    @extend_schema(operation_id="api_v1_notifications_read_many_create", request=MarkReadInput,
                   responses={200: dict})
    def post(self, request: Request) -> Response:
        form = MarkReadInput(data=request.data)
        form.is_valid(raise_exception=True)
        values = form.validated_data
        marked = notifications_mark_read(user=request.user,
                                         ids=None if values["all"] else values["ids"])
        return Response({"marked": marked})
