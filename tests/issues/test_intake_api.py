"""POST /api/v1/reports/: a rider files a report through the real middleware and DRF.

Reference values come from outside the intake: expected WGS 84 points from ``civicmap.coords``,
metres and grid lookups from PostGIS (SQL beside each helper in ``tests/issues/helpers.py``).
"""

from __future__ import annotations

import io
import struct
import uuid
import zlib
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from PIL import Image

from civicmap import coords
from fixtures.seed import NANYUAN_CODE
from issues.models import Case, CaseEvent, Report, ReportPhoto
from tests.issues.helpers import (
    CHENGYUAN,
    HUAIFANG,
    NORMAL_CATEGORY,
    OMIT,
    RIDER_NEEDS_CATEGORY,
    TIANANMEN,
    XINGONG,
    assert_error_shape,
    body,
    client_for,
    covering_grids,
    error_fields,
    geodesic_m,
    jpeg,
    media_files,
    post_report,
    post_report_at,
    project,
    row_distance_m,
    stored_snapshot,
    upload,
)

pytestmark = pytest.mark.django_db

POSITION_TOLERANCE_M = 0.1  # metres: what the conversion must achieve (issue: "within 0.1 m")
RESPONSE_PRECISION_DEG = 1e-6  # GeoJSON output is rounded to 6 decimals (about 0.1 m)


