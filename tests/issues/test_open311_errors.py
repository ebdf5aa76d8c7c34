"""Every refusal answers as GeoReport v2 says, in XML and JSON, over real HTTP.

404 for an unknown resource, 403 for a missing or bad api_key, 429 beyond an hourly limit, 400
for anything else, each as
``[{"code", "description"}]`` / ``<errors><error><code/><description/></error></errors>`` with the
HTTP status as the code. Each table below is one test per format (a live-server test reloads the
reference data, so cases share a test); a failing case is named in the assertion message.
Descriptions are compared in English (``Accept-Language: en``) with the modules' own message
constants; one test checks that the default is Chinese.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import requests
from django.contrib.auth import get_user_model
from django.utils import translation
from rest_framework.authtoken.models import Token

from issues.models import ApiClient, Report, Rider
from issues.open311 import definitions as d
from issues.open311 import inputs as i
from issues.open311 import services as s
from issues.open311 import views as v
from issues.open311.selectors import district_jurisdiction_id
from issues.services.intake import (
    MSG_BAD_DATETIME,
    MSG_DESCRIPTION_TOO_LONG,
    MSG_LAT_RANGE,
    MSG_LON_RANGE,
    MSG_NOT_A_NUMBER,
    MSG_OUTSIDE_AREA,
    MSG_RATE_LIMITED,
    ReportInput,
    report_create,
)
from issues.services.intake import OPEN311_CHANNEL as CHANNEL
from tests.issues.test_open311_support import (
    BIKES,
    ENGLISH,
    FORMATS,
    GARBAGE,
    HUAIFANG_GATE,
    LAMP,
    MANHOLE,
    NOISE,
    PRIVATE,
    ROAD_COLLAPSE,
    ROOT,
    SIGNBOARD,
    STRUCTURE,
    TIANANMEN,
    created_id,
    demo_api_key,
    errors_of,
    request_form,
    rider_token,
)

pytestmark = pytest.mark.django_db(transaction=True)


def en(message, **values) -> str:
    with translation.override("en"):
        return str(message) % values if values else str(message)


@dataclass
class Case:
    name: str
    status: int
    descriptions: list[str]
    path: str = "requests"
    method: str = "GET"
    params: dict = field(default_factory=dict)
    data: dict | list | None = None
    allow: str | None = None  # the Allow header of a refused method


def _check(base: str, fmt: str, cases: list[Case]) -> None:
    failures = []
    for case in cases:
        response = requests.request(case.method, f"{base}{ROOT}/{case.path}.{fmt}",
                                    params=case.params, data=case.data, headers=ENGLISH,
                                    timeout=30)
        try:
            assert response.status_code == case.status, response.status_code
            got = [description for _code, description in errors_of(response, fmt)]
            assert got == case.descriptions, got
            if case.allow is not None:
                assert response.headers["Allow"] == case.allow, response.headers.get("Allow")
        except AssertionError as failure:
            failures.append(f"{case.name}: {failure}\n    {response.text[:300]}")
    assert not failures, "\n".join(failures)


def _private_report() -> Report:
    """A rider's report of a private category (骑手停车难): never shown through Open311."""
    rider = get_user_model().objects.get(username="rider2")
    data = ReportInput(category_code=PRIVATE, lon=HUAIFANG_GATE[0], lat=HUAIFANG_GATE[1])
    return report_create(channel=CHANNEL, data=data, reporter=rider).report


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_resources_answer_404(reference_data, live_server, fmt):
    private = _private_report()
    wrong = "springfield.example"
    cases = [
        Case("unknown path", 404, [en(v.MSG_NO_RESOURCE)], path="nothing"),
        Case("unknown nested path", 404, [en(v.MSG_NO_RESOURCE)], path="requests/1/updates"),
        Case("unknown service", 404,
             [f"service_code: {en(v.MSG_NO_SERVICE, code='X9999')}"], path="services/X9999"),
        Case("private service", 404,
             [f"service_code: {en(v.MSG_NO_SERVICE, code=PRIVATE)}"],
             path=f"services/{PRIVATE}"),
        Case("unknown request", 404,
             [f"service_request_id: {en(v.MSG_NO_REQUEST, id='999999')}"],
             path="requests/999999"),
        Case("request of a private category", 404,
             [f"service_request_id: {en(v.MSG_NO_REQUEST, id=str(private.pk))}"],
             path=f"requests/{private.pk}"),
        Case("request id not a number", 404,
             [f"service_request_id: {en(v.MSG_NO_REQUEST, id='abc')}"], path="requests/abc"),
        Case("token (none is ever issued)", 404, [f"token: {en(v.MSG_NO_TOKEN)}"],
             path="tokens/123456"),
        Case("other jurisdiction, GET", 404,
             [f"jurisdiction_id: {en(i.MSG_JURISDICTION_UNKNOWN, id=wrong)}"],
             path="services", params={"jurisdiction_id": wrong}),
        Case("other jurisdiction, POST", 404,
             [f"jurisdiction_id: {en(i.MSG_JURISDICTION_UNKNOWN, id=wrong)}"],
             method="POST", data=request_form(api_key=demo_api_key(), jurisdiction_id=wrong)),
        Case("a subdistrict code not served", 404,
             [f"jurisdiction_id: {en(i.MSG_JURISDICTION_UNKNOWN, id='110106999')}"],
             path="requests", params={"jurisdiction_id": "110106999"}),
    ]
    _check(live_server.url, fmt, cases)
    # Private requests are not in lists either; the district's own id, or an empty one, is fine.
    listed = requests.get(f"{live_server.url}{ROOT}/requests.json", timeout=30,
                          params={"jurisdiction_id": district_jurisdiction_id()})
    assert listed.status_code == 200 and listed.json() == []
    assert requests.get(f"{live_server.url}{ROOT}/services.{fmt}", timeout=30,
                        params={"jurisdiction_id": ""}).status_code == 200


