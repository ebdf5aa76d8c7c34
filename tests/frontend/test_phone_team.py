"""The teams' page (/team/) in a phone-sized browser: a volunteer sees the team's task, its
photo and place, accepts, starts and hands it in with a photo and a note; after the office
verifies, the rider sees the proof photo (not the team's note) on /rider/ and rates the result."""

from __future__ import annotations

import uuid

import pytest
import requests
from django.contrib.auth import get_user_model
from django.db.models import Sum
from rest_framework.authtoken.models import Token

from civicmap.navigation import navigation_links
from issues.models import Case, PointsEntry, Report, Stage
from issues.tasks import photo_renditions_make_task
from patrol.models import Rating, Task
from patrol.services.lifecycle import case_act
from tests.frontend.conftest import screenshot
from tests.frontend.helpers import XINGONG
from tests.frontend.phone_helpers import (
    phone_fixture,  # noqa: F401  (the phone fixture)
    sign_in_with_code,
)
from tests.issues.helpers import jpeg

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BIKES = "E0502"  # 非机动车乱停放: the civility teams' work
NOTE = "已将电动车挪回停车区 bikes moved back to the bay"


@pytest.fixture
def team_data(reference_data, settings, tmp_path):
    settings.BASEMAP = "none"
    settings.MEDIA_ROOT = tmp_path / "media"


def _user(username: str):
    return get_user_model().objects.get(username=username)


def _dispatched_case(live_server, *, east: float = 0.0) -> Case:
    """rider1 reports bikes in Xingong (civility_west's community), ``east`` degrees of
    longitude east of its point, with a photo through the API; office1 files and dispatches it
    (the routing offers it to civility_west)."""
    answer = requests.post(
        f"{live_server.url}/api/v1/reports/",
        headers={"Authorization": f"Token {Token.objects.get(user__username='rider1').key}"},
        data={"category": BIKES, "lon": repr(XINGONG[0] + east), "lat": repr(XINGONG[1]),
              "description": "电动车堵住人行道", "client_uuid": str(uuid.uuid4())},
        files={"photos": ("bikes.jpg", jpeg((240, 180), colour=(200, 30, 30)), "image/jpeg")},
        timeout=30)
    assert answer.status_code == 201, answer.text
    case_id = answer.json()["properties"]["case"]
    for photo in Report.objects.get(case_id=case_id).photos.all():
        photo_renditions_make_task(photo.pk)
    case_act(case_id=case_id, action="file", actor=_user("office1"))
    case_act(case_id=case_id, action="dispatch", actor=_user("office1"))
    task = Task.objects.get(case_id=case_id)
    assert task.team.code == "civility_west"
    return Case.objects.get(pk=case_id)


def test_team_page_is_served_with_csp(team_data, client):
    page = client.get("/team/")
    assert page.status_code == 200
    assert "'unsafe-inline'" not in page["Content-Security-Policy"]
    assert "<script>" not in page.content.decode()


