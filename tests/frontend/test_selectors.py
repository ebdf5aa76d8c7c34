"""The map layers' reads against real PostGIS; expected numbers come from the SQL beside them."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from civicmap.models import CommunityGrid, UnitGrid
from frontend.selectors import community_grid_stats, unit_grid_stats
from issues.layers import (
    case_hotspots,
    map_filters_for_period,
    report_grid_counts,
    report_heat_cells,
    report_heat_frames,
)
from issues.models import Case, Report, Stage
from patrol.layers import overdue_case_counts
from patrol.models import Task
from stations.layers import station_pins
from tests.frontend.helpers import (
    CHENGYUAN,
    HOTSPOT_CATEGORIES,
    HOTSPOT_SPACING_M,
    HUAIFANG,
    PRIVATE_CATEGORY,
    XINGONG,
    east_of,
    hostile_station_load,
    map_history_load,
    reports_add,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(reference_data):
    now = timezone.now()
    map_history_load(now=now)
    return now


def _filters(now, **kwargs):
    return map_filters_for_period(now=now, days=30, **kwargs)


def test_heat_cells_count_every_report_once_at_its_cell_centre(history):
    cells = report_heat_cells(filters=_filters(history, include_private=True))
    assert sum(cell.count for cell in cells) == Report.objects.count()
    # Reference: each report's cell centre by PostGIS, from the report itself.
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT DISTINCT ST_X(c), ST_Y(c) FROM (
              SELECT ST_Transform(ST_SetSRID(ST_MakePoint(
                       (floor(ST_X(ST_Transform(location::geometry, 4548)) / 100) + 0.5) * 100,
                       (floor(ST_Y(ST_Transform(location::geometry, 4548)) / 100) + 0.5) * 100),
                     4548), 4326) AS c
              FROM issues_report) s""")
        expected = sorted(cursor.fetchall())
    got = sorted((cell.lon, cell.lat) for cell in cells)
    assert len(got) == len(expected)
    for (lon, lat), (ref_lon, ref_lat) in zip(got, expected, strict=True):
        assert lon == pytest.approx(ref_lon, abs=1e-9) and lat == pytest.approx(ref_lat, abs=1e-9)


def test_public_layers_leave_out_private_categories(history):
    public = report_heat_cells(filters=_filters(history))
    office = report_heat_cells(filters=_filters(history, include_private=True))
    private = Report.objects.filter(category__code=PRIVATE_CATEGORY).count()
    assert private == 1
    assert sum(c.count for c in office) - sum(c.count for c in public) == private


def test_category_filter(history):
    cells = report_heat_cells(filters=_filters(history, categories=("E0505",)))
    assert sum(cell.count for cell in cells) == 6


def test_heat_frames_cover_every_hour_of_the_week(history):
    week = map_filters_for_period(now=history, days=7, include_private=True)
    frames = report_heat_frames(filters=week)
    assert len(frames) == 7 * 24
    assert [f.hour for f in frames] == sorted(f.hour for f in frames)
    in_week = Report.objects.filter(received_at__gte=week.since).count()
    assert sum(c.count for f in frames for c in f.cells) == in_week


def test_community_stats_area_reports_open_and_overdue(history):
    case = Case.objects.filter(category__code=HOTSPOT_CATEGORIES[0]).get()
    # Dispatched, as the lifecycle leaves a case with a live task (the overdue count reads
    # only the stages that can have one).
    Case.objects.filter(pk=case.pk).update(stage=Stage.DISPATCHED)
    Task.objects.create(case=case, assignee_kind="union", status="offered",
                        offered_at=history - timedelta(days=2),
                        response_due=history - timedelta(days=1),  # missed
                        resolution_due=history + timedelta(days=3))
    stats = {grid.code: grid for grid in community_grid_stats(filters=_filters(history),
                                                               now=history)}
    assert len(stats) == CommunityGrid.objects.count()  # the whole district's
    huaifang = stats["110106005010"]
    assert huaifang.overdue_cases == 1
    assert huaifang.open_cases == len(HOTSPOT_CATEGORIES)  # the private case is not counted
    assert sum(grid.reports for grid in stats.values()) == Report.objects.filter(
        category__is_private=False).count()
    with connection.cursor() as cursor:
        # Area in m² of each community in EPSG:4548 (Gauss-Kruger CM 117E).
        cursor.execute("SELECT code, ST_Area(ST_Transform(boundary, 4548)) "
                       "FROM civicmap_communitygrid")
        for code, area_m2 in cursor.fetchall():
            assert stats[code].area_km2 == pytest.approx(area_m2 / 1e6, rel=1e-9)
    assert huaifang.reports_per_km2 == pytest.approx(huaifang.reports / huaifang.area_km2)


