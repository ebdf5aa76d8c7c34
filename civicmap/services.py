"""Writes for the shared geography: importing subdistricts with their community and unit grids.

One path for every source (the demo's GeoJSON dicts, and GeoJSON, Shapefile, GeoPackage and KML
files read by ``civicmap.geofiles``): features in WGS 84 → every attribute checked in Python →
every geometry staged in a temporary table and checked in PostGIS (validity, overlaps, gaps,
parts outside their parent, overlaps with the other subdistricts, unit grids that could not be
removed) → every problem raised at once, naming its feature, or the rows written, all in one
transaction. A dry run stops before writing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Polygon
from django.db import connection, transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from civicmap import sql
from civicmap.errors import FieldError, InvalidInput
from civicmap.geofiles import (
    MSG_GEOMETRY_UNREADABLE,
    GeoFile,
    Progress,
    geofile_with_gcj02_shifted,
    geojson_features,
    geometry_from_gcj02,
)
from civicmap.models import WGS84, CommunityGrid, Subdistrict, UnitGrid

MSG_BAD_GEOGRAPHY = _("The geography file must hold one subdistrict, its communities and units.")
MSG_NOT_POLYGON = _("Every boundary must be a single polygon.")
MSG_NO_GEOMETRY = _("The feature has no geometry.")
MSG_BAD_LAYER = _("Unknown layer %(layer)s: use subdistrict, community or unit.")
MSG_NO_SUBDISTRICT = _("The file holds no subdistrict.")
MSG_BAD_SUBDISTRICT_CODE = _("A subdistrict code is 9 digits (district 6, street 3): %(code)s.")
MSG_BAD_COMMUNITY_CODE = _(
    "A community code is 12 digits beginning with the code of a subdistrict in the file: "
    "%(code)s."
)
MSG_BAD_GRID_ID = _(
    "A unit grid ID is 15 digits beginning with its community's code (DB11/T 2157-2023): "
    "%(code)s."
)
MSG_UNKNOWN_COMMUNITY = _("No community %(code)s in this file.")
MSG_DUPLICATE_ID = _("%(code)s is also the ID of feature %(other)d.")
MSG_NAME_MISSING = _("A name is required (at most 100 characters).")
MSG_INVALID_GEOMETRY = _("Invalid geometry: %(reason)s.")
MSG_OVERLAP = _("Overlaps %(other)s (feature %(number)d) by %(area).1f m².")
MSG_OUTSIDE = _("%(area).1f m² of it lies outside %(parent)s.")
MSG_GAP_COMMUNITIES = _(
    "A gap of %(area).1f m² near %(lon).5f, %(lat).5f is covered by no community grid."
)
MSG_GAP_UNITS = _("A gap of %(area).1f m² near %(lon).5f, %(lat).5f is covered by no unit grid.")
MSG_SUBDISTRICT_OVERLAP = _("Overlaps the subdistrict %(other)s already loaded by %(area).1f m².")
MSG_UNIT_IN_USE = _(
    "Unit grid %(code)s is missing from the file, but reports or cases lie in it, so it cannot "
    "be removed."
)

SUBDISTRICT_CODE = re.compile(r"^[0-9]{9}$")
COMMUNITY_CODE = re.compile(r"^[0-9]{12}$")
GRID_ID = re.compile(r"^[0-9]{15}$")
NAME_MAX = 100

# Gaps, overlaps and parts outside no larger than AREA_TOLERANCE_M2 (m² in EPSG:4548) or
# nowhere wider than SLIVER_M (metres) are the noise of a file's round trip through another
# coordinate system or format (7 decimals: 1 cm); a real gap between 100 m unit grids is
# metres wide and hundreds of m².
AREA_TOLERANCE_M2 = 1.0
SLIVER_M = 0.05
# GCJ-02 detection (a file not declared in it): its subdistrict, shifted back, matches the one
# loaded under the same code to within this share of its area, and as it stands does not.
GCJ02_MATCH_SHARE = 0.01

LAYER_NAMES = {
    "subdistrict": "subdistrict", "subdistricts": "subdistrict",
    "community": "community", "communities": "community", "community_grids": "community",
    "unit": "unit", "units": "unit", "unit_grids": "unit",
}


@dataclass(frozen=True)
class GeographyCounts:
    subdistricts: int
    communities: int
    unit_grids: int
    unit_grids_removed: int = 0
    gcj02: bool = False  # the geometries were shifted back from GCJ-02
    applied: bool = True  # False for a dry run


@dataclass(frozen=True)
class _Grid:
    number: int
    layer: str  # subdistrict, community, unit
    code: str  # the code, or the unit grid ID
    parent: str  # the subdistrict's code for a community, the community's for a unit
    name_zh: str
    name_en: str
    polygon: Polygon | None


def _text(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a code typed as a number in a DBF column
    return str(value).strip()


def _polygon(geometry: GEOSGeometry | None) -> Polygon | None:
    """A polygon, or a multipolygon of one part as its polygon; otherwise None."""
    if isinstance(geometry, MultiPolygon) and len(geometry) == 1:
        geometry = geometry[0]
    if not isinstance(geometry, Polygon):
        return None
    geometry.srid = WGS84
    return geometry


def _layer(feature) -> str:
    value = _text(feature.properties.get("layer")) or feature.layer
    return LAYER_NAMES.get(value.lower(), "")


def _grids_parse(geofile: GeoFile) -> tuple[list[_Grid], list[FieldError]]:
    """Every feature as a grid, and every problem of its attributes and geometry type."""
    grids: list[_Grid] = []
    problems: list[FieldError] = []
    for feature in geofile.features:
        where = f"features.{feature.number}"
        layer = _layer(feature)
        if not layer:
            problems.append(FieldError(f"{where}.layer", "bad_layer", MSG_BAD_LAYER % {
                "layer": _text(feature.properties.get("layer")) or feature.layer}))
            continue
        polygon = _polygon(feature.geometry)
        if polygon is None:
            if feature.geometry_problem:
                message, code = MSG_GEOMETRY_UNREADABLE, "unreadable"
            elif feature.geometry is None:
                message, code = MSG_NO_GEOMETRY, "required"
            else:
                message, code = MSG_NOT_POLYGON, "not_polygon"
            problems.append(FieldError(f"{where}.geometry", code, message))
        props = feature.properties
        if layer == "unit":
            code, parent = _text(props.get("grid_id")), _text(props.get("community"))
        else:
            code, parent = _text(props.get("code")), ""
        grid = _Grid(feature.number, layer, code, parent, _text(props.get("name_zh")),
                     _text(props.get("name_en")), polygon)
        if layer != "unit":
            for name in ("name_zh", "name_en"):
                value = getattr(grid, name)
                if not value or len(value) > NAME_MAX:
                    problems.append(FieldError(f"{where}.{name}", "required", MSG_NAME_MISSING))
        grids.append(grid)
    return grids, problems


def _codes_check(grids: list[_Grid]) -> tuple[list[_Grid], list[FieldError]]:
    """IDs: their format, their parents, duplicates. Returns the grids with each community's
    parent set to its subdistrict (the first 9 digits of its code), and the problems."""
    problems: list[FieldError] = []
    subdistricts = {grid.code for grid in grids if grid.layer == "subdistrict"}
    if not subdistricts:
        problems.append(FieldError("features", "no_subdistrict", MSG_NO_SUBDISTRICT))
    if not any(g.layer == "community" for g in grids) or not any(g.layer == "unit" for g in grids):
        problems.append(FieldError("features", "bad_geography", MSG_BAD_GEOGRAPHY))
    communities = {g.code for g in grids if g.layer == "community"}
    seen: dict[tuple[str, str], int] = {}
    checked: list[_Grid] = []
    for grid in grids:
        where = f"features.{grid.number}"
        field = f"{where}.grid_id" if grid.layer == "unit" else f"{where}.code"
        if grid.layer == "subdistrict" and not SUBDISTRICT_CODE.match(grid.code):
            problems.append(FieldError(field, "bad_code", MSG_BAD_SUBDISTRICT_CODE % {
                "code": grid.code}))
        elif grid.layer == "community":
            if not (COMMUNITY_CODE.match(grid.code) and grid.code[:9] in subdistricts):
                problems.append(FieldError(field, "bad_code", MSG_BAD_COMMUNITY_CODE % {
                    "code": grid.code}))
            grid = replace(grid, parent=grid.code[:9])
        elif grid.layer == "unit":
            if not (GRID_ID.match(grid.code) and grid.code[:12] == grid.parent):
                problems.append(FieldError(field, "bad_code", MSG_BAD_GRID_ID % {
                    "code": grid.code}))
            elif grid.parent not in communities:
                problems.append(FieldError(f"{where}.community", "unknown", MSG_UNKNOWN_COMMUNITY
                                           % {"code": grid.parent}))
        key = (grid.layer, grid.code)
        if grid.code and key in seen:
            problems.append(FieldError(field, "duplicate", MSG_DUPLICATE_ID % {
                "code": grid.code, "other": seen[key]}))
        seen.setdefault(key, grid.number)
        checked.append(grid)
    return checked, problems


def _gcj02_detected(grids: list[_Grid]) -> bool:
    """True when the file's (first) subdistrict matches the one loaded under its code only once
    shifted back from GCJ-02 (a file exported from a Chinese web map without saying so)."""
    subdistrict = next((g for g in grids if g.layer == "subdistrict" and g.polygon), None)
    if subdistrict is None or not subdistrict.polygon.valid:
        return False
    shifted = geometry_from_gcj02(subdistrict.polygon)
    with connection.cursor() as cursor:
        cursor.execute(sql.GEOGRAPHY_GCJ02_FIT, {
            "code": subdistrict.code, "as_is": subdistrict.polygon.ewkb, "shifted": shifted.ewkb})
        row = cursor.fetchone()
    if row is None:
        return False
    as_is, shifted_off, area = row
    return shifted_off < GCJ02_MATCH_SHARE * area and as_is > GCJ02_MATCH_SHARE * area


def _stage(grids: list[_Grid], progress: Progress | None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql.GEOGRAPHY_STAGE_CREATE)
        rows = [(g.number, g.layer, g.code, g.parent, g.polygon.ewkb)
                for g in grids if g.polygon is not None]
        for start in range(0, len(rows), 500):
            cursor.executemany(sql.GEOGRAPHY_STAGE_INSERT, rows[start:start + 500])
            if progress is not None:
                progress("check", min(start + 500, len(rows)), len(rows))
        cursor.execute(sql.GEOGRAPHY_STAGE_INDEX)


def _spatial_problems(tolerance_m2: float) -> list[FieldError]:
    """Every spatial problem of the staged grids, found by PostGIS."""
    problems: list[FieldError] = []
    params = {"tolerance": tolerance_m2, "sliver": SLIVER_M}
    with connection.cursor() as cursor:
        cursor.execute(sql.GEOGRAPHY_STAGE_INVALID)
        for number, reason in cursor.fetchall():
            problems.append(FieldError(f"features.{number}.geometry", "invalid_geometry",
                                       MSG_INVALID_GEOMETRY % {"reason": reason}))
        cursor.execute(sql.GEOGRAPHY_STAGE_OVERLAPS, params)
        for number, other_number, other, area in cursor.fetchall():
            problems.append(FieldError(f"features.{number}.geometry", "overlap", MSG_OVERLAP % {
                "other": other, "number": other_number, "area": area}))
        cursor.execute(sql.GEOGRAPHY_STAGE_OUTSIDE, params)
        for number, parent, area in cursor.fetchall():
            problems.append(FieldError(f"features.{number}.geometry", "outside", MSG_OUTSIDE % {
                "parent": parent, "area": area}))
        cursor.execute(sql.GEOGRAPHY_STAGE_GAPS, params)
        for number, layer, area, lon, lat in cursor.fetchall():
            message = MSG_GAP_COMMUNITIES if layer == "subdistrict" else MSG_GAP_UNITS
            problems.append(FieldError(f"features.{number}.geometry", "gap", message % {
                "area": area, "lon": lon, "lat": lat}))
        cursor.execute(sql.GEOGRAPHY_STAGE_NEIGHBOURS, params)
        for number, other, area in cursor.fetchall():
            problems.append(FieldError(f"features.{number}.geometry", "overlap",
                                       MSG_SUBDISTRICT_OVERLAP % {"other": other, "area": area}))
    return problems


def _units_removed(grids: list[_Grid]) -> tuple[int, list[FieldError]]:
    """How many stored unit grids of the file's communities the file leaves out (they are
    deleted), and a problem for each that reports or cases lie in (PROTECT)."""
    communities = [g.code for g in grids if g.layer == "community"]
    wanted = [g.code for g in grids if g.layer == "unit"]
    removed = UnitGrid.objects.filter(community__code__in=communities).exclude(grid_id__in=wanted)
    in_use = removed.filter(Q(reports__isnull=False) | Q(cases__isnull=False)).distinct()
    problems = [FieldError("features", "in_use", MSG_UNIT_IN_USE % {"code": grid_id})
                for grid_id in in_use.values_list("grid_id", flat=True).order_by("grid_id")]
    return removed.count(), problems


def geography_import(
    *, feature_collection: dict | None = None, geofile: GeoFile | None = None,
    dry_run: bool = False, progress: Progress | None = None,
) -> GeographyCounts:
    """Create or update subdistricts (one or more), their community grids and unit grids.

    From a GeoJSON ``feature_collection`` (WGS 84) or a ``geofile`` read by
    ``civicmap.geofiles.geofile_read``. Features carry ``layer`` (subdistrict, community, unit;
    or sit in a layer of that name) and their codes. Every problem is raised at once
    (InvalidInput, fields ``features.<n>.<attribute>``, n from 1 in reading order) and nothing
    is written; ``dry_run`` checks everything and writes nothing either way. Rows are matched
    by code, so importing the same file twice changes nothing; units that vanished are deleted.
    A file whose subdistrict matches the loaded one only once shifted back from GCJ-02 is
    shifted back (``gcj02`` in the counts). An export of the whole district imports back.
    """
    if geofile is None:
        geofile = geojson_features(feature_collection or {})
    grids, problems = _grids_parse(geofile)
    grids, code_problems = _codes_check(grids)
    problems += code_problems
    with transaction.atomic():
        # One import at a time: each checks its subdistrict against the others as stored.
        with connection.cursor() as cursor:
            cursor.execute(sql.GEOGRAPHY_IMPORT_LOCK)
        if not geofile.gcj02 and _gcj02_detected(grids):
            geofile = geofile_with_gcj02_shifted(geofile)
            grids, problems = _grids_parse(geofile)
            grids, code_problems = _codes_check(grids)
            problems += code_problems
        _stage(grids, progress)
        problems += _spatial_problems(AREA_TOLERANCE_M2)
        removed, in_use = _units_removed(grids)
        problems += in_use
        with connection.cursor() as cursor:
            cursor.execute(sql.GEOGRAPHY_STAGE_DROP)
        if problems:
            raise InvalidInput(*sorted(problems, key=_problem_order))
        counts = GeographyCounts(
            subdistricts=sum(g.layer == "subdistrict" for g in grids),
            communities=sum(g.layer == "community" for g in grids),
            unit_grids=sum(g.layer == "unit" for g in grids), unit_grids_removed=removed,
            gcj02=geofile.gcj02, applied=not dry_run,
        )
        if not dry_run:
            _grids_apply(grids, progress)
    return counts


def _problem_order(problem: FieldError) -> tuple[int, str]:
    parts = (problem.field or "").split(".")
    number = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    return number, problem.field or ""


def _grids_apply(grids: list[_Grid], progress: Progress | None) -> None:
    subdistricts = {}
    for grid in grids:
        if grid.layer == "subdistrict":
            subdistricts[grid.code], _created = Subdistrict.objects.update_or_create(
                code=grid.code,
                defaults={"name_zh": grid.name_zh, "name_en": grid.name_en,
                          "boundary": grid.polygon},
            )
    communities = {}
    for grid in grids:
        if grid.layer == "community":
            communities[grid.code], _created = CommunityGrid.objects.update_or_create(
                code=grid.code,
                defaults={"name_zh": grid.name_zh, "name_en": grid.name_en,
                          "subdistrict": subdistricts[grid.parent], "boundary": grid.polygon},
            )
    _unit_grids_replace([g for g in grids if g.layer == "unit"], communities)
    if progress is not None:
        progress("apply", len(grids), len(grids))


def _unit_grids_replace(units: list[_Grid], communities: dict[str, CommunityGrid]) -> None:
    """Upsert unit grids by grid ID in bulk (a subdistrict has about a thousand)."""
    wanted = {
        unit.code: UnitGrid(grid_id=unit.code, community=communities[unit.parent],
                            boundary=unit.polygon)
        for unit in units
    }
    UnitGrid.objects.filter(community__in=communities.values()).exclude(
        grid_id__in=wanted
    ).delete()
    UnitGrid.objects.bulk_create(
        wanted.values(), batch_size=500, update_conflicts=True,
        unique_fields=["grid_id"], update_fields=["community", "boundary"],
    )
