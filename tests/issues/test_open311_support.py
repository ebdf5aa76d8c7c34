"""Shared helpers of the Open311 tests (no tests here): an outside client over real sockets,
and a media host of the test's own (``MediaHost``).

Every request goes over HTTP to pytest-django's live server, the way 311 software written
elsewhere calls us: ``requests`` for raw calls and the form POST, the ``georeport`` client
library from PyPI for the reads. XML bodies are parsed by ``xmltodict`` (as georeport does) and
checked with the standard library's parser, never by the app's own code.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.etree import ElementTree

import requests
import xmltodict
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.authtoken.models import Token

from fixtures.seed import DEMO_API_CLIENT
from issues.models import ApiClient

ROOT = "/open311/v2"
FORMATS = ("xml", "json")
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'
# Elements that are lists in GeoReport v2 XML: always parsed as lists, even with one item.
XML_LISTS = ("service", "request", "attribute", "value", "error", "endpoint", "format", "note")
ENGLISH = {"Accept-Language": "en"}

# (lon, lat) WGS 84; the communities are those of tests/issues/helpers.py.
HUAIFANG_GATE = (116.3930, 39.7990)  # gate of 槐房社区 (110106005010)
CHENGYUAN = (116.3954, 39.8040)  # 成原社区 (110106005007)
TIANANMEN = (116.3975, 39.9087)  # central Beijing: outside the service area

MANHOLE = "C0101"  # public component; required singlevaluelist cover_state; to municipal
LAMP = "C0103"  # public; optional whole-number attribute lamps_out
GARBAGE = "E0101"  # public event, no attributes (metadata=false)
ROAD_COLLAPSE = "E0401"  # emergency: hazard_level required; dispatched on intake
NOISE = "E0301"  # construction group multivaluelist "when" + datetime "noticed_at"
SIGNBOARD = "E0202"  # string attribute signboard_text
STRUCTURE = "E0104"  # text attribute structure_details
BIKES = "E0502"  # number attribute count
PRIVATE = "L0201"  # 骑手停车难: private, never offered


def jpeg(size: tuple[int, int] = (96, 64), colour: tuple[int, int, int] = (200, 80, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def jpeg_upload(name: str = "proof.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, jpeg(), content_type="image/jpeg")


def demo_api_key() -> str:
    return ApiClient.objects.get(name=DEMO_API_CLIENT).api_key


def rider_token(username: str = "rider1") -> str:
    return Token.objects.get(user__username=username).key


def parse(response: requests.Response, fmt: str):
    """The body as Python data; XML is checked for the declaration and parsed like a client."""
    if fmt == "json":
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        return response.json()
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(XML_DECLARATION), response.content[:80]
    ElementTree.fromstring(response.content)  # well-formed
    return xmltodict.parse(response.content, force_list=XML_LISTS)


def xml_root(response: requests.Response) -> str:
    return ElementTree.fromstring(response.content).tag


def xml_items(data: dict, root: str, item: str) -> list:
    """``<root><item>…</item>…</root>`` as a list; an empty root is an empty list."""
    return (data[root] or {}).get(item, [])


def errors_of(response: requests.Response, fmt: str) -> list[tuple[int, str]]:
    """The spec's errors, ``[(code, description)]``, after checking their shape."""
    data = parse(response, fmt)
    if fmt == "json":
        assert isinstance(data, list) and data
        assert all(set(error) == {"code", "description"} for error in data), data
        errors = [(error["code"], error["description"]) for error in data]
        assert all(isinstance(code, int) for code, _ in errors)
    else:
        assert xml_root(response) == "errors"
        errors = [(int(error["code"]), error["description"]) for error in data["errors"]["error"]]
    assert errors and all(description and description.strip() for _, description in errors)
    assert {code for code, _ in errors} == {response.status_code}
    return errors


def request_form(*, api_key: str, service_code: str = GARBAGE,
                 point: tuple[float, float] = HUAIFANG_GATE, **fields) -> dict:
    """A form-encoded POST requests body; a value of None leaves the field out."""
    form = {"api_key": api_key, "service_code": service_code, "lat": repr(point[1]),
            "long": repr(point[0]), **fields}
    return {key: value for key, value in form.items() if value is not None}


def one_request(response: requests.Response, fmt: str) -> dict:
    """The only request of a GET requests/{id} answer (an array of one)."""
    assert response.status_code == 200, response.text
    data = parse(response, fmt)
    items = data if fmt == "json" else xml_items(data, "service_requests", "request")
    assert len(items) == 1, items
    return items[0]


def request_list(response: requests.Response, fmt: str) -> list[dict]:
    assert response.status_code == 200, response.text
    data = parse(response, fmt)
    return data if fmt == "json" else xml_items(data, "service_requests", "request")


def created_id(response: requests.Response, fmt: str) -> str:
    """The service_request_id of a POST requests answer, after checking its shape."""
    assert response.status_code == 200, response.text
    item = one_request(response, fmt)
    assert set(item) == {"service_request_id", "service_notice"}, item
    assert "token" not in item
    return item["service_request_id"]


class MediaHost(BaseHTTPRequestHandler):
    """A stand-in for a client's media host on 127.0.0.1: no test reaches the internet."""

    routes: dict[str, tuple[int, dict, bytes]] = {}
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        self.hits.append(self.path)
        status, headers, body = self.routes.get(self.path, (404, {}, b"not here"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def media_host_serving() -> Iterator[ThreadingHTTPServer]:
    """A MediaHost on a free port of 127.0.0.1, routes and hits cleared (the ``media_host``
    fixture of tests/issues/conftest.py)."""
    MediaHost.routes, MediaHost.hits = {}, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), MediaHost)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
