"""The union's members and benefits page (/union/members/): union staff suspend and reinstate a
card with a reason (into its history) and set the limits; refusals name the field and write
nothing; Heyi's union and the district read but do not change Nanyuan's; in a real browser,
accessible (axe)."""

from __future__ import annotations

import pytest
from django.test import Client

from stations.models import Benefit, BenefitStationLimit, MembershipEvent, UnionMembership

URL = "/union/members/"


def _client(username: str) -> Client:
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def _rider3() -> UnionMembership:
    return UnionMembership.objects.get(rider__username="rider3")


@pytest.mark.django_db
def test_union_staff_suspend_a_card_with_a_reason(reference_data):
    client = _client("union1")
    page = client.get(URL)
    assert page.status_code == 200
    assert 'data-member="rider3"' in page.content.decode() and "NY" in page.content.decode()
    answer = client.post(URL, {"form": "status", "membership": _rider3().pk,
                               "action": "suspend", "reason": "会费逾期 <b>"})
    assert answer.status_code == 303
    assert _rider3().status == "suspended"
    event = MembershipEvent.objects.filter(membership=_rider3()).last()
    assert (event.to_status, event.reason, event.actor.username) == (
        "suspended", "会费逾期 <b>", "union1")
    again = client.get(URL).content.decode()
    assert "会费逾期 &lt;b&gt;" in again  # the reason is escaped
    reinstated = client.post(URL, {"form": "status", "membership": _rider3().pk,
                                   "action": "reinstate", "reason": "已补缴"})
    assert reinstated.status_code == 303 and _rider3().status == "card_issued"


@pytest.mark.django_db
def test_a_refused_change_names_the_field_and_writes_nothing(reference_data):
    client = _client("union1")
    before = MembershipEvent.objects.count()
    answer = client.post(URL, {"form": "status", "membership": _rider3().pk,
                               "action": "suspend", "reason": ""},
                         HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 400
    assert 'data-field="reason"' in answer.content.decode()
    haircut = Benefit.objects.get(subdistrict__code="110106005", code="haircut")
    answer = client.post(URL, {"form": "benefit", "benefit": haircut.pk, "member_limit": 0,
                               "is_active": "on"})
    assert answer.status_code == 400 and 'data-field="member_limit"' in answer.content.decode()
    assert MembershipEvent.objects.count() == before
    assert Benefit.objects.get(pk=haircut.pk).member_limit == 1


@pytest.mark.django_db
def test_union_staff_set_the_limits(reference_data):
    client = _client("union1")
    haircut = Benefit.objects.get(subdistrict__code="110106005", code="haircut")
    assert client.post(URL, {"form": "benefit", "benefit": haircut.pk, "member_limit": 2,
                             "is_active": "on"}).status_code == 303
    assert Benefit.objects.get(pk=haircut.pk).member_limit == 2
    cap = BenefitStationLimit.objects.filter(benefit=haircut).first()
    assert client.post(URL, {"form": "station_limit", "benefit": haircut.pk,
                             "station": cap.station_id, "monthly_limit": 3}).status_code == 303
    assert BenefitStationLimit.objects.get(pk=cap.pk).monthly_limit == 3
    assert client.post(URL, {"form": "station_limit", "benefit": haircut.pk,
                             "station": cap.station_id, "monthly_limit": ""}).status_code == 303
    assert not BenefitStationLimit.objects.filter(pk=cap.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["union_heyi1", "office_district"])
def test_others_read_but_do_not_change_nanyuans_members(reference_data, username):
    client = _client(username)
    page = client.get(URL).content.decode()
    assert ('data-member="rider3"' in page) is (username == "office_district")
    assert ('name="reason"' in page) is (username == "union_heyi1")  # Heyi's own members
    answer = client.post(URL, {"form": "status", "membership": _rider3().pk,
                               "action": "suspend", "reason": "核查"})
    assert answer.status_code == 403 and _rider3().status == "card_issued"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_page_in_a_browser_as_union_staff(reference_data, settings, open_page, session_for):
    settings.BASEMAP = "none"
    watched = open_page(URL, session=session_for("union1"))
    page = watched.page
    row = page.locator('tr[data-member="rider3"]')
    row.locator("select").select_option("suspend")
    row.locator('input[name="reason"]').fill("会籍核查")
    with page.expect_navigation():
        row.locator("button").click()
    assert page.locator("#saved").is_visible()
    assert "会籍核查" in page.locator('tr[data-member="rider3"] .member-history').text_content()
    assert page.locator('tr[data-member="rider3"] .member-status').text_content() == "已暂停"
    assert watched.axe_violations() == []
    watched.assert_clean()
