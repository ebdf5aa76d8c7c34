"""Helpers for the rider-reporting API tests: clients, photos, form posts and PostGIS references.

Every expected distance or grid is computed here by PostGIS itself (the SQL is beside each
function), never by the app's own code, so the tests compare the app with an independent answer.
"""

from __future__ import annotations

import io
import json
import os
import uuid
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from issues.models import (
    Case,
    CaseConfirmation,
    CaseEvent,
    Report,
    ReportCellHour,
    ReportPhoto,
    ReportUnitGridHour,
)
from patrol.models import Task

API = "/api/v1"
REPORTS_URL = f"{API}/reports/"
NEARBY_URL = f"{API}/reports/nearby/"
CASES_URL = f"{API}/cases/"
MY_REPORTS_URL = f"{API}/me/reports/"
CATEGORIES_URL = f"{API}/categories/"


def my_case_report_url(case_id: int) -> str:
    """The rider's own report in the case (the inbox opens it beyond "my reports" pages)."""
    return f"{API}/me/cases/{case_id}/report/"


def confirm_url(case_id: int) -> str:
    return f"{API}/cases/{case_id}/confirm/"


def photo_url(photo_id: int, rendition: str) -> str:
    return f"{API}/photos/{photo_id}/{rendition}/"


# (lon, lat) WGS 84 points.
HUAIFANG = (116.392, 39.797)  # inside Huaifang Community (110106005010), near Wanda Plaza
CHENGYUAN = (116.3954, 39.8040)  # inside Chengyuan Community (110106005007)
XINGONG = (116.3746, 39.8133)  # inside Xingong Community (110106005001)
TIANANMEN = (116.3975, 39.9087)  # central Beijing: about 12 km north of the service area

# Demo usernames per role (fixtures/demo_people.json).
ROLE_USERS: dict[str, str | None] = {
    "anonymous": None,
    "rider": "rider1",
    "volunteer": "cw_vol1",
    "team_leader": "cw_lead",
    "office_staff": "office1",
    "union_staff": "union1",
    "department_liaison": "liaison_chengguan",
    "admin": "admin",
}
RIDER_DISPLAY_NAMES = {"rider1": "骑手王小勇", "rider2": "骑手李春生", "rider3": "骑手赵磊"}

def confirm_form(point: tuple[float, float] = HUAIFANG, **fields) -> dict:
    """A confirmation's form: the rider's position (WGS 84 unless ``coord_system`` says
    otherwise), then any other field."""
    return {"lon": repr(point[0]), "lat": repr(point[1]), **fields}


NORMAL_CATEGORY = "C0103"  # 路灯不亮或损坏: public, photo required, radius 50 m, window 72 h
RIDER_NEEDS_CATEGORY = "L0201"  # 骑手停车难: private, photo optional, radius 100 m

OMIT = object()  # a form field left out of the post


def client_for(username: str | None) -> APIClient:
    """An API client sending the demo user's DRF token, or an anonymous one for ``None``."""
    client = APIClient()
    if username is not None:
        token = Token.objects.get(user__username=username)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


# --- photos ---------------------------------------------------------------------------------


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


def jpeg(
    size: tuple[int, int] = (64, 48),
    *,
    gps: tuple[float, float] | None = None,
    colour: tuple[int, int, int] = (0, 0, 255),
) -> bytes:
    """A small JPEG; with ``gps`` = (lon, lat) it carries an EXIF GPS IFD as a phone writes it."""
    image = Image.new("RGB", size, colour)
    buffer = io.BytesIO()
    params: dict = {"quality": 90}
    if gps is not None:
        exif = Image.Exif()
        lon, lat = gps
        exif.get_ifd(ExifTags.IFD.GPSInfo).update(
            {
                ExifTags.GPS.GPSLatitudeRef: "N" if lat >= 0 else "S",
                ExifTags.GPS.GPSLatitude: _dms(abs(lat)),
                ExifTags.GPS.GPSLongitudeRef: "E" if lon >= 0 else "W",
                ExifTags.GPS.GPSLongitude: _dms(abs(lon)),
            }
        )
        params["exif"] = exif
    image.save(buffer, format="JPEG", **params)
    return buffer.getvalue()


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


# --- posting reports --------------------------------------------------------------------------


def report_form(**fields) -> dict:
    """The phone's multipart form: a street-lamp report at Huaifang with one JPEG.

    Override any field by keyword; pass ``OMIT`` to leave it out. ``photos`` takes a list of
    bytes or uploads.
    """
    form: dict = {
        "category": NORMAL_CATEGORY,
        "description": "路灯不亮 (street lamp out)",
        "lon": repr(HUAIFANG[0]),
        "lat": repr(HUAIFANG[1]),
        "coord_system": "wgs84",
        "client_uuid": str(uuid.uuid4()),
        "photos": [jpeg()],
    }
    form.update(fields)
    for key in [key for key, value in form.items() if value is OMIT]:
        del form[key]
    for key in ("lon", "lat", "accuracy_m"):
        if isinstance(form.get(key), float):
            form[key] = repr(form[key])  # repr round-trips a float exactly
    if "photos" in form:
        form["photos"] = [
            upload(photo) if isinstance(photo, bytes) else photo for photo in form["photos"]
        ]
        if not form["photos"]:
            del form["photos"]
    return form


