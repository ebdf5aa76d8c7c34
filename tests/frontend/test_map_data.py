"""The governance map's data layers for its filters (/map/data/, issue 20): what the page fetches
to redraw its layers when a filter changes. Each filter narrows the layers it applies to
(issues.layers.MapFilters), a refused value is a 400 in the API's shape naming the field, the
public never sees a private category or a description, and the live layers are kept in Redis
under a version that a recount of the aggregates renews.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from civicmap.models import CommunityGrid, Subdistrict, UnitGrid
from issues.aggregates import aggregates_rebuild
from issues.layers import map_filters_for_period, map_stages, open_case_counts
from issues.models import Case, Report, Stage
from issues.services.intake import OPEN311_CHANNEL, ReportInput, report_create
from tests.frontend.helpers import (
    HUAIFANG,
    PRIVATE_CATEGORY,
    XINGONG,
    client_for,
)

pytestmark = pytest.mark.django_db

DATA_URL = "/map/data/"
UNIT_GRIDS_URL = "/map/unit-grids/"
NANYUAN, HEYI = "110106005", "110106016"
XINGONG_CODE = "110106005001"  # the community grid XINGONG lies in
HUAIFANG_CODE = "110106005010"



def _get(client, **query):
    response = client.get(DATA_URL, query)
    assert response.status_code == 200, response.content
    return response.json()


def _reports(body: dict) -> int:
    """Reports counted in the community table (the unit-grid aggregates' path)."""
    return sum(int(row[1].replace(",", "")) for row in body["tables"]["communities"])


def _open_cases(body: dict) -> int:
    return sum(int(row[3].replace(",", "")) for row in body["tables"]["communities"])


def test_the_default_view_has_every_layer_the_page_draws(map_history_shared, client):
    body = _get(client)
    assert set(body["layers"]) == {"community", "heat", "unit_grids", "hotspots"}
    assert set(body["live"]["layers"]) == {"stations", "coverage"}  # read live, never cached
    assert len(body["layers"]["community"]["features"]) == CommunityGrid.objects.count()
    assert body["layers"]["heat"] and len(body["layers"]["hotspots"]["features"]) == 1
    assert body["query"] == "" and body["as_of"] and body["as_of_text"].startswith("数据截至")
    assert body["urls"] == {"hourly": "/map/hourly/", "uncovered": "/map/uncovered/?days=30"}
    assert body["legend"]["hotspots"]["empty"] == ""


def test_kind_and_category_narrow_reports_and_cases(map_history_shared, client):
    everything = _get(client)
    events = _get(client, kind="E")  # the six E0505 reports at Xingong, their own cases
    components = _get(client, kind="C")
    assert _reports(events) == 6
    assert _reports(events) + _reports(components) == _reports(everything)
    assert events["layers"]["hotspots"]["features"] == []  # the hotspot's cases are C
    assert len(components["layers"]["hotspots"]["features"]) == 1
    assert sum(p[2] > 0 for p in events["layers"]["heat"]) < len(everything["layers"]["heat"])
    assert _reports(_get(client, category="C0401")) == 6  # the six at Chengyuan
    assert _reports(_get(client, kind="E", category="C0401")) == 0  # both apply
    assert events["query"] == "kind=E"


def test_a_community_keeps_its_own_grid_reports_cells_and_cases(map_history_shared, client):
    body = _get(client, community=XINGONG_CODE)
    assert [f["properties"]["code"] for f in body["layers"]["community"]["features"]] == [
        XINGONG_CODE]
    community = CommunityGrid.objects.get(code=XINGONG_CODE)
    # The unit grids as counts by grid id (their shapes: /map/unit-grids/, once).
    assert set(body["layers"]["unit_grids"]) == set(
        community.unit_grids.values_list("grid_id", flat=True))
    expected = Case.objects.filter(community_grid=community).count()  # one report each
    assert _reports(body) == expected > 0
    # Every heat cell's centre lies in the community (about the Xingong reports' latitude).
    assert body["layers"]["heat"]
    assert all(abs(lat - XINGONG[1]) < 0.01 for lat, _lon, _weight in body["layers"]["heat"])
    assert body["layers"]["hotspots"]["features"] == []  # the hotspot is at Huaifang
    huaifang = _get(client, community=HUAIFANG_CODE)
    assert len(huaifang["layers"]["hotspots"]["features"]) == 1
    assert all(abs(lat - HUAIFANG[1]) < 0.01 for lat, _lon, _weight in
               huaifang["layers"]["heat"])


def test_a_subdistrict_keeps_its_own_communities(map_history_shared, client):
    body = _get(client, subdistrict=HEYI)
    heyi = Subdistrict.objects.get(code=HEYI)
    assert {f["properties"]["code"] for f in body["layers"]["community"]["features"]} == set(
        CommunityGrid.objects.filter(subdistrict=heyi).values_list("code", flat=True))
    assert _reports(body) == 0 and body["layers"]["heat"] == []  # the history is Nanyuan's
    assert body["legend"]["heat"]["empty"]  # and the legend says the layer is empty
    assert _reports(_get(client, subdistrict=NANYUAN, community=XINGONG_CODE)) > 0


def test_stage_applies_to_the_case_layers_only(map_history_shared, client):
    default = _get(client)
    closed = _get(client, stage="closed")
    assert _open_cases(default) > 0 and _open_cases(closed) == 0
    assert closed["layers"]["hotspots"]["features"] == []
    assert _reports(closed) == _reports(default)  # reports have no stage
    assert closed["layers"]["heat"] == default["layers"]["heat"]
    assert closed["legend"]["hotspots"]["empty"] == "热点只按未结案件绘制。"
    assert closed["tables"]["case_column"] == "已结案件"
    # Closed: the cases of the period closed since (open ones: whenever reported).
    Case.objects.filter(community_grid__code=HUAIFANG_CODE).update(stage=Stage.CLOSED)
    closed = _get(client, stage="closed")
    assert _open_cases(closed) == Case.objects.filter(
        community_grid__code=HUAIFANG_CODE, merged_into__isnull=True,
        category__is_private=False).count() > 0
    assert closed["layers"]["hotspots"]["features"] == []  # hotspots: open cases only
    assert _get(client)["layers"]["hotspots"]["features"] == []  # none open there now
    stage = Case.objects.exclude(stage=Stage.CLOSED).values_list("stage", flat=True).first()
    assert _open_cases(_get(client, stage=stage)) == _open_cases(_get(client))


def test_a_shorter_period_counts_fewer_reports(map_history_shared, client):
    assert 0 < _reports(_get(client, days=1)) < _reports(_get(client, days=30))


@pytest.mark.parametrize(("field", "value"), [
    ("days", "5"), ("kind", "X"), ("category", "Z9999"), ("subdistrict", "110106999"),
    ("community", "110106005999"), ("stage", "cancelled"),
])
def test_a_refused_value_is_a_400_naming_its_field(reference_data, client, field, value):
    response = client.get(DATA_URL, {field: value})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [(error["field"], error["code"]) for error in errors] == [(field, "invalid_choice")]
    assert "选择" in errors[0]["message"]  # zh-hans by default
    english = client.get(DATA_URL, {field: value}, HTTP_ACCEPT_LANGUAGE="en")
    assert "Select a valid choice" in english.json()["errors"][0]["message"]


def test_a_community_of_another_subdistrict_is_refused(reference_data, client):
    response = client.get(DATA_URL, {"subdistrict": HEYI, "community": XINGONG_CODE},
                          HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response.json()["errors"] == [{
        "field": "community", "code": "invalid_choice",
        "message": "This community is not in the subdistrict chosen."}]


@pytest.mark.parametrize("role", ["anonymous", "rider", "office_staff"])
def test_the_public_never_sees_private_categories_or_descriptions(map_history_shared, client, role):
    client = client_for(client, role)
    office = role == "office_staff"
    private = client.get(DATA_URL, {"category": PRIVATE_CATEGORY})
    assert private.status_code == (200 if office else 400)
    body = _get(client, kind="L")
    assert (_reports(body) > 0) == office  # the private case at Huaifang is the only L one
    hotspots = _get(client)["layers"]["hotspots"]["features"]
    assert bool(hotspots[0]["properties"]["latest"]) == office
    assert ("hotspot case" in str(hotspots)) == office


def test_live_layers_are_cached_until_the_aggregates_are_recounted(
        map_history_shared, client, settings, django_capture_on_commit_callbacks):
    settings.MAP_LIVE_CACHE_S = 300
    from django.core.cache import cache

    cache.clear()
    first = _get(client, kind="C")
    with CaptureQueriesContext(connection) as queries:
        assert _get(client, kind="C") == first
    read = " ".join(query["sql"] for query in queries.captured_queries)
    # The form's choices and the stations (read live: open now changes by the minute) only.
    assert "issues_report" not in read and "issues_case" not in read
    rider = get_user_model().objects.get(username="rider1")
    report_create(channel=OPEN311_CHANNEL, reporter=rider, data=ReportInput(
        category_code="C0101", lon=HUAIFANG[0], lat=HUAIFANG[1]))
    # Intake counts it in the aggregates without renewing the version: the cached layers
    # stand for their time to live (the page says what time they are as of).
    assert _reports(_get(client, kind="C")) == _reports(first)
    with django_capture_on_commit_callbacks(execute=True):
        aggregates_rebuild()  # a recount renews the version once committed
    assert _reports(_get(client, kind="C")) == _reports(first) + 1


def test_the_unit_grids_come_as_counts_and_their_shapes_once(map_history_shared, client, settings):
    """The data carry each unit grid's reports by grid id, read without the polygons; the
    shapes come from /map/unit-grids/, the same for every filter: public, cached, ETag."""
    from django.core.cache import cache

    settings.MAP_UNIT_GRIDS_CACHE_S = 3600
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        body = _get(client, kind="C")
    unit_reads = [query["sql"] for query in queries.captured_queries
                  if "civicmap_unitgrid" in query["sql"]]
    assert unit_reads and not any("ST_AsGeoJSON" in sql for sql in unit_reads)
    counts = body["layers"]["unit_grids"]
    assert len(counts) == UnitGrid.objects.count() and sum(counts.values()) > 0

    response = client.get(UNIT_GRIDS_URL, {"basemap": "none"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=3600" and response["ETag"]
    shapes = response.json()["features"]
    assert {shape["id"] for shape in shapes} == set(counts)
    assert all(shape["id"] == shape["properties"]["grid_id"] and shape["geometry"]["coordinates"]
               for shape in shapes)
    with CaptureQueriesContext(connection) as queries:  # from Redis
        again = client.get(UNIT_GRIDS_URL, {"basemap": "none"},
                           HTTP_IF_NONE_MATCH=response["ETag"])
    assert not any("civicmap_unitgrid" in query["sql"] for query in queries.captured_queries)
    assert again.status_code == 304 and again["ETag"] == response["ETag"]
    assert again["Cache-Control"] == "public, max-age=3600"


def test_the_unit_grids_of_another_basemap_are_refused(reference_data, client, settings):
    settings.BASEMAP = "none"
    response = client.get(UNIT_GRIDS_URL, {"basemap": "amap"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert [(error["field"], error["code"]) for error in response.json()["errors"]] == [
        ("basemap", "invalid")]


@pytest.mark.parametrize("subdistrict", [None, NANYUAN])
def test_closed_cases_per_community_come_from_their_index_alone(map_history_shared, subdistrict):
    """The closed cases of a period per community (stage "closed", D-083) read
    case_closed_place and no row of the table: every column the count filters or counts is in
    it. Scans that read the table are switched off so that a few rows decide nothing; a column
    the index lacks would make it an Index Scan (with the table) or another index."""
    Case.objects.filter(community_grid__code=HUAIFANG_CODE).update(stage=Stage.CLOSED)
    place = Subdistrict.objects.get(code=subdistrict).pk if subdistrict else None
    filters = map_filters_for_period(now=map_history_shared, days=90, stages=map_stages("closed"),
                                     subdistrict_id=place)
    with CaptureQueriesContext(connection) as queries:
        counts = open_case_counts(filters=filters)
    assert sum(counts.values()) == Case.objects.filter(
        community_grid__code=HUAIFANG_CODE, merged_into__isnull=True,
        category__is_private=False).count() > 0
    (query,) = queries.captured_queries
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the test's transaction only
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + query["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Only Scan using case_closed_place on issues_case" in plan, plan


@pytest.mark.parametrize("office", [False, True])
def test_a_kind_from_the_totals_counts_what_its_categories_do(map_history_shared, office):
    """A kind's heat cells and grid counts come from the daily totals by kind (D-084), a
    category's from the daily rows by category: the kind counts what its categories together
    do, and the public's never a private category (L0101 at Huaifang is the only L)."""
    from issues.layers import report_grid_counts, report_heat_cells
    from issues.models import Category

    for kind in ("C", "E", "L"):
        codes = tuple(Category.objects.filter(code__startswith=kind).values_list("code", flat=True))
        by_kind, by_categories = (
            map_filters_for_period(now=map_history_shared, days=30, include_private=office,
                                   **chosen)
            for chosen in ({"kinds": (kind,)}, {"categories": codes}))
        heat = report_heat_cells(filters=by_kind)
        grids = report_grid_counts(filters=by_kind)
        assert heat == report_heat_cells(filters=by_categories)
        assert grids == report_grid_counts(filters=by_categories)
        shown = Report.objects.filter(category__code__startswith=kind)
        if not office:
            shown = shown.filter(category__is_private=False)
        assert sum(grids.communities.values()) == sum(cell.count for cell in heat)
        assert sum(cell.count for cell in heat) == shown.count()
        assert shown.exists() == (office or kind != "L")
