"""Open311 keys: never in a URL (it would be written to access logs), and each key held to
OPEN311_REQUESTS_PER_HOUR_PER_KEY posts an hour (429 in the spec's error format beyond it).

Before: ``POST requests.json?api_key=…`` was accepted, and one client posted 80 requests in
30 s, every one accepted.
"""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import translation

from issues.models import ApiClient, Report
from issues.open311 import services as s
from issues.open311 import views as v
from tests.issues.test_open311_support import (
    FORMATS,
    ROOT,
    created_id,
    demo_api_key,
    errors_of,
    request_form,
    rider_token,
)

ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}


def en(message, **values) -> str:
    with translation.override("en"):
        return str(message) % values if values else str(message)


def _post(fmt: str, data: dict, query: str = "", **headers):
    return Client().post(f"{ROOT}/requests.{fmt}{query}", data=data, **ENGLISH, **headers)


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", FORMATS)
def test_an_api_key_in_the_url_is_refused_and_nothing_is_stored(reference_data, fmt):
    key = demo_api_key()
    before = Report.objects.count()
    form = request_form(api_key=key)
    del form["api_key"]
    answer = _post(fmt, form, query=f"?api_key={key}")
    assert answer.status_code == 400
    assert errors_of(answer, fmt) == [(400, f"api_key: {en(v.MSG_API_KEY_IN_URL)}")]
    # In the URL and the body alike: still refused (the URL has been logged either way).
    both = _post(fmt, request_form(api_key=key), query=f"?api_key={key}")
    assert both.status_code == 400
    # A GET that carries one is refused too, and the key is never echoed back.
    listed = Client().get(f"{ROOT}/requests.{fmt}", {"api_key": key}, **ENGLISH)
    assert listed.status_code == 400 and key not in listed.content.decode()
    assert Report.objects.count() == before


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", FORMATS)
def test_the_key_travels_in_the_body_or_the_header(reference_data, fmt):
    key = demo_api_key()
    assert created_id(_post(fmt, request_form(api_key=key)), fmt)
    form = request_form(api_key=key)
    del form["api_key"]
    assert created_id(_post(fmt, form, HTTP_X_API_KEY=key), fmt)
    wrong = _post(fmt, form, HTTP_X_API_KEY="not-a-key")
    assert errors_of(wrong, fmt) == [(403, f"api_key: {en(s.MSG_API_KEY_INVALID)}")]


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_key_is_held_to_its_hourly_posts(reference_data, settings, fmt):
    settings.OPEN311_REQUESTS_PER_HOUR_PER_KEY = 3
    key = demo_api_key()
    for _post_number in range(3):
        created_id(_post(fmt, request_form(api_key=key)), fmt)
    before = Report.objects.count()
    refused = _post(fmt, request_form(api_key=key))
    assert refused.status_code == 429
    retry_after = int(refused["Retry-After"])
    assert 3500 <= retry_after <= 3600
    assert errors_of(refused, fmt) == [(429, "api_key: " + en(
        s.MSG_KEY_RATE_LIMITED, limit=3, minutes=(retry_after + 59) // 60))]
    assert Report.objects.count() == before
    # Another organisation's key has its own count; a rider's token keeps the rider's limit.
    other = ApiClient.objects.create(name="another office", api_key="o" * 32)
    created_id(_post(fmt, request_form(api_key=other.api_key)), fmt)
    created_id(_post(fmt, request_form(api_key=rider_token("rider1"))), fmt)


def test_the_default_hourly_limit_refuses_the_probe_burst():
    """The probe posted 80 requests in 30 s with one key, all accepted."""
    assert 0 < django_settings.OPEN311_REQUESTS_PER_HOUR_PER_KEY < 80
