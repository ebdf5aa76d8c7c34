"""The rider's lists on a 360 × 740 phone: stations with today's hours, when a closed one
reopens and navigation links in each app's coordinates (compared with civicmap.coords); "my
reports" and points 20 at a time with filters; the month's leaderboard with the rider's own
place. axe-core finds nothing; every request stays on our origin."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point
from django.utils import timezone
from playwright.sync_api import expect
from rest_framework.authtoken.models import Token

from civicmap.coords import wgs84_to_bd09, wgs84_to_gcj02
from issues.models import Case, PointsEntry, Rider
from stations.hours import LOCAL_TZ
from stations.models import Station
from tests.frontend.conftest import screenshot
from tests.frontend.phone_helpers import (
    HUAIFANG_STREET,
    phone_fixture,  # noqa: F401  (the phone fixture)
    sign_in_with_code,
    stations_tab_open,
)
from tests.patrol.helpers import report

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

@pytest.fixture
def lists_data(reference_data, settings):
    settings.BASEMAP = "none"


def _signed_in(phone, **options):
    watched = phone("/rider/", **options)
    page = watched.page
    page.wait_for_selector("#signin:not([hidden])")
    sign_in_with_code(page, Token.objects.get(user__username="rider1").key)
    return watched


def _coordinates(text: str) -> tuple[float, float]:
    first, second = (float(value) for value in text.split(","))
    return first, second


def test_station_rows_show_hours_reopening_and_converted_navigation(lists_data, phone):
    here = Point(*HUAIFANG_STREET, srid=4326)
    station = (Station.objects.filter(is_active=True).annotate(d=Distance("location", here))
               .order_by("d").first())
    # Closed all day today whatever the day: it opens only tomorrow, 08:00–02:00 the next day.
    tomorrow = (timezone.now().astimezone(LOCAL_TZ).weekday() + 1) % 7
    Station.objects.filter(pk=station.pk).update(
        opening_hours=[{"day": tomorrow, "open": "08:00", "close": "02:00"}],
        closed_on_holidays=False)
    watched = _signed_in(phone)
    page = watched.page
    stations_tab_open(page)
    page.uncheck("#stations-open")
    row = page.wait_for_selector(f'.ph-station[data-station="{station.pk}"]')
    assert row.query_selector(".ph-closed").text_content().endswith(" · 明天 08:00 开门")
    assert row.query_selector(".ph-today").text_content() == "今日休息"

    lon, lat = station.location.x, station.location.y
    amap = urlsplit(row.query_selector('a[data-nav="amap"]').get_attribute("href"))
    assert amap.netloc == "uri.amap.com" and parse_qs(amap.query)["coordinate"] == ["gaode"]
    assert _coordinates(parse_qs(amap.query)["position"][0]) == pytest.approx(
        wgs84_to_gcj02(lon, lat), abs=2e-6)
    baidu = row.query_selector('a[data-nav="baidu"]').get_attribute("href")
    bd_lat, bd_lon = _coordinates(re.search(r"latlng:([0-9.]+,[0-9.]+)", baidu).group(1))
    assert (bd_lon, bd_lat) == pytest.approx(wgs84_to_bd09(lon, lat), abs=2e-6)
    assert "coord_type=bd09ll" in baidu and "mode=riding" in baidu
    geo = unquote(row.query_selector('a[data-nav="geo"]').get_attribute("href"))
    geo_lat, geo_lon = _coordinates(geo[4:].split("?")[0])
    assert (geo_lon, geo_lat) == pytest.approx((lon, lat), abs=2e-6)
    assert geo.endswith(f"({station.name_zh})")
    # The links are tall enough to tap.
    assert row.query_selector('a[data-nav="geo"]').bounding_box()["height"] >= 44
    screenshot(page, "phone-rider-station-hours.png")
    assert watched.axe_violations() == []
    watched.assert_clean()


def test_my_reports_come_20_at_a_time_and_filter_by_state(lists_data, phone):
    made = [report("E0101", point=index % 18, reporter="rider1") for index in range(25)]
    cases = {item.case_id for item in made}
    closed = sorted(cases)[:3]
    Case.objects.filter(pk__in=closed).update(stage="closed")
    mine = len(made)
    watched = _signed_in(phone)
    page = watched.page
    page.click('#tabs button[data-view="view-mine"]')
    page.wait_for_selector("#mine-list .ph-mine")
    assert page.locator("#mine-list .ph-mine").count() == 20
    page.click("#mine-more")
    expect(page.locator("#mine-list .ph-mine")).to_have_count(mine)
    assert page.is_hidden("#mine-more")

    page.click('#mine-filter button[data-value="closed"]')
    expect(page.locator("#mine-list .ph-mine")).to_have_count(
        sum(1 for item in made if item.case_id in closed))
    stages = {page.locator("#mine-list .ph-mine").nth(i).get_attribute("data-stage")
              for i in range(page.locator("#mine-list .ph-mine").count())}
    assert stages == {"closed"}
    assert page.get_attribute('#mine-filter button[data-value="closed"]', "aria-pressed") == "true"
    screenshot(page, "phone-rider-mine-filter.png")
    assert watched.axe_violations() == []
    watched.assert_clean()


def test_the_leaderboard_shows_the_riders_own_place(lists_data, phone):
    case = report("E0101", reporter="rider2").case
    for username, points in (("rider1", 4), ("rider2", 9)):
        PointsEntry.objects.create(rider=Rider.objects.get(user__username=username),
                                   points=points, case=case, reason="first_reporter",
                                   event_key=f"test:{username}")
    watched = _signed_in(phone)
    page = watched.page
    page.click('#tabs button[data-view="view-me"]')
    page.wait_for_selector("#points-list .ph-points-entry")
    page.click("#board-open")
    own = page.wait_for_selector("#board-list .ph-board-me")
    assert own.get_attribute("aria-current") == "true"
    assert "（我）" in own.text_content()
    assert "第 2 名" in page.text_content("#board-me")
    assert page.locator("#board-list .ph-board-row").count() == 2
    page.click('#board-filter button[data-value="district"]')
    page.wait_for_selector("#board-place:text('全区')")
    assert page.locator("#board-list .ph-board-me").count() == 1
    screenshot(page, "phone-rider-leaderboard.png")
    assert watched.axe_violations() == []
    watched.assert_clean()
