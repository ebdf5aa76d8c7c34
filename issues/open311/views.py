"""The Open311 GeoReport v2 edge: read the parameters, call one selector or service, answer.

Every path ends in ``.xml`` or ``.json``. ``jurisdiction_id``, optional on every call, is a
subdistrict's code and narrows the call to it; without it a call covers the whole district
(D-052). Refusals answer in the spec's error format: 404 for an unknown resource (path, service,
request, token or jurisdiction), 403 for a missing or bad
``api_key``, 429 beyond a key's hourly posts, 400 for anything else (an ``api_key`` in the URL
included: it would be written to access logs; the key travels in the POST body or the
``X-API-Key`` header). Open311 is key-authenticated, never session-based, so no
view here takes part in CSRF.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt

from civicmap.errors import DomainError, FieldError, InvalidInput, NotFound
from civicmap.models import Subdistrict
from civicmap.replica import replica_client_identify, replica_reads
from issues.open311 import selectors
from issues.open311.formats import JSON, XML, domain_error_response, open311_response
from issues.open311.inputs import (
    Params,
    extensions_parse,
    jurisdiction_parse,
    post_input_parse,
    request_filters_parse,
)
from issues.open311.services import open311_poster_resolve, open311_request_create

MSG_NO_RESOURCE = _("No such resource.")
MSG_NO_SERVICE = _("No service has the code %(code)s.")
MSG_NO_REQUEST = _("No service request has the ID %(id)s.")
MSG_NO_TOKEN = _("No such token: this server answers every POST at once with its "
                 "service_request_id.")
MSG_METHOD = _("%(method)s is not possible here: use %(allowed)s.")
MSG_API_KEY_IN_URL = _("Never send the api_key in the URL: URLs are written to access logs. "
                       "Send it in the POST body or the X-API-Key header, and ask for a new key: "
                       "this one may have been logged.")
# The header a client may use instead of the POST body's api_key (GeoReport v2 uses the body).
API_KEY_HEADER = "X-API-Key"

View = Callable[..., HttpResponse]


def open311_endpoint(*methods: str) -> Callable[[View], View]:
    """Method and jurisdiction checks, and refusals in the spec's error format. The view gets
    the jurisdiction as ``jurisdiction``: a Subdistrict, or None for the whole district."""
    allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())

    def decorate(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, fmt: str, **kwargs) -> HttpResponse:
            try:
                if request.method not in allowed:
                    raise InvalidInput(FieldError(None, "method", MSG_METHOD % {
                        "method": request.method, "allowed": ", ".join(methods)}))
                _params(request).nul_check()  # every parameter, before any is used
                if "api_key" in request.GET:
                    raise InvalidInput(FieldError("api_key", "in_url", MSG_API_KEY_IN_URL))
                jurisdiction = jurisdiction_parse(_params(request))
                return view(request, fmt, jurisdiction=jurisdiction, **kwargs)
            except DomainError as error:
                response = domain_error_response(fmt=fmt, error=error)
                if request.method not in allowed:
                    response["Allow"] = ", ".join(sorted(allowed))
                return response

        return wrapper

    return decorate


def _params(request: HttpRequest) -> Params:
    return Params(request.POST, request.GET) if request.method == "POST" else Params(request.GET)


@open311_endpoint("GET")
@replica_reads()
def discovery(request: HttpRequest, fmt: str, jurisdiction: Subdistrict | None) -> HttpResponse:
    endpoint = request.build_absolute_uri(request.path.rsplit("/", 1)[0])
    return open311_response(fmt=fmt, root="discovery",
                            data=selectors.discovery(endpoint_url=endpoint))


@open311_endpoint("GET")
@replica_reads()
def service_list(request: HttpRequest, fmt: str, jurisdiction: Subdistrict | None
                 ) -> HttpResponse:
    """Every subdistrict offers the same services: the list does not depend on the
    jurisdiction."""
    return open311_response(fmt=fmt, root="services", data=selectors.service_list())


@open311_endpoint("GET")
@replica_reads()
def service_definition(request: HttpRequest, fmt: str, jurisdiction: Subdistrict | None,
                       service_code: str) -> HttpResponse:
    category = selectors.public_category(code=service_code)
    if category is None:
        raise NotFound(FieldError("service_code", "not_found",
                                  MSG_NO_SERVICE % {"code": service_code}))
    return open311_response(fmt=fmt, root="service_definition",
                            data=selectors.service_definition(category=category))


@open311_endpoint("GET", "POST")
def requests_view(request: HttpRequest, fmt: str, jurisdiction: Subdistrict | None
                  ) -> HttpResponse:
    params = _params(request)
    if request.method == "POST":
        # The body's api_key (the query string's was refused by open311_endpoint), else the
        # header's.
        api_key = params.get("api_key") or request.headers.get(API_KEY_HEADER)
        poster = open311_poster_resolve(api_key=api_key)
        if poster.reporter is not None:
            replica_client_identify(user_id=poster.reporter.pk)
        report = open311_request_create(data=post_input_parse(params), poster=poster,
                                        jurisdiction=jurisdiction)
        answer = [{"service_request_id": str(report.pk),
                   "service_notice": selectors.service_notice(category=report.category)}]
        return open311_response(fmt=fmt, root="service_requests", data=answer)
    filters = request_filters_parse(params, now=timezone.now(), jurisdiction=jurisdiction)
    with replica_reads():
        data = selectors.service_request_list(filters=filters,
                                              absolute=request.build_absolute_uri)
    return open311_response(fmt=fmt, root="service_requests", data=data)


@open311_endpoint("GET")
@replica_reads()
def request_detail(request: HttpRequest, fmt: str, jurisdiction: Subdistrict | None,
                   service_request_id: str) -> HttpResponse:
    extensions = extensions_parse(_params(request))
    item = None
    if re.fullmatch(r"[0-9]{1,18}", service_request_id):
        item = selectors.service_request_get(request_id=int(service_request_id),
                                             extensions=extensions,
                                             absolute=request.build_absolute_uri,
                                             subdistrict_id=getattr(jurisdiction, "pk", None))
    if item is None:
        raise NotFound(FieldError("service_request_id", "not_found",
                                  MSG_NO_REQUEST % {"id": service_request_id}))
    return open311_response(fmt=fmt, root="service_requests", data=[item])


@open311_endpoint("GET")
def token_detail(request: HttpRequest, fmt: str, jurisdiction: Subdistrict | None,
                 token: str) -> HttpResponse:
    """Services here are realtime: no token is ever issued, so none is found."""
    raise NotFound(FieldError("token", "not_found", MSG_NO_TOKEN))


@csrf_exempt
def not_found(request: HttpRequest, path: str) -> HttpResponse:
    """Any other path under the root: 404, in JSON if it asked for .json, else XML."""
    fmt = JSON if path.endswith(".json") else XML
    return domain_error_response(fmt=fmt, error=NotFound(FieldError(None, "not_found",
                                                                    MSG_NO_RESOURCE)))
