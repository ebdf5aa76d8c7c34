"""The union's awards page /union/awards/ and the certificate (issue 18): the nomination list
with its figures and rules, a decision recorded (303) and its refusals naming their field with
nothing written, who reads what, the certificate as a PDF with its text embedded, and the page
in a real browser from our own origin, axe clean. The nominations are
tests/issues/award_helpers.py's (March 2026 in Nanyuan)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token

from frontend.award_certificate import Certificate, certificate_pdf
from issues.models import AwardDecision, Rider
from patrol.models import Notification
from patrol.services.awards import MSG_MONTH_FUTURE, MSG_NOT_NOMINATED
from tests.frontend.conftest import screenshot
from tests.frontend.pdf_text import pdf_text
from tests.frontend.phone_helpers import phone_fixture, sign_in_with_code  # noqa: F401
from tests.issues.award_helpers import nominations  # noqa: F401
from tests.patrol.helpers import client_for

pytestmark = pytest.mark.django_db
PAGE = "/union/awards/"
MARCH = {"month": "2026-03"}


def client_as(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def rider_pk(username: str) -> int:
    return Rider.objects.get(user__username=username).pk


def decision(username: str = "rider2", **fields) -> dict:
    return {"rider": rider_pk(username), "month": "2026-03", "awarded": "yes",
            "reason": "上报与确认最多", **fields}


def test_the_page_lists_the_nominees_with_figures_and_rules(nominations):  # noqa: F811
    response = client_as("union1").get(PAGE, MARCH)
    assert response.status_code == 200
    html = response.content.decode()
    assert [(n.display_name, n.points) for n, _d in response.context["rows"]] == [
        ("骑手李春生", 43), ("骑手王小勇", 33)]
    assert "当月在本街道案件上获得至少 30 积分。" in html
    assert html.count('class="civicmap-inline-form award-form"') == 2


def test_union_staff_decide_and_the_rider_is_notified(nominations):  # noqa: F811
    union = client_as("union1")
    done = union.post(f"{PAGE}?month=2026-03", decision())
    assert done.status_code == 303
    assert done["Location"] == f"{PAGE}?subdistrict=110106005&month=2026-03&saved=1"
    award = AwardDecision.objects.get()
    assert award.awarded and award.rider.user.username == "rider2"
    assert Notification.objects.get(kind="award_granted").recipient.username == "rider2"
    html = union.get(PAGE, MARCH).content.decode()
    assert f"/union/awards/{award.pk}/certificate.pdf" in html and "上报与确认最多" in html
    twice = union.post(PAGE, decision(awarded="no"))
    assert twice.status_code == 409
    assert [e.field for e in twice.context["errors"]] == ["rider"]
    assert AwardDecision.objects.count() == 1


def test_bad_decisions_name_their_field_and_write_nothing(nominations):  # noqa: F811
    union = client_as("union1")
    not_nominated = union.post(PAGE, decision("rider3"))
    assert not_nominated.status_code == 400
    assert [(e.field, str(e.message)) for e in not_nominated.context["errors"]] == [
        ("rider", str(MSG_NOT_NOMINATED))]
    future = union.post(PAGE, decision(month="2099-01"))
    assert future.status_code == 400
    assert [(e.field, str(e.message)) for e in future.context["errors"]] == [
        ("month", str(MSG_MONTH_FUTURE))]
    garbled = union.post(PAGE, decision(month="March", awarded="maybe", reason=""))
    assert garbled.status_code == 400
    assert {e.field for e in garbled.context["errors"]} == {"month", "awarded", "reason"}
    heyi = client_as("union_heyi1").post(PAGE, decision("rider1"))  # not on Heyi's list
    assert heyi.status_code == 400
    assert [e.field for e in heyi.context["errors"]] == ["rider"]
    assert client_as("office_district").post(PAGE, decision()).status_code == 403
    assert not AwardDecision.objects.exists()
    assert not Notification.objects.filter(kind="award_granted").exists()


def test_pages_by_role(nominations):  # noqa: F811
    assert client_as("union_heyi1").get(PAGE, {"subdistrict": "110106005"}).status_code == 404
    district = client_as("office_district").get(PAGE, {**MARCH, "subdistrict": "110106005"})
    assert district.status_code == 200 and district.context["may_act"] is False
    assert "award-form" not in district.content.decode()
    assert len(district.context["rows"]) == 2
    for username in ("rider1", "office1", "hk_lead"):
        assert client_as(username).get(PAGE).status_code == 302
    for month in ("March", "0000-01", "9999-12"):
        refused = client_as("union1").get(PAGE, {"month": month})
        assert refused.status_code == 400
        assert [e.field for e in refused.context["errors"]] == ["month"]
    assert client_as("union1").post(PAGE, decision(month="0000-01")).status_code == 400


def test_the_certificate_for_the_union_and_the_rider(nominations):  # noqa: F811
    client_as("union1").post(PAGE, decision())
    award = AwardDecision.objects.get()
    url = f"/union/awards/{award.pk}/certificate.pdf"
    pdf = client_as("union1").get(url)
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and b"WenQuanYiMicroHei" in pdf.content
    assert client_for("rider2").get(url).status_code == 200  # the phone's token
    assert client_for("rider1").get(url).status_code == 404
    assert client_as("union_heyi1").get(url).status_code == 404
    assert Client().get(url).status_code == 401


def test_the_certificate_embeds_its_text():
    data = certificate_pdf(Certificate(
        rider_name="骑手李春生", award_name="先锋骑手", month=date(2026, 3, 1),
        union_name="南苑街道总工会", decided_on=date(2026, 4, 2)))
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert b"/FontFile2" in data  # the CJK font, embedded as a subset
    assert pdf_text(data).splitlines() == [
        "荣誉证书", "骑手李春生", "被评为 2026-03 先锋骑手",
        "感谢您及时上报和确认街巷问题，守护平安整洁的街巷。", "南苑街道总工会", "2026-04-02"]


def test_the_certificate_page_names_the_rider_in_the_readers_language(nominations):  # noqa: F811
    client_as("union1").post(PAGE, decision())
    url = f"/union/awards/{AwardDecision.objects.get().pk}/certificate.pdf"
    chinese = pdf_text(client_as("union1").get(url).content)
    assert "骑手李春生" in chinese and "先锋骑手" in chinese and "南苑街道总工会" in chinese
    english = pdf_text(client_as("union1").get(url, HTTP_ACCEPT_LANGUAGE="en").content)
    assert "Pioneer Rider (先锋骑手)" in english and "Certificate of honour" in english


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_union_staff_decide_an_award_in_the_browser(nominations, open_page,  # noqa: F811
                                                    session_for):
    watched = open_page(f"{PAGE}?month=2026-03", session=session_for("union1"))
    page = watched.page
    assert page.locator("#awards-nominees tbody tr").count() == 2
    row = page.locator(f'tr[data-rider="{rider_pk("rider2")}"]')
    row.get_by_label("授予", exact=True).check()
    row.get_by_label("理由").fill("本月上报最多")
    row.get_by_role("button", name="记录").click()
    page.wait_for_selector("#saved")
    assert "已授予" in row.inner_text()
    screenshot(page, "union-awards.png")
    assert watched.axe_violations() == []
    watched.assert_clean()
    assert AwardDecision.objects.filter(awarded=True).count() == 1


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_rider_sees_the_award_and_saves_the_certificate_on_the_phone(
        nominations, phone, settings):  # noqa: F811
    settings.BASEMAP = "none"  # no tiles: nothing is fetched from elsewhere
    client_as("union1").post(PAGE, decision())
    watched = phone("/rider/")
    page = watched.page
    page.wait_for_selector("#signin:not([hidden])")
    sign_in_with_code(page, Token.objects.get(user__username="rider2").key)
    page.click('#tabs button[data-view="view-me"]')
    item = page.wait_for_selector("#awards-list li.ph-award")
    assert "先锋骑手" in item.inner_text() and "2026-03 · 南苑街道" in item.inner_text()
    with page.expect_download() as saved:
        item.query_selector("button").click()
    assert pdf_text(Path(saved.value.path()).read_bytes()).splitlines()[1] == "骑手李春生"
    assert watched.axe_violations() == []
    watched.assert_clean()
