"""Tests for issues.photos: every image is generated here with Pillow or built byte by byte."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from datetime import UTC, datetime
from fractions import Fraction

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from django.utils.functional import Promise
from PIL import ExifTags, Image, ImageCms, ImageFile, PngImagePlugin
from PIL.TiffImagePlugin import IFDRational

from civicmap.errors import FieldError, InvalidInput
from issues.photos import (
    DISPLAY_MAX_PX,
    MSG_EMPTY,
    MSG_NOT_IMAGE,
    MSG_TOO_LARGE,
    MSG_TOO_MANY_PIXELS,
    MSG_TRUNCATED,
    MSG_UNSUPPORTED_FORMAT,
    PHOTO_LOCAL_TZ,
    THUMBNAIL_MAX_PX,
    InspectedPhoto,
    photo_inspect,
    photo_renditions_make,
)


@pytest.fixture(autouse=True)
def _english_messages():
    """These tests assert the English source text of the messages."""
    with translation.override("en"):
        yield

NANYUAN = (116.392, 39.797)  # (lon, lat) WGS 84, near the former Nanyuan airport
GPS_TOLERANCE_DEG = 1e-6  # degrees, about 0.1 m
RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)
COLOUR_TOLERANCE = 12  # per channel, 0-255: JPEG at quality 82 shifts flat colours a little
PRIVATE_MARKER = b"rider-home-Nanyuan-Rd-12"


# --- building test images ---------------------------------------------------------------------


def _dms(degrees: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    """Decimal degrees as EXIF (degrees, minutes, seconds) rationals, seconds to 1/10000."""
    value = Fraction(degrees).limit_denominator(10**9)
    whole = int(value)
    minutes = int((value - whole) * 60)
    seconds = ((value - whole) * 60 - minutes) * 60
    return (
        IFDRational(whole, 1),
        IFDRational(minutes, 1),
        IFDRational(round(seconds * 10_000), 10_000),
    )


def _gps_ifd(lon: float, lat: float) -> dict[int, object]:
    return {
        ExifTags.GPS.GPSLatitudeRef: "N" if lat >= 0 else "S",
        ExifTags.GPS.GPSLatitude: _dms(abs(lat)),
        ExifTags.GPS.GPSLongitudeRef: "E" if lon >= 0 else "W",
        ExifTags.GPS.GPSLongitude: _dms(abs(lon)),
    }


def _exif(
    *,
    gps: dict[int, object] | None = None,
    taken: str | None = None,
    offset: str | None = None,
    orientation: int | None = None,
) -> Image.Exif:
    exif = Image.Exif()
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if gps is not None:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update(gps)
    if taken is not None:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
    if offset is not None:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.OffsetTimeOriginal] = offset
    return exif


def _picture(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """Blue, with a red square in the stored top-left corner (to see where rotation puts it)."""
    image = Image.new(mode, size, BLUE if mode == "RGB" else (0, 0, 255, 255))
    side = max(1, min(size) // 5)
    image.paste(RED, (0, 0, side, side))
    return image


def _encode(image: Image.Image, image_format: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **params)
    return buffer.getvalue()


def _phone_jpeg(
    size: tuple[int, int] = (400, 200),
    *,
    gps: dict[int, object] | None = None,
    taken: str | None = "2024:05:01 08:30:00",
    offset: str | None = None,
    orientation: int | None = 6,
) -> bytes:
    """A JPEG as a phone writes it: EXIF orientation, GPS IFD and DateTimeOriginal."""
    if gps is None:
        gps = _gps_ifd(*NANYUAN)
    exif = _exif(gps=gps, taken=taken, offset=offset, orientation=orientation)
    return _encode(_picture(size), "JPEG", exif=exif, quality=90)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def _png_1bit(width: int, height: int, *, rows: int | None = None) -> bytes:
    """A 1-bit greyscale PNG of ``width`` x ``height``, all black, built row by row.

    ``rows`` writes only that many rows of pixel data (a header claiming more than the file
    holds). Rows are compressed as they are made, so memory stays small at any size.
    """
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, grey, no interlace
    row = b"\x00" + bytes((width + 7) // 8)  # filter type 0, then the packed bits
    compressor = zlib.compressobj(9)
    compressed = [compressor.compress(row) for _ in range(height if rows is None else rows)]
    compressed.append(compressor.flush())
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(compressed))
        + _png_chunk(b"IEND", b"")
    )


def _refusal(data: bytes, **kwargs: object) -> FieldError:
    with pytest.raises(InvalidInput) as excinfo:
        photo_inspect(upload=io.BytesIO(data), **kwargs)
    (error,) = excinfo.value.errors
    return error


def _close(pixel: tuple[int, ...], colour: tuple[int, ...]) -> bool:
    return all(abs(a - b) <= COLOUR_TOLERANCE for a, b in zip(pixel, colour, strict=True))


def _opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# --- photo_inspect: what it reads ---------------------------------------------------------------


def test_inspect_reads_format_stored_size_and_sha256_of_a_jpeg():
    data = _phone_jpeg((400, 200), orientation=6)

    inspected = photo_inspect(upload=io.BytesIO(data))

    assert isinstance(inspected, InspectedPhoto)
    assert inspected.image_format == "JPEG"
    assert (inspected.width, inspected.height) == (400, 200)  # as stored, not rotated
    assert inspected.sha256 == hashlib.sha256(data).hexdigest()


def test_inspect_reads_gps_as_lon_lat_in_decimal_degrees():
    inspected = photo_inspect(upload=io.BytesIO(_phone_jpeg()))

    assert inspected.gps is not None
    lon, lat = inspected.gps
    assert lon == pytest.approx(NANYUAN[0], abs=GPS_TOLERANCE_DEG)
    assert lat == pytest.approx(NANYUAN[1], abs=GPS_TOLERANCE_DEG)


def test_inspect_applies_south_and_west_references_as_negative_degrees():
    gps = _gps_ifd(-58.3816, -34.6037)  # Buenos Aires: S and W

    inspected = photo_inspect(upload=io.BytesIO(_phone_jpeg(gps=gps)))

    assert inspected.gps == pytest.approx((-58.3816, -34.6037), abs=GPS_TOLERANCE_DEG)


def test_inspect_reads_gps_written_as_decimal_degrees_with_zero_minutes_and_seconds():
    gps = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (IFDRational(39797, 1000), IFDRational(0, 1), IFDRational(0, 1)),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (
            IFDRational(116392, 1000),
            IFDRational(0, 1),
            IFDRational(0, 1),
        ),
    }

    inspected = photo_inspect(upload=io.BytesIO(_phone_jpeg(gps=gps)))

    assert inspected.gps == pytest.approx(NANYUAN, abs=GPS_TOLERANCE_DEG)


def _gps_with(**changes: object) -> dict[int, object]:
    gps = _gps_ifd(*NANYUAN)
    for name, value in changes.items():
        tag = ExifTags.GPS[name]
        if value is None:
            del gps[tag]
        else:
            gps[tag] = value
    return gps


ZERO_DMS = (IFDRational(0, 1), IFDRational(0, 1), IFDRational(0, 1))


@pytest.mark.parametrize(
    "gps",
    [
        pytest.param({}, id="empty-gps-ifd"),
        pytest.param(_gps_with(GPSLatitudeRef=None), id="latitude-ref-missing"),
        pytest.param(_gps_with(GPSLongitudeRef=None), id="longitude-ref-missing"),
        pytest.param(_gps_with(GPSLongitude=None), id="longitude-missing"),
        pytest.param(_gps_with(GPSLatitudeRef="X"), id="latitude-ref-garbage"),
        pytest.param(_gps_with(GPSLongitudeRef="N"), id="longitude-ref-is-a-latitude-ref"),
        pytest.param(_gps_with(GPSLatitude=ZERO_DMS, GPSLongitude=ZERO_DMS), id="zero-zero"),
        pytest.param(
            _gps_with(GPSLatitude=(IFDRational(39, 0), IFDRational(47, 0), IFDRational(1, 0))),
            id="zero-denominators",
        ),
        pytest.param(
            _gps_with(GPSLatitude=(*_dms(NANYUAN[1]), IFDRational(1, 1))), id="four-parts"
        ),
        pytest.param(
            _gps_with(GPSLatitude=(IFDRational(39, 1), IFDRational(75, 1), IFDRational(0, 1))),
            id="75-minutes",
        ),
        pytest.param(
            _gps_with(GPSLatitude=(IFDRational(95, 1), IFDRational(0, 1), IFDRational(0, 1))),
            id="latitude-over-90",
        ),
        pytest.param(_gps_with(GPSStatus="V"), id="status-void"),
    ],
)
def test_inspect_gives_no_gps_for_missing_zero_or_garbage_values(gps):
    inspected = photo_inspect(upload=io.BytesIO(_phone_jpeg(gps=gps)))

    assert inspected.gps is None


def test_inspect_reads_gps_written_as_degrees_and_decimal_minutes():
    gps = _gps_with(GPSLatitude=(IFDRational(39, 1), IFDRational(4782, 100)))  # 39 deg 47.82'

    inspected = photo_inspect(upload=io.BytesIO(_phone_jpeg(gps=gps)))

    assert inspected.gps == pytest.approx((NANYUAN[0], 39 + 47.82 / 60), abs=GPS_TOLERANCE_DEG)


def test_inspect_gives_no_gps_and_no_time_for_a_photo_without_exif():
    inspected = photo_inspect(upload=io.BytesIO(_encode(_picture((50, 40)), "JPEG")))

    assert inspected.gps is None
    assert inspected.taken_at is None


@pytest.mark.parametrize(
    "exif_block",
    [
        pytest.param(b"Exif\x00\x00" + b"\xde\xad\xbe\xef" * 8, id="not-tiff"),
        pytest.param(b"Exif\x00\x00II*\x00\xff\xff\xff\x7f" + bytes(16), id="offset-past-end"),
        pytest.param(b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff" + bytes(8), id="bad-count"),
    ],
)
@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_inspect_accepts_a_photo_whose_exif_block_is_malformed(exif_block):
    data = _encode(_picture((50, 40)), "JPEG", exif=exif_block)

    inspected = photo_inspect(upload=io.BytesIO(data))

    assert (inspected.image_format, inspected.gps, inspected.taken_at) == ("JPEG", None, None)


def test_inspect_reads_date_time_original_as_beijing_time():
    inspected = photo_inspect(upload=io.BytesIO(_phone_jpeg(taken="2024:05:01 08:30:00")))

    assert inspected.taken_at == datetime(2024, 5, 1, 8, 30, tzinfo=PHOTO_LOCAL_TZ)
    assert inspected.taken_at == datetime(2024, 5, 1, 0, 30, tzinfo=UTC)


def test_inspect_uses_the_offset_time_original_when_the_phone_wrote_one():
    data = _phone_jpeg(taken="2024:05:01 08:30:00", offset="+09:00")  # a phone still on Tokyo time

    inspected = photo_inspect(upload=io.BytesIO(data))

    assert inspected.taken_at == datetime(2024, 4, 30, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "taken",
    ["0000:00:00 00:00:00", "    :  :     :  :  ", "2024:13:01 08:30:00", "yesterday", "2024"],
)
def test_inspect_gives_no_time_for_a_malformed_date_time_original(taken):
    inspected = photo_inspect(upload=io.BytesIO(_phone_jpeg(taken=taken)))

    assert inspected.taken_at is None


def test_inspect_reads_a_png():
    data = _encode(_picture((64, 48)), "PNG")

    inspected = photo_inspect(upload=io.BytesIO(data))

    assert (inspected.image_format, inspected.width, inspected.height) == ("PNG", 64, 48)
    assert inspected.sha256 == hashlib.sha256(data).hexdigest()


def test_inspect_reads_a_webp_with_its_exif():
    exif = _exif(gps=_gps_ifd(*NANYUAN), taken="2024:05:01 08:30:00")
    data = _encode(_picture((64, 48)), "WEBP", exif=exif)

    inspected = photo_inspect(upload=io.BytesIO(data))

    assert (inspected.image_format, inspected.width, inspected.height) == ("WEBP", 64, 48)
    assert inspected.gps == pytest.approx(NANYUAN, abs=GPS_TOLERANCE_DEG)
    assert inspected.taken_at == datetime(2024, 5, 1, 8, 30, tzinfo=PHOTO_LOCAL_TZ)


def test_inspect_accepts_a_jpeg_carrying_a_second_picture_as_jpeg():
    # Phones store depth maps and HDR gain maps this way (MPO); Pillow names the format "MPO".
    picture = _picture((120, 80))
    data = _encode(picture, "MPO", save_all=True, append_images=[picture.resize((60, 40))])

    inspected = photo_inspect(upload=io.BytesIO(data))

    assert (inspected.image_format, inspected.width, inspected.height) == ("JPEG", 120, 80)


def test_inspect_judges_by_content_not_by_file_name_or_content_type():
    png = _encode(_picture((10, 10)), "PNG")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    png_named_gif = SimpleUploadedFile("photo.gif", png, content_type="image/gif")
    svg_named_jpeg = SimpleUploadedFile("photo.jpg", svg, content_type="image/jpeg")

    assert photo_inspect(upload=png_named_gif).image_format == "PNG"
    with pytest.raises(InvalidInput) as excinfo:
        photo_inspect(upload=svg_named_jpeg)
    assert excinfo.value.errors[0].code == "unsupported_format"


def test_inspect_rewinds_the_upload_so_the_caller_can_store_it():
    data = _phone_jpeg()
    upload = io.BytesIO(data)
    upload.seek(7)  # wherever the caller left it, the whole file is inspected

    photo_inspect(upload=upload)

    assert upload.tell() == 0
    assert upload.read() == data


def test_inspect_rewinds_the_upload_after_a_refusal_too():
    upload = io.BytesIO(b"not a photo at all")

    with pytest.raises(InvalidInput):
        photo_inspect(upload=upload)

    assert upload.tell() == 0


# --- photo_inspect: what it refuses -------------------------------------------------------------


def test_inspect_refuses_a_text_file_as_not_an_image():
    error = _refusal(b"Dear office, the street light on Nanyuan Rd is broken.\n")

    assert error == FieldError("photos", "not_image", MSG_NOT_IMAGE)


def test_inspect_names_the_field_it_was_given():
    error = _refusal(b"hello", field="photos.2")

    assert error.field == "photos.2"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>', id="svg"),
        pytest.param(
            b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?>\n'
            b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="9" height="9"/></svg>',
            id="svg-with-bom-and-xml-declaration",
        ),
        pytest.param(_encode(_picture((20, 10)), "GIF"), id="gif"),
        pytest.param(_encode(_picture((20, 10)), "BMP"), id="bmp"),
        pytest.param(_encode(_picture((20, 10)), "TIFF"), id="tiff"),
        pytest.param(
            b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64), id="heic-header"
        ),
        pytest.param(
            b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + bytes(64), id="avif-header"
        ),
    ],
)
def test_inspect_refuses_other_image_formats_as_unsupported(data):
    error = _refusal(data)

    assert error == FieldError("photos", "unsupported_format", MSG_UNSUPPORTED_FORMAT)
    assert "JPEG, PNG or WebP" in str(error.message)


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP"])
def test_inspect_refuses_a_photo_cut_in_half_as_truncated(image_format):
    data = _encode(Image.effect_noise((300, 200), 64).convert("RGB"), image_format)

    error = _refusal(data[: len(data) // 2])

    assert error == FieldError("photos", "truncated", MSG_TRUNCATED)


def test_inspect_refuses_a_jpeg_cut_inside_its_header_as_truncated():
    error = _refusal(_phone_jpeg()[:20])

    assert error.code == "truncated"


def test_inspect_refuses_to_run_if_pillow_would_pad_truncated_images(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)

    with pytest.raises(ImproperlyConfigured):
        photo_inspect(upload=io.BytesIO(_phone_jpeg()))


def test_inspect_refuses_a_real_48_megapixel_image_before_decoding_it():
    data = _png_1bit(8000, 6000)  # a valid, all-black PNG: about 6 KB on disk, 48 MP

    error = _refusal(data)

    assert len(data) < 100_000
    assert error == FieldError(
        "photos", "too_many_pixels", str(MSG_TOO_MANY_PIXELS) % {"limit": "40"}
    )
    assert str(error.message) == "The photo has more than 40 megapixels."
    assert isinstance(error.message, Promise)  # translated when rendered, not when raised


def test_inspect_refuses_a_header_claiming_more_pixels_than_the_file_holds():
    # If the pixel check came after decoding, this would be refused as truncated instead.
    error = _refusal(_png_1bit(7000, 7000, rows=1))  # 49 MP claimed, one row present

    assert error.code == "too_many_pixels"


@pytest.mark.parametrize(
    "side",
    [
        pytest.param(10_000, id="100-MP-pillow-warns"),
        pytest.param(20_000, id="400-MP-pillow-raises"),
    ],
)
def test_inspect_refuses_pillow_decompression_bombs_even_with_a_higher_own_limit(settings, side):
    settings.PHOTO_MAX_PIXELS = 10**9

    error = _refusal(_png_1bit(side, side, rows=1))

    assert error.code == "too_many_pixels"


def test_inspect_reads_the_pixel_limit_from_settings_at_call_time(settings):
    data = _encode(_picture((200, 100)), "JPEG")  # 20,000 pixels
    settings.PHOTO_MAX_PIXELS = 20_000
    assert photo_inspect(upload=io.BytesIO(data)).width == 200  # exactly at the limit is fine

    settings.PHOTO_MAX_PIXELS = 19_999
    error = _refusal(data)

    assert error.code == "too_many_pixels"
    assert str(error.message) == str(MSG_TOO_MANY_PIXELS) % {"limit": "0.02"}


def test_inspect_refuses_a_file_over_the_byte_limit(settings):
    data = _phone_jpeg()
    settings.PHOTO_MAX_BYTES = len(data)
    assert photo_inspect(upload=io.BytesIO(data)).image_format == "JPEG"  # at the limit: fine

    settings.PHOTO_MAX_BYTES = len(data) - 1
    error = _refusal(data, field="photos.0")

    limit_mb = f"{(len(data) - 1) / (1024 * 1024):.2f}".rstrip("0").rstrip(".")
    assert error == FieldError("photos.0", "too_large", str(MSG_TOO_LARGE) % {"limit": limit_mb})


class _EndlessStream(io.RawIOBase):
    """Endless 0xFF bytes, as from a client that never stops sending; counts what was read."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return 0

    def readinto(self, buffer) -> int:
        buffer[:] = b"\xff" * len(buffer)
        self.bytes_read += len(buffer)
        return len(buffer)


