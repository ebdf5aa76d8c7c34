"""The permission matrix: every route of the URL conf × every role, with its expected outcome.

``MATRIX`` below is the one table: keyed by (route name, method), each row says how to call the
route on the demo objects (tests/civicmap/conftest.py ``demo``) and the status code each role
gets. ``test_every_route_has_a_row`` walks ``django.urls.get_resolver()`` and fails for a route
(or a method its view implements) without a row, so a new route cannot ship unclassified. A key
may carry a variant in brackets (``photo[private proof]``): more rows for one route.

The admin (``admin/``) is left out here: tests/civicmap/test_admin_by_role.py walks every admin
URL for every role (issue 14, the admin by role).

Unsafe methods send a body that succeeds for the allowed role, so a 403 or 404 for the others
means the refusal, not bad input. Each request runs in a savepoint rolled back afterwards (and
with the cache cleared, so no rate limit carries over): rows do not depend on their order.

Rows marked ``hole=`` expect the outcome once issue 14 is fixed, not today's (see
``test_matrix_lists_the_issue_14_holes``); ``hidden`` names text (other people's words) that
the roles outside ``sees`` must not find in the answer.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from patrol.models import Task
from tests.issues.helpers import jpeg
from tests.patrol.helpers import HUAIFANG

# The roles, and the demo user who plays each (fixtures/demo_people.json). The demo cases are
# reported by rider1 and handled by the housekeeper team (hk_lead's); cw_vol1 is in
# civility_west, which handles none of them; liaison_municipal's department none either.
ROLE_USERS: dict[str, str | None] = {
    "anonymous": None,
    "rider": "rider1",
    "other_rider": "rider2",
    "other_volunteer": "cw_vol1",
    "team_leader": "hk_lead",
    "liaison": "liaison_municipal",
    "office": "office1",
    "union": "union1",
    "admin": "admin",
    # Issue 16, roles by subdistrict: the same roles in 和义 (Heyi), and the district role (an
    # office account whose membership is the whole district). office1 and union1 are Nanyuan's.
    "office_heyi": "office_heyi1",
    "union_heyi": "union_heyi1",
    "office_district": "office_district",
}
ROLES = tuple(ROLE_USERS)
SIGNED_IN = frozenset(ROLES) - {"anonymous"}
# Who may read a worker's hand-in note on the demo case: Nanyuan's office, the district's, the
# admin and the team that handles it (hk_lead's), not its reporter; and rider1's description of
# the new case (no team has it yet): those offices, the admin and rider1 (docs/SECURITY.md,
# issue 14 item 5). Heyi's office reads neither: the demo cases are Nanyuan's.
NOTE_READERS = frozenset({"team_leader", "office", "office_district", "admin"})
DESCRIPTION_READERS = frozenset({"rider", "office", "office_district", "admin"})
# rider2's description of a Heyi case: Heyi's office, the district's, the admin and rider2.
HEYI_READERS = frozenset({"other_rider", "office_heyi", "office_district", "admin"})
DEMO_PASSWORD = "nanyuan-demo-2026"
OPEN311_FORMAT = "json"
NANYUAN = "110106005"  # the demo cases' subdistrict (HUAIFANG is one of its communities)


def E(default: int, **roles: int) -> dict[str, int]:  # noqa: N802  (reads as a table)
    """Expected status per role: ``default`` for every role not named."""
    unknown = set(roles) - set(ROLES)
    assert not unknown, unknown
    return {role: roles.get(role, default) for role in ROLES}


# Frequent shapes. A route for a role (office, union) is a route for that role in every
# subdistrict; what it shows or does is its subdistrict's (the rows named [Nanyuan] / [heyi]).
OFFICES = {"office": 200, "office_heyi": 200, "office_district": 200, "admin": 200}
UNIONS = {"union": 200, "union_heyi": 200, "admin": 200}
PUBLIC = E(200)
API_SIGNED_IN = E(200, anonymous=401)
PAGE_SIGNED_IN = E(200, anonymous=302)
OFFICE_API = E(403, anonymous=401, **OFFICES)
UNION_API = E(403, anonymous=401, **UNIONS)
RIDER_API = E(403, anonymous=401, rider=200, other_rider=200)
RIDER_POST = E(403, anonymous=401, rider=201, other_rider=201)
STATION_STAFF = E(403, anonymous=401, **{**OFFICES, **UNIONS})
OFFICE_PAGE = E(403, **OFFICES)
# A Nanyuan case's private parts: Nanyuan's office, the district's and the admin (and rider1,
# its reporter, where said); Heyi's office and union see what the public sees.
NANYUAN_OFFICES = {"office": 200, "office_district": 200, "admin": 200}
PRIVATE_CASE = E(404, anonymous=401, rider=200, **NANYUAN_OFFICES)
OFFICE_ONLY = E(404, **NANYUAN_OFFICES)
# A station of Nanyuan's: Heyi's union staff may not change it or print its code.
UNION_POST = E(403, anonymous=401, union=201, admin=201, union_heyi=400)
NANYUAN_STATION = E(403, anonymous=401, union=200, admin=200, union_heyi=404)
HEYI_OFFICES = {"office_heyi": 200, "office_district": 200, "admin": 200}


@dataclass(frozen=True)
class Row:
    url: Callable[[Any], str]
    expect: dict[str, int]
    body: Callable[[Any, str | None], dict] | None = None  # (demo, username) -> body
    fmt: str = "json"  # json, form or multipart
    hidden: Callable[[Any], str] | None = None
    sees: frozenset[str] = frozenset(ROLES)
    hole: str | None = None


def url(name: str, **kwargs: Callable[[Any], Any] | Any) -> Callable[[Any], str]:
    """The route's URL by name, its arguments taken from the demo objects."""
    def build(demo) -> str:
        return reverse(name, kwargs={key: value(demo) if callable(value) else value
                                     for key, value in kwargs.items()})
    return build


def fixed(body: dict) -> Callable[[Any, str | None], dict]:
    return lambda demo, username: body


def _case(demo):
    return demo.case


def _new_case(demo):
    return demo.new_case


def _assign_to(username: str) -> Callable[[Any, str | None], dict]:
    """An assignment of a demo case's task to ``username``."""
    return lambda demo, actor: {
        "assignee": get_user_model().objects.get(username=username).pk}


