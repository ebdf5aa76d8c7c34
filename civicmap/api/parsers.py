"""The API's ``multipart/form-data`` parser: the ``multipart`` library's tokenizer (the parser
the Python documentation names in place of the removed ``cgi`` module) inside Django's own
rules, instead of Django's tokenizer, which cost each intake about five times the CPU
(docs/DECISIONS.md D-089).

What Django's ``MultiPartParser`` decides is decided the same way here: the request's upload
handlers receive each file (in memory up to FILE_UPLOAD_MAX_MEMORY_SIZE, else a temporary
file), the fields are decoded in the request's encoding with undecodable bytes replaced, a file
part without a usable file name (by Django's own sanitising) is dropped, and
DATA_UPLOAD_MAX_NUMBER_FIELDS, DATA_UPLOAD_MAX_NUMBER_FILES and DATA_UPLOAD_MAX_MEMORY_SIZE
raise Django's own exceptions, which the API answers in its error shape
(civicmap.api.errors.bad_request_code). A body the library finds malformed is DRF's
``ParseError`` (400, "The request could not be read.", translated), as Django's
``MultiPartParserError`` was (in its own untranslated English).
Not kept: an upload handler's SkipFile and StopUpload (Django's own handlers raise neither),
and a part's ``Content-Transfer-Encoding`` other than 7bit, 8bit or binary is refused (RFC
7578 deprecates it; no browser or phone sends it), where Django decoded base64.
"""

from __future__ import annotations

from typing import Any

import multipart
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadhandler import FileUploadHandler, StopFutureHandlers
from django.http import QueryDict
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.utils.datastructures import MultiValueDict
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, DataAndFiles

from civicmap.errors import MSG_BAD_REQUEST

CHUNK_BYTES = 64 * 1024  # read from the request and handed to the upload handlers at a time
IDENTITY_ENCODINGS = frozenset({"7bit", "8bit", "binary"})


class MultipartFormParser(BaseParser):
    """DRF's parser for ``multipart/form-data``: ``request.data`` a QueryDict of the text fields,
    ``request.FILES`` a MultiValueDict of UploadedFiles, as DRF's own MultiPartParser gives."""

    media_type = "multipart/form-data"

    def parse(self, stream, media_type: str | None = None,
              parser_context: dict[str, Any] | None = None) -> DataAndFiles:
        request = parser_context["request"]
        encoding = parser_context.get("encoding") or settings.DEFAULT_CHARSET
        length = _content_length(request.META)
        try:
            boundary = multipart.parse_options_header(media_type or "")[1].get("boundary", "")
            return _FormReader(request.upload_handlers, encoding).read(
                stream, boundary=boundary, length=length, meta=request.META)
        except multipart.MultipartError as error:
            # The client reads the API's own translated words; the library's are on the chain.
            raise ParseError(MSG_BAD_REQUEST) from error


