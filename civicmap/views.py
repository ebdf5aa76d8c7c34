"""Error pages: JSON in the API's error shape under /api/, a higher app's own format under the
prefix it registers (issues: Open311's under /open311/), Django's defaults elsewhere."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.views import defaults

from civicmap.api.errors import (
    bad_request_code,
    json_bad_request,
    json_not_found,
    json_server_error,
)

# A 400's answer under a path prefix, for an app above this one (it registers at start-up, in
# its AppConfig.ready(), so that the base never imports it): (request, status, message) -> response.
BadRequestResponder = Callable[[HttpRequest, int, str], HttpResponse]
_BAD_REQUEST_RESPONDERS: dict[str, BadRequestResponder] = {}


def bad_request_responder_register(*, prefix: str, responder: BadRequestResponder) -> None:
    _BAD_REQUEST_RESPONDERS[prefix] = responder


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400 for what it refuses before any view runs: a body past
    DATA_UPLOAD_MAX_MEMORY_SIZE (answered 413 here), too many fields or files."""
    if request.path.startswith("/api/"):
        return json_bad_request(request, exception)
    for prefix, responder in _BAD_REQUEST_RESPONDERS.items():
        if request.path.startswith(prefix):
            _code, status, message = bad_request_code(exception)
            return responder(request, status, message)
    return defaults.bad_request(request, exception)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_server_error(request)
    return defaults.server_error(request)