@pytest.fixture
def history_with_a_gap(reference_data):
    """The map history after the unit grid at Xingong is taken away: the reports there belong
    to the community alone (the unit grids need not tile it)."""
    UnitGrid.objects.filter(boundary__covers=Point(*XINGONG, srid=4326)).delete()
    now = timezone.now()
    map_history_load(now=now)
    return now


def test_community_reports_count_those_in_no_unit_grid(history_with_a_gap):
    """A community's reports are all its reports, those outside every unit grid too; the unit
    grids hold only their own. The governance map reads the counts once for both
    (``report_grid_counts``): the same figures as each selector reading them itself."""
    now = history_with_a_gap
    outside = Report.objects.filter(unit_grid__isnull=True)
    assert outside.exists() and not outside.filter(community_grid__isnull=True).exists()
    for filters in (_filters(now), _filters(now, include_private=True),
                    _filters(now, categories=("E0505",))):
        in_period = Report.objects.filter(received_at__gte=filters.since,
                                          received_at__lt=filters.until)
        if not filters.include_private:
            in_period = in_period.filter(category__is_private=False)
        if filters.categories:
            in_period = in_period.filter(category__code__in=filters.categories)
        counts = report_grid_counts(filters=filters)
        grids = community_grid_stats(filters=filters, now=now)
        assert community_grid_stats(filters=filters, now=now, counts=counts) == grids
        assert {grid.code: grid.reports for grid in grids if grid.reports} == dict(
            Counter(in_period.values_list("community_grid__code", flat=True)))
        units = unit_grid_stats(filters=filters)
        assert unit_grid_stats(filters=filters, counts=counts) == units
        assert sum(unit.reports for unit in units) == in_period.filter(
            unit_grid__isnull=False).count()


def test_a_period_counts_its_hours_days_and_weeks_once(reference_data):
    """A period's reports come from the hourly rows at its ends, the daily totals of its whole
    days outside whole weeks and the weekly totals of its whole weeks (Monday 00:00 UTC):
    every report counted once, for periods of every length ending on every day of the week,
    for every category, a kind, and the office's private ones too."""
    now = timezone.now().replace(minute=30)
    every_11_hours = [now - timedelta(hours=11 * i) for i in range(100)]  # 46 days back
    reports_add(point=XINGONG, code="E0505", received_ats=every_11_hours)
    reports_add(point=CHENGYUAN, code="C0401", received_ats=every_11_hours[::3])
    reports_add(point=HUAIFANG, code=PRIVATE_CATEGORY, received_ats=every_11_hours[::5])
    for end in (now - timedelta(days=day, hours=7 * day) for day in range(7)):
        for days in (1, 2, 7, 8, 30, 40):
            for options in ({}, {"kinds": ("C",)}, {"include_private": True}):
                filters = map_filters_for_period(now=end, days=days, **options)
                reports = Report.objects.filter(received_at__gte=filters.since,
                                                received_at__lt=filters.until)
                if "kinds" in options:
                    reports = reports.filter(category__code__startswith="C")
                if not filters.include_private:
                    reports = reports.filter(category__is_private=False)
                expected = reports.count()
                counts = report_grid_counts(filters=filters)
                assert sum(counts.communities.values()) == expected, (end, days, options)
                assert sum(cell.count for cell in report_heat_cells(filters=filters)) == expected
    with CaptureQueriesContext(connection) as queries:
        report_heat_cells(filters=map_filters_for_period(now=now, days=30))
    assert any("issues_reportcellweektotal" in query["sql"] for query in queries)


def test_unit_grid_stats_from_the_hourly_aggregates(history):
    units = unit_grid_stats(filters=_filters(history, include_private=True))
    assert sum(unit.reports for unit in units) == Report.objects.filter(
        unit_grid__isnull=False).count()
    assert all(unit.geometry["type"] == "Polygon" for unit in units)


