"""The public pages (issue 19): the home page with its lookup by case number and this month's
figures, a public case's page (no reporter, no words, no private category), a community's page,
the Atom feeds per subdistrict and community, and the site's 404 page in the reader's
language; in a real browser at 360 × 740 (axe-clean, our own origin only)."""

from __future__ import annotations

import uuid
from xml.etree import ElementTree

import pytest
from django.utils import timezone

from civicmap.models import CommunityGrid
from issues.models import Case
from issues.selectors_public import FEED_ENTRIES_MAX, case_feed_entries
from issues.services.intake import APP_CHANNEL, ReportInput, report_create
from patrol.facts import case_facts_rebuild
from tests.frontend.conftest import screenshot
from tests.frontend.helpers import XSS_DESCRIPTION
from tests.frontend.test_case_page import HOSTILE_NOTE, handed_in_case
from tests.issues.helpers import RIDER_NEEDS_CATEGORY, jpeg, upload
from tests.patrol.helpers import HUAIFANG, SECRET_PHONE, XINGONG, act, community_points, user

db = pytest.mark.django_db
ATOM = "{http://www.w3.org/2005/Atom}"
NANYUAN = "110106005"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def reported(category: str = "C0103", *, community: str = HUAIFANG, point: int = 0,
             reporter: str = "rider1") -> Case:
    """A case reported from the rider app at one of the community's points."""
    lon, lat = community_points(community)[point]
    return report_create(channel=APP_CHANNEL, reporter=user(reporter), data=ReportInput(
        category_code=category, lon=lon, lat=lat, description=XSS_DESCRIPTION,
        client_uuid=uuid.uuid4(), photos=[upload(jpeg())])).report.case


def not_found_in_the_readers_language(response, *, english: bool) -> None:
    assert response.status_code == 404
    body = response.content.decode()
    assert "Not Found" not in body
    assert ("Page not found" in body) == english
    assert ("找不到页面" in body) == (not english)


# --- the case page ------------------------------------------------------------------------------


