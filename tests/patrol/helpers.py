"""Helpers of the lifecycle tests: reports through the real intake, actions through ``case_act``,
token clients, and the places, people and times the tests use.

Reports are made through ``issues.services.intake.report_create`` (the one intake service) with
an injected ``received_at``; lifecycle actions through ``patrol.services.lifecycle.case_act``
with an injected ``at``, so every deadline and rate below can be worked out by hand.
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.gis.geos import GEOSGeometry, Point
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from civicmap.models import Subdistrict
from civicmap.spatial import METRIC_SRID
from issues.models import Case, CaseEvent, Report
from issues.services.intake import (
    APP_CHANNEL,
    OPEN311_CHANNEL,
    ReportContact,
    ReportInput,
    report_create,
)
from patrol.models import Task
from patrol.services.lifecycle import case_act
from patrol.workdays import SHANGHAI

API = "/api/v1"

# Community grids (fixtures/nanyuan_geography.geojson) and who serves them
# (fixtures/demo_people.json): housekeeper and sunset serve all fourteen; civility_west serves
# 001, 002, 005, 006, 009, 012, 013 and civility_east 003, 004, 007, 008, 010, 011, 014.
HUAIFANG = "110106005010"  # 槐房社区: civility_east, sunset, housekeeper
XINGONG = "110106005001"  # 新宫社区: civility_west, sunset, housekeeper
CHENGYUAN = "110106005007"  # 诚苑社区: civility_east, sunset, housekeeper
HEYI_XILI_1 = "110106016001"  # 和义西里第一社区, in 和义 (Heyi), beside Nanyuan

# A contact that only office staff (and union staff for riders' needs) may ever see.
SECRET_PHONE = "13912340000"
SECRET_EMAIL = "whistle.secret@example.org"

RESTRICTED_KEYS = {"reporter", "contact_phone", "contact_email", "actor"}


def cst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An Asia/Shanghai (+08:00) wall-clock datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


# --- places -----------------------------------------------------------------------------------


@cache
def _community_boundaries() -> dict[str, str]:
    """Every community grid of the fixtures' GeoJSON files, its code to its geometry as GeoJSON
    text: the files read once per process, not once per community."""
    return {feature["properties"]["code"]: json.dumps(feature["geometry"])
            for path in sorted((Path(settings.BASE_DIR) / "fixtures").glob("*_geography.geojson"))
            for feature in json.loads(path.read_text("utf-8"))["features"]
            if feature["properties"].get("layer") == "community"}


@cache
def community_points(code: str) -> tuple[tuple[float, float], ...]:
    """WGS 84 points well inside a community grid (of any loaded subdistrict), at least about
    213 m apart.

    A lattice of 0.0025° of longitude (about 213 m at 39.8°N) by 0.002° of latitude (about
    222 m), kept where it lies more than 0.0004° (about 34 m) inside the community's boundary.
    The widest duplicate radius of the catalogue is 150 m, so reports at two different points
    never merge into one case; reports at one point (same category, within its window) do.
    """
    boundary = GEOSGeometry(_community_boundaries()[code])
    inner = boundary.buffer(-0.0004)
    xmin, ymin, xmax, ymax = boundary.extent
    points = []
    lat = ymin + 0.001
    while lat < ymax:
        lon = xmin + 0.001
        while lon < xmax:
            if inner.contains(Point(lon, lat)):
                points.append((round(lon, 6), round(lat, 6)))
            lon += 0.0025
        lat += 0.002
    assert len(points) >= 6, f"community {code} too small for the lattice"
    return tuple(points)


@cache
def _metric_boundary(code: str):
    return Subdistrict.objects.get(code=code).boundary.transform(METRIC_SRID, clone=True)


def near_border(inside: str, other: str, metres: float) -> tuple[float, float]:
    """A WGS 84 point inside ``inside``, about ``metres`` from its border with ``other`` (the
    middle of the shared border, moved inwards)."""
    own, neighbour = _metric_boundary(inside), _metric_boundary(other)
    middle = own.intersection(neighbour).point_on_surface
    inner = own.buffer(-metres)
    ring = max(getattr(inner, "geoms", [inner]), key=lambda part: part.area).exterior_ring
    point = ring.interpolate(ring.project(middle))
    point.srid = METRIC_SRID
    assert own.contains(point)
    assert metres * 0.9 < point.distance(neighbour) < metres * 1.1
    wgs84 = point.transform(4326, clone=True)
    return round(wgs84.x, 7), round(wgs84.y, 7)



# --- people -----------------------------------------------------------------------------------


def user(username: str):
    """A fresh user object (role names are cached on the instance, so never reuse one)."""
    return get_user_model().objects.get(username=username)


def client_for(username: str | None) -> APIClient:
    """An API client with the demo user's DRF token, or an anonymous one for ``None``."""
    client = APIClient()
    if username is not None:
        client.credentials(
            HTTP_AUTHORIZATION=f"Token {Token.objects.get(user__username=username).key}")
    return client


