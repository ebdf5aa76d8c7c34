"""Checks and transforms for uploaded photos, decided by their content, never by name or type.

``photo_inspect`` decides whether an upload is a photo we accept and reads what intake needs from
it (hash, format, size, EXIF position and time); ``photo_renditions_make`` makes the public display
copy and thumbnail. Both are pure: no models, no storage, no database. The file name and the
declared content type of an upload are never looked at: a phone or a client can get both wrong,
and an attacker sets them at will.

Limits come from settings at call time: ``PHOTO_MAX_BYTES`` (bytes) and ``PHOTO_MAX_PIXELS``
(width × height of the stored image). Pillow's own decompression-bomb limits (a warning above
about 89 MP, an error above about 179 MP) stay in force as a ceiling above ours.
"""

from __future__ import annotations

import hashlib
import io
import math
import numbers
import re
import struct
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import IO, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext_lazy as _
from PIL import ExifTags, Image, ImageFile, ImageOps, UnidentifiedImageError

from civicmap.errors import FieldError, InvalidInput

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
DISPLAY_MAX_PX = 1280  # longest side of the display copy, pixels
THUMBNAIL_MAX_PX = 320  # longest side of the thumbnail, pixels
RENDITION_JPEG_QUALITY = 82  # libjpeg quality scale, 1-95
FLATTEN_BACKGROUND = (255, 255, 255)  # transparent pixels become white
BYTES_PER_MB = 1024 * 1024  # "MB" in messages means MiB, as PHOTO_MAX_BYTES is set in settings
PIXELS_PER_MP = 1_000_000
READ_CHUNK_BYTES = 1024 * 1024
# Riders' phones run on China Standard Time: an EXIF time without an offset is Beijing wall time.
PHOTO_LOCAL_TZ = ZoneInfo("Asia/Shanghai")

MSG_EMPTY = _("The file is empty.")
MSG_NOT_IMAGE = _("This file is not a photo.")
MSG_UNSUPPORTED_FORMAT = _(
    "This image format is not accepted. Please send a JPEG, PNG or WebP photo."
)
MSG_TRUNCATED = _("The photo is damaged or incomplete. Please take or choose it again.")
MSG_TOO_MANY_PIXELS = _("The photo has more than %(limit)s megapixels.")
MSG_TOO_LARGE = _("The photo is larger than %(limit)s MB.")

# What Pillow raises on a header or data stream it cannot make sense of.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)

# ISO base media (ftyp) brands of HEIF/HEIC (iPhone default) and AVIF still images.
_HEIF_BRANDS = frozenset(
    {
        b"heic",
        b"heix",
        b"hevc",
        b"hevx",
        b"heim",
        b"heis",
        b"hevm",
        b"hevs",
        b"mif1",
        b"msf1",
        b"avif",
        b"avis",
    }
)
# Leading bytes of image formats we recognise but do not accept.
_OTHER_IMAGE_SIGNATURES = (
    b"GIF87a",
    b"GIF89a",
    b"BM",  # BMP
    b"II*\x00",  # TIFF (and most camera raw files), little-endian
    b"MM\x00*",  # TIFF, big-endian
    b"8BPS",  # Photoshop
    b"\xff\x0a",  # JPEG XL codestream
    b"\x00\x00\x00\x0cJXL \r\n\x87\n",  # JPEG XL container
    b"\x00\x00\x00\x0cjP  \r\n\x87\n",  # JPEG 2000
    b"\xff\x4f\xff\x51",  # JPEG 2000 codestream
)
_EXIF_DATETIME = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_EXIF_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")


@dataclass(frozen=True)
class InspectedPhoto:
    sha256: str  # hex digest of the uploaded bytes
    image_format: str  # one of ALLOWED_FORMATS
    width: int  # pixels as stored, before EXIF orientation
    height: int
    gps: tuple[float, float] | None  # (lon, lat), WGS 84 decimal degrees, from EXIF
    taken_at: datetime | None  # EXIF DateTimeOriginal, timezone-aware