def post_report(client: APIClient, *, headers: dict | None = None, **fields):
    return client.post(REPORTS_URL, report_form(**fields), format="multipart", **(headers or {}))


def post_report_at(client: APIClient, point: tuple[float, float], **fields):
    return post_report(client, lon=point[0], lat=point[1], **fields)


def body(response) -> dict:
    """The JSON body of an API answer (GeoJSON answers have their own content type)."""
    return json.loads(response.content)


def error_fields(response) -> set[str | None]:
    return {error["field"] for error in body(response)["errors"]}


def assert_error_shape(response) -> list[dict]:
    """``{"errors": [{"field", "code", "message"}]}`` with a non-empty message each."""
    errors = body(response)["errors"]
    assert errors, "an error answer must name at least one error"
    for error in errors:
        assert set(error) == {"field", "code", "message"}
        assert isinstance(error["message"], str) and error["message"].strip()
        assert isinstance(error["code"], str) and error["code"]
    return errors


# --- what is stored -------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """Row counts of everything intake writes, and the files under MEDIA_ROOT."""

    reports: int
    cases: int
    photos: int
    events: int
    confirmations: int
    cell_hours: int
    grid_hours: int
    tasks: int
    files: frozenset[str]


def media_files() -> frozenset[str]:
    root = Path(settings.MEDIA_ROOT)
    if not root.exists():
        return frozenset()
    return frozenset(
        str(Path(directory, name).relative_to(root))
        for directory, _dirs, names in os.walk(root)
        for name in names
    )


def stored_snapshot() -> Stored:
    return Stored(
        reports=Report.objects.count(),
        cases=Case.objects.count(),
        photos=ReportPhoto.objects.count(),
        events=CaseEvent.objects.count(),
        confirmations=CaseConfirmation.objects.count(),
        cell_hours=ReportCellHour.objects.count(),
        grid_hours=ReportUnitGridHour.objects.count(),
        tasks=Task.objects.count(),
        files=media_files(),
    )


# --- PostGIS references ------------------------------------------------------------------------


def _row(sql: str, params: list) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def project(point: tuple[float, float], *, metres: float,
            azimuth_deg: float) -> tuple[float, float]:
    """The point ``metres`` away from ``point`` at ``azimuth_deg`` (0 north, 90 east), geodesic.

    SELECT ST_X(g), ST_Y(g) FROM (SELECT ST_Project(ST_SetSRID(ST_MakePoint(lon, lat), 4326)
        ::geography, metres, radians(azimuth))::geometry AS g) q
    """
    return _row(
        """SELECT ST_X(g), ST_Y(g) FROM (
               SELECT ST_Project(ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography,
                                 %s, radians(%s))::geometry AS g) q""",
        [point[0], point[1], metres, azimuth_deg],
    )


def geodesic_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Metres between two WGS 84 points on the spheroid.

    SELECT ST_Distance(ST_SetSRID(ST_MakePoint(a), 4326)::geography,
                       ST_SetSRID(ST_MakePoint(b), 4326)::geography)
    """
    return _row(
        """SELECT ST_Distance(ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography,
                              ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography)""",
        [a[0], a[1], b[0], b[1]],
    )[0]


def row_distance_m(table: str, row_id: int, point: tuple[float, float]) -> float:
    """Metres from a stored geography ``location`` to ``point``.

    SELECT ST_Distance(location, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography)
      FROM <table> WHERE id = row_id
    """
    assert table in ("issues_report", "issues_case")
    return _row(
        f"""SELECT ST_Distance(location, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography)
            FROM {table} WHERE id = %s""",
        [point[0], point[1], row_id],
    )[0]


def row_lon_lat(table: str, row_id: int) -> tuple[float, float]:
    """SELECT ST_X(location::geometry), ST_Y(location::geometry) FROM <table> WHERE id = ..."""
    assert table in ("issues_report", "issues_case")
    return _row(
        f"SELECT ST_X(location::geometry), ST_Y(location::geometry) FROM {table} WHERE id = %s",
        [row_id],
    )


def covering_grids(point: tuple[float, float]) -> tuple[str | None, str | None]:
    """(lowest unit grid_id, its community code) among the unit grids that cover ``point``.

    SELECT u.grid_id, c.code FROM civicmap_unitgrid u JOIN civicmap_communitygrid c
      ON c.id = u.community_id
     WHERE ST_Covers(u.boundary, ST_SetSRID(ST_MakePoint(lon, lat), 4326))
     ORDER BY u.grid_id LIMIT 1
    """
    row = _row(
        """SELECT u.grid_id, c.code FROM civicmap_unitgrid u
             JOIN civicmap_communitygrid c ON c.id = u.community_id
            WHERE ST_Covers(u.boundary, ST_SetSRID(ST_MakePoint(%s, %s), 4326))
            ORDER BY u.grid_id LIMIT 1""",
        [point[0], point[1]],
    )
    return row if row else (None, None)
