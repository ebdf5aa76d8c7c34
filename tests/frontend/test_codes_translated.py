"""No raw code reaches a page (issue 17, "every code translated"): every page is rendered in a
real browser, as each role that uses it, in Chinese and in English, with the text the page's
JavaScript makes (the console's case details, the rider's reports and their histories, the
team's tasks), and its visible text (``document.body.innerText``: no attributes, no hidden
views) must not name a stage, task status, lifecycle action, category kind, priority or
report channel by its code.

To add a page: append a ``Visit`` to ``VISITS`` with the path, the demo user it is seen as
(``None``: anonymous), the selector that says it has loaded, and, where its text is made by
JavaScript, a ``drive`` function that clicks through it and returns the texts it saw (the
body's text after each step). ``Visit.phone`` opens it on the phone fixture and signs in
(``sign_in``). The data (``several_task_statuses``) holds cases in most stages with tasks
offered, declined, accepted, in progress, handed in, sent back, escalated and done.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token

from issues.models import CaseAction, Category, Priority, Report, Stage, TaskStatus
from issues.services.intake import OPEN311_CHANNEL, ReportInput, report_create
from patrol.models import Department, Task
from patrol.services.lifecycle import case_act
from tests.frontend.helpers import XINGONG, east_of
from tests.frontend.phone_helpers import (
    phone_fixture,  # noqa: F401  (the phone fixture)
    sign_in_with_code,
)
from tests.issues.helpers import jpeg
from tests.module_rows import module_rows_committed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BIKES = "E0502"  # 非机动车乱停放: routed to civility_west in Xingong

# Every code a person must never read: stored values and API words. Category kinds are the
# code's first letter (Category.kind).
RAW_CODES = sorted(
    {stage.value for stage in Stage}
    | {status.value for status in TaskStatus}
    | {action.value for action in CaseAction}
    | {priority.code for priority in Priority}
    | {channel.value for channel in Report.Channel}
    | {"C", "E", "L"}
)
# A code as a word of its own (case-sensitive: "Done" is the label, "done" the code).
CODE_WORD = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(map(re.escape, RAW_CODES))
                       + r")(?![A-Za-z0-9_])")
URL = re.compile(r"\S*://\S*|(?<!\S)/[\w./?=&%-]*")
# English prose that contains a code's word as an ordinary word (each phrase whole, so that
# a code shown alone still fails). Add a phrase here only when it is a sentence of ours.
ENGLISH_PHRASES: tuple[str, ...] = (
    "Rider app",  # Report.Channel.APP's label (the console's channel filter)
    "File import",  # Report.Channel.IMPORT's label (the console's channel filter)
    "Priority, most urgent first",  # the console's sort by priority
    # The home page's figures and feeds, the community's page (issue 19).
    "Cases closed counts the cases dispatched this month that are closed by now.",
    "Cases dispatched", "Cases closed", "Follow new and closed cases",
    "Cases opened and closed lately",
    # The feed's sentences (patrol/notifications/content.py), on the phone pages' inbox.
    "has been accepted and filed.", "has been dealt with and closed.", "was cancelled:",
)


def raw_codes(text: str, *, language: str) -> list[str]:
    """The codes ``text`` shows, with 30 characters of context each."""
    text = URL.sub(" ", text)
    if language == "en":
        for phrase in ENGLISH_PHRASES:
            text = text.replace(phrase, " ")
    return [f"{match.group(1)!r} in …{text[max(0, match.start() - 30):match.end() + 30]}…"
            for match in CODE_WORD.finditer(text)]


def _user(username: str):
    return get_user_model().objects.get(username=username)


def _case(metres_east: float, *actions: tuple[str, str]) -> int:
    """A bikes case in Xingong reported by rider1 (Open311, no photo needed), then each
    (action, username) applied through the lifecycle."""
    case_id = report_create(
        channel=OPEN311_CHANNEL,
        data=ReportInput(category_code=BIKES, lon=east_of(XINGONG, metres_east)[0],
                         lat=XINGONG[1], description=f"bikes {uuid.uuid4().hex[:6]}"),
        reporter=_user("rider1")).report.case_id
    for action, username in actions:
        extra: dict = {}
        if action == CaseAction.HANDIN:
            extra["photo"] = SimpleUploadedFile("proof.jpg", jpeg(), content_type="image/jpeg")
        if action == CaseAction.ESCALATE:  # to the district's law enforcement, say
            extra["department"] = Department.objects.filter(subdistrict__isnull=True).first().pk
        case_act(case_id=case_id, action=action, actor=_user(username), reason="测试原因",
                 note="已处理", **extra)
    return case_id


OFFICE, LEADER, WORKER = "office1", "cw_lead", "cw_vol1"


@pytest.fixture(scope="module")
def several_task_statuses_shared(django_db_setup, django_db_blocker, tmp_path_factory
                                 ) -> Iterator[tuple[list[int], Path]]:
    """The cases of ``several_task_statuses`` and their proof photos' MEDIA_ROOT, committed
    once for the module's tests, which only read them (and sign in): each test is put back to
    this state, the session's when the module is done (tests/reference_state.py)."""
    media = tmp_path_factory.mktemp("codes-media")
    with module_rows_committed(django_db_blocker, _cases_in_most_statuses, media=media) as cases:
        yield cases, media


