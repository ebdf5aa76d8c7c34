"""The office console's list (patrol.console): search, each filter, each sort, the counts
beside the filters, paging and scoping (issue 17).

Cases are made through the real intake and moved through ``case_act`` (tests.patrol.helpers);
office1 works for Nanyuan, office_heyi1 for 和义, office_district for every subdistrict."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from civicmap.models import CommunityGrid, UnitGrid
from issues.models import Case, Category, Priority
from patrol.console import ConsoleFilters, ConsoleSort, Handler, office_console_page
from patrol.models import Department, Task, VolunteerTeam
from patrol.selectors import DUE_SOON_HOURS
from tests.patrol.helpers import (
    CHENGYUAN,
    HEYI_XILI_1,
    HUAIFANG,
    XINGONG,
    act,
    app_report,
    live_task,
    report,
    user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def cases(reference_data):
    """Five open cases in Nanyuan and one in 和义, each different in one way or more:

    garbage  E0101 槐房, words 楼下暴露垃圾很多, filed and dispatched (to a team), Open311
    lamp     C0103 新宫, words 路灯不亮, new, urgent, two reports
    ads      E0201 诚苑, words 小广告贴满电线杆, filed
    parking  E0501 槐房 point 2, no words, dispatched then overdue (its deadline moved back)
    pipe     E0402 新宫 point 3 (dispatched on intake to a department, not yet late)
    heyi     E0101 和义西里第一社区, words 楼下暴露垃圾很多 (the same words as garbage)
    """
    now = timezone.now()
    garbage = report("E0101", community=HUAIFANG, description="楼下暴露垃圾很多",
                     at=now - timedelta(hours=5)).case
    act(garbage, "file", "office1")
    act(garbage, "dispatch", "office1")
    lamp = report("C0103", community=XINGONG, point=1, description="路灯不亮",
                  at=now - timedelta(hours=4)).case
    report("C0103", community=XINGONG, point=1, reporter="rider2",
           description="晚上路灯一直不亮", at=now - timedelta(hours=1))
    Case.objects.filter(pk=lamp.pk).update(priority=Priority.URGENT)
    ads = report("E0201", community=CHENGYUAN, description="小广告贴满电线杆",
                 at=now - timedelta(hours=3)).case
    act(ads, "file", "office1")
    parking = report("E0501", community=HUAIFANG, point=2, at=now - timedelta(hours=2)).case
    act(parking, "file", "office1", at=now - timedelta(hours=2))
    act(parking, "dispatch", "office1", at=now - timedelta(hours=2))
    Task.objects.filter(pk=live_task(parking).pk).update(  # overdue an hour ago
        response_due=now - timedelta(hours=1), resolution_due=now - timedelta(hours=1))
    pipe = report("E0402", community=XINGONG, point=3,  # 30 minutes to respond
                  at=now - timedelta(minutes=10)).case
    heyi = report("E0101", community=HEYI_XILI_1, reporter="rider2",
                  description="楼下暴露垃圾很多", at=now - timedelta(minutes=5)).case
    # Intake starts a case at its category's urgency (D-058: the pipe's E0402 is urgent): the
    # others are levelled to normal so that only the lamp stands out.
    Case.objects.exclude(pk=lamp.pk).update(priority=Priority.NORMAL)
    return {name: Case.objects.get(pk=case.pk) for name, case in {
        "garbage": garbage, "lamp": lamp, "ads": ads, "parking": parking, "pipe": pipe,
        "heyi": heyi}.items()}


def ids(username: str = "office1", **filters) -> list[int]:
    page = office_console_page(user=user(username), filters=ConsoleFilters(**filters),
                               with_facets=False)
    return [row.id for row in page.rows]


def pk(cases, *names: str) -> list[int]:
    return [cases[name].pk for name in names]


def test_the_list_is_the_offices_open_cases_newest_report_first(cases):
    assert ids() == pk(cases, "pipe", "lamp", "parking", "ads", "garbage")
    assert ids("office_heyi1") == pk(cases, "heyi")
    assert ids("office_district")[0] == cases["heyi"].pk
    assert len(ids("office_district")) == 6


def test_nanyuans_office_never_sees_a_heyi_case_whatever_it_searches(cases):
    assert ids(search="暴露垃圾") == pk(cases, "garbage")
    assert ids(search=str(cases["heyi"].pk)) == []
    assert ids(search="和义西里") == []
    assert ids("office_district", search="暴露垃圾") == pk(cases, "heyi", "garbage")


def test_search_by_case_number_with_or_without_hash(cases):
    assert ids(search=str(cases["ads"].pk)) == pk(cases, "ads")
    assert ids(search=f"#{cases['ads'].pk}") == pk(cases, "ads")


def test_search_by_two_chinese_characters_and_longer_words(cases):
    assert ids(search="路灯") == pk(cases, "lamp")
    assert ids(search="广告") == pk(cases, "ads")
    assert ids(search="贴满电线杆") == pk(cases, "ads")
    # the second report's words are searched too
    assert ids(search="一直不亮") == pk(cases, "lamp")
    assert ids(search="没有这句话") == []
    assert ids(search="路%") == []  # % and _ are themselves, not wildcards
    assert ids(search="__") == []


def test_search_by_community_name_or_code(cases):
    assert ids(search="诚苑") == pk(cases, "ads")
    assert set(ids(search=XINGONG)) == set(pk(cases, "lamp", "pipe"))


def test_search_by_unit_grid_id(cases):
    grid = UnitGrid.objects.get(pk=cases["ads"].unit_grid_id).grid_id
    assert ids(search=grid) == pk(cases, "ads")
    assert ids(search="110106005999999") == []


def test_filter_by_stage_category_kind_and_community(cases):
    assert ids(stage="new") == pk(cases, "lamp")
    assert ids(stage="filed") == pk(cases, "ads")
    category = Category.objects.get(code="E0201")
    assert ids(category_id=category.pk) == pk(cases, "ads")
    assert ids(kind="C") == pk(cases, "lamp")
    chengyuan = CommunityGrid.objects.get(code=CHENGYUAN)
    assert ids(community_id=chengyuan.pk) == pk(cases, "ads")


def test_filter_by_handler_team_department(cases):
    team = live_task(cases["garbage"]).team
    assert ids(handler=Handler(kind="team", id=team.pk)) == pk(cases, "garbage")
    department = Department.objects.get(pk=live_task(cases["pipe"]).department_id)
    assert ids(handler=Handler(kind="department", id=department.pk)) == pk(cases, "pipe")
    other = VolunteerTeam.objects.exclude(pk=team.pk).exclude(
        pk=live_task(cases["parking"]).team_id).first()
    assert ids(handler=Handler(kind="team", id=other.pk)) == []


def test_filter_overdue_and_due_soon_by_patrols_rules(cases):
    assert ids(due="overdue") == pk(cases, "parking")
    assert ids(due="soon") == pk(cases, "pipe")  # an emergency: 2 hours to resolve
    soon = timezone.now() + timedelta(hours=DUE_SOON_HOURS - 1)
    Task.objects.filter(pk=live_task(cases["garbage"]).pk).update(
        status="accepted", resolution_due=soon)
    assert ids(due="soon") == pk(cases, "pipe", "garbage")
    Task.objects.filter(pk=live_task(cases["garbage"]).pk).update(
        resolution_due=timezone.now() + timedelta(hours=DUE_SOON_HOURS + 1))
    assert ids(due="soon") == pk(cases, "pipe")
    # still offered and past its response deadline: overdue, not due soon
    Task.objects.filter(pk=live_task(cases["pipe"]).pk).update(
        response_due=F("offered_at"))
    assert ids(due="soon") == []
    assert ids(due="overdue") == pk(cases, "pipe", "parking")


def test_filter_by_priority_channel_and_created_dates(cases):
    assert ids(priority=Priority.URGENT) == pk(cases, "lamp")
    assert ids(channel="app") == []
    assert len(ids(channel="open311")) == 5
    elder = app_report("L0102", community=CHENGYUAN, point=4, description="老人出行求助").case
    assert ids(channel="app") == [elder.pk]
    today = timezone.localdate()
    Case.objects.filter(pk=cases["ads"].pk).update(
        created_at=timezone.now() - timedelta(days=3),
        last_report_at=timezone.now() - timedelta(days=3))
    assert cases["ads"].pk not in ids(created_from=today)
    assert ids(created_to=today - timedelta(days=2)) == pk(cases, "ads")


def test_the_sorts(cases):
    assert ids(sort=ConsoleSort.REPORTS)[0] == cases["lamp"].pk
    assert ids(sort=ConsoleSort.PRIORITY)[0] == cases["lamp"].pk
    deadline = ids(sort=ConsoleSort.DEADLINE)
    # the overdue one first; cases with no live task after every one that has
    assert deadline[0] == cases["parking"].pk
    assert set(deadline[3:]) == set(pk(cases, "lamp", "ads"))
    # a deadline state with the deadline sort: only its cases, soonest first, and no case
    # without a live task
    assert ids(sort=ConsoleSort.DEADLINE, due="overdue") == ids(due="overdue") == pk(
        cases, "parking")
    assert ids(sort=ConsoleSort.DEADLINE, due="soon") == pk(cases, "pipe")


def test_paging_and_the_total(cases):
    first = office_console_page(user=user("office1"),
                                filters=ConsoleFilters(page=1, page_size=2))
    second = office_console_page(user=user("office1"),
                                 filters=ConsoleFilters(page=2, page_size=2))
    assert first.total == second.total == 5
    assert [r.id for r in first.rows] + [r.id for r in second.rows] == pk(
        cases, "pipe", "lamp", "parking", "ads")


def test_counts_beside_each_filter_follow_the_other_filters(cases):
    page = office_console_page(user=user("office1"), filters=ConsoleFilters(stage="dispatched"))
    assert page.total == 3  # garbage, parking, pipe
    # the stage facet ignores the stage filter itself
    assert page.facets["stage"] == {"new": 1, "filed": 1, "dispatched": 3}
    # every other facet counts only dispatched cases
    assert sum(page.facets["channel"].values()) == 3
    assert page.facets["kind"] == {"E": 3}
    assert page.facets["due"] == {"overdue": 1, "soon": 1}
    assert page.facets["priority"] == {Priority.NORMAL: 3}
    team = live_task(cases["garbage"]).team_id
    assert page.facets["handler"][("team", team)] >= 1
    huaifang = CommunityGrid.objects.get(code=HUAIFANG).pk
    assert page.facets["community"][huaifang] == 2

    narrowed = office_console_page(user=user("office1"),
                                   filters=ConsoleFilters(stage="dispatched", kind="C"))
    assert narrowed.total == 0
    assert narrowed.facets["kind"] == {"E": 3}
    assert narrowed.facets["stage"] == {"new": 1}

    team = live_task(cases["parking"]).team_id
    late = office_console_page(user=user("office1"), filters=ConsoleFilters(
        due="overdue", handler=Handler(kind="team", id=team)))
    assert [row.id for row in late.rows] == pk(cases, "parking")
    assert late.facets["stage"] == {"dispatched": 1}
    # its own filter left out, the team's still in: the case due soon is a department's
    assert late.facets["due"] == {"overdue": 1}
    assert late.facets["handler"][("team", team)] == 1


def test_the_counts_are_one_query(cases, django_assert_max_num_queries):
    # the user's scope, communities, the count, the page's ids, its rows, the facets,
    # categories (and the savepoints of the test's transaction)
    with django_assert_max_num_queries(8):
        office_console_page(user=user("office1"), filters=ConsoleFilters(search="路灯"))


def test_the_words_follow_the_reports_through_merge_and_split(cases):
    from issues.models import Report

    other = report("E0201", community=CHENGYUAN, point=4, description="公告栏贴满传单").case
    act(other, "file", "office1")
    act(other, "merge", "office1", into=cases["ads"].pk)
    assert ids(search="传单") == pk(cases, "ads")
    moved = Report.objects.get(case=cases["ads"], description="公告栏贴满传单")
    act(cases["ads"], "split", "office1", reports=[moved.pk])
    split = Report.objects.get(pk=moved.pk).case
    assert ids(search="传单") == [split.pk]
    assert ids(search="电线杆") == pk(cases, "ads")
    assert Case.objects.get(pk=split.pk).channel == "open311"


def test_the_bulk_load_keeps_the_words_and_the_channel(reference_data):
    from django.utils import timezone

    from tests.frontend.helpers import map_history_load

    map_history_load(now=timezone.now())
    found = ids("office1", search="hotspot case")
    assert len(found) == 3
    assert set(Case.objects.filter(pk__in=found).values_list("channel", flat=True)) <= {
        "app", "open311"}
    assert all("hotspot case" in text for text in Case.objects.filter(pk__in=found)
               .values_list("search_text", flat=True))


def test_a_searchs_total_is_counted_up_to_a_cap(cases, monkeypatch):
    import patrol.console

    monkeypatch.setattr(patrol.console, "SEARCH_TOTAL_MAX", 1)
    page = office_console_page(user=user("office1"), filters=ConsoleFilters(search="路灯"),
                               with_facets=False)
    assert (page.total, page.total_capped) == (1, False)
    both = office_console_page(user=user("office_district"),
                               filters=ConsoleFilters(search="暴露垃圾"), with_facets=False)
    assert (both.total, both.total_capped, len(both.rows)) == (1, True, 2)


def test_a_live_task_filters_total_is_capped_and_the_counts_stay_exact(cases, monkeypatch):
    import patrol.console

    monkeypatch.setattr(patrol.console, "SEARCH_TOTAL_MAX", 1)
    overdue = ids(due="overdue")
    team = live_task(cases["parking"]).team_id
    for filters in (ConsoleFilters(due="overdue"),
                    ConsoleFilters(handler=Handler(kind="team", id=team))):
        page = office_console_page(user=user("office1"), filters=filters)
        matching = [row.id for row in page.rows]
        assert page.total == 1 and page.total_capped is (len(matching) > 1)
        if filters.due:
            assert matching == overdue
            assert page.facets["due"]["overdue"] == len(overdue)
    # without such a filter the total is exact
    assert office_console_page(user=user("office1"), filters=ConsoleFilters()).total == 5
