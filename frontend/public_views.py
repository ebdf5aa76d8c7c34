"""The public pages (issue 19): the home page (what the platform is, the public map, this
month's figures per subdistrict, a lookup by case number), a public case's page and a
community's page, each announcing its Atom feed (frontend.feeds).

Server-rendered and light: no script beyond pages.js, no map library; the map is /map/.
Whoever reads them sees what the public sees, signed in or not (issues.selectors_public).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from civicmap.i18n import name_field
from civicmap.models import CommunityGrid
from civicmap.replica import replica_reads
from civicmap.selectors import community_outline_list, subdistrict_list
from frontend.csp import csp_protected
from frontend.forms import CaseLookupForm
from issues.models import OPEN_STAGES, Stage
from issues.selectors_public import case_feed_entries, case_public_get
from patrol.stats import StatsFilters, StatsRow, bucket_start, stats_by

COMMUNITY_CASES_MAX = 20  # the newest openings and closings a community's page lists


@dataclass(frozen=True)
class SubdistrictFigures:
    """One subdistrict's row of the home page's table, with the links to its map and feed."""

    code: str
    name: str
    reports: int
    cases: int
    closed: int


def _month_figures() -> tuple[list[SubdistrictFigures], object]:
    """This month's reports received, cases dispatched and cases closed per subdistrict (every
    category: counts only, as the office's statistics count them, patrol.stats), every
    subdistrict listed, zeros included; and the month's first day."""
    today = timezone.localdate()
    since = bucket_start(today, "month")
    rows: dict[str, StatsRow] = {row.key: row for row in stats_by(
        filters=StatsFilters(subdistrict_ids=None, since=since,
                             until=today + timedelta(days=1), bucket="month"),
        dimension="subdistrict")}
    label = name_field()
    figures = []
    for subdistrict in subdistrict_list():
        row = rows.get(subdistrict.code)
        figures.append(SubdistrictFigures(
            code=subdistrict.code, name=getattr(subdistrict, label),
            reports=row.reports if row else 0, cases=row.cases if row else 0,
            closed=row.closed if row else 0))
    return figures, since


def _outline_map() -> dict | None:
    """The home page's map: each community grid's outline (SVG from PostGIS) linking to its
    page, in an equirectangular view (longitude scaled by the cosine of the mean latitude, true
    to about 0.1 % across the district); None without grids."""
    outlines, extent = community_outline_list()
    if extent is None:
        return None
    min_lon, min_lat, max_lon, max_lat = extent
    scale = math.cos(math.radians((min_lat + max_lat) / 2))
    pad = 0.002  # degrees of margin (about 200 m)
    label = name_field()
    return {
        "view_box": " ".join(f"{value:.5f}" for value in (
            (min_lon - pad) * scale, -max_lat - pad, (max_lon - min_lon + 2 * pad) * scale,
            max_lat - min_lat + 2 * pad)),
        "scale": f"{scale:.5f}",
        "communities": [{"code": outline.code, "name": getattr(outline, label),
                         "subdistrict": outline.subdistrict_code, "path": outline.svg_path}
                        for outline in outlines],
    }


@require_GET
@csp_protected
@replica_reads()
def home(request: HttpRequest) -> HttpResponse:
    """What the platform is, a link to the public map, this month's figures per subdistrict
    and the lookup by case number: a known public case's number redirects to its page; a
    malformed one answers 400, an unknown or private one 404, each with the message beside
    the field."""
    form = CaseLookupForm(request.GET if "case" in request.GET else None)
    status = 200
    if form.is_bound:
        if form.is_valid():
            case_id = form.cleaned_data["case"]
            if case_public_get(case_id=case_id) is not None:
                return HttpResponseRedirect(
                    reverse("frontend:public-case", kwargs={"case_id": case_id}))
            form.refuse_unknown()
            status = 404
        else:
            status = 400
    figures, since = _month_figures()
    return render(request, "frontend/home.html", {
        "form": form, "figures": figures, "month": since, "outline_map": _outline_map(),
        "feeds": [(row.name, reverse("frontend:feed-subdistrict", kwargs={"code": row.code}))
                  for row in figures],
    }, status=status)


def _case_labels(case) -> dict:
    label = name_field()
    return {"category": getattr(case.category, label),
            "community": getattr(case.community_grid, label, ""),
            "subdistrict": getattr(case.subdistrict, label),
            "stage": Stage(case.stage).label, "open": case.stage in OPEN_STAGES}


@require_GET
@csp_protected
@replica_reads()
def public_case(request: HttpRequest, case_id: int) -> HttpResponse:
    """A public case: its category, community, stage, public history and public photos; never
    who reported it, what they wrote or the workers' notes. 404 (the site's page, in the
    reader's language) for a number that names no case or a private category's; a case merged
    into another sends the reader to that one."""
    page = case_public_get(case_id=case_id)
    if page is None:
        raise Http404
    case = page.case
    if case.merged_into_id is not None:
        return HttpResponseRedirect(
            reverse("frontend:public-case", kwargs={"case_id": case.merged_into_id}))
    community = case.community_grid
    return render(request, "frontend/public_case.html", {
        "case": case, **_case_labels(case), "history": page.history, "photos": page.photos,
        "community_url": reverse("frontend:public-community", kwargs={"code": community.code})
        if community else "",
        "feed": (reverse("frontend:feed-community", kwargs={"code": community.code})
                 if community else
                 reverse("frontend:feed-subdistrict", kwargs={"code": case.subdistrict.code})),
    })


@require_GET
@csp_protected
@replica_reads()
def public_community(request: HttpRequest, code: str) -> HttpResponse:
    """A community's view: its newest public cases opened and closed, as its feed lists them,
    each linking to its page; 404 for a code that names no community."""
    community = CommunityGrid.objects.select_related("subdistrict").filter(code=code).first()
    if community is None:
        raise Http404
    label = name_field()
    entries = case_feed_entries(community=community.code, limit=COMMUNITY_CASES_MAX)
    return render(request, "frontend/public_community.html", {
        "community": getattr(community, label),
        "subdistrict": getattr(community.subdistrict, label),
        "entries": [{"kind": entry.kind, "at": entry.at, "id": entry.case.pk,
                     **_case_labels(entry.case)} for entry in entries],
        "map_url": f"{reverse('frontend:map')}?subdistrict={community.subdistrict.code}",
        "feed": reverse("frontend:feed-community", kwargs={"code": community.code}),
    })

