"""The governance map's layers loaded on demand: the hourly heatmap (/map/hourly/) and the
uncovered demand (/map/uncovered/), fetched by the page when switched on.

Each endpoint needs what its page needs: the hourly heatmap is as public as /map/ (private
categories for office staff only), the uncovered demand cell by cell is office staff's, the
public's in cells of at least PUBLIC_MIN_REPORTS reports (counts rounded down). Both read
through the same selectors as the page did (one query path).

The tests share the map history, written once for the module; the browser test of these layers
is in test_map_page.py, as a transactional test would wait for the module's transaction.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from frontend.maps.basemaps import basemap_get
from frontend.maps.layers import hourly_heat_data, uncovered_features
from frontend.views import HOURLY_HEAT_DAYS
from issues.layers import map_filters_for_period, report_heat_frames
from stations.layers import (
    PUBLIC_MIN_REPORTS,
    uncovered_demand_cells,
    uncovered_demand_cells_public,
)
from tests.frontend.helpers import (
    CHENGYUAN,
    OFFICE_ROLES,
    PRIVATE_CATEGORY,
    ROLES,
    client_for,
    reports_add,
)

pytestmark = pytest.mark.django_db

MAP_URL = "/map/"
HOURLY_URL = "/map/hourly/"
UNCOVERED_URL = "/map/uncovered/"

LIKE_THE_MAP = {role: 200 for role in ROLES}


@pytest.mark.parametrize("role", ROLES)
def test_hourly_heatmap_is_as_public_as_the_map(map_history_shared, client, role):
    client = client_for(client, role)
    assert client.get(MAP_URL).status_code == LIKE_THE_MAP[role] == 200
    response = client.get(HOURLY_URL)
    assert response.status_code == LIKE_THE_MAP[role]
    assert len(response.json()["frames"]) == HOURLY_HEAT_DAYS * 24


CROWDED = (CHENGYUAN[0], CHENGYUAN[1] + 0.00135)  # about 150 m north of Chengyuan's point


@pytest.fixture
def crowded_cell(map_history_shared):
    """Seven more reports at one spot of Chengyuan, 150 m north of the scattered ones: a 100 m
    cell of at least seven uncovered reports once every station's reach is cut to 1 m, beside
    the history's cells of one to four."""
    from stations.models import Station

    reports_add(point=CROWDED, code="C0401", received_ats=[
        map_history_shared - timedelta(hours=hours + 1) for hours in range(7)])
    Station.objects.update(coverage_radius_m=1)  # metres: then almost no report is within reach


@pytest.mark.parametrize("role", ROLES)
def test_uncovered_demand_for_everyone_the_office_cell_by_cell(crowded_cell, client, role):
    response = client_for(client, role).get(UNCOVERED_URL)
    assert response.status_code == 200
    features = response.json()["features"]
    assert features
    if role in OFFICE_ROLES:
        assert all("needs" in feature["properties"] for feature in features)
        assert min(feature["properties"]["count"] for feature in features) == 1
    else:  # the public's cells: k reports or more, rounded down to k, needs not told apart
        assert all("needs" not in feature["properties"] for feature in features)
        assert all(feature["properties"]["count"] % PUBLIC_MIN_REPORTS == 0
                   and feature["properties"]["count"] >= PUBLIC_MIN_REPORTS
                   for feature in features)


