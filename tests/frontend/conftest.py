"""Browser fixtures: headless Debian Chromium driven by Playwright against ``live_server``.

Every request to an address other than loopback fails inside Chromium (``CLOSED_PROXY``) and
is recorded (``elsewhere_record``), so a page that still needs a CDN fails visibly. Console
errors, uncaught page errors and Content-Security-Policy violations (the
``securitypolicyviolation`` event, listened to before any page script runs) are collected for
the tests to assert on.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from django.utils import timezone

from tests.frontend.helpers import map_history_load
from tests.module_rows import module_rows

# Playwright's sync API runs an asyncio loop in this thread; Django's ORM refuses to run where
# a loop is running unless told that this test thread is not really asynchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Debian's chromium-headless-shell: Chromium's headless build without the browser's UI and
# compositor, which spends less than half the CPU of `chromium --headless` on the same tests
# (docs/DECISIONS.md D-088). TEST_CHROMIUM=/usr/bin/chromium runs them in the full browser.
CHROMIUM = os.environ.get("TEST_CHROMIUM", "/usr/bin/chromium-headless-shell")
# Chromium sends every request for an address other than loopback (which it never proxies)
# through this proxy, where nothing listens (the chromium fixture checks): such a request fails
# at once inside the browser, with ``BLOCKED_ERROR``. Playwright's routes did this before, but
# a route passes every request through this process and turns the HTTP cache off, so each
# page of a crawl fetched every asset again from the live server (docs/DECISIONS.md D-096).
CLOSED_PROXY = ("127.0.0.1", 9)
BLOCKED_ERROR = "net::ERR_PROXY_CONNECTION_FAILED"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--proxy-server=http://{CLOSED_PROXY[0]}:{CLOSED_PROXY[1]}"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

WATCH_SCRIPT = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push({directive: event.violatedDirective, blocked: event.blockedURI,
                               sample: event.sample, source: event.sourceFile,
                               line: event.lineNumber, column: event.columnNumber});
});
"""