@pytest.fixture
def several_task_statuses(several_task_statuses_shared, transactional_db, settings
                          ) -> list[int]:
    """Cases 70 m apart in Xingong (beyond the category's 50 m: none joins another) in most
    stages, their tasks in most statuses; returns their ids."""
    cases, media = several_task_statuses_shared
    settings.BASEMAP = "none"
    settings.MEDIA_ROOT = media
    settings.OFFICE_POLL_MS = 60_000  # no refresh while the test clicks through
    return cases


def _cases_in_most_statuses() -> list[int]:
    file, dispatch = (CaseAction.FILE, OFFICE), (CaseAction.DISPATCH, OFFICE)
    accept, start = (CaseAction.ACCEPT, WORKER), (CaseAction.START, WORKER)
    handin = (CaseAction.HANDIN, WORKER)
    cases = [
        _case(0),  # new
        _case(70, file),  # filed
        _case(140, file, dispatch),  # offered
        # declined, then offered again, accepted, escalated by the leader (a department's offer)
        _case(210, file, dispatch, (CaseAction.DECLINE, WORKER), dispatch, accept,
              (CaseAction.ESCALATE, LEADER)),
        _case(280, file, dispatch, accept),  # accepted
        _case(350, file, dispatch, accept, start),  # in progress
        _case(420, file, dispatch, accept, start, handin),  # handed in
        _case(490, file, dispatch, accept, start, handin,
              (CaseAction.SENDBACK, OFFICE)),  # sent back
        _case(560, file, dispatch, accept, start, handin,
              (CaseAction.VERIFY, OFFICE)),  # done, the case closed
        _case(630, (CaseAction.CANCEL, OFFICE)),  # cancelled
    ]
    statuses = set(Task.objects.filter(case_id__in=cases).values_list("status", flat=True))
    assert statuses >= {TaskStatus.OFFERED, TaskStatus.DECLINED, TaskStatus.ACCEPTED,
                        TaskStatus.IN_PROGRESS, TaskStatus.HANDED_IN, TaskStatus.SENT_BACK,
                        TaskStatus.ESCALATED, TaskStatus.DONE}
    return cases


# --- how each page is driven to show its JavaScript-made text ------------------------------

BODY_TEXT = "() => document.body.innerText"


def _switch_every_overlay_on(page, cases: list[int]) -> list[str]:
    """The map with every layer on (each legend section shows), then each hourly control."""
    page.evaluate("""() => document.querySelectorAll(
        ".leaflet-control-layers-overlays input:not(:checked)").forEach(i => i.click())""")
    page.wait_for_function("() => window.civicmap.onDemandState.hourly === 'loaded'")
    page.click(".civicmap-numbers summary")
    return [page.evaluate(BODY_TEXT)]


def _open_every_case(page, cases: list[int]) -> list[str]:
    """The console: each listed case's detail pane (tasks, actions, history) in turn."""
    texts = [page.evaluate(BODY_TEXT)]
    listed = [case for case in cases
              if page.locator(f'.office-case[data-case="{case}"]').count()]
    assert len(listed) >= 7, listed  # every open case of the fixture
    for case in listed:
        page.click(f'.office-case[data-case="{case}"]')
        page.wait_for_selector(f'.office-detail-title:has-text("#{case} ")')
        page.wait_for_selector(".office-history li")
        texts.append(page.evaluate(BODY_TEXT))
    return texts


def _rider_reports_with_histories(page, cases: list[int]) -> list[str]:
    """The rider's page: "Mine" with every report's details (its history) open."""
    texts = [page.evaluate(BODY_TEXT)]
    page.click('#tabs button[data-view="view-mine"]')
    page.wait_for_selector(".ph-mine")
    closed = page.locator(".ph-mine button[aria-expanded=false]")
    while closed.count():
        closed.first.click()
    assert page.locator(".ph-mine .ph-history").count() == len(cases)
    texts.append(page.evaluate(BODY_TEXT))
    return texts


def _team_tasks_one_by_one(page, cases: list[int]) -> list[str]:
    """The team's page: the task list, then each task's detail."""
    page.wait_for_selector(".ph-task")
    texts = [page.evaluate(BODY_TEXT)]
    for index in range(page.locator(".ph-task").count()):
        page.locator(".ph-task").nth(index).click()
        page.wait_for_selector("#task-reports .ph-report")  # the case's detail is in
        texts.append(page.evaluate(BODY_TEXT))
        page.click("#task-back")
        page.wait_for_selector("#view-tasks:not([hidden])")
    return texts


