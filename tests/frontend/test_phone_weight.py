"""Page weight of the phone pages, measured in Chromium through the DevTools protocol: requests
and bytes of a first visit (cold cache, no service worker), of the service worker's own
download, of a repeat visit (the worker answers), of a visit with no network, and load times
on an emulated slow network. The numbers are written to test-artifacts/phone-weight.md (the
table in docs/BENCHMARKS.md comes from there) and held to budgets.

Bytes are as the test server sends them (no compression); "gzip" is the same responses
compressed at level 6, as a deployment's nginx or WhiteNoise (pre-compressed files) would send
them.
"""

from __future__ import annotations

import gzip
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
import requests
from rest_framework.authtoken.models import Token

from tests.frontend.conftest import ARTIFACTS
from tests.frontend.phone_helpers import HUAIFANG_STREET, PHONE_VIEWPORT, wait_for_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Chrome DevTools' "Slow 3G" preset: 400 ms round trip, 400 kbit/s down and up.
SLOW_3G = {"offline": False, "latency": 400, "downloadThroughput": 400 * 1000 / 8,
           "uploadThroughput": 400 * 1000 / 8}
# Budgets (raw bytes as served; the first visit also draws the icon sprite and app icon).
FIRST_VISIT_MAX_REQUESTS = 10
FIRST_VISIT_MAX_GZIP_BYTES = 80_000
REPEAT_VISIT_MAX_NETWORK_REQUESTS = 4  # the page (revalidated) and API calls, no assets


@dataclass
class Visit:
    name: str
    requests: list[dict] = field(default_factory=list)
    seconds: float | None = None

    def network(self) -> list[dict]:
        return [r for r in self.requests
                if not r["from_worker"] and not r["failed"] and not r["cached"]]

    def row(self) -> dict:
        network = self.network()
        return {
            "visit": self.name,
            "requests": len(self.requests),
            "over_network": len(network),
            "from_worker": sum(1 for r in self.requests if r["from_worker"]),
            "from_cache": sum(1 for r in self.requests if r["cached"] and not r["from_worker"]),
            "bytes": sum(r["bytes"] for r in network),
            "gzip_bytes": sum(r["gzip"] for r in network),
            "seconds": round(self.seconds, 2) if self.seconds is not None else None,
        }


class Recorder:
    """Every request of a page as the DevTools protocol sees it (the page's target only)."""

    def __init__(self, page, base_url: str, auth: str | None = None) -> None:
        self.session = page.context.new_cdp_session(page)
        self.session.send("Network.enable")
        self.base_url = base_url
        self.auth = auth
        self.by_id: dict[str, dict] = {}
        self.session.on("Network.requestWillBeSent", self._sent)
        self.session.on("Network.responseReceived", self._response)
        self.session.on("Network.loadingFinished", self._finished)
        self.session.on("Network.loadingFailed", self._failed)
        self.session.on("Network.requestServedFromCache", self._cached)

    def _sent(self, event) -> None:
        if event["request"]["url"].startswith(("data:", "blob:")):
            return
        self.by_id[event["requestId"]] = {"url": event["request"]["url"],
                                          "method": event["request"]["method"],
                                          "from_worker": False, "failed": False, "bytes": 0,
                                          "cached": False}

    def _response(self, event) -> None:
        entry = self.by_id.get(event["requestId"])
        if entry is not None:
            entry["from_worker"] = bool(event["response"].get("fromServiceWorker"))
            entry["cached"] = entry["cached"] or bool(event["response"].get("fromDiskCache"))
            entry["status"] = event["response"]["status"]

    def _finished(self, event) -> None:
        entry = self.by_id.get(event["requestId"])
        if entry is not None:
            entry["bytes"] = int(event["encodedDataLength"])

    def _cached(self, event) -> None:
        entry = self.by_id.get(event["requestId"])
        if entry is not None:
            entry["cached"] = True

    def _failed(self, event) -> None:
        entry = self.by_id.get(event["requestId"])
        if entry is not None:
            entry["failed"] = True

    def take(self, name: str, seconds: float | None = None) -> Visit:
        visit = Visit(name=name, seconds=seconds)
        for entry in self.by_id.values():
            entry["gzip"] = self._gzip_size(entry) if not entry["from_worker"] else 0
            visit.requests.append(dict(entry))
        self.by_id = {}
        return visit

    def _gzip_size(self, entry: dict) -> int:
        """The response again through plain HTTP, compressed as a deployment would send it
        (headers approximated by the difference between transfer and body sizes)."""
        if entry["failed"] or entry["method"] != "GET" or entry["bytes"] == 0:
            return entry["bytes"]
        private = "/api/" in entry["url"] or "/phone/" in entry["url"]
        headers = {"Authorization": f"Token {self.auth}"} if self.auth and private else {}
        body = requests.get(entry["url"], headers=headers, timeout=30).content
        header_bytes = max(0, entry["bytes"] - len(body))
        return header_bytes + len(gzip.compress(body, compresslevel=6))


def _assert_local(visit: Visit) -> None:
    hosts = {urlsplit(r["url"]).hostname for r in visit.requests}
    assert hosts <= {"localhost", "127.0.0.1"}, hosts


def _table(rows: list[dict]) -> str:
    lines = ["| visit | requests | over the network | from the service worker | from the "
             "browser's cache | bytes | gzip bytes | seconds |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        lines.append(f"| {row['visit']} | {row['requests']} | {row['over_network']} | "
                     f"{row['from_worker']} | {row.get('from_cache', 0)} | {row['bytes']:,} | "
                     f"{row['gzip_bytes']:,} | "
                     f"{row['seconds'] if row['seconds'] is not None else ''} |")
    return "\n".join(lines)