# axe-core from npm (frontend/package.json), for ``Watched.axe_violations``.
AXE_SOURCE = Path(__file__).resolve().parents[2] / "frontend/node_modules/axe-core/axe.min.js"


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        # A missing browser fails the run: a skipped browser test proves nothing.
        pytest.fail(f"{CHROMIUM} is not installed (WITH_BROWSER=1 scripts/setup.sh)")
    with socket.socket() as probe:
        if probe.connect_ex(CLOSED_PROXY) == 0:
            pytest.fail(f"something listens on {CLOSED_PROXY}: requests elsewhere would reach it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Watched:
    """A page and what it did: requests it tried elsewhere, console errors, CSP violations."""

    page: object
    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    in_flight: set = field(default_factory=set)

    def follow_requests(self) -> None:
        """Keep ``in_flight``: the page's requests sent and not yet answered or failed."""
        self.page.on("request", lambda request: self.in_flight.add(request))
        self.page.on("requestfinished", lambda request: self.in_flight.discard(request))
        self.page.on("requestfailed", lambda request: self.in_flight.discard(request))

    def settle(self, *, quiet_ms: int = 100, timeout_ms: int = 15_000) -> None:
        """Until the page has loaded and none of its requests has been in flight for
        ``quiet_ms`` (``follow_requests`` first). Playwright's ``networkidle`` is the same
        with 500 ms, which a crawl of 150 pages pays 75 s for."""
        self.page.wait_for_load_state("load")
        quiet = 0
        for _ in range(timeout_ms // 20):
            quiet = 0 if self.in_flight else quiet + 20
            if quiet >= quiet_ms:
                return
            self.page.wait_for_timeout(20)
        raise AssertionError(f"still loading after {timeout_ms} ms: "
                             f"{sorted(request.url for request in self.in_flight)}")

    def csp_violations(self) -> list[dict]:
        return self.page.evaluate("window.__cspViolations || []")

    def axe_violations(self, *, exclude: tuple[str, ...] = (),
                       impacts: tuple[str, ...] | None = None) -> list[str]:
        """axe-core's WCAG 2 A/AA violations of the page as it is now, one line each (rule,
        impact, the offending elements, at most five). axe is evaluated through the DevTools
        protocol, which the page's CSP does not govern; ``exclude`` lists selectors axe skips
        (say, a third-party widget we cannot change); ``impacts`` keeps only those impacts
        (say, serious and critical)."""
        self.page.evaluate(AXE_SOURCE.read_text(encoding="utf-8"))
        found = self.page.evaluate(
            "([exclude, impacts]) => axe.run({include: [document],"
            " exclude: exclude.map(s => [s])},"
            " {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']})"
            ".then(r => r.violations.filter(v => !impacts || impacts.includes(v.impact))"
            ".map(v => v.id + ' (' + v.impact + '): '"
            " + v.nodes.slice(0, 5).map(n => n.target.join(' ')).join(', ')"
            " + ' ' + v.nodes.length + ' node(s)'))",
            [list(exclude), list(impacts) if impacts else None])
        return found

    def assert_clean(self, *, allow_blocked_images: bool = False) -> None:
        """No CSP violation, no uncaught error, no console error, nothing fetched elsewhere.

        With ``allow_blocked_images`` (a basemap's tiles), blocked requests may be images only,
        and their failures are the only console errors allowed.
        """
        assert self.csp_violations() == []
        assert self.page_errors == [], "\n".join(self.page_errors)
        if allow_blocked_images:
            errors = [e for e in self.console_errors if BLOCKED_ERROR not in e]
        else:
            assert self.blocked == [], f"requests to other origins: {self.blocked}"
            errors = self.console_errors
        assert errors == []


def elsewhere_record(context, watched: Watched, *, types: list[str] | None = None) -> None:
    """Record in ``watched.blocked`` (as "type URL") each request of ``context`` that went
    elsewhere and was refused (``CLOSED_PROXY``), and its type in ``types``."""
    def failed(request) -> None:
        if request.failure == BLOCKED_ERROR:
            watched.blocked.append(f"{request.resource_type} {request.url}")
            if types is not None:
                types.append(request.resource_type)

    context.on("requestfailed", failed)


@pytest.fixture
def open_page(chromium, live_server) -> Iterator:
    """``open_page(path, locale=..., session=...)`` → Watched, after the page has loaded."""
    contexts = []

    def open_(path: str, *, locale: str = "zh-CN", session: str | None = None,
              blocked_types: list[str] | None = None, wait: str = "load") -> Watched:
        context = chromium.new_context(locale=locale, viewport={"width": 1280, "height": 860})
        contexts.append(context)
        if session:
            context.add_cookies([{"name": "sessionid", "value": session,
                                  "url": live_server.url}])
        page = context.new_page()
        watched = Watched(page=page)

        elsewhere_record(context, watched, types=blocked_types)
        context.add_init_script(WATCH_SCRIPT)
        page.on("console", lambda message: message.type == "error"
                and watched.console_errors.append(message.text))
        page.on("pageerror", lambda error: watched.page_errors.append(
            f"{error}\n{error.stack or ''}"))
        page.goto(live_server.url + path, wait_until=wait)
        return watched

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture
def session_for(db):
    """``session_for(username)`` → a session cookie value for that demo user."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    def login(username: str) -> str:
        client = Client()
        client.force_login(get_user_model().objects.get(username=username))
        return client.cookies["sessionid"].value

    return login


def screenshot(page, name: str) -> Path | None:
    """With ``SCREENSHOTS=1`` in the environment, save a full-page screenshot under
    test-artifacts/ and print where it is (a PNG of a whole page costs Chromium a few hundred
    ms of CPU: 37 of them are not taken on every run)."""
    if os.environ.get("SCREENSHOTS") != "1":
        return None
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    print(f"\nscreenshot: {path}")
    return path


def _map_settings(settings) -> None:
    """No basemap, and hotspots the history's cases (20 m apart) make."""
    settings.BASEMAP = "none"
    settings.MAP_HOTSPOT_EPS_M = 50  # metres
    settings.MAP_HOTSPOT_MIN_CASES = 3


@pytest.fixture
def map_history(reference_data, settings):
    """The map tests' history (``map_history_load``: reports and cases at Huaifang, Xingong
    and Chengyuan in the last days) with a hotspot the map can find (its cases are 20 m
    apart) and no basemap; returns the ``now`` it was loaded at."""
    _map_settings(settings)
    now = timezone.now()
    map_history_load(now=now)
    return now


@pytest.fixture(scope="module")
def map_history_rows(django_db_setup, django_db_blocker) -> Iterator[datetime]:
    """``map_history``'s rows written once for a module (tests/module_rows.py): for modules
    without transactional tests, which would wait for the module's transaction."""
    def make() -> datetime:
        now = timezone.now()
        map_history_load(now=now)
        return now

    with module_rows(django_db_blocker, make) as now:
        yield now


@pytest.fixture
def map_history_shared(map_history_rows, db, settings) -> datetime:
    """``map_history``, its rows shared by the module's tests (each in a savepoint)."""
    _map_settings(settings)
    return map_history_rows
