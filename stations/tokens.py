"""What a station's printed QR code holds, and how a scanned or typed code is read back.

The QR code holds ``NYSTATION:<station id>.<short code>:<signature>``: Django's ``Signer``
(HMAC-SHA256 keyed by SECRET_KEY and a salt of its own), so nobody can make a valid code for a
station without the server's secret. The short code (8 characters from an alphabet without
0/O and 1/I/L) is printed under the QR code for riders to type; it is random, stored, and looked
up in the database. Either way the token row must still be unrevoked: rotation revokes it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import segno
from django.core import signing

CHECKIN_QR_PREFIX = "NYSTATION:"
CHECKIN_SALT = "stations.checkin"  # a salt of its own: no other signed value is valid here
SHORT_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # 31 symbols, none easily misread
SHORT_CODE_LENGTH = 8  # 31**8 ≈ 8.5e11 codes


def short_code_new() -> str:
    return "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(SHORT_CODE_LENGTH))


def token_sign(*, station_id: int, short_code: str) -> str:
    """The signed token (without the QR prefix)."""
    return signing.Signer(salt=CHECKIN_SALT).sign(f"{station_id}.{short_code}")


def token_qr_payload(*, station_id: int, short_code: str) -> str:
    return CHECKIN_QR_PREFIX + token_sign(station_id=station_id, short_code=short_code)


@dataclass(frozen=True)
class ReadCode:
    """What a rider sent, once read: a verified signed token or a typed short code."""

    short_code: str
    station_id: int | None  # from a signed token; None for a typed short code
    signed: bool


def code_read(text: str) -> ReadCode | None:
    """Read a scanned QR payload, a bare signed token or a typed short code; None if it is none
    of these or the signature does not verify (a forged or altered code)."""
    text = (text or "").strip()
    if text.upper().startswith(CHECKIN_QR_PREFIX):
        text = text[len(CHECKIN_QR_PREFIX):]
    if ":" in text:  # a signed token
        try:
            value = signing.Signer(salt=CHECKIN_SALT).unsign(text)
        except signing.BadSignature:
            return None
        station_part, _sep, short_code = value.partition(".")
        if not station_part.isdigit() or not short_code:
            return None
        return ReadCode(short_code=short_code, station_id=int(station_part), signed=True)
    typed = "".join(ch for ch in text.upper() if ch not in " -")
    if len(typed) != SHORT_CODE_LENGTH or any(ch not in SHORT_CODE_ALPHABET for ch in typed):
        return None
    return ReadCode(short_code=typed, station_id=None, signed=False)


def token_qr_svg(*, station_id: int, short_code: str) -> str:
    """The printable QR code of a station's code, as inline SVG (the API's qr.svg and the
    union's A4 sheet): error correction M (15 % of the symbol may be soiled), 8 px modules,
    the standard quiet zone of 4 modules."""
    payload = token_qr_payload(station_id=station_id, short_code=short_code)
    return segno.make(payload, error="m").svg_inline(scale=8, border=4)
