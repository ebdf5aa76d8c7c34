"""Conversions between WGS 84 and China's obfuscated map coordinate systems.

We store WGS 84 (EPSG:4326), but phones in China rarely send it: Chinese map
apps and WeChat's location API return GCJ-02 ("Mars coordinates", offset from
WGS 84 by about 554 m at Nanyuan, Beijing), and Baidu returns BD-09, a second
offset on top of GCJ-02. The intake converts whatever was sent to WGS 84 with
`to_wgs84`; a basemap drawn in GCJ-02 (e.g. Amap tiles) needs our WGS 84
overlays shifted the other way with `from_wgs84`.

The forward transforms are the widely published reverse-engineered formulas
(Krasovsky 1940 ellipsoid constants, Baidu's ``x_pi`` rotation). The
inverses have no closed form, so they are solved numerically here; see
`gcj02_to_wgs84`. All functions take and return ``(lon, lat)`` in decimal
degrees, longitude first, as GeoJSON and GEOS do.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from enum import StrEnum

logger = logging.getLogger(__name__)

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula.
KRASOVSKY_A = 6378245.0  # semi-major axis, metres
KRASOVSKY_EE = 0.00669342162296594323  # first eccentricity squared, dimensionless

# Baidu's rotation constant: pi * 3000 / 180 (radians per degree, scaled by 3000).
X_PI = math.pi * 3000.0 / 180.0

# The customary "is it in China" bounding box, degrees. It is crude on purpose:
# every published implementation uses this box, and matching them matters more
# than the true border (it includes e.g. Seoul; it excludes nothing in Beijing).
CHINA_MIN_LON, CHINA_MAX_LON = 73.66, 135.05  # degrees east
CHINA_MIN_LAT, CHINA_MAX_LAT = 3.86, 53.55  # degrees north

# Inverse transforms iterate until the forward image of the answer is this
# close to the input, per axis: 1e-9 degrees is about 0.1 mm on the ground.
INVERSE_TOLERANCE_DEG = 1e-9
# Each iteration shrinks the error at least 200-fold in Beijing, so 3 suffice
# there (measured on a 25 x 25 lattice); 30 is a generous cap.
INVERSE_MAX_ITERATIONS = 30

UNKNOWN_SYSTEM_MESSAGE = "Unknown coordinate system {system!r}; expected one of: {choices}."

Point = tuple[float, float]  # (lon, lat), decimal degrees


class CoordSystem(StrEnum):
    """The coordinate systems a client may send a position in.

    A `StrEnum` (a ``str`` and an ``Enum``), so members compare equal to, and
    format as, their values: ``CoordSystem.GCJ02 == "gcj02"``.
    """

    WGS84 = "wgs84"  # GPS, OpenStreetMap, browsers' Geolocation API
    GCJ02 = "gcj02"  # Amap/Gaode, Tencent, WeChat, Google Maps in China
    BD09 = "bd09"  # Baidu Maps


def out_of_china(lon: float, lat: float) -> bool:
    """Return True when the point lies outside the customary China bounding box.

    Outside it GCJ-02 is defined to equal WGS 84, so the forward and inverse
    GCJ-02 transforms return such points unchanged.
    """
    return not (CHINA_MIN_LON < lon < CHINA_MAX_LON and CHINA_MIN_LAT < lat < CHINA_MAX_LAT)


def _offset_lat(x: float, y: float) -> float:
    """Latitude part of the GCJ-02 distortion, in metres-like units before scaling.

    ``x`` and ``y`` are longitude and latitude relative to (105 E, 35 N), degrees.
    """
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _offset_lon(x: float, y: float) -> float:
    """Longitude part of the GCJ-02 distortion, in metres-like units before scaling.

    ``x`` and ``y`` are longitude and latitude relative to (105 E, 35 N), degrees.
    """
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lon: float, lat: float) -> Point:
    """Convert WGS 84 to GCJ-02 with the published forward formula.

    The distortion, computed in metres on the Krasovsky ellipsoid, is turned
    into degrees with the local meridian and parallel radii of curvature.
    Points outside China (see `out_of_china`) are returned unchanged.
    """
    if out_of_china(lon, lat):
        return lon, lat
    d_lat = _offset_lat(lon - 105.0, lat - 35.0)
    d_lon = _offset_lon(lon - 105.0, lat - 35.0)
    rad_lat = math.radians(lat)
    magic = 1.0 - KRASOVSKY_EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    # Meridian radius M = a(1-e^2)/W^3 and parallel radius N cos(phi) = a cos(phi)/W, metres.
    d_lat = (d_lat * 180.0) / (
        (KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * math.pi
    )
    d_lon = (d_lon * 180.0) / (KRASOVSKY_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return lon + d_lon, lat + d_lat


def _invert(
    forward: Callable[[float, float], Point], lon: float, lat: float, guess: Point
) -> Point:
    """Solve ``forward(p) == (lon, lat)`` for ``p`` by fixed-point iteration.

    Each step moves the estimate by the residual of its forward image:
    ``p <- p - (forward(p) - target)``. This converges because both offsets
    change slowly with position (their Jacobian differs from the identity by
    under 0.005 in Beijing), so each step shrinks the error at least 200-fold. Stops
    when the residual is under `INVERSE_TOLERANCE_DEG` on both axes; if it
    never is (possible only where the offset jumps, at the edge of the China
    box), returns the best estimate seen and logs a warning.
    """
    x, y = guess
    best, best_residual = guess, math.inf
    for _ in range(INVERSE_MAX_ITERATIONS):
        fx, fy = forward(x, y)
        dx, dy = fx - lon, fy - lat
        residual = max(abs(dx), abs(dy))  # degrees
        if residual < best_residual:
            best, best_residual = (x, y), residual
        if residual < INVERSE_TOLERANCE_DEG:
            return x, y
        x, y = x - dx, y - dy
    logger.warning(
        "Coordinate inverse did not converge at (%r, %r): residual %.3g degrees",
        lon,
        lat,
        best_residual,
    )
    return best


def gcj02_to_wgs84(lon: float, lat: float) -> Point:
    """Convert GCJ-02 to WGS 84 by inverting the forward formula numerically.

    Why iterate: the GCJ-02 formula has no closed-form inverse. The common
    one-step approximation (subtract the offset computed at the GCJ-02 point)
    is off by up to about 3 m in Beijing, because the offset there is itself
    a few metres different from the offset at the true WGS 84 point. Fixed-point
    iteration (see `_invert`) reaches 1e-9 degrees (about 0.1 mm) in a handful
    of steps. Points outside China are returned unchanged.
    """
    if out_of_china(lon, lat):
        return lon, lat
    return _invert(wgs84_to_gcj02, lon, lat, guess=(lon, lat))


def gcj02_to_bd09(lon: float, lat: float) -> Point:
    """Convert GCJ-02 to BD-09 with Baidu's published formula.

    Baidu perturbs the polar form (radius and angle about 0 E, 0 N) by small
    periodic terms, then shifts by (0.0065, 0.006) degrees. No China box
    applies: the formula is used everywhere, as Baidu's own API does.
    """
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def _bd09_to_gcj02_published(lon: float, lat: float) -> Point:
    """Baidu's published approximate inverse, used as the first guess."""
    x, y = lon - 0.0065, lat - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * X_PI)
    return z * math.cos(theta), z * math.sin(theta)


