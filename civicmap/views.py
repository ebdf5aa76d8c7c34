"""Error pages: JSON in the API's error shape under /api/, Django's defaults elsewhere."""

from django.http import HttpRequest, HttpResponse
from django.views import defaults

from civicmap.api.errors import json_not_found, json_server_error


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_server_error(request)
    return defaults.server_error(request)
