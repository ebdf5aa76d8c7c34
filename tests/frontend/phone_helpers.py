"""Browser fixtures of the phone-page tests: a 360 × 740 touch screen, geolocation granted and
set by the test, service workers allowed, every request to another host aborted, console
errors, page errors and CSP violations collected (as tests/frontend/conftest.py does for the
office pages; its ``chromium`` fixture and ``Watched`` are reused).

Import the fixtures into a test module (pytest finds them there by their names ``phone`` and
``camera_browser``): ``from tests.frontend.phone_helpers import phone_fixture  # noqa: F401``.
"""

from __future__ import annotations

import io
import math
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import segno
from PIL import Image

from tests.frontend.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    WATCH_SCRIPT,
    Watched,
    elsewhere_record,
)

PHONE_VIEWPORT = {"width": 360, "height": 740}
# (lon, lat) WGS 84: a street near Huaifang Wanda Plaza, inside Huaifang Community.
HUAIFANG_STREET = (116.3925, 39.7972)
# A request tried with the network gone: Chromium reports it as disconnected, or, when the
# service worker's own fetch for it failed, as failed (``respondWith`` rejected).
NETWORK_GONE = ("net::ERR_INTERNET_DISCONNECTED", "net::ERR_FAILED")


def network_gone(message: str) -> bool:
    """Whether a console error is a request tried while the network was gone."""
    return any(reason in message for reason in NETWORK_GONE)


def metres_apart(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Equirectangular distance in metres (good to 0.1 % over a few hundred metres here)."""
    x = math.radians(b[0] - a[0]) * math.cos(math.radians((a[1] + b[1]) / 2))
    y = math.radians(b[1] - a[1])
    return math.hypot(x, y) * 6_371_000


def _context(browser, live_server, *, locale: str, geolocation: tuple[float, float] | None,
             permissions: list[str]):
    options: dict = {
        "locale": locale, "viewport": PHONE_VIEWPORT, "is_mobile": True, "has_touch": True,
        "device_scale_factor": 2, "service_workers": "allow", "permissions": permissions,
        "timezone_id": "Asia/Shanghai",
    }
    if geolocation is not None:
        options["geolocation"] = {"longitude": geolocation[0], "latitude": geolocation[1],
                                  "accuracy": 12}
    return browser.new_context(**options)


def _watch(context, page) -> Watched:
    watched = Watched(page=page)

    elsewhere_record(context, watched)
    # Every request routed from the start, as before D-096: Playwright then keeps the page's
    # requests from the service worker and the cache, and a route a test adds later sees its
    # request (without it, an answer lost by such a route went through once in a fresh clone).
    context.route("**/*", lambda route: route.continue_())
    context.add_init_script(WATCH_SCRIPT)
    page.on("console", lambda message: message.type == "error"
            and watched.console_errors.append(message.text))
    page.on("pageerror", lambda error: watched.page_errors.append(
        f"{error}\n{error.stack or ''}"))
    return watched


@pytest.fixture(name="phone")
def phone_fixture(chromium, live_server) -> Iterator:
    """``phone(path, geolocation=(lon, lat), locale=...)`` → Watched, the page loaded."""
    contexts = []

    def open_(path: str, *, geolocation: tuple[float, float] | None = HUAIFANG_STREET,
              locale: str = "zh-CN", browser=None, permissions: list[str] | None = None
              ) -> Watched:
        context = _context(browser or chromium, live_server, locale=locale,
                           geolocation=geolocation,
                           permissions=permissions or ["geolocation"])
        contexts.append(context)
        page = context.new_page()
        watched = _watch(context, page)
        page.goto(live_server.url + path, wait_until="load")
        return watched

    yield open_
    for context in contexts:
        context.close()


def y4m_of_qr(text: str, path: Path, *, width: int = 640, height: int = 480) -> Path:
    """A one-frame Y4M video showing ``text`` as a QR code: Chromium's fake camera plays it
    (--use-file-for-fake-video-capture), so the page's scanner reads a real video stream."""
    qr = segno.make(text, error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=8, border=4)
    code = Image.open(buffer).convert("L")
    side = min(height - 40, code.width)
    code = code.resize((side, side), Image.Resampling.NEAREST)
    frame = Image.new("L", (width, height), 255)
    frame.paste(code, ((width - side) // 2, (height - side) // 2))
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        out.write(b"FRAME\n" + frame.tobytes() + chroma + chroma)
    return path


@pytest.fixture(name="camera_browser")
def camera_browser_fixture(chromium, tmp_path) -> Iterator:
    """``camera_browser(text)`` → a second Chromium (launched by the session's Playwright)
    whose camera shows ``text`` as a QR code."""
    browsers = []

    def launch(text: str):
        video = y4m_of_qr(text, tmp_path / f"qr-{uuid.uuid4().hex}.y4m")
        browser = chromium.browser_type.launch(
            executable_path=CHROMIUM, headless=True,
            args=[*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream",
                  "--use-fake-device-for-media-stream",
                  f"--use-file-for-fake-video-capture={video}"])
        browsers.append(browser)
        return browser

    yield launch
    for browser in browsers:
        browser.close()


def sign_in_with_code(page, key: str) -> None:
    """Type the union's sign-in code (what the QR code holds) and wait for the app."""
    page.fill("#signin-token", f"NYTOKEN:{key}")
    page.click("#signin-token-form button[type=submit]")
    page.wait_for_selector("body[data-ready]")


def stations_tab_open(page) -> None:
    """Open the rider's stations tab and wait for the member card's benefits: their box, above
    the "open now" switch, may appear and move it while a tap is on its way (seen as Playwright's
    "Clicking the checkbox did not change its state")."""
    page.click('#tabs button[data-view="view-stations"]')
    page.wait_for_selector('#checkin-benefit-box[data-loaded="true"]', state="attached")


def wait_for_worker(page) -> None:
    """Until the service worker controls the page and has kept the page and its assets."""
    page.wait_for_function("() => document.documentElement.dataset.swReady === '1'")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15_000)
    page.wait_for_function("""async () => {
        const names = await caches.keys();
        for (const name of names) {
            const cache = await caches.open(name);
            if (await cache.match('/rider/')) return true;
        }
        return false;
    }""", timeout=15_000)


class HeldRequests:
    """The page's requests whose URL ``matches``, held back until ``release``: to make an
    older answer arrive after a newer one, as on a slow mobile network (service-worker
    requests included: the route is the context's)."""

    def __init__(self, page, matches: Callable[[str], bool]) -> None:
        self.page = page
        self.routes: list = []
        page.context.route(matches, lambda route: self.routes.append(route))

    def wait(self, timeout_ms: int = 10_000) -> None:
        """Until one request is held (the page sends it once it has what it needs)."""
        for _ in range(timeout_ms // 50):
            if self.routes:
                return
            self.page.wait_for_timeout(50)
        raise AssertionError("the request to hold was never sent")

    def release(self) -> None:
        """Let the held requests go and wait until the page has had their answers."""
        for route in self.routes:
            url = route.request.url
            with self.page.expect_response(lambda response, url=url: response.url == url
                                           ) as answer:
                route.continue_()
            answer.value.finished()
        self.page.wait_for_timeout(300)  # the answers' handlers have run by now


def choose_category(page, code: str) -> None:
    """Tap a category in the rider's report form: the picker opened again if a category was
    chosen before ("Change"), the category's group unfolded."""
    if page.is_hidden("#category-picker"):
        page.click("#category-change")
    group = page.locator(f"details:has(#cat-{code})")
    if group.get_attribute("open") is None:
        group.locator("summary").click()
    page.locator(f'label[for="cat-{code}"]').click()
