"""Pages: the governance map (/map/) and the office's triage console (/office/).

Thin views: parse the query, call the selectors, hand values to frontend.maps, render.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import user_passes_test
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import get_conditional_response
from django.utils.http import quote_etag
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_http_methods

from civicmap.api.errors import error_body
from civicmap.errors import InvalidInput
from civicmap.layers import grid_outlines_json
from civicmap.replica import replica_reads
from civicmap.roles import Role, user_has_role
from civicmap.scopes import user_subdistrict_ids
from civicmap.selectors import community_list, subdistrict_list
from frontend.case_page import case_map_points, case_page_context
from frontend.console_views import console_filter_form
from frontend.csp import csp_protected
from frontend.forms import HolidayArrangementForm, MapFilterForm, StatsFilterForm
from frontend.maps.assets import map_render_parts
from frontend.maps.basemaps import Basemap, Projector, basemap_configured
from frontend.maps.case_map import case_map_build
from frontend.maps.console import dispatch_labels, office_map_build
from frontend.maps.elements import feature_collection
from frontend.maps.layers import (
    governance_map_build,
    governance_map_data,
    governance_map_stations,
    hourly_heat_data,
    uncovered_features,
    unit_grid_shape_features,
)
from frontend.selectors import (
    MapLayers,
    map_layers,
    map_layers_json,
    map_reads,
    map_unit_grids_json,
    office_grid_stats,
)
from frontend.stats_tables import (
    COLUMNS,
    column_headers,
    stats_cell,
    stats_table_build,
    stats_table_csv,
    stats_tables_build,
)
from frontend.stats_tables import TABLES as STATS_TABLES
from issues.layers import (
    MapFilters,
    map_category_list,
    map_filters_for_period,
    map_shows_open_cases,
    period_hours,
    report_heat_frames,
)
from issues.models import CaseAction
from issues.visibility import user_sees_everything
from patrol.calendar import arrangements_list, built_in_years
from patrol.selectors_case import case_page_read
from patrol.services.calendar import holiday_arrangement_save
from patrol.services.lifecycle import actor_may, case_allowed_actions
from patrol.stats import StatsFilters, stats_filters_for
from patrol.workdays import SHANGHAI
from stations.layers import (
    station_pins,
    uncovered_demand_cells,
    uncovered_demand_cells_public,
)

HOURLY_HEAT_DAYS = 7  # the hour-by-hour heatmap covers the last week
OFFICE_POLL_MAX_MS = 15_000  # the console never waits longer than this for new cases
MSG_OFFICE_ONLY = _("Only office staff can do this.")


def _map_form(request: HttpRequest, *, office: bool) -> MapFilterForm:
    """The map's filters (period, kind, category, subdistrict, community, stage): private
    categories for office staff only."""
    return MapFilterForm(request.GET or None, days=settings.MAP_PERIOD_DAYS,
                         categories=list(map_category_list(include_private=office)),
                         subdistricts=list(subdistrict_list()),
                         communities=list(community_list()))


def _map_filters(form: MapFilterForm, *, office: bool, now: datetime,
                 days: int | None = None) -> MapFilters:
    """The form's valid choices as the layers' filters (``days`` instead of the form's: the
    hourly heatmap's week)."""
    return map_filters_for_period(
        now=now, days=days or form.chosen_days(), categories=form.chosen_categories(),
        include_private=office, subdistrict_id=form.chosen_subdistrict_id(),
        kinds=form.chosen_kinds(), community_id=form.chosen_community_id(),
        stages=form.chosen_stages())


def _map_data_urls(form: MapFilterForm) -> dict[str, str]:
    """The URLs of the layers fetched by the page, with the page's filters: its data layers
    (all filters), the hourly heatmap (all but the period: it is always the last week) and
    the uncovered demand (the period: it counts every category, D-066)."""
    query = form.query()
    return {
        "data": _layer_url("frontend:map-data", **query),
        "hourly": _layer_url("frontend:map-hourly",
                             **{key: value for key, value in query.items() if key != "days"}),
        "uncovered": _layer_url("frontend:map-uncovered", days=form.chosen_days()),
    }


def _layer_url(name: str, **query: object) -> str:
    """A layer's data URL with the page's filters (those that are set)."""
    url = reverse(name)
    query = {key: value for key, value in query.items() if value}
    return f"{url}?{urlencode(query)}" if query else url


@require_GET
@csp_protected
@replica_reads()
def governance_map(request: HttpRequest) -> HttpResponse:
    """The governance map. Office staff also see private categories, case descriptions and
    the demand no station reaches cell by cell (the public: cells of at least
    ``PUBLIC_MIN_REPORTS``). The hourly heatmap and the uncovered demand are hidden
    at first and fetched from ``map_hourly_heat`` and ``map_uncovered`` when switched on.
    The default view comes from the periodic snapshot while it is fresh (``map_layers``); the
    page says what time its data are as of."""
    office = user_sees_everything(request.user)  # private categories, every description
    form = _map_form(request, office=office)
    now = timezone.now()
    filters = _map_filters(form, office=office, now=now)
    week = _map_filters(form, office=office, now=now, days=HOURLY_HEAT_DAYS)
    language = translation.get_language() or settings.LANGUAGE_CODE
    basemap = basemap_configured(language=language)
    with map_reads():  # one transaction: see map_reads
        layers = map_layers(filters=filters, now=now, language=language)
        stations = station_pins(now=now, subdistrict_id=filters.subdistrict_id)
    urls = _map_data_urls(form)
    fmap = governance_map_build(
        heat_cells=layers.heat_cells, heat_hours=period_hours(week),
        heat_frames_url=urls["hourly"],
        grids=layers.grids, unit_grids=layers.unit_grids, clusters=layers.clusters,
        stations=stations,
        uncovered_url=urls["uncovered"],
        uncovered_public=not _office_staff(request.user),
        basemap=basemap, language=language, data_url=reverse("frontend:map-data"),
        unit_grids_url=_unit_grids_url(basemap),
        open_cases=map_shows_open_cases(filters),
    )
    request.csp_image_hosts = basemap.image_hosts  # type: ignore[attr-defined]
    # A refused filter: 400 with the form's errors beside its fields, the refused values
    # kept in them, and the map of the default view, which the page says it shows.
    refused = form.is_bound and not form.is_valid()
    return render(request, "frontend/map.html", {
        "map": map_render_parts(fmap, nonce=request.csp_nonce),  # type: ignore[attr-defined]
        "form": form,
        "office": office,
        "basemap": basemap.key,
        "as_of": layers.as_of,
        "default_days": settings.MAP_PERIOD_DAYS,
        "grids": layers.grids,
        "clusters": layers.clusters,
        "open_cases": map_shows_open_cases(filters),
        "feed": _subdistrict_feed(form.chosen_subdistrict_code()),
    }, status=400 if refused else 200)


@require_GET
@replica_reads()
def map_data(request: HttpRequest) -> HttpResponse:
    """The governance map's data layers for the page's filters (``governance_map_data``),
    fetched by the page when a filter changes so that it redraws them without reloading: the
    same selectors as the page (``map_layers``: the snapshot for the default view, else the
    live layers; kept as JSON in Redis, ``map_layers_json``), the same audience rules (the
    public: public categories, no descriptions). A refused filter: 400 in the API's shape,
    naming the field."""
    office = user_sees_everything(request.user)  # private categories, every description
    form = _map_form(request, office=office)
    if form.is_bound and not form.is_valid():
        return _form_errors(form)
    now = timezone.now()
    filters = _map_filters(form, office=office, now=now)
    language = translation.get_language() or settings.LANGUAGE_CODE
    basemap = basemap_configured(language=language)
    query = urlencode(form.query())
    urls = _map_data_urls(form)

    def build(layers: MapLayers) -> dict:
        return {**governance_map_data(layers=layers, basemap=basemap, query=query,
                                      open_cases=map_shows_open_cases(filters)),
                "urls": {"hourly": urls["hourly"], "uncovered": urls["uncovered"]},
                "feed": _subdistrict_feed(form.chosen_subdistrict_code())}

    with map_reads():  # one transaction, as the page's
        body = map_layers_json(filters=filters, now=now, language=language,
                               variant=f"{basemap.key}?{query}", build=build)
        stations = station_pins(now=now, subdistrict_id=filters.subdistrict_id)
    # The stations beside the (cached) rest, spliced as bytes: {"live": {…}, <the rest>}.
    live = json.dumps(governance_map_stations(stations=stations, basemap=basemap),
                      separators=(",", ":")).encode()
    response = HttpResponse(b'{"live":' + live + b"," + body[1:],
                            content_type="application/json")
    response["Cache-Control"] = "private, no-cache"  # per audience and language; as_of moves
    return response


def _unit_grids_url(basemap: Basemap) -> str:
    """The unit grids' shapes for ``basemap``'s projection: the key in the URL, so that a
    browser's cached copy is never of another projection."""
    return reverse("frontend:map-unit-grids") + "?" + urlencode({"basemap": basemap.key})


@require_GET
@replica_reads()
def map_unit_grids(request: HttpRequest) -> HttpResponse:
    """Every unit grid's polygon by grid id (``unit_grid_shape_features``), the same for every
    filter: the page fetches them once and joins them with the counts of ``map_data``
    (D-077). Public (the governance map shows them to everyone), cached in Redis and in the
    browser for ``MAP_UNIT_GRIDS_CACHE_S``, with an ETag. ``basemap``: the configured one's
    key (its projection); another: 400 naming the field."""
    language = translation.get_language() or settings.LANGUAGE_CODE
    basemap = basemap_configured(language=language)
    if request.GET.get("basemap", basemap.key) != basemap.key:
        return _error(field="basemap", code="invalid", message=_("Not this map's basemap."),
                      status=400)
    projector = Projector(basemap)
    body = map_unit_grids_json(variant=basemap.key, build=lambda shapes: feature_collection(
        unit_grid_shape_features(projector, shapes)))
    etag = quote_etag(hashlib.sha256(body).hexdigest()[:32])
    response = (get_conditional_response(request, etag=etag)  # 304 on If-None-Match
                or HttpResponse(body, content_type="application/json"))
    response["ETag"] = etag
    response["Cache-Control"] = f"public, max-age={settings.MAP_UNIT_GRIDS_CACHE_S}"
    return response


def _subdistrict_feed(code: str) -> str:
    """A subdistrict's map announces its Atom feed (frontend.feeds); the district's none."""
    return reverse("frontend:feed-subdistrict", kwargs={"code": code}) if code else ""


def _form_errors(form: MapFilterForm) -> JsonResponse:
    """A 400 in the API's shape (civicmap/api/errors.py): one entry per field error."""
    return JsonResponse(error_body([
        {"field": name, "code": error["code"] or "invalid", "message": error["message"]}
        for name, errors in form.errors.get_json_data().items() for error in errors
    ]), status=400)


def _error(*, field: str | None, code: str, message: str, status: int) -> JsonResponse:
    """One error in the API's shape (civicmap/api/errors.py)."""
    return JsonResponse(error_body([{"field": field, "code": code, "message": str(message)}]),
                        status=status)


def _forbidden() -> JsonResponse:
    return _error(field=None, code="forbidden", message=MSG_OFFICE_ONLY, status=403)


@require_GET
@replica_reads()
def map_hourly_heat(request: HttpRequest) -> JsonResponse:
    """The governance map's hourly heatmap (last 7 days; the page's other filters), fetched by
    the page when the layer is switched on. Whoever may see the map may see it: the public its
    public categories, office staff every category (``report_heat_frames``, as the page read it)."""
    office = user_sees_everything(request.user)  # private categories, every description
    form = _map_form(request, office=office)
    if form.is_bound and not form.is_valid():
        return _form_errors(form)
    week = _map_filters(form, office=office, now=timezone.now(), days=HOURLY_HEAT_DAYS)
    with map_reads():
        frames = report_heat_frames(filters=week)
    basemap = basemap_configured(language=settings.LANGUAGE_CODE)  # for the GCJ-02 shift only
    return JsonResponse(hourly_heat_data(frames, basemap=basemap))


@require_GET
@replica_reads()
def map_uncovered(request: HttpRequest) -> JsonResponse:
    """The governance map's uncovered demand (?days=, every category), fetched by the page
    when the layer is switched on: office staff get every cell at its reports' centroid with
    the riders' needs among them; anyone else only the cells of at least
    ``PUBLIC_MIN_REPORTS`` reports, counts rounded down, at the cell's centre (it counts
    private categories: no cell may point at one report)."""
    office = _office_staff(request.user)
    form = _map_form(request, office=office)
    if form.is_bound and not form.is_valid():
        return _form_errors(form)
    filters = map_filters_for_period(now=timezone.now(), days=form.chosen_days(),
                                     include_private=office)
    with map_reads():
        cells = (uncovered_demand_cells(since=filters.since, until=filters.until,
                                        user=request.user) if office
                 else uncovered_demand_cells_public(since=filters.since, until=filters.until))
    basemap = basemap_configured(language=settings.LANGUAGE_CODE)  # for the GCJ-02 shift only
    return JsonResponse(uncovered_features(cells, basemap=basemap))


BACKGROUND_MAX_AGE_S = 3600  # the grids change with an import, not by the hour


@require_GET
@cache_control(public=True, max_age=BACKGROUND_MAX_AGE_S)
@replica_reads()
def map_background(request: HttpRequest) -> HttpResponse:
    """The community and unit grid outlines every map draws as its plain background when it
    has no tiles (``BASEMAP=none``, the default without a Tianditu key): our own data, public
    as on the governance map, so no map needs a server of elsewhere."""
    return HttpResponse(grid_outlines_json(), content_type="application/json")


def _office_staff(user) -> bool:
    return user_has_role(user, Role.OFFICE_STAFF)


@require_GET
@user_passes_test(_office_staff)  # anyone else goes to the login page
@csp_protected
@replica_reads()
def office_console(request: HttpRequest) -> HttpResponse:
    """The office's triage console: the open cases and community grids of the subdistricts the
    account covers on a map and in a list, refreshed by polling; details and actions through the
    lifecycle API (/api/v1/cases/…)."""
    language = translation.get_language() or settings.LANGUAGE_CODE
    basemap = basemap_configured(language=language)
    now = timezone.now()
    fmap = office_map_build(
        grids=office_grid_stats(
            user=request.user,
            filters=map_filters_for_period(now=now, days=settings.MAP_PERIOD_DAYS,
                                           include_private=True), now=now),
        basemap=basemap, feed_url=reverse("frontend:office-cases"), api_root="/api/v1/",
        bulk_url=reverse("frontend:office-cases-bulk"),
        poll_ms=min(settings.OFFICE_POLL_MS, OFFICE_POLL_MAX_MS), language=language,
    )
    request.csp_image_hosts = basemap.image_hosts  # type: ignore[attr-defined]
    return render(request, "frontend/office.html", {
        "map": map_render_parts(fmap, nonce=request.csp_nonce),  # type: ignore[attr-defined]
        "filters": console_filter_form(request),  # the list's, as the URL sets them
    })


@require_GET
@user_passes_test(_office_staff)  # anyone else goes to the login page, as for the console
@csp_protected
def office_case_page(request: HttpRequest, case_id: int) -> HttpResponse:
    """One case for the office: its header, whole timeline, reports, confirmations, tasks,
    internal notes, and while it is handed in the verification panel (report photos beside the
    proof, the time taken, the map). 404 for a case outside the subdistricts the account
    covers. Actions go through the lifecycle API (/api/v1/cases/<id>/<action>/) from
    civicmap-case.js. Read from the primary: the page is where the office acts next."""
    page = case_page_read(case_id=case_id, user=request.user)
    if page is None:
        raise Http404
    language = translation.get_language() or settings.LANGUAGE_CODE
    basemap = basemap_configured(language=language)
    reports, proof = case_map_points(page)
    fmap = case_map_build(reports=reports, proof=proof, basemap=basemap, language=language)
    request.csp_image_hosts = basemap.image_hosts  # type: ignore[attr-defined]
    context = case_page_context(
        page=page, allowed=case_allowed_actions(case=page.case, actor=request.user),
        may_note=actor_may(actor=request.user, action=CaseAction.ADD_NOTE, case=page.case,
                           task=None))
    return render(request, "frontend/case.html", {
        **context, "api_root": "/api/v1/",
        "dispatch_labels": dispatch_labels(language) if context["may_dispatch"] else None,
        "map": map_render_parts(fmap, nonce=request.csp_nonce),  # type: ignore[attr-defined]
    })


@require_http_methods(["GET", "POST"])
@user_passes_test(_office_staff)  # anyone else goes to the login page
@csp_protected
def office_calendar(request: HttpRequest) -> HttpResponse:
    """Next year's holidays and make-up working days, entered by the office from the State
    Council's notice (patrol.calendar): refused input is answered 400 with each error beside
    its field and nothing saved; a save redirects here (303) and deadlines count on it."""
    next_year = timezone.now().astimezone(SHANGHAI).year + 1
    form = HolidayArrangementForm(request.POST or None, initial={"year": next_year})
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            holiday_arrangement_save(year=data["year"], holidays=data["holidays"],
                                     makeup_workdays=data["makeup_workdays"],
                                     source=data["source"], actor=request.user,
                                     at=timezone.now())
        except InvalidInput as refused:  # entered meanwhile by someone else, say
            for error in refused.errors:
                form.add_error(error.field, str(error.message))
        else:
            response = HttpResponseRedirect(
                f"{reverse('frontend:office-calendar')}?saved={data['year']}")
            response.status_code = 303  # See Other: a reload does not post again
            return response
    return render(request, "frontend/office_calendar.html", {
        "form": form,
        "built_in": sorted(int(year) for year in built_in_years()),
        "arrangements": arrangements_list(),
        "saved": request.GET.get("saved", "")[:4],
    }, status=400 if form.is_bound else 200)


# --- statistics (/office/stats/) -----------------------------------------------------------------

def _stats_form(request: HttpRequest) -> StatsFilterForm:
    """The statistics' filters; the subdistrict choices are those the account covers."""
    scope = user_subdistrict_ids(request.user)
    subdistricts = [s for s in subdistrict_list() if scope is None or s.pk in scope]
    return StatsFilterForm(request.GET, subdistricts=subdistricts, today=timezone.localdate())


def _stats_filters(request: HttpRequest, form: StatsFilterForm) -> StatsFilters:
    since, until = form.chosen_period()
    return stats_filters_for(user=request.user, since=since, until=until,
                             bucket=form.chosen_bucket(),
                             subdistrict_id=form.chosen_subdistrict_id())


@require_GET
@user_passes_test(_office_staff)  # anyone else goes to the login page
@csp_protected
@replica_reads()
def office_stats(request: HttpRequest) -> HttpResponse:
    """Counts, rates and median times of a period for the subdistricts the account covers (the
    district role: every one side by side, or one), as figures, charts, tables and CSV. An
    invalid filter answers 400 with the form's errors and no figures."""
    form = _stats_form(request)
    context: dict = {"form": form}
    if not form.is_valid():
        return render(request, "frontend/stats.html", context, status=400)
    filters = _stats_filters(request, form)
    summary, tables = stats_tables_build(
        filters=filters,
        by_subdistrict=form.several_subdistricts and form.chosen_subdistrict_id() is None)
    headers = column_headers()
    context.update(
        since=filters.since, last_day=filters.until - timedelta(days=1), query=form.query(),
        summary=[(headers[column], stats_cell(summary, column)) for column in COLUMNS],
        tables=tables,
        charts=[chart for table in tables for chart in table.charts],
        empty=summary.reports == 0 and summary.cases == 0,
    )
    return render(request, "frontend/stats.html", context)


@require_GET
@replica_reads()
def office_stats_csv(request: HttpRequest, table: str) -> HttpResponse:
    """One table of the statistics page as CSV (UTF-8 with a BOM, numbers as numbers)."""
    if not _office_staff(request.user):
        return _forbidden()
    if table not in STATS_TABLES:
        raise Http404
    form = _stats_form(request)
    if not form.is_valid():
        return _form_errors(form)
    filters = _stats_filters(request, form)
    body = stats_table_csv(stats_table_build(filters=filters, name=table))
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    last_day = filters.until - timedelta(days=1)
    response["Content-Disposition"] = (
        f'attachment; filename="stats-{table}-{filters.since}-{last_day}.csv"')
    return response
