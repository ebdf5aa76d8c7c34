"""The rider's report form on a 360 × 740 phone (issue 19): errors beside their fields, the
first one scrolled into view and focused; the open cases of the chosen category right after the
picker; the place by its community's name on a small map; the emergency numbers before a report
of a danger to life; a rating without stars refused on the page; plain words, not the
standard's 部件 / 事件; accessible (axe) and served by our own origin alone."""

from __future__ import annotations

import re

import pytest
from django.contrib.gis.geos import Point
from django.utils.translation import override as translation_override
from rest_framework.authtoken.models import Token

from civicmap.selectors import community_at
from issues.models import Case, Report
from issues.services.intake import MSG_OUTSIDE_AREA
from patrol.models import Rating
from tests.frontend.phone_helpers import (
    HUAIFANG_STREET,
    choose_category,
    phone_fixture,  # noqa: F401  (the phone fixture)
    sign_in_with_code,
)
from tests.issues.helpers import TIANANMEN, jpeg
from tests.patrol.helpers import case_in_stage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAMP = "C0103"  # 路灯不亮或损坏: a public component, nothing to call
FIRE = "E0405"  # 火灾: call 119 (and 120 for anyone hurt) first
CRASH = "E0406"  # 交通事故: 122, 110, 120


@pytest.fixture
def form_data(reference_data, settings):
    settings.BASEMAP = "none"  # no tiles: nothing is fetched from elsewhere


def _signed_in(phone, locale: str = "zh-CN", geolocation=HUAIFANG_STREET):
    watched = phone("/rider/", locale=locale, geolocation=geolocation)
    watched.page.wait_for_selector("#signin:not([hidden])")
    sign_in_with_code(watched.page, Token.objects.get(user__username="rider1").key)
    return watched


def _in_view_between_bar_and_button(page, selector: str) -> bool:
    """The element lies inside the screen, below the sticky bar and above the sticky button."""
    return page.evaluate("""(selector) => {
        const box = document.querySelector(selector).getBoundingClientRect();
        const bar = document.querySelector('.ph-bar').getBoundingClientRect();
        const button = document.getElementById('report-submit').getBoundingClientRect();
        return box.height > 0 && box.top >= bar.bottom && box.bottom <= button.top;
    }""", selector)


def test_an_empty_form_scrolls_to_the_first_error_and_focuses_it(form_data, phone):
    watched = _signed_in(phone)
    page = watched.page
    page.wait_for_selector('#loc-status[data-source="device"]')
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # the rider at the button
    page.click("#report-submit")
    page.wait_for_selector("#photos-error:not(:empty)")
    page.wait_for_timeout(300)  # the scroll settles
    assert page.inner_text("#photos-error") == "请至少添加一张照片。"
    assert page.inner_text("#category-error") == "请选择类别。"
    assert page.inner_text("#place-error") == ""  # the phone's position is known
    assert _in_view_between_bar_and_button(page, "#photos-error")
    focused = page.evaluate("""() => [document.activeElement.id,
        document.activeElement.getAttribute('aria-describedby'),
        document.activeElement.getAttribute('aria-invalid')]""")
    assert focused == ["photo-camera", "photos-error", "true"]
    assert watched.axe_violations() == []
    watched.assert_clean()


def test_the_servers_refusal_is_shown_beside_the_field_it_names(form_data, phone, tmp_path):
    """Central Beijing is outside the service area: the page says so by the place, and the
    server's 400 (``lon``, outside_area) goes beside the place, which takes the focus."""
    watched = _signed_in(phone, geolocation=TIANANMEN)
    page = watched.page
    page.wait_for_selector("#loc-status:has-text('不在服务范围内')")
    photo = tmp_path / "lamp.jpg"
    photo.write_bytes(jpeg((320, 240)))
    page.set_input_files("#photo-pick", str(photo))
    page.wait_for_selector("#photo-list li img")
    choose_category(page, LAMP)
    page.click("#report-submit")
    page.wait_for_selector('body[data-last-send="refused"]')
    with translation_override("zh-hans"):
        assert page.inner_text("#place-error") == str(MSG_OUTSIDE_AREA)
    assert _in_view_between_bar_and_button(page, "#place-error")
    assert page.evaluate("() => document.activeElement.id") == "loc-map-toggle"
    assert not Report.objects.exists()
    # The browser logs the refusal it was meant to get; nothing else.
    assert watched.console_errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    watched.console_errors.clear()
    watched.assert_clean()


