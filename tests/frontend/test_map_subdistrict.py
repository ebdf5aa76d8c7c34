"""The public map shows the whole district, with a subdistrict filter (issue 16): every layer read
for one subdistrict holds only what lies in it, the page lists the subdistricts, and a value
that is not one of them takes the form's error path (the page shows the defaults, the data
views answer 400 naming the field). The default view, the snapshot's, stays the district's.
"""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from civicmap.models import CommunityGrid, Subdistrict
from frontend.selectors import community_grid_stats, map_filters_default, unit_grid_stats
from issues.layers import (
    case_hotspots,
    map_filters_for_period,
    open_case_counts,
    report_grid_counts,
    report_heat_cells,
    report_heat_frames,
)
from issues.models import Report
from issues.services.intake import OPEN311_CHANNEL, ReportInput, report_create
from stations.layers import station_pins
from stations.models import Station

pytestmark = pytest.mark.django_db

NANYUAN, HEYI, DONGGAODI = "110106005", "110106016", "110106006"
POINTS = {  # (lon, lat) WGS 84, well inside each subdistrict
    NANYUAN: [(116.392, 39.797), (116.3954, 39.8040)],
    HEYI: [(116.3881, 39.8284), (116.3920, 39.8239)],
    DONGGAODI: [(116.4100, 39.7935)],
}
MAP_URL = "/map/"


@pytest.fixture
def spread(reference_data):
    """Reports in all three subdistricts (two cases at each point, so hotspots can form)."""
    rider = get_user_model().objects.get(username="rider1")
    for points in POINTS.values():
        for lon, lat in points:
            for category in ("E0101", "C0103"):
                report_create(channel=OPEN311_CHANNEL, reporter=rider, data=ReportInput(
                    category_code=category, lon=lon, lat=lat))
    return {code: Subdistrict.objects.get(code=code).pk for code in POINTS}


def _filters(**kwargs):
    return map_filters_for_period(now=timezone.now(), days=7, **kwargs)


def test_every_layer_of_one_subdistrict_holds_only_its_own(spread):
    communities = dict(CommunityGrid.objects.values_list("pk", "subdistrict_id"))
    for code, pk in spread.items():
        filters = _filters(subdistrict_id=pk)
        reports = Report.objects.filter(subdistrict_id=pk).count()
        assert sum(cell.count for cell in report_heat_cells(filters=filters)) == reports
        assert sum(cell.count for frame in report_heat_frames(filters=filters)
                   for cell in frame.cells) == reports
        counts = report_grid_counts(filters=filters)
        assert sum(counts.communities.values()) == reports
        assert {communities[grid] for grid in counts.communities} == {pk}
        assert {communities[grid] for grid in open_case_counts(filters=filters)} == {pk}
        grids = community_grid_stats(filters=filters, now=timezone.now())
        assert {grid.code[:9] for grid in grids} == {code}
        assert sum(grid.reports for grid in grids) == reports
        assert {grid.grid_id[:9] for grid in unit_grid_stats(filters=filters)} == {code}
        spots = case_hotspots(filters=filters, eps_m=100, min_cases=2)
        names = set(CommunityGrid.objects.filter(subdistrict_id=pk)
                    .values_list("name_zh", flat=True))
        assert spots and {spot.community for spot in spots} <= names
    whole = _filters()
    assert sum(cell.count for cell in report_heat_cells(filters=whole)) == Report.objects.count()
    assert len(community_grid_stats(filters=whole, now=timezone.now())) == (
        CommunityGrid.objects.count())


def test_station_pins_of_one_subdistrict(spread):
    for pk in spread.values():
        names = set(Station.objects.filter(subdistrict_id=pk, is_active=True)
                    .values_list("name_zh", flat=True))
        assert {pin.name for pin in station_pins(subdistrict_id=pk)} == names
    assert len(station_pins()) == Station.objects.filter(is_active=True).count()


def test_the_default_view_is_the_whole_district(reference_data):
    now = timezone.now()
    default = map_filters_default(now=now, include_private=False)
    assert default.subdistrict_id is None  # the snapshot's view
    heyi = Subdistrict.objects.get(code=HEYI).pk
    narrowed = map_filters_for_period(now=now, days=settings.MAP_PERIOD_DAYS,
                                      subdistrict_id=heyi)
    assert narrowed != default  # so a subdistrict is always read live, never from the snapshot


def test_the_page_lists_the_subdistricts_and_filters_by_one(spread, client):
    page = client.get(MAP_URL, {"subdistrict": HEYI}, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="subdistrict"' in html
    for subdistrict in Subdistrict.objects.all():
        assert f'value="{subdistrict.code}"' in html
    assert f'value="{HEYI}" selected' in html
    assert "marked not valid" not in html
    hourly = client.get("/map/hourly/", {"subdistrict": HEYI})
    assert hourly.status_code == 200


def test_an_unknown_subdistrict_takes_the_forms_error_path(reference_data, client):
    page = client.get(MAP_URL, {"subdistrict": "110106999"}, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 400
    assert ("The map shows the filters marked not valid at their defaults (the last 30 days, "
            "every category, the whole district).") in page.content.decode()
    assert 'id="subdistrict-error"' in page.content.decode()
    hourly = client.get("/map/hourly/", {"subdistrict": "110106999"})
    assert hourly.status_code == 400
    errors = json.loads(hourly.content)["errors"]
    assert [(error["field"], error["code"]) for error in errors] == [
        ("subdistrict", "invalid_choice")]

