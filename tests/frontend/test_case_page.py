"""The office's case page (/office/case/<id>/): the whole timeline in order, scoped to the
office's subdistrict, the internal note, verification with proof and a send-back that needs a
reason; in a real browser as office staff (axe-clean, our own origin only)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from issues.models import Case, CaseAction, CaseEvent, ReportPhoto, Stage
from issues.services.intake import APP_CHANNEL, OPEN311_CHANNEL, ReportInput, report_create
from issues.services.photos import photo_renditions_attach
from patrol.models import Task
from patrol.selectors_case import case_page_read
from tests.frontend.conftest import screenshot
from tests.frontend.helpers import XSS_DESCRIPTION
from tests.issues.helpers import jpeg, upload
from tests.patrol.helpers import (
    HUAIFANG,
    SECRET_PHONE,
    act,
    case_in_stage,
    community_points,
    cst,
    live_task,
    near_border,
    user,
)

db = pytest.mark.django_db
PROOF_AT = (116.3925, 39.7972)  # (lon, lat) WGS 84, in Huaifang: where the proof was taken
HOSTILE_NOTE = XSS_DESCRIPTION + " 已处理"


def page_url(case: Case | int) -> str:
    return f"/office/case/{case if isinstance(case, int) else case.pk}/"


def _photos_ready() -> None:
    """The renditions job for every pending photo, as the Celery worker would run it."""
    for pk in ReportPhoto.objects.filter(status="pending").values_list("pk", flat=True):
        assert photo_renditions_attach(photo_id=pk) == "ready"


def handed_in_case(*, description: str = XSS_DESCRIPTION, note: str = HOSTILE_NOTE) -> Case:
    """A case reported from the app with a photo (rider1, a hostile description), filed and
    dispatched by office1, accepted by the housekeeper team and handed in with a proof photo
    taken at PROOF_AT and a hostile note; every photo's renditions made."""
    lon, lat = community_points(HUAIFANG)[0]
    report = report_create(channel=APP_CHANNEL, reporter=user("rider1"), data=ReportInput(
        category_code="C0103", lon=lon, lat=lat, description=description,
        client_uuid=uuid.uuid4(), photos=[upload(jpeg(colour=(200, 30, 30)))])).report
    case = report.case
    act(case, "file", "office1")
    act(case, "dispatch", "office1", team=None)
    worker = _worker(case)
    act(case, "accept", worker)
    act(case, "handin", worker, note=note,
        photo=upload(jpeg(gps=PROOF_AT, colour=(30, 200, 30)), name="proof.jpg"))
    _photos_ready()
    return Case.objects.get(pk=case.pk)


def _worker(case: Case) -> str:
    task = live_task(case)
    return (task.team.leader.username if task.team_id
            else task.department.liaisons.first().username)


# --- who gets the page ------------------------------------------------------------------------


@db
@pytest.mark.parametrize("username", [None, "rider1", "hk_lead", "union1", "liaison_municipal"])
def test_anyone_without_the_office_role_goes_to_the_login_page(reference_data, client,
                                                               username):
    case = case_in_stage("new")
    if username:
        client.force_login(user(username))
    response = client.get(page_url(case))
    assert response.status_code == 302
    assert response["Location"].startswith(f"/accounts/login/?next={page_url(case)}")


@db
def test_another_subdistricts_office_gets_404_and_the_district_sees_it(reference_data, client):
    heyi_case = report_create(channel=OPEN311_CHANNEL, reporter=user("rider2"), data=ReportInput(
        category_code="E0101", lon=near_border("110106016", "110106005", 400)[0],
        lat=near_border("110106016", "110106005", 400)[1])).report.case
    assert heyi_case.subdistrict.code == "110106016"  # 和义, a public case
    client.force_login(user("office1"))  # Nanyuan's office: it may read the case in the API,
    assert client.get(f"/api/v1/cases/{heyi_case.pk}/").status_code == 200
    assert client.get(page_url(heyi_case)).status_code == 404  # not its case page
    assert case_page_read(case_id=heyi_case.pk, user=user("office1")) is None
    client.force_login(user("office_heyi1"))
    assert client.get(page_url(heyi_case)).status_code == 200
    client.force_login(user("office_district"))
    assert client.get(page_url(heyi_case)).status_code == 200
    assert client.get(page_url(10_000_000)).status_code == 404