def bd09_to_gcj02(lon: float, lat: float) -> Point:
    """Convert BD-09 to GCJ-02.

    Starts from Baidu's published inverse formula, which is itself only an
    approximation (its forward image misses the input by up to about 0.16 m
    in Beijing), and refines it by the same fixed-point iteration as
    `gcj02_to_wgs84` to 1e-9 degrees (about 0.1 mm).
    """
    guess = _bd09_to_gcj02_published(lon, lat)
    return _invert(gcj02_to_bd09, lon, lat, guess=guess)


def bd09_to_wgs84(lon: float, lat: float) -> Point:
    """Convert BD-09 to WGS 84 (through GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def wgs84_to_bd09(lon: float, lat: float) -> Point:
    """Convert WGS 84 to BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def _identity(lon: float, lat: float) -> Point:
    """Return the point unchanged (WGS 84 to WGS 84)."""
    return lon, lat


_TO_WGS84: dict[CoordSystem, Callable[[float, float], Point]] = {
    CoordSystem.WGS84: _identity,
    CoordSystem.GCJ02: gcj02_to_wgs84,
    CoordSystem.BD09: bd09_to_wgs84,
}

_FROM_WGS84: dict[CoordSystem, Callable[[float, float], Point]] = {
    CoordSystem.WGS84: _identity,
    CoordSystem.GCJ02: wgs84_to_gcj02,
    CoordSystem.BD09: wgs84_to_bd09,
}


def coord_system_parse(system: CoordSystem | str) -> CoordSystem:
    """Return the `CoordSystem` named by ``system`` (an enum or its value, any case).

    Raises ValueError with `UNKNOWN_SYSTEM_MESSAGE` for anything else, so the
    intake can turn it into a 400 with a stable text.
    """
    if isinstance(system, CoordSystem):
        return system
    try:
        return CoordSystem(str(system).strip().lower())
    except ValueError:
        choices = ", ".join(s.value for s in CoordSystem)
        raise ValueError(UNKNOWN_SYSTEM_MESSAGE.format(system=system, choices=choices)) from None


def to_wgs84(lon: float, lat: float, system: CoordSystem | str) -> Point:
    """Convert a point sent in ``system`` to WGS 84 for storage.

    Raises ValueError for an unknown system (see `coord_system_parse`).
    """
    return _TO_WGS84[coord_system_parse(system)](lon, lat)


def from_wgs84(lon: float, lat: float, system: CoordSystem | str) -> Point:
    """Convert a stored WGS 84 point to ``system``, e.g. to overlay a GCJ-02 basemap.

    Raises ValueError for an unknown system (see `coord_system_parse`).
    """
    return _FROM_WGS84[coord_system_parse(system)](lon, lat)
