"""Open311 GeoReport v2 routes, included at ``open311/v2/``; each path ends in .xml or .json."""

from django.urls import re_path

from issues.open311 import views

FORMAT = r"\.(?P<fmt>xml|json)$"

urlpatterns = [
    re_path(r"^discovery" + FORMAT, views.discovery, name="open311-discovery"),
    re_path(r"^services" + FORMAT, views.service_list, name="open311-services"),
    re_path(r"^services/(?P<service_code>[^/]+)" + FORMAT, views.service_definition,
            name="open311-service"),
    re_path(r"^requests" + FORMAT, views.requests_view, name="open311-requests"),
    re_path(r"^requests/(?P<service_request_id>[^/]+)" + FORMAT, views.request_detail,
            name="open311-request"),
    re_path(r"^tokens/(?P<token>[^/]+)" + FORMAT, views.token_detail, name="open311-token"),
    # Anything else under the root is an unknown resource, answered in the spec's format;
    # [\s\S] and not ".", which stops at a newline (%0A) and left such paths to the HTML 404.
    re_path(r"^(?P<path>[\s\S]*)$", views.not_found, name="open311-not-found"),
]
