"""GeoReport v2 bodies: XML (required by the spec) and JSON, from the same plain data.

XML starts with the declaration (UTF-8) and uses the spec's root elements; a list is one element
per item, named by ``ITEM_ELEMENTS`` (``<services><service>``, ``<service_requests><request>``).
JSON lists are top-level arrays. Datetimes are ISO 8601 in Beijing time (+08:00), booleans
``true``/``false``, and a missing value is ``null`` in JSON and an empty element in XML.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from xml.etree import ElementTree

from django.http import HttpRequest, HttpResponse
from django.utils.functional import Promise

from civicmap.errors import DomainError, NotFound, PermissionRefused, RateLimited
from issues.open311.definitions import BEIJING

XML, JSON = "xml", "json"
CONTENT_TYPES = {XML: "text/xml; charset=utf-8", JSON: "application/json; charset=utf-8"}
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
# Characters XML 1.0 cannot hold even escaped (C0 controls but tab, LF, CR; U+FFFE, U+FFFF):
# a description pasted with one must not make the whole answer unreadable.
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

# The element of each item of a list, by the list's own element name.
ITEM_ELEMENTS = {
    "services": "service", "service_requests": "request", "attributes": "attribute",
    "values": "value", "errors": "error", "endpoints": "endpoint", "formats": "format",
    "notes": "note", "jurisdictions": "jurisdiction",
}


def open311_datetime(moment: datetime | None) -> str | None:
    """ISO 8601 with the +08:00 offset, to the second."""
    if moment is None:
        return None
    return moment.astimezone(BEIJING).isoformat(timespec="seconds")


def _plain(value):
    """The JSON value of one scalar."""
    if isinstance(value, datetime):
        return open311_datetime(value)
    if isinstance(value, Promise):
        return str(value)
    return value


def _json_ready(data):
    if isinstance(data, dict):
        return {key: _json_ready(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_json_ready(item) for item in data]
    return _plain(data)


def _xml_text(value) -> str | None:
    value = _plain(value)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return XML_ILLEGAL.sub("", str(value))


def _xml_fill(element: ElementTree.Element, data) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            _xml_fill(ElementTree.SubElement(element, key), value)
    elif isinstance(data, (list, tuple)):
        item_name = ITEM_ELEMENTS.get(element.tag, "item")
        for item in data:
            _xml_fill(ElementTree.SubElement(element, item_name), item)
    else:
        element.text = _xml_text(data)


def xml_body(root: str, data) -> bytes:
    element = ElementTree.Element(root)
    _xml_fill(element, data)
    return (XML_DECLARATION + ElementTree.tostring(element, encoding="unicode")).encode("utf-8")


def json_body(data) -> bytes:
    return json.dumps(_json_ready(data), ensure_ascii=False).encode("utf-8")


def open311_response(*, fmt: str, root: str, data, status: int = 200) -> HttpResponse:
    """``data`` as the body in ``fmt``; ``root`` names the XML root element."""
    body = xml_body(root, data) if fmt == XML else json_body(data)
    return HttpResponse(body, status=status, content_type=CONTENT_TYPES[fmt])


def error_status(error: DomainError) -> int:
    """The spec's three codes: 404 unknown resource, 403 api_key, 400 anything else; and
    HTTP's 429 (with Retry-After) for a key or rider over its hourly posts, which a client must
    tell apart from a request it should not send again."""
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, PermissionRefused):
        return 403
    if isinstance(error, RateLimited):
        return 429
    return 400


def error_description(field: str | None, message) -> str:
    return f"{field}: {message}" if field else str(message)


def errors_response(*, fmt: str, status: int,
                    descriptions: Iterable[str]) -> HttpResponse:
    """``[{"code", "description"}]`` / ``<errors><error>``; the code is the HTTP status."""
    data = [{"code": status, "description": text} for text in descriptions]
    return open311_response(fmt=fmt, root="errors", data=data, status=status)


def bad_request_response(request: HttpRequest, status: int, message: str) -> HttpResponse:
    """Django's own 400 (a body too large, too many fields) under /open311/, in Open311's
    error format: registered with civicmap.views by IssuesConfig.ready()."""
    fmt = XML if request.path.endswith(".xml") else JSON
    return errors_response(fmt=fmt, status=status, descriptions=[message])


def domain_error_response(*, fmt: str, error: DomainError) -> HttpResponse:
    status = error_status(error)
    response = errors_response(
        fmt=fmt, status=status,
        descriptions=[error_description(item.field, item.message) for item in error.errors],
    )
    if isinstance(error, RateLimited):
        response["Retry-After"] = str(error.retry_after_s)
    return response