def test_the_nearby_cases_follow_the_category_and_the_place_is_named(form_data, phone):
    community = community_at(point=Point(*HUAIFANG_STREET, srid=4326))
    watched = _signed_in(phone)
    page = watched.page
    page.wait_for_selector(f'#loc-status[data-community="{community.code}"]')
    assert page.inner_text("#loc-status") == f"{community.name_zh}（±12 米）"
    page.wait_for_selector("#loc-map .leaflet-marker-icon")  # the small map with the pin
    choose_category(page, LAMP)
    page.wait_for_selector("#nearby-list li")
    assert page.is_hidden("#category-picker") and page.is_visible("#category-chosen-row")
    assert page.is_hidden("#emergency")
    # The answer comes right after the question, not below the folded groups.
    gap = page.evaluate("""() => document.getElementById('nearby').getBoundingClientRect().top
        - document.getElementById('field-category').getBoundingClientRect().bottom""")
    assert 0 <= gap < 20
    assert page.evaluate(
        "() => document.getElementById('field-category').nextElementSibling.id") == "nearby"
    # "Change" opens the picker again, on the chosen category.
    page.click("#category-change")
    assert page.is_visible("#category-picker")
    assert page.evaluate("() => document.activeElement.id") == f"cat-{LAMP}"
    watched.assert_clean()


def test_a_danger_to_life_shows_the_numbers_to_call_first(form_data, phone):
    watched = _signed_in(phone)
    page = watched.page
    choose_category(page, FIRE)
    page.wait_for_selector("#emergency:not([hidden])")
    assert page.inner_text("#emergency-title") == "有生命危险？请先打电话求助，再上报。"
    links = page.eval_on_selector_all("#emergency-calls a",
                                      "links => links.map(a => [a.href, a.textContent])")
    assert links == [["tel:119", "拨打 119（火警）"], ["tel:120", "拨打 120（急救）"]]
    assert _in_view_between_bar_and_button(page, "#emergency")
    choose_category(page, CRASH)
    page.wait_for_selector("#emergency-calls a[href='tel:122']")
    assert [a.get_attribute("href") for a in page.locator("#emergency-calls a").all()] == [
        "tel:122", "tel:110", "tel:120"]
    assert watched.axe_violations() == []
    choose_category(page, LAMP)
    assert page.is_hidden("#emergency")
    watched.assert_clean()


def test_the_rider_page_speaks_plain_words(form_data, phone):
    watched = _signed_in(phone)
    page = watched.page
    text = page.inner_text("#view-report")
    assert "部件" not in text
    # 事件 only inside the group name 突发事件 (sudden events, an everyday word), never as
    # the standard's kind label.
    assert re.search(r"(?<!突发)事件", text) is None
    assert "设施损坏" in text and "街面问题" in text
    english = _signed_in(phone, locale="en-GB").page
    english_text = english.inner_text("#view-report")
    assert "Damaged facilities" in english_text and "Component" not in english_text


def test_a_rating_without_stars_is_refused_on_the_page(form_data, phone):
    case = case_in_stage("closed", reporter="rider1")
    watched = _signed_in(phone)
    page = watched.page
    rate_calls = []
    page.on("request", lambda request: "/rate/" in request.url and rate_calls.append(request))
    page.click('#tabs button[data-view="view-mine"]')
    item = page.wait_for_selector(f'#mine-list li[data-case="{case.pk}"]')
    item.query_selector("button[aria-expanded]").click()
    form = page.wait_for_selector(f'form.ph-rate[data-case="{case.pk}"]')
    form.query_selector("button[type=submit]").click()
    message = page.wait_for_selector(f"#rate-{case.pk}-message:not(:empty)")
    assert message.inner_text() == "请先选择星级（1 到 5 颗星）。"
    assert message.is_visible()
    assert page.evaluate("() => document.activeElement.name") == "score"
    assert rate_calls == []
    assert Case.objects.get(pk=case.pk).stage == "closed"
    assert not Rating.objects.filter(case=case).exists()
    assert watched.axe_violations() == []
    watched.assert_clean()
