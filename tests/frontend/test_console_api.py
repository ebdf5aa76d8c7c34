"""The console's list data (/office/cases/) and bulk actions (/office/cases/bulk/) over HTTP:
the query checked (an unknown value, sort or page is a 400 in the API's shape naming the
field), the counts keyed by the form's values, and bulk outcomes case by case."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from issues.models import Case, CaseEvent, Stage
from tests.patrol.helpers import CHENGYUAN, HEYI_XILI_1, HUAIFANG, XINGONG, act, report

pytestmark = pytest.mark.django_db

FEED = "/office/cases/"
BULK = "/office/cases/bulk/"


@pytest.fixture
def office(client):
    client.force_login(get_user_model().objects.get(username="office1"))
    return client


@pytest.fixture
def cases(reference_data):
    new = report("E0101", community=HUAIFANG, description="楼道里堆满了杂物").case
    filed = report("E0201", community=CHENGYUAN, description="电线杆上的小广告").case
    act(filed, "file", "office1")
    other = report("C0103", community=XINGONG, point=1).case
    heyi = report("E0101", community=HEYI_XILI_1, reporter="rider2").case
    return {"new": new, "filed": filed, "other": other, "heyi": heyi}


@pytest.mark.parametrize(("query", "field"), [
    ({"stage": "closed"}, "stage"),  # not an open stage
    ({"stage": "nonsense"}, "stage"),
    ({"category": "X9999"}, "category"),
    ({"community": HEYI_XILI_1}, "community"),  # not Nanyuan's office's
    ({"handler": "team:nobody"}, "handler"),
    ({"due": "tomorrow"}, "due"),
    ({"priority": "3"}, "priority"),  # the API word is the code: urgent, high, normal
    ({"channel": "fax"}, "channel"),
    ({"kind": "X"}, "kind"),
    ({"sort": "oldest"}, "sort"),
    ({"page": "0"}, "page"),
    ({"page": "two"}, "page"),
    ({"page_size": "100000"}, "page_size"),
    ({"created_from": "2026-13-01"}, "created_from"),
    ({"created_from": "2026-12-05", "created_to": "2026-12-01"}, "created_from"),
    ({"q": "垃"}, "q"),  # one character is not a search
])
def test_an_unknown_value_is_a_400_naming_the_field(cases, office, query, field):
    answer = office.get(FEED, query, HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 400, answer.content
    errors = answer.json()["errors"]
    assert [error["field"] for error in errors] == [field]
    assert errors[0]["message"] and errors[0]["code"]


def test_a_page_past_the_last_is_a_400(cases, office):
    answer = office.get(FEED, {"page": "2"}, HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 400
    assert answer.json()["errors"] == [{"field": "page", "code": "out_of_range",
                                        "message": "There is no such page: the list has 1."}]


def test_the_feed_answers_a_page_its_total_and_counts_in_the_forms_words(cases, office):
    body = office.get(FEED, {"stage": "filed"}).json()
    assert [row["id"] for row in body["cases"]] == [cases["filed"].pk]
    assert (body["total"], body["page"], body["pages"]) == (1, 1, 1)
    assert body["facets"]["stage"] == {"new": 2, "filed": 1}
    assert body["facets"]["category"] == {"E0201": 1}
    assert body["facets"]["community"] == {CHENGYUAN: 1}
    assert body["facets"]["priority"] == {"normal": 1}
    row = body["cases"][0]
    assert row["priority"] == "normal" and row["category"] == "E0201"
    assert office.get(FEED, {"stage": "filed", "facets": "0"}).json()["facets"] is None
    # the counts alone, as the page asks for them after the list: the same counts and total
    counted = office.get(FEED, {"stage": "filed", "facets": "only"}).json()
    assert counted == {"total": 1, "total_capped": False, "facets": body["facets"]}


def test_an_unknown_facets_switch_is_a_400_naming_it(cases, office):
    answer = office.get(FEED, {"facets": "all"}, HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 400
    assert answer.json()["errors"] == [{
        "field": "facets", "code": "invalid",
        "message": "Choose 1 (with the counts), 0 (without) or only (the counts alone)."}]


def test_the_feed_searches_and_never_shows_another_subdistricts_case(cases, office):
    def found(q: str) -> list[int]:
        return [row["id"] for row in office.get(FEED, {"q": q}).json()["cases"]]

    assert found("杂物") == [cases["new"].pk]
    assert found(f"#{cases['filed'].pk}") == [cases["filed"].pk]
    assert found(str(cases["heyi"].pk)) == []


def test_bulk_files_each_case_and_says_per_case_what_happened(cases, office):
    ids = [cases["new"].pk, cases["filed"].pk, cases["heyi"].pk, 999_999]
    answer = office.post(BULK, json.dumps({"action": "file", "cases": ids}),
                         content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 200, answer.content
    results = {result["id"]: result for result in answer.json()["results"]}
    assert results[cases["new"].pk] == {"id": cases["new"].pk, "ok": True, "stage": "filed"}
    refused = results[cases["filed"].pk]  # already filed: the allowed actions come back
    assert (refused["ok"], refused["status"]) == (False, 409)
    assert refused["errors"][0]["field"] == "action" and "dispatch" in refused["allowed"]
    assert results[cases["heyi"].pk]["status"] == 403  # 和义's: not Nanyuan's office's to file
    assert results[999_999]["status"] == 404
    assert Case.objects.get(pk=cases["new"].pk).stage == Stage.FILED
    assert Case.objects.get(pk=cases["heyi"].pk).stage == Stage.NEW


def test_bulk_cancel_takes_the_reason(cases, office):
    answer = office.post(BULK, json.dumps({"action": "cancel", "cases": [cases["other"].pk],
                                           "reason": "重复上报"}),
                         content_type="application/json")
    assert answer.json()["results"][0]["ok"] is True
    case = Case.objects.get(pk=cases["other"].pk)
    assert (case.stage, case.cancel_reason) == (Stage.CANCELLED, "重复上报")


@pytest.mark.parametrize(("body", "field"), [
    ({"action": "explode", "cases": [1]}, "action"),
    ({"action": "rate", "cases": [1]}, "action"),
    ({"action": "file", "cases": []}, "cases"),
    ({"action": "file", "cases": ["1"]}, "cases"),
    ({"action": "file", "cases": list(range(1, 300))}, "cases"),
    ({"action": "file", "cases": [1], "reason": "x" * 201}, "reason"),
])
def test_bulk_bad_input_is_a_400_and_changes_nothing(cases, office, body, field):
    body = {**body, "cases": [cases["new"].pk] if body["cases"] == [1] else body["cases"]}
    events = CaseEvent.objects.count()
    answer = office.post(BULK, json.dumps(body), content_type="application/json",
                         HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 400, answer.content
    assert answer.json()["errors"][0]["field"] == field
    assert CaseEvent.objects.count() == events
    assert Case.objects.get(pk=cases["new"].pk).stage == Stage.NEW


def test_bulk_is_office_staffs_only(cases, client):
    client.force_login(get_user_model().objects.get(username="hk_lead"))
    answer = client.post(BULK, json.dumps({"action": "file", "cases": [cases["new"].pk]}),
                         content_type="application/json")
    assert answer.status_code == 403
    assert Case.objects.get(pk=cases["new"].pk).stage == Stage.NEW


def test_the_counts_are_kept_until_the_number_of_open_cases_changes(cases, office, settings):
    from django.core.cache import cache

    settings.CONSOLE_FACETS_CACHE_S = 30
    cache.clear()
    first = office.get(FEED).json()["facets"]
    assert first["stage"] == {"new": 2, "filed": 1}
    act(cases["new"], "file", "office1")  # still open: the kept counts answer
    assert office.get(FEED).json()["facets"] == first
    assert office.get(FEED, {"facets": "0"}).json()["facets"] is None
    report("E0505", community=CHENGYUAN, point=5)  # one more open case: counted afresh
    assert office.get(FEED).json()["facets"]["stage"] == {"new": 2, "filed": 2}
    cache.clear()