# --- images the phone should not send ---------------------------------------------------------


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def _png_1bit(width: int, height: int) -> bytes:
    """A valid all-black 1-bit greyscale PNG, built row by row: 8000 x 6000 is about 6 KB."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + bytes((width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data)
            + _png_chunk(b"IEND", b""))


def _noisy_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((300, 200), 64).convert("RGB").save(buffer, format="JPEG")
    return buffer.getvalue()


TEXT_FILE = b"Dear office, the lamp is out.\n"  # posted as photo.jpg, image/jpeg
SVG_FILE = b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>'
TRUNCATED_JPEG = _noisy_jpeg()[:1500]
PNG_48_MP = _png_1bit(8000, 6000)


# --- the happy path -------------------------------------------------------------------------


def test_rider_report_in_wgs84_with_a_photo_is_created_as_a_geojson_feature(rider):
    client_uuid = str(uuid.uuid4())
    photo = jpeg(colour=(200, 10, 10))

    response = post_report(rider, client_uuid=client_uuid, photos=[photo], accuracy_m="8.5",
                           captured_at="2026-05-01T08:30:00+08:00")

    assert response.status_code == 201
    feature = body(response)
    assert feature["type"] == "Feature"
    assert feature["geometry"]["type"] == "Point"
    assert feature["geometry"]["coordinates"] == pytest.approx(list(HUAIFANG),
                                                               abs=RESPONSE_PRECISION_DEG)
    report = Report.objects.get(pk=feature["id"])
    properties = feature["properties"]
    grid_id, community_code = covering_grids(HUAIFANG)
    assert properties["unit_grid"] == grid_id
    assert properties["community_grid"]["code"] == community_code
    assert properties["case"] == report.case_id
    assert properties["joined_existing_case"] is False
    assert properties["status"] == "new"
    # What is stored: the rider, the uuid, the sent position, the photo's original file.
    assert report.reporter.username == "rider1"
    assert str(report.client_uuid) == client_uuid
    assert report.category.code == NORMAL_CATEGORY
    assert report.accuracy_m == 8.5
    assert report.captured_at == datetime(2026, 5, 1, 8, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert (report.sent_lon, report.sent_lat, report.sent_coord_system) == (*HUAIFANG, "wgs84")
    assert report.location_source == "device" and report.location_flagged is False
    assert row_distance_m("issues_report", report.pk, HUAIFANG) < 0.001
    (stored_photo,) = ReportPhoto.objects.filter(report=report)
    assert stored_photo.image_format == "JPEG"
    with stored_photo.original.open("rb") as original:
        assert original.read() == photo
    assert len(media_files()) == 1
    case = Case.objects.get(pk=report.case_id)
    assert (case.report_count, case.reporter_count, case.stage) == (1, 1, "new")
    assert case.unit_grid.grid_id == grid_id
    assert CaseEvent.objects.filter(case=case, action="created").count() == 1


def test_report_with_four_photos_is_accepted(rider):
    photos = [jpeg(colour=(index * 60, 0, 0)) for index in range(4)]

    response = post_report(rider, photos=photos)

    assert response.status_code == 201
    stored = ReportPhoto.objects.filter(report_id=body(response)["id"]).order_by("position")
    assert [photo.position for photo in stored] == [0, 1, 2, 3]
    assert len(media_files()) == 4


@pytest.mark.parametrize(
    ("image_format", "declared"),
    [("PNG", "image/png"), ("WEBP", "image/webp")],
)
def test_png_and_webp_photos_are_accepted(rider, image_format, declared):
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (0, 120, 0)).save(buffer, format=image_format)

    response = post_report(rider, photos=[upload(buffer.getvalue(), "p.img", declared)])

    assert response.status_code == 201
    assert ReportPhoto.objects.get(report_id=body(response)["id"]).image_format == image_format


def test_description_of_exactly_2000_characters_is_accepted(rider):
    response = post_report(rider, description="灯" * 2000)

    assert response.status_code == 201
    assert len(Report.objects.get(pk=body(response)["id"]).description) == 2000


def test_photo_optional_rider_needs_category_is_accepted_without_a_photo(rider):
    response = post_report(rider, category=RIDER_NEEDS_CATEGORY, photos=OMIT,
                           description="小区不让电动车进门")

    assert response.status_code == 201
    report = Report.objects.get(pk=body(response)["id"])
    assert report.category.code == RIDER_NEEDS_CATEGORY
    assert not report.photos.exists()
    assert media_files() == frozenset()


# --- coordinates ----------------------------------------------------------------------------


def test_the_answers_point_is_the_geojson_of_rest_framework_gis_at_six_decimals():
    """The answer's geometry (``point_geojson``) is, as JSON, what ``GeometryField(precision=6)``
    gives through OGR, for points across Beijing and at the ends of the ranges."""
    import json
    import random

    from django.contrib.gis.geos import Point
    from rest_framework_gis.fields import GeometryField

    from issues.api.serializers import point_geojson

    draw = random.Random(20261207)
    points = [(draw.uniform(115.4, 117.5), draw.uniform(39.4, 41.1)) for _ in range(2000)]
    points += [(-180.0, -90.0), (180.0, 90.0), (0.0, 0.0), (116.3912345, 39.8123455)]
    field = GeometryField(precision=6)
    for lon, lat in points:
        point = Point(lon, lat, srid=4326)
        assert (json.dumps(point_geojson(point, precision=6))
                == json.dumps(field.to_representation(point))), (lon, lat)


@pytest.mark.parametrize("system", ["gcj02", "bd09"])
def test_report_sent_in_a_chinese_system_lands_on_the_converted_wgs84_point(rider, system):
    sent = coords.from_wgs84(*HUAIFANG, system)
    expected = coords.to_wgs84(*sent, system)
    # SELECT ST_Distance(sent::geography, HUAIFANG::geography): the offset is hundreds of metres,
    # so storing the sent numbers unconverted could not pass the 0.1 m check below.
    assert geodesic_m(sent, HUAIFANG) > 300

    response = post_report(rider, lon=sent[0], lat=sent[1], coord_system=system)

    assert response.status_code == 201
    report = Report.objects.get(pk=body(response)["id"])
    assert row_distance_m("issues_report", report.pk, expected) < POSITION_TOLERANCE_M
    assert (report.sent_lon, report.sent_lat) == sent  # exactly what was sent
    assert report.sent_coord_system == system
    assert body(response)["properties"]["sent"] == {"lon": sent[0], "lat": sent[1],
                                                    "coord_system": system}
    assert body(response)["geometry"]["coordinates"] == pytest.approx(
        list(expected), abs=RESPONSE_PRECISION_DEG)
    # The grid is the converted point's, not the sent numbers'.
    assert body(response)["properties"]["unit_grid"] == covering_grids(expected)[0]


def test_coord_system_is_case_insensitive(rider):
    sent = coords.from_wgs84(*HUAIFANG, "gcj02")

    response = post_report(rider, lon=sent[0], lat=sent[1], coord_system="GCJ02")

    assert response.status_code == 201
    report = Report.objects.get(pk=body(response)["id"])
    assert row_distance_m("issues_report", report.pk, HUAIFANG) < POSITION_TOLERANCE_M


def test_report_without_a_position_takes_the_photos_exif_gps(rider):
    exif_point = project(CHENGYUAN, metres=30, azimuth_deg=45)

    response = post_report(rider, lon=OMIT, lat=OMIT, photos=[jpeg(gps=exif_point)])

    assert response.status_code == 201
    report = Report.objects.get(pk=body(response)["id"])
    assert report.location_source == "exif"
    assert report.location_flagged is False
    # EXIF seconds are written to 1/10000 s, about 3 mm.
    assert row_distance_m("issues_report", report.pk, exif_point) < POSITION_TOLERANCE_M
    assert body(response)["properties"]["unit_grid"] == covering_grids(exif_point)[0]


def test_exif_of_a_later_photo_is_used_when_the_first_has_none(rider):
    exif_point = project(CHENGYUAN, metres=10, azimuth_deg=180)

    response = post_report(rider, lon=OMIT, lat=OMIT,
                           photos=[jpeg(), jpeg(gps=exif_point, colour=(1, 2, 3))])

    assert response.status_code == 201
    report = Report.objects.get(pk=body(response)["id"])
    assert row_distance_m("issues_report", report.pk, exif_point) < POSITION_TOLERANCE_M


def test_report_without_position_or_exif_is_refused_naming_the_position(rider):
    before = stored_snapshot()

    response = post_report(rider, lon=OMIT, lat=OMIT, photos=[jpeg()])

    assert response.status_code == 400
    assert error_fields(response) & {"lon", "lat", "location"}
    assert stored_snapshot() == before


def test_device_position_over_200_m_from_the_exif_is_kept_and_the_report_flagged(rider):
    exif_point = project(HUAIFANG, metres=320, azimuth_deg=0)

    response = post_report(rider, photos=[jpeg(gps=exif_point)])

    assert response.status_code == 201
    report = Report.objects.get(pk=body(response)["id"])
    assert report.location_flagged is True
    assert report.location_source == "device"
    assert row_distance_m("issues_report", report.pk, HUAIFANG) < POSITION_TOLERANCE_M
    assert body(response)["properties"]["location_flagged"] is True


def test_device_position_within_200_m_of_the_exif_is_not_flagged(rider):
    exif_point = project(HUAIFANG, metres=150, azimuth_deg=270)

    response = post_report(rider, photos=[jpeg(gps=exif_point)])

    assert response.status_code == 201
    report = Report.objects.get(pk=body(response)["id"])
    assert report.location_flagged is False
    assert row_distance_m("issues_report", report.pk, HUAIFANG) < POSITION_TOLERANCE_M


def test_exif_gap_is_measured_from_the_converted_device_position(rider):
    # The device sends GCJ-02 numbers some 500 m from the EXIF point, but converted to WGS 84
    # they are 40 m from it: not flagged.
    exif_point = project(HUAIFANG, metres=40, azimuth_deg=90)
    sent = coords.from_wgs84(*HUAIFANG, "gcj02")

    response = post_report(rider, lon=sent[0], lat=sent[1], coord_system="gcj02",
                           photos=[jpeg(gps=exif_point)])

    assert response.status_code == 201
    assert Report.objects.get(pk=body(response)["id"]).location_flagged is False


# --- grids ------------------------------------------------------------------------------------


@pytest.mark.parametrize("point", [HUAIFANG, CHENGYUAN, XINGONG])
def test_report_gets_the_unit_and_community_grid_that_cover_its_point(rider, point):
    grid_id, community_code = covering_grids(point)
    assert grid_id is not None

    response = post_report_at(rider, point)

    assert response.status_code == 201
    properties = body(response)["properties"]
    assert properties["unit_grid"] == grid_id
    assert properties["community_grid"]["code"] == community_code
    report = Report.objects.get(pk=body(response)["id"])
    assert report.unit_grid.grid_id == grid_id
    assert report.community_grid.code == community_code
    assert report.unit_grid.community_id == report.community_grid_id


def _shared_vertex(*, communities: int) -> tuple[tuple[float, float], list[str]]:
    """A unit-grid vertex covered by two or more unit grids of exactly ``communities`` community
    grids, nearest Nanyuan's centre, and the IDs of the grids covering it (sorted).

    WITH v AS (SELECT DISTINCT (ST_DumpPoints(boundary)).geom AS g FROM civicmap_unitgrid)
    SELECT ST_X(g), ST_Y(g), array_agg(u.grid_id ORDER BY u.grid_id) FROM v
      JOIN civicmap_unitgrid u ON ST_Covers(u.boundary, v.g)
     GROUP BY g HAVING count(*) >= 2 AND count(DISTINCT u.community_id) = :communities
     ORDER BY ST_Distance(g, (SELECT ST_Centroid(boundary) FROM civicmap_subdistrict
                              WHERE code = :nanyuan)) LIMIT 1
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """WITH v AS (SELECT DISTINCT (ST_DumpPoints(boundary)).geom AS g
                            FROM civicmap_unitgrid)
               SELECT ST_X(g), ST_Y(g), array_agg(u.grid_id ORDER BY u.grid_id)
                 FROM v JOIN civicmap_unitgrid u ON ST_Covers(u.boundary, v.g)
                GROUP BY g
               HAVING count(*) >= 2 AND count(DISTINCT u.community_id) = %s
                ORDER BY ST_Distance(g, (SELECT ST_Centroid(boundary)
                                           FROM civicmap_subdistrict WHERE code = %s))
                LIMIT 1""",
            [communities, NANYUAN_CODE],
        )
        lon, lat, grid_ids = cursor.fetchone()
    return (lon, lat), list(grid_ids)