def _task_of(case_id: int) -> int:
    """The id of the case's (one) task."""
    return Task.objects.get(case_id=case_id).pk


def _private_case(demo):
    return demo.private_case


def _station(demo):
    return demo.station


def _report_form(demo, username) -> dict:
    lon, lat = demo.station_point
    return {"category": "C0103", "description": "路灯不亮", "lon": repr(lon), "lat": repr(lat),
            "coord_system": "wgs84", "client_uuid": "7b0f0c1e-5a8e-4c57-9a53-000000000001",
            "photos": [SimpleUploadedFile("p.jpg", jpeg(), content_type="image/jpeg")]}


def _station_body(demo, username) -> dict:
    return {"name_zh": "矩阵测试驿站", "name_en": "Matrix test station",
            "venue_type": "restaurant", "address_zh": "南苑路2号", "lon": 116.393,
            "lat": 39.798, "opening_hours": [{"day": 0, "open": "08:00", "close": "20:00"}],
            "services": ["charging"], "coverage_radius_m": 400}


def _station_csv(demo, username) -> dict:
    header = ("name_zh,name_en,venue_type,address_zh,lon,lat,opening_hours,services,"
              "coverage_radius_m,is_active\n")
    line = ('矩阵导入驿站,Matrix import,restaurant,南苑路3号,116.394,39.799,'
            '"[{""day"": 0, ""open"": ""08:00"", ""close"": ""20:00""}]",charging,400,true\n')
    return {"file": SimpleUploadedFile("stations.csv", (header + line).encode("utf-8"))}


def _open311_post(demo, username) -> dict:
    return {"api_key": demo.api_key, "service_code": "E0101", "lat": "39.797",
            "long": "116.392", "description": "垃圾"}


def _open311_post_keyless(demo, username) -> dict:
    body = _open311_post(demo, username)
    del body["api_key"]
    return body


def _confirm(demo, username) -> dict:
    """A confirmation standing at the case (item 10 asks confirmations for a position)."""
    lon, lat = demo.case_point
    return {"client_uuid": "7b0f0c1e-5a8e-4c57-9a53-0000000000c1", "lon": repr(lon),
            "lat": repr(lat), "coord_system": "wgs84"}


def _checkin(demo, username) -> dict:
    lon, lat = demo.station_point
    return {"code": demo.station_code, "lon": lon, "lat": lat}


def _suspend_rider3(demo, username) -> dict:
    from stations.models import UnionMembership

    membership = UnionMembership.objects.get(rider__username="rider3")  # Nanyuan's member
    return {"form": "status", "membership": str(membership.pk), "action": "suspend",
            "reason": "会籍核查"}


def _station_form(demo, username) -> dict:
    """The union's station editor as a browser posts it: the demo station (Nanyuan's) with
    one Monday interval, on a WGS 84 basemap (the test settings')."""
    from stations.models import Station

    station = Station.objects.get(pk=demo.station)
    lon, lat = demo.station_point
    return {"name_zh": station.name_zh, "name_en": station.name_en, "venue_type": "bank",
            "services": ["water"], "is_active": "1", "lon": repr(lon), "lat": repr(lat),
            "coord_system": "wgs84", "hours-0-1-open": "09:00", "hours-0-1-close": "17:00"}


def _new_station_form(demo, username) -> dict:
    return {**_station_form(demo, username), "name_zh": "矩阵驿站", "name_en": "Matrix"}


def _rider_description(demo) -> str:
    return demo.rider_description


def _worker_note(demo) -> str:
    return demo.worker_note


# --- the table --------------------------------------------------------------------------------

def _login(demo, username) -> dict:
    """Each role signs in as itself; anonymous sends a wrong password."""
    return {"username": username or "rider1", "password": DEMO_PASSWORD if username else "x"}


def _password_change(demo, username) -> dict:
    return {"old_password": DEMO_PASSWORD, "new_password1": "Matrix-pass-2026!",
            "new_password2": "Matrix-pass-2026!"}


def _bulk(demo, username) -> dict:
    return {"action": "file", "cases": [demo.new_case]}


def _dispatch_with_deadline(demo, username) -> dict:
    """Two hours from now: inside the bounds of any demo category's resolution deadline."""
    due = timezone.now() + timedelta(hours=2)
    return {"resolution_due": due.isoformat(), "reason": "周末前完成", "priority": "high"}


def _nanyuan_report(demo) -> int:
    """A ready governance report of Nanyuan (issue 17), made in the row's savepoint with two
    small files kept under fixed names (written once)."""
    from datetime import date

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.utils import timezone

    from civicmap.models import Subdistrict
    from frontend.models import GovernanceReport, ReportStatus

    names = {kind: f"governance-reports/matrix/report.{kind}" for kind in ("xlsx", "pdf")}
    for kind, name in names.items():
        if not default_storage.exists(name):
            default_storage.save(name, ContentFile(b"%PDF-1.4 matrix" if kind == "pdf" else b"PK"))
    return GovernanceReport.objects.create(
        subdistrict=Subdistrict.objects.get(code="110106005"), month=date(2026, 1, 1),
        status=ReportStatus.DONE, progress=100, requested_at=timezone.now(), **names).pk


def _report_ask(demo, username) -> dict:
    """Ask for Nanyuan's report of last month (a month that has ended by the real clock)."""
    from django.utils import timezone

    from frontend.reports.months import month_last

    return {"month": f"{month_last(now=timezone.now()):%Y-%m}", "subdistrict": "110106005"}


def _heyi_meeting(demo) -> int:
    """A planned meeting of Heyi's riders' council (issue 18), made in the row's savepoint."""
    from datetime import date

    from django.utils import timezone

    from civicmap.models import Subdistrict
    from patrol.models import CouncilMeeting

    return CouncilMeeting.objects.create(
        subdistrict=Subdistrict.objects.get(code="110106016"), date=date(2099, 1, 15),
        title="矩阵议事会", created_at=timezone.now()).pk


def _council_topic(demo, username) -> dict:
    """A topic for Heyi's meeting: parking in the community of rider2's L0201 case."""
    from issues.models import Case

    community = Case.objects.get(pk=demo.heyi_need_case).community_grid.code
    return {"action": "add", "add-category": "L0201", "add-community": community}