# --- photos -----------------------------------------------------------------------------------


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 140, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


def proof_photo() -> SimpleUploadedFile:
    return SimpleUploadedFile("proof.jpg", jpeg_bytes(), content_type="image/jpeg")


# --- reports and actions ----------------------------------------------------------------------


def report(category: str, *, community: str = HUAIFANG, point: int = 0,
           reporter: str | None = "rider1", at: datetime | None = None,
           phone: str = SECRET_PHONE, email: str = SECRET_EMAIL,
           description: str = "") -> Report:
    """One report through the intake service (Open311 channel: no photo needed), with the
    reporter's contact details set, at the ``point``-th lattice point of ``community``."""
    lon, lat = community_points(community)[point]
    data = ReportInput(category_code=category, lon=lon, lat=lat, description=description,
                       contact=ReportContact(phone=phone, email=email))
    return report_create(channel=OPEN311_CHANNEL, data=data,
                         reporter=user(reporter) if reporter else None,
                         received_at=at).report


def app_report(category: str, *, community: str = HUAIFANG, point: int = 0,
               reporter: str = "rider1", at: datetime | None = None,
               description: str = "") -> Report:
    """A report from the rider app (client_uuid, no photo: for photo-optional categories)."""
    lon, lat = community_points(community)[point]
    data = ReportInput(category_code=category, lon=lon, lat=lat, description=description,
                       client_uuid=uuid.uuid4())
    return report_create(channel=APP_CHANNEL, data=data, reporter=user(reporter),
                         received_at=at).report


def act(case: Case | int, action: str, username: str | None, *, at: datetime | None = None,
        **params: Any) -> Case:
    """One lifecycle action through the service."""
    case_id = case if isinstance(case, int) else case.pk
    return case_act(case_id=case_id, action=action,
                    actor=user(username) if username else None, at=at, **params)


def live_task(case: Case | int) -> Task | None:
    case_id = case if isinstance(case, int) else case.pk
    return Task.objects.filter(case_id=case_id, status__in=[
        "offered", "accepted", "in_progress", "handed_in", "sent_back"]).first()


# The stages a case goes through and who moves it there in ``case_in_stage``.
STAGE_PATH = ["new", "filed", "dispatched", "in_progress", "handed_in", "closed", "evaluated"]


