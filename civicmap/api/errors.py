"""One error shape for the whole API: ``{"errors": [{"field", "code", "message"}]}``."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from civicmap.errors import MSG_BAD_REQUEST, DomainError, RateLimited

logger = logging.getLogger(__name__)

MSG_BODY_TOO_LARGE = gettext_lazy("The request is too large: at most %(limit)s bytes of fields.")
MSG_TOO_MANY_FIELDS = gettext_lazy("The request has too many fields: at most %(limit)s.")
MSG_TOO_MANY_FILES = gettext_lazy("The request has too many files: at most %(limit)s.")


def _flatten(detail: Any, field: str | None = None) -> list[dict]:
    """DRF's nested error detail as a flat list, the field path dotted (``photos.1``)."""
    if isinstance(detail, dict):
        items: list[dict] = []
        for key, value in detail.items():
            # DRF keys a list serializer's errors by the item's index: 0 is a name too.
            name = None if key in ("non_field_errors", "detail") else str(key)
            path = f"{field}.{name}" if field and name is not None else (name or field)
            items.extend(_flatten(value, path))
        return items
    if isinstance(detail, list):
        items = []
        for index, value in enumerate(detail):
            nested = isinstance(value, (dict, list))
            items.extend(_flatten(value, f"{field}.{index}" if nested and field else field))
        return items
    code = getattr(detail, "code", "invalid")
    return [{"field": field, "code": code, "message": str(detail)}]


def error_body(errors: list[dict]) -> dict:
    return {"errors": errors}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """Turn service refusals and DRF exceptions into the one error shape."""
    if isinstance(exc, DomainError):
        body = error_body(
            [{"field": e.field, "code": e.code, "message": str(e.message)} for e in exc.errors]
        )
        body.update({key: value for key, value in exc.extra.items() if key != "retry_after"})
        response = Response(body, status=exc.status_code)
        if isinstance(exc, RateLimited):
            response["Retry-After"] = str(exc.retry_after_s)
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    response.data = error_body(_flatten(response.data))
    return response


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """404 for unknown API paths, in the error shape."""
    return JsonResponse(
        error_body([{"field": None, "code": "not_found", "message": _("Not found.")}]),
        status=status.HTTP_404_NOT_FOUND,
    )


def json_server_error(request: HttpRequest) -> JsonResponse:
    logger.error("Unhandled server error at %s", request.path)
    return JsonResponse(
        error_body([{"field": None, "code": "server_error", "message": _("Server error.")}]),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def bad_request_code(exception: Exception | None) -> tuple[str, int, str]:
    """(code, HTTP status, message) for what Django refuses while reading a request: a body
    past DATA_UPLOAD_MAX_MEMORY_SIZE is 413, too many fields or files 400."""
    if isinstance(exception, RequestDataTooBig):
        return ("too_large", status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                str(MSG_BODY_TOO_LARGE % {"limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}))
    if isinstance(exception, TooManyFieldsSent):
        return ("too_many_fields", status.HTTP_400_BAD_REQUEST,
                str(MSG_TOO_MANY_FIELDS % {"limit": settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}))
    if isinstance(exception, TooManyFilesSent):
        return ("too_many_files", status.HTTP_400_BAD_REQUEST,
                str(MSG_TOO_MANY_FILES % {"limit": settings.DATA_UPLOAD_MAX_NUMBER_FILES}))
    return "bad_request", status.HTTP_400_BAD_REQUEST, str(MSG_BAD_REQUEST)


def json_bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Django's own refusals (handler400) under /api/, in the error shape."""
    code, http_status, message = bad_request_code(exception)
    return JsonResponse(error_body([{"field": None, "code": code, "message": message}]),
                        status=http_status)