def _nanyuan_award(demo) -> int:
    """rider1's award of last month from Nanyuan's union (issue 18), made in the row's
    savepoint (written directly: the matrix is about who reads the certificate)."""
    from civicmap.models import Subdistrict
    from issues.models import AwardDecision, Rider

    return AwardDecision.objects.create(
        rider=Rider.objects.get(user__username="rider1"), month=timezone.localdate().replace(
            day=1), subdistrict=Subdistrict.objects.get(code="110106005"), awarded=True,
        reason="矩阵", decided_by=get_user_model().objects.get(username="union1"),
        decided_at=timezone.now()).pk


def _console_bulk(demo, username) -> dict:
    """The console's bulk action: filing the new case (Nanyuan's; other offices get a refusal
    for that case inside a 200, as the endpoint answers case by case)."""
    return {"action": "file", "cases": [demo.new_case], "reason": "matrix"}


def _siting(demo, username) -> dict:
    return {"k": 3}


def _what_if(demo, username) -> dict:
    """Remove a Nanyuan station in a what-if of the reader's own subdistrict (nothing is
    written): Heyi's accounts may not name it (400)."""
    return {"days": 30, "removed": [demo.station]}


MATRIX: dict[tuple[str, str], Row] = {
    # django.contrib.auth.urls
    ("login", "GET"): Row(url("login"), PUBLIC),
    ("login", "POST"): Row(url("login"), E(302, anonymous=200), _login, "form"),
    ("logout", "GET"): Row(url("logout"), E(405)),
    ("logout", "POST"): Row(url("logout"), E(302), fixed({}), "form"),
    ("password_change", "GET"): Row(url("password_change"), PAGE_SIGNED_IN),
    ("password_change", "POST"): Row(url("password_change"), E(302), _password_change, "form"),
    ("password_change_done", "GET"): Row(url("password_change_done"), PAGE_SIGNED_IN),
    ("password_reset", "GET"): Row(url("password_reset"), PUBLIC),
    ("password_reset", "POST"): Row(url("password_reset"), E(302),
                                    fixed({"email": "nobody@example.org"}), "form"),
    ("password_reset_done", "GET"): Row(url("password_reset_done"), PUBLIC),
    ("password_reset_confirm", "GET"): Row(
        url("password_reset_confirm", uidb64="MQ", token="set-password"), PUBLIC),
    # An invalid link: the page says so, whatever is posted.
    ("password_reset_confirm", "POST"): Row(
        url("password_reset_confirm", uidb64="MQ", token="set-password"), PUBLIC,
        _password_change, "form"),
    ("password_reset_complete", "GET"): Row(url("password_reset_complete"), PUBLIC),
    # django.conf.urls.i18n
    ("set_language", "GET"): Row(url("set_language"), E(302)),
    ("set_language", "POST"): Row(url("set_language"), E(302), fixed({"language": "en"}),
                                  "form"),
    # OpenAPI
    ("schema", "GET"): Row(url("schema"), PUBLIC),
    ("swagger-ui", "GET"): Row(url("swagger-ui"), PUBLIC),
    # /api/v1/: reports, cases, photos, points
    ("category-list", "GET"): Row(url("category-list"), PUBLIC),
    ("report-list", "GET"): Row(url("report-list"), PUBLIC),
    ("report-list", "POST"): Row(url("report-list"), RIDER_POST, _report_form, "multipart"),
    ("report-nearby", "GET"): Row(
        lambda d: reverse("report-nearby") + "?category=E0101&lon=116.392&lat=39.797",
        API_SIGNED_IN),
    ("place-at", "GET"): Row(lambda d: reverse("place-at") + "?lon=116.392&lat=39.797",
                             API_SIGNED_IN),
    ("case-list", "GET"): Row(url("case-list"), PUBLIC),
    ("case-confirm", "POST"): Row(url("case-confirm", case_id=_case), RIDER_POST, _confirm,
                                  "multipart"),
    ("my-reports", "GET"): Row(url("my-reports"), RIDER_API),
    # One of "my reports" by its case: rider1's case; rider2 has no report there (404, not 403).
    ("my-case-report", "GET"): Row(url("my-case-report", case_id=_case),
                                   E(403, anonymous=401, rider=200, other_rider=404)),
    ("my-case-report[heyi]", "GET"): Row(url("my-case-report", case_id=lambda d: d.heyi_case),
                                         E(403, anonymous=401, rider=404, other_rider=200)),
    ("photo", "GET"): Row(url("photo", photo_id=lambda d: d.photo, rendition="display"),
                          PUBLIC),
    ("photo[original]", "GET"): Row(
        url("photo", photo_id=lambda d: d.photo, rendition="original"), OFFICE_ONLY),
    # Union staff do not handle L0101 (the sunset team does): today they see it (item 9).
    ("photo[private report]", "GET"): Row(
        url("photo", photo_id=lambda d: d.private_photo, rendition="display"),
        E(404, rider=200, **NANYUAN_OFFICES), hole="item 9: union=200 today"),
    # A proof photo of a private case: the office and whoever handles the case (the sunset
    # team, none of these roles), not even the reporter; today any signed-in user (item 4).
    ("photo[private proof]", "GET"): Row(
        url("photo", photo_id=lambda d: d.proof_photo, rendition="display"), OFFICE_ONLY,
        hole="item 4: 200 for every signed-in role today"),
    ("leaderboard", "GET"): Row(url("leaderboard"), API_SIGNED_IN),
    ("leaderboard[heyi]", "GET"): Row(lambda d: reverse("leaderboard") + "?subdistrict=110106016",
                                      API_SIGNED_IN),
    ("leaderboard-export", "GET"): Row(url("leaderboard-export", extension="csv"), UNION_API),
    ("my-points", "GET"): Row(url("my-points"), RIDER_API),
    ("my-awards", "GET"): Row(url("my-awards"), RIDER_API),
    # /api/v1/: the case lifecycle
    ("case-detail", "GET"): Row(url("case-detail", case_id=_case), API_SIGNED_IN,
                                hidden=_worker_note, sees=NOTE_READERS,
                                hole="item 5: every signed-in role reads the note today"),
    ("case-detail[new]", "GET"): Row(url("case-detail", case_id=_new_case), API_SIGNED_IN,
                                     hidden=_rider_description, sees=DESCRIPTION_READERS,
                                     hole="item 5: every signed-in role reads it today"),
    ("case-detail[private]", "GET"): Row(url("case-detail", case_id=_private_case),
                                         PRIVATE_CASE),
    ("case-events", "GET"): Row(url("case-events", case_id=_case), API_SIGNED_IN,
                                hidden=_worker_note, sees=NOTE_READERS,
                                hole="item 5: every signed-in role reads the note today"),
    ("case-events[new]", "GET"): Row(url("case-events", case_id=_new_case), API_SIGNED_IN,
                                     hidden=_rider_description, sees=DESCRIPTION_READERS),
    ("case-events[private]", "GET"): Row(url("case-events", case_id=_private_case),
                                         PRIVATE_CASE),
    # A Nanyuan case: Heyi's office sees it (public) and may not act on it.
    ("case-action", "POST"): Row(url("case-action", case_id=_new_case, action="file"),
                                 E(403, anonymous=401, **NANYUAN_OFFICES), fixed({}), "json"),
    ("case-action[verify]", "POST"): Row(url("case-action", case_id=_case, action="verify"),
                                         E(403, anonymous=401, **NANYUAN_OFFICES), fixed({}),
                                         "json"),
    # An internal note (the case page's, issue 17): the case's own offices' and the
    # district's; Heyi's office sees this public case and may not write on it.
    ("case-action[add_note]", "POST"): Row(
        url("case-action", case_id=_case, action="add_note"),
        E(403, anonymous=401, **NANYUAN_OFFICES), fixed({"note": "请核实门牌"}), "json"),
    # A transfer (D-053) is the case's own offices' (and the district's): every other role is
    # refused before the target is looked at (403); for them this Nanyuan case, far from Heyi,
    # is refused as too far from it (400, nothing written).
    ("case-action[transfer]", "POST"): Row(
        url("case-action", case_id=_new_case, action="transfer"),
        E(403, anonymous=401, office=400, office_district=400, admin=400),
        fixed({"subdistrict": "110106016", "reason": "越界"}), "json"),
    # Issue 19: a team's task goes to a member from its leader or the case's own offices (a
    # Heyi team's, offered: Heyi's office and the district's; hk_lead leads another team);
    # to someone outside the team it is refused naming the field (400), the others 403.
    ("case-action[heyi assign]", "POST"): Row(
        url("case-action", case_id=lambda d: d.heyi_task_case, action="assign"),
        E(403, anonymous=401, **HEYI_OFFICES), _assign_to("heyi_matrix_lead"), "json"),
    ("case-action[heyi assign outsider]", "POST"): Row(
        url("case-action", case_id=lambda d: d.heyi_task_case, action="assign"),
        E(403, anonymous=401, **{role: 400 for role in HEYI_OFFICES}), _assign_to("hk_vol2"),
        "json"),
    # Issue 17, dispatch with judgement (D-058): the dispatch options are read by the case's
    # own offices (and the district's) only: a role that may read the case gets 403, one that
    # may not 404; Nanyuan's office reads none of a Heyi case's.
    ("case-dispatch-options", "GET"): Row(url("case-dispatch-options", case_id=_new_case),
                                          E(403, anonymous=401, **NANYUAN_OFFICES)),
    ("case-dispatch-options[private]", "GET"): Row(
        url("case-dispatch-options", case_id=_private_case),
        E(404, anonymous=401, rider=403, **NANYUAN_OFFICES)),
    ("case-dispatch-options[heyi]", "GET"): Row(
        url("case-dispatch-options", case_id=lambda d: d.heyi_case),
        E(403, anonymous=401, **HEYI_OFFICES)),
    # Setting a priority (with a reason) and a dispatch with a deadline and its reason: the
    # case's own offices' actions.
    ("case-action[prioritise]", "POST"): Row(
        url("case-action", case_id=_new_case, action="prioritise"),
        E(403, anonymous=401, **NANYUAN_OFFICES),
        fixed({"priority": "urgent", "reason": "学校门口"}), "json"),
    ("case-action[heyi prioritise]", "POST"): Row(
        url("case-action", case_id=lambda d: d.heyi_case, action="prioritise"),
        E(403, anonymous=401, **HEYI_OFFICES),
        fixed({"priority": "high", "reason": "学校门口"}), "json"),
    ("case-action[dispatch deadline]", "POST"): Row(
        url("case-action", case_id=_new_case, action="dispatch"),
        E(403, anonymous=401, **NANYUAN_OFFICES), _dispatch_with_deadline, "json"),
    # Issue 16: a case in 和义 (Heyi). Nanyuan's office reads its public parts (not rider2's
    # words), cannot file it (403) and, of a private one, not even that (404); Heyi's office
    # and the district's can.
    ("case-detail[heyi]", "GET"): Row(url("case-detail", case_id=lambda d: d.heyi_case),
                                      API_SIGNED_IN, hidden=lambda d: d.heyi_description,
                                      sees=HEYI_READERS),
    ("case-detail[heyi private]", "GET"): Row(
        url("case-detail", case_id=lambda d: d.heyi_private_case),
        E(404, anonymous=401, other_rider=200, **HEYI_OFFICES)),
    ("case-events[heyi private]", "GET"): Row(
        url("case-events", case_id=lambda d: d.heyi_private_case),
        E(404, anonymous=401, other_rider=200, **HEYI_OFFICES)),
    ("case-action[heyi file]", "POST"): Row(
        url("case-action", case_id=lambda d: d.heyi_case, action="file"),
        E(403, anonymous=401, **HEYI_OFFICES), fixed({}), "json"),
    ("case-action[heyi private file]", "POST"): Row(
        url("case-action", case_id=lambda d: d.heyi_private_case, action="file"),
        E(404, anonymous=401, other_rider=403, **HEYI_OFFICES), fixed({}), "json"),
    # A rider's own need in Heyi: Heyi's union replies; Nanyuan's may not even read it.
    ("case-action[heyi reply]", "POST"): Row(
        url("case-action", case_id=lambda d: d.heyi_need_case, action="reply"),
        E(404, anonymous=401, other_rider=403, office_heyi=403, office_district=403,
          union_heyi=200, admin=200), fixed({"note": "已联系"}), "json"),
    # A Heyi team's task: no Nanyuan team, liaison or office acts on it (hk_lead, cw_vol1,
    # liaison_municipal: 403 on a public case).
    ("case-action[heyi accept]", "POST"): Row(
        url("case-action", case_id=lambda d: d.heyi_task_case, action="accept"),
        E(403, anonymous=401), fixed({}), "json"),
    ("triage-queue[heyi]", "GET"): Row(url("triage-queue"), OFFICE_API,
                                       hidden=lambda d: f'"id":{d.heyi_case},',
                                       sees=frozenset(HEYI_OFFICES)),
    ("triage-queue[heyi filter]", "GET"): Row(
        lambda d: reverse("triage-queue") + "?subdistrict=110106016", OFFICE_API,
        hidden=lambda d: f'"id":{d.heyi_case},', sees=frozenset(HEYI_OFFICES)),
    ("task-list", "GET"): Row(url("task-list"), API_SIGNED_IN),
    ("task-list[section]", "GET"): Row(lambda d: reverse("task-list") + "?section=overdue",
                                       API_SIGNED_IN),
    # One task: the housekeeper team's (hk_lead's) on the demo case, and the Heyi team's;
    # anyone else's is a 404 (as if there were none), never a 403.
    ("task-detail", "GET"): Row(url("task-detail", task_id=lambda d: _task_of(d.case)),
                                E(404, anonymous=401, team_leader=200, **NANYUAN_OFFICES)),
    ("task-detail[heyi]", "GET"): Row(
        url("task-detail", task_id=lambda d: _task_of(d.heyi_task_case)),
        E(404, anonymous=401, **HEYI_OFFICES)),
    ("triage-queue", "GET"): Row(url("triage-queue"), OFFICE_API),
    ("triage-bulk", "POST"): Row(url("triage-bulk"), OFFICE_API, _bulk, "json"),
    ("rates", "GET"): Row(lambda d: reverse("rates") + "?since=2026-01-01T00:00:00%2B08:00"
                          "&until=2026-12-01T00:00:00%2B08:00", OFFICE_API),
    ("notification-list", "GET"): Row(url("notification-list"), API_SIGNED_IN),
    ("notification-read-many", "POST"): Row(url("notification-read-many"), API_SIGNED_IN,
                                            fixed({"all": True}), "json"),
    # The demo notification is rider1's: nobody else's to mark.
    ("notification-read", "POST"): Row(
        url("notification-read", notification_id=lambda d: d.notification),
        E(404, anonymous=401, rider=200), fixed({}), "json"),
    # /api/v1/stations/
    ("station-list", "GET"): Row(url("station-list"), PUBLIC),
    ("station-list", "POST"): Row(url("station-list"), UNION_POST, _station_body, "json"),
    ("station-services", "GET"): Row(url("station-services"), PUBLIC),
    ("station-nearest", "GET"): Row(
        lambda d: reverse("station-nearest") + "?lon=116.392&lat=39.797", PUBLIC),
    ("station-coverage", "GET"): Row(url("station-coverage"), STATION_STAFF),
    ("station-coverage-point", "GET"): Row(
        lambda d: reverse("station-coverage-point") + "?lon=116.392&lat=39.797",
        STATION_STAFF),
    ("station-coverage-layer", "GET"): Row(url("station-coverage-layer"), PUBLIC),
    ("station-coverage-what-if", "POST"): Row(
        url("station-coverage-what-if"),
        E(403, anonymous=401, office=200, office_district=200, admin=200, union=200,
          office_heyi=400, union_heyi=400), _what_if, "json"),
    ("station-siting", "GET"): Row(url("station-siting"), STATION_STAFF),
    ("station-siting", "POST"): Row(url("station-siting"), STATION_STAFF, _siting, "json"),
    ("station-checkins", "GET"): Row(url("station-checkins"), RIDER_API),
    ("station-checkins", "POST"): Row(url("station-checkins"), RIDER_POST, _checkin, "json"),
    ("station-visits", "GET"): Row(url("station-visits"), UNION_API),
    # The rider's own member card (issue 18).
    ("my-card", "GET"): Row(url("my-card"), RIDER_API),
    ("station-export", "GET"): Row(url("station-export"), UNION_API),
    ("station-import", "POST"): Row(url("station-import"),
                                    E(403, anonymous=401, union=200, admin=200, union_heyi=400),
                                    _station_csv, "multipart"),
    ("station-token", "GET"): Row(url("station-token", station_id=_station), NANYUAN_STATION),
    ("station-token-rotate", "POST"): Row(url("station-token-rotate", station_id=_station),
                                          E(403, anonymous=401, union=201, admin=201,
                                            union_heyi=404), fixed({}), "json"),
    ("station-token-qr", "GET"): Row(url("station-token-qr", station_id=_station),
                                     NANYUAN_STATION),
    # Open311 GeoReport v2: key-authenticated, the same for every signed-in role
    ("open311-discovery", "GET"): Row(url("open311-discovery", fmt=OPEN311_FORMAT), PUBLIC),
    ("open311-services", "GET"): Row(url("open311-services", fmt=OPEN311_FORMAT), PUBLIC),
    ("open311-service", "GET"): Row(
        url("open311-service", service_code="E0101", fmt=OPEN311_FORMAT), PUBLIC),
    ("open311-requests", "GET"): Row(url("open311-requests", fmt=OPEN311_FORMAT), PUBLIC),
    ("open311-requests", "POST"): Row(url("open311-requests", fmt=OPEN311_FORMAT), PUBLIC,
                                      _open311_post, "form"),
    # A key in a URL (it lands in access logs) is refused as bad input, a rider's token
    # included (item 8).
    ("open311-requests[token in URL]", "POST"): Row(
        lambda d: reverse("open311-requests", kwargs={"fmt": OPEN311_FORMAT})
        + f"?api_key={d.rider_token}", E(400), _open311_post_keyless, "form",
        hole="item 8: 200 today"),
    ("open311-request", "GET"): Row(
        url("open311-request", service_request_id=lambda d: str(d.report), fmt=OPEN311_FORMAT),
        PUBLIC),
    ("open311-request[private]", "GET"): Row(
        url("open311-request", service_request_id=lambda d: str(d.private_report),
            fmt=OPEN311_FORMAT), E(404)),
    ("open311-token", "GET"): Row(url("open311-token", token="abc", fmt=OPEN311_FORMAT),
                                  E(404)),
    ("open311-not-found", "GET"): Row(url("open311-not-found", path="nothing.json"), E(404)),
    # pages
    ("frontend:map", "GET"): Row(url("frontend:map"), PUBLIC),
    ("frontend:map-hourly", "GET"): Row(url("frontend:map-hourly"), PUBLIC),
    # The map's data layers for its filters, fetched when a filter changes (issue 20): as
    # public as the page; private categories and descriptions for office staff only.
    ("frontend:map-data", "GET"): Row(url("frontend:map-data"), PUBLIC),
    # Every unit grid's polygon, fetched once beside the first filter's counts: public, as
    # the map's unit-grid layer.
    ("frontend:map-unit-grids", "GET"): Row(url("frontend:map-unit-grids"), PUBLIC),
    # Everyone: the office cell by cell, the public cells of at least k reports (D-066).
    ("frontend:map-uncovered", "GET"): Row(url("frontend:map-uncovered"), PUBLIC),
    # The grid outlines under a map without tiles: public, as the map's grid layers.
    ("frontend:map-background", "GET"): Row(url("frontend:map-background"), PUBLIC),
    ("frontend:office", "GET"): Row(url("frontend:office"), E(302, **OFFICES)),
    ("frontend:office-cases", "GET"): Row(url("frontend:office-cases"), OFFICE_PAGE),
    # The office's case page (issue 17): the offices whose work covers the case's subdistrict
    # (and the district's); another subdistrict's office gets 404, as if there were no page;
    # every role without the office role goes to the login page, as for the console.
    ("frontend:office-case", "GET"): Row(url("frontend:office-case", case_id=_case),
                                         E(302, office_heyi=404, **NANYUAN_OFFICES),
                                         hidden=_worker_note, sees=NOTE_READERS),
    ("frontend:office-case[private]", "GET"): Row(
        url("frontend:office-case", case_id=_private_case),
        E(302, office_heyi=404, **NANYUAN_OFFICES)),
    ("frontend:office-case[heyi]", "GET"): Row(
        url("frontend:office-case", case_id=lambda d: d.heyi_case),
        E(302, office=404, **HEYI_OFFICES)),
    # Next year's holidays (issue 17): every office's page (the calendar is the country's);
    # others go to the login page. A save answers 303 (See Other) back to the page.
    ("frontend:office-calendar", "GET"): Row(url("frontend:office-calendar"),
                                             E(302, **OFFICES)),
    ("frontend:office-calendar", "POST"): Row(
        url("frontend:office-calendar"),
        E(302, office=303, office_heyi=303, office_district=303, admin=303),
        fixed({"year": "2099", "holidays": "2099-01-01", "makeup_workdays": "2099-01-03"}),
        "form"),
    # Statistics (issue 17): each office its subdistrict's, the district every one.
    ("frontend:office-stats", "GET"): Row(url("frontend:office-stats"), E(302, **OFFICES)),
    ("frontend:office-stats-csv", "GET"): Row(url("frontend:office-stats-csv", table="trend"),
                                              OFFICE_PAGE),
    # Issue 17, the monthly governance report: the office's page, its poll and the downloads.
    # Heyi's office may not ask for Nanyuan's report (the page again with the field's error:
    # not one of its choices) nor download it (404: not said to exist).
    ("frontend:reports", "GET"): Row(url("frontend:reports"), E(302, **OFFICES)),
    ("frontend:reports", "POST"): Row(url("frontend:reports"),
                                      E(302, office=303, office_district=303, admin=303,
                                        office_heyi=200), _report_ask, "form"),
    ("frontend:reports-status", "GET"): Row(url("frontend:reports-status"), OFFICE_PAGE),
    # Issue 18, geography files: the offices' page (grids, cases) and the unions' (stations); a POST
    # without a file is the page again with the field's error (400); the downloads are of the
    # account's own subdistrict, cases for the offices only (404 for the unions).
    ("frontend:office-geography", "GET"): Row(url("frontend:office-geography"),
                                              E(302, **{**OFFICES, **UNIONS})),
    ("frontend:office-geography", "POST"): Row(
        url("frontend:office-geography"),
        E(302, office=400, office_heyi=400, office_district=400, admin=400, union=400,
          union_heyi=400),
        fixed({"layer": ""}), "form"),
    ("frontend:office-geography-export", "GET"): Row(
        url("frontend:office-geography-export", layer="stations", file_format="csv"),
        E(302, **{**OFFICES, **UNIONS})),
    ("frontend:office-geography-export[cases]", "GET"): Row(
        url("frontend:office-geography-export", layer="cases", file_format="csv"),
        E(302, **OFFICES, union=404, union_heyi=404)),
    ("frontend:report-download", "GET"): Row(
        url("frontend:report-download", report_id=_nanyuan_report, kind="pdf"),
        E(403, office_heyi=404, **NANYUAN_OFFICES)),
    ("frontend:office-cases-bulk", "GET"): Row(url("frontend:office-cases-bulk"), E(405)),
    ("frontend:office-cases-bulk", "POST"): Row(url("frontend:office-cases-bulk"), OFFICE_PAGE,
                                                _console_bulk, "json"),
    # Issue 18, the union's members and benefits: union staff of every subdistrict and the
    # district's accounts read it (each their own members); a change is the member's own
    # union's (303 back to the page): Heyi's union and the district's office get 403 for a
    # Nanyuan member, nothing written; everyone else goes to the login page.
    # Issue 18, coverage and siting: union staff (their own subdistrict) and the district's
    # accounts; the what-if on it writes nothing (station-coverage-what-if above).
    ("frontend:union-coverage", "GET"): Row(url("frontend:union-coverage"),
                                            E(302, office_district=200, **UNIONS)),
    ("frontend:union-members", "GET"): Row(url("frontend:union-members"),
                                           E(302, office_district=200, **UNIONS)),
    ("frontend:union-members", "POST"): Row(
        url("frontend:union-members"),
        E(302, union=303, admin=303, union_heyi=403, office_district=403),
        _suspend_rider3, "form"),
    # Issue 18, the stations' visits: union staff of every subdistrict (each its own stations)
    # and the district's accounts read the page and its CSV files; everyone else goes to the
    # login page. Asking for a Nanyuan station is the form's error (400) for Heyi's union.
    ("frontend:union-visits", "GET"): Row(url("frontend:union-visits"),
                                          E(302, office_district=200, **UNIONS)),
    ("frontend:union-visits[Nanyuan station]", "GET"): Row(
        lambda d: reverse("frontend:union-visits") + f"?station={d.station}",
        E(302, union=200, admin=200, office_district=200, union_heyi=400)),
    ("frontend:union-visits-csv", "GET"): Row(
        url("frontend:union-visits-csv", table="hour"), E(302, office_district=200, **UNIONS)),
    # Issue 18, the union's stations: union staff of every subdistrict and the district's
    # accounts read the list (each their own subdistrict's); a station of another subdistrict
    # is a 404; the district's accounts change nothing (403: a save, a new station, the QR
    # sheet, which makes a check-in code); a save answers 303 to the station's editor.
    # Heyi's union may not place a new station in Nanyuan (400, the position named).
    ("frontend:union-stations", "GET"): Row(url("frontend:union-stations"),
                                            E(302, office_district=200, **UNIONS)),
    ("frontend:union-station-new", "GET"): Row(url("frontend:union-station-new"),
                                               E(302, office_district=403, **UNIONS)),
    ("frontend:union-station-new", "POST"): Row(
        url("frontend:union-station-new"),
        E(302, union=303, admin=303, union_heyi=400, office_district=403),
        _new_station_form, "form"),
    ("frontend:union-station", "GET"): Row(
        url("frontend:union-station", station_id=_station),
        E(302, union=200, admin=200, union_heyi=404, office_district=200)),
    ("frontend:union-station", "POST"): Row(
        url("frontend:union-station", station_id=_station),
        E(302, union=303, admin=303, union_heyi=404, office_district=403),
        _station_form, "form"),
    ("frontend:union-station-sheet", "GET"): Row(
        url("frontend:union-station-sheet", station_id=_station),
        E(302, union=200, admin=200, union_heyi=404, office_district=403)),
    ("frontend:union-station-sheet-pdf", "GET"): Row(
        url("frontend:union-station-sheet-pdf", station_id=_station),
        E(302, union=200, admin=200, union_heyi=404, office_district=403)),
    ("frontend:rider", "GET"): Row(url("frontend:rider"), PUBLIC),
    ("frontend:rider-sw", "GET"): Row(url("frontend:rider-sw"), PUBLIC),
    ("frontend:rider-manifest", "GET"): Row(url("frontend:rider-manifest"), PUBLIC),
    ("frontend:team", "GET"): Row(url("frontend:team"), PUBLIC),
    ("frontend:phone-token", "POST"): Row(url("frontend:phone-token"), E(200, anonymous=400),
                                          _login, "json"),
    ("frontend:phone-me", "GET"): Row(url("frontend:phone-me"), API_SIGNED_IN),
    # Issue 18, the riders' council: union staff read and act on their own subdistrict's; an
    # account of the whole district (the district's office, the admin) reads every one and
    # acts on none (403 for its writes); everyone else goes to the login page (401/403 in the
    # API). Another subdistrict's board or meeting is 404.
    ("council-board", "GET"): Row(
        lambda d: reverse("council-board") + "?subdistrict=110106005",
        E(403, anonymous=401, union=200, union_heyi=404, admin=200, office_district=200)),
    ("frontend:union-council", "GET"): Row(
        url("frontend:union-council"),
        E(302, union=200, union_heyi=200, admin=200, office_district=200)),
    ("frontend:union-council-meetings", "GET"): Row(
        url("frontend:union-council-meetings"),
        E(302, union=200, union_heyi=200, admin=200, office_district=200)),
    ("frontend:union-council-meetings", "POST"): Row(
        url("frontend:union-council-meetings"),
        E(302, union=303, union_heyi=303, admin=403, office_district=403),
        fixed({"date": "2099-01-01", "title": "矩阵议事会"}), "form"),
    ("frontend:union-council-meeting", "GET"): Row(
        url("frontend:union-council-meeting", meeting_id=_heyi_meeting),
        E(302, union=404, union_heyi=200, admin=200, office_district=200)),
    ("frontend:union-council-meeting", "POST"): Row(
        url("frontend:union-council-meeting", meeting_id=_heyi_meeting),
        E(302, union=404, union_heyi=303, admin=403, office_district=403),
        _council_topic, "form"),
    # The public pages (issue 19): everyone reads what the public reads, signed in or not; a
    # private case is 404 even to those who may see it elsewhere (its reporter, the office).
    ("frontend:home", "GET"): Row(url("frontend:home"), PUBLIC),
    ("frontend:public-case", "GET"): Row(url("frontend:public-case", case_id=_case), PUBLIC,
                                         hidden=_worker_note, sees=frozenset()),
    ("frontend:public-case[new]", "GET"): Row(
        url("frontend:public-case", case_id=_new_case), PUBLIC, hidden=_rider_description,
        sees=frozenset()),
    ("frontend:public-case[private]", "GET"): Row(
        url("frontend:public-case", case_id=_private_case), E(404)),
    ("frontend:public-community", "GET"): Row(
        url("frontend:public-community", code=HUAIFANG), PUBLIC, hidden=_rider_description,
        sees=frozenset()),
    ("frontend:feed-subdistrict", "GET"): Row(
        url("frontend:feed-subdistrict", code=NANYUAN), PUBLIC, hidden=_rider_description,
        sees=frozenset()),
    ("frontend:feed-community", "GET"): Row(
        url("frontend:feed-community", code=HUAIFANG), PUBLIC, hidden=_worker_note,
        sees=frozenset()),
    # Issue 18, the monthly awards: union staff read and decide their own subdistrict's list,
    # the district's accounts read it (403 for a decision); everyone else goes to the login
    # page. The decision posted is for a future month: each union's own list answers 400
    # naming the month, nothing written (tests/frontend/test_union_awards.py decides one). A
    # certificate is for its rider (the token or a session) and the union pages' readers of
    # its subdistrict; anyone else 404, anonymous 401.
    ("frontend:union-awards", "GET"): Row(
        url("frontend:union-awards"),
        E(302, union=200, union_heyi=200, admin=200, office_district=200)),
    ("frontend:union-awards", "POST"): Row(
        url("frontend:union-awards"),
        E(302, union=400, union_heyi=400, admin=403, office_district=403),
        fixed({"rider": "1", "month": "2099-01", "awarded": "yes", "reason": "矩阵"}), "form"),
    ("frontend:union-award-certificate", "GET"): Row(
        url("frontend:union-award-certificate", award_id=_nanyuan_award),
        E(404, anonymous=401, rider=200, union=200, admin=200, office_district=200)),
}


