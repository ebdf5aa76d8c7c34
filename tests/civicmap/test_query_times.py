"""A time a query filters by is a date from 2000 to 2099 (civicmap.api.fields.QueryTimeField):
year 1 or 9999 once made "until − 90 days" overflow Python's dates (a 500 on the coverage and
siting maps); now every list refuses it with a 400 naming the parameter."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

FILTERED_BY_PERIOD = ["/api/v1/cases/", "/api/v1/reports/", "/api/v1/rates/",
                      "/api/v1/stations/coverage/",
                      "/api/v1/stations/siting/", "/api/v1/stations/visits/"]
FILTERED_BY_MOMENT = ["/api/v1/stations/", "/api/v1/stations/nearest/?lon=116.392&lat=39.797"]


def _admin() -> APIClient:
    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(username="admin"))
    return client


def _fields(response) -> set[str]:
    return {error["field"] for error in response.json()["errors"]}


@pytest.mark.parametrize("url", FILTERED_BY_PERIOD)
@pytest.mark.parametrize(("name", "value"), [("until", "0001-01-01T00:00:00Z"),
                                             ("since", "9999-12-31T23:59:59Z"),
                                             ("since", "1999-12-31T09:59:59Z")])
def test_a_period_bound_past_the_range_is_400_naming_it(reference_data, url, name, value):
    params = {name: value, **({"since": "2026-01-01T00:00:00Z"} if name == "until" else
                              {"until": "2026-02-01T00:00:00Z"})}

    response = _admin().get(url, params)

    assert response.status_code == 400, (url, response.content)
    assert name in _fields(response)


@pytest.mark.parametrize("url", FILTERED_BY_MOMENT)
def test_a_moment_past_the_range_is_400_naming_it(reference_data, url):
    response = _admin().get(url, {"open_now": "true", "at": "9999-12-31T23:59:59Z"})

    assert response.status_code == 400, (url, response.content)
    assert "at" in _fields(response)


@pytest.mark.parametrize("url", FILTERED_BY_PERIOD)
def test_a_period_at_the_edges_of_the_range_is_answered(reference_data, url):
    response = _admin().get(url, {"since": "2000-01-01T00:00:00+14:00",
                                  "until": "2099-12-31T23:59:59Z"})

    assert response.status_code == 200, (url, response.content)
