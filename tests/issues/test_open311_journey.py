"""The issue's "done when", over real HTTP with the georeport client library from PyPI.

An outside client lists our services, reads a service definition, posts a request with
attributes, and reads it back in XML and JSON after every step of the case's life, from
collection to evaluation. georeport (0.3.1) reads but cannot post (its README says so), so the
POST is a plain form post with ``requests``, as every Open311 app sends it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.contrib.auth import get_user_model
from django.utils import translation
from georeport import GeoReport

from issues.models import Case, Report, Stage
from issues.open311.definitions import BEIJING
from issues.open311.selectors import service_notice
from patrol.models import Department, Task
from patrol.services.lifecycle import case_act, cases_evaluate_due
from tests.issues.test_open311_support import (
    HUAIFANG_GATE,
    MANHOLE,
    NOISE,
    PRIVATE,
    ROAD_COLLAPSE,
    ROOT,
    created_id,
    demo_api_key,
    jpeg_upload,
    request_form,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _as_list(value) -> list:
    """xmltodict gives one child as a dict and several as a list (georeport passes that on)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _clients(base_url: str, api_key: str) -> dict[str, GeoReport]:
    return {fmt: GeoReport(base_url + ROOT, api_key=api_key, output_format=fmt)
            for fmt in ("xml", "json")}


def _zh(stage: str) -> str:
    with translation.override("zh-hans"):
        return str(Stage(stage).label)


def _iso(moment) -> str:
    return moment.astimezone(BEIJING).isoformat(timespec="seconds")


def _read_both(clients: dict[str, GeoReport], request_id: str) -> dict:
    """The request as both formats give it: the same fields and the same text."""
    by_format = {fmt: client.get_service_request(request_id) for fmt, client in clients.items()}
    listed = {fmt: _as_list(client.get_service_requests(service_request_id=request_id))
              for fmt, client in clients.items()}
    json_item, xml_item = by_format["json"], by_format["xml"]
    assert listed["json"] == [json_item] and [dict(i) for i in listed["xml"]] == [dict(xml_item)]
    assert list(json_item) == list(xml_item)  # same fields, same order
    for key, value in json_item.items():
        text = None if value is None else (str(value).lower() if isinstance(value, bool)
                                           else str(value))
        assert xml_item[key] == text, (key, xml_item[key], value)
    return json_item


def test_an_outside_client_lists_posts_and_follows_a_request_to_its_end(reference_data,
                                                                         live_server):
    api_key = demo_api_key()
    clients = _clients(live_server.url, api_key)

    # 1. The services: public categories only, with string codes, groups and metadata.
    services = {fmt: _as_list(client.get_service_list()) for fmt, client in clients.items()}
    codes = [service["service_code"] for service in services["json"]]
    assert codes == [service["service_code"] for service in services["xml"]]
    assert MANHOLE in codes and PRIVATE not in codes
    manhole = {fmt: next(s for s in items if s["service_code"] == MANHOLE)
               for fmt, items in services.items()}
    assert manhole["json"]["metadata"] is True and manhole["xml"]["metadata"] == "true"
    assert manhole["json"]["type"] == manhole["xml"]["type"] == "realtime"
    assert manhole["json"]["service_name"] == "井盖缺失或破损"
    assert "公用设施" in manhole["json"]["group"] and "manhole" in manhole["json"]["keywords"]

    # 2. Its definition: a required singlevaluelist.
    definitions = {fmt: client.get_service_definition(MANHOLE) for fmt, client in clients.items()}
    assert definitions["json"]["service_code"] == definitions["xml"]["service_code"] == MANHOLE
    attribute = definitions["json"]["attributes"][0]
    xml_attribute = _as_list(definitions["xml"]["attributes"]["attribute"])[0]
    assert (attribute["code"], attribute["datatype"], attribute["required"]) == (
        "cover_state", "singlevaluelist", True)
    assert (xml_attribute["code"], xml_attribute["datatype"], xml_attribute["required"]) == (
        "cover_state", "singlevaluelist", "true")
    keys = [value["key"] for value in attribute["values"]]
    assert keys == [value["key"] for value in _as_list(xml_attribute["values"]["value"])]
    assert "missing" in keys

    # 3. The POST, form-encoded with the attribute, in XML.
    answer = requests.post(
        f"{live_server.url}{ROOT}/requests.xml", timeout=30,
        data=request_form(api_key=api_key, service_code=MANHOLE, point=HUAIFANG_GATE,
                          description="井盖不见了 (manhole cover gone)",
                          **{"attribute[cover_state]": "missing", "email": "a@example.org",
                             "first_name": "Ming", "last_name": "Li", "phone": "13900000000",
                             "device_id": "dev-1", "account_id": "acct-9"}),
    )
    request_id = created_id(answer, "xml")
    report = Report.objects.select_related("case").get(pk=int(request_id))
    assert report.channel == "open311" and report.client_uuid is None
    assert report.attributes == {"cover_state": "missing"}
    assert (report.contact_email, report.contact_first_name, report.contact_last_name,
            report.contact_phone, report.device_id, report.account_id) == (
        "a@example.org", "Ming", "Li", "13900000000", "dev-1", "acct-9")
    case_id = report.case_id

    # 4. Read back after every step of the case's life, in both formats.
    item = _read_both(clients, request_id)
    assert (item["status"], item["status_notes"]) == ("open", _zh(Stage.NEW))
    assert item["service_code"] == MANHOLE and item["service_request_id"] == request_id
    assert item["agency_responsible"] is None and item["expected_datetime"] is None
    assert item["requested_datetime"] == _iso(report.received_at)
    assert item["requested_datetime"].endswith("+08:00")
    assert (item["lat"], item["long"]) == (HUAIFANG_GATE[1], HUAIFANG_GATE[0])
    assert item["description"] == "井盖不见了 (manhole cover gone)"
    for private in ("email", "first_name", "last_name", "phone", "device_id", "account_id",
                    "attributes", "reporter", "api_key", "Ming", "13900000000", "acct-9"):
        assert private not in str(item)

    User = get_user_model()
    office, verifier = User.objects.get(username="office1"), User.objects.get(username="office2")
    liaison = User.objects.get(username="liaison_municipal")
    municipal = Department.objects.get(code="municipal")

    case_act(case_id=case_id, action="file", actor=office)
    item = _read_both(clients, request_id)
    assert (item["status"], item["status_notes"]) == ("open", _zh(Stage.FILED))

    case_act(case_id=case_id, action="dispatch", actor=office)
    task = Task.objects.get(case_id=case_id)
    assert task.department == municipal  # a component goes to its owner first
    item = _read_both(clients, request_id)
    assert (item["status"], item["status_notes"]) == ("open", _zh(Stage.DISPATCHED))
    assert item["agency_responsible"] == municipal.name_zh
    assert item["expected_datetime"] == _iso(task.resolution_due)

    case_act(case_id=case_id, action="accept", actor=liaison)
    item = _read_both(clients, request_id)
    assert (item["status"], item["status_notes"]) == ("open", _zh(Stage.IN_PROGRESS))

    case_act(case_id=case_id, action="handin", actor=liaison, note="已更换井盖",
             photo=jpeg_upload())
    item = _read_both(clients, request_id)
    assert (item["status"], item["status_notes"]) == ("open", _zh(Stage.HANDED_IN))
    assert "已更换井盖" not in str(item)  # workers' notes stay internal

    case_act(case_id=case_id, action="verify", actor=verifier)
    item = _read_both(clients, request_id)
    assert (item["status"], item["status_notes"]) == ("closed", _zh(Stage.CLOSED))
    closed = Case.objects.get(pk=case_id)
    assert item["updated_datetime"] == _iso(closed.updated_at)
    assert item["expected_datetime"] == _iso(task.resolution_due)

    assert cases_evaluate_due(now=closed.closed_at + timedelta(days=8)) == 1
    item = _read_both(clients, request_id)
    assert (item["status"], item["status_notes"]) == ("closed", _zh(Stage.EVALUATED))

    # The closed filter finds it, the open one does not.
    json_client = clients["json"]
    assert request_id in [r["service_request_id"] for r in
                          json_client.get_service_requests(status="closed")]
    assert request_id not in [r["service_request_id"] for r in
                              json_client.get_service_requests(status="open")]