def test_volunteer_accepts_starts_and_hands_in_then_rider_rates(team_data, phone, tmp_path,
                                                                live_server):
    from fixtures.seed import DEMO_PASSWORD

    case = _dispatched_case(live_server)
    near = (XINGONG[0] + 0.003, XINGONG[1])  # the volunteer, about 260 m east

    watched = phone("/team/", geolocation=near)
    page = watched.page
    page.click("#signin details summary")
    page.fill("#signin-username", "cw_vol1")
    page.fill("#signin-password", DEMO_PASSWORD)
    page.click("#signin-password-form button[type=submit]")
    page.wait_for_selector("body[data-ready]")
    page.wait_for_selector(f'.ph-task[data-case="{case.pk}"]')
    page.click("#sort-distance")
    distance = page.wait_for_selector(f'.ph-task[data-case="{case.pk}"] .ph-distance')
    assert 230 < int(distance.get_attribute("data-m")) < 290  # 0.003° of longitude here
    screenshot(page, "phone-team-tasks.png")

    page.click(f'.ph-task[data-case="{case.pk}"]')
    page.wait_for_selector('#action-buttons button[data-action="accept"]')
    page.wait_for_function("() => document.querySelector('.ph-case-photo').naturalWidth > 0")
    links = navigation_links(lon=case.location.x, lat=case.location.y,
                             name=case.category.name_zh)
    assert page.get_attribute("#nav-geo", "href") == links["geo"]
    assert page.get_attribute("#nav-amap", "href") == links["amap"]  # GCJ-02, "gaode"
    assert page.locator("#task-map .ph-pin").count() == 1
    screenshot(page, "phone-team-task.png")

    page.click('#action-buttons button[data-action="accept"]')
    page.wait_for_selector('#action-buttons button[data-action="start"]')
    assert Task.objects.get(case=case).status == Task.Status.ACCEPTED
    page.click('#action-buttons button[data-action="start"]')
    page.wait_for_selector('#action-buttons button[data-action="handin"]:not([disabled])')
    assert Task.objects.get(case=case).status == Task.Status.IN_PROGRESS

    page.click('#action-buttons button[data-action="handin"]')
    proof = tmp_path / "proof.jpg"
    proof.write_bytes(jpeg((320, 240), colour=(30, 160, 60)))
    page.set_input_files("#handin-photo", str(proof))
    page.wait_for_selector("#handin-thumb img")
    page.fill("#handin-note", NOTE)
    screenshot(page, "phone-team-handin.png")
    page.click("#handin-form button[type=submit]")
    page.wait_for_selector('body[data-stage="handed_in"]')
    task = Task.objects.get(case=case)
    assert task.status == Task.Status.HANDED_IN and task.note == NOTE
    assert task.handed_in_by.username == "cw_vol1" and task.proof_photo_id is not None
    watched.assert_clean()

    # The office verifies (not the volunteer: the verifier is someone else); the rider sees
    # the proof photo, not the team's note (workers' notes are the office's and the team's:
    # issues.visibility), and rates.
    photo_renditions_make_task(task.proof_photo_id)
    case_act(case_id=case.pk, action="verify", actor=_user("office2"))
    assert Case.objects.get(pk=case.pk).stage == Stage.CLOSED

    rider = phone("/rider/", geolocation=XINGONG)
    page = rider.page
    page.wait_for_selector("#signin:not([hidden])")
    sign_in_with_code(page, Token.objects.get(user__username="rider1").key)
    page.click('#tabs button[data-view="view-mine"]')
    item = page.wait_for_selector(f'.ph-mine[data-case="{case.pk}"]')
    item.query_selector("button").click()
    page.wait_for_selector(f'.ph-mine[data-case="{case.pk}"] .ph-proof')
    page.wait_for_function("() => document.querySelector('.ph-proof').naturalWidth > 0")
    assert NOTE not in page.content()
    page.click(f'.ph-rate[data-case="{case.pk}"] label[for="rate-{case.pk}-5"]')
    page.fill(f'.ph-rate[data-case="{case.pk}"] textarea', "很快 quick")
    screenshot(page, "phone-rider-rate.png")
    page.click(f'.ph-rate[data-case="{case.pk}"] button[type=submit]')
    page.wait_for_selector(f'.ph-mine[data-case="{case.pk}"] .ph-ok')
    rating = Rating.objects.get(case=case)
    assert rating.rider.username == "rider1" and rating.score == 5
    assert Case.objects.get(pk=case.pk).stage == Stage.EVALUATED

    # The verified case earned rider1 points as its first reporter: shown under "Me".
    earned = PointsEntry.objects.filter(rider__user__username="rider1").aggregate(
        total=Sum("points"))["total"]
    assert earned and earned > 0
    page.click('#tabs button[data-view="view-me"]')
    page.wait_for_selector(f'#points-total:text-is("{earned}")')
    assert page.locator(".ph-points-entry").count() >= 1
    screenshot(page, "phone-rider-points.png")
    rider.assert_clean()


SERIOUS = ("serious", "critical")


def _serious(watched) -> list[str]:
    return [v for v in watched.axe_violations() if any(f"({i})" in v for i in SERIOUS)]


def _signed_in(phone, username: str):
    """/team/ on a phone, signed in with the demo password, the task list shown."""
    from fixtures.seed import DEMO_PASSWORD

    watched = phone("/team/", geolocation=XINGONG)
    page = watched.page
    page.click("#signin details summary")
    page.fill("#signin-username", username)
    page.fill("#signin-password", DEMO_PASSWORD)
    page.click("#signin-password-form button[type=submit]")
    page.wait_for_selector("body[data-ready][data-tasks]")
    return watched


