"""The governance map in Chromium (issue 20): a change of filter fetches /map/data/ and redraws
the layers, legend, tables and "as of" time in place, with no page load; the filters go into
the address (shareable) and the back button restores the previous ones; the update is said in
a polite live region; every request stays on our own origin and axe finds nothing.
"""

from __future__ import annotations

import pytest

from civicmap.models import CommunityGrid, UnitGrid

pytestmark = pytest.mark.django_db(transaction=True)

MAP_URL = "/map/"
XINGONG_CODE = "110106005001"
COUNTS = """() => ({
  community: document.querySelectorAll("path.civicmap-community").length,
  rows: document.querySelectorAll("#civicmap-community-table tbody tr").length,
  unitGrids: Object.values(window).find(
    (value) => value instanceof L.GeoJSON && value.options.pane === "unitgrids").getLayers()
    .map((layer) => layer.feature.properties),
  sameDocument: window.__sameDocument === true,
  status: document.getElementById("civicmap-map-status").textContent,
  path: location.pathname + location.search,
})"""



def _updated(page, times: int) -> dict:
    """The page's state once the map has been redrawn ``times`` times."""
    page.wait_for_selector(f".folium-map[data-updates='{times}']")
    return page.evaluate(COUNTS)


def test_a_filter_redraws_the_map_in_place_and_back_restores_it(map_history, open_page):
    watched = open_page(MAP_URL)
    page = watched.page
    page.wait_for_selector("path.civicmap-community")
    everywhere = CommunityGrid.objects.count()
    page.evaluate("window.__sameDocument = true")  # gone if the page were loaded again

    page.select_option("select[name=community]", XINGONG_CODE)
    state = _updated(page, 1)
    assert state["sameDocument"] and state["path"] == f"/map/?days=30&community={XINGONG_CODE}"
    assert state["community"] == state["rows"] == 1
    assert state["status"].startswith("地图已更新。")
    # The unit grids: the data's counts joined with the shapes fetched once.
    assert sorted(grid["grid_id"] for grid in state["unitGrids"]) == sorted(
        UnitGrid.objects.filter(community__code=XINGONG_CODE).values_list("grid_id", flat=True))
    assert sum(grid["reports"] for grid in state["unitGrids"]) > 0

    page.select_option("select[name=kind]", "E")
    state = _updated(page, 2)
    assert state["path"] == f"/map/?days=30&kind=E&community={XINGONG_CODE}"

    page.go_back()  # popstate: the previous filters, in the form and on the map
    state = _updated(page, 3)
    assert state["sameDocument"] and state["path"] == f"/map/?days=30&community={XINGONG_CODE}"
    assert page.eval_on_selector("select[name=kind]", "s => s.value") == ""
    assert state["community"] == 1

    page.go_back()
    state = _updated(page, 4)
    assert state["sameDocument"] and state["path"] == "/map/"
    assert state["community"] == state["rows"] == everywhere
    assert len(state["unitGrids"]) == UnitGrid.objects.count()
    assert page.eval_on_selector("select[name=community]", "s => s.value") == ""

    watched.assert_clean()  # no error, every request answered by our own origin
    assert watched.axe_violations() == []


def test_a_refused_filter_is_answered_beside_its_field(map_history, open_page):
    watched = open_page(MAP_URL)
    page = watched.page
    page.wait_for_selector("path.civicmap-community")
    page.evaluate("window.__sameDocument = true")
    # A community outside the subdistrict chosen: the server refuses it (400, community).
    page.select_option("select[name=community]", XINGONG_CODE)
    _updated(page, 1)
    with page.expect_response(lambda response: "/map/data/" in response.url
                              and response.status == 400):
        page.select_option("select[name=subdistrict]", "110106016")
    page.wait_for_selector("#community-error")
    assert page.evaluate("window.__sameDocument === true")
    assert page.eval_on_selector("select[name=community]",
                                 "s => s.getAttribute('aria-invalid')") == "true"
    assert "不在" in page.text_content("#community-error")
    assert page.evaluate("location.search") == f"?days=30&community={XINGONG_CODE}"  # unchanged
    watched.console_errors = [e for e in watched.console_errors if "400" not in e]
    watched.assert_clean()
