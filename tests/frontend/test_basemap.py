"""The basemap a deployment gets (D-074): the plain background's outlines, the tile origins the
CSP allows, and the Tianditu key kept out of the logs."""

from __future__ import annotations

import itertools
import json
import logging

import pytest

from civicmap.models import CommunityGrid, UnitGrid

pytestmark = pytest.mark.django_db

TIANDITU_ORIGINS = "https://*.tianditu.gov.cn"
KEY = "browser-key-0123456789abcdef"


def _img_src(response) -> str:
    policy = response.headers["Content-Security-Policy"]
    return next(d for d in policy.split("; ") if d.startswith("img-src"))


def test_background_is_every_grid_outline_of_ours(reference_data, client,
                                                  django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        answer = client.get("/map/background/")
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/json"
    assert "public" in answer["Cache-Control"] and "max-age=3600" in answer["Cache-Control"]
    outlines = answer.json()
    assert outlines["precision"] == 6
    # One list of rings per grid, in code order.
    assert len(outlines["community"]) == CommunityGrid.objects.count()
    assert len(outlines["unit"]) == UnitGrid.objects.count()
    for grids, first in ((outlines["community"], CommunityGrid.objects.order_by("code").first()),
                         (outlines["unit"], UnitGrid.objects.order_by("grid_id").first())):
        assert len(grids[0]) == len(first.boundary)  # its rings: the exterior and any holes
        assert _metres_off(grids[0][0], first.boundary) < 0.1  # 6 decimals: 0.06 m at most


def _metres_off(encoded: str, boundary) -> float:
    """How far the ring decoded (Google's algorithm, as civicmap-basemap.js has it) lies from the
    boundary's exterior ring, position by position, in metres (a degree of latitude's 111 km, an
    upper bound here). PostGIS's own ST_LineFromEncodedPolyline is no reference: its decoding
    drifts by metres along a ring."""
    decoded = _polyline_decode(encoded, 10 ** 6)
    ring = boundary.exterior_ring.coords
    assert len(decoded) == len(ring)
    return 111_320 * max(max(abs(lat - y), abs(lng - x))
                         for (lat, lng), (x, y) in zip(decoded, ring, strict=True))


def _polyline_decode(text: str, factor: int) -> list[tuple[float, float]]:
    values, result, shift = [], 0, 0
    for char in text:
        chunk = ord(char) - 63
        result |= (chunk & 0x1F) << shift
        shift += 5
        if chunk < 0x20:
            values.append(~(result >> 1) if result & 1 else result >> 1)
            result, shift = 0, 0
    lats, lngs = itertools.accumulate(values[0::2]), itertools.accumulate(values[1::2])
    return [(lat / factor, lng / factor) for lat, lng in zip(lats, lngs, strict=True)]


@pytest.mark.parametrize("url", ["/map/", "/rider/"])
def test_csp_allows_tianditu_only_when_configured(reference_data, client, settings, url):
    settings.BASEMAP, settings.TIANDITU_KEY = "none", ""
    assert _img_src(client.get(url)) == "img-src 'self' data: blob:"

    settings.BASEMAP, settings.TIANDITU_KEY = "tianditu", KEY
    answer = client.get(url)
    assert _img_src(answer) == f"img-src 'self' data: blob: {TIANDITU_ORIGINS}"
    assert f"tk={KEY}" in answer.content.decode()  # the tile URL template the browser fills

    settings.BASEMAP = "osm"
    assert TIANDITU_ORIGINS not in _img_src(client.get(url))


def test_the_tianditu_key_never_reaches_the_logs(reference_data, client, settings, caplog):
    settings.BASEMAP, settings.TIANDITU_KEY = "tianditu", KEY
    with caplog.at_level(logging.DEBUG):
        assert client.get("/map/").status_code == 200
        assert client.get("/rider/").status_code == 200
        assert client.get("/map/?days=bad").status_code == 400  # a refusal logs a warning
    assert caplog.records and not any(KEY in record.getMessage() for record in caplog.records)



def test_the_riders_worker_keeps_the_outlines_for_an_offline_map(reference_data, client):
    worker = client.get("/rider/sw.js").content.decode()
    sw_config = json.loads(worker.split("\n", 1)[0].removeprefix("self.CIVICMAP_SW = ")
                           .rstrip(";"))
    assert "/map/background/" in sw_config["on_use_assets"]
    assert any(path.endswith("/civicmap-basemap.js") for path in sw_config["lazy_assets"])
