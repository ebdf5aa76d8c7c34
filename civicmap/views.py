"""Error pages: JSON in the API's error shape under /api/, Open311's error format under
/open311/, Django's defaults elsewhere."""

from django.http import HttpRequest, HttpResponse
from django.views import defaults

from civicmap.api.errors import (
    bad_request_code,
    json_bad_request,
    json_not_found,
    json_server_error,
)
from issues.open311.formats import JSON, XML, errors_response

OPEN311_ROOT = "/open311/"


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400 for what it refuses before any view runs: a body past
    DATA_UPLOAD_MAX_MEMORY_SIZE (answered 413 here), too many fields or files."""
    if request.path.startswith("/api/"):
        return json_bad_request(request, exception)
    if request.path.startswith(OPEN311_ROOT):
        _code, status, message = bad_request_code(exception)
        fmt = XML if request.path.endswith(".xml") else JSON
        return errors_response(fmt=fmt, status=status, descriptions=[message])
    return defaults.bad_request(request, exception)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_server_error(request)
    return defaults.server_error(request)