def test_leader_sees_sections_assigns_a_member_who_sees_it_as_theirs(team_data, phone,
                                                                     live_server):
    """Issue 19: a new task on top of New with its mark, a task 86 days overdue under Overdue
    (the section in the address), counts on each; the leader gives the new one to cw_vol2,
    who is told and finds it marked as theirs; the top bar stays above the map when the page
    scrolls."""
    from datetime import timedelta

    from django.utils import timezone

    from patrol.models import Notification

    fresh = _dispatched_case(live_server)
    stale = _dispatched_case(live_server, east=0.002)  # about 170 m: a case of its own
    now = timezone.now()
    Task.objects.filter(case=stale).update(offered_at=now - timedelta(days=87),
                                           response_due=now - timedelta(days=86))

    leader = _signed_in(phone, "cw_lead")
    page = leader.page
    assert page.evaluate("location.hash") == "#new"
    assert page.text_content('#section-new [data-count="new"]') == "(1)"
    assert page.text_content('#section-overdue [data-count="overdue"]') == "(1)"
    assert page.text_content('#section-in_progress [data-count="in_progress"]') == "(0)"
    row = page.locator(f'.ph-task[data-case="{fresh.pk}"]')
    assert row.locator(".ph-new").text_content() == "新"
    assert page.locator(f'.ph-task[data-case="{stale.pk}"]').count() == 0
    page.click("#section-overdue")
    page.wait_for_selector(f'body[data-section="overdue"] .ph-task[data-case="{stale.pk}"]')
    assert page.evaluate("location.hash") == "#overdue"
    assert page.locator(f'.ph-task[data-case="{fresh.pk}"]').count() == 0
    assert _serious(leader) == []
    screenshot(page, "phone-team-sections.png")

    page.click("#section-new")
    page.click(f'.ph-task[data-case="{fresh.pk}"]')
    page.wait_for_selector("#assign-form:not([hidden])")
    assert page.locator("#assign-member option").count() == 5  # a prompt, cw_lead, 3 members
    # The two hand-in buttons say different things (the action, then sending its proof).
    page.wait_for_selector('#action-buttons button[data-action="accept"]')
    assert (page.text_content("#handin-form button[type=submit]").strip()
            != page.evaluate("JSON.parse(document.getElementById('phone-config').textContent)"
                             ".labels.actions.handin"))
    member = _user("cw_vol2")
    page.select_option("#assign-member", str(member.pk))
    page.click("#assign-form button[type=submit]")
    page.wait_for_selector("#action-message.ph-ok")
    assert "王志强" in page.text_content("#action-message")
    assert Task.objects.get(case=fresh).assignee == member
    assert Notification.objects.filter(kind="task_assigned", recipient=member).count() == 1
    assert _serious(leader) == []
    screenshot(page, "phone-team-assign.png")

    # Scrolled so the map's top edge is just under the top bar: the point where its zoom
    # control would draw over the bar belongs to the bar.
    page.wait_for_selector("#task-map .leaflet-control-zoom, #task-map .ph-pin")
    on_top = page.evaluate("""() => {
        const bar = document.querySelector('.ph-bar').getBoundingClientRect();
        const map = document.getElementById('task-map');
        window.scrollBy(0, map.getBoundingClientRect().top - (bar.bottom - 20));
        const box = map.getBoundingClientRect();
        const hit = document.elementFromPoint(box.left + 20, bar.bottom - 5);
        return {mapTop: box.top, barBottom: bar.bottom, inBar: !!hit.closest('.ph-bar')};
    }""")
    assert on_top["mapTop"] < on_top["barBottom"], on_top  # the map is under the bar
    assert on_top["inBar"], on_top
    leader.assert_clean()

    helper = _signed_in(phone, "cw_vol2")
    page = helper.page
    mine = page.wait_for_selector(f'.ph-task[data-case="{fresh.pk}"] .ph-mine-mark')
    assert mine.text_content() == "交给我的"
    page.wait_for_selector('#inbox-badge[data-count="3"]')  # two offers, one assignment
    assert _serious(helper) == []
    helper.assert_clean()
