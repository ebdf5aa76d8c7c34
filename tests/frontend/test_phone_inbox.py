"""The inbox on the phone pages (issue 19), in a 360 × 740 browser: the tab's badge counts the
unread messages, the inbox lists them newest first with older ones a page at a time, tapping
one marks it read and opens its case (/rider/: the report in "my reports") or task (/team/),
"mark all read" clears the badge. axe-core finds nothing serious; every request stays on our
origin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token

from patrol.models import Notification, Task
from tests.frontend.conftest import screenshot
from tests.frontend.helpers import XINGONG
from tests.frontend.phone_helpers import (
    phone_fixture,  # noqa: F401  (the phone fixture)
    sign_in_with_code,
)
from tests.patrol.helpers import XINGONG as XINGONG_CODE
from tests.patrol.helpers import act, report

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BIKES = "E0502"  # 非机动车乱停放: the civility teams' work (civility_west in Xingong)
LITTER = "E0101"
PAGE = 20  # phone.js INBOX_PAGE
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
