"""The basemap a deployment gets (D-074): the plain background's outlines, the tile origins the
CSP allows, and the Tianditu key kept out of the logs."""

from __future__ import annotations

import json
import logging

import pytest
from django.contrib.gis.geos import GEOSGeometry

from civicmap.models import CommunityGrid, UnitGrid

pytestmark = pytest.mark.django_db

TIANDITU_ORIGINS = "https://*.tianditu.gov.cn"
KEY = "browser-key-0123456789abcdef"


def _img_src(response) -> str:
    policy = response.headers["Content-Security-Policy"]
    return next(d for d in policy.split("; ") if d.startswith("img-src"))


def test_background_is_every_grid_outline_of_ours(reference_data, client,
                                                  django_assert_max_num_queries):
    with django_assert_max_num_queries(2):  # one aggregate per level
        answer = client.get("/map/background/")
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/json"
    assert "public" in answer["Cache-Control"] and "max-age=3600" in answer["Cache-Control"]
    features = {f["properties"]["level"]: f["geometry"] for f in answer.json()["features"]}
    assert set(features) == {"community", "unit"}
    # One polygon per grid: SELECT count(*) FROM civicmap_communitygrid (and unitgrid).
    assert len(features["community"]["coordinates"]) == CommunityGrid.objects.count()
    assert len(features["unit"]["coordinates"]) == UnitGrid.objects.count()
    drawn = GEOSGeometry(json.dumps(features["community"]), srid=4326)
    first = CommunityGrid.objects.order_by("code").first()
    assert drawn.intersects(first.boundary.point_on_surface)


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
