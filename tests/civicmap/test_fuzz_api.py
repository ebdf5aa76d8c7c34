"""Fuzzing every API operation from its OpenAPI description, in-process, in the test database.

The /api/v1/ (and phone) operations come from drf-spectacular's /api/schema/, each case
drawn once and sent as anonymous, a rider and office staff; the Open311 GeoReport v2 endpoints
from their own description, issues/open311/openapi.yaml, as anonymous and as an Open311 client
with its api_key. Every answer must be no 5xx, with a documented status code and content type
and a body valid against the schema. Each case runs in a rolled-back savepoint (tests/civicmap/
fuzzing.py). FUZZ_EXAMPLES (default 15 per operation) sets the budget.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import schemathesis
import yaml
from django.conf import settings
from rest_framework.authtoken.models import Token

from tests.civicmap.fuzzing import CHECKS, FuzzRun, fuzz_operation

ROLES = {"anonymous": None, "rider": "rider1", "office_staff": "office1"}
# The API's operations are fuzzed in this many tests, each every API_SHARDS-th operation.
API_SHARDS = 3
OPEN311_DESCRIPTION = Path(settings.BASE_DIR) / "issues" / "open311" / "openapi.yaml"


@pytest.fixture(scope="module")
def api_schema(wsgi_app, django_db_blocker):
    with django_db_blocker.unblock():
        return schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)


@pytest.fixture(scope="module")
def open311_schema(wsgi_app):
    schema = schemathesis.openapi.from_dict(yaml.safe_load(OPEN311_DESCRIPTION.read_text()))
    schema.app = wsgi_app
    return schema


def _real_ids(demo):
    """Aim a positive case at the demo's objects: real ids in the path where it takes one, and
    for the writes a rider makes, a body that passes the category, place and code checks, so
    the fuzzed fields (description, captured_at, accuracy...) reach the services."""
    ids = {"case_id": demo.case, "photo_id": demo.photo, "station_id": demo.station,
           "notification_id": demo.notification, "service_request_id": str(demo.report),
           "service_code": "E0101"}
    lon, lat = demo.case_point
    bodies = {
        ("POST", "/api/v1/reports/"): {
            "category": "L0201", "lon": lon, "lat": lat, "coord_system": "wgs84",
            "client_uuid": "7b0f0c1e-5a8e-4c57-9a53-00000000f022"},
        ("POST", "/api/v1/stations/checkins/"): {
            "code": demo.station_code, "lon": demo.station_point[0],
            "lat": demo.station_point[1]},
    }

    def aim(case):
        for name in case.path_parameters or {}:
            if name in ids:
                case.path_parameters[name] = ids[name]
        body = bodies.get((case.method.upper(), case.operation.path))
        if body is not None and isinstance(case.body, dict):
            case.body.pop("photos", None)  # category L0201 takes none
            case.body.update(body)
        return case

    return aim


def _fuzz(operations: list, *, roles: dict[str, dict[str, str]], real, name: str) -> FuzzRun:
    run = FuzzRun()
    started = time.monotonic()
    for operation in operations:
        fuzz_operation(operation, roles=roles, run=run, real=real)
    print("\n" + run.summary(name, time.monotonic() - started))
    return run


def _operations(schema) -> list:
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.django_db
@pytest.mark.parametrize("shard", range(API_SHARDS))
def test_api_operations_answer_by_their_schema(shard, api_schema, demo):
    """Over 20 s: FUZZ_EXAMPLES cases (15) of every API_SHARDS-th operation of the schema, each
    sent as every role of ROLES (a test a shard, so that the runner's workers share them)."""
    roles = {"anonymous": {"Accept-Language": "en"}}
    for role, username in ROLES.items():
        if username:
            token = Token.objects.get(user__username=username).key
            roles[role] = {"Accept-Language": "en", "Authorization": f"Token {token}"}
    operations = _operations(api_schema)
    assert len(operations) >= 40
    mine = operations[shard::API_SHARDS]
    run = _fuzz(mine, roles=roles, real=_real_ids(demo), name=f"api, shard {shard}")
    assert run.operations == len(mine)
    assert run.examples >= len(mine) * len(ROLES)
    assert not run.problems, run.report()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["anonymous", "open311_client"])
def test_open311_operations_answer_by_their_description(role, open311_schema, demo):
    aim = _real_ids(demo)

    def real(case):
        aim(case)
        if role == "open311_client" and isinstance(case.body, dict):
            # A post that passes the key, service and place checks, so the fuzzed text fields
            # (description, names, phone, email, media_url) reach the intake service.
            case.body.update(api_key=demo.api_key, service_code="E0101", lat=39.797,
                             long=116.392)
        return case

    run = _fuzz(_operations(open311_schema), roles={role: {"Accept-Language": "en"}},
                real=real, name=f"open311 as {role}")
    assert not run.problems, run.report()


@pytest.mark.django_db
def test_a_first_confirmation_answers_its_documented_201(api_schema, demo):
    """The schema listed only 200 for a confirmation; a first one answers 201 (found by fuzzing)."""
    operation = api_schema["/api/v1/cases/{case_id}/confirm/"]["POST"]
    token = Token.objects.get(user__username="rider2").key
    lon, lat = demo.case_point  # standing at the case (item 10 asks for a position)
    case = operation.Case(path_parameters={"case_id": demo.case},
                          body={"client_uuid": "fc5372b5-4758-41d6-b8f5-f3242aabae92",
                                "lon": lon, "lat": lat, "coord_system": "wgs84"},
                          media_type="multipart/form-data")
    response = case.call(headers={"Authorization": f"Token {token}"})
    assert response.status_code == 201, response.text
    case.validate_response(response, checks=CHECKS)


@pytest.mark.django_db
def test_every_operation_documents_the_error_shape_and_its_media_type(client):
    schema = client.get("/api/schema/?format=json").json()
    assert schema["components"]["schemas"]["ErrorResponse"]["required"] == ["errors"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status in ("400", "401", "403", "404", "429"):
                content = operation["responses"][status]["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}, (
                    method, path, status)
    for path in ("/api/v1/reports/", "/api/v1/cases/", "/api/v1/stations/",
                 "/api/v1/stations/coverage/layer/"):
        assert list(schema["paths"][path]["get"]["responses"]["200"]["content"]) == [
            "application/geo+json"], path