def test_an_unknown_format_is_an_unknown_resource_answered_in_xml(reference_data, live_server):
    response = requests.get(f"{live_server.url}{ROOT}/services.csv", headers=ENGLISH, timeout=30)
    assert response.status_code == 404
    assert errors_of(response, "xml") == [(404, en(v.MSG_NO_RESOURCE))]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_missing_or_bad_api_key_answers_403(reference_data, live_server, fmt):
    retired = ApiClient.objects.create(name="retired", api_key="k" * 32, is_active=False)
    office_token = Token.objects.get(user__username="office1").key
    Rider.objects.filter(user__username="rider3").update(is_active=False)
    missing = [f"api_key: {en(s.MSG_API_KEY_MISSING)}"]
    invalid = [f"api_key: {en(s.MSG_API_KEY_INVALID)}"]
    cases = [
        Case("no api_key", 403, missing, method="POST",
             data=request_form(api_key=None)),
        Case("empty api_key", 403, missing, method="POST", data=request_form(api_key="  ")),
        Case("unknown api_key", 403, invalid, method="POST",
             data=request_form(api_key="not-a-key")),
        Case("inactive client", 403, invalid, method="POST",
             data=request_form(api_key=retired.api_key)),
        Case("token of someone not a rider", 403, invalid, method="POST",
             data=request_form(api_key=office_token)),
        Case("token of an inactive rider", 403, invalid, method="POST",
             data=request_form(api_key=rider_token("rider3"))),
        # The key is checked before anything else: a bad key with a bad form is still 403.
        Case("bad key and bad form", 403, invalid, method="POST",
             data={"api_key": "nope", "service_code": "X9999"}),
    ]
    _check(live_server.url, fmt, cases)
    assert Report.objects.count() == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_bad_posts_answer_400_naming_every_bad_parameter(reference_data, live_server, fmt,
                                                         settings):
    settings.OPEN311_MEDIA_HOSTS = ["media.nanyuan.example"]
    key = demo_api_key()
    form = request_form
    required = en(d.MSG_ATTRIBUTE_REQUIRED)
    cases = [
        Case("no service_code", 400, [f"service_code: {en(i.MSG_SERVICE_CODE_REQUIRED)}"],
             method="POST", data=form(api_key=key, service_code=None)),
        Case("empty service_code is absent", 400,
             [f"service_code: {en(i.MSG_SERVICE_CODE_REQUIRED)}"],
             method="POST", data=form(api_key=key, service_code="")),
        Case("unknown service_code", 400, [f"service_code: {en(i.MSG_SERVICE_UNKNOWN)}"],
             method="POST", data=form(api_key=key, service_code="X9999")),
        Case("private service_code", 400, [f"service_code: {en(i.MSG_SERVICE_UNKNOWN)}"],
             method="POST", data=form(api_key=key, service_code=PRIVATE)),
        Case("no location", 400, [f"lat: {en(i.MSG_LOCATION_REQUIRED)}"],
             method="POST", data=form(api_key=key, lat=None, long=None)),
        Case("address_string only: we do not geocode", 400,
             [f"address_string: {en(i.MSG_NO_GEOCODING)}"], method="POST",
             data=form(api_key=key, lat="", long=None, address_string="南苑路 1 号")),
        Case("address_id only", 400, [f"address_id: {en(i.MSG_NO_GEOCODING)}"],
             method="POST", data=form(api_key=key, lat=None, long=None, address_id="A-77")),
        Case("lat without long", 400, [f"long: {en(i.MSG_LAT_LONG_PAIR)}"],
             method="POST", data=form(api_key=key, long=None)),
        Case("long not a number", 400, [f"long: {en(MSG_NOT_A_NUMBER)}"],
             method="POST", data=form(api_key=key, long="east")),
        Case("lat and long out of range", 400,
             [f"long: {en(MSG_LON_RANGE)}", f"lat: {en(MSG_LAT_RANGE)}"],
             method="POST", data=form(api_key=key, lat="91", long="181")),
        Case("outside the service area", 400, [f"long: {en(MSG_OUTSIDE_AREA)}"],
             method="POST", data=form(api_key=key, point=TIANANMEN)),
        Case("description of 4,001 characters", 400,
             [f"description: {en(MSG_DESCRIPTION_TOO_LONG, limit=4000)}"],
             method="POST", data=form(api_key=key, description="坑" * 4001)),
        Case("media_url not http", 400, [f"media_url: {en(i.MSG_MEDIA_URL_INVALID)}"],
             method="POST", data=form(api_key=key, media_url="file:///etc/passwd")),
        Case("media_url on a host not allowed", 400,
             [f"media_url: {en(i.MSG_MEDIA_HOST, host='evil.example')}"],
             method="POST", data=form(api_key=key, media_url="https://evil.example/a.jpg")),
        Case("bad email", 400, [f"email: {en(i.MSG_BAD_EMAIL)}"],
             method="POST", data=form(api_key=key, email="not-an-address")),
        Case("first_name too long", 400, [f"first_name: {en(i.MSG_TOO_LONG, limit=100)}"],
             method="POST", data=form(api_key=key, first_name="x" * 101)),
        Case("phone too long", 400, [f"phone: {en(i.MSG_TOO_LONG, limit=30)}"],
             method="POST", data=form(api_key=key, phone="1" * 31)),
        Case("required attribute missing", 400, [f"attribute[cover_state]: {required}"],
             method="POST", data=form(api_key=key, service_code=MANHOLE)),
        Case("required attribute empty", 400, [f"attribute[hazard_level]: {required}"],
             method="POST",
             data=form(api_key=key, service_code=ROAD_COLLAPSE,
                       **{"attribute[hazard_level]": ""})),
        Case("value not listed", 400,
             [f"attribute[hazard_level]: "
              f"{en(d.MSG_ATTRIBUTE_NOT_LISTED, keys='low, medium, high')}"],
             method="POST", data=form(api_key=key, service_code=ROAD_COLLAPSE,
                                      **{"attribute[hazard_level]": "extreme"})),
        Case("two values for a singlevaluelist", 400,
             [f"attribute[hazard_level]: {en(d.MSG_ATTRIBUTE_ONE_VALUE)}"], method="POST",
             data=[*form(api_key=key, service_code=ROAD_COLLAPSE).items(),
                   ("attribute[hazard_level][]", "low"), ("attribute[hazard_level][]", "high")]),
        Case("attribute the service does not have", 400,
             [f"attribute[colour]: {en(d.MSG_ATTRIBUTE_UNKNOWN)}"], method="POST",
             data=form(api_key=key, service_code=GARBAGE, **{"attribute[colour]": "red"})),
        Case("multivaluelist value not listed", 400,
             [f"attribute[when]: {en(d.MSG_ATTRIBUTE_NOT_LISTED, keys='day, night, weekend')}"],
             method="POST", data=[*form(api_key=key, service_code=NOISE).items(),
                                  ("attribute[when][]", "day"), ("attribute[when][]", "dusk")]),
        Case("datetime attribute not a date", 400,
             [f"attribute[noticed_at]: {en(MSG_BAD_DATETIME)}"], method="POST",
             data=form(api_key=key, service_code=NOISE,
                       **{"attribute[noticed_at]": "2026-02-30T25:00:00"})),
        Case("number attribute not a number", 400,
             [f"attribute[count]: {en(MSG_NOT_A_NUMBER)}"], method="POST",
             data=form(api_key=key, service_code=BIKES, **{"attribute[count]": "many"})),
        Case("whole-number attribute with a fraction", 400,
             [f"attribute[lamps_out]: {en(d.MSG_ATTRIBUTE_WHOLE_NUMBER, minimum=1)}"],
             method="POST",
             data=form(api_key=key, service_code=LAMP, **{"attribute[lamps_out]": "2.5"})),
        Case("string attribute too long", 400,
             [f"attribute[signboard_text]: {en(d.MSG_ATTRIBUTE_TOO_LONG, limit=200)}"],
             method="POST", data=form(api_key=key, service_code=SIGNBOARD,
                                      **{"attribute[signboard_text]": "字" * 201})),
        Case("text attribute too long", 400,
             [f"attribute[structure_details]: {en(d.MSG_ATTRIBUTE_TOO_LONG, limit=2000)}"],
             method="POST", data=form(api_key=key, service_code=STRUCTURE,
                                      **{"attribute[structure_details]": "字" * 2001})),
        Case("several bad parameters, each named", 400,
             [f"lat: {en(i.MSG_LOCATION_REQUIRED)}", f"email: {en(i.MSG_BAD_EMAIL)}",
              f"attribute[cover_state]: {required}"], method="POST",
             data=form(api_key=key, service_code=MANHOLE, lat=None, long=None, email="x@")),
    ]
    _check(live_server.url, fmt, cases)
    assert Report.objects.count() == 0
    # The limits themselves are accepted: 4,000 characters, 200 and 2,000 in attributes.
    ok = [form(api_key=key, description="坑" * 4000),
          form(api_key=key, service_code=SIGNBOARD, **{"attribute[signboard_text]": "字" * 200}),
          form(api_key=key, service_code=STRUCTURE,
               **{"attribute[structure_details]": "字" * 2000})]
    for data in ok:
        created_id(requests.post(f"{live_server.url}{ROOT}/requests.{fmt}", data=data,
                                 timeout=30), fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_bad_list_queries_answer_400(reference_data, live_server, fmt):
    span = en(i.MSG_DATE_SPAN, days=90)
    cases = [
        Case("more than 90 days apart", 400, [f"end_date: {span}"],
             params={"start_date": "2026-01-01T00:00:00+08:00",
                     "end_date": "2026-04-01T00:00:01+08:00"}),
        Case("dates as days, more than 90 apart", 400, [f"end_date: {span}"],
             params={"start_date": "2026-01-01", "end_date": "2026-04-01"}),
        Case("end before start", 400, [f"end_date: {en(i.MSG_DATE_ORDER)}"],
             params={"start_date": "2026-03-01T00:00:00Z", "end_date": "2026-02-01T00:00:00Z"}),
        Case("start_date not a date", 400, [f"start_date: {en(i.MSG_BAD_DATE)}"],
             params={"start_date": "last tuesday"}),
        Case("both dates bad", 400,
             [f"start_date: {en(i.MSG_BAD_DATE)}", f"end_date: {en(i.MSG_BAD_DATE)}"],
             params={"start_date": "2026-13-01", "end_date": "yesterday"}),
        Case("unknown status", 400, [f"status: {en(i.MSG_BAD_STATUS)}"],
             params={"status": "open,pending"}),
        Case("page 0", 400, [f"page: {en(i.MSG_BAD_PAGE, max=i.PAGE_MAX)}"],
             params={"page": "0"}),
        Case("page past bigint", 400, [f"page: {en(i.MSG_BAD_PAGE, max=i.PAGE_MAX)}"],
             params={"page": "9" * 5000}),
        Case("page_size over 1,000", 400, [f"page_size: {en(i.MSG_BAD_PAGE_SIZE, max=1000)}"],
             params={"page_size": "1001"}),
        Case("page_size not a number", 400, [f"page_size: {en(i.MSG_BAD_PAGE_SIZE, max=1000)}"],
             params={"page_size": "ten"}),
        Case("extensions neither true nor false", 400,
             [f"extensions: {en(i.MSG_BAD_BOOLEAN)}"], params={"extensions": "maybe"}),
        Case("service_request_id not numbers", 400,
             [f"service_request_id: {en(i.MSG_BAD_IDS)}"], params={"service_request_id": "1,x"}),
        Case("radius without a point", 400, [f"radius: {en(i.MSG_RADIUS_NEEDS_POINT)}"],
             params={"radius": "500"}),
        Case("lat without long", 400, [f"long: {en(i.MSG_LAT_LONG_PAIR)}"],
             params={"lat": "39.8"}),
        Case("radius too large", 400, [f"radius: {en(i.MSG_BAD_RADIUS, max=20000)}"],
             params={"lat": "39.8", "long": "116.39", "radius": "50000"}),
        Case("extensions on one request", 400, [f"extensions: {en(i.MSG_BAD_BOOLEAN)}"],
             path="requests/1", params={"extensions": "yes please"}),
    ]
    _check(live_server.url, fmt, cases)


@pytest.mark.parametrize("fmt", FORMATS)
def test_methods_other_than_the_spec_answer_400_with_allow(reference_data, live_server, fmt):
    def refused(method: str, allowed: str) -> str:
        return en(v.MSG_METHOD, method=method, allowed=allowed)

    cases = [
        Case("POST services", 400, [refused("POST", "GET")], path="services", method="POST",
             allow="GET, HEAD"),
        Case("DELETE requests", 400, [refused("DELETE", "GET, POST")], method="DELETE",
             allow="GET, HEAD, POST"),
        Case("PUT a request", 400, [refused("PUT", "GET")], path="requests/1", method="PUT",
             allow="GET, HEAD"),
        Case("POST discovery", 400, [refused("POST", "GET")], path="discovery", method="POST",
             allow="GET, HEAD"),
    ]
    _check(live_server.url, fmt, cases)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_riders_token_is_held_to_the_riders_hourly_limit(
    reference_data, live_server, fmt, settings
):
    settings.REPORTS_PER_HOUR_PER_RIDER = 2
    url = f"{live_server.url}{ROOT}/requests.{fmt}"
    token = rider_token("rider1")
    for _ in range(2):
        created_id(requests.post(url, data=request_form(api_key=token), timeout=30), fmt)
    refused = requests.post(url, data=request_form(api_key=token), headers=ENGLISH, timeout=30)
    assert refused.status_code == 429
    [(code, description)] = errors_of(refused, fmt)
    assert description == en(MSG_RATE_LIMITED, minutes=60)
    assert 3500 < int(refused.headers["Retry-After"]) <= 3600
    assert Report.objects.filter(reporter__username="rider1").count() == 2
    for _ in range(3):  # an organisation's key has its own hourly limit (test_open311_keys)
        created_id(requests.post(url, data=request_form(api_key=demo_api_key()), timeout=30),
                   fmt)


def test_refusals_are_in_chinese_unless_the_client_asks_for_english(reference_data,
                                                                    live_server):
    url = f"{live_server.url}{ROOT}/requests.json"
    data = request_form(api_key=demo_api_key(), lat=None, long=None, address_string="南苑路")
    chinese = errors_of(requests.post(url, data=data, timeout=30), "json")
    with translation.override("zh-hans"):
        assert chinese == [(400, f"address_string: {i.MSG_NO_GEOCODING}")]
    assert "地址" in chinese[0][1]
    english = errors_of(requests.post(url, data=data, headers=ENGLISH, timeout=30), "json")
    assert english == [(400, f"address_string: {en(i.MSG_NO_GEOCODING)}")]