def test_the_public_never_sees_a_cell_of_fewer_than_k_reports(crowded_cell):
    filters = map_filters_for_period(now=timezone.now(), days=30, include_private=True)
    cells = uncovered_demand_cells(since=filters.since, until=filters.until)
    public = uncovered_demand_cells_public(since=filters.since, until=filters.until)
    small = [cell for cell in cells if cell.reports < PUBLIC_MIN_REPORTS]
    large = sorted(cell.reports for cell in cells if cell.reports >= PUBLIC_MIN_REPORTS)
    assert small and large  # the history has both kinds
    assert sorted(cell.reports for cell in public) == sorted(
        reports // PUBLIC_MIN_REPORTS * PUBLIC_MIN_REPORTS for reports in large)
    # With k = 1 every uncovered report is in some public cell, so the threshold did the work.
    everyone = uncovered_demand_cells_public(since=filters.since, until=filters.until,
                                             min_reports=1)
    assert sum(cell.reports for cell in everyone) == sum(cell.reports for cell in cells)


def _points(body: dict) -> int:
    return sum(len(frame) for frame in body["frames"])


def test_hourly_heatmap_is_what_the_selector_reads(map_history_shared, client):
    """The endpoint serves report_heat_frames through hourly_heat_data, nothing else."""
    week = map_filters_for_period(now=timezone.now(), days=HOURLY_HEAT_DAYS)
    expected = hourly_heat_data(report_heat_frames(filters=week), basemap=basemap_get("none"))
    body = client.get(HOURLY_URL).json()
    assert body == expected
    assert _points(body) > 0 and len(body["labels"]) == len(body["frames"])


def test_hourly_heatmap_keeps_private_categories_for_office_staff(map_history_shared, client):
    public = client.get(HOURLY_URL).json()
    # The public may not even ask for a private category.
    refused = client.get(HOURLY_URL, {"category": PRIVATE_CATEGORY})
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "category"
    client_for(client, "office_staff")
    office = client.get(HOURLY_URL).json()
    assert _points(office) == _points(public) + 1  # the private need at Huaifang, 2 hours ago
    only_private = client.get(HOURLY_URL, {"category": PRIVATE_CATEGORY}).json()
    assert _points(only_private) == 1


def test_hourly_heatmap_follows_the_category_filter(map_history_shared, client):
    body = client.get(HOURLY_URL, {"category": "E0505"}).json()
    # E0505: six reports at Xingong, one a day for the last six days (helpers.map_history_load).
    assert _points(body) == 6


def test_uncovered_demand_is_what_the_selector_reads(map_history_shared, client):
    from stations.models import Station

    Station.objects.update(coverage_radius_m=1)  # metres: then almost no report is within reach
    client_for(client, "office_staff")
    for days in (None, 7):
        filters = map_filters_for_period(now=timezone.now(), days=days or 30,
                                         include_private=True)
        cells = uncovered_demand_cells(since=filters.since, until=filters.until)
        expected = uncovered_features(cells, basemap=basemap_get("none"))
        body = client.get(UNCOVERED_URL, {"days": days} if days else {}).json()
        assert body == expected and body["features"]
    assert client.get(UNCOVERED_URL, {"days": 5}).status_code == 400  # not a period offered


def test_map_page_carries_no_hidden_layer_data(map_history_shared, client):
    """The page names the layers' URLs (with its filters) and holds none of their data."""
    client_for(client, "office_staff")
    html = client.get(MAP_URL, {"days": 7, "category": "E0505"}).content.decode()
    assert "/map/hourly/?category=E0505" in html
    assert "/map/uncovered/?days=7" in html
    assert "civicmap.onDemand(" in html


def test_each_office_sees_the_uncovered_demand_of_its_own_subdistrict(map_history_shared, client):
    """A report in Heyi beyond every station is Heyi's office's uncovered demand, not
    Nanyuan's (stations.layers.uncovered_demand_cells reads the reader's subdistrict)."""
    from django.contrib.auth import get_user_model

    from civicmap.models import Subdistrict
    from issues.services.intake import OPEN311_CHANNEL, ReportInput, report_create
    from stations.models import Station

    Station.objects.update(coverage_radius_m=1)  # metres: no report is within reach
    heyi = Subdistrict.objects.get(code="110106016")
    centre = heyi.boundary.point_on_surface
    report_create(channel=OPEN311_CHANNEL,
                  data=ReportInput(category_code="E0101", lon=centre.x, lat=centre.y),
                  reporter=get_user_model().objects.get(username="rider1"))

    def uncovered(username: str) -> list[dict]:
        client.force_login(get_user_model().objects.get(username=username))
        return client.get(UNCOVERED_URL).json()["features"]

    in_heyi = [f for f in uncovered("office_heyi1")
               if heyi.boundary.covers(_point(f["geometry"]["coordinates"]))]
    assert in_heyi and len(in_heyi) == len(uncovered("office_heyi1"))
    assert not any(heyi.boundary.covers(_point(f["geometry"]["coordinates"]))
                   for f in uncovered("office1"))


def _point(coordinates: list[float]):
    from django.contrib.gis.geos import Point

    return Point(*coordinates[:2], srid=4326)
