"""Test data for the maps: a few reports through the bulk path (cases and aggregates as intake
makes them), a hotspot with hostile text, and a station with a hostile name."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta

from fixtures.bulk_reports import ReportDraft, reports_bulk_load
from issues.models import Category
from stations.models import Station
from stations.services import station_upsert

# (lon, lat) WGS 84.
HUAIFANG = (116.392, 39.797)  # inside Huaifang Community (110106005010), near Wanda Plaza
XINGONG = (116.3746, 39.8133)  # inside Xingong Community (110106005001)
CHENGYUAN = (116.3954, 39.8040)  # inside Chengyuan Community (110106005007)

# Public categories without equivalents, so that reports 20 m apart stay separate cases.
HOTSPOT_CATEGORIES = ("C0101", "C0103", "C0201", "C0301")
PRIVATE_CATEGORY = "L0101"  # 邻里守望: never shown publicly
HOTSPOT_SPACING_M = 20  # metres between neighbouring hotspot cases, west to east

# User text that would run if any popup or tooltip parsed it as HTML or as a template literal.
XSS_DESCRIPTION = (
    '<script>window.__xss = "script"</script><img src="x" onerror="window.__xss = \'img\'">'
    "${window.__xss = 'template'}"
)
XSS_STATION_NAME = '<script>window.__xss = "station"</script>驿站'
XSS_STATION_EN = '<img src="y" onerror="window.__xss = \'station-en\'">Station'


# Every role, each played by a demo user (fixtures/demo_people.json), as in
# tests/patrol/test_permissions.py; civicmap/roles.py names the roles.
ROLES = {
    "anonymous": None,
    "rider": "rider1",
    "volunteer": "hk_vol1",
    "team_leader": "hk_lead",
    "office_staff": "office1",
    "union_staff": "union1",
    "liaison": "liaison_municipal",
    "admin": "admin",  # superuser: holds every role
}
OFFICE_ROLES = {"office_staff", "admin"}  # the roles that see the office's map


def client_for(client, role: str):
    """``client`` logged in as the demo user playing ``role`` (anonymous: as it is)."""
    from django.contrib.auth import get_user_model

    if ROLES[role]:
        client.force_login(get_user_model().objects.get(username=ROLES[role]))
    return client


def east_of(point: tuple[float, float], metres: float) -> tuple[float, float]:
    """A point ``metres`` east of ``point`` (spherical approximation, good to 0.1 % here)."""
    lon, lat = point
    return (lon + metres / (111_320 * math.cos(math.radians(lat))), lat)


def _draft(point: tuple[float, float], code: str, received_at: datetime,
           description: str = "") -> ReportDraft:
    return ReportDraft(
        lon=point[0], lat=point[1], category_id=Category.objects.get(code=code).pk,
        received_at=received_at, reporter_id=None, description=description,
        client_uuid=uuid.uuid4(),
    )


def map_history_load(*, now: datetime) -> None:
    """Four open cases 20 m apart at Huaifang (a hotspot, the newest one described with
    ``XSS_DESCRIPTION``), a private case there, and scattered reports in two communities."""
    drafts = [
        _draft(east_of(HUAIFANG, i * HOTSPOT_SPACING_M), code, now - timedelta(hours=3 + i),
               XSS_DESCRIPTION if i == 0 else f"hotspot case {i}")
        for i, code in enumerate(HOTSPOT_CATEGORIES)
    ]
    drafts.append(_draft(HUAIFANG, PRIVATE_CATEGORY, now - timedelta(hours=2), "private need"))
    for i in range(6):
        drafts.append(_draft(east_of(XINGONG, 300 * i), "E0505", now - timedelta(days=i, hours=1)))
        drafts.append(_draft(east_of(CHENGYUAN, 250 * i), "C0401", now - timedelta(days=2 * i)))
    reports_bulk_load(drafts=drafts)


def report_add(*, point: tuple[float, float], code: str, received_at: datetime,
               description: str = "") -> None:
    """One more report (its own case, the aggregates rebuilt), as intake would count it."""
    reports_bulk_load(drafts=[_draft(point, code, received_at, description)])


def reports_add(*, point: tuple[float, float], code: str, received_ats: list[datetime]) -> None:
    """More reports at one place, in one load (one case, as intake would merge them)."""
    reports_bulk_load(drafts=[_draft(point, code, at) for at in received_ats])


def hostile_station_load() -> Station:
    """A station whose names and address are markup, at Chengyuan."""
    return station_upsert(
        name_zh=XSS_STATION_NAME, name_en=XSS_STATION_EN, venue_type="bank",
        address_zh='<b onmouseover="window.__xss = 1">丰台区</b>',
        lon=CHENGYUAN[0], lat=CHENGYUAN[1] + 0.002,
        opening_hours=[{"day": day, "open": "00:00", "close": "24:00"} for day in range(7)],
        services=["water", "charging"], coverage_radius_m=400,
    )
