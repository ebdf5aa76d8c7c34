"""The governance map reads its heat cells, hotspots and community case counts beside its
other layers (D-095): on connections of their own when the map's transaction is the outermost
(a request's), on the map's own inside a transaction that may have written (the layers must
see its rows); the same layers either way, names in the request's language."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from frontend.selectors import map_layers_live, map_reads
from issues.layers import map_filters_for_period

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _cores_to_spare(settings):
    """Reads beside whatever the machine's load (the suite's workers keep it high)."""
    settings.MAP_READS_BESIDE_BELOW_LOAD = 10**6


# What only each read beside sends: the hotspots' clustering, the heat cells' centres, the
# overdue count's tasks.
BESIDE = {"hotspots": "ST_ClusterDBSCAN", "heat cells": "ST_MakePoint((s.cell_x",
          "overdue": '"patrol_task"'}


def _layers(now, *, language: str):
    """The office's live layers of the history's week, and which reads beside ran on this
    thread's connection."""
    filters = map_filters_for_period(now=now, days=7, include_private=True)
    with CaptureQueriesContext(connection) as queries, map_reads():
        layers = map_layers_live(filters=filters, now=now, language=language)
    return layers, {read for read, text in BESIDE.items()
                    if any(text in query["sql"] for query in queries.captured_queries)}


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_hotspots_are_read_beside_and_equal_the_ones_read_in_turn(map_history, language):
    beside, read_here = _layers(map_history, language=language)
    assert beside.clusters and beside.clusters[0].latest  # a hotspot, with its descriptions
    assert beside.heat_cells and any(grid.open_cases for grid in beside.grids)
    assert read_here == set()
    with transaction.atomic():
        in_turn, read_here = _layers(map_history, language=language)
    assert read_here == set(BESIDE)
    assert in_turn == beside


def test_hotspots_read_beside_see_what_was_committed_and_speak_the_language(map_history):
    (english, _), (chinese, _) = (_layers(map_history, language=language)
                                  for language in ("en", "zh-hans"))
    names = {name for spot in english.clusters for name, _count in spot.categories}
    assert names and names.isdisjoint(
        name for spot in chinese.clusters for name, _count in spot.categories)
    assert all(name.isascii() for name in names)


def test_with_reads_beside_off_every_read_stays_on_the_maps_connection(map_history, settings):
    settings.MAP_READS_BESIDE_BELOW_LOAD = 0
    layers, read_here = _layers(map_history, language="zh-hans")
    assert layers.clusters
    assert read_here == set(BESIDE)
