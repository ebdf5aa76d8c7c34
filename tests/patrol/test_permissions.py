"""Who may do and see what: the permission matrix of every lifecycle endpoint for every role,
with the case in the stage where the action is legal (so the role is what decides), and the
object-level rules: whose tasks a user sees, and who may see who reported.

Only office staff (and union staff, for riders' own needs) may see reporters: the fields
reporter, contact_phone, contact_email (case detail) and actor (history) must be absent for
everyone else, in every body, and so must the contact values themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.utils import timezone

from issues.models import Case
from patrol.models import Department, Task
from tests.patrol.helpers import (
    API,
    HUAIFANG,
    RESTRICTED_KEYS,
    SECRET_EMAIL,
    SECRET_PHONE,
    XINGONG,
    app_report,
    assert_nothing_restricted,
    case_in_stage,
    client_for,
    keys_in,
    live_task,
    proof_photo,
    report,
    user,
)

pytestmark = pytest.mark.django_db

# The roles, each played by a demo user (fixtures/demo_people.json). The case under test is an
# E0101 report by rider1 in Huaifang, handled by the housekeeper team.
ROLES = {
    "anonymous": None,
    "rider": "rider1",  # the reporter
    "volunteer": "hk_vol1",  # of the handling team
    "other_volunteer": "cw_vol1",  # of civility_west
    "team_leader": "hk_lead",  # of the handling team
    "office_staff": "office1",
    "union_staff": "union1",
    "liaison": "liaison_municipal",
    "admin": "admin",  # superuser: holds every role, member of no team or department
}


def table(**codes: int) -> dict[str, int]:
    """403 for every signed-in role, 401 for anonymous, unless said otherwise."""
    return {**{role: 403 for role in ROLES}, "anonymous": 401, **codes}


OFFICE = table(office_staff=200, admin=200)
WORKERS = table(volunteer=200, team_leader=200)  # members and leader of the handling team
LEADER_OR_OFFICE = table(team_leader=200, office_staff=200, admin=200)
REPORTERS = table(rider=200)
READ = {**{role: 200 for role in ROLES}, "anonymous": 401}
# A riders' need is private: only the rider who asked, office and union staff may read it;
# for anyone else it does not exist (404).
READ_PRIVATE = {**READ, "volunteer": 404, "other_volunteer": 404, "team_leader": 404,
                "liaison": 404}
REPLY = {**READ_PRIVATE, "rider": 403, "office_staff": 403, "union_staff": 200, "admin": 200}

SEES_REPORTERS = {"office_staff", "admin"}
SEES_REPORTERS_OF_RIDERS_NEEDS = {"office_staff", "union_staff", "admin"}


@dataclass
class Call:
    method: str
    path: str
    data: dict = field(default_factory=dict)
    format: str | None = None
    private: bool = False  # a riders' need: union staff may see reporters too


def case_url(case: Case, action: str = "") -> str:
    return f"{API}/cases/{case.pk}/{action + '/' if action else ''}"


def post(action: str, stage: str, **data) -> Callable[[], Call]:
    def build() -> Call:
        case = case_in_stage(stage)
        return Call("post", case_url(case, action), data)
    return build


def handin() -> Call:
    case = case_in_stage("in_progress")
    return Call("post", case_url(case, "handin"), {"note": "已清理", "photo": proof_photo()},
                "multipart")


def merge() -> Call:
    source = case_in_stage("new", point=0)
    target = case_in_stage("new", point=3)
    return Call("post", case_url(source, "merge"), {"into": target.pk})


def split() -> Call:
    first = report("E0101", point=0, reporter="rider1")
    second = report("E0101", point=0, reporter="rider2")
    assert first.case == second.case
    return Call("post", case_url(first.case, "split"), {"reports": [second.pk]}, "json")


def assign() -> Call:
    case = case_in_stage("dispatched")
    return Call("post", case_url(case, "assign"), {"assignee": user("hk_vol2").pk})


def escalate() -> Call:
    case = case_in_stage("in_progress")
    return Call("post", case_url(case, "escalate"),
                {"department": Department.objects.get(code="chengguan").pk, "reason": "执法"})


def riders_need() -> Case:
    case = app_report("L0201", reporter="rider1", description="北门没有停车位")
    return case.case


def reply() -> Call:
    return Call("post", case_url(riders_need(), "reply"), {"note": "已协调"}, private=True)


def read(kind: str, *, private: bool = False) -> Callable[[], Call]:
    def build() -> Call:
        case = riders_need() if private else case_in_stage("handed_in")
        return Call("get", case_url(case, "events" if kind == "events" else ""),
                    private=private)
    return build


def tasks() -> Call:
    case_in_stage("in_progress")
    riders_need()
    return Call("get", f"{API}/tasks/", {"include_closed": "true"})


def queue() -> Call:
    case_in_stage("new")
    return Call("get", f"{API}/office/queue/")


def bulk() -> Call:
    case = case_in_stage("new")
    return Call("post", f"{API}/office/queue/bulk/", {"action": "file", "cases": [case.pk]},
                "json")


def rates() -> Call:
    case_in_stage("evaluated")
    now = timezone.now()
    return Call("get", f"{API}/rates/", {"since": (now - timedelta(days=1)).isoformat(),
                                         "until": (now + timedelta(days=1)).isoformat()})


ENDPOINTS: dict[str, tuple[Callable[[], Call], dict[str, int]]] = {
    "file": (post("file", "new"), OFFICE),
    "cancel": (post("cancel", "new", reason="重复"), OFFICE),
    "dispatch": (post("dispatch", "filed"), OFFICE),
    "redispatch": (post("redispatch", "dispatched"), OFFICE),
    "decline": (post("decline", "dispatched", reason="人手不足"), WORKERS),
    "escalate": (escalate, LEADER_OR_OFFICE),
    "accept": (post("accept", "dispatched"), WORKERS),
    "start": (post("start", "in_progress"), WORKERS),
    "handin": (handin, WORKERS),
    "verify": (post("verify", "handed_in"), OFFICE),
    "sendback": (post("sendback", "handed_in", note="照片不清"), OFFICE),
    "rate": (post("rate", "closed", score=4), REPORTERS),
    "merge": (merge, OFFICE),
    "split": (split, OFFICE),
    "assign": (assign, LEADER_OR_OFFICE),
    "reply": (reply, REPLY),
    "case detail": (read("detail"), READ),
    "case detail (riders' need)": (read("detail", private=True), READ_PRIVATE),
    "case events": (read("events"), READ),
    "case events (riders' need)": (read("events", private=True), READ_PRIVATE),
    "task list": (tasks, READ),
    "office queue": (queue, OFFICE),
    "office queue bulk": (bulk, OFFICE),
    "rates": (rates, OFFICE),
}

MATRIX = [
    pytest.param(endpoint, role, expected[role], id=f"{endpoint}-{role}")
    for endpoint, (_, expected) in ENDPOINTS.items() for role in ROLES
]


@pytest.mark.parametrize(("endpoint", "role", "status"), MATRIX)
def test_permission_matrix(reference_data, endpoint, role, status):
    call = ENDPOINTS[endpoint][0]()
    client = client_for(ROLES[role])
    answer = getattr(client, call.method)(call.path, call.data, format=call.format) \
        if call.method == "post" else client.get(call.path, call.data)
    assert answer.status_code == status, answer.content

    sees = SEES_REPORTERS_OF_RIDERS_NEEDS if call.private else SEES_REPORTERS
    if role not in sees:
        assert_nothing_restricted(answer)
    elif status == 200 and endpoint.startswith("case detail"):
        [shown] = answer.json()["reports"]
        assert shown["reporter"] == user("rider1").pk
        if not call.private:  # the Open311 report carries contact details; the app one none
            assert (shown["contact_phone"], shown["contact_email"]) == (SECRET_PHONE,
                                                                        SECRET_EMAIL)
    elif status == 200 and endpoint.startswith("case events"):
        events = answer.json()["events"]
        assert all("actor" in event for event in events)
        assert user("office1").pk in [e["actor"] for e in events] or call.private


# --- whose tasks a user sees ------------------------------------------------------------------


def test_each_user_sees_only_the_tasks_of_their_own_team_department_or_the_union(
        reference_data):
    housekeeper = live_task(case_in_stage("dispatched", category="E0101", community=HUAIFANG,
                                          point=0))
    east = live_task(case_in_stage("dispatched", category="E0201", community=HUAIFANG,
                                   point=3))
    west = live_task(case_in_stage("dispatched", category="E0201", community=XINGONG,
                                   point=0))
    municipal = live_task(case_in_stage("dispatched", category="C0103", community=HUAIFANG,
                                        point=6))
    chengguan = live_task(case_in_stage("dispatched", category="E0103", community=XINGONG,
                                        point=3))
    union = live_task(riders_need())
    done = Task.objects.get(case=case_in_stage("closed", category="E0101", community=XINGONG,
                                               point=6))
    assert (housekeeper.team.code, east.team.code, west.team.code, municipal.department.code,
            chengguan.department.code, union.assignee_kind) == (
        "housekeeper", "civility_east", "civility_west", "municipal", "chengguan", "union")
    everything = {t.pk for t in (housekeeper, east, west, municipal, chengguan, union)}
    expected = {
        "hk_vol1": {housekeeper.pk}, "hk_lead": {housekeeper.pk},
        "ce_vol1": {east.pk}, "ce_lead": {east.pk},
        "cw_vol1": {west.pk}, "cw_lead": {west.pk},
        "ss_vol1": set(),  # sunset has no task
        "liaison_municipal": {municipal.pk}, "liaison_chengguan": {chengguan.pk},
        "liaison_greening": set(),
        "union1": {union.pk},
        "rider1": set(),
        "office1": everything, "admin": everything,
    }
    for username, ids in expected.items():
        client = client_for(username)
        answer = client.get(f"{API}/tasks/")
        assert answer.status_code == 200
        assert {t["id"] for t in answer.json()["tasks"]} == ids, username
        # With closed tasks: the housekeeper's finished task joins its own team's list only.
        closed = {t["id"] for t in client.get(f"{API}/tasks/", {"include_closed": "true"})
                  .json()["tasks"]}
        own_done = {done.pk} if username in {"hk_vol1", "hk_lead", "office1", "admin"} else set()
        assert closed == ids | own_done, username


def test_the_nearest_first_task_list_keeps_to_the_users_own_tasks(reference_data):
    mine = live_task(case_in_stage("dispatched", category="E0101", community=HUAIFANG))
    case_in_stage("dispatched", category="E0201", community=HUAIFANG, point=3)  # civility_east
    answer = client_for("hk_vol1").get(f"{API}/tasks/", {"lon": 116.39, "lat": 39.797})
    assert [t["id"] for t in answer.json()["tasks"]] == [mine.pk]
    assert answer.json()["tasks"][0]["distance_m"] >= 0


# --- private cases: neighbourhood watch (邻里守望) ------------------------------------------------


def test_the_team_handling_a_private_neighbourhood_watch_case_can_open_and_accept_it(
        reference_data):
    """L0101 (elderly person living alone in difficulty) is private and handled by the sunset
    team. The team sees the task in its list, so it must be able to open the case and accept
    it, without seeing who reported it."""
    case = case_in_stage("dispatched", category="L0101")
    task = live_task(case)
    assert task.team.code == "sunset"
    volunteer = client_for("ss_vol1")
    assert [t["case"] for t in volunteer.get(f"{API}/tasks/").json()["tasks"]] == [case.pk]

    detail = volunteer.get(case_url(case))
    assert detail.status_code == 200, detail.content
    assert_nothing_restricted(detail)
    accepted = volunteer.post(case_url(case, "accept"))
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["stage"] == "in_progress"
    assert_nothing_restricted(accepted)


def test_a_private_case_stays_hidden_from_teams_that_do_not_handle_it(reference_data):
    case = case_in_stage("dispatched", category="L0101")
    for outsider in ["hk_vol1", "cw_lead", "liaison_municipal", "rider2"]:
        client = client_for(outsider)
        assert client.get(case_url(case)).status_code == 404, outsider
        assert client.get(case_url(case, "events")).status_code == 404, outsider
        assert client.post(case_url(case, "accept")).status_code == 404, outsider
    assert live_task(case).status == "offered"


def test_union_staff_do_not_see_who_reported_a_neighbourhood_watch_case(reference_data):
    """Union staff see who asked for riders' own needs (骑手诉求) only; an elderly resident's
    case reported by a rider is not theirs to see the reporter of."""
    case = case_in_stage("dispatched", category="L0101")
    for path in (case_url(case), case_url(case, "events")):
        answer = client_for("union1").get(path)
        if answer.status_code == 200:
            assert_nothing_restricted(answer)
        else:
            assert answer.status_code == 404


def test_the_reporter_of_a_private_case_reads_it_without_reporter_fields(reference_data):
    case = riders_need()
    answer = client_for("rider1").get(case_url(case))
    assert answer.status_code == 200
    assert not keys_in(answer.json()) & RESTRICTED_KEYS
    events = client_for("rider1").get(case_url(case, "events"))
    assert [e["action"] for e in events.json()["events"]] == ["created", "dispatch"]
    assert_nothing_restricted(events)
