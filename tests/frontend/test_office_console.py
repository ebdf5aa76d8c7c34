"""The office's triage console in a real browser: a report filed through the API appears
without a reload; a click shows it; an action goes through the API with the session."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

import pytest
import requests
from django.utils import timezone
from rest_framework.authtoken.models import Token

from issues.models import Case, Report, Stage
from issues.services.intake import OPEN311_CHANNEL, ReportInput, report_create
from tests.frontend.conftest import screenshot
from tests.frontend.helpers import HUAIFANG, XSS_DESCRIPTION, map_history_load
from tests.issues.helpers import jpeg
from tests.patrol.helpers import near_border

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OFFICE_URL = "/office/"
FEED_URL = "/office/cases/"


@pytest.fixture
def console_data(reference_data, settings):
    settings.BASEMAP = "none"
    settings.OFFICE_POLL_MS = 1000  # the test waits less; the default is checked below
    map_history_load(now=timezone.now())


def test_poll_interval_is_at_most_15_seconds():
    from django.conf import settings

    from frontend.views import OFFICE_POLL_MAX_MS

    assert settings.OFFICE_POLL_MS <= 15_000 and OFFICE_POLL_MAX_MS == 15_000


@pytest.mark.parametrize("username", [None, "rider1", "cw_vol1", "union1"])
def test_console_is_for_office_staff_only(reference_data, client, username):
    from django.contrib.auth import get_user_model

    if username:
        client.force_login(get_user_model().objects.get(username=username))
    response = client.get(OFFICE_URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/office/")
    feed = client.get(FEED_URL)
    assert feed.status_code == 403 and feed.json()["errors"][0]["code"] == "forbidden"


def test_feed_lists_open_cases_most_urgent_then_newest_first(console_data, client):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username="office1"))
    body = client.get(FEED_URL).json()
    cases = body["cases"]
    assert body["total"] == Case.objects.filter(merged_into__isnull=True).count()
    assert len(cases) == min(body["total"], body["page_size"]) == min(body["total"], 50)
    stamps = [case["last_report_at"] for case in cases]
    assert stamps == sorted(stamps, reverse=True)


def _file_report(live_server, *, description: str) -> int:
    """A rider's report through the real HTTP API; returns its case id."""
    token = Token.objects.get(user__username="rider1").key
    response = requests.post(
        f"{live_server.url}/api/v1/reports/",
        headers={"Authorization": f"Token {token}"},
        data={"category": "C0103", "description": description, "lon": repr(HUAIFANG[0] + 0.003),
              "lat": repr(HUAIFANG[1] + 0.002), "coord_system": "wgs84",
              "client_uuid": str(uuid.uuid4())},
        files={"photos": ("lamp.jpg", jpeg(), "image/jpeg")},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return Report.objects.get(description=description).case_id


def test_new_report_appears_without_reload_and_can_be_filed(console_data, live_server,
                                                            open_page, session_for):
    watched = open_page(OFFICE_URL, session=session_for("office1"))
    page = watched.page
    page.wait_for_selector("#office-console[data-loaded]")
    before = int(page.get_attribute("#office-console", "data-loaded"))
    assert before == Case.objects.count()
    page.evaluate("window.__sameDocument = true")

    description = f"{XSS_DESCRIPTION} {uuid.uuid4()}"
    case_id = _file_report(live_server, description=description)
    item = page.wait_for_selector(f'.office-case[data-case="{case_id}"]', timeout=15_000)
    assert "office-case-new" in item.get_attribute("class")
    assert page.evaluate("window.__sameDocument") is True  # no reload
    assert page.locator(f"path.office-marker-{Stage.NEW}").count() + page.locator(
        ".marker-cluster").count() >= 1

    # Click: photos, reports and history from the API; the description is plain text.
    item.click()
    page.wait_for_selector(".office-detail-title")
    detail = page.locator("#office-detail")
    assert detail.locator(".office-description").first.text_content() == description
    assert detail.locator(".office-description script, .office-description img").count() == 0
    assert page.locator(".office-history li").count() >= 1
    screenshot(page, "office-console.png")

    # File it: POST /api/v1/cases/{id}/file/ with the session and CSRF token.
    page.click('.office-action[data-action="file"]')
    page.wait_for_selector(
        f'.office-case[data-case="{case_id}"] .office-stage[data-stage="{Stage.FILED}"]',
        timeout=15_000)
    assert Case.objects.get(pk=case_id).stage == Stage.FILED
    assert page.evaluate("window.__xss") is None
    watched.assert_clean()


def test_a_case_near_the_border_is_transferred_from_the_console(console_data, live_server,
                                                                 open_page, session_for):
    """The transfer button comes with a select of the bordering subdistricts in reach; it posts
    the chosen code and the reason (docs/DECISIONS.md D-053)."""
    from django.contrib.auth import get_user_model

    nanyuan, heyi = "110106005", "110106016"
    lon, lat = near_border(nanyuan, heyi, 60)
    case_id = report_create(
        channel=OPEN311_CHANNEL, data=ReportInput(category_code="E0101", lon=lon, lat=lat),
        reporter=get_user_model().objects.get(username="rider1")).report.case_id
    watched = open_page(OFFICE_URL, session=session_for("office1"))
    page = watched.page
    page.wait_for_selector("#office-console[data-loaded]")
    page.click(f'.office-case[data-case="{case_id}"]')
    select = page.wait_for_selector("select.office-transfer")
    assert [option.get_attribute("value") for option in select.query_selector_all("option")] == [
        heyi]
    assert select.get_attribute("aria-label") == "移交至街道"
    page.fill(".office-note", "在和义街道一侧")
    page.click('.office-action[data-action="transfer"]')
    # Heyi's now: out of Nanyuan's office's list, with a word saying so.
    page.wait_for_selector(f'.office-case[data-case="{case_id}"]', state="detached",
                           timeout=15_000)
    assert "已移交" in page.inner_text("#office-detail .office-message")
    case = Case.objects.select_related("subdistrict").get(pk=case_id)
    assert (case.subdistrict.code, case.stage) == (heyi, Stage.FILED)
    watched.assert_clean()


# --- the list: filters in the URL, keys, the chosen case, bulk actions (issue 17) ------------

def _list_ids(page) -> list[int]:
    return [int(v) for v in page.eval_on_selector_all(
        ".office-case", "items => items.map(i => i.getAttribute('data-case'))")]


def _wait_query(page, query: str) -> None:
    """Until the list and the counts beside the filters show the answer for ``query`` (the
    page URL's search string): the counts come in a second request, after the list."""
    page.wait_for_function("q => ['data-query', 'data-counted'].every(name => document"
                           ".getElementById('office-console').getAttribute(name) === q)",
                           arg=query, timeout=15_000)


def test_filters_live_in_the_url_and_back_restores_them(console_data, live_server, open_page,
                                                        session_for):
    litter = list(Case.objects.filter(category__code="E0505").order_by("-last_report_at")
                  .values_list("pk", flat=True))
    assert len(litter) == 6
    watched = open_page(OFFICE_URL, session=session_for("office1"))
    page = watched.page
    _wait_query(page, "")
    everything = _list_ids(page)
    assert len(everything) == Case.objects.count()
    # the count beside the option, for the other filters (none)
    assert page.inner_text('#id_category option[value="E0505"]').endswith("(6)")

    page.select_option("#id_category", "E0505")
    _wait_query(page, "?category=E0505")
    assert page.url.endswith("/office/?category=E0505")
    assert _list_ids(page) == litter
    page.select_option("#id_sort", "reports")
    _wait_query(page, "?category=E0505&sort=reports")

    page.go_back()  # the previous filters, not the previous page
    _wait_query(page, "?category=E0505")
    assert page.input_value("#id_sort") == "newest"
    page.go_back()
    _wait_query(page, "")
    assert page.input_value("#id_category") == ""
    assert _list_ids(page) == everything

    # A shared URL opens the same view: the form filled, the list filtered.
    shared = open_page(f"{OFFICE_URL}?q=hotspot&category=E0505", session=session_for("office1"))
    _wait_query(shared.page, "?q=hotspot&category=E0505")
    assert shared.page.input_value("#id_q") == "hotspot"
    assert _list_ids(shared.page) == []
    assert "没有符合" in shared.page.inner_text("#office-status")
    watched.assert_clean()
    shared.assert_clean()


def test_keys_move_through_the_list_and_open_the_chosen_case(console_data, live_server,
                                                             open_page, session_for):
    watched = open_page(OFFICE_URL, session=session_for("office1"))
    page = watched.page
    _wait_query(page, "")
    ids = _list_ids(page)
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.name") == "q"
    page.locator(".office-case").first.focus()
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.getAttribute('data-case')") == str(ids[1])
    page.keyboard.press("ArrowDown")
    page.keyboard.press("k")
    assert page.evaluate("document.activeElement.getAttribute('data-case')") == str(ids[1])
    # one stop in the tab order, and a visible focus ring
    assert page.locator('.office-case[tabindex="0"]').count() == 1
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    page.wait_for_selector(f'.office-detail-title:has-text("#{ids[1]}")')
    assert page.get_attribute(f'.office-case[data-case="{ids[1]}"]', "aria-current") == "true"
    # the chosen case's marker is drawn apart from the others
    page.wait_for_selector("path.office-marker-chosen", timeout=15_000)
    assert page.locator("path.office-marker-chosen").count() == 1
    violations = watched.axe_violations()
    assert violations == [], violations
    watched.assert_clean()


def test_bulk_action_on_selected_cases_shows_each_outcome(console_data, live_server, open_page,
                                                          session_for):
    from tests.patrol.helpers import act

    litter = list(Case.objects.filter(category__code="E0505").values_list("pk", flat=True))
    act(litter[0], "file", "office1")  # already filed: filing it again is refused
    watched = open_page(f"{OFFICE_URL}?category=E0505", session=session_for("office1"))
    page = watched.page
    _wait_query(page, "?category=E0505")
    page.check("#office-select-all")
    assert page.locator(".office-check:checked").count() == 6
    page.select_option("#office-bulk-action", "file")
    page.click("#office-bulk-apply")
    page.wait_for_selector(".office-bulk-outcomes li", timeout=15_000)
    outcomes = dict(page.eval_on_selector_all(
        ".office-bulk-outcomes li",
        "items => items.map(i => [i.getAttribute('data-case'), i.getAttribute('data-ok')])"))
    assert outcomes.pop(str(litter[0])) == "false"
    assert set(outcomes.values()) == {"true"} and len(outcomes) == 5
    assert "5" in page.inner_text("#office-bulk-result p")
    assert set(Case.objects.filter(pk__in=litter).values_list("stage", flat=True)) == {
        Stage.FILED}
    # the list follows: every case now filed
    page.wait_for_selector(f'.office-case .office-stage[data-stage="{Stage.NEW}"]',
                           state="detached", timeout=15_000)
    watched.assert_clean()


def test_polling_keeps_the_filters_and_shows_a_new_matching_case(console_data, live_server,
                                                                 open_page, session_for):
    word = f"灯杆歪斜{uuid.uuid4().hex[:6]}"
    query = "?" + urlencode({"category": "C0103", "q": word})
    watched = open_page(f"{OFFICE_URL}{query}", session=session_for("office1"))
    page = watched.page
    _wait_query(page, query)
    assert _list_ids(page) == []
    case_id = _file_report(live_server, description=f"路口{word}")  # a C0103 report
    item = page.wait_for_selector(f'.office-case[data-case="{case_id}"]', timeout=15_000)
    assert "office-case-new" in item.get_attribute("class")
    assert _list_ids(page) == [case_id]
    assert page.input_value("#id_q") == word
    watched.assert_clean()
