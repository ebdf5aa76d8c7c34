"""Geography in and out through GDAL, for every layer: the one entry of the command
``geography_import`` / ``geography_export`` (and of an upload page).

Importing: ``civicmap.geofiles.geofile_read`` reads the file (GeoJSON, Shapefile, GeoPackage,
KML) into WGS 84 features; the layer's own service checks them all and writes all or nothing:
grids through ``civicmap.services.geography_import``, stations through
``stations.services.stations_import``, cases (another system's history, a point a record)
through ``issues.services.cases_import``, which hands each record to the one intake service.

Exporting: each layer's selector builds a WGS 84 FeatureCollection in the layout its import
reads; ``civicmap.geofiles.geofile_write`` hands it to ogr2ogr.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from civicmap.coords import CoordSystem
from civicmap.errors import FieldError, InvalidInput
from civicmap.geofiles import GeoFile, Progress, geofile_read, geofile_write
from civicmap.scopes import user_subdistrict_ids
from civicmap.selectors import geography_feature_collection, subdistrict_get
from civicmap.services import geography_import
from issues.selectors_export import case_feature_collection
from issues.services.cases_import import cases_import
from stations.io import rows_from_geofile, stations_feature_collection
from stations.models import Station
from stations.services import stations_import

IMPORT_LAYERS = ("grids", "stations", "cases")
EXPORT_LAYERS = ("grids", "stations", "cases")

MSG_LAYER_UNKNOWN = _("Choose the layer: grids, stations or cases.")
MSG_LAYER_NOT_YOURS = _(
    "Your role may not import this layer: grids and cases are the office's, stations the "
    "union's."
)
MSG_GRIDS_NOT_YOURS = _(
    "The file's subdistrict %(code)s is not one you work for: only its own staff or the "
    "district's may import its grids."
)


@dataclass(frozen=True)
class ImportSummary:
    layer: str
    format: str
    crs: str
    gcj02: bool
    applied: bool
    counts: dict[str, int]


def _layer_guess(geofile: GeoFile) -> str:
    """Points with a category are cases, other points stations; anything else is grids."""
    kinds = {feature.geometry.geom_type for feature in geofile.features if feature.geometry}
    if kinds != {"Point"}:
        return "grids"
    if any(feature.properties.get("category") for feature in geofile.features):
        return "cases"
    return "stations"


def _field_order(error: FieldError) -> tuple[int, str]:
    parts = (error.field or "").split(".")
    return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0), error.field or ""


def _grids_scope_check(geofile: GeoFile, actor) -> None:
    """Staff of a subdistrict import their own subdistrict's grids only (a new subdistrict:
    the district's staff). The command runs with no actor: the operator is the district."""
    for feature in geofile.features:
        if str(feature.properties.get("layer") or feature.layer).lower() not in (
                "subdistrict", "subdistricts"):
            continue
        code = str(feature.properties.get("code") or "").strip()
        subdistrict = subdistrict_get(code=code)
        scope = user_subdistrict_ids(actor)
        if scope is not None and (subdistrict is None or subdistrict.pk not in scope):
            raise InvalidInput(FieldError(f"features.{feature.number}.code", "not_yours",
                                          MSG_GRIDS_NOT_YOURS % {"code": code}))


def geofile_import(
    *, path: Path | str, name: str | None = None, layer: str | None = None,
    dry_run: bool = False, coord_system: CoordSystem | None = None,
    progress: Progress | None = None, actor=None, layers: frozenset[str] | None = None,
) -> ImportSummary:
    """Import the file at ``path`` into ``layer`` (None: by ``_layer_guess``).

    Raises InvalidInput with every problem, each naming its feature (``features.<n>.…`` for
    grids and cases, ``rows.<n>.…`` for stations, n from 1 in the file's order); nothing is
    written then, nor on a dry run. An ``actor`` (a page's user) imports only into the
    subdistricts they work for, and only the ``layers`` their role may (None: every layer).
    """
    geofile = geofile_read(path=path, name=name, coord_system=coord_system, progress=progress)
    layer = layer or _layer_guess(geofile)
    if layers is not None and layer not in layers:
        raise InvalidInput(FieldError("layer", "not_yours", MSG_LAYER_NOT_YOURS))
    if layer == "grids":
        if actor is not None:
            _grids_scope_check(geofile, actor)
        counts = geography_import(geofile=geofile, dry_run=dry_run, progress=progress)
        return ImportSummary(layer, geofile.format, geofile.crs, counts.gcj02, counts.applied, {
            "subdistricts": counts.subdistricts, "communities": counts.communities,
            "unit_grids": counts.unit_grids, "unit_grids_removed": counts.unit_grids_removed,
        })
    if layer == "stations":
        rows, errors = rows_from_geofile(features=geofile.features)
        try:
            result = stations_import(rows=rows, actor=actor, dry_run=dry_run or bool(errors))
        except InvalidInput as refused:
            errors = errors + list(refused.errors)
        if errors:
            first: dict[str, FieldError] = {}
            for error in errors:  # one problem a field: a missing point is not also "not numbers"
                first.setdefault(error.field or "", error)
            raise InvalidInput(*sorted(first.values(), key=_field_order))
        if progress is not None:
            progress("apply", len(rows), len(rows))
        return ImportSummary(layer, geofile.format, geofile.crs, geofile.gcj02, not dry_run, {
            "stations_created": result.created, "stations_updated": result.updated,
        })
    if layer == "cases":
        result = cases_import(features=geofile.features, actor=actor, dry_run=dry_run,
                              progress=progress)
        counts = {"case_records_new": result.records_new,
                  "case_records_unchanged": result.records_unchanged}
        if result.applied:
            counts |= {"cases_opened": result.cases_opened, "cases_joined": result.cases_joined}
        return ImportSummary(layer, geofile.format, geofile.crs, geofile.gcj02, result.applied,
                             counts)
    raise InvalidInput(FieldError("layer", "invalid", MSG_LAYER_UNKNOWN))


def geofile_export(
    *, layer: str, file_format: str, path: Path | str, subdistrict_code: str | None = None,
) -> int:
    """Write ``layer`` (of one subdistrict, or all) to ``path`` in ``file_format`` (geojson,
    gpkg, shp, csv); returns the number of features."""
    if layer == "grids":
        collection = geography_feature_collection(subdistrict_code=subdistrict_code)
    elif layer == "stations":
        stations = Station.objects.order_by("name_zh")
        if subdistrict_code is not None:
            stations = stations.filter(subdistrict__code=subdistrict_code)
        collection = stations_feature_collection(stations)
    elif layer == "cases":
        collection = case_feature_collection(subdistrict_code=subdistrict_code)
    else:
        raise ValueError(layer)
    geofile_write(feature_collection=collection, path=path, file_format=file_format,
                  layer_name=layer, points=layer != "grids")
    return len(collection["features"])
