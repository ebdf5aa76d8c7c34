"""The inbox on the phone pages (issue 19), in a 360 × 740 browser: the tab's badge counts the
unread messages, the inbox lists them newest first with older ones a page at a time, tapping
one marks it read and opens its case (/rider/: the report in "my reports") or task (/team/),
also one beyond what the page has loaded (asked for alone), "mark all read" clears the badge.
axe-core finds nothing serious; every request stays on our origin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect
from rest_framework.authtoken.models import Token

from patrol.models import Notification, Task
from tests.frontend.conftest import screenshot
from tests.frontend.helpers import XINGONG
from tests.frontend.phone_helpers import (
    network_gone,
    phone_fixture,  # noqa: F401  (the phone fixture)
    sign_in_with_code,
)
from tests.patrol.helpers import XINGONG as XINGONG_CODE
from tests.patrol.helpers import act, report

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BIKES = "E0502"  # 非机动车乱停放: the civility teams' work (civility_west in Xingong)
LITTER = "E0101"
PAGE = 20  # phone.js INBOX_PAGE
MINE_PAGE = 20  # rider.js PAGE: "my reports" 20 at a time
NOT_FOUND = "Failed to load resource: the server responded with a status of 404 (Not Found)"
SERIOUS = ("serious", "critical")


@pytest.fixture
def inbox_data(reference_data, settings):
    settings.BASEMAP = "none"


def token_of(username: str) -> str:
    user = get_user_model().objects.get(username=username)
    return Token.objects.get_or_create(user=user)[0].key


def old_read_messages(username: str, case, count: int) -> None:
    """``count`` messages read long ago (older than everything else: lower ids), to fill
    more than one page."""
    user = get_user_model().objects.get(username=username)
    long_ago = timezone.now() - timedelta(days=30)
    Notification.objects.bulk_create([
        Notification(recipient=user, kind="case_filed", key=f"old:{n}", case=case,
                     data={"case": case.pk}, created_at=long_ago, read_at=long_ago)
        for n in range(count)])


def badge(page) -> int:
    node = page.locator("#inbox-badge")
    return 0 if node.is_hidden() else int(node.get_attribute("data-count"))


def serious(watched) -> list[str]:
    return [v for v in watched.axe_violations() if any(f"({i})" in v for i in SERIOUS)]


def test_a_rider_reads_the_news_of_their_cases_and_opens_one(inbox_data, phone):
    first = report(BIKES, community=XINGONG_CODE, point=0).case
    old_read_messages("rider1", first, PAGE)
    second = report(LITTER, community=XINGONG_CODE, point=3).case
    act(first, "file", "office1")
    act(first, "dispatch", "office1")
    act(second, "file", "office1")
    unread = list(Notification.objects.filter(recipient__username="rider1", read_at=None)
                  .order_by("-id"))
    assert [(n.case_id, n.kind) for n in unread] == [
        (second.pk, "case_filed"), (first.pk, "case_dispatched"), (first.pk, "case_filed")]

    watched = phone("/rider/", geolocation=XINGONG)
    page = watched.page
    sign_in_with_code(page, token_of("rider1"))
    page.wait_for_selector('#inbox-badge[data-count="3"]')

    page.click('#tabs button[data-view="view-inbox"]')
    page.wait_for_selector(".ph-note")
    ids = [int(i) for i in page.locator(".ph-note").evaluate_all(
        "items => items.map(item => item.dataset.id)")]
    assert ids[:3] == [n.pk for n in unread] and ids == sorted(ids, reverse=True)
    assert len(ids) == PAGE
    first_text = page.locator(".ph-note .ph-note-text").first.text_content()
    assert first_text == f"您的上报（案件 #{second.pk}）已受理立案。"
    assert page.locator(".ph-note.ph-unread").count() == 3
    screenshot(page, "phone-rider-inbox.png")
    assert serious(watched) == []

    page.click("#inbox-more")  # the older page
    page.wait_for_function(f"() => document.querySelectorAll('.ph-note').length === {PAGE + 3}")
    assert page.locator("#inbox-more").is_hidden()

    # Tapping the dispatch news opens that report in "my reports", its details open.
    page.click(f'.ph-note[data-id="{unread[1].pk}"] button')
    page.wait_for_selector(f'.ph-mine[data-case="{first.pk}"] .ph-details:not([hidden])')
    assert page.locator("#view-mine").is_visible()
    page.wait_for_selector('#inbox-badge[data-count="2"]')
    assert Notification.objects.get(pk=unread[1].pk).read_at is not None
    assert serious(watched) == []

    page.click('#tabs button[data-view="view-inbox"]')
    page.wait_for_selector("#inbox-read-all:not([hidden])")
    page.click("#inbox-read-all")
    page.wait_for_selector("#inbox-badge", state="hidden")
    assert page.locator(".ph-note.ph-unread").count() == 0
    assert not Notification.objects.filter(recipient__username="rider1",
                                           read_at=None).exists()
    assert badge(page) == 0
    watched.assert_clean()


def test_a_volunteer_opens_a_new_task_from_the_inbox(inbox_data, phone):
    case = report(BIKES, community=XINGONG_CODE, point=0).case
    act(case, "file", "office1")
    act(case, "dispatch", "office1")
    task = Task.objects.get(case=case)
    offered = Notification.objects.get(recipient__username="cw_vol1", kind="task_offered")
    unread = Notification.objects.filter(recipient__username="cw_vol1", read_at=None).count()

    watched = phone("/team/", geolocation=XINGONG, locale="en-GB")
    page = watched.page
    page.wait_for_selector("#signin:not([hidden])")
    sign_in_with_code(page, token_of("cw_vol1"))
    page.wait_for_selector(f'#inbox-badge[data-count="{unread}"]')

    page.click('#tabs button[data-view="view-inbox"]')
    item = page.wait_for_selector(f'.ph-note[data-id="{offered.pk}"]')
    assert item.get_attribute("data-task") == str(task.pk)
    assert page.locator(f'.ph-note[data-id="{offered.pk}"] .ph-note-text').text_content() == (
        f"New task: case #{case.pk} ({case.category.name_en}).")
    screenshot(page, "phone-team-inbox.png")
    assert serious(watched) == []

    page.click(f'.ph-note[data-id="{offered.pk}"] button')
    page.wait_for_selector("#view-task:not([hidden])")
    page.wait_for_selector('#action-buttons button[data-action="accept"]')
    assert f"Case {case.pk} " in page.locator("#task-meta").text_content()
    page.wait_for_selector(f'#inbox-badge[data-count="{unread - 1}"]', state="attached")

    page.click('#tabs button[data-view="view-inbox"]')
    if unread > 1:
        page.click("#inbox-read-all")
    page.wait_for_selector('#inbox-badge[data-count="0"]', state="hidden")
    assert not Notification.objects.filter(recipient__username="cw_vol1",
                                           read_at=None).exists()
    watched.assert_clean()


def test_a_rider_opens_a_report_beyond_the_first_page_of_my_reports(inbox_data, phone):
    """The news of an old report (the 22nd, past the 20 loaded) fetches that report alone and
    opens it; one of a case no longer theirs says so in words (a real 404)."""
    long_ago = timezone.now() - timedelta(days=40)
    old = report(LITTER, community=XINGONG_CODE, point=0, at=long_ago)
    newer = [report(BIKES, community=XINGONG_CODE, point=index % 6,
                    at=long_ago + timedelta(days=1, minutes=index))
             for index in range(MINE_PAGE + 1)]
    assert old.case_id not in {item.case_id for item in newer}
    act(old.case, "file", "office1")
    filed = Notification.objects.get(recipient__username="rider1", case=old.case,
                                     kind="case_filed")
    rider1 = get_user_model().objects.get(username="rider1")
    others = report(BIKES, community=XINGONG_CODE, point=7, reporter="rider2").case
    gone = Notification.objects.create(recipient=rider1, kind="case_filed", key="gone",
                                       case=others, data={"case": others.pk},
                                       created_at=timezone.now())

    watched = phone("/rider/", geolocation=XINGONG)
    page = watched.page
    sign_in_with_code(page, token_of("rider1"))
    page.click('#tabs button[data-view="view-inbox"]')
    with page.expect_response(lambda r: r.url.endswith(
            f"/api/v1/me/cases/{old.case_id}/report/")) as fetched:
        page.click(f'.ph-note[data-id="{filed.pk}"] button')
    assert fetched.value.status == 200
    opened = page.locator(f'#mine-list .ph-mine[data-report="{old.pk}"]')
    expect(opened.locator(".ph-details")).to_be_visible()
    assert page.locator("#view-mine").is_visible()
    assert opened.locator(".ph-history li").count() >= 2  # created, then filed
    assert page.locator("#mine-list .ph-mine").count() == MINE_PAGE + 1
    assert serious(watched) == []

    # "More" brings the report in its own place: it is listed once.
    page.click("#mine-more")
    expect(page.locator("#mine-list .ph-mine")).to_have_count(MINE_PAGE + 2)
    expect(page.locator(f'#mine-list .ph-mine[data-report="{old.pk}"]')).to_have_count(1)
    assert page.locator("#mine-list .ph-mine").last.get_attribute("data-report") == str(old.pk)

    page.click('#tabs button[data-view="view-inbox"]')
    page.click(f'.ph-note[data-id="{gone.pk}"] button')
    expect(page.locator("#toast")).to_have_text("这一项已不在您的列表中。")
    assert watched.console_errors == [NOT_FOUND]
    watched.console_errors.clear()

    # Offline, "my reports" is its kept first page: the old report cannot be fetched.
    page.context.set_offline(True)
    page.click('#tabs button[data-view="view-inbox"]')
    page.click(f'.ph-note[data-id="{filed.pk}"] button')  # read already: nothing to post
    expect(page.locator("#toast")).to_have_text("离线时无法打开。")
    expect(page.locator(f'#mine-list .ph-mine[data-report="{old.pk}"]')).to_have_count(0)
    page.context.set_offline(False)
    watched.console_errors = [e for e in watched.console_errors if not network_gone(e)]
    watched.assert_clean()


def test_a_volunteer_opens_a_task_outside_the_section_shown(inbox_data, phone):
    """An accepted task is not in "New", the section shown: its message fetches it alone and
    opens it; a message of another team's task says it is no longer theirs (a real 404)."""
    case = report(BIKES, community=XINGONG_CODE, point=0).case
    act(case, "file", "office1")
    act(case, "dispatch", "office1")
    act(case, "accept", "cw_vol2")
    task = Task.objects.get(case=case)
    offered = Notification.objects.get(recipient__username="cw_vol1", kind="task_offered")
    theirs = report(LITTER, community=XINGONG_CODE, point=3).case
    act(theirs, "file", "office1")
    act(theirs, "dispatch", "office1")
    other_task = Task.objects.get(case=theirs)
    assert other_task.team.code != "civility_west"
    gone = Notification.objects.create(
        recipient=get_user_model().objects.get(username="cw_vol1"), kind="task_offered",
        key="gone", case=theirs, task=other_task, data={"case": theirs.pk},
        created_at=timezone.now())

    watched = phone("/team/", geolocation=XINGONG, locale="en-GB")
    page = watched.page
    page.wait_for_selector("#signin:not([hidden])")
    sign_in_with_code(page, token_of("cw_vol1"))
    page.wait_for_selector('#tasks-list .ph-hint')  # "New" is empty: the task is in progress
    page.click('#tabs button[data-view="view-inbox"]')
    with page.expect_response(lambda r: r.url.endswith(f"/api/v1/tasks/{task.pk}/")) as got:
        page.click(f'.ph-note[data-id="{offered.pk}"] button')
    assert got.value.status == 200
    page.wait_for_selector("#view-task:not([hidden])")
    expect(page.locator("#task-meta")).to_contain_text(f"Case {case.pk} ")
    page.wait_for_selector('#action-buttons button[data-action="start"]')

    page.click('#tabs button[data-view="view-inbox"]')
    page.click(f'.ph-note[data-id="{gone.pk}"] button')
    expect(page.locator("#toast")).to_have_text("This is no longer in your list.")
    assert watched.console_errors == [NOT_FOUND]
    watched.console_errors.clear()
    watched.assert_clean()