def test_inspect_stops_reading_one_byte_past_the_limit(settings):
    settings.PHOTO_MAX_BYTES = 5_000
    stream = _EndlessStream()

    with pytest.raises(InvalidInput) as excinfo:
        photo_inspect(upload=stream)

    assert excinfo.value.errors[0].code == "too_large"
    assert stream.bytes_read == 5_001


def test_inspect_states_the_default_byte_limit_in_megabytes():
    with pytest.raises(InvalidInput) as excinfo:
        photo_inspect(upload=_EndlessStream())

    assert str(excinfo.value.errors[0].message) == "The photo is larger than 10 MB."


def test_inspect_refuses_an_empty_file():
    error = _refusal(b"")

    assert error == FieldError("photos", "empty", MSG_EMPTY)


# --- photo_renditions_make ----------------------------------------------------------------------


def test_renditions_turn_the_photo_upright_per_exif_orientation():
    stored = _phone_jpeg((400, 200), orientation=6)  # 6: display rotated 90 degrees clockwise

    display, thumbnail = photo_renditions_make(original=io.BytesIO(stored))

    display_image = _opened(display)
    assert display_image.size == (200, 400)
    # The stored top-left corner is the top-right corner once turned clockwise.
    assert _close(display_image.getpixel((190, 10)), RED)
    assert _close(display_image.getpixel((10, 10)), BLUE)
    assert _opened(thumbnail).size == (160, 320)


