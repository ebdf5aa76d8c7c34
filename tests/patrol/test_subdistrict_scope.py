"""Roles by subdistrict (issue 16) in the lifecycle's reads and writes: the triage queue, the
actions, the task lists, the rates and who hears of a case, each through civicmap.scopes.

office1 and union1 work for Nanyuan, office_heyi1 and union_heyi1 for 和义 (Heyi),
office_district for the whole district (fixtures/demo_people.json)."""

from __future__ import annotations

import pytest

from civicmap.errors import PermissionRefused
from issues.models import Case
from patrol.models import Department, Notification, Task, VolunteerTeam
from patrol.services.notify import notify
from tests.patrol.helpers import (
    API,
    HEYI_XILI_1,
    HUAIFANG,
    act,
    client_for,
    cst,
    live_task,
    report,
)

pytestmark = pytest.mark.django_db

HEYI = "110106016"
QUEUE = f"{API}/office/queue/"


@pytest.fixture
def cases(reference_data):
    """A new public case in each of Nanyuan and Heyi, and a private one in Heyi."""
    return {
        "nanyuan": report("E0101", community=HUAIFANG).case,
        "heyi": report("E0101", community=HEYI_XILI_1, reporter="rider2").case,
        "heyi_private": report("L0101", community=HEYI_XILI_1, point=1,
                               reporter="rider2").case,
    }


def queue_ids(username: str, **params) -> set[int]:
    answer = client_for(username).get(QUEUE, params)
    assert answer.status_code == 200, answer.content
    return {row["id"] for row in answer.json()["cases"]}


def test_each_office_queues_its_own_subdistrict_and_the_district_every_one(cases):
    nanyuan, heyi, private = cases["nanyuan"].pk, cases["heyi"].pk, cases["heyi_private"].pk
    assert queue_ids("office1") == {nanyuan}
    assert queue_ids("office_heyi1") == {heyi, private}
    assert queue_ids("office_district") == {nanyuan, heyi, private}
    assert queue_ids("office_district", subdistrict=HEYI) == {heyi, private}
    assert queue_ids("office1", subdistrict=HEYI) == set()  # not theirs: nothing, not an error
    answer = client_for("office_district").get(QUEUE, {"subdistrict": "110106999"},
                                               HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 400
    assert answer.json()["errors"][0] == {"field": "subdistrict", "code": "unknown",
                                          "message": "Unknown subdistrict code."}


def test_an_office_acts_only_in_its_subdistrict(cases):
    heyi, private = cases["heyi"], cases["heyi_private"]
    # A public case of Heyi: Nanyuan's office reads it as the public does, may not file it.
    assert client_for("office1").get(f"{API}/cases/{heyi.pk}/").status_code == 200
    assert client_for("office1").post(f"{API}/cases/{heyi.pk}/file/").status_code == 403
    # A private one: not found, as for anyone outside it.
    assert client_for("office1").get(f"{API}/cases/{private.pk}/").status_code == 404
    assert client_for("office1").post(f"{API}/cases/{private.pk}/file/").status_code == 404
    with pytest.raises(PermissionRefused):
        act(heyi, "file", "office1")
    assert Case.objects.get(pk=heyi.pk).stage == "new"
    assert client_for("office_heyi1").post(f"{API}/cases/{heyi.pk}/file/").status_code == 200
    assert client_for("office_district").post(
        f"{API}/cases/{private.pk}/file/").status_code == 200


def test_a_case_goes_to_a_team_of_its_subdistrict_or_a_department_serving_it(cases):
    heyi = act(cases["heyi"], "file", "office_heyi1")
    nanyuan_team = VolunteerTeam.objects.get(code="housekeeper")
    answer = client_for("office_heyi1").post(f"{API}/cases/{heyi.pk}/dispatch/",
                                             {"team": nanyuan_team.pk}, format="json")
    assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == "team"
    district = Department.objects.get(code="municipal")  # no subdistrict: serves every one
    act(heyi, "dispatch", "office_heyi1", department=district.pk)
    assert live_task(heyi).department_id == district.pk
    # A district department's liaison works the task wherever it is.
    act(heyi, "accept", "liaison_municipal")


def test_task_lists_and_rates_are_the_readers_subdistricts(cases):
    at = cst(2026, 3, 3, 10)
    for case, office in [(cases["nanyuan"], "office1"), (cases["heyi"], "office_heyi1")]:
        act(case, "file", office, at=at)
        act(case, "dispatch", office, at=at,
            department=Department.objects.get(code="municipal").pk)
    heyi_task = live_task(cases["heyi"]).pk

    def listed(username: str) -> set[int]:
        return {t["id"] for t in client_for(username).get(f"{API}/tasks/").json()["tasks"]}

    assert heyi_task not in listed("office1") and heyi_task in listed("office_heyi1")
    assert listed("office_district") == set(Task.objects.values_list("pk", flat=True))

    def rates(username: str) -> dict:
        return client_for(username).get(f"{API}/rates/", {
            "since": "2026-03-01T00:00:00+08:00", "until": "2026-04-01T00:00:00+08:00"}).json()

    assert [row["key"] for row in rates("office_district")["by_subdistrict"]] == [
        "110106005", HEYI]
    nanyuan = rates("office1")
    assert [row["key"] for row in nanyuan["by_subdistrict"]] == ["110106005"]
    assert nanyuan["overall"]["dispatched"] == 1


def test_the_office_of_the_cases_subdistrict_hears_of_it_and_the_district_role_does_not(cases):
    heyi = act(cases["heyi"], "file", "office_heyi1")
    act(heyi, "dispatch", "office_heyi1",
        department=Department.objects.get(code="municipal").pk)
    notify(kind="task_resolution_overdue", task=live_task(heyi), at=cst(2026, 3, 20))
    heard = set(Notification.objects.filter(kind="task_resolution_overdue")
                .values_list("recipient__username", flat=True))
    assert heard == {"office_heyi1"}


def test_the_union_replies_to_a_riders_need_of_its_own_subdistrict_only(cases):
    need = report("L0201", community=HEYI_XILI_1, point=2, reporter="rider2").case
    assert live_task(need).assignee_kind == Task.AssigneeKind.UNION
    path = f"{API}/cases/{need.pk}/reply/"
    assert client_for("union1").post(path, {"note": "已联系"}, format="json").status_code == 404
    assert {t["id"] for t in client_for("union1").get(f"{API}/tasks/").json()["tasks"]} == set()
    assert client_for("union_heyi1").post(path, {"note": "已联系"},
                                          format="json").status_code == 200
    assert set(Notification.objects.filter(kind="task_offered", case=need)
               .values_list("recipient__username", flat=True)) == {"union_heyi1"}