def _inbox(page, cases: list[int]) -> list[str]:
    """The phone pages' inbox: the messages of the cases' changes (issue 19)."""
    page.click('#tabs button[data-view="view-inbox"]')
    page.wait_for_selector(".ph-note")
    return [page.evaluate(BODY_TEXT)]


def _sign_in_rider(page) -> None:
    page.wait_for_selector("#signin:not([hidden])")
    sign_in_with_code(page, Token.objects.get(user__username="rider1").key)


def _sign_in_worker(page) -> None:
    from fixtures.seed import DEMO_PASSWORD

    page.click("#signin details summary")
    page.fill("#signin-username", WORKER)
    page.fill("#signin-password", DEMO_PASSWORD)
    page.click("#signin-password-form button[type=submit]")
    page.wait_for_selector("body[data-ready]")


def _public_pages_of_every_case(page, cases: list[int]) -> list[str]:
    """The public page of each case (the stages it went through), then its community's page."""
    texts, origin = [], page.evaluate("location.origin")
    for case in cases:
        page.goto(f"{origin}/cases/{case}/")
        page.wait_for_selector("#public-case")
        texts.append(page.evaluate(BODY_TEXT))
    page.click(".public-facts a")  # the case's community
    page.wait_for_selector("#public-community")
    return [*texts, page.evaluate(BODY_TEXT)]


@dataclass(frozen=True)
class Visit:
    """A page as one role sees it; see the module's docstring for adding one."""

    name: str
    path: str
    username: str | None  # a demo user; None: anonymous
    ready: str  # a selector present once the page has drawn its data
    drive: Callable[[object, list[int]], list[str]] | None = None
    phone: bool = False
    sign_in: Callable[[object], None] | None = None


VISITS = [
    Visit("map-public", "/map/", None, "path.civicmap-community", _switch_every_overlay_on),
    Visit("map-office", "/map/", OFFICE, "path.civicmap-community", _switch_every_overlay_on),
    Visit("office-console", "/office/", OFFICE, "#office-console[data-loaded]",
          _open_every_case),
    Visit("rider", "/rider/", None, "body[data-ready]", _rider_reports_with_histories,
          phone=True, sign_in=_sign_in_rider),
    Visit("team", "/team/", None, "body[data-ready]", _team_tasks_one_by_one, phone=True,
          sign_in=_sign_in_worker),
    Visit("rider-inbox", "/rider/", None, "body[data-ready]", _inbox, phone=True,
          sign_in=_sign_in_rider),
    Visit("team-inbox", "/team/", None, "body[data-ready]", _inbox, phone=True,
          sign_in=_sign_in_worker),
    Visit("office-calendar", "/office/calendar/", OFFICE, "#calendar-years"),
    Visit("union-council", "/union/council/", "union1", "#council-board"),
    Visit("union-council-meetings", "/union/council/meetings/", "union1", "#council-meetings"),
    Visit("public-home", "/", None, "#public-home"),
    Visit("public-cases", "/", None, "#public-home", _public_pages_of_every_case),
]
LANGUAGES = {"zh-hans": "zh-CN", "en": "en"}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("visit", VISITS, ids=[visit.name for visit in VISITS])
def test_no_raw_code_reaches_the_page(visit, language, several_task_statuses, open_page,
                                      phone, session_for):
    locale = LANGUAGES[language]
    if visit.phone:
        watched = phone(visit.path, locale=locale)
        visit.sign_in(watched.page)
    else:
        session = session_for(visit.username) if visit.username else None
        watched = open_page(visit.path, locale=locale, session=session)
    page = watched.page
    page.wait_for_selector(visit.ready)
    texts = (visit.drive(page, several_task_statuses) if visit.drive
             else [page.evaluate(BODY_TEXT)])
    found = [code for text in texts for code in raw_codes(text, language=language)]
    assert found == [], f"{visit.name} ({language}) shows raw codes:\n" + "\n".join(found)
    watched.assert_clean()


def test_the_check_finds_a_code_and_passes_its_label():
    """The matcher itself: a code alone or beside punctuation is found, a label or a longer
    word is not, nor a URL that contains a code."""
    assert raw_codes("文明劝导 · offered · 备注", language="zh-hans") != []
    assert raw_codes("Tasks: handed_in", language="en") != []
    assert raw_codes("待接单 · Offered · handed in · Dispatched", language="en") == []
    assert raw_codes("see /api/v1/cases/3/file/ and http://x/new", language="en") == []
    assert raw_codes("C0101 路灯", language="zh-hans") == []
    assert raw_codes("类别 E", language="zh-hans") != []
    assert Category.objects.model.kind.fget  # the kinds are the code's first letter