def test_hotspot_of_cases_20_m_apart(history):
    """ST_ClusterDBSCAN in EPSG:4548: neighbours 20 m apart are one cluster with eps 50 m
    (and at least 3 cases); with eps 15 m every case is noise.

    SELECT ST_ClusterDBSCAN(ST_Transform(location::geometry, 4548), 50, 3)
           OVER (PARTITION BY community_grid_id) FROM issues_case …  → 0, 0, 0, 0 (4 rows)
    """
    (hotspot,) = case_hotspots(filters=_filters(history), eps_m=50, min_cases=3)
    assert hotspot.case_count == len(HOTSPOT_CATEGORIES)
    # Cases at 0, 20, 40 and 60 m east: centre at 30 m, farthest member 30 m from it.
    span = HOTSPOT_SPACING_M * (len(HOTSPOT_CATEGORIES) - 1)
    assert hotspot.radius_m == pytest.approx(span / 2, abs=0.5)
    lon, lat = east_of(HUAIFANG, span / 2)  # the centre, to about 0.1 m
    assert (hotspot.lon, hotspot.lat) == (pytest.approx(lon, abs=1e-6),
                                          pytest.approx(lat, abs=1e-6))
    assert hotspot.latest == []  # descriptions are for office staff only
    assert case_hotspots(filters=_filters(history), eps_m=15, min_cases=3) == []
    assert case_hotspots(filters=_filters(history), eps_m=50, min_cases=5) == []


def test_hotspot_descriptions_for_office_staff(history):
    (hotspot,) = case_hotspots(filters=_filters(history, include_private=True), eps_m=50,
                               min_cases=3, with_descriptions=True)
    # The private case at the same place joins the cluster for the office.
    assert hotspot.case_count == len(HOTSPOT_CATEGORIES) + 1
    assert hotspot.latest[0].description == "private need"
    assert len(hotspot.latest) == 3


def test_station_pins(reference_data):
    station = hostile_station_load()
    pins = {pin.name: pin for pin in station_pins()}
    pin = pins[station.name_zh]
    assert pin.open_now is True  # open 00:00–24:00 every day
    assert pin.radius_m == 400
    assert len(pin.hours) == 1 and pin.hours[0].endswith("00:00–24:00")
    assert math.isclose(pin.lon, station.location.x)


def test_no_active_station_no_pins(reference_data):
    from stations.models import Station

    Station.objects.update(is_active=False)
    assert station_pins() == []


def test_uncovered_demand_counts_reports_beyond_every_station(history):
    from stations.layers import uncovered_demand_cells
    from stations.models import Station

    everything = _filters(history, include_private=True)
    Station.objects.update(coverage_radius_m=1)  # metres
    with connection.cursor() as cursor:
        # Reports farther than 1 m (geography) from every active station.
        cursor.execute("""
            SELECT count(*) FROM issues_report r WHERE NOT EXISTS (
              SELECT 1 FROM stations_station s
              WHERE s.is_active AND ST_DWithin(s.location, r.location, 1))""")
        (expected,) = cursor.fetchone()
    cells = uncovered_demand_cells(since=everything.since, until=everything.until)
    assert expected >= Report.objects.count() - 2  # a station may stand on a hotspot
    assert sum(cell.reports for cell in cells) == expected
    assert sum(cell.needs for cell in cells) == 0  # 邻里守望 (L01) is not a rider's own need
    Station.objects.update(coverage_radius_m=5000)  # metres: the whole subdistrict
    assert uncovered_demand_cells(since=everything.since, until=everything.until) == []


def test_no_overdue_count_where_no_stage_has_a_live_task(history):
    """New, filed or closed cases have no live task (the lifecycle's rule): the map asks the
    database nothing for their overdue counts, even with a late task left on such a case."""
    case = Case.objects.filter(category__code=HOTSPOT_CATEGORIES[0]).get()
    Case.objects.filter(pk=case.pk).update(stage=Stage.DISPATCHED)
    Task.objects.create(case=case, assignee_kind="union", status="offered",
                        offered_at=history - timedelta(days=2),
                        response_due=history - timedelta(days=1),
                        resolution_due=history + timedelta(days=3))
    dispatched = replace(_filters(history), stages=(Stage.DISPATCHED,))
    assert sum(overdue_case_counts(filters=dispatched, now=history).values()) == 1
    for stages in ((Stage.NEW, Stage.FILED), (Stage.CLOSED,)):
        with CaptureQueriesContext(connection) as queries:
            counts = overdue_case_counts(filters=replace(dispatched, stages=stages), now=history)
        assert (counts, len(queries)) == ({}, 0)
