"""The union's council pages /union/council/ (issue 18): the board as a table and a chart of
the same numbers, the meetings, a meeting's agenda and outcomes; union staff of the subdistrict
act, the district reads, others go to the login page; in a real browser from our own origin,
axe clean. The cases are tests/patrol/test_council.py's ``suggestions``."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from civicmap.models import CommunityGrid, Subdistrict
from issues.models import Category
from patrol.models import CouncilMeeting, CouncilTopic, Notification
from patrol.services.council import (
    MSG_DATE_PAST,
    council_meeting_plan,
    council_topic_add,
)
from tests.frontend.conftest import screenshot
from tests.patrol.helpers import CHENGYUAN, HUAIFANG, user
from tests.patrol.test_council import PARKING, suggestions  # noqa: F401

pytestmark = pytest.mark.django_db

BOARD = "/union/council/"
MEETINGS = "/union/council/meetings/"


def client_as(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def _meeting(day: date) -> CouncilMeeting:
    return council_meeting_plan(actor=user("union1"),
                                subdistrict=Subdistrict.objects.get(code="110106005"),
                                date=day, title="小哥议事会", at=timezone.now())


def test_board_page_shows_the_table_and_the_charts_numbers(suggestions):  # noqa: F811
    response = client_as("union1").get(BOARD)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="council-board"' in html and 'id="council-chart"' in html
    assert "槐房社区" in html and "诚苑社区" in html
    chart = response.context["chart"]
    rows = [row for row, _category, _place in response.context["rows"]]
    assert chart["series"][0]["data"] == [row.open for row in rows]
    assert chart["series"][1]["data"] == [row.closed for row in rows]
    assert response.context["totals"] == {"total": 5, "open": 3, "closed": 1, "cancelled": 1}
    assert "vendor/echarts/echarts.min.js" in html


def test_board_page_refuses_a_bad_filter_naming_it(suggestions):  # noqa: F811
    response = client_as("union1").get(BOARD, {"state": "solved"})
    assert response.status_code == 400
    assert response.context["form"].errors.keys() == {"state"}
    assert "rows" not in response.context


def test_pages_by_role(suggestions):  # noqa: F811
    assert client_as("union1").get(BOARD).status_code == 200
    assert client_as("union_heyi1").get(BOARD).context["rows"][0][0].total == 1  # Heyi's H1
    assert client_as("union_heyi1").get(BOARD, {"subdistrict": "110106005"}).status_code == 404
    district = client_as("office_district").get(BOARD, {"subdistrict": "110106005"})
    assert district.status_code == 200 and district.context["may_act"] is False
    assert "计划会议" not in client_as("office_district").get(
        MEETINGS, {"subdistrict": "110106005"}).content.decode()
    for username in ("rider1", "office1", "hk_lead"):
        assert client_as(username).get(BOARD).status_code == 302
    assert Client().get(MEETINGS).status_code == 302
    assert client_as("office_district").post(
        f"{MEETINGS}?subdistrict=110106005",
        {"date": "2099-01-01", "title": "x"}).status_code == 403


def test_union_plans_a_meeting_adds_topics_and_records_outcomes(suggestions):  # noqa: F811
    union = client_as("union1")
    refused = union.post(MEETINGS, {"date": "2000-01-01", "title": "会议"})
    assert refused.status_code == 400
    assert refused.context["form"].errors == {"date": [str(MSG_DATE_PAST)]}
    assert CouncilMeeting.objects.count() == 0
    today = timezone.localdate()
    planned = union.post(MEETINGS, {"date": today.isoformat(), "title": "本月议事会"})
    assert planned.status_code == 303
    meeting = CouncilMeeting.objects.get()
    page = planned["Location"]
    assert page == f"{MEETINGS}{meeting.pk}/"
    added = union.post(page, {"action": "add", "add-category": PARKING,
                              "add-community": HUAIFANG})
    assert added.status_code == 303
    twice = union.post(page, {"action": "add", "add-category": PARKING,
                              "add-community": HUAIFANG})
    assert twice.status_code == 400
    assert list(twice.context["add_form"].errors) == ["category"]
    topic = CouncilTopic.objects.get()
    empty = union.post(page, {"action": "outcome", "topic": topic.pk, "outcome": " "})
    assert empty.status_code == 400
    assert [item["form"].errors for item in empty.context["topics"]] == [
        {"outcome": ["该字段是必填项。"]}]
    assert Notification.objects.filter(kind="council_outcome").count() == 0
    recorded = union.post(page, {"action": "outcome", "topic": topic.pk,
                                 "outcome": "划设临时停车区。"})
    assert recorded.status_code == 303
    assert sorted(Notification.objects.filter(kind="council_outcome").values_list(
        "recipient__username", flat=True)) == ["rider1", "rider2"]
    meeting.refresh_from_db()
    assert meeting.state == "held"
    shown = union.get(page).content.decode()
    assert "划设临时停车区。" in shown and "添加议题" not in shown
    assert client_as("union_heyi1").get(page).status_code == 404


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_council_pages_in_the_browser(suggestions, open_page, session_for):  # noqa: F811
    meeting = _meeting(date(2099, 1, 15))
    council_topic_add(actor=user("union1"), meeting=meeting,
                      category=Category.objects.get(code=PARKING),
                      community=CommunityGrid.objects.get(code=CHENGYUAN), at=timezone.now())
    session = session_for("union1")
    watched = open_page(BOARD, session=session)
    page = watched.page
    page.wait_for_selector("#council-chart[data-drawn] canvas")
    assert page.locator("#council-board tbody tr").count() == 3
    screenshot(page, "union-council-board.png")
    assert watched.axe_violations() == []
    watched.assert_clean()
    meetings = open_page(MEETINGS, session=session)
    assert meetings.page.locator("#council-meetings tbody tr").count() == 1
    assert meetings.axe_violations() == []
    meetings.assert_clean()
    agenda = open_page(f"{MEETINGS}{meeting.pk}/", session=session, locale="en-US")
    assert agenda.page.locator(".council-topic").count() == 1
    screenshot(agenda.page, "union-council-meeting.png")
    assert agenda.axe_violations() == []
    agenda.assert_clean()


def test_the_subdistrict_is_named_in_the_readers_language(suggestions):  # noqa: F811
    nanyuan = Subdistrict.objects.get(code="110106005")
    meeting = _meeting(timezone.localdate())
    for path in (BOARD, MEETINGS, f"{MEETINGS}{meeting.pk}/"):
        english = client_as("office_district").get(path, HTTP_ACCEPT_LANGUAGE="en")
        html = english.content.decode()
        assert english.status_code == 200, path
        assert nanyuan.name_en in html and nanyuan.name_zh not in html, path
        chinese = client_as("union1").get(path).content.decode()
        assert nanyuan.name_zh in chinese, path
