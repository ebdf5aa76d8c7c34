"""Rest stations on the rider's page: the nearest open stations with distance and services,
and check-in by scanning the station's QR code with the phone's camera (Chromium's fake camera
plays a video of the printed code), or by typing the short code under it."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point
from rest_framework.authtoken.models import Token

from stations.models import CheckIn, Station
from stations.services import station_token_ensure
from stations.tokens import token_qr_payload
from tests.frontend.conftest import screenshot
from tests.frontend.phone_helpers import (
    HUAIFANG_STREET,
    HeldRequests,
    camera_browser_fixture,  # noqa: F401  (the camera_browser fixture)
    phone_fixture,  # noqa: F401  (the phone fixture)
    sign_in_with_code,
    stations_tab_open,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def station_data(reference_data, settings):
    settings.BASEMAP = "none"


def _nearest_station() -> Station:
    here = Point(*HUAIFANG_STREET, srid=4326)
    return (Station.objects.filter(is_active=True).annotate(d=Distance("location", here))
            .order_by("d").first())


def _beside(station: Station) -> tuple[float, float]:
    """About 30 m north of the station (WGS 84): well inside the 150 m check-in distance."""
    return (station.location.x, station.location.y + 0.00027)


def test_rider_checks_in_by_scanning_the_station_code(station_data, phone, camera_browser):
    station = _nearest_station()
    token = station_token_ensure(station=station,
                                 actor=get_user_model().objects.get(username="union1"))
    payload = token_qr_payload(station_id=station.pk, short_code=token.short_code)
    browser = camera_browser(payload)

    watched = phone("/rider/", geolocation=_beside(station), browser=browser,
                    permissions=["geolocation", "camera"])
    page = watched.page
    page.wait_for_selector("#signin:not([hidden])")
    sign_in_with_code(page, Token.objects.get(user__username="rider1").key)
    stations_tab_open(page)
    page.uncheck("#stations-open")  # every station, open or not: the nearest is listed first
    first = page.wait_for_selector(f'.ph-station[data-station="{station.pk}"]')
    assert page.locator(".ph-station").first.get_attribute("data-station") == str(station.pk)
    assert first.query_selector(".ph-chip") is not None  # its services
    screenshot(page, "phone-rider-stations.png")

    page.click("#checkin-scan")
    page.wait_for_selector('#checkin-message[data-counted="true"]', timeout=20_000)
    checkin = CheckIn.objects.get()
    assert checkin.station_id == station.pk and checkin.rider.username == "rider1"
    assert checkin.method == CheckIn.Method.QR and checkin.distance_m < 60
    screenshot(page, "phone-rider-checkin.png")

    # The short code typed: the same hour counts once.
    page.fill("#checkin-code", token.short_code)
    page.click("#checkin-form button[type=submit]")
    page.wait_for_selector('#checkin-message[data-counted="false"]')
    assert station.name_zh in page.text_content("#checkin-message")
    assert CheckIn.objects.count() == 1
    watched.assert_clean()


def test_open_stations_only_by_default(station_data, phone):
    station = _nearest_station()
    watched = phone("/rider/", geolocation=_beside(station))
    page = watched.page
    page.wait_for_selector("#signin:not([hidden])")
    sign_in_with_code(page, Token.objects.get(user__username="rider1").key)
    stations_tab_open(page)
    page.wait_for_selector(".ph-station, #stations-list .ph-hint")
    closed = page.locator(".ph-station .ph-closed").count()
    assert closed == 0  # asked with open_now=true
    watched.assert_clean()


def test_the_list_shows_the_latest_filter_when_answers_cross(station_data, phone):
    """Unticking "open now" while the open-only lookup is still on its way: the open-only answer,
    arriving last, must not replace the list of every station (seen once as another station
    listed first, depending on the hour)."""
    nearest = _nearest_station()
    Station.objects.filter(pk=nearest.pk).update(opening_hours=[])  # never open
    always = [{"day": day, "open": "00:00", "close": "24:00"} for day in range(7)]
    Station.objects.exclude(pk=nearest.pk).update(opening_hours=always)
    watched = phone("/rider/", geolocation=_beside(nearest))
    page = watched.page
    page.wait_for_selector("#signin:not([hidden])")
    sign_in_with_code(page, Token.objects.get(user__username="rider1").key)
    open_only = HeldRequests(page, lambda url: "stations/nearest/" in url
                             and "open_now=true" in url)
    stations_tab_open(page)
    open_only.wait()  # sent once the phone has its position

    page.uncheck("#stations-open")
    page.wait_for_selector(f'.ph-station[data-station="{nearest.pk}"] .ph-closed')
    open_only.release()
    assert page.locator(".ph-station").first.get_attribute("data-station") == str(nearest.pk)
    assert page.locator(".ph-station .ph-closed").count() == 1
    watched.assert_clean()
