"""Every surface knows the subdistrict (issue 16): reports anywhere in the district belong to the
subdistrict whose grids hold them, through the app and Open311; the API carries each case's and
report's subdistrict code and filters by it (an unknown code is a 400 naming the field, in
Chinese by default and in English); Open311's ``jurisdiction_id`` is a subdistrict's code,
discovery lists them, and none means the whole district.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone, translation

from civicmap.api.fields import MSG_UNKNOWN_SUBDISTRICT
from civicmap.models import Subdistrict
from issues.models import Case, Report
from issues.open311.inputs import MSG_JURISDICTION_UNKNOWN
from issues.open311.selectors import district_jurisdiction_id
from issues.open311.services import MSG_JURISDICTION_MISMATCH
from issues.services.intake import MSG_OUTSIDE_AREA
from tests.issues.helpers import (
    API,
    CASES_URL,
    HUAIFANG,
    MY_REPORTS_URL,
    REPORTS_URL,
    assert_error_shape,
    body,
    client_for,
    post_report,
    post_report_at,
)
from tests.issues.test_open311_support import ROOT, demo_api_key, request_form

pytestmark = pytest.mark.django_db

NANYUAN, HEYI, DONGGAODI = "110106005", "110106016", "110106006"
# (lon, lat) WGS 84, each inside a unit grid of its subdistrict (fixtures/*_geography.geojson).
IN_HEYI = (116.3881, 39.8284)  # 和义西里第二社区 (110106016002)
IN_DONGGAODI = (116.4100, 39.7935)  # 西洼地社区 (110106006006)
# Inside Fengtai District, west of all three subdistricts: in none of them.
FENGTAI_OUTSIDE = (116.2500, 39.8500)
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}


def features(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return json.loads(response.content)["features"]


@pytest.fixture
def spread(rider):
    """One report in each subdistrict, through the rider app: {code: report feature}."""
    answers = {code: post_report_at(rider, point)
               for code, point in ((NANYUAN, HUAIFANG), (HEYI, IN_HEYI),
                                   (DONGGAODI, IN_DONGGAODI))}
    for answer in answers.values():
        assert answer.status_code == 201, answer.content
    return {code: body(answer) for code, answer in answers.items()}


# --- intake: anywhere in the district, refused outside every subdistrict ---------------------


def test_app_reports_belong_to_the_subdistrict_that_holds_them(spread):
    for code, feature in spread.items():
        assert feature["properties"]["subdistrict"] == code
        report = Report.objects.select_related("subdistrict", "case__subdistrict").get(
            pk=feature["id"])
        assert report.subdistrict.code == code and report.case.subdistrict.code == code
        assert feature["properties"]["community_grid"]["code"].startswith(code)


def test_a_report_outside_every_subdistrict_is_refused_in_both_channels(rider):
    before = Report.objects.count()
    answer = post_report(rider, headers=ENGLISH, lon=FENGTAI_OUTSIDE[0], lat=FENGTAI_OUTSIDE[1])
    assert answer.status_code == 400
    errors = assert_error_shape(answer)
    with translation.override("en"):
        assert {(e["field"], e["message"]) for e in errors} == {("lon", str(MSG_OUTSIDE_AREA))}
    posted = Client().post(f"{ROOT}/requests.json",
                           request_form(api_key=demo_api_key(), point=FENGTAI_OUTSIDE), **ENGLISH)
    assert posted.status_code == 400
    with translation.override("en"):
        assert posted.json() == [{"code": 400, "description": f"long: {MSG_OUTSIDE_AREA}"}]
    assert Report.objects.count() == before


def test_open311_posts_belong_to_their_subdistrict(reference_data):
    for code, point in ((HEYI, IN_HEYI), (DONGGAODI, IN_DONGGAODI)):
        posted = Client().post(f"{ROOT}/requests.json",
                               request_form(api_key=demo_api_key(), point=point))
        assert posted.status_code == 200, posted.content
        report = Report.objects.get(pk=posted.json()[0]["service_request_id"])
        assert report.subdistrict.code == code


# --- the API: the code in every representation, the filter ----------------------------------


def test_public_lists_carry_the_code_and_filter_by_it(spread):
    anonymous = client_for(None)
    every = features(anonymous.get(REPORTS_URL))
    assert {f["properties"]["subdistrict"] for f in every} == {NANYUAN, HEYI, DONGGAODI}
    for code, feature in spread.items():
        reports = features(anonymous.get(REPORTS_URL, {"subdistrict": code}))
        assert [f["id"] for f in reports] == [feature["id"]]
        cases = features(anonymous.get(CASES_URL, {"subdistrict": code}))
        assert [f["id"] for f in cases] == [feature["properties"]["case"]]
        assert cases[0]["properties"]["subdistrict"] == code


def test_a_riders_own_reports_and_nearby_cases_carry_the_code(rider, spread):
    mine = features(rider.get(MY_REPORTS_URL))
    assert {f["id"]: f["properties"]["subdistrict"] for f in mine} == {
        feature["id"]: code for code, feature in spread.items()}
    nearby = rider.get(f"{API}/reports/nearby/", {"lon": IN_HEYI[0], "lat": IN_HEYI[1],
                                                   "category": "C0103"})
    assert [case["subdistrict"] for case in body(nearby)["cases"]] == [HEYI]


def test_case_detail_queue_and_rates_carry_and_filter_by_the_code(spread):
    office = client_for("office_district")  # the district role: every subdistrict
    case_id = spread[DONGGAODI]["properties"]["case"]
    detail = body(office.get(f"{API}/cases/{case_id}/"))
    assert detail["subdistrict"] == DONGGAODI
    assert [report["subdistrict"] for report in detail["reports"]] == [DONGGAODI]
    queue = body(office.get(f"{API}/office/queue/", {"subdistrict": HEYI}))["cases"]
    assert [(c["id"], c["subdistrict"]) for c in queue] == [
        (spread[HEYI]["properties"]["case"], HEYI)]
    everywhere = body(office.get(f"{API}/office/queue/"))["cases"]
    assert {c["subdistrict"] for c in everywhere} == {NANYUAN, HEYI, DONGGAODI}
    now = timezone.now()
    window = {"since": (now - timedelta(days=1)).isoformat(), "until": now.isoformat()}
    rates = office.get(f"{API}/rates/", {**window, "subdistrict": HEYI})
    assert rates.status_code == 200, rates.content
    assert {"overall", "by_subdistrict", "by_team"} <= set(body(rates))


@pytest.mark.parametrize("path", ["reports/", "cases/", "stations/"])
@pytest.mark.parametrize("value", ["110106999", "nanyuan", "1101060050"])
def test_an_unknown_subdistrict_is_a_400_naming_the_field(reference_data, path, value):
    answers = {language: client_for(None).get(f"{API}/{path}", {"subdistrict": value},
                                              HTTP_ACCEPT_LANGUAGE=language)
               for language in ("zh-hans", "en")}
    for language, answer in answers.items():
        assert answer.status_code == 400
        with translation.override(language):
            assert assert_error_shape(answer) == [
                {"field": "subdistrict", "code": "unknown",
                 "message": str(MSG_UNKNOWN_SUBDISTRICT)}]
    assert body(answers["zh-hans"])["errors"][0]["message"] == "未知的街道代码。"


@pytest.mark.parametrize("path", ["office/queue/", "rates/?since=2026-01-01T00:00:00Z"
                                  "&until=2026-02-01T00:00:00Z"])
def test_the_office_lists_refuse_an_unknown_subdistrict(reference_data, path):
    joiner = "&" if "?" in path else "?"
    answer = client_for("office_district").get(f"{API}/{path}{joiner}subdistrict=110106999")
    assert answer.status_code == 400
    assert [e["field"] for e in assert_error_shape(answer)] == ["subdistrict"]


def test_stations_carry_the_code_and_filter_by_it(reference_data):
    anonymous = client_for(None)
    every = features(anonymous.get(f"{API}/stations/"))
    codes = {f["properties"]["subdistrict"] for f in every}
    assert NANYUAN in codes and codes <= {NANYUAN, HEYI, DONGGAODI}
    for code in codes:
        only = features(anonymous.get(f"{API}/stations/", {"subdistrict": code}))
        assert only and {f["properties"]["subdistrict"] for f in only} == {code}
    assert sum(len(features(anonymous.get(f"{API}/stations/", {"subdistrict": code})))
               for code in codes) == len(every)


# --- Open311: jurisdiction_id is the subdistrict's code ---------------------------------------


def test_discovery_lists_every_subdistrict_as_a_jurisdiction(reference_data):
    answer = Client().get(f"{ROOT}/discovery.json", **ENGLISH)
    assert answer.status_code == 200
    listed = answer.json()["jurisdictions"]
    assert [j["jurisdiction_id"] for j in listed] == sorted(
        Subdistrict.objects.values_list("code", flat=True))
    heyi = next(j for j in listed if j["jurisdiction_id"] == HEYI)
    assert heyi["name"] == heyi["name_en"] and heyi["name_zh"].startswith("和义")
    xml = Client().get(f"{ROOT}/discovery.xml").content.decode()
    assert f"<jurisdiction><jurisdiction_id>{HEYI}</jurisdiction_id>" in xml


def test_get_requests_filter_by_jurisdiction_and_none_is_the_district(spread):
    client = Client()
    every = client.get(f"{ROOT}/requests.json", {"extensions": "true"}).json()
    assert {item["extended_attributes"]["jurisdiction_id"] for item in every} == {
        NANYUAN, HEYI, DONGGAODI}
    assert len(client.get(f"{ROOT}/requests.json",
                          {"jurisdiction_id": district_jurisdiction_id()}).json()) == len(every)
    for code, feature in spread.items():
        listed = client.get(f"{ROOT}/requests.json", {"jurisdiction_id": code}).json()
        assert [item["service_request_id"] for item in listed] == [str(feature["id"])]
    heyi_id = spread[HEYI]["id"]
    assert client.get(f"{ROOT}/requests/{heyi_id}.json",
                      {"jurisdiction_id": HEYI}).status_code == 200
    assert client.get(f"{ROOT}/requests/{heyi_id}.json",
                      {"jurisdiction_id": NANYUAN}).status_code == 404


def test_a_post_in_its_jurisdiction_is_accepted(reference_data):
    posted = Client().post(f"{ROOT}/requests.json", request_form(
        api_key=demo_api_key(), point=IN_HEYI, jurisdiction_id=HEYI))
    assert posted.status_code == 200, posted.content
    report = Report.objects.get(pk=posted.json()[0]["service_request_id"])
    assert report.subdistrict.code == HEYI


def test_a_post_in_another_jurisdiction_is_a_400_and_writes_nothing(reference_data):
    before = (Report.objects.count(), Case.objects.count())
    posted = Client().post(f"{ROOT}/requests.json", request_form(
        api_key=demo_api_key(), point=IN_DONGGAODI, jurisdiction_id=NANYUAN), **ENGLISH)
    assert posted.status_code == 400
    place = Subdistrict.objects.get(code=DONGGAODI)
    with translation.override("en"):
        expected = str(MSG_JURISDICTION_MISMATCH % {
            "place": place.name_en, "code": DONGGAODI, "sent": NANYUAN})
    assert posted.json() == [{"code": 400, "description": f"jurisdiction_id: {expected}"}]
    assert (Report.objects.count(), Case.objects.count()) == before


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_unknown_jurisdiction_is_refused_and_writes_nothing(reference_data, method):
    before = Report.objects.count()
    client = Client()
    if method == "GET":
        answer = client.get(f"{ROOT}/requests.json", {"jurisdiction_id": "110106999"})
    else:
        answer = client.post(f"{ROOT}/requests.json", request_form(
            api_key=demo_api_key(), point=IN_HEYI, jurisdiction_id="110106999"))
    assert answer.status_code == 404  # GeoReport v2: "jurisdiction_id provided was not found"
    with translation.override("zh-hans"):
        expected = str(MSG_JURISDICTION_UNKNOWN % {"id": "110106999"})
    assert answer.json() == [{"code": 404, "description": f"jurisdiction_id: {expected}"}]
    assert Report.objects.count() == before