# --- the timeline -----------------------------------------------------------------------------


@db
def test_the_timeline_lists_every_event_in_order_with_labels_actors_and_notes(reference_data,
                                                                             client):
    t0 = cst(2026, 3, 9, 9)  # Monday
    case = case_in_stage("handed_in", at=t0)
    act(case, "sendback", "office2", at=t0 + timedelta(minutes=10), note="照片不清楚")
    act(case, "add_note", "office1", at=t0 + timedelta(minutes=11), note=HOSTILE_NOTE)
    page = case_page_read(case_id=case.pk, user=user("office1"))
    actions = [row.event.action for row in page.events]
    assert actions == ["created", "file", "dispatch", "accept", "handin", "sendback", "add_note"]
    assert [row.event.at for row in page.events] == sorted(row.event.at for row in page.events)
    assert page.events[-1].note == HOSTILE_NOTE and page.events[-2].note == "照片不清楚"
    assert page.events[1].actor.name  # office1, named: the office may know who acted
    assert page.events[0].actor is None  # intake, not a person

    client.force_login(user("office1"))
    html = client.get(page_url(case)).content.decode()
    labels = re.findall(r'<span class="case-event-label">([^<]*)</span>', html)
    assert labels == ["上报", "立案", "派遣", "已接单", "提交办结", "退回重办", "内部备注"]
    assert "<script>window.__xss" not in html  # the note and description are escaped
    assert "&lt;script&gt;window.__xss" in html


@db
def test_merges_and_splits_link_to_the_other_cases(reference_data, client):
    main = case_in_stage("new", point=0)
    other = case_in_stage("new", point=1)
    act(other, "merge", "office1", into=main.pk)
    extra = report_create(channel=OPEN311_CHANNEL, reporter=user("rider2"), data=ReportInput(
        category_code="E0101", lon=community_points(HUAIFANG)[0][0],
        lat=community_points(HUAIFANG)[0][1])).report
    assert extra.case_id == main.pk
    act(main, "split", "office1", reports=[extra.pk])
    split_off = CaseEvent.objects.get(case=main, action="split").data["new_case"]
    client.force_login(user("office1"))
    html = client.get(page_url(main)).content.decode()
    assert f'href="{page_url(other)}"' in html  # merged in (timeline and header)
    assert f'href="{page_url(split_off)}"' in html  # split off
    merged = client.get(page_url(other)).content.decode()
    assert f'href="{page_url(main)}"' in merged  # merged into


@db
def test_reporters_appear_as_the_security_rules_allow(reference_data, client):
    case = case_in_stage("new")  # rider1's Open311 report with a contact phone
    client.force_login(user("office1"))
    html = client.get(page_url(case)).content.decode()
    assert SECRET_PHONE in html  # an Open311 contact phone is the reporter's identity: office
    rider = user("rider1").rider
    assert rider.display_name in html
    if rider.phone:
        assert rider.phone not in html  # a rider's profile phone: the admin's only


# --- the internal note ------------------------------------------------------------------------


@db
@pytest.mark.parametrize("stage", ["new", "handed_in", "closed"])
def test_office_staff_add_a_note_in_any_stage_and_nothing_else_changes(reference_data, stage):
    case = case_in_stage(stage)
    before = (case.stage, list(case.tasks.values_list("pk", "status")))
    act(case, CaseAction.ADD_NOTE, "office1", note="请关注夜间情况")
    case.refresh_from_db()
    assert (case.stage, list(case.tasks.values_list("pk", "status"))) == before
    event = CaseEvent.objects.filter(case=case).last()
    assert (event.action, event.note, event.from_stage, event.to_stage) == (
        "add_note", "请关注夜间情况", stage, stage)
    assert CaseAction.ADD_NOTE not in __import__(
        "patrol.services.lifecycle", fromlist=["x"]).case_allowed_actions(
        case=case, actor=user("office1"))  # a note is not a step offered with the case