@pytest.mark.parametrize("communities", [1, 2], ids=["inside-a-community", "community-border"])
def test_point_on_a_shared_grid_edge_always_gets_the_lowest_grid_id(rider, rider2, communities):
    point, grid_ids = _shared_vertex(communities=communities)
    assert len(grid_ids) >= 2
    assert len({grid_id[:12] for grid_id in grid_ids}) == communities
    lowest = grid_ids[0]

    first = post_report_at(rider, point)
    second = post_report_at(rider2, point)

    assert first.status_code == 201 and second.status_code == 201
    for response in (first, second):
        properties = body(response)["properties"]
        assert properties["unit_grid"] == lowest
        assert properties["community_grid"]["code"] == lowest[:12]
        report = Report.objects.get(pk=body(response)["id"])
        assert report.unit_grid.grid_id == lowest
        assert report.community_grid.code == lowest[:12]


# --- refusals -------------------------------------------------------------------------------

BAD_INPUTS = [
    pytest.param({"category": OMIT}, 400, {"category"}, {}, id="missing-category"),
    pytest.param({"category": "X9999"}, 400, {"category"}, {}, id="unknown-category"),
    pytest.param({"lon": "181"}, 400, {"lon"}, {}, id="lon-out-of-range"),
    pytest.param({"lon": "-180.5"}, 400, {"lon"}, {}, id="lon-below-range"),
    pytest.param({"lat": "91"}, 400, {"lat"}, {}, id="lat-out-of-range"),
    pytest.param({"lat": "NaN"}, 400, {"lat"}, {}, id="lat-nan"),
    pytest.param({"lon": "inf"}, 400, {"lon"}, {}, id="lon-infinite"),
    pytest.param({"lon": "abc"}, 400, {"lon"}, {}, id="lon-not-a-number"),
    pytest.param({"coord_system": "utm50n"}, 400, {"coord_system"}, {}, id="unknown-coord-system"),
    pytest.param({"lat": OMIT}, 400, {"lat"}, {}, id="lon-without-lat"),
    pytest.param({"lon": OMIT}, 400, {"lon"}, {}, id="lat-without-lon"),
    pytest.param({"accuracy_m": "-5"}, 400, {"accuracy_m"}, {}, id="negative-accuracy"),
    pytest.param({"accuracy_m": "ten"}, 400, {"accuracy_m"}, {}, id="accuracy-not-a-number"),
    pytest.param({"captured_at": "yesterday"}, 400, {"captured_at"}, {}, id="bad-captured-at"),
    pytest.param({"photos": OMIT}, 400, {"photos"}, {}, id="missing-photos"),
    pytest.param({"photos": [jpeg(colour=(i, 0, 0)) for i in range(5)]}, 400, {"photos"}, {},
                 id="five-photos"),
    pytest.param({"photos": [jpeg((200, 200))]}, 400, {"photos.0"}, {"PHOTO_MAX_BYTES": 600},
                 id="photo-over-byte-limit"),
    pytest.param({"photos": [TEXT_FILE]}, 400, {"photos.0"}, {}, id="text-file"),
    pytest.param({"photos": [upload(SVG_FILE, "p.svg", "image/svg+xml")]}, 400, {"photos.0"}, {},
                 id="svg"),
    pytest.param({"photos": [TRUNCATED_JPEG]}, 400, {"photos.0"}, {}, id="truncated-jpeg"),
    pytest.param({"photos": [upload(PNG_48_MP, "big.png", "image/png")]}, 400, {"photos.0"}, {},
                 id="png-over-40-mp"),
    pytest.param({"photos": [jpeg(), b""]}, 400, {"photos.1"}, {}, id="second-photo-empty"),
    pytest.param({"photos": [jpeg(), TRUNCATED_JPEG]}, 400, {"photos.1"}, {},
                 id="second-photo-truncated"),
    pytest.param({"description": "x" * 2001}, 400, {"description"}, {}, id="description-2001"),
    pytest.param({"description": "灯" * 2001}, 400, {"description"}, {},
                 id="description-2001-chinese-characters"),
    pytest.param({"client_uuid": OMIT}, 400, {"client_uuid"}, {}, id="missing-client-uuid"),
    pytest.param({"client_uuid": "not-a-uuid"}, 400, {"client_uuid"}, {},
                 id="malformed-client-uuid"),
    pytest.param({"lon": str(TIANANMEN[0]), "lat": str(TIANANMEN[1])}, 400, None, {},
                 id="outside-service-area"),
]


