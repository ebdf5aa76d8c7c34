"""The API's multipart parser (civicmap.api.parsers, D-089) gives what Django's parser gives,
body by body, and refuses what Django refuses with Django's own exceptions."""

from __future__ import annotations

import io

import hypothesis
import pytest
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadedfile import InMemoryUploadedFile, TemporaryUploadedFile
from django.test import RequestFactory
from hypothesis import strategies as st
from rest_framework.exceptions import ParseError
from rest_framework.parsers import MultiPartParser

from civicmap.api.parsers import MultipartFormParser

BOUNDARY = "----civicmap-test-7d3a"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def field(name: str | bytes, value: str | bytes, *, headers: str = "") -> bytes:
    name = name.encode() if isinstance(name, str) else name
    value = value.encode() if isinstance(value, str) else value
    return (b'Content-Disposition: form-data; name="' + name + b'"\r\n' + headers.encode()
            + b"\r\n" + value)


def upload(name: str, file_name: str, content: bytes, content_type: str | None = "image/jpeg"
           ) -> bytes:
    kind = f"Content-Type: {content_type}\r\n" if content_type else ""
    return (f'Content-Disposition: form-data; name="{name}"; filename="{file_name}"\r\n{kind}'
            "\r\n").encode() + content


def body(*parts: bytes, preamble: bytes = b"", epilogue: bytes = b"") -> bytes:
    delimiter = b"--" + BOUNDARY.encode()
    return (preamble + b"".join(delimiter + b"\r\n" + part + b"\r\n" for part in parts)
            + delimiter + b"--\r\n" + epilogue)


def parsed(parser_class, raw: bytes, content_type: str = CONTENT_TYPE) -> dict:
    """The parser's fields and files, each file as what a view can read of it."""
    request = RequestFactory().generic("POST", "/api/v1/reports/", raw, content_type=content_type)
    result = parser_class().parse(io.BytesIO(raw), content_type,
                                  {"request": request, "encoding": "utf-8"})
    files = {name: [(type(item), item.name, item.content_type, _text(item.charset), item.size,
                     item.read()) for item in items] for name, items in result.files.lists()}
    return {"data": dict(result.data.lists()), "files": files}


def _text(charset: str | bytes | None) -> str | None:
    """A file's charset as text: Django's parser leaves it in bytes, this one decodes it."""
    return charset.decode() if isinstance(charset, bytes) else charset


PHOTO = bytes(range(256)) * 200  # 51,200 bytes, every byte value (CR, LF and '-' among them)
BODIES = {
    "a report": body(field("category", "L0103"), field("lon", "116.3817545"),
                     field("description", "路灯不亮，晚上很危险"),
                     upload("photos", "a.jpg", PHOTO)),
    "repeated names, a Chinese name": body(field("tag", "一"), field("tag", "二"),
                                           field("类别", "x")),
    "bytes that are not UTF-8": body(field("description", b"ok \xff\xfe end")),
    "two files of one name": body(upload("photos", "1.jpg", b"one"),
                                  upload("photos", "2.png", b"two", "image/png")),
    "paths and entities in file names": body(upload("a", "C:\\Users\\me\\p.jpg", b"1"),
                                             upload("b", "../../etc/passwd", b"2"),
                                             upload("c", "x&amp;y.jpg", b"3")),
    "a file without a name or a type": body(upload("photos", "", b"a field, as in Django"),
                                            upload("other", "f.bin", b"kept", None),
                                            upload("more", "..", b"dropped")),
    "a file part charset": body(upload("notes", "n.txt", b"abc", "text/plain; charset=gbk")),
    "preamble and epilogue": body(field("a", "1"), preamble=b"ignored\r\n",
                                  epilogue=b"also ignored"),
    "an empty value": body(field("description", "")),
    "a line break in a value": body(field("description", "one\r\ntwo\r\n")),
}


@pytest.mark.parametrize("raw", BODIES.values(), ids=BODIES.keys())
def test_a_body_parses_as_django_parses_it(raw):
    assert parsed(MultipartFormParser, raw) == parsed(MultiPartParser, raw)