@db
def test_a_note_needs_words_and_the_office_role(reference_data):
    from tests.patrol.helpers import client_for

    case = case_in_stage("dispatched")
    events = CaseEvent.objects.filter(case=case).count()
    office = client_for("office1")
    refused = office.post(f"/api/v1/cases/{case.pk}/add_note/", {"note": "  "}, format="json")
    assert refused.status_code == 400
    assert [(e["field"], e["code"]) for e in refused.json()["errors"]] == [("note", "required")]
    for username in ("hk_lead", "rider1", "union1"):
        assert client_for(username).post(f"/api/v1/cases/{case.pk}/add_note/", {"note": "x"},
                                         format="json").status_code in (403, 404)
    assert CaseEvent.objects.filter(case=case).count() == events
    assert office.post(f"/api/v1/cases/{case.pk}/add_note/", {"note": "好"},
                       format="json").status_code == 200


@db
def test_the_reporter_never_sees_an_internal_note(reference_data):
    from tests.patrol.helpers import client_for

    case = case_in_stage("dispatched")
    act(case, "add_note", "office1", note="内部：联系物业")
    mine = client_for("rider1").get("/api/v1/me/reports/").content.decode()
    assert "内部：联系物业" not in mine and "add_note" not in mine


# --- verification -----------------------------------------------------------------------------


@db
def test_the_verification_panel_has_both_photo_sets_the_note_the_time_and_the_place(
        reference_data, client):
    case = handed_in_case()
    page = case_page_read(case_id=case.pk, user=user("office1"))
    verification = page.verification
    assert len(verification.report_photos) == 1 and verification.task.proof is not None
    assert verification.task.note == HOSTILE_NOTE
    task = live_task(case)
    assert verification.margin == task.resolution_due - task.handed_in_at
    assert verification.on_time
    lon, lat = verification.proof_position
    assert abs(lon - PROOF_AT[0]) < 1e-5 and abs(lat - PROOF_AT[1]) < 1e-5

    client.force_login(user("office1"))
    html = client.get(page_url(case)).content.decode()
    assert 'class="case-section case-verify"' in html
    assert f"/api/v1/photos/{task.proof_photo_id}/display/" in html
    assert "civicmap-case-proof" in html  # the proof's point on the map
    assert 'id="case-dispatch-panel"' not in html  # handed in: nothing to dispatch
    assert 'data-action="verify"' in html and 'data-action="sendback"' in html
    assert "按时" in html and "距时限还有" in html


