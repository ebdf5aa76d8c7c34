"""Routing: database rules (place before everywhere), the category's default handler, the
locality, the least busy team; who is dispatched on intake and who waits for the office.

Expected handlers are read from fixtures/categories.json and fixtures/demo_people.json, not from
the database the code reads, so a wrong import would show here too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from civicmap.models import CommunityGrid
from issues.models import CaseEvent, Category
from patrol.models import Department, RoutingRule, Task, VolunteerTeam
from patrol.routing import rules_at_place
from tests.patrol.helpers import (
    API,
    HUAIFANG,
    XINGONG,
    act,
    app_report,
    case_in_stage,
    client_for,
    cst,
    live_task,
    report,
)

pytestmark = pytest.mark.django_db

CATALOGUE = json.loads((Path(settings.BASE_DIR) / "fixtures" / "categories.json")
                       .read_text(encoding="utf-8"))["categories"]


def codes(predicate) -> list[str]:
    return [item["code"] for item in CATALOGUE if predicate(item)]


def dispatched_to(case) -> tuple[str, str | None]:
    """File and dispatch through the API without naming a target; where did it go?"""
    office = client_for("office1")
    assert office.post(f"{API}/cases/{case.pk}/file/").status_code == 200
    answer = office.post(f"{API}/cases/{case.pk}/dispatch/")
    assert answer.status_code == 200, answer.content
    task = live_task(case)
    return task.assignee_kind, (task.team.code if task.team else
                                task.department.code if task.department else None)


def rule(category: str, *, community: str | None = None, **target) -> RoutingRule:
    kind = ("team" if "team" in target else "department" if "department" in target
            else "team_type" if "team_type" in target else "union")
    values = {"team": VolunteerTeam.objects.get(code=target["team"])} if "team" in target else {}
    if "department" in target:
        values["department"] = Department.objects.get(code=target["department"])
    if "team_type" in target:
        values["team_type"] = target["team_type"]
    return RoutingRule.objects.create(
        category=Category.objects.get(code=category), target=kind,
        community=CommunityGrid.objects.get(code=community) if community else None, **values)


def load(team_code: str, count: int, *, community: str = XINGONG, first_point: int = 0) -> list:
    """Give a team ``count`` live (offered) tasks, on cases elsewhere."""
    cases = []
    team = VolunteerTeam.objects.get(code=team_code)
    for index in range(count):
        case = report("E0105", community=community, point=first_point + index).case
        act(case, "dispatch", "office1", team=team.pk)
        cases.append(case)
    return cases


# --- the rules at a place, read in one statement -------------------------------------------


def _rules_by_orm(*, category_id: int, community_id: int | None, subdistrict_id: int) -> list:
    """The reference: the ORM query route_for_case sent before (issue 20)."""
    return list(RoutingRule.objects.filter(category=category_id).filter(
        Q(community=community_id) | Q(community__isnull=True, subdistrict=subdistrict_id)
        | Q(community__isnull=True, subdistrict__isnull=True)).select_related("team", "department"))


def _values(instance) -> tuple | None:
    if instance is None:
        return None
    return tuple((field.attname, getattr(instance, field.attname))
                 for field in instance._meta.concrete_fields)


def _loaded(rules: list[RoutingRule]) -> list[tuple]:
    return sorted((_values(r), _values(r.team), _values(r.department)) for r in rules)


def test_the_rules_at_a_place_are_the_orms_read_in_one_statement(reference_data):
    rule("E0101", community=HUAIFANG, team="sunset")  # a community's
    rule("E0101", community=XINGONG, department="property")  # another community's
    rule("E0101", department="greening")  # the district's
    rule("E0502", community=HUAIFANG)  # the union
    rule("E0105", community=XINGONG, team_type="civility")  # a team type's
    heyi = CommunityGrid.objects.exclude(
        subdistrict=CommunityGrid.objects.get(code=HUAIFANG).subdistrict).first()
    RoutingRule.objects.create(category=Category.objects.get(code="E0101"), target="union",
                               subdistrict=heyi.subdistrict)  # another subdistrict's
    places = [(community.pk, community.subdistrict_id) for community in CommunityGrid.objects.all()]
    places.append((None, heyi.subdistrict_id))  # no community: the rules of none
    categories = set(RoutingRule.objects.values_list("category", flat=True))
    categories.add(Category.objects.exclude(pk__in=categories).first().pk)  # one without rules
    found = 0
    for category_id in categories:
        for community_id, subdistrict_id in places:
            place = {"category_id": category_id, "community_id": community_id,
                     "subdistrict_id": subdistrict_id}
            with CaptureQueriesContext(connection) as queries:
                read = rules_at_place(**place)
                _loaded(read)  # every team and department is loaded already
            assert len(queries) == 1
            assert _loaded(read) == _loaded(_rules_by_orm(**place))
            found += len(read)
    assert found > len(places)  # places with rules of each reach were compared


# --- the order: place rule, category rule, default handler, locality --------------------------


def test_without_rules_the_categorys_default_handler_decides(reference_data):
    # E0101 exposed garbage: handler team type "housekeeper" (categories.json).
    assert dispatched_to(report("E0101", community=HUAIFANG).case) == ("team", "housekeeper")


def test_a_rule_for_the_category_everywhere_beats_the_default_handler(reference_data):
    rule("E0101", department="greening")
    assert dispatched_to(report("E0101", community=HUAIFANG).case) == ("department", "greening")
    assert dispatched_to(report("E0101", community=XINGONG).case) == ("department", "greening")


def test_a_rule_for_the_category_in_the_community_beats_the_rule_everywhere(reference_data):
    rule("E0101", department="greening")
    rule("E0101", community=HUAIFANG, team="sunset")
    # In Huaifang the place rule decides; in Xingong, with no place rule, the general one does.
    assert dispatched_to(report("E0101", community=HUAIFANG).case) == ("team", "sunset")
    assert dispatched_to(report("E0101", community=XINGONG).case) == ("department", "greening")
    # The rule order does not depend on which rule was written first.
    RoutingRule.objects.all().delete()
    rule("E0101", community=XINGONG, department="property")
    rule("E0101", department="greening")
    assert dispatched_to(report("E0101", community=XINGONG, point=3).case) == (
        "department", "property")


def test_a_rule_to_the_union_sends_an_ordinary_category_to_the_union(reference_data):
    rule("E0502", community=HUAIFANG)  # target union: e-bikes parked in disorder by riders
    assert dispatched_to(report("E0502", community=HUAIFANG).case) == ("union", None)


def test_a_team_type_rule_with_no_team_in_the_community_falls_through(reference_data):
    # Civility teams: civility_east serves Huaifang. Take it away: the place rule asking for a
    # civility team there finds none, so the rule for the category everywhere decides.
    VolunteerTeam.objects.get(code="civility_east").communities.remove(
        CommunityGrid.objects.get(code=HUAIFANG))
    rule("E0101", community=HUAIFANG, team_type="civility")
    rule("E0101", department="chengguan")
    assert dispatched_to(report("E0101", community=HUAIFANG).case) == ("department",
                                                                       "chengguan")
    # In Xingong civility_west serves, so the same kind of rule finds a team there.
    rule("E0101", community=XINGONG, team_type="civility")
    assert dispatched_to(report("E0101", community=XINGONG).case) == ("team", "civility_west")


def test_with_no_team_of_the_default_type_the_locality_handles_it(reference_data):
    # E0201 flyers: default handler a civility team. Huaifang loses its civility team, so any
    # team serving Huaifang may take it: housekeeper and sunset, both idle; the tie goes to the
    # lower code, "housekeeper" < "sunset".
    VolunteerTeam.objects.get(code="civility_east").communities.remove(
        CommunityGrid.objects.get(code=HUAIFANG))
    assert dispatched_to(report("E0201", community=HUAIFANG, point=0).case) == (
        "team", "housekeeper")
    # housekeeper now has that live task; sunset has none, so sunset gets the next.
    assert dispatched_to(report("E0201", community=HUAIFANG, point=3).case) == (
        "team", "sunset")


def test_with_nobody_serving_the_community_the_office_must_choose(reference_data):
    huaifang = CommunityGrid.objects.get(code=HUAIFANG)
    huaifang.teams.clear()
    case = report("E0201", community=HUAIFANG).case
    office = client_for("office1")
    assert office.post(f"{API}/cases/{case.pk}/file/").status_code == 200
    answer = office.post(f"{API}/cases/{case.pk}/dispatch/")
    assert answer.status_code == 409
    assert answer.json()["errors"][0]["code"] == "no_route"
    assert not Task.objects.filter(case=case).exists()
    assert live_task(case) is None and case.__class__.objects.get(pk=case.pk).stage == "filed"
    team = VolunteerTeam.objects.get(code="civility_west")
    assert office.post(f"{API}/cases/{case.pk}/dispatch/", {"team": team.pk}).status_code == 200
    assert live_task(case).team == team


# --- least busy -------------------------------------------------------------------------------


def test_among_eligible_teams_the_one_with_the_fewest_live_tasks_wins(reference_data):
    # A second housekeeper team serving Huaifang, led by a new volunteer.
    leader = get_user_model().objects.create(username="hk2_lead")
    huaifang = CommunityGrid.objects.get(code=HUAIFANG)
    second = VolunteerTeam.objects.create(code="housekeeper_b", team_type="housekeeper",
                                          name_zh="南苑管家二队", name_en="Housekeeper B",
                                          leader=leader, subdistrict=huaifang.subdistrict)
    second.communities.add(huaifang)

    # Both idle: the tie goes to the lower code, "housekeeper" < "housekeeper_b".
    assert dispatched_to(report("E0101", community=HUAIFANG, point=0).case) == (
        "team", "housekeeper")
    # housekeeper: 1 live task (that one) + 2 loaded = 3; housekeeper_b: 0.
    load("housekeeper", 2)
    assert dispatched_to(report("E0101", community=HUAIFANG, point=3).case) == (
        "team", "housekeeper_b")
    # housekeeper 3, housekeeper_b 1: still housekeeper_b.
    assert dispatched_to(report("E0101", community=HUAIFANG, point=6).case) == (
        "team", "housekeeper_b")
    # Finished tasks do not count: housekeeper's three are declined (back to the office), so it
    # has 0 live tasks against housekeeper_b's 2.
    for task in Task.objects.filter(team__code="housekeeper", status="offered"):
        act(task.case_id, "decline", "hk_vol1", reason="人手不足")
    assert dispatched_to(report("E0101", community=HUAIFANG, point=9).case) == (
        "team", "housekeeper")


def test_live_tasks_in_other_communities_count_too(reference_data):
    # Sunset and housekeeper both serve Huaifang (the locality for E0201 once civility_east
    # is gone). Their live tasks are all in Xingong: housekeeper 2, sunset 1. The count is per
    # team, not per community, so sunset wins, though the tie-break by code would pick
    # housekeeper.
    VolunteerTeam.objects.get(code="civility_east").communities.remove(
        CommunityGrid.objects.get(code=HUAIFANG))
    load("housekeeper", 2)
    load("sunset", 1, first_point=4)
    assert dispatched_to(report("E0201", community=HUAIFANG).case) == ("team", "sunset")


# --- components go to their owner -------------------------------------------------------------


@pytest.mark.parametrize("code", codes(lambda c: c["code"].startswith("C")))
def test_a_component_goes_to_its_owner(reference_data, code):
    handler = next(item["handler"] for item in CATALOGUE if item["code"] == code)
    expected = (("department", handler["department"]) if handler["type"] == "department"
                else ("team", handler["team_type"]))  # the one team of each non-civility type
    assert dispatched_to(report(code, community=HUAIFANG).case) == expected


# --- who is dispatched on intake --------------------------------------------------------------


@pytest.mark.parametrize("code", codes(lambda c: c["urgency"] == "emergency"))
def test_an_emergency_is_dispatched_on_intake_to_its_handler(reference_data, code):
    handler = next(item["handler"] for item in CATALOGUE if item["code"] == code)
    received = cst(2026, 10, 1, 23, 50)  # a holiday night: emergencies run around the clock
    case = report(code, community=HUAIFANG, at=received).case
    assert case.stage == "dispatched"
    task = live_task(case)
    assert (task.assignee_kind, task.department.code) == ("department", handler["department"])
    # Emergencies: response 0.5 hours, resolution 2 hours (categories.json), in plain hours.
    assert task.offered_at == received
    assert task.response_due == cst(2026, 10, 2, 0, 20)
    assert task.resolution_due == cst(2026, 10, 2, 1, 50)
    event = CaseEvent.objects.get(case=case, action="dispatch")
    assert (event.actor, event.from_stage, event.to_stage) == (None, "new", "dispatched")


def test_a_category_set_to_auto_dispatch_is_dispatched_on_intake(reference_data):
    Category.objects.filter(code="E0201").update(auto_dispatch=True)
    case = report("E0201", community=HUAIFANG).case
    assert case.stage == "dispatched"
    # Default handler: a civility team serving Huaifang, i.e. civility_east.
    assert live_task(case).team.code == "civility_east"
    # The team hears of it at once.
    assert "E0201" in [t["category"] for t in client_for("ce_vol1").get(f"{API}/tasks/")
                       .json()["tasks"]]


@pytest.mark.parametrize("code", ["E0101", "C0103", "C0101", "E0403", "L0101", "L0102"])
def test_other_categories_wait_for_the_office_as_new(reference_data, code):
    item = next(c for c in CATALOGUE if c["code"] == code)
    assert item["urgency"] != "emergency" and not item["auto_dispatch"]
    assert item["handler"]["type"] != "union"
    case = report(code, community=HUAIFANG).case
    assert case.stage == "new"
    assert not Task.objects.filter(case=case).exists()
    queue = client_for("office1").get(f"{API}/office/queue/").json()["cases"]
    assert [c["id"] for c in queue] == [case.pk]


@pytest.mark.parametrize("code", codes(lambda c: c["handler"]["type"] == "union"))
def test_a_riders_need_goes_to_the_union_on_intake(reference_data, code):
    assert code.startswith("L02")
    case = app_report(code, community=HUAIFANG, reporter="rider3").case
    assert case.stage == "dispatched"
    task = live_task(case)
    assert (task.assignee_kind, task.team, task.department) == ("union", None, None)
    assert [t["case"] for t in client_for("union1").get(f"{API}/tasks/").json()["tasks"]] == [
        case.pk]


def test_a_duplicate_report_does_not_dispatch_twice(reference_data):
    first = report("E0401", community=HUAIFANG, point=0, reporter="rider1").case
    second = report("E0401", community=HUAIFANG, point=0, reporter="rider2").case
    assert first == second
    assert Task.objects.filter(case=first).count() == 1


def test_the_office_may_still_choose_a_target_over_the_routing(reference_data):
    case = case_in_stage("filed", category="E0101")
    department = Department.objects.get(code="property")
    act(case, "dispatch", "office1", department=department.pk)
    assert live_task(case).department == department