@pytest.mark.parametrize(("fields", "status", "named", "overrides"), BAD_INPUTS)
def test_bad_report_is_refused_naming_the_field_and_storing_nothing(
    rider, settings, fields, status, named, overrides
):
    for name, value in overrides.items():
        setattr(settings, name, value)
    for value in fields.values():  # uploads are file objects: rewind the shared ones
        if hasattr(value, "seek"):
            value.seek(0)
        if isinstance(value, list):
            for item in value:
                if hasattr(item, "seek"):
                    item.seek(0)
    before = stored_snapshot()

    response = post_report(rider, **fields)

    assert response.status_code == status
    assert_error_shape(response)
    if named is None:  # outside the area: the position is what is wrong
        assert error_fields(response) & {"lon", "lat", "location"}
    else:
        assert named <= error_fields(response)
    assert stored_snapshot() == before


def test_outside_service_area_message_says_so_in_english(rider):
    response = post_report_at(rider, TIANANMEN, headers={"HTTP_ACCEPT_LANGUAGE": "en"})

    assert response.status_code == 400
    messages = " ".join(error["message"] for error in body(response)["errors"])
    assert "outside every subdistrict" in messages


def test_point_just_outside_the_subdistrict_is_refused(rider):
    # 116.3690 E is 85 m west of the subdistrict's western edge at 116.3700 E.
    before = stored_snapshot()

    response = post_report_at(rider, (116.3690, 39.800))

    assert response.status_code == 400
    assert stored_snapshot() == before