def test_an_emergency_posted_in_json_is_dispatched_at_once_with_its_hazard_level(
    reference_data, live_server
):
    api_key = demo_api_key()
    clients = _clients(live_server.url, api_key)
    definition = clients["json"].get_service_definition(ROAD_COLLAPSE)
    hazard = next(a for a in definition["attributes"] if a["code"] == "hazard_level")
    assert hazard["datatype"] == "singlevaluelist" and hazard["required"] is True
    assert [value["key"] for value in hazard["values"]] == ["low", "medium", "high"]

    answer = requests.post(
        f"{live_server.url}{ROOT}/requests.json", timeout=30,
        data=request_form(api_key=api_key, service_code=ROAD_COLLAPSE,
                          **{"attribute[hazard_level]": "high",
                             "attribute[people_hurt]": "unknown"}),
    )
    request_id = created_id(answer, "json")
    report = Report.objects.select_related("category").get(pk=int(request_id))
    with translation.override("zh-hans"):
        assert answer.json()[0]["service_notice"] == service_notice(category=report.category)
    assert report.attributes == {"hazard_level": "high", "people_hurt": "unknown"}
    item = _read_both(clients, request_id)
    assert (item["status"], item["status_notes"]) == ("open", _zh(Stage.DISPATCHED))
    task = Task.objects.get(case_id=report.case_id)
    assert item["agency_responsible"] == task.department.name_zh
    assert item["expected_datetime"] == _iso(task.resolution_due)


def test_list_attributes_are_posted_as_repeated_brackets_and_stored_in_listed_order(
    reference_data, live_server
):
    api_key = demo_api_key()
    clients = _clients(live_server.url, api_key)
    definition = clients["xml"].get_service_definition(NOISE)
    attributes = {a["code"]: a for a in _as_list(definition["attributes"]["attribute"])}
    assert attributes["when"]["datatype"] == "multivaluelist"
    assert attributes["noticed_at"]["datatype"] == "datetime"
    assert [a["order"] for a in _as_list(definition["attributes"]["attribute"])] == ["1", "2"]

    answer = requests.post(
        f"{live_server.url}{ROOT}/requests.xml", timeout=30,
        data=[*request_form(api_key=api_key, service_code=NOISE).items(),
              ("attribute[when][]", "weekend"), ("attribute[when][]", "night"),
              ("attribute[noticed_at]", "2026-06-01T22:30:00Z")],
    )
    request_id = created_id(answer, "xml")
    assert Report.objects.get(pk=int(request_id)).attributes == {
        "when": ["night", "weekend"], "noticed_at": "2026-06-02T06:30:00+08:00"}
    assert _read_both(clients, request_id)["service_code"] == NOISE
