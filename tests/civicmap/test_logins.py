"""Logins cannot be guessed: django-axes locks a username, or an address, after
LOGIN_FAILURE_LIMIT failed passwords on every password form (the admin's, /accounts/login/, the
phone's /phone/token/), and the address is the trusted-proxy one (civicmap.net.client_ip), never
an X-Forwarded-For the client wrote: not for the lockout, not for DRF's throttles.

Each test sets its own small limit (3) through the settings; the cool-off is the default.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.utils import translation
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from civicmap.logins import MSG_LOCKED_OUT, lockout_message, lockout_seconds
from civicmap.net import client_ip
from fixtures.seed import DEMO_PASSWORD
from frontend.phone_views import TOKEN_ATTEMPTS_PER_MINUTE

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 3
ADMIN_LOGIN = "/admin/login/"
ACCOUNTS_LOGIN = "/accounts/login/"
PHONE_TOKEN = "/phone/token/"
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    cache.clear()  # DRF's throttle counts in the test settings' own Redis database
    yield
    cache.clear()


def en(message, **values) -> str:
    with translation.override("en"):
        return str(message) % values if values else str(message)


def _form_login(client: Client, url: str, username: str, password: str, **extra):
    return client.post(url, {"username": username, "password": password, "next": "/admin/"},
                       **extra)


def _phone_token(client: Client, username: str, password: str, **extra):
    return client.post(PHONE_TOKEN, {"username": username, "password": password},
                       content_type="application/json", **extra)


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("url", [ADMIN_LOGIN, ACCOUNTS_LOGIN])
def test_a_login_form_locks_the_user_out_after_the_limit(reference_data, url):
    client = Client()
    for _attempt in range(LIMIT - 1):
        assert _form_login(client, url, "admin", "guess").status_code == 200
    assert _form_login(client, url, "admin", "guess").status_code == 429  # the limit reached
    # Now even the right password is refused, with a page that says why and for how long.
    answer = _form_login(client, url, "admin", DEMO_PASSWORD, **ENGLISH)
    assert answer.status_code == 429
    assert not _signed_in(client)
    assert answer["Retry-After"] == str(lockout_seconds())
    assert answer["Content-Type"].startswith("text/html")
    with translation.override("en"):
        assert lockout_message() in answer.content.decode()
    # Chinese by default.
    chinese = _form_login(Client(), url, "admin", DEMO_PASSWORD)
    assert chinese.status_code == 429
    with translation.override("zh-hans"):
        assert lockout_message() in chinese.content.decode()
        assert lockout_message() != en(MSG_LOCKED_OUT, minutes=15)


def test_the_lockout_is_per_user_from_any_address(reference_data):
    for number in range(LIMIT):
        _form_login(Client(REMOTE_ADDR=f"198.51.100.{number + 1}"), ACCOUNTS_LOGIN,
                    "office1", "guess")
    fresh = Client(REMOTE_ADDR="203.0.113.9")
    assert _form_login(fresh, ACCOUNTS_LOGIN, "office1", DEMO_PASSWORD).status_code == 429
    # Another user from that address is not affected.
    other = Client(REMOTE_ADDR="203.0.113.9")
    assert _form_login(other, ACCOUNTS_LOGIN, "rider1", DEMO_PASSWORD).status_code == 302
    assert _signed_in(other)


def test_the_lockout_is_per_address_for_any_username(reference_data):
    guesser = "198.51.100.7"
    for username in ("alice", "bob", "carol")[:LIMIT]:
        _form_login(Client(REMOTE_ADDR=guesser), ACCOUNTS_LOGIN, username, "guess")
    locked = Client(REMOTE_ADDR=guesser)
    assert _form_login(locked, ACCOUNTS_LOGIN, "rider1", DEMO_PASSWORD).status_code == 429
    elsewhere = Client(REMOTE_ADDR="198.51.100.8")
    assert _form_login(elsewhere, ACCOUNTS_LOGIN, "rider1", DEMO_PASSWORD).status_code == 302


def test_the_phone_token_locks_out_in_the_api_error_shape(reference_data):
    client = Client()
    for _attempt in range(LIMIT - 1):
        wrong = _phone_token(client, "rider1", "guess")
        assert wrong.status_code == 400
        assert wrong.json()["errors"][0]["code"] == "invalid_credentials"
    for password in ("guess", DEMO_PASSWORD):  # the failure that reaches the limit, then any
        answer = _phone_token(client, "rider1", password, **ENGLISH)
        assert answer.status_code == 429, answer.content
        assert answer["Content-Type"] == "application/json"
        assert answer["Retry-After"] == str(lockout_seconds())
        assert answer.json()["errors"] == [{
            "field": None, "code": "locked_out",
            "message": en(MSG_LOCKED_OUT, minutes=lockout_seconds() // 60)}]
        assert "token" not in answer.json()


def test_a_forged_forwarded_for_does_not_escape_the_lockout(reference_data):
    """TRUSTED_PROXY_COUNT = 0 (the default): X-Forwarded-For is the client's own words."""
    assert django_settings.TRUSTED_PROXY_COUNT == 0
    for number in range(LIMIT):
        _form_login(Client(), ADMIN_LOGIN, f"user{number}", "guess",
                    HTTP_X_FORWARDED_FOR=f"192.0.2.{number + 1}")
    answer = _form_login(Client(), ADMIN_LOGIN, "admin", DEMO_PASSWORD,
                         HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert answer.status_code == 429


def test_a_forged_forwarded_for_does_not_escape_the_phone_token_throttle(reference_data):
    """Empty bodies (400) still count: the throttle runs before the view."""
    client = Client()
    for number in range(TOKEN_ATTEMPTS_PER_MINUTE):
        answer = client.post(PHONE_TOKEN, {}, content_type="application/json",
                             HTTP_X_FORWARDED_FOR=f"192.0.2.{number + 1}")
        assert answer.status_code == 400
    refused = client.post(PHONE_TOKEN, {}, content_type="application/json",
                          HTTP_X_FORWARDED_FOR="192.0.2.250")
    assert refused.status_code == 429


def test_behind_one_trusted_proxy_the_rightmost_forwarded_address_is_the_client(
        reference_data, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = {"REMOTE_ADDR": "10.0.0.2"}  # our proxy, the same for everyone
    client = Client(**proxy)
    # One client, forging different left-hand entries: one bucket, throttled.
    for number in range(TOKEN_ATTEMPTS_PER_MINUTE):
        client.post(PHONE_TOKEN, {}, content_type="application/json",
                    HTTP_X_FORWARDED_FOR=f"192.0.2.{number + 1}, 198.51.100.20")
    assert client.post(PHONE_TOKEN, {}, content_type="application/json",
                       HTTP_X_FORWARDED_FOR="192.0.2.99, 198.51.100.20").status_code == 429
    # Another client behind the same proxy is its own bucket.
    assert client.post(PHONE_TOKEN, {}, content_type="application/json",
                       HTTP_X_FORWARDED_FOR="198.51.100.21").status_code == 400
    # And the lockout counts that client's address, not the proxy's.
    for number in range(LIMIT):
        _form_login(Client(**proxy), ACCOUNTS_LOGIN, f"user{number}", "guess",
                    HTTP_X_FORWARDED_FOR=f"192.0.2.{number}, 198.51.100.30")
    locked = _form_login(Client(**proxy), ACCOUNTS_LOGIN, "rider1", DEMO_PASSWORD,
                         HTTP_X_FORWARDED_FOR="198.51.100.30")
    assert locked.status_code == 429
    other = _form_login(Client(**proxy), ACCOUNTS_LOGIN, "rider1", DEMO_PASSWORD,
                        HTTP_X_FORWARDED_FOR="198.51.100.31")
    assert other.status_code == 302


# (TRUSTED_PROXY_COUNT, REMOTE_ADDR, X-Forwarded-For or None, the client's address)
ADDRESS_CASES = [
    (0, "203.0.113.5", None, "203.0.113.5"),
    (0, "203.0.113.5", "1.2.3.4", "203.0.113.5"),
    (1, "10.0.0.2", None, "10.0.0.2"),
    (1, "10.0.0.2", "198.51.100.1", "198.51.100.1"),
    (1, "10.0.0.2", "6.6.6.6, 198.51.100.1", "198.51.100.1"),
    (1, "10.0.0.2", " 6.6.6.6 ,198.51.100.1 ", "198.51.100.1"),
    (2, "10.0.0.3", "6.6.6.6, 198.51.100.1, 10.0.0.2", "198.51.100.1"),
    (2, "10.0.0.3", "198.51.100.1", "198.51.100.1"),  # fewer entries than proxies: DRF's rule
    (1, "10.0.0.2", "2001:db8::1", "2001:db8::1"),
]


@pytest.mark.parametrize(("proxies", "remote", "forwarded", "expected"), ADDRESS_CASES)
def test_client_ip_follows_the_trusted_proxy_count_as_drf_does(settings, proxies, remote,
                                                              forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": proxies}
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    request = RequestFactory().get("/", **extra)
    assert client_ip(request) == expected
    assert SimpleRateThrottle.get_ident(SimpleRateThrottle.__new__(SimpleRateThrottle),
                                        Request(request)) == expected


def test_a_forwarded_entry_that_is_not_an_address_falls_back_to_the_peer(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2",
                                   HTTP_X_FORWARDED_FOR="1.1.1.1, <script>")
    assert client_ip(request) == "10.0.0.2"


def test_one_setting_drives_axes_drf_and_client_ip():
    assert django_settings.REST_FRAMEWORK["NUM_PROXIES"] == django_settings.TRUSTED_PROXY_COUNT
    assert django_settings.AXES_CLIENT_IP_CALLABLE == "civicmap.net.client_ip"
    assert django_settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"
    assert set(django_settings.AXES_LOCKOUT_PARAMETERS) == {"username", "ip_address"}


def test_nothing_else_reads_x_forwarded_for():
    """The class made impossible: one function reads the header (and production's
    SECURE_PROXY_SSL_HEADER its X-Forwarded-Proto, only with a trusted proxy)."""
    pattern = re.compile(r"X_FORWARDED_FOR|X-Forwarded-For|get_client_ip|ipware", re.I)
    readers = []
    for package in ("civicmap", "issues", "patrol", "stations", "frontend", "fixtures"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line) and not line.lstrip().startswith("#"):
                    readers.append(f"{path.relative_to(ROOT)}:{number}")
    assert {reader.split(":")[0] for reader in readers} <= {"civicmap/net.py"}, readers