@db
def test_send_back_without_a_reason_is_refused_naming_the_field(reference_data):
    from tests.patrol.helpers import client_for

    case = handed_in_case()
    before = (case.stage, live_task(case).status, CaseEvent.objects.filter(case=case).count())
    office = client_for("office1")
    refused = office.post(f"/api/v1/cases/{case.pk}/sendback/", {"note": ""}, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "note"
    assert refused.json()["errors"][0]["message"] == "请填写说明。"
    english = office.post(f"/api/v1/cases/{case.pk}/sendback/", {}, format="json",
                          HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["errors"][0]["message"] == "Write a note."
    case.refresh_from_db()
    assert (case.stage, live_task(case).status,
            CaseEvent.objects.filter(case=case).count()) == before
    assert office.post(f"/api/v1/cases/{case.pk}/sendback/", {"note": "照片看不到路灯"},
                       format="json").status_code == 200
    assert Case.objects.get(pk=case.pk).stage == Stage.IN_PROGRESS


@db
def test_no_raw_code_reaches_the_page_text(reference_data, client):
    case = handed_in_case(description="路灯不亮", note="已更换灯泡")
    client.force_login(user("office1"))
    html = client.get(page_url(case)).content.decode()
    text = re.sub(r"<script.*?</script>|<style.*?</style>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)  # attributes (data-stage=…) are not text
    words = set(re.findall(r"[a-z_]+", text))
    codes = ({s.value for s in Stage} | {a.value for a in CaseAction}
             | {"offered", "accepted", "handed_in", "sent_back", "done", "declined", "urgent",
                "normal", "created", "report_merged", "confirmed", "merged_in", "split_from"})
    assert not (words & codes), words & codes


# --- in the browser ---------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_office_verifies_with_proof_and_sends_back_with_a_reason(
        reference_data, settings, open_page, session_for):
    settings.BASEMAP = "none"
    case = handed_in_case()
    watched = open_page(page_url(case), session=session_for("office1"))
    page = watched.page
    panel = page.locator(".case-verify")
    panel.wait_for()
    assert panel.locator(".case-report-photos img").count() == 1
    assert panel.locator(".case-proof-photos img").count() == 1
    page.wait_for_function(
        "() => [...document.querySelectorAll('.case-verify img')].every(i => i.complete"
        " && i.naturalWidth > 0)")
    assert panel.locator(".case-worker-note").text_content() == HOSTILE_NOTE
    assert page.locator(".case-description").first.text_content() == XSS_DESCRIPTION
    assert page.locator("path.civicmap-case-proof").count() == 1
    assert page.locator("path.civicmap-case-report").count() == 1
    assert watched.axe_violations() == []
    screenshot(page, "office-case-page.png")

    # Empty reason: the API's message under the form, the field marked, nothing changed.
    page.click('form[data-action="sendback"] button')
    page.wait_for_selector("#case-page[data-refused='sendback']")
    assert page.inner_text("#case-sendback-message") == "请填写说明。"
    assert page.get_attribute("#case-sendback-reason", "aria-invalid") == "true"
    assert Case.objects.get(pk=case.pk).stage == Stage.HANDED_IN

    page.fill("#case-sendback-reason", "照片里看不到路灯")
    with page.expect_navigation():
        page.click('form[data-action="sendback"] button')
    page.wait_for_selector(".case-event[data-action='sendback']")
    assert Case.objects.get(pk=case.pk).stage == Stage.IN_PROGRESS
    assert "照片里看不到路灯" in page.inner_text(".case-event[data-action='sendback']")
    assert page.locator(".case-verify").count() == 0

    # An internal note, hostile text and all, shown as text.
    page.fill("#case-note", HOSTILE_NOTE)
    with page.expect_navigation():
        page.click(".case-note-form button")
    note = page.wait_for_selector(".case-event[data-action='add_note'] .case-event-note")
    assert note.text_content() == HOSTILE_NOTE
    assert page.evaluate("window.__xss") is None
    assert watched.axe_violations() == []
    # The one error Chromium logged is the refused send-back's 400, asked for above.
    assert [e for e in watched.console_errors if "400" in e] == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    watched.console_errors = [e for e in watched.console_errors if "400" not in e]
    watched.assert_clean()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_office_dispatches_from_the_case_page(reference_data, settings, open_page,
                                                  session_for):
    """The dispatch panel on the case page while the case may be dispatched: the routing's
    suggestion chosen, and the page shows the case dispatched to it, the panel gone."""
    settings.BASEMAP = "none"
    case = case_in_stage("new", at=timezone.now() - timedelta(minutes=5))
    watched = open_page(page_url(case), session=session_for("office1"))
    page = watched.page
    panel = page.wait_for_selector("#case-dispatch-panel .dispatch-panel[data-loaded]")
    suggested = page.locator(".dispatch-load tbody tr").first
    assert "dispatch-suggested" in suggested.get_attribute("class")
    code = suggested.locator("input").get_attribute("data-code")
    assert watched.axe_violations() == []
    with page.expect_navigation():
        panel.query_selector(".dispatch-submit").click()
    page.wait_for_selector(".case-event[data-action='dispatch']")
    assert Case.objects.get(pk=case.pk).stage == Stage.DISPATCHED
    team = Task.objects.get(case=case).team
    assert team.code == code
    assert team.name_zh in page.inner_text(".case-handler")
    # Offered and not yet accepted: the panel offers it elsewhere instead.
    page.wait_for_selector("#case-dispatch-panel .dispatch-panel[data-loaded]")
    assert page.inner_text("#case-dispatch-panel .dispatch-submit") == "重新派遣"
    watched.assert_clean()


@db
def test_the_panel_is_there_only_while_the_case_may_be_dispatched(reference_data, client):
    client.force_login(user("office1"))
    for point, (stage, shown) in enumerate((("new", True), ("filed", True),
                                            ("dispatched", True), ("in_progress", False),
                                            ("closed", False))):
        html = client.get(page_url(case_in_stage(stage, point=point))).content.decode()
        assert ('id="case-dispatch-panel"' in html) is shown, stage
        assert ("civicmap-dispatch.js" in html) is shown, stage


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_console_links_to_the_case_page(reference_data, settings, open_page, session_for):
    settings.BASEMAP = "none"
    case = case_in_stage("new", at=timezone.now() - timedelta(minutes=5))
    watched = open_page("/office/", session=session_for("office1"))
    page = watched.page
    page.wait_for_selector("#office-console[data-loaded]")
    page.click(f'.office-case[data-case="{case.pk}"]')
    link = page.wait_for_selector("a.office-case-page")
    assert link.get_attribute("href") == page_url(case)
    with page.expect_navigation():
        link.click()
    page.wait_for_selector(f"#case-page[data-case='{case.pk}']")
    watched.assert_clean()


@db
def test_the_page_costs_the_same_queries_however_long_the_history(reference_data, client,
                                                                  django_assert_max_num_queries):
    """Reports, photos, tasks, events, confirmations and people are each read once: a case with
    many reports and notes costs no more queries than a short one."""
    case = handed_in_case()
    client.force_login(user("office1"))
    client.get(page_url(case))  # the session, the scope and the translations warmed up
    with django_assert_max_num_queries(30) as short:
        assert client.get(page_url(case)).status_code == 200
    for i in range(6):
        act(case, "add_note", "office1", note=f"备注 {i}")
        report_create(channel=OPEN311_CHANNEL, reporter=user("rider2"), data=ReportInput(
            category_code="C0103", lon=community_points(HUAIFANG)[0][0],
            lat=community_points(HUAIFANG)[0][1]))
    assert Case.objects.get(pk=case.pk).report_count == 7
    with django_assert_max_num_queries(len(short.captured_queries)):
        assert client.get(page_url(case)).status_code == 200


@db
def test_the_page_in_english(reference_data, client):
    case = handed_in_case(description="lamp out", note="bulb replaced")
    act(case, "add_note", "office1", note="check at night")
    client.force_login(user("office1"))
    html = client.get(page_url(case), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    labels = re.findall(r'<span class="case-event-label">([^<]*)</span>', html)
    assert labels == ["Reported", "File", "Dispatch", "Accepted", "Handed in", "Internal note"]
    assert "Handed in (处理反馈)" in html and "On time" in html and "before the deadline" in html


@db
def test_overdue_deadlines_are_marked_by_the_one_rule(reference_data, client):
    """An offer nobody accepted past its response deadline: overdue by
    patrol.selectors.task_response_overdue, in the header and the tasks table."""
    case = case_in_stage("dispatched", at=timezone.now() - timedelta(days=20))
    row = case_page_read(case_id=case.pk, user=user("office1")).live_task
    assert row.response_overdue and row.resolution_overdue
    client.force_login(user("office1"))
    html = client.get(page_url(case)).content.decode()
    assert html.count('<strong class="case-overdue">已超时</strong>') == 4  # header and table
    fresh = case_in_stage("dispatched", point=2)
    row = case_page_read(case_id=fresh.pk, user=user("office1")).live_task
    assert not (row.response_overdue or row.resolution_overdue)


@db
def test_a_riders_confirmation_is_on_the_timeline_and_in_its_list(reference_data, client):
    from django.contrib.gis.geos import Point

    from issues.services.cases import case_confirm

    case = case_in_stage("filed")
    lon, lat = community_points(HUAIFANG)[0]
    case_confirm(case_id=case.pk, rider=user("rider2"), position=Point(lon, lat, srid=4326))
    page = case_page_read(case_id=case.pk, user=user("office1"))
    assert [row.event.action for row in page.events][-1] == "confirmed"
    assert page.confirmations[0].rider.name == user("rider2").rider.display_name
    client.force_login(user("office1"))
    html = client.get(page_url(case)).content.decode()
    assert '<span class="case-event-label">骑手确认</span>' in html
    assert user("rider2").rider.display_name in html.split('id="case-confirmations-title"')[1]
