"""Geographic files in and out through GDAL: GeoJSON, Shapefile, GeoPackage, KML (and CSV out).

Reading (``geofile_read``) turns a file into numbered features in WGS 84 and nothing else:
whether the features make sense (IDs, gaps, overlaps, stations' fields) is the importing
service's to say. Every format takes the same road: GDAL's own driver for the file's extension
(and only that driver, so a file that is not what its name says is refused rather than read by
another driver), the layer's coordinate system checked against the accepted ones, geometries
transformed to WGS 84 by GDAL, then GCJ-02 shifted back (``civicmap.coords``) when the file
declares it. ``geojson_features`` gives a GeoJSON dict (the demo's fixtures) the same shape
without GDAL.

Writing (``geofile_write``) hands a WGS 84 FeatureCollection to GDAL's ``ogr2ogr``.

GDAL 3.6 cannot block file or network access while parsing a coordinate system (Django's
gis.W001, D-002), and here GDAL parses files people send: this module is the one place that
does, with the bounds of docs/DECISIONS.md D-063 (one driver per extension, a size cap, PROJ's
network off, coordinate systems checked after parsing).
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from django.contrib.gis.gdal import (
    CoordTransform,
    DataSource,
    Driver,
    GDALException,
    OGRGeometry,
    SpatialReference,
)
from django.contrib.gis.gdal.field import OFTDateTime
from django.contrib.gis.gdal.libgdal import lgdal
from django.contrib.gis.gdal.prototypes import ds as capi
from django.contrib.gis.geos import GEOSException, GEOSGeometry
from django.utils.translation import gettext_lazy as _

from civicmap.coords import CoordSystem, gcj02_to_wgs84
from civicmap.errors import FieldError, InvalidInput
from civicmap.models import WGS84

# The drivers GDAL may use for each extension (the first that opens the file wins). A .zip is
# a zipped Shapefile, read through GDAL's /vsizip/ (the upload page takes one file).
EXTENSION_DRIVERS: dict[str, tuple[str, ...]] = {
    ".geojson": ("GeoJSON",),
    ".json": ("GeoJSON",),
    ".shp": ("ESRI Shapefile",),
    ".zip": ("ESRI Shapefile",),
    ".gpkg": ("GPKG",),
    ".kml": ("LIBKML", "KML"),
}
FORMAT_NAMES = {
    "GeoJSON": "GeoJSON", "ESRI Shapefile": "Shapefile", "GPKG": "GeoPackage",
    "LIBKML": "KML", "KML": "KML",
}
MAX_GEOFILE_BYTES = 50 * 1024 * 1024  # a district's unit grids are about 5 MB of GeoJSON
MAX_GEOFILE_FEATURES = 20_000  # a subdistrict has about a thousand unit grids

CGCS2000 = 4490  # CGCS2000 geographic; within a few centimetres of WGS 84 (the same axes)
# Datums accepted, as GDAL names them: WGS 84 and CGCS2000 (the latter also in its
# Gauss-Kruger projections, EPSG:4491-4554, which GDAL transforms to WGS 84 exactly).
ACCEPTED_DATUMS = {"WGS_1984", "China_2000", "China_Geodetic_Coordinate_System_2000"}

MSG_FILE_KIND = _(
    "Use a GeoJSON (.geojson), Shapefile (.shp, or a .zip holding one), GeoPackage (.gpkg) "
    "or KML (.kml) file."
)
MSG_NOT_WHAT_NAMED = _(
    "The file %(name)s cannot be read as %(format)s: it is not what its name says, or it is "
    "damaged."
)
MSG_FILE_TOO_LARGE_GEO = _("The file is larger than %(mb)d MB.")
MSG_TOO_MANY_FEATURES = _("The file has more than %(max)d features.")
MSG_NO_FEATURES = _("The file holds no features.")
MSG_CRS_REFUSED = _(
    "Layer %(layer)s is in %(crs)s: use WGS 84, CGCS2000 (EPSG:4490 or one of its projections) "
    "or GCJ-02."
)
MSG_NO_CRS = _("The Shapefile has no .prj file, so its coordinate system is unknown.")
MSG_GEOMETRY_UNREADABLE = _("The geometry cannot be read or converted to WGS 84.")

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass(frozen=True)
class SourceFeature:
    """One feature of a file: its number (from 1, in reading order over all its layers), the
    layer it came from, its attributes and its geometry in WGS 84 (None: absent or
    unreadable, with ``geometry_problem`` set)."""

    number: int
    layer: str
    properties: dict[str, object]
    geometry: GEOSGeometry | None
    geometry_problem: bool = False


@dataclass(frozen=True)
class GeoFile:
    """What was read: the format, the coordinate system the file was in (for the summary), and
    the features. ``gcj02`` says the geometries were shifted back from GCJ-02."""

    format: str
    crs: str
    gcj02: bool
    features: list[SourceFeature] = field(default_factory=list)


def _gdal_network_off() -> None:
    """PROJ may fetch transformation grids over the network; never from here (D-063)."""
    lgdal.OSRSetPROJEnableNetwork(ctypes.c_int(0))


def _open(path: str, drivers: tuple[str, ...]) -> DataSource:
    """Open ``path`` read-only with only ``drivers`` allowed (GDALOpenEx's allow-list)."""
    Driver.ensure_registered()
    names = (ctypes.c_char_p * (len(drivers) + 1))(*[name.encode() for name in drivers], None)
    try:
        pointer = capi.open_ds(
            path.encode(), capi.GDAL_OF_READONLY | capi.GDAL_OF_VECTOR,
            ctypes.cast(names, ctypes.POINTER(ctypes.c_char_p)), None, None,
        )
    except GDALException:
        pointer = None
    if not pointer:
        raise GDALException(path)
    return DataSource(pointer, ds_driver=capi.get_dataset_driver(pointer))


def _declares_gcj02(srs: SpatialReference | None) -> bool:
    name = (srs.name or "") if srs is not None else ""
    return "GCJ" in name.upper().replace("_", "").replace("-", "")


def _geojson_crs_name(path: Path) -> str:
    """The name in a GeoJSON file's old-style ``crs`` member, which GDAL ignores when it does
    not know it (``{"type": "name", "properties": {"name": "GCJ-02"}}``)."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            data = json.load(handle)
        return str(((data.get("crs") or {}).get("properties") or {}).get("name") or "")
    except (OSError, ValueError, AttributeError):
        return ""


def _transform_for(srs: SpatialReference | None, layer_name: str, format_name: str
                   ) -> CoordTransform | None:
    """The transformation to WGS 84, None when the layer is already in it. Refuses other
    datums (Beijing 1954, Xi'an 1980: GDAL's transformations from them are metres off)."""
    if srs is None:
        if format_name == "ESRI Shapefile":
            raise InvalidInput(FieldError("file", "no_crs", MSG_NO_CRS))
        return None  # GeoJSON and KML are WGS 84 by definition
    datum = (srs["DATUM"] or "").replace(" ", "_")
    if datum not in ACCEPTED_DATUMS:
        raise InvalidInput(FieldError("file", "crs", MSG_CRS_REFUSED % {
            "layer": layer_name, "crs": srs.name or datum or "?"}))
    if srs.geographic and srs.srid in (WGS84, None) and datum == "WGS_1984":
        return None
    return CoordTransform(srs, SpatialReference(WGS84))


def geometry_from_gcj02(geometry: GEOSGeometry) -> GEOSGeometry:
    """The geometry with every vertex moved from GCJ-02 to WGS 84 (about 550 m in Beijing)."""

    def shift(coordinates):
        if coordinates and isinstance(coordinates[0], int | float):
            return list(gcj02_to_wgs84(coordinates[0], coordinates[1]))
        return [shift(part) for part in coordinates]

    data = json.loads(geometry.json)
    data["coordinates"] = shift(data["coordinates"])
    shifted = GEOSGeometry(json.dumps(data))
    shifted.srid = WGS84
    return shifted


def geofile_with_gcj02_shifted(geofile: GeoFile) -> GeoFile:
    """The same features shifted back from GCJ-02 (for a file found, not declared, to be in it)."""
    features = [
        replace(feature, geometry=geometry_from_gcj02(feature.geometry))
        if feature.geometry is not None else feature
        for feature in geofile.features
    ]
    return replace(geofile, gcj02=True, features=features)


def _datetime_text(field: OFTDateTime) -> str | None:
    """A date-and-time attribute as ISO 8601 text, with its offset when the file gives one
    (GDAL's TZ flag: 100 is UTC, each step above or below 15 minutes east or west; 0 unknown,
    1 local time). Django's own value drops the offset, which would move a time by hours."""
    parts = field.as_datetime()
    if parts is None:
        return None
    year, month, day, hour, minute, second, flag = (part.value for part in parts)
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    if flag >= 100:
        minutes = (flag - 100) * 15
        text += f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return text


def _properties(feature, fields: list[str]) -> dict[str, object]:
    values = {}
    for name in fields:
        try:
            field_value = feature[name]
            values[name] = (_datetime_text(field_value) if isinstance(field_value, OFTDateTime)
                            else field_value.value)
        except (GDALException, UnicodeDecodeError, ValueError):
            values[name] = None
    return values


def _feature_geometry(feature, transform: CoordTransform | None, gcj02: bool
                      ) -> tuple[GEOSGeometry | None, bool]:
    try:
        geometry: OGRGeometry | None = feature.geom
    except GDALException:
        return None, False  # no geometry at all
    if geometry is None:
        return None, False
    try:
        geometry.set_3d(False)  # KML's altitude, shapefiles' Z: dropped
        if transform is not None:
            geometry.transform(transform)
        result = geometry.geos
        result.srid = WGS84
        if gcj02:
            result = geometry_from_gcj02(result)
    except (GDALException, GEOSException, ValueError):
        return None, True
    return result, False


def geofile_read(
    *, path: Path | str, name: str | None = None, coord_system: CoordSystem | None = None,
    progress: Progress | None = None,
) -> GeoFile:
    """Read every layer of the file at ``path`` (named ``name``, by default its own name).

    ``coord_system`` GCJ-02 declares the file shifted; otherwise a coordinate system named
    GCJ-02 (a .prj, a GeoPackage's, a GeoJSON ``crs`` name) declares it. Raises InvalidInput
    (field ``file``) for a file of another kind, one that its extension's driver cannot read,
    too large, in a refused coordinate system, or empty.
    """
    path = Path(path)
    name = name or path.name
    extension = Path(name).suffix.lower()
    drivers = EXTENSION_DRIVERS.get(extension)
    if drivers is None:
        raise InvalidInput(FieldError("file", "unknown_format", MSG_FILE_KIND))
    if path.stat().st_size > MAX_GEOFILE_BYTES:
        raise InvalidInput(FieldError("file", "too_large", MSG_FILE_TOO_LARGE_GEO % {
            "mb": MAX_GEOFILE_BYTES // (1024 * 1024)}))
    format_name = FORMAT_NAMES[drivers[0]]
    _gdal_network_off()
    source = f"/vsizip/{path}" if extension == ".zip" else str(path)
    try:
        data_source = _open(source, drivers)
    except GDALException as exc:
        raise InvalidInput(FieldError("file", "not_readable", MSG_NOT_WHAT_NAMED % {
            "name": name, "format": format_name})) from exc
    driver = str(data_source.driver)
    declared = coord_system == CoordSystem.GCJ02
    if driver == "GeoJSON" and "GCJ" in _geojson_crs_name(path).upper().replace("-", ""):
        declared = True
    total = sum(len(layer) for layer in data_source)
    if total > MAX_GEOFILE_FEATURES:
        raise InvalidInput(FieldError("file", "too_many", MSG_TOO_MANY_FEATURES % {
            "max": MAX_GEOFILE_FEATURES}))
    features: list[SourceFeature] = []
    crs_names = []
    for layer in data_source:
        srs = layer.srs
        gcj02 = declared or _declares_gcj02(srs)
        declared = gcj02
        transform = _transform_for(srs, layer.name, driver)
        crs_names.append("GCJ-02" if gcj02 else (srs.name if srs is not None else "WGS 84"))
        fields = list(layer.fields)
        for feature in layer:
            geometry, problem = _feature_geometry(feature, transform, gcj02)
            features.append(SourceFeature(
                number=len(features) + 1, layer=layer.name,
                properties=_properties(feature, fields), geometry=geometry,
                geometry_problem=problem,
            ))
            if progress is not None:
                progress("read", len(features), total)
    if not features:
        raise InvalidInput(FieldError("file", "empty", MSG_NO_FEATURES))
    return GeoFile(format=FORMAT_NAMES.get(driver, driver), crs=", ".join(dict.fromkeys(crs_names)),
                   gcj02=declared, features=features)


def geojson_features(feature_collection: dict) -> GeoFile:
    """A GeoJSON FeatureCollection (WGS 84) as a GeoFile, through GEOS only (no GDAL)."""
    features = []
    for number, feature in enumerate(feature_collection.get("features") or [], start=1):
        properties = dict(feature.get("properties") or {}) if isinstance(feature, dict) else {}
        geometry, problem = None, False
        raw = feature.get("geometry") if isinstance(feature, dict) else None
        if raw:
            try:
                geometry = GEOSGeometry(json.dumps(raw))
                geometry.srid = WGS84
            except (GEOSException, ValueError, TypeError):
                geometry, problem = None, True
        features.append(SourceFeature(number=number, layer=str(properties.get("layer") or ""),
                                      properties=properties, geometry=geometry,
                                      geometry_problem=problem))
    return GeoFile(format="GeoJSON", crs="WGS 84", gcj02=False, features=features)


# --- writing ----------------------------------------------------------------------------------

# Output formats: the GDAL driver, the file's extension, and layer creation options. Text in
# UTF-8 everywhere (Chinese names): a .cpg beside the Shapefile, a byte-order mark on the CSV
# for spreadsheet programs.
EXPORT_FORMATS: dict[str, tuple[str, str, list[str]]] = {
    "geojson": ("GeoJSON", ".geojson", ["-lco", "COORDINATE_PRECISION=7", "-lco", "RFC7946=YES"]),
    "gpkg": ("GPKG", ".gpkg", []),
    "shp": ("ESRI Shapefile", ".shp", ["-lco", "ENCODING=UTF-8"]),
    "csv": ("CSV", ".csv", ["-lco", "WRITE_BOM=YES"]),
}
OGR2OGR_TIMEOUT_S = 300  # seconds; a district's grids take about two


class GeofileWriteError(Exception):
    """ogr2ogr failed: its own message."""


def geofile_write(
    *, feature_collection: dict, path: Path | str, file_format: str, layer_name: str,
    points: bool = False,
) -> Path:
    """Write a WGS 84 FeatureCollection to ``path`` in ``file_format`` with GDAL's ogr2ogr.

    A CSV carries the geometry as WKT (``points``: as X and Y columns). The path must not
    exist; ogr2ogr writes a Shapefile's .shx, .dbf, .prj and .cpg beside it.
    """
    driver, _extension, options = EXPORT_FORMATS[file_format]
    path = Path(path)
    if file_format == "csv":
        options = [*options, "-lco", "GEOMETRY=AS_XY" if points else "GEOMETRY=AS_WKT"]
    binary = shutil.which("ogr2ogr")
    if binary is None:
        raise GeofileWriteError("ogr2ogr is not installed (gdal-bin).")
    with tempfile.TemporaryDirectory(prefix="geofile-") as directory:
        source = Path(directory) / "features.geojson"
        source.write_text(json.dumps(feature_collection, ensure_ascii=False), encoding="utf-8")
        # DATE_AS_STRING: times stay the ISO 8601 text we wrote (a Shapefile has no
        # date-and-time type: GDAL would keep the date alone).
        command = [binary, "-f", driver, *options, "-nln", layer_name, "-a_srs", "EPSG:4326",
                   "-oo", "DATE_AS_STRING=YES", str(path), str(source)]
        result = subprocess.run(  # noqa: S603 (our own arguments, no shell)
            command, capture_output=True, text=True, timeout=OGR2OGR_TIMEOUT_S,
            env={**os.environ, "PROJ_NETWORK": "OFF"},
        )
    if result.returncode != 0:
        raise GeofileWriteError(result.stderr.strip() or f"ogr2ogr exited {result.returncode}")
    return path


def finite_point(geometry: GEOSGeometry | None) -> tuple[float, float] | None:
    """(lon, lat) of a point geometry with finite coordinates, else None."""
    if geometry is None or geometry.geom_type != "Point":
        return None
    lon, lat = geometry.x, geometry.y
    return (lon, lat) if math.isfinite(lon) and math.isfinite(lat) else None
