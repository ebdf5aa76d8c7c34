"""/union/coverage/: the union's coverage and siting page, with the what-if (issue 18).

The stations with their reach, the demand no station reaches, the share of riders' reports,
needs and check-ins within reach, the suggested next sites (the maximal-covering greedy of
``stations.selectors.siting_suggest``) and, on the map, a what-if: add, move or remove stations
and see the figures recomputed by POST /api/v1/stations/coverage/what-if/ (the same selector,
``coverage_summary(sites=...)``) before anything is saved. Nothing on the page writes. Union
staff of a subdistrict see theirs; the district's accounts choose one; anyone else goes to the
login page. Every figure on the map is also in a table.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import user_passes_test
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from civicmap.i18n import name_field
from civicmap.replica import replica_reads
from civicmap.scopes import user_subdistrict_ids
from civicmap.selectors import subdistrict_list
from frontend.csp import csp_protected
from frontend.maps.assets import map_render_parts
from frontend.maps.basemaps import basemap_configured
from frontend.maps.coverage import (
    EditableStation,
    coverage_figures,
    coverage_map_build,
    share_text,
)
from frontend.union_views import union_page_reader
from stations.api.serializers import DEFAULT_PERIOD_DAYS, WHAT_IF_DAYS
from stations.layers import uncovered_demand_cells
from stations.selectors import (
    Period,
    coverage_summary,
    siting_suggest,
    station_reach_list,
)

SITING_PICKS = 5  # the next sites suggested, as the report in docs/STATIONS.md
FIGURE_ROWS = [  # (key of coverage_figures, label): the figures table's rows
    ("reports", _("Riders' reports within reach")),
    ("needs", _("Riders' own needs within reach")),
    ("checkins", _("Check-ins within reach")),
    ("area", _("Area within reach")),
    ("stations", _("Stations in the subdistrict")),
    ("uncovered", _("Uncovered demand (100 m cells)")),
]


class CoverageFilterForm(forms.Form):
    days = forms.TypedChoiceField(
        label=_("Period"), coerce=int, required=False,
        choices=[(days, _("Last %(days)s days") % {"days": days}) for days in WHAT_IF_DAYS])
    subdistrict = forms.ChoiceField(label=_("Subdistrict"), required=False)

    def __init__(self, data, *, subdistricts) -> None:
        super().__init__(data)
        self.subdistricts = list(subdistricts)
        label = name_field()
        self.fields["subdistrict"].choices = [(s.code, getattr(s, label))
                                              for s in self.subdistricts]

    def chosen(self):
        """(days, subdistrict): the form's, or the defaults where it has none or a wrong one."""
        data = self.cleaned_data if self.is_valid() else {}
        by_code = {s.code: s for s in self.subdistricts}
        return (data.get("days") or DEFAULT_PERIOD_DAYS,
                by_code.get(data.get("subdistrict") or "", self.subdistricts[0]))


@require_GET
@user_passes_test(union_page_reader)  # anyone else goes to the login page
@csp_protected
@replica_reads()
def union_coverage(request: HttpRequest) -> HttpResponse:
    """The coverage map and figures of a period (30, 90 or 365 days) for one subdistrict, the
    suggested next sites, and the what-if on the map. A refused filter: 400 with the error
    beside its field, the page of the defaults."""
    scope = user_subdistrict_ids(request.user)
    subdistricts = [s for s in subdistrict_list() if scope is None or s.pk in scope]
    form = CoverageFilterForm(request.GET or None, subdistricts=subdistricts)
    days, subdistrict = form.chosen()
    until = timezone.now()
    period = Period(since=until - timedelta(days=days), until=until)
    language = translation.get_language() or settings.LANGUAGE_CODE
    basemap = basemap_configured(language=language)
    summary = coverage_summary(period=period, subdistrict=subdistrict)
    siting = siting_suggest(k=SITING_PICKS, period=period, subdistrict=subdistrict)
    cells = uncovered_demand_cells(since=period.since, until=period.until,
                                   subdistrict=subdistrict)
    stations = [EditableStation(**station)
                for station in station_reach_list(subdistrict=subdistrict)]
    fmap = coverage_map_build(
        stations=stations, cells=cells, picks=siting["picks"], basemap=basemap,
        language=language, what_if={
            "url": reverse("station-coverage-what-if"), "days": days,
            "subdistrict": subdistrict.code, "radius_default_m": summary["radius_default_m"],
        })
    request.csp_image_hosts = basemap.image_hosts  # type: ignore[attr-defined]
    figures = coverage_figures(summary, cells)
    return render(request, "frontend/union_coverage.html", {
        "map": map_render_parts(fmap, nonce=request.csp_nonce),  # type: ignore[attr-defined]
        "form": form, "several": len(subdistricts) > 1,
        "subdistrict_name": getattr(subdistrict, name_field()),
        "summary": summary, "stations": stations,
        "figures": [(key, label, figures[key]) for key, label in FIGURE_ROWS],
        "saved_json": json.dumps(figures, ensure_ascii=False),
        "communities": [
            {**row, "area_pct": share_text(row["area_share"]),
             "reports_pct": share_text(row["reports_share"]),
             "needs_pct": share_text(row["needs_share"])}
            for row in summary["communities"]
        ],
        "siting": {**siting, "picks": [{**pick, "reports_after": share_text(
            pick["reports_share_after"])} for pick in siting["picks"]]},
    }, status=400 if form.is_bound and not form.is_valid() else 200)
