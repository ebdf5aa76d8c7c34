"""The rider's member card (苑苑暖心卡) on the phone page: its status, number and benefits with
the uses left this month, in the request's language, and accessible (axe)."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from stations.models import BenefitRedemption, Station, UnionMembership
from stations.services import checkin_create, station_token_ensure
from tests.frontend.phone_helpers import (  # noqa: F401  (the phone fixture)
    phone_fixture,
    sign_in_with_code,
    stations_tab_open,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WANDA = "槐房万达广场党群服务站"  # at 116.392000 E, 39.797000 N


@pytest.fixture
def card_data(reference_data, settings):
    settings.BASEMAP = "none"  # no tiles: nothing is fetched from elsewhere


def test_the_rider_sees_the_card_and_the_uses_left(card_data, phone):
    rider1 = UnionMembership.objects.select_related("rider").get(rider__username="rider1")
    code = station_token_ensure(station=Station.objects.get(name_zh=WANDA)).short_code
    checkin_create(rider=rider1.rider, code=code, lon=116.392, lat=39.797, benefit="id_copies")
    watched = phone("/rider/", locale="en-GB")
    page = watched.page
    page.wait_for_selector("#signin:not([hidden])")
    sign_in_with_code(page, Token.objects.get(user__username="rider1").key)
    page.click('#tabs button[data-view="view-me"]')
    item = page.wait_for_selector('#card-benefits li[data-benefit="id_copies"]')
    assert page.inner_text("#card-number") == rider1.card_number
    assert page.inner_text("#card-state") == "Card issued"
    assert "Free ID copies" in item.inner_text() and "3 of 4 left this month" in item.inner_text()
    assert watched.axe_violations() == []
    watched.assert_clean()


def test_a_suspended_card_says_so_in_chinese(card_data, phone):
    watched = phone("/rider/", locale="zh-CN")
    page = watched.page
    page.wait_for_selector("#signin:not([hidden])")
    sign_in_with_code(page, Token.objects.get(user__username="rider5").key)
    page.click('#tabs button[data-view="view-me"]')
    page.wait_for_selector("#card-benefits li")
    assert page.inner_text("#card-state") == "已暂停"
    assert watched.axe_violations() == []


def test_the_rider_chooses_a_benefit_when_checking_in(card_data, phone):
    station = Station.objects.get(name_zh=WANDA)
    code = station_token_ensure(station=station).short_code
    watched = phone("/rider/", locale="en-GB", geolocation=(116.392, 39.797))
    page = watched.page
    page.wait_for_selector("#signin:not([hidden])")
    sign_in_with_code(page, Token.objects.get(user__username="rider1").key)
    stations_tab_open(page)
    page.wait_for_selector('#checkin-benefit option[value="haircut"]', state="attached")
    page.select_option("#checkin-benefit", "haircut")
    page.fill("#checkin-code", code)
    page.click("#checkin-form button[type=submit]")
    page.wait_for_selector("#checkin-message.ph-ok")
    assert "Benefit used: Free haircut." in page.inner_text("#checkin-message")
    redemption = BenefitRedemption.objects.get()
    assert (redemption.benefit.code, redemption.station_id, redemption.rider.username) == (
        "haircut", station.pk, "rider1")
    # The month's one haircut is used: no longer offered.
    page.wait_for_function("() => !document.querySelector("
                           "'#checkin-benefit option[value=\"haircut\"]')")
    assert watched.axe_violations() == []
    watched.assert_clean()