def test_rider_page_weight_first_repeat_and_offline(reference_data, settings, chromium,
                                                     live_server):
    settings.BASEMAP = "none"
    token = Token.objects.get(user__username="rider1").key
    context = chromium.new_context(
        viewport=PHONE_VIEWPORT, is_mobile=True, has_touch=True, locale="zh-CN",
        timezone_id="Asia/Shanghai", service_workers="allow", permissions=["geolocation"],
        geolocation={"longitude": HUAIFANG_STREET[0], "latitude": HUAIFANG_STREET[1]})
    page = context.new_page()
    recorder = Recorder(page, live_server.url, auth=token)
    rows = []

    # 1. First visit, signed out, cold cache, slow network: until the sign-in is shown.
    recorder.session.send("Network.emulateNetworkConditions", SLOW_3G)
    started = time.monotonic()
    page.goto(live_server.url + "/rider/", wait_until="load")
    page.wait_for_selector("#signin:not([hidden])")
    seconds = time.monotonic() - started
    page.wait_for_load_state("networkidle")
    first = recorder.take("first visit (slow 3G, cold cache, signed out)", seconds)
    recorder.session.send("Network.emulateNetworkConditions",
                          {**SLOW_3G, "latency": 0, "downloadThroughput": -1,
                           "uploadThroughput": -1})

    # 2. Sign in; the service worker installs and keeps the page, its assets and Leaflet.
    page.fill("#signin-token", f"NYTOKEN:{token}")
    page.click("#signin-token-form button[type=submit]")
    page.wait_for_selector("body[data-ready]")
    wait_for_worker(page)
    recorder.take("sign-in")
    sw_config = json.loads(requests.get(live_server.url + "/rider/sw.js", timeout=30).text
                           .split("\n", 1)[0].removeprefix("self.CIVICMAP_SW = ").rstrip(";"))
    kept = ["/rider/", *sw_config["assets"], *sw_config["lazy_assets"]]
    kept_bytes = sum(len(requests.get(live_server.url + path, timeout=30).content)
                     for path in kept)
    kept_gzip = sum(len(gzip.compress(requests.get(live_server.url + path, timeout=30).content,
                                      compresslevel=6)) for path in kept)

    # 3. Repeat visit, signed in, slow network: the worker answers for the assets.
    recorder.session.send("Network.emulateNetworkConditions", SLOW_3G)
    started = time.monotonic()
    page.reload(wait_until="load")
    page.wait_for_selector("body[data-ready]")
    seconds = time.monotonic() - started
    page.wait_for_load_state("networkidle")
    repeat = recorder.take("repeat visit (slow 3G, service worker, signed in)", seconds)

    # 4. No network at all: the page still opens, ready to file a report.
    context.set_offline(True)
    # This session's own emulation would otherwise override Playwright's offline switch.
    recorder.session.send("Network.emulateNetworkConditions",
                          {"offline": True, "latency": 0, "downloadThroughput": -1,
                           "uploadThroughput": -1})
    started = time.monotonic()
    page.reload(wait_until="load")
    page.wait_for_selector("body[data-ready]")
    seconds = time.monotonic() - started
    page.wait_for_load_state("networkidle")
    offline = recorder.take("visit with no network (service worker)", seconds)
    context.set_offline(False)
    recorder.session.send("Network.emulateNetworkConditions",
                          {**SLOW_3G, "latency": 0, "downloadThroughput": -1,
                           "uploadThroughput": -1})

    # 5. The teams' page, first visit (no service worker there), slow network.
    team = context.new_page()
    team_recorder = Recorder(team, live_server.url)
    team_recorder.session.send("Network.setCacheDisabled", {"cacheDisabled": True})
    team_recorder.session.send("Network.emulateNetworkConditions", SLOW_3G)
    started = time.monotonic()
    team.goto(live_server.url + "/team/", wait_until="load")
    team.wait_for_selector("#signin:not([hidden])")
    seconds = time.monotonic() - started
    team.wait_for_load_state("networkidle")
    team_first = team_recorder.take("team page, first visit (slow 3G, cold cache)", seconds)

    for visit in (first, repeat, offline, team_first):
        _assert_local(visit)
        rows.append(visit.row())
    rows.insert(1, {"visit": "service worker install (in the background after the first "
                             "visit): page, assets, Leaflet", "requests": len(kept),
                    "over_network": len(kept), "from_worker": 0, "bytes": kept_bytes,
                    "gzip_bytes": kept_gzip, "seconds": None})
    ARTIFACTS.mkdir(exist_ok=True)
    report = ARTIFACTS / "phone-weight.md"
    detail = {visit.name: [(r["url"].replace(live_server.url, ""), r["bytes"], r["gzip"],
                            r["from_worker"]) for r in visit.requests]
              for visit in (first, repeat, offline, team_first)}
    report.write_text(_table(rows) + "\n\n```json\n" + json.dumps(detail, indent=1) + "\n```\n",
                      encoding="utf-8")
    print("\n" + _table(rows) + f"\nwritten: {report}")

    first_row, repeat_row, offline_row = rows[0], rows[2], rows[3]
    assert first_row["requests"] <= FIRST_VISIT_MAX_REQUESTS
    assert first_row["gzip_bytes"] <= FIRST_VISIT_MAX_GZIP_BYTES
    assert repeat_row["over_network"] <= REPEAT_VISIT_MAX_NETWORK_REQUESTS
    assert all(not r["url"].startswith(live_server.url + "/static/")
               for r in repeat.network()), "assets must come from the service worker"
    assert offline_row["bytes"] == 0  # only the failed refresh of /phone/me/ was tried
    context.close()
