"""The rider's page (/rider/) in a real phone-sized browser: sign-in, a report with a photo and
the phone's position that reaches the triage console, confirming a nearby case instead of
reporting it again, and the page's security and language."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from issues.models import CaseConfirmation, Report
from issues.services.intake import ChannelRules, ReportInput, report_create
from issues.tasks import photo_renditions_make_task
from tests.frontend.conftest import screenshot
from tests.frontend.phone_helpers import (
    HUAIFANG_STREET,
    HeldRequests,
    choose_category,
    metres_apart,
    phone_fixture,  # noqa: F401  (the phone fixture)
    sign_in_with_code,
)
from tests.issues.helpers import jpeg

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RIDER_URL = "/rider/"
NO_PHOTOS = ChannelRules(Report.Channel.APP, requires_client_uuid=True, requires_photos=False,
                         max_description=2000)
LAMP = "C0103"  # 路灯不亮或损坏: a public component
DRAIN = "C0102"  # 雨水箅子堵塞或破损: another, not equivalent to it


@pytest.fixture
def rider_data(reference_data, settings, tmp_path):
    settings.BASEMAP = "none"  # no tiles: nothing is fetched from elsewhere
    settings.MEDIA_ROOT = tmp_path / "media"


def _token(username: str) -> str:
    return Token.objects.get(user__username=username).key


def _photo_file(tmp_path, name: str = "lamp.jpg", **kwargs) -> str:
    path = tmp_path / name
    path.write_bytes(jpeg((320, 240), **kwargs))
    return str(path)


def test_page_is_served_with_csp_manifest_and_worker(rider_data, client):
    page = client.get(RIDER_URL)
    assert page.status_code == 200
    policy = page["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy and "script-src 'self' 'nonce-" in policy
    html = page.content.decode()
    assert 'rel="manifest"' in html and "<script>" not in html  # no inline script at all
    manifest = client.get("/rider/manifest.webmanifest").json()
    assert manifest["start_url"] == "/rider/" and manifest["display"] == "standalone"
    assert {icon["sizes"] for icon in manifest["icons"]} >= {"192x192", "512x512"}
    worker = client.get("/rider/sw.js")
    assert worker["Content-Type"].startswith("text/javascript")
    assert worker["Service-Worker-Allowed"] == "/rider/"
    assert "self.CIVICMAP_SW" in worker.content.decode()


def test_password_sign_in_gives_the_token(rider_data, client):
    from fixtures.seed import DEMO_PASSWORD

    answer = client.post("/phone/token/", {"username": "rider1", "password": DEMO_PASSWORD},
                         content_type="application/json")
    assert answer.status_code == 200
    assert answer.json()["token"] == _token("rider1")
    assert answer.json()["user"]["rider"] is True
    wrong = client.post("/phone/token/", {"username": "rider1", "password": "nope"},
                        content_type="application/json")
    assert wrong.status_code == 400
    assert wrong.json()["errors"][0]["code"] == "invalid_credentials"
    me = client.get("/phone/me/", HTTP_AUTHORIZATION=f"Token {_token('cw_vol1')}").json()
    assert me == {"username": "cw_vol1", "display_name": "李秀英", "rider": False, "worker": True}


def test_rider_signs_in_and_files_a_report_that_reaches_the_console(
        rider_data, phone, tmp_path, live_server, session_for):
    watched = phone(RIDER_URL)
    page = watched.page
    page.wait_for_selector("#signin:not([hidden])")
    screenshot(page, "phone-rider-signin.png")
    sign_in_with_code(page, _token("rider1"))

    page.wait_for_selector('#loc-status[data-source="device"]')
    page.set_input_files("#photo-pick", _photo_file(tmp_path))
    page.wait_for_selector("#photo-list li img")
    choose_category(page, LAMP)
    page.wait_for_selector("#nearby-list li")  # asked the server: none nearby yet
    page.fill("#description", "路灯不亮 lamp out")
    screenshot(page, "phone-rider-report.png")
    page.click("#report-submit")
    page.wait_for_selector('body[data-last-send="sent"]')

    report = Report.objects.get(description="路灯不亮 lamp out")
    assert report.reporter.username == "rider1" and report.category.code == LAMP
    assert report.client_uuid is not None and report.photos.count() == 1
    assert report.location_source == "device" and report.sent_coord_system == "wgs84"
    assert metres_apart((report.location.x, report.location.y), HUAIFANG_STREET) < 1
    watched.assert_clean()

    # The office sees it in the triage console.
    office = phone("/office/", geolocation=None)
    office.page.context.add_cookies([{"name": "sessionid", "value": session_for("office1"),
                                      "url": live_server.url}])
    office.page.goto(live_server.url + "/office/")
    office.page.wait_for_selector(f'.office-case[data-case="{report.case_id}"]', timeout=15_000)
    office.assert_clean()


def test_password_sign_in_on_the_page_and_sign_out(rider_data, phone):
    from fixtures.seed import DEMO_PASSWORD

    watched = phone(RIDER_URL, locale="en-GB")
    page = watched.page
    page.click("#signin details summary")
    page.fill("#signin-username", "rider2")
    page.fill("#signin-password", DEMO_PASSWORD)
    page.click("#signin-password-form button[type=submit]")
    page.wait_for_selector("body[data-ready]")
    page.reload()  # stays signed in
    page.wait_for_selector("body[data-ready]")
    page.click('#tabs button[data-view="view-me"]')
    page.wait_for_selector("#me-name:has-text('李春生')")
    page.click("#sign-out")
    page.wait_for_selector("#signin:not([hidden])")
    watched.assert_clean()


def test_confirming_a_nearby_case_adds_the_rider_as_confirmer(rider_data, phone, tmp_path,
                                                               live_server):
    import requests

    # rider2 reported the lamp 20 m away, with a photo (its thumbnail made as the worker would).
    near = (HUAIFANG_STREET[0] + 0.0002, HUAIFANG_STREET[1])
    answer = requests.post(
        f"{live_server.url}/api/v1/reports/",
        headers={"Authorization": f"Token {_token('rider2')}"},
        data={"category": LAMP, "lon": repr(near[0]), "lat": repr(near[1]),
              "client_uuid": "0b7e8d1c-5d7e-4d35-9a53-3f1c2b9a0001"},
        files={"photos": ("lamp.jpg", jpeg((200, 150)), "image/jpeg")}, timeout=30)
    assert answer.status_code == 201, answer.text
    case_id = answer.json()["properties"]["case"]
    for photo in Report.objects.get(case_id=case_id).photos.all():
        photo_renditions_make_task(photo.pk)

    watched = phone(RIDER_URL)
    page = watched.page
    page.wait_for_selector("#signin:not([hidden])")
    sign_in_with_code(page, _token("rider1"))
    page.wait_for_selector('#loc-status[data-source="device"]')
    choose_category(page, LAMP)
    item = page.wait_for_selector(f'.ph-nearby[data-case="{case_id}"]')
    page.wait_for_function(
        f"() => document.querySelector('.ph-nearby[data-case=\"{case_id}\"] img').naturalWidth > 0")
    screenshot(page, "phone-rider-nearby.png")
    item.query_selector("button.ph-confirm").click()
    page.wait_for_selector(".ph-toast-ok")

    rider1 = get_user_model().objects.get(username="rider1")
    confirmation = CaseConfirmation.objects.get(case_id=case_id, rider=rider1)
    # The device's own position went with it (the page's geolocation, HUAIFANG_STREET).
    assert (confirmation.position.x, confirmation.position.y) == pytest.approx(HUAIFANG_STREET,
                                                                               abs=1e-6)
    assert confirmation.distance_m < 50
    assert Report.objects.filter(case_id=case_id).count() == 1  # no second report
    watched.assert_clean()


def test_chinese_by_default_and_english_on_one_tap(rider_data, phone, client):
    # No language asked for: Chinese (a browser asking for English gets English, as on
    # every page of the site: LocaleMiddleware).
    assert '<html lang="zh-hans">' in client.get(RIDER_URL).content.decode()
    watched = phone(RIDER_URL, locale="zh-CN")
    page = watched.page
    page.wait_for_selector("#signin:not([hidden])")
    assert page.get_attribute("html", "lang") == "zh-hans"
    assert page.text_content(".ph-title") == "南苑吹哨人"
    page.click(".ph-lang button")
    page.wait_for_selector('html[lang="en"]')
    assert page.text_content(".ph-title") == "Nanyuan whistle"
    page.click(".ph-lang button")
    page.wait_for_selector('html[lang="zh-hans"]')
    watched.assert_clean()


def test_the_nearby_list_follows_the_latest_category_when_answers_cross(rider_data, phone):
    """The rider taps the lamp, then the drain, while the lamp's lookup is still on its way:
    the lamp's answer, arriving last, must not list the lamp case under the drain (confirming
    it would join the wrong problem)."""
    near = (HUAIFANG_STREET[0] + 0.0002, HUAIFANG_STREET[1])
    rider2 = get_user_model().objects.get(username="rider2")
    lamp, drain = (report_create(
        channel=NO_PHOTOS, reporter=rider2,
        data=ReportInput(category_code=code, lon=near[0], lat=near[1],
                         client_uuid=uuid.uuid4())).report.case_id for code in (LAMP, DRAIN))

    watched = phone(RIDER_URL)
    page = watched.page
    page.wait_for_selector("#signin:not([hidden])")
    sign_in_with_code(page, _token("rider1"))
    page.wait_for_selector('#loc-status[data-source="device"]')
    lamp_lookup = HeldRequests(page, lambda url: f"category={LAMP}" in url)
    choose_category(page, LAMP)
    lamp_lookup.wait()
    choose_category(page, DRAIN)
    page.wait_for_selector(f'.ph-nearby[data-case="{drain}"]')
    lamp_lookup.release()
    assert [item.get_attribute("data-case") for item in
            page.locator(".ph-nearby").all()] == [str(drain)]
    assert lamp != drain
    watched.assert_clean()
