"""How many queries the map's data costs: the governance map's live layers for the public and
for office staff, the station pins and the console's open cases. Each layer is a fixed number
of statements whatever the data (PostGIS counts and clusters; no query per grid, case or
station), so the figures below hold at 1,000,000 reports too. Counted at today's figures: a
change that adds a query (an N+1, a layer read twice) fails here and has to state its figure.
Savepoints included (``map_reads`` opens one inside the test's transaction).
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from civicmap.scopes import user_subdistrict_ids
from frontend.selectors import map_filters_default, map_layers_live, map_reads
from patrol.layers import office_open_cases
from stations.layers import station_pins
from tests.frontend.helpers import map_history_load

pytestmark = pytest.mark.django_db

# Heat cells 1 and grid counts 1 (the hours at the ends, the days outside whole weeks and the
# whole weeks summed in one statement each), unit grids 1, open and overdue cases per community
# 2, community grids 1, hotspots 1; plus the savepoint, parallel workers off in it and back
# after it (``map_reads`` inside the test's transaction), and its release.
LIVE_LAYERS_PUBLIC_QUERIES = 11
LIVE_LAYERS_OFFICE_QUERIES = 12  # and the newest descriptions of the hotspots' cases
STATION_PINS_QUERIES = 2  # which stations are open, the stations
OFFICE_CASES_QUERIES = 1  # patrol's triage queue, categories and communities joined


@pytest.fixture
def history(reference_data, settings):
    settings.MAP_HOTSPOT_EPS_M = 50  # metres: the test hotspot's cases are 20 m apart
    settings.MAP_HOTSPOT_MIN_CASES = 3
    now = timezone.now()
    map_history_load(now=now)
    return now


@pytest.mark.parametrize(("include_private", "most"), [
    (False, LIVE_LAYERS_PUBLIC_QUERIES), (True, LIVE_LAYERS_OFFICE_QUERIES),
])
def test_live_map_layers_take_a_fixed_number_of_queries(history, include_private, most,
                                                         django_assert_max_num_queries):
    filters = map_filters_default(now=history, include_private=include_private)
    with django_assert_max_num_queries(most), map_reads():
        layers = map_layers_live(filters=filters, now=history, language="zh-hans")
    # The layers counted are not empty: every query above had rows to read.
    assert layers.heat_cells and layers.unit_grids and layers.clusters
    assert sum(grid.reports for grid in layers.grids) > 0
    if include_private:
        assert any(spot.latest for spot in layers.clusters)


def test_map_reads_start_no_parallel_worker(reference_data):
    """A map's statements run without parallel workers (D-094), and only inside its
    transaction: the setting is the transaction's own."""
    def workers() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW max_parallel_workers_per_gather")
            return cursor.fetchone()[0]

    before = workers()
    with map_reads():
        assert workers() == "0"
    assert workers() == before != "0"
    with pytest.raises(ZeroDivisionError), map_reads():
        assert workers() == "0"
        1 / 0  # noqa: B018
    assert workers() == before


def test_station_pins_take_a_fixed_number_of_queries(history, django_assert_max_num_queries):
    with django_assert_max_num_queries(STATION_PINS_QUERIES):
        pins = station_pins(now=history)
    assert len(pins) > 1


def test_office_cases_take_one_query(history, django_assert_max_num_queries):
    office = get_user_model().objects.get(username="office1")
    user_subdistrict_ids(office)  # the membership is read once per request, before the feed
    with django_assert_max_num_queries(OFFICE_CASES_QUERIES):
        cases = office_open_cases(user=office)
    assert len(cases) > 1
    assert all(case.category_name for case in cases)