@pytest.mark.parametrize(
    ("stored_size", "orientation", "display_size", "thumbnail_size"),
    [
        ((3000, 2000), None, (1280, 853), (320, 213)),
        ((3000, 2000), 6, (853, 1280), (213, 320)),
        ((4000, 1000), None, (1280, 320), (320, 80)),
    ],
)
def test_renditions_fit_the_longest_side_within_the_display_and_thumbnail_sizes(
    stored_size, orientation, display_size, thumbnail_size
):
    stored = _phone_jpeg(stored_size, orientation=orientation)

    display, thumbnail = photo_renditions_make(original=io.BytesIO(stored))

    assert _opened(display).size == display_size
    assert _opened(thumbnail).size == thumbnail_size
    assert max(display_size) == DISPLAY_MAX_PX
    assert max(thumbnail_size) == THUMBNAIL_MAX_PX


@pytest.mark.parametrize("stored_size", [(100, 80), (300, 200)])
def test_renditions_never_enlarge_a_small_photo(stored_size):
    display, thumbnail = photo_renditions_make(
        original=io.BytesIO(_phone_jpeg(stored_size, orientation=None))
    )

    assert _opened(display).size == stored_size
    assert _opened(thumbnail).size == stored_size


def _with_every_kind_of_metadata(image_format: str) -> bytes:
    """A photo carrying EXIF with GPS and time, an ICC profile, XMP and a comment or text."""
    exif = _exif(gps=_gps_ifd(*NANYUAN), taken="2024:05:01 08:30:00", orientation=1)
    exif[ExifTags.Base.ImageDescription] = PRIVATE_MARKER.decode()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">' + PRIVATE_MARKER + b"</x:xmpmeta>"
    picture = _picture((600, 400))
    if image_format == "JPEG":
        return _encode(picture, "JPEG", exif=exif, icc_profile=icc, xmp=xmp, comment=PRIVATE_MARKER)
    if image_format == "PNG":
        text = PngImagePlugin.PngInfo()
        text.add_text("Comment", PRIVATE_MARKER.decode())
        text.add_itxt("XML:com.adobe.xmp", xmp.decode())
        return _encode(picture, "PNG", exif=exif, icc_profile=icc, pnginfo=text)
    return _encode(picture, "WEBP", exif=exif, icc_profile=icc, xmp=xmp)


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP"])
def test_renditions_carry_no_metadata_at_all(image_format):
    original = _with_every_kind_of_metadata(image_format)
    assert photo_inspect(upload=io.BytesIO(original)).gps is not None  # the input does have GPS

    for rendition in photo_renditions_make(original=io.BytesIO(original)):
        image = _opened(rendition)
        assert image.format == "JPEG"
        assert len(image.getexif()) == 0
        assert not {"exif", "icc_profile", "xmp", "comment"} & image.info.keys()
        assert b"Exif" not in rendition
        assert b"ICC_PROFILE" not in rendition
        assert b"http://ns.adobe.com/xap" not in rendition
        assert PRIVATE_MARKER not in rendition
        inspected = photo_inspect(upload=io.BytesIO(rendition))
        assert (inspected.gps, inspected.taken_at) == (None, None)