def photo_inspect(*, upload: IO[bytes], field: str = "photos") -> InspectedPhoto:
    """Check an uploaded photo by its bytes and read its hash, format, size, position and time.

    Refuses with ``InvalidInput`` naming ``field`` and a code: ``empty``, ``too_large`` (more than
    PHOTO_MAX_BYTES; at most that many bytes plus one are ever read), ``not_image``,
    ``unsupported_format`` (an image, but not JPEG, PNG or WebP: SVG, GIF, HEIC, ...),
    ``too_many_pixels`` (checked from the header, before any pixel is decoded) or ``truncated``
    (the pixels do not fully decode). EXIF is optional: missing or malformed tags give ``None``,
    never a refusal. The upload is rewound to its start afterwards, so the caller can store it.
    """
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # With this flag Pillow pads a cut-off image with grey instead of failing, so a truncated
        # upload would pass as a photo. Fail loudly rather than check nothing.
        raise ImproperlyConfigured(
            "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True; photo_inspect needs it False."
        )
    max_bytes: int = settings.PHOTO_MAX_BYTES
    max_pixels: int = settings.PHOTO_MAX_PIXELS
    try:
        upload.seek(0)
        data = _read_at_most(upload, max_bytes + 1)
        if not data:
            raise _refusal(field, "empty", MSG_EMPTY)
        if len(data) > max_bytes:
            limit_mb = _number_text(max_bytes / BYTES_PER_MB)
            raise _refusal(
                field, "too_large", _interpolate_lazy(MSG_TOO_LARGE, {"limit": limit_mb})
            )
        return _inspect_bytes(data, field=field, max_pixels=max_pixels)
    finally:
        upload.seek(0)


def photo_renditions_make(*, original: IO[bytes]) -> tuple[bytes, bytes]:
    """Make the public copies of a photo: ``(display, thumbnail)``, both JPEG bytes.

    The display copy is at most DISPLAY_MAX_PX and the thumbnail at most THUMBNAIL_MAX_PX on the
    longest side; neither is ever enlarged. Both are turned upright (EXIF orientation applied to
    the pixels), converted to RGB with transparency flattened on white, and saved with NO
    metadata at all: no EXIF, GPS, XMP, ICC profile or comment.

    Why no metadata: a phone photo's EXIF GPS is where the rider stood, to a few metres, and the
    timestamps and device tags come with it. Riders often photograph problems on their own street,
    so published copies would leak riders' home locations and routines to anyone who downloads
    them. Only pixels leave; the original stays private. The orientation must be applied first
    because dropping EXIF also drops the Orientation tag.

    ``original`` should have passed ``photo_inspect``; it is read from its start.
    """
    original.seek(0)
    with Image.open(original, formats=list(ALLOWED_FORMATS)) as image:
        if image.format in ("JPEG", "MPO"):
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale while staying at least DISPLAY_MAX_PX
            # on each side: a 40 MP photo then needs a fraction of the memory and time.
            image.draft(None, (DISPLAY_MAX_PX, DISPLAY_MAX_PX))
        upright = ImageOps.exif_transpose(image)
    display = _rgb_or_rgba(upright)
    display.thumbnail((DISPLAY_MAX_PX, DISPLAY_MAX_PX), Image.Resampling.LANCZOS)
    thumbnail = display.copy()
    thumbnail.thumbnail((THUMBNAIL_MAX_PX, THUMBNAIL_MAX_PX), Image.Resampling.LANCZOS)
    return _jpeg_bytes_clean(display), _jpeg_bytes_clean(thumbnail)


