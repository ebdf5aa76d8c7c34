"""The default basemap in a real browser (D-074): no tiles from anywhere, our grid outlines as a
plain background, and an attribution that names the map data's source and not Leaflet, on the
governance map and on a phone page."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from civicmap.models import CommunityGrid
from tests.frontend.conftest import screenshot
from tests.frontend.phone_helpers import (
    phone_fixture,  # noqa: F401  (the phone fixture)
    sign_in_with_code,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SOURCE_ZH = "边界：街道网格数据"
# What the plain background drew: its outlines (one path per level) and the attribution.
BACKGROUND = """() => ({
  outlines: document.querySelectorAll(".leaflet-civicmapBackground-pane path").length,
  tiles: document.querySelectorAll("img.leaflet-tile").length,
  attribution: document.querySelector(".leaflet-control-attribution").textContent,
  flags: document.querySelectorAll(".leaflet-control-attribution svg").length,
})"""

# The first community's exterior ring as the page's decoder reads it from the outlines.
DECODED = """async () => {
  const outlines = await (await fetch("/map/background/")).json();
  return window.civicmap.decodePolyline(outlines.community[0][0], 10 ** outlines.precision);
}"""


@pytest.fixture
def plain(reference_data, settings):
    settings.BASEMAP = "none"
    settings.TIANDITU_KEY = ""


def _drawn(page) -> dict:
    page.wait_for_selector(".leaflet-civicmapBackground-pane path")
    return page.evaluate(BACKGROUND)


def test_governance_map_draws_our_grid_outlines_and_names_only_their_source(plain, open_page):
    watched = open_page("/map/")
    drawn = _drawn(watched.page)
    screenshot(watched.page, "map-plain-background.png")
    assert CommunityGrid.objects.exists()
    assert drawn["outlines"] == 2  # one path for the communities, one for the unit grids
    assert drawn["tiles"] == 0
    ring = CommunityGrid.objects.order_by("code").first().boundary.exterior_ring
    decoded = watched.page.evaluate(DECODED)
    assert len(decoded) == len(ring)
    assert all(abs(lat - y) <= 6e-7 and abs(lng - x) <= 6e-7  # rounded to 6 decimals
               for (lat, lng), (x, y) in zip(decoded, ring.coords, strict=True))
    assert drawn["attribution"] == SOURCE_ZH
    assert "Leaflet" not in drawn["attribution"] and drawn["flags"] == 0
    watched.assert_clean()  # every request answered by our own origin
    assert watched.axe_violations() == []


def test_rider_map_draws_our_grid_outlines_and_names_only_their_source(plain, phone):
    watched = phone("/rider/")
    page = watched.page
    sign_in_with_code(page, Token.objects.get(user__username="rider1").key)
    page.wait_for_selector("#loc-map .leaflet-marker-icon")  # opened by itself once placed
    drawn = _drawn(page)
    screenshot(page, "phone-rider-plain-background.png")
    assert drawn["outlines"] == 2 and drawn["tiles"] == 0
    assert drawn["attribution"] == SOURCE_ZH
    assert "Leaflet" not in drawn["attribution"] and drawn["flags"] == 0
    watched.assert_clean()
    assert watched.axe_violations() == []
