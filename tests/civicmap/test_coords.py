"""Tests for civicmap.coords, checked against an independent implementation.

The reference is the PyPI package ``coordTransform`` (a declared dev
dependency, imported as ``coordTransform``). We only use its *forward*
transforms, which follow the same published formulas, and check that our
numerical inverses land back on the input when pushed through them. Its own
inverse (``gcj02_to_wgs84``) is the one-step approximation we improve on, so
it is not used as a reference.
"""

from __future__ import annotations

import math

import pytest
from coordTransform import gcj02_to_bd09 as ref_gcj02_to_bd09
from coordTransform import wgs84_to_gcj02 as ref_wgs84_to_gcj02

from civicmap.coords import (
    UNKNOWN_SYSTEM_MESSAGE,
    CoordSystem,
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

EARTH_MEAN_RADIUS_M = 6_371_008.8  # IUGG mean radius, metres
ROUND_TRIP_TOLERANCE_M = 0.1  # metres

# All of Beijing municipality, degrees: 115.4-117.5 E, 39.4-41.1 N.
BEIJING_WEST, BEIJING_EAST = 115.4, 117.5
BEIJING_SOUTH, BEIJING_NORTH = 39.4, 41.1
LATTICE_SIZE = 25  # 25 x 25 = 625 points, about 9 km x 8 km apart

NANYUAN = (116.392, 39.797)  # (lon, lat) WGS 84, near the former Nanyuan airport

# Outside the customary China box, where GCJ-02 equals WGS 84. (Seoul is
# deliberately absent: the box includes it.)
OUTSIDE_CHINA = [
    (-0.1276, 51.5072),  # London
    (-74.0060, 40.7128),  # New York
    (139.6917, 35.6895),  # Tokyo, east of 135.05 E
    (151.2093, -33.8688),  # Sydney
]


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lon, lat) points in metres (spherical Earth)."""
    lon1, lat1 = map(math.radians, a)
    lon2, lat2 = map(math.radians, b)
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_MEAN_RADIUS_M * math.asin(math.sqrt(h))


def beijing_lattice() -> list[tuple[float, float]]:
    """A LATTICE_SIZE x LATTICE_SIZE grid of (lon, lat) points over Beijing, corners included."""
    steps = LATTICE_SIZE - 1
    return [
        (
            BEIJING_WEST + (BEIJING_EAST - BEIJING_WEST) * i / steps,
            BEIJING_SOUTH + (BEIJING_NORTH - BEIJING_SOUTH) * j / steps,
        )
        for i in range(LATTICE_SIZE)
        for j in range(LATTICE_SIZE)
    ]


def test_gcj02_to_wgs84_round_trips_through_independent_forward_within_0_1_m() -> None:
    errors = []
    for gcj in beijing_lattice():
        wgs = gcj02_to_wgs84(*gcj)
        errors.append(haversine_m(gcj, tuple(ref_wgs84_to_gcj02(*wgs))))
    assert max(errors) < ROUND_TRIP_TOLERANCE_M


def test_bd09_to_wgs84_round_trips_through_independent_forward_within_0_1_m() -> None:
    errors = []
    for bd in beijing_lattice():
        wgs = bd09_to_wgs84(*bd)
        back = ref_gcj02_to_bd09(*ref_wgs84_to_gcj02(*wgs))
        errors.append(haversine_m(bd, tuple(back)))
    assert max(errors) < ROUND_TRIP_TOLERANCE_M


def test_bd09_to_gcj02_round_trips_through_independent_forward_within_0_1_m() -> None:
    errors = [
        haversine_m(bd, tuple(ref_gcj02_to_bd09(*bd09_to_gcj02(*bd)))) for bd in beijing_lattice()
    ]
    assert max(errors) < ROUND_TRIP_TOLERANCE_M


def test_forward_transforms_agree_with_independent_implementation() -> None:
    # Same published formulas, so agreement to float noise (1e-9 degrees is about 0.1 mm).
    for wgs in beijing_lattice():
        assert wgs84_to_gcj02(*wgs) == pytest.approx(tuple(ref_wgs84_to_gcj02(*wgs)), abs=1e-9)
        assert gcj02_to_bd09(*wgs) == pytest.approx(tuple(ref_gcj02_to_bd09(*wgs)), abs=1e-9)


def test_gcj02_offset_at_nanyuan_is_450_to_650_m() -> None:
    offset_m = haversine_m(NANYUAN, wgs84_to_gcj02(*NANYUAN))
    assert 450 < offset_m < 650


def test_wgs84_to_bd09_inverts_bd09_to_wgs84_at_nanyuan() -> None:
    assert haversine_m(NANYUAN, bd09_to_wgs84(*wgs84_to_bd09(*NANYUAN))) < 0.001  # metres


@pytest.mark.parametrize("point", OUTSIDE_CHINA)
def test_points_outside_china_are_unchanged_by_gcj02(point: tuple[float, float]) -> None:
    assert wgs84_to_gcj02(*point) == point
    assert gcj02_to_wgs84(*point) == point
    assert to_wgs84(*point, CoordSystem.GCJ02) == point


@pytest.mark.parametrize(
    ("system", "expected"),
    [
        (CoordSystem.WGS84, NANYUAN),
        ("wgs84", NANYUAN),
        (CoordSystem.GCJ02, gcj02_to_wgs84(*NANYUAN)),
        ("GCJ02", gcj02_to_wgs84(*NANYUAN)),
        (CoordSystem.BD09, bd09_to_wgs84(*NANYUAN)),
        (" bd09 ", bd09_to_wgs84(*NANYUAN)),
    ],
)
def test_to_wgs84_dispatches_on_system(
    system: CoordSystem | str, expected: tuple[float, float]
) -> None:
    assert to_wgs84(*NANYUAN, system) == expected


def test_from_wgs84_inverts_to_wgs84() -> None:
    for system in CoordSystem:
        shown = from_wgs84(*NANYUAN, system)
        assert haversine_m(NANYUAN, to_wgs84(*shown, system)) < 0.001  # metres


@pytest.mark.parametrize("system", ["gcj-02", "epsg:4326", "", "mars"])
def test_to_wgs84_unknown_system_raises(system: str) -> None:
    expected = UNKNOWN_SYSTEM_MESSAGE.format(system=system, choices="wgs84, gcj02, bd09")
    with pytest.raises(ValueError) as excinfo:
        to_wgs84(*NANYUAN, system)
    assert str(excinfo.value) == expected


# Published reference values: the worked examples of the widely used coordtransform library's
# README (wandergis/coordtransform), for the point (116.404, 39.915) near Tiananmen.
PUBLISHED_GCJ02_TO_BD09 = ((116.404, 39.915), (116.41036949371029, 39.92133699351021))
PUBLISHED_WGS84_TO_GCJ02 = ((116.404, 39.915), (116.41024449916938, 39.91640428150164))


def test_forward_transforms_match_published_reference_values() -> None:
    for forward, (given, expected) in ((gcj02_to_bd09, PUBLISHED_GCJ02_TO_BD09),
                                       (wgs84_to_gcj02, PUBLISHED_WGS84_TO_GCJ02)):
        assert forward(*given) == pytest.approx(expected, abs=1e-9)
    # WGS 84 to BD-09 is the two in turn.
    assert wgs84_to_bd09(*NANYUAN) == pytest.approx(gcj02_to_bd09(*wgs84_to_gcj02(*NANYUAN)),
                                                    abs=1e-12)