# --- the machinery ---------------------------------------------------------------------------


def _routes(patterns=None, prefix: str = "", namespace: str | None = None):
    """(route, name, view class or None) of every URL pattern, outside the admin."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            if str(pattern.pattern) == "admin/":
                continue  # walked for every role by the admin's own matrix
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern),
                               pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            callback = pattern.callback
            view = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
            yield prefix + str(pattern.pattern), name, view


def _methods(view) -> set[str]:
    """The methods a row is required for: GET and POST where the view has them (function
    views: GET), beside PATCH and DELETE."""
    if view is None:
        return {"GET"}
    return {method.upper() for method in ("get", "post", "patch", "delete")
            if hasattr(view, method)}


def _route_name(key: str) -> str:
    return re.sub(r"\[.*\]$", "", key)


@pytest.fixture
def role_clients(demo) -> dict[str, Client]:
    """One client per role, signed in (session) and sending its DRF token (API)."""
    clients = {}
    for role, username in ROLE_USERS.items():
        if username is None:
            clients[role] = Client()
            continue
        user = get_user_model().objects.get(username=username)
        token, _ = Token.objects.get_or_create(user=user)
        client = Client(headers={"Authorization": f"Token {token.key}"})
        client.force_login(user)
        clients[role] = client
    return clients


def _call(client: Client, method: str, row: Row, demo, username: str | None):
    path = row.url(demo)
    if method == "GET":
        return client.get(path)
    body = row.body(demo, username) if row.body else {}
    if row.fmt == "json":
        return client.generic(method, path, data=json.dumps(body),
                              content_type="application/json")
    if row.fmt == "multipart":
        return client.post(path, body)
    return client.generic(method, path, data=urlencode(body, doseq=True),
                          content_type="application/x-www-form-urlencoded")


def _run(client: Client, method: str, row: Row, demo, username: str | None):
    """One request in a savepoint rolled back afterwards, with fresh rate limits and the
    client's cookies (a logout clears them) put back."""
    cookies = copy.deepcopy(client.cookies)
    cache.clear()
    try:
        with transaction.atomic():
            response = _call(client, method, row, demo, username)
            transaction.set_rollback(True)
    finally:
        client.cookies = cookies
    return response