def _content_length(meta: dict) -> int:
    try:
        return max(int(meta.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


class _FormReader:
    """One body's fields and files, counted against Django's limits as they arrive."""

    def __init__(self, handlers: list[FileUploadHandler], encoding: str) -> None:
        self.handlers = handlers
        self.encoding = encoding
        self.values: dict[str, list[str]] = {}
        self.files = MultiValueDict()
        self.fields = 0
        self.file_count = 0
        self.field_bytes = 0
        # Read once a body (settings are a lazy object, each read a lookup).
        self.most_fields = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        self.most_files = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        self.most_field_bytes = settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    def read(self, stream, *, boundary: str, length: int, meta: dict) -> DataAndFiles:
        if length == 0:
            return DataAndFiles(QueryDict(encoding=self.encoding), MultiValueDict())
        for handler in self.handlers:  # e.g. the memory handler decides here whether it serves
            result = handler.handle_raw_input(stream, meta, length, boundary, self.encoding)
            if result is not None:
                return DataAndFiles(*result)
        parser = multipart.PushMultipartParser(
            boundary, content_length=length, header_charset=self.encoding,
            max_segment_count=self._most_parts())
        part: _Part | None = None
        try:
            for event in parser.parse_blocking(stream.read, CHUNK_BYTES):
                if isinstance(event, multipart.MultipartSegment):
                    part = self._part_start(event)
                elif event is None:
                    part.end(self)
                else:
                    part.add(event, self)
        except Exception:
            for handler in self.handlers:  # temporary files of a refused body
                handler.upload_interrupted()
            raise
        for handler in self.handlers:
            if handler.upload_complete() is not None:
                break
        data = QueryDict(mutable=True, encoding=self.encoding)
        for name, values in self.values.items():
            data.setlist(name, values)
        data._mutable = False
        return DataAndFiles(data, self.files)

    def _most_parts(self) -> float:
        """The library's own bound on parts, past Django's two so that Django's are what
        a client is told."""
        if self.most_fields is None or self.most_files is None:
            return float("inf")
        return self.most_fields + self.most_files + 3

    def _part_start(self, segment: multipart.MultipartSegment) -> _Part:
        encoding = (segment.header("Content-Transfer-Encoding") or "binary").strip().lower()
        if encoding not in IDENTITY_ENCODINGS:
            raise multipart.ParserError(f"Content-Transfer-Encoding {encoding} not supported")
        name = segment.name.strip() if segment.name else ""
        if not segment.filename:  # Django's rule: a part with an empty file name is a field
            self.fields += 1
            if self.most_fields is not None and self.fields > self.most_fields:
                raise TooManyFieldsSent(
                    "The number of GET/POST parameters exceeded "
                    "settings.DATA_UPLOAD_MAX_NUMBER_FIELDS.")
            return _Field(name) if name else _Skipped()
        self.file_count += 1
        if self.most_files is not None and self.file_count > self.most_files:
            raise TooManyFilesSent(
                "The number of files exceeded settings.DATA_UPLOAD_MAX_NUMBER_FILES.")
        # Django's own rule, called as it is written: a method that never reads its instance.
        file_name = DjangoMultiPartParser.sanitize_file_name(None, segment.filename)
        if not name or not file_name:
            return _Skipped()
        return _File(name, file_name, segment, self.handlers)

    def field_bytes_add(self, count: int) -> None:
        self.field_bytes += count
        if self.most_field_bytes is not None and self.field_bytes > self.most_field_bytes:
            raise RequestDataTooBig(
                "Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")


class _Part:
    def add(self, chunk: bytes, reader: _FormReader) -> None:
        """A piece of the part's body."""

    def end(self, reader: _FormReader) -> None:
        """The part's body has ended."""


class _Skipped(_Part):
    """A part Django ignores: a field without a name, a file without a usable file name."""


class _Field(_Part):
    def __init__(self, name: str) -> None:
        self.name = name
        self.chunks: list[bytes] = []

    def add(self, chunk: bytes, reader: _FormReader) -> None:
        reader.field_bytes_add(len(chunk))
        self.chunks.append(chunk)

    def end(self, reader: _FormReader) -> None:
        # Two more bytes, as Django counts them, so that the limit means what it means for
        # an urlencoded body ('&' and '=').
        reader.field_bytes_add(len(self.name) + 2)
        value = b"".join(self.chunks).decode(reader.encoding, errors="replace")
        reader.values.setdefault(self.name, []).append(value)


class _File(_Part):
    """A file handed to the upload handlers chunk by chunk, as Django's parser hands it."""

    def __init__(self, name: str, file_name: str, segment: multipart.MultipartSegment,
                 handlers: list[FileUploadHandler]) -> None:
        self.name = name
        self.handlers = handlers
        self.received = [0] * len(handlers)
        length = segment.header("Content-Length")
        charset = segment.charset
        extra = {"charset": charset} if charset else {}
        for handler in handlers:
            try:
                handler.new_file(name, file_name, segment.content_type or "",
                                 int(length) if length else None, charset, extra)
            except StopFutureHandlers:
                break

    def add(self, chunk: bytes, reader: _FormReader) -> None:
        for index, handler in enumerate(self.handlers):
            size = len(chunk)
            chunk = handler.receive_data_chunk(chunk, self.received[index])
            self.received[index] += size
            if chunk is None:  # this handler keeps it: the later ones never see it
                break

    def end(self, reader: _FormReader) -> None:
        for index, handler in enumerate(self.handlers):
            uploaded = handler.file_complete(self.received[index])
            if uploaded:
                reader.files.appendlist(self.name, uploaded)
                break

