"""The union's coverage and siting page (/union/coverage/): the figures of the saved stations in
tables, the suggested sites, the period selector; who may read it; and, in a real browser, a
station added by a click on the map changes the figures before anything is saved (axe-core,
every request from our own origin)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from stations.models import Station
from tests.frontend.helpers import HUAIFANG, map_history_load

URL = "/union/coverage/"


@pytest.fixture
def coverage_data(reference_data, settings):
    """The map's history (reports at Huaifang, Xingong, Chengyuan in the last days) with every
    station's reach cut to 1 m: then nothing is within reach, and a station added at Huaifang
    brings the hotspot's five reports in."""
    settings.BASEMAP = "none"
    map_history_load(now=timezone.now())
    Station.objects.update(coverage_radius_m=1)


def _client(username: str | None) -> Client:
    client = Client()
    if username:
        client.force_login(get_user_model().objects.get(username=username))
    return client


@pytest.mark.django_db
def test_the_page_shows_every_figure_in_a_table(coverage_data):
    response = _client("union1").get(URL, {"days": 30}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    html = response.content.decode()
    for table in ("coverage-figures", "coverage-stations", "coverage-siting",
                  "coverage-communities", "coverage-hotspots"):
        assert f'id="{table}"' in html
    # Hardly any report is within 1 m of a station (English: "2 of 17 (11.76 %)").
    reports = re.search(r'data-figure="reports"><th scope="row">[^<]+</th>'
                        r'<td class="coverage-saved">([^<]+)</td>', html).group(1)
    assert re.fullmatch(r"\d+ of \d+ \(\d+\.\d\d %\)", reports), reports
    assert "data-station-toggle=" in html and 'data-pick="1"' in html
    assert "civicmap.coverageWhatIf(" in html and "/api/v1/stations/coverage/what-if/" in html
    assert 'href="/union/coverage/"' in html  # in the union's bar


@pytest.mark.django_db
def test_a_period_not_offered_is_refused_beside_its_field(coverage_data):
    response = _client("union1").get(URL, {"days": 7})
    assert response.status_code == 400
    assert 'id="id_days-error"' in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(("username", "status"), [
    (None, 302), ("rider1", 302), ("office1", 302), ("union1", 200), ("union_heyi1", 200),
    ("office_district", 200),
])
def test_who_reads_the_page(coverage_data, username, status):
    response = _client(username).get(URL)
    assert response.status_code == status
    if username == "union_heyi1":  # its own subdistrict's stations only, no choice of others
        html = response.content.decode()
        assert 'name="subdistrict"' not in html
        nanyuan = Station.objects.filter(subdistrict__code="110106005").first()
        assert f'data-station-toggle="{nanyuan.pk}"' not in html
    if username == "office_district":  # the district chooses
        assert 'name="subdistrict"' in response.content.decode()


CLICK_AT = """([lon, lat]) => {
  const point = window.civicmapMap.latLngToContainerPoint([lat, lon]);
  const box = window.civicmapMap.getContainer().getBoundingClientRect();
  return [box.left + point.x, box.top + point.y];
}"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_union_staff_add_a_station_on_the_map_and_see_the_figures_change(
        coverage_data, open_page, session_for):
    before = list(Station.objects.order_by("id").values_list("id", "location",
                                                             "coverage_radius_m"))
    watched = open_page(URL + "?days=30", session=session_for("union1"))
    page = watched.page
    page.wait_for_selector("#union-coverage.coverage-ready")
    saved = page.locator('[data-figure="reports"] .coverage-saved').text_content()
    page.evaluate("([lon, lat]) => { window.civicmapMap.setView([lat, lon], 16); }",
                  list(HUAIFANG))  # in braces: not the map, which setView returns
    x, y = page.evaluate(CLICK_AT, list(HUAIFANG))
    page.mouse.click(x, y)
    page.wait_for_function("() => window.civicmap.coverageState.last === 'answered'")
    what_if = page.locator('[data-figure="reports"] .coverage-what-if').text_content()
    # "7 / 17 (41.18 %)" after "2 / 17 (11.76 %)": the hotspot's reports are within reach.
    assert int(re.match(r"\d+", what_if).group()) > int(re.match(r"\d+", saved).group())
    assert page.locator('[data-figure="reports"] .coverage-saved').text_content() == saved
    assert "未保存任何内容" in page.locator("#coverage-status").text_content()
    assert page.locator(".coverage-pin-added").count() == 1
    # Removing a station by its toggle is a change too; undoing every change restores the
    # saved figures.
    page.locator("[data-station-toggle]").first.click()
    page.wait_for_function("() => window.civicmap.coverageState.answered === 2")
    page.locator("#coverage-reset").click()
    assert page.locator('[data-figure="reports"] .coverage-what-if').text_content() == saved
    assert watched.axe_violations() == []
    watched.assert_clean()
    assert list(Station.objects.order_by("id").values_list(
        "id", "location", "coverage_radius_m")) == before  # nothing saved


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_union_staff_move_and_add_stations_with_the_keyboard_alone(
        coverage_data, open_page, session_for):
    """No what-if needs a pointer (WCAG 2.1.1, 2.5.7): the arrow keys move a focused pin, and
    a button adds a station at the map's centre, focused for the arrow keys in turn."""
    watched = open_page(URL + "?days=30", session=session_for("union1"))
    page = watched.page
    page.wait_for_selector("#union-coverage.coverage-ready")
    pin = page.locator("[data-station]").first
    name = pin.get_attribute("aria-label")
    before = pin.bounding_box()
    pin.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => window.civicmap.coverageState.last === 'answered'")
    after = pin.bounding_box()
    assert after["x"] > before["x"] and abs(after["y"] - before["y"]) < 1  # east, not north
    assert name in page.locator("#coverage-changes").text_content()
    centre = page.evaluate("() => window.civicmapMap.getCenter()")
    page.locator("#coverage-add-centre").click()
    page.wait_for_function("() => window.civicmap.coverageState.answered === 2")
    added = page.locator(".coverage-pin-added")
    assert added.count() == 1
    assert added.evaluate("(element) => element === document.activeElement")
    placed = added.bounding_box()
    page.keyboard.press("Shift+ArrowUp")
    page.wait_for_function("() => window.civicmap.coverageState.answered === 3")
    assert added.bounding_box()["y"] < placed["y"]  # north, by the fine step
    assert page.evaluate("() => window.civicmapMap.getCenter()") == centre  # the map kept still
    assert watched.axe_violations() == []
    watched.assert_clean()
