"""The text a PDF made by reportlab draws, read back without a PDF library (none is installed):
its streams decoded (ASCII85, Flate), each subset font's ToUnicode map read, and every string
shown with ``Tj`` mapped through it. Enough for our own certificates, not for any PDF."""

from __future__ import annotations

import base64
import re
import zlib


def _stream_data(raw: bytes, header: bytes) -> bytes:
    if b"/ASCII85Decode" in header:
        raw = base64.a85decode(raw.strip(), adobe=True)
    if b"/FlateDecode" in header:
        raw = zlib.decompress(raw)
    return raw


def _literal(text: bytes) -> bytes:
    """A PDF literal string's bytes, its escapes undone."""
    out, i = bytearray(), 0
    while i < len(text):
        if text[i:i + 1] == b"\\":
            octal = re.match(rb"[0-7]{1,3}", text[i + 1:i + 4])
            if octal:
                out.append(int(octal.group(), 8))
                i += 1 + len(octal.group())
                continue
            out += {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(text[i + 1:i + 2],
                                                                  text[i + 1:i + 2])
            i += 2
            continue
        out.append(text[i])
        i += 1
    return bytes(out)


def pdf_text(data: bytes) -> str:
    """The text a reportlab PDF draws (Tj strings through each subset font's ToUnicode map)."""
    streams = [_stream_data(m.group(2), m.group(1)) for m in re.finditer(
        rb"<<(.*?)>>\s*stream\r?\n(.*?)endstream", data, re.S)]
    codes: dict[int, str] = {}
    for stream in streams:
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", stream, re.S):
            for code, uni in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
                codes[int(code, 16)] = bytes.fromhex(uni.decode()).decode("utf-16-be")
    shown = []
    for stream in streams:
        for text in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", stream, re.S):
            shown.append("".join(codes.get(b, chr(b)) for b in _literal(text)))
    return "\n".join(shown)