def test_several_bad_form_fields_are_all_named_at_once(rider):
    before = stored_snapshot()

    response = post_report(rider, category="X9999", lon="abc", description="x" * 2001,
                           client_uuid="nope", coord_system="mars")

    assert response.status_code == 400
    assert {"category", "lon", "description", "client_uuid", "coord_system"} <= error_fields(
        response)
    assert stored_snapshot() == before


def test_a_bad_photo_and_a_bad_form_field_are_both_named(rider):
    before = stored_snapshot()

    response = post_report(rider, category=OMIT, photos=[jpeg(), TRUNCATED_JPEG])

    assert response.status_code == 400
    assert {"category", "photos.1"} <= error_fields(response)
    assert stored_snapshot() == before


def test_every_bad_photo_is_named(rider):
    before = stored_snapshot()

    response = post_report(rider, photos=[TRUNCATED_JPEG, jpeg(), TEXT_FILE])

    assert response.status_code == 400
    assert {"photos.0", "photos.2"} <= error_fields(response)
    assert stored_snapshot() == before


def test_outside_area_and_a_bad_form_field_are_both_named(rider):
    before = stored_snapshot()

    response = post_report_at(rider, TIANANMEN, description="x" * 2001)

    assert response.status_code == 400
    fields = error_fields(response)
    assert "description" in fields
    assert fields & {"lon", "lat", "location"}
    assert stored_snapshot() == before