def test_renditions_flatten_png_transparency_on_white_into_rgb_jpeg():
    image = Image.new("RGBA", (40, 20), (0, 0, 0, 0))  # fully transparent ...
    image.paste((255, 0, 0, 255), (20, 0, 40, 20))  # ... left half, opaque red right half

    display, thumbnail = photo_renditions_make(original=io.BytesIO(_encode(image, "PNG")))

    for rendition in (display, thumbnail):
        opened = _opened(rendition)
        assert (opened.format, opened.mode) == ("JPEG", "RGB")
        assert _close(opened.getpixel((5, 10)), WHITE)
        assert _close(opened.getpixel((35, 10)), RED)


def test_renditions_flatten_a_palette_png_with_a_transparent_colour_on_white():
    image = Image.new("P", (40, 20), 0)
    image.putpalette([0, 0, 0, 255, 0, 0])  # index 0 black (to be transparent), 1 red
    image.paste(1, (20, 0, 40, 20))
    data = _encode(image, "PNG", transparency=0)

    display, _thumbnail = photo_renditions_make(original=io.BytesIO(data))

    opened = _opened(display)
    assert _close(opened.getpixel((5, 10)), WHITE)
    assert _close(opened.getpixel((35, 10)), RED)


def test_renditions_scale_16_bit_grey_to_8_bits_instead_of_clipping_to_white():
    data = _encode(Image.new("I;16", (20, 20), 32768), "PNG")  # mid grey at 16 bits

    display, _thumbnail = photo_renditions_make(original=io.BytesIO(data))

    assert _close(_opened(display).getpixel((10, 10)), (128, 128, 128))


@pytest.mark.parametrize("image_format", ["WEBP", "MPO", "PNG"])
def test_renditions_accept_every_accepted_format(image_format):
    picture = _picture((2000, 1000))
    params = {"save_all": True, "append_images": [picture]} if image_format == "MPO" else {}
    data = _encode(picture, image_format, **params)

    display, thumbnail = photo_renditions_make(original=io.BytesIO(data))

    assert _opened(display).size == (1280, 640)
    assert _opened(thumbnail).size == (320, 160)
    assert _close(_opened(display).getpixel((10, 10)), RED)