def test_a_file_past_the_memory_limit_is_a_temporary_file_as_in_django(settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10_000
    raw = BODIES["a report"]

    ours = parsed(MultipartFormParser, raw)

    assert ours == parsed(MultiPartParser, raw)
    assert ours["files"]["photos"][0][0] is TemporaryUploadedFile
    small = parsed(MultipartFormParser, BODIES["two files of one name"])
    assert {item[0] for item in small["files"]["photos"]} == {InMemoryUploadedFile}


def test_an_empty_body_is_no_fields_and_no_files():
    assert parsed(MultipartFormParser, b"") == {"data": {}, "files": {}}


@pytest.mark.parametrize(("limits", "raw", "refusal"), [
    ({"DATA_UPLOAD_MAX_NUMBER_FIELDS": 3}, body(*(field(f"f{i}", "v") for i in range(6))),
     TooManyFieldsSent),
    ({"DATA_UPLOAD_MAX_NUMBER_FILES": 1}, body(upload("p", "1.jpg", b"1"),
                                               upload("p", "2.jpg", b"2")), TooManyFilesSent),
    ({"DATA_UPLOAD_MAX_MEMORY_SIZE": 100}, body(field("description", "x" * 200)),
     RequestDataTooBig),
], ids=["fields", "files", "field bytes"])
def test_django_limits_raise_djangos_exceptions(settings, limits, raw, refusal):
    for name, value in limits.items():
        setattr(settings, name, value)
    for parser_class in (MultiPartParser, MultipartFormParser):
        with pytest.raises(refusal):
            parsed(parser_class, raw)


def test_files_do_not_count_against_the_field_bytes(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    raw = body(field("a", "1"), upload("photos", "a.jpg", PHOTO))

    assert parsed(MultipartFormParser, raw)["files"]["photos"][0][4] == len(PHOTO)


@pytest.mark.parametrize(("raw", "content_type"), [
    (BODIES["a report"], "multipart/form-data"),
    (BODIES["a report"][:-40], CONTENT_TYPE),
    (b"no delimiter at all", CONTENT_TYPE),
    (body(b"Content-Disposition: attachment\r\n\r\nx"), CONTENT_TYPE),
    (body(field("photo", "aGVsbG8=", headers="Content-Transfer-Encoding: base64\r\n")),
     CONTENT_TYPE),
    (body(field(b"\xff\xfe", "x")), CONTENT_TYPE),
], ids=["no boundary", "cut short", "no delimiter", "not form-data", "base64",
        "a name not UTF-8"])
def test_a_malformed_body_is_a_parse_error(raw, content_type):
    with pytest.raises(ParseError):
        parsed(MultipartFormParser, raw, content_type)


def test_every_api_view_that_reads_multipart_reads_it_with_this_parser():
    from rest_framework.views import APIView

    from civicmap.urls import urlpatterns

    views = {pattern.callback.cls for pattern in _patterns(urlpatterns)
             if getattr(pattern.callback, "cls", None) and issubclass(pattern.callback.cls,
                                                                       APIView)}
    readers = {view for view in views
               if any(p.media_type == "multipart/form-data" for p in view.parser_classes)}

    assert readers  # the report form, the confirmation, a case's actions, Open311 …
    assert all(MultipartFormParser in view.parser_classes for view in readers), sorted(
        view.__name__ for view in readers if MultipartFormParser not in view.parser_classes)


def _patterns(patterns):
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            yield from _patterns(pattern.url_patterns)
        else:
            yield pattern


REFUSALS = (ParseError, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)


@hypothesis.settings(max_examples=300, deadline=None, derandomize=True,
                     suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
@hypothesis.given(body_name=st.sampled_from(sorted(BODIES)), cut=st.integers(0, 60_000),
                  noise=st.binary(max_size=40), at=st.integers(0, 60_000),
                  options=st.one_of(st.just(f"boundary={BOUNDARY}"), st.text(max_size=60)))
def test_a_damaged_body_is_parsed_or_refused_never_an_error(settings, body_name, cut, noise, at,
                                                           options):
    """Any body made from a good one by cutting it short and writing bytes into it, under any
    Content-Type options: parsed, or refused with a 400/413 of Django's or DRF's, never another
    exception (a 500)."""
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    good = BODIES[body_name]
    damaged = good[:at] + noise + good[at + len(noise):cut or None]
    try:
        parsed(MultipartFormParser, damaged, f"multipart/form-data; {options}")
    except REFUSALS:
        pass
