"""Pages: the governance map (/map/) and the office's triage console (/office/).

Thin views: parse the query, call the selectors, hand values to frontend.maps, render.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import user_passes_test
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from civicmap.roles import Role, user_has_role
from frontend.csp import csp_protected
from frontend.forms import MapFilterForm
from frontend.maps import (
    basemap_get,
    governance_map_build,
    map_render_parts,
    office_case_rows,
    office_map_build,
)
from frontend.selectors import (
    case_hotspots,
    community_grid_stats,
    map_category_list,
    map_filters_for_period,
    map_reads,
    office_open_cases,
    report_heat_cells,
    report_heat_frames,
    station_pins,
    uncovered_demand_cells,
    unit_grid_stats,
)

HOURLY_HEAT_DAYS = 7  # the hour-by-hour heatmap covers the last week
OFFICE_POLL_MAX_MS = 15_000  # the console never waits longer than this for new cases
MSG_OFFICE_ONLY = _("Only office staff can do this.")


@require_GET
@csp_protected
def governance_map(request: HttpRequest) -> HttpResponse:
    """The governance map. Office staff also see private categories, case descriptions and
    the demand no station reaches."""
    office = user_has_role(request.user, Role.OFFICE_STAFF)
    form = MapFilterForm(request.GET or None, days=settings.MAP_PERIOD_DAYS,
                         categories=list(map_category_list(include_private=office)))
    days, categories = settings.MAP_PERIOD_DAYS, ()
    if form.is_bound and form.is_valid():
        days = form.cleaned_data["days"] or days
        categories = (form.cleaned_data["category"],) if form.cleaned_data["category"] else ()
    now = timezone.now()
    filters = map_filters_for_period(now=now, days=days, categories=categories,
                                     include_private=office)
    week = map_filters_for_period(now=now, days=HOURLY_HEAT_DAYS, categories=categories,
                                  include_private=office)
    language = translation.get_language() or settings.LANGUAGE_CODE
    basemap = basemap_get(settings.BASEMAP, language=language,
                          tianditu_key=settings.TIANDITU_KEY)
    with map_reads():  # one transaction, JIT off: see map_reads
        heat_cells = report_heat_cells(filters=filters)
        heat_frames = report_heat_frames(filters=week)
        grids = community_grid_stats(filters=filters, now=now)
        unit_grids = unit_grid_stats(filters=filters)
        clusters = case_hotspots(filters=filters, eps_m=settings.MAP_HOTSPOT_EPS_M,
                                 min_cases=settings.MAP_HOTSPOT_MIN_CASES,
                                 with_descriptions=office)
        stations = station_pins(now=now)
        uncovered = uncovered_demand_cells(filters=filters) if office else ()
    fmap = governance_map_build(
        heat_cells=heat_cells, heat_frames=heat_frames, grids=grids, unit_grids=unit_grids,
        clusters=clusters, stations=stations, uncovered=uncovered, basemap=basemap,
        language=language,
    )
    request.csp_image_hosts = basemap.image_hosts  # type: ignore[attr-defined]
    return render(request, "frontend/map.html", {
        "map": map_render_parts(fmap, nonce=request.csp_nonce),  # type: ignore[attr-defined]
        "form": form,
        "office": office,
        "basemap": basemap.key,
    })


def _office_staff(user) -> bool:
    return user_has_role(user, Role.OFFICE_STAFF)


@require_GET
@user_passes_test(_office_staff)  # anyone else goes to the login page
@csp_protected
def office_console(request: HttpRequest) -> HttpResponse:
    """The office's triage console: open cases on a map and in a list, refreshed by polling;
    details and actions through the lifecycle API (/api/v1/cases/…)."""
    language = translation.get_language() or settings.LANGUAGE_CODE
    basemap = basemap_get(settings.BASEMAP, language=language,
                          tianditu_key=settings.TIANDITU_KEY)
    now = timezone.now()
    fmap = office_map_build(
        grids=community_grid_stats(
            filters=map_filters_for_period(now=now, days=settings.MAP_PERIOD_DAYS,
                                           include_private=True), now=now),
        basemap=basemap, feed_url=reverse("frontend:office-cases"), api_root="/api/v1/",
        poll_ms=min(settings.OFFICE_POLL_MS, OFFICE_POLL_MAX_MS), language=language,
    )
    request.csp_image_hosts = basemap.image_hosts  # type: ignore[attr-defined]
    return render(request, "frontend/office.html", {
        "map": map_render_parts(fmap, nonce=request.csp_nonce),  # type: ignore[attr-defined]
        "office": True,
    })


@require_GET
def office_cases(request: HttpRequest) -> JsonResponse:
    """The console's feed: open cases, newest report first, drawn for the basemap."""
    if not _office_staff(request.user):
        return JsonResponse({"errors": [{"field": None, "code": "forbidden",
                                         "message": str(MSG_OFFICE_ONLY)}]}, status=403)
    basemap = basemap_get(settings.BASEMAP)
    response = JsonResponse({"cases": office_case_rows(office_open_cases(), basemap=basemap)})
    response["Cache-Control"] = "no-store"
    return response