def _routes_without_rows(matrix: dict[tuple[str, str], Row]) -> list[str]:
    keys = {(_route_name(name), method) for name, method in matrix}
    return [f"{route} ({name}) {method}" for route, name, view in _routes()
            for method in sorted(_methods(view)) if (name, method) not in keys]


def test_every_route_has_a_row():
    missing = _routes_without_rows(MATRIX)
    assert not missing, "routes without a row in MATRIX:\n" + "\n".join(missing)
    names = {name for _, name, _ in _routes()}
    stale = sorted({_route_name(name) for name, _ in MATRIX} - names)
    assert not stale, f"rows for routes that no longer exist: {stale}"


def test_a_route_or_method_without_a_row_is_named():
    without = {key: row for key, row in MATRIX.items()
               if key not in {("rates", "GET"), ("station-list", "POST")}}
    assert _routes_without_rows(without) == ["api/v1/rates/ (rates) GET",
                                             "api/v1/stations/ (station-list) POST"]


def _mismatches(rows: dict[tuple[str, str], Row], demo, clients) -> list[str]:
    observe = os.environ.get("MATRIX_OBSERVE")  # print today's outcomes as table entries
    wrong = []
    for (key, method), row in rows.items():
        seen = {}
        for role in ROLES:
            response = _run(clients[role], method, row, demo, ROLE_USERS[role])
            seen[role] = response.status_code
            if row.hidden and role not in row.sees and response.status_code == 200:
                text = row.hidden(demo)
                if text in response.content.decode("utf-8", "replace"):
                    wrong.append(f"{key} {method} as {role}: shows {text!r}"
                                 + (f" ({row.hole})" if row.hole else ""))
        if observe:
            common = max(set(seen.values()), key=list(seen.values()).count)
            others = ", ".join(f"{r}={c}" for r, c in seen.items() if c != common)
            print(f"    ({key!r}, {method!r}): E({common}{', ' if others else ''}{others}),")
        wrong += [f"{key} {method} as {role}: {seen[role]}, expected {row.expect[role]}"
                  + (f" ({row.hole})" if row.hole else "")
                  for role in ROLES if seen[role] != row.expect[role]]
    return wrong


@pytest.mark.django_db
def test_permission_matrix(demo, role_clients):
    """Every row but the issue 14 holes, for every role, as the table says. Over 20 s: one
    request per row and role, on one demo made once."""
    rows = {key: row for key, row in MATRIX.items() if not row.hole}
    wrong = _mismatches(rows, demo, role_clients)
    assert not wrong, "\n".join(wrong)


@pytest.mark.django_db
def test_matrix_lists_the_issue_14_holes(demo, role_clients):
    """The rows whose expected outcome is issue 14's fix (items 4, 5, 8, 9), not today's: this
    passes once the privacy and Open311 key branches are merged."""
    rows = {key: row for key, row in MATRIX.items() if row.hole}
    assert rows
    wrong = _mismatches(rows, demo, role_clients)
    assert not wrong, "\n".join(wrong)


def test_the_matrix_is_the_size_of_the_url_conf():
    routes = list(_routes())
    assert len(routes) >= 60
    assert len(MATRIX) * len(ROLES) >= 9 * 80