def _inspect_bytes(data: bytes, *, field: str, max_pixels: int) -> InspectedPhoto:
    # The refusals are made when raised, not for every photo (two exceptions and a lazy
    # message cost 1 % of an intake's CPU).
    def too_many_pixels() -> InvalidInput:
        return _refusal(field, "too_many_pixels", _interpolate_lazy(
            MSG_TOO_MANY_PIXELS, {"limit": _number_text(max_pixels / PIXELS_PER_MP)}))

    def truncated() -> InvalidInput:
        return _refusal(field, "truncated", MSG_TRUNCATED)

    with warnings.catch_warnings():
        # Pillow only warns between its two bomb limits; treat that as a refusal too. (The
        # filter is process-wide while it is set; the explicit pixel check below is the guard
        # that counts, this is the backstop when PHOTO_MAX_PIXELS is set above Pillow's.)
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise too_many_pixels() from exc
        except UnidentifiedImageError as exc:
            if _has_accepted_signature(data):
                raise truncated() from exc  # ours by its first bytes, but the header is broken
            if _has_other_image_signature(data):
                raise _refusal(field, "unsupported_format", MSG_UNSUPPORTED_FORMAT) from exc
            raise _refusal(field, "not_image", MSG_NOT_IMAGE) from exc
        except _DECODE_ERRORS as exc:
            raise truncated() from exc  # an accepted format claimed it, then its header broke off
        with image:
            width, height = image.size
            # Image.open has read the header only: refuse before decoding allocates the pixels.
            if width * height > max_pixels:
                raise too_many_pixels()
            if image.format in ("JPEG", "MPO"):
                # libjpeg then decodes at 1/8 scale: every byte of the stream is still read
                # and entropy-decoded (a damaged or cut-off file still fails), for a fraction of
                # the CPU of full-size pixels, which no check here looks at.
                image.draft(None, (max(width // 8, 1), max(height // 8, 1)))
            try:
                image.load()
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise too_many_pixels() from exc
            except _DECODE_ERRORS as exc:
                raise truncated() from exc
            gps, taken_at = _exif_position_and_time(image)
            # Phones that store a second picture (depth map, HDR gain map) in a JPEG make Pillow
            # report "MPO"; the file is still a JPEG and opens as one everywhere.
            image_format = "JPEG" if image.format == "MPO" else str(image.format)
    return InspectedPhoto(
        sha256=hashlib.sha256(data).hexdigest(),
        image_format=image_format,
        width=width,
        height=height,
        gps=gps,
        taken_at=taken_at,
    )


def _read_at_most(upload: IO[bytes], limit: int) -> bytes:
    """Up to ``limit`` bytes; loops because a stream may return fewer bytes than asked."""
    chunks = []
    remaining = limit
    while remaining > 0:
        chunk = upload.read(min(remaining, READ_CHUNK_BYTES))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _refusal(field: str, code: str, message: str | Promise) -> InvalidInput:
    return InvalidInput(FieldError(field, code, message))


def _interpolate(message: str | Promise, values: dict[str, str]) -> str:
    return str(message) % values


# ``lazy_message % values`` would translate at once; this waits until the message is rendered.
_interpolate_lazy = lazy(_interpolate, str)


def _number_text(value: float) -> str:
    """40.0 -> "40", 9.5367 -> "9.54", 0.01 -> "0.01"."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _has_accepted_signature(data: bytes) -> bool:
    return (
        data.startswith(b"\xff\xd8\xff")  # JPEG
        or data.startswith(b"\x89PNG\r\n\x1a\n")
        or (data.startswith(b"RIFF") and data[8:12] == b"WEBP")
    )


def _has_other_image_signature(data: bytes) -> bool:
    """An image format we do not accept, told by its first bytes (only to word the refusal)."""
    if data.startswith(_OTHER_IMAGE_SIGNATURES):
        return True
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return True
    # SVG is XML text whose root element is <svg>.
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<") and b"<svg" in head


def _exif_position_and_time(
    image: Image.Image,
) -> tuple[tuple[float, float] | None, datetime | None]:
    try:
        exif = image.getexif()
        gps_ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
        exif_ifd = exif.get_ifd(ExifTags.IFD.Exif)
    except Exception:
        # EXIF is optional and written by countless apps: a malformed block must neither refuse
        # the photo nor break intake, whatever Pillow's parser raises on it.
        return None, None
    return _gps_lon_lat(gps_ifd), _taken_at(exif_ifd, exif)


def _gps_lon_lat(gps: Mapping[int, Any]) -> tuple[float, float] | None:
    """(lon, lat) in WGS 84 degrees from an EXIF GPS IFD; None when absent or not believable."""
    if not gps:
        return None
    if _exif_text(gps.get(ExifTags.GPS.GPSStatus)).upper() == "V":  # "void": no fix
        return None
    lat = _dms_degrees(gps.get(ExifTags.GPS.GPSLatitude))
    lon = _dms_degrees(gps.get(ExifTags.GPS.GPSLongitude))
    lat_ref = _exif_text(gps.get(ExifTags.GPS.GPSLatitudeRef)).upper()
    lon_ref = _exif_text(gps.get(ExifTags.GPS.GPSLongitudeRef)).upper()
    # Without its reference the hemisphere is unknown: guessing N/E could be 2 x 116 degrees off.
    if lat is None or lon is None or lat_ref not in ("N", "S") or lon_ref not in ("E", "W"):
        return None
    if lat > 90 or lon > 180:
        return None
    if lat == 0 and lon == 0:  # what cameras write when they have no fix
        return None
    return (-lon if lon_ref == "W" else lon, -lat if lat_ref == "S" else lat)


def _dms_degrees(value: Any) -> float | None:
    """Degrees from EXIF (degrees, minutes, seconds) rationals; None when malformed."""
    if isinstance(value, numbers.Real):  # some writers store decimal degrees alone
        value = (value,)
    if not isinstance(value, tuple | list) or not 1 <= len(value) <= 3:
        return None
    parts = []
    for part in value:
        if not isinstance(part, numbers.Real):
            return None
        try:
            number = float(part)  # a zero denominator gives nan
        except (ValueError, ZeroDivisionError, OverflowError):
            return None
        if not math.isfinite(number) or number < 0:
            return None
        parts.append(number)
    degrees, minutes, seconds = (*parts, 0.0, 0.0)[:3]
    if minutes > 60 or seconds > 60:
        return None
    return degrees + minutes / 60 + seconds / 3600


def _taken_at(exif_ifd: Mapping[int, Any], ifd0: Mapping[int, Any]) -> datetime | None:
    """DateTimeOriginal, aware: at OffsetTimeOriginal when the phone wrote one, else Beijing."""
    raw = _exif_text(exif_ifd.get(ExifTags.Base.DateTimeOriginal)) or _exif_text(
        ifd0.get(ExifTags.Base.DateTimeOriginal)  # some writers put it in IFD0
    )
    match = _EXIF_DATETIME.fullmatch(raw)
    if match is None:
        return None
    try:
        naive = datetime(*(int(group) for group in match.groups()))
    except ValueError:  # "0000:00:00 00:00:00", month 13, ...
        return None
    offset = _utc_offset(_exif_text(exif_ifd.get(ExifTags.Base.OffsetTimeOriginal)))
    return naive.replace(tzinfo=offset or PHOTO_LOCAL_TZ)


def _utc_offset(text: str) -> tzinfo | None:
    match = _EXIF_OFFSET.fullmatch(text)
    if match is None:
        return None
    sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3))
    if hours > 14 or minutes >= 60:  # real offsets run from -12:00 to +14:00
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if sign == "-" else delta)


def _exif_text(value: Any) -> str:
    """An EXIF ASCII value as str without NUL padding; "" for anything else."""
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    if not isinstance(value, str):
        return ""
    return value.strip("\x00 ")


def _rgb_or_rgba(image: Image.Image) -> Image.Image:
    """A new 8-bit RGB image, or RGBA when the source has transparency (flattened on saving)."""
    if image.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N"):
        # 16-bit grey (some PNGs): scale to 8 bits; convert("L") would clip all above 255 to white.
        image = image.convert("I").point(lambda value: value / 256).convert("L")
    if image.has_transparency_data:
        # RGBA is also what Pillow resizes correctly (premultiplied), unlike palette images.
        return image.convert("RGBA")
    return image.convert("RGB")


def _jpeg_bytes_clean(image: Image.Image) -> bytes:
    """JPEG of the pixels alone, transparency flattened on white.

    The pixels are pasted into a new image, because Pillow carries ``info`` along through
    convert, resize and transpose, and saves some of it (a JPEG comment, for one) unasked.
    """
    clean = Image.new("RGB", image.size, FLATTEN_BACKGROUND)
    if image.mode == "RGBA":
        clean.paste(image, mask=image.getchannel("A"))
    else:
        clean.paste(image)
    buffer = io.BytesIO()
    clean.save(
        buffer, format="JPEG", quality=RENDITION_JPEG_QUALITY, optimize=True, progressive=True
    )
    return buffer.getvalue()


def photo_exif_position(*, original: IO[bytes]) -> tuple[float, float] | None:
    """(lon, lat) in WGS 84 degrees where a stored original says it was taken (its EXIF GPS),
    or None: no position, an unreadable file. The renditions carry no EXIF, so only the
    original (kept until it expires, docs/DECISIONS.md D-042) can say."""
    try:
        with Image.open(original) as image:
            gps, _taken = _exif_position_and_time(image)
    except Exception:  # a damaged or vanished file: no position, never a broken page
        return None
    return gps
