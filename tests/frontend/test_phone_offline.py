"""The rider's page offline: the service worker serves the page, a report filed without a
network waits in IndexedDB with its photo and client_uuid, and is stored exactly once when the
network returns (counted on the server), however often the page tries again."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.authtoken.models import Token

from issues.models import Report
from tests.frontend.conftest import screenshot
from tests.frontend.phone_helpers import (
    network_gone,
    phone_fixture,  # noqa: F401  (the phone fixture)
    sign_in_with_code,
    wait_for_worker,
)
from tests.issues.helpers import jpeg

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESCRIPTION = "offline: 井盖缺失 manhole cover missing"


@pytest.fixture
def rider_data(reference_data, settings, tmp_path):
    settings.BASEMAP = "none"
    settings.MEDIA_ROOT = tmp_path / "media"


def test_report_filed_offline_is_sent_exactly_once_when_back_online(rider_data, phone, tmp_path):
    watched = phone("/rider/")
    page = watched.page
    page.wait_for_selector("#signin:not([hidden])")
    sign_in_with_code(page, Token.objects.get(user__username="rider1").key)
    wait_for_worker(page)

    page.context.set_offline(True)
    page.reload()  # answered by the service worker: no network at all
    page.wait_for_selector("body[data-ready]")
    assert page.evaluate("() => navigator.onLine") is False
    assert page.is_visible("#ph-net")

    page.wait_for_selector('#loc-status[data-source="device"]')
    photo = tmp_path / "manhole.jpg"
    photo.write_bytes(jpeg((320, 240)))
    page.set_input_files("#photo-camera", str(photo))
    page.wait_for_selector("#photo-list li img")
    page.click('label[for="cat-C0101"]')
    page.fill("#description", DESCRIPTION)
    page.click("#report-submit")
    page.wait_for_selector('body[data-last-send="waiting"][data-outbox="1"]')
    assert page.is_visible("#outbox-banner")
    page.click('#tabs button[data-view="view-mine"]')
    item = page.wait_for_selector(".ph-outbox-item")
    client_uuid = uuid.UUID(item.get_attribute("data-id"))
    screenshot(page, "phone-rider-offline-waiting.png")
    assert Report.objects.count() == 0

    # Two more attempts while offline: still nothing on the server, still one waiting.
    page.click("#outbox-send")
    page.click("#outbox-send")
    page.wait_for_timeout(300)
    assert Report.objects.count() == 0
    assert page.locator(".ph-outbox-item").count() == 1

    page.context.set_offline(False)
    page.wait_for_selector('body[data-outbox="0"]', timeout=20_000)
    report = Report.objects.get()
    assert report.description == DESCRIPTION and report.client_uuid == client_uuid
    assert report.photos.count() == 1 and report.reporter.username == "rider1"

    # Sending again (the button, a reload, the worker's sync) stores nothing more.
    page.evaluate("""async () => {
        const reg = await navigator.serviceWorker.ready;
        reg.active.postMessage({type: "flush"});
    }""")
    page.reload()
    page.wait_for_selector("body[data-ready]")
    page.click('#tabs button[data-view="view-mine"]')
    page.wait_for_selector(f'.ph-mine[data-case="{report.case_id}"]')
    screenshot(page, "phone-rider-offline-sent.png")
    assert Report.objects.count() == 1

    assert watched.csp_violations() == [] and watched.page_errors == []
    # The only console errors: the requests tried while the network was gone.
    assert [e for e in watched.console_errors if not network_gone(e)] == []
    assert watched.blocked == []


def test_resending_the_same_report_is_stored_once(rider_data, phone, live_server, tmp_path):
    """What the outbox relies on: the same client_uuid posted again is answered, not stored."""
    import requests

    token = Token.objects.get(user__username="rider1").key
    fields = {"category": "C0101", "lon": "116.3925", "lat": "39.7972", "coord_system": "wgs84",
              "client_uuid": str(uuid.uuid4())}
    statuses = []
    for _ in range(3):
        answer = requests.post(f"{live_server.url}/api/v1/reports/",
                               headers={"Authorization": f"Token {token}"}, data=fields,
                               files={"photos": ("p.jpg", jpeg((64, 48)), "image/jpeg")},
                               timeout=30)
        statuses.append(answer.status_code)
    assert statuses == [201, 200, 200]
    assert Report.objects.filter(client_uuid=fields["client_uuid"]).count() == 1


def test_a_report_whose_answer_was_lost_is_sent_again_and_stored_once(rider_data, phone,
                                                                        tmp_path):
    """The server stores the report but the answer never reaches the phone (the connection
    drops): the report stays waiting, goes again with the same client_uuid, and the server
    answers with the first report instead of storing a second one."""
    watched = phone("/rider/")
    page = watched.page
    page.wait_for_selector("#signin:not([hidden])")
    sign_in_with_code(page, Token.objects.get(user__username="rider1").key)
    lost = []

    def lose_the_answer(route) -> None:
        if route.request.method == "POST":
            route.fetch()  # the server gets it and answers…
            lost.append(route.request.url)
            route.abort("connectionreset")  # …but the phone never hears back
        else:
            route.continue_()

    page.route("**/api/v1/reports/", lose_the_answer)
    page.wait_for_selector('#loc-status[data-source="device"]')
    photo = tmp_path / "bin.jpg"
    photo.write_bytes(jpeg((320, 240)))
    page.set_input_files("#photo-pick", str(photo))
    page.wait_for_selector("#photo-list li img")
    page.click('label[for="cat-C0101"]')
    page.fill("#description", "answer lost")
    page.click("#report-submit")
    page.wait_for_selector('body[data-last-send="waiting"][data-outbox="1"]')
    assert len(lost) == 1 and Report.objects.filter(description="answer lost").count() == 1

    page.unroute("**/api/v1/reports/")
    page.click('#tabs button[data-view="view-mine"]')
    page.click("#outbox-send")
    page.wait_for_selector('body[data-outbox="0"]')
    assert Report.objects.filter(description="answer lost").count() == 1
    assert watched.csp_violations() == [] and watched.page_errors == []
    assert [e for e in watched.console_errors if "net::ERR_CONNECTION_RESET" not in e] == []