def case_in_stage(stage: str, *, category: str = "E0101", community: str = HUAIFANG,
                  point: int = 0, reporter: str | None = "rider1", at: datetime | None = None,
                  worker: str = "hk_vol1", verifier: str = "office2") -> Case:
    """A fresh case moved to ``stage`` the ordinary way: office1 files and dispatches (by the
    routing), ``worker`` accepts and hands in, ``verifier`` verifies, the reporter rates 4.

    With ``at`` the report is received then and each later step comes one minute after the
    previous; without it everything happens now.
    """
    def when(step: int) -> datetime | None:
        return at + timedelta(minutes=step) if at else None

    case = report(category, community=community, point=point, reporter=reporter,
                  at=when(0)).case
    steps = [
        ("filed", lambda: act(case, "file", "office1", at=when(1))),
        ("dispatched", lambda: act(case, "dispatch", "office1", at=when(2))),
        ("in_progress", lambda: act(case, "accept", worker, at=when(3))),
        ("handed_in", lambda: act(case, "handin", worker, at=when(4), note="已处理",
                                  photo=proof_photo())),
        ("closed", lambda: act(case, "verify", verifier, at=when(5))),
        ("evaluated", lambda: act(case, "rate", reporter, at=when(6), score=4)),
    ]
    for reached, step in steps[:STAGE_PATH.index(stage)]:
        step()
        assert Case.objects.get(pk=case.pk).stage == reached
    return Case.objects.get(pk=case.pk)


def snapshot(case: Case | int) -> tuple:
    """What a refused action must leave as it was: stage, every task's status, events."""
    case_id = case if isinstance(case, int) else case.pk
    fresh = Case.objects.get(pk=case_id)
    return (
        fresh.stage,
        list(Task.objects.filter(case_id=case_id).order_by("id").values_list("id", "status")),
        CaseEvent.objects.filter(case_id=case_id).count(),
        fresh.merged_into_id,
    )


def last_event(case: Case | int) -> CaseEvent:
    case_id = case if isinstance(case, int) else case.pk
    return CaseEvent.objects.filter(case_id=case_id).order_by("at", "id").last()


# --- bodies -----------------------------------------------------------------------------------


def keys_in(body: Any) -> set[str]:
    """Every key anywhere in a JSON body."""
    if isinstance(body, dict):
        return set(body) | {k for value in body.values() for k in keys_in(value)}
    if isinstance(body, list):
        return {k for value in body for k in keys_in(value)}
    return set()


def assert_nothing_restricted(response) -> None:
    """No reporter, contact or actor field, and no contact value, anywhere in the body."""
    text = response.content.decode()
    assert SECRET_PHONE not in text and SECRET_EMAIL not in text, text
    if text and response.get("Content-Type", "").startswith("application/json"):
        assert not (keys_in(response.json()) & RESTRICTED_KEYS), response.json()


# --- concurrency ------------------------------------------------------------------------------


def wait_for_lock_waiters(count: int, timeout_s: float = 15.0) -> None:
    """Wait until ``count`` other sessions of this test database are blocked on a lock.

    Used while the test itself holds a row lock: both racers are then known to have reached the
    contested row before either may take it, so the race is real, not a matter of timing.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        with connection.cursor() as cursor:
            # pg_stat_activity is a snapshot kept until the end of the transaction (and the
            # caller is inside one, holding the lock): drop it so each poll sees the present.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
            waiting = cursor.fetchone()[0]
        if waiting >= count:
            return
        if time.monotonic() > deadline:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pid, state, wait_event_type, wait_event, left(query, 60) "
                               "FROM pg_stat_activity WHERE datname = current_database()")
                sessions = cursor.fetchall()
            raise AssertionError(
                f"only {waiting} of {count} sessions reached the lock: {sessions}")
        time.sleep(0.05)


def run_in_threads(*targets) -> tuple[list[threading.Thread], list[Any]]:
    """Run each callable in its own thread (own DB connection, closed at the end); return
    each result or the exception it raised, in order."""
    from django.db import connections

    results: list[Any] = [None] * len(targets)

    def run(index: int, target) -> None:
        try:
            results[index] = target()
        except Exception as error:  # noqa: BLE001 - the test inspects it
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    return threads, results


def join_all(threads, timeout_s: float = 30.0) -> None:
    for thread in threads:
        thread.join(timeout_s)
        assert not thread.is_alive(), "a racer never finished"