@db
def test_a_public_case_shows_category_community_history_and_photos_but_nobody(
        reference_data, settings, client):
    case = handed_in_case(description=XSS_DESCRIPTION + f" {SECRET_PHONE}")
    rider = user("rider1")
    response = client.get(f"/cases/{case.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert case.category.name_zh in body
    assert CommunityGrid.objects.get(code=HUAIFANG).name_zh in body
    timeline = body[body.index('class="public-timeline"'):]
    assert "任务派遣" in timeline and "处理反馈" in timeline  # the stages reached, in order
    assert timeline.index("任务派遣") < timeline.index("处理反馈")
    assert body.count('class="public-photos"') == 1
    assert body.count("/thumbnail/") == 1  # the report's photo; never the team's proof
    assert "/original/" not in body
    for secret in (SECRET_PHONE, XSS_DESCRIPTION, HOSTILE_NOTE, rider.username,
                   "office1", "hk_"):
        assert secret not in body
    assert f'href="/feeds/community/{HUAIFANG}.atom"' in body
    assert 'type="application/atom+xml"' in body


@db
@pytest.mark.parametrize("english", [False, True])
def test_a_private_or_unknown_case_is_the_404_page_in_the_readers_language(
        reference_data, client, english):
    private = reported(RIDER_NEEDS_CATEGORY)
    headers = EN if english else {}
    for path in (f"/cases/{private.pk}/", "/cases/987654321/", "/no/such/page/"):
        not_found_in_the_readers_language(client.get(path, **headers), english=english)


@db
def test_the_reporter_of_a_private_case_gets_no_public_page_either(reference_data, client):
    private = reported(RIDER_NEEDS_CATEGORY)
    client.force_login(user("rider1"))
    assert client.get(f"/cases/{private.pk}/").status_code == 404


@db
def test_a_merged_case_sends_the_reader_to_the_case_it_joined(reference_data, client):
    kept, merged = reported(point=0), reported(point=1, reporter="rider2")
    Case.objects.filter(pk=merged.pk).update(merged_into=kept, stage="cancelled")
    response = client.get(f"/cases/{merged.pk}/")
    assert response.status_code == 302
    assert response["Location"] == f"/cases/{kept.pk}/"


# --- the home page and its lookup ---------------------------------------------------------------


@db
def test_home_says_what_it_is_links_the_map_and_announces_the_feeds(reference_data, client):
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'href="/map/"' in body
    assert ('<link rel="alternate" type="application/atom+xml" '
            f'href="/feeds/subdistrict/{NANYUAN}.atom"') in body
    assert 'name="case"' in body
    outlines = body[body.index('<svg class="public-outline-map"'):body.index("</svg>")]
    assert outlines.count("<path d=") == CommunityGrid.objects.count()
    assert f'href="/communities/{HUAIFANG}/"' in outlines
    assert len(response.content) < 60_000  # bytes, before gzip: light on a phone


@db
def test_home_shows_this_months_figures_per_subdistrict(reference_data, client):
    handed_in_case()
    case_facts_rebuild(since=timezone.localdate().replace(day=1))
    body = client.get("/").content.decode()
    row = body[body.index(f'<tr data-subdistrict="{NANYUAN}"'):]
    row = row[:row.index("</tr>")]
    assert [cell.split("</td>")[0] for cell in row.split("<td>")[1:]] == ["1", "1", "0"]


@db
def test_a_known_number_redirects_to_its_page(reference_data, client):
    case = reported()
    response = client.get("/", {"case": f" {case.pk} "})
    assert response.status_code == 302
    assert response["Location"] == f"/cases/{case.pk}/"


@db
@pytest.mark.parametrize(("value", "status", "message"), [
    ("abc", 400, "请输入案件编号"),
    ("", 400, "请输入案件编号"),
    ("0", 400, "请输入案件编号"),
    ("987654321", 404, "没有这个编号的公开案件"),
])
def test_a_refused_number_is_answered_beside_the_field(reference_data, client, value, status,
                                                       message):
    before = Case.objects.count()
    response = client.get("/", {"case": value})
    assert response.status_code == status
    body = response.content.decode()
    error = body[body.index('id="case-error"'):]
    assert message in error[:error.index("</p>")]
    assert 'aria-invalid="true"' in body
    assert Case.objects.count() == before


@db
def test_a_private_cases_number_is_answered_as_an_unknown_one(reference_data, client):
    private = reported(RIDER_NEEDS_CATEGORY)
    response = client.get("/", {"case": private.pk}, **EN)
    assert response.status_code == 404
    assert "No public case has this number" in response.content.decode()


# --- the community's page and the map's feed link -----------------------------------------------


@db
def test_a_communitys_page_lists_its_public_cases_and_announces_its_feed(reference_data,
                                                                        client):
    here, elsewhere, private = reported(), reported(community=XINGONG), reported(
        RIDER_NEEDS_CATEGORY)
    body = client.get(f"/communities/{HUAIFANG}/").content.decode()
    assert f'href="/cases/{here.pk}/"' in body
    assert f'/cases/{elsewhere.pk}/' not in body and f'/cases/{private.pk}/' not in body
    assert (f'<link rel="alternate" type="application/atom+xml" '
            f'href="/feeds/community/{HUAIFANG}.atom"') in body
    not_found_in_the_readers_language(client.get("/communities/110106005999/"), english=False)


@db
def test_the_map_of_a_subdistrict_announces_its_feed(reference_data, client, settings):
    settings.BASEMAP = "none"
    assert "application/atom+xml" not in client.get("/map/").content.decode()
    body = client.get("/map/", {"subdistrict": NANYUAN}).content.decode()
    assert f'type="application/atom+xml" href="/feeds/subdistrict/{NANYUAN}.atom"' in body


# --- the feeds ----------------------------------------------------------------------------------


def atom(response) -> ElementTree.Element:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    return ElementTree.fromstring(response.content)


@db
def test_a_communitys_feed_has_its_public_cases_opened_and_closed_newest_first(
        reference_data, client):
    first = handed_in_case()
    second = reported(point=1, reporter="rider2")
    act(first, "verify", "office2")
    elsewhere, private = reported(community=XINGONG), reported(RIDER_NEEDS_CATEGORY)
    feed = atom(client.get(f"/feeds/community/{HUAIFANG}.atom"))
    entries = feed.findall(f"{ATOM}entry")
    ids = [entry.findtext(f"{ATOM}id") for entry in entries]
    assert ids == [f"tag:civicmap,2026:case/{first.pk}-closed",
                   f"tag:civicmap,2026:case/{second.pk}-new",
                   f"tag:civicmap,2026:case/{first.pk}-new"]
    links = {entry.find(f"{ATOM}link").get("href") for entry in entries}
    assert links == {f"http://testserver/cases/{first.pk}/",
                     f"http://testserver/cases/{second.pk}/"}
    updated = [entry.findtext(f"{ATOM}updated") for entry in entries]
    assert updated == sorted(updated, reverse=True)
    text = client.get(f"/feeds/community/{HUAIFANG}.atom").content.decode()
    assert f"/cases/{elsewhere.pk}/" not in text and f"/cases/{private.pk}/" not in text
    assert XSS_DESCRIPTION not in text and "rider1" not in text


@db
def test_a_subdistricts_feed_in_english(reference_data, client):
    cases = [reported(point=n, community=(HUAIFANG, XINGONG)[n % 2]) for n in range(3)]
    feed = atom(client.get(f"/feeds/subdistrict/{NANYUAN}.atom", **EN))
    assert feed.findtext(f"{ATOM}title").startswith("Cases opened and closed: ")
    titles = [entry.findtext(f"{ATOM}title") for entry in feed.findall(f"{ATOM}entry")]
    assert len(titles) == 3
    assert titles[0].startswith(f"New case {cases[-1].pk}: ")


@db
def test_a_feed_keeps_the_newest_entries_only(reference_data):
    cases = [reported(point=n) for n in range(3)]
    entries = case_feed_entries(community=HUAIFANG, limit=2)
    assert [(entry.case.pk, entry.kind) for entry in entries] == [
        (cases[2].pk, "new"), (cases[1].pk, "new")]
    assert FEED_ENTRIES_MAX == 50


@db
@pytest.mark.parametrize("path", ["/feeds/community/110106005999.atom",
                                  "/feeds/subdistrict/999999999.atom"])
def test_a_feed_of_an_unknown_place_is_the_404_page(reference_data, client, path):
    not_found_in_the_readers_language(client.get(path), english=False)
    not_found_in_the_readers_language(client.get(path, **EN), english=True)


# --- in the browser -----------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_public_pages_on_a_phone(reference_data, settings, open_page):
    settings.BASEMAP = "none"
    case = handed_in_case()
    watched = open_page("/")
    page = watched.page
    page.set_viewport_size({"width": 360, "height": 740})
    assert watched.axe_violations() == []
    screenshot(page, "public-home.png")
    page.fill("#id_case", str(case.pk))
    page.click(".public-lookup button")
    page.wait_for_selector("#public-case")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.public-photos img')].every(i => i.complete"
        " && i.naturalWidth > 0)")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert watched.axe_violations() == []
    screenshot(page, "public-case.png")
    watched.assert_clean()

    # An unknown number: the message beside the field (the page answers 404, which the
    # browser logs as a console error; nothing else may go wrong).
    refused = open_page("/?case=987654321")
    refused.page.set_viewport_size({"width": 360, "height": 740})
    assert refused.page.locator("#case-error").is_visible()
    assert refused.axe_violations() == []
    assert refused.blocked == [] and refused.page_errors == []
    assert refused.csp_violations() == []


@db
def test_the_public_pages_read_a_bounded_number_of_queries(
        reference_data, client, django_assert_max_num_queries):
    cases = [handed_in_case(), *(reported(point=n) for n in range(1, 4))]
    # the case, its history, its photos; the session and the locale add none (anonymous)
    with django_assert_max_num_queries(4):
        assert client.get(f"/cases/{cases[0].pk}/").status_code == 200
    with django_assert_max_num_queries(4):  # the community, openings, closings
        assert client.get(f"/feeds/community/{HUAIFANG}.atom").status_code == 200
    with django_assert_max_num_queries(6):  # figures, subdistricts, outlines and their extent
        assert client.get("/").status_code == 200