def test_exif_position_outside_the_area_is_refused_and_nothing_stored(rider):
    before = stored_snapshot()

    response = post_report(rider, lon=OMIT, lat=OMIT, photos=[jpeg(gps=TIANANMEN)])

    assert response.status_code == 400
    assert_error_shape(response)
    assert error_fields(response) & {"lon", "lat", "location", "photos", "photos.0"}
    assert stored_snapshot() == before


def test_refusal_message_is_english_with_accept_language_en(rider):
    response = post_report(rider, category=OMIT, description="x" * 2001,
                           headers={"HTTP_ACCEPT_LANGUAGE": "en"})

    assert response.status_code == 400
    messages = {error["field"]: error["message"] for error in body(response)["errors"]}
    assert messages["category"] == "Choose a category."
    assert messages["description"] == "The description may have at most 2000 characters."


def test_refusal_message_is_present_in_the_default_language(rider):
    response = post_report(rider, category=OMIT)

    assert response.status_code == 400
    (error,) = [e for e in body(response)["errors"] if e["field"] == "category"]
    assert error["message"].strip()
    assert response.headers.get("Content-Language", "zh-hans").startswith("zh")


def test_photo_refusal_message_is_english_with_accept_language_en(rider):
    response = post_report(rider, photos=[TRUNCATED_JPEG], headers={"HTTP_ACCEPT_LANGUAGE": "en"})

    assert response.status_code == 400
    (error,) = body(response)["errors"]
    assert error["field"] == "photos.0"
    assert error["message"] == (
        "The photo is damaged or incomplete. Please take or choose it again.")


# --- who may post ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Token 0000000000000000000000000000000000000000", "Token", "Bearer abc"],
    ids=["missing", "unknown-token", "empty-token", "other-scheme"],
)
def test_bad_or_missing_token_is_401_and_stores_nothing(reference_data, media_root,
                                                        authorization):
    client = client_for(None)
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    before = stored_snapshot()

    response = post_report(client)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")
    assert_error_shape(response)
    assert stored_snapshot() == before


def test_office_staff_token_is_403_and_stores_nothing(reference_data, media_root):
    before = stored_snapshot()

    response = post_report(client_for("office1"))

    assert response.status_code == 403
    assert_error_shape(response)
    assert stored_snapshot() == before


def test_inactive_rider_is_403(reference_data, media_root):
    from issues.models import Rider

    Rider.objects.filter(user__username="rider3").update(is_active=False)
    before = stored_snapshot()

    response = post_report(client_for("rider3"))

    assert response.status_code == 403
    assert stored_snapshot() == before
