"""/union/visits/: the stations' visits (issue 18), the union's page.

Check-ins per station by day, by week and by hour of day, the members served (distinct riders)
and the benefits of the 苑苑暖心卡 redeemed (per benefit, per station), for the last 7, 30 or
90 days or a month, and optionally one subdistrict or one station: figures, charts from our own
ECharts (stats.js, as /office/stats/), each chart's numbers in a table, each table a CSV file.
Read through stations.selectors_visits, the selectors of ``GET /api/v1/stations/visits/``.
Union staff see their subdistrict's stations; the district's accounts every subdistrict's (with
a subdistrict filter); anyone else goes to the login page. An invalid filter (an unknown
period, a malformed month, another subdistrict's station) is the page again with the field's
error (400) and no figures.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.contrib.auth.decorators import user_passes_test
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from civicmap.replica import replica_reads
from civicmap.scopes import user_subdistrict_ids
from civicmap.selectors import subdistrict_list
from frontend.csp import csp_protected
from frontend.forms import VisitsFilterForm
from frontend.union_views import union_page_reader
from frontend.visits_tables import (
    TABLES,
    visits_summary,
    visits_table_build,
    visits_tables_build,
)
from stations.cards import SHANGHAI
from stations.selectors_visits import VisitsWindow, visits_stations


def _form(request: HttpRequest) -> VisitsFilterForm:
    """The filters; the subdistricts and stations offered are those the account covers."""
    scope = user_subdistrict_ids(request.user)
    return VisitsFilterForm(
        request.GET, today=timezone.localdate(timezone=SHANGHAI),
        subdistricts=[s for s in subdistrict_list() if scope is None or s.pk in scope],
        stations=visits_stations(user=request.user))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)


def _window(form: VisitsFilterForm) -> VisitsWindow:
    since, until = form.chosen_days()
    subdistrict_id, station_id = form.chosen_place()
    return VisitsWindow(since=_midnight(since), until=_midnight(until),
                        subdistrict_id=subdistrict_id, station_id=station_id)


@require_GET
@user_passes_test(union_page_reader)  # anyone else goes to the login page
@csp_protected
@replica_reads()
def union_visits(request: HttpRequest) -> HttpResponse:
    """The period's totals, and each table with its chart."""
    form = _form(request)
    context: dict = {"form": form}
    if not form.is_valid():
        return render(request, "frontend/union_visits.html", context, status=400)
    window = _window(form)
    tables = visits_tables_build(user=request.user, window=window)
    since, until = form.chosen_days()
    context.update(
        since=since, last_day=until - timedelta(days=1), query=form.query(),
        summary=visits_summary(user=request.user, window=window), tables=tables,
        charts=[chart for table in tables for chart in table.charts],
    )
    return render(request, "frontend/union_visits.html", context)


@require_GET
@user_passes_test(union_page_reader)
@csp_protected
@replica_reads()
def union_visits_csv(request: HttpRequest, table: str) -> HttpResponse:
    """One table of the visits page as CSV; an invalid filter is the page with its error."""
    if table not in TABLES:
        raise Http404
    form = _form(request)
    if not form.is_valid():
        return render(request, "frontend/union_visits.html", {"form": form}, status=400)
    since, until = form.chosen_days()
    body = visits_table_build(user=request.user, window=_window(form), name=table).csv()
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    last_day = until - timedelta(days=1)
    response["Content-Disposition"] = (
        f'attachment; filename="visits-{table}-{since}-{last_day}.csv"')
    return response
